/* authz-list: exact and glob rules, first match wins, JSON rules. */
#include "vmhost/authz/authz-list.h"
#include "vmhost/util/json.h"

static bool allowed(VhAuthzList *authz, const char *identity)
{
    g_autoptr(GError) err = NULL;
    bool ok = vh_authz_is_allowed(VH_AUTHZ(authz), identity, &err);

    if (ok) {
        g_assert_no_error(err);
    } else {
        g_assert_error(err, VH_ERROR, VH_ERROR_AUTHZ_DENIED);
        g_assert_nonnull(strstr(err->message, identity));
    }
    return ok;
}

static void test_default_policy(void)
{
    g_autoptr(VhAuthzList) authz = g_object_new(VH_TYPE_AUTHZ_LIST, NULL);

    g_assert_cmpint(vh_authz_list_get_policy(authz), ==,
                    VH_AUTHZ_LIST_POLICY_DENY);
    g_assert_false(allowed(authz, "CN=anyone"));
    vh_authz_list_set_policy(authz, VH_AUTHZ_LIST_POLICY_ALLOW);
    g_assert_true(allowed(authz, "CN=anyone"));
}

static void test_exact(void)
{
    g_autoptr(VhAuthzList) authz = vh_authz_list_new(VH_AUTHZ_LIST_POLICY_DENY);

    vh_authz_list_append_rule(authz, "CN=fred", VH_AUTHZ_LIST_POLICY_ALLOW,
                              VH_AUTHZ_LIST_FORMAT_EXACT);
    g_assert_true(allowed(authz, "CN=fred"));
    g_assert_false(allowed(authz, "CN=fredd"));
    /* exact does not interpret glob characters */
    vh_authz_list_append_rule(authz, "CN=*", VH_AUTHZ_LIST_POLICY_ALLOW,
                              VH_AUTHZ_LIST_FORMAT_EXACT);
    g_assert_false(allowed(authz, "CN=bob"));
    g_assert_true(allowed(authz, "CN=*"));
}

static void test_glob(void)
{
    g_autoptr(VhAuthzList) authz = vh_authz_list_new(VH_AUTHZ_LIST_POLICY_DENY);

    vh_authz_list_append_rule(authz, "C=UK,O=ACME,CN=*.acme.com",
                              VH_AUTHZ_LIST_POLICY_ALLOW,
                              VH_AUTHZ_LIST_FORMAT_GLOB);
    vh_authz_list_append_rule(authz, "CN=host?", VH_AUTHZ_LIST_POLICY_ALLOW,
                              VH_AUTHZ_LIST_FORMAT_GLOB);
    vh_authz_list_append_rule(authz, "CN=[ab]ob", VH_AUTHZ_LIST_POLICY_ALLOW,
                              VH_AUTHZ_LIST_FORMAT_GLOB);
    g_assert_true(allowed(authz, "C=UK,O=ACME,CN=www.acme.com"));
    g_assert_false(allowed(authz, "C=US,O=ACME,CN=www.acme.com"));
    g_assert_true(allowed(authz, "CN=host1"));
    g_assert_false(allowed(authz, "CN=host12"));
    g_assert_true(allowed(authz, "CN=bob"));
    g_assert_false(allowed(authz, "CN=cob"));
}

