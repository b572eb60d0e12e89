/*
 * VhTlsSession: GnuTLS session stepping over caller-supplied transport
 * callbacks, QEMU's post-handshake peer checks, and record-sized I/O.
 */
#include "vmhost/crypto/tls-session.h"
#include "vmhost/util/iov.h"

#include "vmhost/authz/authz.h"
#include "vmhost/crypto/x509-check.h"

#include "tls-record.h"

#include <errno.h>
#include <gnutls/x509.h>
#include <string.h>

struct _VhTlsSession {
    GObject parent;
    VhTlsCreds *creds;
    VhTlsCredsEndpoint endpoint;
    char *hostname;
    char *authzid;
    gnutls_session_t session;

    VhTlsSessionPush push;
    VhTlsSessionPull pull;
    void *opaque;
    int transport_errno; /* the last hard push/pull failure, or 0 */
    bool transport_eof;  /* pull saw end of file */

    bool handshake_complete;
    bool bye_sent;
    bool write_flush;    /* GnuTLS holds an encrypted record not yet pushed */
    size_t write_credit; /* bytes in records not yet reported as written */
    char *peer_name;
    VhTlsHostnameCheck hostname_check;
    char *gather; /* staging for records gathered from small iovs */

    /*
     * vmhost's own TLS 1.3 application-data records (docs/tls-records.md):
     * the keys of each direction, taken from GnuTLS when stale, i.e. at
     * first use and after GnuTLS read or wrote a record itself.
     */
    bool records;      /* this session's records may be sealed/opened */
    bool seal_off;     /* the write keys are worn: GnuTLS writes from now */
    bool read_eof;     /* GnuTLS read close-notify */
    int record_failed; /* a record could not be opened: the session is dead */
    bool rkeys_stale, wkeys_stale;
    VhTlsRecordKeys rkeys, wkeys;
};

G_DEFINE_TYPE(VhTlsSession, vh_tls_session, G_TYPE_OBJECT)

static void vh_tls_session_init(VhTlsSession *sess)
{
}

static void vh_tls_session_finalize(GObject *obj)
{
    VhTlsSession *sess = VH_TLS_SESSION(obj);

    if (sess->session) {
        gnutls_deinit(sess->session);
    }
    g_clear_object(&sess->creds);
    g_free(sess->hostname);
    g_free(sess->authzid);
    g_free(sess->peer_name);
    g_free(sess->gather);
    vh_tls_record_keys_clear(&sess->rkeys);
    vh_tls_record_keys_clear(&sess->wkeys);
    G_OBJECT_CLASS(vh_tls_session_parent_class)->finalize(obj);
}

static void vh_tls_session_class_init(VhTlsSessionClass *klass)
{
    G_OBJECT_CLASS(klass)->finalize = vh_tls_session_finalize;
}

static bool would_block(int err)
{
    return err == EAGAIN || err == EWOULDBLOCK || err == EINTR;
}

static ssize_t push_cb(gnutls_transport_ptr_t ptr, const void *buf, size_t len)
{
    VhTlsSession *sess = ptr;
    ssize_t ret;

    if (!sess->push) {
        gnutls_transport_set_errno(sess->session, EIO);
        return -1;
    }
    ret = sess->push(buf, len, sess->opaque);
    if (ret < 0) {
        int err = errno;
        if (!would_block(err)) {
            sess->transport_errno = err;
        }
        gnutls_transport_set_errno(sess->session, err);
    }
    return ret;
}

static ssize_t pull_cb(gnutls_transport_ptr_t ptr, void *buf, size_t len)
{
    VhTlsSession *sess = ptr;
    ssize_t ret;

    if (!sess->pull) {
        gnutls_transport_set_errno(sess->session, EIO);
        return -1;
    }
    ret = sess->pull(buf, len, sess->opaque);
    if (ret < 0) {
        int err = errno;
        if (!would_block(err)) {
            sess->transport_errno = err;
        }
        gnutls_transport_set_errno(sess->session, err);
    } else if (ret == 0) {
        sess->transport_eof = true;
    }
    return ret;
}

