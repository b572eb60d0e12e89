/* Tests for migration URIs and transports (lib/migration/transport*.c). */
#include "vmhost/authz/authz-simple.h"
#include "vmhost/io/address.h"
#include "vmhost/io/channel-socket.h"
#include "vmhost/migration/stream.h"
#include "vmhost/migration/transport.h"
#include "vmhost/object/object.h"
#include "vmhost/util/error.h"

#include "crypto-testutil.h"
#include "tls-testutil.h"

#include <fcntl.h>
#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define DN_SERVER "C=UK,O=vmhost test,CN=target"
#define DN_CLIENT "C=UK,O=vmhost test,CN=source"
#define PSK_KEY   "alice:9d5a4aa8d7dd6b14e00e1ee1f1c9b4a0"
#define PSK_BAD   "alice:00112233445566778899aabbccddeeff"

static const char MSG[] = "migration stream bytes\n";

/* The PKI and credentials every TLS case uses. */
static struct {
    TlsTestPki *pki;
    char *tmp;
    VhTlsCreds *srv;          /* x509 server, verify-peer on */
    VhTlsCreds *srv_noverify; /* x509 server, verify-peer off */
    VhTlsCreds *cli;          /* x509 client with a certificate */
    VhTlsCreds *cli_nocert;   /* x509 client without one */
    VhTlsCreds *psk_srv, *psk_cli, *psk_cli_bad;
    VhTlsCreds *anon_srv, *anon_cli;
} F;

/* Registers @authz (transfer full) as @id: tls-authz names objects by id. */
static void add_authz(const char *id, VhAuthzSimple *authz)
{
    g_autoptr(GError) err = NULL;

    g_assert_true(vh_object_add(id, G_OBJECT(authz), &err));
    g_assert_no_error(err);
    g_object_unref(authz);
}

/* The target: a GMainContext the test thread iterates. */
typedef struct {
    GMainContext *ctx;
    GPtrArray *chans;  /* VhChannel * */
    GPtrArray *errors; /* GError * */
} Target;

static void target_init(Target *t)
{
    t->ctx = g_main_context_new();
    t->chans = g_ptr_array_new_with_free_func(g_object_unref);
    t->errors = g_ptr_array_new_with_free_func((GDestroyNotify)g_error_free);
}

static void target_clear(Target *t)
{
    while (g_main_context_iteration(t->ctx, FALSE)) {
    }
    g_ptr_array_unref(t->chans);
    g_ptr_array_unref(t->errors);
    g_main_context_unref(t->ctx);
}

static void on_accept(VhChannel *ch, const GError *err, void *opaque)
{
    Target *t = opaque;

    g_assert_true((ch == NULL) != (err == NULL));
    if (ch) {
        g_assert_true(vh_channel_get_blocking(ch));
        g_ptr_array_add(t->chans, ch);
    } else {
        g_ptr_array_add(t->errors, g_error_copy(err));
    }
}

/* Iterate until @n results (channels + errors) or 10 s. */
static void target_wait(Target *t, guint n, gint *client_done)
{
    gint64 deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;

    while ((t->chans->len + t->errors->len < n ||
            (client_done && !g_atomic_int_get(client_done))) &&
           g_get_monotonic_time() < deadline) {
        g_main_context_iteration(t->ctx, FALSE);
        g_usleep(1000);
    }
    g_assert_cmpuint(t->chans->len + t->errors->len, >=, n);
}

static VhMigListener *listen_ok(Target *t, const char *uri, const VhMigTls *tls,
                                VhMigFdLookup fdl, void *fdl_opaque)
{
    VhMigUri u;
    g_autoptr(GError) err = NULL;

    g_assert_true(vh_mig_uri_parse(uri, &u, &err));
    VhMigListener *l =
        vh_mig_listen(&u, tls, fdl, fdl_opaque, t->ctx, on_accept, t, &err);
    g_assert_no_error(err);
    g_assert_nonnull(l);
    vh_mig_uri_clear(&u);
    return l;
}

/* The source: connects in its own thread, writes MSG, closes. */
typedef struct {
    char *uri;
    VhMigTls tls;
    VhMigFdLookup fdl;
    void *fdl_opaque;
    GCancellable *cancel;
    GError *err;
    gint done;
    bool ok;
} Source;

static gpointer source_thread(gpointer data)
{
    Source *s = data;
    VhMigUri u;

    if (vh_mig_uri_parse(s->uri, &u, &s->err)) {
        VhChannel *ch = vh_mig_connect(&u, &s->tls, s->fdl, s->fdl_opaque,
                                       s->cancel, &s->err);
        if (ch) {
            g_assert_true(vh_channel_get_blocking(ch));
            s->ok = vh_channel_write_all(ch, MSG, strlen(MSG), &s->err) &&
                    vh_channel_close(ch, &s->err);
            g_object_unref(ch);
        }
        vh_mig_uri_clear(&u);
    }
    g_atomic_int_set(&s->done, 1);
    return NULL;
}

static GThread *source_start(Source *s, const char *uri)
{
    s->uri = g_strdup(uri);
    return g_thread_new("source", source_thread, s);
}

static void source_finish(Source *s, GThread *th)
{
    g_thread_join(th);
    g_free(s->uri);
    g_clear_error(&s->err);
}

/* Reads everything from @ch: MSG, then a clean end (close-notify). */
static void assert_msg(VhChannel *ch)
{
    char buf[sizeof(MSG) + 16];
    gsize got = 0;
    g_autoptr(GError) err = NULL;

    for (;;) {
        gssize n = vh_channel_read(ch, buf + got, sizeof(buf) - got, &err);
        g_assert_no_error(err);
        g_assert_cmpint(n, >=, 0);
        if (n == 0) {
            break;
        }
        got += (gsize)n;
    }
    g_assert_cmpuint(got, ==, strlen(MSG));
    g_assert_cmpmem(buf, got, MSG, strlen(MSG));
}

