/*
 * CHARDEV_CONNECTED, CHARDEV_DISCONNECTED and CHARDEV_REFUSED: the chardev
 * layer's connection notices (chardev.h) as QMP events. QEMU has no such
 * events for socket chardevs; these are vmhost's (README, QMP section).
 */
#include "monitor-internal.h"

#include "vmhost/chardev/chardev-opts.h"

static guint users;
static guint notice_handle;

/*
 * The id the operator gave: the registered chardev that is @chr or wraps
 * it (a mux=on chardev "c0" rather than its backend "c0-base").
 */
static char *public_id(VhChardev *chr)
{
    g_autoptr(GPtrArray) all = vh_chardev_list();

    for (guint i = 0; i < all->len; i++) {
        VhChardev *c = all->pdata[i];

        if (c == chr || vh_chardev_get_backend(c) == chr) {
            return g_strdup(vh_chardev_get_id(c));
        }
    }
    return g_strdup(vh_chardev_get_id(chr));
}

static const char *event_name(VhChardevNoticeKind kind)
{
    switch (kind) {
    case VH_CHARDEV_NOTICE_CONNECTED:
        return "CHARDEV_CONNECTED";
    case VH_CHARDEV_NOTICE_DISCONNECTED:
        return "CHARDEV_DISCONNECTED";
    case VH_CHARDEV_NOTICE_REFUSED:
    default:
        return "CHARDEV_REFUSED";
    }
}

JsonObject *vh_qmp_chardev_event_data(const VhChardevNotice *n)
{
    JsonObject *data = json_object_new();
    g_autofree char *id = public_id(n->chr);

    json_object_set_string_member(data, "id", id);
    json_object_set_string_member(data, "peer", n->peer);
    json_object_set_boolean_member(data, "server", n->server);
    if (n->reason) {
        json_object_set_string_member(data, "reason", n->reason);
    }
    if (n->tls_protocol || n->tls_cipher) {
        JsonObject *tls = json_object_new();

        json_object_set_string_member(
            tls, "protocol", n->tls_protocol ? n->tls_protocol : "unknown");
        json_object_set_string_member(
            tls, "cipher", n->tls_cipher ? n->tls_cipher : "unknown");
        if (n->tls_peer_dn) {
            json_object_set_string_member(tls, "peer-dn", n->tls_peer_dn);
        }
        json_object_set_object_member(data, "tls", tls);
    }
    return data;
}

static void on_notice(const VhChardevNotice *n, void *opaque)
{
    g_autoptr(JsonObject) data = vh_qmp_chardev_event_data(n);

    vh_qmp_emit_event(event_name(n->kind), data);
}

void vh_qmp_chardev_events_ref(void)
{
    if (users++ == 0) {
        notice_handle = vh_chardev_add_notice_func(on_notice, NULL);
    }
}

void vh_qmp_chardev_events_unref(void)
{
    g_return_if_fail(users > 0);
    if (--users == 0) {
        vh_chardev_remove_notice_func(notice_handle);
        notice_handle = 0;
    }
}
