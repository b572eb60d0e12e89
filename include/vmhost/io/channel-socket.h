/*
 * VhChannelSocket: a VhChannel over a stream socket (TCP or UNIX).
 *
 *     g_autoptr(GSocketAddress) addr =
 *         vh_socket_address_parse("unix:/run/vm/mon.sock", errp);
 *     g_autoptr(VhChannelSocket) sock = vh_channel_socket_new();
 *     if (!addr || !vh_channel_socket_connect_sync(sock, addr, errp)) {
 *         return false;
 *     }
 *     if (!vh_channel_write_all(VH_CHANNEL(sock), "hello\n", 6, errp)) ...
 *
 * A server creates a listening socket with vh_channel_socket_listen_sync()
 * (or uses VhNetListener) and gets each client from
 * vh_channel_socket_accept().
 *
 * Features: a connected socket has VH_CHANNEL_FEATURE_SHUTDOWN; a UNIX one
 * also VH_CHANNEL_FEATURE_FD_PASS (SCM_RIGHTS, at most
 * VH_CHANNEL_SOCKET_MAX_FDS per message; received fds are close-on-exec); a
 * listening one VH_CHANNEL_FEATURE_LISTEN. Writes never raise SIGPIPE
 * (MSG_NOSIGNAL): a vanished peer is a G_IO_ERROR naming the channel and
 * the peer.
 *
 * Ownership: the channel owns its fd and closes it on vh_channel_close() or
 * on the last unref. A listening UNIX socket bound by listen_sync removes its
 * socket file when closed. Addresses returned are (transfer full).
 */
#pragma once

#include "vmhost/io/channel.h"

G_BEGIN_DECLS

#define VH_CHANNEL_SOCKET_MAX_FDS 16

#define VH_TYPE_CHANNEL_SOCKET (vh_channel_socket_get_type())
G_DECLARE_FINAL_TYPE(VhChannelSocket, vh_channel_socket, VH, CHANNEL_SOCKET,
                     VhChannel)

/* An unconnected socket channel; connect or listen next. */
VhChannelSocket *vh_channel_socket_new(void);

/*
 * Adopt @fd, a connected or listening socket; the channel takes ownership
 * on success (on failure the caller still owns @fd). The family and the
 * listening state are read from the socket. A non-blocking fd gives a
 * non-blocking channel.
 */
G_GNUC_WARN_UNUSED_RESULT
VhChannelSocket *vh_channel_socket_new_fd(int fd, GError **errp);

/*
 * Two connected AF_UNIX stream channels (socketpair(2)), both blocking.
 * On success *a and *b are (transfer full).
 */
G_GNUC_WARN_UNUSED_RESULT
bool vh_channel_socket_pair(VhChannelSocket **a, VhChannelSocket **b,
                            GError **errp);

/* Connect, blocking the calling thread. */
G_GNUC_WARN_UNUSED_RESULT
bool vh_channel_socket_connect_sync(VhChannelSocket *s, GSocketAddress *addr,
                                    GError **errp);

/*
 * Start a non-blocking connect; @cb runs on the thread-default main context
 * of the caller once it completes, fails or @c is cancelled. No thread is
 * used. Exactly one of success or error is reported by connect_finish.
 */
void vh_channel_socket_connect_async(VhChannelSocket *s, GSocketAddress *addr,
                                     GCancellable *c, GAsyncReadyCallback cb,
                                     gpointer data);
G_GNUC_WARN_UNUSED_RESULT
bool vh_channel_socket_connect_finish(VhChannelSocket *s, GAsyncResult *res,
                                      GError **errp);

/*
 * Bind and listen on @addr. Inet sockets get SO_REUSEADDR; IPv6 sockets get
 * IPV6_V6ONLY so that 0.0.0.0 and :: can both be bound on one port. A stale
 * UNIX socket file at the path is removed first (anything else at the path
 * is left alone and the bind fails). @backlog <= 0 means SOMAXCONN.
 */
G_GNUC_WARN_UNUSED_RESULT
bool vh_channel_socket_listen_sync(VhChannelSocket *s, GSocketAddress *addr,
                                   int backlog, GError **errp);

/*
 * Accept one client (a new blocking channel, transfer full). Returns NULL
 * with the error set on failure; on a non-blocking listener with no client
 * pending the error is G_IO_ERROR_WOULD_BLOCK.
 */
G_GNUC_WARN_UNUSED_RESULT
VhChannelSocket *vh_channel_socket_accept(VhChannelSocket *listener,
                                          GError **errp);

/* getsockname()/getpeername() as GSocketAddress (transfer full). */
G_GNUC_WARN_UNUSED_RESULT
GSocketAddress *vh_channel_socket_get_local_address(VhChannelSocket *s,
                                                    GError **errp);
G_GNUC_WARN_UNUSED_RESULT
GSocketAddress *vh_channel_socket_get_remote_address(VhChannelSocket *s,
                                                     GError **errp);

/* The socket fd (still owned by the channel), or -1 when unconnected. */
int vh_channel_socket_get_fd(VhChannelSocket *s);

/*
 * How soon a TCP connection whose peer fell silent fails. Without these a
 * link that dies without a word (a pulled cable, a firewall dropping
 * packets: no RST ever comes) keeps the connection up for the kernel's
 * ~15 minutes of retransmissions, and an idle one forever.
 *
 * user_timeout_ms: TCP_USER_TIMEOUT, how long sent data may stay
 *     unacknowledged (and, with keepalive, how long probes may go
 *     unanswered) before the connection fails with ETIMEDOUT; 0 = the
 *     kernel's default. A slow but live peer keeps acknowledging, so it
 *     does not fire.
 * keepalive_idle_s, keepalive_interval_s, keepalive_count: SO_KEEPALIVE
 *     with TCP_KEEPIDLE, TCP_KEEPINTVL and TCP_KEEPCNT: an idle connection
 *     is probed after idle seconds, then every interval seconds, and fails
 *     after count unanswered probes (Linux: after user_timeout_ms when
 *     that is set). keepalive_idle_s 0 turns keepalive off (the other two
 *     are then ignored). Ranges: idle and interval 1..32767, count 1..127.
 *
 * All zero is what a new socket has: the kernel's behaviour.
 */
typedef struct {
    guint user_timeout_ms;
    guint keepalive_idle_s;
    guint keepalive_interval_s;
    guint keepalive_count;
} VhTcpLiveness;

/*
 * Apply @l to @s. Returns 1 when set; 0 when @s is connected but not TCP
 * (a UNIX socket, as fd: and the tests use): the options do not exist
 * there, nothing is done and no error is set; -1 with @errp set when @s
 * is not connected, @l is out of range or the kernel refuses an option
 * (the error names the option and the channel).
 */
G_GNUC_WARN_UNUSED_RESULT
int vh_channel_socket_set_liveness(VhChannelSocket *s, const VhTcpLiveness *l,
                                   GError **errp);

G_END_DECLS
