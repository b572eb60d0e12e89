/*
 * Tests for tls-creds-x509 and the x509 sanity checks (lib/crypto/
 * tls-creds-x509.c, x509-check.c): a certificate matrix generated at test
 * time with pki.c, covering each rule on both sides of the line, plus
 * certificates made by certtool following QEMU's documented recipe.
 */
#include "vmhost/crypto/pki.h"
#include "vmhost/crypto/tls-creds-x509.h"
#include "vmhost/crypto/x509-check.h"

#include "crypto-testutil.h"

#include <glib/gstdio.h>
#include <grp.h>
#include <string.h>
#include <unistd.h>

#define DAY (24 * 60 * 60)

static char *tmpdir;

/* A key and its certificate. */
typedef struct {
    VhPkiKey *key;
    gnutls_x509_crt_t crt;
} Cert;

static void cert_free(Cert *c)
{
    if (c) {
        vh_pki_key_unref(c->key);
        gnutls_x509_crt_deinit(c->crt);
        g_free(c);
    }
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Cert, cert_free)

/* Sign @spec with @issuer (NULL: self-signed). */
static Cert *cert_new(const VhPkiCertSpec *spec, Cert *issuer)
{
    g_autoptr(GError) err = NULL;
    Cert *c = g_new0(Cert, 1);

    c->key = vh_pki_key_generate(VH_PKI_KEY_ECDSA_P256, &err);
    g_assert_no_error(err);
    c->crt = vh_pki_cert_create(spec, c->key, issuer ? issuer->crt : NULL,
                                issuer ? issuer->key : NULL, &err);
    g_assert_no_error(err);
    return c;
}

static VhPkiCertSpec ca_spec(const char *dn)
{
    VhPkiCertSpec spec;

    vh_pki_cert_spec_init_ca(&spec, dn, 30);
    return spec;
}

static VhPkiCertSpec leaf_spec(VhTlsCredsEndpoint ep, const char *dn)
{
    static const char *const dns[] = {"localhost", NULL};
    VhPkiCertSpec spec;

    if (ep == VH_TLS_CREDS_ENDPOINT_SERVER) {
        vh_pki_cert_spec_init_server(&spec, dn, VH_PKI_KEY_ECDSA_P256, dns,
                                     NULL, 30);
    } else {
        vh_pki_cert_spec_init_client(&spec, dn, VH_PKI_KEY_ECDSA_P256, 30);
    }
    return spec;
}

static void spec_expired(VhPkiCertSpec *spec)
{
    spec->activation = time(NULL) - 10 * DAY;
    spec->expiration = time(NULL) - 1 * DAY;
}

static void spec_not_yet_active(VhPkiCertSpec *spec)
{
    spec->activation = time(NULL) + 1 * DAY;
    spec->expiration = time(NULL) + 10 * DAY;
}

static char *new_dir(void)
{
    static int counter;
    char *dir = g_strdup_printf("%s/d%d", tmpdir, counter++);

    g_assert_cmpint(g_mkdir(dir, 0700), ==, 0);
    return dir;
}

/* Write the certificates (NULL-terminated) into @dir/@name. */
static void put_certs(const char *dir, const char *name, ...)
{
    g_autofree char *path = g_build_filename(dir, name, NULL);
    g_autoptr(GError) err = NULL;
    g_autoptr(GArray) list =
        g_array_new(FALSE, FALSE, sizeof(gnutls_x509_crt_t));
    va_list ap;
    Cert *c;

    va_start(ap, name);
    while ((c = va_arg(ap, Cert *))) {
        g_array_append_val(list, c->crt);
    }
    va_end(ap);
    g_assert_true(vh_pki_cert_save(path, (gnutls_x509_crt_t *)list->data,
                                   list->len, true, &err));
    g_assert_no_error(err);
}

static void put_key(const char *dir, const char *name, Cert *c)
{
    g_autofree char *path = g_build_filename(dir, name, NULL);
    g_autoptr(GError) err = NULL;

    g_assert_true(vh_pki_key_save(c->key, path, true, &err));
    g_assert_no_error(err);
}

static void put_text(const char *dir, const char *name, const char *text)
{
    g_autofree char *path = g_build_filename(dir, name, NULL);

    g_assert_true(g_file_set_contents(path, text, -1, NULL));
}

static const char *cert_name(VhTlsCredsEndpoint ep)
{
    return ep == VH_TLS_CREDS_ENDPOINT_SERVER ? "server-cert.pem"
                                              : "client-cert.pem";
}

static const char *key_name(VhTlsCredsEndpoint ep)
{
    return ep == VH_TLS_CREDS_ENDPOINT_SERVER ? "server-key.pem"
                                              : "client-key.pem";
}

static VhTlsCreds *creds_new(const char *dir, VhTlsCredsEndpoint ep,
                             GError **err)
{
    return g_initable_new(VH_TYPE_TLS_CREDS_X509, NULL, err, "endpoint", ep,
                          "dir", dir, NULL);
}

static void expect_ok(const char *dir, VhTlsCredsEndpoint ep)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(VhTlsCreds) creds = creds_new(dir, ep, &err);

    g_assert_no_error(err);
    g_assert_nonnull(creds);
}

/* Loading fails and the message holds every needle (NULL-terminated). */
static void expect_fail(const char *dir, VhTlsCredsEndpoint ep, int code, ...)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(VhTlsCreds) creds = creds_new(dir, ep, &err);
    const char *needle;
    va_list ap;

    g_assert_null(creds);
    g_assert_nonnull(err);
    g_test_message("error: %s", err->message);
    g_assert_error(err, VH_ERROR, code);
    va_start(ap, code);
    while ((needle = va_arg(ap, const char *))) {
        if (!strstr(err->message, needle)) {
            g_error("'%s' not in '%s'", needle, err->message);
        }
    }
    va_end(ap);
}

/*
 * The common layout: a root CA in ca-cert.pem and a leaf for @ep signed by
 * it. @root / @leaf override the default specs when not NULL.
 */
static char *simple_dir(VhTlsCredsEndpoint ep, const VhPkiCertSpec *root,
                        const VhPkiCertSpec *leaf)
{
    VhPkiCertSpec rs = root ? *root : ca_spec("CN=root CA");
    VhPkiCertSpec ls = leaf ? *leaf : leaf_spec(ep, "CN=host1");
    g_autoptr(Cert) ca = cert_new(&rs, NULL);
    g_autoptr(Cert) crt = cert_new(&ls, ca);
    char *dir = new_dir();

    put_certs(dir, "ca-cert.pem", ca, NULL);
    put_certs(dir, cert_name(ep), crt, NULL);
    put_key(dir, key_name(ep), crt);
    return dir;
}

/* A root, an intermediate and a leaf for @ep. */
typedef struct {
    Cert *root;
    Cert *inter;
    Cert *leaf;
} Chain;

static void chain_clear(Chain *ch)
{
    cert_free(ch->root);
    cert_free(ch->inter);
    cert_free(ch->leaf);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Chain, chain_clear)

static Chain make_chain(VhTlsCredsEndpoint ep, const VhPkiCertSpec *root,
                        const VhPkiCertSpec *inter, const VhPkiCertSpec *leaf)
{
    VhPkiCertSpec rs = root ? *root : ca_spec("CN=root CA");
    VhPkiCertSpec is = inter ? *inter : ca_spec("CN=intermediate CA");
    VhPkiCertSpec ls = leaf ? *leaf : leaf_spec(ep, "CN=host1");
    Chain ch;

    ch.root = cert_new(&rs, NULL);
    ch.inter = cert_new(&is, ch.root);
    ch.leaf = cert_new(&ls, ch.inter);
    return ch;
}

/* Chain layout: leaf+intermediate in the own file, root in ca-cert.pem. */
static char *chain_dir(VhTlsCredsEndpoint ep, const Chain *ch)
{
    char *dir = new_dir();

    put_certs(dir, "ca-cert.pem", ch->root, NULL);
    put_certs(dir, cert_name(ep), ch->leaf, ch->inter, NULL);
    put_key(dir, key_name(ep), ch->leaf);
    return dir;
}

static const VhTlsCredsEndpoint both[] = {VH_TLS_CREDS_ENDPOINT_SERVER,
                                          VH_TLS_CREDS_ENDPOINT_CLIENT};

/* ---- basics ---------------------------------------------------------- */

static void test_good_server_and_defaults(void)
{
    g_autofree char *dir = simple_dir(VH_TLS_CREDS_ENDPOINT_SERVER, NULL, NULL);
    g_autoptr(GError) err = NULL;
    g_autoptr(VhTlsCreds) creds =
        creds_new(dir, VH_TLS_CREDS_ENDPOINT_SERVER, &err);
    gboolean sanity = FALSE;

    g_assert_no_error(err);
    g_assert_true(vh_tls_creds_get_verify_peer(creds));
    g_object_get(creds, "sanity-check", &sanity, NULL);
    g_assert_true(sanity);
    g_assert_cmpstr(vh_tls_creds_get_dir(creds), ==, dir);
    g_assert_cmpuint(
        vh_tls_creds_x509_get_n_identities(VH_TLS_CREDS_X509(creds)), ==, 1);
    g_assert_nonnull(vh_tls_creds_x509_get_gnutls(VH_TLS_CREDS_X509(creds)));
    g_assert_cmpint(vh_tls_creds_get_priority_source(creds), ==,
                    VH_TLS_PRIORITY_SOURCE_DEFAULT);
}

