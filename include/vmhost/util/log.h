/*
 * A program's log: GLib log records formatted for the operator
 * ("vmhost: warning: MESSAGE", vh_log_format()) go to the log file when
 * one is open (-D FILE: appended, one UTC-timestamped line per record),
 * else to stderr, ended for a terminal a stdio chardev may hold in raw
 * mode (vh_tty_line_end()). Process-wide, like GLib's log writer.
 *
 *     vh_log_init("vmhost");
 *     if (logfile && !vh_log_open_file(logfile, errp)) {
 *         g_prefix_error(errp, "-D: ");
 *         return false;
 *     }
 *     g_warning("chardev s0: ...");   // -> the file, or stderr
 *     vh_log_line("vmhost: machine up"); // -> the file only
 *     ...
 *     vh_log_close();
 */
#pragma once

#include <glib.h>
#include <stdbool.h>

G_BEGIN_DECLS

/* Install the log writer; records name @prog (copied). Call once. */
void vh_log_init(const char *prog);

/*
 * Open @path for appending (created, 0666 less the umask, if needed) as
 * the log file, replacing any previous one. Besides a regular file it may
 * be what QEMU's -D also writes to: a character device (/dev/null, a
 * terminal) or a pipe with a reader; never a blocking open() (a FIFO
 * without a reader is refused at once, vh_file_open()). Fails with "cannot
 * open PATH: REASON".
 */
G_GNUC_WARN_UNUSED_RESULT
bool vh_log_open_file(const char *path, GError **errp);

/* Whether a log file is open. */
bool vh_log_has_file(void);

/* @text as one timestamped line of the log file; nothing without one. */
void vh_log_line(const char *text);

/* Close the log file (records go to stderr again). */
void vh_log_close(void);

G_END_DECLS
