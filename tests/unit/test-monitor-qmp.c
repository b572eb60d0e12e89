/*
 * QMP sessions over a socket chardev: greeting, negotiation, every
 * command's success and error, ids, malformed and split input, events.
 */
#include <glib/gstdio.h>
#include <unistd.h>

#include "monitor-testutil.h"
#include "vmhost-config.h"
#include "vmhost/chardev/chardev-opts.h"
#include "vmhost/monitor/qmp.h"
#include "vmhost/object/object.h"
#include "vmhost/vmhost-types.h"

typedef struct {
    VhMonitorHost host;
    MonPeer peer;
    VhQmp *qmp;
    guint quits;
} Fixture;

static void on_quit(void *opaque)
{
    ((Fixture *)opaque)->quits++;
}

static JsonObject *cmd(Fixture *f, const char *json)
{
    mon_send(&f->peer, json);
    return mon_read_json(&f->peer);
}

/* Run @json and expect a return (transfer full: the return member). */
static JsonNode *ok(Fixture *f, const char *json)
{
    g_autoptr(JsonObject) r = cmd(f, json);

    if (json_object_has_member(r, "error")) {
        g_error("%s: %s", json,
                json_object_get_string_member(
                    json_object_get_object_member(r, "error"), "desc"));
    }
    g_assert_true(json_object_has_member(r, "return"));
    return json_node_copy(json_object_get_member(r, "return"));
}

/* Run @json and expect an error of @cls whose desc contains @desc. */
static void fails(Fixture *f, const char *json, const char *cls,
                  const char *desc)
{
    g_autoptr(JsonObject) r = cmd(f, json);
    JsonObject *e;

    g_assert_false(json_object_has_member(r, "return"));
    e = json_object_get_object_member(r, "error");
    g_assert_nonnull(e);
    g_assert_cmpstr(json_object_get_string_member(e, "class"), ==, cls);
    if (!strstr(json_object_get_string_member(e, "desc"), desc)) {
        g_error("'%s' not in '%s'", desc,
                json_object_get_string_member(e, "desc"));
    }
}

static void setup(Fixture *f, bool negotiate)
{
    f->host.machine = mon_machine_new();
    f->host.quit = on_quit;
    f->host.opaque = f;
    f->qmp = mon_qmp_open(&f->peer, &f->host);
    if (negotiate) {
        g_autoptr(JsonNode) r G_GNUC_UNUSED =
            ok(f, "{\"execute\": \"qmp_capabilities\"}");
    }
}

static void teardown(Fixture *f)
{
    mon_qmp_close(&f->peer, &f->host, f->qmp);
    g_clear_object(&f->host.machine);
}

static void test_greeting(void)
{
    Fixture f = {0};
    g_autoptr(JsonObject) g = NULL;
    JsonObject *q, *v;

    f.host.machine = mon_machine_new();
    mon_peer_open(&f.peer, "qmp0");
    f.qmp = vh_qmp_new(&f.host, f.peer.chr);
    g = mon_read_json(&f.peer);
    q = json_object_get_object_member(g, "QMP");
    v = json_object_get_object_member(q, "version");
    g_assert_true(json_object_has_member(
        json_object_get_object_member(v, "qemu"), "major"));
    g_assert_cmpstr(json_object_get_string_member(v, "package"), ==, "vmhost");
    g_assert_cmpuint(
        json_array_get_length(json_object_get_array_member(q, "capabilities")),
        ==, 0);
    teardown(&f);
}

static void test_negotiation(void)
{
    Fixture f = {0};
    g_autoptr(JsonNode) r = NULL;

    setup(&f, false);
    fails(&f, "{\"execute\": \"query-status\"}", "CommandNotFound",
          "Expecting capabilities negotiation with 'qmp_capabilities'");
    fails(&f,
          "{\"execute\": \"qmp_capabilities\", \"arguments\": "
          "{\"enable\": [\"oob\"]}}",
          "GenericError", "no QMP capabilities");
    r = ok(&f, "{\"execute\": \"qmp_capabilities\"}");
    fails(&f, "{\"execute\": \"qmp_capabilities\"}", "CommandNotFound",
          "Capabilities negotiation is already complete");
    teardown(&f);
}

static void test_id_echo(void)
{
    Fixture f = {0};
    g_autoptr(JsonObject) a = NULL, b = NULL, c = NULL;

    setup(&f, true);
    a = cmd(&f, "{\"execute\": \"query-version\", \"id\": \"abc\"}");
    g_assert_cmpstr(json_object_get_string_member(a, "id"), ==, "abc");
    b = cmd(&f, "{\"execute\": \"nosuch\", \"id\": 42}");
    g_assert_cmpint(json_object_get_int_member(b, "id"), ==, 42);
    g_assert_true(json_object_has_member(b, "error"));
    c = cmd(&f, "{\"id\": {\"x\": [1]}, \"execute\": \"query-status\"}");
    g_assert_cmpint(json_array_get_length(json_object_get_array_member(
                        json_object_get_object_member(c, "id"), "x")),
                    ==, 1);
    teardown(&f);
}

