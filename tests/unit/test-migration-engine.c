/*
 * Tests for the migration engine (lib/migration/migration*.c): a source
 * and a target machine in one process, over unix: sockets (and tcp: with
 * TLS where the transports allow), with the built-in test guest proving
 * what arrived.
 */
#include "vmhost/chardev/char-null.h"
#include "vmhost/machine/machine.h"
#include "vmhost/machine/serial.h"
#include "vmhost/io/channel-tls.h"
#include "vmhost/migration/migration.h"
#include "vmhost/migration/stream.h"
#include "vmhost/util/error.h"

#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "crypto-testutil.h"
#include "tls-testutil.h"
#include "vmhost/object/object-create.h"
#include "vmhost/object/object.h"
#include "vmhost/vmhost-types.h"

#define RAM_MB 64

typedef struct {
    char *dir;
    char *uri;
    VhMachine *src_m, *dst_m;
    VhMigration *src, *dst;
    VhChardev *chr[2];
    VhSerial *ports[2];
} Pair;

static VhMachine *new_machine(const char *name, guint mb)
{
    g_autoptr(GError) err = NULL;
    VhRamBlock *ram =
        vh_ram_block_new("pc.ram", (guint64)mb << 20, false, &err);
    VhMachine *m;

    g_assert_no_error(err);
    m = vh_machine_new(name, ram, &err);
    g_assert_no_error(err);
    return m;
}

/* Write every data page once, so most of RAM is not zero. */
static void fill(VhMachine *m)
{
    VhTestGuest *g = vh_machine_get_test_guest(m);
    guint64 n = vh_test_guest_get_data_pages(g);
    guint8 *host = vh_ram_block_get_host(vh_machine_get_ram(m));
    guint64 first = vh_test_guest_get_first_data_page(g);

    /* Fill through the guest's own writer: a sweep at full speed. */
    vh_test_guest_set_workload(g, 4ULL << 30, VH_DIRTY_SEQUENTIAL);
    g_assert_true(vh_machine_cont(m, NULL));
    while (vh_test_guest_get_pages_written(g) < n * 3 / 4) {
        g_usleep(2000);
    }
    vh_test_guest_set_workload(g, 0, VH_DIRTY_SEQUENTIAL);
    g_assert_cmpuint(
        host[(first + 1) * 4096 + 100] | host[(first + 1) * 4096 + 101], !=, 0);
}

static void pair_init(Pair *p, guint src_mb, guint dst_mb)
{
    g_autoptr(GError) err = NULL;

    memset(p, 0, sizeof(*p));
    p->dir = vh_test_mkdtemp("vh-mig-engine");
    p->uri = g_strdup_printf("unix:%s/mig.sock", p->dir);
    p->src_m = new_machine("src", src_mb);
    p->dst_m = new_machine("dst", dst_mb);
    p->src = vh_migration_new(p->src_m);
    p->dst = vh_migration_new(p->dst_m);
    g_assert_true(
        vh_migration_set_parameter_int(p->src, "max-bandwidth", 0, &err));
    g_assert_true(vh_machine_set_state(p->dst_m, VH_RUN_STATE_INMIGRATE, &err));
    fill(p->src_m);
}

static void pair_listen(Pair *p)
{
    g_autoptr(GError) err = NULL;

    g_assert_true(vh_migration_incoming(p->dst, p->uri, &err));
    g_assert_no_error(err);
}

static void pair_clear(Pair *p)
{
    vh_migration_free(p->src);
    vh_migration_free(p->dst);
    for (guint i = 0; i < 2; i++) {
        vh_serial_free(p->ports[i]);
        g_clear_object(&p->chr[i]);
    }
    g_object_unref(p->src_m);
    g_object_unref(p->dst_m);
    vh_test_rm_rf(p->dir);
    g_free(p->dir);
    g_free(p->uri);
}

/* Wait for both ends to finish; returns the source's status. */
static VhMigStatus wait_both(Pair *p)
{
    VhMigStatus st = vh_migration_wait(p->src, 60000);

    if (st == VH_MIG_STATUS_COMPLETED) {
        g_assert_cmpint(vh_migration_wait(p->dst, 60000), ==,
                        VH_MIG_STATUS_COMPLETED);
    }
    return st;
}

static char *src_error(Pair *p)
{
    VhMigInfo i;
    char *e;

    vh_migration_get_info(p->src, &i);
    e = g_strdup(i.error);
    vh_mig_info_clear(&i);
    return e;
}

/* The target holds exactly the source's state. */
static void assert_migrated(Pair *p)
{
    VhTestGuest *sg = vh_machine_get_test_guest(p->src_m);
    VhTestGuest *dg = vh_machine_get_test_guest(p->dst_m);
    g_autoptr(GError) err = NULL;
    VhMigInfo i;

    g_assert_cmpint(vh_machine_get_state(p->src_m), ==,
                    VH_RUN_STATE_POSTMIGRATE);
    g_assert_cmpuint(vh_test_guest_checksum(sg), ==,
                     vh_test_guest_checksum(dg));
    g_assert_true(vh_test_guest_verify(dg, NULL, &err));
    g_assert_no_error(err);
    vh_migration_get_info(p->src, &i);
    g_assert_cmpint(i.status, ==, VH_MIG_STATUS_COMPLETED);
    g_assert_cmpuint(i.transferred, >, 16u << 20);
    g_assert_cmpuint(i.dirty_sync_count, >=, 1);
    g_assert_nonnull(i.dirty_tracking);
    g_assert_null(i.error);
    g_assert_cmpuint(i.duplicate + i.normal, >=, (RAM_MB << 20) / 4096);
    vh_mig_info_clear(&i);
}

