/*
 * lib/rpc: VhRpcServer over socketpairs, driven by a raw client that
 * writes packets byte for byte. The server runs in its own thread on its
 * own GMainContext, as vmhostd's main loop would.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib-unix.h>

#include "vmhost/io/channel-socket.h"
#include "vmhost/rpc/server.h"

#define PROG 0x11223344u
#define VERS 1u
enum { P_OPEN = 1, P_ECHO, P_BLOCK, P_WRITE, P_STREAM, P_ARRAY, P_KA };

typedef struct {
    GThread *thread;
    GMainContext *ctx;
    GMainLoop *loop;
    VhRpcServer *srv;
    VhRpcServerConfig cfg;
    GMutex lock;
    GCond cond;
    bool ready;
    bool release;
    int stream_peer; /* the test's end of the last stream's channel */
} Fixture;

static Fixture *fx; /* the handlers reach the fixture through this */

static bool h_open(VhRpcCall *call, VhXdrReader *a, GByteArray *ret,
                   GError **errp)
{
    if (!vh_xdr_end(a, errp)) {
        return false;
    }
    vh_rpc_conn_set_open(vh_rpc_call_get_conn(call), true);
    return true;
}

static bool h_echo(VhRpcCall *call, VhXdrReader *a, GByteArray *ret,
                   GError **errp)
{
    g_autofree char *s = NULL;

    if (!vh_xdr_get_string(a, 0, &s, errp) || !vh_xdr_end(a, errp)) {
        return false;
    }
    vh_xdr_put_string(ret, s);
    return true;
}

static bool h_block(VhRpcCall *call, VhXdrReader *a, GByteArray *ret,
                    GError **errp)
{
    if (!vh_xdr_end(a, errp)) {
        return false;
    }
    g_mutex_lock(&fx->lock);
    while (!fx->release) {
        g_cond_wait(&fx->cond, &fx->lock);
    }
    g_mutex_unlock(&fx->lock);
    return true;
}

static bool h_write(VhRpcCall *call, VhXdrReader *a, GByteArray *ret,
                    GError **errp)
{
    return vh_xdr_end(a, errp);
}

static bool h_stream(VhRpcCall *call, VhXdrReader *a, GByteArray *ret,
                     GError **errp)
{
    int sv[2];

    if (!vh_xdr_end(a, errp)) {
        return false;
    }
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==,
                    0);
    g_autoptr(VhChannelSocket) ch = vh_channel_socket_new_fd(sv[0], errp);
    g_assert_nonnull(ch);
    fx->stream_peer = sv[1];
    vh_rpc_call_attach_stream(call, VH_CHANNEL(ch));
    return true;
}

/* {int items<10>} -> {int sum} */
static bool h_array(VhRpcCall *call, VhXdrReader *a, GByteArray *ret,
                    GError **errp)
{
    guint32 n;
    gint32 sum = 0;

    if (!vh_xdr_get_count(a, 10, 4, &n, errp)) {
        return false;
    }
    for (guint32 i = 0; i < n; i++) {
        gint32 v;
        if (!vh_xdr_get_i32(a, &v, errp)) {
            return false;
        }
        sum += v;
    }
    if (!vh_xdr_end(a, errp)) {
        return false;
    }
    vh_xdr_put_i32(ret, sum);
    return true;
}

static bool h_ka(VhRpcCall *call, VhXdrReader *a, GByteArray *ret,
                 GError **errp)
{
    vh_rpc_conn_start_keepalive(vh_rpc_call_get_conn(call));
    return vh_xdr_end(a, errp);
}

static const VhRpcProc procs[] = {
    {P_OPEN, "OPEN", h_open, VH_RPC_PROC_BEFORE_OPEN},
    {P_ECHO, "ECHO", h_echo, 0},
    {P_BLOCK, "BLOCK", h_block, 0},
    {P_WRITE, "WRITE", h_write, VH_RPC_PROC_WRITE},
    {P_STREAM, "STREAM", h_stream, 0},
    {P_ARRAY, "ARRAY", h_array, 0},
    {P_KA, "KA", h_ka, VH_RPC_PROC_BEFORE_OPEN},
};
static const VhRpcProgram program = {PROG, VERS, procs, G_N_ELEMENTS(procs),
                                     VH_VIR_FROM_REMOTE};

