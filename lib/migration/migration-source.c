/*
 * The source side: the migration thread (pre-copy over blocking channels)
 * and its multifd workers.
 */
#include "migration-priv.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmhost/migration/dirty.h"
#include "vmhost/util/error.h"

#define ESTIMATE_US  (100 * 1000) /* bandwidth re-estimate period */
#define THROTTLE_US  (100 * 1000) /* max-bandwidth slot */
#define WORKER_DEPTH 4            /* jobs queued per multifd channel */

#define READY_TIMEOUT_S 60 /* for the target's first answer */
/* A multifd job: up to 4 records (4 MiB), fewer queue hand-offs. */
#define JOB_RECORDS    4
#define JOB_MAX_PAGES  (JOB_RECORDS * VH_MIG_RECORD_PAGES)
#define PREFAULT_PAGES ((64u << 20) / VH_RAM_PAGE_SIZE)

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif

typedef enum { JOB_PAGES, JOB_SYNC, JOB_END, JOB_QUIT } JobKind;

typedef struct {
    JobKind kind;
    bool prefault; /* the first pass: map file pages, skip unpopulated */
    guint32 count; /* pages from first, at most JOB_MAX_PAGES */
    guint64 first;
    guint64 present[4 * JOB_RECORDS];
    guint64 iteration;
} Job;

typedef struct Source Source;

typedef struct {
    Source *s;
    guint idx;
    VhChannel *ch;
    GThread *thread;
    VhMigCounts counts;
    guint64 in_iter;
    guint64 iter_packets; /* records of the iteration its last SYNC ended */
    guint64 total;
    GError *err; /* the first failure, under Source.qlock */
} Worker;

struct Source {
    VhMigration *mig;
    VhMigSourceArgs *a;
    VhRamBlock *ram;
    guint64 pages;
    guint64 nwords; /* bitmap words, whole jobs of 4 * JOB_RECORDS */
    guint64 *bitmap;
    VhDirtyTracker *tracker;
    int pagemap; /* /proc/self/pagemap for anonymous RAM, else -1 */
    VhChannel *main;
    guint nch;
    Worker *workers;
    /*
     * One queue for every multifd channel: an idle channel takes the next
     * record, so a slow connection never holds the others back.
     */
    GMutex qlock;
    GCond work_cond;       /* workers: a job is queued */
    GCond main_cond;       /* main: room in the queue, or a worker synced */
    GCond barrier_cond;    /* workers at SYNC: released */
    guint idle_workers;    /* waiting for a job */
    bool main_waiting;     /* waiting for room */
    GQueue jobs;           /* of Job */
    guint synced;          /* workers waiting at this iteration's SYNC */
    guint64 released_iter; /* the SYNC barrier is open up to this */
    gint quitting;         /* atomic: workers skip their I/O */
    bool return_path;
    guint64 iteration;
    VhMigCounts counts; /* main-stream records (all, without multifd) */
    guint64 bytes;      /* on the wire, every connection (atomic) */
    gint worker_failed; /* atomic */
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
    gint64 stop_us;
    gint64 start_us;
};

/*
 * First pass over file-backed RAM: map a record's pages in one call rather
 * than one fault per page (the file's pages are not in this process's
 * page tables yet, and a tracker's write-protect markers fault too):
 * about 25% more throughput. Advisory: errors are fine.
 */
static void prefault(VhRamBlock *ram, guint64 first, guint32 count)
{
    guint8 *host = vh_ram_block_get_host(ram);

    /* Anonymous RAM is mapped as it was written: nothing to gain. */
    if (!vh_ram_block_get_path(ram)) {
        return;
    }
    (void)madvise(host + first * VH_RAM_PAGE_SIZE,
                  (size_t)count * VH_RAM_PAGE_SIZE, MADV_POPULATE_READ);
}

#define PM_PRESENT (1ULL << 63)
#define PM_SWAP    (1ULL << 62)
#define PM_UFFD_WP (1ULL << 57)
#define PM_FRAME   ((1ULL << 55) - 1)
/*
 * A userfaultfd write-protect marker on a none pte, as pagemap shows it to
 * a process with CAP_SYS_ADMIN: a "swap" entry of the last swap type (31,
 * the kernel's pte-marker type) with offset 1 (PTE_MARKER_UFFD_WP). Without
 * the capability the frame reads 0, like a swapped-out page's: then the
 * page is read, as any other.
 */
