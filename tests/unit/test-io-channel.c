/* Tests for the VhChannel base class (lib/io/channel.c). */
#include "vmhost/io/channel-buffer.h"
#include "vmhost/io/channel-null.h"
#include "vmhost/io/channel-socket.h"

#include <string.h>
#include <unistd.h>

static void test_features(void)
{
    g_autoptr(VhChannelBuffer) b = vh_channel_buffer_new(0);
    g_autoptr(VhChannelNull) n = vh_channel_null_new();
    VhChannel *ioc = VH_CHANNEL(n);

    g_assert_true(
        vh_channel_has_feature(VH_CHANNEL(b), VH_CHANNEL_FEATURE_SEEK));
    g_assert_false(vh_channel_has_feature(ioc, VH_CHANNEL_FEATURE_SEEK));
    vh_channel_set_feature(ioc, VH_CHANNEL_FEATURE_SHUTDOWN);
    g_assert_true(vh_channel_has_feature(ioc, VH_CHANNEL_FEATURE_SHUTDOWN));
    /* has_feature with several bits wants all of them. */
    g_assert_false(vh_channel_has_feature(ioc, VH_CHANNEL_FEATURE_SHUTDOWN |
                                                   VH_CHANNEL_FEATURE_SEEK));
}

static void test_name(void)
{
    g_autoptr(VhChannelBuffer) b = vh_channel_buffer_new(0);
    VhChannel *ioc = VH_CHANNEL(b);
    g_autoptr(GError) err = NULL;
    char c;

    g_assert_cmpstr(vh_channel_get_name(ioc), ==, "VhChannelBuffer");
    vh_channel_set_name(ioc, "chardev s0");
    g_assert_cmpstr(vh_channel_get_name(ioc), ==, "chardev s0");
    g_assert_true(vh_channel_close(ioc, &err));
    g_assert_cmpint(vh_channel_read(ioc, &c, 1, &err), ==, -1);
    g_assert_error(err, G_IO_ERROR, G_IO_ERROR_CLOSED);
    g_assert_cmpstr(err->message, ==, "chardev s0 is closed");
}

static void assert_closed(GError **err)
{
    g_assert_error(*err, G_IO_ERROR, G_IO_ERROR_CLOSED);
    g_clear_error(err);
}

static void test_closed(void)
{
    g_autoptr(VhChannelBuffer) b = vh_channel_buffer_new(0);
    VhChannel *ioc = VH_CHANNEL(b);
    g_autoptr(GError) err = NULL;
    struct iovec iov = {.iov_base = "x", .iov_len = 1};
    char buf[4];

    g_assert_false(vh_channel_is_closed(ioc));
    g_assert_true(vh_channel_close(ioc, &err));
    g_assert_true(vh_channel_is_closed(ioc));
    g_assert_true(vh_channel_close(ioc, &err));
    g_assert_no_error(err);

    g_assert_cmpint(vh_channel_readv(ioc, &iov, 1, &err), ==, -1);
    assert_closed(&err);
    g_assert_cmpint(vh_channel_writev(ioc, &iov, 1, &err), ==, -1);
    assert_closed(&err);
    g_assert_cmpint(vh_channel_read_all_eof(ioc, buf, 4, &err), ==, -1);
    assert_closed(&err);
    g_assert_false(vh_channel_read_all(ioc, buf, 4, &err));
    assert_closed(&err);
    g_assert_false(vh_channel_write_all(ioc, "abcd", 4, &err));
    assert_closed(&err);
    g_assert_false(vh_channel_set_blocking(ioc, false, &err));
    assert_closed(&err);
    g_assert_true(vh_channel_get_blocking(ioc));
    g_assert_cmpint(vh_channel_seek(ioc, 0, SEEK_SET, &err), ==, -1);
    assert_closed(&err);
    /* Cork and delay on a closed channel are silently ignored. */
    vh_channel_set_cork(ioc, true);
    vh_channel_set_delay(ioc, true);
}

