/*
 * The policy language: "key[@scope] = value ..." directives applied in
 * order, "\" continues a line, "#" starts a comment. See policy.h.
 */
#include "policy-priv.h"

#include "vmhost/util/error.h"
#include "vmhost/util/file.h"

#include <errno.h>
#include <string.h>

#define MIN_KEY_SIZE 1024
#define MAX_KEY_SIZE 16384

static const char *const list_keys[VH_POLICY_N_LISTS] = {
    "protocol", "cipher", "mac", "hash", "sign", "group", "key_exchange",
};

/* How errors name a member of each list. */
static const char *const list_what[VH_POLICY_N_LISTS] = {
    "protocol", "cipher",       "MAC", "hash", "signature algorithm",
    "group",    "key exchange",
};

/* Scopes that select the GnuTLS back-end, and the others we skip. */
static const char *const tls_scopes[] = {"tls", "ssl", "gnutls", NULL};
static const char *const other_scopes[] = {
    "ssh",
    "openssh",
    "openssh-client",
    "openssh-server",
    "libssh",
    "ipsec",
    "ike",
    "libreswan",
    "kerberos",
    "krb5",
    "dnssec",
    "bind",
    "nss",
    "openssl",
    "java-tls",
    "rpm",
    "sequoia",
    NULL,
};

const char *vh_policy_list_key(VhPolicyList list)
{
    g_return_val_if_fail(list < VH_POLICY_N_LISTS, NULL);
    return list_keys[list];
}

VhPolicy *vh_policy_new(const char *name)
{
    VhPolicy *pol = g_new0(VhPolicy, 1);

    pol->name = g_strdup(name);
    for (int i = 0; i < VH_POLICY_N_LISTS; i++) {
        pol->lists[i] = g_ptr_array_new();
    }
    return pol;
}

void vh_policy_free(VhPolicy *pol)
{
    if (!pol) {
        return;
    }
    for (int i = 0; i < VH_POLICY_N_LISTS; i++) {
        g_ptr_array_unref(pol->lists[i]);
    }
    g_free(pol->name);
    g_free(pol);
}

const char *vh_policy_format_name(VhPolicyFormat format)
{
    return format == VH_POLICY_FORMAT_LEGACY ? "legacy" : "allowlist";
}

bool vh_policy_format_parse(const char *name, VhPolicyFormat *out)
{
    if (g_strcmp0(name, "allowlist") == 0) {
        *out = VH_POLICY_FORMAT_ALLOWLIST;
        return true;
    }
    if (g_strcmp0(name, "legacy") == 0) {
        *out = VH_POLICY_FORMAT_LEGACY;
        return true;
    }
    return false;
}

G_GNUC_PRINTF(4, 5)
static bool fail_at(GError **errp, const char *file, guint line,
                    const char *fmt, ...)
{
    g_autofree char *msg = NULL;
    va_list ap;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error(errp, VH_ERROR, VH_ERROR_CONFIG, "%s:%u: %s", file, line, msg);
    return false;
}

static bool in_list(const char *const *names, const char *name)
{
    for (; *names; names++) {
        if (g_ascii_strcasecmp(*names, name) == 0) {
            return true;
        }
    }
    return false;
}

/*
 * "@TLS", "@!SSH", "@{tls,ssl}", "@!{ssh,ike}": does the directive reach the
 * GnuTLS back-end?
 */
static bool scope_applies(const char *scope, bool *applies, const char *file,
                          guint line, GError **errp)
{
    bool negate = scope[0] == '!';
    const char *s = negate ? scope + 1 : scope;
    g_auto(GStrv) names = NULL;
    bool any = false;
    size_t len = strlen(s);

    if (s[0] == '{') {
        if (len < 2 || s[len - 1] != '}') {
            return fail_at(errp, file, line, "unterminated scope '@%s'", scope);
        }
        g_autofree char *inner = g_strndup(s + 1, len - 2);
        names = g_strsplit(inner, ",", -1);
    } else {
        names = g_strsplit(s, ",", 1);
    }
    if (!names[0]) {
        return fail_at(errp, file, line, "empty scope '@%s'", scope);
    }
    for (char **n = names; *n; n++) {
        g_strstrip(*n);
        if (in_list(tls_scopes, *n)) {
            any = true;
        } else if (!in_list(other_scopes, *n)) {
            return fail_at(errp, file, line,
                           "unknown scope '%s' in '@%s' (TLS, SSL and GnuTLS "
                           "select this back-end; SSH, IKE, Kerberos, NSS, "
                           "OpenSSL and the other crypto-policies scopes are "
                           "skipped)",
                           *n, scope);
        }
    }
    *applies = negate ? !any : any;
    return true;
}

