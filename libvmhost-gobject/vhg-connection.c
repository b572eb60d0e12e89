/*
 * VhgConnection: opening (URI, certificates, TLS, the protocol's opening
 * calls), the domain cache, lifecycle events, the end of the connection.
 */
#include "vhg-private.h"

#include <gio/gunixsocketaddress.h>
#include <unistd.h>

#include "vmhost/crypto/tls-creds-x509.h"
#include "vmhost/io/address.h"
#include "vmhost/io/channel-socket.h"
#include "vmhost/io/channel-tls.h"

#define DEFAULT_CALL_TIMEOUT_MS 60000
#define KEEPALIVE_INTERVAL_MS   5000
#define KEEPALIVE_COUNT         5
#define EVENT_ID_LIFECYCLE      0
#define FEATURE_KEEPALIVE       10

struct _VhgConnection {
    GObject parent;
    char *uri;
    guint call_timeout_ms;
    GMainContext *ctx; /* where signals are emitted (set by open) */

    GMutex lock; /* client, domains */
    VhRpcClient *client;
    GHashTable *domains; /* uuid string -> VhgDomain (a reference) */
};

G_DEFINE_TYPE(VhgConnection, vhg_connection, G_TYPE_OBJECT)

enum { PROP_0, PROP_URI, N_PROPS };
static GParamSpec *props[N_PROPS];

enum { SIG_DOMAIN_ADDED, SIG_DOMAIN_REMOVED, SIG_CLOSED, N_SIGNALS };
static guint signals[N_SIGNALS];

/* ---- GObject ---- */

static void vhg_connection_init(VhgConnection *conn)
{
    g_mutex_init(&conn->lock);
    conn->call_timeout_ms = DEFAULT_CALL_TIMEOUT_MS;
    conn->domains =
        g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_object_unref);
}

static void vhg_connection_dispose(GObject *obj)
{
    VhgConnection *conn = VHG_CONNECTION(obj);
    VhRpcClient *client;

    g_mutex_lock(&conn->lock);
    client = g_steal_pointer(&conn->client);
    g_hash_table_remove_all(conn->domains);
    g_mutex_unlock(&conn->lock);
    vh_rpc_client_unref(client);
    G_OBJECT_CLASS(vhg_connection_parent_class)->dispose(obj);
}

static void vhg_connection_finalize(GObject *obj)
{
    VhgConnection *conn = VHG_CONNECTION(obj);

    g_free(conn->uri);
    g_hash_table_unref(conn->domains);
    g_clear_pointer(&conn->ctx, g_main_context_unref);
    g_mutex_clear(&conn->lock);
    G_OBJECT_CLASS(vhg_connection_parent_class)->finalize(obj);
}

static void vhg_connection_get_property(GObject *obj, guint id, GValue *value,
                                        GParamSpec *pspec)
{
    VhgConnection *conn = VHG_CONNECTION(obj);

    switch (id) {
    case PROP_URI:
        g_value_set_string(value, conn->uri);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, id, pspec);
    }
}

static void vhg_connection_set_property(GObject *obj, guint id,
                                        const GValue *value, GParamSpec *pspec)
{
    VhgConnection *conn = VHG_CONNECTION(obj);

    switch (id) {
    case PROP_URI:
        g_free(conn->uri);
        conn->uri = g_value_dup_string(value);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, id, pspec);
    }
}

