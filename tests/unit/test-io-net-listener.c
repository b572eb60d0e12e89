/* Tests for VhNetListener (lib/io/net-listener.c). */
#include "vmhost/io/address.h"
#include "vmhost/io/net-listener.h"

#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define WAIT_US (10 * G_USEC_PER_SEC)

typedef struct {
    unsigned calls;
    GPtrArray *clients; /* VhChannelSocket * */
    GThread *thread;    /* where the last callback ran */
} Clients;

static void clients_init(Clients *c)
{
    memset(c, 0, sizeof(*c));
    c->clients = g_ptr_array_new_with_free_func(g_object_unref);
}

static void clients_clear(Clients *c)
{
    g_ptr_array_unref(c->clients);
}

static void on_client(VhNetListener *l, VhChannelSocket *client,
                      gpointer opaque)
{
    Clients *c = opaque;

    g_assert_true(VH_IS_NET_LISTENER(l));
    g_assert_true(vh_channel_get_blocking(VH_CHANNEL(client)));
    c->calls++;
    c->thread = g_thread_self();
    g_ptr_array_add(c->clients, g_object_ref(client));
}

/* Iterate @ctx until @c has seen @calls clients. */
static void wait_clients(GMainContext *ctx, Clients *c, unsigned calls)
{
    gint64 deadline = g_get_monotonic_time() + WAIT_US;

    while (c->calls < calls) {
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        g_main_context_iteration(ctx, TRUE);
    }
}

/* Iterate @ctx for @ms milliseconds. */
static void spin(GMainContext *ctx, unsigned ms)
{
    gint64 end = g_get_monotonic_time() + ms * G_TIME_SPAN_MILLISECOND;

    while (g_get_monotonic_time() < end) {
        g_main_context_iteration(ctx, FALSE);
        g_usleep(1000);
    }
}

static VhChannelSocket *connect_to(const char *str)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GSocketAddress) addr = vh_socket_address_parse(str, &err);
    VhChannelSocket *s = vh_channel_socket_new();

    g_assert_no_error(err);
    g_assert_true(vh_channel_socket_connect_sync(s, addr, &err));
    g_assert_no_error(err);
    return s;
}

static int socket_family(VhChannelSocket *s)
{
    g_autoptr(GSocketAddress) addr =
        vh_channel_socket_get_local_address(s, NULL);

    return g_socket_address_get_family(addr);
}

static void test_localhost(void)
{
    g_autoptr(VhNetListener) l = vh_net_listener_new();
    g_autoptr(GMainContext) ctx = g_main_context_new();
    g_autoptr(GError) err = NULL;
    bool v6 = vh_socket_ipv6_loopback_available();
    Clients c;

    clients_init(&c);
    g_assert_true(vh_net_listener_open(l, "localhost", 0, &err));
    g_assert_no_error(err);
    guint16 port = vh_net_listener_get_port(l);
    g_assert_cmpuint(port, >, 0);

    GPtrArray *socks = vh_net_listener_get_sockets(l);
    g_assert_cmpuint(socks->len, ==, v6 ? 2 : 1);
    g_assert_cmpint(socket_family(socks->pdata[0]), ==, G_SOCKET_FAMILY_IPV4);
    if (!v6) {
        g_test_message("no IPv6 loopback: only 127.0.0.1 was bound");
    }
    for (guint i = 0; i < socks->len; i++) {
        VhChannelSocket *s = socks->pdata[i];
        g_assert_true(
            vh_channel_has_feature(VH_CHANNEL(s), VH_CHANNEL_FEATURE_LISTEN));
        g_autoptr(GSocketAddress) a =
            vh_channel_socket_get_local_address(s, &err);
        g_assert_cmpuint(
            g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(a)), ==, port);
        if (i == 1) {
            g_assert_cmpint(socket_family(s), ==, G_SOCKET_FAMILY_IPV6);
        }
    }

    vh_net_listener_set_client_func(l, on_client, &c, NULL, ctx);
    g_autofree char *s4 = g_strdup_printf("127.0.0.1:%u", port);
    g_autoptr(VhChannelSocket) c4 G_GNUC_UNUSED = connect_to(s4);
    wait_clients(ctx, &c, 1);
    g_autoptr(VhChannelSocket) c6 = NULL;
    if (v6) {
        g_autofree char *s6 = g_strdup_printf("[::1]:%u", port);
        c6 = connect_to(s6);
        wait_clients(ctx, &c, 2);
    }
    spin(ctx, 20);
    g_assert_cmpuint(c.calls, ==, v6 ? 2 : 1);
    clients_clear(&c);
}