/* One source against one target listening on @luri; @curi NULL = same. */
static void run_pair(const char *luri, const char *curi, const VhMigTls *ltls,
                     const VhMigTls *ctls, bool expect_ok)
{
    Target t;
    Source s = {0};

    target_init(&t);
    g_autoptr(VhMigListener) l = listen_ok(&t, luri, ltls, NULL, NULL);
    g_autofree char *actual = vh_mig_listener_describe(l);
    if (ctls) {
        s.tls = *ctls;
    }
    /* A bare name for @curi: that host at the port the target got. */
    g_autofree char *named =
        curi && !strchr(curi, ':')
            ? g_strdup_printf("tcp:%s:%s", curi, strrchr(actual, ':') + 1)
            : g_strdup(curi ? curi : actual);
    GThread *th = source_start(&s, named);
    target_wait(&t, 1, &s.done);
    if (expect_ok) {
        if (s.err) {
            g_error("source to %s: %s", actual, s.err->message);
        }
        g_assert_true(s.ok);
        g_assert_cmpuint(t.errors->len, ==, 0);
        g_assert_cmpuint(t.chans->len, ==, 1);
        assert_msg(t.chans->pdata[0]);
    } else {
        g_assert_cmpuint(t.chans->len, ==, 0);
        g_assert_cmpuint(t.errors->len, ==, 1);
        GError *e = t.errors->pdata[0];
        g_test_message("target refused: %s", e->message);
        g_assert_nonnull(strstr(e->message, "migration connection from"));
    }
    source_finish(&s, th);
    g_clear_pointer(&l, vh_mig_listener_free);
    target_clear(&t);
}

static void test_tcp_plain(void)
{
    run_pair("tcp:127.0.0.1:0", NULL, NULL, NULL, true);
    if (vh_socket_ipv6_loopback_available()) {
        run_pair("tcp:[::1]:0", NULL, NULL, NULL, true);
    }
}

static void test_tcp_describe(void)
{
    Target t;
    target_init(&t);
    g_autoptr(VhMigListener) l =
        listen_ok(&t, "tcp:127.0.0.1:0", NULL, NULL, NULL);
    g_autofree char *d = vh_mig_listener_describe(l);
    g_assert_true(g_str_has_prefix(d, "tcp:127.0.0.1:"));
    g_assert_cmpstr(d, !=, "tcp:127.0.0.1:0");
    if (vh_socket_ipv6_loopback_available()) {
        g_autoptr(VhMigListener) l6 =
            listen_ok(&t, "tcp:[::1]:0", NULL, NULL, NULL);
        g_autofree char *d6 = vh_mig_listener_describe(l6);
        g_assert_true(g_str_has_prefix(d6, "tcp:[::1]:"));
    }
    g_clear_pointer(&l, vh_mig_listener_free);
    target_clear(&t);
}

/* tcp:localhost:P, a name: the certificate is checked against it. */
static void test_tcp_name(void)
{
    VhMigTls ltls = {.creds = F.srv};
    VhMigTls ctls = {.creds = F.cli};

    /* "localhost:P": the listener's own port, the certificate's name. */
    run_pair("tcp:localhost:0", "localhost", &ltls, &ctls, true);
    run_pair("tcp:localhost:0", "localhost", NULL, NULL, true);
}

static void test_tcp_tls_host_from_uri(void)
{
    VhMigTls ltls = {.creds = F.srv};
    VhMigTls ctls = {.creds = F.cli};

    run_pair("tcp:127.0.0.1:0", NULL, &ltls, &ctls, true);
    if (vh_socket_ipv6_loopback_available()) {
        run_pair("tcp:[::1]:0", NULL, &ltls, &ctls, true);
    }
}

static void test_tcp_tls_hostname_override(void)
{
    VhMigTls ltls = {.creds = F.srv};
    VhMigTls ctls = {.creds = F.cli, .hostname = "mig.example"};

    run_pair("tcp:127.0.0.1:0", NULL, &ltls, &ctls, true);
}

static void test_tcp_tls_hostname_mismatch(void)
{
    VhMigTls ltls = {.creds = F.srv};
    VhMigTls ctls = {.creds = F.cli, .hostname = "other.example"};
    Target t;
    Source s = {0};

    target_init(&t);
    g_autoptr(VhMigListener) l =
        listen_ok(&t, "tcp:127.0.0.1:0", &ltls, NULL, NULL);
    g_autofree char *uri = vh_mig_listener_describe(l);
    s.tls = ctls;
    GThread *th = source_start(&s, uri);
    target_wait(&t, 1, &s.done);
    g_assert_false(s.ok);
    g_assert_error(s.err, VH_ERROR, VH_ERROR_TLS_PEER);
    g_assert_nonnull(strstr(s.err->message, "other.example"));
    /*
     * The client checks the name once its side of the handshake is done;
     * with TLS 1.3 the target may have finished first: then its channel
     * ends without data and without close-notify, which is an error.
     */
    if (t.chans->len) {
        char buf[64];
        g_autoptr(GError) err = NULL;
        gssize n = vh_channel_read(t.chans->pdata[0], buf, sizeof(buf), &err);
        g_assert_cmpint(n, ==, -1);
        g_test_message("target's read: %s", err->message);
    }
    source_finish(&s, th);
    g_clear_pointer(&l, vh_mig_listener_free);
    target_clear(&t);
}

static void test_tcp_tls_authz(void)
{
    VhMigTls ctls = {.creds = F.cli};
    VhMigTls lallow = {.creds = F.srv, .authzid = "mig-allow"};
    VhMigTls ldeny = {.creds = F.srv, .authzid = "mig-deny"};

    run_pair("tcp:127.0.0.1:0", NULL, &lallow, &ctls, true);
    run_pair("tcp:127.0.0.1:0", NULL, &ldeny, &ctls, false);
}

static void test_tcp_tls_no_client_cert(void)
{
    VhMigTls ctls = {.creds = F.cli_nocert};
    VhMigTls lverify = {.creds = F.srv};
    VhMigTls lnoverify = {.creds = F.srv_noverify};

    run_pair("tcp:127.0.0.1:0", NULL, &lverify, &ctls, false);
    run_pair("tcp:127.0.0.1:0", NULL, &lnoverify, &ctls, true);
}

static void test_tcp_tls_plain_client(void)
{
    VhMigTls ltls = {.creds = F.srv};

    /* A client without TLS: the handshake fails on the target. */
    run_pair("tcp:127.0.0.1:0", NULL, &ltls, NULL, false);
}

static void test_psk(void)
{
    VhMigTls ltls = {.creds = F.psk_srv};
    VhMigTls lallow = {.creds = F.psk_srv, .authzid = "psk-allow"};
    VhMigTls ldeny = {.creds = F.psk_srv, .authzid = "psk-deny"};
    VhMigTls ctls = {.creds = F.psk_cli};
    VhMigTls cbad = {.creds = F.psk_cli_bad};

    run_pair("tcp:127.0.0.1:0", NULL, &ltls, &ctls, true);
    run_pair("tcp:127.0.0.1:0", NULL, &lallow, &ctls, true);
    run_pair("tcp:127.0.0.1:0", NULL, &ldeny, &ctls, false);
    run_pair("tcp:127.0.0.1:0", NULL, &ltls, &cbad, false);
    /* PSK has no certificate to check: unix: needs no tls-hostname. */
    g_autofree char *dir = vh_test_mkdtemp("mig-psk");
    g_autofree char *uri = g_strdup_printf("unix:%s/sock", dir);
    run_pair(uri, NULL, &ltls, &ctls, true);
    vh_test_rm_rf(dir);
}

