/*
 * vh_test_guest_command(): the test guest's console, fed whatever a serial
 * port peer types.
 *
 * The input is split into lines at '\n' and NUL, each run as one command.
 * Invariants: every line gets a non-NULL reply; a reply that reports an
 * error is one line of printable ASCII starting "error: "; a refused
 * `dirty` leaves the workload as it was; an accepted one reports the rate
 * it set; and the guest still verifies afterwards. The guest stays paused,
 * so runs are deterministic.
 */
#include "fuzz-common.h"

#include "vmhost/machine/test-guest.h"

static VhTestGuest *guest_get(void)
{
    static VhRamBlock *ram;
    static VhTestGuest *guest;

    if (!guest) {
        ram = vh_ram_block_new("fuzz.ram", 64 * VH_RAM_PAGE_SIZE, false, NULL);
        g_assert_nonnull(ram);
        guest = vh_test_guest_new(ram, NULL);
        g_assert_nonnull(guest);
    }
    return guest;
}

static void check_error_reply(const char *reply)
{
    g_assert_true(g_str_has_prefix(reply, "error: "));
    for (const char *p = reply; *p; p++) {
        g_assert_true(g_ascii_isprint(*p));
    }
}

static void run_line(VhTestGuest *guest, const char *line)
{
    guint64 rate = vh_test_guest_get_rate(guest);
    VhDirtyPattern pattern = vh_test_guest_get_pattern(guest);
    g_autofree char *reply = vh_test_guest_command(guest, line);
    g_autofree char *stripped = g_strstrip(g_strdup(line));

    g_assert_nonnull(reply);
    if (g_str_has_prefix(stripped, "echo") &&
        (stripped[4] == '\0' || stripped[4] == ' ' || stripped[4] == '\t')) {
        return; /* echo replies with anything at all */
    }
    if (g_str_has_prefix(reply, "error: ")) {
        check_error_reply(reply);
        g_assert_cmpuint(vh_test_guest_get_rate(guest), ==, rate);
        g_assert_cmpint(vh_test_guest_get_pattern(guest), ==, pattern);
        return;
    }
    if (g_str_has_prefix(reply, "dirty: ")) {
        guint64 now = vh_test_guest_get_rate(guest);
        g_assert_cmpint(strcmp(reply, "dirty: off") == 0, ==, now == 0);
        g_assert_cmpuint(now, <=, 1ULL << 40);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    VhTestGuest *guest = guest_get();
    const char *end = (const char *)data + size;
    g_autoptr(GError) err = NULL;

    /* g_strndup stops at a NUL: walk the input piece by piece. */
    for (const char *p = (const char *)data; p <= end;) {
        const char *stop = p;
        while (stop < end && *stop != '\n' && *stop != '\0') {
            stop++;
        }
        g_autofree char *line = g_strndup(p, (gsize)(stop - p));
        run_line(guest, line);
        p = stop + 1;
    }
    g_assert_true(vh_test_guest_is_paused(guest));
    g_assert_true(vh_test_guest_verify(guest, NULL, &err));
    g_assert_no_error(err);
    return 0;
}