/* The source runs on with a guest that verifies. */
static void assert_intact(Pair *p)
{
    g_autoptr(GError) err = NULL;

    g_assert_cmpint(vh_machine_get_state(p->src_m), ==, VH_RUN_STATE_RUNNING);
    g_assert_true(
        vh_test_guest_verify(vh_machine_get_test_guest(p->src_m), NULL, &err));
    g_assert_no_error(err);
}

static void start(Pair *p)
{
    g_autoptr(GError) err = NULL;

    g_assert_true(vh_migration_start(p->src, p->uri, &err));
    g_assert_no_error(err);
}

static void test_plain(void)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *back = NULL;
    Pair p;

    pair_init(&p, RAM_MB, RAM_MB);
    pair_listen(&p);
    start(&p);
    g_assert_cmpint(wait_both(&p), ==, VH_MIG_STATUS_COMPLETED);
    assert_migrated(&p);
    g_assert_cmpint(vh_machine_get_state(p.dst_m), ==, VH_RUN_STATE_RUNNING);
    /* A source that completed cannot receive; a target may send on. */
    g_assert_false(vh_migration_incoming(p.src, p.uri, &err));
    g_clear_error(&err);
    back = g_strdup_printf("unix:%s/back.sock", p.dir);
    g_assert_true(vh_migration_start(p.dst, back, &err));
    g_assert_cmpint(vh_migration_wait(p.dst, 20000), ==,
                    VH_MIG_STATUS_FAILED); /* nobody listens there */
    g_assert_cmpint(vh_machine_get_state(p.dst_m), ==, VH_RUN_STATE_RUNNING);
    pair_clear(&p);
}

static void test_multifd(gconstpointer data)
{
    guint n = GPOINTER_TO_UINT(data);
    g_autoptr(GError) err = NULL;
    Pair p;

    pair_init(&p, RAM_MB, RAM_MB);
    for (guint i = 0; i < 2; i++) {
        VhMigration *m = i ? p.dst : p.src;

        g_assert_true(vh_migration_set_capability(m, "multifd", true, &err));
        g_assert_true(
            vh_migration_set_parameter_int(m, "multifd-channels", n, &err));
    }
    pair_listen(&p);
    start(&p);
    g_assert_cmpint(wait_both(&p), ==, VH_MIG_STATUS_COMPLETED);
    assert_migrated(&p);
    pair_clear(&p);
}

/* A guest writing 8 MB/s while migrating converges; the state is exact. */
static void test_dirty_converging(void)
{
    Pair p;

    pair_init(&p, RAM_MB, RAM_MB);
    vh_machine_set_autostart(p.dst_m, false);
    vh_test_guest_set_workload(vh_machine_get_test_guest(p.src_m), 8 << 20,
                               VH_DIRTY_RANDOM);
    pair_listen(&p);
    start(&p);
    g_assert_cmpint(wait_both(&p), ==, VH_MIG_STATUS_COMPLETED);
    assert_migrated(&p);
    /* Without autostart the target waits, paused, with the workload. */
    g_assert_cmpint(vh_machine_get_state(p.dst_m), ==, VH_RUN_STATE_PAUSED);
    g_assert_cmpuint(vh_test_guest_get_rate(vh_machine_get_test_guest(p.dst_m)),
                     ==, 8 << 20);
    pair_clear(&p);
}

/*
 * The device state arrives and is applied: the target's workload is where
 * the source's stopped (PRNG state and sweep cursor), and its serial ports
 * have the source's counters as they were at the end, not at the start.
 */
static void test_device_state(void)
{
    g_autoptr(GError) err = NULL;
    VhTestGuest *sg, *dg;
    VhTestGuestWorkloadState ss, ds;
    Pair p;

    pair_init(&p, RAM_MB, RAM_MB);
    sg = vh_machine_get_test_guest(p.src_m);
    dg = vh_machine_get_test_guest(p.dst_m);
    vh_machine_set_autostart(p.dst_m, false);
    for (guint i = 0; i < 2; i++) {
        g_autofree char *id = g_strdup_printf("serial%u", i);

        p.chr[i] = vh_chardev_null_new(id, NULL, &err);
        g_assert_no_error(err);
    }
    p.ports[0] = vh_serial_new("serial0", p.chr[0], NULL, &err);
    p.ports[1] = vh_serial_new("serial0", p.chr[1], NULL, &err);
    g_assert_no_error(err);
    vh_serial_register_state(p.ports[0], p.src_m);
    vh_serial_register_state(p.ports[1], p.dst_m);
    vh_serial_set_counters(p.ports[0], 3, 4);
    vh_serial_set_counters(p.ports[1], 100, 200);
    vh_test_guest_set_seed(sg, 99);
    vh_test_guest_set_workload(sg, 8 << 20, VH_DIRTY_HOT);
    pair_listen(&p);
    start(&p);
    /* Counted after the start: the end's values must travel. */
    vh_serial_set_counters(p.ports[0], 7, 13);
    g_assert_cmpint(wait_both(&p), ==, VH_MIG_STATUS_COMPLETED);
    assert_migrated(&p);
    vh_test_guest_get_workload_state(sg, &ss);
    vh_test_guest_get_workload_state(dg, &ds);
    /* The source's workload ran (fill's sweep, then the hot pattern). */
    g_assert_cmpuint(ss.rng, !=, 99);
    g_assert_cmpuint(ss.cursor, !=, 0);
    g_assert_cmpuint(ds.rng, ==, ss.rng);
    g_assert_cmpuint(ds.cursor, ==, ss.cursor);
    g_assert_cmpuint(vh_test_guest_get_rate(dg), ==, 8 << 20);
    g_assert_cmpint(vh_test_guest_get_pattern(dg), ==, VH_DIRTY_HOT);
    g_assert_cmpuint(vh_serial_get_commands(p.ports[1]), ==, 7);
    g_assert_cmpuint(vh_serial_get_dropped(p.ports[1]), ==, 13);
    pair_clear(&p);
}

