/*
 * Dirty tracking with mprotect and a SIGSEGV handler: works on any kernel and
 * any mapping. The range is made read-only; the first write to a page in a
 * pass faults, and the handler makes the page writable and sets its bit in
 * the tracker's bitmap. A sync takes the bits and makes those pages
 * read-only again.
 *
 * Why no write is lost. The handler makes the page writable FIRST and sets
 * its bit SECOND; the sync takes a word of bits (atomic exchange) FIRST and
 * write-protects the pages it took SECOND; the caller reads the pages only
 * after the sync returns. So:
 * - A write before the sync re-protects its page lands while the page is
 *   writable; the page is reported by this sync if its bit was already set,
 *   and it is read by the caller after the re-protection, so the write is
 *   in what the caller reads. If the bit was not set yet, a handler is
 *   between its mprotect and its bit store: the bit lands after our
 *   exchange and the page is reported by the next sync.
 * - A write after the re-protection faults again and is reported by the
 *   next sync.
 * The opposite order in the handler (bit, then mprotect) would lose a write:
 * a sync could take the bit and re-protect in between, and the handler's
 * late mprotect would leave the page writable with no bit set.
 *
 * The kernel does not fault for its own accesses: a read() into protected
 * memory fails with EFAULT instead. Guest RAM is written by the guest's own
 * stores, so that does not arise for the source of a migration.
 *
 * Each mprotect of a single page may split a VMA; if the kernel runs out of
 * map entries (vm.max_map_count), the handler makes the page's 64-page group,
 * else the whole range, writable and marks it all dirty, and the sync keeps
 * pages it cannot re-protect dirty: degraded, never lossy.
 */
#include "dirty-priv.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <gio/gio.h>

#include "vmhost/machine/ram.h"
#include "vmhost/util/error.h"

/* Trackers using this mechanism at once, process-wide. */
#define MAX_SLOTS 64

enum { SLOT_FREE, SLOT_ACTIVE, SLOT_DRAINING };

/*
 * What the signal handler sees of a tracker. A slot is published by storing
 * SLOT_ACTIVE after its fields; the handler counts itself in @inflight
 * before it reads @state, so a tracker can wait until no handler uses the
 * slot. A freed tracker's slot stays DRAINING (the handler just retries the
 * faulting write, the memory being writable again) until a new tracker
 * needs it, so a fault taken just before the free is not mistaken for a
 * foreign one.
 */
typedef struct {
    int state;
    int inflight;
    guint64 generation; /* when it became DRAINING, to reuse the oldest */
    uintptr_t start;
    uintptr_t end;
    guint64 *bits;
    guint64 pages;
} Slot;

static Slot slots[MAX_SLOTS];
static GMutex slots_lock; /* serializes publishing and retiring slots */
static guint64 slots_generation;
static struct sigaction prev_action;
static bool handler_installed;

static void bits_set_all(Slot *s)
{
    for (guint64 w = 0; w < (s->pages + 63) / 64; w++) {
        guint64 n = MIN(s->pages - w * 64, 64);
        guint64 mask = n == 64 ? ~0ULL : (1ULL << n) - 1;
        __atomic_fetch_or(&s->bits[w], mask, __ATOMIC_SEQ_CST);
    }
}

