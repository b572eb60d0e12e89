/*
 * VhMigration: live migration of a VhMachine, source and target, with
 * QEMU's state machine, parameters and capabilities.
 *
 *     // source
 *     VhMigration *mig = vh_migration_new(machine);
 *     vh_migration_set_parameter_str(mig, "tls-creds", "tls0", errp);
 *     if (!vh_migration_start(mig, "tcp:target:9000", errp)) { ... }
 *     // status: setup -> active -> completed (machine: postmigrate)
 *
 *     // target (machine in inmigrate)
 *     if (!vh_migration_incoming(mig, "tcp:0.0.0.0:9000", errp)) { ... }
 *     // status: setup -> active -> completed (machine: running, or
 *     // paused when autostart is off or the source guest did not run)
 *
 * Status names (query-migrate): none, setup, active, cancelling,
 * cancelled, completed, failed.
 *
 * Pre-copy (source, in its own thread with blocking channels): every page
 * in a first pass (zero pages as bits), then passes over the pages the
 * kernel saw written (VhDirtyTracker); the bandwidth is re-estimated at
 * least every 100 ms; when the dirty pages left fit in bandwidth x
 * downtime-limit the guest is stopped, the rest and the device state go,
 * and the source waits for the target's LOADED on the return path before
 * `completed` and postmigrate. A guest that dirties faster keeps the
 * migration `active` until cancelled. Any failure or a cancel leaves the
 * source guest as it was (running again if the final phase stopped it),
 * with the reason in the info; another migration may follow.
 *
 * Devices: every device registered with the machine
 * (vh_machine_register_device()) travels, saved and loaded by its own
 * VhDeviceStateOps; the target's machine must have the same devices.
 *
 * multifd (capability): pages go over multifd-channels more connections,
 * each with its own thread and TLS session (tcp: and unix: only).
 *
 * Target: connections are accepted on the listener; the first main stream
 * is loaded straight into guest RAM (docs/migration-stream.md); the guest
 * is started only once the whole state arrived, checked out, and the
 * connections ended cleanly. A failed load leaves the machine in inmigrate
 * (status failed, with the reason); a tcp:/unix: listener then accepts a
 * new attempt.
 *
 * Threads: every function here is for the thread of the machine's
 * GMainContext (the monitors' thread); the status callback runs there too.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>

#include "vmhost/machine/machine.h"
#include "vmhost/migration/transport.h"

G_BEGIN_DECLS

typedef enum {
    VH_MIG_STATUS_NONE,
    VH_MIG_STATUS_SETUP,
    VH_MIG_STATUS_ACTIVE,
    VH_MIG_STATUS_CANCELLING,
    VH_MIG_STATUS_CANCELLED,
    VH_MIG_STATUS_COMPLETED,
    VH_MIG_STATUS_FAILED,
    VH_MIG_STATUS_POSTCOPY_ACTIVE, /* the target's guest runs, pages follow */
    VH_MIG_STATUS_POSTCOPY_PAUSED, /* a post-copy connection failed */
} VhMigStatus;

const char *vh_mig_status_name(VhMigStatus s);

#define VH_MIG_DEFAULT_MAX_BANDWIDTH  (128ULL << 20) /* bytes/s */
#define VH_MIG_DEFAULT_DOWNTIME_LIMIT 300            /* ms */
#define VH_MIG_DEFAULT_CHANNELS       2
#define VH_MIG_MAX_DOWNTIME_LIMIT     2000000 /* ms, QEMU's bound */
/* x-postcopy-link-timeout, ms: 0 (off) or MIN..MAX */
#define VH_MIG_DEFAULT_POSTCOPY_LINK_TIMEOUT 10000
#define VH_MIG_MIN_POSTCOPY_LINK_TIMEOUT     1000
#define VH_MIG_MAX_POSTCOPY_LINK_TIMEOUT     3600000
/* x-postcopy-sync-interval, ms: 0 (only at a pass's end) or MIN..MAX */
#define VH_MIG_DEFAULT_POSTCOPY_SYNC_INTERVAL 50
#define VH_MIG_MIN_POSTCOPY_SYNC_INTERVAL     10
#define VH_MIG_MAX_POSTCOPY_SYNC_INTERVAL     600000
/*
 * What the target logs (g_message, before the reason) for each incoming
 * connection it refuses: vmhostd reads it from a destination vmhost's log
 * to tell the source why (a refused certificate shows nowhere else).
 */
