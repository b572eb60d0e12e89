/*
 * VhgDomain: a domain's identity, its state from replies and lifecycle
 * events, and one remote call per operation.
 */
#include "vhg-private.h"

#include <string.h>

/* libvirt's remote procedures for the operations */
#define PROC_CREATE_WITH_FLAGS VH_REMOTE_PROC_DOMAIN_CREATE_WITH_FLAGS

struct _VhgDomain {
    GObject parent;
    GWeakRef conn;
    char *name;
    guint8 uuid[VH_REMOTE_UUID_LEN];
    char *uuid_str;
    int id;
    gboolean persistent;
    VhgDomainState state;
};

G_DEFINE_TYPE(VhgDomain, vhg_domain, G_TYPE_OBJECT)

G_DEFINE_BOXED_TYPE(VhgDomainInfo, vhg_domain_info, vhg_domain_info_copy,
                    vhg_domain_info_free)

enum {
    PROP_0,
    PROP_NAME,
    PROP_UUID,
    PROP_ID,
    PROP_PERSISTENT,
    PROP_STATE,
    N_PROPS
};
static GParamSpec *props[N_PROPS];

enum {
    SIG_STARTED,
    SIG_STOPPED,
    SIG_SUSPENDED,
    SIG_RESUMED,
    SIG_UPDATED,
    N_SIGNALS
};
static guint signals[N_SIGNALS];

/**
 * vhg_domain_info_copy:
 * @info: a #VhgDomainInfo
 *
 * Returns: (transfer full): a copy of @info
 */
VhgDomainInfo *vhg_domain_info_copy(const VhgDomainInfo *info)
{
    return g_memdup2(info, sizeof(*info));
}

/**
 * vhg_domain_info_free:
 * @info: a #VhgDomainInfo
 *
 * Frees @info.
 */
void vhg_domain_info_free(VhgDomainInfo *info)
{
    g_free(info);
}

static void vhg_domain_init(VhgDomain *dom)
{
    dom->id = -1;
    g_weak_ref_init(&dom->conn, NULL);
}

static void vhg_domain_finalize(GObject *obj)
{
    VhgDomain *dom = VHG_DOMAIN(obj);

    g_weak_ref_clear(&dom->conn);
    g_free(dom->name);
    g_free(dom->uuid_str);
    G_OBJECT_CLASS(vhg_domain_parent_class)->finalize(obj);
}

static void vhg_domain_get_property(GObject *obj, guint id, GValue *value,
                                    GParamSpec *pspec)
{
    VhgDomain *dom = VHG_DOMAIN(obj);

    switch (id) {
    case PROP_NAME:
        g_value_set_string(value, dom->name);
        break;
    case PROP_UUID:
        g_value_set_string(value, dom->uuid_str);
        break;
    case PROP_ID:
        g_value_set_int(value, dom->id);
        break;
    case PROP_PERSISTENT:
        g_value_set_boolean(value, dom->persistent);
        break;
    case PROP_STATE:
        g_value_set_enum(value, dom->state);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, id, pspec);
    }
}

static guint new_signal(GObjectClass *oc, const char *name)
{
    return g_signal_new(name, G_TYPE_FROM_CLASS(oc),
                        G_SIGNAL_RUN_FIRST | G_SIGNAL_DETAILED, 0, NULL, NULL,
                        NULL, G_TYPE_NONE, 0);
}

static void vhg_domain_class_init(VhgDomainClass *klass)
{
    GObjectClass *oc = G_OBJECT_CLASS(klass);
    const GParamFlags ro =
        G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY;

    oc->finalize = vhg_domain_finalize;
    oc->get_property = vhg_domain_get_property;

    /**
     * VhgDomain:name:
     *
     * The domain's name.
     */
    props[PROP_NAME] = g_param_spec_string("name", NULL, NULL, NULL, ro);
    /**
     * VhgDomain:uuid:
     *
     * The domain's UUID in its text form.
     */
    props[PROP_UUID] = g_param_spec_string("uuid", NULL, NULL, NULL, ro);
    /**
     * VhgDomain:id:
     *
     * The id of a running domain, -1 when it is not running.
     */
    props[PROP_ID] = g_param_spec_int("id", NULL, NULL, -1, G_MAXINT, -1, ro);
    /**
     * VhgDomain:persistent:
     *
     * Whether the domain is defined (not transient).
     */
    props[PROP_PERSISTENT] =
        g_param_spec_boolean("persistent", NULL, NULL, FALSE, ro);
    /**
     * VhgDomain:state:
     *
     * The state as last reported by the server.
     */
    props[PROP_STATE] = g_param_spec_enum(
        "state", NULL, NULL, VHG_TYPE_DOMAIN_STATE, VHG_DOMAIN_STATE_NONE, ro);
    g_object_class_install_properties(oc, N_PROPS, props);

    /**
     * VhgDomain::started:
     * @dom: the domain
     *
     * The domain started (a lifecycle event from the server).
     */
    signals[SIG_STARTED] = new_signal(oc, "started");
    /**
     * VhgDomain::stopped:
     * @dom: the domain
     *
     * The domain stopped: shut down, destroyed or crashed.
     */
    signals[SIG_STOPPED] = new_signal(oc, "stopped");
    /**
     * VhgDomain::suspended:
     * @dom: the domain
     *
     * The domain was paused.
     */
    signals[SIG_SUSPENDED] = new_signal(oc, "suspended");
    /**
     * VhgDomain::resumed:
     * @dom: the domain
     *
     * The domain runs again after a pause.
     */
    signals[SIG_RESUMED] = new_signal(oc, "resumed");
    /**
     * VhgDomain::updated:
     * @dom: the domain
     *
     * The domain's configuration was defined again.
     */
    signals[SIG_UPDATED] = new_signal(oc, "updated");
}

