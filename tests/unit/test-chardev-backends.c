/*
 * The fd backends (pty, pipe, stdio, serial) and mux=on, created through
 * the option glue as -chardev would, with their logfiles and errors.
 */
#include "chardev-testutil.h"
#include "vmhost/chardev/char-mux.h"
#include "vmhost/chardev/char-pty.h"
#include "vmhost/chardev/char-serial.h"
#include "vmhost/chardev/char-socket.h"
#include "vmhost/chardev/char-stdio.h"
#include "vmhost/chardev/chardev-opts.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

/* ---- helpers ---- */

typedef struct {
    GString *in;
    int opened, closed, mux_in, mux_out;
    size_t room; /* what can_read says */
} Fe;

static size_t fe_can_read(void *opaque)
{
    return ((Fe *)opaque)->room;
}

static void fe_read(void *opaque, const guint8 *buf, size_t len)
{
    g_string_append_len(((Fe *)opaque)->in, (const char *)buf, len);
}

static void fe_event(void *opaque, VhChardevEvent ev)
{
    Fe *fe = opaque;

    switch (ev) {
    case VH_CHARDEV_EVENT_OPENED:
        fe->opened++;
        break;
    case VH_CHARDEV_EVENT_CLOSED:
        fe->closed++;
        break;
    case VH_CHARDEV_EVENT_MUX_IN:
        fe->mux_in++;
        break;
    case VH_CHARDEV_EVENT_MUX_OUT:
        fe->mux_out++;
        break;
    default:
        g_assert_not_reached();
    }
}

static void fe_init(Fe *fe)
{
    memset(fe, 0, sizeof(*fe));
    fe->in = g_string_new(NULL);
    fe->room = 4096;
}

static void fe_clear(Fe *fe)
{
    g_string_free(fe->in, TRUE);
}

static void attach(VhChardev *chr, Fe *fe)
{
    vh_chardev_set_handlers(chr, fe_can_read, fe_read, fe_event, fe, NULL);
}

/* Iterate the default context until @cond or 5 s. */
#define WAIT_FOR(cond)                                                         \
    do {                                                                       \
        gint64 end_ = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;             \
        while (!(cond)) {                                                      \
            g_assert_cmpint(g_get_monotonic_time(), <, end_);                  \
            g_main_context_iteration(NULL, FALSE);                             \
            g_usleep(1000);                                                    \
        }                                                                      \
    } while (0)

static void drain(void)
{
    while (g_main_context_iteration(NULL, FALSE)) {
    }
}

static void wr(int fd, const char *s)
{
    g_assert_cmpint(write(fd, s, strlen(s)), ==, (gssize)strlen(s));
}

/* Read exactly @len bytes from the non-blocking @fd, iterating meanwhile. */
static char *rd(int fd, size_t len)
{
    GString *got = g_string_new(NULL);
    gint64 end = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;

    while (got->len < len) {
        char buf[256];
        gssize n = read(fd, buf, MIN(sizeof(buf), len - got->len));
        if (n > 0) {
            g_string_append_len(got, buf, n);
            continue;
        }
        g_assert_true(n < 0 && errno == EAGAIN);
        g_assert_cmpint(g_get_monotonic_time(), <, end);
        g_main_context_iteration(NULL, FALSE);
        g_usleep(1000);
    }
    return g_string_free(got, FALSE);
}

static void put(VhChardev *chr, const char *s)
{
    g_autoptr(GError) err = NULL;

    g_assert_cmpint(vh_chardev_write(chr, s, strlen(s), &err), ==, strlen(s));
    g_assert_no_error(err);
}

static char *tmpdir(void)
{
    g_autoptr(GError) err = NULL;
    char *dir = g_dir_make_tmp("vh-chardev-be-XXXXXX", &err);

    g_assert_no_error(err);
    return dir;
}

static char *slurp(const char *path)
{
    char *got = NULL;

    g_assert_true(g_file_get_contents(path, &got, NULL, NULL));
    return got;
}

static char *last_info;

static void capture_info(const char *message, void *opaque)
{
    g_free(last_info);
    last_info = g_strdup(message);
}

/* ---- pty ---- */

