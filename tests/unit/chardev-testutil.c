#include "chardev-testutil.h"

#include "vmhost/chardev/char-socket.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

VhChardev *vh_test_chardev_new(const char *str, GError **errp)
{
    g_autoptr(VhOpts) o = vh_opts_parse("-chardev", str, "backend", errp);

    return o ? vh_chardev_new_from_opts(o, NULL, errp) : NULL;
}

VhChardev *vh_test_chardev_new_ok(const char *str)
{
    g_autoptr(GError) err = NULL;
    VhChardev *chr = vh_test_chardev_new(str, &err);

    g_assert_no_error(err);
    g_assert_nonnull(chr);
    return chr;
}

void vh_test_chardev_expect_error(const char *str, const char *message)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(VhChardev) chr = vh_test_chardev_new(str, &err);

    g_assert_null(chr);
    g_assert_nonnull(err);
    if (!strstr(err->message, message)) {
        g_error("'%s': got '%s', expected '%s'", str, err->message, message);
    }
}

static gboolean tick(gpointer opaque)
{
    return G_SOURCE_CONTINUE;
}

guint vh_test_ticker_add(void)
{
    return g_timeout_add(10, tick, NULL);
}

void vh_test_spin(guint ms)
{
    gint64 end = g_get_monotonic_time() + ms * G_TIME_SPAN_MILLISECOND;

    while (g_get_monotonic_time() < end) {
        g_main_context_iteration(NULL, FALSE);
        g_usleep(1000);
    }
}

int vh_test_tcp_listen(guint16 *port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    g_assert_cmpint(fd, >=, 0);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    g_assert_cmpint(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), ==, 0);
    g_assert_cmpint(listen(fd, 8), ==, 0);
    g_assert_cmpint(getsockname(fd, (struct sockaddr *)&sa, &len), ==, 0);
    *port = ntohs(sa.sin_port);
    return fd;
}

int vh_test_tcp_connect(guint16 port)
{
    struct sockaddr_in sa = {
        .sin_family = AF_INET,
        .sin_port = htons(port),
        .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
    };
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), ==, 0);
    return fd;
}

VhChardev *vh_test_chardev_socketpair(const char *id, VhChannelSocket **peer)
{
    g_autoptr(VhChannelSocket) a = NULL;
    g_autoptr(GError) err = NULL;
    VhChardevSocketOptions o = VH_CHARDEV_SOCKET_OPTIONS_INIT;
    VhChardev *chr;

    g_assert_true(vh_channel_socket_pair(&a, peer, &err));
    g_assert_no_error(err);
    o.fd = dup(vh_channel_socket_get_fd(a));
    g_assert_cmpint(o.fd, >=, 0);
    chr = vh_chardev_socket_new(id, &o, NULL, &err);
    g_assert_no_error(err);
    g_assert_true(vh_channel_set_blocking(VH_CHANNEL(*peer), false, &err));
    g_assert_no_error(err);
    return chr;
}

void vh_test_peer_write(VhChannelSocket *peer, const void *buf, size_t len)
{
    g_autoptr(GError) err = NULL;

    g_assert_true(vh_channel_write_all(VH_CHANNEL(peer), buf, len, &err));
    g_assert_no_error(err);
}
