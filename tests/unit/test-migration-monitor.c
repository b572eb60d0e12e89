/*
 * Tests for the migration commands (lib/monitor/monitor-migration.c): HMP
 * and QMP spellings, parameters and capabilities, info migrate, the
 * progress of `migrate` without -d, MIGRATION events, fd: through getfd.
 */
#include "vmhost/io/channel-socket.h"
#include "vmhost/monitor/hmp.h"
#include "vmhost/monitor/qmp.h"
#include "vmhost/util/error.h"

#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "crypto-testutil.h"
#include "monitor-testutil.h"

/* Run an HMP line through the table (as human-monitor-command does). */
static char *hmp(VhMonitorHost *h, const char *line)
{
    return vh_hmp_run_line(h, line);
}

static void expect_hmp(VhMonitorHost *h, const char *line, const char *want)
{
    g_autofree char *out = hmp(h, line);

    if (!strstr(out, want)) {
        g_error("'%s' said '%s', lacking '%s'", line, out, want);
    }
}

static JsonNode *qmp(VhMonitorHost *h, const char *name, const char *json,
                     GError **errp)
{
    g_autoptr(JsonNode) args = json ? json_from_string(json, NULL) : NULL;

    return vh_monitor_run(h, vh_monitor_find_qmp(name),
                          args ? json_node_get_object(args) : NULL, errp);
}