static void test_endpoint_default_client(void)
{
    g_autofree char *dir = simple_dir(VH_TLS_CREDS_ENDPOINT_CLIENT, NULL, NULL);
    g_autoptr(GError) err = NULL;
    g_autoptr(VhTlsCreds) creds =
        g_initable_new(VH_TYPE_TLS_CREDS_X509, NULL, &err, "dir", dir, NULL);

    g_assert_no_error(err);
    g_assert_cmpint(vh_tls_creds_get_endpoint(creds), ==,
                    VH_TLS_CREDS_ENDPOINT_CLIENT);
}

static void test_endpoint_mismatch(void)
{
    g_autofree char *dir = simple_dir(VH_TLS_CREDS_ENDPOINT_SERVER, NULL, NULL);
    g_autoptr(GError) err = NULL;
    g_autoptr(VhTlsCreds) creds =
        creds_new(dir, VH_TLS_CREDS_ENDPOINT_SERVER, &err);

    g_assert_no_error(err);
    g_assert_true(
        vh_tls_creds_check_endpoint(creds, VH_TLS_CREDS_ENDPOINT_SERVER, &err));
    g_assert_false(
        vh_tls_creds_check_endpoint(creds, VH_TLS_CREDS_ENDPOINT_CLIENT, &err));
    g_assert_error(err, VH_ERROR, VH_ERROR_INVALID_ARGUMENT);
    g_assert_cmpstr(err->message, ==,
                    "Expected TLS credentials for a client endpoint");
    g_clear_error(&err);

    g_autofree char *cdir =
        simple_dir(VH_TLS_CREDS_ENDPOINT_CLIENT, NULL, NULL);
    g_autoptr(VhTlsCreds) client =
        creds_new(cdir, VH_TLS_CREDS_ENDPOINT_CLIENT, &err);
    g_assert_no_error(err);
    g_assert_false(vh_tls_creds_check_endpoint(
        client, VH_TLS_CREDS_ENDPOINT_SERVER, &err));
    g_assert_cmpstr(err->message, ==,
                    "Expected TLS credentials for a server endpoint");
}

static void test_apply(void)
{
    g_autofree char *dir = simple_dir(VH_TLS_CREDS_ENDPOINT_SERVER, NULL, NULL);
    g_autoptr(GError) err = NULL;
    g_autoptr(VhTlsCreds) creds =
        creds_new(dir, VH_TLS_CREDS_ENDPOINT_SERVER, &err);
    gnutls_session_t session;
    void *cred = NULL;

    g_assert_no_error(err);
    g_assert_cmpint(gnutls_init(&session, GNUTLS_SERVER), ==, 0);
    g_assert_true(vh_tls_creds_apply(creds, session, &err));
    g_assert_no_error(err);
    g_assert_cmpint(
        gnutls_credentials_get(session, GNUTLS_CRD_CERTIFICATE, &cred), ==, 0);
    g_assert_true(cred ==
                  vh_tls_creds_x509_get_gnutls(VH_TLS_CREDS_X509(creds)));
    gnutls_deinit(session);
}

static void test_client_without_cert(void)
{
    g_autofree char *dir = new_dir();
    VhPkiCertSpec rs = ca_spec("CN=root CA");
    VhPkiCertSpec ls = leaf_spec(VH_TLS_CREDS_ENDPOINT_CLIENT, "CN=c");
    g_autoptr(Cert) ca = cert_new(&rs, NULL);
    g_autoptr(Cert) leaf = cert_new(&ls, ca);
    g_autoptr(GError) err = NULL;
    g_autofree char *cert = g_build_filename(dir, "client-cert.pem", NULL);

    put_certs(dir, "ca-cert.pem", ca, NULL);
    {
        g_autoptr(VhTlsCreds) creds =
            creds_new(dir, VH_TLS_CREDS_ENDPOINT_CLIENT, &err);
        g_assert_no_error(err);
        g_assert_cmpuint(
            vh_tls_creds_x509_get_n_identities(VH_TLS_CREDS_X509(creds)), ==,
            0);
    }
    /* Cert without key, then key without cert: both or neither. */
    put_certs(dir, "client-cert.pem", leaf, NULL);
    expect_fail(dir, VH_TLS_CREDS_ENDPOINT_CLIENT, VH_ERROR_CERT_FILE,
                "client-cert.pem", "no matching client-key.pem", NULL);
    g_assert_cmpint(g_unlink(cert), ==, 0);
    put_key(dir, "client-key.pem", leaf);
    expect_fail(dir, VH_TLS_CREDS_ENDPOINT_CLIENT, VH_ERROR_CERT_FILE,
                "client-key.pem", "no matching client-cert.pem", NULL);
    put_certs(dir, "client-cert.pem", leaf, NULL);
    expect_ok(dir, VH_TLS_CREDS_ENDPOINT_CLIENT);
}

static void test_handshake(void)
{
    VhPkiCertSpec rs = ca_spec("CN=root CA");
    VhPkiCertSpec ss = leaf_spec(VH_TLS_CREDS_ENDPOINT_SERVER, "CN=host1");
    VhPkiCertSpec cs = leaf_spec(VH_TLS_CREDS_ENDPOINT_CLIENT, "CN=qemu");
    g_autoptr(Cert) ca = cert_new(&rs, NULL);
    g_autoptr(Cert) srv = cert_new(&ss, ca);
    g_autoptr(Cert) cli = cert_new(&cs, ca);
    g_autofree char *sdir = new_dir();
    g_autofree char *cdir = new_dir();
    g_autofree char *nodir = new_dir();
    g_autoptr(GError) err = NULL;

    put_certs(sdir, "ca-cert.pem", ca, NULL);
    put_certs(sdir, "server-cert.pem", srv, NULL);
    put_key(sdir, "server-key.pem", srv);
    put_certs(cdir, "ca-cert.pem", ca, NULL);
    put_certs(cdir, "client-cert.pem", cli, NULL);
    put_key(cdir, "client-key.pem", cli);
    put_certs(nodir, "ca-cert.pem", ca, NULL);

    g_autoptr(VhTlsCreds) server =
        creds_new(sdir, VH_TLS_CREDS_ENDPOINT_SERVER, &err);
    g_autoptr(VhTlsCreds) client =
        creds_new(cdir, VH_TLS_CREDS_ENDPOINT_CLIENT, &err);
    g_autoptr(VhTlsCreds) anonymous =
        creds_new(nodir, VH_TLS_CREDS_ENDPOINT_CLIENT, &err);
    g_autoptr(VhTlsCreds) lax = g_initable_new(
        VH_TYPE_TLS_CREDS_X509, NULL, &err, "endpoint",
        VH_TLS_CREDS_ENDPOINT_SERVER, "dir", sdir, "verify-peer", FALSE, NULL);
    g_assert_no_error(err);

    /* Mutual authentication. */
    g_assert_cmpint(vh_test_handshake(server, client, NULL, NULL), ==, 0);
    /* verify-peer=on: the server requires a client certificate. */
    g_assert_cmpint(vh_test_handshake(server, anonymous, NULL, NULL), <, 0);
    /* verify-peer=off: a client without one is let in. */
    g_assert_cmpint(vh_test_handshake(lax, anonymous, NULL, NULL), ==, 0);
}

/* ---- missing, corrupt and mismatched files --------------------------- */

static void test_missing_files(void)
{
    g_autofree char *dir = simple_dir(VH_TLS_CREDS_ENDPOINT_SERVER, NULL, NULL);
    g_autofree char *ca = g_build_filename(dir, "ca-cert.pem", NULL);
    g_autofree char *cert = g_build_filename(dir, "server-cert.pem", NULL);
    g_autofree char *key = g_build_filename(dir, "server-key.pem", NULL);
    g_autofree char *ca_msg = g_strdup_printf(
        "Unable to read CA certificate %s: No such file or directory", ca);
    g_autofree char *cert_msg = g_strdup_printf(
        "Unable to read server certificate %s: No such file or directory",
        cert);
    g_autofree char *key_msg = g_strdup_printf(
        "Unable to read server private key %s: No such file or directory", key);
    g_autofree char *tmp = g_strconcat(key, ".bak", NULL);

    g_assert_cmpint(g_rename(key, tmp), ==, 0);
    expect_fail(dir, VH_TLS_CREDS_ENDPOINT_SERVER, VH_ERROR_CERT_FILE, key_msg,
                NULL);
    g_assert_cmpint(g_rename(tmp, key), ==, 0);
    g_assert_cmpint(g_unlink(cert), ==, 0);
    expect_fail(dir, VH_TLS_CREDS_ENDPOINT_SERVER, VH_ERROR_CERT_FILE, cert_msg,
                NULL);
    g_assert_cmpint(g_unlink(ca), ==, 0);
    expect_fail(dir, VH_TLS_CREDS_ENDPOINT_SERVER, VH_ERROR_CERT_FILE, ca_msg,
                NULL);
    /* The CA is required for a client too. */
    expect_fail(dir, VH_TLS_CREDS_ENDPOINT_CLIENT, VH_ERROR_CERT_FILE, ca_msg,
                NULL);
}

