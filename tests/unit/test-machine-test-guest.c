/* Tests for the built-in test guest (lib/machine/test-guest.c). */
#include "vmhost/machine/test-guest.h"
#include "vmhost/util/error.h"

#include <string.h>

typedef struct {
    VhRamBlock *ram;
    VhTestGuest *guest;
} Fixture;

/* 16 MiB: 4096 pages, 8 of them table, 4087 data pages. */
#define RAM_SIZE (16u << 20)

static void fixture_setup(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;

    f->ram = vh_ram_block_new("pc.ram", RAM_SIZE, false, &err);
    g_assert_no_error(err);
    f->guest = vh_test_guest_new(f->ram, &err);
    g_assert_no_error(err);
}

static void fixture_teardown(Fixture *f, gconstpointer data)
{
    vh_test_guest_free(f->guest);
    vh_ram_block_free(f->ram);
}

static guint8 *data_page(Fixture *f, guint64 index)
{
    guint8 *host = vh_ram_block_get_host(f->ram);

    return host + (vh_test_guest_get_first_data_page(f->guest) + index) *
                      VH_RAM_PAGE_SIZE;
}

static guint64 *table(Fixture *f)
{
    return (guint64 *)((guint8 *)vh_ram_block_get_host(f->ram) +
                       VH_RAM_PAGE_SIZE);
}

static void assert_verifies(Fixture *f)
{
    g_autoptr(GError) err = NULL;
    guint64 checked = 0;

    bool ok = vh_test_guest_verify(f->guest, &checked, &err);
    g_assert_no_error(err);
    g_assert_true(ok);
    g_assert_cmpuint(checked, ==, vh_test_guest_get_data_pages(f->guest));
}

/* The verify error message, asserting that verify fails. */
static char *verify_error(Fixture *f)
{
    g_autoptr(GError) err = NULL;

    g_assert_false(vh_test_guest_verify(f->guest, NULL, &err));
    g_assert_error(err, VH_ERROR, VH_ERROR_FAILED);
    return g_strdup(err->message);
}

/* Run the workload until it has written at least @pages, then pause. */
static void run_pages(Fixture *f, guint64 rate, VhDirtyPattern pattern,
                      guint64 pages)
{
    guint64 start = vh_test_guest_get_pages_written(f->guest);

    vh_test_guest_set_workload(f->guest, rate, pattern);
    vh_test_guest_resume(f->guest);
    while (vh_test_guest_get_pages_written(f->guest) - start < pages) {
        g_usleep(1000);
    }
    vh_test_guest_pause(f->guest);
}

static guint64 sum_generations(Fixture *f, guint64 from, guint64 to)
{
    guint64 sum = 0;

    for (guint64 i = from; i < to; i++) {
        sum += vh_test_guest_get_generation(f->guest, i);
    }
    return sum;
}

static void test_layout(Fixture *f, gconstpointer data)
{
    const guint64 *header = vh_ram_block_get_host(f->ram);

    g_assert_cmpuint(vh_test_guest_get_first_data_page(f->guest), ==, 9);
    g_assert_cmpuint(vh_test_guest_get_data_pages(f->guest), ==, 4087);
    g_assert_cmpuint(header[0], ==, VH_TEST_GUEST_MAGIC);
    g_assert_cmpmem(header, 8, "VHTGUEST", 8);
    g_assert_true(vh_test_guest_is_paused(f->guest));
    g_assert_cmpuint(vh_test_guest_get_rate(f->guest), ==, 0);
    g_assert_cmpint(vh_test_guest_get_pattern(f->guest), ==,
                    VH_DIRTY_SEQUENTIAL);

    /* The smallest guest, and a layout at a table-page boundary. */
    for (guint64 pages = 3; pages < 1100; pages++) {
        g_autoptr(GError) err = NULL;
        g_autoptr(VhRamBlock) ram =
            vh_ram_block_new("r", pages * VH_RAM_PAGE_SIZE, false, &err);
        g_autoptr(VhTestGuest) g = vh_test_guest_new(ram, &err);
        g_assert_no_error(err);
        guint64 data_pages = vh_test_guest_get_data_pages(g);
        guint64 table_pages = vh_test_guest_get_first_data_page(g) - 1;
        g_assert_cmpuint(1 + table_pages + data_pages, ==, pages);
        g_assert_cmpuint(data_pages, <=, table_pages * 512);
        g_assert_cmpuint(data_pages, >, (table_pages - 1) * 512);
        g_assert_true(vh_test_guest_verify(g, NULL, &err));
        pages += pages < 20 ? 0 : 97;
    }
}

