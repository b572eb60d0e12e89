/* Tests for VhChannelSocket (lib/io/channel-socket.c). */
#include "channel-conformance.h"
#include "vmhost/io/address.h"
#include "vmhost/io/channel-socket.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gunixsocketaddress.h>
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* A listener on @ip port 0, a client connected to it and the accepted end. */
static bool tcp_pair(const char *ip, VhChannelSocket **client,
                     VhChannelSocket **server, GError **errp)
{
    g_autoptr(GInetAddress) inet = g_inet_address_new_from_string(ip);
    g_autoptr(GSocketAddress) any = g_inet_socket_address_new(inet, 0);
    g_autoptr(VhChannelSocket) lsn = vh_channel_socket_new();

    if (!vh_channel_socket_listen_sync(lsn, any, 1, errp)) {
        return false;
    }
    g_autoptr(GSocketAddress) addr =
        vh_channel_socket_get_local_address(lsn, errp);
    if (!addr) {
        return false;
    }
    g_autoptr(VhChannelSocket) c = vh_channel_socket_new();
    if (!vh_channel_socket_connect_sync(c, addr, errp)) {
        return false;
    }
    *server = vh_channel_socket_accept(lsn, errp);
    if (!*server) {
        return false;
    }
    *client = g_steal_pointer(&c);
    return true;
}

static bool factory_unix(VhChannel **writer, VhChannel **reader,
                         gpointer opaque, GError **errp)
{
    VhChannelSocket *a, *b;

    if (!vh_channel_socket_pair(&a, &b, errp)) {
        return false;
    }
    *writer = VH_CHANNEL(a);
    *reader = VH_CHANNEL(b);
    return true;
}

static bool factory_tcp(VhChannel **writer, VhChannel **reader, gpointer opaque,
                        GError **errp)
{
    const char *ip = opaque;
    VhChannelSocket *a, *b;

    if (strchr(ip, ':') && !vh_socket_ipv6_loopback_available()) {
        g_set_error(errp, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                    "IPv6 loopback is not available on this host");
        return false;
    }
    if (!tcp_pair(ip, &a, &b, errp)) {
        return false;
    }
    *writer = VH_CHANNEL(a);
    *reader = VH_CHANNEL(b);
    return true;
}

static void pair_or_die(VhChannelSocket **a, VhChannelSocket **b)
{
    g_autoptr(GError) err = NULL;

    g_assert_true(vh_channel_socket_pair(a, b, &err));
    g_assert_no_error(err);
}

static void test_features(void)
{
    g_autoptr(VhChannelSocket) a = NULL;
    g_autoptr(VhChannelSocket) b = NULL;
    g_autoptr(VhChannelSocket) c = NULL;
    g_autoptr(VhChannelSocket) d = NULL;
    g_autoptr(GError) err = NULL;

    pair_or_die(&a, &b);
    g_assert_true(
        vh_channel_has_feature(VH_CHANNEL(a), VH_CHANNEL_FEATURE_FD_PASS));
    g_assert_true(
        vh_channel_has_feature(VH_CHANNEL(a), VH_CHANNEL_FEATURE_SHUTDOWN));
    g_assert_false(
        vh_channel_has_feature(VH_CHANNEL(a), VH_CHANNEL_FEATURE_LISTEN));
    g_assert_false(
        vh_channel_has_feature(VH_CHANNEL(a), VH_CHANNEL_FEATURE_SEEK));
    g_assert_cmpint(vh_channel_socket_get_fd(a), >=, 0);

    g_assert_true(tcp_pair("127.0.0.1", &c, &d, &err));
    g_assert_no_error(err);
    g_assert_false(
        vh_channel_has_feature(VH_CHANNEL(c), VH_CHANNEL_FEATURE_FD_PASS));
    g_assert_true(
        vh_channel_has_feature(VH_CHANNEL(c), VH_CHANNEL_FEATURE_SHUTDOWN));
}

/* A pipe whose read end is returned and whose write end holds @text. */
static int pipe_with(const char *text)
{
    int fds[2];

    g_assert_cmpint(pipe(fds), ==, 0);
    g_assert_cmpint(write(fds[1], text, strlen(text)), ==, strlen(text));
    close(fds[1]);
    return fds[0];
}

static void test_fd_pass(void)
{
    g_autoptr(VhChannelSocket) a = NULL;
    g_autoptr(VhChannelSocket) b = NULL;
    g_autoptr(GError) err = NULL;
    int send[3] = {pipe_with("zero"), pipe_with("one"), pipe_with("two")};
    const char *want[3] = {"zero", "one", "two"};
    g_autofree int *fds = NULL;
    size_t nfds = 0;
    char buf[16];

    pair_or_die(&a, &b);
    struct iovec iov = {.iov_base = "m", .iov_len = 1};
    g_assert_true(
        vh_channel_writev_full_all(VH_CHANNEL(a), &iov, 1, send, 3, &err));
    g_assert_no_error(err);
    for (int i = 0; i < 3; i++) {
        close(send[i]);
    }

    struct iovec riov = {.iov_base = buf, .iov_len = sizeof(buf)};
    gssize n =
        vh_channel_readv_full(VH_CHANNEL(b), &riov, 1, &fds, &nfds, &err);
    g_assert_no_error(err);
    g_assert_cmpint(n, ==, 1);
    g_assert_cmpuint(nfds, ==, 3);
    for (size_t i = 0; i < nfds; i++) {
        g_assert_cmpint(fcntl(fds[i], F_GETFD) & FD_CLOEXEC, !=, 0);
        memset(buf, 0, sizeof(buf));
        g_assert_cmpint(read(fds[i], buf, sizeof(buf)), ==, strlen(want[i]));
        g_assert_cmpstr(buf, ==, want[i]);
        close(fds[i]);
    }

    /* A message without descriptors gives none. */
    g_clear_pointer(&fds, g_free);
    g_assert_true(vh_channel_write_all(VH_CHANNEL(a), "n", 1, &err));
    n = vh_channel_readv_full(VH_CHANNEL(b), &riov, 1, &fds, &nfds, &err);
    g_assert_cmpint(n, ==, 1);
    g_assert_cmpuint(nfds, ==, 0);
    g_assert_null(fds);
}

