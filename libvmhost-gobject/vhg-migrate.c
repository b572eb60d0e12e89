/*
 * vhg_domain_migrate_async: one DOMAIN_MIGRATE_PERFORM3_PARAMS call with
 * VIR_MIGRATE_PEER2PEER to the source daemon (which drives the destination
 * daemon itself), GET_JOB_STATS polled on the caller's main context while
 * it runs, and DOMAIN_ABORT_JOB when the caller cancels. The perform call
 * itself is never cancelled locally: the daemon's answer to the abort ends
 * it, so the source's state is known when the task returns.
 */
#include "vhg-private.h"

#include "vmhost/rpc/typed-params.h"

#include <string.h>

#define DEFAULT_PROGRESS_INTERVAL_MS 500

struct _VhgMigrateParams {
    char *tls_destination;
    guint64 bandwidth;
    int parallel_connections;
    char *listen_address;
    char *migrate_uri;
    guint progress_interval_ms;
};

G_DEFINE_BOXED_TYPE(VhgMigrateParams, vhg_migrate_params,
                    vhg_migrate_params_copy, vhg_migrate_params_free)
G_DEFINE_BOXED_TYPE(VhgMigrateProgress, vhg_migrate_progress,
                    vhg_migrate_progress_copy, vhg_migrate_progress_free)

/**
 * vhg_migrate_params_new:
 *
 * Parameters with nothing set: no bandwidth limit, the hypervisor's own
 * defaults, progress polled every 500 ms.
 *
 * Returns: (transfer full): new parameters
 */
VhgMigrateParams *vhg_migrate_params_new(void)
{
    return g_new0(VhgMigrateParams, 1);
}

/**
 * vhg_migrate_params_copy:
 * @params: parameters
 *
 * Returns: (transfer full): a copy of @params
 */
VhgMigrateParams *vhg_migrate_params_copy(const VhgMigrateParams *params)
{
    VhgMigrateParams *c;

    g_return_val_if_fail(params, NULL);
    c = g_memdup2(params, sizeof(*params));
    c->tls_destination = g_strdup(params->tls_destination);
    c->listen_address = g_strdup(params->listen_address);
    c->migrate_uri = g_strdup(params->migrate_uri);
    return c;
}

/**
 * vhg_migrate_params_free:
 * @params: parameters
 *
 * Frees @params.
 */
void vhg_migrate_params_free(VhgMigrateParams *params)
{
    if (!params) {
        return;
    }
    g_free(params->tls_destination);
    g_free(params->listen_address);
    g_free(params->migrate_uri);
    g_free(params);
}

/**
 * vhg_migrate_params_set_tls_destination:
 * @params: parameters
 * @name: (nullable): the name the destination's migration certificate must
 *   carry, %NULL for the destination URI's host
 *
 * Sets VIR_MIGRATE_PARAM_TLS_DESTINATION ("tls.destination").
 */
void vhg_migrate_params_set_tls_destination(VhgMigrateParams *params,
                                            const char *name)
{
    g_return_if_fail(params);
    g_free(params->tls_destination);
    params->tls_destination = g_strdup(name);
}

/**
 * vhg_migrate_params_get_tls_destination:
 * @params: parameters
 *
 * Returns: (transfer none) (nullable): the TLS destination name
 */
const char *vhg_migrate_params_get_tls_destination(VhgMigrateParams *params)
{
    g_return_val_if_fail(params, NULL);
    return params->tls_destination;
}

/**
 * vhg_migrate_params_set_bandwidth:
 * @params: parameters
 * @mib_per_s: the limit in MiB/s, 0 for none
 *
 * Sets VIR_MIGRATE_PARAM_BANDWIDTH ("bandwidth").
 */
void vhg_migrate_params_set_bandwidth(VhgMigrateParams *params,
                                      guint64 mib_per_s)
{
    g_return_if_fail(params);
    params->bandwidth = mib_per_s;
}

