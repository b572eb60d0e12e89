/*
 * Interop: our TLS client against gnutls-serv and openssl s_server, our TLS
 * server against gnutls-cli and openssl s_client, server-only and mutual
 * authentication, with certificates made at test time by our pki.h and by
 * certtool. Every wait is bounded; every child is killed and reaped.
 *
 * gnutls-serv has no option to choose its listening address and binds
 * every address on its port. Servers in tests must only ever be reachable on
 * loopback, so the program first moves into a network namespace of its own,
 * where loopback is the only interface; where that cannot be done (no
 * CAP_SYS_ADMIN), the gnutls-serv cases are skipped and say why. Everything
 * else binds 127.0.0.1 only either way.
 */
#include "crypto-testutil.h"
#include "tls-testutil.h"
#include "vmhost/io/address.h"
#include "vmhost/io/channel-socket.h"
#include "vmhost/io/channel-tls.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <unistd.h>

#define TIMEOUT_MS        15000
#define INTEROP_DN_SERVER "C=UK,O=vmhost interop,CN=localhost"
#define INTEROP_DN_CLIENT "C=UK,O=vmhost interop,CN=interop-client"

typedef enum { PKI_OURS, PKI_CERTTOOL } PkiKind;
typedef enum {
    TOOL_GNUTLS_SERV,
    TOOL_OPENSSL_SERVER,
    TOOL_GNUTLS_CLI,
    TOOL_OPENSSL_CLIENT,
} Tool;

typedef struct {
    char *root;
    char *dir_server;        /* ca-cert.pem, server-cert.pem, server-key.pem */
    char *dir_client;        /* ca-cert.pem, client-cert.pem, client-key.pem */
    char *dir_client_nocert; /* ca-cert.pem */
} Pki;

typedef struct {
    Tool tool;
    PkiKind pki;
    bool mutual;
    bool tls12; /* our end allows TLS 1.2 only */
} Case;

static const char *case_priority(const Case *tc)
{
    return tc->tls12 ? TLS_TEST_PRIORITY_TLS12 : NULL;
}

static void check_protocol(const Case *tc, VhChannelTls *tls)
{
    if (tc->tls12) {
        g_assert_cmpstr(vh_channel_tls_get_protocol(tls), ==, "TLS1.2");
    }
}

static Pki pkis[2];
static TlsTestPki *our_pki;
static char *certtool_error; /* why the certtool PKI is missing, or NULL */

/* Why this process is not in a private network namespace, or NULL. */
static char *netns_error;

/*
 * Enter a new network namespace (only a loopback interface, down) and bring
 * loopback up. Must run before any thread exists: it moves this thread only,
 * and children inherit it.
 */
static void enter_private_netns(void)
{
    struct ifreq ifr = {0};
    int fd;

    if (unshare(CLONE_NEWNET) < 0) {
        netns_error = g_strdup_printf(
            "cannot create a network namespace (%s): gnutls-serv cannot be "
            "limited to loopback",
            g_strerror(errno));
        return;
    }
    fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    g_strlcpy(ifr.ifr_name, "lo", sizeof(ifr.ifr_name));
    if (fd < 0 || ioctl(fd, SIOCGIFFLAGS, &ifr) < 0 ||
        (ifr.ifr_flags |= IFF_UP, ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)) {
        g_error("cannot bring up loopback in the test's network namespace: "
                "%s",
                g_strerror(errno));
    }
    close(fd);
}

static const char *tool_binary(Tool tool)
{
    switch (tool) {
    case TOOL_GNUTLS_SERV:
        return "gnutls-serv";
    case TOOL_GNUTLS_CLI:
        return "gnutls-cli";
    case TOOL_OPENSSL_SERVER:
    case TOOL_OPENSSL_CLIENT:
    default:
        return "openssl";
    }
}

static bool have_program(const char *name)
{
    g_autofree char *path = g_find_program_in_path(name);

    return path != NULL;
}

static char *path_in(const char *dir, const char *name)
{
    return g_build_filename(dir, name, NULL);
}

/* ---- bounded waiting on a private context ---- */

static gboolean flag_set(gpointer opaque)
{
    *(bool *)opaque = true;
    return G_SOURCE_REMOVE;
}

static gboolean flag_set_io(VhChannel *ioc, GIOCondition cond, gpointer opaque)
{
    return flag_set(opaque);
}

