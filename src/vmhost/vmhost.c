/*
 * vmhost: the machine program. QEMU's command-line language for the TLS
 * host services: credentials objects, character devices (TLS sockets
 * among them), serial ports whose first one is the built-in test guest's
 * console, and guest RAM.
 *
 *   vmhost -object tls-creds-x509,id=tls0,endpoint=server,dir=$PKI \
 *       -chardev socket,id=s0,host=127.0.0.1,port=9000,tls-creds=tls0,server \
 *       -device isa-serial,chardev=s0
 *
 * Startup follows QEMU's order: objects, then chardevs (a server with
 * wait=on blocks here until its first client is in), then the machine
 * (RAM and test guest), then serial ports (-serial first, then -device
 * isa-serial, in command-line order; the first port is the console),
 * then monitors (-monitor/-qmp DEV take the -serial shorthand, -mon a
 * -chardev id; a mux=on chardev is shared with a serial port, Ctrl-A c
 * switching), then the guest starts unless -S. A monitor's `quit` ends
 * the run as SIGTERM does, exit 0; so does `system_powerdown` once the
 * guest has powered off. The pidfile is written last, so its
 * existence means vmhost is ready; -daemonize's parent exits only then.
 * SIGTERM/SIGINT: chardevs closed (TLS close-notify), UNIX sockets and the
 * pidfile removed, exit 0. Any startup error names the option, exit 1.
 */
#include <glib-unix.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmhost-config.h"
#include "vmhost/chardev/char-mux.h"
#include "vmhost/chardev/char-pty.h"
#include "vmhost/chardev/char-socket.h"
#include "vmhost/chardev/char-stdio.h"
#include "vmhost/chardev/chardev-opts.h"
#include "vmhost/chardev/chardev-shorthand.h"
#include "vmhost/machine/machine.h"
#include "vmhost/machine/memory-backend.h"
#include "vmhost/machine/probe.h"
#include "vmhost/machine/serial.h"
#include "vmhost/migration/migration.h"
#include "vmhost/monitor/hmp.h"
#include "vmhost/monitor/qmp.h"
#include "vmhost/object/object-create.h"
#include "vmhost/object/object.h"
#include "vmhost/util/conf.h"
#include "vmhost/util/error.h"
#include "vmhost/util/json.h"
#include "vmhost/util/log.h"
#include "vmhost/util/opts.h"
#include "vmhost/util/process.h"
#include "vmhost/util/size.h"
#include "vmhost/util/terminal.h"
#include "vmhost/vmhost-types.h"

#define DEFAULT_RAM "128M"

typedef enum {
    OPT_NAME,
    OPT_M,
    OPT_MACHINE,
    OPT_MEM_PREALLOC,
    OPT_OBJECT,
    OPT_CHARDEV,
    OPT_SERIAL,
    OPT_DEVICE,
    OPT_MONITOR,
    OPT_QMP,
    OPT_MON,
    OPT_S,
    OPT_NODEFAULTS,
    OPT_NOGRAPHIC,
    OPT_DAEMONIZE,
    OPT_PIDFILE,
    OPT_D,
    OPT_CONFIG,
    OPT_VERSION,
    OPT_HELP,
    OPT_INCOMING,
    OPT_UNSUPPORTED,
} OptId;

typedef struct {
    const char *name;
    OptId id;
    const char *arg; /* NULL: takes no argument */
    const char *help;
} OptionDef;

