/*
 * lib/rpc: typed parameters (remote_typed_param) - the round trip of every
 * type, the wire layout, and a negative case for each limit the decoder
 * checks.
 */
#include <string.h>

#include "vmhost/rpc/typed-params.h"

static GPtrArray *decode(GByteArray *b, guint32 max, GError **errp)
{
    GPtrArray *p = NULL;
    VhXdrReader r = VH_XDR_READER_INIT(b->data, b->len);

    if (!vh_typed_params_decode(&r, max, &p, errp)) {
        g_assert_null(p);
        return NULL;
    }
    g_assert_cmpuint(vh_xdr_remaining(&r), ==, 0);
    return p;
}

static void test_roundtrip(void)
{
    g_autoptr(GPtrArray) p = vh_typed_params_new();
    g_autoptr(GByteArray) b = g_byte_array_new();
    g_autoptr(GPtrArray) q = NULL;
    g_autoptr(GPtrArray) c = NULL;
    g_autoptr(GError) err = NULL;
    const VhTypedParam *tp;

    vh_typed_params_add_int(p, "i", -7);
    vh_typed_params_add_uint(p, "ui", 7);
    vh_typed_params_add_llong(p, "l", -(G_GINT64_CONSTANT(1) << 40));
    vh_typed_params_add_ullong(p, "bandwidth", G_GUINT64_CONSTANT(1) << 50);
    vh_typed_params_add_double(p, "d", 2.5);
    vh_typed_params_add_boolean(p, "b", true);
    vh_typed_params_add_string(p, "migrate_uri", "tcp://dst:49152");
    vh_typed_params_encode(b, p);
    g_assert_cmpuint(b->len % 4, ==, 0);
    /* count 7, then "i" (length 1, 3 pad bytes), type 1, -7 */
    g_assert_cmpmem(b->data, 20,
                    "\0\0\0\7\0\0\0\1i\0\0\0\0\0\0\1\xff\xff\xff\xf9", 20);

    q = decode(b, 64, &err);
    g_assert_no_error(err);
    g_assert_cmpuint(q->len, ==, 7);
    g_assert_cmpint(vh_typed_params_find(q, "i")->v.i, ==, -7);
    g_assert_cmpuint(vh_typed_params_find(q, "ui")->v.ui, ==, 7);
    g_assert_cmpint(vh_typed_params_find(q, "l")->v.l, ==,
                    -(G_GINT64_CONSTANT(1) << 40));
    g_assert_cmpuint(vh_typed_params_find(q, "bandwidth")->v.ul, ==,
                     G_GUINT64_CONSTANT(1) << 50);
    g_assert_cmpfloat(vh_typed_params_find(q, "d")->v.d, ==, 2.5);
    g_assert_true(vh_typed_params_find(q, "b")->v.b);
    g_assert_cmpstr(vh_typed_params_get_string(q, "migrate_uri"), ==,
                    "tcp://dst:49152");
    g_assert_null(vh_typed_params_get_string(q, "bandwidth"));
    g_assert_null(vh_typed_params_find(q, "absent"));

    c = vh_typed_params_copy(q);
    vh_typed_params_set_string(c, "migrate_uri", "tcp://other");
    vh_typed_params_set_string(c, "destination_name", "vm2");
    g_assert_cmpstr(vh_typed_params_get_string(q, "migrate_uri"), ==,
                    "tcp://dst:49152");
    g_assert_cmpstr(vh_typed_params_get_string(c, "migrate_uri"), ==,
                    "tcp://other");
    tp = vh_typed_params_find(c, "destination_name");
    g_assert_nonnull(tp);
    g_assert_cmpint(tp->type, ==, VH_TYPED_PARAM_STRING);
}

static void test_empty(void)
{
    g_autoptr(GByteArray) b = g_byte_array_new();
    g_autoptr(GPtrArray) q = NULL;

    vh_typed_params_encode(b, NULL);
    g_assert_cmpuint(b->len, ==, 4);
    q = decode(b, 64, NULL);
    g_assert_nonnull(q);
    g_assert_cmpuint(q->len, ==, 0);
}

/* One parameter with a raw type word and value words. */
static GByteArray *raw(const char *field, gint32 type, const guint32 *words,
                       guint n)
{
    GByteArray *b = g_byte_array_new();

    vh_xdr_put_u32(b, 1);
    vh_xdr_put_string(b, field);
    vh_xdr_put_i32(b, type);
    for (guint i = 0; i < n; i++) {
        vh_xdr_put_u32(b, words[i]);
    }
    return b;
}

