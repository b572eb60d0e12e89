/*
 * vmhost processes: start one per active domain with -daemonize (its
 * parent exits 0 only when the machine is ready, and the machine runs in
 * its own session, so it outlives the daemon), talk to it over its
 * private QMP socket, watch for its exit with a pidfd (it is not our
 * child), and stop it with SIGTERM, then SIGKILL after a bounded wait.
 */
#define G_LOG_DOMAIN "vmhostd"

#include <errno.h>
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "driver-priv.h"

#define QMP_TIMEOUT_MS     30000
#define CONNECT_TIMEOUT_MS 10000
#define TERM_WAIT_MS       5000
#define KILL_WAIT_MS       5000

static int pidfd_open_compat(pid_t pid)
{
#ifdef SYS_pidfd_open
    return (int)syscall(SYS_pidfd_open, pid, 0);
#else
    errno = ENOSYS;
    return -1;
#endif
}

/* The fields of /proc/PID/stat after "(comm)", or NULL when it is gone. */
static GStrv proc_stat_fields(pid_t pid)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/stat", (int)pid);
    g_autofree char *text = NULL;
    const char *p;

    if (!g_file_get_contents(path, &text, NULL, NULL)) {
        return NULL;
    }
    p = strrchr(text, ')');
    if (!p || p[1] != ' ') {
        return NULL;
    }
    return g_strsplit(p + 2, " ", -1);
}

/* Running, not a zombie waiting for a reaper. */
static bool pid_alive(pid_t pid)
{
    g_auto(GStrv) f = proc_stat_fields(pid);

    return f && f[0] && f[0][0] != 'Z' && f[0][0] != 'X';
}

/* @pid is alive and is the vmhost that serves @qmp_path (a recycled pid
 * is some other program). */
static bool pid_is_vmhost(pid_t pid, const char *qmp_path)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/cmdline", (int)pid);
    g_autofree char *cmdline = NULL;
    gsize len = 0;

    if (!pid_alive(pid) || !g_file_get_contents(path, &cmdline, &len, NULL)) {
        return false;
    }
    for (gsize off = 0; off < len; off += strlen(cmdline + off) + 1) {
        if (strstr(cmdline + off, qmp_path)) {
            return true;
        }
    }
    return false;
}

guint64 vh_driver_process_cpu_time(pid_t pid)
{
    /*
     * The process's CPU clock: utime + stime of all its threads, as
     * stat(5)'s fields 14 and 15 but in ns, for one syscall and no
     * allocation; reading /proc/PID/stat took seven syscalls and a
     * g_strsplit() on every GET_INFO. The clock id is the kernel's ABI for
     * a process clock (CPUCLOCK_SCHED of pid, see clock_getcpuclockid(3)),
     * built here because glibc's clock_getcpuclockid() spends a
     * clock_getres() checking it; a gone pid fails clock_gettime() alike.
     */
    clockid_t clk = (clockid_t)((~(unsigned)pid << 3) | 2u);
    struct timespec ts;

    if (clock_gettime(clk, &ts) != 0) {
        return 0;
    }
    return (guint64)ts.tv_sec * G_GUINT64_CONSTANT(1000000000) +
           (guint64)ts.tv_nsec;
}

static bool wait_gone(pid_t pid, int pidfd, guint timeout_ms)
{
    gint64 deadline = g_get_monotonic_time() + timeout_ms * 1000ll;

    while (pid_alive(pid)) {
        gint64 left = deadline - g_get_monotonic_time();

        if (left <= 0) {
            return false;
        }
        if (pidfd >= 0) {
            struct pollfd p = {.fd = pidfd, .events = POLLIN};

            poll(&p, 1, (int)MIN(left / 1000 + 1, 100));
        } else {
            g_usleep(MIN(left, 10000));
        }
    }
    return true;
}

/* SIGTERM (vmhost closes its chardevs and exits 0), then SIGKILL. */
static bool kill_process(pid_t pid, int pidfd)
{
    kill(pid, SIGTERM);
    if (wait_gone(pid, pidfd, TERM_WAIT_MS)) {
        return true;
    }
    g_warning("vmhost pid %d ignored SIGTERM for %d ms; sending SIGKILL",
              (int)pid, TERM_WAIT_MS);
    kill(pid, SIGKILL);
    return wait_gone(pid, pidfd, KILL_WAIT_MS);
}

