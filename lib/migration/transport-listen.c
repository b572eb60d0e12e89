/*
 * Migration transports, the target side: vh_mig_listen().
 *
 * Everything runs on the listener's GMainContext: accepting (VhNetListener),
 * the server TLS handshakes (VhTlsAccept, the accept path the TLS chardev
 * server uses too: concurrent, each with VH_MIG_HANDSHAKE_TIMEOUT_MS on
 * tcp: and unix:, at most VH_MIG_MAX_PENDING_HANDSHAKES at once, more
 * refused; tls-authz is checked there too), and the callback. The state
 * the callbacks need lives in a reference-counted Core that the acceptor
 * holds, so freeing the listener only has to mark it closed and free the
 * acceptor, which cuts the handshakes still running.
 */
#include "transport-priv.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmhost/io/address.h"
#include "vmhost/io/channel-file.h"
#include "vmhost/io/net-listener.h"
#include "vmhost/io/tls-accept.h"
#include "vmhost/util/error.h"
#include "vmhost/util/file.h"

typedef struct {
    GMainContext *ctx;
    VhMigAcceptFunc cb;
    void *opaque;
    char *where; /* the URI listened on, for messages */
    gint closed;
    VhTlsAccept *accept; /* with TLS: the handshakes (holds a Core ref) */
} Core;

struct VhMigListener {
    VhMigUri uri;
    char *text;
    Core *core;
    VhNetListener *net; /* tcp:, unix: */
    VhChannel *single;  /* fd:, exec:, file: until delivered */
    GSource *idle;
    bool owns_path; /* unix: the socket file is ours to remove */
};

static void core_clear(Core *core)
{
    g_clear_pointer(&core->ctx, g_main_context_unref);
    g_free(core->where);
}

static Core *core_ref(Core *core)
{
    return g_atomic_rc_box_acquire(core);
}

static void core_unref(Core *core)
{
    g_atomic_rc_box_release_full(core, (GDestroyNotify)core_clear);
}

static void deliver(Core *core, VhChannel *ch, const GError *err)
{
    if (g_atomic_int_get(&core->closed)) {
        if (ch) {
            vh_channel_close(ch, NULL);
            g_object_unref(ch);
        }
        return;
    }
    core->cb(ch, err, core->opaque);
}

/* A handshake (tls-authz included) ended: the channel goes blocking. */
static void on_tls_accepted(VhChannelTls *tls, const char *peer,
                            const GError *err, gpointer opaque)
{
    Core *core = opaque;
    g_autoptr(GError) why = NULL;

    if (!tls) {
        deliver(core, NULL, err);
        return;
    }
    if (!vh_channel_set_blocking(VH_CHANNEL(tls), true, &why)) {
        g_prefix_error(&why, "migration connection from %s: ", peer);
        vh_channel_close(VH_CHANNEL(tls), NULL);
        g_object_unref(tls);
        deliver(core, NULL, why);
        return;
    }
    deliver(core, VH_CHANNEL(tls), NULL);
}

/* Channel @ch (transfer full) from @peer: TLS first if configured. */
static void start_channel(Core *core, VhChannel *ch, const char *peer)
{
    g_autoptr(GError) err = NULL;

    if (core->accept) {
        /* The acceptor takes its own reference (and closes when refused). */
        if (!vh_tls_accept_add(core->accept, ch, peer, &err)) {
            deliver(core, NULL, err);
        }
        g_object_unref(ch);
        return;
    }
    if (!vh_channel_set_blocking(ch, true, &err)) {
        g_object_unref(ch);
        deliver(core, NULL, err);
        return;
    }
    deliver(core, ch, NULL);
}

static void on_client(VhNetListener *l, VhChannelSocket *client,
                      gpointer opaque)
{
    Core *core = opaque;
    g_autoptr(GSocketAddress) addr =
        vh_channel_socket_get_remote_address(client, NULL);
    g_autofree char *peer = NULL;

    (void)l;
    if (G_IS_INET_SOCKET_ADDRESS(addr)) {
        peer = vh_socket_address_to_string(addr);
        vh_channel_set_delay(VH_CHANNEL(client), false);
    } else {
        /* UNIX clients are anonymous: name the socket they came to. */
        peer = g_strdup_printf("a client of %s", core->where);
    }
    g_autofree char *name =
        g_strdup_printf("migration connection from %s", peer);
    vh_channel_set_name(VH_CHANNEL(client), name);
    start_channel(core, VH_CHANNEL(g_object_ref(client)), peer);
}