VhTlsSession *vh_tls_session_new(VhTlsCreds *creds, const char *hostname,
                                 const char *authzid,
                                 VhTlsCredsEndpoint endpoint, GError **errp)
{
    g_autoptr(VhTlsSession) sess = NULL;
    bool server = endpoint == VH_TLS_CREDS_ENDPOINT_SERVER;
    int ret;

    g_return_val_if_fail(VH_IS_TLS_CREDS(creds), NULL);

    if (!vh_tls_creds_check_endpoint(creds, endpoint, errp)) {
        return NULL;
    }
    sess = g_object_new(VH_TYPE_TLS_SESSION, NULL);
    sess->creds = g_object_ref(creds);
    sess->endpoint = endpoint;
    sess->hostname = g_strdup(hostname);
    sess->authzid = g_strdup(authzid);

    ret = gnutls_init(&sess->session, (server ? GNUTLS_SERVER : GNUTLS_CLIENT) |
                                          GNUTLS_NONBLOCK);
    if (ret < 0) {
        sess->session = NULL;
        g_set_error(errp, VH_ERROR, VH_ERROR_TLS_HANDSHAKE,
                    "cannot create a TLS %s session: %s",
                    vh_tls_creds_endpoint_name(endpoint), gnutls_strerror(ret));
        return NULL;
    }
    if (!vh_tls_creds_apply(creds, sess->session, errp)) {
        return NULL;
    }
    if (!server && hostname && !g_hostname_is_ip_address(hostname)) {
        ret = gnutls_server_name_set(sess->session, GNUTLS_NAME_DNS, hostname,
                                     strlen(hostname));
        if (ret < 0) {
            g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                        "cannot use '%s' as the TLS server name: %s", hostname,
                        gnutls_strerror(ret));
            return NULL;
        }
    }
    gnutls_transport_set_ptr(sess->session, sess);
    gnutls_transport_set_push_function(sess->session, push_cb);
    gnutls_transport_set_pull_function(sess->session, pull_cb);
    return g_steal_pointer(&sess);
}

void vh_tls_session_set_callbacks(VhTlsSession *sess, VhTlsSessionPush push,
                                  VhTlsSessionPull pull, void *opaque)
{
    sess->push = push;
    sess->pull = pull;
    sess->opaque = opaque;
}

/*
 * Why a GnuTLS call failed, in an operator's words: the alert the peer
 * sent, the transport error, or GnuTLS's own text.
 */
static char *describe_gnutls_error(VhTlsSession *sess, int ret)
{
    switch (ret) {
    case GNUTLS_E_FATAL_ALERT_RECEIVED:
    case GNUTLS_E_WARNING_ALERT_RECEIVED:
        return g_strdup_printf(
            "the peer sent the alert '%s'",
            gnutls_alert_get_name(gnutls_alert_get(sess->session)));
    case GNUTLS_E_PUSH_ERROR:
    case GNUTLS_E_PULL_ERROR:
        if (sess->transport_errno) {
            return g_strdup_printf("cannot %s the peer: %s",
                                   ret == GNUTLS_E_PUSH_ERROR ? "send to"
                                                              : "receive from",
                                   g_strerror(sess->transport_errno));
        }
        return g_strdup(gnutls_strerror(ret));
    case GNUTLS_E_NO_CERTIFICATE_FOUND:
    case GNUTLS_E_CERTIFICATE_REQUIRED:
        if (sess->endpoint == VH_TLS_CREDS_ENDPOINT_SERVER) {
            return g_strdup("the TLS client did not send a certificate and "
                            "this server verifies peers (verify-peer=on)");
        }
        return g_strdup(gnutls_strerror(ret));
    case GNUTLS_E_PREMATURE_TERMINATION:
    case GNUTLS_E_UNEXPECTED_PACKET_LENGTH:
        if (sess->transport_eof) {
            return g_strdup("the peer closed the connection");
        }
        return g_strdup(gnutls_strerror(ret));
    default:
        return g_strdup(gnutls_strerror(ret));
    }
}

/* The subject DN as authz sees it (certificate order, see x509-check.h). */
static char *cert_dn(gnutls_x509_crt_t crt)
{
    char *dn = vh_x509_get_dn(crt, NULL);

    return dn ? dn : g_strdup("(unreadable DN)");
}

static char *format_time(time_t t)
{
    g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc(t);

    return dt ? g_date_time_format(dt, "%Y-%m-%d %H:%M:%S UTC")
              : g_strdup("(invalid time)");
}