static void test_pty(void)
{
    g_autofree char *dir = tmpdir();
    g_autofree char *log = g_build_filename(dir, "log", NULL);
    g_autofree char *spec = g_strdup_printf("pty,id=p0,logfile=%s", log);
    g_autoptr(VhChardev) chr = NULL;
    g_autofree char *expect = NULL, *got = NULL, *logged = NULL;
    const char *path;
    Fe fe;
    int slave;

    vh_chardev_set_info_func(capture_info, NULL);
    chr = vh_test_chardev_new_ok(spec);
    vh_chardev_set_info_func(NULL, NULL);
    g_assert_true(VH_IS_CHARDEV_PTY(chr));
    path = vh_chardev_pty_get_path(VH_CHARDEV_PTY(chr));
    g_assert_true(g_str_has_prefix(path, "/dev/pts/"));
    expect = g_strdup_printf("char device redirected to %s (label p0)", path);
    g_assert_cmpstr(last_info, ==, expect);
    g_clear_pointer(&last_info, g_free);

    fe_init(&fe);
    attach(chr, &fe);
    /* nobody on the slave: output is dropped, not queued for later */
    g_assert_false(vh_chardev_is_connected(chr));
    put(chr, "lost");
    g_assert_cmpuint(vh_chardev_get_dropped(chr), ==, 4);

    slave = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK);
    g_assert_cmpint(slave, >=, 0);
    WAIT_FOR(vh_chardev_is_connected(chr));
    WAIT_FOR(fe.opened == 1);
    put(chr, "hello\n");
    got = rd(slave, 6);
    g_assert_cmpstr(got, ==, "hello\n"); /* raw: no \r added */
    wr(slave, "typed");
    WAIT_FOR(fe.in->len == 5);
    g_assert_cmpstr(fe.in->str, ==, "typed");

    close(slave);
    WAIT_FOR(!vh_chardev_is_connected(chr));
    g_assert_cmpint(fe.closed, ==, 1);
    put(chr, "gone");
    /* and a new terminal is noticed again */
    slave = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK);
    WAIT_FOR(vh_chardev_is_connected(chr));
    g_assert_cmpint(fe.opened, ==, 2);
    close(slave);

    logged = slurp(log);
    g_assert_cmpstr(logged, ==, "losthello\ngone");
    vh_chardev_set_handlers(chr, NULL, NULL, NULL, NULL, NULL);
    vh_chardev_close(chr);
    fe_clear(&fe);
    drain();
    g_unlink(log);
    g_rmdir(dir);
}

/* ---- pipe ---- */

static void test_pipe_split(void)
{
    g_autofree char *dir = tmpdir();
    g_autofree char *base = g_build_filename(dir, "con", NULL);
    g_autofree char *in = g_strdup_printf("%s.in", base);
    g_autofree char *out = g_strdup_printf("%s.out", base);
    g_autofree char *log = g_build_filename(dir, "log", NULL);
    g_autofree char *spec =
        g_strdup_printf("pipe,id=pp,path=%s,logfile=%s", base, log);
    g_autoptr(VhChardev) chr = NULL;
    g_autofree char *got = NULL, *desc = NULL, *logged = NULL;
    int to_chr, from_chr;
    Fe fe;

    g_assert_cmpint(mkfifo(in, 0600), ==, 0);
    g_assert_cmpint(mkfifo(out, 0600), ==, 0);
    chr = vh_test_chardev_new_ok(spec);
    desc = vh_chardev_describe(chr);
    g_assert_true(g_str_has_prefix(desc, "pipe:"));
    g_assert_cmpstr(desc + 5, ==, base);
    g_assert_true(vh_chardev_is_connected(chr));
    fe_init(&fe);
    attach(chr, &fe);

    from_chr = open(out, O_RDONLY | O_NONBLOCK);
    to_chr = open(in, O_WRONLY | O_NONBLOCK);
    g_assert_cmpint(from_chr, >=, 0);
    g_assert_cmpint(to_chr, >=, 0);
    put(chr, "guest says");
    got = rd(from_chr, 10);
    g_assert_cmpstr(got, ==, "guest says");
    wr(to_chr, "host says");
    WAIT_FOR(fe.in->len == 9);
    g_assert_cmpstr(fe.in->str, ==, "host says");

    /* the writer leaving is not an end of input */
    close(to_chr);
    drain();
    to_chr = open(in, O_WRONLY | O_NONBLOCK);
    wr(to_chr, "!");
    WAIT_FOR(fe.in->len == 10);
    g_assert_null(vh_chardev_get_last_error(chr, NULL));

    logged = slurp(log);
    g_assert_cmpstr(logged, ==, "guest says");
    close(to_chr);
    close(from_chr);
    vh_chardev_set_handlers(chr, NULL, NULL, NULL, NULL, NULL);
    g_clear_object(&chr);
    fe_clear(&fe);
    g_unlink(in);
    g_unlink(out);
    g_unlink(log);
    g_rmdir(dir);
}