static const OptionDef option_defs[] = {
    {"name", OPT_NAME, "NAME", "the machine's name, used in messages"},
    {"m", OPT_M, "SIZE",
     "guest RAM (default " DEFAULT_RAM "; a plain number "
     "is MiB)"},
    {"machine", OPT_MACHINE, "[type=]none|pc|q35[,memory-backend=ID]",
     "the machine (vmhost has one; the type is accepted for QEMU's sake); "
     "memory-backend=ID: guest RAM from a memory-backend-ram/-file object"},
    {"mem-prealloc", OPT_MEM_PREALLOC, NULL,
     "populate all guest RAM at startup (memory backends default to "
     "prealloc=on)"},
    {"object", OPT_OBJECT, "TYPE,id=ID,...",
     "create an object: tls-creds-x509, tls-creds-anon, tls-creds-psk, "
     "authz-simple, authz-list, authz-list-file, memory-backend-ram, "
     "memory-backend-file"},
    {"chardev", OPT_CHARDEV, "BACKEND,id=ID,...",
     "create a character device (socket, null, file, ringbuf, ...)"},
    {"serial", OPT_SERIAL, "DEV",
     "a serial port on DEV: chardev:ID, null, stdio, pty, file:PATH, "
     "tcp:HOST:PORT[,server][,nowait], telnet:HOST:PORT[,server][,nowait], "
     "unix:PATH[,server], none"},
    {"device", OPT_DEVICE, "isa-serial,chardev=ID[,id=ID]",
     "a serial port on chardev ID; chardev-probe,id=ID,chardev=ID: a silent "
     "frontend for the monitor's probe_write/probe_read"},
    {"monitor", OPT_MONITOR, "DEV",
     "an HMP (human) monitor on DEV (the -serial forms: stdio, "
     "unix:PATH,server,nowait, tcp:HOST:PORT,server,nowait, chardev:ID, "
     "...)"},
    {"qmp", OPT_QMP, "DEV", "a QMP (JSON) monitor on DEV (as -monitor)"},
    {"mon", OPT_MON, "[chardev=]ID[,mode=readline|control][,pretty=on|off]",
     "a monitor on chardev ID: readline is HMP (default), control is QMP"},
    {"S", OPT_S, NULL, "do not start the guest (state prelaunch)"},
    {"nodefaults", OPT_NODEFAULTS, NULL,
     "no default devices (vmhost creates none anyway)"},
    {"nographic", OPT_NOGRAPHIC, NULL, "no display (vmhost has none)"},
    {"daemonize", OPT_DAEMONIZE, NULL,
     "run in the background once set up; the parent exits 0 then"},
    {"pidfile", OPT_PIDFILE, "FILE",
     "write the process id to FILE once ready (removed on exit)"},
    {"D", OPT_D, "LOGFILE", "write log messages to LOGFILE (appended)"},
    {"config", OPT_CONFIG, "FILE",
     "read settings (tls_priority, ...) from FILE instead of $VMHOST_CONF or "
     "/etc/vmhost/vmhost.conf"},
    {"version", OPT_VERSION, NULL, "print the version and exit"},
    {"help", OPT_HELP, NULL, "print this help and exit"},
    {"h", OPT_HELP, NULL, NULL},
    {"incoming", OPT_INCOMING, "URI|defer",
     "be a migration target: receive on URI (tcp:, unix:, fd:, exec:, "
     "file:), or wait for migrate_incoming (defer); the guest runs once "
     "the migration is in"},
};

/* -monitor DEV, -qmp DEV or -mon OPTS, as given (borrowed from argv). */
typedef struct {
    OptId kind;
    const char *arg;
} MonitorArg;

typedef struct {
    char *name; /* -name guest=NAME */
    guint64 ram_size;
    bool ram_size_set;    /* -m given */
    char *memory_backend; /* -machine memory-backend=ID */
    bool mem_prealloc;    /* -mem-prealloc */
    /* The option strings, borrowed from argv, in command-line order. */
    GPtrArray *objects, *chardevs, *serials, *devices;
    GArray *monitors; /* MonitorArg */
    bool start_paused;
    const char *incoming; /* -incoming URI or "defer" */
    bool daemonize;
    bool uses_stdio;
    const char *pidfile;
    const char *logfile;
    const char *config_path; /* --config FILE */
} Config;

typedef struct {
    Config cfg;
    GMainLoop *loop;
    VhMachine *machine;
    VhMigration *migration;
    GPtrArray *ports;       /* VhSerial, the console first */
    GPtrArray *probes;      /* VhProbe (-device chardev-probe) */
    GPtrArray *hmps, *qmps; /* VhHmp, VhQmp */
    VhMonitorHost mon_host;
    bool quit; /* a monitor's quit ended the run */
    VhPidfile *pidfile;
    int ready_fd; /* -daemonize: the pipe to the waiting parent */
    int signal;   /* the signal that ends the run, 0 while none */
} Vmhost;

/* ---- messages ---- */

/* "waiting for connection on: ..." is for the operator: stderr, and the
 * log. */
static void chardev_info(const char *message, void *opaque)
{
    g_autofree char *text = g_strdup_printf("vmhost: %s", message);

    fprintf(stderr, "%s%s", text, vh_tty_line_end(STDERR_FILENO));
    vh_log_line(text);
}

/* Make the message name @opt, unless it already does. */
static void name_option(GError **errp, const char *opt)
{
    if (errp && *errp && !g_str_has_prefix((*errp)->message, opt)) {
        g_prefix_error(errp, "%s: ", opt);
    }
}

static void usage(void)
{
    printf("usage: vmhost [options]\n\n"
           "QEMU's command-line language for the TLS host services.\n\n");
    for (size_t i = 0; i < G_N_ELEMENTS(option_defs); i++) {
        const OptionDef *d = &option_defs[i];
        g_autofree char *left = g_strdup_printf(
            "-%s%s%s", d->name, d->arg ? " " : "", d->arg ? d->arg : "");
        if (d->help) {
            printf("  %s\n      %s\n", left, d->help);
        }
    }
}

/* ---- the command line ---- */

static const OptionDef *find_option(const char *arg)
{
    const char *name = arg + 1;

    if (name[0] == '-') {
        name++; /* --name works too, as in QEMU */
    }
    for (size_t i = 0; i < G_N_ELEMENTS(option_defs); i++) {
        if (g_str_equal(option_defs[i].name, name)) {
            return &option_defs[i];
        }
    }
    return NULL;
}

