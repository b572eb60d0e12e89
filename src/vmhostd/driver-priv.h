/*
 * The driver's insides, shared by driver.c (list, lookups, define,
 * events), driver-process.c (vmhost processes and their QMP) and
 * driver-store.c (config and run dir files).
 *
 * Locks, always taken in this order and never the other way:
 *   obj->job   serialises lifecycle calls on one domain; held across slow
 *              work (a vmhost starting), so nothing that lists or looks up
 *              ever takes it;
 *   drv->lock  guards the table and every field of every VhDomainObj
 *              below "under drv->lock"; held only for memory updates,
 *              never across I/O or a wait.
 */
#pragma once

#include <sys/types.h>

#include "driver.h"
#include "qmp-client.h"

typedef struct {
    gatomicrefcount ref;
    GMutex job;
    /* under drv->lock: */
    char *name;
    guint8 uuid[VH_DOMAIN_UUID_LEN];
    VhDomainDef *def;  /* the persistent config (or the transient one) */
    VhDomainDef *live; /* while active: what runs, with its pty paths */
    bool persistent;
    bool autostart;
    bool removed; /* no longer in the table: a holder must look again */
    bool active;
    bool stopping; /* a stop is being handled: exit events are ignored */
    bool got_shutdown;
    int id;
    VhDomainState state;
    int reason;
    pid_t pid;
    int pidfd;
    GSource *exit_source;
    VhQmpClient *qmp;
    GWeakRef console;
    /* a migration job (driver-migrate.c), under drv->lock */
    int mig_op;           /* 0 none, VH_JOB_OP_MIGRATION_IN / _OUT */
    gint64 mig_started;   /* g_get_monotonic_time() at its start */
    bool mig_was_running; /* source: resume it if the migration fails */
    guint mig_port;       /* destination: the port it listens on */
    goffset mig_log_from; /* destination: its log's size at prepare */
    guint mig_events;     /* MIGRATION events seen (drv->mig_cond) */
} VhDomainObj;

struct _VhDriver {
    GMutex lock;
    GCond mig_cond;      /* with lock: a MIGRATION event arrived (mig_events) */
    GHashTable *domains; /* name -> VhDomainObj (ref) */
    int next_id;
    char *config_dir;
    char *autostart_dir;
    char *run_dir;
    char *vmhost_binary;
    char *chardev_tls_dir;
    bool chardev_tls_verify;
    char *migrate_tls_dir;
    bool migrate_tls_verify;
    char **migrate_tls_allowed_dn;      /* NULL: no tls-authz */
    char *migrate_tls_allowed_dn_where; /* "FILE:LINE" */
    guint migration_port_min, migration_port_max;
    GHashTable *mig_ports; /* ports prepared migrations hold; drv->lock */
    GMainContext *ctx;

    GMutex ev_lock;
    GArray *event_funcs; /* EventFunc */
    guint next_event_id;
};

/* libvirt's state reasons that vmhost gives. */
enum {
    VH_REASON_UNKNOWN = 0,
    VH_RUNNING_BOOTED = 1,
    VH_RUNNING_UNPAUSED = 5,
    VH_PAUSED_USER = 1,
    VH_PAUSED_MIGRATION = 2,
    VH_RUNNING_MIGRATED = 2,
    VH_RUNNING_MIGRATION_CANCELED = 6,
    VH_SHUTOFF_MIGRATED = 4,
    VH_SHUTOFF_SHUTDOWN = 1,
    VH_SHUTOFF_DESTROYED = 2,
    VH_SHUTOFF_CRASHED = 3,
    VH_SHUTOFF_FAILED = 6,
};

/* libvirt's detail codes. */
enum {
    VH_EVENT_DEFINED_ADDED = 0,
    VH_EVENT_DEFINED_UPDATED = 1,
    VH_EVENT_UNDEFINED_REMOVED = 0,
    VH_EVENT_STARTED_BOOTED = 0,
    VH_EVENT_STARTED_MIGRATED = 1,
    VH_EVENT_SUSPENDED_MIGRATED = 1,
    VH_EVENT_RESUMED_MIGRATED = 1,
    VH_EVENT_STOPPED_MIGRATED = 3,
    VH_EVENT_SUSPENDED_PAUSED = 0,
    VH_EVENT_RESUMED_UNPAUSED = 0,
    VH_EVENT_STOPPED_SHUTDOWN = 0,
    VH_EVENT_STOPPED_DESTROYED = 1,
    VH_EVENT_STOPPED_CRASHED = 2,
    VH_EVENT_STOPPED_FAILED = 5,
    VH_EVENT_SHUTDOWN_FINISHED = 0,
};

