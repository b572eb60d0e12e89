/*
 * The source side: the migration thread (pre-copy over blocking channels).
 * Its PAGES records go through source-pages.c, its multifd channels are
 * multifd-send.c.
 */
#include "migration-priv.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>

#include "multifd-send.h"
#include "postcopy-priv.h"
#include "source-pages.h"
#include "vmhost/io/channel-socket.h"
#include "vmhost/io/channel-tls.h"
#include "vmhost/migration/dirty.h"
#include "vmhost/util/error.h"

#define ESTIMATE_US (100 * 1000) /* bandwidth re-estimate period */
#define THROTTLE_US (100 * 1000) /* max-bandwidth slot */

#define READY_TIMEOUT_S 60 /* for the target's first answer */
/*
 * Post-copy: the dirty log is synced (and what the target holds of it
 * discarded there) every x-postcopy-sync-interval during a pass, so that
 * a switch leaves at most that much of the guest's writes for the target
 * to drop inside the downtime. Its default, 50 ms: at 350 MB/s of random writes (3x a 1 Gbit/s link) 50 ms is
 * ~4300 pages, as many madvise calls of ~1.3 us: under 10 ms. A sync
 * costs the source a page-table walk of its RAM and the DISCARDs
 * (measured 2.5 ms at 1 GiB, 9.5 ms at 4 GiB with uffd-wp): the period
 * grows to MIDPASS_COST_RATIO times the last sync's cost, so that syncs
 * never take more than a fifth of the migration thread.
 */
#define MIDPASS_COST_RATIO 5
/* File-backed RAM is mapped this much at a time before the first pass. */
#define PREFAULT_PAGES ((64u << 20) / VH_RAM_PAGE_SIZE)

typedef struct {
    VhMigration *mig;
    VhMigSourceArgs *a;
    VhRamBlock *ram;
    guint64 pages;
    guint64 nwords; /* bitmap words, whole multifd jobs */
    guint64 *bitmap;
    guint64 *fresh;   /* post-copy: one sync's dirty pages */
    guint64 *discard; /* post-copy: those of them the target holds */
    VhDirtyTracker *tracker;
    VhMigPageSender ps; /* records, and the bytes of every connection */
    VhChannel *main;
    VhChannel *pc_req;    /* post-copy: the target's page requests */
    VhChannel *pc_urgent; /* post-copy: the requested pages */
    VhPostcopySource *pc; /* post-copy: the request server, per round */
    guint64 urgent_records;
    guint nch;
    VhMultifdSend *mf; /* NULL without multifd */
    bool return_path;
    guint64 iteration;
    VhMigCounts counts; /* main-stream records (all, without multifd) */
    /* bandwidth estimate */
    gint64 est_us;
    guint64 est_bytes;
    double bw; /* bytes/s, 0 before the first estimate */
    /* throttle */
    gint64 tb_us;     /* token bucket: last update */
    guint64 tb_bytes; /* bytes sent at that time */
    double allow;     /* bytes that may go now (negative: debt) */
    guint64 remaining_pages;
    bool stopped;
    bool was_running;
    bool to_postcopy; /* pre-copy ends in post-copy (not finish) */
    bool resumed;     /* post-copy resumed: LOADED's totals differ */
    guint8 uuid[VH_MIG_UUID_SIZE];
    VhMigCounts urgent_counts; /* every URGENT connection's so far */
    bool postcopy_started;     /* POSTCOPY_RUN sent: the target may run it */
    bool not_run;              /* a resume's answer: POSTCOPY_RUN never ran */
    bool run_confirmed;        /* READY after POSTCOPY_RUN, or a resume */
    /* x-postcopy-link-timeout: on every connection while link_guard */
    bool link_guard;
    guint link_ms;
    gint64 stop_us;
    gint64 start_us;
    /* post-copy's discards during pre-copy (docs/migration-stream.md) */
    gint64 sync_us;        /* the last dirty sync */
    guint midpass_ms;      /* x-postcopy-sync-interval; 0: none mid-pass */
    guint64 flushes;       /* mid-pass syncs (DIRTY_SYNC's count) */
    guint64 early_pages;   /* pages discarded with the guest running */
    guint64 early_ranges;  /* their ranges */
    guint64 switch_pages;  /* pages discarded at the switch */
    guint64 switch_ranges; /* their ranges */
    gint64 midpass_us;     /* time spent in mid-pass syncs */
    gint64 midpass_last;   /* the last one's */
} Source;

static guint64 get_bytes(Source *s)
{
    return vh_mig_page_sender_get_bytes(&s->ps);
}

static bool cancelled(Source *s, GError **errp)
{
    if (g_atomic_int_get(&s->mig->src.cancelling)) {
        g_set_error_literal(errp, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                            "migration cancelled");
        return true;
    }
    return false;
}

static void keep_for_cancel(Source *s, VhChannel *ch)
{
    g_mutex_lock(&s->mig->src.lock);
    g_ptr_array_add(s->mig->src.shut, g_object_ref(ch));
    /* A cancel that came before this channel existed. */
    if (g_atomic_int_get(&s->mig->src.cancelling)) {
        vh_mig_shutdown_quietly(ch);
    }
    g_mutex_unlock(&s->mig->src.lock);
}

static bool connect_one(Source *s, const char *what, VhChannel **out,
                        GError **errp)
{
    VhMigration *mig = s->mig;
    VhChannel *ch = vh_mig_connect(&s->a->uri, &s->a->tls, mig->fdl,
                                   mig->fdl_opaque, mig->src.cancel, errp);

    if (!ch) {
        if (!cancelled(s, NULL)) {
            g_prefix_error(errp, "%s: ", what);
        }
        return false;
    }
    vh_channel_set_name(ch, what);
    if (VH_IS_CHANNEL_TLS(ch)) {
        /* Its socket's errors name the connection too. */
        vh_channel_set_name(vh_channel_tls_get_master(VH_CHANNEL_TLS(ch)),
                            what);
    }
    if (s->link_guard) {
        /* A resume's connection: a dead link must not hang it either. */
        (void)vh_mig_link_timeout_apply(ch, s->link_ms);
    }
    keep_for_cancel(s, ch);
    *out = ch;
    return true;
}

/* ---- x-postcopy-link-timeout ---- */

/*
 * The parameter as it is now (the switch, each resume): from here on
 * every connection made gets it.
 */
static void link_guard_read(Source *s)
{
    s->link_ms = vh_mig_conf_link_timeout(s->mig);
    s->link_guard = s->link_ms != 0;
}

/* @ms (0: the kernel's behaviour) on every connection; how many took it. */
static guint link_guard_set(Source *s, guint ms)
{
    guint n = 0;

    g_mutex_lock(&s->mig->src.lock);
    for (guint i = 0; i < s->mig->src.shut->len; i++) {
        n += vh_mig_link_timeout_apply(g_ptr_array_index(s->mig->src.shut, i),
                                       ms) > 0;
    }
    g_mutex_unlock(&s->mig->src.lock);
    return n;
}

