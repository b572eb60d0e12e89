/*
 * Strict JSON parsing (duplicate keys) and JSON objects as option strings.
 */
#include "vmhost/util/json.h"

#include <string.h>

#include "vmhost/util/error.h"

/*
 * Members seen per open object, innermost last. json-glib emits
 * "object-member" after it has stored the member, so an object that has
 * fewer members than names seen has just replaced one: a duplicate.
 */
typedef struct {
    GArray *counts; /* guint */
    char *dup;      /* the first duplicate name */
} DupCheck;

static void on_object_start(JsonParser *p, gpointer opaque)
{
    DupCheck *d = opaque;
    guint zero = 0;

    g_array_append_val(d->counts, zero);
}

static void on_object_member(JsonParser *p, JsonObject *o, const char *name,
                             gpointer opaque)
{
    DupCheck *d = opaque;
    guint *seen = &g_array_index(d->counts, guint, d->counts->len - 1);

    (*seen)++;
    if (!d->dup && json_object_get_size(o) < *seen) {
        d->dup = g_strdup(name);
    }
}

static void on_object_end(JsonParser *p, JsonObject *o, gpointer opaque)
{
    DupCheck *d = opaque;

    g_array_set_size(d->counts, d->counts->len - 1);
}

/*
 * A NUL byte, or a \u0000 escape (backslashes occur only inside strings
 * in valid JSON, so an escape is found by skipping escaped characters).
 */
static bool check_nul(const char *text, gsize len, GError **errp)
{
    for (gsize i = 0; i < len; i++) {
        if (text[i] == '\0') {
            g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                        "a NUL byte at byte %" G_GSIZE_FORMAT, i);
            return false;
        }
        if (text[i] != '\\' || i + 1 >= len) {
            continue;
        }
        if (len - i >= 6 && strncmp(text + i + 1, "u0000", 5) == 0) {
            g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                        "a NUL character (\\u0000) in a string at byte "
                        "%" G_GSIZE_FORMAT,
                        i);
            return false;
        }
        i++; /* the escaped character */
    }
    return true;
}

static bool trailing(gsize at, GError **errp)
{
    g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                "unexpected data after the JSON value at byte %" G_GSIZE_FORMAT,
                at);
    return false;
}

/*
 * One JSON value and nothing but blanks after it. json-glib 1.6 takes
 * "[1] [2]" or "0 {...}" as its last value, dropping (and leaking) the
 * ones before: '{"policy": "deny"} {"policy": "allow"}' would read as
 * allow. So follow strings and brackets (not the grammar, which is
 * json-glib's to judge) to where the first top-level value ends, and
 * refuse anything after it before json-glib sees the text.
 */
static bool check_one_value(const char *text, gsize len, GError **errp)
{
    guint depth = 0;
    bool in_string = false;
    bool in_scalar = false; /* a top-level number, true, null... */
    bool done = false;      /* the first top-level value has ended */

    for (gsize i = 0; i < len; i++) {
        char c = text[i];
        bool blank = c == ' ' || c == '\t' || c == '\n' || c == '\r';

        if (in_string) {
            if (c == '\\') {
                i++;
            } else if (c == '"') {
                in_string = false;
                done = depth == 0;
            }
            continue;
        }
        if (done && !blank) {
            return trailing(i, errp);
        }
        if (depth == 0 && in_scalar &&
            (blank || c == '{' || c == '[' || c == '"')) {
            in_scalar = false;
            done = true;
            if (!blank) {
                return trailing(i, errp);
            }
            continue;
        }
        switch (c) {
        case '"':
            in_string = true;
            break;
        case '{':
        case '[':
            depth++;
            break;
        case '}':
        case ']':
            if (depth == 0) {
                return true; /* unbalanced: json-glib says where */
            }
            done = --depth == 0;
            break;
        default:
            in_scalar = in_scalar || (depth == 0 && !blank);
            break;
        }
    }
    return true;
}

