/*
 * Socket address strings: parsing what operators type and printing
 * addresses the same way in messages.
 *
 *     g_autoptr(GSocketAddress) addr = vh_socket_address_parse(
 *         "[::1]:4444", errp);            // or "127.0.0.1:4444",
 *     if (!addr) {                        // "unix:/run/vm.sock",
 *         return false;                   // "abstract:vmhost-mon"
 *     }
 *     g_autofree char *text = vh_socket_address_to_string(addr);
 *
 * Accepted forms: "HOST:PORT" (HOST a name or an IPv4 literal), "[V6]:PORT",
 * "unix:PATH" and, on Linux, "abstract:NAME" (an abstract UNIX socket).
 * Names are resolved synchronously with GResolver, so call these from a
 * thread that may block.
 *
 * Ownership: every returned address, list and string is (transfer full).
 */
#pragma once

#include <gio/gio.h>

#include "vmhost/util/error.h"

G_BEGIN_DECLS

/*
 * Parse @str (see above). A host name resolves to its first address.
 * Returns NULL with VH_ERROR_INVALID_ARGUMENT for a malformed string, or the
 * resolver's error for an unknown host.
 */
G_GNUC_WARN_UNUSED_RESULT
GSocketAddress *vh_socket_address_parse(const char *str, GError **errp);

/*
 * Every address @host resolves to, as GInetSocketAddress with @port, without
 * duplicates (free with g_list_free_full(list, g_object_unref)). An IP
 * literal gives itself; NULL or "" gives the wildcards 0.0.0.0 and ::;
 * "localhost" gives 127.0.0.1 and, where IPv6 loopback works, ::1 (RFC 6761
 * section 6.3), whatever /etc/hosts says. Returns NULL with the error set
 * when nothing resolves.
 */
G_GNUC_WARN_UNUSED_RESULT
GList *vh_socket_address_resolve(const char *host, guint16 port, GError **errp);

/*
 * "127.0.0.1:9000", "[::1]:9000", "unix:/path", "abstract:name" or
 * "unix:(anonymous)": the form vh_socket_address_parse() reads back.
 */
char *vh_socket_address_to_string(GSocketAddress *addr);

/* Whether the host can bind the IPv6 loopback address ::1. */
gboolean vh_socket_ipv6_loopback_available(void);

G_END_DECLS
