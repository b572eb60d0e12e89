/* Tests for PKI generation (lib/crypto/pki.c). */
#include "vmhost/crypto/pki.h"

#include "crypto-testutil.h"

#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>

static char *tmpdir;

static char *tmp_path(const char *name)
{
    return g_build_filename(tmpdir, name, NULL);
}

static void test_key_types(void)
{
    static const VhPkiKeyType types[] = {
        VH_PKI_KEY_ECDSA_P256, VH_PKI_KEY_ECDSA_P384, VH_PKI_KEY_ED25519,
        VH_PKI_KEY_RSA_2048};

    for (size_t i = 0; i < G_N_ELEMENTS(types); i++) {
        g_autoptr(GError) err = NULL;
        g_autoptr(VhPkiKey) key = vh_pki_key_generate(types[i], &err);
        g_autoptr(VhPkiKey) back = NULL;
        g_autofree char *path = tmp_path(vh_pki_key_type_name(types[i]));
        g_autofree char *pem1 = NULL;
        g_autofree char *pem2 = NULL;
        VhPkiCertSpec spec;
        g_auto(gnutls_x509_crt_t) crt = NULL;
        unsigned int status = 0;

        g_assert_no_error(err);
        g_assert_cmpint(vh_pki_key_get_type(key), ==, types[i]);
        g_assert_true(vh_pki_key_save(key, path, false, &err));
        g_assert_no_error(err);
        back = vh_pki_key_load(path, &err);
        g_assert_no_error(err);
        g_assert_cmpint(vh_pki_key_get_type(back), ==, types[i]);
        pem1 = vh_pki_key_export_pem(key, &err);
        pem2 = vh_pki_key_export_pem(back, &err);
        g_assert_cmpstr(pem1, ==, pem2);

        /* Every key type signs a working self-signed CA. */
        vh_pki_cert_spec_init_ca(&spec, "CN=ca", 10);
        crt = vh_pki_cert_create(&spec, key, NULL, NULL, &err);
        g_assert_no_error(err);
        g_assert_cmpint(gnutls_x509_crt_verify(crt, &crt, 1, 0, &status), ==,
                        0);
        g_assert_cmpuint(status, ==, 0);
    }
}

static void test_key_type_names(void)
{
    g_autoptr(GError) err = NULL;
    VhPkiKeyType type = VH_PKI_KEY_ED25519;

    g_assert_true(vh_pki_key_type_from_name("ecdsa-p384", &type, &err));
    g_assert_cmpint(type, ==, VH_PKI_KEY_ECDSA_P384);
    g_assert_true(vh_pki_key_type_from_name("rsa-3072", &type, &err));
    g_assert_cmpint(type, ==, VH_PKI_KEY_RSA_3072);
    g_assert_false(vh_pki_key_type_from_name("dsa", &type, &err));
    g_assert_error(err, VH_ERROR, VH_ERROR_INVALID_ARGUMENT);
    g_assert_nonnull(strstr(err->message, "'dsa'"));
}

static void test_key_save_mode_and_overwrite(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(VhPkiKey) key = vh_pki_key_generate(VH_PKI_KEY_ECDSA_P256, &err);
    g_autofree char *path = tmp_path("mode-key.pem");
    struct stat st;

    g_assert_true(vh_pki_key_save(key, path, false, &err));
    g_assert_cmpint(g_stat(path, &st), ==, 0);
    g_assert_cmpint(st.st_mode & 0777, ==, 0600);
    g_assert_false(vh_pki_key_save(key, path, false, &err));
    g_assert_error(err, VH_ERROR, VH_ERROR_CERT_FILE);
    g_assert_nonnull(strstr(err->message, "Refusing to overwrite"));
    g_assert_nonnull(strstr(err->message, path));
    g_clear_error(&err);
    g_assert_true(vh_pki_key_save(key, path, true, &err));
    g_assert_no_error(err);
}

static void test_key_load_errors(void)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *missing = tmp_path("missing-key.pem");
    g_autofree char *junk = tmp_path("junk-key.pem");
    VhPkiKey *key;

    key = vh_pki_key_load(missing, &err);
    g_assert_null(key);
    g_assert_error(err, VH_ERROR, VH_ERROR_CERT_FILE);
    g_assert_nonnull(strstr(err->message, "No such file or directory"));
    g_clear_error(&err);

    g_assert_true(g_file_set_contents(junk,
                                      "-----BEGIN PRIVATE KEY-----\n"
                                      "bm9wZQ==\n"
                                      "-----END PRIVATE KEY-----\n",
                                      -1, NULL));
    key = vh_pki_key_load(junk, &err);
    g_assert_null(key);
    g_assert_error(err, VH_ERROR, VH_ERROR_CERT_FILE);
    g_assert_nonnull(strstr(err->message, "Unable to parse private key"));
    g_assert_nonnull(strstr(err->message, junk));
}

