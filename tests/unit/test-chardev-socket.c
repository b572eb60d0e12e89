/*
 * -chardev socket: TCP and UNIX, server and client, wait, one client at a
 * time, TLS (hostname check, authz, verify-peer=off), reconnect, stalled
 * handshakes, connect floods, telnet, and every creation error.
 *
 * Every chardev runs on the default main context of this thread; the test
 * iterates it while it waits, so the servers and clients progress.
 */
#include "chardev-testutil.h"
#include "crypto-testutil.h"
#include "tls-testutil.h"
#include "vmhost/authz/authz-list.h"
#include "vmhost/authz/authz-simple.h"
#include "vmhost/chardev/char-socket.h"
#include "vmhost/io/address.h"
#include "vmhost/io/channel-socket.h"
#include "vmhost/object/object.h"

#include <gio/gunixsocketaddress.h>
#include <string.h>
#include <unistd.h>

#define DN_SERVER   "C=UK,O=vmhost test,CN=localhost"
#define DN_CLIENT_A "C=UK,O=vmhost test,CN=client-a"
#define DN_CLIENT_B "C=UK,O=vmhost test,CN=client-b"

static TlsTestPki *pki;
static char *tmpdir;

/* ---- waiting ---- */

/* ---- a frontend that records (and optionally echoes) ---- */

typedef struct {
    VhChardev *chr;
    GString *in;
    int opened, closed;
    bool echo;
    bool paused;     /* can_read says 0 */
    size_t can_read; /* 0: 4096 */
    size_t max_chunk;
} Fe;

static size_t fe_can_read(void *opaque)
{
    Fe *fe = opaque;

    if (fe->paused) {
        return 0;
    }
    return fe->can_read ? fe->can_read : 4096;
}

static void fe_read(void *opaque, const guint8 *buf, size_t len)
{
    Fe *fe = opaque;

    g_assert_false(fe->paused);
    fe->max_chunk = MAX(fe->max_chunk, len);
    g_string_append_len(fe->in, (const char *)buf, len);
    if (fe->echo) {
        g_assert_cmpint(vh_chardev_write(fe->chr, buf, len, NULL), ==, len);
    }
}

static void fe_event(void *opaque, VhChardevEvent ev)
{
    Fe *fe = opaque;

    if (ev == VH_CHARDEV_EVENT_OPENED) {
        fe->opened++;
    } else {
        fe->closed++;
    }
}

static void fe_attach(Fe *fe, VhChardev *chr)
{
    fe->chr = chr;
    fe->in = g_string_new(NULL);
    vh_chardev_set_handlers(chr, fe_can_read, fe_read, fe_event, fe, NULL);
}

static void fe_clear(Fe *fe)
{
    g_clear_object(&fe->chr);
    if (fe->in) {
        g_string_free(fe->in, TRUE);
    }
    memset(fe, 0, sizeof(*fe));
}

static VhChardev *new_chardev(const char *id, VhChardevSocketOptions *o)
{
    g_autoptr(GError) err = NULL;
    VhChardev *chr = vh_chardev_socket_new(id, o, NULL, &err);

    g_assert_no_error(err);
    g_assert_nonnull(chr);
    return chr;
}

static VhChardev *new_server(const char *id, const char *creds,
                             const char *authz, Fe *fe)
{
    VhChardevSocketOptions o = VH_CHARDEV_SOCKET_OPTIONS_INIT;
    VhChardev *chr;

    o.host = "127.0.0.1";
    o.port = "0";
    o.server = true;
    o.tls_creds = creds;
    o.tls_authz = authz;
    o.nodelay = true;
    chr = new_chardev(id, &o);
    if (fe) {
        fe_attach(fe, chr);
    }
    return chr;
}

static VhChardev *new_client(const char *id, guint16 port, const char *creds,
                             Fe *fe)
{
    VhChardevSocketOptions o = VH_CHARDEV_SOCKET_OPTIONS_INIT;
    g_autofree char *p = g_strdup_printf("%u", port);
    VhChardev *chr;

    o.host = "127.0.0.1";
    o.port = p;
    o.tls_creds = creds;
    chr = new_chardev(id, &o);
    if (fe) {
        fe_attach(fe, chr);
    }
    return chr;
}

static guint16 port_of(VhChardev *chr)
{
    return vh_chardev_socket_get_port(VH_CHARDEV_SOCKET(chr));
}

static void send_str(VhChardev *chr, const char *s)
{
    g_autoptr(GError) err = NULL;

    g_assert_cmpint(vh_chardev_write(chr, s, strlen(s), &err), ==, strlen(s));
    g_assert_no_error(err);
}

