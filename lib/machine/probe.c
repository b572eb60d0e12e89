/*
 * chardev-probe: a silent frontend keeping what a chardev receives, for
 * the monitor's probe_read/probe_write.
 */
#include "vmhost/machine/probe.h"
#include "vmhost/util/error.h"

#define STATE_VERSION 1u

struct VhProbe {
    char *id;
    VhChardev *chr;
    VhMachine *machine; /* where the state is registered, or NULL */
    /*
     * The buffer and the counters: the chardev's thread writes them, a
     * migration thread saves and restores them.
     */
    GMutex lock;
    GByteArray *in; /* received, unread; at most VH_PROBE_BUFFER_MAX */
    guint64 received;
    guint64 dropped;
    bool open;
};

/* id -> VhProbe (borrowed); the chardevs' thread only. */
static GHashTable *probes;

static size_t probe_can_read(void *opaque)
{
    /* Always room: the oldest bytes make way for new ones. */
    return VH_PROBE_BUFFER_MAX;
}

static void probe_receive(void *opaque, const guint8 *buf, size_t len)
{
    VhProbe *p = opaque;
    size_t excess;

    g_mutex_lock(&p->lock);
    p->received += len;
    if (len > VH_PROBE_BUFFER_MAX) {
        /* Only the newest VH_PROBE_BUFFER_MAX bytes can stay. */
        p->dropped += len - VH_PROBE_BUFFER_MAX;
        buf += len - VH_PROBE_BUFFER_MAX;
        len = VH_PROBE_BUFFER_MAX;
    }
    excess = p->in->len + len > VH_PROBE_BUFFER_MAX
                 ? p->in->len + len - VH_PROBE_BUFFER_MAX
                 : 0;
    if (excess) {
        g_byte_array_remove_range(p->in, 0, excess);
        p->dropped += excess;
    }
    g_byte_array_append(p->in, buf, len);
    g_mutex_unlock(&p->lock);
}

static void probe_event(void *opaque, VhChardevEvent event)
{
    VhProbe *p = opaque;

    switch (event) {
    case VH_CHARDEV_EVENT_OPENED:
        p->open = true;
        break;
    case VH_CHARDEV_EVENT_CLOSED:
        p->open = false;
        break;
    default:
        break;
    }
}

VhProbe *vh_probe_new(const char *id, VhChardev *chr, GError **errp)
{
    VhProbe *p;

    g_return_val_if_fail(VH_IS_CHARDEV(chr), NULL);
    if (!id || !id[0]) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "chardev-probe: an id is required");
        return NULL;
    }
    if (probes && g_hash_table_contains(probes, id)) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "chardev-probe %s: a probe with that id already exists",
                    id);
        return NULL;
    }
    if (vh_chardev_has_frontend(chr)) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "chardev-probe %s: chardev '%s' is already in use", id,
                    vh_chardev_get_id(chr));
        return NULL;
    }
    if (!probes) {
        probes = g_hash_table_new(g_str_hash, g_str_equal);
    }
    p = g_new0(VhProbe, 1);
    p->id = g_strdup(id);
    p->chr = g_object_ref(chr);
    p->in = g_byte_array_new();
    g_mutex_init(&p->lock);
    g_hash_table_insert(probes, p->id, p);
    vh_chardev_set_handlers(chr, probe_can_read, probe_receive, probe_event, p,
                            NULL);
    return p;
}

void vh_probe_free(VhProbe *p)
{
    if (!p) {
        return;
    }
    if (p->machine) {
        vh_machine_unregister_device(p->machine, p);
    }
    g_hash_table_remove(probes, p->id);
    if (g_hash_table_size(probes) == 0) {
        g_clear_pointer(&probes, g_hash_table_unref);
    }
    vh_chardev_set_handlers(p->chr, NULL, NULL, NULL, p, NULL);
    g_object_unref(p->chr);
    g_byte_array_unref(p->in);
    g_mutex_clear(&p->lock);
    g_free(p->id);
    g_free(p);
}

VhProbe *vh_probe_lookup(const char *id)
{
    return probes ? g_hash_table_lookup(probes, id) : NULL;
}

GStrv vh_probe_list_ids(void)
{
    GStrv ids;

    if (!probes) {
        return g_new0(char *, 1);
    }
    ids = (GStrv)g_hash_table_get_keys_as_array(probes, NULL);
    for (guint i = 0; ids[i]; i++) {
        ids[i] = g_strdup(ids[i]); /* the keys were borrowed */
    }
    return ids;
}

const char *vh_probe_get_id(VhProbe *p)
{
    return p->id;
}

VhChardev *vh_probe_get_chardev(VhProbe *p)
{
    return p->chr;
}