static void test_parameters(void)
{
    g_autoptr(VhMachine) m = mon_machine_new();
    VhMonitorHost h = {.machine = m};
    g_autoptr(GError) err = NULL;
    g_autoptr(JsonNode) r = NULL;
    JsonObject *o;

    expect_hmp(&h, "info migrate_parameters",
               "max-bandwidth: 134217728 bytes/second");
    expect_hmp(&h, "info migrate_parameters", "downtime-limit: 300 ms");
    expect_hmp(&h, "info migrate_parameters", "multifd-channels: 2");
    expect_hmp(&h, "info migrate_parameters", "x-postcopy-after-passes: 0");
    expect_hmp(&h, "info migrate_parameters",
               "max-postcopy-bandwidth: 0 bytes/second");
    expect_hmp(&h, "migrate_set_parameter x-postcopy-after-passes 3", "");
    expect_hmp(&h, "migrate_set_parameter max-postcopy-bandwidth 5M", "");
    expect_hmp(&h, "info migrate_parameters", "x-postcopy-after-passes: 3");
    expect_hmp(&h, "info migrate_parameters",
               "max-postcopy-bandwidth: 5242880 bytes/second");
    expect_hmp(&h, "info migrate_parameters",
               "x-postcopy-sync-interval: 50 ms");
    expect_hmp(&h, "migrate_set_parameter x-postcopy-sync-interval 0", "");
    expect_hmp(&h, "info migrate_parameters", "x-postcopy-sync-interval: 0 ms");
    expect_hmp(&h, "migrate_set_parameter x-postcopy-sync-interval 5",
               "Error: Parameter 'x-postcopy-sync-interval' expects 0");
    expect_hmp(&h, "help migrate_set_parameter", "x-postcopy-sync-interval");
    expect_hmp(&h, "migrate_set_parameter max-bandwidth 1G", "");
    expect_hmp(&h, "migrate_set_str_parameter tls-creds tls0", "");
    expect_hmp(&h, "migrate_set_parameter downtime-limit 9999999",
               "Error: Parameter 'downtime-limit' expects an integer in the "
               "range of 0 to 2000000 milliseconds");
    expect_hmp(&h, "migrate_set_parameter multifd-channels 0",
               "Parameter 'multifd-channels' expects a value between 1 and 16");
    expect_hmp(&h, "migrate_set_parameter bogus 1",
               "Parameter 'bogus' is unknown");
    expect_hmp(&h, "migrate_set_parameter max-bandwidth",
               "expects PARAMETER VALUE");
    expect_hmp(&h, "info migrate_parameters",
               "max-bandwidth: 1073741824 bytes/second");
    expect_hmp(&h, "info migrate_parameters", "tls-creds: 'tls0'");
    /* QMP: integers are bytes; all or nothing. */
    r = qmp(&h, "migrate-set-parameters",
            "{\"max-bandwidth\": 1000, \"downtime-limit\": 5, "
            "\"tls-creds\": null}",
            &err);
    g_assert_no_error(err);
    g_clear_pointer(&r, json_node_unref);
    g_assert_null(qmp(&h, "migrate-set-parameters",
                      "{\"max-bandwidth\": 7, \"multifd-channels\": 99}",
                      &err));
    g_assert_nonnull(strstr(err->message, "multifd-channels"));
    g_clear_error(&err);
    g_assert_null(
        qmp(&h, "migrate-set-parameters", "{\"downtime-limit\": \"x\"}", &err));
    g_assert_nonnull(strstr(err->message, "expects an integer"));
    g_clear_error(&err);
    r = qmp(&h, "query-migrate-parameters", NULL, &err);
    o = json_node_get_object(r);
    g_assert_cmpint(json_object_get_int_member(o, "max-bandwidth"), ==, 1000);
    g_assert_cmpint(json_object_get_int_member(o, "downtime-limit"), ==, 5);
    g_assert_cmpstr(json_object_get_string_member(o, "tls-creds"), ==, "");
    g_assert_cmpint(json_object_get_int_member(o, "x-postcopy-after-passes"),
                    ==, 3);
    g_assert_cmpint(json_object_get_int_member(o, "max-postcopy-bandwidth"), ==,
                    5 << 20);
    g_clear_pointer(&r, json_node_unref);
    r = qmp(&h, "migrate-set-parameters",
            "{\"x-postcopy-after-passes\": 0, \"max-postcopy-bandwidth\": 0}",
            &err);
    g_assert_no_error(err);
    g_clear_pointer(&r, json_node_unref);
    r = qmp(&h, "query-migrate-parameters", NULL, &err);
    o = json_node_get_object(r);
    g_assert_cmpint(json_object_get_int_member(o, "x-postcopy-after-passes"),
                    ==, 0);
    g_assert_cmpint(json_object_get_int_member(o, "max-postcopy-bandwidth"), ==,
                    0);
    g_clear_pointer(&r, json_node_unref);
    /* Capabilities. */
    expect_hmp(&h, "info migrate_capabilities", "multifd: off");
    expect_hmp(&h, "migrate_set_capability multifd on", "");
    expect_hmp(&h, "info migrate_capabilities", "multifd: on");
    expect_hmp(&h, "info migrate_capabilities", "return-path: on");
    expect_hmp(&h, "migrate_set_capability multifd maybe",
               "state must be on or off");
    expect_hmp(&h, "migrate_set_capability postcopy-ram on", "");
    expect_hmp(&h, "info migrate_capabilities", "postcopy-ram: on");
    expect_hmp(&h, "migrate_set_capability postcopy-ram off", "");
    expect_hmp(&h, "migrate_start_postcopy",
               "Enable postcopy with migrate_set_capability");
    r = qmp(&h, "migrate-set-capabilities",
            "{\"capabilities\": [{\"capability\": \"multifd\", "
            "\"state\": false}, {\"capability\": \"events\", \"state\": "
            "true}]}",
            &err);
    g_assert_no_error(err);
    g_clear_pointer(&r, json_node_unref);
    r = qmp(&h, "query-migrate-capabilities", NULL, &err);
    g_assert_cmpuint(json_array_get_length(json_node_get_array(r)), ==, 4);
    g_assert_false(json_object_get_boolean_member(
        json_array_get_object_element(json_node_get_array(r), 0), "state"));
    g_assert_true(json_object_get_boolean_member(
        json_array_get_object_element(json_node_get_array(r), 1), "state"));
    g_clear_pointer(&r, json_node_unref);
    /* Before any migration. */
    expect_hmp(&h, "info migrate", "Migration status: none");
    r = qmp(&h, "query-migrate", NULL, &err);
    g_assert_cmpstr(
        json_object_get_string_member(json_node_get_object(r), "status"), ==,
        "none");
    g_clear_pointer(&r, json_node_unref);
    /* Errors of the start commands. */
    expect_hmp(&h, "migrate", "expects [-d] URI");
    expect_hmp(&h, "migrate -b unix:/x", "option '-b' is not supported");
    expect_hmp(&h, "migrate_incoming unix:/x", "-incoming");
    vh_monitor_host_clear(&h);
}