static bool has_text(Fe *fe, const char *text)
{
    return strstr(fe->in->str, text) != NULL;
}

static const char *last_error(VhChardev *chr)
{
    const char *e = vh_chardev_get_last_error(chr, NULL);

    return e ? e : "";
}

/* ---- raw peers ---- */

static VhChannelSocket *raw_connect(GSocketAddress *addr)
{
    g_autoptr(GError) err = NULL;
    VhChannelSocket *s = vh_channel_socket_new();

    g_assert_true(vh_channel_socket_connect_sync(s, addr, &err));
    g_assert_true(vh_channel_set_blocking(VH_CHANNEL(s), false, &err));
    return s;
}

static VhChannelSocket *raw_connect_port(guint16 port)
{
    g_autoptr(GInetAddress) lo =
        g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
    g_autoptr(GSocketAddress) a = g_inet_socket_address_new(lo, port);

    return raw_connect(a);
}

static void raw_write(VhChannelSocket *s, const void *buf, size_t len)
{
    g_autoptr(GError) err = NULL;

    g_assert_cmpint(vh_channel_write(VH_CHANNEL(s), buf, len, &err), ==, len);
}

/* Read exactly @len bytes, running the loop meanwhile. */
static void raw_read(VhChannelSocket *s, guint8 *buf, size_t len)
{
    size_t got = 0;
    gint64 deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;

    while (got < len) {
        g_autoptr(GError) err = NULL;
        gssize n = vh_channel_read(VH_CHANNEL(s), buf + got, len - got, &err);
        g_assert_no_error(err);
        if (n == VH_CHANNEL_ERR_BLOCK) {
            g_assert_cmpint(g_get_monotonic_time(), <, deadline);
            vh_test_spin(1);
            continue;
        }
        g_assert_cmpint(n, >, 0);
        got += n;
    }
}

/* ---- plain TCP and UNIX ---- */

static void talk(Fe *server, Fe *client)
{
    VH_TEST_WAIT_UNTIL(server->opened == 1 && client->opened == 1);
    send_str(client->chr, "hello server\n");
    VH_TEST_WAIT_UNTIL(has_text(server, "hello server\n"));
    send_str(server->chr, "hello client\n");
    VH_TEST_WAIT_UNTIL(has_text(client, "hello client\n"));
}

static void test_tcp(void)
{
    Fe sfe = {0}, cfe = {0};
    g_autofree char *desc = NULL;

    new_server("s-tcp", NULL, NULL, &sfe);
    new_client("c-tcp", port_of(sfe.chr), NULL, &cfe);
    talk(&sfe, &cfe);
    desc = vh_chardev_describe(sfe.chr);
    g_assert_true(g_str_has_prefix(desc, "tcp:127.0.0.1:"));
    g_assert_nonnull(strstr(desc, ",server=on <-> 127.0.0.1:"));
    vh_chardev_close(cfe.chr);
    VH_TEST_WAIT_UNTIL(sfe.closed == 1);
    g_assert_false(vh_chardev_is_connected(sfe.chr));
    fe_clear(&cfe);
    fe_clear(&sfe);
}

static void test_unix(void)
{
    g_autofree char *path = g_build_filename(tmpdir, "chr.sock", NULL);
    VhChardevSocketOptions o = VH_CHARDEV_SOCKET_OPTIONS_INIT;
    Fe sfe = {0}, cfe = {0};
    g_autofree char *desc = NULL, *expect = NULL;

    o.path = path;
    o.server = true;
    fe_attach(&sfe, new_chardev("s-unix", &o));
    desc = vh_chardev_describe(sfe.chr);
    expect = g_strdup_printf("disconnected:unix:%s,server=on", path);
    g_assert_cmpstr(desc, ==, expect);
    o.server = false;
    fe_attach(&cfe, new_chardev("c-unix", &o));
    talk(&sfe, &cfe);
    fe_clear(&cfe);
    VH_TEST_WAIT_UNTIL(sfe.closed == 1);
    fe_clear(&sfe);
    g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
}

/* A peer that never reads: output is buffered to the bound, then dropped. */
static void test_slow_peer(void)
{
    g_autoptr(VhChannelSocket) raw = NULL;
    g_autofree char *chunk = g_malloc0(64 * 1024);
    Fe sfe = {0};

    new_server("s-slow", NULL, NULL, &sfe);
    raw = raw_connect_port(port_of(sfe.chr));
    VH_TEST_WAIT_UNTIL(sfe.opened == 1);
    for (int i = 0; i < 128; i++) { /* 8 MiB */
        g_assert_cmpint(vh_chardev_write(sfe.chr, chunk, 64 * 1024, NULL), ==,
                        64 * 1024);
        vh_test_spin(1);
    }
    g_assert_cmpuint(vh_chardev_get_dropped(sfe.chr), >, 0);
    g_assert_cmpuint(vh_chardev_get_dropped(sfe.chr), <, 8 * 1024 * 1024);
    g_assert_nonnull(strstr(last_error(sfe.chr), "is not reading"));
    g_assert_true(vh_chardev_is_connected(sfe.chr));
    fe_clear(&sfe);
}

