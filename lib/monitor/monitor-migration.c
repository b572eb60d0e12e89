/*
 * Migration commands (QEMU's spellings, HMP and QMP), the MIGRATION event
 * and the progress bar of `migrate` without -d.
 */
#include "monitor-internal.h"

#include <string.h>

#include "vmhost/util/error.h"
#include "vmhost/util/size.h"

#define PROGRESS_MS 250

/* ---- the host's migration ---- */

static int fd_lookup(const char *name, GError **errp, void *opaque)
{
    VhMonitorHost *host = opaque;
    int fd = vh_monitor_host_take_fd(host, name);

    if (fd < 0) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "fd:%s: no file descriptor named '%s' (pass one first "
                    "with getfd %s on a UNIX socket monitor)",
                    name, name, name);
    }
    return fd;
}

static void on_status(VhMigration *mig, VhMigStatus status, void *opaque)
{
    g_autoptr(JsonObject) data = NULL;

    if (!vh_migration_get_capability(mig, "events")) {
        return;
    }
    data = json_object_new();
    json_object_set_string_member(data, "status", vh_mig_status_name(status));
    vh_qmp_emit_event("MIGRATION", data);
}

void vh_monitor_host_set_migration(VhMonitorHost *host, VhMigration *mig)
{
    host->migration = mig;
    if (mig) {
        vh_migration_set_fd_lookup(mig, fd_lookup, host);
        vh_migration_set_status_func(mig, on_status, host);
    }
}

static VhMigration *get_mig(VhMonitorHost *host, GError **errp)
{
    if (!host->migration) {
        if (!host->machine) {
            g_set_error_literal(errp, VH_QMP_ERROR, VH_QMP_ERROR_GENERIC,
                                "this vmhost has no machine to migrate");
            return NULL;
        }
        /* Freed by vh_monitor_host_clear(). */
        host->own_migration = true;
        vh_monitor_host_set_migration(host, vh_migration_new(host->machine));
    }
    return host->migration;
}

/* ---- migrate, with the progress bar ---- */

typedef struct {
    VhMonitorHost *host; /* outlives the monitors */
    VhMigration *mig;    /* valid while host->migration is still it */
    VhHmpAsync *async;
    guint timer;
    gint64 last_line_us;
} Progress;

static char *eta_text(double seconds)
{
    guint64 s = (guint64)(seconds + 0.5);

    if (seconds < 0 || seconds > 360000) {
        return g_strdup("--:--");
    }
    return g_strdup_printf("%" G_GUINT64_FORMAT ":%02u", s / 60,
                           (guint)(s % 60));
}

static char *progress_text(const VhMigInfo *i, bool terminal)
{
    double pct =
        i->total ? 100.0 * (double)(i->total - MIN(i->remaining, i->total)) /
                       (double)i->total
                 : 0;
    double rate = i->mbps * 1e6 / 8; /* bytes/s */
    g_autofree char *rem = vh_size_format(i->remaining);
    g_autofree char *eta = eta_text(rate > 0 ? i->remaining / rate : -1);
    char bar[31];
    guint fill = (guint)(pct * 30 / 100);

    if (i->status == VH_MIG_STATUS_SETUP) {
        return g_strdup(terminal ? "\r\033[K[connecting]" : "migrate: setup\n");
    }
    for (guint k = 0; k < 30; k++) {
        bar[k] = k < fill ? '=' : (k == fill ? '>' : ' ');
    }
    bar[30] = 0;
    if (terminal) {
        return g_strdup_printf("\r\033[K[%s] %5.1f%%  %7.1f MB/s  remaining "
                               "%s  ETA %s  pass %" G_GUINT64_FORMAT,
                               bar, pct, rate / 1e6, rem, eta,
                               i->dirty_sync_count + 1);
    }
    return g_strdup_printf("migrate: %.1f%% %.1f MB/s remaining %s ETA %s "
                           "pass %" G_GUINT64_FORMAT "\n",
                           pct, rate / 1e6, rem, eta, i->dirty_sync_count + 1);
}