static gpointer server_thread(gpointer opaque)
{
    g_main_context_push_thread_default(fx->ctx);
    fx->srv = vh_rpc_server_new(&fx->cfg, fx->ctx);
    vh_rpc_server_add_program(fx->srv, &program);
    g_mutex_lock(&fx->lock);
    fx->ready = true;
    g_cond_broadcast(&fx->cond);
    g_mutex_unlock(&fx->lock);
    g_main_loop_run(fx->loop);
    vh_rpc_server_free(fx->srv);
    g_main_context_pop_thread_default(fx->ctx);
    return NULL;
}

static void fixture_start(const VhRpcServerConfig *cfg)
{
    fx = g_new0(Fixture, 1);
    fx->cfg = *cfg;
    fx->stream_peer = -1;
    g_mutex_init(&fx->lock);
    g_cond_init(&fx->cond);
    fx->ctx = g_main_context_new();
    fx->loop = g_main_loop_new(fx->ctx, FALSE);
    fx->thread = g_thread_new("rpc-server", server_thread, NULL);
    g_mutex_lock(&fx->lock);
    while (!fx->ready) {
        g_cond_wait(&fx->cond, &fx->lock);
    }
    g_mutex_unlock(&fx->lock);
}

static void release_blocked(void)
{
    g_mutex_lock(&fx->lock);
    fx->release = true;
    g_cond_broadcast(&fx->cond);
    g_mutex_unlock(&fx->lock);
}

static void fixture_stop(void)
{
    release_blocked();
    g_main_loop_quit(fx->loop);
    g_thread_join(fx->thread);
    g_main_loop_unref(fx->loop);
    g_main_context_unref(fx->ctx);
    if (fx->stream_peer >= 0) {
        close(fx->stream_peer);
    }
    g_mutex_clear(&fx->lock);
    g_cond_clear(&fx->cond);
    g_clear_pointer(&fx, g_free);
}

static const VhRpcServerConfig default_cfg = {.max_workers = 4};

typedef struct {
    int fd;
    bool tls;
    bool readonly;
    VhRpcConn *conn;
    bool done;
} AddClient;

static gboolean add_client_cb(gpointer opaque)
{
    AddClient *ac = opaque;
    g_autoptr(GError) err = NULL;
    g_autoptr(VhChannelSocket) ch = vh_channel_socket_new_fd(ac->fd, &err);

    g_assert_no_error(err);
    ac->conn = vh_rpc_server_add_client(fx->srv, VH_CHANNEL(ch), ac->tls,
                                        ac->readonly, "test client");
    g_mutex_lock(&fx->lock);
    ac->done = true;
    g_cond_broadcast(&fx->cond);
    g_mutex_unlock(&fx->lock);
    return G_SOURCE_REMOVE;
}

/* A connected client fd whose other end the server serves. */
static int connect_client_full(bool readonly, VhRpcConn **conn)
{
    int sv[2];
    AddClient ac = {0};

    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==,
                    0);
    ac.fd = sv[1];
    ac.readonly = readonly;
    g_main_context_invoke(fx->ctx, add_client_cb, &ac);
    g_mutex_lock(&fx->lock);
    while (!ac.done) {
        g_cond_wait(&fx->cond, &fx->lock);
    }
    g_mutex_unlock(&fx->lock);
    if (conn) {
        *conn = ac.conn;
    }
    return sv[0];
}

static int connect_client(void)
{
    return connect_client_full(false, NULL);
}

static void send_all(int fd, const void *data, gsize len)
{
    const guint8 *p = data;

    while (len) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && errno == EPIPE) {
            return; /* the server closed; the reader will see it */
        }
        g_assert_cmpint(n, >, 0);
        p += n;
        len -= n;
    }
}

static void send_packet(int fd, guint32 prog, guint32 proc, guint32 type,
                        guint32 serial, guint32 status, const GByteArray *body)
{
    VhRpcHeader h = {prog, VERS, proc, type, serial, status};
    g_autoptr(GByteArray) p = vh_rpc_packet_new(&h);

    if (body) {
        g_byte_array_append(p, body->data, body->len);
    }
    vh_rpc_packet_finish(p);
    send_all(fd, p->data, p->len);
}

static void call(int fd, guint32 proc, guint32 serial, const GByteArray *body)
{
    send_packet(fd, PROG, proc, VH_RPC_CALL, serial, VH_RPC_OK, body);
}

