/*
 * Peer-to-peer live migration of a VhgDomain through the daemon its
 * connection is open on, with progress.
 *
 *     VhgMigrateParams *p = vhg_migrate_params_new();
 *     vhg_migrate_params_set_bandwidth(p, 200);
 *     vhg_domain_migrate_async(dom, "vmhost+tls://dst/system",
 *                              VHG_DOMAIN_MIGRATE_LIVE |
 *                                  VHG_DOMAIN_MIGRATE_PEER2PEER |
 *                                  VHG_DOMAIN_MIGRATE_TLS,
 *                              p, cancellable, on_progress, NULL, NULL,
 *                              on_migrated, NULL);
 */
#pragma once

#if !defined(VMHOST_GOBJECT_INSIDE) && !defined(VMHOST_GOBJECT_COMPILATION)
#error "Only <vmhost-gobject.h> can be included directly."
#endif

#include <gio/gio.h>

#include "vhg-domain.h"

G_BEGIN_DECLS

/**
 * VhgDomainMigrateFlags:
 * @VHG_DOMAIN_MIGRATE_NONE: no flag
 * @VHG_DOMAIN_MIGRATE_LIVE: keep the guest running while its memory moves
 * @VHG_DOMAIN_MIGRATE_PEER2PEER: the source daemon drives the destination
 *   daemon itself (vhg_domain_migrate_async() always adds it)
 * @VHG_DOMAIN_MIGRATE_TUNNELLED: the migration stream travels inside the
 *   daemons' own connection (not with %VHG_DOMAIN_MIGRATE_TLS)
 * @VHG_DOMAIN_MIGRATE_PERSIST_DEST: define the domain on the destination
 * @VHG_DOMAIN_MIGRATE_UNDEFINE_SOURCE: undefine the domain on the source
 * @VHG_DOMAIN_MIGRATE_PAUSED: leave the guest paused on the destination
 * @VHG_DOMAIN_MIGRATE_ABORT_ON_ERROR: abort on an I/O error during the
 *   migration
 * @VHG_DOMAIN_MIGRATE_TLS: the hypervisor's native TLS migration stream
 * @VHG_DOMAIN_MIGRATE_PARALLEL: several connections (multifd); their number
 *   is vhg_migrate_params_set_parallel_connections()'s
 *
 * libvirt's virDomainMigrateFlags (the same values, VIR_MIGRATE_*).
 */
typedef enum {
    VHG_DOMAIN_MIGRATE_NONE = 0,
    VHG_DOMAIN_MIGRATE_LIVE = 1 << 0,
    VHG_DOMAIN_MIGRATE_PEER2PEER = 1 << 1,
    VHG_DOMAIN_MIGRATE_TUNNELLED = 1 << 2,
    VHG_DOMAIN_MIGRATE_PERSIST_DEST = 1 << 3,
    VHG_DOMAIN_MIGRATE_UNDEFINE_SOURCE = 1 << 4,
    VHG_DOMAIN_MIGRATE_PAUSED = 1 << 5,
    VHG_DOMAIN_MIGRATE_ABORT_ON_ERROR = 1 << 12,
    VHG_DOMAIN_MIGRATE_TLS = 1 << 16,
    VHG_DOMAIN_MIGRATE_PARALLEL = 1 << 17,
} VhgDomainMigrateFlags;

/**
 * VhgMigrateParams:
 *
 * The optional parameters of a migration, sent as libvirt's
 * VIR_MIGRATE_PARAM_* typed parameters, and how often its progress is
 * polled. An opaque boxed type: build it with vhg_migrate_params_new() and
 * the setters.
 */
typedef struct _VhgMigrateParams VhgMigrateParams;