/* The timeout on every connection there is now, and the log says so. */
static void link_guard_apply(Source *s, const char *when)
{
    guint n;

    if (!s->link_guard) {
        g_message("migration: %s: x-postcopy-link-timeout 0: a link that "
                  "dies silently goes unnoticed for minutes (migrate_pause "
                  "pauses by hand)",
                  when);
        return;
    }
    n = link_guard_set(s, s->link_ms);
    g_message("migration: %s: x-postcopy-link-timeout %u ms on %u TCP "
              "connections",
              when, s->link_ms, n);
}

/* Post-copy is over: sockets that live on get the kernel's behaviour. */
static void link_guard_off(Source *s)
{
    if (s->link_guard) {
        s->link_guard = false;
        (void)link_guard_set(s, 0);
    }
}

/* Connect every multifd channel and start its thread. */
static bool start_channels(Source *s, const guint8 uuid[VH_MIG_UUID_SIZE],
                           GError **errp)
{
    s->mf = vh_multifd_send_new(&s->ps, s->nch);
    for (guint i = 0; i < s->nch; i++) {
        g_autofree char *what = g_strdup_printf("migration multifd %u", i);
        g_autoptr(VhChannel) ch = NULL;

        if (!connect_one(s, what, &ch, errp) ||
            !vh_multifd_send_start_channel(s->mf, i, ch, uuid, errp)) {
            return false;
        }
    }
    return true;
}

/* Post-copy's REQUEST and URGENT connections, each with its hello. */
static bool connect_postcopy(Source *s, const guint8 uuid[VH_MIG_UUID_SIZE],
                             GError **errp)
{
    g_autoptr(GByteArray) b = g_byte_array_new();

    if (!connect_one(s, "migration postcopy requests", &s->pc_req, errp) ||
        !connect_one(s, "migration postcopy urgent", &s->pc_urgent, errp)) {
        return false;
    }
    vh_mig_put_pc_hello(b, VH_MIG_PC_ROLE_REQUEST, uuid);
    if (!vh_mig_page_sender_write(&s->ps, s->pc_req, b, errp)) {
        g_prefix_error(errp, "migration postcopy requests: ");
        return false;
    }
    vh_mig_put_pc_hello(b, VH_MIG_PC_ROLE_URGENT, uuid);
    if (!vh_mig_page_sender_write(&s->ps, s->pc_urgent, b, errp)) {
        g_prefix_error(errp, "migration postcopy urgent: ");
        return false;
    }
    return true;
}

/* The URGENT connection's CHANNEL_END and clean end (before END). */
static bool end_urgent(Source *s, GError **errp)
{
    g_autoptr(GByteArray) b = g_byte_array_new();
    g_autoptr(GError) err = NULL;

    if (!s->pc_urgent) {
        return true;
    }
    vh_mig_put_section(b, VH_MIG_SEC_CHANNEL_END, VH_MIG_CHANNEL_END_BODY);
    vh_mig_put_u64(b, s->urgent_records);
    if (!vh_mig_page_sender_write(&s->ps, s->pc_urgent, b, errp)) {
        g_prefix_error(errp, "migration postcopy urgent: ");
        return false;
    }
    if (!vh_channel_shutdown(s->pc_urgent, VH_CHANNEL_SHUTDOWN_WRITE, &err) &&
        !g_error_matches(err, VH_ERROR, VH_ERROR_NOT_SUPPORTED)) {
        g_propagate_prefixed_error(errp, g_steal_pointer(&err),
                                   "migration postcopy urgent: ending: ");
        return false;
    }
    return true;
}

static bool channels_failed(Source *s, GError **errp)
{
    return s->mf && vh_multifd_send_failed(s->mf, errp);
}

/* ---- statistics, bandwidth, throttling ---- */

static void publish(Source *s)
{
    VhMigration *mig = s->mig;
    VhMigCounts c = s->counts;

    if (s->mf) {
        vh_multifd_send_add_counts(s->mf, &c);
    }
    g_mutex_lock(&mig->stats.lock);
    mig->stats.transferred = get_bytes(s);
    mig->stats.remaining = s->remaining_pages * VH_RAM_PAGE_SIZE;
    mig->stats.normal = c.normal;
    mig->stats.zero = c.zero;
    mig->stats.mbps = s->bw * 8 / 1e6;
    mig->stats.expected_downtime_ms =
        s->bw > 0 ? (gint64)(mig->stats.remaining * 1000.0 / s->bw) : 0;
    g_mutex_unlock(&mig->stats.lock);
}

/* Re-estimate the bandwidth over windows of at least 100 ms. */
static void estimate(Source *s)
{
    gint64 now = g_get_monotonic_time();
    gint64 dt = now - s->est_us;
    guint64 bytes = get_bytes(s);

    if (dt >= ESTIMATE_US) {
        s->bw = (double)(bytes - s->est_bytes) * G_USEC_PER_SEC / dt;
        s->est_us = now;
        s->est_bytes = bytes;
        publish(s);
    }
}

static guint64 max_bandwidth(Source *s)
{
    guint64 v;

    g_mutex_lock(&s->mig->conf.lock);
    /* Post-copy's bulk has a limit of its own (QEMU's too). */
    v = s->postcopy_started ? s->mig->conf.params.max_postcopy_bandwidth
                            : s->mig->conf.params.max_bandwidth;
    g_mutex_unlock(&s->mig->conf.lock);
    return v;
}

/*
 * max-bandwidth as a token bucket over the bytes actually sent (every
 * connection): the allowance grows at the limit, at most 100 ms worth
 * (the burst), and every byte sent spends it, into debt if need be; while
 * in debt the sender sleeps it off. The long-run rate is the limit
 * exactly, whatever the record sizes and however many records multifd
 * channels still have queued.
 */
static bool throttle(Source *s, GError **errp)
{
    /* The guest is stopped: the rest goes at full speed (QEMU does too). */
    if (s->stopped && !s->postcopy_started) {
        return true;
    }
    for (;;) {
        guint64 max = max_bandwidth(s);
        guint64 bytes = get_bytes(s);
        gint64 now = g_get_monotonic_time();
        double wait_us;

        if (!max) {
            s->allow = 0;
            s->tb_us = now;
            s->tb_bytes = bytes;
            return true;
        }
        s->allow += (double)(now - s->tb_us) * (double)max / G_USEC_PER_SEC;
        s->allow = MIN(s->allow, (double)max * THROTTLE_US / G_USEC_PER_SEC);
        s->allow -= (double)(bytes - s->tb_bytes);
        s->tb_us = now;
        s->tb_bytes = bytes;
        if (s->allow >= 0) {
            return true;
        }
        if (cancelled(s, errp)) {
            return false;
        }
        /*
         * A connection failed: the caller finds out (and pauses) at its
         * next step instead of sleeping off the debt first, which the
         * URGENT pages served can have run up to seconds.
         */
        if ((s->pc && vh_postcopy_source_failed(s->pc)) ||
            (s->mf && vh_multifd_send_failed(s->mf, NULL))) {
            return true;
        }
        wait_us = -s->allow * G_USEC_PER_SEC / (double)max;
        g_usleep((gulong)MIN(wait_us + 1, 10000.0));
    }
}

/* ---- the passes ---- */

/* migrate_start_postcopy came (pre-copy only, postcopy-ram on). */
static bool postcopy_wanted(Source *s)
{
    if (!s->stopped && s->a->postcopy &&
        g_atomic_int_get(&s->mig->src.postcopy_requested)) {
        s->to_postcopy = true;
    }
    return s->to_postcopy;
}

