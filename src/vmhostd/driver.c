/*
 * The domain table: lookups, define/undefine/create, the lifecycle calls'
 * checks, events and the console. Locking is in driver-priv.h; the rule
 * that matters: a call that may be slow holds only its domain's job lock.
 */
#define G_LOG_DOMAIN "vmhostd"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "driver-priv.h"
#include "vmhost/io/channel-file.h"

typedef struct {
    guint id;
    VhDriverEventFunc func;
    gpointer opaque;
} EventFunc;

/* ---- domain objects and refs ---- */

VhDomainObj *vh_domain_obj_new(const VhDomainDef *def)
{
    VhDomainObj *obj = g_new0(VhDomainObj, 1);

    g_atomic_ref_count_init(&obj->ref);
    g_mutex_init(&obj->job);
    g_weak_ref_init(&obj->console, NULL);
    obj->def = vh_domain_def_copy(def);
    obj->name = g_strdup(vh_domain_def_get_name(def));
    vh_domain_def_get_uuid(def, obj->uuid);
    obj->id = -1;
    obj->pidfd = -1;
    obj->state = VH_DOMAIN_SHUTOFF;
    obj->reason = VH_REASON_UNKNOWN;
    return obj;
}

VhDomainObj *vh_domain_obj_ref(VhDomainObj *obj)
{
    g_atomic_ref_count_inc(&obj->ref);
    return obj;
}

void vh_domain_obj_unref(VhDomainObj *obj)
{
    if (!obj || !g_atomic_ref_count_dec(&obj->ref)) {
        return;
    }
    g_mutex_clear(&obj->job);
    g_weak_ref_clear(&obj->console);
    g_clear_pointer(&obj->def, vh_domain_def_free);
    g_clear_pointer(&obj->live, vh_domain_def_free);
    g_clear_pointer(&obj->qmp, vh_qmp_client_unref);
    g_free(obj->name);
    g_free(obj);
}

void vh_domain_ref_free(VhDomainRef *ref)
{
    if (ref) {
        g_free(ref->name);
        g_free(ref);
    }
}

VhDomainRef *vh_domain_ref_copy(const VhDomainRef *ref)
{
    VhDomainRef *r = g_memdup2(ref, sizeof(*ref));

    r->name = g_strdup(ref->name);
    return r;
}

VhDomainRef *vh_domain_obj_make_ref(VhDomainObj *obj)
{
    VhDomainRef *r = g_new0(VhDomainRef, 1);

    r->name = g_strdup(obj->name);
    memcpy(r->uuid, obj->uuid, VH_DOMAIN_UUID_LEN);
    r->id = obj->active ? obj->id : -1;
    return r;
}

void vh_driver_forget_if_transient(VhDriver *drv, VhDomainObj *obj)
{
    if (!obj->persistent && !obj->active && !obj->removed) {
        obj->removed = true;
        g_hash_table_remove(drv->domains, obj->name);
    }
}

/* ---- events ---- */

guint vh_driver_add_event_func(VhDriver *drv, VhDriverEventFunc func,
                               gpointer opaque)
{
    EventFunc f = {.func = func, .opaque = opaque};

    g_mutex_lock(&drv->ev_lock);
    f.id = ++drv->next_event_id;
    g_array_append_val(drv->event_funcs, f);
    g_mutex_unlock(&drv->ev_lock);
    return f.id;
}

void vh_driver_remove_event_func(VhDriver *drv, guint id)
{
    g_mutex_lock(&drv->ev_lock);
    for (guint i = 0; i < drv->event_funcs->len; i++) {
        if (g_array_index(drv->event_funcs, EventFunc, i).id == id) {
            g_array_remove_index(drv->event_funcs, i);
            break;
        }
    }
    g_mutex_unlock(&drv->ev_lock);
}

void vh_driver_emit(VhDriver *drv, VhDomainRef *dom, VhDomainEventType ev,
                    int detail)
{
    g_autoptr(GArray) funcs = NULL;

    g_mutex_lock(&drv->ev_lock);
    funcs = g_array_copy(drv->event_funcs);
    g_mutex_unlock(&drv->ev_lock);
    for (guint i = 0; i < funcs->len; i++) {
        EventFunc *f = &g_array_index(funcs, EventFunc, i);

        f->func(dom, ev, detail, f->opaque);
    }
    vh_domain_ref_free(dom);
}

/* ---- lookups ---- */

static VhDomainObj *find_uuid_locked(VhDriver *drv, const guint8 *uuid)
{
    GHashTableIter it;
    gpointer v;

    g_hash_table_iter_init(&it, drv->domains);
    while (g_hash_table_iter_next(&it, NULL, &v)) {
        VhDomainObj *obj = v;

        if (memcmp(obj->uuid, uuid, VH_DOMAIN_UUID_LEN) == 0) {
            return obj;
        }
    }
    return NULL;
}