static char *final_text(const VhMigInfo *i)
{
    g_autofree char *tot = vh_size_format(i->transferred);

    switch (i->status) {
    case VH_MIG_STATUS_COMPLETED:
        return g_strdup_printf(
            "migration completed: %s in %" G_GINT64_FORMAT
            " ms (%.1f MB/s), downtime %" G_GINT64_FORMAT " ms\n",
            tot, i->total_time,
            i->total_time ? (double)i->transferred / 1e3 / i->total_time : 0.0,
            i->downtime);
    case VH_MIG_STATUS_CANCELLED:
        return g_strdup("migration cancelled\n");
    case VH_MIG_STATUS_FAILED:
    default:
        return g_strdup_printf("migration failed: %s\n",
                               i->error ? i->error : "unknown error");
    }
}

static gboolean progress_tick(gpointer opaque)
{
    Progress *p = opaque;
    VhMigInfo info;
    bool terminal = vh_hmp_async_is_terminal(p->async);
    bool over;

    if (p->host->migration != p->mig) {
        /* The migration went away with its machine (vmhost quits). */
        vh_hmp_async_done(p->async, "migration abandoned\n");
        g_free(p);
        return G_SOURCE_REMOVE;
    }
    vh_migration_get_info(p->mig, &info);
    over = info.status == VH_MIG_STATUS_COMPLETED ||
           info.status == VH_MIG_STATUS_FAILED ||
           info.status == VH_MIG_STATUS_CANCELLED;
    if (over) {
        g_autofree char *last = progress_text(&info, terminal);
        g_autofree char *fin = final_text(&info);
        g_autofree char *out =
            terminal ? g_strconcat(last, "\n", fin, NULL) : g_strdup(fin);

        vh_hmp_async_done(p->async, out);
        vh_mig_info_clear(&info);
        g_free(p);
        return G_SOURCE_REMOVE;
    }
    /* Plain lines once a second; a terminal line is redrawn each tick. */
    if (terminal ||
        g_get_monotonic_time() - p->last_line_us >= G_USEC_PER_SEC) {
        g_autofree char *line = progress_text(&info, terminal);

        vh_hmp_async_print(p->async, line);
        p->last_line_us = g_get_monotonic_time();
    }
    vh_mig_info_clear(&info);
    return G_SOURCE_CONTINUE;
}

JsonObject *vh_mon_parse_migrate(const char *rest, char **argv, GError **errp)
{
    JsonObject *o;
    bool detach = false, resume = false;
    const char *uri = NULL;

    for (guint i = 0; argv && argv[i]; i++) {
        if (g_str_equal(argv[i], "-d")) {
            detach = true;
        } else if (g_str_equal(argv[i], "-r")) {
            resume = detach = true;
        } else if (argv[i][0] == '-' && !uri) {
            g_set_error(errp, VH_QMP_ERROR, VH_QMP_ERROR_GENERIC,
                        "migrate: option '%s' is not supported (only -d, -r)",
                        argv[i]);
            return NULL;
        } else if (!uri) {
            uri = argv[i];
        } else {
            g_set_error(errp, VH_QMP_ERROR, VH_QMP_ERROR_GENERIC,
                        "migrate: one URI expected, got also '%s'", argv[i]);
            return NULL;
        }
    }
    if (!uri) {
        g_set_error_literal(errp, VH_QMP_ERROR, VH_QMP_ERROR_GENERIC,
                            "migrate: expects [-d] URI");
        return NULL;
    }
    o = json_object_new();
    json_object_set_string_member(o, "uri", uri);
    json_object_set_boolean_member(o, "detach", detach);
    if (resume) {
        json_object_set_boolean_member(o, "resume", true);
    }
    json_object_set_boolean_member(o, "x-hmp-progress", !detach);
    return o;
}

