/*
 * -chardev socket: see char-socket.h for the contract. The state of one
 * connection (being set up, then open) lives in the VhChardevSocket; a
 * generation number tells callbacks of an abandoned connection apart.
 */
#include "chardev-internal.h"
#include "telnet.h"
#include "vmhost/chardev/char-socket.h"
#include "vmhost/io/address.h"
#include "vmhost/io/channel-socket.h"
#include "vmhost/io/channel-tls.h"
#include "vmhost/io/net-listener.h"
#include "vmhost/io/tls-accept.h"
#include "vmhost/object/object.h"

#include <gio/gunixsocketaddress.h>
#include <string.h>
#include <unistd.h>

struct _VhChardevSocket {
    VhChardev parent;

    /* options */
    char *host, *port, *path;
    bool abstract, server, wait, nodelay, telnet, ipv4, ipv6;
    gint64 reconnect_ms;
    char *tls_creds, *tls_authz;
    guint hs_timeout_ms;

    GSocketAddress *addr; /* client: where to connect */
    char *addr_text;      /* "tcp:127.0.0.1:9000" or "unix:/p" */
    VhNetListener *listener;
    VhTlsAccept *tls_accept;  /* server with TLS: the pending handshakes */
    VhTlsCreds *accept_creds; /* the creds tls_accept was made with */
    GQueue ready;             /* Ready: through TLS, waiting for the chardev */
    GSource *ready_idle;      /* hands the first of them over */

    /* the current connection */
    guint gen;
    VhChannelSocket *sioc;
    VhChannel *ioc; /* sioc, or the TLS channel over it */
    char *peer;
    bool handshaking;
    GCancellable *cancel; /* connect or handshake in progress */
    GSource *read_src;
    GSource *write_src;
    GSource *hup_idle;
    GByteArray *outbuf;
    GArray *msgfds; /* fds received with SCM_RIGHTS, oldest first */
    bool drop_reported;
    char *lost_reason; /* why the open connection ends, for the notice */
    VhTelnet tn;

    /* client */
    GSource *reconnect_timer;
    bool failed; /* a client without reconnect lost its connection */
};

G_DEFINE_FINAL_TYPE(VhChardevSocket, vh_chardev_socket, VH_TYPE_CHARDEV)

static const char *id_of(VhChardevSocket *s)
{
    return vh_chardev_get_id(VH_CHARDEV(s));
}

static GMainContext *ctx_of(VhChardevSocket *s)
{
    return vh_chardev_get_context(VH_CHARDEV(s));
}

static void destroy_source(GSource **src)
{
    if (*src) {
        g_source_destroy(*src);
        g_clear_pointer(src, g_source_unref);
    }
}

/*
 * @err's message without a leading "chardev ID: " (the channel carries our
 * name, and record_error adds it again).
 */
static const char *reason(VhChardevSocket *s, const GError *err)
{
    g_autofree char *prefix = g_strdup_printf("chardev %s: ", id_of(s));
    const char *msg = err->message;

    while (g_str_has_prefix(msg, prefix)) {
        msg += strlen(prefix);
    }
    return msg;
}

static GSource *attach_timer(VhChardevSocket *s, guint ms, GSourceFunc fn)
{
    GSource *src = g_timeout_source_new(ms);

    g_source_set_callback(src, fn, s, NULL);
    g_source_attach(src, ctx_of(s));
    return src;
}

static void schedule_reconnect(VhChardevSocket *s);
static gboolean ready_idle_cb(gpointer opaque);
static bool flush_outbuf(VhChardevSocket *s);
static void start_connection(VhChardevSocket *s, VhChannelSocket *sioc);

/* ---- connection notices (chardev.h) ---- */

/* A notice about @peer, which need not be the current connection's. */
static void notify_peer(VhChardevSocket *s, const char *peer,
                        VhChardevNoticeKind kind, const char *why)
{
    VhChardevNotice n = {
        .kind = kind,
        .chr = VH_CHARDEV(s),
        .peer = peer ? peer : "(unknown peer)",
        .server = s->server,
        .reason = why,
    };

    if (kind == VH_CHARDEV_NOTICE_CONNECTED && VH_IS_CHANNEL_TLS(s->ioc)) {
        VhChannelTls *tls = VH_CHANNEL_TLS(s->ioc);

        n.tls_protocol = vh_channel_tls_get_protocol(tls);
        n.tls_cipher = vh_channel_tls_get_cipher(tls);
        n.tls_peer_dn = vh_channel_tls_get_peer_name(tls);
    }
    vh_chardev_notify(&n);
}

static void notify(VhChardevSocket *s, VhChardevNoticeKind kind,
                   const char *why)
{
    notify_peer(s, s->peer, kind, why);
}

/* The first reason given wins: it is the cause, later ones follow it. */
static void set_lost_reason(VhChardevSocket *s, const char *fmt, ...)
    G_GNUC_PRINTF(2, 3);

static void set_lost_reason(VhChardevSocket *s, const char *fmt, ...)
{
    va_list ap;

    if (s->lost_reason) {
        return;
    }
    va_start(ap, fmt);
    s->lost_reason = g_strdup_vprintf(fmt, ap);
    va_end(ap);
}

/* ---- tearing a connection down ---- */

/* Close the received fds nobody took. */
static void clear_msgfds(VhChardevSocket *s)
{
    for (guint i = 0; i < s->msgfds->len; i++) {
        close(g_array_index(s->msgfds, int, i));
    }
    g_array_set_size(s->msgfds, 0);
}