/* Iterate @ctx until *@done or @timeout_ms; false on timeout. */
static bool run_until(GMainContext *ctx, bool *done, guint timeout_ms)
{
    g_autoptr(GSource) timer = g_timeout_source_new(timeout_ms);
    bool expired = false;

    g_source_set_callback(timer, flag_set, &expired, NULL);
    g_source_attach(timer, ctx);
    while (!*done && !expired) {
        g_main_context_iteration(ctx, TRUE);
    }
    g_source_destroy(timer);
    return *done;
}

static bool wait_channel(VhChannel *ioc, GIOCondition cond)
{
    g_autoptr(GMainContext) ctx = g_main_context_new();
    g_autoptr(GSource) src = vh_channel_create_watch(ioc, cond);
    bool ready = false;

    g_source_set_callback(src, (GSourceFunc)(void (*)(void))flag_set_io, &ready,
                          NULL);
    g_source_attach(src, ctx);
    run_until(ctx, &ready, TIMEOUT_MS);
    g_source_destroy(src);
    return ready;
}

typedef struct {
    bool done;
    bool ok;
    GError *err;
} Result;

static void handshake_done(GObject *src, GAsyncResult *res, gpointer opaque)
{
    Result *r = opaque;

    r->ok = vh_channel_tls_handshake_finish(VH_CHANNEL_TLS(src), res, &r->err);
    r->done = true;
}

static void handshake(VhChannelTls *tls)
{
    g_autoptr(GMainContext) ctx = g_main_context_new();
    Result r = {0};

    g_main_context_push_thread_default(ctx);
    vh_channel_tls_handshake(tls, NULL, handshake_done, &r);
    g_assert_true(run_until(ctx, &r.done, TIMEOUT_MS));
    g_main_context_pop_thread_default(ctx);
    g_assert_no_error(r.err);
    g_assert_true(r.ok);
    g_test_message("%s %s peer '%s'", vh_channel_tls_get_protocol(tls),
                   vh_channel_tls_get_cipher(tls),
                   vh_channel_tls_get_peer_name(tls)
                       ? vh_channel_tls_get_peer_name(tls)
                       : "(none)");
}

/* Read one line (up to '\n') from a non-blocking channel. */
static char *read_line(VhChannel *ioc)
{
    g_autoptr(GString) line = g_string_new(NULL);

    while (!strchr(line->str, '\n')) {
        g_autoptr(GError) err = NULL;
        char buf[256];
        gssize n = vh_channel_read(ioc, buf, sizeof(buf), &err);
        g_assert_no_error(err);
        if (n == VH_CHANNEL_ERR_BLOCK) {
            g_assert_true(wait_channel(ioc, G_IO_IN));
            continue;
        }
        g_assert_cmpint(n, >, 0);
        g_string_append_len(line, buf, n);
    }
    return g_string_free(g_steal_pointer(&line), FALSE);
}

static void write_all(VhChannel *ioc, const char *text)
{
    size_t len = strlen(text), off = 0;

    while (off < len) {
        g_autoptr(GError) err = NULL;
        gssize n = vh_channel_write(ioc, text + off, len - off, &err);
        g_assert_no_error(err);
        if (n == VH_CHANNEL_ERR_BLOCK) {
            g_assert_true(wait_channel(ioc, G_IO_OUT));
            continue;
        }
        off += n;
    }
}

/* ---- children ---- */

typedef struct {
    GSubprocess *proc;
    char *log;
} Child;

/*
 * A failed assertion aborts the test program before any teardown runs: the
 * kernel then kills the tools we started, so no server outlives us.
 */
static void child_setup(gpointer opaque)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
}

static void child_start(Child *c, const char *log, bool stdin_pipe,
                        const char *const *argv)
{
    g_autoptr(GSubprocessLauncher) l = g_subprocess_launcher_new(
        (stdin_pipe ? G_SUBPROCESS_FLAGS_STDIN_PIPE : 0) |
        G_SUBPROCESS_FLAGS_STDERR_MERGE);
    g_autoptr(GError) err = NULL;
    g_autofree char *cmd = g_strjoinv(" ", (char **)argv);

    g_test_message("running: %s", cmd);
    c->log = g_strdup(log);
    g_subprocess_launcher_set_stdout_file_path(l, log);
    g_subprocess_launcher_set_child_setup(l, child_setup, NULL, NULL);
    c->proc = g_subprocess_launcher_spawnv(l, argv, &err);
    g_assert_no_error(err);
}

