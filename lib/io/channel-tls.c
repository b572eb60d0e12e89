/*
 * VhChannelTls: a VhTlsSession whose ciphertext travels over another
 * channel, with a handshake driven by master watches and a watch source
 * that also sees data GnuTLS has already decrypted.
 */
#include "vmhost/io/channel-tls.h"

#include "channel-internal.h"
#include "vmhost/util/iov.h"

#include <errno.h>
#include <string.h>

/* How long close waits for room to send close-notify (non-blocking). */
#define CLOSE_NOTIFY_TIMEOUT_MS 2000

/*
 * Transport buffering. GnuTLS reads a record as two pulls (the 5-byte
 * header, then the body) and writes each record with its own push: with
 * 16 KiB records that is two recv() and one send() per 16 KiB. Ciphertext
 * is therefore read ahead in READ_AHEAD pieces, and on a blocking master the
 * records of one writev are gathered into WRITE_BATCH pieces before they go
 * out (a non-blocking master gets each record as it is made, so that a
 * would-block never strands ciphertext the caller was told was written).
 */
#define READ_AHEAD  (256 * 1024)
#define WRITE_BATCH (256 * 1024)
/*
 * Reads no larger than this are not a stream: once their ciphertext is all
 * taken, or the master would block, the READ_AHEAD buffer is freed, as 100
 * idle connections of a daemon each kept 17 KiB of touched heap in it.
 * Streams keep theirs.
 */
#define READ_AHEAD_IDLE (16 * 1024)
/*
 * Until a read fills it, ciphertext is read into a small buffer inside the
 * channel, so that a connection carrying lines (a chardev, a monitor)
 * allocates nothing per read: taking and freeing READ_AHEAD per line cost
 * ~700 instructions in malloc, a third of vmhost's own share of a TLS
 * line (callgrind, bench/chardev). A read that fills READ_SMALL may be the
 * start of a stream: the next one goes to a READ_AHEAD buffer.
 */
#define READ_SMALL 2048
/*
 * A writev below WRITE_STREAM is sealed into a buffer of its exact size,
 * freed once sent (for a line, a small chunk glibc keeps at hand: tens of
 * instructions, and an idle connection keeps nothing); a larger one into
 * the WRITE_BATCH buffer, which a stream keeps.
 */
#define WRITE_STREAM (64 * 1024)
/* Records sealed into one batch at most (a small record size limit). */
#define BATCH_RECORDS 64

struct _VhChannelTls {
    VhChannel parent;
    VhChannel *master;
    VhTlsSession *session;
    GError *transport_error; /* the master's last hard error */
    bool write_shut;         /* close-notify sent (the owner's thread only) */
    bool handshaking;        /* an async handshake is running */

    char *rbuf; /* read-ahead ciphertext: rbuf[rpos, rlen) is unread */
    size_t rpos, rlen;
    char *rheap; /* READ_AHEAD bytes while a stream may be running */
    bool rbig;   /* the last read into rheap was over READ_AHEAD_IDLE */
    bool rgrow;  /* the last read filled rsmall: the next goes to rheap */
    char rsmall[READ_SMALL]; /* rbuf until a read fills it */
    int rend;         /* the master's read ended: 1 at EOF, -1 on error */
    size_t pull_left; /* bytes of the record GnuTLS is pulling */

    /* a record opened for a reader with less room: pbuf[ppos, plen) */
    char *pbuf;
    size_t ppos, plen;

    char *wbuf; /* ciphertext to send: wbuf[wsent, wlen) */
    size_t wlen;
    size_t wsent;   /* (sealed records a non-blocking master did not take) */
    size_t wcredit; /* plaintext bytes of those records */
    char *wheap;    /* WRITE_BATCH bytes */
    char *wtmp;     /* or a smaller batch, freed when sent */
    bool batching;  /* GnuTLS's records of a blocking writev are gathered */
};

G_DEFINE_TYPE(VhChannelTls, vh_channel_tls, VH_TYPE_CHANNEL)

static void set_transport_error(VhChannelTls *tls, GError *err)
{
    g_clear_error(&tls->transport_error);
    tls->transport_error = err;
    errno = EIO;
}

/* The batch is sent (or lost with its connection). */
static void batch_done(VhChannelTls *tls)
{
    tls->wlen = tls->wsent = 0;
    g_clear_pointer(&tls->wtmp, g_free);
}

/* Write out the batch (blocking master). */
static bool flush_batch(VhChannelTls *tls)
{
    GError *err = NULL;
    bool ok = tls->wlen == tls->wsent ||
              vh_channel_write_all(tls->master, tls->wbuf + tls->wsent,
                                   tls->wlen - tls->wsent, &err);

    batch_done(tls);
    if (!ok) {
        set_transport_error(tls, err);
    }
    return ok;
}

/*
 * Send what is left of the batch on a non-blocking master: 0 when all of
 * it went, VH_CHANNEL_ERR_BLOCK, or -1 (the transport error is kept).
 */
static gssize send_batch(VhChannelTls *tls)
{
    while (tls->wsent < tls->wlen) {
        GError *err = NULL;
        gssize n = vh_channel_write(tls->master, tls->wbuf + tls->wsent,
                                    tls->wlen - tls->wsent, &err);
        if (n == VH_CHANNEL_ERR_BLOCK) {
            return n;
        }
        if (n < 0) {
            set_transport_error(tls, err);
            return -1;
        }
        tls->wsent += n;
    }
    batch_done(tls);
    return 0;
}