/* 0: EOF; 1: got n bytes; waits at most 5 s */
static int read_exact(int fd, void *buf, gsize len)
{
    guint8 *p = buf;
    gsize got = 0;

    while (got < len) {
        struct pollfd pfd = {fd, POLLIN, 0};
        int r = poll(&pfd, 1, 5000);
        g_assert_cmpint(r, ==, 1);
        ssize_t n = recv(fd, p + got, len - got, 0);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            g_assert_cmpuint(got, ==, 0);
            return 0;
        }
        got += n;
    }
    return 1;
}

/* The next packet (its payload in *body), or false at EOF. */
static bool read_packet(int fd, VhRpcHeader *h, GByteArray **body)
{
    guint8 lenbuf[4];
    guint32 len;
    g_autoptr(GError) err = NULL;

    if (!read_exact(fd, lenbuf, 4)) {
        return false;
    }
    g_assert_true(vh_rpc_packet_check_length(lenbuf, &len, &err));
    g_autofree guint8 *pkt = g_malloc(len);
    memcpy(pkt, lenbuf, 4);
    g_assert_cmpint(read_exact(fd, pkt + 4, len - 4), ==, 1);
    VhXdrReader r = VH_XDR_READER_INIT(pkt, len);
    g_assert_true(vh_rpc_packet_decode_header(&r, h, &err));
    *body = g_byte_array_new();
    g_byte_array_append(*body, pkt + r.pos, len - r.pos);
    return true;
}

static void expect_eof(int fd)
{
    VhRpcHeader h;
    g_autoptr(GByteArray) body = NULL;

    g_assert_false(read_packet(fd, &h, &body));
}

/* Read the reply to @serial, skipping keepalive messages. */
static GByteArray *read_reply(int fd, guint32 serial, guint32 *status)
{
    for (;;) {
        VhRpcHeader h;
        GByteArray *body = NULL;
        g_assert_true(read_packet(fd, &h, &body));
        if (h.type == VH_RPC_MESSAGE) {
            g_byte_array_unref(body);
            continue;
        }
        g_assert_cmpuint(h.type, ==, VH_RPC_REPLY);
        g_assert_cmpuint(h.serial, ==, serial);
        *status = h.status;
        return body;
    }
}

static void expect_ok(int fd, guint32 serial)
{
    guint32 st;
    g_autoptr(GByteArray) b = read_reply(fd, serial, &st);

    g_assert_cmpuint(st, ==, VH_RPC_OK);
}

/* An ERROR reply to @serial with @code whose message contains @text. */
static void expect_error(int fd, guint32 serial, int code, const char *text)
{
    guint32 st;
    g_autoptr(GByteArray) b = read_reply(fd, serial, &st);
    VhXdrReader r = VH_XDR_READER_INIT(b->data, b->len);
    VhRpcError e = {0};
    g_autoptr(GError) err = NULL;

    g_assert_cmpuint(st, ==, VH_RPC_ERROR);
    g_assert_true(vh_rpc_error_decode(&r, &e, &err));
    g_assert_true(vh_xdr_end(&r, &err));
    g_assert_cmpint(e.code, ==, code);
    if (!strstr(e.message, text)) {
        g_error("error '%s' does not say '%s'", e.message, text);
    }
    vh_rpc_error_clear(&e);
}

static GByteArray *string_body(const char *s)
{
    GByteArray *b = g_byte_array_new();

    vh_xdr_put_string(b, s);
    return b;
}

static void echo_ok(int fd, guint32 serial, const char *s)
{
    g_autoptr(GByteArray) arg = string_body(s);
    guint32 st;

    call(fd, P_ECHO, serial, arg);
    g_autoptr(GByteArray) b = read_reply(fd, serial, &st);
    g_assert_cmpuint(st, ==, VH_RPC_OK);
    g_assert_cmpmem(b->data, b->len, arg->data, arg->len);
}

static int open_client(void)
{
    int fd = connect_client();

    call(fd, P_OPEN, 1, NULL);
    expect_ok(fd, 1);
    return fd;
}

/* ---- the tests ---- */

