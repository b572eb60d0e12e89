/* The fd pump of the stdio, pty, pipe and serial backends. */
#include "fd-io.h"

#include <errno.h>
#include <glib-unix.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    GSource base;
    VhFdIo *io;
    gpointer tag; /* the fd is polled only while the frontend can read */
} ReadSource;

struct VhFdIo {
    VhChardev *chr; /* borrowed: the backend owns us */
    int in_fd, out_fd;
    int in_flags, out_flags; /* fcntl flags before we changed them */
    bool own_fds;
    VhFdIoEofFunc on_eof;
    ReadSource *read_src;
    GSource *write_src;
    GByteArray *outbuf;
    bool drop_reported;
};

static int set_nonblock(int fd)
{
    int flags = fcntl(fd, F_GETFL);

    if (flags >= 0 && !(flags & O_NONBLOCK)) {
        fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    }
    return flags;
}

static void restore_flags(int fd, int flags)
{
    if (fd >= 0 && flags >= 0) {
        fcntl(fd, F_SETFL, flags);
    }
}

/* ---- reading ---- */

static gboolean read_prepare(GSource *src, gint *timeout)
{
    ReadSource *rs = (ReadSource *)src;
    bool want = vh_chardev_be_can_read(rs->io->chr) > 0;

    *timeout = -1;
    if (want && !rs->tag) {
        rs->tag = g_source_add_unix_fd(src, rs->io->in_fd, G_IO_IN);
    } else if (!want && rs->tag) {
        g_source_remove_unix_fd(src, rs->tag);
        rs->tag = NULL;
    }
    return FALSE;
}

static gboolean read_check(GSource *src)
{
    ReadSource *rs = (ReadSource *)src;

    return rs->tag && g_source_query_unix_fd(src, rs->tag) != 0;
}

static void read_eof(VhFdIo *io, int err)
{
    vh_fd_io_stop_reading(io);
    io->on_eof(io->chr, err);
}

static gboolean read_dispatch(GSource *src, GSourceFunc cb, gpointer data)
{
    VhFdIo *io = ((ReadSource *)src)->io;
    guint8 buf[4096];
    size_t want = MIN(vh_chardev_be_can_read(io->chr), sizeof(buf));
    gssize n;

    if (want == 0) {
        return G_SOURCE_CONTINUE;
    }
    n = read(io->in_fd, buf, want);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        return G_SOURCE_CONTINUE;
    }
    if (n <= 0) {
        /* the source is destroyed inside; returning CONTINUE is harmless */
        read_eof(io, n < 0 ? errno : 0);
        return G_SOURCE_CONTINUE;
    }
    vh_chardev_be_read(io->chr, buf, n);
    return G_SOURCE_CONTINUE;
}

static GSourceFuncs read_funcs = {
    .prepare = read_prepare,
    .check = read_check,
    .dispatch = read_dispatch,
};

void vh_fd_io_start_reading(VhFdIo *io)
{
    if (io->read_src || io->in_fd < 0) {
        return;
    }
    io->read_src = (ReadSource *)g_source_new(&read_funcs, sizeof(ReadSource));
    io->read_src->io = io;
    g_source_attach(&io->read_src->base, vh_chardev_get_context(io->chr));
}

void vh_fd_io_stop_reading(VhFdIo *io)
{
    if (io->read_src) {
        g_source_destroy(&io->read_src->base);
        g_source_unref(&io->read_src->base);
        io->read_src = NULL;
    }
}

void vh_fd_io_update_read(VhFdIo *io)
{
    g_main_context_wakeup(vh_chardev_get_context(io->chr));
}

/* ---- writing ---- */

static void flush(VhFdIo *io);

static gboolean writable(gint fd, GIOCondition cond, gpointer opaque)
{
    VhFdIo *io = opaque;

    flush(io);
    if (io->outbuf->len == 0) {
        g_clear_pointer(&io->write_src, g_source_unref);
        return G_SOURCE_REMOVE;
    }
    return G_SOURCE_CONTINUE;
}

static void flush(VhFdIo *io)
{
    while (io->outbuf->len > 0) {
        gssize n = write(io->out_fd, io->outbuf->data, io->outbuf->len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && errno == EAGAIN) {
            break;
        }
        if (n < 0) {
            vh_chardev_record_error(io->chr,
                                    "write failed: %s; %u bytes "
                                    "dropped",
                                    g_strerror(errno), io->outbuf->len);
            vh_chardev_count_dropped(io->chr, io->outbuf->len);
            g_byte_array_set_size(io->outbuf, 0);
            break;
        }
        g_byte_array_remove_range(io->outbuf, 0, n);
    }
    if (io->outbuf->len == 0) {
        io->drop_reported = false;
    } else if (!io->write_src) {
        io->write_src = g_unix_fd_source_new(io->out_fd, G_IO_OUT);
        g_source_set_callback(io->write_src,
                              (GSourceFunc)(void (*)(void))writable, io, NULL);
        g_source_attach(io->write_src, vh_chardev_get_context(io->chr));
    }
}

size_t vh_fd_io_write(VhFdIo *io, const guint8 *buf, size_t len)
{
    size_t room =
        VH_FD_IO_OUTBUF_MAX - MIN(io->outbuf->len, VH_FD_IO_OUTBUF_MAX);
    size_t take = MIN(len, room);

    if (io->out_fd < 0) {
        return len; /* no output side: discarded by design */
    }
    g_byte_array_append(io->outbuf, buf, take);
    if (take < len && !io->drop_reported) {
        io->drop_reported = true;
        vh_chardev_record_error(io->chr,
                                "output is not being read: buffer full (%d "
                                "bytes), dropping output",
                                VH_FD_IO_OUTBUF_MAX);
    }
    flush(io);
    return take;
}

void vh_fd_io_discard_output(VhFdIo *io)
{
    g_byte_array_set_size(io->outbuf, 0);
    io->drop_reported = false;
    if (io->write_src) {
        g_source_destroy(io->write_src);
        g_clear_pointer(&io->write_src, g_source_unref);
    }
}

/* ---- life ---- */

VhFdIo *vh_fd_io_new(VhChardev *chr, int in_fd, int out_fd, bool own_fds,
                     VhFdIoEofFunc on_eof)
{
    VhFdIo *io = g_new0(VhFdIo, 1);

    io->chr = chr;
    io->in_fd = in_fd;
    io->out_fd = out_fd;
    io->own_fds = own_fds;
    io->on_eof = on_eof;
    io->outbuf = g_byte_array_new();
    io->in_flags = in_fd >= 0 ? set_nonblock(in_fd) : -1;
    io->out_flags = out_fd >= 0 && out_fd != in_fd ? set_nonblock(out_fd) : -1;
    return io;
}

void vh_fd_io_free(VhFdIo *io)
{
    if (!io) {
        return;
    }
    vh_fd_io_stop_reading(io);
    vh_fd_io_discard_output(io);
    g_byte_array_unref(io->outbuf);
    /* reverse order: 0 and 1 may share one open file description */
    restore_flags(io->out_fd, io->out_flags);
    restore_flags(io->in_fd, io->in_flags);
    if (io->own_fds) {
        if (io->in_fd >= 0) {
            close(io->in_fd);
        }
        if (io->out_fd >= 0 && io->out_fd != io->in_fd) {
            close(io->out_fd);
        }
    }
    g_free(io);
}
