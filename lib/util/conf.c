#include "vmhost/util/conf.h"

#include "vmhost/util/error.h"
#include "vmhost/util/file.h"

#include <errno.h>
#include <string.h>

typedef struct {
    VhConfType type;
    guint line;
    char *str;
    gint64 num;
    char **list;
} ConfValue;

struct _VhConf {
    char *name;
    GHashTable *values;        /* key -> ConfValue */
    VhConfUnknownFunc unknown; /* NULL: an unknown key is an error */
    gpointer unknown_opaque;
};

/* The scanner: a position in the text, with line and column for errors. */
typedef struct {
    const char *name;
    const char *p;
    const char *end;
    guint line;
    const char *line_start;
} Scanner;

static void conf_value_free(gpointer data)
{
    ConfValue *v = data;

    g_free(v->str);
    g_strfreev(v->list);
    g_free(v);
}

static guint column(const Scanner *s)
{
    return (guint)(s->p - s->line_start) + 1;
}

static bool at_end(const Scanner *s)
{
    return s->p >= s->end;
}

static char peek(const Scanner *s)
{
    return at_end(s) ? '\0' : *s->p;
}

/* What the scanner sees, quoted for a message: 'x', end of line or file. */
static char *describe_here(const Scanner *s)
{
    char c = peek(s);

    if (at_end(s)) {
        return g_strdup("end of file");
    }
    if (c == '\n') {
        return g_strdup("end of line");
    }
    if (c == '\0') {
        return g_strdup("a NUL byte");
    }
    if ((unsigned char)c < 0x20 || (unsigned char)c >= 0x7f) {
        return g_strdup_printf("byte 0x%02x", (unsigned char)c);
    }
    return g_strdup_printf("'%c'", c);
}

static bool syntax_error(const Scanner *s, GError **errp, const char *expected)
{
    g_autofree char *here = describe_here(s);

    g_set_error(errp, VH_ERROR, VH_ERROR_CONFIG,
                "%s:%u:%u: expected %s, got %s", s->name, s->line, column(s),
                expected, here);
    return false;
}

static void newline(Scanner *s)
{
    s->p++;
    s->line++;
    s->line_start = s->p;
}

/* Spaces and tabs; with @lines also newlines and comments (inside lists). */
static void skip_blank(Scanner *s, bool lines)
{
    while (!at_end(s)) {
        char c = *s->p;

        if (c == ' ' || c == '\t' || c == '\r') {
            s->p++;
        } else if (c == '#') {
            while (!at_end(s) && *s->p != '\n') {
                s->p++;
            }
        } else if (c == '\n' && lines) {
            newline(s);
        } else {
            return;
        }
    }
}

static bool is_key_start(char c)
{
    return g_ascii_isalpha(c) || c == '_';
}

static bool is_key_char(char c)
{
    return g_ascii_isalnum(c) || c == '_' || c == '.' || c == '-';
}

static char escaped(char c)
{
    switch (c) {
    case 'n':
        return '\n';
    case 't':
        return '\t';
    case 'r':
        return '\r';
    case '\\':
    case '"':
    case '\'':
        return c;
    default:
        return '\0';
    }
}

/* "text with \" escapes" or 'literal text'; on one line. */
static char *scan_string(Scanner *s, GError **errp)
{
    char quote = *s->p;
    guint start_col = column(s);
    g_autoptr(GString) out = g_string_new(NULL);

    s->p++;
    for (;;) {
        char c = peek(s);

        if (at_end(s) || c == '\n') {
            g_set_error(errp, VH_ERROR, VH_ERROR_CONFIG,
                        "%s:%u:%u: unterminated string (no closing %c)",
                        s->name, s->line, start_col, quote);
            return NULL;
        }
        if (c == '\0') {
            syntax_error(s, errp, "a string character");
            return NULL;
        }
        if (c == quote) {
            s->p++;
            break;
        }
        if (c == '\\' && quote == '"') {
            char e;

            s->p++;
            e = escaped(peek(s));
            if (!e || at_end(s)) {
                syntax_error(s, errp,
                             "an escape (\\\" \\\\ \\' \\n \\t \\r) after \\");
                return NULL;
            }
            g_string_append_c(out, e);
            s->p++;
            continue;
        }
        g_string_append_c(out, c);
        s->p++;
    }
    if (!g_utf8_validate(out->str, (gssize)out->len, NULL)) {
        g_set_error(errp, VH_ERROR, VH_ERROR_CONFIG,
                    "%s:%u:%u: string is not valid UTF-8", s->name, s->line,
                    start_col);
        return NULL;
    }
    return g_string_free(g_steal_pointer(&out), false);
}

static bool scan_int(Scanner *s, gint64 *out, GError **errp)
{
    const char *start = s->p;
    guint start_col = column(s);
    g_autofree char *text = NULL;
    char *endp = NULL;

    if (peek(s) == '-' || peek(s) == '+') {
        s->p++;
    }
    if (!g_ascii_isdigit(peek(s))) {
        return syntax_error(s, errp, "a digit");
    }
    while (g_ascii_isdigit(peek(s))) {
        s->p++;
    }
    text = g_strndup(start, s->p - start);
    errno = 0;
    *out = g_ascii_strtoll(text, &endp, 10);
    if (errno == ERANGE) {
        g_set_error(errp, VH_ERROR, VH_ERROR_CONFIG,
                    "%s:%u:%u: integer %s is out of range", s->name, s->line,
                    start_col, text);
        return false;
    }
    return true;
}

