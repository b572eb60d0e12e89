/*
 * VhRpcClient: one connection to a server of libvirt's RPC (vmhostd,
 * libvirtd), knowing no procedure; the GLib client library
 * (libvmhost-gobject) builds the remote program's calls on it.
 *
 *     VhRpcClientConfig cfg = { .call_timeout_ms = 30000,
 *                               .event_context = ctx,
 *                               .event_func = on_message, .opaque = me };
 *     VhRpcClient *c = vh_rpc_client_new(VH_CHANNEL(tls), true, &cfg);
 *     g_autoptr(GBytes) ret = vh_rpc_client_call_sync(
 *         c, VH_REMOTE_PROGRAM, VH_REMOTE_VERSION,
 *         VH_REMOTE_PROC_CONNECT_GET_HOSTNAME, NULL, NULL, errp);
 *     ...
 *     vh_rpc_client_unref(c);
 *
 * Threads: the client owns a thread with a private GMainContext that reads
 * the channel and writes what is queued (non-blocking, partial reads and
 * writes, an output queue). Calls may be made from any thread: a call's
 * serial is allocated and its packet written by the calling thread when
 * nothing is queued (else queued for the I/O thread; an io lock keeps one
 * operation on the channel at a time), and its reply matched by serial on
 * the I/O thread. Calls and stream callbacks must not make sync calls
 * from the I/O thread. An async call completes through a GTask in the caller's
 * thread-default GMainContext; a sync call blocks the calling thread (it
 * never iterates a main context). MESSAGE packets of other programs
 * (events) and the end of the connection are delivered on @event_context.
 *
 * Every call ends exactly once: with its reply's payload, with the error
 * of an ERROR reply (VH_VIR_ERROR and the server's code), with
 * OPERATION_TIMEOUT after call_timeout_ms, with G_IO_ERROR_CANCELLED, or,
 * when the connection ends (EOF, an I/O error, a framing or protocol error,
 * a missed keepalive, vh_rpc_client_close), with VH_VIR_ERR_RPC naming why.
 * The connection ends at the first packet that breaks the framing (a
 * length over 16 MiB or under the header, a header that does not decode);
 * a reply to no pending call is ignored; a reply that cannot be decoded
 * fails its call only.
 *
 * Over TLS (@tls) the server's 0x01 confirmation byte is awaited before
 * the first packet is written: anything else ends the connection ("Unable
 * to read TLS confirmation").
 *
 * Keepalive (libvirt's virkeepalive): a PING from the server is answered
 * with a PONG; after vh_rpc_client_start_keepalive() the client PINGs
 * after @interval_ms without input and gives up after @count unanswered.
 */
#pragma once

#include "vmhost/io/channel.h"
#include "vmhost/rpc/packet.h"

G_BEGIN_DECLS

typedef struct _VhRpcClient VhRpcClient;
typedef struct _VhRpcClientStream VhRpcClientStream;

/* A MESSAGE packet other than keepalive, on event_context. */
typedef void (*VhRpcClientEventFunc)(const VhRpcHeader *hdr, GBytes *body,
                                     gpointer opaque);
/* The connection ended (@reason: why; never NULL), on event_context. */
typedef void (*VhRpcClientClosedFunc)(const GError *reason, gpointer opaque);

typedef struct {
    guint call_timeout_ms;             /* 0: calls never time out */
    GMainContext *event_context;       /* NULL: the global default context */
    VhRpcClientEventFunc event_func;   /* optional */
    VhRpcClientClosedFunc closed_func; /* optional */
    gpointer opaque;
    /* unrefs @opaque once nothing more will be delivered (may be NULL) */
    GDestroyNotify opaque_free;
} VhRpcClientConfig;

/*
 * Start a client on @ch, a connected channel (a TLS channel after its
 * handshake); the client takes a reference on @ch and makes it
 * non-blocking.
 */
VhRpcClient *vh_rpc_client_new(VhChannel *ch, bool tls,
                               const VhRpcClientConfig *cfg);
