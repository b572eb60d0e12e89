/*
 * The migration stream (docs/migration-stream.md): the sender's record
 * writers and the target's loader.
 *
 * Source (one thread per connection, blocking channels):
 *
 *     GByteArray *b = g_byte_array_new();
 *     vh_mig_put_header(b, VH_MIG_FLAG_RETURN_PATH, 0, uuid);
 *     vh_mig_put_ram_setup(b, ram);
 *     vh_channel_write_all(ch, b->data, b->len, errp);
 *     vh_mig_send_pages(ch, ram, 0, first, 256, present, &counts, errp);
 *
 * Target:
 *
 *     g_autoptr(VhMigLoader) l = vh_mig_loader_new(ram, true);
 *     g_autoptr(GArray) devices = vh_machine_get_devices(machine);
 *     vh_mig_loader_set_devices(l, devices);
 *     // main connection, in its own thread:
 *     if (!vh_mig_loader_run_main(l, main_ch, NULL, errp)) { ... }
 *     // each multifd connection, in its own thread:
 *     if (!vh_mig_loader_run_channel(l, ch, NULL, errp)) { ... }
 *     // then vh_mig_loader_apply_devices(l, errp) and answer LOADED
 *
 * The loader checks every field; any failure is an error naming the section
 * and the field, and the first failure of any connection aborts the others
 * (those blocked in the loader's waits return; those blocked in I/O must be
 * unblocked by the caller, e.g. by shutting their channel down).
 */
#pragma once

#include <glib.h>
#include <stdbool.h>

#include "vmhost/io/channel.h"
#include "vmhost/machine/ram.h"
#include "vmhost/machine/vmstate.h"

G_BEGIN_DECLS

#define VH_MIG_STREAM_MAGIC   "VHMIGSTR"
#define VH_MIG_CHANNEL_MAGIC  "VHMIGCHN"
#define VH_MIG_STREAM_VERSION 3u
#define VH_MIG_HEADER_SIZE    48u
#define VH_MIG_HELLO_SIZE     40u
#define VH_MIG_RECORD_PAGES   256u /* pages a PAGES record spans at most */
#define VH_MIG_PAGES_BODY     80u
#define VH_MIG_MAX_CHANNELS   16u
#define VH_MIG_MAX_BLOCKS     8u
#define VH_MIG_DEVICE_MAX     (1u << 20) /* a DEVICE payload at most */
#define VH_MIG_RP_ERROR_MAX   1024u

enum {
    VH_MIG_FLAG_MULTIFD = 1u << 0,
    VH_MIG_FLAG_RETURN_PATH = 1u << 1,
};

typedef enum {
    VH_MIG_SEC_RAM_SETUP = 1,
    VH_MIG_SEC_PAGES = 2,
    VH_MIG_SEC_ITER_END = 3,
    VH_MIG_SEC_MACHINE = 4,
    /* 5 and 6 were TEST_GUEST and SERIAL up to version 2 */
    VH_MIG_SEC_END = 7,
    VH_MIG_SEC_SYNC = 8,
    VH_MIG_SEC_CHANNEL_END = 9,
    VH_MIG_SEC_DEVICE = 10,
} VhMigSection;

typedef enum {
    VH_MIG_RP_READY = 1,
    VH_MIG_RP_LOADED = 2,
    VH_MIG_RP_ERROR = 3,
} VhMigRpType;

/* What a stream carried: the END section and the LOADED answer. */
typedef struct {
    guint64 records;
    guint64 normal;
    guint64 zero;
    guint64 iterations;
} VhMigCounts;

/* ---- writing ---- */

void vh_mig_put_header(GByteArray *b, guint32 flags, guint32 channels,
                       const guint8 uuid[16]);
