/*
 * The daemon's listeners: the UNIX read-write and read-only sockets, TLS
 * (with --listen and listen_tls), plain TCP (with --listen and listen_tcp),
 * or the sockets systemd passes (LISTEN_PID/LISTEN_FDS/LISTEN_FDNAMES, see
 * sd_listen_fds(3); no libsystemd needed).
 *
 * max_anonymous_clients: while that many TLS clients are in their
 * handshake, the TLS listeners stop accepting; new connections wait in the
 * kernel's queue (max_queued_clients long) until a handshake ends.
 */
#include "daemon.h"

#include "vmhost/io/address.h"
#include "vmhost/io/net-listener.h"
#include "vmhost/util/error.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gunixsocketaddress.h>
#include <grp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

typedef enum {
    KIND_RW,
    KIND_RO,
    KIND_TLS,
    KIND_TCP,
} ListenKind;

static const char *const kind_names[] = {"read-write", "read-only", "TLS",
                                         "TCP"};

struct _VhDaemonListen {
    const VhDaemonConfig *cfg;
    VhRemoteServer *server;
    VhDaemonTls *tls;
    VhNetListener *l[4];     /* by ListenKind, NULL when not listening */
    GPtrArray *unlink_paths; /* UNIX sockets we made */
    guint n_anonymous;
    bool anonymous_paused;
};

VhDaemonListen *vh_daemon_listen_new(const VhDaemonConfig *cfg,
                                     VhRemoteServer *server)
{
    VhDaemonListen *dl = g_new0(VhDaemonListen, 1);

    dl->cfg = cfg;
    dl->server = server;
    dl->unlink_paths = g_ptr_array_new_with_free_func(g_free);
    return dl;
}

void vh_daemon_listen_free(VhDaemonListen *dl)
{
    if (!dl) {
        return;
    }
    vh_daemon_listen_stop(dl);
    vh_daemon_tls_free(dl->tls);
    g_ptr_array_unref(dl->unlink_paths);
    g_free(dl);
}

void vh_daemon_listen_stop(VhDaemonListen *dl)
{
    for (guint i = 0; i < G_N_ELEMENTS(dl->l); i++) {
        if (dl->l[i]) {
            vh_net_listener_set_client_func(dl->l[i], NULL, NULL, NULL, NULL);
            vh_net_listener_disconnect(dl->l[i]);
            g_clear_object(&dl->l[i]);
        }
    }
    for (guint i = 0; i < dl->unlink_paths->len; i++) {
        unlink(g_ptr_array_index(dl->unlink_paths, i));
    }
    g_ptr_array_set_size(dl->unlink_paths, 0);
}

/* "uid 1000 pid 4242" from SO_PEERCRED, for the logs. */
static char *unix_identity(VhChannelSocket *sock)
{
    struct ucred cred;
    socklen_t len = sizeof(cred);

    if (getsockopt(vh_channel_socket_get_fd(sock), SOL_SOCKET, SO_PEERCRED,
                   &cred, &len) < 0) {
        return g_strdup_printf("unknown local client (%s)", g_strerror(errno));
    }
    return g_strdup_printf("uid %u pid %d", (unsigned)cred.uid, (int)cred.pid);
}

static char *peer_name(VhChannelSocket *sock)
{
    g_autoptr(GSocketAddress) addr =
        vh_channel_socket_get_remote_address(sock, NULL);

    return addr ? vh_socket_address_to_string(addr) : g_strdup("(unknown)");
}

static void on_local_client(VhNetListener *l, VhChannelSocket *sock,
                            gpointer opaque)
{
    VhDaemonListen *dl = opaque;
    bool ro = l == dl->l[KIND_RO];
    g_autofree char *who = NULL;

    if (l == dl->l[KIND_TCP]) {
        g_autofree char *peer = peer_name(sock);
        who = g_strdup_printf("TCP client %s", peer);
        vh_channel_set_delay(VH_CHANNEL(sock), false); /* see on_tls_client */
    } else {
        who = unix_identity(sock);
    }
    vh_remote_server_add_client(dl->server, VH_CHANNEL(sock), false, ro, who);
}

static void anonymous_update(VhDaemonListen *dl, int delta)
{
    VhNetListener *tl = dl->l[KIND_TLS];

    dl->n_anonymous += delta;
    if (!tl) {
        return;
    }
    if (!dl->anonymous_paused &&
        dl->n_anonymous >= dl->cfg->max_anonymous_clients) {
        g_warning("%u TLS clients in their handshake (max_anonymous_clients): "
                  "new TLS connections wait until one is done",
                  dl->n_anonymous);
        dl->anonymous_paused = true;
        vh_net_listener_stop_accepting(tl);
    } else if (dl->anonymous_paused &&
               dl->n_anonymous < dl->cfg->max_anonymous_clients) {
        dl->anonymous_paused = false;
        vh_net_listener_resume_accepting(tl);
    }
}