/* The reasons in a gnutls_certificate_verify_peers2 status word. */
static char *describe_verify_status(VhTlsSession *sess, unsigned status)
{
    static const struct {
        unsigned bit;
        const char *why;
    } reasons[] = {
        {GNUTLS_CERT_SIGNER_NOT_FOUND, "is not signed by a trusted CA"},
        {GNUTLS_CERT_SIGNER_NOT_CA, "is signed by a certificate that is "
                                    "not a CA"},
        {GNUTLS_CERT_REVOKED, "has been revoked"},
        {GNUTLS_CERT_EXPIRED, "has expired (or a certificate in its chain "
                              "has)"},
        {GNUTLS_CERT_NOT_ACTIVATED, "is not yet active (or a certificate in "
                                    "its chain is not)"},
        {GNUTLS_CERT_INSECURE_ALGORITHM, "is signed with an insecure "
                                         "algorithm"},
        {GNUTLS_CERT_SIGNATURE_FAILURE, "has a signature that does not "
                                        "verify"},
        {GNUTLS_CERT_SIGNER_CONSTRAINTS_FAILURE, "breaks its signer's "
                                                 "constraints"},
        {GNUTLS_CERT_PURPOSE_MISMATCH, "is not meant for this purpose "
                                       "(key purpose)"},
        {GNUTLS_CERT_UNEXPECTED_OWNER, "has an unexpected owner"},
        {GNUTLS_CERT_MISMATCH, "does not match the expected certificate"},
        {GNUTLS_CERT_REVOCATION_DATA_SUPERSEDED, "has superseded revocation "
                                                 "data"},
        {GNUTLS_CERT_REVOCATION_DATA_ISSUED_IN_FUTURE, "has revocation data "
                                                       "issued in the future"},
        {GNUTLS_CERT_UNKNOWN_CRIT_EXTENSIONS, "has an unknown critical "
                                              "extension"},
    };
    g_autoptr(GString) out = g_string_new(NULL);

    for (size_t i = 0; i < G_N_ELEMENTS(reasons); i++) {
        if (status & reasons[i].bit) {
            if (out->len) {
                g_string_append(out, ", and ");
            }
            g_string_append(out, reasons[i].why);
        }
    }
    if (!out->len) {
        gnutls_datum_t text = {NULL, 0};
        if (gnutls_certificate_verification_status_print(
                status, GNUTLS_CRT_X509, &text, 0) == 0) {
            g_string_append_printf(out, "failed verification: %.*s",
                                   (int)text.size, (const char *)text.data);
            gnutls_free(text.data);
        } else {
            g_string_append_printf(out, "failed verification (status 0x%x)",
                                   status);
        }
    }
    return g_string_free(g_steal_pointer(&out), FALSE);
}

static void peer_error(GError **errp, const char *dn, const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);

/* "TLS peer certificate <dn> <why>" */
static void peer_error(GError **errp, const char *dn, const char *fmt, ...)
{
    va_list ap;
    g_autofree char *why = NULL;

    va_start(ap, fmt);
    why = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error(errp, VH_ERROR, VH_ERROR_TLS_PEER, "TLS peer certificate %s %s",
                dn, why);
}

static bool check_validity_times(const gnutls_datum_t *certs, unsigned n,
                                 const char *leaf_dn, GError **errp)
{
    time_t now = time(NULL);

    for (unsigned i = 0; i < n; i++) {
        gnutls_x509_crt_t crt;
        g_autofree char *dn = NULL;
        g_autofree char *when = NULL;
        time_t t;

        if (gnutls_x509_crt_init(&crt) < 0) {
            peer_error(errp, leaf_dn, "cannot be inspected");
            return false;
        }
        if (gnutls_x509_crt_import(crt, &certs[i], GNUTLS_X509_FMT_DER) < 0) {
            gnutls_x509_crt_deinit(crt);
            peer_error(errp, leaf_dn, "chain entry %u cannot be parsed", i);
            return false;
        }
        dn = cert_dn(crt);
        t = gnutls_x509_crt_get_expiration_time(crt);
        if (t != (time_t)-1 && t < now) {
            when = format_time(t);
            peer_error(errp, dn, "has expired (notAfter %s)", when);
            gnutls_x509_crt_deinit(crt);
            return false;
        }
        t = gnutls_x509_crt_get_activation_time(crt);
        if (t != (time_t)-1 && t > now) {
            when = format_time(t);
            peer_error(errp, dn, "is not yet active (notBefore %s)", when);
            gnutls_x509_crt_deinit(crt);
            return false;
        }
        gnutls_x509_crt_deinit(crt);
    }
    return true;
}

/*
 * A server's authz check of the identity it authenticated: the subject DN
 * of a verified certificate, or a PSK username. Credentials that
 * authenticate nobody (anonymous, x509 with verify-peer=off) never get
 * here; VhTlsAccept, the path of every listener, denies their clients
 * when an authz object is set (tls-accept.h).
 */
static bool check_authz(VhTlsSession *sess, GError **errp)
{
    if (sess->endpoint != VH_TLS_CREDS_ENDPOINT_SERVER || !sess->authzid) {
        return true;
    }
    return vh_authz_is_allowed_by_id(sess->authzid, sess->peer_name, errp);
}

