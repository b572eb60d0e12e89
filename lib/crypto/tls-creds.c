#include "vmhost/crypto/tls-creds.h"

#include "vmhost/crypto/tls-priority.h"

typedef struct {
    VhTlsCredsEndpoint endpoint;
    char *dir;
    bool verify_peer;
    char *priority_property;
    VhTlsPriority priority; /* resolved and compiled by init */
    bool loaded;
} VhTlsCredsPrivate;

enum {
    PROP_0,
    PROP_ENDPOINT,
    PROP_DIR,
    PROP_VERIFY_PEER,
    PROP_PRIORITY,
    N_PROPS,
};

static GParamSpec *props[N_PROPS];

static void vh_tls_creds_initable_iface_init(GInitableIface *iface);

G_DEFINE_ABSTRACT_TYPE_WITH_CODE(
    VhTlsCreds, vh_tls_creds, G_TYPE_OBJECT,
    G_ADD_PRIVATE(VhTlsCreds)
        G_IMPLEMENT_INTERFACE(G_TYPE_INITABLE,
                              vh_tls_creds_initable_iface_init))

GType vh_tls_creds_endpoint_get_type(void)
{
    static gsize type_id;
    static const GEnumValue values[] = {
        {VH_TLS_CREDS_ENDPOINT_CLIENT, "VH_TLS_CREDS_ENDPOINT_CLIENT",
         "client"},
        {VH_TLS_CREDS_ENDPOINT_SERVER, "VH_TLS_CREDS_ENDPOINT_SERVER",
         "server"},
        {0, NULL, NULL},
    };

    if (g_once_init_enter(&type_id)) {
        GType t = g_enum_register_static(
            g_intern_static_string("VhTlsCredsEndpoint"), values);
        g_once_init_leave(&type_id, t);
    }
    return type_id;
}

const char *vh_tls_creds_endpoint_name(VhTlsCredsEndpoint endpoint)
{
    switch (endpoint) {
    case VH_TLS_CREDS_ENDPOINT_CLIENT:
        return "client";
    case VH_TLS_CREDS_ENDPOINT_SERVER:
        return "server";
    default:
        return "unknown";
    }
}

static gboolean vh_tls_creds_initable_init(GInitable *initable,
                                           GCancellable *cancellable,
                                           GError **errp)
{
    VhTlsCreds *creds = VH_TLS_CREDS(initable);
    VhTlsCredsPrivate *priv = vh_tls_creds_get_instance_private(creds);
    VhTlsCredsClass *klass = VH_TLS_CREDS_GET_CLASS(creds);
    VhTlsPriorityInputs in = {
        .object_priority = priv->priority_property,
        .suffix = klass->priority_suffix,
    };

    if (priv->loaded) {
        return true;
    }
    g_return_val_if_fail(klass->load != NULL, false);
    if (!klass->load(creds, errp)) {
        return false;
    }
    if (!vh_tls_priority_resolve(&in, &priv->priority, errp)) {
        return false;
    }
    priv->loaded = true;
    return true;
}

static void vh_tls_creds_initable_iface_init(GInitableIface *iface)
{
    iface->init = vh_tls_creds_initable_init;
}

static void vh_tls_creds_set_property(GObject *obj, guint id,
                                      const GValue *value, GParamSpec *pspec)
{
    VhTlsCredsPrivate *priv =
        vh_tls_creds_get_instance_private(VH_TLS_CREDS(obj));

    if (priv->loaded) {
        g_warning("%s: property '%s' set after the credentials were loaded; "
                  "ignored",
                  G_OBJECT_TYPE_NAME(obj), pspec->name);
        return;
    }
    switch (id) {
    case PROP_ENDPOINT:
        priv->endpoint = g_value_get_enum(value);
        break;
    case PROP_DIR:
        g_free(priv->dir);
        priv->dir = g_value_dup_string(value);
        break;
    case PROP_VERIFY_PEER:
        priv->verify_peer = g_value_get_boolean(value);
        break;
    case PROP_PRIORITY:
        g_free(priv->priority_property);
        priv->priority_property = g_value_dup_string(value);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, id, pspec);
        break;
    }
}

static void vh_tls_creds_get_property(GObject *obj, guint id, GValue *value,
                                      GParamSpec *pspec)
{
    VhTlsCredsPrivate *priv =
        vh_tls_creds_get_instance_private(VH_TLS_CREDS(obj));

    switch (id) {
    case PROP_ENDPOINT:
        g_value_set_enum(value, priv->endpoint);
        break;
    case PROP_DIR:
        g_value_set_string(value, priv->dir);
        break;
    case PROP_VERIFY_PEER:
        g_value_set_boolean(value, priv->verify_peer);
        break;
    case PROP_PRIORITY:
        g_value_set_string(value, priv->priority_property);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, id, pspec);
        break;
    }
}