static void test_shutdown_closed(void)
{
    g_autoptr(VhChannelSocket) a = NULL;
    g_autoptr(VhChannelSocket) b = NULL;
    g_autoptr(GError) err = NULL;

    g_assert_true(vh_channel_socket_pair(&a, &b, &err));
    g_assert_true(vh_channel_close(VH_CHANNEL(a), &err));
    g_assert_false(
        vh_channel_shutdown(VH_CHANNEL(a), VH_CHANNEL_SHUTDOWN_BOTH, &err));
    assert_closed(&err);
}

static VhChannel *buffer_with(const char *text)
{
    VhChannelBuffer *b = vh_channel_buffer_new(0);
    g_autoptr(GError) err = NULL;

    g_assert_true(
        vh_channel_write_all(VH_CHANNEL(b), text, strlen(text), &err));
    g_assert_cmpint(vh_channel_seek(VH_CHANNEL(b), 0, SEEK_SET, &err), ==, 0);
    g_assert_no_error(err);
    return VH_CHANNEL(b);
}

static void test_read_all_eof(void)
{
    g_autoptr(VhChannel) ioc = buffer_with("abc");
    g_autoptr(GError) err = NULL;
    char buf[8] = {0};

    /* EOF part-way: an error that says how far it got. */
    g_assert_cmpint(vh_channel_read_all_eof(ioc, buf, 5, &err), ==, -1);
    g_assert_error(err, G_IO_ERROR, G_IO_ERROR_PARTIAL_INPUT);
    g_assert_nonnull(strstr(err->message, "after 3 of 5 bytes"));
    g_clear_error(&err);

    /* EOF before the first byte: 0, no error. */
    g_assert_cmpint(vh_channel_read_all_eof(ioc, buf, 5, &err), ==, 0);
    g_assert_no_error(err);
    /* ... but an error for read_all. */
    g_assert_false(vh_channel_read_all(ioc, buf, 5, &err));
    g_assert_error(err, G_IO_ERROR, G_IO_ERROR_PARTIAL_INPUT);
    g_clear_error(&err);

    /* Reading nothing succeeds at once. */
    g_assert_cmpint(vh_channel_read_all_eof(ioc, buf, 0, &err), ==, 1);
    g_assert_true(vh_channel_readv_all(ioc, NULL, 0, &err));
    g_assert_no_error(err);
}

static void test_readv_all_split(void)
{
    g_autoptr(VhChannel) ioc = buffer_with("0123456789");
    g_autoptr(GError) err = NULL;
    char a[4] = {0}, b[1] = {0}, c[7] = {0};
    struct iovec iov[4] = {{a, 3}, {b, 0}, {c, 6}, {b, 1}};

    g_assert_cmpint(vh_channel_readv_all_eof(ioc, iov, 4, &err), ==, 1);
    g_assert_no_error(err);
    g_assert_cmpstr(a, ==, "012");
    g_assert_cmpstr(c, ==, "345678");
    g_assert_cmpint(b[0], ==, '9');
    /* The caller's iovec array is left untouched. */
    g_assert_true(iov[0].iov_base == a && iov[0].iov_len == 3);
    g_assert_true(iov[2].iov_base == c && iov[2].iov_len == 6);
}

static void test_fd_pass_unsupported(void)
{
    g_autoptr(VhChannel) ioc = buffer_with("abc");
    g_autoptr(GError) err = NULL;
    int *fds = (int *)0x1;
    size_t nfds = 7;
    int fd = 0;
    char c;
    struct iovec iov = {.iov_base = &c, .iov_len = 1};

    g_assert_cmpint(vh_channel_readv_full(ioc, &iov, 1, &fds, &nfds, &err), ==,
                    -1);
    g_assert_error(err, VH_ERROR, VH_ERROR_NOT_SUPPORTED);
    g_assert_null(fds);
    g_assert_cmpuint(nfds, ==, 0);
    g_clear_error(&err);
    g_assert_false(vh_channel_writev_full_all(ioc, &iov, 1, &fd, 1, &err));
    g_assert_error(err, VH_ERROR, VH_ERROR_NOT_SUPPORTED);
    g_assert_nonnull(strstr(err->message, "file descriptor passing"));
}