static void test_fd_pass_limits(void)
{
    g_autoptr(VhChannelSocket) a = NULL;
    g_autoptr(VhChannelSocket) b = NULL;
    g_autoptr(GError) err = NULL;
    int many[VH_CHANNEL_SOCKET_MAX_FDS + 1];
    struct iovec iov = {.iov_base = "m", .iov_len = 1};
    struct iovec empty = {.iov_base = "m", .iov_len = 0};

    pair_or_die(&a, &b);
    for (size_t i = 0; i < G_N_ELEMENTS(many); i++) {
        many[i] = 0;
    }
    g_assert_cmpint(vh_channel_writev_full(VH_CHANNEL(a), &iov, 1, many,
                                           G_N_ELEMENTS(many), &err),
                    ==, -1);
    g_assert_error(err, VH_ERROR, VH_ERROR_INVALID_ARGUMENT);
    g_clear_error(&err);

    g_assert_cmpint(
        vh_channel_writev_full(VH_CHANNEL(a), &empty, 1, many, 1, &err), ==,
        -1);
    g_assert_error(err, VH_ERROR, VH_ERROR_INVALID_ARGUMENT);
    g_assert_nonnull(strstr(err->message, "at least one byte"));
}

/* More descriptors than the receiver accepts arrive as an error. */
static void test_fd_pass_truncated(void)
{
    g_autoptr(VhChannelSocket) a = NULL;
    g_autoptr(VhChannelSocket) b = NULL;
    g_autoptr(GError) err = NULL;
    enum { N = VH_CHANNEL_SOCKET_MAX_FDS + 8 };
    union {
        char buf[CMSG_SPACE(sizeof(int) * N)];
        struct cmsghdr align;
    } control;
    int fds[N];
    char byte = 'x';
    struct iovec iov = {.iov_base = &byte, .iov_len = 1};
    struct msghdr msg = {.msg_iov = &iov,
                         .msg_iovlen = 1,
                         .msg_control = control.buf,
                         .msg_controllen = sizeof(control.buf)};
    g_autofree int *got = NULL;
    size_t ngot = 42;

    pair_or_die(&a, &b);
    memset(&control, 0, sizeof(control));
    for (int i = 0; i < N; i++) {
        fds[i] = 0;
    }
    struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(fds));
    memcpy(CMSG_DATA(cmsg), fds, sizeof(fds));
    g_assert_cmpint(sendmsg(vh_channel_socket_get_fd(a), &msg, 0), ==, 1);

    char buf[4];
    struct iovec riov = {.iov_base = buf, .iov_len = sizeof(buf)};
    g_assert_cmpint(
        vh_channel_readv_full(VH_CHANNEL(b), &riov, 1, &got, &ngot, &err), ==,
        -1);
    g_assert_error(err, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE);
    g_assert_nonnull(strstr(err->message, "truncated"));
    g_assert_null(got);
    g_assert_cmpuint(ngot, ==, 0);
}

static void test_fd_pass_unsupported(void)
{
    g_autoptr(VhChannelSocket) a = NULL;
    g_autoptr(VhChannelSocket) b = NULL;
    g_autoptr(GError) err = NULL;
    struct iovec iov = {.iov_base = "m", .iov_len = 1};
    int fd = 0;
    g_autofree int *fds = NULL;
    size_t nfds;

    g_assert_true(tcp_pair("127.0.0.1", &a, &b, &err));
    g_assert_cmpint(
        vh_channel_writev_full(VH_CHANNEL(a), &iov, 1, &fd, 1, &err), ==, -1);
    g_assert_error(err, VH_ERROR, VH_ERROR_NOT_SUPPORTED);
    g_clear_error(&err);
    g_assert_cmpint(
        vh_channel_readv_full(VH_CHANNEL(b), &iov, 1, &fds, &nfds, &err), ==,
        -1);
    g_assert_error(err, VH_ERROR, VH_ERROR_NOT_SUPPORTED);
}

static void echo_once(VhChannelSocket *client, VhChannelSocket *server)
{
    g_autoptr(GError) err = NULL;
    char buf[5];

    g_assert_true(vh_channel_write_all(VH_CHANNEL(client), "hello", 5, &err));
    g_assert_no_error(err);
    g_assert_true(vh_channel_read_all(VH_CHANNEL(server), buf, 5, &err));
    g_assert_no_error(err);
    g_assert_true(memcmp(buf, "hello", 5) == 0);
}

