/*
 * Tests for the vmhost-pki program (src/vmhost-pki): runs the built binary
 * ($VMHOST_BUILDDIR/src/vmhost-pki/vmhost-pki) through every command.
 */
#include "vmhost/crypto/pki.h"
#include "vmhost/crypto/tls-creds-x509.h"
#include "vmhost/crypto/x509-check.h"

#include "crypto-testutil.h"

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>
#include <sys/stat.h>

#define DAY (24 * 60 * 60)

static char *tmpdir;
static char *tool;

typedef struct {
    int status; /* exit status, or -1 if it did not exit */
    char *out;
    char *err;
} Run;

static void run_clear(Run *r)
{
    g_free(r->out);
    g_free(r->err);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Run, run_clear)

/* Run vmhost-pki with the NULL-terminated arguments. */
static Run pki(const char *arg, ...)
{
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    g_autoptr(GError) err = NULL;
    Run r = {-1, NULL, NULL};
    gint wait_status = 0;
    va_list ap;

    g_ptr_array_add(argv, tool);
    va_start(ap, arg);
    for (const char *a = arg; a; a = va_arg(ap, const char *)) {
        g_ptr_array_add(argv, (char *)a);
    }
    va_end(ap);
    g_ptr_array_add(argv, NULL);
    g_assert_true(g_spawn_sync(NULL, (char **)argv->pdata, NULL, 0, NULL, NULL,
                               &r.out, &r.err, &wait_status, &err));
    g_assert_no_error(err);
    if (WIFEXITED(wait_status)) {
        r.status = WEXITSTATUS(wait_status);
    }
    g_test_message("exit %d\nstdout: %s\nstderr: %s", r.status, r.out, r.err);
    return r;
}

static bool has(const char *text, const char *needle)
{
    if (!strstr(text, needle)) {
        g_test_message("'%s' not found", needle);
        return false;
    }
    return true;
}

static char *new_dir(void)
{
    static int counter;

    return g_strdup_printf("%s/pki%d", tmpdir, counter++);
}

/* A CA plus server and client certificates, made with the tool. */
static char *full_dir(void)
{
    char *dir = new_dir();
    g_auto(Run) a = pki("init-ca", dir, "--cn", "Tool CA", NULL);
    g_auto(Run) b =
        pki("issue", "server", dir, "--hostname", "host1.example.org",
            "--hostname", "host1", "--ip", "192.0.2.7", NULL);
    g_auto(Run) c =
        pki("issue", "client", dir, "--dn", "C=UK,O=vmhost,CN=client1", NULL);

    g_assert_cmpint(a.status, ==, 0);
    g_assert_cmpint(b.status, ==, 0);
    g_assert_cmpint(c.status, ==, 0);
    return dir;
}

static char *path_in(const char *dir, const char *name)
{
    return g_build_filename(dir, name, NULL);
}

static void test_init_ca(void)
{
    g_autofree char *dir = new_dir();
    g_autofree char *key = path_in(dir, "ca-key.pem");
    g_autofree char *cert = path_in(dir, "ca-cert.pem");
    g_autofree char *before = NULL;
    g_autofree char *after = NULL;
    struct stat st;

    {
        g_auto(Run) r =
            pki("init-ca", dir, "--cn", "My CA", "--days", "10", NULL);
        g_assert_cmpint(r.status, ==, 0);
        g_assert_true(has(r.out, cert));
    }
    g_assert_cmpint(g_stat(key, &st), ==, 0);
    g_assert_cmpint(st.st_mode & 0777, ==, 0600);
    g_assert_true(g_file_get_contents(cert, &before, NULL, NULL));
    {
        g_auto(gnutls_x509_crt_t) crt = vh_pki_cert_load(cert, NULL);
        unsigned int ca = 0;
        g_assert_cmpint(
            gnutls_x509_crt_get_basic_constraints(crt, NULL, &ca, NULL), >=, 0);
        g_assert_true(ca);
        g_assert_cmpint(gnutls_x509_crt_get_expiration_time(crt) - time(NULL),
                        <=, 10 * DAY);
    }
    {
        /* Refuses to overwrite; the CA is untouched. */
        g_auto(Run) r = pki("init-ca", dir, NULL);
        g_assert_cmpint(r.status, ==, 1);
        g_assert_true(has(r.err, "already exists; use --force"));
        g_assert_true(g_file_get_contents(cert, &after, NULL, NULL));
        g_assert_cmpstr(before, ==, after);
    }
    {
        g_auto(Run) r = pki("init-ca", dir, "--force", NULL);
        g_assert_cmpint(r.status, ==, 0);
        g_clear_pointer(&after, g_free);
        g_assert_true(g_file_get_contents(cert, &after, NULL, NULL));
        g_assert_cmpstr(before, !=, after);
    }
}

