/*
 * VhChannelSocket: stream sockets with sendmsg/recvmsg, SCM_RIGHTS fd
 * passing on UNIX sockets, and a main-loop driven asynchronous connect.
 */
#include "vmhost/io/channel-socket.h"
#include "vmhost/util/iov.h"

#include "channel-internal.h"
#include "vmhost/io/address.h"
#include "vmhost/util/error.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gunixsocketaddress.h>
#include <glib-unix.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

struct _VhChannelSocket {
    VhChannel parent_instance;
    int fd;
    int family;
    char *addr_text;   /* the peer, or the local address when listening */
    char *unlink_path; /* the socket file listen_sync bound */
};

G_DEFINE_FINAL_TYPE(VhChannelSocket, vh_channel_socket, VH_TYPE_CHANNEL)

/* "NAME" or "NAME (peer 127.0.0.1:9000)" for messages. */
static char *socket_describe(VhChannelSocket *s)
{
    const char *name = vh_channel_get_name(VH_CHANNEL(s));

    if (!s->addr_text) {
        return g_strdup(name);
    }
    if (vh_channel_has_feature(VH_CHANNEL(s), VH_CHANNEL_FEATURE_LISTEN)) {
        return g_strdup_printf("%s (listening on %s)", name, s->addr_text);
    }
    return g_strdup_printf("%s (peer %s)", name, s->addr_text);
}

static char *native_to_string(const struct sockaddr_storage *ss, socklen_t len)
{
    g_autoptr(GSocketAddress) addr =
        g_socket_address_new_from_native((gpointer)ss, len);

    /* An unnamed UNIX peer says nothing useful in a message. */
    if (!addr || (G_IS_UNIX_SOCKET_ADDRESS(addr) &&
                  g_unix_socket_address_get_address_type(G_UNIX_SOCKET_ADDRESS(
                      addr)) == G_UNIX_SOCKET_ADDRESS_ANONYMOUS)) {
        return NULL;
    }
    return vh_socket_address_to_string(addr);
}

/* Take ownership of @fd and set the features its kind of socket has. */
static void socket_attach(VhChannelSocket *s, int fd, int family,
                          bool listening, char *addr_text)
{
    VhChannel *ioc = VH_CHANNEL(s);

    s->fd = fd;
    s->family = family;
    g_free(s->addr_text);
    s->addr_text = addr_text;
    if (listening) {
        vh_channel_set_feature(ioc, VH_CHANNEL_FEATURE_LISTEN);
    } else {
        vh_channel_set_feature(ioc, VH_CHANNEL_FEATURE_SHUTDOWN);
        if (family == AF_UNIX) {
            vh_channel_set_feature(ioc, VH_CHANNEL_FEATURE_FD_PASS);
        }
    }
    g_unix_set_fd_nonblocking(fd, !vh_channel_get_blocking(ioc), NULL);
}

VhChannelSocket *vh_channel_socket_new(void)
{
    return g_object_new(VH_TYPE_CHANNEL_SOCKET, NULL);
}

VhChannelSocket *vh_channel_socket_new_fd(int fd, GError **errp)
{
    struct sockaddr_storage ss;
    socklen_t sslen = sizeof(ss);
    int type, domain, listening;
    socklen_t len = sizeof(int);
    int flags;

    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0) {
        vh_set_error_errno(errp, errno, "fd %d is not a usable socket", fd);
        return NULL;
    }
    if (type != SOCK_STREAM) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "fd %d is not a stream socket", fd);
        return NULL;
    }
    len = sizeof(int);
    if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) < 0 ||
        getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) < 0 ||
        (flags = fcntl(fd, F_GETFL)) < 0) {
        vh_set_error_errno(errp, errno, "Failed to inspect socket fd %d", fd);
        return NULL;
    }

    VhChannelSocket *s = vh_channel_socket_new();
    char *text = NULL;
    if (listening ? getsockname(fd, (struct sockaddr *)&ss, &sslen) == 0
                  : getpeername(fd, (struct sockaddr *)&ss, &sslen) == 0) {
        text = native_to_string(&ss, sslen);
    }
    if (flags & O_NONBLOCK) {
        /* Cannot fail: the fd is not attached yet. */
        bool ok = vh_channel_set_blocking(VH_CHANNEL(s), false, NULL);
        g_assert(ok);
    }
    socket_attach(s, fd, domain, listening, text);
    return s;
}

