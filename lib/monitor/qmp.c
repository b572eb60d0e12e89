/*
 * The QMP monitor: greeting, capabilities negotiation, one reply per input
 * object, events.
 */
#include "vmhost/monitor/qmp.h"

#include "monitor-internal.h"

#include "vmhost/util/json.h"

struct _VhQmp {
    VhMonitorHost *host;
    VhChardev *chr;      /* NULL when detached */
    VhQmpOutputFunc out; /* detached output */
    void *out_opaque;
    VhQmpSplitter *splitter;
    bool negotiated;
    gulong state_handler;
};

/* Every live QMP monitor, for events; all on the monitors' thread. */
static GList *monitors;

static void qmp_send(VhQmp *qmp, JsonNode *msg)
{
    g_autofree char *text = json_to_string(msg, false);
    g_autofree char *line = g_strconcat(text, "\r\n", NULL);
    size_t len = strlen(line);
    g_autoptr(GError) err = NULL;

    if (!qmp->chr) {
        qmp->out(line, len, qmp->out_opaque);
    } else if (vh_chardev_write(qmp->chr, line, len, &err) < 0) {
        g_debug("QMP on %s: %s", vh_chardev_get_id(qmp->chr), err->message);
    }
}

static void send_object(VhQmp *qmp, JsonObject *o)
{
    g_autoptr(JsonNode) n = json_node_new(JSON_NODE_OBJECT);

    json_node_set_object(n, o);
    qmp_send(qmp, n);
}

static void send_greeting(VhQmp *qmp)
{
    g_autoptr(JsonObject) top = json_object_new();
    JsonObject *q = json_object_new();
    g_autoptr(GError) err = NULL;
    JsonNode *version = vh_mon_query_version(qmp->host, NULL, &err);

    json_object_set_member(q, "version", version);
    json_object_set_array_member(q, "capabilities", json_array_new());
    json_object_set_object_member(top, "QMP", q);
    send_object(qmp, top);
}

static void send_event(VhQmp *qmp, const char *name, JsonObject *data)
{
    g_autoptr(JsonObject) ev = NULL;
    JsonObject *ts;
    gint64 now = g_get_real_time();

    /* Before negotiation a monitor gets no events: build nothing. */
    if (!qmp->negotiated) {
        return;
    }
    ev = json_object_new();
    ts = json_object_new();
    json_object_set_string_member(ev, "event", name);
    if (data) {
        json_object_set_object_member(ev, "data", json_object_ref(data));
    }
    json_object_set_int_member(ts, "seconds", now / G_USEC_PER_SEC);
    json_object_set_int_member(ts, "microseconds", now % G_USEC_PER_SEC);
    json_object_set_object_member(ev, "timestamp", ts);
    send_object(qmp, ev);
}

void vh_qmp_emit_event(const char *name, JsonObject *data)
{
    for (GList *l = monitors; l; l = l->next) {
        send_event(l->data, name, data);
    }
}

void vh_qmp_emit_shutdown(const char *reason)
{
    g_autoptr(JsonObject) data = json_object_new();

    json_object_set_boolean_member(data, "guest", false);
    json_object_set_string_member(data, "reason", reason);
    vh_qmp_emit_event("SHUTDOWN", data);
}

static void on_state_changed(VhMachine *m, VhRunState old, VhRunState state,
                             gpointer opaque)
{
    if (state == VH_RUN_STATE_RUNNING) {
        send_event(opaque, "RESUME", NULL);
    } else if (old == VH_RUN_STATE_RUNNING && state != VH_RUN_STATE_SHUTDOWN) {
        send_event(opaque, "STOP", NULL);
    }
}

static void reply(VhQmp *qmp, JsonNode *ret, const GError *err, JsonNode *id)
{
    g_autoptr(JsonObject) o = json_object_new();

    if (ret) {
        json_object_set_member(o, "return", ret);
    } else {
        JsonObject *e = json_object_new();

        json_object_set_string_member(e, "class", vh_qmp_error_class_name(err));
        json_object_set_string_member(e, "desc", err->message);
        json_object_set_object_member(o, "error", e);
    }
    if (id) {
        json_object_set_member(o, "id", json_node_copy(id));
    }
    send_object(qmp, o);
}

static void reply_error(VhQmp *qmp, JsonNode *id, VhQmpErrorClass cls,
                        const char *fmt, ...) G_GNUC_PRINTF(4, 5);

