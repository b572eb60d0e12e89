/*
 * Commands on the machine, the object registry and the test guest.
 */
#include "monitor-internal.h"

#include <unistd.h>

#include "vmhost-config.h"
#include "vmhost/chardev/char-socket.h"
#include "vmhost/crypto/tls-creds-x509.h"
#include "vmhost/crypto/tls-creds.h"
#include "vmhost/crypto/tls-priority.h"
#include "vmhost/object/object-create.h"
#include "vmhost/object/object.h"
#include "vmhost/util/error.h"
#include "vmhost/util/json.h"

static bool need_machine(VhMonitorHost *host, GError **errp)
{
    if (!host->machine) {
        g_set_error_literal(errp, VH_QMP_ERROR, VH_QMP_ERROR_GENERIC,
                            "this vmhost has no machine");
        return false;
    }
    return true;
}

JsonNode *vh_mon_query_status(VhMonitorHost *host, JsonObject *args,
                              GError **errp)
{
    JsonObject *o;
    JsonNode *n;
    VhRunState st;

    if (!need_machine(host, errp)) {
        return NULL;
    }
    st = vh_machine_get_state(host->machine);
    o = json_object_new();
    json_object_set_string_member(o, "status", vh_run_state_name(st));
    json_object_set_boolean_member(o, "running", st == VH_RUN_STATE_RUNNING);
    json_object_set_boolean_member(o, "singlestep", false);
    n = json_node_new(JSON_NODE_OBJECT);
    json_node_take_object(n, o);
    return n;
}

char *vh_mon_format_status(JsonNode *result)
{
    JsonObject *o = json_node_get_object(result);
    const char *st = json_object_get_string_member(o, "status");

    /* QEMU's wording: every state but running is "paused (state)". */
    if (g_str_equal(st, "running") || g_str_equal(st, "paused")) {
        return g_strdup_printf("VM status: %s\n", st);
    }
    return g_strdup_printf("VM status: paused (%s)\n", st);
}

JsonNode *vh_mon_query_version(VhMonitorHost *host, JsonObject *args,
                               GError **errp)
{
    g_auto(GStrv) parts = g_strsplit(VMHOST_VERSION, ".", 3);
    JsonObject *o = json_object_new();
    JsonObject *v = json_object_new();
    const char *names[] = {"major", "minor", "micro"};
    JsonNode *n;

    for (guint i = 0; i < 3; i++) {
        gint64 x = 0;

        if (i < g_strv_length(parts)) {
            x = g_ascii_strtoll(parts[i], NULL, 10);
        }
        json_object_set_int_member(v, names[i], x);
    }
    json_object_set_object_member(o, "qemu", v);
    json_object_set_string_member(o, "package", "vmhost");
    n = json_node_new(JSON_NODE_OBJECT);
    json_node_take_object(n, o);
    return n;
}

char *vh_mon_format_version(JsonNode *result)
{
    return g_strdup(VMHOST_VERSION " (vmhost)\n");
}

