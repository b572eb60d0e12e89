/*
 * The daemon's TLS: server credentials from libvirt's certificate files,
 * and the accept path every TLS listener uses: handshake with a timeout,
 * the client certificate verified, its DN matched against
 * tls_allowed_dn_list.
 *
 * A refused client never gets libvirt's 0x01 confirmation byte: the daemon
 * sends a fatal access_denied alert and closes, so virsh reports "Unable to
 * read TLS confirmation" with the alert, and the daemon logs who and why.
 */
#include "daemon.h"

#include "vmhost/crypto/pki.h"
#include "vmhost/crypto/tls-creds-x509.h"
#include "vmhost/crypto/tls-priority.h"
#include "vmhost/crypto/x509-check.h"
#include "vmhost/io/tls-accept.h"
#include "vmhost/util/conf.h"

#include <fnmatch.h>

/* A client must finish its TLS handshake within this many seconds. */
#define HANDSHAKE_TIMEOUT_S 15u

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

/* Refuse after the handshake: a fatal alert the client can show, close. */
static void refuse(VhChannelTls *tls)
{
    gnutls_session_t s =
        vh_tls_session_get_gnutls(vh_channel_tls_get_session(tls));

    if (vh_channel_set_blocking(VH_CHANNEL(tls), true, NULL)) {
        gnutls_alert_send(s, GNUTLS_AL_FATAL, GNUTLS_A_ACCESS_DENIED);
    }
    vh_channel_close(VH_CHANNEL(tls), NULL);
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
        g_warning("TLS client %s from %s refused: its DN is not in "
                  "tls_allowed_dn_list (%s)",
                  dn ? dn : "(no certificate)", peer, t->allowed_where);
        refuse(tls);
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