static void test_fill_page(void)
{
    g_autofree guint64 *a = g_malloc(VH_RAM_PAGE_SIZE);
    g_autofree guint64 *b = g_malloc(VH_RAM_PAGE_SIZE);
    g_autofree guint8 *zero = g_malloc0(VH_RAM_PAGE_SIZE);

    memset(a, 0xff, VH_RAM_PAGE_SIZE);
    vh_test_guest_fill_page(a, 7, 0);
    g_assert_cmpmem(a, VH_RAM_PAGE_SIZE, zero, VH_RAM_PAGE_SIZE);

    vh_test_guest_fill_page(a, 7, 1);
    g_assert_cmpuint(a[0], ==, 7 ^ VH_TEST_GUEST_PAGE_TAG);
    g_assert_cmpuint(a[1], ==, 1);
    vh_test_guest_fill_page(b, 7, 1);
    g_assert_cmpmem(a, VH_RAM_PAGE_SIZE, b, VH_RAM_PAGE_SIZE);
    vh_test_guest_fill_page(b, 7, 2);
    g_assert_cmpuint(memcmp(a + 2, b + 2, VH_RAM_PAGE_SIZE - 16), !=, 0);
    vh_test_guest_fill_page(b, 8, 1);
    g_assert_cmpuint(memcmp(a + 2, b + 2, VH_RAM_PAGE_SIZE - 16), !=, 0);
}

/* Untouched RAM is a valid guest: every page at generation 0. */
static void test_fresh_verifies(Fixture *f, gconstpointer data)
{
    assert_verifies(f);
    g_assert_cmpuint(sum_generations(f, 0, 4087), ==, 0);
    g_assert_cmpuint(vh_test_guest_get_pages_written(f->guest), ==, 0);
}

/* Bytes written over a measured interval track the rate (+-15%). */
static void test_rate(Fixture *f, gconstpointer data)
{
    const guint64 rate = 40u << 20;

    vh_test_guest_set_workload(f->guest, rate, VH_DIRTY_RANDOM);
    vh_test_guest_resume(f->guest);
    g_usleep(50000); /* past the start */
    guint64 before = vh_test_guest_get_pages_written(f->guest);
    gint64 t0 = g_get_monotonic_time();
    g_usleep(800000);
    guint64 after = vh_test_guest_get_pages_written(f->guest);
    gint64 t1 = g_get_monotonic_time();
    vh_test_guest_pause(f->guest);

    double want = (double)rate * (double)(t1 - t0) / G_USEC_PER_SEC;
    double got = (double)(after - before) * VH_RAM_PAGE_SIZE;
    g_test_message("wanted %.0f bytes, wrote %.0f (%.1f%%)", want, got,
                   100.0 * got / want);
    g_assert_cmpfloat(got, >=, want * 0.85);
    g_assert_cmpfloat(got, <=, want * 1.15);
    assert_verifies(f);
}

static void test_sequential(Fixture *f, gconstpointer data)
{
    run_pages(f, 50u << 20, VH_DIRTY_SEQUENTIAL, 500);
    guint64 n = vh_test_guest_get_pages_written(f->guest);

    /* Sweeps from page 0, wrapping at the end. */
    for (guint64 i = 0; i < 4087; i++) {
        g_assert_cmpuint(vh_test_guest_get_generation(f->guest, i), ==,
                         n / 4087 + (i < n % 4087 ? 1 : 0));
    }
    assert_verifies(f);
}

