/*
 * vmhost-stream: push bytes through one libvmhost connection, plain TCP or
 * TLS with x509 credentials from a QEMU-layout directory, and report what was
 * negotiated and the rate. The demo (make run) and bench/tls-stream use it.
 *
 *   vmhost-stream server --listen HOST:PORT [--tls-dir DIR] [--priority P]
 *                 [--port-file F] [--rate-file F] [--quiet]
 *   vmhost-stream client --connect HOST:PORT --bytes SIZE [--tls-dir DIR]
 *                 [--hostname NAME] [--priority P] [--progress] [--quiet]
 *   vmhost-stream free-port HOST
 *
 * The server accepts one client, reads until the client's close-notify (or
 * plain EOF), and prints the rate it received at. With --tls-dir both ends
 * authenticate each other (the server's creds have verify-peer on).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmhost-config.h"
#include "vmhost/crypto/tls-creds-x509.h"
#include "vmhost/io/address.h"
#include "vmhost/io/channel-socket.h"
#include "vmhost/io/channel-tls.h"
#include "vmhost/util/conf.h"
#include "vmhost/util/size.h"

/* Default size of each read and write: fits in a core's L2 cache. */
#define DEFAULT_CHUNK "256K"

typedef struct {
    char *listen;
    char *connect;
    char *hostname;
    char *tls_dir;
    char *priority;
    char *port_file;
    char *rate_file;
    char *bytes;
    char *chunk;
    char *config;
    size_t chunk_size;
    gboolean progress;
    gboolean quiet;
} Options;

static void options_clear(Options *o)
{
    g_free(o->listen);
    g_free(o->connect);
    g_free(o->hostname);
    g_free(o->tls_dir);
    g_free(o->priority);
    g_free(o->port_file);
    g_free(o->rate_file);
    g_free(o->bytes);
    g_free(o->chunk);
    g_free(o->config);
}

