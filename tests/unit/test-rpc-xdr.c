/*
 * lib/rpc: the XDR codec, packet framing and the error struct.
 */
#include <string.h>

#include "vmhost/rpc/packet.h"
#include "vmhost/rpc/remote-protocol.h"

static void test_roundtrip(void)
{
    g_autoptr(GByteArray) b = g_byte_array_new();
    const guint8 uuid[16] = {1, 2,  3,  4,  5,  6,  7,  8,
                             9, 10, 11, 12, 13, 14, 15, 16};

    vh_xdr_put_u32(b, 0xdeadbeef);
    vh_xdr_put_i32(b, -2);
    vh_xdr_put_u64(b, G_GUINT64_CONSTANT(0x0123456789abcdef));
    vh_xdr_put_i64(b, -5);
    vh_xdr_put_bool(b, true);
    vh_xdr_put_string(b, "vm1");
    vh_xdr_put_opt_string(b, NULL);
    vh_xdr_put_opt_string(b, "hello");
    vh_xdr_put_opaque_fixed(b, uuid, 16);
    vh_xdr_put_opaque(b, "abcde", 5);
    g_assert_cmpuint(b->len % 4, ==, 0);
    /* "vm1": length 3, then 3 bytes and one zero pad */
    g_assert_cmpmem(b->data + 28, 8, "\0\0\0\3vm1\0", 8);

    VhXdrReader r = VH_XDR_READER_INIT(b->data, b->len);
    guint32 u;
    gint32 i;
    guint64 u64;
    gint64 i64;
    bool bo;
    g_autofree char *s = NULL, *o1 = NULL, *o2 = NULL;
    guint8 got[16];
    g_autofree guint8 *op = NULL;
    guint32 oplen;
    g_autoptr(GError) err = NULL;

    g_assert_true(vh_xdr_get_u32(&r, &u, &err));
    g_assert_cmphex(u, ==, 0xdeadbeef);
    g_assert_true(vh_xdr_get_i32(&r, &i, &err));
    g_assert_cmpint(i, ==, -2);
    g_assert_true(vh_xdr_get_u64(&r, &u64, &err));
    g_assert_cmphex(u64, ==, G_GUINT64_CONSTANT(0x0123456789abcdef));
    g_assert_true(vh_xdr_get_i64(&r, &i64, &err));
    g_assert_cmpint(i64, ==, -5);
    g_assert_true(vh_xdr_get_bool(&r, &bo, &err));
    g_assert_true(bo);
    g_assert_true(vh_xdr_get_string(&r, 0, &s, &err));
    g_assert_cmpstr(s, ==, "vm1");
    g_assert_true(vh_xdr_get_opt_string(&r, 0, &o1, &err));
    g_assert_null(o1);
    g_assert_true(vh_xdr_get_opt_string(&r, 0, &o2, &err));
    g_assert_cmpstr(o2, ==, "hello");
    g_assert_true(vh_xdr_get_opaque_fixed(&r, got, 16, &err));
    g_assert_cmpmem(got, 16, uuid, 16);
    g_assert_true(vh_xdr_get_opaque(&r, 16, &op, &oplen, &err));
    g_assert_cmpmem(op, oplen, "abcde", 5);
    g_assert_true(vh_xdr_end(&r, &err));
    g_assert_no_error(err);
}

static void assert_rpc_error(GError *err, const char *substr)
{
    g_assert_error(err, VH_VIR_ERROR, VH_VIR_ERR_RPC);
    if (!strstr(err->message, substr)) {
        g_error("'%s' does not say '%s'", err->message, substr);
    }
}