/* Pages of @ram in this process's page tables or swap (/proc/self/pagemap). */
static guint64 populated_pages(VhRamBlock *ram)
{
    guint64 pages = vh_ram_block_get_pages(ram);
    guint64 base = (guintptr)vh_ram_block_get_host(ram) / VH_RAM_PAGE_SIZE;
    guint64 entries[4096];
    guint64 n = 0;
    int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);

    g_assert_cmpint(fd, >=, 0);
    for (guint64 i = 0; i < pages; i += G_N_ELEMENTS(entries)) {
        guint64 k = MIN(G_N_ELEMENTS(entries), pages - i);
        ssize_t r = pread(fd, entries, k * 8, (off_t)((base + i) * 8));

        g_assert_cmpint(r, ==, (ssize_t)(k * 8));
        for (guint64 j = 0; j < k; j++) {
            n += (entries[j] >> 62) != 0; /* present or swapped */
        }
    }
    close(fd);
    return n;
}

static guint64 rss_kib(void)
{
    g_autofree char *status = NULL;
    const char *p;

    g_assert_true(
        g_file_get_contents("/proc/self/status", &status, NULL, NULL));
    p = strstr(status, "VmRSS:");
    g_assert_nonnull(p);
    return g_ascii_strtoull(p + 6, NULL, 10);
}

typedef struct {
    guint nch;             /* multifd channels, 0: none */
    const char *mechanism; /* dirty tracking, NULL: auto */
    guint64 rate;          /* the guest's workload during migration */
} Untouched;

/*
 * 1 GiB of anonymous RAM of which the guest wrote a few pages: the first
 * pass sends the never-populated pages as zero pages without reading them,
 * so the source's RAM gains no page-table entries (no faults, no RSS)
 * beyond what the guest itself writes meanwhile; with a running workload,
 * the pages it populates after the first pass looked go again (verify).
 */
static void test_untouched_ram(gconstpointer data)
{
    const Untouched *u = data;
    guint nch = u->nch;
    g_autoptr(GError) err = NULL;
    guint64 before, after, rss0, rss1, written;
    g_autofree char *tracking = NULL;
    VhTestGuest *sg;
    gint64 t0, t1;
    VhMigInfo i;
    Pair p;

    memset(&p, 0, sizeof(p));
    p.dir = vh_test_mkdtemp("vh-mig-engine");
    p.uri = g_strdup_printf("unix:%s/mig.sock", p.dir);
    p.src_m = new_machine("src", 1024);
    p.dst_m = new_machine("dst", 1024);
    p.src = vh_migration_new(p.src_m);
    p.dst = vh_migration_new(p.dst_m);
    g_assert_true(
        vh_migration_set_parameter_int(p.src, "max-bandwidth", 0, &err));
    g_assert_true(vh_machine_set_state(p.dst_m, VH_RUN_STATE_INMIGRATE, &err));
    /* The target stays paused: its RAM must equal the source's. */
    vh_machine_set_autostart(p.dst_m, false);
    if (nch) {
        g_assert_true(
            vh_migration_set_capability(p.src, "multifd", true, &err));
        g_assert_true(vh_migration_set_parameter_int(p.src, "multifd-channels",
                                                     nch, &err));
        g_assert_true(
            vh_migration_set_capability(p.dst, "multifd", true, &err));
        g_assert_true(vh_migration_set_parameter_int(p.dst, "multifd-channels",
                                                     nch, &err));
        g_assert_no_error(err);
    }
    sg = vh_machine_get_test_guest(p.src_m);
    vh_test_guest_set_workload(sg, 1ULL << 30, VH_DIRTY_RANDOM);
    g_assert_true(vh_machine_cont(p.src_m, NULL));
    while (vh_test_guest_get_pages_written(sg) < 500) {
        g_usleep(1000);
    }
    vh_test_guest_set_workload(sg, u->rate, VH_DIRTY_RANDOM);
    if (u->mechanism) {
        g_setenv("VMHOST_DIRTY_TRACKING", u->mechanism, TRUE);
    }
    before = populated_pages(vh_machine_get_ram(p.src_m));
    written = vh_test_guest_get_pages_written(sg);
    rss0 = rss_kib();
    pair_listen(&p);
    t0 = g_get_monotonic_time();
    start(&p);
    g_assert_cmpint(wait_both(&p), ==, VH_MIG_STATUS_COMPLETED);
    t1 = g_get_monotonic_time();
    g_unsetenv("VMHOST_DIRTY_TRACKING");
    /* Each write may populate a data page and its table page. */
    written = 2 * (vh_test_guest_get_pages_written(sg) - written);
    after = populated_pages(vh_machine_get_ram(p.src_m));
    rss1 = rss_kib();
    vh_migration_get_info(p.src, &i);
    g_test_message("1 GiB, %" G_GUINT64_FORMAT " pages populated, %s: "
                   "migrated in %.1f ms (%" G_GUINT64_FORMAT
                   " normal, %" G_GUINT64_FORMAT " zero pages); source RAM "
                   "pages populated %" G_GUINT64_FORMAT " -> %" G_GUINT64_FORMAT
                   " (guest wrote <= %" G_GUINT64_FORMAT
                   "); process RSS %" G_GUINT64_FORMAT " -> %" G_GUINT64_FORMAT
                   " KiB",
                   before, i.dirty_tracking, (t1 - t0) / 1000.0, i.normal,
                   i.duplicate, before, after, written, rss0, rss1);
    if (u->mechanism) {
        g_assert_cmpstr(i.dirty_tracking, ==,
                        g_str_equal(u->mechanism, "mprotect")
                            ? "mprotect"
                            : "uffd-wp+pagemap-scan");
    }
    g_assert_cmpuint(i.normal + i.duplicate, >=, (1024u << 20) / 4096);
    tracking = g_strdup(i.dirty_tracking);
    vh_mig_info_clear(&i);
    /*
     * At most 4 MiB more of the source's RAM mapped than the guest wrote.
     * uffd-wp markers show in pagemap only with CAP_SYS_ADMIN (root here);
     * without it the source reads what it cannot tell from swap.
     */
    if (geteuid() == 0 || g_str_equal(tracking, "mprotect")) {
        g_assert_cmpuint(after, <=, before + written + 1024);
    }
    g_assert_cmpuint(
        vh_test_guest_checksum(sg), ==,
        vh_test_guest_checksum(vh_machine_get_test_guest(p.dst_m)));
    g_assert_true(
        vh_test_guest_verify(vh_machine_get_test_guest(p.dst_m), NULL, &err));
    g_assert_no_error(err);
    pair_clear(&p);
}

