/*
 * HMP sessions over a socket chardev: banner and prompt, help, unknown
 * commands, info, objects, chardevs, ringbuf, guest, line editing.
 */
#include <unistd.h>

#include "monitor-testutil.h"
#include "vmhost-config.h"
#include "vmhost/chardev/chardev-opts.h"
#include "vmhost/machine/probe.h"
#include "vmhost/monitor/hmp.h"
#include "vmhost/object/object.h"
#include "vmhost/vmhost-types.h"

#define VMHOST_VERSION_LINE VMHOST_VERSION " (vmhost)\r\n"

typedef struct {
    VhMonitorHost host;
    MonPeer peer;
    VhHmp *hmp;
    guint quits;
} Fixture;

static void on_quit(void *opaque)
{
    ((Fixture *)opaque)->quits++;
}

static void setup_full(Fixture *f, bool terminal)
{
    g_autofree char *banner = NULL;

    f->host.machine = mon_machine_new();
    f->host.quit = on_quit;
    f->host.opaque = f;
    mon_peer_open(&f->peer, "mon0");
    f->hmp = vh_hmp_new(&f->host, f->peer.chr, terminal);
    banner = mon_read_until(&f->peer, VH_HMP_PROMPT);
    g_assert_cmpstr(banner, ==,
                    "vmhost monitor - type 'help' for more information\r\n"
                    "(vmhost) ");
}

static void setup(Fixture *f)
{
    setup_full(f, false);
}

static void teardown(Fixture *f)
{
    vh_hmp_free(f->hmp);
    vh_monitor_host_clear(&f->host);
    mon_peer_close(&f->peer);
    vh_chardev_remove_all();
    g_clear_object(&f->host.machine);
}

/* Send @line + CR LF; the output before the next prompt (transfer full). */
static char *run(Fixture *f, const char *line)
{
    g_autofree char *text = g_strdup_printf("%s\r\n", line);
    g_autofree char *out = NULL;

    mon_send(&f->peer, text);
    out = mon_read_until(&f->peer, VH_HMP_PROMPT);
    return g_strndup(out, strlen(out) - strlen(VH_HMP_PROMPT));
}

static void expect(Fixture *f, const char *line, const char *output)
{
    g_autofree char *out = run(f, line);

    g_assert_cmpstr(out, ==, output);
}

static void expect_has(Fixture *f, const char *line, const char *part)
{
    g_autofree char *out = run(f, line);

    if (!strstr(out, part)) {
        g_error("%s: '%s' not in '%s'", line, part, out);
    }
}

static void test_help(void)
{
    Fixture f = {0};
    g_autofree char *all = NULL;

    setup(&f);
    all = run(&f, "help");
    g_assert_nonnull(strstr(all, "info status"));
    g_assert_nonnull(strstr(all, "object_add [qom-type=]type,id=str"));
    g_assert_nonnull(strstr(all, "ringbuf_read device size"));
    g_assert_null(strstr(all, "human-monitor-command"));
    expect_has(&f, "help stop", "stop the guest");
    expect_has(&f, "help  info   status ", "info status");
    expect_has(&f, "? info", "info chardev");
    expect_has(&f, "info", "info version");
    expect(&f, "help frob", "unknown command: 'frob'\r\n");
    teardown(&f);
}

static void test_unknown(void)
{
    Fixture f = {0};

    setup(&f);
    expect(&f, "frob", "unknown command: 'frob'\r\n");
    expect(&f, "info frob", "unknown command: 'info frob'\r\n");
    expect(&f, "", "");
    expect(&f, "   ", "");
    expect(&f, "stop now", "Error: stop takes no arguments\r\n");
    expect_has(&f, "object_del", "expects exactly one argument");
    teardown(&f);
}

static void test_status(void)
{
    Fixture f = {0};

    setup(&f);
    expect(&f, "info status", "VM status: paused (prelaunch)\r\n");
    expect(&f, "cont", "");
    expect(&f, "info status", "VM status: running\r\n");
    expect(&f, "stop", "");
    expect(&f, "info status", "VM status: paused\r\n");
    expect_has(&f, "info version", "(vmhost)");
    teardown(&f);
}

