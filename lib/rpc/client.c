/*
 * VhRpcClient: calls matched to replies by serial, events, streams,
 * keepalive and the TLS confirmation byte, with all channel I/O on one
 * private thread (see rpc/client.h for the contract).
 */
#include "vmhost/rpc/client.h"

#include <string.h>

#define READ_CHUNK   (64 * 1024)
#define WRITE_IOVS   64
#define FIRST_SERIAL 1

/* What the client delivers on the event context; shared with the idles
 * that carry each delivery, so it outlives the client if they do. */
typedef struct {
    gint ref;
    GMainContext *ctx;
    VhRpcClientEventFunc event_func;
    VhRpcClientClosedFunc closed_func;
    gpointer opaque;
    GDestroyNotify opaque_free;
} Sink;

typedef struct {
    GMutex m;
    GCond cond;
    bool done;
    GBytes *ret;
    GError *err;
} SyncWait;

typedef struct {
    guint32 serial, prog, vers, proc;
    GTask *task;     /* async */
    SyncWait *wait;  /* sync */
    gint64 deadline; /* monotonic us; 0: none */
    GCancellable *cancellable;
    gulong cancel_id;
    VhRpcClientStream *stream; /* a reference, for stream calls */
} Pending;

struct _VhRpcClientStream {
    gint ref;
    VhRpcClient *client; /* a reference, dropped by stream_free */
    guint32 serial, prog, vers, proc;
    GMutex cb_lock; /* held while func runs; func NULL after free */
    VhRpcClientStreamFunc func;
    gpointer opaque;
    GDestroyNotify opaque_free;
    bool eof;      /* the server said EOF (CONTINUE without data) */
    bool ended;    /* the server ended it (OK, ERROR) or the connection did */
    bool finished; /* we sent OK */
    bool stop_sending; /* under the client's lock: sends fail */
};

struct _VhRpcClient {
    gint ref;
    VhChannel *ch;
    bool tls;
    guint call_timeout_ms;
    Sink *sink;

    GMainContext *ctx;
    GMainLoop *loop;
    GThread *thread;

    /* I/O thread only */
    GSource *in_watch, *out_watch, *ka_timer, *timeout_timer;
    GSource *flush_src; /* attached for the client's life */
    GByteArray *inbuf;
    gint64 last_rx_us;
    guint ka_interval_ms, ka_count, ka_missed;

    /* Held around each read, write and close of the channel: the I/O
     * thread reads and writes, and a caller may write its call directly
     * when nothing is queued (saving a wakeup of the I/O thread).
     * Taken after lock, never before it. */
    GMutex io_lock;

    GMutex lock; /* everything below */
    GCond closed_cond;
    guint32 next_serial;
    GHashTable *calls;   /* serial -> Pending */
    GHashTable *streams; /* serial -> VhRpcClientStream (a reference) */
    GQueue outq;         /* GByteArray * */
    gsize out_off;
    gsize out_bytes; /* the lengths of what outq holds */
    GCond room_cond; /* out_bytes fell, or senders must give up */
    bool confirmed;  /* TLS byte seen (or no TLS) */
    bool flush_scheduled;
    bool closed;
    GError *reason;
};

static void fail_conn(VhRpcClient *c, GError *reason);
static void flush_out(VhRpcClient *c);
static void stream_unref(VhRpcClientStream *s);

/* ---- deliveries on the event context ---- */

static Sink *sink_ref(Sink *s)
{
    g_atomic_int_inc(&s->ref);
    return s;
}

static void sink_unref(Sink *s)
{
    if (s && g_atomic_int_dec_and_test(&s->ref)) {
        if (s->opaque_free) {
            s->opaque_free(s->opaque);
        }
        g_main_context_unref(s->ctx);
        g_free(s);
    }
}

typedef struct {
    Sink *sink;
    VhRpcHeader hdr;
    GBytes *body;   /* an event, or */
    GError *reason; /* the end of the connection */
} Delivery;

static void delivery_free(gpointer opaque)
{
    Delivery *d = opaque;

    sink_unref(d->sink);
    g_clear_pointer(&d->body, g_bytes_unref);
    g_clear_error(&d->reason);
    g_free(d);
}

static gboolean delivery_cb(gpointer opaque)
{
    Delivery *d = opaque;

    if (d->reason) {
        if (d->sink->closed_func) {
            d->sink->closed_func(d->reason, d->sink->opaque);
        }
    } else if (d->sink->event_func) {
        d->sink->event_func(&d->hdr, d->body, d->sink->opaque);
    }
    return G_SOURCE_REMOVE;
}

static void deliver(VhRpcClient *c, Delivery *d)
{
    g_autoptr(GSource) src = g_idle_source_new();

    d->sink = sink_ref(c->sink);
    g_source_set_priority(src, G_PRIORITY_DEFAULT);
    g_source_set_callback(src, delivery_cb, d, delivery_free);
    g_source_attach(src, c->sink->ctx);
}

/* ---- running something on the I/O thread ---- */

static void invoke(VhRpcClient *c, GSourceFunc func, gpointer data,
                   GDestroyNotify notify)
{
    g_autoptr(GSource) src = g_idle_source_new();

    g_source_set_priority(src, G_PRIORITY_DEFAULT);
    g_source_set_callback(src, func, data, notify);
    g_source_attach(src, c->ctx);
}

/* ---- completing calls ---- */

