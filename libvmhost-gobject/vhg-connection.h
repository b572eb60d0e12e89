/*
 * VhgConnection: a connection to a server of libvirt's remote protocol
 * (vmhostd or libvirtd), spoken directly on GIO and vmhost's channel and
 * TLS layers: no libvirt.so, no second event loop.
 *
 *     g_autoptr(VhgConnection) conn =
 *         vhg_connection_new("vmhost+tls://host.example.org/system");
 *     if (!vhg_connection_open(conn, NULL, &err) ||
 *         !vhg_connection_fetch_domains(conn, NULL, &err)) ...
 *     GList *doms = vhg_connection_get_domains(conn);
 *
 * URIs are the ones libvirt's clients take:
 * DRIVER[+TRANSPORT]://[HOST[:PORT]]/PATH with TRANSPORT tls (the default with
 * a host; port 16514) or unix (the default without one; ?socket=PATH, else the
 * driver's usual socket), and the query parameters pkipath=DIR (cacert.pem,
 * clientcert.pem, clientkey.pem), no_verify=1 and tls_priority=STRING. Without
 * pkipath the certificates are where virsh looks for them: for root
 * /etc/pki/CA/cacert.pem, /etc/pki/libvirt/clientcert.pem and
 * /etc/pki/libvirt/private/clientkey.pem; for other users the same names in
 * ~/.pki/libvirt/ when they exist there. The server's certificate must
 * name HOST. The server sees the URI without transport, host and these
 * parameters (vmhost+tls://h/system opens vmhost:///system).
 *
 * Signals from the server's lifecycle events (and closed) are emitted in
 * the thread-default main context of the thread that opened the
 * connection; an async call's callback runs in its caller's thread-default
 * context; a signal a call itself causes (domain-added after
 * define_domain) is emitted where the call completes: in the calling
 * thread for a sync call, in the callback's context for an async one.
 * Sync calls block only their thread and never iterate a main context.
 */
#pragma once

#if !defined(VMHOST_GOBJECT_INSIDE) && !defined(VMHOST_GOBJECT_COMPILATION)
#error "Only <vmhost-gobject.h> can be included directly."
#endif

#include <gio/gio.h>

#include "vhg-config-domain.h"
#include "vhg-domain.h"

G_BEGIN_DECLS

#define VHG_TYPE_CONNECTION (vhg_connection_get_type())
G_DECLARE_FINAL_TYPE(VhgConnection, vhg_connection, VHG, CONNECTION, GObject)

VhgConnection *vhg_connection_new(const char *uri);
const char *vhg_connection_get_uri(VhgConnection *conn);
gboolean vhg_connection_is_open(VhgConnection *conn);

gboolean vhg_connection_open(VhgConnection *conn, GCancellable *cancellable,
                             GError **error);
void vhg_connection_open_async(VhgConnection *conn, GCancellable *cancellable,
                               GAsyncReadyCallback callback,
                               gpointer user_data);
gboolean vhg_connection_open_finish(VhgConnection *conn, GAsyncResult *result,
                                    GError **error);
void vhg_connection_close(VhgConnection *conn);

void vhg_connection_set_call_timeout(VhgConnection *conn, guint timeout_ms);
guint vhg_connection_get_call_timeout(VhgConnection *conn);

char *vhg_connection_get_hostname(VhgConnection *conn,
                                  GCancellable *cancellable, GError **error);
void vhg_connection_get_hostname_async(VhgConnection *conn,
                                       GCancellable *cancellable,
                                       GAsyncReadyCallback callback,
                                       gpointer user_data);
char *vhg_connection_get_hostname_finish(VhgConnection *conn,
                                         GAsyncResult *result, GError **error);

gboolean vhg_connection_fetch_domains(VhgConnection *conn,
                                      GCancellable *cancellable,
                                      GError **error);
void vhg_connection_fetch_domains_async(VhgConnection *conn,
                                        GCancellable *cancellable,
                                        GAsyncReadyCallback callback,
                                        gpointer user_data);
gboolean vhg_connection_fetch_domains_finish(VhgConnection *conn,
                                             GAsyncResult *result,
                                             GError **error);
GList *vhg_connection_get_domains(VhgConnection *conn);
VhgDomain *vhg_connection_find_domain_by_name(VhgConnection *conn,
                                              const char *name);
VhgDomain *vhg_connection_find_domain_by_uuid(VhgConnection *conn,
                                              const char *uuid);

VhgDomain *vhg_connection_define_domain(VhgConnection *conn,
                                        VhgConfigDomain *conf,
                                        GCancellable *cancellable,
                                        GError **error);
void vhg_connection_define_domain_async(VhgConnection *conn,
                                        VhgConfigDomain *conf,
                                        GCancellable *cancellable,
                                        GAsyncReadyCallback callback,
                                        gpointer user_data);
VhgDomain *vhg_connection_define_domain_finish(VhgConnection *conn,
                                               GAsyncResult *result,
                                               GError **error);
VhgDomain *vhg_connection_create_domain(VhgConnection *conn,
                                        VhgConfigDomain *conf, guint flags,
                                        GCancellable *cancellable,
                                        GError **error);
void vhg_connection_create_domain_async(VhgConnection *conn,
                                        VhgConfigDomain *conf, guint flags,
                                        GCancellable *cancellable,
                                        GAsyncReadyCallback callback,
                                        gpointer user_data);
VhgDomain *vhg_connection_create_domain_finish(VhgConnection *conn,
                                               GAsyncResult *result,
                                               GError **error);

G_END_DECLS
