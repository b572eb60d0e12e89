/*
 * Process plumbing a daemon needs: backgrounding that reports readiness to
 * the parent, and a locked pid file.
 *
 *     int ready = -1;
 *     if (daemonize && !vh_daemonize_start(&ready, errp)) {  // forks
 *         return false;
 *     }
 *     ... set up; on failure say why on stderr and exit 1: the waiting
 *     ... parent then exits 1 too
 *     g_autoptr(VhPidfile) pid = vh_pidfile_acquire(path, errp);
 *     if (ready >= 0) {
 *         vh_daemonize_finish(ready);   // the parent exits 0 now
 *     }
 *     ... run
 *     vh_pidfile_remove(pid);
 */
#pragma once

#include <glib.h>
#include <stdbool.h>

G_BEGIN_DECLS

/*
 * Fork. The parent waits for the child's ready byte and exits 0, or 1
 * when the child ends without it (a startup failure, which the child
 * reports itself). The child starts a new session and gets the pipe's
 * write end in *@ready_fd. Errors (pipe, fork) are reported in the
 * calling process: "fork: Resource temporarily unavailable".
 */
G_GNUC_WARN_UNUSED_RESULT
bool vh_daemonize_start(int *ready_fd, GError **errp);

/*
 * In the child, once ready: stdin, stdout and stderr to /dev/null, then
 * the ready byte to the parent (which exits 0); closes @ready_fd.
 */
void vh_daemonize_finish(int ready_fd);

typedef struct VhPidfile VhPidfile;

/*
 * (transfer full) Create (0644) or open @path, lock it with a POSIX
 * record lock for as long as the VhPidfile lives, and write our pid and a
 * newline. Fails with "PATH is locked by another running process" when
 * another process holds it, or the errno reason ("cannot open PATH: ...",
 * "cannot write PATH: ..."; a file we could not write is removed).
 */
G_GNUC_WARN_UNUSED_RESULT
VhPidfile *vh_pidfile_acquire(const char *path, GError **errp);

/* Remove the file, drop the lock, free. NULL is ignored. */
void vh_pidfile_remove(VhPidfile *p);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(VhPidfile, vh_pidfile_remove)

G_END_DECLS
