/*
 * Shared inside libvmhost-gobject: the wire pieces of connections and
 * domains, the URI, the console stream. Not installed.
 */
#pragma once

#include "vmhost-gobject.h"
#include "vmhost/domain/domain-def.h"
#include "vmhost/rpc/client.h"
#include "vmhost/rpc/remote-protocol.h"

#include <stdbool.h>

G_BEGIN_DECLS

/* libvirt's virDomainEventType */
enum {
    VHG_EVENT_DEFINED = 0,
    VHG_EVENT_UNDEFINED = 1,
    VHG_EVENT_STARTED = 2,
    VHG_EVENT_SUSPENDED = 3,
    VHG_EVENT_RESUMED = 4,
    VHG_EVENT_STOPPED = 5,
    VHG_EVENT_SHUTDOWN = 6,
    VHG_EVENT_PMSUSPENDED = 7,
    VHG_EVENT_CRASHED = 8,
};

/* ---- vhg-uri.c ---- */
typedef struct {
    char *driver;    /* "vmhost", "qemu", "test" */
    char *transport; /* "tls" or "unix" */
    char *host;      /* tls only */
    int port;
    char *socket; /* unix only */
    char *pkipath;
    bool no_verify;
    char *tls_priority;
    char *name; /* what CONNECT_OPEN gets: "vmhost:///system" */
} VhgUri;

G_GNUC_INTERNAL
bool vhg_uri_parse(const char *uri, VhgUri *out, GError **error);
G_GNUC_INTERNAL
void vhg_uri_clear(VhgUri *u);

/* ---- vhg-connection.c ---- */
/* The client of an open connection (transfer full), or INVALID_CONN. */
G_GNUC_INTERNAL
VhRpcClient *vhg_connection_get_client(VhgConnection *conn, GError **error);
/* The connection's object for a domain on the wire (created and added,
 * emitting domain-added, when new). (transfer full) */
G_GNUC_INTERNAL
VhgDomain *vhg_connection_get_domain(VhgConnection *conn, const char *name,
                                     const guint8 *uuid, int id);
G_GNUC_INTERNAL
void vhg_connection_forget_domain(VhgConnection *conn, VhgDomain *dom);

/* ---- vhg-domain.c ---- */
G_GNUC_INTERNAL
VhgDomain *vhg_domain_new_internal(VhgConnection *conn, const char *name,
                                   const guint8 *uuid, int id);
G_GNUC_INTERNAL
const guint8 *vhg_domain_get_uuid_bytes(VhgDomain *dom);
G_GNUC_INTERNAL
void vhg_domain_put_wire(VhgDomain *dom, GByteArray *b);
/* NULL name, id -2, state or persistent -1 leave a value alone; notifies
 * what changed */
G_GNUC_INTERNAL
void vhg_domain_update(VhgDomain *dom, const char *name, int id, int state,
                       int persistent);
G_GNUC_INTERNAL
void vhg_domain_handle_event(VhgDomain *dom, int event, int detail);
/* The client of the domain's open connection (transfer full), or an
 * INVALID_CONN error. */
G_GNUC_INTERNAL
VhRpcClient *vhg_domain_get_client(VhgDomain *dom, GError **error);

/* ---- vhg-console.c ---- */
G_GNUC_INTERNAL
GIOStream *vhg_console_open(VhRpcClient *client, const GByteArray *args,
                            GCancellable *cancellable, GError **error);

/* ---- vhg-config-domain.c ---- */
/* The document's text for DEFINE_XML (transfer full). */
G_GNUC_INTERNAL
char *vhg_config_domain_format(VhgConfigDomain *conf);

G_END_DECLS