/*
 * Anonymous TLS has no client identity: without tls-authz it connects, with
 * one it is denied (the rule of every TLS server, the chardev's too).
 */
static void test_anon_authz(void)
{
    VhMigTls ctls = {.creds = F.anon_cli};
    VhMigTls lplain = {.creds = F.anon_srv};
    VhMigTls lallow = {.creds = F.anon_srv, .authzid = "mig-allow"};
    /* the listener warns that tls-authz will deny everyone: not fatal */
    GLogLevelFlags fatal =
        g_log_set_always_fatal(G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);

    run_pair("tcp:127.0.0.1:0", NULL, &lplain, &ctls, true);
    run_pair("tcp:127.0.0.1:0", NULL, &lallow, &ctls, false);
    g_log_set_always_fatal(fatal);
}

/* Several sources on one listener, one refused in between. */
static void test_tcp_many(void)
{
    VhMigTls ltls = {.creds = F.srv};
    VhMigTls good = {.creds = F.cli};
    VhMigTls bad = {.creds = F.cli_nocert};
    Target t;

    target_init(&t);
    g_autoptr(VhMigListener) l =
        listen_ok(&t, "tcp:127.0.0.1:0", &ltls, NULL, NULL);
    g_autofree char *uri = vh_mig_listener_describe(l);
    /* A client that connects and never says a word holds up nobody. */
    g_autoptr(GError) err = NULL;
    g_autoptr(GSocketAddress) addr =
        vh_socket_address_parse(uri + strlen("tcp:"), &err);
    g_autoptr(VhChannelSocket) mute = vh_channel_socket_new();
    g_assert_true(vh_channel_socket_connect_sync(mute, addr, &err));
    Source s[4] = {{0}};
    GThread *th[4];
    for (int i = 0; i < 4; i++) {
        s[i].tls = i == 1 ? bad : good;
        th[i] = source_start(&s[i], uri);
    }
    target_wait(&t, 4, NULL);
    for (int i = 0; i < 4; i++) {
        target_wait(&t, 4, &s[i].done);
    }
    g_assert_cmpuint(t.chans->len, ==, 3);
    g_assert_cmpuint(t.errors->len, ==, 1);
    for (guint i = 0; i < t.chans->len; i++) {
        assert_msg(t.chans->pdata[i]);
    }
    for (int i = 0; i < 4; i++) {
        g_assert_true(i == 1 || s[i].ok);
        source_finish(&s[i], th[i]);
    }
    g_clear_pointer(&l, vh_mig_listener_free);
    target_clear(&t);
}

static void test_unix(void)
{
    g_autofree char *dir = vh_test_mkdtemp("mig-unix");
    g_autofree char *uri = g_strdup_printf("unix:%s/sock", dir);
    g_autofree char *path = g_strdup_printf("%s/sock", dir);
    VhMigTls ltls = {.creds = F.srv};
    VhMigTls ctls = {.creds = F.cli, .hostname = "localhost"};
    VhMigTls cnohost = {.creds = F.cli};

    run_pair(uri, NULL, NULL, NULL, true);
    g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
    run_pair(uri, NULL, &ltls, &ctls, true);

    /* TLS over unix: without tls-hostname: refused before connecting. */
    VhMigUri u;
    g_autoptr(GError) err = NULL;
    g_assert_true(vh_mig_uri_parse(uri, &u, &err));
    g_assert_null(vh_mig_connect(&u, &cnohost, NULL, NULL, NULL, &err));
    g_assert_error(err, VH_ERROR, VH_ERROR_INVALID_ARGUMENT);
    g_assert_nonnull(strstr(err->message, "tls-hostname is required"));
    g_assert_nonnull(strstr(err->message, "unix:"));
    g_clear_error(&err);
    /* Nobody listening. */
    g_assert_null(vh_mig_connect(&u, NULL, NULL, NULL, NULL, &err));
    g_assert_nonnull(err);
    g_assert_nonnull(strstr(err->message, path));
    vh_mig_uri_clear(&u);
    vh_test_rm_rf(dir);
}

/* fd: the named fds are two ends of a socketpair. */
typedef struct {
    int fds[2];
    int taken;
} FdTable;

static int fd_lookup(const char *name, GError **errp, void *opaque)
{
    FdTable *tbl = opaque;
    int i = g_str_equal(name, "src") ? 0 : g_str_equal(name, "dst") ? 1 : -1;

    if (i < 0 || tbl->fds[i] < 0) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "File descriptor named '%s' has not been found", name);
        return -1;
    }
    int fd = tbl->fds[i];
    tbl->fds[i] = -1;
    tbl->taken++;
    return fd;
}

static void run_fd(const VhMigTls *ltls, const VhMigTls *ctls, bool ok)
{
    FdTable tbl = {.fds = {-1, -1}};
    Target t;
    Source s = {0};

    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, tbl.fds),
                    ==, 0);
    target_init(&t);
    g_autoptr(VhMigListener) l = listen_ok(&t, "fd:dst", ltls, fd_lookup, &tbl);
    g_autofree char *d = vh_mig_listener_describe(l);
    g_assert_cmpstr(d, ==, "fd:dst");
    /* Exactly one channel, delivered from the context, not from listen. */
    g_assert_cmpuint(t.chans->len + t.errors->len, ==, 0);
    if (ctls) {
        s.tls = *ctls;
    }
    s.fdl = fd_lookup;
    s.fdl_opaque = &tbl;
    GThread *th = source_start(&s, "fd:src");
    if (!ok) {
        /* Refused before taking the fd: it stays in the table. */
        while (!g_atomic_int_get(&s.done)) {
            g_usleep(1000);
        }
        g_assert_cmpint(tbl.taken, ==, 1);
        g_assert_cmpint(tbl.fds[0], >=, 0);
        close(tbl.fds[0]);
        tbl.taken++;
    }
    target_wait(&t, 1, &s.done);
    g_assert_cmpint(tbl.taken, ==, 2);
    if (ok) {
        g_assert_no_error(s.err);
        g_assert_cmpuint(t.chans->len, ==, 1);
        assert_msg(t.chans->pdata[0]);
    } else {
        g_assert_nonnull(s.err);
        g_assert_nonnull(strstr(s.err->message, "tls-hostname is required"));
        g_assert_nonnull(strstr(s.err->message, "fd:"));
        g_assert_cmpuint(t.errors->len, ==, 1);
    }
    source_finish(&s, th);
    g_clear_pointer(&l, vh_mig_listener_free);
    target_clear(&t);
}

