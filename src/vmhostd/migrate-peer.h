/*
 * VhMigratePeer: the source daemon's own client connection to the
 * destination daemon for peer-to-peer migration (virsh migrate --p2p):
 * the few synchronous calls it needs on lib/rpc's VhRpcClient, to fold
 * into the GLib library's connection code once that grows migration.
 *
 *     g_autoptr(VhMigratePeer) p = vh_migrate_peer_open(dconnuri, errp);
 *     g_autofree char *uri = vh_migrate_peer_prepare(p, params, flags, errp);
 *     ...  // our vmhost migrates to uri
 *     vh_migrate_peer_finish(p, params, flags, cancelled, &dom, errp);
 *
 * @dconnuri is what virsh passed: DRIVER+tls://HOST[:PORT]/system
 * [?pkipath=DIR&no_verify=1]; CONNECT_OPEN gets DRIVER:///system, as
 * libvirt's remote driver sends it. The TLS client certificate is
 * libvirt's: pkipath's cacert.pem, clientcert.pem and clientkey.pem; else
 * ~/.pki/libvirt/ of the daemon's user when clientcert.pem is there; else
 * /etc/pki/CA/cacert.pem, /etc/pki/libvirt/clientcert.pem and
 * /etc/pki/libvirt/private/clientkey.pem. The destination checks it as any
 * client's: verified against its CA, the DN against tls_allowed_dn_list.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>

#include "driver.h"
#include "vmhost/rpc/client.h"

G_BEGIN_DECLS

typedef struct _VhMigratePeer VhMigratePeer;

/* @keepalive_interval_ms / @keepalive_count: our pings once the
 * destination takes them (0: none). */
G_GNUC_WARN_UNUSED_RESULT
VhMigratePeer *vh_migrate_peer_open(const char *dconnuri,
                                    guint keepalive_interval_ms,
                                    guint keepalive_count, GError **errp);
/* CONNECT_CLOSE and the end of the connection. */
void vh_migrate_peer_free(VhMigratePeer *p);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VhMigratePeer, vh_migrate_peer_free)

/* False once the connection has ended (EOF, missed keepalives). */
bool vh_migrate_peer_is_alive(VhMigratePeer *p);
/* The host part of the URI opened (transfer none). */
const char *vh_migrate_peer_get_host(VhMigratePeer *p);

/* DOMAIN_MIGRATE_PREPARE3_PARAMS: the URI to migrate to (transfer
 * full). */
G_GNUC_WARN_UNUSED_RESULT
char *vh_migrate_peer_prepare(VhMigratePeer *p, GPtrArray *params, guint flags,
                              GError **errp);
/* DOMAIN_MIGRATE_PREPARE_TUNNEL3_PARAMS: the stream that carries the
 * migration to the destination's vmhost (transfer full); @func gets what
 * comes back (see vh_rpc_client_stream_call_sync). */
G_GNUC_WARN_UNUSED_RESULT
VhRpcClientStream *
vh_migrate_peer_prepare_tunnel(VhMigratePeer *p, GPtrArray *params, guint flags,
                               VhRpcClientStreamFunc func, gpointer opaque,
                               GError **errp);
/* DOMAIN_MIGRATE_FINISH3_PARAMS: the destination's domain (transfer full)
 * or NULL (always, when @cancelled). */
VhDomainRef *vh_migrate_peer_finish(VhMigratePeer *p, GPtrArray *params,
                                    guint flags, bool cancelled, GError **errp);

G_END_DECLS
