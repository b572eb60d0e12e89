/*
 * Tests for chardev-probe (lib/machine/probe.c): a socket chardev on one
 * end of a socketpair, the test at the other end as the remote peer.
 */
#include "chardev-testutil.h"
#include "vmhost/chardev/char-socket.h"
#include "vmhost/chardev/char-null.h"
#include "vmhost/io/channel-socket.h"
#include "vmhost/machine/probe.h"

#include <string.h>
#include <unistd.h>

#define TIMEOUT_US (10 * G_USEC_PER_SEC)

typedef struct {
    VhChannelSocket *peer;
    VhChardev *chr;
    VhProbe *probe;
} Fixture;

static void fixture_setup(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;

    f->chr = vh_test_chardev_socketpair("c0", &f->peer);
    f->probe = vh_probe_new("p0", f->chr, &err);
    g_assert_no_error(err);
}

static void fixture_teardown(Fixture *f, gconstpointer data)
{
    vh_probe_free(f->probe);
    vh_chardev_close(f->chr);
    g_object_unref(f->chr);
    g_clear_object(&f->peer);
    while (g_main_context_iteration(NULL, FALSE)) {
    }
}

static void send_bytes(Fixture *f, const void *buf, size_t len)
{
    vh_test_peer_write(f->peer, buf, len);
}

/* Iterate until the probe holds @n bytes waiting (or fail). */
static void wait_pending(Fixture *f, size_t n)
{
    gint64 deadline = g_get_monotonic_time() + TIMEOUT_US;

    while (vh_probe_get_received(f->probe) < n ||
           (vh_probe_get_pending(f->probe) < n &&
            vh_probe_get_pending(f->probe) < VH_PROBE_BUFFER_MAX)) {
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        if (!g_main_context_iteration(NULL, FALSE)) {
            g_usleep(500);
        }
    }
}

static char *read_str(Fixture *f, size_t max)
{
    g_autoptr(GByteArray) b = vh_probe_read(f->probe, max);

    return b->len ? g_strndup((const char *)b->data, b->len) : g_strdup("");
}

static void test_receive(Fixture *f, gconstpointer data)
{
    g_autofree char *part = NULL, *none = NULL;

    g_assert_cmpstr(vh_probe_get_id(f->probe), ==, "p0");
    g_assert_true(vh_probe_get_chardev(f->probe) == f->chr);
    g_assert_true(vh_probe_lookup("p0") == f->probe);
    g_assert_true(vh_chardev_has_frontend(f->chr));
    send_bytes(f, "hello\r\n\0world", 13);
    wait_pending(f, 13);
    part = read_str(f, 5);
    g_assert_cmpstr(part, ==, "hello");
    g_assert_cmpuint(vh_probe_get_pending(f->probe), ==, 8);
    {
        g_autoptr(GByteArray) b = vh_probe_read(f->probe, 0);

        /* Every byte as sent, a NUL too. */
        g_assert_cmpuint(b->len, ==, 8);
        g_assert_cmpmem(b->data, b->len, "\r\n\0world", 8);
    }
    none = read_str(f, 0);
    g_assert_cmpstr(none, ==, "");
    g_assert_cmpuint(vh_probe_get_received(f->probe), ==, 13);
    g_assert_cmpuint(vh_probe_get_dropped(f->probe), ==, 0);
}

static void test_silent_and_write(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;
    char buf[64];
    gssize n;

    /* Nothing comes out on its own, not even after input. */
    send_bytes(f, "help\n", 5);
    wait_pending(f, 5);
    for (int i = 0; i < 20; i++) {
        g_main_context_iteration(NULL, FALSE);
    }
    n = vh_channel_read(VH_CHANNEL(f->peer), buf, sizeof(buf), &err);
    g_assert_no_error(err);
    g_assert_cmpint(n, ==, VH_CHANNEL_ERR_BLOCK);

    g_assert_true(vh_probe_write(f->probe, "info version\n", 13, &err));
    g_assert_no_error(err);
    {
        gint64 deadline = g_get_monotonic_time() + TIMEOUT_US;
        GString *got = g_string_new(NULL);

        while (got->len < 13) {
            g_assert_cmpint(g_get_monotonic_time(), <, deadline);
            g_main_context_iteration(NULL, FALSE);
            n = vh_channel_read(VH_CHANNEL(f->peer), buf, sizeof(buf), &err);
            g_assert_no_error(err);
            if (n > 0) {
                g_string_append_len(got, buf, n);
            } else {
                g_usleep(500);
            }
        }
        /* As given: nothing appended. */
        g_assert_cmpstr(got->str, ==, "info version\n");
        g_string_free(got, TRUE);
    }
}

static void test_overflow(Fixture *f, gconstpointer data)
{
    const size_t total = VH_PROBE_BUFFER_MAX + 1000;
    g_autofree guint8 *buf = g_malloc(total);
    g_autoptr(GByteArray) b = NULL;

    for (size_t i = 0; i < total; i++) {
        buf[i] = (guint8)(i % 251);
    }
    send_bytes(f, buf, total);
    wait_pending(f, total);
    g_assert_cmpuint(vh_probe_get_received(f->probe), ==, total);
    g_assert_cmpuint(vh_probe_get_pending(f->probe), ==, VH_PROBE_BUFFER_MAX);
    g_assert_cmpuint(vh_probe_get_dropped(f->probe), ==, 1000);
    b = vh_probe_read(f->probe, 0);
    /* The oldest went; the newest are all there, in order. */
    g_assert_cmpmem(b->data, b->len, buf + 1000, VH_PROBE_BUFFER_MAX);
}

