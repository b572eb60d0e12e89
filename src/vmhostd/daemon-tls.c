/*
 * The daemon's TLS: server credentials from libvirt's certificate files,
 * and the accept path every TLS listener uses: handshake with a timeout,
 * the client certificate verified, its DN matched against
 * tls_allowed_dn_list.
 *
 * A client refused in the handshake (no certificate, another CA) never
 * gets libvirt's 0x01 confirmation byte (virsh: "Unable to read TLS
 * confirmation"); one whose DN is not allowed gets an AUTH_FAILED reply
 * naming the reason (see refuse()). The daemon logs who and why.
 */
#include "daemon.h"

#include "vmhost/crypto/pki.h"
#include "vmhost/crypto/tls-creds-x509.h"
#include "vmhost/crypto/tls-priority.h"
#include "vmhost/crypto/x509-check.h"
#include "vmhost/io/tls-accept.h"
#include "vmhost/rpc/packet.h"
#include "vmhost/util/vir-error.h"
#include "vmhost/util/conf.h"

#include <fnmatch.h>

/* A client must finish its TLS handshake within this many seconds. */
#define HANDSHAKE_TIMEOUT_S 15u
/* A refused client has this long to send its first call. */
#define REFUSAL_TIMEOUT_S 5u

struct _VhDaemonTls {
    VhTlsCreds *creds;
    VhTlsAccept *accept; /* the one TLS accept path (lib/io/tls-accept.c) */
    VhDaemonTlsDone done;
    gpointer opaque;
    bool verify;
    char **allowed; /* NULL: any verified client */
    char *allowed_where;
};

bool vh_daemon_dn_allowed(const char *const *list, const char *dn)
{
    if (!list) {
        return true;
    }
    if (!dn) {
        return false;
    }
    for (; *list; list++) {
        if (fnmatch(*list, dn, 0) == 0) {
            return true;
        }
    }
    return false;
}

/*
 * The warnings of the sanity check, with libvirt's rule on top: a key usage
 * without keyEncipherment, which Debian 12's libvirt clients refuse. The
 * credentials' own check (below) stops at failures and keeps no warnings.
 */
static void warn_for_libvirt(const VhDaemonConfig *cfg)
{
    g_autoptr(VhX509Report) report =
        vh_x509_report_new(VH_X509_REPORT_COLLECT_ALL);
    gnutls_x509_crt_t *certs = NULL;
    gnutls_x509_crt_t *cas = NULL;
    size_t ncerts = 0;
    size_t ncas = 0;
    GPtrArray *items;

    if (!vh_pki_cert_load_all(cfg->cert_file, &certs, &ncerts, NULL) ||
        !vh_pki_cert_load_all(cfg->ca_file, &cas, &ncas, NULL)) {
        vh_pki_cert_list_free(certs, ncerts);
        return; /* loading the credentials reports it */
    }
    vh_x509_check_identity(report, &(VhX509CheckInput){
                                       .is_server = true,
                                       .cert_file = cfg->cert_file,
                                       .certs = certs,
                                       .ncerts = ncerts,
                                       .ca_file = cfg->ca_file,
                                       .cas = cas,
                                       .ncas = ncas,
                                       .warn_expiry_days = 30,
                                       .for_libvirt = true,
                                   });
    items = vh_x509_report_get_items(report);
    for (guint i = 0; i < items->len; i++) {
        VhX509CheckItem *it = g_ptr_array_index(items, i);

        if (it->status == VH_X509_CHECK_WARN) {
            g_warning("TLS certificate check: %s", it->message);
        }
    }
    vh_pki_cert_list_free(certs, ncerts);
    vh_pki_cert_list_free(cas, ncas);
}

static void on_accepted(VhChannelTls *tls, const char *peer, const GError *err,
                        gpointer opaque);