/**
 * vhg_migrate_params_get_bandwidth:
 * @params: parameters
 *
 * Returns: the bandwidth limit in MiB/s, 0 for none
 */
guint64 vhg_migrate_params_get_bandwidth(VhgMigrateParams *params)
{
    g_return_val_if_fail(params, 0);
    return params->bandwidth;
}

/**
 * vhg_migrate_params_set_parallel_connections:
 * @params: parameters
 * @n: the number of connections with %VHG_DOMAIN_MIGRATE_PARALLEL, 0 for
 *   the default
 *
 * Sets VIR_MIGRATE_PARAM_PARALLEL_CONNECTIONS ("parallel.connections").
 */
void vhg_migrate_params_set_parallel_connections(VhgMigrateParams *params,
                                                 int n)
{
    g_return_if_fail(params);
    params->parallel_connections = n;
}

/**
 * vhg_migrate_params_get_parallel_connections:
 * @params: parameters
 *
 * Returns: the number of parallel connections, 0 for the default
 */
int vhg_migrate_params_get_parallel_connections(VhgMigrateParams *params)
{
    g_return_val_if_fail(params, 0);
    return params->parallel_connections;
}

/**
 * vhg_migrate_params_set_listen_address:
 * @params: parameters
 * @address: (nullable): the address the destination's hypervisor listens
 *   on, %NULL for its default
 *
 * Sets VIR_MIGRATE_PARAM_LISTEN_ADDRESS ("listen_address").
 */
void vhg_migrate_params_set_listen_address(VhgMigrateParams *params,
                                           const char *address)
{
    g_return_if_fail(params);
    g_free(params->listen_address);
    params->listen_address = g_strdup(address);
}

/**
 * vhg_migrate_params_get_listen_address:
 * @params: parameters
 *
 * Returns: (transfer none) (nullable): the listen address
 */
const char *vhg_migrate_params_get_listen_address(VhgMigrateParams *params)
{
    g_return_val_if_fail(params, NULL);
    return params->listen_address;
}

/**
 * vhg_migrate_params_set_migrate_uri:
 * @params: parameters
 * @uri: (nullable): where the migration stream goes (tcp://HOST[:PORT]),
 *   %NULL to let the destination choose
 *
 * Sets VIR_MIGRATE_PARAM_URI ("migrate_uri").
 */
void vhg_migrate_params_set_migrate_uri(VhgMigrateParams *params,
                                        const char *uri)
{
    g_return_if_fail(params);
    g_free(params->migrate_uri);
    params->migrate_uri = g_strdup(uri);
}

/**
 * vhg_migrate_params_get_migrate_uri:
 * @params: parameters
 *
 * Returns: (transfer none) (nullable): the migration URI
 */
const char *vhg_migrate_params_get_migrate_uri(VhgMigrateParams *params)
{
    g_return_val_if_fail(params, NULL);
    return params->migrate_uri;
}

/**
 * vhg_migrate_params_set_progress_interval:
 * @params: parameters
 * @interval_ms: how often the progress is polled, in milliseconds; 0 for
 *   the default (500 ms)
 *
 * Not sent to the daemon: the period of GET_JOB_STATS calls.
 */
void vhg_migrate_params_set_progress_interval(VhgMigrateParams *params,
                                              guint interval_ms)
{
    g_return_if_fail(params);
    params->progress_interval_ms = interval_ms;
}

/**
 * vhg_migrate_params_get_progress_interval:
 * @params: parameters
 *
 * Returns: the polling period in milliseconds (0: the default)
 */
guint vhg_migrate_params_get_progress_interval(VhgMigrateParams *params)
{
    g_return_val_if_fail(params, 0);
    return params->progress_interval_ms;
}

/**
 * vhg_migrate_progress_copy:
 * @p: a progress report
 *
 * Returns: (transfer full): a copy of @p
 */