static bool parse_ram_size(const char *arg, guint64 *out, GError **errp)
{
    g_autoptr(VhOpts) o = vh_opts_parse("-m", arg, "size", errp);
    const char *size;

    if (!o) {
        return false;
    }
    size = vh_opts_get_string(o, "size");
    if (!vh_opts_check_unused(o, errp)) {
        return false;
    }
    if (!size || !size[0]) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "-m: a size is required (e.g. -m 512M)");
        return false;
    }
    if (!vh_size_parse(size, 'M', out, errp)) {
        g_prefix_error(errp, "-m: ");
        return false;
    }
    if (*out % VH_RAM_PAGE_SIZE ||
        *out < (guint64)VH_TEST_GUEST_MIN_PAGES * VH_RAM_PAGE_SIZE) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "-m: '%s': guest RAM must be a multiple of 4 KiB and at "
                    "least %u KiB",
                    size, VH_TEST_GUEST_MIN_PAGES * VH_RAM_PAGE_SIZE / 1024);
        return false;
    }
    return true;
}

/* -machine [type=]T[,memory-backend=ID]: one machine, any common type. */
static bool parse_machine(const char *arg, char **backend, GError **errp)
{
    static const char *const types[] = {"none", "pc", "q35", "vmhost"};
    g_autoptr(VhOpts) o = vh_opts_parse("-machine", arg, "type", errp);

    if (!o) {
        return false;
    }
    const char *type = vh_opts_get_string(o, "type");
    const char *mb = vh_opts_get_string(o, "memory-backend");
    if (!vh_opts_check_unused(o, errp)) {
        return false;
    }
    if (type && !g_strv_contains(types, type)) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "-machine: unsupported machine type '%s' (vmhost has one "
                    "machine; none, pc, q35 and vmhost name it)",
                    type);
        return false;
    }
    if (mb) {
        g_free(*backend);
        *backend = g_strdup(mb);
    }
    return true;
}

/* -name [guest=]NAME[,process=P][,debug-threads=on|off]: only the name
 * matters to vmhost; the other QEMU keys are accepted. */
static bool parse_name(const char *arg, char **out, GError **errp)
{
    g_autoptr(VhOpts) o = vh_opts_parse("-name", arg, "guest", errp);
    const char *guest;
    bool threads = false;

    if (!o) {
        return false;
    }
    guest = vh_opts_get_string(o, "guest");
    (void)vh_opts_get_string(o, "process");
    if (!vh_opts_get_bool(o, "debug-threads", &threads, errp) ||
        !vh_opts_check_unused(o, errp)) {
        return false;
    }
    if (!guest || !guest[0]) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "-name: a name is required (e.g. -name vm0)");
        return false;
    }
    g_free(*out);
    *out = g_strdup(guest);
    return true;
}

/* Whether -chardev @arg is a stdio backend (which -daemonize refuses). */
static bool chardev_is_stdio(const char *arg)
{
    g_autoptr(VhOpts) o = vh_opts_parse("-chardev", arg, "backend", NULL);
    const char *backend = o ? vh_opts_get_string(o, "backend") : NULL;

    return backend && g_str_equal(backend, "stdio");
}

/* Sets *@done when the run is over already (-help, -version). */
static bool parse_args(int argc, char **argv, Config *c, bool *done,
                       GError **errp)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const OptionDef *d;
        const char *val = NULL;

        if (a[0] != '-' || !a[1]) {
            g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                        "'%s': not an option (vmhost takes no disk image; "
                        "see -help)",
                        a);
            return false;
        }
        d = find_option(a);
        if (!d) {
            g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                        "%s: unknown option (see -help)", a);
            return false;
        }
        if (d->arg) {
            if (i + 1 >= argc) {
                g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                            "-%s: requires an argument (%s)", d->name, d->arg);
                return false;
            }
            val = argv[++i];
        }
        switch (d->id) {
        case OPT_NAME:
            if (!parse_name(val, &c->name, errp)) {
                return false;
            }
            break;
        case OPT_M:
            if (!parse_ram_size(val, &c->ram_size, errp)) {
                return false;
            }
            c->ram_size_set = true;
            break;
        case OPT_MACHINE:
            if (!parse_machine(val, &c->memory_backend, errp)) {
                return false;
            }
            break;
        case OPT_MEM_PREALLOC:
            c->mem_prealloc = true;
            break;
        case OPT_OBJECT:
            g_ptr_array_add(c->objects, (gpointer)val);
            break;
        case OPT_CHARDEV:
            c->uses_stdio |= chardev_is_stdio(val);
            g_ptr_array_add(c->chardevs, (gpointer)val);
            break;
        case OPT_SERIAL:
            c->uses_stdio |= g_str_equal(val, "stdio");
            g_ptr_array_add(c->serials, (gpointer)val);
            break;
        case OPT_DEVICE:
            g_ptr_array_add(c->devices, (gpointer)val);
            break;
        case OPT_MONITOR:
        case OPT_QMP:
        case OPT_MON: {
            MonitorArg m = {d->id, val};
            c->uses_stdio |= d->id != OPT_MON && g_str_equal(val, "stdio");
            g_array_append_val(c->monitors, m);
            break;
        }
        case OPT_S:
            c->start_paused = true;
            break;
        case OPT_INCOMING:
            c->incoming = val;
            break;
        case OPT_NODEFAULTS:
        case OPT_NOGRAPHIC:
            break; /* vmhost has no default devices and no display */
        case OPT_DAEMONIZE:
            c->daemonize = true;
            break;
        case OPT_PIDFILE:
            c->pidfile = val;
            break;
        case OPT_D:
            c->logfile = val;
            break;
        case OPT_CONFIG:
            c->config_path = val;
            break;
        case OPT_VERSION:
            printf("vmhost version %s\n", VMHOST_VERSION);
            *done = true;
            return true;
        case OPT_HELP:
            usage();
            *done = true;
            return true;
        case OPT_UNSUPPORTED:
        default:
            g_set_error(errp, VH_ERROR, VH_ERROR_NOT_SUPPORTED,
                        "-%s: not yet supported", d->name);
            return false;
        }
    }
    if (c->daemonize && c->uses_stdio) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "-daemonize: cannot be used with a stdio chardev or "
                    "-serial stdio");
        return false;
    }
    return true;
}