static void vhg_connection_class_init(VhgConnectionClass *klass)
{
    GObjectClass *oc = G_OBJECT_CLASS(klass);

    oc->dispose = vhg_connection_dispose;
    oc->finalize = vhg_connection_finalize;
    oc->get_property = vhg_connection_get_property;
    oc->set_property = vhg_connection_set_property;

    /**
     * VhgConnection:uri:
     *
     * The URI the connection opens, as libvirt's clients take it.
     */
    props[PROP_URI] = g_param_spec_string(
        "uri", NULL, NULL, NULL,
        G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
    g_object_class_install_properties(oc, N_PROPS, props);

    /**
     * VhgConnection::domain-added:
     * @conn: the connection
     * @dom: the new domain
     *
     * A domain appeared: defined or created through this connection or
     * (from the server's lifecycle events) by anyone else.
     */
    signals[SIG_DOMAIN_ADDED] = g_signal_new(
        "domain-added", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL,
        NULL, NULL, G_TYPE_NONE, 1, VHG_TYPE_DOMAIN);
    /**
     * VhgConnection::domain-removed:
     * @conn: the connection
     * @dom: the domain that is gone
     *
     * A domain is gone: undefined while shut off, or a transient domain
     * stopped.
     */
    signals[SIG_DOMAIN_REMOVED] = g_signal_new(
        "domain-removed", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL,
        NULL, NULL, G_TYPE_NONE, 1, VHG_TYPE_DOMAIN);
    /**
     * VhgConnection::closed:
     * @conn: the connection
     * @reason: why, as a sentence
     *
     * The connection ended: closed by vhg_connection_close(), by the
     * server, or by an I/O, protocol or keepalive failure. Every call that
     * was pending has failed.
     */
    signals[SIG_CLOSED] =
        g_signal_new("closed", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0,
                     NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
}

/**
 * vhg_connection_new:
 * @uri: a URI such as `vmhost+tls://host/system` or
 *   `test+unix:///default?socket=/path`
 *
 * A connection object; nothing happens on the network until
 * vhg_connection_open().
 *
 * Returns: (transfer full): the new connection
 */
VhgConnection *vhg_connection_new(const char *uri)
{
    return g_object_new(VHG_TYPE_CONNECTION, "uri", uri, NULL);
}

/**
 * vhg_connection_get_uri:
 * @conn: a connection
 *
 * Returns: (transfer none): the URI
 */
const char *vhg_connection_get_uri(VhgConnection *conn)
{
    g_return_val_if_fail(VHG_IS_CONNECTION(conn), NULL);
    return conn->uri;
}

/**
 * vhg_connection_set_call_timeout:
 * @conn: a connection
 * @timeout_ms: milliseconds, 0 for none
 *
 * How long a call may wait for its reply before it fails with
 * %VHG_ERROR_OPERATION_TIMEOUT (default 60 s). Takes effect at the next
 * vhg_connection_open().
 */
void vhg_connection_set_call_timeout(VhgConnection *conn, guint timeout_ms)
{
    g_return_if_fail(VHG_IS_CONNECTION(conn));
    conn->call_timeout_ms = timeout_ms;
}

/**
 * vhg_connection_get_call_timeout:
 * @conn: a connection
 *
 * Returns: the call timeout in milliseconds (0: none)
 */
guint vhg_connection_get_call_timeout(VhgConnection *conn)
{
    g_return_val_if_fail(VHG_IS_CONNECTION(conn), 0);
    return conn->call_timeout_ms;
}

/**
 * vhg_connection_is_open:
 * @conn: a connection
 *
 * Returns: whether the connection is open and has not ended
 */
gboolean vhg_connection_is_open(VhgConnection *conn)
{
    g_return_val_if_fail(VHG_IS_CONNECTION(conn), FALSE);
    g_mutex_lock(&conn->lock);
    gboolean open = conn->client && !vh_rpc_client_is_closed(conn->client);
    g_mutex_unlock(&conn->lock);
    return open;
}

VhRpcClient *vhg_connection_get_client(VhgConnection *conn, GError **error)
{
    VhRpcClient *c = NULL;

    g_mutex_lock(&conn->lock);
    if (conn->client) {
        c = vh_rpc_client_ref(conn->client);
    }
    g_mutex_unlock(&conn->lock);
    if (!c) {
        g_set_error(error, VHG_ERROR, VHG_ERROR_INVALID_CONN,
                    "the connection to %s is not open", conn->uri);
    }
    return c;
}

/* ---- the domain cache ---- */

VhgDomain *vhg_connection_get_domain(VhgConnection *conn, const char *name,
                                     const guint8 *uuid, int id)
{
    g_autofree char *key = vh_domain_uuid_format(uuid);
    VhgDomain *dom;
    bool added = false;

    g_mutex_lock(&conn->lock);
    dom = g_hash_table_lookup(conn->domains, key);
    if (dom) {
        g_object_ref(dom);
    } else {
        dom = vhg_domain_new_internal(conn, name, uuid, id);
        g_hash_table_insert(conn->domains, g_steal_pointer(&key),
                            g_object_ref(dom));
        added = true;
    }
    g_mutex_unlock(&conn->lock);
    if (added) {
        g_signal_emit(conn, signals[SIG_DOMAIN_ADDED], 0, dom);
    }
    return dom;
}

void vhg_connection_forget_domain(VhgConnection *conn, VhgDomain *dom)
{
    bool removed;

    g_object_ref(dom);
    g_mutex_lock(&conn->lock);
    removed = g_hash_table_remove(conn->domains, vhg_domain_get_uuid(dom));
    g_mutex_unlock(&conn->lock);
    if (removed) {
        g_signal_emit(conn, signals[SIG_DOMAIN_REMOVED], 0, dom);
    }
    g_object_unref(dom);
}

/**
 * vhg_connection_get_domains:
 * @conn: a connection
 *
 * The domains known from the last vhg_connection_fetch_domains() and the
 * lifecycle events since.
 *
 * Returns: (transfer full) (element-type VhgDomain): the domains
 */
GList *vhg_connection_get_domains(VhgConnection *conn)
{
    GList *list;

    g_return_val_if_fail(VHG_IS_CONNECTION(conn), NULL);
    g_mutex_lock(&conn->lock);
    list = g_hash_table_get_values(conn->domains);
    g_list_foreach(list, (GFunc)(void (*)(void))g_object_ref, NULL);
    g_mutex_unlock(&conn->lock);
    return list;
}

/**
 * vhg_connection_find_domain_by_name:
 * @conn: a connection
 * @name: a domain name
 *
 * Looks in the known domains (see vhg_connection_get_domains()).
 *
 * Returns: (transfer full) (nullable): the domain, or %NULL
 */
VhgDomain *vhg_connection_find_domain_by_name(VhgConnection *conn,
                                              const char *name)
{
    GHashTableIter it;
    gpointer value;
    VhgDomain *found = NULL;

    g_return_val_if_fail(VHG_IS_CONNECTION(conn), NULL);
    g_mutex_lock(&conn->lock);
    g_hash_table_iter_init(&it, conn->domains);
    while (!found && g_hash_table_iter_next(&it, NULL, &value)) {
        if (g_strcmp0(vhg_domain_get_name(value), name) == 0) {
            found = g_object_ref(value);
        }
    }
    g_mutex_unlock(&conn->lock);
    return found;
}

/**
 * vhg_connection_find_domain_by_uuid:
 * @conn: a connection
 * @uuid: a UUID in its text form
 *
 * Returns: (transfer full) (nullable): the domain, or %NULL
 */
VhgDomain *vhg_connection_find_domain_by_uuid(VhgConnection *conn,
                                              const char *uuid)
{
    VhgDomain *dom;

    g_return_val_if_fail(VHG_IS_CONNECTION(conn), NULL);
    g_mutex_lock(&conn->lock);
    dom = g_hash_table_lookup(conn->domains, uuid);
    if (dom) {
        g_object_ref(dom);
    }
    g_mutex_unlock(&conn->lock);
    return dom;
}

/* ---- events ---- */

static void handle_lifecycle(VhgConnection *conn, VhXdrReader *r)
{
    g_autofree char *name = NULL;
    guint8 uuid[VH_REMOTE_UUID_LEN];
    gint32 id, event, detail;
    g_autoptr(GError) err = NULL;
    g_autoptr(VhgDomain) dom = NULL;
    g_autofree char *key = NULL;

    if (!vh_remote_get_domain(r, &name, uuid, &id, &err) ||
        !vh_xdr_get_i32(r, &event, &err) || !vh_xdr_get_i32(r, &detail, &err)) {
        g_warning("%s: malformed lifecycle event: %s", conn->uri, err->message);
        return;
    }
    key = vh_domain_uuid_format(uuid);
    dom = vhg_connection_find_domain_by_uuid(conn, key);
    if (!dom) {
        if (event == VHG_EVENT_UNDEFINED || event == VHG_EVENT_STOPPED) {
            return;
        }
        dom = vhg_connection_get_domain(conn, name, uuid, id);
    }
    vhg_domain_update(dom, name, id, -1, -1);
    vhg_domain_handle_event(dom, event, detail);
    if ((event == VHG_EVENT_UNDEFINED &&
         vhg_domain_get_state(dom) == VHG_DOMAIN_STATE_SHUTOFF) ||
        (event == VHG_EVENT_STOPPED && !vhg_domain_get_persistent(dom))) {
        vhg_connection_forget_domain(conn, dom);
    }
}

/* MESSAGE packets, in conn->ctx; @opaque is a GWeakRef to the connection. */
static void on_message(const VhRpcHeader *hdr, GBytes *body, gpointer opaque)
{
    g_autoptr(VhgConnection) conn = g_weak_ref_get(opaque);
    gsize len;
    const guint8 *data = g_bytes_get_data(body, &len);
    VhXdrReader r = VH_XDR_READER_INIT(data, len);
    gint32 callback_id;

    if (!conn || hdr->prog != VH_REMOTE_PROGRAM) {
        return;
    }
    switch (hdr->proc) {
    case VH_REMOTE_PROC_DOMAIN_EVENT_CALLBACK_LIFECYCLE:
        if (vh_xdr_get_i32(&r, &callback_id, NULL)) {
            handle_lifecycle(conn, &r);
        }
        break;
    case VH_REMOTE_PROC_DOMAIN_EVENT_LIFECYCLE:
        handle_lifecycle(conn, &r);
        break;
    default:
        g_debug("%s: ignoring event procedure %u", conn->uri, hdr->proc);
        break;
    }
}

static void on_closed(const GError *reason, gpointer opaque)
{
    g_autoptr(VhgConnection) conn = g_weak_ref_get(opaque);

    if (conn) {
        g_signal_emit(conn, signals[SIG_CLOSED], 0, reason->message);
    }
}

static void weak_ref_free(gpointer opaque)
{
    g_weak_ref_clear(opaque);
    g_free(opaque);
}

/* ---- opening ---- */

/* libvirt's client certificate locations (see the header). */
static VhTlsCreds *load_creds(const VhgUri *u, GError **error)
{
    g_autofree char *ca = NULL, *cert = NULL, *key = NULL;

    if (u->pkipath) {
        ca = g_build_filename(u->pkipath, "cacert.pem", NULL);
        cert = g_build_filename(u->pkipath, "clientcert.pem", NULL);
        key = g_build_filename(u->pkipath, "clientkey.pem", NULL);
    } else {
        g_autofree char *dir =
            g_build_filename(g_get_home_dir(), ".pki", "libvirt", NULL);
        g_autofree char *uca = g_build_filename(dir, "cacert.pem", NULL);
        g_autofree char *ucert = g_build_filename(dir, "clientcert.pem", NULL);
        g_autofree char *ukey = g_build_filename(dir, "clientkey.pem", NULL);
        bool user = geteuid() != 0;

        ca = user && g_file_test(uca, G_FILE_TEST_EXISTS)
                 ? g_steal_pointer(&uca)
                 : g_strdup("/etc/pki/CA/cacert.pem");
        if (user && g_file_test(ucert, G_FILE_TEST_EXISTS) &&
            g_file_test(ukey, G_FILE_TEST_EXISTS)) {
            cert = g_steal_pointer(&ucert);
            key = g_steal_pointer(&ukey);
        } else {
            cert = g_strdup("/etc/pki/libvirt/clientcert.pem");
            key = g_strdup("/etc/pki/libvirt/private/clientkey.pem");
        }
    }
    GInitable *creds =
        g_initable_new(VH_TYPE_TLS_CREDS_X509, NULL, error, "endpoint",
                       VH_TLS_CREDS_ENDPOINT_CLIENT, "ca-file", ca, "cert-file",
                       cert, "key-file", key, "verify-peer", !u->no_verify,
                       "priority", u->tls_priority, NULL);
    if (!creds && error && *error && (*error)->domain != VHG_ERROR) {
        GError *e = *error;

        *error = g_error_new(VHG_ERROR, VHG_ERROR_GNUTLS_ERROR,
                             "TLS credentials: %s", e->message);
        g_error_free(e);
    }
    return (VhTlsCreds *)creds;
}

static VhChannel *connect_tcp(const VhgUri *u, GCancellable *cancellable,
                              GError **error)
{
    g_autoptr(GError) last = NULL;
    GList *addrs = vh_socket_address_resolve(u->host, u->port, &last);
    VhChannel *ch = NULL;

    for (GList *l = addrs; l && !ch; l = l->next) {
        g_autoptr(VhChannelSocket) s = vh_channel_socket_new();

        g_clear_error(&last);
        if (g_cancellable_set_error_if_cancelled(cancellable, error)) {
            break;
        }
        if (vh_channel_socket_connect_sync(s, l->data, &last)) {
            ch = VH_CHANNEL(g_steal_pointer(&s));
        }
    }
    g_list_free_full(addrs, g_object_unref);
    if (!ch && last) {
        g_set_error(error, VHG_ERROR, VHG_ERROR_SYSTEM_ERROR,
                    "unable to connect to server at '%s:%d': %s", u->host,
                    u->port, last->message);
    }
    return ch;
}

static VhChannel *connect_tls(const VhgUri *u, GCancellable *cancellable,
                              GError **error)
{
    g_autoptr(VhTlsCreds) creds = load_creds(u, error);
    g_autoptr(VhChannel) tcp = NULL;
    g_autoptr(VhChannelTls) tls = NULL;
    g_autoptr(GError) err = NULL;

    if (!creds || !(tcp = connect_tcp(u, cancellable, error))) {
        return NULL;
    }
    tls = vh_channel_tls_new_client(tcp, creds, u->host, &err);
    if (!tls || !vh_channel_tls_handshake_sync(tls, &err)) {
        g_set_error(error, VHG_ERROR, VHG_ERROR_AUTH_FAILED,
                    "TLS handshake with %s failed: %s", u->host, err->message);
        return NULL;
    }
    return VH_CHANNEL(g_steal_pointer(&tls));
}

static VhChannel *connect_unix(const VhgUri *u, GError **error)
{
    g_autoptr(VhChannelSocket) s = vh_channel_socket_new();
    g_autoptr(GSocketAddress) addr = g_unix_socket_address_new(u->socket);
    g_autoptr(GError) err = NULL;

    if (!vh_channel_socket_connect_sync(s, addr, &err)) {
        g_set_error(error, VHG_ERROR, VHG_ERROR_SYSTEM_ERROR,
                    "Failed to connect socket to '%s': %s", u->socket,
                    err->message);
        return NULL;
    }
    return VH_CHANNEL(g_steal_pointer(&s));
}

static GBytes *call(VhRpcClient *c, guint32 proc, GByteArray *args,
                    GCancellable *cancellable, GError **error)
{
    return vh_rpc_client_call_sync(c, VH_REMOTE_PROGRAM, VH_REMOTE_VERSION,
                                   proc, args, cancellable, error);
}

static bool reply_i32(GBytes *b, gint32 *v, GError **error)
{
    gsize len;
    const guint8 *d = g_bytes_get_data(b, &len);
    VhXdrReader r = VH_XDR_READER_INIT(d, len);

    return vh_xdr_get_i32(&r, v, error) && vh_xdr_end(&r, error);
}

/* AUTH_LIST: NO_SUPPORT or a list with "none" (0) let us in. */
static bool check_auth(VhRpcClient *c, GCancellable *cancellable,
                       GError **error)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GBytes) ret =
        call(c, VH_REMOTE_PROC_AUTH_LIST, NULL, cancellable, &err);
    gsize len;
    const guint8 *d;
    guint32 n;

    if (!ret) {
        if (g_error_matches(err, VHG_ERROR, VHG_ERROR_NO_SUPPORT)) {
            return true;
        }
        g_propagate_error(error, g_steal_pointer(&err));
        return false;
    }
    d = g_bytes_get_data(ret, &len);
    VhXdrReader r = VH_XDR_READER_INIT(d, len);
    if (!vh_xdr_get_count(&r, VH_REMOTE_AUTH_TYPE_LIST_MAX, 4, &n, error)) {
        return false;
    }
    if (n == 0) {
        return true;
    }
    for (guint32 i = 0; i < n; i++) {
        gint32 type;

        if (!vh_xdr_get_i32(&r, &type, error)) {
            return false;
        }
        if (type == 0) {
            return true;
        }
    }
    g_set_error(error, VHG_ERROR, VHG_ERROR_AUTH_UNAVAILABLE,
                "the server at %s requires SASL or polkit authentication, "
                "which this library does not do",
                "the URI");
    return false;
}