static void test_presets(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(VhPkiKey) cakey =
        vh_pki_key_generate(VH_PKI_KEY_ECDSA_P256, &err);
    g_autoptr(VhPkiKey) key = vh_pki_key_generate(VH_PKI_KEY_ECDSA_P256, &err);
    const char *dns[] = {"host1.example.org", "host1", NULL};
    const char *ips[] = {"192.0.2.1", "2001:db8::1", NULL};
    VhPkiCertSpec spec;
    g_auto(gnutls_x509_crt_t) ca = NULL;
    g_auto(gnutls_x509_crt_t) srv = NULL;
    g_auto(gnutls_x509_crt_t) cli = NULL;
    unsigned int usage = 0, critical = 0, ca_flag = 0;
    int pathlen = 0;
    char oid[128];
    size_t size = sizeof(oid);
    char dn[256];
    size_t dnsize = sizeof(dn);
    unsigned int status = 1;

    vh_pki_cert_spec_init_ca(&spec, "C=UK,O=vmhost,CN=test CA", 30);
    ca = vh_pki_cert_create(&spec, cakey, NULL, NULL, &err);
    g_assert_no_error(err);
    g_assert_cmpint(gnutls_x509_crt_get_basic_constraints(ca, &critical,
                                                          &ca_flag, &pathlen),
                    >=, 0);
    g_assert_true(critical && ca_flag);
    g_assert_cmpint(gnutls_x509_crt_get_key_usage(ca, &usage, &critical), >=,
                    0);
    g_assert_true(usage & GNUTLS_KEY_KEY_CERT_SIGN);

    vh_pki_cert_spec_init_server(&spec, "C=UK,O=vmhost,CN=host1",
                                 VH_PKI_KEY_ECDSA_P256, dns, ips, 30);
    srv = vh_pki_cert_create(&spec, key, ca, cakey, &err);
    g_assert_no_error(err);
    g_assert_cmpint(gnutls_x509_crt_verify(srv, &ca, 1, 0, &status), ==, 0);
    g_assert_cmpuint(status, ==, 0);
    g_assert_true(gnutls_x509_crt_check_hostname(srv, "host1.example.org"));
    g_assert_true(gnutls_x509_crt_check_hostname(srv, "host1"));
    g_assert_true(gnutls_x509_crt_check_ip(
        srv, (const unsigned char *)"\xc0\x00\x02\x01", 4, 0));
    g_assert_false(gnutls_x509_crt_check_hostname(srv, "host2"));
    g_assert_cmpint(
        gnutls_x509_crt_get_key_purpose_oid(srv, 0, oid, &size, &critical), ==,
        0);
    g_assert_cmpstr(oid, ==, GNUTLS_KP_TLS_WWW_SERVER);
    g_assert_false(critical);
    g_assert_cmpint(gnutls_x509_crt_get_dn(srv, dn, &dnsize), ==, 0);
    g_assert_cmpstr(dn, ==, "C=UK,O=vmhost,CN=host1");

    /* Escaped commas stay inside their RDN. */
    vh_pki_cert_spec_init_client(&spec, "O=a\\,b,OU=x,CN=z",
                                 VH_PKI_KEY_ECDSA_P256, 30);
    g_auto(gnutls_x509_crt_t) esc =
        vh_pki_cert_create(&spec, key, NULL, NULL, &err);
    g_assert_no_error(err);
    dnsize = sizeof(dn);
    g_assert_cmpint(gnutls_x509_crt_get_dn(esc, dn, &dnsize), ==, 0);
    g_test_message("escaped DN: %s", dn);
    g_assert_cmpstr(dn, ==, "O=a\\,b,OU=x,CN=z");

    vh_pki_cert_spec_init_client(&spec, "C=UK,CN=qemu", VH_PKI_KEY_ECDSA_P256,
                                 30);
    cli = vh_pki_cert_create(&spec, key, ca, cakey, &err);
    g_assert_no_error(err);
    size = sizeof(oid);
    g_assert_cmpint(
        gnutls_x509_crt_get_key_purpose_oid(cli, 0, oid, &size, &critical), ==,
        0);
    g_assert_cmpstr(oid, ==, GNUTLS_KP_TLS_WWW_CLIENT);
}

