/*
 * VhChannelTls over socketpairs: handshakes driven by one GMainContext on
 * non-blocking ends and by a thread on blocking ends, the conformance
 * harness, the pending-data wake-up, and clean vs premature EOF.
 */
#include "channel-conformance.h"
#include "tls-testutil.h"
#include "vmhost/io/channel-socket.h"
#include "vmhost/io/channel-tls.h"

#include <sys/socket.h>

#define SERVER_DN "C=UK,O=vmhost test,CN=server.example.org"
#define CLIENT_DN "C=UK,O=vmhost test,CN=client1"

static TlsTestPki *pki;
static TlsTestPki *other_pki;
static char *dir_server, *dir_client, *dir_client_otherca;

typedef struct {
    VhChannelTls *client;
    VhChannelTls *server;
} TlsPair;

typedef struct {
    unsigned calls;
    bool ok;
    GError *err;
} HandshakeResult;

static void handshake_cb(GObject *src, GAsyncResult *res, gpointer opaque)
{
    HandshakeResult *r = opaque;

    r->calls++;
    r->ok = vh_channel_tls_handshake_finish(VH_CHANNEL_TLS(src), res, &r->err);
}

/* Two TLS ends over a non-blocking socketpair, handshake not yet run. */
static void tls_pair_new(TlsPair *p, const char *priority,
                         const char *client_dir)
{
    g_autoptr(VhChannelSocket) a = NULL;
    g_autoptr(VhChannelSocket) b = NULL;
    g_autoptr(VhTlsCreds) ccreds = tls_test_creds_x509(
        client_dir, VH_TLS_CREDS_ENDPOINT_CLIENT, true, priority, true);
    g_autoptr(VhTlsCreds) screds = tls_test_creds_x509(
        dir_server, VH_TLS_CREDS_ENDPOINT_SERVER, true, priority, true);
    g_autoptr(GError) err = NULL;

    g_assert_true(vh_channel_socket_pair(&a, &b, &err));
    g_assert_true(vh_channel_set_blocking(VH_CHANNEL(a), false, &err));
    g_assert_true(vh_channel_set_blocking(VH_CHANNEL(b), false, &err));
    p->client = vh_channel_tls_new_client(VH_CHANNEL(a), ccreds,
                                          "server.example.org", &err);
    g_assert_no_error(err);
    p->server = vh_channel_tls_new_server(VH_CHANNEL(b), screds, NULL, &err);
    g_assert_no_error(err);
    vh_channel_set_name(VH_CHANNEL(p->client), "tls client");
    vh_channel_set_name(VH_CHANNEL(p->server), "tls server");
}

/* Both handshakes on one context, each callback exactly once. */
static void tls_pair_handshake(TlsPair *p, HandshakeResult *cr,
                               HandshakeResult *sr)
{
    g_autoptr(GMainContext) ctx = g_main_context_new();
    gint64 deadline = g_get_monotonic_time() + 20 * G_USEC_PER_SEC;

    g_main_context_push_thread_default(ctx);
    vh_channel_tls_handshake(p->client, NULL, handshake_cb, cr);
    vh_channel_tls_handshake(p->server, NULL, handshake_cb, sr);
    /* never synchronously from within the call */
    g_assert_cmpuint(cr->calls + sr->calls, ==, 0);
    while (cr->calls == 0 || sr->calls == 0) {
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        g_main_context_iteration(ctx, TRUE);
    }
    while (g_main_context_iteration(ctx, FALSE)) {
    }
    g_main_context_pop_thread_default(ctx);
    g_assert_cmpuint(cr->calls, ==, 1);
    g_assert_cmpuint(sr->calls, ==, 1);
}

static void tls_pair_connect(TlsPair *p, const char *priority)
{
    HandshakeResult cr = {0}, sr = {0};

    tls_pair_new(p, priority, dir_client);
    tls_pair_handshake(p, &cr, &sr);
    g_assert_no_error(cr.err);
    g_assert_no_error(sr.err);
    g_assert_true(cr.ok && sr.ok);
}