static void test_objects(void)
{
    Fixture f = {0};
    g_autoptr(GObject) z = NULL;

    setup(&f);
    expect(&f, "info tls", "no TLS credentials objects\r\n");
    expect(&f, "object_add tls-creds-anon,id=anon0,endpoint=server", "");
    expect_has(&f, "info tls", "anon0: endpoint=server");
    if (VMHOST_TLS_PRIORITY_DEFAULT[0] == '@') {
        /* The tests' system priority file has SYSTEM. */
        expect_has(&f, "info tls",
                   "  requested " VMHOST_TLS_PRIORITY_DEFAULT
                   ": keyword SYSTEM in ");
    }
    expect_has(&f, "object_add tls-creds-anon,id=anon0", "Error: ");
    expect_has(&f, "object_add tls-creds-anon,id=a1,endpoint=middle",
               "endpoint");
    expect_has(&f, "object_add nosuch,id=x", "nosuch");
    expect_has(&f, "object_add", "expects an option string");
    expect(&f, "object_add qom-type=authz-simple,id=z0,identity=CN=bob", "");
    z = vh_object_lookup("z0");
    g_assert_nonnull(z);
    expect(&f, "object_del z0", "");
    expect(&f, "object_del anon0", "");
    expect_has(&f, "object_del anon0", "anon0");
    expect(&f, "info tls", "no TLS credentials objects\r\n");
    teardown(&f);
}

static void test_chardev_ringbuf(void)
{
    Fixture f = {0};

    setup(&f);
    expect(&f, "chardev-add ringbuf,id=rb0,size=1024", "");
    expect_has(&f, "info chardev", "rb0: filename=");
    expect_has(&f, "info chardev", "mon0: filename=");
    expect(&f, "ringbuf_write rb0 hello", "");
    expect(&f, "ringbuf_write rb0 \"two  words\"", "");
    expect(&f, "ringbuf_read rb0 100", "hellotwo  words\r\n");
    expect(&f, "ringbuf_read rb0 100", "");
    expect(&f, "ringbuf_write rb0 a b  c", "");
    expect(&f, "ringbuf_read rb0 3", "a b\r\n");
    expect_has(&f, "ringbuf_read nope 1", "Device 'nope' not found");
    expect_has(&f, "ringbuf_read rb0 lots", "expects an integer");
    expect_has(&f, "ringbuf_write rb0 \"open", "Error: ringbuf_write: ");
    expect_has(&f, "chardev-add ringbuf,id=rb0", "rb0");
    expect_has(&f, "chardev-add frob,id=x", "frob");
    expect_has(&f, "chardev-remove mon0", "busy");
    expect(&f, "chardev-remove rb0", "");
    expect_has(&f, "chardev-remove rb0", "rb0");
    expect(&f, "chardev-add null,id=n0", "");
    expect_has(&f, "ringbuf_write n0 x", "n0 is not a ringbuf device");
    teardown(&f);
}

static void test_guest(void)
{
    Fixture f = {0};

    setup(&f);
    expect(&f, "guest echo hi there", "hi there\r\n");
    expect_has(&f, "guest status", "pages");
    expect_has(&f, "guest help", "verify");
    expect_has(&f, "guest verify", "ok");
    expect_has(&f, "guest frob", "error:");
    expect_has(&f, "guest", "expects a console command");
    teardown(&f);
}

static void test_getfd(void)
{
    Fixture f = {0};

    g_autofree char *out = NULL;
    int p[2];

    setup(&f);
    g_assert_cmpint(pipe(p), ==, 0);
    mon_send_fd(&f.peer, "getfd mig\r\n", p[1]);
    close(p[1]);
    out = mon_read_until(&f.peer, VH_HMP_PROMPT);
    g_assert_cmpstr(out, ==, VH_HMP_PROMPT);
    g_assert_true(
        mon_fd_is_pipe_end(vh_monitor_host_get_fd(&f.host, "mig"), p[0]));
    expect_has(&f, "getfd other", "no file descriptor was received");
    expect(&f, "closefd mig", "");
    expect_has(&f, "closefd mig", "File descriptor named 'mig' not found");
    close(p[0]);
    teardown(&f);
}

static bool quit_seen(void *opaque)
{
    return ((Fixture *)opaque)->quits > 0;
}

static void test_quit(void)
{
    Fixture f = {0};

    setup(&f);
    expect(&f, "quit", "");
    mon_wait(quit_seen, &f);
    teardown(&f);
}

/* HMP's system_powerdown prints nothing; the guest powers off, then quit. */
static void test_system_powerdown(void)
{
    Fixture f = {0};

    setup(&f);
    expect(&f, "cont", "");
    expect(&f, "system_powerdown", "");
    mon_wait(quit_seen, &f);
    g_assert_cmpuint(f.quits, ==, 1);
    g_assert_cmpint(vh_machine_get_state(f.host.machine), ==,
                    VH_RUN_STATE_SHUTDOWN);
    g_assert_true(vh_machine_get_guest_shutdown(f.host.machine));
    expect_has(&f, "system_powerdown", "already shut down");
    expect(&f, "info status", "VM status: paused (shutdown)\r\n");
    teardown(&f);
}