/* Hostname (client) or authz (server) for the leaf @crt. */
static bool check_peer_identity(VhTlsSession *sess, gnutls_x509_crt_t crt,
                                GError **errp)
{
    if (sess->endpoint == VH_TLS_CREDS_ENDPOINT_CLIENT) {
        if (!sess->hostname) {
            g_set_error(errp, VH_ERROR, VH_ERROR_TLS_PEER,
                        "No hostname for certificate validation");
            return false;
        }
        if (!gnutls_x509_crt_check_hostname2(crt, sess->hostname, 0)) {
            sess->hostname_check = VH_TLS_HOSTNAME_MISMATCH;
            peer_error(errp, sess->peer_name,
                       "does not match hostname '%s' (checked against its "
                       "DNS and IP subject alternative names, or its CN "
                       "when it has none)",
                       sess->hostname);
            return false;
        }
        sess->hostname_check = VH_TLS_HOSTNAME_MATCH;
        return true;
    }
    return check_authz(sess, errp);
}

static gnutls_x509_crt_t leaf_cert(const gnutls_datum_t *certs, GError **errp)
{
    gnutls_x509_crt_t crt;

    if (gnutls_x509_crt_init(&crt) < 0) {
        g_set_error(errp, VH_ERROR, VH_ERROR_TLS_PEER,
                    "cannot allocate a certificate");
        return NULL;
    }
    if (gnutls_x509_crt_import(crt, &certs[0], GNUTLS_X509_FMT_DER) < 0) {
        gnutls_x509_crt_deinit(crt);
        g_set_error(errp, VH_ERROR, VH_ERROR_TLS_PEER,
                    "the TLS peer's certificate cannot be parsed");
        return NULL;
    }
    return crt;
}

static bool check_x509_peer(VhTlsSession *sess, GError **errp)
{
    bool verify = vh_tls_creds_get_verify_peer(sess->creds);
    unsigned n = 0;
    const gnutls_datum_t *certs =
        gnutls_certificate_get_peers(sess->session, &n);
    gnutls_x509_crt_t crt;
    unsigned status = 0;
    int ret;
    bool ok;

    if (!certs || n == 0) {
        if (verify) {
            g_set_error(errp, VH_ERROR, VH_ERROR_TLS_PEER,
                        "The TLS %s did not send a certificate",
                        sess->endpoint == VH_TLS_CREDS_ENDPOINT_SERVER
                            ? "client"
                            : "server");
            return false;
        }
        return true;
    }
    crt = leaf_cert(certs, errp);
    if (!crt) {
        return false;
    }
    sess->peer_name = cert_dn(crt);
    if (!verify) {
        gnutls_x509_crt_deinit(crt);
        return true;
    }
    ret = gnutls_certificate_verify_peers2(sess->session, &status);
    if (ret < 0) {
        peer_error(errp, sess->peer_name, "cannot be verified: %s",
                   gnutls_strerror(ret));
        ok = false;
    } else if ((status & (GNUTLS_CERT_EXPIRED | GNUTLS_CERT_NOT_ACTIVATED)) &&
               !check_validity_times(certs, n, sess->peer_name, errp)) {
        /* the precise certificate and date say more than the status bit */
        ok = false;
    } else if (status) {
        g_autofree char *why = describe_verify_status(sess, status);
        peer_error(errp, sess->peer_name, "%s", why);
        ok = false;
    } else {
        ok = check_validity_times(certs, n, sess->peer_name, errp) &&
             check_peer_identity(sess, crt, errp);
    }
    gnutls_x509_crt_deinit(crt);
    return ok;
}

static bool check_psk_peer(VhTlsSession *sess, GError **errp)
{
    const char *user;

    if (sess->endpoint != VH_TLS_CREDS_ENDPOINT_SERVER) {
        return true;
    }
    user = gnutls_psk_server_get_username(sess->session);
    if (!user) {
        g_set_error(errp, VH_ERROR, VH_ERROR_TLS_PEER,
                    "The TLS client did not send a PSK username");
        return false;
    }
    sess->peer_name = g_strdup(user);
    return check_authz(sess, errp);
}

static bool check_peer(VhTlsSession *sess, GError **errp)
{
    switch (gnutls_auth_get_type(sess->session)) {
    case GNUTLS_CRD_CERTIFICATE:
        return check_x509_peer(sess, errp);
    case GNUTLS_CRD_PSK:
        return check_psk_peer(sess, errp);
    case GNUTLS_CRD_ANON:
    default:
        return true;
    }
}

