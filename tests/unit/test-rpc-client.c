/*
 * VhRpcClient against a hand-fed byte stream: the test thread plays the
 * server on the other end of a socketpair, reading the client's packets
 * and writing replies, events, stream data and broken packets byte by
 * byte. Every failure must end the call with a GError, never a crash or a
 * hang (every wait here is bounded), and the closed callback must run
 * exactly once.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vmhost/io/channel-socket.h"
#include "vmhost/rpc/client.h"

#define PROG    0x20008086u
#define VERS    1u
#define WAIT_MS 5000

typedef struct {
    VhChannelSocket *cli_ch, *srv_ch;
    int fd; /* the fake server's end */
    VhRpcClient *c;
    int events, closed;
    GError *closed_reason;
    VhRpcHeader last_event;
} Fixture;

static void on_event(const VhRpcHeader *hdr, GBytes *body, gpointer opaque)
{
    Fixture *f = opaque;

    f->events++;
    f->last_event = *hdr;
}

static void on_closed(const GError *reason, gpointer opaque)
{
    Fixture *f = opaque;

    f->closed++;
    g_clear_error(&f->closed_reason);
    f->closed_reason = g_error_copy(reason);
}

static void setup_full(Fixture *f, bool tls, guint timeout_ms)
{
    VhRpcClientConfig cfg = {
        .call_timeout_ms = timeout_ms,
        .event_func = on_event,
        .closed_func = on_closed,
        .opaque = f,
    };

    memset(f, 0, sizeof(*f));
    g_assert_true(vh_channel_socket_pair(&f->cli_ch, &f->srv_ch, NULL));
    f->fd = vh_channel_socket_get_fd(f->srv_ch);
    f->c = vh_rpc_client_new(VH_CHANNEL(f->cli_ch), tls, &cfg);
}

/* A new client in place of the fixture's (its closed delivery drained). */
static void reset(Fixture *f, bool tls, guint timeout_ms)
{
    vh_rpc_client_unref(f->c);
    while (g_main_context_iteration(NULL, FALSE)) {
    }
    g_clear_error(&f->closed_reason);
    g_clear_object(&f->cli_ch);
    g_clear_object(&f->srv_ch);
    setup_full(f, tls, timeout_ms);
}

static void setup(Fixture *f, gconstpointer data)
{
    setup_full(f, false, 0);
}

static void teardown(Fixture *f, gconstpointer data)
{
    vh_rpc_client_unref(f->c);
    /* deliveries queued on the default context */
    while (g_main_context_iteration(NULL, FALSE)) {
    }
    g_assert_cmpint(f->closed, <=, 1);
    g_clear_error(&f->closed_reason);
    g_clear_object(&f->cli_ch);
    g_clear_object(&f->srv_ch);
}

/* ---- the fake server ---- */

static bool wait_fd(int fd, short ev)
{
    struct pollfd p = {fd, ev, 0};

    return poll(&p, 1, WAIT_MS) == 1;
}

static bool read_n(int fd, void *buf, size_t n)
{
    guint8 *p = buf;

    while (n > 0) {
        if (!wait_fd(fd, POLLIN)) {
            return false;
        }
        ssize_t r = read(fd, p, n);
        if (r <= 0) {
            return false;
        }
        p += r;
        n -= r;
    }
    return true;
}

static void write_n(int fd, const void *buf, size_t n)
{
    g_assert_cmpint(write(fd, buf, n), ==, (ssize_t)n);
}

/* One packet from the client: its header, its payload (transfer full). */
static GBytes *srv_read(Fixture *f, VhRpcHeader *hdr)
{
    guint8 lenbuf[4];
    guint32 len;
    g_autofree guint8 *pkt = NULL;

    g_assert_true(read_n(f->fd, lenbuf, 4));
    g_assert_true(vh_rpc_packet_check_length(lenbuf, &len, NULL));
    pkt = g_malloc(len);
    memcpy(pkt, lenbuf, 4);
    g_assert_true(read_n(f->fd, pkt + 4, len - 4));
    VhXdrReader r = VH_XDR_READER_INIT(pkt, len);
    g_assert_true(vh_rpc_packet_decode_header(&r, hdr, NULL));
    return g_bytes_new(pkt + r.pos, len - r.pos);
}