/* Whatever the mode, send the batch first; false with errno set. */
static bool drain_batch(VhChannelTls *tls)
{
    gssize n;

    if (tls->wlen == tls->wsent || vh_channel_get_blocking(tls->master)) {
        return flush_batch(tls);
    }
    n = send_batch(tls);
    if (n == VH_CHANNEL_ERR_BLOCK) {
        errno = EAGAIN;
    }
    return n == 0;
}

/* Transport callbacks: the session's ciphertext over the master. */
static ssize_t tls_push(const char *buf, size_t len, void *opaque)
{
    VhChannelTls *tls = opaque;
    GError *err = NULL;
    gssize n;

    if (tls->batching && len < WRITE_BATCH) {
        if (tls->wlen + len > WRITE_BATCH && !flush_batch(tls)) {
            return -1;
        }
        if (!tls->wheap) {
            tls->wheap = g_malloc(WRITE_BATCH);
        }
        tls->wbuf = tls->wheap;
        memcpy(tls->wbuf + tls->wlen, buf, len);
        tls->wlen += len;
        return len;
    }
    if (!drain_batch(tls)) {
        return -1;
    }
    n = vh_channel_write(tls->master, buf, len, &err);
    if (n == VH_CHANNEL_ERR_BLOCK) {
        errno = EAGAIN;
        return -1;
    }
    if (n < 0) {
        set_transport_error(tls, err);
        return -1;
    }
    return n;
}

/* Drop the READ_AHEAD buffer of a connection that is not streaming. */
static void release_read_ahead(VhChannelTls *tls)
{
    if (tls->rbig || !tls->rheap || tls->rpos < tls->rlen) {
        return;
    }
    g_clear_pointer(&tls->rheap, g_free);
    tls->rbuf = tls->rsmall;
    tls->rpos = tls->rlen = 0;
}

/*
 * Read what the master has into the read-ahead buffer: the small one,
 * unless the last read filled it or a stream is running. Returns the
 * count, 0 at EOF, or -1 with errno (EAGAIN for would-block).
 */
static gssize fill_read_ahead(VhChannelTls *tls)
{
    GError *err = NULL;
    bool big = tls->rheap || tls->rgrow;
    gssize n;

    if (big && !tls->rheap) {
        tls->rheap = g_malloc(READ_AHEAD);
    }
    tls->rbuf = big ? tls->rheap : tls->rsmall;
    tls->rpos = tls->rlen = 0;
    tls->rgrow = false;
    n = vh_channel_read(tls->master, tls->rbuf, big ? READ_AHEAD : READ_SMALL,
                        &err);
    if (n == VH_CHANNEL_ERR_BLOCK) {
        release_read_ahead(tls);
        errno = EAGAIN;
        return -1;
    }
    if (n < 0) {
        set_transport_error(tls, err);
        return -1;
    }
    tls->rlen = n;
    if (big) {
        tls->rbig = n > READ_AHEAD_IDLE;
    } else {
        tls->rgrow = n == READ_SMALL;
    }
    return n;
}

/* The size a record header at rbuf[rpos] announces (0: not all there). */
static size_t header_size(VhChannelTls *tls)
{
    const guint8 *h = (const guint8 *)tls->rbuf + tls->rpos;

    return tls->rlen - tls->rpos < 5 ? 0 : 5 + ((size_t)h[3] << 8 | h[4]);
}

static gssize read_more(VhChannelTls *tls, size_t size);

/*
 * After the handshake GnuTLS is handed whole records or nothing: a record
 * it began and could not finish would stay inside it, out of sight of
 * vmhost's records, which take over at the next read. False with errno
 * EAGAIN when the master would block first.
 */
static bool pull_whole_record(VhChannelTls *tls)
{
    for (;;) {
        size_t size = header_size(tls);

        if (size > 0 && size <= tls->rlen - tls->rpos) {
            tls->pull_left = size;
            return true;
        }
        if (tls->rend) {
            return true; /* what there is, then the end */
        }
        if (read_more(tls, size) == VH_CHANNEL_ERR_BLOCK) {
            errno = EAGAIN;
            return false;
        }
    }
}

static ssize_t tls_pull(char *buf, size_t len, void *opaque)
{
    VhChannelTls *tls = opaque;
    gssize n;

    if (tls->batching && tls->wlen && !flush_batch(tls)) {
        return -1;
    }
    if (tls->pull_left == 0 &&
        vh_tls_session_is_handshake_complete(tls->session) &&
        !pull_whole_record(tls)) {
        return -1;
    }
    if (tls->rpos == tls->rlen && tls->rend) {
        /* the record path met the end of the master's data */
        errno = EIO;
        return tls->rend > 0 ? 0 : -1;
    }
    if (tls->rpos == tls->rlen) {
        n = fill_read_ahead(tls);
        if (n <= 0) {
            return n;
        }
    }
    n = MIN(len, tls->rlen - tls->rpos);
    memcpy(buf, tls->rbuf + tls->rpos, n);
    tls->rpos += n;
    tls->pull_left -= MIN(tls->pull_left, (size_t)n);
    /* all taken and not a stream: a reader that stops here (see
     * vh_channel_get_read_ahead()) may well be idle from now on */
    release_read_ahead(tls);
    return n;
}

/*
 * When the master failed, its error says more than GnuTLS's "error in the
 * push function": report that instead, prefixed with what we were doing.
 */
static void adopt_transport_error(VhChannelTls *tls, GError **errp)
{
    if (!tls->transport_error || !errp || !*errp) {
        return;
    }
    if (g_error_matches(*errp, VH_ERROR, VH_ERROR_TLS_PREMATURE_EOF)) {
        return;
    }
    g_prefix_error(errp, "%s: ", tls->transport_error->message);
    g_clear_error(&tls->transport_error);
}