static void test_status_stop_cont(void)
{
    Fixture f = {0};
    g_autoptr(JsonNode) st = NULL;
    g_autoptr(JsonObject) m1 = NULL, m2 = NULL, m3 = NULL, m4 = NULL;
    g_autoptr(JsonNode) st2 = NULL;

    setup(&f, true);
    st = ok(&f, "{\"execute\": \"query-status\"}");
    g_assert_cmpstr(
        json_object_get_string_member(json_node_get_object(st), "status"), ==,
        "prelaunch");
    g_assert_false(
        json_object_get_boolean_member(json_node_get_object(st), "running"));

    /* cont: the RESUME event, then the reply. */
    m1 = cmd(&f, "{\"execute\": \"cont\", \"id\": 1}");
    g_assert_cmpstr(json_object_get_string_member(m1, "event"), ==, "RESUME");
    g_assert_true(json_object_has_member(
        json_object_get_object_member(m1, "timestamp"), "microseconds"));
    m2 = mon_read_json(&f.peer);
    g_assert_true(json_object_has_member(m2, "return"));
    g_assert_true(vh_machine_is_running(f.host.machine));

    m3 = cmd(&f, "{\"execute\": \"stop\"}");
    g_assert_cmpstr(json_object_get_string_member(m3, "event"), ==, "STOP");
    m4 = mon_read_json(&f.peer);
    g_assert_true(json_object_has_member(m4, "return"));
    st2 = ok(&f, "{\"execute\": \"query-status\"}");
    g_assert_cmpstr(
        json_object_get_string_member(json_node_get_object(st2), "status"), ==,
        "paused");

    /* A stop with nothing to stop changes nothing and sends no event. */
    g_clear_pointer(&st2, json_node_unref);
    st2 = ok(&f, "{\"execute\": \"stop\"}");
    vh_machine_shutdown(f.host.machine);
    fails(&f, "{\"execute\": \"cont\"}", "GenericError", "shutdown");
    teardown(&f);
}

static void test_no_machine(void)
{
    Fixture f = {0};

    setup(&f, true);
    vh_qmp_free(f.qmp);
    g_clear_object(&f.host.machine);
    f.qmp = vh_qmp_new(&f.host, f.peer.chr);
    {
        g_autoptr(JsonObject) g G_GNUC_UNUSED = mon_read_json(&f.peer);
        g_autoptr(JsonNode) r G_GNUC_UNUSED =
            ok(&f, "{\"execute\": \"qmp_capabilities\"}");
    }
    fails(&f, "{\"execute\": \"query-status\"}", "GenericError", "no machine");
    fails(&f, "{\"execute\": \"stop\"}", "GenericError", "no machine");
    fails(&f, "{\"execute\": \"system_powerdown\"}", "GenericError",
          "no machine");
    teardown(&f);
}

static void test_unknown_and_malformed(void)
{
    Fixture f = {0};
    g_autoptr(JsonNode) r = NULL;

    setup(&f, true);
    fails(&f, "{\"execute\": \"nosuch\"}", "CommandNotFound",
          "The command nosuch has not been found");
    fails(&f, "{\"execute\": }", "GenericError", "JSON parse error");
    fails(&f, "hello\n", "GenericError", "JSON parse error");
    fails(&f, "[1, 2]", "GenericError", "QMP input must be a JSON object");
    fails(&f, "{\"arguments\": {}}", "GenericError",
          "QMP input member 'execute' is missing");
    fails(&f, "{\"execute\": 1}", "GenericError",
          "QMP input member 'execute' must be a string");
    fails(&f, "{\"execute\": \"stop\", \"arguments\": []}", "GenericError",
          "'arguments' must be an object");
    fails(&f, "{\"execute\": \"stop\", \"bogus\": 1}", "GenericError",
          "QMP input member 'bogus' is unexpected");
    fails(&f, "{\"execute\": \"object-del\"}", "GenericError",
          "Parameter 'id' is missing");
    fails(&f, "{\"execute\": \"object-del\", \"arguments\": {\"id\": 5}}",
          "GenericError", "Invalid parameter type for 'id', expected: string");
    /* Still up. */
    r = ok(&f, "{\"execute\": \"query-version\"}");
    teardown(&f);
}

static void test_split_and_multiple(void)
{
    Fixture f = {0};
    g_autoptr(JsonObject) a = NULL, b = NULL, c = NULL;

    setup(&f, true);
    mon_send(&f.peer, "{\"execute\": \"query-");
    mon_settle();
    g_assert_cmpuint(f.peer.in->len, ==, 0);
    mon_send(&f.peer, "version\", \"id\": \"split\"}");
    a = mon_read_json(&f.peer);
    g_assert_cmpstr(json_object_get_string_member(a, "id"), ==, "split");

    mon_send(&f.peer, "{\"execute\":\"query-version\",\"id\":1}"
                      "{\"execute\":\"query-status\",\"id\":2}\n");
    b = mon_read_json(&f.peer);
    c = mon_read_json(&f.peer);
    g_assert_cmpint(json_object_get_int_member(b, "id"), ==, 1);
    g_assert_cmpint(json_object_get_int_member(c, "id"), ==, 2);
    g_assert_true(json_object_has_member(c, "return"));
    teardown(&f);
}

/* Braces inside strings do not end an object. */
static void test_braces_in_strings(void)
{
    Fixture f = {0};
    g_autoptr(JsonNode) r = NULL;

    setup(&f, true);
    r = ok(&f, "{\"execute\": \"guest-command\", \"arguments\": "
               "{\"command-line\": \"echo }{ \\\"]\"}}");
    g_assert_cmpstr(json_node_get_string(r), ==, "}{ \"]");
    teardown(&f);
}

static void test_guest(void)
{
    Fixture f = {0};
    g_autoptr(JsonNode) echo = NULL, st = NULL, ver = NULL;

    setup(&f, true);
    echo = ok(&f, "{\"execute\": \"guest-command\", \"arguments\": "
                  "{\"command-line\": \"echo hello\"}}");
    g_assert_cmpstr(json_node_get_string(echo), ==, "hello");
    st = ok(&f, "{\"execute\": \"guest-command\", \"arguments\": "
                "{\"command-line\": \"status\"}}");
    g_assert_nonnull(strstr(json_node_get_string(st), "pages"));
    ver = ok(&f, "{\"execute\": \"guest-command\", \"arguments\": "
                 "{\"command-line\": \"verify\"}}");
    g_assert_null(strstr(json_node_get_string(ver), "error"));
    fails(&f, "{\"execute\": \"guest-command\"}", "GenericError",
          "Parameter 'command-line' is missing");
    teardown(&f);
}

