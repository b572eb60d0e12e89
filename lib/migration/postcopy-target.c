/*
 * Post-copy on the target: the received bitmap, the userfaultfd that
 * registers guest RAM for MISSING faults, the fault thread that requests
 * pages from the source, and atomic placement
 * (Documentation/admin-guide/mm/userfaultfd.rst).
 */
#include "postcopy-priv.h"
#include "postcopy-trace.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "dirty-priv.h"
#include "stream-priv.h"
#include "vmhost/migration/return-path.h"
#include "vmhost/util/error.h"

#define MAX_SAMPLES (1u << 20) /* fault latencies kept for p50/p99 */

struct VhPostcopyTarget {
    VhRamBlock *ram;
    guint8 *host;
    guint64 pages;
    guint64 *received;  /* bit per page, atomic */
    guint64 *later;     /* multifd: DISCARDs waiting for their barrier */
    guint64 dropped;    /* pages DISCARD dropped before POSTCOPY_RUN */
    guint64 drop_calls; /* their madvise calls */
    guint64 stale;      /* pages the switch's check found populated */
    /*
     * Bit per page, atomic: requested and not yet placed. A placement
     * checks it before it takes the lock, so the bulk (every page) does
     * not contend with the fault thread and URGENT for it.
     */
    guint64 *requested;
    int uffd;
    int stop_fd; /* eventfd: the fault thread ends */
    GThread *thread;
    VhChannel *rp; /* ref while started */
    GMutex *rp_lock;
    bool finished;
    bool rp_failed; /* the fault thread's: requests can no longer go */

    GMutex lock;         /* protects what follows */
    GHashTable *pending; /* page -> request time (us), requested pages */
    GArray *samples;     /* guint32 us */
    VhPostcopyStats st;
};

static int uffd_open(GError **errp)
{
    struct uffdio_api api = {.api = UFFD_API};
    int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);

    if (fd < 0) {
        vh_set_error_errno(errp, errno,
                           "userfaultfd (post-copy needs it; as non-root "
                           "see /proc/sys/vm/unprivileged_userfaultfd)");
        return -1;
    }
    if (ioctl(fd, UFFDIO_API, &api) < 0) {
        vh_set_error_errno(errp, errno, "userfaultfd: UFFDIO_API");
        close(fd);
        return -1;
    }
    return fd;
}

static bool uffd_register(int fd, VhRamBlock *ram, GError **errp)
{
    struct uffdio_register reg = {
        .range = {.start = (guintptr)vh_ram_block_get_host(ram),
                  .len = vh_ram_block_get_size(ram)},
        .mode = UFFDIO_REGISTER_MODE_MISSING,
    };

    if (ioctl(fd, UFFDIO_REGISTER, &reg) < 0) {
        vh_set_error_errno(errp, errno,
                           "userfaultfd cannot register RAM '%s' for missing "
                           "pages (%s; post-copy needs anonymous memory or "
                           "a shared shmem/tmpfs memory-backend-file)",
                           vh_ram_block_get_name(ram),
                           vh_ram_block_get_path(ram)
                               ? vh_ram_block_get_path(ram)
                               : "anonymous");
        return false;
    }
    if (!(reg.ioctls & (1ULL << _UFFDIO_COPY))) {
        g_set_error(errp, VH_ERROR, VH_ERROR_NOT_SUPPORTED,
                    "userfaultfd cannot place pages in RAM '%s'",
                    vh_ram_block_get_name(ram));
        return false;
    }
    return true;
}

bool vh_postcopy_check_ram(VhRamBlock *ram, GError **errp)
{
    struct uffdio_range r = {.start = (guintptr)vh_ram_block_get_host(ram),
                             .len = vh_ram_block_get_size(ram)};
    int fd = uffd_open(errp);
    bool ok;

    if (fd < 0) {
        return false;
    }
    ok = uffd_register(fd, ram, errp);
    if (ok) {
        (void)ioctl(fd, UFFDIO_UNREGISTER, &r);
    }
    close(fd);
    return ok;
}