/*
 * Writing faster than max-bandwidth never fits the downtime limit: it
 * keeps iterating, the guest keeps running, and a cancel restores it.
 */
static void test_dirty_not_converging(void)
{
    g_autoptr(GError) err = NULL;
    VhMigInfo i;
    Pair p;

    pair_init(&p, RAM_MB, RAM_MB);
    g_assert_true(
        vh_migration_set_parameter_str(p.src, "max-bandwidth", "64M", &err));
    g_assert_true(
        vh_migration_set_parameter_int(p.src, "downtime-limit", 10, &err));
    vh_test_guest_set_workload(vh_machine_get_test_guest(p.src_m), 256 << 20,
                               VH_DIRTY_RANDOM);
    pair_listen(&p);
    start(&p);
    for (guint k = 0; k < 100; k++) {
        VhMigStatus st = vh_migration_wait(p.src, 100);

        g_assert_true(st == VH_MIG_STATUS_SETUP || st == VH_MIG_STATUS_ACTIVE);
        vh_migration_get_info(p.src, &i);
        if (i.dirty_sync_count >= 3) {
            break;
        }
        vh_mig_info_clear(&i);
    }
    g_assert_cmpuint(i.dirty_sync_count, >=, 3);
    g_assert_cmpint(i.status, ==, VH_MIG_STATUS_ACTIVE);
    g_assert_cmpint(i.expected_downtime, >, 10);
    g_test_message("%" G_GUINT64_FORMAT " bytes in %" G_GINT64_FORMAT
                   " ms: %.1f MiB/s against 64",
                   i.transferred, i.total_time,
                   (double)i.transferred / MAX(i.total_time, 1) * 1000 /
                       (1 << 20));
    /* max-bandwidth holds on average: 64 MiB/s plus one burst. */
    g_assert_cmpfloat((double)i.transferred / MAX(i.total_time, 1) * 1000, <,
                      64.0 * 1.15 * (1 << 20));
    vh_mig_info_clear(&i);
    g_assert_cmpint(vh_machine_get_state(p.src_m), ==, VH_RUN_STATE_RUNNING);
    vh_migration_cancel(p.src);
    g_assert_cmpint(vh_migration_wait(p.src, 10000), ==,
                    VH_MIG_STATUS_CANCELLED);
    vh_test_guest_set_workload(vh_machine_get_test_guest(p.src_m), 0,
                               VH_DIRTY_RANDOM);
    assert_intact(&p);
    /* The target saw the stream cut and never started. */
    g_assert_cmpint(vh_migration_wait(p.dst, 10000), ==, VH_MIG_STATUS_FAILED);
    g_assert_cmpint(vh_machine_get_state(p.dst_m), ==, VH_RUN_STATE_INMIGRATE);
    pair_clear(&p);
}

/* Cancel at several moments; each time a second migrate then works. */
static void test_cancel_points(void)
{
    g_autoptr(GError) err = NULL;
    Pair p;
    static const guint delays_ms[] = {0, 30, 150};

    pair_init(&p, RAM_MB, RAM_MB);
    g_assert_true(
        vh_migration_set_parameter_str(p.src, "max-bandwidth", "32M", &err));
    pair_listen(&p);
    for (guint k = 0; k < G_N_ELEMENTS(delays_ms); k++) {
        start(&p);
        vh_migration_wait(p.src, delays_ms[k] ? delays_ms[k] : 1);
        vh_migration_cancel(p.src);
        g_assert_cmpint(vh_migration_wait(p.src, 10000), ==,
                        VH_MIG_STATUS_CANCELLED);
        assert_intact(&p);
        /* The target's listener takes a new attempt after a cut one. */
        g_assert_cmpint(vh_machine_get_state(p.dst_m), ==,
                        VH_RUN_STATE_INMIGRATE);
    }
    g_assert_true(
        vh_migration_set_parameter_int(p.src, "max-bandwidth", 0, &err));
    start(&p);
    g_assert_cmpint(wait_both(&p), ==, VH_MIG_STATUS_COMPLETED);
    assert_migrated(&p);
    pair_clear(&p);
}

