#include "vmhost/machine/ram.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gstdio.h>

#include "vmhost/util/error.h"
#include "vmhost/util/size.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif

struct VhRamBlock {
    char *name;
    guint64 size;
    void *host;
    char *path;
    int fd;
    bool shared;
};

static bool check_size(const char *name, guint64 size, GError **errp)
{
    if (size == 0 || size % VH_RAM_PAGE_SIZE != 0) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "guest RAM '%s' must be a non-zero multiple of %u bytes, "
                    "not %" G_GUINT64_FORMAT,
                    name, VH_RAM_PAGE_SIZE, size);
        return false;
    }
    return true;
}

static void set_alloc_error(GError **errp, const char *what,
                            const VhRamBlock *ram, int err)
{
    g_autofree char *human = vh_size_format(ram->size);

    vh_set_error_errno(errp, err, "cannot %s %s of guest RAM for '%s'", what,
                       human, ram->name);
}

/* Populate every page for writing; a shortage is an error, not SIGBUS. */
static bool prealloc_pages(VhRamBlock *ram, GError **errp)
{
    if (madvise(ram->host, ram->size, MADV_POPULATE_WRITE) == 0) {
        return true;
    }
    if (errno != EINVAL) {
        set_alloc_error(errp, "preallocate", ram, errno);
        return false;
    }
    /* Older kernels: write each page once, keeping its content. */
    volatile guint8 *p = ram->host;
    for (guint64 off = 0; off < ram->size; off += VH_RAM_PAGE_SIZE) {
        p[off] = p[off];
    }
    return true;
}

static VhRamBlock *ram_block_alloc(const char *name, guint64 size)
{
    VhRamBlock *ram = g_new0(VhRamBlock, 1);

    ram->name = g_strdup(name);
    ram->size = size;
    ram->fd = -1;
    return ram;
}

static bool ram_block_map(VhRamBlock *ram, int flags, bool prealloc,
                          GError **errp)
{
    if (ram->size > SIZE_MAX) {
        set_alloc_error(errp, "allocate", ram, ENOMEM);
        return false;
    }
    void *host = mmap(NULL, (size_t)ram->size, PROT_READ | PROT_WRITE,
                      flags | MAP_NORESERVE, ram->fd, 0);
    if (host == MAP_FAILED) {
        set_alloc_error(errp, "allocate", ram, errno);
        return false;
    }
    ram->host = host;
    return !prealloc || prealloc_pages(ram, errp);
}

VhRamBlock *vh_ram_block_new(const char *name, guint64 size, bool prealloc,
                             GError **errp)
{
    g_return_val_if_fail(name != NULL, NULL);

    if (!check_size(name, size, errp)) {
        return NULL;
    }
    g_autoptr(VhRamBlock) ram = ram_block_alloc(name, size);
    if (!ram_block_map(ram, MAP_PRIVATE | MAP_ANONYMOUS, prealloc, errp)) {
        return NULL;
    }
    return g_steal_pointer(&ram);
}

/* Open @ram->path, or an unlinked temporary file when it is a directory. */
static bool open_backing(VhRamBlock *ram, GError **errp)
{
    int err;

    if (g_file_test(ram->path, G_FILE_TEST_IS_DIR)) {
        g_autofree char *tmpl =
            g_build_filename(ram->path, "vmhost-XXXXXX", NULL);
        ram->fd = g_mkstemp_full(tmpl, O_RDWR | O_CLOEXEC, 0600);
        err = errno;
        if (ram->fd >= 0) {
            (void)g_unlink(tmpl);
        }
    } else {
        ram->fd = g_open(ram->path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        err = errno;
    }
    if (ram->fd < 0) {
        vh_set_error_errno(errp, err,
                           "cannot open memory backend file '%s' for '%s'",
                           ram->path, ram->name);
        return false;
    }
    return true;
}

/* Extend the file to the RAM size; a longer file is used as it is. */
static bool size_backing(VhRamBlock *ram, GError **errp)
{
    struct stat st;

    if (fstat(ram->fd, &st) == 0 && (guint64)st.st_size >= ram->size) {
        return true;
    }
    if (ftruncate(ram->fd, (off_t)ram->size) < 0) {
        int err = errno;
        g_autofree char *human = vh_size_format(ram->size);
        vh_set_error_errno(errp, err,
                           "cannot size memory backend file '%s' to %s for "
                           "'%s'",
                           ram->path, human, ram->name);
        return false;
    }
    return true;
}

VhRamBlock *vh_ram_block_new_file(const char *name, guint64 size,
                                  const char *path, bool share, bool prealloc,
                                  GError **errp)
{
    g_return_val_if_fail(name != NULL, NULL);
    g_return_val_if_fail(path != NULL, NULL);

    if (!check_size(name, size, errp)) {
        return NULL;
    }
    g_autoptr(VhRamBlock) ram = ram_block_alloc(name, size);
    ram->path = g_strdup(path);
    ram->shared = share;
    if (!open_backing(ram, errp) || !size_backing(ram, errp) ||
        !ram_block_map(ram, share ? MAP_SHARED : MAP_PRIVATE, prealloc, errp)) {
        return NULL;
    }
    return g_steal_pointer(&ram);
}

void vh_ram_block_free(VhRamBlock *ram)
{
    if (!ram) {
        return;
    }
    if (ram->host) {
        munmap(ram->host, (size_t)ram->size);
    }
    if (ram->fd >= 0) {
        close(ram->fd);
    }
    g_free(ram->path);
    g_free(ram->name);
    g_free(ram);
}

const char *vh_ram_block_get_name(const VhRamBlock *ram)
{
    return ram->name;
}

guint64 vh_ram_block_get_size(const VhRamBlock *ram)
{
    return ram->size;
}

guint64 vh_ram_block_get_pages(const VhRamBlock *ram)
{
    return ram->size / VH_RAM_PAGE_SIZE;
}

void *vh_ram_block_get_host(const VhRamBlock *ram)
{
    return ram->host;
}

const char *vh_ram_block_get_path(const VhRamBlock *ram)
{
    return ram->path;
}

bool vh_ram_block_is_shared(const VhRamBlock *ram)
{
    return ram->shared;
}