VhDaemonTls *vh_daemon_tls_new(const VhDaemonConfig *cfg, VhDaemonTlsDone done,
                               gpointer opaque, GError **errp)
{
    g_autoptr(VhTlsCreds) creds = NULL;
    const VhTlsPriority *prio;
    VhDaemonTls *t;

    if (cfg->tls_priority) {
        /* The decision point's "config" level: tls_priority of our file. */
        VhHostConf hc = {
            .path = cfg->config_file,
            .tls_priority = cfg->tls_priority,
        };
        vh_host_conf_set(&hc);
    }
    if (!cfg->tls_no_sanity_certificate) {
        warn_for_libvirt(cfg);
    }
    creds = g_initable_new(
        VH_TYPE_TLS_CREDS_X509, NULL, errp, "endpoint",
        VH_TLS_CREDS_ENDPOINT_SERVER, "ca-file", cfg->ca_file, "crl-file",
        cfg->crl_file, "cert-file", cfg->cert_file, "key-file", cfg->key_file,
        "sanity-check", !cfg->tls_no_sanity_certificate, "verify-peer",
        !cfg->tls_no_verify_certificate, NULL);
    if (!creds) {
        return NULL;
    }
    prio = vh_tls_creds_get_priority_info(creds);
    g_info("TLS: certificate %s, priority %s (%s, from the %s)", cfg->cert_file,
           prio->string, vh_tls_priority_resolution_name(prio->resolution),
           vh_tls_priority_source_name(prio->source));
    if (cfg->tls_no_verify_certificate) {
        g_warning("TLS: tls_no_verify_certificate = 1: clients are not "
                  "verified, any TLS client may manage domains");
    } else if (cfg->tls_allowed_dn_list && !cfg->tls_allowed_dn_list[0]) {
        g_warning("TLS: tls_allowed_dn_list (%s) is empty: every TLS client "
                  "will be refused",
                  cfg->tls_allowed_dn_list_where);
    }
    t = g_new0(VhDaemonTls, 1);
    t->creds = g_steal_pointer(&creds);
    t->verify = !cfg->tls_no_verify_certificate;
    t->allowed = g_strdupv(cfg->tls_allowed_dn_list);
    t->allowed_where = g_strdup(cfg->tls_allowed_dn_list_where);
    t->done = done;
    t->opaque = opaque;
    /* max_anonymous_clients is enforced by the listener (it stops
     * accepting); this bound is only a backstop */
    t->accept = vh_tls_accept_new(
        &(VhTlsAcceptOptions){
            .creds = t->creds,
            .what = "vmhostd",
            .timeout_ms = HANDSHAKE_TIMEOUT_S * 1000,
            .max_pending = cfg->max_anonymous_clients + 1,
        },
        on_accepted, t, NULL);
    return t;
}

void vh_daemon_tls_free(VhDaemonTls *t)
{
    if (!t) {
        return;
    }
    vh_tls_accept_free(t->accept);
    g_clear_object(&t->creds);
    g_strfreev(t->allowed);
    g_free(t->allowed_where);
    g_free(t);
}

/*
 * A client refused after its handshake (its DN is not allowed). libvirt's
 * client waits for the 0x01 byte, and a connection closed without it
 * gives virsh only "Unable to read TLS confirmation: Input/output error".
 * So the byte is sent, the client's first call (AUTH_LIST) gets an
 * AUTH_FAILED error reply naming the reason, and the connection closes:
 * virsh prints "authentication failed: ...". Nothing else is read or
 * answered; a client silent for REFUSAL_TIMEOUT_S is closed.
 */
typedef struct {
    VhChannelTls *tls;
    char *message;
    GByteArray *in;
    guint watch;
    guint timer;
} Refusal;

static void refusal_end(Refusal *r)
{
    if (r->watch) {
        g_source_remove(r->watch);
    }
    if (r->timer) {
        g_source_remove(r->timer);
    }
    vh_channel_close(VH_CHANNEL(r->tls), NULL);
    g_object_unref(r->tls);
    g_byte_array_unref(r->in);
    g_free(r->message);
    g_free(r);
}