#define VH_MIG_LOG_REFUSED "migration: refused an incoming connection: "

typedef struct {
    char *tls_creds;        /* "" = no TLS */
    char *tls_hostname;     /* "" = the tcp: host */
    char *tls_authz;        /* "" = none */
    guint64 max_bandwidth;  /* bytes/s; 0 = unlimited */
    guint64 downtime_limit; /* ms */
    guint32 multifd_channels;
    guint32 postcopy_after_passes;  /* x-postcopy-after-passes; 0 = never */
    guint64 max_postcopy_bandwidth; /* bytes/s of post-copy's bulk; 0 = all */
    /*
     * x-postcopy-link-timeout (ms): from post-copy's switch to its end,
     * and again on each resume, every TCP connection of the migration
     * fails after this long without an answer from the peer (unacked
     * data, unanswered keepalive probes), so that a link that died
     * silently pauses post-copy; 0 = off (the kernel's ~15 minutes).
     * Each side reads its own. Pre-copy is not affected.
     */
    guint32 postcopy_link_timeout;
    /*
     * x-postcopy-sync-interval (ms): with postcopy-ram on, the source
     * syncs the dirty log this often during a pre-copy pass and the
     * target drops at once the pages it holds that were written since, so
     * that a switch leaves only this long's writes to drop inside the
     * downtime; 0 = only at each pass's end. Never more often than five
     * times a sync's own cost. The source's alone.
     */
    guint32 postcopy_sync_interval;
} VhMigParams;

typedef struct {
    bool multifd;
    bool events;
    bool postcopy_ram;
} VhMigCaps;

/* A snapshot for query-migrate / info migrate. */
typedef struct {
    VhMigStatus status;
    bool incoming;
    gint64 total_time;        /* ms; running total while active */
    gint64 setup_time;        /* ms */
    gint64 expected_downtime; /* ms, while active */
    gint64 downtime;          /* ms, once completed */
    double mbps;              /* throughput, megabits/s as QEMU */
    guint64 transferred;      /* bytes on the wire */
    guint64 remaining;        /* bytes of dirty RAM left */
    guint64 total;            /* RAM size */
    guint64 duplicate;        /* zero pages */
    guint64 normal;           /* pages sent with data */
    guint64 normal_bytes;
    guint64 dirty_pages_rate; /* pages/s */
    guint64 dirty_sync_count; /* passes */
    guint64 page_size;
    guint32 multifd_channels; /* 0 without multifd */
    char *dirty_tracking;     /* mechanism, or NULL */
    char *error;              /* NULL unless failed */
    char *postcopy;           /* post-copy figures, or NULL */
    /*
     * The guest's write rate (pages/s, its workload's pages written):
     * "pre-copy" on a source that switched to post-copy (from the start to
     * the switch), "post-copy" on a target (since the switch, live while
     * postcopy-active); NULL without post-copy. guest_set_pps: the rate
     * its workload was set to, for the share.
     */
    const char *guest_phase;
    guint64 guest_pps;
    guint64 guest_set_pps;
} VhMigInfo;

void vh_mig_info_clear(VhMigInfo *info);

typedef struct VhMigration VhMigration;

/* (transfer full) Migration for @m (borrowed, must outlive it). */
VhMigration *vh_migration_new(VhMachine *m);
/* Cancels and joins whatever runs. NULL is allowed. */
void vh_migration_free(VhMigration *mig);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VhMigration, vh_migration_free)

VhMachine *vh_migration_get_machine(VhMigration *mig);

/* How fd:NAME URIs find their fd (the monitor's getfd table). */
void vh_migration_set_fd_lookup(VhMigration *mig, VhMigFdLookup fdl,
                                void *opaque);

/* Called on the main context for every status change. */
typedef void (*VhMigStatusFunc)(VhMigration *mig, VhMigStatus status,
                                void *opaque);
void vh_migration_set_status_func(VhMigration *mig, VhMigStatusFunc func,
                                  void *opaque);