static bool midpass_sync(Source *s, GError **errp);

/* One record on the main connection (no multifd). */
static bool send_record(Source *s, guint64 first, guint32 count,
                        const guint64 present[4], GError **errp)
{
    if (s->iteration == 0) {
        vh_mig_prefault(s->ram, first, count);
    }
    return vh_mig_page_sender_send(&s->ps, s->main, s->iteration == 0, first,
                                   count, present, &s->counts, errp);
}

/* One job of up to VH_MULTIFD_JOB_RECORDS records for the channels. */
static bool send_job(Source *s, guint64 first, const guint64 *present,
                     GError **errp)
{
    vh_multifd_send_pages(s->mf, first, s->pages, present, s->iteration == 0);
    return !channels_failed(s, errp);
}

/*
 * Send (and clear) every page whose bit is set: a record (4 words, 256
 * pages) at a time on the main connection, a job (VH_MULTIFD_JOB_RECORDS records) at
 * a time over multifd.
 */
static bool send_pass(Source *s, GError **errp)
{
    guint step = s->nch ? VH_MULTIFD_JOB_WORDS : VH_MIG_BITMAP_WORDS;

    for (guint64 w = 0; w < s->nwords; w += step) {
        guint64 *p = &s->bitmap[w];
        guint64 first = w * 64;
        guint64 present[VH_MULTIFD_JOB_WORDS];
        guint64 any = 0;
        guint n = 0;
        bool ok;

        for (guint k = 0; k < step; k++) {
            any |= p[k];
        }
        if (!any) {
            continue;
        }
        for (guint k = 0; k < step; k++) {
            present[k] = p[k];
            n += (guint)__builtin_popcountll(p[k]);
            p[k] = 0;
        }
        ok = s->nch ? send_job(s, first, present, errp)
                    : send_record(
                          s, first,
                          (guint32)MIN(VH_MIG_RECORD_PAGES, s->pages - first),
                          present, errp);
        if (!ok) {
            return false;
        }
        s->remaining_pages -= MIN(n, s->remaining_pages);
        if (cancelled(s, errp) || !throttle(s, errp)) {
            return false;
        }
        estimate(s);
        if (postcopy_wanted(s)) {
            /* The rest of this pass goes in post-copy. */
            return true;
        }
        if (s->a->postcopy && !s->stopped && !midpass_sync(s, errp)) {
            return false;
        }
    }
    return true;
}

static bool end_iteration(Source *s, GError **errp)
{
    g_autoptr(GByteArray) b = g_byte_array_new();

    guint64 packets[VH_MIG_MAX_CHANNELS] = {0};

    s->iteration++;
    if (s->mf) {
        vh_multifd_send_sync(s->mf, s->iteration, packets);
    }
    vh_mig_put_iter_end(b, s->iteration, s->nch, packets);
    if (!vh_mig_page_sender_write(&s->ps, s->main, b, errp)) {
        return false;
    }
    return !channels_failed(s, errp);
}

/* Collect the kernel's dirty pages into the bitmap; returns the count. */
static gint64 dirty_sync(Source *s, GError **errp)
{
    gint64 n = vh_dirty_tracker_sync(s->tracker, s->bitmap, errp);

    if (n < 0) {
        g_prefix_error(errp, "dirty tracking: ");
        return -1;
    }
    s->sync_us = g_get_monotonic_time();
    s->remaining_pages = (guint64)n;
    g_mutex_lock(&s->mig->stats.lock);
    s->mig->stats.sync_count++;
    g_mutex_unlock(&s->mig->stats.lock);
    return n;
}

static guint64 bitmap_count(Source *s);

/*
 * Post-copy ahead: a dirty sync that also discards, on the target, the
 * pages it found dirty that the target holds. The target holds exactly
 * the pages whose bit is clear here: a page's bit is cleared when it is
 * sent and set again when it is found dirty, and every page found dirty
 * while the target held it is named by the DISCARD written here, before
 * the page can go again. So the target's received bitmap is the
 * complement of this one once the DISCARDs are applied, and the switch
 * has only the last sync's pages to discard. @pass: a pass ends here
 * (dirty-sync-count counts passes; mid-pass syncs are counted apart).
 * Returns the pages to send.
 */
static gint64 sync_discard(Source *s, bool pass, GError **errp)
{
    g_autoptr(GByteArray) b = g_byte_array_new();
    gint64 n;
    guint64 ranges = 0, pages;

    memset(s->fresh, 0, s->nwords * sizeof(guint64));
    n = vh_dirty_tracker_sync(s->tracker, s->fresh, errp);
    if (n < 0) {
        g_prefix_error(errp, "dirty tracking: ");
        return -1;
    }
    s->sync_us = g_get_monotonic_time();
    for (guint64 w = 0; w < s->nwords; w++) {
        s->discard[w] = s->fresh[w] & ~s->bitmap[w];
        s->bitmap[w] |= s->fresh[w];
    }
    pages = vh_mig_put_discard(b, s->discard, s->pages);
    for (guint64 w = 0, carry = 0; w < s->nwords; w++) {
        guint64 x = s->discard[w];

        /* Runs = their first pages: set bits whose lower neighbour is clear. */
        ranges += (guint64)__builtin_popcountll(x & ~((x << 1) | carry));
        carry = x >> 63;
    }
    if (b->len && !vh_mig_page_sender_write(&s->ps, s->main, b, errp)) {
        return -1;
    }
    if (s->stopped) {
        s->switch_pages += pages;
        s->switch_ranges += ranges;
    } else {
        s->early_pages += pages;
        s->early_ranges += ranges;
    }
    s->remaining_pages = bitmap_count(s);
    if (pass) {
        g_mutex_lock(&s->mig->stats.lock);
        s->mig->stats.sync_count++;
        g_mutex_unlock(&s->mig->stats.lock);
    }
    return (gint64)s->remaining_pages;
}

/*
 * A sync in the middle of a pass (post-copy only), every
 * x-postcopy-sync-interval:
 * its DISCARDs, and with multifd a barrier (a FLUSH on every channel, then
 * DIRTY_SYNC) so that the target drops the pages only once every record
 * sent before is loaded, and before any sent after is.
 */
static bool midpass_sync(Source *s, GError **errp)
{
    g_autoptr(GByteArray) b = g_byte_array_new();
    guint64 packets[VH_MIG_MAX_CHANNELS] = {0};
    gint64 t0 = g_get_monotonic_time();

    /* At most a fifth of the time in syncs (a big RAM's walk is long). */
    if (!s->midpass_ms ||
        t0 - s->sync_us < MAX((gint64)s->midpass_ms * 1000,
                              MIDPASS_COST_RATIO * s->midpass_last)) {
        return true;
    }
    if (sync_discard(s, false, errp) < 0) {
        return false;
    }
    s->midpass_last = g_get_monotonic_time() - t0;
    s->midpass_us += s->midpass_last;
    s->flushes++;
    if (s->mf) {
        vh_multifd_send_flush(s->mf, s->flushes, packets);
        vh_mig_put_dirty_sync(b, s->flushes, s->nch, packets);
        if (!vh_mig_page_sender_write(&s->ps, s->main, b, errp)) {
            return false;
        }
    }
    return !channels_failed(s, errp);
}

