/*
 * libvirt's remote protocol as vmhostd receives it: the input is a byte
 * stream of packets, each taken through the framing (length limits), the
 * header, and — for CALLs — the server's checks and the argument decoder
 * of every REMOTE_PROGRAM procedure (vh_rpc_conn_dispatch_sync), against a
 * stub driver that knows one domain, so the reply encoders run too.
 *
 * Invariants: nothing crashes or leaks; a framing error is reported with a
 * message and ends the stream; every CALL gets exactly one reply, on its
 * serial, whose status is OK or ERROR, and an ERROR's payload decodes as a
 * complete error struct with a message.
 */
#include "fuzz-common.h"

#include "../../src/vmhostd/driver-migrate.h"
#include "../../src/vmhostd/remote-internal.h"
#include "vmhost/io/channel-null.h"
#include "vmhost/rpc/remote-protocol.h"
#include "vmhost/rpc/server.h"

#include <string.h>

/* ---- a stub VhDriver with one domain, "fz" ---- */

static const guint8 FZ_UUID[16] = {0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
                                   0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
                                   0x11, 0x11, 0x11, 0x11};

struct _VhDriver {
    int unused;
};

static VhDomainRef *fz_ref(void)
{
    VhDomainRef *r = g_new0(VhDomainRef, 1);

    r->name = g_strdup("fz");
    memcpy(r->uuid, FZ_UUID, 16);
    r->id = 1;
    return r;
}

static bool fz_check(const guint8 *uuid, GError **errp)
{
    if (memcmp(uuid, FZ_UUID, 16) != 0) {
        g_set_error(errp, VH_VIR_ERROR, VH_VIR_ERR_NO_DOMAIN,
                    "Domain not found: no domain with matching uuid");
        return false;
    }
    return true;
}

void vh_domain_ref_free(VhDomainRef *ref)
{
    if (ref) {
        g_free(ref->name);
        g_free(ref);
    }
}

VhDomainRef *vh_domain_ref_copy(const VhDomainRef *ref)
{
    VhDomainRef *r = g_memdup2(ref, sizeof(*ref));

    r->name = g_strdup(ref->name);
    return r;
}

guint vh_driver_add_event_func(VhDriver *drv, VhDriverEventFunc func,
                               gpointer opaque)
{
    return 1;
}

void vh_driver_remove_event_func(VhDriver *drv, guint id)
{
}

GPtrArray *vh_driver_list_domains(VhDriver *drv, guint flags)
{
    GPtrArray *a =
        g_ptr_array_new_with_free_func((GDestroyNotify)vh_domain_ref_free);

    g_ptr_array_add(a, fz_ref());
    return a;
}

guint vh_driver_num_domains(VhDriver *drv, bool active)
{
    return 1;
}

VhDomainRef *vh_driver_lookup_by_name(VhDriver *drv, const char *name,
                                      GError **errp)
{
    if (strcmp(name, "fz") != 0) {
        g_set_error(errp, VH_VIR_ERROR, VH_VIR_ERR_NO_DOMAIN,
                    "Domain not found: no domain with matching name '%s'",
                    name);
        return NULL;
    }
    return fz_ref();
}

VhDomainRef *vh_driver_lookup_by_uuid(VhDriver *drv,
                                      const guint8 uuid[VH_DOMAIN_UUID_LEN],
                                      GError **errp)
{
    return fz_check(uuid, errp) ? fz_ref() : NULL;
}

VhDomainRef *vh_driver_lookup_by_id(VhDriver *drv, int id, GError **errp)
{
    if (id != 1) {
        g_set_error(errp, VH_VIR_ERROR, VH_VIR_ERR_NO_DOMAIN,
                    "Domain not found: no domain with matching id %d", id);
        return NULL;
    }
    return fz_ref();
}

static VhDomainRef *fz_xml(const char *xml, GError **errp)
{
    if (!strstr(xml, "<domain")) {
        g_set_error(errp, VH_VIR_ERROR, VH_VIR_ERR_XML_ERROR,
                    "XML error: not a domain");
        return NULL;
    }
    return fz_ref();
}

VhDomainRef *vh_driver_define_xml(VhDriver *drv, const char *xml, guint flags,
                                  GError **errp)
{
    return fz_xml(xml, errp);
}

VhDomainRef *vh_driver_create_xml(VhDriver *drv, const char *xml, guint flags,
                                  GError **errp)
{
    return fz_xml(xml, errp);
}