static void test_pipe_single(void)
{
    g_autofree char *dir = tmpdir();
    g_autofree char *path = g_build_filename(dir, "both", NULL);
    g_autofree char *spec = g_strdup_printf("pipe,id=pq,path=%s", path);
    g_autoptr(VhChardev) chr = NULL;
    Fe fe;

    g_assert_cmpint(mkfifo(path, 0600), ==, 0);
    chr = vh_test_chardev_new_ok(spec);
    fe_init(&fe);
    attach(chr, &fe);
    /* one FIFO both ways: what the chardev writes comes back to it */
    put(chr, "loop");
    WAIT_FOR(fe.in->len == 4);
    g_assert_cmpstr(fe.in->str, ==, "loop");
    vh_chardev_set_handlers(chr, NULL, NULL, NULL, NULL, NULL);
    g_clear_object(&chr);
    fe_clear(&fe);
    g_unlink(path);
    g_rmdir(dir);
}

/* ---- serial ---- */

static int open_pty_master(char **slave_path)
{
    int m = posix_openpt(O_RDWR | O_NOCTTY);

    g_assert_cmpint(m, >=, 0);
    g_assert_cmpint(grantpt(m), ==, 0);
    g_assert_cmpint(unlockpt(m), ==, 0);
    *slave_path = g_strdup(ptsname(m));
    g_assert_cmpint(fcntl(m, F_SETFL, O_NONBLOCK), ==, 0);
    return m;
}

static void test_serial(void)
{
    g_autofree char *tty = NULL;
    int master = open_pty_master(&tty);
    g_autofree char *dir = tmpdir();
    g_autofree char *log = g_build_filename(dir, "log", NULL);
    g_autofree char *spec =
        g_strdup_printf("serial,id=ser0,path=%s,logfile=%s", tty, log);
    g_autoptr(VhChardev) chr = vh_test_chardev_new_ok(spec);
    g_autoptr(GError) err = NULL;
    g_autofree char *got = NULL, *logged = NULL;
    struct termios t;
    int probe;
    Fe fe;

    g_assert_true(VH_IS_CHARDEV_SERIAL(chr));
    g_assert_true(vh_chardev_is_connected(chr));
    fe_init(&fe);
    attach(chr, &fe);
    put(chr, "out\n");
    got = rd(master, 4);
    g_assert_cmpstr(got, ==, "out\n"); /* raw: no \r */
    wr(master, "in\r");
    WAIT_FOR(fe.in->len == 3);
    g_assert_cmpstr(fe.in->str, ==, "in\r"); /* raw: no CR to NL */

    /* raw 115200 8N1 by default, then what the frontend asks */
    probe = open(tty, O_RDWR | O_NOCTTY | O_NONBLOCK);
    g_assert_cmpint(tcgetattr(probe, &t), ==, 0);
    g_assert_cmpint(cfgetospeed(&t), ==, B115200);
    g_assert_cmpint(t.c_cflag & CSIZE, ==, CS8);
    g_assert_false(t.c_lflag & (ECHO | ICANON));
    g_assert_true(vh_chardev_serial_set_params(chr, 9600, 7, 'E', 2, &err));
    g_assert_no_error(err);
    g_assert_cmpint(tcgetattr(probe, &t), ==, 0);
    /* a pty slave forces CS8 without parity; speed and stop bits stick */
    g_assert_cmpint(cfgetospeed(&t), ==, B9600);
    g_assert_true(t.c_cflag & CSTOPB);
    g_assert_true(vh_chardev_serial_set_params(chr, 300, 5, 'O', 1, &err));
    g_assert_cmpint(tcgetattr(probe, &t), ==, 0);
    g_assert_cmpint(cfgetospeed(&t), ==, B300);
    g_assert_false(t.c_cflag & CSTOPB);

    g_assert_false(vh_chardev_serial_set_params(chr, 12345, 8, 'N', 1, &err));
    g_assert_nonnull(strstr(err->message, "chardev ser0: "));
    g_assert_nonnull(strstr(err->message, tty));
    g_assert_true(g_str_has_suffix(err->message, ": unsupported baud rate "
                                                 "12345"));
    g_clear_error(&err);
    g_assert_false(vh_chardev_serial_set_params(chr, 9600, 9, 'N', 1, &err));
    g_assert_nonnull(strstr(err->message, "data bits must be 5 to 8"));
    g_clear_error(&err);
    g_assert_false(vh_chardev_serial_set_params(chr, 9600, 8, 'X', 1, &err));
    g_assert_nonnull(strstr(err->message, "parity must be"));
    g_clear_error(&err);
    g_assert_false(vh_chardev_serial_set_params(chr, 9600, 8, 'N', 3, &err));
    g_assert_nonnull(strstr(err->message, "stop bits must be 1 or 2"));
    g_clear_error(&err);

    logged = slurp(log);
    g_assert_cmpstr(logged, ==, "out\n");
    vh_chardev_set_handlers(chr, NULL, NULL, NULL, NULL, NULL);
    vh_chardev_close(chr);
    g_assert_false(vh_chardev_serial_set_params(chr, 9600, 8, 'N', 1, &err));
    g_assert_error(err, G_IO_ERROR, G_IO_ERROR_CLOSED);
    close(probe);
    close(master);
    fe_clear(&fe);
    g_unlink(log);
    g_rmdir(dir);
}

