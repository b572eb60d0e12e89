/*
 * Private to the stream code (stream-*.c, return-path.c): the loader's
 * state shared by the main stream, the multifd channels and the device
 * sections, and the helpers every reader of the format uses.
 *
 * Locking: VhMigLoader.lock protects what the main stream's thread and
 * the channels' threads share (marked "under lock" below) and is what
 * VhMigLoader.cond waits on; everything else is the main stream's thread's
 * alone (the devices, the staged states, MACHINE's flag), or set once
 * before any thread runs (ram, pages, host, allow_multifd).
 */
#pragma once

#include <string.h>

#include "postcopy-priv.h"
#include "vmhost/migration/stream.h"

G_BEGIN_DECLS

#define VH_MIG_PFX "migration stream: "

/* A multifd channel must connect within this long after the main header. */
#define VH_MIG_CHANNEL_CONNECT_TIMEOUT_S 30

/* ---- little-endian fields, read in order from a checked buffer ---- */

static inline guint32 vh_mig_take_u32(const guint8 **p)
{
    guint32 v;

    memcpy(&v, *p, sizeof(v));
    *p += sizeof(v);
    return GUINT32_FROM_LE(v);
}

static inline guint64 vh_mig_take_u64(const guint8 **p)
{
    guint64 v;

    memcpy(&v, *p, sizeof(v));
    *p += sizeof(v);
    return GUINT64_FROM_LE(v);
}

static inline bool vh_mig_bit_test(const guint64 *map, guint i)
{
    return (map[i / 64] >> (i % 64)) & 1;
}

/* ---- the loader ---- */

typedef struct {
    bool connected;
    bool done;
    bool failed;          /* its connection failed (in post-copy: waits end) */
    guint64 synced_iter;  /* the last SYNC this channel reached */
    guint64 sync_packets; /* records since the SYNC or FLUSH before it */
    guint64 flushed;      /* the last FLUSH this channel reached */
    guint64 flush_packets;
    guint64 total_packets;
} VhMigChanState;

struct VhMigLoader {
    VhRamBlock *ram;
    guint64 pages;
    guint8 *host;
    bool allow_multifd;
    GArray *devices;   /* VhDeviceEntry: the target's */
    GPtrArray *staged; /* per device: its loaded state, NULL until loaded */
    bool have_machine; /* MACHINE loaded */
    bool running;      /* MACHINE's flag */
    /* post-copy (set once by the caller before any thread runs) */
    bool allow_postcopy;
    VhMigPostcopyRunFunc run_func;
    void *run_opaque;
    /* post-copy: created with the header when it has the flag */
    VhPostcopyTarget *pc;
    GMutex rp_lock;        /* the REQUEST connection's writes */
    bool postcopy_live;    /* POSTCOPY_RUN loaded: pages are placed */
    VhChannel *req_ch;     /* under lock: the REQUEST connection (ref) */
    bool urgent_connected; /* under lock */
    bool urgent_done;      /* under lock: CHANNEL_END and its clean end */
    bool urgent_failed;    /* under lock: URGENT failed (this epoch's) */
    bool pc_done;          /* under lock: post-copy over, REQUEST may end */
    /* recovery (docs/migration-stream.md "Post-copy recovery") */
    VhMigPostcopyPauseFunc pause_func;
    bool paused;          /* under lock: waiting for a RESUME main stream */
    VhChannel *resume_ch; /* under lock: it came (ref), for the main thread */
    guint pc_epoch;       /* under lock: pauses so far */
    guint32 resume_channels; /* under lock: the RESUME header's channels */
    bool main_released;      /* under lock: the answer is sent, it may close */
    VhChannel *cur_main;     /* the main thread's current connection (ref) */
    bool resumed;            /* a resume happened: END's totals differ */
    /*
     * Under lock: a RESUME came for this session although POSTCOPY_RUN
     * never ran here (the link died in the switch): the guest never ran
     * here, POSTCOPY_RUN may not run any more, and the source is told
     * NOT_RUN.
     */
    bool not_run;
    bool not_run_known; /* set before any thread: the session below */
    guint8 not_run_uuid[VH_MIG_UUID_SIZE]; /* failed before POSTCOPY_RUN */

