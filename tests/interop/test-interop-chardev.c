/*
 * Interop: gnutls-cli and openssl s_client talk to a vmhost TLS chardev
 * server, the seed's connectivity check (compat-qemu.md, "Socket character
 * devices"). An echo frontend returns what the tool sends; server-only and
 * mutual authentication; a client DN the authz object denies is refused
 * and reported. The server binds 127.0.0.1 only and the tools are clients,
 * so no network namespace is needed. Every child is killed and reaped.
 */
#include "crypto-testutil.h"
#include "tls-testutil.h"
#include "vmhost/authz/authz-simple.h"
#include "vmhost/chardev/char-socket.h"
#include "vmhost/object/object.h"

#include <signal.h>
#include <string.h>
#include <sys/prctl.h>

#define TIMEOUT_US  (15 * G_USEC_PER_SEC)
#define DN_SERVER   "C=UK,O=vmhost interop,CN=localhost"
#define DN_CLIENT_A "C=UK,O=vmhost interop,CN=client-a"
#define DN_CLIENT_B "C=UK,O=vmhost interop,CN=client-b"

typedef enum { TOOL_GNUTLS_CLI, TOOL_OPENSSL } Tool;
typedef enum { MODE_SERVER_ONLY, MODE_MUTUAL, MODE_DENIED } Mode;

typedef struct {
    Tool tool;
    Mode mode;
} Case;

static TlsTestPki *pki;
static char *dir_server, *dir_client_a, *dir_client_b;

/* ---- the echo frontend ---- */

typedef struct {
    VhChardev *chr;
    GString *in;
    int opened, closed;
} Echo;

static size_t echo_can_read(void *opaque)
{
    return 4096;
}

static void echo_read(void *opaque, const guint8 *buf, size_t len)
{
    Echo *e = opaque;

    g_string_append_len(e->in, (const char *)buf, len);
    g_assert_cmpint(vh_chardev_write(e->chr, buf, len, NULL), ==, len);
}

static void echo_event(void *opaque, VhChardevEvent ev)
{
    Echo *e = opaque;

    if (ev == VH_CHARDEV_EVENT_OPENED) {
        e->opened++;
    } else {
        e->closed++;
    }
}

/* ---- children ---- */

static void child_setup(gpointer opaque)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
}

static char *read_log(const char *path)
{
    char *text = NULL;

    return g_file_get_contents(path, &text, NULL, NULL) ? text : g_strdup("");
}

static bool log_has(const char *path, const char *what)
{
    g_autofree char *text = read_log(path);

    return strstr(text, what) != NULL;
}

/* Iterate the default context until @done(opaque) or the timeout. */
static bool run_until(bool (*done)(gpointer), gpointer opaque)
{
    gint64 deadline = g_get_monotonic_time() + TIMEOUT_US;

    while (!done(opaque)) {
        if (g_get_monotonic_time() > deadline) {
            return false;
        }
        g_main_context_iteration(NULL, FALSE);
        g_usleep(2000);
    }
    return true;
}

static bool proc_exited(gpointer opaque)
{
    return g_subprocess_get_identifier(opaque) == NULL;
}

/* Kill (if needed) and reap @proc, keeping the chardevs running. */
static void child_reap(GSubprocess *proc)
{
    if (!run_until(proc_exited, proc)) {
        g_subprocess_force_exit(proc);
        g_subprocess_wait(proc, NULL, NULL);
    }
}

typedef struct {
    const char *log;
    const char *text;
} LogWait;

static bool log_ready(gpointer opaque)
{
    LogWait *w = opaque;

    return log_has(w->log, w->text);
}

static bool got_error(gpointer opaque)
{
    return vh_chardev_get_last_error(opaque, NULL) != NULL;
}

static bool echo_has_ping(gpointer opaque)
{
    Echo *e = opaque;

    return strstr(e->in->str, "ping from tool\n") != NULL;
}