static void test_key_types(void)
{
    static const char *const types[] = {"ecdsa-p384", "ed25519", "rsa-3072"};

    for (size_t i = 0; i < G_N_ELEMENTS(types); i++) {
        g_autofree char *dir = new_dir();
        g_auto(Run) a = pki("init-ca", dir, "--key-type", types[i], NULL);
        g_auto(Run) b =
            pki("issue", "server", dir, "--hostname", "h", "--key-type",
                i == 2 ? "ecdsa-p256" : types[i], NULL);
        g_auto(Run) c = pki("validate", dir, "--endpoint", "server", NULL);
        g_autofree char *key = path_in(dir, "ca-key.pem");
        g_autoptr(VhPkiKey) k = vh_pki_key_load(key, NULL);
        VhPkiKeyType t;

        g_assert_cmpint(a.status, ==, 0);
        g_assert_cmpint(b.status, ==, 0);
        g_assert_cmpint(c.status, ==, 0);
        g_assert_true(vh_pki_key_type_from_name(types[i], &t, NULL));
        g_assert_cmpint(vh_pki_key_get_type(k), ==, t);
    }
}

static void test_issue_and_load(void)
{
    g_autofree char *dir = full_dir();
    g_autofree char *srv = path_in(dir, "server-cert.pem");
    g_autofree char *cli = path_in(dir, "client-cert.pem");
    g_auto(gnutls_x509_crt_t) s = vh_pki_cert_load(srv, NULL);
    g_auto(gnutls_x509_crt_t) c = vh_pki_cert_load(cli, NULL);
    g_autoptr(GError) err = NULL;
    g_autoptr(VhTlsCreds) server = NULL;
    g_autoptr(VhTlsCreds) client = NULL;

    g_assert_true(gnutls_x509_crt_check_hostname(s, "host1.example.org"));
    g_assert_true(gnutls_x509_crt_check_hostname(s, "host1"));
    g_assert_true(gnutls_x509_crt_check_ip(
        s, (const unsigned char *)"\xc0\x00\x02\x07", 4, 0));
    g_assert_false(gnutls_x509_crt_check_hostname(s, "host2"));

    /* The credentials objects load what the tool made, both ends. */
    server = g_initable_new(VH_TYPE_TLS_CREDS_X509, NULL, &err, "endpoint",
                            VH_TLS_CREDS_ENDPOINT_SERVER, "dir", dir, NULL);
    g_assert_no_error(err);
    client = g_initable_new(VH_TYPE_TLS_CREDS_X509, NULL, &err, "endpoint",
                            VH_TLS_CREDS_ENDPOINT_CLIENT, "dir", dir, NULL);
    g_assert_no_error(err);
    g_assert_cmpint(vh_test_handshake(server, client, NULL, NULL), ==, 0);
    (void)c;
}

static void test_issue_refuses_overwrite(void)
{
    g_autofree char *dir = full_dir();
    g_autofree char *key = path_in(dir, "server-key.pem");
    g_autofree char *before = NULL;
    g_autofree char *after = NULL;

    g_assert_true(g_file_get_contents(key, &before, NULL, NULL));
    {
        g_auto(Run) r = pki("issue", "server", dir, "--hostname", "x", NULL);
        g_assert_cmpint(r.status, ==, 1);
        g_assert_true(has(r.err, "server-cert.pem already exists"));
        g_assert_true(g_file_get_contents(key, &after, NULL, NULL));
        g_assert_cmpstr(before, ==, after);
    }
    {
        g_auto(Run) r = pki("issue", "client", dir, "--dn", "CN=x", NULL);
        g_assert_cmpint(r.status, ==, 1);
        g_assert_true(has(r.err, "client-cert.pem already exists"));
    }
    {
        g_auto(Run) r =
            pki("issue", "server", dir, "--hostname", "x", "--force", NULL);
        g_assert_cmpint(r.status, ==, 0);
    }
}

static void test_issue_errors(void)
{
    g_autofree char *empty = new_dir();
    g_autofree char *dir = new_dir();

    g_assert_cmpint(g_mkdir_with_parents(empty, 0700), ==, 0);
    {
        /* No CA in the directory. */
        g_auto(Run) r = pki("issue", "server", empty, "--hostname", "h", NULL);
        g_assert_cmpint(r.status, ==, 1);
        g_assert_true(has(r.err, "ca-cert.pem"));
        g_assert_true(has(r.err, "No such file or directory"));
    }
    {
        g_auto(Run) a = pki("init-ca", dir, NULL);
        g_assert_cmpint(a.status, ==, 0);
        g_auto(Run) r = pki("issue", "server", dir, "--hostname", "h", "--ip",
                            "999.1.1.1", NULL);
        g_assert_cmpint(r.status, ==, 1);
        g_assert_true(has(r.err, "'999.1.1.1'"));
    }
    {
        g_auto(Run) r =
            pki("issue", "client", dir, "--dn", "BOGUS=1,CN=x", NULL);
        g_assert_cmpint(r.status, ==, 1);
        g_assert_true(has(r.err, "invalid subject DN"));
    }
    {
        /* The CA key does not belong to the CA cert. */
        g_autofree char *other = new_dir();
        g_auto(Run) b = pki("init-ca", other, NULL);
        g_assert_cmpint(b.status, ==, 0);
        g_autofree char *src = path_in(other, "ca-key.pem");
        g_autofree char *dst = path_in(dir, "ca-key.pem");
        g_autofree char *data = NULL;
        g_assert_true(g_file_get_contents(src, &data, NULL, NULL));
        g_assert_true(g_file_set_contents(dst, data, -1, NULL));
        g_auto(Run) r = pki("issue", "client", dir, "--dn", "CN=x", NULL);
        g_assert_cmpint(r.status, ==, 1);
        g_assert_true(has(r.err, "ca-key.pem does not match"));
    }
}

