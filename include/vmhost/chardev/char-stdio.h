/*
 * VhChardevStdio (-chardev stdio[,signal=on|off]): the process's standard
 * input and output. Both are made non-blocking while the chardev is open.
 * When stdin is a terminal it is put in raw mode (no echo, no line
 * editing, no output translation); with signal=on (the default) Ctrl-C
 * still interrupts vmhost, with signal=off it reaches the guest as a byte.
 * Output to a terminal gets a CR before every LF that does not already
 * follow one, so LF-only text shows as lines and CR LF (HMP) stays one
 * CR LF. Raw mode is set again on SIGCONT when in the foreground (after
 * Ctrl-Z and `fg` the shell has put its own mode back); the handler is
 * installed while the chardev is open. The terminal settings and the
 * descriptors' flags are restored on close; the terminal also at exit()
 * if the chardev is still open then.
 * End of input stops reading; output still works. Always connected. Only one
 * stdio chardev can exist at a time.
 *
 *     g_autoptr(VhChardev) con = vh_chardev_stdio_new("con", true, NULL,
 *                                                     errp);
 */
#pragma once

#include "vmhost/chardev/chardev.h"
/* Raw mode changes how text printed beside it must end its lines. */
#include "vmhost/util/terminal.h"

G_BEGIN_DECLS

#define VH_TYPE_CHARDEV_STDIO (vh_chardev_stdio_get_type())
G_DECLARE_FINAL_TYPE(VhChardevStdio, vh_chardev_stdio, VH, CHARDEV_STDIO,
                     VhChardev)

/*
 * (transfer full) Error when another stdio chardev is open: "chardev c2:
 * stdio is already in use by chardev c1".
 */
G_GNUC_WARN_UNUSED_RESULT
VhChardev *vh_chardev_stdio_new(const char *id, bool signal, GMainContext *ctx,
                                GError **errp);

G_END_DECLS
