/*
 * Terminal helpers for programs that print on a terminal a chardev may
 * also be using (a stdio chardev puts it in raw mode).
 *
 *     fprintf(stderr, "vmhost: %s%s", message,
 *             vh_tty_line_end(STDERR_FILENO));
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * The line end for text written straight to @fd: "\r\n" when @fd is a
 * terminal that does not translate LF (a stdio chardev has it in raw
 * mode), else "\n" (also for a file, a pipe or a closed fd).
 */
const char *vh_tty_line_end(int fd);

G_END_DECLS
