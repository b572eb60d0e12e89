/*
 * Multifd channels on the target, and their synchronisation with the main
 * stream: a channel that reaches SYNC for iteration k waits until the main
 * stream's ITER_END k has checked every channel's count, so that a page
 * sent again in iteration k+1 on another channel is never overtaken by its
 * older copy (docs/migration-stream.md, "Multifd channels"). Every wait
 * here is on VhMigLoader.cond under VhMigLoader.lock and ends on an abort.
 */
#include "stream-priv.h"

#include "vmhost/util/error.h"

bool vh_mig_wait_channels_connected(VhMigLoader *l, GError **errp)
{
    gint64 deadline = g_get_monotonic_time() +
                      VH_MIG_CHANNEL_CONNECT_TIMEOUT_S * G_USEC_PER_SEC;
    bool ok = true;

    g_mutex_lock(&l->lock);
    for (guint i = 0; i < l->channels && ok; i++) {
        while (!l->chan[i].connected && !l->abort_reason) {
            if (!g_cond_wait_until(&l->cond, &l->lock, deadline)) {
                break;
            }
        }
        if (vh_mig_loader_aborted_locked(l, errp)) {
            ok = false;
        } else if (!l->chan[i].connected) {
            ok = vh_mig_bad(errp,
                            "multifd channel %u did not connect within %d s", i,
                            VH_MIG_CHANNEL_CONNECT_TIMEOUT_S);
        }
    }
    g_mutex_unlock(&l->lock);
    return ok;
}

bool vh_mig_wait_barrier(VhMigLoader *l, bool flush, guint64 n,
                         const guint8 *packets, GError **errp)
{
    const char *what = flush ? "DIRTY_SYNC" : "ITER_END";
    bool ok = true;

    g_mutex_lock(&l->lock);
    for (guint32 i = 0; i < l->channels && ok; i++) {
        guint64 want = vh_mig_take_u64(&packets);
        guint64 *at = flush ? &l->chan[i].flushed : &l->chan[i].synced_iter;

        while (*at < n && !l->abort_reason && !l->chan[i].failed) {
            g_cond_wait(&l->cond, &l->lock);
        }
        if (vh_mig_loader_aborted_locked(l, errp)) {
            ok = false;
        } else if (*at < n) {
            ok = vh_mig_bad(errp,
                            "%s %" G_GUINT64_FORMAT
                            ": multifd channel %u failed before its %s",
                            what, n, i, flush ? "FLUSH" : "SYNC");
        } else if ((flush ? l->chan[i].flush_packets
                          : l->chan[i].sync_packets) != want) {
            ok = vh_mig_bad(errp,
                            "%s %" G_GUINT64_FORMAT
                            ": channel %u carried %" G_GUINT64_FORMAT
                            " records, the main stream says %" G_GUINT64_FORMAT,
                            what, n, i,
                            flush ? l->chan[i].flush_packets
                                  : l->chan[i].sync_packets,
                            want);
        }
    }
    g_mutex_unlock(&l->lock);
    return ok;
}

void vh_mig_open_barrier(VhMigLoader *l, bool flush, guint64 n)
{
    g_mutex_lock(&l->lock);
    if (flush) {
        l->released_flush = n;
    } else {
        l->released_iter = n;
        l->counts.iterations = n;
    }
    g_cond_broadcast(&l->cond);
    g_mutex_unlock(&l->lock);
}

bool vh_mig_wait_channels_done(VhMigLoader *l, GError **errp)
{
    bool ok = true;

    g_mutex_lock(&l->lock);
    for (guint i = 0; i < l->channels && ok; i++) {
        while (!l->chan[i].done && !l->abort_reason && !l->chan[i].failed) {
            g_cond_wait(&l->cond, &l->lock);
        }
        if (vh_mig_loader_aborted_locked(l, errp)) {
            ok = false;
        } else if (!l->chan[i].done) {
            ok = vh_mig_bad(errp, "END: multifd channel %u failed", i);
        }
    }
    g_mutex_unlock(&l->lock);
    return ok;
}

/* Under the lock, once the header is in: may channel @idx join? */
static bool hello_join_locked(VhMigLoader *l, guint32 idx, const guint8 *uuid,
                              guint *epoch, GError **errp)
{
    if (vh_mig_loader_aborted_locked(l, errp)) {
        return false;
    }
    if (!(l->flags & VH_MIG_FLAG_MULTIFD)) {
        return vh_mig_bad(errp,
                          "multifd channel %u: the main stream has no "
                          "multifd channels",
                          idx);
    }
    if (memcmp(uuid, l->uuid, VH_MIG_UUID_SIZE) != 0) {
        return vh_mig_bad(errp,
                          "multifd channel %u: session uuid does not match "
                          "the main stream",
                          idx);
    }
    if (idx >= l->channels) {
        return vh_mig_bad(errp,
                          "multifd channel hello: index %u out of range (%u "
                          "channels)",
                          idx, l->channels);
    }
    if (l->chan[idx].connected) {
        return vh_mig_bad(
            errp, "multifd channel hello: index %u connected twice", idx);
    }
    l->chan[idx].connected = true;
    *epoch = l->pc_epoch;
    g_cond_broadcast(&l->cond);
    return true;
}

