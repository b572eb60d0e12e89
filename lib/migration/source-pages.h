/*
 * Private to the source (migration-source.c, multifd-send.c): sending
 * PAGES records from guest RAM, with the first pass's shortcuts, and the
 * byte count of every connection.
 */
#pragma once

#include "vmhost/migration/stream.h"

G_BEGIN_DECLS

typedef struct VhMigPageSender {
    VhRamBlock *ram;
    int pagemap;   /* /proc/self/pagemap for anonymous RAM, else -1 */
    guint64 bytes; /* on the wire, every connection (atomic) */
} VhMigPageSender;

/* @ps over @ram, without pagemap (vh_mig_page_sender_open_pagemap). */
void vh_mig_page_sender_init(VhMigPageSender *ps, VhRamBlock *ram);
/* Anonymous RAM: the first pass will skip what was never populated. */
void vh_mig_page_sender_open_pagemap(VhMigPageSender *ps);
void vh_mig_page_sender_clear(VhMigPageSender *ps);

/*
 * First pass over file-backed RAM: map [first, first + count) in one call
 * (advisory). Anonymous RAM: nothing.
 */
void vh_mig_prefault(VhRamBlock *ram, guint64 first, guint64 count);

/*
 * One PAGES record on @ch (vh_mig_send_pages), counted in @c and in the
 * bytes; on the first pass over anonymous RAM the never-populated pages go
 * as zero pages without being read.
 */
G_GNUC_WARN_UNUSED_RESULT
bool vh_mig_page_sender_send(VhMigPageSender *ps, VhChannel *ch,
                             bool first_pass, guint64 first, guint32 count,
                             const guint64 present[VH_MIG_BITMAP_WORDS],
                             VhMigCounts *c, GError **errp);

/* Write @b whole on @ch, count it, empty it. */
G_GNUC_WARN_UNUSED_RESULT
bool vh_mig_page_sender_write(VhMigPageSender *ps, VhChannel *ch, GByteArray *b,
                              GError **errp);

static inline void vh_mig_page_sender_add_bytes(VhMigPageSender *ps, guint64 n)
{
    __atomic_fetch_add(&ps->bytes, n, __ATOMIC_RELAXED);
}

static inline guint64 vh_mig_page_sender_get_bytes(VhMigPageSender *ps)
{
    return __atomic_load_n(&ps->bytes, __ATOMIC_RELAXED);
}

G_END_DECLS
