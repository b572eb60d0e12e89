/*
 * Chardev commands: query-chardev, chardev-add, chardev-remove and the
 * ringbuf commands, over the chardev registry (chardev-opts.h).
 */
#include "monitor-internal.h"

#include "vmhost/chardev/char-ringbuf.h"
#include "vmhost/chardev/char-socket.h"
#include "vmhost/chardev/chardev-opts.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

/* vmhost's addition: who is at the other end of a TLS connection. */
static void tls_peer_members(JsonObject *o, VhChardev *be)
{
    const char *proto, *cipher, *dn;

    if (!VH_IS_CHARDEV_SOCKET(be) ||
        !vh_chardev_socket_get_tls_peer(VH_CHARDEV_SOCKET(be), &proto, &cipher,
                                        &dn)) {
        return;
    }
    json_object_set_string_member(o, "tls-protocol", proto ? proto : "");
    json_object_set_string_member(o, "tls-cipher", cipher ? cipher : "");
    if (dn) {
        json_object_set_string_member(o, "tls-peer-dn", dn);
    }
}

static JsonObject *chardev_entry(VhChardev *chr)
{
    JsonObject *o = json_object_new();
    g_autofree char *filename = vh_chardev_describe(chr);
    gint64 when = 0;
    const char *err = vh_chardev_get_last_error(chr, &when);

    json_object_set_string_member(o, "label", vh_chardev_get_id(chr));
    json_object_set_string_member(o, "filename", filename);
    json_object_set_boolean_member(o, "frontend-open",
                                   vh_chardev_has_frontend(chr));
    json_object_set_boolean_member(o, "connected",
                                   vh_chardev_is_connected(chr));
    json_object_set_int_member(o, "dropped", vh_chardev_get_dropped(chr));
    if (err) {
        g_autoptr(GDateTime) t = g_date_time_new_from_unix_utc(when / 1000000);
        g_autofree char *iso = t ? g_date_time_format_iso8601(t) : NULL;

        json_object_set_string_member(o, "last-error", err);
        json_object_set_string_member(o, "last-error-time", iso ? iso : "");
    }
    tls_peer_members(o, vh_chardev_get_backend(chr));
    return o;
}

JsonNode *vh_mon_query_chardev(VhMonitorHost *host, JsonObject *args,
                               GError **errp)
{
    g_autoptr(GPtrArray) all = vh_chardev_list();
    JsonArray *list = json_array_new();
    JsonNode *n = json_node_new(JSON_NODE_ARRAY);

    for (guint i = 0; i < all->len; i++) {
        json_array_add_object_element(list, chardev_entry(all->pdata[i]));
    }
    json_node_take_array(n, list);
    return n;
}

char *vh_mon_format_chardev(JsonNode *result)
{
    JsonArray *list = json_node_get_array(result);
    GString *s = g_string_new(NULL);

    for (guint i = 0; i < json_array_get_length(list); i++) {
        JsonObject *o = json_array_get_object_element(list, i);

        g_string_append_printf(s, "%s: filename=%s\n",
                               json_object_get_string_member(o, "label"),
                               json_object_get_string_member(o, "filename"));
        if (json_object_has_member(o, "tls-protocol")) {
            g_string_append_printf(
                s, "  tls: %s %s, peer %s\n",
                json_object_get_string_member(o, "tls-protocol"),
                json_object_get_string_member(o, "tls-cipher"),
                json_object_get_string_member_with_default(
                    o, "tls-peer-dn", "(no certificate checked)"));
        }
        if (json_object_has_member(o, "last-error")) {
            g_string_append_printf(
                s, "  last error (%s): %s\n",
                json_object_get_string_member(o, "last-error-time"),
                json_object_get_string_member(o, "last-error"));
        }
    }
    return g_string_free(s, false);
}