VhgMigrateProgress *vhg_migrate_progress_copy(const VhgMigrateProgress *p)
{
    return g_memdup2(p, sizeof(*p));
}

/**
 * vhg_migrate_progress_free:
 * @p: a progress report
 *
 * Frees @p.
 */
void vhg_migrate_progress_free(VhgMigrateProgress *p)
{
    g_free(p);
}

/* ---- the migration ---- */

typedef struct {
    VhRpcClient *client;
    GSource *timer;
    GCancellable *cancellable; /* the caller's */
    gulong cancel_id;
    VhgDomainMigrateProgressFunc progress;
    gpointer progress_data;
    GDestroyNotify progress_data_free;
    bool done;       /* PERFORM3 answered */
    bool stats_busy; /* a GET_JOB_STATS call in flight */
    bool abort_wanted;
    bool abort_busy;
    bool abort_sent; /* the daemon accepted ABORT_JOB */
} Migration;

static void migration_free(gpointer opaque)
{
    Migration *m = opaque;

    if (m->timer) {
        g_source_destroy(m->timer);
        g_source_unref(m->timer);
    }
    if (m->progress_data_free) {
        m->progress_data_free(m->progress_data);
    }
    g_clear_object(&m->cancellable);
    g_clear_pointer(&m->client, vh_rpc_client_unref);
    g_free(m);
}

static GByteArray *dom_args(VhgDomain *dom)
{
    GByteArray *b = g_byte_array_new();

    vhg_domain_put_wire(dom, b);
    return b;
}

/* GET_JOB_STATS: {int type; params<>} -> a report, or NULL with no job */
static gboolean decode_stats(GBytes *ret, VhgMigrateProgress *p, GError **error)
{
    g_autoptr(GPtrArray) params = NULL;
    gsize len;
    const guint8 *d = g_bytes_get_data(ret, &len);
    VhXdrReader r = VH_XDR_READER_INIT(d, len);
    gint32 type;
    static const struct {
        const char *field;
        gsize offset;
    } fields[] = {
        {"time_elapsed", G_STRUCT_OFFSET(VhgMigrateProgress, time_elapsed)},
        {"data_total", G_STRUCT_OFFSET(VhgMigrateProgress, data_total)},
        {"data_processed", G_STRUCT_OFFSET(VhgMigrateProgress, data_processed)},
        {"data_remaining", G_STRUCT_OFFSET(VhgMigrateProgress, data_remaining)},
        {"memory_bps", G_STRUCT_OFFSET(VhgMigrateProgress, memory_bps)},
        {"memory_dirty_rate",
         G_STRUCT_OFFSET(VhgMigrateProgress, memory_dirty_rate)},
        {"memory_iteration",
         G_STRUCT_OFFSET(VhgMigrateProgress, memory_iteration)},
    };

    if (!vh_xdr_get_i32(&r, &type, error) ||
        !vh_typed_params_decode(&r, VH_REMOTE_JOB_STATS_MAX, &params, error) ||
        !vh_xdr_end(&r, error)) {
        return FALSE;
    }
    if (type == 0) { /* VIR_DOMAIN_JOB_NONE */
        return FALSE;
    }
    memset(p, 0, sizeof(*p));
    for (gsize i = 0; i < G_N_ELEMENTS(fields); i++) {
        const VhTypedParam *tp = vh_typed_params_find(params, fields[i].field);

        if (tp && tp->type == VH_TYPED_PARAM_ULLONG) {
            G_STRUCT_MEMBER(guint64, p, fields[i].offset) = tp->v.ul;
        }
    }
    return TRUE;
}

static void send_abort(GTask *task);

static void stats_done(GObject *source, GAsyncResult *res, gpointer opaque)
{
    g_autoptr(GTask) task = opaque;
    Migration *m = g_task_get_task_data(task);
    g_autoptr(GBytes) ret = vh_rpc_client_call_finish(NULL, res, NULL);
    VhgMigrateProgress p;

    m->stats_busy = false;
    /* errors (no job yet, a job just ended) are left to PERFORM3's answer */
    if (!m->done && ret && m->progress && decode_stats(ret, &p, NULL)) {
        m->progress(g_task_get_source_object(task), &p, m->progress_data);
    }
}