/* More iovecs than IOV_MAX go out in several system calls. */
static void test_many_iovecs(void)
{
    g_autoptr(VhChannelSocket) a = NULL;
    g_autoptr(VhChannelSocket) b = NULL;
    g_autoptr(GError) err = NULL;
    enum { N = 3000 };
    g_autofree struct iovec *iov = g_new(struct iovec, N);
    g_autofree char *got = g_malloc0(N * 3);
    g_autofree char *want = g_malloc(N * 3);

    g_assert_true(vh_channel_socket_pair(&a, &b, &err));
    for (int i = 0; i < N; i++) {
        memcpy(want + i * 3, i % 2 ? "abc" : "xyz", 3);
        iov[i].iov_base = want + i * 3;
        iov[i].iov_len = 3;
    }
    g_assert_true(vh_channel_writev_all(VH_CHANNEL(a), iov, N, &err));
    g_assert_no_error(err);
    for (int i = 0; i < N; i++) {
        iov[i].iov_base = got + i * 3;
    }
    g_assert_true(vh_channel_readv_all(VH_CHANNEL(b), iov, N, &err));
    g_assert_no_error(err);
    g_assert_true(memcmp(got, want, N * 3) == 0);
}

static void test_unref_closes(void)
{
    VhChannelSocket *a = NULL;
    g_autoptr(VhChannelSocket) b = NULL;
    g_autoptr(GError) err = NULL;
    char c;

    g_assert_true(vh_channel_socket_pair(&a, &b, &err));
    g_object_unref(a);
    g_assert_cmpint(vh_channel_read(VH_CHANNEL(b), &c, 1, &err), ==, 0);
    g_assert_no_error(err);
}

static gboolean never_cb(VhChannel *ioc, GIOCondition cond, gpointer opaque)
{
    g_assert_not_reached();
    return G_SOURCE_REMOVE;
}

static void set_flag(gpointer opaque)
{
    *(bool *)opaque = true;
}

static void test_watch_notify(void)
{
    g_autoptr(VhChannelBuffer) b = vh_channel_buffer_new(0);
    g_autoptr(GMainContext) ctx = g_main_context_new();
    bool freed = false;

    guint id = vh_channel_add_watch(VH_CHANNEL(b), G_IO_IN, never_cb, &freed,
                                    set_flag, ctx);
    g_assert_false(g_main_context_iteration(ctx, FALSE));
    g_assert_false(freed);
    g_source_destroy(g_main_context_find_source_by_id(ctx, id));
    g_assert_true(freed);
}

static void test_wait(void)
{
    g_autoptr(VhChannelSocket) a = NULL;
    g_autoptr(VhChannelSocket) b = NULL;
    g_autoptr(GError) err = NULL;

    g_assert_true(vh_channel_socket_pair(&a, &b, &err));
    /* Ready at once: returns without blocking. */
    vh_channel_wait(VH_CHANNEL(a), G_IO_OUT);
    g_assert_true(vh_channel_write_all(VH_CHANNEL(a), "x", 1, &err));
    vh_channel_wait(VH_CHANNEL(b), G_IO_IN);
}

/*
 * A pair watch polls only the fds of the directions it watches: closing the
 * write side must not wake a read-only watch (with a dead fd in the poll set
 * it would spin on G_IO_NVAL).
 */
