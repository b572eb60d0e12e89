/*
 * -chardev socket,fd=N (an inherited listening or connected socket, and
 * every way fd= can be wrong) and the connection notices socket chardevs
 * send (vh_chardev_add_notice_func): connected, disconnected with the
 * reason, refused for a stalled TLS handshake, TLS details on connect.
 *
 * Everything runs on the default main context, iterated while waiting.
 */
#include "chardev-testutil.h"
#include "crypto-testutil.h"
#include "tls-testutil.h"
#include "vmhost/chardev/char-socket.h"
#include "vmhost/crypto/tls-creds-anon.h"
#include "vmhost/object/object.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- waiting ---- */

/* ---- notices, recorded ---- */

typedef struct {
    VhChardevNoticeKind kind;
    char *id, *peer, *reason, *protocol, *cipher, *dn;
    bool server;
} Seen;

static GArray *seen; /* Seen */

static void seen_clear(gpointer p)
{
    Seen *s = p;

    g_free(s->id);
    g_free(s->peer);
    g_free(s->reason);
    g_free(s->protocol);
    g_free(s->cipher);
    g_free(s->dn);
}

static void on_notice(const VhChardevNotice *n, void *opaque)
{
    Seen s = {
        .kind = n->kind,
        .id = g_strdup(vh_chardev_get_id(n->chr)),
        .peer = g_strdup(n->peer),
        .reason = g_strdup(n->reason),
        .protocol = g_strdup(n->tls_protocol),
        .cipher = g_strdup(n->tls_cipher),
        .dn = g_strdup(n->tls_peer_dn),
        .server = n->server,
    };

    g_assert_true(opaque == &seen);
    g_array_append_val(seen, s);
}

/* The @i-th notice about chardev @id, or NULL. */
static Seen *nth_for(const char *id, guint i)
{
    for (guint k = 0; k < seen->len; k++) {
        Seen *s = &g_array_index(seen, Seen, k);

        if (g_str_equal(s->id, id) && i-- == 0) {
            return s;
        }
    }
    return NULL;
}

static guint count_for(const char *id)
{
    guint n = 0;

    while (nth_for(id, n)) {
        n++;
    }
    return n;
}

/* ---- sockets the test makes ---- */

/* A listening TCP socket on 127.0.0.1 at a free port (*@port). */
/* A frontend that reads (and drops) input, so EOF is noticed. */
static void drop_read(void *opaque, const guint8 *buf, size_t len)
{
}

static void attach_reader(VhChardev *chr)
{
    vh_chardev_set_handlers(chr, NULL, drop_read, NULL, chr, NULL);
}

static void detach(VhChardev *chr)
{
    vh_chardev_set_handlers(chr, NULL, NULL, NULL, NULL, NULL);
}

static bool fd_is_open(int fd)
{
    return fcntl(fd, F_GETFD) >= 0 || errno != EBADF;
}

/* ---- fd= ---- */

/* A listening fd makes a server on it; one client at a time. */
static void test_listening_fd(void)
{
    guint16 port;
    int lfd = vh_test_tcp_listen(&port);
    g_autofree char *spec = g_strdup_printf("socket,id=lfd0,fd=%d", lfd);
    g_autoptr(VhChardev) chr = vh_test_chardev_new_ok(spec);
    g_autofree char *desc = vh_chardev_describe(chr);
    g_autofree char *want =
        g_strdup_printf("disconnected:fd:%d,server=on", lfd);
    int c1, c2;
    Seen *s;

    g_assert_cmpstr(desc, ==, want);
    g_assert_cmpuint(vh_chardev_socket_get_port(VH_CHARDEV_SOCKET(chr)), ==,
                     port);
    attach_reader(chr);
    g_assert_false(vh_chardev_is_connected(chr));

    c1 = vh_test_tcp_connect(port);
    VH_TEST_WAIT_UNTIL(vh_chardev_is_connected(chr));
    VH_TEST_WAIT_UNTIL(count_for("lfd0") == 1);
    s = nth_for("lfd0", 0);
    g_assert_cmpint(s->kind, ==, VH_CHARDEV_NOTICE_CONNECTED);
    g_assert_true(s->server);
    g_assert_true(g_str_has_prefix(s->peer, "127.0.0.1:"));
    g_assert_null(s->reason);
    g_assert_null(s->protocol);

    /* a second client waits in the backlog while the first is in */
    c2 = vh_test_tcp_connect(port);
    vh_test_spin(100);
    g_assert_cmpuint(count_for("lfd0"), ==, 1);

    close(c1);
    VH_TEST_WAIT_UNTIL(count_for("lfd0") == 3);
    s = nth_for("lfd0", 1);
    g_assert_cmpint(s->kind, ==, VH_CHARDEV_NOTICE_DISCONNECTED);
    g_assert_cmpstr(s->reason, ==, "closed by the peer");
    g_assert_cmpint(nth_for("lfd0", 2)->kind, ==, VH_CHARDEV_NOTICE_CONNECTED);
    g_assert_true(vh_chardev_is_connected(chr));

    detach(chr);
    vh_chardev_close(chr);
    s = nth_for("lfd0", 3);
    g_assert_nonnull(s);
    g_assert_cmpint(s->kind, ==, VH_CHARDEV_NOTICE_DISCONNECTED);
    g_assert_cmpstr(s->reason, ==, "chardev closed");
    /* the chardev owned the listening fd and closed it */
    g_assert_false(fd_is_open(lfd));
    close(c2);
}