static void test_truncated(void)
{
    const guint8 three[3] = {0};
    VhXdrReader r = VH_XDR_READER_INIT(three, 3);
    guint32 u = 7;
    guint64 u64 = 7;
    g_autoptr(GError) err = NULL;

    g_assert_false(vh_xdr_get_u32(&r, &u, &err));
    assert_rpc_error(err, "truncated");
    g_assert_cmpuint(u, ==, 7);
    g_clear_error(&err);

    const guint8 six[8] = {0, 0, 0, 1, 0, 0, 0, 0};
    VhXdrReader r6 = VH_XDR_READER_INIT(six, 6);
    g_assert_false(vh_xdr_get_u64(&r6, &u64, &err));
    assert_rpc_error(err, "truncated");
    g_assert_cmpuint(r6.pos, ==, 0);
    g_clear_error(&err);

    /* a string whose length runs past the end */
    const guint8 str[8] = {0, 0, 0, 9, 'a', 'b', 'c', 'd'};
    VhXdrReader rs = VH_XDR_READER_INIT(str, 8);
    g_autofree char *s = NULL;
    g_assert_false(vh_xdr_get_string(&rs, 0, &s, &err));
    assert_rpc_error(err, "truncated");
    g_assert_null(s);
    g_assert_cmpuint(rs.pos, ==, 0);
}

static void test_trailing(void)
{
    const guint8 eight[8] = {0, 0, 0, 1, 0, 0, 0, 2};
    VhXdrReader r = VH_XDR_READER_INIT(eight, 8);
    guint32 u;
    g_autoptr(GError) err = NULL;

    g_assert_true(vh_xdr_get_u32(&r, &u, &err));
    g_assert_false(vh_xdr_end(&r, &err));
    assert_rpc_error(err, "trailing");
}

static void test_padding(void)
{
    const guint8 bad[8] = {0, 0, 0, 1, 'a', 0, 1, 0};
    VhXdrReader r = VH_XDR_READER_INIT(bad, 8);
    g_autofree char *s = NULL;
    g_autoptr(GError) err = NULL;

    g_assert_false(vh_xdr_get_string(&r, 0, &s, &err));
    assert_rpc_error(err, "padding");

    const guint8 nul[8] = {0, 0, 0, 3, 'a', 0, 'b', 0};
    VhXdrReader rn = VH_XDR_READER_INIT(nul, 8);
    g_clear_error(&err);
    g_assert_false(vh_xdr_get_string(&rn, 0, &s, &err));
    assert_rpc_error(err, "NUL");
}

static void test_bool(void)
{
    const guint8 two[4] = {0, 0, 0, 2};
    VhXdrReader r = VH_XDR_READER_INIT(two, 4);
    bool b;
    g_autoptr(GError) err = NULL;

    g_assert_false(vh_xdr_get_bool(&r, &b, &err));
    assert_rpc_error(err, "boolean");
}

static void test_string_limit(void)
{
    /* a length word of 4 MiB + 1 is refused before anything is read */
    g_autoptr(GByteArray) b = g_byte_array_new();
    vh_xdr_put_u32(b, VH_XDR_STRING_MAX + 1);
    VhXdrReader r = VH_XDR_READER_INIT(b->data, b->len);
    g_autofree char *s = NULL;
    g_autoptr(GError) err = NULL;

    g_assert_false(vh_xdr_get_string(&r, 0, &s, &err));
    assert_rpc_error(err, "limit");

    /* exactly 4 MiB is fine */
    g_autoptr(GByteArray) big = g_byte_array_new();
    g_autofree char *text = g_malloc(VH_XDR_STRING_MAX + 1);
    memset(text, 'x', VH_XDR_STRING_MAX);
    text[VH_XDR_STRING_MAX] = 0;
    vh_xdr_put_string(big, text);
    VhXdrReader rb = VH_XDR_READER_INIT(big->data, big->len);
    g_autofree char *got = NULL;
    g_clear_error(&err);
    g_assert_true(vh_xdr_get_string(&rb, 0, &got, &err));
    g_assert_cmpuint(strlen(got), ==, VH_XDR_STRING_MAX);

    /* a per-field max */
    VhXdrReader rm = VH_XDR_READER_INIT(big->data, big->len);
    g_assert_false(vh_xdr_get_string(&rm, 16, &s, &err));
    assert_rpc_error(err, "limit");
}

