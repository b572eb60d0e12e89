/* Tests for tls-creds-anon (lib/crypto/tls-creds-anon.c). */
#include "vmhost/crypto/tls-creds-anon.h"

#include "crypto-testutil.h"

#include <string.h>

static char *tmpdir;

static VhTlsCreds *anon_new(VhTlsCredsEndpoint ep, const char *dir,
                            GError **err)
{
    return g_initable_new(VH_TYPE_TLS_CREDS_ANON, NULL, err, "endpoint", ep,
                          "dir", dir, NULL);
}

static void test_handshake(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(VhTlsCreds) server =
        anon_new(VH_TLS_CREDS_ENDPOINT_SERVER, NULL, &err);
    g_autoptr(VhTlsCreds) client =
        anon_new(VH_TLS_CREDS_ENDPOINT_CLIENT, NULL, &err);

    g_assert_no_error(err);
    g_assert_true(vh_tls_creds_check_endpoint(
        server, VH_TLS_CREDS_ENDPOINT_SERVER, &err));
    g_assert_false(vh_tls_creds_check_endpoint(
        client, VH_TLS_CREDS_ENDPOINT_SERVER, &err));
    g_assert_cmpstr(err->message, ==,
                    "Expected TLS credentials for a server endpoint");
    g_assert_cmpint(vh_test_handshake(server, client, NULL, NULL), ==, 0);
}

static void test_apply_sets_anon(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(VhTlsCreds) client =
        anon_new(VH_TLS_CREDS_ENDPOINT_CLIENT, NULL, &err);
    gnutls_session_t session;
    void *cred = NULL;

    g_assert_cmpint(gnutls_init(&session, GNUTLS_CLIENT), ==, 0);
    g_assert_true(vh_tls_creds_apply(client, session, &err));
    g_assert_cmpint(gnutls_credentials_get(session, GNUTLS_CRD_ANON, &cred), ==,
                    0);
    g_assert_nonnull(cred);
    gnutls_deinit(session);
}

static void test_apply_before_load(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(VhTlsCreds) creds = g_object_new(VH_TYPE_TLS_CREDS_ANON, NULL);
    gnutls_session_t session;

    g_assert_cmpint(gnutls_init(&session, GNUTLS_CLIENT), ==, 0);
    g_assert_false(vh_tls_creds_apply(creds, session, &err));
    g_assert_error(err, VH_ERROR, VH_ERROR_INVALID_ARGUMENT);
    g_assert_nonnull(strstr(err->message, "never loaded"));
    gnutls_deinit(session);
}

static void test_dh_params(void)
{
    g_autofree char *dir = g_build_filename(tmpdir, "dh", NULL);
    g_autofree char *path = g_build_filename(dir, "dh-params.pem", NULL);
    g_autofree char *certtool = g_find_program_in_path("certtool");
    g_autofree char *out = NULL;
    g_autoptr(GError) err = NULL;
    g_autoptr(VhTlsCreds) empty = NULL;
    VhTlsCreds *bad;
    gint status = 1;

    g_assert_cmpint(g_mkdir_with_parents(dir, 0700), ==, 0);
    /* A dir without dh-params.pem is fine. */
    empty = anon_new(VH_TLS_CREDS_ENDPOINT_SERVER, dir, &err);
    g_assert_no_error(err);

    g_assert_true(g_file_set_contents(path, "junk\n", -1, NULL));
    bad = anon_new(VH_TLS_CREDS_ENDPOINT_SERVER, dir, &err);
    g_assert_null(bad);
    g_assert_error(err, VH_ERROR, VH_ERROR_CERT_FILE);
    g_assert_nonnull(strstr(err->message, "Unable to parse DH parameters"));
    g_assert_nonnull(strstr(err->message, path));
    g_clear_error(&err);

    /* A client ignores dh-params.pem. */
    {
        g_autoptr(VhTlsCreds) client G_GNUC_UNUSED =
            anon_new(VH_TLS_CREDS_ENDPOINT_CLIENT, dir, &err);
        g_assert_no_error(err);
    }

    if (!certtool) {
        g_test_skip("certtool not installed: valid dh-params.pem untested");
        return;
    }
    const char *argv[] = {certtool, "--get-dh-params", NULL};
    g_assert_true(g_spawn_sync(NULL, (char **)argv, NULL,
                               G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, &out,
                               NULL, &status, NULL));
    g_assert_true(g_file_set_contents(path, out, -1, NULL));
    {
        g_autoptr(VhTlsCreds) server =
            anon_new(VH_TLS_CREDS_ENDPOINT_SERVER, dir, &err);
        g_autoptr(VhTlsCreds) client =
            anon_new(VH_TLS_CREDS_ENDPOINT_CLIENT, NULL, &err);
        g_assert_no_error(err);
        g_assert_cmpint(vh_test_handshake(server, client, NULL, NULL), ==, 0);
    }
}

static void test_unreadable_dh_params(void)
{
    /* dh-params.pem that is a directory: the read fails, naming it. */
    g_autofree char *dir = g_build_filename(tmpdir, "dhdir", NULL);
    g_autofree char *path = g_build_filename(dir, "dh-params.pem", NULL);
    g_autoptr(GError) err = NULL;
    VhTlsCreds *creds;

    g_assert_cmpint(g_mkdir_with_parents(path, 0700), ==, 0);
    creds = anon_new(VH_TLS_CREDS_ENDPOINT_SERVER, dir, &err);
    g_assert_null(creds);
    g_assert_error(err, VH_ERROR, VH_ERROR_CERT_FILE);
    g_assert_nonnull(strstr(err->message, "Unable to read DH parameters"));
    g_assert_nonnull(strstr(err->message, "not a regular file (a directory)"));
}

int main(int argc, char **argv)
{
    int rc;

    g_test_init(&argc, &argv, NULL);
    tmpdir = vh_test_mkdtemp("vh-creds-anon");
    g_test_add_func("/crypto/tls-creds-anon/handshake", test_handshake);
    g_test_add_func("/crypto/tls-creds-anon/apply", test_apply_sets_anon);
    g_test_add_func("/crypto/tls-creds-anon/apply-before-load",
                    test_apply_before_load);
    g_test_add_func("/crypto/tls-creds-anon/dh-params", test_dh_params);
    g_test_add_func("/crypto/tls-creds-anon/dh-params-unreadable",
                    test_unreadable_dh_params);
    rc = g_test_run();
    vh_test_rm_rf(tmpdir);
    g_free(tmpdir);
    return rc;
}
