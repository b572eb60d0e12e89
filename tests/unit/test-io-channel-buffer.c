/* Tests for VhChannelBuffer (lib/io/channel-buffer.c). */
#include "vmhost/io/channel-buffer.h"

#include <stdio.h>
#include <string.h>

static void test_write_read(void)
{
    g_autoptr(VhChannelBuffer) b = vh_channel_buffer_new(4);
    VhChannel *ioc = VH_CHANNEL(b);
    g_autoptr(GError) err = NULL;
    struct iovec out[3] = {{"hello", 5}, {"", 0}, {" world", 6}};
    char buf[32] = {0};
    size_t len;

    g_assert_null(vh_channel_buffer_get_data(b, &len));
    g_assert_cmpuint(len, ==, 0);
    g_assert_cmpint(vh_channel_writev(ioc, out, 3, &err), ==, 11);
    g_assert_no_error(err);
    const guint8 *data = vh_channel_buffer_get_data(b, &len);
    g_assert_cmpuint(len, ==, 11);
    g_assert_true(memcmp(data, "hello world", 11) == 0);

    /* The offset is at the end: EOF until we seek back. */
    g_assert_cmpint(vh_channel_read(ioc, buf, sizeof(buf), &err), ==, 0);
    g_assert_cmpint(vh_channel_seek(ioc, 0, SEEK_SET, &err), ==, 0);
    char a[3] = {0}, c[20] = {0};
    struct iovec in[2] = {{a, 2}, {c, sizeof(c) - 1}};
    g_assert_cmpint(vh_channel_readv(ioc, in, 2, &err), ==, 11);
    g_assert_cmpstr(a, ==, "he");
    g_assert_cmpstr(c, ==, "llo world");
    g_assert_cmpint(vh_channel_read(ioc, buf, sizeof(buf), &err), ==, 0);
    g_assert_no_error(err);
}

static void test_overwrite_and_hole(void)
{
    g_autoptr(VhChannelBuffer) b = vh_channel_buffer_new(0);
    VhChannel *ioc = VH_CHANNEL(b);
    g_autoptr(GError) err = NULL;
    size_t len;

    g_assert_true(vh_channel_write_all(ioc, "abcdef", 6, &err));
    g_assert_cmpint(vh_channel_seek(ioc, 2, SEEK_SET, &err), ==, 2);
    g_assert_true(vh_channel_write_all(ioc, "XY", 2, &err));
    const guint8 *data = vh_channel_buffer_get_data(b, &len);
    g_assert_cmpuint(len, ==, 6);
    g_assert_true(memcmp(data, "abXYef", 6) == 0);

    g_assert_cmpint(vh_channel_seek(ioc, 2, SEEK_END, &err), ==, 8);
    g_assert_true(vh_channel_write_all(ioc, "Z", 1, &err));
    data = vh_channel_buffer_get_data(b, &len);
    g_assert_cmpuint(len, ==, 9);
    g_assert_true(memcmp(data, "abXYef\0\0Z", 9) == 0);
    g_assert_cmpint(vh_channel_seek(ioc, -3, SEEK_CUR, &err), ==, 6);
    g_assert_no_error(err);
}

