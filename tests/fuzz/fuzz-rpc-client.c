/*
 * VhRpcClient (lib/rpc/client.c): what a server sends, as a byte stream.
 *
 * A client on one end of a socketpair has two calls pending (serials 1
 * and 2, procedures 16 and 201, the second a stream call whose stream
 * delivers into a buffer); the input is written to the other end, which
 * is then closed. Invariants: no crash and no hang; each call ends exactly
 * once, with a reply or a VH_VIR_ERROR / G_IO_ERROR error that has a
 * message; the closed callback runs exactly once; the stream sees no data
 * after EOF, at most one EOF and nothing after an error; nothing leaks
 * (ASan builds).
 */
#include "fuzz-common.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "vmhost/io/channel-socket.h"
#include "vmhost/rpc/client.h"

typedef struct {
    int done;
    GError *err;
} CallResult;

typedef struct {
    int closed;
    int events;
    int stream_eofs, stream_errors;
    gsize stream_bytes;
    GMutex m;
} Seen;

static void on_result(GObject *src, GAsyncResult *res, gpointer opaque)
{
    CallResult *r = opaque;
    g_autoptr(GBytes) ret = vh_rpc_client_call_finish(NULL, res, &r->err);

    g_assert_true(ret || r->err);
    g_assert_true(!ret || !r->err);
    if (r->err) {
        g_assert_true(r->err->domain == VH_VIR_ERROR ||
                      r->err->domain == G_IO_ERROR);
        g_assert_nonnull(r->err->message);
    }
    r->done++;
}

static void on_event(const VhRpcHeader *hdr, GBytes *body, gpointer opaque)
{
    Seen *s = opaque;

    g_assert_cmpuint(hdr->type, ==, VH_RPC_MESSAGE);
    s->events++;
}

static void on_closed(const GError *reason, gpointer opaque)
{
    Seen *s = opaque;

    g_assert_nonnull(reason);
    g_assert_nonnull(reason->message);
    s->closed++;
}

static void on_stream(GBytes *data, const GError *err, gpointer opaque)
{
    Seen *s = opaque;

    g_mutex_lock(&s->m);
    g_assert_cmpint(s->stream_errors, ==, 0); /* nothing after an error */
    if (data) {
        g_assert_cmpint(s->stream_eofs, ==, 0); /* no data after EOF */
        s->stream_bytes += g_bytes_get_size(data);
    } else if (err) {
        g_assert_nonnull(err->message);
        s->stream_errors++;
    } else {
        g_assert_cmpint(s->stream_eofs, ==, 0);
        s->stream_eofs++;
    }
    g_mutex_unlock(&s->m);
}

typedef struct {
    VhRpcClient *c;
    VhRpcClientStream *s;
    Seen *seen;
    GError *err;
} StreamCall;

static gpointer stream_call(gpointer opaque)
{
    StreamCall *sc = opaque;

    sc->s = vh_rpc_client_stream_call_sync(sc->c, 0x20008086u, 1, 201, NULL,
                                           on_stream, sc->seen, NULL, NULL,
                                           &sc->err);
    return NULL;
}

/* Everything @data holds, then EOF; what does not fit is dropped. */
static void feed(int fd, const uint8_t *data, size_t size)
{
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    while (size > 0) {
        ssize_t n = write(fd, data, size);

        if (n <= 0) {
            break; /* the client stopped reading (a framing error) */
        }
        data += n;
        size -= n;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    VhChannelSocket *a = NULL, *b = NULL;
    Seen seen = {0};
    CallResult r = {0};
    StreamCall sc = {0};
    VhRpcClientConfig cfg = {
        .event_func = on_event,
        .closed_func = on_closed,
        .opaque = &seen,
    };
    GThread *t;
    gint64 end;

    g_mutex_init(&seen.m);
    g_assert_true(vh_channel_socket_pair(&a, &b, NULL));
    sc.c = vh_rpc_client_new(VH_CHANNEL(a), false, &cfg);
    sc.seen = &seen;
    vh_rpc_client_call_async(sc.c, 0x20008086u, 1, 16, NULL, NULL, on_result,
                             &r);
    t = g_thread_new("stream-call", stream_call, &sc);
    /* the stream call is serial 2 once it is written */
    {
        guint8 buf[64];
        gsize got = 0;

        while (got < 2 * 28) {
            ssize_t n = read(vh_channel_socket_get_fd(b), buf, sizeof(buf));

            if (n <= 0) {
                break;
            }
            got += n;
        }
    }
    feed(vh_channel_socket_get_fd(b), data, size);
    g_clear_object(&b); /* EOF */
    g_thread_join(t);
    end = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
    while ((!r.done || !seen.closed) && g_get_monotonic_time() < end) {
        g_main_context_iteration(NULL, FALSE);
        g_usleep(100);
    }
    g_assert_cmpint(r.done, ==, 1);
    g_assert_cmpint(seen.closed, ==, 1);
    g_assert_true(sc.s || sc.err);
    vh_rpc_client_stream_free(sc.s);
    g_clear_error(&sc.err);
    g_clear_error(&r.err);
    vh_rpc_client_unref(sc.c);
    while (g_main_context_iteration(NULL, FALSE)) {
    }
    g_assert_cmpint(seen.closed, ==, 1);
    g_object_unref(a);
    g_mutex_clear(&seen.m);
    return 0;
}