bool vh_channel_socket_pair(VhChannelSocket **a, VhChannelSocket **b,
                            GError **errp)
{
    int fds[2];

    g_return_val_if_fail(a && b, false);
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0) {
        vh_set_error_errno(errp, errno, "Failed to create a socket pair");
        return false;
    }
    *a = vh_channel_socket_new();
    *b = vh_channel_socket_new();
    socket_attach(*a, fds[0], AF_UNIX, false, NULL);
    socket_attach(*b, fds[1], AF_UNIX, false, NULL);
    return true;
}

/* Convert @addr for connect/bind; @text names it in errors. */
static bool socket_native(GSocketAddress *addr, struct sockaddr_storage *ss,
                          socklen_t *len, const char *what, const char *text,
                          GError **errp)
{
    g_autoptr(GError) err = NULL;

    if (!g_socket_address_to_native(addr, ss, sizeof(*ss), &err)) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "Failed to %s %s: %s", what, text, err->message);
        return false;
    }
    *len = g_socket_address_get_native_size(addr);
    return true;
}

static bool socket_check_unused(VhChannelSocket *s, GError **errp)
{
    if (vh_channel_is_closed(VH_CHANNEL(s))) {
        g_set_error(errp, G_IO_ERROR, G_IO_ERROR_CLOSED, "%s is closed",
                    vh_channel_get_name(VH_CHANNEL(s)));
        return false;
    }
    if (s->fd >= 0) {
        g_set_error(errp, G_IO_ERROR, G_IO_ERROR_EXISTS,
                    "%s is already connected or listening",
                    vh_channel_get_name(VH_CHANNEL(s)));
        return false;
    }
    return true;
}

/* Wait for a connect interrupted by a signal, then fetch its result. */
static int socket_connect_result(int fd)
{
    struct pollfd pfd = {.fd = fd, .events = POLLOUT};
    int err = 0;
    socklen_t len = sizeof(err);

    while (poll(&pfd, 1, -1) < 0 && errno == EINTR) {
    }
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) {
        return errno;
    }
    return err;
}

bool vh_channel_socket_connect_sync(VhChannelSocket *s, GSocketAddress *addr,
                                    GError **errp)
{
    g_autofree char *text = vh_socket_address_to_string(addr);
    struct sockaddr_storage ss;
    socklen_t len;
    int err = 0;

    g_return_val_if_fail(VH_IS_CHANNEL_SOCKET(s), false);
    if (!socket_check_unused(s, errp) ||
        !socket_native(addr, &ss, &len, "connect to", text, errp)) {
        return false;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        vh_set_error_errno(errp, errno, "Failed to connect to %s", text);
        return false;
    }
    if (connect(fd, (struct sockaddr *)&ss, len) < 0) {
        err = errno == EINTR ? socket_connect_result(fd) : errno;
    }
    if (err) {
        close(fd);
        vh_set_error_errno(errp, err, "Failed to connect to %s", text);
        return false;
    }
    socket_attach(s, fd, ss.ss_family, false, g_steal_pointer(&text));
    return true;
}

typedef struct {
    int fd;
    int family;
    char *text;
    GSource *io;
    GSource *cancel;
} ConnectData;

static void connect_data_free(gpointer opaque)
{
    ConnectData *data = opaque;

    if (data->io) {
        g_source_destroy(data->io);
        g_source_unref(data->io);
    }
    if (data->cancel) {
        g_source_destroy(data->cancel);
        g_source_unref(data->cancel);
    }
    if (data->fd >= 0) {
        close(data->fd);
    }
    g_free(data->text);
    g_free(data);
}

/*
 * Detach both sources before the task returns, so that a completion and a
 * cancellation ready in the same iteration cannot both return it.
 */
static void connect_stop_sources(ConnectData *data)
{
    if (data->io) {
        g_source_destroy(data->io);
    }
    if (data->cancel) {
        g_source_destroy(data->cancel);
    }
}

