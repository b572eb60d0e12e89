/*
 * Tests for the migration stream (lib/migration/stream.c): writers and the
 * loader over socket pairs, every malformed field, truncation, multifd
 * channel ordering.
 */
#include "vmhost/chardev/char-null.h"
#include "vmhost/io/channel-buffer.h"
#include "vmhost/io/channel-socket.h"
#include "vmhost/machine/serial.h"
#include "vmhost/machine/test-guest.h"
#include "vmhost/migration/stream.h"
#include "vmhost/util/error.h"

#include <string.h>

/* The post-copy received bitmap and the RAM check (private to lib/migration). */
#include "../../lib/migration/dirty-priv.h"
#include "../../lib/migration/postcopy-priv.h"
/* A paused loader, for the resume header (private to lib/migration). */
#include "../../lib/migration/stream-priv.h"

#define PAGES 1024u /* 4 MiB */

static const guint8 uuid[16] = {1, 2,  3,  4,  5,  6,  7,  8,
                                9, 10, 11, 12, 13, 14, 15, 16};

static VhRamBlock *new_ram(guint pages)
{
    g_autoptr(GError) err = NULL;
    VhRamBlock *ram =
        vh_ram_block_new("pc.ram", (guint64)pages * 4096, false, &err);

    g_assert_no_error(err);
    return ram;
}

/* Pattern: page i holds i+1 in every word, except every 4th page (zero). */
static void fill_ram(VhRamBlock *ram, guint64 salt)
{
    guint64 *w = vh_ram_block_get_host(ram);
    guint64 pages = vh_ram_block_get_pages(ram);

    for (guint64 p = 0; p < pages; p++) {
        for (guint i = 0; i < 512; i++) {
            w[p * 512 + i] = p % 4 == 0 ? 0 : (p + 1) * 1000003 + i + salt;
        }
    }
}

static void pair(VhChannel **a, VhChannel **b)
{
    VhChannelSocket *x = NULL, *y = NULL;
    g_autoptr(GError) err = NULL;

    g_assert_true(vh_channel_socket_pair(&x, &y, &err));
    *a = VH_CHANNEL(x);
    *b = VH_CHANNEL(y);
}

/* The source's device state, as the stream carries it. */
typedef struct {
    bool running;
    guint64 rate;
    guint32 pattern;
    guint64 rng;
    guint64 cursor;
    guint nports;
    const char *ids[2];
    guint64 commands;
    guint64 dropped;
} SrcDevices;

static void default_devices(SrcDevices *d)
{
    memset(d, 0, sizeof(*d));
    d->running = true;
    d->rate = 1 << 20;
    d->pattern = 2;
    d->rng = 0x0123456789abcdefULL;
    d->cursor = 5;
    d->nports = 1;
    d->ids[0] = "serial0";
    d->commands = 3;
    d->dropped = 11;
}

/* The test guest's payload (version 2), field by field. */
static void put_guest_section(GByteArray *b, guint32 version, guint64 rate,
                              guint32 pattern, guint32 reserved, guint64 rng,
                              guint64 cursor, guint32 len)
{
    g_autoptr(GByteArray) p = g_byte_array_new();

    vh_mig_put_u64(p, rate);
    vh_mig_put_u32(p, pattern);
    vh_mig_put_u32(p, reserved);
    vh_mig_put_u64(p, rng);
    vh_mig_put_u64(p, cursor);
    vh_mig_put_device_section(b, "test-guest", 0, version, p->data,
                              MIN(len, p->len));
}

/* MACHINE, the test guest and the serial ports, as a source writes them. */
static void put_src_devices(GByteArray *b, const SrcDevices *d)
{
    vh_mig_put_machine(b, d->running);
    put_guest_section(b, 2, d->rate, d->pattern, 0, d->rng, d->cursor, 32);
    for (guint i = 0; i < d->nports; i++) {
        g_autoptr(GByteArray) p = g_byte_array_new();

        vh_mig_put_u32(p, (guint32)strlen(d->ids[i]));
        g_byte_array_append(p, (const guint8 *)d->ids[i],
                            (guint)strlen(d->ids[i]));
        vh_mig_put_u32(p, i == 0 ? 1 : 0);
        vh_mig_put_u64(p, d->commands);
        vh_mig_put_u64(p, d->dropped);
        vh_mig_put_device_section(b, "serial", i, 1, p->data, p->len);
    }
}

/*
 * The target's devices: a test guest with @data_pages data pages (its own
 * RAM, so that the RAM under test stays as the test made it) and its
 * console serial0.
 */
typedef struct {
    VhRamBlock *ram;
    VhTestGuest *guest;
    VhChardev *chr;
    VhSerial *port;
    GArray *devices;
} DstDevices;

static void dst_devices_init(DstDevices *d, guint64 data_pages)
{
    g_autoptr(GError) err = NULL;
    VhDeviceEntry e[2];
    guint64 pages = data_pages + 2;

    /* Header, a table page per 512 data pages, the data pages. */
    while (pages - 1 - (pages - 1 + 512) / 513 < data_pages) {
        pages++;
    }
    d->ram = vh_ram_block_new("guest.ram", pages * 4096, false, &err);
    g_assert_no_error(err);
    d->guest = vh_test_guest_new(d->ram, &err);
    g_assert_no_error(err);
    g_assert_cmpuint(vh_test_guest_get_data_pages(d->guest), ==, data_pages);
    d->chr = vh_chardev_null_new("stream-test-serial0", NULL, &err);
    g_assert_no_error(err);
    d->port = vh_serial_new("serial0", d->chr, d->guest, &err);
    g_assert_no_error(err);
    e[0] = (VhDeviceEntry){&vh_test_guest_state_ops, d->guest, 0};
    e[1] = (VhDeviceEntry){&vh_serial_state_ops, d->port, 0};
    d->devices = g_array_new(false, true, sizeof(VhDeviceEntry));
    g_array_append_vals(d->devices, e, 2);
}

static void dst_devices_clear(DstDevices *d)
{
    g_array_unref(d->devices);
    vh_serial_free(d->port);
    g_object_unref(d->chr);
    vh_test_guest_free(d->guest);
    vh_ram_block_free(d->ram);
}

/* A whole single-channel stream of @ram into @b (no return path). */
static void build_stream(GByteArray *b, VhRamBlock *ram, guint32 flags)
{
    SrcDevices d;
    VhMigCounts c = {0};
    guint64 pages = vh_ram_block_get_pages(ram);
    g_autoptr(VhChannelBuffer) buf = vh_channel_buffer_new(1 << 20);
    g_autoptr(GError) err = NULL;
    const guint8 *data;
    size_t len;

    vh_mig_put_header(b, flags, 0, uuid);
    vh_mig_put_ram_setup(b, ram);
    for (guint64 first = 0; first < pages; first += 256) {
        guint64 present[4] = {~0ULL, ~0ULL, ~0ULL, ~0ULL};
        guint32 count = (guint32)MIN(256, pages - first);

        if (count < 256) {
            memset(present, 0, sizeof(present));
            for (guint i = 0; i < count; i++) {
                present[i / 64] |= 1ULL << (i % 64);
            }
        }
        g_assert_cmpint(vh_mig_send_pages(VH_CHANNEL(buf), ram, 0, first, count,
                                          present, &c, &err),
                        >, 0);
        g_assert_no_error(err);
    }
    data = vh_channel_buffer_get_data(buf, &len);
    g_byte_array_append(b, data, (guint)len);
    vh_mig_put_iter_end(b, 1, 0, NULL);
    c.iterations = 1;
    default_devices(&d);
    put_src_devices(b, &d);
    vh_mig_put_end(b, &c);
}

typedef struct {
    VhChannel *ch;
    GBytes *data;
    bool shutdown;
} Feeder;

static gpointer feed_thread(gpointer opaque)
{
    Feeder *f = opaque;
    gsize len;
    const guint8 *p = g_bytes_get_data(f->data, &len);
    g_autoptr(GError) err = NULL;

    /* The loader may stop reading early: a failed write is fine. */
    if (vh_channel_write_all(f->ch, p, len, &err) && f->shutdown) {
        g_autoptr(GError) e2 = NULL;

        if (!vh_channel_shutdown(f->ch, VH_CHANNEL_SHUTDOWN_WRITE, &e2)) {
            g_test_message("feeder: %s", e2->message);
        }
    }
    return NULL;
}

/*
 * Load @data with a fresh loader into @ram, whose test guest has
 * @guest_pages data pages (0: as many as @ram has pages); returns success.
 */
static bool load_bytes_guest(VhRamBlock *ram, const guint8 *data, gsize len,
                             guint64 guest_pages, GError **errp)
{
    g_autoptr(VhMigLoader) l = vh_mig_loader_new(ram, false);
    DstDevices dd;
    VhChannel *a, *b;
    Feeder f;
    GThread *t;
    bool ok;

    dst_devices_init(&dd,
                     guest_pages ? guest_pages : vh_ram_block_get_pages(ram));
    vh_mig_loader_set_devices(l, dd.devices);
    pair(&a, &b);
    f.ch = a;
    f.data = g_bytes_new(data, len);
    f.shutdown = true;
    t = g_thread_new("feed", feed_thread, &f);
    ok = vh_mig_loader_run_main(l, b, NULL, errp);
    /* Unblock a feeder stuck on a full socket. */
    vh_channel_close(b, NULL);
    g_thread_join(t);
    g_bytes_unref(f.data);
    g_object_unref(a);
    g_object_unref(b);
    g_clear_pointer(&l, vh_mig_loader_free);
    dst_devices_clear(&dd);
    return ok;
}

static bool load_bytes(VhRamBlock *ram, const guint8 *data, gsize len,
                       GError **errp)
{
    return load_bytes_guest(ram, data, len, 0, errp);
}

static void test_round_trip(void)
{
    g_autoptr(VhRamBlock) src = new_ram(PAGES + 5);
    g_autoptr(VhRamBlock) dst = new_ram(PAGES + 5);
    g_autoptr(GByteArray) b = g_byte_array_new();
    g_autoptr(GError) err = NULL;

    fill_ram(src, 0);
    /* Stale content where zero pages go must be cleared. */
    fill_ram(dst, 99);
    memset(vh_ram_block_get_host(dst), 0x55, 4096);
    build_stream(b, src, 0);
    g_assert_true(load_bytes(dst, b->data, b->len, &err));
    g_assert_no_error(err);
    g_assert_cmpmem(vh_ram_block_get_host(src), vh_ram_block_get_size(src),
                    vh_ram_block_get_host(dst), vh_ram_block_get_size(dst));
}

static void test_zero_pages_cost_bits(void)
{
    g_autoptr(VhRamBlock) src = new_ram(256);
    g_autoptr(VhChannelBuffer) buf = vh_channel_buffer_new(4096);
    g_autoptr(GError) err = NULL;
    guint64 present[4] = {~0ULL, ~0ULL, ~0ULL, ~0ULL};
    VhMigCounts c = {0};
    gint64 n;

    /* Fresh RAM: all zero, a record is just its header. */
    n = vh_mig_send_pages(VH_CHANNEL(buf), src, 0, 0, 256, present, &c, &err);
    g_assert_no_error(err);
    g_assert_cmpint(n, ==, 8 + VH_MIG_PAGES_BODY);
    g_assert_cmpuint(c.zero, ==, 256);
    g_assert_cmpuint(c.normal, ==, 0);
    ((guint8 *)vh_ram_block_get_host(src))[4096 * 3 + 4095] = 1;
    n = vh_mig_send_pages(VH_CHANNEL(buf), src, 0, 0, 256, present, &c, &err);
    g_assert_cmpint(n, ==, 8 + VH_MIG_PAGES_BODY + 4096);
    g_assert_cmpuint(c.normal, ==, 1);
}

/* ---- malformed streams ---- */