static void on_tls_done(VhChannelTls *tls, const char *identity,
                        gpointer opaque)
{
    VhDaemonListen *dl = opaque;

    anonymous_update(dl, -1);
    if (!tls) {
        return; /* refused: daemon-tls.c logged who and why */
    }
    g_info("TLS handshake with %s done (%s, %s)", identity,
           vh_channel_tls_get_protocol(tls), vh_channel_tls_get_cipher(tls));
    vh_remote_server_add_client(dl->server, VH_CHANNEL(tls), true, false,
                                identity);
}

static void on_tls_client(VhNetListener *l, VhChannelSocket *sock,
                          gpointer opaque)
{
    VhDaemonListen *dl = opaque;
    g_autofree char *peer = peer_name(sock);

    anonymous_update(dl, +1);
    /*
     * No Nagle: the handshake's flights go out as several small writes, and
     * with Nagle each after the first waits for the client's delayed ACK
     * (40 ms on Linux; a connect+open+close took 87 ms, 9 of them CPU).
     * After it every reply, event and stream packet is one whole write,
     * which Nagle would only hold back too.
     */
    vh_channel_set_delay(VH_CHANNEL(sock), false);
    vh_daemon_tls_accept(dl->tls, sock, peer);
}

static VhNetListener *listener_for(VhDaemonListen *dl, ListenKind kind)
{
    if (!dl->l[kind]) {
        dl->l[kind] = vh_net_listener_new();
    }
    return dl->l[kind];
}

static bool add_socket(VhDaemonListen *dl, ListenKind kind,
                       VhChannelSocket *sock, GError **errp)
{
    return vh_net_listener_add_socket(listener_for(dl, kind), sock, errp);
}

/* A UNIX socket at @path with @perms (and unix_sock_group). */
static bool open_unix(VhDaemonListen *dl, ListenKind kind, const char *path,
                      guint perms, GError **errp)
{
    g_autoptr(GSocketAddress) addr = g_unix_socket_address_new(path);
    g_autoptr(VhChannelSocket) sock = vh_channel_socket_new();
    const char *group = dl->cfg->unix_sock_group;
    mode_t old = umask(0077); /* no window with wider permissions */
    bool ok;

    ok = vh_channel_socket_listen_sync(sock, addr,
                                       (int)dl->cfg->max_queued_clients, errp);
    umask(old);
    if (!ok) {
        return false;
    }
    g_ptr_array_add(dl->unlink_paths, g_strdup(path));
    if (group) {
        struct group *gr = getgrnam(group);

        if (!gr || chown(path, (uid_t)-1, gr->gr_gid) < 0) {
            g_set_error(errp, VH_ERROR, VH_ERROR_CONFIG,
                        "Cannot give socket %s to group '%s' "
                        "(unix_sock_group): %s",
                        path, group, gr ? g_strerror(errno) : "no such group");
            return false;
        }
    }
    if (chmod(path, perms) < 0) {
        g_set_error(errp, VH_ERROR, VH_ERROR_FAILED,
                    "Cannot set permissions %04o on socket %s: %s", perms, path,
                    g_strerror(errno));
        return false;
    }
    g_info("listening on %s (%s, mode %04o)", path, kind_names[kind], perms);
    return add_socket(dl, kind, sock, errp);
}

static bool open_inet(VhDaemonListen *dl, ListenKind kind, const char *port,
                      GError **errp)
{
    guint64 p = 0;
    GList *addrs;
    bool ok = true;

    g_ascii_string_to_unsigned(port, 10, 0, 65535, &p, NULL);
    addrs = vh_socket_address_resolve(dl->cfg->listen_addr, (guint16)p, errp);
    if (!addrs) {
        return false;
    }
    for (GList *a = addrs; a && ok; a = a->next) {
        g_autoptr(VhChannelSocket) sock = vh_channel_socket_new();
        g_autofree char *name = vh_socket_address_to_string(a->data);

        ok = vh_channel_socket_listen_sync(
                 sock, a->data, (int)dl->cfg->max_queued_clients, errp) &&
             add_socket(dl, kind, sock, errp);
        if (ok) {
            g_info("listening on %s (%s)", name, kind_names[kind]);
        }
    }
    g_list_free_full(addrs, g_object_unref);
    return ok;
}