static void expect_rpc_error(GByteArray *b, guint32 max, const char *what)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GPtrArray) q = decode(b, max, &err);

    g_assert_null(q);
    g_assert_error(err, VH_VIR_ERROR, VH_VIR_ERR_RPC);
    if (what) {
        g_assert_nonnull(strstr(err->message, what));
    }
}

static void test_limits(void)
{
    static const guint32 one[] = {1};
    static const guint32 two[] = {2};
    g_autoptr(GByteArray) b = NULL;
    g_autoptr(GPtrArray) p = vh_typed_params_new();
    char longname[VH_TYPED_PARAM_FIELD_LENGTH + 1];

    /* more items than the procedure allows */
    for (int i = 0; i < 3; i++) {
        vh_typed_params_add_int(p, "x", i);
    }
    b = g_byte_array_new();
    vh_typed_params_encode(b, p);
    expect_rpc_error(b, 2, "limit");
    g_clear_pointer(&b, g_byte_array_unref);

    /* a count the bytes left cannot hold */
    b = g_byte_array_new();
    vh_xdr_put_u32(b, 60);
    vh_xdr_put_u32(b, 0);
    expect_rpc_error(b, 64, "truncated");
    g_clear_pointer(&b, g_byte_array_unref);

    /* unknown type */
    b = raw("x", 8, one, 1);
    expect_rpc_error(b, 64, "unknown type");
    g_clear_pointer(&b, g_byte_array_unref);

    /* a boolean that is neither 0 nor 1 */
    b = raw("x", VH_TYPED_PARAM_BOOLEAN, two, 1);
    expect_rpc_error(b, 64, "boolean");
    g_clear_pointer(&b, g_byte_array_unref);

    /* an empty name */
    b = raw("", VH_TYPED_PARAM_INT, one, 1);
    expect_rpc_error(b, 64, "empty name");
    g_clear_pointer(&b, g_byte_array_unref);

    /* a name of VIR_TYPED_PARAM_FIELD_LENGTH bytes (no room for its NUL) */
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = 0;
    b = raw(longname, VH_TYPED_PARAM_INT, one, 1);
    expect_rpc_error(b, 64, NULL);
    g_clear_pointer(&b, g_byte_array_unref);

    /* truncated value: an llong with one word */
    b = raw("x", VH_TYPED_PARAM_LLONG, one, 1);
    expect_rpc_error(b, 64, NULL);
    g_clear_pointer(&b, g_byte_array_unref);

    /* a string value cut short */
    b = raw("x", VH_TYPED_PARAM_STRING, two, 1);
    expect_rpc_error(b, 64, NULL);
}

static void test_validate(void)
{
    static const char *const names[] = {"migrate_uri", "bandwidth"};
    static const VhTypedParamType types[] = {VH_TYPED_PARAM_STRING,
                                             VH_TYPED_PARAM_ULLONG};
    g_autoptr(GPtrArray) ok = vh_typed_params_new();
    g_autoptr(GPtrArray) unknown = vh_typed_params_new();
    g_autoptr(GPtrArray) badtype = vh_typed_params_new();
    g_autoptr(GPtrArray) twice = vh_typed_params_new();
    g_autoptr(GError) err = NULL;

    vh_typed_params_add_string(ok, "migrate_uri", "tcp://h");
    vh_typed_params_add_ullong(ok, "bandwidth", 1);
    g_assert_true(vh_typed_params_validate(ok, names, types, 2, &err));
    g_assert_no_error(err);

    vh_typed_params_add_string(unknown, "migrate_disks", "vda");
    g_assert_false(vh_typed_params_validate(unknown, names, types, 2, &err));
    g_assert_error(err, VH_VIR_ERROR, VH_VIR_ERR_ARGUMENT_UNSUPPORTED);
    g_assert_nonnull(strstr(err->message, "migrate_disks"));
    g_clear_error(&err);

    vh_typed_params_add_int(badtype, "bandwidth", 1);
    g_assert_false(vh_typed_params_validate(badtype, names, types, 2, &err));
    g_assert_error(err, VH_VIR_ERROR, VH_VIR_ERR_INVALID_ARG);
    g_clear_error(&err);

    vh_typed_params_add_ullong(twice, "bandwidth", 1);
    vh_typed_params_add_ullong(twice, "bandwidth", 2);
    g_assert_false(vh_typed_params_validate(twice, names, types, 2, &err));
    g_assert_error(err, VH_VIR_ERROR, VH_VIR_ERR_INVALID_ARG);
    g_assert_nonnull(strstr(err->message, "multiple"));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/rpc/typed-params/roundtrip", test_roundtrip);
    g_test_add_func("/rpc/typed-params/empty", test_empty);
    g_test_add_func("/rpc/typed-params/limits", test_limits);
    g_test_add_func("/rpc/typed-params/validate", test_validate);
    return g_test_run();
}
