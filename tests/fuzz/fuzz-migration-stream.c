/*
 * The migration loader (lib/migration/stream.c), fed a main stream as a
 * source (or an attacker who got past TLS) would send it.
 *
 * Invariants: success xor an error whose message names the stream
 * ("migration stream: ...") or the return path; nothing is read or written
 * outside the 64-page RAM (ASan watches every load into it); and an
 * accepted stream ended with the device state for this machine (one
 * serial port) after at least one iteration, with END's totals equal to
 * what was loaded (the loader checks those itself). The target's devices
 * are real ones (vmhost/machine/vmstate.h): a test guest with 62 data
 * pages and its console serial0, so their own loaders are fuzzed too.
 */
#include "fuzz-common.h"

#include <sys/socket.h>

#include "vmhost/chardev/char-null.h"
#include "vmhost/io/channel-socket.h"
#include "vmhost/machine/serial.h"
#include "vmhost/machine/test-guest.h"
#include "vmhost/migration/stream.h"
#include "vmhost/util/error.h"

#define FUZZ_MAX_INPUT                                                         \
    65536 /* fits a socket pair's buffer: no writer thread                     \
           */

static VhRamBlock *ram_get(void)
{
    static VhRamBlock *ram;

    if (!ram) {
        ram = vh_ram_block_new("pc.ram", 64 * VH_RAM_PAGE_SIZE, false, NULL);
        g_assert_nonnull(ram);
    }
    return ram;
}

/* The target's devices, made once; the guest never runs. */
static GArray *devices_get(void)
{
    static GArray *devices;

    if (!devices) {
        VhRamBlock *ram =
            vh_ram_block_new("guest.ram", 64 * VH_RAM_PAGE_SIZE, false, NULL);
        VhTestGuest *guest = vh_test_guest_new(ram, NULL);
        VhChardev *chr = vh_chardev_null_new("n0", NULL, NULL);
        VhSerial *port = vh_serial_new("serial0", chr, guest, NULL);
        VhDeviceEntry e[2] = {{&vh_test_guest_state_ops, guest, 0},
                              {&vh_serial_state_ops, port, 0}};

        g_assert_nonnull(port);
        devices = g_array_new(false, true, sizeof(VhDeviceEntry));
        g_array_append_vals(devices, e, 2);
    }
    return devices;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autoptr(VhMigLoader) l = NULL;
    g_autoptr(GError) err = NULL;
    VhChannelSocket *a = NULL, *b = NULL;
    int sz = 4 * FUZZ_MAX_INPUT;
    bool ok;

    if (size > FUZZ_MAX_INPUT) {
        return 0;
    }
    g_assert_true(vh_channel_socket_pair(&a, &b, NULL));
    setsockopt(vh_channel_socket_get_fd(a), SOL_SOCKET, SO_SNDBUF, &sz,
               sizeof(sz));
    setsockopt(vh_channel_socket_get_fd(b), SOL_SOCKET, SO_RCVBUF, &sz,
               sizeof(sz));
    if (size) {
        g_assert_true(vh_channel_write_all(VH_CHANNEL(a), data, size, NULL));
    }
    g_assert_true(
        vh_channel_shutdown(VH_CHANNEL(a), VH_CHANNEL_SHUTDOWN_WRITE, NULL));
    l = vh_mig_loader_new(ram_get(), false);
    vh_mig_loader_set_devices(l, devices_get());
    ok = vh_mig_loader_run_main(l, VH_CHANNEL(b), NULL, &err);
    fuzz_assert_result(ok, err);
    if (!ok) {
        g_assert_true(g_str_has_prefix(err->message, "migration stream: ") ||
                      strstr(err->message, "return path"));
    } else {
        const VhMigCounts *c = vh_mig_loader_get_counts(l);

        g_assert_cmpuint(c->iterations, >=, 1);
        /*
         * Every device of this machine arrived and its state applies (the
         * guest stays paused: a workload set here never runs).
         */
        g_assert_true(vh_mig_loader_apply_devices(l, NULL));
    }
    g_object_unref(a);
    g_object_unref(b);
    return 0;
}
