/*
 * The source's PAGES records: straight from guest RAM, mapping file-backed
 * RAM a record at a time and skipping anonymous pages that were never
 * populated on the first pass.
 */
#include "source-pages.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif

/* /proc/self/pagemap entry bits (Documentation/admin-guide/mm/pagemap.rst). */
#define PM_PRESENT (1ULL << 63)
#define PM_SWAP    (1ULL << 62)
#define PM_UFFD_WP (1ULL << 57)
#define PM_FRAME   ((1ULL << 55) - 1)
#define PM_ENTRY   8u /* bytes per page */
/*
 * A userfaultfd write-protect marker on a none pte, as pagemap shows it to
 * a process with CAP_SYS_ADMIN: a "swap" entry of the last swap type (31,
 * the kernel's pte-marker type) with offset 1 (PTE_MARKER_UFFD_WP). Without
 * the capability the frame reads 0, like a swapped-out page's: then the
 * page is read, as any other.
 */
#define PM_UFFD_WP_MARKER (PM_SWAP | PM_UFFD_WP | 0x3f)

void vh_mig_page_sender_init(VhMigPageSender *ps, VhRamBlock *ram)
{
    ps->ram = ram;
    ps->pagemap = -1;
    ps->bytes = 0;
}

void vh_mig_page_sender_open_pagemap(VhMigPageSender *ps)
{
    if (vh_ram_block_get_path(ps->ram) ||
        sysconf(_SC_PAGESIZE) != VH_RAM_PAGE_SIZE) {
        return;
    }
    ps->pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    if (ps->pagemap < 0) {
        g_debug("migration: /proc/self/pagemap: %s (every page is read)",
                g_strerror(errno));
    }
}

void vh_mig_page_sender_clear(VhMigPageSender *ps)
{
    if (ps->pagemap >= 0) {
        close(ps->pagemap);
        ps->pagemap = -1;
    }
}

/*
 * File-backed RAM: the file's pages are not in this process's page tables
 * yet, and a tracker's write-protect markers fault too: one call maps a
 * record's pages instead of one fault per page (about 25% more
 * throughput). Advisory: errors are fine.
 */
void vh_mig_prefault(VhRamBlock *ram, guint64 first, guint64 count)
{
    guint8 *host = vh_ram_block_get_host(ram);

    /* Anonymous RAM is mapped as it was written: nothing to gain. */
    if (!vh_ram_block_get_path(ram)) {
        return;
    }
    (void)madvise(host + first * VH_RAM_PAGE_SIZE,
                  (size_t)count * VH_RAM_PAGE_SIZE, MADV_POPULATE_READ);
}

/*
 * Whether a pagemap entry of private anonymous RAM means "never populated"
 * (reads as zero): a none pte, or the uffd-wp tracker's marker on one.
 * Anything else (present, swapped out, being migrated, poisoned) is read.
 */
static bool pm_unpopulated(guint64 e)
{
    return (e & (PM_PRESENT | PM_SWAP)) == 0 ||
           (e & (PM_PRESENT | PM_SWAP | PM_UFFD_WP | PM_FRAME)) ==
               PM_UFFD_WP_MARKER;
}

/*
 * The pages of [first, first + count) (at most one record) that were never
 * populated go in @none: they read as zero, and reading them would fault
 * each one in (and page tables with them). A page the guest writes after
 * this look is dirty in the tracker, which started before the first pass,
 * and goes again. Nothing is known (all bits 0) when pagemap cannot be
 * read.
 */
static void find_unpopulated(VhMigPageSender *ps, guint64 first, guint32 count,
                             guint64 none[VH_MIG_BITMAP_WORDS])
{
    guint64 entries[VH_MIG_RECORD_PAGES];
    guint64 base =
        (guintptr)vh_ram_block_get_host(ps->ram) / VH_RAM_PAGE_SIZE + first;
    ssize_t r;

    memset(none, 0, VH_MIG_BITMAP_WORDS * sizeof(guint64));
    r = pread(ps->pagemap, entries, (size_t)count * PM_ENTRY,
              (off_t)(base * PM_ENTRY));
    if (r != (ssize_t)count * PM_ENTRY) {
        return;
    }
    for (guint32 i = 0; i < count; i++) {
        if (pm_unpopulated(entries[i])) {
            none[i / 64] |= 1ULL << (i % 64);
        }
    }
}

bool vh_mig_page_sender_send(VhMigPageSender *ps, VhChannel *ch,
                             bool first_pass, guint64 first, guint32 count,
                             const guint64 present[VH_MIG_BITMAP_WORDS],
                             VhMigCounts *c, GError **errp)
{
    guint64 none[VH_MIG_BITMAP_WORDS];
    gint64 n;

    if (!first_pass || ps->pagemap < 0) {
        n = vh_mig_send_pages(ch, ps->ram, 0, first, count, present, c, errp);
    } else {
        find_unpopulated(ps, first, count, none);
        n = vh_mig_send_pages_hint(ch, ps->ram, 0, first, count, present, none,
                                   c, errp);
    }
    if (n < 0) {
        return false;
    }
    vh_mig_page_sender_add_bytes(ps, (guint64)n);
    return true;
}

bool vh_mig_page_sender_write(VhMigPageSender *ps, VhChannel *ch, GByteArray *b,
                              GError **errp)
{
    if (!vh_channel_write_all(ch, b->data, b->len, errp)) {
        return false;
    }
    vh_mig_page_sender_add_bytes(ps, b->len);
    g_byte_array_set_size(b, 0);
    return true;
}
