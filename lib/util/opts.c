#include "vmhost/util/opts.h"

#include "vmhost/util/error.h"
#include "vmhost/util/size.h"

#include <string.h>

typedef struct {
    char *key;
    char *value; /* NULL: a bare flag */
    bool used;
} Elem;

struct _VhOpts {
    char *optname;
    char *implied_key;
    /* List entries: "rules.0.", put before keys in messages, */
    char *key_prefix;
    /* and the parent's "-object authz-list" for check_unused. */
    char *context;
    GArray *elems; /* of Elem */
};

static void elem_clear(gpointer p)
{
    Elem *e = p;

    g_free(e->key);
    g_free(e->value);
}

VhOpts *vh_opts_new(const char *optname)
{
    VhOpts *opts = g_new0(VhOpts, 1);

    opts->optname = g_strdup(optname ? optname : "");
    opts->elems = g_array_new(FALSE, TRUE, sizeof(Elem));
    g_array_set_clear_func(opts->elems, elem_clear);
    return opts;
}

void vh_opts_free(VhOpts *opts)
{
    if (!opts) {
        return;
    }
    g_array_unref(opts->elems);
    g_free(opts->optname);
    g_free(opts->implied_key);
    g_free(opts->key_prefix);
    g_free(opts->context);
    g_free(opts);
}

const char *vh_opts_get_optname(VhOpts *opts)
{
    return opts->optname;
}

const char *vh_opts_get_implied_key(VhOpts *opts)
{
    return opts->implied_key;
}

static bool key_valid(const char *key)
{
    if (!*key) {
        return false;
    }
    for (const char *p = key; *p; p++) {
        if (!g_ascii_isalnum(*p) && !strchr("-_.", *p)) {
            return false;
        }
    }
    return true;
}

static void append_owned(VhOpts *opts, char *key, char *value)
{
    Elem e = {.key = key, .value = value, .used = false};

    g_array_append_val(opts->elems, e);
}

void vh_opts_append(VhOpts *opts, const char *key, const char *value)
{
    g_return_if_fail(key && key_valid(key));
    append_owned(opts, g_strdup(key), g_strdup(value));
}

guint vh_opts_count(VhOpts *opts)
{
    return opts->elems->len;
}

static Elem *nth(VhOpts *opts, guint n)
{
    g_return_val_if_fail(n < opts->elems->len, NULL);
    return &g_array_index(opts->elems, Elem, n);
}

const char *vh_opts_nth_key(VhOpts *opts, guint n)
{
    Elem *e = nth(opts, n);

    return e ? e->key : NULL;
}

const char *vh_opts_nth_value(VhOpts *opts, guint n)
{
    Elem *e = nth(opts, n);

    return e ? e->value : NULL;
}

bool vh_opts_nth_used(VhOpts *opts, guint n)
{
    Elem *e = nth(opts, n);

    return e && e->used;
}

void vh_opts_nth_mark_used(VhOpts *opts, guint n)
{
    Elem *e = nth(opts, n);

    if (e) {
        e->used = true;
    }
}

/* Parsing */

/*
 * One element: @text is the element with ",," already turned into ','.
 * @first says whether the implied key may take it.
 */
static bool parse_element(VhOpts *opts, const char *text, guint index,
                          bool first, GError **errp)
{
    const char *eq = strchr(text, '=');
    g_autofree char *key = NULL;

    if (!*text) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "%s: element %u is empty: a ',' at the start or end of "
                    "the string? (write ',,' for a comma in a value)",
                    opts->optname, index);
        return false;
    }
    if (!eq && first && opts->implied_key) {
        append_owned(opts, g_strdup(opts->implied_key), g_strdup(text));
        return true;
    }
    if (eq == text) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "%s: element %u ('%s') has no parameter name before '='",
                    opts->optname, index, text);
        return false;
    }
    key = eq ? g_strndup(text, (gsize)(eq - text)) : g_strdup(text);
    if (!key_valid(key)) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "%s: element %u ('%s'): invalid parameter name '%s' (a "
                    "name is made of letters, digits, '-', '_' and '.')",
                    opts->optname, index, text, key);
        return false;
    }
    append_owned(opts, g_steal_pointer(&key), eq ? g_strdup(eq + 1) : NULL);
    return true;
}