static void pending_complete(Pending *p, GBytes *ret, GError *err)
{
    if (p->cancellable) {
        g_cancellable_disconnect(p->cancellable, p->cancel_id);
        g_object_unref(p->cancellable);
    }
    if (p->task) {
        if (err) {
            g_task_return_error(p->task, err);
        } else {
            g_task_return_pointer(p->task, ret, (GDestroyNotify)g_bytes_unref);
        }
        g_object_unref(p->task);
    } else {
        g_mutex_lock(&p->wait->m);
        p->wait->ret = ret;
        p->wait->err = err;
        p->wait->done = true;
        g_cond_signal(&p->wait->cond);
        g_mutex_unlock(&p->wait->m);
    }
    if (p->stream) {
        stream_unref(p->stream);
    }
    g_free(p);
}

/* Remove the call @serial (NULL if it is not pending). */
static Pending *take_call(VhRpcClient *c, guint32 serial)
{
    Pending *p;

    g_mutex_lock(&c->lock);
    p = g_hash_table_lookup(c->calls, GUINT_TO_POINTER(serial));
    if (p) {
        g_hash_table_steal(c->calls, GUINT_TO_POINTER(serial));
    }
    g_mutex_unlock(&c->lock);
    return p;
}

/* A failed stream call: its stream delivers nothing more. */
static void drop_stream(VhRpcClient *c, guint32 serial)
{
    VhRpcClientStream *s = NULL;

    g_mutex_lock(&c->lock);
    if (g_hash_table_steal_extended(c->streams, GUINT_TO_POINTER(serial), NULL,
                                    (gpointer *)&s)) {
        s->ended = true;
        g_cond_broadcast(&c->room_cond);
    }
    g_mutex_unlock(&c->lock);
    if (s) {
        stream_unref(s);
    }
}

typedef struct {
    VhRpcClient *c; /* no reference: runs on the I/O thread only */
    guint32 serial;
} SerialRef;

/* I/O thread: fail the calls whose deadline passed (one timer for all,
 * so a call costs no timer source of its own). */
static gboolean timeout_scan_cb(gpointer opaque)
{
    VhRpcClient *c = opaque;
    gint64 now = g_get_monotonic_time();
    GSList *expired = NULL;
    GHashTableIter it;
    gpointer value;

    g_mutex_lock(&c->lock);
    g_hash_table_iter_init(&it, c->calls);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        Pending *p = value;

        if (p->deadline && p->deadline <= now) {
            g_hash_table_iter_steal(&it);
            expired = g_slist_prepend(expired, p);
        }
    }
    g_mutex_unlock(&c->lock);
    for (GSList *l = expired; l; l = l->next) {
        Pending *p = l->data;

        if (p->stream) {
            drop_stream(c, p->serial);
        }
        pending_complete(p, NULL,
                         g_error_new(VH_VIR_ERROR, VH_VIR_ERR_OPERATION_TIMEOUT,
                                     "Timed out during operation: no reply "
                                     "to procedure %u within %u ms",
                                     p->proc, c->call_timeout_ms));
    }
    g_slist_free(expired);
    return G_SOURCE_CONTINUE;
}

static gboolean cancel_idle_cb(gpointer opaque)
{
    SerialRef *ref = opaque;
    Pending *p = take_call(ref->c, ref->serial);

    if (p) {
        if (p->stream) {
            drop_stream(ref->c, ref->serial);
        }
        pending_complete(p, NULL,
                         g_error_new(G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                     "Operation was cancelled"));
    }
    return G_SOURCE_REMOVE;
}

/* In the thread that cancels: move to the I/O thread. */
static void on_cancelled(GCancellable *cancellable, gpointer opaque)
{
    SerialRef *ref = opaque;
    SerialRef *copy = g_memdup2(ref, sizeof(*ref));

    invoke(ref->c, cancel_idle_cb, copy, g_free);
}

/* ---- the output queue ---- */

/* With the lock held. */
/*
 * With the lock held and nothing queued: write @pkt now, from the calling
 * thread. Returns the bytes written (0 when the channel is full); the
 * rest is queued by the caller. An error is left for the I/O thread to
 * find (the next read fails too).
 */
static gsize write_direct(VhRpcClient *c, GByteArray *pkt)
{
    struct iovec iov = {pkt->data, pkt->len};
    gssize w;

    g_mutex_lock(&c->io_lock);
    w = vh_channel_writev(c->ch, &iov, 1, NULL);
    g_mutex_unlock(&c->io_lock);
    return w > 0 ? (gsize)w : 0;
}

static void queue_locked(VhRpcClient *c, GByteArray *pkt)
{
    if (c->closed) {
        g_byte_array_unref(pkt);
        return;
    }
    if (c->confirmed && g_queue_is_empty(&c->outq)) {
        gsize w = write_direct(c, pkt);

        if (w == pkt->len) {
            g_byte_array_unref(pkt);
            return;
        }
        c->out_off = w;
    }
    c->out_bytes += pkt->len;
    g_queue_push_tail(&c->outq, pkt);
    if (c->confirmed && !c->flush_scheduled) {
        c->flush_scheduled = true;
        g_source_set_ready_time(c->flush_src, 0);
    }
}

static GByteArray *new_packet(guint32 prog, guint32 vers, guint32 proc,
                              guint32 type, guint32 serial, guint32 status)
{
    VhRpcHeader hdr = {prog, vers, proc, type, serial, status};

    return vh_rpc_packet_new(&hdr);
}