/* Which listener an inherited socket is, from its name or its address. */
static ListenKind activated_kind(const VhDaemonConfig *cfg,
                                 VhChannelSocket *sock, const char *name,
                                 const char *ro_path)
{
    g_autoptr(GSocketAddress) addr =
        vh_channel_socket_get_local_address(sock, NULL);

    if (name && strstr(name, "-ro")) {
        return KIND_RO;
    }
    if (name && strstr(name, "tls")) {
        return KIND_TLS;
    }
    if (name && strstr(name, "tcp")) {
        return KIND_TCP;
    }
    if (addr && G_IS_UNIX_SOCKET_ADDRESS(addr)) {
        const char *path =
            g_unix_socket_address_get_path(G_UNIX_SOCKET_ADDRESS(addr));

        return g_strcmp0(path, ro_path) == 0 ? KIND_RO : KIND_RW;
    }
    return KIND_TLS;
}

/*
 * systemd's sockets: LISTEN_PID must be us; fds 3.. LISTEN_FDS. Returns the
 * number adopted (0: not socket-activated), -1 on error. The variables are
 * removed so that machines started later do not see them.
 */
static int adopt_activated(VhDaemonListen *dl, const char *ro_path,
                           GError **errp)
{
    const char *pid_s = g_getenv("LISTEN_PID");
    const char *fds_s = g_getenv("LISTEN_FDS");
    g_auto(GStrv) names = NULL;
    guint64 pid = 0;
    guint64 n = 0;

    if (!pid_s || !fds_s ||
        !g_ascii_string_to_unsigned(pid_s, 10, 1, G_MAXINT, &pid, NULL) ||
        (pid_t)pid != getpid() ||
        !g_ascii_string_to_unsigned(fds_s, 10, 0, 64, &n, NULL)) {
        return 0;
    }
    if (g_getenv("LISTEN_FDNAMES")) {
        names = g_strsplit(g_getenv("LISTEN_FDNAMES"), ":", -1);
    }
    g_unsetenv("LISTEN_PID");
    g_unsetenv("LISTEN_FDS");
    g_unsetenv("LISTEN_FDNAMES");
    for (guint i = 0; i < n; i++) {
        int fd = 3 + (int)i;
        const char *name = names && i < g_strv_length(names) ? names[i] : NULL;
        g_autoptr(VhChannelSocket) sock = NULL;
        ListenKind kind;

        fcntl(fd, F_SETFD, FD_CLOEXEC);
        sock = vh_channel_socket_new_fd(fd, errp);
        if (!sock) {
            return -1;
        }
        kind = activated_kind(dl->cfg, sock, name, ro_path);
        g_info("socket activation: fd %d (%s) is the %s listener", fd,
               name ? name : "unnamed", kind_names[kind]);
        if (!add_socket(dl, kind, sock, errp)) {
            return -1;
        }
    }
    return (int)n;
}

static void set_funcs(VhDaemonListen *dl)
{
    for (guint k = 0; k < G_N_ELEMENTS(dl->l); k++) {
        if (dl->l[k]) {
            vh_net_listener_set_client_func(
                dl->l[k], k == KIND_TLS ? on_tls_client : on_local_client, dl,
                NULL, NULL);
        }
    }
}

bool vh_daemon_listen_start(VhDaemonListen *dl, bool listen, GError **errp)
{
    const VhDaemonConfig *cfg = dl->cfg;
    g_autofree char *rw =
        g_build_filename(cfg->unix_sock_dir, VH_DAEMON_SOCK_RW, NULL);
    g_autofree char *ro =
        g_build_filename(cfg->unix_sock_dir, VH_DAEMON_SOCK_RO, NULL);
    int adopted = adopt_activated(dl, ro, errp);

    if (adopted < 0) {
        return false;
    }
    if (adopted == 0) {
        if (g_mkdir_with_parents(cfg->unix_sock_dir, 0755) < 0) {
            g_set_error(errp, VH_ERROR, VH_ERROR_FAILED,
                        "Cannot create socket directory %s (unix_sock_dir): "
                        "%s",
                        cfg->unix_sock_dir, g_strerror(errno));
            return false;
        }
        if (!open_unix(dl, KIND_RW, rw, cfg->unix_sock_rw_perms, errp) ||
            !open_unix(dl, KIND_RO, ro, cfg->unix_sock_ro_perms, errp)) {
            return false;
        }
        if (listen && cfg->listen_tls) {
            dl->l[KIND_TLS] = vh_net_listener_new();
            if (!open_inet(dl, KIND_TLS, cfg->tls_port, errp)) {
                return false;
            }
        }
        if (listen && cfg->listen_tcp) {
            g_warning("listen_tcp = 1: TCP port %s has no authentication and "
                      "no encryption; anyone who reaches it manages domains",
                      cfg->tcp_port);
            if (!open_inet(dl, KIND_TCP, cfg->tcp_port, errp)) {
                return false;
            }
        }
    }
    if (dl->l[KIND_TLS]) {
        dl->tls = vh_daemon_tls_new(cfg, on_tls_done, dl, errp);
        if (!dl->tls) {
            return false;
        }
    }
    set_funcs(dl);
    return true;
}