JsonNode *vh_mon_migrate(VhMonitorHost *host, JsonObject *args, GError **errp)
{
    VhMigration *mig = get_mig(host, errp);
    const char *uri = NULL;
    bool progress = false, resume = false;
    VhHmpAsync *async;
    Progress *p;

    if (!mig || !vh_mon_arg_str(args, "uri", true, &uri, errp) ||
        !vh_mon_arg_bool(args, "x-hmp-progress", false, &progress, errp) ||
        !vh_mon_arg_bool(args, "resume", false, &resume, errp)) {
        return NULL;
    }
    if (resume) {
        return vh_migration_resume(mig, uri, errp) ? vh_mon_empty() : NULL;
    }
    if (!vh_migration_start(mig, uri, errp)) {
        return NULL;
    }
    /* Only a human monitor's own line waits (not human-monitor-command). */
    async = progress ? vh_hmp_async_begin() : NULL;
    if (async) {
        p = g_new0(Progress, 1);
        p->host = host;
        p->mig = mig;
        p->async = async;
        p->timer = g_timeout_add(PROGRESS_MS, progress_tick, p);
    }
    return vh_mon_empty();
}

JsonNode *vh_mon_migrate_cancel(VhMonitorHost *host, JsonObject *args,
                                GError **errp)
{
    VhMigration *mig = get_mig(host, errp);

    if (!mig) {
        return NULL;
    }
    vh_migration_cancel(mig);
    return vh_mon_empty();
}

JsonNode *vh_mon_migrate_recover(VhMonitorHost *host, JsonObject *args,
                                 GError **errp)
{
    VhMigration *mig = get_mig(host, errp);
    const char *uri = NULL;

    if (!mig || !vh_mon_arg_str(args, "uri", true, &uri, errp) ||
        !vh_migration_recover(mig, uri, errp)) {
        return NULL;
    }
    return vh_mon_empty();
}

JsonNode *vh_mon_migrate_pause(VhMonitorHost *host, JsonObject *args,
                               GError **errp)
{
    VhMigration *mig = get_mig(host, errp);

    if (!mig || !vh_migration_pause(mig, errp)) {
        return NULL;
    }
    return vh_mon_empty();
}

JsonNode *vh_mon_migrate_start_postcopy(VhMonitorHost *host, JsonObject *args,
                                        GError **errp)
{
    VhMigration *mig = get_mig(host, errp);

    if (!mig || !vh_migration_start_postcopy(mig, errp)) {
        return NULL;
    }
    return vh_mon_empty();
}

JsonObject *vh_mon_parse_uri(const char *rest, char **argv, GError **errp)
{
    return vh_mon_hmp_one("uri", rest, argv, errp);
}

JsonNode *vh_mon_migrate_incoming(VhMonitorHost *host, JsonObject *args,
                                  GError **errp)
{
    VhMigration *mig = get_mig(host, errp);
    const char *uri = NULL;

    if (!mig || !vh_mon_arg_str(args, "uri", true, &uri, errp) ||
        !vh_migration_incoming(mig, uri, errp)) {
        return NULL;
    }
    return vh_mon_empty();
}

/* ---- parameters ---- */

JsonObject *vh_mon_parse_set_parameter(const char *rest, char **argv,
                                       GError **errp)
{
    JsonObject *o;

    if (!argv || !argv[0] || !argv[1] || argv[2]) {
        g_set_error_literal(errp, VH_QMP_ERROR, VH_QMP_ERROR_GENERIC,
                            "migrate_set_parameter: expects PARAMETER VALUE");
        return NULL;
    }
    o = json_object_new();
    json_object_set_string_member(o, "parameter", argv[0]);
    json_object_set_string_member(o, "value", argv[1]);
    return o;
}

JsonNode *vh_mon_migrate_set_parameter(VhMonitorHost *host, JsonObject *args,
                                       GError **errp)
{
    VhMigration *mig = get_mig(host, errp);
    const char *name = NULL, *value = NULL;

    if (!mig || !vh_mon_arg_str(args, "parameter", true, &name, errp) ||
        !vh_mon_arg_str(args, "value", true, &value, errp) ||
        !vh_migration_set_parameter_str(mig, name, value, errp)) {
        return NULL;
    }
    return vh_mon_empty();
}