/* [ "a", "b", ] possibly over several lines, with comments. */
static char **scan_list(Scanner *s, GError **errp)
{
    g_autoptr(GPtrArray) items = g_ptr_array_new_with_free_func(g_free);

    s->p++;
    for (;;) {
        char *item;

        skip_blank(s, true);
        if (peek(s) == ']') {
            break;
        }
        if (at_end(s) || (peek(s) != '"' && peek(s) != '\'')) {
            syntax_error(s, errp, "a \"string\" or ']' in the list");
            return NULL;
        }
        item = scan_string(s, errp);
        if (!item) {
            return NULL;
        }
        g_ptr_array_add(items, item);
        skip_blank(s, true);
        if (peek(s) == ',') {
            s->p++;
            continue;
        }
        if (peek(s) != ']') {
            syntax_error(s, errp, "',' or ']' after a list item");
            return NULL;
        }
        break;
    }
    s->p++;
    g_ptr_array_add(items, NULL);
    return (char **)g_ptr_array_free(g_steal_pointer(&items), false);
}

static const char *type_name(VhConfType type)
{
    switch (type) {
    case VH_CONF_STRING:
        return "a \"string\"";
    case VH_CONF_INT:
        return "an integer";
    case VH_CONF_BOOL:
        return "0 or 1";
    case VH_CONF_LIST:
        return "a [ \"list\" ] of strings";
    default:
        return "a value";
    }
}

static const VhConfKey *find_key(const VhConfKey *keys, const char *name)
{
    for (; keys && keys->name; keys++) {
        if (strcmp(keys->name, name) == 0) {
            return keys;
        }
    }
    return NULL;
}

/* The value after '=', checked against the key's type. */
static bool scan_value(Scanner *s, const VhConfKey *key, ConfValue *v,
                       GError **errp)
{
    char c = peek(s);
    guint col = column(s);
    VhConfType got;

    if (c == '"' || c == '\'') {
        got = VH_CONF_STRING;
    } else if (c == '[') {
        got = VH_CONF_LIST;
    } else if (g_ascii_isdigit(c) || c == '-' || c == '+') {
        got = VH_CONF_INT;
    } else {
        return syntax_error(s, errp,
                            "a value (a \"string\", an integer or a [ list ])");
    }
    if (got != key->type &&
        !(got == VH_CONF_INT && key->type == VH_CONF_BOOL)) {
        g_set_error(errp, VH_ERROR, VH_ERROR_CONFIG, "%s:%u:%u: %s must be %s",
                    s->name, s->line, col, key->name, type_name(key->type));
        return false;
    }
    v->type = key->type;
    switch (got) {
    case VH_CONF_STRING:
        v->str = scan_string(s, errp);
        return v->str != NULL;
    case VH_CONF_LIST:
        v->list = scan_list(s, errp);
        return v->list != NULL;
    case VH_CONF_INT:
    case VH_CONF_BOOL:
    default:
        if (!scan_int(s, &v->num, errp)) {
            return false;
        }
        if (key->type == VH_CONF_BOOL && v->num != 0 && v->num != 1) {
            g_set_error(errp, VH_ERROR, VH_ERROR_CONFIG,
                        "%s:%u:%u: %s must be 0 or 1, not %" G_GINT64_FORMAT,
                        s->name, s->line, col, key->name, v->num);
            return false;
        }
        return true;
    }
}

/* An unknown key's value is read as whatever it looks like, then dropped. */
static bool skip_unknown(Scanner *s, VhConf *conf, const char *name, guint line,
                         GError **errp)
{
    char c = peek(s);
    VhConfKey any = {name, VH_CONF_INT};
    ConfValue v = {0};
    bool ok;

    if (c == '"' || c == '\'') {
        any.type = VH_CONF_STRING;
    } else if (c == '[') {
        any.type = VH_CONF_LIST;
    }
    ok = scan_value(s, &any, &v, errp);
    g_free(v.str);
    g_strfreev(v.list);
    if (!ok) {
        return false;
    }
    conf->unknown(s->name, line, name, conf->unknown_opaque);
    skip_blank(s, false);
    if (!at_end(s) && peek(s) != '\n') {
        return syntax_error(s, errp, "end of line after the value");
    }
    return true;
}