static void test_serial_other_backends(void)
{
    g_autoptr(VhChardev) chr = vh_test_chardev_new_ok("null,id=n");
    g_autoptr(GError) err = NULL;

    /* not a tty: the line settings mean nothing and are accepted */
    g_assert_true(vh_chardev_serial_set_params(chr, 9600, 8, 'N', 1, &err));
    g_assert_no_error(err);
}

/* ---- stdio: in a subprocess, over a socketpair or a pty on fds 0/1 ---- */

static void stdio_child_socketpair(void)
{
    int sv[2];
    int flags0;
    g_autofree char *dir = NULL, *log = NULL, *spec = NULL, *logged = NULL;
    g_autoptr(VhChardev) chr = NULL;
    g_autofree char *got = NULL;
    Fe fe;

    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
    g_assert_cmpint(dup2(sv[0], 0), ==, 0);
    g_assert_cmpint(dup2(sv[0], 1), ==, 1);
    close(sv[0]);
    g_assert_cmpint(fcntl(sv[1], F_SETFL, O_NONBLOCK), ==, 0);
    flags0 = fcntl(0, F_GETFL);
    g_assert_false(flags0 & O_NONBLOCK);

    dir = tmpdir();
    log = g_build_filename(dir, "log", NULL);
    spec = g_strdup_printf("stdio,id=con,signal=off,logfile=%s", log);
    chr = vh_test_chardev_new_ok(spec);
    g_assert_true(vh_chardev_is_connected(chr));
    vh_test_chardev_expect_error(
        "stdio,id=con2",
        "chardev con2: stdio is already in use by chardev con");
    fe_init(&fe);
    attach(chr, &fe);
    g_assert_true(fcntl(0, F_GETFL) & O_NONBLOCK);
    wr(sv[1], "ping");
    WAIT_FOR(fe.in->len == 4);
    g_assert_cmpstr(fe.in->str, ==, "ping");
    put(chr, "pong");
    got = rd(sv[1], 4);
    g_assert_cmpstr(got, ==, "pong");

    /* end of input stops reading; output still works */
    shutdown(sv[1], SHUT_WR);
    drain();
    put(chr, "still");
    g_free(got);
    got = rd(sv[1], 5);
    g_assert_cmpstr(got, ==, "still");

    vh_chardev_set_handlers(chr, NULL, NULL, NULL, NULL, NULL);
    vh_chardev_close(chr);
    g_assert_cmpint(fcntl(0, F_GETFL), ==, flags0);
    logged = slurp(log);
    g_assert_cmpstr(logged, ==, "pongstill");
    fe_clear(&fe);
    close(sv[1]);
    g_unlink(log);
    g_rmdir(dir);
}