static void tls_pair_free(TlsPair *p)
{
    g_clear_object(&p->client);
    g_clear_object(&p->server);
}

static void test_handshake_async(const char *priority, const char *protocol)
{
    TlsPair p;

    tls_pair_connect(&p, priority);
    g_assert_cmpstr(vh_channel_tls_get_protocol(p.client), ==, protocol);
    g_assert_cmpstr(vh_channel_tls_get_protocol(p.server), ==, protocol);
    g_assert_cmpstr(vh_channel_tls_get_peer_name(p.client), ==, SERVER_DN);
    g_assert_cmpstr(vh_channel_tls_get_peer_name(p.server), ==, CLIENT_DN);
    g_assert_nonnull(vh_channel_tls_get_cipher(p.client));
    g_assert_true(VH_IS_TLS_SESSION(vh_channel_tls_get_session(p.client)));
    g_assert_true(VH_IS_CHANNEL_SOCKET(vh_channel_tls_get_master(p.client)));
    g_assert_false(vh_channel_get_blocking(VH_CHANNEL(p.client)));
    g_assert_false(vh_channel_has_feature(VH_CHANNEL(p.client),
                                          VH_CHANNEL_FEATURE_FD_PASS));
    g_assert_true(vh_channel_has_feature(VH_CHANNEL(p.client),
                                         VH_CHANNEL_FEATURE_SHUTDOWN));
    /* cork and delay act on the master; data still flows afterwards */
    vh_channel_set_delay(VH_CHANNEL(p.client), false);
    vh_channel_set_cork(VH_CHANNEL(p.client), true);
    vh_channel_set_cork(VH_CHANNEL(p.client), false);
    tls_pair_free(&p);
}

static void test_handshake_async_tls12(void)
{
    test_handshake_async(TLS_TEST_PRIORITY_TLS12, "TLS1.2");
}

static void test_handshake_async_tls13(void)
{
    test_handshake_async(TLS_TEST_PRIORITY_TLS13, "TLS1.3");
}

static void test_handshake_async_failure(void)
{
    HandshakeResult cr = {0}, sr = {0};
    TlsPair p;

    tls_pair_new(&p, NULL, dir_client_otherca);
    tls_pair_handshake(&p, &cr, &sr);
    g_assert_false(cr.ok);
    g_assert_error(cr.err, VH_ERROR, VH_ERROR_TLS_PEER);
    g_assert_nonnull(strstr(cr.err->message, "tls client"));
    g_assert_nonnull(strstr(cr.err->message, "not signed by a trusted CA"));
    g_test_message("client: %s", cr.err->message);
    if (sr.err) {
        g_test_message("server: %s", sr.err->message);
    }
    g_clear_error(&cr.err);
    g_clear_error(&sr.err);
    tls_pair_free(&p);
}

static void test_handshake_cancel(void)
{
    g_autoptr(GMainContext) ctx = g_main_context_new();
    g_autoptr(GCancellable) cancel = g_cancellable_new();
    HandshakeResult cr = {0};
    TlsPair p;

    tls_pair_new(&p, NULL, dir_client);
    g_main_context_push_thread_default(ctx);
    /* the server never answers: only the cancellation ends this */
    vh_channel_tls_handshake(p.client, cancel, handshake_cb, &cr);
    while (g_main_context_iteration(ctx, FALSE)) {
    }
    g_assert_cmpuint(cr.calls, ==, 0);
    g_cancellable_cancel(cancel);
    while (cr.calls == 0) {
        g_main_context_iteration(ctx, TRUE);
    }
    g_main_context_pop_thread_default(ctx);
    g_assert_error(cr.err, G_IO_ERROR, G_IO_ERROR_CANCELLED);
    g_clear_error(&cr.err);
    tls_pair_free(&p);
}

static gpointer cancel_soon(gpointer opaque)
{
    g_usleep(g_random_int_range(0, 300));
    g_cancellable_cancel(opaque);
    return NULL;
}

/*
 * Cancelled from another thread, as migrate_cancel does, racing the
 * waiting thread that ends the handshake and drops its cancel source:
 * many rounds, so that a source lost in the race shows as a leak in the
 * sanitizer build.
 */