static void test_peer_gone(Fixture *f, gconstpointer data)
{
    gint64 deadline = g_get_monotonic_time() + TIMEOUT_US;
    g_autofree char *kept = NULL;
    g_autoptr(GError) err = NULL;

    while (!vh_probe_is_open(f->probe)) {
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        g_main_context_iteration(NULL, TRUE);
    }
    send_bytes(f, "bye", 3);
    wait_pending(f, 3);
    g_clear_object(&f->peer);
    while (vh_probe_is_open(f->probe)) {
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        g_main_context_iteration(NULL, TRUE);
    }
    /* What the peer sent stays readable after it left. */
    kept = read_str(f, 0);
    g_assert_cmpstr(kept, ==, "bye");
    /* Writing with no peer drops, as any chardev write does. */
    g_assert_true(vh_probe_write(f->probe, "x", 1, &err));
    g_assert_no_error(err);
    vh_chardev_close(f->chr);
    g_assert_false(vh_probe_write(f->probe, "x", 1, &err));
    g_assert_error(err, VH_ERROR, VH_ERROR_FAILED);
    g_assert_nonnull(strstr(err->message, "chardev-probe p0"));
    g_assert_nonnull(strstr(err->message, "'c0'"));
}

static void test_bad_new(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(VhChardev) other = vh_chardev_null_new("n0", NULL, &err);
    VhProbe *p;

    g_assert_no_error(err);
    p = vh_probe_new("", other, &err);
    g_assert_null(p);
    g_assert_error(err, VH_ERROR, VH_ERROR_INVALID_ARGUMENT);
    g_assert_nonnull(strstr(err->message, "an id is required"));
    g_clear_error(&err);

    p = vh_probe_new("p0", other, &err);
    g_assert_null(p);
    g_assert_error(err, VH_ERROR, VH_ERROR_INVALID_ARGUMENT);
    g_assert_nonnull(strstr(err->message, "chardev-probe p0: a probe with "
                                          "that id already exists"));
    g_clear_error(&err);

    p = vh_probe_new("p1", f->chr, &err);
    g_assert_null(p);
    g_assert_error(err, VH_ERROR, VH_ERROR_INVALID_ARGUMENT);
    g_assert_nonnull(strstr(err->message,
                            "chardev-probe p1: chardev 'c0' is already in "
                            "use"));
    g_clear_error(&err);

    /* A second probe on a free chardev works; freeing unregisters it. */
    p = vh_probe_new("p1", other, &err);
    g_assert_no_error(err);
    g_assert_true(vh_probe_lookup("p1") == p);
    vh_probe_free(p);
    g_assert_null(vh_probe_lookup("p1"));
    g_assert_false(vh_chardev_has_frontend(other));
    g_assert_null(vh_probe_lookup("nope"));
    vh_probe_free(NULL);
}

/*
 * The probe's migration state: what it received and nobody read, and its
 * counters, saved and loaded into another probe of the same id (through
 * the machine's registry), staged until applied; another id is refused.
 */
static void test_state(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(VhRamBlock) ram =
        vh_ram_block_new("pc.ram", 16 * 4096, false, &err);
    g_autoptr(VhMachine) m = vh_machine_new("vm", g_steal_pointer(&ram), &err);
    g_autoptr(GByteArray) payload = g_byte_array_new();
    g_autoptr(GArray) devices = NULL;
    g_autoptr(VhChardev) other = vh_chardev_null_new("n1", NULL, &err);
    VhStateWriter w = {.buf = payload};
    const VhDeviceEntry *e = NULL;
    g_autofree char *got = NULL;
    VhStateReader r;
    VhProbe *dst;
    gpointer st;

    g_assert_no_error(err);
    vh_probe_register_state(f->probe, m);
    devices = vh_machine_get_devices(m);
    for (guint i = 0; i < devices->len; i++) {
        if (g_array_index(devices, VhDeviceEntry, i).dev == f->probe) {
            e = &g_array_index(devices, VhDeviceEntry, i);
        }
    }
    g_assert_nonnull(e);
    g_assert_cmpstr(e->ops->name, ==, "chardev-probe");
    g_assert_cmpuint(e->instance, ==, 0);
    send_bytes(f, "unread", 6);
    wait_pending(f, 6);
    e->ops->save(e->dev, &w);

    /* The target's probe of the same id takes it, once applied. */
    vh_probe_free(f->probe);
    dst = f->probe = vh_probe_new("p0", other, &err);
    g_assert_no_error(err);
    vh_state_reader_init(&r, payload->data, payload->len);
    st = vh_probe_state_ops.load(dst, &r, 1, &err);
    g_assert_no_error(err);
    g_assert_cmpuint(vh_probe_get_pending(dst), ==, 0);
    g_assert_true(vh_probe_state_ops.apply(dst, st, &err));
    vh_probe_state_ops.free_staged(st);
    g_assert_cmpuint(vh_probe_get_received(dst), ==, 6);
    got = read_str(f, 0);
    g_assert_cmpstr(got, ==, "unread");

    /* A probe of another id refuses it, naming both. */
    vh_probe_free(f->probe);
    f->probe = vh_probe_new("p9", other, &err);
    g_assert_no_error(err);
    vh_state_reader_init(&r, payload->data, payload->len);
    g_assert_null(vh_probe_state_ops.load(f->probe, &r, 1, &err));
    g_assert_nonnull(
        strstr(err->message, "the probe is 'p0' on the source but 'p9' here"));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
#define ADD(path, fn)                                                          \
    g_test_add("/machine/probe/" path, Fixture, NULL, fixture_setup, fn,       \
               fixture_teardown)
    ADD("receive", test_receive);
    ADD("silent-and-write", test_silent_and_write);
    ADD("overflow", test_overflow);
    ADD("peer-gone", test_peer_gone);
    ADD("bad-new", test_bad_new);
    ADD("state", test_state);
#undef ADD
    return g_test_run();
}
