#include "vmhost/object/object-create.h"

#include "vmhost/object/object.h"
#include "vmhost/util/error.h"

#include <gio/gio.h>
#include <string.h>

typedef struct {
    GType type;
    VhObjectOptsHook hook;
} TypeEntry;

static GMutex types_lock;
static GHashTable *types; /* QEMU name -> TypeEntry */

void vh_object_type_register_full(const char *qemu_name, GType type,
                                  VhObjectOptsHook hook)
{
    g_autoptr(GMutexLocker) locker = NULL;
    TypeEntry *entry;

    g_return_if_fail(qemu_name && g_type_is_a(type, G_TYPE_OBJECT) &&
                     !G_TYPE_IS_ABSTRACT(type));
    locker = g_mutex_locker_new(&types_lock);
    entry = g_new0(TypeEntry, 1);
    entry->type = type;
    entry->hook = hook;
    if (!types) {
        types = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    }
    g_hash_table_insert(types, g_strdup(qemu_name), entry);
}

void vh_object_type_register(const char *qemu_name, GType type)
{
    vh_object_type_register_full(qemu_name, type, NULL);
}

static bool lookup_entry(const char *qemu_name, TypeEntry *out)
{
    g_autoptr(GMutexLocker) locker G_GNUC_UNUSED =
        g_mutex_locker_new(&types_lock);
    TypeEntry *entry = types ? g_hash_table_lookup(types, qemu_name) : NULL;

    if (entry) {
        *out = *entry;
    }
    return entry != NULL;
}

GType vh_object_type_lookup(const char *qemu_name)
{
    TypeEntry entry;

    return lookup_entry(qemu_name, &entry) ? entry.type : G_TYPE_INVALID;
}

static gint cmp_names(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

GStrv vh_object_type_list(void)
{
    g_autoptr(GMutexLocker) locker G_GNUC_UNUSED =
        g_mutex_locker_new(&types_lock);
    GPtrArray *names = g_ptr_array_new();
    GHashTableIter it;
    gpointer key;

    if (types) {
        g_hash_table_iter_init(&it, types);
        while (g_hash_table_iter_next(&it, &key, NULL)) {
            g_ptr_array_add(names, g_strdup(key));
        }
    }
    g_ptr_array_sort(names, cmp_names);
    g_ptr_array_add(names, NULL);
    return (GStrv)g_ptr_array_free(names, false);
}

/* Converting option strings to property values */

static bool get_uint_ranged(VhOpts *opts, const char *key, guint64 min,
                            guint64 max, GValue *value, GError **errp)
{
    guint64 n = 0;

    if (!vh_opts_get_uint64(opts, key, min, max, &n, errp)) {
        return false;
    }
    switch (G_VALUE_TYPE(value)) {
    case G_TYPE_UINT:
        g_value_set_uint(value, (guint)n);
        break;
    case G_TYPE_ULONG:
        g_value_set_ulong(value, (gulong)n);
        break;
    default:
        g_assert_not_reached();
    }
    return true;
}

static bool get_int_ranged(VhOpts *opts, const char *key, gint64 min,
                           gint64 max, GValue *value, GError **errp)
{
    gint64 n = 0;

    if (!vh_opts_get_int(opts, key, min, max, &n, errp)) {
        return false;
    }
    switch (G_VALUE_TYPE(value)) {
    case G_TYPE_INT:
        g_value_set_int(value, (int)n);
        break;
    case G_TYPE_LONG:
        g_value_set_long(value, (glong)n);
        break;
    case G_TYPE_INT64:
        g_value_set_int64(value, n);
        break;
    default:
        g_assert_not_reached();
    }
    return true;
}

static bool get_size_ranged(VhOpts *opts, GParamSpecUInt64 *ps, GValue *value,
                            GError **errp)
{
    const char *key = G_PARAM_SPEC(ps)->name;
    guint64 n = 0;

    if (!vh_opts_get_size(opts, key, &n, errp)) {
        return false;
    }
    if (n < ps->minimum || n > ps->maximum) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "%s: parameter '%s' expects a size from %" G_GUINT64_FORMAT
                    " to %" G_GUINT64_FORMAT " bytes, got '%s'",
                    vh_opts_get_optname(opts), key, ps->minimum, ps->maximum,
                    vh_opts_get_string(opts, key));
        return false;
    }
    g_value_set_uint64(value, n);
    return true;
}