/* The error reply to the call whose header is in r->in. */
static void refusal_reply(Refusal *r)
{
    VhXdrReader rd = VH_XDR_READER_INIT(r->in->data, r->in->len);
    g_autoptr(GError) err =
        g_error_new_literal(VH_VIR_ERROR, VH_VIR_ERR_AUTH_FAILED, r->message);
    g_autoptr(GByteArray) pkt = NULL;
    VhRpcHeader hdr;

    if (!vh_rpc_packet_decode_header(&rd, &hdr, NULL) ||
        hdr.type != VH_RPC_CALL) {
        return;
    }
    hdr.type = VH_RPC_REPLY;
    hdr.status = VH_RPC_ERROR;
    pkt = vh_rpc_packet_new(&hdr);
    vh_rpc_error_encode(pkt, err, VH_VIR_FROM_REMOTE);
    vh_rpc_packet_finish(pkt);
    if (!vh_channel_set_blocking(VH_CHANNEL(r->tls), true, NULL) ||
        !vh_channel_write_all(VH_CHANNEL(r->tls), pkt->data, pkt->len, NULL)) {
        g_debug("the refused client left before its error reply");
    }
}

static gboolean refusal_readable(VhChannel *ioc, GIOCondition cond,
                                 gpointer opaque)
{
    Refusal *r = opaque;
    guint8 buf[512];
    gssize n = vh_channel_read(ioc, buf, sizeof(buf), NULL);

    if (n == VH_CHANNEL_ERR_BLOCK) {
        return G_SOURCE_CONTINUE;
    }
    if (n > 0) {
        g_byte_array_append(r->in, buf, (guint)n);
        if (r->in->len < VH_RPC_PACKET_MIN) {
            return G_SOURCE_CONTINUE;
        }
        refusal_reply(r);
    }
    r->watch = 0;
    refusal_end(r);
    return G_SOURCE_REMOVE;
}

static gboolean refusal_timeout(gpointer opaque)
{
    Refusal *r = opaque;

    r->timer = 0;
    refusal_end(r);
    return G_SOURCE_REMOVE;
}

/* @tls: transfer none; @message: what the client is told. */
static void refuse(VhChannelTls *tls, const char *message)
{
    static const guint8 confirm = 1;
    Refusal *r;

    if (!vh_channel_set_blocking(VH_CHANNEL(tls), true, NULL) ||
        !vh_channel_write_all(VH_CHANNEL(tls), &confirm, 1, NULL) ||
        !vh_channel_set_blocking(VH_CHANNEL(tls), false, NULL)) {
        vh_channel_close(VH_CHANNEL(tls), NULL);
        return;
    }
    r = g_new0(Refusal, 1);
    r->tls = g_object_ref(tls);
    r->message = g_strdup(message);
    r->in = g_byte_array_new();
    r->watch = vh_channel_add_watch(VH_CHANNEL(tls), G_IO_IN, refusal_readable,
                                    r, NULL, NULL);
    r->timer = g_timeout_add_seconds(REFUSAL_TIMEOUT_S, refusal_timeout, r);
}

/* @tls: transfer full, or NULL when the handshake failed or timed out. */
static void on_accepted(VhChannelTls *tls, const char *peer, const GError *err,
                        gpointer opaque)
{
    VhDaemonTls *t = opaque;
    g_autoptr(VhChannelTls) owned = tls;
    g_autofree char *identity = NULL;
    const char *dn;

    if (!tls) {
        g_warning("TLS client %s refused: %s", peer, err->message);
        t->done(NULL, NULL, t->opaque);
        return;
    }
    dn = vh_channel_tls_get_peer_name(tls);
    if (t->verify &&
        !vh_daemon_dn_allowed((const char *const *)t->allowed, dn)) {
        g_autofree char *msg = g_strdup_printf(
            "authentication failed: the client certificate's DN '%s' is not "
            "in the server's tls_allowed_dn_list",
            dn ? dn : "(none)");

        g_warning("TLS client %s from %s refused: its DN is not in "
                  "tls_allowed_dn_list (%s)",
                  dn ? dn : "(no certificate)", peer, t->allowed_where);
        refuse(tls, msg);
        t->done(NULL, NULL, t->opaque);
        return;
    }
    identity =
        g_strdup_printf("%s from %s", dn ? dn : "unverified client", peer);
    t->done(tls, identity, t->opaque);
}

void vh_daemon_tls_accept(VhDaemonTls *t, VhChannelSocket *sock,
                          const char *peer)
{
    g_autoptr(GError) err = NULL;

    if (!vh_tls_accept_add(t->accept, VH_CHANNEL(sock), peer, &err)) {
        g_warning("TLS client %s refused: %s", peer, err->message);
        t->done(NULL, NULL, t->opaque);
    }
}
