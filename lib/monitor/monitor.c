/*
 * The command table and what every command shares: argument helpers,
 * dispatch, error classes.
 */
#include "monitor-internal.h"

#include "vmhost/object/object-create.h"
#include "vmhost/util/error.h"
#include "vmhost/util/json.h"
#include "vmhost/util/opts.h"

G_DEFINE_QUARK(vh - qmp - error - quark, vh_qmp_error)

/* QMP arguments (monitor.h); a command without a list takes none. */
static const VhMonitorArg args_id[] = {{"id", VH_MON_ARG_STRING}, {NULL}};
static const VhMonitorArg args_object_add[] = {
    {"qom-type", VH_MON_ARG_STRING},    {"id", VH_MON_ARG_STRING},
    {"props", VH_MON_ARG_OBJECT, true}, /* QEMU < 6.0 */
    {"*", VH_MON_ARG_OBJECT_PROPS},     {NULL},
};
static const VhMonitorArg args_chardev_add[] = {
    {"id", VH_MON_ARG_STRING},
    {"backend", VH_MON_ARG_OBJECT},
    {NULL},
};
static const VhMonitorArg args_write[] = {
    {"device", VH_MON_ARG_STRING},
    {"data", VH_MON_ARG_STRING},
    {"format", VH_MON_ARG_STRING, true},
    {NULL},
};
static const VhMonitorArg args_ringbuf_read[] = {
    {"device", VH_MON_ARG_STRING},
    {"size", VH_MON_ARG_INT},
    {"format", VH_MON_ARG_STRING, true},
    {NULL},
};
static const VhMonitorArg args_probe_read[] = {
    {"device", VH_MON_ARG_STRING},
    {"size", VH_MON_ARG_INT, true},
    {"format", VH_MON_ARG_STRING, true},
    {NULL},
};
static const VhMonitorArg args_fdname[] = {{"fdname", VH_MON_ARG_STRING},
                                           {NULL}};
static const VhMonitorArg args_command_line[] = {
    {"command-line", VH_MON_ARG_STRING},
    {NULL},
};
static const VhMonitorArg args_hmc[] = {
    {"command-line", VH_MON_ARG_STRING},
    {"cpu-index", VH_MON_ARG_INT, true}, /* QEMU's; vmhost has no CPUs */
    {NULL},
};
/* QEMU's blk, inc and resume are not taken: vmhost has no such modes. */
static const VhMonitorArg args_migrate[] = {
    {"uri", VH_MON_ARG_STRING},
    {"detach", VH_MON_ARG_BOOL, true}, /* QMP always detaches */
    {"resume", VH_MON_ARG_BOOL, true}, /* a paused post-copy */
    {NULL},
};
static const VhMonitorArg args_uri[] = {{"uri", VH_MON_ARG_STRING}, {NULL}};
/* Each member a parameter: the handler refuses unknown names. */
static const VhMonitorArg args_rest[] = {{"*", VH_MON_ARG_REST}, {NULL}};
static const VhMonitorArg args_capabilities[] = {
    {"capabilities", VH_MON_ARG_ARRAY},
    {NULL},
};

