/* QEMU's -serial / -monitor / -qmp device shorthand (chardev-shorthand.h). */
#include "vmhost/chardev/chardev-shorthand.h"

#include "vmhost/util/error.h"

#include <string.h>

/* "tcp:HOST:PORT,..." and "unix:PATH,...": a socket chardev's options. */
static bool socket_opts(VhOpts *out, const char *optname, const char *dev,
                        bool tcp, GError **errp)
{
    const char *rest = strchr(dev, ':') + 1;
    g_autoptr(VhOpts) in = vh_opts_parse(optname, rest, "addr", errp);
    const char *addr = in ? vh_opts_get_string(in, "addr") : NULL;

    if (!in) {
        return false;
    }
    if (!addr || !addr[0]) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "%s: '%s': the address is missing (%s)", optname, dev,
                    tcp ? "tcp:HOST:PORT" : "unix:PATH");
        return false;
    }
    if (tcp) {
        const char *colon = strrchr(addr, ':');
        g_autofree char *host = NULL;

        if (!colon || !colon[1]) {
            g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                        "%s: '%s': expected %.*s:HOST:PORT", optname, dev,
                        (int)(strchr(dev, ':') - dev), dev);
            return false;
        }
        host = g_strndup(addr, colon - addr);
        if (host[0] == '[' && g_str_has_suffix(host, "]")) {
            host[strlen(host) - 1] = '\0';
            memmove(host, host + 1, strlen(host));
        }
        if (host[0]) {
            vh_opts_append(out, "host", host);
        }
        vh_opts_append(out, "port", colon + 1);
    } else {
        vh_opts_append(out, "path", addr);
    }
    for (guint i = 0; i < vh_opts_count(in); i++) {
        if (!g_str_equal(vh_opts_nth_key(in, i), "addr")) {
            vh_opts_append(out, vh_opts_nth_key(in, i),
                           vh_opts_nth_value(in, i));
        }
    }
    return true;
}

/* A new chardev's options for @dev, without the id. */
static bool new_opts(VhOpts *o, const char *optname, const char *dev,
                     GError **errp)
{
    if (g_str_equal(dev, "null") || g_str_equal(dev, "stdio") ||
        g_str_equal(dev, "pty")) {
        vh_opts_append(o, "backend", dev);
        return true;
    }
    if (g_str_has_prefix(dev, "file:") && dev[5]) {
        vh_opts_append(o, "backend", "file");
        vh_opts_append(o, "path", dev + 5);
        return true;
    }
    if (g_str_has_prefix(dev, "tcp:") || g_str_has_prefix(dev, "telnet:") ||
        g_str_has_prefix(dev, "unix:")) {
        vh_opts_append(o, "backend", "socket");
        if (g_str_has_prefix(dev, "telnet:")) {
            vh_opts_append(o, "telnet", "on");
        }
        return socket_opts(o, optname, dev, dev[0] == 't', errp);
    }
    g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                "%s: '%s': unknown device (expected chardev:ID, "
                "null, stdio, pty, file:PATH, tcp:HOST:PORT, "
                "telnet:HOST:PORT, unix:PATH or none)",
                optname, dev);
    return false;
}

bool vh_chardev_shorthand_parse(const char *optname, const char *dev,
                                const char *id, VhChardevShorthand *out,
                                GError **errp)
{
    g_autoptr(VhOpts) o = NULL;

    memset(out, 0, sizeof(*out));
    if (g_str_has_prefix(dev, "chardev:")) {
        out->kind = VH_CHARDEV_SHORTHAND_EXISTING;
        out->chardev_id = g_strdup(dev + strlen("chardev:"));
        return true;
    }
    if (g_str_equal(dev, "none")) {
        out->kind = VH_CHARDEV_SHORTHAND_NONE;
        return true;
    }
    o = vh_opts_new(optname);
    if (!new_opts(o, optname, dev, errp)) {
        return false;
    }
    vh_opts_append(o, "id", id);
    out->kind = VH_CHARDEV_SHORTHAND_NEW;
    out->opts = g_steal_pointer(&o);
    return true;
}

void vh_chardev_shorthand_clear(VhChardevShorthand *sh)
{
    g_clear_pointer(&sh->chardev_id, g_free);
    g_clear_pointer(&sh->opts, vh_opts_free);
    sh->kind = VH_CHARDEV_SHORTHAND_NONE;
}
