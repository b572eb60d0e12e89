/*
 * VhChannelCommand: pipes to a spawned child, reaped on close.
 */
#include "vmhost/io/channel-command.h"

#include "channel-internal.h"

#include <errno.h>
#include <glib-unix.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define COMMAND_EXIT_TIMEOUT_MS 3000
#define COMMAND_TERM_TIMEOUT_MS 1000

struct _VhChannelCommand {
    VhChannel parent_instance;
    GPid pid;
    int rfd;       /* the child's stdout, or -1 */
    int wfd;       /* the child's stdin, or -1 */
    bool readable; /* opened with a stdout pipe */
    bool writable; /* opened with a stdin pipe */
    char *what;    /* "command 'cat -u'" for messages */
    guint exit_timeout_ms;
    int aborted; /* shut down both ways: the child was told to stop */
};

G_DEFINE_FINAL_TYPE(VhChannelCommand, vh_channel_command, VH_TYPE_CHANNEL)

/*
 * In the child: lead a process group of its own, so that stopping the
 * command reaches everything it started ("sh -c 'a | b'", socat's
 * children), and a terminal's ^C to vmhost does not reach it behind
 * vmhost's back.
 */
static void child_setup(gpointer unused)
{
    setpgid(0, 0);
}

VhChannelCommand *vh_channel_command_new_spawn(const char *const *argv,
                                               int flags, GError **errp)
{
    int mode = flags & O_ACCMODE;
    bool readable = mode == O_RDONLY || mode == O_RDWR;
    bool writable = mode == O_WRONLY || mode == O_RDWR;
    GSpawnFlags spawn_flags =
        G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_CLOEXEC_PIPES;
    g_autofree char *cmdline = NULL;
    GError *err = NULL;
    int in = -1, out = -1;
    GPid pid;

    g_return_val_if_fail(argv != NULL && argv[0] != NULL, NULL);
    cmdline = g_strjoinv(" ", (char **)argv);
    if (mode != O_RDONLY && mode != O_WRONLY && mode != O_RDWR) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "Invalid open mode 0x%x for command '%s'", flags, cmdline);
        return NULL;
    }
    spawn_flags |= readable ? 0 : G_SPAWN_STDOUT_TO_DEV_NULL;
    spawn_flags |= writable ? 0 : G_SPAWN_STDIN_FROM_DEV_NULL;
    if (!g_spawn_async_with_pipes_and_fds(NULL, argv, NULL, spawn_flags,
                                          child_setup, NULL, -1, -1, -1, NULL,
                                          NULL, 0, &pid, writable ? &in : NULL,
                                          readable ? &out : NULL, NULL, &err)) {
        g_propagate_prefixed_error(errp, err,
                                   "Failed to run command '%s': ", cmdline);
        return NULL;
    }

    VhChannelCommand *c = g_object_new(VH_TYPE_CHANNEL_COMMAND, NULL);
    c->pid = pid;
    c->rfd = out;
    c->wfd = in;
    c->readable = readable;
    c->writable = writable;
    c->what = g_strdup_printf("command '%s'", cmdline);
    vh_channel_set_feature(VH_CHANNEL(c), VH_CHANNEL_FEATURE_SHUTDOWN);
    return c;
}

void vh_channel_command_set_exit_timeout(VhChannelCommand *c, guint timeout_ms)
{
    g_return_if_fail(VH_IS_CHANNEL_COMMAND(c));
    c->exit_timeout_ms = timeout_ms;
}

GPid vh_channel_command_get_pid(VhChannelCommand *c)
{
    g_return_val_if_fail(VH_IS_CHANNEL_COMMAND(c), 0);
    return c->pid;
}

/* Check that the pipe for a direction exists; explain why when it does not. */
static bool command_check_fd(VhChannelCommand *c, bool opened, int fd,
                             const char *dir, GError **errp)
{
    if (!opened) {
        g_set_error(errp, VH_ERROR, VH_ERROR_NOT_SUPPORTED,
                    "%s was not opened for %s", c->what, dir);
        return false;
    }
    if (fd < 0 || g_atomic_int_get(&c->aborted)) {
        g_set_error(errp, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE,
                    "%s: %s was shut down", c->what, dir);
        return false;
    }
    return true;
}

static gssize command_readv(VhChannel *ioc, const struct iovec *iov,
                            size_t niov, int **fds, size_t *nfds, GError **errp)
{
    VhChannelCommand *c = VH_CHANNEL_COMMAND(ioc);

    if (!command_check_fd(c, c->readable, c->rfd, "reading", errp)) {
        return -1;
    }
    return vh_fd_readv(c->rfd, iov, niov, c->what, errp);
}

static gssize command_writev(VhChannel *ioc, const struct iovec *iov,
                             size_t niov, const int *fds, size_t nfds,
                             GError **errp)
{
    VhChannelCommand *c = VH_CHANNEL_COMMAND(ioc);

    if (!command_check_fd(c, c->writable, c->wfd, "writing", errp)) {
        return -1;
    }
    return vh_fd_writev(c->wfd, iov, niov, c->what, errp);
}

static void close_fd(int *fd)
{
    if (*fd >= 0) {
        close(*fd);
        *fd = -1;
    }
}

