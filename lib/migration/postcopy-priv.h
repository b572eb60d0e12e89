/*
 * Private to lib/migration: the target's half of post-copy
 * (postcopy-target.c). Its RAM is registered with userfaultfd for MISSING
 * faults; a fault thread asks the source for each page the guest touches
 * before having it (REQ_PAGES on the return path), and every page that
 * arrives, requested or pushed, is placed atomically (UFFDIO_COPY /
 * UFFDIO_ZEROPAGE), which wakes whoever waits for it.
 */
#pragma once

#include "vmhost/io/channel.h"
#include "vmhost/machine/ram.h"
#include "vmhost/migration/stream-format.h"

G_BEGIN_DECLS

typedef struct VhPostcopyTarget VhPostcopyTarget;

/* Fault service figures (the target's, page request to placement). */
typedef struct {
    guint64 faults;   /* faults seen */
    guint64 requests; /* REQ_PAGES sent */
    guint64 zero;     /* faults on pages received as zero: placed here */
    guint64 served;   /* requests whose page was placed */
    guint64 sum_us;
    guint64 max_us;
    guint64 p50_us;
    guint64 p99_us;
} VhPostcopyStats;

/*
 * Whether userfaultfd can register @ram for MISSING faults and place
 * pages in it (anonymous and shared memory, shmem/tmpfs files); if not,
 * the error says why.
 */
G_GNUC_WARN_UNUSED_RESULT
bool vh_postcopy_check_ram(VhRamBlock *ram, GError **errp);

/*
 * The calling thread serves page faults (the fault thread, the source's
 * request reader, URGENT's loader): a short scheduler slice, so that its
 * wake-up preempts a busy thread at once instead of waiting out that
 * thread's slice (Linux 6.12's EEVDF; elsewhere, and where refused, a
 * no-op). Needs no privilege; the nice value stays.
 */
#define VH_POSTCOPY_URGENT_SLICE_NS 100000u
void vh_postcopy_urgent_thread(void);

VhPostcopyTarget *vh_postcopy_target_new(VhRamBlock *ram);
/*
 * Stops the fault thread. After vh_postcopy_target_finish() the RAM is
 * unregistered; otherwise (post-copy failed, pages missing) the
 * userfaultfd stays open on purpose: the guest's threads stay blocked on
 * pages that will never come instead of reading zeros.
 */
void vh_postcopy_target_free(VhPostcopyTarget *pt);

/* Pre-copy: pages loaded (any thread). */
void vh_postcopy_mark_received(VhPostcopyTarget *pt, guint64 page);
bool vh_postcopy_is_received(VhPostcopyTarget *pt, guint64 page);
/* The received bits of these pages are cleared (the pages stay). */
void vh_postcopy_discard(VhPostcopyTarget *pt, guint64 first, guint64 count);
/*
 * With the header, before READY: no huge pages, and the whole RAM
 * dropped, so that no page is populated before a PAGES record brings it.
 */
G_GNUC_WARN_UNUSED_RESULT
bool vh_postcopy_target_prepare(VhPostcopyTarget *pt, GError **errp);
/*
 * DISCARD: these pages were dirtied after their last send; they are
 * forgotten and leave the RAM now (the caller makes sure no record that
 * could still write them is in flight).
 */
G_GNUC_WARN_UNUSED_RESULT
bool vh_postcopy_drop(VhPostcopyTarget *pt, guint64 first, guint64 count,
                      GError **errp);
/* Multifd: DISCARD noted, dropped at the barrier that follows it. */
void vh_postcopy_discard_later(VhPostcopyTarget *pt, guint64 first,
                               guint64 count);
G_GNUC_WARN_UNUSED_RESULT
bool vh_postcopy_discard_pending(VhPostcopyTarget *pt, GError **errp);
/* Pages DISCARD dropped, madvise calls, stale pages the switch found. */
void vh_postcopy_get_drops(VhPostcopyTarget *pt, guint64 *dropped,
                           guint64 *calls, guint64 *stale);
guint64 vh_postcopy_received_count(VhPostcopyTarget *pt);

/*
 * Switch-over: check that no page not received is populated (dropping
 * any that is, see drop_stale), register the RAM,
 * start the fault thread that requests pages on @rp (its writes are
 * serialised by @rp_lock, which the caller holds for any other write).
 */