static void test_ipv6(void)
{
    VhChardevSocketOptions o = VH_CHARDEV_SOCKET_OPTIONS_INIT;
    g_autofree char *desc = NULL, *port = NULL;
    Fe sfe = {0}, cfe = {0};

    if (!vh_socket_ipv6_loopback_available()) {
        g_test_skip("no IPv6 loopback");
        return;
    }
    o.host = "::1";
    o.port = "0";
    o.server = true;
    o.ipv6 = true;
    fe_attach(&sfe, new_chardev("s-v6", &o));
    desc = vh_chardev_describe(sfe.chr);
    g_assert_true(g_str_has_prefix(desc, "disconnected:tcp:[::1]:"));
    port = g_strdup_printf("%u", port_of(sfe.chr));
    o.port = port;
    o.server = false;
    fe_attach(&cfe, new_chardev("c-v6", &o));
    talk(&sfe, &cfe);
    fe_clear(&cfe);
    fe_clear(&sfe);
}

static void test_abstract(void)
{
    g_autofree char *name =
        g_strdup_printf("vmhost-chardev-test-%d", (int)getpid());
    VhChardevSocketOptions o = VH_CHARDEV_SOCKET_OPTIONS_INIT;
    g_autofree char *desc = NULL, *expect = NULL;
    Fe sfe = {0}, cfe = {0};

    o.path = name;
    o.abstract = true;
    o.server = true;
    fe_attach(&sfe, new_chardev("s-abs", &o));
    desc = vh_chardev_describe(sfe.chr);
    expect = g_strdup_printf("disconnected:abstract:%s,server=on", name);
    g_assert_cmpstr(desc, ==, expect);
    o.server = false;
    fe_attach(&cfe, new_chardev("c-abs", &o));
    talk(&sfe, &cfe);
    fe_clear(&cfe);
    fe_clear(&sfe);
}

/* fd=: an already connected socket, here one end of a socketpair. */
static void test_fd(void)
{
    g_autoptr(VhChannelSocket) a = NULL, b = NULL;
    g_autoptr(GError) err = NULL;
    VhChardevSocketOptions o = VH_CHARDEV_SOCKET_OPTIONS_INIT;
    g_autofree char *desc = NULL;
    guint8 buf[5];
    Fe fe = {0};

    g_assert_true(vh_channel_socket_pair(&a, &b, &err));
    o.fd = dup(vh_channel_socket_get_fd(a));
    fe_attach(&fe, new_chardev("c-fd", &o));
    VH_TEST_WAIT_UNTIL(fe.opened == 1);
    desc = vh_chardev_describe(fe.chr);
    g_assert_true(g_str_has_prefix(desc, "fd:"));
    g_assert_true(vh_channel_set_blocking(VH_CHANNEL(b), false, &err));
    raw_write(b, "in\n", 3);
    VH_TEST_WAIT_UNTIL(has_text(&fe, "in\n"));
    send_str(fe.chr, "out\n");
    raw_read(b, buf, 4);
    g_assert_cmpmem(buf, 4, "out\n", 4);
    fe_clear(&fe);
}

static void capture_info(const char *msg, void *opaque)
{
    g_string_append_printf(opaque, "%s\n", msg);
}

static void test_server_wait(void)
{
    g_autoptr(GString) info = g_string_new(NULL);
    g_autoptr(GError) err = NULL;
    VhChardevSocketOptions o = VH_CHARDEV_SOCKET_OPTIONS_INIT;
    g_autofree char *expect = NULL;
    Fe sfe = {0}, cfe = {0};

    o.host = "127.0.0.1";
    o.port = "0";
    o.server = true;
    o.wait = true;
    fe_attach(&sfe, new_chardev("s-wait", &o));
    g_assert_true(vh_chardev_socket_get_wait(VH_CHARDEV_SOCKET(sfe.chr)));
    /* the client's connect completes in the kernel's backlog */
    new_client("c-wait", port_of(sfe.chr), NULL, &cfe);
    vh_chardev_set_info_func(capture_info, info);
    g_assert_true(
        vh_chardev_socket_wait_connected(VH_CHARDEV_SOCKET(sfe.chr), &err));
    vh_chardev_set_info_func(NULL, NULL);
    g_assert_no_error(err);
    expect = g_strdup_printf(
        "waiting for connection on: disconnected:tcp:127.0.0.1:%u,server=on\n",
        port_of(sfe.chr));
    g_assert_cmpstr(info->str, ==, expect);
    g_assert_true(vh_chardev_is_connected(sfe.chr));
    fe_clear(&cfe);
    fe_clear(&sfe);
}

