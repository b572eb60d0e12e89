/*
 * VhTestGuest: the built-in test guest, the "software" a vmhost machine
 * runs so that migration can be checked end to end.
 *
 *     g_autoptr(VhTestGuest) guest = vh_test_guest_new(ram, &err);
 *     vh_test_guest_set_workload(guest, 100 << 20, VH_DIRTY_HOT);
 *     vh_test_guest_resume(guest);       // the machine does this on cont
 *     ...
 *     vh_test_guest_pause(guest);        // returns once it has stopped
 *     if (!vh_test_guest_verify(guest, &checked, &err)) { ... }
 *     g_autofree char *reply = vh_test_guest_command(guest, "status");
 *
 * RAM layout (host byte order; all of it is ordinary guest RAM, so migration
 * carries it like any other page):
 *
 *     page 0                  header: magic "VHTGUEST", version, page size,
 *                             total pages, table pages, data pages
 *     pages 1 .. T            generation table: one guint64 per data page
 *     pages T+1 .. end        data pages
 *
 * T = ceil((pages - 1) / 513): each table page describes 512 data pages.
 * Data page i with generation g holds vh_test_guest_fill_page(i, g): all
 * zeros for g = 0, so fresh RAM verifies and untouched pages migrate as zero
 * pages; otherwise word 0 is i ^ VH_TEST_GUEST_PAGE_TAG, word 1 is g and the
 * remaining 510 words are a splitmix64 stream seeded from (i, g). `verify`
 * needs nothing but RAM, so a migration target can check what it received.
 *
 * The workload thread rewrites data pages at a set rate (a token bucket in
 * bytes per second) in one of three patterns: a sequential sweep, uniform
 * random pages from a seeded PRNG, or a hot set (the first 5% of the data
 * pages get 90% of the writes). For each page it writes the new content
 * first, then stores the bumped generation (release order). A concurrent
 * reader that takes no lock — migration — may therefore see a page newer
 * than its table entry, or a torn page; it must rely on dirty tracking and
 * copy the final state after vh_test_guest_pause() returns. The table is
 * guest RAM too, so each page write dirties two pages: the data page and
 * the table page holding its entry. Once paused, every
 * page and its table entry agree. verify and checksum take the page lock
 * the workload holds per page, so they see a consistent RAM even while it
 * runs (the workload waits meanwhile).
 *
 * Threads: every function may be called from any thread, concurrently,
 * except vh_test_guest_free(), which nothing may race with. The guest is
 * created paused; pause/resume are synchronous and are normally driven by
 * VhMachine's run state. @ram must outlive the guest.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>

#include "vmhost/machine/ram.h"
#include "vmhost/machine/vmstate.h"

G_BEGIN_DECLS

#define VH_TEST_GUEST_MAGIC    0x5453455547544856ULL /* "VHTGUEST" in LE */
#define VH_TEST_GUEST_VERSION  1u
#define VH_TEST_GUEST_PAGE_TAG 0x9f3b5c71d2e8a604ULL /* word 0 of a page */

/* Fewest pages a guest fits in: header, one table page, one data page. */
#define VH_TEST_GUEST_MIN_PAGES 3u

typedef enum {
    VH_DIRTY_SEQUENTIAL,
    VH_DIRTY_RANDOM,
    VH_DIRTY_HOT,
} VhDirtyPattern;

typedef struct VhTestGuest VhTestGuest;

/*
 * A guest over @ram (transfer none). A valid header for the same layout is
 * kept (RAM that already holds a guest: a shared file, a migration); any
 * other content gets a new header and a zeroed table. Fails when @ram has
 * fewer than VH_TEST_GUEST_MIN_PAGES pages.
 */
G_GNUC_WARN_UNUSED_RESULT
VhTestGuest *vh_test_guest_new(VhRamBlock *ram, GError **errp);

/* Stops the workload thread. NULL is allowed. */
void vh_test_guest_free(VhTestGuest *guest);