static JsonObject *tls_entry(const char *id, VhTlsCreds *creds)
{
    JsonObject *o = json_object_new();
    const char *dir = vh_tls_creds_get_dir(creds);
    const VhTlsPriority *prio = vh_tls_creds_get_priority_info(creds);

    json_object_set_string_member(o, "id", id);
    json_object_set_string_member(o, "type", G_OBJECT_TYPE_NAME(creds));
    json_object_set_string_member(
        o, "endpoint",
        vh_tls_creds_endpoint_name(vh_tls_creds_get_endpoint(creds)));
    json_object_set_string_member(o, "dir", dir ? dir : "");
    json_object_set_boolean_member(o, "verify-peer",
                                   vh_tls_creds_get_verify_peer(creds));
    json_object_set_string_member(o, "priority",
                                  vh_tls_creds_get_priority(creds));
    json_object_set_string_member(
        o, "priority-source",
        vh_tls_priority_source_name(vh_tls_creds_get_priority_source(creds)));
    json_object_set_string_member(o, "priority-requested", prio->requested);
    json_object_set_string_member(
        o, "priority-resolution",
        vh_tls_priority_resolution_name(prio->resolution));
    if (prio->system_file) {
        json_object_set_string_member(o, "priority-file", prio->system_file);
    }
    if (prio->keyword) {
        json_object_set_string_member(o, "priority-keyword", prio->keyword);
    }
    if (prio->baseline_reason) {
        json_object_set_string_member(o, "priority-baseline-reason",
                                      prio->baseline_reason);
    }
    if (VH_IS_TLS_CREDS_X509(creds)) {
        static const char *const modes[] = {"off", "on", "strict"};
        VhTlsCredsX509 *x509 = VH_TLS_CREDS_X509(creds);
        GPtrArray *w = vh_tls_creds_x509_get_warnings(x509);
        JsonArray *a = json_array_new();

        for (guint i = 0; i < w->len; i++) {
            json_array_add_string_element(a, g_ptr_array_index(w, i));
        }
        json_object_set_string_member(
            o, "sanity-check", modes[vh_tls_creds_x509_get_sanity_mode(x509)]);
        json_object_set_array_member(o, "warnings", a);
    }
    return o;
}

JsonNode *vh_mon_query_tls(VhMonitorHost *host, JsonObject *args, GError **errp)
{
    g_auto(GStrv) ids = vh_object_list_ids();
    JsonArray *list = json_array_new();
    JsonNode *n = json_node_new(JSON_NODE_ARRAY);

    for (guint i = 0; ids && ids[i]; i++) {
        g_autoptr(GObject) obj = vh_object_lookup(ids[i]);

        if (obj && VH_IS_TLS_CREDS(obj)) {
            json_array_add_object_element(list,
                                          tls_entry(ids[i], VH_TLS_CREDS(obj)));
        }
    }
    json_node_take_array(n, list);
    return n;
}

/* "  requested @VMHOST,SYSTEM: keyword VMHOST in /etc/gnutls/config". */
static void format_tls_resolution(GString *s, JsonObject *o)
{
    const char *res = json_object_get_string_member_with_default(
        o, "priority-resolution", "literal");
    const char *file =
        json_object_get_string_member_with_default(o, "priority-file", "?");

    if (g_str_equal(res, "keyword")) {
        g_string_append_printf(
            s, "  requested %s: keyword %s in %s\n",
            json_object_get_string_member(o, "priority-requested"),
            json_object_get_string_member_with_default(o, "priority-keyword",
                                                       "(unknown)"),
            file);
    } else if (g_str_equal(res, "baseline")) {
        g_string_append_printf(
            s, "  requested %s: baseline (%s)\n",
            json_object_get_string_member(o, "priority-requested"),
            json_object_get_string_member_with_default(
                o, "priority-baseline-reason", "?"));
    }
}

char *vh_mon_format_tls(JsonNode *result)
{
    JsonArray *list = json_node_get_array(result);
    GString *s = g_string_new(NULL);

    if (json_array_get_length(list) == 0) {
        g_string_append(s, "no TLS credentials objects\n");
    }
    for (guint i = 0; i < json_array_get_length(list); i++) {
        JsonObject *o = json_array_get_object_element(list, i);

        g_string_append_printf(
            s, "%s: endpoint=%s dir=%s verify-peer=%s\n  priority=%s (%s)\n",
            json_object_get_string_member(o, "id"),
            json_object_get_string_member(o, "endpoint"),
            *json_object_get_string_member(o, "dir")
                ? json_object_get_string_member(o, "dir")
                : "(none)",
            json_object_get_boolean_member(o, "verify-peer") ? "on" : "off",
            json_object_get_string_member(o, "priority"),
            json_object_get_string_member(o, "priority-source"));
        format_tls_resolution(s, o);
        if (json_object_has_member(o, "warnings")) {
            JsonArray *w = json_object_get_array_member(o, "warnings");

            for (guint j = 0; j < json_array_get_length(w); j++) {
                g_string_append_printf(s, "  warning: %s\n",
                                       json_array_get_string_element(w, j));
            }
        }
    }
    return g_string_free(s, false);
}

