/*
 * HMP, the human monitor, over any chardev.
 *
 *     g_autoptr(VhHmp) hmp = vh_hmp_new(&host, chr, isatty_backend);
 *     ... iterate the chardev's context; the peer types
 *     "(vmhost) info status" and reads "VM status: running".
 *
 * On OPENED the monitor greets with a banner and the "(vmhost) " prompt;
 * each line (ended by CR, LF or CRLF) is one command: a name, then
 * arguments separated by blanks, with shell-style quoting ('a b', "a b").
 * Output lines end in CRLF. Commands and their arguments: `help`, or
 * the table in monitor.h.
 *
 * Line editing (lib/monitor/readline.h has the full list of keys) works
 * in every mode: cursor movement (arrows, Home/End, Ctrl-A/E/B/F),
 * Backspace/DEL and Delete at the cursor, Ctrl-K/U/W, Up/Down through the
 * history of the last VH_HMP_HISTORY_MAX lines (no blank lines, no
 * repeats of the newest). Unknown escape sequences are swallowed. Lines
 * longer than VH_HMP_LINE_MAX bytes are cut there.
 *
 * @terminal (readline mode: the peer is a person at a terminal) makes the
 * monitor echo what is typed and redraw the line with minimal escape
 * sequences, and turns on Tab completion of command names, `info`
 * subcommands, `help` topics, chardev ids (chardev-remove, ringbuf_*),
 * object ids (object_del), probe ids (probe_*), getfd names (closefd),
 * object types (object_add) and chardev backends (chardev-add). The terminal
 * must not translate output: the monitor writes CR LF itself (the stdio and pty
 * backends switch the translation off). Without @terminal (a program
 * at the other end, e.g. a socket) nothing is echoed and Tab does
 * nothing. vmhost passes true for stdio when stdin is a terminal, for
 * pty and for telnet=on sockets.
 */
#pragma once

#include "vmhost/chardev/chardev.h"
#include "vmhost/monitor/monitor.h"

G_BEGIN_DECLS

#define VH_HMP_PROMPT      "(vmhost) "
#define VH_HMP_HISTORY_MAX 64
#define VH_HMP_LINE_MAX    4096

typedef struct _VhHmp VhHmp;

/*
 * (transfer full) Attach a human monitor to @chr (a reference is taken;
 * the monitor is its frontend). @host is borrowed and must outlive it.
 */
VhHmp *vh_hmp_new(VhMonitorHost *host, VhChardev *chr, bool terminal);
/* Detach from the chardev and free. NULL is allowed. */
void vh_hmp_free(VhHmp *hmp);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VhHmp, vh_hmp_free)

G_END_DECLS