static void test_fd(void)
{
    VhMigTls ltls = {.creds = F.srv};
    VhMigTls ctls = {.creds = F.cli, .hostname = "localhost"};
    VhMigTls cnohost = {.creds = F.cli};

    run_fd(NULL, NULL, true);
    run_fd(&ltls, &ctls, true);
    run_fd(&ltls, &cnohost, false);

    /* Unknown name, no table. */
    FdTable tbl = {.fds = {-1, -1}};
    VhMigUri u;
    g_autoptr(GError) err = NULL;
    Target t;
    target_init(&t);
    g_assert_true(vh_mig_uri_parse("fd:nosuch", &u, &err));
    g_assert_null(vh_mig_connect(&u, NULL, fd_lookup, &tbl, NULL, &err));
    g_assert_nonnull(strstr(err->message, "'nosuch' has not been found"));
    g_clear_error(&err);
    g_assert_null(
        vh_mig_listen(&u, NULL, fd_lookup, &tbl, t.ctx, on_accept, &t, &err));
    g_assert_nonnull(strstr(err->message, "'nosuch' has not been found"));
    g_clear_error(&err);
    g_assert_null(vh_mig_connect(&u, NULL, NULL, NULL, NULL, &err));
    g_assert_error(err, VH_ERROR, VH_ERROR_NOT_SUPPORTED);
    vh_mig_uri_clear(&u);
    target_clear(&t);
}

static void test_exec_plain(void)
{
    g_autofree char *dir = vh_test_mkdtemp("mig-exec");
    g_autofree char *file = g_build_filename(dir, "stream", NULL);
    g_autofree char *out = g_strdup_printf("exec:cat > '%s'", file);
    g_autofree char *in = g_strdup_printf("exec:cat '%s'", file);
    Source s = {0};

    /* Source: writes to the command's stdin. */
    GThread *th = source_start(&s, out);
    g_thread_join(th);
    g_assert_no_error(s.err);
    g_assert_true(s.ok);
    g_free(s.uri);
    g_autofree char *content = NULL;
    g_assert_true(g_file_get_contents(file, &content, NULL, NULL));
    g_assert_cmpstr(content, ==, MSG);

    /* Target: reads the command's stdout; exactly one channel. */
    Target t;
    target_init(&t);
    g_autoptr(VhMigListener) l = listen_ok(&t, in, NULL, NULL, NULL);
    target_wait(&t, 1, NULL);
    g_assert_cmpuint(t.chans->len, ==, 1);
    assert_msg(t.chans->pdata[0]);
    for (int i = 0; i < 20; i++) {
        g_main_context_iteration(t.ctx, FALSE);
    }
    g_assert_cmpuint(t.chans->len, ==, 1);
    g_clear_pointer(&l, vh_mig_listener_free);
    target_clear(&t);
    vh_test_rm_rf(dir);
}

/*
 * exec: with TLS both ways: the source runs socat to a unix: TLS target;
 * the target runs socat to a socket the test accepts and hands to an fd:
 * source. Without tls-hostname both are refused.
 */
static void test_exec_tls(void)
{
    g_autofree char *dir = vh_test_mkdtemp("mig-exec-tls");
    g_autofree char *sock = g_build_filename(dir, "sock", NULL);
    g_autofree char *luri = g_strdup_printf("unix:%s", sock);
    g_autofree char *curi =
        g_strdup_printf("exec:socat STDIO UNIX-CONNECT:'%s'", sock);
    VhMigTls ltls = {.creds = F.srv};
    VhMigTls ctls = {.creds = F.cli, .hostname = "localhost"};
    VhMigTls cnohost = {.creds = F.cli};

    run_pair(luri, curi, &ltls, &ctls, true);

    VhMigUri u;
    g_autoptr(GError) err = NULL;
    g_assert_true(vh_mig_uri_parse(curi, &u, &err));
    g_assert_null(vh_mig_connect(&u, &cnohost, NULL, NULL, NULL, &err));
    g_assert_nonnull(strstr(err->message, "tls-hostname is required"));
    g_assert_nonnull(strstr(err->message, "exec:"));
    vh_mig_uri_clear(&u);
    g_clear_error(&err);

    /* The target side: exec: TLS server through socat. */
    g_autoptr(GSocketAddress) addr = g_unix_socket_address_new(sock);
    g_autoptr(VhChannelSocket) lsock = vh_channel_socket_new();
    g_assert_true(vh_channel_socket_listen_sync(lsock, addr, 1, &err));
    g_autofree char *turi =
        g_strdup_printf("exec:socat STDIO UNIX-CONNECT:'%s'", sock);
    Target t;
    target_init(&t);
    g_autoptr(VhMigListener) l = listen_ok(&t, turi, &ltls, NULL, NULL);
    g_autoptr(VhChannelSocket) peer = vh_channel_socket_accept(lsock, &err);
    g_assert_no_error(err);
    FdTable tbl = {.fds = {dup(vh_channel_socket_get_fd(peer)), -1}};
    g_clear_object(&peer);
    Source s = {.tls = ctls, .fdl = fd_lookup, .fdl_opaque = &tbl};
    GThread *th = source_start(&s, "fd:src");
    target_wait(&t, 1, &s.done);
    g_assert_no_error(s.err);
    g_assert_cmpuint(t.chans->len, ==, 1);
    assert_msg(t.chans->pdata[0]);
    source_finish(&s, th);
    g_clear_pointer(&l, vh_mig_listener_free);
    target_clear(&t);
    vh_channel_close(VH_CHANNEL(lsock), NULL);
    vh_test_rm_rf(dir);
}

