/*
 * vmhost error domain.
 *
 * Errors travel as GError. I/O failures use G_IO_ERROR codes where GIO has
 * a fitting one (G_IO_ERROR_CONNECTION_REFUSED, G_IO_ERROR_TIMED_OUT, ...);
 * VH_ERROR carries the failures that are vmhost's own, so that callers and
 * tests can tell them apart without parsing messages:
 *
 *     if (g_error_matches(err, VH_ERROR, VH_ERROR_TLS_PREMATURE_EOF)) ...
 *
 * Messages are written for an operator: what failed, on what, and why.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define VH_ERROR (vh_error_quark())
GQuark vh_error_quark(void);

typedef enum {
    VH_ERROR_FAILED,            /* anything without a more precise code */
    VH_ERROR_INVALID_ARGUMENT,  /* a bad option, property or parameter */
    VH_ERROR_NOT_SUPPORTED,     /* the channel or object lacks a feature */
    VH_ERROR_CONFIG,            /* a malformed config or priority string */
    VH_ERROR_CERT_FILE,         /* a missing, unreadable or corrupt file */
    VH_ERROR_CERT_CHECK,        /* a certificate broke a sanity rule */
    VH_ERROR_TLS_HANDSHAKE,     /* the TLS handshake failed */
    VH_ERROR_TLS_PEER,          /* the peer failed verification */
    VH_ERROR_TLS_PREMATURE_EOF, /* the peer closed without close-notify */
    VH_ERROR_AUTHZ_DENIED,      /* an authz object refused the identity */
    VH_ERROR_CHILD_FAILED,      /* a child process exited non-zero */
} VhErrorCode;

/*
 * The one errno-to-GError path: set @errp (if not NULL) to G_IO_ERROR with
 * the code g_io_error_from_errno(@errnum) and the message
 * "<printf(@fmt, ...)>: <strerror(@errnum)>".
 */
void vh_set_error_errno(GError **errp, int errnum, const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);

/*
 * A structured GLib log record as one line for the operator, in the form
 * programs print their own errors: "@prog: warning: MESSAGE" (errors and
 * criticals "error: ", warnings "warning: ", the rest bare), without a
 * line end. NULL when GLib's default writer would drop the record (debug
 * and info unless G_MESSAGES_DEBUG asks for them). For log writer
 * functions (g_log_set_writer_func) of the programs.
 */
char *vh_log_format(const char *prog, GLogLevelFlags level,
                    const GLogField *fields, gsize n_fields);

G_END_DECLS
