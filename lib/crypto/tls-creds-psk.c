#include "vmhost/crypto/tls-creds-psk.h"

#include "crypto-priv.h"

#include <string.h>

struct _VhTlsCredsPsk {
    VhTlsCreds parent;

    char *username;
    bool username_set;
    GHashTable *keys; /* username -> PskKey */
    gnutls_psk_server_credentials_t server;
    gnutls_psk_client_credentials_t client;
    gnutls_dh_params_t dh_params;
};

enum {
    PROP_0,
    PROP_USERNAME,
    N_PROPS,
};

static GParamSpec *props[N_PROPS];

G_DEFINE_FINAL_TYPE(VhTlsCredsPsk, vh_tls_creds_psk, VH_TYPE_TLS_CREDS)

typedef VhPskKey PskKey;

void vh_psk_key_free(gpointer p)
{
    PskKey *key = p;

    explicit_bzero(key->data, key->len);
    g_free(key);
}

/*
 * GnuTLS's PSK lookup callback carries no user data: find the creds object
 * from the server credentials the session uses.
 */
static GMutex servers_lock;
static GHashTable *servers; /* gnutls_psk_server_credentials_t -> creds */

static void servers_register(VhTlsCredsPsk *self)
{
    g_autoptr(GMutexLocker) locker G_GNUC_UNUSED =
        g_mutex_locker_new(&servers_lock);

    if (!servers) {
        servers = g_hash_table_new(g_direct_hash, g_direct_equal);
    }
    g_hash_table_insert(servers, self->server, self);
}

static void servers_unregister(VhTlsCredsPsk *self)
{
    g_autoptr(GMutexLocker) locker G_GNUC_UNUSED =
        g_mutex_locker_new(&servers_lock);

    if (servers) {
        g_hash_table_remove(servers, self->server);
    }
}

static int server_lookup(gnutls_session_t session,
                         const gnutls_datum_t *username, gnutls_datum_t *key)
{
    g_autoptr(GMutexLocker) locker G_GNUC_UNUSED =
        g_mutex_locker_new(&servers_lock);
    g_autofree char *name =
        g_strndup((const char *)username->data, username->size);
    void *cred = NULL;
    VhTlsCredsPsk *self;
    const PskKey *found;

    if (gnutls_credentials_get(session, GNUTLS_CRD_PSK, &cred) < 0 ||
        !servers) {
        return -1;
    }
    self = g_hash_table_lookup(servers, cred);
    found = self ? g_hash_table_lookup(self->keys, name) : NULL;
    if (!found) {
        return -1; /* unknown user: the handshake fails */
    }
    key->data = gnutls_malloc(found->len);
    if (!key->data) {
        return -1;
    }
    memcpy(key->data, found->data, found->len);
    key->size = found->len;
    return 0;
}

static PskKey *parse_hex_key(const char *hex)
{
    size_t len = strlen(hex);
    PskKey *key;

    if (len == 0 || len % 2) {
        return NULL;
    }
    key = g_malloc0(sizeof(PskKey) + len / 2);
    key->len = len / 2;
    for (size_t i = 0; i < key->len; i++) {
        int hi = g_ascii_xdigit_value(hex[2 * i]);
        int lo = g_ascii_xdigit_value(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            vh_psk_key_free(key);
            return NULL;
        }
        key->data[i] = (unsigned char)(hi << 4 | lo);
    }
    return key;
}

static bool parse_line(GHashTable *keys, const char *path, unsigned int lineno,
                       char *line, GError **errp)
{
    char *colon;
    PskKey *key;

    g_strstrip(line);
    if (!line[0]) {
        return true;
    }
    colon = strchr(line, ':');
    if (!colon) {
        g_set_error(errp, VH_ERROR, VH_ERROR_CONFIG,
                    "%s line %u: expected 'username:hexkey'", path, lineno);
        return false;
    }
    *colon = '\0';
    if (!line[0]) {
        g_set_error(errp, VH_ERROR, VH_ERROR_CONFIG,
                    "%s line %u: the username is empty", path, lineno);
        return false;
    }
    key = parse_hex_key(colon + 1);
    if (!key) {
        g_set_error(errp, VH_ERROR, VH_ERROR_CONFIG,
                    "%s line %u: the key of user '%s' is not an even number "
                    "of hex digits",
                    path, lineno, line);
        return false;
    }
    if (g_hash_table_contains(keys, line)) {
        /* GnuTLS's own keys.psk lookup takes the first entry too. */
        vh_psk_key_free(key);
        return true;
    }
    g_hash_table_insert(keys, g_strdup(line), key);
    return true;
}

