/*
 * mig-fdpass: hand the two ends of a fresh socket pair to two QMP monitors
 * with getfd, so that `migrate fd:NAME` on one and `migrate-incoming
 * fd:NAME` on the other talk to each other (tests/programs/test-migration.sh).
 *
 *   mig-fdpass SOURCE.qmp TARGET.qmp NAME
 *
 * For each UNIX socket: connect, read the greeting, qmp_capabilities, then
 * {"execute":"getfd","arguments":{"fdname":NAME}} sent in one sendmsg() with
 * the fd attached as SCM_RIGHTS. Each reply line goes to stdout; exit 0 only
 * if both getfd commands returned {"return": ...}.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* Read one line (without the newline) into buf; false on EOF or error. */
static bool read_line(int fd, char *buf, size_t size)
{
    size_t n = 0;

    while (n + 1 < size) {
        char c;
        ssize_t r = read(fd, &c, 1);

        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            return false;
        }
        if (c == '\n') {
            break;
        }
        buf[n++] = c;
    }
    buf[n] = '\0';
    return true;
}

/* Read lines until a reply (return or error); events are skipped. */
static bool read_reply(int fd, char *buf, size_t size)
{
    while (read_line(fd, buf, size)) {
        if (strstr(buf, "\"return\"") || strstr(buf, "\"error\"")) {
            return true;
        }
    }
    return false;
}

static bool send_all(int fd, const char *s, int pass_fd)
{
    struct iovec iov = {.iov_base = (void *)s, .iov_len = strlen(s)};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};

    if (pass_fd >= 0) {
        memset(&u, 0, sizeof(u));
        msg.msg_control = u.buf;
        msg.msg_controllen = sizeof(u.buf);
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
    }
    ssize_t r;
    do {
        r = sendmsg(fd, &msg, MSG_NOSIGNAL);
    } while (r < 0 && errno == EINTR);
    return r == (ssize_t)iov.iov_len;
}

/* getfd NAME over the QMP socket at PATH, passing FD; prints the reply. */
static bool pass(const char *path, const char *name, int fd)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    char line[4096];
    char cmd[512];
    bool ok = false;

    if (strlen(path) >= sizeof(sa.sun_path)) {
        fprintf(stderr, "mig-fdpass: %s: socket path too long\n", path);
        return false;
    }
    strcpy(sa.sun_path, path);
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        fprintf(stderr, "mig-fdpass: cannot connect to %s: %s\n", path,
                strerror(errno));
        goto out;
    }
    if (!read_line(s, line, sizeof(line)) || !strstr(line, "\"QMP\"")) {
        fprintf(stderr, "mig-fdpass: %s: no QMP greeting\n", path);
        goto out;
    }
    if (!send_all(s, "{\"execute\":\"qmp_capabilities\"}\n", -1) ||
        !read_reply(s, line, sizeof(line)) || !strstr(line, "\"return\"")) {
        fprintf(stderr, "mig-fdpass: %s: qmp_capabilities failed: %s\n", path,
                line);
        goto out;
    }
    snprintf(cmd, sizeof(cmd),
             "{\"execute\":\"getfd\",\"arguments\":{\"fdname\":\"%s\"}}\n",
             name);
    if (!send_all(s, cmd, fd) || !read_reply(s, line, sizeof(line))) {
        fprintf(stderr, "mig-fdpass: %s: no reply to getfd\n", path);
        goto out;
    }
    printf("%s: %s\n", path, line);
    ok = strstr(line, "\"return\"") != NULL;
out:
    if (s >= 0) {
        close(s);
    }
    return ok;
}

int main(int argc, char **argv)
{
    int sv[2];

    if (argc != 4) {
        fprintf(stderr, "usage: mig-fdpass SOURCE.qmp TARGET.qmp NAME\n");
        return 2;
    }
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        fprintf(stderr, "mig-fdpass: socketpair: %s\n", strerror(errno));
        return 1;
    }
    bool ok = pass(argv[1], argv[3], sv[0]);
    ok = pass(argv[2], argv[3], sv[1]) && ok;
    close(sv[0]);
    close(sv[1]);
    return ok ? 0 : 1;
}
