#include "vmhost/crypto/tls-creds-x509.h"

#include "vmhost/crypto/pki.h"
#include "vmhost/crypto/x509-check.h"

#include "crypto-priv.h"

#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

struct _VhTlsCredsX509 {
    VhTlsCreds parent;

    VhTlsCredsX509Sanity sanity;
    GPtrArray *warnings; /* of char *: what loading found but let pass */
    /* Explicit files (libvirt's layout) instead of names inside "dir". */
    char *ca_file;
    char *crl_file;
    char *cert_file;
    char *key_file;
    gnutls_certificate_credentials_t cred;
    gnutls_dh_params_t dh_params;
    unsigned int n_identities;
};

enum {
    PROP_0,
    PROP_SANITY_CHECK,
    PROP_CA_FILE,
    PROP_CRL_FILE,
    PROP_CERT_FILE,
    PROP_KEY_FILE,
    N_PROPS,
};

static GParamSpec *props[N_PROPS];

G_DEFINE_FINAL_TYPE(VhTlsCredsX509, vh_tls_creds_x509, VH_TYPE_TLS_CREDS)

/* The CA bundle, kept while identities are loaded and checked. */
typedef struct {
    char *path;
    gnutls_x509_crt_t *certs;
    size_t n;
} CaBundle;

static void ca_bundle_clear(CaBundle *ca)
{
    g_free(ca->path);
    vh_pki_cert_list_free(ca->certs, ca->n);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(CaBundle, ca_bundle_clear)

static bool check_dir(const char *dir, GError **errp)
{
    struct stat st;

    if (!dir || !dir[0]) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "tls-creds-x509 needs a 'dir' property");
        return false;
    }
    if (stat(dir, &st) < 0) {
        g_set_error(errp, VH_ERROR, VH_ERROR_CERT_FILE,
                    "Unable to access credentials directory %s: %s", dir,
                    g_strerror(errno));
        return false;
    }
    if (!S_ISDIR(st.st_mode)) {
        g_set_error(errp, VH_ERROR, VH_ERROR_CERT_FILE,
                    "Unable to access credentials directory %s: %s", dir,
                    g_strerror(ENOTDIR));
        return false;
    }
    if (access(dir, R_OK | X_OK) < 0) {
        g_set_error(errp, VH_ERROR, VH_ERROR_CERT_FILE,
                    "Unable to access credentials directory %s: %s", dir,
                    g_strerror(errno));
        return false;
    }
    return true;
}

/* Files mode: ca-file is set, and "dir" is not used. */
static bool files_mode(VhTlsCredsX509 *self)
{
    return self->ca_file != NULL;
}

/* @explicit_path in files mode, else @name inside @dir. (transfer full) */
static char *file_path(VhTlsCredsX509 *self, const char *dir,
                       const char *explicit_path, const char *name)
{
    if (files_mode(self)) {
        return g_strdup(explicit_path);
    }
    return g_build_filename(dir, name, NULL);
}

static bool load_ca(VhTlsCredsX509 *self, const char *dir, CaBundle *ca,
                    GError **errp)
{
    int rc;

    ca->path = file_path(self, dir, self->ca_file, VH_TLS_X509_CA_CERT);
    if (!vh_crypto_load_certs(ca->path, "CA certificate", &ca->certs, &ca->n,
                              errp)) {
        return false;
    }
    rc = gnutls_certificate_set_x509_trust(self->cred, ca->certs, ca->n);
    if (rc < 0) {
        g_set_error(errp, VH_ERROR, VH_ERROR_CERT_FILE,
                    "Unable to use CA certificate %s: %s", ca->path,
                    gnutls_strerror(rc));
        return false;
    }
    return true;
}