static bool no_domain_uuid(const guint8 *uuid, GError **errp)
{
    g_autofree char *s = vh_domain_uuid_format(uuid);

    g_set_error(errp, VH_VIR_ERROR, VH_VIR_ERR_NO_DOMAIN,
                "Domain not found: no domain with matching uuid '%s'", s);
    return false;
}

/* A ref on the domain with @uuid, or NULL with NO_DOMAIN. */
static VhDomainObj *get_obj(VhDriver *drv, const guint8 *uuid, GError **errp)
{
    VhDomainObj *obj;

    g_mutex_lock(&drv->lock);
    obj = find_uuid_locked(drv, uuid);
    if (obj) {
        vh_domain_obj_ref(obj);
    }
    g_mutex_unlock(&drv->lock);
    if (!obj) {
        no_domain_uuid(uuid, errp);
    }
    return obj;
}

/* Take the domain's job lock; false (and unlocked) when it was removed
 * while we waited. */
static bool job_begin(VhDriver *drv, VhDomainObj *obj, GError **errp)
{
    bool removed;

    g_mutex_lock(&obj->job);
    g_mutex_lock(&drv->lock);
    removed = obj->removed;
    g_mutex_unlock(&drv->lock);
    if (removed) {
        g_mutex_unlock(&obj->job);
        return no_domain_uuid(obj->uuid, errp);
    }
    return true;
}

static void job_end(VhDomainObj *obj)
{
    g_mutex_unlock(&obj->job);
}

/* Get and lock in one: the domain a lifecycle call works on. */
static VhDomainObj *job_obj(VhDriver *drv, const guint8 *uuid, GError **errp)
{
    VhDomainObj *obj = get_obj(drv, uuid, errp);

    if (obj && !job_begin(drv, obj, errp)) {
        g_clear_pointer(&obj, vh_domain_obj_unref);
    }
    return obj;
}

static void job_obj_end(VhDomainObj *obj)
{
    job_end(obj);
    vh_domain_obj_unref(obj);
}

VhDomainRef *vh_driver_lookup_by_name(VhDriver *drv, const char *name,
                                      GError **errp)
{
    VhDomainObj *obj;
    VhDomainRef *ref = NULL;

    g_mutex_lock(&drv->lock);
    obj = g_hash_table_lookup(drv->domains, name);
    if (obj) {
        ref = vh_domain_obj_make_ref(obj);
    }
    g_mutex_unlock(&drv->lock);
    if (!ref) {
        g_set_error(errp, VH_VIR_ERROR, VH_VIR_ERR_NO_DOMAIN,
                    "Domain not found: no domain with matching name '%s'",
                    name);
    }
    return ref;
}

VhDomainRef *vh_driver_lookup_by_uuid(VhDriver *drv,
                                      const guint8 uuid[VH_DOMAIN_UUID_LEN],
                                      GError **errp)
{
    VhDomainObj *obj;
    VhDomainRef *ref = NULL;

    g_mutex_lock(&drv->lock);
    obj = find_uuid_locked(drv, uuid);
    if (obj) {
        ref = vh_domain_obj_make_ref(obj);
    }
    g_mutex_unlock(&drv->lock);
    if (!ref) {
        no_domain_uuid(uuid, errp);
    }
    return ref;
}

VhDomainRef *vh_driver_lookup_by_id(VhDriver *drv, int id, GError **errp)
{
    GHashTableIter it;
    gpointer v;
    VhDomainRef *ref = NULL;

    g_mutex_lock(&drv->lock);
    g_hash_table_iter_init(&it, drv->domains);
    while (!ref && g_hash_table_iter_next(&it, NULL, &v)) {
        VhDomainObj *obj = v;

        if (obj->active && obj->id == id) {
            ref = vh_domain_obj_make_ref(obj);
        }
    }
    g_mutex_unlock(&drv->lock);
    if (!ref) {
        g_set_error(errp, VH_VIR_ERROR, VH_VIR_ERR_NO_DOMAIN,
                    "Domain not found: no domain with matching id %d", id);
    }
    return ref;
}

enum {
    LIST_ACTIVE = 1,
    LIST_INACTIVE = 2,
    LIST_PERSISTENT = 4,
    LIST_TRANSIENT = 8,
    LIST_RUNNING = 16,
    LIST_PAUSED = 32,
    LIST_SHUTOFF = 64,
    LIST_OTHER = 128,
    LIST_AUTOSTART = 1024,
    LIST_NO_AUTOSTART = 2048,
};