static void stdio_child_tty(void)
{
    g_autofree char *tty = NULL;
    int master = open_pty_master(&tty);
    int slave = open(tty, O_RDWR | O_NOCTTY);
    struct termios before, during;
    g_autoptr(VhChardev) on = NULL, off = NULL;

    g_assert_cmpint(dup2(slave, 0), ==, 0);
    g_assert_cmpint(dup2(slave, 1), ==, 1);
    g_assert_cmpint(tcgetattr(0, &before), ==, 0);
    g_assert_true(before.c_lflag & ECHO);

    on = vh_test_chardev_new_ok("stdio,id=con");
    g_assert_cmpint(tcgetattr(0, &during), ==, 0);
    g_assert_false(during.c_lflag & (ECHO | ICANON));
    g_assert_true(during.c_lflag & ISIG); /* signal=on: Ctrl-C still kills */
    vh_chardev_close(on);
    g_assert_cmpint(tcgetattr(0, &during), ==, 0);
    g_assert_cmpint(during.c_lflag, ==, before.c_lflag);
    g_assert_cmpint(during.c_iflag, ==, before.c_iflag);

    off = vh_test_chardev_new_ok("stdio,id=con2,signal=off");
    g_assert_cmpint(tcgetattr(0, &during), ==, 0);
    g_assert_false(during.c_lflag & ISIG);
    g_clear_object(&off);
    g_assert_cmpint(tcgetattr(0, &during), ==, 0);
    g_assert_cmpint(during.c_lflag, ==, before.c_lflag);
    close(slave);
    close(master);
}

/*
 * On a terminal: output translation off while open (so CR LF is not
 * doubled), the backend's own CR before a bare LF, and the terminal's
 * settings back afterwards.
 */
static void stdio_child_tty_output(void)
{
    g_autofree char *tty = NULL, *got = NULL;
    int master = open_pty_master(&tty);
    int slave = open(tty, O_RDWR | O_NOCTTY);
    struct termios before, during;
    g_autoptr(VhChardev) con = NULL;

    g_assert_cmpint(dup2(slave, 0), ==, 0);
    g_assert_cmpint(dup2(slave, 1), ==, 1);
    g_assert_cmpint(tcgetattr(0, &before), ==, 0);
    g_assert_true(before.c_oflag & OPOST);
    g_assert_cmpstr(vh_tty_line_end(1), ==, "\n");

    con = vh_test_chardev_new_ok("stdio,id=con");
    g_assert_cmpint(tcgetattr(0, &during), ==, 0);
    g_assert_false(during.c_oflag & OPOST);
    g_assert_false(during.c_iflag & ICRNL); /* Enter arrives as CR */
    g_assert_cmpstr(vh_tty_line_end(1), ==, "\r\n");
    put(con, "a\nb\r\nc\n\n");
    got = rd(master, 11);
    g_assert_cmpstr(got, ==, "a\r\nb\r\nc\r\n\r\n");
    g_free(got);
    /* a CR LF split over two writes is still one */
    put(con, "d\r");
    put(con, "\ne");
    got = rd(master, 4);
    g_assert_cmpstr(got, ==, "d\r\ne");
    vh_chardev_close(con);
    g_assert_cmpint(tcgetattr(0, &during), ==, 0);
    g_assert_cmpint(during.c_oflag, ==, before.c_oflag);
    g_assert_cmpint(during.c_iflag, ==, before.c_iflag);
    g_assert_cmpint(during.c_lflag, ==, before.c_lflag);
    g_assert_cmpstr(vh_tty_line_end(1), ==, "\n");
    g_assert_cmpstr(vh_tty_line_end(-1), ==, "\n");
    close(slave);
    close(master);
}

static void test_stdio_tty_output(void)
{
    if (g_test_subprocess()) {
        stdio_child_tty_output();
        return;
    }
    g_test_trap_subprocess(NULL, 30 * G_USEC_PER_SEC, 0);
    g_test_trap_assert_passed();
}