static int find_alg(GPtrArray *arr, const VhPolicyAlg *alg)
{
    for (guint i = 0; i < arr->len; i++) {
        if (arr->pdata[i] == alg) {
            return (int)i;
        }
    }
    return -1;
}

/* The table entries @pattern names (a name or a "*" glob), in table order. */
static bool expand(VhPolicyList list, const char *pattern, GPtrArray *out,
                   const char *file, guint line, GError **errp)
{
    g_autofree char *up = g_ascii_strup(pattern, -1);
    const VhPolicyAlg *t = vh_policy_table(list);
    g_autoptr(GPatternSpec) spec = NULL;
    guint before = out->len;

    if (!up[0]) {
        return fail_at(errp, file, line, "empty %s name", list_what[list]);
    }
    /* names are ASCII; GPatternSpec must never see invalid UTF-8 */
    for (const char *p = up; *p; p++) {
        if (!g_ascii_isalnum(*p) && !strchr("-_.*", *p)) {
            g_autofree char *shown = g_strescape(pattern, NULL);
            return fail_at(errp, file, line, "unknown %s '%s'", list_what[list],
                           shown);
        }
    }
    if (strchr(up, '*')) {
        spec = g_pattern_spec_new(up);
    }
    for (; t->name; t++) {
        bool match = spec ? g_pattern_spec_match_string(spec, t->name)
                          : strcmp(t->name, up) == 0;
        if (match && find_alg(out, t) < 0) {
            g_ptr_array_add(out, (gpointer)t);
        }
    }
    if (out->len == before) {
        if (spec) {
            return fail_at(errp, file, line, "'%s' matches no known %s",
                           pattern, list_what[list]);
        }
        return fail_at(errp, file, line, "unknown %s '%s'", list_what[list],
                       pattern);
    }
    return true;
}

typedef enum { OP_SET, OP_APPEND, OP_PREPEND, OP_REMOVE } Op;

static Op token_op(char **tok)
{
    size_t len = strlen(*tok);

    if ((*tok)[0] == '-') {
        (*tok)++;
        return OP_REMOVE;
    }
    if ((*tok)[0] == '+') {
        (*tok)++;
        return OP_APPEND;
    }
    if (len > 1 && (*tok)[len - 1] == '+') {
        (*tok)[len - 1] = '\0';
        return OP_PREPEND;
    }
    return OP_SET;
}

static bool apply_list(VhPolicy *pol, VhPolicyList list, const char *value,
                       const char *file, guint line, GError **errp)
{
    g_auto(GStrv) toks = g_strsplit_set(value, " \t", -1);
    g_autoptr(GPtrArray) set = g_ptr_array_new();
    g_autoptr(GPtrArray) front = g_ptr_array_new();
    GPtrArray *cur = pol->lists[list];
    bool absolute = false, relative = false;

    for (char **tp = toks; *tp; tp++) {
        char *tok = *tp;
        g_autoptr(GPtrArray) algs = g_ptr_array_new();
        Op op;

        if (!tok[0]) {
            continue;
        }
        op = token_op(&tok);
        if (op == OP_SET) {
            absolute = true;
        } else {
            relative = true;
        }
        if (absolute && relative) {
            return fail_at(errp, file, line,
                           "'%s' mixes a plain list with +/- edits; write "
                           "either a whole list or only edits",
                           list_keys[list]);
        }
        if (!expand(list, tok, algs, file, line, errp)) {
            return false;
        }
        for (guint i = 0; i < algs->len; i++) {
            const VhPolicyAlg *a = algs->pdata[i];
            int at = find_alg(cur, a);

            switch (op) {
            case OP_SET:
                if (find_alg(set, a) < 0) {
                    g_ptr_array_add(set, (gpointer)a);
                }
                break;
            case OP_APPEND:
                if (at < 0) {
                    g_ptr_array_add(cur, (gpointer)a);
                }
                break;
            case OP_PREPEND:
                if (at >= 0) {
                    g_ptr_array_remove_index(cur, at);
                }
                if (find_alg(front, a) < 0) {
                    g_ptr_array_add(front, (gpointer)a);
                }
                break;
            case OP_REMOVE:
                if (at >= 0) {
                    g_ptr_array_remove_index(cur, at);
                }
                break;
            default:
                g_assert_not_reached();
            }
        }
    }
    if (!relative) {
        /* a plain list, possibly empty, replaces the old one */
        g_ptr_array_set_size(cur, 0);
        g_ptr_array_extend(cur, set, NULL, NULL);
    } else if (front->len) {
        for (guint i = 0; i < front->len; i++) {
            int at = find_alg(cur, front->pdata[i]);
            if (at >= 0) {
                g_ptr_array_remove_index(cur, at);
            }
        }
        g_ptr_array_extend(front, cur, NULL, NULL);
        g_ptr_array_set_size(cur, 0);
        g_ptr_array_extend(cur, front, NULL, NULL);
    }
    return true;
}