static void test_unix_path(void)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *dir = g_dir_make_tmp("vh-io-XXXXXX", &err);
    g_autofree char *path = g_build_filename(dir, "sock", NULL);
    g_autoptr(GSocketAddress) addr = g_unix_socket_address_new(path);
    g_autoptr(VhChannelSocket) lsn = vh_channel_socket_new();
    g_autoptr(VhChannelSocket) client = vh_channel_socket_new();
    g_autoptr(VhChannelSocket) server = NULL;
    struct stat st;

    g_assert_no_error(err);
    g_assert_true(vh_channel_socket_listen_sync(lsn, addr, 0, &err));
    g_assert_no_error(err);
    g_assert_true(
        vh_channel_has_feature(VH_CHANNEL(lsn), VH_CHANNEL_FEATURE_LISTEN));
    g_assert_cmpint(stat(path, &st), ==, 0);
    g_assert_true(S_ISSOCK(st.st_mode));

    g_assert_true(vh_channel_socket_connect_sync(client, addr, &err));
    g_assert_no_error(err);
    server = vh_channel_socket_accept(lsn, &err);
    g_assert_no_error(err);
    g_assert_true(
        vh_channel_has_feature(VH_CHANNEL(server), VH_CHANNEL_FEATURE_FD_PASS));
    echo_once(client, server);

    g_autoptr(GSocketAddress) remote =
        vh_channel_socket_get_remote_address(client, &err);
    g_assert_no_error(err);
    g_autofree char *text = vh_socket_address_to_string(remote);
    g_autofree char *want = g_strdup_printf("unix:%s", path);
    g_assert_cmpstr(text, ==, want);

    /* Closing the listener removes its socket file. */
    g_assert_true(vh_channel_close(VH_CHANNEL(lsn), &err));
    g_assert_cmpint(stat(path, &st), ==, -1);
    g_assert_cmpint(g_rmdir(dir), ==, 0);
}

/* A stale socket file is replaced; any other file at the path is not. */
static void test_unix_stale(void)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *dir = g_dir_make_tmp("vh-io-XXXXXX", &err);
    g_autofree char *path = g_build_filename(dir, "sock", NULL);
    g_autofree char *file = g_build_filename(dir, "file", NULL);
    g_autoptr(GSocketAddress) addr = g_unix_socket_address_new(path);
    g_autoptr(GSocketAddress) faddr = g_unix_socket_address_new(file);

    {
        /* Bound by hand and adopted: the channel leaves the file behind. */
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_storage ss;
        g_assert_true(g_socket_address_to_native(addr, &ss, sizeof(ss), NULL));
        g_assert_cmpint(bind(fd, (struct sockaddr *)&ss,
                             g_socket_address_get_native_size(addr)),
                        ==, 0);
        g_assert_cmpint(listen(fd, 1), ==, 0);
        g_autoptr(VhChannelSocket) adopted = vh_channel_socket_new_fd(fd, &err);
        g_assert_no_error(err);
        g_assert_true(vh_channel_has_feature(VH_CHANNEL(adopted),
                                             VH_CHANNEL_FEATURE_LISTEN));
    }
    g_assert_true(g_file_test(path, G_FILE_TEST_EXISTS));
    g_autoptr(VhChannelSocket) lsn = vh_channel_socket_new();
    g_assert_true(vh_channel_socket_listen_sync(lsn, addr, 0, &err));
    g_assert_no_error(err);
    g_assert_true(vh_channel_close(VH_CHANNEL(lsn), NULL));

    g_assert_true(g_file_set_contents(file, "data", -1, &err));
    g_autoptr(VhChannelSocket) lsn2 = vh_channel_socket_new();
    g_assert_false(vh_channel_socket_listen_sync(lsn2, faddr, 0, &err));
    g_assert_error(err, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE);
    g_assert_nonnull(strstr(err->message, file));
    g_assert_true(g_file_test(file, G_FILE_TEST_IS_REGULAR));

    g_assert_cmpint(g_unlink(file), ==, 0);
    g_assert_cmpint(g_rmdir(dir), ==, 0);
}

static void test_unix_abstract(void)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *name =
        g_strdup_printf("vmhost-test-%d-%08x", getpid(), g_test_rand_int());
    g_autofree char *str = g_strdup_printf("abstract:%s", name);
    g_autoptr(GSocketAddress) addr = vh_socket_address_parse(str, &err);
    g_autoptr(VhChannelSocket) lsn = vh_channel_socket_new();
    g_autoptr(VhChannelSocket) lsn2 = vh_channel_socket_new();
    g_autoptr(VhChannelSocket) client = vh_channel_socket_new();
    g_autoptr(VhChannelSocket) server = NULL;

    g_assert_no_error(err);
    g_assert_true(vh_channel_socket_listen_sync(lsn, addr, 0, &err));
    g_assert_no_error(err);
    g_assert_true(vh_channel_socket_connect_sync(client, addr, &err));
    g_assert_no_error(err);
    server = vh_channel_socket_accept(lsn, &err);
    g_assert_no_error(err);
    echo_once(client, server);

    g_autoptr(GSocketAddress) local =
        vh_channel_socket_get_local_address(lsn, &err);
    g_assert_no_error(err);
    g_autofree char *text = vh_socket_address_to_string(local);
    g_assert_cmpstr(text, ==, str);

    /* The name is taken while the first listener lives. */
    g_assert_false(vh_channel_socket_listen_sync(lsn2, addr, 0, &err));
    g_assert_error(err, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE);
    g_assert_nonnull(strstr(err->message, str));
}

/* A port on 127.0.0.1 nobody listens on (bound, then closed). */
static guint16 unused_port(void)
{
    g_autoptr(VhChannelSocket) s = vh_channel_socket_new();
    g_autoptr(GSocketAddress) any =
        vh_socket_address_parse("127.0.0.1:0", NULL);
    g_autoptr(GError) err = NULL;

    g_assert_true(vh_channel_socket_listen_sync(s, any, 1, &err));
    g_autoptr(GSocketAddress) addr =
        vh_channel_socket_get_local_address(s, &err);
    g_assert_no_error(err);
    return g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(addr));
}