static void test_stdio(void)
{
    if (g_test_subprocess()) {
        stdio_child_socketpair();
        return;
    }
    g_test_trap_subprocess(NULL, 30 * G_USEC_PER_SEC, 0);
    g_test_trap_assert_passed();
}

static void test_stdio_tty(void)
{
    if (g_test_subprocess()) {
        stdio_child_tty();
        return;
    }
    g_test_trap_subprocess(NULL, 30 * G_USEC_PER_SEC, 0);
    g_test_trap_assert_passed();
}

/* ---- mux ---- */

static void test_mux(void)
{
    g_autofree char *dir = tmpdir();
    g_autofree char *log = g_build_filename(dir, "log", NULL);
    g_autofree char *spec = NULL, *got = NULL, *desc = NULL, *logged = NULL;
    g_autoptr(VhChardev) chr = NULL;
    g_autoptr(GError) err = NULL;
    VhChardevMux *mux;
    Fe a, b;
    int sv[2];

    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
    g_assert_cmpint(fcntl(sv[1], F_SETFL, O_NONBLOCK), ==, 0);
    spec = g_strdup_printf("socket,id=m0,fd=%d,mux=on,logfile=%s", sv[0], log);
    chr = vh_test_chardev_new_ok(spec);
    g_assert_true(VH_IS_CHARDEV_MUX(chr));
    mux = VH_CHARDEV_MUX(chr);
    g_assert_cmpstr(vh_chardev_get_id(chr), ==, "m0");
    g_assert_cmpstr(vh_chardev_get_id(vh_chardev_get_backend(chr)), ==,
                    "m0-base");
    desc = vh_chardev_describe(chr);
    g_assert_true(g_str_has_prefix(desc, "fd:"));
    g_assert_true(vh_chardev_is_connected(chr));
    g_assert_true(vh_chardev_wait_connected(chr, &err));
    g_assert_cmpint(vh_chardev_mux_get_focus(mux), ==, -1);

    g_assert_true(vh_chardev_register(chr, &err));
    fe_init(&a);
    fe_init(&b);
    attach(chr, &a); /* the serial port */
    attach(chr, &b); /* the monitor */
    g_assert_true(vh_chardev_has_frontend(chr));
    g_assert_cmpint(vh_chardev_mux_get_focus(mux), ==, 0);
    WAIT_FOR(a.opened == 1 && b.opened == 1);

    /* input goes to the focus; Ctrl-A c moves it */
    wr(sv[1], "to-a");
    WAIT_FOR(a.in->len == 4);
    wr(sv[1], "\x01"
              "cto-b");
    WAIT_FOR(b.in->len == 4);
    g_assert_cmpstr(a.in->str, ==, "to-a");
    g_assert_cmpstr(b.in->str, ==, "to-b");
    g_assert_cmpint(vh_chardev_mux_get_focus(mux), ==, 1);
    g_assert_cmpint(a.mux_out, ==, 1);
    g_assert_cmpint(b.mux_in, ==, 1);

    /* Ctrl-A Ctrl-A is one literal Ctrl-A; Ctrl-A x is swallowed */
    wr(sv[1], "\x01\x01"
              "z\x01xy");
    WAIT_FOR(b.in->len == 7);
    g_assert_cmpstr(b.in->str, ==, "to-b\x01zy");

    /* an escape split across reads */
    wr(sv[1], "\x01");
    drain();
    wr(sv[1], "c");
    WAIT_FOR(vh_chardev_mux_get_focus(mux) == 0);
    g_assert_cmpint(a.mux_in, ==, 1);
    g_assert_cmpint(b.mux_out, ==, 1);

    /* Ctrl-A h answers on the backend */
    wr(sv[1], "\x01h");
    got = rd(sv[1], 20);
    if (!g_str_has_prefix(got, "\r\nC-a h    print")) {
        g_error("help: got %s", g_strescape(got, NULL));
    }
    /* read the rest of the help text */
    while (g_main_context_iteration(NULL, FALSE) || TRUE) {
        char junk[512];
        gssize n = read(sv[1], junk, sizeof(junk));
        if (n <= 0) {
            break;
        }
    }

    /* both frontends write out; the mux's logfile sees both */
    put(chr, "[serial]");
    put(chr, "[monitor]");
    g_free(got);
    got = rd(sv[1], 17);
    g_assert_cmpstr(got, ==, "[serial][monitor]");
    logged = slurp(log);
    g_assert_cmpstr(logged, ==, "[serial][monitor]");

    /* focus on a frontend that cannot read now: input waits */
    a.room = 0;
    wr(sv[1], "later");
    drain();
    g_assert_cmpstr(a.in->str, ==, "to-a");
    a.room = 4096;
    vh_chardev_accept_input(chr);
    WAIT_FOR(a.in->len == 9);
    g_assert_cmpstr(a.in->str, ==, "to-alater");

    /* in use until both frontends are gone */
    g_assert_false(vh_chardev_remove("m0", &err));
    g_assert_nonnull(strstr(err->message, "busy"));
    g_clear_error(&err);
    vh_chardev_set_handlers(chr, NULL, NULL, NULL, &a, NULL);
    g_assert_true(vh_chardev_has_frontend(chr));
    g_assert_cmpint(vh_chardev_mux_get_focus(mux), ==, 0); /* b now */
    wr(sv[1], "b!");
    WAIT_FOR(b.in->len == 9);
    vh_chardev_set_handlers(chr, NULL, NULL, NULL, &b, NULL);
    g_assert_false(vh_chardev_has_frontend(chr));
    g_assert_true(vh_chardev_remove("m0", &err));
    g_assert_no_error(err);
    g_assert_true(vh_chardev_is_closed(chr));
    g_assert_true(vh_chardev_is_closed(vh_chardev_get_backend(chr)));

    close(sv[1]);
    fe_clear(&a);
    fe_clear(&b);
    drain();
    g_unlink(log);
    g_rmdir(dir);
}