/* ---- chardevs ---- */

/*
 * Register @chr and, for a server with wait=on, block until its client is
 * in (the operator is told where it waits). A client without reconnect
 * waits for its connection to open too, so that a refused TLS handshake
 * is a startup error naming the peer rather than a dead serial port.
 */
static bool chardev_start(VhChardev *chr, VhOpts *o, GError **errp)
{
    bool server = false;

    if (!vh_chardev_register(chr, errp)) {
        return false;
    }
    /* Read already by the backend: these cannot fail now. */
    if (!vh_opts_get_bool(o, "server", &server, NULL)) {
        server = false;
    }
    /* the socket knows best: fd=N of a listening socket is a server */
    if (VH_IS_CHARDEV_SOCKET(chr) &&
        vh_chardev_socket_is_server(VH_CHARDEV_SOCKET(chr))) {
        server = true;
    }
    if (VH_IS_CHARDEV_SOCKET(chr) && !server && !vh_opts_has(o, "reconnect") &&
        !vh_opts_has(o, "reconnect-ms")) {
        return vh_chardev_socket_wait_connected(VH_CHARDEV_SOCKET(chr), errp);
    }
    /* A server with wait=on, under a mux too. */
    return vh_chardev_wait_connected(chr, errp);
}

static bool add_chardev(const char *arg, GError **errp)
{
    g_autoptr(VhOpts) o = vh_opts_parse("-chardev", arg, "backend", errp);
    g_autoptr(VhChardev) chr =
        o ? vh_chardev_new_from_opts(o, NULL, errp) : NULL;

    return chr && chardev_start(chr, o, errp);
}

/*
 * The chardev behind @optname (-serial, -monitor, -qmp) @dev, QEMU's
 * shorthand (chardev-shorthand.h; transfer full): created and registered
 * as @id unless @dev is chardev:ID; NULL without an error for none.
 */
static VhChardev *shorthand_chardev(const char *optname, const char *dev,
                                    const char *id, GError **errp)
{
    VhChardevShorthand sh;
    g_autoptr(VhChardev) chr = NULL;

    if (!vh_chardev_shorthand_parse(optname, dev, id, &sh, errp)) {
        return NULL;
    }
    switch (sh.kind) {
    case VH_CHARDEV_SHORTHAND_EXISTING:
        chr = vh_chardev_lookup(sh.chardev_id);
        if (!chr) {
            g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                        "%s: chardev '%s' not found", optname, sh.chardev_id);
        } else {
            g_object_ref(chr);
        }
        break;
    case VH_CHARDEV_SHORTHAND_NEW:
        chr = vh_chardev_new_from_opts(sh.opts, NULL, errp);
        if (chr && !chardev_start(chr, sh.opts, errp)) {
            g_clear_object(&chr);
        }
        break;
    case VH_CHARDEV_SHORTHAND_NONE:
    default:
        break;
    }
    vh_chardev_shorthand_clear(&sh);
    return g_steal_pointer(&chr);
}

/* ---- serial ports ---- */