/* A target whose RAM differs refuses at setup; the source fails, intact. */
static void test_refused_setup(void)
{
    g_autofree char *e = NULL;
    Pair p;

    pair_init(&p, RAM_MB, RAM_MB / 2);
    pair_listen(&p);
    start(&p);
    g_assert_cmpint(vh_migration_wait(p.src, 20000), ==, VH_MIG_STATUS_FAILED);
    e = src_error(&p);
    g_assert_nonnull(strstr(e, "the target refused the migration"));
    g_assert_nonnull(strstr(e, "RAM_SETUP"));
    assert_intact(&p);
    pair_clear(&p);
}

/*
 * The target refuses at the very end (its serial ports differ): the
 * source had stopped its guest for the final phase, must not report
 * completed, and runs again.
 */
static void test_refused_end(void)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *e = NULL;
    Pair p;

    pair_init(&p, RAM_MB, RAM_MB);
    p.chr[0] = vh_chardev_null_new("n0", NULL, &err);
    p.chr[1] = vh_chardev_null_new("n1", NULL, &err);
    g_assert_no_error(err);
    p.ports[0] = vh_serial_new("serial0", p.chr[0], NULL, &err);
    p.ports[1] = vh_serial_new("com2", p.chr[1], NULL, &err);
    g_assert_no_error(err);
    vh_serial_register_state(p.ports[0], p.src_m);
    vh_serial_register_state(p.ports[1], p.dst_m);
    pair_listen(&p);
    start(&p);
    g_assert_cmpint(vh_migration_wait(p.src, 20000), ==, VH_MIG_STATUS_FAILED);
    e = src_error(&p);
    g_assert_nonnull(strstr(e, "the target refused the migration"));
    g_assert_nonnull(strstr(e, "device 'serial' instance 0: the port is "
                               "'serial0' on the source but 'com2' here"));
    assert_intact(&p);
    g_assert_cmpint(vh_migration_wait(p.dst, 10000), ==, VH_MIG_STATUS_FAILED);
    g_assert_cmpint(vh_machine_get_state(p.dst_m), ==, VH_RUN_STATE_INMIGRATE);
    pair_clear(&p);
}

/* Nobody listens: the source fails at once, intact, and can retry. */
static void test_no_target(void)
{
    Pair p;

    pair_init(&p, RAM_MB, RAM_MB);
    start(&p);
    g_assert_cmpint(vh_migration_wait(p.src, 20000), ==, VH_MIG_STATUS_FAILED);
    assert_intact(&p);
    pair_listen(&p);
    start(&p);
    g_assert_cmpint(wait_both(&p), ==, VH_MIG_STATUS_COMPLETED);
    assert_migrated(&p);
    pair_clear(&p);
}

/* x509 credentials "mig-tls-src"/"mig-tls-dst" for 127.0.0.1, once. */
static void tls_setup(void)
{
    static TlsTestPki *pki;
    static const char *const ips[] = {"127.0.0.1", NULL};
    g_autofree char *dir = NULL;
    g_autoptr(GError) err = NULL;
    g_autoptr(VhTlsCreds) c = NULL;
    g_autoptr(VhTlsCreds) d = NULL;

    if (pki) {
        return;
    }
    pki = tls_test_pki_new("mig CA");
    dir = tls_test_pki_dir(pki, "both");
    tls_test_pki_issue_server(pki, dir, "C=UK,O=vmhost test,CN=target", NULL,
                              ips, 0, 0);
    tls_test_pki_issue_client(pki, dir, "C=UK,O=vmhost test,CN=source", 0, 0);
    c = tls_test_creds_x509(dir, VH_TLS_CREDS_ENDPOINT_CLIENT, true, "NORMAL",
                            false);
    d = tls_test_creds_x509(dir, VH_TLS_CREDS_ENDPOINT_SERVER, true, "NORMAL",
                            false);
    g_assert_true(vh_object_add("mig-tls-src", G_OBJECT(c), &err));
    g_assert_true(vh_object_add("mig-tls-dst", G_OBJECT(d), &err));
    vh_object_register_builtin_types();
    g_assert_true(vh_object_add_from_string(
        "authz-simple,id=mig-deny,identity=CN=someone-else", &err));
    g_assert_no_error(err);
    /* The PKI directory stays until exit; the test removes it. */
    g_test_queue_destroy((GDestroyNotify)tls_test_pki_free, pki);
}

