/*
 * VhRemoteServer: libvirt's remote protocol (REMOTE_PROGRAM 0x20008086 v1
 * and KEEPALIVE_PROGRAM) served over connected client channels, on top of
 * lib/rpc, with the procedures implemented on a VhDriver.
 *
 *     VhRemoteLimits lim = { .max_clients = 5000, .max_workers = 20,
 *                            .keepalive_interval = 5, .keepalive_count = 5 };
 *     VhRemoteServer *srv = vh_remote_server_new(drv, &lim, NULL);
 *     ...  // the daemon accepts, handshakes TLS, checks the DN, then:
 *     vh_remote_server_add_client(srv, channel, true, false, "CN=admin");
 *
 * The daemon's program (main.c) owns listening, TLS handshakes and
 * tls_allowed_dn_list; this server owns everything after: the 0x01
 * confirmation byte libvirt's clients wait for after a TLS handshake,
 * framing, the limits of every packet field, dispatch of calls to worker
 * threads (a slow call never delays another connection), replies, lifecycle
 * events, console streams and keepalive.
 */
#pragma once

#include <stdbool.h>

#include "driver.h"
#include "vmhost/io/channel.h"

G_BEGIN_DECLS

typedef struct {
    guint max_clients;        /* beyond it a new client gets an error reply
                                 to its first call and is closed */
    guint max_workers;        /* worker threads for calls */
    guint keepalive_interval; /* seconds; 0 or -1 disables our pings */
    guint keepalive_count;    /* unanswered pings before the link drops */
    guint idle_timeout;       /* seconds a client that never sends a packet
                                 is kept (0: keepalive_interval * count) */
} VhRemoteLimits;

typedef struct _VhRemoteServer VhRemoteServer;

VhRemoteServer *vh_remote_server_new(VhDriver *drv,
                                     const VhRemoteLimits *limits,
                                     GMainContext *ctx);
void vh_remote_server_free(VhRemoteServer *srv);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VhRemoteServer, vh_remote_server_free)

/*
 * Serve a connected client: @channel is a socket (UNIX) or a TLS channel
 * whose handshake and DN check are done (@tls true: send the 0x01 byte
 * first). @readonly: every call that changes state fails with
 * OPERATION_DENIED. @identity names the client in log lines ("CN=admin,
 * O=Example from 127.0.0.1:40312", "uid 1000 pid 4242"). The server takes
 * its own reference.
 */
void vh_remote_server_add_client(VhRemoteServer *srv, VhChannel *channel,
                                 bool tls, bool readonly, const char *identity);
guint vh_remote_server_get_n_clients(VhRemoteServer *srv);

/* Close every client (their pending calls finish first). */
void vh_remote_server_shutdown(VhRemoteServer *srv);

G_END_DECLS
