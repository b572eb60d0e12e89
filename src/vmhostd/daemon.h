/*
 * vmhostd's program: its two config files, its log, its TLS credentials and
 * its listeners. Everything after a client is accepted (and, over TLS,
 * handshaken and admitted) belongs to VhRemoteServer (remote.h).
 *
 *     g_autoptr(VhDaemonConfig) cfg = vh_daemon_config_new(session);
 *     if (!vh_daemon_config_load(cfg, cli_config, cli_driver_config, errp))
 *         ...
 *     vh_daemon_log_setup(cfg, verbose);
 *     g_autoptr(VhDaemonListen) dl = vh_daemon_listen_new(cfg, server);
 *     if (!vh_daemon_listen_start(dl, listen, errp)) ...
 *
 * Locations (libvirt's, with "vmhost" for "libvirt" where the file is ours):
 *
 *                 system (root)                 session (--session/non-root)
 *   config        /etc/vmhost/vmhostd.conf $XDG_CONFIG_HOME/vmhost/vmhostd.conf
 *   driver conf   /etc/vmhost/vmhostd-driver.conf
 * .../vmhost/vmhostd-driver.conf domains       /etc/vmhost/qemu/
 * $XDG_CONFIG_HOME/vmhost/qemu/ run state     /run/vmhost/qemu/
 * $XDG_RUNTIME_DIR/vmhost/qemu/ sockets       /run/vmhost/vmhost-sock{,-ro}
 * $XDG_RUNTIME_DIR/vmhost/... pid file      /run/vmhostd.pid
 * $XDG_RUNTIME_DIR/vmhost/vmhostd.pid certificates  /etc/pki/CA/cacert.pem,
 * ~/.pki/libvirt/cacert.pem, /etc/pki/libvirt/servercert.pem, servercert.pem,
 *                 /etc/pki/libvirt/private/serverkey.pem  serverkey.pem
 */
#pragma once

#include <glib.h>
#include <stdbool.h>

#include "remote.h"
#include "vmhost/io/channel-socket.h"
#include "vmhost/io/channel-tls.h"

G_BEGIN_DECLS

#define VH_DAEMON_SOCK_RW "vmhost-sock"
#define VH_DAEMON_SOCK_RO "vmhost-sock-ro"

typedef struct {
    bool privileged; /* system mode: root and no --session */

    /* vmhostd.conf (libvirtd.conf's keys) */
    char *config_file; /* the file read, NULL when the default is absent */
    bool listen_tls;
    bool listen_tcp;
    char *tls_port;
    char *tcp_port;
    char *listen_addr;
    char *unix_sock_dir;
    char *unix_sock_group; /* NULL: the daemon's group */
    guint unix_sock_rw_perms;
    guint unix_sock_ro_perms;
    char *key_file;
    char *cert_file;
    char *ca_file;
    char *crl_file;
    bool tls_no_sanity_certificate;
    bool tls_no_verify_certificate;
    char **tls_allowed_dn_list;      /* NULL: any verified client */
    char *tls_allowed_dn_list_where; /* "FILE:LINE", for refusal logs */
    char *tls_priority;              /* NULL: the build default */
    guint max_clients;
    guint max_queued_clients;
    guint max_anonymous_clients;
    guint max_workers;
    int keepalive_interval;
    guint keepalive_count;
    int log_level;
    char *log_outputs;

    /* vmhostd-driver.conf (qemu.conf's keys) */
    char *driver_config_file;
    bool chardev_tls;
    char *chardev_tls_x509_cert_dir;
    bool chardev_tls_x509_verify;
    char *default_tls_x509_cert_dir;
    bool default_tls_x509_verify;
    char *migrate_tls_x509_cert_dir;
    bool migrate_tls_x509_verify;
    /* NULL: any client certificate from the migration CA; else globs its
     * DN must match (vmhost's tls-authz on the incoming side) */
    char **migrate_tls_allowed_dn_list;
    char *migrate_tls_allowed_dn_list_where; /* "FILE:LINE" */
    guint migration_port_min;
    guint migration_port_max;
    char *vmhost_binary; /* NULL: "vmhost" from PATH */

    /* Derived locations */
    char *domain_config_dir;
    char *run_dir;
    char *pid_file;
} VhDaemonConfig;

