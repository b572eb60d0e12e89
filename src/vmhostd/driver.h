/*
 * VhDriver: vmhostd's domain driver. It keeps the domains (persistent
 * configs in the config dir, one XML file each, written atomically; the
 * status of each active domain in the run dir) and runs each active domain
 * as a `vmhost` process driven over a private QMP socket.
 *
 *     VhDriverConfig cfg = { .config_dir = ..., .run_dir = ..., ... };
 *     g_autoptr(VhDriver) drv = vh_driver_new(&cfg, errp);   // reconnects
 *     vh_driver_add_event_func(drv, on_event, server);        // to running
 *     vh_driver_autostart(drv);                               // machines
 *     ...
 *     g_autoptr(VhDomainRef) dom = vh_driver_lookup_by_name(drv, "vm1", errp);
 *     if (!dom || !vh_driver_start(drv, dom->uuid, 0, errp)) ...
 *
 * Threads: every function here may be called from any thread at the same
 * time, and blocks only the calling thread (vmhostd runs calls in worker
 * threads, as libvirtd does): a slow start of one domain holds that
 * domain's own lock, never the list's, so `virsh list` on another
 * connection is not delayed. The driver's own work (QMP events, process
 * exits, reconnects) runs on the GMainContext given at creation. So
 * suspend/resume/shutdown, which wait for a QMP reply read on that
 * context, must not be called on the context's own thread while it is
 * not iterating; vh_driver_new(), vh_driver_autostart() and starts need
 * no running loop (their QMP talk is blocking until the machine is up).
 * vh_driver_free() leaves the machines running (a new driver finds them);
 * call it once no other thread iterates the context.
 *
 * Files: CONFIG_DIR/NAME.xml (inactive XML, replaced atomically),
 * CONFIG_DIR/autostart/NAME.xml -> CONFIG_DIR/NAME.xml; per active
 * domain RUN_DIR/NAME.xml (status: a <domstatus state= reason= id= pid=
 * qmp=> line, then the live XML with the pty paths), NAME.pid (vmhost's
 * -pidfile), NAME.qmp (its QMP socket) and NAME.log (its -D log, kept).
 * A config file that does not parse is skipped with a warning naming it.
 *
 * Errors are VH_VIR_ERROR codes (vmhost/util/vir-error.h) with libvirt's
 * meanings and wording: NO_DOMAIN ("Domain not found: no domain with
 * matching name 'x'"), OPERATION_INVALID ("Requested operation is not
 * valid: domain is not running"), DOM_EXIST, XML_ERROR,
 * CONFIG_UNSUPPORTED, OPERATION_FAILED, INTERNAL_ERROR.
 *
 * Machines are not the daemon's children in the lifetime sense: they run
 * in their own session (setsid, -daemonize), so a daemon killed with
 * SIGKILL leaves them running, and the next vh_driver_new() finds them
 * again from the run dir (pid + QMP socket + console), with their state.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>

#include "vmhost/domain/domain-def.h"
#include "vmhost/io/channel.h"

G_BEGIN_DECLS

typedef struct _VhDriver VhDriver;

typedef struct {
    const char *config_dir; /* persistent XML: CONFIG_DIR/NAME.xml, and
                               CONFIG_DIR/autostart/NAME.xml symlinks */
    const char *run_dir;    /* RUN_DIR/NAME.{xml,pid,qmp,log} of active ones */
    const char *vmhost_binary;             /* default "vmhost" from PATH */
    const char *chardev_tls_x509_cert_dir; /* qemu.conf's keys */
    bool chardev_tls;
    bool chardev_tls_x509_verify;
    const char *migrate_tls_x509_cert_dir;
    bool migrate_tls_x509_verify;
    /* NULL: any migration certificate from the CA; else the globs an
     * incoming TLS migration's client DN must match ("FILE:LINE" where
     * the list was set, for messages) */
    const char *const *migrate_tls_allowed_dn_list;
    const char *migrate_tls_allowed_dn_list_where;
    guint migration_port_min, migration_port_max;
    GMainContext *context; /* NULL: the global default context */
} VhDriverConfig;