typedef struct {
    const char *name;
    gsize offset; /* from the start of the stream */
    guint32 value;
    bool is64;
    const char *expect; /* substring of the error */
} Corruption;

/*
 * Offsets in a stream built by build_stream() of a 300-page RAM:
 * header 0..47; RAM_SETUP section header 48, body 56: blocks 56, name len
 * 60, name 64..69 ("pc.ram"), size 70, pages 78; first PAGES record at
 * 86: type 86, len 90, block 94, count 98, first 102, present 110..141,
 * zero 142..173, data 174...
 */
static const Corruption corruptions[] = {
    {"magic", 0, 0x41414141, false, "bad magic"},
    {"version", 8, 4, false, "version 4 not supported"},
    {"version-1", 8, 1, false, "version 1 not supported"},
    {"version-2", 8, 2, false, "version 2 not supported"},
    {"page-size", 12, 8192, false, "page size 8192"},
    {"flags", 16, 0x80, false, "unknown flags"},
    {"multifd-refused", 16, 1, false, "multifd channel count 0"},
    {"channels", 20, 3, false, "channel count 3 without the multifd flag"},
    {"reserved", 40, 1, false, "reserved field"},
    {"first-section", 48, 2, false, "RAM_SETUP must come first"},
    {"setup-len", 52, 5000, false, "RAM_SETUP: section length"},
    {"setup-blocks", 56, 0, false, "block count 0"},
    {"setup-two-blocks", 56, 2, false, "2 RAM blocks"},
    {"setup-name-len", 60, 0, false, "name: length 0"},
    {"setup-name-byte", 64, 0x0a0a0a0a, false, "not printable"},
    {"setup-size", 70, 4097, true, "not a non-zero multiple"},
    {"setup-size-mismatch", 70, 0, true, NULL},
    {"setup-pages", 78, 7, true, "page count 7 does not match"},
    {"section-type", 86, 42, false, "unknown section type 42"},
    {"pages-len", 90, 81, false, "PAGES: section length 81"},
    {"pages-block", 94, 1, false, "block index 1 out of range"},
    {"pages-count", 98, 0, false, "page count 0 out of range"},
    {"pages-count-big", 98, 257, false, "page count 257 out of range"},
    {"pages-range", 102, 290, true, "past the end of block 0"},
    {"pages-present-empty", 110, 0, true, NULL /* see below */},
    {"pages-zero-not-present", 142, 0, true, NULL},
};

static void put32(guint8 *p, guint32 v)
{
    v = GUINT32_TO_LE(v);
    memcpy(p, &v, 4);
}

static void put64(guint8 *p, guint64 v)
{
    v = GUINT64_TO_LE(v);
    memcpy(p, &v, 8);
}

static void test_malformed(gconstpointer data)
{
    const Corruption *c = data;
    g_autoptr(VhRamBlock) src = new_ram(300);
    g_autoptr(VhRamBlock) dst = new_ram(300);
    g_autoptr(GByteArray) b = g_byte_array_new();
    g_autoptr(GError) err = NULL;

    fill_ram(src, 0);
    build_stream(b, src, 0);
    g_assert_cmpmem(b->data + 64, 6, "pc.ram", 6);
    if (c->expect) {
        if (c->is64) {
            put64(b->data + c->offset, c->value);
        } else {
            put32(b->data + c->offset, c->value);
        }
        g_assert_false(load_bytes(dst, b->data, b->len, &err));
        g_assert_nonnull(err);
        if (!strstr(err->message, c->expect)) {
            g_error("%s: '%s' lacks '%s'", c->name, err->message, c->expect);
        }
        return;
    }
    if (g_str_equal(c->name, "setup-size-mismatch")) {
        /* Consistent in itself, but not this machine's size. */
        put64(b->data + 70, 301 * 4096);
        put64(b->data + 78, 301);
        g_assert_false(load_bytes(dst, b->data, b->len, &err));
        g_assert_nonnull(strstr(err->message, "is 1232896 bytes on the source "
                                              "but 'pc.ram' is 1228800"));
    } else if (g_str_equal(c->name, "pages-present-empty")) {
        /* Present bitmap all clear: the record carries nothing. */
        memset(b->data + 110, 0, 64);
        g_assert_false(load_bytes(dst, b->data, b->len, &err));
        g_assert_nonnull(strstr(err->message, "present bitmap is empty"));
    } else {
        /* Page 0 is zero: clear its present bit, leave its zero bit. */
        b->data[110] &= (guint8)~1u;
        g_assert_false(load_bytes(dst, b->data, b->len, &err));
        g_assert_nonnull(strstr(err->message, "zero bitmap marks pages"));
    }
}

/* Sections appended after a valid RAM_SETUP + one full iteration. */
static void prefix_stream(GByteArray *b, VhRamBlock *ram)
{
    vh_mig_put_header(b, 0, 0, uuid);
    vh_mig_put_ram_setup(b, ram);
}

static void expect_failure(VhRamBlock *ram, GByteArray *b, const char *want)
{
    g_autoptr(GError) err = NULL;

    g_assert_false(load_bytes(ram, b->data, b->len, &err));
    if (!strstr(err->message, want)) {
        g_error("'%s' lacks '%s'", err->message, want);
    }
}

static void test_bad_order(void)
{
    g_autoptr(VhRamBlock) ram = new_ram(64);
    SrcDevices d;
    VhMigCounts c = {.iterations = 1};

    default_devices(&d);
    {
        /* Device state before any ITER_END. */
        g_autoptr(GByteArray) b = g_byte_array_new();

        prefix_stream(b, ram);
        put_src_devices(b, &d);
        expect_failure(ram, b, "device state before the final ITER_END");
    }
    {
        /* ITER_END numbering must not skip. */
        g_autoptr(GByteArray) b = g_byte_array_new();

        prefix_stream(b, ram);
        vh_mig_put_iter_end(b, 2, 0, NULL);
        expect_failure(ram, b, "iteration 2 out of order");
    }
    {
        /* END before the device state. */
        g_autoptr(GByteArray) b = g_byte_array_new();

        prefix_stream(b, ram);
        vh_mig_put_iter_end(b, 1, 0, NULL);
        vh_mig_put_end(b, &c);
        expect_failure(ram, b, "END before the device state");
    }
    {
        /* Totals that do not match what arrived. */
        g_autoptr(GByteArray) b = g_byte_array_new();
        VhMigCounts wrong = {.records = 5, .iterations = 1};

        prefix_stream(b, ram);
        vh_mig_put_iter_end(b, 1, 0, NULL);
        put_src_devices(b, &d);
        vh_mig_put_end(b, &wrong);
        expect_failure(ram, b, "END: the source sent 5 records");
    }
    {
        /* A device section twice. */
        g_autoptr(GByteArray) b = g_byte_array_new();

        prefix_stream(b, ram);
        vh_mig_put_iter_end(b, 1, 0, NULL);
        put_src_devices(b, &d);
        put_src_devices(b, &d);
        expect_failure(ram, b, "MACHINE: a second one");
    }
    {
        /* Data after END. */
        g_autoptr(GByteArray) b = g_byte_array_new();

        prefix_stream(b, ram);
        vh_mig_put_iter_end(b, 1, 0, NULL);
        put_src_devices(b, &d);
        vh_mig_put_end(b, &c);
        vh_mig_put_u32(b, 0);
        expect_failure(ram, b, "data after the end marker");
    }
    {
        /* A serial port the target lacks. */
        g_autoptr(GByteArray) b = g_byte_array_new();
        SrcDevices d2;

        default_devices(&d2);
        d2.nports = 2;
        d2.ids[1] = "serial1";
        prefix_stream(b, ram);
        vh_mig_put_iter_end(b, 1, 0, NULL);
        put_src_devices(b, &d2);
        expect_failure(ram, b,
                       "DEVICE: 'serial' instance 1 is not a device of this "
                       "machine (it has: test-guest 0, serial 0)");
    }
    {
        /* A device kind this vmhost does not know, refused by name. */
        g_autoptr(GByteArray) b = g_byte_array_new();

        prefix_stream(b, ram);
        vh_mig_put_iter_end(b, 1, 0, NULL);
        vh_mig_put_machine(b, true);
        vh_mig_put_device_section(b, "virtio-rng", 0, 1, "", 0);
        expect_failure(ram, b,
                       "DEVICE: 'virtio-rng' instance 0 is not a device of "
                       "this machine");
    }
    {
        /* A device of ours in a version too new, or too old, to load. */
        g_autoptr(GByteArray) b = g_byte_array_new();

        prefix_stream(b, ram);
        vh_mig_put_iter_end(b, 1, 0, NULL);
        put_guest_section(b, 3, 0, 0, 0, 0, 0, 32);
        expect_failure(ram, b,
                       "device 'test-guest' instance 0: version 3, this "
                       "vmhost loads versions 2..2 (the source is newer)");
        g_byte_array_set_size(b, 0);
        prefix_stream(b, ram);
        vh_mig_put_iter_end(b, 1, 0, NULL);
        put_guest_section(b, 1, 0, 0, 0, 0, 0, 24);
        expect_failure(ram, b,
                       "device 'test-guest' instance 0: version 1, this "
                       "vmhost loads versions 2..2 (the source is older)");
    }
    {
        /* A device's state twice. */
        g_autoptr(GByteArray) b = g_byte_array_new();

        prefix_stream(b, ram);
        vh_mig_put_iter_end(b, 1, 0, NULL);
        put_guest_section(b, 2, 0, 0, 0, 0, 0, 32);
        put_guest_section(b, 2, 0, 0, 0, 0, 0, 32);
        expect_failure(ram, b, "device 'test-guest' instance 0: a second one");
    }
    {
        /* A device of this machine missing from the stream. */
        g_autoptr(GByteArray) b = g_byte_array_new();
        SrcDevices d2;

        default_devices(&d2);
        d2.nports = 0;
        prefix_stream(b, ram);
        vh_mig_put_iter_end(b, 1, 0, NULL);
        put_src_devices(b, &d2);
        vh_mig_put_end(b, &c);
        expect_failure(ram, b,
                       "END before the device state of 'serial' instance 0");
    }
    {
        /* A DEVICE section whose payload length disagrees with it. */
        g_autoptr(GByteArray) b = g_byte_array_new();

        prefix_stream(b, ram);
        vh_mig_put_iter_end(b, 1, 0, NULL);
        put_guest_section(b, 2, 0, 0, 0, 0, 0, 32);
        put32(b->data + b->len - 36, 31);
        expect_failure(ram, b, "payload length 31 does not match");
    }
    {
        /* Bad device fields. */
        g_autoptr(GByteArray) b = g_byte_array_new();

        prefix_stream(b, ram);
        vh_mig_put_iter_end(b, 1, 0, NULL);
        put_guest_section(b, 2, 0, 9, 0, 0, 0, 32);
        expect_failure(ram, b, "workload pattern 9 unknown");
    }
    {
        /* Version 1's payload (no workload position) is too short. */
        g_autoptr(GByteArray) b = g_byte_array_new();

        prefix_stream(b, ram);
        vh_mig_put_iter_end(b, 1, 0, NULL);
        put_guest_section(b, 2, 0, 0, 0, 0, 0, 24);
        expect_failure(ram, b,
                       "device 'test-guest' instance 0: payload length 24, "
                       "expected 32");
    }
    {
        g_autoptr(GByteArray) b = g_byte_array_new();

        prefix_stream(b, ram);
        vh_mig_put_iter_end(b, 1, 0, NULL);
        put_guest_section(b, 2, 0, 0, 1, 0, 0, 32);
        expect_failure(ram, b,
                       "device 'test-guest' instance 0: reserved field is not "
                       "zero");
    }
    {
        /* A guest of as many data pages as RAM pages: cursor 64 is past. */
        g_autoptr(GByteArray) b = g_byte_array_new();
        SrcDevices d2;

        default_devices(&d2);
        d2.cursor = 64;
        prefix_stream(b, ram);
        vh_mig_put_iter_end(b, 1, 0, NULL);
        put_src_devices(b, &d2);
        expect_failure(ram, b,
                       "device 'test-guest' instance 0: workload cursor 64 "
                       "past the test guest's 64 data pages");
    }
    {
        /* The target's guest has fewer data pages than the RAM pages. */
        g_autoptr(GByteArray) b = g_byte_array_new();
        g_autoptr(GError) err = NULL;
        VhMigCounts c0 = {.iterations = 1};
        SrcDevices d2;

        default_devices(&d2);
        d2.cursor = 62;
        prefix_stream(b, ram);
        vh_mig_put_iter_end(b, 1, 0, NULL);
        put_src_devices(b, &d2);
        vh_mig_put_end(b, &c0);
        g_assert_false(load_bytes_guest(ram, b->data, b->len, 62, &err));
        g_assert_nonnull(strstr(err->message, "workload cursor 62 past the "
                                              "test guest's 62 data pages"));
        g_clear_error(&err);
        /* ... and the same stream with cursor 61 loads. */
        g_byte_array_set_size(b, 0);
        d2.cursor = 61;
        prefix_stream(b, ram);
        vh_mig_put_iter_end(b, 1, 0, NULL);
        put_src_devices(b, &d2);
        vh_mig_put_end(b, &c0);
        g_assert_true(load_bytes_guest(ram, b->data, b->len, 62, &err));
        g_assert_no_error(err);
    }
    {
        /* A serial port whose id differs. */
        g_autoptr(GByteArray) b = g_byte_array_new();
        SrcDevices d2;

        default_devices(&d2);
        d2.ids[0] = "com1";
        prefix_stream(b, ram);
        vh_mig_put_iter_end(b, 1, 0, NULL);
        put_src_devices(b, &d2);
        expect_failure(ram, b,
                       "device 'serial' instance 0: the port is 'com1' "
                       "(console) on the source but 'serial0' (console) here");
    }
    {
        g_autoptr(GByteArray) b = g_byte_array_new();

        prefix_stream(b, ram);
        vh_mig_put_iter_end(b, 1, 0, NULL);
        vh_mig_put_section(b, VH_MIG_SEC_MACHINE, 8);
        vh_mig_put_u32(b, 2);
        vh_mig_put_u32(b, 0);
        expect_failure(ram, b, "running flag 2");
    }
    {
        /* SYNC belongs to channels only. */
        g_autoptr(GByteArray) b = g_byte_array_new();

        prefix_stream(b, ram);
        vh_mig_put_section(b, VH_MIG_SEC_SYNC, 16);
        expect_failure(ram, b, "unknown section type 8 on the main stream");
    }
}

