/*
 * authz-list JSON rules: vh_authz_list_set_rules_json() (the QMP shape, an
 * array) and the authz-list-file format, read from a file by
 * VhAuthzListFile and parsed by vh_authz_list_load_node().
 *
 * Invariants: success xor a VH_ERROR_CONFIG error; a failed load leaves
 * the old rules in place; the file's errors name the file; loading the
 * file agrees with loading the same text as a node; and once loaded, the
 * decisions are those of a reference reading of the rules (first match
 * wins, else the default policy).
 */
#include "fuzz-common.h"

#include "vmhost/authz/authz-list-file.h"
#include "vmhost/authz/authz-list.h"
#include "vmhost/util/json.h"

#include <fnmatch.h>

/* A string member, or NULL (absent, null or not a string). */
static const char *member(JsonObject *obj, const char *name)
{
    JsonNode *node = json_object_get_member(obj, name);

    if (!node || !JSON_NODE_HOLDS_VALUE(node) ||
        json_node_get_value_type(node) != G_TYPE_STRING) {
        return NULL;
    }
    return json_node_get_string(node);
}

/* The reference decision for @identity under loaded rules @rules. */
static bool ref_decide(JsonArray *rules, bool default_allow,
                       const char *identity)
{
    for (guint i = 0; rules && i < json_array_get_length(rules); i++) {
        JsonObject *rule = json_array_get_object_element(rules, i);
        const char *match = member(rule, "match");
        const char *format = member(rule, "format");
        bool hit = format && strcmp(format, "glob") == 0
                       ? fnmatch(match, identity, 0) == 0
                       : strcmp(match, identity) == 0;
        if (hit) {
            return strcmp(member(rule, "policy"), "allow") == 0;
        }
    }
    return default_allow;
}

static bool decide(VhAuthz *authz, const char *identity)
{
    g_autoptr(GError) err = NULL;
    bool ok = vh_authz_is_allowed(authz, identity, &err);

    fuzz_assert_result(ok, err);
    return ok;
}

/* Identities to ask about: fixed ones and the first rule's pattern. */
static void check_decisions(VhAuthz *authz, JsonArray *rules,
                            bool default_allow)
{
    const char *ids[] = {"", "CN=fred", "CN=*", NULL, NULL};

    if (rules && json_array_get_length(rules) > 0) {
        ids[3] = member(json_array_get_object_element(rules, 0), "match");
    }
    for (size_t i = 0; ids[i]; i++) {
        g_assert_cmpint(decide(authz, ids[i]), ==,
                        ref_decide(rules, default_allow, ids[i]));
    }
}

/* The QMP shape: the input as a rules array. */
static void fuzz_rules_json(const char *text)
{
    g_autoptr(VhAuthzList) list = vh_authz_list_new(VH_AUTHZ_LIST_POLICY_DENY);
    g_autoptr(JsonParser) parser = json_parser_new();
    g_autoptr(GError) err = NULL;
    bool ok;

    vh_authz_list_append_rule(list, "CN=old", VH_AUTHZ_LIST_POLICY_ALLOW,
                              VH_AUTHZ_LIST_FORMAT_EXACT);
    ok = vh_authz_list_set_rules_json(list, text, &err);
    fuzz_assert_result(ok, err);
    if (!ok) {
        g_assert_true(g_error_matches(err, VH_ERROR, VH_ERROR_CONFIG));
        g_assert_cmpuint(vh_authz_list_get_rule_count(list), ==, 1);
        g_assert_true(decide(VH_AUTHZ(list), "CN=old"));
        return;
    }
    g_assert_true(json_parser_load_from_data(parser, text, -1, NULL));
    JsonArray *rules = json_node_get_array(json_parser_get_root(parser));
    g_assert_cmpuint(vh_authz_list_get_rule_count(list), ==,
                     json_array_get_length(rules));
    check_decisions(VH_AUTHZ(list), rules, false);
}

/* The authz-list-file format, through the file object. */
static void fuzz_rules_file(const uint8_t *data, size_t size)
{
    g_autofree char *path =
        g_build_filename(fuzz_scratch_dir(), "authz.json", NULL);
    g_autoptr(VhAuthzListFile) file = NULL;
    g_autoptr(VhAuthzList) list = vh_authz_list_new(VH_AUTHZ_LIST_POLICY_DENY);
    g_autoptr(JsonNode) node = NULL;
    g_autoptr(GError) err = NULL;
    g_autoptr(GError) node_err = NULL;
    bool node_ok;

    fuzz_write_file(path, data, size);
    file = vh_authz_list_file_new(path, false, &err);
    fuzz_assert_result(file != NULL, err);

    /* Operator JSON is parsed by vh_json_parse() wherever it comes from. */
    node = vh_json_parse((const char *)data, (gssize)size, &node_err);
    node_ok = node && vh_authz_list_load_node(list, node, &node_err);
    fuzz_assert_result(node_ok, node_err);
    g_assert_cmpint(file != NULL, ==, node_ok);
    if (!file) {
        g_assert_true(g_error_matches(err, VH_ERROR, VH_ERROR_CONFIG));
        g_assert_nonnull(strstr(err->message, path));
        return;
    }

    JsonObject *root = json_node_get_object(node);
    const char *policy = member(root, "policy");
    bool allow = policy && strcmp(policy, "allow") == 0;
    JsonNode *rules = json_object_get_member(root, "rules");
    JsonArray *array = rules && JSON_NODE_HOLDS_ARRAY(rules)
                           ? json_node_get_array(rules)
                           : NULL;

    g_assert_cmpint(vh_authz_list_get_policy(list), ==,
                    allow ? VH_AUTHZ_LIST_POLICY_ALLOW
                          : VH_AUTHZ_LIST_POLICY_DENY);
    check_decisions(VH_AUTHZ(file), array, allow);
    check_decisions(VH_AUTHZ(list), array, allow);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autofree char *text = fuzz_cstring(data, size);

    if (text) {
        fuzz_rules_json(text);
    }
    fuzz_rules_file(data, size);
    return 0;
}
