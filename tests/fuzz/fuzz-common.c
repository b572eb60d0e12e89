/* Helpers shared by the fuzz targets. */
#include "fuzz-common.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

static char *scratch;

/* Remove @path, a scratch file or a directory of them (one level deep). */
static void remove_tree(const char *path, int depth)
{
    g_autoptr(GDir) dir = depth < 2 ? g_dir_open(path, 0, NULL) : NULL;
    const char *name;

    while (dir && (name = g_dir_read_name(dir))) {
        g_autofree char *child = g_build_filename(path, name, NULL);
        remove_tree(child, depth + 1);
    }
    if (dir) {
        rmdir(path);
    } else {
        unlink(path);
    }
}

static void scratch_remove(void)
{
    remove_tree(scratch, 0);
    g_clear_pointer(&scratch, g_free);
}

const char *fuzz_scratch_dir(void)
{
    g_autoptr(GError) err = NULL;

    if (!scratch) {
        scratch = g_dir_make_tmp("vmhost-fuzz-XXXXXX", &err);
        g_assert_no_error(err);
        atexit(scratch_remove);
    }
    return scratch;
}

/*
 * Not g_file_set_contents_full(..., G_FILE_SET_CONTENTS_NONE, ...): in GLib
 * 2.74 that rewrites the file in place without truncating it, so a shorter
 * input would keep the tail of the previous one.
 */
void fuzz_write_file(const char *path, const uint8_t *data, size_t size)
{
    int fd;

    /*
     * A new inode rather than O_TRUNC: ext4 flushes a file truncated and
     * rewritten to disk on close, which made the targets I/O bound.
     */
    g_assert_true(unlink(path) == 0 || errno == ENOENT);
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    g_assert_cmpint(fd, >=, 0);
    while (size > 0) {
        ssize_t n = write(fd, data, size);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        g_assert_cmpint(n, >, 0);
        data += n;
        size -= (size_t)n;
    }
    g_assert_cmpint(close(fd), ==, 0);
}