static void test_corrupt_pem(void)
{
    static const char garbage[] = "-----BEGIN CERTIFICATE-----\n"
                                  "MIIB!!!not base64!!!\n"
                                  "-----END CERTIFICATE-----\n";
    g_autofree char *dir = simple_dir(VH_TLS_CREDS_ENDPOINT_SERVER, NULL, NULL);
    g_autofree char *ca = g_build_filename(dir, "ca-cert.pem", NULL);
    g_autofree char *saved = NULL;

    g_assert_true(g_file_get_contents(ca, &saved, NULL, NULL));
    put_text(dir, "ca-cert.pem", garbage);
    expect_fail(dir, VH_TLS_CREDS_ENDPOINT_SERVER, VH_ERROR_CERT_FILE,
                "Unable to parse CA certificate", "ca-cert.pem", NULL);
    put_text(dir, "ca-cert.pem", "hello\n");
    expect_fail(dir, VH_TLS_CREDS_ENDPOINT_SERVER, VH_ERROR_CERT_FILE,
                "Unable to parse CA certificate", "no PEM certificate", NULL);
    put_text(dir, "ca-cert.pem", saved);

    put_text(dir, "server-cert.pem", garbage);
    expect_fail(dir, VH_TLS_CREDS_ENDPOINT_SERVER, VH_ERROR_CERT_FILE,
                "Unable to parse server certificate", "server-cert.pem", NULL);
    put_text(dir, "server-cert.pem", "");
    expect_fail(dir, VH_TLS_CREDS_ENDPOINT_SERVER, VH_ERROR_CERT_FILE,
                "Unable to parse server certificate", NULL);

    g_autofree char *dir2 =
        simple_dir(VH_TLS_CREDS_ENDPOINT_SERVER, NULL, NULL);
    put_text(dir2, "server-key.pem",
             "-----BEGIN PRIVATE KEY-----\n"
             "AAAA\n"
             "-----END PRIVATE KEY-----\n");
    expect_fail(dir2, VH_TLS_CREDS_ENDPOINT_SERVER, VH_ERROR_CERT_FILE,
                "Unable to parse server private key", "server-key.pem", NULL);
}

static void test_key_mismatch(void)
{
    g_autofree char *dir = simple_dir(VH_TLS_CREDS_ENDPOINT_SERVER, NULL, NULL);
    VhPkiCertSpec ls = leaf_spec(VH_TLS_CREDS_ENDPOINT_SERVER, "CN=other");
    g_autoptr(Cert) other = cert_new(&ls, NULL);

    /* Full paths: the operator may have named the files (key-file=...). */
    g_autofree char *msg = g_strdup_printf(
        "%s/server-key.pem does not match %s/server-cert.pem (the key is not "
        "the certificate's public key)",
        dir, dir);
    put_key(dir, "server-key.pem", other);
    expect_fail(dir, VH_TLS_CREDS_ENDPOINT_SERVER, VH_ERROR_CERT_FILE, msg,
                NULL);

    g_autofree char *cdir =
        simple_dir(VH_TLS_CREDS_ENDPOINT_CLIENT, NULL, NULL);
    g_autofree char *cmsg = g_strdup_printf(
        "%s/client-key.pem does not match %s/client-cert.pem (the key is not "
        "the certificate's public key)",
        cdir, cdir);
    put_key(cdir, "client-key.pem", other);
    expect_fail(cdir, VH_TLS_CREDS_ENDPOINT_CLIENT, VH_ERROR_CERT_FILE, cmsg,
                NULL);
}

/*
 * A DER certificate (binary, with NUL bytes) where PEM belongs: a
 * certificate-file error naming the file and saying it is not PEM text.
 */
static void test_der_in_pem_slot(void)
{
    g_autofree char *dir = simple_dir(VH_TLS_CREDS_ENDPOINT_SERVER, NULL, NULL);
    g_autofree char *path = g_build_filename(dir, "server-cert.pem", NULL);
    VhPkiCertSpec ls = leaf_spec(VH_TLS_CREDS_ENDPOINT_SERVER, "CN=der");
    g_autoptr(Cert) c = cert_new(&ls, NULL);
    g_autofree char *msg = g_strdup_printf(
        "Unable to parse server certificate %s: not PEM text (a NUL byte at "
        "byte ",
        path);
    gnutls_datum_t der = {NULL, 0};

    g_assert_cmpint(gnutls_x509_crt_export2(c->crt, GNUTLS_X509_FMT_DER, &der),
                    ==, 0);
    g_assert_nonnull(memchr(der.data, '\0', der.size));
    g_assert_true(
        g_file_set_contents(path, (const char *)der.data, der.size, NULL));
    gnutls_free(der.data);
    expect_fail(dir, VH_TLS_CREDS_ENDPOINT_SERVER, VH_ERROR_CERT_FILE, msg,
                "DER", NULL);
}

static void test_unreadable_dir(void)
{
    g_autofree char *file = g_build_filename(tmpdir, "plain-file", NULL);
    g_autofree char *missing = g_build_filename(tmpdir, "no-such-dir", NULL);
    g_autoptr(GError) err = NULL;
    g_autoptr(VhTlsCreds) creds = NULL;

    put_text(tmpdir, "plain-file", "x");
    expect_fail(file, VH_TLS_CREDS_ENDPOINT_SERVER, VH_ERROR_CERT_FILE,
                "Unable to access credentials directory", file,
                "Not a directory", NULL);
    expect_fail(missing, VH_TLS_CREDS_ENDPOINT_SERVER, VH_ERROR_CERT_FILE,
                "Unable to access credentials directory", missing,
                "No such file or directory", NULL);
    creds = g_initable_new(VH_TYPE_TLS_CREDS_X509, NULL, &err, NULL);
    g_assert_null(creds);
    g_assert_error(err, VH_ERROR, VH_ERROR_INVALID_ARGUMENT);
    g_assert_nonnull(strstr(err->message, "'dir'"));

    /* A CA "file" that is a directory cannot be read, even by root. */
    {
        g_autofree char *d =
            simple_dir(VH_TLS_CREDS_ENDPOINT_SERVER, NULL, NULL);
        g_autofree char *ca = g_build_filename(d, "ca-cert.pem", NULL);
        g_assert_cmpint(g_unlink(ca), ==, 0);
        g_assert_cmpint(g_mkdir(ca, 0700), ==, 0);
        expect_fail(d, VH_TLS_CREDS_ENDPOINT_SERVER, VH_ERROR_CERT_FILE,
                    "Unable to read CA certificate", ca,
                    "not a regular file (a directory)", NULL);
    }
}

/*
 * A mode-000 directory. Root ignores permissions, so when the tests run as
 * root (as CI does) the load runs in a subprocess that has dropped to the
 * unprivileged "nobody" ids first.
 */
#define NOBODY_ID 65534

static void test_unreadable_dir_permissions(void)
{
    const char *dir = g_getenv("VH_TEST_UNREADABLE_DIR");

    if (g_test_subprocess()) {
        g_assert_nonnull(dir);
        /* this process's own tmpdir: unused here, and nobody could not
         * remove it at exit */
        vh_test_rm_rf(tmpdir);
        if (geteuid() == 0) {
            g_assert_cmpint(setgroups(0, NULL), ==, 0);
            g_assert_cmpint(setgid(NOBODY_ID), ==, 0);
            g_assert_cmpint(setuid(NOBODY_ID), ==, 0);
        }
        expect_fail(dir, VH_TLS_CREDS_ENDPOINT_SERVER, VH_ERROR_CERT_FILE,
                    "Unable to access credentials directory", dir,
                    "Permission denied", NULL);
        return;
    }

    g_autofree char *d = simple_dir(VH_TLS_CREDS_ENDPOINT_SERVER, NULL, NULL);
    /* let the unprivileged child reach the directory, not read it */
    g_assert_cmpint(g_chmod(tmpdir, 0711), ==, 0);
    g_assert_cmpint(g_chmod(d, 0), ==, 0);
    g_setenv("VH_TEST_UNREADABLE_DIR", d, TRUE);
    g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
    g_unsetenv("VH_TEST_UNREADABLE_DIR");
    g_assert_cmpint(g_chmod(d, 0700), ==, 0);
    g_assert_cmpint(g_chmod(tmpdir, 0700), ==, 0);
    g_test_trap_assert_passed();
}

