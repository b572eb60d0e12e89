/*
 * VhDirtyTracker: mechanism choice and the shared bitmap helper. The
 * mechanisms are in dirty-uffd.c and dirty-mprotect.c.
 */
#include "dirty-priv.h"

#include <stdint.h>
#include <string.h>

#include "vmhost/machine/ram.h"
#include "vmhost/util/error.h"

void vh_dirty_bitmap_set_range(guint64 *bitmap, guint64 first, guint64 n)
{
    guint64 end = first + n;

    while (first < end && first % 64 != 0) {
        bitmap[first / 64] |= 1ULL << (first % 64);
        first++;
    }
    while (end - first >= 64) {
        bitmap[first / 64] = ~0ULL;
        first += 64;
    }
    while (first < end) {
        bitmap[first / 64] |= 1ULL << (first % 64);
        first++;
    }
}

static bool check_range(void *host, guint64 size, GError **errp)
{
    if ((uintptr_t)host % VH_RAM_PAGE_SIZE != 0 || size == 0 ||
        size % VH_RAM_PAGE_SIZE != 0) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "cannot track dirty pages of %p+%" G_GUINT64_FORMAT
                    ": start and size must be non-zero multiples of %u",
                    host, size, VH_RAM_PAGE_SIZE);
        return false;
    }
    return true;
}

static VhDirtyTracker *try_start(void *host, guint64 size,
                                 const VhDirtyOps *ops, GError **errp)
{
    VhDirtyTracker *t = g_new0(VhDirtyTracker, 1);

    t->ops = ops;
    t->host = host;
    t->size = size;
    t->pages = size / VH_RAM_PAGE_SIZE;
    if (!ops->start(t, errp)) {
        g_free(t);
        return NULL;
    }
    return t;
}

VhDirtyTracker *vh_dirty_tracker_new(void *host, guint64 size,
                                     const char *mechanism, GError **errp)
{
    if (!check_range(host, size, errp)) {
        return NULL;
    }
    const char *source = "";
    if (!mechanism) {
        mechanism = g_getenv("VMHOST_DIRTY_TRACKING");
        source = " in VMHOST_DIRTY_TRACKING";
    }
    if (mechanism && strcmp(mechanism, "uffd-wp") == 0) {
        return try_start(host, size, &vh_dirty_uffd_ops, errp);
    }
    if (mechanism && strcmp(mechanism, "mprotect") == 0) {
        return try_start(host, size, &vh_dirty_mprotect_ops, errp);
    }
    if (mechanism && strcmp(mechanism, "auto") != 0) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "unknown dirty tracking mechanism '%s'%s (expected auto, "
                    "uffd-wp or mprotect)",
                    mechanism, source);
        return NULL;
    }
    g_autoptr(GError) uffd_err = NULL;
    VhDirtyTracker *t = try_start(host, size, &vh_dirty_uffd_ops, &uffd_err);
    if (t) {
        return t;
    }
    g_debug("dirty tracking falls back to mprotect: %s", uffd_err->message);
    return try_start(host, size, &vh_dirty_mprotect_ops, errp);
}

gint64 vh_dirty_tracker_sync(VhDirtyTracker *t, guint64 *bitmap, GError **errp)
{
    g_return_val_if_fail(t != NULL, -1);
    g_return_val_if_fail(bitmap != NULL, -1);
    return t->ops->sync(t, bitmap, errp);
}

const char *vh_dirty_tracker_mechanism(VhDirtyTracker *t)
{
    return t->ops->name;
}

void vh_dirty_tracker_free(VhDirtyTracker *t)
{
    if (!t) {
        return;
    }
    t->ops->stop(t);
    g_free(t);
}