static void test_call(void)
{
    fixture_start(&default_cfg);
    int fd = open_client();
    echo_ok(fd, 2, "hello");
    /* byte by byte: partial reads on the server */
    g_autoptr(GByteArray) arg = string_body("slow");
    VhRpcHeader h = {PROG, VERS, P_ECHO, VH_RPC_CALL, 3, VH_RPC_OK};
    g_autoptr(GByteArray) p = vh_rpc_packet_new(&h);
    g_byte_array_append(p, arg->data, arg->len);
    vh_rpc_packet_finish(p);
    for (guint i = 0; i < p->len; i++) {
        send_all(fd, p->data + i, 1);
        g_usleep(200);
    }
    expect_ok(fd, 3);
    close(fd);
    fixture_stop();
}

static void test_before_open(void)
{
    fixture_start(&default_cfg);
    int fd = connect_client();
    g_autoptr(GByteArray) arg = string_body("x");
    call(fd, P_ECHO, 5, arg);
    expect_error(fd, 5, VH_VIR_ERR_INTERNAL_ERROR, "connection not open");
    call(fd, P_OPEN, 6, NULL);
    expect_ok(fd, 6);
    echo_ok(fd, 7, "x");
    close(fd);
    fixture_stop();
}

static void test_unknown(void)
{
    fixture_start(&default_cfg);
    int fd = open_client();
    send_packet(fd, 0x999, P_ECHO, VH_RPC_CALL, 2, VH_RPC_OK, NULL);
    expect_error(fd, 2, VH_VIR_ERR_RPC, "Cannot find program");
    VhRpcHeader h = {PROG, 7, P_ECHO, VH_RPC_CALL, 3, VH_RPC_OK};
    g_autoptr(GByteArray) p = vh_rpc_packet_new(&h);
    vh_rpc_packet_finish(p);
    send_all(fd, p->data, p->len);
    expect_error(fd, 3, VH_VIR_ERR_RPC, "version 7");
    call(fd, 4242, 4, NULL);
    expect_error(fd, 4, VH_VIR_ERR_NO_SUPPORT, "unknown procedure: 4242");
    /* a call with a non-OK status */
    send_packet(fd, PROG, P_ECHO, VH_RPC_CALL, 5, VH_RPC_ERROR, NULL);
    expect_error(fd, 5, VH_VIR_ERR_RPC, "status");
    echo_ok(fd, 6, "still here");
    close(fd);
    fixture_stop();
}

static void test_client_reply(void)
{
    fixture_start(&default_cfg);
    int fd = open_client();
    send_packet(fd, PROG, P_ECHO, VH_RPC_REPLY, 9, VH_RPC_OK, NULL);
    expect_error(fd, 9, VH_VIR_ERR_RPC, "unexpected reply");
    send_packet(fd, PROG, P_ECHO, VH_RPC_STREAM, 10, VH_RPC_CONTINUE, NULL);
    expect_error(fd, 10, VH_VIR_ERR_RPC, "no open stream");
    send_packet(fd, PROG, P_ECHO, 77, 11, VH_RPC_OK, NULL);
    expect_error(fd, 11, VH_VIR_ERR_RPC, "type 77");
    send_packet(fd, PROG, P_ECHO, VH_RPC_CALL_WITH_FDS, 12, VH_RPC_OK, NULL);
    expect_error(fd, 12, VH_VIR_ERR_NO_SUPPORT, "file descriptors");
    echo_ok(fd, 13, "ok");
    close(fd);
    fixture_stop();
}

static void send_length(int fd, guint32 len)
{
    guint32 be = GUINT32_TO_BE(len);

    send_all(fd, &be, 4);
}

static void test_framing(void)
{
    fixture_start(&default_cfg);
    int fd = open_client();
    send_length(fd, VH_RPC_PACKET_MAX + 1);
    expect_eof(fd);
    close(fd);

    fd = open_client();
    send_length(fd, VH_RPC_PACKET_MIN - 1);
    expect_eof(fd);
    close(fd);

    fd = open_client();
    send_length(fd, 0);
    expect_eof(fd);
    close(fd);

    /* the server still serves others */
    fd = open_client();
    echo_ok(fd, 2, "alive");
    close(fd);
    fixture_stop();
}

