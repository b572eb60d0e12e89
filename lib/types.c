#include "vmhost/vmhost-types.h"

#include "vmhost/authz/authz-list-file.h"
#include "vmhost/authz/authz-list.h"
#include "vmhost/authz/authz-simple.h"
#include "vmhost/crypto/tls-creds-anon.h"
#include "vmhost/crypto/tls-creds-psk.h"
#include "vmhost/crypto/tls-creds-x509.h"
#include "vmhost/machine/memory-backend.h"
#include "vmhost/object/object-create.h"

/* rules.@index: match and policy required, format optional. */
static bool authz_list_rule(VhAuthzList *authz, VhOpts *rule, guint index,
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

/* authz-list's rules.N.match/policy/format keys, in index order. */
static bool authz_list_hook(GObject *obj, VhOpts *opts, GError **errp)
{
    g_autoptr(GPtrArray) rules = vh_opts_get_list(opts, "rules", errp);

    if (!rules) {
        return false;
    }
    for (guint i = 0; i < rules->len; i++) {
        if (!authz_list_rule(VH_AUTHZ_LIST(obj), rules->pdata[i], i, errp)) {
            return false;
        }
    }
    return true;
}

void vh_object_register_builtin_types(void)
{
    static gsize done;

    if (!g_once_init_enter(&done)) {
        return;
    }
    vh_object_type_register("tls-creds-x509", VH_TYPE_TLS_CREDS_X509);
    vh_object_type_register("tls-creds-anon", VH_TYPE_TLS_CREDS_ANON);
    vh_object_type_register("tls-creds-psk", VH_TYPE_TLS_CREDS_PSK);
    vh_object_type_register("authz-simple", VH_TYPE_AUTHZ_SIMPLE);
    vh_object_type_register_full("authz-list", VH_TYPE_AUTHZ_LIST,
                                 authz_list_hook);
    vh_object_type_register("authz-list-file", VH_TYPE_AUTHZ_LIST_FILE);
    vh_object_type_register("memory-backend-ram", VH_TYPE_MEMORY_BACKEND_RAM);
    vh_object_type_register("memory-backend-file", VH_TYPE_MEMORY_BACKEND_FILE);
    g_once_init_leave(&done, 1);
}