/* Every proper prefix of a valid stream fails as truncated, no crash. */
static void test_truncated(void)
{
    g_autoptr(VhRamBlock) src = new_ram(64);
    g_autoptr(VhRamBlock) dst = new_ram(64);
    g_autoptr(GByteArray) b = g_byte_array_new();
    g_autoptr(GError) err = NULL;
    gsize step;

    fill_ram(src, 1);
    build_stream(b, src, 0);
    g_assert_true(load_bytes(dst, b->data, b->len, &err));
    g_assert_no_error(err);
    step = g_test_slow() ? 1 : 61;
    for (gsize len = 0; len < b->len; len += len < 400 ? 1 : step) {
        g_autoptr(GError) e = NULL;

        g_assert_false(load_bytes(dst, b->data, len, &e));
        g_assert_nonnull(strstr(e->message, "truncated"));
    }
}

/* ---- return path ---- */

static void test_return_path(void)
{
    g_autoptr(VhChannelBuffer) buf = vh_channel_buffer_new(64);
    g_autoptr(GError) err = NULL;
    VhMigCounts c = {.records = 3, .normal = 4, .zero = 5}, got;
    VhMigRpType t;

    g_assert_true(
        vh_mig_rp_send(VH_CHANNEL(buf), VH_MIG_RP_READY, NULL, 0, &err));
    g_assert_true(vh_mig_rp_send_loaded(VH_CHANNEL(buf), &c, &err));
    vh_mig_rp_send_error(VH_CHANNEL(buf), "client DN denied");
    g_assert_cmpint(vh_channel_seek(VH_CHANNEL(buf), 0, SEEK_SET, &err), ==, 0);
    g_assert_true(vh_mig_rp_recv(VH_CHANNEL(buf), &t, &got, &err));
    g_assert_cmpint(t, ==, VH_MIG_RP_READY);
    g_assert_true(vh_mig_rp_recv(VH_CHANNEL(buf), &t, &got, &err));
    g_assert_cmpint(t, ==, VH_MIG_RP_LOADED);
    g_assert_cmpuint(got.records, ==, 3);
    g_assert_cmpuint(got.zero, ==, 5);
    g_assert_false(vh_mig_rp_recv(VH_CHANNEL(buf), &t, &got, &err));
    g_assert_nonnull(
        strstr(err->message, "the target refused the migration: client DN"));
    g_clear_error(&err);
    /* The target went away without a word. */
    g_assert_false(vh_mig_rp_recv(VH_CHANNEL(buf), &t, &got, &err));
    g_assert_nonnull(strstr(err->message, "without an answer"));
    g_clear_error(&err);
    /* A malformed message. */
    g_assert_true(vh_mig_rp_send(VH_CHANNEL(buf), 9, "x", 1, &err));
    g_assert_cmpint(vh_channel_seek(VH_CHANNEL(buf), -9, SEEK_END, &err), >, 0);
    g_assert_false(vh_mig_rp_recv(VH_CHANNEL(buf), &t, &got, &err));
    g_assert_nonnull(strstr(err->message, "malformed message (type 9"));
}

/*
 * TLS on one side only: a TLS target answers a plain source's stream with
 * an alert (7 bytes) where the source reads its first return path message
 * (8); a TLS source's ClientHello arrives where the target reads the
 * stream header. Each side names the cause instead of a short read.
 */
static void test_tls_mismatch(void)
{
    static const guint8 alert[] = {0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x0a};
    static const guint8 hello[] = {0x16, 0x03, 0x01, 0x00, 0xc8, 0x01,
                                   0x00, 0x00, 0xc4, 0x03, 0x03};
    g_autoptr(VhChannelBuffer) buf = vh_channel_buffer_new(64);
    g_autoptr(GError) err = NULL;
    g_autoptr(VhRamBlock) dst = new_ram(16);
    g_autoptr(GByteArray) b = g_byte_array_new();
    VhMigCounts got;
    VhMigRpType t;

    g_assert_true(vh_channel_write_all(VH_CHANNEL(buf), (const char *)alert,
                                       sizeof(alert), &err));
    g_assert_cmpint(vh_channel_seek(VH_CHANNEL(buf), 0, SEEK_SET, &err), ==, 0);
    g_assert_false(vh_mig_rp_recv(VH_CHANNEL(buf), &t, &got, &err));
    g_test_message("source: %s", err->message);
    g_assert_nonnull(
        strstr(err->message, "the target expects TLS (set tls-creds)"));
    g_clear_error(&err);

    /* The stream header: 48 bytes of a ClientHello. */
    g_byte_array_append(b, hello, sizeof(hello));
    while (b->len < 512) {
        g_byte_array_append(b, (const guint8 *)"\x00", 1);
    }
    g_assert_false(load_bytes(dst, b->data, b->len, &err));
    g_test_message("target: %s", err->message);
    g_assert_nonnull(strstr(err->message, "the source sent a TLS handshake; "
                                          "set tls-creds on the target"));
    g_assert_true(vh_mig_is_tls_record(hello));
    g_assert_false(vh_mig_is_tls_record((const guint8 *)VH_MIG_STREAM_MAGIC));
    g_assert_false(vh_mig_is_tls_record((const guint8 *)"\x16\x02\x00"));
    g_assert_false(vh_mig_is_tls_record((const guint8 *)"\x17\x03\x03"));
}

/* The loader answers READY when the header asks for a return path. */
static void test_ready_sent(void)
{
    g_autoptr(VhRamBlock) src = new_ram(64);
    g_autoptr(VhRamBlock) dst = new_ram(64);
    g_autoptr(GByteArray) b = g_byte_array_new();
    g_autoptr(VhMigLoader) l = vh_mig_loader_new(dst, false);
    g_autoptr(GError) err = NULL;
    VhChannel *a, *c;
    Feeder f;
    GThread *t;
    VhMigRpType type;
    VhMigCounts counts;
    VhTestGuestWorkloadState ws;
    DstDevices dd;

    fill_ram(src, 2);
    build_stream(b, src, VH_MIG_FLAG_RETURN_PATH);
    dst_devices_init(&dd, 64);
    vh_mig_loader_set_devices(l, dd.devices);
    pair(&a, &c);
    f.ch = a;
    f.data = g_bytes_new(b->data, b->len);
    f.shutdown = true;
    t = g_thread_new("feed", feed_thread, &f);
    g_assert_true(vh_mig_loader_run_main(l, c, NULL, &err));
    g_assert_no_error(err);
    g_thread_join(t);
    g_assert_true(vh_mig_loader_has_return_path(l));
    g_assert_true(vh_mig_rp_recv(a, &type, &counts, &err));
    g_assert_cmpint(type, ==, VH_MIG_RP_READY);
    /* Loaded, not applied until asked; then each device has its state. */
    g_assert_cmpuint(vh_serial_get_commands(dd.port), ==, 0);
    g_assert_true(vh_mig_loader_apply_devices(l, &err));
    g_assert_no_error(err);
    g_assert_true(vh_mig_loader_get_running(l));
    g_assert_cmpuint(vh_test_guest_get_rate(dd.guest), ==, 1 << 20);
    g_assert_cmpuint(vh_test_guest_get_pattern(dd.guest), ==, 2);
    vh_test_guest_get_workload_state(dd.guest, &ws);
    g_assert_cmpuint(ws.rng, ==, 0x0123456789abcdefULL);
    g_assert_cmpuint(ws.cursor, ==, 5);
    g_assert_cmpuint(vh_serial_get_commands(dd.port), ==, 3);
    g_assert_cmpuint(vh_serial_get_dropped(dd.port), ==, 11);
    g_assert_cmpuint(vh_mig_loader_get_counts(l)->normal, ==, 48);
    g_assert_cmpuint(vh_mig_loader_get_counts(l)->zero, ==, 16);
    g_bytes_unref(f.data);
    g_object_unref(a);
    g_object_unref(c);
    g_clear_pointer(&l, vh_mig_loader_free);
    dst_devices_clear(&dd);
}

/* ---- multifd ---- */

typedef struct {
    VhMigLoader *l;
    VhChannel *ch;
    bool ok;
    char *error;
} ChanRun;

static gpointer chan_thread(gpointer opaque)
{
    ChanRun *r = opaque;
    g_autoptr(GError) err = NULL;

    r->ok = vh_mig_loader_run_channel(r->l, r->ch, NULL, &err);
    if (!r->ok) {
        r->error = g_strdup(err->message);
    }
    return NULL;
}

static gpointer main_thread(gpointer opaque)
{
    ChanRun *r = opaque;
    g_autoptr(GError) err = NULL;

    r->ok = vh_mig_loader_run_main(r->l, r->ch, NULL, &err);
    if (!r->ok) {
        r->error = g_strdup(err->message);
    }
    return NULL;
}

/*
 * Two channels; page 5 is sent twice, the old copy on channel 1 in
 * iteration 1 and the new one on channel 0 in iteration 2: the SYNC
 * barrier must keep the old copy from landing last.
 */