/* Complete @task with the connect result @err (0: connected). */
static void connect_complete(GTask *task, int err)
{
    VhChannelSocket *s = g_task_get_source_object(task);
    ConnectData *data = g_task_get_task_data(task);

    connect_stop_sources(data);

    if (err) {
        GError *error = NULL;

        vh_set_error_errno(&error, err, "Failed to connect to %s", data->text);
        g_task_return_error(task, error);
        return;
    }
    if (vh_channel_is_closed(VH_CHANNEL(s))) {
        g_task_return_new_error(task, G_IO_ERROR, G_IO_ERROR_CLOSED,
                                "%s was closed while connecting to %s",
                                vh_channel_get_name(VH_CHANNEL(s)), data->text);
        return;
    }
    socket_attach(s, data->fd, data->family, false, g_strdup(data->text));
    data->fd = -1;
    g_task_return_boolean(task, TRUE);
}

static gboolean connect_ready(gint fd, GIOCondition cond, gpointer opaque)
{
    GTask *task = opaque;
    int err = 0;
    socklen_t len = sizeof(err);

    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) {
        err = errno;
    }
    connect_complete(task, err);
    return G_SOURCE_REMOVE;
}

static gboolean connect_cancelled(GCancellable *c, gpointer opaque)
{
    GTask *task = opaque;
    ConnectData *data = g_task_get_task_data(task);

    connect_stop_sources(data);
    g_task_return_new_error(task, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                            "Connecting to %s was cancelled", data->text);
    return G_SOURCE_REMOVE;
}

void vh_channel_socket_connect_async(VhChannelSocket *s, GSocketAddress *addr,
                                     GCancellable *c, GAsyncReadyCallback cb,
                                     gpointer opaque)
{
    g_autoptr(GTask) task = g_task_new(s, c, cb, opaque);
    ConnectData *data = g_new0(ConnectData, 1);
    struct sockaddr_storage ss;
    socklen_t len;
    GError *err = NULL;

    g_task_set_source_tag(task, vh_channel_socket_connect_async);
    g_task_set_check_cancellable(task, FALSE);
    data->fd = -1;
    data->text = vh_socket_address_to_string(addr);
    g_task_set_task_data(task, data, connect_data_free);

    if (!socket_check_unused(s, &err) ||
        !socket_native(addr, &ss, &len, "connect to", data->text, &err)) {
        g_task_return_error(task, err);
        return;
    }
    data->family = ss.ss_family;
    data->fd =
        socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (data->fd < 0) {
        connect_complete(task, errno);
        return;
    }
    if (connect(data->fd, (struct sockaddr *)&ss, len) == 0) {
        connect_complete(task, 0);
        return;
    }
    if (errno != EINPROGRESS && errno != EINTR) {
        connect_complete(task, errno);
        return;
    }
    data->io = g_unix_fd_source_new(data->fd, G_IO_OUT);
    g_source_set_callback(data->io, G_SOURCE_FUNC(connect_ready),
                          g_object_ref(task), g_object_unref);
    g_source_attach(data->io, g_task_get_context(task));
    if (c) {
        data->cancel = vh_cancel_source_new(c);
        g_source_set_callback(data->cancel, G_SOURCE_FUNC(connect_cancelled),
                              g_object_ref(task), g_object_unref);
        g_source_attach(data->cancel, g_task_get_context(task));
    }
}

bool vh_channel_socket_connect_finish(VhChannelSocket *s, GAsyncResult *res,
                                      GError **errp)
{
    g_return_val_if_fail(g_task_is_valid(res, s), false);
    return g_task_propagate_boolean(G_TASK(res), errp);
}

/* Remove a stale socket file; anything else at @path is left alone. */
static void socket_unlink_stale(const char *path)
{
    struct stat st;

    if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode)) {
        unlink(path);
    }
}

static bool socket_set_int(int fd, int level, int opt, int value)
{
    return setsockopt(fd, level, opt, &value, sizeof(value)) == 0;
}