static bool add_port(Vmhost *vm, const char *optname, const char *id,
                     VhChardev *chr, GError **errp)
{
    VhTestGuest *console = NULL;
    VhSerial *port;

    for (guint i = 0; i < vm->ports->len; i++) {
        VhSerial *other = g_ptr_array_index(vm->ports, i);
        if (vh_serial_get_chardev(other) == chr) {
            g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                        "%s: chardev '%s' is already in use by %s", optname,
                        vh_chardev_get_id(chr), vh_serial_get_id(other));
            return false;
        }
    }
    if (vh_chardev_has_frontend(chr)) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "%s: chardev '%s' is already in use", optname,
                    vh_chardev_get_id(chr));
        return false;
    }
    if (!vh_machine_claim_device_id(vm->machine, id, errp)) {
        g_prefix_error(errp, "%s: ", optname);
        return false;
    }
    if (vm->ports->len == 0) {
        console = vh_machine_get_test_guest(vm->machine);
    }
    port = vh_serial_new(id, chr, console, errp);
    if (!port) {
        vh_machine_release_device_id(vm->machine, id);
        return false;
    }
    g_ptr_array_add(vm->ports, port);
    return true;
}

/* -device chardev-probe,id=ID,chardev=ID (vmhost/machine/probe.h). */
static bool add_probe(Vmhost *vm, VhOpts *o, GError **errp)
{
    const char *chardev = vh_opts_get_string(o, "chardev");
    const char *id = vh_opts_get_string(o, "id");
    VhChardev *chr;
    VhProbe *probe;

    if (!vh_opts_check_unused(o, errp)) {
        return false;
    }
    if (!chardev || !id) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "-device chardev-probe: parameter '%s' is required",
                    chardev ? "id" : "chardev");
        return false;
    }
    chr = vh_chardev_lookup(chardev);
    if (!chr) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "-device chardev-probe: chardev '%s' not found", chardev);
        return false;
    }
    if (!vh_machine_claim_device_id(vm->machine, id, errp)) {
        g_prefix_error(errp, "-device chardev-probe: ");
        return false;
    }
    probe = vh_probe_new(id, chr, errp);
    if (!probe) {
        vh_machine_release_device_id(vm->machine, id);
        return false;
    }
    g_ptr_array_add(vm->probes, probe);
    return true;
}

/*
 * -device's argument: an option string (implied key driver) or, when it
 * starts with '{', JSON as QEMU >= 6.0 takes it. Every property of
 * vmhost's devices is a string, so any other JSON type is refused.
 */
static VhOpts *device_opts(const char *arg, GError **errp)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(JsonNode) root = NULL;
    g_autoptr(GList) members = NULL;
    JsonObject *o;

    if (arg[0] != '{') {
        return vh_opts_parse("-device", arg, "driver", errp);
    }
    root = vh_json_parse(arg, -1, &err);
    if (!root) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "-device: JSON parse error, %s", err->message);
        return NULL;
    }
    if (!JSON_NODE_HOLDS_OBJECT(root)) {
        g_set_error_literal(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                            "-device: the JSON form must be an object");
        return NULL;
    }
    o = json_node_get_object(root);
    members = json_object_get_members(o);
    for (GList *l = members; l; l = l->next) {
        JsonNode *n = json_object_get_member(o, l->data);

        if (!g_str_equal(vh_json_type_name(n), "string")) {
            g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                        "-device: Invalid parameter type for '%s', "
                        "expected: string",
                        (const char *)l->data);
            return NULL;
        }
    }
    return vh_opts_from_json("-device", o, errp);
}

static bool add_device(Vmhost *vm, const char *arg, GError **errp)
{
    g_autoptr(VhOpts) o = device_opts(arg, errp);
    const char *driver, *chardev, *id;
    g_autofree char *auto_id = NULL;
    VhChardev *chr;

    if (!o) {
        return false;
    }
    driver = vh_opts_get_string(o, "driver");
    if (driver && g_str_equal(driver, "chardev-probe")) {
        return add_probe(vm, o, errp);
    }
    if (!driver || !g_str_equal(driver, "isa-serial")) {
        g_set_error(errp, VH_ERROR, VH_ERROR_NOT_SUPPORTED,
                    "-device: driver '%s' is not supported (vmhost has "
                    "isa-serial and chardev-probe)",
                    driver ? driver : "");
        return false;
    }
    chardev = vh_opts_get_string(o, "chardev");
    id = vh_opts_get_string(o, "id");
    if (!vh_opts_check_unused(o, errp)) {
        return false;
    }
    if (!chardev) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "-device isa-serial: parameter 'chardev' is required");
        return false;
    }
    chr = vh_chardev_lookup(chardev);
    if (!chr) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "-device isa-serial: chardev '%s' not found", chardev);
        return false;
    }
    if (!id) {
        id = auto_id = g_strdup_printf("serial%u", vm->ports->len);
    }
    return add_port(vm, "-device isa-serial", id, chr, errp);
}

static bool add_serials(Vmhost *vm, GError **errp)
{
    GPtrArray *serials = vm->cfg.serials;

    for (guint i = 0; i < serials->len; i++) {
        g_autofree char *cid = g_strdup_printf("serial%u", i);
        g_autoptr(VhChardev) chr = shorthand_chardev(
            "-serial", g_ptr_array_index(serials, i), cid, errp);
        g_autofree char *id = g_strdup_printf("serial%u", vm->ports->len);

        if (!chr) {
            if (errp && *errp) {
                return false;
            }
            continue; /* none */
        }
        if (!add_port(vm, "-serial", id, chr, errp)) {
            return false;
        }
    }
    return true;
}