/* A SocketAddress, legacy ({"type","data":{...}}) or flat, into opts. */
static bool socket_addr(VhOpts *opts, JsonNode *addr, GError **errp)
{
    JsonObject *a;
    JsonObject *d;
    const char *type = NULL;
    g_autoptr(VhOpts) sub = NULL;

    if (!JSON_NODE_HOLDS_OBJECT(addr)) {
        g_set_error_literal(errp, VH_QMP_ERROR, VH_QMP_ERROR_GENERIC,
                            "Parameter 'addr' expects an object");
        return false;
    }
    a = json_node_get_object(addr);
    if (!vh_mon_arg_str(a, "type", true, &type, errp)) {
        return false;
    }
    d = a;
    if (json_object_has_member(a, "data") &&
        JSON_NODE_HOLDS_OBJECT(json_object_get_member(a, "data"))) {
        d = json_object_get_object_member(a, "data");
    }
    if (!g_str_equal(type, "inet") && !g_str_equal(type, "unix") &&
        !g_str_equal(type, "fd")) {
        g_set_error(errp, VH_QMP_ERROR, VH_QMP_ERROR_GENERIC,
                    "socket address type '%s' is not supported (inet, unix, "
                    "fd)",
                    type);
        return false;
    }
    sub = vh_mon_opts_from_json("chardev-add", d, NULL, errp);
    if (!sub) {
        return false;
    }
    for (guint i = 0; i < vh_opts_count(sub); i++) {
        const char *k = vh_opts_nth_key(sub, i);

        if (g_str_equal(k, "type")) {
            continue;
        }
        /* QMP's fd address names the fd "str". */
        vh_opts_append(opts, g_str_equal(k, "str") ? "fd" : k,
                       vh_opts_nth_value(sub, i));
    }
    return true;
}

/* QMP's {"id", "backend": {"type", "data": {...}}} as -chardev keys. */
static VhOpts *chardev_qmp_opts(const char *id, JsonObject *backend,
                                GError **errp)
{
    const char *type = NULL;
    JsonObject *data = NULL;
    g_autoptr(VhOpts) opts = vh_opts_new("chardev-add");
    g_autoptr(GList) members = NULL;

    if (!vh_mon_arg_str(backend, "type", true, &type, errp)) {
        return NULL;
    }
    vh_opts_append(opts, "backend", type);
    vh_opts_append(opts, "id", id);
    if (json_object_has_member(backend, "data")) {
        if (!JSON_NODE_HOLDS_OBJECT(json_object_get_member(backend, "data"))) {
            g_set_error_literal(errp, VH_QMP_ERROR, VH_QMP_ERROR_GENERIC,
                                "Parameter 'backend.data' expects an object");
            return NULL;
        }
        data = json_object_get_object_member(backend, "data");
        members = json_object_get_members(data);
    }
    for (GList *l = members; l; l = l->next) {
        const char *k = l->data;
        JsonNode *v = json_object_get_member(data, k);
        g_autoptr(JsonObject) one = NULL;
        g_autoptr(VhOpts) sub = NULL;

        if (g_str_equal(type, "socket") && g_str_equal(k, "addr")) {
            if (!socket_addr(opts, v, errp)) {
                return NULL;
            }
            continue;
        }
        /* The file backend's output file is "out" in QMP. */
        one = json_object_new();
        json_object_set_member(one, g_str_equal(k, "out") ? "path" : k,
                               json_node_copy(v));
        sub = vh_mon_opts_from_json("chardev-add", one, NULL, errp);
        if (!sub) {
            return NULL;
        }
        for (guint i = 0; i < vh_opts_count(sub); i++) {
            vh_opts_append(opts, vh_opts_nth_key(sub, i),
                           vh_opts_nth_value(sub, i));
        }
    }
    return g_steal_pointer(&opts);
}

