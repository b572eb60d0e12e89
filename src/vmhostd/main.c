/*
 * vmhostd: vmhost's management daemon, serving libvirt's remote protocol
 * to virsh, python3-libvirt and libvirt-glib (man page: docs/vmhostd.8).
 *
 * Startup: options, the two config files, the log, the pid file (locked:
 * one daemon per pid file), the driver (which finds running machines
 * again), the protocol server, the listeners (TLS credentials checked
 * here, so a bad certificate stops startup with the check's message),
 * autostart, then READY=1 to systemd. SIGTERM/SIGINT: clients closed,
 * sockets unlinked, pid file removed; machines keep running.
 */
#include "daemon.h"
#include "driver.h"
#include "remote.h"

#include "vmhost-config.h"
#include "vmhost/util/error.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

typedef struct {
    char *config;
    char *driver_config;
    char *pid_file;
    gboolean session;
    gboolean listen;
    gboolean verbose;
    gboolean version;
} Options;

static bool parse_options(int *argc, char ***argv, Options *o, GError **errp)
{
    GOptionEntry entries[] = {
        {"config", 'f', 0, G_OPTION_ARG_FILENAME, &o->config,
         "Configuration file (libvirtd.conf's keys)", "FILE"},
        {"driver-config", 0, 0, G_OPTION_ARG_FILENAME, &o->driver_config,
         "Driver configuration file (qemu.conf's keys)", "FILE"},
        {"session", 0, 0, G_OPTION_ARG_NONE, &o->session,
         "Per-user daemon: files under $XDG_CONFIG_HOME and "
         "$XDG_RUNTIME_DIR",
         NULL},
        {"listen", 'l', 0, G_OPTION_ARG_NONE, &o->listen,
         "Listen on TLS (listen_tls) and TCP (listen_tcp) as configured", NULL},
        {"pid-file", 'p', 0, G_OPTION_ARG_FILENAME, &o->pid_file,
         "Pid file (default /run/vmhostd.pid, session: "
         "$XDG_RUNTIME_DIR/vmhost/vmhostd.pid)",
         "FILE"},
        {"verbose", 'v', 0, G_OPTION_ARG_NONE, &o->verbose,
         "Log connections and informational messages to stderr", NULL},
        {"version", 'V', 0, G_OPTION_ARG_NONE, &o->version,
         "Print the version and exit", NULL},
        {NULL},
    };
    g_autoptr(GOptionContext) ctx =
        g_option_context_new("- vmhost's management daemon");

    g_option_context_set_summary(
        ctx, "Serves libvirt's remote protocol so that virsh, python3-libvirt "
             "and libvirt-glib manage vmhost machines.");
    g_option_context_add_main_entries(ctx, entries, NULL);
    if (!g_option_context_parse(ctx, argc, argv, errp)) {
        return false;
    }
    if (*argc > 1) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "unexpected argument '%s'", (*argv)[1]);
        return false;
    }
    return true;
}