/* waitpid() for up to @timeout_ms; true once the child was reaped. */
static bool command_wait(VhChannelCommand *c, guint timeout_ms, int *status)
{
    gint64 deadline =
        g_get_monotonic_time() + timeout_ms * G_TIME_SPAN_MILLISECOND;
    gulong pause_us = 500;

    for (;;) {
        pid_t r = waitpid(c->pid, status, WNOHANG);
        if (r == c->pid) {
            return true;
        }
        if (r < 0 && errno != EINTR) {
            /* Someone else reaped it; nothing is left to wait for. */
            *status = 0;
            return true;
        }
        if (g_get_monotonic_time() >= deadline) {
            return false;
        }
        g_usleep(pause_us);
        pause_us = MIN(pause_us * 2, 20000);
    }
}

/* Signal the child's process group (the child itself if it has none). */
static void command_signal(VhChannelCommand *c, int sig)
{
    if (kill(-c->pid, sig) < 0) {
        kill(c->pid, sig);
    }
}

/* Reap the child, escalating to SIGTERM and SIGKILL; report how it ended. */
static bool command_reap(VhChannelCommand *c, GError **errp)
{
    int status = 0;
    const char *forced = NULL;

    if (!command_wait(c, c->exit_timeout_ms, &status)) {
        forced = "SIGTERM";
        command_signal(c, SIGTERM);
        if (!command_wait(c, COMMAND_TERM_TIMEOUT_MS, &status)) {
            forced = "SIGKILL";
            command_signal(c, SIGKILL);
            while (waitpid(c->pid, &status, 0) < 0 && errno == EINTR) {
            }
        }
    }
    c->pid = 0;

    if (forced) {
        g_set_error(errp, VH_ERROR, VH_ERROR_CHILD_FAILED,
                    "%s did not exit within %u ms of its pipes closing and was "
                    "stopped with %s",
                    c->what, c->exit_timeout_ms, forced);
        return false;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
        g_set_error(errp, VH_ERROR, VH_ERROR_CHILD_FAILED,
                    "%s exited with status %d", c->what, WEXITSTATUS(status));
        return false;
    }
    if (WIFSIGNALED(status)) {
        g_set_error(errp, VH_ERROR, VH_ERROR_CHILD_FAILED,
                    "%s was killed by signal %d (%s)", c->what,
                    WTERMSIG(status), strsignal(WTERMSIG(status)));
        return false;
    }
    return true;
}

static bool command_close(VhChannel *ioc, GError **errp)
{
    VhChannelCommand *c = VH_CHANNEL_COMMAND(ioc);

    /* Its stdin first, so that the child sees EOF and can finish. */
    close_fd(&c->wfd);
    close_fd(&c->rfd);
    if (c->pid <= 0) {
        return true;
    }
    return command_reap(c, errp);
}

static bool command_shutdown(VhChannel *ioc, VhChannelShutdown how,
                             GError **errp)
{
    VhChannelCommand *c = VH_CHANNEL_COMMAND(ioc);

    /*
     * Both ways: the command is abandoned, possibly while another thread
     * is blocked reading or writing its pipes. Closing a pipe wakes no
     * such thread (and would free its fd number for reuse under it), so
     * the fds stay open until close() and the command's process group is
     * told to stop: the blocked read sees EOF, the blocked write EPIPE.
     */
    if (how == VH_CHANNEL_SHUTDOWN_BOTH) {
        if (!g_atomic_int_exchange(&c->aborted, 1) && c->pid > 0) {
            command_signal(c, SIGTERM);
        }
        return true;
    }
    if (how & VH_CHANNEL_SHUTDOWN_WRITE) {
        close_fd(&c->wfd);
    }
    if (how & VH_CHANNEL_SHUTDOWN_READ) {
        close_fd(&c->rfd);
    }
    return true;
}

static GSource *command_create_watch(VhChannel *ioc, GIOCondition cond)
{
    VhChannelCommand *c = VH_CHANNEL_COMMAND(ioc);

    return vh_channel_create_fd_pair_watch(ioc, c->rfd, c->wfd, cond);
}

static bool command_set_blocking(VhChannel *ioc, bool enabled, GError **errp)
{
    VhChannelCommand *c = VH_CHANNEL_COMMAND(ioc);

    return (c->rfd < 0 || g_unix_set_fd_nonblocking(c->rfd, !enabled, errp)) &&
           (c->wfd < 0 || g_unix_set_fd_nonblocking(c->wfd, !enabled, errp));
}

static void vh_channel_command_finalize(GObject *obj)
{
    g_free(VH_CHANNEL_COMMAND(obj)->what);
    G_OBJECT_CLASS(vh_channel_command_parent_class)->finalize(obj);
}

static void vh_channel_command_init(VhChannelCommand *c)
{
    c->rfd = -1;
    c->wfd = -1;
    c->exit_timeout_ms = COMMAND_EXIT_TIMEOUT_MS;
}

static void vh_channel_command_class_init(VhChannelCommandClass *klass)
{
    GObjectClass *oc = G_OBJECT_CLASS(klass);
    VhChannelClass *cc = VH_CHANNEL_CLASS(klass);

    oc->finalize = vh_channel_command_finalize;
    cc->readv = command_readv;
    cc->writev = command_writev;
    cc->close = command_close;
    cc->create_watch = command_create_watch;
    cc->set_blocking = command_set_blocking;
    cc->shutdown = command_shutdown;
}