GHashTable *vh_psk_keys_parse(const char *data, size_t len, const char *path,
                              GError **errp)
{
    g_autoptr(GHashTable) keys =
        g_hash_table_new_full(g_str_hash, g_str_equal, g_free, vh_psk_key_free);
    g_auto(GStrv) lines = NULL;
    bool ok = true;

    if (strlen(data) != len) {
        g_set_error(errp, VH_ERROR, VH_ERROR_CONFIG,
                    "%s is not a text file (it contains a NUL byte)", path);
        return NULL;
    }
    lines = g_strsplit(data, "\n", -1);
    for (unsigned int i = 0; lines[i]; i++) {
        /*
         * Wipe the whole line as split: parse_line() cuts it at the colon
         * and strips it in place, so strlen() afterwards would leave the
         * key behind.
         */
        size_t n = strlen(lines[i]);
        ok = ok && parse_line(keys, path, i + 1, lines[i], errp);
        explicit_bzero(lines[i], n);
    }
    return ok ? g_steal_pointer(&keys) : NULL;
}

static GHashTable *load_keys(const char *path, GError **errp)
{
    g_autofree char *data = NULL;
    GHashTable *keys;
    size_t len = 0;

    data = vh_crypto_read_file(path, "PSK keys file", &len, errp);
    if (!data) {
        return NULL;
    }
    keys = vh_psk_keys_parse(data, len, path, errp);
    explicit_bzero(data, len);
    return keys;
}

static bool load_client(VhTlsCredsPsk *self, const char *path, GError **errp)
{
    const PskKey *key = g_hash_table_lookup(self->keys, self->username);
    gnutls_datum_t datum;
    int rc;

    if (!key) {
        g_set_error(errp, VH_ERROR, VH_ERROR_CONFIG,
                    "%s has no key for username '%s'", path, self->username);
        return false;
    }
    datum.data = (unsigned char *)key->data;
    datum.size = key->len;
    rc = gnutls_psk_allocate_client_credentials(&self->client);
    if (rc == 0) {
        rc = gnutls_psk_set_client_credentials(self->client, self->username,
                                               &datum, GNUTLS_PSK_KEY_RAW);
    }
    if (rc < 0) {
        g_set_error(errp, VH_ERROR, VH_ERROR_FAILED,
                    "Unable to set PSK client credentials for '%s': %s",
                    self->username, gnutls_strerror(rc));
        return false;
    }
    return true;
}

static bool load_server(VhTlsCredsPsk *self, const char *dir, GError **errp)
{
    int rc = gnutls_psk_allocate_server_credentials(&self->server);

    if (rc < 0) {
        g_set_error(errp, VH_ERROR, VH_ERROR_FAILED,
                    "Unable to allocate PSK server credentials: %s",
                    gnutls_strerror(rc));
        return false;
    }
    gnutls_psk_set_server_credentials_function2(self->server, server_lookup);
    servers_register(self);
    if (!vh_crypto_load_dh_params(dir, &self->dh_params, errp)) {
        return false;
    }
    if (self->dh_params) {
        gnutls_psk_set_server_dh_params(self->server, self->dh_params);
    }
    return true;
}

