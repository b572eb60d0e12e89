#include "vmhost/object/object.h"

#include "vmhost/util/error.h"

#include <string.h>

static GMutex registry_lock;
static GHashTable *registry; /* id -> GObject (a reference) */

static GHashTable *get_registry(void)
{
    if (!registry) {
        registry = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                         g_object_unref);
    }
    return registry;
}

bool vh_object_id_valid(const char *id, GError **errp)
{
    if (!id || !g_ascii_isalpha(id[0])) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "invalid object id '%s': it must start with a letter",
                    id ? id : "");
        return false;
    }
    for (const char *p = id; *p; p++) {
        if (!g_ascii_isalnum(*p) && !strchr("-._", *p)) {
            g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                        "invalid object id '%s': character '%c' is not a "
                        "letter, digit, '-', '.' or '_'",
                        id, *p);
            return false;
        }
    }
    return true;
}

bool vh_object_add(const char *id, GObject *obj, GError **errp)
{
    g_autoptr(GMutexLocker) locker = NULL;

    if (!vh_object_id_valid(id, errp)) {
        return false;
    }
    locker = g_mutex_locker_new(&registry_lock);
    if (g_hash_table_contains(get_registry(), id)) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "an object with id '%s' already exists", id);
        return false;
    }
    g_hash_table_insert(get_registry(), g_strdup(id), g_object_ref(obj));
    return true;
}

bool vh_object_del(const char *id, GError **errp)
{
    g_autoptr(GMutexLocker) locker G_GNUC_UNUSED =
        g_mutex_locker_new(&registry_lock);

    if (!g_hash_table_remove(get_registry(), id)) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "no object with id '%s'", id);
        return false;
    }
    return true;
}

GObject *vh_object_lookup(const char *id)
{
    g_autoptr(GMutexLocker) locker G_GNUC_UNUSED =
        g_mutex_locker_new(&registry_lock);
    GObject *obj = g_hash_table_lookup(get_registry(), id);

    return obj ? g_object_ref(obj) : NULL;
}

gpointer vh_object_lookup_typed(const char *id, GType type, GError **errp)
{
    g_autoptr(GObject) obj = vh_object_lookup(id);

    if (!obj) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "no object with id '%s'", id);
        return NULL;
    }
    if (!g_type_is_a(G_OBJECT_TYPE(obj), type)) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "object '%s' is a %s, not a %s", id,
                    G_OBJECT_TYPE_NAME(obj), g_type_name(type));
        return NULL;
    }
    return g_steal_pointer(&obj);
}

static int compare_ids(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

GStrv vh_object_list_ids(void)
{
    g_autoptr(GMutexLocker) locker G_GNUC_UNUSED =
        g_mutex_locker_new(&registry_lock);
    guint n = 0;
    gpointer *keys = g_hash_table_get_keys_as_array(get_registry(), &n);
    GStrv ids = g_new0(char *, n + 1);

    for (guint i = 0; i < n; i++) {
        ids[i] = g_strdup(keys[i]);
    }
    g_free(keys);
    qsort(ids, n, sizeof(char *), compare_ids);
    return ids;
}
