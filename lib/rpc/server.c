/*
 * VhRpcServer: connections, packet reading, dispatch to worker threads,
 * the output queue, keepalive (libvirt's virkeepalive semantics: PING and
 * PONG as MESSAGE packets of KEEPALIVE_PROGRAM) and max_clients.
 */
#include "server-internal.h"

#include <string.h>

#define READS_PER_WAKEUP 32

static void conn_flush(VhRpcConn *conn);
static void conn_process(VhRpcConn *conn, guint8 *pkt, guint32 len);

/* ---- connections ---- */

VhRpcConn *vh_rpc_conn_ref(VhRpcConn *conn)
{
    g_atomic_int_inc(&conn->ref);
    return conn;
}

void vh_rpc_conn_unref(VhRpcConn *conn)
{
    if (!conn || !g_atomic_int_dec_and_test(&conn->ref)) {
        return;
    }
    if (conn->data_free) {
        conn->data_free(conn->data);
    }
    g_queue_clear_full(&conn->outq, (GDestroyNotify)g_byte_array_unref);
    g_clear_pointer(&conn->streams, g_hash_table_unref);
    g_free(conn->rx);
    g_clear_object(&conn->ch);
    g_free(conn->identity);
    g_mutex_clear(&conn->lock);
    g_free(conn);
}

bool vh_rpc_conn_is_readonly(VhRpcConn *conn)
{
    g_mutex_lock(&conn->lock);
    bool ro = conn->readonly;
    g_mutex_unlock(&conn->lock);
    return ro;
}

void vh_rpc_conn_set_readonly(VhRpcConn *conn)
{
    g_mutex_lock(&conn->lock);
    conn->readonly = true;
    g_mutex_unlock(&conn->lock);
}

bool vh_rpc_conn_is_closed(VhRpcConn *conn)
{
    g_mutex_lock(&conn->lock);
    bool closed = conn->closed || conn->closing;
    g_mutex_unlock(&conn->lock);
    return closed;
}

const char *vh_rpc_conn_get_identity(VhRpcConn *conn)
{
    return conn->identity;
}

void vh_rpc_conn_set_open(VhRpcConn *conn, bool open)
{
    g_mutex_lock(&conn->lock);
    conn->open = open;
    g_mutex_unlock(&conn->lock);
}

bool vh_rpc_conn_is_open(VhRpcConn *conn)
{
    g_mutex_lock(&conn->lock);
    bool open = conn->open;
    g_mutex_unlock(&conn->lock);
    return open;
}

void vh_rpc_conn_set_data(VhRpcConn *conn, gpointer data, GDestroyNotify notify)
{
    conn->data = data;
    conn->data_free = notify;
}

gpointer vh_rpc_conn_get_data(VhRpcConn *conn)
{
    return conn->data;
}

gsize vh_rpc_conn_out_bytes(VhRpcConn *conn)
{
    g_mutex_lock(&conn->lock);
    gsize n = conn->out_bytes;
    g_mutex_unlock(&conn->lock);
    return n;
}

typedef struct {
    VhRpcConn *conn;
    void (*func)(VhRpcConn *);
} Invoke;

static gboolean invoke_cb(gpointer opaque)
{
    Invoke *inv = opaque;

    inv->func(inv->conn);
    return G_SOURCE_REMOVE;
}

static void invoke_free(gpointer opaque)
{
    Invoke *inv = opaque;

    vh_rpc_conn_unref(inv->conn);
    g_free(inv);
}

void vh_rpc_conn_invoke(VhRpcConn *conn, void (*func)(VhRpcConn *))
{
    Invoke *inv = g_new0(Invoke, 1);
    g_autoptr(GSource) src = g_idle_source_new();

    inv->conn = vh_rpc_conn_ref(conn);
    inv->func = func;
    g_source_set_priority(src, G_PRIORITY_DEFAULT);
    g_source_set_callback(src, invoke_cb, inv, invoke_free);
    g_source_attach(src, conn->srv->ctx);
}

static void flush_cb(VhRpcConn *conn)
{
    g_mutex_lock(&conn->lock);
    conn->flush_scheduled = false;
    g_mutex_unlock(&conn->lock);
    conn_flush(conn);
}

static void overflow_cb(VhRpcConn *conn)
{
    g_autofree char *why =
        g_strdup_printf("more than %" G_GSIZE_FORMAT
                        " bytes wait to be sent (the client does not read)",
                        conn->srv->cfg.max_queue_bytes);

    vh_rpc_conn_close_now(conn, why);
}

/*
 * @here: we are on the server's thread inside in_ready(), which flushes
 * before it returns to the poll: no idle source, no wake-up.
 */