VhPostcopyTarget *vh_postcopy_target_new(VhRamBlock *ram)
{
    VhPostcopyTarget *pt = g_new0(VhPostcopyTarget, 1);

    pt->ram = ram;
    pt->host = vh_ram_block_get_host(ram);
    pt->pages = vh_ram_block_get_pages(ram);
    pt->received = g_new0(guint64, (pt->pages + 63) / 64);
    pt->later = g_new0(guint64, (pt->pages + 63) / 64);
    pt->requested = g_new0(guint64, (pt->pages + 63) / 64);
    /* Before any thread can place a page (the header's loader). */
    vh_pc_trace_init();
    pt->uffd = -1;
    pt->stop_fd = -1;
    g_mutex_init(&pt->lock);
    /* The key lives in the value: freeing the value frees both. */
    pt->pending =
        g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, g_free);
    pt->samples = g_array_new(false, false, sizeof(guint32));
    return pt;
}

static void stop_thread(VhPostcopyTarget *pt)
{
    if (pt->thread) {
        guint64 one = 1;

        if (write(pt->stop_fd, &one, sizeof(one)) < 0) {
            g_warning("post-copy: cannot stop the fault thread: %s",
                      g_strerror(errno));
        }
        g_thread_join(pt->thread);
        pt->thread = NULL;
    }
}

void vh_postcopy_target_free(VhPostcopyTarget *pt)
{
    if (!pt) {
        return;
    }
    stop_thread(pt);
    if (pt->uffd >= 0) {
        /*
         * Only when the attempt is over for good (vmhost exits): threads
         * still waiting for pages read zeros, and nobody runs it on.
         */
        if (!pt->finished) {
            g_warning("post-copy: the guest's missing pages are lost with "
                      "the source");
        }
        close(pt->uffd);
    }
    if (pt->stop_fd >= 0) {
        close(pt->stop_fd);
    }
    g_clear_object(&pt->rp);
    g_hash_table_destroy(pt->pending);
    g_array_unref(pt->samples);
    g_mutex_clear(&pt->lock);
    g_free(pt->received);
    g_free(pt->later);
    g_free(pt->requested);
    g_free(pt);
}

void vh_postcopy_mark_received(VhPostcopyTarget *pt, guint64 page)
{
    __atomic_fetch_or(&pt->received[page / 64], 1ULL << (page % 64),
                      __ATOMIC_RELEASE);
}

bool vh_postcopy_is_received(VhPostcopyTarget *pt, guint64 page)
{
    return (__atomic_load_n(&pt->received[page / 64], __ATOMIC_ACQUIRE) >>
            (page % 64)) &
           1;
}

void vh_postcopy_discard(VhPostcopyTarget *pt, guint64 first, guint64 count)
{
    for (guint64 p = first; p < first + count; p++) {
        __atomic_fetch_and(&pt->received[p / 64], ~(1ULL << (p % 64)),
                           __ATOMIC_RELEASE);
    }
}

guint64 vh_postcopy_received_count(VhPostcopyTarget *pt)
{
    guint64 n = 0;

    for (guint64 w = 0; w < (pt->pages + 63) / 64; w++) {
        n += (guint64)__builtin_popcountll(pt->received[w]);
    }
    return n;
}

static int drop_advice(VhPostcopyTarget *pt)
{
    return vh_ram_block_is_shared(pt->ram) ? MADV_REMOVE : MADV_DONTNEED;
}

/* Pages [first, first + count) leave the RAM: touching them faults. */
static bool drop_range(VhPostcopyTarget *pt, guint64 first, guint64 count,
                       GError **errp)
{
    if (madvise(pt->host + first * VH_RAM_PAGE_SIZE,
                (size_t)count * VH_RAM_PAGE_SIZE, drop_advice(pt)) < 0) {
        vh_set_error_errno(errp, errno,
                           "post-copy: dropping pages %" G_GUINT64_FORMAT
                           "+%" G_GUINT64_FORMAT,
                           first, count);
        return false;
    }
    pt->drop_calls++;
    return true;
}