static void disconnect(VhChardevSocket *s)
{
    VhChardev *chr = VH_CHARDEV(s);
    bool was_open = s->ioc && !s->handshaking && vh_chardev_is_connected(chr);

    s->gen++;
    if (s->cancel) {
        g_cancellable_cancel(s->cancel);
        g_clear_object(&s->cancel);
    }
    destroy_source(&s->read_src);
    destroy_source(&s->write_src);
    destroy_source(&s->hup_idle);
    if (s->ioc && !s->handshaking) {
        /* a pending handshake holds the channel; its callback closes it */
        vh_channel_close(s->ioc, NULL);
    }
    s->handshaking = false;
    g_clear_object(&s->ioc);
    g_clear_object(&s->sioc);
    g_byte_array_set_size(s->outbuf, 0);
    clear_msgfds(s);
    vh_chardev_be_set_connected(chr, false);
    if (was_open) {
        notify(s, VH_CHARDEV_NOTICE_DISCONNECTED,
               s->lost_reason              ? s->lost_reason
               : vh_chardev_is_closed(chr) ? "chardev closed"
                                           : "closed");
    }
    g_clear_pointer(&s->peer, g_free);
    g_clear_pointer(&s->lost_reason, g_free);
    if (vh_chardev_is_closed(chr)) {
        return;
    }
    if (!g_queue_is_empty(&s->ready) && !s->ready_idle) {
        s->ready_idle = g_idle_source_new();
        g_source_set_callback(s->ready_idle, ready_idle_cb, s, NULL);
        g_source_attach(s->ready_idle, ctx_of(s));
    }
    if (s->listener) {
        vh_net_listener_resume_accepting(s->listener);
    } else if (s->reconnect_ms > 0) {
        schedule_reconnect(s);
    } else {
        s->failed = true;
    }
}

static gboolean hup_idle_cb(gpointer opaque)
{
    VhChardevSocket *s = opaque;

    g_clear_pointer(&s->hup_idle, g_source_unref);
    disconnect(s);
    return G_SOURCE_REMOVE;
}

/* Disconnect from the main loop, not from inside a frontend's call. */
static void disconnect_later(VhChardevSocket *s)
{
    if (!s->hup_idle) {
        s->hup_idle = g_idle_source_new();
        g_source_set_priority(s->hup_idle, G_PRIORITY_DEFAULT);
        g_source_set_callback(s->hup_idle, hup_idle_cb, s, NULL);
        g_source_attach(s->hup_idle, ctx_of(s));
    }
}

/* ---- reading: a watch gated by the frontend's can_read ---- */

typedef struct {
    GSource base;
    VhChardevSocket *s;
    GSource *child; /* the channel's G_IO_IN watch while can_read > 0 */
} ReadSource;

/*
 * Read, keeping the fds that came with the bytes (UNIX sockets without
 * TLS) for vh_chardev_socket_take_msgfd(): the frontend sees the bytes
 * right after, so a monitor's getfd finds the fd sent with it.
 */
static gssize sock_read(VhChardevSocket *s, VhChannel *ioc, guint8 *buf,
                        size_t len, GError **errp)
{
    struct iovec iov = {.iov_base = buf, .iov_len = len};
    g_autofree int *fds = NULL;
    size_t nfds = 0;
    gssize n;

    if (!vh_channel_has_feature(ioc, VH_CHANNEL_FEATURE_FD_PASS)) {
        return vh_channel_read(ioc, buf, len, errp);
    }
    n = vh_channel_readv_full(ioc, &iov, 1, &fds, &nfds, errp);
    if (nfds > 0) {
        /* A new batch replaces fds the frontend did not take. */
        clear_msgfds(s);
        g_array_append_vals(s->msgfds, fds, nfds);
    }
    return n;
}

static gboolean sock_readable(VhChannel *ioc, GIOCondition cond,
                              gpointer opaque)
{
    VhChardevSocket *s = opaque;
    VhChardev *chr = VH_CHARDEV(s);
    g_autoptr(GError) err = NULL;
    g_autoptr(GByteArray) reply = NULL;
    guint8 buf[4096];
    size_t want = MIN(vh_chardev_be_can_read(chr), sizeof(buf));
    gssize n;

    if (want == 0) {
        return G_SOURCE_CONTINUE;
    }
    n = sock_read(s, ioc, buf, want, &err);
    if (n == VH_CHANNEL_ERR_BLOCK) {
        return G_SOURCE_CONTINUE;
    }
    if (n <= 0) {
        if (n < 0) {
            vh_chardev_record_error(chr, "connection with %s lost: %s", s->peer,
                                    reason(s, err));
            set_lost_reason(s, "connection lost: %s", reason(s, err));
        } else {
            set_lost_reason(s, "closed by the peer");
        }
        /* stop reading now: the disconnect runs from an idle */
        destroy_source(&s->read_src);
        disconnect_later(s);
        return G_SOURCE_REMOVE;
    }
    if (s->telnet) {
        reply = g_byte_array_new();
        n = vh_telnet_filter(&s->tn, buf, n, reply);
        if (reply->len) {
            /* replies are protocol, not data: bypass IAC escaping */
            g_byte_array_append(s->outbuf, reply->data, reply->len);
            flush_outbuf(s);
        }
    }
    vh_chardev_be_read(chr, buf, n);
    return G_SOURCE_CONTINUE;
}

static gboolean read_prepare(GSource *src, gint *timeout)
{
    ReadSource *rs = (ReadSource *)src;
    bool want = vh_chardev_be_can_read(VH_CHARDEV(rs->s)) > 0;

    *timeout = -1;
    if (want && !rs->child) {
        rs->child = vh_channel_create_watch(rs->s->ioc, G_IO_IN);
        /* see add_read_source() */
        g_source_set_can_recurse(rs->child, TRUE);
        g_source_set_callback(
            rs->child, (GSourceFunc)(void (*)(void))sock_readable, rs->s, NULL);
        g_source_add_child_source(src, rs->child);
    } else if (!want && rs->child) {
        g_source_remove_child_source(src, rs->child);
        g_clear_pointer(&rs->child, g_source_unref);
    }
    return FALSE;
}