VhRpcClient *vh_rpc_client_ref(VhRpcClient *c);
/* The last unref closes the connection and joins the I/O thread; it must
 * not run on the I/O thread (stream callbacks must not drop it). */
void vh_rpc_client_unref(VhRpcClient *c);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VhRpcClient, vh_rpc_client_unref)

/* End the connection now; pending calls fail. Harmless when ended. */
void vh_rpc_client_close(VhRpcClient *c);
bool vh_rpc_client_is_closed(VhRpcClient *c);
/* The bytes queued for the channel that it has not taken yet. */
gsize vh_rpc_client_get_queued_bytes(VhRpcClient *c);
void vh_rpc_client_start_keepalive(VhRpcClient *c, guint interval_ms,
                                   guint count);

/*
 * A CALL of @proc with @args as its payload (NULL: none). The result is
 * the reply's payload (transfer full), to be decoded by the caller.
 */
void vh_rpc_client_call_async(VhRpcClient *c, guint32 prog, guint32 vers,
                              guint32 proc, const GByteArray *args,
                              GCancellable *cancellable,
                              GAsyncReadyCallback callback, gpointer opaque);
G_GNUC_WARN_UNUSED_RESULT
GBytes *vh_rpc_client_call_finish(VhRpcClient *c, GAsyncResult *res,
                                  GError **errp);
G_GNUC_WARN_UNUSED_RESULT
GBytes *vh_rpc_client_call_sync(VhRpcClient *c, guint32 prog, guint32 vers,
                                guint32 proc, const GByteArray *args,
                                GCancellable *cancellable, GError **errp);

/*
 * Streams (OPEN_CONSOLE): the call's serial carries STREAM packets both
 * ways once its reply is OK. @func runs on the I/O thread for each
 * payload the server sends (@data non-NULL), once at EOF (@data NULL and
 * @err NULL: CONTINUE without data, or OK; data after it is dropped) and
 * once on failure (@err set: the server's ERROR, or the connection ended;
 * nothing follows it, and it may follow EOF). After the server's EOF our
 * side may still send, and ends with OK (vh_rpc_client_stream_finish or
 * _free), which the server confirms with OK. Make the call with
 * vh_rpc_client_stream_call_sync().
 */
typedef void (*VhRpcClientStreamFunc)(GBytes *data, const GError *err,
                                      gpointer opaque);

/*
 * A stream call: the stream (transfer full) once the reply is OK, or NULL
 * with @errp set (the stream then delivered nothing). @opaque_free runs
 * when the stream is freed.
 */
G_GNUC_WARN_UNUSED_RESULT
VhRpcClientStream *vh_rpc_client_stream_call_sync(
    VhRpcClient *c, guint32 prog, guint32 vers, guint32 proc,
    const GByteArray *args, VhRpcClientStreamFunc func, gpointer opaque,
    GDestroyNotify opaque_free, GCancellable *cancellable, GError **errp);
/*
 * What the output queue holds at most for stream data: a sender waits for
 * the channel to take enough (so a producer is slowed to the peer's pace
 * and memory stays bounded) - except on the I/O thread (a stream
 * callback), which never waits.
 */
#define VH_RPC_CLIENT_QUEUE_MAX (4u * 1024 * 1024)
/*
 * Queue @len bytes as STREAM CONTINUE packets; false once it has ended.
 * Blocks while the output queue is full (VH_RPC_CLIENT_QUEUE_MAX) until
 * the channel drains, the stream or connection ends, or
 * vh_rpc_client_stream_stop_sending().
 */
bool vh_rpc_client_stream_send(VhRpcClientStream *s, const void *data,
                               gsize len, GError **errp);
/* Any thread: a send waiting for room, and every later send, fails (the
 * stream may still be finished). */
void vh_rpc_client_stream_stop_sending(VhRpcClientStream *s);
/* Send STREAM OK (our end); the server answers OK, which ends it. */
void vh_rpc_client_stream_finish(VhRpcClientStream *s);
/* Finishes the stream if still open and drops it; no callback follows. */
void vh_rpc_client_stream_free(VhRpcClientStream *s);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VhRpcClientStream, vh_rpc_client_stream_free)

G_END_DECLS