/* In the signal handler: make the faulting page writable, then mark it. */
static void record_write(Slot *s, uintptr_t addr)
{
    guint64 page = (addr - s->start) / VH_RAM_PAGE_SIZE;
    guint64 word = page / 64;

    if (mprotect((void *)(s->start + page * VH_RAM_PAGE_SIZE), VH_RAM_PAGE_SIZE,
                 PROT_READ | PROT_WRITE) == 0) {
        __atomic_fetch_or(&s->bits[word], 1ULL << (page % 64),
                          __ATOMIC_SEQ_CST);
        return;
    }
    /* Out of map entries: unprotect larger, mergeable pieces. */
    guint64 n = MIN(s->pages - word * 64, 64);
    if (mprotect((void *)(s->start + word * 64 * VH_RAM_PAGE_SIZE),
                 n * VH_RAM_PAGE_SIZE, PROT_READ | PROT_WRITE) == 0) {
        guint64 mask = n == 64 ? ~0ULL : (1ULL << n) - 1;
        __atomic_fetch_or(&s->bits[word], mask, __ATOMIC_SEQ_CST);
        return;
    }
    if (mprotect((void *)s->start, s->end - s->start, PROT_READ | PROT_WRITE) ==
        0) {
        bits_set_all(s);
        return;
    }
    static const char msg[] = "vmhost: dirty tracking cannot unprotect a "
                              "written page\n";
    (void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
    abort();
}

static void chain_previous(int sig, siginfo_t *si, void *uc)
{
    if (prev_action.sa_flags & SA_SIGINFO) {
        prev_action.sa_sigaction(sig, si, uc);
    } else if (prev_action.sa_handler == SIG_DFL ||
               prev_action.sa_handler == SIG_IGN) {
        /* Let the fault happen again under the previous disposition. */
        sigaction(SIGSEGV, &prev_action, NULL);
    } else {
        prev_action.sa_handler(sig);
    }
}

/*
 * Whether @addr is in a tracked range (recorded) or in a just retired one
 * (the write is simply retried); an active tracker wins over a retired one
 * that covered the same addresses.
 */
static bool handle_fault(uintptr_t addr)
{
    bool retired = false;

    for (int i = 0; i < MAX_SLOTS; i++) {
        Slot *s = &slots[i];
        __atomic_fetch_add(&s->inflight, 1, __ATOMIC_SEQ_CST);
        int state = __atomic_load_n(&s->state, __ATOMIC_SEQ_CST);
        bool mine = state != SLOT_FREE && addr >= s->start && addr < s->end;
        if (mine && state == SLOT_ACTIVE) {
            record_write(s, addr);
            __atomic_fetch_sub(&s->inflight, 1, __ATOMIC_SEQ_CST);
            return true;
        }
        retired |= mine;
        __atomic_fetch_sub(&s->inflight, 1, __ATOMIC_SEQ_CST);
    }
    return retired;
}

static void segv_handler(int sig, siginfo_t *si, void *uc)
{
    int saved_errno = errno;

    if (si->si_code == SEGV_ACCERR && handle_fault((uintptr_t)si->si_addr)) {
        errno = saved_errno;
        return;
    }
    errno = saved_errno;
    chain_previous(sig, si, uc);
}

static bool install_handler(GError **errp)
{
    struct sigaction sa;

    if (handler_installed) {
        return true;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = segv_handler;
    sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSEGV, &sa, &prev_action) < 0) {
        g_set_error(errp, G_IO_ERROR, g_io_error_from_errno(errno),
                    "cannot install the SIGSEGV handler for mprotect dirty "
                    "tracking: %s",
                    g_strerror(errno));
        return false;
    }
    handler_installed = true;
    return true;
}

static void wait_unused(Slot *s)
{
    while (__atomic_load_n(&s->inflight, __ATOMIC_SEQ_CST) != 0) {
        g_thread_yield();
    }
}

/* A free slot, else the longest-retired one; NULL if all are active. */
static Slot *pick_slot(void)
{
    Slot *best = NULL;

    for (int i = 0; i < MAX_SLOTS; i++) {
        Slot *s = &slots[i];
        if (s->state == SLOT_FREE) {
            return s;
        }
        if (s->state == SLOT_DRAINING &&
            (!best || s->generation < best->generation)) {
            best = s;
        }
    }
    if (best) {
        __atomic_store_n(&best->state, SLOT_FREE, __ATOMIC_SEQ_CST);
        wait_unused(best);
    }
    return best;
}

/* Retired slots over the new range are of no more use. */
static void retire_overlapping(uintptr_t start, uintptr_t end)
{
    for (int i = 0; i < MAX_SLOTS; i++) {
        Slot *s = &slots[i];
        if (s->state == SLOT_DRAINING && s->start < end && start < s->end) {
            __atomic_store_n(&s->state, SLOT_FREE, __ATOMIC_SEQ_CST);
            wait_unused(s);
        }
    }
}

