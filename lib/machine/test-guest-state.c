/*
 * The test guest's migration state (vmhost/machine/vmstate.h): where its
 * workload is, so that the target's guest goes on exactly where the
 * source's stopped. Payload, version 2 (32 bytes):
 *
 *     u64 rate (bytes/s), u32 pattern (VhDirtyPattern), u32 reserved = 0,
 *     u64 PRNG state, u64 sweep cursor (< the data pages)
 *
 * Version 1 (24 bytes, an unused seed in place of the position) is not
 * read: it lived only while issue 5 was developed.
 */
#include "vmhost/machine/test-guest.h"

#include "vmhost/util/error.h"

#define STATE_VERSION 2u
#define STATE_LEN     32u

typedef struct {
    guint64 rate;
    guint32 pattern;
    VhTestGuestWorkloadState ws;
} Staged;

static void guest_save(gpointer dev, VhStateWriter *w)
{
    VhTestGuest *guest = dev;
    VhTestGuestWorkloadState ws;

    vh_test_guest_get_workload_state(guest, &ws);
    vh_state_put_u64(w, vh_test_guest_get_rate(guest));
    vh_state_put_u32(w, vh_test_guest_get_pattern(guest));
    vh_state_put_u32(w, 0);
    vh_state_put_u64(w, ws.rng);
    vh_state_put_u64(w, ws.cursor);
}

static gpointer guest_load(gpointer dev, VhStateReader *r, guint32 version,
                           GError **errp)
{
    VhTestGuest *guest = dev;
    g_autofree Staged *s = g_new0(Staged, 1);
    guint32 reserved;

    if (!vh_state_reader_expect_len(r, STATE_LEN, errp) ||
        !vh_state_get_u64(r, "rate", &s->rate, errp) ||
        !vh_state_get_u32(r, "pattern", &s->pattern, errp) ||
        !vh_state_get_u32(r, "reserved", &reserved, errp) ||
        !vh_state_get_u64(r, "PRNG state", &s->ws.rng, errp) ||
        !vh_state_get_u64(r, "cursor", &s->ws.cursor, errp)) {
        return NULL;
    }
    if (s->pattern > VH_DIRTY_HOT) {
        g_set_error(errp, VH_ERROR, VH_ERROR_FAILED,
                    "workload pattern %u unknown (0..2)", s->pattern);
        return NULL;
    }
    if (reserved != 0) {
        g_set_error_literal(errp, VH_ERROR, VH_ERROR_FAILED,
                            "reserved field is not zero");
        return NULL;
    }
    if (s->ws.cursor >= vh_test_guest_get_data_pages(guest)) {
        g_set_error(errp, VH_ERROR, VH_ERROR_FAILED,
                    "workload cursor %" G_GUINT64_FORMAT
                    " past the test guest's %" G_GUINT64_FORMAT " data pages",
                    s->ws.cursor, vh_test_guest_get_data_pages(guest));
        return NULL;
    }
    return g_steal_pointer(&s);
}

static bool guest_apply(gpointer dev, gpointer staged, GError **errp)
{
    VhTestGuest *guest = dev;
    Staged *s = staged;

    if (!vh_test_guest_set_workload_state(guest, &s->ws, errp)) {
        return false;
    }
    vh_test_guest_set_workload(guest, s->rate, (VhDirtyPattern)s->pattern);
    return true;
}

const VhDeviceStateOps vh_test_guest_state_ops = {
    .name = "test-guest",
    .version = STATE_VERSION,
    .min_version = STATE_VERSION,
    .save = guest_save,
    .load = guest_load,
    .apply = guest_apply,
    .free_staged = g_free,
};