static const VhMonitorCommand commands[] = {
    {"query-status", "info status", "", "show the run state of the machine",
     vh_mon_query_status, NULL, vh_mon_format_status},
    {"query-version", "info version", "", "show the vmhost version",
     vh_mon_query_version, NULL, vh_mon_format_version},
    {"query-chardev", "info chardev", "",
     "show the character devices and their last error", vh_mon_query_chardev,
     NULL, vh_mon_format_chardev},
    {"query-tls", "info tls", "",
     "show the TLS credentials objects (endpoint, dir, priority)",
     vh_mon_query_tls, NULL, vh_mon_format_tls},
    {"object-add", "object_add", "[qom-type=]type,id=str[,prop=value][,...]",
     "create an object (tls-creds-*, authz-*)", vh_mon_object_add,
     vh_mon_parse_object_add, NULL, args_object_add},
    {"object-del", "object_del", "id", "destroy the object with that id",
     vh_mon_object_del, vh_mon_parse_id, NULL, args_id},
    {"chardev-add", "chardev-add", "args",
     "add a character device (the -chardev option string)", vh_mon_chardev_add,
     vh_mon_parse_chardev_add, NULL, args_chardev_add},
    {"chardev-remove", "chardev-remove", "id",
     "remove the character device with that id", vh_mon_chardev_remove,
     vh_mon_parse_id, NULL, args_id},
    {"stop", "stop", "", "stop the guest", vh_mon_stop, NULL, NULL},
    {"cont", "cont", "", "resume the guest", vh_mon_cont, NULL, NULL},
    {"quit", "quit", "", "quit vmhost", vh_mon_quit, NULL, NULL},
    {"system_powerdown", "system_powerdown", "",
     "press the power button: the guest powers off and vmhost exits",
     vh_mon_system_powerdown, NULL, NULL},
    {"ringbuf-write", "ringbuf_write", "device data",
     "write text into a ringbuf chardev", vh_mon_ringbuf_write,
     vh_mon_parse_ringbuf_write, NULL, args_write},
    {"ringbuf-read", "ringbuf_read", "device size",
     "read up to size bytes out of a ringbuf chardev", vh_mon_ringbuf_read,
     vh_mon_parse_ringbuf_read, vh_mon_format_string, args_ringbuf_read},
    {"probe-write", "probe_write", "device data",
     "send bytes to a chardev-probe's peer (HMP: the rest of the line, "
     "escapes \\n \\r \\t \\xHH decoded, nothing appended)",
     vh_mon_probe_write, vh_mon_parse_probe_write, NULL, args_write},
    {"probe-read", "probe_read", "device [size]",
     "take up to size bytes (default all) a chardev-probe received",
     vh_mon_probe_read, vh_mon_parse_probe_read, vh_mon_format_probe_read,
     args_probe_read},
    {"getfd", "getfd", "fdname",
     "keep the fd passed with this command (UNIX socket monitors)",
     vh_mon_getfd, vh_mon_parse_fdname, NULL, args_fdname},
    {"closefd", "closefd", "fdname", "close an fd kept by getfd",
     vh_mon_closefd, vh_mon_parse_fdname, NULL, args_fdname},
    {"guest-command", "guest", "command",
     "run a test guest console command (help, echo, status, dirty, verify, "
     "checksum)",
     vh_mon_guest, vh_mon_parse_guest, vh_mon_format_string, args_command_line},
    {"migrate", "migrate", "[-d] [-r] uri",
     "migrate the machine to uri (tcp:, unix:, fd:, exec:, file:); without "
     "-d, show the progress until it ends; -r resumes a paused post-copy",
     vh_mon_migrate, vh_mon_parse_migrate, NULL, args_migrate},
    {"migrate_cancel", "migrate_cancel", "", "cancel the current migration",
     vh_mon_migrate_cancel, NULL, NULL},
    {"migrate-recover", "migrate_recover", "uri",
     "listen on uri for a paused post-copy's source to resume",
     vh_mon_migrate_recover, vh_mon_parse_uri, NULL, args_uri},
    {"migrate-pause", "migrate_pause", "",
     "cut a running post-copy's connections (either side): both go "
     "postcopy-paused until migrate_recover and migrate -r",
     vh_mon_migrate_pause, NULL, NULL},
    {"migrate-start-postcopy", "migrate_start_postcopy", "",
     "switch the running pre-copy to post-copy (postcopy-ram on both sides)",
     vh_mon_migrate_start_postcopy, NULL, NULL},
    {"migrate-incoming", "migrate_incoming", "uri",
     "receive a migration on uri (after -incoming defer, once)",
     vh_mon_migrate_incoming, vh_mon_parse_uri, NULL, args_uri},
    {NULL, "migrate_set_parameter", "parameter value",
     "set a migration parameter (tls-creds, tls-hostname, tls-authz, "
     "max-bandwidth, downtime-limit, multifd-channels, "
     "x-postcopy-after-passes, max-postcopy-bandwidth, "
     "x-postcopy-link-timeout, x-postcopy-sync-interval)",
     vh_mon_migrate_set_parameter, vh_mon_parse_set_parameter, NULL},
    {NULL, "migrate_set_str_parameter", "parameter value",
     "the same as migrate_set_parameter", vh_mon_migrate_set_parameter,
     vh_mon_parse_set_parameter, NULL},
    {"migrate-set-parameters", NULL, "", "set migration parameters",
     vh_mon_migrate_set_parameters, NULL, NULL, args_rest},
    {NULL, "migrate_set_capability", "capability on|off",
     "turn a migration capability (multifd, events, ...) on or off",
     vh_mon_migrate_set_capabilities, vh_mon_parse_set_capability, NULL},
    {"migrate-set-capabilities", NULL, "", "set migration capabilities",
     vh_mon_migrate_set_capabilities, NULL, NULL, args_capabilities},
    {"query-migrate", "info migrate", "",
     "show the migration status and statistics", vh_mon_query_migrate, NULL,
     vh_mon_format_migrate},
    {"query-migrate-parameters", "info migrate_parameters", "",
     "show the migration parameters", vh_mon_query_migrate_parameters, NULL,
     vh_mon_format_migrate_parameters},
    {"query-migrate-capabilities", "info migrate_capabilities", "",
     "show the migration capabilities", vh_mon_query_migrate_capabilities, NULL,
     vh_mon_format_migrate_capabilities},
    {"human-monitor-command", NULL, "", "run an HMP command line", vh_mon_hmc,
     NULL, NULL, args_hmc},
    {"query-commands", NULL, "", "list the QMP commands", vh_mon_query_commands,
     NULL, NULL},
    {NULL, "help", "[command]", "show the commands, or one command's help",
     vh_mon_help, vh_mon_parse_help, vh_mon_format_string},
};

