/*
 * VhRemoteServer: REMOTE_PROGRAM on a VhRpcServer, per-connection state,
 * and lifecycle events from the driver to the connections that asked for
 * them (remote_protocol.x: DOMAIN_EVENT_LIFECYCLE 107 for the legacy
 * registrations, DOMAIN_EVENT_CALLBACK_LIFECYCLE 318 for callback ids).
 */
#include "remote-internal.h"

#include <string.h>

/* virDomainEventID: LIFECYCLE is 0; libvirt 9.0 knows 0..26 */
#define EVENT_ID_LIFECYCLE 0
#define EVENT_ID_LAST      27

bool remote_check_flags(guint32 flags, guint32 allowed, const char *func,
                        GError **errp)
{
    if (flags & ~allowed) {
        g_set_error(errp, VH_VIR_ERROR, VH_VIR_ERR_INVALID_ARG,
                    "unsupported flags (0x%x) in function %s", flags & ~allowed,
                    func);
        return false;
    }
    return true;
}

/* ---- per-connection state ---- */

static void remote_conn_free(gpointer opaque)
{
    RemoteConn *rc = opaque;

    g_free(rc->uri);
    g_array_unref(rc->cbs);
    g_ptr_array_unref(rc->incoming);
    g_mutex_clear(&rc->lock);
    g_free(rc);
}

static void conn_added(VhRpcConn *conn, gpointer opaque)
{
    VhRemoteServer *srv = opaque;
    RemoteConn *rc = g_new0(RemoteConn, 1);

    rc->srv = srv;
    rc->cbs = g_array_new(FALSE, TRUE, sizeof(RemoteEventCb));
    rc->incoming = g_ptr_array_new_with_free_func(g_free);
    rc->next_cb_id = 1;
    g_mutex_init(&rc->lock);
    vh_rpc_conn_set_data(conn, rc, remote_conn_free);

    g_mutex_lock(&srv->lock);
    g_ptr_array_add(srv->conns, vh_rpc_conn_ref(conn));
    g_mutex_unlock(&srv->lock);
}

static void conn_closed(VhRpcConn *conn, gpointer opaque)
{
    VhRemoteServer *srv = opaque;

    g_mutex_lock(&srv->lock);
    bool found = g_ptr_array_remove_fast(srv->conns, conn);
    g_mutex_unlock(&srv->lock);
    vh_remote_migrate_conn_closed(vh_rpc_conn_get_data(conn));
    if (found) {
        vh_rpc_conn_unref(conn);
    }
}

/* ---- events ---- */

static void send_lifecycle(VhRpcConn *conn, RemoteConn *rc,
                           const VhDomainRef *dom, int event, int detail)
{
    g_mutex_lock(&rc->lock);
    bool legacy = rc->opened && rc->legacy_lifecycle;
    g_autoptr(GArray) ids = g_array_new(FALSE, FALSE, sizeof(int));
    for (guint i = 0; rc->opened && i < rc->cbs->len; i++) {
        RemoteEventCb *cb = &g_array_index(rc->cbs, RemoteEventCb, i);
        if (cb->event_id == EVENT_ID_LIFECYCLE &&
            (!cb->has_dom ||
             memcmp(cb->uuid, dom->uuid, VH_REMOTE_UUID_LEN) == 0)) {
            g_array_append_val(ids, cb->id);
        }
    }
    g_mutex_unlock(&rc->lock);

    if (legacy) {
        /* remote_domain_event_lifecycle_msg {dom; int event; int detail} */
        g_autoptr(GByteArray) b = g_byte_array_new();
        vh_remote_put_domain(b, dom->name, dom->uuid, dom->id);
        vh_xdr_put_i32(b, event);
        vh_xdr_put_i32(b, detail);
        vh_rpc_conn_send_message(conn, VH_REMOTE_PROGRAM, VH_REMOTE_VERSION,
                                 VH_REMOTE_PROC_DOMAIN_EVENT_LIFECYCLE, b);
    }
    for (guint i = 0; i < ids->len; i++) {
        /* remote_domain_event_callback_lifecycle_msg
         * {int callbackID; remote_domain_event_lifecycle_msg msg} */
        g_autoptr(GByteArray) b = g_byte_array_new();
        vh_xdr_put_i32(b, g_array_index(ids, int, i));
        vh_remote_put_domain(b, dom->name, dom->uuid, dom->id);
        vh_xdr_put_i32(b, event);
        vh_xdr_put_i32(b, detail);
        vh_rpc_conn_send_message(conn, VH_REMOTE_PROGRAM, VH_REMOTE_VERSION,
                                 VH_REMOTE_PROC_DOMAIN_EVENT_CALLBACK_LIFECYCLE,
                                 b);
    }
}