static void test_crl(void)
{
    g_autofree char *dir = new_dir();
    VhPkiCertSpec rs = ca_spec("CN=root CA");
    VhPkiCertSpec ls = leaf_spec(VH_TLS_CREDS_ENDPOINT_SERVER, "CN=host1");
    VhPkiCertSpec rv = leaf_spec(VH_TLS_CREDS_ENDPOINT_CLIENT, "CN=revoked");
    g_autoptr(Cert) ca = cert_new(&rs, NULL);
    g_autoptr(Cert) leaf = cert_new(&ls, ca);
    g_autoptr(Cert) revoked = cert_new(&rv, ca);
    g_autoptr(GError) err = NULL;
    g_auto(gnutls_x509_crl_t) crl = NULL;
    g_autofree char *crl_path = g_build_filename(dir, "ca-crl.pem", NULL);

    put_certs(dir, "ca-cert.pem", ca, NULL);
    put_certs(dir, "server-cert.pem", leaf, NULL);
    put_key(dir, "server-key.pem", leaf);
    crl = vh_pki_crl_create(ca->crt, ca->key, &revoked->crt, 1, 30, &err);
    g_assert_no_error(err);
    g_assert_true(vh_pki_crl_save(crl_path, crl, false, &err));
    expect_ok(dir, VH_TLS_CREDS_ENDPOINT_SERVER);

    put_text(dir, "ca-crl.pem",
             "-----BEGIN X509 CRL-----\nZZZZ\n"
             "-----END X509 CRL-----\n");
    expect_fail(dir, VH_TLS_CREDS_ENDPOINT_SERVER, VH_ERROR_CERT_FILE,
                "Unable to parse CA revocation list", "ca-crl.pem", NULL);
}

static void test_dh_params(void)
{
    g_autofree char *dir = simple_dir(VH_TLS_CREDS_ENDPOINT_SERVER, NULL, NULL);
    g_autofree char *out = NULL;
    g_autofree char *certtool = g_find_program_in_path("certtool");
    const char *argv[] = {"certtool", "--get-dh-params", NULL};
    gint status = 1;

    put_text(dir, "dh-params.pem",
             "-----BEGIN DH PARAMETERS-----\nQQ==\n"
             "-----END DH PARAMETERS-----\n");
    expect_fail(dir, VH_TLS_CREDS_ENDPOINT_SERVER, VH_ERROR_CERT_FILE,
                "Unable to parse DH parameters", "dh-params.pem", NULL);
    if (!certtool) {
        g_test_skip("certtool not installed: valid dh-params.pem not tested");
        return;
    }
    argv[0] = certtool;
    g_assert_true(g_spawn_sync(NULL, (char **)argv, NULL,
                               G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, &out,
                               NULL, &status, NULL));
    g_assert_cmpint(status, ==, 0);
    put_text(dir, "dh-params.pem", out);
    expect_ok(dir, VH_TLS_CREDS_ENDPOINT_SERVER);
}

static void test_extra_identities(void)
{
    g_autofree char *dir = new_dir();
    VhPkiCertSpec rs = ca_spec("CN=root CA");
    VhPkiCertSpec ls = leaf_spec(VH_TLS_CREDS_ENDPOINT_SERVER, "CN=host1");
    VhPkiCertSpec l0 = leaf_spec(VH_TLS_CREDS_ENDPOINT_SERVER, "CN=host1-0");
    VhPkiCertSpec lx = leaf_spec(VH_TLS_CREDS_ENDPOINT_SERVER, "CN=expired");
    g_autoptr(Cert) ca = cert_new(&rs, NULL);
    g_autoptr(Cert) leaf = cert_new(&ls, ca);
    g_autoptr(Cert) extra = cert_new(&l0, ca);
    g_autoptr(Cert) expired = NULL;
    g_autoptr(GError) err = NULL;

    spec_expired(&lx);
    expired = cert_new(&lx, ca);
    put_certs(dir, "ca-cert.pem", ca, NULL);
    put_certs(dir, "server-cert.pem", leaf, NULL);
    put_key(dir, "server-key.pem", leaf);

    /* A gap at 0 means server-cert-1.pem is never looked at. */
    put_certs(dir, "server-cert-1.pem", extra, NULL);
    {
        g_autoptr(VhTlsCreds) creds =
            creds_new(dir, VH_TLS_CREDS_ENDPOINT_SERVER, &err);
        g_assert_no_error(err);
        g_assert_cmpuint(
            vh_tls_creds_x509_get_n_identities(VH_TLS_CREDS_X509(creds)), ==,
            1);
    }
    /* A cert without its key is an error. */
    put_certs(dir, "server-cert-0.pem", extra, NULL);
    expect_fail(dir, VH_TLS_CREDS_ENDPOINT_SERVER, VH_ERROR_CERT_FILE,
                "server-cert-0.pem", "no matching private key server-key-0.pem",
                NULL);
    put_key(dir, "server-key-0.pem", extra);
    put_key(dir, "server-key-1.pem", extra);
    {
        g_autoptr(VhTlsCreds) creds =
            creds_new(dir, VH_TLS_CREDS_ENDPOINT_SERVER, &err);
        g_assert_no_error(err);
        g_assert_cmpuint(
            vh_tls_creds_x509_get_n_identities(VH_TLS_CREDS_X509(creds)), ==,
            3);
    }
    /* Extra identities get the sanity checks too. */
    put_certs(dir, "server-cert-0.pem", expired, NULL);
    put_key(dir, "server-key-0.pem", expired);
    expect_fail(dir, VH_TLS_CREDS_ENDPOINT_SERVER, VH_ERROR_CERT_CHECK,
                "server-cert-0.pem (CN=expired)", "has expired", NULL);
    /* A key that does not match in an extra identity. */
    put_certs(dir, "server-cert-0.pem", extra, NULL);
    put_key(dir, "server-key-0.pem", leaf);
    g_autofree char *mismatch = g_strdup_printf(
        "%s/server-key-0.pem does not match %s/server-cert-0.pem (the key is "
        "not the certificate's public key)",
        dir, dir);
    expect_fail(dir, VH_TLS_CREDS_ENDPOINT_SERVER, VH_ERROR_CERT_FILE, mismatch,
                NULL);
}

/* ---- key usage ------------------------------------------------------- */

static void test_leaf_key_usage(void)
{
    for (size_t i = 0; i < G_N_ELEMENTS(both); i++) {
        VhTlsCredsEndpoint ep = both[i];
        VhPkiCertSpec ls = leaf_spec(ep, "CN=host1");
        g_autofree char *dir_crit = NULL;
        g_autofree char *dir_noncrit = NULL;
        g_autofree char *dir_absent = NULL;
        g_autofree char *who = g_strdup_printf("%s (CN=host1)", cert_name(ep));

        ls.key_usage = VH_PKI_EXT_CRITICAL;
        ls.key_usage_bits = GNUTLS_KEY_KEY_ENCIPHERMENT;
        dir_crit = simple_dir(ep, NULL, &ls);
        expect_fail(dir_crit, ep, VH_ERROR_CERT_CHECK, who,
                    "key usage is critical and lacks digitalSignature", NULL);

        ls.key_usage = VH_PKI_EXT_NONCRITICAL;
        dir_noncrit = simple_dir(ep, NULL, &ls);
        expect_ok(dir_noncrit, ep);

        ls.key_usage = VH_PKI_EXT_ABSENT;
        dir_absent = simple_dir(ep, NULL, &ls);
        expect_ok(dir_absent, ep);
    }
}

static void test_ca_key_usage(void)
{
    VhPkiCertSpec rs = ca_spec("CN=root CA");
    g_autofree char *dir_crit = NULL;
    g_autofree char *dir_noncrit = NULL;
    g_autofree char *dir_absent = NULL;

    rs.key_usage = VH_PKI_EXT_CRITICAL;
    rs.key_usage_bits = GNUTLS_KEY_DIGITAL_SIGNATURE;
    dir_crit = simple_dir(VH_TLS_CREDS_ENDPOINT_SERVER, &rs, NULL);
    expect_fail(dir_crit, VH_TLS_CREDS_ENDPOINT_SERVER, VH_ERROR_CERT_CHECK,
                "ca-cert.pem (CN=root CA)",
                "key usage is critical and lacks keyCertSign", NULL);

    /*
     * Not critical: the sanity rule lets it pass, but GnuTLS will not accept
     * such a CA as an issuer, and the final verification says so.
     */
    rs.key_usage = VH_PKI_EXT_NONCRITICAL;
    dir_noncrit = simple_dir(VH_TLS_CREDS_ENDPOINT_SERVER, &rs, NULL);
    expect_fail(dir_noncrit, VH_TLS_CREDS_ENDPOINT_SERVER, VH_ERROR_CERT_CHECK,
                "server-cert.pem (CN=host1)", "does not verify against",
                "ca-cert.pem", NULL);

    rs.key_usage = VH_PKI_EXT_ABSENT;
    dir_absent = simple_dir(VH_TLS_CREDS_ENDPOINT_SERVER, &rs, NULL);
    expect_ok(dir_absent, VH_TLS_CREDS_ENDPOINT_SERVER);
}