/* Read @pspec's key from @opts into @value (initialised here). */
static bool convert_property(VhOpts *opts, GParamSpec *pspec, GValue *value,
                             GError **errp)
{
    const char *key = pspec->name;
    GType vtype = G_PARAM_SPEC_VALUE_TYPE(pspec);
    bool b = false;
    int e = 0;

    g_value_init(value, vtype);
    switch (G_TYPE_FUNDAMENTAL(vtype)) {
    case G_TYPE_BOOLEAN:
        if (!vh_opts_get_bool(opts, key, &b, errp)) {
            return false;
        }
        g_value_set_boolean(value, b);
        return true;
    case G_TYPE_STRING:
        g_value_set_string(value, vh_opts_get_string(opts, key));
        return true;
    case G_TYPE_ENUM:
        if (!vh_opts_get_enum(opts, key, vtype, &e, errp)) {
            return false;
        }
        g_value_set_enum(value, e);
        return true;
    case G_TYPE_INT:
        return get_int_ranged(opts, key, G_PARAM_SPEC_INT(pspec)->minimum,
                              G_PARAM_SPEC_INT(pspec)->maximum, value, errp);
    case G_TYPE_LONG:
        return get_int_ranged(opts, key, G_PARAM_SPEC_LONG(pspec)->minimum,
                              G_PARAM_SPEC_LONG(pspec)->maximum, value, errp);
    case G_TYPE_INT64:
        return get_int_ranged(opts, key, G_PARAM_SPEC_INT64(pspec)->minimum,
                              G_PARAM_SPEC_INT64(pspec)->maximum, value, errp);
    case G_TYPE_UINT:
        return get_uint_ranged(opts, key, G_PARAM_SPEC_UINT(pspec)->minimum,
                               G_PARAM_SPEC_UINT(pspec)->maximum, value, errp);
    case G_TYPE_ULONG:
        return get_uint_ranged(opts, key, G_PARAM_SPEC_ULONG(pspec)->minimum,
                               G_PARAM_SPEC_ULONG(pspec)->maximum, value, errp);
    case G_TYPE_UINT64:
        return get_size_ranged(opts, G_PARAM_SPEC_UINT64(pspec), value, errp);
    default:
        g_set_error(errp, VH_ERROR, VH_ERROR_NOT_SUPPORTED,
                    "%s: parameter '%s' (a %s) cannot be set from an option "
                    "string",
                    vh_opts_get_optname(opts), key, g_type_name(vtype));
        return false;
    }
}

/* Property names and values for g_object_new_with_properties(). */
typedef struct {
    GPtrArray *names; /* borrowed from the pspecs */
    GArray *values;   /* of GValue */
} PropList;

static void prop_list_clear(PropList *props)
{
    g_clear_pointer(&props->names, g_ptr_array_unref);
    g_clear_pointer(&props->values, g_array_unref);
}

static bool collect_properties(VhOpts *opts, GType type, const char *id,
                               PropList *props, GError **errp)
{
    g_autoptr(GTypeClass) klass = g_type_class_ref(type);
    guint n = 0;
    g_autofree GParamSpec **pspecs =
        g_object_class_list_properties(G_OBJECT_CLASS(klass), &n);

    props->names = g_ptr_array_new();
    props->values = g_array_new(FALSE, TRUE, sizeof(GValue));
    g_array_set_clear_func(props->values, (GDestroyNotify)g_value_unset);
    for (guint i = 0; i < n; i++) {
        GParamSpec *pspec = pspecs[i];
        GValue *value;

        if (!(pspec->flags & G_PARAM_WRITABLE)) {
            continue;
        }
        if (strcmp(pspec->name, "id") == 0) {
            /* The registry id, for the object's own messages. */
            if (G_PARAM_SPEC_VALUE_TYPE(pspec) == G_TYPE_STRING) {
                g_ptr_array_add(props->names, (gpointer)pspec->name);
                g_array_set_size(props->values, props->values->len + 1);
                value = &g_array_index(props->values, GValue,
                                       props->values->len - 1);
                g_value_init(value, G_TYPE_STRING);
                g_value_set_string(value, id);
            }
            continue;
        }
        if (!vh_opts_has(opts, pspec->name)) {
            continue;
        }
        g_array_set_size(props->values, props->values->len + 1);
        value = &g_array_index(props->values, GValue, props->values->len - 1);
        if (!convert_property(opts, pspec, value, errp)) {
            return false;
        }
        g_ptr_array_add(props->names, (gpointer)pspec->name);
    }
    return true;
}

