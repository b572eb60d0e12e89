/*
 * The source side of a tunnelled migration (migrate-tunnel.h): a UNIX
 * listener in a private directory, one accepted connection from vmhost,
 * a relay thread from it into the RPC stream, and the stream's callback
 * back into it.
 */
#define G_LOG_DOMAIN "vmhostd"

#include "migrate-tunnel.h"

#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>
#include <poll.h>

#include "vmhost/io/channel-socket.h"

/* vmhost connects right after its migrate command */
#define ACCEPT_TIMEOUT_US (30 * G_USEC_PER_SEC)
#define RELAY_CHUNK       (256 * 1024)

struct _VhMigrateTunnel {
    char *dir;
    char *path;
    char *uri;
    VhChannelSocket *listener;
    VhRpcClientStream *stream;
    GThread *thread;
    gint cancel;
    GMutex lock;
    GCond cond;
    VhChannelSocket *vm; /* under lock */
    bool dest_eof;       /* under lock: the destination's side ended */
    bool stopping;       /* under lock: vh_migrate_tunnel_stop() waits */
    guint64 bytes_out;
};

VhMigrateTunnel *vh_migrate_tunnel_new(GError **errp)
{
    g_autoptr(VhMigrateTunnel) t = g_new0(VhMigrateTunnel, 1);
    g_autoptr(GSocketAddress) addr = NULL;

    g_mutex_init(&t->lock);
    g_cond_init(&t->cond);
    t->dir = g_dir_make_tmp("vmhostd-tunnel-XXXXXX", errp);
    if (!t->dir) {
        return NULL;
    }
    t->path = g_build_filename(t->dir, "mig.sock", NULL);
    t->uri = g_strdup_printf("unix:%s", t->path);
    addr = g_unix_socket_address_new(t->path);
    t->listener = vh_channel_socket_new();
    if (!vh_channel_socket_listen_sync(t->listener, addr, 1, errp) ||
        !vh_channel_set_blocking(VH_CHANNEL(t->listener), false, errp)) {
        return NULL;
    }
    return g_steal_pointer(&t);
}

const char *vh_migrate_tunnel_get_uri(VhMigrateTunnel *t)
{
    return t->uri;
}

static VhChannelSocket *get_vm(VhMigrateTunnel *t)
{
    VhChannelSocket *vm;

    g_mutex_lock(&t->lock);
    vm = t->vm ? g_object_ref(t->vm) : NULL;
    g_mutex_unlock(&t->lock);
    return vm;
}

static void shut(VhChannelSocket *vm, VhChannelShutdown how)
{
    g_autoptr(GError) err = NULL;

    if (!vh_channel_shutdown(VH_CHANNEL(vm), how, &err)) {
        g_debug("tunnelled migration: shutdown: %s", err->message);
    }
}

static void set_dest_eof(VhMigrateTunnel *t)
{
    g_mutex_lock(&t->lock);
    t->dest_eof = true;
    g_cond_broadcast(&t->cond);
    g_mutex_unlock(&t->lock);
}

void vh_migrate_tunnel_on_stream(GBytes *data, const GError *err,
                                 gpointer opaque)
{
    VhMigrateTunnel *t = opaque;
    g_autoptr(VhChannelSocket) vm = get_vm(t);
    gsize len;
    const void *d;

    if (data) {
        d = g_bytes_get_data(data, &len);
        if (vm && vh_channel_write_all(VH_CHANNEL(vm), d, len, NULL)) {
            return;
        }
        err = NULL;
    } else if (err) {
        g_info("tunnelled migration: the destination ended the stream: %s",
               err->message);
    }
    /* the destination's EOF is a half close (what it wrote is still read
     * by vmhost); an error or a failed write ends both ways */
    if (vm) {
        shut(vm, data || err ? VH_CHANNEL_SHUTDOWN_BOTH
                             : VH_CHANNEL_SHUTDOWN_WRITE);
    }
    set_dest_eof(t);
}