static char *child_log(Child *c)
{
    char *text = NULL;

    if (!g_file_get_contents(c->log, &text, NULL, NULL)) {
        return g_strdup("");
    }
    return text;
}

static void wait_done(GObject *src, GAsyncResult *res, gpointer opaque)
{
    g_subprocess_wait_finish(G_SUBPROCESS(src), res, NULL);
    *(bool *)opaque = true;
}

/* Wait up to @timeout_ms for the child to exit; true if it did. */
static bool child_wait(Child *c, guint timeout_ms)
{
    g_autoptr(GMainContext) ctx = g_main_context_new();
    bool done = false;

    g_main_context_push_thread_default(ctx);
    g_subprocess_wait_async(c->proc, NULL, wait_done, &done);
    run_until(ctx, &done, timeout_ms);
    if (!done) {
        /* reap it anyway, so that no callback outlives this frame */
        g_subprocess_force_exit(c->proc);
        run_until(ctx, &done, TIMEOUT_MS);
    }
    g_main_context_pop_thread_default(ctx);
    return g_subprocess_get_if_exited(c->proc) && done;
}

static void child_stop(Child *c)
{
    g_autofree char *log = NULL;

    if (!c->proc) {
        return;
    }
    if (g_subprocess_get_identifier(c->proc)) {
        /* still running (or not yet reaped) */
        g_subprocess_force_exit(c->proc);
    }
    child_wait(c, TIMEOUT_MS);
    log = child_log(c);
    g_test_message("%s output:\n%s", c->log, log);
    g_clear_object(&c->proc);
    g_free(c->log);
}

static guint16 free_port(void)
{
    g_autoptr(GSocket) sock =
        g_socket_new(G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                     G_SOCKET_PROTOCOL_TCP, NULL);
    g_autoptr(GInetAddress) lo =
        g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
    g_autoptr(GSocketAddress) addr = g_inet_socket_address_new(lo, 0);
    g_autoptr(GSocketAddress) bound = NULL;
    g_autoptr(GError) err = NULL;

    g_assert_true(g_socket_bind(sock, addr, TRUE, &err));
    bound = g_socket_get_local_address(sock, &err);
    g_assert_no_error(err);
    return g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(bound));
}

/* Connect to 127.0.0.1:@port, retrying while the server starts. */
static VhChannelSocket *connect_retry(guint16 port, Child *server)
{
    g_autoptr(GInetAddress) lo =
        g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
    g_autoptr(GSocketAddress) addr = g_inet_socket_address_new(lo, port);
    gint64 deadline = g_get_monotonic_time() + TIMEOUT_MS * 1000;

    for (;;) {
        g_autoptr(VhChannelSocket) sock = vh_channel_socket_new();
        g_autoptr(GError) err = NULL;
        if (vh_channel_socket_connect_sync(sock, addr, &err)) {
            return g_steal_pointer(&sock);
        }
        if (g_get_monotonic_time() > deadline ||
            !g_subprocess_get_identifier(server->proc)) {
            g_autofree char *log = child_log(server);
            g_error("cannot connect to port %u: %s\n%s", port, err->message,
                    log);
        }
        g_usleep(50 * 1000);
    }
}

/* ---- the cases ---- */

static char *tmp_log(const Pki *pki, const char *name)
{
    g_autofree char *file =
        g_strdup_printf("%s-%u.log", name, g_test_rand_int_range(0, 1000000));
    return g_build_filename(pki->root, file, NULL);
}