/* ---- monitors ---- */

/*
 * Whether an HMP monitor on @chr has a person at a terminal (readline
 * mode: echo, redraws, completion): stdio while stdin is a terminal, pty,
 * and a telnet=on socket (its server offers WILL ECHO, so the client
 * stops echoing locally); a mux=on chardev by its backend. Other sockets
 * and the rest: line mode.
 */
static bool chardev_is_terminal(VhChardev *chr)
{
    VhChardev *be = vh_chardev_get_backend(chr);

    return (VH_IS_CHARDEV_STDIO(be) && isatty(STDIN_FILENO)) ||
           VH_IS_CHARDEV_PTY(be) ||
           (VH_IS_CHARDEV_SOCKET(be) &&
            vh_chardev_socket_is_telnet(VH_CHARDEV_SOCKET(be)));
}

/* -mon [chardev=]ID[,mode=readline|control][,pretty=on|off] */
static bool parse_mon(const char *arg, char **id, bool *qmp, GError **errp)
{
    g_autoptr(VhOpts) o = vh_opts_parse("-mon", arg, "chardev", errp);
    const char *chardev, *mode;
    bool pretty = false;

    if (!o) {
        return false;
    }
    chardev = vh_opts_get_string(o, "chardev");
    mode = vh_opts_get_string(o, "mode");
    /* pretty is QEMU's; vmhost's QMP output is one line per reply. */
    if (!vh_opts_get_bool(o, "pretty", &pretty, errp) ||
        !vh_opts_check_unused(o, errp)) {
        return false;
    }
    if (!chardev || !chardev[0]) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "-mon: parameter 'chardev' is required");
        return false;
    }
    if (!mode || g_str_equal(mode, "readline")) {
        *qmp = false;
    } else if (g_str_equal(mode, "control")) {
        *qmp = true;
    } else {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "-mon: mode '%s': expected readline or control", mode);
        return false;
    }
    *id = g_strdup(chardev);
    return true;
}

static bool add_monitor(Vmhost *vm, const MonitorArg *m, guint index,
                        GError **errp)
{
    const char *optname = m->kind == OPT_MONITOR ? "-monitor"
                          : m->kind == OPT_QMP   ? "-qmp"
                                                 : "-mon";
    g_autoptr(VhChardev) chr = NULL;
    bool qmp = m->kind == OPT_QMP, terminal = false;

    if (m->kind == OPT_MON) {
        g_autofree char *id = NULL;

        if (!parse_mon(m->arg, &id, &qmp, errp)) {
            return false;
        }
        chr = vh_chardev_lookup(id);
        if (!chr) {
            g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                        "-mon: chardev '%s' not found", id);
            return false;
        }
        g_object_ref(chr);
    } else {
        g_autofree char *id = g_strdup_printf("compat_monitor%u", index);

        chr = shorthand_chardev(optname, m->arg, id, errp);
        if (!chr) {
            return !(errp && *errp); /* none */
        }
    }
    if (!VH_IS_CHARDEV_MUX(chr) && vh_chardev_has_frontend(chr)) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "%s: chardev '%s' is already in use (use mux=on to "
                    "share it)",
                    optname, vh_chardev_get_id(chr));
        return false;
    }
    if (qmp) {
        g_ptr_array_add(vm->qmps, vh_qmp_new(&vm->mon_host, chr));
    } else {
        terminal = chardev_is_terminal(chr);
        g_ptr_array_add(vm->hmps, vh_hmp_new(&vm->mon_host, chr, terminal));
    }
    return true;
}

/* A monitor's quit: the run ends as on SIGTERM. */
static void on_monitor_quit(void *opaque)
{
    Vmhost *vm = opaque;

    vm->quit = true;
    g_main_loop_quit(vm->loop);
}

static bool add_monitors(Vmhost *vm, GError **errp)
{
    GArray *mons = vm->cfg.monitors;

    vm->mon_host.machine = vm->machine;
    vm->mon_host.context = g_main_context_default();
    vm->mon_host.quit = on_monitor_quit;
    vm->mon_host.opaque = vm;
    for (guint i = 0; i < mons->len; i++) {
        if (!add_monitor(vm, &g_array_index(mons, MonitorArg, i), i, errp)) {
            return false;
        }
    }
    return true;
}

/* ---- process: daemon, pidfile, signals ---- */

/* -daemonize: the parent exits only once the child is ready. */
static bool daemonize_start(Vmhost *vm, GError **errp)
{
    if (!vh_daemonize_start(&vm->ready_fd, errp)) {
        g_prefix_error(errp, "-daemonize: ");
        return false;
    }
    return true;
}