/* The channel's hello: checked against the main header once known. */
static bool channel_hello(VhMigLoader *l, VhChannel *ch,
                          const VhMigPreamble *pre, guint32 *index,
                          guint *epoch, GError **errp)
{
    guint8 h[VH_MIG_HELLO_SIZE];
    const guint8 *p = h + VH_MIG_MAGIC_SIZE;
    const guint8 *uuid;
    guint32 version;
    bool ok;

    if (!vh_mig_preamble_bytes(ch, pre, h, sizeof(h), "multifd channel hello",
                               errp)) {
        return false;
    }
    if (memcmp(h, VH_MIG_CHANNEL_MAGIC, VH_MIG_MAGIC_SIZE) != 0) {
        return vh_mig_bad(errp, "multifd channel hello: bad magic");
    }
    version = vh_mig_take_u32(&p);
    *index = vh_mig_take_u32(&p);
    uuid = p;
    p += VH_MIG_UUID_SIZE;
    if (version != VH_MIG_STREAM_VERSION) {
        return vh_mig_bad(
            errp, "multifd channel hello: version %u not supported", version);
    }
    if (vh_mig_take_u64(&p) != 0) {
        return vh_mig_bad(errp,
                          "multifd channel hello: reserved field is not zero");
    }
    g_mutex_lock(&l->lock);
    while (!l->have_header && !l->abort_reason) {
        g_cond_wait(&l->cond, &l->lock);
    }
    ok = hello_join_locked(l, *index, uuid, epoch, errp);
    g_mutex_unlock(&l->lock);
    return ok;
}

/*
 * SYNC (FLUSH when @flush): wait until the main stream has checked this
 * iteration's ITER_END (this DIRTY_SYNC) and done what comes with it.
 */
static bool channel_barrier(VhMigLoader *l, guint32 idx, guint epoch,
                            bool flush, const guint8 *b, guint64 received,
                            GError **errp)
{
    const char *what = flush ? "FLUSH" : "SYNC";
    guint64 it = vh_mig_take_u64(&b);
    guint64 n = vh_mig_take_u64(&b);
    VhMigChanState *c = &l->chan[idx];
    guint64 *at, *released;
    bool ok = true;

    g_mutex_lock(&l->lock);
    at = flush ? &c->flushed : &c->synced_iter;
    released = flush ? &l->released_flush : &l->released_iter;
    if (epoch != l->pc_epoch) {
        ok = vh_mig_bad(errp, "multifd channel %u: replaced by a resume", idx);
    } else if (flush && !(l->flags & VH_MIG_FLAG_POSTCOPY)) {
        ok = vh_mig_bad(
            errp, "multifd channel %u: FLUSH without the post-copy flag", idx);
    } else if (flush && vh_mig_loader_in_postcopy(l)) {
        ok = vh_mig_bad(errp, "multifd channel %u: FLUSH after POSTCOPY_RUN",
                        idx);
    } else if (it != *at + 1) {
        ok = vh_mig_bad(errp,
                        "multifd channel %u %s: %s %" G_GUINT64_FORMAT
                        " out of order (expected %" G_GUINT64_FORMAT ")",
                        idx, what, flush ? "sync" : "iteration", it, *at + 1);
    } else if (n != received) {
        ok = vh_mig_bad(errp,
                        "multifd channel %u %s %" G_GUINT64_FORMAT
                        ": %" G_GUINT64_FORMAT
                        " records announced, %" G_GUINT64_FORMAT " received",
                        idx, what, it, n, received);
    } else {
        *at = it;
        if (flush) {
            c->flush_packets = n;
        } else {
            c->sync_packets = n;
        }
        g_cond_broadcast(&l->cond);
        while (*released < it && !l->abort_reason && l->pc_epoch == epoch) {
            g_cond_wait(&l->cond, &l->lock);
        }
        ok = !vh_mig_loader_aborted_locked(l, errp);
        if (ok && l->pc_epoch != epoch) {
            ok = vh_mig_bad(errp, "multifd channel %u: replaced by a resume",
                            idx);
        }
    }
    g_mutex_unlock(&l->lock);
    return ok;
}

/* Where a channel is. */
typedef struct {
    guint32 idx;
    guint epoch; /* the post-copy pauses when it joined */
    char *where; /* "multifd channel N" */
    guint64 in_iter;
    guint64 total;
} ChanPos;