/*
 * A watchdog on the main context for the READY answer: a peer that took
 * the connection but never answers (not a vmhost target) is cut off.
 */
typedef struct {
    gatomicrefcount ref;
    VhChannel *ch;
    gint fired; /* atomic */
} Watchdog;

static void watchdog_unref(gpointer opaque)
{
    Watchdog *w = opaque;

    if (g_atomic_ref_count_dec(&w->ref)) {
        g_object_unref(w->ch);
        g_free(w);
    }
}

static gboolean watchdog_fire(gpointer opaque)
{
    Watchdog *w = opaque;

    g_atomic_int_set(&w->fired, 1);
    vh_mig_shutdown_quietly(w->ch);
    return G_SOURCE_REMOVE;
}

/* READY_TIMEOUT_S, or VMHOST_MIG_READY_TIMEOUT seconds (tests). */
static guint ready_timeout(void)
{
    const char *e = g_getenv("VMHOST_MIG_READY_TIMEOUT");
    guint64 v;

    if (e && g_ascii_string_to_unsigned(e, 10, 1, 3600, &v, NULL)) {
        return (guint)v;
    }
    return READY_TIMEOUT_S;
}

static bool wait_ready(Source *s, VhMigRpType *rp, VhMigCounts *c,
                       GError **errp)
{
    Watchdog *w = g_new0(Watchdog, 1);
    guint timeout = ready_timeout();
    GSource *src = g_timeout_source_new_seconds(timeout);
    bool ok;

    g_atomic_ref_count_init(&w->ref);
    w->ch = g_object_ref(s->main);
    g_atomic_ref_count_inc(&w->ref);
    g_source_set_callback(src, watchdog_fire, w, watchdog_unref);
    g_source_attach(src, s->mig->ctx);
    ok = vh_mig_rp_recv(s->main, rp, c, errp);
    g_source_destroy(src);
    g_source_unref(src);
    if (!ok && g_atomic_int_get(&w->fired)) {
        g_clear_error(errp);
        g_set_error(errp, VH_ERROR, VH_ERROR_FAILED,
                    "no answer within %u s (is the peer a vmhost waiting "
                    "with migrate_incoming?)",
                    timeout);
    }
    watchdog_unref(w);
    return ok;
}

/* Connections, header and RAM_SETUP, and the target's READY. */
static bool setup_connect(Source *s, GError **errp)
{
    g_autoptr(GByteArray) b = g_byte_array_new();
    guint8 uuid[VH_MIG_UUID_SIZE];
    guint32 flags = 0;
    VhMigRpType rp;
    VhMigCounts dummy;

    for (guint i = 0; i < VH_MIG_UUID_SIZE; i++) {
        uuid[i] = (guint8)g_random_int();
    }
    memcpy(s->uuid, uuid, VH_MIG_UUID_SIZE);
    s->nch = s->a->multifd ? s->a->params.multifd_channels : 0;
    s->return_path =
        s->a->uri.kind != VH_MIG_URI_EXEC && s->a->uri.kind != VH_MIG_URI_FILE;
    if (!connect_one(s, "migration main", &s->main, errp) ||
        (s->nch && !start_channels(s, uuid, errp)) ||
        (s->a->postcopy && !connect_postcopy(s, uuid, errp))) {
        return false;
    }
    flags |= s->nch ? VH_MIG_FLAG_MULTIFD : 0;
    flags |= s->return_path ? VH_MIG_FLAG_RETURN_PATH : 0;
    flags |= s->a->postcopy ? VH_MIG_FLAG_POSTCOPY : 0;
    vh_mig_put_header(b, flags, s->nch, uuid);
    vh_mig_put_ram_setup(b, s->ram);
    if (!vh_mig_page_sender_write(&s->ps, s->main, b, errp)) {
        g_prefix_error(errp, "migration main: ");
        return false;
    }
    if (s->return_path && !wait_ready(s, &rp, &dummy, errp)) {
        g_prefix_error(errp, "waiting for the target to accept: ");
        return false;
    }
    if (s->return_path && rp != VH_MIG_RP_READY) {
        g_set_error_literal(errp, VH_ERROR, VH_ERROR_FAILED,
                            "return path: LOADED before READY");
        return false;
    }
    return true;
}

static bool setup(Source *s, GError **errp)
{
    VhMigration *mig = s->mig;

    if (!setup_connect(s, errp)) {
        return false;
    }
    /*
     * File-backed RAM: map it all before the tracker protects it, so that
     * the first pass reads present pages instead of faulting through
     * write-protect markers; 64 MiB at a time, so a cancel gets through.
     */
    for (guint64 first = 0; first < s->pages; first += PREFAULT_PAGES) {
        if (cancelled(s, errp)) {
            return false;
        }
        vh_mig_prefault(s->ram, first, MIN(PREFAULT_PAGES, s->pages - first));
    }
    /* Anonymous RAM: the first pass skips what was never populated. */
    vh_mig_page_sender_open_pagemap(&s->ps);
    s->tracker =
        vh_dirty_tracker_new(vh_ram_block_get_host(s->ram),
                             vh_ram_block_get_size(s->ram), NULL, errp);
    if (!s->tracker) {
        g_prefix_error(errp, "dirty tracking: ");
        return false;
    }
    g_mutex_lock(&mig->stats.lock);
    mig->stats.mechanism = vh_dirty_tracker_mechanism(s->tracker);
    mig->stats.setup_ms = (g_get_monotonic_time() - mig->stats.start_us) / 1000;
    mig->stats.nch = s->nch;
    g_mutex_unlock(&mig->stats.lock);
    return true;
}

static bool converged(Source *s, guint64 dirty)
{
    guint64 limit;
    double bw;

    g_mutex_lock(&s->mig->conf.lock);
    limit = s->mig->conf.params.downtime_limit;
    g_mutex_unlock(&s->mig->conf.lock);
    estimate(s);
    bw = s->bw;
    if (bw == 0) {
        /* Less than one window so far: the average since the start. */
        gint64 dt = g_get_monotonic_time() - s->start_us;

        bw = dt > 0 ? (double)get_bytes(s) * G_USEC_PER_SEC / dt : 0;
    }
    /* A burst can measure above max-bandwidth; the rest will not go faster. */
    if (max_bandwidth(s) && bw > (double)max_bandwidth(s)) {
        bw = (double)max_bandwidth(s);
    }
    return dirty == 0 ||
           (double)dirty * VH_RAM_PAGE_SIZE <= bw * (double)limit / 1000.0;
}

/* x-postcopy-after-passes: that many passes without converging. */
static bool auto_postcopy(Source *s)
{
    guint32 n;

    if (!s->a->postcopy) {
        return false;
    }
    g_mutex_lock(&s->mig->conf.lock);
    n = s->mig->conf.params.postcopy_after_passes;
    g_mutex_unlock(&s->mig->conf.lock);
    return n && s->iteration >= n;
}

