/*
 * Shared between server.c (connections, dispatch, keepalive) and
 * server-stream.c (STREAM relays).
 */
#pragma once

#include "vmhost/rpc/server.h"

typedef struct _VhRpcStream VhRpcStream;

struct _VhRpcServer {
    VhRpcServerConfig cfg;
    GMainContext *ctx;
    GThreadPool *pool;
    GPtrArray *programs; /* const VhRpcProgram * */
    VhRpcServerHooks hooks;
    gpointer hooks_opaque;
    GMutex lock;      /* conns, n_active */
    GPtrArray *conns; /* VhRpcConn * (a reference each) */
    guint n_active;   /* counted against max_clients */
    bool shut_down;
};

struct _VhRpcConn {
    gint ref;
    VhRpcServer *srv;
    VhChannel *ch;
    char *identity;
    bool readonly;
    bool refused; /* beyond max_clients */
    bool counted;

    /* main thread only */
    GSource *in_watch, *out_watch, *ka_timer, *idle_timer;
    guint8 lenbuf[4];
    gsize rx_have;
    guint32 rx_len;
    guint8 *rx;
    gint64 last_rx_us;
    guint pings;
    bool keepalive;
    bool flush_now; /* replies queued by inline calls: flush before poll */
    gsize out_off;
    GHashTable *streams; /* serial -> VhRpcStream */
    guint rx_pauses;     /* streams that paused our input */

    GMutex lock; /* everything below */
    GQueue outq; /* GByteArray * */
    gsize out_bytes;
    bool flush_scheduled;
    bool closing; /* close once outq is written */
    bool closed;
    bool open;
    gpointer data;
    GDestroyNotify data_free;
};

struct _VhRpcCall {
    VhRpcConn *conn;
    const VhRpcProgram *prog;
    const VhRpcProc *proc;
    VhRpcHeader hdr;
    guint8 *pkt; /* the whole packet */
    guint32 len;
    VhChannel *stream;
};

/* Take ownership of a finished packet and queue it. Any thread. */
void vh_rpc_conn_queue(VhRpcConn *conn, GByteArray *pkt);
/* Run @func(conn) on the server's context (holds a reference). */
void vh_rpc_conn_invoke(VhRpcConn *conn, void (*func)(VhRpcConn *));
/* Close at once. Main thread. */
void vh_rpc_conn_close_now(VhRpcConn *conn, const char *why);
gsize vh_rpc_conn_out_bytes(VhRpcConn *conn);
/* Stop reading the client (a stream's channel is behind) or read again;
 * counted, so each pause needs its resume. Main thread. */
void vh_rpc_conn_pause_input(VhRpcConn *conn, bool pause);

/* The output queue sizes at which stream sources pause and resume. */
#define VH_RPC_OUT_HIGH (1u * 1024 * 1024)
#define VH_RPC_OUT_LOW  (256u * 1024)
/* The default limit of what waits to be sent to one client. */
#define VH_RPC_QUEUE_MAX_DEFAULT ((gsize)64 * 1024 * 1024)

/* server-stream.c, main thread */
void vh_rpc_stream_start(VhRpcConn *conn, const VhRpcHeader *hdr,
                         VhChannel *ch);
void vh_rpc_stream_packet(VhRpcConn *conn, VhRpcStream *st,
                          const VhRpcHeader *hdr, const guint8 *data,
                          gsize len);
void vh_rpc_stream_free(gpointer st);
void vh_rpc_stream_resume_all(VhRpcConn *conn);

/* An error reply (type @type, status ERROR) to @hdr. */
GByteArray *vh_rpc_error_packet(const VhRpcHeader *hdr, guint32 type,
                                const GError *err, int vir_domain);
