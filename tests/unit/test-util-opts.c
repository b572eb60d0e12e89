/* vh_opts: QEMU option strings. */
#include "vmhost/util/error.h"
#include "vmhost/util/opts.h"

#include <string.h>

static VhOpts *parse_ok(const char *str, const char *implied)
{
    g_autoptr(GError) err = NULL;
    VhOpts *o = vh_opts_parse("-chardev", str, implied, &err);

    g_assert_no_error(err);
    g_assert_nonnull(o);
    return o;
}

static void parse_fails(const char *str, const char *implied,
                        const char *message)
{
    g_autoptr(GError) err = NULL;
    VhOpts *o = vh_opts_parse("-chardev", str, implied, &err);

    g_assert_null(o);
    g_assert_error(err, VH_ERROR, VH_ERROR_INVALID_ARGUMENT);
    g_assert_cmpstr(err->message, ==, message);
}

static void test_basic(void)
{
    g_autoptr(VhOpts) o = parse_ok("id=s0,host=127.0.0.1,port=9000", NULL);

    g_assert_cmpuint(vh_opts_count(o), ==, 3);
    g_assert_cmpstr(vh_opts_nth_key(o, 0), ==, "id");
    g_assert_cmpstr(vh_opts_nth_value(o, 1), ==, "127.0.0.1");
    g_assert_cmpstr(vh_opts_nth_key(o, 2), ==, "port");
    g_assert_cmpstr(vh_opts_get_string(o, "host"), ==, "127.0.0.1");
    g_assert_null(vh_opts_get_string(o, "path"));
    g_assert_true(vh_opts_has(o, "id"));
    g_assert_false(vh_opts_has(o, "path"));
    g_assert_cmpstr(vh_opts_get_optname(o), ==, "-chardev");
}

static void test_empty(void)
{
    g_autoptr(VhOpts) o = parse_ok("", "backend");
    g_autofree char *s = vh_opts_to_string(o);

    g_assert_cmpuint(vh_opts_count(o), ==, 0);
    g_assert_cmpstr(s, ==, "");
}

static void test_escaping(void)
{
    g_autoptr(VhOpts) o =
        parse_ok("path=/tmp/a,,b,,,x=,,,y=a=b,z=,w=,,,,", NULL);

    g_assert_cmpstr(vh_opts_get_string(o, "path"), ==, "/tmp/a,b,");
    g_assert_cmpstr(vh_opts_get_string(o, "x"), ==, ",");
    g_assert_cmpstr(vh_opts_get_string(o, "y"), ==, "a=b");
    g_assert_cmpstr(vh_opts_get_string(o, "z"), ==, "");
    g_assert_cmpstr(vh_opts_get_string(o, "w"), ==, ",,");
}

static void test_implied(void)
{
    g_autoptr(VhOpts) o = parse_ok("socket,id=s0", "backend");
    g_autoptr(VhOpts) explicit = parse_ok("backend=file,id=s0", "backend");
    g_autoptr(VhOpts) none = parse_ok("socket,id=s0", NULL);
    g_autoptr(VhOpts) comma = parse_ok("a,,b,id=x", "qom-type");

    g_assert_cmpstr(vh_opts_get_string(o, "backend"), ==, "socket");
    g_assert_cmpstr(vh_opts_get_implied_key(o), ==, "backend");
    g_assert_cmpstr(vh_opts_get_string(explicit, "backend"), ==, "file");
    /* Without an implied key the first bare word is a flag. */
    g_assert_null(vh_opts_get_string(none, "backend"));
    g_assert_cmpstr(vh_opts_get_string(none, "socket"), ==, "on");
    g_assert_cmpstr(vh_opts_get_string(comma, "qom-type"), ==, "a,b");
}

