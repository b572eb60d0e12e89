/*
 * Private to the source: the multifd channels' sending side. Each channel
 * has its own thread and connection; all take jobs from one shared queue
 * (an idle channel takes the next, a slow one holds nobody back), and each
 * iteration ends with a SYNC that every channel passes exactly once.
 *
 *     VhMultifdSend *m = vh_multifd_send_new(&page_sender, nch);
 *     for (i = 0; i < nch; i++)
 *         vh_multifd_send_start_channel(m, i, ch_i, uuid, errp);
 *     vh_multifd_send_pages(m, first, present, first_pass);   // per job
 *     vh_multifd_send_sync(m, iteration, packets);            // per pass
 *     vh_multifd_send_end(m);       // CHANNEL_END everywhere, joined
 *     vh_multifd_send_free(m);      // cuts what still runs, joins, closes
 *
 * Threads: everything here is for the source's migration thread; the
 * channels' threads are internal. The queue, the barrier and each
 * channel's first error are under the object's own lock (qlock).
 */
#pragma once

#include "source-pages.h"

G_BEGIN_DECLS

/* A job: up to 4 records (4 MiB), a quarter of the queue hand-offs. */
#define VH_MULTIFD_JOB_RECORDS 4u
#define VH_MULTIFD_JOB_PAGES   (VH_MULTIFD_JOB_RECORDS * VH_MIG_RECORD_PAGES)
#define VH_MULTIFD_JOB_WORDS   (VH_MULTIFD_JOB_RECORDS * VH_MIG_BITMAP_WORDS)

typedef struct VhMultifdSend VhMultifdSend;

/* @nch channels sending through @ps (borrowed, must outlive it). */
VhMultifdSend *vh_multifd_send_new(VhMigPageSender *ps, guint nch);
/* Cuts the channels still running, joins their threads, closes them. */
void vh_multifd_send_free(VhMultifdSend *m);

/*
 * Channel @idx over @ch (a reference is taken): its hello, then its
 * thread. Fails when the hello cannot be written.
 */
G_GNUC_WARN_UNUSED_RESULT
bool vh_multifd_send_start_channel(VhMultifdSend *m, guint idx, VhChannel *ch,
                                   const guint8 uuid[VH_MIG_UUID_SIZE],
                                   GError **errp);

/*
 * Queue the pages of @present (bit i = page @first + i, at most
 * VH_MULTIFD_JOB_PAGES, up to @pages in all) for the next idle channel;
 * waits while the queue is full.
 */
void vh_multifd_send_pages(VhMultifdSend *m, guint64 first, guint64 pages,
                           const guint64 present[VH_MULTIFD_JOB_WORDS],
                           bool first_pass);

/*
 * End iteration @iteration on every channel (SYNC) and wait until all have
 * passed it; each channel's record count of the iteration goes to
 * @packets[i].
 */
void vh_multifd_send_sync(VhMultifdSend *m, guint64 iteration,
                          guint64 *packets);

/*
 * The same barrier in the middle of a pass (post-copy's DIRTY_SYNC): a
 * FLUSH for mid-pass sync @sync on every channel; their record counts
 * since the last SYNC or FLUSH go to @packets[i].
 */
void vh_multifd_send_flush(VhMultifdSend *m, guint64 sync, guint64 *packets);

/* CHANNEL_END and the clean end on every channel; joins their threads. */
void vh_multifd_send_end(VhMultifdSend *m);

/* The first channel's failure, if any (cheap when none failed). */
bool vh_multifd_send_failed(VhMultifdSend *m, GError **errp);

/* Add the channels' records, normal and zero pages to @c. */
void vh_multifd_send_add_counts(VhMultifdSend *m, VhMigCounts *c);

G_END_DECLS
