/*
 * VhgDomain: one domain of a VhgConnection.
 *
 *     VhgDomain *dom = vhg_connection_find_domain_by_name(conn, "vm1");
 *     if (!vhg_domain_start(dom, 0, NULL, &err)) ...
 *     g_signal_connect(dom, "stopped", G_CALLBACK(on_stopped), NULL);
 *
 * Domains are owned by their connection (get_domains, find_domain_by_name,
 * define_domain return references to the connection's objects). Each
 * operation is one call of libvirt's remote protocol with a sync form and
 * an _async/_finish pair whose callback runs in the thread-default main
 * context of the caller. The properties follow the lifecycle events the
 * connection registers for when it opens, and so do the signals.
 */
#pragma once

#if !defined(VMHOST_GOBJECT_INSIDE) && !defined(VMHOST_GOBJECT_COMPILATION)
#error "Only <vmhost-gobject.h> can be included directly."
#endif

#include <gio/gio.h>

#include "vhg-config-domain.h"

G_BEGIN_DECLS

/**
 * VhgDomainState:
 * @VHG_DOMAIN_STATE_NONE: no state
 * @VHG_DOMAIN_STATE_RUNNING: running
 * @VHG_DOMAIN_STATE_BLOCKED: blocked on a resource
 * @VHG_DOMAIN_STATE_PAUSED: paused (suspended)
 * @VHG_DOMAIN_STATE_SHUTDOWN: being shut down
 * @VHG_DOMAIN_STATE_SHUTOFF: shut off
 * @VHG_DOMAIN_STATE_CRASHED: crashed
 * @VHG_DOMAIN_STATE_PMSUSPENDED: suspended by guest power management
 *
 * libvirt's virDomainState.
 */
typedef enum {
    VHG_DOMAIN_STATE_NONE = 0,
    VHG_DOMAIN_STATE_RUNNING = 1,
    VHG_DOMAIN_STATE_BLOCKED = 2,
    VHG_DOMAIN_STATE_PAUSED = 3,
    VHG_DOMAIN_STATE_SHUTDOWN = 4,
    VHG_DOMAIN_STATE_SHUTOFF = 5,
    VHG_DOMAIN_STATE_CRASHED = 6,
    VHG_DOMAIN_STATE_PMSUSPENDED = 7,
} VhgDomainState;

/**
 * VhgDomainInfo:
 * @state: the state
 * @max_mem: the maximum memory in KiB
 * @memory: the memory in use in KiB
 * @nr_virt_cpu: the number of virtual CPUs
 * @cpu_time: the CPU time used, in nanoseconds
 *
 * What vhg_domain_get_info() reports (virDomainInfo).
 */
typedef struct {
    VhgDomainState state;
    guint64 max_mem;
    guint64 memory;
    guint16 nr_virt_cpu;
    guint64 cpu_time;
} VhgDomainInfo;

#define VHG_TYPE_DOMAIN_INFO (vhg_domain_info_get_type())
GType vhg_domain_info_get_type(void);
VhgDomainInfo *vhg_domain_info_copy(const VhgDomainInfo *info);
void vhg_domain_info_free(VhgDomainInfo *info);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VhgDomainInfo, vhg_domain_info_free)

#define VHG_TYPE_DOMAIN (vhg_domain_get_type())
G_DECLARE_FINAL_TYPE(VhgDomain, vhg_domain, VHG, DOMAIN, GObject)

const char *vhg_domain_get_name(VhgDomain *dom);
const char *vhg_domain_get_uuid(VhgDomain *dom);
int vhg_domain_get_id(VhgDomain *dom);
gboolean vhg_domain_get_persistent(VhgDomain *dom);
VhgDomainState vhg_domain_get_state(VhgDomain *dom);

gboolean vhg_domain_start(VhgDomain *dom, guint flags,
                          GCancellable *cancellable, GError **error);
void vhg_domain_start_async(VhgDomain *dom, guint flags,
                            GCancellable *cancellable,
                            GAsyncReadyCallback callback, gpointer user_data);
