#include "vmhost/machine/machine.h"

#include <pthread.h>

#include "vmhost/util/error.h"

G_DEFINE_ENUM_TYPE(VhRunState, vh_run_state,
                   G_DEFINE_ENUM_VALUE(VH_RUN_STATE_PRELAUNCH, "prelaunch"),
                   G_DEFINE_ENUM_VALUE(VH_RUN_STATE_RUNNING, "running"),
                   G_DEFINE_ENUM_VALUE(VH_RUN_STATE_PAUSED, "paused"),
                   G_DEFINE_ENUM_VALUE(VH_RUN_STATE_SHUTDOWN, "shutdown"),
                   G_DEFINE_ENUM_VALUE(VH_RUN_STATE_POSTMIGRATE, "postmigrate"),
                   G_DEFINE_ENUM_VALUE(VH_RUN_STATE_INMIGRATE, "inmigrate"))

#define BIT(s) (1u << (s))

/* The transitions allowed out of each state; see machine.h. */
static const unsigned int transitions[] = {
    [VH_RUN_STATE_PRELAUNCH] =
        BIT(VH_RUN_STATE_RUNNING) | BIT(VH_RUN_STATE_INMIGRATE) |
        BIT(VH_RUN_STATE_POSTMIGRATE) | BIT(VH_RUN_STATE_SHUTDOWN),
    [VH_RUN_STATE_RUNNING] = BIT(VH_RUN_STATE_PAUSED) |
                             BIT(VH_RUN_STATE_POSTMIGRATE) |
                             BIT(VH_RUN_STATE_SHUTDOWN),
    [VH_RUN_STATE_PAUSED] = BIT(VH_RUN_STATE_RUNNING) |
                            BIT(VH_RUN_STATE_POSTMIGRATE) |
                            BIT(VH_RUN_STATE_SHUTDOWN),
    [VH_RUN_STATE_SHUTDOWN] = 0,
    [VH_RUN_STATE_POSTMIGRATE] = BIT(VH_RUN_STATE_RUNNING) |
                                 BIT(VH_RUN_STATE_PAUSED) |
                                 BIT(VH_RUN_STATE_SHUTDOWN),
    [VH_RUN_STATE_INMIGRATE] =
        BIT(VH_RUN_STATE_RUNNING) | BIT(VH_RUN_STATE_PAUSED) |
        BIT(VH_RUN_STATE_PRELAUNCH) | BIT(VH_RUN_STATE_SHUTDOWN),
};

typedef struct {
    VhRunState old_state;
    VhRunState new_state;
} Change;

struct _VhMachine {
    GObject parent_instance;

    char *name;
    VhRamBlock *ram;
    VhTestGuest *guest;
    GMainContext *context; /* where "state-changed" is emitted */
    GThread *creator;      /* may emit directly when no loop runs */

    /* Serializes transitions; protects the fields below. */
    pthread_mutex_t lock; /* pthread: visible to ThreadSanitizer */
    VhRunState state;
    bool autostart;
    bool powerdown_pending; /* the button was pressed while not running */
    bool guest_shutdown;    /* the guest powered itself off */
    GQueue pending;         /* Change *, not yet emitted */
    GArray *devices;        /* VhDeviceEntry, registration order */
    GHashTable *device_ids; /* claimed device ids (a set) */
};

G_DEFINE_FINAL_TYPE(VhMachine, vh_machine, G_TYPE_OBJECT)

enum { SIGNAL_STATE_CHANGED, N_SIGNALS };
static guint signals[N_SIGNALS];

enum { PROP_0, PROP_NAME, N_PROPS };
static GParamSpec *props[N_PROPS];

const char *vh_run_state_name(VhRunState state)
{
    g_autoptr(GEnumClass) klass = g_type_class_ref(VH_TYPE_RUN_STATE);
    GEnumValue *v = g_enum_get_value(klass, (int)state);

    /* Enum classes are never finalized, so the nick stays valid. */
    return v ? v->value_nick : "unknown";
}

bool vh_run_state_from_name(const char *name, VhRunState *state)
{
    g_autoptr(GEnumClass) klass = g_type_class_ref(VH_TYPE_RUN_STATE);
    GEnumValue *v = name ? g_enum_get_value_by_nick(klass, name) : NULL;

    if (!v) {
        return false;
    }
    *state = (VhRunState)v->value;
    return true;
}

static void vh_machine_set_property(GObject *obj, guint id, const GValue *value,
                                    GParamSpec *pspec)
{
    VhMachine *m = VH_MACHINE(obj);

    switch (id) {
    case PROP_NAME:
        g_free(m->name);
        m->name = g_value_dup_string(value);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, id, pspec);
        break;
    }
}