static bool load_crl(VhTlsCredsX509 *self, const char *dir, GError **errp)
{
    g_autofree char *path =
        file_path(self, dir, self->crl_file, VH_TLS_X509_CA_CRL);
    g_autofree char *data = NULL;
    gnutls_datum_t datum;
    size_t len = 0;
    int rc;

    if (!path || !g_file_test(path, G_FILE_TEST_EXISTS)) {
        return true;
    }
    data = vh_crypto_read_pem(path, "CA revocation list", &len, errp);
    if (!data) {
        return false;
    }
    datum.data = (unsigned char *)data;
    datum.size = len;
    rc = gnutls_certificate_set_x509_crl_mem(self->cred, &datum,
                                             GNUTLS_X509_FMT_PEM);
    if (rc <= 0) {
        g_set_error(errp, VH_ERROR, VH_ERROR_CERT_FILE,
                    "Unable to parse CA revocation list %s: %s", path,
                    rc < 0 ? gnutls_strerror(rc) : "no CRL in the file");
        return false;
    }
    return true;
}

static bool load_dh_params(VhTlsCredsX509 *self, const char *dir, GError **errp)
{
    if (files_mode(self)) {
        return true; /* libvirt's layout has no DH parameters file */
    }
    if (!vh_crypto_load_dh_params(dir, &self->dh_params, errp)) {
        return false;
    }
    if (self->dh_params) {
        gnutls_certificate_set_dh_params(self->cred, self->dh_params);
    }
    return true;
}

/*
 * A private key others can read: a warning (logged, and kept for info tls)
 * with sanity-check=on, an error with sanity-check=strict, not looked at
 * with sanity-check=off (QEMU checks no permissions at all).
 */
static bool check_key_permissions(VhTlsCredsX509 *self, const char *key_path,
                                  GError **errp)
{
    g_autoptr(VhX509Report) report = NULL;
    GPtrArray *items;

    if (self->sanity == VH_TLS_CREDS_X509_SANITY_OFF) {
        return true;
    }
    report = vh_x509_report_new(VH_X509_REPORT_COLLECT_ALL);
    vh_x509_check_key_permissions(report, key_path);
    if (self->sanity == VH_TLS_CREDS_X509_SANITY_STRICT) {
        return vh_x509_report_propagate(report, errp);
    }
    items = vh_x509_report_get_items(report);
    for (guint i = 0; i < items->len; i++) {
        VhX509CheckItem *item = g_ptr_array_index(items, i);

        if (item->status == VH_X509_CHECK_FAIL) {
            g_warning("%s (sanity-check=strict refuses it)", item->message);
            g_ptr_array_add(self->warnings, g_strdup(item->message));
        }
    }
    return true;
}

/* One identity: @cert_path + @key_path. */
static bool load_identity(VhTlsCredsX509 *self, const CaBundle *ca,
                          const char *cert_path, const char *key_path,
                          GError **errp)
{
    bool is_server = vh_tls_creds_get_endpoint(VH_TLS_CREDS(self)) ==
                     VH_TLS_CREDS_ENDPOINT_SERVER;
    const char *role = is_server ? "server" : "client";
    g_autofree char *cert_what = g_strdup_printf("%s certificate", role);
    g_autofree char *key_what = g_strdup_printf("%s private key", role);
    g_auto(VhCertList) chain = {0};
    g_auto(gnutls_x509_privkey_t) key = NULL;
    int rc;

    if (!vh_crypto_load_certs(cert_path, cert_what, &chain.certs, &chain.n,
                              errp)) {
        return false;
    }
    key = vh_crypto_load_key(key_path, key_what, errp);
    if (!key) {
        return false;
    }
    if (!check_key_permissions(self, key_path, errp)) {
        return false;
    }
    if (self->sanity != VH_TLS_CREDS_X509_SANITY_OFF) {
        g_autoptr(VhX509Report) report =
            vh_x509_report_new(VH_X509_REPORT_STOP_AT_FAIL);
        VhX509CheckInput in = {
            .is_server = is_server,
            .cert_file = cert_path,
            .certs = chain.certs,
            .ncerts = chain.n,
            .ca_file = ca->path,
            .cas = ca->certs,
            .ncas = ca->n,
        };
        if (!vh_x509_check_identity(report, &in)) {
            return vh_x509_report_propagate(report, errp);
        }
    }
    if (!vh_x509_key_matches_cert(chain.certs[0], key)) {
        g_set_error(errp, VH_ERROR, VH_ERROR_CERT_FILE,
                    "%s does not match %s (the key is not the "
                    "certificate's public key)",
                    key_path, cert_path);
        return false;
    }
    rc = gnutls_certificate_set_x509_key(self->cred, chain.certs, chain.n, key);
    if (rc < 0) {
        g_set_error(errp, VH_ERROR, VH_ERROR_CERT_FILE,
                    "Unable to use %s with %s: %s", cert_path, key_path,
                    gnutls_strerror(rc));
        return false;
    }
    self->n_identities++;
    return true;
}