static void test_count(void)
{
    g_autoptr(GByteArray) b = g_byte_array_new();
    guint32 n;
    g_autoptr(GError) err = NULL;

    vh_xdr_put_u32(b, VH_REMOTE_DOMAIN_LIST_MAX + 1);
    VhXdrReader r = VH_XDR_READER_INIT(b->data, b->len);
    g_assert_false(
        vh_xdr_get_count(&r, VH_REMOTE_DOMAIN_LIST_MAX, 4, &n, &err));
    assert_rpc_error(err, "limit");

    /* a count the remaining bytes cannot hold */
    g_byte_array_set_size(b, 0);
    vh_xdr_put_u32(b, 100);
    vh_xdr_put_u32(b, 1);
    VhXdrReader r2 = VH_XDR_READER_INIT(b->data, b->len);
    g_clear_error(&err);
    g_assert_false(
        vh_xdr_get_count(&r2, VH_REMOTE_DOMAIN_LIST_MAX, 4, &n, &err));
    assert_rpc_error(err, "truncated");
}

static void test_opaque_limit(void)
{
    g_autoptr(GByteArray) b = g_byte_array_new();
    g_autofree guint8 *d = NULL;
    guint32 len;
    g_autoptr(GError) err = NULL;

    vh_xdr_put_opaque(b, "0123456789", 10);
    VhXdrReader r = VH_XDR_READER_INIT(b->data, b->len);
    g_assert_false(vh_xdr_get_opaque(&r, 8, &d, &len, &err));
    assert_rpc_error(err, "limit");
}

/* An empty opaque as the last field: nothing past the buffer is read
 * (the buffer is exactly the 4-byte length, so ASan sees any overread). */
static void test_opaque_empty_at_end(void)
{
    g_autoptr(GByteArray) b = g_byte_array_new();
    g_autofree guint8 *d = NULL;
    guint32 len = 99;
    g_autoptr(GError) err = NULL;

    vh_xdr_put_opaque(b, NULL, 0);
    g_assert_cmpuint(b->len, ==, 4);
    g_autofree guint8 *exact = g_memdup2(b->data, b->len);
    VhXdrReader r = VH_XDR_READER_INIT(exact, 4);
    g_assert_true(vh_xdr_get_opaque(&r, 8, &d, &len, &err));
    g_assert_no_error(err);
    g_assert_cmpuint(len, ==, 0);
    g_assert_nonnull(d);
    g_assert_true(vh_xdr_end(&r, &err));
}

static void test_framing(void)
{
    guint8 w[4];
    guint32 len;
    g_autoptr(GError) err = NULL;

    guint32 be = GUINT32_TO_BE(VH_RPC_PACKET_MAX + 1);
    memcpy(w, &be, 4);
    g_assert_false(vh_rpc_packet_check_length(w, &len, &err));
    assert_rpc_error(err, "maximum");
    g_clear_error(&err);

    be = GUINT32_TO_BE(VH_RPC_PACKET_MIN - 1);
    memcpy(w, &be, 4);
    g_assert_false(vh_rpc_packet_check_length(w, &len, &err));
    assert_rpc_error(err, "header");
    g_clear_error(&err);

    be = GUINT32_TO_BE(VH_RPC_PACKET_MIN);
    memcpy(w, &be, 4);
    g_assert_true(vh_rpc_packet_check_length(w, &len, &err));
    g_assert_cmpuint(len, ==, 28);
}

static void test_header(void)
{
    VhRpcHeader h = {VH_REMOTE_PROGRAM, 1, 23, VH_RPC_CALL, 7, VH_RPC_OK};
    g_autoptr(GByteArray) p = vh_rpc_packet_new(&h);
    g_autoptr(GError) err = NULL;
    VhRpcHeader got;

    vh_xdr_put_string(p, "vm1");
    vh_rpc_packet_finish(p);
    g_assert_cmpuint(p->len, ==, 28 + 8);
    g_assert_cmpmem(p->data, 8, "\0\0\0\x24\x20\x00\x80\x86", 8);

    VhXdrReader r = VH_XDR_READER_INIT(p->data, p->len);
    g_assert_true(vh_rpc_packet_decode_header(&r, &got, &err));
    g_assert_cmpmem(&got, sizeof(got), &h, sizeof(h));
    g_assert_cmpuint(r.pos, ==, 28);

    /* the length word must match what was received */
    VhXdrReader rs = VH_XDR_READER_INIT(p->data, p->len - 4);
    g_assert_false(vh_rpc_packet_decode_header(&rs, &got, &err));
    assert_rpc_error(err, "does not match");
}

