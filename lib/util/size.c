#include "vmhost/util/size.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "vmhost/util/error.h"

/* The power of 1024 a suffix stands for, or -1. */
static int suffix_shift(char c)
{
    switch (g_ascii_toupper(c)) {
    case 'B':
        return 0;
    case 'K':
        return 10;
    case 'M':
        return 20;
    case 'G':
        return 30;
    case 'T':
        return 40;
    case 'P':
        return 50;
    case 'E':
        return 60;
    default:
        return -1;
    }
}

static bool size_error(const char *str, const char *why, GError **errp)
{
    g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                "invalid size '%s': %s", str, why);
    return false;
}

/*
 * The bytes that the fraction digits [digits, end) of a unit of 2^@shift
 * bytes stand for, exactly, or false when that is not a whole number. The
 * decimal fraction is doubled @shift times, collecting the carries out as
 * bits; what is left must be zero. A fraction whose last non-zero digit is
 * digit n past the point needs n <= @shift to come out whole, which bounds
 * the work.
 */
static bool fraction_bytes(const char *digits, const char *end, int shift,
                           guint64 *out)
{
    guint8 frac[64];
    size_t n = 0;
    guint64 bytes = 0;

    while (end > digits && end[-1] == '0') {
        end--;
    }
    if ((size_t)(end - digits) > (size_t)shift) {
        return false;
    }
    for (const char *p = digits; p < end; p++) {
        frac[n++] = (guint8)(*p - '0');
    }
    for (int bit = 0; bit < shift; bit++) {
        unsigned int carry = 0;
        for (size_t i = n; i-- > 0;) {
            unsigned int v = frac[i] * 2u + carry;
            frac[i] = (guint8)(v % 10);
            carry = v / 10;
        }
        bytes = bytes << 1 | carry;
    }
    for (size_t i = 0; i < n; i++) {
        if (frac[i]) {
            return false;
        }
    }
    *out = bytes;
    return true;
}

bool vh_size_parse(const char *str, char default_unit, guint64 *out,
                   GError **errp)
{
    const char *p = str;
    const char *frac = NULL, *frac_end = NULL;
    char *end = NULL;
    guint64 whole, extra = 0;
    int shift;

    g_return_val_if_fail(suffix_shift(default_unit) >= 0, false);

    if (!str || !g_ascii_isdigit(*p)) {
        return size_error(str ? str : "", "expected a number", errp);
    }
    errno = 0;
    whole = g_ascii_strtoull(p, &end, 10);
    if (errno == ERANGE) {
        return size_error(str, "too large", errp);
    }
    if (*end == '.') {
        const char *fend = end + 1;
        if (!g_ascii_isdigit(*fend)) {
            return size_error(str, "expected digits after '.'", errp);
        }
        while (g_ascii_isdigit(*fend)) {
            fend++;
        }
        /*
         * Only the digits, and exactly: strtod would also take an exponent
         * ("1.5e3" read as 501 bytes, where 'e' is the EiB suffix) and round
         * ("1.1E" accepted, though not a whole number of bytes).
         */
        frac = end + 1;
        frac_end = fend;
        end = (char *)fend;
    }
    if (*end == '\0') {
        shift = suffix_shift(default_unit);
    } else {
        shift = suffix_shift(*end);
        if (shift < 0 || end[1] != '\0') {
            return size_error(str, "unknown suffix (use B, K, M, G, T, P or E)",
                              errp);
        }
    }
    if (shift > 0 && whole > (G_MAXUINT64 >> shift)) {
        return size_error(str, "too large", errp);
    }
    whole <<= shift;
    if (frac && !fraction_bytes(frac, frac_end, shift, &extra)) {
        return size_error(str, "not a whole number of bytes", errp);
    }
    if (whole > G_MAXUINT64 - extra) {
        return size_error(str, "too large", errp);
    }
    *out = whole + extra;
    return true;
}

char *vh_size_format(guint64 bytes)
{
    static const char *const units[] = {"B",   "KiB", "MiB", "GiB",
                                        "TiB", "PiB", "EiB"};
    double v = bytes;
    unsigned i = 0;

    while (v >= 1024 && i < G_N_ELEMENTS(units) - 1) {
        v /= 1024;
        i++;
    }
    if (i == 0) {
        return g_strdup_printf("%" G_GUINT64_FORMAT " B", bytes);
    }
    if (v == floor(v)) {
        return g_strdup_printf("%.0f %s", v, units[i]);
    }
    return g_strdup_printf("%.1f %s", v, units[i]);
}