static void on_driver_event(const VhDomainRef *dom, VhDomainEventType event,
                            int detail, gpointer opaque)
{
    VhRemoteServer *srv = opaque;
    g_autoptr(GPtrArray) conns =
        g_ptr_array_new_with_free_func((GDestroyNotify)vh_rpc_conn_unref);

    g_mutex_lock(&srv->lock);
    for (guint i = 0; i < srv->conns->len; i++) {
        g_ptr_array_add(conns, vh_rpc_conn_ref(srv->conns->pdata[i]));
    }
    g_mutex_unlock(&srv->lock);
    for (guint i = 0; i < conns->len; i++) {
        VhRpcConn *conn = conns->pdata[i];
        send_lifecycle(conn, vh_rpc_conn_get_data(conn), dom, event, detail);
    }
}

static bool check_event_id(gint32 id, GError **errp)
{
    if (id < 0 || id >= EVENT_ID_LAST) {
        g_set_error(errp, VH_VIR_ERROR, VH_VIR_ERR_INVALID_ARG,
                    "unsupported event ID %d", id);
        return false;
    }
    return true;
}

/* CONNECT_DOMAIN_EVENT_REGISTER: void -> {int cb_registered} */
static bool do_event_register(VhRpcCall *call, VhXdrReader *a, GByteArray *ret,
                              GError **errp)
{
    RemoteConn *rc = remote_conn(call);

    if (!vh_xdr_end(a, errp)) {
        return false;
    }
    g_mutex_lock(&rc->lock);
    rc->legacy_lifecycle = true;
    g_mutex_unlock(&rc->lock);
    vh_xdr_put_i32(ret, 1);
    return true;
}

/* CONNECT_DOMAIN_EVENT_DEREGISTER: void -> {int cb_registered} */
static bool do_event_deregister(VhRpcCall *call, VhXdrReader *a,
                                GByteArray *ret, GError **errp)
{
    RemoteConn *rc = remote_conn(call);

    if (!vh_xdr_end(a, errp)) {
        return false;
    }
    g_mutex_lock(&rc->lock);
    rc->legacy_lifecycle = false;
    g_mutex_unlock(&rc->lock);
    vh_xdr_put_i32(ret, 0);
    return true;
}

/* CONNECT_DOMAIN_EVENT_(DE)REGISTER_ANY: {int eventID} -> void. Only
 * LIFECYCLE events are ever sent; the other ids are accepted (virsh event
 * --all registers every one) and stay silent. */
static bool do_event_register_any(VhRpcCall *call, VhXdrReader *a,
                                  GByteArray *ret, GError **errp)
{
    RemoteConn *rc = remote_conn(call);
    gint32 id;
    bool reg = vh_rpc_call_get_header(call)->proc ==
               VH_REMOTE_PROC_CONNECT_DOMAIN_EVENT_REGISTER_ANY;

    if (!vh_xdr_get_i32(a, &id, errp) || !vh_xdr_end(a, errp) ||
        !check_event_id(id, errp)) {
        return false;
    }
    if (id == EVENT_ID_LIFECYCLE) {
        g_mutex_lock(&rc->lock);
        rc->legacy_lifecycle = reg;
        g_mutex_unlock(&rc->lock);
    }
    return true;
}

/* CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY:
 * {int eventID; remote_domain dom} -> {int callbackID} */
static bool do_callback_register_any(VhRpcCall *call, VhXdrReader *a,
                                     GByteArray *ret, GError **errp)
{
    RemoteConn *rc = remote_conn(call);
    RemoteEventCb cb = {0};
    g_autofree char *name = NULL;
    gint32 id, dom_id;

    if (!vh_xdr_get_i32(a, &id, errp) ||
        !vh_xdr_get_bool(a, &cb.has_dom, errp) ||
        (cb.has_dom &&
         !vh_remote_get_domain(a, &name, cb.uuid, &dom_id, errp)) ||
        !vh_xdr_end(a, errp) || !check_event_id(id, errp)) {
        return false;
    }
    if (cb.has_dom) {
        g_autoptr(VhDomainRef) d =
            vh_driver_lookup_by_uuid(remote_driver(call), cb.uuid, errp);
        if (!d) {
            return false;
        }
    }
    cb.event_id = id;
    g_mutex_lock(&rc->lock);
    cb.id = rc->next_cb_id++;
    g_array_append_val(rc->cbs, cb);
    g_mutex_unlock(&rc->lock);
    vh_xdr_put_i32(ret, cb.id);
    return true;
}

/* CONNECT_DOMAIN_EVENT_CALLBACK_DEREGISTER_ANY: {int callbackID} -> void */
static bool do_callback_deregister_any(VhRpcCall *call, VhXdrReader *a,
                                       GByteArray *ret, GError **errp)
{
    RemoteConn *rc = remote_conn(call);
    gint32 id;
    bool found = false;

    if (!vh_xdr_get_i32(a, &id, errp) || !vh_xdr_end(a, errp)) {
        return false;
    }
    g_mutex_lock(&rc->lock);
    for (guint i = 0; i < rc->cbs->len; i++) {
        if (g_array_index(rc->cbs, RemoteEventCb, i).id == id) {
            g_array_remove_index_fast(rc->cbs, i);
            found = true;
            break;
        }
    }
    g_mutex_unlock(&rc->lock);
    if (!found) {
        g_set_error(errp, VH_VIR_ERROR, VH_VIR_ERR_INVALID_ARG,
                    "domain event callback %d not registered", id);
        return false;
    }
    return true;
}

const VhRpcProc vh_remote_event_procs[] = {
    {VH_REMOTE_PROC_CONNECT_DOMAIN_EVENT_REGISTER,
     "CONNECT_DOMAIN_EVENT_REGISTER", do_event_register, 0},
    {VH_REMOTE_PROC_CONNECT_DOMAIN_EVENT_DEREGISTER,
     "CONNECT_DOMAIN_EVENT_DEREGISTER", do_event_deregister, 0},
    {VH_REMOTE_PROC_CONNECT_DOMAIN_EVENT_REGISTER_ANY,
     "CONNECT_DOMAIN_EVENT_REGISTER_ANY", do_event_register_any, 0},
    {VH_REMOTE_PROC_CONNECT_DOMAIN_EVENT_DEREGISTER_ANY,
     "CONNECT_DOMAIN_EVENT_DEREGISTER_ANY", do_event_register_any, 0},
    {VH_REMOTE_PROC_CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY,
     "CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY", do_callback_register_any, 0},
    {VH_REMOTE_PROC_CONNECT_DOMAIN_EVENT_CALLBACK_DEREGISTER_ANY,
     "CONNECT_DOMAIN_EVENT_CALLBACK_DEREGISTER_ANY", do_callback_deregister_any,
     0},
};
const gsize vh_remote_event_n_procs = G_N_ELEMENTS(vh_remote_event_procs);

/* ---- the server ---- */

static VhRpcProc *all_procs;
static VhRpcProgram remote_program;