static void srv_send(Fixture *f, guint32 prog, guint32 proc, guint32 type,
                     guint32 serial, guint32 status, const void *payload,
                     gsize len)
{
    VhRpcHeader hdr = {prog, VERS, proc, type, serial, status};
    g_autoptr(GByteArray) pkt = vh_rpc_packet_new(&hdr);

    g_byte_array_append(pkt, payload, len);
    vh_rpc_packet_finish(pkt);
    write_n(f->fd, pkt->data, pkt->len);
}

static void srv_reply(Fixture *f, const VhRpcHeader *call, guint32 status,
                      const void *payload, gsize len)
{
    srv_send(f, call->prog, call->proc, VH_RPC_REPLY, call->serial, status,
             payload, len);
}

/* ---- async helpers ---- */

typedef struct {
    bool done;
    GBytes *ret;
    GError *err;
} Result;

static void on_result(GObject *src, GAsyncResult *res, gpointer opaque)
{
    Result *r = opaque;

    r->ret = vh_rpc_client_call_finish(NULL, res, &r->err);
    r->done = true;
}

static void wait_result(Result *r)
{
    gint64 end = g_get_monotonic_time() + WAIT_MS * 1000;

    while (!r->done && g_get_monotonic_time() < end) {
        g_main_context_iteration(NULL, FALSE);
        g_usleep(1000);
    }
    g_assert_true(r->done);
}

static void wait_closed(Fixture *f)
{
    gint64 end = g_get_monotonic_time() + WAIT_MS * 1000;

    while (!f->closed && g_get_monotonic_time() < end) {
        g_main_context_iteration(NULL, FALSE);
        g_usleep(1000);
    }
    g_assert_cmpint(f->closed, ==, 1);
}

static void result_clear(Result *r)
{
    g_clear_pointer(&r->ret, g_bytes_unref);
    g_clear_error(&r->err);
    r->done = false;
}

static void start_call(Fixture *f, guint32 proc, Result *r,
                       GCancellable *cancellable)
{
    g_autoptr(GByteArray) args = g_byte_array_new();

    vh_xdr_put_string(args, "vm1");
    vh_rpc_client_call_async(f->c, PROG, VERS, proc, args, cancellable,
                             on_result, r);
}

/* ---- tests ---- */

static void test_call_reply(Fixture *f, gconstpointer data)
{
    Result r = {0};
    VhRpcHeader hdr;
    g_autoptr(GBytes) args = NULL;
    guint8 payload[] = {0, 0, 0, 42};

    start_call(f, 23, &r, NULL);
    args = srv_read(f, &hdr);
    g_assert_cmphex(hdr.prog, ==, PROG);
    g_assert_cmpuint(hdr.proc, ==, 23);
    g_assert_cmpuint(hdr.type, ==, VH_RPC_CALL);
    g_assert_cmpuint(hdr.status, ==, VH_RPC_OK);
    g_assert_cmpuint(hdr.serial, >, 0);
    g_assert_cmpuint(g_bytes_get_size(args), ==, 8); /* "vm1" + padding */
    srv_reply(f, &hdr, VH_RPC_OK, payload, 4);
    wait_result(&r);
    g_assert_no_error(r.err);
    g_assert_cmpmem(g_bytes_get_data(r.ret, NULL), 4, payload, 4);
    result_clear(&r);
}

/* Replies come back in any order: matched by serial. */
static void test_out_of_order(Fixture *f, gconstpointer data)
{
    Result r1 = {0}, r2 = {0};
    VhRpcHeader h1, h2;
    g_autoptr(GBytes) a1 = NULL, a2 = NULL;
    guint8 one[] = {0, 0, 0, 1}, two[] = {0, 0, 0, 2};

    start_call(f, 16, &r1, NULL);
    start_call(f, 16, &r2, NULL);
    a1 = srv_read(f, &h1);
    a2 = srv_read(f, &h2);
    g_assert_cmpuint(h1.serial, !=, h2.serial);
    srv_reply(f, &h2, VH_RPC_OK, two, 4);
    srv_reply(f, &h1, VH_RPC_OK, one, 4);
    wait_result(&r1);
    wait_result(&r2);
    g_assert_cmpmem(g_bytes_get_data(r1.ret, NULL), 4, one, 4);
    g_assert_cmpmem(g_bytes_get_data(r2.ret, NULL), 4, two, 4);
    result_clear(&r1);
    result_clear(&r2);
}