static void test_multifd_order(void)
{
    g_autoptr(VhRamBlock) src = new_ram(256);
    g_autoptr(VhRamBlock) dst = new_ram(256);
    g_autoptr(VhMigLoader) l = vh_mig_loader_new(dst, true);
    g_autoptr(GError) err = NULL;
    VhChannel *m[2], *ch[2][2];
    ChanRun runs[2];
    GThread *threads[2];
    g_autoptr(GByteArray) mb = g_byte_array_new();
    VhMigCounts cnt[2] = {{0}}, total = {0};
    guint64 one[4] = {1ULL << 5, 0, 0, 0};
    guint64 rest[4] = {~(1ULL << 5), ~0ULL, ~0ULL, ~0ULL};
    guint64 packets[2];
    SrcDevices d;
    DstDevices dd;
    ChanRun main_run;
    GThread *tm;

    dst_devices_init(&dd, 254);
    vh_mig_loader_set_devices(l, dd.devices);
    pair(&m[0], &m[1]);
    for (guint i = 0; i < 2; i++) {
        pair(&ch[i][0], &ch[i][1]);
        runs[i] = (ChanRun){.l = l, .ch = ch[i][1]};
        threads[i] = g_thread_new("chan", chan_thread, &runs[i]);
    }
    fill_ram(src, 3);
    /* The header first: channels wait for it before they read on. */
    vh_mig_put_header(mb, VH_MIG_FLAG_MULTIFD, 2, uuid);
    vh_mig_put_ram_setup(mb, src);
    g_assert_true(vh_channel_write_all(m[0], mb->data, mb->len, &err));
    g_byte_array_set_size(mb, 0);
    main_run = (ChanRun){.l = l, .ch = m[1]};
    tm = g_thread_new("main", main_thread, &main_run);
    for (guint i = 0; i < 2; i++) {
        g_autoptr(GByteArray) h = g_byte_array_new();

        vh_mig_put_hello(h, i, uuid);
        g_assert_true(vh_channel_write_all(ch[i][0], h->data, h->len, &err));
    }
    /* Iteration 1: the old page 5 on channel 1, the rest on channel 0. */
    g_assert_cmpint(
        vh_mig_send_pages(ch[1][0], src, 0, 0, 256, one, &cnt[1], &err), >, 0);
    g_assert_cmpint(
        vh_mig_send_pages(ch[0][0], src, 0, 0, 256, rest, &cnt[0], &err), >, 0);
    /* Iteration 2: page 5 changed, sent on channel 0. */
    memset((guint8 *)vh_ram_block_get_host(src) + 5 * 4096, 0xab, 4096);
    for (guint i = 0; i < 2; i++) {
        g_autoptr(GByteArray) s = g_byte_array_new();

        vh_mig_put_section(s, VH_MIG_SEC_SYNC, 16);
        vh_mig_put_u64(s, 1);
        vh_mig_put_u64(s, 1);
        g_assert_true(vh_channel_write_all(ch[i][0], s->data, s->len, &err));
    }
    g_assert_cmpint(
        vh_mig_send_pages(ch[0][0], src, 0, 0, 256, one, &cnt[0], &err), >, 0);
    {
        g_autoptr(GByteArray) s = g_byte_array_new();

        vh_mig_put_section(s, VH_MIG_SEC_SYNC, 16);
        vh_mig_put_u64(s, 2);
        vh_mig_put_u64(s, 1);
        vh_mig_put_section(s, VH_MIG_SEC_CHANNEL_END, 8);
        vh_mig_put_u64(s, 2);
        g_assert_true(vh_channel_write_all(ch[0][0], s->data, s->len, &err));
        g_byte_array_set_size(s, 0);
        vh_mig_put_section(s, VH_MIG_SEC_SYNC, 16);
        vh_mig_put_u64(s, 2);
        vh_mig_put_u64(s, 0);
        vh_mig_put_section(s, VH_MIG_SEC_CHANNEL_END, 8);
        vh_mig_put_u64(s, 1);
        g_assert_true(vh_channel_write_all(ch[1][0], s->data, s->len, &err));
    }
    for (guint i = 0; i < 2; i++) {
        g_assert_true(
            vh_channel_shutdown(ch[i][0], VH_CHANNEL_SHUTDOWN_WRITE, &err));
    }
    packets[0] = 1;
    packets[1] = 1;
    vh_mig_put_iter_end(mb, 1, 2, packets);
    packets[1] = 0;
    vh_mig_put_iter_end(mb, 2, 2, packets);
    default_devices(&d);
    put_src_devices(mb, &d);
    total.records = cnt[0].records + cnt[1].records;
    total.normal = cnt[0].normal + cnt[1].normal;
    total.zero = cnt[0].zero + cnt[1].zero;
    total.iterations = 2;
    vh_mig_put_end(mb, &total);
    g_assert_true(vh_channel_write_all(m[0], mb->data, mb->len, &err));
    g_assert_true(vh_channel_shutdown(m[0], VH_CHANNEL_SHUTDOWN_WRITE, &err));
    g_thread_join(tm);
    g_assert_cmpstr(main_run.error, ==, NULL);
    g_assert_true(main_run.ok);
    for (guint i = 0; i < 2; i++) {
        g_thread_join(threads[i]);
        g_assert_true(runs[i].ok);
        g_object_unref(ch[i][0]);
        g_object_unref(ch[i][1]);
    }
    g_assert_cmpmem(vh_ram_block_get_host(src), 256 * 4096,
                    vh_ram_block_get_host(dst), 256 * 4096);
    g_object_unref(m[0]);
    g_object_unref(m[1]);
    g_clear_pointer(&l, vh_mig_loader_free);
    dst_devices_clear(&dd);
}

/* A channel with the wrong session uuid or index is refused. */
static void test_multifd_bad_hello(void)
{
    g_autoptr(VhRamBlock) ram = new_ram(64);
    g_autoptr(VhMigLoader) l = vh_mig_loader_new(ram, true);
    g_autoptr(GByteArray) mb = g_byte_array_new();
    g_autoptr(GError) err = NULL;
    guint8 other[16] = {9};
    VhChannel *m[2], *c[2], *c2[2];
    ChanRun run, run2, main_run;
    GThread *t, *t2, *tm;

    pair(&m[0], &m[1]);
    pair(&c[0], &c[1]);
    pair(&c2[0], &c2[1]);
    run = (ChanRun){.l = l, .ch = c[1]};
    run2 = (ChanRun){.l = l, .ch = c2[1]};
    t = g_thread_new("chan", chan_thread, &run);
    t2 = g_thread_new("chan", chan_thread, &run2);
    {
        g_autoptr(GByteArray) h = g_byte_array_new();

        vh_mig_put_hello(h, 0, other);
        g_assert_true(vh_channel_write_all(c[0], h->data, h->len, &err));
        g_byte_array_set_size(h, 0);
        vh_mig_put_hello(h, 4, uuid);
        g_assert_true(vh_channel_write_all(c2[0], h->data, h->len, &err));
    }
    vh_mig_put_header(mb, VH_MIG_FLAG_MULTIFD, 1, uuid);
    vh_mig_put_ram_setup(mb, ram);
    g_assert_true(vh_channel_write_all(m[0], mb->data, mb->len, &err));
    main_run = (ChanRun){.l = l, .ch = m[1]};
    tm = g_thread_new("main", main_thread, &main_run);
    g_thread_join(t);
    g_thread_join(t2);
    g_assert_false(run.ok);
    g_assert_nonnull(strstr(run.error, "session uuid does not match"));
    g_assert_false(run2.ok);
    g_assert_nonnull(strstr(run2.error, "index 4 out of range (1 channels)"));
    g_free(run.error);
    g_free(run2.error);
    /* The main stream waits for its channel until aborted. */
    vh_mig_loader_abort(l, "test over");
    g_thread_join(tm);
    g_assert_false(main_run.ok);
    g_assert_cmpstr(main_run.error, ==, "test over");
    g_free(main_run.error);
    for (guint i = 0; i < 2; i++) {
        g_object_unref(m[i]);
        g_object_unref(c[i]);
        g_object_unref(c2[i]);
    }
}

/* The fuzz corpus's valid-* seeds load: the fuzzer starts from real streams. */
static void test_corpus(void)
{
    const char *top = g_getenv("VMHOST_TOP_SRCDIR");
    g_autofree char *dir = NULL;
    g_autoptr(GDir) d = NULL;
    const char *name;
    guint n = 0;

    if (!top) {
        g_test_skip("VMHOST_TOP_SRCDIR not set");
        return;
    }
    dir = g_build_filename(top, "tests/fuzz/corpus/migration-stream", NULL);
    d = g_dir_open(dir, 0, NULL);
    g_assert_nonnull(d);
    while ((name = g_dir_read_name(d))) {
        g_autofree char *path = g_build_filename(dir, name, NULL);
        g_autofree char *data = NULL;
        g_autoptr(VhRamBlock) ram = new_ram(64);
        g_autoptr(GError) err = NULL;
        gsize len;

        if (!g_str_has_prefix(name, "valid-")) {
            continue;
        }
        g_assert_true(g_file_get_contents(path, &data, &len, NULL));
        if (!load_bytes(ram, (guint8 *)data, len, &err)) {
            g_error("%s: %s", name, err->message);
        }
        n++;
    }
    g_assert_cmpuint(n, >=, 2);
}

/*
 * What a loader says about multifd channel bytes @chan, with a main stream
 * that announced one channel.
 */
static char *channel_error(const guint8 *chan, gsize len)
{
    g_autoptr(VhRamBlock) ram = new_ram(64);
    g_autoptr(VhMigLoader) l = vh_mig_loader_new(ram, true);
    g_autoptr(GByteArray) mb = g_byte_array_new();
    g_autoptr(GError) err = NULL;
    VhChannel *m[2], *c[2];
    ChanRun main_run;
    GThread *tm;
    char *msg;

    pair(&m[0], &m[1]);
    pair(&c[0], &c[1]);
    vh_mig_put_header(mb, VH_MIG_FLAG_MULTIFD, 1, uuid);
    vh_mig_put_ram_setup(mb, ram);
    g_assert_true(vh_channel_write_all(m[0], mb->data, mb->len, &err));
    main_run = (ChanRun){.l = l, .ch = m[1]};
    tm = g_thread_new("main", main_thread, &main_run);
    g_assert_true(vh_channel_write_all(c[0], chan, len, &err));
    g_assert_true(vh_channel_shutdown(c[0], VH_CHANNEL_SHUTDOWN_WRITE, &err));
    g_assert_false(vh_mig_loader_run_channel(l, c[1], NULL, &err));
    msg = g_strdup(err->message);
    vh_mig_loader_abort(l, "test over");
    g_assert_true(vh_channel_shutdown(m[0], VH_CHANNEL_SHUTDOWN_WRITE, &err));
    g_thread_join(tm);
    g_assert_false(main_run.ok);
    g_free(main_run.error);
    for (guint i = 0; i < 2; i++) {
        g_object_unref(m[i]);
        g_object_unref(c[i]);
    }
    return msg;
}

static void expect_channel_error(GByteArray *b, const char *want)
{
    g_autofree char *msg = channel_error(b->data, b->len);

    if (!strstr(msg, want)) {
        g_error("'%s' lacks '%s'", msg, want);
    }
}

