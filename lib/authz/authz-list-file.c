/*
 * authz-list-file: authz-list rules read from a JSON file, reloaded when a
 * stat() at decision time shows the file changed (see the header for why).
 */
#include "vmhost/authz/authz-list-file.h"

#include "vmhost/authz/authz-list.h"
#include "vmhost/util/file.h"
#include "vmhost/util/json.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

/* What identifies one version of the file. */
typedef struct {
    bool valid;
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
    struct timespec ctime;
} FileStamp;

struct _VhAuthzListFile {
    VhAuthz parent;
    char *filename;
    bool refresh;
    GMutex lock;        /* guards everything below */
    VhAuthzList *list;  /* the rules of the last good load */
    GError *load_error; /* why the last load failed; NULL when it did not */
    FileStamp stamp;    /* the file as of the last load attempt */
};

enum {
    PROP_0,
    PROP_FILENAME,
    PROP_REFRESH,
    N_PROPS,
};

static GParamSpec *props[N_PROPS];

static void initable_iface_init(GInitableIface *iface);

G_DEFINE_TYPE_WITH_CODE(VhAuthzListFile, vh_authz_list_file, VH_TYPE_AUTHZ,
                        G_IMPLEMENT_INTERFACE(G_TYPE_INITABLE,
                                              initable_iface_init))

static bool timespec_equal(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

static bool stamp_equal(const FileStamp *a, const FileStamp *b)
{
    return a->valid && b->valid && a->dev == b->dev && a->ino == b->ino &&
           a->size == b->size && timespec_equal(&a->mtime, &b->mtime) &&
           timespec_equal(&a->ctime, &b->ctime);
}

static bool stamp_read(const char *filename, FileStamp *stamp, GError **errp)
{
    struct stat st;

    memset(stamp, 0, sizeof(*stamp));
    if (stat(filename, &st) < 0) {
        int saved = errno;
        g_set_error(errp, VH_ERROR, VH_ERROR_CONFIG,
                    "authz rules file %s cannot be read: %s", filename,
                    g_strerror(saved));
        return false;
    }
    stamp->valid = true;
    stamp->dev = st.st_dev;
    stamp->ino = st.st_ino;
    stamp->size = st.st_size;
    stamp->mtime = st.st_mtim;
    stamp->ctime = st.st_ctim;
    return true;
}

/* Parse the file into a new list. The error names the file. */
static VhAuthzList *parse_file(const char *filename, GError **errp)
{
    g_autoptr(JsonNode) root = NULL;
    g_autoptr(VhAuthzList) list = vh_authz_list_new(VH_AUTHZ_LIST_POLICY_DENY);
    g_autoptr(GError) err = NULL;
    g_autofree char *text = NULL;
    gsize len = 0;

    if (!vh_file_read_regular(filename, VH_FILE_MAX_TEXT, VH_FILE_READ_TEXT,
                              &text, &len, &err)) {
        g_set_error(errp, VH_ERROR, VH_ERROR_CONFIG, "authz rules file %s",
                    err->message);
        return NULL;
    }
    /* vh_json_parse: also no duplicate key and no \u0000 cutting a DN */
    root = vh_json_parse(text, len, &err);
    if (!root) {
        g_set_error(errp, VH_ERROR, VH_ERROR_CONFIG,
                    "authz rules file %s is not valid JSON: %s", filename,
                    err->message);
        return NULL;
    }
    if (!vh_authz_list_load_node(list, root, &err)) {
        g_set_error(errp, VH_ERROR, VH_ERROR_CONFIG, "authz rules file %s: %s",
                    filename, err->message);
        return NULL;
    }
    return g_steal_pointer(&list);
}

/*
 * Bring the rules up to date with the file; call with the lock held. A
 * failed load drops the old rules: a file that does not load denies.
 */
static void reload_locked(VhAuthzListFile *authz, bool force)
{
    FileStamp now;
    GError *err = NULL;
    VhAuthzList *list;

    if (!stamp_read(authz->filename, &now, &err)) {
        g_clear_object(&authz->list);
        g_clear_error(&authz->load_error);
        authz->load_error = err;
        authz->stamp = now;
        return;
    }
    if (!force && stamp_equal(&now, &authz->stamp)) {
        return;
    }
    authz->stamp = now;
    list = parse_file(authz->filename, &err);
    g_clear_object(&authz->list);
    g_clear_error(&authz->load_error);
    authz->list = list;
    authz->load_error = err;
}

static gboolean initable_init(GInitable *initable, GCancellable *cancellable,
                              GError **errp)
{
    VhAuthzListFile *authz = VH_AUTHZ_LIST_FILE(initable);
    g_autoptr(GMutexLocker) locker G_GNUC_UNUSED =
        g_mutex_locker_new(&authz->lock);

    if (!authz->filename) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "authz-list-file needs a filename");
        return false;
    }
    reload_locked(authz, true);
    if (authz->load_error) {
        g_propagate_error(errp, g_error_copy(authz->load_error));
        return false;
    }
    return true;
}