static VhChannelTls *channel_tls_new(VhChannel *master, VhTlsCreds *creds,
                                     const char *hostname, const char *authzid,
                                     VhTlsCredsEndpoint endpoint, GError **errp)
{
    g_autoptr(VhChannelTls) tls = NULL;
    g_autoptr(VhTlsSession) sess = NULL;

    g_return_val_if_fail(VH_IS_CHANNEL(master), NULL);

    sess = vh_tls_session_new(creds, hostname, authzid, endpoint, errp);
    if (!sess) {
        return NULL;
    }
    tls = g_object_new(VH_TYPE_CHANNEL_TLS, NULL);
    tls->master = g_object_ref(master);
    tls->session = g_steal_pointer(&sess);
    vh_tls_session_set_callbacks(tls->session, tls_push, tls_pull, tls);
    vh_channel_set_feature(VH_CHANNEL(tls), VH_CHANNEL_FEATURE_SHUTDOWN);
    if (!vh_channel_get_blocking(master)) {
        /* mirror the master's mode in the base class's bookkeeping */
        if (!vh_channel_set_blocking(VH_CHANNEL(tls), false, errp)) {
            return NULL;
        }
    }
    return g_steal_pointer(&tls);
}

VhChannelTls *vh_channel_tls_new_server(VhChannel *master, VhTlsCreds *creds,
                                        const char *authzid, GError **errp)
{
    return channel_tls_new(master, creds, NULL, authzid,
                           VH_TLS_CREDS_ENDPOINT_SERVER, errp);
}

VhChannelTls *vh_channel_tls_new_client(VhChannel *master, VhTlsCreds *creds,
                                        const char *hostname, GError **errp)
{
    return channel_tls_new(master, creds, hostname, NULL,
                           VH_TLS_CREDS_ENDPOINT_CLIENT, errp);
}

/*
 * The session's would-block, in the channel's terms. The two sentinels
 * happen to share a value today; nothing here relies on it.
 */
static gssize from_session(gssize n)
{
    return n == VH_TLS_SESSION_ERR_BLOCK ? VH_CHANNEL_ERR_BLOCK : n;
}

/* One handshake step; on failure *errp is set (with the transport's why). */
static VhTlsHandshakeStatus handshake_step(VhChannelTls *tls, GError **errp)
{
    VhTlsHandshakeStatus st = vh_tls_session_handshake(tls->session, errp);

    if (st == VH_TLS_HANDSHAKE_FAILED) {
        adopt_transport_error(tls, errp);
        g_prefix_error(errp, "%s: ", vh_channel_get_name(VH_CHANNEL(tls)));
    }
    return st;
}

bool vh_channel_tls_handshake_sync(VhChannelTls *tls, GError **errp)
{
    for (;;) {
        switch (handshake_step(tls, errp)) {
        case VH_TLS_HANDSHAKE_COMPLETE:
            return true;
        case VH_TLS_HANDSHAKE_NEEDS_READ:
            vh_channel_wait(tls->master, G_IO_IN);
            break;
        case VH_TLS_HANDSHAKE_NEEDS_WRITE:
            vh_channel_wait(tls->master, G_IO_OUT);
            break;
        case VH_TLS_HANDSHAKE_FAILED:
        default:
            return false;
        }
    }
}

/* The async handshake: a GTask and the master watch it waits on. */
typedef struct {
    GSource *io;        /* the pending master watch, or NULL */
    GSource *cancelled; /* fires when the cancellable is cancelled */
    GSource *timer;     /* the deadline, or NULL */
    guint timeout_ms;
} HandshakeState;

static void drop_source(GSource **src)
{
    if (*src) {
        g_source_destroy(*src);
        g_clear_pointer(src, g_source_unref);
    }
}

static void handshake_state_free(gpointer data)
{
    HandshakeState *st = data;

    drop_source(&st->io);
    drop_source(&st->cancelled);
    drop_source(&st->timer);
    g_free(st);
}

static void handshake_run(GTask *task);

static gboolean handshake_io_ready(VhChannel *ioc, GIOCondition cond,
                                   gpointer opaque)
{
    GTask *task = opaque;
    HandshakeState *st = g_task_get_task_data(task);

    g_clear_pointer(&st->io, g_source_unref);
    handshake_run(task);
    return G_SOURCE_REMOVE;
}

static void handshake_done(GTask *task, GError *err)
{
    VhChannelTls *tls = g_task_get_source_object(task);
    HandshakeState *st = g_task_get_task_data(task);

    tls->handshaking = false;
    drop_source(&st->cancelled);
    drop_source(&st->timer);
    if (err) {
        g_task_return_error(task, err);
    } else {
        g_task_return_boolean(task, TRUE);
    }
    g_object_unref(task);
}

/* Step the handshake; wait on the master for what GnuTLS needs next. */
static void handshake_run(GTask *task)
{
    VhChannelTls *tls = g_task_get_source_object(task);
    HandshakeState *st = g_task_get_task_data(task);
    GError *err = NULL;
    GIOCondition cond;

    switch (handshake_step(tls, &err)) {
    case VH_TLS_HANDSHAKE_COMPLETE:
        handshake_done(task, NULL);
        return;
    case VH_TLS_HANDSHAKE_NEEDS_READ:
        cond = G_IO_IN;
        break;
    case VH_TLS_HANDSHAKE_NEEDS_WRITE:
        cond = G_IO_OUT;
        break;
    case VH_TLS_HANDSHAKE_FAILED:
    default:
        handshake_done(task, err);
        return;
    }
    st->io = vh_channel_create_watch(tls->master, cond);
    g_source_set_callback(
        st->io, (GSourceFunc)(void (*)(void))handshake_io_ready, task, NULL);
    g_source_attach(st->io, g_task_get_context(task));
}