JsonNode *vh_json_parse(const char *text, gssize len, GError **errp)
{
    g_autoptr(JsonParser) parser = json_parser_new_immutable();
    DupCheck d = {.counts = g_array_new(false, false, sizeof(guint))};
    g_autoptr(GError) err = NULL;
    JsonNode *root = NULL;
    gsize n = len < 0 ? strlen(text) : (gsize)len;

    if (!check_nul(text, n, errp) || !check_one_value(text, n, errp)) {
        g_array_unref(d.counts);
        return NULL;
    }
    g_signal_connect(parser, "object-start", G_CALLBACK(on_object_start), &d);
    g_signal_connect(parser, "object-member", G_CALLBACK(on_object_member), &d);
    g_signal_connect(parser, "object-end", G_CALLBACK(on_object_end), &d);
    if (!json_parser_load_from_data(parser, text, len, &err)) {
        g_set_error_literal(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                            err->message);
    } else if (d.dup) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "duplicate key '%s'", d.dup);
    } else if (!json_parser_get_root(parser)) {
        g_set_error_literal(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                            "expecting value");
    } else {
        root = json_node_ref(json_parser_get_root(parser));
    }
    g_array_unref(d.counts);
    g_free(d.dup);
    return root;
}

const char *vh_json_type_name(JsonNode *n)
{
    switch (JSON_NODE_TYPE(n)) {
    case JSON_NODE_OBJECT:
        return "object";
    case JSON_NODE_ARRAY:
        return "array";
    case JSON_NODE_NULL:
        return "null";
    case JSON_NODE_VALUE:
    default:
        break;
    }
    switch (json_node_get_value_type(n)) {
    case G_TYPE_STRING:
        return "string";
    case G_TYPE_INT64:
        return "integer";
    case G_TYPE_BOOLEAN:
        return "boolean";
    case G_TYPE_DOUBLE:
    default:
        return "number";
    }
}

/* What opts.h accepts as a key: letters, digits, '-', '_' and '.'. */
static bool key_valid(const char *key)
{
    if (!*key) {
        return false;
    }
    for (const char *p = key; *p; p++) {
        if (!g_ascii_isalnum(*p) && *p != '-' && *p != '_' && *p != '.') {
            return false;
        }
    }
    return true;
}

static bool add_node(VhOpts *opts, const char *key, JsonNode *n, GError **errp)
{
    if (!key_valid(key)) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "%s: '%s' is not a valid parameter name",
                    vh_opts_get_optname(opts), key);
        return false;
    }
    if (JSON_NODE_HOLDS_OBJECT(n)) {
        JsonObject *o = json_node_get_object(n);
        g_autoptr(GList) members = json_object_get_members(o);

        for (GList *l = members; l; l = l->next) {
            g_autofree char *sub =
                g_strdup_printf("%s.%s", key, (char *)l->data);

            if (!add_node(opts, sub, json_object_get_member(o, l->data),
                          errp)) {
                return false;
            }
        }
        return true;
    }
    if (JSON_NODE_HOLDS_ARRAY(n)) {
        JsonArray *a = json_node_get_array(n);

        for (guint i = 0; i < json_array_get_length(a); i++) {
            g_autofree char *sub = g_strdup_printf("%s.%u", key, i);

            if (!add_node(opts, sub, json_array_get_element(a, i), errp)) {
                return false;
            }
        }
        return true;
    }
    if (JSON_NODE_HOLDS_NULL(n)) {
        vh_opts_append(opts, key, NULL);
        return true;
    }
    switch (json_node_get_value_type(n)) {
    case G_TYPE_STRING:
        vh_opts_append(opts, key, json_node_get_string(n));
        return true;
    case G_TYPE_BOOLEAN:
        vh_opts_append(opts, key, json_node_get_boolean(n) ? "on" : "off");
        return true;
    case G_TYPE_INT64: {
        g_autofree char *v =
            g_strdup_printf("%" G_GINT64_FORMAT, json_node_get_int(n));

        vh_opts_append(opts, key, v);
        return true;
    }
    default:
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "%s: parameter '%s': a %s is not taken here",
                    vh_opts_get_optname(opts), key, vh_json_type_name(n));
        return false;
    }
}

VhOpts *vh_opts_from_json(const char *optname, JsonObject *o, GError **errp)
{
    g_autoptr(VhOpts) opts = vh_opts_new(optname);
    g_autoptr(GList) members = json_object_get_members(o);

    for (GList *l = members; l; l = l->next) {
        if (!add_node(opts, l->data, json_object_get_member(o, l->data),
                      errp)) {
            return NULL;
        }
    }
    return g_steal_pointer(&opts);
}
