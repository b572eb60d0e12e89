/*
 * The driver's files. Config dir: NAME.xml per persistent domain (the
 * inactive XML) and autostart/NAME.xml, a symlink to it, as libvirt keeps
 * them. Run dir, per active domain: NAME.xml (the status: a <domstatus>
 * line with pid, id, state and QMP socket, then the live domain XML),
 * NAME.pid (vmhost's -pidfile), NAME.qmp (its QMP socket), NAME.log (-D).
 *
 * Every file is replaced atomically: written to a hidden temp file in the
 * same dir, fsync'ed, renamed over the old one, and the dir fsync'ed, so a
 * crash leaves the old file or the new one, never a mix; loaders ignore
 * names that start with '.'.
 */
#define G_LOG_DOMAIN "vmhostd"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "driver-priv.h"

char *vh_store_run_path(VhDriver *drv, const char *name, const char *ext)
{
    g_autofree char *base = g_strconcat(name, ".", ext, NULL);

    return g_build_filename(drv->run_dir, base, NULL);
}

static char *config_path(VhDriver *drv, const char *name)
{
    g_autofree char *base = g_strconcat(name, ".xml", NULL);

    return g_build_filename(drv->config_dir, base, NULL);
}

static char *autostart_path(VhDriver *drv, const char *name)
{
    g_autofree char *base = g_strconcat(name, ".xml", NULL);

    return g_build_filename(drv->autostart_dir, base, NULL);
}

static bool set_errno_error(GError **errp, int err, const char *what,
                            const char *path)
{
    g_set_error(errp, VH_VIR_ERROR, VH_VIR_ERR_SYSTEM_ERROR,
                "cannot %s '%s': %s", what, path, g_strerror(err));
    return false;
}

static void fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

bool vh_store_write_atomic(const char *path, const char *data, gssize len,
                           GError **errp)
{
    g_autofree char *dir = g_path_get_dirname(path);
    g_autofree char *base = g_path_get_basename(path);
    g_autofree char *tmp = g_strdup_printf("%s/.%s.XXXXXX", dir, base);
    int fd = g_mkstemp_full(tmp, O_WRONLY | O_CLOEXEC, 0600);
    gsize left = len < 0 ? strlen(data) : (gsize)len;
    int err = 0;

    if (fd < 0) {
        return set_errno_error(errp, errno, "create", tmp);
    }
    while (left > 0 && !err) {
        ssize_t n = write(fd, data, left);

        if (n > 0) {
            data += n;
            left -= n;
        } else if (n < 0 && errno != EINTR) {
            err = errno;
        }
    }
    if (!err && fsync(fd) < 0) {
        err = errno;
    }
    if (close(fd) < 0 && !err) {
        err = errno;
    }
    if (!err && rename(tmp, path) < 0) {
        err = errno;
    }
    if (err) {
        unlink(tmp);
        return set_errno_error(errp, err, "write", path);
    }
    fsync_dir(dir);
    return true;
}

bool vh_store_save_config(VhDriver *drv, const VhDomainDef *def, GError **errp)
{
    g_autofree char *xml = vh_domain_def_format(def, VH_DOMAIN_XML_INACTIVE |
                                                         VH_DOMAIN_XML_SECURE);
    g_autofree char *path = config_path(drv, vh_domain_def_get_name(def));

    return vh_store_write_atomic(path, xml, -1, errp);
}

bool vh_store_delete_config(VhDriver *drv, const char *name, GError **errp)
{
    g_autofree char *path = config_path(drv, name);
    g_autofree char *link = autostart_path(drv, name);

    if (unlink(link) < 0 && errno != ENOENT) {
        return set_errno_error(errp, errno, "remove", link);
    }
    if (unlink(path) < 0 && errno != ENOENT) {
        return set_errno_error(errp, errno, "remove", path);
    }
    fsync_dir(drv->config_dir);
    return true;
}