static void test_connect_refused(void)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *str = g_strdup_printf("127.0.0.1:%u", unused_port());
    g_autoptr(GSocketAddress) addr = vh_socket_address_parse(str, &err);
    g_autoptr(VhChannelSocket) s = vh_channel_socket_new();
    g_autofree char *want =
        g_strdup_printf("Failed to connect to %s: Connection refused", str);

    g_assert_no_error(err);
    g_assert_false(vh_channel_socket_connect_sync(s, addr, &err));
    g_assert_error(err, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
    g_assert_cmpstr(err->message, ==, want);
    g_assert_cmpint(vh_channel_socket_get_fd(s), ==, -1);
}

static void test_connect_twice(void)
{
    g_autoptr(VhChannelSocket) a = NULL;
    g_autoptr(VhChannelSocket) b = NULL;
    g_autoptr(GError) err = NULL;
    g_autoptr(GSocketAddress) addr =
        vh_socket_address_parse("127.0.0.1:1", NULL);

    pair_or_die(&a, &b);
    g_assert_false(vh_channel_socket_connect_sync(a, addr, &err));
    g_assert_error(err, G_IO_ERROR, G_IO_ERROR_EXISTS);
    g_clear_error(&err);
    g_assert_false(vh_channel_socket_listen_sync(a, addr, 0, &err));
    g_assert_error(err, G_IO_ERROR, G_IO_ERROR_EXISTS);
}

static void test_unconnected(void)
{
    g_autoptr(VhChannelSocket) s = vh_channel_socket_new();
    g_autoptr(GError) err = NULL;
    char buf[4];

    g_assert_cmpint(vh_channel_read(VH_CHANNEL(s), buf, 4, &err), ==, -1);
    g_assert_error(err, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED);
    g_clear_error(&err);
    g_assert_cmpint(vh_channel_write(VH_CHANNEL(s), "ab", 2, &err), ==, -1);
    g_assert_error(err, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED);
    g_clear_error(&err);
    g_assert_null(vh_channel_socket_get_local_address(s, &err));
    g_assert_error(err, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED);
    g_clear_error(&err);
    g_assert_null(vh_channel_socket_accept(s, &err));
    g_assert_error(err, VH_ERROR, VH_ERROR_NOT_SUPPORTED);
    g_clear_error(&err);
    /* Blocking mode chosen before connecting is applied at connect. */
    g_assert_true(vh_channel_set_blocking(VH_CHANNEL(s), false, &err));
    g_assert_no_error(err);
    g_autoptr(GSource) src = vh_channel_create_watch(VH_CHANNEL(s), G_IO_IN);
    g_assert_nonnull(src);
}

typedef struct {
    unsigned calls;
    bool ok;
    GError *err;
    GMainLoop *loop;
} AsyncResult;

static void connect_done(GObject *obj, GAsyncResult *res, gpointer opaque)
{
    AsyncResult *ar = opaque;

    ar->calls++;
    ar->ok =
        vh_channel_socket_connect_finish(VH_CHANNEL_SOCKET(obj), res, &ar->err);
    g_main_loop_quit(ar->loop);
}

static gboolean cancel_later(gpointer opaque)
{
    g_cancellable_cancel(opaque);
    return G_SOURCE_REMOVE;
}

static void run_connect(VhChannelSocket *s, GSocketAddress *addr,
                        GCancellable *c, GMainContext *ctx, AsyncResult *ar)
{
    g_autoptr(GMainLoop) loop = g_main_loop_new(ctx, FALSE);

    ar->loop = loop;
    g_main_context_push_thread_default(ctx);
    vh_channel_socket_connect_async(s, addr, c, connect_done, ar);
    g_main_context_pop_thread_default(ctx);
    if (c) {
        GSource *t = g_timeout_source_new(100);
        g_source_set_callback(t, cancel_later, c, NULL);
        g_source_attach(t, ctx);
        g_source_unref(t);
    }
    g_main_loop_run(loop);
    /* Nothing else may be pending for the finished task. */
    while (g_main_context_iteration(ctx, FALSE)) {
    }
    ar->loop = NULL;
}