/* libvirt's filter: within each group of bits, none set = all match. */
static bool list_match(VhDomainObj *obj, guint f)
{
    guint state_bits = LIST_RUNNING | LIST_PAUSED | LIST_SHUTOFF | LIST_OTHER;
    guint sb = obj->state == VH_DOMAIN_RUNNING   ? LIST_RUNNING
               : obj->state == VH_DOMAIN_PAUSED  ? LIST_PAUSED
               : obj->state == VH_DOMAIN_SHUTOFF ? LIST_SHUTOFF
                                                 : LIST_OTHER;

    if ((f & (LIST_ACTIVE | LIST_INACTIVE)) &&
        !(f & (obj->active ? LIST_ACTIVE : LIST_INACTIVE))) {
        return false;
    }
    if ((f & (LIST_PERSISTENT | LIST_TRANSIENT)) &&
        !(f & (obj->persistent ? LIST_PERSISTENT : LIST_TRANSIENT))) {
        return false;
    }
    if ((f & state_bits) && !(f & sb)) {
        return false;
    }
    if ((f & (LIST_AUTOSTART | LIST_NO_AUTOSTART)) &&
        !(f & (obj->autostart ? LIST_AUTOSTART : LIST_NO_AUTOSTART))) {
        return false;
    }
    return true;
}

static int ref_cmp(gconstpointer a, gconstpointer b)
{
    const VhDomainRef *x = *(VhDomainRef *const *)a;
    const VhDomainRef *y = *(VhDomainRef *const *)b;

    return g_strcmp0(x->name, y->name);
}

GPtrArray *vh_driver_list_domains(VhDriver *drv, guint flags)
{
    GPtrArray *out =
        g_ptr_array_new_with_free_func((GDestroyNotify)vh_domain_ref_free);
    GHashTableIter it;
    gpointer v;

    g_mutex_lock(&drv->lock);
    g_hash_table_iter_init(&it, drv->domains);
    while (g_hash_table_iter_next(&it, NULL, &v)) {
        if (list_match(v, flags)) {
            g_ptr_array_add(out, vh_domain_obj_make_ref(v));
        }
    }
    g_mutex_unlock(&drv->lock);
    g_ptr_array_sort(out, ref_cmp);
    return out;
}

guint vh_driver_num_domains(VhDriver *drv, bool active)
{
    g_autoptr(GPtrArray) all =
        vh_driver_list_domains(drv, active ? LIST_ACTIVE : LIST_INACTIVE);

    return all->len;
}

/* ---- define, undefine, create ---- */

static VhDomainDef *parse_def(const char *xml, GError **errp)
{
    if (!xml) {
        g_set_error_literal(errp, VH_VIR_ERROR, VH_VIR_ERR_INVALID_ARG,
                            "invalid argument: no domain XML");
        return NULL;
    }
    return vh_domain_def_parse(xml, -1, 0, errp);
}

/* Under drv->lock: may @def take a new place in the table? */
static bool check_new_locked(VhDriver *drv, const VhDomainDef *def,
                             GError **errp)
{
    guint8 uuid[VH_DOMAIN_UUID_LEN];
    const char *name = vh_domain_def_get_name(def);
    VhDomainObj *other;

    vh_domain_def_get_uuid(def, uuid);
    other = find_uuid_locked(drv, uuid);
    if (other) {
        g_autofree char *s = vh_domain_uuid_format(uuid);

        g_set_error(errp, VH_VIR_ERROR, VH_VIR_ERR_DOM_EXIST,
                    "domain '%s' is already defined with uuid %s", other->name,
                    s);
        return false;
    }
    if (g_hash_table_contains(drv->domains, name)) {
        g_set_error(errp, VH_VIR_ERROR, VH_VIR_ERR_DOM_EXIST,
                    "domain '%s' already exists", name);
        return false;
    }
    return true;
}

/* Insert a new domain for @def, its job lock held (nobody else can have
 * it yet); NULL when the name or uuid is taken by another. */
static VhDomainObj *insert_locked(VhDriver *drv, const VhDomainDef *def,
                                  GError **errp)
{
    VhDomainObj *obj;

    if (!check_new_locked(drv, def, errp)) {
        return NULL;
    }
    obj = vh_domain_obj_new(def);
    g_mutex_lock(&obj->job);
    g_hash_table_insert(drv->domains, obj->name, vh_domain_obj_ref(obj));
    return obj;
}

static void remove_locked(VhDriver *drv, VhDomainObj *obj)
{
    if (!obj->removed) {
        obj->removed = true;
        g_hash_table_remove(drv->domains, obj->name);
    }
}