static gboolean handshake_cancelled(GCancellable *cancellable, gpointer opaque)
{
    GTask *task = opaque;
    HandshakeState *st = g_task_get_task_data(task);
    VhChannelTls *tls = g_task_get_source_object(task);
    GError *err = NULL;

    drop_source(&st->io);
    g_set_error(&err, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                "%s: TLS handshake cancelled",
                vh_channel_get_name(VH_CHANNEL(tls)));
    handshake_done(task, err);
    return G_SOURCE_REMOVE;
}

static gboolean handshake_timed_out(gpointer opaque)
{
    GTask *task = opaque;
    HandshakeState *st = g_task_get_task_data(task);
    VhChannelTls *tls = g_task_get_source_object(task);
    GError *err = NULL;

    g_clear_pointer(&st->timer, g_source_unref); /* removed on return */
    drop_source(&st->io);
    g_set_error(&err, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                "%s: TLS handshake timed out after %u ms",
                vh_channel_get_name(VH_CHANNEL(tls)), st->timeout_ms);
    handshake_done(task, err);
    return G_SOURCE_REMOVE;
}

void vh_channel_tls_handshake(VhChannelTls *tls, GCancellable *cancellable,
                              GAsyncReadyCallback callback, gpointer opaque)
{
    vh_channel_tls_handshake_timeout(tls, 0, cancellable, callback, opaque);
}

void vh_channel_tls_handshake_timeout(VhChannelTls *tls, guint timeout_ms,
                                      GCancellable *cancellable,
                                      GAsyncReadyCallback callback,
                                      gpointer opaque)
{
    GTask *task = g_task_new(tls, cancellable, callback, opaque);
    HandshakeState *st = g_new0(HandshakeState, 1);

    g_task_set_source_tag(task, vh_channel_tls_handshake);
    g_task_set_task_data(task, st, handshake_state_free);
    if (tls->handshaking) {
        g_task_return_new_error(task, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                                "%s: a TLS handshake is already running",
                                vh_channel_get_name(VH_CHANNEL(tls)));
        g_object_unref(task);
        return;
    }
    tls->handshaking = true;
    if (timeout_ms) {
        st->timeout_ms = timeout_ms;
        st->timer = g_timeout_source_new(timeout_ms);
        g_source_set_callback(st->timer, handshake_timed_out, task, NULL);
        g_source_attach(st->timer, g_task_get_context(task));
    }
    if (cancellable) {
        st->cancelled = vh_cancel_source_new(cancellable);
        g_source_set_callback(st->cancelled,
                              (GSourceFunc)(void (*)(void))handshake_cancelled,
                              task, NULL);
        g_source_attach(st->cancelled, g_task_get_context(task));
    }
    handshake_run(task);
}

bool vh_channel_tls_handshake_finish(VhChannelTls *tls, GAsyncResult *result,
                                     GError **errp)
{
    g_return_val_if_fail(g_task_is_valid(result, tls), false);

    return g_task_propagate_boolean(G_TASK(result), errp);
}

VhTlsSession *vh_channel_tls_get_session(VhChannelTls *tls)
{
    return tls->session;
}

VhChannel *vh_channel_tls_get_master(VhChannelTls *tls)
{
    return tls->master;
}

const char *vh_channel_tls_get_peer_name(VhChannelTls *tls)
{
    return vh_tls_session_get_peer_name(tls->session);
}

const char *vh_channel_tls_get_protocol(VhChannelTls *tls)
{
    return vh_tls_session_get_protocol(tls->session);
}

const char *vh_channel_tls_get_cipher(VhChannelTls *tls)
{
    return vh_tls_session_get_cipher(tls->session);
}

static bool check_handshake(VhChannelTls *tls, GError **errp)
{
    if (!vh_tls_session_is_handshake_complete(tls->session)) {
        g_set_error(errp, VH_ERROR, VH_ERROR_FAILED,
                    "%s: I/O before the TLS handshake completed",
                    vh_channel_get_name(VH_CHANNEL(tls)));
        return false;
    }
    return true;
}

/*
 * vmhost's own records (TLS 1.3, docs/tls-records.md): sealed straight
 * into the batch, opened straight out of the read-ahead into the caller's
 * buffer when it has room for the record, else into pbuf.
 */

/* Plaintext of an opened record still to hand out. */
static size_t held_plain(VhChannelTls *tls)
{
    return tls->plen - tls->ppos;
}

/*
 * The size of the whole record at rbuf[rpos], 0 when its header is not
 * all there, or what vh_tls_session_record_size() said.
 */
static gssize next_record(VhChannelTls *tls, GError **errp)
{
    if (tls->rlen - tls->rpos < 5) {
        return 0;
    }
    return vh_tls_session_record_size(tls->session, tls->rbuf + tls->rpos,
                                      errp);
}

/*
 * A whole record is at hand, ours or GnuTLS's, or a header a read refuses:
 * a read makes progress. Part of a record waits for the master.
 */
static bool record_ready(VhChannelTls *tls)
{
    size_t size = header_size(tls);

    return size > 0 &&
           (size <= tls->rlen - tls->rpos || next_record(tls, NULL) == -1);
}

/*
 * Read more ciphertext behind what is unread, for a record of @size bytes
 * (0: its header is incomplete). Returns the count, VH_CHANNEL_ERR_BLOCK,
 * or 0 / -1 at the master's end or error (noted in rend: GnuTLS's read then
 * reports it as it always has).
 */
