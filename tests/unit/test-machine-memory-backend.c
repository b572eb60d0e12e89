/* Tests for the memory backend objects (lib/machine/memory-backend*.c). */
#include "vmhost/machine/memory-backend.h"
#include "vmhost/object/object-create.h"
#include "vmhost/object/object.h"
#include "vmhost/util/error.h"
#include "vmhost/vmhost-types.h"

#include "crypto-testutil.h"

#include <gio/gio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static guint64 resident_pages(VhRamBlock *ram)
{
    guint64 pages = vh_ram_block_get_pages(ram);
    g_autofree unsigned char *vec = g_malloc(pages);
    guint64 n = 0;

    g_assert_cmpint(
        mincore(vh_ram_block_get_host(ram), vh_ram_block_get_size(ram), vec),
        ==, 0);
    for (guint64 i = 0; i < pages; i++) {
        n += vec[i] & 1;
    }
    return n;
}

/* Creates @opts, takes its RAM (transfer full), deletes the object. */
static VhRamBlock *take(const char *opts, const char *id)
{
    g_autoptr(GError) err = NULL;

    g_assert_true(vh_object_add_from_string(opts, &err));
    g_assert_no_error(err);
    g_autoptr(VhMemoryBackend) b =
        vh_object_lookup_typed(id, VH_TYPE_MEMORY_BACKEND, &err);
    g_assert_nonnull(b);
    g_assert_false(vh_memory_backend_is_used(b));
    VhRamBlock *ram = vh_memory_backend_take_ram(b, id, &err);
    g_assert_no_error(err);
    g_assert_true(vh_memory_backend_is_used(b));
    g_assert_null(vh_memory_backend_take_ram(b, id, &err));
    g_assert_error(err, VH_ERROR, VH_ERROR_INVALID_ARGUMENT);
    g_assert_nonnull(strstr(err->message, "already in use"));
    g_assert_true(vh_object_del(id, NULL));
    return ram;
}

static void test_ram(void)
{
    g_autoptr(VhRamBlock) ram = take("memory-backend-ram,id=r0,size=8M", "r0");
    g_assert_cmpuint(vh_ram_block_get_size(ram), ==, 8 << 20);
    g_assert_cmpstr(vh_ram_block_get_name(ram), ==, "pc.ram");
    g_assert_null(vh_ram_block_get_path(ram));
    g_assert_cmpuint(resident_pages(ram), ==, 0);
}

static void test_prealloc(void)
{
    g_autoptr(VhRamBlock) a =
        take("memory-backend-ram,id=r1,size=4M,prealloc=on", "r1");
    g_assert_cmpuint(resident_pages(a), ==, vh_ram_block_get_pages(a));

    /* -mem-prealloc: the default; an explicit prealloc=off still wins. */
    vh_memory_backend_set_default_prealloc(true);
    g_autoptr(VhRamBlock) b = take("memory-backend-ram,id=r2,size=4M", "r2");
    g_autoptr(VhRamBlock) c =
        take("memory-backend-ram,id=r3,size=4M,prealloc=off", "r3");
    vh_memory_backend_set_default_prealloc(false);
    g_assert_cmpuint(resident_pages(b), ==, vh_ram_block_get_pages(b));
    g_assert_cmpuint(resident_pages(c), ==, 0);
}

static void test_file(void)
{
    g_autofree char *dir = vh_test_mkdtemp("membackend");
    g_autofree char *path = g_build_filename(dir, "ram", NULL);
    g_autofree char *priv = g_build_filename(dir, "priv", NULL);
    g_autofree char *shared =
        g_strdup_printf("memory-backend-file,id=f0,size=1M,mem-path=%s,"
                        "share=on",
                        path);
    g_autofree char *private =
        g_strdup_printf("memory-backend-file,id=f1,size=1M,mem-path=%s", priv);
    g_autofree char *indir = g_strdup_printf(
        "memory-backend-file,id=f2,size=1M,mem-path=%s,prealloc=on", dir);
    g_autofree char *content = NULL;
    gsize len;

    g_autoptr(VhRamBlock) s = take(shared, "f0");
    g_assert_true(vh_ram_block_is_shared(s));
    memcpy(vh_ram_block_get_host(s), "hello", 5);
    g_assert_true(g_file_get_contents(path, &content, &len, NULL));
    g_assert_cmpuint(len, ==, 1 << 20);
    g_assert_cmpmem(content, 5, "hello", 5);
    g_clear_pointer(&content, g_free);

    g_autoptr(VhRamBlock) p = take(private, "f1");
    g_assert_false(vh_ram_block_is_shared(p));
    memcpy(vh_ram_block_get_host(p), "hello", 5);
    g_assert_true(g_file_get_contents(priv, &content, &len, NULL));
    g_assert_cmpint(content[0], ==, 0);

    g_autoptr(VhRamBlock) d = take(indir, "f2");
    g_assert_cmpuint(resident_pages(d), ==, vh_ram_block_get_pages(d));
    /* Only the two named files: the directory's one is unlinked. */
    g_autoptr(GDir) gd = g_dir_open(dir, 0, NULL);
    int files = 0;
    while (g_dir_read_name(gd)) {
        files++;
    }
    g_assert_cmpint(files, ==, 2);
    vh_test_rm_rf(dir);
}

static void test_errors(void)
{
    static const struct {
        const char *opts, *msg;
    } cases[] = {
        {"memory-backend-ram,id=e0", "object 'e0': Parameter 'size' is "
                                     "missing"},
        {"memory-backend-ram,id=e0,size=0", "Parameter 'size' is missing"},
        {"memory-backend-ram,id=e0,size=5000",
         "object 'e0': size 5000 is not a multiple of the page size (4096 "
         "bytes)"},
        {"memory-backend-file,id=e0,size=1M",
         "object 'e0': Parameter 'mem-path' is missing"},
        {"memory-backend-file,id=e0,size=1M,mem-path=/nonexistent/dir/f",
         "cannot open memory backend file '/nonexistent/dir/f'"},
        {"memory-backend-ram,id=e0,size=1M,mem-path=/x", "has no property "
                                                         "'mem-path'"},
        {"memory-backend-ram,id=e0,size=lots", "size"},
        {"memory-backend-ram,id=e0,size=1M,prealloc=maybe", "prealloc"},
        {"memory-backend-ram,size=1M", "'id' is required"},
    };
    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(GError) err = NULL;
        g_assert_false(vh_object_add_from_string(cases[i].opts, &err));
        g_assert_nonnull(err);
        if (!strstr(err->message, cases[i].msg)) {
            g_error("%s: '%s' lacks '%s'", cases[i].opts, err->message,
                    cases[i].msg);
        }
        g_assert_null(vh_object_lookup("e0"));
    }

    /* An id in use. */
    g_autoptr(GError) err = NULL;
    g_assert_true(
        vh_object_add_from_string("memory-backend-ram,id=d0,size=1M", &err));
    g_assert_false(vh_object_add_from_string(
        "memory-backend-file,id=d0,size=1M,mem-path=/tmp", &err));
    g_assert_nonnull(strstr(err->message, "'d0' already exists"));
    g_assert_true(vh_object_del("d0", NULL));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    vh_object_register_builtin_types();
    g_test_add_func("/machine/memory-backend/ram", test_ram);
    g_test_add_func("/machine/memory-backend/prealloc", test_prealloc);
    g_test_add_func("/machine/memory-backend/file", test_file);
    g_test_add_func("/machine/memory-backend/errors", test_errors);
    return g_test_run();
}
