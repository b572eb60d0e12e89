/*
 * The multifd channels of a source (multifd-send.h): one shared job queue,
 * a worker thread per connection, and the SYNC barrier.
 */
#include "multifd-send.h"

#include "migration-priv.h"

#include "vmhost/util/error.h"

#define WORKER_DEPTH 4 /* jobs queued per multifd channel */

typedef enum { JOB_PAGES, JOB_SYNC, JOB_END, JOB_QUIT } JobKind;

typedef struct {
    JobKind kind;
    bool prefault; /* the first pass: map file pages, skip unpopulated */
    guint32 count; /* pages from first, at most VH_MULTIFD_JOB_PAGES */
    guint64 first;
    guint64 present[VH_MULTIFD_JOB_WORDS];
    guint64 iteration; /* SYNC's iteration, FLUSH's sync */
    bool flush;        /* JOB_SYNC: a FLUSH (mid-pass) instead of a SYNC */
    guint64 barrier;   /* JOB_SYNC: the barrier's count, either kind */
} Job;

typedef struct {
    VhMultifdSend *m;
    guint idx;
    VhChannel *ch;
    GThread *thread;
    VhMigCounts counts;
    guint64 in_iter;
    guint64 iter_packets; /* records of the iteration its last SYNC ended */
    guint64 total;
    GError *err; /* the first failure, under qlock */
} Worker;

struct VhMultifdSend {
    VhMigPageSender *ps;
    guint nch;
    Worker *workers;
    GMutex qlock;
    GCond work_cond;    /* workers: a job is queued */
    GCond main_cond;    /* main: room in the queue, or a worker synced */
    GCond barrier_cond; /* workers at SYNC: released */
    guint idle_workers; /* waiting for a job */
    bool main_waiting;  /* waiting for room */
    GQueue jobs;        /* of Job */
    guint synced;       /* workers waiting at this barrier's SYNC/FLUSH */
    guint64 barriers;   /* SYNCs and FLUSHes so far */
    guint64 released;   /* the barrier is open up to this count */
    gint quitting;      /* atomic: workers skip their I/O */
    gint failed;        /* atomic: some worker has an error */
};

/*
 * Wake-ups cost more than anything else here on a busy machine: a worker
 * is woken only when one is idle, the main thread only once the queue is
 * half empty, so it refills it in bursts.
 */
static void queue_push(VhMultifdSend *m, const Job *job)
{
    g_mutex_lock(&m->qlock);
    while (m->jobs.length >= WORKER_DEPTH * m->nch) {
        m->main_waiting = true;
        g_cond_wait(&m->main_cond, &m->qlock);
        m->main_waiting = false;
    }
    g_queue_push_tail(&m->jobs, g_memdup2(job, sizeof(*job)));
    if (m->idle_workers) {
        g_cond_signal(&m->work_cond);
    }
    g_mutex_unlock(&m->qlock);
}

static Job *queue_pop(VhMultifdSend *m)
{
    Job *job;

    g_mutex_lock(&m->qlock);
    while (!m->jobs.length) {
        m->idle_workers++;
        g_cond_wait(&m->work_cond, &m->qlock);
        m->idle_workers--;
    }
    job = g_queue_pop_head(&m->jobs);
    if (m->main_waiting && m->jobs.length <= WORKER_DEPTH * m->nch / 2) {
        g_cond_signal(&m->main_cond);
    }
    g_mutex_unlock(&m->qlock);
    return job;
}

static bool worker_pages(Worker *w, const Job *job, GError **errp)
{
    VhMigPageSender *ps = w->m->ps;

    if (job->prefault) {
        vh_mig_prefault(ps->ram, job->first, job->count);
    }
    for (guint r = 0; r < VH_MULTIFD_JOB_RECORDS; r++) {
        const guint64 *pr = &job->present[VH_MIG_BITMAP_WORDS * r];
        guint32 off = r * VH_MIG_RECORD_PAGES;

        if (off >= job->count || !(pr[0] | pr[1] | pr[2] | pr[3])) {
            continue;
        }
        if (!vh_mig_page_sender_send(ps, w->ch, job->prefault, job->first + off,
                                     MIN(VH_MIG_RECORD_PAGES, job->count - off),
                                     pr, &w->counts, errp)) {
            return false;
        }
        w->in_iter++;
        w->total++;
    }
    return true;
}