static void test_random(Fixture *f, gconstpointer data)
{
    guint64 distinct = 0;

    vh_test_guest_set_seed(f->guest, 42);
    run_pages(f, 200u << 20, VH_DIRTY_RANDOM, 1000);
    guint64 n = vh_test_guest_get_pages_written(f->guest);
    for (guint64 i = 0; i < 4087; i++) {
        distinct += vh_test_guest_get_generation(f->guest, i) != 0;
    }
    g_assert_cmpuint(sum_generations(f, 0, 4087), ==, n);
    /* n random draws out of 4087 pages are mostly distinct, not a sweep. */
    g_assert_cmpuint(distinct, >, MIN(n, 4087) / 2);
    g_assert_cmpuint(vh_test_guest_get_generation(f->guest, 0) +
                         vh_test_guest_get_generation(f->guest, 1) +
                         vh_test_guest_get_generation(f->guest, 2),
                     <, 3 * n / 100 + 3);
    assert_verifies(f);
}

/* splitmix64, as the workload's PRNG: the test predicts its page picks. */
static guint64 splitmix(guint64 *state)
{
    guint64 z = (*state += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/*
 * The workload state read while paused is exact: a second guest given it
 * writes exactly the pages the PRNG predicts from there, and a sweep goes
 * on from the cursor.
 */
static void test_workload_state(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(VhRamBlock) ram2 =
        vh_ram_block_new("ram2", RAM_SIZE, false, &err);
    g_autoptr(VhTestGuest) g2 = NULL;
    VhTestGuestWorkloadState st, st2;
    guint64 rng = 42, n, m;
    g_autofree guint64 *want = g_new0(guint64, 4087);

    g_assert_no_error(err);
    vh_test_guest_get_workload_state(f->guest, &st);
    g_assert_cmpuint(st.rng, ==, 1);
    g_assert_cmpuint(st.cursor, ==, 0);

    vh_test_guest_set_seed(f->guest, 42);
    run_pages(f, 200u << 20, VH_DIRTY_RANDOM, 300);
    n = vh_test_guest_get_pages_written(f->guest);
    for (guint64 i = 0; i < n; i++) {
        splitmix(&rng);
    }
    vh_test_guest_get_workload_state(f->guest, &st);
    g_assert_cmpuint(st.rng, ==, rng);
    g_assert_cmpuint(st.cursor, ==, 0);

    /* Another guest goes on from there. */
    g2 = vh_test_guest_new(ram2, &err);
    g_assert_no_error(err);
    st.cursor = 4000;
    g_assert_true(vh_test_guest_set_workload_state(g2, &st, &err));
    g_assert_no_error(err);
    vh_test_guest_get_workload_state(g2, &st2);
    g_assert_cmpuint(st2.rng, ==, st.rng);
    g_assert_cmpuint(st2.cursor, ==, 4000);
    vh_test_guest_set_workload(g2, 200u << 20, VH_DIRTY_RANDOM);
    vh_test_guest_resume(g2);
    while (vh_test_guest_get_pages_written(g2) < 200) {
        g_usleep(1000);
    }
    vh_test_guest_pause(g2);
    m = vh_test_guest_get_pages_written(g2);
    for (guint64 i = 0; i < m; i++) {
        want[splitmix(&rng) % 4087]++;
    }
    for (guint64 i = 0; i < 4087; i++) {
        g_assert_cmpuint(vh_test_guest_get_generation(g2, i), ==, want[i]);
    }
    vh_test_guest_get_workload_state(g2, &st2);
    g_assert_cmpuint(st2.rng, ==, rng);

    /* The sweep starts at the cursor and wraps. */
    vh_test_guest_set_workload(g2, 200u << 20, VH_DIRTY_SEQUENTIAL);
    vh_test_guest_resume(g2);
    while (vh_test_guest_get_pages_written(g2) < m + 100) {
        g_usleep(1000);
    }
    vh_test_guest_pause(g2);
    n = vh_test_guest_get_pages_written(g2) - m;
    for (guint64 i = 0; i < n; i++) {
        want[(4000 + i) % 4087]++;
    }
    for (guint64 i = 0; i < 4087; i++) {
        g_assert_cmpuint(vh_test_guest_get_generation(g2, i), ==, want[i]);
    }
    vh_test_guest_get_workload_state(g2, &st2);
    g_assert_cmpuint(st2.cursor, ==, (4000 + n) % 4087);
}

/* A cursor past the data pages is refused and changes nothing. */
static void test_workload_state_bad(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;
    VhTestGuestWorkloadState st = {.rng = 5, .cursor = 4087};

    g_assert_false(vh_test_guest_set_workload_state(f->guest, &st, &err));
    g_assert_error(err, VH_ERROR, VH_ERROR_INVALID_ARGUMENT);
    g_assert_nonnull(strstr(err->message, "test guest of 'pc.ram': workload "
                                          "cursor 4087 is past its 4087 data "
                                          "pages"));
    vh_test_guest_get_workload_state(f->guest, &st);
    g_assert_cmpuint(st.rng, ==, 1);
    g_assert_cmpuint(st.cursor, ==, 0);
}

/* The first 5% of the data pages get about 90% of the writes. */
static void test_hot(Fixture *f, gconstpointer data)
{
    guint64 hot = 4087 / 20;

    run_pages(f, 400u << 20, VH_DIRTY_HOT, 4000);
    guint64 n = vh_test_guest_get_pages_written(f->guest);
    guint64 in_hot = sum_generations(f, 0, hot);
    g_assert_cmpuint(in_hot + sum_generations(f, hot, 4087), ==, n);
    g_assert_cmpfloat((double)in_hot / n, >, 0.85);
    g_assert_cmpfloat((double)in_hot / n, <, 0.95);
    assert_verifies(f);
}

/* Paused means no writes, a stable checksum, and verify holding. */
static void test_pause(Fixture *f, gconstpointer data)
{
    guint64 fresh = vh_test_guest_checksum(f->guest);

    run_pages(f, 100u << 20, VH_DIRTY_RANDOM, 200);
    g_assert_true(vh_test_guest_is_paused(f->guest));
    guint64 n = vh_test_guest_get_pages_written(f->guest);
    guint64 sum = vh_test_guest_checksum(f->guest);
    g_assert_cmpuint(sum, !=, fresh);
    g_usleep(50000);
    g_assert_cmpuint(vh_test_guest_get_pages_written(f->guest), ==, n);
    g_assert_cmpuint(vh_test_guest_checksum(f->guest), ==, sum);
    assert_verifies(f);

    /* Off while running: the thread parks, nothing more is written. */
    vh_test_guest_set_workload(f->guest, 0, VH_DIRTY_RANDOM);
    vh_test_guest_resume(f->guest);
    g_usleep(50000);
    g_assert_cmpuint(vh_test_guest_get_pages_written(f->guest), ==, n);
    run_pages(f, 100u << 20, VH_DIRTY_SEQUENTIAL, 50);
    g_assert_cmpuint(vh_test_guest_checksum(f->guest), !=, sum);
}

/* verify and checksum see whole pages even while the workload runs. */
static void test_verify_while_running(Fixture *f, gconstpointer data)
{
    vh_test_guest_set_workload(f->guest, 500u << 20, VH_DIRTY_HOT);
    vh_test_guest_resume(f->guest);
    for (int i = 0; i < 5; i++) {
        assert_verifies(f);
        (void)vh_test_guest_checksum(f->guest);
    }
    vh_test_guest_pause(f->guest);
    g_assert_cmpuint(vh_test_guest_get_pages_written(f->guest), >, 0);
    assert_verifies(f);
}

/* What verify says about data page @index when the table wants @gen. */
static char *mismatch(guint64 index, guint64 gen, guint64 holds)
{
    g_autofree char *what =
        holds ? g_strdup_printf("holds generation %" G_GUINT64_FORMAT, holds)
              : g_strdup("holds zeros (generation 0)");

    return g_strdup_printf(
        "data page %" G_GUINT64_FORMAT " (RAM page %" G_GUINT64_FORMAT
        ") should hold generation %" G_GUINT64_FORMAT " but %s",
        index, index + 9, gen, what);
}

static void test_corrupt_page(Fixture *f, gconstpointer data)
{
    run_pages(f, 50u << 20, VH_DIRTY_SEQUENTIAL, 20);
    guint64 gen = vh_test_guest_get_generation(f->guest, 5);
    g_assert_cmpuint(gen, >=, 1);

    data_page(f, 5)[1000] ^= 0x10;
    g_autofree char *msg = verify_error(f);
    g_autofree char *want = g_strdup_printf(
        "test guest RAM 'pc.ram' does not verify: 1 of 4087 data pages "
        "differ from the generation table: data page 5 (RAM page 14) should "
        "hold generation %" G_GUINT64_FORMAT " but is corrupted",
        gen);
    g_assert_cmpstr(msg, ==, want);
    data_page(f, 5)[1000] ^= 0x10;
    assert_verifies(f);

    /* A page that is not a generation of itself at all. */
    guint8 saved[16];
    memcpy(saved, data_page(f, 4000), 16);
    memset(data_page(f, 4000), 0x3c, 16);
    g_free(msg);
    msg = verify_error(f);
    g_assert_nonnull(strstr(msg, "data page 4000 (RAM page 4009) should "
                                 "hold generation "));
    g_assert_true(g_str_has_suffix(msg, " but is corrupted"));
    memcpy(data_page(f, 4000), saved, 16);
    assert_verifies(f);
}

static void test_stale_generation(Fixture *f, gconstpointer data)
{
    run_pages(f, 50u << 20, VH_DIRTY_SEQUENTIAL, 20);

    /* The table says newer than the page: a page the target missed. */
    guint64 gen = table(f)[3];
    g_assert_cmpuint(gen, >=, 1);
    table(f)[3] += 1;
    g_autofree char *msg = verify_error(f);
    g_autofree char *want = mismatch(3, gen + 1, gen);
    g_assert_nonnull(strstr(msg, "1 of 4087 data pages differ"));
    g_assert_nonnull(strstr(msg, want));
    table(f)[3] -= 1;

    /* The table says older. */
    table(f)[3] -= 1;
    g_free(msg);
    g_free(want);
    msg = verify_error(f);
    want = mismatch(3, gen - 1, gen);
    g_assert_nonnull(strstr(msg, want));
    table(f)[3] += 1;

    /* A page never written on one side. */
    for (guint64 i = 4086; i > 0; i--) {
        if (table(f)[i] == 0) {
            table(f)[i] = 4;
            g_free(msg);
            g_free(want);
            msg = verify_error(f);
            want = mismatch(i, 4, 0);
            g_assert_nonnull(strstr(msg, want));
            table(f)[i] = 0;
            break;
        }
    }
    assert_verifies(f);

    /* Many: the count, the first four, and an ellipsis. */
    guint64 saved[10];
    for (int i = 100; i < 110; i++) {
        saved[i - 100] = table(f)[i];
        table(f)[i] = 9;
    }
    g_free(msg);
    msg = verify_error(f);
    g_assert_nonnull(strstr(msg, "10 of 4087 data pages differ"));
    g_assert_nonnull(strstr(msg, "data page 103 "));
    g_assert_null(strstr(msg, "data page 104 "));
    g_assert_true(g_str_has_suffix(msg, "; ..."));
    for (int i = 100; i < 110; i++) {
        table(f)[i] = saved[i - 100];
    }
    assert_verifies(f);
}

static void test_header(Fixture *f, gconstpointer data)
{
    guint64 *header = vh_ram_block_get_host(f->ram);

    header[0] ^= 1;
    g_autofree char *msg = verify_error(f);
    g_assert_nonnull(strstr(msg, "the header page does not describe this "
                                 "RAM"));
    header[0] ^= 1;
    assert_verifies(f);
}

/* A guest over RAM that already holds one keeps it; garbage is reformatted. */
static void test_reattach(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;

    run_pages(f, 200u << 20, VH_DIRTY_HOT, 300);
    guint64 sum = vh_test_guest_checksum(f->guest);
    vh_test_guest_free(f->guest);
    f->guest = vh_test_guest_new(f->ram, &err);
    g_assert_no_error(err);
    g_assert_cmpuint(vh_test_guest_checksum(f->guest), ==, sum);
    g_assert_cmpuint(sum_generations(f, 0, 4087), >=, 300);
    assert_verifies(f);

    vh_test_guest_free(f->guest);
    memset(vh_ram_block_get_host(f->ram), 0x77, 3 * VH_RAM_PAGE_SIZE);
    f->guest = vh_test_guest_new(f->ram, &err);
    g_assert_no_error(err);
    g_assert_cmpuint(vh_test_guest_get_generation(f->guest, 0), ==, 0);
    g_assert_cmpuint(vh_test_guest_get_generation(f->guest, 500), ==, 0);
}

static char *cmd(Fixture *f, const char *line)
{
    char *reply = vh_test_guest_command(f->guest, line);

    g_assert_nonnull(reply);
    return reply;
}

#define assert_reply(f, line, want)                                            \
    do {                                                                       \
        g_autofree char *r_ = cmd((f), (line));                                \
        g_assert_cmpstr(r_, ==, (want));                                       \
    } while (0)

static void test_command_basic(Fixture *f, gconstpointer data)
{
    g_autofree char *help = cmd(f, "help");
    for (const char *c = "echo\0status\0dirty RATE\0dirty off\0verify\0"
                         "checksum\0";
         *c; c += strlen(c) + 1) {
        g_assert_nonnull(strstr(help, c));
    }
    assert_reply(f, "  help  \r\n", help);
    assert_reply(f, "echo hello world", "hello world");
    assert_reply(f, "echo   two  spaces ", "two  spaces");
    assert_reply(f, "echo", "");
    assert_reply(f, "", "");
    assert_reply(f, " \t\r\n", "");
    assert_reply(f, NULL, "");
    assert_reply(f, "verify", "verify: ok, 4087 pages checked");

    g_autofree char *want =
        g_strdup_printf("checksum: %016" G_GINT64_MODIFIER "x",
                        vh_test_guest_checksum(f->guest));
    assert_reply(f, "checksum", want);

    assert_reply(f, "status",
                 "pages: 4096 (16 MiB): 1 header, 8 table, "
                 "4087 data\n"
                 "workload: off\n"
                 "rate: 0 B/s\n"
                 "pattern: sequential\n"
                 "pages written: 0\n"
                 "state: paused");
}

static void test_command_dirty(Fixture *f, gconstpointer data)
{
    static const struct {
        const char *line;
        const char *reply;
        guint64 rate;
    } cases[] = {
        {"dirty 100", "dirty: 100 MiB/s, sequential", 100u << 20},
        {"dirty 100MB/s", "dirty: 100 MiB/s, sequential", 100u << 20},
        {"dirty 100mb/S random", "dirty: 100 MiB/s, random", 100u << 20},
        {"dirty 500M", "dirty: 500 MiB/s, random", 500u << 20},
        {"dirty 1G/s hot", "dirty: 1 GiB/s, hot", 1u << 30},
        {"dirty 1.5G sequential", "dirty: 1.5 GiB/s, sequential", 3u << 29},
        {"dirty 4096B/s", "dirty: 4 KiB/s, sequential", 4096},
        {"dirty 64K", "dirty: 64 KiB/s, sequential", 65536},
        {"dirty 1T", "dirty: 1 TiB/s, sequential", 1ULL << 40},
        {"dirty 100 MiB/s", "dirty: 100 MiB/s, sequential", 100u << 20},
        {"dirty 2 GiB/s hot", "dirty: 2 GiB/s, hot", 2u << 30},
        {"dirty 300 mb random", "dirty: 300 MiB/s, random", 300u << 20},
        {"dirty 8KiB/s", "dirty: 8 KiB/s, random", 8192},
        {"dirty off", "dirty: off", 0},
        {"dirty OFF", "dirty: off", 0},
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        assert_reply(f, cases[i].line, cases[i].reply);
        g_assert_cmpuint(vh_test_guest_get_rate(f->guest), ==, cases[i].rate);
    }

    assert_reply(f, "dirty 10 hot", "dirty: 10 MiB/s, hot");
    g_autofree char *status = cmd(f, "status");
    g_assert_nonnull(strstr(status, "\nworkload: on\nrate: 10 MiB/s\n"
                                    "pattern: hot\n"));
    vh_test_guest_resume(f->guest);
    g_free(status);
    status = cmd(f, "status");
    g_assert_true(g_str_has_suffix(status, "\nstate: running"));
    vh_test_guest_pause(f->guest);
}

static void test_command_errors(Fixture *f, gconstpointer data)
{
    static const struct {
        const char *line;
        const char *reply;
    } cases[] = {
        {"dirty", "error: dirty: expected RATE [sequential|random|hot] or "
                  "off"},
        {"dirty 1 hot extra", "error: dirty: expected RATE "
                              "[sequential|random|hot] or off"},
        {"dirty off now", "error: dirty: invalid rate 'off' (expected MB/s "
                          "like 100, 100MB/s, 500M or 1G)"},
        {"dirty fast", "error: dirty: invalid rate 'fast' (expected MB/s "
                       "like 100, 100MB/s, 500M or 1G)"},
        {"dirty -5", "error: dirty: invalid rate '-5' (expected MB/s like "
                     "100, 100MB/s, 500M or 1G)"},
        {"dirty /s", "error: dirty: invalid rate '/s' (expected MB/s like "
                     "100, 100MB/s, 500M or 1G)"},
        {"dirty 10X", "error: dirty: invalid rate '10X' (expected MB/s like "
                      "100, 100MB/s, 500M or 1G)"},
        {"dirty 0", "error: dirty: rate '0' is out of range (above 0, at "
                    "most 1 TiB/s; 'dirty off' stops)"},
        {"dirty 2T", "error: dirty: rate '2T' is out of range (above 0, at "
                     "most 1 TiB/s; 'dirty off' stops)"},
        {"dirty 100 zigzag", "error: dirty: unknown pattern 'zigzag' "
                             "(expected sequential, random or hot)"},
        {"dirty 100 MiB/s hot now", "error: dirty: expected RATE "
                                    "[sequential|random|hot] or off"},
        {"dirty 100 MiB/s/s", "error: dirty: unknown pattern 'MiB/s/s' "
                              "(expected sequential, random or hot)"},
        {"help me", "error: help: takes no arguments"},
        {"status now", "error: status: takes no arguments"},
        {"verify all", "error: verify: takes no arguments"},
        {"checksum sha256", "error: checksum: takes no arguments"},
        {"reboot", "error: unknown command 'reboot' (try 'help')"},
        {"HELP", "error: unknown command 'HELP' (try 'help')"},
        {"\x01\xff", "error: unknown command '\\001\\377' (try 'help')"},
        {"dirty 1\x1b[2J", "error: dirty: invalid rate '1\\033[2J' "
                           "(expected MB/s like 100, 100MB/s, 500M or 1G)"},
        {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
         "error: unknown command 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'"
         "... (try 'help')"},
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        assert_reply(f, cases[i].line, cases[i].reply);
        /* A refused command changes nothing. */
        g_assert_cmpuint(vh_test_guest_get_rate(f->guest), ==, 0);
    }

    table(f)[1] = 3;
    g_autofree char *reply = cmd(f, "verify");
    g_assert_true(g_str_has_prefix(reply, "error: verify: test guest RAM "
                                          "'pc.ram' does not verify: 1 of "
                                          "4087 data pages differ"));
    g_assert_null(strchr(reply, '\n'));
    table(f)[1] = 0;
}

#define ADD(path, fn)                                                          \
    g_test_add("/machine/test-guest/" path, Fixture, NULL, fixture_setup, fn,  \
               fixture_teardown)

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    ADD("layout", test_layout);
    g_test_add_func("/machine/test-guest/fill-page", test_fill_page);
    ADD("fresh-verifies", test_fresh_verifies);
    ADD("rate", test_rate);
    ADD("pattern/sequential", test_sequential);
    ADD("pattern/random", test_random);
    ADD("pattern/hot", test_hot);
    ADD("pause", test_pause);
    ADD("workload-state", test_workload_state);
    ADD("workload-state-bad", test_workload_state_bad);
    ADD("verify-while-running", test_verify_while_running);
    ADD("corrupt-page", test_corrupt_page);
    ADD("stale-generation", test_stale_generation);
    ADD("header", test_header);
    ADD("reattach", test_reattach);
    ADD("command/basic", test_command_basic);
    ADD("command/dirty", test_command_dirty);
    ADD("command/errors", test_command_errors);
    return g_test_run();
}