static bool precopy(Source *s, GError **errp)
{
    gint64 pass_start = g_get_monotonic_time();

    /* First pass: every page. */
    memset(s->bitmap, 0xff, s->pages / 64 * 8);
    if (s->pages % 64) {
        s->bitmap[s->pages / 64] = (1ULL << (s->pages % 64)) - 1;
    }
    s->remaining_pages = s->pages;
    for (;;) {
        gint64 n, now;

        if (!send_pass(s, errp)) {
            return false;
        }
        if (s->to_postcopy) {
            return true;
        }
        if (s->a->postcopy) {
            /* Its DISCARDs before the ITER_END that drops them. */
            n = sync_discard(s, true, errp);
            if (n < 0 || !end_iteration(s, errp)) {
                return false;
            }
        } else {
            if (!end_iteration(s, errp)) {
                return false;
            }
            n = dirty_sync(s, errp);
            if (n < 0) {
                return false;
            }
        }
        now = g_get_monotonic_time();
        g_mutex_lock(&s->mig->stats.lock);
        s->mig->stats.dirty_rate =
            (guint64)((double)n * G_USEC_PER_SEC / MAX(now - pass_start, 1));
        g_mutex_unlock(&s->mig->stats.lock);
        pass_start = now;
        publish(s);
        if (converged(s, (guint64)n)) {
            return true;
        }
        if (cancelled(s, errp)) {
            return false;
        }
        if (auto_postcopy(s)) {
            g_message(
                "migration: pre-copy has not converged after %" G_GUINT64_FORMAT
                " passes: starting post-copy (x-postcopy-after-passes)",
                s->iteration);
            s->to_postcopy = true;
            return true;
        }
        if (postcopy_wanted(s)) {
            return true;
        }
    }
}

static bool stop_guest(Source *s, GError **errp)
{
    VhMachine *m = s->mig->machine;

    s->stop_us = g_get_monotonic_time();
    s->was_running = vh_machine_get_state(m) == VH_RUN_STATE_RUNNING;
    if (s->was_running && !vh_machine_set_state(m, VH_RUN_STATE_PAUSED, errp)) {
        return false;
    }
    s->stopped = true;
    return true;
}

static void sum_counts(Source *s, VhMigCounts *c)
{
    *c = s->counts;
    if (s->mf) {
        vh_multifd_send_add_counts(s->mf, c);
    }
    c->iterations = s->iteration;
}

/*
 * exec: without a return path: whatever the command still prints (a TLS
 * peer's close-notify through socat) is read, so that it does not die of
 * a broken pipe and fail its exit status.
 */
static void drain(VhChannel *ch)
{
    char buf[65536];

    for (guint i = 0; i < 1024; i++) {
        if (vh_channel_read(ch, buf, sizeof(buf), NULL) <= 0) {
            return;
        }
    }
}

static bool end_main(Source *s, GError **errp);
static bool confirm(Source *s, const VhMigCounts *c, GError **errp);

static bool finish(Source *s, GError **errp)
{
    g_autoptr(GByteArray) b = g_byte_array_new();
    g_autoptr(GArray) devices = NULL;
    VhMigCounts c;

    if (!stop_guest(s, errp) || dirty_sync(s, errp) < 0 ||
        !send_pass(s, errp) || !end_iteration(s, errp)) {
        return false;
    }
    /* Every channel ends before END, so END can carry the totals. */
    if (s->mf) {
        vh_multifd_send_end(s->mf);
    }
    if (channels_failed(s, errp)) {
        return false;
    }
    if (!end_urgent(s, errp)) {
        return false;
    }
    /* With the guest stopped, each device saves its own state. */
    devices = vh_machine_get_devices(s->mig->machine);
    vh_mig_put_devices(b, devices, s->was_running);
    sum_counts(s, &c);
    vh_mig_put_end(b, &c);
    if (!vh_mig_page_sender_write(&s->ps, s->main, b, errp)) {
        return false;
    }
    publish(s);
    return end_main(s, errp) && confirm(s, &c, errp);
}

/* The clean end of the main connection: close-notify or a half-close. */
static bool end_main(Source *s, GError **errp)
{
    if (vh_channel_has_feature(s->main, VH_CHANNEL_FEATURE_SHUTDOWN) ||
        VH_IS_CHANNEL(s->main)) {
        g_autoptr(GError) err = NULL;

        if (!vh_channel_shutdown(s->main, VH_CHANNEL_SHUTDOWN_WRITE, &err) &&
            !g_error_matches(err, VH_ERROR, VH_ERROR_NOT_SUPPORTED)) {
            g_propagate_prefixed_error(errp, g_steal_pointer(&err),
                                       "migration main: ending: ");
            return false;
        }
    }
    return true;
}

/* The target's LOADED with the totals sent (@c), or the clean close. */
static bool confirm(Source *s, const VhMigCounts *c, GError **errp)
{
    VhMigCounts got;
    VhMigRpType rp;

    if (!s->return_path) {
        if (s->a->uri.kind == VH_MIG_URI_EXEC) {
            drain(s->main);
        }
        return vh_channel_close(s->main, errp);
    }
    if (!vh_mig_rp_recv(s->main, &rp, &got, errp)) {
        g_prefix_error(errp, "waiting for the target to confirm the load: ");
        return false;
    }
    /* A resume sent again what a cut lost: the totals differ by that. */
    if (rp != VH_MIG_RP_LOADED ||
        (!s->resumed && (got.records != c->records || got.normal != c->normal ||
                         got.zero != c->zero))) {
        g_set_error(
            errp, VH_ERROR, VH_ERROR_FAILED,
            "the target confirmed %" G_GUINT64_FORMAT
            " records, %" G_GUINT64_FORMAT " normal and %" G_GUINT64_FORMAT
            " zero pages, but %" G_GUINT64_FORMAT ", %" G_GUINT64_FORMAT
            " and %" G_GUINT64_FORMAT " were sent",
            got.records, got.normal, got.zero, c->records, c->normal, c->zero);
        return false;
    }
    return true;
}

/* ---- post-copy ---- */

static guint64 bitmap_count(Source *s)
{
    guint64 n = 0;

    for (guint64 w = 0; w < s->nwords; w++) {
        n += (guint64)__builtin_popcountll(s->bitmap[w]);
    }
    return n;
}

/* Pages [first, first + count) went on URGENT: the bulk skips them. */
static void skip_range(Source *s, guint64 first, guint32 count)
{
    for (guint64 p = first; p < first + count && p < s->pages; p++) {
        if ((s->bitmap[p / 64] >> (p % 64)) & 1) {
            s->bitmap[p / 64] &= ~(1ULL << (p % 64));
            s->remaining_pages -= MIN(1, s->remaining_pages);
        }
    }
}

/*
 * The switch's sections go on the main connection behind whatever bulk
 * its socket holds unsent: megabytes (its send buffer), 24-32 ms of a
 * 1 Gbit/s link that were inside the downtime. While the guest still
 * runs, wait (at most UNSENT_WAIT_MS; advisory) until less than
 * UNSENT_BOUND is unsent: TCP_NOTSENT_LOWAT makes the socket writable
 * only then. Only here: for the whole pre-copy the bound cost 6-11% of a
 * 4 GiB pass, the link idling through each dirty sync the buffer had
 * covered.
 */
