/*
 * Tests for isa-serial (lib/machine/serial.c): the guest console over a
 * socket chardev on one end of a socketpair, the test driving the other
 * end as the operator's terminal would.
 */
#include "chardev-testutil.h"
#include "vmhost/chardev/char-socket.h"
#include "vmhost/io/channel-socket.h"
#include "vmhost/machine/serial.h"

#include <string.h>
#include <unistd.h>

#define TIMEOUT_US (10 * G_USEC_PER_SEC)

typedef struct {
    VhRamBlock *ram;
    VhTestGuest *guest;
    VhChannelSocket *peer; /* the operator's end */
    VhChardev *chr;
    VhSerial *serial;
    GString *out; /* everything read from the console so far */
} Fixture;

static void fixture_setup(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;
    bool console = GPOINTER_TO_INT(data) == 0;

    f->ram = vh_ram_block_new("pc.ram", 1u << 20, false, &err);
    g_assert_no_error(err);
    f->guest = vh_test_guest_new(f->ram, &err);
    g_assert_no_error(err);
    f->chr = vh_test_chardev_socketpair("s0", &f->peer);
    f->serial =
        vh_serial_new("serial0", f->chr, console ? f->guest : NULL, &err);
    g_assert_no_error(err);
    f->out = g_string_new(NULL);
}

static void fixture_teardown(Fixture *f, gconstpointer data)
{
    vh_serial_free(f->serial);
    vh_chardev_close(f->chr);
    g_object_unref(f->chr);
    g_object_unref(f->peer);
    g_string_free(f->out, TRUE);
    vh_test_guest_free(f->guest);
    vh_ram_block_free(f->ram);
    /* Let the closed chardev's sources go. */
    while (g_main_context_iteration(NULL, FALSE)) {
    }
}

static void send_str(Fixture *f, const char *s)
{
    g_autoptr(GError) err = NULL;

    g_assert_true(
        vh_channel_write_all(VH_CHANNEL(f->peer), s, strlen(s), &err));
    g_assert_no_error(err);
}

/* Pump the context and collect output for about @ms milliseconds. */
static void pump(Fixture *f, guint ms)
{
    gint64 end = g_get_monotonic_time() + ms * 1000;
    char buf[4096];

    while (g_get_monotonic_time() < end) {
        g_autoptr(GError) err = NULL;
        gssize n;

        g_main_context_iteration(NULL, FALSE);
        n = vh_channel_read(VH_CHANNEL(f->peer), buf, sizeof(buf), &err);
        g_assert_no_error(err);
        if (n > 0) {
            g_string_append_len(f->out, buf, n);
        } else {
            g_usleep(1000);
        }
    }
}

/* Pump until the output holds @text (asserting it comes in time). */
static void expect(Fixture *f, const char *text)
{
    gint64 deadline = g_get_monotonic_time() + TIMEOUT_US;

    while (!strstr(f->out->str, text)) {
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        pump(f, 2);
    }
}

/* Take everything read so far (transfer full). */
static char *take(Fixture *f)
{
    char *s = g_strdup(f->out->str);

    g_string_truncate(f->out, 0);
    return s;
}

static void test_echo(Fixture *f, gconstpointer data)
{
    g_autofree char *out = NULL;

    send_str(f, "echo hi\n");
    expect(f, "hi\n");
    out = take(f);
    g_assert_cmpstr(out, ==, "hi\n");
    g_assert_cmpuint(vh_serial_get_commands(f->serial), ==, 1);
    g_assert_true(vh_serial_is_console(f->serial));
}

static void test_status_verify(Fixture *f, gconstpointer data)
{
    g_autofree char *status = NULL, *verify = NULL;

    send_str(f, "status\n");
    expect(f, "state:");
    pump(f, 20);
    status = take(f);
    g_assert_true(g_str_has_suffix(status, "\n"));
    g_assert_nonnull(strstr(status, "pages"));

    send_str(f, "verify\n");
    expect(f, "\n");
    verify = take(f);
    g_assert_true(g_str_has_prefix(verify, "verify: ok"));
}

static void test_bad_command(Fixture *f, gconstpointer data)
{
    g_autofree char *out = NULL;

    send_str(f, "frobnicate\nstatus now\necho still here\n");
    expect(f, "still here\n");
    out = take(f);
    g_assert_cmpstr(out, ==,
                    "error: unknown command 'frobnicate' (try 'help')\n"
                    "error: status: takes no arguments\n"
                    "still here\n");
}

static void test_partial_lines(Fixture *f, gconstpointer data)
{
    g_autofree char *out = NULL;

    send_str(f, "ec");
    pump(f, 30);
    g_assert_cmpstr(f->out->str, ==, "");
    send_str(f, "ho one");
    pump(f, 30);
    g_assert_cmpstr(f->out->str, ==, "");
    send_str(f, "\necho two\necho th");
    expect(f, "two\n");
    pump(f, 30);
    g_assert_cmpstr(f->out->str, ==, "one\ntwo\n");
    send_str(f, "ree\n");
    expect(f, "three\n");
    out = take(f);
    g_assert_cmpstr(out, ==, "one\ntwo\nthree\n");
}