static void test_handshake_cancel_other_thread(void)
{
    for (int round = 0; round < 100; round++) {
        g_autoptr(GMainContext) ctx = g_main_context_new();
        g_autoptr(GCancellable) cancel = g_cancellable_new();
        HandshakeResult cr = {0};
        TlsPair p;
        GThread *t;

        tls_pair_new(&p, NULL, dir_client);
        g_main_context_push_thread_default(ctx);
        vh_channel_tls_handshake(p.client, cancel, handshake_cb, &cr);
        t = g_thread_new("cancel", cancel_soon, cancel);
        while (cr.calls == 0) {
            g_main_context_iteration(ctx, TRUE);
        }
        g_thread_join(t);
        g_main_context_pop_thread_default(ctx);
        g_assert_error(cr.err, G_IO_ERROR, G_IO_ERROR_CANCELLED);
        g_clear_error(&cr.err);
        tls_pair_free(&p);
    }
}

static gpointer server_thread(gpointer opaque)
{
    VhChannelTls *server = opaque;
    g_autoptr(GError) err = NULL;
    char buf[4096];

    g_assert_true(vh_channel_tls_handshake_sync(server, &err));
    g_assert_no_error(err);
    /* echo until EOF */
    for (;;) {
        gssize n = vh_channel_read(VH_CHANNEL(server), buf, sizeof(buf), &err);
        g_assert_no_error(err);
        if (n == 0) {
            break;
        }
        g_assert_true(vh_channel_write_all(VH_CHANNEL(server), buf, n, &err));
    }
    g_assert_true(vh_channel_close(VH_CHANNEL(server), &err));
    return NULL;
}

static void test_blocking_thread(void)
{
    g_autoptr(VhChannelSocket) a = NULL;
    g_autoptr(VhChannelSocket) b = NULL;
    g_autoptr(VhTlsCreds) ccreds = tls_test_creds_x509(
        dir_client, VH_TLS_CREDS_ENDPOINT_CLIENT, true, NULL, true);
    g_autoptr(VhTlsCreds) screds = tls_test_creds_x509(
        dir_server, VH_TLS_CREDS_ENDPOINT_SERVER, true, NULL, true);
    g_autoptr(VhChannelTls) client = NULL;
    g_autoptr(VhChannelTls) server = NULL;
    g_autoptr(GError) err = NULL;
    size_t len = 300000;
    g_autofree char *out = g_malloc(len);
    g_autofree char *in = g_malloc(len);
    GThread *th;

    for (size_t i = 0; i < len; i++) {
        out[i] = (char)(i * 13);
    }
    g_assert_true(vh_channel_socket_pair(&a, &b, &err));
    client = vh_channel_tls_new_client(VH_CHANNEL(a), ccreds,
                                       "server.example.org", &err);
    server = vh_channel_tls_new_server(VH_CHANNEL(b), screds, NULL, &err);
    g_assert_no_error(err);
    th = g_thread_new("tls-server", server_thread, server);
    g_assert_true(vh_channel_tls_handshake_sync(client, &err));
    g_assert_no_error(err);
    g_assert_cmpstr(vh_channel_tls_get_peer_name(client), ==, SERVER_DN);
    /* small pieces and a big one; the echo thread sends them back */
    g_assert_true(vh_channel_write_all(VH_CHANNEL(client), out, 10, &err));
    g_assert_true(vh_channel_read_all(VH_CHANNEL(client), in, 10, &err));
    for (size_t off = 10; off < len;) {
        size_t chunk = MIN(len - off, 65536);
        g_assert_true(
            vh_channel_write_all(VH_CHANNEL(client), out + off, chunk, &err));
        g_assert_true(
            vh_channel_read_all(VH_CHANNEL(client), in + off, chunk, &err));
        off += chunk;
    }
    g_assert_no_error(err);
    g_assert_cmpmem(in, len, out, len);
    g_assert_true(vh_channel_shutdown(VH_CHANNEL(client),
                                      VH_CHANNEL_SHUTDOWN_WRITE, &err));
    g_assert_cmpint(vh_channel_read(VH_CHANNEL(client), in, 1, &err), ==, 0);
    g_assert_no_error(err);
    g_thread_join(th);
}