/* The flush source: ready (time 0) once something is queued; one source
 * for the client's life, so queueing costs no allocation. */
static gboolean flush_dispatch(GSource *src, GSourceFunc cb, gpointer opaque)
{
    g_source_set_ready_time(src, -1);
    flush_out(opaque);
    return G_SOURCE_CONTINUE;
}

static GSourceFuncs flush_funcs = {
    .dispatch = flush_dispatch,
};

static gboolean out_ready_cb(VhChannel *ch, GIOCondition cond, gpointer opaque)
{
    VhRpcClient *c = opaque;

    g_clear_pointer(&c->out_watch, g_source_unref);
    flush_out(c);
    return G_SOURCE_REMOVE;
}

/* I/O thread: write what is queued until done or the channel is full. */
static void flush_out(VhRpcClient *c)
{
    for (;;) {
        struct iovec iov[WRITE_IOVS];
        size_t n = 0;
        g_autoptr(GError) err = NULL;

        g_mutex_lock(&c->lock);
        c->flush_scheduled = false;
        if (c->closed || !c->confirmed || c->out_watch) {
            g_mutex_unlock(&c->lock);
            return;
        }
        for (GList *l = c->outq.head; l && n < WRITE_IOVS; l = l->next) {
            GByteArray *b = l->data;
            gsize off = n == 0 ? c->out_off : 0;

            iov[n].iov_base = b->data + off;
            iov[n].iov_len = b->len - off;
            n++;
        }
        g_mutex_unlock(&c->lock);
        if (n == 0) {
            return;
        }
        g_mutex_lock(&c->io_lock);
        gssize w = vh_channel_writev(c->ch, iov, n, &err);
        g_mutex_unlock(&c->io_lock);
        if (w == VH_CHANNEL_ERR_BLOCK) {
            c->out_watch = vh_channel_create_watch(c->ch, G_IO_OUT);
            g_source_set_callback(c->out_watch,
                                  (GSourceFunc)(void (*)(void))out_ready_cb, c,
                                  NULL);
            g_source_attach(c->out_watch, c->ctx);
            return;
        }
        if (w < 0) {
            g_prefix_error(&err, "Cannot write data: ");
            GError *e =
                g_error_new_literal(VH_VIR_ERROR, VH_VIR_ERR_RPC, err->message);
            fail_conn(c, e);
            return;
        }
        g_mutex_lock(&c->lock);
        gsize left = (gsize)w;
        while (left > 0) {
            GByteArray *b = g_queue_peek_head(&c->outq);
            gsize rest = b->len - c->out_off;

            if (left < rest) {
                c->out_off += left;
                break;
            }
            left -= rest;
            c->out_off = 0;
            c->out_bytes -= b->len;
            g_byte_array_unref(g_queue_pop_head(&c->outq));
        }
        /* room for senders blocked in stream_queue */
        g_cond_broadcast(&c->room_cond);
        g_mutex_unlock(&c->lock);
    }
}

/* ---- incoming packets ---- */

static void handle_reply(VhRpcClient *c, const VhRpcHeader *hdr, VhXdrReader *r)
{
    Pending *p = take_call(c, hdr->serial);
    GError *err = NULL;
    GBytes *ret = NULL;

    if (!p) {
        g_debug("rpc client: reply to serial %u, which no call waits for",
                hdr->serial);
        return;
    }
    if (hdr->prog != p->prog || hdr->vers != p->vers || hdr->proc != p->proc) {
        err =
            g_error_new(VH_VIR_ERROR, VH_VIR_ERR_RPC,
                        "reply for serial %u names program %#x version %u "
                        "procedure %u, not the call's procedure %u",
                        hdr->serial, hdr->prog, hdr->vers, hdr->proc, p->proc);
    } else if (hdr->status == VH_RPC_OK) {
        ret = g_bytes_new(r->data + r->pos, vh_xdr_remaining(r));
    } else if (hdr->status == VH_RPC_ERROR) {
        VhRpcError e = {0};

        if (vh_rpc_error_decode(r, &e, &err)) {
            err = vh_rpc_error_to_gerror(&e);
        } else {
            g_prefix_error(&err,
                           "malformed error reply to procedure %u: ", p->proc);
        }
        vh_rpc_error_clear(&e);
    } else {
        err = g_error_new(VH_VIR_ERROR, VH_VIR_ERR_RPC,
                          "reply to procedure %u has unknown status %u",
                          p->proc, hdr->status);
    }
    if (err && p->stream) {
        drop_stream(c, hdr->serial);
    }
    pending_complete(p, ret, err);
}

/* The end of a stream: deliver @err (or EOF) and forget it. */
static void stream_end(VhRpcClient *c, VhRpcClientStream *s, GError *err)
{
    g_mutex_lock(&c->lock);
    if (g_hash_table_steal(c->streams, GUINT_TO_POINTER(s->serial))) {
        s->ended = true;
        g_cond_broadcast(&c->room_cond);
    } else {
        s = NULL;
    }
    g_mutex_unlock(&c->lock);
    if (s) {
        g_mutex_lock(&s->cb_lock);
        if (s->func && (err || !s->eof)) {
            s->func(NULL, err, s->opaque);
        }
        g_mutex_unlock(&s->cb_lock);
        stream_unref(s);
    }
}