/* Commands run in the monitors' thread only. */
static VhChardev *current_chr;

VhChardev *vh_mon_set_current_chardev(VhChardev *chr)
{
    VhChardev *old = current_chr;

    current_chr = chr;
    return old;
}

VhChardev *vh_mon_get_current_chardev(void)
{
    return current_chr;
}

const VhMonitorCommand *vh_monitor_commands(guint *n)
{
    *n = G_N_ELEMENTS(commands);
    return commands;
}

const VhMonitorCommand *vh_monitor_find_qmp(const char *name)
{
    for (guint i = 0; i < G_N_ELEMENTS(commands); i++) {
        if (commands[i].qmp_name && g_str_equal(commands[i].qmp_name, name)) {
            return &commands[i];
        }
    }
    return NULL;
}

const VhMonitorCommand *vh_monitor_find_hmp(const char *name)
{
    for (guint i = 0; i < G_N_ELEMENTS(commands); i++) {
        if (commands[i].hmp_name && g_str_equal(commands[i].hmp_name, name)) {
            return &commands[i];
        }
    }
    /* "?" is QEMU's short help; "h" too. */
    if (g_str_equal(name, "?") || g_str_equal(name, "h")) {
        return vh_monitor_find_hmp("help");
    }
    return NULL;
}

const char *vh_qmp_error_class_name(const GError *err)
{
    if (err->domain != VH_QMP_ERROR) {
        return "GenericError";
    }
    switch (err->code) {
    case VH_QMP_ERROR_COMMAND_NOT_FOUND:
        return "CommandNotFound";
    case VH_QMP_ERROR_DEVICE_NOT_FOUND:
        return "DeviceNotFound";
    case VH_QMP_ERROR_DEVICE_NOT_ACTIVE:
        return "DeviceNotActive";
    case VH_QMP_ERROR_GENERIC:
    default:
        return "GenericError";
    }
}

static bool read_only_command(const VhMonitorCommand *cmd)
{
    return (cmd->qmp_name && g_str_has_prefix(cmd->qmp_name, "query-")) ||
           cmd->handler == vh_mon_hmc || cmd->handler == vh_mon_help;
}

JsonNode *vh_monitor_run(VhMonitorHost *host, const VhMonitorCommand *cmd,
                         JsonObject *args, GError **errp)
{
    g_autoptr(JsonObject) empty = json_object_new();
    GError *err = NULL;
    JsonNode *ret;

    if (host->read_only && !read_only_command(cmd)) {
        g_set_error(errp, VH_QMP_ERROR, VH_QMP_ERROR_GENERIC,
                    "command '%s' is not allowed on a read-only monitor",
                    cmd->qmp_name ? cmd->qmp_name : cmd->hmp_name);
        return NULL;
    }
    ret = cmd->handler(host, args ? args : empty, &err);
    if (!ret) {
        g_assert(err);
        if (err->domain != VH_QMP_ERROR) {
            /* Keep the message, make it a GenericError. */
            g_set_error_literal(errp, VH_QMP_ERROR, VH_QMP_ERROR_GENERIC,
                                err->message);
            g_error_free(err);
        } else {
            g_propagate_error(errp, err);
        }
        return NULL;
    }
    return ret;
}