static void test_one_client_at_a_time(void)
{
    Fe sfe = {0};
    g_autoptr(VhChannelSocket) a = NULL, b = NULL;

    sfe.echo = true;
    new_server("s-one", NULL, NULL, &sfe);
    a = raw_connect_port(port_of(sfe.chr));
    VH_TEST_WAIT_UNTIL(sfe.opened == 1);
    b = raw_connect_port(port_of(sfe.chr));
    raw_write(b, "from b", 6);
    raw_write(a, "from a", 6);
    VH_TEST_WAIT_UNTIL(has_text(&sfe, "from a"));
    vh_test_spin(200);
    /* b waits in the backlog: not opened, not read */
    g_assert_cmpint(sfe.opened, ==, 1);
    g_assert_false(has_text(&sfe, "from b"));
    vh_channel_close(VH_CHANNEL(a), NULL);
    VH_TEST_WAIT_UNTIL(sfe.closed == 1 && sfe.opened == 2);
    VH_TEST_WAIT_UNTIL(has_text(&sfe, "from b"));
    {
        guint8 buf[6];
        raw_read(b, buf, 6); /* the echo */
        g_assert_cmpmem(buf, 6, "from b", 6);
    }
    fe_clear(&sfe);
}

/* ---- TLS ---- */

static void test_tls(void)
{
    Fe sfe = {0}, cfe = {0};

    sfe.echo = true;
    new_server("s-tls", "tls-srv", NULL, &sfe);
    new_client("c-tls", port_of(sfe.chr), "tls-cli-a", &cfe);
    VH_TEST_WAIT_UNTIL(sfe.opened == 1 && cfe.opened == 1);
    send_str(cfe.chr, "over tls\n");
    VH_TEST_WAIT_UNTIL(has_text(&cfe, "over tls\n"));
    g_assert_cmpstr(sfe.in->str, ==, "over tls\n");
    fe_clear(&cfe);
    VH_TEST_WAIT_UNTIL(sfe.closed == 1);
    fe_clear(&sfe);
}

static void test_tls_hostname_mismatch(void)
{
    Fe sfe = {0}, cfe = {0};
    g_autofree char *port = NULL;

    new_server("s-tls-bad", "tls-srv-bad", NULL, &sfe);
    port = g_strdup_printf("127.0.0.1:%u", port_of(sfe.chr));
    new_client("c-tls-bad", port_of(sfe.chr), "tls-cli-a", &cfe);
    VH_TEST_WAIT_UNTIL(vh_chardev_get_last_error(cfe.chr, NULL) != NULL);
    g_test_message("client: %s", last_error(cfe.chr));
    g_assert_nonnull(strstr(last_error(cfe.chr), "TLS handshake with"));
    g_assert_nonnull(strstr(last_error(cfe.chr), port));
    g_assert_nonnull(strstr(last_error(cfe.chr), "refused"));
    g_assert_nonnull(strstr(last_error(cfe.chr), "127.0.0.1"));
    g_assert_cmpint(cfe.opened, ==, 0);
    g_assert_false(vh_chardev_is_connected(cfe.chr));
    /*
     * With TLS 1.3 the server may finish its side before the client
     * checks the name; either way it ends up disconnected.
     */
    vh_test_spin(100);
    VH_TEST_WAIT_UNTIL(sfe.closed == sfe.opened &&
                       !vh_chardev_is_connected(sfe.chr));
    g_test_message("server: %s", last_error(sfe.chr));
    fe_clear(&cfe);
    fe_clear(&sfe);
}

static void test_tls_authz(void)
{
    Fe sfe = {0}, afe = {0}, bfe = {0};
    gint64 when = 0;

    sfe.echo = true;
    new_server("s-authz", "tls-srv", "authz-a", &sfe);
    /* client-b is denied */
    new_client("c-authz-b", port_of(sfe.chr), "tls-cli-b", &bfe);
    VH_TEST_WAIT_UNTIL(vh_chardev_get_last_error(sfe.chr, &when) != NULL);
    g_test_message("server: %s", last_error(sfe.chr));
    g_assert_cmpint(when, >, 0);
    g_assert_nonnull(strstr(last_error(sfe.chr), DN_CLIENT_B));
    g_assert_nonnull(strstr(last_error(sfe.chr), "127.0.0.1:"));
    g_assert_cmpint(sfe.opened, ==, 0);
    fe_clear(&bfe);
    /* client-a is allowed, on the same listener */
    new_client("c-authz-a", port_of(sfe.chr), "tls-cli-a", &afe);
    VH_TEST_WAIT_UNTIL(sfe.opened == 1 && afe.opened == 1);
    send_str(afe.chr, "allowed\n");
    VH_TEST_WAIT_UNTIL(has_text(&afe, "allowed\n"));
    fe_clear(&afe);
    fe_clear(&sfe);
}

