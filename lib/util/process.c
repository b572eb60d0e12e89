/* Daemonizing and pid files (process.h). */
#include "vmhost/util/process.h"

#include "vmhost/util/error.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

struct VhPidfile {
    char *path;
    int fd;
};

bool vh_daemonize_start(int *ready_fd, GError **errp)
{
    int fds[2];
    pid_t pid;

    if (pipe2(fds, O_CLOEXEC) < 0) {
        vh_set_error_errno(errp, errno, "pipe");
        return false;
    }
    pid = fork();
    if (pid < 0) {
        int err = errno;

        close(fds[0]);
        close(fds[1]);
        vh_set_error_errno(errp, err, "fork");
        return false;
    }
    if (pid > 0) {
        char c = 1;
        ssize_t n;

        close(fds[1]);
        do {
            n = read(fds[0], &c, 1);
        } while (n < 0 && errno == EINTR);
        _exit(n == 1 && c == 0 ? 0 : 1);
    }
    close(fds[0]);
    setsid();
    *ready_fd = fds[1];
    return true;
}

void vh_daemonize_finish(int ready_fd)
{
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    ssize_t n;

    if (null >= 0) {
        dup2(null, STDIN_FILENO);
        dup2(null, STDOUT_FILENO);
        dup2(null, STDERR_FILENO);
        close(null);
    }
    do {
        n = write(ready_fd, "", 1);
    } while (n < 0 && errno == EINTR);
    close(ready_fd);
}

VhPidfile *vh_pidfile_acquire(const char *path, GError **errp)
{
    struct flock lock = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    g_autofree char *pid = g_strdup_printf("%d\n", (int)getpid());
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);

    if (fd < 0) {
        vh_set_error_errno(errp, errno, "cannot open %s", path);
        return NULL;
    }
    if (fcntl(fd, F_SETLK, &lock) < 0) {
        g_set_error(errp, VH_ERROR, VH_ERROR_FAILED,
                    "%s is locked by another running process", path);
        close(fd);
        return NULL;
    }
    if (ftruncate(fd, 0) < 0 ||
        write(fd, pid, strlen(pid)) != (ssize_t)strlen(pid)) {
        vh_set_error_errno(errp, errno, "cannot write %s", path);
        close(fd);
        unlink(path);
        return NULL;
    }
    VhPidfile *p = g_new0(VhPidfile, 1);
    p->path = g_strdup(path);
    p->fd = fd;
    return p;
}

void vh_pidfile_remove(VhPidfile *p)
{
    if (!p) {
        return;
    }
    unlink(p->path);
    close(p->fd);
    g_free(p->path);
    g_free(p);
}