JsonNode *vh_mon_migrate_set_parameters(VhMonitorHost *host, JsonObject *args,
                                        GError **errp)
{
    VhMigration *mig = get_mig(host, errp);
    g_autoptr(GList) members = NULL;
    VhMigParams p;

    if (!mig) {
        return NULL;
    }
    /* All or nothing: check every member on a copy first. */
    vh_migration_get_params(mig, &p);
    members = json_object_get_members(args);
    for (GList *m = members; m; m = m->next) {
        const char *name = m->data;
        JsonNode *n = json_object_get_member(args, name);
        bool ok;

        if (JSON_NODE_HOLDS_NULL(n)) {
            ok = vh_mig_params_set_str(&p, name, "", false, errp);
        } else if (JSON_NODE_HOLDS_VALUE(n) &&
                   json_node_get_value_type(n) == G_TYPE_STRING &&
                   (g_str_has_prefix(name, "tls-") ||
                    !g_strv_contains(vh_mig_param_names(), name))) {
            ok = vh_mig_params_set_str(&p, name, json_node_get_string(n), false,
                                       errp);
        } else if (JSON_NODE_HOLDS_VALUE(n) &&
                   json_node_get_value_type(n) == G_TYPE_INT64) {
            ok = vh_mig_params_set_int(&p, name, json_node_get_int(n), errp);
        } else {
            g_set_error(errp, VH_QMP_ERROR, VH_QMP_ERROR_GENERIC,
                        "Parameter '%s' expects %s", name,
                        g_str_has_prefix(name, "tls-") ? "a string"
                                                       : "an integer");
            ok = false;
        }
        if (!ok) {
            vh_mig_params_clear(&p);
            return NULL;
        }
    }
    vh_migration_set_params(mig, &p);
    return vh_mon_empty();
}

JsonNode *vh_mon_query_migrate_parameters(VhMonitorHost *host, JsonObject *args,
                                          GError **errp)
{
    VhMigration *mig = get_mig(host, errp);
    JsonObject *o;
    JsonNode *n;
    VhMigParams p;

    if (!mig) {
        return NULL;
    }
    vh_migration_get_params(mig, &p);
    o = json_object_new();
    json_object_set_string_member(o, "tls-creds", p.tls_creds);
    json_object_set_string_member(o, "tls-hostname", p.tls_hostname);
    json_object_set_string_member(o, "tls-authz", p.tls_authz);
    json_object_set_int_member(o, "max-bandwidth", (gint64)p.max_bandwidth);
    json_object_set_int_member(o, "downtime-limit", (gint64)p.downtime_limit);
    json_object_set_int_member(o, "multifd-channels", p.multifd_channels);
    json_object_set_int_member(o, "x-postcopy-after-passes",
                               p.postcopy_after_passes);
    json_object_set_int_member(o, "max-postcopy-bandwidth",
                               (gint64)p.max_postcopy_bandwidth);
    json_object_set_int_member(o, "x-postcopy-link-timeout",
                               p.postcopy_link_timeout);
    json_object_set_int_member(o, "x-postcopy-sync-interval",
                               p.postcopy_sync_interval);
    vh_mig_params_clear(&p);
    n = json_node_new(JSON_NODE_OBJECT);
    json_node_take_object(n, o);
    return n;
}

char *vh_mon_format_migrate_parameters(JsonNode *r)
{
    JsonObject *o = json_node_get_object(r);

    return g_strdup_printf(
        "tls-creds: '%s'\ntls-hostname: '%s'\ntls-authz: '%s'\n"
        "max-bandwidth: %" G_GINT64_FORMAT " bytes/second\n"
        "downtime-limit: %" G_GINT64_FORMAT " ms\n"
        "multifd-channels: %" G_GINT64_FORMAT "\n"
        "x-postcopy-after-passes: %" G_GINT64_FORMAT "\n"
        "max-postcopy-bandwidth: %" G_GINT64_FORMAT " bytes/second\n"
        "x-postcopy-link-timeout: %" G_GINT64_FORMAT " ms\n"
        "x-postcopy-sync-interval: %" G_GINT64_FORMAT " ms\n",
        json_object_get_string_member(o, "tls-creds"),
        json_object_get_string_member(o, "tls-hostname"),
        json_object_get_string_member(o, "tls-authz"),
        json_object_get_int_member(o, "max-bandwidth"),
        json_object_get_int_member(o, "downtime-limit"),
        json_object_get_int_member(o, "multifd-channels"),
        json_object_get_int_member(o, "x-postcopy-after-passes"),
        json_object_get_int_member(o, "max-postcopy-bandwidth"),
        json_object_get_int_member(o, "x-postcopy-link-timeout"),
        json_object_get_int_member(o, "x-postcopy-sync-interval"));
}

