/*
 * Migration URIs (QEMU's spelling): tcp:HOST:PORT, unix:PATH, fd:NAME,
 * exec:CMD, file:PATH[,offset=N]. See transport.h.
 */
#include "vmhost/migration/transport.h"

#include <stdlib.h>
#include <string.h>

#include "vmhost/util/error.h"
#include "vmhost/util/size.h"

static bool bad(GError **errp, const char *uri, const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);

static bool bad(GError **errp, const char *uri, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    g_autofree char *why = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                "invalid migration URI '%s': %s", uri, why);
    return false;
}

static bool parse_port(const char *uri, const char *port, GError **errp)
{
    char *end = NULL;

    if (!*port) {
        return bad(errp, uri, "the port is missing (tcp:HOST:PORT)");
    }
    if (!g_ascii_isdigit(*port)) {
        return bad(errp, uri, "port '%s' is not a number", port);
    }
    guint64 n = g_ascii_strtoull(port, &end, 10);
    if (*end || n > 65535) {
        return bad(errp, uri, "port '%s' is not a number from 0 to 65535",
                   port);
    }
    return true;
}

static bool parse_tcp(const char *uri, const char *rest, VhMigUri *out,
                      GError **errp)
{
    const char *colon;

    if (*rest == '[') {
        const char *close = strchr(rest, ']');
        if (!close) {
            return bad(errp, uri, "IPv6 address '%s' lacks its closing ']'",
                       rest);
        }
        if (close[1] != ':') {
            return bad(errp, uri, "expected ':PORT' after '%.*s'",
                       (int)(close - rest + 1), rest);
        }
        out->host = g_strndup(rest + 1, (gsize)(close - rest - 1));
        colon = close + 1;
    } else {
        colon = strrchr(rest, ':');
        if (!colon) {
            return bad(errp, uri, "expected tcp:HOST:PORT");
        }
        out->host = g_strndup(rest, (gsize)(colon - rest));
        if (strchr(out->host, ':')) {
            return bad(errp, uri,
                       "IPv6 address '%s' must be written in brackets, "
                       "tcp:[%s]:PORT",
                       out->host, out->host);
        }
    }
    out->port = g_strdup(colon + 1);
    return parse_port(uri, out->port, errp);
}

static bool parse_file(const char *uri, const char *rest, VhMigUri *out,
                       GError **errp)
{
    const char *opt = g_strrstr(rest, ",offset=");
    g_autoptr(GError) err = NULL;

    out->path = opt ? g_strndup(rest, (gsize)(opt - rest)) : g_strdup(rest);
    if (!*out->path) {
        return bad(errp, uri, "the file path is empty");
    }
    if (opt &&
        !vh_size_parse(opt + strlen(",offset="), 'B', &out->offset, &err)) {
        return bad(errp, uri, "offset: %s", err->message);
    }
    return true;
}

static bool parse_kind(const char *uri, VhMigUri *out, GError **errp)
{
    const char *colon = strchr(uri, ':');

    if (!colon) {
        return bad(errp, uri,
                   "no transport (expected tcp:, unix:, fd:, exec: or file:)");
    }
    g_autofree char *scheme = g_strndup(uri, (gsize)(colon - uri));
    const char *rest = colon + 1;
    if (g_str_equal(scheme, "tcp")) {
        out->kind = VH_MIG_URI_TCP;
        return parse_tcp(uri, rest, out, errp);
    }
    if (!*rest) {
        return bad(errp, uri, "nothing after '%s:'", scheme);
    }
    if (g_str_equal(scheme, "unix")) {
        out->kind = VH_MIG_URI_UNIX;
        out->path = g_strdup(rest);
    } else if (g_str_equal(scheme, "fd")) {
        out->kind = VH_MIG_URI_FD;
        out->fdname = g_strdup(rest);
    } else if (g_str_equal(scheme, "exec")) {
        out->kind = VH_MIG_URI_EXEC;
        out->command = g_strdup(rest);
    } else if (g_str_equal(scheme, "file")) {
        out->kind = VH_MIG_URI_FILE;
        return parse_file(uri, rest, out, errp);
    } else {
        return bad(errp, uri,
                   "unknown transport '%s' (expected tcp, unix, fd, exec or "
                   "file)",
                   scheme);
    }
    return true;
}

bool vh_mig_uri_parse(const char *uri, VhMigUri *out, GError **errp)
{
    g_return_val_if_fail(uri != NULL && out != NULL, false);

    memset(out, 0, sizeof(*out));
    if (!parse_kind(uri, out, errp)) {
        vh_mig_uri_clear(out);
        return false;
    }
    return true;
}

void vh_mig_uri_clear(VhMigUri *u)
{
    g_free(u->host);
    g_free(u->port);
    g_free(u->path);
    g_free(u->fdname);
    g_free(u->command);
    memset(u, 0, sizeof(*u));
}

bool vh_mig_uri_supports_multiple(const VhMigUri *u)
{
    return u->kind == VH_MIG_URI_TCP || u->kind == VH_MIG_URI_UNIX;
}