static void test_error_reply(Fixture *f, gconstpointer data)
{
    Result r = {0};
    VhRpcHeader hdr;
    g_autoptr(GBytes) args = NULL;
    g_autoptr(GByteArray) body = g_byte_array_new();
    g_autoptr(GError) err = g_error_new(VH_VIR_ERROR, VH_VIR_ERR_NO_DOMAIN,
                                        "Domain not found: vm1");

    start_call(f, 23, &r, NULL);
    args = srv_read(f, &hdr);
    vh_rpc_error_encode(body, err, VH_VIR_FROM_REMOTE);
    srv_reply(f, &hdr, VH_RPC_ERROR, body->data, body->len);
    wait_result(&r);
    g_assert_error(r.err, VH_VIR_ERROR, VH_VIR_ERR_NO_DOMAIN);
    g_assert_nonnull(strstr(r.err->message, "vm1"));
    result_clear(&r);
}

/* A reply that does not decode fails its call; the connection stays. */
static void test_malformed_reply(Fixture *f, gconstpointer data)
{
    Result r = {0};
    VhRpcHeader hdr;
    GBytes *args;
    guint8 junk[] = {0, 0, 0, 42, 0, 0}; /* a truncated error struct */

    start_call(f, 23, &r, NULL);
    args = srv_read(f, &hdr);
    g_bytes_unref(args);
    srv_reply(f, &hdr, VH_RPC_ERROR, junk, sizeof(junk));
    wait_result(&r);
    g_assert_error(r.err, VH_VIR_ERROR, VH_VIR_ERR_RPC);
    result_clear(&r);

    /* unknown status */
    start_call(f, 23, &r, NULL);
    args = srv_read(f, &hdr);
    g_bytes_unref(args);
    srv_reply(f, &hdr, 7, NULL, 0);
    wait_result(&r);
    g_assert_error(r.err, VH_VIR_ERROR, VH_VIR_ERR_RPC);
    result_clear(&r);

    /* a reply naming another procedure */
    start_call(f, 23, &r, NULL);
    args = srv_read(f, &hdr);
    g_bytes_unref(args);
    srv_send(f, PROG, 9999, VH_RPC_REPLY, hdr.serial, VH_RPC_OK, NULL, 0);
    wait_result(&r);
    g_assert_error(r.err, VH_VIR_ERROR, VH_VIR_ERR_RPC);
    g_assert_nonnull(strstr(r.err->message, "9999"));
    result_clear(&r);

    /* a reply to nobody is ignored; the link still works */
    srv_send(f, PROG, 23, VH_RPC_REPLY, 777777, VH_RPC_OK, NULL, 0);
    start_call(f, 23, &r, NULL);
    args = srv_read(f, &hdr);
    g_bytes_unref(args);
    srv_reply(f, &hdr, VH_RPC_OK, NULL, 0);
    wait_result(&r);
    g_assert_no_error(r.err);
    g_assert_false(vh_rpc_client_is_closed(f->c));
    result_clear(&r);
}

/* A STREAM packet on a call that opened no stream fails that call. */
static void test_stream_without_open(Fixture *f, gconstpointer data)
{
    Result r = {0};
    VhRpcHeader hdr;
    g_autoptr(GBytes) args = NULL;

    start_call(f, 14, &r, NULL);
    args = srv_read(f, &hdr);
    srv_send(f, PROG, 14, VH_RPC_STREAM, hdr.serial, VH_RPC_CONTINUE, "ab", 2);
    wait_result(&r);
    g_assert_error(r.err, VH_VIR_ERROR, VH_VIR_ERR_RPC);
    g_assert_nonnull(strstr(r.err->message, "opened no stream"));
    result_clear(&r);
}