static bool apply_int(int *field, const char *key, const char *value,
                      const char *file, guint line, GError **errp)
{
    guint64 v = 0;

    if (!g_ascii_string_to_unsigned(value, 10, MIN_KEY_SIZE, MAX_KEY_SIZE, &v,
                                    NULL)) {
        return fail_at(errp, file, line,
                       "%s must be a number of bits from %d to %d, not '%s'",
                       key, MIN_KEY_SIZE, MAX_KEY_SIZE, value);
    }
    *field = (int)v;
    return true;
}

static bool valid_key(const char *key)
{
    if (!key[0]) {
        return false;
    }
    for (const char *p = key; *p; p++) {
        if (!g_ascii_islower(*p) && !g_ascii_isdigit(*p) && *p != '_') {
            return false;
        }
    }
    return true;
}

static bool apply_directive(VhPolicy *pol, char *text, const char *file,
                            guint line, GError **errp)
{
    char *eq = strchr(text, '=');
    char *lhs, *value, *at;
    bool applies = true;

    if (!eq) {
        return fail_at(errp, file, line, "expected 'key = value', got '%s'",
                       text);
    }
    *eq = '\0';
    lhs = g_strstrip(text);
    value = g_strstrip(eq + 1);
    at = strchr(lhs, '@');
    if (at) {
        *at = '\0';
        if (!scope_applies(at + 1, &applies, file, line, errp)) {
            return false;
        }
    }
    if (!valid_key(lhs)) {
        return fail_at(errp, file, line, "expected 'key = value', got '%s'",
                       lhs);
    }
    for (int i = 0; i < VH_POLICY_N_LISTS; i++) {
        if (strcmp(lhs, list_keys[i]) == 0) {
            /* a scope for another back-end: checked, then skipped */
            if (!applies) {
                g_autoptr(GPtrArray) scratch = g_ptr_array_new();
                VhPolicy tmp = {0};
                tmp.lists[i] = scratch;
                return apply_list(&tmp, i, value, file, line, errp);
            }
            return apply_list(pol, i, value, file, line, errp);
        }
    }
    if (strcmp(lhs, "min_rsa_size") == 0 || strcmp(lhs, "min_dh_size") == 0) {
        int scratch;
        int *field = lhs[4] == 'r' ? &pol->min_rsa_size : &pol->min_dh_size;
        return apply_int(applies ? field : &scratch, lhs, value, file, line,
                         errp);
    }
    return fail_at(errp, file, line,
                   "unsupported key '%s' (vmhost-policy knows protocol, "
                   "cipher, mac, hash, sign, group, key_exchange, "
                   "min_rsa_size and min_dh_size)",
                   lhs);
}

bool vh_policy_apply_text(VhPolicy *pol, const char *file, const char *text,
                          GError **errp)
{
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    g_autoptr(GString) logical = g_string_new(NULL);
    guint start = 0;

    for (guint i = 0; lines[i]; i++) {
        char *l = lines[i];
        char *hash = strchr(l, '#');
        size_t len;

        if (hash) {
            *hash = '\0';
        }
        g_strchomp(l);
        len = strlen(l);
        if (!logical->len && !start) {
            start = i + 1;
        }
        if (len && l[len - 1] == '\\') {
            l[len - 1] = '\0';
            g_string_append(logical, l);
            g_string_append_c(logical, ' ');
            if (!lines[i + 1]) {
                return fail_at(errp, file, start,
                               "the last line ends with '\\'");
            }
            continue;
        }
        g_string_append(logical, l);
        g_strstrip(logical->str);
        if (logical->str[0] &&
            !apply_directive(pol, logical->str, file, start, errp)) {
            return false;
        }
        g_string_truncate(logical, 0);
        start = 0;
    }
    return true;
}