static bool mprotect_start(VhDirtyTracker *t, GError **errp)
{
    G_GNUC_UNUSED g_autoptr(GMutexLocker) locker =
        g_mutex_locker_new(&slots_lock);

    if (!install_handler(errp)) {
        return false;
    }
    Slot *s = pick_slot();
    if (!s) {
        g_set_error(errp, VH_ERROR, VH_ERROR_FAILED,
                    "cannot track dirty pages of %p: %d mprotect trackers "
                    "are already in use",
                    (void *)t->host, MAX_SLOTS);
        return false;
    }
    retire_overlapping((uintptr_t)t->host, (uintptr_t)t->host + t->size);
    s->start = (uintptr_t)t->host;
    s->end = s->start + t->size;
    s->pages = t->pages;
    s->bits = g_new0(guint64, (t->pages + 63) / 64);
    __atomic_store_n(&s->state, SLOT_ACTIVE, __ATOMIC_SEQ_CST);
    if (mprotect(t->host, t->size, PROT_READ) < 0) {
        int err = errno;
        g_set_error(errp, G_IO_ERROR, g_io_error_from_errno(err),
                    "cannot write-protect %p+%" G_GUINT64_FORMAT
                    " for mprotect dirty tracking: %s",
                    (void *)t->host, t->size, g_strerror(err));
        __atomic_store_n(&s->state, SLOT_FREE, __ATOMIC_SEQ_CST);
        wait_unused(s);
        g_clear_pointer(&s->bits, g_free);
        return false;
    }
    t->priv = s;
    return true;
}

/* Protect pages [first, first + n) again; on failure keep them dirty. */
static void reprotect_run(Slot *s, guint64 first, guint64 n)
{
    if (n == 0 || mprotect((void *)(s->start + first * VH_RAM_PAGE_SIZE),
                           n * VH_RAM_PAGE_SIZE, PROT_READ) == 0) {
        return;
    }
    for (guint64 p = first; p < first + n; p++) {
        __atomic_fetch_or(&s->bits[p / 64], 1ULL << (p % 64), __ATOMIC_SEQ_CST);
    }
}

static gint64 mprotect_sync(VhDirtyTracker *t, guint64 *bitmap, GError **errp)
{
    Slot *s = t->priv;
    guint64 run_first = 0, run_len = 0;
    gint64 dirty = 0;

    (void)errp;
    for (guint64 w = 0; w < (s->pages + 63) / 64; w++) {
        guint64 x = __atomic_exchange_n(&s->bits[w], 0, __ATOMIC_SEQ_CST);
        if (x == 0) {
            continue;
        }
        bitmap[w] |= x;
        dirty += __builtin_popcountll(x);
        while (x) {
            guint64 page = w * 64 + (guint64)__builtin_ctzll(x);
            x &= x - 1;
            if (run_len && run_first + run_len == page) {
                run_len++;
                continue;
            }
            reprotect_run(s, run_first, run_len);
            run_first = page;
            run_len = 1;
        }
    }
    reprotect_run(s, run_first, run_len);
    return dirty;
}

static void mprotect_stop(VhDirtyTracker *t)
{
    G_GNUC_UNUSED g_autoptr(GMutexLocker) locker =
        g_mutex_locker_new(&slots_lock);
    Slot *s = t->priv;

    /* Writable first, so a fault racing with the retirement just retries. */
    (void)mprotect(t->host, t->size, PROT_READ | PROT_WRITE);
    s->generation = ++slots_generation;
    __atomic_store_n(&s->state, SLOT_DRAINING, __ATOMIC_SEQ_CST);
    wait_unused(s);
    g_clear_pointer(&s->bits, g_free);
    t->priv = NULL;
}

const VhDirtyOps vh_dirty_mprotect_ops = {
    .name = "mprotect",
    .start = mprotect_start,
    .sync = mprotect_sync,
    .stop = mprotect_stop,
};