static gboolean read_dispatch(GSource *src, GSourceFunc cb, gpointer data)
{
    return G_SOURCE_CONTINUE;
}

static void read_finalize(GSource *src)
{
    ReadSource *rs = (ReadSource *)src;

    g_clear_pointer(&rs->child, g_source_unref);
}

static GSourceFuncs read_funcs = {
    .prepare = read_prepare,
    .dispatch = read_dispatch,
    .finalize = read_finalize,
};

static void add_read_source(VhChardevSocket *s)
{
    ReadSource *rs =
        (ReadSource *)g_source_new(&read_funcs, sizeof(ReadSource));

    rs->s = s;
    s->read_src = &rs->base;
    /*
     * Without can-recurse GLib "blocks" a source around each dispatch:
     * it removes the source's fds (and its children's) from the poll set
     * and adds them back, each an eventfd write; 4 syscalls per line read
     * over TCP, 6 over TLS (bench/chardev). Nothing iterates this context
     * from inside the read callbacks (vh_chardev_socket_wait_connected
     * runs only at startup), so there is no recursion to guard against.
     */
    g_source_set_can_recurse(s->read_src, TRUE);
    g_source_attach(s->read_src, ctx_of(s));
}

/* ---- writing ---- */

static gboolean sock_writable(VhChannel *ioc, GIOCondition cond,
                              gpointer opaque)
{
    VhChardevSocket *s = opaque;

    if (flush_outbuf(s) && s->outbuf->len == 0) {
        g_clear_pointer(&s->write_src, g_source_unref);
        return G_SOURCE_REMOVE;
    }
    return G_SOURCE_CONTINUE;
}

/* Send what the buffer holds; false after an error (disconnect queued). */
static bool flush_outbuf(VhChardevSocket *s)
{
    while (s->outbuf->len > 0) {
        g_autoptr(GError) err = NULL;
        gssize n =
            vh_channel_write(s->ioc, s->outbuf->data, s->outbuf->len, &err);
        if (n == VH_CHANNEL_ERR_BLOCK) {
            break;
        }
        if (n < 0) {
            vh_chardev_record_error(VH_CHARDEV(s), "writing to %s failed: %s",
                                    s->peer, reason(s, err));
            set_lost_reason(s, "writing failed: %s", reason(s, err));
            g_byte_array_set_size(s->outbuf, 0);
            disconnect_later(s);
            return false;
        }
        g_byte_array_remove_range(s->outbuf, 0, n);
    }
    if (s->outbuf->len > 0 && !s->write_src) {
        s->write_src = vh_channel_create_watch(s->ioc, G_IO_OUT);
        g_source_set_callback(
            s->write_src, (GSourceFunc)(void (*)(void))sock_writable, s, NULL);
        g_source_attach(s->write_src, ctx_of(s));
    }
    return true;
}

/* Queue @len bytes (already escaped); returns how many were taken. */
static size_t queue_output(VhChardevSocket *s, const guint8 *buf, size_t len)
{
    size_t room = VH_CHARDEV_SOCKET_OUTBUF_MAX -
                  MIN(s->outbuf->len, VH_CHARDEV_SOCKET_OUTBUF_MAX);
    size_t take = MIN(len, room);

    g_byte_array_append(s->outbuf, buf, take);
    if (take < len && !s->drop_reported) {
        s->drop_reported = true;
        vh_chardev_record_error(VH_CHARDEV(s),
                                "%s is not reading: output buffer full "
                                "(%d bytes), dropping output",
                                s->peer, VH_CHARDEV_SOCKET_OUTBUF_MAX);
    }
    flush_outbuf(s);
    return take;
}

static gssize sock_write(VhChardev *chr, const guint8 *buf, size_t len,
                         GError **errp)
{
    VhChardevSocket *s = VH_CHARDEV_SOCKET(chr);
    g_autofree guint8 *escaped = NULL;
    size_t elen = len;
    size_t taken;

    if (!s->ioc || s->handshaking) {
        return 0;
    }
    if (s->telnet) {
        escaped = vh_telnet_escape(buf, len, &elen);
        buf = escaped;
    }
    taken = queue_output(s, buf, elen);
    /* bytes dropped from the escaped stream, counted as input bytes */
    return taken == elen ? (gssize)len : (gssize)MIN(taken, len);
}

/* ---- setting a connection up ---- */

static void connection_open(VhChardevSocket *s)
{
    memset(&s->tn, 0, sizeof(s->tn));
    s->drop_reported = false;
    if (s->telnet && s->server) {
        size_t len;
        const guint8 *greeting = vh_telnet_greeting(&len);
        g_byte_array_append(s->outbuf, greeting, len);
        if (!flush_outbuf(s)) {
            return;
        }
    }
    add_read_source(s);
    vh_chardev_be_set_connected(VH_CHARDEV(s), true);
    notify(s, VH_CHARDEV_NOTICE_CONNECTED, NULL);
}

typedef struct {
    VhChardevSocket *s;
    guint gen;
} Pending;

static Pending *pending_new(VhChardevSocket *s)
{
    Pending *p = g_new(Pending, 1);

    p->s = g_object_ref(s);
    p->gen = s->gen;
    return p;
}

static void pending_free(Pending *p)
{
    g_object_unref(p->s);
    g_free(p);
}

/* The client's handshake ran out of time (vh_channel_tls_handshake_timeout). */
static void handshake_timed_out(VhChardevSocket *s)
{
    g_autofree char *why = g_strdup_printf(
        "TLS handshake timed out after %u ms", s->hs_timeout_ms);

    vh_chardev_record_error(VH_CHARDEV(s),
                            "TLS handshake with %s timed out after %u ms",
                            s->peer, s->hs_timeout_ms);
    notify(s, VH_CHARDEV_NOTICE_REFUSED, why);
    disconnect(s);
}