/* Our client against a TLS server tool that echoes (s_server reverses). */
static void test_our_client(gconstpointer opaque)
{
    const Case *tc = opaque;
    const Pki *pki = &pkis[tc->pki];
    guint16 port = free_port();
    g_autofree char *portstr = g_strdup_printf("%u", port);
    g_autofree char *accept = g_strdup_printf("127.0.0.1:%u", port);
    g_autofree char *ca = path_in(pki->dir_server, "ca-cert.pem");
    g_autofree char *cert = path_in(pki->dir_server, "server-cert.pem");
    g_autofree char *key = path_in(pki->dir_server, "server-key.pem");
    g_autofree char *log = tmp_log(pki, tool_binary(tc->tool));
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    g_autoptr(VhTlsCreds) creds = NULL;
    g_autoptr(VhChannelSocket) sock = NULL;
    g_autoptr(VhChannelTls) tls = NULL;
    g_autoptr(GError) err = NULL;
    g_autofree char *line = NULL;
    Child server = {0};

    if (!have_program(tool_binary(tc->tool))) {
        g_test_skip_printf("%s is not installed", tool_binary(tc->tool));
        return;
    }
    if (tc->pki == PKI_CERTTOOL && certtool_error) {
        g_test_skip(certtool_error);
        return;
    }
    if (tc->tool == TOOL_GNUTLS_SERV && netns_error) {
        g_test_skip(netns_error);
        return;
    }
    if (tc->tool == TOOL_GNUTLS_SERV) {
        const char *a[] = {"gnutls-serv",
                           "--echo",
                           "-p",
                           portstr,
                           "--x509cafile",
                           ca,
                           "--x509certfile",
                           cert,
                           "--x509keyfile",
                           key};
        for (size_t i = 0; i < G_N_ELEMENTS(a); i++) {
            g_ptr_array_add(argv, (gpointer)a[i]);
        }
        if (tc->mutual) {
            g_ptr_array_add(argv, "--require-client-cert");
            g_ptr_array_add(argv, "--verify-client-cert");
        }
    } else {
        const char *a[] = {"openssl", "s_server", "-accept", accept, "-naccept",
                           "1",       "-rev",     "-cert",   cert,   "-key",
                           key,       "-CAfile",  ca};
        for (size_t i = 0; i < G_N_ELEMENTS(a); i++) {
            g_ptr_array_add(argv, (gpointer)a[i]);
        }
        if (tc->mutual) {
            g_ptr_array_add(argv, "-Verify");
            g_ptr_array_add(argv, "1");
            g_ptr_array_add(argv, "-verify_return_error");
        }
    }
    g_ptr_array_add(argv, NULL);
    child_start(&server, log, false, (const char *const *)argv->pdata);

    creds = tls_test_creds_x509(
        tc->mutual ? pki->dir_client : pki->dir_client_nocert,
        VH_TLS_CREDS_ENDPOINT_CLIENT, true, case_priority(tc), true);
    sock = connect_retry(port, &server);
    g_assert_true(vh_channel_set_blocking(VH_CHANNEL(sock), false, &err));
    tls = vh_channel_tls_new_client(VH_CHANNEL(sock), creds, "localhost", &err);
    g_assert_no_error(err);
    handshake(tls);
    check_protocol(tc, tls);
    g_assert_cmpstr(vh_channel_tls_get_peer_name(tls), ==, INTEROP_DN_SERVER);
    write_all(VH_CHANNEL(tls), "hello vmhost\n");
    line = read_line(VH_CHANNEL(tls));
    g_assert_cmpstr(line, ==,
                    tc->tool == TOOL_GNUTLS_SERV ? "hello vmhost\n"
                                                 : "tsohmv olleh\n");
    g_assert_true(vh_channel_close(VH_CHANNEL(tls), &err));
    child_stop(&server);
}

