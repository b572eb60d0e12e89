/*
 * Helpers private to lib/crypto.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>

#include "vmhost/util/error.h"

G_BEGIN_DECLS

/*
 * Read all of @path (transfer full, NUL-terminated; *len excludes the NUL).
 * On failure the error is VH_ERROR_CERT_FILE "Unable to read @what @path:
 * <strerror>", e.g. "Unable to read CA certificate /d/ca-cert.pem: No such
 * file or directory".
 */
G_GNUC_WARN_UNUSED_RESULT
char *vh_crypto_read_file(const char *path, const char *what, size_t *len,
                          GError **errp);

G_END_DECLS