typedef struct {
    VhDriver *drv;
    VhDomainObj *obj;
    pid_t pid;
} Watch;

static void watch_free(Watch *w)
{
    vh_domain_obj_unref(w->obj);
    g_free(w);
}

static Watch *watch_new(VhDriver *drv, VhDomainObj *obj, pid_t pid)
{
    Watch *w = g_new(Watch, 1);

    w->drv = drv;
    w->obj = vh_domain_obj_ref(obj);
    w->pid = pid;
    return w;
}

/* The machine is gone: forget its process and run files, then say so. */
static void process_cleanup(VhDriver *drv, VhDomainObj *obj, int reason,
                            int detail)
{
    g_autoptr(VhQmpClient) qmp = NULL;
    GSource *src;
    int pidfd;
    VhDomainRef *ref;

    g_mutex_lock(&drv->lock);
    qmp = g_steal_pointer(&obj->qmp);
    src = g_steal_pointer(&obj->exit_source);
    pidfd = obj->pidfd;
    obj->pidfd = -1;
    g_mutex_unlock(&drv->lock);

    if (qmp) {
        vh_qmp_client_close(qmp);
    }
    if (src) {
        g_source_destroy(src);
        g_source_unref(src);
    }
    if (pidfd >= 0) {
        close(pidfd);
    }
    vh_store_remove_run_files(drv, obj->name);

    g_mutex_lock(&drv->lock);
    obj->active = false;
    obj->stopping = false;
    obj->got_shutdown = false;
    obj->pid = 0;
    obj->id = -1;
    if (obj->mig_port) {
        g_hash_table_remove(drv->mig_ports, GUINT_TO_POINTER(obj->mig_port));
        obj->mig_port = 0;
    }
    obj->mig_op = 0;
    obj->state = VH_DOMAIN_SHUTOFF;
    obj->reason = reason;
    g_clear_pointer(&obj->live, vh_domain_def_free);
    ref = vh_domain_obj_make_ref(obj);
    vh_driver_forget_if_transient(drv, obj);
    g_mutex_unlock(&drv->lock);
    vh_driver_emit(drv, ref, VH_DOMAIN_EVENT_STOPPED, detail);
}

static void handle_exit(VhDriver *drv, VhDomainObj *obj, pid_t pid)
{
    g_autoptr(VhQmpClient) qmp = NULL;
    bool shutdown;

    /* A SHUTDOWN written just before the exit may still be unread. */
    g_mutex_lock(&drv->lock);
    qmp = obj->qmp ? vh_qmp_client_ref(obj->qmp) : NULL;
    g_mutex_unlock(&drv->lock);
    if (qmp) {
        vh_qmp_client_drain(qmp);
    }
    g_mutex_lock(&drv->lock);
    if (!obj->active || obj->pid != pid || obj->stopping) {
        g_mutex_unlock(&drv->lock);
        return;
    }
    obj->stopping = true;
    shutdown = obj->got_shutdown;
    g_mutex_unlock(&drv->lock);
    if (!shutdown) {
        g_warning("domain %s: vmhost pid %d ended without a shutdown; "
                  "reported as crashed",
                  obj->name, (int)pid);
    }
    process_cleanup(
        drv, obj, shutdown ? VH_SHUTOFF_SHUTDOWN : VH_SHUTOFF_CRASHED,
        shutdown ? VH_EVENT_STOPPED_SHUTDOWN : VH_EVENT_STOPPED_CRASHED);
}

static gboolean on_pidfd(gint fd, GIOCondition cond, gpointer opaque)
{
    Watch *w = opaque;

    handle_exit(w->drv, w->obj, w->pid);
    return G_SOURCE_REMOVE;
}

static gboolean on_poll_pid(gpointer opaque)
{
    Watch *w = opaque;

    if (pid_alive(w->pid)) {
        return G_SOURCE_CONTINUE;
    }
    handle_exit(w->drv, w->obj, w->pid);
    return G_SOURCE_REMOVE;
}

