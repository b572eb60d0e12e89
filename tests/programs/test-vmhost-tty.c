/*
 * vmhost's HMP in readline mode on a real terminal: vmhost runs with a
 * pseudo-terminal as its controlling terminal and stdin/stdout/stderr;
 * the test types at the master side (arrow keys, Tab, Ctrl-C) and reads
 * what the terminal would show. Checked: the commands run, every line
 * ends in exactly one CR LF (never CR CR LF), the terminal is raw while
 * vmhost runs and its settings come back after quit, SIGTERM and a
 * startup error, and raw again after SIGCONT; -monitor pty and telnet=on
 * sockets are in readline mode too; a mux=on stdio shares the terminal
 * between the guest console and the monitor.
 */
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#define TIMEOUT_MS 10000
#define PROMPT     "(vmhost) "

typedef struct {
    int master;
    int slave; /* kept open: the pty stays up after vmhost exits */
    pid_t pid;
    GString *seen; /* everything read from the master */
    size_t pos;    /* what expect() has consumed */
    struct termios before;
} Tty;

static const char *vmhost_path(void)
{
    static char *path;

    if (!path) {
        const char *build = g_getenv("VMHOST_BUILDDIR");

        g_assert_nonnull(build);
        path = g_build_filename(build, "src", "vmhost", "vmhost", NULL);
    }
    return path;
}

static void child(const char *slave_path, char **argv)
{
    int fd;

    setsid();
    fd = open(slave_path, O_RDWR); /* the controlling terminal */
    if (fd < 0 || ioctl(fd, TIOCSCTTY, 0) < 0) {
        _exit(126);
    }
    dup2(fd, 0);
    dup2(fd, 1);
    dup2(fd, 2);
    if (fd > 2) {
        close(fd);
    }
    execv(vmhost_path(), argv);
    _exit(127);
}

/* Start vmhost with @args (NULL-terminated) on a fresh pty. */
static void tty_start(Tty *t, const char *const *args)
{
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    const char *name;

    memset(t, 0, sizeof(*t));
    t->master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    g_assert_cmpint(t->master, >=, 0);
    g_assert_cmpint(grantpt(t->master), ==, 0);
    g_assert_cmpint(unlockpt(t->master), ==, 0);
    name = ptsname(t->master);
    g_assert_nonnull(name);
    t->slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
    g_assert_cmpint(t->slave, >=, 0);
    /* a cooked terminal as a shell leaves it */
    g_assert_cmpint(tcgetattr(t->slave, &t->before), ==, 0);
    g_assert_true(t->before.c_oflag & OPOST);
    g_assert_true(t->before.c_lflag & (ECHO | ICANON));
    g_assert_cmpint(fcntl(t->master, F_SETFL, O_NONBLOCK), ==, 0);
    t->seen = g_string_new(NULL);

    g_ptr_array_add(argv, (char *)"vmhost");
    for (guint i = 0; args[i]; i++) {
        g_ptr_array_add(argv, (char *)args[i]);
    }
    g_ptr_array_add(argv, NULL);
    t->pid = fork();
    g_assert_cmpint(t->pid, >=, 0);
    if (t->pid == 0) {
        child(name, (char **)argv->pdata);
    }
}

/* Read what is there, waiting up to @ms for the first byte. */
static bool tty_read(Tty *t, int ms)
{
    struct pollfd p = {.fd = t->master, .events = POLLIN};
    char buf[4096];
    gssize n;

    if (poll(&p, 1, ms) <= 0) {
        return false;
    }
    n = read(t->master, buf, sizeof(buf));
    if (n <= 0) {
        g_assert_true(n == 0 || errno == EAGAIN || errno == EIO);
        return false;
    }
    g_string_append_len(t->seen, buf, n);
    return true;
}

/* Wait for @text after what was consumed; return what came before it. */
static char *expect(Tty *t, const char *text)
{
    gint64 end = g_get_monotonic_time() + TIMEOUT_MS * 1000;
    const char *at;

    while (!(at = strstr(t->seen->str + t->pos, text))) {
        if (g_get_monotonic_time() > end) {
            g_error("'%s' not seen; got '%s'", g_strescape(text, NULL),
                    g_strescape(t->seen->str + t->pos, NULL));
        }
        tty_read(t, 50);
    }
    {
        char *before =
            g_strndup(t->seen->str + t->pos, at - (t->seen->str + t->pos));

        t->pos = at + strlen(text) - t->seen->str;
        return before;
    }
}

