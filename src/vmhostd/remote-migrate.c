/*
 * REMOTE_PROGRAM's migration procedures (protocol version 3 with
 * extensible parameters, remote_protocol.x) and the job calls virsh
 * domjobinfo / domjobabort make. Each is a codec around the driver's
 * step (driver-migrate.h); PERFORM3_PARAMS with VIR_MIGRATE_PEER2PEER also
 * drives the destination daemon itself through a VhMigratePeer, as
 * libvirtd does for `virsh migrate --p2p`.
 *
 * Cookies are accepted and returned empty: both ends are vmhostd, and
 * what libvirt's cookies carry (graphics, locks, NBD) vmhost has not.
 */
#define G_LOG_DOMAIN "vmhostd"

#include "remote-internal.h"

#include <gio/gunixsocketaddress.h>
#include <string.h>

#include "driver-migrate.h"
#include "migrate-peer.h"
#include "migrate-tunnel.h"
#include "vmhost/io/channel-socket.h"
#include "vmhost/rpc/typed-params.h"

/* The VIR_MIGRATE_PARAM_* names vmhostd takes (libvirt-domain.h). */
static const char *const param_names[] = {
    "migrate_uri",          "destination_name", "destination_xml",
    "persistent_xml",       "bandwidth",        "listen_address",
    "parallel.connections", "tls.destination",  "graphics_uri",
};
static const VhTypedParamType param_types[] = {
    VH_TYPED_PARAM_STRING, VH_TYPED_PARAM_STRING, VH_TYPED_PARAM_STRING,
    VH_TYPED_PARAM_STRING, VH_TYPED_PARAM_ULLONG, VH_TYPED_PARAM_STRING,
    VH_TYPED_PARAM_INT,    VH_TYPED_PARAM_STRING, VH_TYPED_PARAM_STRING,
};
G_STATIC_ASSERT(G_N_ELEMENTS(param_names) == G_N_ELEMENTS(param_types));

static void put_ref(GByteArray *ret, const VhDomainRef *d)
{
    vh_remote_put_domain(ret, d->name, d->uuid, d->id);
}

static bool get_dom(VhXdrReader *a, guint8 *uuid, GError **errp)
{
    g_autofree char *name = NULL;
    gint32 id;

    return vh_remote_get_domain(a, &name, uuid, &id, errp);
}

/* opaque cookie_in<REMOTE_MIGRATE_COOKIE_MAX>, read and dropped */
static bool get_cookie(VhXdrReader *a, GError **errp)
{
    g_autofree guint8 *data = NULL;
    guint32 len;

    return vh_xdr_get_opaque(a, VH_REMOTE_MIGRATE_COOKIE_MAX, &data, &len,
                             errp);
}

static bool get_params(VhXdrReader *a, GPtrArray **params, GError **errp)
{
    return vh_typed_params_decode(a, VH_REMOTE_MIGRATE_PARAM_LIST_MAX, params,
                                  errp);
}

/* Flags and parameters into the driver's arguments (strings borrowed
 * from @params). */
static bool migrate_args(GPtrArray *params, guint32 flags, VhMigrateArgs *ma,
                         GError **errp)
{
    const VhTypedParam *tp;

    if (!remote_check_flags(flags, VH_MIGRATE_SUPPORTED, "virDomainMigrate3",
                            errp) ||
        !vh_typed_params_validate(params, param_names, param_types,
                                  G_N_ELEMENTS(param_names), errp)) {
        return false;
    }
    if ((flags & VH_MIGRATE_TUNNELLED) && (flags & VH_MIGRATE_TLS)) {
        g_set_error_literal(errp, VH_VIR_ERROR, VH_VIR_ERR_INVALID_ARG,
                            "invalid argument: Flags 'VIR_MIGRATE_TUNNELLED' "
                            "and 'VIR_MIGRATE_TLS' are mutually exclusive: "
                            "a tunnelled migration is protected by the "
                            "daemons' own TLS connection");
        return false;
    }
    if ((flags & VH_MIGRATE_TUNNELLED) && (flags & VH_MIGRATE_PARALLEL)) {
        g_set_error_literal(errp, VH_VIR_ERROR, VH_VIR_ERR_INVALID_ARG,
                            "invalid argument: Flags 'VIR_MIGRATE_TUNNELLED' "
                            "and 'VIR_MIGRATE_PARALLEL' are mutually "
                            "exclusive: a tunnel is one stream");
        return false;
    }
    memset(ma, 0, sizeof(*ma));
    ma->flags = flags;
    ma->uri = vh_typed_params_get_string(params, "migrate_uri");
    ma->dname = vh_typed_params_get_string(params, "destination_name");
    ma->dest_xml = vh_typed_params_get_string(params, "destination_xml");
    ma->persist_xml = vh_typed_params_get_string(params, "persistent_xml");
    ma->listen_address = vh_typed_params_get_string(params, "listen_address");
    ma->tls_destination = vh_typed_params_get_string(params, "tls.destination");
    if ((tp = vh_typed_params_find(params, "bandwidth"))) {
        ma->bandwidth_mib = tp->v.ul;
    }
    if ((tp = vh_typed_params_find(params, "parallel.connections"))) {
        if (tp->v.i < 1 || tp->v.i > 255) {
            g_set_error(errp, VH_VIR_ERROR, VH_VIR_ERR_INVALID_ARG,
                        "invalid argument: parallel.connections %d is not "
                        "in 1..255",
                        tp->v.i);
            return false;
        }
        ma->parallel_connections = tp->v.i;
    }
    return true;
}