static bool file_exists(const char *dir, const char *name)
{
    g_autofree char *path = g_build_filename(dir, name, NULL);

    return g_file_test(path, G_FILE_TEST_EXISTS);
}

/* Load @cert_name + @key_name inside @dir. */
static bool load_identity_in(VhTlsCredsX509 *self, const char *dir,
                             const CaBundle *ca, const char *cert_name,
                             const char *key_name, GError **errp)
{
    g_autofree char *cert_path = g_build_filename(dir, cert_name, NULL);
    g_autofree char *key_path = g_build_filename(dir, key_name, NULL);

    return load_identity(self, ca, cert_path, key_path, errp);
}

/* Files mode: cert-file and key-file, both or (client only) neither. */
static bool load_file_identity(VhTlsCredsX509 *self, const CaBundle *ca,
                               bool is_server, GError **errp)
{
    if (!self->cert_file && !self->key_file && !is_server) {
        return true; /* a client without a certificate of its own */
    }
    if (!self->cert_file || !self->key_file) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "tls-creds-x509 with ca-file needs both cert-file and "
                    "key-file%s",
                    is_server ? "" : " or neither");
        return false;
    }
    return load_identity(self, ca, self->cert_file, self->key_file, errp);
}

static bool load_server_identities(VhTlsCredsX509 *self, const char *dir,
                                   const CaBundle *ca, GError **errp)
{
    if (files_mode(self)) {
        return load_file_identity(self, ca, true, errp);
    }
    if (!load_identity_in(self, dir, ca, VH_TLS_X509_SERVER_CERT,
                          VH_TLS_X509_SERVER_KEY, errp)) {
        return false;
    }
    for (int i = 0; i < VH_TLS_X509_MAX_EXTRA_IDENTITIES; i++) {
        g_autofree char *cert = g_strdup_printf("server-cert-%d.pem", i);
        g_autofree char *key = g_strdup_printf("server-key-%d.pem", i);

        if (!file_exists(dir, cert)) {
            break;
        }
        if (!file_exists(dir, key)) {
            g_set_error(errp, VH_ERROR, VH_ERROR_CERT_FILE,
                        "%s in %s has no matching private key %s", cert, dir,
                        key);
            return false;
        }
        if (!load_identity_in(self, dir, ca, cert, key, errp)) {
            return false;
        }
    }
    return true;
}

static bool load_client_identity(VhTlsCredsX509 *self, const char *dir,
                                 const CaBundle *ca, GError **errp)
{
    bool have_cert;
    bool have_key;

    if (files_mode(self)) {
        return load_file_identity(self, ca, false, errp);
    }
    have_cert = file_exists(dir, VH_TLS_X509_CLIENT_CERT);
    have_key = file_exists(dir, VH_TLS_X509_CLIENT_KEY);
    if (have_cert != have_key) {
        g_set_error(
            errp, VH_ERROR, VH_ERROR_CERT_FILE,
            "%s in %s has no matching %s: provide both or neither",
            have_cert ? VH_TLS_X509_CLIENT_CERT : VH_TLS_X509_CLIENT_KEY, dir,
            have_cert ? VH_TLS_X509_CLIENT_KEY : VH_TLS_X509_CLIENT_CERT);
        return false;
    }
    if (!have_cert) {
        return true; /* a client without a certificate of its own */
    }
    return load_identity_in(self, dir, ca, VH_TLS_X509_CLIENT_CERT,
                            VH_TLS_X509_CLIENT_KEY, errp);
}