static void on_qmp_event(VhQmpClient *c, const char *event, JsonObject *data,
                         gpointer opaque)
{
    Watch *w = opaque;
    VhDomainObj *obj = w->obj;
    VhDomainEventType ev = 0;
    int detail = -1;
    VhDomainRef *ref = NULL;

    g_mutex_lock(&w->drv->lock);
    if (obj->qmp != c || !obj->active || obj->stopping) {
        g_mutex_unlock(&w->drv->lock);
        return;
    }
    if (g_str_equal(event, "MIGRATION")) {
        /* wakes driver-migrate.c's wait for the end of a migration */
        obj->mig_events++;
        g_cond_broadcast(&w->drv->mig_cond);
        g_mutex_unlock(&w->drv->lock);
        return;
    }
    if (obj->mig_op &&
        (g_str_equal(event, "STOP") || g_str_equal(event, "RESUME"))) {
        /* driver-migrate.c sets the state and its event (MIGRATED) */
        g_mutex_unlock(&w->drv->lock);
        return;
    }
    if (g_str_equal(event, "STOP") && obj->state == VH_DOMAIN_RUNNING) {
        obj->state = VH_DOMAIN_PAUSED;
        obj->reason = VH_PAUSED_USER;
        ev = VH_DOMAIN_EVENT_SUSPENDED;
        detail = VH_EVENT_SUSPENDED_PAUSED;
    } else if (g_str_equal(event, "RESUME") && obj->state == VH_DOMAIN_PAUSED) {
        obj->state = VH_DOMAIN_RUNNING;
        obj->reason = VH_RUNNING_UNPAUSED;
        ev = VH_DOMAIN_EVENT_RESUMED;
        detail = VH_EVENT_RESUMED_UNPAUSED;
    } else if (g_str_equal(event, "SHUTDOWN") && !obj->got_shutdown) {
        obj->got_shutdown = true;
        obj->state = VH_DOMAIN_SHUTDOWN;
        obj->reason = VH_REASON_UNKNOWN;
        ev = VH_DOMAIN_EVENT_SHUTDOWN;
        detail = VH_EVENT_SHUTDOWN_FINISHED;
    }
    if (detail >= 0) {
        ref = vh_domain_obj_make_ref(obj);
    }
    g_mutex_unlock(&w->drv->lock);
    if (ref) {
        vh_driver_emit(w->drv, ref, ev, detail);
    }
}

/* Watch the process and the QMP events on the driver's context. */
static void attach_watches(VhDriver *drv, VhDomainObj *obj)
{
    GSource *src;

    g_mutex_lock(&drv->lock);
    if (obj->pidfd >= 0) {
        src = g_unix_fd_source_new(obj->pidfd, G_IO_IN);
        /* after the QMP source, which may hold the last events */
        g_source_set_priority(src, G_PRIORITY_DEFAULT_IDLE);
        g_source_set_callback(src, G_SOURCE_FUNC(on_pidfd),
                              watch_new(drv, obj, obj->pid),
                              (GDestroyNotify)watch_free);
    } else {
        src = g_timeout_source_new(100);
        g_source_set_priority(src, G_PRIORITY_DEFAULT_IDLE);
        g_source_set_callback(src, on_poll_pid, watch_new(drv, obj, obj->pid),
                              (GDestroyNotify)watch_free);
    }
    obj->exit_source = src;
    g_source_attach(src, drv->ctx);
    vh_qmp_client_attach(obj->qmp, drv->ctx, on_qmp_event, NULL,
                         watch_new(drv, obj, obj->pid),
                         (GDestroyNotify)watch_free);
    g_mutex_unlock(&drv->lock);
}

/* The ids of the -chardev pty options, in command-line order. */
static GPtrArray *pty_chardev_ids(GStrv argv)
{
    GPtrArray *ids = g_ptr_array_new_with_free_func(g_free);

    for (guint i = 0; argv[i] && argv[i + 1]; i++) {
        g_auto(GStrv) parts = NULL;

        if (!g_str_equal(argv[i], "-chardev") ||
            !g_str_has_prefix(argv[i + 1], "pty,")) {
            continue;
        }
        parts = g_strsplit(argv[i + 1], ",", -1);
        for (guint j = 0; parts[j]; j++) {
            if (g_str_has_prefix(parts[j], "id=")) {
                g_ptr_array_add(ids, g_strdup(parts[j] + 3));
            }
        }
    }
    return ids;
}

/* query-chardev's "pty:/dev/pts/N" for each pty serial port, into @live
 * (lib/domain names port N's chardev "charserialN", as libvirt does). */