static void conn_queue(VhRpcConn *conn, GByteArray *pkt, bool here)
{
    bool schedule = false;

    g_mutex_lock(&conn->lock);
    if (conn->closed || conn->closing) {
        g_mutex_unlock(&conn->lock);
        g_byte_array_unref(pkt);
        return;
    }
    if (conn->out_bytes + pkt->len > conn->srv->cfg.max_queue_bytes) {
        /* nothing more is queued; the main thread drops the client */
        conn->closing = true;
        g_mutex_unlock(&conn->lock);
        g_byte_array_unref(pkt);
        vh_rpc_conn_invoke(conn, overflow_cb);
        return;
    }
    conn->out_bytes += pkt->len;
    g_queue_push_tail(&conn->outq, pkt);
    if (here) {
        conn->flush_now = true;
    } else if (!conn->flush_scheduled) {
        conn->flush_scheduled = schedule = true;
    }
    g_mutex_unlock(&conn->lock);
    if (schedule) {
        vh_rpc_conn_invoke(conn, flush_cb);
    }
}

void vh_rpc_conn_queue(VhRpcConn *conn, GByteArray *pkt)
{
    conn_queue(conn, pkt, false);
}

bool vh_rpc_conn_send_message(VhRpcConn *conn, guint32 prog, guint32 vers,
                              guint32 proc, const GByteArray *body)
{
    VhRpcHeader hdr = {prog, vers, proc, VH_RPC_MESSAGE, 0, VH_RPC_OK};
    GByteArray *pkt = vh_rpc_packet_new(&hdr);

    if (body) {
        g_byte_array_append(pkt, body->data, body->len);
    }
    if (!vh_rpc_packet_fits(pkt)) {
        g_warning("client %s: event message of %u bytes is too large",
                  conn->identity, pkt->len);
        g_byte_array_unref(pkt);
        return false;
    }
    vh_rpc_packet_finish(pkt);
    if (vh_rpc_conn_is_closed(conn)) {
        g_byte_array_unref(pkt);
        return false;
    }
    vh_rpc_conn_queue(conn, pkt);
    return true;
}

static void close_cb(VhRpcConn *conn)
{
    g_mutex_lock(&conn->lock);
    bool now = !conn->closed && g_queue_is_empty(&conn->outq);
    g_mutex_unlock(&conn->lock);
    if (now) {
        vh_rpc_conn_close_now(conn, NULL);
    } else {
        conn_flush(conn);
    }
}

void vh_rpc_conn_close(VhRpcConn *conn)
{
    g_mutex_lock(&conn->lock);
    bool first = !conn->closing && !conn->closed;
    conn->closing = true;
    g_mutex_unlock(&conn->lock);
    if (first) {
        vh_rpc_conn_invoke(conn, close_cb);
    }
}

static void destroy_source(GSource **src)
{
    if (*src) {
        g_source_destroy(*src);
        g_source_unref(*src);
        *src = NULL;
    }
}

void vh_rpc_conn_close_now(VhRpcConn *conn, const char *why)
{
    VhRpcServer *srv = conn->srv;

    g_mutex_lock(&conn->lock);
    if (conn->closed) {
        g_mutex_unlock(&conn->lock);
        return;
    }
    conn->closed = true;
    conn->open = false;
    g_mutex_unlock(&conn->lock);

    if (why) {
        g_message("client %s: %s; closing the connection", conn->identity, why);
    } else {
        g_info("client %s: connection closed", conn->identity);
    }
    destroy_source(&conn->in_watch);
    destroy_source(&conn->out_watch);
    destroy_source(&conn->ka_timer);
    destroy_source(&conn->idle_timer);
    g_hash_table_remove_all(conn->streams);
    vh_channel_close(conn->ch, NULL);

    g_mutex_lock(&srv->lock);
    if (conn->counted) {
        srv->n_active--;
        conn->counted = false;
    }
    bool listed = g_ptr_array_remove_fast(srv->conns, conn);
    g_mutex_unlock(&srv->lock);
    if (listed) {
        if (srv->hooks.conn_closed) {
            srv->hooks.conn_closed(conn, srv->hooks_opaque);
        }
        vh_rpc_conn_unref(conn);
    }
}

/* ---- writing ---- */

static gboolean out_ready(VhChannel *ch, GIOCondition cond, gpointer opaque)
{
    conn_flush(opaque);
    return G_SOURCE_CONTINUE;
}