static void initable_iface_init(GInitableIface *iface)
{
    iface->init = initable_init;
}

static void vh_authz_list_file_init(VhAuthzListFile *authz)
{
    g_mutex_init(&authz->lock);
    authz->refresh = true;
}

static void vh_authz_list_file_finalize(GObject *obj)
{
    VhAuthzListFile *authz = VH_AUTHZ_LIST_FILE(obj);

    g_free(authz->filename);
    g_clear_object(&authz->list);
    g_clear_error(&authz->load_error);
    g_mutex_clear(&authz->lock);
    G_OBJECT_CLASS(vh_authz_list_file_parent_class)->finalize(obj);
}

static void vh_authz_list_file_set_property(GObject *obj, guint id,
                                            const GValue *value,
                                            GParamSpec *pspec)
{
    VhAuthzListFile *authz = VH_AUTHZ_LIST_FILE(obj);

    switch (id) {
    case PROP_FILENAME:
        g_free(authz->filename);
        authz->filename = g_value_dup_string(value);
        break;
    case PROP_REFRESH:
        authz->refresh = g_value_get_boolean(value);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, id, pspec);
        break;
    }
}

static void vh_authz_list_file_get_property(GObject *obj, guint id,
                                            GValue *value, GParamSpec *pspec)
{
    VhAuthzListFile *authz = VH_AUTHZ_LIST_FILE(obj);

    switch (id) {
    case PROP_FILENAME:
        g_value_set_string(value, authz->filename);
        break;
    case PROP_REFRESH:
        g_value_set_boolean(value, authz->refresh);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, id, pspec);
        break;
    }
}

static bool vh_authz_list_file_is_allowed(VhAuthz *base, const char *identity,
                                          GError **errp)
{
    VhAuthzListFile *authz = VH_AUTHZ_LIST_FILE(base);
    g_autoptr(GMutexLocker) locker G_GNUC_UNUSED =
        g_mutex_locker_new(&authz->lock);

    if (authz->refresh || (!authz->list && !authz->load_error)) {
        reload_locked(authz, false);
    }
    if (!authz->list) {
        if (authz->load_error) {
            g_propagate_error(errp, g_error_copy(authz->load_error));
        } else {
            g_set_error(errp, VH_ERROR, VH_ERROR_CONFIG,
                        "authz rules file %s is not loaded",
                        authz->filename ? authz->filename : "(none)");
        }
        return false;
    }
    return vh_authz_is_allowed(VH_AUTHZ(authz->list), identity, NULL);
}

static void vh_authz_list_file_class_init(VhAuthzListFileClass *klass)
{
    GObjectClass *oc = G_OBJECT_CLASS(klass);

    oc->finalize = vh_authz_list_file_finalize;
    oc->set_property = vh_authz_list_file_set_property;
    oc->get_property = vh_authz_list_file_get_property;
    VH_AUTHZ_CLASS(klass)->is_allowed = vh_authz_list_file_is_allowed;

    props[PROP_FILENAME] = g_param_spec_string(
        "filename", "filename", "JSON rules file", NULL,
        G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
    props[PROP_REFRESH] = g_param_spec_boolean(
        "refresh", "refresh", "Reload the file when it changes", TRUE,
        G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
    g_object_class_install_properties(oc, N_PROPS, props);
}

VhAuthzListFile *vh_authz_list_file_new(const char *filename, bool refresh,
                                        GError **errp)
{
    return g_initable_new(VH_TYPE_AUTHZ_LIST_FILE, NULL, errp, "filename",
                          filename, "refresh", (gboolean)refresh, NULL);
}

const char *vh_authz_list_file_get_filename(VhAuthzListFile *authz)
{
    return authz->filename;
}

bool vh_authz_list_file_get_refresh(VhAuthzListFile *authz)
{
    return authz->refresh;
}