/* Two machines, two hosts; HMP migrate over unix: with events. */
typedef struct {
    VhMachine *m[2];
    VhMonitorHost h[2];
    char *dir;
    MonPeer peer;
    VhQmp *qmp;
} Two;

static void two_init(Two *t)
{
    memset(t, 0, sizeof(*t));
    t->dir = vh_test_mkdtemp("vh-mig-mon");
    for (guint i = 0; i < 2; i++) {
        t->m[i] = mon_machine_new();
        t->h[i].machine = t->m[i];
    }
    g_assert_true(vh_machine_cont(t->m[0], NULL));
    g_assert_true(vh_machine_set_state(t->m[1], VH_RUN_STATE_INMIGRATE, NULL));
    vh_test_guest_set_workload(vh_machine_get_test_guest(t->m[0]), 8 << 20,
                               VH_DIRTY_SEQUENTIAL);
    /* About 2.5 MiB of data pages: most of a second at 4 MiB/s. */
    while (vh_test_guest_get_pages_written(vh_machine_get_test_guest(t->m[0])) <
           600) {
        g_usleep(5000);
    }
    vh_test_guest_set_workload(vh_machine_get_test_guest(t->m[0]), 0,
                               VH_DIRTY_SEQUENTIAL);
}

static void two_clear(Two *t)
{
    for (guint i = 0; i < 2; i++) {
        vh_monitor_host_clear(&t->h[i]);
        g_object_unref(t->m[i]);
    }
    vh_test_rm_rf(t->dir);
    g_free(t->dir);
}

static bool both_over(void *opaque)
{
    Two *t = opaque;

    for (guint i = 0; i < 2; i++) {
        g_autofree char *out = hmp(&t->h[i], "info migrate");

        if (!strstr(out, "completed") && !strstr(out, "failed")) {
            return false;
        }
    }
    return true;
}

static void test_hmp_migrate(void)
{
    Two t;
    g_autofree char *uri = NULL;
    g_autofree char *line = NULL;
    g_autofree char *out = NULL;
    g_autofree char *cs = NULL, *cd = NULL;

    two_init(&t);
    uri = g_strdup_printf("unix:%s/m.sock", t.dir);
    line = g_strdup_printf("migrate_incoming %s", uri);
    expect_hmp(&t.h[1], line, "");
    expect_hmp(&t.h[1], line, "has already been started");
    expect_hmp(&t.h[1], "info migrate", "Migration status: setup");
    expect_hmp(&t.h[0], "migrate_set_parameter max-bandwidth 0", "");
    g_free(line);
    line = g_strdup_printf("migrate -d %s", uri);
    expect_hmp(&t.h[0], line, "");
    mon_wait(both_over, &t);
    out = hmp(&t.h[0], "info migrate");
    g_assert_nonnull(strstr(out, "Migration status: completed"));
    g_assert_nonnull(strstr(out, "downtime:"));
    g_assert_nonnull(strstr(out, "dirty tracking: "));
    g_assert_nonnull(strstr(out, "total ram: 8192 kbytes"));
    expect_hmp(&t.h[0], "info status", "postmigrate");
    expect_hmp(&t.h[1], "info status", "running");
    expect_hmp(&t.h[1], "guest verify", "verify: ok");
    cs = hmp(&t.h[0], "guest checksum");
    cd = hmp(&t.h[1], "guest checksum");
    g_assert_cmpstr(cs, ==, cd);
    /* A migration of a postmigrate source may follow (QEMU allows it). */
    expect_hmp(&t.h[0], "migrate_cancel", "");
    two_clear(&t);
}