bool vh_driver_undefine(VhDriver *drv, const guint8 *uuid, guint flags,
                        GError **errp)
{
    return fz_check(uuid, errp);
}

bool vh_driver_start(VhDriver *drv, const guint8 *uuid, guint flags,
                     GError **errp)
{
    return fz_check(uuid, errp);
}

bool vh_driver_shutdown(VhDriver *drv, const guint8 *uuid, guint flags,
                        GError **errp)
{
    return fz_check(uuid, errp);
}

bool vh_driver_destroy(VhDriver *drv, const guint8 *uuid, guint flags,
                       GError **errp)
{
    return fz_check(uuid, errp);
}

bool vh_driver_suspend(VhDriver *drv, const guint8 *uuid, GError **errp)
{
    return fz_check(uuid, errp);
}

bool vh_driver_resume(VhDriver *drv, const guint8 *uuid, GError **errp)
{
    return fz_check(uuid, errp);
}

bool vh_driver_get_info(VhDriver *drv, const guint8 *uuid, VhDomainInfo *info,
                        GError **errp)
{
    *info = (VhDomainInfo){VH_DOMAIN_RUNNING, 16384, 16384, 1, 42};
    return fz_check(uuid, errp);
}

bool vh_driver_get_state(VhDriver *drv, const guint8 *uuid, int *state,
                         int *reason, GError **errp)
{
    *state = VH_DOMAIN_RUNNING;
    *reason = 1;
    return fz_check(uuid, errp);
}

char *vh_driver_get_xml(VhDriver *drv, const guint8 *uuid, guint flags,
                        GError **errp)
{
    return fz_check(uuid, errp) ? g_strdup("<domain><name>fz</name></domain>")
                                : NULL;
}

bool vh_driver_get_autostart(VhDriver *drv, const guint8 *uuid, bool *on,
                             GError **errp)
{
    *on = false;
    return fz_check(uuid, errp);
}

bool vh_driver_set_autostart(VhDriver *drv, const guint8 *uuid, bool on,
                             GError **errp)
{
    return fz_check(uuid, errp);
}

bool vh_driver_is_active(VhDriver *drv, const guint8 *uuid, bool *active,
                         GError **errp)
{
    *active = true;
    return fz_check(uuid, errp);
}

bool vh_driver_is_persistent(VhDriver *drv, const guint8 *uuid,
                             bool *persistent, GError **errp)
{
    *persistent = true;
    return fz_check(uuid, errp);
}

VhChannel *vh_driver_open_console(VhDriver *drv, const guint8 *uuid,
                                  const char *dev_name, guint flags,
                                  GError **errp)
{
    return fz_check(uuid, errp) ? VH_CHANNEL(vh_channel_null_new()) : NULL;
}

/* ---- the target ---- */

static VhRemoteServer *server;
static VhRpcConn *conn;

static GByteArray *dispatch(const guint8 *pkt, gsize len, GError **errp)
{
    return vh_rpc_conn_dispatch_sync(conn, pkt, len, errp);
}

/* The migration steps (driver-migrate.h): the procedures' arguments are
 * decoded and checked, then nothing migrates; begin fails first, so a
 * peer-to-peer call never opens a connection. */
static bool fz_no_migration(GError **errp)
{
    g_set_error_literal(errp, VH_VIR_ERROR, VH_VIR_ERR_OPERATION_INVALID,
                        "Requested operation is not valid: domain is not "
                        "running");
    return false;
}

char *vh_driver_migrate_begin(VhDriver *drv, const guint8 *uuid,
                              const VhMigrateArgs *a, GError **errp)
{
    if (fz_check(uuid, errp)) {
        fz_no_migration(errp);
    }
    return NULL;
}

char *vh_driver_migrate_prepare(VhDriver *drv, const VhMigrateArgs *a,
                                char **name, GError **errp)
{
    fz_no_migration(errp);
    return NULL;
}

char *vh_driver_migrate_prepare_tunnel(VhDriver *drv, const VhMigrateArgs *a,
                                       char **name, GError **errp)
{
    fz_no_migration(errp);
    return NULL;
}

bool vh_driver_migrate_perform(VhDriver *drv, const guint8 *uuid,
                               const char *uri, const VhMigrateArgs *a,
                               VhMigrateAliveFunc alive, gpointer opaque,
                               GError **errp)
{
    return fz_check(uuid, errp) && fz_no_migration(errp);
}

