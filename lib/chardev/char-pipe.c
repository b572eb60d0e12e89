/* -chardev pipe: P.in / P.out FIFOs, or P for both directions. */
#include "fd-io.h"
#include "vmhost/chardev/char-pipe.h"
#include "vmhost/util/error.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

struct _VhChardevPipe {
    VhChardev parent;
    char *path;
    bool split; /* P.in and P.out */
    VhFdIo *io;
};

G_DEFINE_FINAL_TYPE(VhChardevPipe, vh_chardev_pipe, VH_TYPE_CHARDEV)

static void pipe_eof(VhChardev *chr, int err)
{
    /* opened read-write, a FIFO never reaches EOF: this is a real error */
    vh_chardev_record_error(chr, "reading %s failed: %s; input stopped",
                            VH_CHARDEV_PIPE(chr)->path,
                            err ? g_strerror(err) : "end of file");
}

static gssize pipe_write(VhChardev *chr, const guint8 *buf, size_t len,
                         GError **errp)
{
    return vh_fd_io_write(VH_CHARDEV_PIPE(chr)->io, buf, len);
}

static char *pipe_describe(VhChardev *chr)
{
    return g_strdup_printf("pipe:%s", VH_CHARDEV_PIPE(chr)->path);
}

static void pipe_update_read_handler(VhChardev *chr)
{
    vh_fd_io_update_read(VH_CHARDEV_PIPE(chr)->io);
}

static void pipe_close(VhChardev *chr)
{
    g_clear_pointer(&VH_CHARDEV_PIPE(chr)->io, vh_fd_io_free);
}

static void vh_chardev_pipe_finalize(GObject *obj)
{
    g_free(VH_CHARDEV_PIPE(obj)->path);
    G_OBJECT_CLASS(vh_chardev_pipe_parent_class)->finalize(obj);
}

static void vh_chardev_pipe_class_init(VhChardevPipeClass *klass)
{
    VhChardevClass *cc = VH_CHARDEV_CLASS(klass);

    G_OBJECT_CLASS(klass)->finalize = vh_chardev_pipe_finalize;
    cc->write = pipe_write;
    cc->describe = pipe_describe;
    cc->close = pipe_close;
    cc->update_read_handler = pipe_update_read_handler;
}

static void vh_chardev_pipe_init(VhChardevPipe *p)
{
}

static int open_fifo(const char *path, GError **errp)
{
    int fd = open(path, O_RDWR | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);

    if (fd < 0) {
        vh_set_error_errno(errp, errno, "cannot open pipe %s", path);
    }
    return fd;
}

VhChardev *vh_chardev_pipe_new(const char *id, const char *path,
                               GMainContext *ctx, GError **errp)
{
    g_autoptr(VhChardev) chr = g_object_new(VH_TYPE_CHARDEV_PIPE, NULL);
    VhChardevPipe *p = VH_CHARDEV_PIPE(chr);
    g_autofree char *in = g_strdup_printf("%s.in", path);
    g_autofree char *out = g_strdup_printf("%s.out", path);
    int in_fd, out_fd;

    if (!vh_chardev_init_base(chr, id, ctx, errp)) {
        return NULL;
    }
    p->path = g_strdup(path);
    p->split = g_file_test(in, G_FILE_TEST_EXISTS) &&
               g_file_test(out, G_FILE_TEST_EXISTS);
    in_fd = open_fifo(p->split ? in : path, errp);
    if (in_fd < 0) {
        g_prefix_error(errp, "chardev %s: ", id);
        return NULL;
    }
    out_fd = p->split ? open_fifo(out, errp) : in_fd;
    if (out_fd < 0) {
        close(in_fd);
        g_prefix_error(errp, "chardev %s: ", id);
        return NULL;
    }
    p->io = vh_fd_io_new(chr, in_fd, out_fd, true, pipe_eof);
    vh_fd_io_start_reading(p->io);
    vh_chardev_be_set_connected(chr, true);
    return g_steal_pointer(&chr);
}
