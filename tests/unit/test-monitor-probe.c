/*
 * Tests for probe_write/probe_read (HMP) and probe-write/probe-read (QMP)
 * (lib/monitor/monitor-probe.c): a chardev-probe over a socket chardev on
 * one end of a socketpair, the test at the other end as the remote peer,
 * the commands run through the monitor's command table.
 */
#include "chardev-testutil.h"
#include "vmhost/chardev/char-socket.h"
#include "vmhost/chardev/chardev-opts.h"
#include "vmhost/io/channel-socket.h"
#include "vmhost/machine/probe.h"
#include "vmhost/monitor/monitor.h"

#include <string.h>
#include <unistd.h>

#define TIMEOUT_US (10 * G_USEC_PER_SEC)

typedef struct {
    VhMonitorHost host;
    VhChannelSocket *peer;
    VhChardev *chr;
    VhProbe *probe;
} Fixture;

static void fixture_setup(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;

    f->chr = vh_test_chardev_socketpair("c0", &f->peer);
    g_assert_true(vh_chardev_register(f->chr, &err));
    g_assert_no_error(err);
    f->probe = vh_probe_new("p0", f->chr, &err);
    g_assert_no_error(err);
    while (!vh_chardev_is_connected(f->chr)) {
        g_main_context_iteration(NULL, TRUE);
    }
}

static void fixture_teardown(Fixture *f, gconstpointer data)
{
    vh_probe_free(f->probe);
    vh_chardev_remove_all();
    g_object_unref(f->chr);
    g_clear_object(&f->peer);
    vh_monitor_host_clear(&f->host);
    while (g_main_context_iteration(NULL, FALSE)) {
    }
}

static void send_bytes(Fixture *f, const void *buf, size_t len)
{
    vh_test_peer_write(f->peer, buf, len);
    while (vh_probe_get_received(f->probe) < len) {
        g_main_context_iteration(NULL, TRUE);
    }
}

/* What the peer receives, until it has @n bytes (transfer full). */
static GByteArray *peer_read(Fixture *f, size_t n)
{
    gint64 deadline = g_get_monotonic_time() + TIMEOUT_US;
    GByteArray *got = g_byte_array_new();
    guint8 buf[256];

    while (got->len < n) {
        g_autoptr(GError) err = NULL;
        gssize r;

        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        g_main_context_iteration(NULL, FALSE);
        r = vh_channel_read(VH_CHANNEL(f->peer), buf, sizeof(buf), &err);
        g_assert_no_error(err);
        if (r > 0) {
            g_byte_array_append(got, buf, r);
        } else {
            g_usleep(500);
        }
    }
    return got;
}

static void hmp(Fixture *f, const char *line, const char *expect)
{
    g_autofree char *out = vh_hmp_run_line(&f->host, line);

    g_assert_cmpstr(out, ==, expect);
}

/* Run QMP @name with @json arguments; the result or the error. */
static JsonNode *qmp(Fixture *f, const char *name, const char *json,
                     GError **errp)
{
    g_autoptr(JsonNode) args = json_from_string(json, NULL);
    const VhMonitorCommand *cmd = vh_monitor_find_qmp(name);

    g_assert_nonnull(cmd);
    g_assert_nonnull(args);
    return vh_monitor_run(&f->host, cmd, json_node_get_object(args), errp);
}

static void test_hmp_write(Fixture *f, gconstpointer data)
{
    g_autoptr(GByteArray) a = NULL;
    g_autoptr(GByteArray) b = NULL;

    /* The rest of the line, escapes decoded, nothing appended. */
    hmp(f, "probe_write p0 info  version\\n", "");
    a = peer_read(f, 14);
    g_assert_cmpmem(a->data, a->len, "info  version\n", 14);
    hmp(f, "probe_write p0 \" two \\x01\\\\\\r\"", "");
    b = peer_read(f, 8);
    g_assert_cmpmem(b->data, b->len, " two \x01\\\r", 8);
}

static void test_hmp_read(Fixture *f, gconstpointer data)
{
    send_bytes(f, "QEMU 7.2\r\n\x01\\(qemu) ", 19);
    hmp(f, "probe_read p0 4", "QEMU\n");
    /* What a terminal would eat comes escaped; a line end is added. */
    hmp(f, "probe_read p0", " 7.2\\r\n\\x01\\\\(qemu) \n");
    hmp(f, "probe_read p0 100", "");
}

static void test_qmp(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(JsonNode) w1 = NULL, w2 = NULL, r1 = NULL, r2 = NULL;
    g_autoptr(GByteArray) got = NULL;

    w1 = qmp(f, "probe-write", "{\"device\": \"p0\", \"data\": \"ab\\n\"}",
             &err);
    g_assert_no_error(err);
    w2 = qmp(f, "probe-write",
             "{\"device\": \"p0\", \"data\": \"AP8=\", \"format\": "
             "\"base64\"}",
             &err);
    g_assert_no_error(err);
    got = peer_read(f, 5);
    g_assert_cmpmem(got->data, got->len, "ab\n\0\xff", 5);

    send_bytes(f, "\xff\x00xyz", 5);
    r1 = qmp(f, "probe-read",
             "{\"device\": \"p0\", \"size\": 2, \"format\": \"base64\"}", &err);
    g_assert_no_error(err);
    g_assert_cmpstr(json_node_get_string(r1), ==, "/wA=");
    r2 = qmp(f, "probe-read", "{\"device\": \"p0\"}", &err);
    g_assert_no_error(err);
    g_assert_cmpstr(json_node_get_string(r2), ==, "xyz");
}