/* A connected fd is the one connection: client side, no reconnect. */
static void test_connected_fd(void)
{
    int sv[2];
    g_autofree char *spec = NULL;
    g_autoptr(VhChardev) chr = NULL;
    Seen *s;

    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
    spec = g_strdup_printf("socket,id=cfd0,fd=%d", sv[0]);
    chr = vh_test_chardev_new_ok(spec);
    attach_reader(chr);
    g_assert_true(vh_chardev_is_connected(chr));
    s = nth_for("cfd0", 0);
    g_assert_nonnull(s);
    g_assert_cmpint(s->kind, ==, VH_CHARDEV_NOTICE_CONNECTED);
    g_assert_false(s->server);
    g_assert_true(
        vh_chardev_socket_check_fd_pass(VH_CHARDEV_SOCKET(chr), NULL));

    close(sv[1]);
    VH_TEST_WAIT_UNTIL(!vh_chardev_is_connected(chr));
    s = nth_for("cfd0", 1);
    g_assert_cmpint(s->kind, ==, VH_CHARDEV_NOTICE_DISCONNECTED);
    g_assert_cmpstr(s->reason, ==, "closed by the peer");
    detach(chr);
    vh_chardev_close(chr);
    /* no third notice: it was already disconnected */
    g_assert_cmpuint(count_for("cfd0"), ==, 2);
}

/* "socket,id=@id,fd=@fd@extra" fails with @message. */
static void expect_fd_error(const char *id, int fd, const char *extra,
                            const char *message)
{
    g_autofree char *spec =
        g_strdup_printf("socket,id=%s,fd=%d%s", id, fd, extra);

    vh_test_chardev_expect_error(spec, message);
}

static void test_fd_errors(void)
{
    int p[2], udp, sv[2], big;
    g_autoptr(GError) err = NULL;
    g_autoptr(VhTlsCreds) anon =
        tls_test_creds_anon(VH_TLS_CREDS_ENDPOINT_SERVER, NULL);

    vh_test_chardev_expect_error("socket,id=e0,fd=myfd",
                                 "chardev e0: fd 'myfd' is a name");
    vh_test_chardev_expect_error("socket,id=e1,fd=-1",
                                 "parameter 'fd' expects a number from 0");

    /* not a socket: refused, and closed (the chardev owns fd=) */
    g_assert_cmpint(pipe(p), ==, 0);
    expect_fd_error("e2", p[0], "", "is not a usable socket");
    g_assert_false(fd_is_open(p[0]));
    close(p[1]);

    udp = socket(AF_INET, SOCK_DGRAM, 0);
    expect_fd_error("e3", udp, "", "is not a stream socket");
    g_assert_false(fd_is_open(udp));

    /* an fd number nothing has open */
    big = fcntl(0, F_DUPFD, 900);
    g_assert_cmpint(big, >=, 900);
    close(big);
    expect_fd_error("e4", big, "", "is not a usable socket");

    /* options that make no sense with an fd; the fd is closed all the same */
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
    expect_fd_error("e5", sv[0], ",reconnect-ms=100",
                    "'reconnect-ms' needs an address to reconnect to");
    g_assert_false(fd_is_open(sv[0]));
    close(sv[1]);
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
    expect_fd_error("e6", sv[0], ",path=/tmp/x",
                    "needs exactly one of host and port, path or fd");
    g_assert_false(fd_is_open(sv[0]));
    close(sv[1]);
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
    expect_fd_error("e7", sv[0], ",frob=1", "invalid parameter 'frob'");
    g_assert_false(fd_is_open(sv[0]));
    close(sv[1]);

    /* TLS needs TCP: a UNIX fd with tls-creds */
    g_assert_true(vh_object_add("anon-srv", G_OBJECT(anon), &err));
    g_assert_no_error(err);
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
    expect_fd_error("e8", sv[0], ",tls-creds=anon-srv,server=on,wait=off",
                    "is not a TCP socket; TLS can only be used");
    g_assert_false(fd_is_open(sv[0]));
    g_assert_true(vh_object_del("anon-srv", &err));
    close(sv[1]);
}