static bool count_iter(GMainContext *ctx, size_t *counter, size_t want)
{
    gint64 deadline = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;

    while (*counter < want && g_get_monotonic_time() < deadline) {
        g_main_context_iteration(ctx, FALSE);
    }
    return *counter >= want;
}

typedef struct {
    size_t calls;
    size_t got;
    char buf[65536];
} ReadState;

static gboolean read_some(VhChannel *ioc, GIOCondition cond, gpointer opaque)
{
    ReadState *st = opaque;
    g_autoptr(GError) err = NULL;
    /* deliberately small reads: the rest stays decrypted in GnuTLS */
    gssize n = vh_channel_read(ioc, st->buf + st->got, 100, &err);

    g_assert_no_error(err);
    st->calls++;
    if (n > 0) {
        st->got += n;
    }
    return G_SOURCE_CONTINUE;
}

/* The socket under @tls, to poll, read or inject raw ciphertext. */
static int master_fd(VhChannelTls *tls)
{
    return vh_channel_socket_get_fd(
        VH_CHANNEL_SOCKET(vh_channel_tls_get_master(tls)));
}

static bool fd_readable(VhChannelTls *tls)
{
    GPollFD pfd = {.fd = master_fd(tls), .events = G_IO_IN};

    return g_poll(&pfd, 1, 0) == 1;
}

/*
 * A record is read whole from the socket but handed out 100 bytes at a
 * time: the master fd is idle, yet the watch must keep firing.
 */
static void test_pending_wakeup(void)
{
    g_autoptr(GMainContext) ctx = g_main_context_new();
    g_autoptr(GError) err = NULL;
    g_autofree char *out = g_malloc(3 * 16384);
    ReadState *st = g_new0(ReadState, 1);
    GSource *src;
    TlsPair p;

    tls_pair_connect(&p, NULL);
    for (size_t i = 0; i < 3 * 16384; i++) {
        out[i] = (char)i;
    }
    /* one small record first: afterwards the socket is empty */
    g_assert_cmpint(vh_channel_write(VH_CHANNEL(p.client), out, 1000, &err), ==,
                    1000);
    src = vh_channel_create_watch(VH_CHANNEL(p.server), G_IO_IN);
    g_source_set_callback(src, (GSourceFunc)(void (*)(void))read_some, st,
                          NULL);
    g_source_attach(src, ctx);
    g_assert_true(count_iter(ctx, &st->calls, 1));
    g_assert_cmpuint(st->got, ==, 100);
    g_assert_false(fd_readable(p.server));
    /* decrypted, in the channel or in GnuTLS (VMHOST_TLS_RECORDS=gnutls) */
    g_assert_cmpuint(vh_channel_get_read_ahead(VH_CHANNEL(p.server)), ==, 900);
    /* only the decrypted data can wake us now */
    g_assert_true(count_iter(ctx, &st->got, 1000));
    g_assert_cmpmem(st->buf, 1000, out, 1000);

    /* several full records, read a little at a time */
    g_assert_cmpint(vh_channel_write(VH_CHANNEL(p.client), out + 1000,
                                     3 * 16384 - 1000, &err),
                    >, 0);
    g_assert_no_error(err);
    g_assert_true(count_iter(ctx, &st->got, 3 * 16384));
    g_assert_cmpmem(st->buf, 3 * 16384, out, 3 * 16384);
    g_assert_false(fd_readable(p.server));
    g_source_destroy(src);
    g_source_unref(src);
    g_free(st);
    tls_pair_free(&p);
}

/* A source with no fds of its own that only holds a child, as the
 * chardev's read source holds a channel's watch. */
static gboolean holder_dispatch(GSource *src, GSourceFunc cb, gpointer data)
{
    return G_SOURCE_CONTINUE;
}

static GSourceFuncs holder_funcs = {.dispatch = holder_dispatch};

/* One non-blocking iteration; true if it dispatched anything. */
static bool iterate_once(GMainContext *ctx)
{
    return g_main_context_iteration(ctx, FALSE);
}

