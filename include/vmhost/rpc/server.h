/*
 * VhRpcServer: libvirt's RPC served over connected VhChannels, knowing no
 * procedure. A program (prog + vers + a table of procedures) is
 * registered; each client's channel is watched on the server's
 * GMainContext (non-blocking, partial reads and writes, an output queue),
 * CALL packets run their handler on a pool of worker threads (calls of one
 * connection may run concurrently, as libvirtd's do) unless the procedure
 * is VH_RPC_PROC_INLINE, and replies, events and stream data are queued
 * back from any thread.
 *
 *     static const VhRpcProc procs[] = {
 *         { 1, "CONNECT_OPEN", do_open, VH_RPC_PROC_BEFORE_OPEN },
 *         { 12, "DOMAIN_DESTROY", do_destroy, VH_RPC_PROC_WRITE },
 *     };
 *     static const VhRpcProgram prog = { 0x20008086, 1, procs,
 *                                        G_N_ELEMENTS(procs),
 *                                        VH_VIR_FROM_REMOTE };
 *     VhRpcServerConfig cfg = { .max_clients = 5000, .max_workers = 20,
 *                               .keepalive_interval_ms = 5000,
 *                               .keepalive_count = 5 };
 *     VhRpcServer *srv = vh_rpc_server_new(&cfg, ctx);
 *     vh_rpc_server_add_program(srv, &prog);
 *     vh_rpc_server_add_client(srv, channel, tls, readonly, "uid 1000");
 *
 * A handler decodes its arguments from @args (ending with vh_xdr_end()),
 * appends its reply's payload to @ret and returns true, or sets @errp and
 * returns false: the client then gets an ERROR reply built from the
 * GError (vh_rpc_error_encode). The server itself answers unknown
 * programs, versions and procedures, calls before the connection is
 * marked open (vh_rpc_conn_set_open), state-changing calls on a read-only
 * connection (OPERATION_DENIED), REPLY/STREAM packets that belong to no
 * call, and keepalive PINGs. Framing errors (a length over
 * VH_RPC_PACKET_MAX or under the header) close the connection.
 *
 * Threads: vh_rpc_server_* except get_n_clients run on the thread that
 * iterates @ctx; vh_rpc_conn_* and the call functions may be used from any
 * thread.
 */
#pragma once

#include "vmhost/io/channel.h"
#include "vmhost/rpc/packet.h"

G_BEGIN_DECLS

typedef struct _VhRpcServer VhRpcServer;
typedef struct _VhRpcConn VhRpcConn;
typedef struct _VhRpcCall VhRpcCall;

typedef enum {
    /* allowed before the connection is open (auth, feature probes, open) */
    VH_RPC_PROC_BEFORE_OPEN = 1 << 0,
    /* changes state: a read-only connection gets OPERATION_DENIED */
    VH_RPC_PROC_WRITE = 1 << 1,
    /*
     * cheap and never waits (no job lock, no I/O but procfs): runs on the
     * server's thread as its packet arrives, and its reply is written in
     * the same wake-up, with no hand-off to a worker and back (a worker
     * call costs two cross-thread wake-ups)
     */
    VH_RPC_PROC_INLINE = 1 << 2,
} VhRpcProcFlags;

typedef bool (*VhRpcHandler)(VhRpcCall *call, VhXdrReader *args,
                             GByteArray *ret, GError **errp);

typedef struct {
    guint32 proc;
    const char *name; /* for logs and errors: "DOMAIN_CREATE" */
    VhRpcHandler handler;
    guint flags; /* VhRpcProcFlags */
} VhRpcProc;

typedef struct {
    guint32 prog;
    guint32 vers;
    const VhRpcProc *procs; /* any order; numbers unique */
    gsize n_procs;
    int error_domain; /* VhVirErrorDomain of error replies */
} VhRpcProgram;

typedef struct {
    guint max_clients;           /* 0: no limit */
    guint max_workers;           /* 0: 1 */
    guint keepalive_interval_ms; /* 0: no pings from us */
    guint keepalive_count;       /* unanswered pings before the drop */
    guint idle_timeout_ms; /* a client that sends no packet in this time is
                              dropped; 0: never */
    gsize max_queue_bytes; /* a client whose unsent output grows past this
                              (it does not read) is dropped; 0: 64 MiB */
} VhRpcServerConfig;