/* tcp: on an ephemeral port, TLS on every connection. */
static void tls_listen(Pair *p, const char *authz)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *addr = NULL;

    tls_setup();
    g_assert_true(vh_migration_set_parameter_str(p->src, "tls-creds",
                                                 "mig-tls-src", &err));
    g_assert_true(vh_migration_set_parameter_str(p->dst, "tls-creds",
                                                 "mig-tls-dst", &err));
    if (authz) {
        g_assert_true(
            vh_migration_set_parameter_str(p->dst, "tls-authz", authz, &err));
    }
    g_free(p->uri);
    g_assert_true(vh_migration_incoming(p->dst, "tcp:127.0.0.1:0", &err));
    g_assert_no_error(err);
    addr = vh_migration_incoming_address(p->dst);
    g_assert_true(g_str_has_prefix(addr, "tcp:127.0.0.1:"));
    p->uri = g_strdup(addr);
}

static void test_tls_multifd(void)
{
    g_autoptr(GError) err = NULL;
    Pair p;

    pair_init(&p, RAM_MB, RAM_MB);
    for (guint i = 0; i < 2; i++) {
        VhMigration *m = i ? p.dst : p.src;

        g_assert_true(vh_migration_set_capability(m, "multifd", true, &err));
    }
    tls_listen(&p, NULL);
    start(&p);
    g_assert_cmpint(wait_both(&p), ==, VH_MIG_STATUS_COMPLETED);
    assert_migrated(&p);
    pair_clear(&p);
}

/*
 * tls-authz refuses the source's identity: the TLS 1.3 client finishes
 * its handshake before the server decides, yet the source must fail,
 * never report completed, and run on.
 */
static void test_tls_authz_denied(void)
{
    g_autofree char *e = NULL;
    Pair p;

    pair_init(&p, RAM_MB, RAM_MB);
    tls_listen(&p, "mig-deny");
    start(&p);
    g_assert_cmpint(vh_migration_wait(p.src, 20000), ==, VH_MIG_STATUS_FAILED);
    e = src_error(&p);
    g_test_message("source: %s", e);
    assert_intact(&p);
    g_assert_cmpint(vh_machine_get_state(p.dst_m), ==, VH_RUN_STATE_INMIGRATE);
    pair_clear(&p);
}

/* A target without TLS drops a TLS source's hello: the source fails. */
static void test_tls_to_plain(void)
{
    g_autoptr(GError) err = NULL;
    Pair p;

    pair_init(&p, RAM_MB, RAM_MB);
    tls_setup();
    g_assert_true(vh_migration_set_parameter_str(p.src, "tls-creds",
                                                 "mig-tls-src", &err));
    g_assert_true(vh_migration_incoming(p.dst, "tcp:127.0.0.1:0", &err));
    g_free(p.uri);
    p.uri = vh_migration_incoming_address(p.dst);
    start(&p);
    g_assert_cmpint(vh_migration_wait(p.src, 20000), ==, VH_MIG_STATUS_FAILED);
    assert_intact(&p);
    pair_clear(&p);
}

/*
 * A hand-made source sends a whole, valid stream over TLS, then drops the
 * TCP connection without a close-notify: the target must not start.
 */
static gpointer rude_source(gpointer opaque)
{
    Pair *p = opaque;
    g_autoptr(GError) err = NULL;
    g_autoptr(GByteArray) b = g_byte_array_new();
    g_autoptr(VhTlsCreds) creds = NULL;
    VhRamBlock *ram = vh_machine_get_ram(p->src_m);
    guint64 pages = vh_ram_block_get_pages(ram);
    guint8 uuid[16] = {7};
    g_autoptr(GArray) devices = vh_machine_get_devices(p->src_m);
    VhMigCounts c = {0};
    VhMigRpType rp;
    VhMigUri u;
    VhMigTls tls = {0};
    VhChannel *ch;

    creds = vh_object_lookup_typed("mig-tls-src", VH_TYPE_TLS_CREDS, &err);
    tls.creds = creds;
    g_assert_true(vh_mig_uri_parse(p->uri, &u, &err));
    ch = vh_mig_connect(&u, &tls, NULL, NULL, NULL, &err);
    g_assert_no_error(err);
    vh_mig_uri_clear(&u);
    vh_mig_put_header(b, VH_MIG_FLAG_RETURN_PATH, 0, uuid);
    vh_mig_put_ram_setup(b, ram);
    g_assert_true(vh_channel_write_all(ch, b->data, b->len, &err));
    g_assert_true(vh_mig_rp_recv(ch, &rp, &c, &err));
    g_assert_cmpint(rp, ==, VH_MIG_RP_READY);
    memset(&c, 0, sizeof(c));
    for (guint64 first = 0; first < pages; first += 256) {
        guint64 all[4] = {~0ULL, ~0ULL, ~0ULL, ~0ULL};

        g_assert_cmpint(
            vh_mig_send_pages(ch, ram, 0, first, 256, all, &c, &err), >, 0);
    }
    c.iterations = 1;
    g_byte_array_set_size(b, 0);
    vh_mig_put_iter_end(b, 1, 0, NULL);
    vh_mig_put_devices(b, devices, true);
    vh_mig_put_end(b, &c);
    g_assert_true(vh_channel_write_all(ch, b->data, b->len, &err));
    /* Gone without a word: no close-notify. */
    g_assert_true(
        vh_channel_shutdown(vh_channel_tls_get_master(VH_CHANNEL_TLS(ch)),
                            VH_CHANNEL_SHUTDOWN_BOTH, &err));
    g_object_unref(ch);
    return NULL;
}