/* DOMAIN_MIGRATE_BEGIN3_PARAMS: {dom; params<>; flags} ->
 * {opaque cookie_out<>; string xml} */
static bool do_begin3(VhRpcCall *call, VhXdrReader *a, GByteArray *ret,
                      GError **errp)
{
    g_autoptr(GPtrArray) params = NULL;
    g_autofree char *xml = NULL;
    guint8 uuid[VH_REMOTE_UUID_LEN];
    VhMigrateArgs ma;
    guint32 flags;

    if (!get_dom(a, uuid, errp) || !get_params(a, &params, errp) ||
        !vh_xdr_get_u32(a, &flags, errp) || !vh_xdr_end(a, errp) ||
        !migrate_args(params, flags, &ma, errp)) {
        return false;
    }
    xml = vh_driver_migrate_begin(remote_driver(call), uuid, &ma, errp);
    if (!xml) {
        return false;
    }
    vh_xdr_put_opaque(ret, NULL, 0);
    vh_xdr_put_string(ret, xml);
    return true;
}

/* An incoming migration prepared on this connection (@name transfer
 * full): stopped if the connection ends before its finish. */
static void remember_incoming(VhRpcCall *call, char *name)
{
    RemoteConn *rc = remote_conn(call);

    g_mutex_lock(&rc->lock);
    g_ptr_array_add(rc->incoming, name);
    g_mutex_unlock(&rc->lock);
}

typedef struct {
    VhDriver *drv;
    GPtrArray *names;
} AbortIncoming;

static gpointer abort_incoming_thread(gpointer opaque)
{
    AbortIncoming *ai = opaque;

    for (guint i = 0; i < ai->names->len; i++) {
        vh_driver_migrate_abort_incoming(ai->drv, ai->names->pdata[i]);
    }
    g_ptr_array_unref(ai->names);
    g_free(ai);
    return NULL;
}

void vh_remote_migrate_conn_closed(RemoteConn *rc)
{
    AbortIncoming *ai;

    g_mutex_lock(&rc->lock);
    if (!rc->incoming->len) {
        g_mutex_unlock(&rc->lock);
        return;
    }
    ai = g_new0(AbortIncoming, 1);
    ai->drv = rc->srv->drv;
    ai->names = g_steal_pointer(&rc->incoming);
    rc->incoming = g_ptr_array_new_with_free_func(g_free);
    g_mutex_unlock(&rc->lock);
    /* stopping a machine waits; not on the server's thread */
    g_thread_unref(g_thread_new("mig-abort", abort_incoming_thread, ai));
}

static bool peer_alive(gpointer opaque)
{
    return vh_migrate_peer_is_alive(opaque);
}

/* DOMAIN_MIGRATE_PREPARE3_PARAMS: {params<>; opaque cookie_in<>; flags}
 * -> {opaque cookie_out<>; remote_string uri_out} */