static void handshake_done(GObject *src, GAsyncResult *res, gpointer opaque)
{
    Pending *p = opaque;
    VhChardevSocket *s = p->s;
    VhChannelTls *tls = VH_CHANNEL_TLS(src);
    g_autoptr(GError) err = NULL;
    bool ok = vh_channel_tls_handshake_finish(tls, res, &err);

    if (p->gen != s->gen || vh_chardev_is_closed(VH_CHARDEV(s))) {
        /* abandoned (timed out, closed): the failure is already reported */
        vh_channel_close(VH_CHANNEL(tls), NULL);
        pending_free(p);
        return;
    }
    s->handshaking = false;
    g_clear_object(&s->cancel);
    if (g_error_matches(err, G_IO_ERROR, G_IO_ERROR_TIMED_OUT)) {
        handshake_timed_out(s);
    } else if (!ok) {
        vh_chardev_record_error(VH_CHARDEV(s),
                                "TLS handshake with %s refused: %s", s->peer,
                                reason(s, err));
        notify(s, VH_CHARDEV_NOTICE_REFUSED, reason(s, err));
        disconnect(s);
    } else {
        if (!s->nodelay) {
            vh_channel_set_delay(s->ioc, true);
        }
        connection_open(s);
    }
    pending_free(p);
}

static bool start_tls(VhChardevSocket *s, GError **errp)
{
    g_autoptr(VhTlsCreds) creds =
        vh_object_lookup_typed(s->tls_creds, VH_TYPE_TLS_CREDS, errp);
    VhChannelTls *tls;

    if (!creds) {
        return false;
    }
    /* A server's handshakes go through accept_tls_client(). */
    g_assert(!s->server);
    tls = vh_channel_tls_new_client(VH_CHANNEL(s->sioc), creds, s->host, errp);
    if (!tls) {
        return false;
    }
    vh_channel_set_name(VH_CHANNEL(tls), vh_channel_get_name(s->ioc));
    g_object_unref(s->ioc);
    s->ioc = VH_CHANNEL(tls);
    s->handshaking = true;
    s->cancel = g_cancellable_new();
    g_main_context_push_thread_default(ctx_of(s));
    vh_channel_tls_handshake_timeout(tls, s->hs_timeout_ms, s->cancel,
                                     handshake_done, pending_new(s));
    g_main_context_pop_thread_default(ctx_of(s));
    return true;
}

static char *peer_text(VhChardevSocket *s, VhChannelSocket *sioc)
{
    g_autoptr(GSocketAddress) remote =
        vh_channel_socket_get_remote_address(sioc, NULL);

    if (!remote) {
        return g_strdup("(unknown peer)");
    }
    if (G_IS_UNIX_SOCKET_ADDRESS(remote) && !s->server) {
        return g_strdup(s->addr_text);
    }
    return vh_socket_address_to_string(remote);
}

static void start_connection(VhChardevSocket *s, VhChannelSocket *sioc)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *name = NULL;

    s->sioc = g_object_ref(sioc);
    s->ioc = g_object_ref(VH_CHANNEL(sioc));
    s->peer = peer_text(s, sioc);
    name = g_strdup_printf("chardev %s", id_of(s));
    vh_channel_set_name(s->ioc, name);
    if (!vh_channel_set_blocking(s->ioc, false, &err)) {
        vh_chardev_record_error(VH_CHARDEV(s), "connection with %s: %s",
                                s->peer, reason(s, err));
        disconnect(s);
        return;
    }
    /*
     * A TLS handshake flight is several small records written one after
     * the other; with Nagle on, all but the first wait for the peer's
     * delayed ACK (40 ms on Linux). So the handshake always runs with
     * nodelay; handshake_done() restores Nagle unless nodelay=on.
     */
    if (s->nodelay || s->tls_creds) {
        vh_channel_set_delay(s->ioc, false);
    }
    if (!s->tls_creds) {
        connection_open(s);
        return;
    }
    if (!start_tls(s, &err)) {
        g_autofree char *why =
            g_strdup_printf("TLS not started: %s", reason(s, err));

        vh_chardev_record_error(VH_CHARDEV(s), "TLS with %s not started: %s",
                                s->peer, reason(s, err));
        notify(s, VH_CHARDEV_NOTICE_REFUSED, why);
        disconnect(s);
    }
}

/* ---- server ---- */

/* A client through its TLS handshake, waiting for a busy chardev. */
typedef struct {
    VhChannelTls *tls;
    char *peer;
} Ready;

static void ready_free(gpointer data)
{
    Ready *r = data;

    vh_channel_close(VH_CHANNEL(r->tls), NULL);
    g_object_unref(r->tls);
    g_free(r->peer);
    g_free(r);
}

/*
 * @tls (transfer full) becomes the connection. The chardev serves one
 * client at a time: the listener pauses until it ends; handshakes already
 * running go on, and those that finish meanwhile wait in s->ready.
 */
static void open_tls_connection(VhChardevSocket *s, VhChannelTls *tls,
                                const char *peer)
{
    if (s->listener) {
        vh_net_listener_stop_accepting(s->listener);
    }
    s->sioc = g_object_ref(VH_CHANNEL_SOCKET(vh_channel_tls_get_master(tls)));
    s->ioc = VH_CHANNEL(tls);
    s->peer = g_strdup(peer);
    if (!s->nodelay) {
        vh_channel_set_delay(s->ioc, true);
    }
    connection_open(s);
}

static gboolean ready_idle_cb(gpointer opaque)
{
    VhChardevSocket *s = opaque;

    g_clear_pointer(&s->ready_idle, g_source_unref);
    if (!s->sioc && !vh_chardev_is_closed(VH_CHARDEV(s)) &&
        !g_queue_is_empty(&s->ready)) {
        Ready *r = g_queue_pop_head(&s->ready);

        open_tls_connection(s, g_steal_pointer(&r->tls), r->peer);
        g_free(r->peer);
        g_free(r);
    }
    return G_SOURCE_REMOVE;
}