/* @text must be exactly what comes next. */
static void expect_exact(Tty *t, const char *text)
{
    g_autofree char *before = expect(t, text);

    if (*before) {
        g_error("before '%s' came '%s'", g_strescape(text, NULL),
                g_strescape(before, NULL));
    }
}

static void type(Tty *t, const char *keys)
{
    g_assert_cmpint(write(t->master, keys, strlen(keys)), ==,
                    (gssize)strlen(keys));
}

/* Reap vmhost (reading meanwhile), return its exit status. */
static int tty_wait(Tty *t)
{
    gint64 end = g_get_monotonic_time() + TIMEOUT_MS * 1000;
    int status;
    pid_t r;

    while ((r = waitpid(t->pid, &status, WNOHANG)) == 0) {
        g_assert_cmpint(g_get_monotonic_time(), <, end);
        tty_read(t, 20);
    }
    g_assert_cmpint(r, ==, t->pid);
    while (tty_read(t, 0)) {
    }
    t->pid = 0;
    g_assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

/* Each LF follows exactly one CR; never CR CR LF. */
static void check_line_ends(Tty *t)
{
    const char *s = t->seen->str;

    g_assert_null(strstr(s, "\r\r\n"));
    for (size_t i = 0; i < t->seen->len; i++) {
        if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r')) {
            g_error("a bare LF at %zu in '%s'", i, g_strescape(s, NULL));
        }
    }
}

static void check_restored(Tty *t)
{
    struct termios now;

    g_assert_cmpint(tcgetattr(t->slave, &now), ==, 0);
    g_assert_cmpint(now.c_iflag, ==, t->before.c_iflag);
    g_assert_cmpint(now.c_oflag, ==, t->before.c_oflag);
    g_assert_cmpint(now.c_lflag, ==, t->before.c_lflag);
    g_assert_cmpint(now.c_cflag, ==, t->before.c_cflag);
}

static void check_raw(Tty *t, bool isig)
{
    struct termios now;

    g_assert_cmpint(tcgetattr(t->slave, &now), ==, 0);
    g_assert_false(now.c_lflag & (ECHO | ICANON));
    g_assert_false(now.c_oflag & OPOST);
    g_assert_false(now.c_iflag & ICRNL);
    g_assert_cmpint(!!(now.c_lflag & ISIG), ==, isig);
}

static void tty_close(Tty *t)
{
    if (t->pid > 0) {
        kill(t->pid, SIGKILL);
        waitpid(t->pid, NULL, 0);
    }
    close(t->master);
    close(t->slave);
    g_string_free(t->seen, true);
}

static void test_readline(void)
{
    static const char *const args[] = {"-S", "-nodefaults", "-monitor", "stdio",
                                       NULL};
    Tty t;

    tty_start(&t, args);
    g_free(expect(&t, PROMPT));
    check_raw(&t, true);
    /* Tab completes the command, then the info subcommand */
    type(&t, "inf\t");
    expect_exact(&t, "info ");
    type(&t, "stat\t");
    expect_exact(&t, "status ");
    type(&t, "\r");
    expect_exact(&t, "\r\nVM status: paused (prelaunch)\r\n" PROMPT);
    /* several matches: listed, prompt and line drawn again */
    type(&t, "c\t");
    g_free(expect(&t, "c\r\n"));
    g_free(expect(&t, "chardev-add"));
    g_free(expect(&t, "cont"));
    g_free(expect(&t, "\r\n" PROMPT "c"));
    /* arrows: Home, insert, End; the line runs as edited */
    type(&t, "\x15"
             "nfo version\033[Hi\033[F\r");
    g_free(expect(&t, " (vmhost)\r\n" PROMPT));
    /* Up recalls it; Ctrl-W, Left, Backspace, Home, Right, End edit it */
    type(&t, "\033[A\x17sXtatus\033[D\033[D\033[D\033[D\033[D\x7f\033[H"
             "\033[C\033[F\r");
    g_free(expect(&t, "\r\nVM status: paused (prelaunch)\r\n" PROMPT));
    /* an unknown escape sequence is swallowed, not inserted */
    type(&t, "\033[15~\033OPcont\r");
    expect_exact(&t, "cont\r\n" PROMPT);
    type(&t, "info status\r");
    expect_exact(&t, "info status\r\nVM status: running\r\n" PROMPT);
    type(&t, "quit\r");
    g_assert_cmpint(tty_wait(&t), ==, 0);
    check_line_ends(&t);
    check_restored(&t);
    tty_close(&t);
}