/* Update an existing domain's config (its job held). */
static VhDomainRef *define_update(VhDriver *drv, VhDomainObj *obj,
                                  const VhDomainDef *def, GError **errp)
{
    guint8 uuid[VH_DOMAIN_UUID_LEN];
    int detail;
    VhDomainRef *ref;

    vh_domain_def_get_uuid(def, uuid);
    if (memcmp(uuid, obj->uuid, VH_DOMAIN_UUID_LEN) != 0) {
        g_autofree char *s = vh_domain_uuid_format(obj->uuid);

        g_set_error(errp, VH_VIR_ERROR, VH_VIR_ERR_DOM_EXIST,
                    "domain '%s' already exists with uuid %s", obj->name, s);
        return NULL;
    }
    if (!vh_store_save_config(drv, def, errp)) {
        return NULL;
    }
    g_mutex_lock(&drv->lock);
    detail =
        obj->persistent ? VH_EVENT_DEFINED_UPDATED : VH_EVENT_DEFINED_ADDED;
    vh_domain_def_free(obj->def);
    obj->def = vh_domain_def_copy(def);
    obj->persistent = true;
    ref = vh_domain_obj_make_ref(obj);
    g_mutex_unlock(&drv->lock);
    vh_driver_emit(drv, vh_domain_ref_copy(ref), VH_DOMAIN_EVENT_DEFINED,
                   detail);
    return ref;
}

VhDomainRef *vh_driver_define_xml(VhDriver *drv, const char *xml, guint flags,
                                  GError **errp)
{
    g_autoptr(VhDomainDef) def = parse_def(xml, errp);
    const char *name;

    if (!def) {
        return NULL;
    }
    name = vh_domain_def_get_name(def);
    for (;;) {
        VhDomainObj *obj;
        VhDomainRef *ref;

        g_mutex_lock(&drv->lock);
        obj = g_hash_table_lookup(drv->domains, name);
        if (!obj) {
            obj = insert_locked(drv, def, errp);
            g_mutex_unlock(&drv->lock);
            if (!obj) {
                return NULL;
            }
            if (!vh_store_save_config(drv, def, errp)) {
                g_mutex_lock(&drv->lock);
                remove_locked(drv, obj);
                g_mutex_unlock(&drv->lock);
                job_obj_end(obj);
                return NULL;
            }
            g_mutex_lock(&drv->lock);
            obj->persistent = true;
            ref = vh_domain_obj_make_ref(obj);
            g_mutex_unlock(&drv->lock);
            job_obj_end(obj);
            vh_driver_emit(drv, vh_domain_ref_copy(ref),
                           VH_DOMAIN_EVENT_DEFINED, VH_EVENT_DEFINED_ADDED);
            return ref;
        }
        vh_domain_obj_ref(obj);
        g_mutex_unlock(&drv->lock);
        if (!job_begin(drv, obj, NULL)) {
            vh_domain_obj_unref(obj); /* undefined meanwhile: look again */
            continue;
        }
        ref = define_update(drv, obj, def, errp);
        job_obj_end(obj);
        return ref;
    }
}

bool vh_driver_undefine(VhDriver *drv, const guint8 *uuid, guint flags,
                        GError **errp)
{
    VhDomainObj *obj = job_obj(drv, uuid, errp);
    VhDomainRef *ref;
    bool persistent;

    if (!obj) {
        return false;
    }
    g_mutex_lock(&drv->lock);
    persistent = obj->persistent;
    g_mutex_unlock(&drv->lock);
    if (!persistent) {
        g_set_error_literal(errp, VH_VIR_ERROR, VH_VIR_ERR_OPERATION_INVALID,
                            "Requested operation is not valid: cannot "
                            "undefine transient domain");
        job_obj_end(obj);
        return false;
    }
    if (!vh_store_delete_config(drv, obj->name, errp)) {
        job_obj_end(obj);
        return false;
    }
    g_mutex_lock(&drv->lock);
    obj->persistent = false;
    obj->autostart = false;
    if (obj->active) {
        /* It runs on as a transient domain with its live config. */
        vh_domain_def_free(obj->def);
        obj->def = vh_domain_def_copy(obj->live);
    } else {
        remove_locked(drv, obj);
    }
    ref = vh_domain_obj_make_ref(obj);
    g_mutex_unlock(&drv->lock);
    job_obj_end(obj);
    vh_driver_emit(drv, ref, VH_DOMAIN_EVENT_UNDEFINED,
                   VH_EVENT_UNDEFINED_REMOVED);
    return true;
}

VhDomainRef *vh_driver_create_xml(VhDriver *drv, const char *xml, guint flags,
                                  GError **errp)
{
    g_autoptr(VhDomainDef) def = parse_def(xml, errp);
    VhDomainObj *obj;
    VhDomainRef *ref;

    if (!def) {
        return NULL;
    }
    g_mutex_lock(&drv->lock);
    obj = insert_locked(drv, def, errp);
    g_mutex_unlock(&drv->lock);
    if (!obj) {
        return NULL;
    }
    if (!vh_driver_process_start(drv, obj, flags & 1, errp)) {
        g_mutex_lock(&drv->lock);
        remove_locked(drv, obj);
        g_mutex_unlock(&drv->lock);
        job_obj_end(obj);
        return NULL;
    }
    g_mutex_lock(&drv->lock);
    ref = vh_domain_obj_make_ref(obj);
    g_mutex_unlock(&drv->lock);
    job_obj_end(obj);
    return ref;
}