static bool valid_name(const char *name)
{
    if (!g_ascii_isalnum(name[0])) {
        return false;
    }
    for (const char *p = name; *p; p++) {
        if (!g_ascii_isalnum(*p) && *p != '-' && *p != '_' && *p != '.') {
            return false;
        }
    }
    return strstr(name, "..") == NULL;
}

char **vh_policy_spec_split(const char *spec, GError **errp)
{
    g_auto(GStrv) parts = g_strsplit(spec, ":", -1);

    if (!parts[0]) {
        g_set_error(errp, VH_ERROR, VH_ERROR_CONFIG, "empty policy name");
        return NULL;
    }
    for (char **p = parts; *p; p++) {
        if (!valid_name(*p)) {
            g_set_error(errp, VH_ERROR, VH_ERROR_CONFIG,
                        "invalid policy '%s': '%s' is not a policy name "
                        "(letters, digits, '-', '_' and '.')",
                        spec, *p);
            return NULL;
        }
    }
    return g_steal_pointer(&parts);
}

/* Read NAME.pol / NAME.pmod from the tree, else the built-in text. */
static bool find_policy_text(const char *root, const char *name, bool module,
                             char **label, char **text, GError **errp)
{
    const char *sub = module ? "modules" : ".";
    const char *ext = module ? ".pmod" : ".pol";
    g_autofree char *file = g_strconcat(name, ext, NULL);
    const char *bases[] = {"etc/crypto-policies/policies",
                           "usr/share/crypto-policies/policies"};
    g_autoptr(GString) where = g_string_new(NULL);
    const char *builtin;

    for (guint i = 0; i < G_N_ELEMENTS(bases); i++) {
        g_autofree char *dir = g_build_filename(root, bases[i], sub, NULL);
        g_autofree char *canon = g_canonicalize_filename(dir, "/");
        g_autofree char *path = g_build_filename(canon, file, NULL);

        if (g_file_test(path, G_FILE_TEST_EXISTS)) {
            g_autoptr(GError) err = NULL;
            if (!vh_file_read_regular(path, VH_FILE_MAX_TEXT, VH_FILE_READ_TEXT,
                                      text, NULL, &err)) {
                g_set_error(errp, VH_ERROR, VH_ERROR_CONFIG,
                            "Cannot read %s %s",
                            module ? "sub-policy" : "policy", err->message);
                return false;
            }
            *label = g_steal_pointer(&path);
            return true;
        }
        g_string_append_printf(where, "%s%s", i ? " or " : "", canon);
    }
    builtin = vh_policy_builtin_text(name, module);
    if (builtin) {
        *text = g_strdup(builtin);
        *label = g_strdup_printf("built-in %s%s", name, ext);
        return true;
    }
    {
        g_autofree char *known =
            g_strjoinv(", ", (char **)vh_policy_builtin_names(module));
        g_set_error(errp, VH_ERROR, VH_ERROR_CONFIG,
                    "unknown %s '%s': no %s in %s, and the built-in %s are %s",
                    module ? "sub-policy" : "policy", name, file, where->str,
                    module ? "sub-policies" : "policies", known);
    }
    return false;
}

VhPolicy *vh_policy_load(const char *root, const char *spec, GError **errp)
{
    g_auto(GStrv) parts = vh_policy_spec_split(spec, errp);
    g_autoptr(VhPolicy) pol = NULL;

    if (!parts) {
        return NULL;
    }
    pol = vh_policy_new(spec);
    for (guint i = 0; parts[i]; i++) {
        g_autofree char *label = NULL;
        g_autofree char *text = NULL;

        if (!find_policy_text(root ? root : "/", parts[i], i > 0, &label, &text,
                              errp) ||
            !vh_policy_apply_text(pol, label, text, errp)) {
            return NULL;
        }
    }
    return g_steal_pointer(&pol);
}