#define UNSENT_BOUND   (128 * 1024)
#define UNSENT_WAIT_MS 1000
static void drain_unsent(VhChannel *ch)
{
    int v = UNSENT_BOUND, fd;
    struct pollfd pfd;

    while (VH_IS_CHANNEL_TLS(ch)) {
        ch = vh_channel_tls_get_master(VH_CHANNEL_TLS(ch));
    }
    if (!VH_IS_CHANNEL_SOCKET(ch)) {
        return;
    }
    fd = vh_channel_socket_get_fd(VH_CHANNEL_SOCKET(ch));
    if (setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &v, sizeof(v)) < 0) {
        return; /* not TCP (unix:) */
    }
    pfd = (struct pollfd){.fd = fd, .events = POLLOUT};
    while (poll(&pfd, 1, UNSENT_WAIT_MS) < 0 && errno == EINTR) {
    }
    v = 0; /* the system's default again */
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &v, sizeof(v));
}

/*
 * The switch: with the guest stopped, the pages still to send (the rest
 * of the pass, those dirtied since) are discarded on the target, which
 * then has the device state and runs the guest.
 */
static bool postcopy_switch(Source *s, GError **errp)
{
    g_autoptr(GByteArray) b = g_byte_array_new();
    g_autoptr(GArray) devices = NULL;
    VhMigCounts dummy;
    VhMigRpType rp;

    /* From here the source holds a guest that may not run again. */
    link_guard_read(s);
    link_guard_apply(s, "post-copy");
    drain_unsent(s->main);
    if (!stop_guest(s, errp)) {
        return false;
    }
    g_mutex_lock(&s->mig->stats.lock);
    vh_mig_guest_mark_locked(s->mig, true);
    g_mutex_unlock(&s->mig->stats.lock);
    /*
     * The last sync's DISCARDs, dropped at its ITER_END: the pages still
     * to send are then exactly those the target lacks (sync_discard).
     */
    if (sync_discard(s, true, errp) < 0 || !end_iteration(s, errp)) {
        return false;
    }
    /* Multifd channels carry post-copy's bulk too (POSTCOPY_END ends them). */
    if (channels_failed(s, errp)) {
        return false;
    }
    g_message(
        "migration: post-copy switch: %" G_GUINT64_FORMAT
        " pages discarded at the switch (%" G_GUINT64_FORMAT
        " ranges), %" G_GUINT64_FORMAT " before it in %" G_GUINT64_FORMAT
        " ranges over %" G_GUINT64_FORMAT " mid-pass syncs (%.2f ms "
        "each: sync and DISCARDs written); %" G_GUINT64_FORMAT " pages to send",
        s->switch_pages, s->switch_ranges, s->early_pages, s->early_ranges,
        s->flushes,
        s->flushes ? (double)s->midpass_us / 1000.0 / (double)s->flushes : 0.0,
        s->remaining_pages);
    devices = vh_machine_get_devices(s->mig->machine);
    vh_mig_put_devices(b, devices, s->was_running);
    vh_mig_put_postcopy_run(b);
    if (!vh_mig_page_sender_write(&s->ps, s->main, b, errp)) {
        return false;
    }
    /*
     * From here the target may run the guest, whatever happens to READY:
     * a failure pauses (postcopy()), and so does migrate_pause.
     */
    s->postcopy_started = true;
    vh_mig_set_status(s->mig, VH_MIG_STATUS_POSTCOPY_ACTIVE, NULL);
    /* The target runs the guest and then says READY: the bulk may go. */
    if (!vh_mig_rp_recv(s->main, &rp, &dummy, errp)) {
        g_prefix_error(errp, "waiting for the target to run the guest: ");
        return false;
    }
    if (rp != VH_MIG_RP_READY) {
        g_set_error_literal(errp, VH_ERROR, VH_ERROR_FAILED,
                            "return path: LOADED after POSTCOPY_RUN");
        return false;
    }
    s->run_confirmed = true;
    g_mutex_lock(&s->mig->stats.lock);
    s->mig->stats.downtime_ms = (g_get_monotonic_time() - s->stop_us) / 1000;
    g_mutex_unlock(&s->mig->stats.lock);
    publish(s);
    return true;
}

/* Every requested page queued so far, ahead of the background. */
static bool serve_requests(Source *s, VhPostcopySource *pc, guint64 *cursor,
                           GError **errp)
{
    for (;;) {
        guint64 first;
        guint32 count;
        VhMigCounts loaded;

        switch (
            vh_postcopy_source_next(pc, false, &first, &count, &loaded, errp)) {
        case VH_PC_NONE:
            return true;
        case VH_PC_REQUEST:
            /* Served already; the bulk goes on from there. */
            skip_range(s, first, count);
            *cursor = (first + count) / 64 / VH_MIG_BITMAP_WORDS *
                      VH_MIG_BITMAP_WORDS;
            break;
        case VH_PC_LOADED:
            g_set_error_literal(errp, VH_ERROR, VH_ERROR_FAILED,
                                "the target sent LOADED before END");
            return false;
        case VH_PC_FAILED:
        default:
            return false;
        }
    }
}

/*
 * The background: every page still set, requests first. A request moves
 * the walk to the requested page's window (the guest tends to go on from
 * there); the walk ends only when no bit is set anywhere. It once ended
 * after a lap's worth of empty windows since the last send: requests for
 * pages still in flight moved it back over windows already sent, spent
 * that count, and a lap could end before a window still to send, whose
 * pages then never went (the guest read zeros there).
 */
static bool postcopy_push(Source *s, VhPostcopySource *pc, GError **errp)
{
    guint step = s->mf ? VH_MULTIFD_JOB_WORDS : VH_MIG_BITMAP_WORDS;
    guint64 cursor = 0;

    for (;;) {
        guint64 present[VH_MULTIFD_JOB_WORDS];
        guint64 *p;
        guint64 first;
        guint n = 0;
        bool ok;

        if (!serve_requests(s, pc, &cursor, errp)) {
            return false;
        }
        cursor = vh_postcopy_next_window(s->bitmap, s->nwords, step, cursor);
        if (cursor == VH_PC_NO_WINDOW) {
            break;
        }
        p = &s->bitmap[cursor];
        first = cursor * 64;
        for (guint k = 0; k < step; k++) {
            present[k] = p[k];
            n += (guint)__builtin_popcountll(p[k]);
            p[k] = 0;
        }
        ok = s->mf ? send_job(s, first, present, errp)
                   : vh_mig_page_sender_send(
                         &s->ps, s->main, false, first,
                         (guint32)MIN(VH_MIG_RECORD_PAGES, s->pages - first),
                         present, &s->counts, errp);
        if (!ok) {
            return false;
        }
        s->remaining_pages -= MIN(n, s->remaining_pages);
        estimate(s);
        if (!throttle(s, errp)) {
            return false;
        }
        cursor += step;
    }
    /* The channels' last records land before END: a barrier, then their end. */
    if (s->mf) {
        if (!end_iteration(s, errp)) {
            return false;
        }
        vh_multifd_send_end(s->mf);
        return !channels_failed(s, errp);
    }
    return true;
}