static void reply_error(VhQmp *qmp, JsonNode *id, VhQmpErrorClass cls,
                        const char *fmt, ...)
{
    va_list ap;
    g_autoptr(GError) err = NULL;

    va_start(ap, fmt);
    err = g_error_new_valist(VH_QMP_ERROR, cls, fmt, ap);
    va_end(ap);
    reply(qmp, NULL, err, id);
}

/* The members QEMU allows in a command object, besides execute. */
static bool check_members(VhQmp *qmp, JsonObject *in, JsonNode *id)
{
    g_autoptr(GList) members = json_object_get_members(in);

    for (GList *l = members; l; l = l->next) {
        const char *k = l->data;

        if (!g_str_equal(k, "execute") && !g_str_equal(k, "arguments") &&
            !g_str_equal(k, "id")) {
            reply_error(qmp, id, VH_QMP_ERROR_GENERIC,
                        "QMP input member '%s' is unexpected", k);
            return false;
        }
    }
    return true;
}

static void negotiate(VhQmp *qmp, JsonObject *args, JsonNode *id)
{
    static const VhMonitorArg spec[] = {
        {"enable", VH_MON_ARG_ARRAY, true},
        {NULL},
    };
    const VhMonitorCommand cmd = {.qmp_name = "qmp_capabilities", .args = spec};
    g_autoptr(GError) err = NULL;
    JsonArray *enable = NULL;

    if (!vh_monitor_check_args(&cmd, args, &err)) {
        reply(qmp, NULL, err, id);
        return;
    }

    if (args && json_object_has_member(args, "enable")) {
        JsonNode *n = json_object_get_member(args, "enable");

        enable = JSON_NODE_HOLDS_ARRAY(n) ? json_node_get_array(n) : NULL;
        if (!enable || json_array_get_length(enable) > 0) {
            reply_error(qmp, id, VH_QMP_ERROR_GENERIC,
                        "vmhost offers no QMP capabilities to enable");
            return;
        }
    }
    qmp->negotiated = true;
    reply(qmp, vh_mon_empty(), NULL, id);
}

static void execute(VhQmp *qmp, JsonObject *in)
{
    JsonNode *id = json_object_get_member(in, "id");
    JsonNode *exec = json_object_get_member(in, "execute");
    JsonNode *argn = json_object_get_member(in, "arguments");
    JsonObject *args = NULL;
    const char *name;
    const VhMonitorCommand *cmd;
    g_autoptr(GError) err = NULL;
    JsonNode *ret;
    VhChardev *prev;

    if (!exec) {
        reply_error(qmp, id, VH_QMP_ERROR_GENERIC,
                    "QMP input member 'execute' is missing");
        return;
    }
    if (!JSON_NODE_HOLDS_VALUE(exec) ||
        json_node_get_value_type(exec) != G_TYPE_STRING) {
        reply_error(qmp, id, VH_QMP_ERROR_GENERIC,
                    "QMP input member 'execute' must be a string");
        return;
    }
    if (argn && !JSON_NODE_HOLDS_OBJECT(argn)) {
        reply_error(qmp, id, VH_QMP_ERROR_GENERIC,
                    "QMP input member 'arguments' must be an object");
        return;
    }
    if (!check_members(qmp, in, id)) {
        return;
    }
    args = argn ? json_node_get_object(argn) : NULL;
    name = json_node_get_string(exec);
    if (g_str_equal(name, "qmp_capabilities")) {
        if (qmp->negotiated) {
            reply_error(qmp, id, VH_QMP_ERROR_COMMAND_NOT_FOUND,
                        "Capabilities negotiation is already complete, "
                        "command ignored");
            return;
        }
        negotiate(qmp, args, id);
        return;
    }
    if (!qmp->negotiated) {
        reply_error(qmp, id, VH_QMP_ERROR_COMMAND_NOT_FOUND,
                    "Expecting capabilities negotiation with "
                    "'qmp_capabilities'");
        return;
    }
    cmd = vh_monitor_find_qmp(name);
    if (!cmd) {
        reply_error(qmp, id, VH_QMP_ERROR_COMMAND_NOT_FOUND,
                    "The command %s has not been found", name);
        return;
    }
    if (!vh_monitor_check_args(cmd, args, &err)) {
        reply(qmp, NULL, err, id);
        return;
    }
    prev = vh_mon_set_current_chardev(qmp->chr);
    ret = vh_monitor_run(qmp->host, cmd, args, &err);
    vh_mon_set_current_chardev(prev);
    reply(qmp, ret, err, id);
}