static void handle_stream(VhRpcClient *c, const VhRpcHeader *hdr,
                          VhXdrReader *r)
{
    VhRpcClientStream *s;
    Pending *p = NULL;

    g_mutex_lock(&c->lock);
    s = g_hash_table_lookup(c->streams, GUINT_TO_POINTER(hdr->serial));
    if (s) {
        g_atomic_int_inc(&s->ref);
    } else {
        p = g_hash_table_lookup(c->calls, GUINT_TO_POINTER(hdr->serial));
        if (p) {
            g_hash_table_steal(c->calls, GUINT_TO_POINTER(hdr->serial));
        }
    }
    g_mutex_unlock(&c->lock);
    if (!s) {
        if (p) {
            pending_complete(p, NULL,
                             g_error_new(VH_VIR_ERROR, VH_VIR_ERR_RPC,
                                         "stream packet for procedure %u, "
                                         "which opened no stream",
                                         p->proc));
        } else {
            g_debug("rpc client: stream packet for serial %u, no stream",
                    hdr->serial);
        }
        return;
    }
    if (hdr->status == VH_RPC_CONTINUE && vh_xdr_remaining(r) > 0) {
        g_autoptr(GBytes) data =
            g_bytes_new(r->data + r->pos, vh_xdr_remaining(r));

        g_mutex_lock(&s->cb_lock);
        if (s->func && !s->eof) { /* data after EOF: dropped */
            s->func(data, NULL, s->opaque);
        }
        g_mutex_unlock(&s->cb_lock);
    } else if (hdr->status == VH_RPC_CONTINUE) {
        /* EOF from the server: our side may still finish with OK */
        g_mutex_lock(&s->cb_lock);
        if (s->func && !s->eof) {
            s->func(NULL, NULL, s->opaque);
        }
        s->eof = true;
        g_mutex_unlock(&s->cb_lock);
    } else if (hdr->status == VH_RPC_OK) {
        stream_end(c, s, NULL);
    } else {
        VhRpcError e = {0};
        g_autoptr(GError) err = NULL;

        if (hdr->status == VH_RPC_ERROR && vh_rpc_error_decode(r, &e, &err)) {
            err = vh_rpc_error_to_gerror(&e);
        } else if (!err) {
            err = g_error_new(VH_VIR_ERROR, VH_VIR_ERR_RPC,
                              "stream packet with unknown status %u",
                              hdr->status);
        }
        vh_rpc_error_clear(&e);
        stream_end(c, s, err);
    }
    stream_unref(s);
}

static void handle_keepalive(VhRpcClient *c, const VhRpcHeader *hdr)
{
    if (hdr->type != VH_RPC_MESSAGE) {
        return;
    }
    if (hdr->proc == VH_RPC_KEEPALIVE_PING) {
        GByteArray *pong =
            new_packet(VH_RPC_KEEPALIVE_PROGRAM, VH_RPC_KEEPALIVE_VERSION,
                       VH_RPC_KEEPALIVE_PONG, VH_RPC_MESSAGE, 0, VH_RPC_OK);

        vh_rpc_packet_finish(pong);
        g_mutex_lock(&c->lock);
        queue_locked(c, pong);
        g_mutex_unlock(&c->lock);
    }
}

/* One whole packet; false when the connection must end (@errp set). */
static bool handle_packet(VhRpcClient *c, const guint8 *pkt, guint32 len,
                          GError **errp)
{
    VhXdrReader r = VH_XDR_READER_INIT(pkt, len);
    VhRpcHeader hdr;

    if (!vh_rpc_packet_decode_header(&r, &hdr, errp)) {
        return false;
    }
    c->ka_missed = 0;
    if (hdr.prog == VH_RPC_KEEPALIVE_PROGRAM) {
        handle_keepalive(c, &hdr);
        return true;
    }
    switch (hdr.type) {
    case VH_RPC_REPLY:
        handle_reply(c, &hdr, &r);
        break;
    case VH_RPC_MESSAGE: {
        Delivery *d = g_new0(Delivery, 1);

        d->hdr = hdr;
        d->body = g_bytes_new(r.data + r.pos, vh_xdr_remaining(&r));
        deliver(c, d);
        break;
    }
    case VH_RPC_STREAM:
        handle_stream(c, &hdr, &r);
        break;
    default:
        g_debug("rpc client: ignoring a packet of type %u from the server",
                hdr.type);
        break;
    }
    return true;
}

/* The TLS confirmation byte; false when the connection ended. */
static bool read_confirmation(VhRpcClient *c, bool *again)
{
    guint8 byte;
    g_autoptr(GError) err = NULL;
    g_mutex_lock(&c->io_lock);
    gssize n = vh_channel_read(c->ch, &byte, 1, &err);
    g_mutex_unlock(&c->io_lock);

    *again = false;
    if (n == VH_CHANNEL_ERR_BLOCK) {
        return true;
    }
    if (n <= 0 || byte != 1) {
        fail_conn(c, g_error_new(VH_VIR_ERROR, VH_VIR_ERR_RPC,
                                 "Unable to read TLS confirmation: %s",
                                 n < 0    ? err->message
                                 : n == 0 ? "the server closed the connection"
                                          : "unexpected data"));
        return false;
    }
    g_mutex_lock(&c->lock);
    c->confirmed = true;
    g_mutex_unlock(&c->lock);
    flush_out(c);
    *again = true;
    return true;
}

