#include "tls-testutil.h"

#include "crypto-testutil.h"
#include "vmhost/crypto/tls-creds-anon.h"
#include "vmhost/crypto/tls-creds-psk.h"
#include "vmhost/crypto/tls-creds-x509.h"

#include <glib/gstdio.h>

TlsTestPki *tls_test_pki_new(const char *ca_cn)
{
    TlsTestPki *pki = g_new0(TlsTestPki, 1);
    g_autoptr(GError) err = NULL;
    g_autofree char *dn = g_strdup_printf("C=UK,O=vmhost test,CN=%s", ca_cn);
    VhPkiCertSpec spec;

    pki->root = vh_test_mkdtemp("vh-tls-test");
    pki->ca_key = vh_pki_key_generate(VH_PKI_KEY_ECDSA_P256, &err);
    g_assert_no_error(err);
    vh_pki_cert_spec_init_ca(&spec, dn, 30);
    pki->ca = vh_pki_cert_create(&spec, pki->ca_key, NULL, NULL, &err);
    g_assert_no_error(err);
    return pki;
}

void tls_test_pki_free(TlsTestPki *pki)
{
    if (!pki) {
        return;
    }
    vh_test_rm_rf(pki->root);
    g_free(pki->root);
    gnutls_x509_crt_deinit(pki->ca);
    vh_pki_key_unref(pki->ca_key);
    g_free(pki);
}

char *tls_test_pki_dir(TlsTestPki *pki, const char *name)
{
    char *dir = g_build_filename(pki->root, name, NULL);
    g_autofree char *ca = g_build_filename(dir, VH_TLS_X509_CA_CERT, NULL);
    g_autoptr(GError) err = NULL;

    g_assert_cmpint(g_mkdir_with_parents(dir, 0700), ==, 0);
    g_assert_true(vh_pki_cert_save(ca, &pki->ca, 1, true, &err));
    g_assert_no_error(err);
    return dir;
}

static void issue(TlsTestPki *pki, const char *dir, VhPkiCertSpec *spec,
                  VhPkiKey *key, const char *certname, const char *keyname)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *cpath = g_build_filename(dir, certname, NULL);
    g_autofree char *kpath = g_build_filename(dir, keyname, NULL);
    gnutls_x509_crt_t crt =
        vh_pki_cert_create(spec, key, pki->ca, pki->ca_key, &err);

    g_assert_no_error(err);
    g_assert_true(vh_pki_cert_save(cpath, &crt, 1, true, &err));
    g_assert_no_error(err);
    g_assert_true(vh_pki_key_save(key, kpath, true, &err));
    g_assert_no_error(err);
    gnutls_x509_crt_deinit(crt);
}

void tls_test_pki_issue_server(TlsTestPki *pki, const char *dir, const char *dn,
                               const char *const *dns, const char *const *ips,
                               time_t activation, time_t expiration)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(VhPkiKey) key = vh_pki_key_generate(VH_PKI_KEY_ECDSA_P256, &err);
    VhPkiCertSpec spec;

    g_assert_no_error(err);
    vh_pki_cert_spec_init_server(&spec, dn, VH_PKI_KEY_ECDSA_P256, dns, ips,
                                 30);
    if (activation) {
        spec.activation = activation;
    }
    if (expiration) {
        spec.expiration = expiration;
    }
    issue(pki, dir, &spec, key, VH_TLS_X509_SERVER_CERT,
          VH_TLS_X509_SERVER_KEY);
}

void tls_test_pki_issue_client(TlsTestPki *pki, const char *dir, const char *dn,
                               time_t activation, time_t expiration)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(VhPkiKey) key = vh_pki_key_generate(VH_PKI_KEY_ECDSA_P256, &err);
    VhPkiCertSpec spec;

    g_assert_no_error(err);
    vh_pki_cert_spec_init_client(&spec, dn, VH_PKI_KEY_ECDSA_P256, 30);
    if (activation) {
        spec.activation = activation;
    }
    if (expiration) {
        spec.expiration = expiration;
    }
    issue(pki, dir, &spec, key, VH_TLS_X509_CLIENT_CERT,
          VH_TLS_X509_CLIENT_KEY);
}

VhTlsCreds *tls_test_creds_x509_try(const char *dir,
                                    VhTlsCredsEndpoint endpoint,
                                    bool verify_peer, const char *priority,
                                    bool sanity_check, GError **errp)
{
    return g_initable_new(VH_TYPE_TLS_CREDS_X509, NULL, errp, "endpoint",
                          endpoint, "dir", dir, "verify-peer",
                          (gboolean)verify_peer, "priority", priority,
                          "sanity-check", (gboolean)sanity_check, NULL);
}

VhTlsCreds *tls_test_creds_x509(const char *dir, VhTlsCredsEndpoint endpoint,
                                bool verify_peer, const char *priority,
                                bool sanity_check)
{
    g_autoptr(GError) err = NULL;
    VhTlsCreds *creds = tls_test_creds_x509_try(dir, endpoint, verify_peer,
                                                priority, sanity_check, &err);

    g_assert_no_error(err);
    return creds;
}

VhTlsCreds *tls_test_creds_anon(VhTlsCredsEndpoint endpoint,
                                const char *priority)
{
    g_autoptr(GError) err = NULL;
    VhTlsCreds *creds =
        g_initable_new(VH_TYPE_TLS_CREDS_ANON, NULL, &err, "endpoint", endpoint,
                       "priority", priority, NULL);

    g_assert_no_error(err);
    return creds;
}

VhTlsCreds *tls_test_creds_psk(const char *dir, const char *keys_psk,
                               VhTlsCredsEndpoint endpoint,
                               const char *username, const char *priority)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *path = g_build_filename(dir, VH_TLS_PSK_KEYS_FILE, NULL);
    VhTlsCreds *creds;

    g_assert_cmpint(g_mkdir_with_parents(dir, 0700), ==, 0);
    g_assert_true(g_file_set_contents(path, keys_psk, -1, &err));
    g_assert_no_error(err);
    if (username) {
        creds = g_initable_new(VH_TYPE_TLS_CREDS_PSK, NULL, &err, "endpoint",
                               endpoint, "dir", dir, "username", username,
                               "priority", priority, NULL);
    } else {
        creds =
            g_initable_new(VH_TYPE_TLS_CREDS_PSK, NULL, &err, "endpoint",
                           endpoint, "dir", dir, "priority", priority, NULL);
    }
    g_assert_no_error(err);
    return creds;
}