/* Best effort: tell the peer why before we drop it. */
static void send_refusal_alert(VhTlsSession *sess, const GError *err)
{
    gnutls_alert_description_t desc =
        g_error_matches(err, VH_ERROR, VH_ERROR_AUTHZ_DENIED)
            ? GNUTLS_A_ACCESS_DENIED
            : GNUTLS_A_BAD_CERTIFICATE;

    (void)gnutls_alert_send(sess->session, GNUTLS_AL_FATAL, desc);
}

/* Best effort: let the peer see why the handshake failed too. */
static void send_failure_alert(VhTlsSession *sess, int ret)
{
    if (ret == GNUTLS_E_NO_CERTIFICATE_FOUND ||
        ret == GNUTLS_E_CERTIFICATE_REQUIRED) {
        /* GnuTLS would say "decode error"; name the real problem */
        bool tls13 =
            gnutls_protocol_get_version(sess->session) == GNUTLS_TLS1_3;
        (void)gnutls_alert_send(sess->session, GNUTLS_AL_FATAL,
                                tls13 ? GNUTLS_A_CERTIFICATE_REQUIRED
                                      : GNUTLS_A_HANDSHAKE_FAILURE);
        return;
    }
    (void)gnutls_alert_send_appropriate(sess->session, ret);
}

VhTlsHandshakeStatus vh_tls_session_handshake(VhTlsSession *sess, GError **errp)
{
    g_autofree char *why = NULL;
    GError *err = NULL;
    int ret;

    g_return_val_if_fail(VH_IS_TLS_SESSION(sess), VH_TLS_HANDSHAKE_FAILED);

    if (sess->handshake_complete) {
        return VH_TLS_HANDSHAKE_COMPLETE;
    }
    ret = gnutls_handshake(sess->session);
    if (ret == GNUTLS_E_AGAIN || ret == GNUTLS_E_INTERRUPTED) {
        return gnutls_record_get_direction(sess->session)
                   ? VH_TLS_HANDSHAKE_NEEDS_WRITE
                   : VH_TLS_HANDSHAKE_NEEDS_READ;
    }
    if (ret < 0) {
        why = describe_gnutls_error(sess, ret);
        send_failure_alert(sess, ret);
        g_set_error(errp, VH_ERROR, VH_ERROR_TLS_HANDSHAKE,
                    "TLS handshake as %s failed: %s",
                    vh_tls_creds_endpoint_name(sess->endpoint), why);
        return VH_TLS_HANDSHAKE_FAILED;
    }
    if (!check_peer(sess, &err)) {
        send_refusal_alert(sess, err);
        g_propagate_error(errp, err);
        return VH_TLS_HANDSHAKE_FAILED;
    }
    sess->handshake_complete = true;
    sess->records =
        gnutls_protocol_get_version(sess->session) == GNUTLS_TLS1_3 &&
        vh_tls_record_cipher_supported(gnutls_cipher_get(sess->session)) &&
        g_strcmp0(g_getenv("VMHOST_TLS_RECORDS"), "gnutls") != 0;
    sess->rkeys_stale = sess->wkeys_stale = true;
    return VH_TLS_HANDSHAKE_COMPLETE;
}

/*
 * GnuTLS is about to read or write records itself: give it the sequence
 * numbers vmhost's records advanced, and take its keys afresh afterwards
 * (a KeyUpdate may change them).
 */
static void hand_over(VhTlsSession *sess)
{
    unsigned char seq[8];

    if (!sess->records) {
        return;
    }
    if (!sess->rkeys_stale) {
        vh_tls_record_keys_seq_bytes(&sess->rkeys, seq);
        (void)gnutls_record_set_state(sess->session, 1, seq);
        sess->rkeys_stale = true;
    }
    if (!sess->wkeys_stale) {
        vh_tls_record_keys_seq_bytes(&sess->wkeys, seq);
        (void)gnutls_record_set_state(sess->session, 0, seq);
        sess->wkeys_stale = true;
    }
}

/* Load stale keys; false (and GnuTLS's records from now on) if it fails. */
static bool fresh_keys(VhTlsSession *sess, VhTlsRecordKeys *keys, bool *stale,
                       bool read)
{
    int ret;

    if (!*stale) {
        return true;
    }
    ret = vh_tls_record_keys_load(keys, sess->session, read);
    if (ret < 0) {
        g_warning("TLS: cannot take the session's %s keys, GnuTLS keeps "
                  "the records: %s",
                  read ? "read" : "write", gnutls_strerror(ret));
        sess->records = false;
        return false;
    }
    *stale = false;
    return true;
}