VhOpts *vh_opts_parse(const char *optname, const char *str,
                      const char *implied_key, GError **errp)
{
    g_autoptr(VhOpts) opts = vh_opts_new(optname);
    g_autoptr(GString) cur = g_string_new(NULL);
    guint index = 1;

    g_return_val_if_fail(str != NULL, NULL);
    opts->implied_key = g_strdup(implied_key);
    if (!*str) {
        return g_steal_pointer(&opts);
    }
    for (const char *p = str;; p++) {
        if (*p == ',' && p[1] == ',') {
            g_string_append_c(cur, ',');
            p++;
            continue;
        }
        if (*p == ',' || !*p) {
            if (!parse_element(opts, cur->str, index, index == 1, errp)) {
                return NULL;
            }
            if (!*p) {
                break;
            }
            g_string_truncate(cur, 0);
            index++;
            continue;
        }
        g_string_append_c(cur, *p);
    }
    return g_steal_pointer(&opts);
}

/* Lookup */

/* The effective value of @e for @key, or NULL when @e is not about @key. */
static const char *elem_value_for(const Elem *e, const char *key)
{
    if (strcmp(e->key, key) == 0) {
        return e->value ? e->value : "on";
    }
    if (!e->value && g_str_has_prefix(e->key, "no") &&
        strcmp(e->key + 2, key) == 0) {
        return "off";
    }
    return NULL;
}

/* The last value given for @key; marks every occurrence used if @mark. */
static const char *lookup(VhOpts *opts, const char *key, bool mark)
{
    const char *found = NULL;

    for (guint i = opts->elems->len; i-- > 0;) {
        Elem *e = &g_array_index(opts->elems, Elem, i);
        const char *v = elem_value_for(e, key);
        if (!v) {
            continue;
        }
        if (!found) {
            found = v;
        }
        if (!mark) {
            break;
        }
        e->used = true;
    }
    return found;
}

bool vh_opts_has(VhOpts *opts, const char *key)
{
    return lookup(opts, key, false) != NULL;
}

const char *vh_opts_get_string(VhOpts *opts, const char *key)
{
    return lookup(opts, key, true);
}

/* Conversion errors */

static void G_GNUC_PRINTF(4, 5)
    set_param_error(GError **errp, VhOpts *opts, const char *key,
                    const char *fmt, ...)
{
    g_autofree char *what = NULL;
    va_list ap;

    va_start(ap, fmt);
    what = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                "%s: parameter '%s%s' %s", opts->optname,
                opts->key_prefix ? opts->key_prefix : "", key, what);
}

bool vh_opts_get_bool(VhOpts *opts, const char *key, bool *out, GError **errp)
{
    static const char *const yes[] = {"on", "yes", "true"};
    static const char *const no[] = {"off", "no", "false"};
    const char *v = vh_opts_get_string(opts, key);

    if (!v) {
        return true;
    }
    for (size_t i = 0; i < G_N_ELEMENTS(yes); i++) {
        if (strcmp(v, yes[i]) == 0) {
            *out = true;
            return true;
        }
        if (strcmp(v, no[i]) == 0) {
            *out = false;
            return true;
        }
    }
    set_param_error(errp, opts, key, "expects 'on' or 'off', got '%s'", v);
    return false;
}

/* Decimal, or hex after "0x"; no sign, no spaces. */
static bool parse_u64(const char *v, guint64 *out)
{
    guint base = 10;

    if (v[0] == '0' && (v[1] == 'x' || v[1] == 'X')) {
        v += 2;
        base = 16;
    }
    if (!g_ascii_isxdigit(v[0])) {
        return false;
    }
    return g_ascii_string_to_unsigned(v, base, 0, G_MAXUINT64, out, NULL);
}

bool vh_opts_get_uint64(VhOpts *opts, const char *key, guint64 min, guint64 max,
                        guint64 *out, GError **errp)
{
    const char *v = vh_opts_get_string(opts, key);
    guint64 n = 0;

    if (!v) {
        return true;
    }
    if (!parse_u64(v, &n) || n < min || n > max) {
        set_param_error(errp, opts, key,
                        "expects a number from %" G_GUINT64_FORMAT
                        " to %" G_GUINT64_FORMAT ", got '%s'",
                        min, max, v);
        return false;
    }
    *out = n;
    return true;
}