static void test_first_match_wins(void)
{
    g_autoptr(VhAuthzList) authz =
        vh_authz_list_new(VH_AUTHZ_LIST_POLICY_ALLOW);
    g_autoptr(GError) err = NULL;

    vh_authz_list_append_rule(authz, "CN=eve", VH_AUTHZ_LIST_POLICY_DENY,
                              VH_AUTHZ_LIST_FORMAT_EXACT);
    vh_authz_list_append_rule(authz, "CN=*", VH_AUTHZ_LIST_POLICY_ALLOW,
                              VH_AUTHZ_LIST_FORMAT_GLOB);
    g_assert_false(allowed(authz, "CN=eve"));
    g_assert_true(allowed(authz, "CN=alice"));

    /* a deny-all inserted at the front now decides first */
    g_assert_true(vh_authz_list_insert_rule(authz, 0, "*",
                                            VH_AUTHZ_LIST_POLICY_DENY,
                                            VH_AUTHZ_LIST_FORMAT_GLOB, &err));
    g_assert_false(allowed(authz, "CN=alice"));
    g_assert_cmpint(vh_authz_list_remove_rule(authz, "*", &err), ==, 0);
    g_assert_true(allowed(authz, "CN=alice"));
    g_assert_cmpuint(vh_authz_list_get_rule_count(authz), ==, 2);
}

static void test_edit_errors(void)
{
    g_autoptr(VhAuthzList) authz = vh_authz_list_new(VH_AUTHZ_LIST_POLICY_DENY);
    g_autoptr(GError) err = NULL;

    g_assert_false(vh_authz_list_insert_rule(authz, 1, "x",
                                             VH_AUTHZ_LIST_POLICY_ALLOW,
                                             VH_AUTHZ_LIST_FORMAT_EXACT, &err));
    g_assert_error(err, VH_ERROR, VH_ERROR_INVALID_ARGUMENT);
    g_clear_error(&err);
    g_assert_cmpint(vh_authz_list_remove_rule(authz, "nope", &err), ==, -1);
    g_assert_error(err, VH_ERROR, VH_ERROR_INVALID_ARGUMENT);
    g_assert_nonnull(strstr(err->message, "nope"));
    g_clear_error(&err);
    g_assert_true(vh_authz_list_insert_rule(authz, 0, "x",
                                            VH_AUTHZ_LIST_POLICY_ALLOW,
                                            VH_AUTHZ_LIST_FORMAT_EXACT, &err));
    vh_authz_list_clear_rules(authz);
    g_assert_cmpuint(vh_authz_list_get_rule_count(authz), ==, 0);
}

static void test_json_rules(void)
{
    g_autoptr(VhAuthzList) authz = vh_authz_list_new(VH_AUTHZ_LIST_POLICY_DENY);
    g_autoptr(GError) err = NULL;

    g_assert_true(vh_authz_list_set_rules_json(
        authz,
        "[{\"match\": \"CN=bad*\", \"policy\": \"deny\", \"format\": "
        "\"glob\"},"
        " {\"match\": \"CN=b*\", \"policy\": \"allow\", \"format\": \"glob\"},"
        " {\"match\": \"CN=x\", \"policy\": \"allow\"}]",
        &err));
    g_assert_no_error(err);
    g_assert_cmpuint(vh_authz_list_get_rule_count(authz), ==, 3);
    g_assert_false(allowed(authz, "CN=badguy"));
    g_assert_true(allowed(authz, "CN=bob"));
    g_assert_true(allowed(authz, "CN=x"));
    g_assert_false(allowed(authz, "CN=y"));
}

