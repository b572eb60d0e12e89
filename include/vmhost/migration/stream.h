/*
 * The migration stream (docs/migration-stream.md): the sender's record
 * writers (lib/migration/stream-writer.c). The format's numbers are in
 * stream-format.h, the return path in return-path.h, the target's loader
 * in stream-loader.h; this header includes all three.
 *
 * Source (one thread per connection, blocking channels):
 *
 *     GByteArray *b = g_byte_array_new();
 *     vh_mig_put_header(b, VH_MIG_FLAG_RETURN_PATH, 0, uuid);
 *     vh_mig_put_ram_setup(b, ram);
 *     vh_channel_write_all(ch, b->data, b->len, errp);
 *     vh_mig_send_pages(ch, ram, 0, first, 256, present, &counts, errp);
 *     ...
 *     vh_mig_put_devices(b, devices, was_running);   // guest stopped
 *     vh_mig_put_end(b, &counts);
 */
#pragma once

#include <glib.h>
#include <stdbool.h>

#include "vmhost/io/channel.h"
#include "vmhost/machine/ram.h"
#include "vmhost/machine/vmstate.h"
#include "vmhost/migration/return-path.h"
#include "vmhost/migration/stream-format.h"
#include "vmhost/migration/stream-loader.h"

G_BEGIN_DECLS

/* ---- writing ---- */

void vh_mig_put_header(GByteArray *b, guint32 flags, guint32 channels,
                       const guint8 uuid[VH_MIG_UUID_SIZE]);
void vh_mig_put_hello(GByteArray *b, guint32 index,
                      const guint8 uuid[VH_MIG_UUID_SIZE]);
/* A section header: type and body length. */
/* A post-copy connection's hello (VH_MIG_PC_ROLE_*). */
void vh_mig_put_pc_hello(GByteArray *b, guint32 role,
                         const guint8 uuid[VH_MIG_UUID_SIZE]);
void vh_mig_put_section(GByteArray *b, VhMigSection type, guint32 len);
void vh_mig_put_u32(GByteArray *b, guint32 v);
void vh_mig_put_u64(GByteArray *b, guint64 v);
/* RAM_SETUP for one block. */
void vh_mig_put_ram_setup(GByteArray *b, VhRamBlock *ram);
/* ITER_END with per-channel packet counts (@channels entries). */
void vh_mig_put_iter_end(GByteArray *b, guint64 iteration, guint32 channels,
                         const guint64 *packets);
/* Post-copy with multifd: the mid-pass barrier after DISCARDs. */
void vh_mig_put_dirty_sync(GByteArray *b, guint64 sync, guint32 channels,
                           const guint64 *packets);
/*
 * The device state: MACHINE (whether the guest ran before migration), then
 * one DEVICE section per entry of @devices (GArray of VhDeviceEntry, see
 * vmhost/machine/vmstate.h), each saved by its own ops->save(). The guest
 * must be stopped.
 */
void vh_mig_put_devices(GByteArray *b, GArray *devices, bool running);
/* MACHINE alone. */
void vh_mig_put_machine(GByteArray *b, bool running);
/* One device's DEVICE section, saved by the device. */
void vh_mig_put_device(GByteArray *b, const VhDeviceEntry *e);
/* A DEVICE section from its parts (tests, fuzz seeds). */
void vh_mig_put_device_section(GByteArray *b, const char *name,
                               guint32 instance, guint32 version,
                               const void *payload, guint32 len);
void vh_mig_put_end(GByteArray *b, const VhMigCounts *c);
/*
 * Post-copy: DISCARD sections (block 0) for every page set in @bitmap
 * (@pages bits), at most VH_MIG_DISCARD_MAX_RANGES ranges each; returns
 * the pages they name. Then POSTCOPY_RUN once the device state is out.
 */
guint64 vh_mig_put_discard(GByteArray *b, const guint64 *bitmap, guint64 pages);
void vh_mig_put_postcopy_run(GByteArray *b);

/*
 * One PAGES record for the pages of @ram block @block whose bits are set in
 * @present (bit i = page @first + i, i < @count <= 256): zero pages become
 * bits, the others go straight from guest RAM with one vectored write.
 * Adds to @c (records, normal, zero). Returns the bytes written, or -1
 * with @errp set.
 */
G_GNUC_WARN_UNUSED_RESULT
gint64 vh_mig_send_pages(VhChannel *ch, VhRamBlock *ram, guint32 block,
                         guint64 first, guint32 count,
                         const guint64 present[VH_MIG_BITMAP_WORDS],
                         VhMigCounts *c, GError **errp);

/*
 * The same, where the pages with a bit in @known_zero (NULL: none) are
 * sent as zero pages without reading them: the caller knows they are zero
 * (anonymous RAM the process never populated), and reading would fault
 * them in.
 */
G_GNUC_WARN_UNUSED_RESULT
gint64 vh_mig_send_pages_hint(VhChannel *ch, VhRamBlock *ram, guint32 block,
                              guint64 first, guint32 count,
                              const guint64 present[VH_MIG_BITMAP_WORDS],
                              const guint64 known_zero[VH_MIG_BITMAP_WORDS],
                              VhMigCounts *c, GError **errp);

/* Whether the 4 KiB at @p are all zero. */
bool vh_mig_page_is_zero(const void *p);

G_END_DECLS
