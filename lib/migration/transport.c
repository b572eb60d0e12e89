/*
 * Migration transports, the source side (vh_mig_connect) and the helpers
 * both sides share. The target side is in transport-listen.c.
 *
 * The connect and the TLS handshake run asynchronously on a private
 * GMainContext iterated by the calling thread, so that the GCancellable can
 * abort them; the channel is switched to blocking mode before it is
 * returned.
 */
#include "transport-priv.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmhost/crypto/tls-creds-x509.h"
#include "vmhost/io/address.h"
#include "vmhost/io/channel-command.h"
#include "vmhost/io/channel-file.h"
#include "vmhost/io/channel-socket.h"
#include "vmhost/util/error.h"
#include "vmhost/util/file.h"

const char *vh_mig_uri_scheme(const VhMigUri *u)
{
    switch (u->kind) {
    case VH_MIG_URI_TCP:
        return "tcp";
    case VH_MIG_URI_UNIX:
        return "unix";
    case VH_MIG_URI_FD:
        return "fd";
    case VH_MIG_URI_EXEC:
        return "exec";
    case VH_MIG_URI_FILE:
        return "file";
    default:
        return "?";
    }
}

bool vh_mig_check_tls(const VhMigUri *u, const VhMigTls *tls, GError **errp)
{
    if (tls && tls->creds && u->kind == VH_MIG_URI_FILE) {
        g_set_error(errp, VH_ERROR, VH_ERROR_NOT_SUPPORTED,
                    "TLS is not supported for file: migration URIs (a file "
                    "has no peer to do a handshake with); clear tls-creds");
        return false;
    }
    return true;
}

VhChannel *vh_mig_open_fd(const VhMigUri *u, VhMigFdLookup fdl,
                          void *fdl_opaque, GError **errp)
{
    struct stat st;
    VhChannel *ch;

    if (!fdl) {
        g_set_error(errp, VH_ERROR, VH_ERROR_NOT_SUPPORTED,
                    "fd:%s: no monitor fd table to take the fd from",
                    u->fdname);
        return NULL;
    }
    int fd = fdl(u->fdname, errp, fdl_opaque);
    if (fd < 0) {
        return NULL;
    }
    if (fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode)) {
        VhChannelSocket *s = vh_channel_socket_new_fd(fd, errp);
        if (!s) {
            close(fd);
            g_prefix_error(errp, "fd:%s: ", u->fdname);
            return NULL;
        }
        ch = VH_CHANNEL(s);
    } else {
        ch = VH_CHANNEL(vh_channel_file_new_fd(fd));
    }
    if (!vh_channel_set_blocking(ch, true, errp)) {
        g_object_unref(ch);
        return NULL;
    }
    g_autofree char *name = g_strdup_printf("migration fd:%s", u->fdname);
    vh_channel_set_name(ch, name);
    return ch;
}

VhChannel *vh_mig_open_exec(const VhMigUri *u, GError **errp)
{
    const char *argv[] = {"/bin/sh", "-c", u->command, NULL};
    VhChannelCommand *cmd = vh_channel_command_new_spawn(argv, O_RDWR, errp);

    if (!cmd) {
        g_prefix_error(errp, "exec:%s: ", u->command);
        return NULL;
    }
    g_autofree char *name = g_strdup_printf("migration exec:%s", u->command);
    vh_channel_set_name(VH_CHANNEL(cmd), name);
    return VH_CHANNEL(cmd);
}

/* A result slot for one async step run to completion on a private context. */
typedef struct {
    GAsyncResult *res;
} Waiter;

static void waiter_done(GObject *src, GAsyncResult *res, gpointer opaque)
{
    Waiter *w = opaque;
    (void)src;
    w->res = g_object_ref(res);
}

static void waiter_run(Waiter *w, GMainContext *ctx)
{
    while (!w->res) {
        g_main_context_iteration(ctx, TRUE);
    }
}