static bool learn_pty_paths(VhQmpClient *qmp, GStrv argv, VhDomainDef *live,
                            GError **errp)
{
    g_autoptr(GPtrArray) ids = pty_chardev_ids(argv);
    g_autoptr(JsonNode) ret = NULL;
    JsonArray *list;

    if (ids->len == 0) {
        return true;
    }
    ret = vh_qmp_client_execute_sync(qmp, "query-chardev", NULL, QMP_TIMEOUT_MS,
                                     errp);
    if (!ret || !JSON_NODE_HOLDS_ARRAY(ret)) {
        return false;
    }
    list = json_node_get_array(ret);
    for (guint i = 0; i < json_array_get_length(list); i++) {
        JsonObject *o = json_array_get_object_element(list, i);
        const char *label =
            json_object_get_string_member_with_default(o, "label", "");
        const char *file =
            json_object_get_string_member_with_default(o, "filename", "");
        int port;

        if (g_ptr_array_find_with_equal_func(ids, label, g_str_equal, NULL) &&
            sscanf(label, "charserial%d", &port) == 1 &&
            g_str_has_prefix(file, "pty:")) {
            vh_domain_def_set_pty_path(live, port, file + 4);
        }
    }
    return true;
}

static bool spawn_vmhost(VhDriver *drv, GStrv argv, pid_t *pid,
                         const char *pidfile, GError **errp)
{
    g_autofree char *err_text = NULL;
    g_autofree char *pid_text = NULL;
    g_autoptr(GError) err = NULL;
    int status = 0;
    GSpawnFlags flags = G_SPAWN_STDOUT_TO_DEV_NULL;

    if (!strchr(argv[0], '/')) {
        flags |= G_SPAWN_SEARCH_PATH;
    }
    if (!g_spawn_sync(NULL, argv, NULL, flags, NULL, NULL, NULL, &err_text,
                      &status, &err)) {
        g_set_error(errp, VH_VIR_ERROR, VH_VIR_ERR_OPERATION_FAILED,
                    "operation failed: cannot run %s: %s", argv[0],
                    err->message);
        return false;
    }
    if (!g_spawn_check_wait_status(status, NULL)) {
        g_set_error(errp, VH_VIR_ERROR, VH_VIR_ERR_OPERATION_FAILED,
                    "operation failed: vmhost exited while starting: %s",
                    g_strstrip(err_text));
        return false;
    }
    if (!g_file_get_contents(pidfile, &pid_text, NULL, &err) ||
        atoi(pid_text) <= 0) {
        g_set_error(errp, VH_VIR_ERROR, VH_VIR_ERR_OPERATION_FAILED,
                    "operation failed: vmhost wrote no pid to %s", pidfile);
        return false;
    }
    *pid = atoi(pid_text);
    return true;
}

typedef struct {
    char *qmp;
    char *pidfile;
    char *logfile;
} RunPaths;

