/* Tests for tls-creds-psk (lib/crypto/tls-creds-psk.c). */
#include "vmhost/crypto/tls-creds-psk.h"

#include "crypto-testutil.h"

#include <string.h>

static char *tmpdir;

/* A fresh dir holding keys.psk with @content (NULL: no file). */
static char *keys_dir(const char *content)
{
    static int counter;
    char *dir = g_strdup_printf("%s/k%d", tmpdir, counter++);

    g_assert_cmpint(g_mkdir_with_parents(dir, 0700), ==, 0);
    if (content) {
        g_autofree char *path = g_build_filename(dir, "keys.psk", NULL);
        g_assert_true(g_file_set_contents(path, content, -1, NULL));
    }
    return dir;
}

static VhTlsCreds *psk_server(const char *dir, GError **err)
{
    return g_initable_new(VH_TYPE_TLS_CREDS_PSK, NULL, err, "endpoint",
                          VH_TLS_CREDS_ENDPOINT_SERVER, "dir", dir, NULL);
}

static VhTlsCreds *psk_client(const char *dir, const char *user, GError **err)
{
    if (!user) {
        return g_initable_new(VH_TYPE_TLS_CREDS_PSK, NULL, err, "endpoint",
                              VH_TLS_CREDS_ENDPOINT_CLIENT, "dir", dir, NULL);
    }
    return g_initable_new(VH_TYPE_TLS_CREDS_PSK, NULL, err, "endpoint",
                          VH_TLS_CREDS_ENDPOINT_CLIENT, "dir", dir, "username",
                          user, NULL);
}

static void expect_error(VhTlsCreds *creds, GError *err, int code,
                         const char *needle1, const char *needle2)
{
    g_assert_null(creds);
    g_assert_error(err, VH_ERROR, code);
    g_test_message("error: %s", err->message);
    g_assert_nonnull(strstr(err->message, needle1));
    if (needle2) {
        g_assert_nonnull(strstr(err->message, needle2));
    }
}

static void test_match(void)
{
    g_autofree char *dir = keys_dir("\nqemu:0123456789abcdef\r\n"
                                    "alice:DEADBEEFdeadbeef00\n\n");
    g_autoptr(GError) err = NULL;
    g_autoptr(VhTlsCreds) server = psk_server(dir, &err);
    g_autoptr(VhTlsCreds) client = psk_client(dir, NULL, &err);
    g_autoptr(VhTlsCreds) alice = psk_client(dir, "alice", &err);
    g_autofree char *user = NULL;

    g_assert_no_error(err);
    g_assert_cmpstr(vh_tls_creds_psk_get_username(VH_TLS_CREDS_PSK(client)), ==,
                    "qemu");
    g_object_get(alice, "username", &user, NULL);
    g_assert_cmpstr(user, ==, "alice");
    g_assert_nonnull(
        strstr(vh_tls_creds_get_priority(server), ":+ECDHE-PSK:+DHE-PSK:+PSK"));
    g_assert_cmpint(vh_test_handshake(server, client, NULL, NULL), ==, 0);
    g_assert_cmpint(vh_test_handshake(server, alice, NULL, NULL), ==, 0);
}

static void test_mismatch(void)
{
    g_autofree char *sdir = keys_dir("qemu:0123456789abcdef\n");
    g_autofree char *cdir = keys_dir("qemu:fedcba9876543210\n"
                                     "bob:00112233\n");
    g_autoptr(GError) err = NULL;
    g_autoptr(VhTlsCreds) server = psk_server(sdir, &err);
    g_autoptr(VhTlsCreds) client = psk_client(cdir, NULL, &err);
    g_autoptr(VhTlsCreds) bob = psk_client(cdir, "bob", &err);

    g_assert_no_error(err);
    /* Same user, different key. */
    g_assert_cmpint(vh_test_handshake(server, client, NULL, NULL), <, 0);
    /* A user the server does not know. */
    g_assert_cmpint(vh_test_handshake(server, bob, NULL, NULL), <, 0);
}

static void test_username_rules(void)
{
    g_autofree char *dir = keys_dir("qemu:00\n");
    g_autoptr(GError) err = NULL;
    VhTlsCreds *creds;

    creds = g_initable_new(VH_TYPE_TLS_CREDS_PSK, NULL, &err, "endpoint",
                           VH_TLS_CREDS_ENDPOINT_SERVER, "dir", dir, "username",
                           "qemu", NULL);
    expect_error(creds, err, VH_ERROR_INVALID_ARGUMENT, "'username'",
                 "only be set for a client");
    g_clear_error(&err);

    creds = psk_client(dir, "nobody", &err);
    expect_error(creds, err, VH_ERROR_CONFIG, "no key for username 'nobody'",
                 "keys.psk");
    g_clear_error(&err);

    g_autofree char *dir2 = keys_dir("alice:00\n");
    creds = psk_client(dir2, NULL, &err);
    expect_error(creds, err, VH_ERROR_CONFIG, "no key for username 'qemu'",
                 dir2);
}

