/* Tests for config files (lib/util/conf.c) and vmhost.conf (host-conf.c). */
#include "vmhost/util/conf.h"
#include "vmhost/util/error.h"

#include <glib/gstdio.h>
#include <unistd.h>
#include <string.h>

static const VhConfKey keys[] = {
    {"name", VH_CONF_STRING},      {"count", VH_CONF_INT},
    {"strict", VH_CONF_BOOL},      {"listen", VH_CONF_LIST},
    {"other_key", VH_CONF_STRING}, {NULL, 0},
};

static VhConf *parse(const char *text, GError **errp)
{
    return vh_conf_parse("t.conf", text, strlen(text), keys, errp);
}

/* @text must fail with exactly @message. */
static void assert_fails(const char *text, const char *message)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(VhConf) conf = parse(text, &err);

    g_assert_null(conf);
    g_assert_error(err, VH_ERROR, VH_ERROR_CONFIG);
    g_assert_cmpstr(err->message, ==, message);
}

static void test_values(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(VhConf) conf =
        parse("# vmhost settings\n"
              "\n"
              "name = \"a \\\"quoted\\\" \\\\ value\"  # c\n"
              "  count=-42\n"
              "strict = 1\r\n"
              "listen = [ \"a\",\n"
              "   # a comment inside\n"
              "   'b#c',\n"
              "]\n"
              "other_key = 'single \\n stays'",
              &err);
    const char *const *list;

    g_assert_no_error(err);
    g_assert_nonnull(conf);
    g_assert_cmpstr(vh_conf_get_name(conf), ==, "t.conf");
    g_assert_cmpstr(vh_conf_get_string(conf, "name"), ==,
                    "a \"quoted\" \\ value");
    g_assert_cmpuint(vh_conf_get_line(conf, "name"), ==, 3);
    g_assert_cmpint(vh_conf_get_int(conf, "count", 0), ==, -42);
    g_assert_cmpuint(vh_conf_get_line(conf, "count"), ==, 4);
    g_assert_true(vh_conf_get_bool(conf, "strict", false));
    list = vh_conf_get_list(conf, "listen");
    g_assert_nonnull(list);
    g_assert_cmpstr(list[0], ==, "a");
    g_assert_cmpstr(list[1], ==, "b#c");
    g_assert_null(list[2]);
    g_assert_cmpuint(vh_conf_get_line(conf, "listen"), ==, 6);
    g_assert_cmpstr(vh_conf_get_string(conf, "other_key"), ==,
                    "single \\n stays");
    g_assert_cmpuint(vh_conf_get_line(conf, "other_key"), ==, 10);
    /* Wrong-type getters and unset keys give the default. */
    g_assert_null(vh_conf_get_string(conf, "count"));
    g_assert_cmpint(vh_conf_get_int(conf, "name", 7), ==, 7);
    g_assert_null(vh_conf_get_list(conf, "name"));
    g_assert_false(vh_conf_has(conf, "nope"));
    g_assert_cmpuint(vh_conf_get_line(conf, "nope"), ==, 0);
}

static void test_empty_and_escapes(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(VhConf) empty = parse("", &err);
    g_autoptr(VhConf) blank = parse("  \n\t# only comments\n\n", &err);
    g_autoptr(VhConf) esc = parse("name=\"\\t\\n\\r\\'\"\nlisten=[]", &err);

    g_assert_no_error(err);
    g_assert_nonnull(empty);
    g_assert_false(vh_conf_has(empty, "name"));
    g_assert_nonnull(blank);
    g_assert_cmpstr(vh_conf_get_string(esc, "name"), ==, "\t\n\r'");
    g_assert_nonnull(vh_conf_get_list(esc, "listen"));
    g_assert_null(vh_conf_get_list(esc, "listen")[0]);
    g_assert_false(vh_conf_get_bool(esc, "strict", false));
    g_assert_true(vh_conf_get_bool(esc, "strict", true));
}

