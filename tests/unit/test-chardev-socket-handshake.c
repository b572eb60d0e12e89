/*
 * A TLS chardev server runs its handshake with TCP_NODELAY, whatever the
 * nodelay option says, and afterwards leaves the socket as the option says.
 *
 * Why: the server's first TLS 1.3 flight is several small records written
 * one after the other. With Nagle on (the socket chardev's default, nodelay
 * off, as in QEMU) the later ones can wait in the kernel for the client's
 * ACK of the first, which a client with nothing to send delays (40 ms on
 * Linux). vmhost's TLS chardev server made ~30 connections a second that
 * way, each handshake 40-47 ms; with nodelay during the handshake it makes
 * ~400 (bench/chardev, docs/performance.md).
 *
 * The stall depends on timing, so the test checks the cause instead: a
 * client thread does full handshakes (x509 both ways); after sending its
 * ClientHello and seeing the ServerHello arrive - the server is then in
 * the middle of its handshake, waiting for the client - it finds the
 * server's end of the connection in this process and reads TCP_NODELAY.
 * On the last connection it sends data, gets it echoed, and reads the
 * option again: the handshake is over by then. While that connection is
 * open the chardev names its TLS peer (vh_chardev_socket_get_tls_peer,
 * `info chardev`); before and after, it does not.
 */
#include "chardev-testutil.h"
#include "tls-testutil.h"
#include "vmhost/chardev/char-socket.h"
#include "vmhost/chardev/chardev-opts.h"
#include "vmhost/monitor/monitor.h"
#include "vmhost/object/object.h"

#include <arpa/inet.h>
#include <errno.h>
#include <gnutls/gnutls.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define CONNECTIONS 4

typedef struct {
    guint16 port;
    char *dir;               /* the client's certificate directory */
    int during[CONNECTIONS]; /* the server's TCP_NODELAY mid-handshake */
    int after;               /* ... once the handshake is done */
    char reply[16];
    gint done;
} Client;

typedef struct {
    int fd;
    bool checked;
    int *nodelay; /* where to record the server's TCP_NODELAY */
} Transport;

static guint16 local_port(int fd)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);

    g_assert_cmpint(getsockname(fd, (struct sockaddr *)&sa, &len), ==, 0);
    return ntohs(sa.sin_port);
}

/*
 * TCP_NODELAY of the server's end of the connection whose client end is
 * @client_fd: the socket in this process whose peer is that port.
 */
static int server_nodelay(int client_fd)
{
    guint16 want = local_port(client_fd);
    g_autoptr(GDir) dir = g_dir_open("/proc/self/fd", 0, NULL);
    const char *name;

    g_assert_nonnull(dir);
    while ((name = g_dir_read_name(dir))) {
        int fd = atoi(name);
        struct sockaddr_in sa;
        socklen_t len = sizeof(sa);
        int v = -1;
        socklen_t vlen = sizeof(v);

        if (fd == client_fd ||
            getpeername(fd, (struct sockaddr *)&sa, &len) < 0 ||
            sa.sin_family != AF_INET || ntohs(sa.sin_port) != want) {
            continue;
        }
        g_assert_cmpint(getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, &vlen), ==,
                        0);
        return v != 0;
    }
    g_error("no server socket for client port %u", want);
    return -1;
}

static ssize_t pull(gnutls_transport_ptr_t ptr, void *buf, size_t len)
{
    Transport *t = ptr;

    if (!t->checked && t->nodelay) {
        /* The ClientHello is out; once the ServerHello is here, the
         * server is mid-handshake until we answer. */
        struct pollfd pfd = {.fd = t->fd, .events = POLLIN};

        g_assert_cmpint(poll(&pfd, 1, 10000), ==, 1);
        *t->nodelay = server_nodelay(t->fd);
        t->checked = true;
    }
    return recv(t->fd, buf, len, 0);
}

static ssize_t push(gnutls_transport_ptr_t ptr, const void *buf, size_t len)
{
    return send(((Transport *)ptr)->fd, buf, len, MSG_NOSIGNAL);
}