static void test_channel_malformed(void)
{
    g_autoptr(VhRamBlock) src = new_ram(64);
    VhMigCounts cnt = {0};
    guint64 one[4] = {2, 0, 0, 0};

    fill_ram(src, 5);
    {
        g_autoptr(GByteArray) b = g_byte_array_new();

        vh_mig_put_hello(b, 0, uuid);
        memcpy(b->data, "VHMIGXXX", 8);
        expect_channel_error(b, "multifd channel hello: bad magic");
    }
    {
        /* FLUSH (a mid-pass barrier) exists only with post-copy. */
        g_autoptr(GByteArray) b = g_byte_array_new();

        vh_mig_put_hello(b, 0, uuid);
        vh_mig_put_section(b, VH_MIG_SEC_FLUSH, VH_MIG_SYNC_BODY);
        vh_mig_put_u64(b, 1);
        vh_mig_put_u64(b, 0);
        expect_channel_error(b, "FLUSH without the post-copy flag");
    }
    {
        g_autoptr(GByteArray) b = g_byte_array_new();

        vh_mig_put_hello(b, 0, uuid);
        put32(b->data + 8, 9);
        expect_channel_error(b, "hello: version 9 not supported");
    }
    {
        g_autoptr(GByteArray) b = g_byte_array_new();

        vh_mig_put_hello(b, 0, uuid);
        put64(b->data + 32, 1);
        expect_channel_error(b, "hello: reserved field is not zero");
    }
    {
        /* Truncated inside the hello. */
        g_autoptr(GByteArray) b = g_byte_array_new();

        vh_mig_put_hello(b, 0, uuid);
        g_byte_array_set_size(b, 20);
        expect_channel_error(b, "truncated in the multifd channel hello");
    }
    {
        g_autoptr(GByteArray) b = g_byte_array_new();

        vh_mig_put_hello(b, 0, uuid);
        vh_mig_put_section(b, VH_MIG_SEC_SYNC, 16);
        vh_mig_put_u64(b, 2);
        vh_mig_put_u64(b, 0);
        expect_channel_error(b, "SYNC: iteration 2 out of order");
    }
    {
        g_autoptr(GByteArray) b = g_byte_array_new();

        vh_mig_put_hello(b, 0, uuid);
        vh_mig_put_section(b, VH_MIG_SEC_SYNC, 16);
        vh_mig_put_u64(b, 1);
        vh_mig_put_u64(b, 3);
        expect_channel_error(b, "3 records announced, 0 received");
    }
    {
        g_autoptr(GByteArray) b = g_byte_array_new();

        vh_mig_put_hello(b, 0, uuid);
        vh_mig_put_section(b, VH_MIG_SEC_CHANNEL_END, 8);
        vh_mig_put_u64(b, 5);
        expect_channel_error(b, "CHANNEL_END: 5 records announced, 0");
    }
    {
        g_autoptr(GByteArray) b = g_byte_array_new();

        vh_mig_put_hello(b, 0, uuid);
        vh_mig_put_section(b, VH_MIG_SEC_END, 32);
        expect_channel_error(b, "multifd channel 0: unknown section type 7");
    }
    {
        /* Records, then the end without their SYNC. */
        g_autoptr(VhChannelBuffer) buf = vh_channel_buffer_new(8192);
        g_autoptr(GByteArray) b = g_byte_array_new();
        g_autoptr(GError) err = NULL;
        const guint8 *data;
        size_t len;

        vh_mig_put_hello(b, 0, uuid);
        g_assert_cmpint(
            vh_mig_send_pages(VH_CHANNEL(buf), src, 0, 0, 64, one, &cnt, &err),
            >, 0);
        data = vh_channel_buffer_get_data(buf, &len);
        g_byte_array_append(b, data, (guint)len);
        vh_mig_put_section(b, VH_MIG_SEC_CHANNEL_END, 8);
        vh_mig_put_u64(b, 1);
        expect_channel_error(b, "CHANNEL_END after records without a SYNC");
    }
    {
        /* A bad PAGES record on a channel names the channel. */
        g_autoptr(GByteArray) b = g_byte_array_new();

        vh_mig_put_hello(b, 0, uuid);
        vh_mig_put_section(b, VH_MIG_SEC_PAGES, VH_MIG_PAGES_BODY);
        vh_mig_put_u32(b, 0);
        vh_mig_put_u32(b, 10);
        vh_mig_put_u64(b, 60);
        for (guint i = 0; i < 8; i++) {
            vh_mig_put_u64(b, i == 0 ? 1 : 0);
        }
        expect_channel_error(b, "multifd channel 0 PAGES record: page range "
                                "60+10 past the end");
    }
}

static guint32 take32(const guint8 **p)
{
    guint32 v;

    memcpy(&v, *p, 4);
    *p += 4;
    return GUINT32_FROM_LE(v);
}

static guint64 take64(const guint8 **p)
{
    guint64 v;

    memcpy(&v, *p, 8);
    *p += 8;
    return GUINT64_FROM_LE(v);
}

/* Post-copy's REQ_PAGES: round trip, bounds, and where it does not belong. */
static void test_postcopy_req_pages(void)
{
    g_autoptr(VhChannelBuffer) buf = vh_channel_buffer_new(64);
    g_autoptr(GError) err = NULL;
    VhMigCounts got;
    VhMigRpType t;
    VhMigRpMsg m;
    guint8 bad[24] = {VH_MIG_RP_REQ_PAGES, 0, 0, 0, 16, 0, 0, 0};

    g_assert_true(vh_mig_rp_send_req_pages(VH_CHANNEL(buf), 0, 1234, 3, &err));
    g_assert_true(vh_mig_rp_send_req_pages(VH_CHANNEL(buf), 0, 7, 1, &err));
    g_assert_cmpint(vh_channel_seek(VH_CHANNEL(buf), 0, SEEK_SET, &err), ==, 0);
    g_assert_true(vh_mig_rp_recv_msg(VH_CHANNEL(buf), &m, &err));
    g_assert_cmpint(m.type, ==, VH_MIG_RP_REQ_PAGES);
    g_assert_cmpuint(m.block, ==, 0);
    g_assert_cmpuint(m.first, ==, 1234);
    g_assert_cmpuint(m.count, ==, 3);
    /* Only post-copy's reader takes it. */
    g_assert_false(vh_mig_rp_recv(VH_CHANNEL(buf), &t, &got, &err));
    g_assert_nonnull(strstr(err->message, "REQ_PAGES outside post-copy"));
    g_clear_error(&err);
    /* A count of 0 (body all zero) and one over a record. */
    g_assert_true(
        vh_channel_write_all(VH_CHANNEL(buf), bad, sizeof(bad), &err));
    g_assert_cmpint(vh_channel_seek(VH_CHANNEL(buf), -24, SEEK_END, &err), >,
                    0);
    g_assert_false(vh_mig_rp_recv_msg(VH_CHANNEL(buf), &m, &err));
    g_assert_nonnull(strstr(err->message, "page count 0 out of range"));
    g_clear_error(&err);
    g_assert_true(vh_mig_rp_send_req_pages(VH_CHANNEL(buf), 0, 0,
                                           VH_MIG_RECORD_PAGES + 1, &err));
    g_assert_cmpint(vh_channel_seek(VH_CHANNEL(buf), -24, SEEK_END, &err), >,
                    0);
    g_assert_false(vh_mig_rp_recv_msg(VH_CHANNEL(buf), &m, &err));
    g_assert_nonnull(strstr(err->message, "page count 257 out of range"));
    g_clear_error(&err);
    /* A body of the wrong length is malformed, whatever it holds. */
    g_assert_true(
        vh_mig_rp_send(VH_CHANNEL(buf), VH_MIG_RP_REQ_PAGES, bad, 8, &err));
    g_assert_cmpint(vh_channel_seek(VH_CHANNEL(buf), -16, SEEK_END, &err), >,
                    0);
    g_assert_false(vh_mig_rp_recv_msg(VH_CHANNEL(buf), &m, &err));
    g_assert_nonnull(
        strstr(err->message, "malformed message (type 4, length 8"));
}

/*
 * RECV_BITMAP: the bitmap and the target's last ITER_END round trip; a
 * bad block is malformed; a target that closes without it (tls-authz
 * refused the source) says so.
 */
static void test_postcopy_recv_bitmap(void)
{
    g_autoptr(VhChannelBuffer) buf = vh_channel_buffer_new(64);
    g_autoptr(VhChannelBuffer) bad = vh_channel_buffer_new(64);
    g_autoptr(VhChannelBuffer) empty = vh_channel_buffer_new(64);
    g_autoptr(VhChannelBuffer) nr = vh_channel_buffer_new(64);
    g_autoptr(GError) err = NULL;
    guint64 map[3] = {0x8000000000000001ULL, 0, 0x5};
    bool not_run = true;
    guint64 got[3] = {0};
    g_autofree guint8 *raw = NULL;
    const guint8 *data;
    size_t len;
    guint32 it = 0;

    g_assert_true(vh_mig_rp_send_bitmap(VH_CHANNEL(buf), map, 130, 7, &err));
    g_assert_cmpint(vh_channel_seek(VH_CHANNEL(buf), 0, SEEK_SET, &err), ==, 0);
    g_assert_true(
        vh_mig_rp_recv_bitmap(VH_CHANNEL(buf), got, 130, &it, &not_run, &err));
    g_assert_no_error(err);
    g_assert_false(not_run);
    g_assert_cmpuint(it, ==, 7);
    g_assert_cmpmem(got, sizeof(got), map, sizeof(map));
    /* Block 1: there is only block 0. */
    data = vh_channel_buffer_get_data(buf, &len);
    raw = g_memdup2(data, len);
    raw[8] = 1;
    g_assert_true(vh_channel_write_all(VH_CHANNEL(bad), raw, len, &err));
    g_assert_cmpint(vh_channel_seek(VH_CHANNEL(bad), 0, SEEK_SET, &err), ==, 0);
    g_assert_false(
        vh_mig_rp_recv_bitmap(VH_CHANNEL(bad), got, 130, &it, &not_run, &err));
    g_assert_nonnull(strstr(err->message, "malformed RECV_BITMAP"));
    g_assert_nonnull(strstr(err->message, "block 1"));
    g_clear_error(&err);
    g_assert_false(vh_mig_rp_recv_bitmap(VH_CHANNEL(empty), got, 130, &it,
                                         &not_run, &err));
    g_assert_nonnull(strstr(err->message, "closed the connection without an "
                                          "answer (it refused this source"));
    g_assert_false(not_run);
    g_clear_error(&err);
    /* NOT_RUN: the target never ran the guest; the source must know. */
    g_assert_true(
        vh_mig_rp_send(VH_CHANNEL(nr), VH_MIG_RP_NOT_RUN, NULL, 0, &err));
    g_assert_cmpint(vh_channel_seek(VH_CHANNEL(nr), 0, SEEK_SET, &err), ==, 0);
    g_assert_false(
        vh_mig_rp_recv_bitmap(VH_CHANNEL(nr), got, 130, &it, &not_run, &err));
    g_assert_true(not_run);
    g_assert_nonnull(strstr(err->message, "never ran the guest"));
}

/* What a paused target refuses on a RESUME main connection. */
static void expect_resume_refused(VhMigLoader *l, guint32 flags,
                                  guint32 channels, const guint8 *id,
                                  const char *want)
{
    g_autoptr(VhChannelBuffer) buf = vh_channel_buffer_new(64);
    g_autoptr(GByteArray) b = g_byte_array_new();
    g_autoptr(GError) err = NULL;

    vh_mig_put_header(b, flags, channels, id);
    g_assert_true(vh_channel_write_all(VH_CHANNEL(buf), b->data, b->len, &err));
    g_assert_cmpint(vh_channel_seek(VH_CHANNEL(buf), 0, SEEK_SET, &err), ==, 0);
    g_assert_false(vh_mig_loader_resume_main(l, VH_CHANNEL(buf), NULL, &err));
    if (!strstr(err->message, want)) {
        g_error("resume refused with '%s', lacking '%s'", err->message, want);
    }
}

