/*
 * Dirty tracking with userfaultfd write-protect in async mode and the
 * PAGEMAP_SCAN ioctl (Linux >= 6.7).
 *
 * The range is registered with UFFDIO_REGISTER_MODE_WP on a userfaultfd
 * opened with UFFD_FEATURE_WP_ASYNC (a write to a protected page is resolved
 * by the kernel, which just clears the page's uffd-wp bit: no fault message
 * reaches us and the writer does not wait) and UFFD_FEATURE_WP_UNPOPULATED
 * (pages never touched are protected too, through pte markers). A sync is
 * one PAGEMAP_SCAN walk asking for the pages whose uffd-wp bit is clear
 * (category PAGE_IS_WRITTEN) with PM_SCAN_WP_MATCHING, which sets the bit
 * again on exactly the pages it reports, under the page table lock. A write
 * that races with the walk either came first (the page is reported, and the
 * TLB flush the kernel does before the ioctl returns orders it before the
 * caller reads the page) or faults on the fresh protection and is reported
 * by the next sync: none is lost.
 */
#include "dirty-priv.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/userfaultfd.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <gio/gio.h>

#include "vmhost/machine/ram.h"
#include "vmhost/util/error.h"

/*
 * Debian 12's uapi headers are from Linux 6.1; the kernel we run on is
 * newer. These are the Linux 6.7 values (include/uapi/linux/userfaultfd.h
 * and include/uapi/linux/fs.h), defined only where the headers lack them.
 */
#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif
#ifndef UFFD_FEATURE_WP_UNPOPULATED
#define UFFD_FEATURE_WP_UNPOPULATED (1 << 13)
#endif
#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC (1 << 15)
#endif
#ifndef PAGEMAP_SCAN
#define PAGEMAP_IOCTL_MAGIC   'f'
#define PAGE_IS_WPALLOWED     (1 << 0)
#define PAGE_IS_WRITTEN       (1 << 1)
#define PM_SCAN_WP_MATCHING   (1 << 0)
#define PM_SCAN_CHECK_WPASYNC (1 << 1)
struct page_region {
    __u64 start;
    __u64 end;
    __u64 categories;
};
struct pm_scan_arg {
    __u64 size;
    __u64 flags;
    __u64 start;
    __u64 end;
    __u64 walk_end;
    __u64 vec;
    __u64 vec_len;
    __u64 max_pages;
    __u64 category_inverted;
    __u64 category_mask;
    __u64 category_anyof_mask;
    __u64 return_mask;
};
#define PAGEMAP_SCAN _IOWR(PAGEMAP_IOCTL_MAGIC, 16, struct pm_scan_arg)
#endif

/* Regions one PAGEMAP_SCAN call can return; a sync loops for more. */
#define SCAN_VEC_LEN 1024

typedef struct {
    int uffd;
    int pagemap;
    struct page_region vec[SCAN_VEC_LEN];
} UffdState;

static void set_errno_error(GError **errp, int err, const char *what,
                            const VhDirtyTracker *t)
{
    g_set_error(
        errp, G_IO_ERROR, g_io_error_from_errno(err),
        "userfaultfd write-protect dirty tracking of %p+%" G_GUINT64_FORMAT
        ": %s: %s",
        (void *)t->host, t->size, what, g_strerror(err));
}

static int open_uffd(void)
{
    int fd = (int)syscall(__NR_userfaultfd,
                          O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);

    if (fd < 0 && errno == EINVAL) {
        /* Kernels before 5.11 do not know UFFD_USER_MODE_ONLY. */
        fd = (int)syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);
    }
    return fd;
}

static bool uffd_setup(VhDirtyTracker *t, UffdState *s, GError **errp)
{
    struct uffdio_api api = {
        .api = UFFD_API,
        .features = UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED,
    };
    struct uffdio_register reg = {
        .range = {.start = (uintptr_t)t->host, .len = t->size},
        .mode = UFFDIO_REGISTER_MODE_WP,
    };
    struct uffdio_writeprotect wp = {
        .range = reg.range,
        .mode = UFFDIO_WRITEPROTECT_MODE_WP,
    };

    s->uffd = open_uffd();
    if (s->uffd < 0) {
        set_errno_error(errp, errno, "cannot open a userfaultfd", t);
        return false;
    }
    if (ioctl(s->uffd, UFFDIO_API, &api) < 0) {
        set_errno_error(errp, errno,
                        "the kernel lacks UFFD_FEATURE_WP_ASYNC or "
                        "UFFD_FEATURE_WP_UNPOPULATED (Linux >= 6.7)",
                        t);
        return false;
    }
    if (ioctl(s->uffd, UFFDIO_REGISTER, &reg) < 0) {
        set_errno_error(errp, errno,
                        "this memory cannot be registered for write-protect",
                        t);
        return false;
    }
    if (ioctl(s->uffd, UFFDIO_WRITEPROTECT, &wp) < 0) {
        set_errno_error(errp, errno, "cannot write-protect the range", t);
        return false;
    }
    return true;
}

/*
 * One PAGEMAP_SCAN call from @start: reports (and write-protects again) up to
 * SCAN_VEC_LEN runs of written pages; returns the number of runs and sets
 * *walk_end, or -1 with errno set.
 */
