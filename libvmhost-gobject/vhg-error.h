/*
 * VhgError: libvirt's error numbers as the library's GError domain.
 *
 *     if (g_error_matches(err, VHG_ERROR, VHG_ERROR_NO_DOMAIN)) ...
 *
 * The domain is the one the rest of vmhost's management layer uses
 * (vmhost/util/vir-error.h), so a server's error reply arrives with its
 * libvirt code unchanged; the numbers are libvirt's virErrorNumber.
 */
#pragma once

#if !defined(VMHOST_GOBJECT_INSIDE) && !defined(VMHOST_GOBJECT_COMPILATION)
#error "Only <vmhost-gobject.h> can be included directly."
#endif

#include <glib-object.h>

G_BEGIN_DECLS

/**
 * VHG_ERROR:
 *
 * The error domain of every error the library reports, apart from
 * `G_IO_ERROR_CANCELLED` for a cancelled call.
 */
#define VHG_ERROR (vhg_error_quark())

/**
 * VhgError:
 * @VHG_ERROR_OK: no error
 * @VHG_ERROR_INTERNAL_ERROR: internal error
 * @VHG_ERROR_NO_MEMORY: out of memory
 * @VHG_ERROR_NO_SUPPORT: the server does not support the function
 * @VHG_ERROR_NO_CONNECT: no connection driver for the URI
 * @VHG_ERROR_INVALID_CONN: the connection is not open
 * @VHG_ERROR_INVALID_DOMAIN: invalid domain object
 * @VHG_ERROR_INVALID_ARG: invalid argument
 * @VHG_ERROR_OPERATION_FAILED: a command failed
 * @VHG_ERROR_XML_ERROR: malformed or invalid XML
 * @VHG_ERROR_DOM_EXIST: the domain exists already
 * @VHG_ERROR_OPERATION_DENIED: read-only connection
 * @VHG_ERROR_OPEN_FAILED: failed to open a file
 * @VHG_ERROR_READ_FAILED: failed to read
 * @VHG_ERROR_PARSE_FAILED: failed to parse
 * @VHG_ERROR_CONF_SYNTAX: configuration syntax error
 * @VHG_ERROR_WRITE_FAILED: failed to write
 * @VHG_ERROR_SYSTEM_ERROR: a system call failed
 * @VHG_ERROR_RPC: a protocol error: malformed packets, a dropped connection
 * @VHG_ERROR_GNUTLS_ERROR: a TLS error
 * @VHG_ERROR_NO_DOMAIN: no such domain
 * @VHG_ERROR_AUTH_FAILED: authentication failed
 * @VHG_ERROR_OPERATION_INVALID: not valid in the domain's state
 * @VHG_ERROR_CONFIG_UNSUPPORTED: the configuration is not supported
 * @VHG_ERROR_OPERATION_TIMEOUT: no reply in time
 * @VHG_ERROR_ARGUMENT_UNSUPPORTED: an argument is not supported
 * @VHG_ERROR_OPERATION_ABORTED: the operation was aborted
 * @VHG_ERROR_NO_DOMAIN_METADATA: no such metadata
 * @VHG_ERROR_OVERFLOW: a value overflowed
 * @VHG_ERROR_OPERATION_UNSUPPORTED: the operation is not supported
 * @VHG_ERROR_RESOURCE_BUSY: the resource is busy
 * @VHG_ERROR_ACCESS_DENIED: access denied
 * @VHG_ERROR_AUTH_UNAVAILABLE: no usable authentication method
 *
 * libvirt's error codes (virErrorNumber), as servers send them.
 */
typedef enum {
    VHG_ERROR_OK = 0,
    VHG_ERROR_INTERNAL_ERROR = 1,
    VHG_ERROR_NO_MEMORY = 2,
    VHG_ERROR_NO_SUPPORT = 3,
    VHG_ERROR_NO_CONNECT = 5,
    VHG_ERROR_INVALID_CONN = 6,
    VHG_ERROR_INVALID_DOMAIN = 7,
    VHG_ERROR_INVALID_ARG = 8,
    VHG_ERROR_OPERATION_FAILED = 9,
    VHG_ERROR_XML_ERROR = 27,
    VHG_ERROR_DOM_EXIST = 28,
    VHG_ERROR_OPERATION_DENIED = 29,
    VHG_ERROR_OPEN_FAILED = 30,
    VHG_ERROR_READ_FAILED = 31,
    VHG_ERROR_PARSE_FAILED = 32,
    VHG_ERROR_CONF_SYNTAX = 33,
    VHG_ERROR_WRITE_FAILED = 34,
    VHG_ERROR_SYSTEM_ERROR = 38,
    VHG_ERROR_RPC = 39,
    VHG_ERROR_GNUTLS_ERROR = 40,
    VHG_ERROR_NO_DOMAIN = 42,
    VHG_ERROR_AUTH_FAILED = 45,
    VHG_ERROR_OPERATION_INVALID = 55,
    VHG_ERROR_CONFIG_UNSUPPORTED = 67,
    VHG_ERROR_OPERATION_TIMEOUT = 68,
    VHG_ERROR_ARGUMENT_UNSUPPORTED = 74,
    VHG_ERROR_OPERATION_ABORTED = 78,
    VHG_ERROR_NO_DOMAIN_METADATA = 80,
    VHG_ERROR_OVERFLOW = 82,
    VHG_ERROR_OPERATION_UNSUPPORTED = 84,
    VHG_ERROR_RESOURCE_BUSY = 87,
    VHG_ERROR_ACCESS_DENIED = 88,
    VHG_ERROR_AUTH_UNAVAILABLE = 94,
} VhgError;

GQuark vhg_error_quark(void);

G_END_DECLS
