/*
 * The source daemon's client connection to the destination daemon
 * (migrate-peer.h): URI, libvirt's client certificate files, TCP + TLS,
 * AUTH_LIST / CONNECT_OPEN, and the two migration calls.
 */
#define G_LOG_DOMAIN "vmhostd"

#include "migrate-peer.h"

#include <string.h>

#include "vmhost/crypto/tls-creds-x509.h"
#include "vmhost/io/address.h"
#include "vmhost/io/channel-socket.h"
#include "vmhost/io/channel-tls.h"
#include "vmhost/rpc/client.h"
#include "vmhost/rpc/remote-protocol.h"
#include "vmhost/rpc/typed-params.h"

#define PEER_DEFAULT_TLS_PORT 16514
/* prepare starts a machine and finish waits for its last pages */
#define PEER_CALL_TIMEOUT_MS 120000

struct _VhMigratePeer {
    char *uri;
    char *host;
    VhRpcClient *client;
};

typedef struct {
    char *driver; /* "vmhost" of vmhost+tls */
    char *host;
    int port;
    char *path;
    char *pkipath;
    bool no_verify;
} PeerUri;

static void peer_uri_clear(PeerUri *u)
{
    g_free(u->driver);
    g_free(u->host);
    g_free(u->path);
    g_free(u->pkipath);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(PeerUri, peer_uri_clear)

static bool parse_uri(const char *uri, PeerUri *pu, GError **errp)
{
    g_autoptr(GUri) u = g_uri_parse(uri, G_URI_FLAGS_ENCODED_QUERY, NULL);
    const char *scheme = u ? g_uri_get_scheme(u) : NULL;
    const char *plus = scheme ? strchr(scheme, '+') : NULL;
    const char *query;

    if (!u || !plus || strcmp(plus, "+tls") != 0 || !g_uri_get_host(u) ||
        !*g_uri_get_host(u)) {
        g_set_error(errp, VH_VIR_ERROR, VH_VIR_ERR_INVALID_ARG,
                    "invalid argument: destination URI '%s': vmhostd "
                    "connects to its peers over TLS (DRIVER+tls://HOST/system)",
                    uri);
        return false;
    }
    pu->driver = g_strndup(scheme, plus - scheme);
    pu->host = g_strdup(g_uri_get_host(u));
    pu->port =
        g_uri_get_port(u) > 0 ? g_uri_get_port(u) : PEER_DEFAULT_TLS_PORT;
    pu->path = g_strdup(*g_uri_get_path(u) ? g_uri_get_path(u) : "/system");
    query = g_uri_get_query(u);
    if (query) {
        g_autoptr(GHashTable) q =
            g_uri_parse_params(query, -1, "&", G_URI_PARAMS_NONE, errp);

        if (!q) {
            return false;
        }
        pu->pkipath = g_strdup(g_hash_table_lookup(q, "pkipath"));
        pu->no_verify =
            g_strcmp0(g_hash_table_lookup(q, "no_verify"), "1") == 0;
    }
    return true;
}

static VhTlsCreds *load_creds(const PeerUri *u, GError **errp)
{
    g_autofree char *ca = NULL, *cert = NULL, *key = NULL;
    g_autofree char *dir =
        g_build_filename(g_get_home_dir(), ".pki", "libvirt", NULL);
    g_autofree char *ucert = g_build_filename(dir, "clientcert.pem", NULL);

    if (u->pkipath) {
        ca = g_build_filename(u->pkipath, "cacert.pem", NULL);
        cert = g_build_filename(u->pkipath, "clientcert.pem", NULL);
        key = g_build_filename(u->pkipath, "clientkey.pem", NULL);
    } else if (g_file_test(ucert, G_FILE_TEST_EXISTS)) {
        ca = g_build_filename(dir, "cacert.pem", NULL);
        cert = g_steal_pointer(&ucert);
        key = g_build_filename(dir, "clientkey.pem", NULL);
    } else {
        ca = g_strdup("/etc/pki/CA/cacert.pem");
        cert = g_strdup("/etc/pki/libvirt/clientcert.pem");
        key = g_strdup("/etc/pki/libvirt/private/clientkey.pem");
    }
    g_autoptr(GError) err = NULL;
    GInitable *creds = g_initable_new(
        VH_TYPE_TLS_CREDS_X509, NULL, &err, "endpoint",
        VH_TLS_CREDS_ENDPOINT_CLIENT, "ca-file", ca, "cert-file", cert,
        "key-file", key, "verify-peer", !u->no_verify, NULL);
    if (!creds) {
        g_set_error(errp, VH_VIR_ERROR, VH_VIR_ERR_GNUTLS_ERROR,
                    "this host's client certificate for migration (%s): %s",
                    cert, err->message);
        return NULL;
    }
    return (VhTlsCreds *)creds;
}

static VhChannel *connect_tls(const PeerUri *u, GError **errp)
{
    g_autoptr(VhTlsCreds) creds = load_creds(u, errp);
    g_autoptr(GError) last = NULL;
    g_autoptr(VhChannelTls) tls = NULL;
    g_autoptr(VhChannel) tcp = NULL;
    GList *addrs;

    if (!creds) {
        return NULL;
    }
    addrs = vh_socket_address_resolve(u->host, u->port, &last);
    for (GList *l = addrs; l && !tcp; l = l->next) {
        g_autoptr(VhChannelSocket) s = vh_channel_socket_new();

        g_clear_error(&last);
        if (vh_channel_socket_connect_sync(s, l->data, &last)) {
            tcp = VH_CHANNEL(g_steal_pointer(&s));
        }
    }
    g_list_free_full(addrs, g_object_unref);
    if (!tcp) {
        g_set_error(errp, VH_VIR_ERROR, VH_VIR_ERR_SYSTEM_ERROR,
                    "unable to connect to server at '%s:%d': %s", u->host,
                    u->port, last ? last->message : "no address");
        return NULL;
    }
    g_clear_error(&last);
    tls = vh_channel_tls_new_client(tcp, creds, u->host, &last);
    if (!tls || !vh_channel_tls_handshake_sync(tls, &last)) {
        g_set_error(errp, VH_VIR_ERROR, VH_VIR_ERR_AUTH_FAILED,
                    "TLS handshake with the destination %s failed: %s", u->host,
                    last->message);
        return NULL;
    }
    return VH_CHANNEL(g_steal_pointer(&tls));
}

static GBytes *call(VhMigratePeer *p, guint32 proc, const GByteArray *args,
                    GError **errp)
{
    return vh_rpc_client_call_sync(p->client, VH_REMOTE_PROGRAM,
                                   VH_REMOTE_VERSION, proc, args, NULL, errp);
}

static bool supports(VhMigratePeer *p, gint32 feature)
{
    g_autoptr(GByteArray) args = g_byte_array_new();
    g_autoptr(GBytes) ret = NULL;
    gsize len;
    const guint8 *d;
    gint32 yes = 0;

    vh_xdr_put_i32(args, feature);
    ret = call(p, VH_REMOTE_PROC_CONNECT_SUPPORTS_FEATURE, args, NULL);
    if (!ret) {
        return false;
    }
    d = g_bytes_get_data(ret, &len);
    VhXdrReader r = VH_XDR_READER_INIT(d, len);
    return vh_xdr_get_i32(&r, &yes, NULL) && yes == 1;
}

/* Why the destination would not talk to us, in words for virsh. */
static void prefix_open_error(GError **errp, const char *uri)
{
    if (errp && *errp) {
        g_prefix_error(errp,
                       "cannot open a connection to the destination %s "
                       "(its tls_allowed_dn_list must admit this host's "
                       "client certificate): ",
                       uri);
    }
}

VhMigratePeer *vh_migrate_peer_open(const char *dconnuri,
                                    guint keepalive_interval_ms,
                                    guint keepalive_count, GError **errp)
{
    g_auto(PeerUri) u = {0};
    g_autoptr(VhChannel) ch = NULL;
    g_autoptr(VhMigratePeer) p = g_new0(VhMigratePeer, 1);
    g_autoptr(GByteArray) args = g_byte_array_new();
    g_autoptr(GBytes) ret = NULL;
    g_autofree char *name = NULL;
    VhRpcClientConfig cfg = {.call_timeout_ms = PEER_CALL_TIMEOUT_MS};

    if (!dconnuri) {
        g_set_error_literal(errp, VH_VIR_ERROR, VH_VIR_ERR_INVALID_ARG,
                            "invalid argument: peer-to-peer migration needs "
                            "the destination's URI");
        return NULL;
    }
    if (!parse_uri(dconnuri, &u, errp)) {
        return NULL;
    }
    p->uri = g_strdup(dconnuri);
    p->host = g_strdup(u.host);
    ch = connect_tls(&u, errp);
    if (!ch) {
        prefix_open_error(errp, dconnuri);
        return NULL;
    }
    p->client = vh_rpc_client_new(ch, true, &cfg);
    /* AUTH_LIST: authentication was the TLS handshake */
    ret = call(p, VH_REMOTE_PROC_AUTH_LIST, NULL, errp);
    if (!ret) {
        prefix_open_error(errp, dconnuri);
        return NULL;
    }
    g_clear_pointer(&ret, g_bytes_unref);
    /* libvirt's client keepalive: it notices a destination that is gone
     * (the migration is then cancelled), and keeps the destination from
     * dropping us as idle while a long migration runs between two calls */
    if (keepalive_interval_ms &&
        supports(p, VH_REMOTE_FEATURE_PROGRAM_KEEPALIVE)) {
        vh_rpc_client_start_keepalive(p->client, keepalive_interval_ms,
                                      MAX(keepalive_count, 1));
    }
    name = g_strdup_printf("%s://%s", u.driver, u.path);
    vh_xdr_put_opt_string(args, name);
    vh_xdr_put_u32(args, 0);
    ret = call(p, VH_REMOTE_PROC_CONNECT_OPEN, args, errp);
    if (!ret) {
        prefix_open_error(errp, dconnuri);
        return NULL;
    }
    if (!supports(p, VH_REMOTE_FEATURE_MIGRATION_V3) ||
        !supports(p, VH_REMOTE_FEATURE_MIGRATION_PARAMS)) {
        g_set_error(errp, VH_VIR_ERROR, VH_VIR_ERR_OPERATION_FAILED,
                    "operation failed: the destination %s does not support "
                    "migration with extensible parameters",
                    dconnuri);
        return NULL;
    }
    g_info("migration peer %s opened", dconnuri);
    return g_steal_pointer(&p);
}

void vh_migrate_peer_free(VhMigratePeer *p)
{
    if (!p) {
        return;
    }
    if (p->client) {
        g_autoptr(GBytes) ret =
            call(p, VH_REMOTE_PROC_CONNECT_CLOSE, NULL, NULL);

        vh_rpc_client_close(p->client);
        vh_rpc_client_unref(p->client);
    }
    g_free(p->uri);
    g_free(p->host);
    g_free(p);
}

bool vh_migrate_peer_is_alive(VhMigratePeer *p)
{
    return !vh_rpc_client_is_closed(p->client);
}

const char *vh_migrate_peer_get_host(VhMigratePeer *p)
{
    return p->host;
}

char *vh_migrate_peer_prepare(VhMigratePeer *p, GPtrArray *params, guint flags,
                              GError **errp)
{
    g_autoptr(GByteArray) args = g_byte_array_new();
    g_autoptr(GBytes) ret = NULL;
    g_autofree guint8 *cookie = NULL;
    g_autofree char *uri = NULL;
    guint32 clen;
    gsize len;
    const guint8 *d;

    /* {params<>; opaque cookie_in<>; unsigned flags} */
    vh_typed_params_encode(args, params);
    vh_xdr_put_opaque(args, NULL, 0);
    vh_xdr_put_u32(args, flags);
    ret = call(p, VH_REMOTE_PROC_DOMAIN_MIGRATE_PREPARE3_PARAMS, args, errp);
    if (!ret) {
        return NULL;
    }
    /* {opaque cookie_out<>; remote_string uri_out} */
    d = g_bytes_get_data(ret, &len);
    VhXdrReader r = VH_XDR_READER_INIT(d, len);
    if (!vh_xdr_get_opaque(&r, VH_REMOTE_MIGRATE_COOKIE_MAX, &cookie, &clen,
                           errp) ||
        !vh_xdr_get_opt_string(&r, 0, &uri, errp) || !vh_xdr_end(&r, errp)) {
        return NULL;
    }
    if (!uri) {
        g_set_error_literal(errp, VH_VIR_ERROR, VH_VIR_ERR_INTERNAL_ERROR,
                            "internal error: the destination returned no "
                            "migration URI");
    }
    return g_steal_pointer(&uri);
}

VhRpcClientStream *
vh_migrate_peer_prepare_tunnel(VhMigratePeer *p, GPtrArray *params, guint flags,
                               VhRpcClientStreamFunc func, gpointer opaque,
                               GError **errp)
{
    g_autoptr(GByteArray) args = g_byte_array_new();

    /* {params<>; opaque cookie_in<>; unsigned flags} -> {cookie_out<>} */
    vh_typed_params_encode(args, params);
    vh_xdr_put_opaque(args, NULL, 0);
    vh_xdr_put_u32(args, flags);
    return vh_rpc_client_stream_call_sync(
        p->client, VH_REMOTE_PROGRAM, VH_REMOTE_VERSION,
        VH_REMOTE_PROC_DOMAIN_MIGRATE_PREPARE_TUNNEL3_PARAMS, args, func,
        opaque, NULL, NULL, errp);
}

VhDomainRef *vh_migrate_peer_finish(VhMigratePeer *p, GPtrArray *params,
                                    guint flags, bool cancelled, GError **errp)
{
    g_autoptr(GByteArray) args = g_byte_array_new();
    g_autoptr(GBytes) ret = NULL;
    g_autoptr(VhDomainRef) dom = g_new0(VhDomainRef, 1);
    g_autofree guint8 *cookie = NULL;
    guint32 clen;
    gsize len;
    const guint8 *d;

    /* {params<>; opaque cookie_in<>; unsigned flags; int cancelled} */
    vh_typed_params_encode(args, params);
    vh_xdr_put_opaque(args, NULL, 0);
    vh_xdr_put_u32(args, flags);
    vh_xdr_put_i32(args, cancelled ? 1 : 0);
    ret = call(p, VH_REMOTE_PROC_DOMAIN_MIGRATE_FINISH3_PARAMS, args, errp);
    if (!ret) {
        return NULL;
    }
    /* {remote_nonnull_domain dom; opaque cookie_out<>} */
    d = g_bytes_get_data(ret, &len);
    VhXdrReader r = VH_XDR_READER_INIT(d, len);
    if (!vh_remote_get_domain(&r, &dom->name, dom->uuid, &dom->id, errp) ||
        !vh_xdr_get_opaque(&r, VH_REMOTE_MIGRATE_COOKIE_MAX, &cookie, &clen,
                           errp) ||
        !vh_xdr_end(&r, errp)) {
        return NULL;
    }
    return g_steal_pointer(&dom);
}