static bool listen_tcp(VhMigListener *l, GError **errp)
{
    guint16 port = (guint16)g_ascii_strtoull(l->uri.port, NULL, 10);

    if (!vh_net_listener_open(l->net, l->uri.host, port, errp)) {
        g_prefix_error(errp, "cannot listen for migration on %s: ", l->text);
        return false;
    }
    return true;
}

static bool listen_unix(VhMigListener *l, GError **errp)
{
    g_autoptr(GSocketAddress) addr = g_unix_socket_address_new(l->uri.path);

    if (!vh_net_listener_open_address(l->net, addr, errp)) {
        g_prefix_error(errp, "cannot listen for migration on %s: ", l->text);
        return false;
    }
    l->owns_path = true;
    return true;
}

/* file:: PATH read from the offset, which must be inside the file. */
static VhChannel *open_file_in(const VhMigUri *u, GError **errp)
{
    struct stat st;
    /* a FIFO or a device would block open() (and SIGTERM): refused */
    int fd = vh_file_open(u->path, O_RDONLY, 0, VH_FILE_OPEN_REGULAR, errp);

    if (fd < 0) {
        g_prefix_error(errp, "cannot open migration file: ");
        return NULL;
    }
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
        u->offset > (guint64)st.st_size) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "migration file '%s' is %lld bytes long, shorter than the "
                    "offset %" G_GUINT64_FORMAT,
                    u->path, (long long)st.st_size, u->offset);
        close(fd);
        return NULL;
    }
    if (u->offset && lseek(fd, (off_t)u->offset, SEEK_SET) < 0) {
        vh_set_error_errno(errp, errno, "cannot seek migration file '%s'",
                           u->path);
        close(fd);
        return NULL;
    }
    VhChannel *ch = VH_CHANNEL(vh_channel_file_new_fd(fd));
    g_autofree char *name = g_strdup_printf("migration file:%s", u->path);
    vh_channel_set_name(ch, name);
    return ch;
}

static gboolean deliver_single(gpointer opaque)
{
    VhMigListener *l = opaque;
    VhChannel *ch = g_steal_pointer(&l->single);

    g_clear_pointer(&l->idle, g_source_unref);
    start_channel(l->core, ch, l->text);
    return G_SOURCE_REMOVE;
}

static bool open_single(VhMigListener *l, VhMigFdLookup fdl, void *fdl_opaque,
                        GError **errp)
{
    switch (l->uri.kind) {
    case VH_MIG_URI_FD:
        l->single = vh_mig_open_fd(&l->uri, fdl, fdl_opaque, errp);
        break;
    case VH_MIG_URI_EXEC:
        l->single = vh_mig_open_exec(&l->uri, errp);
        break;
    case VH_MIG_URI_FILE:
        l->single = open_file_in(&l->uri, errp);
        break;
    default:
        g_assert_not_reached();
    }
    if (!l->single) {
        return false;
    }
    l->idle = g_idle_source_new();
    g_source_set_callback(l->idle, deliver_single, l, NULL);
    g_source_attach(l->idle, l->core->ctx);
    return true;
}

static char *uri_text(const VhMigUri *u)
{
    switch (u->kind) {
    case VH_MIG_URI_TCP:
        return strchr(u->host, ':')
                   ? g_strdup_printf("tcp:[%s]:%s", u->host, u->port)
                   : g_strdup_printf("tcp:%s:%s", u->host, u->port);
    case VH_MIG_URI_UNIX:
        return g_strdup_printf("unix:%s", u->path);
    case VH_MIG_URI_FD:
        return g_strdup_printf("fd:%s", u->fdname);
    case VH_MIG_URI_EXEC:
        return g_strdup_printf("exec:%s", u->command);
    case VH_MIG_URI_FILE:
        return u->offset ? g_strdup_printf("file:%s,offset=%" G_GUINT64_FORMAT,
                                           u->path, u->offset)
                         : g_strdup_printf("file:%s", u->path);
    default:
        return g_strdup("?");
    }
}

static void uri_copy(VhMigUri *dst, const VhMigUri *src)
{
    dst->kind = src->kind;
    dst->host = g_strdup(src->host);
    dst->port = g_strdup(src->port);
    dst->path = g_strdup(src->path);
    dst->fdname = g_strdup(src->fdname);
    dst->command = g_strdup(src->command);
    dst->offset = src->offset;
}

static Core *core_new(GMainContext *ctx, VhMigAcceptFunc cb, void *opaque)
{
    Core *core = g_atomic_rc_box_new0(Core);

    core->ctx = g_main_context_ref(ctx ? ctx : g_main_context_default());
    core->cb = cb;
    core->opaque = opaque;
    return core;
}