static void test_editing(void)
{
    Fixture f = {0};

    setup(&f);
    /* Backspace and DEL. */
    expect(&f, "infx\x7fo verq\bsion", VMHOST_VERSION_LINE);
    /* Ctrl-U drops what came before. */
    expect(&f, "garbage\x15info status", "VM status: paused (prelaunch)\r\n");
    /* Up runs the last line again; up twice the one before. */
    expect(&f, "\x1b[A", "VM status: paused (prelaunch)\r\n");
    expect(&f, "\x1b[A\x1b[A", VMHOST_VERSION_LINE);
    /* Down past the newest is an empty line. */
    expect(&f, "\x1b[A\x1b[B", "");
    /* LF alone and CR alone end lines too; CR LF is one line. */
    mon_send(&f.peer, "info status\ninfo status\r");
    for (int i = 0; i < 2; i++) {
        g_autofree char *out = mon_read_until(&f.peer, VH_HMP_PROMPT);

        g_assert_cmpstr(out, ==,
                        "VM status: paused (prelaunch)\r\n" VH_HMP_PROMPT);
    }
    expect(&f, "info version", VMHOST_VERSION_LINE);
    mon_settle();
    g_assert_cmpuint(f.peer.in->len, ==, 0);
    teardown(&f);
}

static void test_long_line(void)
{
    Fixture f = {0};
    g_autofree char *line = g_strnfill(VH_HMP_LINE_MAX + 100, 'x');
    g_autofree char *out = NULL;

    setup(&f);
    out = run(&f, line);
    g_assert_cmpuint(strlen(out), ==,
                     strlen("unknown command: ''\r\n") + VH_HMP_LINE_MAX);
    expect(&f, "info status", "VM status: paused (prelaunch)\r\n");
    teardown(&f);
}

static void test_terminal_echo(void)
{
    Fixture f = {0};
    g_autofree char *out = NULL;

    setup_full(&f, true);
    out = run(&f, "info statx\x7fus");
    g_assert_cmpstr(out, ==,
                    "info statx\b \bus\r\nVM status: paused (prelaunch)\r\n");
    teardown(&f);
}

/* Type @keys; exactly @echo must come back. */
static void typed(Fixture *f, const char *keys, const char *echo)
{
    g_autofree char *out = NULL;

    mon_send(&f->peer, keys);
    out = mon_read_until(&f->peer, echo);
    g_assert_cmpstr(out, ==, echo);
}