static VhChannelSocket *connect_one(GSocketAddress *addr, GCancellable *c,
                                    GMainContext *ctx, GError **errp)
{
    g_autoptr(VhChannelSocket) s = vh_channel_socket_new();
    Waiter w = {0};

    vh_channel_socket_connect_async(s, addr, c, waiter_done, &w);
    waiter_run(&w, ctx);
    bool ok = vh_channel_socket_connect_finish(s, w.res, errp);
    g_object_unref(w.res);
    return ok ? g_steal_pointer(&s) : NULL;
}

/* tcp: every address the host resolves to, in order, until one connects. */
static VhChannel *connect_tcp(const VhMigUri *u, GCancellable *c,
                              GMainContext *ctx, GError **errp)
{
    guint16 port = (guint16)g_ascii_strtoull(u->port, NULL, 10);
    g_autoptr(GError) last = NULL;

    if (!*u->host || port == 0) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "cannot migrate to tcp:%s:%s: a host and a non-zero port "
                    "are needed",
                    u->host, u->port);
        return NULL;
    }
    GList *addrs = vh_socket_address_resolve(u->host, port, errp);
    if (!addrs) {
        return NULL;
    }
    VhChannelSocket *s = NULL;
    for (GList *l = addrs; l && !s; l = l->next) {
        g_clear_error(&last);
        s = connect_one(l->data, c, ctx, &last);
    }
    g_list_free_full(addrs, g_object_unref);
    if (!s) {
        g_propagate_error(errp, g_steal_pointer(&last));
        return NULL;
    }
    /* Small control messages (the return path) must not wait for Nagle. */
    vh_channel_set_delay(VH_CHANNEL(s), false);
    return VH_CHANNEL(s);
}

static VhChannel *connect_unix(const VhMigUri *u, GCancellable *c,
                               GMainContext *ctx, GError **errp)
{
    g_autoptr(GSocketAddress) addr = g_unix_socket_address_new(u->path);
    return VH_CHANNEL(connect_one(addr, c, ctx, errp));
}

/* file:: PATH created if needed, cut at the offset, written from there. */
static VhChannel *open_file_out(const VhMigUri *u, GError **errp)
{
    /* a FIFO without a reader would block open(): regular files only */
    int fd = vh_file_open(u->path, O_WRONLY | O_CREAT, 0600,
                          VH_FILE_OPEN_REGULAR, errp);

    if (fd < 0) {
        g_prefix_error(errp, "cannot open migration file for writing: ");
        return NULL;
    }
    if (ftruncate(fd, (off_t)u->offset) < 0 ||
        lseek(fd, (off_t)u->offset, SEEK_SET) < 0) {
        int err = errno;
        close(fd);
        vh_set_error_errno(errp, err,
                           "cannot open migration file '%s' for writing at "
                           "offset %" G_GUINT64_FORMAT,
                           u->path, u->offset);
        return NULL;
    }
    VhChannel *ch = VH_CHANNEL(vh_channel_file_new_fd(fd));
    g_autofree char *name = g_strdup_printf("migration file:%s", u->path);
    vh_channel_set_name(ch, name);
    return ch;
}

static VhChannel *open_transport(const VhMigUri *u, VhMigFdLookup fdl,
                                 void *fdl_opaque, GCancellable *c,
                                 GMainContext *ctx, GError **errp)
{
    switch (u->kind) {
    case VH_MIG_URI_TCP:
        return connect_tcp(u, c, ctx, errp);
    case VH_MIG_URI_UNIX:
        return connect_unix(u, c, ctx, errp);
    case VH_MIG_URI_FD:
        return vh_mig_open_fd(u, fdl, fdl_opaque, errp);
    case VH_MIG_URI_EXEC:
        return vh_mig_open_exec(u, errp);
    case VH_MIG_URI_FILE:
        return open_file_out(u, errp);
    default:
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "unknown migration URI kind %d", u->kind);
        return NULL;
    }
}

/*
 * The name the server's certificate must carry: tls-hostname, else the tcp
 * host. Only x509 credentials that verify the peer check one.
 */
