/* authz-list: ordered exact/glob rules, first match wins, default policy. */
#include "vmhost/authz/authz-list.h"

#include "vmhost/util/json.h"

#include <fnmatch.h>
#include <string.h>

typedef struct {
    char *match;
    VhAuthzListPolicy policy;
    VhAuthzListFormat format;
} Rule;

struct _VhAuthzList {
    VhAuthz parent;
    GMutex lock; /* guards policy and rules */
    VhAuthzListPolicy policy;
    GPtrArray *rules; /* of Rule */
};

enum {
    PROP_0,
    PROP_POLICY,
    N_PROPS,
};

static GParamSpec *props[N_PROPS];

G_DEFINE_TYPE(VhAuthzList, vh_authz_list, VH_TYPE_AUTHZ)

GType vh_authz_list_policy_get_type(void)
{
    static gsize type;
    static const GEnumValue values[] = {
        {VH_AUTHZ_LIST_POLICY_DENY, "VH_AUTHZ_LIST_POLICY_DENY", "deny"},
        {VH_AUTHZ_LIST_POLICY_ALLOW, "VH_AUTHZ_LIST_POLICY_ALLOW", "allow"},
        {0, NULL, NULL},
    };

    if (g_once_init_enter(&type)) {
        g_once_init_leave(&type,
                          g_enum_register_static("VhAuthzListPolicy", values));
    }
    return type;
}

GType vh_authz_list_format_get_type(void)
{
    static gsize type;
    static const GEnumValue values[] = {
        {VH_AUTHZ_LIST_FORMAT_EXACT, "VH_AUTHZ_LIST_FORMAT_EXACT", "exact"},
        {VH_AUTHZ_LIST_FORMAT_GLOB, "VH_AUTHZ_LIST_FORMAT_GLOB", "glob"},
        {0, NULL, NULL},
    };

    if (g_once_init_enter(&type)) {
        g_once_init_leave(&type,
                          g_enum_register_static("VhAuthzListFormat", values));
    }
    return type;
}

static void rule_free(gpointer data)
{
    Rule *rule = data;

    g_free(rule->match);
    g_free(rule);
}

static Rule *rule_new(const char *match, VhAuthzListPolicy policy,
                      VhAuthzListFormat format)
{
    Rule *rule = g_new0(Rule, 1);

    rule->match = g_strdup(match);
    rule->policy = policy;
    rule->format = format;
    return rule;
}

static bool rule_matches(const Rule *rule, const char *identity)
{
    switch (rule->format) {
    case VH_AUTHZ_LIST_FORMAT_GLOB:
        return fnmatch(rule->match, identity, 0) == 0;
    case VH_AUTHZ_LIST_FORMAT_EXACT:
    default:
        return strcmp(rule->match, identity) == 0;
    }
}

static void vh_authz_list_init(VhAuthzList *authz)
{
    g_mutex_init(&authz->lock);
    authz->rules = g_ptr_array_new_with_free_func(rule_free);
}

static void vh_authz_list_finalize(GObject *obj)
{
    VhAuthzList *authz = VH_AUTHZ_LIST(obj);

    g_ptr_array_unref(authz->rules);
    g_mutex_clear(&authz->lock);
    G_OBJECT_CLASS(vh_authz_list_parent_class)->finalize(obj);
}

static void vh_authz_list_set_property(GObject *obj, guint id,
                                       const GValue *value, GParamSpec *pspec)
{
    switch (id) {
    case PROP_POLICY:
        vh_authz_list_set_policy(VH_AUTHZ_LIST(obj), g_value_get_enum(value));
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, id, pspec);
        break;
    }
}

static void vh_authz_list_get_property(GObject *obj, guint id, GValue *value,
                                       GParamSpec *pspec)
{
    switch (id) {
    case PROP_POLICY:
        g_value_set_enum(value, vh_authz_list_get_policy(VH_AUTHZ_LIST(obj)));
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, id, pspec);
        break;
    }
}

static bool vh_authz_list_is_allowed(VhAuthz *base, const char *identity,
                                     GError **errp)
{
    VhAuthzList *authz = VH_AUTHZ_LIST(base);
    g_autoptr(GMutexLocker) locker G_GNUC_UNUSED =
        g_mutex_locker_new(&authz->lock);

    for (guint i = 0; i < authz->rules->len; i++) {
        const Rule *rule = g_ptr_array_index(authz->rules, i);
        if (rule_matches(rule, identity)) {
            return rule->policy == VH_AUTHZ_LIST_POLICY_ALLOW;
        }
    }
    return authz->policy == VH_AUTHZ_LIST_POLICY_ALLOW;
}