static void test_file(void)
{
    g_autofree char *dir = vh_test_mkdtemp("mig-file");
    g_autofree char *file = g_build_filename(dir, "save", NULL);
    g_autofree char *plain = g_strdup_printf("file:%s", file);
    g_autofree char *at = g_strdup_printf("file:%s,offset=1K", file);
    char header[1024];
    Source s = {0};

    /* Plain: created, written from 0. */
    g_thread_join(source_start(&s, plain));
    g_assert_true(s.ok);
    g_free(s.uri);
    g_autofree char *content = NULL;
    gsize len;
    g_assert_true(g_file_get_contents(file, &content, &len, NULL));
    g_assert_cmpstr(content, ==, MSG);
    g_clear_pointer(&content, g_free);

    /* With an offset: what is before it stays, what is after is cut. */
    memset(header, 'h', sizeof(header));
    g_autofree char *old = g_strnfill(4096, 'x');
    g_assert_true(g_file_set_contents(file, old, -1, NULL));
    memset(&s, 0, sizeof(s));
    g_thread_join(source_start(&s, at));
    g_assert_true(s.ok);
    g_free(s.uri);
    g_assert_true(g_file_get_contents(file, &content, &len, NULL));
    g_assert_cmpuint(len, ==, 1024 + strlen(MSG));
    g_assert_cmpint(content[1023], ==, 'x');
    g_assert_cmpmem(content + 1024, strlen(MSG), MSG, strlen(MSG));

    /* Target: read back from the offset. */
    Target t;
    target_init(&t);
    g_autoptr(VhMigListener) l = listen_ok(&t, at, NULL, NULL, NULL);
    target_wait(&t, 1, NULL);
    assert_msg(t.chans->pdata[0]);
    g_clear_pointer(&l, vh_mig_listener_free);

    /* Errors: offset past the end, missing file, TLS. */
    VhMigUri u;
    g_autoptr(GError) err = NULL;
    g_autofree char *far = g_strdup_printf("file:%s,offset=1M", file);
    g_assert_true(vh_mig_uri_parse(far, &u, &err));
    g_assert_null(
        vh_mig_listen(&u, NULL, NULL, NULL, t.ctx, on_accept, &t, &err));
    g_assert_nonnull(strstr(err->message, "shorter than the offset 1048576"));
    vh_mig_uri_clear(&u);
    g_clear_error(&err);
    g_autofree char *missing = g_strdup_printf("file:%s/nosuch", dir);
    g_assert_true(vh_mig_uri_parse(missing, &u, &err));
    g_assert_null(
        vh_mig_listen(&u, NULL, NULL, NULL, t.ctx, on_accept, &t, &err));
    g_assert_error(err, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
    g_assert_nonnull(strstr(err->message, "nosuch"));
    vh_mig_uri_clear(&u);
    g_clear_error(&err);
    g_autofree char *baddir = g_strdup_printf("file:%s/no/dir/f", dir);
    g_assert_true(vh_mig_uri_parse(baddir, &u, &err));
    g_assert_null(vh_mig_connect(&u, NULL, NULL, NULL, NULL, &err));
    g_assert_nonnull(strstr(err->message, "for writing"));
    vh_mig_uri_clear(&u);
    g_clear_error(&err);
    VhMigTls tls = {.creds = F.cli, .hostname = "localhost"};
    g_assert_true(vh_mig_uri_parse(plain, &u, &err));
    g_assert_null(vh_mig_connect(&u, &tls, NULL, NULL, NULL, &err));
    g_assert_error(err, VH_ERROR, VH_ERROR_NOT_SUPPORTED);
    g_assert_nonnull(strstr(err->message, "file:"));
    g_clear_error(&err);
    tls.creds = F.srv;
    g_assert_null(
        vh_mig_listen(&u, &tls, NULL, NULL, t.ctx, on_accept, &t, &err));
    g_assert_error(err, VH_ERROR, VH_ERROR_NOT_SUPPORTED);
    vh_mig_uri_clear(&u);
    target_clear(&t);
    vh_test_rm_rf(dir);
}

static void test_uri_parse(void)
{
    static const struct {
        const char *uri;
        VhMigUriKind kind;
        const char *a, *b;
        guint64 offset;
    } good[] = {
        {"tcp:127.0.0.1:4444", VH_MIG_URI_TCP, "127.0.0.1", "4444", 0},
        {"tcp:[::1]:4444", VH_MIG_URI_TCP, "::1", "4444", 0},
        {"tcp:[fe80::1%eth0]:1", VH_MIG_URI_TCP, "fe80::1%eth0", "1", 0},
        {"tcp:target.example:9000", VH_MIG_URI_TCP, "target.example", "9000",
         0},
        {"tcp::9000", VH_MIG_URI_TCP, "", "9000", 0},
        {"tcp:0.0.0.0:0", VH_MIG_URI_TCP, "0.0.0.0", "0", 0},
        {"unix:/run/mig.sock", VH_MIG_URI_UNIX, "/run/mig.sock", NULL, 0},
        {"fd:migfd", VH_MIG_URI_FD, "migfd", NULL, 0},
        {"exec:cat > /tmp/x", VH_MIG_URI_EXEC, "cat > /tmp/x", NULL, 0},
        {"file:/tmp/a,b", VH_MIG_URI_FILE, "/tmp/a,b", NULL, 0},
        {"file:/tmp/s,offset=4096", VH_MIG_URI_FILE, "/tmp/s", NULL, 4096},
        {"file:/tmp/s,offset=2M", VH_MIG_URI_FILE, "/tmp/s", NULL, 2 << 20},
    };
    static const struct {
        const char *uri, *part;
    } bad[] = {
        {"", "no transport"},
        {"127.0.0.1:4444", "unknown transport '127.0.0.1'"},
        {"tcp", "no transport"},
        {"rdma:1.2.3.4:5", "unknown transport 'rdma'"},
        {"tcp:", "expected tcp:HOST:PORT"},
        {"tcp:host", "expected tcp:HOST:PORT"},
        {"tcp:host:", "port is missing"},
        {"tcp:host:http", "port 'http' is not a number"},
        {"tcp:host:65536", "port '65536' is not a number from 0 to 65535"},
        {"tcp:host:12x", "port '12x'"},
        {"tcp:host:-1", "port '-1'"},
        {"tcp:::1:4444", "must be written in brackets"},
        {"tcp:[::1:4444", "lacks its closing ']'"},
        {"tcp:[::1]4444", "expected ':PORT' after '[::1]'"},
        {"unix:", "nothing after 'unix:'"},
        {"fd:", "nothing after 'fd:'"},
        {"exec:", "nothing after 'exec:'"},
        {"file:", "nothing after 'file:'"},
        {"file:,offset=5", "file path is empty"},
        {"file:/x,offset=abc", "offset:"},
        {"file:/x,offset=", "offset:"},
    };
    for (guint i = 0; i < G_N_ELEMENTS(good); i++) {
        VhMigUri u;
        g_autoptr(GError) err = NULL;
        g_assert_true(vh_mig_uri_parse(good[i].uri, &u, &err));
        g_assert_no_error(err);
        g_assert_cmpint(u.kind, ==, good[i].kind);
        switch (u.kind) {
        case VH_MIG_URI_TCP:
            g_assert_cmpstr(u.host, ==, good[i].a);
            g_assert_cmpstr(u.port, ==, good[i].b);
            g_assert_true(vh_mig_uri_supports_multiple(&u));
            break;
        case VH_MIG_URI_UNIX:
            g_assert_cmpstr(u.path, ==, good[i].a);
            g_assert_true(vh_mig_uri_supports_multiple(&u));
            break;
        case VH_MIG_URI_FD:
            g_assert_cmpstr(u.fdname, ==, good[i].a);
            g_assert_false(vh_mig_uri_supports_multiple(&u));
            break;
        case VH_MIG_URI_EXEC:
            g_assert_cmpstr(u.command, ==, good[i].a);
            g_assert_false(vh_mig_uri_supports_multiple(&u));
            break;
        case VH_MIG_URI_FILE:
        default:
            g_assert_cmpstr(u.path, ==, good[i].a);
            g_assert_cmpuint(u.offset, ==, good[i].offset);
            g_assert_false(vh_mig_uri_supports_multiple(&u));
            break;
        }
        vh_mig_uri_clear(&u);
        vh_mig_uri_clear(&u);
    }
    for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
        VhMigUri u;
        g_autoptr(GError) err = NULL;
        g_assert_false(vh_mig_uri_parse(bad[i].uri, &u, &err));
        g_assert_error(err, VH_ERROR, VH_ERROR_INVALID_ARGUMENT);
        g_autofree char *quoted = g_strdup_printf("'%s'", bad[i].uri);
        if (!strstr(err->message, quoted) ||
            !strstr(err->message, bad[i].part)) {
            g_error("URI %s: message '%s' lacks '%s'", bad[i].uri, err->message,
                    bad[i].part);
        }
        g_assert_null(u.host);
        g_assert_null(u.path);
    }
}