/*
 * Parameters by QEMU name. _str: as HMP types them (sizes with suffixes,
 * max-bandwidth defaulting to MiB as in QEMU's HMP); _int for QMP
 * integers. Errors name the parameter and the valid range.
 */
G_GNUC_WARN_UNUSED_RESULT
bool vh_migration_set_parameter_str(VhMigration *mig, const char *name,
                                    const char *value, GError **errp);
G_GNUC_WARN_UNUSED_RESULT
bool vh_migration_set_parameter_int(VhMigration *mig, const char *name,
                                    gint64 value, GError **errp);
/* Check one parameter into @p without applying it. */
G_GNUC_WARN_UNUSED_RESULT
bool vh_mig_params_set_str(VhMigParams *p, const char *name, const char *value,
                           bool hmp, GError **errp);
G_GNUC_WARN_UNUSED_RESULT
bool vh_mig_params_set_int(VhMigParams *p, const char *name, gint64 value,
                           GError **errp);
/* A copy of the current parameters (clear with vh_mig_params_clear). */
void vh_migration_get_params(VhMigration *mig, VhMigParams *out);
/* Replace the parameters (takes @p's contents). */
void vh_migration_set_params(VhMigration *mig, VhMigParams *p);
void vh_mig_params_copy(VhMigParams *dst, const VhMigParams *src);
void vh_mig_params_clear(VhMigParams *p);
/* The parameter names, in QEMU's order (static). */
const char *const *vh_mig_param_names(void);

/* Capabilities: multifd, events, return-path (always on), postcopy-ram
 * (always off). Refused while a migration runs. */
G_GNUC_WARN_UNUSED_RESULT
bool vh_migration_set_capability(VhMigration *mig, const char *name, bool state,
                                 GError **errp);
const char *const *vh_mig_capability_names(void);
bool vh_migration_get_capability(VhMigration *mig, const char *name);

/*
 * Start migrating the machine to @uri. Fails at once for a bad URI,
 * missing TLS credentials, multifd over a one-connection URI, a migration
 * already running, or a machine that cannot migrate (inmigrate,
 * shutdown); everything later shows in the status.
 */
G_GNUC_WARN_UNUSED_RESULT
bool vh_migration_start(VhMigration *mig, const char *uri, GError **errp);
/*
 * migrate_start_postcopy: a running pre-copy with postcopy-ram on switches
 * to post-copy as soon as it can (the source thread checks between
 * records).
 */
bool vh_migration_start_postcopy(VhMigration *mig, GError **errp);
/*
 * migrate -r URI (QMP resume: true) on a source in postcopy-paused: it
 * reconnects to @uri (TLS again), learns what the target has, finishes.
 */
bool vh_migration_resume(VhMigration *mig, const char *uri, GError **errp);
/*
 * migrate_pause (QEMU's) on either side in postcopy-active: cut the
 * migration's connections so that both sides go postcopy-paused (a link
 * that hangs without failing, say); migrate_recover and migrate -r then
 * resume it. Refused, saying why, in any other status.
 */
G_GNUC_WARN_UNUSED_RESULT
bool vh_migration_pause(VhMigration *mig, GError **errp);
/*
 * migrate_recover URI on a target in postcopy-paused: listen on @uri (TLS
 * and tls-authz as set) for the source's resume.
 */
bool vh_migration_recover(VhMigration *mig, const char *uri, GError **errp);

/* migrate_cancel: no-op unless setup or active. */
void vh_migration_cancel(VhMigration *mig);

/*
 * Receive a migration on @uri (once). The machine must be in inmigrate.
 */
G_GNUC_WARN_UNUSED_RESULT
bool vh_migration_incoming(VhMigration *mig, const char *uri, GError **errp);
/* The listener's address ("tcp:127.0.0.1:41234"), or NULL (transfer full). */
char *vh_migration_incoming_address(VhMigration *mig);

VhMigStatus vh_migration_get_status(VhMigration *mig);
void vh_migration_get_info(VhMigration *mig, VhMigInfo *out);

/*
 * Wait, iterating the machine's context, until the status is one of
 * completed, failed, cancelled (or @timeout_ms passed; 0 = forever).
 * For tests and tools without a main loop of their own.
 */
VhMigStatus vh_migration_wait(VhMigration *mig, guint timeout_ms);

G_END_DECLS
