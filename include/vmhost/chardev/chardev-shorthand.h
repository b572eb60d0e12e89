/*
 * QEMU's device shorthand of -serial, -monitor and -qmp: DEV names an
 * existing chardev, none, or a backend with its options in one word.
 *
 *   chardev:ID                  the chardev ID
 *   none                        no device
 *   null | stdio | pty          that backend
 *   file:PATH                   a file backend on PATH
 *   tcp:[HOST]:PORT[,opts]      a socket; HOST may be [IPv6]
 *   telnet:[HOST]:PORT[,opts]   the same with telnet=on
 *   unix:PATH[,opts]            a UNIX socket
 *
 * where opts are -chardev socket's ("server,nowait", "wait=off", ...).
 *
 *     VhChardevShorthand sh;
 *     if (!vh_chardev_shorthand_parse("-serial", "tcp::4444,server,nowait",
 *                                     "serial0", &sh, errp)) {
 *         return false;
 *     }
 *     // sh.kind == VH_CHARDEV_SHORTHAND_NEW, sh.opts: backend=socket,
 *     // port=4444, server, nowait, id=serial0 -> vh_chardev_new_from_opts()
 *     vh_chardev_shorthand_clear(&sh);
 *
 * Errors name the option and DEV: "-serial: 'bogus': unknown device
 * (expected chardev:ID, null, ...)".
 */
#pragma once

#include <stdbool.h>

#include "vmhost/util/opts.h"

G_BEGIN_DECLS

typedef enum {
    VH_CHARDEV_SHORTHAND_NONE,     /* "none": no device at all */
    VH_CHARDEV_SHORTHAND_EXISTING, /* "chardev:ID": .chardev_id */
    VH_CHARDEV_SHORTHAND_NEW,      /* a new chardev: .opts */
} VhChardevShorthandKind;

typedef struct {
    VhChardevShorthandKind kind;
    char *chardev_id; /* EXISTING: the id to look up */
    VhOpts *opts;     /* NEW: -chardev options (implied key backend), id set */
} VhChardevShorthand;

/*
 * Parse @dev, given to @optname, into @out (cleared first; release with
 * vh_chardev_shorthand_clear()). A new chardev gets the id @id. Only the
 * form is checked here: the socket options are read, and refused if
 * wrong, by vh_chardev_new_from_opts().
 */
G_GNUC_WARN_UNUSED_RESULT
bool vh_chardev_shorthand_parse(const char *optname, const char *dev,
                                const char *id, VhChardevShorthand *out,
                                GError **errp);

void vh_chardev_shorthand_clear(VhChardevShorthand *sh);

G_END_DECLS