/* An optional '-' before parse_u64()'s syntax. */
static bool parse_i64(const char *v, gint64 *out)
{
    bool neg = v[0] == '-';
    guint64 mag = 0;

    if (!parse_u64(neg ? v + 1 : v, &mag) ||
        mag > (neg ? (guint64)G_MAXINT64 + 1 : (guint64)G_MAXINT64)) {
        return false;
    }
    *out = neg ? (gint64)(0 - mag) : (gint64)mag;
    return true;
}

bool vh_opts_get_int(VhOpts *opts, const char *key, gint64 min, gint64 max,
                     gint64 *out, GError **errp)
{
    const char *v = vh_opts_get_string(opts, key);
    gint64 n = 0;

    if (!v) {
        return true;
    }
    if (!parse_i64(v, &n) || n < min || n > max) {
        set_param_error(errp, opts, key,
                        "expects a number from %" G_GINT64_FORMAT
                        " to %" G_GINT64_FORMAT ", got '%s'",
                        min, max, v);
        return false;
    }
    *out = n;
    return true;
}

bool vh_opts_get_size(VhOpts *opts, const char *key, guint64 *out,
                      GError **errp)
{
    const char *v = vh_opts_get_string(opts, key);
    g_autoptr(GError) err = NULL;
    guint64 n = 0;

    if (!v) {
        return true;
    }
    if (!vh_size_parse(v, 'B', &n, &err)) {
        set_param_error(errp, opts, key,
                        "expects a size such as 4096, 512M or 4G: %s",
                        err->message);
        return false;
    }
    *out = n;
    return true;
}

/* "'a', 'b' or 'c'" (transfer full). */
static char *enum_choices(GEnumClass *ec)
{
    GString *s = g_string_new(NULL);

    for (guint i = 0; i < ec->n_values; i++) {
        if (i > 0) {
            g_string_append(s, i + 1 == ec->n_values ? " or " : ", ");
        }
        g_string_append_printf(s, "'%s'", ec->values[i].value_nick);
    }
    return g_string_free(s, FALSE);
}

bool vh_opts_get_enum(VhOpts *opts, const char *key, GType enum_type, int *out,
                      GError **errp)
{
    const char *v = vh_opts_get_string(opts, key);
    g_autoptr(GEnumClass) ec = NULL;
    GEnumValue *ev;
    g_autofree char *choices = NULL;

    g_return_val_if_fail(G_TYPE_IS_ENUM(enum_type), false);
    if (!v) {
        return true;
    }
    ec = g_type_class_ref(enum_type);
    ev = g_enum_get_value_by_nick(ec, v);
    if (ev) {
        *out = ev->value;
        return true;
    }
    choices = enum_choices(ec);
    set_param_error(errp, opts, key, "expects %s, got '%s'", choices, v);
    return false;
}

/* Unused elements */

const char *vh_opts_first_unused(VhOpts *opts)
{
    for (guint i = 0; i < opts->elems->len; i++) {
        Elem *e = &g_array_index(opts->elems, Elem, i);
        if (!e->used) {
            return e->key;
        }
    }
    return NULL;
}

/* "-chardev socket": the option and its implied value (transfer full). */
static char *context(VhOpts *opts)
{
    const char *implied;

    if (opts->context) {
        return g_strdup(opts->context);
    }
    implied = opts->implied_key ? lookup(opts, opts->implied_key, false) : NULL;
    return implied ? g_strdup_printf("%s %s", opts->optname, implied)
                   : g_strdup(opts->optname);
}

bool vh_opts_check_unused(VhOpts *opts, GError **errp)
{
    const char *key = vh_opts_first_unused(opts);
    g_autofree char *ctx = NULL;

    if (!key) {
        return true;
    }
    ctx = context(opts);
    g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                "%s: invalid parameter '%s%s'", ctx,
                opts->key_prefix ? opts->key_prefix : "", key);
    return false;
}

/* Lists: PREFIX.N.FIELD */