static void conn_flush(VhRpcConn *conn)
{
    for (;;) {
        g_mutex_lock(&conn->lock);
        GByteArray *head = conn->closed ? NULL : g_queue_peek_head(&conn->outq);
        g_mutex_unlock(&conn->lock);
        if (!head) {
            break;
        }
        g_autoptr(GError) err = NULL;
        gssize n = vh_channel_write(conn->ch, head->data + conn->out_off,
                                    head->len - conn->out_off, &err);
        if (n == VH_CHANNEL_ERR_BLOCK) {
            if (!conn->out_watch) {
                conn->out_watch = vh_channel_create_watch(conn->ch, G_IO_OUT);
                g_source_set_callback(conn->out_watch, G_SOURCE_FUNC(out_ready),
                                      conn, NULL);
                g_source_attach(conn->out_watch, conn->srv->ctx);
            }
            return;
        }
        if (n < 0) {
            g_autofree char *why =
                g_strdup_printf("write failed: %s", err->message);
            vh_rpc_conn_close_now(conn, why);
            return;
        }
        conn->out_off += n;
        if (conn->out_off == head->len) {
            g_mutex_lock(&conn->lock);
            g_queue_pop_head(&conn->outq);
            conn->out_bytes -= head->len;
            g_mutex_unlock(&conn->lock);
            g_byte_array_unref(head);
            conn->out_off = 0;
        }
    }
    destroy_source(&conn->out_watch);
    g_mutex_lock(&conn->lock);
    bool close = conn->closing && !conn->closed;
    g_mutex_unlock(&conn->lock);
    if (close) {
        vh_rpc_conn_close_now(conn, NULL);
        return;
    }
    vh_rpc_stream_resume_all(conn);
}

/* ---- reading ---- */

static gboolean in_ready(VhChannel *ch, GIOCondition cond, gpointer opaque);

static void watch_input(VhRpcConn *conn)
{
    conn->in_watch = vh_channel_create_watch(conn->ch, G_IO_IN);
    g_source_set_callback(conn->in_watch, G_SOURCE_FUNC(in_ready), conn, NULL);
    /*
     * in_ready() never iterates the context, so GLib need not block the
     * watch around each dispatch: unblocking re-adds its fd and writes the
     * context's eventfd, two writes, a read and a spare poll per call.
     */
    g_source_set_can_recurse(conn->in_watch, TRUE);
    g_source_attach(conn->in_watch, conn->srv->ctx);
}

void vh_rpc_conn_pause_input(VhRpcConn *conn, bool pause)
{
    if (pause) {
        if (conn->rx_pauses++ == 0) {
            destroy_source(&conn->in_watch);
        }
        return;
    }
    if (conn->rx_pauses && --conn->rx_pauses == 0 && !conn->closed &&
        !conn->in_watch) {
        /* the client could not be heard while paused: that time is not
         * silence (ka_tick), its keepalive count starts afresh */
        conn->last_rx_us = g_get_monotonic_time();
        conn->pings = 0;
        watch_input(conn);
    }
}

static gboolean in_ready(VhChannel *ch, GIOCondition cond, gpointer opaque)
{
    VhRpcConn *conn = opaque;
    g_autoptr(VhRpcConn) hold = vh_rpc_conn_ref(conn);

    /* in_watch goes when a stream pauses our input */
    for (int i = 0; i < READS_PER_WAKEUP && !conn->closed && conn->in_watch;
         i++) {
        g_autoptr(GError) err = NULL;
        gssize n;

        if (conn->rx_have < 4) {
            n = vh_channel_read(ch, conn->lenbuf + conn->rx_have,
                                4 - conn->rx_have, &err);
        } else {
            n = vh_channel_read(ch, conn->rx + conn->rx_have,
                                conn->rx_len - conn->rx_have, &err);
        }
        if (n == VH_CHANNEL_ERR_BLOCK) {
            break;
        }
        if (n == 0) {
            vh_rpc_conn_close_now(
                conn, conn->rx_have ? "end of file inside a packet" : NULL);
            break;
        }
        if (n < 0) {
            g_autofree char *why =
                g_strdup_printf("read failed: %s", err->message);
            vh_rpc_conn_close_now(conn, why);
            break;
        }
        conn->rx_have += n;
        if (conn->rx_have == 4) {
            if (!vh_rpc_packet_check_length(conn->lenbuf, &conn->rx_len,
                                            &err)) {
                g_autofree char *why =
                    g_strdup_printf("framing error: %s", err->message);
                vh_rpc_conn_close_now(conn, why);
                break;
            }
            conn->rx = g_malloc(conn->rx_len);
            memcpy(conn->rx, conn->lenbuf, 4);
        } else if (conn->rx_have > 4 && conn->rx_have == conn->rx_len) {
            guint8 *pkt = g_steal_pointer(&conn->rx);
            guint32 len = conn->rx_len;
            conn->rx_have = 0;
            conn_process(conn, pkt, len);
            /*
             * A TLS channel holding nothing more took all the socket had
             * at its last read: reading on would, call after call, only
             * meet would-block (one recvmsg of five syscalls per call).
             * The watch reports what comes next.
             */
            if (vh_channel_get_read_ahead(ch) == 0) {
                break;
            }
        }
    }
    if (conn->flush_now && !conn->closed) {
        conn->flush_now = false;
        conn_flush(conn);
    }
    return G_SOURCE_CONTINUE;
}

/* ---- keepalive and idle ---- */

static void send_keepalive(VhRpcConn *conn, guint32 proc)
{
    vh_rpc_conn_send_message(conn, VH_RPC_KEEPALIVE_PROGRAM,
                             VH_RPC_KEEPALIVE_VERSION, proc, NULL);
}