static bool client_hostname(const VhMigUri *u, const VhMigTls *tls,
                            const char **out, GError **errp)
{
    *out = NULL;
    if (tls->hostname && *tls->hostname) {
        *out = tls->hostname;
    } else if (u->kind == VH_MIG_URI_TCP) {
        *out = u->host;
    }
    if (!*out && VH_IS_TLS_CREDS_X509(tls->creds) &&
        vh_tls_creds_get_verify_peer(tls->creds)) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "tls-hostname is required for TLS migration over %s: "
                    "URIs (there is no host name in the URI to check the "
                    "target's certificate against)",
                    vh_mig_uri_scheme(u));
        return false;
    }
    return true;
}

/*
 * A handshake the target cut at the transport (closed, reset) without a
 * TLS answer: what a target without tls-creds does when it reads our
 * ClientHello where its stream magic belongs. A TLS target that refuses
 * us sends an alert instead, and our own checks fail with VH_ERROR_TLS_PEER.
 */
static void hint_plain_target(GError **errp)
{
    const char *m = (*errp)->message;

    if (g_error_matches(*errp, VH_ERROR, VH_ERROR_TLS_PREMATURE_EOF) ||
        strstr(m, "cannot receive from the peer") ||
        strstr(m, "cannot send to the peer") ||
        strstr(m, "the peer closed the connection")) {
        g_prefix_error(errp, "the target closed the connection in the TLS "
                             "handshake without a TLS answer: the target does "
                             "not expect TLS (set tls-creds on the target, or "
                             "clear it here): ");
    }
}

static VhChannel *tls_client(VhChannel *plain, const char *hostname,
                             const VhMigTls *tls, GCancellable *c,
                             GMainContext *ctx, GError **errp)
{
    Waiter w = {0};

    g_autoptr(VhChannelTls) t =
        vh_channel_tls_new_client(plain, tls->creds, hostname, errp);
    if (!t || !vh_channel_set_blocking(VH_CHANNEL(t), false, errp)) {
        return NULL;
    }
    vh_channel_set_name(VH_CHANNEL(t), vh_channel_get_name(plain));
    vh_channel_tls_handshake(t, c, waiter_done, &w);
    waiter_run(&w, ctx);
    g_autoptr(GError) err = NULL;
    bool ok = vh_channel_tls_handshake_finish(t, w.res, &err);
    g_object_unref(w.res);
    if (!ok) {
        if (!g_cancellable_is_cancelled(c)) {
            hint_plain_target(&err);
        }
        g_propagate_error(errp, g_steal_pointer(&err));
        vh_channel_close(VH_CHANNEL(t), NULL);
        return NULL;
    }
    return VH_CHANNEL(g_steal_pointer(&t));
}

VhChannel *vh_mig_connect(const VhMigUri *u, const VhMigTls *tls,
                          VhMigFdLookup fdl, void *fdl_opaque, GCancellable *c,
                          GError **errp)
{
    g_return_val_if_fail(u != NULL, NULL);

    const char *hostname = NULL;
    bool use_tls = tls && tls->creds;

    if (!vh_mig_check_tls(u, tls, errp) ||
        (use_tls && !client_hostname(u, tls, &hostname, errp)) ||
        g_cancellable_set_error_if_cancelled(c, errp)) {
        return NULL;
    }
    g_autoptr(GMainContext) ctx = g_main_context_new();
    g_main_context_push_thread_default(ctx);
    g_autoptr(VhChannel) ch = open_transport(u, fdl, fdl_opaque, c, ctx, errp);
    if (ch && use_tls) {
        VhChannel *t = tls_client(ch, hostname, tls, c, ctx, errp);
        if (!t) {
            vh_channel_close(ch, NULL);
        }
        g_object_unref(ch);
        ch = t;
    }
    g_main_context_pop_thread_default(ctx);
    if (!ch || !vh_channel_set_blocking(ch, true, errp)) {
        return NULL;
    }
    return g_steal_pointer(&ch);
}
