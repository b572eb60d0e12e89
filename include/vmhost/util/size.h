/*
 * Sizes as QEMU's command line writes them: "4G", "512M", "1.5G", "4096".
 *
 *     guint64 ram;
 *     if (!vh_size_parse("4G", 'B', &ram, errp)) { return false; }
 *
 * Suffixes B, K, M, G, T, P, E (case-insensitive) are powers of 1024. A
 * number without a suffix is taken in @default_unit ('B' for bytes, 'M' for
 * monitor commands whose values default to MiB). A fraction is allowed with
 * a suffix ("1.5G"), and must come out as a whole number of bytes.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>

G_BEGIN_DECLS

G_GNUC_WARN_UNUSED_RESULT
bool vh_size_parse(const char *str, char default_unit, guint64 *out,
                   GError **errp);

/* "1 GiB", "512 MiB", "1.5 KiB", "17 B" (transfer full). */
char *vh_size_format(guint64 bytes);

G_END_DECLS