static void test_tls_no_close_notify(void)
{
    VhMigInfo i;
    GThread *t;
    Pair p;

    pair_init(&p, RAM_MB, RAM_MB);
    tls_listen(&p, NULL);
    t = g_thread_new("rude", rude_source, &p);
    g_assert_cmpint(vh_migration_wait(p.dst, 20000), ==, VH_MIG_STATUS_FAILED);
    g_thread_join(t);
    vh_migration_get_info(p.dst, &i);
    g_assert_nonnull(strstr(i.error, "did not end cleanly"));
    vh_mig_info_clear(&i);
    g_assert_cmpint(vh_machine_get_state(p.dst_m), ==, VH_RUN_STATE_INMIGRATE);
    pair_clear(&p);
}

/* A peer that takes the connection and never answers is cut off. */
static void test_silent_peer(void)
{
    g_autofree char *e = NULL;
    g_autofree char *path = NULL;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd;
    Pair p;

    pair_init(&p, RAM_MB, RAM_MB);
    path = g_strdup_printf("%s/mig.sock", p.dir);
    g_strlcpy(sa.sun_path, path, sizeof(sa.sun_path));
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    g_assert_cmpint(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), ==, 0);
    g_assert_cmpint(listen(fd, 4), ==, 0); /* and never accept */
    g_setenv("VMHOST_MIG_READY_TIMEOUT", "1", true);
    start(&p);
    g_assert_cmpint(vh_migration_wait(p.src, 20000), ==, VH_MIG_STATUS_FAILED);
    g_unsetenv("VMHOST_MIG_READY_TIMEOUT");
    e = src_error(&p);
    g_assert_nonnull(strstr(e, "no answer within 1 s"));
    assert_intact(&p);
    close(fd);
    pair_clear(&p);
}

static void expect_param_error(VhMigration *m, const char *name,
                               const char *value, const char *want)
{
    g_autoptr(GError) err = NULL;

    g_assert_false(vh_migration_set_parameter_str(m, name, value, &err));
    if (!strstr(err->message, want)) {
        g_error("%s=%s: '%s' lacks '%s'", name, value, err->message, want);
    }
}

static void test_parameters(void)
{
    g_autoptr(VhMachine) m = new_machine("p", 4);
    g_autoptr(VhMigration) mig = vh_migration_new(m);
    g_autoptr(GError) err = NULL;
    VhMigParams p;

    vh_migration_get_params(mig, &p);
    g_assert_cmpuint(p.max_bandwidth, ==, 128u << 20);
    g_assert_cmpuint(p.downtime_limit, ==, 300);
    g_assert_cmpuint(p.multifd_channels, ==, 2);
    g_assert_cmpstr(p.tls_creds, ==, "");
    vh_mig_params_clear(&p);
    g_assert_true(
        vh_migration_set_parameter_str(mig, "max-bandwidth", "10", &err));
    g_assert_true(
        vh_migration_set_parameter_str(mig, "downtime-limit", "50", &err));
    g_assert_true(
        vh_migration_set_parameter_str(mig, "tls-creds", "tls0", &err));
    vh_migration_get_params(mig, &p);
    g_assert_cmpuint(p.max_bandwidth, ==, 10u << 20); /* MiB in HMP */
    g_assert_cmpuint(p.downtime_limit, ==, 50);
    g_assert_cmpstr(p.tls_creds, ==, "tls0");
    vh_mig_params_clear(&p);
    expect_param_error(mig, "downtime-limit", "2000001",
                       "'downtime-limit' expects an integer in the range");
    expect_param_error(mig, "downtime-limit", "x", "expects an integer");
    expect_param_error(mig, "multifd-channels", "0",
                       "'multifd-channels' expects a value between 1 and 16");
    expect_param_error(mig, "multifd-channels", "17", "between 1 and 16");
    expect_param_error(mig, "max-bandwidth", "-1", "'max-bandwidth'");
    expect_param_error(mig, "max-bandwidth", "1X", "'max-bandwidth'");
    expect_param_error(mig, "no-such", "1", "Parameter 'no-such' is unknown");
    g_assert_false(vh_migration_set_parameter_int(mig, "tls-creds", 1, &err));
    g_clear_error(&err);
    /* x-postcopy-link-timeout: 0 or 1 s to 1 h, in ms. */
    vh_migration_get_params(mig, &p);
    g_assert_cmpuint(p.postcopy_link_timeout, ==, 10000);
    vh_mig_params_clear(&p);
    g_assert_true(vh_migration_set_parameter_str(mig, "x-postcopy-link-timeout",
                                                 "2000", &err));
    expect_param_error(mig, "x-postcopy-link-timeout", "-1",
                       "'x-postcopy-link-timeout' expects 0 (off");
    expect_param_error(mig, "x-postcopy-link-timeout", "999",
                       "or 1000 to 3600000 milliseconds, not 999");
    expect_param_error(mig, "x-postcopy-link-timeout", "3600001",
                       "'x-postcopy-link-timeout' expects 0 (off");
    expect_param_error(mig, "x-postcopy-link-timeout", "1h",
                       "'x-postcopy-link-timeout' expects an integer");
    g_assert_false(vh_migration_set_parameter_int(
        mig, "x-postcopy-link-timeout", G_MAXINT64, &err));
    g_assert_nonnull(strstr(err->message, "'x-postcopy-link-timeout'"));
    g_clear_error(&err);
    vh_migration_get_params(mig, &p);
    g_assert_cmpuint(p.postcopy_link_timeout, ==, 2000);
    vh_mig_params_clear(&p);
    g_assert_true(vh_migration_set_parameter_int(mig, "x-postcopy-link-timeout",
                                                 0, &err));
    /* x-postcopy-sync-interval: 0 or 10 ms to 10 min. */
    vh_migration_get_params(mig, &p);
    g_assert_cmpuint(p.postcopy_sync_interval, ==, 50);
    vh_mig_params_clear(&p);
    g_assert_true(vh_migration_set_parameter_str(
        mig, "x-postcopy-sync-interval", "200", &err));
    expect_param_error(mig, "x-postcopy-sync-interval", "9",
                       "'x-postcopy-sync-interval' expects 0 (only at each "
                       "pass's end) or 10 to 600000 milliseconds, not 9");
    expect_param_error(mig, "x-postcopy-sync-interval", "600001", "not 600001");
    expect_param_error(mig, "x-postcopy-sync-interval", "-1", "not -1");
    expect_param_error(mig, "x-postcopy-sync-interval", "50ms",
                       "'x-postcopy-sync-interval' expects an integer");
    vh_migration_get_params(mig, &p);
    g_assert_cmpuint(p.postcopy_sync_interval, ==, 200);
    vh_mig_params_clear(&p);
    g_assert_true(vh_migration_set_parameter_int(
        mig, "x-postcopy-sync-interval", 0, &err));
    /* Capabilities. */
    g_assert_false(vh_migration_get_capability(mig, "multifd"));
    g_assert_true(vh_migration_get_capability(mig, "return-path"));
    g_assert_true(vh_migration_set_capability(mig, "multifd", true, &err));
    g_assert_true(vh_migration_get_capability(mig, "multifd"));
    /* Anonymous RAM: userfaultfd can register it (issue 15). */
    g_assert_true(vh_migration_set_capability(mig, "postcopy-ram", true, &err));
    g_assert_true(vh_migration_get_capability(mig, "postcopy-ram"));
    g_assert_true(
        vh_migration_set_capability(mig, "postcopy-ram", false, &err));
    g_assert_false(
        vh_migration_set_capability(mig, "return-path", false, &err));
    g_clear_error(&err);
    g_assert_false(vh_migration_set_capability(mig, "xbzrle", true, &err));
    g_assert_nonnull(strstr(err->message, "Capability 'xbzrle' is unknown"));
}