/* ---- lifecycle ---- */

bool vh_driver_start(VhDriver *drv, const guint8 *uuid, guint flags,
                     GError **errp)
{
    VhDomainObj *obj = job_obj(drv, uuid, errp);
    bool ok;

    if (!obj) {
        return false;
    }
    ok = vh_driver_process_start(drv, obj, flags & 1, errp);
    job_obj_end(obj);
    return ok;
}

bool vh_driver_destroy(VhDriver *drv, const guint8 *uuid, guint flags,
                       GError **errp)
{
    VhDomainObj *obj = job_obj(drv, uuid, errp);
    bool ok;

    if (!obj) {
        return false;
    }
    ok = vh_driver_process_destroy(drv, obj, errp);
    job_obj_end(obj);
    return ok;
}

bool vh_driver_shutdown(VhDriver *drv, const guint8 *uuid, guint flags,
                        GError **errp)
{
    VhDomainObj *obj = job_obj(drv, uuid, errp);
    bool ok;

    if (!obj) {
        return false;
    }
    ok = vh_driver_process_qmp(drv, obj, "system_powerdown", errp);
    job_obj_end(obj);
    return ok;
}

/* stop/cont, then the state the event will also report (whichever comes
 * first emits; the other finds nothing to change). */
static bool pause_or_resume(VhDriver *drv, const guint8 *uuid, bool pause,
                            GError **errp)
{
    VhDomainObj *obj = job_obj(drv, uuid, errp);
    VhDomainState from = pause ? VH_DOMAIN_RUNNING : VH_DOMAIN_PAUSED;
    VhDomainRef *ref = NULL;
    bool needed;

    if (!obj) {
        return false;
    }
    g_mutex_lock(&drv->lock);
    needed = !obj->active || obj->state == from;
    g_mutex_unlock(&drv->lock);
    /* libvirt: suspending a paused domain or resuming a running one is
     * a no-op; either on an inactive domain is OPERATION_INVALID. */
    if (needed) {
        if (!vh_driver_process_qmp(drv, obj, pause ? "stop" : "cont", errp)) {
            job_obj_end(obj);
            return false;
        }
    }
    g_mutex_lock(&drv->lock);
    if (obj->active && obj->state == from) {
        obj->state = pause ? VH_DOMAIN_PAUSED : VH_DOMAIN_RUNNING;
        obj->reason = pause ? VH_PAUSED_USER : VH_RUNNING_UNPAUSED;
        ref = vh_domain_obj_make_ref(obj);
    }
    g_mutex_unlock(&drv->lock);
    job_obj_end(obj);
    if (ref) {
        vh_driver_emit(
            drv, ref,
            pause ? VH_DOMAIN_EVENT_SUSPENDED : VH_DOMAIN_EVENT_RESUMED,
            pause ? VH_EVENT_SUSPENDED_PAUSED : VH_EVENT_RESUMED_UNPAUSED);
    }
    return true;
}

bool vh_driver_suspend(VhDriver *drv, const guint8 *uuid, GError **errp)
{
    return pause_or_resume(drv, uuid, true, errp);
}

bool vh_driver_resume(VhDriver *drv, const guint8 *uuid, GError **errp)
{
    return pause_or_resume(drv, uuid, false, errp);
}

/* ---- queries (never wait on a job) ---- */

bool vh_driver_get_info(VhDriver *drv, const guint8 *uuid, VhDomainInfo *info,
                        GError **errp)
{
    g_autoptr(VhDomainObj) obj = get_obj(drv, uuid, errp);
    pid_t pid;

    if (!obj) {
        return false;
    }
    g_mutex_lock(&drv->lock);
    {
        const VhDomainDef *def = obj->live ? obj->live : obj->def;

        info->state = obj->state;
        info->max_mem_kib = vh_domain_def_get_memory_kib(def);
        info->memory_kib = vh_domain_def_get_current_memory_kib(def);
        info->nr_virt_cpu = vh_domain_def_get_vcpus(def);
    }
    pid = obj->active ? obj->pid : 0;
    g_mutex_unlock(&drv->lock);
    info->cpu_time_ns = pid > 0 ? vh_driver_process_cpu_time(pid) : 0;
    return true;
}

bool vh_driver_get_state(VhDriver *drv, const guint8 *uuid, int *state,
                         int *reason, GError **errp)
{
    g_autoptr(VhDomainObj) obj = get_obj(drv, uuid, errp);

    if (!obj) {
        return false;
    }
    g_mutex_lock(&drv->lock);
    *state = obj->state;
    if (reason) {
        *reason = obj->reason;
    }
    g_mutex_unlock(&drv->lock);
    return true;
}

