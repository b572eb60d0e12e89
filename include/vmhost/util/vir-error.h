/*
 * VH_VIR_ERROR: libvirt's error numbers as a GError domain.
 *
 * The management layer (lib/domain, lib/rpc, vmhostd and the GLib client
 * library) speaks libvirt's remote protocol, whose error replies carry
 * libvirt's virErrorNumber and virErrorDomain. Code on that layer fails
 * with these codes directly, so a reply is built from the GError without a
 * translation table, and a client can tell NO_DOMAIN from AUTH_FAILED:
 *
 *     g_set_error(errp, VH_VIR_ERROR, VH_VIR_ERR_NO_DOMAIN,
 *                 "Domain not found: no domain with matching name '%s'",
 *                 name);
 *     ...
 *     if (g_error_matches(err, VH_VIR_ERROR, VH_VIR_ERR_NO_DOMAIN)) ...
 *
 * The numbers are facts of the wire format (libvirt's public
 * virterror.h); only those vmhost uses are named. The message is the
 * operator's text, in libvirt's style ("Requested operation is not valid:
 * domain is not running").
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define VH_VIR_ERROR (vh_vir_error_quark())
GQuark vh_vir_error_quark(void);

typedef enum {
    VH_VIR_ERR_OK = 0,
    VH_VIR_ERR_INTERNAL_ERROR = 1,
    VH_VIR_ERR_NO_MEMORY = 2,
    VH_VIR_ERR_NO_SUPPORT = 3,
    VH_VIR_ERR_NO_CONNECT = 5,
    VH_VIR_ERR_INVALID_CONN = 6,
    VH_VIR_ERR_INVALID_DOMAIN = 7,
    VH_VIR_ERR_INVALID_ARG = 8,
    VH_VIR_ERR_OPERATION_FAILED = 9,
    VH_VIR_ERR_XML_ERROR = 27,
    VH_VIR_ERR_DOM_EXIST = 28,
    VH_VIR_ERR_OPERATION_DENIED = 29,
    VH_VIR_ERR_OPEN_FAILED = 30,
    VH_VIR_ERR_READ_FAILED = 31,
    VH_VIR_ERR_PARSE_FAILED = 32,
    VH_VIR_ERR_CONF_SYNTAX = 33,
    VH_VIR_ERR_WRITE_FAILED = 34,
    VH_VIR_ERR_SYSTEM_ERROR = 38,
    VH_VIR_ERR_RPC = 39,
    VH_VIR_ERR_GNUTLS_ERROR = 40,
    VH_VIR_ERR_NO_DOMAIN = 42,
    VH_VIR_ERR_AUTH_FAILED = 45,
    VH_VIR_ERR_OPERATION_INVALID = 55,
    VH_VIR_ERR_CONFIG_UNSUPPORTED = 67,
    VH_VIR_ERR_OPERATION_TIMEOUT = 68,
    VH_VIR_ERR_ARGUMENT_UNSUPPORTED = 74,
    VH_VIR_ERR_OPERATION_ABORTED = 78,
    VH_VIR_ERR_NO_DOMAIN_METADATA = 80,
    VH_VIR_ERR_OVERFLOW = 82,
    VH_VIR_ERR_OPERATION_UNSUPPORTED = 84,
    VH_VIR_ERR_RESOURCE_BUSY = 87,
    VH_VIR_ERR_ACCESS_DENIED = 88,
    VH_VIR_ERR_AUTH_UNAVAILABLE = 94,
} VhVirErrorCode;

/* libvirt's virErrorDomain: where an error came from (the reply's domain). */
typedef enum {
    VH_VIR_FROM_NONE = 0,
    VH_VIR_FROM_XML = 5,
    VH_VIR_FROM_DOM = 6,
    VH_VIR_FROM_RPC = 7,
    VH_VIR_FROM_CONF = 9,
    VH_VIR_FROM_QEMU = 10,
    VH_VIR_FROM_REMOTE = 13,
    VH_VIR_FROM_DOMAIN = 20,
    VH_VIR_FROM_STREAMS = 38,
} VhVirErrorDomain;

G_END_DECLS