static gpointer build_program(gpointer unused)
{
    gsize n = vh_remote_connect_n_procs + vh_remote_domain_n_procs +
              vh_remote_event_n_procs + vh_remote_migrate_n_procs;
    gsize at = n - vh_remote_migrate_n_procs;

    all_procs = g_new(VhRpcProc, n);
    memcpy(all_procs, vh_remote_connect_procs,
           vh_remote_connect_n_procs * sizeof(VhRpcProc));
    memcpy(all_procs + vh_remote_connect_n_procs, vh_remote_domain_procs,
           vh_remote_domain_n_procs * sizeof(VhRpcProc));
    memcpy(all_procs + vh_remote_connect_n_procs + vh_remote_domain_n_procs,
           vh_remote_event_procs, vh_remote_event_n_procs * sizeof(VhRpcProc));
    memcpy(all_procs + at, vh_remote_migrate_procs,
           vh_remote_migrate_n_procs * sizeof(VhRpcProc));
    remote_program = (VhRpcProgram){VH_REMOTE_PROGRAM, VH_REMOTE_VERSION,
                                    all_procs, n, VH_VIR_FROM_REMOTE};
    return &remote_program;
}

static guint seconds_to_ms(guint s)
{
    return s == G_MAXUINT ? 0 : MIN(s, G_MAXUINT / 1000) * 1000;
}

VhRemoteServer *vh_remote_server_new(VhDriver *drv,
                                     const VhRemoteLimits *limits,
                                     GMainContext *ctx)
{
    static GOnce once = G_ONCE_INIT;
    VhRemoteServer *srv = g_new0(VhRemoteServer, 1);
    VhRpcServerConfig cfg = {
        .max_clients = limits->max_clients,
        .max_workers = limits->max_workers,
        .keepalive_interval_ms = seconds_to_ms(limits->keepalive_interval),
        .keepalive_count = limits->keepalive_count,
    };
    VhRpcServerHooks hooks = {conn_added, conn_closed};

    if (limits->idle_timeout) {
        cfg.idle_timeout_ms = seconds_to_ms(limits->idle_timeout);
    } else if (cfg.keepalive_interval_ms) {
        cfg.idle_timeout_ms =
            cfg.keepalive_interval_ms * MAX(limits->keepalive_count, 1);
    } else {
        cfg.idle_timeout_ms = 30000;
    }
    srv->drv = drv;
    srv->keepalive_interval_ms = cfg.keepalive_interval_ms;
    srv->keepalive_count = limits->keepalive_count;
    srv->conns = g_ptr_array_new();
    g_mutex_init(&srv->lock);
    srv->rpc = vh_rpc_server_new(&cfg, ctx);
    vh_rpc_server_set_hooks(srv->rpc, &hooks, srv);
    vh_rpc_server_add_program(srv->rpc, g_once(&once, build_program, NULL));
    srv->event_id = vh_driver_add_event_func(drv, on_driver_event, srv);
    return srv;
}

void vh_remote_server_add_client(VhRemoteServer *srv, VhChannel *channel,
                                 bool tls, bool readonly, const char *identity)
{
    g_info("client %s connected%s", identity ? identity : "?",
           readonly ? " (read-only)" : "");
    vh_rpc_server_add_client(srv->rpc, channel, tls, readonly, identity);
}

guint vh_remote_server_get_n_clients(VhRemoteServer *srv)
{
    return vh_rpc_server_get_n_clients(srv->rpc);
}

void vh_remote_server_shutdown(VhRemoteServer *srv)
{
    if (srv->event_id) {
        vh_driver_remove_event_func(srv->drv, srv->event_id);
        srv->event_id = 0;
    }
    vh_rpc_server_shutdown(srv->rpc);
}

void vh_remote_server_free(VhRemoteServer *srv)
{
    if (!srv) {
        return;
    }
    vh_remote_server_shutdown(srv);
    g_clear_pointer(&srv->rpc, vh_rpc_server_free);
    g_ptr_array_free(srv->conns, TRUE);
    g_mutex_clear(&srv->lock);
    g_free(srv);
}