static void on_tls_accepted(VhChannelTls *tls, const char *peer,
                            const GError *err, gpointer opaque)
{
    VhChardevSocket *s = opaque;

    if (!tls) {
        bool timed_out = g_error_matches(err, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
        g_autofree char *why =
            timed_out ? g_strdup_printf("TLS handshake timed out after %u ms",
                                        s->hs_timeout_ms)
                      : g_strdup(reason(s, err));

        if (timed_out) {
            vh_chardev_record_error(VH_CHARDEV(s),
                                    "TLS handshake with %s "
                                    "timed out after %u ms",
                                    peer, s->hs_timeout_ms);
        } else {
            vh_chardev_record_error(
                VH_CHARDEV(s), "TLS handshake with %s refused: %s", peer, why);
        }
        notify_peer(s, peer, VH_CHARDEV_NOTICE_REFUSED, why);
        return;
    }
    if (s->sioc) {
        /* The chardev is busy: wait, as in QEMU's listen backlog. */
        Ready *r = g_new0(Ready, 1);

        r->tls = tls;
        r->peer = g_strdup(peer);
        g_queue_push_tail(&s->ready, r);
        g_debug("chardev %s: %s waits: a client is connected", id_of(s), peer);
        return;
    }
    open_tls_connection(s, tls, peer);
}

/* The acceptor for the current creds object (replaced when it was). */
static VhTlsAccept *tls_acceptor(VhChardevSocket *s, GError **errp)
{
    g_autoptr(VhTlsCreds) creds =
        vh_object_lookup_typed(s->tls_creds, VH_TYPE_TLS_CREDS, errp);

    if (!creds) {
        return NULL;
    }
    if (s->tls_accept && creds != s->accept_creds) {
        g_clear_pointer(&s->tls_accept, vh_tls_accept_free);
        g_clear_object(&s->accept_creds);
    }
    if (!s->tls_accept) {
        g_autofree char *what = g_strdup_printf("chardev %s", id_of(s));
        VhTlsAcceptOptions o = {
            .creds = creds,
            .authzid = s->tls_authz,
            .what = what,
            .timeout_ms = s->hs_timeout_ms,
            .max_pending = VH_CHARDEV_SOCKET_MAX_PENDING_HANDSHAKES,
            .ctx = ctx_of(s),
        };
        s->tls_accept = vh_tls_accept_new(&o, on_tls_accepted, s, NULL);
        s->accept_creds = g_object_ref(creds);
    }
    return s->tls_accept;
}

/*
 * A TLS client: its handshake runs beside the others' (tls-accept.h), so a
 * client that stalls in it holds up nobody. The handshake always runs with
 * nodelay (see start_connection()).
 */
static void accept_tls_client(VhChardevSocket *s, VhChannelSocket *client)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *peer = peer_text(s, client);
    g_autofree char *name = g_strdup_printf("chardev %s", id_of(s));
    VhTlsAccept *a;

    vh_channel_set_name(VH_CHANNEL(client), name);
    if (!vh_channel_set_blocking(VH_CHANNEL(client), false, &err) ||
        !(a = tls_acceptor(s, &err))) {
        g_autofree char *why =
            g_strdup_printf("TLS not started: %s", reason(s, err));

        vh_chardev_record_error(VH_CHARDEV(s), "TLS with %s not started: %s",
                                peer, reason(s, err));
        notify_peer(s, peer, VH_CHARDEV_NOTICE_REFUSED, why);
        vh_channel_close(VH_CHANNEL(client), NULL);
        return;
    }
    vh_channel_set_delay(VH_CHANNEL(client), false);
    if (!vh_tls_accept_add(a, VH_CHANNEL(client), peer, &err)) {
        /* over the cap, or no TLS session */
        vh_chardev_record_error(VH_CHARDEV(s), "%s", reason(s, err));
    }
}

static void on_client(VhNetListener *l, VhChannelSocket *client,
                      gpointer opaque)
{
    VhChardevSocket *s = opaque;

    if (s->sioc) {
        /* two listening sockets were ready in one iteration */
        g_autoptr(GSocketAddress) a =
            vh_channel_socket_get_remote_address(client, NULL);
        g_autofree char *peer = a ? vh_socket_address_to_string(a) : NULL;
        g_message("chardev %s: closing connection from %s: a client is "
                  "already connected",
                  id_of(s), peer ? peer : "(unknown)");
        vh_channel_close(VH_CHANNEL(client), NULL);
        return;
    }
    if (s->tls_creds) {
        accept_tls_client(s, client);
        return;
    }
    vh_net_listener_stop_accepting(l);
    start_connection(s, client);
}

static bool listen_tcp(VhChardevSocket *s, guint16 port, GError **errp)
{
    g_autolist(GObject) addrs = NULL;

    if (!s->ipv4 && !s->ipv6) {
        return vh_net_listener_open(s->listener, s->host, port, errp);
    }
    addrs = vh_socket_address_resolve(s->host, port, errp);
    if (!addrs) {
        return false;
    }
    for (GList *it = addrs; it; it = it->next) {
        GSocketFamily fam = g_socket_address_get_family(it->data);
        if ((fam == G_SOCKET_FAMILY_IPV4 && !s->ipv4) ||
            (fam == G_SOCKET_FAMILY_IPV6 && !s->ipv6)) {
            continue;
        }
        if (!vh_net_listener_open_address(s->listener, it->data, errp)) {
            return false;
        }
        if (port == 0) {
            /* the other family reuses the port the first bind picked */
            port = vh_net_listener_get_port(s->listener);
        }
    }
    if (vh_net_listener_get_sockets(s->listener)->len == 0) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "%s has no address of the requested family", s->host);
        return false;
    }
    return true;
}

