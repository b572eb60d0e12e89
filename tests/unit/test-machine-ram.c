/* Tests for guest RAM blocks (lib/machine/ram.c). */
#include "vmhost/machine/ram.h"
#include "vmhost/util/error.h"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

/* How many pages of @ram the kernel has resident. */
static guint64 resident_pages(VhRamBlock *ram)
{
    guint64 pages = vh_ram_block_get_pages(ram);
    g_autofree unsigned char *vec = g_malloc(pages);
    guint64 n = 0;

    g_assert_cmpint(sysconf(_SC_PAGESIZE), ==, VH_RAM_PAGE_SIZE);
    g_assert_cmpint(
        mincore(vh_ram_block_get_host(ram), vh_ram_block_get_size(ram), vec),
        ==, 0);
    for (guint64 i = 0; i < pages; i++) {
        n += vec[i] & 1;
    }
    return n;
}

static void test_anonymous(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(VhRamBlock) ram =
        vh_ram_block_new("pc.ram", 64 << 20, false, &err);

    g_assert_no_error(err);
    g_assert_nonnull(ram);
    g_assert_cmpstr(vh_ram_block_get_name(ram), ==, "pc.ram");
    g_assert_cmpuint(vh_ram_block_get_size(ram), ==, 64 << 20);
    g_assert_cmpuint(vh_ram_block_get_pages(ram), ==, 16384);
    g_assert_null(vh_ram_block_get_path(ram));
    g_assert_false(vh_ram_block_is_shared(ram));

    /* Nothing is populated until written. */
    g_assert_cmpuint(resident_pages(ram), ==, 0);
    guint8 *host = vh_ram_block_get_host(ram);
    host[5 * VH_RAM_PAGE_SIZE + 17] = 0xaa;
    host[9 * VH_RAM_PAGE_SIZE] = 0x55;
    g_assert_cmpuint(resident_pages(ram), ==, 2);
    g_assert_cmpuint(host[100 * VH_RAM_PAGE_SIZE], ==, 0);
}

static void test_prealloc(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(VhRamBlock) ram = vh_ram_block_new("pc.ram", 8 << 20, true, &err);

    g_assert_no_error(err);
    g_assert_cmpuint(resident_pages(ram), ==, vh_ram_block_get_pages(ram));
    guint8 *host = vh_ram_block_get_host(ram);
    for (guint64 off = 0; off < (8 << 20); off += VH_RAM_PAGE_SIZE) {
        g_assert_cmpuint(host[off], ==, 0);
    }
}

static void test_bad_size(void)
{
    static const guint64 sizes[] = {0, 1, 4095, 4097, (1 << 20) + 512};

    for (size_t i = 0; i < G_N_ELEMENTS(sizes); i++) {
        g_autoptr(GError) err = NULL;
        g_autoptr(VhRamBlock) ram =
            vh_ram_block_new("ram0", sizes[i], false, &err);
        g_assert_null(ram);
        g_assert_error(err, VH_ERROR, VH_ERROR_INVALID_ARGUMENT);
        g_assert_nonnull(strstr(err->message, "'ram0'"));
        g_assert_nonnull(strstr(err->message, "multiple of 4096"));
    }
}

/* More than a 64-bit address space's user half can ever map. */
static void test_too_large(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(VhRamBlock) ram =
        vh_ram_block_new("pc.ram", 1ULL << 62, false, &err);

    g_assert_null(ram);
    g_assert_nonnull(err);
    g_assert_cmpstr(err->message, ==,
                    "cannot allocate 4 EiB of guest RAM for 'pc.ram': "
                    "Cannot allocate memory");
}

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define UNDER_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define UNDER_SANITIZER 1
#endif
#endif

/* A size the address space could hold, refused by RLIMIT_AS in a child. */
static void test_rlimit(void)
{
#ifdef UNDER_SANITIZER
    g_test_skip("sanitizers reserve more address space than any limit");
#else
    if (g_test_subprocess()) {
        g_autoptr(GError) err = NULL;
        struct rlimit lim = {1ULL << 30, 1ULL << 30};
        g_assert_cmpint(setrlimit(RLIMIT_AS, &lim), ==, 0);
        VhRamBlock *ram = vh_ram_block_new("pc.ram", 2ULL << 30, false, &err);
        g_assert_null(ram);
        g_print("%s\n", err->message);
        return;
    }
    g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
    g_test_trap_assert_passed();
    g_test_trap_assert_stdout("cannot allocate 2 GiB of guest RAM for "
                              "'pc.ram': Cannot allocate memory\n");
#endif
}

static char *make_tmpdir(void)
{
    g_autoptr(GError) err = NULL;
    char *dir = g_dir_make_tmp("vh-ram-XXXXXX", &err);

    g_assert_no_error(err);
    return dir;
}