static void vh_machine_get_property(GObject *obj, guint id, GValue *value,
                                    GParamSpec *pspec)
{
    VhMachine *m = VH_MACHINE(obj);

    switch (id) {
    case PROP_NAME:
        g_value_set_string(value, m->name);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, id, pspec);
        break;
    }
}

static void vh_machine_dispose(GObject *obj)
{
    VhMachine *m = VH_MACHINE(obj);

    if (m->guest) {
        vh_machine_unregister_device(m, m->guest);
    }
    g_clear_pointer(&m->guest, vh_test_guest_free);
    G_OBJECT_CLASS(vh_machine_parent_class)->dispose(obj);
}

static void vh_machine_finalize(GObject *obj)
{
    VhMachine *m = VH_MACHINE(obj);

    g_queue_clear_full(&m->pending, g_free);
    g_array_unref(m->devices);
    g_hash_table_unref(m->device_ids);
    vh_ram_block_free(m->ram);
    g_main_context_unref(m->context);
    pthread_mutex_destroy(&m->lock);
    g_free(m->name);
    G_OBJECT_CLASS(vh_machine_parent_class)->finalize(obj);
}

static void vh_machine_class_init(VhMachineClass *klass)
{
    GObjectClass *oc = G_OBJECT_CLASS(klass);

    oc->dispose = vh_machine_dispose;
    oc->finalize = vh_machine_finalize;
    oc->set_property = vh_machine_set_property;
    oc->get_property = vh_machine_get_property;
    props[PROP_NAME] = g_param_spec_string(
        "name", NULL, NULL, NULL,
        G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
    g_object_class_install_properties(oc, N_PROPS, props);
    signals[SIGNAL_STATE_CHANGED] = g_signal_new(
        "state-changed", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL,
        NULL, NULL, G_TYPE_NONE, 2, VH_TYPE_RUN_STATE, VH_TYPE_RUN_STATE);
}

static void vh_machine_init(VhMachine *m)
{
    pthread_mutex_init(&m->lock, NULL);
    g_queue_init(&m->pending);
    m->devices = g_array_new(false, true, sizeof(VhDeviceEntry));
    m->device_ids =
        g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    m->state = VH_RUN_STATE_PRELAUNCH;
    m->autostart = true;
    m->context = g_main_context_ref_thread_default();
    m->creator = g_thread_self();
}

VhMachine *vh_machine_new(const char *name, VhRamBlock *ram, GError **errp)
{
    g_return_val_if_fail(name != NULL, NULL);
    g_return_val_if_fail(ram != NULL, NULL);

    g_autoptr(VhMachine) m = g_object_new(VH_TYPE_MACHINE, "name", name, NULL);
    m->ram = ram;
    m->guest = vh_test_guest_new(ram, errp);
    if (!m->guest) {
        g_prefix_error(errp, "machine '%s': ", name);
        return NULL;
    }
    vh_machine_register_device(m, &vh_test_guest_state_ops, m->guest);
    return g_steal_pointer(&m);
}

const char *vh_machine_get_name(VhMachine *m)
{
    g_return_val_if_fail(VH_IS_MACHINE(m), NULL);
    return m->name;
}

VhRamBlock *vh_machine_get_ram(VhMachine *m)
{
    g_return_val_if_fail(VH_IS_MACHINE(m), NULL);
    return m->ram;
}

VhTestGuest *vh_machine_get_test_guest(VhMachine *m)
{
    g_return_val_if_fail(VH_IS_MACHINE(m), NULL);
    return m->guest;
}

void vh_machine_get_guest_writes(VhMachine *m, guint64 *pages,
                                 guint64 *set_rate)
{
    g_return_if_fail(VH_IS_MACHINE(m));
    *pages = vh_test_guest_get_pages_written(m->guest);
    *set_rate = vh_test_guest_get_rate(m->guest);
}

VhRunState vh_machine_get_state(VhMachine *m)
{
    g_return_val_if_fail(VH_IS_MACHINE(m), VH_RUN_STATE_SHUTDOWN);

    pthread_mutex_lock(&m->lock);
    VhRunState state = m->state;
    pthread_mutex_unlock(&m->lock);
    return state;
}

bool vh_machine_is_running(VhMachine *m)
{
    return vh_machine_get_state(m) == VH_RUN_STATE_RUNNING;
}

bool vh_machine_get_autostart(VhMachine *m)
{
    g_return_val_if_fail(VH_IS_MACHINE(m), false);

    pthread_mutex_lock(&m->lock);
    bool autostart = m->autostart;
    pthread_mutex_unlock(&m->lock);
    return autostart;
}

void vh_machine_set_autostart(VhMachine *m, bool autostart)
{
    g_return_if_fail(VH_IS_MACHINE(m));

    pthread_mutex_lock(&m->lock);
    m->autostart = autostart;
    pthread_mutex_unlock(&m->lock);
}

/* Emit the queued changes, oldest first; runs in m->context's thread. */
static gboolean flush_changes(gpointer data)
{
    VhMachine *m = data;

    for (;;) {
        pthread_mutex_lock(&m->lock);
        Change *c = g_queue_pop_head(&m->pending);
        pthread_mutex_unlock(&m->lock);
        if (!c) {
            return G_SOURCE_REMOVE;
        }
        g_signal_emit(m, signals[SIGNAL_STATE_CHANGED], 0, c->old_state,
                      c->new_state);
        g_free(c);
    }
}

/* With m->lock held: the transition itself, guest included. */
static void change_state_locked(VhMachine *m, VhRunState state)
{
    Change *c = g_new(Change, 1);

    c->old_state = m->state;
    c->new_state = state;
    if (m->state == VH_RUN_STATE_RUNNING) {
        vh_test_guest_pause(m->guest);
    }
    m->state = state;
    if (state == VH_RUN_STATE_RUNNING) {
        vh_test_guest_resume(m->guest);
    }
    g_queue_push_tail(&m->pending, c);
}

/*
 * Without the lock: deliver the queued changes. Directly when this thread
 * runs m->context, or created the machine and may take the context (no
 * loop running yet); otherwise from an idle source on m->context.
 * g_main_context_invoke() is not used: it would run the handlers in any
 * thread whose thread-default is the global default context.
 */
static void notify(VhMachine *m)
{
    if (g_main_context_is_owner(m->context)) {
        flush_changes(m);
        return;
    }
    if (g_thread_self() == m->creator && g_main_context_acquire(m->context)) {
        flush_changes(m);
        g_main_context_release(m->context);
        return;
    }
    g_autoptr(GSource) idle = g_idle_source_new();
    g_source_set_priority(idle, G_PRIORITY_DEFAULT);
    g_source_set_callback(idle, flush_changes, g_object_ref(m), g_object_unref);
    g_source_set_static_name(idle, "vh-machine-state-changed");
    g_source_attach(idle, m->context);
}

/* With m->lock held, in running: the guest stops its workload and is gone. */
static void power_off_locked(VhMachine *m)
{
    m->powerdown_pending = false;
    m->guest_shutdown = true;
    change_state_locked(m, VH_RUN_STATE_SHUTDOWN);
}

/* With m->lock held. */
static bool set_state_locked(VhMachine *m, VhRunState state, GError **errp)
{
    if (m->state == state) {
        return true;
    }
    if (!(transitions[m->state] & BIT(state))) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "machine '%s' cannot go from state '%s' to '%s'", m->name,
                    vh_run_state_name(m->state), vh_run_state_name(state));
        return false;
    }
    change_state_locked(m, state);
    if (state == VH_RUN_STATE_RUNNING && m->powerdown_pending) {
        /* The guest handles the button it missed as soon as it runs. */
        power_off_locked(m);
    }
    return true;
}