/* -chardev socket,server=on,mux=on: startup waits under the mux too */
static void test_mux_wait(void)
{
    g_autoptr(VhChardev) chr = vh_test_chardev_new_ok(
        "socket,id=w0,host=127.0.0.1,port=0,server=on,mux=on");
    VhChardev *be = vh_chardev_get_backend(chr);
    guint16 port = vh_chardev_socket_get_port(VH_CHARDEV_SOCKET(be));
    g_autoptr(GSocketClient) client = g_socket_client_new();
    g_autoptr(GSocketConnection) conn = NULL;
    g_autoptr(GError) err = NULL;
    g_autofree char *addr = g_strdup_printf("127.0.0.1:%u", port);

    g_assert_false(vh_chardev_is_connected(chr));
    /* the kernel completes the connect; the chardev accepts while waiting */
    conn = g_socket_client_connect_to_host(client, addr, 0, NULL, &err);
    g_assert_no_error(err);
    vh_chardev_set_info_func(capture_info, NULL);
    g_assert_true(vh_chardev_wait_connected(chr, &err));
    vh_chardev_set_info_func(NULL, NULL);
    g_assert_no_error(err);
    g_assert_true(g_str_has_prefix(last_info, "waiting for connection on: "
                                              "disconnected:tcp:127.0.0.1:"));
    g_clear_pointer(&last_info, g_free);
    g_assert_true(vh_chardev_is_connected(chr));
    /* a second call returns at once */
    g_assert_true(vh_chardev_wait_connected(chr, &err));
    vh_chardev_close(chr);
    drain();
}

/* input typed after Ctrl-A c in one read: the new focus takes what fits */
static void test_mux_typeahead(void)
{
    g_autofree char *spec = NULL;
    g_autoptr(VhChardev) chr = NULL;
    Fe a, b;
    int sv[2];

    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
    spec = g_strdup_printf("socket,id=t0,fd=%d,mux=on", sv[0]);
    chr = vh_test_chardev_new_ok(spec);
    fe_init(&a);
    fe_init(&b);
    attach(chr, &a);
    attach(chr, &b);
    b.room = 2;
    wr(sv[1], "x\x01"
              "cabcd");
    WAIT_FOR(b.in->len == 2);
    drain();
    g_assert_cmpstr(a.in->str, ==, "x");
    g_assert_cmpstr(b.in->str, ==, "ab");
    g_assert_cmpuint(vh_chardev_get_dropped(chr), ==, 2);
    vh_chardev_close(chr);
    close(sv[1]);
    fe_clear(&a);
    fe_clear(&b);
    drain();
}

