/*
 * Every number of the migration stream's format in one place: magics,
 * versions, flags, section and return path message types, fixed sizes and
 * limits (docs/migration-stream.md, where each is explained). Code that
 * writes or reads the stream uses these names, never the numbers.
 */
#pragma once

#include <glib.h>

#include "vmhost/machine/vmstate.h"

G_BEGIN_DECLS

/* ---- connection preambles ---- */

#define VH_MIG_MAGIC_SIZE     8u
#define VH_MIG_STREAM_MAGIC   "VHMIGSTR" /* main stream header */
#define VH_MIG_CHANNEL_MAGIC  "VHMIGCHN" /* multifd channel hello */
#define VH_MIG_POSTCOPY_MAGIC "VHMIGPCC" /* post-copy connection hello */
#define VH_MIG_STREAM_VERSION 3u
#define VH_MIG_UUID_SIZE      16u /* the session uuid, header and hello */
/* magic, version, page size, flags, channels, uuid, reserved u64 */
#define VH_MIG_HEADER_SIZE 48u
/* magic, version, channel index, uuid, reserved u64 */
#define VH_MIG_HELLO_SIZE 40u

/*
 * Post-copy's two connections (header flag POSTCOPY), each used in one
 * direction only: REQUEST carries the target's REQ_PAGES to the source,
 * URGENT the requested pages back, ahead of the bulk on the main stream
 * (QEMU's postcopy-preempt channel). Hello: magic, u32 version, u32 role,
 * uuid, u64 reserved (40 bytes, like a multifd channel's).
 */
enum {
    VH_MIG_PC_ROLE_REQUEST = 0,
    VH_MIG_PC_ROLE_URGENT = 1,
};

/* Header flags; any other bit is refused. */
enum {
    VH_MIG_FLAG_MULTIFD = 1u << 0,
    VH_MIG_FLAG_RETURN_PATH = 1u << 1,
    /* post-copy may follow (capability postcopy-ram): needs RETURN_PATH */
    VH_MIG_FLAG_POSTCOPY = 1u << 2,
    /* a paused post-copy's new main connection (header, then PAGES, END) */
    VH_MIG_FLAG_RESUME = 1u << 3,
};
#define VH_MIG_FLAGS_KNOWN                                                     \
    (VH_MIG_FLAG_MULTIFD | VH_MIG_FLAG_RETURN_PATH | VH_MIG_FLAG_POSTCOPY |    \
     VH_MIG_FLAG_RESUME)

/* ---- sections: u32 type, u32 body length, body ---- */

#define VH_MIG_SECTION_HEADER_SIZE 8u

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
    /* only with VH_MIG_FLAG_POSTCOPY */
    VH_MIG_SEC_DISCARD = 11,
    VH_MIG_SEC_POSTCOPY_RUN = 12,
    /* only with VH_MIG_FLAG_POSTCOPY and VH_MIG_FLAG_MULTIFD */
    VH_MIG_SEC_DIRTY_SYNC = 13, /* main stream: a mid-pass barrier */
    VH_MIG_SEC_FLUSH = 14,      /* multifd channel: its side of it */
} VhMigSection;

/* DISCARD: u32 block, u32 ranges, then per range u64 first page, u64 count. */
#define VH_MIG_DISCARD_BASE       8u
#define VH_MIG_DISCARD_MAX_RANGES 4096u
#define VH_MIG_DISCARD_MAX                                                     \
    (VH_MIG_DISCARD_BASE + 16u * VH_MIG_DISCARD_MAX_RANGES)

/* RAM_SETUP: u32 blocks; per block a name, u64 size, u64 pages. */
#define VH_MIG_MAX_BLOCKS     8u
#define VH_MIG_BLOCK_NAME_MAX 255u
#define VH_MIG_RAM_SETUP_MAX                                                   \
    (4u + VH_MIG_MAX_BLOCKS * (4u + VH_MIG_BLOCK_NAME_MAX + 16u))