static void daemonize_finish(Vmhost *vm)
{
    vh_daemonize_finish(vm->ready_fd);
    vm->ready_fd = -1;
}

/* Written once everything is up; locked so two vmhosts cannot share it. */
static bool pidfile_write(Vmhost *vm, GError **errp)
{
    vm->pidfile = vh_pidfile_acquire(vm->cfg.pidfile, errp);
    if (!vm->pidfile) {
        g_prefix_error(errp, "-pidfile: ");
        return false;
    }
    return true;
}

static gboolean on_signal(gpointer opaque, int signo)
{
    Vmhost *vm = opaque;

    vm->signal = signo;
    /* During startup this ends a wait for a client too. */
    vh_chardev_remove_all();
    g_main_loop_quit(vm->loop);
    return G_SOURCE_CONTINUE;
}

static gboolean on_sigterm(gpointer opaque)
{
    return on_signal(opaque, SIGTERM);
}

static gboolean on_sigint(gpointer opaque)
{
    return on_signal(opaque, SIGINT);
}

/* ---- startup and shutdown ---- */

/* The guest RAM: -m, or the memory backend -machine names. */
static VhRamBlock *machine_ram(Config *c, GError **errp)
{
    if (!c->memory_backend) {
        VhRamBlock *ram =
            vh_ram_block_new("pc.ram", c->ram_size, c->mem_prealloc, errp);
        if (!ram) {
            name_option(errp, "-m");
        }
        return ram;
    }
    GObject *obj = vh_object_lookup(c->memory_backend);
    if (!obj || !VH_IS_MEMORY_BACKEND(obj)) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "Memory backend '%s' not found", c->memory_backend);
        return NULL;
    }
    VhMemoryBackend *b = VH_MEMORY_BACKEND(obj);
    if (c->ram_size_set && vh_memory_backend_get_size(b) != c->ram_size) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "Machine memory size does not match the size of the "
                    "memory backend");
        return NULL;
    }
    c->ram_size = vh_memory_backend_get_size(b);
    return vh_memory_backend_take_ram(b, c->memory_backend, errp);
}

static bool start(Vmhost *vm, GError **errp)
{
    Config *c = &vm->cfg;
    g_autoptr(VhRamBlock) ram = NULL;

    if (c->logfile && !vh_log_open_file(c->logfile, errp)) {
        g_prefix_error(errp, "-D: ");
        return false;
    }
    vh_object_register_builtin_types();
    vh_memory_backend_set_default_prealloc(c->mem_prealloc);
    for (guint i = 0; i < c->objects->len; i++) {
        if (!vh_object_add_from_string(g_ptr_array_index(c->objects, i),
                                       errp)) {
            name_option(errp, "-object");
            return false;
        }
    }
    for (guint i = 0; i < c->chardevs->len; i++) {
        if (!add_chardev(g_ptr_array_index(c->chardevs, i), errp)) {
            name_option(errp, "-chardev");
            return false;
        }
    }
    ram = machine_ram(c, errp);
    if (!ram) {
        return false;
    }
    vm->machine = vh_machine_new(c->name ? c->name : "vmhost",
                                 g_steal_pointer(&ram), errp);
    if (!vm->machine) {
        name_option(errp, "-m");
        return false;
    }
    if (!add_serials(vm, errp)) {
        name_option(errp, "-serial");
        return false;
    }
    for (guint i = 0; i < c->devices->len; i++) {
        if (!add_device(vm, g_ptr_array_index(c->devices, i), errp)) {
            name_option(errp, "-device");
            return false;
        }
    }
    /* Each device registers its migration state with the machine. */
    for (guint i = 0; i < vm->ports->len; i++) {
        vh_serial_register_state(g_ptr_array_index(vm->ports, i), vm->machine);
    }
    for (guint i = 0; i < vm->probes->len; i++) {
        vh_probe_register_state(g_ptr_array_index(vm->probes, i), vm->machine);
    }
    vm->migration = vh_migration_new(vm->machine);
    vh_monitor_host_set_migration(&vm->mon_host, vm->migration);
    if (!add_monitors(vm, errp)) {
        return false;
    }
    if (c->incoming) {
        /* A target: inmigrate until the whole state is in (-S: paused). */
        vh_machine_set_autostart(vm->machine, !c->start_paused);
        if (!vh_machine_set_state(vm->machine, VH_RUN_STATE_INMIGRATE, errp) ||
            (!g_str_equal(c->incoming, "defer") &&
             !vh_migration_incoming(vm->migration, c->incoming, errp))) {
            name_option(errp, "-incoming");
            return false;
        }
        return !c->pidfile || pidfile_write(vm, errp);
    }
    if (!c->start_paused && !vh_machine_cont(vm->machine, errp)) {
        return false;
    }
    return !c->pidfile || pidfile_write(vm, errp);
}