static bool start_server(VhChardevSocket *s, guint16 port, GError **errp)
{
    bool ok;

    s->listener = vh_net_listener_new();
    if (s->path) {
        ok = vh_net_listener_open_address(s->listener, s->addr, errp);
    } else {
        ok = listen_tcp(s, port, errp);
    }
    if (!ok) {
        return false;
    }
    vh_net_listener_set_client_func(s->listener, on_client, s, NULL, ctx_of(s));
    return true;
}

/* ---- client ---- */

static void connect_done(GObject *src, GAsyncResult *res, gpointer opaque)
{
    Pending *p = opaque;
    VhChardevSocket *s = p->s;
    VhChannelSocket *sioc = VH_CHANNEL_SOCKET(src);
    g_autoptr(GError) err = NULL;
    bool ok = vh_channel_socket_connect_finish(sioc, res, &err);

    if (p->gen != s->gen || vh_chardev_is_closed(VH_CHARDEV(s))) {
        g_object_unref(sioc);
        pending_free(p);
        return;
    }
    g_clear_object(&s->cancel);
    if (!ok) {
        vh_chardev_record_error(VH_CHARDEV(s),
                                "connecting to %s failed: %s; retrying in "
                                "%" G_GINT64_FORMAT " ms",
                                s->addr_text, reason(s, err), s->reconnect_ms);
        schedule_reconnect(s);
    } else {
        start_connection(s, sioc);
    }
    g_object_unref(sioc);
    pending_free(p);
}

static void connect_async(VhChardevSocket *s)
{
    VhChannelSocket *sioc = vh_channel_socket_new();

    s->gen++;
    s->cancel = g_cancellable_new();
    g_main_context_push_thread_default(ctx_of(s));
    vh_channel_socket_connect_async(sioc, s->addr, s->cancel, connect_done,
                                    pending_new(s));
    g_main_context_pop_thread_default(ctx_of(s));
}

static gboolean reconnect_cb(gpointer opaque)
{
    VhChardevSocket *s = opaque;

    g_clear_pointer(&s->reconnect_timer, g_source_unref);
    connect_async(s);
    return G_SOURCE_REMOVE;
}

static void schedule_reconnect(VhChardevSocket *s)
{
    if (!s->reconnect_timer) {
        s->reconnect_timer =
            attach_timer(s, (guint)s->reconnect_ms, reconnect_cb);
    }
}

static bool start_client(VhChardevSocket *s, GError **errp)
{
    g_autoptr(VhChannelSocket) sioc = NULL;

    if (s->reconnect_ms > 0) {
        connect_async(s);
        return true;
    }
    sioc = vh_channel_socket_new();
    if (!vh_channel_socket_connect_sync(sioc, s->addr, errp)) {
        return false;
    }
    start_connection(s, sioc);
    return true;
}

/* ---- the class ---- */

static char *sock_describe(VhChardev *chr)
{
    VhChardevSocket *s = VH_CHARDEV_SOCKET(chr);
    const char *server = s->server ? ",server=on" : "";

    if (!vh_chardev_is_connected(chr)) {
        return g_strdup_printf("disconnected:%s%s", s->addr_text, server);
    }
    return g_strdup_printf("%s%s <-> %s", s->addr_text, server, s->peer);
}

static void sock_update_read_handler(VhChardev *chr)
{
    g_main_context_wakeup(vh_chardev_get_context(chr));
}

static void sock_close(VhChardev *chr)
{
    VhChardevSocket *s = VH_CHARDEV_SOCKET(chr);

    destroy_source(&s->reconnect_timer);
    disconnect(s);
    g_clear_pointer(&s->tls_accept, vh_tls_accept_free);
    g_clear_object(&s->accept_creds);
    destroy_source(&s->ready_idle);
    g_queue_clear_full(&s->ready, ready_free);
    if (s->listener) {
        vh_net_listener_set_client_func(s->listener, NULL, NULL, NULL, NULL);
        vh_net_listener_disconnect(s->listener);
        g_clear_object(&s->listener);
    }
}

static void vh_chardev_socket_finalize(GObject *obj)
{
    VhChardevSocket *s = VH_CHARDEV_SOCKET(obj);

    g_free(s->host);
    g_free(s->port);
    g_free(s->path);
    g_free(s->tls_creds);
    g_free(s->tls_authz);
    g_free(s->addr_text);
    g_free(s->lost_reason);
    g_clear_object(&s->addr);
    g_byte_array_unref(s->outbuf);
    clear_msgfds(s);
    g_array_unref(s->msgfds);
    G_OBJECT_CLASS(vh_chardev_socket_parent_class)->finalize(obj);
}

static void vh_chardev_socket_class_init(VhChardevSocketClass *klass)
{
    VhChardevClass *cc = VH_CHARDEV_CLASS(klass);

    G_OBJECT_CLASS(klass)->finalize = vh_chardev_socket_finalize;
    cc->write = sock_write;
    cc->describe = sock_describe;
    cc->close = sock_close;
    cc->update_read_handler = sock_update_read_handler;
}

static void vh_chardev_socket_init(VhChardevSocket *s)
{
    s->outbuf = g_byte_array_new();
    s->msgfds = g_array_new(false, false, sizeof(int));
}

bool vh_chardev_socket_check_fd_pass(VhChardevSocket *s, GError **errp)
{
    g_return_val_if_fail(VH_IS_CHARDEV_SOCKET(s), false);
    if (s->tls_creds) {
        g_set_error(errp, VH_ERROR, VH_ERROR_NOT_SUPPORTED,
                    "chardev %s is a TLS channel: file descriptors cannot be "
                    "passed over TLS",
                    id_of(s));
        return false;
    }
    if (s->sioc ? !vh_channel_has_feature(VH_CHANNEL(s->sioc),
                                          VH_CHANNEL_FEATURE_FD_PASS)
                : !s->path) {
        g_set_error(errp, VH_ERROR, VH_ERROR_NOT_SUPPORTED,
                    "chardev %s is not a UNIX socket: file descriptors pass "
                    "only over UNIX sockets",
                    id_of(s));
        return false;
    }
    return true;
}