typedef struct {
    /* A client was added (before any of its packets is read). */
    void (*conn_added)(VhRpcConn *conn, gpointer opaque);
    /* A client is gone; its calls may still be running. */
    void (*conn_closed)(VhRpcConn *conn, gpointer opaque);
} VhRpcServerHooks;

VhRpcServer *vh_rpc_server_new(const VhRpcServerConfig *cfg, GMainContext *ctx);
void vh_rpc_server_set_hooks(VhRpcServer *srv, const VhRpcServerHooks *hooks,
                             gpointer opaque);
/* @prog must outlive the server. */
void vh_rpc_server_add_program(VhRpcServer *srv, const VhRpcProgram *prog);
/*
 * Serve @ch (the server takes a reference and makes it non-blocking).
 * @tls: send libvirt's 0x01 confirmation byte first. Beyond max_clients the
 * client's first call gets the error "Too many active clients (N),
 * dropping connection" and the connection closes. Returns the connection
 * (transfer none).
 */
VhRpcConn *vh_rpc_server_add_client(VhRpcServer *srv, VhChannel *ch, bool tls,
                                    bool readonly, const char *identity);
guint vh_rpc_server_get_n_clients(VhRpcServer *srv);
/*
 * Stop reading, let running calls finish and flush what they queued (best
 * effort, without blocking), close every client. Final.
 */
void vh_rpc_server_shutdown(VhRpcServer *srv);
/* Shuts down if not done yet. */
void vh_rpc_server_free(VhRpcServer *srv);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VhRpcServer, vh_rpc_server_free)

VhRpcConn *vh_rpc_conn_ref(VhRpcConn *conn);
void vh_rpc_conn_unref(VhRpcConn *conn);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VhRpcConn, vh_rpc_conn_unref)
bool vh_rpc_conn_is_readonly(VhRpcConn *conn);
/* From now on, state-changing calls are denied (libvirt's VIR_CONNECT_RO). */
void vh_rpc_conn_set_readonly(VhRpcConn *conn);
bool vh_rpc_conn_is_closed(VhRpcConn *conn);
const char *vh_rpc_conn_get_identity(VhRpcConn *conn);
/* Calls without VH_RPC_PROC_BEFORE_OPEN fail until this is set. */
void vh_rpc_conn_set_open(VhRpcConn *conn, bool open);
bool vh_rpc_conn_is_open(VhRpcConn *conn);
/* The program's per-connection data; @notify runs on the last unref. */
void vh_rpc_conn_set_data(VhRpcConn *conn, gpointer data,
                          GDestroyNotify notify);
gpointer vh_rpc_conn_get_data(VhRpcConn *conn);
/*
 * Start our keepalive PINGs (libvirtd does once the client asks for the
 * keepalive feature): after keepalive_count unanswered ones the link is
 * dropped.
 */
void vh_rpc_conn_start_keepalive(VhRpcConn *conn);
/* Queue a MESSAGE packet (serial 0, status OK) with @body as its payload.
 * Returns false when the connection is closed. */
bool vh_rpc_conn_send_message(VhRpcConn *conn, guint32 prog, guint32 vers,
                              guint32 proc, const GByteArray *body);
/* Close once what is queued has been written. */
void vh_rpc_conn_close(VhRpcConn *conn);

/*
 * For fuzzers and tests: process one complete packet (@data, length word
 * included) as if read from @conn, on the calling thread: a CALL's
 * handler runs here and its reply (or error reply) is returned, finished
 * (transfer full). A stream the call attaches is closed at once. Returns
 * NULL with @errp set for a framing error (the server would close the
 * connection) and NULL without an error when nothing would be sent back.
 */
GByteArray *vh_rpc_conn_dispatch_sync(VhRpcConn *conn, const guint8 *data,
                                      gsize len, GError **errp);

VhRpcConn *vh_rpc_call_get_conn(VhRpcCall *call);
const VhRpcHeader *vh_rpc_call_get_header(VhRpcCall *call);
/*
 * Turn the call into a stream once its OK reply is sent: STREAM packets on
 * the call's serial relay @ch both ways (client CONTINUE -> written to
 * @ch; data read from @ch -> CONTINUE, EOF -> CONTINUE with no data;
 * client OK (finish) or ERROR (abort) -> @ch closed, an empty OK sent
 * back, which the client waits for). The
 * server takes a reference on @ch and closes it when the stream ends.
 * Reading @ch pauses while the client's output queue is large.
 */
void vh_rpc_call_attach_stream(VhRpcCall *call, VhChannel *ch);

G_END_DECLS