/* Creating */

static const char *required(VhOpts *opts, const char *key, const char *what,
                            GError **errp)
{
    const char *v = vh_opts_get_string(opts, key);

    if (!v || !*v) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "%s: parameter '%s' is required (%s)",
                    vh_opts_get_optname(opts), key, what);
        return NULL;
    }
    return v;
}

/*
 * A key no property and no hook took. QEMU's object_add (QMP and HMP)
 * says "Parameter 'bogus' is unexpected", and so does ours; elsewhere
 * (-object) the message names the type and the option.
 */
static void unknown_property(VhOpts *opts, const char *type_name,
                             const char *key, GError **errp)
{
    const char *optname = vh_opts_get_optname(opts);

    if (g_strcmp0(optname, VH_OBJECT_ADD_OPTNAME) == 0) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "Parameter '%s' is unexpected", key);
        return;
    }
    g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                "%s: object type '%s' has no property '%s'", optname, type_name,
                key);
}

/* Everything after construction: the hook, leftovers, init. */
static bool finish(GObject *obj, const TypeEntry *entry, VhOpts *opts,
                   const char *type_name, const char *id, GError **errp)
{
    const char *unused;

    if (entry->hook && !entry->hook(obj, opts, errp)) {
        return false;
    }
    unused = vh_opts_first_unused(opts);
    if (unused) {
        unknown_property(opts, type_name, unused, errp);
        return false;
    }
    if (G_IS_INITABLE(obj) && !g_initable_init(G_INITABLE(obj), NULL, errp)) {
        g_prefix_error(errp, "object '%s': ", id);
        return false;
    }
    if (!vh_object_add(id, obj, errp)) {
        g_prefix_error(errp, "%s: ", vh_opts_get_optname(opts));
        return false;
    }
    return true;
}

GObject *vh_object_create_from_opts(VhOpts *opts, GError **errp)
{
    const char *type_name, *id;
    TypeEntry entry;
    g_autoptr(GObject) obj = NULL;
    PropList props = {0};
    bool ok;

    type_name = required(opts, "qom-type", "the object type", errp);
    if (!type_name) {
        return NULL;
    }
    if (!lookup_entry(type_name, &entry)) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "%s: invalid object type '%s'", vh_opts_get_optname(opts),
                    type_name);
        return NULL;
    }
    id = required(opts, "id", "the name other options refer to it by", errp);
    if (!id) {
        return NULL;
    }
    if (!vh_object_id_valid(id, errp)) {
        g_prefix_error(errp, "%s: ", vh_opts_get_optname(opts));
        return NULL;
    }
    if ((obj = vh_object_lookup(id))) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "%s: an object with id '%s' already exists",
                    vh_opts_get_optname(opts), id);
        return NULL;
    }
    ok = collect_properties(opts, entry.type, id, &props, errp);
    if (ok) {
        obj = g_object_new_with_properties(entry.type, props.names->len,
                                           (const char **)props.names->pdata,
                                           (const GValue *)props.values->data);
    }
    prop_list_clear(&props);
    if (!ok || !finish(obj, &entry, opts, type_name, id, errp)) {
        return NULL;
    }
    return g_steal_pointer(&obj);
}