/* A TLS client tool against our server; checks the DN we see. */
static void test_our_server(gconstpointer opaque)
{
    const Case *tc = opaque;
    const Pki *pki = &pkis[tc->pki];
    g_autofree char *ca = path_in(pki->dir_client, "ca-cert.pem");
    g_autofree char *cert = path_in(pki->dir_client, "client-cert.pem");
    g_autofree char *key = path_in(pki->dir_client, "client-key.pem");
    g_autofree char *log = tmp_log(pki, tool_binary(tc->tool));
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    g_autoptr(VhTlsCreds) creds = NULL;
    g_autoptr(VhChannelSocket) listener = vh_channel_socket_new();
    g_autoptr(VhChannelSocket) sock = NULL;
    g_autoptr(VhChannelTls) tls = NULL;
    g_autoptr(GSocketAddress) local = NULL;
    g_autoptr(GError) err = NULL;
    g_autoptr(GInetAddress) lo = NULL;
    g_autoptr(GSocketAddress) addr = NULL;
    g_autofree char *portstr = NULL;
    g_autofree char *connect = NULL;
    g_autofree char *line = NULL;
    g_autofree char *out = NULL;
    GOutputStream *in;
    Child client = {0};
    guint16 port;

    if (!have_program(tool_binary(tc->tool))) {
        g_test_skip_printf("%s is not installed", tool_binary(tc->tool));
        return;
    }
    if (tc->pki == PKI_CERTTOOL && certtool_error) {
        g_test_skip(certtool_error);
        return;
    }
    lo = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
    addr = g_inet_socket_address_new(lo, 0);
    g_assert_true(vh_channel_socket_listen_sync(listener, addr, 4, &err));
    g_assert_no_error(err);
    local = vh_channel_socket_get_local_address(listener, &err);
    g_assert_no_error(err);
    port = g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(local));
    portstr = g_strdup_printf("%u", port);
    connect = g_strdup_printf("127.0.0.1:%u", port);

    if (tc->tool == TOOL_GNUTLS_CLI) {
        const char *a[] = {"gnutls-cli",   "-p", portstr,
                           "--x509cafile", ca,   "--verify-hostname",
                           "localhost"};
        for (size_t i = 0; i < G_N_ELEMENTS(a); i++) {
            g_ptr_array_add(argv, (gpointer)a[i]);
        }
        if (tc->mutual) {
            g_ptr_array_add(argv, "--x509certfile");
            g_ptr_array_add(argv, cert);
            g_ptr_array_add(argv, "--x509keyfile");
            g_ptr_array_add(argv, key);
        }
        g_ptr_array_add(argv, "127.0.0.1");
    } else {
        const char *a[] = {"openssl",
                           "s_client",
                           "-connect",
                           connect,
                           "-CAfile",
                           ca,
                           "-verify_return_error",
                           "-verify_hostname",
                           "localhost",
                           "-quiet"};
        for (size_t i = 0; i < G_N_ELEMENTS(a); i++) {
            g_ptr_array_add(argv, (gpointer)a[i]);
        }
        if (tc->mutual) {
            g_ptr_array_add(argv, "-cert");
            g_ptr_array_add(argv, cert);
            g_ptr_array_add(argv, "-key");
            g_ptr_array_add(argv, key);
        }
    }
    g_ptr_array_add(argv, NULL);
    child_start(&client, log, true, (const char *const *)argv->pdata);

    g_assert_true(vh_channel_set_blocking(VH_CHANNEL(listener), false, &err));
    g_assert_true(wait_channel(VH_CHANNEL(listener), G_IO_IN));
    sock = vh_channel_socket_accept(listener, &err);
    g_assert_no_error(err);
    g_assert_true(vh_channel_set_blocking(VH_CHANNEL(sock), false, &err));
    creds = tls_test_creds_x509(pki->dir_server, VH_TLS_CREDS_ENDPOINT_SERVER,
                                tc->mutual, case_priority(tc), true);
    tls = vh_channel_tls_new_server(VH_CHANNEL(sock), creds, NULL, &err);
    g_assert_no_error(err);
    handshake(tls);
    check_protocol(tc, tls);
    if (tc->mutual) {
        g_assert_cmpstr(vh_channel_tls_get_peer_name(tls), ==,
                        INTEROP_DN_CLIENT);
    } else {
        g_assert_null(vh_channel_tls_get_peer_name(tls));
    }

    /* the tool sends its stdin, we answer, then close with close-notify */
    in = g_subprocess_get_stdin_pipe(client.proc);
    g_assert_true(g_output_stream_write_all(in, "ping from tool\n", 15, NULL,
                                            NULL, &err));
    g_assert_true(g_output_stream_flush(in, NULL, &err));
    line = read_line(VH_CHANNEL(tls));
    g_assert_cmpstr(line, ==, "ping from tool\n");
    write_all(VH_CHANNEL(tls), "pong from vmhost\n");
    g_assert_true(vh_channel_close(VH_CHANNEL(tls), &err));
    g_output_stream_close(in, NULL, NULL);
    g_assert_true(child_wait(&client, TIMEOUT_MS));
    out = child_log(&client);
    if (!strstr(out, "pong from vmhost")) {
        g_error("%s did not print our reply:\n%s", tool_binary(tc->tool), out);
    }
    child_stop(&client);
}

/*
 * @c's output without s_server's own status lines, which its stdio
 * flushes into the middle of the data it prints as it reads it.
 */
static char *child_data(Child *c)
{
    static const char *const status[] = {"SSL_do_handshake -> 1\n",
                                         "Read BLOCK\n", "Write BLOCK\n"};
    g_autoptr(GString) out = g_string_new(NULL);
    g_autofree char *log = child_log(c);

    g_string_assign(out, log);
    for (size_t i = 0; i < G_N_ELEMENTS(status); i++) {
        g_string_replace(out, status[i], "", 0);
    }
    return g_string_free(g_steal_pointer(&out), FALSE);
}