bool vh_machine_set_state(VhMachine *m, VhRunState state, GError **errp)
{
    g_return_val_if_fail(VH_IS_MACHINE(m), false);
    g_return_val_if_fail(state <= VH_RUN_STATE_INMIGRATE, false);

    pthread_mutex_lock(&m->lock);
    size_t before = m->pending.length;
    bool ok = set_state_locked(m, state, errp);
    bool changed = m->pending.length != before;
    pthread_mutex_unlock(&m->lock);
    if (changed) {
        notify(m);
    }
    return ok;
}

bool vh_machine_stop(VhMachine *m, GError **errp)
{
    g_return_val_if_fail(VH_IS_MACHINE(m), false);

    pthread_mutex_lock(&m->lock);
    bool stop = m->state == VH_RUN_STATE_RUNNING;
    if (m->state == VH_RUN_STATE_INMIGRATE) {
        m->autostart = false;
    }
    if (stop) {
        change_state_locked(m, VH_RUN_STATE_PAUSED);
    }
    pthread_mutex_unlock(&m->lock);
    if (stop) {
        notify(m);
    }
    return true;
}

bool vh_machine_cont(VhMachine *m, GError **errp)
{
    g_return_val_if_fail(VH_IS_MACHINE(m), false);

    pthread_mutex_lock(&m->lock);
    VhRunState from = m->state;
    bool ok = true;
    switch (from) {
    case VH_RUN_STATE_SHUTDOWN:
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "cannot continue machine '%s': the guest has shut down "
                    "(state 'shutdown'); only quit is left",
                    m->name);
        ok = false;
        break;
    case VH_RUN_STATE_INMIGRATE:
        m->autostart = true;
        break;
    case VH_RUN_STATE_RUNNING:
        break;
    default:
        ok = set_state_locked(m, VH_RUN_STATE_RUNNING, errp);
        break;
    }
    bool changed = m->state != from;
    pthread_mutex_unlock(&m->lock);
    if (changed) {
        notify(m);
    }
    return ok;
}