static void test_bool(void)
{
    g_autoptr(VhOpts) o = parse_ok(
        "socket,server,nowait,a=on,b=off,c=yes,d=no,e=true,f=false,nodelay",
        "backend");
    const char *keys[] = {"a", "b", "c", "d", "e", "f"};
    bool want[] = {true, false, true, false, true, false};
    bool v;

    for (size_t i = 0; i < G_N_ELEMENTS(keys); i++) {
        v = !want[i];
        g_assert_true(vh_opts_get_bool(o, keys[i], &v, NULL));
        g_assert_cmpint(v, ==, want[i]);
    }
    v = false;
    g_assert_true(vh_opts_get_bool(o, "server", &v, NULL));
    g_assert_true(v);
    v = true;
    g_assert_true(vh_opts_get_bool(o, "wait", &v, NULL));
    g_assert_false(v);
    /* A real key starting with "no" reads as itself. */
    v = false;
    g_assert_true(vh_opts_get_bool(o, "nodelay", &v, NULL));
    g_assert_true(v);
    /* Absent: untouched. */
    v = true;
    g_assert_true(vh_opts_get_bool(o, "telnet", &v, NULL));
    g_assert_true(v);
    /* Bare forms read as on/off strings too. */
    g_assert_cmpstr(vh_opts_get_string(o, "wait"), ==, "off");
    g_assert_cmpstr(vh_opts_first_unused(o), ==, "backend");
    g_assert_cmpstr(vh_opts_get_string(o, "backend"), ==, "socket");
    g_assert_true(vh_opts_check_unused(o, NULL));
}

static void test_bool_bad(void)
{
    g_autoptr(VhOpts) o = parse_ok("server=maybe,x=ON", NULL);
    g_autoptr(GError) err = NULL;
    g_autoptr(GError) err2 = NULL;
    bool v = false;

    g_assert_false(vh_opts_get_bool(o, "server", &v, &err));
    g_assert_error(err, VH_ERROR, VH_ERROR_INVALID_ARGUMENT);
    g_assert_cmpstr(err->message, ==,
                    "-chardev: parameter 'server' expects 'on' or 'off', got "
                    "'maybe'");
    g_assert_false(vh_opts_get_bool(o, "x", &v, &err2));
    g_assert_false(v);
}

static void test_duplicates(void)
{
    g_autoptr(VhOpts) o =
        parse_ok("port=1,port=2,wait=on,nowait,server=off,server", NULL);
    guint64 port = 0;
    bool wait = true, server = false;

    g_assert_true(vh_opts_get_uint64(o, "port", 0, 65535, &port, NULL));
    g_assert_cmpuint(port, ==, 2);
    g_assert_true(vh_opts_get_bool(o, "wait", &wait, NULL));
    g_assert_false(wait);
    g_assert_true(vh_opts_get_bool(o, "server", &server, NULL));
    g_assert_true(server);
    /* Every occurrence was read. */
    g_assert_true(vh_opts_check_unused(o, NULL));
    g_assert_cmpuint(vh_opts_count(o), ==, 6);
}

static void test_numbers(void)
{
    g_autoptr(VhOpts) o =
        parse_ok("a=42,b=0x10,c=-5,d=65536,e=abc,f=,g=18446744073709551615,"
                 "h=-9223372036854775808,i= 1,j=+1",
                 NULL);
    guint64 u = 0;
    gint64 s = 0;
    g_autoptr(GError) err = NULL;

    g_assert_true(vh_opts_get_uint64(o, "a", 0, 100, &u, NULL));
    g_assert_cmpuint(u, ==, 42);
    g_assert_true(vh_opts_get_uint64(o, "b", 0, 100, &u, NULL));
    g_assert_cmpuint(u, ==, 16);
    g_assert_true(vh_opts_get_int(o, "c", -10, 10, &s, NULL));
    g_assert_cmpint(s, ==, -5);
    g_assert_true(vh_opts_get_uint64(o, "g", 0, G_MAXUINT64, &u, NULL));
    g_assert_cmpuint(u, ==, G_MAXUINT64);
    g_assert_true(vh_opts_get_int(o, "h", G_MININT64, 0, &s, NULL));
    g_assert_cmpint(s, ==, G_MININT64);

    g_assert_false(vh_opts_get_uint64(o, "d", 1, 65535, &u, &err));
    g_assert_cmpstr(err->message, ==,
                    "-chardev: parameter 'd' expects a number from 1 to "
                    "65535, got '65536'");
    g_clear_error(&err);
    g_assert_false(vh_opts_get_uint64(o, "c", 0, 10, &u, &err));
    g_clear_error(&err);
    g_assert_false(vh_opts_get_int(o, "c", 0, 10, &s, &err));
    g_assert_cmpstr(err->message, ==,
                    "-chardev: parameter 'c' expects a number from 0 to 10, "
                    "got '-5'");
    g_clear_error(&err);
    for (const char *k = "efij"; *k; k++) {
        char key[2] = {*k, 0};
        g_assert_false(vh_opts_get_uint64(o, key, 0, 100, &u, &err));
        g_assert_error(err, VH_ERROR, VH_ERROR_INVALID_ARGUMENT);
        g_clear_error(&err);
        g_assert_false(vh_opts_get_int(o, key, -100, 100, &s, &err));
        g_assert_error(err, VH_ERROR, VH_ERROR_INVALID_ARGUMENT);
        g_clear_error(&err);
    }
    g_assert_cmpuint(u, ==, G_MAXUINT64);
}