/* `migrate` without -d on a human monitor: progress, then the result. */
static void test_hmp_progress(gconstpointer data)
{
    bool terminal = GPOINTER_TO_INT(data);
    Two t;
    MonPeer peer;
    g_autoptr(VhHmp) mon = NULL;
    g_autofree char *uri = NULL;
    g_autofree char *line = NULL;
    g_autofree char *out = NULL;

    two_init(&t);
    uri = g_strdup_printf("unix:%s/m.sock", t.dir);
    line = g_strdup_printf("migrate_incoming %s", uri);
    expect_hmp(&t.h[1], line, "");
    mon_peer_open(&peer, "hmp0");
    mon = vh_hmp_new(&t.h[0], peer.chr, terminal);
    g_free(mon_read_until(&peer, VH_HMP_PROMPT));
    /* 4 MiB/s: progress for about a second. */
    mon_send(&peer, "migrate_set_parameter max-bandwidth 4M\n");
    g_free(mon_read_until(&peer, VH_HMP_PROMPT));
    g_free(line);
    line = g_strdup_printf("migrate %s\ninfo status\n", uri);
    mon_send(&peer, line);
    out = mon_read_until(&peer, "migration completed");
    g_assert_nonnull(strstr(out, "% "));
    g_assert_nonnull(strstr(out, "ETA"));
    if (terminal) {
        /* One line redrawn in place: CR, erase, the bar. */
        g_assert_nonnull(strstr(out, "\r\033[K["));
    } else {
        g_assert_nonnull(strstr(out, "migrate: "));
        /* No prompt while it runs (a terminal echoes the typed line). */
        g_assert_null(strstr(out, VH_HMP_PROMPT));
    }
    /* The next line waited until the end. */
    g_assert_null(strstr(out, "VM status"));
    g_free(out);
    out = mon_read_until(&peer, "VM status: paused (postmigrate)");
    g_clear_pointer(&mon, vh_hmp_free);
    mon_peer_close(&peer);
    mon_wait(both_over, &t);
    two_clear(&t);
}

/* QMP: migrate, MIGRATION events, failure reported in query-migrate. */
static void test_qmp_events_and_failure(void)
{
    Two t;
    MonPeer peer;
    g_autoptr(VhQmp) q = NULL;
    g_autoptr(GError) err = NULL;
    g_autoptr(JsonNode) r = NULL;
    g_autofree char *cmd = NULL;
    g_autofree char *out = NULL;
    JsonObject *o;

    two_init(&t);
    mon_peer_open(&peer, "qmp0");
    q = vh_qmp_new(&t.h[0], peer.chr);
    g_free(mon_read_until(&peer, "\n"));
    mon_send(&peer, "{\"execute\": \"qmp_capabilities\"}\n");
    g_free(mon_read_until(&peer, "\n"));
    mon_send(&peer, "{\"execute\": \"migrate-set-capabilities\", "
                    "\"arguments\": {\"capabilities\": [{\"capability\": "
                    "\"events\", \"state\": true}]}}\n");
    g_free(mon_read_until(&peer, "\n"));
    /* Nobody listens there: setup, then failed. */
    cmd = g_strdup_printf("{\"execute\": \"migrate\", \"arguments\": "
                          "{\"uri\": \"unix:%s/none.sock\"}}\n",
                          t.dir);
    mon_send(&peer, cmd);
    out = mon_read_until(&peer, "\"failed\"");
    g_assert_nonnull(strstr(out, "\"return\":{}"));
    g_assert_nonnull(strstr(out, "\"event\":\"MIGRATION\""));
    g_assert_nonnull(strstr(out, "\"status\":\"setup\""));
    r = qmp(&t.h[0], "query-migrate", NULL, &err);
    o = json_node_get_object(r);
    g_assert_cmpstr(json_object_get_string_member(o, "status"), ==, "failed");
    g_assert_nonnull(
        strstr(json_object_get_string_member(o, "error-desc"), "none.sock"));
    g_clear_pointer(&q, vh_qmp_free);
    mon_peer_close(&peer);
    expect_hmp(&t.h[0], "info migrate", "error: ");
    expect_hmp(&t.h[0], "info status", "running");
    two_clear(&t);
}

/*
 * x-postcopy-link-timeout: listed with its default, set from HMP and QMP,
 * and every bad value refused naming the parameter, leaving it as it was.
 */
