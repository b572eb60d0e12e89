/*
 * authz-list's rules from a QEMU option string: rules.N.match,
 * rules.N.policy, rules.N.format (see authz-list.h).
 */
#include "vmhost/authz/authz-list.h"

/* rules.@index: match and policy required, format optional. */
static bool add_rule(VhAuthzList *authz, VhOpts *rule, guint index,
                     GError **errp)
{
    int policy = -1;
    int format = VH_AUTHZ_LIST_FORMAT_EXACT;
    const char *match = vh_opts_get_string(rule, "match");

    if (!vh_opts_get_enum(rule, "policy", VH_TYPE_AUTHZ_LIST_POLICY, &policy,
                          errp) ||
        !vh_opts_get_enum(rule, "format", VH_TYPE_AUTHZ_LIST_FORMAT, &format,
                          errp) ||
        !vh_opts_check_unused(rule, errp)) {
        return false;
    }
    if (!match || policy < 0) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "%s: parameter 'rules.%u.%s' is required (each rule has "
                    "a match and a policy)",
                    vh_opts_get_optname(rule), index,
                    match ? "policy" : "match");
        return false;
    }
    vh_authz_list_append_rule(authz, match, policy, format);
    return true;
}

bool vh_authz_list_add_rules_opts(VhAuthzList *authz, VhOpts *opts,
                                  GError **errp)
{
    g_autoptr(GPtrArray) rules = vh_opts_get_list(opts, "rules", errp);

    if (!rules) {
        return false;
    }
    for (guint i = 0; i < rules->len; i++) {
        if (!add_rule(authz, rules->pdata[i], i, errp)) {
            return false;
        }
    }
    return true;
}

bool vh_authz_list_opts_hook(GObject *obj, VhOpts *opts, GError **errp)
{
    g_return_val_if_fail(VH_IS_AUTHZ_LIST(obj), false);

    return vh_authz_list_add_rules_opts(VH_AUTHZ_LIST(obj), opts, errp);
}