VhgDomain *vhg_domain_new_internal(VhgConnection *conn, const char *name,
                                   const guint8 *uuid, int id)
{
    VhgDomain *dom = g_object_new(VHG_TYPE_DOMAIN, NULL);

    g_weak_ref_set(&dom->conn, conn);
    dom->name = g_strdup(name);
    memcpy(dom->uuid, uuid, VH_REMOTE_UUID_LEN);
    dom->uuid_str = vh_domain_uuid_format(uuid);
    dom->id = id;
    dom->state = id >= 0 ? VHG_DOMAIN_STATE_RUNNING : VHG_DOMAIN_STATE_SHUTOFF;
    return dom;
}

const guint8 *vhg_domain_get_uuid_bytes(VhgDomain *dom)
{
    return dom->uuid;
}

void vhg_domain_put_wire(VhgDomain *dom, GByteArray *b)
{
    vh_remote_put_domain(b, dom->name, dom->uuid, dom->id);
}

void vhg_domain_update(VhgDomain *dom, const char *name, int id, int state,
                       int persistent)
{
    g_object_freeze_notify(G_OBJECT(dom));
    if (name && g_strcmp0(name, dom->name) != 0) {
        g_free(dom->name);
        dom->name = g_strdup(name);
        g_object_notify_by_pspec(G_OBJECT(dom), props[PROP_NAME]);
    }
    if (id >= -1 && id != dom->id) {
        dom->id = id;
        g_object_notify_by_pspec(G_OBJECT(dom), props[PROP_ID]);
    }
    if (state >= 0 && (VhgDomainState)state != dom->state) {
        dom->state = state;
        g_object_notify_by_pspec(G_OBJECT(dom), props[PROP_STATE]);
    }
    if (persistent >= 0 && !!persistent != dom->persistent) {
        dom->persistent = !!persistent;
        g_object_notify_by_pspec(G_OBJECT(dom), props[PROP_PERSISTENT]);
    }
    g_object_thaw_notify(G_OBJECT(dom));
}

void vhg_domain_handle_event(VhgDomain *dom, int event, int detail)
{
    switch (event) {
    case VHG_EVENT_DEFINED:
        vhg_domain_update(dom, NULL, -2, -1, 1);
        g_signal_emit(dom, signals[SIG_UPDATED], 0);
        break;
    case VHG_EVENT_UNDEFINED:
        vhg_domain_update(dom, NULL, -2, -1, 0);
        break;
    case VHG_EVENT_STARTED:
        vhg_domain_update(dom, NULL, -2, VHG_DOMAIN_STATE_RUNNING, -1);
        g_signal_emit(dom, signals[SIG_STARTED], 0);
        break;
    case VHG_EVENT_SUSPENDED:
        vhg_domain_update(dom, NULL, -2, VHG_DOMAIN_STATE_PAUSED, -1);
        g_signal_emit(dom, signals[SIG_SUSPENDED], 0);
        break;
    case VHG_EVENT_RESUMED:
        vhg_domain_update(dom, NULL, -2, VHG_DOMAIN_STATE_RUNNING, -1);
        g_signal_emit(dom, signals[SIG_RESUMED], 0);
        break;
    case VHG_EVENT_STOPPED:
        vhg_domain_update(dom, NULL, -1, VHG_DOMAIN_STATE_SHUTOFF, -1);
        g_signal_emit(dom, signals[SIG_STOPPED], 0);
        break;
    case VHG_EVENT_CRASHED:
        vhg_domain_update(dom, NULL, -2, VHG_DOMAIN_STATE_CRASHED, -1);
        break;
    default:
        break;
    }
    (void)detail;
}

/**
 * vhg_domain_get_name:
 * @dom: a domain
 *
 * Returns: (transfer none): the name
 */
const char *vhg_domain_get_name(VhgDomain *dom)
{
    g_return_val_if_fail(VHG_IS_DOMAIN(dom), NULL);
    return dom->name;
}