static gnutls_session_t client_session(Transport *t,
                                       gnutls_certificate_credentials_t cred)
{
    gnutls_session_t s;

    g_assert_cmpint(gnutls_init(&s, GNUTLS_CLIENT), ==, 0);
    g_assert_cmpint(
        gnutls_priority_set_direct(s, TLS_TEST_PRIORITY_TLS13, NULL), ==, 0);
    gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, cred);
    gnutls_session_set_verify_cert(s, "localhost", 0);
    gnutls_transport_set_ptr(s, t);
    gnutls_transport_set_pull_function(s, pull);
    gnutls_transport_set_push_function(s, push);
    return s;
}

static void echo_once(Client *c, gnutls_session_t s, Transport *t)
{
    int rc;

    g_assert_cmpint(gnutls_record_send(s, "ping", 4), ==, 4);
    do {
        rc = gnutls_record_recv(s, c->reply, sizeof(c->reply) - 1);
    } while (rc == GNUTLS_E_AGAIN || rc == GNUTLS_E_INTERRUPTED);
    g_assert_cmpint(rc, ==, 4);
    /* The echo came from the frontend: the chardev is open. */
    c->after = server_nodelay(t->fd);
}

static gpointer client_thread(gpointer opaque)
{
    Client *c = opaque;
    gnutls_certificate_credentials_t cred;
    g_autofree char *ca = g_build_filename(c->dir, "ca-cert.pem", NULL);
    g_autofree char *cert = g_build_filename(c->dir, "client-cert.pem", NULL);
    g_autofree char *key = g_build_filename(c->dir, "client-key.pem", NULL);

    gnutls_certificate_allocate_credentials(&cred);
    g_assert_cmpint(
        gnutls_certificate_set_x509_trust_file(cred, ca, GNUTLS_X509_FMT_PEM),
        >, 0);
    g_assert_cmpint(gnutls_certificate_set_x509_key_file(cred, cert, key,
                                                         GNUTLS_X509_FMT_PEM),
                    ==, 0);
    for (int i = 0; i < CONNECTIONS; i++) {
        Transport t = {.fd = vh_test_tcp_connect(c->port),
                       .nodelay = &c->during[i]};
        gnutls_session_t s = client_session(&t, cred);
        int rc;

        do {
            rc = gnutls_handshake(s);
        } while (rc < 0 && !gnutls_error_is_fatal(rc));
        g_assert_cmpint(rc, ==, 0);
        if (i == CONNECTIONS - 1) {
            echo_once(c, s, &t);
        }
        gnutls_bye(s, GNUTLS_SHUT_WR);
        gnutls_deinit(s);
        close(t.fd);
    }
    gnutls_certificate_free_credentials(cred);
    g_atomic_int_set(&c->done, 1);
    g_main_context_wakeup(NULL);
    return NULL;
}

static VhChardev *echo_chr;
static char *seen_protocol, *seen_cipher, *seen_dn, *seen_info;

static size_t echo_can_read(void *opaque)
{
    return 4096;
}

static void echo_read(void *opaque, const guint8 *buf, size_t len)
{
    const char *proto = NULL, *cipher = NULL, *dn = NULL;
    VhMonitorHost host = {0};

    g_assert_true(vh_chardev_socket_get_tls_peer(VH_CHARDEV_SOCKET(echo_chr),
                                                 &proto, &cipher, &dn));
    g_assert_nonnull(cipher);
    g_free(seen_protocol);
    g_free(seen_cipher);
    g_free(seen_dn);
    g_free(seen_info);
    seen_protocol = g_strdup(proto);
    seen_cipher = g_strdup(cipher);
    seen_dn = g_strdup(dn);
    seen_info = vh_hmp_run_line(&host, "info chardev");
    vh_monitor_host_clear(&host);
    g_assert_cmpint(vh_chardev_write(echo_chr, buf, len, NULL), ==, len);
}

static gboolean tick(gpointer opaque)
{
    return G_SOURCE_CONTINUE;
}