/* Stop writing at a page boundary; returns once the thread has stopped. */
void vh_test_guest_pause(VhTestGuest *guest);
void vh_test_guest_resume(VhTestGuest *guest);
bool vh_test_guest_is_paused(VhTestGuest *guest);

/* Rewrite pages at @rate bytes/s in @pattern; 0 turns the workload off. */
void vh_test_guest_set_workload(VhTestGuest *guest, guint64 rate,
                                VhDirtyPattern pattern);
guint64 vh_test_guest_get_rate(VhTestGuest *guest);
VhDirtyPattern vh_test_guest_get_pattern(VhTestGuest *guest);

/*
 * The seed of the random and hot patterns' PRNG (default 1): the PRNG
 * state becomes @seed; the sweep cursor stays.
 */
void vh_test_guest_set_seed(VhTestGuest *guest, guint64 seed);

/*
 * Where the workload is: the state of the random and hot patterns'
 * splitmix64 PRNG and the next data page of the sequential sweep. What a
 * migration carries, so that the target's workload goes on exactly where
 * the source's stopped.
 */
typedef struct {
    guint64 rng;
    guint64 cursor; /* < vh_test_guest_get_data_pages() */
} VhTestGuestWorkloadState;

/*
 * Exact while the guest is paused (the thread publishes its position after
 * every batch of writes and before it parks); while it runs, the position
 * after its last batch.
 */
void vh_test_guest_get_workload_state(VhTestGuest *guest,
                                      VhTestGuestWorkloadState *state);

/*
 * The workload goes on from @state (its next write uses it). Fails with
 * VH_ERROR_INVALID_ARGUMENT when the cursor is not below the data pages.
 */
G_GNUC_WARN_UNUSED_RESULT
bool vh_test_guest_set_workload_state(VhTestGuest *guest,
                                      const VhTestGuestWorkloadState *state,
                                      GError **errp);

/* Pages the workload has written since the guest was created. */
guint64 vh_test_guest_get_pages_written(VhTestGuest *guest);

guint64 vh_test_guest_get_data_pages(VhTestGuest *guest);
/* Index of the first data page within the RAM block. */
guint64 vh_test_guest_get_first_data_page(VhTestGuest *guest);
/* The table's generation for data page @index. */
guint64 vh_test_guest_get_generation(VhTestGuest *guest, guint64 index);

/*
 * Check the header and every data page against the table. On a mismatch,
 * false with a VH_ERROR_FAILED error naming the count and the first few
 * pages, the generation each should hold and what it holds instead.
 * @pages_checked (optional) is set either way.
 */
G_GNUC_WARN_UNUSED_RESULT
bool vh_test_guest_verify(VhTestGuest *guest, guint64 *pages_checked,
                          GError **errp);

/* A 64-bit hash of all of RAM (header, table and data). */
guint64 vh_test_guest_checksum(VhTestGuest *guest);

/*
 * One console line in, the reply out (transfer full, never NULL; lines
 * separated by '\n', no trailing newline; "" for a blank line). Failures
 * are one line: "error: COMMAND: what went wrong". See `help`.
 */
char *vh_test_guest_command(VhTestGuest *guest, const char *line);

/* The content of data page @index at generation @gen, VH_RAM_PAGE_SIZE. */
void vh_test_guest_fill_page(void *page, guint64 index, guint64 gen);

/*
 * The guest's migration state, "test-guest" version 2: the workload's rate,
 * pattern and position (lib/machine/test-guest-state.c). The machine
 * registers its guest with it.
 */
extern const VhDeviceStateOps vh_test_guest_state_ops;

const char *vh_dirty_pattern_name(VhDirtyPattern pattern);
bool vh_dirty_pattern_from_name(const char *name, VhDirtyPattern *pattern);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(VhTestGuest, vh_test_guest_free)

G_END_DECLS