static bool register_events(VhRpcClient *c, GCancellable *cancellable,
                            GError **error)
{
    g_autoptr(GByteArray) args = g_byte_array_new();
    g_autoptr(GError) err = NULL;
    g_autoptr(GBytes) ret = NULL;

    vh_xdr_put_i32(args, EVENT_ID_LIFECYCLE);
    vh_xdr_put_u32(args, 0); /* remote_domain: NULL, every domain */
    ret = call(c, VH_REMOTE_PROC_CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY,
               args, cancellable, &err);
    if (ret) {
        return true;
    }
    /* older servers: the registration without callback ids */
    g_byte_array_set_size(args, 0);
    vh_xdr_put_i32(args, EVENT_ID_LIFECYCLE);
    g_clear_error(&err);
    ret = call(c, VH_REMOTE_PROC_CONNECT_DOMAIN_EVENT_REGISTER_ANY, args,
               cancellable, error);
    return ret != NULL;
}

static bool handshake(VhgConnection *conn, VhRpcClient *c, const VhgUri *u,
                      GCancellable *cancellable, GError **error)
{
    g_autoptr(GByteArray) args = g_byte_array_new();
    g_autoptr(GBytes) ret = NULL;
    gint32 supported = 0;

    if (!check_auth(c, cancellable, error)) {
        return false;
    }
    vh_xdr_put_i32(args, FEATURE_KEEPALIVE);
    ret = call(c, VH_REMOTE_PROC_CONNECT_SUPPORTS_FEATURE, args, cancellable,
               NULL);
    if (ret && reply_i32(ret, &supported, NULL) && supported == 1) {
        vh_rpc_client_start_keepalive(c, KEEPALIVE_INTERVAL_MS,
                                      KEEPALIVE_COUNT);
    }
    g_clear_pointer(&ret, g_bytes_unref);
    g_byte_array_set_size(args, 0);
    vh_xdr_put_opt_string(args, u->name);
    vh_xdr_put_u32(args, 0);
    ret = call(c, VH_REMOTE_PROC_CONNECT_OPEN, args, cancellable, error);
    return ret && register_events(c, cancellable, error);
}