static void test_intermediate_key_usage(void)
{
    VhTlsCredsEndpoint ep = VH_TLS_CREDS_ENDPOINT_SERVER;
    VhPkiCertSpec is = ca_spec("CN=intermediate CA");
    g_auto(Chain) ch = {0};
    g_autofree char *dir = NULL;

    is.key_usage_bits = GNUTLS_KEY_DIGITAL_SIGNATURE;
    ch = make_chain(ep, NULL, &is, NULL);
    dir = chain_dir(ep, &ch);
    expect_fail(dir, ep, VH_ERROR_CERT_CHECK,
                "server-cert.pem (CN=intermediate CA)",
                "key usage is critical and lacks keyCertSign", NULL);
}

/* ---- key purpose ----------------------------------------------------- */

static void test_key_purpose(void)
{
    static const char *const server_only[] = {GNUTLS_KP_TLS_WWW_SERVER, NULL};
    static const char *const client_only[] = {GNUTLS_KP_TLS_WWW_CLIENT, NULL};
    static const char *const any[] = {GNUTLS_KP_ANY, NULL};
    static const char *const other[] = {GNUTLS_KP_CODE_SIGNING, NULL};

    for (size_t i = 0; i < G_N_ELEMENTS(both); i++) {
        VhTlsCredsEndpoint ep = both[i];
        bool server = ep == VH_TLS_CREDS_ENDPOINT_SERVER;
        const char *const *wrong = server ? client_only : server_only;
        const char *lacks = server ? "key purpose is critical and lacks TLS "
                                     "WWW server"
                                   : "key purpose is critical and lacks TLS "
                                     "WWW client";
        VhPkiCertSpec ls = leaf_spec(ep, "CN=host1");
        g_autofree char *who = g_strdup_printf("%s (CN=host1)", cert_name(ep));
        g_autofree char *d1 = NULL, *d2 = NULL, *d3 = NULL, *d4 = NULL;
        g_autofree char *d5 = NULL, *d6 = NULL;

        ls.key_purpose = VH_PKI_EXT_CRITICAL;
        ls.key_purposes = wrong;
        d1 = simple_dir(ep, NULL, &ls);
        expect_fail(d1, ep, VH_ERROR_CERT_CHECK, who, lacks, NULL);

        ls.key_purposes = other;
        d2 = simple_dir(ep, NULL, &ls);
        expect_fail(d2, ep, VH_ERROR_CERT_CHECK, who, lacks, NULL);

        ls.key_purpose = VH_PKI_EXT_NONCRITICAL;
        ls.key_purposes = wrong;
        d3 = simple_dir(ep, NULL, &ls);
        expect_ok(d3, ep);

        ls.key_purpose = VH_PKI_EXT_CRITICAL;
        ls.key_purposes = any;
        d4 = simple_dir(ep, NULL, &ls);
        expect_ok(d4, ep);

        ls.key_purpose = VH_PKI_EXT_ABSENT;
        d5 = simple_dir(ep, NULL, &ls);
        expect_ok(d5, ep);

        ls.key_purpose = VH_PKI_EXT_CRITICAL;
        ls.key_purposes = server ? server_only : client_only;
        d6 = simple_dir(ep, NULL, &ls);
        expect_ok(d6, ep);
    }
}

static void test_key_purpose_leaf_only(void)
{
    /* A CA whose critical purpose lacks TLS server is not a problem. */
    static const char *const code[] = {GNUTLS_KP_CODE_SIGNING, NULL};
    VhPkiCertSpec rs = ca_spec("CN=root CA");
    g_autofree char *dir = NULL;

    rs.key_purpose = VH_PKI_EXT_CRITICAL;
    rs.key_purposes = code;
    dir = simple_dir(VH_TLS_CREDS_ENDPOINT_SERVER, &rs, NULL);
    expect_ok(dir, VH_TLS_CREDS_ENDPOINT_SERVER);
}

/* ---- basic constraints ----------------------------------------------- */

static void test_basic_constraints(void)
{
    VhTlsCredsEndpoint ep = VH_TLS_CREDS_ENDPOINT_SERVER;
    VhPkiCertSpec ls = leaf_spec(ep, "CN=host1");
    VhPkiCertSpec rs = ca_spec("CN=root CA");
    g_autofree char *d1 = NULL, *d2 = NULL, *d3 = NULL, *d4 = NULL;
    g_autofree char *d5 = NULL;

    /* Leaf marked CA. */
    ls.is_ca = true;
    d1 = simple_dir(ep, NULL, &ls);
    expect_fail(d1, ep, VH_ERROR_CERT_CHECK, "server-cert.pem (CN=host1)",
                "server certificate is marked as a CA", NULL);

    /* Leaf without basic constraints is fine. */
    ls = leaf_spec(ep, "CN=host1");
    ls.basic_constraints = VH_PKI_EXT_ABSENT;
    d2 = simple_dir(ep, NULL, &ls);
    expect_ok(d2, ep);

    /* CA without basic constraints fails. */
    rs.basic_constraints = VH_PKI_EXT_ABSENT;
    d3 = simple_dir(ep, &rs, NULL);
    expect_fail(d3, ep, VH_ERROR_CERT_CHECK, "ca-cert.pem (CN=root CA)",
                "the CA certificate has no basic constraints", NULL);

    /* CA whose basic constraints say not-CA fails. */
    rs = ca_spec("CN=root CA");
    rs.is_ca = false;
    d4 = simple_dir(ep, &rs, NULL);
    expect_fail(d4, ep, VH_ERROR_CERT_CHECK, "ca-cert.pem (CN=root CA)",
                "basic constraints say it is not a CA", NULL);

    /* Non-critical CA basic constraints are accepted. */
    rs = ca_spec("CN=root CA");
    rs.basic_constraints = VH_PKI_EXT_NONCRITICAL;
    d5 = simple_dir(ep, &rs, NULL);
    expect_ok(d5, ep);
}

static void test_intermediate_basic_constraints(void)
{
    VhTlsCredsEndpoint ep = VH_TLS_CREDS_ENDPOINT_CLIENT;
    VhPkiCertSpec is = ca_spec("CN=intermediate CA");
    g_auto(Chain) ch1 = {0};
    g_auto(Chain) ch2 = {0};
    g_autofree char *d1 = NULL, *d2 = NULL;

    is.basic_constraints = VH_PKI_EXT_ABSENT;
    ch1 = make_chain(ep, NULL, &is, NULL);
    d1 = chain_dir(ep, &ch1);
    expect_fail(d1, ep, VH_ERROR_CERT_CHECK,
                "client-cert.pem (CN=intermediate CA)",
                "the CA certificate has no basic constraints", NULL);

    is = ca_spec("CN=intermediate CA");
    is.is_ca = false;
    ch2 = make_chain(ep, NULL, &is, NULL);
    d2 = chain_dir(ep, &ch2);
    expect_fail(d2, ep, VH_ERROR_CERT_CHECK,
                "client-cert.pem (CN=intermediate CA)",
                "basic constraints say it is not a CA", NULL);
}

/* ---- validity at each level ------------------------------------------ */

static void test_validity_levels(void)
{
    typedef void (*Mutate)(VhPkiCertSpec *);
    static const Mutate mutations[] = {spec_expired, spec_not_yet_active};
    static const char *const words[] = {"has expired (notAfter",
                                        "is not yet active (notBefore"};

    for (size_t e = 0; e < G_N_ELEMENTS(both); e++) {
        VhTlsCredsEndpoint ep = both[e];
        const char *role = ep == VH_TLS_CREDS_ENDPOINT_SERVER
                               ? "the server certificate"
                               : "the client certificate";

        for (size_t m = 0; m < G_N_ELEMENTS(mutations); m++) {
            VhPkiCertSpec rs = ca_spec("CN=root CA");
            VhPkiCertSpec is = ca_spec("CN=intermediate CA");
            VhPkiCertSpec ls = leaf_spec(ep, "CN=host1");
            g_auto(Chain) c1 = {0};
            g_auto(Chain) c2 = {0};
            g_auto(Chain) c3 = {0};
            g_autofree char *d1 = NULL, *d2 = NULL, *d3 = NULL;
            g_autofree char *w1 =
                g_strdup_printf("%s (CN=host1)", cert_name(ep));
            g_autofree char *w2 =
                g_strdup_printf("%s (CN=intermediate CA)", cert_name(ep));
            g_autofree char *r1 = g_strdup_printf("%s %s", role, words[m]);
            g_autofree char *r2 =
                g_strdup_printf("the CA certificate %s", words[m]);

            mutations[m](&ls);
            c1 = make_chain(ep, NULL, NULL, &ls);
            d1 = chain_dir(ep, &c1);
            expect_fail(d1, ep, VH_ERROR_CERT_CHECK, w1, r1, NULL);

            mutations[m](&is);
            c2 = make_chain(ep, NULL, &is, NULL);
            d2 = chain_dir(ep, &c2);
            expect_fail(d2, ep, VH_ERROR_CERT_CHECK, w2, r2, NULL);

            mutations[m](&rs);
            c3 = make_chain(ep, &rs, NULL, NULL);
            d3 = chain_dir(ep, &c3);
            expect_fail(d3, ep, VH_ERROR_CERT_CHECK, "ca-cert.pem (CN=root CA)",
                        r2, NULL);
        }
    }
}

