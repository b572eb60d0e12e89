/* -object: registry objects from option strings. */
#include "crypto-testutil.h"
#include "tls-testutil.h"

#include "vmhost/authz/authz-list-file.h"
#include "vmhost/authz/authz-list.h"
#include "vmhost/authz/authz-simple.h"
#include "vmhost/crypto/tls-creds-anon.h"
#include "vmhost/crypto/tls-creds-psk.h"
#include "vmhost/crypto/tls-creds-x509.h"
#include "vmhost/object/object-create.h"
#include "vmhost/object/object.h"
#include "vmhost/vmhost-types.h"

#include <glib/gstdio.h>
#include <string.h>

static TlsTestPki *pki;
static char *tmpdir;

/* A test type with the number properties the builtin types lack. */
#define TEST_TYPE_NUMBERS (test_numbers_get_type())
G_DECLARE_FINAL_TYPE(TestNumbers, test_numbers, TEST, NUMBERS, GObject)

struct _TestNumbers {
    GObject parent;
    int i;
    guint u;
    gint64 i64;
    guint64 size;
    glong l;
    gulong ul;
};

G_DEFINE_TYPE(TestNumbers, test_numbers, G_TYPE_OBJECT)

enum { P_0, P_I, P_U, P_I64, P_SIZE, P_L, P_UL, P_VARIANT, P_RO, N_P };

static void test_numbers_set_property(GObject *obj, guint id,
                                      const GValue *value, GParamSpec *pspec)
{
    TestNumbers *t = TEST_NUMBERS(obj);

    switch (id) {
    case P_I:
        t->i = g_value_get_int(value);
        break;
    case P_U:
        t->u = g_value_get_uint(value);
        break;
    case P_I64:
        t->i64 = g_value_get_int64(value);
        break;
    case P_SIZE:
        t->size = g_value_get_uint64(value);
        break;
    case P_L:
        t->l = g_value_get_long(value);
        break;
    case P_UL:
        t->ul = g_value_get_ulong(value);
        break;
    case P_VARIANT:
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, id, pspec);
    }
}

static void test_numbers_get_property(GObject *obj, guint id, GValue *value,
                                      GParamSpec *pspec)
{
    switch (id) {
    case P_RO:
        g_value_set_int(value, 1);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, id, pspec);
    }
}