/* ---- capabilities ---- */

JsonObject *vh_mon_parse_set_capability(const char *rest, char **argv,
                                        GError **errp)
{
    JsonObject *o, *cap;
    JsonArray *list;
    bool state;

    if (!argv || !argv[0] || !argv[1] || argv[2]) {
        g_set_error_literal(
            errp, VH_QMP_ERROR, VH_QMP_ERROR_GENERIC,
            "migrate_set_capability: expects CAPABILITY on|off");
        return NULL;
    }
    if (g_str_equal(argv[1], "on") || g_str_equal(argv[1], "true")) {
        state = true;
    } else if (g_str_equal(argv[1], "off") || g_str_equal(argv[1], "false")) {
        state = false;
    } else {
        g_set_error(errp, VH_QMP_ERROR, VH_QMP_ERROR_GENERIC,
                    "migrate_set_capability: state must be on or off, not "
                    "'%s'",
                    argv[1]);
        return NULL;
    }
    cap = json_object_new();
    json_object_set_string_member(cap, "capability", argv[0]);
    json_object_set_boolean_member(cap, "state", state);
    list = json_array_new();
    json_array_add_object_element(list, cap);
    o = json_object_new();
    json_object_set_array_member(o, "capabilities", list);
    return o;
}

JsonNode *vh_mon_migrate_set_capabilities(VhMonitorHost *host, JsonObject *args,
                                          GError **errp)
{
    VhMigration *mig = get_mig(host, errp);
    JsonNode *n;
    JsonArray *list;

    if (!mig) {
        return NULL;
    }
    n = json_object_get_member(args, "capabilities");
    if (!n || !JSON_NODE_HOLDS_ARRAY(n)) {
        g_set_error_literal(errp, VH_QMP_ERROR, VH_QMP_ERROR_GENERIC,
                            "Parameter 'capabilities' expects an array");
        return NULL;
    }
    list = json_node_get_array(n);
    for (guint i = 0; i < json_array_get_length(list); i++) {
        JsonNode *e = json_array_get_element(list, i);
        const char *name = NULL;
        bool state = false;

        if (!JSON_NODE_HOLDS_OBJECT(e)) {
            g_set_error_literal(errp, VH_QMP_ERROR, VH_QMP_ERROR_GENERIC,
                                "Parameter 'capabilities' expects objects "
                                "{capability, state}");
            return NULL;
        }
        if (!vh_mon_arg_str(json_node_get_object(e), "capability", true, &name,
                            errp) ||
            !vh_mon_arg_bool(json_node_get_object(e), "state", true, &state,
                             errp) ||
            !vh_migration_set_capability(mig, name, state, errp)) {
            return NULL;
        }
    }
    return vh_mon_empty();
}

JsonNode *vh_mon_query_migrate_capabilities(VhMonitorHost *host,
                                            JsonObject *args, GError **errp)
{
    VhMigration *mig = get_mig(host, errp);
    const char *const *names = vh_mig_capability_names();
    JsonArray *list;
    JsonNode *n;

    if (!mig) {
        return NULL;
    }
    list = json_array_new();
    for (guint i = 0; names[i]; i++) {
        JsonObject *c = json_object_new();

        json_object_set_string_member(c, "capability", names[i]);
        json_object_set_boolean_member(
            c, "state", vh_migration_get_capability(mig, names[i]));
        json_array_add_object_element(list, c);
    }
    n = json_node_new(JSON_NODE_ARRAY);
    json_node_take_array(n, list);
    return n;
}