static void test_mux_limits(void)
{
    g_autoptr(VhChardev) chr = vh_test_chardev_new_ok("null,id=mx,mux=on");
    Fe fe[VH_CHARDEV_MUX_MAX + 1];

    for (int i = 0; i <= VH_CHARDEV_MUX_MAX; i++) {
        fe_init(&fe[i]);
        if (i == VH_CHARDEV_MUX_MAX) {
            g_test_expect_message("vmhost-chardev", G_LOG_LEVEL_WARNING,
                                  "*mux takes at most 4 frontends*");
        }
        attach(chr, &fe[i]);
    }
    g_test_assert_expected_messages();
    /* re-attaching the same opaque replaces, it does not add */
    attach(chr, &fe[0]);
    drain();
    for (int i = 0; i < VH_CHARDEV_MUX_MAX; i++) {
        g_assert_cmpint(fe[i].opened, ==, 1);
    }
    g_assert_cmpint(fe[VH_CHARDEV_MUX_MAX].opened, ==, 0);
    vh_chardev_close(chr);
    for (int i = 0; i <= VH_CHARDEV_MUX_MAX; i++) {
        fe_clear(&fe[i]);
    }
}

/* ---- errors ---- */

static void test_errors(void)
{
    g_autofree char *dir = tmpdir();
    g_autofree char *plain = g_build_filename(dir, "plain", NULL);
    g_autofree char *serial_spec = NULL, *pipe_spec = NULL;

    g_assert_true(g_file_set_contents(plain, "", 0, NULL));
    serial_spec = g_strdup_printf("serial,id=s1,path=%s", plain);
    vh_test_chardev_expect_error(serial_spec, "chardev s1: ");
    vh_test_chardev_expect_error(serial_spec, "plain is not a terminal");
    vh_test_chardev_expect_error("serial,id=s2",
                                 "-chardev serial,id=s2: parameter 'path' "
                                 "is required");
    vh_test_chardev_expect_error(
        "tty,id=s3,path=/nonexistent/ttyX",
        "chardev s3: cannot open /nonexistent/ttyX: No such file");
    vh_test_chardev_expect_error("pipe,id=p1",
                                 "-chardev pipe,id=p1: parameter 'path' is "
                                 "required");
    pipe_spec = g_strdup_printf("pipe,id=p2,path=%s/missing", dir);
    vh_test_chardev_expect_error(pipe_spec, "chardev p2: cannot open pipe ");
    vh_test_chardev_expect_error(pipe_spec,
                                 "missing: No such file or directory");
    vh_test_chardev_expect_error("pty,id=p3,path=x",
                                 "-chardev pty: invalid parameter 'path'");
    vh_test_chardev_expect_error(
        "stdio,id=s4,signal=maybe",
        "chardev s4: -chardev: parameter 'signal' expects");
    vh_test_chardev_expect_error("stdio,id=s5,path=x",
                                 "-chardev stdio: invalid parameter 'path'");
    vh_test_chardev_expect_error("pipe,id=p4,mux=on",
                                 "-chardev pipe,id=p4-base: parameter "
                                 "'path' is required");
    g_unlink(plain);
    g_rmdir(dir);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/chardev/backends/pty", test_pty);
    g_test_add_func("/chardev/backends/pipe/split", test_pipe_split);
    g_test_add_func("/chardev/backends/pipe/single", test_pipe_single);
    g_test_add_func("/chardev/backends/serial", test_serial);
    g_test_add_func("/chardev/backends/serial/other",
                    test_serial_other_backends);
    g_test_add_func("/chardev/backends/stdio", test_stdio);
    g_test_add_func("/chardev/backends/stdio/tty", test_stdio_tty);
    g_test_add_func("/chardev/backends/stdio/tty-output",
                    test_stdio_tty_output);
    g_test_add_func("/chardev/backends/mux", test_mux);
    g_test_add_func("/chardev/backends/mux/limits", test_mux_limits);
    g_test_add_func("/chardev/backends/mux/wait", test_mux_wait);
    g_test_add_func("/chardev/backends/mux/typeahead", test_mux_typeahead);
    g_test_add_func("/chardev/backends/errors", test_errors);
    return g_test_run();
}