/* driver.c */
VhDomainObj *vh_domain_obj_new(const VhDomainDef *def);
VhDomainObj *vh_domain_obj_ref(VhDomainObj *obj);
void vh_domain_obj_unref(VhDomainObj *obj);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VhDomainObj, vh_domain_obj_unref)
/* Under drv->lock. */
VhDomainRef *vh_domain_obj_make_ref(VhDomainObj *obj);
/* Under drv->lock: drop a transient domain that is no longer active. */
void vh_driver_forget_if_transient(VhDriver *drv, VhDomainObj *obj);
/* Not under drv->lock; @dom (transfer full). */
void vh_driver_emit(VhDriver *drv, VhDomainRef *dom, VhDomainEventType ev,
                    int detail);

/* virDomainJobOperation */
enum {
    VH_JOB_OP_MIGRATION_IN = 4,
    VH_JOB_OP_MIGRATION_OUT = 5,
};

/* driver.c, for driver-migrate.c: the lookups and job locks above. */
VhDomainObj *vh_driver_get_obj(VhDriver *drv, const guint8 *uuid,
                               GError **errp);
VhDomainObj *vh_driver_job_obj(VhDriver *drv, const guint8 *uuid,
                               GError **errp);
void vh_driver_job_obj_end(VhDomainObj *obj);
/* Under drv->lock: the domain named @name (transfer none) or NULL; a new
 * one for @def with its job held (transfer full), or NULL with DOM_EXIST;
 * and the removal of one from the table. */
VhDomainObj *vh_driver_find_name_locked(VhDriver *drv, const char *name);
VhDomainObj *vh_driver_insert_locked(VhDriver *drv, const VhDomainDef *def,
                                     GError **errp);
void vh_driver_remove_locked(VhDriver *drv, VhDomainObj *obj);

/* driver-process.c; all with obj->job held. */
bool vh_driver_process_start(VhDriver *drv, VhDomainObj *obj, bool paused,
                             GError **errp);
/* An incoming migration's machine: @def's vmhost with -S -incoming defer
 * (state paused/migration, event STARTED_MIGRATED). */
bool vh_driver_process_start_incoming(VhDriver *drv, VhDomainObj *obj,
                                      const VhDomainDef *def, GError **errp);
bool vh_driver_process_destroy(VhDriver *drv, VhDomainObj *obj, GError **errp);
/* Stop it as destroy does, reporting shut off @reason with STOPPED
 * @detail (migrated, failed). */
bool vh_driver_process_stop(VhDriver *drv, VhDomainObj *obj, int reason,
                            int detail, GError **errp);
/* The machine's QMP connection (transfer full), or NULL with
 * OPERATION_INVALID when it is not running. */
VhQmpClient *vh_driver_process_get_qmp(VhDriver *drv, VhDomainObj *obj,
                                       GError **errp);
/* Write the run dir's status file again (state changed). */
bool vh_driver_process_save_status(VhDriver *drv, VhDomainObj *obj,
                                   GError **errp);
/* QMP @cmd on a running domain, without arguments. */
bool vh_driver_process_qmp(VhDriver *drv, VhDomainObj *obj, const char *cmd,
                           GError **errp);
/* At vh_driver_new(): take over a machine from a status file (no job
 * needed: nobody else sees @obj yet). False when it is gone. */
bool vh_driver_process_reconnect(VhDriver *drv, VhDomainObj *obj, pid_t pid,
                                 const char *qmp_path);
/* At vh_driver_new(), after the reconnects: a RUN_DIR/NAME.pid without a
 * status file is a machine whose start the last daemon did not finish;
 * stop it and remove its files. */
void vh_driver_process_reap_orphans(VhDriver *drv);
/* At vh_driver_free(): stop watching (machines keep running). */
void vh_driver_process_detach(VhDriver *drv, VhDomainObj *obj);
guint64 vh_driver_process_cpu_time(pid_t pid);

/* driver-store.c */
char *vh_store_run_path(VhDriver *drv, const char *name, const char *ext);
bool vh_store_write_atomic(const char *path, const char *data, gssize len,
                           GError **errp);
bool vh_store_save_config(VhDriver *drv, const VhDomainDef *def, GError **errp);
bool vh_store_delete_config(VhDriver *drv, const char *name, GError **errp);
bool vh_store_set_autostart(VhDriver *drv, const char *name, bool on,
                            GError **errp);
/* Every valid CONFIG_DIR/NAME.xml as a new obj (errors are logged). */
GPtrArray *vh_store_load_configs(VhDriver *drv);

typedef struct {
    char *name;
    pid_t pid;
    int id;
    int state;
    int reason;
    char *qmp;
    VhDomainDef *live;
} VhStoreStatus;
void vh_store_status_free(VhStoreStatus *st);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VhStoreStatus, vh_store_status_free)
/* Under drv->lock is not needed: @obj's fields are passed in. */
bool vh_store_save_status(VhDriver *drv, const VhStoreStatus *st,
                          GError **errp);
/* Every RUN_DIR/NAME.xml (unreadable ones are logged and removed). */
GPtrArray *vh_store_load_statuses(VhDriver *drv);
void vh_store_remove_run_files(VhDriver *drv, const char *name);