bool vh_channel_socket_listen_sync(VhChannelSocket *s, GSocketAddress *addr,
                                   int backlog, GError **errp)
{
    g_autofree char *text = vh_socket_address_to_string(addr);
    const char *path = NULL;
    struct sockaddr_storage ss;
    socklen_t len;

    g_return_val_if_fail(VH_IS_CHANNEL_SOCKET(s), false);
    if (!socket_check_unused(s, errp) ||
        !socket_native(addr, &ss, &len, "listen on", text, errp)) {
        return false;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        vh_set_error_errno(errp, errno, "Failed to listen on %s", text);
        return false;
    }
    if (ss.ss_family == AF_INET || ss.ss_family == AF_INET6) {
        socket_set_int(fd, SOL_SOCKET, SO_REUSEADDR, 1);
    }
    if (ss.ss_family == AF_INET6) {
        socket_set_int(fd, IPPROTO_IPV6, IPV6_V6ONLY, 1);
    }
    if (G_IS_UNIX_SOCKET_ADDRESS(addr) &&
        g_unix_socket_address_get_address_type(G_UNIX_SOCKET_ADDRESS(addr)) ==
            G_UNIX_SOCKET_ADDRESS_PATH) {
        path = g_unix_socket_address_get_path(G_UNIX_SOCKET_ADDRESS(addr));
        socket_unlink_stale(path);
    }
    if (bind(fd, (struct sockaddr *)&ss, len) < 0 ||
        listen(fd, backlog > 0 ? backlog : SOMAXCONN) < 0) {
        int err = errno;
        close(fd);
        vh_set_error_errno(errp, err, "Failed to listen on %s", text);
        return false;
    }
    /* With port 0, name the port the kernel chose. */
    len = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0) {
        char *bound = native_to_string(&ss, len);
        if (bound) {
            g_free(text);
            text = bound;
        }
    }
    s->unlink_path = g_strdup(path);
    socket_attach(s, fd, ss.ss_family, true, g_steal_pointer(&text));
    return true;
}

VhChannelSocket *vh_channel_socket_accept(VhChannelSocket *listener,
                                          GError **errp)
{
    VhChannel *ioc = VH_CHANNEL(listener);
    struct sockaddr_storage ss;
    socklen_t len;
    int fd;

    g_return_val_if_fail(VH_IS_CHANNEL_SOCKET(listener), NULL);
    if (vh_channel_is_closed(ioc)) {
        g_set_error(errp, G_IO_ERROR, G_IO_ERROR_CLOSED, "%s is closed",
                    vh_channel_get_name(ioc));
        return NULL;
    }
    if (!vh_channel_has_feature(ioc, VH_CHANNEL_FEATURE_LISTEN)) {
        g_set_error(errp, VH_ERROR, VH_ERROR_NOT_SUPPORTED,
                    "%s is not a listening socket", vh_channel_get_name(ioc));
        return NULL;
    }
    do {
        len = sizeof(ss);
        fd = accept4(listener->fd, (struct sockaddr *)&ss, &len, SOCK_CLOEXEC);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        g_autofree char *what = socket_describe(listener);
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            g_set_error(errp, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK,
                        "No client is waiting on %s", what);
        } else {
            vh_set_error_errno(errp, errno, "Failed to accept a client on %s",
                               what);
        }
        return NULL;
    }

    VhChannelSocket *client = vh_channel_socket_new();
    char *text = listener->family == AF_UNIX
                     ? g_strdup_printf("client of %s", listener->addr_text)
                     : native_to_string(&ss, len);
    socket_attach(client, fd, listener->family, false, text);
    return client;
}

static GSocketAddress *socket_address(VhChannelSocket *s, bool local,
                                      GError **errp)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    int rc;

    if (s->fd < 0) {
        g_set_error(errp, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED,
                    "%s is not connected", vh_channel_get_name(VH_CHANNEL(s)));
        return NULL;
    }
    rc = local ? getsockname(s->fd, (struct sockaddr *)&ss, &len)
               : getpeername(s->fd, (struct sockaddr *)&ss, &len);
    if (rc < 0) {
        g_autofree char *what = socket_describe(s);
        vh_set_error_errno(errp, errno, "Failed to get the %s address of %s",
                           local ? "local" : "remote", what);
        return NULL;
    }
    GSocketAddress *addr = g_socket_address_new_from_native(&ss, len);
    if (!addr) {
        g_set_error(errp, VH_ERROR, VH_ERROR_NOT_SUPPORTED,
                    "%s has an address of unsupported family %d",
                    vh_channel_get_name(VH_CHANNEL(s)), ss.ss_family);
    }
    return addr;
}