bool vh_postcopy_target_prepare(VhPostcopyTarget *pt, GError **errp)
{
    /*
     * No transparent huge pages here until post-copy is over: a write to
     * one page of a huge page (or a read of the huge zero page, or
     * khugepaged collapsing a range) would populate its neighbours too,
     * pages never received that then would not fault. EINVAL: a kernel
     * without THP, where there is nothing to turn off.
     */
    if (madvise(pt->host, (size_t)pt->pages * VH_RAM_PAGE_SIZE,
                MADV_NOHUGEPAGE) < 0 &&
        errno != EINVAL) {
        vh_set_error_errno(errp, errno, "post-copy: MADV_NOHUGEPAGE");
        return false;
    }
    /*
     * Whatever the RAM held before (a -mem-prealloc, a memory-backend-file
     * with contents) goes before the first page comes: from here a page is
     * populated only by a PAGES record that marks it received.
     */
    if (!drop_range(pt, 0, pt->pages, errp)) {
        return false;
    }
    pt->drop_calls = 0;
    return true;
}

bool vh_postcopy_drop(VhPostcopyTarget *pt, guint64 first, guint64 count,
                      GError **errp)
{
    vh_postcopy_discard(pt, first, count);
    if (!drop_range(pt, first, count, errp)) {
        return false;
    }
    pt->dropped += count;
    return true;
}

void vh_postcopy_discard_later(VhPostcopyTarget *pt, guint64 first,
                               guint64 count)
{
    vh_dirty_bitmap_set_range(pt->later, first, count);
}

bool vh_postcopy_discard_pending(VhPostcopyTarget *pt, GError **errp)
{
    guint64 nwords = (pt->pages + 63) / 64;

    for (guint64 w = 0; w < nwords; w++) {
        guint64 p, q;

        if (!pt->later[w]) {
            continue;
        }
        p = w * 64 + (guint64)__builtin_ctzll(pt->later[w]);
        for (q = p + 1; q < pt->pages && vh_mig_bit_test(pt->later, q); q++) {
        }
        for (guint64 i = p; i < q; i++) {
            pt->later[i / 64] &= ~(1ULL << (i % 64));
        }
        if (!vh_postcopy_drop(pt, p, q - p, errp)) {
            return false;
        }
        w = q / 64 - 1; /* this word again: it may have more runs */
    }
    return true;
}

/*
 * The switch's safety net. Post-copy needs every page whose received bit
 * is clear to be missing from the RAM when userfaultfd registers it (a
 * populated page would not fault, and the guest would run on its stale
 * or zero contents). That holds without a drop here:
 *   - vh_postcopy_target_prepare() dropped the whole RAM, with no huge
 *     pages, before the source could send anything;
 *   - after that only PAGES records write guest RAM (a zero page is read,
 *     and written if it is not zero), and each sets the bits of every
 *     page it wrote once it wrote them;
 *   - a bit is cleared only by DISCARD, which drops the page with it, and
 *     only once every record that could still write the page is loaded
 *     (the main stream's order; with multifd at the barrier that follows,
 *     while every channel waits at its FLUSH or SYNC), and the source
 *     sends no page again before its DISCARD.
 * So a clear bit means never written or dropped after its last write, and
 * the old drop of every run of missing pages here (up to a second of
 * madvise calls inside the downtime after a pre-copy pass) is not needed.
 * What would break it is a writer to guest RAM outside the loader; one
 * mincore() over the RAM (about 1.3 ms per GiB) finds any page populated
 * with its bit clear, drops it and says so, loudly: that is a bug.
 */
static bool drop_stale(VhPostcopyTarget *pt, GError **errp)
{
    g_autofree guint8 *vec = g_malloc(pt->pages);
    guint64 p = 0;

    if (mincore(pt->host, (size_t)pt->pages * VH_RAM_PAGE_SIZE, vec) < 0) {
        vh_set_error_errno(errp, errno, "post-copy: mincore");
        return false;
    }
    while (p < pt->pages) {
        guint64 q;

        if (!(vec[p] & 1) || vh_postcopy_is_received(pt, p)) {
            p++;
            continue;
        }
        for (q = p + 1;
             q < pt->pages && (vec[q] & 1) && !vh_postcopy_is_received(pt, q);
             q++) {
        }
        if (!drop_range(pt, p, q - p, errp)) {
            return false;
        }
        if (!pt->stale) {
            g_warning("post-copy: page %" G_GUINT64_FORMAT
                      " is populated but was never received (or was "
                      "discarded): dropped at the switch",
                      p);
        }
        pt->stale += q - p;
        p = q;
    }
    if (pt->stale) {
        g_warning("post-copy: %" G_GUINT64_FORMAT
                  " stale pages dropped at the switch",
                  pt->stale);
    }
    return true;
}