static void test_spec_extensions(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(VhPkiKey) key = vh_pki_key_generate(VH_PKI_KEY_ECDSA_P256, &err);
    const char *purposes[] = {GNUTLS_KP_ANY, GNUTLS_KP_TLS_WWW_CLIENT, NULL};
    VhPkiCertSpec spec = {
        .dn = "CN=odd",
        .serial = 0x1234,
        .activation = 1000000000,
        .expiration = 1100000000,
        .basic_constraints = VH_PKI_EXT_NONCRITICAL,
        .is_ca = true,
        .path_len = 2,
        .key_usage = VH_PKI_EXT_NONCRITICAL,
        .key_usage_bits = GNUTLS_KEY_DIGITAL_SIGNATURE,
        .key_purpose = VH_PKI_EXT_CRITICAL,
        .key_purposes = purposes,
        .no_subject_key_id = true,
        .no_authority_key_id = true,
    };
    g_auto(gnutls_x509_crt_t) crt =
        vh_pki_cert_create(&spec, key, NULL, NULL, &err);
    unsigned int critical = 1, ca = 0, usage = 0;
    int pathlen = 0;
    unsigned char serial[16];
    size_t size = sizeof(serial);
    char oid[128];
    unsigned char id[64];

    g_assert_no_error(err);
    g_assert_cmpint(gnutls_x509_crt_get_activation_time(crt), ==, 1000000000);
    g_assert_cmpint(gnutls_x509_crt_get_expiration_time(crt), ==, 1100000000);
    g_assert_cmpint(gnutls_x509_crt_get_serial(crt, serial, &size), ==, 0);
    g_assert_cmpuint(serial[size - 1], ==, 0x34);
    g_assert_cmpuint(serial[size - 2], ==, 0x12);
    g_assert_cmpint(
        gnutls_x509_crt_get_basic_constraints(crt, &critical, &ca, &pathlen),
        >=, 0);
    g_assert_false(critical);
    g_assert_true(ca);
    g_assert_cmpint(pathlen, ==, 2);
    critical = 1;
    g_assert_cmpint(gnutls_x509_crt_get_key_usage(crt, &usage, &critical), >=,
                    0);
    g_assert_false(critical);
    g_assert_cmpuint(usage, ==, GNUTLS_KEY_DIGITAL_SIGNATURE);
    size = sizeof(oid);
    g_assert_cmpint(
        gnutls_x509_crt_get_key_purpose_oid(crt, 1, oid, &size, &critical), ==,
        0);
    g_assert_true(critical);
    g_assert_cmpstr(oid, ==, GNUTLS_KP_TLS_WWW_CLIENT);
    size = sizeof(id);
    g_assert_cmpint(gnutls_x509_crt_get_subject_key_id(crt, id, &size, NULL), <,
                    0);

    /* All extensions absent. */
    memset(&spec, 0, sizeof(spec));
    spec.dn = "CN=bare";
    g_auto(gnutls_x509_crt_t) bare =
        vh_pki_cert_create(&spec, key, NULL, NULL, &err);
    g_assert_no_error(err);
    g_assert_cmpint(
        gnutls_x509_crt_get_basic_constraints(bare, NULL, &ca, &pathlen), ==,
        GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE);
    g_assert_cmpint(gnutls_x509_crt_get_key_usage(bare, &usage, NULL), ==,
                    GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE);
    size = sizeof(oid);
    g_assert_cmpint(
        gnutls_x509_crt_get_key_purpose_oid(bare, 0, oid, &size, NULL), ==,
        GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE);
}

static void test_spec_errors(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(VhPkiKey) key = vh_pki_key_generate(VH_PKI_KEY_ECDSA_P256, &err);
    const char *ips[] = {"300.1.1.1", NULL};
    VhPkiCertSpec spec;
    gnutls_x509_crt_t crt;

    vh_pki_cert_spec_init_ca(&spec, "XX=nope,CN=x", 1);
    crt = vh_pki_cert_create(&spec, key, NULL, NULL, &err);
    g_assert_null(crt);
    g_assert_error(err, VH_ERROR, VH_ERROR_INVALID_ARGUMENT);
    g_assert_nonnull(strstr(err->message, "invalid subject DN"));
    g_clear_error(&err);

    vh_pki_cert_spec_init_server(&spec, "CN=x", VH_PKI_KEY_ECDSA_P256, NULL,
                                 ips, 1);
    crt = vh_pki_cert_create(&spec, key, NULL, NULL, &err);
    g_assert_null(crt);
    g_assert_error(err, VH_ERROR, VH_ERROR_INVALID_ARGUMENT);
    g_assert_nonnull(strstr(err->message, "'300.1.1.1'"));
}