static void on_piece(const char *text, size_t len, VhQmpPieceStatus status,
                     void *opaque)
{
    VhQmp *qmp = opaque;
    g_autoptr(GError) err = NULL;
    g_autoptr(JsonNode) root = NULL;

    /* QEMU's words; the rest of the line is dropped (qmp.h). */
    switch (status) {
    case VH_QMP_PIECE_TOO_DEEP:
        reply_error(qmp, NULL, VH_QMP_ERROR_GENERIC,
                    "JSON nesting depth limit exceeded (at most %d levels)",
                    VH_QMP_DEPTH_MAX);
        return;
    case VH_QMP_PIECE_TOO_LARGE:
        reply_error(qmp, NULL, VH_QMP_ERROR_GENERIC,
                    "JSON token size limit exceeded (at most %d bytes in "
                    "one input)",
                    VH_QMP_INPUT_MAX);
        return;
    case VH_QMP_PIECE_OK:
    default:
        break;
    }
    /* json-glib would keep one of two equal keys: QEMU refuses them */
    root = vh_json_parse(text, len, &err);
    if (!root) {
        reply_error(qmp, NULL, VH_QMP_ERROR_GENERIC, "JSON parse error, %s",
                    err->message);
        return;
    }
    if (!JSON_NODE_HOLDS_OBJECT(root)) {
        reply_error(qmp, NULL, VH_QMP_ERROR_GENERIC,
                    "QMP input must be a JSON object");
        return;
    }
    execute(qmp, json_node_get_object(root));
}

void vh_qmp_feed(VhQmp *qmp, const guint8 *buf, size_t len)
{
    vh_qmp_splitter_feed(qmp->splitter, buf, len);
}

static size_t qmp_can_read(void *opaque)
{
    return 4096;
}

static void qmp_read(void *opaque, const guint8 *buf, size_t len)
{
    vh_qmp_feed(opaque, buf, len);
}

static void qmp_event(void *opaque, VhChardevEvent event)
{
    VhQmp *qmp = opaque;

    /* Every connection starts over: greeting, then negotiation. */
    vh_qmp_splitter_reset(qmp->splitter);
    qmp->negotiated = false;
    if (event == VH_CHARDEV_EVENT_OPENED) {
        send_greeting(qmp);
    }
}

static VhQmp *qmp_new(VhMonitorHost *host)
{
    VhQmp *qmp = g_new0(VhQmp, 1);

    qmp->host = host;
    qmp->splitter = vh_qmp_splitter_new(on_piece, qmp);
    if (host->machine) {
        qmp->state_handler = g_signal_connect(
            host->machine, "state-changed", G_CALLBACK(on_state_changed), qmp);
    }
    monitors = g_list_prepend(monitors, qmp);
    vh_qmp_chardev_events_ref();
    return qmp;
}

VhQmp *vh_qmp_new(VhMonitorHost *host, VhChardev *chr)
{
    VhQmp *qmp = qmp_new(host);

    qmp->chr = g_object_ref(chr);
    vh_chardev_set_handlers(chr, qmp_can_read, qmp_read, qmp_event, qmp, NULL);
    return qmp;
}

VhQmp *vh_qmp_new_detached(VhMonitorHost *host, VhQmpOutputFunc out,
                           void *opaque)
{
    VhQmp *qmp = qmp_new(host);

    qmp->out = out;
    qmp->out_opaque = opaque;
    send_greeting(qmp);
    return qmp;
}

void vh_qmp_free(VhQmp *qmp)
{
    if (!qmp) {
        return;
    }
    monitors = g_list_remove(monitors, qmp);
    vh_qmp_chardev_events_unref();
    if (qmp->state_handler) {
        g_signal_handler_disconnect(qmp->host->machine, qmp->state_handler);
    }
    if (qmp->chr) {
        /* a mux=on chardev finds the frontend to drop by its opaque */
        vh_chardev_set_handlers(qmp->chr, NULL, NULL, NULL, qmp, NULL);
        g_object_unref(qmp->chr);
    }
    vh_qmp_splitter_free(qmp->splitter);
    g_free(qmp);
}