static const char *arg_type_name(VhMonitorArgType type)
{
    switch (type) {
    case VH_MON_ARG_STRING:
        return "string";
    case VH_MON_ARG_INT:
        return "integer";
    case VH_MON_ARG_BOOL:
        return "boolean";
    case VH_MON_ARG_OBJECT:
        return "object";
    case VH_MON_ARG_ARRAY:
    default:
        return "array";
    }
}

static bool arg_is_rest(const VhMonitorArg *a)
{
    return a->type == VH_MON_ARG_REST || a->type == VH_MON_ARG_OBJECT_PROPS;
}

static const VhMonitorArg *find_arg(const VhMonitorArg *list, const char *key)
{
    for (const VhMonitorArg *a = list; a && a->name; a++) {
        if (!arg_is_rest(a) && g_str_equal(a->name, key)) {
            return a;
        }
    }
    return NULL;
}

/* object-add: the properties, at the top or in the old "props". */
static bool check_object_props(JsonObject *args, GError **errp)
{
    g_autoptr(JsonObject) flat = json_object_new();
    g_autoptr(GList) members = json_object_get_members(args);
    JsonNode *props = json_object_get_member(args, "props");
    g_autoptr(GError) err = NULL;

    for (GList *l = members; l; l = l->next) {
        if (!g_str_equal(l->data, "props")) {
            json_object_set_member(
                flat, l->data,
                json_node_copy(json_object_get_member(args, l->data)));
        }
    }
    if (props && JSON_NODE_HOLDS_OBJECT(props)) {
        JsonObject *p = json_node_get_object(props);
        g_autoptr(GList) pm = json_object_get_members(p);

        for (GList *l = pm; l; l = l->next) {
            json_object_set_member(
                flat, l->data,
                json_node_copy(json_object_get_member(p, l->data)));
        }
    }
    if (!vh_object_check_json_types(NULL, flat, &err)) {
        g_set_error_literal(errp, VH_QMP_ERROR, VH_QMP_ERROR_GENERIC,
                            err->message);
        return false;
    }
    return true;
}

bool vh_monitor_check_args(const VhMonitorCommand *cmd, JsonObject *args,
                           GError **errp)
{
    const VhMonitorArg *rest = NULL;
    g_autoptr(GList) members = NULL;

    /* In QEMU's order: declared members first, then what is left over. */
    for (const VhMonitorArg *a = cmd->args; a && a->name; a++) {
        JsonNode *n;

        if (arg_is_rest(a)) {
            rest = a;
            continue;
        }
        n = args ? json_object_get_member(args, a->name) : NULL;
        if (!n) {
            if (!a->optional) {
                g_set_error(errp, VH_QMP_ERROR, VH_QMP_ERROR_GENERIC,
                            "Parameter '%s' is missing", a->name);
                return false;
            }
            continue;
        }
        if (!g_str_equal(vh_json_type_name(n), arg_type_name(a->type))) {
            g_set_error(errp, VH_QMP_ERROR, VH_QMP_ERROR_GENERIC,
                        "Invalid parameter type for '%s', expected: %s",
                        a->name, arg_type_name(a->type));
            return false;
        }
    }
    if (!args) {
        return true;
    }
    members = json_object_get_members(args);
    for (GList *l = members; l && !rest; l = l->next) {
        if (!find_arg(cmd->args, l->data)) {
            g_set_error(errp, VH_QMP_ERROR, VH_QMP_ERROR_GENERIC,
                        "Parameter '%s' is unexpected", (const char *)l->data);
            return false;
        }
    }
    if (rest && rest->type == VH_MON_ARG_OBJECT_PROPS) {
        return check_object_props(args, errp);
    }
    return true;
}

JsonNode *vh_mon_empty(void)
{
    JsonNode *n = json_node_new(JSON_NODE_OBJECT);

    json_node_take_object(n, json_object_new());
    return n;
}