static bool worker_do(Worker *w, const Job *job, GError **errp)
{
    g_autoptr(GByteArray) b = g_byte_array_new();

    switch (job->kind) {
    case JOB_PAGES:
        return worker_pages(w, job, errp);
    case JOB_SYNC:
        vh_mig_put_section(b, job->flush ? VH_MIG_SEC_FLUSH : VH_MIG_SEC_SYNC,
                           VH_MIG_SYNC_BODY);
        vh_mig_put_u64(b, job->iteration);
        vh_mig_put_u64(b, w->in_iter);
        return vh_mig_page_sender_write(w->m->ps, w->ch, b, errp);
    case JOB_END:
        vh_mig_put_section(b, VH_MIG_SEC_CHANNEL_END, VH_MIG_CHANNEL_END_BODY);
        vh_mig_put_u64(b, w->total);
        if (!vh_mig_page_sender_write(w->m->ps, w->ch, b, errp)) {
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
static void worker_barrier(Worker *w, guint64 barrier)
{
    VhMultifdSend *m = w->m;

    g_mutex_lock(&m->qlock);
    w->iter_packets = w->in_iter;
    w->in_iter = 0;
    m->synced++;
    g_cond_signal(&m->main_cond);
    while (m->released < barrier) {
        g_cond_wait(&m->barrier_cond, &m->qlock);
    }
    g_mutex_unlock(&m->qlock);
}

static gpointer worker_thread(gpointer opaque)
{
    Worker *w = opaque;
    VhMultifdSend *m = w->m;

    for (;;) {
        g_autofree Job *job = queue_pop(m);
        GError *err = NULL;

        if (!w->err && !g_atomic_int_get(&m->quitting) &&
            !worker_do(w, job, &err)) {
            g_prefix_error(&err, "multifd channel %u: ", w->idx);
            g_mutex_lock(&m->qlock);
            w->err = err;
            g_mutex_unlock(&m->qlock);
            g_atomic_int_set(&m->failed, 1);
        }
        if (job->kind == JOB_SYNC) {
            worker_barrier(w, job->barrier);
        }
        if (job->kind == JOB_END || job->kind == JOB_QUIT) {
            return NULL;
        }
    }
}

VhMultifdSend *vh_multifd_send_new(VhMigPageSender *ps, guint nch)
{
    VhMultifdSend *m = g_new0(VhMultifdSend, 1);

    m->ps = ps;
    m->nch = nch;
    m->workers = g_new0(Worker, nch);
    g_mutex_init(&m->qlock);
    g_cond_init(&m->work_cond);
    g_cond_init(&m->main_cond);
    g_cond_init(&m->barrier_cond);
    g_queue_init(&m->jobs);
    return m;
}

bool vh_multifd_send_start_channel(VhMultifdSend *m, guint idx, VhChannel *ch,
                                   const guint8 uuid[VH_MIG_UUID_SIZE],
                                   GError **errp)
{
    Worker *w = &m->workers[idx];
    g_autoptr(GByteArray) b = g_byte_array_new();

    w->m = m;
    w->idx = idx;
    w->ch = g_object_ref(ch);
    vh_mig_put_hello(b, idx, uuid);
    if (!vh_mig_page_sender_write(m->ps, ch, b, errp)) {
        g_prefix_error(errp, "%s: hello: ", vh_channel_get_name(ch));
        return false;
    }
    w->thread = g_thread_new("mig-multifd", worker_thread, w);
    return true;
}

void vh_multifd_send_pages(VhMultifdSend *m, guint64 first, guint64 pages,
                           const guint64 present[VH_MULTIFD_JOB_WORDS],
                           bool first_pass)
{
    Job job = {.kind = JOB_PAGES,
               .first = first,
               .count = (guint32)MIN(VH_MULTIFD_JOB_PAGES, pages - first),
               .prefault = first_pass};

    memcpy(job.present, present, sizeof(job.present));
    queue_push(m, &job);
}

static void send_barrier(VhMultifdSend *m, bool flush, guint64 number,
                         guint64 *packets)
{
    guint64 barrier = ++m->barriers;

    for (guint i = 0; i < m->nch; i++) {
        Job job = {.kind = JOB_SYNC,
                   .iteration = number,
                   .flush = flush,
                   .barrier = barrier};

        queue_push(m, &job);
    }
    /* Every worker at its SYNC: their counts, then let them go on. */
    g_mutex_lock(&m->qlock);
    while (m->synced < m->nch) {
        g_cond_wait(&m->main_cond, &m->qlock);
    }
    for (guint i = 0; i < m->nch; i++) {
        packets[i] = m->workers[i].iter_packets;
    }
    m->synced = 0;
    m->released = barrier;
    g_cond_broadcast(&m->barrier_cond);
    g_mutex_unlock(&m->qlock);
}

void vh_multifd_send_sync(VhMultifdSend *m, guint64 iteration, guint64 *packets)
{
    send_barrier(m, false, iteration, packets);
}

void vh_multifd_send_flush(VhMultifdSend *m, guint64 sync, guint64 *packets)
{
    send_barrier(m, true, sync, packets);
}

static void join_workers(VhMultifdSend *m)
{
    for (guint i = 0; i < m->nch; i++) {
        if (m->workers[i].thread) {
            g_thread_join(m->workers[i].thread);
            m->workers[i].thread = NULL;
        }
    }
}

void vh_multifd_send_end(VhMultifdSend *m)
{
    for (guint i = 0; i < m->nch; i++) {
        Job job = {.kind = JOB_END};

        queue_push(m, &job);
    }
    join_workers(m);
}

/* Cut every worker off its I/O and out of its loop. */
static void quit_workers(VhMultifdSend *m)
{
    g_atomic_int_set(&m->quitting, 1);
    for (guint i = 0; i < m->nch; i++) {
        if (m->workers[i].ch) {
            vh_mig_shutdown_quietly(m->workers[i].ch);
        }
    }
    for (guint i = 0; i < m->nch; i++) {
        Job job = {.kind = JOB_QUIT};

        if (m->workers[i].thread) {
            queue_push(m, &job);
        }
    }
    join_workers(m);
}

void vh_multifd_send_free(VhMultifdSend *m)
{
    if (!m) {
        return;
    }
    quit_workers(m);
    for (guint i = 0; i < m->nch; i++) {
        Worker *w = &m->workers[i];

        g_clear_error(&w->err);
        if (w->ch) {
            vh_channel_close(w->ch, NULL);
            g_object_unref(w->ch);
        }
    }
    g_queue_clear_full(&m->jobs, g_free);
    g_free(m->workers);
    g_mutex_clear(&m->qlock);
    g_cond_clear(&m->work_cond);
    g_cond_clear(&m->main_cond);
    g_cond_clear(&m->barrier_cond);
    g_free(m);
}

bool vh_multifd_send_failed(VhMultifdSend *m, GError **errp)
{
    bool failed = false;

    if (!g_atomic_int_get(&m->failed)) {
        return false;
    }
    g_mutex_lock(&m->qlock);
    for (guint i = 0; i < m->nch && !failed; i++) {
        Worker *w = &m->workers[i];

        if (w->err) {
            g_set_error_literal(errp, w->err->domain, w->err->code,
                                w->err->message);
            failed = true;
        }
    }
    g_mutex_unlock(&m->qlock);
    return failed;
}

void vh_multifd_send_add_counts(VhMultifdSend *m, VhMigCounts *c)
{
    for (guint i = 0; i < m->nch; i++) {
        c->records += m->workers[i].counts.records;
        c->normal += m->workers[i].counts.normal;
        c->zero += m->workers[i].counts.zero;
    }
}