#define PM_UFFD_WP_MARKER (PM_SWAP | PM_UFFD_WP | 0x3f)

/*
 * Whether a pagemap entry of private anonymous RAM means "never populated"
 * (reads as zero): a none pte, or the uffd-wp tracker's marker on one.
 * Anything else (present, swapped out, being migrated, poisoned) is read.
 */
static bool pm_unpopulated(guint64 e)
{
    return (e & (PM_PRESENT | PM_SWAP)) == 0 ||
           (e & (PM_PRESENT | PM_SWAP | PM_UFFD_WP | PM_FRAME)) ==
               PM_UFFD_WP_MARKER;
}

/*
 * First pass over anonymous RAM: the pages of [first, first + count) (at
 * most one record) that were never populated go in @none: they read as
 * zero, and reading them would fault each one in (and page tables with
 * them). A page the guest writes after this look is dirty in the tracker,
 * which started before the first pass, and goes again. Nothing is known
 * (all bits 0) when pagemap cannot be read.
 */
static void find_unpopulated(Source *s, guint64 first, guint32 count,
                             guint64 none[4])
{
    guint64 entries[VH_MIG_RECORD_PAGES];
    guint64 base =
        (guintptr)vh_ram_block_get_host(s->ram) / VH_RAM_PAGE_SIZE + first;
    ssize_t r;

    memset(none, 0, 4 * sizeof(guint64));
    if (s->pagemap < 0) {
        return;
    }
    r = pread(s->pagemap, entries, (size_t)count * 8, (off_t)(base * 8));
    if (r != (ssize_t)count * 8) {
        return;
    }
    for (guint32 i = 0; i < count; i++) {
        if (pm_unpopulated(entries[i])) {
            none[i / 64] |= 1ULL << (i % 64);
        }
    }
}

/* A record, with the first pass's unpopulated pages sent unread. */
static gint64 send_pages(Source *s, VhChannel *ch, bool first_pass,
                         guint64 first, guint32 count, const guint64 present[4],
                         VhMigCounts *c, GError **errp)
{
    guint64 none[4];

    if (!first_pass || s->pagemap < 0) {
        return vh_mig_send_pages(ch, s->ram, 0, first, count, present, c, errp);
    }
    find_unpopulated(s, first, count, none);
    return vh_mig_send_pages_hint(ch, s->ram, 0, first, count, present, none, c,
                                  errp);
}

static void add_bytes(Source *s, guint64 n)
{
    __atomic_fetch_add(&s->bytes, n, __ATOMIC_RELAXED);
}

static guint64 get_bytes(Source *s)
{
    return __atomic_load_n(&s->bytes, __ATOMIC_RELAXED);
}

static bool cancelled(Source *s, GError **errp)
{
    if (g_atomic_int_get(&s->mig->cancelling)) {
        g_set_error_literal(errp, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                            "migration cancelled");
        return true;
    }
    return false;
}

static void keep_for_cancel(Source *s, VhChannel *ch)
{
    g_mutex_lock(&s->mig->lock);
    g_ptr_array_add(s->mig->shut, g_object_ref(ch));
    /* A cancel that came before this channel existed. */
    if (g_atomic_int_get(&s->mig->cancelling)) {
        vh_mig_shutdown_quietly(ch);
    }
    g_mutex_unlock(&s->mig->lock);
}

static bool write_buf(Source *s, VhChannel *ch, GByteArray *b, GError **errp)
{
    if (!vh_channel_write_all(ch, b->data, b->len, errp)) {
        return false;
    }
    add_bytes(s, b->len);
    g_byte_array_set_size(b, 0);
    return true;
}

/* ---- multifd workers ---- */

/*
 * Wake-ups cost more than anything else here on a busy machine: a worker
 * is woken only when one is idle, the main thread only once the queue is
 * half empty, so it refills it in bursts.
 */