static void test_handshake_nodelay(gconstpointer data)
{
    bool nodelay = GPOINTER_TO_INT(data);
    TlsTestPki *pki = tls_test_pki_new("vmhost handshake CA");
    const char *dns[] = {"localhost", NULL};
    g_autofree char *srv = tls_test_pki_dir(pki, "server");
    g_autofree char *cli = tls_test_pki_dir(pki, "client");
    VhChardevSocketOptions o = VH_CHARDEV_SOCKET_OPTIONS_INIT;
    g_autoptr(GError) err = NULL;
    Client c = {0};
    GThread *th;
    guint t;

    tls_test_pki_issue_server(pki, srv, "C=UK,O=vmhost test,CN=localhost", dns,
                              NULL, 0, 0);
    tls_test_pki_issue_client(pki, cli, "C=UK,O=vmhost test,CN=client", 0, 0);
    g_autoptr(VhTlsCreds) creds = tls_test_creds_x509(
        srv, VH_TLS_CREDS_ENDPOINT_SERVER, true, TLS_TEST_PRIORITY_TLS13, true);
    g_assert_true(vh_object_add("tls-hs", G_OBJECT(creds), &err));
    g_assert_no_error(err);
    o.host = "127.0.0.1";
    o.port = "0";
    o.server = true;
    o.tls_creds = "tls-hs";
    o.nodelay = nodelay;
    echo_chr = vh_chardev_socket_new("s-hs", &o, NULL, &err);
    g_assert_no_error(err);
    vh_chardev_set_handlers(echo_chr, echo_can_read, echo_read, NULL, NULL,
                            NULL);
    g_assert_true(vh_chardev_register(echo_chr, &err));
    g_assert_no_error(err);
    {
        const char *p = NULL, *ci = NULL, *dn = NULL;

        /* No peer yet: nothing to name. */
        g_assert_false(vh_chardev_socket_get_tls_peer(
            VH_CHARDEV_SOCKET(echo_chr), &p, &ci, &dn));
        g_assert_null(p);
    }

    c.port = vh_chardev_socket_get_port(VH_CHARDEV_SOCKET(echo_chr));
    c.dir = cli;
    th = g_thread_new("tls-client", client_thread, &c);
    t = g_timeout_add(20, tick, NULL);
    while (!g_atomic_int_get(&c.done)) {
        g_main_context_iteration(NULL, TRUE);
    }
    g_source_remove(t);
    g_thread_join(th);

    for (int i = 0; i < CONNECTIONS; i++) {
        g_assert_cmpint(c.during[i], ==, 1);
    }
    g_assert_cmpstr(c.reply, ==, "ping");
    g_assert_cmpint(c.after, ==, nodelay ? 1 : 0);
    g_assert_cmpstr(seen_protocol, ==, "TLS1.3");
    g_assert_cmpstr(seen_dn, ==, "C=UK,O=vmhost test,CN=client");
    g_assert_nonnull(strstr(seen_info, "s-hs: filename=tcp:127.0.0.1:"));
    {
        g_autofree char *line = g_strdup_printf(
            "  tls: TLS1.3 %s, peer C=UK,O=vmhost test,CN=client\n",
            seen_cipher);

        g_assert_nonnull(strstr(seen_info, line));
    }
    g_clear_pointer(&seen_protocol, g_free);
    g_clear_pointer(&seen_cipher, g_free);
    g_clear_pointer(&seen_dn, g_free);
    g_clear_pointer(&seen_info, g_free);
    {
        const char *p = NULL, *ci = NULL, *dn = NULL;
        g_autofree char *info = NULL;
        VhMonitorHost host = {0};

        /* The client has gone: once the chardev knows, no TLS peer. */
        while (vh_chardev_is_connected(echo_chr)) {
            g_main_context_iteration(NULL, TRUE);
        }
        g_assert_false(vh_chardev_socket_get_tls_peer(
            VH_CHARDEV_SOCKET(echo_chr), &p, &ci, &dn));
        info = vh_hmp_run_line(&host, "info chardev");
        g_assert_null(strstr(info, "tls:"));
    }

    vh_chardev_set_handlers(echo_chr, NULL, NULL, NULL, NULL, NULL);
    g_assert_true(vh_chardev_remove("s-hs", &err));
    g_assert_no_error(err);
    g_clear_object(&echo_chr);
    g_assert_true(vh_object_del("tls-hs", &err));
    g_assert_no_error(err);
    tls_test_pki_free(pki);
    while (g_main_context_iteration(NULL, FALSE)) {
    }
}

