/*
 * The driver's side of libvirt's migration protocol version 3: the steps
 * each daemon runs (the remote layer, remote-migrate.c, drives them for
 * virsh, or for a peer daemon in peer-to-peer mode). vmhost's native
 * migration carries the guest: the source's vmhost connects straight to
 * the destination's, over TLS with the certificates of
 * migrate_tls_x509_cert_dir when VIR_MIGRATE_TLS is set.
 *
 *   source                          destination
 *   begin    -> domain XML
 *                                   prepare  -> vmhost -S -incoming defer,
 *                                               migrate-incoming on a port
 *                                               of migration_port_min..max;
 *                                               "tcp://HOST:PORT"
 *   perform  -> migrate to the URI, wait (job stats and abort meanwhile)
 *                                   finish   -> cont (unless PAUSED),
 *                                               persistent if PERSIST_DEST;
 *                                               cancelled: stop it
 *   confirm  -> stop the source's vmhost (STOPPED_MIGRATED), undefine it
 *               with UNDEFINE_SOURCE; cancelled: resume it
 *
 * Threads: all blocking, from worker threads (never the driver context's).
 * Errors: VH_VIR_ERROR with libvirt's codes and wording.
 */
#pragma once

#include "driver.h"

G_BEGIN_DECLS

/* libvirt's virDomainMigrateFlags */
enum {
    VH_MIGRATE_LIVE = 1 << 0,
    VH_MIGRATE_PEER2PEER = 1 << 1,
    VH_MIGRATE_TUNNELLED = 1 << 2,
    VH_MIGRATE_PERSIST_DEST = 1 << 3,
    VH_MIGRATE_UNDEFINE_SOURCE = 1 << 4,
    VH_MIGRATE_PAUSED = 1 << 5,
    VH_MIGRATE_NON_SHARED_DISK = 1 << 6,
    VH_MIGRATE_NON_SHARED_INC = 1 << 7,
    VH_MIGRATE_CHANGE_PROTECTION = 1 << 8,
    VH_MIGRATE_UNSAFE = 1 << 9,
    VH_MIGRATE_OFFLINE = 1 << 10,
    VH_MIGRATE_COMPRESSED = 1 << 11,
    VH_MIGRATE_ABORT_ON_ERROR = 1 << 12,
    VH_MIGRATE_AUTO_CONVERGE = 1 << 13,
    VH_MIGRATE_POSTCOPY = 1 << 15,
    VH_MIGRATE_TLS = 1 << 16,
    VH_MIGRATE_PARALLEL = 1 << 17,
};

/* What vmhostd does with: no disks, so the disk flags change nothing;
 * LIVE is how vmhost always migrates. */
#define VH_MIGRATE_SUPPORTED                                                   \
    (VH_MIGRATE_LIVE | VH_MIGRATE_PEER2PEER | VH_MIGRATE_TUNNELLED |           \
     VH_MIGRATE_PERSIST_DEST | VH_MIGRATE_UNDEFINE_SOURCE |                    \
     VH_MIGRATE_PAUSED | VH_MIGRATE_CHANGE_PROTECTION | VH_MIGRATE_UNSAFE |    \
     VH_MIGRATE_ABORT_ON_ERROR | VH_MIGRATE_TLS | VH_MIGRATE_PARALLEL |        \
     VH_MIGRATE_NON_SHARED_DISK | VH_MIGRATE_NON_SHARED_INC)

/* The VIR_MIGRATE_PARAM_* values a step uses (all may be NULL / 0). */
typedef struct {
    guint flags;
    const char *uri;             /* "migrate_uri": tcp://HOST[:PORT] */
    const char *dname;           /* "destination_name" */
    const char *dest_xml;        /* "destination_xml" */
    const char *persist_xml;     /* "persistent_xml" */
    const char *listen_address;  /* "listen_address" */
    const char *tls_destination; /* "tls.destination" */
    guint64 bandwidth_mib;       /* "bandwidth", MiB/s; 0: no limit */
    int parallel_connections;    /* "parallel.connections"; 0: default */
} VhMigrateArgs;

/* Source: the domain's live XML for the destination (transfer full). */
char *vh_driver_migrate_begin(VhDriver *drv, const guint8 *uuid,
                              const VhMigrateArgs *a, GError **errp);
/* Destination: the URI the source's vmhost must connect to (transfer
 * full), and in *@name the domain's name (transfer full). A domain of that name or uuid already active is refused here,
 * before any data moves. */
char *vh_driver_migrate_prepare(VhDriver *drv, const VhMigrateArgs *a,
                                char **name, GError **errp);
/* Destination, tunnelled: the same, with vmhost listening on a UNIX
 * socket in the run dir whose path is returned (transfer full); the
 * daemon relays the migration stream into it. */
char *vh_driver_migrate_prepare_tunnel(VhDriver *drv, const VhMigrateArgs *a,
                                       char **name, GError **errp);
/* Source: migrate to @uri (tcp://HOST:PORT, or unix:PATH of a tunnel the
 * caller relays) and wait for the end. */
/* @alive (may be NULL) is asked while the transfer runs: false cancels it
 * ("Lost connection to destination host"), as a p2p source does when its
 * connection to the destination daemon ends. */
typedef bool (*VhMigrateAliveFunc)(gpointer opaque);
bool vh_driver_migrate_perform(VhDriver *drv, const guint8 *uuid,
                               const char *uri, const VhMigrateArgs *a,
                               VhMigrateAliveFunc alive, gpointer opaque,
                               GError **errp);
/* Destination: stop the incoming migration of @name if it is still
 * waiting (its source's connection ended before finish). */
void vh_driver_migrate_abort_incoming(VhDriver *drv, const char *name);
/* Destination: the migrated domain (transfer full); NULL when cancelled
 * (the half-started machine is gone) or on failure. */
VhDomainRef *vh_driver_migrate_finish(VhDriver *drv, const VhMigrateArgs *a,
                                      bool cancelled, GError **errp);
/* Source: the end of it (see above). */
bool vh_driver_migrate_confirm(VhDriver *drv, const guint8 *uuid,
                               const VhMigrateArgs *a, bool cancelled,
                               GError **errp);

/* virDomainJobType and the stats virsh domjobinfo shows. */
typedef struct {
    int type; /* 0 none, 2 unbounded */
    int operation;
    guint64 time_elapsed_ms;
    guint64 data_total, data_processed, data_remaining;
    guint64 mem_bps;
    guint64 mem_iteration;
    guint64 mem_dirty_rate; /* pages/s */
} VhJobStats;

bool vh_driver_get_job_stats(VhDriver *drv, const guint8 *uuid, VhJobStats *st,
                             GError **errp);
/* migrate_cancel on a running outgoing migration. */
bool vh_driver_abort_job(VhDriver *drv, const guint8 *uuid, GError **errp);

G_END_DECLS
