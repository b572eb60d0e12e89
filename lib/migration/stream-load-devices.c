/*
 * The device state on the target: MACHINE, and each DEVICE section looked
 * up among the machine's devices by name and instance, version-checked and
 * handed to the device's own load(), which stages it; apply() later
 * (docs/migration-stream.md, "Device sections"). Nothing here names a
 * device.
 */
#include "stream-priv.h"

#include "vmhost/util/error.h"

void vh_mig_loader_clear_staged(VhMigLoader *l)
{
    for (guint i = 0; i < l->staged->len; i++) {
        gpointer st = g_ptr_array_index(l->staged, i);

        if (st) {
            g_array_index(l->devices, VhDeviceEntry, i).ops->free_staged(st);
            g_ptr_array_index(l->staged, i) = NULL;
        }
    }
}

void vh_mig_loader_set_devices(VhMigLoader *l, GArray *devices)
{
    vh_mig_loader_clear_staged(l);
    g_array_unref(l->devices);
    l->devices = g_array_ref(devices);
    g_ptr_array_set_size(l->staged, devices->len);
}

bool vh_mig_loader_get_running(VhMigLoader *l)
{
    return l->running;
}

bool vh_mig_loader_apply_devices(VhMigLoader *l, GError **errp)
{
    for (guint i = 0; i < l->devices->len; i++) {
        const VhDeviceEntry *e = &g_array_index(l->devices, VhDeviceEntry, i);
        gpointer st = g_ptr_array_index(l->staged, i);

        g_assert(st != NULL); /* run_main checked every device came */
        if (!e->ops->apply(e->dev, st, errp)) {
            g_prefix_error(errp,
                           "migration: applying the state of device '%s' "
                           "instance %u: ",
                           e->ops->name, e->instance);
            return false;
        }
    }
    return true;
}

bool vh_mig_load_machine(VhMigLoader *l, const guint8 *b, guint32 len,
                         GError **errp)
{
    const guint8 *p = b;
    guint32 running, reserved;

    if (l->have_machine) {
        return vh_mig_bad(errp, "MACHINE: a second one");
    }
    if (!vh_mig_expect_len("MACHINE", len, VH_MIG_MACHINE_BODY, errp)) {
        return false;
    }
    running = vh_mig_take_u32(&p);
    reserved = vh_mig_take_u32(&p);
    if (running > 1) {
        return vh_mig_bad(errp, "MACHINE: running flag %u is not 0 or 1",
                          running);
    }
    if (reserved != 0) {
        return vh_mig_bad(errp, "MACHINE: reserved field is not zero");
    }
    l->running = running == 1;
    l->have_machine = true;
    return true;
}

/* The index of this machine's device @name/@instance, or -1. */
static gint find_device(VhMigLoader *l, const char *name, guint32 instance)
{
    for (guint i = 0; i < l->devices->len; i++) {
        const VhDeviceEntry *e = &g_array_index(l->devices, VhDeviceEntry, i);

        if (e->instance == instance && g_str_equal(e->ops->name, name)) {
            return (gint)i;
        }
    }
    return -1;
}

/* "test-guest 0, serial 0, serial 1", or "none" (transfer full). */
static char *device_list(VhMigLoader *l)
{
    GString *s = g_string_new(NULL);

    for (guint i = 0; i < l->devices->len; i++) {
        const VhDeviceEntry *e = &g_array_index(l->devices, VhDeviceEntry, i);

        g_string_append_printf(s, "%s%s %u", i ? ", " : "", e->ops->name,
                               e->instance);
    }
    if (!s->len) {
        g_string_append(s, "none");
    }
    return g_string_free(s, FALSE);
}

/* The version, once per device, then the device's own load. */
static bool stage_device(VhMigLoader *l, const char *name, guint32 instance,
                         guint32 version, VhStateReader *r, GError **errp)
{
    gint i = find_device(l, name, instance);
    const VhDeviceEntry *e;
    g_autoptr(GError) err = NULL;
    gpointer st;

    if (i < 0) {
        g_autofree char *have = device_list(l);

        return vh_mig_bad(errp,
                          "DEVICE: '%s' instance %u is not a device of this "
                          "machine (it has: %s)",
                          name, instance, have);
    }
    e = &g_array_index(l->devices, VhDeviceEntry, i);
    if (g_ptr_array_index(l->staged, i)) {
        return vh_mig_bad(errp, "device '%s' instance %u: a second one", name,
                          instance);
    }
    if (version > e->ops->version || version < e->ops->min_version) {
        return vh_mig_bad(errp,
                          "device '%s' instance %u: version %u, this vmhost "
                          "loads versions %u..%u (the source is %s)",
                          name, instance, version, e->ops->min_version,
                          e->ops->version,
                          version > e->ops->version ? "newer" : "older");
    }
    st = e->ops->load(e->dev, r, version, &err);
    if (!st) {
        return vh_mig_bad(errp, "device '%s' instance %u: %s", name, instance,
                          err->message);
    }
    g_ptr_array_index(l->staged, i) = st;
    return true;
}

bool vh_mig_load_device(VhMigLoader *l, const guint8 *b, guint32 len,
                        GError **errp)
{
    const guint8 *p = b, *end = b + len;
    g_autofree char *name = NULL;
    guint32 instance, version, plen;
    VhStateReader r;

    name = vh_mig_read_name(&p, end, VH_DEVICE_STATE_NAME_MAX, "DEVICE: name",
                            errp);
    if (!name) {
        return false;
    }
    if (end - p < VH_MIG_DEVICE_BASE) {
        return vh_mig_bad(errp, "DEVICE '%s': section length %u too short",
                          name, len);
    }
    instance = vh_mig_take_u32(&p);
    version = vh_mig_take_u32(&p);
    plen = vh_mig_take_u32(&p);
    if ((guint64)(end - p) != plen) {
        return vh_mig_bad(errp,
                          "DEVICE '%s' instance %u: payload length %u does "
                          "not match the section length %u",
                          name, instance, plen, len);
    }
    vh_state_reader_init(&r, p, plen);
    return stage_device(l, name, instance, version, &r, errp);
}

bool vh_mig_devices_complete(VhMigLoader *l, GError **errp)
{
    if (!l->have_machine) {
        return vh_mig_bad(errp,
                          "END before the device state (no MACHINE section)");
    }
    for (guint i = 0; i < l->devices->len; i++) {
        const VhDeviceEntry *e = &g_array_index(l->devices, VhDeviceEntry, i);

        if (!g_ptr_array_index(l->staged, i)) {
            return vh_mig_bad(errp,
                              "END before the device state of '%s' instance "
                              "%u (the source did not send this machine's "
                              "device)",
                              e->ops->name, e->instance);
        }
    }
    return true;
}