static void test_sizes(void)
{
    g_autoptr(VhOpts) o = parse_ok("size=4G,b=4096,c=1.5K,d=12Q", NULL);
    guint64 v = 0;
    g_autoptr(GError) err = NULL;

    g_assert_true(vh_opts_get_size(o, "size", &v, NULL));
    g_assert_cmpuint(v, ==, 4ULL << 30);
    g_assert_true(vh_opts_get_size(o, "b", &v, NULL));
    g_assert_cmpuint(v, ==, 4096);
    g_assert_true(vh_opts_get_size(o, "c", &v, NULL));
    g_assert_cmpuint(v, ==, 1536);
    g_assert_false(vh_opts_get_size(o, "d", &v, &err));
    g_assert_error(err, VH_ERROR, VH_ERROR_INVALID_ARGUMENT);
    g_assert_true(g_str_has_prefix(
        err->message, "-chardev: parameter 'd' expects a size such as 4096, "
                      "512M or 4G: invalid size '12Q'"));
    v = 7;
    g_assert_true(vh_opts_get_size(o, "absent", &v, NULL));
    g_assert_cmpuint(v, ==, 7);
}

static GType test_enum_get_type(void)
{
    static GType type;
    static const GEnumValue values[] = {
        {0, "TEST_CLIENT", "client"},
        {1, "TEST_SERVER", "server"},
        {0, NULL, NULL},
    };

    if (!type) {
        type = g_enum_register_static("VhTestOptsEndpoint", values);
    }
    return type;
}

static void test_enum(void)
{
    g_autoptr(VhOpts) o = parse_ok("endpoint=server,bad=sever", NULL);
    g_autoptr(GError) err = NULL;
    int v = 0;

    g_assert_true(
        vh_opts_get_enum(o, "endpoint", test_enum_get_type(), &v, NULL));
    g_assert_cmpint(v, ==, 1);
    g_assert_false(vh_opts_get_enum(o, "bad", test_enum_get_type(), &v, &err));
    g_assert_cmpstr(err->message, ==,
                    "-chardev: parameter 'bad' expects 'client' or 'server', "
                    "got 'sever'");
}

static void test_unused(void)
{
    g_autoptr(VhOpts) o = parse_ok("socket,id=s0,foo=1,nobar", "backend");
    g_autoptr(VhOpts) plain = parse_ok("id=s0,foo=1", NULL);
    g_autoptr(GError) err = NULL;

    (void)vh_opts_get_string(o, "backend");
    (void)vh_opts_get_string(o, "id");
    g_assert_cmpstr(vh_opts_first_unused(o), ==, "foo");
    g_assert_false(vh_opts_check_unused(o, &err));
    g_assert_error(err, VH_ERROR, VH_ERROR_INVALID_ARGUMENT);
    g_assert_cmpstr(err->message, ==,
                    "-chardev socket: invalid parameter "
                    "'foo'");
    g_clear_error(&err);
    (void)vh_opts_get_string(o, "foo");
    g_assert_false(vh_opts_check_unused(o, &err));
    g_assert_cmpstr(err->message, ==,
                    "-chardev socket: invalid parameter "
                    "'nobar'");
    g_clear_error(&err);
    /* has() marks nothing; reading "bar" takes "nobar". */
    g_assert_true(vh_opts_has(o, "bar"));
    g_assert_false(vh_opts_nth_used(o, 3));
    (void)vh_opts_get_string(o, "bar");
    g_assert_true(vh_opts_nth_used(o, 3));
    g_assert_true(vh_opts_check_unused(o, NULL));

    (void)vh_opts_get_string(plain, "id");
    g_assert_false(vh_opts_check_unused(plain, &err));
    g_assert_cmpstr(err->message, ==, "-chardev: invalid parameter 'foo'");
    vh_opts_nth_mark_used(plain, 1);
    g_assert_true(vh_opts_check_unused(plain, NULL));
}

