/*
 * vh_size_parse(): sizes typed by operators ("4G", "1.5M", "4096").
 *
 * Invariants: success xor an error that quotes the input; only strings of
 * the documented shape DIGITS[.DIGITS][SUFFIX] are accepted; the value
 * agrees with an independent integer computation; a suffixed size does not
 * depend on the default unit; and what vh_size_format() prints parses back
 * to the same value whenever the printed form is exact.
 */
#include "fuzz-common.h"

#include "vmhost/util/error.h"
#include "vmhost/util/size.h"

#include <math.h>

static int shift_of(char c)
{
    const char *units = "BKMGTPE";
    const char *p = c ? strchr(units, g_ascii_toupper(c)) : NULL;

    return p ? (int)(p - units) * 10 : -1;
}

/* The documented grammar, checked independently of the parser. */
typedef struct {
    guint64 whole;       /* integer part */
    bool whole_ovf;      /* it does not fit in 64 bits */
    bool has_frac;       /* a '.' and digits */
    bool frac_is_zero;   /* all fraction digits are 0 */
    unsigned int frac_n; /* fraction digits, trailing zeros dropped */
    guint64 frac_d;      /* their value, when frac_n <= 19 */
    int shift;           /* -1: no suffix */
} Shape;

static bool parse_shape(const char *s, Shape *shape)
{
    const char *p = s;

    memset(shape, 0, sizeof(*shape));
    shape->shift = -1;
    shape->frac_is_zero = true;
    if (!g_ascii_isdigit(*p)) {
        return false;
    }
    for (; g_ascii_isdigit(*p); p++) {
        guint64 d = (guint64)(*p - '0');
        if (shape->whole > (G_MAXUINT64 - d) / 10) {
            shape->whole_ovf = true;
        } else {
            shape->whole = shape->whole * 10 + d;
        }
    }
    if (*p == '.') {
        p++;
        if (!g_ascii_isdigit(*p)) {
            return false;
        }
        shape->has_frac = true;
        const char *start = p;
        const char *last = p;
        for (; g_ascii_isdigit(*p); p++) {
            shape->frac_is_zero &= *p == '0';
            if (*p != '0') {
                last = p + 1;
            }
        }
        shape->frac_n = (unsigned int)(last - start);
        for (const char *q = start; q < last && shape->frac_n <= 19; q++) {
            shape->frac_d = shape->frac_d * 10 + (guint64)(*q - '0');
        }
    }
    if (*p) {
        shape->shift = shift_of(*p);
        if (shape->shift < 0 || p[1]) {
            return false;
        }
    }
    return true;
}

/* Parse @str and check the error convention; returns success. */
static bool parse_checked(const char *str, char unit, guint64 *out)
{
    g_autoptr(GError) err = NULL;
    bool ok = vh_size_parse(str, unit, out, &err);

    fuzz_assert_result(ok, err);
    if (!ok) {
        g_assert_true(
            g_error_matches(err, VH_ERROR, VH_ERROR_INVALID_ARGUMENT));
        g_assert_nonnull(strstr(err->message, str));
    }
    return ok;
}

static void check_value(const Shape *shape, char unit, bool ok, guint64 v)
{
    int shift = shape->shift >= 0 ? shape->shift : shift_of(unit);
    bool fits = !shape->whole_ovf &&
                (shift == 0 || shape->whole <= (G_MAXUINT64 >> shift));

    if (!fits) {
        g_assert_false(ok);
        return;
    }
    if (!shape->has_frac || shape->frac_is_zero) {
        /* An integer: exact, and accepted exactly when it fits. */
        g_assert_true(ok);
        g_assert_cmpuint(v, ==, shape->whole << shift);
        return;
    }
    /*
     * whole.frac units is a whole number of bytes exactly when 10^n divides
     * frac * 2^shift (n digits, trailing zeros dropped): never when n >
     * shift, and checked exactly in 128 bits for up to 19 digits.
     */
    if (shape->frac_n > (unsigned int)shift) {
        g_assert_false(ok);
        return;
    }
    if (shape->frac_n <= 19) {
        unsigned __int128 pow10 = 1;
        for (unsigned int i = 0; i < shape->frac_n; i++) {
            pow10 *= 10;
        }
        unsigned __int128 scaled = (unsigned __int128)shape->frac_d << shift;
        if (scaled % pow10 != 0) {
            g_assert_false(ok);
            return;
        }
        guint64 extra = (guint64)(scaled / pow10);
        guint64 base = shape->whole << shift;
        g_assert_cmpint(ok, ==, extra <= G_MAXUINT64 - base);
        if (ok) {
            g_assert_cmpuint(v, ==, base + extra);
        }
    }
}

/* vh_size_format() output in vh_size_parse() syntax: "1.5 KiB" -> "1.5K". */
static void check_round_trip(guint64 v)
{
    g_autofree char *text = vh_size_format(v);
    char *space = strchr(text, ' ');
    guint64 back = 0;
    bool exact;
    int shift;

    g_assert_nonnull(space);
    shift = shift_of(space[1]);
    g_assert_cmpint(shift, >=, 0);
    space[0] = space[1];
    space[1] = '\0';
    /* Exact: no decimals, and a whole number of units a double holds. */
    exact = !strchr(text, '.') &&
            (shift == 0 ||
             ((v & ((1ULL << shift) - 1)) == 0 && (v >> shift) < (1ULL << 53)));
    if (!parse_checked(text, 'B', &back)) {
        /* "1.1K" is no whole number of bytes; 2^64-1 prints as "16E". */
        g_assert_false(exact);
        return;
    }
    if (exact) {
        g_assert_cmpuint(back, ==, v);
        return;
    }
    /* Rounded to a tenth of a unit, after rounding to a double. */
    g_assert_cmpfloat(fabs((double)back - (double)v), <=,
                      ldexp(0.05, shift) + ldexp((double)v, -50));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autofree char *str = fuzz_cstring(data, size);
    guint64 as_bytes = 0, as_mib = 0;
    bool ok_bytes, ok_mib;
    Shape shape;

    if (!str) {
        return 0;
    }
    ok_bytes = parse_checked(str, 'B', &as_bytes);
    ok_mib = parse_checked(str, 'm', &as_mib);
    if (!parse_shape(str, &shape)) {
        g_assert_false(ok_bytes);
        g_assert_false(ok_mib);
        return 0;
    }
    check_value(&shape, 'B', ok_bytes, as_bytes);
    check_value(&shape, 'M', ok_mib, as_mib);
    if (shape.shift >= 0) {
        g_assert_cmpint(ok_bytes, ==, ok_mib);
        g_assert_cmpuint(as_bytes, ==, as_mib);
    }
    if (ok_bytes) {
        check_round_trip(as_bytes);
    }
    if (ok_mib) {
        check_round_trip(as_mib);
    }
    return 0;
}