static void test_connect_async(void)
{
    g_autoptr(GMainContext) ctx = g_main_context_new();
    g_autoptr(GError) err = NULL;
    g_autoptr(VhChannelSocket) lsn = vh_channel_socket_new();
    g_autoptr(GSocketAddress) any =
        vh_socket_address_parse("127.0.0.1:0", NULL);

    g_assert_true(vh_channel_socket_listen_sync(lsn, any, 1, &err));
    g_autoptr(GSocketAddress) addr =
        vh_channel_socket_get_local_address(lsn, &err);

    /* Success: exactly one callback, a usable blocking channel. */
    g_autoptr(VhChannelSocket) s = vh_channel_socket_new();
    AsyncResult ok = {0};
    run_connect(s, addr, NULL, ctx, &ok);
    g_assert_cmpuint(ok.calls, ==, 1);
    g_assert_no_error(ok.err);
    g_assert_true(ok.ok);
    g_assert_true(vh_channel_get_blocking(VH_CHANNEL(s)));
    g_assert_cmpint(fcntl(vh_channel_socket_get_fd(s), F_GETFL) & O_NONBLOCK,
                    ==, 0);
    g_autoptr(VhChannelSocket) server = vh_channel_socket_accept(lsn, &err);
    g_assert_no_error(err);
    echo_once(s, server);

    /* Refused: exactly one callback with the address in the error. */
    g_autofree char *str = g_strdup_printf("127.0.0.1:%u", unused_port());
    g_autoptr(GSocketAddress) bad = vh_socket_address_parse(str, NULL);
    g_autoptr(VhChannelSocket) s2 = vh_channel_socket_new();
    AsyncResult fail = {0};
    run_connect(s2, bad, NULL, ctx, &fail);
    g_assert_cmpuint(fail.calls, ==, 1);
    g_assert_false(fail.ok);
    g_assert_error(fail.err, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
    g_assert_nonnull(strstr(fail.err->message, str));
    g_clear_error(&fail.err);
    g_assert_cmpint(vh_channel_socket_get_fd(s2), ==, -1);

    /* Already connected: the error comes through the callback too. */
    AsyncResult twice = {0};
    run_connect(s, addr, NULL, ctx, &twice);
    g_assert_cmpuint(twice.calls, ==, 1);
    g_assert_error(twice.err, G_IO_ERROR, G_IO_ERROR_EXISTS);
    g_clear_error(&twice.err);
}

/* A connect stuck on a full TCP backlog is cancelled. */
static void test_connect_async_cancel(void)
{
    g_autoptr(GMainContext) ctx = g_main_context_new();
    g_autoptr(GCancellable) c = g_cancellable_new();
    g_autoptr(GError) err = NULL;
    g_autoptr(VhChannelSocket) s = vh_channel_socket_new();
    g_autoptr(VhChannelSocket) lsn = vh_channel_socket_new();
    g_autoptr(GSocketAddress) any =
        vh_socket_address_parse("127.0.0.1:0", NULL);
    struct sockaddr_storage ss;
    AsyncResult ar = {0};
    int fill[8];

    g_assert_true(vh_channel_socket_listen_sync(lsn, any, 1, &err));
    g_autoptr(GSocketAddress) addr =
        vh_channel_socket_get_local_address(lsn, &err);
    g_assert_true(g_socket_address_to_native(addr, &ss, sizeof(ss), NULL));
    /* Nobody accepts: once the queue is full, new SYNs are dropped. */
    for (size_t i = 0; i < G_N_ELEMENTS(fill); i++) {
        fill[i] =
            socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        (void)!connect(fill[i], (struct sockaddr *)&ss,
                       g_socket_address_get_native_size(addr));
    }
    g_usleep(50 * 1000);

    run_connect(s, addr, c, ctx, &ar);
    g_assert_cmpuint(ar.calls, ==, 1);
    for (size_t i = 0; i < G_N_ELEMENTS(fill); i++) {
        close(fill[i]);
    }
    if (ar.ok) {
        g_test_message("the connect completed before it was cancelled");
        return;
    }
    g_assert_error(ar.err, G_IO_ERROR, G_IO_ERROR_CANCELLED);
    g_assert_nonnull(strstr(ar.err->message, "127.0.0.1:"));
    g_clear_error(&ar.err);
    g_assert_cmpint(vh_channel_socket_get_fd(s), ==, -1);
}

/*
 * Cancelled before the loop runs, so completion and cancellation may be
 * ready together: the callback still runs exactly once.
 */
static void test_connect_async_precancelled(void)
{
    g_autoptr(GMainContext) ctx = g_main_context_new();
    g_autoptr(GError) err = NULL;
    g_autoptr(VhChannelSocket) lsn = vh_channel_socket_new();
    g_autoptr(GSocketAddress) any =
        vh_socket_address_parse("127.0.0.1:0", NULL);

    g_assert_true(vh_channel_socket_listen_sync(lsn, any, 16, &err));
    g_autoptr(GSocketAddress) addr =
        vh_channel_socket_get_local_address(lsn, &err);
    for (int i = 0; i < 10; i++) {
        g_autoptr(GCancellable) c = g_cancellable_new();
        g_autoptr(VhChannelSocket) s = vh_channel_socket_new();
        g_autoptr(GMainLoop) loop = g_main_loop_new(ctx, FALSE);
        AsyncResult ar = {.loop = loop};

        g_cancellable_cancel(c);
        g_main_context_push_thread_default(ctx);
        vh_channel_socket_connect_async(s, addr, c, connect_done, &ar);
        g_main_context_pop_thread_default(ctx);
        g_main_loop_run(loop);
        while (g_main_context_iteration(ctx, FALSE)) {
        }
        g_assert_cmpuint(ar.calls, ==, 1);
        g_assert_true(
            ar.ok || g_error_matches(ar.err, G_IO_ERROR, G_IO_ERROR_CANCELLED));
        g_clear_error(&ar.err);
        g_autoptr(VhChannelSocket) server = NULL;
        if (ar.ok) {
            server = vh_channel_socket_accept(lsn, &err);
            g_assert_no_error(err);
        }
    }
}

static void test_accept_would_block(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(VhChannelSocket) lsn = vh_channel_socket_new();
    g_autoptr(GSocketAddress) any =
        vh_socket_address_parse("127.0.0.1:0", NULL);

    g_assert_true(vh_channel_socket_listen_sync(lsn, any, 1, &err));
    g_assert_true(vh_channel_set_blocking(VH_CHANNEL(lsn), false, &err));
    g_assert_null(vh_channel_socket_accept(lsn, &err));
    g_assert_error(err, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
    g_assert_nonnull(strstr(err->message, "127.0.0.1:"));
    g_clear_error(&err);

    /* Closed listener. */
    g_assert_true(vh_channel_close(VH_CHANNEL(lsn), NULL));
    g_assert_null(vh_channel_socket_accept(lsn, &err));
    g_assert_error(err, G_IO_ERROR, G_IO_ERROR_CLOSED);
}

static int get_tcp_opt(VhChannelSocket *s, int opt)
{
    int value = -1;
    socklen_t len = sizeof(value);

    g_assert_cmpint(
        getsockopt(vh_channel_socket_get_fd(s), IPPROTO_TCP, opt, &value, &len),
        ==, 0);
    return value;
}

static void test_nodelay_cork(void)
{
    g_autoptr(VhChannelSocket) a = NULL;
    g_autoptr(VhChannelSocket) b = NULL;
    g_autoptr(VhChannelSocket) u1 = NULL;
    g_autoptr(VhChannelSocket) u2 = NULL;
    g_autoptr(GError) err = NULL;

    g_assert_true(tcp_pair("127.0.0.1", &a, &b, &err));
    vh_channel_set_delay(VH_CHANNEL(a), false);
    g_assert_cmpint(get_tcp_opt(a, TCP_NODELAY), !=, 0);
    vh_channel_set_delay(VH_CHANNEL(a), true);
    g_assert_cmpint(get_tcp_opt(a, TCP_NODELAY), ==, 0);
    vh_channel_set_cork(VH_CHANNEL(a), true);
    g_assert_cmpint(get_tcp_opt(a, TCP_CORK), !=, 0);
    g_assert_true(vh_channel_write_all(VH_CHANNEL(a), "hel", 3, &err));
    g_assert_true(vh_channel_write_all(VH_CHANNEL(a), "lo", 2, &err));
    vh_channel_set_cork(VH_CHANNEL(a), false);
    g_assert_cmpint(get_tcp_opt(a, TCP_CORK), ==, 0);
    char buf[5];
    g_assert_true(vh_channel_read_all(VH_CHANNEL(b), buf, 5, &err));
    g_assert_true(memcmp(buf, "hello", 5) == 0);

    /* On UNIX sockets both are harmless no-ops. */
    pair_or_die(&u1, &u2);
    vh_channel_set_cork(VH_CHANNEL(u1), true);
    vh_channel_set_delay(VH_CHANNEL(u1), false);
    echo_once(u1, u2);
}

static int get_sol_opt(VhChannelSocket *s, int opt)
{
    int value = -1;
    socklen_t len = sizeof(value);

    g_assert_cmpint(
        getsockopt(vh_channel_socket_get_fd(s), SOL_SOCKET, opt, &value, &len),
        ==, 0);
    return value;
}

/* What the kernel reports for @s, as a VhTcpLiveness. */
static void read_liveness(VhChannelSocket *s, VhTcpLiveness *l, bool *on)
{
    l->user_timeout_ms = (guint)get_tcp_opt(s, TCP_USER_TIMEOUT);
    l->keepalive_idle_s = (guint)get_tcp_opt(s, TCP_KEEPIDLE);
    l->keepalive_interval_s = (guint)get_tcp_opt(s, TCP_KEEPINTVL);
    l->keepalive_count = (guint)get_tcp_opt(s, TCP_KEEPCNT);
    *on = get_sol_opt(s, SO_KEEPALIVE) != 0;
}

static void liveness_on_pair(const char *ip)
{
    g_autoptr(VhChannelSocket) a = NULL;
    g_autoptr(VhChannelSocket) b = NULL;
    g_autoptr(GError) err = NULL;
    const VhTcpLiveness want = {2000, 1, 2, 3};
    const VhTcpLiveness off = {0};
    VhTcpLiveness got, before;
    bool on;

    if (strchr(ip, ':') && !vh_socket_ipv6_loopback_available()) {
        g_test_message("IPv6 loopback is not available: %s skipped", ip);
        return;
    }
    g_assert_true(tcp_pair(ip, &a, &b, &err));
    g_assert_no_error(err);
    read_liveness(a, &before, &on);
    g_assert_cmpuint(before.user_timeout_ms, ==, 0);
    g_assert_false(on);

    /* Both ends, the connecting and the accepted one. */
    g_assert_cmpint(vh_channel_socket_set_liveness(a, &want, &err), ==, 1);
    g_assert_no_error(err);
    g_assert_cmpint(vh_channel_socket_set_liveness(b, &want, &err), ==, 1);
    g_assert_no_error(err);
    read_liveness(a, &got, &on);
    g_assert_cmpuint(got.user_timeout_ms, ==, 2000);
    g_assert_cmpuint(got.keepalive_idle_s, ==, 1);
    g_assert_cmpuint(got.keepalive_interval_s, ==, 2);
    g_assert_cmpuint(got.keepalive_count, ==, 3);
    g_assert_true(on);
    read_liveness(b, &got, &on);
    g_assert_cmpuint(got.user_timeout_ms, ==, 2000);
    g_assert_true(on);
    /* A live peer acknowledges: data still flows. */
    echo_once(a, b);

    /* All zero: the kernel's behaviour again (keepalive off). */
    g_assert_cmpint(vh_channel_socket_set_liveness(a, &off, &err), ==, 1);
    g_assert_no_error(err);
    read_liveness(a, &got, &on);
    g_assert_cmpuint(got.user_timeout_ms, ==, 0);
    g_assert_false(on);
    echo_once(a, b);
}

static void test_liveness(void)
{
    liveness_on_pair("127.0.0.1");
    liveness_on_pair("::1");
}

/*
 * Where the options do not exist (UNIX), 0 and no error; where they
 * cannot be set, -1 naming why, and nothing half-applied.
 */
static void test_liveness_refused(void)
{
    g_autoptr(VhChannelSocket) u1 = NULL;
    g_autoptr(VhChannelSocket) u2 = NULL;
    g_autoptr(VhChannelSocket) a = NULL;
    g_autoptr(VhChannelSocket) b = NULL;
    g_autoptr(VhChannelSocket) unconnected = vh_channel_socket_new();
    g_autoptr(VhChannelSocket) lsn = vh_channel_socket_new();
    g_autoptr(GInetAddress) lo =
        g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
    g_autoptr(GSocketAddress) any = g_inet_socket_address_new(lo, 0);
    g_autoptr(GError) err = NULL;
    const VhTcpLiveness l = {2000, 1, 1, 3};
    const VhTcpLiveness bad[] = {
        {(guint)G_MAXINT + 1u, 0, 0, 0},
        {1000, 32768, 1, 3},
        {1000, 1, 0, 3},
        {1000, 1, 1, 0},
        {1000, 1, 1, 128},
    };
    const char *const bad_opt[] = {
        "TCP_USER_TIMEOUT", "TCP_KEEPIDLE", "TCP_KEEPINTVL",
        "TCP_KEEPCNT",      "TCP_KEEPCNT",
    };
    VhTcpLiveness got;
    bool on;

    pair_or_die(&u1, &u2);
    g_assert_cmpint(vh_channel_socket_set_liveness(u1, &l, &err), ==, 0);
    g_assert_no_error(err);
    echo_once(u1, u2);

    g_assert_cmpint(vh_channel_socket_set_liveness(unconnected, &l, &err), ==,
                    -1);
    g_assert_error(err, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED);
    g_clear_error(&err);

    g_assert_true(vh_channel_socket_listen_sync(lsn, any, 1, &err));
    g_assert_cmpint(vh_channel_socket_set_liveness(lsn, &l, &err), ==, -1);
    g_assert_error(err, VH_ERROR, VH_ERROR_NOT_SUPPORTED);
    g_assert_nonnull(strstr(err->message, "listening"));
    g_clear_error(&err);

    g_assert_true(tcp_pair("127.0.0.1", &a, &b, &err));
    for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_assert_cmpint(vh_channel_socket_set_liveness(a, &bad[i], &err), ==,
                        -1);
        g_assert_error(err, VH_ERROR, VH_ERROR_INVALID_ARGUMENT);
        g_assert_nonnull(strstr(err->message, bad_opt[i]));
        g_clear_error(&err);
        /* Checked before anything is set. */
        read_liveness(a, &got, &on);
        g_assert_cmpuint(got.user_timeout_ms, ==, 0);
        g_assert_false(on);
    }

    g_assert_true(vh_channel_close(VH_CHANNEL(a), &err));
    g_assert_cmpint(vh_channel_socket_set_liveness(a, &l, &err), ==, -1);
    g_assert_error(err, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED);
}

static void test_new_fd(void)
{
    g_autoptr(GError) err = NULL;
    int sv[2];
    int pfd[2];

    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==,
                    0);
    g_assert_true(g_unix_set_fd_nonblocking(sv[1], TRUE, NULL));
    g_autoptr(VhChannelSocket) a = vh_channel_socket_new_fd(sv[0], &err);
    g_assert_no_error(err);
    g_autoptr(VhChannelSocket) b = vh_channel_socket_new_fd(sv[1], &err);
    g_assert_no_error(err);
    g_assert_cmpint(vh_channel_socket_get_fd(a), ==, sv[0]);
    g_assert_true(
        vh_channel_has_feature(VH_CHANNEL(a), VH_CHANNEL_FEATURE_FD_PASS));
    g_assert_true(vh_channel_get_blocking(VH_CHANNEL(a)));
    g_assert_false(vh_channel_get_blocking(VH_CHANNEL(b)));
    char c;
    g_assert_cmpint(vh_channel_read(VH_CHANNEL(b), &c, 1, &err), ==,
                    VH_CHANNEL_ERR_BLOCK);
    g_assert_no_error(err);

    /* A TCP listener adopted keeps listening. */
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET,
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    g_assert_cmpint(bind(lfd, (struct sockaddr *)&sin, sizeof(sin)), ==, 0);
    g_assert_cmpint(listen(lfd, 1), ==, 0);
    g_autoptr(VhChannelSocket) l = vh_channel_socket_new_fd(lfd, &err);
    g_assert_no_error(err);
    g_assert_true(
        vh_channel_has_feature(VH_CHANNEL(l), VH_CHANNEL_FEATURE_LISTEN));
    g_assert_false(
        vh_channel_has_feature(VH_CHANNEL(l), VH_CHANNEL_FEATURE_FD_PASS));

    /* Not a socket: refused, and the caller still owns the fd. */
    g_assert_cmpint(pipe2(pfd, O_CLOEXEC), ==, 0);
    g_assert_null(vh_channel_socket_new_fd(pfd[0], &err));
    g_assert_nonnull(err);
    g_assert_nonnull(strstr(err->message, "not a usable socket"));
    g_clear_error(&err);
    g_assert_cmpint(fcntl(pfd[0], F_GETFD), >=, 0);
    close(pfd[0]);
    close(pfd[1]);

    /* A datagram socket is refused. */
    int dfd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    g_assert_null(vh_channel_socket_new_fd(dfd, &err));
    g_assert_error(err, VH_ERROR, VH_ERROR_INVALID_ARGUMENT);
    close(dfd);
}