static bool open_sync(VhgConnection *conn, GMainContext *ctx,
                      GCancellable *cancellable, GError **error)
{
    VhgUri u;
    g_autoptr(VhChannel) ch = NULL;
    g_autoptr(VhRpcClient) c = NULL;
    bool tls;

    if (vhg_connection_is_open(conn)) {
        g_set_error(error, VHG_ERROR, VHG_ERROR_OPERATION_INVALID,
                    "the connection to %s is open already", conn->uri);
        return false;
    }
    if (!vhg_uri_parse(conn->uri, &u, error)) {
        return false;
    }
    tls = g_str_equal(u.transport, "tls");
    ch = tls ? connect_tls(&u, cancellable, error) : connect_unix(&u, error);
    if (!ch) {
        vhg_uri_clear(&u);
        return false;
    }
    GWeakRef *ref = g_new0(GWeakRef, 1);
    g_weak_ref_init(ref, conn);
    VhRpcClientConfig cfg = {
        .call_timeout_ms = conn->call_timeout_ms,
        .event_context = ctx,
        .event_func = on_message,
        .closed_func = on_closed,
        .opaque = ref,
        .opaque_free = weak_ref_free,
    };
    c = vh_rpc_client_new(ch, tls, &cfg);
    if (!handshake(conn, c, &u, cancellable, error)) {
        vhg_uri_clear(&u);
        return false;
    }
    vhg_uri_clear(&u);
    g_mutex_lock(&conn->lock);
    g_clear_pointer(&conn->client, vh_rpc_client_unref);
    conn->client = g_steal_pointer(&c);
    g_mutex_unlock(&conn->lock);
    return true;
}

