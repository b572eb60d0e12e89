/*
 * VhChannelFile: readv/writev/lseek on a plain fd.
 */
#include "vmhost/io/channel-file.h"

#include "channel-internal.h"

#include <errno.h>
#include <glib-unix.h>
#include <sys/stat.h>
#include <unistd.h>

struct _VhChannelFile {
    VhChannel parent_instance;
    int fd;
    bool regular; /* never waits: watches are always ready */
    char *what;   /* "file /path" or "fd N" for messages */
};

G_DEFINE_FINAL_TYPE(VhChannelFile, vh_channel_file, VH_TYPE_CHANNEL)

static VhChannelFile *file_adopt(int fd, char *what)
{
    VhChannelFile *f = g_object_new(VH_TYPE_CHANNEL_FILE, NULL);
    struct stat st;
    int flags = fcntl(fd, F_GETFL);

    f->fd = fd;
    f->what = what;
    f->regular = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
    if (lseek(fd, 0, SEEK_CUR) != (off_t)-1) {
        vh_channel_set_feature(VH_CHANNEL(f), VH_CHANNEL_FEATURE_SEEK);
    }
    if (flags >= 0 && (flags & O_NONBLOCK)) {
        bool ok = vh_channel_set_blocking(VH_CHANNEL(f), false, NULL);
        g_assert(ok);
    }
    return f;
}

VhChannelFile *vh_channel_file_new_path(const char *path, int flags,
                                        mode_t mode, GError **errp)
{
    int fd;

    g_return_val_if_fail(path != NULL, NULL);
    do {
        fd = open(path, flags | O_CLOEXEC, mode);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        vh_set_error_errno(errp, errno, "Failed to open %s", path);
        return NULL;
    }
    return file_adopt(fd, g_strdup_printf("file %s", path));
}

VhChannelFile *vh_channel_file_new_fd(int fd)
{
    g_return_val_if_fail(fd >= 0, NULL);
    return file_adopt(fd, g_strdup_printf("fd %d", fd));
}

int vh_channel_file_get_fd(VhChannelFile *f)
{
    g_return_val_if_fail(VH_IS_CHANNEL_FILE(f), -1);
    return f->fd;
}

static gssize file_readv(VhChannel *ioc, const struct iovec *iov, size_t niov,
                         int **fds, size_t *nfds, GError **errp)
{
    VhChannelFile *f = VH_CHANNEL_FILE(ioc);

    return vh_fd_readv(f->fd, iov, niov, f->what, errp);
}

static gssize file_writev(VhChannel *ioc, const struct iovec *iov, size_t niov,
                          const int *fds, size_t nfds, GError **errp)
{
    VhChannelFile *f = VH_CHANNEL_FILE(ioc);

    return vh_fd_writev(f->fd, iov, niov, f->what, errp);
}

static off_t file_seek(VhChannel *ioc, off_t offset, int whence, GError **errp)
{
    VhChannelFile *f = VH_CHANNEL_FILE(ioc);
    off_t pos = lseek(f->fd, offset, whence);

    if (pos == (off_t)-1) {
        vh_set_error_errno(errp, errno, "Failed to seek in %s", f->what);
    }
    return pos;
}

static bool file_close(VhChannel *ioc, GError **errp)
{
    VhChannelFile *f = VH_CHANNEL_FILE(ioc);
    int fd = f->fd;

    if (fd < 0) {
        return true;
    }
    f->fd = -1;
    if (close(fd) < 0 && errno != EINTR) {
        vh_set_error_errno(errp, errno, "Failed to close %s", f->what);
        return false;
    }
    return true;
}

static GIOCondition file_ready(VhChannel *ioc)
{
    return vh_channel_is_closed(ioc) ? G_IO_NVAL : G_IO_IN | G_IO_OUT;
}

static GSource *file_create_watch(VhChannel *ioc, GIOCondition cond)
{
    VhChannelFile *f = VH_CHANNEL_FILE(ioc);

    if (f->regular) {
        return vh_channel_create_ready_watch(ioc, cond, file_ready);
    }
    return vh_channel_create_fd_watch(ioc, f->fd, cond);
}

static bool file_set_blocking(VhChannel *ioc, bool enabled, GError **errp)
{
    VhChannelFile *f = VH_CHANNEL_FILE(ioc);

    return g_unix_set_fd_nonblocking(f->fd, !enabled, errp);
}

static void vh_channel_file_finalize(GObject *obj)
{
    g_free(VH_CHANNEL_FILE(obj)->what);
    G_OBJECT_CLASS(vh_channel_file_parent_class)->finalize(obj);
}

static void vh_channel_file_init(VhChannelFile *f)
{
    f->fd = -1;
}

static void vh_channel_file_class_init(VhChannelFileClass *klass)
{
    GObjectClass *oc = G_OBJECT_CLASS(klass);
    VhChannelClass *cc = VH_CHANNEL_CLASS(klass);

    oc->finalize = vh_channel_file_finalize;
    cc->readv = file_readv;
    cc->writev = file_writev;
    cc->close = file_close;
    cc->create_watch = file_create_watch;
    cc->set_blocking = file_set_blocking;
    cc->seek = file_seek;
}
