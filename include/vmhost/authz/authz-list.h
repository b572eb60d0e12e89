/*
 * VhAuthzList: -object authz-list,id=ID,policy=allow|deny,
 *              rules.N.match=PAT,rules.N.policy=allow|deny,
 *              rules.N.format=exact|glob
 *
 * An ordered list of rules; the first rule whose pattern matches the
 * identity decides, and the object's default policy (deny unless set)
 * decides when none does. "glob" patterns use fnmatch(3) syntax with no
 * flags (so '*' also matches '/' and ','), "exact" compares bytes.
 *
 *     g_autoptr(VhAuthzList) a = vh_authz_list_new(VH_AUTHZ_LIST_POLICY_DENY);
 *     vh_authz_list_append_rule(a, "CN=*.example.com,O=ACME",
 *                               VH_AUTHZ_LIST_POLICY_ALLOW,
 *                               VH_AUTHZ_LIST_FORMAT_GLOB);
 *
 * Rules can also be given as JSON, the shape QMP uses:
 *     [{"match": "CN=fred", "policy": "allow", "format": "exact"}, ...]
 * ("format" defaults to exact). The rules are guarded by a lock, so the
 * object may be consulted from several threads while it is edited.
 */
#pragma once

#include <json-glib/json-glib.h>

#include "vmhost/authz/authz.h"
#include "vmhost/util/opts.h"

G_BEGIN_DECLS

typedef enum {
    VH_AUTHZ_LIST_POLICY_DENY,
    VH_AUTHZ_LIST_POLICY_ALLOW,
} VhAuthzListPolicy;

typedef enum {
    VH_AUTHZ_LIST_FORMAT_EXACT,
    VH_AUTHZ_LIST_FORMAT_GLOB,
} VhAuthzListFormat;

#define VH_TYPE_AUTHZ_LIST_POLICY (vh_authz_list_policy_get_type())
GType vh_authz_list_policy_get_type(void);
#define VH_TYPE_AUTHZ_LIST_FORMAT (vh_authz_list_format_get_type())
GType vh_authz_list_format_get_type(void);

#define VH_TYPE_AUTHZ_LIST (vh_authz_list_get_type())
G_DECLARE_FINAL_TYPE(VhAuthzList, vh_authz_list, VH, AUTHZ_LIST, VhAuthz)

/* (transfer full) An empty list with default @policy ("policy" property). */
VhAuthzList *vh_authz_list_new(VhAuthzListPolicy policy);

VhAuthzListPolicy vh_authz_list_get_policy(VhAuthzList *authz);
void vh_authz_list_set_policy(VhAuthzList *authz, VhAuthzListPolicy policy);

/* Add a rule at the end; returns its index. */
size_t vh_authz_list_append_rule(VhAuthzList *authz, const char *match,
                                 VhAuthzListPolicy policy,
                                 VhAuthzListFormat format);
/*
 * Insert a rule before index @index (== the rule count appends). Fails with
 * VH_ERROR_INVALID_ARGUMENT when @index is past the end.
 */
G_GNUC_WARN_UNUSED_RESULT
bool vh_authz_list_insert_rule(VhAuthzList *authz, size_t index,
                               const char *match, VhAuthzListPolicy policy,
                               VhAuthzListFormat format, GError **errp);
/*
 * Remove the first rule whose pattern is @match; returns its index, or -1
 * (and an error) when no rule has that pattern.
 */
G_GNUC_WARN_UNUSED_RESULT
gssize vh_authz_list_remove_rule(VhAuthzList *authz, const char *match,
                                 GError **errp);
size_t vh_authz_list_get_rule_count(VhAuthzList *authz);
void vh_authz_list_clear_rules(VhAuthzList *authz);

/*
 * Replace all rules with those of a JSON array (the QMP shape above). On
 * failure the rules are left unchanged and the error names the bad entry.
 * The _json form parses with vh_json_parse() (util/json.h), as the rules
 * file is: a duplicate key or a NUL (\u0000) is refused. A node handed to
 * the _node forms should come from that parser too.
 */
G_GNUC_WARN_UNUSED_RESULT
bool vh_authz_list_set_rules_node(VhAuthzList *authz, JsonNode *rules,
                                  GError **errp);
G_GNUC_WARN_UNUSED_RESULT
bool vh_authz_list_set_rules_json(VhAuthzList *authz, const char *json,
                                  GError **errp);

/*
 * Append the rules of @opts' rules.N.match / rules.N.policy /
 * rules.N.format keys (-object authz-list,...), in index order: match and
 * policy are required, format defaults to exact. The keys are marked used;
 * an unknown rules.N key, a missing match or policy, or a bad enum value
 * fails with the key named ("-object: parameter 'rules.0.policy' is
 * required ..."), the rules before it already appended.
 */
G_GNUC_WARN_UNUSED_RESULT
bool vh_authz_list_add_rules_opts(VhAuthzList *authz, VhOpts *opts,
                                  GError **errp);
/* The same as an object-creation hook (VhObjectOptsHook) for authz-list. */
G_GNUC_WARN_UNUSED_RESULT
bool vh_authz_list_opts_hook(GObject *obj, VhOpts *opts, GError **errp);

/*
 * Replace the default policy and the rules from a whole-object JSON node,
 * {"policy": "deny", "rules": [...]} (both members optional: policy
 * defaults to deny, rules to none). All or nothing, as above. This is the
 * authz-list-file format.
 */
G_GNUC_WARN_UNUSED_RESULT
bool vh_authz_list_load_node(VhAuthzList *authz, JsonNode *root, GError **errp);

G_END_DECLS