/* ---- clients that stall in their handshake ---- */

#define STALLERS 50
#define STALL_MS 3000

/*
 * A client that sends the first bytes of a ClientHello (a handshake
 * record announcing 200 bytes) and then nothing.
 */
static int staller_connect(guint16 port)
{
    static const guint8 half_hello[] = {0x16, 0x03, 0x01, 0x00, 0xc8,
                                        0x01, 0x00, 0x00, 0xc4, 0x03};
    int fd = vh_test_tcp_connect(port);

    g_assert_cmpint(send(fd, half_hello, sizeof(half_hello), MSG_NOSIGNAL), ==,
                    sizeof(half_hello));
    return fd;
}

/* The server has closed @fd's connection (EOF or reset), without waiting. */
static bool closed_by_server(int fd)
{
    char c;
    ssize_t n = recv(fd, &c, 1, MSG_DONTWAIT);

    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

static guint count_closed(const int *fds, guint n)
{
    guint closed = 0;

    for (guint i = 0; i < n; i++) {
        closed += closed_by_server(fds[i]);
    }
    return closed;
}

static int opened;

static void count_opened(void *opaque, VhChardevEvent ev)
{
    if (ev == VH_CHARDEV_EVENT_OPENED) {
        opened++;
    }
}

static VhChardev *anon_server(const char *id, guint timeout_ms)
{
    VhChardevSocketOptions o = VH_CHARDEV_SOCKET_OPTIONS_INIT;
    g_autoptr(GError) err = NULL;

    o.host = "127.0.0.1";
    o.port = "0";
    o.server = true;
    o.tls_creds = "anon-hs-s";
    o.handshake_timeout_ms = timeout_ms;
    VhChardev *chr = vh_chardev_socket_new(id, &o, NULL, &err);
    g_assert_no_error(err);
    return chr;
}

static void add_anon_creds(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(VhTlsCreds) s =
        tls_test_creds_anon(VH_TLS_CREDS_ENDPOINT_SERVER, NULL);
    g_autoptr(VhTlsCreds) c =
        tls_test_creds_anon(VH_TLS_CREDS_ENDPOINT_CLIENT, NULL);

    g_assert_true(vh_object_add("anon-hs-s", G_OBJECT(s), &err));
    g_assert_true(vh_object_add("anon-hs-c", G_OBJECT(c), &err));
    g_assert_no_error(err);
}

static void del_anon_creds(void)
{
    g_autoptr(GError) err = NULL;

    g_assert_true(vh_object_del("anon-hs-s", &err));
    g_assert_true(vh_object_del("anon-hs-c", &err));
    g_assert_no_error(err);
}

/* Iterates the default context until @ms have passed. */
static void run_for(guint ms)
{
    gint64 until = g_get_monotonic_time() + ms * 1000;
    guint t = g_timeout_add(10, tick, NULL);

    while (g_get_monotonic_time() < until) {
        g_main_context_iteration(NULL, TRUE);
    }
    g_source_remove(t);
}

/*
 * 50 clients sit in their handshake; a real client connecting after them
 * must get the chardev at once, not after their timeouts one by one (it
 * took 50 x STALL_MS).
 */
static void test_stallers(void)
{
    g_autoptr(GError) err = NULL;
    VhChardevSocketOptions co = VH_CHARDEV_SOCKET_OPTIONS_INIT;
    int fds[STALLERS];

    add_anon_creds();
    g_autoptr(VhChardev) srv = anon_server("hs-stall", STALL_MS);
    guint16 port = vh_chardev_socket_get_port(VH_CHARDEV_SOCKET(srv));
    g_autofree char *port_text = g_strdup_printf("%u", port);

    for (int i = 0; i < STALLERS; i++) {
        fds[i] = staller_connect(port);
    }
    run_for(200); /* the server takes them in */

    co.host = "127.0.0.1";
    co.port = port_text;
    co.tls_creds = "anon-hs-c";
    opened = 0;
    gint64 t0 = g_get_monotonic_time();
    g_autoptr(VhChardev) cli =
        vh_chardev_socket_new("hs-real", &co, NULL, &err);
    g_assert_no_error(err);
    vh_chardev_set_handlers(cli, NULL, NULL, count_opened, NULL, NULL);
    guint t = g_timeout_add(10, tick, NULL);
    while (!(vh_chardev_is_connected(srv) && opened == 1) &&
           g_get_monotonic_time() - t0 < STALL_MS * 1000) {
        g_main_context_iteration(NULL, TRUE);
    }
    g_source_remove(t);
    gint64 took_ms = (g_get_monotonic_time() - t0) / 1000;
    g_test_message(
        "a real client behind %d stallers: connected in %" G_GINT64_FORMAT
        " ms (handshake timeout %d ms)",
        STALLERS, took_ms, STALL_MS);
    g_assert_true(vh_chardev_is_connected(srv));
    g_assert_cmpint(opened, ==, 1);
    g_assert_cmpint(took_ms, <, STALL_MS);

    /* The stallers still wait for their own timeout. */
    g_assert_cmpuint(count_closed(fds, STALLERS), ==, 0);
    for (int i = 0; i < STALLERS; i++) {
        close(fds[i]);
    }
    g_clear_object(&cli);
    g_clear_object(&srv);
    del_anon_creds();
    while (g_main_context_iteration(NULL, FALSE)) {
    }
}

/*
 * At most VH_CHARDEV_SOCKET_MAX_PENDING_HANDSHAKES handshakes at once: the
 * clients beyond are closed at once, with the reason kept as the last
 * error; the others stay until their own timeout.
 */
static void test_pending_cap(void)
{
    const guint extra = 6;
    const guint n = VH_CHARDEV_SOCKET_MAX_PENDING_HANDSHAKES + extra;
    g_autofree int *fds = g_new(int, n);

    add_anon_creds();
    g_autoptr(VhChardev) srv = anon_server("hs-cap", 60000);
    guint16 port = vh_chardev_socket_get_port(VH_CHARDEV_SOCKET(srv));

    for (guint i = 0; i < extra; i++) {
        g_test_expect_message("vmhost-chardev", G_LOG_LEVEL_WARNING,
                              "chardev hs-cap: refused the connection from "
                              "127.0.0.1:*: 64 TLS handshakes are already in "
                              "progress, the limit");
    }
    for (guint i = 0; i < n; i++) {
        fds[i] = staller_connect(port);
    }
    gint64 deadline = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
    guint t = g_timeout_add(10, tick, NULL);
    while (count_closed(fds, n) < extra && g_get_monotonic_time() < deadline) {
        g_main_context_iteration(NULL, TRUE);
    }
    g_source_remove(t);
    run_for(200); /* nothing more is closed */
    g_assert_cmpuint(count_closed(fds, n), ==, extra);
    g_test_assert_expected_messages();
    const char *last = vh_chardev_get_last_error(srv, NULL);
    g_assert_nonnull(last);
    g_assert_nonnull(strstr(last, "TLS handshakes are already in progress"));
    for (guint i = 0; i < n; i++) {
        close(fds[i]);
    }
    g_clear_object(&srv);
    del_anon_creds();
    while (g_main_context_iteration(NULL, FALSE)) {
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_data_func("/chardev/socket/tls-handshake/nodelay-off",
                         GINT_TO_POINTER(0), test_handshake_nodelay);
    g_test_add_data_func("/chardev/socket/tls-handshake/nodelay-on",
                         GINT_TO_POINTER(1), test_handshake_nodelay);
    g_test_add_func("/chardev/socket/tls-handshake/stallers", test_stallers);
    g_test_add_func("/chardev/socket/tls-handshake/pending-cap",
                    test_pending_cap);
    return g_test_run();
}