static void test_postcopy_resume_header(void)
{
    g_autoptr(VhRamBlock) ram = new_ram(64);
    VhMigLoader *l = vh_mig_loader_new(ram, true);
    const guint32 resume =
        VH_MIG_FLAG_RETURN_PATH | VH_MIG_FLAG_POSTCOPY | VH_MIG_FLAG_RESUME;
    guint8 other[16] = {9};

    /* A paused migration with 2 multifd channels. */
    l->channels = 2;
    l->flags = resume | VH_MIG_FLAG_MULTIFD;
    l->postcopy_live = true;
    memcpy(l->uuid, uuid, sizeof(uuid));
    expect_resume_refused(l, resume | VH_MIG_FLAG_MULTIFD, 2, uuid,
                          "post-copy is not paused");
    l->paused = true;
    expect_resume_refused(l, resume | VH_MIG_FLAG_MULTIFD, 1, uuid,
                          "resume header: 1 multifd channels, the paused "
                          "migration has 2");
    expect_resume_refused(l, resume | VH_MIG_FLAG_MULTIFD, 0, uuid,
                          "0 multifd channels");
    expect_resume_refused(l, resume | VH_MIG_FLAG_MULTIFD, 2, other,
                          "session uuid is not the paused migration's");
    expect_resume_refused(l, VH_MIG_FLAG_RETURN_PATH, 0, uuid,
                          "only a RESUME one may come");
    vh_mig_loader_free(l);
}

/* A RESUME header on a fresh loader told that @known failed here. */
static void expect_fresh_resume(VhRamBlock *ram, const guint8 *known,
                                const guint8 *id, bool not_run,
                                const char *want)
{
    g_autoptr(VhChannelBuffer) buf = vh_channel_buffer_new(64);
    g_autoptr(GByteArray) b = g_byte_array_new();
    g_autoptr(GError) err = NULL;
    VhMigLoader *l = vh_mig_loader_new(ram, true);

    vh_mig_loader_allow_postcopy(l, NULL, NULL);
    if (known) {
        vh_mig_loader_set_not_run(l, known);
    }
    vh_mig_put_header(
        b, VH_MIG_FLAG_RETURN_PATH | VH_MIG_FLAG_POSTCOPY | VH_MIG_FLAG_RESUME,
        0, id);
    g_assert_true(vh_channel_write_all(VH_CHANNEL(buf), b->data, b->len, &err));
    g_assert_cmpint(vh_channel_seek(VH_CHANNEL(buf), 0, SEEK_SET, &err), ==, 0);
    g_assert_false(vh_mig_loader_run_main(l, VH_CHANNEL(buf), NULL, &err));
    if (!strstr(err->message, want)) {
        g_error("fresh resume refused with '%s', lacking '%s'", err->message,
                want);
    }
    g_assert_cmpint(vh_mig_loader_not_run(l), ==, not_run);
    vh_mig_loader_free(l);
}

/*
 * The link died in the switch (POSTCOPY_RUN sent, READY not received):
 * a RESUME of a session whose POSTCOPY_RUN never ran here is refused with
 * not_run (the caller answers NOT_RUN), whether the attempt still loads
 * or a new one follows the failed one; another session's is not.
 */
static void test_postcopy_resume_not_run(void)
{
    g_autoptr(VhRamBlock) ram = new_ram(64);
    VhMigLoader *l = vh_mig_loader_new(ram, true);
    const guint32 resume =
        VH_MIG_FLAG_RETURN_PATH | VH_MIG_FLAG_POSTCOPY | VH_MIG_FLAG_RESUME;
    guint8 other[16] = {9};
    guint8 got[16] = {0};

    /* Still loading: post-copy negotiated, POSTCOPY_RUN not here. */
    l->flags = VH_MIG_FLAG_RETURN_PATH | VH_MIG_FLAG_POSTCOPY;
    l->have_header = true;
    l->pc = vh_postcopy_target_new(ram);
    memcpy(l->uuid, uuid, sizeof(uuid));
    g_assert_true(vh_mig_loader_never_ran(l, got));
    g_assert_cmpmem(got, sizeof(got), uuid, sizeof(uuid));
    expect_resume_refused(l, resume, 0, other,
                          "session uuid is not the paused migration's");
    g_assert_false(vh_mig_loader_not_run(l));
    expect_resume_refused(l, resume, 0, uuid, "never reached this target");
    g_assert_true(vh_mig_loader_not_run(l));
    /* In post-copy it ran: not "never ran". */
    l->postcopy_live = true;
    g_assert_false(vh_mig_loader_never_ran(l, got));
    vh_mig_loader_free(l);

    /* A new attempt after the failed one. */
    expect_fresh_resume(ram, uuid, uuid, true, "never reached this target");
    expect_fresh_resume(ram, uuid, other, false, "no post-copy is paused here");
    expect_fresh_resume(ram, NULL, uuid, false, "no post-copy is paused here");
}

/* DISCARD sections from a bitmap: ranges, and a split past the maximum. */
static void test_postcopy_discard(void)
{
    guint64 pages = 2 * VH_MIG_DISCARD_MAX_RANGES * 2 + 100;
    g_autofree guint64 *map = g_new0(guint64, (pages + 63) / 64);
    g_autoptr(GByteArray) b = g_byte_array_new();
    const guint8 *p;
    guint32 type, len, n;

    /* Pages 3-4 and 70. */
    map[0] = 3ULL << 3;
    map[1] = 1ULL << 6;
    g_assert_cmpuint(vh_mig_put_discard(b, map, 128), ==, 3);
    g_assert_cmpuint(b->len, ==, 8 + VH_MIG_DISCARD_BASE + 2 * 16);
    p = b->data;
    type = take32(&p);
    len = take32(&p);
    g_assert_cmpuint(type, ==, VH_MIG_SEC_DISCARD);
    g_assert_cmpuint(len, ==, VH_MIG_DISCARD_BASE + 32);
    g_assert_cmpuint(take32(&p), ==, 0); /* block */
    g_assert_cmpuint(take32(&p), ==, 2);
    g_assert_cmpuint(take64(&p), ==, 3);
    g_assert_cmpuint(take64(&p), ==, 2);
    g_assert_cmpuint(take64(&p), ==, 70);
    g_assert_cmpuint(take64(&p), ==, 1);
    /* Every other page: more ranges than one section holds. */
    g_byte_array_set_size(b, 0);
    for (guint64 i = 0; i < pages; i += 2) {
        map[i / 64] |= 1ULL << (i % 64);
    }
    map[0] = 0x5555555555555555ULL;
    map[1] = 0x5555555555555555ULL;
    g_assert_cmpuint(vh_mig_put_discard(b, map, pages), ==, (pages + 1) / 2);
    p = b->data + 8 + 4;
    n = take32(&p);
    g_assert_cmpuint(n, ==, VH_MIG_DISCARD_MAX_RANGES);
    g_assert_cmpuint(b->len, ==,
                     3 * (8 + VH_MIG_DISCARD_BASE) + (pages + 1) / 2 * 16);
    g_byte_array_set_size(b, 0);
    memset(map, 0, (pages + 63) / 64 * 8);
    g_assert_cmpuint(vh_mig_put_discard(b, map, pages), ==, 0);
    g_assert_cmpuint(b->len, ==, 0);
}

/* The target's received bitmap, and which RAM userfaultfd can take. */
static void test_postcopy_received(void)
{
    g_autoptr(VhRamBlock) ram = new_ram(200);
    g_autoptr(GError) err = NULL;
    VhPostcopyTarget *pt = vh_postcopy_target_new(ram);

    g_assert_cmpuint(vh_postcopy_received_count(pt), ==, 0);
    for (guint64 p = 60; p < 140; p++) {
        vh_postcopy_mark_received(pt, p);
    }
    vh_postcopy_mark_received(pt, 199);
    vh_postcopy_mark_received(pt, 199);
    g_assert_cmpuint(vh_postcopy_received_count(pt), ==, 81);
    vh_postcopy_discard(pt, 63, 66); /* 63..128 */
    g_assert_cmpuint(vh_postcopy_received_count(pt), ==, 81 - 66);
    g_assert_true(vh_postcopy_is_received(pt, 62));
    g_assert_false(vh_postcopy_is_received(pt, 63));
    g_assert_false(vh_postcopy_is_received(pt, 128));
    g_assert_true(vh_postcopy_is_received(pt, 129));
    g_assert_true(vh_postcopy_is_received(pt, 199));
    g_assert_false(vh_postcopy_is_received(pt, 0));
    g_assert_false(vh_postcopy_target_started(pt));
    /* END with pages missing is refused, naming how many and the first. */
    g_assert_false(vh_postcopy_target_check_complete(pt, &err));
    g_assert_nonnull(strstr(err->message, "END with 185 of 200 pages never "
                                          "received (the first is page 0)"));
    g_clear_error(&err);
    for (guint64 p = 0; p < 200; p++) {
        if (p != 100) {
            vh_postcopy_mark_received(pt, p);
        }
    }
    g_assert_false(vh_postcopy_target_check_complete(pt, &err));
    g_assert_nonnull(strstr(err->message, "1 of 200 pages never received "
                                          "(the first is page 100)"));
    g_clear_error(&err);
    vh_postcopy_mark_received(pt, 100);
    g_assert_true(vh_postcopy_target_check_complete(pt, &err));
    g_assert_no_error(err);
    vh_postcopy_target_free(pt);
    /* Anonymous RAM registers for missing pages where userfaultfd exists. */
    if (!vh_postcopy_check_ram(ram, &err)) {
        g_assert_nonnull(strstr(err->message, "userfaultfd"));
        g_test_message("no userfaultfd here: %s", err->message);
    }
}

/*
 * The source's background walk finds every window still set, wherever a
 * request moved it: the answer is the first set window in cyclic order.
 */
static void test_postcopy_next_window(void)
{
    enum { NWORDS = 64 };
    guint64 bm[NWORDS] = {0};
    GRand *r = g_rand_new_with_seed(15);

    g_assert_cmpuint(vh_postcopy_next_window(bm, NWORDS, 4, 0), ==,
                     VH_PC_NO_WINDOW);
    g_assert_cmpuint(vh_postcopy_next_window(bm, NWORDS, 4, 37), ==,
                     VH_PC_NO_WINDOW);
    bm[41] = 1ULL << 63;
    /* From inside the window, before it, after it (wraps), past the end. */
    g_assert_cmpuint(vh_postcopy_next_window(bm, NWORDS, 4, 42), ==, 40);
    g_assert_cmpuint(vh_postcopy_next_window(bm, NWORDS, 4, 1), ==, 40);
    g_assert_cmpuint(vh_postcopy_next_window(bm, NWORDS, 4, 44), ==, 40);
    g_assert_cmpuint(vh_postcopy_next_window(bm, NWORDS, 4, NWORDS), ==, 40);
    g_assert_cmpuint(vh_postcopy_next_window(bm, NWORDS, 16, 63), ==, 32);
    bm[NWORDS - 1] = 1;
    g_assert_cmpuint(vh_postcopy_next_window(bm, NWORDS, 4, 44), ==, 60);
    g_assert_cmpuint(vh_postcopy_next_window(bm, NWORDS, 4, 61), ==, 60);
    /*
     * A walk that a request sends back over windows already sent after
     * every send (the pattern that once ended the background early) still
     * sends every window.
     */
    for (guint round = 0; round < 200; round++) {
        guint64 cursor = 0;
        guint sent = 0, set = 0;

        for (guint w = 0; w < NWORDS; w++) {
            bm[w] = g_rand_int_range(r, 0, 8) == 0 ? g_rand_int(r) | 1 : 0;
        }
        for (guint w = 0; w < NWORDS; w += 4) {
            set += (bm[w] | bm[w + 1] | bm[w + 2] | bm[w + 3]) != 0;
        }
        for (;;) {
            cursor = vh_postcopy_next_window(bm, NWORDS, 4, cursor);
            if (cursor == VH_PC_NO_WINDOW) {
                break;
            }
            memset(&bm[cursor], 0, 4 * sizeof(guint64));
            sent++;
            /* A page in flight: the walk goes back to a window sent. */
            cursor = g_rand_int_range(r, 0, (gint32)cursor + 1);
        }
        g_assert_cmpuint(sent, ==, set);
        for (guint w = 0; w < NWORDS; w++) {
            g_assert_cmpuint(bm[w], ==, 0);
        }
    }
    g_rand_free(r);
}