static void test_port_in_use(void)
{
    g_autoptr(VhNetListener) l1 = vh_net_listener_new();
    g_autoptr(VhNetListener) l2 = vh_net_listener_new();
    g_autoptr(GError) err = NULL;

    g_assert_true(vh_net_listener_open(l1, "127.0.0.1", 0, &err));
    guint16 port = vh_net_listener_get_port(l1);
    g_autofree char *want = g_strdup_printf(
        "Failed to listen on 127.0.0.1:%u: Address already in use", port);

    g_assert_false(vh_net_listener_open(l2, "127.0.0.1", port, &err));
    g_assert_error(err, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE);
    g_assert_cmpstr(err->message, ==, want);
    g_assert_cmpuint(vh_net_listener_get_sockets(l2)->len, ==, 0);
    g_assert_cmpuint(vh_net_listener_get_port(l2), ==, 0);
}

/* All or nothing: when ::1 is taken, 127.0.0.1 is not left bound. */
static void test_rollback(void)
{
    g_autoptr(VhNetListener) l1 = vh_net_listener_new();
    g_autoptr(VhNetListener) l2 = vh_net_listener_new();
    g_autoptr(GError) err = NULL;

    if (!vh_socket_ipv6_loopback_available()) {
        g_test_skip("no IPv6 loopback on this host");
        return;
    }
    g_assert_true(vh_net_listener_open(l1, "::1", 0, &err));
    guint16 port = vh_net_listener_get_port(l1);
    g_assert_false(vh_net_listener_open(l2, "localhost", port, &err));
    g_assert_error(err, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE);
    g_assert_nonnull(strstr(err->message, "[::1]:"));
    g_clear_error(&err);
    g_assert_cmpuint(vh_net_listener_get_sockets(l2)->len, ==, 0);

    /* 127.0.0.1 at that port is free again. */
    g_assert_true(vh_net_listener_open(l2, "127.0.0.1", port, &err));
    g_assert_no_error(err);
}

static void test_stop_resume(void)
{
    g_autoptr(VhNetListener) l = vh_net_listener_new();
    g_autoptr(GMainContext) ctx = g_main_context_new();
    g_autoptr(GError) err = NULL;
    char buf[4];
    Clients c;

    clients_init(&c);
    g_assert_true(vh_net_listener_open(l, "127.0.0.1", 0, &err));
    g_autofree char *str =
        g_strdup_printf("127.0.0.1:%u", vh_net_listener_get_port(l));
    vh_net_listener_set_client_func(l, on_client, &c, NULL, ctx);

    vh_net_listener_stop_accepting(l);
    vh_net_listener_stop_accepting(l);
    /* The kernel completes the connection; nobody accepts it yet. */
    g_autoptr(VhChannelSocket) client = connect_to(str);
    g_assert_true(vh_channel_write_all(VH_CHANNEL(client), "hey", 3, &err));
    spin(ctx, 100);
    g_assert_cmpuint(c.calls, ==, 0);

    vh_net_listener_resume_accepting(l);
    vh_net_listener_resume_accepting(l);
    wait_clients(ctx, &c, 1);
    spin(ctx, 20);
    g_assert_cmpuint(c.calls, ==, 1);
    g_assert_true(
        vh_channel_read_all(VH_CHANNEL(c.clients->pdata[0]), buf, 3, &err));
    g_assert_no_error(err);
    g_assert_true(memcmp(buf, "hey", 3) == 0);
    clients_clear(&c);
}

