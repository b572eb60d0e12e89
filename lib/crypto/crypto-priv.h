/*
 * Helpers private to lib/crypto.
 */
#pragma once

#include <glib.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdbool.h>

#include "vmhost/util/error.h"

G_BEGIN_DECLS

G_DEFINE_AUTO_CLEANUP_FREE_FUNC(gnutls_x509_privkey_t,
                                gnutls_x509_privkey_deinit, NULL)

/* A loaded certificate list, for g_auto(VhCertList). */
typedef struct {
    gnutls_x509_crt_t *certs;
    size_t n;
} VhCertList;

void vh_cert_list_clear(VhCertList *list);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(VhCertList, vh_cert_list_clear)

/*
 * Read all of @path (transfer full, NUL-terminated; *len excludes the NUL)
 * as bytes, with vh_file_read_regular() (a FIFO or a device is refused).
 * On failure the error is VH_ERROR_CERT_FILE "Unable to read @what @path:
 * <why>", e.g. "Unable to read CA certificate /d/ca-cert.pem: No such
 * file or directory" or "...: not a regular file (a FIFO)". A NUL byte is
 * left to the caller's parser (keys.psk refuses it as VH_ERROR_CONFIG).
 */
G_GNUC_WARN_UNUSED_RESULT
char *vh_crypto_read_file(const char *path, const char *what, size_t *len,
                          GError **errp);

/*
 * vh_crypto_read_file() for a file that must be PEM: a NUL byte (DER or
 * another binary file in a PEM slot) is VH_ERROR_CERT_FILE "Unable to
 * parse @what @path: not PEM text (a NUL byte at byte N: ...)".
 */
G_GNUC_WARN_UNUSED_RESULT
char *vh_crypto_read_pem(const char *path, const char *what, size_t *len,
                         GError **errp);

/*
 * Read and parse every PEM certificate in @path (at least one). Errors:
 * "Unable to read @what @path: ..." / "Unable to parse @what @path: ...".
 * *certs is g_malloc'd (free with vh_pki_cert_list_free()).
 */
G_GNUC_WARN_UNUSED_RESULT
bool vh_crypto_load_certs(const char *path, const char *what,
                          gnutls_x509_crt_t **certs, size_t *n, GError **errp);

/* Read and parse a PEM private key, with errors as above. */
G_GNUC_WARN_UNUSED_RESULT
gnutls_x509_privkey_t vh_crypto_load_key(const char *path, const char *what,
                                         GError **errp);

/*
 * Load @dir/dh-params.pem (PKCS#3 PEM) when it exists: *out is set to the
 * parameters (transfer full), or to NULL when there is no such file.
 */
G_GNUC_WARN_UNUSED_RESULT
bool vh_crypto_load_dh_params(const char *dir, gnutls_dh_params_t *out,
                              GError **errp);

/* One PSK key from keys.psk (the raw bytes of its hex). */
typedef struct {
    size_t len;
    unsigned char data[];
} VhPskKey;

/* Free a key, wiping it first. */
void vh_psk_key_free(gpointer key);

/*
 * Parse the text of a keys.psk file: "username:hexkey" lines, blank lines
 * ignored, the first entry of a username wins (as in GnuTLS). @data must
 * be NUL-terminated at @len; a NUL before @len is an error. Returns
 * username -> VhPskKey (transfer full; the keys wipe themselves when
 * freed), or NULL with a VH_ERROR_CONFIG error naming @path and the line.
 * @data itself is left as it was: the caller wipes it.
 */
G_GNUC_WARN_UNUSED_RESULT
GHashTable *vh_psk_keys_parse(const char *data, size_t len, const char *path,
                              GError **errp);

G_END_DECLS