/* An authz-list from the registry: deny by default, allow client-a. */
static void test_tls_authz_list(void)
{
    Fe sfe = {0}, afe = {0}, bfe = {0};

    new_server("s-authz-list", "tls-srv", "authz-list-a", &sfe);
    new_client("c-al-b", port_of(sfe.chr), "tls-cli-b", &bfe);
    VH_TEST_WAIT_UNTIL(vh_chardev_get_last_error(sfe.chr, NULL) != NULL);
    g_assert_nonnull(strstr(last_error(sfe.chr), DN_CLIENT_B));
    fe_clear(&bfe);
    new_client("c-al-a", port_of(sfe.chr), "tls-cli-a", &afe);
    VH_TEST_WAIT_UNTIL(sfe.opened == 1 && afe.opened == 1);
    fe_clear(&afe);
    fe_clear(&sfe);
}

static void test_tls_verify_peer_off(void)
{
    Fe sfe = {0}, cfe = {0};

    new_server("s-noverify", "tls-srv-noverify", NULL, &sfe);
    new_client("c-noverify", port_of(sfe.chr), "tls-cli-nocert", &cfe);
    talk(&sfe, &cfe);
    fe_clear(&cfe);
    fe_clear(&sfe);
}

/*
 * Anonymous TLS has no client identity: it connects without tls-authz and
 * is denied with one (the rule of every TLS server, migration's too).
 */
static void test_tls_anon_authz(void)
{
    Fe sfe = {0}, cfe = {0}, dfe = {0};

    new_server("s-anon", "tls-anon-srv", NULL, &sfe);
    new_client("c-anon", port_of(sfe.chr), "tls-anon-cli", &cfe);
    talk(&sfe, &cfe);
    fe_clear(&cfe);
    fe_clear(&sfe);

    new_server("s-anon-authz", "tls-anon-srv", "authz-a", &sfe);
    new_client("c-anon-authz", port_of(sfe.chr), "tls-anon-cli", &dfe);
    VH_TEST_WAIT_UNTIL(vh_chardev_get_last_error(sfe.chr, NULL) != NULL);
    g_test_message("server: %s", last_error(sfe.chr));
    g_assert_nonnull(strstr(last_error(sfe.chr), "without an identity"));
    g_assert_nonnull(strstr(last_error(sfe.chr), "authz-a"));
    g_assert_cmpint(sfe.opened, ==, 0);
    /* the client has seen the refusal before its frontend goes */
    VH_TEST_WAIT_UNTIL(vh_chardev_get_last_error(dfe.chr, NULL) != NULL &&
                       !vh_chardev_is_connected(dfe.chr));
    g_test_message("client: %s", last_error(dfe.chr));
    fe_clear(&dfe);
    fe_clear(&sfe);
}

/* ---- reconnect, stalls, floods ---- */

static void test_reconnect(void)
{
    Fe sfe = {0}, cfe = {0};
    VhChardevSocketOptions o = VH_CHARDEV_SOCKET_OPTIONS_INIT;
    g_autofree char *port = NULL;

    new_server("s-re", "tls-srv", NULL, &sfe);
    port = g_strdup_printf("%u", port_of(sfe.chr));
    o.host = "127.0.0.1";
    o.port = port;
    o.reconnect_ms = 50;
    o.tls_creds = "tls-cli-a";
    fe_attach(&cfe, new_chardev("c-re", &o));
    talk(&sfe, &cfe);
    fe_clear(&sfe);
    VH_TEST_WAIT_UNTIL(cfe.closed == 1);
    vh_test_spin(200); /* a few failed attempts */
    g_assert_nonnull(strstr(last_error(cfe.chr), "retrying in 50 ms"));

    o.server = true;
    o.reconnect_ms = 0;
    o.tls_creds = "tls-srv";
    fe_attach(&sfe, new_chardev("s-re2", &o));
    VH_TEST_WAIT_UNTIL(cfe.opened == 2 && sfe.opened == 1);
    send_str(cfe.chr, "again\n");
    VH_TEST_WAIT_UNTIL(has_text(&sfe, "again\n"));
    fe_clear(&cfe);
    fe_clear(&sfe);
}