bool vh_probe_write(VhProbe *p, const void *buf, size_t len, GError **errp)
{
    g_autoptr(GError) err = NULL;

    if (vh_chardev_write(p->chr, buf, len, &err) < 0) {
        g_set_error(errp, VH_ERROR, VH_ERROR_FAILED,
                    "chardev-probe %s: writing to chardev '%s' failed: %s",
                    p->id, vh_chardev_get_id(p->chr), err->message);
        return false;
    }
    return true;
}

GByteArray *vh_probe_read(VhProbe *p, size_t max)
{
    GByteArray *out;
    size_t n;

    g_mutex_lock(&p->lock);
    n = max && max < p->in->len ? max : p->in->len;
    out = g_byte_array_sized_new(n);
    g_byte_array_append(out, p->in->data, n);
    g_byte_array_remove_range(p->in, 0, n);
    g_mutex_unlock(&p->lock);
    return out;
}

size_t vh_probe_get_pending(VhProbe *p)
{
    size_t n;

    g_mutex_lock(&p->lock);
    n = p->in->len;
    g_mutex_unlock(&p->lock);
    return n;
}

guint64 vh_probe_get_received(VhProbe *p)
{
    guint64 n;

    g_mutex_lock(&p->lock);
    n = p->received;
    g_mutex_unlock(&p->lock);
    return n;
}

guint64 vh_probe_get_dropped(VhProbe *p)
{
    guint64 n;

    g_mutex_lock(&p->lock);
    n = p->dropped;
    g_mutex_unlock(&p->lock);
    return n;
}

bool vh_probe_is_open(VhProbe *p)
{
    return p->open;
}

/*
 * ---- migration state, "chardev-probe" version 1 ----
 *
 *     u32 id length (1..63), id, u64 received, u64 dropped,
 *     u32 unread length (<= VH_PROBE_BUFFER_MAX), the unread bytes
 *
 * What the source received and nobody read yet stays readable on the
 * target, like a UART's receive FIFO; the connection itself does not
 * travel.
 */

typedef struct {
    guint64 received;
    guint64 dropped;
    GByteArray *in;
} Staged;

static void staged_free(gpointer opaque)
{
    Staged *st = opaque;

    if (st->in) {
        g_byte_array_unref(st->in);
    }
    g_free(st);
}

static void probe_save(gpointer dev, VhStateWriter *w)
{
    VhProbe *p = dev;

    g_mutex_lock(&p->lock);
    vh_state_put_str(w, p->id);
    vh_state_put_u64(w, p->received);
    vh_state_put_u64(w, p->dropped);
    vh_state_put_bytes(w, p->in->data, p->in->len);
    g_mutex_unlock(&p->lock);
}

static gpointer probe_load(gpointer dev, VhStateReader *r, guint32 version,
                           GError **errp)
{
    VhProbe *p = dev;
    g_autofree char *id = vh_state_get_str(r, "id", 63, errp);
    Staged *st;

    if (!id) {
        return NULL;
    }
    if (!g_str_equal(id, p->id)) {
        g_set_error(errp, VH_ERROR, VH_ERROR_FAILED,
                    "the probe is '%s' on the source but '%s' here", id, p->id);
        return NULL;
    }
    st = g_new0(Staged, 1);
    if (!vh_state_get_u64(r, "received", &st->received, errp) ||
        !vh_state_get_u64(r, "dropped", &st->dropped, errp) ||
        !(st->in = vh_state_get_bytes(r, "unread bytes", VH_PROBE_BUFFER_MAX,
                                      errp)) ||
        !vh_state_reader_end(r, errp)) {
        staged_free(st);
        return NULL;
    }
    return st;
}

static bool probe_apply(gpointer dev, gpointer staged, GError **errp)
{
    VhProbe *p = dev;
    Staged *st = staged;

    g_mutex_lock(&p->lock);
    p->received = st->received;
    p->dropped = st->dropped;
    g_byte_array_set_size(p->in, 0);
    g_byte_array_append(p->in, st->in->data, st->in->len);
    g_mutex_unlock(&p->lock);
    return true;
}

const VhDeviceStateOps vh_probe_state_ops = {
    .name = "chardev-probe",
    .version = STATE_VERSION,
    .min_version = STATE_VERSION,
    .save = probe_save,
    .load = probe_load,
    .apply = probe_apply,
    .free_staged = staged_free,
};

void vh_probe_register_state(VhProbe *p, VhMachine *m)
{
    g_return_if_fail(p->machine == NULL);
    p->machine = m;
    vh_machine_register_device(m, &vh_probe_state_ops, p);
}