void vh_postcopy_get_drops(VhPostcopyTarget *pt, guint64 *dropped,
                           guint64 *calls, guint64 *stale)
{
    *dropped = pt->dropped;
    *calls = pt->drop_calls;
    *stale = pt->stale;
}

/* linux/sched/types.h's (it clashes with sched.h's struct sched_param). */
struct vh_sched_attr {
    guint32 size;
    guint32 sched_policy;
    guint64 sched_flags;
    gint32 sched_nice;
    guint32 sched_priority;
    guint64 sched_runtime;
    guint64 sched_deadline;
    guint64 sched_period;
};

void vh_postcopy_urgent_thread(void)
{
    struct vh_sched_attr a = {
        .size = sizeof(a),
        .sched_policy = 0, /* SCHED_OTHER */
        .sched_runtime = VH_POSTCOPY_URGENT_SLICE_NS,
    };
    pid_t tid = (pid_t)syscall(SYS_gettid);

    errno = 0;
    a.sched_nice = getpriority(PRIO_PROCESS, (id_t)tid);
    if (errno == 0 && syscall(SYS_sched_setattr, tid, &a, 0) < 0) {
        g_debug("post-copy: a short slice for thread %d: %s", (int)tid,
                g_strerror(errno));
    }
}

static gint64 now_us(void)
{
    return g_get_monotonic_time();
}

/* A page just placed: if it was requested, the request is served. */
static void served(VhPostcopyTarget *pt, guint64 page)
{
    guint64 bit = 1ULL << (page % 64);
    gpointer v;

    /*
     * Most placements are the bulk's, of pages nobody asked for: one
     * atomic load, no lock (it was taken for every page; a bulk loader
     * descheduled while holding it would stall URGENT's placement and
     * the fault thread behind it). The
     * fence: on_fault sets requested and then reads received, this side
     * set received and now reads requested; one of them sees the other.
     */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    if (!(__atomic_load_n(&pt->requested[page / 64], __ATOMIC_ACQUIRE) & bit)) {
        return;
    }
    g_mutex_lock(&pt->lock);
    if (g_hash_table_lookup_extended(pt->pending, &page, NULL, &v)) {
        gint64 *t0 = v;
        guint32 us = (guint32)MIN(now_us() - *t0, (gint64)G_MAXUINT32);

        g_hash_table_remove(pt->pending, &page); /* frees t0 */
        __atomic_fetch_and(&pt->requested[page / 64], ~bit, __ATOMIC_RELEASE);
        vh_pc_trace(VH_PCT_SERVED, page);
        pt->st.served++;
        pt->st.sum_us += us;
        pt->st.max_us = MAX(pt->st.max_us, us);
        if (pt->samples->len < MAX_SAMPLES) {
            g_array_append_val(pt->samples, us);
        }
    }
    g_mutex_unlock(&pt->lock);
}

bool vh_postcopy_place(VhPostcopyTarget *pt, guint64 page, const void *data,
                       GError **errp)
{
    static const guint8 zero[VH_RAM_PAGE_SIZE];
    guintptr dst = (guintptr)(pt->host + page * VH_RAM_PAGE_SIZE);
    int r;

    if (page >= pt->pages) {
        g_set_error(errp, VH_ERROR, VH_ERROR_FAILED,
                    "post-copy: page %" G_GUINT64_FORMAT " outside RAM", page);
        return false;
    }
    for (;;) {
        if (data) {
            struct uffdio_copy c = {
                .dst = dst, .src = (guintptr)data, .len = VH_RAM_PAGE_SIZE};

            r = ioctl(pt->uffd, UFFDIO_COPY, &c);
        } else {
            struct uffdio_zeropage z = {
                .range = {.start = dst, .len = VH_RAM_PAGE_SIZE}};

            r = ioctl(pt->uffd, UFFDIO_ZEROPAGE, &z);
            if (r < 0 && errno == EINVAL) {
                data = zero; /* no zero page here: copy one */
                continue;
            }
        }
        if (r == 0 || errno == EEXIST) {
            break;
        }
        if (errno != EAGAIN && errno != EINTR) {
            vh_set_error_errno(errp, errno,
                               "post-copy: placing page %" G_GUINT64_FORMAT,
                               page);
            return false;
        }
    }
    vh_postcopy_mark_received(pt, page);
    served(pt, page);
    return true;
}

