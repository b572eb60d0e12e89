/*
 * -chardev option strings to chardevs, and the registry of chardevs by id.
 * Each backend reads its own keys and checks for leftovers before it opens
 * anything; the keys every backend shares are read first, here.
 */
#include "chardev-internal.h"
#include "vmhost/chardev/char-file.h"
#include "vmhost/chardev/char-mux.h"
#include "vmhost/chardev/char-null.h"
#include "vmhost/chardev/char-pipe.h"
#include "vmhost/chardev/char-pty.h"
#include "vmhost/chardev/char-ringbuf.h"
#include "vmhost/chardev/char-serial.h"
#include "vmhost/chardev/char-socket.h"
#include "vmhost/chardev/char-stdio.h"
#include "vmhost/chardev/chardev-opts.h"
#include "vmhost/object/object.h"

#include <string.h>
#include <unistd.h>

/* ---- option parsing ---- */

typedef struct {
    const char *optname; /* "-chardev" */
    const char *backend; /* "socket" */
    const char *id;
} Common;

typedef VhChardev *(*BackendNew)(const Common *c, VhOpts *o, GMainContext *ctx,
                                 GError **errp);

/* A getter's error, prefixed with the chardev it is about. */
static bool key_failed(const Common *c, GError **errp)
{
    g_prefix_error(errp, "chardev %s: ", c->id);
    return false;
}

static bool get_bool(const Common *c, VhOpts *o, const char *key, bool *out,
                     GError **errp)
{
    return vh_opts_get_bool(o, key, out, errp) || key_failed(c, errp);
}

static bool require(const Common *c, const char *key, const char *value,
                    GError **errp)
{
    if (value) {
        return true;
    }
    g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                "%s %s,id=%s: parameter '%s' is required", c->optname,
                c->backend, c->id, key);
    return false;
}

/* reconnect-ms, or the legacy reconnect=SECONDS; not both. */
static bool get_reconnect(const Common *c, VhOpts *o, gint64 *ms, GError **errp)
{
    gint64 secs = 0;

    if (vh_opts_has(o, "reconnect-ms") && vh_opts_has(o, "reconnect")) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "chardev %s: 'reconnect' and 'reconnect-ms' are the same "
                    "setting; give only one",
                    c->id);
        return false;
    }
    if (!vh_opts_get_int(o, "reconnect-ms", 0, G_MAXUINT, ms, errp) ||
        !vh_opts_get_int(o, "reconnect", 0, G_MAXUINT / 1000, &secs, errp)) {
        return key_failed(c, errp);
    }
    if (secs) {
        *ms = secs * 1000;
    }
    return true;
}

static bool get_socket_bools(const Common *c, VhOpts *o,
                             VhChardevSocketOptions *s, GError **errp)
{
    bool delay = true;

    if (!get_bool(c, o, "abstract", &s->abstract, errp) ||
        !get_bool(c, o, "server", &s->server, errp) ||
        !get_bool(c, o, "nodelay", &s->nodelay, errp) ||
        !get_bool(c, o, "delay", &delay, errp) ||
        !get_bool(c, o, "telnet", &s->telnet, errp) ||
        !get_bool(c, o, "ipv4", &s->ipv4, errp) ||
        !get_bool(c, o, "ipv6", &s->ipv6, errp)) {
        return false;
    }
    /* a server waits unless told not to; wait=on on a client is an error */
    s->wait = s->server;
    if (!get_bool(c, o, "wait", &s->wait, errp)) {
        return false;
    }
    if (!delay) {
        s->nodelay = true;
    }
    return true;
}

/* tls-handshake-timeout-ms (vmhost's own; QEMU has no such key). */
static bool get_handshake_timeout(const Common *c, VhOpts *o, guint *ms,
                                  GError **errp)
{
    gint64 v = 0;

    if (!vh_opts_get_int(o, "tls-handshake-timeout-ms", 1, G_MAXUINT, &v,
                         errp)) {
        return key_failed(c, errp);
    }
    *ms = (guint)v;
    return true;
}