/**
 * vhg_domain_get_uuid:
 * @dom: a domain
 *
 * Returns: (transfer none): the UUID in its text form
 */
const char *vhg_domain_get_uuid(VhgDomain *dom)
{
    g_return_val_if_fail(VHG_IS_DOMAIN(dom), NULL);
    return dom->uuid_str;
}

/**
 * vhg_domain_get_id:
 * @dom: a domain
 *
 * Returns: the id of a running domain, -1 otherwise
 */
int vhg_domain_get_id(VhgDomain *dom)
{
    g_return_val_if_fail(VHG_IS_DOMAIN(dom), -1);
    return dom->id;
}

/**
 * vhg_domain_get_persistent:
 * @dom: a domain
 *
 * Returns: whether the domain is defined (not transient)
 */
gboolean vhg_domain_get_persistent(VhgDomain *dom)
{
    g_return_val_if_fail(VHG_IS_DOMAIN(dom), FALSE);
    return dom->persistent;
}

/**
 * vhg_domain_get_state:
 * @dom: a domain
 *
 * Returns: the state last reported by the server
 */
VhgDomainState vhg_domain_get_state(VhgDomain *dom)
{
    g_return_val_if_fail(VHG_IS_DOMAIN(dom), VHG_DOMAIN_STATE_NONE);
    return dom->state;
}

/* ---- calls ---- */

/*
 * One operation: the procedure, its arguments (the domain, then flags when
 * @with_flags) and a decoder of its reply that updates the domain and
 * produces the result (NULL result: a boolean TRUE).
 */
typedef gpointer (*Decoder)(VhgDomain *dom, VhXdrReader *r, GError **error);

typedef struct {
    Decoder decode;
    GDestroyNotify free_result;
} Op;

static VhRpcClient *client_of(VhgDomain *dom, GError **error)
{
    g_autoptr(VhgConnection) conn = g_weak_ref_get(&dom->conn);

    if (!conn) {
        g_set_error(error, VHG_ERROR, VHG_ERROR_INVALID_CONN,
                    "the connection of domain %s is gone", dom->name);
        return NULL;
    }
    return vhg_connection_get_client(conn, error);
}

VhRpcClient *vhg_domain_get_client(VhgDomain *dom, GError **error)
{
    return client_of(dom, error);
}

static GByteArray *dom_args(VhgDomain *dom, bool with_flags, guint flags)
{
    GByteArray *b = g_byte_array_new();

    vhg_domain_put_wire(dom, b);
    if (with_flags) {
        vh_xdr_put_u32(b, flags);
    }
    return b;
}

static gpointer decode(VhgDomain *dom, const Op *op, GBytes *ret,
                       GError **error)
{
    gsize len;
    const guint8 *d = g_bytes_get_data(ret, &len);
    VhXdrReader r = VH_XDR_READER_INIT(d, len);
    gpointer result = op->decode(dom, &r, error);

    if (result && !vh_xdr_end(&r, error)) {
        if (op->free_result) {
            op->free_result(result);
        }
        return NULL;
    }
    return result;
}

static gpointer call_sync(VhgDomain *dom, guint32 proc, GByteArray *args,
                          const Op *op, GCancellable *cancellable,
                          GError **error)
{
    g_autoptr(GByteArray) a = args;
    g_autoptr(VhRpcClient) c = client_of(dom, error);
    g_autoptr(GBytes) ret = NULL;

    if (!c ||
        !(ret = vh_rpc_client_call_sync(c, VH_REMOTE_PROGRAM, VH_REMOTE_VERSION,
                                        proc, a, cancellable, error))) {
        return NULL;
    }
    return decode(dom, op, ret, error);
}

static void call_done(GObject *source, GAsyncResult *res, gpointer opaque)
{
    g_autoptr(GTask) task = opaque;
    VhgDomain *dom = g_task_get_source_object(task);
    const Op *op = g_task_get_task_data(task);
    GError *err = NULL;
    g_autoptr(GBytes) ret = vh_rpc_client_call_finish(NULL, res, &err);
    gpointer result = ret ? decode(dom, op, ret, &err) : NULL;

    if (result) {
        g_task_return_pointer(task, result, op->free_result);
    } else {
        g_task_return_error(task, err);
    }
}

static void call_async(VhgDomain *dom, guint32 proc, GByteArray *args,
                       const Op *op, gpointer tag, GCancellable *cancellable,
                       GAsyncReadyCallback callback, gpointer user_data)
{
    g_autoptr(GByteArray) a = args;
    GTask *task = g_task_new(dom, cancellable, callback, user_data);
    GError *err = NULL;
    g_autoptr(VhRpcClient) c = client_of(dom, &err);

    g_task_set_source_tag(task, tag);
    g_task_set_task_data(task, (gpointer)op, NULL);
    if (!c) {
        g_task_return_error(task, err);
        g_object_unref(task);
        return;
    }
    vh_rpc_client_call_async(c, VH_REMOTE_PROGRAM, VH_REMOTE_VERSION, proc, a,
                             cancellable, call_done, task);
}