/* Framing errors end the connection: every pending call fails. */
static void framing_case(Fixture *f, const guint8 *bytes, gsize len,
                         const char *needle)
{
    Result r1 = {0}, r2 = {0};
    VhRpcHeader h;
    GBytes *args;

    start_call(f, 16, &r1, NULL);
    start_call(f, 16, &r2, NULL);
    args = srv_read(f, &h);
    g_bytes_unref(args);
    args = srv_read(f, &h);
    g_bytes_unref(args);
    write_n(f->fd, bytes, len);
    wait_result(&r1);
    wait_result(&r2);
    g_assert_error(r1.err, VH_VIR_ERROR, VH_VIR_ERR_RPC);
    g_assert_error(r2.err, VH_VIR_ERROR, VH_VIR_ERR_RPC);
    if (g_test_verbose()) {
        g_test_message("%s", r1.err->message);
    }
    g_assert_nonnull(strstr(r1.err->message, needle));
    wait_closed(f);
    g_assert_true(vh_rpc_client_is_closed(f->c));
    result_clear(&r1);
    result_clear(&r2);
    /* later calls fail at once */
    start_call(f, 16, &r1, NULL);
    wait_result(&r1);
    g_assert_error(r1.err, VH_VIR_ERROR, VH_VIR_ERR_RPC);
    result_clear(&r1);
}

static void test_oversized(Fixture *f, gconstpointer data)
{
    guint8 big[] = {0x01, 0x00, 0x00, 0x04}; /* 16 MiB + 4 */

    framing_case(f, big, 4, "maximum");
}

static void test_undersized(Fixture *f, gconstpointer data)
{
    guint8 tiny[] = {0, 0, 0, 8, 1, 2, 3, 4};

    framing_case(f, tiny, 8, "less than");
}

static void test_truncated(Fixture *f, gconstpointer data)
{
    /* a 40-byte packet of which 10 bytes arrive, then EOF */
    guint8 part[] = {0, 0, 0, 40, 0x20, 0x00, 0x80, 0x86, 0, 0};

    write_n(f->fd, part, sizeof(part));
    shutdown(f->fd, SHUT_WR);
    Result r = {0};
    start_call(f, 16, &r, NULL);
    wait_result(&r);
    g_assert_error(r.err, VH_VIR_ERROR, VH_VIR_ERR_RPC);
    wait_closed(f);
    result_clear(&r);
}

static void test_dropped(Fixture *f, gconstpointer data)
{
    Result r[3] = {{0}};
    VhRpcHeader h;

    for (int i = 0; i < 3; i++) {
        start_call(f, 16, &r[i], NULL);
        g_bytes_unref(srv_read(f, &h));
    }
    g_clear_object(&f->srv_ch); /* closes the fake server's end */
    for (int i = 0; i < 3; i++) {
        wait_result(&r[i]);
        g_assert_error(r[i].err, VH_VIR_ERROR, VH_VIR_ERR_RPC);
        result_clear(&r[i]);
    }
    wait_closed(f);
    g_assert_nonnull(strstr(f->closed_reason->message, "closed"));
}

static void test_timeout(Fixture *f, gconstpointer data)
{
    Result r = {0};
    VhRpcHeader h;
    gint64 t0;

    reset(f, false, 100);
    t0 = g_get_monotonic_time();
    start_call(f, 16, &r, NULL);
    g_bytes_unref(srv_read(f, &h));
    wait_result(&r);
    g_assert_error(r.err, VH_VIR_ERROR, VH_VIR_ERR_OPERATION_TIMEOUT);
    g_assert_cmpint(g_get_monotonic_time() - t0, >=, 90 * 1000);
    result_clear(&r);
    /* the late reply is ignored, the next call works */
    srv_reply(f, &h, VH_RPC_OK, NULL, 0);
    start_call(f, 16, &r, NULL);
    g_bytes_unref(srv_read(f, &h));
    srv_reply(f, &h, VH_RPC_OK, NULL, 0);
    wait_result(&r);
    g_assert_no_error(r.err);
    result_clear(&r);

    /* a sync call times out too */
    g_autoptr(GError) err = NULL;
    GBytes *ret =
        vh_rpc_client_call_sync(f->c, PROG, VERS, 16, NULL, NULL, &err);
    g_assert_null(ret);
    g_assert_error(err, VH_VIR_ERROR, VH_VIR_ERR_OPERATION_TIMEOUT);
}