/*
 * Issue 11: a TLS watch costs no extra main loop iteration. A record that
 * reaches the socket is delivered by the very iteration whose poll sees
 * the fd ready (GLib dispatches the fd child before its parent), and data
 * GnuTLS already holds is delivered by every iteration with a zero poll
 * timeout, never after a poll sleep, also when the watch is itself the
 * child of another source (char-socket.c's read source). Counted, not
 * timed.
 */
static void test_dispatch_iterations(gconstpointer nested)
{
    g_autoptr(GMainContext) ctx = g_main_context_new();
    g_autoptr(GError) err = NULL;
    g_autofree char *out = g_malloc(1000);
    ReadState *st = g_new0(ReadState, 1);
    GSource *src, *holder = NULL;
    TlsPair p;

    tls_pair_connect(&p, NULL);
    memset(out, 'x', 1000);
    src = vh_channel_create_watch(VH_CHANNEL(p.server), G_IO_IN);
    g_source_set_callback(src, (GSourceFunc)(void (*)(void))read_some, st,
                          NULL);
    if (nested) {
        holder = g_source_new(&holder_funcs, sizeof(GSource));
        g_source_add_child_source(holder, src);
        g_source_attach(holder, ctx);
    } else {
        g_source_attach(src, ctx);
    }
    /* nothing to read: an iteration dispatches nothing */
    g_assert_false(iterate_once(ctx));
    g_assert_cmpuint(st->calls, ==, 0);

    /* a 64-byte line on the socket: the first iteration delivers it */
    g_assert_cmpint(vh_channel_write(VH_CHANNEL(p.client), out, 64, &err), ==,
                    64);
    g_assert_true(fd_readable(p.server));
    g_assert_true(iterate_once(ctx));
    g_assert_cmpuint(st->calls, ==, 1);
    g_assert_cmpuint(st->got, ==, 64);
    g_assert_false(iterate_once(ctx));
    g_assert_cmpuint(st->calls, ==, 1);

    /* 1000 bytes read 100 at a time: ten iterations, ten reads */
    g_assert_cmpint(vh_channel_write(VH_CHANNEL(p.client), out, 1000, &err), ==,
                    1000);
    for (size_t i = 1; i <= 10; i++) {
        g_assert_true(iterate_once(ctx));
        g_assert_cmpuint(st->calls, ==, 1 + i);
        g_assert_cmpuint(st->got, ==, 64 + 100 * i);
        if (i == 1) {
            /* the rest is in GnuTLS, the fd is idle */
            g_assert_false(fd_readable(p.server));
        }
    }
    g_assert_false(iterate_once(ctx));
    g_assert_cmpuint(st->calls, ==, 11);
    g_assert_no_error(err);
    if (holder) {
        g_source_destroy(holder);
        g_source_unref(holder);
    }
    g_source_destroy(src);
    g_source_unref(src);
    g_free(st);
    tls_pair_free(&p);
}

/*
 * Issue 11: a reply goes out as one record in one piece of ciphertext,
 * also when the caller hands it over in several iovecs (a chardev line
 * and its newline): counted on the peer's raw socket, where a split
 * record or a record per piece would show as more bytes and headers.
 */
static void test_write_one_record(void)
{
    g_autoptr(GError) err = NULL;
    char line[58], nl = '\n', raw[512];
    struct iovec iov[3] = {
        {.iov_base = line, .iov_len = 20},
        {.iov_base = line + 20, .iov_len = sizeof(line) - 20},
        {.iov_base = &nl, .iov_len = 1},
    };
    /* TLS 1.3 AEAD: 5-byte header, the inner content type, 16-byte tag */
    const size_t overhead = 5 + 1 + 16, len = sizeof(line) + 1;
    int fd;
    ssize_t n;
    TlsPair p;

    tls_pair_connect(&p, "NORMAL:-VERS-ALL:+VERS-TLS1.3");
    fd = master_fd(p.server);
    memset(line, 'a', sizeof(line));
    g_assert_cmpint(vh_channel_writev(VH_CHANNEL(p.client), iov, 3, &err), ==,
                    len);
    g_assert_no_error(err);
    n = recv(fd, raw, sizeof(raw), MSG_DONTWAIT);
    g_assert_cmpint(n, ==, len + overhead);
    g_assert_cmpint(raw[0], ==, 23); /* application_data */
    g_assert_cmpint(((guint8)raw[3] << 8 | (guint8)raw[4]), ==,
                    len + overhead - 5);
    g_assert_cmpint(recv(fd, raw, sizeof(raw), MSG_DONTWAIT), ==, -1);
    tls_pair_free(&p);
}