/* ---- post-copy: where DISCARD and DIRTY_SYNC may come ---- */

static gpointer pc_conn_thread(gpointer opaque)
{
    ChanRun *r = opaque;
    g_autoptr(GError) err = NULL;
    bool cause = false;

    r->ok = vh_mig_loader_run_postcopy_conn(r->l, r->ch, NULL, &cause, &err);
    if (!r->ok) {
        r->error = g_strdup(err->message);
    }
    return NULL;
}

/*
 * A post-copy target with @nch multifd channels (0: none) loading into a
 * 64-page RAM: the main stream, REQUEST and URGENT connected, and the
 * channels, each with its hello. The test writes to main[0], urgent[0],
 * chan[i][0].
 */
typedef struct {
    VhRamBlock *src;
    VhRamBlock *dst;
    VhMigLoader *l;
    DstDevices dd;
    guint nch;
    VhChannel *main[2], *req[2], *urgent[2], *chan[2][2];
    ChanRun main_run, req_run, urgent_run, chan_run[2];
    GThread *main_t, *req_t, *urgent_t, *chan_t[2];
    VhMigCounts counts;
} PcRig;

/* Both directions of @ch end (a channel a loader thread may block on). */
static void cut(VhChannel *ch)
{
    if (!vh_channel_shutdown(ch, VH_CHANNEL_SHUTDOWN_BOTH, NULL)) {
        g_test_message("the connection is cut already");
    }
}

static void pc_rig_start(PcRig *r, guint nch)
{
    g_autoptr(GByteArray) b = g_byte_array_new();
    g_autoptr(GError) err = NULL;
    guint32 flags = VH_MIG_FLAG_RETURN_PATH | VH_MIG_FLAG_POSTCOPY;

    memset(r, 0, sizeof(*r));
    r->nch = nch;
    r->src = new_ram(64);
    r->dst = new_ram(64);
    fill_ram(r->src, 11);
    r->l = vh_mig_loader_new(r->dst, true);
    vh_mig_loader_allow_postcopy(r->l, NULL, NULL);
    dst_devices_init(&r->dd, 62);
    vh_mig_loader_set_devices(r->l, r->dd.devices);
    pair(&r->main[0], &r->main[1]);
    pair(&r->req[0], &r->req[1]);
    pair(&r->urgent[0], &r->urgent[1]);
    vh_mig_put_header(b, flags | (nch ? VH_MIG_FLAG_MULTIFD : 0), nch, uuid);
    vh_mig_put_ram_setup(b, r->src);
    g_assert_true(vh_channel_write_all(r->main[0], b->data, b->len, &err));
    r->main_run = (ChanRun){.l = r->l, .ch = r->main[1]};
    r->main_t = g_thread_new("main", main_thread, &r->main_run);
    g_byte_array_set_size(b, 0);
    vh_mig_put_pc_hello(b, VH_MIG_PC_ROLE_REQUEST, uuid);
    g_assert_true(vh_channel_write_all(r->req[0], b->data, b->len, &err));
    g_byte_array_set_size(b, 0);
    vh_mig_put_pc_hello(b, VH_MIG_PC_ROLE_URGENT, uuid);
    g_assert_true(vh_channel_write_all(r->urgent[0], b->data, b->len, &err));
    r->req_run = (ChanRun){.l = r->l, .ch = r->req[1]};
    r->req_t = g_thread_new("req", pc_conn_thread, &r->req_run);
    r->urgent_run = (ChanRun){.l = r->l, .ch = r->urgent[1]};
    r->urgent_t = g_thread_new("urgent", pc_conn_thread, &r->urgent_run);
    for (guint i = 0; i < nch; i++) {
        pair(&r->chan[i][0], &r->chan[i][1]);
        g_byte_array_set_size(b, 0);
        vh_mig_put_hello(b, i, uuid);
        g_assert_true(
            vh_channel_write_all(r->chan[i][0], b->data, b->len, &err));
        r->chan_run[i] = (ChanRun){.l = r->l, .ch = r->chan[i][1]};
        r->chan_t[i] = g_thread_new("chan", chan_thread, &r->chan_run[i]);
    }
}

/* Pages @first + bits of @w0 (one word) of the source, on @ch. */
static void pc_rig_pages(PcRig *r, VhChannel *ch, guint64 first, guint64 w0)
{
    g_autoptr(GError) err = NULL;
    guint64 present[4] = {w0, 0, 0, 0};

    g_assert_cmpint(vh_mig_send_pages(ch, r->src, 0, first, 64 - first, present,
                                      &r->counts, &err),
                    >, 0);
    g_assert_no_error(err);
}

static void pc_rig_write(VhChannel *ch, GByteArray *b)
{
    g_autoptr(GError) err = NULL;

    g_assert_true(vh_channel_write_all(ch, b->data, b->len, &err));
    g_byte_array_set_size(b, 0);
}

/* DISCARD of pages [first, first + count). */
static void put_discard_range(GByteArray *b, guint64 first, guint64 count)
{
    guint64 map[1] = {0};

    vh_dirty_bitmap_set_range(map, first, count);
    g_assert_cmpuint(vh_mig_put_discard(b, map, 64), ==, count);
}

/* A channel's SYNC or FLUSH with its record count. */
static void put_barrier(GByteArray *b, bool flush, guint64 n, guint64 records)
{
    vh_mig_put_section(b, flush ? VH_MIG_SEC_FLUSH : VH_MIG_SEC_SYNC,
                       VH_MIG_SYNC_BODY);
    vh_mig_put_u64(b, n);
    vh_mig_put_u64(b, records);
}

/*
 * The end of the test: END's totals and every connection's end when
 * @finish, then the main stream's outcome: NULL on success, else its
 * error (to free).
 */
static char *pc_rig_stop(PcRig *r, bool finish)
{
    g_autoptr(GByteArray) b = g_byte_array_new();
    g_autoptr(GError) err = NULL;
    char *error;

    if (finish) {
        vh_mig_put_section(b, VH_MIG_SEC_CHANNEL_END, VH_MIG_CHANNEL_END_BODY);
        vh_mig_put_u64(b, 0);
        pc_rig_write(r->urgent[0], b);
        g_assert_true(
            vh_channel_shutdown(r->urgent[0], VH_CHANNEL_SHUTDOWN_WRITE, &err));
    }
    g_assert_true(
        vh_channel_shutdown(r->main[0], VH_CHANNEL_SHUTDOWN_WRITE, &err));
    g_thread_join(r->main_t);
    error = g_steal_pointer(&r->main_run.error);
    g_assert_true(r->main_run.ok == (error == NULL));
    /* Not postcopy_finish: some tests leave pages out on purpose. */
    vh_mig_loader_abort(r->l, "test over");
    for (guint i = 0; i < r->nch; i++) {
        cut(r->chan[i][0]);
        if (r->chan_t[i]) {
            g_thread_join(r->chan_t[i]); /* unless the test did */
        }
        g_free(r->chan_run[i].error);
        g_object_unref(r->chan[i][0]);
        g_object_unref(r->chan[i][1]);
    }
    cut(r->req[0]);
    cut(r->urgent[0]);
    g_thread_join(r->req_t);
    g_thread_join(r->urgent_t);
    g_free(r->req_run.error);
    g_free(r->urgent_run.error);
    for (guint i = 0; i < 2; i++) {
        g_object_unref(r->main[i]);
        g_object_unref(r->req[i]);
        g_object_unref(r->urgent[i]);
    }
    return error;
}

static void pc_rig_free(PcRig *r)
{
    g_clear_pointer(&r->l, vh_mig_loader_free);
    dst_devices_clear(&r->dd);
    vh_ram_block_free(r->src);
    vh_ram_block_free(r->dst);
}

static bool page_equal(PcRig *r, guint64 p)
{
    return memcmp((guint8 *)vh_ram_block_get_host(r->src) + p * 4096,
                  (guint8 *)vh_ram_block_get_host(r->dst) + p * 4096,
                  4096) == 0;
}

static bool page_zero(PcRig *r, guint64 p)
{
    return vh_mig_page_is_zero((guint8 *)vh_ram_block_get_host(r->dst) +
                               p * 4096);
}

/* The stream's tail: device state and END with the counts so far. */
static void put_tail(PcRig *r, GByteArray *b, guint64 iterations)
{
    SrcDevices d;

    default_devices(&d);
    put_src_devices(b, &d);
    r->counts.iterations = iterations;
    vh_mig_put_end(b, &r->counts);
}

/*
 * Without multifd a DISCARD may come anywhere in pre-copy (between PAGES
 * records, after an ITER_END) and drops its pages at once: a page sent
 * again after it is kept, one not sent again is gone (zero, not received).
 */
static void test_postcopy_discard_main(void)
{
    g_autoptr(GByteArray) b = g_byte_array_new();
    PcRig r;
    char *error;

    pc_rig_start(&r, 0);
    pc_rig_pages(&r, r.main[0], 0, ~0ULL); /* pages 0..63 */
    put_discard_range(b, 5, 1);
    put_discard_range(b, 20, 2);
    pc_rig_write(r.main[0], b);
    /* Page 5 written again on the source, and sent again. */
    memset((guint8 *)vh_ram_block_get_host(r.src) + 5 * 4096, 0x5a, 4096);
    pc_rig_pages(&r, r.main[0], 0, 1ULL << 5);
    vh_mig_put_iter_end(b, 1, 0, NULL);
    put_discard_range(b, 40, 1);
    vh_mig_put_iter_end(b, 2, 0, NULL);
    put_tail(&r, b, 2);
    pc_rig_write(r.main[0], b);
    error = pc_rig_stop(&r, true);
    g_assert_cmpstr(error, ==, NULL);
    for (guint64 p = 0; p < 64; p++) {
        bool gone = p == 20 || p == 21 || p == 40;

        g_assert_true(vh_postcopy_is_received(r.l->pc, p) == !gone);
        g_assert_true(gone ? page_zero(&r, p) : page_equal(&r, p));
    }
    pc_rig_free(&r);
}

/*
 * With multifd a DISCARD waits for its barrier: DIRTY_SYNC (every
 * channel at its FLUSH) or ITER_END (at its SYNC), or the device state
 * after the final ITER_END. Page 5's new copy comes on channel 0 right
 * after its FLUSH: the DISCARD before DIRTY_SYNC must not drop it.
 */