static void set_context(VhgConnection *conn, GMainContext *ctx)
{
    g_clear_pointer(&conn->ctx, g_main_context_unref);
    conn->ctx = g_main_context_ref(ctx);
}

/**
 * vhg_connection_open:
 * @conn: a connection
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Connects (TLS handshake and the server's confirmation included), opens
 * the server's driver and registers for lifecycle events, blocking the
 * calling thread. Signals will be emitted in the thread-default main
 * context of the calling thread.
 *
 * Returns: whether the connection is open
 */
gboolean vhg_connection_open(VhgConnection *conn, GCancellable *cancellable,
                             GError **error)
{
    g_autoptr(GMainContext) ctx = g_main_context_ref_thread_default();

    g_return_val_if_fail(VHG_IS_CONNECTION(conn), FALSE);
    set_context(conn, ctx);
    return open_sync(conn, ctx, cancellable, error);
}

static void open_thread(GTask *task, gpointer source, gpointer data,
                        GCancellable *cancellable)
{
    GError *err = NULL;

    if (open_sync(source, data, cancellable, &err)) {
        g_task_return_boolean(task, TRUE);
    } else {
        g_task_return_error(task, err);
    }
}

/**
 * vhg_connection_open_async:
 * @conn: a connection
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the connection is open or failed
 * @user_data: data for @callback
 *
 * vhg_connection_open() without blocking: @callback runs in the
 * thread-default main context of the caller, where signals will be
 * emitted too.
 */
void vhg_connection_open_async(VhgConnection *conn, GCancellable *cancellable,
                               GAsyncReadyCallback callback, gpointer user_data)
{
    g_autoptr(GTask) task = g_task_new(conn, cancellable, callback, user_data);
    GMainContext *ctx = g_main_context_ref_thread_default();

    g_return_if_fail(VHG_IS_CONNECTION(conn));
    set_context(conn, ctx);
    g_task_set_source_tag(task, vhg_connection_open_async);
    g_task_set_task_data(task, ctx, (GDestroyNotify)g_main_context_unref);
    g_task_run_in_thread(task, open_thread);
}

/**
 * vhg_connection_open_finish:
 * @conn: a connection
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Returns: whether the connection is open
 */
gboolean vhg_connection_open_finish(VhgConnection *conn, GAsyncResult *result,
                                    GError **error)
{
    g_return_val_if_fail(g_task_is_valid(result, conn), FALSE);
    return g_task_propagate_boolean(G_TASK(result), error);
}

/**
 * vhg_connection_close:
 * @conn: a connection
 *
 * Says goodbye to the server (CONNECT_CLOSE, best effort) and ends the
 * connection: pending calls fail, and #VhgConnection::closed is emitted.
 * The known domains are forgotten.
 */
void vhg_connection_close(VhgConnection *conn)
{
    VhRpcClient *c;

    g_return_if_fail(VHG_IS_CONNECTION(conn));
    g_mutex_lock(&conn->lock);
    c = g_steal_pointer(&conn->client);
    g_hash_table_remove_all(conn->domains);
    g_mutex_unlock(&conn->lock);
    if (c) {
        g_autoptr(GBytes) ret = NULL;

        if (!vh_rpc_client_is_closed(c)) {
            ret = call(c, VH_REMOTE_PROC_CONNECT_CLOSE, NULL, NULL, NULL);
        }
        vh_rpc_client_close(c);
        vh_rpc_client_unref(c);
    }
}

/**
 * vhg_connection_get_hostname:
 * @conn: an open connection
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the server's host name, or %NULL on error
 */
char *vhg_connection_get_hostname(VhgConnection *conn,
                                  GCancellable *cancellable, GError **error)
{
    g_autoptr(VhRpcClient) c = vhg_connection_get_client(conn, error);
    g_autoptr(GBytes) ret = NULL;
    char *name = NULL;

    if (!c || !(ret = call(c, VH_REMOTE_PROC_CONNECT_GET_HOSTNAME, NULL,
                           cancellable, error))) {
        return NULL;
    }
    gsize len;
    const guint8 *d = g_bytes_get_data(ret, &len);
    VhXdrReader r = VH_XDR_READER_INIT(d, len);
    if (!vh_xdr_get_string(&r, 0, &name, error) || !vh_xdr_end(&r, error)) {
        g_clear_pointer(&name, g_free);
    }
    return name;
}