/* The JSON type a property of @pspec's type takes, or NULL: any. */
static const char *json_type_for(GParamSpec *pspec)
{
    switch (G_TYPE_FUNDAMENTAL(G_PARAM_SPEC_VALUE_TYPE(pspec))) {
    case G_TYPE_BOOLEAN:
        return "boolean";
    case G_TYPE_STRING:
    case G_TYPE_ENUM:
        return "string";
    case G_TYPE_INT:
    case G_TYPE_LONG:
    case G_TYPE_INT64:
    case G_TYPE_UINT:
    case G_TYPE_ULONG:
    case G_TYPE_UINT64:
        return "integer";
    default:
        return NULL;
    }
}

/*
 * An enum that extends one of QEMU's booleans (tls-creds-x509's
 * sanity-check: on, off, strict) takes a JSON boolean as well as a string.
 */
static bool bool_enum_takes(GParamSpec *pspec, JsonNode *n)
{
    return G_IS_PARAM_SPEC_ENUM(pspec) &&
           g_str_equal(vh_json_type_name(n), "boolean") &&
           g_enum_get_value_by_nick(G_PARAM_SPEC_ENUM(pspec)->enum_class,
                                    "on") &&
           g_enum_get_value_by_nick(G_PARAM_SPEC_ENUM(pspec)->enum_class,
                                    "off");
}

/* Each member that names a property must have the property's JSON type. */
bool vh_object_check_json_types(const char *optname, JsonObject *o,
                                GError **errp)
{
    g_autoptr(GList) members = json_object_get_members(o);
    JsonNode *tn = json_object_get_member(o, "qom-type");
    GType type = G_TYPE_INVALID;
    g_autoptr(GTypeClass) klass = NULL;

    for (GList *l = members; l; l = l->next) {
        JsonNode *n = json_object_get_member(o, l->data);
        GParamSpec *pspec = NULL;
        const char *want = NULL;

        if (g_str_equal(l->data, "qom-type") || g_str_equal(l->data, "id")) {
            want = "string";
        } else if (tn && JSON_NODE_HOLDS_VALUE(tn) &&
                   json_node_get_value_type(tn) == G_TYPE_STRING) {
            if (!klass && (type = vh_object_type_lookup(
                               json_node_get_string(tn))) != G_TYPE_INVALID) {
                klass = g_type_class_ref(type);
            }
            pspec = klass ? g_object_class_find_property(G_OBJECT_CLASS(klass),
                                                         l->data)
                          : NULL;
            want = pspec && (pspec->flags & G_PARAM_WRITABLE)
                       ? json_type_for(pspec)
                       : NULL;
            if (want && bool_enum_takes(pspec, n)) {
                want = NULL; /* "sanity-check": true as in QEMU */
            }
        }
        if (want && !g_str_equal(vh_json_type_name(n), want)) {
            g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                        "%s%sInvalid parameter type for '%s', expected: %s",
                        optname ? optname : "", optname ? ": " : "",
                        (const char *)l->data, want);
            return false;
        }
    }
    return true;
}

GObject *vh_object_create_from_json(const char *optname, JsonObject *o,
                                    GError **errp)
{
    g_autoptr(VhOpts) opts = NULL;

    if (!vh_object_check_json_types(optname, o, errp)) {
        return NULL;
    }
    opts = vh_opts_from_json(optname, o, errp);
    return opts ? vh_object_create_from_opts(opts, errp) : NULL;
}

static bool add_from_json(const char *str, GError **errp)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(JsonNode) root = vh_json_parse(str, -1, &err);
    g_autoptr(GObject) obj = NULL;

    if (!root) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "-object: JSON parse error, %s", err->message);
        return false;
    }
    if (!JSON_NODE_HOLDS_OBJECT(root)) {
        g_set_error_literal(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                            "-object: the JSON form must be an object");
        return false;
    }
    obj =
        vh_object_create_from_json("-object", json_node_get_object(root), errp);
    return obj != NULL;
}

bool vh_object_add_from_string(const char *str, GError **errp)
{
    g_autoptr(VhOpts) opts = NULL;
    g_autoptr(GObject) obj = NULL;

    if (str[0] == '{') {
        return add_from_json(str, errp);
    }
    opts = vh_opts_parse("-object", str, "qom-type", errp);
    if (!opts) {
        return false;
    }
    obj = vh_object_create_from_opts(opts, errp);
    return obj != NULL;
}
