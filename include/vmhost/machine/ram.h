/*
 * VhRamBlock: one block of guest RAM (QEMU's -m, memory-backend-ram and
 * memory-backend-file).
 *
 *     g_autoptr(GError) err = NULL;
 *     g_autoptr(VhRamBlock) ram =
 *         vh_ram_block_new("pc.ram", 4ULL << 30, false, &err);
 *     if (!ram) {
 *         // "cannot allocate 4 GiB of guest RAM for 'pc.ram': ..."
 *     }
 *     guint8 *host = vh_ram_block_get_host(ram);
 *
 * Anonymous RAM is mapped MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE: the
 * kernel gives it pages as they are first written, and a page never written
 * reads as zeros. With @prealloc every page is populated for writing before
 * the constructor returns (MADV_POPULATE_WRITE, or touching each page on
 * kernels without it), so a shortage shows up as an error now rather than as
 * the OOM killer later.
 *
 * File-backed RAM maps @path (a file, created or extended to @size; or a
 * directory, in which an unlinked temporary file is made, as QEMU's mem-path
 * does). With @share the mapping is MAP_SHARED and guest writes reach the
 * file; without it the mapping is private and the file is only the initial
 * content.
 *
 * The size is a non-zero multiple of VH_RAM_PAGE_SIZE, the guest page
 * granularity that dirty tracking and migration work in. The host pointer
 * stays valid until vh_ram_block_free(), which unmaps the block; the block
 * does no locking of its own: the guest writes it, migration reads it.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>

G_BEGIN_DECLS

/* Guest page granularity, in bytes. */
#define VH_RAM_PAGE_SIZE 4096u

typedef struct VhRamBlock VhRamBlock;

/* Anonymous RAM (transfer full), or NULL with @errp set. */
G_GNUC_WARN_UNUSED_RESULT
VhRamBlock *vh_ram_block_new(const char *name, guint64 size, bool prealloc,
                             GError **errp);

/* RAM backed by @path, a file or a directory (transfer full). */
G_GNUC_WARN_UNUSED_RESULT
VhRamBlock *vh_ram_block_new_file(const char *name, guint64 size,
                                  const char *path, bool share, bool prealloc,
                                  GError **errp);

/* Unmaps the RAM and closes the backing file. NULL is allowed. */
void vh_ram_block_free(VhRamBlock *ram);

const char *vh_ram_block_get_name(const VhRamBlock *ram);
guint64 vh_ram_block_get_size(const VhRamBlock *ram);
guint64 vh_ram_block_get_pages(const VhRamBlock *ram);
void *vh_ram_block_get_host(const VhRamBlock *ram);

/* The backing path as given, or NULL for anonymous RAM. */
const char *vh_ram_block_get_path(const VhRamBlock *ram);
bool vh_ram_block_is_shared(const VhRamBlock *ram);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(VhRamBlock, vh_ram_block_free)

G_END_DECLS
