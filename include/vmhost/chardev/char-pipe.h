/*
 * VhChardevPipe (-chardev pipe,path=P): named pipes. If P.in and P.out
 * both exist, input is read from P.in and output written to P.out;
 * otherwise P carries both directions. The FIFOs must exist (mkfifo);
 * they are opened read-write so that opening never blocks and a writer
 * going away is not an end of input. Always connected: output nobody
 * reads fills the FIFO (64 KiB on Linux), then the chardev's own buffer
 * (64 KiB), and is then dropped and recorded.
 *
 *     g_autoptr(VhChardev) p = vh_chardev_pipe_new("p0", "/run/vm/con",
 *                                                  NULL, errp);
 */
#pragma once

#include "vmhost/chardev/chardev.h"

G_BEGIN_DECLS

#define VH_TYPE_CHARDEV_PIPE (vh_chardev_pipe_get_type())
G_DECLARE_FINAL_TYPE(VhChardevPipe, vh_chardev_pipe, VH, CHARDEV_PIPE,
                     VhChardev)

/*
 * (transfer full) Error: "chardev p0: cannot open pipe /run/vm/con: No
 * such file or directory".
 */
G_GNUC_WARN_UNUSED_RESULT
VhChardev *vh_chardev_pipe_new(const char *id, const char *path,
                               GMainContext *ctx, GError **errp);

G_END_DECLS