/* Splits "N.FIELD" (after "PREFIX."); false when it is not that shape. */
static bool split_index(const char *rest, guint *index, const char **field)
{
    const char *dot = strchr(rest, '.');
    guint64 n = 0;
    gsize len;

    if (!dot || !dot[1]) {
        return false;
    }
    len = (gsize)(dot - rest);
    if (len == 0 || len > 6 || (rest[0] == '0' && len > 1)) {
        return false;
    }
    for (gsize i = 0; i < len; i++) {
        if (!g_ascii_isdigit(rest[i])) {
            return false;
        }
        n = n * 10 + (guint64)(rest[i] - '0');
    }
    *index = (guint)n;
    *field = dot + 1;
    return true;
}

static VhOpts *list_entry_new(VhOpts *parent, const char *prefix, guint index)
{
    VhOpts *sub = vh_opts_new(parent->optname);

    sub->key_prefix = g_strdup_printf(
        "%s%s.%u.", parent->key_prefix ? parent->key_prefix : "", prefix,
        index);
    sub->context = context(parent);
    return sub;
}

GPtrArray *vh_opts_get_list(VhOpts *opts, const char *prefix, GError **errp)
{
    g_autoptr(GHashTable) entries =
        g_hash_table_new_full(NULL, NULL, NULL, (GDestroyNotify)vh_opts_free);
    g_autofree char *dotted = g_strdup_printf("%s.", prefix);
    g_autoptr(GPtrArray) list = NULL;
    guint count;

    for (guint i = 0; i < opts->elems->len; i++) {
        Elem *e = &g_array_index(opts->elems, Elem, i);
        const char *field = NULL;
        guint index = 0;
        VhOpts *sub;

        if (!g_str_has_prefix(e->key, dotted)) {
            continue;
        }
        if (!split_index(e->key + strlen(dotted), &index, &field)) {
            set_param_error(errp, opts, e->key,
                            "is not of the form %s.N.FIELD (N counting from "
                            "0)",
                            prefix);
            return NULL;
        }
        sub = g_hash_table_lookup(entries, GUINT_TO_POINTER(index));
        if (!sub) {
            sub = list_entry_new(opts, prefix, index);
            g_hash_table_insert(entries, GUINT_TO_POINTER(index), sub);
        }
        append_owned(sub, g_strdup(field), g_strdup(e->value));
        e->used = true;
    }
    count = g_hash_table_size(entries);
    list = g_ptr_array_new_full(count, (GDestroyNotify)vh_opts_free);
    for (guint i = 0; i < count; i++) {
        gpointer sub = NULL;
        if (!g_hash_table_steal_extended(entries, GUINT_TO_POINTER(i), NULL,
                                         &sub)) {
            g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                        "%s: no parameters for %s%s.%u: list entries must be "
                        "numbered from 0 without gaps",
                        opts->optname, opts->key_prefix ? opts->key_prefix : "",
                        prefix, i);
            return NULL;
        }
        g_ptr_array_add(list, sub);
    }
    return g_steal_pointer(&list);
}

/* Printing */

static void append_escaped(GString *s, const char *text)
{
    for (const char *p = text; *p; p++) {
        if (*p == ',') {
            g_string_append_c(s, ',');
        }
        g_string_append_c(s, *p);
    }
}

char *vh_opts_to_string(VhOpts *opts)
{
    GString *s = g_string_new(NULL);

    for (guint i = 0; i < opts->elems->len; i++) {
        const Elem *e = &g_array_index(opts->elems, Elem, i);
        if (i > 0) {
            g_string_append_c(s, ',');
        }
        if (i == 0 && opts->implied_key && e->value && *e->value &&
            !strchr(e->value, '=') && strcmp(e->key, opts->implied_key) == 0) {
            append_escaped(s, e->value);
            continue;
        }
        g_string_append(s, e->key);
        if (e->value) {
            g_string_append_c(s, '=');
            append_escaped(s, e->value);
        }
    }
    return g_string_free(s, FALSE);
}

bool vh_opts_equal(VhOpts *a, VhOpts *b)
{
    if (a->elems->len != b->elems->len) {
        return false;
    }
    for (guint i = 0; i < a->elems->len; i++) {
        const Elem *x = &g_array_index(a->elems, Elem, i);
        const Elem *y = &g_array_index(b->elems, Elem, i);
        if (strcmp(x->key, y->key) != 0 || !x->value != !y->value ||
            (x->value && strcmp(x->value, y->value) != 0)) {
            return false;
        }
    }
    return true;
}