/*
 * Move @len bytes from @from to @to (both non-blocking), alternating
 * writes and reads as the socket buffer allows, and check them.
 */
static void xfer_check(VhChannelTls *from, VhChannelTls *to, size_t len)
{
    g_autofree char *out = g_malloc(len);
    g_autofree char *in = g_malloc(len);
    gint64 deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
    size_t sent = 0, got = 0;

    for (size_t i = 0; i < len; i++) {
        out[i] = (char)(i * 7 + len);
    }
    while (got < len) {
        g_autoptr(GError) err = NULL;
        gssize n;

        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        if (sent < len) {
            n = vh_channel_write(VH_CHANNEL(from), out + sent, len - sent,
                                 &err);
            g_assert_no_error(err);
            if (n > 0) {
                sent += n;
            }
        }
        n = vh_channel_read(VH_CHANNEL(to), in + got, len - got, &err);
        g_assert_no_error(err);
        g_assert_cmpint(n, !=, 0);
        if (n > 0) {
            got += n;
        }
    }
    g_assert_cmpmem(in, len, out, len);
    /* all consumed: nothing is left read ahead */
    g_assert_cmpuint(vh_channel_get_read_ahead(VH_CHANNEL(to)), ==, 0);
    g_assert_false(fd_readable(to));
}

/*
 * Issue 11: ciphertext is read into a small buffer inside the channel
 * until a read fills it, then into a large one while a stream runs, and
 * back. Records just under, at and over the small buffer (2048 bytes),
 * a stream, and lines between them arrive intact whichever buffer they
 * were read through.
 */
static void test_read_ahead_sizes(void)
{
    /* TLS 1.3: 22 bytes of record overhead */
    const size_t sizes[] = {64, 2026,   2027, 64,    3000, 64, 1,    65536,
                            64, 200000, 64,   16384, 5000, 64, 40000};
    TlsPair p;

    tls_pair_connect(&p, "NORMAL:-VERS-ALL:+VERS-TLS1.3");
    for (size_t i = 0; i < G_N_ELEMENTS(sizes); i++) {
        xfer_check(p.client, p.server, sizes[i]);
    }
    tls_pair_free(&p);
}

/*
 * A record larger than the small buffer that the peer cuts short: the
 * reader sees a premature end, not a hang or a short record.
 */
static void test_read_ahead_truncated(void)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *msg = g_malloc0(3000);
    char raw[4096], buf[4096];
    int sfd, cfd;
    ssize_t n;
    gssize r;
    TlsPair p;

    tls_pair_connect(&p, "NORMAL:-VERS-ALL:+VERS-TLS1.3");
    sfd = master_fd(p.server);
    cfd = master_fd(p.client);
    g_assert_cmpint(vh_channel_write(VH_CHANNEL(p.client), msg, 3000, &err), ==,
                    3000);
    /* take the record off the server's socket, send back 2500 bytes */
    n = recv(sfd, raw, sizeof(raw), MSG_DONTWAIT);
    g_assert_cmpint(n, ==, 3000 + 22);
    g_assert_cmpint(send(cfd, raw, 2500, 0), ==, 2500);
    g_assert_cmpint(shutdown(cfd, SHUT_WR), ==, 0);
    do {
        r = vh_channel_read(VH_CHANNEL(p.server), buf, sizeof(buf), &err);
    } while (r == VH_CHANNEL_ERR_BLOCK);
    g_assert_cmpint(r, ==, -1);
    g_assert_error(err, VH_ERROR, VH_ERROR_TLS_PREMATURE_EOF);
    g_assert_nonnull(strstr(err->message, "tls server"));
    tls_pair_free(&p);
}