static void vh_tls_creds_finalize(GObject *obj)
{
    VhTlsCredsPrivate *priv =
        vh_tls_creds_get_instance_private(VH_TLS_CREDS(obj));

    g_free(priv->dir);
    g_free(priv->priority_property);
    vh_tls_priority_clear(&priv->priority);
    G_OBJECT_CLASS(vh_tls_creds_parent_class)->finalize(obj);
}

static void vh_tls_creds_class_init(VhTlsCredsClass *klass)
{
    GObjectClass *oclass = G_OBJECT_CLASS(klass);
    GParamFlags flags = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS;

    oclass->set_property = vh_tls_creds_set_property;
    oclass->get_property = vh_tls_creds_get_property;
    oclass->finalize = vh_tls_creds_finalize;

    props[PROP_ENDPOINT] = g_param_spec_enum(
        "endpoint", "Endpoint", "Whether these are server or client creds",
        VH_TYPE_TLS_CREDS_ENDPOINT, VH_TLS_CREDS_ENDPOINT_CLIENT, flags);
    props[PROP_DIR] = g_param_spec_string(
        "dir", "Directory", "Directory holding the credential files", NULL,
        flags);
    props[PROP_VERIFY_PEER] = g_param_spec_boolean(
        "verify-peer", "Verify peer", "Whether to verify the peer's identity",
        TRUE, flags);
    props[PROP_PRIORITY] = g_param_spec_string(
        "priority", "Priority", "GnuTLS priority string (unset: default)", NULL,
        flags);
    g_object_class_install_properties(oclass, N_PROPS, props);
}

static void vh_tls_creds_init(VhTlsCreds *creds)
{
    VhTlsCredsPrivate *priv = vh_tls_creds_get_instance_private(creds);

    priv->endpoint = VH_TLS_CREDS_ENDPOINT_CLIENT;
    priv->verify_peer = true;
}

VhTlsCredsEndpoint vh_tls_creds_get_endpoint(VhTlsCreds *creds)
{
    VhTlsCredsPrivate *priv = vh_tls_creds_get_instance_private(creds);

    return priv->endpoint;
}

const char *vh_tls_creds_get_dir(VhTlsCreds *creds)
{
    VhTlsCredsPrivate *priv = vh_tls_creds_get_instance_private(creds);

    return priv->dir;
}

bool vh_tls_creds_get_verify_peer(VhTlsCreds *creds)
{
    VhTlsCredsPrivate *priv = vh_tls_creds_get_instance_private(creds);

    return priv->verify_peer;
}

bool vh_tls_creds_check_endpoint(VhTlsCreds *creds, VhTlsCredsEndpoint endpoint,
                                 GError **errp)
{
    g_return_val_if_fail(VH_IS_TLS_CREDS(creds), false);
    if (vh_tls_creds_get_endpoint(creds) != endpoint) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "Expected TLS credentials for a %s endpoint",
                    vh_tls_creds_endpoint_name(endpoint));
        return false;
    }
    return true;
}

const char *vh_tls_creds_get_priority(VhTlsCreds *creds)
{
    VhTlsCredsPrivate *priv = vh_tls_creds_get_instance_private(creds);

    return priv->priority.string;
}

VhTlsPrioritySource vh_tls_creds_get_priority_source(VhTlsCreds *creds)
{
    VhTlsCredsPrivate *priv = vh_tls_creds_get_instance_private(creds);

    return priv->priority.source;
}

const VhTlsPriority *vh_tls_creds_get_priority_info(VhTlsCreds *creds)
{
    VhTlsCredsPrivate *priv = vh_tls_creds_get_instance_private(creds);

    return &priv->priority;
}

bool vh_tls_creds_apply(VhTlsCreds *creds, gnutls_session_t session,
                        GError **errp)
{
    VhTlsCredsPrivate *priv;
    int rc;

    g_return_val_if_fail(VH_IS_TLS_CREDS(creds), false);
    priv = vh_tls_creds_get_instance_private(creds);
    if (!priv->loaded) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "TLS credentials %s were never loaded "
                    "(create them with g_initable_new)",
                    G_OBJECT_TYPE_NAME(creds));
        return false;
    }
    rc = gnutls_priority_set(session, priv->priority.compiled);
    if (rc < 0) {
        g_set_error(errp, VH_ERROR, VH_ERROR_CONFIG,
                    "Failed to set TLS session priority to %s: %s",
                    priv->priority.string, gnutls_strerror(rc));
        return false;
    }
    return VH_TLS_CREDS_GET_CLASS(creds)->apply(creds, session, errp);
}