/* After Ctrl-Z the shell sets its own mode; fg's SIGCONT makes it raw. */
static void test_sigcont(void)
{
    static const char *const args[] = {"-S", "-monitor", "stdio", NULL};
    Tty t;

    tty_start(&t, args);
    g_free(expect(&t, PROMPT));
    check_raw(&t, true);
    g_assert_cmpint(tcsetattr(t.slave, TCSANOW, &t.before), ==, 0);
    kill(t.pid, SIGCONT);
    for (int i = 0; i < TIMEOUT_MS / 10; i++) {
        struct termios now;

        g_assert_cmpint(tcgetattr(t.slave, &now), ==, 0);
        if (!(now.c_lflag & ECHO)) {
            break;
        }
        g_usleep(10000);
    }
    type(&t, "info status\r");
    expect_exact(&t, "info status\r\nVM status: paused (prelaunch)\r\n" PROMPT);
    check_raw(&t, true);
    type(&t, "quit\r");
    g_assert_cmpint(tty_wait(&t), ==, 0);
    check_line_ends(&t);
    check_restored(&t);
    tty_close(&t);
}

static void test_sigterm(void)
{
    static const char *const args[] = {"-S", "-monitor", "stdio", NULL};
    Tty t;

    tty_start(&t, args);
    g_free(expect(&t, PROMPT));
    check_raw(&t, true);
    type(&t, "info ver");
    expect_exact(&t, "info ver");
    kill(t.pid, SIGTERM);
    g_assert_cmpint(tty_wait(&t), ==, 0);
    g_free(expect(&t, "terminating on signal 15\r\n"));
    check_line_ends(&t);
    check_restored(&t);
    tty_close(&t);
}

/* Ctrl-C: with signal=off a key for the line editor, not a signal. */
static void test_signal_off(void)
{
    static const char *const args[] = {
        "-S",   "-chardev",    "stdio,id=con,signal=off",
        "-mon", "chardev=con", NULL};
    Tty t;

    tty_start(&t, args);
    g_free(expect(&t, PROMPT));
    check_raw(&t, false);
    type(&t, "garbage\x03");
    expect_exact(&t, "garbage^C\r\n" PROMPT);
    type(&t, "quit\r");
    g_assert_cmpint(tty_wait(&t), ==, 0);
    check_line_ends(&t);
    check_restored(&t);
    tty_close(&t);
}

/* A startup error after the stdio chardev took the terminal. */
static void test_error_restores(void)
{
    static const char *const args[] = {"-chardev", "stdio,id=con", "-device",
                                       "bogus", NULL};
    Tty t;

    tty_start(&t, args);
    g_assert_cmpint(tty_wait(&t), ==, 1);
    g_free(expect(&t, "vmhost: -device: "));
    g_free(expect(&t, "\r\n"));
    check_line_ends(&t);
    check_restored(&t);
    tty_close(&t);
}

/* -monitor pty: a terminal as well, the stdio terminal untouched. */
static void test_monitor_pty(void)
{
    static const char *const args[] = {"-S", "-monitor", "pty", NULL};
    g_autofree char *path = NULL;
    struct termios now;
    Tty t;
    Tty mon = {.seen = g_string_new(NULL)};

    tty_start(&t, args);
    g_free(expect(&t, "char device redirected to "));
    path = expect(&t, " (label");
    g_assert_true(g_str_has_prefix(path, "/dev/pts/"));
    g_assert_cmpint(tcgetattr(t.slave, &now), ==, 0);
    g_assert_true(now.c_lflag & ECHO); /* stdio is not a chardev here */
    mon.master = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    g_assert_cmpint(mon.master, >=, 0);
    mon.slave = -1;
    g_free(expect(&mon, PROMPT));
    type(&mon, "inf\tv\t\r");
    g_free(expect(&mon, "info version \r\n"));
    g_free(expect(&mon, " (vmhost)\r\n" PROMPT));
    type(&mon, "quit\r");
    g_assert_cmpint(tty_wait(&t), ==, 0);
    check_line_ends(&mon);
    close(mon.master);
    g_string_free(mon.seen, true);
    tty_close(&t);
}

/* A loopback port nothing listens on now. */
static int free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int port;

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    g_assert_cmpint(bind(fd, (struct sockaddr *)&a, sizeof(a)), ==, 0);
    g_assert_cmpint(getsockname(fd, (struct sockaddr *)&a, &len), ==, 0);
    port = ntohs(a.sin_port);
    close(fd);
    return port;
}