static void test_terminal_complete(void)
{
    Fixture f = {0};
    g_autofree char *out = NULL;
    VhProbe *probe;
    int p[2];

    setup_full(&f, true);
    /* one match: completed, with a blank */
    typed(&f, "inf\t", "info ");
    typed(&f, "stat\t", "status ");
    typed(&f, "\r", "\r\nVM status: paused (prelaunch)\r\n" VH_HMP_PROMPT);
    /* several: the common prefix, the list, the line again */
    typed(&f, "ring\t",
          "ringbuf_\r\nringbuf_read   ringbuf_write\r\n" VH_HMP_PROMPT
          "ringbuf_");
    typed(&f, "w\t", "write ");
    typed(&f, "\x15", "\033[14D\033[K");
    /* chardev ids for ringbuf_*, chardev-remove */
    typed(&f, "chardev-add ringbuf,id=rb0\r",
          "chardev-add ringbuf,id=rb0\r\n" VH_HMP_PROMPT);
    typed(&f, "chardev-add ringbuf,id=rb1\r",
          "chardev-add ringbuf,id=rb1\r\n" VH_HMP_PROMPT);
    typed(&f, "ringbuf_write r\t",
          "ringbuf_write rb\r\nrb0       rb1\r\n" VH_HMP_PROMPT
          "ringbuf_write rb");
    typed(&f, "0\thi\r", "0 hi\r\n" VH_HMP_PROMPT);
    typed(&f, "ringbuf_read rb0 9\r",
          "ringbuf_read rb0 9\r\nhi\r\n" VH_HMP_PROMPT);
    typed(&f, "chardev-rem\trb1\r", "chardev-remove rb1\r\n" VH_HMP_PROMPT);
    g_assert_null(vh_chardev_lookup("rb1"));
    /* object ids for object_del */
    typed(&f, "object_add authz-simple,id=zed0,identity=CN=a\r",
          "object_add authz-simple,id=zed0,identity=CN=a\r\n" VH_HMP_PROMPT);
    typed(&f, "object_del z\t\r", "object_del zed0 \r\n" VH_HMP_PROMPT);
    g_assert_null(vh_object_lookup("zed0"));
    /* help topics, info subcommands after help info */
    typed(&f, "help inf\t", "help info ");
    typed(&f, "vers\t", "version ");
    out = run(&f, "");
    if (!g_str_has_prefix(out, "\r\ninfo version   ")) {
        g_error("help info version: %s", g_strescape(out, NULL));
    }
    /* getfd names for closefd */
    g_assert_cmpint(pipe(p), ==, 0);
    mon_send_fd(&f.peer, "getfd myfd\r", p[1]);
    close(p[1]);
    close(p[0]);
    g_free(mon_read_until(&f.peer, VH_HMP_PROMPT));
    typed(&f, "closefd m\t\r", "closefd myfd \r\n" VH_HMP_PROMPT);
    g_assert_cmpint(vh_monitor_host_get_fd(&f.host, "myfd"), ==, -1);
    /* object types for object_add, backends for chardev-add */
    typed(&f, "object_add authz-s\t", "object_add authz-simple,");
    typed(&f, "\x15", "\033[24D\033[K");
    typed(&f, "object_add tls-creds-\t",
          "object_add tls-creds-\r\ntls-creds-anon,  tls-creds-psk,   "
          "tls-creds-x509,\r\n" VH_HMP_PROMPT "object_add tls-creds-");
    typed(&f,
          "\x15"
          "chardev-add ring\t",
          "\033[21D\033[Kchardev-add ringbuf,");
    typed(&f, "\x15", "\033[20D\033[K");
    /* probe ids for probe_read/probe_write */
    typed(&f, "chardev-add null,id=n9\r",
          "chardev-add null,id=n9\r\n" VH_HMP_PROMPT);
    typed(&f, "probe_read \t\x15", "probe_read \033[11D\033[K");
    probe = vh_probe_new("pr0", vh_chardev_lookup("n9"), NULL);
    g_assert_nonnull(probe);
    typed(&f, "probe_r\tp\t\x15", "probe_read pr0 \033[15D\033[K");
    vh_probe_free(probe);
    /* nothing to complete: nothing written */
    typed(&f, "frob\t\x15", "frob\b\b\b\b\033[K");
    typed(&f, "stop \t\x15", "stop \033[5D\033[K");
    typed(&f, "info nope\t\x15", "info nope\033[9D\033[K");
    mon_settle();
    g_assert_cmpuint(f.peer.in->len, ==, 0);
    teardown(&f);
}

/* Without a terminal: the keys edit, nothing is echoed, Tab does nothing. */
static void test_line_mode_keys(void)
{
    Fixture f = {0};

    setup(&f);
    expect(&f, "inf\to status", "VM status: paused (prelaunch)\r\n");
    expect(&f, "nfo status\033[Hi\033[F", "VM status: paused (prelaunch)\r\n");
    expect(&f, "info verXsion\033[D\033[D\033[D\033[D\x7f",
           VMHOST_VERSION_LINE);
    expect(&f, "info statusjunk\033[D\033[D\033[D\033[D\x0b",
           "VM status: paused (prelaunch)\r\n");
    expect(&f, "\033[15~\033[2~info\033OP status",
           "VM status: paused (prelaunch)\r\n");
    teardown(&f);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    vh_object_register_builtin_types();
    g_test_add_func("/monitor/hmp/help", test_help);
    g_test_add_func("/monitor/hmp/unknown", test_unknown);
    g_test_add_func("/monitor/hmp/status", test_status);
    g_test_add_func("/monitor/hmp/objects", test_objects);
    g_test_add_func("/monitor/hmp/chardev-ringbuf", test_chardev_ringbuf);
    g_test_add_func("/monitor/hmp/guest", test_guest);
    g_test_add_func("/monitor/hmp/getfd", test_getfd);
    g_test_add_func("/monitor/hmp/quit", test_quit);
    g_test_add_func("/monitor/hmp/system-powerdown", test_system_powerdown);
    g_test_add_func("/monitor/hmp/editing", test_editing);
    g_test_add_func("/monitor/hmp/long-line", test_long_line);
    g_test_add_func("/monitor/hmp/terminal-echo", test_terminal_echo);
    g_test_add_func("/monitor/hmp/terminal-complete", test_terminal_complete);
    g_test_add_func("/monitor/hmp/line-mode-keys", test_line_mode_keys);
    return g_test_run();
}
