/*
 * The VhChardev base and the simple backends: null, ringbuf, file, and the
 * logfile that sees output even while nothing is connected.
 */
#include "crypto-testutil.h"
#include "vmhost/chardev/char-file.h"
#include "vmhost/chardev/char-null.h"
#include "vmhost/chardev/char-ringbuf.h"
#include "vmhost/chardev/char-socket.h"

#include <string.h>

typedef struct {
    int opened, closed;
} Events;

static void on_event(void *opaque, VhChardevEvent ev)
{
    Events *e = opaque;

    if (ev == VH_CHARDEV_EVENT_OPENED) {
        e->opened++;
    } else {
        e->closed++;
    }
}

static void test_null(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(VhChardev) chr = vh_chardev_null_new("n0", NULL, &err);
    g_autofree char *desc = NULL;
    Events ev = {0};

    g_assert_no_error(err);
    g_assert_true(vh_chardev_is_connected(chr));
    g_assert_cmpstr(vh_chardev_get_id(chr), ==, "n0");
    g_assert_cmpint(vh_chardev_write(chr, "abc", 3, &err), ==, 3);
    desc = vh_chardev_describe(chr);
    g_assert_cmpstr(desc, ==, "null");

    /* a frontend attached to a connected chardev hears OPENED, later */
    vh_chardev_set_handlers(chr, NULL, NULL, on_event, &ev, NULL);
    g_assert_cmpint(ev.opened, ==, 0);
    while (g_main_context_iteration(NULL, FALSE)) {
    }
    g_assert_cmpint(ev.opened, ==, 1);

    vh_chardev_close(chr);
    g_assert_true(vh_chardev_is_closed(chr));
    g_assert_cmpint(vh_chardev_write(chr, "x", 1, &err), ==, -1);
    g_assert_error(err, G_IO_ERROR, G_IO_ERROR_CLOSED);
    g_assert_nonnull(strstr(err->message, "n0"));
}

static void test_bad_id(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(VhChardev) chr = vh_chardev_null_new("0bad", NULL, &err);

    g_assert_null(chr);
    g_assert_nonnull(err);
}

static char *rb_take(VhChardev *chr, size_t max)
{
    guint8 *out = NULL;
    size_t n = vh_chardev_ringbuf_read(VH_CHARDEV_RINGBUF(chr), max, &out);

    g_assert_cmpuint(strlen((char *)out), ==, n);
    return (char *)out;
}

static void test_ringbuf(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(VhChardev) chr = vh_chardev_ringbuf_new("rb0", 8, NULL, &err);
    VhChardevRingbuf *rb = VH_CHARDEV_RINGBUF(chr);
    g_autofree char *a = NULL, *b = NULL, *c = NULL, *d = NULL, *e = NULL;

    g_assert_no_error(err);
    g_assert_cmpuint(vh_chardev_ringbuf_size(rb), ==, 8);
    /* read returns up to N bytes and consumes them */
    g_assert_cmpint(vh_chardev_write(chr, "abcdef", 6, &err), ==, 6);
    a = rb_take(chr, 4);
    g_assert_cmpstr(a, ==, "abcd");
    /* wrap-around: positions 6..10 cross the end of the ring */
    vh_chardev_ringbuf_write(rb, "ghijk", 5);
    g_assert_cmpuint(vh_chardev_ringbuf_count(rb), ==, 7);
    b = rb_take(chr, 100);
    g_assert_cmpstr(b, ==, "efghijk");
    c = rb_take(chr, 100);
    g_assert_cmpstr(c, ==, "");
    /* overflow keeps the newest bytes */
    vh_chardev_ringbuf_write(rb, "0123456789", 10);
    g_assert_cmpuint(vh_chardev_ringbuf_count(rb), ==, 8);
    d = rb_take(chr, 3);
    g_assert_cmpstr(d, ==, "234");
    vh_chardev_ringbuf_write(rb, "ABCDEF", 6); /* 5 left + 6 > 8 */
    e = rb_take(chr, 100);
    g_assert_cmpstr(e, ==, "89ABCDEF");
}

static void test_ringbuf_size(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(VhChardev) chr = vh_chardev_ringbuf_new("rb1", 1000, NULL, &err);
    g_autoptr(VhChardev) def = NULL;

    g_assert_null(chr);
    g_assert_error(err, VH_ERROR, VH_ERROR_INVALID_ARGUMENT);
    g_assert_cmpstr(err->message, ==,
                    "chardev rb1: ringbuf size 1000 must be a power of two");
    g_clear_error(&err);
    def = vh_chardev_ringbuf_new("rb2", 0, NULL, &err);
    g_assert_no_error(err);
    g_assert_cmpuint(vh_chardev_ringbuf_size(VH_CHARDEV_RINGBUF(def)), ==,
                     VH_CHARDEV_RINGBUF_DEFAULT_SIZE);
}

