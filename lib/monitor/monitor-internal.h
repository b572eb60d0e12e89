/*
 * Private to lib/monitor: argument helpers and the command handlers the
 * table in monitor.c points at.
 */
#pragma once

#include "vmhost/chardev/chardev.h"
#include "vmhost/monitor/monitor.h"
#include "vmhost/util/opts.h"

G_BEGIN_DECLS

/*
 * Read argument @key of @args. Missing and not @required: true, *@out
 * untouched. Errors are GenericError: "Parameter 'id' is missing",
 * "Parameter 'size' expects an integer".
 */
bool vh_mon_arg_str(JsonObject *args, const char *key, bool required,
                    const char **out, GError **errp);
bool vh_mon_arg_int(JsonObject *args, const char *key, bool required,
                    gint64 *out, GError **errp);
bool vh_mon_arg_bool(JsonObject *args, const char *key, bool required,
                     bool *out, GError **errp);

/* Argument "format": "utf8" (the default) or "base64". */
bool vh_mon_arg_format(JsonObject *args, bool *base64, GError **errp);
/*
 * Argument "data" in the format "format" names, decoded (transfer full);
 * base64 that is not valid is an error prefixed with @what.
 */
GBytes *vh_mon_arg_data(JsonObject *args, const char *what, GError **errp);
/* @data as a string result: base64, or UTF-8 with bad bytes replaced. */
JsonNode *vh_mon_data_string(bool base64, const void *data, size_t len);

/* A JSON node holding an empty object / a string (transfer full). */
JsonNode *vh_mon_empty(void);
JsonNode *vh_mon_string(const char *s);

/* HMP parse helpers: no args, one word arg named @key, or rest of line. */
JsonObject *vh_mon_hmp_one(const char *key, const char *rest, char **argv,
                           GError **errp);
/* An option string "k=v,..." into a flat object (bare flags are null). */
JsonObject *vh_mon_hmp_opts(const char *optname, const char *implied_key,
                            const char *rest, GError **errp);

/*
 * QMP arguments as an option string for @optname: strings as written,
 * null as a bare flag, booleans on/off, objects and arrays flattened into
 * dotted keys (rules.0.match). Members of the object member @flatten
 * (may be NULL) are taken as top-level keys.
 */
VhOpts *vh_mon_opts_from_json(const char *optname, JsonObject *args,
                              const char *flatten, GError **errp);

/* Machine, info, objects, guest (monitor-cmds.c). */
JsonNode *vh_mon_query_status(VhMonitorHost *h, JsonObject *a, GError **e);
char *vh_mon_format_status(JsonNode *r);
JsonNode *vh_mon_query_version(VhMonitorHost *h, JsonObject *a, GError **e);
char *vh_mon_format_version(JsonNode *r);
JsonNode *vh_mon_query_tls(VhMonitorHost *h, JsonObject *a, GError **e);
char *vh_mon_format_tls(JsonNode *r);
JsonNode *vh_mon_stop(VhMonitorHost *h, JsonObject *a, GError **e);
JsonNode *vh_mon_cont(VhMonitorHost *h, JsonObject *a, GError **e);
JsonNode *vh_mon_quit(VhMonitorHost *h, JsonObject *a, GError **e);
JsonNode *vh_mon_system_powerdown(VhMonitorHost *h, JsonObject *a, GError **e);
JsonNode *vh_mon_object_add(VhMonitorHost *h, JsonObject *a, GError **e);
JsonObject *vh_mon_parse_object_add(const char *rest, char **argv, GError **e);
JsonNode *vh_mon_object_del(VhMonitorHost *h, JsonObject *a, GError **e);
JsonObject *vh_mon_parse_id(const char *rest, char **argv, GError **e);
JsonNode *vh_mon_guest(VhMonitorHost *h, JsonObject *a, GError **e);
JsonObject *vh_mon_parse_guest(const char *rest, char **argv, GError **e);
char *vh_mon_format_string(JsonNode *r);
JsonNode *vh_mon_getfd(VhMonitorHost *h, JsonObject *a, GError **e);
JsonObject *vh_mon_parse_fdname(const char *rest, char **argv, GError **e);
JsonNode *vh_mon_hmc(VhMonitorHost *h, JsonObject *a, GError **e);
JsonNode *vh_mon_help(VhMonitorHost *h, JsonObject *a, GError **e);
JsonObject *vh_mon_parse_help(const char *rest, char **argv, GError **e);
JsonNode *vh_mon_query_commands(VhMonitorHost *h, JsonObject *a, GError **e);

/* Chardevs and ringbufs (monitor-chardev.c). */
JsonNode *vh_mon_query_chardev(VhMonitorHost *h, JsonObject *a, GError **e);
char *vh_mon_format_chardev(JsonNode *r);
JsonNode *vh_mon_chardev_add(VhMonitorHost *h, JsonObject *a, GError **e);
JsonObject *vh_mon_parse_chardev_add(const char *rest, char **argv, GError **e);
JsonNode *vh_mon_chardev_remove(VhMonitorHost *h, JsonObject *a, GError **e);
JsonNode *vh_mon_ringbuf_write(VhMonitorHost *h, JsonObject *a, GError **e);
JsonObject *vh_mon_parse_ringbuf_write(const char *rest, char **argv,
                                       GError **e);