static bool do_prepare3(VhRpcCall *call, VhXdrReader *a, GByteArray *ret,
                        GError **errp)
{
    g_autoptr(GPtrArray) params = NULL;
    g_autofree char *uri = NULL;
    char *name = NULL;
    VhMigrateArgs ma;
    guint32 flags;

    if (!get_params(a, &params, errp) || !get_cookie(a, errp) ||
        !vh_xdr_get_u32(a, &flags, errp) || !vh_xdr_end(a, errp) ||
        !migrate_args(params, flags, &ma, errp)) {
        return false;
    }
    uri = vh_driver_migrate_prepare(remote_driver(call), &ma, &name, errp);
    if (!uri) {
        return false;
    }
    remember_incoming(call, name);
    vh_xdr_put_opaque(ret, NULL, 0);
    vh_xdr_put_opt_string(ret, uri);
    return true;
}

/* DOMAIN_MIGRATE_PREPARE_TUNNEL3_PARAMS: {params<>; opaque cookie_in<>;
 * flags} -> {opaque cookie_out<>}, then the call's serial carries the
 * migration stream, relayed into the destination's vmhost. */
static bool do_prepare_tunnel3(VhRpcCall *call, VhXdrReader *a, GByteArray *ret,
                               GError **errp)
{
    g_autoptr(GPtrArray) params = NULL;
    g_autoptr(GSocketAddress) addr = NULL;
    g_autoptr(VhChannelSocket) ch = vh_channel_socket_new();
    g_autoptr(GError) err = NULL;
    g_autofree char *path = NULL;
    char *name = NULL;
    VhMigrateArgs ma;
    guint32 flags;

    if (!get_params(a, &params, errp) || !get_cookie(a, errp) ||
        !vh_xdr_get_u32(a, &flags, errp) || !vh_xdr_end(a, errp) ||
        !migrate_args(params, flags, &ma, errp)) {
        return false;
    }
    if (!(flags & VH_MIGRATE_TUNNELLED)) {
        g_set_error_literal(errp, VH_VIR_ERROR, VH_VIR_ERR_INVALID_ARG,
                            "invalid argument: PREPARE_TUNNEL3 needs "
                            "VIR_MIGRATE_TUNNELLED");
        return false;
    }
    path =
        vh_driver_migrate_prepare_tunnel(remote_driver(call), &ma, &name, errp);
    if (!path) {
        return false;
    }
    remember_incoming(call, name);
    addr = g_unix_socket_address_new(path);
    if (!vh_channel_socket_connect_sync(ch, addr, &err)) {
        /* the source's finish (cancelled) stops the machine */
        g_set_error(errp, VH_VIR_ERROR, VH_VIR_ERR_OPERATION_FAILED,
                    "operation failed: cannot reach the incoming vmhost at "
                    "%s: %s",
                    path, err->message);
        return false;
    }
    vh_xdr_put_opaque(ret, NULL, 0);
    vh_rpc_call_attach_stream(call, VH_CHANNEL(ch));
    return true;
}

/* Tunnelled peer to peer: the stream first, then vmhost migrates into
 * the tunnel. */
static bool perform_tunnel(VhDriver *drv, const guint8 *uuid,
                           VhMigratePeer *peer, GPtrArray *dp,
                           const VhMigrateArgs *ma, bool *prepared,
                           GError **errp)
{
    g_autoptr(VhMigrateTunnel) t = vh_migrate_tunnel_new(errp);
    VhRpcClientStream *s;
    bool ok;

    if (!t) {
        return false;
    }
    s = vh_migrate_peer_prepare_tunnel(peer, dp, ma->flags,
                                       vh_migrate_tunnel_on_stream, t, errp);
    if (!s) {
        return false;
    }
    *prepared = true;
    vh_migrate_tunnel_start(t, s);
    ok = vh_driver_migrate_perform(drv, uuid, vh_migrate_tunnel_get_uri(t), ma,
                                   peer_alive, peer, errp);
    guint64 bytes = vh_migrate_tunnel_stop(t, !ok);
    vh_rpc_client_stream_free(s);
    g_info("tunnelled migration: %" G_GUINT64_FORMAT " bytes relayed", bytes);
    return ok;
}

/*
 * Peer to peer: this daemon is virsh for the destination. Nothing on the
 * source changes before the destination has prepared; any failure after
 * that cancels on both sides (finish with cancelled=1 stops the
 * destination's machine, confirm with cancelled=1 resumes ours).
 */
