/*
 * The monitor command table, shared by HMP (hmp.h) and QMP (qmp.h).
 *
 *     VhMonitorHost host = {
 *         .machine = machine, .quit = on_quit, .opaque = app,
 *     };
 *     g_autoptr(VhQmp) qmp = vh_qmp_new(&host, chr);
 *     g_autoptr(VhHmp) hmp = vh_hmp_new(&host, other_chr, false);
 *
 * Every command has a QMP name ("query-status"), an HMP name ("info
 * status") and one handler: it takes the arguments as a JSON object and
 * returns a JSON result, or fails with a GError in the VH_QMP_ERROR domain
 * whose code is the QMP error class (GenericError, CommandNotFound,
 * DeviceNotFound). HMP turns its line into the same JSON object (the
 * command's hmp_parse) and the result into text (hmp_format).
 *
 * Errors from lower layers (VH_ERROR, G_IO_ERROR) reach the peer as
 * GenericError with their message.
 *
 * Threads: all of it runs in the thread of the monitors' GMainContext.
 */
#pragma once

#include <json-glib/json-glib.h>
#include <stdbool.h>

#include "vmhost/machine/machine.h"
#include "vmhost/migration/migration.h"

G_BEGIN_DECLS

#define VH_QMP_ERROR (vh_qmp_error_quark())
GQuark vh_qmp_error_quark(void);

/* QMP error classes (the codes of VH_QMP_ERROR). */
typedef enum {
    VH_QMP_ERROR_GENERIC,           /* "GenericError" */
    VH_QMP_ERROR_COMMAND_NOT_FOUND, /* "CommandNotFound" */
    VH_QMP_ERROR_DEVICE_NOT_FOUND,  /* "DeviceNotFound" */
    VH_QMP_ERROR_DEVICE_NOT_ACTIVE, /* "DeviceNotActive" */
} VhQmpErrorClass;

/* The class name of @err ("GenericError" for any other domain). */
const char *vh_qmp_error_class_name(const GError *err);

/*
 * What the commands act on, filled in by the program; borrowed by every
 * monitor made with it, so it must outlive them.
 */
typedef struct {
    VhMachine *machine; /* NULL: stop/cont/status/guest fail */
    /*
     * `quit`: called from an idle source on the monitors' context after
     * the reply has gone out and SHUTDOWN was emitted: on `quit`, and
     * when the guest powered off after `system_powerdown`. NULL: quit
     * only answers.
     */
    void (*quit)(void *opaque);
    void *opaque;
    GMainContext *context; /* chardevs made by chardev-add; NULL: default */
    /*
     * Only commands that change nothing (query-*, info, help,
     * human-monitor-command running those): a monitor for watching, and
     * the fuzz target.
     */
    bool read_only;
    /*
     * Private: the fds getfd keeps, by name (see vh_monitor_host_get_fd);
     * zero-initialise, release with vh_monitor_host_clear().
     */
    GHashTable *fds;
    /*
     * The machine's migration (migrate, info migrate, ...): set it with
     * vh_monitor_host_set_migration() so that fd: URIs and MIGRATION
     * events work from the start; left NULL, the first migration command
     * makes one, which vh_monitor_host_clear() frees.
     */
    VhMigration *migration;
    bool own_migration; /* private */
    /*
     * Private: after the first system_powerdown, a reference on the
     * machine and the handler that turns the guest's power-off into
     * SHUTDOWN and `quit`; vh_monitor_host_clear() drops both.
     */
    VhMachine *powerdown_machine;
    gulong powerdown_handler;
} VhMonitorHost;

/* Use @mig (borrowed) for the migration commands; wires getfd and events. */
void vh_monitor_host_set_migration(VhMonitorHost *host, VhMigration *mig);

/*
 * getfd: the fd arrives with SCM_RIGHTS together with the command, on a
 * monitor whose chardev is a UNIX socket (without TLS); it is kept under
 * its name (a name may not start with a digit; an existing one is
 * replaced and its fd closed). Elsewhere getfd fails, saying so.
 *
 * The fd `getfd NAME` kept (borrowed: it stays open until closefd or
 * vh_monitor_host_clear), or -1. For users such as migration's fd:NAME.
 */