/* Complete packets at the front of inbuf; false when the connection ended. */
static bool parse_input(VhRpcClient *c)
{
    gsize off = 0;
    bool ok = true;

    while (ok && c->inbuf->len - off >= VH_RPC_LEN_SIZE) {
        guint32 len;
        g_autoptr(GError) err = NULL;

        if (!vh_rpc_packet_check_length(c->inbuf->data + off, &len, &err)) {
            fail_conn(c, g_steal_pointer(&err));
            return false;
        }
        if (c->inbuf->len - off < len) {
            break;
        }
        if (!handle_packet(c, c->inbuf->data + off, len, &err)) {
            fail_conn(c, g_steal_pointer(&err));
            return false;
        }
        off += len;
    }
    g_byte_array_remove_range(c->inbuf, 0, off);
    return ok;
}

static gboolean in_ready_cb(VhChannel *ch, GIOCondition cond, gpointer opaque)
{
    VhRpcClient *c = opaque;

    for (int i = 0; i < 32; i++) {
        g_autoptr(GError) err = NULL;
        gsize old = c->inbuf->len;

        if (!c->confirmed) {
            bool again;

            if (!read_confirmation(c, &again)) {
                return G_SOURCE_REMOVE;
            }
            if (!again) {
                return G_SOURCE_CONTINUE;
            }
            continue;
        }
        g_byte_array_set_size(c->inbuf, old + READ_CHUNK);
        g_mutex_lock(&c->io_lock);
        gssize n =
            vh_channel_read(c->ch, c->inbuf->data + old, READ_CHUNK, &err);
        g_mutex_unlock(&c->io_lock);
        g_byte_array_set_size(c->inbuf, old + MAX(n, 0));
        if (n == VH_CHANNEL_ERR_BLOCK) {
            return G_SOURCE_CONTINUE;
        }
        if (n <= 0) {
            fail_conn(c, g_error_new(VH_VIR_ERROR, VH_VIR_ERR_RPC,
                                     "the server closed the connection%s%s",
                                     n < 0 ? ": " : "",
                                     n < 0 ? err->message : ""));
            return G_SOURCE_REMOVE;
        }
        c->last_rx_us = g_get_monotonic_time();
        if (!parse_input(c)) {
            return G_SOURCE_REMOVE;
        }
        if (n < READ_CHUNK) {
            /* drained for now: the watch says when more comes (the TLS
             * channel's also for records GnuTLS holds), which saves the
             * read that would only say EAGAIN */
            break;
        }
    }
    return G_SOURCE_CONTINUE;
}

/* ---- keepalive ---- */

static gboolean ka_cb(gpointer opaque)
{
    VhRpcClient *c = opaque;
    gint64 idle_us = g_get_monotonic_time() - c->last_rx_us;

    if (idle_us < (gint64)c->ka_interval_ms * 1000) {
        return G_SOURCE_CONTINUE;
    }
    if (c->ka_missed >= c->ka_count) {
        fail_conn(c, g_error_new(VH_VIR_ERROR, VH_VIR_ERR_RPC,
                                 "connection closed due to keepalive "
                                 "timeout (%u pings unanswered)",
                                 c->ka_missed));
        return G_SOURCE_REMOVE;
    }
    GByteArray *ping =
        new_packet(VH_RPC_KEEPALIVE_PROGRAM, VH_RPC_KEEPALIVE_VERSION,
                   VH_RPC_KEEPALIVE_PING, VH_RPC_MESSAGE, 0, VH_RPC_OK);
    vh_rpc_packet_finish(ping);
    c->ka_missed++;
    c->last_rx_us = g_get_monotonic_time();
    g_mutex_lock(&c->lock);
    queue_locked(c, ping);
    g_mutex_unlock(&c->lock);
    return G_SOURCE_CONTINUE;
}

typedef struct {
    VhRpcClient *c;
    guint interval_ms, count;
} KaStart;

static gboolean ka_start_cb(gpointer opaque)
{
    KaStart *k = opaque;
    VhRpcClient *c = k->c;

    if (c->ka_timer || vh_rpc_client_is_closed(c)) {
        return G_SOURCE_REMOVE;
    }
    c->ka_interval_ms = k->interval_ms;
    c->ka_count = k->count;
    c->ka_missed = 0;
    c->ka_timer = g_timeout_source_new(MAX(k->interval_ms / 5, 10));
    g_source_set_callback(c->ka_timer, ka_cb, c, NULL);
    g_source_attach(c->ka_timer, c->ctx);
    return G_SOURCE_REMOVE;
}

void vh_rpc_client_start_keepalive(VhRpcClient *c, guint interval_ms,
                                   guint count)
{
    KaStart *k = g_new0(KaStart, 1);

    g_return_if_fail(interval_ms > 0);
    k->c = c;
    k->interval_ms = interval_ms;
    k->count = count;
    invoke(c, ka_start_cb, k, g_free);
}

/* ---- the end of the connection ---- */

static void destroy_source(GSource **src)
{
    if (*src) {
        g_source_destroy(*src);
        g_clear_pointer(src, g_source_unref);
    }
}

