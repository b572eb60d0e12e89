/* Tests for VhChannelFile (lib/io/channel-file.c). */
#include "channel-conformance.h"
#include "vmhost/io/channel-file.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

static bool factory_pipe(VhChannel **writer, VhChannel **reader,
                         gpointer opaque, GError **errp)
{
    int fds[2];

    if (pipe2(fds, O_CLOEXEC) < 0) {
        g_set_error(errp, G_IO_ERROR, g_io_error_from_errno(errno), "pipe: %s",
                    g_strerror(errno));
        return false;
    }
    *reader = VH_CHANNEL(vh_channel_file_new_fd(fds[0]));
    *writer = VH_CHANNEL(vh_channel_file_new_fd(fds[1]));
    return true;
}

typedef struct {
    char *dir;
    char *path;
} Fixture;

static void fixture_setup(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;

    f->dir = g_dir_make_tmp("vh-io-file-XXXXXX", &err);
    g_assert_no_error(err);
    f->path = g_build_filename(f->dir, "data", NULL);
}

static void fixture_teardown(Fixture *f, gconstpointer data)
{
    g_unlink(f->path);
    g_assert_cmpint(g_rmdir(f->dir), ==, 0);
    g_free(f->path);
    g_free(f->dir);
}

static VhChannel *open_or_die(const char *path, int flags)
{
    g_autoptr(GError) err = NULL;
    VhChannelFile *f = vh_channel_file_new_path(path, flags, 0600, &err);

    g_assert_no_error(err);
    g_assert_nonnull(f);
    return VH_CHANNEL(f);
}