static void expect_qmp_error(Fixture *f, const char *name, const char *json,
                             int code, const char *message)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(JsonNode) r = qmp(f, name, json, &err);

    g_assert_null(r);
    g_assert_error(err, VH_QMP_ERROR, code);
    if (!strstr(err->message, message)) {
        g_error("%s %s: got '%s', expected '%s'", name, json, err->message,
                message);
    }
}

static void test_errors(Fixture *f, gconstpointer data)
{
    expect_qmp_error(f, "probe-read", "{\"device\": \"nope\"}",
                     VH_QMP_ERROR_DEVICE_NOT_FOUND, "Device 'nope' not found");
    expect_qmp_error(f, "probe-write", "{\"device\": \"c0\", \"data\": \"x\"}",
                     VH_QMP_ERROR_DEVICE_NOT_FOUND,
                     "Device 'c0' is a chardev, not a chardev-probe");
    expect_qmp_error(f, "probe-write", "{\"device\": \"p0\"}",
                     VH_QMP_ERROR_GENERIC, "Parameter 'data' is missing");
    expect_qmp_error(f, "probe-read", "{}", VH_QMP_ERROR_GENERIC,
                     "Parameter 'device' is missing");
    expect_qmp_error(f, "probe-write",
                     "{\"device\": \"p0\", \"data\": \"x\", \"format\": "
                     "\"hex\"}",
                     VH_QMP_ERROR_GENERIC,
                     "Parameter 'format' expects 'utf8' or 'base64', got "
                     "'hex'");
    expect_qmp_error(f, "probe-write",
                     "{\"device\": \"p0\", \"data\": \"a$b=\", \"format\": "
                     "\"base64\"}",
                     VH_QMP_ERROR_GENERIC,
                     "probe-write p0: parameter 'data' is not valid base64");
    expect_qmp_error(f, "probe-read", "{\"device\": \"p0\", \"size\": -1}",
                     VH_QMP_ERROR_GENERIC,
                     "probe-read p0: parameter 'size' must not be negative");
    expect_qmp_error(f, "probe-read", "{\"device\": \"p0\", \"size\": \"x\"}",
                     VH_QMP_ERROR_GENERIC,
                     "Parameter 'size' expects an integer");

    hmp(f, "probe_write p0",
        "Error: probe_write: expects a device and the "
        "data\n");
    hmp(f, "probe_write p0 a\\q",
        "Error: probe_write: unknown escape '\\q' (use \\n \\r \\t \\\\ \\\" "
        "\\xHH)\n");
    hmp(f, "probe_write p0 a\\x4",
        "Error: probe_write: \\x needs two hex "
        "digits\n");
    {
        /* The shell-style split refuses a trailing backslash first; the
         * data parser still checks on its own. */
        const VhMonitorCommand *cmd = vh_monitor_find_hmp("probe_write");
        char *argv[] = {"p0", "a\\", NULL};
        g_autoptr(GError) err = NULL;
        g_autoptr(JsonObject) o = cmd->hmp_parse("p0 a\\", argv, &err);

        g_assert_null(o);
        g_assert_error(err, VH_QMP_ERROR, VH_QMP_ERROR_GENERIC);
        g_assert_cmpstr(err->message, ==,
                        "probe_write: the data ends in a lone backslash");
    }
    hmp(f, "probe_read",
        "Error: probe_read: expects a device and an "
        "optional size\n");
    hmp(f, "probe_read p0 1 2",
        "Error: probe_read: expects a device and an "
        "optional size\n");
    hmp(f, "probe_read nope",
        "Error: Device 'nope' not found (no "
        "chardev-probe with that id)\n");
}

static void test_no_peer(Fixture *f, gconstpointer data)
{
    g_clear_object(&f->peer);
    while (vh_chardev_is_connected(f->chr)) {
        g_main_context_iteration(NULL, TRUE);
    }
    expect_qmp_error(f, "probe-write", "{\"device\": \"p0\", \"data\": \"x\"}",
                     VH_QMP_ERROR_DEVICE_NOT_ACTIVE,
                     "probe-write p0: chardev 'c0' has no peer connected; "
                     "nothing was sent");
}

static void test_read_only(Fixture *f, gconstpointer data)
{
    f->host.read_only = true;
    expect_qmp_error(f, "probe-read", "{\"device\": \"p0\"}",
                     VH_QMP_ERROR_GENERIC, "not allowed on a read-only");
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
#define ADD(path, fn)                                                          \
    g_test_add("/monitor/probe/" path, Fixture, NULL, fixture_setup, fn,       \
               fixture_teardown)
    ADD("hmp-write", test_hmp_write);
    ADD("hmp-read", test_hmp_read);
    ADD("qmp", test_qmp);
    ADD("errors", test_errors);
    ADD("no-peer", test_no_peer);
    ADD("read-only", test_read_only);
#undef ADD
    return g_test_run();
}
