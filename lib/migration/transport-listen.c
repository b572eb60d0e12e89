/*
 * Migration transports, the target side: vh_mig_listen().
 *
 * Everything runs on the listener's GMainContext: accepting (VhNetListener),
 * the server TLS handshakes (asynchronous, one per connection, so a slow
 * client does not hold up the others), tls-authz, and the callback. The
 * state the callbacks need lives in a reference-counted Core that in-flight
 * handshakes share, so freeing the listener only has to mark it closed and
 * cancel: a handshake finishing later finds it closed and drops its channel.
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
#include "vmhost/util/error.h"

typedef struct {
    VhTlsCreds *creds;
    VhAuthz *authz;
    GMainContext *ctx;
    GCancellable *cancel;
    VhMigAcceptFunc cb;
    void *opaque;
    char *where; /* the URI listened on, for messages */
    gint closed;
    GMutex lock;        /* guards pending */
    GPtrArray *pending; /* VhChannelTls still in their handshake (refs) */
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
    g_ptr_array_unref(core->pending);
    g_mutex_clear(&core->lock);
    g_clear_object(&core->creds);
    g_clear_object(&core->authz);
    g_clear_object(&core->cancel);
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

static void deliver(Core *core, VhChannel *ch, GError *err)
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

typedef struct {
    Core *core;
    char *peer;
} Pending;

static void pending_free(Pending *p)
{
    core_unref(p->core);
    g_free(p->peer);
    g_free(p);
}

static void handshake_done(GObject *src, GAsyncResult *res, gpointer opaque)
{
    Pending *p = opaque;
    VhChannelTls *tls = VH_CHANNEL_TLS(src);
    g_autoptr(GError) err = NULL;

    /* The handshake's errors already name the channel, hence the peer. */
    bool ok = vh_channel_tls_handshake_finish(tls, res, &err);

    g_mutex_lock(&p->core->lock);
    g_ptr_array_remove_fast(p->core->pending, tls);
    g_mutex_unlock(&p->core->lock);
    if (ok && (!vh_mig_tls_authorize(tls, p->core->authz, &err) ||
               !vh_channel_set_blocking(VH_CHANNEL(tls), true, &err))) {
        g_prefix_error(&err, "migration connection from %s: ", p->peer);
        ok = false;
    }
    if (!ok) {
        vh_channel_close(VH_CHANNEL(tls), NULL);
        g_object_unref(tls);
        deliver(p->core, NULL, err);
    } else {
        deliver(p->core, VH_CHANNEL(tls), NULL);
    }
    pending_free(p);
}

/* Channel @ch (transfer full) from @peer: TLS first if configured. */
static void start_channel(Core *core, VhChannel *ch, const char *peer)
{
    g_autoptr(GError) err = NULL;

    if (!core->creds) {
        if (!vh_channel_set_blocking(ch, true, &err)) {
            g_object_unref(ch);
            deliver(core, NULL, err);
            return;
        }
        deliver(core, ch, NULL);
        return;
    }
    VhChannelTls *tls = vh_channel_tls_new_server(ch, core->creds, NULL, &err);
    if (!tls || !vh_channel_set_blocking(VH_CHANNEL(tls), false, &err)) {
        g_clear_object(&tls);
        vh_channel_close(ch, NULL);
        g_object_unref(ch);
        g_prefix_error(&err, "migration connection from %s: ", peer);
        deliver(core, NULL, err);
        return;
    }
    vh_channel_set_name(VH_CHANNEL(tls), vh_channel_get_name(ch));
    g_object_unref(ch);
    Pending *p = g_new0(Pending, 1);
    p->core = core_ref(core);
    p->peer = g_strdup(peer);
    g_mutex_lock(&core->lock);
    g_ptr_array_add(core->pending, g_object_ref(tls));
    g_mutex_unlock(&core->lock);
    g_main_context_push_thread_default(core->ctx);
    vh_channel_tls_handshake(tls, core->cancel, handshake_done, p);
    g_main_context_pop_thread_default(core->ctx);
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
    int fd = open(u->path, O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        vh_mig_set_errno(errp, errno, "cannot open migration file '%s'",
                         u->path);
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
        vh_mig_set_errno(errp, errno, "cannot seek migration file '%s'",
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

static Core *core_new(const VhMigTls *tls, GMainContext *ctx,
                      VhMigAcceptFunc cb, void *opaque)
{
    Core *core = g_atomic_rc_box_new0(Core);

    g_mutex_init(&core->lock);
    core->pending = g_ptr_array_new_with_free_func(g_object_unref);

    if (tls && tls->creds) {
        core->creds = g_object_ref(tls->creds);
        core->authz = tls->authz ? g_object_ref(tls->authz) : NULL;
    }
    core->ctx = g_main_context_ref(ctx ? ctx : g_main_context_default());
    core->cancel = g_cancellable_new();
    core->cb = cb;
    core->opaque = opaque;
    return core;
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
    l->core = core_new(tls, ctx, cb, opaque);
    l->core->where = g_strdup(l->text);
    if (!vh_mig_uri_supports_multiple(u)) {
        return open_single(l, fdl, fdl_opaque, errp) ? g_steal_pointer(&l)
                                                     : NULL;
    }
    l->net = vh_net_listener_new();
    if (!(u->kind == VH_MIG_URI_TCP ? listen_tcp(l, errp)
                                    : listen_unix(l, errp))) {
        return NULL;
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
        g_autoptr(GPtrArray) pending = NULL;

        g_atomic_int_set(&l->core->closed, 1);
        g_cancellable_cancel(l->core->cancel);
        /*
         * Connections still in their handshake are cut now (shut down,
         * not closed: their handshake still watches the fd): their
         * callbacks, which close them, run only if the context is
         * iterated again, which a vmhost that is exiting does not do,
         * and an exec: command must not outlive it.
         */
        g_mutex_lock(&l->core->lock);
        pending = g_steal_pointer(&l->core->pending);
        l->core->pending = g_ptr_array_new_with_free_func(g_object_unref);
        g_mutex_unlock(&l->core->lock);
        for (guint i = 0; i < pending->len; i++) {
            VhChannelTls *tls = g_ptr_array_index(pending, i);
            VhChannel *raw = vh_channel_tls_get_master(tls);

            g_autoptr(GError) err = NULL;

            if (vh_channel_has_feature(raw, VH_CHANNEL_FEATURE_SHUTDOWN) &&
                !vh_channel_shutdown(raw, VH_CHANNEL_SHUTDOWN_BOTH, &err)) {
                g_debug("migration: cutting %s: %s", vh_channel_get_name(raw),
                        err->message);
            }
        }
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