void vh_mig_put_hello(GByteArray *b, guint32 index, const guint8 uuid[16]);
/* A section header: type and body length. */
void vh_mig_put_section(GByteArray *b, VhMigSection type, guint32 len);
void vh_mig_put_u32(GByteArray *b, guint32 v);
void vh_mig_put_u64(GByteArray *b, guint64 v);
/* RAM_SETUP for one block. */
void vh_mig_put_ram_setup(GByteArray *b, VhRamBlock *ram);
/* ITER_END with per-channel packet counts (@channels entries). */
void vh_mig_put_iter_end(GByteArray *b, guint64 iteration, guint32 channels,
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
 * One PAGES record for the pages of @ram block @block whose bits are set in
 * @present (bit i = page @first + i, i < @count <= 256): zero pages become
 * bits, the others go straight from guest RAM with one vectored write.
 * Adds to @c (records, normal, zero). Returns the bytes written, or -1
 * with @errp set.
 */
G_GNUC_WARN_UNUSED_RESULT
gint64 vh_mig_send_pages(VhChannel *ch, VhRamBlock *ram, guint32 block,
                         guint64 first, guint32 count, const guint64 present[4],
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
                              const guint64 present[4],
                              const guint64 known_zero[4], VhMigCounts *c,
                              GError **errp);

/* Whether the 4 KiB at @p are all zero. */
bool vh_mig_page_is_zero(const void *p);

/* ---- a TLS peer where vmhost's plain stream belongs ---- */

/* Bytes vh_mig_is_tls_record() needs: the record type and version. */
#define VH_MIG_TLS_RECORD_PEEK 3u

/*
 * Whether @p (VH_MIG_TLS_RECORD_PEEK bytes) starts a TLS record of type
 * alert (21) or handshake (22) with protocol version 3.x (RFC 8446 5.1:
 * every version from SSL 3.0 to TLS 1.3 writes major version 3). Neither the
 * stream magic nor a return path message ever starts so: the peer speaks
 * TLS where this end does not (tls-creds set on one side only).
 */
bool vh_mig_is_tls_record(const guint8 *p);

/* What each side says then, in vh_mig_rp_recv() and the loader. */
#define VH_MIG_TLS_TARGET_HINT "the target expects TLS (set tls-creds)"
#define VH_MIG_TLS_SOURCE_HINT                                                 \
    "the source sent a TLS handshake; set tls-creds on the target"

/* ---- return path ---- */

G_GNUC_WARN_UNUSED_RESULT
bool vh_mig_rp_send(VhChannel *ch, VhMigRpType type, const void *body,
                    guint32 len, GError **errp);
G_GNUC_WARN_UNUSED_RESULT
bool vh_mig_rp_send_loaded(VhChannel *ch, const VhMigCounts *c, GError **errp);
/* Best effort: the connection may be gone already. */
void vh_mig_rp_send_error(VhChannel *ch, const char *reason);
/*
 * Read one message. READY: true. LOADED: true with *@c filled. ERROR:
 * false, @errp = "the target refused the migration: REASON". A TLS record
 * (a TLS target's alert to a plain source): false, VH_MIG_TLS_TARGET_HINT.
 * Anything else (EOF, a malformed message): false naming it.
 */
G_GNUC_WARN_UNUSED_RESULT
bool vh_mig_rp_recv(VhChannel *ch, VhMigRpType *type, VhMigCounts *c,
                    GError **errp);

/* ---- loading ---- */

typedef struct VhMigLoader VhMigLoader;

/*
 * A loader into @ram (borrowed; block 0, the only block a vmhost machine
 * has). @allow_multifd false refuses a stream that wants channels (file:,
 * exec:, fd:, the fuzz target).
 */
VhMigLoader *vh_mig_loader_new(VhRamBlock *ram, bool allow_multifd);
void vh_mig_loader_free(VhMigLoader *l);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VhMigLoader, vh_mig_loader_free)

/*
 * The target's devices (GArray of VhDeviceEntry, a reference is taken;
 * vh_machine_get_devices()). The stream must carry exactly these, by name
 * and instance, each in a version its ops accept: a section for a device
 * this machine lacks, or in a version it cannot load, is refused naming
 * the device. Without this call the machine has no devices.
 */
void vh_mig_loader_set_devices(VhMigLoader *l, GArray *devices);

/*
 * Read the main stream through END and the clean end of the connection
 * (close-notify), waiting for every multifd channel; answers READY on the
 * return path when the header asks for one. On failure the error names the
 * field; the loader is aborted.
 */
G_GNUC_WARN_UNUSED_RESULT
bool vh_mig_loader_run_main(VhMigLoader *l, VhChannel *ch, const guint8 *magic,
                            GError **errp);

/*
 * Read one multifd channel (hello, pages, syncs, end, close-notify).
 * @magic, in both: the first 8 bytes when the caller already read them to
 * tell a main stream from a channel, else NULL.
 */
G_GNUC_WARN_UNUSED_RESULT
bool vh_mig_loader_run_channel(VhMigLoader *l, VhChannel *ch,
                               const guint8 *magic, GError **errp);

/* Fail every wait of the loader with @reason (the first reason sticks). */
void vh_mig_loader_abort(VhMigLoader *l, const char *reason);

bool vh_mig_loader_has_return_path(VhMigLoader *l);
/*
 * After run_main succeeded: make every device's loaded state its own (in
 * the order of the devices given). Fails naming the device.
 */
G_GNUC_WARN_UNUSED_RESULT
bool vh_mig_loader_apply_devices(VhMigLoader *l, GError **errp);
/* Valid after run_main succeeded: MACHINE's running flag. */
bool vh_mig_loader_get_running(VhMigLoader *l);
const VhMigCounts *vh_mig_loader_get_counts(VhMigLoader *l);
/* Bytes of page data loaded so far (any thread). */
guint64 vh_mig_loader_get_bytes(VhMigLoader *l);

G_END_DECLS