static void test_errors(void)
{
    parse_fails(",", NULL,
                "-chardev: element 1 is empty: a ',' at the start or end of "
                "the string? (write ',,' for a comma in a value)");
    parse_fails("a=1,", NULL,
                "-chardev: element 2 is empty: a ',' at the start or end of "
                "the string? (write ',,' for a comma in a value)");
    parse_fails(",id=x", "backend",
                "-chardev: element 1 is empty: a ',' at the start or end of "
                "the string? (write ',,' for a comma in a value)");
    parse_fails("socket,=x", "backend",
                "-chardev: element 2 ('=x') has no parameter name before '='");
    parse_fails("=", NULL,
                "-chardev: element 1 ('=') has no parameter name before '='");
    parse_fails("id=a,po rt=1", NULL,
                "-chardev: element 2 ('po rt=1'): invalid parameter name "
                "'po rt' (a name is made of letters, digits, '-', '_' and "
                "'.')");
    parse_fails("id=a,x y", NULL,
                "-chardev: element 2 ('x y'): invalid parameter name 'x y' "
                "(a name is made of letters, digits, '-', '_' and '.')");
    parse_fails("a,,b=1", NULL,
                "-chardev: element 1 ('a,b=1'): invalid parameter name 'a,b' "
                "(a name is made of letters, digits, '-', '_' and '.')");
}

static void test_dotted_list(void)
{
    g_autoptr(VhOpts) o =
        parse_ok("authz-list,id=a,rules.1.match=CN=b,rules.0.match=CN=a,,x,"
                 "rules.0.policy=allow,rules.1.policy=deny,rules.1.format=glob,"
                 "rulesx=1",
                 "qom-type");
    g_autoptr(GPtrArray) list = NULL;
    g_autoptr(GError) err = NULL;
    VhOpts *r0, *r1;

    g_assert_cmpstr(vh_opts_get_string(o, "rules.0.match"), ==, "CN=a,x");
    list = vh_opts_get_list(o, "rules", &err);
    g_assert_no_error(err);
    g_assert_cmpuint(list->len, ==, 2);
    r0 = list->pdata[0];
    r1 = list->pdata[1];
    g_assert_cmpstr(vh_opts_get_string(r0, "match"), ==, "CN=a,x");
    g_assert_cmpstr(vh_opts_get_string(r0, "policy"), ==, "allow");
    g_assert_true(vh_opts_check_unused(r0, NULL));
    g_assert_cmpstr(vh_opts_get_string(r1, "match"), ==, "CN=b");
    g_assert_cmpstr(vh_opts_get_string(r1, "policy"), ==, "deny");
    /* Entry errors name the full key and the parent's context. */
    g_assert_false(vh_opts_check_unused(r1, &err));
    g_assert_cmpstr(err->message, ==,
                    "-chardev authz-list: invalid "
                    "parameter 'rules.1.format'");
    g_clear_error(&err);
    {
        bool b = false;
        g_assert_false(vh_opts_get_bool(r1, "format", &b, &err));
        g_assert_cmpstr(err->message, ==,
                        "-chardev: parameter 'rules.1.format' expects 'on' "
                        "or 'off', got 'glob'");
        g_clear_error(&err);
    }
    /* Collected keys are used in the parent; "rulesx" is not one. */
    (void)vh_opts_get_string(o, "qom-type");
    (void)vh_opts_get_string(o, "id");
    g_assert_cmpstr(vh_opts_first_unused(o), ==, "rulesx");
}

static void list_fails(const char *str, const char *message)
{
    g_autoptr(VhOpts) o = parse_ok(str, NULL);
    g_autoptr(GError) err = NULL;
    g_autoptr(GPtrArray) list = vh_opts_get_list(o, "rules", &err);

    g_assert_null(list);
    g_assert_error(err, VH_ERROR, VH_ERROR_INVALID_ARGUMENT);
    g_assert_cmpstr(err->message, ==, message);
}