#define VHG_TYPE_MIGRATE_PARAMS (vhg_migrate_params_get_type())
GType vhg_migrate_params_get_type(void);
VhgMigrateParams *vhg_migrate_params_new(void);
VhgMigrateParams *vhg_migrate_params_copy(const VhgMigrateParams *params);
void vhg_migrate_params_free(VhgMigrateParams *params);
void vhg_migrate_params_set_tls_destination(VhgMigrateParams *params,
                                            const char *name);
const char *vhg_migrate_params_get_tls_destination(VhgMigrateParams *params);
void vhg_migrate_params_set_bandwidth(VhgMigrateParams *params,
                                      guint64 mib_per_s);
guint64 vhg_migrate_params_get_bandwidth(VhgMigrateParams *params);
void vhg_migrate_params_set_parallel_connections(VhgMigrateParams *params,
                                                 int n);
int vhg_migrate_params_get_parallel_connections(VhgMigrateParams *params);
void vhg_migrate_params_set_listen_address(VhgMigrateParams *params,
                                           const char *address);
const char *vhg_migrate_params_get_listen_address(VhgMigrateParams *params);
void vhg_migrate_params_set_migrate_uri(VhgMigrateParams *params,
                                        const char *uri);
const char *vhg_migrate_params_get_migrate_uri(VhgMigrateParams *params);
void vhg_migrate_params_set_progress_interval(VhgMigrateParams *params,
                                              guint interval_ms);
guint vhg_migrate_params_get_progress_interval(VhgMigrateParams *params);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VhgMigrateParams, vhg_migrate_params_free)

/**
 * VhgMigrateProgress:
 * @time_elapsed: milliseconds since the migration started
 * @data_total: bytes to move in all (libvirt's data_total)
 * @data_processed: bytes moved so far
 * @data_remaining: bytes still to move
 * @memory_bps: the transfer speed in bytes per second
 * @memory_dirty_rate: pages the guest dirties per second
 * @memory_iteration: the pass over the guest's memory
 *
 * One report of a running migration, from the source daemon's
 * GET_JOB_STATS (virDomainGetJobStats's VIR_DOMAIN_JOB_* fields).
 */
typedef struct {
    guint64 time_elapsed;
    guint64 data_total;
    guint64 data_processed;
    guint64 data_remaining;
    guint64 memory_bps;
    guint64 memory_dirty_rate;
    guint64 memory_iteration;
} VhgMigrateProgress;

#define VHG_TYPE_MIGRATE_PROGRESS (vhg_migrate_progress_get_type())
GType vhg_migrate_progress_get_type(void);
VhgMigrateProgress *vhg_migrate_progress_copy(const VhgMigrateProgress *p);
void vhg_migrate_progress_free(VhgMigrateProgress *p);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VhgMigrateProgress, vhg_migrate_progress_free)

/**
 * VhgDomainMigrateProgressFunc:
 * @dom: the domain being migrated
 * @progress: (transfer none): the job's numbers
 * @user_data: the data given with the function
 *
 * Called on the caller's main context each time the source daemon reports
 * the migration's job.
 */
typedef void (*VhgDomainMigrateProgressFunc)(VhgDomain *dom,
                                             const VhgMigrateProgress *progress,
                                             gpointer user_data);

gboolean vhg_domain_migrate(VhgDomain *dom, const char *dest_uri,
                            VhgDomainMigrateFlags flags,
                            VhgMigrateParams *params, GCancellable *cancellable,
                            VhgDomainMigrateProgressFunc progress_callback,
                            gpointer progress_data, GError **error);
void vhg_domain_migrate_async(VhgDomain *dom, const char *dest_uri,
                              VhgDomainMigrateFlags flags,
                              VhgMigrateParams *params,
                              GCancellable *cancellable,
                              VhgDomainMigrateProgressFunc progress_callback,
                              gpointer progress_data,
                              GDestroyNotify progress_data_free,
                              GAsyncReadyCallback callback, gpointer user_data);
gboolean vhg_domain_migrate_finish(VhgDomain *dom, GAsyncResult *result,
                                   GError **error);

G_END_DECLS