/* ---- listing ---- */

typedef struct {
    char *name;
    guint8 uuid[VH_REMOTE_UUID_LEN];
    gint32 id, state, persistent;
} Record;

static void record_free(gpointer p)
{
    Record *rec = p;

    g_free(rec->name);
    g_free(rec);
}

static void put_dom(GByteArray *b, const Record *rec)
{
    vh_remote_put_domain(b, rec->name, rec->uuid, rec->id);
}

static bool query_i32(VhRpcClient *c, guint32 proc, const Record *rec,
                      bool with_flags, gint32 *v, GCancellable *cancellable,
                      GError **error)
{
    g_autoptr(GByteArray) args = g_byte_array_new();
    g_autoptr(GBytes) ret = NULL;

    put_dom(args, rec);
    if (with_flags) {
        vh_xdr_put_u32(args, 0);
    }
    ret = call(c, proc, args, cancellable, error);
    if (!ret) {
        return false;
    }
    gsize len;
    const guint8 *d = g_bytes_get_data(ret, &len);
    VhXdrReader r = VH_XDR_READER_INIT(d, len);
    return vh_xdr_get_i32(&r, v, error); /* GET_STATE: the reason follows */
}

/* LIST_ALL_DOMAINS, then each domain's state and persistence. */
static GPtrArray *list_domains(VhRpcClient *c, GCancellable *cancellable,
                               GError **error)
{
    g_autoptr(GByteArray) args = g_byte_array_new();
    g_autoptr(GBytes) ret = NULL;
    g_autoptr(GPtrArray) recs = g_ptr_array_new_with_free_func(record_free);
    guint32 n;

    vh_xdr_put_i32(args, 1); /* need_results */
    vh_xdr_put_u32(args, 0); /* flags: all */
    ret = call(c, VH_REMOTE_PROC_CONNECT_LIST_ALL_DOMAINS, args, cancellable,
               error);
    if (!ret) {
        return NULL;
    }
    gsize len;
    const guint8 *d = g_bytes_get_data(ret, &len);
    VhXdrReader r = VH_XDR_READER_INIT(d, len);
    if (!vh_xdr_get_count(&r, VH_REMOTE_DOMAIN_LIST_MAX, 24, &n, error)) {
        return NULL;
    }
    for (guint32 i = 0; i < n; i++) {
        Record *rec = g_new0(Record, 1);

        g_ptr_array_add(recs, rec);
        if (!vh_remote_get_domain(&r, &rec->name, rec->uuid, &rec->id, error)) {
            return NULL;
        }
    }
    for (guint i = 0; i < recs->len; i++) {
        Record *rec = recs->pdata[i];

        if (!query_i32(c, VH_REMOTE_PROC_DOMAIN_GET_STATE, rec, true,
                       &rec->state, cancellable, error) ||
            !query_i32(c, VH_REMOTE_PROC_DOMAIN_IS_PERSISTENT, rec, false,
                       &rec->persistent, cancellable, error)) {
            return NULL;
        }
    }
    return g_steal_pointer(&recs);
}

/* Replace the cache with @recs, keeping the objects of known domains. */
static void apply_records(VhgConnection *conn, GPtrArray *recs)
{
    g_autoptr(GHashTable) fresh =
        g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_object_unref);
    g_autoptr(GPtrArray) updates = g_ptr_array_new();

    g_mutex_lock(&conn->lock);
    for (guint i = 0; i < recs->len; i++) {
        Record *rec = recs->pdata[i];
        char *key = vh_domain_uuid_format(rec->uuid);
        VhgDomain *dom = g_hash_table_lookup(conn->domains, key);

        dom =
            dom ? g_object_ref(dom)
                : vhg_domain_new_internal(conn, rec->name, rec->uuid, rec->id);
        g_hash_table_replace(fresh, key, dom);
        g_ptr_array_add(updates, dom);
    }
    /* the fresh table holds its own references; the old one lets go */
    g_hash_table_unref(conn->domains);
    conn->domains = g_hash_table_ref(fresh);
    g_mutex_unlock(&conn->lock);
    for (guint i = 0; i < recs->len; i++) {
        Record *rec = recs->pdata[i];

        vhg_domain_update(updates->pdata[i], rec->name, rec->id, rec->state,
                          rec->persistent);
    }
}

/**
 * vhg_connection_fetch_domains:
 * @conn: an open connection
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Asks the server for every domain with its state, blocking, and makes
 * that the list vhg_connection_get_domains() returns. Objects of domains
 * known before are kept.
 *
 * Returns: whether the list was fetched
 */
gboolean vhg_connection_fetch_domains(VhgConnection *conn,
                                      GCancellable *cancellable, GError **error)
{
    g_autoptr(VhRpcClient) c = NULL;
    g_autoptr(GPtrArray) recs = NULL;

    g_return_val_if_fail(VHG_IS_CONNECTION(conn), FALSE);
    c = vhg_connection_get_client(conn, error);
    if (!c || !(recs = list_domains(c, cancellable, error))) {
        return FALSE;
    }
    apply_records(conn, recs);
    return TRUE;
}

static void fetch_thread(GTask *task, gpointer source, gpointer data,
                         GCancellable *cancellable)
{
    GError *err = NULL;
    g_autoptr(VhRpcClient) c = vhg_connection_get_client(source, &err);
    GPtrArray *recs = c ? list_domains(c, cancellable, &err) : NULL;

    if (recs) {
        g_task_return_pointer(task, recs, (GDestroyNotify)g_ptr_array_unref);
    } else {
        g_task_return_error(task, err);
    }
}