static void test_bad_args(void)
{
    fixture_start(&default_cfg);
    int fd = open_client();
    g_autoptr(GByteArray) arg = string_body("truncated");

    /* truncated */
    g_byte_array_set_size(arg, arg->len - 4);
    call(fd, P_ECHO, 2, arg);
    expect_error(fd, 2, VH_VIR_ERR_RPC, "truncated");
    /* trailing */
    g_autoptr(GByteArray) tr = string_body("ab");
    vh_xdr_put_u32(tr, 1);
    call(fd, P_ECHO, 3, tr);
    expect_error(fd, 3, VH_VIR_ERR_RPC, "trailing");
    /* a string over 4 MiB, all of it sent */
    g_autoptr(GByteArray) big = g_byte_array_new();
    vh_xdr_put_u32(big, VH_XDR_STRING_MAX + 1);
    g_byte_array_set_size(big, 4 + VH_XDR_STRING_MAX + 4);
    memset(big->data + 4, 'a', VH_XDR_STRING_MAX + 1);
    memset(big->data + 4 + VH_XDR_STRING_MAX + 1, 0, 3);
    call(fd, P_ECHO, 4, big);
    expect_error(fd, 4, VH_VIR_ERR_RPC, "limit");
    /* array counts over the limit, and counts the packet cannot hold */
    g_autoptr(GByteArray) arr = g_byte_array_new();
    vh_xdr_put_u32(arr, 11);
    for (int i = 0; i < 11; i++) {
        vh_xdr_put_i32(arr, i);
    }
    call(fd, P_ARRAY, 5, arr);
    expect_error(fd, 5, VH_VIR_ERR_RPC, "limit of 10");
    g_byte_array_set_size(arr, 0);
    vh_xdr_put_u32(arr, 3);
    vh_xdr_put_i32(arr, 1);
    call(fd, P_ARRAY, 6, arr);
    expect_error(fd, 6, VH_VIR_ERR_RPC, "truncated");
    g_byte_array_set_size(arr, 0);
    vh_xdr_put_u32(arr, 2);
    vh_xdr_put_i32(arr, 40);
    vh_xdr_put_i32(arr, 2);
    call(fd, P_ARRAY, 7, arr);
    guint32 st;
    g_autoptr(GByteArray) sum = read_reply(fd, 7, &st);
    g_assert_cmpuint(st, ==, VH_RPC_OK);
    g_assert_cmpmem(sum->data, sum->len, "\0\0\0\x2a", 4);
    close(fd);
    fixture_stop();
}

static void test_readonly(void)
{
    fixture_start(&default_cfg);
    int fd = connect_client_full(true, NULL);
    call(fd, P_OPEN, 1, NULL);
    expect_ok(fd, 1);
    echo_ok(fd, 2, "reading is fine");
    call(fd, P_WRITE, 3, NULL);
    expect_error(fd, 3, VH_VIR_ERR_OPERATION_DENIED,
                 "read only access prevents virWrite");
    close(fd);

    fd = open_client();
    call(fd, P_WRITE, 3, NULL);
    expect_ok(fd, 3);
    close(fd);
    fixture_stop();
}

static void test_keepalive_pong(void)
{
    fixture_start(&default_cfg);
    int fd = open_client();
    send_packet(fd, VH_RPC_KEEPALIVE_PROGRAM, VH_RPC_KEEPALIVE_PING,
                VH_RPC_MESSAGE, 0, VH_RPC_OK, NULL);
    VhRpcHeader h;
    g_autoptr(GByteArray) b = NULL;
    g_assert_true(read_packet(fd, &h, &b));
    g_assert_cmphex(h.prog, ==, VH_RPC_KEEPALIVE_PROGRAM);
    g_assert_cmpuint(h.proc, ==, VH_RPC_KEEPALIVE_PONG);
    g_assert_cmpuint(h.type, ==, VH_RPC_MESSAGE);
    g_assert_cmpuint(b->len, ==, 0);
    close(fd);
    fixture_stop();
}