static gboolean ka_tick(gpointer opaque)
{
    VhRpcConn *conn = opaque;
    VhRpcServerConfig *cfg = &conn->srv->cfg;
    gint64 idle_ms = (g_get_monotonic_time() - conn->last_rx_us) / 1000;

    if (idle_ms + 5 < cfg->keepalive_interval_ms) {
        return G_SOURCE_CONTINUE;
    }
    if (conn->rx_pauses) {
        /* a stream paused our input (its channel is behind): the PONGs
         * wait unread behind the stream's data, so no ping is counted; we
         * still ping, and the client hears that we are alive */
        send_keepalive(conn, VH_RPC_KEEPALIVE_PING);
        return G_SOURCE_CONTINUE;
    }
    if (conn->pings >= cfg->keepalive_count) {
        g_autofree char *why = g_strdup_printf(
            "no keepalive response from the client in %" G_GINT64_FORMAT
            " ms (%u pings)",
            idle_ms, conn->pings);
        vh_rpc_conn_close_now(conn, why);
        return G_SOURCE_CONTINUE; /* close_now destroyed this source */
    }
    conn->pings++;
    send_keepalive(conn, VH_RPC_KEEPALIVE_PING);
    return G_SOURCE_CONTINUE;
}

static void start_keepalive_cb(VhRpcConn *conn)
{
    guint ms = conn->srv->cfg.keepalive_interval_ms;

    if (conn->keepalive || conn->closed || ms == 0) {
        return;
    }
    conn->keepalive = true;
    conn->ka_timer = g_timeout_source_new(ms);
    g_source_set_callback(conn->ka_timer, ka_tick, conn, NULL);
    g_source_attach(conn->ka_timer, conn->srv->ctx);
}

void vh_rpc_conn_start_keepalive(VhRpcConn *conn)
{
    vh_rpc_conn_invoke(conn, start_keepalive_cb);
}

static gboolean idle_expired(gpointer opaque)
{
    VhRpcConn *conn = opaque;
    g_autofree char *why = g_strdup_printf("sent no packet in %u ms",
                                           conn->srv->cfg.idle_timeout_ms);

    vh_rpc_conn_close_now(conn, why);
    return G_SOURCE_CONTINUE;
}

/* ---- dispatch ---- */

GByteArray *vh_rpc_error_packet(const VhRpcHeader *hdr, guint32 type,
                                const GError *err, int vir_domain)
{
    VhRpcHeader h = *hdr;

    h.type = type;
    h.status = VH_RPC_ERROR;
    GByteArray *pkt = vh_rpc_packet_new(&h);
    vh_rpc_error_encode(pkt, err, vir_domain);
    if (!vh_rpc_packet_fits(pkt)) {
        /* a 4 MiB message could not do this, but stay safe */
        g_byte_array_set_size(pkt, VH_RPC_PACKET_MIN);
        GError short_err = {VH_VIR_ERROR, err->code,
                            (char *)"error message too long"};
        vh_rpc_error_encode(pkt, &short_err, vir_domain);
    }
    vh_rpc_packet_finish(pkt);
    return pkt;
}

static void reply_error(VhRpcConn *conn, const VhRpcHeader *hdr, int code,
                        const char *fmt, ...) G_GNUC_PRINTF(4, 5);

static void reply_error(VhRpcConn *conn, const VhRpcHeader *hdr, int code,
                        const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    g_autoptr(GError) err = g_error_new_valist(VH_VIR_ERROR, code, fmt, ap);
    va_end(ap);
    g_info("client %s: serial %u proc %u: %s", conn->identity, hdr->serial,
           hdr->proc, err->message);
    vh_rpc_conn_queue(
        conn, vh_rpc_error_packet(hdr, VH_RPC_REPLY, err, VH_VIR_FROM_RPC));
}

static void call_free(VhRpcCall *call)
{
    g_clear_object(&call->stream);
    vh_rpc_conn_unref(call->conn);
    g_free(call->pkt);
    g_free(call);
}

typedef struct {
    VhRpcConn *conn;
    VhRpcHeader hdr;
    VhChannel *ch;
    GByteArray *reply;
} StreamStart;

static gboolean stream_start_cb(gpointer opaque)
{
    StreamStart *ss = opaque;

    /* the reply and the stream's registration happen together on this
     * thread, so the client's first STREAM packet finds the stream */
    if (!ss->conn->closed) {
        vh_rpc_conn_queue(ss->conn, g_steal_pointer(&ss->reply));
        vh_rpc_stream_start(ss->conn, &ss->hdr, ss->ch);
    } else {
        vh_channel_close(ss->ch, NULL);
    }
    return G_SOURCE_REMOVE;
}