static void test_usage_errors(void)
{
    g_autofree char *dir = path_in(tmpdir, "d");
    const char *const *cases[] = {
        (const char *const[]){NULL},
        (const char *const[]){"frobnicate", NULL},
        (const char *const[]){"init-ca", NULL},
        (const char *const[]){"init-ca", "a", "b", NULL},
        (const char *const[]){"init-ca", "d", "--days", "0", NULL},
        (const char *const[]){"init-ca", "d", "--key-type", "dsa", NULL},
        (const char *const[]){"init-ca", "d", "--bogus", NULL},
        (const char *const[]){"issue", "d", NULL},
        (const char *const[]){"issue", "server", "d", NULL},
        (const char *const[]){"issue", "client", "d", NULL},
        (const char *const[]){"issue", "client", "d", "--hostname", "h", "--dn",
                              "CN=x", NULL},
        (const char *const[]){"issue", "server", "d", "--hostname", "h", "--dn",
                              "CN=x", NULL},
        (const char *const[]){"issue", "other", "d", NULL},
        (const char *const[]){"validate", "d", NULL},
        (const char *const[]){"validate", "d", "--endpoint", "both", NULL},
        (const char *const[]){"validate", "d", "--endpoint", "client",
                              "--hostname", "h", NULL},
        (const char *const[]){"show-dn", NULL},
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(GPtrArray) argv = g_ptr_array_new();
        g_autofree char *out = NULL, *err = NULL;
        gint status = 0;

        g_ptr_array_add(argv, tool);
        for (const char *const *a = cases[i]; *a; a++) {
            g_ptr_array_add(argv, (char *)*a);
        }
        g_ptr_array_add(argv, NULL);
        g_assert_true(g_spawn_sync(tmpdir, (char **)argv->pdata, NULL, 0, NULL,
                                   NULL, &out, &err, &status, NULL));
        g_test_message("case %zu: %s", i, err);
        g_assert_true(WIFEXITED(status));
        g_assert_cmpint(WEXITSTATUS(status), ==, 2);
        g_assert_true(g_str_has_prefix(err, "vmhost-pki: "));
    }
    /* Nothing was created by the failed commands. */
    g_assert_false(g_file_test(dir, G_FILE_TEST_EXISTS));
    {
        g_auto(Run) r = pki("--help", NULL);
        g_assert_cmpint(r.status, ==, 0);
        g_assert_true(has(r.out, "validate DIR --endpoint"));
    }
}

static void test_validate_ok(void)
{
    g_autofree char *dir = full_dir();
    g_auto(Run) s = pki("validate", dir, "--endpoint", "server", "--hostname",
                        "host1", NULL);
    g_auto(Run) c = pki("validate", dir, "--endpoint", "client", NULL);
    g_auto(Run) ip = pki("validate", dir, "--endpoint", "server", "--hostname",
                         "192.0.2.7", NULL);

    g_assert_cmpint(s.status, ==, 0);
    g_assert_false(has(s.out, "FAIL"));
    g_assert_true(has(s.out, "PASS files"));
    g_assert_true(has(s.out, "PASS key-permissions"));
    g_assert_true(has(s.out, "PASS key-purpose"));
    g_assert_true(has(s.out, "PASS verify"));
    g_assert_true(has(s.out, "PASS hostname"));
    g_assert_cmpint(c.status, ==, 0);
    g_assert_true(has(c.out, "(C=UK,O=vmhost,CN=client1)"));
    g_assert_true(has(c.out, "TLS WWW client"));
    g_assert_cmpint(ip.status, ==, 0);
}

static void test_validate_hostname_mismatch(void)
{
    g_autofree char *dir = full_dir();
    g_auto(Run) r = pki("validate", dir, "--endpoint", "server", "--hostname",
                        "host2.example.org", NULL);

    g_assert_cmpint(r.status, ==, 1);
    g_assert_true(has(r.out, "FAIL hostname"));
    g_assert_true(has(r.out, "does not match hostname 'host2.example.org'"));
    g_assert_true(has(r.out, "FAILED"));
}