static void test_connect_errors(void)
{
    VhMigUri u;
    g_autoptr(GError) err = NULL;

    /* A port nobody listens on (bound, then closed). */
    Target t;
    target_init(&t);
    VhMigListener *l = listen_ok(&t, "tcp:127.0.0.1:0", NULL, NULL, NULL);
    g_autofree char *uri = vh_mig_listener_describe(l);
    vh_mig_listener_free(l);
    g_assert_true(vh_mig_uri_parse(uri, &u, &err));
    g_assert_null(vh_mig_connect(&u, NULL, NULL, NULL, NULL, &err));
    g_assert_error(err, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
    vh_mig_uri_clear(&u);
    g_clear_error(&err);

    /* Port 0 and no host are only for listening. */
    g_assert_true(vh_mig_uri_parse("tcp:127.0.0.1:0", &u, &err));
    g_assert_null(vh_mig_connect(&u, NULL, NULL, NULL, NULL, &err));
    g_assert_nonnull(strstr(err->message, "non-zero port"));
    vh_mig_uri_clear(&u);
    g_clear_error(&err);

    /* An unknown host. */
    g_assert_true(vh_mig_uri_parse("tcp:nosuchhost.invalid:9", &u, &err));
    g_assert_null(vh_mig_connect(&u, NULL, NULL, NULL, NULL, &err));
    g_assert_nonnull(err);
    vh_mig_uri_clear(&u);
    g_clear_error(&err);

    /* A port in use. */
    g_autoptr(VhMigListener) l1 =
        listen_ok(&t, "tcp:127.0.0.1:0", NULL, NULL, NULL);
    g_autofree char *busy = vh_mig_listener_describe(l1);
    g_assert_true(vh_mig_uri_parse(busy, &u, &err));
    g_assert_null(
        vh_mig_listen(&u, NULL, NULL, NULL, t.ctx, on_accept, &t, &err));
    g_assert_nonnull(strstr(err->message, "cannot listen for migration on"));
    g_assert_nonnull(strstr(err->message, busy));
    vh_mig_uri_clear(&u);
    g_clear_error(&err);

    /* A source that cannot run its command. */
    g_assert_true(vh_mig_uri_parse("exec:exit 3", &u, &err));
    VhChannel *ch = vh_mig_connect(&u, NULL, NULL, NULL, NULL, &err);
    g_assert_no_error(err);
    g_assert_false(vh_channel_close(ch, &err));
    g_assert_error(err, VH_ERROR, VH_ERROR_CHILD_FAILED);
    g_object_unref(ch);
    vh_mig_uri_clear(&u);
    g_clear_pointer(&l1, vh_mig_listener_free);
    target_clear(&t);
}

/* A target that accepts but never speaks TLS: cancel the handshake. */
static gpointer cancel_later(gpointer data)
{
    g_usleep(200 * 1000);
    g_cancellable_cancel(data);
    return NULL;
}

static void test_cancel(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(VhChannelSocket) lsock = vh_channel_socket_new();
    g_autoptr(GSocketAddress) any =
        vh_socket_address_parse("127.0.0.1:0", &err);
    g_assert_true(vh_channel_socket_listen_sync(lsock, any, 4, &err));
    g_autoptr(GSocketAddress) bound =
        vh_channel_socket_get_local_address(lsock, &err);
    g_autofree char *text = vh_socket_address_to_string(bound);
    g_autofree char *uri = g_strdup_printf("tcp:%s", text);
    VhMigUri u;
    VhMigTls tls = {.creds = F.cli};
    g_autoptr(GCancellable) c = g_cancellable_new();

    g_assert_true(vh_mig_uri_parse(uri, &u, &err));
    GThread *th = g_thread_new("cancel", cancel_later, c);
    gint64 t0 = g_get_monotonic_time();
    g_assert_null(vh_mig_connect(&u, &tls, NULL, NULL, c, &err));
    g_assert_error(err, G_IO_ERROR, G_IO_ERROR_CANCELLED);
    g_assert_cmpint(g_get_monotonic_time() - t0, <, 5 * G_USEC_PER_SEC);
    g_thread_join(th);
    g_clear_error(&err);
    /* Already cancelled: nothing is tried. */
    g_assert_null(vh_mig_connect(&u, NULL, NULL, NULL, c, &err));
    g_assert_error(err, G_IO_ERROR, G_IO_ERROR_CANCELLED);
    vh_mig_uri_clear(&u);
}

/* Freeing the listener with a handshake in flight: no callback after. */
static void test_free_pending(void)
{
    VhMigTls ltls = {.creds = F.srv};
    g_autoptr(GError) err = NULL;
    Target t;

    target_init(&t);
    VhMigListener *l = listen_ok(&t, "tcp:127.0.0.1:0", &ltls, NULL, NULL);
    g_autofree char *uri = vh_mig_listener_describe(l);
    g_autoptr(GSocketAddress) addr =
        vh_socket_address_parse(uri + strlen("tcp:"), &err);
    g_autoptr(VhChannelSocket) raw = vh_channel_socket_new();
    g_assert_true(vh_channel_socket_connect_sync(raw, addr, &err));
    /* Let the listener accept and start its handshake. */
    for (int i = 0; i < 50; i++) {
        g_main_context_iteration(t.ctx, FALSE);
        g_usleep(2000);
    }
    vh_mig_listener_free(l);
    (void)!vh_channel_write_all(VH_CHANNEL(raw), "garbage", 7, NULL);
    for (int i = 0; i < 50; i++) {
        g_main_context_iteration(t.ctx, FALSE);
        g_usleep(2000);
    }
    g_assert_cmpuint(t.chans->len + t.errors->len, ==, 0);
    target_clear(&t);
}

/*
 * A TLS source to a target without TLS: the target reads the first bytes
 * where its stream magic belongs and closes; the source's handshake must
 * say that the target does not speak TLS, not just that it failed.
 */
static void test_tcp_tls_to_plain_target(void)
{
    VhMigTls ctls = {.creds = F.cli};
    Source s = {0};
    Target t;
    guint8 magic[8];
    g_autoptr(GError) err = NULL;

    target_init(&t);
    VhMigListener *l = listen_ok(&t, "tcp:127.0.0.1:0", NULL, NULL, NULL);
    g_autofree char *uri = vh_mig_listener_describe(l);
    s.tls = ctls;
    GThread *th = source_start(&s, uri);
    target_wait(&t, 1, NULL);
    g_assert_cmpuint(t.chans->len, ==, 1);
    g_assert_true(vh_channel_read_all(t.chans->pdata[0], magic, 8, &err));
    g_assert_no_error(err);
    g_assert_true(vh_mig_is_tls_record(magic));
    g_assert_true(vh_channel_close(t.chans->pdata[0], NULL));
    while (!g_atomic_int_get(&s.done)) {
        g_usleep(1000);
    }
    g_assert_false(s.ok);
    g_assert_nonnull(s.err);
    g_test_message("source: %s", s.err->message);
    g_assert_nonnull(strstr(s.err->message, "the target does not expect TLS"));
    source_finish(&s, th);
    vh_mig_listener_free(l);
    target_clear(&t);
}

/* A client that sends half a ClientHello and then nothing. */
static VhChannelSocket *staller_connect(GSocketAddress *addr)
{
    static const guint8 half_hello[] = {0x16, 0x03, 0x01, 0x00, 0xc8,
                                        0x01, 0x00, 0x00, 0xc4, 0x03};
    g_autoptr(GError) err = NULL;
    VhChannelSocket *raw = vh_channel_socket_new();

    g_assert_true(vh_channel_socket_connect_sync(raw, addr, &err));
    g_assert_true(vh_channel_write_all(
        VH_CHANNEL(raw), (const char *)half_hello, sizeof(half_hello), &err));
    g_assert_no_error(err);
    return raw;
}

static guint count_errors(Target *t, const char *text)
{
    guint n = 0;

    for (guint i = 0; i < t->errors->len; i++) {
        n += strstr(((GError *)t->errors->pdata[i])->message, text) != NULL;
    }
    return n;
}

/*
 * Clients that stall in their TLS handshake: a real source gets through
 * beside them; beyond VH_MIG_MAX_PENDING_HANDSHAKES they are refused at
 * once; each is dropped after the handshake timeout, and a source then
 * gets through again. Before, nothing was refused and nothing timed out:
 * every staller held its fd for ever.
 */
static void test_tcp_tls_stallers(void)
{
    const guint timeout_ms = 1500, first = 10, extra = 6;
    const guint total = VH_MIG_MAX_PENDING_HANDSHAKES + extra;
    VhMigTls ltls = {.creds = F.srv, .handshake_timeout_ms = timeout_ms};
    g_autoptr(GPtrArray) stallers =
        g_ptr_array_new_with_free_func(g_object_unref);
    g_autoptr(GError) err = NULL;
    Source s = {.tls = {.creds = F.cli}};
    Target t;

    target_init(&t);
    VhMigListener *l = listen_ok(&t, "tcp:127.0.0.1:0", &ltls, NULL, NULL);
    g_autofree char *uri = vh_mig_listener_describe(l);
    g_autoptr(GSocketAddress) addr =
        vh_socket_address_parse(uri + strlen("tcp:"), &err);
    g_assert_no_error(err);

    for (guint i = 0; i < first; i++) {
        g_ptr_array_add(stallers, staller_connect(addr));
    }
    gint64 t0 = g_get_monotonic_time();
    GThread *th = source_start(&s, uri);
    target_wait(&t, 1, &s.done);
    g_assert_no_error(s.err);
    g_assert_cmpuint(t.chans->len, ==, 1);
    g_assert_cmpuint(t.errors->len, ==, 0);
    g_assert_cmpint(g_get_monotonic_time() - t0, <, timeout_ms * 1000);
    source_finish(&s, th);
    assert_msg(t.chans->pdata[0]);
    g_ptr_array_set_size(t.chans, 0);

    /* The cap: the excess is refused at once, with the reason. */
    for (guint i = first; i < total; i++) {
        g_ptr_array_add(stallers, staller_connect(addr));
    }
    target_wait(&t, extra, NULL);
    g_assert_cmpuint(count_errors(&t, "TLS handshakes are already in "
                                      "progress, the limit"),
                     ==, extra);
    g_assert_cmpuint(t.errors->len, ==, extra);
    GError *e = t.errors->pdata[0];
    g_test_message("target refused: %s", e->message);
    g_assert_nonnull(strstr(e->message, "migration on tcp:127.0.0.1:"));

    /* The timeout: every pending staller is dropped, none held for ever. */
    target_wait(&t, total, NULL);
    g_assert_cmpuint(count_errors(&t, "timed out after 1500 ms"), ==,
                     VH_MIG_MAX_PENDING_HANDSHAKES);
    guint closed = 0;
    for (guint i = 0; i < stallers->len; i++) {
        char c;
        gssize n = vh_channel_read(stallers->pdata[i], &c, 1, NULL);
        closed += n <= 0;
    }
    g_assert_cmpuint(closed, ==, total);

    /* And a source gets through again. */
    Source s2 = {.tls = {.creds = F.cli}};
    th = source_start(&s2, uri);
    target_wait(&t, total + 1, &s2.done);
    g_assert_no_error(s2.err);
    g_assert_cmpuint(t.chans->len, ==, 1);
    source_finish(&s2, th);
    vh_mig_listener_free(l);
    target_clear(&t);
}

static void fixture_setup(void)
{
    const char *dns[] = {"localhost", "mig.example", NULL};
    const char *ips[] = {"127.0.0.1", "::1", NULL};

    F.pki = tls_test_pki_new("vmhost migration CA");
    g_autofree char *srv = tls_test_pki_dir(F.pki, "server");
    g_autofree char *cli = tls_test_pki_dir(F.pki, "client");
    g_autofree char *nocert = tls_test_pki_dir(F.pki, "client-nocert");
    tls_test_pki_issue_server(F.pki, srv, DN_SERVER, dns, ips, 0, 0);
    tls_test_pki_issue_client(F.pki, cli, DN_CLIENT, 0, 0);
    F.srv = tls_test_creds_x509(srv, VH_TLS_CREDS_ENDPOINT_SERVER, true, NULL,
                                true);
    F.srv_noverify = tls_test_creds_x509(srv, VH_TLS_CREDS_ENDPOINT_SERVER,
                                         false, NULL, true);
    F.cli = tls_test_creds_x509(cli, VH_TLS_CREDS_ENDPOINT_CLIENT, true, NULL,
                                true);
    F.cli_nocert = tls_test_creds_x509(nocert, VH_TLS_CREDS_ENDPOINT_CLIENT,
                                       true, NULL, true);
    F.tmp = vh_test_mkdtemp("mig-psk-keys");
    g_autofree char *ps = g_build_filename(F.tmp, "srv", NULL);
    g_autofree char *pc = g_build_filename(F.tmp, "cli", NULL);
    g_autofree char *pb = g_build_filename(F.tmp, "bad", NULL);
    g_mkdir(ps, 0700);
    g_mkdir(pc, 0700);
    g_mkdir(pb, 0700);
    F.psk_srv = tls_test_creds_psk(ps, PSK_KEY "\n",
                                   VH_TLS_CREDS_ENDPOINT_SERVER, NULL, NULL);
    F.psk_cli = tls_test_creds_psk(pc, PSK_KEY "\n",
                                   VH_TLS_CREDS_ENDPOINT_CLIENT, "alice", NULL);
    F.psk_cli_bad = tls_test_creds_psk(
        pb, PSK_BAD "\n", VH_TLS_CREDS_ENDPOINT_CLIENT, "alice", NULL);
    F.anon_srv = tls_test_creds_anon(VH_TLS_CREDS_ENDPOINT_SERVER, NULL);
    F.anon_cli = tls_test_creds_anon(VH_TLS_CREDS_ENDPOINT_CLIENT, NULL);
    add_authz("mig-allow", vh_authz_simple_new(DN_CLIENT));
    add_authz("mig-deny",
              vh_authz_simple_new("C=UK,O=vmhost test,CN=someone else"));
    add_authz("psk-allow", vh_authz_simple_new("alice"));
    add_authz("psk-deny", vh_authz_simple_new("bob"));
}

static void fixture_teardown(void)
{
    g_clear_object(&F.srv);
    g_clear_object(&F.srv_noverify);
    g_clear_object(&F.cli);
    g_clear_object(&F.cli_nocert);
    g_clear_object(&F.psk_srv);
    g_clear_object(&F.psk_cli);
    g_clear_object(&F.psk_cli_bad);
    g_clear_object(&F.anon_srv);
    g_clear_object(&F.anon_cli);
    for (guint i = 0; i < 4; i++) {
        const char *ids[] = {"mig-allow", "mig-deny", "psk-allow", "psk-deny"};
        g_autoptr(GError) err = NULL;

        g_assert_true(vh_object_del(ids[i], &err));
    }
    vh_test_rm_rf(F.tmp);
    g_free(F.tmp);
    tls_test_pki_free(F.pki);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    fixture_setup();
    g_test_add_func("/migration/transport/uri", test_uri_parse);
    g_test_add_func("/migration/transport/tcp/plain", test_tcp_plain);
    g_test_add_func("/migration/transport/tcp/describe", test_tcp_describe);
    g_test_add_func("/migration/transport/tcp/name", test_tcp_name);
    g_test_add_func("/migration/transport/tcp/tls-host-from-uri",
                    test_tcp_tls_host_from_uri);
    g_test_add_func("/migration/transport/tcp/tls-hostname-override",
                    test_tcp_tls_hostname_override);
    g_test_add_func("/migration/transport/tcp/tls-hostname-mismatch",
                    test_tcp_tls_hostname_mismatch);
    g_test_add_func("/migration/transport/tcp/tls-authz", test_tcp_tls_authz);
    g_test_add_func("/migration/transport/tcp/tls-no-client-cert",
                    test_tcp_tls_no_client_cert);
    g_test_add_func("/migration/transport/tcp/tls-plain-client",
                    test_tcp_tls_plain_client);
    g_test_add_func("/migration/transport/tcp/many", test_tcp_many);
    g_test_add_func("/migration/transport/tcp/tls-stallers",
                    test_tcp_tls_stallers);
    g_test_add_func("/migration/transport/tcp/tls-to-plain-target",
                    test_tcp_tls_to_plain_target);
    g_test_add_func("/migration/transport/psk", test_psk);
    g_test_add_func("/migration/transport/anon-authz", test_anon_authz);
    g_test_add_func("/migration/transport/unix", test_unix);
    g_test_add_func("/migration/transport/fd", test_fd);
    g_test_add_func("/migration/transport/exec/plain", test_exec_plain);
    g_test_add_func("/migration/transport/exec/tls", test_exec_tls);
    g_test_add_func("/migration/transport/file", test_file);
    g_test_add_func("/migration/transport/connect-errors", test_connect_errors);
    g_test_add_func("/migration/transport/cancel", test_cancel);
    g_test_add_func("/migration/transport/free-pending", test_free_pending);
    int rc = g_test_run();
    fixture_teardown();
    return rc;
}