static void run_paths_clear(RunPaths *p)
{
    g_free(p->qmp);
    g_free(p->pidfile);
    g_free(p->logfile);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(RunPaths, run_paths_clear)

/* @incoming: the def to run with -incoming defer, or NULL. */
static bool process_start(VhDriver *drv, VhDomainObj *obj, bool paused,
                          const VhDomainDef *incoming, GError **errp)
{
    g_autoptr(VhDomainDef) live = NULL;
    g_auto(RunPaths) p = {0};
    g_auto(GStrv) argv = NULL;
    g_autoptr(VhQmpClient) qmp = NULL;
    g_autoptr(GError) err = NULL;
    VhDomainArgvOptions opts = {0};
    VhStoreStatus st = {0};
    pid_t pid = 0;
    int pidfd;
    VhDomainRef *ref;

    g_mutex_lock(&drv->lock);
    if (obj->active) {
        g_mutex_unlock(&drv->lock);
        g_set_error_literal(errp, VH_VIR_ERROR, VH_VIR_ERR_OPERATION_INVALID,
                            "Requested operation is not valid: domain is "
                            "already running");
        return false;
    }
    live = vh_domain_def_copy(incoming ? incoming : obj->def);
    g_mutex_unlock(&drv->lock);

    p.qmp = vh_store_run_path(drv, obj->name, "qmp");
    p.pidfile = vh_store_run_path(drv, obj->name, "pid");
    p.logfile = vh_store_run_path(drv, obj->name, "log");
    vh_store_remove_run_files(drv, obj->name);
    opts.vmhost_binary = drv->vmhost_binary;
    opts.qmp_socket = p.qmp;
    opts.pidfile = p.pidfile;
    opts.logfile = p.logfile;
    opts.chardev_tls_dir = drv->chardev_tls_dir;
    opts.chardev_tls_verify = drv->chardev_tls_verify;
    opts.daemonize = true;
    opts.start_paused = paused || incoming;
    argv = vh_domain_def_to_argv(live, &opts, errp);
    if (argv && incoming) {
        GStrvBuilder *b = g_strv_builder_new();

        g_strv_builder_addv(b, (const char **)argv);
        g_strv_builder_add_many(b, "-incoming", "defer", NULL);
        g_strfreev(argv);
        argv = g_strv_builder_end(b);
        g_strv_builder_unref(b);
    }
    if (!argv || !spawn_vmhost(drv, argv, &pid, p.pidfile, errp)) {
        vh_store_remove_run_files(drv, obj->name);
        return false;
    }
    pidfd = pidfd_open_compat(pid);
    qmp = vh_qmp_client_connect(p.qmp, CONNECT_TIMEOUT_MS, &err);
    if (!qmp || !learn_pty_paths(qmp, argv, live, &err)) {
        g_set_error(errp, VH_VIR_ERROR, VH_VIR_ERR_OPERATION_FAILED,
                    "operation failed: domain %s: %s", obj->name, err->message);
        kill_process(pid, pidfd);
        if (pidfd >= 0) {
            close(pidfd);
        }
        vh_store_remove_run_files(drv, obj->name);
        return false;
    }

    g_mutex_lock(&drv->lock);
    obj->id = drv->next_id++;
    obj->pid = pid;
    obj->pidfd = pidfd;
    obj->qmp = g_steal_pointer(&qmp);
    obj->live = g_steal_pointer(&live);
    obj->active = true;
    obj->stopping = false;
    obj->got_shutdown = false;
    obj->state = paused || incoming ? VH_DOMAIN_PAUSED : VH_DOMAIN_RUNNING;
    obj->reason = incoming ? VH_PAUSED_MIGRATION
                  : paused ? VH_PAUSED_USER
                           : VH_RUNNING_BOOTED;
    if (incoming) {
        obj->mig_op = VH_JOB_OP_MIGRATION_IN;
        obj->mig_started = g_get_monotonic_time();
    }
    st.name = obj->name;
    st.pid = pid;
    st.id = obj->id;
    st.state = obj->state;
    st.reason = obj->reason;
    st.qmp = p.qmp;
    st.live = vh_domain_def_copy(obj->live);
    ref = vh_domain_obj_make_ref(obj);
    g_mutex_unlock(&drv->lock);

    if (!vh_store_save_status(drv, &st, errp)) {
        /* Without a status file a restarted daemon would lose it. */
        vh_domain_def_free(st.live);
        vh_domain_ref_free(ref);
        g_mutex_lock(&drv->lock);
        obj->stopping = true;
        g_mutex_unlock(&drv->lock);
        kill_process(pid, pidfd);
        process_cleanup(drv, obj, VH_SHUTOFF_FAILED, VH_EVENT_STOPPED_FAILED);
        return false;
    }
    vh_domain_def_free(st.live);
    attach_watches(drv, obj);
    if (incoming) {
        vh_driver_emit(drv, ref, VH_DOMAIN_EVENT_STARTED,
                       VH_EVENT_STARTED_MIGRATED);
    } else if (paused) {
        vh_driver_emit(drv, vh_domain_ref_copy(ref), VH_DOMAIN_EVENT_STARTED,
                       VH_EVENT_STARTED_BOOTED);
        vh_driver_emit(drv, ref, VH_DOMAIN_EVENT_SUSPENDED,
                       VH_EVENT_SUSPENDED_PAUSED);
    } else {
        vh_driver_emit(drv, ref, VH_DOMAIN_EVENT_STARTED,
                       VH_EVENT_STARTED_BOOTED);
    }
    return true;
}

bool vh_driver_process_start(VhDriver *drv, VhDomainObj *obj, bool paused,
                             GError **errp)
{
    return process_start(drv, obj, paused, NULL, errp);
}

bool vh_driver_process_start_incoming(VhDriver *drv, VhDomainObj *obj,
                                      const VhDomainDef *def, GError **errp)
{
    return process_start(drv, obj, true, def, errp);
}

bool vh_driver_process_destroy(VhDriver *drv, VhDomainObj *obj, GError **errp)
{
    return vh_driver_process_stop(drv, obj, VH_SHUTOFF_DESTROYED,
                                  VH_EVENT_STOPPED_DESTROYED, errp);
}

bool vh_driver_process_stop(VhDriver *drv, VhDomainObj *obj, int reason,
                            int detail, GError **errp)
{
    pid_t pid;
    int pidfd;

    g_mutex_lock(&drv->lock);
    if (!obj->active || obj->stopping) {
        g_mutex_unlock(&drv->lock);
        g_set_error_literal(errp, VH_VIR_ERROR, VH_VIR_ERR_OPERATION_INVALID,
                            "Requested operation is not valid: domain is not "
                            "running");
        return false;
    }
    obj->stopping = true;
    pid = obj->pid;
    pidfd = obj->pidfd;
    g_mutex_unlock(&drv->lock);

    if (!kill_process(pid, pidfd)) {
        g_mutex_lock(&drv->lock);
        obj->stopping = false;
        g_mutex_unlock(&drv->lock);
        g_set_error(errp, VH_VIR_ERROR, VH_VIR_ERR_OPERATION_FAILED,
                    "operation failed: vmhost pid %d of domain %s did not "
                    "end after SIGTERM and SIGKILL",
                    (int)pid, obj->name);
        return false;
    }
    process_cleanup(drv, obj, reason, detail);
    return true;
}

VhQmpClient *vh_driver_process_get_qmp(VhDriver *drv, VhDomainObj *obj,
                                       GError **errp)
{
    VhQmpClient *qmp = NULL;

    g_mutex_lock(&drv->lock);
    if (obj->active && !obj->stopping && obj->qmp) {
        qmp = vh_qmp_client_ref(obj->qmp);
    }
    g_mutex_unlock(&drv->lock);
    if (!qmp) {
        g_set_error_literal(errp, VH_VIR_ERROR, VH_VIR_ERR_OPERATION_INVALID,
                            "Requested operation is not valid: domain is not "
                            "running");
    }
    return qmp;
}

bool vh_driver_process_save_status(VhDriver *drv, VhDomainObj *obj,
                                   GError **errp)
{
    g_autofree char *qmp = vh_store_run_path(drv, obj->name, "qmp");
    VhStoreStatus st = {0};
    bool ok;

    g_mutex_lock(&drv->lock);
    if (!obj->active || !obj->live) {
        g_mutex_unlock(&drv->lock);
        return true;
    }
    st.name = obj->name;
    st.pid = obj->pid;
    st.id = obj->id;
    st.state = obj->state;
    st.reason = obj->reason;
    st.qmp = qmp;
    st.live = vh_domain_def_copy(obj->live);
    g_mutex_unlock(&drv->lock);
    ok = vh_store_save_status(drv, &st, errp);
    vh_domain_def_free(st.live);
    return ok;
}

bool vh_driver_process_qmp(VhDriver *drv, VhDomainObj *obj, const char *cmd,
                           GError **errp)
{
    g_autoptr(VhQmpClient) qmp = NULL;
    g_autoptr(JsonNode) ret = NULL;
    g_autoptr(GError) err = NULL;

    g_mutex_lock(&drv->lock);
    if (obj->active && !obj->stopping && obj->qmp) {
        qmp = vh_qmp_client_ref(obj->qmp);
    }
    g_mutex_unlock(&drv->lock);
    if (!qmp) {
        g_set_error_literal(errp, VH_VIR_ERROR, VH_VIR_ERR_OPERATION_INVALID,
                            "Requested operation is not valid: domain is not "
                            "running");
        return false;
    }
    ret = vh_qmp_client_execute_sync(qmp, cmd, NULL, QMP_TIMEOUT_MS, &err);
    if (!ret) {
        g_set_error(errp, VH_VIR_ERROR,
                    g_error_matches(err, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED)
                        ? VH_VIR_ERR_OPERATION_UNSUPPORTED
                        : VH_VIR_ERR_OPERATION_FAILED,
                    "internal error: unable to execute vmhost command '%s': "
                    "%s",
                    cmd, err->message);
        return false;
    }
    return true;
}

static int state_from_status(const char *status, int *reason)
{
    if (g_str_equal(status, "running")) {
        *reason = VH_RUNNING_BOOTED;
        return VH_DOMAIN_RUNNING;
    }
    if (g_str_equal(status, "shutdown")) {
        *reason = VH_REASON_UNKNOWN;
        return VH_DOMAIN_SHUTDOWN;
    }
    *reason =
        g_str_equal(status, "paused") ? VH_PAUSED_USER : VH_REASON_UNKNOWN;
    return VH_DOMAIN_PAUSED;
}

bool vh_driver_process_reconnect(VhDriver *drv, VhDomainObj *obj, pid_t pid,
                                 const char *qmp_path)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(VhQmpClient) qmp = NULL;
    g_autoptr(JsonNode) ret = NULL;
    JsonObject *o;
    int reason;
    int state;

    if (!pid_is_vmhost(pid, qmp_path)) {
        g_warning("domain %s: vmhost pid %d is gone; reported as crashed",
                  obj->name, (int)pid);
        return false;
    }
    qmp = vh_qmp_client_connect(qmp_path, CONNECT_TIMEOUT_MS, &err);
    if (qmp) {
        ret = vh_qmp_client_execute_sync(qmp, "query-status", NULL,
                                         QMP_TIMEOUT_MS, &err);
    }
    if (!ret || !JSON_NODE_HOLDS_OBJECT(ret)) {
        g_warning("domain %s: cannot reconnect to vmhost pid %d (%s); "
                  "stopping it, reported as crashed",
                  obj->name, (int)pid, err ? err->message : "bad reply");
        kill_process(pid, -1);
        return false;
    }
    o = json_node_get_object(ret);
    if (g_str_equal(json_object_get_string_member_with_default(o, "status", ""),
                    "inmigrate")) {
        /* an incoming migration the last daemon never finished: no
         * half-started domain survives it */
        g_warning("domain %s: vmhost pid %d still waits for an incoming "
                  "migration the last daemon started; stopping it",
                  obj->name, (int)pid);
        kill_process(pid, -1);
        return false;
    }
    state = state_from_status(
        json_object_get_string_member_with_default(o, "status", "running"),
        &reason);

    g_mutex_lock(&drv->lock);
    obj->pid = pid;
    obj->pidfd = pidfd_open_compat(pid);
    obj->qmp = g_steal_pointer(&qmp);
    obj->active = true;
    obj->state = state;
    obj->reason = reason;
    obj->got_shutdown = state == VH_DOMAIN_SHUTDOWN;
    g_mutex_unlock(&drv->lock);
    attach_watches(drv, obj);
    return true;
}