/*
 * fd=NAME on a socket: the fd getfd kept under NAME, as a number the
 * chardev layer takes. *@resolved gets @opts with fd=<a duplicate> (NULL
 * when there is nothing to resolve) and *@name the name (transfer full).
 * The chardev owns the duplicate, so NAME keeps its fd if chardev-add
 * fails; on success the caller closes NAME, used up as QEMU hands the fd
 * over. A number is refused: a monitor client cannot know vmhost's fd
 * numbers, and a wrong one would take over an fd vmhost itself uses.
 */
static bool resolve_fd_name(VhMonitorHost *host, VhOpts *opts,
                            VhOpts **resolved, char **name, GError **errp)
{
    const char *backend = vh_opts_get_string(opts, "backend");
    const char *v = NULL;
    g_autofree char *num = NULL;
    int fd, dup_fd;

    if (!backend || !g_str_equal(backend, "socket") ||
        !(v = vh_opts_get_string(opts, "fd"))) {
        return true;
    }
    if (!g_ascii_isalpha(*v)) {
        g_set_error(errp, VH_QMP_ERROR, VH_QMP_ERROR_GENERIC,
                    "chardev-add: fd '%s': over a monitor fd takes the name "
                    "an fd was given with getfd, not a number",
                    v);
        return false;
    }
    fd = vh_monitor_host_get_fd(host, v);
    if (fd < 0) {
        g_set_error(errp, VH_QMP_ERROR, VH_QMP_ERROR_GENERIC,
                    "chardev-add: File descriptor named '%s' not found "
                    "(pass it with getfd first)",
                    v);
        return false;
    }
    dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (dup_fd < 0) {
        g_set_error(errp, VH_QMP_ERROR, VH_QMP_ERROR_GENERIC,
                    "chardev-add: fd '%s': %s", v, g_strerror(errno));
        return false;
    }
    num = g_strdup_printf("%d", dup_fd);
    *resolved = vh_opts_new(vh_opts_get_optname(opts));
    for (guint i = 0; i < vh_opts_count(opts); i++) {
        const char *k = vh_opts_nth_key(opts, i);

        if (!g_str_equal(k, "fd")) {
            vh_opts_append(*resolved, k, vh_opts_nth_value(opts, i));
        }
    }
    vh_opts_append(*resolved, "fd", num);
    *name = g_strdup(v);
    return true;
}

JsonNode *vh_mon_chardev_add(VhMonitorHost *host, JsonObject *args,
                             GError **errp)
{
    g_autoptr(VhOpts) opts = NULL;
    g_autoptr(VhOpts) resolved = NULL;
    g_autofree char *fdname = NULL;
    g_autoptr(VhChardev) chr = NULL;
    const char *id = NULL;

    if (json_object_has_member(args, "backend") &&
        JSON_NODE_HOLDS_OBJECT(json_object_get_member(args, "backend"))) {
        if (!vh_mon_arg_str(args, "id", true, &id, errp)) {
            return NULL;
        }
        opts = chardev_qmp_opts(
            id, json_object_get_object_member(args, "backend"), errp);
    } else {
        /* HMP: the option string's keys, as -chardev takes them. */
        opts = vh_mon_opts_from_json("chardev-add", args, NULL, errp);
    }
    if (!opts || !resolve_fd_name(host, opts, &resolved, &fdname, errp)) {
        return NULL;
    }
    /*
     * A server with wait=on is not waited for here: the monitor never
     * blocks; the chardev accepts its client in the background.
     */
    chr = vh_chardev_new_from_opts(resolved ? resolved : opts, host->context,
                                   errp);
    if (!chr || !vh_chardev_register(chr, errp)) {
        if (chr) {
            vh_chardev_close(chr);
        }
        return NULL;
    }
    if (fdname) {
        close(vh_monitor_host_take_fd(host, fdname));
    }
    return vh_mon_empty();
}

JsonObject *vh_mon_parse_chardev_add(const char *rest, char **argv,
                                     GError **errp)
{
    return vh_mon_hmp_opts("chardev-add", "backend", rest, errp);
}

