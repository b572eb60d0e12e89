/*
 * vh_socket_address_parse(): "HOST:PORT", "[V6]:PORT", "unix:PATH",
 * "abstract:NAME".
 *
 * No lookup ever leaves the process: a fake GResolver is installed as the
 * default before the first parse. It knows one name, "fuzz.test", and
 * fails every other one, and it counts its calls.
 *
 * Invariants: success xor an error (VH_ERROR_INVALID_ARGUMENT quoting the
 * input, or the resolver's NOT_FOUND naming the host); IP literals and
 * "localhost" never reach the resolver; a UNIX address holds exactly the
 * path or name typed; an inet address has the port typed; and
 * vh_socket_address_to_string() reads back to the same address.
 */
#include "fuzz-common.h"

#include "vmhost/io/address.h"

#include <gio/gunixsocketaddress.h>

#define FUZZ_TYPE_RESOLVER (fuzz_resolver_get_type())
G_DECLARE_FINAL_TYPE(FuzzResolver, fuzz_resolver, FUZZ, RESOLVER, GResolver)

struct _FuzzResolver {
    GResolver parent;
};

G_DEFINE_TYPE(FuzzResolver, fuzz_resolver, G_TYPE_RESOLVER)

static unsigned int lookups;

static GList *fuzz_lookup_by_name(GResolver *resolver, const char *host,
                                  GCancellable *cancellable, GError **errp)
{
    static const char *const known[] = {"192.0.2.1", "192.0.2.1",
                                        "2001:db8::1"};
    GList *list = NULL;

    lookups++;
    if (g_ascii_strcasecmp(host, "fuzz.test") != 0) {
        g_set_error(errp, G_RESOLVER_ERROR, G_RESOLVER_ERROR_NOT_FOUND,
                    "fake resolver: no name %s", host);
        return NULL;
    }
    for (size_t i = 0; i < G_N_ELEMENTS(known); i++) {
        list = g_list_append(list, g_inet_address_new_from_string(known[i]));
    }
    return list;
}

static void fuzz_resolver_class_init(FuzzResolverClass *klass)
{
    G_RESOLVER_CLASS(klass)->lookup_by_name = fuzz_lookup_by_name;
}

static void fuzz_resolver_init(FuzzResolver *resolver)
{
}

static void install_resolver(void)
{
    static bool done;

    if (!done) {
        g_autoptr(GResolver) fake = g_object_new(FUZZ_TYPE_RESOLVER, NULL);
        g_resolver_set_default(fake);
        done = true;
    }
}

/* What the parser must take as host and port text for HOST:PORT forms. */
static bool split(const char *str, char **host, const char **port)
{
    const char *colon;

    if (str[0] == '[') {
        const char *end = strchr(str, ']');
        if (!end || end[1] != ':') {
            return false;
        }
        *host = g_strndup(str + 1, end - str - 1);
        *port = end + 2;
        return true;
    }
    colon = strrchr(str, ':');
    if (!colon) {
        return false;
    }
    *host = g_strndup(str, colon - str);
    *port = colon + 1;
    return true;
}

static bool is_literal(const char *host)
{
    g_autoptr(GInetAddress) inet = g_inet_address_new_from_string(host);

    return inet || g_ascii_strcasecmp(host, "localhost") == 0;
}

static void check_same(GSocketAddress *a, GSocketAddress *b)
{
    gssize len = g_socket_address_get_native_size(a);
    g_autofree void *na = g_malloc0(len > 0 ? len : 1);
    g_autofree void *nb = g_malloc0(len > 0 ? len : 1);

    g_assert_cmpint(len, >, 0);
    g_assert_cmpint(g_socket_address_get_native_size(b), ==, len);
    g_assert_true(g_socket_address_to_native(a, na, len, NULL));
    g_assert_true(g_socket_address_to_native(b, nb, len, NULL));
    g_assert_cmpmem(na, len, nb, len);
}

static void check_unix(const char *str, GSocketAddress *addr)
{
    GUnixSocketAddress *usa = G_UNIX_SOCKET_ADDRESS(addr);
    bool abstract = g_str_has_prefix(str, "abstract:");
    const char *want = strchr(str, ':') + 1;

    g_assert_true(G_IS_UNIX_SOCKET_ADDRESS(addr));
    g_assert_cmpint(g_unix_socket_address_get_address_type(usa), ==,
                    abstract ? G_UNIX_SOCKET_ADDRESS_ABSTRACT
                             : G_UNIX_SOCKET_ADDRESS_PATH);
    g_assert_cmpuint(g_unix_socket_address_get_path_len(usa), ==, strlen(want));
    g_assert_cmpstr(g_unix_socket_address_get_path(usa), ==, want);
}

static void check_inet(const char *str, GSocketAddress *addr)
{
    g_autofree char *host = NULL;
    const char *port = NULL;
    guint64 want;

    g_assert_true(G_IS_INET_SOCKET_ADDRESS(addr));
    g_assert_true(split(str, &host, &port));
    g_assert_true(
        g_ascii_string_to_unsigned(port, 10, 0, G_MAXUINT16, &want, NULL));
    g_assert_cmpuint(
        g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(addr)), ==, want);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autofree char *str = fuzz_cstring(data, size);
    g_autoptr(GSocketAddress) addr = NULL;
    g_autoptr(GError) err = NULL;
    g_autofree char *host = NULL;
    const char *port;
    bool unix_form;
    unsigned int before;

    if (!str) {
        return 0;
    }
    install_resolver();
    unix_form =
        g_str_has_prefix(str, "unix:") || g_str_has_prefix(str, "abstract:");
    before = lookups;
    addr = vh_socket_address_parse(str, &err);
    fuzz_assert_result(addr != NULL, err);

    if (unix_form || !split(str, &host, &port) || is_literal(host)) {
        g_assert_cmpuint(lookups, ==, before);
    }
    if (!addr && host && *host && !is_literal(host) &&
        !g_utf8_validate(host, -1, NULL)) {
        /*
         * Refused before GResolver, which needs UTF-8 (or refused before
         * anything, as a .invalid name).
         */
        g_assert_true(
            g_error_matches(err, VH_ERROR, VH_ERROR_INVALID_ARGUMENT) ||
            strstr(err->message, "reserved invalid name"));
        g_assert_cmpuint(lookups, ==, before);
    }
    if (!addr) {
        if (err->domain == VH_ERROR) {
            g_assert_cmpint(err->code, ==, VH_ERROR_INVALID_ARGUMENT);
            if (g_utf8_validate(str, -1, NULL)) {
                g_assert_nonnull(strstr(err->message, str));
            }
        } else {
            g_assert_true(
                g_error_matches(err, G_IO_ERROR, G_IO_ERROR_NOT_FOUND));
            /* GResolver refuses a name that is not a valid hostname. */
            g_assert_cmpuint(lookups, <=, before + 1);
            g_assert_nonnull(host);
            g_assert_nonnull(strstr(err->message, host));
        }
        return 0;
    }
    if (unix_form) {
        check_unix(str, addr);
    } else {
        check_inet(str, addr);
    }

    g_autofree char *text = vh_socket_address_to_string(addr);
    g_autoptr(GError) err2 = NULL;
    g_autoptr(GSocketAddress) again = vh_socket_address_parse(text, &err2);
    g_assert_no_error(err2);
    check_same(addr, again);
    return 0;
}