/*
 * fd=N. A name (fd=NAME, an fd kept by getfd) means something only to a
 * monitor, whose chardev-add swaps it for the number before we see it.
 */
static bool get_socket_fd(const Common *c, VhOpts *o, gint64 *fd, GError **errp)
{
    const char *v = vh_opts_get_string(o, "fd");

    if (v && g_ascii_isalpha(*v)) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "chardev %s: fd '%s' is a name: named fds (getfd) are "
                    "only known to a monitor's chardev-add; here fd takes a "
                    "file descriptor number",
                    c->id, v);
        return false;
    }
    if (!vh_opts_get_int(o, "fd", 0, G_MAXINT, fd, errp)) {
        return key_failed(c, errp);
    }
    return true;
}

static VhChardev *new_socket(const Common *c, VhOpts *o, GMainContext *ctx,
                             GError **errp)
{
    VhChardevSocketOptions s = VH_CHARDEV_SOCKET_OPTIONS_INIT;
    gint64 fd = -1;

    if (!get_socket_fd(c, o, &fd, errp)) {
        return NULL;
    }
    s.fd = (int)fd;
    s.host = vh_opts_get_string(o, "host");
    s.port = vh_opts_get_string(o, "port");
    s.path = vh_opts_get_string(o, "path");
    s.tls_creds = vh_opts_get_string(o, "tls-creds");
    s.tls_authz = vh_opts_get_string(o, "tls-authz");
    if (!get_socket_bools(c, o, &s, errp) ||
        !get_reconnect(c, o, &s.reconnect_ms, errp) ||
        !get_handshake_timeout(c, o, &s.handshake_timeout_ms, errp) ||
        !vh_opts_check_unused(o, errp)) {
        if (s.fd >= 0) {
            close(s.fd); /* ours from the call on, see chardev-opts.h */
        }
        return NULL;
    }
    /* owns s.fd from here, on failure too */
    return vh_chardev_socket_new(c->id, &s, ctx, errp);
}

static VhChardev *new_null(const Common *c, VhOpts *o, GMainContext *ctx,
                           GError **errp)
{
    if (!vh_opts_check_unused(o, errp)) {
        return NULL;
    }
    return vh_chardev_null_new(c->id, ctx, errp);
}

static VhChardev *new_file(const Common *c, VhOpts *o, GMainContext *ctx,
                           GError **errp)
{
    const char *path = vh_opts_get_string(o, "path");
    bool append = false;

    if (!get_bool(c, o, "append", &append, errp) ||
        !vh_opts_check_unused(o, errp) || !require(c, "path", path, errp)) {
        return NULL;
    }
    return vh_chardev_file_new(c->id, path, append, ctx, errp);
}

static VhChardev *new_ringbuf(const Common *c, VhOpts *o, GMainContext *ctx,
                              GError **errp)
{
    guint64 size = 0;

    if (!vh_opts_get_size(o, "size", &size, errp)) {
        key_failed(c, errp);
        return NULL;
    }
    if (!vh_opts_check_unused(o, errp)) {
        return NULL;
    }
    if (vh_opts_has(o, "size") && size == 0) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "chardev %s: ringbuf size must not be 0", c->id);
        return NULL;
    }
    return vh_chardev_ringbuf_new(c->id, size, ctx, errp);
}

static VhChardev *new_stdio(const Common *c, VhOpts *o, GMainContext *ctx,
                            GError **errp)
{
    bool signal = true;

    if (!get_bool(c, o, "signal", &signal, errp) ||
        !vh_opts_check_unused(o, errp)) {
        return NULL;
    }
    return vh_chardev_stdio_new(c->id, signal, ctx, errp);
}

static VhChardev *new_pty(const Common *c, VhOpts *o, GMainContext *ctx,
                          GError **errp)
{
    if (!vh_opts_check_unused(o, errp)) {
        return NULL;
    }
    return vh_chardev_pty_new(c->id, ctx, errp);
}

