/*
 * The two dirty-tracking mechanisms behind VhDirtyTracker (private to
 * lib/migration/dirty*.c).
 */
#pragma once

#include "vmhost/migration/dirty.h"

#include <stdbool.h>

typedef struct VhDirtyOps VhDirtyOps;

struct VhDirtyTracker {
    const VhDirtyOps *ops;
    guint8 *host;
    guint64 size;
    guint64 pages;
    void *priv; /* the mechanism's state */
};

struct VhDirtyOps {
    const char *name;
    /* Mandatory: start tracking t->host..t->size, set t->priv. */
    bool (*start)(VhDirtyTracker *t, GError **errp);
    /* Mandatory: collect, re-protect, OR into @bitmap, count. */
    gint64 (*sync)(VhDirtyTracker *t, guint64 *bitmap, GError **errp);
    /* Mandatory: stop tracking, leave the memory writable, free t->priv. */
    void (*stop)(VhDirtyTracker *t);
};

extern const VhDirtyOps vh_dirty_uffd_ops;
extern const VhDirtyOps vh_dirty_mprotect_ops;

/* Set bits [first, first + n) of @bitmap. */
void vh_dirty_bitmap_set_range(guint64 *bitmap, guint64 first, guint64 n);