static void say(const Options *o, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static void say(const Options *o, const char *fmt, ...)
{
    va_list ap;

    if (o->quiet) {
        return;
    }
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    fflush(stdout);
}

/*
 * Credentials are loaded before any socket is opened, so that a bad
 * directory or priority string is reported as such at startup, not hidden
 * behind a connection error. NULL without an error when TLS is off.
 */
static bool load_creds(const Options *o, VhTlsCredsEndpoint endpoint,
                       VhTlsCreds **out, GError **errp)
{
    *out = NULL;
    if (!o->tls_dir) {
        return true;
    }
    *out =
        g_initable_new(VH_TYPE_TLS_CREDS_X509, NULL, errp, "endpoint", endpoint,
                       "dir", o->tls_dir, "priority", o->priority, NULL);
    return *out != NULL;
}

/* Name @sock after its peer, wrap it in TLS when @creds are given and run
 * the handshake; returns the channel to use (transfer full). */
static VhChannel *secure(const Options *o, VhChannelSocket *sock,
                         VhTlsCreds *creds, const char *hostname, GError **errp)
{
    g_autoptr(GSocketAddress) peer =
        vh_channel_socket_get_remote_address(sock, NULL);
    g_autofree char *peer_str =
        peer ? vh_socket_address_to_string(peer) : g_strdup("?");
    g_autofree char *name = g_strdup_printf("connection with %s", peer_str);
    g_autofree char *tls_name = NULL;
    g_autoptr(VhChannelTls) tls = NULL;
    bool server;

    vh_channel_set_name(VH_CHANNEL(sock), name);
    /* Send each write, or each TLS record, as it is made. */
    vh_channel_set_delay(VH_CHANNEL(sock), false);
    if (!creds) {
        return VH_CHANNEL(g_object_ref(sock));
    }
    server = vh_tls_creds_get_endpoint(creds) == VH_TLS_CREDS_ENDPOINT_SERVER;
    if (server) {
        tls = vh_channel_tls_new_server(VH_CHANNEL(sock), creds, NULL, errp);
    } else {
        tls =
            vh_channel_tls_new_client(VH_CHANNEL(sock), creds, hostname, errp);
    }
    if (!tls) {
        return NULL;
    }
    tls_name = g_strdup_printf("TLS connection with %s", peer_str);
    vh_channel_set_name(VH_CHANNEL(tls), tls_name);
    if (!vh_channel_tls_handshake_sync(tls, errp)) {
        return NULL;
    }
    say(o, "%s: %s, %s, peer %s\n", server ? "server" : "client",
        vh_channel_tls_get_protocol(tls), vh_channel_tls_get_cipher(tls),
        vh_channel_tls_get_peer_name(tls));
    return VH_CHANNEL(g_steal_pointer(&tls));
}

static bool write_file(const char *path, const char *text, GError **errp)
{
    return !path || g_file_set_contents(path, text, -1, errp);
}

static bool run_server(const Options *o, GError **errp)
{
    g_autoptr(GSocketAddress) addr = NULL;
    g_autoptr(VhChannelSocket) listener = vh_channel_socket_new();
    g_autoptr(VhChannelSocket) client = NULL;
    g_autoptr(VhTlsCreds) creds = NULL;
    g_autoptr(VhChannel) ioc = NULL;
    g_autoptr(GSocketAddress) local = NULL;
    g_autofree char *buf = g_malloc(o->chunk_size);
    g_autofree char *port = NULL;
    g_autofree char *rate = NULL;
    g_autofree char *total_str = NULL;
    guint64 total = 0;
    gint64 start = 0;
    double secs;

    if (!load_creds(o, VH_TLS_CREDS_ENDPOINT_SERVER, &creds, errp)) {
        return false;
    }
    addr = vh_socket_address_parse(o->listen, errp);
    if (!addr || !vh_channel_socket_listen_sync(listener, addr, 1, errp)) {
        return false;
    }
    local = vh_channel_socket_get_local_address(listener, errp);
    if (!local) {
        return false;
    }
    port = g_strdup_printf(
        "%u", g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(local)));
    say(o, "server: listening on %s, port %s\n", o->listen, port);
    if (!write_file(o->port_file, port, errp)) {
        return false;
    }
    client = vh_channel_socket_accept(listener, errp);
    if (!client) {
        return false;
    }
    vh_channel_close(VH_CHANNEL(listener), NULL);
    ioc = secure(o, client, creds, NULL, errp);
    if (!ioc) {
        return false;
    }
    for (;;) {
        gssize n = vh_channel_read(ioc, buf, o->chunk_size, errp);
        if (n < 0) {
            return false;
        }
        if (n == 0) {
            break;
        }
        if (total == 0) {
            start = g_get_monotonic_time();
        }
        total += n;
    }
    secs = (g_get_monotonic_time() - start) / 1e6;
    total_str = vh_size_format(total);
    rate = g_strdup_printf("%.3f", secs > 0 ? total / secs / 1e9 : 0.0);
    say(o, "server: received %s in %.2f s: %s GB/s\n", total_str, secs, rate);
    if (!write_file(o->rate_file, rate, errp)) {
        return false;
    }
    return vh_channel_close(ioc, errp);
}

static void show_progress(const Options *o, guint64 done, guint64 total,
                          gint64 start, bool last)
{
    double secs = (g_get_monotonic_time() - start) / 1e6;
    g_autofree char *d = vh_size_format(done);
    bool tty = isatty(STDOUT_FILENO);

    if (!o->progress || o->quiet) {
        return;
    }
    printf("%sclient: %5.1f%%  %s  %.2f GB/s%s", tty ? "\r" : "",
           total ? 100.0 * done / total : 100.0, d,
           secs > 0 ? done / secs / 1e9 : 0.0, tty && !last ? "" : "\n");
    fflush(stdout);
}