static void test_errors(void)
{
    assert_fails("name = \"x\"\nnmae = \"y\"\n",
                 "t.conf:2: unknown key 'nmae'");
    assert_fails("name = \"x\"\nname = \"y\"\n",
                 "t.conf:2: key 'name' set twice (first on line 1)");
    assert_fails("name \"x\"", "t.conf:1:6: expected '=' after the key, got "
                               "'\"'");
    assert_fails("name =\n", "t.conf:1:7: expected a value (a \"string\", an "
                             "integer or a [ list ]), got end of line");
    assert_fails("name = x", "t.conf:1:8: expected a value (a \"string\", an "
                             "integer or a [ list ]), got 'x'");
    assert_fails("\n  name = \"abc", "t.conf:2:10: unterminated string (no "
                                     "closing \")");
    assert_fails("name = \"a\nb\"", "t.conf:1:8: unterminated string (no "
                                    "closing \")");
    assert_fails("name = \"\\q\"", "t.conf:1:10: expected an escape (\\\" \\\\ "
                                   "\\' \\n \\t \\r) after \\, got 'q'");
    assert_fails("name = \"x\" y", "t.conf:1:12: expected end of line after "
                                   "the value, got 'y'");
    assert_fails("name = 1", "t.conf:1:8: name must be a \"string\"");
    assert_fails("count = \"1\"", "t.conf:1:9: count must be an integer");
    assert_fails("count = 99999999999999999999",
                 "t.conf:1:9: integer 99999999999999999999 is out of range");
    assert_fails("count = -", "t.conf:1:10: expected a digit, got end of "
                              "file");
    assert_fails("strict = 2", "t.conf:1:10: strict must be 0 or 1, not 2");
    assert_fails("strict = \"yes\"", "t.conf:1:10: strict must be 0 or 1");
    assert_fails("listen = \"a\"",
                 "t.conf:1:10: listen must be a [ \"list\" ] of strings");
    assert_fails("listen = [ \"a\" \"b\" ]", "t.conf:1:16: expected ',' or ']' "
                                             "after a list item, got '\"'");
    assert_fails("listen = [ 1 ]", "t.conf:1:12: expected a \"string\" or ']' "
                                   "in the list, got '1'");
    assert_fails("listen = [ \"a\",\n \"b\"\n",
                 "t.conf:3:1: expected ',' or ']' after a list item, got end "
                 "of file");
    assert_fails("= 1", "t.conf:1:1: expected a key name or a # comment, got "
                        "'='");
    assert_fails("1name = 1", "t.conf:1:1: expected a key name or a # "
                              "comment, got '1'");
    assert_fails("name = \"\xff\"", "t.conf:1:8: string is not valid UTF-8");

    /* NUL bytes are reported, not taken as the end. */
    {
        g_autoptr(GError) err = NULL;
        g_autoptr(VhConf) conf =
            vh_conf_parse("t.conf", "name = \"a\0b\"", 12, keys, &err);

        g_assert_null(conf);
        g_assert_cmpstr(err->message, ==,
                        "t.conf:1:10: expected a string character, got a NUL "
                        "byte");
    }
}

static char *write_tmp(const char *text)
{
    GError *err = NULL;
    char *path = NULL;
    int fd = g_file_open_tmp("vh-conf-XXXXXX.conf", &path, &err);

    g_assert_no_error(err);
    close(fd);
    g_assert_true(g_file_set_contents(path, text, -1, NULL));
    return path;
}

static void test_load_file(void)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *path = write_tmp("name = \"file\"\nbogus = 1\n");
    g_autofree char *expect =
        g_strdup_printf("%s:2: unknown key 'bogus'", path);
    g_autoptr(VhConf) conf = vh_conf_load_file(path, keys, &err);

    g_assert_null(conf);
    g_assert_cmpstr(err->message, ==, expect);
    g_clear_error(&err);

    g_assert_true(g_file_set_contents(path, "name = \"file\"\n", -1, NULL));
    conf = vh_conf_load_file(path, keys, &err);
    g_assert_no_error(err);
    g_assert_cmpstr(vh_conf_get_name(conf), ==, path);
    g_assert_cmpstr(vh_conf_get_string(conf, "name"), ==, "file");
    g_unlink(path);

    g_clear_pointer(&conf, vh_conf_free);
    conf = vh_conf_load_file("/nonexistent/vmhost.conf", keys, &err);
    g_assert_null(conf);
    g_assert_error(err, VH_ERROR, VH_ERROR_CONFIG);
    g_assert_cmpstr(err->message, ==,
                    "Cannot read config file /nonexistent/vmhost.conf: No "
                    "such file or directory");
}

static void test_host_conf_path(void)
{
    bool explicit_path = false;
    g_autofree char *p1 = NULL;
    g_autofree char *p2 = NULL;
    g_autofree char *p3 = NULL;
    g_autofree char *p4 = NULL;

    g_unsetenv(VH_HOST_CONF_ENV);
    p1 = vh_host_conf_path(NULL, &explicit_path);
    g_assert_cmpstr(p1, ==, "/etc/vmhost/vmhost.conf");
    g_assert_false(explicit_path);
    g_setenv(VH_HOST_CONF_ENV, "/env/vmhost.conf", true);
    p2 = vh_host_conf_path(NULL, &explicit_path);
    g_assert_cmpstr(p2, ==, "/env/vmhost.conf");
    g_assert_true(explicit_path);
    /* --config wins over the environment. */
    p3 = vh_host_conf_path("/cli.conf", &explicit_path);
    g_assert_cmpstr(p3, ==, "/cli.conf");
    g_assert_true(explicit_path);
    /* An empty VMHOST_CONF is unset. */
    g_setenv(VH_HOST_CONF_ENV, "", true);
    p4 = vh_host_conf_path(NULL, &explicit_path);
    g_assert_cmpstr(p4, ==, VH_HOST_CONF_DEFAULT_PATH);
    g_assert_false(explicit_path);
    g_unsetenv(VH_HOST_CONF_ENV);
}