static gboolean cancel_later(gpointer opaque)
{
    g_cancellable_cancel(opaque);
    return G_SOURCE_REMOVE;
}

static gpointer iterate_once(gpointer ctx)
{
    g_main_context_iteration(ctx, TRUE);
    return NULL;
}

static void test_cancel(Fixture *f, gconstpointer data)
{
    Result r = {0};
    VhRpcHeader h;
    g_autoptr(GCancellable) cancel = g_cancellable_new();

    start_call(f, 16, &r, cancel);
    g_bytes_unref(srv_read(f, &h));
    g_cancellable_cancel(cancel);
    wait_result(&r);
    g_assert_error(r.err, G_IO_ERROR, G_IO_ERROR_CANCELLED);
    result_clear(&r);

    /* cancelled before it starts */
    g_autoptr(GCancellable) pre = g_cancellable_new();
    g_cancellable_cancel(pre);
    start_call(f, 16, &r, pre);
    g_bytes_unref(srv_read(f, &h));
    wait_result(&r);
    g_assert_error(r.err, G_IO_ERROR, G_IO_ERROR_CANCELLED);
    result_clear(&r);

    /* a sync call cancelled from another thread's timer */
    g_autoptr(GCancellable) c2 = g_cancellable_new();
    g_autoptr(GMainContext) ctx = g_main_context_new();
    g_autoptr(GError) err = NULL;
    GThread *t;
    GSource *src = g_timeout_source_new(50);

    g_source_set_callback(src, cancel_later, c2, NULL);
    g_source_attach(src, ctx);
    g_source_unref(src);
    t = g_thread_new("iterate", iterate_once, ctx);
    g_assert_null(
        vh_rpc_client_call_sync(f->c, PROG, VERS, 16, NULL, c2, &err));
    g_assert_error(err, G_IO_ERROR, G_IO_ERROR_CANCELLED);
    g_thread_join(t);
    g_assert_false(vh_rpc_client_is_closed(f->c));
}

static void test_keepalive(Fixture *f, gconstpointer data)
{
    VhRpcHeader h;
    GBytes *body;

    /* the server pings: the client answers PONG */
    srv_send(f, VH_RPC_KEEPALIVE_PROGRAM, VH_RPC_KEEPALIVE_PING, VH_RPC_MESSAGE,
             0, VH_RPC_OK, NULL, 0);
    body = srv_read(f, &h);
    g_assert_cmphex(h.prog, ==, VH_RPC_KEEPALIVE_PROGRAM);
    g_assert_cmpuint(h.proc, ==, VH_RPC_KEEPALIVE_PONG);
    g_assert_cmpuint(h.type, ==, VH_RPC_MESSAGE);
    g_bytes_unref(body);

    /* the client pings an idle server and gives up after 2 */
    Result r = {0};
    start_call(f, 16, &r, NULL);
    g_bytes_unref(srv_read(f, &h));
    vh_rpc_client_start_keepalive(f->c, 50, 2);
    for (int i = 0; i < 2; i++) {
        body = srv_read(f, &h);
        g_assert_cmpuint(h.proc, ==, VH_RPC_KEEPALIVE_PING);
        g_bytes_unref(body);
    }
    wait_result(&r);
    g_assert_error(r.err, VH_VIR_ERROR, VH_VIR_ERR_RPC);
    g_assert_nonnull(strstr(r.err->message, "keepalive"));
    wait_closed(f);
    result_clear(&r);
}

static void test_tls_confirmation(Fixture *f, gconstpointer data)
{
    Result r = {0};
    VhRpcHeader h;
    guint8 one = 1;

    reset(f, true, 0);
    start_call(f, 16, &r, NULL);
    /* nothing is written before the confirmation byte */
    struct pollfd p = {f->fd, POLLIN, 0};
    g_assert_cmpint(poll(&p, 1, 100), ==, 0);
    write_n(f->fd, &one, 1);
    g_bytes_unref(srv_read(f, &h));
    srv_reply(f, &h, VH_RPC_OK, NULL, 0);
    wait_result(&r);
    g_assert_no_error(r.err);
    result_clear(&r);
}

