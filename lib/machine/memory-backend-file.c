/* memory-backend-file: guest RAM mapped from a file or a directory. */
#include "vmhost/machine/memory-backend.h"

#include "vmhost/util/error.h"

struct _VhMemoryBackendFile {
    VhMemoryBackend parent;
    char *mem_path;
    bool share;
};

enum { PROP_0, PROP_MEM_PATH, PROP_SHARE, N_PROPS };

G_DEFINE_FINAL_TYPE(VhMemoryBackendFile, vh_memory_backend_file,
                    VH_TYPE_MEMORY_BACKEND)

static bool file_check(VhMemoryBackend *b, GError **errp)
{
    VhMemoryBackendFile *f = VH_MEMORY_BACKEND_FILE(b);

    if (!f->mem_path || !*f->mem_path) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "Parameter 'mem-path' is missing");
        return false;
    }
    return true;
}

static VhRamBlock *file_alloc(VhMemoryBackend *b, guint64 size, bool prealloc,
                              GError **errp)
{
    VhMemoryBackendFile *f = VH_MEMORY_BACKEND_FILE(b);

    return vh_ram_block_new_file("pc.ram", size, f->mem_path, f->share,
                                 prealloc, errp);
}

static void file_set_property(GObject *obj, guint id, const GValue *value,
                              GParamSpec *pspec)
{
    VhMemoryBackendFile *f = VH_MEMORY_BACKEND_FILE(obj);

    switch (id) {
    case PROP_MEM_PATH:
        g_free(f->mem_path);
        f->mem_path = g_value_dup_string(value);
        break;
    case PROP_SHARE:
        f->share = g_value_get_boolean(value);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, id, pspec);
    }
}

static void file_get_property(GObject *obj, guint id, GValue *value,
                              GParamSpec *pspec)
{
    VhMemoryBackendFile *f = VH_MEMORY_BACKEND_FILE(obj);

    switch (id) {
    case PROP_MEM_PATH:
        g_value_set_string(value, f->mem_path);
        break;
    case PROP_SHARE:
        g_value_set_boolean(value, f->share);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, id, pspec);
    }
}

static void file_finalize(GObject *obj)
{
    g_free(VH_MEMORY_BACKEND_FILE(obj)->mem_path);
    G_OBJECT_CLASS(vh_memory_backend_file_parent_class)->finalize(obj);
}

static void vh_memory_backend_file_init(VhMemoryBackendFile *f)
{
    (void)f;
}

static void vh_memory_backend_file_class_init(VhMemoryBackendFileClass *klass)
{
    GObjectClass *oc = G_OBJECT_CLASS(klass);
    VhMemoryBackendClass *bc = VH_MEMORY_BACKEND_CLASS(klass);
    GParamSpec *props[N_PROPS] = {NULL};

    oc->set_property = file_set_property;
    oc->get_property = file_get_property;
    oc->finalize = file_finalize;
    bc->check = file_check;
    bc->alloc = file_alloc;
    props[PROP_MEM_PATH] = g_param_spec_string(
        "mem-path", "mem-path", "backing file or directory", NULL,
        G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
    props[PROP_SHARE] = g_param_spec_boolean(
        "share", "share", "map the file shared", FALSE,
        G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
    g_object_class_install_properties(oc, N_PROPS, props);
}