static void test_link_timeout(void)
{
    g_autoptr(VhMachine) m = mon_machine_new();
    VhMonitorHost h = {.machine = m};
    g_autoptr(GError) err = NULL;
    g_autoptr(JsonNode) r = NULL;
    const char *const bad_hmp[] = {"-1",  "999", "3600001", "99999999999999",
                                   "abc", "2s",  "1e4",     ""};
    const char *const bad_qmp[] = {
        "{\"x-postcopy-link-timeout\": -2000}",
        "{\"x-postcopy-link-timeout\": 500}",
        "{\"x-postcopy-link-timeout\": 86400000000}",
        "{\"x-postcopy-link-timeout\": \"x\"}",
        "{\"x-postcopy-link-timeout\": 2.5}",
        /* all or nothing: max-bandwidth is not changed either */
        "{\"max-bandwidth\": 7, \"x-postcopy-link-timeout\": 1}",
    };

    expect_hmp(&h, "info migrate_parameters",
               "x-postcopy-link-timeout: 10000 ms");
    expect_hmp(&h, "help migrate_set_parameter", "x-postcopy-link-timeout");
    expect_hmp(&h, "migrate_set_parameter x-postcopy-link-timeout 2000", "");
    expect_hmp(&h, "info migrate_parameters",
               "x-postcopy-link-timeout: 2000 ms");
    for (guint i = 0; i < G_N_ELEMENTS(bad_hmp); i++) {
        g_autofree char *line = g_strdup_printf(
            "migrate_set_parameter x-postcopy-link-timeout %s", bad_hmp[i]);
        g_autofree char *out = hmp(&h, line);

        if (!strstr(out, "Parameter 'x-postcopy-link-timeout' expects") &&
            !strstr(out, "expects PARAMETER VALUE")) {
            g_error("'%s' said '%s'", line, out);
        }
    }
    expect_hmp(&h, "migrate_set_parameter x-postcopy-link-timeout 999",
               "expects 0 (off: the kernel's TCP timeouts) or 1000 to "
               "3600000 milliseconds, not 999");
    expect_hmp(&h, "migrate_set_parameter x-postcopy-link-timeout abc",
               "expects an integer, not 'abc'");
    expect_hmp(&h, "info migrate_parameters",
               "x-postcopy-link-timeout: 2000 ms");
    expect_hmp(&h, "migrate_set_parameter x-postcopy-link-timeout 0", "");
    expect_hmp(&h, "info migrate_parameters", "x-postcopy-link-timeout: 0 ms");

    r = qmp(&h, "migrate-set-parameters",
            "{\"x-postcopy-link-timeout\": 3600000}", &err);
    g_assert_no_error(err);
    g_clear_pointer(&r, json_node_unref);
    for (guint i = 0; i < G_N_ELEMENTS(bad_qmp); i++) {
        g_assert_null(qmp(&h, "migrate-set-parameters", bad_qmp[i], &err));
        g_assert_nonnull(err);
        if (!strstr(err->message, "Parameter 'x-postcopy-link-timeout' "
                                  "expects")) {
            g_error("%s: %s", bad_qmp[i], err->message);
        }
        g_clear_error(&err);
    }
    r = qmp(&h, "query-migrate-parameters", NULL, &err);
    g_assert_no_error(err);
    JsonObject *o = json_node_get_object(r);
    g_assert_cmpint(json_object_get_int_member(o, "x-postcopy-link-timeout"),
                    ==, 3600000);
    g_assert_cmpint(json_object_get_int_member(o, "max-bandwidth"), ==,
                    VH_MIG_DEFAULT_MAX_BANDWIDTH);
    vh_monitor_host_clear(&h);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/migration/monitor/parameters", test_parameters);
    g_test_add_func("/migration/monitor/link-timeout", test_link_timeout);
    g_test_add_func("/migration/monitor/hmp-migrate", test_hmp_migrate);
    g_test_add_data_func("/migration/monitor/hmp-progress/lines",
                         GINT_TO_POINTER(false), test_hmp_progress);
    g_test_add_data_func("/migration/monitor/hmp-progress/terminal",
                         GINT_TO_POINTER(true), test_hmp_progress);
    g_test_add_func("/migration/monitor/qmp-events-failure",
                    test_qmp_events_and_failure);
    return g_test_run();
}
