/* Tests for size parsing and formatting (lib/util/size.c). */
#include "vmhost/util/error.h"
#include "vmhost/util/size.h"

#include <string.h>

static void test_parse_ok(void)
{
    static const struct {
        const char *str;
        char unit;
        guint64 want;
    } cases[] = {
        {"0", 'B', 0},
        {"4096", 'B', 4096},
        {"4096", 'M', 4096ULL << 20},
        {"1k", 'B', 1024},
        {"4G", 'B', 4ULL << 30},
        {"1.5G", 'B', 3ULL << 29},
        {"0.5K", 'B', 512},
        {"16E", 'B', 0},
        {"15E", 'B', 15ULL << 60},
        {"128m", 'B', 128ULL << 20},
        {"7b", 'M', 7},
        {"1.25", 'K', 1280},
        {"0.0009765625K", 'B', 1},
        {"15.9375E", 'B', 255ULL << 56},
        /* trailing zeros do not count against exactness */
        {"1.5000000000000000000000000000000000000000000000000000000000000000"
         "0000000000K",
         'B', 1536},
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(GError) err = NULL;
        guint64 got = 1;
        bool ok = vh_size_parse(cases[i].str, cases[i].unit, &got, &err);
        if (strcmp(cases[i].str, "16E") == 0) {
            g_assert_false(ok);
            g_assert_nonnull(strstr(err->message, "too large"));
            continue;
        }
        g_assert_no_error(err);
        g_assert_true(ok);
        g_assert_cmpuint(got, ==, cases[i].want);
    }
}

static void test_parse_bad(void)
{
    static const struct {
        const char *str;
        const char *why;
    } cases[] = {
        {"", "expected a number"},
        {"G", "expected a number"},
        {"-1", "expected a number"},
        {"4X", "unknown suffix"},
        {"4GB", "unknown suffix"},
        {"1.G", "expected digits after '.'"},
        {"0.3B", "not a whole number of bytes"},
        /* strtod used to take an exponent in the fraction: 501 bytes. */
        {"1.5e3", "unknown suffix"},
        {"2.0E2", "unknown suffix"},
        /* a double would round these to a whole number of bytes */
        {"1.1E", "not a whole number of bytes"},
        {"10.361E", "not a whole number of bytes"},
        {"1.00000000000000000001G", "not a whole number of bytes"},
        {"99999999999999999999", "too large"},
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(GError) err = NULL;
        guint64 got = 42;
        g_assert_false(vh_size_parse(cases[i].str, 'B', &got, &err));
        g_assert_error(err, VH_ERROR, VH_ERROR_INVALID_ARGUMENT);
        g_assert_nonnull(strstr(err->message, cases[i].why));
        g_assert_nonnull(strstr(err->message, cases[i].str));
        g_assert_cmpuint(got, ==, 42);
    }
}

static void test_format(void)
{
    static const struct {
        guint64 n;
        const char *want;
    } cases[] = {
        {0, "0 B"},        {1023, "1023 B"},      {1024, "1 KiB"},
        {1536, "1.5 KiB"}, {1ULL << 30, "1 GiB"}, {5ULL << 40, "5 TiB"},
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *s = vh_size_format(cases[i].n);
        g_assert_cmpstr(s, ==, cases[i].want);
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/util/size/parse-ok", test_parse_ok);
    g_test_add_func("/util/size/parse-bad", test_parse_bad);
    g_test_add_func("/util/size/format", test_format);
    return g_test_run();
}