static void test_keepalive_drop(void)
{
    VhRpcServerConfig cfg = {
        .max_workers = 2, .keepalive_interval_ms = 100, .keepalive_count = 2};
    fixture_start(&cfg);

    /* a client that answers stays */
    int good = connect_client();
    call(good, P_KA, 1, NULL);
    expect_ok(good, 1);
    for (int i = 0; i < 4; i++) {
        VhRpcHeader h;
        g_autoptr(GByteArray) b = NULL;
        g_assert_true(read_packet(good, &h, &b));
        g_assert_cmpuint(h.proc, ==, VH_RPC_KEEPALIVE_PING);
        send_packet(good, VH_RPC_KEEPALIVE_PROGRAM, VH_RPC_KEEPALIVE_PONG,
                    VH_RPC_MESSAGE, 0, VH_RPC_OK, NULL);
    }
    call(good, P_OPEN, 2, NULL);
    expect_ok(good, 2);
    close(good);

    /* one that does not answer is dropped after two pings */
    int bad = connect_client();
    call(bad, P_KA, 1, NULL);
    expect_ok(bad, 1);
    gint64 start = g_get_monotonic_time();
    guint pings = 0;
    for (;;) {
        VhRpcHeader h;
        g_autoptr(GByteArray) b = NULL;
        if (!read_packet(bad, &h, &b)) {
            break;
        }
        g_assert_cmpuint(h.proc, ==, VH_RPC_KEEPALIVE_PING);
        pings++;
    }
    g_assert_cmpuint(pings, ==, 2);
    g_assert_cmpint(g_get_monotonic_time() - start, >=, 250 * 1000);
    close(bad);
    fixture_stop();
}

static void test_idle(void)
{
    VhRpcServerConfig cfg = {.max_workers = 2, .idle_timeout_ms = 150};
    fixture_start(&cfg);
    gint64 start = g_get_monotonic_time();
    int fd = connect_client();
    expect_eof(fd);
    g_assert_cmpint(g_get_monotonic_time() - start, >=, 140 * 1000);
    close(fd);
    fixture_stop();
}

static void test_max_clients(void)
{
    VhRpcServerConfig cfg = {.max_workers = 2, .max_clients = 1};
    fixture_start(&cfg);
    int first = open_client();
    int second = connect_client();
    call(second, P_OPEN, 1, NULL);
    expect_error(second, 1, VH_VIR_ERR_RPC,
                 "Too many active clients (1), dropping connection");
    expect_eof(second);
    close(second);
    echo_ok(first, 2, "first is served");
    close(first);
    /* once the first is gone there is room again */
    for (int i = 0; i < 100 && vh_rpc_server_get_n_clients(fx->srv); i++) {
        g_usleep(10000);
    }
    int third = open_client();
    echo_ok(third, 2, "third");
    close(third);
    fixture_stop();
}

static void test_concurrency(void)
{
    fixture_start(&default_cfg);
    int a = open_client();
    int b = open_client();
    call(a, P_BLOCK, 2, NULL);
    g_usleep(50000);
    /* b's call and a's next call are served while a's BLOCK waits */
    echo_ok(b, 2, "not delayed");
    echo_ok(a, 3, "same connection, not delayed either");
    release_blocked();
    expect_ok(a, 2);
    close(a);
    close(b);
    fixture_stop();
}

typedef struct {
    VhRpcConn *conn;
} EventArgs;

static gpointer send_event_thread(gpointer opaque)
{
    g_autoptr(GByteArray) b = g_byte_array_new();

    vh_xdr_put_i32(b, 42);
    g_assert_true(vh_rpc_conn_send_message(opaque, PROG, VERS, 107, b));
    return NULL;
}

static void test_event(void)
{
    fixture_start(&default_cfg);
    VhRpcConn *conn;
    int fd = connect_client_full(false, &conn);
    call(fd, P_OPEN, 1, NULL);
    expect_ok(fd, 1);
    g_thread_join(g_thread_new("event", send_event_thread, conn));
    VhRpcHeader h;
    g_autoptr(GByteArray) b = NULL;
    g_assert_true(read_packet(fd, &h, &b));
    g_assert_cmpuint(h.type, ==, VH_RPC_MESSAGE);
    g_assert_cmpuint(h.serial, ==, 0);
    g_assert_cmpuint(h.proc, ==, 107);
    g_assert_cmpmem(b->data, b->len, "\0\0\0\x2a", 4);
    close(fd);
    fixture_stop();
}