int vh_chardev_socket_take_msgfd(VhChardevSocket *s)
{
    int fd;

    g_return_val_if_fail(VH_IS_CHARDEV_SOCKET(s), -1);
    if (s->msgfds->len == 0) {
        return -1;
    }
    fd = g_array_index(s->msgfds, int, 0);
    g_array_remove_index(s->msgfds, 0);
    return fd;
}

/* ---- options ---- */

static bool fail(GError **errp, const char *id, const char *msg)
{
    g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT, "chardev %s: %s", id,
                msg);
    return false;
}

/* The option rules of compat-qemu.md, before anything is opened. */
static bool check_options(const char *id, const VhChardevSocketOptions *o,
                          GError **errp)
{
    int kinds = (o->host || o->port) + (o->path != NULL) + (o->fd >= 0);

    if (kinds != 1) {
        return fail(errp, id,
                    "socket needs exactly one of host and port, path or fd");
    }
    if ((o->host || o->port) && !o->port) {
        return fail(errp, id, "socket with host needs port");
    }
    if (o->host == NULL && o->port && !o->server) {
        return fail(errp, id, "socket client needs host");
    }
    if (o->wait && !o->server) {
        return fail(errp, id,
                    "'wait' option is incompatible with socket in client "
                    "connect mode");
    }
    if (o->reconnect_ms > 0 && o->server) {
        return fail(errp, id,
                    "'reconnect-ms' option is incompatible with socket in "
                    "server listen mode");
    }
    if (o->reconnect_ms < 0 || o->reconnect_ms > G_MAXUINT) {
        return fail(errp, id, "'reconnect-ms' is out of range");
    }
    if (o->tls_authz && !o->tls_creds) {
        return fail(errp, id, "'tls-authz' option requires 'tls-creds' option");
    }
    if (o->tls_authz && !o->server) {
        return fail(errp, id, "'tls-authz' is only for a server");
    }
    if (o->tls_creds && o->path) {
        return fail(errp, id, "TLS can only be used over a TCP socket");
    }
    if (o->fd >= 0 && o->reconnect_ms > 0) {
        return fail(errp, id,
                    "'reconnect-ms' needs an address to reconnect to, not "
                    "an fd");
    }
    return true;
}

static bool check_creds(VhChardevSocket *s, GError **errp)
{
    g_autoptr(VhTlsCreds) creds = NULL;

    if (!s->tls_creds) {
        return true;
    }
    creds = vh_object_lookup_typed(s->tls_creds, VH_TYPE_TLS_CREDS, errp);
    if (!creds ||
        !vh_tls_creds_check_endpoint(creds,
                                     s->server ? VH_TLS_CREDS_ENDPOINT_SERVER
                                               : VH_TLS_CREDS_ENDPOINT_CLIENT,
                                     errp)) {
        return false;
    }
    return true;
}

/* The address: s->addr (UNIX, or TCP client) and s->addr_text. */
static bool resolve(VhChardevSocket *s, guint16 port, GError **errp)
{
    g_autolist(GObject) addrs = NULL;

    if (s->path) {
        s->addr = g_unix_socket_address_new_with_type(
            s->path, -1,
            s->abstract ? G_UNIX_SOCKET_ADDRESS_ABSTRACT
                        : G_UNIX_SOCKET_ADDRESS_PATH);
        s->addr_text = g_strdup_printf(
            "%s:%s", s->abstract ? "abstract" : "unix", s->path);
        return true;
    }
    if (s->server) {
        return true; /* addr_text once the port is known */
    }
    addrs = vh_socket_address_resolve(s->host, port, errp);
    for (GList *it = addrs; it; it = it->next) {
        GSocketFamily fam = g_socket_address_get_family(it->data);
        if ((s->ipv4 || s->ipv6) &&
            !((fam == G_SOCKET_FAMILY_IPV4 && s->ipv4) ||
              (fam == G_SOCKET_FAMILY_IPV6 && s->ipv6))) {
            continue;
        }
        g_autofree char *text = vh_socket_address_to_string(it->data);
        s->addr = g_object_ref(it->data);
        s->addr_text = g_strdup_printf("tcp:%s", text);
        return true;
    }
    if (addrs) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "%s has no address of the requested family", s->host);
    }
    return false;
}

/* The chardev owns fd= even when it fails before adopting it. */
static void close_fd_option(const VhChardevSocketOptions *o)
{
    if (o->fd >= 0) {
        close(o->fd);
    }
}

static void copy_options(VhChardevSocket *s, const VhChardevSocketOptions *o)
{
    s->host = g_strdup(o->host);
    s->port = g_strdup(o->port);
    s->path = g_strdup(o->path);
    s->abstract = o->abstract;
    s->server = o->server;
    s->wait = o->wait;
    s->nodelay = o->nodelay;
    s->telnet = o->telnet;
    s->ipv4 = o->ipv4;
    s->ipv6 = o->ipv6;
    s->reconnect_ms = o->reconnect_ms;
    s->tls_creds = g_strdup(o->tls_creds);
    s->tls_authz = g_strdup(o->tls_authz);
    s->hs_timeout_ms = o->handshake_timeout_ms
                           ? o->handshake_timeout_ms
                           : VH_CHARDEV_SOCKET_HANDSHAKE_TIMEOUT_MS;
}

static bool parse_port(const char *id, const char *text, guint16 *port,
                       GError **errp)
{
    guint64 v;

    *port = 0;
    if (!text) {
        return true;
    }
    if (!g_ascii_string_to_unsigned(text, 10, 0, 65535, &v, NULL)) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "chardev %s: port '%s' is not a number from 0 to 65535", id,
                    text);
        return false;
    }
    *port = v;
    return true;
}