static JsonObject *parse_json(const char *text, JsonParser *parser)
{
    g_autoptr(GError) err = NULL;
    JsonNode *root;

    g_assert_true(json_parser_load_from_data(parser, text, -1, &err));
    g_assert_no_error(err);
    root = json_parser_get_root(parser);
    g_assert_true(JSON_NODE_HOLDS_OBJECT(root));
    return json_node_get_object(root);
}

static void test_validate_json(void)
{
    g_autofree char *dir = full_dir();
    g_autofree char *key = path_in(dir, "server-key.pem");
    g_autoptr(JsonParser) parser = json_parser_new();
    JsonObject *obj;
    JsonArray *checks;

    {
        g_auto(Run) r =
            pki("validate", dir, "--endpoint", "server", "--json", NULL);
        g_assert_cmpint(r.status, ==, 0);
        obj = parse_json(r.out, parser);
        g_assert_true(json_object_get_boolean_member(obj, "ok"));
        g_assert_cmpint(json_object_get_int_member(obj, "fail"), ==, 0);
        g_assert_cmpstr(json_object_get_string_member(obj, "endpoint"), ==,
                        "server");
        g_assert_cmpstr(json_object_get_string_member(obj, "dir"), ==, dir);
        checks = json_object_get_array_member(obj, "checks");
        g_assert_cmpuint(json_array_get_length(checks), >=, 10);
        g_assert_cmpint(json_object_get_int_member(obj, "pass"), ==,
                        json_array_get_length(checks));
        for (guint i = 0; i < json_array_get_length(checks); i++) {
            JsonObject *c = json_array_get_object_element(checks, i);
            g_assert_cmpstr(json_object_get_string_member(c, "status"), ==,
                            "PASS");
            g_assert_nonnull(json_object_get_string_member(c, "check"));
            g_assert_nonnull(json_object_get_string_member(c, "message"));
        }
    }
    g_assert_cmpint(g_chmod(key, 0644), ==, 0);
    {
        g_auto(Run) r =
            pki("validate", dir, "--endpoint", "server", "--json", NULL);
        bool found = false;
        g_assert_cmpint(r.status, ==, 1);
        obj = parse_json(r.out, parser);
        g_assert_false(json_object_get_boolean_member(obj, "ok"));
        g_assert_cmpint(json_object_get_int_member(obj, "fail"), ==, 1);
        checks = json_object_get_array_member(obj, "checks");
        for (guint i = 0; i < json_array_get_length(checks); i++) {
            JsonObject *c = json_array_get_object_element(checks, i);
            if (g_str_equal(json_object_get_string_member(c, "status"),
                            "FAIL")) {
                g_assert_cmpstr(json_object_get_string_member(c, "check"), ==,
                                "key-permissions");
                found = true;
            }
        }
        g_assert_true(found);
    }
}

static void test_validate_key_permissions(void)
{
    g_autofree char *dir = full_dir();
    g_autofree char *key = path_in(dir, "client-key.pem");

    g_assert_cmpint(g_chmod(key, 0640), ==, 0);
    {
        g_auto(Run) r = pki("validate", dir, "--endpoint", "client", NULL);
        g_assert_cmpint(r.status, ==, 0);
        g_assert_true(has(r.out, "WARN key-permissions"));
        g_assert_true(has(r.out, "mode 0640"));
    }
    g_assert_cmpint(g_chmod(key, 0604), ==, 0);
    {
        g_auto(Run) r = pki("validate", dir, "--endpoint", "client", NULL);
        g_assert_cmpint(r.status, ==, 1);
        g_assert_true(has(r.out, "FAIL key-permissions"));
        g_assert_true(has(r.out, "accessible by others (mode 0604)"));
    }
}

static void test_validate_broken(void)
{
    g_autofree char *dir = full_dir();
    g_autofree char *key = path_in(dir, "server-key.pem");
    g_autofree char *cert = path_in(dir, "server-cert.pem");
    g_autofree char *ca = path_in(dir, "ca-cert.pem");

    g_assert_cmpint(g_unlink(key), ==, 0);
    {
        g_auto(Run) r = pki("validate", dir, "--endpoint", "server", NULL);
        g_assert_cmpint(r.status, ==, 1);
        g_assert_true(has(r.out, "FAIL files"));
        g_assert_true(has(r.out, "server-key.pem is missing"));
        /* The other checks still ran. */
        g_assert_true(has(r.out, "PASS verify"));
    }
    g_assert_true(g_file_set_contents(cert, "garbage\n", -1, NULL));
    {
        g_auto(Run) r = pki("validate", dir, "--endpoint", "server", NULL);
        g_assert_cmpint(r.status, ==, 1);
        g_assert_true(has(r.out, "FAIL parse"));
        g_assert_true(has(r.out, "Unable to parse certificate"));
    }
    g_assert_cmpint(g_unlink(ca), ==, 0);
    {
        g_auto(Run) r = pki("validate", dir, "--endpoint", "client", NULL);
        g_assert_cmpint(r.status, ==, 1);
        g_assert_true(has(r.out, "ca-cert.pem is missing"));
    }
    {
        g_autofree char *nowhere = path_in(tmpdir, "nowhere");
        g_auto(Run) r = pki("validate", nowhere, "--endpoint", "client", NULL);
        g_assert_cmpint(r.status, ==, 1);
        g_assert_true(has(r.out, "is not an accessible directory"));
    }
}