void vh_driver_process_detach(VhDriver *drv, VhDomainObj *obj)
{
    g_autoptr(VhQmpClient) qmp = NULL;
    GSource *src;
    int pidfd;

    g_mutex_lock(&drv->lock);
    qmp = g_steal_pointer(&obj->qmp);
    src = g_steal_pointer(&obj->exit_source);
    pidfd = obj->pidfd;
    obj->pidfd = -1;
    g_mutex_unlock(&drv->lock);
    if (qmp) {
        vh_qmp_client_close(qmp);
    }
    if (src) {
        g_source_destroy(src);
        g_source_unref(src);
    }
    if (pidfd >= 0) {
        close(pidfd);
    }
}

void vh_driver_process_reap_orphans(VhDriver *drv)
{
    g_autoptr(GDir) d = g_dir_open(drv->run_dir, 0, NULL);
    const char *e;

    while (d && (e = g_dir_read_name(d))) {
        g_autofree char *name = NULL;
        g_autofree char *status = NULL;
        g_autofree char *pidfile = NULL;
        g_autofree char *qmp = NULL;
        g_autofree char *text = NULL;
        pid_t pid;

        if (e[0] == '.' || !g_str_has_suffix(e, ".pid")) {
            continue;
        }
        name = g_strndup(e, strlen(e) - 4);
        status = vh_store_run_path(drv, name, "xml");
        if (g_file_test(status, G_FILE_TEST_EXISTS)) {
            continue;
        }
        pidfile = vh_store_run_path(drv, name, "pid");
        qmp = vh_store_run_path(drv, name, "qmp");
        if (g_file_get_contents(pidfile, &text, NULL, NULL) &&
            (pid = atoi(text)) > 0 && pid_is_vmhost(pid, qmp)) {
            g_warning("domain %s: stopping vmhost pid %d, whose start was "
                      "never finished",
                      name, (int)pid);
            kill_process(pid, -1);
        }
        vh_store_remove_run_files(drv, name);
    }
}
