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
 * Line editing works in every mode: Backspace/DEL removes a character,
 * Ctrl-U the line, Up/Down (ESC [ A / ESC [ B) walk the history of the
 * last VH_HMP_HISTORY_MAX lines. With @terminal the monitor also echoes
 * what is typed and redraws the line, as a terminal needs. Lines longer
 * than VH_HMP_LINE_MAX bytes are cut there.
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