JsonNode *vh_mon_string(const char *s)
{
    JsonNode *n = json_node_new(JSON_NODE_VALUE);

    json_node_set_string(n, s);
    return n;
}

static JsonNode *arg_node(JsonObject *args, const char *key, bool required,
                          GError **errp)
{
    JsonNode *n = json_object_get_member(args, key);

    if (!n && required) {
        g_set_error(errp, VH_QMP_ERROR, VH_QMP_ERROR_GENERIC,
                    "Parameter '%s' is missing", key);
    }
    return n;
}

static bool arg_type_error(const char *key, const char *what, GError **errp)
{
    g_set_error(errp, VH_QMP_ERROR, VH_QMP_ERROR_GENERIC,
                "Parameter '%s' expects %s", key, what);
    return false;
}

bool vh_mon_arg_str(JsonObject *args, const char *key, bool required,
                    const char **out, GError **errp)
{
    JsonNode *n = arg_node(args, key, required, errp);

    if (!n) {
        return !required;
    }
    if (!JSON_NODE_HOLDS_VALUE(n) ||
        json_node_get_value_type(n) != G_TYPE_STRING) {
        return arg_type_error(key, "a string", errp);
    }
    *out = json_node_get_string(n);
    return true;
}

bool vh_mon_arg_format(JsonObject *args, bool *base64, GError **errp)
{
    const char *fmt = "utf8";

    if (!vh_mon_arg_str(args, "format", false, &fmt, errp)) {
        return false;
    }
    if (!g_str_equal(fmt, "utf8") && !g_str_equal(fmt, "base64")) {
        g_set_error(errp, VH_QMP_ERROR, VH_QMP_ERROR_GENERIC,
                    "Parameter 'format' expects 'utf8' or 'base64', got '%s'",
                    fmt);
        return false;
    }
    *base64 = g_str_equal(fmt, "base64");
    return true;
}

/* g_base64_decode() takes anything; refuse what is not base64. */
static bool base64_valid(const char *s)
{
    size_t len = strlen(s), pad = 0;

    if (len % 4) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '=') {
            pad++;
        } else if (pad ||
                   !(g_ascii_isalnum(s[i]) || s[i] == '+' || s[i] == '/')) {
            return false;
        }
    }
    return pad <= 2;
}

GBytes *vh_mon_arg_data(JsonObject *args, const char *what, GError **errp)
{
    const char *data = NULL;
    bool base64 = false;
    gsize len = 0;

    if (!vh_mon_arg_str(args, "data", true, &data, errp) ||
        !vh_mon_arg_format(args, &base64, errp)) {
        return NULL;
    }
    if (!base64) {
        return g_bytes_new(data, strlen(data));
    }
    if (!base64_valid(data)) {
        g_set_error(errp, VH_QMP_ERROR, VH_QMP_ERROR_GENERIC,
                    "%s: parameter 'data' is not valid base64", what);
        return NULL;
    }
    guchar *raw = g_base64_decode(data, &len);
    return g_bytes_new_take(raw, len);
}

JsonNode *vh_mon_data_string(bool base64, const void *data, size_t len)
{
    g_autofree char *text =
        base64 ? g_base64_encode(data, len) : g_utf8_make_valid(data, len);

    return vh_mon_string(text);
}

bool vh_mon_arg_int(JsonObject *args, const char *key, bool required,
                    gint64 *out, GError **errp)
{
    JsonNode *n = arg_node(args, key, required, errp);

    if (!n) {
        return !required;
    }
    if (JSON_NODE_HOLDS_VALUE(n) &&
        json_node_get_value_type(n) == G_TYPE_INT64) {
        *out = json_node_get_int(n);
        return true;
    }
    /* HMP hands numbers over as words. */
    if (JSON_NODE_HOLDS_VALUE(n) &&
        json_node_get_value_type(n) == G_TYPE_STRING &&
        g_ascii_string_to_signed(json_node_get_string(n), 10, G_MININT64,
                                 G_MAXINT64, out, NULL)) {
        return true;
    }
    return arg_type_error(key, "an integer", errp);
}

bool vh_mon_arg_bool(JsonObject *args, const char *key, bool required,
                     bool *out, GError **errp)
{
    JsonNode *n = arg_node(args, key, required, errp);

    if (!n) {
        return !required;
    }
    if (!JSON_NODE_HOLDS_VALUE(n) ||
        json_node_get_value_type(n) != G_TYPE_BOOLEAN) {
        return arg_type_error(key, "a boolean", errp);
    }
    *out = json_node_get_boolean(n);
    return true;
}