static GPtrArray *tool_argv(const Case *tc, guint16 port)
{
    const char *dir = tc->mode == MODE_DENIED ? dir_client_b : dir_client_a;
    GPtrArray *argv = g_ptr_array_new_with_free_func(g_free);
    g_autofree char *ca = g_build_filename(dir, "ca-cert.pem", NULL);
    g_autofree char *cert = g_build_filename(dir, "client-cert.pem", NULL);
    g_autofree char *key = g_build_filename(dir, "client-key.pem", NULL);
    bool with_cert = tc->mode != MODE_SERVER_ONLY;

    if (tc->tool == TOOL_GNUTLS_CLI) {
        g_ptr_array_add(argv, g_strdup("gnutls-cli"));
        g_ptr_array_add(argv, g_strdup("--priority=NORMAL"));
        g_ptr_array_add(argv, g_strdup("-p"));
        g_ptr_array_add(argv, g_strdup_printf("%u", port));
        g_ptr_array_add(argv, g_strdup_printf("--x509cafile=%s", ca));
        if (with_cert) {
            g_ptr_array_add(argv, g_strdup_printf("--x509certfile=%s", cert));
            g_ptr_array_add(argv, g_strdup_printf("--x509keyfile=%s", key));
        }
        g_ptr_array_add(argv, g_strdup("127.0.0.1"));
    } else {
        g_ptr_array_add(argv, g_strdup("openssl"));
        g_ptr_array_add(argv, g_strdup("s_client"));
        g_ptr_array_add(argv, g_strdup("-connect"));
        g_ptr_array_add(argv, g_strdup_printf("127.0.0.1:%u", port));
        g_ptr_array_add(argv, g_strdup("-CAfile"));
        g_ptr_array_add(argv, g_strdup(ca));
        g_ptr_array_add(argv, g_strdup("-verify_return_error"));
        g_ptr_array_add(argv, g_strdup("-verify_ip"));
        g_ptr_array_add(argv, g_strdup("127.0.0.1"));
        g_ptr_array_add(argv, g_strdup("-quiet"));
        if (with_cert) {
            g_ptr_array_add(argv, g_strdup("-cert"));
            g_ptr_array_add(argv, g_strdup(cert));
            g_ptr_array_add(argv, g_strdup("-key"));
            g_ptr_array_add(argv, g_strdup(key));
        }
    }
    g_ptr_array_add(argv, NULL);
    return argv;
}