GSocketAddress *vh_channel_socket_get_local_address(VhChannelSocket *s,
                                                    GError **errp)
{
    g_return_val_if_fail(VH_IS_CHANNEL_SOCKET(s), NULL);
    return socket_address(s, true, errp);
}

GSocketAddress *vh_channel_socket_get_remote_address(VhChannelSocket *s,
                                                     GError **errp)
{
    g_return_val_if_fail(VH_IS_CHANNEL_SOCKET(s), NULL);
    return socket_address(s, false, errp);
}

int vh_channel_socket_get_fd(VhChannelSocket *s)
{
    g_return_val_if_fail(VH_IS_CHANNEL_SOCKET(s), -1);
    return s->fd;
}

static bool socket_check_connected(VhChannelSocket *s, GError **errp)
{
    if (s->fd < 0) {
        g_set_error(errp, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED,
                    "%s is not connected", vh_channel_get_name(VH_CHANNEL(s)));
        return false;
    }
    return true;
}

/* Map a failed sendmsg/recvmsg to the channel conventions. */
static gssize socket_io_error(VhChannelSocket *s, int err, const char *verb,
                              GError **errp)
{
    if (err == EAGAIN || err == EWOULDBLOCK) {
        return VH_CHANNEL_ERR_BLOCK;
    }
    g_autofree char *what = socket_describe(s);
    if (err == EPIPE || err == ECONNRESET) {
        vh_set_error_errno(errp, err, "Connection lost on %s while %s", what,
                           verb);
    } else {
        vh_set_error_errno(errp, err, "Failed %s %s", verb, what);
    }
    return -1;
}

/* Collect SCM_RIGHTS descriptors from @msg into a new array. */
static void socket_take_fds(struct msghdr *msg, int **fds, size_t *nfds)
{
    for (struct cmsghdr *cmsg = CMSG_FIRSTHDR(msg); cmsg;
         cmsg = CMSG_NXTHDR(msg, cmsg)) {
        if (cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS) {
            continue;
        }
        size_t n = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        *fds = g_renew(int, *fds, *nfds + n);
        memcpy(*fds + *nfds, CMSG_DATA(cmsg), n * sizeof(int));
        *nfds += n;
    }
}

typedef union {
    char buf[CMSG_SPACE(sizeof(int) * VH_CHANNEL_SOCKET_MAX_FDS)];
    struct cmsghdr align;
} SocketControl;

static gssize socket_readv(VhChannel *ioc, const struct iovec *iov, size_t niov,
                           int **fds, size_t *nfds, GError **errp)
{
    VhChannelSocket *s = VH_CHANNEL_SOCKET(ioc);
    SocketControl control;
    struct msghdr msg = {
        .msg_iov = (struct iovec *)iov,
        .msg_iovlen = vh_iov_clamp(niov),
    };
    ssize_t n;

    if (!socket_check_connected(s, errp)) {
        return -1;
    }
    if (fds) {
        msg.msg_control = control.buf;
        msg.msg_controllen = sizeof(control.buf);
    }
    do {
        n = recvmsg(s->fd, &msg, fds ? MSG_CMSG_CLOEXEC : 0);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        return socket_io_error(s, errno, "reading from", errp);
    }
    if (fds) {
        socket_take_fds(&msg, fds, nfds);
        if (msg.msg_flags & MSG_CTRUNC) {
            for (size_t i = 0; i < *nfds; i++) {
                close((*fds)[i]);
            }
            g_clear_pointer(fds, g_free);
            *nfds = 0;
            g_autofree char *what = socket_describe(s);
            g_set_error(errp, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE,
                        "Control data truncated on %s: more than %d file "
                        "descriptors sent at once",
                        what, VH_CHANNEL_SOCKET_MAX_FDS);
            return -1;
        }
    }
    return n;
}