static void test_cert_bundle_roundtrip(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(VhPkiKey) key = vh_pki_key_generate(VH_PKI_KEY_ECDSA_P256, &err);
    g_autofree char *path = tmp_path("bundle.pem");
    g_autofree char *missing = tmp_path("missing.pem");
    g_autofree char *junk = tmp_path("junk.pem");
    VhPkiCertSpec spec;
    gnutls_x509_crt_t certs[3];
    gnutls_x509_crt_t *back = NULL;
    gnutls_x509_crt_t first;
    size_t n = 0;

    for (int i = 0; i < 3; i++) {
        g_autofree char *dn = g_strdup_printf("CN=ca%d", i);
        vh_pki_cert_spec_init_ca(&spec, dn, 1);
        certs[i] = vh_pki_cert_create(&spec, key, NULL, NULL, &err);
        g_assert_no_error(err);
    }
    g_assert_true(vh_pki_cert_save(path, certs, 3, false, &err));
    g_assert_false(vh_pki_cert_save(path, certs, 3, false, &err));
    g_assert_error(err, VH_ERROR, VH_ERROR_CERT_FILE);
    g_clear_error(&err);
    g_assert_true(vh_pki_cert_load_all(path, &back, &n, &err));
    g_assert_cmpuint(n, ==, 3);
    for (int i = 0; i < 3; i++) {
        g_assert_true(gnutls_x509_crt_equals(certs[i], back[i]));
    }
    vh_pki_cert_list_free(back, n);
    first = vh_pki_cert_load(path, &err);
    g_assert_true(gnutls_x509_crt_equals(certs[0], first));
    gnutls_x509_crt_deinit(first);

    g_assert_null(vh_pki_cert_load(missing, &err));
    g_assert_error(err, VH_ERROR, VH_ERROR_CERT_FILE);
    g_assert_nonnull(strstr(err->message, "Unable to read certificate"));
    g_clear_error(&err);
    g_assert_true(g_file_set_contents(junk, "not pem at all\n", -1, NULL));
    g_assert_null(vh_pki_cert_load(junk, &err));
    g_assert_error(err, VH_ERROR, VH_ERROR_CERT_FILE);
    g_assert_nonnull(strstr(err->message, "Unable to parse certificate"));
    g_clear_error(&err);
    /* A directory is not a certificate. */
    g_assert_null(vh_pki_cert_load(tmpdir, &err));
    g_assert_error(err, VH_ERROR, VH_ERROR_CERT_FILE);
    g_assert_nonnull(strstr(err->message, "not a regular file (a directory)"));
    g_clear_error(&err);

    for (int i = 0; i < 3; i++) {
        gnutls_x509_crt_deinit(certs[i]);
    }
}

static void test_crl(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(VhPkiKey) key = vh_pki_key_generate(VH_PKI_KEY_ECDSA_P256, &err);
    g_autofree char *path = tmp_path("crl.pem");
    VhPkiCertSpec spec;
    g_auto(gnutls_x509_crt_t) ca = NULL;
    g_auto(gnutls_x509_crt_t) leaf = NULL;
    g_auto(gnutls_x509_crl_t) crl = NULL;

    vh_pki_cert_spec_init_ca(&spec, "CN=crl ca", 1);
    ca = vh_pki_cert_create(&spec, key, NULL, NULL, &err);
    vh_pki_cert_spec_init_client(&spec, "CN=revoked", VH_PKI_KEY_ECDSA_P256, 1);
    leaf = vh_pki_cert_create(&spec, key, ca, key, &err);
    g_assert_no_error(err);
    crl = vh_pki_crl_create(ca, key, &leaf, 1, 30, &err);
    g_assert_no_error(err);
    g_assert_cmpint(gnutls_x509_crl_get_crt_count(crl), ==, 1);
    g_assert_cmpint(gnutls_x509_crt_check_revocation(leaf, &crl, 1), ==, 1);
    g_assert_true(vh_pki_crl_save(path, crl, false, &err));
    g_assert_no_error(err);
}

int main(int argc, char **argv)
{
    int rc;

    g_test_init(&argc, &argv, NULL);
    tmpdir = vh_test_mkdtemp("vh-pki");
    g_test_add_func("/crypto/pki/key-types", test_key_types);
    g_test_add_func("/crypto/pki/key-type-names", test_key_type_names);
    g_test_add_func("/crypto/pki/key-save-mode",
                    test_key_save_mode_and_overwrite);
    g_test_add_func("/crypto/pki/key-load-errors", test_key_load_errors);
    g_test_add_func("/crypto/pki/presets", test_presets);
    g_test_add_func("/crypto/pki/spec-extensions", test_spec_extensions);
    g_test_add_func("/crypto/pki/spec-errors", test_spec_errors);
    g_test_add_func("/crypto/pki/bundle", test_cert_bundle_roundtrip);
    g_test_add_func("/crypto/pki/crl", test_crl);
    rc = g_test_run();
    vh_test_rm_rf(tmpdir);
    g_free(tmpdir);
    return rc;
}