bool vh_store_set_autostart(VhDriver *drv, const char *name, bool on,
                            GError **errp)
{
    g_autofree char *path = config_path(drv, name);
    g_autofree char *link = autostart_path(drv, name);

    if (!on) {
        if (unlink(link) < 0 && errno != ENOENT) {
            return set_errno_error(errp, errno, "remove", link);
        }
        return true;
    }
    if (g_mkdir_with_parents(drv->autostart_dir, 0755) < 0) {
        return set_errno_error(errp, errno, "create", drv->autostart_dir);
    }
    if (symlink(path, link) < 0 && errno != EEXIST) {
        return set_errno_error(errp, errno, "create symlink", link);
    }
    fsync_dir(drv->autostart_dir);
    return true;
}

static int name_cmp(gconstpointer a, gconstpointer b)
{
    return g_strcmp0(*(char *const *)a, *(char *const *)b);
}

/* The NAME.xml files of @dir, sorted, temp files left out. */
static GPtrArray *xml_files(const char *dir)
{
    GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    const char *e;

    while (d && (e = g_dir_read_name(d))) {
        if (e[0] != '.' && g_str_has_suffix(e, ".xml")) {
            g_ptr_array_add(out, g_strdup(e));
        }
    }
    g_ptr_array_sort(out, name_cmp);
    return out;
}

static VhDomainDef *load_def(const char *path, const char *base, GError **errp)
{
    g_autofree char *xml = NULL;
    gsize len;
    g_autofree char *name = g_strndup(base, strlen(base) - 4);
    g_autoptr(VhDomainDef) def = NULL;

    if (!g_file_get_contents(path, &xml, &len, errp)) {
        return NULL;
    }
    def = vh_domain_def_parse(xml, len, 0, errp);
    if (!def) {
        return NULL;
    }
    if (g_strcmp0(vh_domain_def_get_name(def), name) != 0) {
        g_set_error(errp, VH_VIR_ERROR, VH_VIR_ERR_INTERNAL_ERROR,
                    "domain name '%s' does not match the file name",
                    vh_domain_def_get_name(def));
        return NULL;
    }
    return g_steal_pointer(&def);
}

GPtrArray *vh_store_load_configs(VhDriver *drv)
{
    g_autoptr(GPtrArray) files = xml_files(drv->config_dir);
    GPtrArray *out =
        g_ptr_array_new_with_free_func((GDestroyNotify)vh_domain_obj_unref);

    for (guint i = 0; i < files->len; i++) {
        const char *base = files->pdata[i];
        g_autofree char *path = g_build_filename(drv->config_dir, base, NULL);
        g_autofree char *link = NULL;
        g_autoptr(GError) err = NULL;
        g_autoptr(VhDomainDef) def = load_def(path, base, &err);
        VhDomainObj *obj;

        if (!def) {
            g_warning("skipping the domain config %s: %s", path, err->message);
            continue;
        }
        obj = vh_domain_obj_new(def);
        obj->persistent = true;
        link = autostart_path(drv, obj->name);
        obj->autostart = g_file_test(link, G_FILE_TEST_EXISTS);
        g_ptr_array_add(out, obj);
    }
    return out;
}

void vh_store_status_free(VhStoreStatus *st)
{
    if (st) {
        g_free(st->name);
        g_free(st->qmp);
        g_clear_pointer(&st->live, vh_domain_def_free);
        g_free(st);
    }
}

bool vh_store_save_status(VhDriver *drv, const VhStoreStatus *st, GError **errp)
{
    g_autofree char *xml = vh_domain_def_format(st->live, 0);
    g_autofree char *head = g_markup_printf_escaped(
        "<domstatus state='%d' reason='%d' id='%d' pid='%d' qmp='%s'>\n",
        st->state, st->reason, st->id, (int)st->pid, st->qmp);
    g_autofree char *all = g_strconcat(head, xml, "</domstatus>\n", NULL);
    g_autofree char *path = vh_store_run_path(drv, st->name, "xml");

    return vh_store_write_atomic(path, all, -1, errp);
}