static void queue_push(Source *s, const Job *job)
{
    g_mutex_lock(&s->qlock);
    while (s->jobs.length >= WORKER_DEPTH * s->nch) {
        s->main_waiting = true;
        g_cond_wait(&s->main_cond, &s->qlock);
        s->main_waiting = false;
    }
    g_queue_push_tail(&s->jobs, g_memdup2(job, sizeof(*job)));
    if (s->idle_workers) {
        g_cond_signal(&s->work_cond);
    }
    g_mutex_unlock(&s->qlock);
}

static Job *queue_pop(Source *s)
{
    Job *job;

    g_mutex_lock(&s->qlock);
    while (!s->jobs.length) {
        s->idle_workers++;
        g_cond_wait(&s->work_cond, &s->qlock);
        s->idle_workers--;
    }
    job = g_queue_pop_head(&s->jobs);
    if (s->main_waiting && s->jobs.length <= WORKER_DEPTH * s->nch / 2) {
        g_cond_signal(&s->main_cond);
    }
    g_mutex_unlock(&s->qlock);
    return job;
}

static bool worker_do(Worker *w, const Job *job, GError **errp)
{
    Source *s = w->s;
    g_autoptr(GByteArray) b = g_byte_array_new();
    gint64 n;

    switch (job->kind) {
    case JOB_PAGES:
        if (job->prefault) {
            prefault(s->ram, job->first, job->count);
        }
        for (guint r = 0; r < JOB_RECORDS; r++) {
            const guint64 *pr = &job->present[4 * r];
            guint32 off = r * VH_MIG_RECORD_PAGES;

            if (off >= job->count || !(pr[0] | pr[1] | pr[2] | pr[3])) {
                continue;
            }
            n = send_pages(s, w->ch, job->prefault, job->first + off,
                           MIN(VH_MIG_RECORD_PAGES, job->count - off), pr,
                           &w->counts, errp);
            if (n < 0) {
                return false;
            }
            add_bytes(s, (guint64)n);
            w->in_iter++;
            w->total++;
        }
        return true;
    case JOB_SYNC:
        vh_mig_put_section(b, VH_MIG_SEC_SYNC, 16);
        vh_mig_put_u64(b, job->iteration);
        vh_mig_put_u64(b, w->in_iter);
        return write_buf(s, w->ch, b, errp);
    case JOB_END:
        vh_mig_put_section(b, VH_MIG_SEC_CHANNEL_END, 8);
        vh_mig_put_u64(b, w->total);
        if (!write_buf(s, w->ch, b, errp)) {
            return false;
        }
        /* close-notify (TLS) or a half-close: the clean end. */
        return vh_channel_shutdown(w->ch, VH_CHANNEL_SHUTDOWN_WRITE, errp);
    case JOB_QUIT:
    default:
        return true;
    }
}

/*
 * At its SYNC a worker reports its count and waits until the main thread
 * has them all, so that each worker takes exactly one SYNC.
 */
static void worker_barrier(Worker *w, guint64 iteration)
{
    Source *s = w->s;

    g_mutex_lock(&s->qlock);
    w->iter_packets = w->in_iter;
    w->in_iter = 0;
    s->synced++;
    g_cond_signal(&s->main_cond);
    while (s->released_iter < iteration) {
        g_cond_wait(&s->barrier_cond, &s->qlock);
    }
    g_mutex_unlock(&s->qlock);
}

static gpointer worker_thread(gpointer opaque)
{
    Worker *w = opaque;
    Source *s = w->s;

    for (;;) {
        g_autofree Job *job = queue_pop(s);
        GError *err = NULL;

        if (!w->err && !g_atomic_int_get(&s->quitting) &&
            !worker_do(w, job, &err)) {
            g_prefix_error(&err, "multifd channel %u: ", w->idx);
            g_mutex_lock(&s->qlock);
            w->err = err;
            g_mutex_unlock(&s->qlock);
            g_atomic_int_set(&s->worker_failed, 1);
        }
        if (job->kind == JOB_SYNC) {
            worker_barrier(w, job->iteration);
        }
        if (job->kind == JOB_END || job->kind == JOB_QUIT) {
            return NULL;
        }
    }
}