/* Replace DIR's server cert with one from @spec signed by DIR's CA. */
static void reissue_server(const char *dir, VhPkiCertSpec *spec)
{
    g_autofree char *ca_path = path_in(dir, "ca-cert.pem");
    g_autofree char *cakey_path = path_in(dir, "ca-key.pem");
    g_autofree char *cert = path_in(dir, "server-cert.pem");
    g_autofree char *key_path = path_in(dir, "server-key.pem");
    g_autoptr(GError) err = NULL;
    g_auto(gnutls_x509_crt_t) ca = vh_pki_cert_load(ca_path, &err);
    g_autoptr(VhPkiKey) cakey = vh_pki_key_load(cakey_path, &err);
    g_autoptr(VhPkiKey) key = vh_pki_key_load(key_path, &err);
    g_auto(gnutls_x509_crt_t) crt = NULL;

    g_assert_no_error(err);
    crt = vh_pki_cert_create(spec, key, ca, cakey, &err);
    g_assert_no_error(err);
    g_assert_true(vh_pki_cert_save(cert, &crt, 1, true, &err));
}

static void test_validate_sanity_rules(void)
{
    g_autofree char *dir = full_dir();
    const char *dns[] = {"host1", NULL};
    VhPkiCertSpec spec;

    /* Expires within 30 days: WARN, still exit 0. */
    vh_pki_cert_spec_init_server(&spec, "CN=host1", VH_PKI_KEY_ECDSA_P256, dns,
                                 NULL, 10);
    reissue_server(dir, &spec);
    {
        g_auto(Run) r = pki("validate", dir, "--endpoint", "server", NULL);
        g_assert_cmpint(r.status, ==, 0);
        g_assert_true(has(r.out, "WARN validity"));
        g_assert_true(has(r.out, "expires within 30 days"));
    }
    /* Expired, critical purpose without TLS server: every FAIL listed. */
    static const char *const client_only[] = {GNUTLS_KP_TLS_WWW_CLIENT, NULL};
    spec.activation = time(NULL) - 10 * DAY;
    spec.expiration = time(NULL) - DAY;
    spec.key_purpose = VH_PKI_EXT_CRITICAL;
    spec.key_purposes = client_only;
    reissue_server(dir, &spec);
    {
        g_auto(Run) r = pki("validate", dir, "--endpoint", "server", NULL);
        g_assert_cmpint(r.status, ==, 1);
        g_assert_true(has(r.out, "FAIL validity"));
        g_assert_true(has(r.out, "server-cert.pem (CN=host1): the server "
                                 "certificate has expired"));
        g_assert_true(has(r.out, "FAIL key-purpose"));
        g_assert_true(has(r.out, "server-cert.pem (CN=host1): key purpose is "
                                 "critical and lacks TLS WWW server"));
        g_assert_true(has(r.out, "FAIL verify"));
    }
}

static void test_show_dn(void)
{
    g_autofree char *dir = full_dir();
    g_autofree char *cli = path_in(dir, "client-cert.pem");
    g_autofree char *srv = path_in(dir, "server-cert.pem");
    g_autofree char *missing = path_in(dir, "nope.pem");

    {
        g_auto(Run) r = pki("show-dn", cli, NULL);
        g_assert_cmpint(r.status, ==, 0);
        g_assert_cmpstr(r.out, ==, "C=UK,O=vmhost,CN=client1\n");
    }
    {
        g_auto(Run) r = pki("show-dn", srv, NULL);
        g_assert_cmpint(r.status, ==, 0);
        g_assert_cmpstr(r.out, ==, "CN=host1.example.org\n");
    }
    {
        g_auto(Run) r = pki("show-dn", missing, NULL);
        g_assert_cmpint(r.status, ==, 1);
        g_assert_true(has(r.err, "No such file or directory"));
    }
}

/* ---- libvirt's layout and libvirt's key usage rule --------------------- */

static void assert_mode(const char *dir, const char *name, unsigned int mode)
{
    g_autofree char *path = path_in(dir, name);
    struct stat st;

    g_assert_cmpint(g_stat(path, &st), ==, 0);
    g_assert_cmpuint(st.st_mode & 0777, ==, mode);
}