static void read_file(const char *path, guint8 **data, gsize *len)
{
    g_autoptr(GError) err = NULL;

    g_assert_true(g_file_get_contents(path, (char **)data, len, &err));
    g_assert_no_error(err);
}

static void test_file_shared(void)
{
    g_autofree char *dir = make_tmpdir();
    g_autofree char *path = g_build_filename(dir, "mem", NULL);
    g_autoptr(GError) err = NULL;
    g_autofree guint8 *data = NULL;
    gsize len = 0;

    VhRamBlock *ram =
        vh_ram_block_new_file("mem0", 1 << 20, path, true, false, &err);
    g_assert_no_error(err);
    g_assert_cmpstr(vh_ram_block_get_path(ram), ==, path);
    g_assert_true(vh_ram_block_is_shared(ram));
    guint8 *host = vh_ram_block_get_host(ram);
    memcpy(host + 8192, "guest wrote this", 16);
    vh_ram_block_free(ram);

    /* The writes reached the file, and a new block maps them again. */
    read_file(path, &data, &len);
    g_assert_cmpuint(len, ==, 1 << 20);
    g_assert_cmpmem(data + 8192, 16, "guest wrote this", 16);
    ram = vh_ram_block_new_file("mem0", 1 << 20, path, true, true, &err);
    g_assert_no_error(err);
    g_assert_cmpmem((guint8 *)vh_ram_block_get_host(ram) + 8192, 16,
                    "guest wrote this", 16);
    vh_ram_block_free(ram);
    g_assert_cmpint(g_unlink(path), ==, 0);
    g_assert_cmpint(g_rmdir(dir), ==, 0);
}

static void test_file_private(void)
{
    g_autofree char *dir = make_tmpdir();
    g_autofree char *path = g_build_filename(dir, "mem", NULL);
    g_autoptr(GError) err = NULL;
    g_autofree guint8 *data = NULL;
    gsize len = 0;
    g_autofree guint8 *init = g_malloc0(2 << 20);

    memcpy(init + 4096, "initial", 7);
    g_assert_true(g_file_set_contents(path, (char *)init, 2 << 20, &err));
    /* A file longer than the RAM is used as it is. */
    VhRamBlock *ram =
        vh_ram_block_new_file("mem1", 1 << 20, path, false, false, &err);
    g_assert_no_error(err);
    g_assert_false(vh_ram_block_is_shared(ram));
    guint8 *host = vh_ram_block_get_host(ram);
    g_assert_cmpmem(host + 4096, 7, "initial", 7);
    memcpy(host + 4096, "changed", 7);
    vh_ram_block_free(ram);

    read_file(path, &data, &len);
    g_assert_cmpuint(len, ==, 2 << 20);
    g_assert_cmpmem(data + 4096, 7, "initial", 7);
    g_assert_cmpint(g_unlink(path), ==, 0);
    g_assert_cmpint(g_rmdir(dir), ==, 0);
}

/* A directory gets an unlinked temporary file, as QEMU's mem-path does. */
static void test_file_directory(void)
{
    g_autofree char *dir = make_tmpdir();
    g_autoptr(GError) err = NULL;
    g_autoptr(VhRamBlock) ram =
        vh_ram_block_new_file("mem2", 1 << 20, dir, true, true, &err);

    g_assert_no_error(err);
    memset(vh_ram_block_get_host(ram), 0x5a, 1 << 20);
    g_autoptr(GDir) d = g_dir_open(dir, 0, &err);
    g_assert_no_error(err);
    g_assert_null(g_dir_read_name(d));
    g_assert_cmpint(g_rmdir(dir), ==, 0);
}

static void test_file_bad_path(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(VhRamBlock) ram = vh_ram_block_new_file(
        "mem3", 1 << 20, "/nonexistent-vh/dir/mem", true, false, &err);

    g_assert_null(ram);
    g_assert_error(err, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
    g_assert_cmpstr(err->message, ==,
                    "cannot open memory backend file '/nonexistent-vh/dir/"
                    "mem' for 'mem3': No such file or directory");

    g_clear_error(&err);
    ram = vh_ram_block_new_file("mem3", 12345, "/tmp", true, false, &err);
    g_assert_null(ram);
    g_assert_error(err, VH_ERROR, VH_ERROR_INVALID_ARGUMENT);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/machine/ram/anonymous", test_anonymous);
    g_test_add_func("/machine/ram/prealloc", test_prealloc);
    g_test_add_func("/machine/ram/bad-size", test_bad_size);
    g_test_add_func("/machine/ram/too-large", test_too_large);
    g_test_add_func("/machine/ram/rlimit", test_rlimit);
    g_test_add_func("/machine/ram/file-shared", test_file_shared);
    g_test_add_func("/machine/ram/file-private", test_file_private);
    g_test_add_func("/machine/ram/file-directory", test_file_directory);
    g_test_add_func("/machine/ram/file-bad-path", test_file_bad_path);
    return g_test_run();
}