static void stop(Vmhost *vm)
{
    /* Migration threads first: they use the machine and the ports. */
    if (vm->migration) {
        vh_monitor_host_set_migration(&vm->mon_host, NULL);
        g_clear_pointer(&vm->migration, vh_migration_free);
    }
    /* Monitors and ports first: they hold the chardevs' frontends. */
    g_ptr_array_set_size(vm->hmps, 0);
    g_ptr_array_set_size(vm->qmps, 0);
    g_ptr_array_set_size(vm->ports, 0);
    g_ptr_array_set_size(vm->probes, 0);
    vh_chardev_remove_all(); /* TLS close-notify, UNIX sockets unlinked */
    if (vm->machine) {
        vh_machine_shutdown(vm->machine);
        g_clear_object(&vm->machine);
    }
    vh_monitor_host_clear(&vm->mon_host);
    g_clear_pointer(&vm->pidfile, vh_pidfile_remove);
}

static void report_ready(Vmhost *vm)
{
    Config *c = &vm->cfg;
    g_autofree char *ram = vh_size_format(c->ram_size);
    g_autofree char *text = g_strdup_printf(
        "vmhost: machine %s up: %s of RAM, %u serial port(s), %s, pid %d",
        c->name ? c->name : "vmhost", ram, vm->ports->len,
        vh_run_state_name(vh_machine_get_state(vm->machine)), (int)getpid());

    vh_log_line(text);
}

static int run(Vmhost *vm)
{
    g_autoptr(GError) err = NULL;
    int rc = 0;

    vm->loop = g_main_loop_new(NULL, FALSE);
    vh_log_init("vmhost");
    vh_chardev_set_info_func(chardev_info, vm);
    g_unix_signal_add(SIGTERM, on_sigterm, vm);
    g_unix_signal_add(SIGINT, on_sigint, vm);
    signal(SIGPIPE, SIG_IGN);

    if (!start(vm, &err)) {
        if (vm->signal) {
            g_clear_error(&err);
        } else {
            g_autofree char *text = g_strdup_printf("vmhost: %s", err->message);
            /* a stdio chardev may still hold the terminal in raw mode */
            fprintf(stderr, "%s%s", text, vh_tty_line_end(STDERR_FILENO));
            vh_log_line(text);
            rc = 1;
        }
    }
    if (rc == 0 && !vm->signal) {
        report_ready(vm);
        if (vm->ready_fd >= 0) {
            daemonize_finish(vm);
        }
        g_main_loop_run(vm->loop);
    }
    if (vm->signal) {
        g_autofree char *text =
            g_strdup_printf("vmhost: terminating on signal %d", vm->signal);
        fprintf(stderr, "%s\n", text);
        vh_log_line(text);
    } else if (vm->quit && vm->machine &&
               vh_machine_get_guest_shutdown(vm->machine)) {
        vh_log_line("vmhost: the guest powered off (system_powerdown)");
    } else if (vm->quit) {
        vh_log_line("vmhost: quit from the monitor");
    }
    stop(vm);
    g_main_loop_unref(vm->loop);
    return rc;
}

int main(int argc, char **argv)
{
    g_autoptr(GError) err = NULL;
    Vmhost vm = {
        .ready_fd = -1,
    };
    Config *c = &vm.cfg;
    bool done = false;
    int rc;

    c->objects = g_ptr_array_new();
    c->chardevs = g_ptr_array_new();
    c->serials = g_ptr_array_new();
    c->devices = g_ptr_array_new();
    c->monitors = g_array_new(FALSE, FALSE, sizeof(MonitorArg));
    vm.hmps = g_ptr_array_new_with_free_func((GDestroyNotify)vh_hmp_free);
    vm.qmps = g_ptr_array_new_with_free_func((GDestroyNotify)vh_qmp_free);
    vm.ports = g_ptr_array_new_with_free_func((GDestroyNotify)vh_serial_free);
    vm.probes = g_ptr_array_new_with_free_func((GDestroyNotify)vh_probe_free);
    if (!parse_ram_size(DEFAULT_RAM, &c->ram_size, &err) ||
        !parse_args(argc, argv, c, &done, &err) ||
        (!done && !vh_host_conf_load(c->config_path, &err)) ||
        (!done && c->daemonize && !daemonize_start(&vm, &err))) {
        fprintf(stderr, "vmhost: %s\n", err->message);
        rc = 1;
    } else {
        rc = done ? 0 : run(&vm);
    }
    g_ptr_array_unref(vm.hmps);
    g_ptr_array_unref(vm.qmps);
    g_ptr_array_unref(vm.ports);
    g_ptr_array_unref(vm.probes);
    g_array_unref(c->monitors);
    g_ptr_array_unref(c->objects);
    g_ptr_array_unref(c->chardevs);
    g_ptr_array_unref(c->serials);
    g_ptr_array_unref(c->devices);
    g_free(c->name);
    g_free(c->memory_backend);
    vh_log_close();
    return rc;
}