/* One "key = value" line, the scanner at the key's first character. */
static bool scan_entry(Scanner *s, VhConf *conf, const VhConfKey *keys,
                       GError **errp)
{
    const char *start = s->p;
    guint line = s->line;
    g_autofree char *name = NULL;
    const VhConfKey *key;
    ConfValue *prev;
    ConfValue *v;

    if (!is_key_start(peek(s))) {
        return syntax_error(s, errp, "a key name or a # comment");
    }
    while (is_key_char(peek(s))) {
        s->p++;
    }
    name = g_strndup(start, s->p - start);
    skip_blank(s, false);
    if (peek(s) != '=') {
        return syntax_error(s, errp, "'=' after the key");
    }
    s->p++;
    skip_blank(s, false);
    key = find_key(keys, name);
    if (!key && conf->unknown) {
        return skip_unknown(s, conf, name, line, errp);
    }
    if (!key) {
        g_set_error(errp, VH_ERROR, VH_ERROR_CONFIG, "%s:%u: unknown key '%s'",
                    s->name, line, name);
        return false;
    }
    prev = g_hash_table_lookup(conf->values, name);
    if (prev) {
        g_set_error(errp, VH_ERROR, VH_ERROR_CONFIG,
                    "%s:%u: key '%s' set twice (first on line %u)", s->name,
                    line, name, prev->line);
        return false;
    }
    v = g_new0(ConfValue, 1);
    v->line = line;
    if (!scan_value(s, key, v, errp)) {
        conf_value_free(v);
        return false;
    }
    g_hash_table_insert(conf->values, g_steal_pointer(&name), v);
    skip_blank(s, false);
    if (!at_end(s) && peek(s) != '\n') {
        return syntax_error(s, errp, "end of line after the value");
    }
    return true;
}

VhConf *vh_conf_parse(const char *name, const char *text, gsize len,
                      const VhConfKey *keys, GError **errp)
{
    return vh_conf_parse_full(name, text, len, keys, NULL, NULL, errp);
}

VhConf *vh_conf_parse_full(const char *name, const char *text, gsize len,
                           const VhConfKey *keys, VhConfUnknownFunc unknown,
                           gpointer opaque, GError **errp)
{
    g_autoptr(VhConf) conf = g_new0(VhConf, 1);
    Scanner s = {
        .name = name,
        .p = text,
        .end = text + len,
        .line = 1,
        .line_start = text,
    };

    conf->name = g_strdup(name);
    conf->unknown = unknown;
    conf->unknown_opaque = opaque;
    conf->values =
        g_hash_table_new_full(g_str_hash, g_str_equal, g_free, conf_value_free);
    for (;;) {
        skip_blank(&s, false);
        if (at_end(&s)) {
            break;
        }
        if (peek(&s) == '\n') {
            newline(&s);
            continue;
        }
        if (!scan_entry(&s, conf, keys, errp)) {
            return NULL;
        }
    }
    return g_steal_pointer(&conf);
}

VhConf *vh_conf_load_file(const char *path, const VhConfKey *keys,
                          GError **errp)
{
    return vh_conf_load_file_full(path, keys, NULL, NULL, errp);
}

VhConf *vh_conf_load_file_full(const char *path, const VhConfKey *keys,
                               VhConfUnknownFunc unknown, gpointer opaque,
                               GError **errp)
{
    g_autofree char *text = NULL;
    gsize len = 0;
    g_autoptr(GError) err = NULL;

    /*
     * Read as bytes: the parser reports a NUL itself, with line and column
     * ("PATH:1:24: expected end of line after the value, got a NUL byte").
     */
    if (!vh_file_read_regular(path, VH_FILE_MAX_TEXT, VH_FILE_READ_BINARY,
                              &text, &len, &err)) {
        g_set_error(errp, VH_ERROR, VH_ERROR_CONFIG,
                    "Cannot read config file %s", err->message);
        return NULL;
    }
    return vh_conf_parse_full(path, text, len, keys, unknown, opaque, errp);
}

void vh_conf_free(VhConf *conf)
{
    if (!conf) {
        return;
    }
    if (conf->values) {
        g_hash_table_unref(conf->values);
    }
    g_free(conf->name);
    g_free(conf);
}

const char *vh_conf_get_name(VhConf *conf)
{
    return conf->name;
}

static ConfValue *lookup(VhConf *conf, const char *key)
{
    return conf ? g_hash_table_lookup(conf->values, key) : NULL;
}

bool vh_conf_has(VhConf *conf, const char *key)
{
    return lookup(conf, key) != NULL;
}

guint vh_conf_get_line(VhConf *conf, const char *key)
{
    ConfValue *v = lookup(conf, key);

    return v ? v->line : 0;
}

const char *vh_conf_get_string(VhConf *conf, const char *key)
{
    ConfValue *v = lookup(conf, key);

    return v && v->type == VH_CONF_STRING ? v->str : NULL;
}

gint64 vh_conf_get_int(VhConf *conf, const char *key, gint64 dflt)
{
    ConfValue *v = lookup(conf, key);

    return v && (v->type == VH_CONF_INT || v->type == VH_CONF_BOOL) ? v->num
                                                                    : dflt;
}

bool vh_conf_get_bool(VhConf *conf, const char *key, bool dflt)
{
    return vh_conf_get_int(conf, key, dflt ? 1 : 0) != 0;
}

const char *const *vh_conf_get_list(VhConf *conf, const char *key)
{
    ConfValue *v = lookup(conf, key);

    return v && v->type == VH_CONF_LIST ? (const char *const *)v->list : NULL;
}