static gpointer finish(VhgDomain *dom, GAsyncResult *result, gpointer tag,
                       GError **error)
{
    g_return_val_if_fail(g_task_is_valid(result, dom), NULL);
    g_return_val_if_fail(g_task_get_source_tag(G_TASK(result)) == tag, NULL);
    return g_task_propagate_pointer(G_TASK(result), error);
}

static gboolean finish_bool(VhgDomain *dom, GAsyncResult *result, gpointer tag,
                            GError **error)
{
    return finish(dom, result, tag, error) != NULL;
}

/* Replies and what they tell about the state. */
#define DONE ((gpointer)1)

static gpointer dec_void(VhgDomain *dom, VhXdrReader *r, GError **error)
{
    return DONE;
}

static gpointer dec_started(VhgDomain *dom, VhXdrReader *r, GError **error)
{
    g_autofree char *name = NULL;
    guint8 uuid[VH_REMOTE_UUID_LEN];
    gint32 id;

    if (!vh_remote_get_domain(r, &name, uuid, &id, error)) {
        return NULL;
    }
    vhg_domain_update(dom, NULL, id, VHG_DOMAIN_STATE_RUNNING, -1);
    return DONE;
}

static gpointer dec_stopped(VhgDomain *dom, VhXdrReader *r, GError **error)
{
    vhg_domain_update(dom, NULL, -1, VHG_DOMAIN_STATE_SHUTOFF, -1);
    return DONE;
}

static gpointer dec_paused(VhgDomain *dom, VhXdrReader *r, GError **error)
{
    vhg_domain_update(dom, NULL, -2, VHG_DOMAIN_STATE_PAUSED, -1);
    return DONE;
}

static gpointer dec_running(VhgDomain *dom, VhXdrReader *r, GError **error)
{
    vhg_domain_update(dom, NULL, -2, VHG_DOMAIN_STATE_RUNNING, -1);
    return DONE;
}

static gpointer dec_undefined(VhgDomain *dom, VhXdrReader *r, GError **error)
{
    g_autoptr(VhgConnection) conn = g_weak_ref_get(&dom->conn);

    vhg_domain_update(dom, NULL, -2, -1, 0);
    if (conn && dom->id < 0) {
        vhg_connection_forget_domain(conn, dom);
    }
    return DONE;
}

/* DOMAIN_GET_INFO: {unsigned char state; unsigned hyper maxMem, memory;
 * unsigned short nrVirtCpu; unsigned hyper cpuTime} */
static gpointer dec_info(VhgDomain *dom, VhXdrReader *r, GError **error)
{
    VhgDomainInfo info;
    guint32 state, ncpu;

    if (!vh_xdr_get_u32(r, &state, error) ||
        !vh_xdr_get_u64(r, &info.max_mem, error) ||
        !vh_xdr_get_u64(r, &info.memory, error) ||
        !vh_xdr_get_u32(r, &ncpu, error) ||
        !vh_xdr_get_u64(r, &info.cpu_time, error)) {
        return NULL;
    }
    info.state = state;
    info.nr_virt_cpu = ncpu;
    vhg_domain_update(dom, NULL, -2, state, -1);
    return vhg_domain_info_copy(&info);
}

static gpointer dec_config(VhgDomain *dom, VhXdrReader *r, GError **error)
{
    g_autofree char *xml = NULL;

    if (!vh_xdr_get_string(r, 0, &xml, error)) {
        return NULL;
    }
    return vhg_config_domain_new_from_xml(xml, error);
}

static gpointer dec_defined(VhgDomain *dom, VhXdrReader *r, GError **error)
{
    g_autofree char *name = NULL;
    guint8 uuid[VH_REMOTE_UUID_LEN];
    gint32 id;

    if (!vh_remote_get_domain(r, &name, uuid, &id, error)) {
        return NULL;
    }
    vhg_domain_update(dom, name, -2, -1, 1);
    return DONE;
}

static const Op op_start = {dec_started, NULL};
static const Op op_stop = {dec_stopped, NULL};
static const Op op_shutdown = {dec_void, NULL};
static const Op op_suspend = {dec_paused, NULL};
static const Op op_resume = {dec_running, NULL};
static const Op op_undefine = {dec_undefined, NULL};
static const Op op_info = {dec_info, (GDestroyNotify)vhg_domain_info_free};
static const Op op_config = {dec_config, g_object_unref};
static const Op op_define = {dec_defined, NULL};

/* stop and shutdown: the older procedures when there are no flags */
static guint32 stop_proc(guint flags)
{
    return flags ? VH_REMOTE_PROC_DOMAIN_DESTROY_FLAGS
                 : VH_REMOTE_PROC_DOMAIN_DESTROY;
}