/* Defaults for system (@session false, as root) or session mode. */
VhDaemonConfig *vh_daemon_config_new(bool session);
void vh_daemon_config_free(VhDaemonConfig *cfg);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VhDaemonConfig, vh_daemon_config_free)

/*
 * Read vmhostd.conf (@config_file, else the mode's default if it exists)
 * and the driver config (@driver_file likewise). Unknown keys are logged as
 * warnings naming FILE:LINE; a bad value is an error naming FILE:LINE.
 */
G_GNUC_WARN_UNUSED_RESULT
bool vh_daemon_config_load(VhDaemonConfig *cfg, const char *config_file,
                           const char *driver_file, GError **errp);

/* Parse one of the two files (for tests): keys and values as above. */
G_GNUC_WARN_UNUSED_RESULT
bool vh_daemon_config_parse_daemon(VhDaemonConfig *cfg, const char *path,
                                   GError **errp);
G_GNUC_WARN_UNUSED_RESULT
bool vh_daemon_config_parse_driver(VhDaemonConfig *cfg, const char *path,
                                   GError **errp);

/*
 * Route every GLib log record through log_outputs ("3:stderr
 * 2:file:/var/log/vmhostd.log"; levels 1 debug, 2 info, 3 warning, 4
 * error). @verbose: level 2 at least on stderr.
 */
G_GNUC_WARN_UNUSED_RESULT
bool vh_daemon_log_setup(const VhDaemonConfig *cfg, bool verbose,
                         GError **errp);

/*
 * TLS (daemon-tls.c): server credentials from the configured files, and
 * the accept path: each client is handshaken by VhTlsAccept (lib/io, the
 * one TLS accept path, with a 15 s timeout), its certificate verified and
 * its DN matched against tls_allowed_dn_list; then @done gets the TLS
 * channel (transfer none) and the client's identity ("DN from ADDR"), or
 * NULL after the refusal was logged (who and why). @done runs in the
 * default main context.
 */
typedef struct _VhDaemonTls VhDaemonTls;
typedef void (*VhDaemonTlsDone)(VhChannelTls *tls, const char *identity,
                                gpointer opaque);

G_GNUC_WARN_UNUSED_RESULT
VhDaemonTls *vh_daemon_tls_new(const VhDaemonConfig *cfg, VhDaemonTlsDone done,
                               gpointer opaque, GError **errp);
void vh_daemon_tls_free(VhDaemonTls *tls);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VhDaemonTls, vh_daemon_tls_free)

/* Handshake the accepted @sock (transfer none), named @peer in logs. */
void vh_daemon_tls_accept(VhDaemonTls *t, VhChannelSocket *sock,
                          const char *peer);

/*
 * Whether @dn may connect: true when the list is unset, else when one glob
 * of @list matches (fnmatch, as libvirt). An empty list admits nobody.
 */
bool vh_daemon_dn_allowed(const char *const *list, const char *dn);

/* The listeners: UNIX rw/ro, TLS, TCP, or the fds systemd passed. */
typedef struct _VhDaemonListen VhDaemonListen;

VhDaemonListen *vh_daemon_listen_new(const VhDaemonConfig *cfg,
                                     VhRemoteServer *server);
/*
 * Open the sockets (or adopt LISTEN_FDS from systemd) and start accepting
 * on the default main context. @listen: --listen (TLS/TCP as configured).
 */
G_GNUC_WARN_UNUSED_RESULT
bool vh_daemon_listen_start(VhDaemonListen *dl, bool listen, GError **errp);
/* Close the listeners, unlink the UNIX sockets the daemon made. */
void vh_daemon_listen_stop(VhDaemonListen *dl);
void vh_daemon_listen_free(VhDaemonListen *dl);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VhDaemonListen, vh_daemon_listen_free)

G_END_DECLS
