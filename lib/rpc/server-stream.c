/*
 * STREAM relays: after a call's OK reply, STREAM packets on the call's
 * serial carry a channel's bytes both ways (libvirt's virNetServerStream
 * semantics: CONTINUE is data, an empty CONTINUE is EOF, the client's OK
 * finishes and is answered with OK, the client's ERROR aborts and is
 * answered with OK too).
 */
#include "server-internal.h"

#define STREAM_READ_MAX (64u * 1024)
/* What a client may have written to us that the channel has not taken. */
#define STREAM_IN_MAX (16u * 1024 * 1024)
/* Past this the client's connection is not read until the channel has
 * taken all but STREAM_IN_LOW: a client that streams faster than the
 * channel drains (a migration tunnel) is slowed by TCP, not dropped. */
#define STREAM_IN_HIGH (4u * 1024 * 1024)
#define STREAM_IN_LOW  (1u * 1024 * 1024)

struct _VhRpcStream {
    VhRpcConn *conn; /* the connection's table owns the stream */
    VhRpcHeader hdr;
    VhChannel *ch;
    GSource *rd, *wr;
    GByteArray *to_ch; /* client data not yet written to ch */
    bool eof;          /* the channel reached EOF (sent to the client) */
    bool paused;
    bool rx_paused;  /* the connection's input paused for to_ch */
    bool finishing;  /* the client's OK came: confirm once to_ch is written */
    bool client_eof; /* an empty CONTINUE came: shut ch's write side */
};

void vh_rpc_stream_free(gpointer opaque)
{
    VhRpcStream *st = opaque;

    if (st->rx_paused) {
        vh_rpc_conn_pause_input(st->conn, false);
    }
    if (st->rd) {
        g_source_destroy(st->rd);
        g_source_unref(st->rd);
    }
    if (st->wr) {
        g_source_destroy(st->wr);
        g_source_unref(st->wr);
    }
    vh_channel_close(st->ch, NULL);
    g_object_unref(st->ch);
    g_byte_array_unref(st->to_ch);
    g_free(st);
}

static void send_stream(VhRpcStream *st, guint32 status, const void *data,
                        gsize len)
{
    VhRpcHeader h = st->hdr;

    h.type = VH_RPC_STREAM;
    h.status = status;
    GByteArray *pkt = vh_rpc_packet_new(&h);
    if (len) {
        g_byte_array_append(pkt, data, len);
    }
    vh_rpc_packet_finish(pkt);
    vh_rpc_conn_queue(st->conn, pkt);
}

static void stream_end(VhRpcStream *st)
{
    g_hash_table_remove(st->conn->streams, GUINT_TO_POINTER(st->hdr.serial));
}

static void stream_fail(VhRpcStream *st, const GError *err)
{
    g_message("client %s: stream %u: %s", vh_rpc_conn_get_identity(st->conn),
              st->hdr.serial, err->message);
    vh_rpc_conn_queue(st->conn, vh_rpc_error_packet(&st->hdr, VH_RPC_STREAM,
                                                    err, VH_VIR_FROM_STREAMS));
    stream_end(st);
}

static void watch_read(VhRpcStream *st);

static gboolean ch_readable(VhChannel *ch, GIOCondition cond, gpointer opaque)
{
    VhRpcStream *st = opaque;
    guint8 buf[STREAM_READ_MAX];
    g_autoptr(GError) err = NULL;

    gssize n = vh_channel_read(ch, buf, sizeof(buf), &err);
    if (n == VH_CHANNEL_ERR_BLOCK) {
        return G_SOURCE_CONTINUE;
    }
    if (n < 0) {
        stream_fail(st, err); /* frees st and this source */
        return G_SOURCE_CONTINUE;
    }
    send_stream(st, VH_RPC_CONTINUE, buf, n);
    if (n == 0) {
        st->eof = true;
    }
    if (n == 0 || vh_rpc_conn_out_bytes(st->conn) > VH_RPC_OUT_HIGH) {
        st->paused = n != 0;
        g_source_destroy(st->rd);
        g_source_unref(st->rd);
        st->rd = NULL;
    }
    return G_SOURCE_CONTINUE;
}

static void watch_read(VhRpcStream *st)
{
    if (st->rd || st->eof) {
        return;
    }
    st->paused = false;
    st->rd = vh_channel_create_watch(st->ch, G_IO_IN);
    g_source_set_callback(st->rd, G_SOURCE_FUNC(ch_readable), st, NULL);
    g_source_attach(st->rd, st->conn->srv->ctx);
}

