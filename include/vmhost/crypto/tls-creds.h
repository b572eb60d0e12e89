/*
 * VhTlsCreds: the abstract TLS credentials object behind -object
 * tls-creds-x509 / tls-creds-anon / tls-creds-psk.
 *
 * Credentials are GInitable: properties are set at construction, then
 * g_initable_init() loads the files, runs the sanity checks and compiles the
 * priority string, so a bad directory or a typo in priority= fails when the
 * object is created, never at the first connection.
 *
 *     g_autoptr(VhTlsCreds) creds = g_initable_new(
 *         VH_TYPE_TLS_CREDS_X509, NULL, errp,
 *         "endpoint", VH_TLS_CREDS_ENDPOINT_SERVER,
 *         "dir", "/etc/pki/vmhost", NULL);
 *
 * Properties of every type: "endpoint" (VhTlsCredsEndpoint, default client),
 * "dir" (string), "verify-peer" (bool, default true), "priority" (string,
 * default unset: the build default). Sessions (VhTlsSession) take a loaded
 * creds object and apply it to each gnutls_session_t.
 */
#pragma once

#include <gio/gio.h>
#include <gnutls/gnutls.h>
#include <stdbool.h>

#include "vmhost/util/error.h"

G_BEGIN_DECLS

typedef enum {
    VH_TLS_CREDS_ENDPOINT_CLIENT,
    VH_TLS_CREDS_ENDPOINT_SERVER,
} VhTlsCredsEndpoint;

#define VH_TYPE_TLS_CREDS_ENDPOINT (vh_tls_creds_endpoint_get_type())
GType vh_tls_creds_endpoint_get_type(void);

/* Where the effective priority string came from (see tls-priority.h). */
typedef enum {
    VH_TLS_PRIORITY_SOURCE_OBJECT,  /* the object's priority= */
    VH_TLS_PRIORITY_SOURCE_CONFIG,  /* tls_priority in vmhost.conf */
    VH_TLS_PRIORITY_SOURCE_DEFAULT, /* the build default (meson option) */
} VhTlsPrioritySource;

/* Defined in tls-priority.h. */
typedef struct _VhTlsPriority VhTlsPriority;

#define VH_TYPE_TLS_CREDS (vh_tls_creds_get_type())
G_DECLARE_DERIVABLE_TYPE(VhTlsCreds, vh_tls_creds, VH, TLS_CREDS, GObject)

struct _VhTlsCredsClass {
    GObjectClass parent_class;

    /*
     * Mandatory. Read the files and build the GnuTLS credentials from the
     * properties; called once by g_initable_init(). Errors name the file
     * and the reason.
     */
    bool (*load)(VhTlsCreds *creds, GError **errp);
    /*
     * Mandatory. Attach the credentials to a new @session
     * (gnutls_credentials_set and whatever else the type needs).
     */
    bool (*apply)(VhTlsCreds *creds, gnutls_session_t session, GError **errp);
    /*
     * Optional. Appended to the effective priority string, e.g.
     * ":+ANON-ECDH:+ANON-DH" for anon credentials.
     */
    const char *priority_suffix;

    gpointer padding[8];
};

VhTlsCredsEndpoint vh_tls_creds_get_endpoint(VhTlsCreds *creds);
/* "server" or "client". */
const char *vh_tls_creds_endpoint_name(VhTlsCredsEndpoint endpoint);
const char *vh_tls_creds_get_dir(VhTlsCreds *creds);
bool vh_tls_creds_get_verify_peer(VhTlsCreds *creds);

/*
 * Fails unless @creds were made for @endpoint, with QEMU's message
 * "Expected TLS credentials for a server endpoint" (or client).
 */
G_GNUC_WARN_UNUSED_RESULT
bool vh_tls_creds_check_endpoint(VhTlsCreds *creds, VhTlsCredsEndpoint endpoint,
                                 GError **errp);

/* The effective priority string (with the type's suffix) and its source. */
const char *vh_tls_creds_get_priority(VhTlsCreds *creds);
VhTlsPrioritySource vh_tls_creds_get_priority_source(VhTlsCreds *creds);
/*
 * The whole decision: requested string, source, keyword or baseline, system
 * file (see tls-priority.h). (transfer none)
 */
const VhTlsPriority *vh_tls_creds_get_priority_info(VhTlsCreds *creds);

/*
 * Prepare @session for these credentials: priority, credentials, and for a
 * server that verifies peers, the certificate request. Used by VhTlsSession.
 */
G_GNUC_WARN_UNUSED_RESULT
bool vh_tls_creds_apply(VhTlsCreds *creds, gnutls_session_t session,
                        GError **errp);

G_END_DECLS
