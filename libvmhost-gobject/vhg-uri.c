/*
 * libvirt's client URIs: DRIVER[+TRANSPORT]://[HOST[:PORT]]/PATH[?PARAMS].
 * Transport and host are ours; the rest goes to the server as the name of
 * CONNECT_OPEN, as libvirt's remote driver sends it.
 */
#include "vhg-private.h"

#include <string.h>

#define DEFAULT_TLS_PORT 16514

void vhg_uri_clear(VhgUri *u)
{
    g_free(u->driver);
    g_free(u->transport);
    g_free(u->host);
    g_free(u->socket);
    g_free(u->pkipath);
    g_free(u->tls_priority);
    g_free(u->name);
    memset(u, 0, sizeof(*u));
}

static bool bad_uri(GError **error, const char *uri, const char *why)
{
    g_set_error(error, VHG_ERROR, VHG_ERROR_INVALID_ARG,
                "invalid connection URI '%s': %s", uri, why);
    return false;
}

/* The driver's UNIX socket when the URI names none (libvirt's and
 * vmhostd's locations, for root and for a session). */
static char *default_socket(const char *driver)
{
    bool vmhost = g_str_equal(driver, "vmhost");
    const char *dir = vmhost ? "vmhost" : "libvirt";
    const char *name = vmhost ? "vmhost-sock" : "libvirt-sock";

    if (geteuid() == 0) {
        return g_build_filename("/run", dir, name, NULL);
    }
    return g_build_filename(g_get_user_runtime_dir(), dir, name, NULL);
}

/* Take our parameters out of @query; the rest is kept for the server. */
static bool take_params(const char *uri, const char *query, VhgUri *u,
                        GString *rest, GError **error)
{
    g_auto(GStrv) parts = query ? g_strsplit(query, "&", -1) : NULL;

    for (int i = 0; parts && parts[i]; i++) {
        g_autofree char *key = NULL;
        g_autofree char *value = NULL;
        char *eq = strchr(parts[i], '=');

        if (!*parts[i]) {
            continue;
        }
        key = g_uri_unescape_segment(parts[i], eq, NULL);
        value = eq ? g_uri_unescape_string(eq + 1, NULL) : g_strdup("");
        if (!key || !value) {
            return bad_uri(error, uri, "malformed query parameter");
        }
        if (g_str_equal(key, "socket")) {
            g_free(u->socket);
            u->socket = g_steal_pointer(&value);
        } else if (g_str_equal(key, "pkipath")) {
            g_free(u->pkipath);
            u->pkipath = g_steal_pointer(&value);
        } else if (g_str_equal(key, "no_verify")) {
            u->no_verify = g_str_equal(value, "1");
        } else if (g_str_equal(key, "tls_priority")) {
            g_free(u->tls_priority);
            u->tls_priority = g_steal_pointer(&value);
        } else if (g_str_equal(key, "no_tty") || g_str_equal(key, "mode") ||
                   g_str_equal(key, "keyfile") || g_str_equal(key, "name")) {
            /* the remote driver's own parameters: nothing for us */
        } else {
            g_string_append(rest, rest->len ? "&" : "?");
            g_string_append(rest, parts[i]);
        }
    }
    return true;
}

bool vhg_uri_parse(const char *uri, VhgUri *u, GError **error)
{
    g_autoptr(GUri) parsed = NULL;
    g_autoptr(GError) err = NULL;
    g_autoptr(GString) rest = g_string_new(NULL);
    const char *scheme, *plus, *path;

    memset(u, 0, sizeof(*u));
    parsed = g_uri_parse(uri, G_URI_FLAGS_ENCODED_QUERY, &err);
    if (!parsed) {
        return bad_uri(error, uri, err->message);
    }
    scheme = g_uri_get_scheme(parsed);
    plus = strchr(scheme, '+');
    u->driver = plus ? g_strndup(scheme, plus - scheme) : g_strdup(scheme);
    if (g_uri_get_host(parsed) && *g_uri_get_host(parsed)) {
        u->host = g_strdup(g_uri_get_host(parsed));
    }
    if (plus) {
        u->transport = g_strdup(plus + 1);
    } else {
        u->transport = g_strdup(u->host ? "tls" : "unix");
    }
    if (!g_str_equal(u->transport, "tls") &&
        !g_str_equal(u->transport, "unix")) {
        vhg_uri_clear(u);
        return bad_uri(error, uri,
                       "only the tls and unix transports are supported");
    }
    if (g_str_equal(u->transport, "tls") && !u->host) {
        vhg_uri_clear(u);
        return bad_uri(error, uri, "the tls transport needs a host");
    }
    u->port =
        g_uri_get_port(parsed) > 0 ? g_uri_get_port(parsed) : DEFAULT_TLS_PORT;
    if (!take_params(uri, g_uri_get_query(parsed), u, rest, error)) {
        vhg_uri_clear(u);
        return false;
    }
    if (g_str_equal(u->transport, "unix") && !u->socket) {
        u->socket = default_socket(u->driver);
    }
    path = g_uri_get_path(parsed);
    u->name = g_strdup_printf("%s://%s%s", u->driver, path, rest->str);
    return true;
}