void vh_machine_shutdown(VhMachine *m)
{
    g_return_if_fail(VH_IS_MACHINE(m));

    pthread_mutex_lock(&m->lock);
    bool changed = m->state != VH_RUN_STATE_SHUTDOWN;
    if (changed) {
        change_state_locked(m, VH_RUN_STATE_SHUTDOWN);
    }
    pthread_mutex_unlock(&m->lock);
    if (changed) {
        notify(m);
    }
}

bool vh_machine_powerdown(VhMachine *m, GError **errp)
{
    g_return_val_if_fail(VH_IS_MACHINE(m), false);

    pthread_mutex_lock(&m->lock);
    bool ok = m->state != VH_RUN_STATE_SHUTDOWN;
    bool changed = ok && m->state == VH_RUN_STATE_RUNNING;
    if (!ok) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "cannot power down machine '%s': the guest has already "
                    "shut down (state 'shutdown')",
                    m->name);
    } else if (changed) {
        power_off_locked(m);
    } else {
        m->powerdown_pending = true;
    }
    pthread_mutex_unlock(&m->lock);
    if (changed) {
        notify(m);
    }
    return ok;
}

bool vh_machine_get_guest_shutdown(VhMachine *m)
{
    g_return_val_if_fail(VH_IS_MACHINE(m), false);

    pthread_mutex_lock(&m->lock);
    bool guest = m->guest_shutdown;
    pthread_mutex_unlock(&m->lock);
    return guest;
}

/* ---- device state registry ---- */

/* With m->lock held. */
static bool instance_taken_locked(VhMachine *m, const char *name, guint32 i)
{
    for (guint k = 0; k < m->devices->len; k++) {
        VhDeviceEntry *e = &g_array_index(m->devices, VhDeviceEntry, k);

        if (e->instance == i && g_str_equal(e->ops->name, name)) {
            return true;
        }
    }
    return false;
}

guint32 vh_machine_register_device(VhMachine *m, const VhDeviceStateOps *ops,
                                   gpointer dev)
{
    VhDeviceEntry e = {.ops = ops, .dev = dev};

    g_return_val_if_fail(VH_IS_MACHINE(m), 0);
    g_return_val_if_fail(ops && ops->name && ops->save && ops->load &&
                             ops->apply && ops->free_staged,
                         0);
    pthread_mutex_lock(&m->lock);
    while (instance_taken_locked(m, ops->name, e.instance)) {
        e.instance++;
    }
    g_array_append_val(m->devices, e);
    pthread_mutex_unlock(&m->lock);
    return e.instance;
}

void vh_machine_unregister_device(VhMachine *m, gpointer dev)
{
    g_return_if_fail(VH_IS_MACHINE(m));

    pthread_mutex_lock(&m->lock);
    for (guint k = 0; k < m->devices->len; k++) {
        if (g_array_index(m->devices, VhDeviceEntry, k).dev == dev) {
            g_array_remove_index(m->devices, k);
            break;
        }
    }
    pthread_mutex_unlock(&m->lock);
}

GArray *vh_machine_get_devices(VhMachine *m)
{
    GArray *copy;

    g_return_val_if_fail(VH_IS_MACHINE(m), NULL);
    pthread_mutex_lock(&m->lock);
    copy =
        g_array_sized_new(false, true, sizeof(VhDeviceEntry), m->devices->len);
    g_array_append_vals(copy, m->devices->data, m->devices->len);
    pthread_mutex_unlock(&m->lock);
    return copy;
}

bool vh_machine_claim_device_id(VhMachine *m, const char *id, GError **errp)
{
    bool added;

    g_return_val_if_fail(VH_IS_MACHINE(m) && id != NULL, false);
    pthread_mutex_lock(&m->lock);
    added = g_hash_table_add(m->device_ids, g_strdup(id));
    pthread_mutex_unlock(&m->lock);
    if (!added) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "a device with id '%s' already exists", id);
    }
    return added;
}

void vh_machine_release_device_id(VhMachine *m, const char *id)
{
    g_return_if_fail(VH_IS_MACHINE(m) && id != NULL);
    pthread_mutex_lock(&m->lock);
    g_hash_table_remove(m->device_ids, id);
    pthread_mutex_unlock(&m->lock);
}