/* Poll @c's output until it holds @text or TIMEOUT_MS passed. */
static bool child_log_has(Child *c, const char *text)
{
    gint64 deadline = g_get_monotonic_time() + TIMEOUT_MS * (gint64)1000;

    while (g_get_monotonic_time() < deadline) {
        g_autofree char *out = child_data(c);
        if (strstr(out, text)) {
            return true;
        }
        g_usleep(10000);
    }
    return false;
}

/* @lines numbered lines of about 64 bytes, tagged @tag. */
static char *numbered_lines(const char *tag, int lines)
{
    GString *s = g_string_new(NULL);

    for (int i = 0; i < lines; i++) {
        g_string_append_printf(s, "%s line %05d: the quick brown fox jumps\n",
                               tag, i);
    }
    return g_string_free(s, FALSE);
}

/*
 * vmhost seals and opens TLS 1.3 records itself (docs/tls-records.md):
 * openssl s_server, a record layer no one here wrote, reads 190 KB from
 * our client (a dozen full records and a short one), then sends a
 * KeyUpdate that asks for ours ("K" on its stdin) and a line under its
 * new keys, which we must read, and then reads 190 KB more under our
 * new keys.
 */
static void test_records_openssl(gconstpointer opaque)
{
    const char *suite = opaque;
    const Pki *pki = &pkis[PKI_OURS];
    guint16 port = free_port();
    g_autofree char *accept = g_strdup_printf("127.0.0.1:%u", port);
    g_autofree char *ca = path_in(pki->dir_server, "ca-cert.pem");
    g_autofree char *cert = path_in(pki->dir_server, "server-cert.pem");
    g_autofree char *key = path_in(pki->dir_server, "server-key.pem");
    g_autofree char *log = tmp_log(pki, "openssl-records");
    g_autofree char *before = numbered_lines("before", 3000);
    g_autofree char *after = numbered_lines("after", 3000);
    g_autofree char *line = NULL;
    g_autofree char *log_text = NULL;
    g_autoptr(VhTlsCreds) creds = NULL;
    g_autoptr(VhChannelSocket) sock = NULL;
    g_autoptr(VhChannelTls) tls = NULL;
    g_autoptr(GError) err = NULL;
    char buf[256];
    const char *argv[] = {
        "openssl",       "s_server", "-accept",      accept, "-naccept", "1",
        "-cert",         cert,       "-key",         key,    "-CAfile",  ca,
        "-ciphersuites", suite,      "-num_tickets", "0",    NULL};
    GOutputStream *in;
    Child server = {0};

    if (!have_program("openssl")) {
        g_test_skip("openssl is not installed");
        return;
    }
    child_start(&server, log, true, argv);
    creds = tls_test_creds_x509(pki->dir_client_nocert,
                                VH_TLS_CREDS_ENDPOINT_CLIENT, true,
                                TLS_TEST_PRIORITY_TLS13, true);
    sock = connect_retry(port, &server);
    g_assert_true(vh_channel_set_blocking(VH_CHANNEL(sock), false, &err));
    tls = vh_channel_tls_new_client(VH_CHANNEL(sock), creds, "localhost", &err);
    g_assert_no_error(err);
    handshake(tls);
    g_assert_cmpstr(vh_channel_tls_get_protocol(tls), ==, "TLS1.3");

    write_all(VH_CHANNEL(tls), before);
    if (!child_log_has(&server, before)) {
        g_autofree char *out = child_log(&server);
        g_error("s_server did not print all we sent (%zu bytes); it printed "
                "%zu bytes",
                strlen(before), strlen(out));
    }
    /*
     * s_server takes "K" as a command only alone in its read of stdin:
     * send the line once its KeyUpdate is here (our read takes it, answers
     * with ours, and finds no data yet).
     */
    in = g_subprocess_get_stdin_pipe(server.proc);
    g_assert_true(g_output_stream_write_all(in, "K\n", 2, NULL, NULL, &err));
    g_assert_true(g_output_stream_flush(in, NULL, &err));
    g_assert_true(wait_channel(VH_CHANNEL(tls), G_IO_IN));
    g_assert_cmpint(vh_channel_read(VH_CHANNEL(tls), buf, sizeof(buf), &err),
                    ==, VH_CHANNEL_ERR_BLOCK);
    g_assert_no_error(err);
    g_assert_true(g_output_stream_write_all(
        in, "from s_server under its new keys\n", 33, NULL, NULL, &err));
    g_assert_true(g_output_stream_flush(in, NULL, &err));
    line = read_line(VH_CHANNEL(tls));
    g_assert_cmpstr(line, ==, "from s_server under its new keys\n");
    write_all(VH_CHANNEL(tls), after);
    if (!child_log_has(&server, after)) {
        g_autofree char *out = child_log(&server);
        g_error("s_server did not print all we sent after the KeyUpdate; "
                "its output ends:\n%s",
                out + MAX(strlen(out), 2000) - 2000);
    }
    g_assert_true(vh_channel_close(VH_CHANNEL(tls), &err));
    /* -naccept 1: it ends, and its stdio says the KeyUpdate went out */
    g_assert_true(child_wait(&server, TIMEOUT_MS));
    log_text = child_log(&server);
    g_assert_nonnull(strstr(log_text, "SSL_do_handshake -> 1"));
    child_stop(&server);
}