static guint32 shutdown_proc(guint flags)
{
    return flags ? VH_REMOTE_PROC_DOMAIN_SHUTDOWN_FLAGS
                 : VH_REMOTE_PROC_DOMAIN_SHUTDOWN;
}

/**
 * vhg_domain_start:
 * @dom: a domain
 * @flags: libvirt's virDomainCreateFlags (0: none)
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Starts a defined domain, blocking.
 *
 * Returns: whether it started
 */
gboolean vhg_domain_start(VhgDomain *dom, guint flags,
                          GCancellable *cancellable, GError **error)
{
    g_return_val_if_fail(VHG_IS_DOMAIN(dom), FALSE);
    return call_sync(dom, PROC_CREATE_WITH_FLAGS, dom_args(dom, true, flags),
                     &op_start, cancellable, error) != NULL;
}

/**
 * vhg_domain_start_async:
 * @dom: a domain
 * @flags: libvirt's virDomainCreateFlags (0: none)
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when done
 * @user_data: data for @callback
 *
 * vhg_domain_start() without blocking.
 */
void vhg_domain_start_async(VhgDomain *dom, guint flags,
                            GCancellable *cancellable,
                            GAsyncReadyCallback callback, gpointer user_data)
{
    g_return_if_fail(VHG_IS_DOMAIN(dom));
    call_async(dom, PROC_CREATE_WITH_FLAGS, dom_args(dom, true, flags),
               &op_start, vhg_domain_start_async, cancellable, callback,
               user_data);
}

/**
 * vhg_domain_start_finish:
 * @dom: a domain
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Returns: whether it started
 */
gboolean vhg_domain_start_finish(VhgDomain *dom, GAsyncResult *result,
                                 GError **error)
{
    return finish_bool(dom, result, vhg_domain_start_async, error);
}

/**
 * vhg_domain_stop:
 * @dom: a domain
 * @flags: libvirt's virDomainDestroyFlags (0: none)
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Stops a running domain at once (libvirt's destroy), blocking.
 *
 * Returns: whether it stopped
 */
gboolean vhg_domain_stop(VhgDomain *dom, guint flags, GCancellable *cancellable,
                         GError **error)
{
    g_return_val_if_fail(VHG_IS_DOMAIN(dom), FALSE);
    return call_sync(dom, stop_proc(flags), dom_args(dom, flags, flags),
                     &op_stop, cancellable, error) != NULL;
}

/**
 * vhg_domain_stop_async:
 * @dom: a domain
 * @flags: libvirt's virDomainDestroyFlags (0: none)
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when done
 * @user_data: data for @callback
 *
 * vhg_domain_stop() without blocking.
 */
void vhg_domain_stop_async(VhgDomain *dom, guint flags,
                           GCancellable *cancellable,
                           GAsyncReadyCallback callback, gpointer user_data)
{
    g_return_if_fail(VHG_IS_DOMAIN(dom));
    call_async(dom, stop_proc(flags), dom_args(dom, flags, flags), &op_stop,
               vhg_domain_stop_async, cancellable, callback, user_data);
}

/**
 * vhg_domain_stop_finish:
 * @dom: a domain
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Returns: whether it stopped
 */
gboolean vhg_domain_stop_finish(VhgDomain *dom, GAsyncResult *result,
                                GError **error)
{
    return finish_bool(dom, result, vhg_domain_stop_async, error);
}

/**
 * vhg_domain_shutdown:
 * @dom: a domain
 * @flags: libvirt's virDomainShutdownFlagValues (0: the default)
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Asks the guest to power off, blocking until the server accepted the
 * request (the domain stops later, see #VhgDomain::stopped).
 *
 * Returns: whether the request was accepted
 */
gboolean vhg_domain_shutdown(VhgDomain *dom, guint flags,
                             GCancellable *cancellable, GError **error)
{
    g_return_val_if_fail(VHG_IS_DOMAIN(dom), FALSE);
    return call_sync(dom, shutdown_proc(flags), dom_args(dom, flags, flags),
                     &op_shutdown, cancellable, error) != NULL;
}

/**
 * vhg_domain_shutdown_async:
 * @dom: a domain
 * @flags: libvirt's virDomainShutdownFlagValues (0: the default)
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when done
 * @user_data: data for @callback
 *
 * vhg_domain_shutdown() without blocking.
 */
void vhg_domain_shutdown_async(VhgDomain *dom, guint flags,
                               GCancellable *cancellable,
                               GAsyncReadyCallback callback, gpointer user_data)
{
    g_return_if_fail(VHG_IS_DOMAIN(dom));
    call_async(dom, shutdown_proc(flags), dom_args(dom, flags, flags),
               &op_shutdown, vhg_domain_shutdown_async, cancellable, callback,
               user_data);
}

/**
 * vhg_domain_shutdown_finish:
 * @dom: a domain
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Returns: whether the request was accepted
 */