static void test_line_ends(Fixture *f, gconstpointer data)
{
    g_autofree char *out = NULL;

    /* CRLF, a lone CR, telnet's CR NUL, LF, and a CRLF split in two. */
    send_str(f, "echo a\r\necho b\recho c\r");
    send_str(f, "\necho d\n");
    g_assert_true(
        vh_channel_write_all(VH_CHANNEL(f->peer), "echo e\r\0", 8, NULL));
    send_str(f, "echo f\n");
    expect(f, "f\n");
    out = take(f);
    g_assert_cmpstr(out, ==, "a\nb\nc\nd\ne\nf\n");
}

static void test_blank_lines(Fixture *f, gconstpointer data)
{
    g_autofree char *out = NULL;

    send_str(f, "\n\r\n   \necho x\n");
    expect(f, "x\n");
    out = take(f);
    g_assert_cmpstr(out, ==, "x\n");
    g_assert_cmpuint(vh_serial_get_commands(f->serial), ==, 1);
}

static void test_too_long(Fixture *f, gconstpointer data)
{
    g_autofree char *big = g_strnfill(VH_SERIAL_LINE_MAX + 10, 'x');
    g_autofree char *out = NULL;

    send_str(f, "echo ");
    send_str(f, big);
    send_str(f, "\necho after\n");
    expect(f, "after\n");
    out = take(f);
    g_assert_cmpstr(out, ==,
                    "error: line too long (more than 4096 bytes)\n"
                    "after\n");
}

/* A line of exactly the limit is still a line. */
static void test_longest_line(Fixture *f, gconstpointer data)
{
    g_autofree char *text = g_strnfill(VH_SERIAL_LINE_MAX - 5, 'y');
    g_autofree char *want = g_strconcat(text, "\n", NULL);
    g_autofree char *out = NULL;

    send_str(f, "echo ");
    send_str(f, text);
    send_str(f, "\n");
    expect(f, "\n");
    out = take(f);
    g_assert_cmpstr(out, ==, want);
}

static void test_plain_port(Fixture *f, gconstpointer data)
{
    send_str(f, "echo hi\n");
    pump(f, 50);
    g_assert_cmpstr(f->out->str, ==, "");
    g_assert_cmpuint(vh_serial_get_dropped(f->serial), ==, 8);
    g_assert_false(vh_serial_is_console(f->serial));
    g_assert_cmpuint(vh_serial_get_commands(f->serial), ==, 0);
}

/* Two ports: only the one given the guest answers. */
static void test_two_ports(Fixture *f, gconstpointer data)
{
    g_autoptr(VhChannelSocket) peer2 = NULL;
    g_autoptr(VhChardev) chr2 = vh_test_chardev_socketpair("s1", &peer2);
    g_autoptr(VhSerial) com2 = vh_serial_new("serial1", chr2, NULL, NULL);
    g_autofree char *out = NULL;
    char buf[16];

    g_assert_nonnull(com2);
    g_assert_true(
        vh_channel_write_all(VH_CHANNEL(peer2), "echo two\n", 9, NULL));
    send_str(f, "echo one\n");
    expect(f, "one\n");
    pump(f, 30);
    out = take(f);
    g_assert_cmpstr(out, ==, "one\n");
    g_assert_cmpint(vh_channel_read(VH_CHANNEL(peer2), buf, sizeof(buf), NULL),
                    ==, VH_CHANNEL_ERR_BLOCK);
    g_assert_cmpuint(vh_serial_get_dropped(com2), ==, 9);
    g_assert_true(vh_chardev_has_frontend(chr2));
    g_clear_pointer(&com2, vh_serial_free);
    g_assert_false(vh_chardev_has_frontend(chr2));
    vh_chardev_close(chr2);
}

static void test_no_id(void)
{
    g_autoptr(VhChannelSocket) peer = NULL;
    g_autoptr(VhChardev) chr = vh_test_chardev_socketpair("s9", &peer);
    g_autoptr(GError) err = NULL;

    g_assert_null(vh_serial_new("", chr, NULL, &err));
    g_assert_error(err, VH_ERROR, VH_ERROR_INVALID_ARGUMENT);
    vh_chardev_close(chr);
}

#define ADD(path, fn, plain)                                                   \
    g_test_add(path, Fixture, GINT_TO_POINTER(plain), fixture_setup, fn,       \
               fixture_teardown)

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    ADD("/machine/serial/console/echo", test_echo, 0);
    ADD("/machine/serial/console/status-verify", test_status_verify, 0);
    ADD("/machine/serial/console/bad-command", test_bad_command, 0);
    ADD("/machine/serial/console/partial-lines", test_partial_lines, 0);
    ADD("/machine/serial/console/line-ends", test_line_ends, 0);
    ADD("/machine/serial/console/blank-lines", test_blank_lines, 0);
    ADD("/machine/serial/console/too-long", test_too_long, 0);
    ADD("/machine/serial/console/longest-line", test_longest_line, 0);
    ADD("/machine/serial/console/two-ports", test_two_ports, 0);
    ADD("/machine/serial/plain/drops", test_plain_port, 1);
    g_test_add_func("/machine/serial/no-id", test_no_id);
    return g_test_run();
}
