/*
 * VhTlsCredsPsk: -object tls-creds-psk, pre-shared keys.
 *
 *     g_autoptr(VhTlsCreds) creds = g_initable_new(
 *         VH_TYPE_TLS_CREDS_PSK, NULL, errp,
 *         "endpoint", VH_TLS_CREDS_ENDPOINT_CLIENT, "dir", dir,
 *         "username", "alice", NULL);
 *
 * "dir" holds keys.psk: one "username:hexkey" per line (blank lines
 * ignored). A client uses the key of its "username" (default "qemu"); a
 * server looks up whichever user the client names. "username" may only be
 * set on a client. The priority string gets ":+ECDHE-PSK:+DHE-PSK:+PSK"
 * appended.
 */
#pragma once

#include "vmhost/crypto/tls-creds.h"

G_BEGIN_DECLS

#define VH_TLS_PSK_KEYS_FILE        "keys.psk"
#define VH_TLS_PSK_DEFAULT_USERNAME "qemu"
#define VH_TLS_PSK_PRIORITY_SUFFIX  ":+ECDHE-PSK:+DHE-PSK:+PSK"

#define VH_TYPE_TLS_CREDS_PSK (vh_tls_creds_psk_get_type())
G_DECLARE_FINAL_TYPE(VhTlsCredsPsk, vh_tls_creds_psk, VH, TLS_CREDS_PSK,
                     VhTlsCreds)

/* The username a client presents ("qemu" unless set). */
const char *vh_tls_creds_psk_get_username(VhTlsCredsPsk *creds);

G_END_DECLS