static void test_seek(Fixture *f, gconstpointer data)
{
    g_autoptr(VhChannel) ioc = open_or_die(f->path, O_RDWR | O_CREAT);
    g_autoptr(GError) err = NULL;
    char buf[16] = {0};

    g_assert_true(vh_channel_has_feature(ioc, VH_CHANNEL_FEATURE_SEEK));
    g_assert_true(vh_channel_write_all(ioc, "0123456789", 10, &err));
    g_assert_no_error(err);
    g_assert_cmpint(vh_channel_seek(ioc, 2, SEEK_SET, &err), ==, 2);
    g_assert_true(vh_channel_read_all(ioc, buf, 3, &err));
    g_assert_cmpstr(buf, ==, "234");
    g_assert_cmpint(vh_channel_seek(ioc, -2, SEEK_END, &err), ==, 8);
    g_assert_cmpint(vh_channel_read(ioc, buf, sizeof(buf), &err), ==, 2);
    g_assert_cmpint(vh_channel_read(ioc, buf, sizeof(buf), &err), ==, 0);
    g_assert_cmpint(vh_channel_seek(ioc, 0, SEEK_CUR, &err), ==, 10);
    g_assert_no_error(err);

    /* A negative offset fails and names the path. */
    g_assert_cmpint(vh_channel_seek(ioc, -100, SEEK_SET, &err), ==, -1);
    g_assert_error(err, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
    g_assert_nonnull(strstr(err->message, f->path));
    g_clear_error(&err);

    g_assert_true(vh_channel_close(ioc, &err));
    g_assert_cmpint(vh_channel_seek(ioc, 0, SEEK_SET, &err), ==, -1);
    g_assert_error(err, G_IO_ERROR, G_IO_ERROR_CLOSED);
}

static void test_pipe_not_seekable(void)
{
    VhChannel *w, *r;
    g_autoptr(GError) err = NULL;

    g_assert_true(factory_pipe(&w, &r, NULL, &err));
    g_assert_false(vh_channel_has_feature(r, VH_CHANNEL_FEATURE_SEEK));
    g_assert_cmpint(vh_channel_seek(r, 0, SEEK_SET, &err), ==, -1);
    g_assert_error(err, VH_ERROR, VH_ERROR_NOT_SUPPORTED);
    g_object_unref(w);
    g_object_unref(r);
}

static void test_open_errors(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *missing = g_build_filename(f->dir, "missing", "x", NULL);
    g_autofree char *want = g_strdup_printf(
        "Failed to open %s: No such file or directory", missing);

    g_assert_null(vh_channel_file_new_path(missing, O_RDONLY, 0, &err));
    g_assert_error(err, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
    g_assert_cmpstr(err->message, ==, want);
    g_clear_error(&err);

    /* O_EXCL on an existing file. */
    g_assert_true(g_file_set_contents(f->path, "x", 1, NULL));
    g_assert_null(vh_channel_file_new_path(f->path, O_WRONLY | O_CREAT | O_EXCL,
                                           0600, &err));
    g_assert_error(err, G_IO_ERROR, G_IO_ERROR_EXISTS);
    g_assert_nonnull(strstr(err->message, f->path));
    g_clear_error(&err);

    /* A directory cannot be opened for writing. */
    g_assert_null(vh_channel_file_new_path(f->dir, O_WRONLY, 0, &err));
    g_assert_error(err, G_IO_ERROR, G_IO_ERROR_IS_DIRECTORY);
    g_assert_nonnull(strstr(err->message, f->dir));
}

/* I/O errors name the path too: writing to a read-only fd. */
static void test_io_errors(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;

    g_assert_true(g_file_set_contents(f->path, "abc", 3, NULL));
    g_autoptr(VhChannel) ro = open_or_die(f->path, O_RDONLY);
    g_assert_cmpint(vh_channel_write(ro, "x", 1, &err), ==, -1);
    g_assert_nonnull(err);
    g_assert_nonnull(strstr(err->message, f->path));
    g_assert_true(g_str_has_prefix(err->message, "Failed to write to file "));
    g_clear_error(&err);

    g_autoptr(VhChannel) wo = open_or_die(f->path, O_WRONLY);
    char c;
    g_assert_cmpint(vh_channel_read(wo, &c, 1, &err), ==, -1);
    g_assert_nonnull(err);
    g_assert_nonnull(strstr(err->message, f->path));
}

static void test_append(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *contents = NULL;
    gsize len;

    g_assert_true(g_file_set_contents(f->path, "first\n", -1, NULL));
    g_autoptr(VhChannel) a = open_or_die(f->path, O_WRONLY | O_APPEND);
    g_autoptr(VhChannel) b = open_or_die(f->path, O_WRONLY | O_APPEND);
    g_assert_true(vh_channel_write_all(a, "second\n", 7, &err));
    g_assert_true(vh_channel_write_all(b, "third\n", 6, &err));
    /* Seeking does not move appends. */
    g_assert_cmpint(vh_channel_seek(a, 0, SEEK_SET, &err), ==, 0);
    g_assert_true(vh_channel_write_all(a, "fourth\n", 7, &err));
    g_assert_no_error(err);
    g_assert_true(g_file_get_contents(f->path, &contents, &len, NULL));
    g_assert_cmpstr(contents, ==, "first\nsecond\nthird\nfourth\n");
}

static void test_vectored(Fixture *f, gconstpointer data)
{
    g_autoptr(VhChannel) ioc = open_or_die(f->path, O_RDWR | O_CREAT | O_TRUNC);
    g_autoptr(GError) err = NULL;
    struct iovec out[3] = {{"ab", 2}, {"", 0}, {"cde", 3}};
    char x[2] = {0}, y[4] = {0};
    struct iovec in[2] = {{x, 1}, {y, 4}};

    g_assert_cmpint(vh_channel_writev(ioc, out, 3, &err), ==, 5);
    g_assert_cmpint(vh_channel_seek(ioc, 0, SEEK_SET, &err), ==, 0);
    g_assert_cmpint(vh_channel_readv(ioc, in, 2, &err), ==, 5);
    g_assert_no_error(err);
    g_assert_cmpstr(x, ==, "a");
    g_assert_true(memcmp(y, "bcde", 4) == 0);
}

static gboolean count_cb(VhChannel *ioc, GIOCondition cond, gpointer opaque)
{
    GIOCondition *seen = opaque;

    *seen |= cond;
    return G_SOURCE_REMOVE;
}

/* A regular file's watch dispatches at once, even at EOF. */
static void test_regular_watch(Fixture *f, gconstpointer data)
{
    g_autoptr(VhChannel) ioc = open_or_die(f->path, O_RDWR | O_CREAT);
    g_autoptr(GMainContext) ctx = g_main_context_new();
    GIOCondition seen = 0;

    vh_channel_add_watch(ioc, G_IO_IN, count_cb, &seen, NULL, ctx);
    g_assert_true(g_main_context_iteration(ctx, FALSE));
    g_assert_cmpint(seen, ==, G_IO_IN);
    seen = 0;
    vh_channel_add_watch(ioc, G_IO_OUT, count_cb, &seen, NULL, ctx);
    g_assert_true(g_main_context_iteration(ctx, FALSE));
    g_assert_cmpint(seen, ==, G_IO_OUT);
    g_assert_false(g_main_context_iteration(ctx, FALSE));
}

static void test_broken_pipe(void)
{
    VhChannel *w, *r;
    g_autoptr(GError) err = NULL;

    g_assert_true(factory_pipe(&w, &r, NULL, &err));
    g_assert_true(vh_channel_close(r, &err));
    /* No SIGPIPE: the write fails with an error naming the fd. */
    g_assert_cmpint(vh_channel_write(w, "x", 1, &err), ==, -1);
    g_assert_error(err, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE);
    g_assert_nonnull(strstr(err->message, "fd "));
    g_object_unref(w);
    g_object_unref(r);
}

static void test_nonblocking_flag(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *fifo = g_build_filename(f->dir, "fifo", NULL);

    g_assert_cmpint(mkfifo(fifo, 0600), ==, 0);
    g_autoptr(VhChannel) r = open_or_die(fifo, O_RDONLY | O_NONBLOCK);
    g_autoptr(VhChannel) w = open_or_die(fifo, O_WRONLY);
    char c;

    g_assert_false(vh_channel_get_blocking(r));
    g_assert_true(vh_channel_get_blocking(w));
    g_assert_cmpint(vh_channel_read(r, &c, 1, &err), ==, VH_CHANNEL_ERR_BLOCK);
    g_assert_no_error(err);
    g_assert_cmpint(g_unlink(fifo), ==, 0);
}

#define ADD(path, fn)                                                          \
    g_test_add("/io/channel/file/" path, Fixture, NULL, fixture_setup, fn,     \
               fixture_teardown)

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    vh_channel_conformance_add("/io/channel/file/conformance/pipe",
                               factory_pipe, NULL, VH_CONFORMANCE_DEFAULT);
    ADD("seek", test_seek);
    ADD("open-errors", test_open_errors);
    ADD("io-errors", test_io_errors);
    ADD("append", test_append);
    ADD("vectored", test_vectored);
    ADD("regular-watch", test_regular_watch);
    ADD("nonblocking-flag", test_nonblocking_flag);
    g_test_add_func("/io/channel/file/pipe-not-seekable",
                    test_pipe_not_seekable);
    g_test_add_func("/io/channel/file/broken-pipe", test_broken_pipe);
    return g_test_run();
}