static void test_tool(gconstpointer opaque)
{
    const Case *tc = opaque;
    const char *bin = tc->tool == TOOL_GNUTLS_CLI ? "gnutls-cli" : "openssl";
    g_autofree char *path = g_find_program_in_path(bin);
    g_autofree char *log = NULL, *cmd = NULL, *out = NULL;
    g_autoptr(GSubprocessLauncher) l = NULL;
    g_autoptr(GSubprocess) proc = NULL;
    g_autoptr(GPtrArray) argv = NULL;
    g_autoptr(GError) err = NULL;
    VhChardevSocketOptions o = VH_CHARDEV_SOCKET_OPTIONS_INIT;
    GOutputStream *in;
    Echo echo = {0};
    LogWait pong;

    if (!path) {
        g_test_skip_printf("%s is not installed", bin);
        return;
    }
    o.host = "127.0.0.1";
    o.port = "0";
    o.server = true;
    o.tls_creds = tc->mode == MODE_SERVER_ONLY ? "ic-srv" : "ic-srv-mutual";
    o.tls_authz = tc->mode == MODE_SERVER_ONLY ? NULL : "ic-allow-a";
    echo.chr = vh_chardev_socket_new("console0", &o, NULL, &err);
    g_assert_no_error(err);
    echo.in = g_string_new(NULL);
    vh_chardev_set_handlers(echo.chr, echo_can_read, echo_read, echo_event,
                            &echo, NULL);

    argv =
        tool_argv(tc, vh_chardev_socket_get_port(VH_CHARDEV_SOCKET(echo.chr)));
    cmd = g_strjoinv(" ", (char **)argv->pdata);
    g_test_message("running: %s", cmd);
    log = g_build_filename(pki->root, "tool.log", NULL);
    l = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDIN_PIPE |
                                  G_SUBPROCESS_FLAGS_STDERR_MERGE);
    g_subprocess_launcher_set_stdout_file_path(l, log);
    g_subprocess_launcher_set_child_setup(l, child_setup, NULL, NULL);
    proc =
        g_subprocess_launcher_spawnv(l, (const char *const *)argv->pdata, &err);
    g_assert_no_error(err);

    if (tc->mode == MODE_DENIED) {
        g_assert_true(run_until(got_error, echo.chr));
        g_test_message("server: %s", vh_chardev_get_last_error(echo.chr, NULL));
        g_assert_nonnull(
            strstr(vh_chardev_get_last_error(echo.chr, NULL), DN_CLIENT_B));
        g_assert_cmpint(echo.opened, ==, 0);
    } else {
        in = g_subprocess_get_stdin_pipe(proc);
        g_assert_true(g_output_stream_write_all(in, "ping from tool\n", 15,
                                                NULL, NULL, &err));
        g_assert_true(g_output_stream_flush(in, NULL, &err));
        if (!run_until(echo_has_ping, &echo)) {
            out = read_log(log);
            g_error("the chardev did not receive the tool's line:\n%s", out);
        }
        g_assert_cmpint(echo.opened, ==, 1);
        /* the echo reached the tool: bytes went both ways */
        pong.log = log;
        pong.text = "ping from tool";
        if (!run_until(log_ready, &pong)) {
            out = read_log(log);
            g_error("%s did not print the echo:\n%s", bin, out);
        }
    }
    /* closing sends close-notify, which ends the tool */
    vh_chardev_close(echo.chr);
    child_reap(proc);
    g_free(out);
    out = read_log(log);
    g_test_message("%s output:\n%s", bin, out);
    g_object_unref(echo.chr);
    g_string_free(echo.in, TRUE);
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

    pki = tls_test_pki_new("vmhost chardev interop CA");
    dir_server = tls_test_pki_dir(pki, "server");
    dir_client_a = tls_test_pki_dir(pki, "client-a");
    dir_client_b = tls_test_pki_dir(pki, "client-b");
    tls_test_pki_issue_server(pki, dir_server, DN_SERVER, dns, ips, 0, 0);
    tls_test_pki_issue_client(pki, dir_client_a, DN_CLIENT_A, 0, 0);
    tls_test_pki_issue_client(pki, dir_client_b, DN_CLIENT_B, 0, 0);
    add_object("ic-srv",
               tls_test_creds_x509(dir_server, VH_TLS_CREDS_ENDPOINT_SERVER,
                                   false, NULL, true));
    add_object("ic-srv-mutual",
               tls_test_creds_x509(dir_server, VH_TLS_CREDS_ENDPOINT_SERVER,
                                   true, NULL, true));
    add_object("ic-allow-a", vh_authz_simple_new(DN_CLIENT_A));
}

int main(int argc, char **argv)
{
    static const Case cases[] = {
        {TOOL_GNUTLS_CLI, MODE_SERVER_ONLY}, {TOOL_GNUTLS_CLI, MODE_MUTUAL},
        {TOOL_GNUTLS_CLI, MODE_DENIED},      {TOOL_OPENSSL, MODE_SERVER_ONLY},
        {TOOL_OPENSSL, MODE_MUTUAL},         {TOOL_OPENSSL, MODE_DENIED},
    };
    static const char *const tools[] = {"gnutls-cli", "openssl-s_client"};
    static const char *const modes[] = {"server-only", "mutual", "denied-dn"};
    int rc;

    g_test_init(&argc, &argv, NULL);
    /* refused handshakes are g_warning()s by design: not fatal here */
    g_log_set_always_fatal(G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
    setup_pki();
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *name =
            g_strdup_printf("/interop/chardev/%s/%s", tools[cases[i].tool],
                            modes[cases[i].mode]);
        g_test_add_data_func(name, &cases[i], test_tool);
    }
    rc = g_test_run();
    tls_test_pki_free(pki);
    g_free(dir_server);
    g_free(dir_client_a);
    g_free(dir_client_b);
    return rc;
}