static void test_hmp_passthrough(void)
{
    Fixture f = {0};
    g_autoptr(JsonNode) r = NULL, u = NULL;

    setup(&f, true);
    r = ok(&f, "{\"execute\": \"human-monitor-command\", \"arguments\": "
               "{\"command-line\": \"info status\"}}");
    g_assert_cmpstr(json_node_get_string(r), ==,
                    "VM status: paused (prelaunch)\n");
    u = ok(&f, "{\"execute\": \"human-monitor-command\", \"arguments\": "
               "{\"command-line\": \"frob\"}}");
    g_assert_cmpstr(json_node_get_string(u), ==, "unknown command: 'frob'\n");
    teardown(&f);
}

static void test_objects(void)
{
    Fixture f = {0};
    g_autoptr(JsonNode) a = NULL, b = NULL, c = NULL, tls = NULL, d = NULL;
    g_autoptr(GObject) z = NULL;
    JsonObject *e;

    setup(&f, true);
    a = ok(&f, "{\"execute\": \"object-add\", \"arguments\": {\"qom-type\": "
               "\"tls-creds-anon\", \"id\": \"anon0\", \"endpoint\": "
               "\"server\", \"verify-peer\": false}}");
    tls = ok(&f, "{\"execute\": \"query-tls\"}");
    g_assert_cmpuint(json_array_get_length(json_node_get_array(tls)), ==, 1);
    e = json_array_get_object_element(json_node_get_array(tls), 0);
    g_assert_cmpstr(json_object_get_string_member(e, "id"), ==, "anon0");
    g_assert_cmpstr(json_object_get_string_member(e, "endpoint"), ==, "server");
    g_assert_nonnull(
        strstr(json_object_get_string_member(e, "priority"), "ANON"));
    g_assert_cmpstr(json_object_get_string_member(e, "priority-source"), ==,
                    "default");
    /* The tests' system priority file has SYSTEM (tests/unit/meson.build). */
    g_assert_cmpstr(json_object_get_string_member(e, "priority-requested"), ==,
                    VMHOST_TLS_PRIORITY_DEFAULT);
    if (VMHOST_TLS_PRIORITY_DEFAULT[0] == '@') {
        g_assert_cmpstr(json_object_get_string_member(e, "priority-resolution"),
                        ==, "keyword");
        g_assert_cmpstr(json_object_get_string_member(e, "priority-keyword"),
                        ==, "SYSTEM");
        g_assert_cmpstr(json_object_get_string_member(e, "priority-file"), ==,
                        g_getenv("GNUTLS_SYSTEM_PRIORITY_FILE"));
    }
    fails(&f,
          "{\"execute\": \"object-add\", \"arguments\": {\"qom-type\": "
          "\"tls-creds-anon\", \"id\": \"anon0\"}}",
          "GenericError", "anon0");
    fails(&f,
          "{\"execute\": \"object-add\", \"arguments\": {\"qom-type\": "
          "\"nosuch-type\", \"id\": \"x\"}}",
          "GenericError", "nosuch-type");
    fails(&f, "{\"execute\": \"object-add\", \"arguments\": {\"id\": \"x\"}}",
          "GenericError", "Parameter 'qom-type' is missing");

    /* The old "props" form, and a JSON list of authz-list rules. */
    b = ok(&f, "{\"execute\": \"object-add\", \"arguments\": {\"qom-type\": "
               "\"authz-simple\", \"id\": \"z0\", \"props\": {\"identity\": "
               "\"CN=alice\"}}}");
    z = vh_object_lookup("z0");
    g_assert_nonnull(z);
    c = ok(&f, "{\"execute\": \"object-add\", \"arguments\": {\"qom-type\": "
               "\"authz-list\", \"id\": \"l0\", \"policy\": \"deny\", "
               "\"rules\": [{\"match\": \"CN=*\", \"policy\": \"allow\", "
               "\"format\": \"glob\"}]}}");
    d = ok(&f, "{\"execute\": \"object-del\", \"arguments\": {\"id\": "
               "\"anon0\"}}");
    fails(&f,
          "{\"execute\": \"object-del\", \"arguments\": {\"id\": "
          "\"anon0\"}}",
          "GenericError", "anon0");
    g_assert_true(vh_object_del("z0", NULL));
    g_assert_true(vh_object_del("l0", NULL));
    teardown(&f);
}

static JsonObject *find_chardev(JsonNode *list, const char *label)
{
    JsonArray *a = json_node_get_array(list);

    for (guint i = 0; i < json_array_get_length(a); i++) {
        JsonObject *o = json_array_get_object_element(a, i);

        if (g_str_equal(json_object_get_string_member(o, "label"), label)) {
            return o;
        }
    }
    return NULL;
}