static bool run_client(const Options *o, GError **errp)
{
    g_autoptr(GSocketAddress) addr = NULL;
    g_autoptr(VhChannelSocket) sock = vh_channel_socket_new();
    g_autoptr(VhTlsCreds) creds = NULL;
    g_autoptr(VhChannel) ioc = NULL;
    g_autofree char *buf = g_malloc(o->chunk_size);
    g_autofree char *total_str = NULL;
    g_autofree char *hostname = NULL;
    guint64 total = 0, done = 0;
    gint64 start, last_report;
    double secs;

    if (!o->bytes || !vh_size_parse(o->bytes, 'B', &total, errp)) {
        if (!o->bytes) {
            g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                        "client: --bytes SIZE is required");
        }
        return false;
    }
    /* Data that does not compress or repeat in a way anything could skip. */
    for (size_t i = 0; i < o->chunk_size / sizeof(guint32); i++) {
        ((guint32 *)buf)[i] = g_random_int();
    }
    if (!load_creds(o, VH_TLS_CREDS_ENDPOINT_CLIENT, &creds, errp)) {
        return false;
    }
    addr = vh_socket_address_parse(o->connect, errp);
    if (!addr || !vh_channel_socket_connect_sync(sock, addr, errp)) {
        return false;
    }
    if (!o->hostname && G_IS_INET_SOCKET_ADDRESS(addr)) {
        /* Check the server against the address we dialled, as QEMU does. */
        GInetAddress *ip =
            g_inet_socket_address_get_address(G_INET_SOCKET_ADDRESS(addr));
        hostname = g_inet_address_to_string(ip);
    }
    ioc = secure(o, sock, creds, o->hostname ? o->hostname : hostname, errp);
    if (!ioc) {
        return false;
    }
    start = last_report = g_get_monotonic_time();
    while (done < total) {
        size_t len = MIN((guint64)o->chunk_size, total - done);
        if (!vh_channel_write_all(ioc, buf, len, errp)) {
            return false;
        }
        done += len;
        if (g_get_monotonic_time() - last_report > G_USEC_PER_SEC / 2) {
            last_report = g_get_monotonic_time();
            show_progress(o, done, total, start, false);
        }
    }
    show_progress(o, done, total, start, true);
    /* close sends the TLS close-notify; the server's EOF is clean. */
    if (!vh_channel_close(ioc, errp)) {
        return false;
    }
    secs = (g_get_monotonic_time() - start) / 1e6;
    total_str = vh_size_format(total);
    say(o, "client: sent %s in %.2f s: %.3f GB/s\n", total_str, secs,
        secs > 0 ? total / secs / 1e9 : 0.0);
    return true;
}

/* Print a port the kernel considers free on HOST (for peers that cannot
 * report the port they bound, like socat). */
static bool run_free_port(const char *host, GError **errp)
{
    g_autofree char *spec = g_strdup_printf("%s:0", host);
    g_autoptr(GSocketAddress) addr = vh_socket_address_parse(spec, errp);
    g_autoptr(VhChannelSocket) sock = vh_channel_socket_new();
    g_autoptr(GSocketAddress) local = NULL;

    if (!addr || !vh_channel_socket_listen_sync(sock, addr, 1, errp)) {
        return false;
    }
    local = vh_channel_socket_get_local_address(sock, errp);
    if (!local) {
        return false;
    }
    printf("%u\n",
           g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(local)));
    return true;
}

static bool chunk_option(Options *o, GError **errp)
{
    guint64 n;

    if (!vh_size_parse(o->chunk ? o->chunk : DEFAULT_CHUNK, 'B', &n, errp)) {
        return false;
    }
    if (n < 4096 || n > 64 * 1024 * 1024) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "'%s' is outside 4K..64M", o->chunk);
        return false;
    }
    o->chunk_size = n;
    return true;
}

/*
 * Library warnings (the TLS priority baseline, for one) in the same
 * "program: kind: message" form as the program's own errors, not GLib's
 * "** (prog:pid): WARNING **" banner.
 */
static GLogWriterOutput log_writer(GLogLevelFlags level,
                                   const GLogField *fields, gsize n_fields,
                                   gpointer opaque)
{
    g_autofree char *text =
        vh_log_format("vmhost-stream", level, fields, n_fields);

    if (text) {
        fprintf(stderr, "%s\n", text);
    }
    return G_LOG_WRITER_HANDLED;
}