static bool connect_one(Source *s, const char *what, VhChannel **out,
                        GError **errp)
{
    VhMigration *mig = s->mig;
    VhChannel *ch = vh_mig_connect(&s->a->uri, &s->a->tls, mig->fdl,
                                   mig->fdl_opaque, mig->cancel, errp);

    if (!ch) {
        if (!cancelled(s, NULL)) {
            g_prefix_error(errp, "%s: ", what);
        }
        return false;
    }
    vh_channel_set_name(ch, what);
    keep_for_cancel(s, ch);
    *out = ch;
    return true;
}

static bool start_workers(Source *s, const guint8 uuid[16], GError **errp)
{
    s->workers = g_new0(Worker, s->nch);
    for (guint i = 0; i < s->nch; i++) {
        Worker *w = &s->workers[i];
        g_autofree char *what = g_strdup_printf("migration multifd %u", i);
        g_autoptr(GByteArray) b = g_byte_array_new();

        w->s = s;
        w->idx = i;
        if (!connect_one(s, what, &w->ch, errp)) {
            return false;
        }
        vh_mig_put_hello(b, i, uuid);
        if (!write_buf(s, w->ch, b, errp)) {
            g_prefix_error(errp, "%s: hello: ", what);
            return false;
        }
        w->thread = g_thread_new("mig-multifd", worker_thread, w);
    }
    return true;
}

/* Stop every worker (@quit: cut them off; else they got END) and join. */
static void stop_workers(Source *s, bool quit)
{
    if (!s->workers) {
        return;
    }
    if (quit) {
        g_atomic_int_set(&s->quitting, 1);
        for (guint i = 0; i < s->nch; i++) {
            if (s->workers[i].ch) {
                vh_mig_shutdown_quietly(s->workers[i].ch);
            }
        }
        for (guint i = 0; i < s->nch; i++) {
            Job job = {.kind = JOB_QUIT};

            if (s->workers[i].thread) {
                queue_push(s, &job);
            }
        }
    }
    for (guint i = 0; i < s->nch; i++) {
        if (s->workers[i].thread) {
            g_thread_join(s->workers[i].thread);
            s->workers[i].thread = NULL;
        }
    }
}

static void free_workers(Source *s)
{
    if (!s->workers) {
        return;
    }
    for (guint i = 0; i < s->nch; i++) {
        Worker *w = &s->workers[i];

        g_clear_error(&w->err);
        if (w->ch) {
            vh_channel_close(w->ch, NULL);
            g_object_unref(w->ch);
        }
    }
    g_queue_clear_full(&s->jobs, g_free);
    g_clear_pointer(&s->workers, g_free);
}

static bool worker_error(Source *s, GError **errp)
{
    bool failed = false;

    if (!g_atomic_int_get(&s->worker_failed)) {
        return false;
    }
    g_mutex_lock(&s->qlock);
    for (guint i = 0; i < s->nch && !failed; i++) {
        Worker *w = &s->workers[i];

        if (w->err) {
            g_set_error_literal(errp, w->err->domain, w->err->code,
                                w->err->message);
            failed = true;
        }
    }
    g_mutex_unlock(&s->qlock);
    return failed;
}

/* ---- statistics, bandwidth, throttling ---- */

static void publish(Source *s)
{
    VhMigration *mig = s->mig;
    guint64 normal = s->counts.normal, zero = s->counts.zero;

    for (guint i = 0; s->workers && i < s->nch; i++) {
        normal += s->workers[i].counts.normal;
        zero += s->workers[i].counts.zero;
    }
    g_mutex_lock(&mig->lock);
    mig->transferred = get_bytes(s);
    mig->remaining = s->remaining_pages * VH_RAM_PAGE_SIZE;
    mig->normal = normal;
    mig->zero = zero;
    mig->mbps = s->bw * 8 / 1e6;
    mig->expected_downtime_ms =
        s->bw > 0 ? (gint64)(mig->remaining * 1000.0 / s->bw) : 0;
    g_mutex_unlock(&mig->lock);
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

    g_mutex_lock(&s->mig->lock);
    v = s->mig->params.max_bandwidth;
    g_mutex_unlock(&s->mig->lock);
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
    if (s->stopped) {
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
        wait_us = -s->allow * G_USEC_PER_SEC / (double)max;
        g_usleep((gulong)MIN(wait_us + 1, 10000.0));
    }
}