static void test_numbers_class_init(TestNumbersClass *klass)
{
    GObjectClass *oc = G_OBJECT_CLASS(klass);
    GParamFlags w = G_PARAM_WRITABLE | G_PARAM_STATIC_STRINGS;

    oc->set_property = test_numbers_set_property;
    oc->get_property = test_numbers_get_property;
    g_object_class_install_property(
        oc, P_I, g_param_spec_int("i", "", "", -10, 10, 0, w));
    g_object_class_install_property(
        oc, P_U, g_param_spec_uint("u", "", "", 1, 100, 1, w));
    g_object_class_install_property(
        oc, P_I64,
        g_param_spec_int64("i64", "", "", G_MININT64, G_MAXINT64, 0, w));
    g_object_class_install_property(
        oc, P_SIZE, g_param_spec_uint64("size", "", "", 0, 1ULL << 40, 0, w));
    g_object_class_install_property(
        oc, P_L, g_param_spec_long("l", "", "", -5, 5, 0, w));
    g_object_class_install_property(
        oc, P_UL, g_param_spec_ulong("ul", "", "", 0, 5, 0, w));
    g_object_class_install_property(oc, P_VARIANT,
                                    g_param_spec_variant("variant", "", "",
                                                         G_VARIANT_TYPE_STRING,
                                                         NULL, w));
    g_object_class_install_property(
        oc, P_RO,
        g_param_spec_int("ro", "", "", 0, 1, 0,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
}

static void test_numbers_init(TestNumbers *t)
{
    (void)t;
}

/* Helpers */

static GObject *add_ok(const char *str, const char *id)
{
    g_autoptr(GError) err = NULL;
    GObject *obj;

    g_assert_true(vh_object_add_from_string(str, &err));
    g_assert_no_error(err);
    obj = vh_object_lookup(id);
    g_assert_nonnull(obj);
    return obj;
}

static void add_fails(const char *str, const char *message)
{
    g_autoptr(GError) err = NULL;
    g_auto(GStrv) before = vh_object_list_ids();
    g_auto(GStrv) after = NULL;

    g_assert_false(vh_object_add_from_string(str, &err));
    g_assert_nonnull(err);
    if (g_str_has_suffix(message, "*")) {
        g_autofree char *prefix = g_strndup(message, strlen(message) - 1);
        if (!g_str_has_prefix(err->message, prefix)) {
            g_error("'%s' does not start with '%s'", err->message, prefix);
        }
    } else {
        g_assert_cmpstr(err->message, ==, message);
    }
    /* Nothing was registered. */
    after = vh_object_list_ids();
    g_assert_cmpuint(g_strv_length(after), ==, g_strv_length(before));
}

/* @text with each ',' doubled (transfer full). */
static char *escape(const char *text)
{
    g_auto(GStrv) parts = g_strsplit(text, ",", -1);

    return g_strjoinv(",,", parts);
}

static void del(const char *id)
{
    g_assert_true(vh_object_del(id, NULL));
}

/* Credentials */

static void test_x509(void)
{
    g_autofree char *dir = tls_test_pki_dir(pki, "server,dir");
    g_autofree char *esc = escape(dir);
    g_autofree char *str = NULL;
    g_autoptr(GObject) obj = NULL;
    g_autoptr(GError) err = NULL;
    VhTlsCreds *creds;
    const char *dns[] = {"localhost", NULL};

    tls_test_pki_issue_server(pki, dir, "C=UK,O=vmhost test,CN=localhost", dns,
                              NULL, 0, 0);
    str = g_strdup_printf("tls-creds-x509,id=tls0,endpoint=server,dir=%s,"
                          "verify-peer=off,sanity-check=on,priority=NORMAL",
                          esc);
    obj = add_ok(str, "tls0");
    g_assert_true(VH_IS_TLS_CREDS_X509(obj));
    creds = VH_TLS_CREDS(obj);
    g_assert_cmpint(vh_tls_creds_get_endpoint(creds), ==,
                    VH_TLS_CREDS_ENDPOINT_SERVER);
    g_assert_true(
        vh_tls_creds_check_endpoint(creds, VH_TLS_CREDS_ENDPOINT_SERVER, &err));
    g_assert_no_error(err);
    g_assert_cmpstr(vh_tls_creds_get_dir(creds), ==, dir);
    g_assert_false(vh_tls_creds_get_verify_peer(creds));
    g_assert_true(vh_tls_creds_x509_get_sanity_check(VH_TLS_CREDS_X509(obj)));
    g_assert_cmpuint(vh_tls_creds_x509_get_n_identities(VH_TLS_CREDS_X509(obj)),
                     ==, 1);
    del("tls0");
}

static void test_x509_client_defaults(void)
{
    g_autofree char *dir = tls_test_pki_dir(pki, "client");
    g_autofree char *str =
        g_strdup_printf("tls-creds-x509,id=tlsc,dir=%s,noverify-peer", dir);
    g_autoptr(GObject) obj = add_ok(str, "tlsc");

    /* endpoint defaults to client; the bare "noX" form sets X off. */
    g_assert_cmpint(vh_tls_creds_get_endpoint(VH_TLS_CREDS(obj)), ==,
                    VH_TLS_CREDS_ENDPOINT_CLIENT);
    g_assert_false(vh_tls_creds_get_verify_peer(VH_TLS_CREDS(obj)));
    del("tlsc");
}

static void test_x509_init_fails(void)
{
    g_autofree char *missing = g_build_filename(tmpdir, "no-such-dir", NULL);
    g_autofree char *str = g_strdup_printf(
        "tls-creds-x509,id=tlsbad,endpoint=server,dir=%s", missing);

    add_fails(str, "object 'tlsbad': *");
}

static void test_anon(void)
{
    g_autoptr(GObject) obj =
        add_ok("tls-creds-anon,id=anon0,endpoint=server", "anon0");

    g_assert_true(VH_IS_TLS_CREDS_ANON(obj));
    g_assert_cmpint(vh_tls_creds_get_endpoint(VH_TLS_CREDS(obj)), ==,
                    VH_TLS_CREDS_ENDPOINT_SERVER);
    g_assert_true(g_str_has_suffix(vh_tls_creds_get_priority(VH_TLS_CREDS(obj)),
                                   VH_TLS_ANON_PRIORITY_SUFFIX));
    del("anon0");
}

static void test_psk(void)
{
    g_autofree char *dir = g_build_filename(tmpdir, "psk", NULL);
    g_autofree char *keys = g_build_filename(dir, VH_TLS_PSK_KEYS_FILE, NULL);
    g_autofree char *str = NULL;
    g_autoptr(GObject) obj = NULL;

    g_assert_cmpint(g_mkdir_with_parents(dir, 0700), ==, 0);
    g_assert_true(g_file_set_contents(
        keys, "alice:00112233445566778899aabbccddeeff\n", -1, NULL));
    str = g_strdup_printf("tls-creds-psk,id=psk0,endpoint=client,dir=%s,"
                          "username=alice",
                          dir);
    obj = add_ok(str, "psk0");
    g_assert_cmpstr(vh_tls_creds_psk_get_username(VH_TLS_CREDS_PSK(obj)), ==,
                    "alice");
    del("psk0");
}

/* Authorization */

static void test_authz_simple(void)
{
    g_autoptr(GObject) obj = add_ok(
        "authz-simple,id=az0,identity=C=UK,,O=vmhost test,,CN=qemu", "az0");
    g_autoptr(GError) err = NULL;

    g_assert_cmpstr(vh_authz_simple_get_identity(VH_AUTHZ_SIMPLE(obj)), ==,
                    "C=UK,O=vmhost test,CN=qemu");
    /* The registry id is the object's id for its messages. */
    g_assert_cmpstr(vh_authz_get_id(VH_AUTHZ(obj)), ==, "az0");
    g_assert_true(
        vh_authz_is_allowed_by_id("az0", "C=UK,O=vmhost test,CN=qemu", NULL));
    g_assert_false(vh_authz_is_allowed_by_id("az0", "C=UK,CN=other", &err));
    g_assert_error(err, VH_ERROR, VH_ERROR_AUTHZ_DENIED);
    del("az0");
}

static void test_authz_list(void)
{
    g_autoptr(GObject) obj =
        add_ok("authz-list,id=al0,policy=deny,"
               "rules.0.match=CN=fred,rules.0.policy=allow,"
               "rules.1.match=CN=bad*,rules.1.policy=deny,rules.1.format=glob,"
               "rules.2.match=CN=*,rules.2.policy=allow,rules.2.format=glob,"
               "rules.3.match=CN=b,,O=x,rules.3.policy=allow",
               "al0");
    VhAuthzList *list = VH_AUTHZ_LIST(obj);

    g_assert_cmpuint(vh_authz_list_get_rule_count(list), ==, 4);
    g_assert_cmpint(vh_authz_list_get_policy(list), ==,
                    VH_AUTHZ_LIST_POLICY_DENY);
    g_assert_true(vh_authz_is_allowed_by_id("al0", "CN=fred", NULL));
    g_assert_false(vh_authz_is_allowed_by_id("al0", "CN=badguy", NULL));
    g_assert_true(vh_authz_is_allowed_by_id("al0", "CN=anyone", NULL));
    g_assert_false(vh_authz_is_allowed_by_id("al0", "O=x", NULL));
    del("al0");
}

static void test_authz_list_no_rules(void)
{
    g_autoptr(GObject) obj = add_ok("authz-list,id=al1,policy=allow", "al1");

    g_assert_cmpuint(vh_authz_list_get_rule_count(VH_AUTHZ_LIST(obj)), ==, 0);
    g_assert_true(vh_authz_is_allowed_by_id("al1", "CN=x", NULL));
    del("al1");
}

static void test_authz_list_errors(void)
{
    add_fails("authz-list,id=al2,rules.0.match=CN=a",
              "-object: parameter 'rules.0.policy' is required (each rule "
              "has a match and a policy)");
    add_fails("authz-list,id=al2,rules.0.policy=allow",
              "-object: parameter 'rules.0.match' is required (each rule "
              "has a match and a policy)");
    add_fails("authz-list,id=al2,rules.0.match=a,rules.0.policy=maybe",
              "-object: parameter 'rules.0.policy' expects 'deny' or "
              "'allow', got 'maybe'");
    add_fails("authz-list,id=al2,rules.0.match=a,rules.0.policy=allow,"
              "rules.0.format=regex",
              "-object: parameter 'rules.0.format' expects 'exact' or "
              "'glob', got 'regex'");
    add_fails("authz-list,id=al2,rules.0.match=a,rules.0.policy=allow,"
              "rules.0.fromat=glob",
              "-object authz-list: invalid parameter 'rules.0.fromat'");
    add_fails("authz-list,id=al2,rules.1.match=a,rules.1.policy=allow",
              "-object: no parameters for rules.0: list entries must be "
              "numbered from 0 without gaps");
    add_fails("authz-list,id=al2,rules.first.match=a",
              "-object: parameter 'rules.first.match' is not of the form "
              "rules.N.FIELD (N counting from 0)");
    add_fails("authz-simple,id=al2,identity=x,rules.0.match=a",
              "-object: object type 'authz-simple' has no property "
              "'rules.0.match'");
}

static void test_authz_list_file(void)
{
    g_autofree char *file = g_build_filename(tmpdir, "rules.json", NULL);
    g_autofree char *str = NULL;
    g_autoptr(GObject) obj = NULL;

    g_assert_true(g_file_set_contents(
        file,
        "{\"policy\": \"deny\", \"rules\": [{\"match\": \"CN=fred\", "
        "\"policy\": \"allow\"}]}",
        -1, NULL));
    str = g_strdup_printf("authz-list-file,id=alf0,filename=%s,refresh=off",
                          file);
    obj = add_ok(str, "alf0");
    g_assert_cmpstr(vh_authz_list_file_get_filename(VH_AUTHZ_LIST_FILE(obj)),
                    ==, file);
    g_assert_false(vh_authz_list_file_get_refresh(VH_AUTHZ_LIST_FILE(obj)));
    g_assert_true(vh_authz_is_allowed_by_id("alf0", "CN=fred", NULL));
    g_assert_false(vh_authz_is_allowed_by_id("alf0", "CN=bob", NULL));
    del("alf0");
}

static void test_authz_list_file_missing(void)
{
    g_autofree char *file = g_build_filename(tmpdir, "none.json", NULL);
    g_autofree char *str =
        g_strdup_printf("authz-list-file,id=alf1,filename=%s", file);

    add_fails(str, "object 'alf1': *");
}

/* Error paths of the creation itself */

static void test_bad_type(void)
{
    add_fails("tls-creds-x590,id=t",
              "-object: invalid object type 'tls-creds-x590'");
    add_fails("id=t", "-object: parameter 'qom-type' is required (the object "
                      "type)");
    add_fails("", "-object: parameter 'qom-type' is required (the object "
                  "type)");
}

static void test_bad_property(void)
{
    add_fails("tls-creds-anon,id=t,endpoint=server,foo=1",
              "-object: object type 'tls-creds-anon' has no property 'foo'");
    add_fails("tls-creds-anon,id=t,nofoo",
              "-object: object type 'tls-creds-anon' has no property 'nofoo'");
    /* username is a tls-creds-psk property, not anon's. */
    add_fails("tls-creds-anon,id=t,username=alice",
              "-object: object type 'tls-creds-anon' has no property "
              "'username'");
}

static void test_bad_values(void)
{
    add_fails("tls-creds-anon,id=t,endpoint=sever",
              "-object: parameter 'endpoint' expects 'client' or 'server', "
              "got 'sever'");
    add_fails("tls-creds-anon,id=t,verify-peer=maybe",
              "-object: parameter 'verify-peer' expects 'on' or 'off', got "
              "'maybe'");
    add_fails("tls-creds-anon,id=t,endpoint=server,=x",
              "-object: element 4 ('=x') has no parameter name before '='");
}

static void test_ids(void)
{
    g_autoptr(GObject) obj = NULL;

    add_fails("tls-creds-anon,endpoint=server",
              "-object: parameter 'id' is required (the name other options "
              "refer to it by)");
    add_fails("tls-creds-anon,id=,endpoint=server",
              "-object: parameter 'id' is required (the name other options "
              "refer to it by)");
    add_fails("tls-creds-anon,id=1abc",
              "-object: invalid object id '1abc': it must start with a "
              "letter");
    add_fails("tls-creds-anon,id=a/b",
              "-object: invalid object id 'a/b': character '/' is not a "
              "letter, digit, '-', '.' or '_'");
    obj = add_ok("tls-creds-anon,id=dup,endpoint=server", "dup");
    add_fails("authz-simple,id=dup,identity=x",
              "-object: an object with id 'dup' already exists");
    del("dup");
}

static void test_numbers(void)
{
    g_autoptr(GObject) obj = NULL;
    TestNumbers *t;

    vh_object_type_register("test-numbers", TEST_TYPE_NUMBERS);
    g_assert_true(vh_object_type_lookup("test-numbers") == TEST_TYPE_NUMBERS);
    g_assert_true(vh_object_type_lookup("nope") == G_TYPE_INVALID);
    obj = add_ok("test-numbers,id=n0,i=-7,u=0x20,i64=-9000000000,size=1.5G,"
                 "l=-5,ul=5",
                 "n0");
    t = TEST_NUMBERS(obj);
    g_assert_cmpint(t->i, ==, -7);
    g_assert_cmpuint(t->u, ==, 32);
    g_assert_cmpint(t->i64, ==, -9000000000LL);
    g_assert_cmpuint(t->size, ==, 3ULL << 29);
    g_assert_cmpint(t->l, ==, -5);
    g_assert_cmpuint(t->ul, ==, 5);
    del("n0");

    add_fails("test-numbers,id=n1,i=11",
              "-object: parameter 'i' expects a number from -10 to 10, got "
              "'11'");
    add_fails("test-numbers,id=n1,u=0",
              "-object: parameter 'u' expects a number from 1 to 100, got "
              "'0'");
    add_fails("test-numbers,id=n1,ul=6",
              "-object: parameter 'ul' expects a number from 0 to 5, got '6'");
    add_fails("test-numbers,id=n1,l=x",
              "-object: parameter 'l' expects a number from -5 to 5, got 'x'");
    add_fails("test-numbers,id=n1,size=2T",
              "-object: parameter 'size' expects a size from 0 to "
              "1099511627776 bytes, got '2T'");
    add_fails("test-numbers,id=n1,size=lots",
              "-object: parameter 'size' expects a size such as 4096, 512M "
              "or 4G: *");
    add_fails("test-numbers,id=n1,variant=x",
              "-object: parameter 'variant' (a GVariant) cannot be set from "
              "an option string");
    add_fails("test-numbers,id=n1,ro=1",
              "-object: object type 'test-numbers' has no property 'ro'");
}

/* The JSON form (QEMU >= 6.0): the same objects, typed values. */

static void test_json_x509(void)
{
    g_autofree char *dir = tls_test_pki_dir(pki, "server-json");
    g_autofree char *str = NULL;
    g_autoptr(GObject) obj = NULL;
    VhTlsCreds *creds;
    const char *dns[] = {"localhost", NULL};

    tls_test_pki_issue_server(pki, dir, "C=UK,O=vmhost test,CN=localhost", dns,
                              NULL, 0, 0);
    str = g_strdup_printf("{\"qom-type\": \"tls-creds-x509\", \"id\": "
                          "\"tlsj\", \"endpoint\": \"server\", \"dir\": "
                          "\"%s\", \"verify-peer\": false, \"sanity-check\": "
                          "true, \"priority\": \"NORMAL\"}",
                          dir);
    obj = add_ok(str, "tlsj");
    g_assert_true(VH_IS_TLS_CREDS_X509(obj));
    creds = VH_TLS_CREDS(obj);
    g_assert_cmpint(vh_tls_creds_get_endpoint(creds), ==,
                    VH_TLS_CREDS_ENDPOINT_SERVER);
    g_assert_cmpstr(vh_tls_creds_get_dir(creds), ==, dir);
    g_assert_false(vh_tls_creds_get_verify_peer(creds));
    g_assert_true(vh_tls_creds_x509_get_sanity_check(VH_TLS_CREDS_X509(obj)));
    del("tlsj");
}

static void test_json_anon_psk(void)
{
    g_autofree char *dir = g_build_filename(tmpdir, "psk-json", NULL);
    g_autofree char *keys = g_build_filename(dir, VH_TLS_PSK_KEYS_FILE, NULL);
    g_autofree char *str = NULL;
    g_autoptr(GObject) anon = NULL, psk = NULL;

    anon = add_ok("{\"qom-type\":\"tls-creds-anon\",\"id\":\"anonj\","
                  "\"endpoint\":\"server\"}",
                  "anonj");
    g_assert_true(VH_IS_TLS_CREDS_ANON(anon));
    g_assert_cmpint(vh_tls_creds_get_endpoint(VH_TLS_CREDS(anon)), ==,
                    VH_TLS_CREDS_ENDPOINT_SERVER);
    del("anonj");

    g_assert_cmpint(g_mkdir_with_parents(dir, 0700), ==, 0);
    g_assert_true(g_file_set_contents(
        keys, "alice:00112233445566778899aabbccddeeff\n", -1, NULL));
    str = g_strdup_printf("{\"qom-type\": \"tls-creds-psk\", \"id\": "
                          "\"pskj\", \"endpoint\": \"client\", \"dir\": "
                          "\"%s\", \"username\": \"alice\"}",
                          dir);
    psk = add_ok(str, "pskj");
    g_assert_cmpstr(vh_tls_creds_psk_get_username(VH_TLS_CREDS_PSK(psk)), ==,
                    "alice");
    del("pskj");
}

static void test_json_authz(void)
{
    g_autoptr(GObject) simple = NULL, list = NULL;

    /* a comma needs no doubling in JSON */
    simple = add_ok("{\"qom-type\": \"authz-simple\", \"id\": \"azj\", "
                    "\"identity\": \"C=UK,O=vmhost test,CN=qemu\"}",
                    "azj");
    g_assert_cmpstr(vh_authz_simple_get_identity(VH_AUTHZ_SIMPLE(simple)), ==,
                    "C=UK,O=vmhost test,CN=qemu");
    del("azj");

    /* rules as a JSON list, as libvirt writes them */
    list = add_ok("{\"qom-type\": \"authz-list\", \"id\": \"alj\", "
                  "\"policy\": \"deny\", \"rules\": ["
                  "{\"match\": \"CN=fred\", \"policy\": \"allow\"}, "
                  "{\"match\": \"CN=bad*\", \"policy\": \"deny\", "
                  "\"format\": \"glob\"}, "
                  "{\"match\": \"CN=*\", \"policy\": \"allow\", "
                  "\"format\": \"glob\"}, "
                  "{\"match\": \"CN=b,O=x\", \"policy\": \"allow\"}]}",
                  "alj");
    g_assert_cmpuint(vh_authz_list_get_rule_count(VH_AUTHZ_LIST(list)), ==, 4);
    g_assert_true(vh_authz_is_allowed_by_id("alj", "CN=fred", NULL));
    g_assert_false(vh_authz_is_allowed_by_id("alj", "CN=badguy", NULL));
    g_assert_true(vh_authz_is_allowed_by_id("alj", "CN=anyone", NULL));
    del("alj");
}

static void test_json_numbers(void)
{
    g_autoptr(GObject) obj = NULL;
    TestNumbers *t;

    vh_object_type_register("test-numbers", TEST_TYPE_NUMBERS);
    obj = add_ok("{\"qom-type\": \"test-numbers\", \"id\": \"nj\", \"i\": -7, "
                 "\"u\": 32, \"i64\": -9000000000, \"size\": 1610612736, "
                 "\"l\": -5, \"ul\": 5}",
                 "nj");
    t = TEST_NUMBERS(obj);
    g_assert_cmpint(t->i, ==, -7);
    g_assert_cmpuint(t->u, ==, 32);
    g_assert_cmpint(t->i64, ==, -9000000000LL);
    g_assert_cmpuint(t->size, ==, 3ULL << 29);
    g_assert_cmpint(t->l, ==, -5);
    g_assert_cmpuint(t->ul, ==, 5);
    del("nj");

    add_fails("{\"qom-type\": \"test-numbers\", \"id\": \"n1\", \"i\": 11}",
              "-object: parameter 'i' expects a number from -10 to 10, got "
              "'11'");
    /* a size is a JSON number, as in QEMU; "1.5G" is the option string's */
    add_fails("{\"qom-type\": \"test-numbers\", \"id\": \"n1\", \"size\": "
              "\"1.5G\"}",
              "-object: Invalid parameter type for 'size', expected: integer");
    add_fails("{\"qom-type\": \"test-numbers\", \"id\": \"n1\", \"u\": 1.5}",
              "-object: Invalid parameter type for 'u', expected: integer");
    add_fails("{\"qom-type\": \"test-numbers\", \"id\": \"n1\", \"ro\": 1}",
              "-object: object type 'test-numbers' has no property 'ro'");
}

/* QEMU's errors for JSON that is not what the object takes. */
static void test_json_errors(void)
{
    add_fails("{\"qom-type\": \"tls-creds-anon\", \"id\": \"a\", "
              "\"verify-peer\": \"off\"}",
              "-object: Invalid parameter type for 'verify-peer', expected: "
              "boolean");
    add_fails("{\"qom-type\": \"tls-creds-anon\", \"id\": \"a\", "
              "\"endpoint\": true}",
              "-object: Invalid parameter type for 'endpoint', expected: "
              "string");
    add_fails("{\"qom-type\": 5, \"id\": \"a\"}",
              "-object: Invalid parameter type for 'qom-type', expected: "
              "string");
    add_fails("{\"qom-type\": \"tls-creds-anon\", \"id\": [\"a\"]}",
              "-object: Invalid parameter type for 'id', expected: string");
    add_fails("{\"qom-type\": \"tls-creds-anon\", \"id\": \"a\", \"id\": "
              "\"b\"}",
              "-object: JSON parse error, duplicate key 'id'");
    /* json-glib alone would create the second and leak the first */
    add_fails("{\"qom-type\": \"tls-creds-anon\", \"id\": \"a\"} "
              "{\"qom-type\": \"authz-simple\", \"id\": \"b\"}",
              "-object: JSON parse error, unexpected data after the JSON "
              "value at byte 42");
    add_fails("{\"qom-type\": \"tls-creds-anon\", \"id\": \"a\"",
              "-object: JSON parse error, *");
    add_fails("{\"qom-type\": \"tls-creds-anon\", \"id\": \"a\", \"bogus\": 1}",
              "-object: object type 'tls-creds-anon' has no property 'bogus'");
    add_fails("{\"id\": \"a\"}",
              "-object: parameter 'qom-type' is required (the object type)");
    add_fails("{\"qom-type\": \"nosuch\", \"id\": \"a\"}",
              "-object: invalid object type 'nosuch'");
    /* as in QEMU, only a leading '{' makes it JSON */
    add_fails(" {\"qom-type\": \"tls-creds-anon\", \"id\": \"a\"}", "*");
}

static void test_from_opts(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(VhOpts) opts = vh_opts_parse(
        "object_add", "authz-simple,id=fo0,identity=x", "qom-type", &err);
    g_autoptr(GObject) obj = NULL;

    g_assert_no_error(err);
    obj = vh_object_create_from_opts(opts, &err);
    g_assert_no_error(err);
    g_assert_true(VH_IS_AUTHZ_SIMPLE(obj));
    g_assert_null(vh_opts_first_unused(opts));
    del("fo0");

    /* An unknown property: object_add says it in QEMU's monitor's words. */
    g_clear_pointer(&opts, vh_opts_free);
    opts = vh_opts_parse("object_add", "authz-simple,id=fo1,x=1", "qom-type",
                         &err);
    g_assert_null(vh_object_create_from_opts(opts, &err));
    g_assert_cmpstr(err->message, ==, "Parameter 'x' is unexpected");

    /* Other messages name the caller's option. */
    g_clear_pointer(&opts, vh_opts_free);
    g_clear_error(&err);
    opts =
        vh_opts_parse("-device", "authz-simple,id=fo1,x=1", "qom-type", &err);
    g_assert_null(vh_object_create_from_opts(opts, &err));
    g_assert_cmpstr(err->message, ==,
                    "-device: object type 'authz-simple' has no property "
                    "'x'");
}

int main(int argc, char **argv)
{
    int rc;

    g_test_init(&argc, &argv, NULL);
    vh_object_register_builtin_types();
    vh_object_register_builtin_types(); /* idempotent */
    tmpdir = vh_test_mkdtemp("vh-object-create");
    pki = tls_test_pki_new("object-create CA");

    g_test_add_func("/object/create/tls-creds-x509", test_x509);
    g_test_add_func("/object/create/tls-creds-x509-client",
                    test_x509_client_defaults);
    g_test_add_func("/object/create/initable-fails", test_x509_init_fails);
    g_test_add_func("/object/create/tls-creds-anon", test_anon);
    g_test_add_func("/object/create/tls-creds-psk", test_psk);
    g_test_add_func("/object/create/authz-simple", test_authz_simple);
    g_test_add_func("/object/create/authz-list", test_authz_list);
    g_test_add_func("/object/create/authz-list-no-rules",
                    test_authz_list_no_rules);
    g_test_add_func("/object/create/authz-list-errors", test_authz_list_errors);
    g_test_add_func("/object/create/authz-list-file", test_authz_list_file);
    g_test_add_func("/object/create/authz-list-file-missing",
                    test_authz_list_file_missing);
    g_test_add_func("/object/create/bad-type", test_bad_type);
    g_test_add_func("/object/create/bad-property", test_bad_property);
    g_test_add_func("/object/create/bad-values", test_bad_values);
    g_test_add_func("/object/create/ids", test_ids);
    g_test_add_func("/object/create/numbers", test_numbers);
    g_test_add_func("/object/create/from-opts", test_from_opts);
    g_test_add_func("/object/create/json/tls-creds-x509", test_json_x509);
    g_test_add_func("/object/create/json/tls-creds-anon-psk",
                    test_json_anon_psk);
    g_test_add_func("/object/create/json/authz", test_json_authz);
    g_test_add_func("/object/create/json/numbers", test_json_numbers);
    g_test_add_func("/object/create/json/errors", test_json_errors);
    rc = g_test_run();

    tls_test_pki_free(pki);
    vh_test_rm_rf(tmpdir);
    g_free(tmpdir);
    return rc;
}
