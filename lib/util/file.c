/*
 * Reading operator-named files without blocking on FIFOs and devices, and
 * without letting a NUL cut text short. See vmhost/util/file.h.
 */
#include "vmhost/util/file.h"

#include "vmhost/util/error.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* "a FIFO", "a directory", ...: what @mode is instead of a regular file. */
static const char *file_kind(mode_t mode)
{
    switch (mode & S_IFMT) {
    case S_IFDIR:
        return "a directory";
    case S_IFIFO:
        return "a FIFO";
    case S_IFCHR:
        return "a character device";
    case S_IFBLK:
        return "a block device";
    case S_IFSOCK:
        return "a socket";
    case S_IFLNK:
        return "a symbolic link";
    default:
        return "not a file";
    }
}

/*
 * The null device reads as an empty file and never blocks: it is the
 * usual way to say "no file" (VMHOST_CONF=/dev/null,
 * GNUTLS_SYSTEM_PRIORITY_FILE=/dev/null), so it is let through.
 */
static bool is_null_device(const struct stat *st)
{
    return S_ISCHR(st->st_mode) && major(st->st_rdev) == 1 &&
           minor(st->st_rdev) == 3;
}

static bool check_regular(const char *path, const struct stat *st,
                          GError **errp)
{
    if (S_ISREG(st->st_mode) || is_null_device(st)) {
        return true;
    }
    g_set_error(errp, G_IO_ERROR,
                S_ISDIR(st->st_mode) ? G_IO_ERROR_IS_DIRECTORY
                                     : G_IO_ERROR_NOT_REGULAR_FILE,
                "%s: not a regular file (%s)", path, file_kind(st->st_mode));
    return false;
}

static bool too_large(const char *path, gsize max_size, GError **errp)
{
    g_set_error(errp, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE,
                "%s: larger than the limit of %" G_GSIZE_FORMAT " bytes", path,
                max_size);
    return false;
}

bool vh_text_check_nul(const char *name, const char *text, gsize len,
                       GError **errp)
{
    const char *nul = memchr(text, '\0', len);
    guint line = 1;

    if (!nul) {
        return true;
    }
    for (const char *p = text; p < nul; p++) {
        line += *p == '\n';
    }
    g_set_error(errp, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                "%s:%u: a NUL byte in text (at byte %" G_GSIZE_FORMAT
                "): refused rather than read the text cut short",
                name, line, (gsize)(nul - text));
    return false;
}

/* Read all of @fd (a regular file) into @buf, at most @max_size bytes. */
static bool read_all(int fd, const char *path, gsize max_size, GString *buf,
                     GError **errp)
{
    char chunk[8192];

    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            vh_set_error_errno(errp, errno, "%s", path);
            return false;
        }
        if (n == 0) {
            return true;
        }
        if (buf->len + (gsize)n > max_size) {
            return too_large(path, max_size, errp);
        }
        g_string_append_len(buf, chunk, n);
    }
}

bool vh_file_read_regular(const char *path, gsize max_size,
                          VhFileReadFlags flags, char **contents, gsize *len,
                          GError **errp)
{
    g_autoptr(GString) buf = NULL;
    struct stat st;
    bool ok;
    int fd;

    *contents = NULL;
    /*
     * stat() first so that a device is not even opened (opening some has
     * effects), then fstat() the descriptor, which is what is read: the
     * path may have been replaced in between. O_NONBLOCK makes open()
     * return at once on a FIFO without a writer.
     */
    if (stat(path, &st) == 0 && !check_regular(path, &st, errp)) {
        return false;
    }
    fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        vh_set_error_errno(errp, errno, "%s", path);
        return false;
    }
    if (fstat(fd, &st) < 0) {
        vh_set_error_errno(errp, errno, "%s", path);
        close(fd);
        return false;
    }
    if (!check_regular(path, &st, errp)) {
        close(fd);
        return false;
    }
    if ((guint64)st.st_size > max_size) {
        close(fd);
        return too_large(path, max_size, errp);
    }
    buf = g_string_sized_new(st.st_size + 1);
    ok = read_all(fd, path, max_size, buf, errp);
    close(fd);
    if (ok && (flags & VH_FILE_READ_TEXT)) {
        ok = vh_text_check_nul(path, buf->str, buf->len, errp);
    }
    if (!ok) {
        /* the buffer may hold a private key: do not leave it in the heap */
        memset(buf->str, 0, buf->allocated_len);
        return false;
    }
    if (len) {
        *len = buf->len;
    }
    *contents = g_string_free(g_steal_pointer(&buf), FALSE);
    return true;
}

/* What VH_FILE_OPEN_STREAMS lets through besides regular files. */
static bool is_stream(const struct stat *st)
{
    return S_ISCHR(st->st_mode) || S_ISFIFO(st->st_mode);
}

static bool check_open_kind(const char *path, const struct stat *st,
                            VhFileOpenFlags flags, GError **errp)
{
    if ((flags & VH_FILE_OPEN_STREAMS) && is_stream(st)) {
        return true;
    }
    return check_regular(path, st, errp);
}

int vh_file_open(const char *path, int oflags, mode_t mode,
                 VhFileOpenFlags flags, GError **errp)
{
    struct stat st;
    int fd;
    int fl;

    /* As in vh_file_read_regular(): a refused device is not even opened. */
    if (stat(path, &st) == 0 && !check_open_kind(path, &st, flags, errp)) {
        return -1;
    }
    /*
     * O_NONBLOCK: open() of a FIFO returns at once, for reading even with
     * no writer, for writing with ENXIO when there is no reader.
     */
    fd = open(path, oflags | O_NONBLOCK | O_CLOEXEC | O_NOCTTY, mode);
    if (fd < 0 && errno == ENXIO && stat(path, &st) == 0 &&
        S_ISFIFO(st.st_mode)) {
        g_set_error(errp, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED,
                    "%s: a FIFO with no reader (opening it would block)", path);
        return -1;
    }
    if (fd < 0) {
        vh_set_error_errno(errp, errno, "%s", path);
        return -1;
    }
    if (fstat(fd, &st) < 0) {
        vh_set_error_errno(errp, errno, "%s", path);
        close(fd);
        return -1;
    }
    if (!check_open_kind(path, &st, flags, errp)) {
        close(fd);
        return -1;
    }
    fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
        vh_set_error_errno(errp, errno, "%s", path);
        close(fd);
        return -1;
    }
    return fd;
}