static bool vh_tls_creds_psk_load(VhTlsCreds *creds, GError **errp)
{
    VhTlsCredsPsk *self = VH_TLS_CREDS_PSK(creds);
    const char *dir = vh_tls_creds_get_dir(creds);
    bool server =
        vh_tls_creds_get_endpoint(creds) == VH_TLS_CREDS_ENDPOINT_SERVER;
    g_autofree char *path = NULL;

    if (server && self->username_set) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "tls-creds-psk: 'username' may only be set for a client "
                    "endpoint");
        return false;
    }
    if (!dir || !dir[0]) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "tls-creds-psk needs a 'dir' property holding %s",
                    VH_TLS_PSK_KEYS_FILE);
        return false;
    }
    path = g_build_filename(dir, VH_TLS_PSK_KEYS_FILE, NULL);
    self->keys = load_keys(path, errp);
    if (!self->keys) {
        return false;
    }
    return server ? load_server(self, dir, errp)
                  : load_client(self, path, errp);
}

static bool vh_tls_creds_psk_apply(VhTlsCreds *creds, gnutls_session_t session,
                                   GError **errp)
{
    VhTlsCredsPsk *self = VH_TLS_CREDS_PSK(creds);
    int rc;

    if (self->server) {
        rc = gnutls_credentials_set(session, GNUTLS_CRD_PSK, self->server);
    } else {
        rc = gnutls_credentials_set(session, GNUTLS_CRD_PSK, self->client);
    }
    if (rc < 0) {
        g_set_error(errp, VH_ERROR, VH_ERROR_FAILED,
                    "Unable to set PSK credentials on the TLS session: %s",
                    gnutls_strerror(rc));
        return false;
    }
    return true;
}

static void vh_tls_creds_psk_set_property(GObject *obj, guint id,
                                          const GValue *value,
                                          GParamSpec *pspec)
{
    VhTlsCredsPsk *self = VH_TLS_CREDS_PSK(obj);

    switch (id) {
    case PROP_USERNAME:
        g_free(self->username);
        self->username = g_value_dup_string(value);
        self->username_set = self->username != NULL;
        if (!self->username) {
            self->username = g_strdup(VH_TLS_PSK_DEFAULT_USERNAME);
        }
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, id, pspec);
        break;
    }
}

static void vh_tls_creds_psk_get_property(GObject *obj, guint id, GValue *value,
                                          GParamSpec *pspec)
{
    VhTlsCredsPsk *self = VH_TLS_CREDS_PSK(obj);

    switch (id) {
    case PROP_USERNAME:
        g_value_set_string(value, self->username);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, id, pspec);
        break;
    }
}

static void vh_tls_creds_psk_finalize(GObject *obj)
{
    VhTlsCredsPsk *self = VH_TLS_CREDS_PSK(obj);

    if (self->server) {
        servers_unregister(self);
        gnutls_psk_free_server_credentials(self->server);
    }
    if (self->client) {
        gnutls_psk_free_client_credentials(self->client);
    }
    if (self->dh_params) {
        gnutls_dh_params_deinit(self->dh_params);
    }
    g_clear_pointer(&self->keys, g_hash_table_unref);
    g_free(self->username);
    G_OBJECT_CLASS(vh_tls_creds_psk_parent_class)->finalize(obj);
}

static void vh_tls_creds_psk_class_init(VhTlsCredsPskClass *klass)
{
    GObjectClass *oclass = G_OBJECT_CLASS(klass);
    VhTlsCredsClass *cclass = VH_TLS_CREDS_CLASS(klass);

    oclass->set_property = vh_tls_creds_psk_set_property;
    oclass->get_property = vh_tls_creds_psk_get_property;
    oclass->finalize = vh_tls_creds_psk_finalize;
    cclass->load = vh_tls_creds_psk_load;
    cclass->apply = vh_tls_creds_psk_apply;
    cclass->priority_suffix = VH_TLS_PSK_PRIORITY_SUFFIX;

    props[PROP_USERNAME] = g_param_spec_string(
        "username", "Username",
        "PSK username a client presents (client only; default \"qemu\")",
        VH_TLS_PSK_DEFAULT_USERNAME,
        G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
    g_object_class_install_properties(oclass, N_PROPS, props);
}

static void vh_tls_creds_psk_init(VhTlsCredsPsk *self)
{
    self->username = g_strdup(VH_TLS_PSK_DEFAULT_USERNAME);
}

const char *vh_tls_creds_psk_get_username(VhTlsCredsPsk *creds)
{
    return creds->username;
}