/* A domain's identity, as the protocol's remote_nonnull_domain carries it. */
typedef struct {
    char *name;
    guint8 uuid[VH_DOMAIN_UUID_LEN];
    int id; /* -1 when inactive */
} VhDomainRef;

void vh_domain_ref_free(VhDomainRef *ref);
VhDomainRef *vh_domain_ref_copy(const VhDomainRef *ref);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VhDomainRef, vh_domain_ref_free)

/* libvirt's virDomainState and the reasons vmhost gives. */
typedef enum {
    VH_DOMAIN_NOSTATE = 0,
    VH_DOMAIN_RUNNING = 1,
    VH_DOMAIN_BLOCKED = 2,
    VH_DOMAIN_PAUSED = 3,
    VH_DOMAIN_SHUTDOWN = 4,
    VH_DOMAIN_SHUTOFF = 5,
    VH_DOMAIN_CRASHED = 6,
    VH_DOMAIN_PMSUSPENDED = 7,
} VhDomainState;

typedef struct {
    VhDomainState state;
    guint64 max_mem_kib;
    guint64 memory_kib;
    guint nr_virt_cpu;
    guint64 cpu_time_ns; /* the vmhost process's CPU time */
} VhDomainInfo;

/* libvirt's virDomainEventType and the detail codes vmhost emits. */
typedef enum {
    VH_DOMAIN_EVENT_DEFINED = 0,
    VH_DOMAIN_EVENT_UNDEFINED = 1,
    VH_DOMAIN_EVENT_STARTED = 2,
    VH_DOMAIN_EVENT_SUSPENDED = 3,
    VH_DOMAIN_EVENT_RESUMED = 4,
    VH_DOMAIN_EVENT_STOPPED = 5,
    VH_DOMAIN_EVENT_SHUTDOWN = 6,
} VhDomainEventType;

/*
 * Called for every lifecycle change, from any thread; @dom is transfer
 * none. @detail is libvirt's: DEFINED_ADDED 0 / UPDATED 1, UNDEFINED_REMOVED
 * 0, STARTED_BOOTED 0 / MIGRATED 1 / RESTORED 2, SUSPENDED_PAUSED 0 /
 * MIGRATED 1, RESUMED_UNPAUSED 0 / MIGRATED 1, STOPPED_SHUTDOWN 0 /
 * DESTROYED 1 / CRASHED 2 / MIGRATED 3 / FAILED 5, SHUTDOWN_FINISHED 0.
 */
typedef void (*VhDriverEventFunc)(const VhDomainRef *dom,
                                  VhDomainEventType event, int detail,
                                  gpointer opaque);

G_GNUC_WARN_UNUSED_RESULT
VhDriver *vh_driver_new(const VhDriverConfig *cfg, GError **errp);
void vh_driver_free(VhDriver *drv);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VhDriver, vh_driver_free)

/* Start every autostart domain that is not running (errors are logged). */
void vh_driver_autostart(VhDriver *drv);

guint vh_driver_add_event_func(VhDriver *drv, VhDriverEventFunc func,
                               gpointer opaque);
void vh_driver_remove_event_func(VhDriver *drv, guint id);

/*
 * Domains matching @flags (libvirt's VIR_CONNECT_LIST_DOMAINS_* bits:
 * ACTIVE 1, INACTIVE 2, PERSISTENT 4, TRANSIENT 8, RUNNING 16, PAUSED 32,
 * SHUTOFF 64, OTHER 128, AUTOSTART 1024, NO_AUTOSTART 2048; 0 = all; other bits are ignored).
 * (transfer full) of VhDomainRef.
 */
GPtrArray *vh_driver_list_domains(VhDriver *drv, guint flags);
guint vh_driver_num_domains(VhDriver *drv, bool active);

VhDomainRef *vh_driver_lookup_by_name(VhDriver *drv, const char *name,
                                      GError **errp);