static void test_stalled_handshake(void)
{
    VhChardevSocketOptions o = VH_CHARDEV_SOCKET_OPTIONS_INIT;
    g_autoptr(VhChannelSocket) stall = NULL;
    Fe sfe = {0}, cfe = {0};
    gint64 start = g_get_monotonic_time();

    o.host = "127.0.0.1";
    o.port = "0";
    o.server = true;
    o.tls_creds = "tls-srv";
    o.handshake_timeout_ms = 300;
    fe_attach(&sfe, new_chardev("s-stall", &o));
    stall = raw_connect_port(port_of(sfe.chr)); /* never speaks TLS */
    vh_test_spin(20);
    new_client("c-stall", port_of(sfe.chr), "tls-cli-a", &cfe);
    VH_TEST_WAIT_UNTIL(cfe.opened == 1 && sfe.opened == 1);
    /* The client got in beside the staller, which times out on its own. */
    VH_TEST_WAIT_UNTIL(last_error(sfe.chr) &&
                       strstr(last_error(sfe.chr), "timed out after 300 ms"));
    g_assert_cmpint(g_get_monotonic_time() - start, <, 5 * G_USEC_PER_SEC);
    fe_clear(&cfe);
    fe_clear(&sfe);
}

static guint count_fds(void)
{
    g_autoptr(GDir) d = g_dir_open("/proc/self/fd", 0, NULL);
    guint n = 0;

    while (g_dir_read_name(d)) {
        n++;
    }
    return n;
}

static void test_flood(void)
{
    Fe sfe = {0}, cfe = {0};
    guint before, after;

    sfe.echo = true;
    new_server("s-flood", NULL, NULL, &sfe);
    new_client("c-flood", port_of(sfe.chr), NULL, &cfe);
    VH_TEST_WAIT_UNTIL(sfe.opened == 1 && cfe.opened == 1);
    before = count_fds();
    for (int i = 0; i < 300; i++) {
        g_autoptr(VhChannelSocket) s G_GNUC_UNUSED =
            raw_connect_port(port_of(sfe.chr));
        if (i % 50 == 0) {
            vh_test_spin(1);
        }
    }
    after = count_fds();
    g_assert_cmpuint(after, <=, before + 2);
    /* the attached client is unaffected */
    send_str(cfe.chr, "still here\n");
    VH_TEST_WAIT_UNTIL(has_text(&cfe, "still here\n"));
    g_assert_cmpint(sfe.opened, ==, 1);
    g_assert_cmpint(cfe.closed, ==, 0);
    /* once it leaves, the queue drains and a new client gets in */
    fe_clear(&cfe);
    VH_TEST_WAIT_UNTIL(sfe.closed == sfe.opened && sfe.opened >= 301);
    g_assert_cmpuint(count_fds(), <=, before + 2);
    new_client("c-flood2", port_of(sfe.chr), NULL, &cfe);
    send_str(cfe.chr, "next\n");
    VH_TEST_WAIT_UNTIL(has_text(&cfe, "next\n"));
    fe_clear(&cfe);
    fe_clear(&sfe);
}

/* ---- telnet ---- */

static void test_telnet(void)
{
    VhChardevSocketOptions o = VH_CHARDEV_SOCKET_OPTIONS_INIT;
    g_autoptr(VhChannelSocket) raw = NULL;
    static const guint8 greeting[] = {255, 251, 1, 255, 251, 3};
    static const guint8 input[] = {'a', 255, 255, 'b', 255, 253,  24, 'c',
                                   255, 251, 3,   255, 241, '\r', 0,  'd',
                                   255, 250, 24,  1,   255, 240,  'e'};
    static const guint8 wont[] = {255, 252, 24};
    static const guint8 escaped[] = {'x', 255, 255, 'y'};
    guint8 buf[16];
    Fe sfe = {0};

    o.host = "127.0.0.1";
    o.port = "0";
    o.server = true;
    o.telnet = true;
    fe_attach(&sfe, new_chardev("s-telnet", &o));
    raw = raw_connect_port(port_of(sfe.chr));
    raw_read(raw, buf, sizeof(greeting));
    g_assert_cmpmem(buf, sizeof(greeting), greeting, sizeof(greeting));
    raw_write(raw, input, sizeof(input));
    VH_TEST_WAIT_UNTIL(has_text(&sfe, "e"));
    g_assert_cmpmem(sfe.in->str, sfe.in->len,
                    "a\xff"
                    "bc\rde",
                    7);
    raw_read(raw, buf, sizeof(wont)); /* we refuse DO TERMINAL-TYPE */
    g_assert_cmpmem(buf, sizeof(wont), wont, sizeof(wont));
    send_str(sfe.chr, "x\xffy");
    raw_read(raw, buf, sizeof(escaped));
    g_assert_cmpmem(buf, sizeof(escaped), escaped, sizeof(escaped));
    fe_clear(&sfe);
}