static void stream_start_free(gpointer opaque)
{
    StreamStart *ss = opaque;

    g_object_unref(ss->ch);
    if (ss->reply) {
        g_byte_array_unref(ss->reply);
    }
    vh_rpc_conn_unref(ss->conn);
    g_free(ss);
}

/* Run @call's handler; the reply or error packet (finished). */
static GByteArray *call_run(VhRpcCall *call)
{
    VhRpcHeader rh = call->hdr;
    g_autoptr(GError) err = NULL;

    rh.type = VH_RPC_REPLY;
    rh.status = VH_RPC_OK;
    GByteArray *pkt = vh_rpc_packet_new(&rh);
    VhXdrReader args = VH_XDR_READER_INIT(call->pkt, call->len);
    args.pos = VH_RPC_PACKET_MIN;

    bool ok = call->proc->handler(call, &args, pkt, &err);
    if (ok && args.pos != args.len) {
        g_critical("procedure %s left %" G_GSIZE_FORMAT " argument bytes",
                   call->proc->name, args.len - args.pos);
    }
    if (ok && !vh_rpc_packet_fits(pkt)) {
        ok = false;
        g_set_error(&err, VH_VIR_ERROR, VH_VIR_ERR_RPC,
                    "reply to %s of %u bytes exceeds the maximum message "
                    "size",
                    call->proc->name, pkt->len);
    }
    if (!ok) {
        if (!err) {
            g_critical("procedure %s failed without an error",
                       call->proc->name);
            err = g_error_new(VH_VIR_ERROR, VH_VIR_ERR_INTERNAL_ERROR,
                              "internal error: %s failed", call->proc->name);
        }
        g_byte_array_unref(pkt);
        pkt = vh_rpc_error_packet(&call->hdr, VH_RPC_REPLY, err,
                                  call->prog->error_domain);
        g_clear_object(&call->stream);
    } else {
        vh_rpc_packet_finish(pkt);
    }
    return pkt;
}

static void worker(gpointer data, gpointer opaque)
{
    VhRpcCall *call = data;
    GByteArray *pkt = call_run(call);

    if (call->stream) {
        StreamStart *ss = g_new0(StreamStart, 1);
        ss->conn = vh_rpc_conn_ref(call->conn);
        ss->hdr = call->hdr;
        ss->ch = g_steal_pointer(&call->stream);
        ss->reply = pkt;
        g_autoptr(GSource) src = g_idle_source_new();
        g_source_set_priority(src, G_PRIORITY_DEFAULT);
        g_source_set_callback(src, stream_start_cb, ss, stream_start_free);
        g_source_attach(src, call->conn->srv->ctx);
    } else {
        vh_rpc_conn_queue(call->conn, pkt);
    }
    call_free(call);
}

VhRpcConn *vh_rpc_call_get_conn(VhRpcCall *call)
{
    return call->conn;
}

const VhRpcHeader *vh_rpc_call_get_header(VhRpcCall *call)
{
    return &call->hdr;
}

void vh_rpc_call_attach_stream(VhRpcCall *call, VhChannel *ch)
{
    g_set_object(&call->stream, ch);
}

static const VhRpcProgram *find_program(VhRpcServer *srv, guint32 prog,
                                        guint32 vers)
{
    for (guint i = 0; i < srv->programs->len; i++) {
        const VhRpcProgram *p = g_ptr_array_index(srv->programs, i);
        if (p->prog == prog && p->vers == vers) {
            return p;
        }
    }
    return NULL;
}

static const VhRpcProc *find_proc(const VhRpcProgram *p, guint32 proc)
{
    for (gsize i = 0; i < p->n_procs; i++) {
        if (p->procs[i].proc == proc) {
            return &p->procs[i];
        }
    }
    return NULL;
}

/* libvirt's API name for a procedure name: DOMAIN_DEFINE_XML_FLAGS ->
 * virDomainDefineXMLFlags (its messages name the API, not the call). */
static char *api_name(const char *proc)
{
    static const char *const acronyms[] = {"XML", "UUID", "ID", "URI"};
    g_auto(GStrv) words = g_strsplit(proc, "_", -1);
    GString *out = g_string_new("vir");

    for (int i = 0; words[i]; i++) {
        bool acronym = false;
        for (gsize j = 0; j < G_N_ELEMENTS(acronyms); j++) {
            acronym |= strcmp(words[i], acronyms[j]) == 0;
        }
        if (acronym || !words[i][0]) {
            g_string_append(out, words[i]);
            continue;
        }
        g_string_append_c(out, words[i][0]);
        g_autofree char *rest = g_ascii_strdown(words[i] + 1, -1);
        g_string_append(out, rest);
    }
    return g_string_free(out, FALSE);
}

