/*
 * vmhost's own TLS 1.3 records (docs/tls-records.md) against GnuTLS's:
 * a VhChannelTls talks to a peer whose records GnuTLS seals and opens
 * (a VhTlsSession in a thread), for each AEAD, with KeyUpdates the peer
 * asks for, session tickets, close-notify; records a non-blocking master
 * takes in pieces; and a record damaged on the wire.
 */
#include "tls-testutil.h"
#include "vmhost/crypto/tls-session.h"
#include "vmhost/io/channel-socket.h"
#include "vmhost/io/channel-tls.h"

#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#define SERVER_DN "C=UK,O=vmhost test,CN=server.example.org"
#define CLIENT_DN "C=UK,O=vmhost test,CN=client1"

static TlsTestPki *pki;
static char *dir_server, *dir_client;

/* The test PKI's credentials for @endpoint, verifying the peer. */
static VhTlsCreds *creds_for(VhTlsCredsEndpoint endpoint, const char *priority)
{
    return tls_test_creds_x509(
        endpoint == VH_TLS_CREDS_ENDPOINT_SERVER ? dir_server : dir_client,
        endpoint, true, priority, true);
}

/* ---- a peer whose records are GnuTLS's -------------------------------- */

typedef struct {
    int fd;
    VhTlsSession *sess;
    GThread *thread;
    size_t key_update_after; /* bytes echoed before asking for a KeyUpdate */
    unsigned key_updates;    /* asked for */
    GError *err;
} Peer;