/* CHANNEL_END: the totals, the clean end, and the main stream told. */
static bool channel_end(VhMigLoader *l, VhChannel *ch, ChanPos *c, guint32 len,
                        GError **errp)
{
    guint8 body[VH_MIG_CHANNEL_END_BODY];
    const guint8 *p = body;
    guint64 announced;

    if (!vh_mig_expect_len("CHANNEL_END", len, VH_MIG_CHANNEL_END_BODY, errp) ||
        !vh_mig_read_exact(ch, body, sizeof(body), "CHANNEL_END section",
                           errp)) {
        return false;
    }
    announced = vh_mig_take_u64(&p);
    if (c->in_iter) {
        return vh_mig_bad(errp, "%s: CHANNEL_END after records without a SYNC",
                          c->where);
    }
    if (announced != c->total) {
        return vh_mig_bad(errp,
                          "%s CHANNEL_END: %" G_GUINT64_FORMAT
                          " records announced, %" G_GUINT64_FORMAT " received",
                          c->where, announced, c->total);
    }
    if (!vh_mig_expect_eof(ch, c->where, errp)) {
        return false;
    }
    g_mutex_lock(&l->lock);
    if (c->epoch == l->pc_epoch) {
        l->chan[c->idx].done = true;
        l->chan[c->idx].total_packets = c->total;
        g_cond_broadcast(&l->cond);
    }
    g_mutex_unlock(&l->lock);
    return true;
}

/* One section of a channel; *@done after CHANNEL_END. */
static bool channel_section(VhMigLoader *l, VhChannel *ch, ChanPos *c,
                            bool *done, GError **errp)
{
    guint8 sh[VH_MIG_SECTION_HEADER_SIZE];
    guint8 body[VH_MIG_PAGES_BODY];
    const guint8 *p = sh;
    guint32 type, len;

    if (!vh_mig_read_exact(ch, sh, sizeof(sh), "multifd channel section header",
                           errp)) {
        return false;
    }
    type = vh_mig_take_u32(&p);
    len = vh_mig_take_u32(&p);
    switch (type) {
    case VH_MIG_SEC_PAGES:
        if (!vh_mig_expect_len("PAGES", len, VH_MIG_PAGES_BODY, errp) ||
            !vh_mig_read_exact(ch, body, VH_MIG_PAGES_BODY,
                               "PAGES record header", errp) ||
            !vh_mig_load_pages(l, ch, body, c->where, errp)) {
            return false;
        }
        c->in_iter++;
        c->total++;
        return true;
    case VH_MIG_SEC_SYNC:
    case VH_MIG_SEC_FLUSH: {
        bool flush = type == VH_MIG_SEC_FLUSH;
        const char *name = flush ? "FLUSH" : "SYNC";

        /* Both bodies are u64 number, u64 records since the last of either. */
        if (!vh_mig_expect_len(name, len, VH_MIG_SYNC_BODY, errp) ||
            !vh_mig_read_exact(ch, body, VH_MIG_SYNC_BODY, name, errp) ||
            !channel_barrier(l, c->idx, c->epoch, flush, body, c->in_iter,
                             errp)) {
            return false;
        }
        c->in_iter = 0;
        return true;
    }
    case VH_MIG_SEC_CHANNEL_END:
        *done = true;
        return channel_end(l, ch, c, len, errp);
    default:
        return vh_mig_bad(errp, "%s: unknown section type %u", c->where, type);
    }
}

static bool run_channel(VhMigLoader *l, VhChannel *ch, const VhMigPreamble *pre,
                        guint32 *idxp, guint *epoch, GError **errp)
{
    ChanPos c = {0};
    bool done = false, ok = true;

    if (!channel_hello(l, ch, pre, &c.idx, &c.epoch, errp)) {
        /* An index out of range or taken is no channel of ours. */
        return false;
    }
    *idxp = c.idx;
    *epoch = c.epoch;
    c.where = g_strdup_printf("multifd channel %u", c.idx);
    while (ok && !done) {
        ok = channel_section(l, ch, &c, &done, errp);
    }
    g_free(c.where);
    return ok;
}

bool vh_mig_loader_run_channel(VhMigLoader *l, VhChannel *ch,
                               const VhMigPreamble *pre, GError **errp)
{
    guint32 idx = G_MAXUINT32;
    guint epoch = 0;
    GError *err = NULL;

    if (!run_channel(l, ch, pre, &idx, &epoch, &err)) {
        /*
         * A stray connection that never became one of ours does not abort
         * the migration; a failure inside a registered channel does. In
         * post-copy it pauses instead: the main stream's waits for this
         * channel end (unless a resume replaced it meanwhile).
         */
        if (idx != G_MAXUINT32 && !vh_mig_loader_in_postcopy(l)) {
            vh_mig_loader_abort(l, err->message);
        } else if (idx != G_MAXUINT32) {
            g_mutex_lock(&l->lock);
            if (epoch == l->pc_epoch) {
                l->chan[idx].failed = true;
                g_cond_broadcast(&l->cond);
            }
            g_mutex_unlock(&l->lock);
        }
        g_propagate_error(errp, err);
        return false;
    }
    return true;
}
