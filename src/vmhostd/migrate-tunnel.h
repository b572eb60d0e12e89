/*
 * VhMigrateTunnel: the source side of a tunnelled migration (virsh migrate
 * --p2p --tunnelled). vmhost migrates to a UNIX socket in a private
 * temporary directory; the tunnel accepts that one connection and relays
 * it both ways through an RPC stream to the destination daemon
 * (PREPARE_TUNNEL3_PARAMS), which relays it into the destination's vmhost:
 * the migration travels inside the daemons' own TLS connection.
 *
 *     g_autoptr(VhMigrateTunnel) t = vh_migrate_tunnel_new(errp);
 *     s = vh_migrate_peer_prepare_tunnel(peer, params, flags,
 *                                        vh_migrate_tunnel_on_stream, t, ..);
 *     vh_migrate_tunnel_start(t, s);
 *     ok = vh_driver_migrate_perform(drv, uuid,
 *                                    vh_migrate_tunnel_get_uri(t), ..);
 *     vh_migrate_tunnel_stop(t, !ok);
 *     vh_rpc_client_stream_free(s);   // before the tunnel goes
 *
 * Copies per byte on this side: vmhost -> socket (kernel), socket -> our
 * buffer, buffer -> the stream's packet, packet -> TLS record (GnuTLS
 * encrypts into its own buffer), then the kernel; vmhost's native TLS
 * stream has none of the middle ones.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>

#include "vmhost/rpc/client.h"

G_BEGIN_DECLS

typedef struct _VhMigrateTunnel VhMigrateTunnel;

G_GNUC_WARN_UNUSED_RESULT
VhMigrateTunnel *vh_migrate_tunnel_new(GError **errp);
void vh_migrate_tunnel_free(VhMigrateTunnel *t);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VhMigrateTunnel, vh_migrate_tunnel_free)

/* "unix:PATH" for vmhost's migrate (transfer none). */
const char *vh_migrate_tunnel_get_uri(VhMigrateTunnel *t);
/* The stream's callback (@opaque: the tunnel): what the destination
 * sends back (vmhost's return path) goes to the source's vmhost. */
void vh_migrate_tunnel_on_stream(GBytes *data, const GError *err,
                                 gpointer opaque);
/* Accept vmhost's connection and relay it into @s (transfer none; it
 * must outlive vh_migrate_tunnel_stop). */
void vh_migrate_tunnel_start(VhMigrateTunnel *t, VhRpcClientStream *s);
/* Wait for the relay to end (@cancel: end it now); bytes relayed out. */
guint64 vh_migrate_tunnel_stop(VhMigrateTunnel *t, bool cancel);

G_END_DECLS