static bool vh_tls_creds_x509_load(VhTlsCreds *creds, GError **errp)
{
    VhTlsCredsX509 *self = VH_TLS_CREDS_X509(creds);
    const char *dir = vh_tls_creds_get_dir(creds);
    bool is_server =
        vh_tls_creds_get_endpoint(creds) == VH_TLS_CREDS_ENDPOINT_SERVER;
    g_auto(CaBundle) ca = {0};
    bool ok;
    int rc;

    if (!files_mode(self) && !check_dir(dir, errp)) {
        return false;
    }
    rc = gnutls_certificate_allocate_credentials(&self->cred);
    if (rc < 0) {
        g_set_error(errp, VH_ERROR, VH_ERROR_FAILED,
                    "Unable to allocate x509 credentials: %s",
                    gnutls_strerror(rc));
        return false;
    }
    /*
     * GnuTLS's default verification flags are what we want: no v1 CAs, no
     * broken signature algorithms; the peer checks live in VhTlsSession.
     */
    ok = load_ca(self, dir, &ca, errp);
    if (ok && is_server) {
        ok = load_crl(self, dir, errp) &&
             load_server_identities(self, dir, &ca, errp) &&
             load_dh_params(self, dir, errp);
    } else if (ok) {
        ok = load_client_identity(self, dir, &ca, errp);
    }
    return ok;
}

static bool vh_tls_creds_x509_apply(VhTlsCreds *creds, gnutls_session_t session,
                                    GError **errp)
{
    VhTlsCredsX509 *self = VH_TLS_CREDS_X509(creds);
    int rc =
        gnutls_credentials_set(session, GNUTLS_CRD_CERTIFICATE, self->cred);

    if (rc < 0) {
        g_set_error(errp, VH_ERROR, VH_ERROR_FAILED,
                    "Unable to set x509 credentials on the TLS session: %s",
                    gnutls_strerror(rc));
        return false;
    }
    if (vh_tls_creds_get_endpoint(creds) == VH_TLS_CREDS_ENDPOINT_SERVER &&
        vh_tls_creds_get_verify_peer(creds)) {
        gnutls_certificate_server_set_request(session, GNUTLS_CERT_REQUIRE);
    }
    return true;
}

static void vh_tls_creds_x509_set_property(GObject *obj, guint id,
                                           const GValue *value,
                                           GParamSpec *pspec)
{
    VhTlsCredsX509 *self = VH_TLS_CREDS_X509(obj);

    switch (id) {
    case PROP_SANITY_CHECK:
        self->sanity = g_value_get_enum(value);
        break;
    case PROP_CA_FILE:
        g_free(self->ca_file);
        self->ca_file = g_value_dup_string(value);
        break;
    case PROP_CRL_FILE:
        g_free(self->crl_file);
        self->crl_file = g_value_dup_string(value);
        break;
    case PROP_CERT_FILE:
        g_free(self->cert_file);
        self->cert_file = g_value_dup_string(value);
        break;
    case PROP_KEY_FILE:
        g_free(self->key_file);
        self->key_file = g_value_dup_string(value);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, id, pspec);
        break;
    }
}

static void vh_tls_creds_x509_get_property(GObject *obj, guint id,
                                           GValue *value, GParamSpec *pspec)
{
    VhTlsCredsX509 *self = VH_TLS_CREDS_X509(obj);

    switch (id) {
    case PROP_SANITY_CHECK:
        g_value_set_enum(value, self->sanity);
        break;
    case PROP_CA_FILE:
        g_value_set_string(value, self->ca_file);
        break;
    case PROP_CRL_FILE:
        g_value_set_string(value, self->crl_file);
        break;
    case PROP_CERT_FILE:
        g_value_set_string(value, self->cert_file);
        break;
    case PROP_KEY_FILE:
        g_value_set_string(value, self->key_file);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, id, pspec);
        break;
    }
}

static void vh_tls_creds_x509_finalize(GObject *obj)
{
    VhTlsCredsX509 *self = VH_TLS_CREDS_X509(obj);

    if (self->cred) {
        gnutls_certificate_free_credentials(self->cred);
    }
    if (self->dh_params) {
        gnutls_dh_params_deinit(self->dh_params);
    }
    g_free(self->ca_file);
    g_free(self->crl_file);
    g_free(self->cert_file);
    g_free(self->key_file);
    g_ptr_array_unref(self->warnings);
    G_OBJECT_CLASS(vh_tls_creds_x509_parent_class)->finalize(obj);
}