VhDomainRef *vh_driver_migrate_finish(VhDriver *drv, const VhMigrateArgs *a,
                                      bool cancelled, GError **errp)
{
    fz_no_migration(errp);
    return NULL;
}

bool vh_driver_migrate_confirm(VhDriver *drv, const guint8 *uuid,
                               const VhMigrateArgs *a, bool cancelled,
                               GError **errp)
{
    return fz_check(uuid, errp) && fz_no_migration(errp);
}

void vh_driver_migrate_abort_incoming(VhDriver *drv, const char *name)
{
}

bool vh_driver_get_job_stats(VhDriver *drv, const guint8 *uuid, VhJobStats *st,
                             GError **errp)
{
    memset(st, 0, sizeof(*st));
    return fz_check(uuid, errp);
}

bool vh_driver_abort_job(VhDriver *drv, const guint8 *uuid, GError **errp)
{
    return fz_check(uuid, errp) && fz_no_migration(errp);
}

static void setup(void)
{
    static VhDriver drv;
    VhRemoteLimits lim = {.max_clients = 10, .max_workers = 1};
    g_autoptr(VhChannelNull) ch = vh_channel_null_new();
    g_autoptr(GError) err = NULL;

    server = vh_remote_server_new(&drv, &lim, NULL);
    vh_remote_server_add_client(server, VH_CHANNEL(ch), false, false, "fuzzer");
    g_assert_cmpuint(vh_remote_server_get_n_clients(server), ==, 1);
    conn = server->conns->pdata[0];

    /* the connection is open, so every procedure is reachable */
    VhRpcHeader h = {VH_REMOTE_PROGRAM,
                     VH_REMOTE_VERSION,
                     VH_REMOTE_PROC_CONNECT_OPEN,
                     VH_RPC_CALL,
                     1,
                     VH_RPC_OK};
    g_autoptr(GByteArray) open = vh_rpc_packet_new(&h);
    vh_xdr_put_opt_string(open, "vmhost:///system");
    vh_xdr_put_u32(open, 0);
    vh_rpc_packet_finish(open);
    g_autoptr(GByteArray) reply = dispatch(open->data, open->len, &err);
    g_assert_no_error(err);
    g_assert_cmpuint(reply->data[27], ==, VH_RPC_OK);
}

static void check_reply(const VhRpcHeader *call, GByteArray *reply)
{
    VhXdrReader r = VH_XDR_READER_INIT(reply->data, reply->len);
    VhRpcHeader h;
    g_autoptr(GError) err = NULL;

    g_assert_true(vh_rpc_packet_decode_header(&r, &h, &err));
    g_assert_cmpuint(h.serial, ==, call->serial);
    g_assert_cmpuint(h.proc, ==, call->proc);
    g_assert_cmpuint(h.type, ==, VH_RPC_REPLY);
    g_assert_true(h.status == VH_RPC_OK || h.status == VH_RPC_ERROR);
    if (h.status == VH_RPC_ERROR) {
        VhRpcError e = {0};
        g_assert_true(vh_rpc_error_decode(&r, &e, &err));
        g_assert_true(vh_xdr_end(&r, &err));
        g_assert_nonnull(e.message);
        g_assert_cmpint(e.code, >, 0);
        vh_rpc_error_clear(&e);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static gsize once;
    gsize pos = 0;

    if (g_once_init_enter(&once)) {
        setup();
        g_once_init_leave(&once, 1);
    }
    while (size - pos >= 4) {
        g_autoptr(GError) err = NULL;
        guint32 len;

        if (!vh_rpc_packet_check_length(data + pos, &len, &err)) {
            fuzz_assert_result(false, err);
            break; /* the server closes the connection here */
        }
        if (len > size - pos) {
            break; /* a packet still being received */
        }
        VhXdrReader r = VH_XDR_READER_INIT(data + pos, len);
        VhRpcHeader call;
        bool is_call = vh_rpc_packet_decode_header(&r, &call, NULL) &&
                       call.type == VH_RPC_CALL;
        g_autoptr(GByteArray) reply = dispatch(data + pos, len, &err);
        if (is_call) {
            g_assert_nonnull(reply);
            check_reply(&call, reply);
        }
        pos += len;
    }
    return 0;
}
