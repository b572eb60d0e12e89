#include "vmhost/crypto/tls-creds-anon.h"

#include "crypto-priv.h"

struct _VhTlsCredsAnon {
    VhTlsCreds parent;

    gnutls_anon_server_credentials_t server;
    gnutls_anon_client_credentials_t client;
    gnutls_dh_params_t dh_params;
};

G_DEFINE_FINAL_TYPE(VhTlsCredsAnon, vh_tls_creds_anon, VH_TYPE_TLS_CREDS)

static bool is_server(VhTlsCreds *creds)
{
    return vh_tls_creds_get_endpoint(creds) == VH_TLS_CREDS_ENDPOINT_SERVER;
}

static bool load_dh_params(VhTlsCredsAnon *self, const char *dir, GError **errp)
{
    if (!vh_crypto_load_dh_params(dir, &self->dh_params, errp)) {
        return false;
    }
    if (self->dh_params) {
        gnutls_anon_set_server_dh_params(self->server, self->dh_params);
    }
    return true;
}

static bool vh_tls_creds_anon_load(VhTlsCreds *creds, GError **errp)
{
    VhTlsCredsAnon *self = VH_TLS_CREDS_ANON(creds);
    const char *dir = vh_tls_creds_get_dir(creds);
    int rc;

    if (is_server(creds)) {
        rc = gnutls_anon_allocate_server_credentials(&self->server);
    } else {
        rc = gnutls_anon_allocate_client_credentials(&self->client);
    }
    if (rc < 0) {
        g_set_error(errp, VH_ERROR, VH_ERROR_FAILED,
                    "Unable to allocate anonymous credentials: %s",
                    gnutls_strerror(rc));
        return false;
    }
    if (is_server(creds) && dir && dir[0]) {
        return load_dh_params(self, dir, errp);
    }
    return true;
}

static bool vh_tls_creds_anon_apply(VhTlsCreds *creds, gnutls_session_t session,
                                    GError **errp)
{
    VhTlsCredsAnon *self = VH_TLS_CREDS_ANON(creds);
    int rc;

    if (is_server(creds)) {
        rc = gnutls_credentials_set(session, GNUTLS_CRD_ANON, self->server);
    } else {
        rc = gnutls_credentials_set(session, GNUTLS_CRD_ANON, self->client);
    }
    if (rc < 0) {
        g_set_error(errp, VH_ERROR, VH_ERROR_FAILED,
                    "Unable to set anonymous credentials on the TLS "
                    "session: %s",
                    gnutls_strerror(rc));
        return false;
    }
    return true;
}

static void vh_tls_creds_anon_finalize(GObject *obj)
{
    VhTlsCredsAnon *self = VH_TLS_CREDS_ANON(obj);

    if (self->server) {
        gnutls_anon_free_server_credentials(self->server);
    }
    if (self->client) {
        gnutls_anon_free_client_credentials(self->client);
    }
    if (self->dh_params) {
        gnutls_dh_params_deinit(self->dh_params);
    }
    G_OBJECT_CLASS(vh_tls_creds_anon_parent_class)->finalize(obj);
}

static void vh_tls_creds_anon_class_init(VhTlsCredsAnonClass *klass)
{
    VhTlsCredsClass *cclass = VH_TLS_CREDS_CLASS(klass);

    G_OBJECT_CLASS(klass)->finalize = vh_tls_creds_anon_finalize;
    cclass->load = vh_tls_creds_anon_load;
    cclass->apply = vh_tls_creds_anon_apply;
    cclass->priority_suffix = VH_TLS_ANON_PRIORITY_SUFFIX;
}

static void vh_tls_creds_anon_init(VhTlsCredsAnon *self)
{
}