/* ---- certificates ---- */

static void make_our_pki(Pki *pki)
{
    const char *dns[] = {"localhost", NULL};
    const char *ips[] = {"127.0.0.1", NULL};

    our_pki = tls_test_pki_new("vmhost interop CA");
    pki->root = g_strdup(our_pki->root);
    pki->dir_server = tls_test_pki_dir(our_pki, "server");
    tls_test_pki_issue_server(our_pki, pki->dir_server, INTEROP_DN_SERVER, dns,
                              ips, 0, 0);
    pki->dir_client = tls_test_pki_dir(our_pki, "client");
    tls_test_pki_issue_client(our_pki, pki->dir_client, INTEROP_DN_CLIENT, 0,
                              0);
    pki->dir_client_nocert = tls_test_pki_dir(our_pki, "client-nocert");
}

static bool certtool(GError **errp, ...)
{
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    g_autoptr(GSubprocess) proc = NULL;
    const char *arg;
    va_list ap;

    g_ptr_array_add(argv, "certtool");
    va_start(ap, errp);
    while ((arg = va_arg(ap, const char *))) {
        g_ptr_array_add(argv, (gpointer)arg);
    }
    va_end(ap);
    g_ptr_array_add(argv, NULL);
    proc = g_subprocess_newv((const char *const *)argv->pdata,
                             G_SUBPROCESS_FLAGS_STDOUT_SILENCE |
                                 G_SUBPROCESS_FLAGS_STDERR_SILENCE,
                             errp);
    return proc && g_subprocess_wait_check(proc, NULL, errp);
}

static void write_file(const char *dir, const char *name, const char *text)
{
    g_autofree char *path = path_in(dir, name);

    g_assert_true(g_file_set_contents(path, text, -1, NULL));
}

/* The QEMU documentation's certtool recipe, with ECDSA keys for speed. */
static bool make_certtool_pki(Pki *pki, GError **errp)
{
    const char *dirs[] = {"server", "client", "client-nocert"};
    g_autofree char *ca_key = NULL, *ca_cert = NULL, *t_ca = NULL;
    g_autofree char *t_server = NULL, *t_client = NULL;

    pki->root = g_dir_make_tmp("vh-interop-certtool-XXXXXX", errp);
    if (!pki->root) {
        return false;
    }
    write_file(pki->root, "ca.info",
               "cn = vmhost certtool CA\nca\ncert_signing_key\n"
               "expiration_days = 30\n");
    write_file(pki->root, "server.info",
               "country = UK\norganization = vmhost interop\ncn = "
               "localhost\ndns_name = localhost\nip_address = 127.0.0.1\n"
               "tls_www_server\nencryption_key\nsigning_key\n"
               "expiration_days = 30\n");
    write_file(pki->root, "client.info",
               "country = UK\norganization = vmhost interop\ncn = "
               "interop-client\ntls_www_client\nencryption_key\n"
               "signing_key\nexpiration_days = 30\n");
    ca_key = path_in(pki->root, "ca-key.pem");
    ca_cert = path_in(pki->root, "ca-cert.pem");
    t_ca = path_in(pki->root, "ca.info");
    t_server = path_in(pki->root, "server.info");
    t_client = path_in(pki->root, "client.info");
    if (!certtool(errp, "--generate-privkey", "--key-type=ecdsa", "--outfile",
                  ca_key, NULL) ||
        !certtool(errp, "--generate-self-signed", "--load-privkey", ca_key,
                  "--template", t_ca, "--outfile", ca_cert, NULL)) {
        return false;
    }
    for (size_t i = 0; i < G_N_ELEMENTS(dirs); i++) {
        g_autofree char *dir = path_in(pki->root, dirs[i]);
        g_autofree char *ca = path_in(dir, "ca-cert.pem");
        g_autofree char *text = NULL;
        g_assert_cmpint(g_mkdir(dir, 0700), ==, 0);
        g_assert_true(g_file_get_contents(ca_cert, &text, NULL, NULL));
        g_assert_true(g_file_set_contents(ca, text, -1, NULL));
    }
    pki->dir_server = path_in(pki->root, "server");
    pki->dir_client = path_in(pki->root, "client");
    pki->dir_client_nocert = path_in(pki->root, "client-nocert");
    for (int i = 0; i < 2; i++) {
        const char *dir = i ? pki->dir_client : pki->dir_server;
        const char *role = i ? "client" : "server";
        g_autofree char *kname = g_strdup_printf("%s-key.pem", role);
        g_autofree char *cname = g_strdup_printf("%s-cert.pem", role);
        g_autofree char *key = path_in(dir, kname);
        g_autofree char *cert = path_in(dir, cname);
        if (!certtool(errp, "--generate-privkey", "--key-type=ecdsa",
                      "--outfile", key, NULL) ||
            !certtool(errp, "--generate-certificate", "--load-privkey", key,
                      "--load-ca-certificate", ca_cert, "--load-ca-privkey",
                      ca_key, "--template", i ? t_client : t_server,
                      "--outfile", cert, NULL)) {
            return false;
        }
    }
    return true;
}