static char *slurp(const char *path)
{
    char *text = NULL;

    g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
    return text;
}

static void test_file(void)
{
    g_autofree char *dir = vh_test_mkdtemp("vh-chardev-file");
    g_autofree char *path = g_build_filename(dir, "out.txt", NULL);
    g_autofree char *t1 = NULL, *t2 = NULL, *t3 = NULL, *desc = NULL;
    g_autoptr(GError) err = NULL;
    VhChardev *chr;

    chr = vh_chardev_file_new("f0", path, false, NULL, &err);
    g_assert_no_error(err);
    g_assert_cmpint(vh_chardev_write(chr, "one\n", 4, &err), ==, 4);
    desc = vh_chardev_describe(chr);
    g_assert_true(g_str_has_prefix(desc, "file:"));
    g_object_unref(chr);
    t1 = slurp(path);
    g_assert_cmpstr(t1, ==, "one\n");

    chr = vh_chardev_file_new("f0", path, true, NULL, &err);
    g_assert_no_error(err);
    g_assert_cmpint(vh_chardev_write(chr, "two\n", 4, &err), ==, 4);
    g_object_unref(chr);
    t2 = slurp(path);
    g_assert_cmpstr(t2, ==, "one\ntwo\n");

    chr = vh_chardev_file_new("f0", path, false, NULL, &err);
    g_assert_no_error(err);
    g_object_unref(chr);
    t3 = slurp(path);
    g_assert_cmpstr(t3, ==, "");

    chr = vh_chardev_file_new("f1", "/nonexistent/dir/x", false, NULL, &err);
    g_assert_null(chr);
    g_assert_nonnull(err);
    g_assert_true(g_str_has_prefix(err->message, "chardev f1: "));
    vh_test_rm_rf(dir);
}

static void test_logfile_disconnected(void)
{
    g_autofree char *dir = vh_test_mkdtemp("vh-chardev-log");
    g_autofree char *log = g_build_filename(dir, "log.txt", NULL);
    g_autofree char *text = NULL, *desc = NULL;
    g_autoptr(GError) err = NULL;
    VhChardevSocketOptions o = VH_CHARDEV_SOCKET_OPTIONS_INIT;
    VhChardev *chr;

    o.host = "127.0.0.1";
    o.port = "0";
    o.server = true;
    o.logfile = log;
    chr = vh_chardev_socket_new("s0", &o, NULL, &err);
    g_assert_no_error(err);
    g_assert_false(vh_chardev_is_connected(chr));
    desc = vh_chardev_describe(chr);
    g_assert_true(g_str_has_prefix(desc, "disconnected:tcp:127.0.0.1:"));
    g_assert_true(g_str_has_suffix(desc, ",server=on"));
    /* dropped, since nobody is connected, but logged */
    g_assert_cmpint(vh_chardev_write(chr, "lost\n", 5, &err), ==, 5);
    g_assert_cmpuint(vh_chardev_get_dropped(chr), ==, 5);
    g_object_unref(chr);
    text = slurp(log);
    g_assert_cmpstr(text, ==, "lost\n");

    /* logappend keeps what was there */
    o.logappend = true;
    chr = vh_chardev_socket_new("s0", &o, NULL, &err);
    g_assert_no_error(err);
    g_assert_cmpint(vh_chardev_write(chr, "more\n", 5, &err), ==, 5);
    g_object_unref(chr);
    g_free(text);
    text = slurp(log);
    g_assert_cmpstr(text, ==, "lost\nmore\n");

    /* a logfile that cannot be opened fails creation, naming the chardev */
    o.logfile = "/nonexistent/dir/log";
    chr = vh_chardev_socket_new("s1", &o, NULL, &err);
    g_assert_null(chr);
    g_assert_nonnull(err);
    g_assert_true(g_str_has_prefix(err->message, "chardev s1: logfile: "));
    vh_test_rm_rf(dir);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/chardev/null", test_null);
    g_test_add_func("/chardev/bad-id", test_bad_id);
    g_test_add_func("/chardev/ringbuf/semantics", test_ringbuf);
    g_test_add_func("/chardev/ringbuf/size", test_ringbuf_size);
    g_test_add_func("/chardev/file", test_file);
    g_test_add_func("/chardev/logfile-disconnected", test_logfile_disconnected);
    return g_test_run();
}