static void test_seek_errors(void)
{
    g_autoptr(VhChannelBuffer) b = vh_channel_buffer_new(0);
    VhChannel *ioc = VH_CHANNEL(b);
    g_autoptr(GError) err = NULL;

    g_assert_true(vh_channel_has_feature(ioc, VH_CHANNEL_FEATURE_SEEK));
    g_assert_cmpint(vh_channel_seek(ioc, -1, SEEK_SET, &err), ==, -1);
    g_assert_error(err, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
    g_clear_error(&err);
    g_assert_cmpint(vh_channel_seek(ioc, 0, 42, &err), ==, -1);
    g_assert_error(err, VH_ERROR, VH_ERROR_INVALID_ARGUMENT);
    g_clear_error(&err);
    g_assert_cmpint(vh_channel_seek(ioc, (off_t)G_MAXUINT + 1, SEEK_SET, &err),
                    ==, -1);
    g_assert_error(err, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
}

typedef struct {
    unsigned calls;
    GIOCondition cond;
} Count;

static gboolean count_cb(VhChannel *ioc, GIOCondition cond, gpointer opaque)
{
    Count *c = opaque;

    c->calls++;
    c->cond = cond;
    return G_SOURCE_REMOVE;
}

static void test_watch(void)
{
    g_autoptr(VhChannelBuffer) b = vh_channel_buffer_new(0);
    VhChannel *ioc = VH_CHANNEL(b);
    g_autoptr(GMainContext) ctx = g_main_context_new();
    g_autoptr(GError) err = NULL;
    Count in = {0}, out = {0};

    /* Nothing unread: G_IO_IN is not ready; G_IO_OUT always is. */
    guint id = vh_channel_add_watch(ioc, G_IO_IN, count_cb, &in, NULL, ctx);
    vh_channel_add_watch(ioc, G_IO_OUT, count_cb, &out, NULL, ctx);
    g_assert_true(g_main_context_iteration(ctx, FALSE));
    g_assert_false(g_main_context_iteration(ctx, FALSE));
    g_assert_cmpuint(out.calls, ==, 1);
    g_assert_cmpint(out.cond, ==, G_IO_OUT);
    g_assert_cmpuint(in.calls, ==, 0);

    /* Data behind the offset is not unread. */
    g_assert_true(vh_channel_write_all(ioc, "abc", 3, &err));
    g_assert_false(g_main_context_iteration(ctx, FALSE));
    g_assert_cmpuint(in.calls, ==, 0);
    g_assert_cmpint(vh_channel_seek(ioc, 1, SEEK_SET, &err), ==, 1);
    g_assert_true(g_main_context_iteration(ctx, FALSE));
    g_assert_cmpuint(in.calls, ==, 1);
    g_assert_cmpint(in.cond, ==, G_IO_IN);
    g_assert_null(g_main_context_find_source_by_id(ctx, id));
}

static void test_blocking_and_all(void)
{
    g_autoptr(VhChannelBuffer) b = vh_channel_buffer_new(0);
    VhChannel *ioc = VH_CHANNEL(b);
    g_autoptr(GError) err = NULL;
    char buf[8];

    g_assert_true(vh_channel_set_blocking(ioc, false, &err));
    g_assert_false(vh_channel_get_blocking(ioc));
    g_assert_true(vh_channel_write_all(ioc, "12345678", 8, &err));
    g_assert_cmpint(vh_channel_seek(ioc, 0, SEEK_SET, &err), ==, 0);
    g_assert_true(vh_channel_read_all(ioc, buf, 8, &err));
    g_assert_cmpint(vh_channel_read_all_eof(ioc, buf, 1, &err), ==, 0);
    g_assert_no_error(err);
    g_assert_false(vh_channel_has_feature(ioc, VH_CHANNEL_FEATURE_FD_PASS));
    g_assert_false(vh_channel_has_feature(ioc, VH_CHANNEL_FEATURE_SHUTDOWN));
}

static void test_closed(void)
{
    g_autoptr(VhChannelBuffer) b = vh_channel_buffer_new(0);
    VhChannel *ioc = VH_CHANNEL(b);
    g_autoptr(GError) err = NULL;
    size_t len = 99;
    char c;

    g_assert_true(vh_channel_write_all(ioc, "abc", 3, &err));
    g_assert_true(vh_channel_close(ioc, &err));
    g_assert_null(vh_channel_buffer_get_data(b, &len));
    g_assert_cmpuint(len, ==, 0);
    g_assert_cmpint(vh_channel_read(ioc, &c, 1, &err), ==, -1);
    g_assert_error(err, G_IO_ERROR, G_IO_ERROR_CLOSED);
    g_clear_error(&err);
    g_assert_cmpint(vh_channel_write(ioc, "x", 1, &err), ==, -1);
    g_assert_error(err, G_IO_ERROR, G_IO_ERROR_CLOSED);
    g_clear_error(&err);
    g_assert_cmpint(vh_channel_seek(ioc, 0, SEEK_SET, &err), ==, -1);
    g_assert_error(err, G_IO_ERROR, G_IO_ERROR_CLOSED);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/io/channel/buffer/write-read", test_write_read);
    g_test_add_func("/io/channel/buffer/overwrite-and-hole",
                    test_overwrite_and_hole);
    g_test_add_func("/io/channel/buffer/seek-errors", test_seek_errors);
    g_test_add_func("/io/channel/buffer/watch", test_watch);
    g_test_add_func("/io/channel/buffer/blocking-and-all",
                    test_blocking_and_all);
    g_test_add_func("/io/channel/buffer/closed", test_closed);
    return g_test_run();
}