char *vh_driver_get_xml(VhDriver *drv, const guint8 *uuid, guint flags,
                        GError **errp)
{
    g_autoptr(VhDomainObj) obj = get_obj(drv, uuid, errp);
    g_autoptr(VhDomainDef) def = NULL;

    if (!obj) {
        return NULL;
    }
    g_mutex_lock(&drv->lock);
    if (obj->live && !(flags & VH_DOMAIN_XML_INACTIVE)) {
        def = vh_domain_def_copy(obj->live);
    } else {
        def = vh_domain_def_copy(obj->def);
    }
    g_mutex_unlock(&drv->lock);
    return vh_domain_def_format(def, flags);
}

bool vh_driver_get_autostart(VhDriver *drv, const guint8 *uuid, bool *on,
                             GError **errp)
{
    g_autoptr(VhDomainObj) obj = get_obj(drv, uuid, errp);

    if (!obj) {
        return false;
    }
    g_mutex_lock(&drv->lock);
    *on = obj->autostart;
    g_mutex_unlock(&drv->lock);
    return true;
}

bool vh_driver_set_autostart(VhDriver *drv, const guint8 *uuid, bool on,
                             GError **errp)
{
    VhDomainObj *obj = job_obj(drv, uuid, errp);
    bool persistent;
    bool ok = false;

    if (!obj) {
        return false;
    }
    g_mutex_lock(&drv->lock);
    persistent = obj->persistent;
    g_mutex_unlock(&drv->lock);
    if (!persistent) {
        g_set_error_literal(errp, VH_VIR_ERROR, VH_VIR_ERR_OPERATION_INVALID,
                            "Requested operation is not valid: cannot set "
                            "autostart for transient domain");
    } else if (vh_store_set_autostart(drv, obj->name, on, errp)) {
        g_mutex_lock(&drv->lock);
        obj->autostart = on;
        g_mutex_unlock(&drv->lock);
        ok = true;
    }
    job_obj_end(obj);
    return ok;
}

bool vh_driver_is_active(VhDriver *drv, const guint8 *uuid, bool *active,
                         GError **errp)
{
    g_autoptr(VhDomainObj) obj = get_obj(drv, uuid, errp);

    if (!obj) {
        return false;
    }
    g_mutex_lock(&drv->lock);
    *active = obj->active;
    g_mutex_unlock(&drv->lock);
    return true;
}

bool vh_driver_is_persistent(VhDriver *drv, const guint8 *uuid,
                             bool *persistent, GError **errp)
{
    g_autoptr(VhDomainObj) obj = get_obj(drv, uuid, errp);

    if (!obj) {
        return false;
    }
    g_mutex_lock(&drv->lock);
    *persistent = obj->persistent;
    g_mutex_unlock(&drv->lock);
    return true;
}

/* ---- the console ---- */

/* The pty path of @dev_name ("serialN", "consoleN", NULL: the first
 * serial port) in @live, or NULL with an error. */
static char *console_pty(const VhDomainDef *live, const char *dev_name,
                         GError **errp)
{
    g_autoptr(GArray) chrs = vh_domain_def_get_chardevs(live);
    guint nserial = 0;
    guint nconsole = 0;

    for (guint i = 0; i < chrs->len; i++) {
        VhDomainChr *c = &g_array_index(chrs, VhDomainChr, i);
        g_autofree char *alias =
            g_strdup_printf("%s%u", c->is_console ? "console" : "serial",
                            c->is_console ? nconsole++ : nserial++);

        if (dev_name ? !g_str_equal(dev_name, alias) : c->is_console) {
            continue;
        }
        if (c->type != VH_DOMAIN_CHR_PTY) {
            g_set_error(errp, VH_VIR_ERROR, VH_VIR_ERR_OPERATION_FAILED,
                        "operation failed: character device %s is not "
                        "using a PTY",
                        alias);
            return NULL;
        }
        if (c->is_console && !c->path) {
            /* libvirt's <console> on serial0 shares its pty. */
            return console_pty(live, "serial0", errp);
        }
        if (!c->path) {
            g_set_error(errp, VH_VIR_ERROR, VH_VIR_ERR_OPERATION_FAILED,
                        "operation failed: no pty known for %s", alias);
            return NULL;
        }
        return g_strdup(c->path);
    }
    g_set_error(errp, VH_VIR_ERROR, VH_VIR_ERR_INTERNAL_ERROR,
                "internal error: cannot find character device %s",
                dev_name ? dev_name : "<null>");
    return NULL;
}

/* The old session sees EOF: its fd becomes /dev/null, so its next read
 * returns 0 and a watch on it fires at once (the channel still owns the
 * fd and closes it as usual). */
static void console_force_close(VhChannel *old)
{
    int fd = vh_channel_file_get_fd(VH_CHANNEL_FILE(old));
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);

    if (fd >= 0 && null >= 0) {
        dup3(null, fd, O_CLOEXEC);
    }
    if (null >= 0) {
        close(null);
    }
}