/* A client that does not read while events pile up is dropped. */
static void test_queue_limit(void)
{
    VhRpcServerConfig cfg = {.max_workers = 2, .max_queue_bytes = 256 * 1024};
    fixture_start(&cfg);
    VhRpcConn *conn;
    int fd = connect_client_full(false, &conn);
    call(fd, P_OPEN, 1, NULL);
    expect_ok(fd, 1);
    vh_rpc_conn_ref(conn);

    g_autoptr(GByteArray) body = g_byte_array_new();
    g_byte_array_set_size(body, 32 * 1024);
    memset(body->data, 0, body->len);
    guint sent = 0;
    for (int i = 0;
         i < 2000 && vh_rpc_conn_send_message(conn, PROG, VERS, 107, body);
         i++) {
        sent++;
        g_usleep(500);
    }
    g_assert_cmpuint(sent, <, 2000);
    for (int i = 0; i < 200 && !vh_rpc_conn_is_closed(conn); i++) {
        g_usleep(10000);
    }
    g_assert_true(vh_rpc_conn_is_closed(conn));
    /* what was written before the drop arrives, then EOF */
    guint got = 0;
    for (;;) {
        VhRpcHeader h;
        g_autoptr(GByteArray) b = NULL;
        if (!read_packet(fd, &h, &b)) {
            break;
        }
        got++;
    }
    g_assert_cmpuint(got, <, sent);
    vh_rpc_conn_unref(conn);
    close(fd);
    fixture_stop();
}

static void read_stream(int fd, guint32 serial, guint32 status,
                        const char *data)
{
    VhRpcHeader h;
    g_autoptr(GByteArray) b = NULL;

    g_assert_true(read_packet(fd, &h, &b));
    g_assert_cmpuint(h.type, ==, VH_RPC_STREAM);
    g_assert_cmpuint(h.serial, ==, serial);
    g_assert_cmpuint(h.proc, ==, P_STREAM);
    g_assert_cmpuint(h.status, ==, status);
    g_assert_cmpmem(b->data, b->len, data, strlen(data));
}

static void stream_send(int fd, guint32 serial, guint32 status,
                        const char *data)
{
    g_autoptr(GByteArray) b = g_byte_array_new();

    g_byte_array_append(b, (const guint8 *)data, strlen(data));
    send_packet(fd, PROG, P_STREAM, VH_RPC_STREAM, serial, status, b);
}

static void test_stream(void)
{
    fixture_start(&default_cfg);
    int fd = open_client();
    char buf[16];

    /* data both ways, then the client finishes */
    call(fd, P_STREAM, 2, NULL);
    expect_ok(fd, 2);
    send_all(fx->stream_peer, "from guest", 10);
    read_stream(fd, 2, VH_RPC_CONTINUE, "from guest");
    stream_send(fd, 2, VH_RPC_CONTINUE, "typed");
    g_assert_cmpint(read_exact(fx->stream_peer, buf, 5), ==, 1);
    g_assert_cmpmem(buf, 5, "typed", 5);
    stream_send(fd, 2, VH_RPC_OK, "");
    read_stream(fd, 2, VH_RPC_OK, "");
    g_assert_cmpint(read_exact(fx->stream_peer, buf, 1), ==, 0);
    close(fx->stream_peer);

    /* the client aborts: the channel closes, an empty OK confirms */
    call(fd, P_STREAM, 3, NULL);
    expect_ok(fd, 3);
    stream_send(fd, 3, VH_RPC_ERROR, "");
    read_stream(fd, 3, VH_RPC_OK, "");
    g_assert_cmpint(read_exact(fx->stream_peer, buf, 1), ==, 0);
    close(fx->stream_peer);

    /* the source ends: an empty CONTINUE, then the client's OK */
    call(fd, P_STREAM, 4, NULL);
    expect_ok(fd, 4);
    close(fx->stream_peer);
    fx->stream_peer = -1;
    read_stream(fd, 4, VH_RPC_CONTINUE, "");
    stream_send(fd, 4, VH_RPC_OK, "");
    read_stream(fd, 4, VH_RPC_OK, "");
    echo_ok(fd, 5, "after streams");
    close(fd);
    fixture_stop();
}

static void test_stream_backpressure(void)
{
    fixture_start(&default_cfg);
    int fd = open_client();
    call(fd, P_STREAM, 2, NULL);
    expect_ok(fd, 2);

    /* the client reads nothing while the source offers 8 MiB: the server
     * stops reading the source instead of queueing it all */
    int peer = fx->stream_peer;
    g_unix_set_fd_nonblocking(peer, TRUE, NULL);
    static guint8 chunk[65536];
    gsize offered = 0;
    gint64 deadline = g_get_monotonic_time() + 3 * G_USEC_PER_SEC;
    while (offered < 8 * 1024 * 1024 && g_get_monotonic_time() < deadline) {
        ssize_t n = write(peer, chunk, sizeof(chunk));
        if (n > 0) {
            offered += n;
        } else {
            g_usleep(10000);
        }
    }
    g_assert_cmpuint(offered, <, 8 * 1024 * 1024);
    /* now drain: everything offered arrives */
    gsize got = 0;
    while (got < offered) {
        VhRpcHeader h;
        g_autoptr(GByteArray) b = NULL;
        g_assert_true(read_packet(fd, &h, &b));
        g_assert_cmpuint(h.status, ==, VH_RPC_CONTINUE);
        got += b->len;
    }
    g_assert_cmpuint(got, ==, offered);
    close(fd);
    fixture_stop();
}