JsonNode *vh_mon_stop(VhMonitorHost *host, JsonObject *args, GError **errp)
{
    if (!need_machine(host, errp) || !vh_machine_stop(host->machine, errp)) {
        return NULL;
    }
    return vh_mon_empty();
}

JsonNode *vh_mon_cont(VhMonitorHost *host, JsonObject *args, GError **errp)
{
    if (!need_machine(host, errp) || !vh_machine_cont(host->machine, errp)) {
        return NULL;
    }
    return vh_mon_empty();
}

/* Run @fn(@host) from an idle source on the monitors' context. */
static void host_idle(VhMonitorHost *host, GSourceFunc fn)
{
    GSource *src = g_idle_source_new();

    g_source_set_callback(src, fn, host, NULL);
    g_source_attach(src, host->context);
    g_source_unref(src);
}

static gboolean quit_idle(gpointer data)
{
    VhMonitorHost *host = data;

    vh_qmp_emit_shutdown("host-qmp-quit");
    if (host->quit) {
        host->quit(host->opaque);
    }
    return G_SOURCE_REMOVE;
}

JsonNode *vh_mon_quit(VhMonitorHost *host, JsonObject *args, GError **errp)
{
    /* After the reply: the peer sees {"return": {}} before SHUTDOWN. */
    host_idle(host, quit_idle);
    return vh_mon_empty();
}

/* The guest has powered off: SHUTDOWN as QEMU words it, then the end. */
static gboolean guest_shutdown_idle(gpointer data)
{
    VhMonitorHost *host = data;
    g_autoptr(JsonObject) ev = json_object_new();

    json_object_set_boolean_member(ev, "guest", true);
    json_object_set_string_member(ev, "reason", "guest-shutdown");
    vh_qmp_emit_event("SHUTDOWN", ev);
    if (host->quit) {
        host->quit(host->opaque);
    }
    return G_SOURCE_REMOVE;
}

static void on_powerdown_state(VhMachine *m, VhRunState old, VhRunState state,
                               gpointer opaque)
{
    if (state == VH_RUN_STATE_SHUTDOWN && vh_machine_get_guest_shutdown(m)) {
        /* After whatever reply is being written (cont's, for a kept press). */
        host_idle(opaque, guest_shutdown_idle);
    }
}

/* After the reply: POWERDOWN, then the press (the guest may act at once). */
static gboolean powerdown_idle(gpointer data)
{
    VhMonitorHost *host = data;
    g_autoptr(GError) err = NULL;

    vh_qmp_emit_event("POWERDOWN", NULL);
    if (!vh_machine_powerdown(host->powerdown_machine, &err)) {
        g_debug("system_powerdown: %s", err->message);
    }
    return G_SOURCE_REMOVE;
}

JsonNode *vh_mon_system_powerdown(VhMonitorHost *host, JsonObject *args,
                                  GError **errp)
{
    if (!need_machine(host, errp)) {
        return NULL;
    }
    if (vh_machine_get_state(host->machine) == VH_RUN_STATE_SHUTDOWN) {
        g_set_error(errp, VH_QMP_ERROR, VH_QMP_ERROR_GENERIC,
                    "cannot power down machine '%s': the guest has already "
                    "shut down (state 'shutdown')",
                    vh_machine_get_name(host->machine));
        return NULL;
    }
    if (!host->powerdown_machine) {
        /* A press kept while paused is acted on later, from any command. */
        host->powerdown_machine = g_object_ref(host->machine);
        host->powerdown_handler =
            g_signal_connect(host->machine, "state-changed",
                             G_CALLBACK(on_powerdown_state), host);
    }
    host_idle(host, powerdown_idle);
    return vh_mon_empty();
}