static void test_host_conf_read(void)
{
    g_autoptr(GError) err = NULL;
    VhHostConf hc = {0};
    g_autofree char *good = write_tmp("# vmhost\n"
                                      "tls_priority = \"@VMHOST,SYSTEM\"\n"
                                      "tls_priority_strict = 1\n");
    g_autofree char *env = write_tmp("tls_priority = \"NORMAL\"\n");
    g_autofree char *bad = write_tmp("tls_priority = \"\"\n");
    g_autofree char *typo = write_tmp("tls_prority = \"NORMAL\"\n");
    g_autofree char *msg = NULL;

    g_unsetenv(VH_HOST_CONF_ENV);
    g_assert_true(vh_host_conf_read(good, &hc, &err));
    g_assert_no_error(err);
    g_assert_cmpstr(hc.path, ==, good);
    g_assert_cmpstr(hc.tls_priority, ==, "@VMHOST,SYSTEM");
    g_assert_true(hc.tls_priority_strict);

    /* VMHOST_CONF when there is no --config; --config wins. */
    g_setenv(VH_HOST_CONF_ENV, env, true);
    g_assert_true(vh_host_conf_read(NULL, &hc, &err));
    g_assert_cmpstr(hc.tls_priority, ==, "NORMAL");
    g_assert_false(hc.tls_priority_strict);
    g_assert_true(vh_host_conf_read(good, &hc, &err));
    g_assert_cmpstr(hc.tls_priority, ==, "@VMHOST,SYSTEM");

    /* A file named explicitly must exist; errors leave @hc empty. */
    g_setenv(VH_HOST_CONF_ENV, "/nonexistent/env.conf", true);
    g_assert_false(vh_host_conf_read(NULL, &hc, &err));
    g_assert_cmpstr(err->message, ==,
                    "Cannot read config file /nonexistent/env.conf: No such "
                    "file or directory");
    g_assert_null(hc.tls_priority);
    g_clear_error(&err);
    g_unsetenv(VH_HOST_CONF_ENV);
    g_assert_false(vh_host_conf_read("/nonexistent/cli.conf", &hc, &err));
    g_assert_error(err, VH_ERROR, VH_ERROR_CONFIG);
    g_clear_error(&err);

    g_assert_false(vh_host_conf_read(bad, &hc, &err));
    msg = g_strdup_printf("%s:1: tls_priority must not be empty", bad);
    g_assert_cmpstr(err->message, ==, msg);
    g_clear_error(&err);
    g_free(msg);
    g_assert_false(vh_host_conf_read(typo, &hc, &err));
    msg = g_strdup_printf("%s:1: unknown key 'tls_prority'", typo);
    g_assert_cmpstr(err->message, ==, msg);
    g_clear_error(&err);

    /* The default file may be missing (unless this host has one). */
    if (!g_file_test(VH_HOST_CONF_DEFAULT_PATH, G_FILE_TEST_EXISTS)) {
        g_assert_true(vh_host_conf_read(NULL, &hc, &err));
        g_assert_no_error(err);
        g_assert_null(hc.path);
        g_assert_null(hc.tls_priority);
    }
    vh_host_conf_clear(&hc);
    g_unlink(good);
    g_unlink(env);
    g_unlink(bad);
    g_unlink(typo);
}

static void test_host_conf_install(void)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *path = write_tmp("tls_priority = 'SECURE256'\n");
    VhHostConf manual = {.tls_priority = (char *)"NORMAL"};

    g_assert_null(vh_host_conf_get()->tls_priority);
    g_assert_true(vh_host_conf_load(path, &err));
    g_assert_cmpstr(vh_host_conf_get()->tls_priority, ==, "SECURE256");
    g_assert_cmpstr(vh_host_conf_get()->path, ==, path);
    /* A failed load keeps what was installed. */
    g_assert_false(vh_host_conf_load("/nonexistent/x.conf", &err));
    g_clear_error(&err);
    g_assert_cmpstr(vh_host_conf_get()->tls_priority, ==, "SECURE256");
    vh_host_conf_set(&manual);
    g_assert_cmpstr(vh_host_conf_get()->tls_priority, ==, "NORMAL");
    g_assert_null(vh_host_conf_get()->path);
    vh_host_conf_set(NULL);
    g_assert_null(vh_host_conf_get()->tls_priority);
    g_assert_cmpint(vh_host_conf_keys()[0].type, ==, VH_CONF_STRING);
    g_unlink(path);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/util/conf/values", test_values);
    g_test_add_func("/util/conf/empty-and-escapes", test_empty_and_escapes);
    g_test_add_func("/util/conf/errors", test_errors);
    g_test_add_func("/util/conf/load-file", test_load_file);
    g_test_add_func("/util/conf/host/path", test_host_conf_path);
    g_test_add_func("/util/conf/host/read", test_host_conf_read);
    g_test_add_func("/util/conf/host/install", test_host_conf_install);
    return g_test_run();
}