/* TLS needs a TCP peer: refuse an inherited UNIX socket with tls-creds. */
static bool check_fd_family(VhChardevSocket *s, VhChannelSocket *sioc, int fd,
                            GError **errp)
{
    g_autoptr(GSocketAddress) local =
        vh_channel_socket_get_local_address(sioc, NULL);

    if (s->tls_creds && !G_IS_INET_SOCKET_ADDRESS(local)) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "fd %d is not a TCP socket; TLS can only be used over a "
                    "TCP socket",
                    fd);
        return false;
    }
    return true;
}

/*
 * fd=N: a listening socket (SO_ACCEPTCONN) makes a server on it, a
 * connected one is the connection (client side unless server=on).
 */
static bool open_fd(VhChardevSocket *s, int fd, GError **errp)
{
    g_autoptr(VhChannelSocket) sioc = vh_channel_socket_new_fd(fd, errp);
    bool listening;

    if (!sioc) {
        close(fd);
        return false;
    }
    listening =
        vh_channel_has_feature(VH_CHANNEL(sioc), VH_CHANNEL_FEATURE_LISTEN);
    s->addr_text = g_strdup_printf("fd:%d", fd);
    if (!check_fd_family(s, sioc, fd, errp)) {
        return false;
    }
    if (!listening && s->server && s->tls_creds) {
        accept_tls_client(s, sioc);
        return true;
    }
    if (!listening) {
        start_connection(s, sioc);
        return true;
    }
    s->server = true;
    s->listener = vh_net_listener_new();
    if (!vh_net_listener_add_socket(s->listener, sioc, errp)) {
        return false;
    }
    vh_net_listener_set_client_func(s->listener, on_client, s, NULL, ctx_of(s));
    return true;
}

static bool open_socket(VhChardevSocket *s, const VhChardevSocketOptions *o,
                        guint16 port, GError **errp)
{
    if (o->fd >= 0) {
        return open_fd(s, o->fd, errp);
    }
    if (!resolve(s, port, errp)) {
        return false;
    }
    if (!s->server) {
        return start_client(s, errp);
    }
    if (!start_server(s, port, errp)) {
        return false;
    }
    if (!s->path) {
        g_autofree char *h = s->host && strchr(s->host, ':')
                                 ? g_strdup_printf("[%s]", s->host)
                                 : g_strdup(s->host ? s->host : "");
        s->addr_text = g_strdup_printf("tcp:%s:%u", h,
                                       vh_net_listener_get_port(s->listener));
    }
    return true;
}

VhChardev *vh_chardev_socket_new(const char *id,
                                 const VhChardevSocketOptions *o,
                                 GMainContext *ctx, GError **errp)
{
    g_autoptr(VhChardev) chr = g_object_new(VH_TYPE_CHARDEV_SOCKET, NULL);
    VhChardevSocket *s = VH_CHARDEV_SOCKET(chr);
    guint16 port;

    if (!vh_chardev_init_base(chr, id, ctx, errp) ||
        !check_options(id, o, errp) || !parse_port(id, o->port, &port, errp)) {
        close_fd_option(o);
        return NULL;
    }
    copy_options(s, o);
    if (o->logfile &&
        !vh_chardev_set_logfile(chr, o->logfile, o->logappend, errp)) {
        close_fd_option(o);
        return NULL;
    }
    if (!check_creds(s, errp)) {
        close_fd_option(o);
        g_prefix_error(errp, "chardev %s: ", id);
        return NULL;
    }
    if (!open_socket(s, o, port, errp)) {
        g_prefix_error(errp, "chardev %s: ", id);
        return NULL;
    }
    return g_steal_pointer(&chr);
}

bool vh_chardev_socket_get_wait(VhChardevSocket *s)
{
    return s->server && s->wait;
}

bool vh_chardev_socket_is_telnet(VhChardevSocket *s)
{
    return s->telnet;
}

bool vh_chardev_socket_is_server(VhChardevSocket *s)
{
    return s->server;
}

guint16 vh_chardev_socket_get_port(VhChardevSocket *s)
{
    return s->listener ? vh_net_listener_get_port(s->listener) : 0;
}

bool vh_chardev_socket_get_tls_peer(VhChardevSocket *s, const char **protocol,
                                    const char **cipher, const char **dn)
{
    VhChannelTls *tls;

    if (!s->ioc || s->handshaking || !VH_IS_CHANNEL_TLS(s->ioc) ||
        !vh_chardev_is_connected(VH_CHARDEV(s))) {
        return false;
    }
    tls = VH_CHANNEL_TLS(s->ioc);
    *protocol = vh_channel_tls_get_protocol(tls);
    *cipher = vh_channel_tls_get_cipher(tls);
    *dn = vh_channel_tls_get_peer_name(tls);
    return true;
}

bool vh_chardev_socket_wait_connected(VhChardevSocket *s, GError **errp)
{
    VhChardev *chr = VH_CHARDEV(s);

    if (s->server && !vh_chardev_is_connected(chr)) {
        g_autofree char *desc = vh_chardev_describe(chr);
        vh_chardev_info("waiting for connection on: %s", desc);
    }
    while (!vh_chardev_is_connected(chr)) {
        if (vh_chardev_is_closed(chr)) {
            g_set_error(errp, G_IO_ERROR, G_IO_ERROR_CLOSED,
                        "chardev %s is closed", id_of(s));
            return false;
        }
        if (s->failed) {
            const char *why = vh_chardev_get_last_error(chr, NULL);
            g_set_error(errp, VH_ERROR, VH_ERROR_FAILED,
                        "chardev %s: connection to %s failed: %s", id_of(s),
                        s->addr_text, why ? why : "closed by the peer");
            return false;
        }
        g_main_context_iteration(ctx_of(s), TRUE);
    }
    return true;
}