    GMutex lock;
    GCond cond;
    char *abort_reason; /* under lock */
    bool have_header;   /* under lock, and the four below once it is set */
    guint32 flags;
    guint32 channels;
    guint8 uuid[VH_MIG_UUID_SIZE];
    guint64 released_iter;  /* under lock: ITER_END the main stream checked */
    guint64 released_flush; /* under lock: DIRTY_SYNC it checked */
    VhMigChanState chan[VH_MIG_MAX_CHANNELS]; /* under lock */
    VhMigCounts counts;                       /* under lock */
    guint64 bytes;                            /* under lock */
};

/* ---- helpers (stream-load.c) ---- */

/* Always false, with "migration stream: " and the message. */
G_GNUC_PRINTF(2, 3)
bool vh_mig_bad(GError **errp, const char *fmt, ...);
/* Read exactly @len bytes of @what; an early end names @what. */
bool vh_mig_read_exact(VhChannel *ch, void *buf, size_t len, const char *what,
                       GError **errp);
bool vh_mig_expect_len(const char *sec, guint32 got, guint32 want,
                       GError **errp);
/* After the last section: the peer must end the connection cleanly. */
bool vh_mig_expect_eof(VhChannel *ch, const char *what, GError **errp);
/* A u32-length string of 1..@max printable ASCII bytes (transfer full). */
char *vh_mig_read_name(const guint8 **p, const guint8 *end, guint32 max,
                       const char *what, GError **errp);
/* The section's name ("PAGES"), or NULL for a type the format lacks. */
const char *vh_mig_section_name(guint32 type);
/* Under the lock: fail with the abort reason if there is one. */
bool vh_mig_loader_aborted_locked(VhMigLoader *l, GError **errp);
/* Read @what's preamble (the magic) unless the caller did. */
bool vh_mig_preamble_bytes(VhChannel *ch, const VhMigPreamble *pre, guint8 *buf,
                           size_t size, const char *what, GError **errp);

/* A PAGES record's body (read) and its data, straight into guest RAM. */
bool vh_mig_load_pages(VhMigLoader *l, VhChannel *ch, const guint8 *body,
                       const char *where, GError **errp);

/* ---- multifd channels (stream-load-channel.c) ---- */

/* Wait until every multifd channel has said hello. */
bool vh_mig_wait_channels_connected(VhMigLoader *l, GError **errp);
/*
 * ITER_END @it: wait for every channel's SYNC of it, check their counts
 * (@packets, one u64 per channel, little-endian), then release them.
 */
/*
 * A barrier on the main stream (ITER_END @n, or DIRTY_SYNC @n when
 * @flush): wait until every channel reached its SYNC (FLUSH) @n and check
 * its count against @packets (u64 each, little-endian). The channels stay
 * there until vh_mig_open_barrier: what the main stream does in between
 * (DISCARD's drops) no record of theirs can overtake.
 */
bool vh_mig_wait_barrier(VhMigLoader *l, bool flush, guint64 n,
                         const guint8 *packets, GError **errp);
void vh_mig_open_barrier(VhMigLoader *l, bool flush, guint64 n);
/* END: wait for every channel's clean end. */
bool vh_mig_wait_channels_done(VhMigLoader *l, GError **errp);

/* ---- post-copy connections (stream-load-postcopy.c) ---- */

/* Both post-copy connections said hello (flag POSTCOPY). */
bool vh_mig_wait_postcopy_connected(VhMigLoader *l, GError **errp);
/* END of a post-copy: the URGENT connection ended cleanly. */
bool vh_mig_wait_urgent_done(VhMigLoader *l, GError **errp);

/* ---- device state (stream-load-devices.c) ---- */

bool vh_mig_load_machine(VhMigLoader *l, const guint8 *b, guint32 len,
                         GError **errp);
bool vh_mig_load_device(VhMigLoader *l, const guint8 *b, guint32 len,
                        GError **errp);
/* END may come: MACHINE and every device of this machine arrived. */
bool vh_mig_devices_complete(VhMigLoader *l, GError **errp);
void vh_mig_loader_clear_staged(VhMigLoader *l);

G_END_DECLS