static void test_postcopy_discard_multifd(void)
{
    g_autoptr(GByteArray) b = g_byte_array_new();
    guint64 packets[2];
    PcRig r;
    char *error;

    pc_rig_start(&r, 2);
    pc_rig_pages(&r, r.chan[1][0], 0, 1ULL << 5);
    pc_rig_pages(&r, r.chan[0][0], 0, ~(1ULL << 5));
    put_barrier(b, true, 1, 1);
    pc_rig_write(r.chan[0][0], b);
    put_barrier(b, true, 1, 1);
    pc_rig_write(r.chan[1][0], b);
    memset((guint8 *)vh_ram_block_get_host(r.src) + 5 * 4096, 0xa5, 4096);
    pc_rig_pages(&r, r.chan[0][0], 0, 1ULL << 5);
    put_barrier(b, false, 1, 1);
    vh_mig_put_section(b, VH_MIG_SEC_CHANNEL_END, VH_MIG_CHANNEL_END_BODY);
    vh_mig_put_u64(b, 2);
    pc_rig_write(r.chan[0][0], b);
    put_barrier(b, false, 1, 0);
    vh_mig_put_section(b, VH_MIG_SEC_CHANNEL_END, VH_MIG_CHANNEL_END_BODY);
    vh_mig_put_u64(b, 1);
    pc_rig_write(r.chan[1][0], b);
    for (guint i = 0; i < 2; i++) {
        g_assert_true(
            vh_channel_shutdown(r.chan[i][0], VH_CHANNEL_SHUTDOWN_WRITE, NULL));
    }
    /* Main: DISCARD 5 and 20, DIRTY_SYNC 1; DISCARD 30, ITER_END 1. */
    put_discard_range(b, 5, 1);
    put_discard_range(b, 20, 1);
    packets[0] = packets[1] = 1;
    vh_mig_put_dirty_sync(b, 1, 2, packets);
    put_discard_range(b, 30, 1);
    packets[1] = 0;
    vh_mig_put_iter_end(b, 1, 2, packets);
    /* An older source's switch: DISCARD after the final ITER_END. */
    put_discard_range(b, 31, 1);
    put_tail(&r, b, 1);
    pc_rig_write(r.main[0], b);
    error = pc_rig_stop(&r, true);
    g_assert_cmpstr(error, ==, NULL);
    for (guint64 p = 0; p < 64; p++) {
        bool gone = p == 20 || p == 30 || p == 31;

        g_assert_true(vh_postcopy_is_received(r.l->pc, p) == !gone);
        g_assert_true(gone ? page_zero(&r, p) : page_equal(&r, p));
    }
    pc_rig_free(&r);
}

/*
 * The main stream of a post-copy target with @nch channels (each at its
 * SYNC 1, empty) after RAM_SETUP and @tail says @want.
 */
static void expect_pc_failure(guint nch, GByteArray *tail, const char *want)
{
    g_autoptr(GByteArray) b = g_byte_array_new();
    PcRig r;
    g_autofree char *error = NULL;

    pc_rig_start(&r, nch);
    for (guint i = 0; i < nch; i++) {
        put_barrier(b, false, 1, 0);
        pc_rig_write(r.chan[i][0], b);
    }
    pc_rig_write(r.main[0], tail);
    error = pc_rig_stop(&r, false);
    g_assert_nonnull(error);
    if (!strstr(error, want)) {
        g_error("'%s' lacks '%s'", error, want);
    }
    pc_rig_free(&r);
}

static void test_postcopy_discard_refused(void)
{
    g_autoptr(VhRamBlock) ram = new_ram(64);
    guint64 packets[2] = {0, 0};
    SrcDevices d;

    default_devices(&d);
    {
        /* Without the post-copy flag: DISCARD and DIRTY_SYNC. */
        g_autoptr(GByteArray) b = g_byte_array_new();

        prefix_stream(b, ram);
        put_discard_range(b, 1, 1);
        expect_failure(ram, b, "DISCARD without the post-copy flag");
        g_byte_array_set_size(b, 0);
        prefix_stream(b, ram);
        vh_mig_put_dirty_sync(b, 1, 0, NULL);
        expect_failure(ram, b, "DIRTY_SYNC without the post-copy flag");
    }
    {
        /* DISCARD once the device state began. */
        g_autoptr(GByteArray) b = g_byte_array_new();

        vh_mig_put_iter_end(b, 1, 0, NULL);
        vh_mig_put_machine(b, true);
        put_discard_range(b, 1, 1);
        expect_pc_failure(0, b, "DISCARD after the device state");
    }
    {
        /* A range past the RAM, and one of length 0. */
        g_autoptr(GByteArray) b = g_byte_array_new();

        vh_mig_put_section(b, VH_MIG_SEC_DISCARD, VH_MIG_DISCARD_BASE + 16);
        vh_mig_put_u32(b, 0);
        vh_mig_put_u32(b, 1);
        vh_mig_put_u64(b, 60);
        vh_mig_put_u64(b, 5);
        expect_pc_failure(0, b, "DISCARD: range 60+5 empty or past the end");
        vh_mig_put_section(b, VH_MIG_SEC_DISCARD, VH_MIG_DISCARD_BASE + 16);
        vh_mig_put_u32(b, 0);
        vh_mig_put_u32(b, 1);
        vh_mig_put_u64(b, 3);
        vh_mig_put_u64(b, 0);
        expect_pc_failure(0, b, "DISCARD: range 3+0 empty");
    }
    {
        /* DIRTY_SYNC: only with multifd channels. */
        g_autoptr(GByteArray) b = g_byte_array_new();

        vh_mig_put_dirty_sync(b, 1, 0, NULL);
        expect_pc_failure(0, b, "DIRTY_SYNC without multifd channels");
    }
    {
        /* DIRTY_SYNC: numbered from 1 without gaps, the header's channels. */
        g_autoptr(GByteArray) b = g_byte_array_new();

        vh_mig_put_dirty_sync(b, 2, 2, packets);
        expect_pc_failure(2, b, "DIRTY_SYNC: sync 2 out of order (expected 1)");
        vh_mig_put_dirty_sync(b, 1, 1, packets);
        expect_pc_failure(2, b,
                          "DIRTY_SYNC: channel count 1, the header said 2");
    }
    {
        /* DIRTY_SYNC once the device state began. */
        g_autoptr(GByteArray) b = g_byte_array_new();

        vh_mig_put_iter_end(b, 1, 2, packets);
        vh_mig_put_machine(b, true);
        vh_mig_put_dirty_sync(b, 1, 2, packets);
        expect_pc_failure(2, b, "DIRTY_SYNC after the device state");
    }
}

/*
 * After POSTCOPY_RUN (userfaultfd registered, the guest would run): no
 * DISCARD, DIRTY_SYNC or FLUSH any more. Needs userfaultfd.
 */
static void test_postcopy_discard_after_run(void)
{
    g_autoptr(VhRamBlock) probe = new_ram(64);
    g_autoptr(GError) err = NULL;
    const struct {
        guint32 type;
        guint nch;
        const char *want;
    } cases[] = {
        {VH_MIG_SEC_DISCARD, 0, "DISCARD after the device state"},
        {VH_MIG_SEC_DIRTY_SYNC, 2, "DIRTY_SYNC after the device state"},
        {VH_MIG_SEC_FLUSH, 2, "FLUSH after POSTCOPY_RUN"},
    };

    if (!vh_postcopy_check_ram(probe, &err)) {
        g_test_skip(err->message);
        return;
    }
    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(GByteArray) b = g_byte_array_new();
        guint64 packets[2] = {0, 0};
        g_autofree char *error = NULL;
        SrcDevices d;
        PcRig r;

        pc_rig_start(&r, cases[i].nch);
        for (guint c = 0; c < cases[i].nch; c++) {
            put_barrier(b, false, 1, 0);
            pc_rig_write(r.chan[c][0], b);
        }
        vh_mig_put_iter_end(b, 1, cases[i].nch, packets);
        default_devices(&d);
        put_src_devices(b, &d);
        vh_mig_put_postcopy_run(b);
        if (cases[i].type == VH_MIG_SEC_DISCARD) {
            put_discard_range(b, 1, 1);
        } else if (cases[i].type == VH_MIG_SEC_DIRTY_SYNC) {
            vh_mig_put_dirty_sync(b, 1, 2, packets);
        }
        pc_rig_write(r.main[0], b);
        if (cases[i].type == VH_MIG_SEC_FLUSH) {
            /* Once POSTCOPY_RUN is in, a channel's FLUSH. */
            for (guint t = 0; !vh_mig_loader_in_postcopy(r.l); t++) {
                g_assert_cmpuint(t, <, 5000);
                g_usleep(1000);
            }
            put_barrier(b, true, 1, 0);
            pc_rig_write(r.chan[0][0], b);
            g_thread_join(r.chan_t[0]);
            r.chan_t[0] = NULL;
            g_assert_false(r.chan_run[0].ok);
            g_assert_nonnull(strstr(r.chan_run[0].error, cases[i].want));
        }
        error = pc_rig_stop(&r, false);
        if (cases[i].type != VH_MIG_SEC_FLUSH) {
            g_assert_nonnull(error);
            if (!strstr(error, cases[i].want)) {
                g_error("'%s' lacks '%s'", error, cases[i].want);
            }
        }
        /* The attempt ends with the RAM still registered: it says so. */
        g_test_expect_message("vmhost-migration", G_LOG_LEVEL_WARNING,
                              "*lost with the source*");
        pc_rig_free(&r);
        g_test_assert_expected_messages();
    }
}

/* DIRTY_SYNC's counts against what each channel carried to its FLUSH. */
static void test_postcopy_flush_count(void)
{
    g_autoptr(GByteArray) b = g_byte_array_new();
    guint64 packets[2] = {3, 0};
    PcRig r;
    g_autofree char *error = NULL;

    pc_rig_start(&r, 2);
    pc_rig_pages(&r, r.chan[0][0], 0, 7);
    put_barrier(b, true, 1, 1);
    pc_rig_write(r.chan[0][0], b);
    put_barrier(b, true, 1, 0);
    pc_rig_write(r.chan[1][0], b);
    vh_mig_put_dirty_sync(b, 1, 2, packets);
    pc_rig_write(r.main[0], b);
    error = pc_rig_stop(&r, false);
    g_assert_nonnull(error);
    g_assert_nonnull(strstr(error, "DIRTY_SYNC 1: channel 0 carried 1 "
                                   "records, the main stream says 3"));
    pc_rig_free(&r);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/migration/stream/round-trip", test_round_trip);
    g_test_add_func("/migration/stream/zero-pages", test_zero_pages_cost_bits);
    for (guint i = 0; i < G_N_ELEMENTS(corruptions); i++) {
        g_autofree char *path = g_strdup_printf(
            "/migration/stream/malformed/%s", corruptions[i].name);

        g_test_add_data_func(path, &corruptions[i], test_malformed);
    }
    g_test_add_func("/migration/stream/bad-order", test_bad_order);
    g_test_add_func("/migration/stream/truncated", test_truncated);
    g_test_add_func("/migration/stream/corpus", test_corpus);
    g_test_add_func("/migration/stream/return-path", test_return_path);
    g_test_add_func("/migration/stream/postcopy-req-pages",
                    test_postcopy_req_pages);
    g_test_add_func("/migration/stream/postcopy-recv-bitmap",
                    test_postcopy_recv_bitmap);
    g_test_add_func("/migration/stream/postcopy-resume-not-run",
                    test_postcopy_resume_not_run);
    g_test_add_func("/migration/stream/postcopy-resume-header",
                    test_postcopy_resume_header);
    g_test_add_func("/migration/stream/postcopy-discard",
                    test_postcopy_discard);
    g_test_add_func("/migration/stream/postcopy-received",
                    test_postcopy_received);
    g_test_add_func("/migration/stream/postcopy-next-window",
                    test_postcopy_next_window);
    g_test_add_func("/migration/stream/postcopy-discard-main",
                    test_postcopy_discard_main);
    g_test_add_func("/migration/stream/postcopy-discard-multifd",
                    test_postcopy_discard_multifd);
    g_test_add_func("/migration/stream/postcopy-discard-refused",
                    test_postcopy_discard_refused);
    g_test_add_func("/migration/stream/postcopy-flush-count",
                    test_postcopy_flush_count);
    g_test_add_func("/migration/stream/postcopy-discard-after-run",
                    test_postcopy_discard_after_run);
    g_test_add_func("/migration/stream/tls-mismatch", test_tls_mismatch);
    g_test_add_func("/migration/stream/ready", test_ready_sent);
    g_test_add_func("/migration/stream/multifd-order", test_multifd_order);
    g_test_add_func("/migration/stream/multifd-bad-hello",
                    test_multifd_bad_hello);
    g_test_add_func("/migration/stream/channel-malformed",
                    test_channel_malformed);
    return g_test_run();
}