static void test_chardev(void)
{
    Fixture f = {0};
    g_autoptr(JsonNode) a = NULL, b = NULL, c = NULL, d = NULL, list = NULL;
    g_autoptr(JsonNode) rm = NULL, e = NULL;
    g_autofree char *dir = g_dir_make_tmp("vh-qmp-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "out.log", NULL);
    g_autofree char *file_add = NULL;
    JsonObject *o;

    setup(&f, true);
    a = ok(&f, "{\"execute\": \"chardev-add\", \"arguments\": {\"id\": "
               "\"rb1\", \"backend\": {\"type\": \"ringbuf\", \"data\": "
               "{\"size\": 1024}}}}");
    b = ok(&f, "{\"execute\": \"chardev-add\", \"arguments\": {\"id\": "
               "\"s1\", \"backend\": {\"type\": \"socket\", \"data\": "
               "{\"addr\": {\"type\": \"inet\", \"data\": {\"host\": "
               "\"127.0.0.1\", \"port\": \"0\"}}, \"server\": true, "
               "\"wait\": false}}}}");
    c = ok(&f, "{\"execute\": \"chardev-add\", \"arguments\": {\"id\": "
               "\"n1\", \"backend\": {\"type\": \"null\", \"data\": {}}}}");
    file_add = g_strdup_printf(
        "{\"execute\": \"chardev-add\", \"arguments\": {\"id\": \"f1\", "
        "\"backend\": {\"type\": \"file\", \"data\": {\"out\": \"%s\"}}}}",
        path);
    d = ok(&f, file_add);
    g_assert_true(g_file_test(path, G_FILE_TEST_EXISTS));
    fails(&f,
          "{\"execute\": \"chardev-add\", \"arguments\": {\"id\": \"n1\", "
          "\"backend\": {\"type\": \"null\"}}}",
          "GenericError", "n1");
    fails(&f,
          "{\"execute\": \"chardev-add\", \"arguments\": {\"id\": \"x1\", "
          "\"backend\": {\"type\": \"bogus\"}}}",
          "GenericError", "bogus");
    fails(&f,
          "{\"execute\": \"chardev-add\", \"arguments\": {\"id\": \"x1\", "
          "\"backend\": {\"type\": \"socket\", \"data\": {\"addr\": "
          "{\"type\": \"vsock\", \"data\": {}}}}}}",
          "GenericError", "vsock");

    list = ok(&f, "{\"execute\": \"query-chardev\"}");
    o = find_chardev(list, "s1");
    g_assert_nonnull(o);
    g_assert_nonnull(
        strstr(json_object_get_string_member(o, "filename"), "127.0.0.1"));
    g_assert_false(json_object_get_boolean_member(o, "frontend-open"));
    o = find_chardev(list, "qmp0");
    g_assert_nonnull(o);
    g_assert_true(json_object_get_boolean_member(o, "frontend-open"));
    g_assert_nonnull(find_chardev(list, "rb1"));
    g_assert_nonnull(find_chardev(list, "f1"));

    /* The monitor's own chardev is busy. */
    fails(&f,
          "{\"execute\": \"chardev-remove\", \"arguments\": {\"id\": "
          "\"qmp0\"}}",
          "GenericError", "busy");
    rm = ok(&f, "{\"execute\": \"chardev-remove\", \"arguments\": {\"id\": "
                "\"s1\"}}");
    fails(&f,
          "{\"execute\": \"chardev-remove\", \"arguments\": {\"id\": "
          "\"s1\"}}",
          "GenericError", "s1");
    e = ok(&f, "{\"execute\": \"chardev-remove\", \"arguments\": {\"id\": "
               "\"f1\"}}");
    g_unlink(path);
    g_rmdir(dir);
    teardown(&f);
}

static void test_ringbuf(void)
{
    Fixture f = {0};
    g_autoptr(JsonNode) a = NULL, w = NULL, r = NULL, w2 = NULL, r2 = NULL;
    g_autoptr(JsonNode) n = NULL, empty = NULL;

    setup(&f, true);
    a = ok(&f, "{\"execute\": \"chardev-add\", \"arguments\": {\"id\": "
               "\"rb1\", \"backend\": {\"type\": \"ringbuf\", \"data\": "
               "{\"size\": 1024}}}}");
    w = ok(&f, "{\"execute\": \"ringbuf-write\", \"arguments\": {\"device\": "
               "\"rb1\", \"data\": \"hello world\"}}");
    r = ok(&f, "{\"execute\": \"ringbuf-read\", \"arguments\": {\"device\": "
               "\"rb1\", \"size\": 5}}");
    g_assert_cmpstr(json_node_get_string(r), ==, "hello");
    w2 = ok(&f, "{\"execute\": \"ringbuf-write\", \"arguments\": {\"device\": "
                "\"rb1\", \"data\": \"AAEC\", \"format\": \"base64\"}}");
    r2 = ok(&f, "{\"execute\": \"ringbuf-read\", \"arguments\": {\"device\": "
                "\"rb1\", \"size\": 100, \"format\": \"base64\"}}");
    /* " world" then 00 01 02 */
    g_assert_cmpstr(json_node_get_string(r2), ==, "IHdvcmxkAAEC");
    empty = ok(&f, "{\"execute\": \"ringbuf-read\", \"arguments\": "
                   "{\"device\": \"rb1\", \"size\": 10}}");
    g_assert_cmpstr(json_node_get_string(empty), ==, "");

    fails(&f,
          "{\"execute\": \"ringbuf-read\", \"arguments\": {\"device\": "
          "\"nope\", \"size\": 1}}",
          "DeviceNotFound", "Device 'nope' not found");
    n = ok(&f, "{\"execute\": \"chardev-add\", \"arguments\": {\"id\": "
               "\"n1\", \"backend\": {\"type\": \"null\"}}}");
    fails(&f,
          "{\"execute\": \"ringbuf-write\", \"arguments\": {\"device\": "
          "\"n1\", \"data\": \"x\"}}",
          "GenericError", "n1 is not a ringbuf device");
    fails(&f,
          "{\"execute\": \"ringbuf-read\", \"arguments\": {\"device\": "
          "\"rb1\", \"size\": \"many\"}}",
          "GenericError",
          "Invalid parameter type for 'size', expected: integer");
    fails(&f,
          "{\"execute\": \"ringbuf-read\", \"arguments\": {\"device\": "
          "\"rb1\", \"size\": 1, \"format\": \"hex\"}}",
          "GenericError", "'format'");
    fails(&f,
          "{\"execute\": \"ringbuf-write\", \"arguments\": {\"device\": "
          "\"rb1\", \"data\": \"not base64!\", \"format\": \"base64\"}}",
          "GenericError",
          "ringbuf-write: parameter 'data' is not valid base64");
    teardown(&f);
}

static void test_getfd(void)
{
    Fixture f = {0};
    g_autoptr(JsonObject) r = NULL, r2 = NULL;
    g_autoptr(JsonNode) c = NULL;
    char b;
    int p[2], q[2];

    setup(&f, true);
    g_assert_cmpint(pipe(p), ==, 0);
    g_assert_cmpint(pipe(q), ==, 0);
    mon_send_fd(&f.peer,
                "{\"execute\": \"getfd\", \"arguments\": "
                "{\"fdname\": \"mig\"}, \"id\": 1}",
                p[1]);
    r = mon_read_json(&f.peer);
    g_assert_true(json_object_has_member(r, "return"));
    g_assert_true(
        mon_fd_is_pipe_end(vh_monitor_host_get_fd(&f.host, "mig"), p[0]));
    /* The same name again replaces (and closes) the old fd. */
    mon_send_fd(&f.peer,
                "{\"execute\": \"getfd\", \"arguments\": "
                "{\"fdname\": \"mig\"}}",
                q[1]);
    r2 = mon_read_json(&f.peer);
    g_assert_true(json_object_has_member(r2, "return"));
    g_assert_true(
        mon_fd_is_pipe_end(vh_monitor_host_get_fd(&f.host, "mig"), q[0]));
    close(p[1]);
    close(q[1]);

    fails(&f, "{\"execute\": \"getfd\", \"arguments\": {\"fdname\": \"m\"}}",
          "GenericError", "no file descriptor was received");
    fails(&f, "{\"execute\": \"getfd\", \"arguments\": {\"fdname\": \"1m\"}}",
          "GenericError", "not starting with a digit");
    fails(&f, "{\"execute\": \"getfd\"}", "GenericError",
          "Parameter 'fdname' is missing");
    c = ok(&f, "{\"execute\": \"closefd\", \"arguments\": "
               "{\"fdname\": \"mig\"}}");
    g_assert_cmpint(vh_monitor_host_get_fd(&f.host, "mig"), ==, -1);
    /* Both write ends are closed now: the pipes read EOF. */
    g_assert_cmpint(read(p[0], &b, 1), ==, 0);
    g_assert_cmpint(read(q[0], &b, 1), ==, 0);
    fails(&f,
          "{\"execute\": \"closefd\", \"arguments\": {\"fdname\": \"mig\"}}",
          "GenericError", "File descriptor named 'mig' not found");
    close(p[0]);
    close(q[0]);
    teardown(&f);
}

static bool quit_seen(void *opaque)
{
    return ((Fixture *)opaque)->quits > 0;
}

static void test_quit(void)
{
    Fixture f = {0};
    g_autoptr(JsonObject) r = NULL, ev = NULL;

    setup(&f, true);
    r = cmd(&f, "{\"execute\": \"quit\", \"id\": \"q\"}");
    g_assert_true(json_object_has_member(r, "return"));
    ev = mon_read_json(&f.peer);
    g_assert_cmpstr(json_object_get_string_member(ev, "event"), ==, "SHUTDOWN");
    g_assert_false(json_object_get_boolean_member(
        json_object_get_object_member(ev, "data"), "guest"));
    mon_wait(quit_seen, &f);
    g_assert_cmpuint(f.quits, ==, 1);
    teardown(&f);
}

/* The next event, skipping none: its name must be @name. */
static JsonObject *expect_event(Fixture *f, const char *name)
{
    JsonObject *ev = mon_read_json(&f->peer);

    g_assert_cmpstr(json_object_get_string_member(ev, "event"), ==, name);
    return ev;
}

static void expect_guest_shutdown(Fixture *f)
{
    g_autoptr(JsonObject) ev = expect_event(f, "SHUTDOWN");
    JsonObject *data = json_object_get_object_member(ev, "data");

    g_assert_true(json_object_get_boolean_member(data, "guest"));
    g_assert_cmpstr(json_object_get_string_member(data, "reason"), ==,
                    "guest-shutdown");
}

/* Running: reply, POWERDOWN, SHUTDOWN (guest), then quit; once only. */
static void test_system_powerdown(void)
{
    Fixture f = {0};
    g_autoptr(JsonObject) r = NULL, pd = NULL, resume = NULL, cont = NULL;

    setup(&f, true);
    /* cont: RESUME, then its reply. */
    resume = cmd(&f, "{\"execute\": \"cont\"}");
    g_assert_cmpstr(json_object_get_string_member(resume, "event"), ==,
                    "RESUME");
    cont = mon_read_json(&f.peer);
    g_assert_true(json_object_has_member(cont, "return"));
    r = cmd(&f, "{\"execute\": \"system_powerdown\", \"id\": 7}");
    g_assert_true(json_object_has_member(r, "return"));
    g_assert_cmpint(json_object_get_int_member(r, "id"), ==, 7);
    pd = expect_event(&f, "POWERDOWN");
    expect_guest_shutdown(&f);
    mon_wait(quit_seen, &f);
    g_assert_cmpuint(f.quits, ==, 1);
    g_assert_cmpint(vh_machine_get_state(f.host.machine), ==,
                    VH_RUN_STATE_SHUTDOWN);
    g_assert_true(vh_machine_get_guest_shutdown(f.host.machine));
    g_assert_true(
        vh_test_guest_is_paused(vh_machine_get_test_guest(f.host.machine)));
    /* The guest is gone: a second press, and cont, say so. */
    fails(&f, "{\"execute\": \"system_powerdown\"}", "GenericError",
          "already shut down");
    fails(&f, "{\"execute\": \"cont\"}", "GenericError", "has shut down");
    mon_settle();
    g_assert_cmpuint(f.quits, ==, 1);
    teardown(&f);
}

/* Not running: the press is kept; the guest powers off once cont runs it. */
static void test_system_powerdown_paused(void)
{
    Fixture f = {0};
    g_autoptr(JsonNode) r1 = NULL, r2 = NULL;
    g_autoptr(JsonObject) pd = NULL, resume = NULL, r3 = NULL;

    setup(&f, true);
    r1 = ok(&f, "{\"execute\": \"system_powerdown\"}");
    pd = expect_event(&f, "POWERDOWN");
    r2 = ok(&f, "{\"execute\": \"query-status\"}");
    g_assert_cmpstr(
        json_object_get_string_member(json_node_get_object(r2), "status"), ==,
        "prelaunch");
    g_assert_cmpuint(f.quits, ==, 0);
    g_assert_false(vh_machine_get_guest_shutdown(f.host.machine));
    /* The guest runs (RESUME), cont answers, then it powers off. */
    resume = cmd(&f, "{\"execute\": \"cont\"}");
    g_assert_cmpstr(json_object_get_string_member(resume, "event"), ==,
                    "RESUME");
    r3 = mon_read_json(&f.peer);
    g_assert_true(json_object_has_member(r3, "return"));
    expect_guest_shutdown(&f);
    mon_wait(quit_seen, &f);
    g_assert_cmpint(vh_machine_get_state(f.host.machine), ==,
                    VH_RUN_STATE_SHUTDOWN);
    teardown(&f);
}

/* quit is the host ending the machine: not a guest shutdown. */
static void test_quit_is_not_guest_shutdown(void)
{
    Fixture f = {0};
    g_autoptr(JsonNode) r = NULL;
    g_autoptr(JsonObject) pd = NULL;

    setup(&f, true);
    r = ok(&f, "{\"execute\": \"system_powerdown\"}");
    pd = expect_event(&f, "POWERDOWN");
    vh_machine_shutdown(f.host.machine);
    mon_settle();
    g_assert_false(vh_machine_get_guest_shutdown(f.host.machine));
    g_assert_cmpuint(f.quits, ==, 0);
    g_assert_cmpuint(f.peer.in->len, ==, 0);
    teardown(&f);
}

static void test_events_before_negotiation(void)
{
    Fixture f = {0};
    g_autoptr(JsonNode) r = NULL;
    g_autoptr(GError) err = NULL;

    setup(&f, false);
    g_assert_true(vh_machine_cont(f.host.machine, &err));
    vh_qmp_emit_event("CUSTOM", NULL);
    mon_settle();
    g_assert_cmpuint(f.peer.in->len, ==, 0);
    r = ok(&f, "{\"execute\": \"qmp_capabilities\"}");
    {
        g_autoptr(JsonObject) data = json_object_new();
        g_autoptr(JsonObject) ev = NULL;

        json_object_set_string_member(data, "k", "v");
        vh_qmp_emit_event("CUSTOM", data);
        ev = mon_read_json(&f.peer);
        g_assert_cmpstr(json_object_get_string_member(ev, "event"), ==,
                        "CUSTOM");
        g_assert_cmpstr(json_object_get_string_member(
                            json_object_get_object_member(ev, "data"), "k"),
                        ==, "v");
    }
    teardown(&f);
}

static void test_read_only(void)
{
    Fixture f = {0};
    g_autoptr(JsonNode) st = NULL, cmds = NULL, hmc = NULL;

    setup(&f, true);
    f.host.read_only = true;
    st = ok(&f, "{\"execute\": \"query-status\"}");
    cmds = ok(&f, "{\"execute\": \"query-commands\"}");
    g_assert_cmpuint(json_array_get_length(json_node_get_array(cmds)), >, 10);
    fails(&f, "{\"execute\": \"stop\"}", "GenericError", "read-only");
    hmc = ok(&f, "{\"execute\": \"human-monitor-command\", \"arguments\": "
                 "{\"command-line\": \"stop\"}}");
    g_assert_nonnull(strstr(json_node_get_string(hmc), "read-only"));
    g_assert_cmpint(vh_machine_get_state(f.host.machine), ==,
                    VH_RUN_STATE_PRELAUNCH);
    teardown(&f);
}

static void detached_out(const char *line, size_t len, void *opaque)
{
    g_string_append_len(opaque, line, len);
}

static void test_detached(void)
{
    VhMonitorHost host = {.read_only = true};
    g_autoptr(GString) out = g_string_new(NULL);
    g_autoptr(VhQmp) qmp = vh_qmp_new_detached(&host, detached_out, out);
    const char *in = "{\"execute\":\"qmp_capabilities\"}\n"
                     "{\"execute\":\"query-version\",\"id\":9}";

    g_assert_true(g_str_has_prefix(out->str, "{\"QMP\""));
    g_string_truncate(out, 0);
    vh_qmp_feed(qmp, (const guint8 *)in, strlen(in));
    g_assert_cmpstr(out->str, ==,
                    "{\"return\":{}}\r\n"
                    "{\"return\":{\"qemu\":{\"major\":0,\"minor\":1,"
                    "\"micro\":0},\"package\":\"vmhost\"},\"id\":9}\r\n");
}

static guint count_lines(const char *s, const char *part)
{
    guint n = 0;

    for (const char *p = s; (p = strstr(p, part)); p += strlen(part)) {
        n++;
    }
    return n;
}

/* Every command: arguments checked against its list, in QEMU's words. */
static void test_args_checked(void)
{
    Fixture f = {0};
    g_autoptr(JsonNode) a = NULL, b = NULL, c = NULL, d = NULL;
    guint n = 0;
    const VhMonitorCommand *cmds = vh_monitor_commands(&n);

    setup(&f, false);
    fails(&f,
          "{\"execute\": \"qmp_capabilities\", \"arguments\": {\"bogus\": 1}}",
          "GenericError", "Parameter 'bogus' is unexpected");
    a = ok(&f, "{\"execute\": \"qmp_capabilities\", \"arguments\": "
               "{\"enable\": []}}");

    /* an unknown argument never reaches a handler */
    for (guint i = 0; i < n; i++) {
        g_autofree char *in = NULL;
        g_autoptr(JsonObject) r = NULL;
        const char *desc;

        if (!cmds[i].qmp_name) {
            continue;
        }
        in = g_strdup_printf("{\"execute\": \"%s\", \"arguments\": "
                             "{\"bogus\": 1}}",
                             cmds[i].qmp_name);
        r = cmd(&f, in);
        g_assert_true(json_object_has_member(r, "error"));
        desc = json_object_get_string_member(
            json_object_get_object_member(r, "error"), "desc");
        if (!g_str_equal(desc, "Parameter 'bogus' is unexpected") &&
            !(g_str_has_prefix(desc, "Parameter '") &&
              g_str_has_suffix(desc, "' is missing")) &&
            !strstr(desc, "bogus")) {
            g_error("%s: %s", cmds[i].qmp_name, desc);
        }
    }
    g_assert_cmpint(vh_machine_get_state(f.host.machine), ==,
                    VH_RUN_STATE_PRELAUNCH);

    fails(&f, "{\"execute\": \"query-status\", \"arguments\": {\"bogus\": 1}}",
          "GenericError", "Parameter 'bogus' is unexpected");
    fails(&f, "{\"execute\": \"stop\", \"arguments\": {\"force\": true}}",
          "GenericError", "Parameter 'force' is unexpected");
    /* required, optional, typed */
    b = ok(&f, "{\"execute\": \"chardev-add\", \"arguments\": {\"id\": "
               "\"rbx\", \"backend\": {\"type\": \"ringbuf\", \"data\": "
               "{\"size\": 64}}}}");
    fails(&f,
          "{\"execute\": \"ringbuf-read\", \"arguments\": {\"device\": "
          "\"rbx\"}}",
          "GenericError", "Parameter 'size' is missing");
    fails(&f,
          "{\"execute\": \"ringbuf-read\", \"arguments\": {\"device\": "
          "\"rbx\", \"size\": \"5\"}}",
          "GenericError",
          "Invalid parameter type for 'size', expected: integer");
    fails(&f,
          "{\"execute\": \"ringbuf-read\", \"arguments\": {\"device\": 1, "
          "\"size\": 5}}",
          "GenericError",
          "Invalid parameter type for 'device', expected: string");
    fails(&f,
          "{\"execute\": \"ringbuf-read\", \"arguments\": {\"device\": "
          "\"rbx\", \"size\": 5, \"bogus\": null}}",
          "GenericError", "Parameter 'bogus' is unexpected");
    c = ok(&f, "{\"execute\": \"ringbuf-read\", \"arguments\": {\"device\": "
               "\"rbx\", \"size\": 5, \"format\": \"base64\"}}");
    fails(&f,
          "{\"execute\": \"ringbuf-write\", \"arguments\": {\"device\": "
          "\"rbx\", \"data\": \"x\", \"format\": 64}}",
          "GenericError",
          "Invalid parameter type for 'format', expected: string");
    fails(&f,
          "{\"execute\": \"human-monitor-command\", \"arguments\": "
          "{\"command-line\": \"info status\", \"cpu-index\": \"x\"}}",
          "GenericError",
          "Invalid parameter type for 'cpu-index', expected: integer");
    d = ok(&f, "{\"execute\": \"human-monitor-command\", \"arguments\": "
               "{\"command-line\": \"info status\", \"cpu-index\": 0}}");
    fails(&f,
          "{\"execute\": \"migrate-set-capabilities\", \"arguments\": "
          "{\"capabilities\": {}}}",
          "GenericError",
          "Invalid parameter type for 'capabilities', expected: array");

    /* object-add: properties typed by the object's type, as in QEMU */
    fails(&f,
          "{\"execute\": \"object-add\", \"arguments\": {\"qom-type\": "
          "\"tls-creds-anon\", \"id\": \"an1\", \"verify-peer\": \"no\"}}",
          "GenericError",
          "Invalid parameter type for 'verify-peer', expected: boolean");
    fails(&f,
          "{\"execute\": \"object-add\", \"arguments\": {\"qom-type\": "
          "\"tls-creds-anon\", \"id\": \"an1\", \"props\": {\"endpoint\": "
          "1}}}",
          "GenericError",
          "Invalid parameter type for 'endpoint', expected: string");
    fails(&f,
          "{\"execute\": \"object-add\", \"arguments\": {\"qom-type\": "
          "\"tls-creds-anon\", \"id\": \"an1\", \"bogus\": 1}}",
          "GenericError", "Parameter 'bogus' is unexpected");
    teardown(&f);
}

/* Two members of one object with the same name are refused, as in QEMU. */
static void test_duplicate_keys(void)
{
    Fixture f = {0};
    g_autoptr(JsonNode) a = NULL, b = NULL;

    setup(&f, true);
    fails(&f, "{\"execute\": \"query-status\", \"execute\": \"query-name\"}",
          "GenericError", "JSON parse error, duplicate key 'execute'");
    fails(&f,
          "{\"execute\": \"object-del\", \"arguments\": {\"id\": \"a\", "
          "\"id\": \"b\"}}",
          "GenericError", "JSON parse error, duplicate key 'id'");
    fails(&f,
          "{\"execute\": \"object-add\", \"arguments\": {\"qom-type\": "
          "\"authz-list\", \"id\": \"l9\", \"rules\": [{\"match\": \"a\", "
          "\"match\": \"b\"}]}}",
          "GenericError", "JSON parse error, duplicate key 'match'");
    /* the same name in sibling and nested objects is fine */
    a = ok(&f, "{\"execute\": \"object-add\", \"arguments\": {\"qom-type\": "
               "\"authz-list\", \"id\": \"l9\", \"rules\": [{\"match\": "
               "\"CN=a\", \"policy\": \"allow\"}, {\"match\": \"CN=b\", "
               "\"policy\": \"deny\"}]}, \"id\": {\"id\": 1}}");
    b = ok(&f, "{\"execute\": \"object-del\", \"arguments\": {\"id\": "
               "\"l9\"}}");
    teardown(&f);
}

static void feed(VhQmp *qmp, const char *text)
{
    vh_qmp_feed(qmp, (const guint8 *)text, strlen(text));
}

/*
 * Over-deep and over-long input: one error as soon as the limit is
 * crossed, the rest of that line dropped, the monitor serves on.
 */
static void test_limits(void)
{
    VhMonitorHost host = {.read_only = true};
    g_autoptr(GString) out = g_string_new(NULL);
    g_autoptr(VhQmp) qmp = vh_qmp_new_detached(&host, detached_out, out);
    g_autofree char *deep = g_strnfill(100000, '[');
    g_autofree char *open_ok = g_strnfill(VH_QMP_DEPTH_MAX, '[');
    g_autofree char *close_ok = g_strnfill(VH_QMP_DEPTH_MAX, ']');
    g_autofree char *big = g_strnfill(VH_QMP_INPUT_MAX, 'a');

    feed(qmp, "{\"execute\":\"qmp_capabilities\"}\n");
    g_string_truncate(out, 0);

    /* 100,000 unclosed '[': answered at once, without a newline yet */
    feed(qmp, deep);
    g_assert_cmpuint(count_lines(out->str, "\r\n"), ==, 1);
    g_assert_nonnull(strstr(out->str, "JSON nesting depth limit exceeded"));
    /* the rest of the line is dropped, then the next line is served */
    feed(qmp, "]]]{\"execute\":\"query-version\",\"id\":1}[[[");
    feed(qmp, deep);
    g_assert_cmpuint(count_lines(out->str, "\r\n"), ==, 1);
    feed(qmp, "\n{\"execute\":\"query-version\",\"id\":2}");
    g_assert_cmpuint(count_lines(out->str, "\r\n"), ==, 2);
    g_assert_true(g_str_has_suffix(out->str, "\"id\":2}\r\n"));

    /* QEMU's limit: 1024 levels parse (not an object), 1025 do not */
    g_string_truncate(out, 0);
    feed(qmp, open_ok);
    feed(qmp, close_ok);
    g_assert_nonnull(strstr(out->str, "QMP input must be a JSON object"));
    feed(qmp, "\n");
    feed(qmp, open_ok);
    feed(qmp, "[");
    g_assert_cmpuint(count_lines(out->str, "nesting depth limit"), ==, 1);
    feed(qmp, "\n{\"execute\":\"query-version\",\"id\":3}");
    g_assert_true(g_str_has_suffix(out->str, "\"id\":3}\r\n"));

    /* one value over VH_QMP_INPUT_MAX bytes: answered before it ends */
    g_string_truncate(out, 0);
    feed(qmp, "{\"execute\":\"query-version\",\"id\":\"");
    feed(qmp, big);
    g_assert_cmpuint(count_lines(out->str, "\r\n"), ==, 1);
    g_assert_nonnull(strstr(out->str, "JSON token size limit exceeded"));
    feed(qmp, big);
    feed(qmp, "\"}{\"execute\":\"query-version\",\"id\":4}\n");
    g_assert_cmpuint(count_lines(out->str, "\r\n"), ==, 1);
    feed(qmp, "{\"execute\":\"query-version\",\"id\":5}");
    g_assert_cmpuint(count_lines(out->str, "\r\n"), ==, 2);
    g_assert_true(g_str_has_suffix(out->str, "\"id\":5}\r\n"));
}

/* The same over a socket: later commands on the connection are served. */
static void test_deep_nesting_socket(void)
{
    Fixture f = {0};
    g_autofree char *deep = g_strnfill(100000, '[');
    g_autoptr(JsonNode) r = NULL;

    setup(&f, true);
    fails(&f, deep, "GenericError", "JSON nesting depth limit exceeded");
    mon_send(&f.peer, "\n");
    r = ok(&f, "{\"execute\": \"query-status\"}");
    teardown(&f);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    vh_object_register_builtin_types();
    g_test_add_func("/monitor/qmp/greeting", test_greeting);
    g_test_add_func("/monitor/qmp/negotiation", test_negotiation);
    g_test_add_func("/monitor/qmp/id-echo", test_id_echo);
    g_test_add_func("/monitor/qmp/status-stop-cont", test_status_stop_cont);
    g_test_add_func("/monitor/qmp/no-machine", test_no_machine);
    g_test_add_func("/monitor/qmp/unknown-and-malformed",
                    test_unknown_and_malformed);
    g_test_add_func("/monitor/qmp/split-and-multiple", test_split_and_multiple);
    g_test_add_func("/monitor/qmp/braces-in-strings", test_braces_in_strings);
    g_test_add_func("/monitor/qmp/guest", test_guest);
    g_test_add_func("/monitor/qmp/human-monitor-command", test_hmp_passthrough);
    g_test_add_func("/monitor/qmp/objects", test_objects);
    g_test_add_func("/monitor/qmp/chardev", test_chardev);
    g_test_add_func("/monitor/qmp/ringbuf", test_ringbuf);
    g_test_add_func("/monitor/qmp/getfd", test_getfd);
    g_test_add_func("/monitor/qmp/quit", test_quit);
    g_test_add_func("/monitor/qmp/system-powerdown", test_system_powerdown);
    g_test_add_func("/monitor/qmp/system-powerdown-paused",
                    test_system_powerdown_paused);
    g_test_add_func("/monitor/qmp/system-powerdown-then-host-shutdown",
                    test_quit_is_not_guest_shutdown);
    g_test_add_func("/monitor/qmp/events-after-negotiation",
                    test_events_before_negotiation);
    g_test_add_func("/monitor/qmp/read-only", test_read_only);
    g_test_add_func("/monitor/qmp/detached", test_detached);
    g_test_add_func("/monitor/qmp/limits", test_limits);
    g_test_add_func("/monitor/qmp/deep-nesting-socket",
                    test_deep_nesting_socket);
    g_test_add_func("/monitor/qmp/args-checked", test_args_checked);
    g_test_add_func("/monitor/qmp/duplicate-keys", test_duplicate_keys);
    return g_test_run();
}