static void test_bad_lines(void)
{
    static const struct {
        const char *content;
        const char *needle;
    } cases[] = {
        {"qemu:00\nno colon here\n", "line 2: expected 'username:hexkey'"},
        {":0011\n", "line 1: the username is empty"},
        {"qemu:0g\n", "line 1: the key of user 'qemu' is not"},
        {"qemu:001\n", "line 1: the key of user 'qemu' is not"},
        {"\n\nqemu:\n", "line 3: the key of user 'qemu' is not"},
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *dir = keys_dir(cases[i].content);
        g_autofree char *path = g_build_filename(dir, "keys.psk", NULL);
        g_autoptr(GError) err = NULL;
        VhTlsCreds *creds = psk_server(dir, &err);

        expect_error(creds, err, VH_ERROR_CONFIG, path, cases[i].needle);
        g_clear_error(&err);
        creds = psk_client(dir, NULL, &err);
        expect_error(creds, err, VH_ERROR_CONFIG, path, cases[i].needle);
    }
}

static void test_nul_byte(void)
{
    g_autofree char *dir = keys_dir(NULL);
    g_autofree char *path = g_build_filename(dir, "keys.psk", NULL);
    g_autoptr(GError) err = NULL;
    VhTlsCreds *creds;

    g_assert_true(g_file_set_contents(path, "qemu:00\0\nx", 10, NULL));
    creds = psk_server(dir, &err);
    expect_error(creds, err, VH_ERROR_CONFIG, path, "NUL byte");
}

static void test_missing(void)
{
    g_autofree char *dir = keys_dir(NULL);
    g_autofree char *path = g_build_filename(dir, "keys.psk", NULL);
    g_autoptr(GError) err = NULL;
    VhTlsCreds *creds = psk_server(dir, &err);

    expect_error(creds, err, VH_ERROR_CERT_FILE, "Unable to read PSK keys file",
                 path);
    g_assert_nonnull(strstr(err->message, "No such file or directory"));
    g_clear_error(&err);

    creds = g_initable_new(VH_TYPE_TLS_CREDS_PSK, NULL, &err, NULL);
    expect_error(creds, err, VH_ERROR_INVALID_ARGUMENT, "'dir'", "keys.psk");
}

static void test_duplicate_user_first_wins(void)
{
    g_autofree char *sdir = keys_dir("qemu:0011\nqemu:2233\n");
    g_autofree char *cdir = keys_dir("qemu:0011\n");
    g_autoptr(GError) err = NULL;
    g_autoptr(VhTlsCreds) server = psk_server(sdir, &err);
    g_autoptr(VhTlsCreds) client = psk_client(cdir, NULL, &err);

    g_assert_no_error(err);
    g_assert_cmpint(vh_test_handshake(server, client, NULL, NULL), ==, 0);
}

/* Random keys.psk contents: a clean load or a clear error, never a crash. */
static void test_random_files(void)
{
    static const char alphabet[] = "qemu:0123456789abcdefABCDEFxyz \t\r\n:";

    for (int round = 0; round < 300; round++) {
        g_autoptr(GString) text = g_string_new(NULL);
        int len = g_test_rand_int_range(0, 200);
        g_autofree char *dir = NULL;
        g_autoptr(GError) err = NULL;
        g_autoptr(VhTlsCreds) server = NULL;

        for (int i = 0; i < len; i++) {
            if (g_test_rand_int_range(0, 20) == 0) {
                g_string_append_c(text, (char)g_test_rand_int_range(1, 256));
            } else {
                g_string_append_c(
                    text,
                    alphabet[g_test_rand_int_range(0, sizeof(alphabet) - 1)]);
            }
        }
        dir = keys_dir(text->str);
        server = psk_server(dir, &err);
        if (!server) {
            g_assert_error(err, VH_ERROR, VH_ERROR_CONFIG);
            g_assert_nonnull(strstr(err->message, "keys.psk line "));
        }
    }
}

int main(int argc, char **argv)
{
    int rc;

    g_test_init(&argc, &argv, NULL);
    tmpdir = vh_test_mkdtemp("vh-creds-psk");
    g_test_add_func("/crypto/tls-creds-psk/match", test_match);
    g_test_add_func("/crypto/tls-creds-psk/mismatch", test_mismatch);
    g_test_add_func("/crypto/tls-creds-psk/username", test_username_rules);
    g_test_add_func("/crypto/tls-creds-psk/bad-lines", test_bad_lines);
    g_test_add_func("/crypto/tls-creds-psk/missing", test_missing);
    g_test_add_func("/crypto/tls-creds-psk/nul-byte", test_nul_byte);
    g_test_add_func("/crypto/tls-creds-psk/random-files", test_random_files);
    g_test_add_func("/crypto/tls-creds-psk/duplicate-user",
                    test_duplicate_user_first_wins);
    rc = g_test_run();
    vh_test_rm_rf(tmpdir);
    g_free(tmpdir);
    return rc;
}