static VhChardev *new_pipe(const Common *c, VhOpts *o, GMainContext *ctx,
                           GError **errp)
{
    const char *path = vh_opts_get_string(o, "path");

    if (!vh_opts_check_unused(o, errp) || !require(c, "path", path, errp)) {
        return NULL;
    }
    return vh_chardev_pipe_new(c->id, path, ctx, errp);
}

static VhChardev *new_serial(const Common *c, VhOpts *o, GMainContext *ctx,
                             GError **errp)
{
    const char *path = vh_opts_get_string(o, "path");

    if (!vh_opts_check_unused(o, errp) || !require(c, "path", path, errp)) {
        return NULL;
    }
    return vh_chardev_serial_new(c->id, path, ctx, errp);
}

typedef struct {
    const char *name;
    BackendNew fn;
} Backend;

static const Backend backends[] = {
    {"socket", new_socket},   {"null", new_null},      {"file", new_file},
    {"ringbuf", new_ringbuf}, {"memory", new_ringbuf}, {"stdio", new_stdio},
    {"pty", new_pty},         {"pipe", new_pipe},      {"serial", new_serial},
    {"tty", new_serial},
};

static const Backend *find_backend(const char *name)
{
    for (size_t i = 0; i < G_N_ELEMENTS(backends); i++) {
        if (g_str_equal(backends[i].name, name)) {
            return &backends[i];
        }
    }
    return NULL;
}

bool vh_chardev_backend_known(const char *name)
{
    return name && find_backend(name);
}

GStrv vh_chardev_backend_list(void)
{
    GStrv names = g_new0(char *, G_N_ELEMENTS(backends) + 1);

    for (guint i = 0; i < G_N_ELEMENTS(backends); i++) {
        names[i] = g_strdup(backends[i].name);
    }
    return names;
}

static bool read_common(VhOpts *opts, Common *c, const Backend **be,
                        GError **errp)
{
    c->optname = vh_opts_get_optname(opts);
    c->backend = vh_opts_get_string(opts, "backend");
    if (!c->backend) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "%s: parameter 'backend' is required (the first "
                    "element, e.g. 'socket,id=s0,...')",
                    c->optname);
        return false;
    }
    *be = find_backend(c->backend);
    if (!*be) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "%s: unknown backend '%s'", c->optname, c->backend);
        return false;
    }
    c->id = vh_opts_get_string(opts, "id");
    if (!c->id) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "%s %s: parameter 'id' is required", c->optname,
                    c->backend);
        return false;
    }
    return vh_object_id_valid(c->id, errp);
}

/* mux=on: the backend gets the id "ID-base", the mux the id itself. */
static VhChardev *wrap_mux(const Common *c, const Backend *be, VhOpts *opts,
                           GMainContext *ctx, GError **errp)
{
    g_autofree char *base_id = g_strdup_printf("%s-base", c->id);
    Common inner = *c;
    g_autoptr(VhChardev) backend = NULL;

    inner.id = base_id;
    backend = be->fn(&inner, opts, ctx, errp);
    return backend ? vh_chardev_mux_new(c->id, backend, errp) : NULL;
}

/* A socket's fd=N when we fail before its backend has read it. */
static void close_unread_fd(VhOpts *opts)
{
    const char *backend = vh_opts_get_string(opts, "backend");
    const char *v = vh_opts_get_string(opts, "fd");
    gint64 fd;

    if (backend && g_str_equal(backend, "socket") && v &&
        g_ascii_string_to_signed(v, 10, 0, G_MAXINT, &fd, NULL)) {
        close((int)fd);
    }
}

