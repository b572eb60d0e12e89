/*
 * VhNetListener: listening sockets on one or more addresses that hand each
 * accepted client to a callback on a chosen GMainContext.
 *
 *     static void on_client(VhNetListener *l, VhChannelSocket *client,
 *                           gpointer opaque)
 *     {
 *         start_session(opaque, client);   // takes its own reference
 *     }
 *
 *     g_autoptr(VhNetListener) l = vh_net_listener_new();
 *     if (!vh_net_listener_open(l, "localhost", 0, errp)) {   // 0: any port
 *         return false;
 *     }
 *     g_print("listening on port %u\n", vh_net_listener_get_port(l));
 *     vh_net_listener_set_client_func(l, on_client, server, NULL, NULL);
 *
 * open() binds every address the host resolves to ("localhost": 127.0.0.1
 * and ::1), all on one port: with port 0 the first bind picks it and the
 * rest reuse it. Sockets from several open()/open_address() calls add up.
 *
 * Ownership: the listener owns its listening sockets. The client channel
 * passed to the callback is (transfer none): the listener drops its
 * reference when the callback returns, so the callback refs it to keep it.
 * Disposing the listener closes its sockets and calls the notify of the
 * client func's data.
 */
#pragma once

#include "vmhost/io/channel-socket.h"

G_BEGIN_DECLS

#define VH_TYPE_NET_LISTENER (vh_net_listener_get_type())
G_DECLARE_FINAL_TYPE(VhNetListener, vh_net_listener, VH, NET_LISTENER, GObject)

typedef void (*VhNetListenerClientFunc)(VhNetListener *listener,
                                        VhChannelSocket *client,
                                        gpointer opaque);

VhNetListener *vh_net_listener_new(void);

/*
 * Listen on every address @host resolves to (see vh_socket_address_resolve)
 * at @port (0: a free port, the same for all addresses). Either every
 * address is bound or none is: on failure nothing from this call stays
 * open. Error: "Failed to listen on 127.0.0.1:9000: Address already in use".
 */
G_GNUC_WARN_UNUSED_RESULT
bool vh_net_listener_open(VhNetListener *l, const char *host, guint16 port,
                          GError **errp);
/* Listen on one address of any family (a UNIX path, an abstract name...). */
G_GNUC_WARN_UNUSED_RESULT
bool vh_net_listener_open_address(VhNetListener *l, GSocketAddress *addr,
                                  GError **errp);

/*
 * Adopt @sock, an already listening socket (an inherited fd: see
 * vh_channel_socket_new_fd); the listener takes a reference. Fails with
 * "socket ... is not listening" for a socket without
 * VH_CHANNEL_FEATURE_LISTEN.
 */
G_GNUC_WARN_UNUSED_RESULT
bool vh_net_listener_add_socket(VhNetListener *l, VhChannelSocket *sock,
                                GError **errp);

/* The port of the first inet socket, or 0 when there is none. */
guint16 vh_net_listener_get_port(VhNetListener *l);

/*
 * The listening sockets, VhChannelSocket *, in the order they were opened
 * (transfer none: valid until the next open or disconnect; do not modify).
 */
GPtrArray *vh_net_listener_get_sockets(VhNetListener *l);

/*
 * Call @func once per accepted client, in @ctx (NULL: the global default
 * context), which must be iterated by one thread. Replaces any previous
 * func, whose @notify then runs on its data. A NULL @func stops accepting.
 * Accepted clients are blocking channels.
 */
void vh_net_listener_set_client_func(VhNetListener *l,
                                     VhNetListenerClientFunc func,
                                     gpointer opaque, GDestroyNotify notify,
                                     GMainContext *ctx);

/*
 * Stop polling the listening sockets; new clients wait in the kernel's
 * backlog until resume_accepting. Both are idempotent.
 */
void vh_net_listener_stop_accepting(VhNetListener *l);
void vh_net_listener_resume_accepting(VhNetListener *l);

/* Close every listening socket (the client func stays set). */
void vh_net_listener_disconnect(VhNetListener *l);

G_END_DECLS
