/*
 * PEM files as the x509 credentials load them: the input is written to a
 * file and read as a certificate list (vh_crypto_load_certs()), a private
 * key (vh_crypto_load_key()), DH parameters (vh_crypto_load_dh_params())
 * and, through a tls-creds-x509 server object, a CRL (ca-crl.pem). Any
 * certificates that load go through the sanity checker in both its modes.
 *
 * Invariants: success xor an error naming the file; a loaded list has at
 * least one certificate, each with a readable DN or an error; the checker
 * returns false exactly when its report holds a FAIL, every item names a
 * file, and stopping at the first failure gives the same verdict and the
 * same message as collecting every item.
 */
#include "fuzz-common.h"

#include "vmhost/crypto/pki.h"
#include "vmhost/crypto/tls-creds-x509.h"
#include "vmhost/crypto/x509-check.h"

#include "lib/crypto/crypto-priv.h"

#include <glib/gstdio.h>

/* 2026-06-01: a fixed "now", so that runs do not change with the date. */
#define FUZZ_NOW ((time_t)1780272000)

typedef struct {
    char *file;    /* the input as a lone file */
    char *dh_dir;  /* holds dh-params.pem */
    char *crl_dir; /* a good ca-cert.pem and the input as ca-crl.pem */
    gnutls_x509_crt_t ca;
} Fixture;

static Fixture *fixture(void)
{
    static Fixture fx;

    if (!fx.file) {
        const char *top = fuzz_scratch_dir();
        g_autoptr(GError) err = NULL;
        g_autoptr(VhPkiKey) key =
            vh_pki_key_generate(VH_PKI_KEY_ECDSA_P256, &err);
        g_autofree char *ca_path = NULL;
        VhPkiCertSpec spec;

        g_assert_no_error(err);
        vh_pki_cert_spec_init_ca(&spec, "O=vmhost,CN=fuzz CA", 1);
        spec.activation = FUZZ_NOW - 365 * 86400;
        spec.expiration = FUZZ_NOW + 20 * 365 * 86400;
        fx.ca = vh_pki_cert_create(&spec, key, NULL, NULL, &err);
        g_assert_no_error(err);
        fx.file = g_build_filename(top, "input.pem", NULL);
        fx.dh_dir = g_build_filename(top, "dh", NULL);
        fx.crl_dir = g_build_filename(top, "crl", NULL);
        g_assert_cmpint(g_mkdir(fx.dh_dir, 0700), ==, 0);
        g_assert_cmpint(g_mkdir(fx.crl_dir, 0700), ==, 0);
        ca_path = g_build_filename(fx.crl_dir, VH_TLS_X509_CA_CERT, NULL);
        g_assert_true(vh_pki_cert_save(ca_path, &fx.ca, 1, true, &err));
        g_assert_no_error(err);
    }
    return &fx;
}

static void check_file_error(const GError *err, const char *path)
{
    g_assert_true(g_error_matches(err, VH_ERROR, VH_ERROR_CERT_FILE));
    g_assert_nonnull(strstr(err->message, path));
}

/* Run the checker over @in in @mode; returns its verdict. */
static bool run_checks(const VhX509CheckInput *in, VhX509ReportMode mode,
                       char **first_fail)
{
    g_autoptr(VhX509Report) report = vh_x509_report_new(mode);
    g_autoptr(GError) err = NULL;
    bool ok = vh_x509_check_identity(report, in);
    GPtrArray *items = vh_x509_report_get_items(report);

    g_assert_cmpint(ok, ==, !vh_x509_report_failed(report));
    g_assert_cmpint(vh_x509_report_propagate(report, &err), ==, ok);
    fuzz_assert_result(ok, err);
    *first_fail = NULL;
    for (guint i = 0; i < items->len; i++) {
        const VhX509CheckItem *item = g_ptr_array_index(items, i);
        g_assert_nonnull(item->check);
        g_assert_cmpstr(item->check, !=, "");
        g_assert_true(strstr(item->message, in->cert_file) ||
                      strstr(item->message, in->ca_file));
        if (item->status == VH_X509_CHECK_FAIL && !*first_fail) {
            *first_fail = g_strdup(item->message);
        }
    }
    if (!ok) {
        g_assert_nonnull(*first_fail);
        g_assert_cmpstr(err->message, ==, *first_fail);
    }
    return ok;
}