static unsigned int key_usage_of(const char *dir, const char *name)
{
    g_autofree char *path = path_in(dir, name);
    g_auto(gnutls_x509_crt_t) crt = vh_pki_cert_load(path, NULL);
    unsigned int usage = 0, critical = 0;

    g_assert_nonnull(crt);
    g_assert_cmpint(gnutls_x509_crt_get_key_usage(crt, &usage, &critical), >=,
                    0);
    g_assert_true(critical);
    return usage;
}

static void test_layout_libvirt(void)
{
    g_autofree char *dir = new_dir();
    g_autofree char *pkipath = path_in(dir, "pkipath");
    g_autofree char *ca = path_in(dir, "CA/cacert.pem");
    g_autofree char *ca2 = path_in(pkipath, "cacert.pem");
    g_autofree char *a = NULL, *b = NULL;
    const VhPkiLayoutFiles *f = vh_pki_layout_files(VH_PKI_LAYOUT_LIBVIRT);

    {
        g_auto(Run) r = pki("init-ca", dir, "--layout", "libvirt", NULL);
        g_auto(Run) s = pki("issue", "server", dir, "--layout", "libvirt",
                            "--hostname", "host1.example.org", NULL);
        g_auto(Run) c = pki("issue", "client", dir, "--layout", "libvirt",
                            "--dn", "CN=admin", NULL);
        g_assert_cmpint(r.status, ==, 0);
        g_assert_cmpint(s.status, ==, 0);
        g_assert_cmpint(c.status, ==, 0);
        g_assert_cmpstr(s.err, ==, ""); /* RSA: no warning */
        g_assert_true(has(c.out, "pkipath/clientkey.pem"));
    }
    g_assert_cmpstr(f->ca_cert, ==, "CA/cacert.pem");
    g_assert_cmpstr(f->server_cert, ==, "libvirt/servercert.pem");
    g_assert_cmpstr(f->server_key, ==, "libvirt/private/serverkey.pem");
    g_assert_cmpstr(f->client_cert, ==, "libvirt/clientcert.pem");
    g_assert_cmpstr(f->client_key, ==, "libvirt/private/clientkey.pem");
    assert_mode(dir, "CA/private", 0700);
    assert_mode(dir, "CA/private/cakey.pem", 0600);
    assert_mode(dir, "libvirt/private", 0700);
    assert_mode(dir, "libvirt/private/serverkey.pem", 0600);
    assert_mode(dir, "libvirt/private/clientkey.pem", 0600);
    assert_mode(dir, "libvirt/servercert.pem", 0644);
    assert_mode(pkipath, "clientkey.pem", 0600);
    assert_mode(pkipath, "clientcert.pem", 0644);
    g_assert_true(g_file_get_contents(ca, &a, NULL, NULL));
    g_assert_true(g_file_get_contents(ca2, &b, NULL, NULL));
    g_assert_cmpstr(a, ==, b);
    /* libvirt's certtool recipe: RSA, digitalSignature + keyEncipherment */
    g_assert_cmpuint(key_usage_of(dir, f->server_cert), ==,
                     GNUTLS_KEY_DIGITAL_SIGNATURE |
                         GNUTLS_KEY_KEY_ENCIPHERMENT);
    g_assert_cmpuint(key_usage_of(pkipath, "clientcert.pem"), ==,
                     GNUTLS_KEY_DIGITAL_SIGNATURE |
                         GNUTLS_KEY_KEY_ENCIPHERMENT);
    {
        g_autofree char *path = path_in(dir, f->server_cert);
        g_auto(gnutls_x509_crt_t) crt = vh_pki_cert_load(path, NULL);
        unsigned int bits = 0;
        g_assert_cmpint(gnutls_x509_crt_get_pk_algorithm(crt, &bits), ==,
                        GNUTLS_PK_RSA);
        g_assert_cmpuint(bits, ==, 3072);
    }
    {
        g_auto(Run) r =
            pki("validate", dir, "--layout", "libvirt", "--endpoint", "server",
                "--hostname", "host1.example.org", NULL);
        g_assert_cmpint(r.status, ==, 0);
        g_assert_true(has(r.out, "PASS libvirt-key-usage"));
        g_assert_false(has(r.out, "WARN"));
    }
    {
        g_auto(Run) r = pki("validate", pkipath, "--layout", "pkipath",
                            "--endpoint", "client", NULL);
        g_assert_cmpint(r.status, ==, 0);
        g_assert_true(has(r.out, "PASS libvirt-key-usage"));
    }
    {
        /* no overwriting, the pkipath files included */
        g_autofree char *other = path_in(dir, "other");
        g_auto(Run) r = pki("issue", "client", dir, "--layout", "libvirt",
                            "--dn", "CN=admin", NULL);
        g_auto(Run) p =
            pki("issue", "client", dir, "--layout", "libvirt", "--dn",
                "CN=admin", "--pkipath", pkipath, "--force", NULL);
        g_auto(Run) o =
            pki("issue", "client", dir, "--layout", "libvirt", "--dn", "CN=two",
                "--pkipath", other, "--force", NULL);
        g_assert_cmpint(r.status, ==, 1);
        g_assert_true(has(r.err, "already exists; use --force"));
        g_assert_cmpint(p.status, ==, 0);
        g_assert_cmpint(o.status, ==, 0);
        assert_mode(other, "clientkey.pem", 0600);
    }
}

