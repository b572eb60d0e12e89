/*
 * Tests for vh_file_read_regular(), vh_file_open() and vh_text_check_nul()
 * (lib/util/file.c): every kind of path an operator can name.
 */
#include "vmhost/util/file.h"

#include <fcntl.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    char *dir;
} Fixture;

static void fixture_setup(Fixture *f, gconstpointer data)
{
    f->dir = g_dir_make_tmp("vh-file-XXXXXX", NULL);
    g_assert_nonnull(f->dir);
}

static void fixture_teardown(Fixture *f, gconstpointer data)
{
    g_autoptr(GDir) d = g_dir_open(f->dir, 0, NULL);
    const char *n;

    while (d && (n = g_dir_read_name(d))) {
        g_autofree char *p = g_build_filename(f->dir, n, NULL);
        g_assert_cmpint(g_remove(p), ==, 0);
    }
    g_assert_cmpint(g_rmdir(f->dir), ==, 0);
    g_free(f->dir);
}

static char *make_file(Fixture *f, const char *name, const char *data,
                       gssize len)
{
    char *p = g_build_filename(f->dir, name, NULL);

    g_assert_true(g_file_set_contents(p, data, len, NULL));
    return p;
}

/* Reading @path must fail with @code and a message containing @text. */
static void assert_refused(const char *path, gsize max, VhFileReadFlags flags,
                           int code, const char *text)
{
    g_autoptr(GError) err = NULL;
    char *contents = (char *)"untouched";
    gsize len = 99;

    g_assert_false(
        vh_file_read_regular(path, max, flags, &contents, &len, &err));
    g_assert_null(contents);
    g_assert_error(err, G_IO_ERROR, code);
    g_assert_nonnull(strstr(err->message, path));
    if (!strstr(err->message, text)) {
        g_error("'%s' lacks '%s'", err->message, text);
    }
}

static void test_regular(Fixture *f, gconstpointer data)
{
    g_autofree char *p = make_file(f, "a.txt", "line1\nline2\n", -1);
    g_autofree char *contents = NULL;
    g_autoptr(GError) err = NULL;
    gsize len = 0;

    g_assert_true(vh_file_read_regular(p, 1024, VH_FILE_READ_TEXT, &contents,
                                       &len, &err));
    g_assert_no_error(err);
    g_assert_cmpuint(len, ==, 12);
    g_assert_cmpstr(contents, ==, "line1\nline2\n");
}

static void test_binary_nul(Fixture *f, gconstpointer data)
{
    g_autofree char *p = make_file(f, "b.bin", "a\0b", 3);
    g_autofree char *contents = NULL;
    gsize len = 0;

    g_assert_true(vh_file_read_regular(p, 1024, VH_FILE_READ_BINARY, &contents,
                                       &len, NULL));
    g_assert_cmpuint(len, ==, 3);
    g_assert_cmpmem(contents, 4, "a\0b\0", 4);
}

static void test_text_nul(Fixture *f, gconstpointer data)
{
    g_autofree char *p =
        make_file(f, "t.conf", "ok\nVMHOST=NORMAL\0junk\n", 22);
    g_autofree char *where = g_strdup_printf("%s:2: a NUL byte", p);

    assert_refused(p, 1024, VH_FILE_READ_TEXT, G_IO_ERROR_INVALID_DATA, where);
}

static void test_fifo(Fixture *f, gconstpointer data)
{
    g_autofree char *p = g_build_filename(f->dir, "ca-cert.pem", NULL);
    gint64 t0;

    g_assert_cmpint(mkfifo(p, 0600), ==, 0);
    t0 = g_get_monotonic_time();
    assert_refused(p, 1024, VH_FILE_READ_TEXT, G_IO_ERROR_NOT_REGULAR_FILE,
                   ": not a regular file (a FIFO)");
    /* at once: no wait for a writer */
    g_assert_cmpint(g_get_monotonic_time() - t0, <, G_USEC_PER_SEC);
}

static void test_directory(Fixture *f, gconstpointer data)
{
    assert_refused(f->dir, 1024, 0, G_IO_ERROR_IS_DIRECTORY,
                   ": not a regular file (a directory)");
}

static void test_char_device(Fixture *f, gconstpointer data)
{
    assert_refused("/dev/zero", 1024, 0, G_IO_ERROR_NOT_REGULAR_FILE,
                   "/dev/zero: not a regular file (a character device)");
}

static void test_dev_null(Fixture *f, gconstpointer data)
{
    g_autofree char *contents = NULL;
    gsize len = 99;

    /* "no file": reads as empty */
    g_assert_true(vh_file_read_regular("/dev/null", 1024, VH_FILE_READ_TEXT,
                                       &contents, &len, NULL));
    g_assert_cmpuint(len, ==, 0);
    g_assert_cmpstr(contents, ==, "");
}

static void test_oversize(Fixture *f, gconstpointer data)
{
    g_autofree char *p = make_file(f, "big", "0123456789", -1);
    g_autofree char *contents = NULL;

    assert_refused(p, 9, 0, G_IO_ERROR_MESSAGE_TOO_LARGE,
                   ": larger than the limit of 9 bytes");
    g_assert_true(vh_file_read_regular(p, 10, 0, &contents, NULL, NULL));
}

static void test_missing(Fixture *f, gconstpointer data)
{
    g_autofree char *p = g_build_filename(f->dir, "nope", NULL);

    assert_refused(p, 1024, 0, G_IO_ERROR_NOT_FOUND,
                   ": No such file or directory");
}