gboolean vhg_domain_shutdown_finish(VhgDomain *dom, GAsyncResult *result,
                                    GError **error)
{
    return finish_bool(dom, result, vhg_domain_shutdown_async, error);
}

/**
 * vhg_domain_suspend:
 * @dom: a domain
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Pauses a running domain, blocking.
 *
 * Returns: whether it is paused
 */
gboolean vhg_domain_suspend(VhgDomain *dom, GCancellable *cancellable,
                            GError **error)
{
    g_return_val_if_fail(VHG_IS_DOMAIN(dom), FALSE);
    return call_sync(dom, VH_REMOTE_PROC_DOMAIN_SUSPEND,
                     dom_args(dom, false, 0), &op_suspend, cancellable,
                     error) != NULL;
}

/**
 * vhg_domain_suspend_async:
 * @dom: a domain
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when done
 * @user_data: data for @callback
 *
 * vhg_domain_suspend() without blocking.
 */
void vhg_domain_suspend_async(VhgDomain *dom, GCancellable *cancellable,
                              GAsyncReadyCallback callback, gpointer user_data)
{
    g_return_if_fail(VHG_IS_DOMAIN(dom));
    call_async(dom, VH_REMOTE_PROC_DOMAIN_SUSPEND, dom_args(dom, false, 0),
               &op_suspend, vhg_domain_suspend_async, cancellable, callback,
               user_data);
}

/**
 * vhg_domain_suspend_finish:
 * @dom: a domain
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Returns: whether it is paused
 */
gboolean vhg_domain_suspend_finish(VhgDomain *dom, GAsyncResult *result,
                                   GError **error)
{
    return finish_bool(dom, result, vhg_domain_suspend_async, error);
}

/**
 * vhg_domain_resume:
 * @dom: a domain
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Resumes a paused domain, blocking.
 *
 * Returns: whether it runs again
 */
gboolean vhg_domain_resume(VhgDomain *dom, GCancellable *cancellable,
                           GError **error)
{
    g_return_val_if_fail(VHG_IS_DOMAIN(dom), FALSE);
    return call_sync(dom, VH_REMOTE_PROC_DOMAIN_RESUME, dom_args(dom, false, 0),
                     &op_resume, cancellable, error) != NULL;
}

/**
 * vhg_domain_resume_async:
 * @dom: a domain
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when done
 * @user_data: data for @callback
 *
 * vhg_domain_resume() without blocking.
 */
void vhg_domain_resume_async(VhgDomain *dom, GCancellable *cancellable,
                             GAsyncReadyCallback callback, gpointer user_data)
{
    g_return_if_fail(VHG_IS_DOMAIN(dom));
    call_async(dom, VH_REMOTE_PROC_DOMAIN_RESUME, dom_args(dom, false, 0),
               &op_resume, vhg_domain_resume_async, cancellable, callback,
               user_data);
}

/**
 * vhg_domain_resume_finish:
 * @dom: a domain
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Returns: whether it runs again
 */
gboolean vhg_domain_resume_finish(VhgDomain *dom, GAsyncResult *result,
                                  GError **error)
{
    return finish_bool(dom, result, vhg_domain_resume_async, error);
}

/**
 * vhg_domain_undefine:
 * @dom: a domain
 * @flags: libvirt's virDomainUndefineFlagsValues (0: none)
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Removes the domain's persistent configuration, blocking. A shut off
 * domain is then gone (#VhgConnection::domain-removed); a running one
 * becomes transient.
 *
 * Returns: whether it was undefined
 */
gboolean vhg_domain_undefine(VhgDomain *dom, guint flags,
                             GCancellable *cancellable, GError **error)
{
    g_return_val_if_fail(VHG_IS_DOMAIN(dom), FALSE);
    return call_sync(dom, VH_REMOTE_PROC_DOMAIN_UNDEFINE_FLAGS,
                     dom_args(dom, true, flags), &op_undefine, cancellable,
                     error) != NULL;
}

/**
 * vhg_domain_undefine_async:
 * @dom: a domain
 * @flags: libvirt's virDomainUndefineFlagsValues (0: none)
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when done
 * @user_data: data for @callback
 *
 * vhg_domain_undefine() without blocking.
 */
void vhg_domain_undefine_async(VhgDomain *dom, guint flags,
                               GCancellable *cancellable,
                               GAsyncReadyCallback callback, gpointer user_data)
{
    g_return_if_fail(VHG_IS_DOMAIN(dom));
    call_async(dom, VH_REMOTE_PROC_DOMAIN_UNDEFINE_FLAGS,
               dom_args(dom, true, flags), &op_undefine,
               vhg_domain_undefine_async, cancellable, callback, user_data);
}

/**
 * vhg_domain_undefine_finish:
 * @dom: a domain
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Returns: whether it was undefined
 */
gboolean vhg_domain_undefine_finish(VhgDomain *dom, GAsyncResult *result,
                                    GError **error)
{
    return finish_bool(dom, result, vhg_domain_undefine_async, error);
}