VhOpts *vh_mon_opts_from_json(const char *optname, JsonObject *args,
                              const char *flatten, GError **errp)
{
    JsonNode *inner = flatten ? json_object_get_member(args, flatten) : NULL;
    g_autoptr(JsonObject) flat = NULL;
    g_autoptr(GList) members = NULL;

    if (!inner || !JSON_NODE_HOLDS_OBJECT(inner)) {
        return vh_opts_from_json(optname, args, errp);
    }
    /* @flatten's members as top-level keys, in their place */
    flat = json_object_new();
    members = json_object_get_members(args);
    for (GList *l = members; l; l = l->next) {
        JsonObject *from = args;
        g_autoptr(GList) sub = NULL;

        if (g_str_equal(l->data, flatten)) {
            from = json_node_get_object(inner);
            sub = json_object_get_members(from);
        } else {
            sub = g_list_prepend(NULL, l->data);
        }
        for (GList *m = sub; m; m = m->next) {
            json_object_set_member(
                flat, m->data,
                json_node_copy(json_object_get_member(from, m->data)));
        }
    }
    return vh_opts_from_json(optname, flat, errp);
}

JsonNode *vh_mon_object_add(VhMonitorHost *host, JsonObject *args,
                            GError **errp)
{
    g_autoptr(VhOpts) opts = NULL;
    g_autoptr(GObject) obj = NULL;
    const char *type = NULL;

    if (!vh_mon_arg_str(args, "qom-type", true, &type, errp)) {
        return NULL;
    }
    /* QEMU took the properties in "props" once; both forms work. */
    opts = vh_mon_opts_from_json(VH_OBJECT_ADD_OPTNAME, args, "props", errp);
    if (!opts) {
        return NULL;
    }
    obj = vh_object_create_from_opts(opts, errp);
    return obj ? vh_mon_empty() : NULL;
}

JsonObject *vh_mon_parse_object_add(const char *rest, char **argv,
                                    GError **errp)
{
    return vh_mon_hmp_opts("object_add", "qom-type", rest, errp);
}

JsonNode *vh_mon_object_del(VhMonitorHost *host, JsonObject *args,
                            GError **errp)
{
    const char *id = NULL;

    if (!vh_mon_arg_str(args, "id", true, &id, errp) ||
        !vh_object_del(id, errp)) {
        return NULL;
    }
    return vh_mon_empty();
}

JsonObject *vh_mon_parse_id(const char *rest, char **argv, GError **errp)
{
    return vh_mon_hmp_one("id", rest, argv, errp);
}

JsonNode *vh_mon_guest(VhMonitorHost *host, JsonObject *args, GError **errp)
{
    const char *line = NULL;
    g_autofree char *reply = NULL;

    if (!vh_mon_arg_str(args, "command-line", true, &line, errp) ||
        !need_machine(host, errp)) {
        return NULL;
    }
    reply =
        vh_test_guest_command(vh_machine_get_test_guest(host->machine), line);
    return vh_mon_string(reply);
}

JsonObject *vh_mon_parse_guest(const char *rest, char **argv, GError **errp)
{
    JsonObject *o;

    if (!*rest) {
        g_set_error_literal(errp, VH_QMP_ERROR, VH_QMP_ERROR_GENERIC,
                            "guest: expects a console command (try 'guest "
                            "help')");
        return NULL;
    }
    o = json_object_new();
    json_object_set_string_member(o, "command-line", rest);
    return o;
}

char *vh_mon_format_string(JsonNode *result)
{
    const char *s = json_node_get_string(result);

    if (!s || !*s) {
        return g_strdup("");
    }
    return g_str_has_suffix(s, "\n") ? g_strdup(s) : g_strconcat(s, "\n", NULL);
}