static void test_layout_errors(void)
{
    g_autofree char *dir = new_dir();
    {
        g_auto(Run) r = pki("init-ca", dir, "--layout", "xen", NULL);
        g_assert_cmpint(r.status, ==, 2);
        g_assert_true(has(r.err, "unknown layout 'xen'"));
    }
    {
        g_auto(Run) r = pki("init-ca", dir, "--layout", "pkipath", NULL);
        g_assert_cmpint(r.status, ==, 2);
    }
    {
        g_auto(Run) r = pki("issue", "server", dir, "--layout", "libvirt",
                            "--hostname", "h", "--pkipath", dir, NULL);
        g_assert_cmpint(r.status, ==, 2);
        g_assert_true(has(r.err, "--pkipath is for issue client"));
    }
    {
        /* a libvirt-layout issue needs the libvirt-layout CA */
        g_auto(Run) q = pki("init-ca", dir, NULL);
        g_auto(Run) r = pki("issue", "server", dir, "--layout", "libvirt",
                            "--hostname", "h", NULL);
        g_assert_cmpint(q.status, ==, 0);
        g_assert_cmpint(r.status, ==, 1);
        g_assert_true(has(r.err, "CA/cacert.pem"));
    }
    {
        g_auto(Run) r =
            pki("validate", dir, "--endpoint", "server", "--for", "xen", NULL);
        g_assert_cmpint(r.status, ==, 2);
    }
}

/* The ECDSA default is right for QEMU and refused by libvirt's clients. */
static void test_validate_libvirt_key_usage(void)
{
    g_autofree char *dir = full_dir();
    g_autofree char *ec = new_dir();
    const char *reason = "key usage lacks keyEncipherment: Debian 12's "
                         "libvirt clients (9.0) refuse it";

    {
        g_auto(Run) r = pki("validate", dir, "--endpoint", "server", NULL);
        g_assert_cmpint(r.status, ==, 0);
        g_assert_false(has(r.out, "libvirt-key-usage"));
    }
    {
        g_auto(Run) r = pki("validate", dir, "--endpoint", "server", "--for",
                            "libvirt", NULL);
        g_assert_cmpint(r.status, ==, 0); /* a warning, not a failure */
        g_assert_true(has(r.out, "WARN libvirt-key-usage"));
        g_assert_true(has(r.out, "server-cert.pem (CN=host1.example.org): "));
        g_assert_true(has(r.out, reason));
    }
    {
        g_auto(Run) r = pki("validate", dir, "--endpoint", "client", "--for",
                            "libvirt", "--json", NULL);
        g_assert_cmpint(r.status, ==, 0);
        g_assert_true(has(r.out, "\"check\" : \"libvirt-key-usage\""));
        g_assert_true(has(r.out, "client-cert.pem"));
    }
    {
        /* libvirt's layout with an ECDSA key: warned when made and checked */
        g_auto(Run) a = pki("init-ca", ec, "--layout", "libvirt", NULL);
        g_auto(Run) b =
            pki("issue", "server", ec, "--layout", "libvirt", "--key-type",
                "ecdsa-p256", "--hostname", "h", NULL);
        g_auto(Run) v = pki("validate", ec, "--layout", "libvirt", "--endpoint",
                            "server", NULL);
        g_assert_cmpint(a.status, ==, 0);
        g_assert_cmpint(b.status, ==, 0);
        g_assert_true(has(b.err, "ecdsa-p256 certificates have no "
                                 "keyEncipherment key usage"));
        g_assert_cmpint(v.status, ==, 0);
        g_assert_true(has(v.out, "libvirt/servercert.pem (CN=h): "));
        g_assert_true(has(v.out, reason));
    }
}