static void test_json_errors(void)
{
    const char *bad[] = {
        "not json",
        "{\"match\": \"x\"}",
        "[1]",
        "[{\"policy\": \"allow\"}]",
        "[{\"match\": \"x\"}]",
        "[{\"match\": \"x\", \"policy\": \"maybe\"}]",
        "[{\"match\": \"x\", \"policy\": \"allow\", \"format\": \"regex\"}]",
        "[{\"match\": 3, \"policy\": \"allow\"}]",
        /* refused as the rules file refuses them (vh_json_parse) */
        "[{\"match\": \"x\", \"policy\": \"deny\", \"policy\": "
        "\"allow\"}]",
        "[{\"match\": \"CN=admin\\u0000garbage\", \"policy\": \"allow\"}]",
        /* json-glib alone would take the last of two values (and leak) */
        "[{\"match\": \"x\", \"policy\": \"deny\"}] "
        "[{\"match\": \"x\", \"policy\": \"allow\"}]",
        "0 [{\"match\": \"x\", \"policy\": \"allow\"}]",
        "\"x\"[]",
    };
    g_autoptr(VhAuthzList) authz = vh_authz_list_new(VH_AUTHZ_LIST_POLICY_DENY);

    vh_authz_list_append_rule(authz, "CN=keep", VH_AUTHZ_LIST_POLICY_ALLOW,
                              VH_AUTHZ_LIST_FORMAT_EXACT);
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(GError) err = NULL;
        g_assert_false(vh_authz_list_set_rules_json(authz, bad[i], &err));
        g_assert_error(err, VH_ERROR, VH_ERROR_CONFIG);
        g_test_message("%s -> %s", bad[i], err->message);
    }
    /* all or nothing: the old rules survive */
    g_assert_cmpuint(vh_authz_list_get_rule_count(authz), ==, 1);
    g_assert_true(allowed(authz, "CN=keep"));
}

static void test_load_node(void)
{
    g_autoptr(VhAuthzList) authz = vh_authz_list_new(VH_AUTHZ_LIST_POLICY_DENY);
    g_autoptr(JsonNode) root = json_from_string(
        "{\"policy\": \"allow\", \"rules\": [{\"match\": \"CN=eve\", "
        "\"policy\": \"deny\"}]}",
        NULL);
    g_autoptr(GError) err = NULL;

    g_assert_true(vh_authz_list_load_node(authz, root, &err));
    g_assert_cmpint(vh_authz_list_get_policy(authz), ==,
                    VH_AUTHZ_LIST_POLICY_ALLOW);
    g_assert_false(allowed(authz, "CN=eve"));
    g_assert_true(allowed(authz, "CN=alice"));
}

/*
 * Random damage to valid rule sets must give a clean result (loaded, or a
 * VH_ERROR_CONFIG error that leaves the rules alone), never a crash.
 */
static void test_json_random(void)
{
    static const char *seeds[] = {
        "[{\"match\": \"CN=*\", \"policy\": \"allow\", \"format\": "
        "\"glob\"}]",
        "{\"policy\": \"deny\", \"rules\": [{\"match\": \"x\", "
        "\"policy\": \"deny\"}]}",
        "[]",
    };
    static const char alphabet[] = "{}[]\",:\\ *?anydeglobtexacpi0\x01";
    g_autoptr(GRand) rand = g_rand_new_with_seed(g_test_rand_int());
    g_autoptr(VhAuthzList) authz = vh_authz_list_new(VH_AUTHZ_LIST_POLICY_DENY);

    vh_authz_list_append_rule(authz, "CN=keep", VH_AUTHZ_LIST_POLICY_ALLOW,
                              VH_AUTHZ_LIST_FORMAT_EXACT);
    for (int i = 0; i < 5000; i++) {
        g_autofree char *text =
            g_strdup(seeds[g_rand_int_range(rand, 0, G_N_ELEMENTS(seeds))]);
        size_t len = strlen(text);
        g_autoptr(GError) err = NULL;
        g_autoptr(JsonNode) root = NULL;
        int edits = g_rand_int_range(rand, 1, 4);

        for (int e = 0; e < edits && len > 0; e++) {
            size_t at = g_rand_int_range(rand, 0, len);
            text[at] =
                alphabet[g_rand_int_range(rand, 0, sizeof(alphabet) - 1)];
        }
        if (vh_authz_list_set_rules_json(authz, text, &err)) {
            g_assert_no_error(err);
        } else {
            g_assert_error(err, VH_ERROR, VH_ERROR_CONFIG);
            g_clear_error(&err);
        }
        /* the rules file's parser (json-glib alone leaks on "0 {...}") */
        root = vh_json_parse(text, -1, NULL);
        if (root && !vh_authz_list_load_node(authz, root, &err)) {
            g_assert_error(err, VH_ERROR, VH_ERROR_CONFIG);
        }
        /* whatever loaded must still answer */
        bool answered = vh_authz_is_allowed(VH_AUTHZ(authz), "CN=keep", NULL);
        (void)answered;
    }
}