static void test_unreadable(Fixture *f, gconstpointer data)
{
    g_autofree char *p = make_file(f, "secret", "x", -1);

    if (geteuid() == 0) {
        g_test_skip("root reads any file");
        return;
    }
    g_assert_cmpint(g_chmod(p, 0), ==, 0);
    assert_refused(p, 1024, 0, G_IO_ERROR_PERMISSION_DENIED,
                   ": Permission denied");
}

static void test_check_nul(void)
{
    g_autoptr(GError) err = NULL;

    g_assert_true(vh_text_check_nul("opt", "abc", 3, NULL));
    g_assert_false(vh_text_check_nul("opt", "a\nb\n\0c", 6, &err));
    g_assert_error(err, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
    g_assert_true(g_str_has_prefix(err->message, "opt:3: a NUL byte"));
}

/* ---- vh_file_open() ---- */

/* Opening @path must fail at once with @code and a message with @text. */
static void assert_open_refused(const char *path, int oflags,
                                VhFileOpenFlags flags, int code,
                                const char *text)
{
    g_autoptr(GError) err = NULL;
    gint64 t0 = g_get_monotonic_time();

    g_assert_cmpint(vh_file_open(path, oflags, 0600, flags, &err), ==, -1);
    g_assert_cmpint(g_get_monotonic_time() - t0, <, G_USEC_PER_SEC);
    g_assert_error(err, G_IO_ERROR, code);
    g_assert_nonnull(strstr(err->message, path));
    if (!strstr(err->message, text)) {
        g_error("'%s' lacks '%s'", err->message, text);
    }
}

static void assert_open_ok(const char *path, int oflags, VhFileOpenFlags flags)
{
    g_autoptr(GError) err = NULL;
    int fd = vh_file_open(path, oflags, 0600, flags, &err);

    g_assert_no_error(err);
    g_assert_cmpint(fd, >=, 0);
    /* blocking and close-on-exec */
    g_assert_cmpint(fcntl(fd, F_GETFL) & O_NONBLOCK, ==, 0);
    g_assert_cmpint(fcntl(fd, F_GETFD) & FD_CLOEXEC, ==, FD_CLOEXEC);
    close(fd);
}

static void test_open_regular(Fixture *f, gconstpointer data)
{
    g_autofree char *p = make_file(f, "mig", "x", 1);
    g_autofree char *n = g_build_filename(f->dir, "new", NULL);

    assert_open_ok(p, O_RDONLY, VH_FILE_OPEN_REGULAR);
    assert_open_ok(n, O_WRONLY | O_CREAT, VH_FILE_OPEN_REGULAR);
    g_assert_true(g_file_test(n, G_FILE_TEST_IS_REGULAR));
    assert_open_ok(n, O_WRONLY | O_APPEND, VH_FILE_OPEN_STREAMS);
    assert_open_refused(f->dir, O_RDONLY, VH_FILE_OPEN_REGULAR,
                        G_IO_ERROR_IS_DIRECTORY, "(a directory)");
    assert_open_refused("/dev/zero", O_RDONLY, VH_FILE_OPEN_REGULAR,
                        G_IO_ERROR_NOT_REGULAR_FILE, "(a character device)");
}

/* A FIFO: refused for reading and writing, never waited on. */
static void test_open_fifo(Fixture *f, gconstpointer data)
{
    g_autofree char *p = g_build_filename(f->dir, "fifo", NULL);

    g_assert_cmpint(mkfifo(p, 0600), ==, 0);
    assert_open_refused(p, O_RDONLY, VH_FILE_OPEN_REGULAR,
                        G_IO_ERROR_NOT_REGULAR_FILE,
                        ": not a regular file (a FIFO)");
    assert_open_refused(p, O_WRONLY | O_CREAT, VH_FILE_OPEN_REGULAR,
                        G_IO_ERROR_NOT_REGULAR_FILE,
                        ": not a regular file (a FIFO)");
    /* a log may go to a FIFO that has a reader, never wait for one */
    assert_open_refused(p, O_WRONLY | O_APPEND | O_CREAT, VH_FILE_OPEN_STREAMS,
                        G_IO_ERROR_NOT_CONNECTED, ": a FIFO with no reader");
    {
        int rfd = open(p, O_RDONLY | O_NONBLOCK);
        g_assert_cmpint(rfd, >=, 0);
        assert_open_ok(p, O_WRONLY | O_APPEND | O_CREAT, VH_FILE_OPEN_STREAMS);
        close(rfd);
    }
}

static void test_open_streams(Fixture *f, gconstpointer data)
{
    assert_open_ok("/dev/null", O_WRONLY | O_APPEND | O_CREAT,
                   VH_FILE_OPEN_STREAMS);
    assert_open_ok("/dev/zero", O_WRONLY | O_APPEND, VH_FILE_OPEN_STREAMS);
    assert_open_refused(f->dir, O_WRONLY | O_APPEND, VH_FILE_OPEN_STREAMS,
                        G_IO_ERROR_IS_DIRECTORY, "");
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
#define ADD(path, fn)                                                          \
    g_test_add("/util/file/" path, Fixture, NULL, fixture_setup, fn,           \
               fixture_teardown)
    ADD("regular", test_regular);
    ADD("binary-nul", test_binary_nul);
    ADD("text-nul", test_text_nul);
    ADD("fifo", test_fifo);
    ADD("directory", test_directory);
    ADD("char-device", test_char_device);
    ADD("dev-null", test_dev_null);
    ADD("oversize", test_oversize);
    ADD("missing", test_missing);
    ADD("unreadable", test_unreadable);
    ADD("open/regular", test_open_regular);
    ADD("open/fifo", test_open_fifo);
    ADD("open/streams", test_open_streams);
#undef ADD
    g_test_add_func("/util/file/check-nul", test_check_nul);
    return g_test_run();
}
