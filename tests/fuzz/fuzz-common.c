/* Helpers shared by the fuzz targets. */
#include "fuzz-common.h"

#include <stdlib.h>
#include <unistd.h>

static char *scratch;

static void scratch_remove(void)
{
    g_autoptr(GDir) dir = g_dir_open(scratch, 0, NULL);
    const char *name;

    while (dir && (name = g_dir_read_name(dir))) {
        g_autofree char *path = g_build_filename(scratch, name, NULL);
        unlink(path);
    }
    rmdir(scratch);
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