static void test_listen_in_use(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(VhChannelSocket) l1 = vh_channel_socket_new();
    g_autoptr(VhChannelSocket) l2 = vh_channel_socket_new();
    g_autoptr(GSocketAddress) any =
        vh_socket_address_parse("127.0.0.1:0", NULL);

    g_assert_true(vh_channel_socket_listen_sync(l1, any, 1, &err));
    g_autoptr(GSocketAddress) addr =
        vh_channel_socket_get_local_address(l1, &err);
    g_autofree char *text = vh_socket_address_to_string(addr);
    g_autofree char *want =
        g_strdup_printf("Failed to listen on %s: Address already in use", text);

    g_assert_false(vh_channel_socket_listen_sync(l2, addr, 1, &err));
    g_assert_error(err, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE);
    g_assert_cmpstr(err->message, ==, want);
    g_assert_cmpint(vh_channel_socket_get_fd(l2), ==, -1);
}

/* A write to a peer that went away names the channel and the peer. */
static void test_peer_gone(void)
{
    g_autoptr(VhChannelSocket) a = NULL;
    g_autoptr(VhChannelSocket) b = NULL;
    g_autoptr(GError) err = NULL;
    char buf[4096] = {0};
    gssize n = 0;

    g_assert_true(tcp_pair("127.0.0.1", &a, &b, &err));
    g_autoptr(GSocketAddress) peer =
        vh_channel_socket_get_remote_address(a, &err);
    g_autofree char *ptext = vh_socket_address_to_string(peer);
    vh_channel_set_name(VH_CHANNEL(a), "test client");
    g_assert_true(vh_channel_close(VH_CHANNEL(b), &err));
    for (int i = 0; i < 1000 && n >= 0; i++) {
        n = vh_channel_write(VH_CHANNEL(a), buf, sizeof(buf), &err);
        g_usleep(1000);
    }
    g_assert_cmpint(n, ==, -1);
    g_assert_true(
        g_error_matches(err, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE) ||
        g_error_matches(err, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED));
    g_assert_nonnull(strstr(err->message, "test client"));
    g_assert_nonnull(strstr(err->message, ptext));
}

