/*
 * Shared by the fuzz targets and driver.c. Each target defines
 * LLVMFuzzerTestOneInput(); libFuzzer or driver.c calls it.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * The input as a C string (transfer full), or NULL when it holds a NUL byte:
 * the string parsers take C strings, so such an input cannot reach them.
 */
static inline char *fuzz_cstring(const uint8_t *data, size_t size)
{
    /* libFuzzer may pass NULL with size 0; memchr(NULL, ...) is undefined */
    if (size == 0) {
        return g_strdup("");
    }
    if (memchr(data, '\0', size)) {
        return NULL;
    }
    return g_strndup((const char *)data, size);
}

/*
 * The error convention every parser follows: exactly one of "succeeded"
 * and "set an error", and a message that says something.
 */
#define fuzz_assert_result(ok, err)                                            \
    do {                                                                       \
        if (ok) {                                                              \
            g_assert_no_error(err);                                            \
        } else {                                                               \
            g_assert_nonnull(err);                                             \
            g_assert_nonnull((err)->message);                                  \
            g_assert_cmpstr((err)->message, !=, "");                           \
        }                                                                      \
    } while (0)

/* Write @size bytes to @path, replacing what it held (no fsync). */
void fuzz_write_file(const char *path, const uint8_t *data, size_t size);

/* A private scratch directory for the process, removed at exit. */
const char *fuzz_scratch_dir(void);