char *vh_mon_format_migrate_capabilities(JsonNode *r)
{
    JsonArray *list = json_node_get_array(r);
    GString *s = g_string_new(NULL);

    for (guint i = 0; i < json_array_get_length(list); i++) {
        JsonObject *c = json_array_get_object_element(list, i);

        g_string_append_printf(
            s, "%s: %s\n", json_object_get_string_member(c, "capability"),
            json_object_get_boolean_member(c, "state") ? "on" : "off");
    }
    return g_string_free(s, false);
}

/* ---- query-migrate / info migrate ---- */

JsonNode *vh_mon_query_migrate(VhMonitorHost *host, JsonObject *args,
                               GError **errp)
{
    VhMigration *mig = get_mig(host, errp);
    JsonObject *o, *ram;
    JsonNode *n;
    VhMigInfo i;

    if (!mig) {
        return NULL;
    }
    vh_migration_get_info(mig, &i);
    o = json_object_new();
    json_object_set_string_member(o, "status", vh_mig_status_name(i.status));
    if (i.status != VH_MIG_STATUS_NONE) {
        json_object_set_int_member(o, "total-time", i.total_time);
        json_object_set_int_member(o, "setup-time", i.setup_time);
        if ((i.status == VH_MIG_STATUS_COMPLETED ||
             i.status == VH_MIG_STATUS_POSTCOPY_ACTIVE) &&
            !i.incoming) {
            json_object_set_int_member(o, "downtime", i.downtime);
        }
        if (i.status == VH_MIG_STATUS_ACTIVE && !i.incoming) {
            json_object_set_int_member(o, "expected-downtime",
                                       i.expected_downtime);
        }
        ram = json_object_new();
        json_object_set_int_member(ram, "transferred", (gint64)i.transferred);
        json_object_set_int_member(ram, "remaining", (gint64)i.remaining);
        json_object_set_int_member(ram, "total", (gint64)i.total);
        json_object_set_int_member(ram, "duplicate", (gint64)i.duplicate);
        json_object_set_int_member(ram, "skipped", 0);
        json_object_set_int_member(ram, "normal", (gint64)i.normal);
        json_object_set_int_member(ram, "normal-bytes", (gint64)i.normal_bytes);
        json_object_set_int_member(ram, "dirty-pages-rate",
                                   (gint64)i.dirty_pages_rate);
        json_object_set_double_member(ram, "mbps", i.mbps);
        json_object_set_int_member(ram, "dirty-sync-count",
                                   (gint64)i.dirty_sync_count);
        json_object_set_int_member(ram, "page-size", (gint64)i.page_size);
        json_object_set_object_member(o, "ram", ram);
        if (i.dirty_tracking) {
            json_object_set_string_member(o, "x-dirty-tracking",
                                          i.dirty_tracking);
        }
        if (i.multifd_channels) {
            json_object_set_int_member(o, "x-multifd-channels",
                                       i.multifd_channels);
        }
        if (i.postcopy) {
            json_object_set_string_member(o, "x-postcopy", i.postcopy);
        }
        if (i.guest_phase) {
            JsonObject *g = json_object_new();

            json_object_set_string_member(g, "phase", i.guest_phase);
            json_object_set_int_member(g, "pages-per-second",
                                       (gint64)i.guest_pps);
            json_object_set_int_member(g, "set-pages-per-second",
                                       (gint64)i.guest_set_pps);
            json_object_set_object_member(o, "x-guest-write-rate", g);
        }
    }
    if (i.error) {
        json_object_set_string_member(o, "error-desc", i.error);
    }
    vh_mig_info_clear(&i);
    n = json_node_new(JSON_NODE_OBJECT);
    json_node_take_object(n, o);
    return n;
}

static gint64 member_int(JsonObject *o, const char *key)
{
    return o && json_object_has_member(o, key)
               ? json_object_get_int_member(o, key)
               : 0;
}

