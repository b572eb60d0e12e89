/* Tests for VhChannelNull (lib/io/channel-null.c). */
#include "vmhost/io/channel-null.h"

static void test_io(void)
{
    g_autoptr(VhChannelNull) n = vh_channel_null_new();
    VhChannel *ioc = VH_CHANNEL(n);
    g_autoptr(GError) err = NULL;
    struct iovec out[2] = {{"abc", 3}, {"de", 2}};
    char buf[8];

    g_assert_cmpint(vh_channel_writev(ioc, out, 2, &err), ==, 5);
    g_assert_true(vh_channel_write_all(ioc, "xyz", 3, &err));
    g_assert_cmpint(vh_channel_read(ioc, buf, sizeof(buf), &err), ==, 0);
    g_assert_cmpint(vh_channel_read_all_eof(ioc, buf, 4, &err), ==, 0);
    g_assert_no_error(err);
    g_assert_false(vh_channel_read_all(ioc, buf, 4, &err));
    g_assert_error(err, G_IO_ERROR, G_IO_ERROR_PARTIAL_INPUT);
}

static void test_no_features(void)
{
    g_autoptr(VhChannelNull) n = vh_channel_null_new();
    VhChannel *ioc = VH_CHANNEL(n);
    g_autoptr(GError) err = NULL;

    g_assert_cmpint(vh_channel_seek(ioc, 0, SEEK_SET, &err), ==, -1);
    g_assert_error(err, VH_ERROR, VH_ERROR_NOT_SUPPORTED);
    g_clear_error(&err);
    g_assert_false(vh_channel_shutdown(ioc, VH_CHANNEL_SHUTDOWN_WRITE, &err));
    g_assert_error(err, VH_ERROR, VH_ERROR_NOT_SUPPORTED);
    /* No cork/delay: harmless. */
    vh_channel_set_cork(ioc, true);
    vh_channel_set_delay(ioc, false);
    g_assert_true(vh_channel_set_blocking(ioc, false, NULL));
}

static gboolean count_cb(VhChannel *ioc, GIOCondition cond, gpointer opaque)
{
    GIOCondition *seen = opaque;

    *seen |= cond;
    return G_SOURCE_CONTINUE;
}

static void test_watch(void)
{
    g_autoptr(VhChannelNull) n = vh_channel_null_new();
    g_autoptr(GMainContext) ctx = g_main_context_new();
    GIOCondition seen = 0;

    guint id = vh_channel_add_watch(VH_CHANNEL(n), G_IO_IN | G_IO_OUT, count_cb,
                                    &seen, NULL, ctx);
    g_assert_true(g_main_context_iteration(ctx, FALSE));
    g_assert_cmpint(seen, ==, G_IO_IN | G_IO_OUT);
    /* Always ready: it dispatches again on every iteration. */
    seen = 0;
    g_assert_true(g_main_context_iteration(ctx, FALSE));
    g_assert_cmpint(seen, ==, G_IO_IN | G_IO_OUT);
    g_source_destroy(g_main_context_find_source_by_id(ctx, id));
}

static void test_closed(void)
{
    g_autoptr(VhChannelNull) n = vh_channel_null_new();
    g_autoptr(GError) err = NULL;
    char c;

    g_assert_true(vh_channel_close(VH_CHANNEL(n), &err));
    g_assert_true(vh_channel_close(VH_CHANNEL(n), &err));
    g_assert_cmpint(vh_channel_read(VH_CHANNEL(n), &c, 1, &err), ==, -1);
    g_assert_error(err, G_IO_ERROR, G_IO_ERROR_CLOSED);
    g_clear_error(&err);
    g_assert_cmpint(vh_channel_write(VH_CHANNEL(n), "x", 1, &err), ==, -1);
    g_assert_error(err, G_IO_ERROR, G_IO_ERROR_CLOSED);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/io/channel/null/io", test_io);
    g_test_add_func("/io/channel/null/no-features", test_no_features);
    g_test_add_func("/io/channel/null/watch", test_watch);
    g_test_add_func("/io/channel/null/closed", test_closed);
    return g_test_run();
}