static gboolean poll_tick(gpointer opaque)
{
    GTask *task = opaque;
    Migration *m = g_task_get_task_data(task);
    VhgDomain *dom = g_task_get_source_object(task);
    g_autoptr(GByteArray) args = NULL;

    if (m->done) {
        return G_SOURCE_REMOVE;
    }
    /* an abort refused before the daemon's job began: again */
    if (m->abort_wanted && !m->abort_sent && !m->abort_busy) {
        send_abort(task);
    }
    if (m->progress && !m->stats_busy) {
        args = dom_args(dom);
        vh_xdr_put_u32(args, 0);
        m->stats_busy = true;
        vh_rpc_client_call_async(m->client, VH_REMOTE_PROGRAM,
                                 VH_REMOTE_VERSION,
                                 VH_REMOTE_PROC_DOMAIN_GET_JOB_STATS, args,
                                 NULL, stats_done, g_object_ref(task));
    }
    return G_SOURCE_CONTINUE;
}

static void abort_done(GObject *source, GAsyncResult *res, gpointer opaque)
{
    g_autoptr(GTask) task = opaque;
    Migration *m = g_task_get_task_data(task);
    g_autoptr(GError) err = NULL;
    g_autoptr(GBytes) ret = vh_rpc_client_call_finish(NULL, res, &err);

    m->abort_busy = false;
    if (ret) {
        m->abort_sent = true;
    } else if (!m->done) {
        g_debug("ABORT_JOB: %s (tried again)", err->message);
    }
}

static void send_abort(GTask *task)
{
    Migration *m = g_task_get_task_data(task);

    m->abort_busy = true;
    vh_rpc_client_call_async(m->client, VH_REMOTE_PROGRAM, VH_REMOTE_VERSION,
                             VH_REMOTE_PROC_DOMAIN_ABORT_JOB,
                             dom_args(g_task_get_source_object(task)), NULL,
                             abort_done, g_object_ref(task));
}

/* The cancellable fired (in the caller's context: see on_cancelled) */
static gboolean cancel_in_context(gpointer opaque)
{
    GTask *task = opaque;
    Migration *m = g_task_get_task_data(task);

    if (!m->done && !m->abort_wanted) {
        m->abort_wanted = true;
        send_abort(task);
    }
    return G_SOURCE_REMOVE;
}

static void on_cancelled(GCancellable *cancellable, gpointer opaque)
{
    GTask *task = opaque;

    /* any thread: the calls go out from the task's context */
    g_main_context_invoke_full(g_task_get_context(task), G_PRIORITY_DEFAULT,
                               cancel_in_context, g_object_ref(task),
                               g_object_unref);
}

static void perform_done(GObject *source, GAsyncResult *res, gpointer opaque)
{
    g_autoptr(GTask) task = opaque;
    Migration *m = g_task_get_task_data(task);
    GError *err = NULL;
    g_autoptr(GBytes) ret = vh_rpc_client_call_finish(NULL, res, &err);

    m->done = true;
    if (m->cancel_id) {
        g_cancellable_disconnect(m->cancellable, m->cancel_id);
        m->cancel_id = 0;
    }
    if (ret) {
        /* {opaque cookie_out<>}: nothing the caller needs */
        g_task_return_boolean(task, TRUE);
    } else if (m->abort_wanted) {
        g_autoptr(GError) why = err;

        g_task_return_new_error(task, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                "migration cancelled: %s", why->message);
    } else {
        g_task_return_error(task, err);
    }
}