/* The procedure a CALL names, or NULL with the error for the client. */
static const VhRpcProc *check_call(VhRpcConn *conn, const VhRpcHeader *hdr,
                                   const VhRpcProgram **progp, GError **errp)
{
    VhRpcServer *srv = conn->srv;
    const VhRpcProgram *prog = find_program(srv, hdr->prog, hdr->vers);
    const VhRpcProc *proc = prog ? find_proc(prog, hdr->proc) : NULL;

    if (conn->refused) {
        g_set_error(errp, VH_VIR_ERROR, VH_VIR_ERR_RPC,
                    "Too many active clients (%u), dropping connection",
                    srv->cfg.max_clients);
    } else if (!prog) {
        g_set_error(errp, VH_VIR_ERROR, VH_VIR_ERR_RPC,
                    "Cannot find program %u version %u", hdr->prog, hdr->vers);
    } else if (hdr->status != VH_RPC_OK) {
        g_set_error(errp, VH_VIR_ERROR, VH_VIR_ERR_RPC,
                    "Unexpected message status %u in a call", hdr->status);
    } else if (!proc) {
        g_set_error(errp, VH_VIR_ERROR, VH_VIR_ERR_NO_SUPPORT,
                    "unknown procedure: %u", hdr->proc);
    } else if (!(proc->flags & VH_RPC_PROC_BEFORE_OPEN) &&
               !vh_rpc_conn_is_open(conn)) {
        g_set_error(errp, VH_VIR_ERROR, VH_VIR_ERR_INTERNAL_ERROR,
                    "internal error: connection not open");
    } else if ((proc->flags & VH_RPC_PROC_WRITE) &&
               vh_rpc_conn_is_readonly(conn)) {
        g_autofree char *api = api_name(proc->name);
        g_set_error(errp, VH_VIR_ERROR, VH_VIR_ERR_OPERATION_DENIED,
                    "operation forbidden: read only access prevents %s", api);
    } else {
        *progp = prog;
        return proc;
    }
    return NULL;
}

static VhRpcCall *call_new(VhRpcConn *conn, const VhRpcProgram *prog,
                           const VhRpcProc *proc, const VhRpcHeader *hdr,
                           guint8 *pkt, guint32 len)
{
    VhRpcCall *call = g_new0(VhRpcCall, 1);

    call->conn = vh_rpc_conn_ref(conn);
    call->prog = prog;
    call->proc = proc;
    call->hdr = *hdr;
    call->pkt = pkt;
    call->len = len;
    return call;
}

static void dispatch_call(VhRpcConn *conn, const VhRpcHeader *hdr, guint8 *pkt,
                          guint32 len)
{
    g_autoptr(GError) err = NULL;
    const VhRpcProgram *prog = NULL;
    const VhRpcProc *proc = check_call(conn, hdr, &prog, &err);

    if (!proc) {
        /* a procedure we lack is worth an operator's notice: it names
         * what a client needed */
        if (g_error_matches(err, VH_VIR_ERROR, VH_VIR_ERR_NO_SUPPORT)) {
            g_message("client %s: %s (program %#x)", conn->identity,
                      err->message, hdr->prog);
        } else {
            g_info("client %s: serial %u proc %u: %s", conn->identity,
                   hdr->serial, hdr->proc, err->message);
        }
        vh_rpc_conn_queue(
            conn, vh_rpc_error_packet(hdr, VH_RPC_REPLY, err, VH_VIR_FROM_RPC));
        if (conn->refused) {
            vh_rpc_conn_close(conn);
        }
        g_free(pkt);
        return;
    }
    VhRpcCall *call = call_new(conn, prog, proc, hdr, pkt, len);
    if (!(proc->flags & VH_RPC_PROC_INLINE)) {
        g_thread_pool_push(conn->srv->pool, call, NULL);
        return;
    }
    GByteArray *reply = call_run(call);
    if (call->stream) {
        g_critical("inline procedure %s attached a stream", proc->name);
        vh_channel_close(call->stream, NULL);
    }
    call_free(call);
    conn_queue(conn, reply, true);
}