static gssize socket_writev(VhChannel *ioc, const struct iovec *iov,
                            size_t niov, const int *fds, size_t nfds,
                            GError **errp)
{
    VhChannelSocket *s = VH_CHANNEL_SOCKET(ioc);
    SocketControl control;
    struct msghdr msg = {
        .msg_iov = (struct iovec *)iov,
        .msg_iovlen = vh_iov_clamp(niov),
    };
    ssize_t n;

    if (!socket_check_connected(s, errp)) {
        return -1;
    }
    if (nfds > 0) {
        if (nfds > VH_CHANNEL_SOCKET_MAX_FDS) {
            g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                        "Cannot send %zu file descriptors on %s (at most %d)",
                        nfds, vh_channel_get_name(ioc),
                        VH_CHANNEL_SOCKET_MAX_FDS);
            return -1;
        }
        if (vh_iov_size(iov, msg.msg_iovlen) == 0) {
            g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                        "File descriptors sent on %s need at least one byte "
                        "of data",
                        vh_channel_get_name(ioc));
            return -1;
        }
        memset(&control, 0, sizeof(control));
        msg.msg_control = control.buf;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
        struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
        cmsg->cmsg_level = SOL_SOCKET;
        cmsg->cmsg_type = SCM_RIGHTS;
        cmsg->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
        memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * nfds);
    }
    do {
        n = sendmsg(s->fd, &msg, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        return socket_io_error(s, errno, "writing to", errp);
    }
    return n;
}

static bool socket_close(VhChannel *ioc, GError **errp)
{
    VhChannelSocket *s = VH_CHANNEL_SOCKET(ioc);
    int fd = s->fd;

    if (fd < 0) {
        return true;
    }
    s->fd = -1;
    if (s->unlink_path) {
        unlink(s->unlink_path);
    }
    if (close(fd) < 0 && errno != EINTR) {
        g_autofree char *what = socket_describe(s);
        vh_set_error_errno(errp, errno, "Failed to close %s", what);
        return false;
    }
    return true;
}

static GSource *socket_create_watch(VhChannel *ioc, GIOCondition cond)
{
    return vh_channel_create_fd_watch(ioc, VH_CHANNEL_SOCKET(ioc)->fd, cond);
}

static bool socket_set_blocking(VhChannel *ioc, bool enabled, GError **errp)
{
    VhChannelSocket *s = VH_CHANNEL_SOCKET(ioc);

    /* An unconnected socket picks the mode up when it connects. */
    return s->fd < 0 || g_unix_set_fd_nonblocking(s->fd, !enabled, errp);
}

static bool socket_shutdown(VhChannel *ioc, VhChannelShutdown how,
                            GError **errp)
{
    VhChannelSocket *s = VH_CHANNEL_SOCKET(ioc);
    int sh;

    switch (how) {
    case VH_CHANNEL_SHUTDOWN_READ:
        sh = SHUT_RD;
        break;
    case VH_CHANNEL_SHUTDOWN_WRITE:
        sh = SHUT_WR;
        break;
    case VH_CHANNEL_SHUTDOWN_BOTH:
        sh = SHUT_RDWR;
        break;
    default:
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "Invalid shutdown mode %d", how);
        return false;
    }
    if (shutdown(s->fd, sh) < 0) {
        g_autofree char *what = socket_describe(s);
        vh_set_error_errno(errp, errno, "Failed to shut down %s", what);
        return false;
    }
    return true;
}

static bool socket_is_tcp(VhChannelSocket *s)
{
    return s->fd >= 0 && (s->family == AF_INET || s->family == AF_INET6);
}

/* The kernel's bounds for the keepalive options (include/net/tcp.h). */
#define KEEPALIVE_MAX_TIME   32767 /* s, TCP_KEEPIDLE and TCP_KEEPINTVL */
#define KEEPALIVE_MAX_PROBES 127   /* TCP_KEEPCNT */

static bool liveness_check(const VhTcpLiveness *l, GError **errp)
{
    const char *what = NULL;

    if (l->user_timeout_ms > G_MAXINT) {
        what = "TCP_USER_TIMEOUT";
    } else if (!l->keepalive_idle_s) {
        return true;
    } else if (l->keepalive_idle_s > KEEPALIVE_MAX_TIME) {
        what = "TCP_KEEPIDLE";
    } else if (l->keepalive_interval_s < 1 ||
               l->keepalive_interval_s > KEEPALIVE_MAX_TIME) {
        what = "TCP_KEEPINTVL";
    } else if (l->keepalive_count < 1 ||
               l->keepalive_count > KEEPALIVE_MAX_PROBES) {
        what = "TCP_KEEPCNT";
    }
    if (what) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "%s out of range (user timeout %u ms, keepalive idle %u "
                    "s, interval %u s, count %u; idle and interval 1 to %d "
                    "s, count 1 to %d)",
                    what, l->user_timeout_ms, l->keepalive_idle_s,
                    l->keepalive_interval_s, l->keepalive_count,
                    KEEPALIVE_MAX_TIME, KEEPALIVE_MAX_PROBES);
        return false;
    }
    return true;
}