static void vh_tls_creds_x509_class_init(VhTlsCredsX509Class *klass)
{
    GObjectClass *oclass = G_OBJECT_CLASS(klass);
    VhTlsCredsClass *cclass = VH_TLS_CREDS_CLASS(klass);

    oclass->set_property = vh_tls_creds_x509_set_property;
    oclass->get_property = vh_tls_creds_x509_get_property;
    oclass->finalize = vh_tls_creds_x509_finalize;
    cclass->load = vh_tls_creds_x509_load;
    cclass->apply = vh_tls_creds_x509_apply;

    props[PROP_SANITY_CHECK] = g_param_spec_enum(
        "sanity-check", "Sanity check",
        "Check the certificates against QEMU's rules when loading (on), "
        "also refuse a private key others can read (strict), or not (off)",
        VH_TYPE_TLS_CREDS_X509_SANITY, VH_TLS_CREDS_X509_SANITY_ON,
        G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
    props[PROP_CA_FILE] = g_param_spec_string(
        "ca-file", "CA file",
        "CA certificate file; when set, the four files replace \"dir\"", NULL,
        G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
    props[PROP_CRL_FILE] = g_param_spec_string(
        "crl-file", "CRL file", "CA revocation list file (optional)", NULL,
        G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
    props[PROP_CERT_FILE] = g_param_spec_string(
        "cert-file", "Certificate file", "Own certificate (chain) file", NULL,
        G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
    props[PROP_KEY_FILE] = g_param_spec_string(
        "key-file", "Key file", "Own private key file", NULL,
        G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
    g_object_class_install_properties(oclass, N_PROPS, props);
}

static void vh_tls_creds_x509_init(VhTlsCredsX509 *self)
{
    self->sanity = VH_TLS_CREDS_X509_SANITY_ON;
    self->warnings = g_ptr_array_new_with_free_func(g_free);
}

bool vh_tls_creds_x509_get_sanity_check(VhTlsCredsX509 *creds)
{
    return creds->sanity != VH_TLS_CREDS_X509_SANITY_OFF;
}

VhTlsCredsX509Sanity vh_tls_creds_x509_get_sanity_mode(VhTlsCredsX509 *creds)
{
    return creds->sanity;
}

GPtrArray *vh_tls_creds_x509_get_warnings(VhTlsCredsX509 *creds)
{
    return creds->warnings;
}

GType vh_tls_creds_x509_sanity_get_type(void)
{
    /*
     * on/off keep QEMU's boolean spellings (and TRUE/FALSE from C, 1/0):
     * the aliases come after the names get_property reports.
     */
    static const GEnumValue values[] = {
        {VH_TLS_CREDS_X509_SANITY_OFF, "VH_TLS_CREDS_X509_SANITY_OFF", "off"},
        {VH_TLS_CREDS_X509_SANITY_ON, "VH_TLS_CREDS_X509_SANITY_ON", "on"},
        {VH_TLS_CREDS_X509_SANITY_STRICT, "VH_TLS_CREDS_X509_SANITY_STRICT",
         "strict"},
        {VH_TLS_CREDS_X509_SANITY_OFF, "VH_TLS_CREDS_X509_SANITY_NO", "no"},
        {VH_TLS_CREDS_X509_SANITY_OFF, "VH_TLS_CREDS_X509_SANITY_FALSE",
         "false"},
        {VH_TLS_CREDS_X509_SANITY_ON, "VH_TLS_CREDS_X509_SANITY_YES", "yes"},
        {VH_TLS_CREDS_X509_SANITY_ON, "VH_TLS_CREDS_X509_SANITY_TRUE", "true"},
        {0, NULL, NULL},
    };
    static gsize type_id;

    if (g_once_init_enter(&type_id)) {
        GType t = g_enum_register_static(
            g_intern_static_string("VhTlsCredsX509Sanity"), values);
        g_once_init_leave(&type_id, t);
    }
    return type_id;
}

unsigned int vh_tls_creds_x509_get_n_identities(VhTlsCredsX509 *creds)
{
    return creds->n_identities;
}

gnutls_certificate_credentials_t
vh_tls_creds_x509_get_gnutls(VhTlsCredsX509 *creds)
{
    return creds->cred;
}
