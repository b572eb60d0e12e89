/*
 * vh_mig_uri_parse(): tcp:HOST:PORT (HOST a name, IPv4 or [IPv6]),
 * unix:PATH, fd:NAME, exec:CMD, file:PATH[,offset=N].
 *
 * Invariants: success xor an error (VH_ERROR_INVALID_ARGUMENT quoting the
 * URI); on failure the VhMigUri is left cleared; on success only the
 * fields of the kind are set, a tcp port is a number 0-65535 and a host
 * with ':' came in brackets; writing the parsed URI back out and parsing
 * that gives the same fields; clearing twice is harmless.
 */
#include "fuzz-common.h"

#include "vmhost/migration/transport.h"
#include "vmhost/util/error.h"

/* The URI @u stands for, in the form the parser reads back. */
static char *format(const VhMigUri *u)
{
    switch (u->kind) {
    case VH_MIG_URI_TCP:
        return strchr(u->host, ':') || u->host[0] == '['
                   ? g_strdup_printf("tcp:[%s]:%s", u->host, u->port)
                   : g_strdup_printf("tcp:%s:%s", u->host, u->port);
    case VH_MIG_URI_UNIX:
        return g_strdup_printf("unix:%s", u->path);
    case VH_MIG_URI_FD:
        return g_strdup_printf("fd:%s", u->fdname);
    case VH_MIG_URI_EXEC:
        return g_strdup_printf("exec:%s", u->command);
    case VH_MIG_URI_FILE:
    default:
        return g_strdup_printf("file:%s,offset=%" G_GUINT64_FORMAT, u->path,
                               u->offset);
    }
}

static void check_fields(const VhMigUri *u)
{
    bool tcp = u->kind == VH_MIG_URI_TCP;
    bool pathy = u->kind == VH_MIG_URI_UNIX || u->kind == VH_MIG_URI_FILE;

    g_assert_true(tcp == (u->host != NULL));
    g_assert_true(tcp == (u->port != NULL));
    g_assert_true(pathy == (u->path != NULL));
    g_assert_true((u->kind == VH_MIG_URI_FD) == (u->fdname != NULL));
    g_assert_true((u->kind == VH_MIG_URI_EXEC) == (u->command != NULL));
    g_assert_true(u->kind == VH_MIG_URI_FILE || u->offset == 0);
    g_assert_true(vh_mig_uri_supports_multiple(u) ==
                  (tcp || u->kind == VH_MIG_URI_UNIX));
    if (tcp) {
        guint64 port;
        g_assert_true(
            g_ascii_string_to_unsigned(u->port, 10, 0, 65535, &port, NULL));
    } else if (pathy) {
        g_assert_cmpuint(strlen(u->path), >, 0);
    }
}

static void check_same(const VhMigUri *a, const VhMigUri *b)
{
    g_assert_cmpint(a->kind, ==, b->kind);
    g_assert_cmpstr(a->host, ==, b->host);
    g_assert_cmpstr(a->port, ==, b->port);
    g_assert_cmpstr(a->path, ==, b->path);
    g_assert_cmpstr(a->fdname, ==, b->fdname);
    g_assert_cmpstr(a->command, ==, b->command);
    g_assert_cmpuint(a->offset, ==, b->offset);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autofree char *str = fuzz_cstring(data, size);
    g_autoptr(GError) err = NULL;
    VhMigUri u;

    if (!str) {
        return 0;
    }
    bool ok = vh_mig_uri_parse(str, &u, &err);
    fuzz_assert_result(ok, err);
    if (!ok) {
        g_assert_error(err, VH_ERROR, VH_ERROR_INVALID_ARGUMENT);
        if (g_utf8_validate(str, -1, NULL)) {
            g_assert_nonnull(strstr(err->message, str));
        }
        g_assert_true(!u.host && !u.port && !u.path && !u.fdname &&
                      !u.command && u.offset == 0);
        return 0;
    }
    check_fields(&u);

    g_autofree char *text = format(&u);
    g_autoptr(GError) err2 = NULL;
    VhMigUri again;
    g_assert_true(vh_mig_uri_parse(text, &again, &err2));
    g_assert_no_error(err2);
    check_same(&u, &again);
    vh_mig_uri_clear(&again);
    vh_mig_uri_clear(&u);
    vh_mig_uri_clear(&u);
    return 0;
}