bool vh_tls_session_can_seal(VhTlsSession *sess)
{
    if (!sess->records || !sess->handshake_complete || sess->seal_off ||
        sess->bye_sent || sess->write_flush || sess->write_credit ||
        !fresh_keys(sess, &sess->wkeys, &sess->wkeys_stale, false)) {
        return false;
    }
    if (vh_tls_record_keys_worn(&sess->wkeys)) {
        /*
         * 2^24 records under one key: GnuTLS writes from now on, under
         * whatever limits it keeps (docs/tls-records.md).
         */
        hand_over(sess);
        sess->seal_off = true;
        return false;
    }
    return true;
}

size_t vh_tls_session_seal_max(VhTlsSession *sess)
{
    return sess->wkeys.max_plain;
}

size_t vh_tls_session_seal_size(VhTlsSession *sess, size_t len)
{
    return vh_tls_record_seal_size(&sess->wkeys, len);
}

bool vh_tls_session_seal(VhTlsSession *sess, const struct iovec *iov,
                         size_t niov, size_t skip, size_t len, char *out,
                         GError **errp)
{
    int ret = vh_tls_record_seal(&sess->wkeys, iov, niov, skip, len, out);

    if (ret < 0) {
        g_set_error(errp, VH_ERROR, VH_ERROR_FAILED, "TLS write failed: %s",
                    gnutls_strerror(ret));
        return false;
    }
    return true;
}

bool vh_tls_session_can_open(VhTlsSession *sess)
{
    return sess->records && sess->handshake_complete && !sess->read_eof &&
           gnutls_record_check_pending(sess->session) == 0 &&
           fresh_keys(sess, &sess->rkeys, &sess->rkeys_stale, true);
}

/* A record that cannot be opened ends the session's reading for good. */
static gssize open_failed(VhTlsSession *sess, int ret, GError **errp)
{
    sess->record_failed = ret;
    g_set_error(errp, VH_ERROR, VH_ERROR_FAILED, "TLS read failed: %s",
                gnutls_strerror(ret));
    return -1;
}

gssize vh_tls_session_record_size(VhTlsSession *sess, const char *hdr,
                                  GError **errp)
{
    gssize body;

    if (sess->record_failed) {
        return open_failed(sess, sess->record_failed, errp);
    }
    body = vh_tls_record_body_size(&sess->rkeys, hdr);
    if (body == VH_TLS_RECORD_NOT_DATA) {
        return VH_TLS_SESSION_ERR_NOT_DATA;
    }
    if (body < 0) {
        const unsigned char *h = (const unsigned char *)hdr;
        sess->record_failed = body;
        g_set_error(errp, VH_ERROR, VH_ERROR_FAILED,
                    "TLS read failed: the peer sent a record of %u bytes, "
                    "too large or too small for TLS 1.3 (%zu to %u)",
                    (unsigned)h[3] << 8 | h[4], sess->rkeys.tag_size + 1,
                    VH_TLS_RECORD_MAX_PLAIN + 256);
        return -1;
    }
    return VH_TLS_RECORD_HEADER + body;
}

size_t vh_tls_session_open_room(VhTlsSession *sess, size_t size)
{
    return size - VH_TLS_RECORD_HEADER - sess->rkeys.tag_size;
}

gssize vh_tls_session_open(VhTlsSession *sess, char *rec, size_t size,
                           char *dst, GError **errp)
{
    gssize n =
        vh_tls_record_open(&sess->rkeys, rec, size - VH_TLS_RECORD_HEADER, dst);

    if (n == VH_TLS_RECORD_NOT_DATA) {
        return VH_TLS_SESSION_ERR_NOT_DATA;
    }
    if (n < 0) {
        return open_failed(sess, n, errp);
    }
    return n;
}

bool vh_tls_session_is_handshake_complete(VhTlsSession *sess)
{
    return sess->handshake_complete;
}

/* A failed record call as a GError; returns -1. */
static gssize record_error(VhTlsSession *sess, int ret, const char *what,
                           GError **errp)
{
    g_autofree char *why = NULL;

    if (ret == GNUTLS_E_PREMATURE_TERMINATION ||
        (sess->transport_eof && ret == GNUTLS_E_UNEXPECTED_PACKET_LENGTH)) {
        g_set_error(errp, VH_ERROR, VH_ERROR_TLS_PREMATURE_EOF,
                    "The TLS peer closed the connection without sending "
                    "close-notify (premature termination)");
        return -1;
    }
    why = describe_gnutls_error(sess, ret);
    g_set_error(errp, VH_ERROR, VH_ERROR_FAILED, "TLS %s failed: %s", what,
                why);
    return -1;
}