typedef struct {
    int fd;
    guint32 serial;
    gsize len;
} StreamSender;

static gpointer stream_sender(gpointer opaque)
{
    StreamSender *ss = opaque;
    g_autoptr(GByteArray) b = g_byte_array_new();

    g_byte_array_set_size(b, 256 * 1024);
    memset(b->data, 0x5a, b->len);
    for (gsize sent = 0; sent < ss->len; sent += b->len) {
        send_packet(ss->fd, PROG, P_STREAM, VH_RPC_STREAM, ss->serial,
                    VH_RPC_CONTINUE, b);
    }
    return NULL;
}

/* A stream whose channel stops reading pauses the client's input for
 * longer than keepalive allows (3 x 100 ms): the client cannot be heard
 * meanwhile, so that time is not held against it, and the tunnel resumes
 * once the channel drains. */
static void test_stream_paused_keepalive(void)
{
    VhRpcServerConfig cfg = {
        .max_workers = 2, .keepalive_interval_ms = 100, .keepalive_count = 2};
    fixture_start(&cfg);
    int fd = open_client();
    call(fd, P_KA, 2, NULL);
    expect_ok(fd, 2);
    call(fd, P_STREAM, 3, NULL);
    expect_ok(fd, 3);

    StreamSender ss = {fd, 3, 12 * 1024 * 1024};
    GThread *t = g_thread_new("sender", stream_sender, &ss);
    g_usleep(1000 * 1000); /* the peer reads nothing: the input pauses */
    static guint8 buf[256 * 1024];
    for (gsize got = 0; got < ss.len; got += sizeof(buf)) {
        g_assert_cmpint(read_exact(fx->stream_peer, buf, sizeof(buf)), ==, 1);
    }
    g_thread_join(t);
    echo_ok(fd, 4, "still here");
    close(fd);
    fixture_stop();
}

static void test_tls_byte(void)
{
    int sv[2];
    AddClient ac = {0};
    guint8 one = 0;

    fixture_start(&default_cfg);
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==,
                    0);
    ac.fd = sv[1];
    ac.tls = true;
    g_main_context_invoke(fx->ctx, add_client_cb, &ac);
    g_assert_cmpint(read_exact(sv[0], &one, 1), ==, 1);
    g_assert_cmpuint(one, ==, 1);
    call(sv[0], P_OPEN, 1, NULL);
    expect_ok(sv[0], 1);
    close(sv[0]);
    fixture_stop();
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/rpc/server/call", test_call);
    g_test_add_func("/rpc/server/before-open", test_before_open);
    g_test_add_func("/rpc/server/unknown", test_unknown);
    g_test_add_func("/rpc/server/client-reply", test_client_reply);
    g_test_add_func("/rpc/server/framing", test_framing);
    g_test_add_func("/rpc/server/bad-args", test_bad_args);
    g_test_add_func("/rpc/server/readonly", test_readonly);
    g_test_add_func("/rpc/server/keepalive/pong", test_keepalive_pong);
    g_test_add_func("/rpc/server/keepalive/drop", test_keepalive_drop);
    g_test_add_func("/rpc/server/idle", test_idle);
    g_test_add_func("/rpc/server/max-clients", test_max_clients);
    g_test_add_func("/rpc/server/concurrency", test_concurrency);
    g_test_add_func("/rpc/server/event", test_event);
    g_test_add_func("/rpc/server/queue-limit", test_queue_limit);
    g_test_add_func("/rpc/server/stream", test_stream);
    g_test_add_func("/rpc/server/stream-backpressure",
                    test_stream_backpressure);
    g_test_add_func("/rpc/server/stream-paused-keepalive",
                    test_stream_paused_keepalive);
    g_test_add_func("/rpc/server/tls-byte", test_tls_byte);
    return g_test_run();
}
