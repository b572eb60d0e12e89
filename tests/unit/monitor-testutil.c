#include "monitor-testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vmhost/chardev/char-socket.h"
#include "vmhost/chardev/chardev-opts.h"

VhMachine *mon_machine_new(void)
{
    g_autoptr(GError) err = NULL;
    VhRamBlock *ram = vh_ram_block_new("pc.ram", 8 << 20, false, &err);
    VhMachine *m;

    g_assert_no_error(err);
    m = vh_machine_new("vm0", ram, &err);
    g_assert_no_error(err);
    return m;
}

void mon_peer_open(MonPeer *p, const char *id)
{
    g_autoptr(GError) err = NULL;
    VhChardevSocketOptions o = VH_CHARDEV_SOCKET_OPTIONS_INIT;
    int sv[2];

    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==,
                    0);
    g_assert_cmpint(fcntl(sv[1], F_SETFL, O_NONBLOCK), ==, 0);
    o.fd = sv[0];
    p->chr = vh_chardev_socket_new(id, &o, NULL, &err);
    g_assert_no_error(err);
    g_assert_true(vh_chardev_register(p->chr, &err));
    g_assert_no_error(err);
    p->fd = sv[1];
    p->in = g_string_new(NULL);
}

void mon_peer_close(MonPeer *p)
{
    const char *id = vh_chardev_get_id(p->chr);
    g_autoptr(GError) err = NULL;

    if (vh_chardev_lookup(id) == p->chr) {
        g_assert_true(vh_chardev_remove(id, &err));
    }
    vh_chardev_close(p->chr);
    g_clear_object(&p->chr);
    close(p->fd);
    g_string_free(p->in, true);
    /* Let the closed connection's sources go. */
    mon_settle();
}

void mon_send(MonPeer *p, const char *text)
{
    size_t len = strlen(text);
    size_t off = 0;

    while (off < len) {
        ssize_t n = write(p->fd, text + off, len - off);

        if (n < 0 && errno == EAGAIN) {
            g_main_context_iteration(NULL, false);
            continue;
        }
        g_assert_cmpint(n, >, 0);
        off += n;
    }
}

void mon_send_fd(MonPeer *p, const char *text, int fd)
{
    struct iovec iov = {.iov_base = (void *)text, .iov_len = strlen(text)};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    struct msghdr msg = {
        .msg_iov = &iov,
        .msg_iovlen = 1,
        .msg_control = u.buf,
        .msg_controllen = sizeof(u.buf),
    };
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);

    memset(&u, 0, sizeof(u));
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof(int));
    g_assert_cmpint(sendmsg(p->fd, &msg, 0), ==, (ssize_t)iov.iov_len);
}

bool mon_fd_is_pipe_end(int fd, int read_end)
{
    char c = 0;

    if (write(fd, "z", 1) != 1) {
        return false;
    }
    return read(read_end, &c, 1) == 1 && c == 'z';
}

static void pump(MonPeer *p)
{
    char buf[4096];
    ssize_t n;

    while ((n = read(p->fd, buf, sizeof(buf))) > 0) {
        g_string_append_len(p->in, buf, n);
    }
}

void mon_wait(bool (*pred)(void *), void *opaque)
{
    gint64 deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;

    while (!pred(opaque)) {
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        g_main_context_iteration(NULL, false);
        g_usleep(200);
    }
}

typedef struct {
    MonPeer *p;
    const char *end;
} UntilCtx;

static bool has_end(void *opaque)
{
    UntilCtx *u = opaque;

    pump(u->p);
    return strstr(u->p->in->str, u->end) != NULL;
}

char *mon_read_until(MonPeer *p, const char *end)
{
    UntilCtx u = {p, end};
    size_t n;
    char *out;

    mon_wait(has_end, &u);
    n = strstr(p->in->str, end) - p->in->str + strlen(end);
    out = g_strndup(p->in->str, n);
    g_string_erase(p->in, 0, n);
    return out;
}

void mon_settle(void)
{
    for (int i = 0; i < 50; i++) {
        while (g_main_context_iteration(NULL, false)) {
        }
        g_usleep(1000);
    }
}

JsonObject *mon_read_json(MonPeer *p)
{
    g_autofree char *line = mon_read_until(p, "\r\n");
    g_autoptr(JsonParser) parser = json_parser_new();
    g_autoptr(GError) err = NULL;

    g_assert_true(json_parser_load_from_data(parser, line, -1, &err));
    g_assert_no_error(err);
    g_assert_true(JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser)));
    return json_object_ref(json_node_get_object(json_parser_get_root(parser)));
}

VhQmp *mon_qmp_open(MonPeer *p, VhMonitorHost *host)
{
    g_autoptr(JsonObject) greeting = NULL;
    VhQmp *qmp;

    mon_peer_open(p, "qmp0");
    qmp = vh_qmp_new(host, p->chr);
    greeting = mon_read_json(p);
    g_assert_true(json_object_has_member(greeting, "QMP"));
    return qmp;
}

void mon_qmp_close(MonPeer *p, VhMonitorHost *host, VhQmp *qmp)
{
    vh_qmp_free(qmp);
    vh_monitor_host_clear(host);
    mon_peer_close(p);
    vh_chardev_remove_all();
}