/* ---- flow control ---- */

static void test_can_read(void)
{
    Fe sfe = {0}, cfe = {0};

    new_server("s-flow", NULL, NULL, &sfe);
    new_client("c-flow", port_of(sfe.chr), NULL, &cfe);
    VH_TEST_WAIT_UNTIL(sfe.opened == 1 && cfe.opened == 1);
    sfe.paused = true;
    send_str(cfe.chr, "abcdef");
    vh_test_spin(100);
    g_assert_cmpuint(sfe.in->len, ==, 0);
    sfe.paused = false;
    sfe.can_read = 2;
    vh_chardev_accept_input(sfe.chr);
    VH_TEST_WAIT_UNTIL(sfe.in->len == 6);
    g_assert_cmpuint(sfe.max_chunk, ==, 2);
    g_assert_cmpstr(sfe.in->str, ==, "abcdef");
    fe_clear(&cfe);
    fe_clear(&sfe);
}

/* ---- creation errors ---- */

static void expect_error(const char *id, VhChardevSocketOptions *o,
                         const char *message)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(VhChardev) chr = vh_chardev_socket_new(id, o, NULL, &err);

    g_assert_null(chr);
    g_assert_nonnull(err);
    g_test_message("%s", err->message);
    if (!strstr(err->message, message)) {
        g_error("expected '%s' in '%s'", message, err->message);
    }
    g_assert_true(g_str_has_prefix(err->message, "chardev "));
    g_assert_nonnull(strstr(err->message, id));
}

static void test_errors(void)
{
    g_autofree char *path = g_build_filename(tmpdir, "e.sock", NULL);
    VhChardevSocketOptions o = VH_CHARDEV_SOCKET_OPTIONS_INIT;
    g_autoptr(VhChardev) busy = NULL;
    g_autofree char *port = NULL;

    o.host = "127.0.0.1";
    o.port = "1";
    o.wait = true;
    expect_error("c-e1", &o,
                 "chardev c-e1: 'wait' option is incompatible with socket in "
                 "client connect mode");
    o.wait = false;
    expect_error("c-e2", &o, "chardev c-e2: ");
    o.server = true;
    o.port = "0";
    o.tls_authz = "authz-a";
    expect_error("s-e3", &o,
                 "chardev s-e3: 'tls-authz' option requires 'tls-creds' "
                 "option");
    o.tls_authz = NULL;
    o.tls_creds = "tls-cli-a";
    expect_error("s-e4", &o,
                 "chardev s-e4: Expected TLS credentials for a server "
                 "endpoint");
    o.server = false;
    o.port = "1";
    o.tls_creds = "tls-srv";
    expect_error("c-e5", &o,
                 "chardev c-e5: Expected TLS credentials for a client "
                 "endpoint");
    o.tls_creds = "nope";
    expect_error("c-e6", &o, "chardev c-e6: no object with id 'nope'");
    o.tls_creds = "authz-a";
    expect_error("c-e7", &o, "not a VhTlsCreds");
    o.host = NULL;
    o.port = NULL;
    o.path = path;
    o.server = true;
    o.tls_creds = "tls-srv";
    expect_error("s-e8", &o,
                 "chardev s-e8: TLS can only be used over a TCP socket");
    o.tls_creds = NULL;
    o.path = NULL;
    expect_error("s-e9", &o, "needs exactly one of host and port, path or fd");
    o.host = "127.0.0.1";
    o.port = "99999";
    expect_error("s-e10", &o, "port '99999' is not a number");
    o.port = "0";
    busy = new_chardev("s-busy", &o);
    port = g_strdup_printf("%u", port_of(busy));
    o.port = port;
    expect_error("s-e11", &o, "Address already in use");
    o.server = false;
    o.reconnect_ms = 100;
    o.server = true;
    expect_error("s-e12", &o, "'reconnect-ms' option is incompatible");
}

static void add_object(const char *id, gpointer obj)
{
    g_autoptr(GError) err = NULL;

    g_assert_true(vh_object_add(id, G_OBJECT(obj), &err));
    g_object_unref(obj);
}