static void test_eof(bool clean)
{
    g_autoptr(GError) err = NULL;
    char buf[16];
    gssize n;
    TlsPair p;

    tls_pair_connect(&p, NULL);
    g_assert_true(vh_channel_set_blocking(VH_CHANNEL(p.server), true, &err));
    g_assert_true(vh_channel_get_blocking(vh_channel_tls_get_master(p.server)));
    g_assert_cmpint(vh_channel_write(VH_CHANNEL(p.client), "hello", 5, &err),
                    ==, 5);
    if (clean) {
        g_assert_true(vh_channel_close(VH_CHANNEL(p.client), &err));
        g_assert_true(
            vh_channel_is_closed(vh_channel_tls_get_master(p.client)));
    } else {
        /* the transport goes without a close-notify */
        g_assert_true(
            vh_channel_close(vh_channel_tls_get_master(p.client), &err));
    }
    g_assert_cmpint(vh_channel_read(VH_CHANNEL(p.server), buf, 16, &err), ==,
                    5);
    n = vh_channel_read(VH_CHANNEL(p.server), buf, 16, &err);
    if (clean) {
        g_assert_no_error(err);
        g_assert_cmpint(n, ==, 0);
    } else {
        g_assert_cmpint(n, ==, -1);
        g_assert_error(err, VH_ERROR, VH_ERROR_TLS_PREMATURE_EOF);
        g_assert_nonnull(strstr(err->message, "tls server"));
        g_test_message("%s", err->message);
    }
    tls_pair_free(&p);
}

static void test_eof_clean(void)
{
    test_eof(true);
}

static void test_eof_premature(void)
{
    test_eof(false);
}

static void test_io_before_handshake(void)
{
    g_autoptr(GError) err = NULL;
    int fd = 3;
    char buf[4];
    TlsPair p;

    tls_pair_new(&p, NULL, dir_client);
    g_assert_cmpint(vh_channel_read(VH_CHANNEL(p.client), buf, 4, &err), ==,
                    -1);
    g_assert_error(err, VH_ERROR, VH_ERROR_FAILED);
    g_clear_error(&err);
    g_assert_cmpint(
        vh_channel_writev_full(VH_CHANNEL(p.client), NULL, 0, &fd, 1, &err), ==,
        -1);
    g_assert_error(err, VH_ERROR, VH_ERROR_NOT_SUPPORTED);
    tls_pair_free(&p);
}

static void test_endpoint_mismatch(void)
{
    g_autoptr(VhChannelSocket) a = NULL;
    g_autoptr(VhChannelSocket) b = NULL;
    g_autoptr(VhTlsCreds) ccreds = tls_test_creds_x509(
        dir_client, VH_TLS_CREDS_ENDPOINT_CLIENT, true, NULL, true);
    g_autoptr(GError) err = NULL;
    g_autoptr(VhChannelTls) tls = NULL;

    g_assert_true(vh_channel_socket_pair(&a, &b, &err));
    tls = vh_channel_tls_new_server(VH_CHANNEL(a), ccreds, NULL, &err);
    g_assert_null(tls);
    g_assert_nonnull(strstr(err->message, "for a server endpoint"));
}

/* The conformance factory: a connected, handshaken, blocking pair. */
static bool make_tls_pair(VhChannel **writer, VhChannel **reader,
                          gpointer opaque, GError **errp)
{
    TlsPair p;

    tls_pair_connect(&p, opaque);
    if (!vh_channel_set_blocking(VH_CHANNEL(p.client), true, errp) ||
        !vh_channel_set_blocking(VH_CHANNEL(p.server), true, errp)) {
        tls_pair_free(&p);
        return false;
    }
    *writer = VH_CHANNEL(p.client);
    *reader = VH_CHANNEL(p.server);
    return true;
}

/*
 * A deadline: the client's handshake against a server that never answers
 * ends with G_IO_ERROR_TIMED_OUT, once, from the context.
 */