GByteArray *vh_rpc_conn_dispatch_sync(VhRpcConn *conn, const guint8 *data,
                                      gsize len, GError **errp)
{
    VhXdrReader r = VH_XDR_READER_INIT(data, len);
    VhRpcHeader hdr;
    g_autoptr(GError) err = NULL;

    if (!vh_rpc_packet_decode_header(&r, &hdr, errp)) {
        return NULL;
    }
    switch (hdr.type) {
    case VH_RPC_CALL: {
        const VhRpcProgram *prog = NULL;
        const VhRpcProc *proc = check_call(conn, &hdr, &prog, &err);
        if (!proc) {
            return vh_rpc_error_packet(&hdr, VH_RPC_REPLY, err,
                                       VH_VIR_FROM_RPC);
        }
        VhRpcCall *call =
            call_new(conn, prog, proc, &hdr, g_memdup2(data, len), len);
        GByteArray *pkt = call_run(call);
        if (call->stream) {
            vh_channel_close(call->stream, NULL);
        }
        call_free(call);
        return pkt;
    }
    case VH_RPC_MESSAGE:
        if (hdr.prog == VH_RPC_KEEPALIVE_PROGRAM &&
            hdr.proc == VH_RPC_KEEPALIVE_PING) {
            VhRpcHeader h = {VH_RPC_KEEPALIVE_PROGRAM,
                             VH_RPC_KEEPALIVE_VERSION,
                             VH_RPC_KEEPALIVE_PONG,
                             VH_RPC_MESSAGE,
                             0,
                             VH_RPC_OK};
            GByteArray *pong = vh_rpc_packet_new(&h);
            vh_rpc_packet_finish(pong);
            return pong;
        }
        return NULL;
    case VH_RPC_STREAM:
        if (hdr.status != VH_RPC_CONTINUE) {
            return NULL;
        }
        err = g_error_new(VH_VIR_ERROR, VH_VIR_ERR_RPC,
                          "stream data for serial %u, which has no open "
                          "stream",
                          hdr.serial);
        break;
    default:
        err = g_error_new(VH_VIR_ERROR, VH_VIR_ERR_RPC,
                          "unexpected message type %u from a client", hdr.type);
        break;
    }
    return vh_rpc_error_packet(&hdr, VH_RPC_REPLY, err, VH_VIR_FROM_RPC);
}

static void conn_process(VhRpcConn *conn, guint8 *pkt, guint32 len)
{
    g_autoptr(GError) err = NULL;
    VhXdrReader r = VH_XDR_READER_INIT(pkt, len);
    VhRpcHeader hdr;

    if (!vh_rpc_packet_decode_header(&r, &hdr, &err)) {
        g_autofree char *why =
            g_strdup_printf("framing error: %s", err->message);
        g_free(pkt);
        vh_rpc_conn_close_now(conn, why);
        return;
    }
    conn->last_rx_us = g_get_monotonic_time();
    conn->pings = 0;
    destroy_source(&conn->idle_timer);

    switch (hdr.type) {
    case VH_RPC_CALL:
        dispatch_call(conn, &hdr, pkt, len);
        return;
    case VH_RPC_MESSAGE:
        if (hdr.prog == VH_RPC_KEEPALIVE_PROGRAM &&
            hdr.vers == VH_RPC_KEEPALIVE_VERSION &&
            hdr.proc == VH_RPC_KEEPALIVE_PING) {
            send_keepalive(conn, VH_RPC_KEEPALIVE_PONG);
        } else if (!(hdr.prog == VH_RPC_KEEPALIVE_PROGRAM &&
                     hdr.proc == VH_RPC_KEEPALIVE_PONG)) {
            g_info("client %s: ignoring message prog %#x proc %u",
                   conn->identity, hdr.prog, hdr.proc);
        }
        break;
    case VH_RPC_STREAM: {
        VhRpcStream *st =
            g_hash_table_lookup(conn->streams, GUINT_TO_POINTER(hdr.serial));
        if (st) {
            vh_rpc_stream_packet(conn, st, &hdr, pkt + r.pos, len - r.pos);
        } else if (hdr.status == VH_RPC_CONTINUE) {
            reply_error(conn, &hdr, VH_VIR_ERR_RPC,
                        "stream data for serial %u, which has no open "
                        "stream",
                        hdr.serial);
        }
        /* a late OK or ERROR for a stream that is gone is normal */
        break;
    }
    case VH_RPC_CALL_WITH_FDS:
        reply_error(conn, &hdr, VH_VIR_ERR_NO_SUPPORT,
                    "passing file descriptors is not supported");
        break;
    case VH_RPC_REPLY:
    case VH_RPC_REPLY_WITH_FDS:
        reply_error(conn, &hdr, VH_VIR_ERR_RPC,
                    "unexpected reply (serial %u) from a client", hdr.serial);
        break;
    default:
        reply_error(conn, &hdr, VH_VIR_ERR_RPC,
                    "unexpected message type %u from a client", hdr.type);
        break;
    }
    g_free(pkt);
}

/* ---- the server ---- */

VhRpcServer *vh_rpc_server_new(const VhRpcServerConfig *cfg, GMainContext *ctx)
{
    VhRpcServer *srv = g_new0(VhRpcServer, 1);

    srv->cfg = *cfg;
    if (!srv->cfg.max_queue_bytes) {
        srv->cfg.max_queue_bytes = VH_RPC_QUEUE_MAX_DEFAULT;
    }
    srv->ctx = g_main_context_ref(ctx ? ctx : g_main_context_default());
    srv->pool =
        g_thread_pool_new(worker, srv, MAX(cfg->max_workers, 1), FALSE, NULL);
    srv->programs = g_ptr_array_new();
    srv->conns = g_ptr_array_new();
    g_mutex_init(&srv->lock);
    return srv;
}

void vh_rpc_server_set_hooks(VhRpcServer *srv, const VhRpcServerHooks *hooks,
                             gpointer opaque)
{
    srv->hooks = *hooks;
    srv->hooks_opaque = opaque;
}