/* One fault: a page received as zero is made here, any other requested. */
static bool on_fault(VhPostcopyTarget *pt, guint64 addr, GError **errp)
{
    guint64 page = (addr - (guintptr)pt->host) / VH_RAM_PAGE_SIZE;
    bool ask;
    bool ok;

    if (addr < (guintptr)pt->host || page >= pt->pages) {
        return true;
    }
    g_mutex_lock(&pt->lock);
    pt->st.faults++;
    g_mutex_unlock(&pt->lock);
    if (vh_postcopy_is_received(pt, page)) {
        /* Received as zero and never written: nobody sends it again. */
        g_mutex_lock(&pt->lock);
        pt->st.zero++;
        g_mutex_unlock(&pt->lock);
        return vh_postcopy_place(pt, page, NULL, errp);
    }
    g_mutex_lock(&pt->lock);
    ask = !g_hash_table_contains(pt->pending, &page);
    if (ask) {
        gint64 *t0 = g_new(gint64, 2);

        t0[0] = now_us();
        t0[1] = (gint64)page; /* the key lives in the value */
        g_hash_table_insert(pt->pending, &t0[1], t0);
        __atomic_fetch_or(&pt->requested[page / 64], 1ULL << (page % 64),
                          __ATOMIC_RELEASE);
        pt->st.requests++;
    }
    g_mutex_unlock(&pt->lock);
    if (!ask) {
        return true;
    }
    g_mutex_lock(pt->rp_lock);
    ok = !pt->rp || pt->rp_failed ||
         vh_mig_rp_send_req_pages(pt->rp, 0, page, 1, errp);
    g_mutex_unlock(pt->rp_lock);
    vh_pc_trace(VH_PCT_REQ, page);
    /*
     * It may have come meanwhile, before the request was in the table
     * (the placement then saw no requested bit: each side stores, then
     * loads the other's).
     */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    if (ok && vh_postcopy_is_received(pt, page)) {
        served(pt, page);
    }
    return ok;
}

static gpointer fault_thread(gpointer opaque)
{
    VhPostcopyTarget *pt = opaque;
    struct pollfd fds[2] = {{.fd = pt->uffd, .events = POLLIN},
                            {.fd = pt->stop_fd, .events = POLLIN}};

    vh_postcopy_urgent_thread();
    for (;;) {
        struct uffd_msg msg;
        g_autoptr(GError) err = NULL;
        ssize_t n;

        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR) {
                continue;
            }
            g_warning("post-copy: poll: %s", g_strerror(errno));
            return NULL;
        }
        if (fds[1].revents) {
            return NULL;
        }
        n = read(pt->uffd, &msg, sizeof(msg));
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) {
                continue;
            }
            g_warning("post-copy: reading faults: %s", g_strerror(errno));
            return NULL;
        }
        if (n != sizeof(msg) || msg.event != UFFD_EVENT_PAGEFAULT) {
            continue;
        }
        vh_pc_trace(VH_PCT_FAULT,
                    (msg.arg.pagefault.address - (guintptr)pt->host) /
                        VH_RAM_PAGE_SIZE);
        if (!on_fault(pt,
                      msg.arg.pagefault.address &
                          ~(guint64)(VH_RAM_PAGE_SIZE - 1),
                      &err)) {
            /*
             * The page still comes with the bulk (every page not here is
             * in it); a dead link is the main stream's to report. Faults
             * on pages received as zero go on being served here.
             */
            g_message("post-copy: %s", err->message);
            g_mutex_lock(pt->rp_lock);
            pt->rp_failed = true;
            g_mutex_unlock(pt->rp_lock);
        }
    }
}