/*
 * The acceptor for TLS listeners. On tcp: and unix: every handshake has a
 * timeout; the one connection of fd: or exec: has none,
 * since its source may start migrating any time after -incoming.
 */
static void core_start_tls(Core *core, const VhMigTls *tls, const VhMigUri *u,
                           const char *where)
{
    g_autofree char *what = g_strdup_printf("migration on %s", where);
    VhTlsAcceptOptions o = {
        .creds = tls->creds,
        .authzid = tls->authzid,
        .what = what,
        .timeout_ms = !vh_mig_uri_supports_multiple(u) ? 0
                      : tls->handshake_timeout_ms ? tls->handshake_timeout_ms
                                                  : VH_MIG_HANDSHAKE_TIMEOUT_MS,
        .max_pending = VH_MIG_MAX_PENDING_HANDSHAKES,
        .ctx = core->ctx,
    };

    core->accept = vh_tls_accept_new(&o, on_tls_accepted, core_ref(core),
                                     (GDestroyNotify)core_unref);
}

VhMigListener *vh_mig_listen(const VhMigUri *u, const VhMigTls *tls,
                             VhMigFdLookup fdl, void *fdl_opaque,
                             GMainContext *ctx, VhMigAcceptFunc cb,
                             void *opaque, GError **errp)
{
    g_return_val_if_fail(u != NULL && cb != NULL, NULL);

    if (!vh_mig_check_tls(u, tls, errp)) {
        return NULL;
    }
    g_autoptr(VhMigListener) l = g_new0(VhMigListener, 1);
    uri_copy(&l->uri, u);
    l->text = uri_text(u);
    l->core = core_new(ctx, cb, opaque);
    l->core->where = g_strdup(l->text);
    if (!vh_mig_uri_supports_multiple(u)) {
        if (tls && tls->creds) {
            core_start_tls(l->core, tls, u, l->text);
        }
        return open_single(l, fdl, fdl_opaque, errp) ? g_steal_pointer(&l)
                                                     : NULL;
    }
    l->net = vh_net_listener_new();
    if (!(u->kind == VH_MIG_URI_TCP ? listen_tcp(l, errp)
                                    : listen_unix(l, errp))) {
        return NULL;
    }
    if (tls && tls->creds) {
        g_autofree char *where = vh_mig_listener_describe(l);

        core_start_tls(l->core, tls, u, where);
    }
    vh_net_listener_set_client_func(l->net, on_client, core_ref(l->core),
                                    (GDestroyNotify)core_unref, l->core->ctx);
    return g_steal_pointer(&l);
}

char *vh_mig_listener_describe(VhMigListener *l)
{
    if (!l->net) {
        return g_strdup(l->text);
    }
    GPtrArray *socks = vh_net_listener_get_sockets(l->net);
    if (!socks || socks->len == 0) {
        return g_strdup(l->text);
    }
    g_autoptr(GSocketAddress) addr =
        vh_channel_socket_get_local_address(socks->pdata[0], NULL);
    if (!addr) {
        return g_strdup(l->text);
    }
    g_autofree char *text = vh_socket_address_to_string(addr);
    /* unix: addresses already carry their "unix:" prefix. */
    return G_IS_INET_SOCKET_ADDRESS(addr) ? g_strdup_printf("tcp:%s", text)
                                          : g_steal_pointer(&text);
}

void vh_mig_listener_free(VhMigListener *l)
{
    if (!l) {
        return;
    }
    if (l->core) {
        /*
         * Connections still in their handshake are cut now (shut down):
         * their callbacks, which close them, run only if the context is
         * iterated again, which a vmhost that is exiting does not do, and
         * an exec: command must not outlive it.
         */
        g_atomic_int_set(&l->core->closed, 1);
        g_clear_pointer(&l->core->accept, vh_tls_accept_free);
    }
    if (l->net) {
        vh_net_listener_set_client_func(l->net, NULL, NULL, NULL, NULL);
        vh_net_listener_disconnect(l->net);
        g_object_unref(l->net);
    }
    if (l->idle) {
        g_source_destroy(l->idle);
        g_source_unref(l->idle);
    }
    if (l->single) {
        vh_channel_close(l->single, NULL);
        g_object_unref(l->single);
    }
    if (l->core) {
        core_unref(l->core);
    }
    if (l->owns_path) {
        /* The socket file the listener created. */
        (void)unlink(l->uri.path);
    }
    vh_mig_uri_clear(&l->uri);
    g_free(l->text);
    g_free(l);
}