void vh_rpc_server_add_program(VhRpcServer *srv, const VhRpcProgram *prog)
{
    g_ptr_array_add(srv->programs, (gpointer)prog);
}

VhRpcConn *vh_rpc_server_add_client(VhRpcServer *srv, VhChannel *ch, bool tls,
                                    bool readonly, const char *identity)
{
    VhRpcConn *conn = g_new0(VhRpcConn, 1);
    g_autoptr(GError) err = NULL;

    conn->ref = 1; /* the server's list */
    conn->srv = srv;
    conn->ch = g_object_ref(ch);
    conn->identity = g_strdup(identity ? identity : vh_channel_get_name(ch));
    conn->readonly = readonly;
    conn->last_rx_us = g_get_monotonic_time();
    conn->streams = g_hash_table_new_full(NULL, NULL, NULL, vh_rpc_stream_free);
    g_mutex_init(&conn->lock);
    g_queue_init(&conn->outq);

    g_mutex_lock(&srv->lock);
    if (srv->shut_down) {
        conn->closed = true;
    } else {
        g_ptr_array_add(srv->conns, conn);
        if (srv->cfg.max_clients && srv->n_active >= srv->cfg.max_clients) {
            conn->refused = true;
        } else {
            srv->n_active++;
            conn->counted = true;
        }
    }
    g_mutex_unlock(&srv->lock);
    if (conn->closed) {
        vh_channel_close(ch, NULL);
        vh_rpc_conn_unref(conn);
        return NULL;
    }
    if (conn->refused) {
        g_message("client %s: too many active clients (%u), refusing it",
                  conn->identity, srv->cfg.max_clients);
    }
    if (!vh_channel_set_blocking(ch, false, &err)) {
        g_warning("client %s: %s", conn->identity, err->message);
    }
    if (srv->hooks.conn_added) {
        srv->hooks.conn_added(conn, srv->hooks_opaque);
    }
    if (tls) {
        /* libvirt's clients wait for this byte after the handshake */
        GByteArray *one = g_byte_array_new();
        g_byte_array_append(one, (const guint8 *)"\1", 1);
        vh_rpc_conn_queue(conn, one);
    }
    watch_input(conn);
    if (srv->cfg.idle_timeout_ms) {
        conn->idle_timer = g_timeout_source_new(srv->cfg.idle_timeout_ms);
        g_source_set_callback(conn->idle_timer, idle_expired, conn, NULL);
        g_source_attach(conn->idle_timer, srv->ctx);
    }
    return conn;
}

guint vh_rpc_server_get_n_clients(VhRpcServer *srv)
{
    g_mutex_lock(&srv->lock);
    guint n = srv->conns->len;
    g_mutex_unlock(&srv->lock);
    return n;
}

static GPtrArray *conns_snapshot(VhRpcServer *srv)
{
    GPtrArray *all =
        g_ptr_array_new_with_free_func((GDestroyNotify)vh_rpc_conn_unref);

    g_mutex_lock(&srv->lock);
    for (guint i = 0; i < srv->conns->len; i++) {
        g_ptr_array_add(all, vh_rpc_conn_ref(srv->conns->pdata[i]));
    }
    g_mutex_unlock(&srv->lock);
    return all;
}

void vh_rpc_server_shutdown(VhRpcServer *srv)
{
    g_mutex_lock(&srv->lock);
    bool done = srv->shut_down;
    srv->shut_down = true;
    g_mutex_unlock(&srv->lock);
    if (done) {
        return;
    }
    g_autoptr(GPtrArray) all = conns_snapshot(srv);
    for (guint i = 0; i < all->len; i++) {
        VhRpcConn *conn = all->pdata[i];
        destroy_source(&conn->in_watch);
        g_hash_table_remove_all(conn->streams);
    }
    /* running calls finish; then nothing queues work any more */
    g_thread_pool_free(srv->pool, FALSE, TRUE);
    srv->pool = NULL;
    for (guint i = 0; i < all->len; i++) {
        VhRpcConn *conn = all->pdata[i];
        conn_flush(conn);
        vh_rpc_conn_close_now(conn, NULL);
    }
    /* run the idle callbacks that still hold connections */
    if (g_main_context_acquire(srv->ctx)) {
        for (int i = 0; i < 100; i++) {
            if (!g_main_context_iteration(srv->ctx, FALSE)) {
                break;
            }
        }
        g_main_context_release(srv->ctx);
    }
}

void vh_rpc_server_free(VhRpcServer *srv)
{
    if (!srv) {
        return;
    }
    vh_rpc_server_shutdown(srv);
    g_ptr_array_unref(srv->conns);
    g_ptr_array_unref(srv->programs);
    g_mutex_clear(&srv->lock);
    g_main_context_unref(srv->ctx);
    g_free(srv);
}