static void test_sanity_check_off(void)
{
    VhPkiCertSpec ls = leaf_spec(VH_TLS_CREDS_ENDPOINT_SERVER, "CN=host1");
    g_autofree char *dir = NULL;
    g_autoptr(GError) err = NULL;
    g_autoptr(VhTlsCreds) creds = NULL;

    spec_expired(&ls);
    dir = simple_dir(VH_TLS_CREDS_ENDPOINT_SERVER, NULL, &ls);
    expect_fail(dir, VH_TLS_CREDS_ENDPOINT_SERVER, VH_ERROR_CERT_CHECK,
                "has expired", NULL);
    creds = g_initable_new(VH_TYPE_TLS_CREDS_X509, NULL, &err, "endpoint",
                           VH_TLS_CREDS_ENDPOINT_SERVER, "dir", dir,
                           "sanity-check", FALSE, NULL);
    g_assert_no_error(err);
    g_assert_nonnull(creds);
}

/*
 * A private key others can read (issue 10 item 7): the same rule as
 * vmhost-pki validate's key-permissions FAIL. sanity-check=on loads it
 * with a warning (logged, and kept for info tls / query-tls), strict
 * refuses it, off (QEMU's way) does not look.
 */
static void test_key_permissions(void)
{
    g_autofree char *dir = simple_dir(VH_TLS_CREDS_ENDPOINT_SERVER, NULL, NULL);
    g_autofree char *key = g_build_filename(dir, "server-key.pem", NULL);
    g_autofree char *msg = NULL;
    g_autoptr(GError) err = NULL;
    g_autoptr(VhTlsCreds) creds = NULL;
    g_autoptr(VhTlsCreds) quiet = NULL;
    GPtrArray *w;

    /* private to its owner: nothing to say */
    g_assert_cmpint(g_chmod(key, 0600), ==, 0);
    creds = creds_new(dir, VH_TLS_CREDS_ENDPOINT_SERVER, &err);
    g_assert_no_error(err);
    g_assert_cmpuint(
        vh_tls_creds_x509_get_warnings(VH_TLS_CREDS_X509(creds))->len, ==, 0);
    g_clear_object(&creds);

    /* group-readable: vmhost-pki's WARN, not the object's business */
    g_assert_cmpint(g_chmod(key, 0640), ==, 0);
    creds = creds_new(dir, VH_TLS_CREDS_ENDPOINT_SERVER, &err);
    g_assert_no_error(err);
    g_assert_cmpuint(
        vh_tls_creds_x509_get_warnings(VH_TLS_CREDS_X509(creds))->len, ==, 0);
    g_clear_object(&creds);

    /* world-readable, default sanity-check=on: loads, warns */
    g_assert_cmpint(g_chmod(key, 0644), ==, 0);
    msg = g_strdup_printf("%s is accessible by others (mode 0644): chmod 600 "
                          "it",
                          key);
    g_test_expect_message("vmhost-crypto", G_LOG_LEVEL_WARNING,
                          "*accessible by others*");
    creds = creds_new(dir, VH_TLS_CREDS_ENDPOINT_SERVER, &err);
    g_test_assert_expected_messages();
    g_assert_no_error(err);
    g_assert_nonnull(creds);
    w = vh_tls_creds_x509_get_warnings(VH_TLS_CREDS_X509(creds));
    g_assert_cmpuint(w->len, ==, 1);
    g_assert_cmpstr(g_ptr_array_index(w, 0), ==, msg);

    /* strict: refused with the same sentence */
    quiet =
        g_initable_new(VH_TYPE_TLS_CREDS_X509, NULL, &err, "endpoint",
                       VH_TLS_CREDS_ENDPOINT_SERVER, "dir", dir, "sanity-check",
                       VH_TLS_CREDS_X509_SANITY_STRICT, NULL);
    g_assert_null(quiet);
    g_assert_error(err, VH_ERROR, VH_ERROR_CERT_CHECK);
    g_assert_cmpstr(err->message, ==, msg);
    g_clear_error(&err);

    /* off: QEMU's behaviour, no check and no warning */
    quiet = g_initable_new(VH_TYPE_TLS_CREDS_X509, NULL, &err, "endpoint",
                           VH_TLS_CREDS_ENDPOINT_SERVER, "dir", dir,
                           "sanity-check", FALSE, NULL);
    g_assert_no_error(err);
    g_assert_false(
        vh_tls_creds_x509_get_sanity_check(VH_TLS_CREDS_X509(quiet)));
    g_assert_cmpuint(
        vh_tls_creds_x509_get_warnings(VH_TLS_CREDS_X509(quiet))->len, ==, 0);
}

/* sanity-check takes on/off (QEMU's booleans, any spelling) and strict. */
static void test_sanity_check_values(void)
{
    static const struct {
        const char *nick;
        VhTlsCredsX509Sanity mode;
    } cases[] = {
        {"on", VH_TLS_CREDS_X509_SANITY_ON},
        {"yes", VH_TLS_CREDS_X509_SANITY_ON},
        {"true", VH_TLS_CREDS_X509_SANITY_ON},
        {"off", VH_TLS_CREDS_X509_SANITY_OFF},
        {"no", VH_TLS_CREDS_X509_SANITY_OFF},
        {"false", VH_TLS_CREDS_X509_SANITY_OFF},
        {"strict", VH_TLS_CREDS_X509_SANITY_STRICT},
    };
    g_autoptr(GEnumClass) ec = g_type_class_ref(VH_TYPE_TLS_CREDS_X509_SANITY);

    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        GEnumValue *v = g_enum_get_value_by_nick(ec, cases[i].nick);
        g_assert_nonnull(v);
        g_assert_cmpint(v->value, ==, cases[i].mode);
    }
    /* what a property read reports */
    g_assert_cmpstr(g_enum_get_value(ec, 1)->value_nick, ==, "on");
    g_assert_cmpstr(g_enum_get_value(ec, 0)->value_nick, ==, "off");
}

/* ---- chains ---------------------------------------------------------- */

static void test_chain_sorted_unsorted(void)
{
    for (size_t i = 0; i < G_N_ELEMENTS(both); i++) {
        VhTlsCredsEndpoint ep = both[i];
        g_auto(Chain) ch = make_chain(ep, NULL, NULL, NULL);
        g_autofree char *dir = chain_dir(ep, &ch);
        g_autofree char *who =
            g_strdup_printf("%s (CN=intermediate CA)", cert_name(ep));

        expect_ok(dir, ep);
        /* Intermediate before the leaf: not sorted. */
        put_certs(dir, cert_name(ep), ch.inter, ch.leaf, NULL);
        expect_fail(dir, ep, VH_ERROR_CERT_CHECK, who,
                    "is not issued by the next one", "sorted leaf first", NULL);
    }
}

static void test_chain_with_root_in_own_file(void)
{
    VhTlsCredsEndpoint ep = VH_TLS_CREDS_ENDPOINT_SERVER;
    g_auto(Chain) ch = make_chain(ep, NULL, NULL, NULL);
    VhPkiCertSpec os = ca_spec("CN=other CA");
    g_autoptr(Cert) other = cert_new(&os, NULL);
    g_autofree char *dir = new_dir();

    /* leaf, intermediate, root in the own file; the root also trusted. */
    put_certs(dir, "ca-cert.pem", ch.root, NULL);
    put_certs(dir, "server-cert.pem", ch.leaf, ch.inter, ch.root, NULL);
    put_key(dir, "server-key.pem", ch.leaf);
    expect_ok(dir, ep);
    /* The same, but the root is not in ca-cert.pem: not trusted. */
    put_certs(dir, "ca-cert.pem", other, NULL);
    expect_fail(dir, ep, VH_ERROR_CERT_CHECK, "server-cert.pem (CN=root CA)",
                "has no issuer in CA chain", NULL);
}

static void test_chain_intermediate_in_bundle(void)
{
    VhTlsCredsEndpoint ep = VH_TLS_CREDS_ENDPOINT_SERVER;
    g_auto(Chain) ch = make_chain(ep, NULL, NULL, NULL);
    g_autofree char *dir = new_dir();

    /* Leaf alone; the intermediate and root both in ca-cert.pem. */
    put_certs(dir, "ca-cert.pem", ch.inter, ch.root, NULL);
    put_certs(dir, "server-cert.pem", ch.leaf, NULL);
    put_key(dir, "server-key.pem", ch.leaf);
    expect_ok(dir, ep);
    /* Order in the bundle does not matter. */
    put_certs(dir, "ca-cert.pem", ch.root, ch.inter, NULL);
    expect_ok(dir, ep);
}