static void setup_pki(void)
{
    const char *dns[] = {"localhost", NULL};
    const char *ips[] = {"127.0.0.1", NULL};
    const char *other[] = {"other.example", NULL};
    g_autofree char *srv = tls_test_pki_dir(pki, "server");
    g_autofree char *bad = tls_test_pki_dir(pki, "server-bad");
    g_autofree char *ca = tls_test_pki_dir(pki, "client-a");
    g_autofree char *cb = tls_test_pki_dir(pki, "client-b");
    g_autofree char *cn = tls_test_pki_dir(pki, "client-nocert");
    VhAuthzList *list = vh_authz_list_new(VH_AUTHZ_LIST_POLICY_DENY);

    tls_test_pki_issue_server(pki, srv, DN_SERVER, dns, ips, 0, 0);
    tls_test_pki_issue_server(pki, bad, DN_SERVER, other, NULL, 0, 0);
    tls_test_pki_issue_client(pki, ca, DN_CLIENT_A, 0, 0);
    tls_test_pki_issue_client(pki, cb, DN_CLIENT_B, 0, 0);
    add_object("tls-srv", tls_test_creds_x509(srv, VH_TLS_CREDS_ENDPOINT_SERVER,
                                              true, NULL, true));
    add_object("tls-srv-bad",
               tls_test_creds_x509(bad, VH_TLS_CREDS_ENDPOINT_SERVER, false,
                                   NULL, true));
    add_object("tls-srv-noverify",
               tls_test_creds_x509(srv, VH_TLS_CREDS_ENDPOINT_SERVER, false,
                                   NULL, true));
    add_object("tls-cli-a",
               tls_test_creds_x509(ca, VH_TLS_CREDS_ENDPOINT_CLIENT, true, NULL,
                                   true));
    add_object("tls-cli-b",
               tls_test_creds_x509(cb, VH_TLS_CREDS_ENDPOINT_CLIENT, true, NULL,
                                   true));
    add_object("tls-cli-nocert",
               tls_test_creds_x509(cn, VH_TLS_CREDS_ENDPOINT_CLIENT, true, NULL,
                                   true));
    add_object("tls-anon-srv",
               tls_test_creds_anon(VH_TLS_CREDS_ENDPOINT_SERVER, NULL));
    add_object("tls-anon-cli",
               tls_test_creds_anon(VH_TLS_CREDS_ENDPOINT_CLIENT, NULL));
    add_object("authz-a", vh_authz_simple_new(DN_CLIENT_A));
    vh_authz_list_append_rule(list, DN_CLIENT_A, VH_AUTHZ_LIST_POLICY_ALLOW,
                              VH_AUTHZ_LIST_FORMAT_EXACT);
    add_object("authz-list-a", list);
}

int main(int argc, char **argv)
{
    int rc;

    g_test_init(&argc, &argv, NULL);
    /* refused handshakes are g_warning()s by design: not fatal here */
    g_log_set_always_fatal(G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
    tmpdir = vh_test_mkdtemp("vh-chardev-socket");
    pki = tls_test_pki_new("vmhost chardev CA");
    setup_pki();
    g_test_add_func("/chardev/socket/tcp", test_tcp);
    g_test_add_func("/chardev/socket/unix", test_unix);
    g_test_add_func("/chardev/socket/server-wait", test_server_wait);
    g_test_add_func("/chardev/socket/slow-peer", test_slow_peer);
    g_test_add_func("/chardev/socket/ipv6", test_ipv6);
    g_test_add_func("/chardev/socket/abstract", test_abstract);
    g_test_add_func("/chardev/socket/fd", test_fd);
    g_test_add_func("/chardev/socket/one-client-at-a-time",
                    test_one_client_at_a_time);
    g_test_add_func("/chardev/socket/can-read", test_can_read);
    g_test_add_func("/chardev/socket/tls/basic", test_tls);
    g_test_add_func("/chardev/socket/tls/hostname-mismatch",
                    test_tls_hostname_mismatch);
    g_test_add_func("/chardev/socket/tls/authz-simple", test_tls_authz);
    g_test_add_func("/chardev/socket/tls/authz-list", test_tls_authz_list);
    g_test_add_func("/chardev/socket/tls/anon-authz", test_tls_anon_authz);
    g_test_add_func("/chardev/socket/tls/verify-peer-off",
                    test_tls_verify_peer_off);
    g_test_add_func("/chardev/socket/tls/reconnect", test_reconnect);
    g_test_add_func("/chardev/socket/tls/stalled-handshake",
                    test_stalled_handshake);
    g_test_add_func("/chardev/socket/flood", test_flood);
    g_test_add_func("/chardev/socket/telnet", test_telnet);
    g_test_add_func("/chardev/socket/errors", test_errors);
    rc = g_test_run();
    tls_test_pki_free(pki);
    vh_test_rm_rf(tmpdir);
    g_free(tmpdir);
    return rc;
}