static bool perform_p2p(VhRemoteServer *srv, const guint8 *uuid,
                        const char *dconnuri, GPtrArray *params,
                        const VhMigrateArgs *ma, GError **errp)
{
    VhDriver *drv = srv->drv;
    g_autoptr(VhMigratePeer) peer = NULL;
    g_autoptr(GPtrArray) dp = NULL;
    g_autoptr(VhDomainRef) dom = NULL;
    g_autoptr(GError) err = NULL;
    g_autoptr(GError) ferr = NULL;
    g_autofree char *xml = NULL;
    g_autofree char *uri = NULL;
    bool ok;

    /* the domain first: a connection only for a domain that can go */
    xml = vh_driver_migrate_begin(drv, uuid, ma, errp);
    if (!xml ||
        !(peer = vh_migrate_peer_open(dconnuri, srv->keepalive_interval_ms,
                                      srv->keepalive_count, errp))) {
        return false;
    }
    dp = vh_typed_params_copy(params);
    vh_typed_params_set_string(dp, "destination_xml", xml);
    if (!ma->uri) {
        /* the destination as this host reached it, not its own idea of
         * its hostname */
        const char *h = vh_migrate_peer_get_host(peer);
        g_autofree char *u = strchr(h, ':') ? g_strdup_printf("tcp://[%s]", h)
                                            : g_strdup_printf("tcp://%s", h);

        vh_typed_params_set_string(dp, "migrate_uri", u);
    }
    if (ma->flags & VH_MIGRATE_TUNNELLED) {
        bool prepared = false;

        ok = perform_tunnel(drv, uuid, peer, dp, ma, &prepared, &err);
        if (!prepared) {
            /* refused at prepare: nothing to cancel */
            g_propagate_error(errp, g_steal_pointer(&err));
            return false;
        }
    } else {
        uri = vh_migrate_peer_prepare(peer, dp, ma->flags, errp);
        if (!uri) {
            return false;
        }
        ok = vh_driver_migrate_perform(drv, uuid, uri, ma, peer_alive, peer,
                                       &err);
    }
    if (!ok) {
        g_info("migration to %s failed: %s", dconnuri, err->message);
    }
    dom = vh_migrate_peer_finish(peer, dp, ma->flags, !ok, &ferr);
    if (ok && !dom) {
        ok = false;
        err = g_steal_pointer(&ferr);
    } else if (!ok && ferr &&
               g_error_matches(ferr, VH_VIR_ERROR, VH_VIR_ERR_AUTH_FAILED)) {
        /* the destination's vmhost refused our certificate (tls-authz):
         * ours only saw the connection close */
        g_prefix_error(&ferr, "%s; ", err->message);
        g_clear_error(&err);
        err = g_steal_pointer(&ferr);
    }
    if (!vh_driver_migrate_confirm(drv, uuid, ma, !ok, ok ? &err : NULL) &&
        ok) {
        ok = false;
    }
    if (!ok) {
        g_propagate_error(errp, g_steal_pointer(&err));
    }
    return ok;
}

/* DOMAIN_MIGRATE_PERFORM3_PARAMS: {dom; remote_string dconnuri; params<>;
 * opaque cookie_in<>; flags} -> {opaque cookie_out<>} */
static bool do_perform3(VhRpcCall *call, VhXdrReader *a, GByteArray *ret,
                        GError **errp)
{
    g_autoptr(GPtrArray) params = NULL;
    g_autofree char *dconnuri = NULL;
    guint8 uuid[VH_REMOTE_UUID_LEN];
    VhDriver *drv = remote_driver(call);
    VhMigrateArgs ma;
    guint32 flags;
    bool ok;

    if (!get_dom(a, uuid, errp) ||
        !vh_xdr_get_opt_string(a, 0, &dconnuri, errp) ||
        !get_params(a, &params, errp) || !get_cookie(a, errp) ||
        !vh_xdr_get_u32(a, &flags, errp) || !vh_xdr_end(a, errp) ||
        !migrate_args(params, flags, &ma, errp)) {
        return false;
    }
    if ((flags & VH_MIGRATE_TUNNELLED) && !(flags & VH_MIGRATE_PEER2PEER)) {
        g_set_error_literal(errp, VH_VIR_ERROR, VH_VIR_ERR_INVALID_ARG,
                            "invalid argument: tunnelled migration needs "
                            "peer-to-peer mode (--p2p)");
        ok = false;
    } else if (flags & VH_MIGRATE_PEER2PEER) {
        ok = perform_p2p(remote_conn(call)->srv, uuid, dconnuri, params, &ma,
                         errp);
    } else if (!ma.uri) {
        g_set_error_literal(errp, VH_VIR_ERROR, VH_VIR_ERR_INVALID_ARG,
                            "invalid argument: no migration URI: the "
                            "destination's prepare step gives it");
        ok = false;
    } else {
        ok =
            vh_driver_migrate_perform(drv, uuid, ma.uri, &ma, NULL, NULL, errp);
    }
    if (ok) {
        vh_xdr_put_opaque(ret, NULL, 0);
    }
    return ok;
}

