/*
 * libvirt's memory units: b/bytes, KB (1000), k/KiB, MB, M/MiB, GB, G/GiB,
 * TB, T/TiB; no unit means KiB. Results are KiB, rounded up as libvirt
 * rounds a byte count.
 */
#include "domain-internal.h"

#include <errno.h>
#include <stdlib.h>

typedef struct {
    const char *name;
    guint64 bytes;
} Unit;

static const Unit units[] = {
    {"b", 1},
    {"bytes", 1},
    {"KB", 1000},
    {"k", 1024},
    {"KiB", 1024},
    {"MB", 1000 * 1000},
    {"M", 1024 * 1024},
    {"MiB", 1024 * 1024},
    {"GB", G_GUINT64_CONSTANT(1000) * 1000 * 1000},
    {"G", G_GUINT64_CONSTANT(1) << 30},
    {"GiB", G_GUINT64_CONSTANT(1) << 30},
    {"TB", G_GUINT64_CONSTANT(1000) * 1000 * 1000 * 1000},
    {"T", G_GUINT64_CONSTANT(1) << 40},
    {"TiB", G_GUINT64_CONSTANT(1) << 40},
};

static bool parse_number(const char *value, guint64 *out)
{
    g_autofree char *s = g_strstrip(g_strdup(value));
    char *end = NULL;

    if (!g_ascii_isdigit(s[0])) {
        return false;
    }
    errno = 0;
    *out = g_ascii_strtoull(s, &end, 10);
    return errno == 0 && *end == '\0';
}

bool vh_domain_parse_kib(const char *what, const char *value, const char *unit,
                         guint64 *kib, GError **errp)
{
    guint64 n, mult = 0;

    if (!unit) {
        unit = "KiB";
    }
    for (guint i = 0; i < G_N_ELEMENTS(units); i++) {
        if (g_str_equal(units[i].name, unit)) {
            mult = units[i].bytes;
            break;
        }
    }
    if (!mult) {
        return vh_domain_fail(errp, VH_VIR_ERR_XML_ERROR,
                              "invalid %s unit '%s' (expected b, bytes, KB, "
                              "k, KiB, MB, M, MiB, GB, G, GiB, TB, T or TiB)",
                              what, unit);
    }
    if (!value || !parse_number(value, &n)) {
        return vh_domain_fail(errp, VH_VIR_ERR_XML_ERROR,
                              "invalid %s value '%s': expected a non-negative "
                              "integer",
                              what, value ? value : "");
    }
    if (mult % 1024 == 0) {
        mult /= 1024;
        if (n > G_MAXUINT64 / mult) {
            goto overflow;
        }
        *kib = n * mult;
        return true;
    }
    if (n > G_MAXUINT64 / mult) {
        goto overflow;
    }
    /* bytes or KB: round the byte count up to whole KiB */
    *kib = n * mult / 1024 + (n * mult % 1024 != 0);
    return true;

overflow:
    return vh_domain_fail(errp, VH_VIR_ERR_XML_ERROR,
                          "%s value '%s %s' is too large", what, value, unit);
}