gboolean vhg_domain_start_finish(VhgDomain *dom, GAsyncResult *result,
                                 GError **error);

gboolean vhg_domain_stop(VhgDomain *dom, guint flags, GCancellable *cancellable,
                         GError **error);
void vhg_domain_stop_async(VhgDomain *dom, guint flags,
                           GCancellable *cancellable,
                           GAsyncReadyCallback callback, gpointer user_data);
gboolean vhg_domain_stop_finish(VhgDomain *dom, GAsyncResult *result,
                                GError **error);

gboolean vhg_domain_shutdown(VhgDomain *dom, guint flags,
                             GCancellable *cancellable, GError **error);
void vhg_domain_shutdown_async(VhgDomain *dom, guint flags,
                               GCancellable *cancellable,
                               GAsyncReadyCallback callback,
                               gpointer user_data);
gboolean vhg_domain_shutdown_finish(VhgDomain *dom, GAsyncResult *result,
                                    GError **error);

gboolean vhg_domain_suspend(VhgDomain *dom, GCancellable *cancellable,
                            GError **error);
void vhg_domain_suspend_async(VhgDomain *dom, GCancellable *cancellable,
                              GAsyncReadyCallback callback, gpointer user_data);
gboolean vhg_domain_suspend_finish(VhgDomain *dom, GAsyncResult *result,
                                   GError **error);

gboolean vhg_domain_resume(VhgDomain *dom, GCancellable *cancellable,
                           GError **error);
void vhg_domain_resume_async(VhgDomain *dom, GCancellable *cancellable,
                             GAsyncReadyCallback callback, gpointer user_data);
gboolean vhg_domain_resume_finish(VhgDomain *dom, GAsyncResult *result,
                                  GError **error);

gboolean vhg_domain_undefine(VhgDomain *dom, guint flags,
                             GCancellable *cancellable, GError **error);
void vhg_domain_undefine_async(VhgDomain *dom, guint flags,
                               GCancellable *cancellable,
                               GAsyncReadyCallback callback,
                               gpointer user_data);
gboolean vhg_domain_undefine_finish(VhgDomain *dom, GAsyncResult *result,
                                    GError **error);

VhgDomainInfo *vhg_domain_get_info(VhgDomain *dom, GCancellable *cancellable,
                                   GError **error);
void vhg_domain_get_info_async(VhgDomain *dom, GCancellable *cancellable,
                               GAsyncReadyCallback callback,
                               gpointer user_data);
VhgDomainInfo *vhg_domain_get_info_finish(VhgDomain *dom, GAsyncResult *result,
                                          GError **error);

VhgConfigDomain *vhg_domain_get_config(VhgDomain *dom, guint flags,
                                       GCancellable *cancellable,
                                       GError **error);
void vhg_domain_get_config_async(VhgDomain *dom, guint flags,
                                 GCancellable *cancellable,
                                 GAsyncReadyCallback callback,
                                 gpointer user_data);
VhgConfigDomain *vhg_domain_get_config_finish(VhgDomain *dom,
                                              GAsyncResult *result,
                                              GError **error);
gboolean vhg_domain_set_config(VhgDomain *dom, VhgConfigDomain *conf,
                               GCancellable *cancellable, GError **error);
void vhg_domain_set_config_async(VhgDomain *dom, VhgConfigDomain *conf,
                                 GCancellable *cancellable,
                                 GAsyncReadyCallback callback,
                                 gpointer user_data);
gboolean vhg_domain_set_config_finish(VhgDomain *dom, GAsyncResult *result,
                                      GError **error);

GIOStream *vhg_domain_open_console(VhgDomain *dom, const char *devname,
                                   guint flags, GCancellable *cancellable,
                                   GError **error);
void vhg_domain_open_console_async(VhgDomain *dom, const char *devname,
                                   guint flags, GCancellable *cancellable,
                                   GAsyncReadyCallback callback,
                                   gpointer user_data);
GIOStream *vhg_domain_open_console_finish(VhgDomain *dom, GAsyncResult *result,
                                          GError **error);

G_END_DECLS