JsonNode *vh_mon_ringbuf_read(VhMonitorHost *h, JsonObject *a, GError **e);
JsonObject *vh_mon_parse_ringbuf_read(const char *rest, char **argv,
                                      GError **e);

/* chardev-probe devices (monitor-probe.c). */
JsonNode *vh_mon_probe_write(VhMonitorHost *h, JsonObject *a, GError **e);
JsonObject *vh_mon_parse_probe_write(const char *rest, char **argv, GError **e);
JsonNode *vh_mon_probe_read(VhMonitorHost *h, JsonObject *a, GError **e);
JsonObject *vh_mon_parse_probe_read(const char *rest, char **argv, GError **e);
char *vh_mon_format_probe_read(JsonNode *r);

/*
 * The chardev of the monitor whose command runs now (for getfd), set by
 * the monitors around a command; returns the previous one.
 */
VhChardev *vh_mon_set_current_chardev(VhChardev *chr);
VhChardev *vh_mon_get_current_chardev(void);
JsonNode *vh_mon_closefd(VhMonitorHost *h, JsonObject *a, GError **e);

/* Migration (monitor-migration.c). */
JsonNode *vh_mon_migrate(VhMonitorHost *h, JsonObject *a, GError **e);
JsonObject *vh_mon_parse_migrate(const char *rest, char **argv, GError **e);
JsonNode *vh_mon_migrate_cancel(VhMonitorHost *h, JsonObject *a, GError **e);
JsonNode *vh_mon_migrate_start_postcopy(VhMonitorHost *h, JsonObject *a,
                                        GError **e);
JsonNode *vh_mon_migrate_recover(VhMonitorHost *h, JsonObject *a, GError **e);
JsonNode *vh_mon_migrate_pause(VhMonitorHost *h, JsonObject *a, GError **e);
JsonNode *vh_mon_migrate_incoming(VhMonitorHost *h, JsonObject *a, GError **e);
JsonObject *vh_mon_parse_uri(const char *rest, char **argv, GError **e);
JsonNode *vh_mon_migrate_set_parameter(VhMonitorHost *h, JsonObject *a,
                                       GError **e);
JsonObject *vh_mon_parse_set_parameter(const char *rest, char **argv,
                                       GError **e);
JsonNode *vh_mon_migrate_set_parameters(VhMonitorHost *h, JsonObject *a,
                                        GError **e);
JsonNode *vh_mon_query_migrate_parameters(VhMonitorHost *h, JsonObject *a,
                                          GError **e);
char *vh_mon_format_migrate_parameters(JsonNode *r);
JsonObject *vh_mon_parse_set_capability(const char *rest, char **argv,
                                        GError **e);
JsonNode *vh_mon_migrate_set_capabilities(VhMonitorHost *h, JsonObject *a,
                                          GError **e);
JsonNode *vh_mon_query_migrate_capabilities(VhMonitorHost *h, JsonObject *a,
                                            GError **e);
char *vh_mon_format_migrate_capabilities(JsonNode *r);
JsonNode *vh_mon_query_migrate(VhMonitorHost *h, JsonObject *a, GError **e);
char *vh_mon_format_migrate(JsonNode *r);

/*
 * An HMP command that keeps its monitor busy after it returns (migrate
 * without -d): no prompt and no input until vh_hmp_async_done(). Begin
 * returns NULL outside a human monitor's own line (e.g. under QMP's
 * human-monitor-command), where the command must not wait (hmp.c).
 */
typedef struct VhHmpAsync VhHmpAsync;
VhHmpAsync *vh_hmp_async_begin(void);
bool vh_hmp_async_is_terminal(VhHmpAsync *a);
/* Output while busy; lost if the monitor is gone. */
void vh_hmp_async_print(VhHmpAsync *a, const char *text);
/* Print @text, give the prompt back and free @a. */
void vh_hmp_async_done(VhHmpAsync *a, const char *text);

/* QMP monitors: the SHUTDOWN event before quit (qmp.c). */
void vh_qmp_emit_shutdown(const char *reason);

/*
 * Chardev connection events (qmp-chardev-events.c): every live QMP monitor
 * holds a reference; while there is one, the chardev layer's notices
 * become CHARDEV_CONNECTED / CHARDEV_DISCONNECTED / CHARDEV_REFUSED.
 */
void vh_qmp_chardev_events_ref(void);
void vh_qmp_chardev_events_unref(void);
/* The event's data member for @notice (transfer full). */
JsonObject *vh_qmp_chardev_event_data(const VhChardevNotice *notice);

G_END_DECLS