static gssize read_more(VhChannelTls *tls, size_t size)
{
    size_t have = tls->rlen - tls->rpos;
    bool big = tls->rheap || tls->rgrow || size > READ_SMALL;
    size_t cap = big ? READ_AHEAD : READ_SMALL;
    GError *err = NULL;
    gssize n;

    if (big && !tls->rheap) {
        tls->rheap = g_malloc(READ_AHEAD);
    }
    if (tls->rbuf != (big ? tls->rheap : tls->rsmall) || tls->rpos > 0) {
        /* at most one record's worth moves, once per buffer filled */
        memmove(big ? tls->rheap : tls->rsmall, tls->rbuf + tls->rpos, have);
        tls->rbuf = big ? tls->rheap : tls->rsmall;
        tls->rpos = 0;
        tls->rlen = have;
    }
    tls->rgrow = false;
    n = vh_channel_read(tls->master, tls->rbuf + tls->rlen, cap - tls->rlen,
                        &err);
    if (n == VH_CHANNEL_ERR_BLOCK) {
        return n;
    }
    if (n <= 0) {
        if (n < 0) {
            set_transport_error(tls, err);
        }
        tls->rend = n < 0 ? -1 : 1;
        return n;
    }
    tls->rlen += n;
    if (big) {
        tls->rbig = n > READ_AHEAD_IDLE;
    } else {
        tls->rgrow = tls->rlen == READ_SMALL;
    }
    return n;
}

/* Copy held plaintext into @iov at (*idx, *off); returns the count. */
static size_t hand_out(VhChannelTls *tls, const struct iovec *iov, size_t niov,
                       size_t *idx, size_t *off)
{
    size_t got = 0;

    while (*idx < niov && tls->ppos < tls->plen) {
        size_t take = MIN(iov[*idx].iov_len - *off, tls->plen - tls->ppos);
        memcpy((char *)iov[*idx].iov_base + *off, tls->pbuf + tls->ppos, take);
        tls->ppos += take;
        got += take;
        *off += take;
        if (*off == iov[*idx].iov_len) {
            (*idx)++;
            *off = 0;
        }
    }
    if (tls->ppos == tls->plen) {
        tls->ppos = tls->plen = 0;
        g_clear_pointer(&tls->pbuf, g_free);
    }
    return got;
}

/*
 * Open the record of @size bytes at rbuf[rpos] into the caller's buffer at
 * (*idx, *off) if it has the room, else into pbuf, taken for the record
 * and freed once handed out (a reader of small pieces, as a protocol
 * reading a length and then a body, takes a small chunk glibc keeps at
 * hand). Returns the plaintext bytes given to the caller,
 * VH_TLS_SESSION_ERR_NOT_DATA or -1.
 */
static gssize open_record(VhChannelTls *tls, size_t size,
                          const struct iovec *iov, size_t niov, size_t *idx,
                          size_t *off, GError **errp)
{
    size_t room = vh_tls_session_open_room(tls->session, size);
    bool direct = iov[*idx].iov_len - *off >= room;
    char *dst;
    gssize n;

    dst = direct ? (char *)iov[*idx].iov_base + *off : g_malloc(room);
    n = vh_tls_session_open(tls->session, tls->rbuf + tls->rpos, size, dst,
                            errp);
    if (n < 0) {
        if (!direct) {
            g_free(dst);
        }
        return n;
    }
    tls->rpos += size;
    if (direct) {
        *off += n;
        if (*off == iov[*idx].iov_len) {
            (*idx)++;
            *off = 0;
        }
        return n;
    }
    tls->pbuf = dst;
    tls->ppos = 0;
    tls->plen = n;
    return hand_out(tls, iov, niov, idx, off);
}

/*
 * Read with vmhost's records: READ_GNUTLS when GnuTLS must
 * read this time (a record that is not application data, the master's end
 * or error), else as readv. Once something is read, it returns rather
 * than wait for the master.
 */
#define READ_GNUTLS (-3)

static gssize records_readv(VhChannelTls *tls, const struct iovec *iov,
                            size_t niov, GError **errp)
{
    size_t idx = 0, off = 0;
    gssize total = 0;

    while (idx < niov && iov[idx].iov_len == 0) {
        idx++;
    }
    total = hand_out(tls, iov, niov, &idx, &off);
    while (idx < niov) {
        gssize size = next_record(tls, total > 0 ? NULL : errp);
        gssize n;

        if (size == VH_TLS_SESSION_ERR_NOT_DATA) {
            return total > 0 ? total : READ_GNUTLS;
        }
        if (size < 0) {
            return total > 0 ? total : -1;
        }
        if (size == 0 || (size_t)size > tls->rlen - tls->rpos) {
            if (total > 0) {
                return total;
            }
            n = read_more(tls, size);
            if (n == VH_CHANNEL_ERR_BLOCK) {
                release_read_ahead(tls);
                return n;
            }
            if (n <= 0) {
                return READ_GNUTLS;
            }
            continue;
        }
        n = open_record(tls, size, iov, niov, &idx, &off,
                        total > 0 ? NULL : errp);
        if (n == VH_TLS_SESSION_ERR_NOT_DATA) {
            return total > 0 ? total : READ_GNUTLS;
        }
        if (n < 0) {
            return total > 0 ? total : -1;
        }
        total += n;
    }
    release_read_ahead(tls);
    return total;
}

/*
 * Start a batch for @left plaintext bytes in records of at most @max
 * (see WRITE_STREAM). Returns its capacity.
 */