/* ---- notices over TLS ---- */

static void add_object(const char *id, gpointer obj)
{
    g_autoptr(GError) err = NULL;

    g_assert_true(vh_object_add(id, G_OBJECT(obj), &err));
    g_assert_no_error(err);
    g_object_unref(obj);
}

typedef struct {
    int opened;
} Fe;

static void fe_event(void *opaque, VhChardevEvent ev)
{
    if (ev == VH_CHARDEV_EVENT_OPENED) {
        ((Fe *)opaque)->opened++;
    }
}

/*
 * A TLS server whose first peer stalls: refused after the handshake
 * timeout, the listener keeps serving, a real TLS client gets in and both
 * ends report the protocol and cipher.
 */
static void test_tls_notices(void)
{
    g_autoptr(GError) err = NULL;
    VhChardevSocketOptions so = VH_CHARDEV_SOCKET_OPTIONS_INIT;
    VhChardevSocketOptions co = VH_CHARDEV_SOCKET_OPTIONS_INIT;
    g_autoptr(VhChardev) srv = NULL;
    g_autoptr(VhChardev) cli = NULL;
    g_autofree char *port = NULL;
    Fe fe = {0};
    int stall;
    Seen *s;

    add_object("anon-s",
               tls_test_creds_anon(VH_TLS_CREDS_ENDPOINT_SERVER, NULL));
    add_object("anon-c",
               tls_test_creds_anon(VH_TLS_CREDS_ENDPOINT_CLIENT, NULL));
    so.host = "127.0.0.1";
    so.port = "0";
    so.server = true;
    so.tls_creds = "anon-s";
    so.handshake_timeout_ms = 150;
    srv = vh_chardev_socket_new("tls-s", &so, NULL, &err);
    g_assert_no_error(err);
    port = g_strdup_printf("%u",
                           vh_chardev_socket_get_port(VH_CHARDEV_SOCKET(srv)));
    attach_reader(srv);

    stall = vh_test_tcp_connect(atoi(port));
    VH_TEST_WAIT_UNTIL(count_for("tls-s") == 1);
    s = nth_for("tls-s", 0);
    g_assert_cmpint(s->kind, ==, VH_CHARDEV_NOTICE_REFUSED);
    g_assert_cmpstr(s->reason, ==, "TLS handshake timed out after 150 ms");
    g_assert_true(g_str_has_prefix(s->peer, "127.0.0.1:"));
    g_assert_false(vh_chardev_is_connected(srv));

    co.host = "127.0.0.1";
    co.port = port;
    co.tls_creds = "anon-c";
    cli = vh_chardev_socket_new("tls-c", &co, NULL, &err);
    g_assert_no_error(err);
    vh_chardev_set_handlers(cli, NULL, NULL, fe_event, &fe, NULL);
    VH_TEST_WAIT_UNTIL(vh_chardev_is_connected(srv) && fe.opened == 1);
    VH_TEST_WAIT_UNTIL(count_for("tls-s") == 2 && count_for("tls-c") == 1);
    s = nth_for("tls-s", 1);
    g_assert_cmpint(s->kind, ==, VH_CHARDEV_NOTICE_CONNECTED);
    g_assert_true(s->server);
    g_assert_true(g_str_has_prefix(s->protocol, "TLS1."));
    g_assert_nonnull(s->cipher);
    g_assert_null(s->dn); /* anonymous: no certificate */
    s = nth_for("tls-c", 0);
    g_assert_cmpint(s->kind, ==, VH_CHARDEV_NOTICE_CONNECTED);
    g_assert_false(s->server);
    g_assert_true(g_str_has_prefix(s->peer, "127.0.0.1:"));
    g_assert_cmpstr(s->peer + strlen("127.0.0.1:"), ==, port);
    g_assert_true(g_str_has_prefix(s->protocol, "TLS1."));

    /* the client leaves: the server reports it */
    vh_chardev_set_handlers(cli, NULL, NULL, NULL, NULL, NULL);
    vh_chardev_close(cli);
    VH_TEST_WAIT_UNTIL(count_for("tls-s") == 3);
    s = nth_for("tls-s", 2);
    g_assert_cmpint(s->kind, ==, VH_CHARDEV_NOTICE_DISCONNECTED);
    g_assert_nonnull(s->reason);
    g_assert_cmpint(nth_for("tls-c", 1)->kind, ==,
                    VH_CHARDEV_NOTICE_DISCONNECTED);
    g_assert_cmpstr(nth_for("tls-c", 1)->reason, ==, "chardev closed");

    close(stall);
    detach(srv);
    vh_chardev_close(srv);
    g_assert_true(vh_object_del("anon-s", &err));
    g_assert_true(vh_object_del("anon-c", &err));
}

