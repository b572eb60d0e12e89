#include "crypto-priv.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Limit on credential files: far beyond any real bundle, short of silly. */
#define MAX_FILE_SIZE (16 * 1024 * 1024)

static char *read_fail(const char *path, const char *what, int err,
                       GError **errp)
{
    g_set_error(errp, VH_ERROR, VH_ERROR_CERT_FILE, "Unable to read %s %s: %s",
                what, path, g_strerror(err));
    return NULL;
}

char *vh_crypto_read_file(const char *path, const char *what, size_t *len,
                          GError **errp)
{
    g_autoptr(GString) buf = g_string_new(NULL);
    char chunk[8192];
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        return read_fail(path, what, errno, errp);
    }
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            int err = errno;
            close(fd);
            return read_fail(path, what, err, errp);
        }
        if (n == 0) {
            break;
        }
        if (buf->len + (size_t)n > MAX_FILE_SIZE) {
            close(fd);
            return read_fail(path, what, EFBIG, errp);
        }
        g_string_append_len(buf, chunk, n);
    }
    close(fd);
    *len = buf->len;
    return g_string_free(g_steal_pointer(&buf), FALSE);
}