static bool check_ready(VhTlsSession *sess, GError **errp)
{
    if (!sess->handshake_complete) {
        g_set_error(errp, VH_ERROR, VH_ERROR_FAILED,
                    "TLS I/O before the handshake completed");
        return false;
    }
    return true;
}

gssize vh_tls_session_read(VhTlsSession *sess, char *buf, size_t len,
                           GError **errp)
{
    if (!check_ready(sess, errp)) {
        return -1;
    }
    if (sess->record_failed) {
        return open_failed(sess, sess->record_failed, errp);
    }
    hand_over(sess);
    for (;;) {
        ssize_t ret = gnutls_record_recv(sess->session, buf, len);
        if (ret >= 0) {
            sess->read_eof = ret == 0 && len > 0;
            return ret;
        }
        switch (ret) {
        case GNUTLS_E_AGAIN:
        case GNUTLS_E_INTERRUPTED:
            return VH_TLS_SESSION_ERR_BLOCK;
        case GNUTLS_E_WARNING_ALERT_RECEIVED:
            /* a warning alert is not fatal: read on */
            continue;
        default:
            return record_error(sess, ret, "read", errp);
        }
    }
}

gssize vh_tls_session_readv(VhTlsSession *sess, const struct iovec *iov,
                            size_t niov, GError **errp)
{
    gssize total = 0;

    for (size_t i = 0; i < niov; i++) {
        size_t off = 0;
        while (off < iov[i].iov_len) {
            gssize n;
            if (total > 0 && vh_tls_session_check_pending(sess) == 0) {
                return total;
            }
            n = vh_tls_session_read(sess, (char *)iov[i].iov_base + off,
                                    iov[i].iov_len - off,
                                    total > 0 ? NULL : errp);
            if (n <= 0) {
                /* data already read is returned; the condition recurs */
                return total > 0 ? total : n;
            }
            off += n;
            total += n;
        }
    }
    return total;
}

/* Send one record of @len bytes; see vh_tls_session_writev. */
static gssize send_record(VhTlsSession *sess, const char *buf, size_t len,
                          GError **errp)
{
    ssize_t ret;

    hand_over(sess);
    ret = gnutls_record_send(sess->session, buf, len);

    if (ret >= 0) {
        return ret;
    }
    if (ret == GNUTLS_E_AGAIN || ret == GNUTLS_E_INTERRUPTED) {
        /*
         * GnuTLS has encrypted the record and keeps it: these bytes are
         * consumed, but reported as written only when the caller offers
         * them again (see flush_pending).
         */
        sess->write_flush = true;
        sess->write_credit = len;
        return VH_TLS_SESSION_ERR_BLOCK;
    }
    return record_error(sess, ret, "write", errp);
}

/* Copy up to @max bytes from @iov at (*idx, *off) into @dst, advancing. */
static size_t gather_iov(const struct iovec *iov, size_t niov, size_t *idx,
                         size_t *off, char *dst, size_t max)
{
    size_t got = 0;

    while (got < max && *idx < niov) {
        size_t take = MIN(max - got, iov[*idx].iov_len - *off);
        memcpy(dst + got, (const char *)iov[*idx].iov_base + *off, take);
        got += take;
        *off += take;
        if (*off == iov[*idx].iov_len) {
            (*idx)++;
            *off = 0;
        }
    }
    return got;
}

/*
 * Push out a record GnuTLS encrypted before a would-block. 0 when done,
 * else VH_TLS_SESSION_ERR_BLOCK or -1.
 */
static gssize flush_pending(VhTlsSession *sess, GError **errp)
{
    ssize_t ret = gnutls_record_send(sess->session, NULL, 0);

    if (ret == GNUTLS_E_AGAIN || ret == GNUTLS_E_INTERRUPTED) {
        return VH_TLS_SESSION_ERR_BLOCK;
    }
    sess->write_flush = false;
    if (ret < 0) {
        return record_error(sess, ret, "write", errp);
    }
    return 0;
}

/* Move (*idx, *off) forward by @n bytes. */
static void iov_skip(const struct iovec *iov, size_t niov, size_t *idx,
                     size_t *off, size_t n)
{
    while (n > 0 && *idx < niov) {
        size_t take = MIN(n, iov[*idx].iov_len - *off);
        n -= take;
        *off += take;
        if (*off == iov[*idx].iov_len) {
            (*idx)++;
            *off = 0;
        }
    }
}

