/* authz-simple: one identity, compared byte for byte. */
#include "vmhost/authz/authz-simple.h"

#include <string.h>

struct _VhAuthzSimple {
    VhAuthz parent;
    char *identity;
};

enum {
    PROP_0,
    PROP_IDENTITY,
    N_PROPS,
};

static GParamSpec *props[N_PROPS];

G_DEFINE_TYPE(VhAuthzSimple, vh_authz_simple, VH_TYPE_AUTHZ)

static void vh_authz_simple_init(VhAuthzSimple *authz)
{
}

static void vh_authz_simple_finalize(GObject *obj)
{
    g_free(VH_AUTHZ_SIMPLE(obj)->identity);
    G_OBJECT_CLASS(vh_authz_simple_parent_class)->finalize(obj);
}

static void vh_authz_simple_set_property(GObject *obj, guint id,
                                         const GValue *value, GParamSpec *pspec)
{
    VhAuthzSimple *authz = VH_AUTHZ_SIMPLE(obj);

    switch (id) {
    case PROP_IDENTITY:
        g_free(authz->identity);
        authz->identity = g_value_dup_string(value);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, id, pspec);
        break;
    }
}

static void vh_authz_simple_get_property(GObject *obj, guint id, GValue *value,
                                         GParamSpec *pspec)
{
    switch (id) {
    case PROP_IDENTITY:
        g_value_set_string(value, VH_AUTHZ_SIMPLE(obj)->identity);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, id, pspec);
        break;
    }
}

static bool vh_authz_simple_is_allowed(VhAuthz *base, const char *identity,
                                       GError **errp)
{
    VhAuthzSimple *authz = VH_AUTHZ_SIMPLE(base);

    return authz->identity && strcmp(authz->identity, identity) == 0;
}

static void vh_authz_simple_class_init(VhAuthzSimpleClass *klass)
{
    GObjectClass *oc = G_OBJECT_CLASS(klass);

    oc->finalize = vh_authz_simple_finalize;
    oc->set_property = vh_authz_simple_set_property;
    oc->get_property = vh_authz_simple_get_property;
    VH_AUTHZ_CLASS(klass)->is_allowed = vh_authz_simple_is_allowed;

    props[PROP_IDENTITY] =
        g_param_spec_string("identity", "identity", "The one identity allowed",
                            NULL, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
    g_object_class_install_properties(oc, N_PROPS, props);
}

VhAuthzSimple *vh_authz_simple_new(const char *identity)
{
    return g_object_new(VH_TYPE_AUTHZ_SIMPLE, "identity", identity, NULL);
}

const char *vh_authz_simple_get_identity(VhAuthzSimple *authz)
{
    return authz->identity;
}