/**
 * vhg_domain_get_info:
 * @dom: a domain
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Asks the server for the domain's state, memory, CPUs and CPU time,
 * blocking (and updates #VhgDomain:state).
 *
 * Returns: (transfer full): the information, or %NULL on error
 */
VhgDomainInfo *vhg_domain_get_info(VhgDomain *dom, GCancellable *cancellable,
                                   GError **error)
{
    g_return_val_if_fail(VHG_IS_DOMAIN(dom), NULL);
    return call_sync(dom, VH_REMOTE_PROC_DOMAIN_GET_INFO,
                     dom_args(dom, false, 0), &op_info, cancellable, error);
}

/**
 * vhg_domain_get_info_async:
 * @dom: a domain
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when done
 * @user_data: data for @callback
 *
 * vhg_domain_get_info() without blocking.
 */
void vhg_domain_get_info_async(VhgDomain *dom, GCancellable *cancellable,
                               GAsyncReadyCallback callback, gpointer user_data)
{
    g_return_if_fail(VHG_IS_DOMAIN(dom));
    call_async(dom, VH_REMOTE_PROC_DOMAIN_GET_INFO, dom_args(dom, false, 0),
               &op_info, vhg_domain_get_info_async, cancellable, callback,
               user_data);
}

/**
 * vhg_domain_get_info_finish:
 * @dom: a domain
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the information, or %NULL on error
 */
VhgDomainInfo *vhg_domain_get_info_finish(VhgDomain *dom, GAsyncResult *result,
                                          GError **error)
{
    return finish(dom, result, vhg_domain_get_info_async, error);
}

/**
 * vhg_domain_get_config:
 * @dom: a domain
 * @flags: libvirt's virDomainXMLFlags (0: the live document; 2: inactive)
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * The domain's XML document, blocking.
 *
 * Returns: (transfer full): the configuration, or %NULL on error
 */
VhgConfigDomain *vhg_domain_get_config(VhgDomain *dom, guint flags,
                                       GCancellable *cancellable,
                                       GError **error)
{
    g_return_val_if_fail(VHG_IS_DOMAIN(dom), NULL);
    return call_sync(dom, VH_REMOTE_PROC_DOMAIN_GET_XML_DESC,
                     dom_args(dom, true, flags), &op_config, cancellable,
                     error);
}

/**
 * vhg_domain_get_config_async:
 * @dom: a domain
 * @flags: libvirt's virDomainXMLFlags
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when done
 * @user_data: data for @callback
 *
 * vhg_domain_get_config() without blocking.
 */
void vhg_domain_get_config_async(VhgDomain *dom, guint flags,
                                 GCancellable *cancellable,
                                 GAsyncReadyCallback callback,
                                 gpointer user_data)
{
    g_return_if_fail(VHG_IS_DOMAIN(dom));
    call_async(dom, VH_REMOTE_PROC_DOMAIN_GET_XML_DESC,
               dom_args(dom, true, flags), &op_config,
               vhg_domain_get_config_async, cancellable, callback, user_data);
}

/**
 * vhg_domain_get_config_finish:
 * @dom: a domain
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the configuration, or %NULL on error
 */
VhgConfigDomain *vhg_domain_get_config_finish(VhgDomain *dom,
                                              GAsyncResult *result,
                                              GError **error)
{
    return finish(dom, result, vhg_domain_get_config_async, error);
}

/* DEFINE_XML's argument for @conf, or NULL when it is another domain's. */
static GByteArray *config_args(VhgDomain *dom, VhgConfigDomain *conf,
                               GError **error)
{
    g_autofree char *xml = NULL;
    GByteArray *args;

    if (g_strcmp0(vhg_config_domain_get_uuid(conf), dom->uuid_str) != 0) {
        g_set_error(error, VHG_ERROR, VHG_ERROR_INVALID_ARG,
                    "the configuration's UUID %s is not domain %s's (%s)",
                    vhg_config_domain_get_uuid(conf), dom->name, dom->uuid_str);
        return NULL;
    }
    xml = vhg_config_domain_format(conf);
    args = g_byte_array_new();
    vh_xdr_put_string(args, xml);
    return args;
}

/**
 * vhg_domain_set_config:
 * @dom: a domain
 * @conf: the new configuration
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Defines the domain again from @conf (which must keep its name and
 * UUID), blocking. A running domain uses it from its next start.
 *
 * Returns: whether the configuration was accepted
 */
gboolean vhg_domain_set_config(VhgDomain *dom, VhgConfigDomain *conf,
                               GCancellable *cancellable, GError **error)
{
    GByteArray *args;

    g_return_val_if_fail(VHG_IS_DOMAIN(dom), FALSE);
    g_return_val_if_fail(VHG_IS_CONFIG_DOMAIN(conf), FALSE);
    args = config_args(dom, conf, error);
    return args && call_sync(dom, VH_REMOTE_PROC_DOMAIN_DEFINE_XML, args,
                             &op_define, cancellable, error) != NULL;
}

