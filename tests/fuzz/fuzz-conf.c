/*
 * vh_conf_parse(): libvirtd.conf-style config files (vmhost.conf).
 *
 * Invariants: success xor an error that starts with the file name and a
 * line number within the input; every key set has the type its VhConfKey
 * says, and a line within the input; and the values, written back out in
 * the documented syntax, parse to the same values (in any order, with the
 * lines moved).
 */
#include "fuzz-common.h"

#include "vmhost/util/conf.h"
#include "vmhost/util/error.h"

#include <stdlib.h>

static const VhConfKey keys[] = {
    {"tls_priority", VH_CONF_STRING},
    {"tls_priority_strict", VH_CONF_BOOL},
    {"count", VH_CONF_INT},
    {"listen", VH_CONF_LIST},
    {NULL, 0},
};

static void append_quoted(GString *out, const char *s)
{
    g_string_append_c(out, '"');
    for (; *s; s++) {
        switch (*s) {
        case '"':
        case '\\':
            g_string_append_c(out, '\\');
            g_string_append_c(out, *s);
            break;
        case '\n':
            g_string_append(out, "\\n");
            break;
        case '\r':
            g_string_append(out, "\\r");
            break;
        case '\t':
            g_string_append(out, "\\t");
            break;
        default:
            g_string_append_c(out, *s);
        }
    }
    g_string_append_c(out, '"');
}

/* The values of @conf in canonical syntax, keys in reverse table order. */
static char *write_back(VhConf *conf)
{
    GString *out = g_string_new("# written back\n");

    for (int i = (int)G_N_ELEMENTS(keys) - 2; i >= 0; i--) {
        const VhConfKey *k = &keys[i];

        if (!vh_conf_has(conf, k->name)) {
            continue;
        }
        g_string_append_printf(out, "\n  %s=", k->name);
        switch (k->type) {
        case VH_CONF_STRING:
            append_quoted(out, vh_conf_get_string(conf, k->name));
            break;
        case VH_CONF_LIST: {
            const char *const *l = vh_conf_get_list(conf, k->name);

            g_string_append(out, "[\n");
            for (guint j = 0; l[j]; j++) {
                append_quoted(out, l[j]);
                g_string_append(out, ", # item\n");
            }
            g_string_append(out, "]");
            break;
        }
        case VH_CONF_INT:
        case VH_CONF_BOOL:
        default:
            g_string_append_printf(out, "%" G_GINT64_FORMAT,
                                   vh_conf_get_int(conf, k->name, 0));
        }
    }
    return g_string_free(out, false);
}

static void check_same(VhConf *a, VhConf *b)
{
    for (const VhConfKey *k = keys; k->name; k++) {
        g_assert_cmpint(vh_conf_has(a, k->name), ==, vh_conf_has(b, k->name));
        g_assert_cmpstr(vh_conf_get_string(a, k->name), ==,
                        vh_conf_get_string(b, k->name));
        g_assert_cmpint(vh_conf_get_int(a, k->name, 7), ==,
                        vh_conf_get_int(b, k->name, 7));
        const char *const *la = vh_conf_get_list(a, k->name);
        const char *const *lb = vh_conf_get_list(b, k->name);
        g_assert_cmpint(la == NULL, ==, lb == NULL);
        if (la) {
            g_assert_true(g_strv_equal(la, lb));
        }
    }
}

static void check_types(VhConf *conf, guint lines)
{
    for (const VhConfKey *k = keys; k->name; k++) {
        if (!vh_conf_has(conf, k->name)) {
            g_assert_cmpuint(vh_conf_get_line(conf, k->name), ==, 0);
            continue;
        }
        g_assert_cmpuint(vh_conf_get_line(conf, k->name), >=, 1);
        g_assert_cmpuint(vh_conf_get_line(conf, k->name), <=, lines);
        switch (k->type) {
        case VH_CONF_STRING:
            g_assert_nonnull(vh_conf_get_string(conf, k->name));
            g_assert_true(
                g_utf8_validate(vh_conf_get_string(conf, k->name), -1, NULL));
            break;
        case VH_CONF_LIST:
            g_assert_nonnull(vh_conf_get_list(conf, k->name));
            break;
        case VH_CONF_BOOL: {
            gint64 v = vh_conf_get_int(conf, k->name, 5);
            g_assert_true(v == 0 || v == 1);
            break;
        }
        case VH_CONF_INT:
        default:
            g_assert_null(vh_conf_get_string(conf, k->name));
            break;
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(VhConf) conf = NULL;
    g_autoptr(VhConf) again = NULL;
    g_autofree char *text = NULL;
    guint lines = 1;

    for (size_t i = 0; i < size; i++) {
        lines += data[i] == '\n';
    }
    /* Not NUL-terminated on purpose: the parser takes a length. */
    conf = vh_conf_parse("fuzz.conf", (const char *)data, size, keys, &err);
    fuzz_assert_result(conf != NULL, err);
    if (!conf) {
        g_assert_error(err, VH_ERROR, VH_ERROR_CONFIG);
        g_assert_true(g_str_has_prefix(err->message, "fuzz.conf:"));
        g_assert_cmpuint(strtoul(err->message + 10, NULL, 10), >=, 1);
        g_assert_cmpuint(strtoul(err->message + 10, NULL, 10), <=, lines);
        return 0;
    }
    check_types(conf, lines);
    text = write_back(conf);
    again = vh_conf_parse("back.conf", text, strlen(text), keys, &err);
    g_assert_no_error(err);
    check_same(conf, again);
    return 0;
}
