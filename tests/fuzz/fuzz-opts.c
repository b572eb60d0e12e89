/*
 * vh_opts_parse(): option strings typed by operators and sent to the
 * monitors (-chardev, -object, object_add).
 *
 * Invariants, with and without an implied key: success xor an error naming
 * the option; an option string of N elements has at most (commas + 1) of
 * them; every getter succeeds or fails with an error, never both; reading
 * every key leaves nothing unused; a list collects exactly the PREFIX.
 * keys; vh_opts_to_string() parses back to an equal VhOpts and is stable.
 */
#include "fuzz-common.h"

#include "vmhost/util/error.h"
#include "vmhost/util/opts.h"

#define OPTNAME "-fuzz"

static void check_getters(VhOpts *opts)
{
    for (guint i = 0; i < vh_opts_count(opts); i++) {
        const char *key = vh_opts_nth_key(opts, i);
        g_autoptr(GError) e1 = NULL, e2 = NULL, e3 = NULL, e4 = NULL;
        bool b = false, ok;
        guint64 u = 0;
        gint64 s = 0;

        g_assert_true(vh_opts_has(opts, key));
        g_assert_nonnull(vh_opts_get_string(opts, key));
        ok = vh_opts_get_bool(opts, key, &b, &e1);
        fuzz_assert_result(ok, e1);
        ok = vh_opts_get_uint64(opts, key, 0, G_MAXUINT64, &u, &e2);
        fuzz_assert_result(ok, e2);
        ok = vh_opts_get_int(opts, key, G_MININT64, G_MAXINT64, &s, &e3);
        fuzz_assert_result(ok, e3);
        ok = vh_opts_get_size(opts, key, &u, &e4);
        fuzz_assert_result(ok, e4);
        if (e1) {
            g_assert_true(g_str_has_prefix(e1->message, OPTNAME ": "));
        }
    }
    g_assert_null(vh_opts_first_unused(opts));
    g_assert_true(vh_opts_check_unused(opts, NULL));
}

static void check_list(VhOpts *opts)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GPtrArray) list = vh_opts_get_list(opts, "rules", &err);
    guint dotted = 0, collected = 0;

    fuzz_assert_result(list != NULL, err);
    if (!list) {
        return;
    }
    for (guint i = 0; i < vh_opts_count(opts); i++) {
        if (g_str_has_prefix(vh_opts_nth_key(opts, i), "rules.")) {
            dotted++;
            g_assert_true(vh_opts_nth_used(opts, i));
        }
    }
    for (guint i = 0; i < list->len; i++) {
        g_assert_cmpuint(vh_opts_count(list->pdata[i]), >, 0);
        collected += vh_opts_count(list->pdata[i]);
    }
    g_assert_cmpuint(collected, ==, dotted);
}

static void check_round_trip(VhOpts *opts, const char *implied)
{
    g_autofree char *text = vh_opts_to_string(opts);
    g_autoptr(GError) err = NULL;
    g_autoptr(VhOpts) back = vh_opts_parse(OPTNAME, text, implied, &err);
    g_autofree char *again = NULL;

    g_assert_no_error(err);
    g_assert_true(vh_opts_equal(opts, back));
    again = vh_opts_to_string(back);
    g_assert_cmpstr(text, ==, again);
}

static void run(const char *str, const char *implied)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(VhOpts) opts = vh_opts_parse(OPTNAME, str, implied, &err);
    guint commas = 0;

    fuzz_assert_result(opts != NULL, err);
    if (!opts) {
        g_assert_true(
            g_error_matches(err, VH_ERROR, VH_ERROR_INVALID_ARGUMENT));
        g_assert_true(g_str_has_prefix(err->message, OPTNAME ": "));
        return;
    }
    for (const char *p = str; *p; p++) {
        commas += *p == ',';
    }
    g_assert_cmpuint(vh_opts_count(opts), <=, commas + 1);
    g_assert_cmpint(vh_opts_count(opts) == 0, ==, *str == '\0');
    check_round_trip(opts, implied);
    check_list(opts);
    check_getters(opts);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autofree char *str = fuzz_cstring(data, size);

    if (!str) {
        return 0;
    }
    run(str, NULL);
    run(str, "qom-type");
    return 0;
}