static void test_chain_incomplete(void)
{
    VhTlsCredsEndpoint ep = VH_TLS_CREDS_ENDPOINT_SERVER;
    g_auto(Chain) ch = make_chain(ep, NULL, NULL, NULL);
    g_autofree char *dir = new_dir();

    /* The leaf's issuer (the intermediate) is nowhere. */
    put_certs(dir, "ca-cert.pem", ch.root, NULL);
    put_certs(dir, "server-cert.pem", ch.leaf, NULL);
    put_key(dir, "server-key.pem", ch.leaf);
    expect_fail(dir, ep, VH_ERROR_CERT_CHECK, "server-cert.pem (CN=host1)",
                "has no issuer in CA chain", "ca-cert.pem", NULL);

    /* The intermediate is in the bundle but its root is not. */
    put_certs(dir, "ca-cert.pem", ch.inter, NULL);
    expect_fail(dir, ep, VH_ERROR_CERT_CHECK,
                "ca-cert.pem (CN=intermediate CA)", "has no issuer in CA chain",
                NULL);

    /* Own chain complete but ca-cert.pem holds an unrelated CA. */
    VhPkiCertSpec os = ca_spec("CN=other CA");
    g_autoptr(Cert) other = cert_new(&os, NULL);
    put_certs(dir, "ca-cert.pem", other, NULL);
    put_certs(dir, "server-cert.pem", ch.leaf, ch.inter, NULL);
    expect_fail(dir, ep, VH_ERROR_CERT_CHECK,
                "server-cert.pem (CN=intermediate CA)",
                "has no issuer in CA chain", NULL);
}

static void test_several_cas_and_only_path(void)
{
    VhTlsCredsEndpoint ep = VH_TLS_CREDS_ENDPOINT_SERVER;
    VhPkiCertSpec rs = ca_spec("CN=root CA");
    VhPkiCertSpec xs = ca_spec("CN=expired CA");
    VhPkiCertSpec bs = ca_spec("CN=bad CA");
    VhPkiCertSpec ls = leaf_spec(ep, "CN=host1");
    g_autoptr(Cert) root = cert_new(&rs, NULL);
    g_autoptr(Cert) expired = NULL;
    g_autoptr(Cert) bad = NULL;
    g_autoptr(Cert) leaf = cert_new(&ls, root);
    g_autoptr(Cert) leaf2 = NULL;
    g_autofree char *dir = new_dir();

    spec_expired(&xs);
    expired = cert_new(&xs, NULL);
    bs.basic_constraints = VH_PKI_EXT_ABSENT;
    bad = cert_new(&bs, NULL);

    /* Off-path CAs that would fail every check are not looked at. */
    put_certs(dir, "ca-cert.pem", expired, bad, root, NULL);
    put_certs(dir, "server-cert.pem", leaf, NULL);
    put_key(dir, "server-key.pem", leaf);
    expect_ok(dir, ep);

    /* A leaf issued by the expired CA of the same bundle fails. */
    ls = leaf_spec(ep, "CN=host2");
    leaf2 = cert_new(&ls, expired);
    put_certs(dir, "server-cert.pem", leaf2, NULL);
    put_key(dir, "server-key.pem", leaf2);
    expect_fail(dir, ep, VH_ERROR_CERT_CHECK, "ca-cert.pem (CN=expired CA)",
                "has expired", NULL);
}

static void test_wrong_signature(void)
{
    /* Same issuer DN, different key: only GnuTLS verification can tell. */
    VhTlsCredsEndpoint ep = VH_TLS_CREDS_ENDPOINT_SERVER;
    VhPkiCertSpec rs = ca_spec("CN=root CA");
    VhPkiCertSpec ls = leaf_spec(ep, "CN=host1");
    g_autoptr(Cert) real = cert_new(&rs, NULL);
    g_autoptr(Cert) impostor = cert_new(&rs, NULL);
    g_autoptr(Cert) leaf = NULL;

    /* Without a key id, matching the issuer goes by DN alone. */
    ls.no_authority_key_id = true;
    leaf = cert_new(&ls, impostor);
    g_autofree char *dir = new_dir();

    put_certs(dir, "ca-cert.pem", real, NULL);
    put_certs(dir, "server-cert.pem", leaf, NULL);
    put_key(dir, "server-key.pem", leaf);
    expect_fail(dir, ep, VH_ERROR_CERT_CHECK, "server-cert.pem (CN=host1)",
                "does not verify against", NULL);
}

/* ---- the report mode (what vmhost-pki validate uses) ----------------- */

static void test_report_collects_all(void)
{
    VhPkiCertSpec rs = ca_spec("CN=root CA");
    VhPkiCertSpec ls = leaf_spec(VH_TLS_CREDS_ENDPOINT_SERVER, "CN=host1");
    g_autoptr(Cert) root = NULL;
    g_autoptr(Cert) leaf = NULL;
    g_autoptr(VhX509Report) report = NULL;
    g_autoptr(GError) err = NULL;
    unsigned int fails = 0, warns = 0, passes = 0;
    GPtrArray *items;

    rs.basic_constraints = VH_PKI_EXT_ABSENT; /* FAIL */
    root = cert_new(&rs, NULL);
    ls.key_usage = VH_PKI_EXT_NONCRITICAL; /* WARN */
    ls.key_usage_bits = GNUTLS_KEY_KEY_ENCIPHERMENT;
    ls.expiration = time(NULL) + 5 * DAY; /* WARN: expires soon */
    spec_expired(&ls);                    /* FAIL */
    leaf = cert_new(&ls, root);

    report = vh_x509_report_new(VH_X509_REPORT_COLLECT_ALL);
    VhX509CheckInput in = {
        .is_server = true,
        .cert_file = "server-cert.pem",
        .certs = &leaf->crt,
        .ncerts = 1,
        .ca_file = "ca-cert.pem",
        .cas = &root->crt,
        .ncas = 1,
        .warn_expiry_days = 30,
    };
    g_assert_false(vh_x509_check_identity(report, &in));
    g_assert_true(vh_x509_report_failed(report));
    items = vh_x509_report_get_items(report);
    for (guint i = 0; i < items->len; i++) {
        VhX509CheckItem *item = g_ptr_array_index(items, i);
        g_test_message("%s %s: %s", vh_x509_check_status_name(item->status),
                       item->check, item->message);
        fails += item->status == VH_X509_CHECK_FAIL;
        warns += item->status == VH_X509_CHECK_WARN;
        passes += item->status == VH_X509_CHECK_PASS;
    }
    /* leaf expired, CA without BC, final verify (expired). */
    g_assert_cmpuint(fails, >=, 3);
    g_assert_cmpuint(warns, >=, 1);
    g_assert_cmpuint(passes, >=, 3);
    g_assert_false(vh_x509_report_propagate(report, &err));
    g_assert_error(err, VH_ERROR, VH_ERROR_CERT_CHECK);
    g_assert_nonnull(strstr(err->message, "has expired"));

    /* The expiry warning, on an otherwise good certificate. */
    g_autoptr(VhX509Report) r2 = vh_x509_report_new(VH_X509_REPORT_COLLECT_ALL);
    VhPkiCertSpec gs = ca_spec("CN=good CA");
    g_autoptr(Cert) good = cert_new(&gs, NULL);
    VhPkiCertSpec ss = leaf_spec(VH_TLS_CREDS_ENDPOINT_SERVER, "CN=soon");
    ss.expiration = time(NULL) + 5 * DAY;
    g_autoptr(Cert) soon = cert_new(&ss, good);
    VhX509CheckInput in2 = {
        .is_server = true,
        .cert_file = "server-cert.pem",
        .certs = &soon->crt,
        .ncerts = 1,
        .ca_file = "ca-cert.pem",
        .cas = &good->crt,
        .ncas = 1,
        .warn_expiry_days = 30,
    };
    bool warned = false;
    g_assert_true(vh_x509_check_identity(r2, &in2));
    items = vh_x509_report_get_items(r2);
    for (guint i = 0; i < items->len; i++) {
        VhX509CheckItem *item = g_ptr_array_index(items, i);
        if (item->status == VH_X509_CHECK_WARN) {
            warned = strstr(item->message, "expires within 30 days") != NULL;
        }
    }
    g_assert_true(warned);
    g_assert_true(vh_x509_report_propagate(r2, &err));
}

static void test_get_dn(void)
{
    VhPkiCertSpec ls =
        leaf_spec(VH_TLS_CREDS_ENDPOINT_CLIENT, "C=UK,O=vmhost,CN=qemu");
    g_autoptr(Cert) c = cert_new(&ls, NULL);
    g_autofree char *dn = vh_x509_get_dn(c->crt, NULL);
    char buf[256];
    size_t size = sizeof(buf);

    g_assert_cmpint(gnutls_x509_crt_get_dn(c->crt, buf, &size), ==, 0);
    g_assert_cmpstr(dn, ==, buf);
    g_assert_cmpstr(dn, ==, "C=UK,O=vmhost,CN=qemu");
}

/* ---- certtool, following QEMU's documented recipe -------------------- */