gssize vh_tls_session_writev(VhTlsSession *sess, const struct iovec *iov,
                             size_t niov, GError **errp)
{
    size_t rec = gnutls_record_get_max_size(sess->session);
    size_t left = vh_iov_size(iov, niov);
    size_t idx = 0, off = 0;
    gssize total = 0;

    if (!check_ready(sess, errp)) {
        return -1;
    }
    if (sess->write_flush) {
        gssize ret = flush_pending(sess, errp);
        if (ret < 0) {
            return ret;
        }
    }
    if (sess->write_credit) {
        /*
         * The caller offers the stream from where it stopped, so its first
         * bytes are those GnuTLS already took: count them (however the
         * caller cut its iovs this time) instead of sending them twice.
         */
        size_t n = MIN(sess->write_credit, left);
        sess->write_credit -= n;
        iov_skip(iov, niov, &idx, &off, n);
        total = n;
        left -= n;
        if (sess->write_credit) {
            return total;
        }
    }
    while (left > 0) {
        const char *buf;
        size_t len;
        gssize n;

        while (iov[idx].iov_len == off) {
            idx++;
            off = 0;
        }
        if (iov[idx].iov_len - off >= rec || idx + 1 == niov) {
            /* a full record (or the last piece) straight from the caller */
            buf = (const char *)iov[idx].iov_base + off;
            len = MIN(rec, iov[idx].iov_len - off);
        } else {
            size_t gi = idx, go = off;
            if (!sess->gather) {
                sess->gather = g_malloc(rec);
            }
            len = gather_iov(iov, niov, &gi, &go, sess->gather, rec);
            buf = sess->gather;
        }
        n = send_record(sess, buf, len, total > 0 ? NULL : errp);
        if (n < 0) {
            return total > 0 ? total : n;
        }
        iov_skip(iov, niov, &idx, &off, n);
        total += n;
        left -= n;
    }
    return total;
}

gssize vh_tls_session_write(VhTlsSession *sess, const char *buf, size_t len,
                            GError **errp)
{
    struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};

    return vh_tls_session_writev(sess, &iov, 1, errp);
}

size_t vh_tls_session_check_pending(VhTlsSession *sess)
{
    return gnutls_record_check_pending(sess->session);
}

int vh_tls_session_bye(VhTlsSession *sess, GError **errp)
{
    int ret;

    if (sess->bye_sent || !sess->handshake_complete) {
        return 0;
    }
    hand_over(sess);
    ret = gnutls_bye(sess->session, GNUTLS_SHUT_WR);
    if (ret == GNUTLS_E_AGAIN || ret == GNUTLS_E_INTERRUPTED) {
        return VH_TLS_SESSION_ERR_BLOCK;
    }
    if (ret < 0) {
        g_autofree char *why = describe_gnutls_error(sess, ret);
        g_set_error(errp, VH_ERROR, VH_ERROR_FAILED,
                    "cannot send TLS close-notify: %s", why);
        return -1;
    }
    sess->bye_sent = true;
    return 0;
}

bool vh_tls_session_wants_write(VhTlsSession *sess)
{
    return gnutls_record_get_direction(sess->session) == 1;
}

const char *vh_tls_session_get_peer_name(VhTlsSession *sess)
{
    return sess->handshake_complete ? sess->peer_name : NULL;
}

const char *vh_tls_session_get_protocol(VhTlsSession *sess)
{
    if (!sess->handshake_complete) {
        return NULL;
    }
    return gnutls_protocol_get_name(gnutls_protocol_get_version(sess->session));
}

const char *vh_tls_session_get_cipher(VhTlsSession *sess)
{
    if (!sess->handshake_complete) {
        return NULL;
    }
    return gnutls_cipher_get_name(gnutls_cipher_get(sess->session));
}

const char *vh_tls_session_get_kx(VhTlsSession *sess)
{
    if (!sess->handshake_complete) {
        return NULL;
    }
    return gnutls_kx_get_name(gnutls_kx_get(sess->session));
}

char *vh_tls_session_get_description(VhTlsSession *sess)
{
    char *desc;
    char *out;

    if (!sess->handshake_complete) {
        return NULL;
    }
    desc = gnutls_session_get_desc(sess->session);
    out = g_strdup(desc);
    gnutls_free(desc);
    return out;
}

VhTlsHostnameCheck vh_tls_session_get_hostname_check(VhTlsSession *sess)
{
    return sess->hostname_check;
}

VhTlsCredsEndpoint vh_tls_session_get_endpoint(VhTlsSession *sess)
{
    return sess->endpoint;
}

gnutls_session_t vh_tls_session_get_gnutls(VhTlsSession *sess)
{
    return sess->session;
}