/* tls-handshake-timeout-ms from an option string bounds a stalled peer. */
static void test_handshake_timeout_key(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(VhChardev) chr = NULL;
    int stall;
    Seen *s;

    vh_test_chardev_expect_error(
        "socket,id=h0,host=127.0.0.1,port=0,server=on,wait=off,"
        "tls-handshake-timeout-ms=0",
        "parameter 'tls-handshake-timeout-ms' expects a number from 1");
    vh_test_chardev_expect_error(
        "socket,id=h1,host=127.0.0.1,port=0,server=on,wait=off,"
        "tls-handshake-timeout-ms=soon",
        "parameter 'tls-handshake-timeout-ms'");
    add_object("anon-h",
               tls_test_creds_anon(VH_TLS_CREDS_ENDPOINT_SERVER, NULL));
    chr = vh_test_chardev_new_ok("socket,id=h2,host=127.0.0.1,port=0,"
                                 "server=on,wait=off,tls-creds=anon-h,"
                                 "tls-handshake-timeout-ms=120");
    stall =
        vh_test_tcp_connect(vh_chardev_socket_get_port(VH_CHARDEV_SOCKET(chr)));
    VH_TEST_WAIT_UNTIL(count_for("h2") == 1);
    s = nth_for("h2", 0);
    g_assert_cmpint(s->kind, ==, VH_CHARDEV_NOTICE_REFUSED);
    g_assert_cmpstr(s->reason, ==, "TLS handshake timed out after 120 ms");
    close(stall);
    vh_chardev_close(chr);
    g_assert_true(vh_object_del("anon-h", &err));
}

/* Removing an observer stops its calls; handles are distinct. */
static int other_calls;

static void other_notice(const VhChardevNotice *n, void *opaque)
{
    other_calls++;
}

static void test_remove_observer(void)
{
    guint h = vh_chardev_add_notice_func(other_notice, NULL);
    guint h2 = vh_chardev_add_notice_func(other_notice, NULL);
    int sv[2];
    g_autofree char *spec = NULL;
    g_autoptr(VhChardev) chr = NULL;

    g_assert_cmpuint(h, !=, 0);
    g_assert_cmpuint(h, !=, h2);
    vh_chardev_remove_notice_func(h2);
    vh_chardev_remove_notice_func(h2 + 1000); /* unknown: ignored */
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
    spec = g_strdup_printf("socket,id=obs0,fd=%d", sv[0]);
    chr = vh_test_chardev_new_ok(spec);
    g_assert_cmpint(other_calls, ==, 1);
    vh_chardev_remove_notice_func(h);
    vh_chardev_close(chr);
    g_assert_cmpint(other_calls, ==, 1);
    g_assert_cmpuint(count_for("obs0"), ==, 2); /* the main observer saw both */
    close(sv[1]);
}

int main(int argc, char **argv)
{
    guint h;
    int rc;

    g_test_init(&argc, &argv, NULL);
    /* refused handshakes are g_warning()s by design: not fatal here */
    g_log_set_always_fatal(G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
    seen = g_array_new(false, true, sizeof(Seen));
    g_array_set_clear_func(seen, seen_clear);
    h = vh_chardev_add_notice_func(on_notice, &seen);
    g_test_add_func("/chardev/socket-fd/listening", test_listening_fd);
    g_test_add_func("/chardev/socket-fd/connected", test_connected_fd);
    g_test_add_func("/chardev/socket-fd/errors", test_fd_errors);
    g_test_add_func("/chardev/socket-fd/tls-notices", test_tls_notices);
    g_test_add_func("/chardev/socket-fd/remove-observer", test_remove_observer);
    g_test_add_func("/chardev/socket-fd/handshake-timeout-key",
                    test_handshake_timeout_key);
    rc = g_test_run();
    vh_chardev_remove_notice_func(h);
    g_array_unref(seen);
    return rc;
}