static void test_addresses(void)
{
    g_autoptr(VhChannelSocket) a = NULL;
    g_autoptr(VhChannelSocket) b = NULL;
    g_autoptr(GError) err = NULL;

    g_assert_true(tcp_pair("127.0.0.1", &a, &b, &err));
    g_autoptr(GSocketAddress) al = vh_channel_socket_get_local_address(a, &err);
    g_autoptr(GSocketAddress) br =
        vh_channel_socket_get_remote_address(b, &err);
    g_autoptr(GSocketAddress) ar =
        vh_channel_socket_get_remote_address(a, &err);
    g_autoptr(GSocketAddress) bl = vh_channel_socket_get_local_address(b, &err);
    g_assert_no_error(err);
    g_autofree char *s1 = vh_socket_address_to_string(al);
    g_autofree char *s2 = vh_socket_address_to_string(br);
    g_autofree char *s3 = vh_socket_address_to_string(ar);
    g_autofree char *s4 = vh_socket_address_to_string(bl);
    g_assert_cmpstr(s1, ==, s2);
    g_assert_cmpstr(s3, ==, s4);
    g_assert_true(g_str_has_prefix(s1, "127.0.0.1:"));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    vh_channel_conformance_add("/io/channel/socket/conformance/unix",
                               factory_unix, NULL,
                               VH_CONFORMANCE_BIDIRECTIONAL);
    vh_channel_conformance_add("/io/channel/socket/conformance/tcp-ipv4",
                               factory_tcp, "127.0.0.1",
                               VH_CONFORMANCE_BIDIRECTIONAL);
    vh_channel_conformance_add("/io/channel/socket/conformance/tcp-ipv6",
                               factory_tcp, "::1",
                               VH_CONFORMANCE_BIDIRECTIONAL);

    g_test_add_func("/io/channel/socket/features", test_features);
    g_test_add_func("/io/channel/socket/fd-pass", test_fd_pass);
    g_test_add_func("/io/channel/socket/fd-pass-limits", test_fd_pass_limits);
    g_test_add_func("/io/channel/socket/fd-pass-truncated",
                    test_fd_pass_truncated);
    g_test_add_func("/io/channel/socket/fd-pass-unsupported",
                    test_fd_pass_unsupported);
    g_test_add_func("/io/channel/socket/unix-path", test_unix_path);
    g_test_add_func("/io/channel/socket/unix-stale", test_unix_stale);
    g_test_add_func("/io/channel/socket/unix-abstract", test_unix_abstract);
    g_test_add_func("/io/channel/socket/connect-refused", test_connect_refused);
    g_test_add_func("/io/channel/socket/connect-twice", test_connect_twice);
    g_test_add_func("/io/channel/socket/unconnected", test_unconnected);
    g_test_add_func("/io/channel/socket/connect-async", test_connect_async);
    g_test_add_func("/io/channel/socket/connect-async-cancel",
                    test_connect_async_cancel);
    g_test_add_func("/io/channel/socket/connect-async-precancelled",
                    test_connect_async_precancelled);
    g_test_add_func("/io/channel/socket/accept-would-block",
                    test_accept_would_block);
    g_test_add_func("/io/channel/socket/nodelay-cork", test_nodelay_cork);
    g_test_add_func("/io/channel/socket/liveness", test_liveness);
    g_test_add_func("/io/channel/socket/liveness-refused",
                    test_liveness_refused);
    g_test_add_func("/io/channel/socket/new-fd", test_new_fd);
    g_test_add_func("/io/channel/socket/listen-in-use", test_listen_in_use);
    g_test_add_func("/io/channel/socket/peer-gone", test_peer_gone);
    g_test_add_func("/io/channel/socket/addresses", test_addresses);
    return g_test_run();
}