static void test_tls_no_confirmation(Fixture *f, gconstpointer data)
{
    Result r = {0};
    guint8 wrong = 7;

    reset(f, true, 0);
    start_call(f, 16, &r, NULL);
    write_n(f->fd, &wrong, 1);
    wait_result(&r);
    g_assert_error(r.err, VH_VIR_ERROR, VH_VIR_ERR_RPC);
    g_assert_nonnull(strstr(r.err->message, "Unable to read TLS confirmation"));
    result_clear(&r);
    wait_closed(f);
}

static void test_events(Fixture *f, gconstpointer data)
{
    gint64 end = g_get_monotonic_time() + WAIT_MS * 1000;

    srv_send(f, PROG, 318, VH_RPC_MESSAGE, 0, VH_RPC_OK, "abcd", 4);
    srv_send(f, PROG, 4242, VH_RPC_MESSAGE, 0, VH_RPC_OK, NULL, 0);
    while (f->events < 2 && g_get_monotonic_time() < end) {
        g_main_context_iteration(NULL, FALSE);
        g_usleep(1000);
    }
    g_assert_cmpint(f->events, ==, 2);
    g_assert_cmpuint(f->last_event.proc, ==, 4242);
}

typedef struct {
    GMutex m;
    GString *data;
    bool eof;
    bool failed;
} StreamSink;

static void on_stream(GBytes *data, const GError *err, gpointer opaque)
{
    StreamSink *s = opaque;

    g_mutex_lock(&s->m);
    if (data) {
        g_string_append_len(s->data, g_bytes_get_data(data, NULL),
                            g_bytes_get_size(data));
    } else if (err) {
        s->failed = true;
    } else {
        s->eof = true;
    }
    g_mutex_unlock(&s->m);
}

typedef struct {
    Fixture *f;
} SrvThread;

/* The server side of a stream: reply OK, send data, read the client's
 * data and its OK, confirm with OK. */
static gpointer stream_server(gpointer opaque)
{
    Fixture *f = opaque;
    VhRpcHeader h, s;
    GBytes *b;

    g_bytes_unref(srv_read(f, &h));
    srv_reply(f, &h, VH_RPC_OK, NULL, 0);
    srv_send(f, PROG, h.proc, VH_RPC_STREAM, h.serial, VH_RPC_CONTINUE,
             "hello ", 6);
    srv_send(f, PROG, h.proc, VH_RPC_STREAM, h.serial, VH_RPC_CONTINUE, "world",
             5);
    b = srv_read(f, &s);
    g_assert_cmpuint(s.type, ==, VH_RPC_STREAM);
    g_assert_cmpuint(s.status, ==, VH_RPC_CONTINUE);
    g_assert_cmpuint(s.serial, ==, h.serial);
    g_assert_cmpmem(g_bytes_get_data(b, NULL), g_bytes_get_size(b), "typed", 5);
    g_bytes_unref(b);
    srv_send(f, PROG, h.proc, VH_RPC_STREAM, h.serial, VH_RPC_CONTINUE, NULL,
             0); /* EOF */
    b = srv_read(f, &s);
    g_assert_cmpuint(s.status, ==, VH_RPC_OK);
    g_bytes_unref(b);
    return NULL;
}

static void test_stream(Fixture *f, gconstpointer data)
{
    StreamSink sink = {.data = g_string_new(NULL)};
    GThread *t = g_thread_new("fake", stream_server, f);
    g_autoptr(GError) err = NULL;
    VhRpcClientStream *s;
    gint64 end;

    g_mutex_init(&sink.m);
    s = vh_rpc_client_stream_call_sync(f->c, PROG, VERS, 201, NULL, on_stream,
                                       &sink, NULL, NULL, &err);
    g_assert_no_error(err);
    g_assert_nonnull(s);
    g_assert_true(vh_rpc_client_stream_send(s, "typed", 5, &err));
    end = g_get_monotonic_time() + WAIT_MS * 1000;
    for (bool done = false; !done && g_get_monotonic_time() < end;) {
        g_mutex_lock(&sink.m);
        done = sink.eof;
        g_mutex_unlock(&sink.m);
        g_usleep(1000);
    }
    g_assert_true(sink.eof);
    g_assert_false(sink.failed);
    g_assert_cmpstr(sink.data->str, ==, "hello world");
    vh_rpc_client_stream_free(s); /* sends our OK */
    g_thread_join(t);
    g_string_free(sink.data, TRUE);
    g_mutex_clear(&sink.m);
}