static size_t batch_start(VhChannelTls *tls, size_t left, size_t max)
{
    if (left < WRITE_STREAM) {
        size_t need = left + (left + max - 1) / max *
                                 vh_tls_session_seal_size(tls->session, 0);
        tls->wbuf = tls->wtmp = g_malloc(need);
        return need;
    }
    if (!tls->wheap) {
        tls->wheap = g_malloc(WRITE_BATCH);
    }
    tls->wbuf = tls->wheap;
    return WRITE_BATCH;
}

/*
 * Before a write: send the rest of a batch a non-blocking master did not
 * take, then count the caller's first bytes, which are the plaintext of
 * its records. Returns that count (0: write on), VH_CHANNEL_ERR_BLOCK or
 * -1.
 */
static gssize finish_batch(VhChannelTls *tls, const struct iovec *iov,
                           size_t niov, GError **errp)
{
    gssize n = send_batch(tls);
    size_t credit = MIN(tls->wcredit, vh_iov_size(iov, niov));

    if (n == -1) {
        g_set_error(errp, VH_ERROR, VH_ERROR_FAILED, "TLS write failed");
    }
    if (n < 0) {
        return n;
    }
    tls->wcredit -= credit;
    return credit;
}

/*
 * Write with vmhost's records: seal up to a batch of records, send it,
 * repeat. A non-blocking master that takes part of a batch keeps the rest
 * in wbuf[wsent, wlen); the plaintext of its records is counted as written
 * when the caller offers it again (finish_batch(), the contract of
 * vh_tls_session_writev()).
 */
static gssize records_writev(VhChannelTls *tls, const struct iovec *iov,
                             size_t niov, GError **errp)
{
    bool blocking = vh_channel_get_blocking(tls->master);
    size_t max = vh_tls_session_seal_max(tls->session);
    size_t left = vh_iov_size(iov, niov), done = 0;
    gssize total = 0;

    while (left > 0) {
        size_t ends[BATCH_RECORDS], plain[BATCH_RECORDS], nrec = 0;
        size_t cap = batch_start(tls, left, max), batch_plain = 0;
        gssize n;

        while (left > 0 && nrec < BATCH_RECORDS) {
            size_t len = MIN(left, max);
            size_t need = vh_tls_session_seal_size(tls->session, len);

            if (tls->wlen + need > cap) {
                break; /* never with an empty batch: cap holds a record */
            }
            if (!vh_tls_session_seal(tls->session, iov, niov, done, len,
                                     tls->wbuf + tls->wlen,
                                     total > 0 ? NULL : errp)) {
                batch_done(tls);
                return total > 0 ? total : -1;
            }
            tls->wlen += need;
            ends[nrec] = tls->wlen;
            plain[nrec++] = len;
            batch_plain += len;
            done += len;
            left -= len;
        }
        n = blocking ? (flush_batch(tls) ? 0 : -1) : send_batch(tls);
        if (n == 0) {
            total += batch_plain;
            continue;
        }
        if (n == -1) {
            batch_done(tls);
            if (total == 0) {
                g_set_error(errp, VH_ERROR, VH_ERROR_FAILED,
                            "TLS write failed");
            }
            return total > 0 ? total : -1;
        }
        /* would block: what the master took of whole records is written */
        for (size_t i = 0; i < nrec && ends[i] <= tls->wsent; i++) {
            total += plain[i];
            batch_plain -= plain[i];
        }
        tls->wcredit = batch_plain;
        return total > 0 ? total : VH_CHANNEL_ERR_BLOCK;
    }
    return total;
}

static gssize tls_readv(VhChannel *ioc, const struct iovec *iov, size_t niov,
                        int **fds, size_t *nfds, GError **errp)
{
    VhChannelTls *tls = VH_CHANNEL_TLS(ioc);
    gssize n;

    if (!check_handshake(tls, errp)) {
        return -1;
    }
    do {
        n = READ_GNUTLS;
        if (vh_tls_session_can_open(tls->session)) {
            n = records_readv(tls, iov, niov, errp);
        }
        if (n == READ_GNUTLS) {
            n = from_session(
                vh_tls_session_readv(tls->session, iov, niov, errp));
        }
        /*
         * GnuTLS says "again" after a post-handshake message (a KeyUpdate,
         * a session ticket) too: a blocking master has not blocked.
         */
    } while (n == VH_CHANNEL_ERR_BLOCK && vh_channel_get_blocking(tls->master));
    if (n == -1) {
        adopt_transport_error(tls, errp);
        g_prefix_error(errp, "%s: ", vh_channel_get_name(ioc));
    }
    return n;
}

static gssize tls_writev(VhChannel *ioc, const struct iovec *iov, size_t niov,
                         const int *fds, size_t nfds, GError **errp)
{
    VhChannelTls *tls = VH_CHANNEL_TLS(ioc);
    gssize n;

    if (!check_handshake(tls, errp)) {
        return -1;
    }
    if (tls->write_shut) {
        g_set_error(errp, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE,
                    "%s: write after the TLS write side was shut down",
                    vh_channel_get_name(ioc));
        return -1;
    }
    n = 0;
    if (tls->wcredit || tls->wlen > tls->wsent) {
        n = finish_batch(tls, iov, niov, errp);
    }
    if (n != 0) {
        /* a count, a would-block, or the master's error */
    } else if (vh_tls_session_can_seal(tls->session)) {
        n = records_writev(tls, iov, niov, errp);
    } else {
        tls->batching = vh_channel_get_blocking(tls->master);
        n = from_session(vh_tls_session_writev(tls->session, iov, niov, errp));
        tls->batching = false;
        if (!flush_batch(tls) && n >= 0) {
            g_set_error(errp, VH_ERROR, VH_ERROR_FAILED, "TLS write failed");
            n = -1;
        }
    }
    if (n == -1) {
        adopt_transport_error(tls, errp);
        g_prefix_error(errp, "%s: ", vh_channel_get_name(ioc));
    }
    return n;
}

