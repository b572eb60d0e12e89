/*
 * A serial port's migration state (vmhost/machine/vmstate.h), "serial"
 * version 1:
 *
 *     u32 id length (1..63), id, u32 console (0/1),
 *     u64 console lines answered, u64 input bytes dropped
 *
 * Ports are matched by instance (registration order, -serial first); the
 * target's port of that instance must have the same id and console flag,
 * and takes over the counters.
 */
#include "vmhost/machine/serial.h"

#include "vmhost/util/error.h"

#define STATE_VERSION 1u

typedef struct {
    guint64 commands;
    guint64 dropped;
} Staged;

static void serial_save(gpointer dev, VhStateWriter *w)
{
    VhSerial *s = dev;

    vh_state_put_str(w, vh_serial_get_id(s));
    vh_state_put_u32(w, vh_serial_is_console(s) ? 1 : 0);
    vh_state_put_u64(w, vh_serial_get_commands(s));
    vh_state_put_u64(w, vh_serial_get_dropped(s));
}

static gpointer serial_load(gpointer dev, VhStateReader *r, guint32 version,
                            GError **errp)
{
    VhSerial *s = dev;
    g_autofree char *id = vh_state_get_str(r, "id", 63, errp);
    g_autofree Staged *st = g_new0(Staged, 1);
    bool console;

    if (!id || !vh_state_get_bool(r, "console", &console, errp) ||
        !vh_state_get_u64(r, "commands", &st->commands, errp) ||
        !vh_state_get_u64(r, "dropped", &st->dropped, errp) ||
        !vh_state_reader_end(r, errp)) {
        return NULL;
    }
    if (!g_str_equal(id, vh_serial_get_id(s)) ||
        console != vh_serial_is_console(s)) {
        g_set_error(errp, VH_ERROR, VH_ERROR_FAILED,
                    "the port is '%s'%s on the source but '%s'%s here", id,
                    console ? " (console)" : "", vh_serial_get_id(s),
                    vh_serial_is_console(s) ? " (console)" : "");
        return NULL;
    }
    return g_steal_pointer(&st);
}

static bool serial_apply(gpointer dev, gpointer staged, GError **errp)
{
    Staged *st = staged;

    vh_serial_set_counters(dev, st->commands, st->dropped);
    return true;
}

const VhDeviceStateOps vh_serial_state_ops = {
    .name = "serial",
    .version = STATE_VERSION,
    .min_version = STATE_VERSION,
    .save = serial_save,
    .load = serial_load,
    .apply = serial_apply,
    .free_staged = g_free,
};