/**
 * vhg_connection_fetch_domains_async:
 * @conn: an open connection
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the list is fetched
 * @user_data: data for @callback
 *
 * vhg_connection_fetch_domains() without blocking.
 */
void vhg_connection_fetch_domains_async(VhgConnection *conn,
                                        GCancellable *cancellable,
                                        GAsyncReadyCallback callback,
                                        gpointer user_data)
{
    g_autoptr(GTask) task = g_task_new(conn, cancellable, callback, user_data);

    g_return_if_fail(VHG_IS_CONNECTION(conn));
    g_task_set_source_tag(task, vhg_connection_fetch_domains_async);
    g_task_run_in_thread(task, fetch_thread);
}

/**
 * vhg_connection_fetch_domains_finish:
 * @conn: a connection
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Returns: whether the list was fetched
 */
gboolean vhg_connection_fetch_domains_finish(VhgConnection *conn,
                                             GAsyncResult *result,
                                             GError **error)
{
    g_autoptr(GPtrArray) recs = NULL;

    g_return_val_if_fail(g_task_is_valid(result, conn), FALSE);
    recs = g_task_propagate_pointer(G_TASK(result), error);
    if (!recs) {
        return FALSE;
    }
    apply_records(conn, recs);
    return TRUE;
}

/* ---- defining ---- */

static GByteArray *xml_args(VhgConfigDomain *conf, bool with_flags, guint flags)
{
    GByteArray *args = g_byte_array_new();
    g_autofree char *xml = vhg_config_domain_format(conf);

    vh_xdr_put_string(args, xml);
    if (with_flags) {
        vh_xdr_put_u32(args, flags);
    }
    return args;
}

static VhgDomain *reply_domain(VhgConnection *conn, GBytes *ret, GError **error)
{
    g_autofree char *name = NULL;
    guint8 uuid[VH_REMOTE_UUID_LEN];
    gint32 id;
    gsize len;
    const guint8 *d = g_bytes_get_data(ret, &len);
    VhXdrReader r = VH_XDR_READER_INIT(d, len);

    if (!vh_remote_get_domain(&r, &name, uuid, &id, error) ||
        !vh_xdr_end(&r, error)) {
        return NULL;
    }
    return vhg_connection_get_domain(conn, name, uuid, id);
}

/**
 * vhg_connection_define_domain:
 * @conn: an open connection
 * @conf: the domain's configuration
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Defines (or redefines) a persistent domain from @conf.
 *
 * Returns: (transfer full): the domain, or %NULL on error
 */
VhgDomain *vhg_connection_define_domain(VhgConnection *conn,
                                        VhgConfigDomain *conf,
                                        GCancellable *cancellable,
                                        GError **error)
{
    g_autoptr(VhRpcClient) c = NULL;
    g_autoptr(GByteArray) args = NULL;
    g_autoptr(GBytes) ret = NULL;
    VhgDomain *dom;

    g_return_val_if_fail(VHG_IS_CONNECTION(conn), NULL);
    g_return_val_if_fail(VHG_IS_CONFIG_DOMAIN(conf), NULL);
    c = vhg_connection_get_client(conn, error);
    if (!c) {
        return NULL;
    }
    args = xml_args(conf, false, 0);
    ret = call(c, VH_REMOTE_PROC_DOMAIN_DEFINE_XML, args, cancellable, error);
    if (!ret || !(dom = reply_domain(conn, ret, error))) {
        return NULL;
    }
    vhg_domain_update(dom, NULL, -2, -1, 1);
    return dom;
}

/* What a DEFINE_XML or CREATE_XML reply tells about the domain. */
typedef struct {
    int state;      /* -1: unchanged */
    int persistent; /* 0 or 1 */
} XmlCallKind;

static const XmlCallKind kind_define = {-1, 1};
static const XmlCallKind kind_create = {VHG_DOMAIN_STATE_RUNNING, 0};

static void xml_call_done(GObject *source, GAsyncResult *res, gpointer opaque)
{
    g_autoptr(GTask) task = opaque;
    VhgConnection *conn = g_task_get_source_object(task);
    const XmlCallKind *kind = g_task_get_task_data(task);
    GError *err = NULL;
    g_autoptr(GBytes) ret = vh_rpc_client_call_finish(NULL, res, &err);
    VhgDomain *dom = NULL;

    if (ret && (dom = reply_domain(conn, ret, &err))) {
        vhg_domain_update(dom, NULL, -2, kind->state, kind->persistent);
        g_task_return_pointer(task, dom, g_object_unref);
    } else {
        g_task_return_error(task, err);
    }
}

/* DEFINE_XML or CREATE_XML without blocking; the domain object is made
 * (and domain-added emitted) in the caller's context. */
static void xml_call_async(VhgConnection *conn, guint32 proc, GByteArray *args,
                           const XmlCallKind *kind, gpointer tag,
                           GCancellable *cancellable,
                           GAsyncReadyCallback callback, gpointer user_data)
{
    g_autoptr(GByteArray) a = args;
    GTask *task = g_task_new(conn, cancellable, callback, user_data);
    GError *err = NULL;
    g_autoptr(VhRpcClient) c = vhg_connection_get_client(conn, &err);

    g_task_set_source_tag(task, tag);
    g_task_set_task_data(task, (gpointer)kind, NULL);
    if (!c) {
        g_task_return_error(task, err);
        g_object_unref(task);
        return;
    }
    vh_rpc_client_call_async(c, VH_REMOTE_PROGRAM, VH_REMOTE_VERSION, proc, a,
                             cancellable, xml_call_done, task);
}

/**
 * vhg_connection_define_domain_async:
 * @conn: an open connection
 * @conf: the domain's configuration
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the domain is defined
 * @user_data: data for @callback
 *
 * vhg_connection_define_domain() without blocking.
 */