static int connect_port(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int i = 0; i < TIMEOUT_MS / 20; i++) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0) {
            g_assert_cmpint(fcntl(fd, F_SETFL, O_NONBLOCK), ==, 0);
            return fd;
        }
        close(fd);
        g_usleep(20000);
    }
    g_error("cannot connect to 127.0.0.1:%d", port);
}

/*
 * telnet=on: the server offers WILL ECHO, so a telnet client echoes
 * nothing itself; the monitor is in readline mode there.
 */
static void telnet_session(bool shorthand)
{
    int port = free_port();
    g_autofree char *spec = g_strdup_printf(
        "socket,id=t0,host=127.0.0.1,port=%d,server=on,wait=off,telnet=on",
        port);
    g_autofree char *dev =
        g_strdup_printf("telnet:127.0.0.1:%d,server,nowait", port);
    const char *const args[] = {"-S",   "-chardev",   spec,
                                "-mon", "chardev=t0", NULL};
    const char *const short_args[] = {"-S", "-monitor", dev, NULL};
    Tty t;
    Tty mon = {.seen = g_string_new(NULL), .slave = -1};

    tty_start(&t, shorthand ? short_args : args);
    mon.master = connect_port(port);
    g_free(expect(&mon, "\xff\xfb\x01\xff\xfb\x03")); /* WILL ECHO, SGA */
    g_free(expect(&mon, PROMPT));
    /* a telnet client's Enter is CR NUL */
    type(&mon, "inf\tst\t\r");
    g_assert_cmpint(write(mon.master, "", 1), ==, 1);
    expect_exact(&mon,
                 "info status \r\nVM status: paused (prelaunch)\r\n" PROMPT);
    type(&mon, "quit\r\n");
    g_assert_cmpint(tty_wait(&t), ==, 0);
    close(mon.master);
    g_string_free(mon.seen, true);
    tty_close(&t);
}

static void test_telnet(void)
{
    telnet_session(false);
}

/* -monitor telnet:HOST:PORT,server,nowait, as QEMU takes it */
static void test_telnet_shorthand(void)
{
    telnet_session(true);
}

static void test_telnet_bad(void)
{
    static const char *const args[] = {"-monitor", "telnet:127.0.0.1", NULL};
    Tty t;

    tty_start(&t, args);
    g_assert_cmpint(tty_wait(&t), ==, 1);
    g_free(expect(&t, "vmhost: -monitor: 'telnet:127.0.0.1': expected "
                      "telnet:HOST:PORT\r\n"));
    tty_close(&t);
}

/* mux=on: the console's LF-only lines get their CR, Ctrl-A c reaches a
 * monitor that is in readline mode through the mux. */
static void test_mux(void)
{
    static const char *const args[] = {
        "-chardev", "stdio,id=con,mux=on", "-serial", "chardev:con",
        "-mon",     "chardev=con",         NULL};
    Tty t;

    tty_start(&t, args);
    g_free(expect(&t, PROMPT));
    type(&t, "echo hello there\r");
    g_free(expect(&t, "hello there\r\n"));
    type(&t, "\x01"
             "c");
    type(&t, "info st\t");
    g_free(expect(&t, "info status "));
    type(&t, "\r");
    g_free(expect(&t, "\r\nVM status: running\r\n" PROMPT));
    type(&t, "quit\r");
    g_assert_cmpint(tty_wait(&t), ==, 0);
    check_line_ends(&t);
    check_restored(&t);
    tty_close(&t);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    signal(SIGPIPE, SIG_IGN);
    g_test_add_func("/vmhost/tty/readline", test_readline);
    g_test_add_func("/vmhost/tty/sigterm", test_sigterm);
    g_test_add_func("/vmhost/tty/sigcont", test_sigcont);
    g_test_add_func("/vmhost/tty/signal-off", test_signal_off);
    g_test_add_func("/vmhost/tty/error-restores", test_error_restores);
    g_test_add_func("/vmhost/tty/monitor-pty", test_monitor_pty);
    g_test_add_func("/vmhost/tty/mux", test_mux);
    g_test_add_func("/vmhost/tty/telnet", test_telnet);
    g_test_add_func("/vmhost/tty/telnet-shorthand", test_telnet_shorthand);
    g_test_add_func("/vmhost/tty/telnet-bad", test_telnet_bad);
    return g_test_run();
}
