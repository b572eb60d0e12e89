/*
 * VhChannelCommand: a channel to a child process; writes go to its stdin,
 * reads come from its stdout (stderr is inherited).
 *
 *     const char *argv[] = {"gzip", "-c", NULL};
 *     g_autoptr(VhChannelCommand) cmd =
 *         vh_channel_command_new_spawn(argv, O_RDWR, errp);
 *     if (!cmd) {
 *         return false;
 *     }
 *     ... write to and read from VH_CHANNEL(cmd) ...
 *     if (!vh_channel_close(VH_CHANNEL(cmd), errp)) {
 *         // e.g. VH_ERROR_CHILD_FAILED: "command 'gzip -c' exited with
 *         // status 1"
 *     }
 *
 * @flags picks the pipes: O_WRONLY (stdin only; stdout goes to /dev/null),
 * O_RDONLY (stdout only; stdin reads /dev/null) or O_RDWR (both). argv[0]
 * is searched in PATH; the child leads a process group of its own.
 * VH_CHANNEL_FEATURE_SHUTDOWN: shutting down WRITE closes the child's
 * stdin (it sees EOF), READ closes its stdout; BOTH abandons the command:
 * its process group gets SIGTERM, so a thread blocked on either pipe wakes
 * up, and further I/O fails with G_IO_ERROR_BROKEN_PIPE.
 *
 * vh_channel_close() closes the pipes, then waits for the child: if it has
 * not exited within the exit timeout (3 s by default) its process group
 * gets SIGTERM, then SIGKILL a second later. The child is always reaped, so it
 * never lingers as a zombie. A non-zero exit status, a death by signal
 * (including SIGPIPE when it was still writing output nobody reads) or having
 * to be killed is reported by close() as VH_ERROR_CHILD_FAILED.
 *
 * Ownership: the channel owns both pipe fds and the child.
 */
#pragma once

#include <fcntl.h>

#include "vmhost/io/channel.h"

G_BEGIN_DECLS

#define VH_TYPE_CHANNEL_COMMAND (vh_channel_command_get_type())
G_DECLARE_FINAL_TYPE(VhChannelCommand, vh_channel_command, VH, CHANNEL_COMMAND,
                     VhChannel)

/* Spawn @argv (NULL-terminated) with pipes chosen by @flags (see above). */
G_GNUC_WARN_UNUSED_RESULT
VhChannelCommand *vh_channel_command_new_spawn(const char *const *argv,
                                               int flags, GError **errp);

/* How long close() waits for the child before SIGTERM (default 3000 ms). */
void vh_channel_command_set_exit_timeout(VhChannelCommand *c, guint timeout_ms);

/* The child's pid; 0 once close() has reaped it. */
GPid vh_channel_command_get_pid(VhChannelCommand *c);

G_END_DECLS
