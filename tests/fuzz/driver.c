/*
 * Standalone driver for the fuzz targets when no fuzzer is linked in: runs
 * every seed of a corpus directory through LLVMFuzzerTestOneInput(), then a
 * fixed number of deterministic mutations of each, and reports TAP.
 *
 *     fuzz-size [--mutations N] CORPUS_DIR_OR_FILE...
 *
 * The PRNG is seeded from the seed file's name and the mutation number, so a
 * failure reproduces exactly; VH_FUZZ_MUTATIONS overrides N. When an
 * assertion fails the input being run is written to ./fuzz-crash.bin and
 * its seed and mutation number printed; VH_FUZZ_ONLY=SEED:M runs just that
 * one again (with the same corpus arguments).
 */
#include "fuzz-common.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Inputs grow no larger than this through mutation. */
#define FUZZ_MAX_INPUT (64 * 1024)

typedef struct {
    char *name;
    GBytes *data;
} Seed;

static void seed_free(gpointer p)
{
    Seed *seed = p;

    g_free(seed->name);
    g_bytes_unref(seed->data);
    g_free(seed);
}

/* splitmix64: small, fast and well mixed; only determinism matters here. */
static guint64 rng_next(guint64 *state)
{
    guint64 z = (*state += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static size_t rng_below(guint64 *state, size_t n)
{
    return n ? (size_t)(rng_next(state) % n) : 0;
}

/* Bytes that tend to matter to text parsers. */
static const char interesting[] =
    "\0\n\r\t :.,[]{}\"\\/-+0129aAeEfFkKgG\xff\x80";

static void bytes_insert(GByteArray *buf, size_t pos, const guint8 *data,
                         size_t n)
{
    size_t old = buf->len;

    g_byte_array_set_size(buf, old + n);
    memmove(buf->data + pos + n, buf->data + pos, old - pos);
    memcpy(buf->data + pos, data, n);
}

static void mutate_once(GByteArray *buf, const GPtrArray *seeds, guint64 *rng)
{
    size_t len = buf->len;
    size_t pos = rng_below(rng, len + 1);

    switch (rng_below(rng, 8)) {
    case 0: /* flip one bit */
        if (len) {
            pos = rng_below(rng, len);
            buf->data[pos] ^= (guint8)(1u << rng_below(rng, 8));
        }
        break;
    case 1: /* replace a byte with an interesting one */
        if (len) {
            pos = rng_below(rng, len);
            buf->data[pos] =
                (guint8)interesting[rng_below(rng, sizeof(interesting) - 1)];
        }
        break;
    case 2: /* truncate */
        g_byte_array_set_size(buf, pos);
        break;
    case 3: { /* insert 1-8 random bytes */
        guint8 bytes[8];
        size_t n = 1 + rng_below(rng, sizeof(bytes));
        for (size_t i = 0; i < n; i++) {
            bytes[i] = (guint8)rng_next(rng);
        }
        bytes_insert(buf, pos, bytes, n);
        break;
    }
    case 4: /* insert an interesting byte */
        bytes_insert(buf, pos,
                     (const guint8 *)&interesting[rng_below(
                         rng, sizeof(interesting) - 1)],
                     1);
        break;
    case 5: /* delete a chunk */
        if (len) {
            pos = rng_below(rng, len);
            g_byte_array_remove_range(buf, pos,
                                      1 + rng_below(rng, MIN(len - pos, 16)));
        }
        break;
    case 6: /* duplicate a chunk in place */
        if (len) {
            size_t start = rng_below(rng, len);
            size_t n = 1 + rng_below(rng, MIN(len - start, 64));
            g_autofree guint8 *chunk = g_memdup2(buf->data + start, n);
            bytes_insert(buf, pos, chunk, n);
        }
        break;
    default: { /* splice in a piece of another seed */
        const Seed *other =
            g_ptr_array_index(seeds, rng_below(rng, seeds->len));
        gsize olen;
        const guint8 *odata = g_bytes_get_data(other->data, &olen);
        if (olen) {
            size_t start = rng_below(rng, olen);
            size_t n = 1 + rng_below(rng, MIN(olen - start, 64));
            bytes_insert(buf, pos, odata + start, n);
        }
        break;
    }
    }
    if (buf->len > FUZZ_MAX_INPUT) {
        g_byte_array_set_size(buf, FUZZ_MAX_INPUT);
    }
}

static const guint8 *current_data;
static size_t current_size;
/* Which input is running: the seed's name and the mutation (-1: none). */
static const char *current_seed;
static long current_mutation = -1;

/* Keep the input that failed, so that it can become a regression seed. */
static void save_current(int sig)
{
    if (current_seed) {
        fprintf(stderr, "fuzz driver: died on seed %s, mutation %ld\n",
                current_seed, current_mutation);
    }
    if (current_data) {
        FILE *f = fopen("fuzz-crash.bin", "wb");
        if (f) {
            fwrite(current_data, 1, current_size, f);
            fclose(f);
        }
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

static void run_one(const guint8 *data, size_t size)
{
    current_data = data;
    current_size = size;
    LLVMFuzzerTestOneInput(data, size);
    current_data = NULL;
}

static void add_seed_file(GPtrArray *seeds, const char *path)
{
    g_autoptr(GError) err = NULL;
    char *contents;
    gsize len;

    if (!g_file_get_contents(path, &contents, &len, &err)) {
        g_printerr("%s\n", err->message);
        exit(1);
    }
    Seed *seed = g_new0(Seed, 1);
    seed->name = g_path_get_basename(path);
    seed->data = g_bytes_new_take(contents, len);
    g_ptr_array_add(seeds, seed);
}

static int compare_names(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void add_seeds(GPtrArray *seeds, const char *path)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GDir) dir = NULL;
    const char *name;

    if (!g_file_test(path, G_FILE_TEST_IS_DIR)) {
        add_seed_file(seeds, path);
        return;
    }
    dir = g_dir_open(path, 0, &err);
    if (!dir) {
        g_printerr("%s\n", err->message);
        exit(1);
    }
    while ((name = g_dir_read_name(dir))) {
        g_ptr_array_add(names, g_strdup(name));
    }
    /* Directory order is not stable; the run must be. */
    g_ptr_array_sort(names, compare_names);
    for (guint i = 0; i < names->len; i++) {
        g_autofree char *file =
            g_build_filename(path, g_ptr_array_index(names, i), NULL);
        add_seed_file(seeds, file);
    }
}

int main(int argc, char **argv)
{
    g_autoptr(GPtrArray) seeds = g_ptr_array_new_with_free_func(seed_free);
    unsigned long mutations = 1000;
    const char *env = g_getenv("VH_FUZZ_MUTATIONS");
    const char *only_env = g_getenv("VH_FUZZ_ONLY");
    g_autofree char *only = NULL;
    long only_mutation = -1;
    unsigned int test = 0;
    int first = 1;

    if (argc > 2 && strcmp(argv[1], "--mutations") == 0) {
        mutations = strtoul(argv[2], NULL, 10);
        first = 3;
    }
    if (env) {
        mutations = strtoul(env, NULL, 10);
    }
    if (first >= argc) {
        g_printerr("usage: %s [--mutations N] CORPUS_DIR_OR_FILE...\n",
                   argv[0]);
        return 2;
    }
    for (int i = first; i < argc; i++) {
        add_seeds(seeds, argv[i]);
    }
    if (seeds->len == 0) {
        g_printerr("%s: no seeds\n", argv[0]);
        return 2;
    }
    if (only_env) {
        /* VH_FUZZ_ONLY=SEED:M reruns one mutation (M = -1: the seed). */
        const char *colon = strrchr(only_env, ':');
        if (!colon) {
            g_printerr("VH_FUZZ_ONLY must be SEED:MUTATION\n");
            return 2;
        }
        only = g_strndup(only_env, colon - only_env);
        only_mutation = strtol(colon + 1, NULL, 10);
    }
    signal(SIGABRT, save_current);
    signal(SIGSEGV, save_current);

    printf("1..%u\n", seeds->len * 2);
    fflush(stdout);
    for (guint i = 0; i < seeds->len; i++) {
        const Seed *seed = g_ptr_array_index(seeds, i);
        gsize len;
        const guint8 *data = g_bytes_get_data(seed->data, &len);

        current_seed = seed->name;
        current_mutation = -1;
        if (!only || only_mutation < 0) {
            run_one(data, len);
        }
        printf("ok %u - seed %s\n", ++test, seed->name);
        fflush(stdout);
    }
    for (guint i = 0; i < seeds->len; i++) {
        const Seed *seed = g_ptr_array_index(seeds, i);
        guint64 base = g_str_hash(seed->name);

        current_seed = seed->name;
        for (unsigned long m = 0; m < mutations; m++) {
            g_autoptr(GByteArray) buf = NULL;
            if (only && (strcmp(only, seed->name) != 0 ||
                         (unsigned long)only_mutation != m)) {
                continue;
            }
            current_mutation = (long)m;
            buf = g_byte_array_new();
            guint64 rng = base * 0x100000001b3ULL + m;
            gsize len;
            const guint8 *data = g_bytes_get_data(seed->data, &len);
            unsigned int rounds = 1 + (unsigned int)rng_below(&rng, 4);

            g_byte_array_append(buf, data, len);
            for (unsigned int r = 0; r < rounds; r++) {
                mutate_once(buf, seeds, &rng);
            }
            run_one(buf->data, buf->len);
        }
        printf("ok %u - %lu mutations of %s\n", ++test, mutations, seed->name);
        fflush(stdout);
    }
    return 0;
}
