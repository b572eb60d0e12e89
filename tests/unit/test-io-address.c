/* Tests for socket address strings (lib/io/address.c). */
#include "vmhost/io/address.h"

#include <gio/gunixsocketaddress.h>
#include <stdbool.h>
#include <string.h>

/* Parse @str and print it back. */
static char *roundtrip(const char *str)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GSocketAddress) addr = vh_socket_address_parse(str, &err);

    g_assert_no_error(err);
    g_assert_nonnull(addr);
    return vh_socket_address_to_string(addr);
}

static void test_parse(void)
{
    const char *same[] = {
        "127.0.0.1:9000",  "[::1]:22",         "0.0.0.0:0",
        "[fe80::1]:65535", "unix:/run/x.sock", "unix:rel/path",
        "abstract:vmhost",
    };

    for (size_t i = 0; i < G_N_ELEMENTS(same); i++) {
        g_autofree char *text = roundtrip(same[i]);
        g_assert_cmpstr(text, ==, same[i]);
    }

    g_autofree char *lh = roundtrip("localhost:80");
    g_assert_cmpstr(lh, ==, "127.0.0.1:80");

    g_autoptr(GSocketAddress) abs = vh_socket_address_parse("abstract:n", NULL);
    g_assert_true(G_IS_UNIX_SOCKET_ADDRESS(abs));
    g_assert_cmpint(
        g_unix_socket_address_get_address_type(G_UNIX_SOCKET_ADDRESS(abs)), ==,
        G_UNIX_SOCKET_ADDRESS_ABSTRACT);
}

static void test_parse_errors(void)
{
    const char *bad[] = {
        "",          "127.0.0.1",  "127.0.0.1:", "127.0.0.1:65536", ":80",
        "[::1]",     "[::1]80",    "::1:80",     "host:port",       "unix:",
        "abstract:", "1.2.3.4:-1", "[::1:80",
    };

    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(GError) err = NULL;
        g_autoptr(GSocketAddress) addr = vh_socket_address_parse(bad[i], &err);
        g_assert_null(addr);
        g_assert_error(err, VH_ERROR, VH_ERROR_INVALID_ARGUMENT);
        if (*bad[i] && strcmp(bad[i], "unix:") && strcmp(bad[i], "abstract:")) {
            g_assert_nonnull(strstr(err->message, bad[i]));
        }
    }

    g_autoptr(GError) err = NULL;
    g_assert_null(vh_socket_address_parse("nowhere.invalid:80", &err));
    g_assert_error(err, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
    g_assert_nonnull(strstr(err->message, "nowhere.invalid"));
}

/* GUnixSocketAddress would truncate these: they must be refused. */
static void test_unix_too_long(void)
{
    g_autofree char *fits = g_strnfill(107, 'p');
    g_autofree char *too_long = g_strnfill(108, 'p');
    const char *prefixes[] = {"unix:", "abstract:"};

    for (size_t i = 0; i < G_N_ELEMENTS(prefixes); i++) {
        g_autofree char *ok = g_strconcat(prefixes[i], fits, NULL);
        g_autofree char *bad = g_strconcat(prefixes[i], too_long, NULL);
        g_autofree char *text = roundtrip(ok);
        g_autoptr(GError) err = NULL;

        g_assert_cmpstr(text, ==, ok);
        g_assert_null(vh_socket_address_parse(bad, &err));
        g_assert_error(err, VH_ERROR, VH_ERROR_INVALID_ARGUMENT);
        g_assert_nonnull(strstr(err->message, "too long"));
        g_assert_nonnull(strstr(err->message, bad));
    }
}

/* Not UTF-8: refused before GResolver, whose IDNA step would over-read. */
static void test_host_not_utf8(void)
{
    const char *bad[] = {"caf\xe9.example:80", "ab\xe2\x82:80",
                         "[\xff\xfe]:80"};

    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(GError) err = NULL;
        g_autoptr(GSocketAddress) addr = vh_socket_address_parse(bad[i], &err);
        g_assert_null(addr);
        g_assert_error(err, VH_ERROR, VH_ERROR_INVALID_ARGUMENT);
        g_assert_nonnull(strstr(err->message, "not valid UTF-8"));
        g_assert_true(g_utf8_validate(err->message, -1, NULL));
    }

    g_autoptr(GError) err = NULL;
    g_assert_null(vh_socket_address_resolve("x\xc3", 80, &err));
    g_assert_error(err, VH_ERROR, VH_ERROR_INVALID_ARGUMENT);
}

static unsigned count_family(GList *list, GSocketFamily family)
{
    unsigned n = 0;

    for (GList *l = list; l; l = l->next) {
        n += g_socket_address_get_family(l->data) == family;
    }
    return n;
}

static void test_resolve(void)
{
    g_autoptr(GError) err = NULL;
    GList *list = vh_socket_address_resolve("localhost", 42, &err);
    bool v6 = vh_socket_ipv6_loopback_available();

    g_assert_no_error(err);
    g_assert_cmpuint(g_list_length(list), ==, v6 ? 2 : 1);
    g_assert_cmpuint(count_family(list, G_SOCKET_FAMILY_IPV4), ==, 1);
    g_assert_cmpuint(count_family(list, G_SOCKET_FAMILY_IPV6), ==, v6);
    for (GList *l = list; l; l = l->next) {
        g_assert_cmpuint(
            g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(l->data)), ==,
            42);
    }
    g_list_free_full(list, g_object_unref);

    list = vh_socket_address_resolve(NULL, 7, &err);
    g_assert_cmpuint(g_list_length(list), ==, 2);
    g_autofree char *any4 = vh_socket_address_to_string(list->data);
    g_autofree char *any6 = vh_socket_address_to_string(list->next->data);
    g_assert_cmpstr(any4, ==, "0.0.0.0:7");
    g_assert_cmpstr(any6, ==, "[::]:7");
    g_list_free_full(list, g_object_unref);

    list = vh_socket_address_resolve("::1", 9, &err);
    g_assert_cmpuint(g_list_length(list), ==, 1);
    g_list_free_full(list, g_object_unref);

    g_assert_null(vh_socket_address_resolve("x.invalid", 1, &err));
    g_assert_error(err, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
}

static void test_to_string_anonymous(void)
{
    g_autoptr(GSocketAddress) anon = g_unix_socket_address_new_with_type(
        "", 0, G_UNIX_SOCKET_ADDRESS_ANONYMOUS);
    g_autofree char *text = vh_socket_address_to_string(anon);

    g_assert_cmpstr(text, ==, "unix:(anonymous)");
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/io/address/parse", test_parse);
    g_test_add_func("/io/address/parse-errors", test_parse_errors);
    g_test_add_func("/io/address/unix-too-long", test_unix_too_long);
    g_test_add_func("/io/address/host-not-utf8", test_host_not_utf8);
    g_test_add_func("/io/address/resolve", test_resolve);
    g_test_add_func("/io/address/to-string-anonymous",
                    test_to_string_anonymous);
    return g_test_run();
}