static int scan_once(UffdState *s, guint64 start, guint64 end,
                     guint64 *walk_end)
{
    struct pm_scan_arg arg = {
        .size = sizeof(arg),
        .flags = PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC,
        .start = start,
        .end = end,
        .vec = (uintptr_t)s->vec,
        .vec_len = SCAN_VEC_LEN,
        .category_mask = PAGE_IS_WRITTEN,
        .return_mask = PAGE_IS_WRITTEN,
    };
    int n;

    do {
        n = ioctl(s->pagemap, PAGEMAP_SCAN, &arg);
    } while (n < 0 && errno == EINTR);
    *walk_end = arg.walk_end;
    return n;
}

/*
 * Where the next PAGEMAP_SCAN call starts. The kernel fills a bounce buffer
 * of at most 512 regions per page-table walk and walks again while the
 * caller's vector has room, but it records walk_end only where a walk stops
 * early, and keeps that first value when a later walk of the same call
 * reaches @end (Linux 6.7 to at least 6.18, do_pagemap_scan()). So
 * walk_end can lie below regions the call already reported and protected
 * again; resuming there would report a page written since a second time.
 * The walk is in address order: everything below the end of the last
 * region was walked.
 */
static guint64 scan_resume(guint64 walk_end, guint64 reported_end)
{
    return MAX(walk_end, reported_end);
}

/*
 * Sets the pages of one reported region at or above *seen in @bitmap,
 * advances *seen, and returns how many it set: no page is counted twice in
 * one sync, whatever the kernel reports again.
 */
static guint64 take_region(const struct page_region *r, guint64 base,
                           guint64 *seen, guint64 *bitmap)
{
    guint64 start = MAX(r->start, *seen);

    if (r->end <= start) {
        return 0;
    }
    guint64 first = (start - base) / VH_RAM_PAGE_SIZE;
    guint64 count = (r->end - start) / VH_RAM_PAGE_SIZE;
    vh_dirty_bitmap_set_range(bitmap, first, count);
    *seen = r->end;
    return count;
}

static gint64 uffd_sync(VhDirtyTracker *t, guint64 *bitmap, GError **errp)
{
    UffdState *s = t->priv;
    guint64 base = (uintptr_t)t->host;
    guint64 end = base + t->size;
    guint64 cursor = base;
    guint64 seen = base; /* pages below were reported by this sync */
    gint64 dirty = 0;

    while (cursor < end) {
        guint64 walk_end = cursor;
        int n = scan_once(s, cursor, end, &walk_end);
        if (n < 0) {
            set_errno_error(errp, errno, "PAGEMAP_SCAN failed", t);
            return -1;
        }
        for (int i = 0; i < n; i++) {
            dirty += (gint64)take_region(&s->vec[i], base, &seen, bitmap);
        }
        walk_end = scan_resume(walk_end, seen);
        if (walk_end <= cursor || walk_end > end) {
            set_errno_error(errp, EIO, "PAGEMAP_SCAN made no progress", t);
            return -1;
        }
        cursor = walk_end;
    }
    return dirty;
}

static void uffd_state_free(UffdState *s)
{
    if (s->pagemap >= 0) {
        close(s->pagemap);
    }
    if (s->uffd >= 0) {
        close(s->uffd);
    }
    g_free(s);
}

static bool uffd_start(VhDirtyTracker *t, GError **errp)
{
    UffdState *s = g_new0(UffdState, 1);
    guint64 walk_end;

    s->pagemap = -1;
    t->priv = s;
    if (!uffd_setup(t, s, errp)) {
        goto fail;
    }
    s->pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    if (s->pagemap < 0) {
        set_errno_error(errp, errno, "cannot open /proc/self/pagemap", t);
        goto fail;
    }
    /* Probe on the first page: the ioctl exists and the range is async. */
    if (scan_once(s, (uintptr_t)t->host, (uintptr_t)t->host + VH_RAM_PAGE_SIZE,
                  &walk_end) < 0) {
        set_errno_error(errp, errno,
                        "PAGEMAP_SCAN with PM_SCAN_CHECK_WPASYNC is not "
                        "available (Linux >= 6.7)",
                        t);
        goto fail;
    }
    return true;

fail:
    uffd_state_free(s);
    t->priv = NULL;
    return false;
}

static void uffd_stop(VhDirtyTracker *t)
{
    UffdState *s = t->priv;
    struct uffdio_range range = {.start = (uintptr_t)t->host, .len = t->size};
    struct uffdio_writeprotect wp = {.range = range, .mode = 0};

    /* Closing the userfaultfd alone would do; unprotecting first spares the
     * writers the markers' fault path. Errors leave nothing to undo. */
    (void)ioctl(s->uffd, UFFDIO_WRITEPROTECT, &wp);
    (void)ioctl(s->uffd, UFFDIO_UNREGISTER, &range);
    uffd_state_free(s);
    t->priv = NULL;
}

const VhDirtyOps vh_dirty_uffd_ops = {
    .name = "uffd-wp+pagemap-scan",
    .start = uffd_start,
    .sync = uffd_sync,
    .stop = uffd_stop,
};
