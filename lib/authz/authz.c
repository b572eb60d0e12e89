/*
 * VhAuthz base: the public wrappers turn every refusal into one
 * VH_ERROR_AUTHZ_DENIED error that names the identity and the object.
 */
#include "vmhost/authz/authz.h"

#include "vmhost/object/object.h"

typedef struct {
    char *id;
} VhAuthzPrivate;

enum {
    PROP_0,
    PROP_ID,
    N_PROPS,
};

static GParamSpec *props[N_PROPS];

G_DEFINE_ABSTRACT_TYPE_WITH_PRIVATE(VhAuthz, vh_authz, G_TYPE_OBJECT)

static void vh_authz_init(VhAuthz *authz)
{
}

static void vh_authz_finalize(GObject *obj)
{
    VhAuthzPrivate *priv = vh_authz_get_instance_private(VH_AUTHZ(obj));

    g_free(priv->id);
    G_OBJECT_CLASS(vh_authz_parent_class)->finalize(obj);
}

static void vh_authz_set_property(GObject *obj, guint id, const GValue *value,
                                  GParamSpec *pspec)
{
    VhAuthzPrivate *priv = vh_authz_get_instance_private(VH_AUTHZ(obj));

    switch (id) {
    case PROP_ID:
        g_free(priv->id);
        priv->id = g_value_dup_string(value);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, id, pspec);
        break;
    }
}

static void vh_authz_get_property(GObject *obj, guint id, GValue *value,
                                  GParamSpec *pspec)
{
    VhAuthzPrivate *priv = vh_authz_get_instance_private(VH_AUTHZ(obj));

    switch (id) {
    case PROP_ID:
        g_value_set_string(value, priv->id);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, id, pspec);
        break;
    }
}

static void vh_authz_class_init(VhAuthzClass *klass)
{
    GObjectClass *oc = G_OBJECT_CLASS(klass);

    oc->finalize = vh_authz_finalize;
    oc->set_property = vh_authz_set_property;
    oc->get_property = vh_authz_get_property;

    props[PROP_ID] = g_param_spec_string(
        "id", "id", "Registry id, for messages", NULL,
        G_PARAM_READWRITE | G_PARAM_CONSTRUCT | G_PARAM_STATIC_STRINGS);
    g_object_class_install_properties(oc, N_PROPS, props);
}

const char *vh_authz_get_id(VhAuthz *authz)
{
    VhAuthzPrivate *priv = vh_authz_get_instance_private(authz);

    return priv->id;
}

/* "authz 'auth0' (VhAuthzList)" or "authz VhAuthzList". */
static char *describe(VhAuthz *authz, const char *id)
{
    if (!id) {
        id = vh_authz_get_id(authz);
    }
    if (id) {
        return g_strdup_printf("authz '%s' (%s)", id,
                               G_OBJECT_TYPE_NAME(authz));
    }
    return g_strdup_printf("authz %s", G_OBJECT_TYPE_NAME(authz));
}

static bool ask(VhAuthz *authz, const char *id, const char *identity,
                GError **errp)
{
    g_autoptr(GError) why = NULL;
    g_autofree char *what = NULL;

    if (VH_AUTHZ_GET_CLASS(authz)->is_allowed(authz, identity, &why)) {
        return true;
    }
    what = describe(authz, id);
    if (why) {
        g_set_error(errp, VH_ERROR, VH_ERROR_AUTHZ_DENIED,
                    "%s denied identity '%s': %s", what, identity,
                    why->message);
    } else {
        g_set_error(errp, VH_ERROR, VH_ERROR_AUTHZ_DENIED,
                    "%s denied identity '%s'", what, identity);
    }
    return false;
}

bool vh_authz_is_allowed(VhAuthz *authz, const char *identity, GError **errp)
{
    g_return_val_if_fail(VH_IS_AUTHZ(authz), false);
    g_return_val_if_fail(identity != NULL, false);

    return ask(authz, NULL, identity, errp);
}

bool vh_authz_is_allowed_by_id(const char *authzid, const char *identity,
                               GError **errp)
{
    g_autoptr(GError) why = NULL;
    g_autoptr(VhAuthz) authz = NULL;

    g_return_val_if_fail(authzid != NULL, false);
    g_return_val_if_fail(identity != NULL, false);

    authz = vh_object_lookup_typed(authzid, VH_TYPE_AUTHZ, &why);
    if (!authz) {
        g_set_error(errp, VH_ERROR, VH_ERROR_AUTHZ_DENIED,
                    "authz '%s' denied identity '%s': %s", authzid, identity,
                    why->message);
        return false;
    }
    return ask(authz, authzid, identity, errp);
}