static void test_list_errors(void)
{
    g_autoptr(VhOpts) none = parse_ok("id=x,rules=1", NULL);
    g_autoptr(GPtrArray) empty = vh_opts_get_list(none, "rules", NULL);

    g_assert_nonnull(empty);
    g_assert_cmpuint(empty->len, ==, 0);
    list_fails("rules.1.match=a",
               "-chardev: no parameters for rules.0: list entries must be "
               "numbered from 0 without gaps");
    list_fails("rules.0.match=a,rules.2.match=b",
               "-chardev: no parameters for rules.1: list entries must be "
               "numbered from 0 without gaps");
    list_fails("rules.x.match=a",
               "-chardev: parameter 'rules.x.match' is not of the form "
               "rules.N.FIELD (N counting from 0)");
    list_fails("rules.01.match=a",
               "-chardev: parameter 'rules.01.match' is not of the form "
               "rules.N.FIELD (N counting from 0)");
    list_fails("rules.0=a", "-chardev: parameter 'rules.0' is not of the form "
                            "rules.N.FIELD (N counting from 0)");
    list_fails("rules.0.=a", "-chardev: parameter 'rules.0.' is not of the "
                             "form rules.N.FIELD (N counting from 0)");
    list_fails("rules.9999999.match=a",
               "-chardev: parameter 'rules.9999999.match' is not of the form "
               "rules.N.FIELD (N counting from 0)");
}

static void round_trip(const char *str, const char *implied, const char *expect)
{
    g_autoptr(VhOpts) a = parse_ok(str, implied);
    g_autofree char *s = vh_opts_to_string(a);
    g_autoptr(VhOpts) b = parse_ok(s, implied);

    g_assert_cmpstr(s, ==, expect);
    g_assert_true(vh_opts_equal(a, b));
}

static void test_round_trip(void)
{
    round_trip("socket,id=s0,server,nowait", "backend",
               "socket,id=s0,server,nowait");
    round_trip("backend=socket,id=s0", "backend", "socket,id=s0");
    round_trip("backend=a=b,id=s0", "backend", "backend=a=b,id=s0");
    round_trip("id=s0,backend=socket", "backend", "id=s0,backend=socket");
    round_trip("a,,b,path=/x,,y,,,z=", "qom-type", "a,,b,path=/x,,y,,,z=");
    round_trip("server,id=x", NULL, "server,id=x");
    round_trip("p=,,,,", NULL, "p=,,,,");

    {
        g_autoptr(VhOpts) a = parse_ok("a=1,b", NULL);
        g_autoptr(VhOpts) b = parse_ok("a=1,b=on", NULL);
        g_autoptr(VhOpts) c = parse_ok("a=1", NULL);
        g_autoptr(VhOpts) d = vh_opts_new("-x");
        g_autofree char *s = NULL;
        g_assert_false(vh_opts_equal(a, b));
        g_assert_false(vh_opts_equal(a, c));
        vh_opts_append(d, "a", "1");
        vh_opts_append(d, "b", NULL);
        g_assert_true(vh_opts_equal(a, d));
        s = vh_opts_to_string(d);
        g_assert_cmpstr(s, ==, "a=1,b");
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/util/opts/basic", test_basic);
    g_test_add_func("/util/opts/empty", test_empty);
    g_test_add_func("/util/opts/escaping", test_escaping);
    g_test_add_func("/util/opts/implied", test_implied);
    g_test_add_func("/util/opts/bool", test_bool);
    g_test_add_func("/util/opts/bool-bad", test_bool_bad);
    g_test_add_func("/util/opts/duplicates", test_duplicates);
    g_test_add_func("/util/opts/numbers", test_numbers);
    g_test_add_func("/util/opts/sizes", test_sizes);
    g_test_add_func("/util/opts/enum", test_enum);
    g_test_add_func("/util/opts/unused", test_unused);
    g_test_add_func("/util/opts/errors", test_errors);
    g_test_add_func("/util/opts/list", test_dotted_list);
    g_test_add_func("/util/opts/list-errors", test_list_errors);
    g_test_add_func("/util/opts/round-trip", test_round_trip);
    return g_test_run();
}