static void test_handshake_timeout(void)
{
    g_autoptr(GMainContext) ctx = g_main_context_new();
    HandshakeResult cr = {0};
    TlsPair p;

    tls_pair_new(&p, NULL, dir_client);
    g_main_context_push_thread_default(ctx);
    vh_channel_tls_handshake_timeout(p.client, 50, NULL, handshake_cb, &cr);
    while (cr.calls == 0) {
        g_main_context_iteration(ctx, TRUE);
    }
    while (g_main_context_iteration(ctx, FALSE)) {
    }
    g_main_context_pop_thread_default(ctx);
    g_assert_cmpuint(cr.calls, ==, 1);
    g_assert_false(cr.ok);
    g_assert_error(cr.err, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
    g_assert_cmpstr(cr.err->message, ==,
                    "tls client: TLS handshake timed out after 50 ms");
    g_clear_error(&cr.err);
    tls_pair_free(&p);
}

int main(int argc, char **argv)
{
    const char *dns[] = {"server.example.org", NULL};
    int ret;

    g_test_init(&argc, &argv, NULL);
    pki = tls_test_pki_new("Test CA");
    other_pki = tls_test_pki_new("Other CA");
    dir_server = tls_test_pki_dir(pki, "server");
    tls_test_pki_issue_server(pki, dir_server, SERVER_DN, dns, NULL, 0, 0);
    dir_client = tls_test_pki_dir(pki, "client");
    tls_test_pki_issue_client(pki, dir_client, CLIENT_DN, 0, 0);
    dir_client_otherca = tls_test_pki_dir(other_pki, "client-otherca");

    g_test_add_func("/io/channel/tls/handshake-async/tls1.2",
                    test_handshake_async_tls12);
    g_test_add_func("/io/channel/tls/handshake-async/tls1.3",
                    test_handshake_async_tls13);
    g_test_add_func("/io/channel/tls/handshake-async/failure",
                    test_handshake_async_failure);
    g_test_add_func("/io/channel/tls/handshake-async/timeout",
                    test_handshake_timeout);
    g_test_add_func("/io/channel/tls/handshake-async/cancel",
                    test_handshake_cancel);
    g_test_add_func("/io/channel/tls/handshake-async/cancel-other-thread",
                    test_handshake_cancel_other_thread);
    g_test_add_func("/io/channel/tls/blocking-thread", test_blocking_thread);
    g_test_add_func("/io/channel/tls/pending-wakeup", test_pending_wakeup);
    g_test_add_data_func("/io/channel/tls/dispatch-iterations/watch", NULL,
                         test_dispatch_iterations);
    g_test_add_data_func("/io/channel/tls/dispatch-iterations/nested",
                         GINT_TO_POINTER(1), test_dispatch_iterations);
    g_test_add_func("/io/channel/tls/write-one-record", test_write_one_record);
    g_test_add_func("/io/channel/tls/read-ahead/sizes", test_read_ahead_sizes);
    g_test_add_func("/io/channel/tls/read-ahead/truncated",
                    test_read_ahead_truncated);
    g_test_add_func("/io/channel/tls/eof/clean", test_eof_clean);
    g_test_add_func("/io/channel/tls/eof/premature", test_eof_premature);
    g_test_add_func("/io/channel/tls/io-before-handshake",
                    test_io_before_handshake);
    g_test_add_func("/io/channel/tls/endpoint-mismatch",
                    test_endpoint_mismatch);
    vh_channel_conformance_add("/io/channel/tls/conformance/tls1.2",
                               make_tls_pair, TLS_TEST_PRIORITY_TLS12,
                               VH_CONFORMANCE_BIDIRECTIONAL);
    vh_channel_conformance_add("/io/channel/tls/conformance/tls1.3",
                               make_tls_pair, TLS_TEST_PRIORITY_TLS13,
                               VH_CONFORMANCE_BIDIRECTIONAL);
    ret = g_test_run();
    tls_test_pki_free(pki);
    tls_test_pki_free(other_pki);
    g_free(dir_server);
    g_free(dir_client);
    g_free(dir_client_otherca);
    return ret;
}