static void vh_authz_list_class_init(VhAuthzListClass *klass)
{
    GObjectClass *oc = G_OBJECT_CLASS(klass);

    oc->finalize = vh_authz_list_finalize;
    oc->set_property = vh_authz_list_set_property;
    oc->get_property = vh_authz_list_get_property;
    VH_AUTHZ_CLASS(klass)->is_allowed = vh_authz_list_is_allowed;

    props[PROP_POLICY] =
        g_param_spec_enum("policy", "policy", "Decision when no rule matches",
                          VH_TYPE_AUTHZ_LIST_POLICY, VH_AUTHZ_LIST_POLICY_DENY,
                          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
    g_object_class_install_properties(oc, N_PROPS, props);
}

VhAuthzList *vh_authz_list_new(VhAuthzListPolicy policy)
{
    return g_object_new(VH_TYPE_AUTHZ_LIST, "policy", policy, NULL);
}

VhAuthzListPolicy vh_authz_list_get_policy(VhAuthzList *authz)
{
    g_autoptr(GMutexLocker) locker G_GNUC_UNUSED =
        g_mutex_locker_new(&authz->lock);

    return authz->policy;
}

void vh_authz_list_set_policy(VhAuthzList *authz, VhAuthzListPolicy policy)
{
    g_autoptr(GMutexLocker) locker G_GNUC_UNUSED =
        g_mutex_locker_new(&authz->lock);

    authz->policy = policy;
}

size_t vh_authz_list_append_rule(VhAuthzList *authz, const char *match,
                                 VhAuthzListPolicy policy,
                                 VhAuthzListFormat format)
{
    g_autoptr(GMutexLocker) locker G_GNUC_UNUSED =
        g_mutex_locker_new(&authz->lock);

    g_return_val_if_fail(match != NULL, 0);
    g_ptr_array_add(authz->rules, rule_new(match, policy, format));
    return authz->rules->len - 1;
}

bool vh_authz_list_insert_rule(VhAuthzList *authz, size_t index,
                               const char *match, VhAuthzListPolicy policy,
                               VhAuthzListFormat format, GError **errp)
{
    g_autoptr(GMutexLocker) locker G_GNUC_UNUSED =
        g_mutex_locker_new(&authz->lock);

    g_return_val_if_fail(match != NULL, false);
    if (index > authz->rules->len) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "cannot insert rule '%s' at index %zu: the list has "
                    "only %u rules",
                    match, index, authz->rules->len);
        return false;
    }
    g_ptr_array_insert(authz->rules, (gint)index,
                       rule_new(match, policy, format));
    return true;
}

gssize vh_authz_list_remove_rule(VhAuthzList *authz, const char *match,
                                 GError **errp)
{
    g_autoptr(GMutexLocker) locker G_GNUC_UNUSED =
        g_mutex_locker_new(&authz->lock);

    for (guint i = 0; i < authz->rules->len; i++) {
        const Rule *rule = g_ptr_array_index(authz->rules, i);
        if (strcmp(rule->match, match) == 0) {
            g_ptr_array_remove_index(authz->rules, i);
            return i;
        }
    }
    g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                "no rule matches '%s'", match);
    return -1;
}

size_t vh_authz_list_get_rule_count(VhAuthzList *authz)
{
    g_autoptr(GMutexLocker) locker G_GNUC_UNUSED =
        g_mutex_locker_new(&authz->lock);

    return authz->rules->len;
}

void vh_authz_list_clear_rules(VhAuthzList *authz)
{
    g_autoptr(GMutexLocker) locker G_GNUC_UNUSED =
        g_mutex_locker_new(&authz->lock);

    g_ptr_array_set_size(authz->rules, 0);
}

/* Parse @nick as a value of enum @type; @what names it in errors. */
static bool parse_enum(GType type, const char *nick, const char *what, int *out,
                       GError **errp)
{
    g_autoptr(GEnumClass) klass = g_type_class_ref(type);
    const GEnumValue *value = g_enum_get_value_by_nick(klass, nick);

    if (!value) {
        g_set_error(errp, VH_ERROR, VH_ERROR_CONFIG, "%s '%s' is not one of %s",
                    what, nick,
                    type == VH_TYPE_AUTHZ_LIST_POLICY ? "allow, deny"
                                                      : "exact, glob");
        return false;
    }
    *out = value->value;
    return true;
}

/* A string member of @obj, or NULL (with an error when it is not a string). */
static const char *get_string_member(JsonObject *obj, const char *name,
                                     bool required, const char *where,
                                     GError **errp)
{
    JsonNode *node = json_object_get_member(obj, name);

    if (!node || JSON_NODE_HOLDS_NULL(node)) {
        if (required) {
            g_set_error(errp, VH_ERROR, VH_ERROR_CONFIG, "%s has no \"%s\"",
                        where, name);
        }
        return NULL;
    }
    if (!JSON_NODE_HOLDS_VALUE(node) ||
        json_node_get_value_type(node) != G_TYPE_STRING) {
        g_set_error(errp, VH_ERROR, VH_ERROR_CONFIG,
                    "%s: \"%s\" must be a string", where, name);
        return NULL;
    }
    return json_node_get_string(node);
}