static gboolean wait_done(gpointer opaque)
{
    *(bool *)opaque = true;
    return G_SOURCE_REMOVE;
}

static gboolean wait_io_done(VhChannel *ioc, GIOCondition cond, gpointer opaque)
{
    return wait_done(opaque);
}

/*
 * Wait until @cond is ready on the master or @timeout_ms passed, in a
 * private context; false on timeout.
 */
static bool wait_master(VhChannelTls *tls, GIOCondition cond, guint timeout_ms)
{
    g_autoptr(GMainContext) ctx = g_main_context_new();
    g_autoptr(GSource) io = vh_channel_create_watch(tls->master, cond);
    g_autoptr(GSource) timer = g_timeout_source_new(timeout_ms);
    bool ready = false, expired = false;

    g_source_set_callback(io, (GSourceFunc)(void (*)(void))wait_io_done, &ready,
                          NULL);
    g_source_set_callback(timer, wait_done, &expired, NULL);
    g_source_attach(io, ctx);
    g_source_attach(timer, ctx);
    while (!ready && !expired) {
        g_main_context_iteration(ctx, TRUE);
    }
    g_source_destroy(io);
    g_source_destroy(timer);
    return ready;
}

/*
 * Send close-notify. The alert is tiny, but on a non-blocking master the
 * socket may be full: wait for room up to @timeout_ms (G_MAXUINT: for
 * ever), so that the peer sees a clean EOF rather than a truncation.
 */
static bool send_bye(VhChannelTls *tls, guint timeout_ms, GError **errp)
{
    gint64 deadline = g_get_monotonic_time() + timeout_ms * (gint64)1000;

    for (;;) {
        int ret = vh_tls_session_bye(tls->session, errp);
        GIOCondition cond;
        gint64 left;

        if (ret != VH_TLS_SESSION_ERR_BLOCK) {
            if (ret < 0) {
                adopt_transport_error(tls, errp);
            }
            return ret == 0;
        }
        cond = vh_tls_session_wants_write(tls->session) ? G_IO_OUT : G_IO_IN;
        if (timeout_ms == G_MAXUINT) {
            vh_channel_wait(tls->master, cond);
            continue;
        }
        left = (deadline - g_get_monotonic_time()) / 1000;
        if (left <= 0 || !wait_master(tls, cond, (guint)left)) {
            g_set_error(errp, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                        "no room to send close-notify within %u ms",
                        timeout_ms);
            return false;
        }
    }
}

bool vh_channel_tls_bye(VhChannelTls *tls, GError **errp)
{
    g_return_val_if_fail(VH_IS_CHANNEL_TLS(tls), false);

    if (tls->write_shut) {
        return true;
    }
    if (!send_bye(tls, G_MAXUINT, errp)) {
        g_prefix_error(errp, "%s: ", vh_channel_get_name(VH_CHANNEL(tls)));
        return false;
    }
    tls->write_shut = true;
    return true;
}

static bool tls_close(VhChannel *ioc, GError **errp)
{
    VhChannelTls *tls = VH_CHANNEL_TLS(ioc);

    if (!tls->write_shut && !vh_channel_is_closed(tls->master)) {
        g_autoptr(GError) err = NULL;
        if (!send_bye(tls, CLOSE_NOTIFY_TIMEOUT_MS, &err)) {
            g_debug("%s: close-notify not sent: %s", vh_channel_get_name(ioc),
                    err->message);
        }
        tls->write_shut = true;
    }
    return vh_channel_close(tls->master, errp);
}

/*
 * A half-close (WRITE alone) is the writer ending its stream: in TLS that
 * is close-notify (RFC 8446 section 6.1), so it says bye first. Anything
 * with READ in it cuts the transport and nothing else: it touches no
 * session state, so any thread may call it to unblock the one doing I/O,
 * and the peer sees a truncation, never a clean end.
 */
static bool tls_shutdown(VhChannel *ioc, VhChannelShutdown how, GError **errp)
{
    VhChannelTls *tls = VH_CHANNEL_TLS(ioc);

    if (how == VH_CHANNEL_SHUTDOWN_WRITE && !vh_channel_tls_bye(tls, errp)) {
        return false;
    }
    if (!vh_channel_has_feature(tls->master, VH_CHANNEL_FEATURE_SHUTDOWN)) {
        return true;
    }
    return vh_channel_shutdown(tls->master, how, errp);
}

static bool tls_set_blocking(VhChannel *ioc, bool enabled, GError **errp)
{
    return vh_channel_set_blocking(VH_CHANNEL_TLS(ioc)->master, enabled, errp);
}

static void tls_set_cork(VhChannel *ioc, bool enabled)
{
    vh_channel_set_cork(VH_CHANNEL_TLS(ioc)->master, enabled);
}

static void tls_set_delay(VhChannel *ioc, bool enabled)
{
    vh_channel_set_delay(VH_CHANNEL_TLS(ioc)->master, enabled);
}

/* Plaintext at hand (ours or GnuTLS's) and ciphertext not yet opened. */
static gsize tls_get_read_ahead(VhChannel *ioc)
{
    VhChannelTls *tls = VH_CHANNEL_TLS(ioc);

    return held_plain(tls) + vh_tls_session_check_pending(tls->session) +
           (tls->rlen - tls->rpos);
}