/* The checker itself: critical or not, and off unless asked for. */
static void check_libvirt_usage(unsigned int bits, VhPkiExt how,
                                bool for_libvirt, VhX509CheckStatus want,
                                const char *part)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(VhPkiKey) cakey =
        vh_pki_key_generate(VH_PKI_KEY_ECDSA_P256, &err);
    g_autoptr(VhPkiKey) key = vh_pki_key_generate(VH_PKI_KEY_ECDSA_P256, &err);
    g_autoptr(VhX509Report) report =
        vh_x509_report_new(VH_X509_REPORT_COLLECT_ALL);
    g_auto(gnutls_x509_crt_t) ca = NULL;
    g_auto(gnutls_x509_crt_t) leaf = NULL;
    VhPkiCertSpec spec;
    GPtrArray *items;
    guint seen = 0;

    vh_pki_cert_spec_init_ca(&spec, "CN=CA", 10);
    ca = vh_pki_cert_create(&spec, cakey, NULL, NULL, &err);
    g_assert_no_error(err);
    vh_pki_cert_spec_init_client(&spec, "CN=c", VH_PKI_KEY_ECDSA_P256, 10);
    spec.key_usage = how;
    spec.key_usage_bits = bits;
    leaf = vh_pki_cert_create(&spec, key, ca, cakey, &err);
    g_assert_no_error(err);
    VhX509CheckInput in = {
        .cert_file = "/d/clientcert.pem",
        .certs = &leaf,
        .ncerts = 1,
        .ca_file = "/d/cacert.pem",
        .cas = &ca,
        .ncas = 1,
        .for_libvirt = for_libvirt,
    };
    g_assert_true(vh_x509_check_identity(report, &in));
    items = vh_x509_report_get_items(report);
    for (guint i = 0; i < items->len; i++) {
        VhX509CheckItem *item = g_ptr_array_index(items, i);
        if (g_str_equal(item->check, "libvirt-key-usage")) {
            g_test_message("%s", item->message);
            g_assert_cmpint(item->status, ==, want);
            g_assert_nonnull(strstr(item->message, "/d/clientcert.pem (CN=c)"));
            g_assert_nonnull(strstr(item->message, part));
            seen++;
        }
    }
    g_assert_cmpuint(seen, ==, for_libvirt ? 1 : 0);
}

static void test_libvirt_key_usage_rule(void)
{
    unsigned int ds = GNUTLS_KEY_DIGITAL_SIGNATURE;
    unsigned int dske = ds | GNUTLS_KEY_KEY_ENCIPHERMENT;

    check_libvirt_usage(ds, VH_PKI_EXT_CRITICAL, true, VH_X509_CHECK_WARN,
                        "clients (9.0) refuse it");
    check_libvirt_usage(ds, VH_PKI_EXT_NONCRITICAL, true, VH_X509_CHECK_WARN,
                        "not critical");
    check_libvirt_usage(dske, VH_PKI_EXT_CRITICAL, true, VH_X509_CHECK_PASS,
                        "includes keyEncipherment");
    check_libvirt_usage(0, VH_PKI_EXT_ABSENT, true, VH_X509_CHECK_PASS,
                        "no key usage extension");
    check_libvirt_usage(ds, VH_PKI_EXT_CRITICAL, false, VH_X509_CHECK_PASS, "");
}

static void skip_missing_binary(void)
{
    g_test_skip("vmhost-pki binary not found: set VMHOST_BUILDDIR to the "
                "build directory (meson test does)");
}

int main(int argc, char **argv)
{
    const char *builddir = g_getenv("VMHOST_BUILDDIR");
    int rc;

    g_test_init(&argc, &argv, NULL);
    if (builddir) {
        tool =
            g_build_filename(builddir, "src", "vmhost-pki", "vmhost-pki", NULL);
    }
    if (!tool || !g_file_test(tool, G_FILE_TEST_IS_EXECUTABLE)) {
        g_test_add_func("/pki-tool/binary", skip_missing_binary);
        return g_test_run();
    }
    tmpdir = vh_test_mkdtemp("vh-pki-tool");
    g_test_add_func("/pki-tool/init-ca", test_init_ca);
    g_test_add_func("/pki-tool/key-types", test_key_types);
    g_test_add_func("/pki-tool/issue-and-load", test_issue_and_load);
    g_test_add_func("/pki-tool/issue-refuses-overwrite",
                    test_issue_refuses_overwrite);
    g_test_add_func("/pki-tool/issue-errors", test_issue_errors);
    g_test_add_func("/pki-tool/usage-errors", test_usage_errors);
    g_test_add_func("/pki-tool/validate/ok", test_validate_ok);
    g_test_add_func("/pki-tool/validate/hostname-mismatch",
                    test_validate_hostname_mismatch);
    g_test_add_func("/pki-tool/validate/json", test_validate_json);
    g_test_add_func("/pki-tool/validate/key-permissions",
                    test_validate_key_permissions);
    g_test_add_func("/pki-tool/validate/broken", test_validate_broken);
    g_test_add_func("/pki-tool/validate/sanity-rules",
                    test_validate_sanity_rules);
    g_test_add_func("/pki-tool/show-dn", test_show_dn);
    g_test_add_func("/pki-tool/layout/libvirt", test_layout_libvirt);
    g_test_add_func("/pki-tool/layout/errors", test_layout_errors);
    g_test_add_func("/pki-tool/validate/libvirt-key-usage",
                    test_validate_libvirt_key_usage);
    g_test_add_func("/pki-tool/libvirt-key-usage-rule",
                    test_libvirt_key_usage_rule);
    rc = g_test_run();
    vh_test_rm_rf(tmpdir);
    g_free(tmpdir);
    g_free(tool);
    return rc;
}
