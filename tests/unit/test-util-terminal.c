/* Tests for the terminal helpers (lib/util/terminal.c). */
#include "vmhost/util/terminal.h"

#include <fcntl.h>
#include <stdlib.h>
#include <termios.h>
#include <unistd.h>

static void test_not_a_tty(void)
{
    int fds[2];

    g_assert_cmpint(pipe(fds), ==, 0);
    g_assert_cmpstr(vh_tty_line_end(fds[1]), ==, "\n");
    close(fds[0]);
    close(fds[1]);
    g_assert_cmpstr(vh_tty_line_end(fds[1]), ==, "\n"); /* closed */
    g_assert_cmpstr(vh_tty_line_end(-1), ==, "\n");
}

/* A pty in each output mode: only a terminal that translates LF gets LF. */
static void test_tty_modes(void)
{
    static const struct {
        tcflag_t clear; /* bits cleared from c_oflag */
        const char *want;
    } cases[] = {
        {0, "\n"},
        {OPOST, "\r\n"},
        {ONLCR, "\r\n"},
        {OPOST | ONLCR, "\r\n"},
    };
    int master = posix_openpt(O_RDWR | O_NOCTTY);

    g_assert_cmpint(master, >=, 0);
    g_assert_cmpint(grantpt(master), ==, 0);
    g_assert_cmpint(unlockpt(master), ==, 0);
    int slave = open(ptsname(master), O_RDWR | O_NOCTTY);
    g_assert_cmpint(slave, >=, 0);
    struct termios base;
    g_assert_cmpint(tcgetattr(slave, &base), ==, 0);
    base.c_oflag |= OPOST | ONLCR;
    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        struct termios t = base;

        t.c_oflag &= ~cases[i].clear;
        g_assert_cmpint(tcsetattr(slave, TCSANOW, &t), ==, 0);
        g_assert_cmpstr(vh_tty_line_end(slave), ==, cases[i].want);
    }
    close(slave);
    close(master);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/util/terminal/not-a-tty", test_not_a_tty);
    g_test_add_func("/util/terminal/tty-modes", test_tty_modes);
    return g_test_run();
}
