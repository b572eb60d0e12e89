/*
 * -chardev pty. Linux reports POLLHUP on the master while no process has
 * the slave open, but only once a slave has been opened and closed: so
 * the slave is opened (to set raw mode) and closed at creation, and from
 * then on POLLHUP tells "nobody there".
 */
#include "fd-io.h"
#include "vmhost/chardev/char-pty.h"
#include "vmhost/util/error.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <termios.h>
#include <unistd.h>

struct _VhChardevPty {
    VhChardev parent;
    int master;
    char *path;
    VhFdIo *io;
    GSource *poll_timer;
};

G_DEFINE_FINAL_TYPE(VhChardevPty, vh_chardev_pty, VH_TYPE_CHARDEV)

static bool slave_open(VhChardevPty *p)
{
    struct pollfd pfd = {.fd = p->master, .events = POLLIN};

    return poll(&pfd, 1, 0) >= 0 && !(pfd.revents & POLLHUP);
}

static void start_polling(VhChardevPty *p);

static void set_connected(VhChardevPty *p, bool connected)
{
    VhChardev *chr = VH_CHARDEV(p);

    if (connected) {
        g_clear_pointer(&p->poll_timer, g_source_unref);
        vh_fd_io_start_reading(p->io);
    } else {
        vh_fd_io_stop_reading(p->io);
        vh_fd_io_discard_output(p->io);
        start_polling(p);
    }
    vh_chardev_be_set_connected(chr, connected);
}

static gboolean poll_cb(gpointer opaque)
{
    VhChardevPty *p = opaque;

    if (!slave_open(p)) {
        return G_SOURCE_CONTINUE;
    }
    /* the timer is removed by returning REMOVE */
    g_clear_pointer(&p->poll_timer, g_source_unref);
    vh_fd_io_start_reading(p->io);
    vh_chardev_be_set_connected(VH_CHARDEV(p), true);
    return G_SOURCE_REMOVE;
}

static void start_polling(VhChardevPty *p)
{
    if (p->poll_timer) {
        return;
    }
    p->poll_timer = g_timeout_source_new(VH_CHARDEV_PTY_POLL_MS);
    g_source_set_callback(p->poll_timer, poll_cb, p, NULL);
    g_source_attach(p->poll_timer, vh_chardev_get_context(VH_CHARDEV(p)));
}

/* EIO on the master: the last slave closed. */
static void pty_eof(VhChardev *chr, int err)
{
    set_connected(VH_CHARDEV_PTY(chr), false);
}

static gssize pty_write(VhChardev *chr, const guint8 *buf, size_t len,
                        GError **errp)
{
    VhChardevPty *p = VH_CHARDEV_PTY(chr);

    if (!slave_open(p)) {
        set_connected(p, false);
        return 0;
    }
    return vh_fd_io_write(p->io, buf, len);
}

static char *pty_describe(VhChardev *chr)
{
    return g_strdup_printf("pty:%s", VH_CHARDEV_PTY(chr)->path);
}

static void pty_update_read_handler(VhChardev *chr)
{
    vh_fd_io_update_read(VH_CHARDEV_PTY(chr)->io);
}

static void pty_close(VhChardev *chr)
{
    VhChardevPty *p = VH_CHARDEV_PTY(chr);

    if (p->poll_timer) {
        g_source_destroy(p->poll_timer);
        g_clear_pointer(&p->poll_timer, g_source_unref);
    }
    g_clear_pointer(&p->io, vh_fd_io_free);
    p->master = -1;
}

static void vh_chardev_pty_finalize(GObject *obj)
{
    VhChardevPty *p = VH_CHARDEV_PTY(obj);

    if (p->master >= 0 && !p->io) {
        close(p->master);
    }
    g_free(p->path);
    G_OBJECT_CLASS(vh_chardev_pty_parent_class)->finalize(obj);
}

static void vh_chardev_pty_class_init(VhChardevPtyClass *klass)
{
    VhChardevClass *cc = VH_CHARDEV_CLASS(klass);

    G_OBJECT_CLASS(klass)->finalize = vh_chardev_pty_finalize;
    cc->write = pty_write;
    cc->describe = pty_describe;
    cc->close = pty_close;
    cc->update_read_handler = pty_update_read_handler;
}

static void vh_chardev_pty_init(VhChardevPty *p)
{
    p->master = -1;
}

/* Open the slave once to make it raw; closing it arms POLLHUP. */
static bool make_raw(VhChardevPty *p, GError **errp)
{
    struct termios t;
    int slave = open(p->path, O_RDWR | O_NOCTTY | O_CLOEXEC);

    if (slave < 0) {
        vh_set_error_errno(errp, errno, "cannot open %s", p->path);
        return false;
    }
    if (tcgetattr(slave, &t) == 0) {
        cfmakeraw(&t);
        tcsetattr(slave, TCSANOW, &t);
    }
    close(slave);
    return true;
}

static bool open_master(VhChardevPty *p, GError **errp)
{
    const char *name;

    p->master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (p->master < 0 || grantpt(p->master) < 0 || unlockpt(p->master) < 0 ||
        !(name = ptsname(p->master))) {
        vh_set_error_errno(errp, errno, "cannot create a pty");
        return false;
    }
    p->path = g_strdup(name);
    return make_raw(p, errp);
}

VhChardev *vh_chardev_pty_new(const char *id, GMainContext *ctx, GError **errp)
{
    g_autoptr(VhChardev) chr = g_object_new(VH_TYPE_CHARDEV_PTY, NULL);
    VhChardevPty *p = VH_CHARDEV_PTY(chr);

    if (!vh_chardev_init_base(chr, id, ctx, errp)) {
        return NULL;
    }
    if (!open_master(p, errp)) {
        g_prefix_error(errp, "chardev %s: ", id);
        return NULL;
    }
    p->io = vh_fd_io_new(chr, p->master, p->master, true, pty_eof);
    vh_chardev_info("char device redirected to %s (label %s)", p->path, id);
    start_polling(p);
    return g_steal_pointer(&chr);
}

const char *vh_chardev_pty_get_path(VhChardevPty *p)
{
    return p->path;
}