/* An ERROR reply to a stream call: no stream, no callbacks. */
static gpointer stream_refuser(gpointer opaque)
{
    Fixture *f = opaque;
    VhRpcHeader h;
    g_autoptr(GByteArray) body = g_byte_array_new();
    g_autoptr(GError) e = g_error_new(
        VH_VIR_ERROR, VH_VIR_ERR_OPERATION_INVALID, "domain is not running");

    g_bytes_unref(srv_read(f, &h));
    vh_rpc_error_encode(body, e, VH_VIR_FROM_REMOTE);
    srv_reply(f, &h, VH_RPC_ERROR, body->data, body->len);
    return NULL;
}

static void test_stream_refused(Fixture *f, gconstpointer data)
{
    StreamSink sink = {.data = g_string_new(NULL)};
    GThread *t = g_thread_new("fake", stream_refuser, f);
    g_autoptr(GError) err = NULL;
    VhRpcClientStream *s;

    g_mutex_init(&sink.m);
    s = vh_rpc_client_stream_call_sync(f->c, PROG, VERS, 201, NULL, on_stream,
                                       &sink, NULL, NULL, &err);
    g_assert_null(s);
    g_assert_error(err, VH_VIR_ERROR, VH_VIR_ERR_OPERATION_INVALID);
    g_thread_join(t);
    g_assert_false(sink.eof || sink.failed);
    g_string_free(sink.data, TRUE);
    g_mutex_clear(&sink.m);
}

typedef struct {
    VhRpcClientStream *s;
    gsize total;
    gsize sent; /* atomic */
    bool ok;
} Producer;

static gpointer producer(gpointer opaque)
{
    Producer *p = opaque;
    g_autofree guint8 *buf = g_malloc0(VH_RPC_STREAM_CHUNK);

    p->ok = true;
    while (g_atomic_pointer_get(&p->sent) < p->total) {
        if (!vh_rpc_client_stream_send(p->s, buf, VH_RPC_STREAM_CHUNK, NULL)) {
            p->ok = false;
            break;
        }
        g_atomic_pointer_add(&p->sent, VH_RPC_STREAM_CHUNK);
    }
    return NULL;
}

/* The fake server's OK to the stream call. */
static gpointer stream_acceptor(gpointer opaque)
{
    Fixture *f = opaque;
    VhRpcHeader h;

    g_bytes_unref(srv_read(f, &h));
    srv_reply(f, &h, VH_RPC_OK, NULL, 0);
    return NULL;
}

/* A producer faster than the server reads (a migration tunnel's relay):
 * while the server reads nothing the queue stays within
 * VH_RPC_CLIENT_QUEUE_MAX and the producer waits; as the server drains,
 * everything arrives. A producer still waiting is released by
 * stop_sending. */