static void test_pair_watch_directions(void)
{
    g_autoptr(VhChannelNull) n = vh_channel_null_new();
    g_autoptr(GMainContext) ctx = g_main_context_new();
    int rp[2], wp[2];

    g_assert_cmpint(pipe(rp), ==, 0);
    g_assert_cmpint(pipe(wp), ==, 0);
    GSource *src =
        vh_channel_create_fd_pair_watch(VH_CHANNEL(n), rp[0], wp[1], G_IO_IN);
    g_source_set_callback(src, G_SOURCE_FUNC(never_cb), NULL, NULL);
    g_source_attach(src, ctx);
    close(wp[0]); /* the write side now reports an error */
    close(wp[1]);
    g_assert_false(g_main_context_iteration(ctx, FALSE));

    /* No fds at all: a source that never fires, not a crash. */
    GSource *none =
        vh_channel_create_fd_pair_watch(VH_CHANNEL(n), -1, -1, G_IO_IN);
    g_source_set_callback(none, G_SOURCE_FUNC(never_cb), NULL, NULL);
    g_source_attach(none, ctx);
    g_assert_false(g_main_context_iteration(ctx, FALSE));

    g_source_destroy(src);
    g_source_unref(src);
    g_source_destroy(none);
    g_source_unref(none);
    close(rp[0]);
    close(rp[1]);
}

/*
 * A channel that accepts nothing: writes return 0. The *_all helpers must
 * fail rather than spin.
 */
G_DECLARE_FINAL_TYPE(StuckChannel, stuck_channel, STUCK, CHANNEL, VhChannel)
struct _StuckChannel {
    VhChannel parent;
    unsigned writes;
};
G_DEFINE_TYPE(StuckChannel, stuck_channel, VH_TYPE_CHANNEL)

static gssize stuck_writev(VhChannel *ioc, const struct iovec *iov, size_t niov,
                           const int *fds, size_t nfds, GError **errp)
{
    STUCK_CHANNEL(ioc)->writes++;
    return 0;
}

static gssize stuck_readv(VhChannel *ioc, const struct iovec *iov, size_t niov,
                          int **fds, size_t *nfds, GError **errp)
{
    return 0;
}

static bool stuck_close(VhChannel *ioc, GError **errp)
{
    return true;
}

static bool stuck_set_blocking(VhChannel *ioc, bool enabled, GError **errp)
{
    return true;
}

static GSource *stuck_create_watch(VhChannel *ioc, GIOCondition cond)
{
    return g_idle_source_new();
}

static void stuck_channel_init(StuckChannel *s)
{
}

static void stuck_channel_class_init(StuckChannelClass *klass)
{
    VhChannelClass *cc = VH_CHANNEL_CLASS(klass);

    cc->readv = stuck_readv;
    cc->writev = stuck_writev;
    cc->close = stuck_close;
    cc->set_blocking = stuck_set_blocking;
    cc->create_watch = stuck_create_watch;
}

static void test_write_all_no_progress(void)
{
    g_autoptr(StuckChannel) ioc = g_object_new(stuck_channel_get_type(), NULL);
    g_autoptr(GError) err = NULL;

    vh_channel_set_name(VH_CHANNEL(ioc), "stuck");
    g_assert_false(vh_channel_write_all(VH_CHANNEL(ioc), "abc", 3, &err));
    g_assert_error(err, G_IO_ERROR, G_IO_ERROR_FAILED);
    g_assert_nonnull(strstr(err->message, "stuck"));
    g_assert_nonnull(strstr(err->message, "no progress"));
    g_assert_cmpuint(ioc->writes, ==, 1);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/io/channel/features", test_features);
    g_test_add_func("/io/channel/name", test_name);
    g_test_add_func("/io/channel/closed", test_closed);
    g_test_add_func("/io/channel/shutdown-closed", test_shutdown_closed);
    g_test_add_func("/io/channel/read-all-eof", test_read_all_eof);
    g_test_add_func("/io/channel/readv-all-split", test_readv_all_split);
    g_test_add_func("/io/channel/fd-pass-unsupported",
                    test_fd_pass_unsupported);
    g_test_add_func("/io/channel/many-iovecs", test_many_iovecs);
    g_test_add_func("/io/channel/unref-closes", test_unref_closes);
    g_test_add_func("/io/channel/watch-notify", test_watch_notify);
    g_test_add_func("/io/channel/wait", test_wait);
    g_test_add_func("/io/channel/write-all-no-progress",
                    test_write_all_no_progress);
    g_test_add_func("/io/channel/pair-watch-directions",
                    test_pair_watch_directions);
    return g_test_run();
}