int main(int argc, char **argv)
{
    Options o = {0};
    GOptionEntry entries[] = {
        {"listen", 0, 0, G_OPTION_ARG_STRING, &o.listen,
         "server: address to listen on", "HOST:PORT"},
        {"connect", 0, 0, G_OPTION_ARG_STRING, &o.connect,
         "client: address to connect to", "HOST:PORT"},
        {"hostname", 0, 0, G_OPTION_ARG_STRING, &o.hostname,
         "client: name to check the server certificate against", "NAME"},
        {"tls-dir", 0, 0, G_OPTION_ARG_FILENAME, &o.tls_dir,
         "use TLS with the x509 credentials in DIR (QEMU layout)", "DIR"},
        {"priority", 0, 0, G_OPTION_ARG_STRING, &o.priority,
         "GnuTLS priority string", "STRING"},
        {"port-file", 0, 0, G_OPTION_ARG_FILENAME, &o.port_file,
         "server: write the bound port to FILE", "FILE"},
        {"rate-file", 0, 0, G_OPTION_ARG_FILENAME, &o.rate_file,
         "server: write the receive rate in GB/s to FILE", "FILE"},
        {"bytes", 0, 0, G_OPTION_ARG_STRING, &o.bytes,
         "client: how much to send (4G, 512M, ...)", "SIZE"},
        {"chunk", 0, 0, G_OPTION_ARG_STRING, &o.chunk,
         "size of each read or write (default " DEFAULT_CHUNK ")", "SIZE"},
        {"progress", 0, 0, G_OPTION_ARG_NONE, &o.progress,
         "client: show progress", NULL},
        {"quiet", 'q', 0, G_OPTION_ARG_NONE, &o.quiet, "print errors only",
         NULL},
        {"config", 0, 0, G_OPTION_ARG_FILENAME, &o.config,
         "read settings (tls_priority, ...) from FILE instead of "
         "$VMHOST_CONF or " VH_HOST_CONF_DEFAULT_PATH,
         "FILE"},
        {NULL},
    };
    g_autoptr(GOptionContext) ctx =
        g_option_context_new("server|client|free-port [HOST]");
    g_autoptr(GError) err = NULL;
    const char *mode;
    bool ok;

    g_log_set_writer_func(log_writer, NULL, NULL);
    g_option_context_add_main_entries(ctx, entries, NULL);
    g_option_context_set_summary(
        ctx, "Stream bytes through one libvmhost connection (plain or TLS).");
    if (!g_option_context_parse(ctx, &argc, &argv, &err)) {
        fprintf(stderr, "vmhost-stream: %s\n", err->message);
        return 2;
    }
    if (!vh_host_conf_load(o.config, &err)) {
        fprintf(stderr, "vmhost-stream: %s\n", err->message);
        options_clear(&o);
        return 2;
    }
    if (!chunk_option(&o, &err)) {
        fprintf(stderr, "vmhost-stream: --chunk: %s\n", err->message);
        options_clear(&o);
        return 2;
    }
    mode = argc > 1 ? argv[1] : "";
    if (g_str_equal(mode, "server") && o.listen) {
        ok = run_server(&o, &err);
    } else if (g_str_equal(mode, "client") && o.connect) {
        ok = run_client(&o, &err);
    } else if (g_str_equal(mode, "free-port") && argc == 3) {
        ok = run_free_port(argv[2], &err);
    } else {
        fprintf(stderr, "vmhost-stream: usage: vmhost-stream server --listen "
                        "HOST:PORT | client --connect HOST:PORT --bytes SIZE "
                        "| free-port HOST (see --help)\n");
        options_clear(&o);
        return 2;
    }
    options_clear(&o);
    if (!ok) {
        fprintf(stderr, "vmhost-stream %s: %s\n", mode, err->message);
        return 1;
    }
    return 0;
}