void vhg_connection_define_domain_async(VhgConnection *conn,
                                        VhgConfigDomain *conf,
                                        GCancellable *cancellable,
                                        GAsyncReadyCallback callback,
                                        gpointer user_data)
{
    g_return_if_fail(VHG_IS_CONNECTION(conn));
    g_return_if_fail(VHG_IS_CONFIG_DOMAIN(conf));
    xml_call_async(conn, VH_REMOTE_PROC_DOMAIN_DEFINE_XML,
                   xml_args(conf, false, 0), &kind_define,
                   vhg_connection_define_domain_async, cancellable, callback,
                   user_data);
}

/**
 * vhg_connection_define_domain_finish:
 * @conn: a connection
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the domain, or %NULL on error
 */
VhgDomain *vhg_connection_define_domain_finish(VhgConnection *conn,
                                               GAsyncResult *result,
                                               GError **error)
{
    g_return_val_if_fail(g_task_is_valid(result, conn), NULL);
    return g_task_propagate_pointer(G_TASK(result), error);
}

/**
 * vhg_connection_create_domain:
 * @conn: an open connection
 * @conf: the domain's configuration
 * @flags: libvirt's virDomainCreateFlags (0: none)
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Creates and starts a transient domain from @conf; it is gone once it
 * stops.
 *
 * Returns: (transfer full): the domain, or %NULL on error
 */
VhgDomain *vhg_connection_create_domain(VhgConnection *conn,
                                        VhgConfigDomain *conf, guint flags,
                                        GCancellable *cancellable,
                                        GError **error)
{
    g_autoptr(VhRpcClient) c = NULL;
    g_autoptr(GByteArray) args = NULL;
    g_autoptr(GBytes) ret = NULL;
    VhgDomain *dom;

    g_return_val_if_fail(VHG_IS_CONNECTION(conn), NULL);
    g_return_val_if_fail(VHG_IS_CONFIG_DOMAIN(conf), NULL);
    c = vhg_connection_get_client(conn, error);
    if (!c) {
        return NULL;
    }
    args = xml_args(conf, true, flags);
    ret = call(c, VH_REMOTE_PROC_DOMAIN_CREATE_XML, args, cancellable, error);
    if (!ret || !(dom = reply_domain(conn, ret, error))) {
        return NULL;
    }
    vhg_domain_update(dom, NULL, -2, VHG_DOMAIN_STATE_RUNNING, 0);
    return dom;
}

/**
 * vhg_connection_create_domain_async:
 * @conn: an open connection
 * @conf: the domain's configuration
 * @flags: libvirt's virDomainCreateFlags (0: none)
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the domain runs
 * @user_data: data for @callback
 *
 * vhg_connection_create_domain() without blocking.
 */
void vhg_connection_create_domain_async(VhgConnection *conn,
                                        VhgConfigDomain *conf, guint flags,
                                        GCancellable *cancellable,
                                        GAsyncReadyCallback callback,
                                        gpointer user_data)
{
    g_return_if_fail(VHG_IS_CONNECTION(conn));
    g_return_if_fail(VHG_IS_CONFIG_DOMAIN(conf));
    xml_call_async(conn, VH_REMOTE_PROC_DOMAIN_CREATE_XML,
                   xml_args(conf, true, flags), &kind_create,
                   vhg_connection_create_domain_async, cancellable, callback,
                   user_data);
}

/**
 * vhg_connection_create_domain_finish:
 * @conn: a connection
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the running transient domain, or %NULL on error
 */
VhgDomain *vhg_connection_create_domain_finish(VhgConnection *conn,
                                               GAsyncResult *result,
                                               GError **error)
{
    g_return_val_if_fail(g_task_is_valid(result, conn), NULL);
    return g_task_propagate_pointer(G_TASK(result), error);
}

static void hostname_done(GObject *source, GAsyncResult *res, gpointer opaque)
{
    g_autoptr(GTask) task = opaque;
    GError *err = NULL;
    g_autoptr(GBytes) ret = vh_rpc_client_call_finish(NULL, res, &err);
    char *name = NULL;

    if (ret) {
        gsize len;
        const guint8 *d = g_bytes_get_data(ret, &len);
        VhXdrReader r = VH_XDR_READER_INIT(d, len);

        if (!vh_xdr_get_string(&r, 0, &name, &err) || !vh_xdr_end(&r, &err)) {
            g_clear_pointer(&name, g_free);
        }
    }
    if (name) {
        g_task_return_pointer(task, name, g_free);
    } else {
        g_task_return_error(task, err);
    }
}

/**
 * vhg_connection_get_hostname_async:
 * @conn: an open connection
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called with the answer
 * @user_data: data for @callback
 *
 * vhg_connection_get_hostname() without blocking.
 */
void vhg_connection_get_hostname_async(VhgConnection *conn,
                                       GCancellable *cancellable,
                                       GAsyncReadyCallback callback,
                                       gpointer user_data)
{
    GTask *task = g_task_new(conn, cancellable, callback, user_data);
    GError *err = NULL;
    g_autoptr(VhRpcClient) c = vhg_connection_get_client(conn, &err);

    g_task_set_source_tag(task, vhg_connection_get_hostname_async);
    if (!c) {
        g_task_return_error(task, err);
        g_object_unref(task);
        return;
    }
    vh_rpc_client_call_async(c, VH_REMOTE_PROGRAM, VH_REMOTE_VERSION,
                             VH_REMOTE_PROC_CONNECT_GET_HOSTNAME, NULL,
                             cancellable, hostname_done, task);
}

/**
 * vhg_connection_get_hostname_finish:
 * @conn: a connection
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the server's host name, or %NULL on error
 */
char *vhg_connection_get_hostname_finish(VhgConnection *conn,
                                         GAsyncResult *result, GError **error)
{
    g_return_val_if_fail(g_task_is_valid(result, conn), NULL);
    return g_task_propagate_pointer(G_TASK(result), error);
}