/* One round of post-copy on the connections there are now. */
static bool postcopy_round(Source *s, GError **errp)
{
    g_autoptr(GByteArray) b = g_byte_array_new();
    VhPostcopySource *pc;
    VhMigCounts c;
    bool ok;

    pc = vh_postcopy_source_start(s->pc_req, s->pc_urgent, &s->ps, s->pages);
    s->pc = pc;
    ok = postcopy_push(s, pc, errp);
    /*
     * Every page is out (or it failed): requests still coming are for
     * pages on their way. Cutting REQUEST ends the server thread; then
     * URGENT is this thread's to end.
     */
    vh_mig_shutdown_quietly(s->pc_req);
    vh_postcopy_source_stop(pc, &s->urgent_counts, &s->urgent_records);
    sum_counts(s, &c);
    c.records += s->urgent_counts.records;
    c.normal += s->urgent_counts.normal;
    c.zero += s->urgent_counts.zero;
    if (ok && end_urgent(s, errp)) {
        vh_mig_put_end(b, &c);
        ok = vh_mig_page_sender_write(&s->ps, s->main, b, errp) &&
             end_main(s, errp) && confirm(s, &c, errp);
        if (ok) {
            link_guard_off(s);
        }
    } else {
        ok = false;
    }
    if (!ok) {
        vh_mig_shutdown_quietly(s->main);
        vh_mig_shutdown_quietly(s->pc_urgent);
    }
    g_mutex_lock(&s->mig->stats.lock);
    g_free(s->mig->stats.postcopy);
    s->mig->stats.postcopy = g_strdup_printf(
        "page requests served %" G_GUINT64_FORMAT
        ", mid-pass syncs %" G_GUINT64_FORMAT
        ", pages discarded before the switch %" G_GUINT64_FORMAT
        " (%" G_GUINT64_FORMAT " ranges), at the switch %" G_GUINT64_FORMAT
        " (%" G_GUINT64_FORMAT " ranges)",
        vh_postcopy_source_requests(pc), s->flushes, s->early_pages,
        s->early_ranges, s->switch_pages, s->switch_ranges);
    g_mutex_unlock(&s->mig->stats.lock);
    s->pc = NULL;
    vh_postcopy_source_free(pc);
    return ok;
}

static void close_conn(VhChannel **ch, bool ok);

/* migrate -r's URI and TLS (the credentials may be new) replace @a's. */
static void take_resume(VhMigSourceArgs *a, VhMigSourceArgs *r)
{
    VhMigUri u = a->uri;
    VhMigTls t = a->tls;
    char *h = a->hostname;

    a->uri = r->uri;
    a->tls = r->tls;
    a->hostname = r->hostname;
    r->uri = u;
    r->tls = t;
    r->hostname = h;
}

/* Wait for migrate -r; false when vmhost gives up (shutting down). */
static bool wait_resume(Source *s, GError **errp)
{
    VhMigration *mig = s->mig;
    VhMigSourceArgs *r;

    g_mutex_lock(&mig->src.lock);
    g_ptr_array_set_size(mig->src.shut, 0);
    while (!mig->src.resume && !g_atomic_int_get(&mig->src.cancelling)) {
        g_cond_wait(&mig->src.cond, &mig->src.lock);
    }
    r = g_steal_pointer(&mig->src.resume);
    g_mutex_unlock(&mig->src.lock);
    if (!r) {
        g_set_error_literal(errp, VH_ERROR, VH_ERROR_FAILED,
                            "vmhost is shutting down while post-copy is "
                            "paused: the guest's state stays split");
        return false;
    }
    take_resume(s->a, r);
    vh_mig_source_args_free(r);
    /* The resume's connections get it as they connect. */
    link_guard_read(s);
    return true;
}

/*
 * The target's answer to the RESUME header: a refused TLS session (its
 * tls-authz, say) only shows as a connection closed without one.
 */
static bool recv_bitmap(Source *s, guint64 *recv, GError **errp)
{
    guint32 iteration;

    if (!vh_mig_rp_recv_bitmap(s->main, recv, s->pages, &iteration, &s->not_run,
                               errp)) {
        if (!s->not_run) {
            g_prefix_error(errp, "the target refused or dropped the resume "
                                 "(its tls-authz, or no migrate_recover "
                                 "there): ");
        }
        return false;
    }
    /* The channels' SYNC and ITER_END go on from the target's count. */
    s->iteration = iteration;
    return true;
}

/*
 * The connections again (the multifd channels too), the RESUME header,
 * the target's bitmap.
 */
static bool reconnect(Source *s, GError **errp)
{
    g_autoptr(GByteArray) b = g_byte_array_new();
    g_autofree guint64 *recv = g_new0(guint64, s->nwords);
    guint32 flags =
        VH_MIG_FLAG_RETURN_PATH | VH_MIG_FLAG_POSTCOPY | VH_MIG_FLAG_RESUME;

    g_clear_pointer(&s->mf, vh_multifd_send_free);
    if (!connect_one(s, "migration main", &s->main, errp) ||
        (s->nch && !start_channels(s, s->uuid, errp)) ||
        !connect_postcopy(s, s->uuid, errp)) {
        return false;
    }
    flags |= s->nch ? VH_MIG_FLAG_MULTIFD : 0;
    vh_mig_put_header(b, flags, s->nch, s->uuid);
    if (!vh_mig_page_sender_write(&s->ps, s->main, b, errp) ||
        !recv_bitmap(s, recv, errp)) {
        return false;
    }
    /* What the target lacks is what is left (this RAM is frozen). */
    for (guint64 w = 0; w < s->nwords; w++) {
        s->bitmap[w] = ~recv[w];
    }
    if (s->pages % 64) {
        s->bitmap[s->pages / 64] &= (1ULL << (s->pages % 64)) - 1;
    }
    for (guint64 w = (s->pages + 63) / 64; w < s->nwords; w++) {
        s->bitmap[w] = 0;
    }
    s->remaining_pages = bitmap_count(s);
    s->urgent_records = 0;
    s->resumed = true;
    return true;
}

/*
 * A post-copy connection failed: the guest stays paused here with its
 * whole state until migrate -r reconnects (postcopy-paused).
 */