static void pki_clear(Pki *pki)
{
    g_free(pki->root);
    g_free(pki->dir_server);
    g_free(pki->dir_client);
    g_free(pki->dir_client_nocert);
}

int main(int argc, char **argv)
{
    static const char *pki_names[] = {"pki", "certtool"};
    static const char *tool_names[] = {"gnutls-serv", "openssl-s_server",
                                       "gnutls-cli", "openssl-s_client"};
    g_autoptr(GPtrArray) cases = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GError) err = NULL;
    int ret;

    enter_private_netns();
    g_test_init(&argc, &argv, NULL);
    make_our_pki(&pkis[PKI_OURS]);
    if (!have_program("certtool")) {
        certtool_error = g_strdup("certtool is not installed");
    } else if (!make_certtool_pki(&pkis[PKI_CERTTOOL], &err)) {
        certtool_error = g_strdup_printf("certtool failed: %s", err->message);
    }
    for (int t = 0; t < 4; t++) {
        for (int k = 0; k < 2; k++) {
            for (int m = 0; m < 2; m++) {
                Case *tc = g_new0(Case, 1);
                g_autofree char *path = NULL;
                tc->tool = t;
                tc->pki = k;
                tc->mutual = m;
                path =
                    g_strdup_printf("/interop/tls/%s/%s/%s", tool_names[t],
                                    pki_names[k], m ? "mutual" : "server-only");
                g_test_add_data_func(path, tc,
                                     t <= TOOL_OPENSSL_SERVER
                                         ? test_our_client
                                         : test_our_server);
                g_ptr_array_add(cases, tc);
            }
        }
    }
    for (int t = 0; t < 4; t++) {
        Case *tc = g_new0(Case, 1);
        g_autofree char *path =
            g_strdup_printf("/interop/tls/%s/pki/mutual-tls1.2", tool_names[t]);
        tc->tool = t;
        tc->pki = PKI_OURS;
        tc->mutual = true;
        tc->tls12 = true;
        g_test_add_data_func(path, tc,
                             t <= TOOL_OPENSSL_SERVER ? test_our_client
                                                      : test_our_server);
        g_ptr_array_add(cases, tc);
    }
    g_test_add_data_func("/interop/tls/openssl-s_server/records/aes-128-gcm",
                         "TLS_AES_128_GCM_SHA256", test_records_openssl);
    g_test_add_data_func("/interop/tls/openssl-s_server/records/aes-256-gcm",
                         "TLS_AES_256_GCM_SHA384", test_records_openssl);
    g_test_add_data_func(
        "/interop/tls/openssl-s_server/records/chacha20-poly1305",
        "TLS_CHACHA20_POLY1305_SHA256", test_records_openssl);
    ret = g_test_run();
    tls_test_pki_free(our_pki);
    pki_clear(&pkis[PKI_OURS]);
    vh_test_rm_rf(pkis[PKI_CERTTOOL].root);
    pki_clear(&pkis[PKI_CERTTOOL]);
    g_free(certtool_error);
    return ret;
}
