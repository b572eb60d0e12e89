/*
 * -chardev / chardev-add: create a chardev from a QEMU option string, and
 * the process-wide registry of chardevs by id (what -serial, -mon and the
 * monitors' chardev commands look ids up in).
 *
 *     g_autoptr(VhOpts) o = vh_opts_parse("-chardev", "socket,id=s0,"
 *                                         "port=9000,server,nowait",
 *                                         "backend", errp);
 *     g_autoptr(VhChardev) chr = o ? vh_chardev_new_from_opts(o, NULL, errp)
 *                                  : NULL;
 *     if (!chr || !vh_chardev_register(chr, errp)) { ... }
 *     ...
 *     VhChardev *s0 = vh_chardev_lookup("s0");   // borrowed
 *
 * Keys every backend takes: id (required), logfile, logappend, mux.
 *   socket   host, port, path, abstract, fd, server, wait, reconnect-ms,
 *            reconnect=SECONDS (legacy), nodelay (and legacy delay=off),
 *            telnet, tls-creds, tls-authz, ipv4, ipv6,
 *            tls-handshake-timeout-ms (vmhost's own: how long a peer may
 *            take over its TLS handshake, default 10000). Bare "server" and
 *            "nowait" are server=on and wait=off. wait defaults to on for
 *            a server: the caller then runs vh_chardev_socket_wait_connected.
 *   null     -
 *   file     path (required), append
 *   ringbuf  size (a power of two, suffixes allowed: "64K"); alias memory
 *   stdio    signal (default on; see char-stdio.h)
 *   pty      -
 *   pipe     path (required; see char-pipe.h)
 *   serial   path (required); alias tty
 * mux=on wraps the backend (id "ID-base") in a VhChardevMux with the id
 * ID (see char-mux.h) so that several frontends can share it; logfile is
 * then on the mux. After creating (and before running the machine), call
 * vh_chardev_wait_connected: a socket server with wait=on blocks there
 * until its first client is in.
 *
 * Errors name the option, the chardev id, the key and the reason:
 *   "-chardev socket: invalid parameter 'foo'"
 *   "-chardev: unknown backend 'x'"
 *   "-chardev socket: parameter 'id' is required"
 *   "chardev s0: -chardev: parameter 'server' expects 'on' or 'off', ..."
 *
 * Threads: the registry is protected by a lock; lookups return borrowed
 * pointers, valid while the chardev stays registered, so callers on other
 * threads than the one that removes chardevs must hold their own ref.
 */
#pragma once

#include "vmhost/chardev/chardev.h"
#include "vmhost/util/opts.h"

G_BEGIN_DECLS

/*
 * (transfer full) Build the chardev @opts describe (parsed with the
 * implied key "backend") on @ctx (NULL: the global default context).
 * Every key is read before anything is opened, so an invalid parameter
 * leaves nothing behind. The chardev is not registered. A socket's fd=N
 * belongs to the call: kept by the chardev, or closed when it fails. fd
 * takes a number; a name (fd=NAME, kept by getfd) is for a monitor's
 * chardev-add to resolve first, and is an error here.
 */
G_GNUC_WARN_UNUSED_RESULT
VhChardev *vh_chardev_new_from_opts(VhOpts *opts, GMainContext *ctx,
                                    GError **errp);

/*
 * Startup: when the backend (under a mux too) is a socket server with
 * wait=on, announce "waiting for connection on: ..." and block until a
 * client is connected; otherwise return true at once.
 */
G_GNUC_WARN_UNUSED_RESULT
bool vh_chardev_wait_connected(VhChardev *chr, GError **errp);

/* Whether @name is a backend vh_chardev_new_from_opts knows. */
bool vh_chardev_backend_known(const char *name);
/* The backend names it knows, aliases too (transfer full). */
GStrv vh_chardev_backend_list(void);

/*
 * Register @chr under its id; the registry takes a reference. Fails with
 * "chardev with id 's0' already exists".
 */
G_GNUC_WARN_UNUSED_RESULT
bool vh_chardev_register(VhChardev *chr, GError **errp);

/* The registered chardev with @id (borrowed), or NULL. */
VhChardev *vh_chardev_lookup(const char *id);

/*
 * Close the chardev with @id and drop the registry's reference. Fails with
 * "chardev 's0' not found" or, while a frontend has handlers installed
 * (vh_chardev_has_frontend), "chardev 's0' is busy: a frontend is
 * attached".
 */
G_GNUC_WARN_UNUSED_RESULT
bool vh_chardev_remove(const char *id, GError **errp);

/*
 * The registered chardevs sorted by id (transfer full: the array holds a
 * reference on each and unrefs them when freed).
 */
GPtrArray *vh_chardev_list(void);

/* Close and drop every registered chardev (program exit, tests). */
void vh_chardev_remove_all(void);

G_END_DECLS