static void status_start(GMarkupParseContext *ctx, const char *element,
                         const char **names, const char **values,
                         gpointer opaque, GError **errp)
{
    VhStoreStatus *st = opaque;
    const char *state, *reason, *id, *pid, *qmp;

    if (!g_markup_collect_attributes(
            element, names, values, errp, G_MARKUP_COLLECT_STRING, "state",
            &state, G_MARKUP_COLLECT_STRING, "reason", &reason,
            G_MARKUP_COLLECT_STRING, "id", &id, G_MARKUP_COLLECT_STRING, "pid",
            &pid, G_MARKUP_COLLECT_STRING, "qmp", &qmp,
            G_MARKUP_COLLECT_INVALID)) {
        return;
    }
    st->state = atoi(state);
    st->reason = atoi(reason);
    st->id = atoi(id);
    st->pid = (pid_t)atoi(pid);
    st->qmp = g_strdup(qmp);
}

static VhStoreStatus *load_status(const char *path, const char *base,
                                  GError **errp)
{
    static const GMarkupParser parser = {.start_element = status_start};
    g_autoptr(VhStoreStatus) st = g_new0(VhStoreStatus, 1);
    g_autofree char *text = NULL;
    g_autoptr(GMarkupParseContext) ctx = NULL;
    g_autofree char *head = NULL;
    const char *nl, *end;

    if (!g_file_get_contents(path, &text, NULL, errp)) {
        return NULL;
    }
    nl = strchr(text, '\n');
    end = g_strrstr(text, "</domstatus>");
    if (!g_str_has_prefix(text, "<domstatus ") || !nl || !end || end < nl) {
        g_set_error_literal(errp, VH_VIR_ERROR, VH_VIR_ERR_INTERNAL_ERROR,
                            "not a domain status file");
        return NULL;
    }
    head = g_strdup_printf("%.*s</domstatus>", (int)(nl - text), text);
    ctx = g_markup_parse_context_new(&parser, 0, st, NULL);
    if (!g_markup_parse_context_parse(ctx, head, -1, errp) ||
        !g_markup_parse_context_end_parse(ctx, errp)) {
        return NULL;
    }
    if (st->pid <= 0 || !st->qmp) {
        g_set_error_literal(errp, VH_VIR_ERROR, VH_VIR_ERR_INTERNAL_ERROR,
                            "status without a pid or QMP socket");
        return NULL;
    }
    st->live = vh_domain_def_parse(nl + 1, end - (nl + 1), 0, errp);
    if (!st->live) {
        return NULL;
    }
    st->name = g_strndup(base, strlen(base) - 4);
    if (g_strcmp0(vh_domain_def_get_name(st->live), st->name) != 0) {
        g_set_error_literal(errp, VH_VIR_ERROR, VH_VIR_ERR_INTERNAL_ERROR,
                            "domain name does not match the file name");
        return NULL;
    }
    return g_steal_pointer(&st);
}

GPtrArray *vh_store_load_statuses(VhDriver *drv)
{
    g_autoptr(GPtrArray) files = xml_files(drv->run_dir);
    GPtrArray *out =
        g_ptr_array_new_with_free_func((GDestroyNotify)vh_store_status_free);

    for (guint i = 0; i < files->len; i++) {
        const char *base = files->pdata[i];
        g_autofree char *path = g_build_filename(drv->run_dir, base, NULL);
        g_autoptr(GError) err = NULL;
        VhStoreStatus *st = load_status(path, base, &err);

        if (!st) {
            g_autofree char *name = g_strndup(base, strlen(base) - 4);

            g_warning("removing the unreadable domain status %s: %s", path,
                      err->message);
            vh_store_remove_run_files(drv, name);
            continue;
        }
        g_ptr_array_add(out, st);
    }
    return out;
}

void vh_store_remove_run_files(VhDriver *drv, const char *name)
{
    static const char *const exts[] = {"xml", "pid", "qmp"};

    for (guint i = 0; i < G_N_ELEMENTS(exts); i++) {
        g_autofree char *path = vh_store_run_path(drv, name, exts[i]);

        unlink(path);
    }
}