static ssize_t fd_push(const char *buf, size_t len, void *opaque)
{
    return send(GPOINTER_TO_INT(opaque), buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
}

static ssize_t fd_pull(char *buf, size_t len, void *opaque)
{
    return recv(GPOINTER_TO_INT(opaque), buf, len, MSG_DONTWAIT);
}

static void wait_fd(int fd, bool write)
{
    struct pollfd pfd = {.fd = fd, .events = write ? POLLOUT : POLLIN};

    g_assert_cmpint(poll(&pfd, 1, 10000), ==, 1);
}

static bool peer_write_all(Peer *p, const char *buf, size_t len)
{
    while (len > 0) {
        gssize n = vh_tls_session_write(p->sess, buf, len, &p->err);
        if (n == VH_TLS_SESSION_ERR_BLOCK) {
            wait_fd(p->fd, true);
            continue;
        }
        if (n < 0) {
            return false;
        }
        buf += n;
        len -= n;
    }
    return true;
}

/* Echo every byte until close-notify, then say bye too. */
static gpointer peer_echo(gpointer opaque)
{
    Peer *p = opaque;
    g_autofree char *buf = g_malloc(65536);
    size_t echoed = 0, next_update = p->key_update_after;

    for (;;) {
        VhTlsHandshakeStatus st = vh_tls_session_handshake(p->sess, &p->err);
        if (st == VH_TLS_HANDSHAKE_COMPLETE) {
            break;
        }
        if (st == VH_TLS_HANDSHAKE_FAILED) {
            return NULL;
        }
        wait_fd(p->fd, st == VH_TLS_HANDSHAKE_NEEDS_WRITE);
    }
    for (;;) {
        gssize n = vh_tls_session_read(p->sess, buf, 65536, &p->err);
        if (n == VH_TLS_SESSION_ERR_BLOCK) {
            wait_fd(p->fd, false);
            continue;
        }
        if (n <= 0 || !peer_write_all(p, buf, n)) {
            break;
        }
        echoed += n;
        if (next_update && echoed >= next_update) {
            /* new keys for our writes, and a request for the other side's */
            int ret;
            do {
                ret = gnutls_session_key_update(
                    vh_tls_session_get_gnutls(p->sess), GNUTLS_KU_PEER);
            } while (ret == GNUTLS_E_AGAIN);
            g_assert_cmpint(ret, ==, 0);
            p->key_updates++;
            next_update += p->key_update_after;
        }
    }
    while (vh_tls_session_bye(p->sess, NULL) == VH_TLS_SESSION_ERR_BLOCK) {
        wait_fd(p->fd, true);
    }
    return NULL;
}

/*
 * A blocking VhChannelTls (client or server) connected to a GnuTLS-record
 * peer that echoes, with @priority at both ends.
 */
static VhChannelTls *connect_to_peer(Peer *peer, const char *priority,
                                     bool channel_is_client)
{
    g_autoptr(VhTlsCreds) ccreds =
        creds_for(VH_TLS_CREDS_ENDPOINT_CLIENT, priority);
    g_autoptr(VhTlsCreds) screds =
        creds_for(VH_TLS_CREDS_ENDPOINT_SERVER, priority);
    g_autoptr(VhChannelSocket) a = NULL;
    g_autoptr(VhChannelSocket) b = NULL;
    g_autoptr(GError) err = NULL;
    VhChannelTls *tls;

    g_assert_true(vh_channel_socket_pair(&a, &b, &err));
    peer->fd = dup(vh_channel_socket_get_fd(b));
    g_assert_cmpint(peer->fd, >=, 0);
    if (channel_is_client) {
        tls = vh_channel_tls_new_client(VH_CHANNEL(a), ccreds,
                                        "server.example.org", &err);
        peer->sess = vh_tls_session_new(screds, NULL, NULL,
                                        VH_TLS_CREDS_ENDPOINT_SERVER, &err);
    } else {
        tls = vh_channel_tls_new_server(VH_CHANNEL(a), screds, NULL, &err);
        peer->sess = vh_tls_session_new(ccreds, "server.example.org", NULL,
                                        VH_TLS_CREDS_ENDPOINT_CLIENT, &err);
    }
    g_assert_no_error(err);
    vh_tls_session_set_callbacks(peer->sess, fd_push, fd_pull,
                                 GINT_TO_POINTER(peer->fd));
    peer->thread = g_thread_new("gnutls-peer", peer_echo, peer);
    g_assert_true(vh_channel_tls_handshake_sync(tls, &err));
    g_assert_no_error(err);
    return tls;
}

static void peer_finish(Peer *peer)
{
    g_thread_join(peer->thread);
    g_assert_no_error(peer->err);
    g_clear_object(&peer->sess);
    close(peer->fd);
}

static void fill(char *buf, size_t len, unsigned seed)
{
    for (size_t i = 0; i < len; i++) {
        buf[i] = (char)(i * 131 + seed);
    }
}

/*
 * Send @len bytes in the shape @shape (1: one buffer, 3: three iovecs of
 * uneven sizes) and read the echo back in reads of at most @rchunk.
 */
static void echo_round(VhChannelTls *tls, size_t len, int shape, size_t rchunk,
                       unsigned seed)
{
    g_autofree char *out = g_malloc(len + 1);
    g_autofree char *in = g_malloc(len + 1);
    g_autoptr(GError) err = NULL;
    struct iovec iov[3];
    size_t got = 0;

    fill(out, len, seed);
    if (shape == 1) {
        g_assert_true(vh_channel_write_all(VH_CHANNEL(tls), out, len, &err));
    } else {
        size_t a = len / 3, b = len / 7;
        iov[0] = (struct iovec){out, a};
        iov[1] = (struct iovec){out + a, b};
        iov[2] = (struct iovec){out + a + b, len - a - b};
        g_assert_true(vh_channel_writev_all(VH_CHANNEL(tls), iov, 3, &err));
    }
    g_assert_no_error(err);
    while (got < len) {
        gssize n = vh_channel_read(VH_CHANNEL(tls), in + got,
                                   MIN(rchunk, len - got), &err);
        g_assert_no_error(err);
        g_assert_cmpint(n, >, 0);
        got += n;
    }
    g_assert_cmpmem(in, len, out, len);
}

typedef struct {
    const char *cipher; /* GnuTLS's name, as vh_channel_tls_get_cipher() */
    const char *priority;
    bool channel_is_client;
    size_t key_update_after;
} InteropCase;

static void test_interop(gconstpointer data)
{
    const InteropCase *c = data;
    const size_t sizes[] = {1,    63,    64,    65,    1000,  2047,
                            2048, 16383, 16384, 16385, 40000, 65536};
    const size_t rchunks[] = {1 << 20, 100, 7};
    g_autoptr(GError) err = NULL;
    Peer peer = {.key_update_after = c->key_update_after};
    VhChannelTls *tls =
        connect_to_peer(&peer, c->priority, c->channel_is_client);
    unsigned seed = 0;

    g_assert_cmpstr(vh_channel_tls_get_protocol(tls), ==, "TLS1.3");
    g_assert_cmpstr(vh_channel_tls_get_cipher(tls), ==, c->cipher);
    for (size_t r = 0; r < G_N_ELEMENTS(rchunks); r++) {
        for (size_t i = 0; i < G_N_ELEMENTS(sizes); i++) {
            if (rchunks[r] < 100 && sizes[i] > 16385) {
                continue; /* byte-sized reads of big records: slow, no news */
            }
            echo_round(tls, sizes[i], 1 + 2 * (i % 2), rchunks[r], seed++);
        }
    }
    /* close-notify both ways: the peer answers ours with its own */
    g_assert_true(
        vh_channel_shutdown(VH_CHANNEL(tls), VH_CHANNEL_SHUTDOWN_WRITE, &err));
    g_assert_no_error(err);
    peer_finish(&peer);
    if (c->key_update_after) {
        g_assert_cmpuint(peer.key_updates, >=, 4);
    }
    {
        char b;
        g_assert_cmpint(vh_channel_read(VH_CHANNEL(tls), &b, 1, &err), ==, 0);
        g_assert_no_error(err);
        /* and stays at its end */
        g_assert_cmpint(vh_channel_read(VH_CHANNEL(tls), &b, 1, &err), ==, 0);
        g_assert_no_error(err);
    }
    g_object_unref(tls);
}

static const InteropCase interop_cases[] = {
    {"AES-128-GCM", TLS_TEST_PRIORITY_TLS13 ":-CIPHER-ALL:+AES-128-GCM", true,
     0},
    {"AES-256-GCM", TLS_TEST_PRIORITY_TLS13 ":-CIPHER-ALL:+AES-256-GCM", false,
     0},
    {"CHACHA20-POLY1305",
     TLS_TEST_PRIORITY_TLS13 ":-CIPHER-ALL:+CHACHA20-POLY1305", true, 0},
    /* the peer asks for a KeyUpdate every 60000 bytes (GnuTLS takes at most
     * 8 a second) */
    {"AES-256-GCM", TLS_TEST_PRIORITY_TLS13 ":-CIPHER-ALL:+AES-256-GCM", true,
     60000},
    {"CHACHA20-POLY1305",
     TLS_TEST_PRIORITY_TLS13 ":-CIPHER-ALL:+CHACHA20-POLY1305", false, 60000},
    /* AES-CCM stays with GnuTLS's records; the peer cannot tell */
    {"AES-128-CCM", TLS_TEST_PRIORITY_TLS13 ":-CIPHER-ALL:+AES-128-CCM", true,
     60000},
};

/* ---- two vmhost ends on non-blocking masters --------------------------- */

typedef struct {
    VhChannelTls *client, *server;
} Pair;

static void handshake_cb(GObject *src, GAsyncResult *res, gpointer opaque)
{
    g_autoptr(GError) err = NULL;

    g_assert_true(
        vh_channel_tls_handshake_finish(VH_CHANNEL_TLS(src), res, &err));
    (*(int *)opaque)++;
}

/* A handshaken pair over a non-blocking socketpair of @sockbuf bytes. */
static void pair_connect(Pair *p, int sockbuf)
{
    g_autoptr(VhChannelSocket) a = NULL;
    g_autoptr(VhChannelSocket) b = NULL;
    g_autoptr(VhTlsCreds) ccreds =
        creds_for(VH_TLS_CREDS_ENDPOINT_CLIENT, TLS_TEST_PRIORITY_TLS13);
    g_autoptr(VhTlsCreds) screds =
        creds_for(VH_TLS_CREDS_ENDPOINT_SERVER, TLS_TEST_PRIORITY_TLS13);
    g_autoptr(GMainContext) ctx = g_main_context_new();
    g_autoptr(GError) err = NULL;
    int done = 0;

    g_assert_true(vh_channel_socket_pair(&a, &b, &err));
    if (sockbuf) {
        int fds[2] = {vh_channel_socket_get_fd(a), vh_channel_socket_get_fd(b)};
        for (int i = 0; i < 2; i++) {
            g_assert_cmpint(setsockopt(fds[i], SOL_SOCKET, SO_SNDBUF, &sockbuf,
                                       sizeof(sockbuf)),
                            ==, 0);
            g_assert_cmpint(setsockopt(fds[i], SOL_SOCKET, SO_RCVBUF, &sockbuf,
                                       sizeof(sockbuf)),
                            ==, 0);
        }
    }
    g_assert_true(vh_channel_set_blocking(VH_CHANNEL(a), false, &err));
    g_assert_true(vh_channel_set_blocking(VH_CHANNEL(b), false, &err));
    p->client = vh_channel_tls_new_client(VH_CHANNEL(a), ccreds,
                                          "server.example.org", &err);
    p->server = vh_channel_tls_new_server(VH_CHANNEL(b), screds, NULL, &err);
    g_assert_no_error(err);
    vh_channel_set_name(VH_CHANNEL(p->server), "tls server");
    g_main_context_push_thread_default(ctx);
    vh_channel_tls_handshake(p->client, NULL, handshake_cb, &done);
    vh_channel_tls_handshake(p->server, NULL, handshake_cb, &done);
    while (done < 2) {
        g_main_context_iteration(ctx, TRUE);
    }
    g_main_context_pop_thread_default(ctx);
}

/* The socket under @tls, to read or inject raw ciphertext. */
static int master_fd(VhChannelTls *tls)
{
    return vh_channel_socket_get_fd(
        VH_CHANNEL_SOCKET(vh_channel_tls_get_master(tls)));
}

static void pair_free(Pair *p)
{
    g_clear_object(&p->client);
    g_clear_object(&p->server);
}

/*
 * A socket that takes a few KiB at a time: writes would-block in the
 * middle of records and batches; what the writer reported written, and
 * nothing else, arrives, in order, whatever the iovec shape.
 */
static void test_nonblocking_pieces(void)
{
    const size_t len = 3 * 1024 * 1024 + 17;
    g_autofree char *out = g_malloc(len);
    g_autofree char *in = g_malloc(len);
    gint64 deadline = g_get_monotonic_time() + 60 * G_USEC_PER_SEC;
    size_t sent = 0, got = 0, blocks = 0, step = 0;
    Pair p;

    pair_connect(&p, 4096);
    fill(out, len, 5);
    while (got < len) {
        g_autoptr(GError) err = NULL;
        gssize n;

        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        if (sent < len) {
            /* pieces of changing size and shape: 1 byte to 300 KiB */
            size_t want = MIN(len - sent, (step * 7919) % (300 * 1024) + 1);
            size_t a = want / 2;
            struct iovec iov[2] = {{out + sent, a}, {out + sent + a, want - a}};
            n = vh_channel_writev(VH_CHANNEL(p.client), iov, 2, &err);
            g_assert_no_error(err);
            if (n == VH_CHANNEL_ERR_BLOCK) {
                blocks++;
            } else {
                g_assert_cmpint(n, >, 0);
                sent += n;
                step++;
            }
        }
        n = vh_channel_read(VH_CHANNEL(p.server), in + got,
                            MIN(len - got, 65536), &err);
        g_assert_no_error(err);
        g_assert_cmpint(n, !=, 0);
        if (n > 0) {
            got += n;
        }
    }
    g_assert_cmpmem(in, len, out, len);
    g_assert_cmpuint(blocks, >, 10);
    g_assert_cmpuint(vh_channel_get_read_ahead(VH_CHANNEL(p.server)), ==, 0);
    pair_free(&p);
}

/*
 * A record altered on the wire fails authentication: the read fails,
 * naming the channel and why, and so does every read after it (nothing
 * behind a forged record is handed out).
 */
static void test_damaged_record(void)
{
    g_autoptr(GError) err = NULL;
    char raw[4096], buf[4096];
    int sfd, cfd;
    ssize_t n;
    gssize r;
    Pair p;

    pair_connect(&p, 0);
    sfd = master_fd(p.server);
    cfd = master_fd(p.client); /* what it sends, the server reads */
    g_assert_cmpint(vh_channel_write(VH_CHANNEL(p.client), "hello", 5, &err),
                    ==, 5);
    g_assert_cmpint(vh_channel_write(VH_CHANNEL(p.client), "world", 5, &err),
                    ==, 5);
    n = recv(sfd, raw, sizeof(raw), MSG_DONTWAIT);
    g_assert_cmpint(n, ==, 2 * (5 + 22));
    raw[5 + 2] ^= 0x40; /* a ciphertext byte of the first record */
    g_assert_cmpint(send(cfd, raw, n, 0), ==, n);
    do {
        r = vh_channel_read(VH_CHANNEL(p.server), buf, sizeof(buf), &err);
    } while (r == VH_CHANNEL_ERR_BLOCK);
    g_assert_cmpint(r, ==, -1);
    g_assert_nonnull(err);
    g_test_message("%s", err->message);
    g_assert_nonnull(strstr(err->message, "tls server"));
    g_assert_nonnull(strstr(err->message, "Decryption has failed"));
    g_clear_error(&err);
    r = vh_channel_read(VH_CHANNEL(p.server), buf, sizeof(buf), &err);
    g_assert_cmpint(r, ==, -1);
    g_assert_nonnull(strstr(err->message, "Decryption has failed"));
    pair_free(&p);
}

/*
 * The peer's socket goes while records are on their way: the write fails
 * with the transport's reason and the channel's name, once the batch
 * cannot be sent.
 */
static void test_write_peer_gone(void)
{
    g_autofree char *data = g_malloc0(256 * 1024);
    g_autoptr(GError) err = NULL;
    gssize n = 0;
    Pair p;

    pair_connect(&p, 4096);
    vh_channel_set_name(VH_CHANNEL(p.client), "tls client");
    g_assert_true(vh_channel_close(vh_channel_tls_get_master(p.server), &err));
    for (int i = 0; i < 100 && n != -1; i++) {
        n = vh_channel_write(VH_CHANNEL(p.client), data, 256 * 1024, &err);
    }
    g_assert_cmpint(n, ==, -1);
    g_test_message("%s", err->message);
    g_assert_nonnull(strstr(err->message, "tls client"));
    g_assert_nonnull(strstr(err->message, "Broken pipe"));
    pair_free(&p);
}

/* A header announcing more than a record may hold is refused at once. */
static void test_oversized_record(void)
{
    g_autoptr(GError) err = NULL;
    const char hdr[5] = {23, 3, 3, (char)0x48, 0}; /* 18432 > 16384 + 256 */
    char buf[64];
    int cfd;
    gssize r;
    Pair p;

    pair_connect(&p, 0);
    cfd = master_fd(p.client);
    g_assert_cmpint(send(cfd, hdr, sizeof(hdr), 0), ==, 5);
    r = vh_channel_read(VH_CHANNEL(p.server), buf, sizeof(buf), &err);
    g_assert_cmpint(r, ==, -1);
    g_test_message("%s", err->message);
    g_assert_nonnull(strstr(err->message, "tls server"));
    g_assert_nonnull(strstr(err->message, "a record of 18432 bytes"));
    pair_free(&p);
}

static gboolean count_and_read(VhChannel *ioc, GIOCondition cond,
                               gpointer opaque)
{
    char buf[64];

    (*(int *)opaque)++;
    g_assert_cmpint(vh_channel_read(ioc, buf, sizeof(buf), NULL), ==,
                    VH_CHANNEL_ERR_BLOCK);
    return G_SOURCE_CONTINUE;
}

/*
 * Part of a record GnuTLS is to read (a plaintext alert's header, its
 * body not yet sent): the watch waits for the master, it does not spin on
 * the bytes at hand.
 */
static void test_partial_record_waits(void)
{
    g_autoptr(GMainContext) ctx = g_main_context_new();
    const char hdr[5] = {21, 3, 3, 0, 2}; /* an alert, 2 bytes to come */
    GSource *src;
    int calls = 0;
    Pair p;

    pair_connect(&p, 0);
    src = vh_channel_create_watch(VH_CHANNEL(p.server), G_IO_IN);
    g_source_set_callback(src, (GSourceFunc)(void (*)(void))count_and_read,
                          &calls, NULL);
    g_source_attach(src, ctx);
    g_assert_cmpint(send(master_fd(p.client), hdr, sizeof(hdr), 0), ==, 5);
    for (int i = 0; i < 50; i++) {
        g_main_context_iteration(ctx, FALSE);
    }
    /* the master's readiness once (the header is read), then nothing */
    g_assert_cmpint(calls, ==, 1);
    g_source_destroy(src);
    g_source_unref(src);
    pair_free(&p);
}

/* Move whatever @from has to @to. */
static void relay(int from, int to)
{
    char buf[65536];
    ssize_t n;

    while ((n = recv(from, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
        g_assert_cmpint(send(to, buf, n, 0), ==, n);
    }
}

/*
 * A KeyUpdate (which GnuTLS must read) followed by the first bytes of a
 * data record (which vmhost's records read once GnuTLS is done): GnuTLS
 * must not keep those bytes, or the record path would start in the
 * middle of a record. The test stands between the two ends and delivers
 * the peer's bytes cut just there.
 */
static void test_control_then_partial(void)
{
    g_autoptr(VhTlsCreds) ccreds =
        creds_for(VH_TLS_CREDS_ENDPOINT_CLIENT, TLS_TEST_PRIORITY_TLS13);
    g_autoptr(VhTlsCreds) screds =
        creds_for(VH_TLS_CREDS_ENDPOINT_SERVER, TLS_TEST_PRIORITY_TLS13);
    g_autoptr(GMainContext) ctx = g_main_context_new();
    g_autoptr(VhChannelSocket) a = NULL;
    g_autoptr(VhChannelSocket) b = NULL;
    g_autoptr(VhChannelTls) tls = NULL;
    g_autoptr(VhTlsSession) peer = NULL;
    g_autoptr(GError) err = NULL;
    const char line[] = "under the peer's new keys\n";
    char raw[4096], buf[256];
    int pfd[2], rfd;
    int ours = 0;
    bool theirs = false;
    size_t first;
    ssize_t n;
    int ret;

    /* the channel on a, the test on b; the peer on pfd[0], the test on
     * pfd[1] */
    g_assert_true(vh_channel_socket_pair(&a, &b, &err));
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, pfd), ==, 0);
    rfd = vh_channel_socket_get_fd(b);
    g_assert_true(vh_channel_set_blocking(VH_CHANNEL(a), false, &err));
    tls = vh_channel_tls_new_client(VH_CHANNEL(a), ccreds, "server.example.org",
                                    &err);
    peer = vh_tls_session_new(screds, NULL, NULL, VH_TLS_CREDS_ENDPOINT_SERVER,
                              &err);
    g_assert_no_error(err);
    vh_tls_session_set_callbacks(peer, fd_push, fd_pull,
                                 GINT_TO_POINTER(pfd[0]));
    g_main_context_push_thread_default(ctx);
    vh_channel_tls_handshake(tls, NULL, handshake_cb, &ours);
    while (!ours || !theirs) {
        g_main_context_iteration(ctx, FALSE);
        if (!theirs) {
            VhTlsHandshakeStatus st = vh_tls_session_handshake(peer, &err);
            g_assert_no_error(err);
            theirs = st == VH_TLS_HANDSHAKE_COMPLETE;
        }
        relay(rfd, pfd[1]);
        relay(pfd[1], rfd);
    }
    g_main_context_pop_thread_default(ctx);

    /* the peer's KeyUpdate (asking for ours) and a line, as they leave it */
    do {
        ret = gnutls_session_key_update(vh_tls_session_get_gnutls(peer),
                                        GNUTLS_KU_PEER);
    } while (ret == GNUTLS_E_AGAIN);
    g_assert_cmpint(ret, ==, 0);
    g_assert_cmpint(vh_tls_session_write(peer, line, strlen(line), &err), ==,
                    strlen(line));
    n = recv(pfd[1], raw, sizeof(raw), MSG_DONTWAIT);
    first = 5 + ((size_t)(guint8)raw[3] << 8 | (guint8)raw[4]);
    g_assert_cmpint(n, >, first + 5);

    /* the KeyUpdate and 3 bytes of the line's record: nothing to read yet */
    g_assert_cmpint(send(rfd, raw, first + 3, 0), ==, first + 3);
    g_assert_cmpint(vh_channel_read(VH_CHANNEL(tls), buf, sizeof(buf), &err),
                    ==, VH_CHANNEL_ERR_BLOCK);
    g_assert_no_error(err);
    /* the rest: the line, under the peer's new keys */
    g_assert_cmpint(send(rfd, raw + first + 3, n - first - 3, 0), ==,
                    n - first - 3);
    g_assert_cmpint(vh_channel_read(VH_CHANNEL(tls), buf, sizeof(buf), &err),
                    ==, strlen(line));
    g_assert_no_error(err);
    g_assert_cmpmem(buf, strlen(line), line, strlen(line));

    /* our answer went out first; our next record is under our new keys */
    g_assert_cmpint(vh_channel_write(VH_CHANNEL(tls), "reply\n", 6, &err), ==,
                    6);
    relay(rfd, pfd[1]);
    g_assert_cmpint(vh_tls_session_read(peer, buf, sizeof(buf), &err), ==, 6);
    g_assert_no_error(err);
    g_assert_cmpmem(buf, 6, "reply\n", 6);
    close(pfd[0]);
    close(pfd[1]);
}

int main(int argc, char **argv)
{
    const char *dns[] = {"server.example.org", NULL};
    int ret;

    g_test_init(&argc, &argv, NULL);
    pki = tls_test_pki_new("Test CA");
    dir_server = tls_test_pki_dir(pki, "server");
    tls_test_pki_issue_server(pki, dir_server, SERVER_DN, dns, NULL, 0, 0);
    dir_client = tls_test_pki_dir(pki, "client");
    tls_test_pki_issue_client(pki, dir_client, CLIENT_DN, 0, 0);

    for (size_t i = 0; i < G_N_ELEMENTS(interop_cases); i++) {
        const InteropCase *c = &interop_cases[i];
        g_autofree char *path = g_strdup_printf(
            "/io/channel/tls/records/gnutls-peer/%s/%s%s", c->cipher,
            c->channel_is_client ? "client" : "server",
            c->key_update_after ? "/key-update" : "");
        g_test_add_data_func(path, c, test_interop);
    }
    g_test_add_func("/io/channel/tls/records/nonblocking-pieces",
                    test_nonblocking_pieces);
    g_test_add_func("/io/channel/tls/records/damaged", test_damaged_record);
    g_test_add_func("/io/channel/tls/records/write-peer-gone",
                    test_write_peer_gone);
    g_test_add_func("/io/channel/tls/records/oversized", test_oversized_record);
    g_test_add_func("/io/channel/tls/records/control-then-partial",
                    test_control_then_partial);
    g_test_add_func("/io/channel/tls/records/partial-record-waits",
                    test_partial_record_waits);
    ret = g_test_run();
    tls_test_pki_free(pki);
    g_free(dir_server);
    g_free(dir_client);
    return ret;
}