JsonNode *vh_mon_chardev_remove(VhMonitorHost *host, JsonObject *args,
                                GError **errp)
{
    const char *id = NULL;

    if (!vh_mon_arg_str(args, "id", true, &id, errp) ||
        !vh_chardev_remove(id, errp)) {
        return NULL;
    }
    return vh_mon_empty();
}

static VhChardevRingbuf *find_ringbuf(JsonObject *args, GError **errp)
{
    const char *dev = NULL;
    VhChardev *chr;

    if (!vh_mon_arg_str(args, "device", true, &dev, errp)) {
        return NULL;
    }
    chr = vh_chardev_lookup(dev);
    if (!chr) {
        g_set_error(errp, VH_QMP_ERROR, VH_QMP_ERROR_DEVICE_NOT_FOUND,
                    "Device '%s' not found", dev);
        return NULL;
    }
    if (!VH_IS_CHARDEV_RINGBUF(chr)) {
        g_set_error(errp, VH_QMP_ERROR, VH_QMP_ERROR_GENERIC,
                    "%s is not a ringbuf device", dev);
        return NULL;
    }
    return VH_CHARDEV_RINGBUF(chr);
}

JsonNode *vh_mon_ringbuf_write(VhMonitorHost *host, JsonObject *args,
                               GError **errp)
{
    VhChardevRingbuf *rb = find_ringbuf(args, errp);
    g_autoptr(GBytes) data = NULL;
    gsize len;

    if (!rb || !(data = vh_mon_arg_data(args, "ringbuf-write", errp))) {
        return NULL;
    }
    const void *raw = g_bytes_get_data(data, &len);
    vh_chardev_ringbuf_write(rb, raw, len);
    return vh_mon_empty();
}

JsonObject *vh_mon_parse_ringbuf_write(const char *rest, char **argv,
                                       GError **errp)
{
    JsonObject *o;
    const char *data = rest;

    if (!argv || !argv[0] || !argv[1]) {
        g_set_error_literal(errp, VH_QMP_ERROR, VH_QMP_ERROR_GENERIC,
                            "ringbuf_write: expects a device and the data");
        return NULL;
    }
    /* The data is the rest of the line after the device, as typed. */
    while (*data && !g_ascii_isspace(*data)) {
        data++;
    }
    while (g_ascii_isspace(*data)) {
        data++;
    }
    o = json_object_new();
    json_object_set_string_member(o, "device", argv[0]);
    json_object_set_string_member(o, "data", argv[2] ? data : argv[1]);
    return o;
}

JsonNode *vh_mon_ringbuf_read(VhMonitorHost *host, JsonObject *args,
                              GError **errp)
{
    VhChardevRingbuf *rb = find_ringbuf(args, errp);
    gint64 size = 0;
    bool base64 = false;
    g_autofree guint8 *out = NULL;
    size_t n;

    if (!rb || !vh_mon_arg_int(args, "size", true, &size, errp) ||
        !vh_mon_arg_format(args, &base64, errp)) {
        return NULL;
    }
    if (size < 0) {
        g_set_error_literal(errp, VH_QMP_ERROR, VH_QMP_ERROR_GENERIC,
                            "size must be greater than zero");
        return NULL;
    }
    n = vh_chardev_ringbuf_read(rb, size, &out);
    return vh_mon_data_string(base64, out, n);
}

JsonObject *vh_mon_parse_ringbuf_read(const char *rest, char **argv,
                                      GError **errp)
{
    JsonObject *o;

    if (!argv || !argv[0] || !argv[1] || argv[2]) {
        g_set_error_literal(errp, VH_QMP_ERROR, VH_QMP_ERROR_GENERIC,
                            "ringbuf_read: expects a device and a size");
        return NULL;
    }
    o = json_object_new();
    json_object_set_string_member(o, "device", argv[0]);
    json_object_set_string_member(o, "size", argv[1]);
    return o;
}