int vh_monitor_host_get_fd(VhMonitorHost *host, const char *name);
/* Take the fd kept as @name out of the table (transfer full), or -1. */
int vh_monitor_host_take_fd(VhMonitorHost *host, const char *name);
/* Close every kept fd and free the table; the host may be reused. */
void vh_monitor_host_clear(VhMonitorHost *host);

typedef JsonNode *(*VhMonitorHandler)(VhMonitorHost *host, JsonObject *args,
                                      GError **errp);
/*
 * HMP: the words after the command name (@argv, quoting removed) and the
 * same text raw (@rest, leading blanks stripped) into the handler's
 * arguments (transfer full), or NULL with @errp set.
 */
typedef JsonObject *(*VhMonitorHmpParse)(const char *rest, char **argv,
                                         GError **errp);
/* HMP: the handler's result as text (transfer full; "" prints nothing). */
typedef char *(*VhMonitorHmpFormat)(JsonNode *result);

/*
 * The JSON type of one QMP argument. The last two stand for every member
 * not declared: REST lets the handler check them (migrate-set-parameters'
 * names), OBJECT_PROPS checks them against the properties of the type in
 * "qom-type" (object-add; see vh_object_check_json_types()).
 */
typedef enum {
    VH_MON_ARG_STRING,
    VH_MON_ARG_INT,
    VH_MON_ARG_BOOL,
    VH_MON_ARG_OBJECT,
    VH_MON_ARG_ARRAY,
    VH_MON_ARG_REST,
    VH_MON_ARG_OBJECT_PROPS,
} VhMonitorArgType;

/* One QMP argument of a command; a list ends with a NULL name. */
typedef struct {
    const char *name;
    VhMonitorArgType type;
    bool optional;
} VhMonitorArg;

typedef struct {
    const char *qmp_name; /* NULL: HMP only */
    const char *hmp_name; /* NULL: QMP only; "info status" for info */
    const char *hmp_args; /* the HMP argument syntax for help ("" none) */
    const char *help;     /* one line */
    VhMonitorHandler handler;
    VhMonitorHmpParse hmp_parse;   /* NULL: no arguments */
    VhMonitorHmpFormat hmp_format; /* NULL: prints nothing */
    /*
     * The QMP arguments (NULL: none). QMP refuses, before the handler
     * runs and in QEMU's words, a member not declared ("Parameter 'x' is
     * unexpected"), a required one missing ("Parameter 'x' is missing")
     * and one of the wrong JSON type ("Invalid parameter type for 'x',
     * expected: integer"). HMP builds its arguments itself (numbers as
     * words), so the handlers still read them with vh_mon_arg_*().
     */
    const VhMonitorArg *args;
} VhMonitorCommand;

/* The table, in help order; *@n gets its length. */
const VhMonitorCommand *vh_monitor_commands(guint *n);
const VhMonitorCommand *vh_monitor_find_qmp(const char *name);
/* @name is "stop" or "info status". */
const VhMonitorCommand *vh_monitor_find_hmp(const char *name);

/*
 * Run @cmd with @args (borrowed; NULL is an empty object). Returns the
 * result (transfer full; an empty object when the command has none) or
 * NULL with @errp set in the VH_QMP_ERROR domain.
 */
G_GNUC_WARN_UNUSED_RESULT
JsonNode *vh_monitor_run(VhMonitorHost *host, const VhMonitorCommand *cmd,
                         JsonObject *args, GError **errp);

/*
 * Check @args (borrowed; NULL is an empty object) against @cmd's argument
 * list as QMP does; false with @errp set (VH_QMP_ERROR_GENERIC) if they
 * do not fit.
 */
G_GNUC_WARN_UNUSED_RESULT
bool vh_monitor_check_args(const VhMonitorCommand *cmd, JsonObject *args,
                           GError **errp);

/*
 * Run one HMP line as the human monitor would and return its output
 * (transfer full; lines end in "\n"; errors are output too). QMP's
 * human-monitor-command uses this.
 */
char *vh_hmp_run_line(VhMonitorHost *host, const char *line);

/*
 * Send an event to every QMP monitor that finished capabilities
 * negotiation: {"event": @name, "data": @data, "timestamp": {...}}.
 * @data is borrowed and may be NULL (no data member).
 */
void vh_qmp_emit_event(const char *name, JsonObject *data);

G_END_DECLS