static bool write_pending(VhRpcStream *st);

static gboolean ch_writable(VhChannel *ch, GIOCondition cond, gpointer opaque)
{
    (void)write_pending(opaque);
    return G_SOURCE_CONTINUE;
}

/* false: the stream failed, or finished, and is gone */
static bool write_pending(VhRpcStream *st)
{
    while (st->to_ch->len) {
        g_autoptr(GError) err = NULL;
        gssize n =
            vh_channel_write(st->ch, st->to_ch->data, st->to_ch->len, &err);
        if (n == VH_CHANNEL_ERR_BLOCK) {
            if (!st->wr) {
                st->wr = vh_channel_create_watch(st->ch, G_IO_OUT);
                g_source_set_callback(st->wr, G_SOURCE_FUNC(ch_writable), st,
                                      NULL);
                g_source_attach(st->wr, st->conn->srv->ctx);
            }
            return true;
        }
        if (n < 0) {
            stream_fail(st, err);
            return false;
        }
        g_byte_array_remove_range(st->to_ch, 0, n);
        if (st->rx_paused && st->to_ch->len <= STREAM_IN_LOW) {
            st->rx_paused = false;
            vh_rpc_conn_pause_input(st->conn, false);
        }
    }
    if (st->client_eof) {
        /* a half close: the peer of ch sees EOF and may still answer */
        st->client_eof = false;
        if (!vh_channel_shutdown(st->ch, VH_CHANNEL_SHUTDOWN_WRITE, NULL)) {
            g_debug("stream %u: shutdown failed", st->hdr.serial);
        }
    }
    if (st->finishing) {
        send_stream(st, VH_RPC_OK, NULL, 0);
        stream_end(st);
        return false;
    }
    if (st->wr) {
        g_source_destroy(st->wr);
        g_source_unref(st->wr);
        st->wr = NULL;
    }
    return true;
}

void vh_rpc_stream_start(VhRpcConn *conn, const VhRpcHeader *hdr, VhChannel *ch)
{
    VhRpcStream *st = g_new0(VhRpcStream, 1);
    g_autoptr(GError) err = NULL;

    st->conn = conn;
    st->hdr = *hdr;
    st->ch = g_object_ref(ch);
    st->to_ch = g_byte_array_new();
    g_hash_table_replace(conn->streams, GUINT_TO_POINTER(hdr->serial), st);
    if (!vh_channel_set_blocking(ch, false, &err)) {
        stream_fail(st, err);
        return;
    }
    watch_read(st);
}

void vh_rpc_stream_packet(VhRpcConn *conn, VhRpcStream *st,
                          const VhRpcHeader *hdr, const guint8 *data, gsize len)
{
    switch (hdr->status) {
    case VH_RPC_CONTINUE:
        if (len == 0) {
            /* the client's EOF: nothing more will be written to ch */
            st->client_eof = true;
            (void)write_pending(st);
            break;
        }
        if (st->to_ch->len + len > STREAM_IN_MAX) {
            g_autoptr(GError) err = g_error_new(
                VH_VIR_ERROR, VH_VIR_ERR_RPC,
                "stream %u: more than %u bytes waiting to be written",
                hdr->serial, STREAM_IN_MAX);
            stream_fail(st, err);
            break;
        }
        g_byte_array_append(st->to_ch, data, len);
        if (write_pending(st) && !st->rx_paused &&
            st->to_ch->len > STREAM_IN_HIGH) {
            st->rx_paused = true;
            vh_rpc_conn_pause_input(conn, true);
        }
        break;
    case VH_RPC_OK:
        /* finish: confirm and close once everything is written */
        st->finishing = true;
        (void)write_pending(st);
        break;
    case VH_RPC_ERROR:
    default:
        /* abort: the client waits for the same empty OK as for a finish */
        send_stream(st, VH_RPC_OK, NULL, 0);
        stream_end(st);
        break;
    }
}

void vh_rpc_stream_resume_all(VhRpcConn *conn)
{
    GHashTableIter it;
    gpointer v;

    if (!conn->streams || vh_rpc_conn_out_bytes(conn) > VH_RPC_OUT_LOW) {
        return;
    }
    g_hash_table_iter_init(&it, conn->streams);
    while (g_hash_table_iter_next(&it, NULL, &v)) {
        VhRpcStream *st = v;
        if (st->paused) {
            watch_read(st);
        }
    }
}