/**
 * vhg_domain_migrate_async:
 * @dom: a running domain
 * @dest_uri: the destination daemon's URI as the source daemon reaches it
 *   (vmhost+tls://HOST/system)
 * @flags: how to migrate; %VHG_DOMAIN_MIGRATE_PEER2PEER is always added
 * @params: (nullable): optional parameters
 * @cancellable: (nullable): cancels the migration: the source daemon is
 *   asked to abort its job (DOMAIN_ABORT_JOB) and the call fails with
 *   %G_IO_ERROR_CANCELLED once the daemon has ended it, the domain running
 *   on the source
 * @progress_callback: (nullable) (scope notified) (closure progress_data)
 *   (destroy progress_data_free): called with each report of the job
 * @progress_data: data for @progress_callback
 * @progress_data_free: (nullable): frees @progress_data when the migration
 *   is over
 * @callback: (scope async) (closure user_data): called when the migration
 *   is over
 * @user_data: data for @callback
 *
 * Migrates @dom live to another daemon, peer to peer: the daemon the
 * connection is open on connects to @dest_uri itself with its own client
 * certificate (libvirt's DOMAIN_MIGRATE_PERFORM3_PARAMS with
 * VIR_MIGRATE_PEER2PEER, as `virsh migrate --p2p` does). While it runs, the
 * job's numbers are asked for every progress interval
 * (vhg_migrate_params_set_progress_interval()) and handed to
 * @progress_callback, on the thread-default main context of the caller, as
 * is @callback.
 *
 * The connection's call timeout (vhg_connection_set_call_timeout()) bounds
 * the whole migration; set a longer one, or none, for long migrations. A
 * cancellation that arrives as the migration completes leaves it complete
 * and the call successful. Errors keep libvirt's codes (%VHG_ERROR).
 */
void vhg_domain_migrate_async(VhgDomain *dom, const char *dest_uri,
                              VhgDomainMigrateFlags flags,
                              VhgMigrateParams *params,
                              GCancellable *cancellable,
                              VhgDomainMigrateProgressFunc progress_callback,
                              gpointer progress_data,
                              GDestroyNotify progress_data_free,
                              GAsyncReadyCallback callback, gpointer user_data)
{
    g_autoptr(GPtrArray) tp = vh_typed_params_new();
    g_autoptr(GByteArray) args = NULL;
    GTask *task;
    Migration *m;
    GError *err = NULL;
    guint interval;

    g_return_if_fail(VHG_IS_DOMAIN(dom));
    g_return_if_fail(dest_uri);

    task = g_task_new(dom, cancellable, callback, user_data);
    g_task_set_source_tag(task, vhg_domain_migrate_async);
    /* the daemon's answer decides, not the cancellable alone */
    g_task_set_check_cancellable(task, FALSE);
    m = g_new0(Migration, 1);
    m->progress = progress_callback;
    m->progress_data = progress_data;
    m->progress_data_free = progress_data_free;
    g_task_set_task_data(task, m, migration_free);

    if (!(m->client = vhg_domain_get_client(dom, &err))) {
        g_task_return_error(task, err);
        g_object_unref(task);
        return;
    }
    if (g_cancellable_set_error_if_cancelled(cancellable, &err)) {
        g_task_return_error(task, err);
        g_object_unref(task);
        return;
    }

    if (params) {
        if (params->migrate_uri) {
            vh_typed_params_add_string(tp, "migrate_uri", params->migrate_uri);
        }
        if (params->bandwidth) {
            vh_typed_params_add_ullong(tp, "bandwidth", params->bandwidth);
        }
        if (params->listen_address) {
            vh_typed_params_add_string(tp, "listen_address",
                                       params->listen_address);
        }
        if (params->parallel_connections) {
            vh_typed_params_add_int(tp, "parallel.connections",
                                    params->parallel_connections);
        }
        if (params->tls_destination) {
            vh_typed_params_add_string(tp, "tls.destination",
                                       params->tls_destination);
        }
    }
    /* {dom; remote_string dconnuri; params<>; opaque cookie_in<>; flags} */
    args = dom_args(dom);
    vh_xdr_put_opt_string(args, dest_uri);
    vh_typed_params_encode(args, tp);
    vh_xdr_put_opaque(args, NULL, 0);
    vh_xdr_put_u32(args, flags | VHG_DOMAIN_MIGRATE_PEER2PEER);
    vh_rpc_client_call_async(m->client, VH_REMOTE_PROGRAM, VH_REMOTE_VERSION,
                             VH_REMOTE_PROC_DOMAIN_MIGRATE_PERFORM3_PARAMS,
                             args, NULL, perform_done, g_object_ref(task));

    interval = params && params->progress_interval_ms
                   ? params->progress_interval_ms
                   : DEFAULT_PROGRESS_INTERVAL_MS;
    m->timer = g_timeout_source_new(interval);
    g_source_set_callback(m->timer, poll_tick, task, NULL);
    g_source_set_static_name(m->timer, "vhg-migrate-progress");
    g_source_attach(m->timer, g_task_get_context(task));

    if (cancellable) {
        m->cancellable = g_object_ref(cancellable);
        /* the task outlives the handler: disconnected in perform_done */
        m->cancel_id = g_cancellable_connect(
            cancellable, G_CALLBACK(on_cancelled), task, NULL);
    }
    g_object_unref(task);
}

