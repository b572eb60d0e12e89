/*
 * VhMemoryBackend, the base of the memory backend objects, and
 * memory-backend-ram. memory-backend-file is in memory-backend-file.c.
 */
#include "vmhost/machine/memory-backend.h"

#include <gio/gio.h>

#include "vmhost/util/error.h"

typedef struct {
    guint64 size;
    bool prealloc;
    VhRamBlock *ram; /* until a machine takes it */
    bool used;
} VhMemoryBackendPrivate;

enum { PROP_0, PROP_SIZE, PROP_PREALLOC, N_PROPS };

static gint default_prealloc;

static void initable_iface_init(GInitableIface *iface);

G_DEFINE_ABSTRACT_TYPE_WITH_CODE(VhMemoryBackend, vh_memory_backend,
                                 G_TYPE_OBJECT,
                                 G_ADD_PRIVATE(VhMemoryBackend)
                                     G_IMPLEMENT_INTERFACE(G_TYPE_INITABLE,
                                                           initable_iface_init))

void vh_memory_backend_set_default_prealloc(bool on)
{
    g_atomic_int_set(&default_prealloc, on);
}

static gboolean backend_init(GInitable *initable, GCancellable *cancellable,
                             GError **errp)
{
    VhMemoryBackend *b = VH_MEMORY_BACKEND(initable);
    VhMemoryBackendPrivate *priv = vh_memory_backend_get_instance_private(b);
    VhMemoryBackendClass *klass = VH_MEMORY_BACKEND_GET_CLASS(b);

    (void)cancellable;
    if (priv->ram) {
        return TRUE;
    }
    if (priv->size == 0) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "Parameter 'size' is missing");
        return FALSE;
    }
    if (priv->size % VH_RAM_PAGE_SIZE != 0) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "size %" G_GUINT64_FORMAT
                    " is not a multiple of the page size (%u bytes)",
                    priv->size, VH_RAM_PAGE_SIZE);
        return FALSE;
    }
    if (!klass->check(b, errp)) {
        return FALSE;
    }
    priv->ram = klass->alloc(b, priv->size, priv->prealloc, errp);
    return priv->ram != NULL;
}

static void initable_iface_init(GInitableIface *iface)
{
    iface->init = backend_init;
}

guint64 vh_memory_backend_get_size(VhMemoryBackend *b)
{
    VhMemoryBackendPrivate *priv = vh_memory_backend_get_instance_private(b);
    return priv->size;
}

bool vh_memory_backend_get_prealloc(VhMemoryBackend *b)
{
    VhMemoryBackendPrivate *priv = vh_memory_backend_get_instance_private(b);
    return priv->prealloc;
}

bool vh_memory_backend_is_used(VhMemoryBackend *b)
{
    VhMemoryBackendPrivate *priv = vh_memory_backend_get_instance_private(b);
    return priv->used;
}

VhRamBlock *vh_memory_backend_take_ram(VhMemoryBackend *b, const char *id,
                                       GError **errp)
{
    VhMemoryBackendPrivate *priv = vh_memory_backend_get_instance_private(b);

    if (priv->used) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "memory backend '%s' is already in use by the machine", id);
        return NULL;
    }
    if (!priv->ram) {
        g_set_error(errp, VH_ERROR, VH_ERROR_FAILED,
                    "memory backend '%s' has no RAM (not initialised)", id);
        return NULL;
    }
    priv->used = true;
    return g_steal_pointer(&priv->ram);
}

static void backend_set_property(GObject *obj, guint id, const GValue *value,
                                 GParamSpec *pspec)
{
    VhMemoryBackend *b = VH_MEMORY_BACKEND(obj);
    VhMemoryBackendPrivate *priv = vh_memory_backend_get_instance_private(b);

    switch (id) {
    case PROP_SIZE:
        priv->size = g_value_get_uint64(value);
        break;
    case PROP_PREALLOC:
        priv->prealloc = g_value_get_boolean(value);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, id, pspec);
    }
}

static void backend_get_property(GObject *obj, guint id, GValue *value,
                                 GParamSpec *pspec)
{
    VhMemoryBackend *b = VH_MEMORY_BACKEND(obj);
    VhMemoryBackendPrivate *priv = vh_memory_backend_get_instance_private(b);

    switch (id) {
    case PROP_SIZE:
        g_value_set_uint64(value, priv->size);
        break;
    case PROP_PREALLOC:
        g_value_set_boolean(value, priv->prealloc);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, id, pspec);
    }
}

static void backend_finalize(GObject *obj)
{
    VhMemoryBackend *b = VH_MEMORY_BACKEND(obj);
    VhMemoryBackendPrivate *priv = vh_memory_backend_get_instance_private(b);

    vh_ram_block_free(priv->ram);
    G_OBJECT_CLASS(vh_memory_backend_parent_class)->finalize(obj);
}

static void vh_memory_backend_init(VhMemoryBackend *b)
{
    VhMemoryBackendPrivate *priv = vh_memory_backend_get_instance_private(b);
    priv->prealloc = g_atomic_int_get(&default_prealloc);
}

static void vh_memory_backend_class_init(VhMemoryBackendClass *klass)
{
    GObjectClass *oc = G_OBJECT_CLASS(klass);
    GParamSpec *props[N_PROPS] = {NULL};

    oc->set_property = backend_set_property;
    oc->get_property = backend_get_property;
    oc->finalize = backend_finalize;
    props[PROP_SIZE] = g_param_spec_uint64(
        "size", "size", "guest RAM size in bytes", 0, G_MAXUINT64, 0,
        G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
    props[PROP_PREALLOC] = g_param_spec_boolean(
        "prealloc", "prealloc", "populate every page at creation", FALSE,
        G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
    g_object_class_install_properties(oc, N_PROPS, props);
}

/* ---- memory-backend-ram ---- */

struct _VhMemoryBackendRam {
    VhMemoryBackend parent;
};

G_DEFINE_FINAL_TYPE(VhMemoryBackendRam, vh_memory_backend_ram,
                    VH_TYPE_MEMORY_BACKEND)

static bool ram_check(VhMemoryBackend *b, GError **errp)
{
    (void)b;
    (void)errp;
    return true;
}

static VhRamBlock *ram_alloc(VhMemoryBackend *b, guint64 size, bool prealloc,
                             GError **errp)
{
    (void)b;
    return vh_ram_block_new("pc.ram", size, prealloc, errp);
}

static void vh_memory_backend_ram_init(VhMemoryBackendRam *b)
{
    (void)b;
}

static void vh_memory_backend_ram_class_init(VhMemoryBackendRamClass *klass)
{
    VhMemoryBackendClass *bc = VH_MEMORY_BACKEND_CLASS(klass);

    bc->check = ram_check;
    bc->alloc = ram_alloc;
}