/* Create and lock the pid file; the lock lives as long as the process. */
static int pid_file_acquire(const char *path, GError **errp)
{
    g_autofree char *dir = g_path_get_dirname(path);
    g_autofree char *text = NULL;
    int fd;

    g_mkdir_with_parents(dir, 0755);
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        g_set_error(errp, VH_ERROR, VH_ERROR_FAILED,
                    "Cannot open pid file %s: %s", path, g_strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        char buf[32] = "";
        ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

        g_set_error(errp, VH_ERROR, VH_ERROR_FAILED,
                    "Another vmhostd is running (pid file %s, pid %s)", path,
                    n > 0 ? g_strstrip(buf) : "unknown");
        close(fd);
        return -1;
    }
    text = g_strdup_printf("%d\n", (int)getpid());
    if (ftruncate(fd, 0) < 0 ||
        pwrite(fd, text, strlen(text), 0) != (ssize_t)strlen(text)) {
        g_set_error(errp, VH_ERROR, VH_ERROR_FAILED,
                    "Cannot write pid file %s: %s", path, g_strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

/* systemd's readiness notification (sd_notify(3)'s protocol). */
static void notify_systemd(const char *state)
{
    const char *path = g_getenv("NOTIFY_SOCKET");
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    socklen_t len;
    int fd;

    if (!path || !path[0] || strlen(path) >= sizeof(sa.sun_path)) {
        return;
    }
    memcpy(sa.sun_path, path, strlen(path));
    if (sa.sun_path[0] == '@') {
        sa.sun_path[0] = '\0';
    }
    len = offsetof(struct sockaddr_un, sun_path) + strlen(path);
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return;
    }
    if (sendto(fd, state, strlen(state), 0, (struct sockaddr *)&sa, len) < 0) {
        g_warning("Cannot notify systemd on %s: %s", path, g_strerror(errno));
    }
    close(fd);
}

static gboolean on_quit_signal(gpointer opaque)
{
    g_info("signal received: shutting down (machines keep running)");
    g_main_loop_quit(opaque);
    return G_SOURCE_CONTINUE;
}

static gboolean on_hup(gpointer opaque)
{
    g_warning("SIGHUP: reloading the configuration is not supported; "
              "restart vmhostd to apply changes (machines keep running)");
    return G_SOURCE_CONTINUE;
}

static bool make_dir(const char *dir, const char *what, GError **errp)
{
    if (g_mkdir_with_parents(dir, 0700) < 0) {
        g_set_error(errp, VH_ERROR, VH_ERROR_FAILED,
                    "Cannot create %s directory %s: %s", what, dir,
                    g_strerror(errno));
        return false;
    }
    return true;
}

static VhDriver *driver_open(const VhDaemonConfig *cfg, GError **errp)
{
    VhDriverConfig dc = {
        .config_dir = cfg->domain_config_dir,
        .run_dir = cfg->run_dir,
        .vmhost_binary = cfg->vmhost_binary,
        .chardev_tls = cfg->chardev_tls,
        .chardev_tls_x509_cert_dir = cfg->chardev_tls_x509_cert_dir,
        .chardev_tls_x509_verify = cfg->chardev_tls_x509_verify,
        .migrate_tls_x509_cert_dir = cfg->migrate_tls_x509_cert_dir,
        .migrate_tls_x509_verify = cfg->migrate_tls_x509_verify,
        .migrate_tls_allowed_dn_list =
            (const char *const *)cfg->migrate_tls_allowed_dn_list,
        .migrate_tls_allowed_dn_list_where =
            cfg->migrate_tls_allowed_dn_list_where,
        .migration_port_min = cfg->migration_port_min,
        .migration_port_max = cfg->migration_port_max,
    };

    if (!make_dir(cfg->domain_config_dir, "domain config", errp) ||
        !make_dir(cfg->run_dir, "run", errp)) {
        return NULL;
    }
    return vh_driver_new(&dc, errp);
}

static int run(Options *o, GError **errp)
{
    g_autoptr(VhDaemonConfig) cfg = vh_daemon_config_new(o->session);
    g_autoptr(VhDriver) drv = NULL;
    g_autoptr(VhRemoteServer) srv = NULL;
    g_autoptr(VhDaemonListen) dl = NULL;
    g_autoptr(GMainLoop) loop = NULL;
    VhRemoteLimits lim;
    int pid_fd;

    /* stderr for what reading the config says, then log_outputs */
    if (!vh_daemon_log_setup(cfg, o->verbose, errp) ||
        !vh_daemon_config_load(cfg, o->config, o->driver_config, errp) ||
        !vh_daemon_log_setup(cfg, o->verbose, errp)) {
        return 1;
    }
    if (o->pid_file) {
        g_free(cfg->pid_file);
        cfg->pid_file = g_strdup(o->pid_file);
    }
    g_info("vmhostd %s starting (%s mode, config %s, driver config %s)",
           VMHOST_VERSION, cfg->privileged ? "system" : "session",
           cfg->config_file ? cfg->config_file : "(defaults)",
           cfg->driver_config_file ? cfg->driver_config_file : "(defaults)");
    pid_fd = pid_file_acquire(cfg->pid_file, errp);
    if (pid_fd < 0) {
        return 1;
    }
    drv = driver_open(cfg, errp);
    if (!drv) {
        unlink(cfg->pid_file);
        return 1;
    }
    lim = (VhRemoteLimits){
        .max_clients = cfg->max_clients,
        .max_workers = cfg->max_workers,
        .keepalive_interval =
            cfg->keepalive_interval < 0 ? 0 : (guint)cfg->keepalive_interval,
        .keepalive_count = cfg->keepalive_count,
    };
    srv = vh_remote_server_new(drv, &lim, NULL);
    dl = vh_daemon_listen_new(cfg, srv);
    if (!vh_daemon_listen_start(dl, o->listen, errp)) {
        vh_daemon_listen_stop(dl);
        unlink(cfg->pid_file);
        return 1;
    }
    vh_driver_autostart(drv);

    loop = g_main_loop_new(NULL, FALSE);
    g_unix_signal_add(SIGTERM, on_quit_signal, loop);
    g_unix_signal_add(SIGINT, on_quit_signal, loop);
    g_unix_signal_add(SIGHUP, on_hup, NULL);
    notify_systemd("READY=1");
    g_info("vmhostd ready (pid %d)", (int)getpid());
    g_main_loop_run(loop);

    notify_systemd("STOPPING=1");
    vh_daemon_listen_stop(dl);
    vh_remote_server_shutdown(srv);
    g_clear_pointer(&srv, vh_remote_server_free);
    g_clear_pointer(&drv, vh_driver_free);
    unlink(cfg->pid_file);
    close(pid_fd);
    g_info("vmhostd stopped");
    return 0;
}

int main(int argc, char **argv)
{
    Options o = {0};
    g_autoptr(GError) err = NULL;
    int rc;

    signal(SIGPIPE, SIG_IGN);
    if (!parse_options(&argc, &argv, &o, &err)) {
        fprintf(stderr, "vmhostd: %s\n", err->message);
        return 2;
    }
    if (o.version) {
        printf("vmhostd %s\n", VMHOST_VERSION);
        return 0;
    }
    rc = run(&o, &err);
    if (rc != 0 && err) {
        fprintf(stderr, "vmhostd: error: %s\n", err->message);
    }
    g_free(o.config);
    g_free(o.driver_config);
    g_free(o.pid_file);
    return rc;
}