/* I/O thread (or after it stopped): end everything with @reason. */
static void fail_conn(VhRpcClient *c, GError *reason)
{
    g_autoptr(GHashTable) calls = NULL;
    g_autoptr(GHashTable) streams = NULL;
    GHashTableIter it;
    gpointer value;

    g_mutex_lock(&c->lock);
    if (c->closed) {
        g_mutex_unlock(&c->lock);
        g_error_free(reason);
        return;
    }
    c->closed = true;
    c->reason = reason;
    calls = c->calls;
    c->calls = g_hash_table_new(NULL, NULL);
    streams = c->streams;
    c->streams = g_hash_table_new(NULL, NULL);
    g_queue_clear_full(&c->outq, (GDestroyNotify)g_byte_array_unref);
    c->out_bytes = 0;
    g_cond_broadcast(&c->room_cond);
    g_mutex_unlock(&c->lock);

    destroy_source(&c->in_watch);
    destroy_source(&c->out_watch);
    destroy_source(&c->ka_timer);
    destroy_source(&c->timeout_timer);
    destroy_source(&c->flush_src);
    g_mutex_lock(&c->io_lock);
    vh_channel_close(c->ch, NULL);
    g_mutex_unlock(&c->io_lock);

    g_hash_table_iter_init(&it, streams);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        VhRpcClientStream *s = value;

        s->ended = true;
        g_mutex_lock(&s->cb_lock);
        if (s->func) {
            s->func(NULL, reason, s->opaque);
        }
        g_mutex_unlock(&s->cb_lock);
        stream_unref(s);
    }
    g_hash_table_iter_init(&it, calls);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        pending_complete(value, NULL, g_error_copy(reason));
    }

    Delivery *d = g_new0(Delivery, 1);
    d->reason = g_error_copy(reason);
    deliver(c, d);

    g_mutex_lock(&c->lock);
    g_cond_broadcast(&c->closed_cond);
    g_mutex_unlock(&c->lock);
}

static gboolean close_cb(gpointer opaque)
{
    VhRpcClient *c = opaque;

    fail_conn(c, g_error_new(VH_VIR_ERROR, VH_VIR_ERR_RPC,
                             "the connection was closed by the client"));
    return G_SOURCE_REMOVE;
}

void vh_rpc_client_close(VhRpcClient *c)
{
    g_mutex_lock(&c->lock);
    if (!c->closed) {
        if (g_thread_self() == c->thread) {
            g_mutex_unlock(&c->lock);
            close_cb(c);
            return;
        }
        invoke(c, close_cb, c, NULL);
        while (!c->closed) {
            g_cond_wait(&c->closed_cond, &c->lock);
        }
    }
    g_mutex_unlock(&c->lock);
}

bool vh_rpc_client_is_closed(VhRpcClient *c)
{
    g_mutex_lock(&c->lock);
    bool closed = c->closed;
    g_mutex_unlock(&c->lock);
    return closed;
}

gsize vh_rpc_client_get_queued_bytes(VhRpcClient *c)
{
    g_mutex_lock(&c->lock);
    gsize n = c->out_bytes;
    g_mutex_unlock(&c->lock);
    return n;
}

/* ---- life ---- */

static gpointer io_thread(gpointer opaque)
{
    VhRpcClient *c = opaque;

    g_main_context_push_thread_default(c->ctx);
    g_main_loop_run(c->loop);
    g_main_context_pop_thread_default(c->ctx);
    return NULL;
}

static gboolean start_cb(gpointer opaque)
{
    VhRpcClient *c = opaque;

    c->last_rx_us = g_get_monotonic_time();
    c->in_watch = vh_channel_create_watch(c->ch, G_IO_IN);
    g_source_set_callback(c->in_watch, (GSourceFunc)(void (*)(void))in_ready_cb,
                          c, NULL);
    g_source_attach(c->in_watch, c->ctx);
    /* the watch may not fire for data GnuTLS already holds */
    in_ready_cb(c->ch, G_IO_IN, c);
    return G_SOURCE_REMOVE;
}

VhRpcClient *vh_rpc_client_new(VhChannel *ch, bool tls,
                               const VhRpcClientConfig *cfg)
{
    VhRpcClient *c = g_new0(VhRpcClient, 1);
    GMainContext *ectx =
        cfg->event_context ? cfg->event_context : g_main_context_default();

    c->ref = 1;
    c->ch = g_object_ref(ch);
    c->tls = tls;
    c->call_timeout_ms = cfg->call_timeout_ms;
    c->sink = g_new0(Sink, 1);
    c->sink->ref = 1;
    c->sink->ctx = g_main_context_ref(ectx);
    c->sink->event_func = cfg->event_func;
    c->sink->closed_func = cfg->closed_func;
    c->sink->opaque = cfg->opaque;
    c->sink->opaque_free = cfg->opaque_free;
    c->inbuf = g_byte_array_sized_new(READ_CHUNK);
    g_mutex_init(&c->io_lock);
    g_mutex_init(&c->lock);
    g_cond_init(&c->closed_cond);
    g_cond_init(&c->room_cond);
    c->next_serial = FIRST_SERIAL;
    c->calls = g_hash_table_new(NULL, NULL);
    c->streams = g_hash_table_new(NULL, NULL);
    g_queue_init(&c->outq);
    c->confirmed = !tls;
    if (!vh_channel_set_blocking(ch, false, NULL)) {
        g_warning("rpc client: cannot make the channel non-blocking");
    }
    c->ctx = g_main_context_new();
    c->loop = g_main_loop_new(c->ctx, FALSE);
    c->flush_src = g_source_new(&flush_funcs, sizeof(GSource));
    g_source_set_callback(c->flush_src, NULL, c, NULL);
    g_source_set_ready_time(c->flush_src, -1);
    g_source_attach(c->flush_src, c->ctx);
    if (c->call_timeout_ms) {
        c->timeout_timer =
            g_timeout_source_new(CLAMP(c->call_timeout_ms / 4, 5, 1000));
        g_source_set_callback(c->timeout_timer, timeout_scan_cb, c, NULL);
        g_source_attach(c->timeout_timer, c->ctx);
    }
    invoke(c, start_cb, c, NULL);
    c->thread = g_thread_new("vh-rpc-client", io_thread, c);
    return c;
}