typedef struct {
    GMainContext *ctx;
    GMainLoop *loop;
} LoopThread;

static gpointer loop_thread(gpointer opaque)
{
    LoopThread *lt = opaque;

    g_main_context_push_thread_default(lt->ctx);
    g_main_loop_run(lt->loop);
    g_main_context_pop_thread_default(lt->ctx);
    return NULL;
}

static gboolean quit_loop(gpointer opaque)
{
    g_main_loop_quit(opaque);
    return G_SOURCE_REMOVE;
}

/* The callback runs in the thread that iterates the chosen context. */
static void test_context(void)
{
    g_autoptr(VhNetListener) l = vh_net_listener_new();
    g_autoptr(GMainContext) ctx = g_main_context_new();
    g_autoptr(GMainLoop) loop = g_main_loop_new(ctx, FALSE);
    g_autoptr(GError) err = NULL;
    LoopThread lt = {ctx, loop};
    Clients c;

    clients_init(&c);
    g_assert_true(vh_net_listener_open(l, "127.0.0.1", 0, &err));
    vh_net_listener_set_client_func(l, on_client, &c, NULL, ctx);
    GThread *thread = g_thread_new("listener", loop_thread, &lt);

    g_autofree char *str =
        g_strdup_printf("127.0.0.1:%u", vh_net_listener_get_port(l));
    g_autoptr(VhChannelSocket) client G_GNUC_UNUSED = connect_to(str);
    gint64 deadline = g_get_monotonic_time() + WAIT_US;
    while (g_atomic_int_get(&c.calls) == 0) {
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        /* The default context has nothing of ours to dispatch. */
        g_main_context_iteration(NULL, FALSE);
        g_usleep(1000);
    }
    g_main_context_invoke(ctx, quit_loop, loop);
    g_thread_join(thread);
    g_assert_cmpuint(c.calls, ==, 1);
    g_assert_true(c.thread == thread);
    clients_clear(&c);
}

static void test_unix(void)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *dir = g_dir_make_tmp("vh-io-lsn-XXXXXX", &err);
    g_autofree char *path = g_build_filename(dir, "sock", NULL);
    g_autofree char *str = g_strdup_printf("unix:%s", path);
    g_autoptr(GSocketAddress) addr = g_unix_socket_address_new(path);
    g_autoptr(GMainContext) ctx = g_main_context_new();
    VhNetListener *l = vh_net_listener_new();
    Clients c;

    clients_init(&c);
    g_assert_true(vh_net_listener_open_address(l, addr, &err));
    g_assert_no_error(err);
    g_assert_cmpuint(vh_net_listener_get_port(l), ==, 0);
    vh_net_listener_set_client_func(l, on_client, &c, NULL, ctx);
    g_autoptr(VhChannelSocket) client G_GNUC_UNUSED = connect_to(str);
    wait_clients(ctx, &c, 1);
    g_assert_true(vh_channel_has_feature(VH_CHANNEL(c.clients->pdata[0]),
                                         VH_CHANNEL_FEATURE_FD_PASS));

    /* Disconnecting closes the socket and removes its file. */
    vh_net_listener_disconnect(l);
    g_assert_cmpuint(vh_net_listener_get_sockets(l)->len, ==, 0);
    g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
    g_autoptr(VhChannelSocket) late = vh_channel_socket_new();
    g_assert_false(vh_channel_socket_connect_sync(late, addr, &err));
    g_assert_nonnull(err);
    g_assert_nonnull(strstr(err->message, path));
    g_clear_error(&err);

    g_object_unref(l);
    g_assert_cmpint(g_rmdir(dir), ==, 0);
    clients_clear(&c);
}