VhChardev *vh_chardev_new_from_opts(VhOpts *opts, GMainContext *ctx,
                                    GError **errp)
{
    Common c = {0};
    const Backend *be = NULL;
    const char *logfile = NULL;
    bool logappend = false, mux = false;
    g_autoptr(VhChardev) chr = NULL;

    g_return_val_if_fail(opts != NULL, NULL);
    if (!read_common(opts, &c, &be, errp) ||
        !get_bool(&c, opts, "mux", &mux, errp) ||
        !get_bool(&c, opts, "logappend", &logappend, errp)) {
        close_unread_fd(opts);
        return NULL;
    }
    logfile = vh_opts_get_string(opts, "logfile");
    chr = mux ? wrap_mux(&c, be, opts, ctx, errp) : be->fn(&c, opts, ctx, errp);
    if (!chr) {
        return NULL;
    }
    /* on the outer chardev: a mux logs what every frontend writes */
    if (logfile && !vh_chardev_set_logfile(chr, logfile, logappend, errp)) {
        return NULL;
    }
    return g_steal_pointer(&chr);
}

bool vh_chardev_wait_connected(VhChardev *chr, GError **errp)
{
    VhChardev *be = vh_chardev_get_backend(chr);

    if (!VH_IS_CHARDEV_SOCKET(be) ||
        !vh_chardev_socket_get_wait(VH_CHARDEV_SOCKET(be))) {
        return true;
    }
    return vh_chardev_socket_wait_connected(VH_CHARDEV_SOCKET(be), errp);
}

/* ---- the registry ---- */

static GHashTable *registry; /* id -> VhChardev (a reference) */
G_LOCK_DEFINE_STATIC(registry);

bool vh_chardev_register(VhChardev *chr, GError **errp)
{
    const char *id = vh_chardev_get_id(chr);
    bool ok = false;

    g_return_val_if_fail(VH_IS_CHARDEV(chr), false);
    G_LOCK(registry);
    if (!registry) {
        registry = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                         g_object_unref);
    }
    if (g_hash_table_contains(registry, id)) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "chardev with id '%s' already exists", id);
    } else {
        g_hash_table_insert(registry, g_strdup(id), g_object_ref(chr));
        ok = true;
    }
    G_UNLOCK(registry);
    return ok;
}

VhChardev *vh_chardev_lookup(const char *id)
{
    VhChardev *chr = NULL;

    G_LOCK(registry);
    if (registry && id) {
        chr = g_hash_table_lookup(registry, id);
    }
    G_UNLOCK(registry);
    return chr;
}

bool vh_chardev_remove(const char *id, GError **errp)
{
    VhChardev *chr = NULL;

    G_LOCK(registry);
    chr = registry && id ? g_hash_table_lookup(registry, id) : NULL;
    if (!chr) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "chardev '%s' not found", id ? id : "(null)");
    } else if (vh_chardev_has_frontend(chr)) {
        g_set_error(errp, VH_ERROR, VH_ERROR_FAILED,
                    "chardev '%s' is busy: a frontend is attached", id);
        chr = NULL;
    } else {
        g_object_ref(chr);
        g_hash_table_remove(registry, id);
    }
    G_UNLOCK(registry);
    if (!chr) {
        return false;
    }
    /* closed outside the lock: closing may run callbacks */
    vh_chardev_close(chr);
    g_object_unref(chr);
    return true;
}

static gint by_id(gconstpointer a, gconstpointer b)
{
    VhChardev *const *x = a;
    VhChardev *const *y = b;

    return strcmp(vh_chardev_get_id(*x), vh_chardev_get_id(*y));
}

GPtrArray *vh_chardev_list(void)
{
    GPtrArray *out = g_ptr_array_new_with_free_func(g_object_unref);
    GHashTableIter it;
    gpointer value;

    G_LOCK(registry);
    if (registry) {
        g_hash_table_iter_init(&it, registry);
        while (g_hash_table_iter_next(&it, NULL, &value)) {
            g_ptr_array_add(out, g_object_ref(value));
        }
    }
    G_UNLOCK(registry);
    g_ptr_array_sort(out, by_id);
    return out;
}

void vh_chardev_remove_all(void)
{
    g_autoptr(GPtrArray) all = vh_chardev_list();

    G_LOCK(registry);
    if (registry) {
        g_hash_table_remove_all(registry);
    }
    G_UNLOCK(registry);
    for (guint i = 0; i < all->len; i++) {
        vh_chardev_close(all->pdata[i]);
    }
}