static void test_start_errors(void)
{
    g_autoptr(VhMachine) m = new_machine("s", 4);
    g_autoptr(VhMigration) mig = vh_migration_new(m);
    g_autoptr(GError) err = NULL;

    g_assert_false(vh_migration_start(mig, "bogus:x", &err));
    g_assert_nonnull(err);
    g_clear_error(&err);
    g_assert_true(
        vh_migration_set_parameter_str(mig, "tls-creds", "nope", &err));
    g_assert_false(vh_migration_start(mig, "unix:/nonexistent", &err));
    g_assert_nonnull(strstr(err->message, "Parameter 'tls-creds'"));
    g_clear_error(&err);
    /* A target cannot be a source, nor receive twice. */
    g_assert_false(vh_migration_incoming(mig, "unix:/tmp/x", &err));
    g_assert_nonnull(strstr(err->message, "-incoming"));
    g_assert_cmpint(vh_migration_get_status(mig), ==, VH_MIG_STATUS_NONE);
}

static const Untouched untouched[] = {
    {0, "uffd-wp", 0},
    {2, NULL, 0},
    {0, "mprotect", 0},
    {2, NULL, 64 << 20},
};

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/migration/engine/parameters", test_parameters);
    g_test_add_func("/migration/engine/start-errors", test_start_errors);
    g_test_add_func("/migration/engine/unix", test_plain);
    g_test_add_data_func("/migration/engine/multifd/1", GUINT_TO_POINTER(1),
                         test_multifd);
    g_test_add_data_func("/migration/engine/multifd/2", GUINT_TO_POINTER(2),
                         test_multifd);
    g_test_add_data_func("/migration/engine/multifd/4", GUINT_TO_POINTER(4),
                         test_multifd);
    g_test_add_func("/migration/engine/dirty-converging",
                    test_dirty_converging);
    g_test_add_func("/migration/engine/dirty-not-converging",
                    test_dirty_not_converging);
    g_test_add_func("/migration/engine/cancel-points", test_cancel_points);
    g_test_add_func("/migration/engine/device-state", test_device_state);
    g_test_add_data_func("/migration/engine/untouched-ram/uffd", &untouched[0],
                         test_untouched_ram);
    g_test_add_data_func("/migration/engine/untouched-ram/multifd",
                         &untouched[1], test_untouched_ram);
    g_test_add_data_func("/migration/engine/untouched-ram/mprotect",
                         &untouched[2], test_untouched_ram);
    g_test_add_data_func("/migration/engine/untouched-ram/running",
                         &untouched[3], test_untouched_ram);
    g_test_add_func("/migration/engine/refused-setup", test_refused_setup);
    g_test_add_func("/migration/engine/refused-end", test_refused_end);
    g_test_add_func("/migration/engine/no-target", test_no_target);
    g_test_add_func("/migration/engine/silent-peer", test_silent_peer);
    g_test_add_func("/migration/engine/tls-multifd", test_tls_multifd);
    g_test_add_func("/migration/engine/tls-authz-denied",
                    test_tls_authz_denied);
    g_test_add_func("/migration/engine/tls-to-plain", test_tls_to_plain);
    g_test_add_func("/migration/engine/tls-no-close-notify",
                    test_tls_no_close_notify);
    return g_test_run();
}