/**
 * vhg_domain_set_config_async:
 * @dom: a domain
 * @conf: the new configuration
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when done
 * @user_data: data for @callback
 *
 * vhg_domain_set_config() without blocking.
 */
void vhg_domain_set_config_async(VhgDomain *dom, VhgConfigDomain *conf,
                                 GCancellable *cancellable,
                                 GAsyncReadyCallback callback,
                                 gpointer user_data)
{
    GError *err = NULL;
    GByteArray *args;

    g_return_if_fail(VHG_IS_DOMAIN(dom));
    g_return_if_fail(VHG_IS_CONFIG_DOMAIN(conf));
    args = config_args(dom, conf, &err);
    if (!args) {
        g_task_report_error(dom, callback, user_data,
                            vhg_domain_set_config_async, err);
        return;
    }
    call_async(dom, VH_REMOTE_PROC_DOMAIN_DEFINE_XML, args, &op_define,
               vhg_domain_set_config_async, cancellable, callback, user_data);
}

/**
 * vhg_domain_set_config_finish:
 * @dom: a domain
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Returns: whether the configuration was accepted
 */
gboolean vhg_domain_set_config_finish(VhgDomain *dom, GAsyncResult *result,
                                      GError **error)
{
    g_return_val_if_fail(g_task_is_valid(result, dom), FALSE);
    return g_task_propagate_pointer(G_TASK(result), error) != NULL;
}

/**
 * vhg_domain_open_console:
 * @dom: a running domain
 * @devname: (nullable): the console or serial device's alias, or %NULL for
 *   the first one
 * @flags: libvirt's virDomainConsoleFlags (1: force, taking the console
 *   from another user)
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Opens the domain's console over the connection (the protocol's
 * OPEN_CONSOLE stream), blocking until the server accepted. What the guest
 * writes is read from the stream's input; what is written to its output
 * goes to the guest. Reads block until data arrive or the console ends
 * (end of file); they may also be made asynchronously. Closing the stream
 * ends the console session.
 *
 * Returns: (transfer full): the console stream, or %NULL on error
 */
GIOStream *vhg_domain_open_console(VhgDomain *dom, const char *devname,
                                   guint flags, GCancellable *cancellable,
                                   GError **error)
{
    g_autoptr(GByteArray) args = NULL;
    g_autoptr(VhRpcClient) c = NULL;

    g_return_val_if_fail(VHG_IS_DOMAIN(dom), NULL);
    c = client_of(dom, error);
    if (!c) {
        return NULL;
    }
    args = g_byte_array_new();
    vhg_domain_put_wire(dom, args);
    vh_xdr_put_opt_string(args, devname);
    vh_xdr_put_u32(args, flags);
    return vhg_console_open(c, args, cancellable, error);
}

typedef struct {
    char *devname;
    guint flags;
} ConsoleArgs;

static void console_args_free(gpointer p)
{
    ConsoleArgs *a = p;

    g_free(a->devname);
    g_free(a);
}

static void console_thread(GTask *task, gpointer source, gpointer data,
                           GCancellable *cancellable)
{
    ConsoleArgs *a = data;
    GError *err = NULL;
    GIOStream *io = vhg_domain_open_console(source, a->devname, a->flags,
                                            cancellable, &err);

    if (io) {
        g_task_return_pointer(task, io, g_object_unref);
    } else {
        g_task_return_error(task, err);
    }
}

/**
 * vhg_domain_open_console_async:
 * @dom: a running domain
 * @devname: (nullable): the device's alias, or %NULL for the first one
 * @flags: libvirt's virDomainConsoleFlags
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called with the console
 * @user_data: data for @callback
 *
 * vhg_domain_open_console() without blocking.
 */
void vhg_domain_open_console_async(VhgDomain *dom, const char *devname,
                                   guint flags, GCancellable *cancellable,
                                   GAsyncReadyCallback callback,
                                   gpointer user_data)
{
    g_autoptr(GTask) task = g_task_new(dom, cancellable, callback, user_data);
    ConsoleArgs *a = g_new0(ConsoleArgs, 1);

    g_return_if_fail(VHG_IS_DOMAIN(dom));
    a->devname = g_strdup(devname);
    a->flags = flags;
    g_task_set_source_tag(task, vhg_domain_open_console_async);
    g_task_set_task_data(task, a, console_args_free);
    g_task_run_in_thread(task, console_thread);
}

/**
 * vhg_domain_open_console_finish:
 * @dom: a domain
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the console stream, or %NULL on error
 */
GIOStream *vhg_domain_open_console_finish(VhgDomain *dom, GAsyncResult *result,
                                          GError **error)
{
    g_return_val_if_fail(g_task_is_valid(result, dom), NULL);
    return g_task_propagate_pointer(G_TASK(result), error);
}