VhRpcClient *vh_rpc_client_ref(VhRpcClient *c)
{
    g_atomic_int_inc(&c->ref);
    return c;
}

static gboolean quit_cb(gpointer opaque)
{
    g_main_loop_quit(opaque);
    return G_SOURCE_REMOVE;
}

void vh_rpc_client_unref(VhRpcClient *c)
{
    if (!c || !g_atomic_int_dec_and_test(&c->ref)) {
        return;
    }
    g_return_if_fail(g_thread_self() != c->thread);
    vh_rpc_client_close(c);
    invoke(c, quit_cb, c->loop, NULL);
    g_thread_join(c->thread);
    /* sources still attached (cancel idles) go with the context */
    g_main_loop_unref(c->loop);
    g_main_context_unref(c->ctx);
    g_hash_table_unref(c->calls);
    g_hash_table_unref(c->streams);
    g_queue_clear_full(&c->outq, (GDestroyNotify)g_byte_array_unref);
    g_byte_array_unref(c->inbuf);
    g_clear_error(&c->reason);
    g_object_unref(c->ch);
    sink_unref(c->sink);
    g_mutex_clear(&c->io_lock);
    g_mutex_clear(&c->lock);
    g_cond_clear(&c->closed_cond);
    g_cond_clear(&c->room_cond);
    g_free(c);
}

/* ---- calls ---- */

static void start_call(VhRpcClient *c, Pending *p, const GByteArray *args,
                       GCancellable *cancellable)
{
    GByteArray *pkt;

    g_mutex_lock(&c->lock);
    if (c->closed) {
        GError *err = g_error_copy(c->reason);

        g_mutex_unlock(&c->lock);
        pending_complete(p, NULL, err);
        return;
    }
    p->serial = c->next_serial++;
    if (c->next_serial == 0) {
        c->next_serial = FIRST_SERIAL;
    }
    pkt = new_packet(p->prog, p->vers, p->proc, VH_RPC_CALL, p->serial,
                     VH_RPC_OK);
    if (args) {
        g_byte_array_append(pkt, args->data, args->len);
    }
    if (!vh_rpc_packet_fits(pkt)) {
        g_mutex_unlock(&c->lock);
        g_byte_array_unref(pkt);
        pending_complete(p, NULL,
                         g_error_new(VH_VIR_ERROR, VH_VIR_ERR_RPC,
                                     "the arguments of procedure %u are "
                                     "larger than a packet may be",
                                     p->proc));
        return;
    }
    vh_rpc_packet_finish(pkt);
    if (c->call_timeout_ms) {
        p->deadline =
            g_get_monotonic_time() + (gint64)c->call_timeout_ms * 1000;
    }
    if (cancellable) {
        SerialRef *ref = g_new0(SerialRef, 1);

        ref->c = c;
        ref->serial = p->serial;
        p->cancellable = g_object_ref(cancellable);
        p->cancel_id = g_cancellable_connect(
            cancellable, G_CALLBACK(on_cancelled), ref, g_free);
    }
    g_hash_table_insert(c->calls, GUINT_TO_POINTER(p->serial), p);
    if (p->stream) {
        p->stream->serial = p->serial;
        g_atomic_int_inc(&p->stream->ref);
        g_hash_table_insert(c->streams, GUINT_TO_POINTER(p->serial), p->stream);
    }
    queue_locked(c, pkt);
    g_mutex_unlock(&c->lock);
}

static Pending *pending_new(guint32 prog, guint32 vers, guint32 proc)
{
    Pending *p = g_new0(Pending, 1);

    p->prog = prog;
    p->vers = vers;
    p->proc = proc;
    return p;
}

void vh_rpc_client_call_async(VhRpcClient *c, guint32 prog, guint32 vers,
                              guint32 proc, const GByteArray *args,
                              GCancellable *cancellable,
                              GAsyncReadyCallback callback, gpointer opaque)
{
    Pending *p = pending_new(prog, vers, proc);

    p->task = g_task_new(NULL, cancellable, callback, opaque);
    g_task_set_source_tag(p->task, vh_rpc_client_call_async);
    /* we report cancellation ourselves, once the call is forgotten */
    g_task_set_check_cancellable(p->task, FALSE);
    start_call(c, p, args, cancellable);
}

GBytes *vh_rpc_client_call_finish(VhRpcClient *c, GAsyncResult *res,
                                  GError **errp)
{
    g_return_val_if_fail(g_task_is_valid(res, NULL), NULL);
    return g_task_propagate_pointer(G_TASK(res), errp);
}