/* Both modes must agree: the rules are written once. */
static void check_chain(const Fixture *fx, gnutls_x509_crt_t *certs, size_t n,
                        const gnutls_x509_crt_t *cas, size_t ncas,
                        bool is_server)
{
    VhX509CheckInput in = {
        .is_server = is_server,
        .cert_file = fx->file,
        .certs = certs,
        .ncerts = n,
        .ca_file = "/fuzz/ca-cert.pem",
        .cas = cas,
        .ncas = ncas,
        .now = FUZZ_NOW,
        .warn_expiry_days = 30,
    };
    g_autofree char *stop_fail = NULL;
    g_autofree char *all_fail = NULL;
    bool stop_ok = run_checks(&in, VH_X509_REPORT_STOP_AT_FAIL, &stop_fail);
    bool all_ok = run_checks(&in, VH_X509_REPORT_COLLECT_ALL, &all_fail);

    g_assert_cmpint(stop_ok, ==, all_ok);
    g_assert_cmpstr(stop_fail, ==, all_fail);
}

static void fuzz_certs(const Fixture *fx, gnutls_x509_crt_t **out, size_t *nout)
{
    g_autoptr(GError) err = NULL;
    gnutls_x509_crt_t *certs = NULL;
    size_t n = 0;
    bool ok =
        vh_crypto_load_certs(fx->file, "fuzz certificate", &certs, &n, &err);

    fuzz_assert_result(ok, err);
    *out = NULL;
    *nout = 0;
    if (!ok) {
        check_file_error(err, fx->file);
        return;
    }
    g_assert_cmpuint(n, >, 0);
    for (size_t i = 0; i < n; i++) {
        g_autoptr(GError) dn_err = NULL;
        g_autofree char *dn = vh_x509_get_dn(certs[i], &dn_err);
        g_assert_nonnull(certs[i]);
        fuzz_assert_result(dn != NULL, dn_err);
    }
    check_chain(fx, certs, n, &fx->ca, 1, true);
    check_chain(fx, certs, n, certs, n, n % 2 == 0);
    *out = certs;
    *nout = n;
}

static void fuzz_key(const Fixture *fx, gnutls_x509_crt_t *certs, size_t n)
{
    g_autoptr(GError) err = NULL;
    g_auto(gnutls_x509_privkey_t) key =
        vh_crypto_load_key(fx->file, "fuzz private key", &err);

    fuzz_assert_result(key != NULL, err);
    if (!key) {
        check_file_error(err, fx->file);
        return;
    }
    g_assert_cmpint(gnutls_x509_privkey_get_pk_algorithm(key), >, 0);
    if (n > 0) {
        /* Only that it answers: the input may hold both halves. */
        (void)vh_x509_key_matches_cert(certs[0], key);
    }
}

static void fuzz_dh(const Fixture *fx, const uint8_t *data, size_t size)
{
    g_autofree char *path =
        g_build_filename(fx->dh_dir, VH_TLS_X509_DH_PARAMS, NULL);
    g_autoptr(GError) err = NULL;
    gnutls_dh_params_t params = NULL;
    bool ok;

    fuzz_write_file(path, data, size);
    ok = vh_crypto_load_dh_params(fx->dh_dir, &params, &err);
    fuzz_assert_result(ok, err);
    if (ok) {
        g_assert_nonnull(params); /* the file exists */
        gnutls_dh_params_deinit(params);
    } else {
        g_assert_null(params);
        check_file_error(err, path);
    }
}

/* A server with no certificate of its own: fails, naming a file. */
static void fuzz_crl(const Fixture *fx, const uint8_t *data, size_t size)
{
    g_autofree char *path =
        g_build_filename(fx->crl_dir, VH_TLS_X509_CA_CRL, NULL);
    g_autoptr(GError) err = NULL;
    g_autoptr(GObject) creds = NULL;

    fuzz_write_file(path, data, size);
    creds =
        g_initable_new(VH_TYPE_TLS_CREDS_X509, NULL, &err, "endpoint",
                       VH_TLS_CREDS_ENDPOINT_SERVER, "dir", fx->crl_dir, NULL);
    g_assert_null(creds);
    check_file_error(err, fx->crl_dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Fixture *fx = fixture();
    gnutls_x509_crt_t *certs = NULL;
    size_t n = 0;

    fuzz_write_file(fx->file, data, size);
    fuzz_certs(fx, &certs, &n);
    fuzz_key(fx, certs, n);
    vh_pki_cert_list_free(certs, n);
    fuzz_dh(fx, data, size);
    fuzz_crl(fx, data, size);
    return 0;
}