/* ---- the passes ---- */

/* One record on the main connection (no multifd). */
static bool send_record(Source *s, guint64 first, guint32 count,
                        const guint64 present[4], GError **errp)
{
    gint64 n;

    if (s->iteration == 0) {
        prefault(s->ram, first, count);
    }
    n = send_pages(s, s->main, s->iteration == 0, first, count, present,
                   &s->counts, errp);
    if (n < 0) {
        return false;
    }
    add_bytes(s, (guint64)n);
    return true;
}

/* One job of up to JOB_RECORDS records for the multifd channels. */
static bool send_job(Source *s, guint64 first, const guint64 *present,
                     GError **errp)
{
    Job job = {.kind = JOB_PAGES,
               .first = first,
               .count = (guint32)MIN(JOB_MAX_PAGES, s->pages - first),
               .prefault = s->iteration == 0};

    memcpy(job.present, present, sizeof(job.present));
    queue_push(s, &job);
    return !worker_error(s, errp);
}

/*
 * Send (and clear) every page whose bit is set: a record (4 words, 256
 * pages) at a time on the main connection, a job (JOB_RECORDS records) at
 * a time over multifd.
 */
static bool send_pass(Source *s, GError **errp)
{
    guint step = s->nch ? 4 * JOB_RECORDS : 4;

    for (guint64 w = 0; w < s->nwords; w += step) {
        guint64 *p = &s->bitmap[w];
        guint64 first = w * 64;
        guint64 present[4 * JOB_RECORDS];
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
    }
    return true;
}

static bool end_iteration(Source *s, GError **errp)
{
    g_autoptr(GByteArray) b = g_byte_array_new();

    guint64 packets[VH_MIG_MAX_CHANNELS] = {0};

    s->iteration++;
    for (guint i = 0; i < s->nch; i++) {
        Job job = {.kind = JOB_SYNC, .iteration = s->iteration};

        queue_push(s, &job);
    }
    if (s->nch) {
        /* Every worker at its SYNC: their counts, then let them go on. */
        g_mutex_lock(&s->qlock);
        while (s->synced < s->nch) {
            g_cond_wait(&s->main_cond, &s->qlock);
        }
        for (guint i = 0; i < s->nch; i++) {
            packets[i] = s->workers[i].iter_packets;
        }
        s->synced = 0;
        s->released_iter = s->iteration;
        g_cond_broadcast(&s->barrier_cond);
        g_mutex_unlock(&s->qlock);
    }
    vh_mig_put_iter_end(b, s->iteration, s->nch, packets);
    if (!write_buf(s, s->main, b, errp)) {
        return false;
    }
    return !worker_error(s, errp);
}

