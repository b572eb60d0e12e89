/*
 * Socket address parsing, resolution and printing.
 */
#include "vmhost/io/address.h"

#include <errno.h>
#include <gio/gunixsocketaddress.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static bool parse_port(const char *str, const char *text, guint16 *port,
                       GError **errp)
{
    guint64 value;

    if (!g_ascii_string_to_unsigned(text, 10, 0, G_MAXUINT16, &value, NULL)) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "Invalid port '%s' in address '%s' (expected 0-65535)",
                    text, str);
        return false;
    }
    *port = (guint16)value;
    return true;
}

/*
 * GUnixSocketAddress silently truncates a path or abstract name to what
 * sun_path holds (less a NUL or the leading NUL): refuse instead, or we
 * would listen on or connect to some other socket.
 */
#define UNIX_NAME_MAX (sizeof(((struct sockaddr_un *)NULL)->sun_path) - 1)

static bool check_unix_length(const char *str, const char *name,
                              const char *what, GError **errp)
{
    if (strlen(name) > UNIX_NAME_MAX) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "The %s in address '%s' is too long (%zu bytes, at most "
                    "%zu)",
                    what, str, strlen(name), UNIX_NAME_MAX);
        return false;
    }
    return true;
}

static GSocketAddress *parse_unix(const char *str, GError **errp)
{
    if (g_str_has_prefix(str, "unix:")) {
        const char *path = str + strlen("unix:");
        if (!*path) {
            g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                        "Missing path in address '%s'", str);
            return NULL;
        }
        if (!check_unix_length(str, path, "path", errp)) {
            return NULL;
        }
        return g_unix_socket_address_new(path);
    }
    const char *name = str + strlen("abstract:");
    if (!*name) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "Missing name in address '%s'", str);
        return NULL;
    }
    if (!check_unix_length(str, name, "name", errp)) {
        return NULL;
    }
    return g_unix_socket_address_new_with_type(name, -1,
                                               G_UNIX_SOCKET_ADDRESS_ABSTRACT);
}

/* Split "host:port" or "[v6]:port" into @host (transfer full) and @port. */
static bool split_host_port(const char *str, char **host, guint16 *port,
                            GError **errp)
{
    const char *colon;

    if (str[0] == '[') {
        const char *end = strchr(str, ']');
        if (!end || end[1] != ':') {
            g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                        "Invalid address '%s' (expected [IPV6]:PORT)", str);
            return false;
        }
        colon = end + 1;
        if (!parse_port(str, colon + 1, port, errp)) {
            return false;
        }
        *host = g_strndup(str + 1, end - str - 1);
        return true;
    }
    colon = strrchr(str, ':');
    if (!colon || colon == str || memchr(str, ':', colon - str)) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "Invalid address '%s' (expected HOST:PORT, [IPV6]:PORT, "
                    "unix:PATH or abstract:NAME)",
                    str);
        return false;
    }
    if (!parse_port(str, colon + 1, port, errp)) {
        return false;
    }
    *host = g_strndup(str, colon - str);
    return true;
}

GSocketAddress *vh_socket_address_parse(const char *str, GError **errp)
{
    g_autofree char *host = NULL;
    guint16 port;

    g_return_val_if_fail(str != NULL, NULL);

    if (g_str_has_prefix(str, "unix:") || g_str_has_prefix(str, "abstract:")) {
        return parse_unix(str, errp);
    }
    if (!split_host_port(str, &host, &port, errp)) {
        return NULL;
    }
    if (!*host) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "Missing host in address '%s'", str);
        return NULL;
    }
    GList *list = vh_socket_address_resolve(host, port, errp);
    if (!list) {
        return NULL;
    }
    GSocketAddress *first = list->data;
    list = g_list_delete_link(list, list);
    g_list_free_full(list, g_object_unref);
    return first;
}

gboolean vh_socket_ipv6_loopback_available(void)
{
    struct sockaddr_in6 sin6 = {
        .sin6_family = AF_INET6,
        .sin6_addr = IN6ADDR_LOOPBACK_INIT,
    };
    int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    bool ok;

    if (fd < 0) {
        return FALSE;
    }
    ok = bind(fd, (struct sockaddr *)&sin6, sizeof(sin6)) == 0;
    close(fd);
    return ok;
}