/* rules.N.* from an option string: a table of inputs and outcomes. */
static void test_opts_rules(void)
{
    static const struct {
        const char *opts;
        const char *error; /* substring of the error, or NULL: accepted */
        guint rules;
        const char *allowed, *denied; /* identities to try, or NULL */
    } cases[] = {
        {"policy=deny", NULL, 0, NULL, "CN=a"},
        {"rules.0.match=CN=a,rules.0.policy=allow", NULL, 1, "CN=a", "CN=b"},
        {"rules.0.match=CN=b,,O=x,rules.0.policy=allow", NULL, 1, "CN=b,O=x",
         "CN=b"},
        {"rules.0.match=CN=bad*,rules.0.policy=deny,rules.0.format=glob,"
         "rules.1.match=CN=*,rules.1.policy=allow,rules.1.format=glob",
         NULL, 2, "CN=good", "CN=bad1"},
        {"rules.1.match=CN=a,rules.1.policy=allow,"
         "rules.0.match=CN=b,rules.0.policy=allow",
         NULL, 2, "CN=a", "CN=c"},
        {"rules.0.match=CN=a", "parameter 'rules.0.policy' is required", 0,
         NULL, NULL},
        {"rules.0.policy=allow", "parameter 'rules.0.match' is required", 0,
         NULL, NULL},
        {"rules.0.match=a,rules.0.policy=maybe", "rules.0.policy", 0, NULL,
         NULL},
        {"rules.0.match=a,rules.0.policy=allow,rules.0.format=regex",
         "rules.0.format", 0, NULL, NULL},
        {"rules.0.match=a,rules.0.policy=allow,rules.0.colour=red",
         "rules.0.colour", 0, NULL, NULL},
        {"rules.1.match=a,rules.1.policy=allow", "rules", 0, NULL, NULL},
    };

    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(GError) err = NULL;
        g_autoptr(VhOpts) opts =
            vh_opts_parse("-object", cases[i].opts, NULL, &err);
        g_autoptr(VhAuthzList) authz =
            vh_authz_list_new(VH_AUTHZ_LIST_POLICY_DENY);

        g_test_message("%s", cases[i].opts);
        g_assert_no_error(err);
        bool ok = vh_authz_list_add_rules_opts(authz, opts, &err);
        if (cases[i].error) {
            g_assert_false(ok);
            g_assert_error(err, VH_ERROR, VH_ERROR_INVALID_ARGUMENT);
            g_assert_nonnull(strstr(err->message, "-object"));
            g_assert_nonnull(strstr(err->message, cases[i].error));
            continue;
        }
        g_assert_no_error(err);
        g_assert_true(ok);
        g_assert_cmpuint(vh_authz_list_get_rule_count(authz), ==,
                         cases[i].rules);
        if (cases[i].allowed) {
            g_assert_true(allowed(authz, cases[i].allowed));
        }
        if (cases[i].denied) {
            g_assert_false(allowed(authz, cases[i].denied));
        }
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/authz/list/default-policy", test_default_policy);
    g_test_add_func("/authz/list/opts-rules", test_opts_rules);
    g_test_add_func("/authz/list/exact", test_exact);
    g_test_add_func("/authz/list/glob", test_glob);
    g_test_add_func("/authz/list/first-match-wins", test_first_match_wins);
    g_test_add_func("/authz/list/edit-errors", test_edit_errors);
    g_test_add_func("/authz/list/json-rules", test_json_rules);
    g_test_add_func("/authz/list/json-errors", test_json_errors);
    g_test_add_func("/authz/list/load-node", test_load_node);
    g_test_add_func("/authz/list/json-random", test_json_random);
    return g_test_run();
}
