/*
 * vmhost-policy's policy language (.pol/.pmod text) and policy specs
 * ("DEFAULT:NO-SHA1"), as vh_policy_apply_text() and
 * vh_policy_spec_split() read them.
 *
 * Invariants: success xor an error that names the file and a line of the
 * input; a parsed policy holds only known algorithms, none twice, and key
 * sizes in range; written back as plain directives it parses to the same
 * policy; both back-end formats generate, with the SYSTEM entry last.
 */
#include "fuzz-common.h"

#include "src/vmhost-policy/policy.h"
#include "vmhost/util/error.h"

static const char *const keys[VH_POLICY_N_LISTS] = {
    "protocol", "cipher", "mac", "hash", "sign", "group", "key_exchange",
};

static void check_error(const char *text, GError *err)
{
    guint lines = 1;
    guint64 line;
    const char *p;

    g_assert_true(g_error_matches(err, VH_ERROR, VH_ERROR_CONFIG));
    g_assert_true(g_str_has_prefix(err->message, "fuzz.pol:"));
    line = g_ascii_strtoull(err->message + strlen("fuzz.pol:"), NULL, 10);
    for (p = text; *p; p++) {
        lines += *p == '\n';
    }
    g_assert_cmpuint(line, >=, 1);
    g_assert_cmpuint(line, <=, lines);
}

static void check_policy(const VhPolicy *pol)
{
    for (int i = 0; i < VH_POLICY_N_LISTS; i++) {
        GPtrArray *a = pol->lists[i];
        for (guint j = 0; j < a->len; j++) {
            const VhPolicyAlg *alg = a->pdata[j];
            g_assert_nonnull(alg->name);
            for (guint k = j + 1; k < a->len; k++) {
                g_assert_true(a->pdata[k] != alg);
            }
        }
    }
    g_assert_true(pol->min_rsa_size == 0 ||
                  (pol->min_rsa_size >= 1024 && pol->min_rsa_size <= 16384));
    g_assert_true(pol->min_dh_size == 0 ||
                  (pol->min_dh_size >= 1024 && pol->min_dh_size <= 16384));
}

/* @pol as plain directives, one per key (transfer full). */
static char *write_back(const VhPolicy *pol)
{
    GString *s = g_string_new(NULL);

    for (int i = 0; i < VH_POLICY_N_LISTS; i++) {
        GPtrArray *a = pol->lists[i];
        g_string_append_printf(s, "%s =", keys[i]);
        for (guint j = 0; j < a->len; j++) {
            g_string_append_printf(s, " %s",
                                   ((const VhPolicyAlg *)a->pdata[j])->name);
        }
        g_string_append_c(s, '\n');
    }
    if (pol->min_rsa_size) {
        g_string_append_printf(s, "min_rsa_size = %d\n", pol->min_rsa_size);
    }
    if (pol->min_dh_size) {
        g_string_append_printf(s, "min_dh_size = %d\n", pol->min_dh_size);
    }
    return g_string_free(s, FALSE);
}

static void check_same(const VhPolicy *a, const VhPolicy *b)
{
    for (int i = 0; i < VH_POLICY_N_LISTS; i++) {
        g_assert_cmpuint(a->lists[i]->len, ==, b->lists[i]->len);
        for (guint j = 0; j < a->lists[i]->len; j++) {
            g_assert_true(a->lists[i]->pdata[j] == b->lists[i]->pdata[j]);
        }
    }
    g_assert_cmpint(a->min_rsa_size, ==, b->min_rsa_size);
    g_assert_cmpint(a->min_dh_size, ==, b->min_dh_size);
}

static void check_generate(const VhPolicy *pol)
{
    g_autofree char *prio = vh_policy_priority_string(pol);
    g_autofree char *allow =
        vh_policy_generate(pol, VH_POLICY_FORMAT_ALLOWLIST);
    g_autofree char *legacy = vh_policy_generate(pol, VH_POLICY_FORMAT_LEGACY);
    g_autofree char *tail = g_strdup_printf("\nSYSTEM=%s\n", prio);

    g_assert_true(g_str_has_prefix(prio, "NONE"));
    g_assert_null(strchr(prio, '\n'));
    g_assert_true(g_str_has_suffix(allow, tail));
    g_assert_nonnull(strstr(allow, "\n[priorities]\n"));
    g_assert_true(g_str_has_suffix(legacy, tail));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autofree char *text = fuzz_cstring(data, size);
    g_autoptr(VhPolicy) pol = NULL;
    g_autoptr(GError) err = NULL;
    bool ok;

    if (!text) {
        return 0;
    }
    {
        g_autoptr(GError) serr = NULL;
        g_auto(GStrv) parts = vh_policy_spec_split(text, &serr);
        fuzz_assert_result(parts != NULL, serr);
        if (parts) {
            g_assert_nonnull(parts[0]);
        }
    }
    pol = vh_policy_new("FUZZ");
    ok = vh_policy_apply_text(pol, "fuzz.pol", text, &err);
    fuzz_assert_result(ok, err);
    if (!ok) {
        check_error(text, err);
        return 0;
    }
    check_policy(pol);
    {
        g_autofree char *back = write_back(pol);
        g_autoptr(VhPolicy) again = vh_policy_new("FUZZ");
        g_autoptr(GError) berr = NULL;
        g_assert_true(vh_policy_apply_text(again, "back.pol", back, &berr));
        check_same(pol, again);
    }
    check_generate(pol);
    return 0;
}