static bool run_certtool(const char *certtool, const char *dir,
                         const char *const *args)
{
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    g_autofree char *err_out = NULL;
    g_autoptr(GError) err = NULL;
    gint status = -1;

    g_ptr_array_add(argv, (char *)certtool);
    for (const char *const *a = args; *a; a++) {
        g_ptr_array_add(argv, (char *)*a);
    }
    g_ptr_array_add(argv, NULL);
    g_assert_true(g_spawn_sync(dir, (char **)argv->pdata, NULL,
                               G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL,
                               &err_out, &status, &err));
    if (!g_spawn_check_wait_status(status, NULL)) {
        g_test_message("certtool failed: %s", err_out);
        return false;
    }
    return true;
}

static void test_certtool_recipe(void)
{
    g_autofree char *certtool = g_find_program_in_path("certtool");
    g_autofree char *dir = NULL;
    static const char *const gen_ca_key[] = {"--generate-privkey",
                                             "--key-type=ecdsa", "--outfile",
                                             "ca-key.pem", NULL};
    static const char *const gen_ca[] = {"--generate-self-signed",
                                         "--load-privkey",
                                         "ca-key.pem",
                                         "--template",
                                         "ca.info",
                                         "--outfile",
                                         "ca-cert.pem",
                                         NULL};
    static const char *const gen_srv_key[] = {"--generate-privkey",
                                              "--key-type=ecdsa", "--outfile",
                                              "server-key.pem", NULL};
    static const char *const gen_srv[] = {"--generate-certificate",
                                          "--load-ca-certificate",
                                          "ca-cert.pem",
                                          "--load-ca-privkey",
                                          "ca-key.pem",
                                          "--load-privkey",
                                          "server-key.pem",
                                          "--template",
                                          "server.info",
                                          "--outfile",
                                          "server-cert.pem",
                                          NULL};
    static const char *const gen_cli_key[] = {"--generate-privkey",
                                              "--key-type=ecdsa", "--outfile",
                                              "client-key.pem", NULL};
    static const char *const gen_cli[] = {"--generate-certificate",
                                          "--load-ca-certificate",
                                          "ca-cert.pem",
                                          "--load-ca-privkey",
                                          "ca-key.pem",
                                          "--load-privkey",
                                          "client-key.pem",
                                          "--template",
                                          "client.info",
                                          "--outfile",
                                          "client-cert.pem",
                                          NULL};

    if (!certtool) {
        g_test_skip("certtool (gnutls-bin) is not installed");
        return;
    }
    dir = new_dir();
    put_text(dir, "ca.info",
             "cn = vmhost test CA\nca\ncert_signing_key\n"
             "expiration_days = 30\n");
    put_text(dir, "server.info",
             "organization = vmhost\ncn = host1.example.org\n"
             "dns_name = host1.example.org\ndns_name = host1\n"
             "ip_address = 192.0.2.1\ntls_www_server\nencryption_key\n"
             "signing_key\nexpiration_days = 30\n");
    put_text(dir, "client.info",
             "country = UK\norganization = vmhost\n"
             "cn = qemu\ntls_www_client\nencryption_key\n"
             "signing_key\nexpiration_days = 30\n");
    g_assert_true(run_certtool(certtool, dir, gen_ca_key));
    g_assert_true(run_certtool(certtool, dir, gen_ca));
    g_assert_true(run_certtool(certtool, dir, gen_srv_key));
    g_assert_true(run_certtool(certtool, dir, gen_srv));
    g_assert_true(run_certtool(certtool, dir, gen_cli_key));
    g_assert_true(run_certtool(certtool, dir, gen_cli));

    expect_ok(dir, VH_TLS_CREDS_ENDPOINT_SERVER);
    expect_ok(dir, VH_TLS_CREDS_ENDPOINT_CLIENT);
    {
        g_autofree char *path = g_build_filename(dir, "client-cert.pem", NULL);
        g_auto(gnutls_x509_crt_t) crt = vh_pki_cert_load(path, NULL);
        g_autofree char *dn = vh_x509_get_dn(crt, NULL);
        g_assert_cmpstr(dn, ==, "C=UK,O=vmhost,CN=qemu");
    }

    /*
     * certtool writes the key purpose as not critical: a server cert that
     * only says tls_www_client still loads (QEMU warns and carries on).
     */
    put_text(dir, "server.info",
             "cn = host1\ntls_www_client\nsigning_key\n"
             "expiration_days = 30\n");
    g_assert_true(run_certtool(certtool, dir, gen_srv));
    expect_ok(dir, VH_TLS_CREDS_ENDPOINT_SERVER);

    /* A CA template without "ca": no cA flag, so our checks refuse it. */
    put_text(dir, "ca.info",
             "cn = not a CA\ncert_signing_key\n"
             "expiration_days = 30\n");
    g_assert_true(run_certtool(certtool, dir, gen_ca));
    g_assert_true(run_certtool(certtool, dir, gen_srv));
    expect_fail(dir, VH_TLS_CREDS_ENDPOINT_SERVER, VH_ERROR_CERT_CHECK,
                "ca-cert.pem (CN=not a CA)", "not a CA", NULL);
}

int main(int argc, char **argv)
{
    int rc;

    g_test_init(&argc, &argv, NULL);
    tmpdir = vh_test_mkdtemp("vh-creds-x509");

    g_test_add_func("/crypto/tls-creds-x509/good-server",
                    test_good_server_and_defaults);
    g_test_add_func("/crypto/tls-creds-x509/endpoint-default",
                    test_endpoint_default_client);
    g_test_add_func("/crypto/tls-creds-x509/endpoint-mismatch",
                    test_endpoint_mismatch);
    g_test_add_func("/crypto/tls-creds-x509/apply", test_apply);
    g_test_add_func("/crypto/tls-creds-x509/handshake", test_handshake);
    g_test_add_func("/crypto/tls-creds-x509/client-without-cert",
                    test_client_without_cert);
    g_test_add_func("/crypto/tls-creds-x509/missing-files", test_missing_files);
    g_test_add_func("/crypto/tls-creds-x509/corrupt-pem", test_corrupt_pem);
    g_test_add_func("/crypto/tls-creds-x509/key-mismatch", test_key_mismatch);
    g_test_add_func("/crypto/tls-creds-x509/der-in-pem-slot",
                    test_der_in_pem_slot);
    g_test_add_func("/crypto/tls-creds-x509/unreadable-dir",
                    test_unreadable_dir);
    g_test_add_func("/crypto/tls-creds-x509/unreadable-dir/permissions",
                    test_unreadable_dir_permissions);
    g_test_add_func("/crypto/tls-creds-x509/crl", test_crl);
    g_test_add_func("/crypto/tls-creds-x509/dh-params", test_dh_params);
    g_test_add_func("/crypto/tls-creds-x509/extra-identities",
                    test_extra_identities);
    g_test_add_func("/crypto/tls-creds-x509/key-usage/leaf",
                    test_leaf_key_usage);
    g_test_add_func("/crypto/tls-creds-x509/key-usage/ca", test_ca_key_usage);
    g_test_add_func("/crypto/tls-creds-x509/key-usage/intermediate",
                    test_intermediate_key_usage);
    g_test_add_func("/crypto/tls-creds-x509/key-purpose/leaf",
                    test_key_purpose);
    g_test_add_func("/crypto/tls-creds-x509/key-purpose/leaf-only",
                    test_key_purpose_leaf_only);
    g_test_add_func("/crypto/tls-creds-x509/basic-constraints",
                    test_basic_constraints);
    g_test_add_func("/crypto/tls-creds-x509/basic-constraints/intermediate",
                    test_intermediate_basic_constraints);
    g_test_add_func("/crypto/tls-creds-x509/validity", test_validity_levels);
    g_test_add_func("/crypto/tls-creds-x509/sanity-check-off",
                    test_sanity_check_off);
    g_test_add_func("/crypto/tls-creds-x509/key-permissions",
                    test_key_permissions);
    g_test_add_func("/crypto/tls-creds-x509/sanity-check-values",
                    test_sanity_check_values);
    g_test_add_func("/crypto/tls-creds-x509/chain/sorted-unsorted",
                    test_chain_sorted_unsorted);
    g_test_add_func("/crypto/tls-creds-x509/chain/root-in-own-file",
                    test_chain_with_root_in_own_file);
    g_test_add_func("/crypto/tls-creds-x509/chain/intermediate-in-bundle",
                    test_chain_intermediate_in_bundle);
    g_test_add_func("/crypto/tls-creds-x509/chain/incomplete",
                    test_chain_incomplete);
    g_test_add_func("/crypto/tls-creds-x509/chain/several-cas-only-path",
                    test_several_cas_and_only_path);
    g_test_add_func("/crypto/tls-creds-x509/chain/wrong-signature",
                    test_wrong_signature);
    g_test_add_func("/crypto/x509-check/report", test_report_collects_all);
    g_test_add_func("/crypto/x509-check/get-dn", test_get_dn);
    g_test_add_func("/crypto/tls-creds-x509/certtool", test_certtool_recipe);

    rc = g_test_run();
    vh_test_rm_rf(tmpdir);
    g_free(tmpdir);
    return rc;
}
