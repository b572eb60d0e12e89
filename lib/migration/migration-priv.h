/*
 * Private to lib/migration: the VhMigration object shared by the
 * parameters (migration.c), the source (migration-source.c) and the
 * target (migration-target.c).
 */
#pragma once

#include "vmhost/crypto/tls-creds.h"
#include "vmhost/io/channel-socket.h"
#include "vmhost/migration/migration.h"
#include "vmhost/migration/stream.h"

G_BEGIN_DECLS

/* Delivers status changes on the main context even after a free. */
typedef struct {
    gatomicrefcount ref;
    GMutex lock;
    VhMigration *mig; /* NULL once freed */
} VhMigNotifier;

VhMigNotifier *vh_mig_notifier_ref(VhMigNotifier *n);
void vh_mig_notifier_unref(VhMigNotifier *n);

/* One attempt at receiving a migration (target). */
typedef struct {
    gatomicrefcount ref;
    VhMigLoader *loader;
    GPtrArray *chans; /* VhChannel (refs), under tgt.lock */
    bool has_main;
    bool finished;
    /*
     * Under tgt.lock: x-postcopy-link-timeout (ms) is on every connection
     * of the attempt, and on each that joins, while post-copy runs.
     */
    bool link_guard;
    guint link_ms;
    /*
     * Under tgt.lock: why a connection of the attempt failed in post-copy
     * and cut the others; the pause names it, not the failures the cut
     * then caused (the main stream's "closed without close-notify").
     */
    char *cut_why;
} VhMigAttempt;

/*
 * The parameters and capabilities. conf.lock protects both: the monitor
 * sets them, the source thread reads max-bandwidth and downtime-limit as
 * it goes.
 */
typedef struct {
    GMutex lock;
    VhMigParams params;
    VhMigCaps caps;
} VhMigConf;

/*
 * What info migrate shows. stats.lock protects all of it; a status change
 * is queued for notification under it too, so that MIGRATION events keep
 * the order of the changes.
 */
typedef struct {
    GMutex lock;
    VhMigStatus status;
    char *error;
    bool incoming;
    gint64 start_us;
    gint64 end_us; /* 0 while running */
    gint64 setup_ms;
    gint64 downtime_ms;
    gint64 expected_downtime_ms;
    double mbps;
    guint64 transferred;
    guint64 remaining;
    guint64 normal;
    guint64 zero;
    guint64 dirty_rate;
    guint64 sync_count;
    guint32 nch;
    const char *mechanism;
    char *postcopy; /* post-copy's figures once it ran, or NULL */
    /*
     * The guest's own writes (its workload's pages written) over one span:
     * on a source from the start to post-copy's switch, on a target from
     * the switch on (t1 0: still going). How much post-copy slows the
     * guest is the one figure no transfer counter shows.
     */
    gint64 guest_t0;
    guint64 guest_pages0;
    gint64 guest_t1;
    guint64 guest_pages1;
    guint64 guest_set1; /* the workload's set rate (bytes/s) at t1 */
} VhMigStats;

/*
 * The source. src.lock protects shut (the channels a cancel cuts);
 * cancelling is atomic; thread and cancel belong to the main context's
 * thread (start, cancel, free), which creates and joins them.
 */
typedef struct {
    GMutex lock;
    GPtrArray *shut;         /* VhChannel (refs) to shut down on cancel */
    gint cancelling;         /* atomic */
    gint postcopy_requested; /* atomic: migrate_start_postcopy */
    gint pause_requested;    /* atomic: migrate_pause cut the connections */
    GCond cond;              /* with lock: a resume or a cancel came */
    /* under lock: migrate -r's URI and TLS, for the thread */
    struct VhMigSourceArgs *resume;
    GThread *thread;
    GCancellable *cancel;
} VhMigSourceState;

/*
 * The target. tgt.lock protects attempt, in_threads, in_chans,
 * in_completed and in_refused (the accepting and loading threads share
 * them); in_uri, in_uri_set and listener belong to the main context's
 * thread.
 */