static void test_stream_bounded(Fixture *f, gconstpointer data)
{
    Producer p = {.total = 32 * 1024 * 1024};
    g_autoptr(GError) err = NULL;
    GThread *t = g_thread_new("fake", stream_acceptor, f);
    gsize max_queued = 0, got = 0, sent;

    p.s = vh_rpc_client_stream_call_sync(f->c, PROG, VERS, 201, NULL, NULL,
                                         NULL, NULL, NULL, &err);
    g_assert_no_error(err);
    g_thread_join(t);
    t = g_thread_new("producer", producer, &p);
    /* the server reads nothing for a second */
    for (int i = 0; i < 100; i++) {
        max_queued = MAX(max_queued, vh_rpc_client_get_queued_bytes(f->c));
        g_usleep(10000);
    }
    sent = (gsize)g_atomic_pointer_get(&p.sent);
    g_test_message("queued at most %" G_GSIZE_FORMAT " bytes, %" G_GSIZE_FORMAT
                   " sent while the server read nothing",
                   max_queued, sent);
    g_assert_cmpuint(max_queued, <=, VH_RPC_CLIENT_QUEUE_MAX);
    g_assert_cmpuint(max_queued, >, VH_RPC_CLIENT_QUEUE_MAX / 2);
    g_assert_cmpuint(sent, <, p.total);
    /* it drains: all 32 MiB arrive while the queue stays bounded */
    while (got < p.total) {
        VhRpcHeader h;
        g_autoptr(GBytes) b = srv_read(f, &h);

        g_assert_cmpuint(h.type, ==, VH_RPC_STREAM);
        g_assert_cmpuint(h.status, ==, VH_RPC_CONTINUE);
        got += g_bytes_get_size(b);
        g_assert_cmpuint(vh_rpc_client_get_queued_bytes(f->c), <=,
                         VH_RPC_CLIENT_QUEUE_MAX);
    }
    g_thread_join(t);
    g_assert_true(p.ok);
    g_assert_cmpuint(got, ==, p.total);

    /* stop_sending releases a producer that waits for room */
    p.total = 64 * 1024 * 1024;
    p.sent = 0;
    t = g_thread_new("producer", producer, &p);
    gint64 end = g_get_monotonic_time() + WAIT_MS * 1000;
    while (vh_rpc_client_get_queued_bytes(f->c) + VH_RPC_STREAM_CHUNK <=
           VH_RPC_CLIENT_QUEUE_MAX) {
        g_assert_cmpint(g_get_monotonic_time(), <, end);
        g_usleep(1000);
    }
    vh_rpc_client_stream_stop_sending(p.s);
    g_thread_join(t);
    g_assert_false(p.ok);
    vh_rpc_client_stream_free(p.s);
}

/* 1000 calls in flight from one thread, answered in reverse order. */
static void test_many_in_flight(Fixture *f, gconstpointer data)
{
    enum { N = 1000 };
    Result *r = g_new0(Result, N);
    VhRpcHeader *h = g_new0(VhRpcHeader, N);

    for (int i = 0; i < N; i++) {
        start_call(f, 16, &r[i], NULL);
    }
    for (int i = 0; i < N; i++) {
        g_bytes_unref(srv_read(f, &h[i]));
    }
    for (int i = N - 1; i >= 0; i--) {
        guint32 v = GUINT32_TO_BE(i);

        srv_reply(f, &h[i], VH_RPC_OK, &v, 4);
    }
    for (int i = 0; i < N; i++) {
        wait_result(&r[i]);
        g_assert_no_error(r[i].err);
        guint32 v;
        memcpy(&v, g_bytes_get_data(r[i].ret, NULL), 4);
        g_assert_cmpuint(GUINT32_FROM_BE(v), ==, i);
        result_clear(&r[i]);
    }
    g_free(r);
    g_free(h);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
#define ADD(path, fn)                                                          \
    g_test_add("/rpc/client/" path, Fixture, NULL, setup, fn, teardown)
    ADD("call-reply", test_call_reply);
    ADD("out-of-order", test_out_of_order);
    ADD("error-reply", test_error_reply);
    ADD("malformed-reply", test_malformed_reply);
    ADD("stream-without-open", test_stream_without_open);
    ADD("framing/oversized", test_oversized);
    ADD("framing/undersized", test_undersized);
    ADD("framing/truncated", test_truncated);
    ADD("dropped", test_dropped);
    ADD("timeout", test_timeout);
    ADD("cancel", test_cancel);
    ADD("keepalive", test_keepalive);
    ADD("tls-confirmation", test_tls_confirmation);
    ADD("tls-no-confirmation", test_tls_no_confirmation);
    ADD("events", test_events);
    ADD("stream", test_stream);
    ADD("stream-refused", test_stream_refused);
    ADD("stream-bounded", test_stream_bounded);
    ADD("many-in-flight", test_many_in_flight);
    return g_test_run();
}