/* PAGES: u32 block, u32 count, u64 first, u64 present[4], u64 zero[4]. */
#define VH_MIG_RECORD_PAGES 256u /* pages a PAGES record spans at most */
#define VH_MIG_BITMAP_WORDS (VH_MIG_RECORD_PAGES / 64u)
#define VH_MIG_PAGES_BODY   80u
#define VH_MIG_MAX_CHANNELS 16u
/* ITER_END: u64 iteration, u32 channels, u32 reserved, u64 packets[]. */
#define VH_MIG_ITER_END_BASE 16u
#define VH_MIG_ITER_END_MAX  (VH_MIG_ITER_END_BASE + 8u * VH_MIG_MAX_CHANNELS)
/* MACHINE: u32 running, u32 reserved. */
#define VH_MIG_MACHINE_BODY 8u
/* END: u64 records, normal, zero, iterations. */
#define VH_MIG_END_BODY 32u
/* DIRTY_SYNC: u64 sync, u32 channels, u32 reserved, u64 packets[]. */
#define VH_MIG_DIRTY_SYNC_BASE VH_MIG_ITER_END_BASE
#define VH_MIG_DIRTY_SYNC_MAX  VH_MIG_ITER_END_MAX
/*
 * SYNC: u64 iteration, u64 records; FLUSH: u64 sync, u64 records;
 * CHANNEL_END: u64 records.
 */
#define VH_MIG_SYNC_BODY        16u
#define VH_MIG_CHANNEL_END_BODY 8u
/* DEVICE: a name (u32 length + bytes), u32 instance, version, length. */
#define VH_MIG_DEVICE_BASE 12u
#define VH_MIG_DEVICE_MAX  (1u << 20) /* a DEVICE payload at most */
#define VH_MIG_DEVICE_SECTION_MAX                                              \
    (4u + VH_DEVICE_STATE_NAME_MAX + VH_MIG_DEVICE_BASE + VH_MIG_DEVICE_MAX)

/* ---- the return path: u32 type, u32 length, body ---- */

#define VH_MIG_RP_HEADER_SIZE 8u

/*
 * Message types. A new one (post-copy's page requests, issue 15) is a new
 * number and a row in return-path.c's table; a source that gets a type it
 * does not know fails naming it.
 */
typedef enum {
    VH_MIG_RP_READY = 1,
    VH_MIG_RP_LOADED = 2,
    VH_MIG_RP_ERROR = 3,
    VH_MIG_RP_REQ_PAGES = 4,   /* post-copy: the target faulted on these */
    VH_MIG_RP_RECV_BITMAP = 5, /* resume: the pages the target has */
    /*
     * Resume: POSTCOPY_RUN never reached the target, which has dropped the
     * attempt for good; the guest is the source's alone again. No body.
     */
    VH_MIG_RP_NOT_RUN = 6,
} VhMigRpType;

/* RECV_BITMAP: u32 block, u32 reserved, u64 pages, u64 words[(pages+63)/64]. */
#define VH_MIG_RP_RECV_BITMAP_BASE 16u

/* REQ_PAGES: u32 block, u32 count (1..VH_MIG_RECORD_PAGES), u64 first page. */
#define VH_MIG_RP_REQ_PAGES_BODY 16u

#define VH_MIG_RP_LOADED_BODY 24u   /* u64 records, normal, zero */
#define VH_MIG_RP_ERROR_MAX   1024u /* UTF-8 reason */

/* ---- a TLS record where vmhost's plain stream belongs (RFC 8446 5.1) ---- */

enum {
    VH_MIG_TLS_CONTENT_ALERT = 21, /* ContentType */
    VH_MIG_TLS_CONTENT_HANDSHAKE = 22,
    VH_MIG_TLS_VERSION_MAJOR = 3, /* SSL 3.0 .. TLS 1.3: 3.0 .. 3.4 */
    VH_MIG_TLS_VERSION_MINOR_MAX = 4,
};
/* Bytes vh_mig_is_tls_record() needs: the record type and version. */
#define VH_MIG_TLS_RECORD_PEEK 3u

/* What a stream carried: the END section and the LOADED answer. */
typedef struct {
    guint64 records;
    guint64 normal;
    guint64 zero;
    guint64 iterations;
} VhMigCounts;

G_END_DECLS