static bool socket_set_opt(VhChannelSocket *s, int level, int opt,
                           const char *name, guint value, GError **errp)
{
    if (!socket_set_int(s->fd, level, opt, (int)value)) {
        g_autofree char *what = socket_describe(s);
        vh_set_error_errno(errp, errno, "Failed to set %s to %u on %s", name,
                           value, what);
        return false;
    }
    return true;
}

int vh_channel_socket_set_liveness(VhChannelSocket *s, const VhTcpLiveness *l,
                                   GError **errp)
{
    bool on;

    g_return_val_if_fail(VH_IS_CHANNEL_SOCKET(s), -1);
    g_return_val_if_fail(l != NULL, -1);
    if (!liveness_check(l, errp) || !socket_check_connected(s, errp)) {
        return -1;
    }
    if (vh_channel_has_feature(VH_CHANNEL(s), VH_CHANNEL_FEATURE_LISTEN)) {
        g_set_error(errp, VH_ERROR, VH_ERROR_NOT_SUPPORTED,
                    "%s is a listening socket: set TCP liveness on each "
                    "connection",
                    vh_channel_get_name(VH_CHANNEL(s)));
        return -1;
    }
    if (!socket_is_tcp(s)) {
        return 0;
    }
    on = l->keepalive_idle_s != 0;
    if (!socket_set_opt(s, IPPROTO_TCP, TCP_USER_TIMEOUT, "TCP_USER_TIMEOUT",
                        l->user_timeout_ms, errp) ||
        (on && (!socket_set_opt(s, IPPROTO_TCP, TCP_KEEPIDLE, "TCP_KEEPIDLE",
                                l->keepalive_idle_s, errp) ||
                !socket_set_opt(s, IPPROTO_TCP, TCP_KEEPINTVL, "TCP_KEEPINTVL",
                                l->keepalive_interval_s, errp) ||
                !socket_set_opt(s, IPPROTO_TCP, TCP_KEEPCNT, "TCP_KEEPCNT",
                                l->keepalive_count, errp))) ||
        !socket_set_opt(s, SOL_SOCKET, SO_KEEPALIVE, "SO_KEEPALIVE", on,
                        errp)) {
        return -1;
    }
    return 1;
}

static void socket_set_cork(VhChannel *ioc, bool enabled)
{
    VhChannelSocket *s = VH_CHANNEL_SOCKET(ioc);

    if (socket_is_tcp(s)) {
        socket_set_int(s->fd, IPPROTO_TCP, TCP_CORK, enabled);
    }
}

static void socket_set_delay(VhChannel *ioc, bool enabled)
{
    VhChannelSocket *s = VH_CHANNEL_SOCKET(ioc);

    if (socket_is_tcp(s)) {
        socket_set_int(s->fd, IPPROTO_TCP, TCP_NODELAY, !enabled);
    }
}

static void vh_channel_socket_finalize(GObject *obj)
{
    VhChannelSocket *s = VH_CHANNEL_SOCKET(obj);

    g_free(s->addr_text);
    g_free(s->unlink_path);
    G_OBJECT_CLASS(vh_channel_socket_parent_class)->finalize(obj);
}

static void vh_channel_socket_init(VhChannelSocket *s)
{
    s->fd = -1;
    s->family = AF_UNSPEC;
}

static void vh_channel_socket_class_init(VhChannelSocketClass *klass)
{
    GObjectClass *oc = G_OBJECT_CLASS(klass);
    VhChannelClass *cc = VH_CHANNEL_CLASS(klass);

    oc->finalize = vh_channel_socket_finalize;
    cc->readv = socket_readv;
    cc->writev = socket_writev;
    cc->close = socket_close;
    cc->create_watch = socket_create_watch;
    cc->set_blocking = socket_set_blocking;
    cc->shutdown = socket_shutdown;
    cc->set_cork = socket_set_cork;
    cc->set_delay = socket_set_delay;
}