VhChannel *vh_driver_open_console(VhDriver *drv, const guint8 *uuid,
                                  const char *dev_name, guint flags,
                                  GError **errp)
{
    g_autoptr(VhDomainObj) obj = get_obj(drv, uuid, errp);
    g_autoptr(VhChannel) old = NULL;
    g_autofree char *path = NULL;
    VhChannelFile *f;

    if (!obj) {
        return NULL;
    }
    g_mutex_lock(&drv->lock);
    if (!obj->active) {
        g_mutex_unlock(&drv->lock);
        g_set_error_literal(errp, VH_VIR_ERROR, VH_VIR_ERR_OPERATION_INVALID,
                            "Requested operation is not valid: domain is not "
                            "running");
        return NULL;
    }
    path = console_pty(obj->live, dev_name, errp);
    old = g_weak_ref_get(&obj->console);
    if (path && old && !vh_channel_is_closed(old) && !(flags & 1)) {
        g_clear_pointer(&path, g_free);
        g_set_error_literal(errp, VH_VIR_ERROR, VH_VIR_ERR_OPERATION_FAILED,
                            "operation failed: Active console session exists "
                            "for this domain");
    }
    if (path && old) {
        console_force_close(old);
        /* a main loop asleep in poll() on the old pty looks again */
        g_main_context_wakeup(drv->ctx);
    }
    f = path ? vh_channel_file_new_path(path, O_RDWR | O_NOCTTY, 0, errp)
             : NULL;
    if (f) {
        g_weak_ref_set(&obj->console, f);
    }
    g_mutex_unlock(&drv->lock);
    return f ? VH_CHANNEL(f) : NULL;
}

/* ---- the driver ---- */

static void adopt_status(VhDriver *drv, VhStoreStatus *st)
{
    VhDomainObj *obj = g_hash_table_lookup(drv->domains, st->name);
    guint8 uuid[VH_DOMAIN_UUID_LEN];

    vh_domain_def_get_uuid(st->live, uuid);
    if (obj && memcmp(uuid, obj->uuid, VH_DOMAIN_UUID_LEN) != 0) {
        g_warning("domain %s: the running machine's uuid differs from the "
                  "config's; keeping it as transient",
                  st->name);
        obj = NULL;
    }
    if (!obj) {
        if (find_uuid_locked(drv, uuid)) {
            g_warning("domain %s: its uuid is taken; stopping its status",
                      st->name);
            vh_store_remove_run_files(drv, st->name);
            return;
        }
        obj = vh_domain_obj_new(st->live);
        g_hash_table_insert(drv->domains, obj->name, obj);
    }
    obj->id = st->id;
    obj->live = g_steal_pointer(&st->live);
    drv->next_id = MAX(drv->next_id, st->id + 1);
    g_mutex_unlock(&drv->lock);
    if (!vh_driver_process_reconnect(drv, obj, st->pid, st->qmp)) {
        vh_store_remove_run_files(drv, st->name);
        g_mutex_lock(&drv->lock);
        obj->id = -1;
        g_clear_pointer(&obj->live, vh_domain_def_free);
        obj->state = VH_DOMAIN_SHUTOFF;
        obj->reason = VH_SHUTOFF_CRASHED;
        vh_driver_forget_if_transient(drv, obj);
        return;
    }
    g_mutex_lock(&drv->lock);
}

static bool make_dir(const char *dir, GError **errp)
{
    if (g_mkdir_with_parents(dir, 0700) < 0) {
        g_set_error(errp, VH_VIR_ERROR, VH_VIR_ERR_SYSTEM_ERROR,
                    "cannot create directory '%s': %s", dir, g_strerror(errno));
        return false;
    }
    return true;
}