static void close_fd(gpointer p)
{
    close(GPOINTER_TO_INT(p));
}

int vh_monitor_host_get_fd(VhMonitorHost *host, const char *name)
{
    gpointer fd;

    if (!host->fds ||
        !g_hash_table_lookup_extended(host->fds, name, NULL, &fd)) {
        return -1;
    }
    return GPOINTER_TO_INT(fd);
}

int vh_monitor_host_take_fd(VhMonitorHost *host, const char *name)
{
    int fd = vh_monitor_host_get_fd(host, name);

    if (fd >= 0) {
        g_autofree char *key = NULL;

        /* steal hands the key back: the table no longer frees it */
        g_hash_table_steal_extended(host->fds, name, (gpointer *)&key, NULL);
    }
    return fd;
}

void vh_monitor_host_clear(VhMonitorHost *host)
{
    if (host->own_migration) {
        g_clear_pointer(&host->migration, vh_migration_free);
        host->own_migration = false;
    }
    g_clear_pointer(&host->fds, g_hash_table_unref);
    if (host->powerdown_machine) {
        g_clear_signal_handler(&host->powerdown_handler,
                               host->powerdown_machine);
        g_clear_object(&host->powerdown_machine);
    }
}

JsonNode *vh_mon_getfd(VhMonitorHost *host, JsonObject *args, GError **errp)
{
    const char *name = NULL;
    VhChardev *chr = vh_mon_get_current_chardev();
    int fd = -1;

    if (!vh_mon_arg_str(args, "fdname", true, &name, errp)) {
        return NULL;
    }
    if (!*name || g_ascii_isdigit(*name)) {
        g_set_error(errp, VH_QMP_ERROR, VH_QMP_ERROR_GENERIC,
                    "Parameter 'fdname' expects a name not starting with a "
                    "digit, got '%s'",
                    name);
        return NULL;
    }
    /* under a mux=on chardev, the fds arrive at its socket backend */
    if (chr && VH_IS_CHARDEV_SOCKET(vh_chardev_get_backend(chr))) {
        VhChardevSocket *sock = VH_CHARDEV_SOCKET(vh_chardev_get_backend(chr));
        g_autoptr(GError) why = NULL;

        if (!vh_chardev_socket_check_fd_pass(sock, &why)) {
            g_set_error(errp, VH_QMP_ERROR, VH_QMP_ERROR_GENERIC,
                        "getfd %s: No file descriptor supplied via "
                        "SCM_RIGHTS: %s",
                        name, why->message);
            return NULL;
        }
        fd = vh_chardev_socket_take_msgfd(sock);
    }
    if (fd < 0) {
        g_set_error(errp, VH_QMP_ERROR, VH_QMP_ERROR_GENERIC,
                    "getfd %s: no file descriptor was received with the "
                    "command (send it with SCM_RIGHTS over a UNIX socket "
                    "monitor)",
                    name);
        return NULL;
    }
    if (!host->fds) {
        host->fds =
            g_hash_table_new_full(g_str_hash, g_str_equal, g_free, close_fd);
    }
    g_hash_table_replace(host->fds, g_strdup(name), GINT_TO_POINTER(fd));
    return vh_mon_empty();
}

JsonNode *vh_mon_closefd(VhMonitorHost *host, JsonObject *args, GError **errp)
{
    const char *name = NULL;

    if (!vh_mon_arg_str(args, "fdname", true, &name, errp)) {
        return NULL;
    }
    if (vh_monitor_host_get_fd(host, name) < 0) {
        g_set_error(errp, VH_QMP_ERROR, VH_QMP_ERROR_GENERIC,
                    "File descriptor named '%s' not found", name);
        return NULL;
    }
    g_hash_table_remove(host->fds, name);
    return vh_mon_empty();
}

JsonObject *vh_mon_parse_fdname(const char *rest, char **argv, GError **errp)
{
    return vh_mon_hmp_one("fdname", rest, argv, errp);
}