typedef struct {
    GMutex lock;
    VhMigAttempt *attempt;
    GPtrArray *in_threads; /* GThread */
    GPtrArray *in_chans;   /* VhChannel (refs), every accepted one */
    bool in_completed;
    /* The last attempt failed before POSTCOPY_RUN ran: its session. */
    bool have_not_run;
    guint8 not_run_uuid[VH_MIG_UUID_SIZE];
    char *in_refused; /* the last connection the listener refused */
    VhMigUri in_uri;
    bool in_uri_set;
    VhMigListener *listener;
    gint pause_requested; /* atomic: migrate_pause cut the connections */
} VhMigTargetState;

/*
 * Lock order: a thread holds at most one of these locks, except
 * stats.lock, under which src.lock (cancel) or tgt.lock (info on a target)
 * may be taken. The machine's lock and a loader's are taken under none of
 * them, or innermost.
 */
struct VhMigration {
    VhMachine *machine;
    GMainContext *ctx;
    VhMigFdLookup fdl;
    void *fdl_opaque;
    VhMigStatusFunc status_func;
    void *status_opaque;
    VhMigNotifier *notifier;

    VhMigConf conf;
    VhMigStats stats;
    VhMigSourceState src;
    VhMigTargetState tgt;
};

/*
 * Under stats.lock: the guest's write span starts (@end false) or ends
 * now (see VhMigStats).
 */
void vh_mig_guest_mark_locked(VhMigration *mig, bool end);

/* Under no lock: set the status (and error), notify on the main context. */
void vh_mig_set_status(VhMigration *mig, VhMigStatus st, const char *error);
/* Cut @ch's transport to unblock its I/O; from any thread. */
void vh_mig_shutdown_quietly(VhChannel *ch);
/*
 * Look up tls-creds / tls-authz objects from the parameters; authzid is
 * a copy that vh_mig_tls_clear() frees.
 */
G_GNUC_WARN_UNUSED_RESULT
bool vh_mig_tls_from_params(const VhMigParams *p, VhTlsCredsEndpoint endpoint,
                            VhMigTls *tls, GError **errp);
void vh_mig_tls_clear(VhMigTls *tls);

/* link-timeout.c: x-postcopy-link-timeout */
/* The socket options for @timeout_ms (0: the kernel's behaviour). */
void vh_mig_link_liveness(guint timeout_ms, VhTcpLiveness *out);
/*
 * Apply @timeout_ms (0: back to the kernel's behaviour) to the TCP
 * connection under @ch (a socket, or TLS over one). 1: done; 0: not TCP
 * (unix:, a pipe) or closed; -1: the kernel refused, logged, and the
 * migration goes on without it.
 */
int vh_mig_link_timeout_apply(VhChannel *ch, guint timeout_ms);
/* The parameter as it is now. */
guint vh_mig_conf_link_timeout(VhMigration *mig);
/* Whether @err is a connection that timed out (ETIMEDOUT). */
bool vh_mig_is_link_timeout(const GError *err);

/* migration-source.c */
gpointer vh_mig_source_thread(gpointer opaque);
/* The source run handed to the thread (and a resume's new URI and TLS). */
typedef struct VhMigSourceArgs {
    VhMigration *mig;
    VhMigUri uri;
    VhMigTls tls;
    char *hostname;
    VhMigParams params; /* snapshot at start (tls, channels) */
    bool multifd;
    bool postcopy; /* capability postcopy-ram */
} VhMigSourceArgs;
void vh_mig_source_args_free(VhMigSourceArgs *a);

/* migration-target.c */
void vh_mig_target_accept(VhChannel *ch, const GError *err, void *opaque);
void vh_mig_target_stop(VhMigration *mig);
/*
 * migrate_pause on a target in post-copy: cut every connection of the
 * attempt, so that it pauses (postcopy-paused) and the source does too.
 */
/*
 * An incoming post-copy that has not run the guest (its attempt still
 * loading, or failed before POSTCOPY_RUN): its source may be paused in
 * the switch and resume here (migrate_recover is taken).
 */
bool vh_mig_target_may_recover(VhMigration *mig);
void vh_mig_target_pause(VhMigration *mig);

G_END_DECLS
