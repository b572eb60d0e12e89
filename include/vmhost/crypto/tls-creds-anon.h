/*
 * VhTlsCredsAnon: -object tls-creds-anon, anonymous (unauthenticated) TLS.
 *
 *     g_autoptr(VhTlsCreds) creds = g_initable_new(
 *         VH_TYPE_TLS_CREDS_ANON, NULL, errp,
 *         "endpoint", VH_TLS_CREDS_ENDPOINT_SERVER, NULL);
 *
 * "dir" is optional; a server loads dh-params.pem from it when present.
 * The priority string gets ":+ANON-ECDH:+ANON-DH" appended.
 */
#pragma once

#include "vmhost/crypto/tls-creds.h"

G_BEGIN_DECLS

#define VH_TLS_ANON_PRIORITY_SUFFIX ":+ANON-ECDH:+ANON-DH"

#define VH_TYPE_TLS_CREDS_ANON (vh_tls_creds_anon_get_type())
G_DECLARE_FINAL_TYPE(VhTlsCredsAnon, vh_tls_creds_anon, VH, TLS_CREDS_ANON,
                     VhTlsCreds)

G_END_DECLS
