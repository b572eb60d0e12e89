/*
 * VhDirtyTracker: which guest pages were written, as the kernel saw it.
 *
 *     g_autoptr(GError) err = NULL;
 *     g_autoptr(VhDirtyTracker) t =
 *         vh_dirty_tracker_new(host, size, NULL, &err);
 *     // first pass: send every page
 *     guint64 *bitmap = g_new0(guint64, (pages + 63) / 64);
 *     gint64 n = vh_dirty_tracker_sync(t, bitmap, &err);
 *     // n pages written since creation have their bit set; send them, clear
 *     // the bits, sync again ...
 *
 * The dirty information comes from the kernel, never from the guest:
 *
 * - "uffd-wp+pagemap-scan": the range is registered with userfaultfd in
 *   write-protect mode with UFFD_FEATURE_WP_ASYNC, so a write to a protected
 *   page is resolved by the kernel itself (no fault reaches us); the
 *   PAGEMAP_SCAN ioctl (Linux >= 6.7) then reports the written pages and
 *   write-protects them again in one atomic step.
 * - "mprotect": the range is made read-only; a SIGSEGV handler records the
 *   page in a bitmap and makes it writable again. Works on any kernel and
 *   any mapping, at the cost of one signal per first write to a page per
 *   pass. The handler chains to the previous SIGSEGV handler for faults
 *   outside every tracked range.
 *
 * Pages are VH_RAM_PAGE_SIZE (4 KiB). A tracker does not own the memory;
 * free the tracker before unmapping it.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct VhDirtyTracker VhDirtyTracker;

/*
 * Track writes to [host, host+size) (4 KiB pages, page aligned; size a
 * non-zero multiple of 4 KiB).
 * @mechanism: NULL or "auto" = userfaultfd-wp async + PAGEMAP_SCAN if the
 * kernel and the memory support it, else mprotect; "uffd-wp" or "mprotect"
 * forces one (an error if impossible, saying why). With NULL, the
 * environment variable VMHOST_DIRTY_TRACKING (auto, uffd-wp or mprotect), if
 * set, decides instead: a way to run a whole program on the fallback.
 * After creation every page counts as clean; the caller treats everything as
 * dirty for the first pass. Returns (transfer full) or NULL with @errp set.
 */
G_GNUC_WARN_UNUSED_RESULT
VhDirtyTracker *vh_dirty_tracker_new(void *host, guint64 size,
                                     const char *mechanism, GError **errp);

/*
 * Atomically collect the pages written since creation / the previous sync,
 * re-protect them, and OR them into @bitmap (bit i % 64 of word i / 64 =
 * page i; (pages + 63) / 64 guint64 words). Returns the number of pages
 * found dirty by this sync (each page once, also where the kernel reports
 * a page again), or -1 with @errp set. Writers in other threads
 * may run concurrently; no write is lost (a write racing a sync is reported
 * by this sync or the next). Syncs of one tracker must not run concurrently
 * with each other.
 */
G_GNUC_WARN_UNUSED_RESULT
gint64 vh_dirty_tracker_sync(VhDirtyTracker *t, guint64 *bitmap, GError **errp);

/* "uffd-wp+pagemap-scan" or "mprotect" (static string). */
const char *vh_dirty_tracker_mechanism(VhDirtyTracker *t);

/* Stops tracking; the memory is left writable. NULL is allowed. */
void vh_dirty_tracker_free(VhDirtyTracker *t);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(VhDirtyTracker, vh_dirty_tracker_free)

G_END_DECLS
