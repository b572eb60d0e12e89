/*
 * VhTlsCredsX509: -object tls-creds-x509, credentials from a QEMU-layout
 * directory of PEM files.
 *
 *     g_autoptr(VhTlsCreds) creds = g_initable_new(
 *         VH_TYPE_TLS_CREDS_X509, NULL, errp,
 *         "endpoint", VH_TLS_CREDS_ENDPOINT_SERVER,
 *         "dir", "/etc/pki/vmhost", "sanity-check", TRUE, NULL);
 *
 * Files in "dir": ca-cert.pem (required; may hold several CAs), ca-crl.pem
 * (optional, server), server-cert.pem + server-key.pem (required for a
 * server), client-cert.pem + client-key.pem (optional for a client, both or
 * neither), dh-params.pem (optional, server, legacy), and extra server
 * identities server-cert-N.pem + server-key-N.pem (N = 0..3, up to the first
 * missing cert; a cert without its key is an error). A cert file may hold a
 * chain, leaf first.
 *
 * libvirt's layout names the files one by one instead: with "ca-file" set,
 * "dir" is not used and the files are "ca-file", "crl-file" (optional; a
 * missing file is skipped), "cert-file" + "key-file" (required for a server;
 * both or neither for a client); no extra identities, no DH parameters.
 *
 *     g_initable_new(VH_TYPE_TLS_CREDS_X509, NULL, errp,
 *         "endpoint", VH_TLS_CREDS_ENDPOINT_SERVER,
 *         "ca-file", "/etc/pki/CA/cacert.pem",
 *         "cert-file", "/etc/pki/libvirt/servercert.pem",
 *         "key-file", "/etc/pki/libvirt/private/serverkey.pem", NULL);
 *
 * Loading fails with an error naming the file and the reason; with
 * "sanity-check" on (the default) every identity passes the checks of
 * x509-check.h first, and a private key others can read is a warning
 * (logged, and listed by vh_tls_creds_x509_get_warnings() for info tls);
 * "strict" refuses such a key as well; "off" checks nothing (QEMU's
 * sanity-check=off). The property is an enum whose values 0 and 1 are off
 * and on, so TRUE/FALSE from C and on/off/yes/no/true/false in option
 * strings keep working. A server that verifies peers requires a client
 * certificate in the handshake (GNUTLS_CERT_REQUIRE).
 */
#pragma once

#include "vmhost/crypto/tls-creds.h"

G_BEGIN_DECLS

/* File names inside the credentials directory. */
#define VH_TLS_X509_CA_CERT     "ca-cert.pem"
#define VH_TLS_X509_CA_CRL      "ca-crl.pem"
#define VH_TLS_X509_SERVER_CERT "server-cert.pem"
#define VH_TLS_X509_SERVER_KEY  "server-key.pem"
#define VH_TLS_X509_CLIENT_CERT "client-cert.pem"
#define VH_TLS_X509_CLIENT_KEY  "client-key.pem"
#define VH_TLS_X509_DH_PARAMS   "dh-params.pem"
/* Extra identities: server-cert-N.pem / server-key-N.pem, N < this. */
#define VH_TLS_X509_MAX_EXTRA_IDENTITIES 4

#define VH_TYPE_TLS_CREDS_X509 (vh_tls_creds_x509_get_type())
G_DECLARE_FINAL_TYPE(VhTlsCredsX509, vh_tls_creds_x509, VH, TLS_CREDS_X509,
                     VhTlsCreds)

typedef enum {
    VH_TLS_CREDS_X509_SANITY_OFF = 0,   /* no checks (QEMU's "off") */
    VH_TLS_CREDS_X509_SANITY_ON = 1,    /* QEMU's checks; key mode warned */
    VH_TLS_CREDS_X509_SANITY_STRICT = 2 /* also refuse a key others read */
} VhTlsCredsX509Sanity;

#define VH_TYPE_TLS_CREDS_X509_SANITY (vh_tls_creds_x509_sanity_get_type())
GType vh_tls_creds_x509_sanity_get_type(void);

/* True unless sanity-check=off. */
bool vh_tls_creds_x509_get_sanity_check(VhTlsCredsX509 *creds);
VhTlsCredsX509Sanity vh_tls_creds_x509_get_sanity_mode(VhTlsCredsX509 *creds);
/*
 * What loading found but let pass, as sentences naming the file (borrowed
 * GPtrArray of char *; empty when nothing): today a private key others can
 * read, with sanity-check=on.
 */
GPtrArray *vh_tls_creds_x509_get_warnings(VhTlsCredsX509 *creds);
/* Number of identities loaded (0 for a client without a certificate). */
unsigned int vh_tls_creds_x509_get_n_identities(VhTlsCredsX509 *creds);
/* The loaded GnuTLS credentials (borrowed; NULL before loading). */
gnutls_certificate_credentials_t
vh_tls_creds_x509_get_gnutls(VhTlsCredsX509 *creds);

G_END_DECLS