static GBytes *wait_sync(VhRpcClient *c, Pending *p, const GByteArray *args,
                         GCancellable *cancellable, GError **errp)
{
    SyncWait w = {0};
    GBytes *ret;

    g_mutex_init(&w.m);
    g_cond_init(&w.cond);
    p->wait = &w;
    start_call(c, p, args, cancellable);
    g_mutex_lock(&w.m);
    while (!w.done) {
        g_cond_wait(&w.cond, &w.m);
    }
    g_mutex_unlock(&w.m);
    g_mutex_clear(&w.m);
    g_cond_clear(&w.cond);
    ret = w.ret;
    if (w.err) {
        g_propagate_error(errp, w.err);
    }
    return ret;
}

GBytes *vh_rpc_client_call_sync(VhRpcClient *c, guint32 prog, guint32 vers,
                                guint32 proc, const GByteArray *args,
                                GCancellable *cancellable, GError **errp)
{
    return wait_sync(c, pending_new(prog, vers, proc), args, cancellable, errp);
}

/* ---- streams ---- */

/* Drop one reference (no finishing). */
static void stream_unref(VhRpcClientStream *s)
{
    if (s && g_atomic_int_dec_and_test(&s->ref)) {
        if (s->opaque_free) {
            s->opaque_free(s->opaque);
        }
        g_mutex_clear(&s->cb_lock);
        g_free(s);
    }
}

VhRpcClientStream *vh_rpc_client_stream_call_sync(
    VhRpcClient *c, guint32 prog, guint32 vers, guint32 proc,
    const GByteArray *args, VhRpcClientStreamFunc func, gpointer opaque,
    GDestroyNotify opaque_free, GCancellable *cancellable, GError **errp)
{
    VhRpcClientStream *s = g_new0(VhRpcClientStream, 1);
    Pending *p = pending_new(prog, vers, proc);
    GBytes *ret;

    s->ref = 2; /* ours and the pending call's */
    s->prog = prog;
    s->vers = vers;
    s->proc = proc;
    s->func = func;
    s->opaque = opaque;
    s->opaque_free = opaque_free;
    g_mutex_init(&s->cb_lock);
    p->stream = s;
    ret = wait_sync(c, p, args, cancellable, errp);
    if (!ret) {
        g_mutex_lock(&s->cb_lock);
        s->func = NULL;
        g_mutex_unlock(&s->cb_lock);
        stream_unref(s);
        return NULL;
    }
    g_bytes_unref(ret);
    s->client = vh_rpc_client_ref(c);
    return s;
}

/*
 * @data: a CONTINUE packet, which waits (off the I/O thread) while the
 * output queue could not take it within VH_RPC_CLIENT_QUEUE_MAX: a
 * producer faster than the server reads is slowed to the socket's pace
 * instead of growing the queue.
 */
static bool stream_queue(VhRpcClientStream *s, GByteArray *pkt, bool data,
                         GError **errp)
{
    VhRpcClient *c = s->client;
    bool wait = data && g_thread_self() != c->thread;

    vh_rpc_packet_finish(pkt);
    g_mutex_lock(&c->lock);
    while (wait && !c->closed && !s->ended && !s->finished &&
           !s->stop_sending && c->out_bytes > 0 &&
           c->out_bytes + pkt->len > VH_RPC_CLIENT_QUEUE_MAX) {
        g_cond_wait(&c->room_cond, &c->lock);
    }
    if (c->closed || s->ended || s->finished || (data && s->stop_sending)) {
        g_mutex_unlock(&c->lock);
        g_byte_array_unref(pkt);
        g_set_error(errp, VH_VIR_ERROR, VH_VIR_ERR_RPC, "the stream has ended");
        return false;
    }
    queue_locked(c, pkt);
    g_mutex_unlock(&c->lock);
    return true;
}

bool vh_rpc_client_stream_send(VhRpcClientStream *s, const void *data,
                               gsize len, GError **errp)
{
    const guint8 *p = data;

    g_return_val_if_fail(s->client, false);
    do {
        gsize n = MIN(len, VH_RPC_STREAM_CHUNK);
        GByteArray *pkt = new_packet(s->prog, s->vers, s->proc, VH_RPC_STREAM,
                                     s->serial, VH_RPC_CONTINUE);

        g_byte_array_append(pkt, p, n);
        if (!stream_queue(s, pkt, true, errp)) {
            return false;
        }
        p += n;
        len -= n;
    } while (len > 0);
    return true;
}

void vh_rpc_client_stream_finish(VhRpcClientStream *s)
{
    if (!s->client || s->finished || s->ended) {
        return;
    }
    GByteArray *pkt = new_packet(s->prog, s->vers, s->proc, VH_RPC_STREAM,
                                 s->serial, VH_RPC_OK);
    if (stream_queue(s, pkt, false, NULL)) {
        s->finished = true;
    }
}

void vh_rpc_client_stream_stop_sending(VhRpcClientStream *s)
{
    VhRpcClient *c = s->client;

    if (!c) {
        return;
    }
    g_mutex_lock(&c->lock);
    s->stop_sending = true;
    g_cond_broadcast(&c->room_cond);
    g_mutex_unlock(&c->lock);
}

void vh_rpc_client_stream_free(VhRpcClientStream *s)
{
    VhRpcClient *c;

    if (!s) {
        return;
    }
    c = s->client;
    if (c) {
        /* the user's handle: no more callbacks, end our side */
        g_mutex_lock(&s->cb_lock);
        s->func = NULL;
        g_mutex_unlock(&s->cb_lock);
        vh_rpc_client_stream_finish(s);
        s->client = NULL;
        vh_rpc_client_unref(c);
    }
    stream_unref(s);
}