static VhChannelSocket *accept_vm(VhMigrateTunnel *t)
{
    gint64 deadline = g_get_monotonic_time() + ACCEPT_TIMEOUT_US;

    while (!g_atomic_int_get(&t->cancel) && g_get_monotonic_time() < deadline) {
        g_autoptr(GError) err = NULL;
        VhChannelSocket *vm = vh_channel_socket_accept(t->listener, &err);

        if (vm) {
            return vm;
        }
        if (!g_error_matches(err, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK)) {
            g_warning("tunnelled migration: accept: %s", err->message);
            return NULL;
        }
        g_usleep(20000);
    }
    return NULL;
}

static gpointer relay(gpointer opaque)
{
    VhMigrateTunnel *t = opaque;
    VhChannelSocket *vm = accept_vm(t);
    g_autofree guint8 *buf = NULL;

    if (!vm) {
        vh_rpc_client_stream_finish(t->stream);
        return NULL;
    }
    g_mutex_lock(&t->lock);
    t->vm = vm;
    g_mutex_unlock(&t->lock);
    buf = g_malloc(RELAY_CHUNK);
    for (;;) {
        g_autoptr(GError) err = NULL;
        gssize n = vh_channel_read(VH_CHANNEL(vm), buf, RELAY_CHUNK, &err);

        if (n <= 0 || g_atomic_int_get(&t->cancel)) {
            break;
        }
        /* waits while the client's queue holds VH_RPC_CLIENT_QUEUE_MAX:
         * vmhost's stream is not read meanwhile, so a slow destination
         * slows vmhost instead of growing this daemon */
        if (!vh_rpc_client_stream_send(t->stream, buf, n, &err)) {
            g_info("tunnelled migration: the stream ended: %s", err->message);
            break;
        }
        t->bytes_out += n;
    }
    /* vmhost's EOF (it waits for the destination's confirmation now):
     * pass it on as an empty CONTINUE and finish once the destination's
     * side has ended too, or the migration is over */
    if (!g_atomic_int_get(&t->cancel)) {
        (void)vh_rpc_client_stream_send(t->stream, NULL, 0, NULL);
    }
    g_mutex_lock(&t->lock);
    while (!t->dest_eof && !t->stopping) {
        g_cond_wait(&t->cond, &t->lock);
    }
    g_mutex_unlock(&t->lock);
    vh_rpc_client_stream_finish(t->stream);
    return NULL;
}

void vh_migrate_tunnel_start(VhMigrateTunnel *t, VhRpcClientStream *s)
{
    t->stream = s;
    t->thread = g_thread_new("mig-tunnel", relay, t);
}

guint64 vh_migrate_tunnel_stop(VhMigrateTunnel *t, bool cancel)
{
    if (cancel) {
        g_autoptr(VhChannelSocket) vm = NULL;

        g_atomic_int_set(&t->cancel, 1);
        /* the relay may wait for room in the client's output queue (a
         * destination that does not read): release it (once it is joined
         * the stream may be gone: vh_migrate_tunnel_free stops again) */
        if (t->thread) {
            vh_rpc_client_stream_stop_sending(t->stream);
        }
        vm = get_vm(t);
        if (vm) {
            shut(vm, VH_CHANNEL_SHUTDOWN_BOTH);
        }
    }
    g_mutex_lock(&t->lock);
    t->stopping = true;
    g_cond_broadcast(&t->cond);
    g_mutex_unlock(&t->lock);
    if (t->thread) {
        g_thread_join(t->thread);
        t->thread = NULL;
    }
    return t->bytes_out;
}

void vh_migrate_tunnel_free(VhMigrateTunnel *t)
{
    if (!t) {
        return;
    }
    vh_migrate_tunnel_stop(t, true);
    g_mutex_lock(&t->lock);
    g_clear_object(&t->vm);
    g_mutex_unlock(&t->lock);
    g_clear_object(&t->listener);
    if (t->path) {
        g_unlink(t->path);
    }
    if (t->dir) {
        g_rmdir(t->dir);
    }
    g_free(t->path);
    g_free(t->dir);
    g_free(t->uri);
    g_mutex_clear(&t->lock);
    g_cond_clear(&t->cond);
    g_free(t);
}