VhDriver *vh_driver_new(const VhDriverConfig *cfg, GError **errp)
{
    g_autoptr(VhDriver) drv = g_new0(VhDriver, 1);
    g_autoptr(GPtrArray) objs = NULL;
    g_autoptr(GPtrArray) statuses = NULL;

    g_mutex_init(&drv->lock);
    g_cond_init(&drv->mig_cond);
    g_mutex_init(&drv->ev_lock);
    drv->domains = g_hash_table_new_full(g_str_hash, g_str_equal, NULL,
                                         (GDestroyNotify)vh_domain_obj_unref);
    drv->event_funcs = g_array_new(false, false, sizeof(EventFunc));
    drv->next_id = 1;
    drv->config_dir = g_strdup(cfg->config_dir);
    drv->autostart_dir = g_build_filename(cfg->config_dir, "autostart", NULL);
    drv->run_dir = g_strdup(cfg->run_dir);
    drv->vmhost_binary =
        g_strdup(cfg->vmhost_binary ? cfg->vmhost_binary : "vmhost");
    drv->chardev_tls_dir = g_strdup(cfg->chardev_tls_x509_cert_dir);
    drv->chardev_tls_verify = cfg->chardev_tls_x509_verify;
    drv->migrate_tls_dir = g_strdup(cfg->migrate_tls_x509_cert_dir);
    drv->migrate_tls_verify = cfg->migrate_tls_x509_verify;
    drv->migrate_tls_allowed_dn =
        g_strdupv((char **)cfg->migrate_tls_allowed_dn_list);
    drv->migrate_tls_allowed_dn_where =
        g_strdup(cfg->migrate_tls_allowed_dn_list_where);
    drv->migration_port_min = cfg->migration_port_min;
    drv->migration_port_max = cfg->migration_port_max;
    drv->mig_ports = g_hash_table_new(NULL, NULL);
    drv->ctx = g_main_context_ref(cfg->context ? cfg->context
                                               : g_main_context_default());
    if (!make_dir(drv->config_dir, errp) || !make_dir(drv->run_dir, errp)) {
        return NULL;
    }

    objs = vh_store_load_configs(drv);
    g_mutex_lock(&drv->lock);
    for (guint i = 0; i < objs->len; i++) {
        VhDomainObj *obj = objs->pdata[i];
        GError *err = NULL;

        if (!check_new_locked(drv, obj->def, &err)) {
            g_warning("skipping the domain config %s: %s", obj->name,
                      err->message);
            g_error_free(err);
            continue;
        }
        g_hash_table_insert(drv->domains, obj->name, vh_domain_obj_ref(obj));
    }
    statuses = vh_store_load_statuses(drv);
    for (guint i = 0; i < statuses->len; i++) {
        adopt_status(drv, statuses->pdata[i]);
    }
    g_mutex_unlock(&drv->lock);
    vh_driver_process_reap_orphans(drv);
    return g_steal_pointer(&drv);
}

void vh_driver_autostart(VhDriver *drv)
{
    g_autoptr(GPtrArray) list =
        vh_driver_list_domains(drv, LIST_INACTIVE | LIST_AUTOSTART);

    for (guint i = 0; i < list->len; i++) {
        VhDomainRef *ref = list->pdata[i];
        g_autoptr(GError) err = NULL;

        if (!vh_driver_start(drv, ref->uuid, 0, &err) &&
            !g_error_matches(err, VH_VIR_ERROR, VH_VIR_ERR_OPERATION_INVALID)) {
            g_warning("cannot autostart domain %s: %s", ref->name,
                      err->message);
        }
    }
}

void vh_driver_free(VhDriver *drv)
{
    if (!drv) {
        return;
    }
    if (drv->domains) {
        GHashTableIter it;
        gpointer v;
        g_autoptr(GPtrArray) objs =
            g_ptr_array_new_with_free_func((GDestroyNotify)vh_domain_obj_unref);

        g_mutex_lock(&drv->lock);
        g_hash_table_iter_init(&it, drv->domains);
        while (g_hash_table_iter_next(&it, NULL, &v)) {
            g_ptr_array_add(objs, vh_domain_obj_ref(v));
        }
        g_mutex_unlock(&drv->lock);
        /* The machines run on; a new driver finds them in the run dir. */
        for (guint i = 0; i < objs->len; i++) {
            vh_driver_process_detach(drv, objs->pdata[i]);
        }
        g_hash_table_unref(drv->domains);
    }
    g_array_unref(drv->event_funcs);
    g_clear_pointer(&drv->ctx, g_main_context_unref);
    g_free(drv->config_dir);
    g_free(drv->autostart_dir);
    g_free(drv->run_dir);
    g_free(drv->vmhost_binary);
    g_free(drv->chardev_tls_dir);
    g_free(drv->migrate_tls_dir);
    g_strfreev(drv->migrate_tls_allowed_dn);
    g_free(drv->migrate_tls_allowed_dn_where);
    g_clear_pointer(&drv->mig_ports, g_hash_table_unref);
    g_mutex_clear(&drv->lock);
    g_cond_clear(&drv->mig_cond);
    g_mutex_clear(&drv->ev_lock);
    g_free(drv);
}

/* ---- for driver-migrate.c ---- */

VhDomainObj *vh_driver_get_obj(VhDriver *drv, const guint8 *uuid, GError **errp)
{
    return get_obj(drv, uuid, errp);
}

VhDomainObj *vh_driver_job_obj(VhDriver *drv, const guint8 *uuid, GError **errp)
{
    return job_obj(drv, uuid, errp);
}

void vh_driver_job_obj_end(VhDomainObj *obj)
{
    job_obj_end(obj);
}

VhDomainObj *vh_driver_find_name_locked(VhDriver *drv, const char *name)
{
    return g_hash_table_lookup(drv->domains, name);
}

VhDomainObj *vh_driver_insert_locked(VhDriver *drv, const VhDomainDef *def,
                                     GError **errp)
{
    return insert_locked(drv, def, errp);
}

void vh_driver_remove_locked(VhDriver *drv, VhDomainObj *obj)
{
    remove_locked(drv, obj);
}