/* DOMAIN_MIGRATE_FINISH3_PARAMS: {params<>; opaque cookie_in<>; flags;
 * int cancelled} -> {remote_nonnull_domain dom; opaque cookie_out<>} */
static bool do_finish3(VhRpcCall *call, VhXdrReader *a, GByteArray *ret,
                       GError **errp)
{
    g_autoptr(GPtrArray) params = NULL;
    g_autoptr(VhDomainRef) dom = NULL;
    VhMigrateArgs ma;
    guint32 flags;
    gint32 cancelled;

    if (!get_params(a, &params, errp) || !get_cookie(a, errp) ||
        !vh_xdr_get_u32(a, &flags, errp) ||
        !vh_xdr_get_i32(a, &cancelled, errp) || !vh_xdr_end(a, errp) ||
        !migrate_args(params, flags, &ma, errp)) {
        return false;
    }
    dom = vh_driver_migrate_finish(remote_driver(call), &ma, cancelled != 0,
                                   errp);
    if (!dom) {
        return false;
    }
    put_ref(ret, dom);
    vh_xdr_put_opaque(ret, NULL, 0);
    return true;
}

/* DOMAIN_MIGRATE_CONFIRM3_PARAMS: {dom; params<>; opaque cookie_in<>;
 * flags; int cancelled} -> void */
static bool do_confirm3(VhRpcCall *call, VhXdrReader *a, GByteArray *ret,
                        GError **errp)
{
    g_autoptr(GPtrArray) params = NULL;
    guint8 uuid[VH_REMOTE_UUID_LEN];
    VhMigrateArgs ma;
    guint32 flags;
    gint32 cancelled;

    if (!get_dom(a, uuid, errp) || !get_params(a, &params, errp) ||
        !get_cookie(a, errp) || !vh_xdr_get_u32(a, &flags, errp) ||
        !vh_xdr_get_i32(a, &cancelled, errp) || !vh_xdr_end(a, errp) ||
        !migrate_args(params, flags, &ma, errp)) {
        return false;
    }
    return vh_driver_migrate_confirm(remote_driver(call), uuid, &ma,
                                     cancelled != 0, errp);
}

/* DOMAIN_GET_JOB_INFO: {dom} -> {int type; unsigned hyper timeElapsed,
 * timeRemaining, dataTotal, dataProcessed, dataRemaining, memTotal,
 * memProcessed, memRemaining, fileTotal, fileProcessed, fileRemaining} */
static bool do_get_job_info(VhRpcCall *call, VhXdrReader *a, GByteArray *ret,
                            GError **errp)
{
    guint8 uuid[VH_REMOTE_UUID_LEN];
    VhJobStats st;

    if (!get_dom(a, uuid, errp) || !vh_xdr_end(a, errp) ||
        !vh_driver_get_job_stats(remote_driver(call), uuid, &st, errp)) {
        return false;
    }
    vh_xdr_put_i32(ret, st.type);
    vh_xdr_put_u64(ret, st.time_elapsed_ms);
    vh_xdr_put_u64(ret, 0);
    vh_xdr_put_u64(ret, st.data_total);
    vh_xdr_put_u64(ret, st.data_processed);
    vh_xdr_put_u64(ret, st.data_remaining);
    vh_xdr_put_u64(ret, st.data_total);
    vh_xdr_put_u64(ret, st.data_processed);
    vh_xdr_put_u64(ret, st.data_remaining);
    vh_xdr_put_u64(ret, 0);
    vh_xdr_put_u64(ret, 0);
    vh_xdr_put_u64(ret, 0);
    return true;
}

/* virDomainGetJobStats flags: COMPLETED 1, KEEP_COMPLETED 2 */
#define JOB_STATS_ALLOWED 3u

/* DOMAIN_GET_JOB_STATS: {dom; flags} -> {int type; params<>}, with
 * libvirt's VIR_DOMAIN_JOB_* field names. */