/* Collect the kernel's dirty pages into the bitmap; returns the count. */
static gint64 dirty_sync(Source *s, GError **errp)
{
    gint64 n = vh_dirty_tracker_sync(s->tracker, s->bitmap, errp);

    if (n < 0) {
        g_prefix_error(errp, "dirty tracking: ");
        return -1;
    }
    s->remaining_pages = (guint64)n;
    g_mutex_lock(&s->mig->lock);
    s->mig->sync_count++;
    g_mutex_unlock(&s->mig->lock);
    return n;
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

static bool setup(Source *s, GError **errp)
{
    VhMigration *mig = s->mig;
    g_autoptr(GByteArray) b = g_byte_array_new();
    guint8 uuid[16];
    guint32 flags = 0;
    VhMigRpType rp;
    VhMigCounts dummy;

    for (guint i = 0; i < 16; i++) {
        uuid[i] = (guint8)g_random_int();
    }
    s->nch = s->a->multifd ? s->a->params.multifd_channels : 0;
    s->return_path =
        s->a->uri.kind != VH_MIG_URI_EXEC && s->a->uri.kind != VH_MIG_URI_FILE;
    if (!connect_one(s, "migration main", &s->main, errp)) {
        return false;
    }
    if (s->nch && !start_workers(s, uuid, errp)) {
        return false;
    }
    if (s->nch) {
        flags |= VH_MIG_FLAG_MULTIFD;
    }
    if (s->return_path) {
        flags |= VH_MIG_FLAG_RETURN_PATH;
    }
    vh_mig_put_header(b, flags, s->nch, uuid);
    vh_mig_put_ram_setup(b, s->ram);
    if (!write_buf(s, s->main, b, errp)) {
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
    /*
     * File-backed RAM: map it all before the tracker protects it, so that
     * the first pass reads present pages instead of faulting through
     * write-protect markers; 64 MiB at a time, so a cancel gets through.
     */
    for (guint64 first = 0; first < s->pages; first += PREFAULT_PAGES) {
        if (cancelled(s, errp)) {
            return false;
        }
        prefault(s->ram, first, (guint32)MIN(PREFAULT_PAGES, s->pages - first));
    }
    /* Anonymous RAM: the first pass skips what was never populated. */
    if (!vh_ram_block_get_path(s->ram) &&
        sysconf(_SC_PAGESIZE) == VH_RAM_PAGE_SIZE) {
        s->pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
        if (s->pagemap < 0) {
            g_debug("migration: /proc/self/pagemap: %s (every page is read)",
                    g_strerror(errno));
        }
    }
    s->tracker =
        vh_dirty_tracker_new(vh_ram_block_get_host(s->ram),
                             vh_ram_block_get_size(s->ram), NULL, errp);
    if (!s->tracker) {
        g_prefix_error(errp, "dirty tracking: ");
        return false;
    }
    g_mutex_lock(&mig->lock);
    mig->mechanism = vh_dirty_tracker_mechanism(s->tracker);
    mig->setup_ms = (g_get_monotonic_time() - mig->start_us) / 1000;
    mig->nch = s->nch;
    g_mutex_unlock(&mig->lock);
    return true;
}

static bool converged(Source *s, guint64 dirty)
{
    guint64 limit;
    double bw;

    g_mutex_lock(&s->mig->lock);
    limit = s->mig->params.downtime_limit;
    g_mutex_unlock(&s->mig->lock);
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

        if (!send_pass(s, errp) || !end_iteration(s, errp)) {
            return false;
        }
        n = dirty_sync(s, errp);
        if (n < 0) {
            return false;
        }
        now = g_get_monotonic_time();
        g_mutex_lock(&s->mig->lock);
        s->mig->dirty_rate =
            (guint64)((double)n * G_USEC_PER_SEC / MAX(now - pass_start, 1));
        g_mutex_unlock(&s->mig->lock);
        pass_start = now;
        publish(s);
        if (converged(s, (guint64)n)) {
            return true;
        }
        if (cancelled(s, errp)) {
            return false;
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
    for (guint i = 0; i < s->nch; i++) {
        c->records += s->workers[i].counts.records;
        c->normal += s->workers[i].counts.normal;
        c->zero += s->workers[i].counts.zero;
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

static bool finish(Source *s, GError **errp)
{
    g_autoptr(GByteArray) b = g_byte_array_new();
    g_autoptr(GArray) devices = NULL;
    VhMigCounts c, got;
    VhMigRpType rp;

    if (!stop_guest(s, errp) || dirty_sync(s, errp) < 0 ||
        !send_pass(s, errp) || !end_iteration(s, errp)) {
        return false;
    }
    /* Every channel ends before END, so END can carry the totals. */
    for (guint i = 0; i < s->nch; i++) {
        Job job = {.kind = JOB_END};

        queue_push(s, &job);
    }
    stop_workers(s, false);
    if (worker_error(s, errp)) {
        return false;
    }
    /* With the guest stopped, each device saves its own state. */
    devices = vh_machine_get_devices(s->mig->machine);
    vh_mig_put_devices(b, devices, s->was_running);
    sum_counts(s, &c);
    vh_mig_put_end(b, &c);
    if (!write_buf(s, s->main, b, errp)) {
        return false;
    }
    publish(s);
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
    if (rp != VH_MIG_RP_LOADED || got.records != c.records ||
        got.normal != c.normal || got.zero != c.zero) {
        g_set_error(
            errp, VH_ERROR, VH_ERROR_FAILED,
            "the target confirmed %" G_GUINT64_FORMAT
            " records, %" G_GUINT64_FORMAT " normal and %" G_GUINT64_FORMAT
            " zero pages, but %" G_GUINT64_FORMAT ", %" G_GUINT64_FORMAT
            " and %" G_GUINT64_FORMAT " were sent",
            got.records, got.normal, got.zero, c.records, c.normal, c.zero);
        return false;
    }
    return true;
}

static void source_cleanup(Source *s, bool ok)
{
    stop_workers(s, true);
    free_workers(s);
    vh_dirty_tracker_free(s->tracker);
    if (s->pagemap >= 0) {
        close(s->pagemap);
    }
    if (s->main) {
        if (!ok) {
            vh_mig_shutdown_quietly(s->main);
        }
        vh_channel_close(s->main, NULL);
        g_object_unref(s->main);
    }
    g_free(s->bitmap);
    g_mutex_lock(&s->mig->lock);
    g_ptr_array_set_size(s->mig->shut, 0);
    g_mutex_unlock(&s->mig->lock);
}

gpointer vh_mig_source_thread(gpointer opaque)
{
    VhMigSourceArgs *a = opaque;
    VhMigration *mig = a->mig;
    Source s = {.mig = mig, .a = a, .pagemap = -1};
    g_autoptr(GError) err = NULL;
    bool ok;

    s.ram = vh_machine_get_ram(mig->machine);
    s.pages = vh_ram_block_get_pages(s.ram);
    /* Whole jobs' worth of words: the tail is zero. */
    s.nwords = ((s.pages + 63) / 64 + 4 * JOB_RECORDS - 1) / (4 * JOB_RECORDS) *
               (4 * JOB_RECORDS);
    s.bitmap = g_new0(guint64, s.nwords);
    s.est_us = s.tb_us = s.start_us = g_get_monotonic_time();
    g_mutex_init(&s.qlock);
    g_cond_init(&s.work_cond);
    g_cond_init(&s.main_cond);
    g_cond_init(&s.barrier_cond);
    g_queue_init(&s.jobs);
    ok = setup(&s, &err);
    if (ok) {
        vh_mig_set_status(mig, VH_MIG_STATUS_ACTIVE, NULL);
        ok = precopy(&s, &err) && finish(&s, &err);
    }
    if (ok) {
        g_mutex_lock(&mig->lock);
        mig->downtime_ms = (g_get_monotonic_time() - s.stop_us) / 1000;
        mig->remaining = 0;
        mig->transferred = get_bytes(&s);
        /* The average over the whole run, as QEMU reports at the end. */
        mig->mbps = (double)mig->transferred * 8 /
                    (double)MAX(g_get_monotonic_time() - s.start_us, 1);
        g_mutex_unlock(&mig->lock);
        if (!vh_machine_set_state(mig->machine, VH_RUN_STATE_POSTMIGRATE,
                                  &err)) {
            g_warning("migration: %s", err->message);
            g_clear_error(&err);
        }
    } else if (s.stopped && s.was_running) {
        g_autoptr(GError) e2 = NULL;

        /* The source guest goes on as if nothing happened. */
        if (vh_machine_get_state(mig->machine) == VH_RUN_STATE_PAUSED &&
            !vh_machine_set_state(mig->machine, VH_RUN_STATE_RUNNING, &e2)) {
            g_warning("migration: cannot resume the guest: %s", e2->message);
        }
    }
    source_cleanup(&s, ok);
    if (ok) {
        vh_mig_set_status(mig, VH_MIG_STATUS_COMPLETED, NULL);
    } else if (g_atomic_int_get(&mig->cancelling)) {
        vh_mig_set_status(mig, VH_MIG_STATUS_CANCELLED, "migration cancelled");
    } else {
        vh_mig_set_status(mig, VH_MIG_STATUS_FAILED, err->message);
    }
    vh_mig_source_args_free(a);
    g_mutex_clear(&s.qlock);
    g_cond_clear(&s.work_cond);
    g_cond_clear(&s.main_cond);
    g_cond_clear(&s.barrier_cond);
    return NULL;
}