char *vh_mon_format_migrate(JsonNode *r)
{
    JsonObject *o = json_node_get_object(r);
    JsonObject *ram = json_object_has_member(o, "ram")
                          ? json_object_get_object_member(o, "ram")
                          : NULL;
    GString *s = g_string_new(NULL);
    const char *st = json_object_get_string_member(o, "status");

    g_string_append_printf(s, "Migration status: %s\n", st);
    if (!g_str_equal(st, "none")) {
        g_string_append_printf(s, "total time: %" G_GINT64_FORMAT " ms\n",
                               member_int(o, "total-time"));
        if (json_object_has_member(o, "expected-downtime")) {
            g_string_append_printf(
                s, "expected downtime: %" G_GINT64_FORMAT " ms\n",
                member_int(o, "expected-downtime"));
        }
        if (json_object_has_member(o, "downtime")) {
            g_string_append_printf(s, "downtime: %" G_GINT64_FORMAT " ms\n",
                                   member_int(o, "downtime"));
        }
        g_string_append_printf(s, "setup: %" G_GINT64_FORMAT " ms\n",
                               member_int(o, "setup-time"));
    }
    if (ram) {
        g_string_append_printf(
            s,
            "transferred ram: %" G_GINT64_FORMAT " kbytes\n"
            "throughput: %.2f mbps\n"
            "remaining ram: %" G_GINT64_FORMAT " kbytes\n"
            "total ram: %" G_GINT64_FORMAT " kbytes\n"
            "duplicate: %" G_GINT64_FORMAT " pages\n"
            "normal: %" G_GINT64_FORMAT " pages\n"
            "normal bytes: %" G_GINT64_FORMAT " kbytes\n"
            "dirty pages rate: %" G_GINT64_FORMAT " pages\n"
            "dirty sync count: %" G_GINT64_FORMAT "\n"
            "page size: %" G_GINT64_FORMAT " kbytes\n",
            member_int(ram, "transferred") >> 10,
            json_object_get_double_member(ram, "mbps"),
            member_int(ram, "remaining") >> 10, member_int(ram, "total") >> 10,
            member_int(ram, "duplicate"), member_int(ram, "normal"),
            member_int(ram, "normal-bytes") >> 10,
            member_int(ram, "dirty-pages-rate"),
            member_int(ram, "dirty-sync-count"),
            member_int(ram, "page-size") >> 10);
    }
    if (json_object_has_member(o, "x-multifd-channels")) {
        g_string_append_printf(s, "multifd channels: %" G_GINT64_FORMAT "\n",
                               member_int(o, "x-multifd-channels"));
    }
    if (json_object_has_member(o, "x-dirty-tracking")) {
        g_string_append_printf(
            s, "dirty tracking: %s\n",
            json_object_get_string_member(o, "x-dirty-tracking"));
    }
    if (json_object_has_member(o, "x-postcopy")) {
        g_string_append_printf(s, "postcopy: %s\n",
                               json_object_get_string_member(o, "x-postcopy"));
    }
    if (json_object_has_member(o, "x-guest-write-rate")) {
        JsonObject *g = json_object_get_object_member(o, "x-guest-write-rate");
        gint64 pps = member_int(g, "pages-per-second");
        gint64 set = member_int(g, "set-pages-per-second");

        g_string_append_printf(
            s, "guest write rate: %" G_GINT64_FORMAT " pages/s %s", pps,
            g_str_equal(json_object_get_string_member(g, "phase"), "post-copy")
                ? "during post-copy"
                : "before the switch to post-copy");
        if (set) {
            g_string_append_printf(
                s, " (%.0f%% of its set %" G_GINT64_FORMAT " pages/s)",
                100.0 * (double)pps / (double)set, set);
        }
        g_string_append_c(s, '\n');
    }
    if (json_object_has_member(o, "error-desc")) {
        g_string_append_printf(s, "error: %s\n",
                               json_object_get_string_member(o, "error-desc"));
    }
    return g_string_free(s, false);
}