G_GNUC_WARN_UNUSED_RESULT
bool vh_postcopy_target_start(VhPostcopyTarget *pt, VhChannel *rp,
                              GMutex *rp_lock, GError **errp);
bool vh_postcopy_target_started(VhPostcopyTarget *pt);
/*
 * Resume: requests go on @rp now (NULL while paused: faults are only
 * recorded); those still waiting are sent again on it.
 */
G_GNUC_WARN_UNUSED_RESULT
bool vh_postcopy_target_set_channel(VhPostcopyTarget *pt, VhChannel *rp,
                                    GError **errp);
/* The received bitmap ((pages + 63) / 64 words, read atomically). */
const guint64 *vh_postcopy_received_map(VhPostcopyTarget *pt);
/* Place one page (@data NULL: a zero page); a page already there is fine. */
G_GNUC_WARN_UNUSED_RESULT
bool vh_postcopy_place(VhPostcopyTarget *pt, guint64 page, const void *data,
                       GError **errp);
/*
 * At END: whether every page is here. If one is not, the guest would read
 * zeros there once the RAM is unregistered: the error says how many and
 * which first, and the caller pauses instead of finishing (a resume sends
 * what the received bitmap lacks).
 */
G_GNUC_WARN_UNUSED_RESULT
bool vh_postcopy_target_check_complete(VhPostcopyTarget *pt, GError **errp);
/* Every page is in: stop the fault thread, unregister the RAM. */
void vh_postcopy_target_finish(VhPostcopyTarget *pt);
void vh_postcopy_get_stats(VhPostcopyTarget *pt, VhPostcopyStats *st);

G_END_DECLS

/* ---- the source's half (postcopy-source.c) ---- */

G_BEGIN_DECLS

/*
 * The source's request server during post-copy: a thread reads REQ_PAGES
 * on the REQUEST connection (checked against guest RAM: a request outside
 * it is a protocol error) and sends each requested range at once on the
 * URGENT connection, so that a fault never waits behind the bulk on the
 * main connection; it then queues the request for the migration thread,
 * which skips those pages and goes on from there.
 */
typedef struct VhPostcopySource VhPostcopySource;

typedef enum {
    VH_PC_NONE,    /* nothing queued (without waiting) */
    VH_PC_REQUEST, /* a page request */
    VH_PC_LOADED,  /* the target's LOADED: counts */
    VH_PC_FAILED,  /* the return path failed: the error */
} VhPcEvent;

struct VhMigPageSender;
VhPostcopySource *vh_postcopy_source_start(VhChannel *req, VhChannel *urgent,
                                           struct VhMigPageSender *sender,
                                           guint64 pages);
VhPcEvent vh_postcopy_source_next(VhPostcopySource *ps, bool wait,
                                  guint64 *first, guint32 *count,
                                  VhMigCounts *loaded, GError **errp);
guint64 vh_postcopy_source_requests(VhPostcopySource *ps);
/*
 * Whether the reader has failed (its VH_PC_FAILED is queued), for a
 * caller that cannot take the queue now (the migration thread sleeping
 * off max-postcopy-bandwidth).
 */
bool vh_postcopy_source_failed(VhPostcopySource *ps);
/*
 * Joins the thread (the caller cut the REQUEST connection first) and adds
 * what it sent on URGENT to @c; *@records: its PAGES records.
 */
void vh_postcopy_source_stop(VhPostcopySource *ps, VhMigCounts *c,
                             guint64 *records);
void vh_postcopy_source_free(VhPostcopySource *ps);

#define VH_PC_NO_WINDOW G_MAXUINT64

/*
 * The background's walk: the first window of @step words at or after word
 * @from (rounded down to a window; wrapping past @nwords, a multiple of
 * @step) with any bit set in @bitmap, or VH_PC_NO_WINDOW when no bit is
 * set anywhere. The answer depends on the bitmap alone, never on how the
 * walk got there, so a request that moves the walk cannot end it early.
 */
guint64 vh_postcopy_next_window(const guint64 *bitmap, guint64 nwords,
                                guint step, guint64 from);

G_END_DECLS