static bool postcopy_pause(Source *s, GError **errp)
{
    /* The link may have died between POSTCOPY_RUN and READY. */
    const char *where = s->run_confirmed
                            ? "the target runs it on"
                            : "the target may run it on (POSTCOPY_RUN went, "
                              "its READY did not come)";
    bool ok;

    for (;;) {
        g_autofree char *hint =
            s->link_guard && vh_mig_is_link_timeout(*errp)
                ? g_strdup_printf(" (nothing came back from the target for "
                                  "x-postcopy-link-timeout, %u ms: the link "
                                  "or the target is down)",
                                  s->link_ms)
                : g_strdup("");
        g_autofree char *msg = g_strdup_printf(
            "post-copy paused: %s%s. The guest stays paused here with its "
            "whole state; %s: migrate_recover URI there and migrate -r URI "
            "here resume",
            (*errp)->message, hint, where);

        g_clear_error(errp);
        if (g_atomic_int_compare_and_exchange(&s->mig->src.pause_requested, 1,
                                              0)) {
            g_free(msg);
            msg = g_strdup_printf("post-copy paused by migrate_pause (its "
                                  "connections were cut). The guest stays "
                                  "paused here with its whole state; %s: "
                                  "migrate_recover URI there and migrate -r "
                                  "URI here resume",
                                  where);
        }
        /* Every connection goes; reconnect() makes them all again. */
        g_mutex_lock(&s->mig->src.lock);
        for (guint i = 0; i < s->mig->src.shut->len; i++) {
            vh_mig_shutdown_quietly(g_ptr_array_index(s->mig->src.shut, i));
        }
        g_mutex_unlock(&s->mig->src.lock);
        g_clear_pointer(&s->mf, vh_multifd_send_free);
        close_conn(&s->main, false);
        close_conn(&s->pc_req, false);
        close_conn(&s->pc_urgent, false);
        vh_mig_set_status(s->mig, VH_MIG_STATUS_POSTCOPY_PAUSED, msg);
        if (!wait_resume(s, errp)) {
            return false;
        }
        ok = reconnect(s, errp);
        if (!ok && s->not_run) {
            /*
             * The link died in the switch before POSTCOPY_RUN reached the
             * target, which has dropped it for good: the only guest is
             * this one, and it runs on here (outcome()).
             */
            s->postcopy_started = false;
            link_guard_off(s);
            g_prefix_error(errp, "post-copy never started: ");
            g_message("migration: %s; the guest runs on here",
                      (*errp)->message);
            return false;
        }
        if (ok) {
            if (s->nch) {
                g_message("migration: post-copy resumed over %u multifd "
                          "channels, %" G_GUINT64_FORMAT " pages left",
                          s->nch, s->remaining_pages);
            } else {
                g_message("migration: post-copy resumed, %" G_GUINT64_FORMAT
                          " pages left",
                          s->remaining_pages);
            }
            s->run_confirmed = true;
            link_guard_apply(s, "post-copy resumed");
            vh_mig_set_status(s->mig, VH_MIG_STATUS_POSTCOPY_ACTIVE, NULL);
            return true;
        }
        g_prefix_error(errp, "resuming: ");
    }
}

/*
 * A failure once POSTCOPY_RUN went out pauses, READY or not: the target
 * may run the guest (its READY lost with the link), or may never have had
 * POSTCOPY_RUN; the resume tells which (RECV_BITMAP or NOT_RUN).
 */
static bool postcopy(Source *s, GError **errp)
{
    bool ok = postcopy_switch(s, errp);

    if (!ok && !s->postcopy_started) {
        return false;
    }
    for (;;) {
        if (ok && postcopy_round(s, errp)) {
            return true;
        }
        if (!postcopy_pause(s, errp)) {
            return false;
        }
        ok = true;
    }
}

static void close_conn(VhChannel **ch, bool ok)
{
    if (*ch) {
        if (!ok) {
            vh_mig_shutdown_quietly(*ch);
        }
        vh_channel_close(*ch, NULL);
        g_clear_object(ch);
    }
}

static void source_cleanup(Source *s, bool ok)
{
    close_conn(&s->pc_req, ok);
    close_conn(&s->pc_urgent, ok);
    g_clear_pointer(&s->mf, vh_multifd_send_free);
    vh_dirty_tracker_free(s->tracker);
    vh_mig_page_sender_clear(&s->ps);
    if (s->main) {
        if (!ok) {
            vh_mig_shutdown_quietly(s->main);
        }
        vh_channel_close(s->main, NULL);
        g_object_unref(s->main);
    }
    g_free(s->bitmap);
    g_free(s->fresh);
    g_free(s->discard);
    g_mutex_lock(&s->mig->src.lock);
    g_ptr_array_set_size(s->mig->src.shut, 0);
    g_mutex_unlock(&s->mig->src.lock);
}

/*
 * Done: the figures of record and postmigrate; failed or cancelled: the
 * source guest goes on as if nothing happened.
 */
static void outcome(Source *s, bool ok, GError **errp)
{
    VhMigration *mig = s->mig;

    if (ok) {
        g_mutex_lock(&mig->stats.lock);
        if (!s->postcopy_started) {
            /* Post-copy's downtime is the switch's, recorded there. */
            mig->stats.downtime_ms =
                (g_get_monotonic_time() - s->stop_us) / 1000;
        }
        mig->stats.remaining = 0;
        mig->stats.transferred = get_bytes(s);
        /* The average over the whole run, as QEMU reports at the end. */
        mig->stats.mbps = (double)mig->stats.transferred * 8 /
                          (double)MAX(g_get_monotonic_time() - s->start_us, 1);
        g_mutex_unlock(&mig->stats.lock);
        if (!vh_machine_set_state(mig->machine, VH_RUN_STATE_POSTMIGRATE,
                                  errp)) {
            g_warning("migration: %s", (*errp)->message);
            g_clear_error(errp);
        }
    } else if (s->postcopy_started) {
        /* The target runs the guest on; this copy must not diverge. */
        g_prefix_error(errp, "post-copy failed: ");
        g_warning("migration: %s; the guest stays paused here (its state "
                  "is split with the target)",
                  (*errp)->message);
    } else if (s->stopped && s->was_running) {
        g_autoptr(GError) e2 = NULL;

        /* The source guest goes on as if nothing happened. */
        if (vh_machine_get_state(mig->machine) == VH_RUN_STATE_PAUSED &&
            !vh_machine_set_state(mig->machine, VH_RUN_STATE_RUNNING, &e2)) {
            g_warning("migration: cannot resume the guest: %s", e2->message);
        }
    }
}

gpointer vh_mig_source_thread(gpointer opaque)
{
    VhMigSourceArgs *a = opaque;
    VhMigration *mig = a->mig;
    Source s = {.mig = mig, .a = a};
    g_autoptr(GError) err = NULL;
    bool ok;

    s.ram = vh_machine_get_ram(mig->machine);
    s.pages = vh_ram_block_get_pages(s.ram);
    vh_mig_page_sender_init(&s.ps, s.ram);
    /* Whole jobs' worth of words: the tail is zero. */
    s.nwords = ((s.pages + 63) / 64 + VH_MULTIFD_JOB_WORDS - 1) /
               VH_MULTIFD_JOB_WORDS * VH_MULTIFD_JOB_WORDS;
    s.bitmap = g_new0(guint64, s.nwords);
    if (a->postcopy) {
        s.fresh = g_new0(guint64, s.nwords);
        s.discard = g_new0(guint64, s.nwords);
        g_mutex_lock(&mig->conf.lock);
        s.midpass_ms = mig->conf.params.postcopy_sync_interval;
        g_mutex_unlock(&mig->conf.lock);
    }
    s.est_us = s.tb_us = s.start_us = s.sync_us = g_get_monotonic_time();
    ok = setup(&s, &err);
    if (ok) {
        vh_mig_set_status(mig, VH_MIG_STATUS_ACTIVE, NULL);
        ok = precopy(&s, &err) &&
             (s.to_postcopy ? postcopy(&s, &err) : finish(&s, &err));
    }
    outcome(&s, ok, &err);
    source_cleanup(&s, ok);
    if (ok) {
        vh_mig_set_status(mig, VH_MIG_STATUS_COMPLETED, NULL);
    } else if (g_atomic_int_get(&mig->src.cancelling)) {
        vh_mig_set_status(mig, VH_MIG_STATUS_CANCELLED, "migration cancelled");
    } else {
        vh_mig_set_status(mig, VH_MIG_STATUS_FAILED, err->message);
    }
    vh_mig_source_args_free(a);
    return NULL;
}