static bool do_get_job_stats(VhRpcCall *call, VhXdrReader *a, GByteArray *ret,
                             GError **errp)
{
    g_autoptr(GPtrArray) p = vh_typed_params_new();
    guint8 uuid[VH_REMOTE_UUID_LEN];
    VhJobStats st = {0};
    guint32 flags;

    if (!get_dom(a, uuid, errp) || !vh_xdr_get_u32(a, &flags, errp) ||
        !vh_xdr_end(a, errp) ||
        !remote_check_flags(flags, JOB_STATS_ALLOWED, "virDomainGetJobStats",
                            errp)) {
        return false;
    }
    /* no completed job is kept: COMPLETED reports none */
    if (!(flags & 1) &&
        !vh_driver_get_job_stats(remote_driver(call), uuid, &st, errp)) {
        return false;
    }
    if (st.type) {
        vh_typed_params_add_int(p, "operation", st.operation);
        vh_typed_params_add_ullong(p, "time_elapsed", st.time_elapsed_ms);
        vh_typed_params_add_ullong(p, "data_total", st.data_total);
        vh_typed_params_add_ullong(p, "data_processed", st.data_processed);
        vh_typed_params_add_ullong(p, "data_remaining", st.data_remaining);
        vh_typed_params_add_ullong(p, "memory_total", st.data_total);
        vh_typed_params_add_ullong(p, "memory_processed", st.data_processed);
        vh_typed_params_add_ullong(p, "memory_remaining", st.data_remaining);
        vh_typed_params_add_ullong(p, "memory_bps", st.mem_bps);
        vh_typed_params_add_ullong(p, "memory_dirty_rate", st.mem_dirty_rate);
        vh_typed_params_add_ullong(p, "memory_iteration", st.mem_iteration);
    }
    vh_xdr_put_i32(ret, st.type);
    vh_typed_params_encode(ret, p);
    return true;
}

/* DOMAIN_ABORT_JOB: {dom} -> void */
static bool do_abort_job(VhRpcCall *call, VhXdrReader *a, GByteArray *ret,
                         GError **errp)
{
    guint8 uuid[VH_REMOTE_UUID_LEN];

    return get_dom(a, uuid, errp) && vh_xdr_end(a, errp) &&
           vh_driver_abort_job(remote_driver(call), uuid, errp);
}

const VhRpcProc vh_remote_migrate_procs[] = {
    {VH_REMOTE_PROC_DOMAIN_MIGRATE_BEGIN3_PARAMS,
     "DOMAIN_MIGRATE_BEGIN3_PARAMS", do_begin3, VH_RPC_PROC_WRITE},
    {VH_REMOTE_PROC_DOMAIN_MIGRATE_PREPARE3_PARAMS,
     "DOMAIN_MIGRATE_PREPARE3_PARAMS", do_prepare3, VH_RPC_PROC_WRITE},
    {VH_REMOTE_PROC_DOMAIN_MIGRATE_PREPARE_TUNNEL3_PARAMS,
     "DOMAIN_MIGRATE_PREPARE_TUNNEL3_PARAMS", do_prepare_tunnel3,
     VH_RPC_PROC_WRITE},
    {VH_REMOTE_PROC_DOMAIN_MIGRATE_PERFORM3_PARAMS,
     "DOMAIN_MIGRATE_PERFORM3_PARAMS", do_perform3, VH_RPC_PROC_WRITE},
    {VH_REMOTE_PROC_DOMAIN_MIGRATE_FINISH3_PARAMS,
     "DOMAIN_MIGRATE_FINISH3_PARAMS", do_finish3, VH_RPC_PROC_WRITE},
    {VH_REMOTE_PROC_DOMAIN_MIGRATE_CONFIRM3_PARAMS,
     "DOMAIN_MIGRATE_CONFIRM3_PARAMS", do_confirm3, VH_RPC_PROC_WRITE},
    {VH_REMOTE_PROC_DOMAIN_GET_JOB_INFO, "DOMAIN_GET_JOB_INFO", do_get_job_info,
     0},
    {VH_REMOTE_PROC_DOMAIN_GET_JOB_STATS, "DOMAIN_GET_JOB_STATS",
     do_get_job_stats, 0},
    {VH_REMOTE_PROC_DOMAIN_ABORT_JOB, "DOMAIN_ABORT_JOB", do_abort_job,
     VH_RPC_PROC_WRITE},
};
const gsize vh_remote_migrate_n_procs = G_N_ELEMENTS(vh_remote_migrate_procs);