/**
 * vhg_domain_migrate_finish:
 * @dom: the domain
 * @result: the result given to the callback
 * @error: return location for an error
 *
 * Returns: %TRUE when the domain runs on the destination
 */
gboolean vhg_domain_migrate_finish(VhgDomain *dom, GAsyncResult *result,
                                   GError **error)
{
    g_return_val_if_fail(g_task_is_valid(result, dom), FALSE);
    g_return_val_if_fail(g_task_get_source_tag(G_TASK(result)) ==
                             vhg_domain_migrate_async,
                         FALSE);
    return g_task_propagate_boolean(G_TASK(result), error);
}

typedef struct {
    GAsyncResult *res;
} SyncWait;

static void sync_done(GObject *source, GAsyncResult *res, gpointer opaque)
{
    SyncWait *w = opaque;

    w->res = g_object_ref(res);
}

/**
 * vhg_domain_migrate:
 * @dom: a running domain
 * @dest_uri: the destination daemon's URI as the source daemon reaches it
 * @flags: how to migrate; %VHG_DOMAIN_MIGRATE_PEER2PEER is always added
 * @params: (nullable): optional parameters
 * @cancellable: (nullable): cancels the migration (see
 *   vhg_domain_migrate_async())
 * @progress_callback: (nullable) (scope call) (closure progress_data):
 *   called with each report of the job, in this thread
 * @progress_data: data for @progress_callback
 * @error: return location for an error
 *
 * The blocking form of vhg_domain_migrate_async(): it runs a private main
 * context until the migration is over.
 *
 * Returns: %TRUE when the domain runs on the destination
 */
gboolean vhg_domain_migrate(VhgDomain *dom, const char *dest_uri,
                            VhgDomainMigrateFlags flags,
                            VhgMigrateParams *params, GCancellable *cancellable,
                            VhgDomainMigrateProgressFunc progress_callback,
                            gpointer progress_data, GError **error)
{
    g_autoptr(GMainContext) ctx = g_main_context_new();
    SyncWait w = {NULL};
    gboolean ok;

    g_return_val_if_fail(VHG_IS_DOMAIN(dom), FALSE);
    g_main_context_push_thread_default(ctx);
    vhg_domain_migrate_async(dom, dest_uri, flags, params, cancellable,
                             progress_callback, progress_data, NULL, sync_done,
                             &w);
    while (!w.res) {
        g_main_context_iteration(ctx, TRUE);
    }
    g_main_context_pop_thread_default(ctx);
    ok = vhg_domain_migrate_finish(dom, w.res, error);
    g_object_unref(w.res);
    return ok;
}