/*
 * When accept() runs out of fds the listener warns once and pauses instead
 * of spinning, then picks the waiting client up.
 */
static void test_accept_backoff(void)
{
    g_autoptr(VhNetListener) l = vh_net_listener_new();
    g_autoptr(GMainContext) ctx = g_main_context_new();
    g_autoptr(GError) err = NULL;
    struct rlimit old, low;
    Clients c;

    clients_init(&c);
    g_assert_true(vh_net_listener_open(l, "127.0.0.1", 0, &err));
    g_autofree char *str =
        g_strdup_printf("127.0.0.1:%u", vh_net_listener_get_port(l));
    g_autoptr(VhChannelSocket) client G_GNUC_UNUSED = connect_to(str);

    /* No free descriptor below the limit: accept() gets EMFILE. */
    int next = dup(0);
    g_assert_cmpint(next, >=, 0);
    close(next);
    g_assert_cmpint(getrlimit(RLIMIT_NOFILE, &old), ==, 0);
    low = old;
    low.rlim_cur = next;
    g_assert_cmpint(setrlimit(RLIMIT_NOFILE, &low), ==, 0);

    g_test_expect_message("vmhost-io", G_LOG_LEVEL_WARNING,
                          "*Too many open files*pausing*");
    vh_net_listener_set_client_func(l, on_client, &c, NULL, ctx);
    spin(ctx, 50);
    g_assert_cmpint(setrlimit(RLIMIT_NOFILE, &old), ==, 0);
    g_test_assert_expected_messages();
    g_assert_cmpuint(c.calls, ==, 0);

    wait_clients(ctx, &c, 1);
    g_assert_cmpuint(c.calls, ==, 1);
    clients_clear(&c);
}

static void count_notify(gpointer opaque)
{
    (*(unsigned *)opaque)++;
}

static void test_client_func_notify(void)
{
    VhNetListener *l = vh_net_listener_new();
    unsigned first = 0, second = 0;

    vh_net_listener_set_client_func(l, on_client, &first, count_notify, NULL);
    vh_net_listener_set_client_func(l, on_client, &second, count_notify, NULL);
    g_assert_cmpuint(first, ==, 1);
    g_assert_cmpuint(second, ==, 0);
    g_object_unref(l);
    g_assert_cmpuint(second, ==, 1);
}

static void test_open_errors(void)
{
    g_autoptr(VhNetListener) l = vh_net_listener_new();
    g_autoptr(GError) err = NULL;
    g_autoptr(GSocketAddress) addr =
        g_unix_socket_address_new("/nonexistent-dir/vmhost/sock");

    g_assert_false(vh_net_listener_open(l, "no-such-host.invalid", 0, &err));
    g_assert_error(err, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
    g_assert_nonnull(strstr(err->message, "no-such-host.invalid"));
    g_clear_error(&err);

    g_assert_false(vh_net_listener_open_address(l, addr, &err));
    g_assert_nonnull(err);
    g_assert_nonnull(strstr(err->message, "/nonexistent-dir/vmhost/sock"));
    g_assert_cmpuint(vh_net_listener_get_sockets(l)->len, ==, 0);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/io/net-listener/localhost", test_localhost);
    g_test_add_func("/io/net-listener/port-in-use", test_port_in_use);
    g_test_add_func("/io/net-listener/rollback", test_rollback);
    g_test_add_func("/io/net-listener/stop-resume", test_stop_resume);
    g_test_add_func("/io/net-listener/context", test_context);
    g_test_add_func("/io/net-listener/unix", test_unix);
    g_test_add_func("/io/net-listener/accept-backoff", test_accept_backoff);
    g_test_add_func("/io/net-listener/client-func-notify",
                    test_client_func_notify);
    g_test_add_func("/io/net-listener/open-errors", test_open_errors);
    return g_test_run();
}