VhDomainRef *vh_driver_lookup_by_uuid(VhDriver *drv,
                                      const guint8 uuid[VH_DOMAIN_UUID_LEN],
                                      GError **errp);
VhDomainRef *vh_driver_lookup_by_id(VhDriver *drv, int id, GError **errp);

/* Persistent define (new or update), undefine (a running domain becomes
 * transient), and a transient create that starts at once. */
VhDomainRef *vh_driver_define_xml(VhDriver *drv, const char *xml, guint flags,
                                  GError **errp);
bool vh_driver_undefine(VhDriver *drv, const guint8 *uuid, guint flags,
                        GError **errp);
VhDomainRef *vh_driver_create_xml(VhDriver *drv, const char *xml, guint flags,
                                  GError **errp);

/* Lifecycle. start: flags VIR_DOMAIN_START_PAUSED 1 (events STARTED_BOOTED
 * then SUSPENDED_PAUSED). shutdown is graceful (system_powerdown; returns
 * once requested, as libvirt's does; then SHUTDOWN_FINISHED and, when the
 * process has exited, STOPPED_SHUTDOWN; OPERATION_UNSUPPORTED if vmhost
 * lacks the command). destroy: SIGTERM, SIGKILL after 5 s. Suspending a
 * paused or resuming a running domain is a no-op, as in libvirt. A
 * define without <uuid> for a name in use is DOM_EXIST, as in libvirt. */
bool vh_driver_start(VhDriver *drv, const guint8 *uuid, guint flags,
                     GError **errp);
bool vh_driver_shutdown(VhDriver *drv, const guint8 *uuid, guint flags,
                        GError **errp);
bool vh_driver_destroy(VhDriver *drv, const guint8 *uuid, guint flags,
                       GError **errp);
bool vh_driver_suspend(VhDriver *drv, const guint8 *uuid, GError **errp);
bool vh_driver_resume(VhDriver *drv, const guint8 *uuid, GError **errp);

bool vh_driver_get_info(VhDriver *drv, const guint8 *uuid, VhDomainInfo *info,
                        GError **errp);
/* @reason (may be NULL) is libvirt's: running booted 1 / unpaused 5,
 * paused unknown 0 / user 1, shutdown unknown 0, shutoff unknown 0 /
 * shutdown 1 / destroyed 2 / crashed 3 / failed 6. */
bool vh_driver_get_state(VhDriver *drv, const guint8 *uuid, int *state,
                         int *reason, GError **errp);
/* flags: VH_DOMAIN_XML_* (transfer full) */
char *vh_driver_get_xml(VhDriver *drv, const guint8 *uuid, guint flags,
                        GError **errp);
bool vh_driver_get_autostart(VhDriver *drv, const guint8 *uuid, bool *on,
                             GError **errp);
bool vh_driver_set_autostart(VhDriver *drv, const guint8 *uuid, bool on,
                             GError **errp);
bool vh_driver_is_active(VhDriver *drv, const guint8 *uuid, bool *active,
                         GError **errp);
bool vh_driver_is_persistent(VhDriver *drv, const guint8 *uuid,
                             bool *persistent, GError **errp);

/*
 * A connected channel to the domain's console (@dev_name NULL: the first
 * serial port; else "serial0", "console0", ...), a pty that must be type
 * pty as in libvirt. One user at a time: a second open fails with
 * OPERATION_FAILED ("Active console session exists for this domain")
 * unless @flags has VIR_DOMAIN_CONSOLE_FORCE (1), which ends the old
 * channel (its next read returns 0, EOF; a watch on it fires). A closed
 * or finalized old channel does not count. The channel is a
 * VhChannelFile on the pty, blocking until the caller says otherwise.
 * (transfer full)
 */
VhChannel *vh_driver_open_console(VhDriver *drv, const guint8 *uuid,
                                  const char *dev_name, guint flags,
                                  GError **errp);

G_END_DECLS