static Rule *rule_from_node(JsonNode *node, guint index, GError **errp)
{
    g_autofree char *where = g_strdup_printf("rule %u", index);
    GError *err = NULL;
    JsonObject *obj;
    const char *match, *policy, *format;
    int pol, fmt = VH_AUTHZ_LIST_FORMAT_EXACT;

    if (!JSON_NODE_HOLDS_OBJECT(node)) {
        g_set_error(errp, VH_ERROR, VH_ERROR_CONFIG, "%s is not a JSON object",
                    where);
        return NULL;
    }
    obj = json_node_get_object(node);
    match = get_string_member(obj, "match", true, where, errp);
    if (!match) {
        return NULL;
    }
    policy = get_string_member(obj, "policy", true, where, errp);
    if (!policy) {
        return NULL;
    }
    format = get_string_member(obj, "format", false, where, &err);
    if (err) {
        g_propagate_error(errp, err);
        return NULL;
    }
    if (!parse_enum(VH_TYPE_AUTHZ_LIST_POLICY, policy, where, &pol, errp) ||
        (format &&
         !parse_enum(VH_TYPE_AUTHZ_LIST_FORMAT, format, where, &fmt, errp))) {
        return NULL;
    }
    return rule_new(match, pol, fmt);
}

static GPtrArray *rules_from_node(JsonNode *rules, GError **errp)
{
    g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func(rule_free);
    JsonArray *array;

    if (!rules || !JSON_NODE_HOLDS_ARRAY(rules)) {
        g_set_error(errp, VH_ERROR, VH_ERROR_CONFIG,
                    "the rules must be a JSON array");
        return NULL;
    }
    array = json_node_get_array(rules);
    for (guint i = 0; i < json_array_get_length(array); i++) {
        Rule *rule = rule_from_node(json_array_get_element(array, i), i, errp);
        if (!rule) {
            return NULL;
        }
        g_ptr_array_add(out, rule);
    }
    return g_steal_pointer(&out);
}

static void replace_rules(VhAuthzList *authz, GPtrArray *rules,
                          const VhAuthzListPolicy *policy)
{
    g_autoptr(GMutexLocker) locker G_GNUC_UNUSED =
        g_mutex_locker_new(&authz->lock);
    GPtrArray *old = authz->rules;

    authz->rules = rules;
    if (policy) {
        authz->policy = *policy;
    }
    g_ptr_array_unref(old);
}

bool vh_authz_list_set_rules_node(VhAuthzList *authz, JsonNode *rules,
                                  GError **errp)
{
    GPtrArray *parsed = rules_from_node(rules, errp);

    if (!parsed) {
        return false;
    }
    replace_rules(authz, parsed, NULL);
    return true;
}

bool vh_authz_list_set_rules_json(VhAuthzList *authz, const char *json,
                                  GError **errp)
{
    g_autoptr(JsonNode) root = NULL;
    g_autoptr(GError) err = NULL;

    /*
     * The one JSON parser for operator input, as the rules file uses:
     * json-glib alone keeps the last of two "policy" members of a rule and
     * cuts a "match" at \u0000, so the same text would load differently.
     */
    root = vh_json_parse(json, -1, &err);
    if (!root) {
        g_set_error(errp, VH_ERROR, VH_ERROR_CONFIG,
                    "the rules are not valid JSON: %s", err->message);
        return false;
    }
    return vh_authz_list_set_rules_node(authz, root, errp);
}

bool vh_authz_list_load_node(VhAuthzList *authz, JsonNode *root, GError **errp)
{
    g_autoptr(GPtrArray) parsed = NULL;
    GError *err = NULL;
    JsonObject *obj;
    JsonNode *rules;
    const char *policy;
    int pol = VH_AUTHZ_LIST_POLICY_DENY;

    if (!root || !JSON_NODE_HOLDS_OBJECT(root)) {
        g_set_error(errp, VH_ERROR, VH_ERROR_CONFIG,
                    "the top level must be a JSON object with \"policy\" "
                    "and \"rules\"");
        return false;
    }
    obj = json_node_get_object(root);
    policy = get_string_member(obj, "policy", false, "the top level", &err);
    if (err) {
        g_propagate_error(errp, err);
        return false;
    }
    if (policy && !parse_enum(VH_TYPE_AUTHZ_LIST_POLICY, policy,
                              "the default policy", &pol, errp)) {
        return false;
    }
    rules = json_object_get_member(obj, "rules");
    if (rules && !JSON_NODE_HOLDS_NULL(rules)) {
        parsed = rules_from_node(rules, errp);
        if (!parsed) {
            return false;
        }
    } else {
        parsed = g_ptr_array_new_with_free_func(rule_free);
    }
    replace_rules(authz, g_steal_pointer(&parsed), (VhAuthzListPolicy[]){pol});
    return true;
}
