/*
 * Device migration state: how a device saves and loads its own state, and
 * how the machine keeps the list of devices that have one (QEMU's VMState
 * is the model; this is a smaller, hand-written form of it).
 *
 *     static void uart_save(gpointer dev, VhStateWriter *w)
 *     {
 *         vh_state_put_u64(w, ((Uart *)dev)->rx_bytes);
 *     }
 *
 *     static gpointer uart_load(gpointer dev, VhStateReader *r,
 *                               guint32 version, GError **errp)
 *     {
 *         g_autofree guint64 *rx = g_new(guint64, 1);
 *
 *         if (!vh_state_get_u64(r, "rx bytes", rx, errp) ||
 *             !vh_state_reader_end(r, errp)) {
 *             return NULL;
 *         }
 *         return g_steal_pointer(&rx);       // staged, not applied yet
 *     }
 *
 *     static bool uart_apply(gpointer dev, gpointer staged, GError **errp)
 *     {
 *         ((Uart *)dev)->rx_bytes = *(guint64 *)staged;
 *         return true;
 *     }
 *
 *     static const VhDeviceStateOps uart_ops = {
 *         .name = "uart", .version = 1, .min_version = 1,
 *         .save = uart_save, .load = uart_load, .apply = uart_apply,
 *         .free_staged = g_free,
 *     };
 *
 *     vh_machine_register_device(machine, &uart_ops, uart);
 *     ...
 *     vh_machine_unregister_device(machine, uart);   // before uart goes
 *
 * Migration (lib/migration) saves every registered device into the stream
 * as one section (name, instance, version, payload) and loads each
 * section into the device of the same name and instance on the target: it
 * names no device, so a new device needs no change there. The format is
 * docs/migration-stream.md, "Device sections".
 *
 * Loading is two steps because a vmhost target outlives a failed
 * migration (it accepts the next attempt): load() parses and checks a
 * payload into a staged state without touching the device; apply() makes
 * it the device's once the whole stream checked out (or, for post-copy,
 * as soon as the device sections are in). A failed attempt frees what was
 * staged and leaves every device as it was.
 *
 * Threads: save() runs in the migration thread with the guest stopped;
 * load() and apply() in a target's loading thread with the guest not
 * running. Whatever another thread may touch at the same time (a chardev
 * handler on the main context) the device guards itself.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>

G_BEGIN_DECLS

/* ---- payload writer: little-endian fields appended to a buffer ---- */

typedef struct {
    GByteArray *buf; /* borrowed */
} VhStateWriter;

void vh_state_put_u32(VhStateWriter *w, guint32 v);
void vh_state_put_u64(VhStateWriter *w, guint64 v);
/* A u32 length, then the bytes of @s (no NUL). */
void vh_state_put_str(VhStateWriter *w, const char *s);
/* A u32 length, then @len bytes. */
void vh_state_put_bytes(VhStateWriter *w, const void *data, guint32 len);

/* ---- payload reader: every getter checks the bytes are there ---- */

typedef struct {
    const guint8 *p;   /* next unread byte */
    const guint8 *end; /* one past the payload */
    guint32 len;       /* the whole payload */
} VhStateReader;

void vh_state_reader_init(VhStateReader *r, const guint8 *data, guint32 len);

/*
 * The getters fail (false, or NULL) with an error naming @field when the
 * payload ends inside it ("payload too short for 'cursor' (24 bytes)").
 */
G_GNUC_WARN_UNUSED_RESULT
bool vh_state_get_u32(VhStateReader *r, const char *field, guint32 *v,
                      GError **errp);
G_GNUC_WARN_UNUSED_RESULT
bool vh_state_get_u64(VhStateReader *r, const char *field, guint64 *v,
                      GError **errp);
/* A u32 that must be 0 or 1. */
G_GNUC_WARN_UNUSED_RESULT
bool vh_state_get_bool(VhStateReader *r, const char *field, bool *v,
                       GError **errp);
/*
 * A string of 1..@max printable ASCII bytes (transfer full), as
 * vh_state_put_str() wrote it.
 */
G_GNUC_WARN_UNUSED_RESULT
char *vh_state_get_str(VhStateReader *r, const char *field, guint32 max,
                       GError **errp);
/* Bytes as vh_state_put_bytes() wrote them, at most @max (transfer full). */
G_GNUC_WARN_UNUSED_RESULT
GByteArray *vh_state_get_bytes(VhStateReader *r, const char *field, guint32 max,
                               GError **errp);
/* A fixed-size payload: exactly @len bytes, else an error saying both. */
G_GNUC_WARN_UNUSED_RESULT
bool vh_state_reader_expect_len(VhStateReader *r, guint32 len, GError **errp);
/* Every byte was read; else an error counting the ones left. */
G_GNUC_WARN_UNUSED_RESULT
bool vh_state_reader_end(VhStateReader *r, GError **errp);

/* ---- the interface a device implements ---- */

#define VH_DEVICE_STATE_NAME_MAX 63u

typedef struct {
    /*
     * The device kind's name in the stream, 1..VH_DEVICE_STATE_NAME_MAX
     * bytes of [a-z0-9-]; the same on every vmhost version (mandatory).
     */
    const char *name;
    /* What save() writes (>= 1), and the oldest version load() reads. */
    guint32 version;
    guint32 min_version;
    /* Mandatory: append the state to @w; the guest is stopped. */
    void (*save)(gpointer dev, VhStateWriter *w);
    /*
     * Mandatory: parse and check @r, written by a save() of @version
     * (min_version <= @version <= version, checked before the call), into
     * a staged state (transfer full, never NULL on success) without
     * changing the device; NULL with @errp set when anything is wrong.
     */
    gpointer (*load)(gpointer dev, VhStateReader *r, guint32 version,
                     GError **errp);
    /* Mandatory: make @staged (borrowed) the device's state. */
    bool (*apply)(gpointer dev, gpointer staged, GError **errp);
    /* Frees a staged state (mandatory). */
    GDestroyNotify free_staged;
} VhDeviceStateOps;

/* One registered device: what the machine lists, by value. */
typedef struct {
    const VhDeviceStateOps *ops; /* static, never freed */
    gpointer dev;                /* borrowed */
    guint32 instance;            /* among devices of the same name */
} VhDeviceEntry;

G_END_DECLS