static GList *append_inet(GList *list, const char *ip, guint16 port)
{
    g_autoptr(GInetAddress) inet = g_inet_address_new_from_string(ip);

    return g_list_append(list, g_inet_socket_address_new(inet, port));
}

static bool same_inet(GInetAddress *a, GInetAddress *b)
{
    return g_inet_address_equal(a, b);
}

GList *vh_socket_address_resolve(const char *host, guint16 port, GError **errp)
{
    g_autoptr(GInetAddress) literal = NULL;
    g_autoptr(GError) err = NULL;
    GList *result = NULL;

    if (!host || !*host) {
        result = append_inet(result, "0.0.0.0", port);
        return append_inet(result, "::", port);
    }
    if (g_ascii_strcasecmp(host, "localhost") == 0) {
        result = append_inet(result, "127.0.0.1", port);
        if (vh_socket_ipv6_loopback_available()) {
            result = append_inet(result, "::1", port);
        }
        return result;
    }
    /* RFC 6761 section 6.4: "invalid" names fail at once, without DNS. */
    if (g_ascii_strcasecmp(host, "invalid") == 0 ||
        g_str_has_suffix(host, ".invalid") ||
        g_str_has_suffix(host, ".invalid.")) {
        g_set_error(errp, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                    "Failed to resolve host '%s': reserved invalid name", host);
        return NULL;
    }
    literal = g_inet_address_new_from_string(host);
    if (literal) {
        return g_list_append(NULL, g_inet_socket_address_new(literal, port));
    }

    /*
     * GResolver takes UTF-8 or ASCII names only: GLib 2.74's IDNA step
     * (g_hostname_to_ascii) reads past the end of a string that is not.
     */
    if (!g_utf8_validate(host, -1, NULL)) {
        g_autofree char *shown = g_utf8_make_valid(host, -1);
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "Invalid host '%s': not valid UTF-8", shown);
        return NULL;
    }

    g_autoptr(GResolver) resolver = g_resolver_get_default();
    GList *addrs = g_resolver_lookup_by_name(resolver, host, NULL, &err);
    if (!addrs) {
        g_set_error(errp, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                    "Failed to resolve host '%s': %s", host, err->message);
        return NULL;
    }
    for (GList *l = addrs; l; l = l->next) {
        bool dup = false;
        for (GList *r = result; r && !dup; r = r->next) {
            dup =
                same_inet(g_inet_socket_address_get_address(r->data), l->data);
        }
        if (!dup) {
            result =
                g_list_append(result, g_inet_socket_address_new(l->data, port));
        }
    }
    g_resolver_free_addresses(addrs);
    return result;
}

char *vh_socket_address_to_string(GSocketAddress *addr)
{
    if (G_IS_INET_SOCKET_ADDRESS(addr)) {
        GInetSocketAddress *isa = G_INET_SOCKET_ADDRESS(addr);
        GInetAddress *inet = g_inet_socket_address_get_address(isa);
        g_autofree char *ip = g_inet_address_to_string(inet);
        guint16 port = g_inet_socket_address_get_port(isa);

        if (g_inet_address_get_family(inet) == G_SOCKET_FAMILY_IPV6) {
            return g_strdup_printf("[%s]:%u", ip, port);
        }
        return g_strdup_printf("%s:%u", ip, port);
    }
    if (G_IS_UNIX_SOCKET_ADDRESS(addr)) {
        GUnixSocketAddress *usa = G_UNIX_SOCKET_ADDRESS(addr);
        const char *path = g_unix_socket_address_get_path(usa);
        gsize len = g_unix_socket_address_get_path_len(usa);

        switch (g_unix_socket_address_get_address_type(usa)) {
        case G_UNIX_SOCKET_ADDRESS_PATH:
            return g_strdup_printf("unix:%s", path);
        case G_UNIX_SOCKET_ADDRESS_ABSTRACT:
        case G_UNIX_SOCKET_ADDRESS_ABSTRACT_PADDED:
            return g_strdup_printf("abstract:%.*s", (int)len, path);
        default:
            return g_strdup("unix:(anonymous)");
        }
    }
    return g_strdup("(unknown address)");
}