bool vh_postcopy_target_start(VhPostcopyTarget *pt, VhChannel *rp,
                              GMutex *rp_lock, GError **errp)
{
    if (!drop_stale(pt, errp)) {
        return false;
    }
    pt->uffd = uffd_open(errp);
    if (pt->uffd < 0 || !uffd_register(pt->uffd, pt->ram, errp)) {
        return false;
    }
    pt->stop_fd = eventfd(0, EFD_CLOEXEC);
    if (pt->stop_fd < 0) {
        vh_set_error_errno(errp, errno, "post-copy: eventfd");
        return false;
    }
    pt->rp = g_object_ref(rp);
    pt->rp_lock = rp_lock;
    pt->thread = g_thread_new("postcopy-fault", fault_thread, pt);
    return true;
}

static void resend(gpointer key, gpointer value, gpointer opaque)
{
    GArray *pages = opaque;
    guint64 page = *(guint64 *)key;

    g_array_append_val(pages, page);
}

bool vh_postcopy_target_set_channel(VhPostcopyTarget *pt, VhChannel *rp,
                                    GError **errp)
{
    g_autoptr(GArray) pages = g_array_new(false, false, sizeof(guint64));
    bool ok = true;

    g_mutex_lock(&pt->lock);
    g_hash_table_foreach(pt->pending, resend, pages);
    g_mutex_unlock(&pt->lock);
    g_mutex_lock(pt->rp_lock);
    g_clear_object(&pt->rp);
    pt->rp = rp ? g_object_ref(rp) : NULL;
    pt->rp_failed = false;
    /* The faults still waiting ask again on the new connection. */
    for (guint i = 0; rp && ok && i < pages->len; i++) {
        ok = vh_mig_rp_send_req_pages(rp, 0, g_array_index(pages, guint64, i),
                                      1, errp);
    }
    g_mutex_unlock(pt->rp_lock);
    return ok;
}

const guint64 *vh_postcopy_received_map(VhPostcopyTarget *pt)
{
    return pt->received;
}

bool vh_postcopy_target_started(VhPostcopyTarget *pt)
{
    return pt->uffd >= 0;
}

bool vh_postcopy_target_check_complete(VhPostcopyTarget *pt, GError **errp)
{
    guint64 have = vh_postcopy_received_count(pt);
    guint64 p = 0;

    if (have == pt->pages) {
        return true;
    }
    while (p < pt->pages && vh_postcopy_is_received(pt, p)) {
        p++;
    }
    g_set_error(errp, VH_ERROR, VH_ERROR_FAILED,
                "END with %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT
                " pages never received (the first is page %" G_GUINT64_FORMAT
                "): the source ended its push early; post-copy pauses so that "
                "a resume (migrate_recover here, migrate -r there) sends them",
                pt->pages - have, pt->pages, p);
    return false;
}

void vh_postcopy_target_finish(VhPostcopyTarget *pt)
{
    stop_thread(pt);
    vh_pc_trace_dump();
    pt->finished = true;
    if (pt->uffd >= 0) {
        close(pt->uffd);
        pt->uffd = -1;
    }
}

static int cmp_u32(gconstpointer a, gconstpointer b)
{
    guint32 x = *(const guint32 *)a, y = *(const guint32 *)b;

    return x < y ? -1 : x > y;
}

void vh_postcopy_get_stats(VhPostcopyTarget *pt, VhPostcopyStats *st)
{
    g_autoptr(GArray) s = NULL;

    g_mutex_lock(&pt->lock);
    *st = pt->st;
    s = g_array_copy(pt->samples);
    g_mutex_unlock(&pt->lock);
    if (s->len) {
        g_array_sort(s, cmp_u32);
        st->p50_us = g_array_index(s, guint32, s->len / 2);
        st->p99_us =
            g_array_index(s, guint32, MIN(s->len - 1, s->len * 99 / 100));
    }
}