static void test_error_struct(void)
{
    g_autoptr(GByteArray) b = g_byte_array_new();
    g_autoptr(GError) in = g_error_new(VH_VIR_ERROR, VH_VIR_ERR_NO_DOMAIN,
                                       "Domain not found: vm9");
    g_autoptr(GError) other =
        g_error_new(G_FILE_ERROR, G_FILE_ERROR_FAILED, "boom");
    g_autoptr(GError) err = NULL;
    VhRpcError e = {0};

    vh_rpc_error_encode(b, in, VH_VIR_FROM_REMOTE);
    VhXdrReader r = VH_XDR_READER_INIT(b->data, b->len);
    g_assert_true(vh_rpc_error_decode(&r, &e, &err));
    g_assert_true(vh_xdr_end(&r, &err));
    g_assert_cmpint(e.code, ==, VH_VIR_ERR_NO_DOMAIN);
    g_assert_cmpint(e.domain, ==, VH_VIR_FROM_REMOTE);
    g_assert_cmpint(e.level, ==, 2);
    g_assert_cmpstr(e.message, ==, "Domain not found: vm9");
    g_autoptr(GError) back = vh_rpc_error_to_gerror(&e);
    g_assert_error(back, VH_VIR_ERROR, VH_VIR_ERR_NO_DOMAIN);
    vh_rpc_error_clear(&e);

    /* a non-libvirt error becomes INTERNAL_ERROR */
    g_byte_array_set_size(b, 0);
    vh_rpc_error_encode(b, other, VH_VIR_FROM_RPC);
    VhXdrReader r2 = VH_XDR_READER_INIT(b->data, b->len);
    g_assert_true(vh_rpc_error_decode(&r2, &e, &err));
    g_assert_cmpint(e.code, ==, VH_VIR_ERR_INTERNAL_ERROR);
    g_assert_cmpstr(e.message, ==, "boom");
    vh_rpc_error_clear(&e);

    /* every truncation of the struct is an error, never a crash */
    g_byte_array_set_size(b, 0);
    vh_rpc_error_encode(b, in, VH_VIR_FROM_REMOTE);
    for (guint n = 0; n < b->len; n++) {
        VhXdrReader rt = VH_XDR_READER_INIT(b->data, n);
        g_clear_error(&err);
        g_assert_false(vh_rpc_error_decode(&rt, &e, &err));
        g_assert_nonnull(err);
    }
}

static void test_domain(void)
{
    g_autoptr(GByteArray) b = g_byte_array_new();
    guint8 uuid[16] = {0xaa}, got[16];
    g_autofree char *name = NULL;
    gint32 id;
    g_autoptr(GError) err = NULL;

    vh_remote_put_domain(b, "vm1", uuid, -1);
    g_assert_cmpuint(b->len, ==, 8 + 16 + 4);
    VhXdrReader r = VH_XDR_READER_INIT(b->data, b->len);
    g_assert_true(vh_remote_get_domain(&r, &name, got, &id, &err));
    g_assert_cmpstr(name, ==, "vm1");
    g_assert_cmpmem(got, 16, uuid, 16);
    g_assert_cmpint(id, ==, -1);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/rpc/xdr/roundtrip", test_roundtrip);
    g_test_add_func("/rpc/xdr/truncated", test_truncated);
    g_test_add_func("/rpc/xdr/trailing", test_trailing);
    g_test_add_func("/rpc/xdr/padding", test_padding);
    g_test_add_func("/rpc/xdr/bool", test_bool);
    g_test_add_func("/rpc/xdr/string-limit", test_string_limit);
    g_test_add_func("/rpc/xdr/array-count", test_count);
    g_test_add_func("/rpc/xdr/opaque-limit", test_opaque_limit);
    g_test_add_func("/rpc/xdr/opaque-empty-at-end", test_opaque_empty_at_end);
    g_test_add_func("/rpc/packet/framing", test_framing);
    g_test_add_func("/rpc/packet/header", test_header);
    g_test_add_func("/rpc/packet/error", test_error_struct);
    g_test_add_func("/rpc/remote/domain", test_domain);
    return g_test_run();
}
