/*
 * Memory backends: QEMU's memory-backend-ram and memory-backend-file
 * objects, each holding one block of guest RAM (VhRamBlock) until a machine
 * takes it (-machine memory-backend=ID).
 *
 *     // -object memory-backend-file,id=m0,size=4G,mem-path=/dev/shm,share=on
 *     vh_object_register_builtin_types();
 *     if (!vh_object_add_from_string("memory-backend-file,id=m0,size=4G,"
 *                                    "mem-path=/dev/shm,share=on", errp)) {
 *         ...
 *     }
 *     VhMemoryBackend *b =
 *         vh_object_lookup_typed("m0", VH_TYPE_MEMORY_BACKEND, errp);
 *     g_autoptr(VhRamBlock) ram = vh_memory_backend_take_ram(b, errp);
 *
 * Properties (QEMU's names):
 *   size      uint64, required: a non-zero multiple of 4 KiB ("4G", ...)
 *   prealloc  boolean: populate every page when the object is created
 *             (default off, or on after vh_memory_backend_set_default_prealloc,
 *             which is -mem-prealloc)
 *   mem-path  (file) a file, created or extended to size, or a directory
 *             in which an unlinked temporary file is made; required
 *   share     (file) boolean: MAP_SHARED, guest writes reach the file
 *             (default off: a private copy-on-write mapping)
 * The RAM is mapped when the object is created (GInitable), so a bad path or
 * a failed preallocation is an error of -object / object_add. The block is
 * called "pc.ram" whichever backend holds it, like the -m block, so a
 * migration between a machine with -m and one with a memory backend finds
 * the same block name on both sides.
 */
#pragma once

#include <glib-object.h>
#include <stdbool.h>

#include "vmhost/machine/ram.h"

G_BEGIN_DECLS

#define VH_TYPE_MEMORY_BACKEND (vh_memory_backend_get_type())
G_DECLARE_DERIVABLE_TYPE(VhMemoryBackend, vh_memory_backend, VH, MEMORY_BACKEND,
                         GObject)

struct _VhMemoryBackendClass {
    GObjectClass parent_class;
    /* Mandatory: check the subclass's properties (its errors name them). */
    bool (*check)(VhMemoryBackend *b, GError **errp);
    /* Mandatory: map @size bytes of RAM (transfer full), or NULL + error. */
    VhRamBlock *(*alloc)(VhMemoryBackend *b, guint64 size, bool prealloc,
                         GError **errp);
    gpointer padding[4];
};

#define VH_TYPE_MEMORY_BACKEND_RAM (vh_memory_backend_ram_get_type())
G_DECLARE_FINAL_TYPE(VhMemoryBackendRam, vh_memory_backend_ram, VH,
                     MEMORY_BACKEND_RAM, VhMemoryBackend)

#define VH_TYPE_MEMORY_BACKEND_FILE (vh_memory_backend_file_get_type())
G_DECLARE_FINAL_TYPE(VhMemoryBackendFile, vh_memory_backend_file, VH,
                     MEMORY_BACKEND_FILE, VhMemoryBackend)

guint64 vh_memory_backend_get_size(VhMemoryBackend *b);
bool vh_memory_backend_get_prealloc(VhMemoryBackend *b);
/* Whether a machine took the RAM already. */
bool vh_memory_backend_is_used(VhMemoryBackend *b);

/*
 * Hand the RAM to a machine (transfer full), once: a second call fails with
 * "memory backend 'ID' is already in use by the machine" (@id is the
 * object's id, for the message).
 */
G_GNUC_WARN_UNUSED_RESULT
VhRamBlock *vh_memory_backend_take_ram(VhMemoryBackend *b, const char *id,
                                       GError **errp);

/* -mem-prealloc: backends created afterwards default to prealloc=on. */
void vh_memory_backend_set_default_prealloc(bool on);

G_END_DECLS