/*
 * The watch: a child source on the master records what it saw; the parent
 * dispatches the caller with that, or with G_IO_IN as soon as GnuTLS holds
 * decrypted data (then the master's fd may well be idle). GLib keeps a
 * child just before its parent in the dispatch order, so what the child
 * records is delivered in the same iteration, and pending data makes
 * prepare ask for a zero poll timeout: a TLS line costs one poll(), as a
 * plain one does (test /io/channel/tls/dispatch-iterations counts it).
 */
typedef struct {
    GSource parent;
    VhChannelTls *tls;
    GIOCondition cond;
    GIOCondition seen; /* recorded by the child's callback */
} TlsSource;

static GIOCondition tls_source_pending(TlsSource *src)
{
    VhChannelTls *tls = src->tls;

    if (!(src->cond & G_IO_IN) ||
        !vh_tls_session_is_handshake_complete(tls->session)) {
        return 0;
    }
    if (held_plain(tls) > 0 || vh_tls_session_check_pending(tls->session)) {
        return G_IO_IN;
    }
    if (tls->rpos == tls->rlen) {
        return 0;
    }
    /*
     * GnuTLS consumes all read-ahead ciphertext before it reports
     * would-block, so there unread ciphertext means a read makes progress;
     * with our records only a whole one does.
     */
    if (vh_tls_session_can_open(tls->session) && !record_ready(tls)) {
        return 0;
    }
    return G_IO_IN;
}

static gboolean tls_source_prepare(GSource *source, gint *timeout)
{
    TlsSource *src = (TlsSource *)source;

    *timeout = -1;
    if (src->seen || tls_source_pending(src)) {
        *timeout = 0;
        return TRUE;
    }
    return FALSE;
}

static gboolean tls_source_check(GSource *source)
{
    TlsSource *src = (TlsSource *)source;

    return src->seen || tls_source_pending(src);
}

static gboolean tls_source_dispatch(GSource *source, GSourceFunc callback,
                                    gpointer opaque)
{
    TlsSource *src = (TlsSource *)source;
    VhChannelFunc func = (VhChannelFunc)(void (*)(void))callback;
    GIOCondition rev = (src->seen | tls_source_pending(src)) &
                       (src->cond | G_IO_HUP | G_IO_ERR | G_IO_NVAL);

    src->seen = 0;
    if (!rev) {
        return G_SOURCE_CONTINUE;
    }
    if (!func) {
        g_warning("watch on %s has no callback",
                  vh_channel_get_name(VH_CHANNEL(src->tls)));
        return G_SOURCE_REMOVE;
    }
    return func(VH_CHANNEL(src->tls), rev, opaque);
}

static void tls_source_finalize(GSource *source)
{
    g_object_unref(((TlsSource *)source)->tls);
}

static GSourceFuncs tls_source_funcs = {
    .prepare = tls_source_prepare,
    .check = tls_source_check,
    .dispatch = tls_source_dispatch,
    .finalize = tls_source_finalize,
};

static gboolean tls_source_master_ready(VhChannel *master, GIOCondition cond,
                                        gpointer opaque)
{
    TlsSource *src = opaque;

    src->seen |= cond;
    return G_SOURCE_CONTINUE;
}

static GSource *tls_create_watch(VhChannel *ioc, GIOCondition cond)
{
    VhChannelTls *tls = VH_CHANNEL_TLS(ioc);
    GSource *source = g_source_new(&tls_source_funcs, sizeof(TlsSource));
    TlsSource *src = (TlsSource *)source;
    g_autoptr(GSource) child = vh_channel_create_watch(tls->master, cond);

    src->tls = g_object_ref(tls);
    src->cond = cond;
    /* the child lives no longer than @source, so @src needs no ref */
    g_source_set_callback(
        child, (GSourceFunc)(void (*)(void))tls_source_master_ready, src, NULL);
    /* It only records: skip GLib's fd remove/re-add around its dispatch. */
    g_source_set_can_recurse(child, TRUE);
    g_source_add_child_source(source, child);
    g_source_set_name(source, "VhChannelTls watch");
    return source;
}

static void vh_channel_tls_init(VhChannelTls *tls)
{
    tls->rbuf = tls->rsmall;
}

static void vh_channel_tls_dispose(GObject *obj)
{
    /* the base class closes the channel (and the master) here */
    G_OBJECT_CLASS(vh_channel_tls_parent_class)->dispose(obj);
}

static void vh_channel_tls_finalize(GObject *obj)
{
    VhChannelTls *tls = VH_CHANNEL_TLS(obj);

    g_clear_object(&tls->session);
    g_clear_object(&tls->master);
    g_clear_error(&tls->transport_error);
    g_free(tls->rheap);
    g_free(tls->pbuf);
    g_free(tls->wheap);
    g_free(tls->wtmp);
    G_OBJECT_CLASS(vh_channel_tls_parent_class)->finalize(obj);
}

static void vh_channel_tls_class_init(VhChannelTlsClass *klass)
{
    GObjectClass *oc = G_OBJECT_CLASS(klass);
    VhChannelClass *cc = VH_CHANNEL_CLASS(klass);

    oc->dispose = vh_channel_tls_dispose;
    oc->finalize = vh_channel_tls_finalize;
    cc->readv = tls_readv;
    cc->writev = tls_writev;
    cc->close = tls_close;
    cc->create_watch = tls_create_watch;
    cc->set_blocking = tls_set_blocking;
    cc->shutdown = tls_shutdown;
    cc->set_cork = tls_set_cork;
    cc->get_read_ahead = tls_get_read_ahead;
    cc->set_delay = tls_set_delay;
}