JsonObject *vh_mon_hmp_one(const char *key, const char *rest, char **argv,
                           GError **errp)
{
    JsonObject *o;

    if (!argv || !argv[0] || argv[1]) {
        g_set_error(errp, VH_QMP_ERROR, VH_QMP_ERROR_GENERIC,
                    "expects exactly one argument (%s)", key);
        return NULL;
    }
    o = json_object_new();
    json_object_set_string_member(o, key, argv[0]);
    return o;
}

JsonObject *vh_mon_hmp_opts(const char *optname, const char *implied_key,
                            const char *rest, GError **errp)
{
    g_autoptr(VhOpts) opts = NULL;
    JsonObject *o;

    if (!*rest) {
        g_set_error(errp, VH_QMP_ERROR, VH_QMP_ERROR_GENERIC,
                    "%s: expects an option string", optname);
        return NULL;
    }
    opts = vh_opts_parse(optname, rest, implied_key, errp);
    if (!opts) {
        return NULL;
    }
    o = json_object_new();
    for (guint i = 0; i < vh_opts_count(opts); i++) {
        const char *v = vh_opts_nth_value(opts, i);

        if (v) {
            json_object_set_string_member(o, vh_opts_nth_key(opts, i), v);
        } else {
            json_object_set_null_member(o, vh_opts_nth_key(opts, i));
        }
    }
    return o;
}

JsonNode *vh_mon_hmc(VhMonitorHost *host, JsonObject *args, GError **errp)
{
    const char *line = NULL;
    g_autofree char *out = NULL;

    if (!vh_mon_arg_str(args, "command-line", true, &line, errp)) {
        return NULL;
    }
    out = vh_hmp_run_line(host, line);
    return vh_mon_string(out);
}

JsonNode *vh_mon_query_commands(VhMonitorHost *host, JsonObject *args,
                                GError **errp)
{
    JsonArray *list = json_array_new();
    JsonNode *n = json_node_new(JSON_NODE_ARRAY);

    for (guint i = 0; i < G_N_ELEMENTS(commands); i++) {
        if (commands[i].qmp_name) {
            JsonObject *c = json_object_new();

            json_object_set_string_member(c, "name", commands[i].qmp_name);
            json_array_add_object_element(list, c);
        }
    }
    json_node_take_array(n, list);
    return n;
}

JsonObject *vh_mon_parse_help(const char *rest, char **argv, GError **errp)
{
    JsonObject *o = json_object_new();

    /* the words, so "help info  status " (as Tab leaves it) works too */
    if (argv && argv[0]) {
        g_autofree char *which = g_strjoinv(" ", argv);

        json_object_set_string_member(o, "command", which);
    }
    return o;
}

static void help_line(GString *s, const VhMonitorCommand *c)
{
    g_autofree char *usage = g_strdup_printf(
        "%s%s%s", c->hmp_name, *c->hmp_args ? " " : "", c->hmp_args);

    g_string_append_printf(s, "%-40s -- %s\n", usage, c->help);
}

JsonNode *vh_mon_help(VhMonitorHost *host, JsonObject *args, GError **errp)
{
    const char *which = NULL;
    g_autoptr(GString) s = g_string_new(NULL);

    if (!vh_mon_arg_str(args, "command", false, &which, errp)) {
        return NULL;
    }
    for (guint i = 0; i < G_N_ELEMENTS(commands); i++) {
        const VhMonitorCommand *c = &commands[i];

        if (!c->hmp_name) {
            continue;
        }
        /* "help info" lists every info subcommand. */
        if (!which || g_str_equal(c->hmp_name, which) ||
            (g_str_has_prefix(c->hmp_name, which) &&
             c->hmp_name[strlen(which)] == ' ')) {
            help_line(s, c);
        }
    }
    if (which && s->len == 0) {
        g_set_error(errp, VH_QMP_ERROR, VH_QMP_ERROR_COMMAND_NOT_FOUND,
                    "unknown command: '%s'", which);
        return NULL;
    }
    return vh_mon_string(s->str);
}
