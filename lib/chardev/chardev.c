/*
 * The VhChardev base: frontend handlers, logfile, connected state, last
 * error. Backends only move bytes.
 */
#include "chardev-internal.h"
#include "vmhost/io/channel-file.h"
#include "vmhost/object/object.h"

#include <stdio.h>

typedef struct {
    char *id;
    GMainContext *context;

    VhChardevCanReadFunc can_read;
    VhChardevReadFunc read;
    VhChardevEventFunc event;
    void *opaque;
    bool fe_attached; /* some handler installed: vh_chardev_remove refuses */
    GSource *opened_idle; /* late OPENED for a frontend set while connected */

    VhChannelFile *logfile;
    char *logfile_path;

    bool connected;
    bool closed;
    char *last_error;
    gint64 last_error_time;
    guint64 dropped;
} VhChardevPrivate;

G_DEFINE_ABSTRACT_TYPE_WITH_PRIVATE(VhChardev, vh_chardev, G_TYPE_OBJECT)

static VhChardevInfoFunc info_func;
static void *info_opaque;
G_LOCK_DEFINE_STATIC(info);

static VhChardevPrivate *priv(VhChardev *chr)
{
    return vh_chardev_get_instance_private(chr);
}

bool vh_chardev_init_base(VhChardev *chr, const char *id, GMainContext *ctx,
                          GError **errp)
{
    VhChardevPrivate *p = priv(chr);

    if (!id || !vh_object_id_valid(id, errp)) {
        if (!id) {
            g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                        "chardev: an id is required");
        }
        return false;
    }
    p->id = g_strdup(id);
    p->context = g_main_context_ref(ctx ? ctx : g_main_context_default());
    return true;
}

const char *vh_chardev_get_id(VhChardev *chr)
{
    return priv(chr)->id;
}

GMainContext *vh_chardev_get_context(VhChardev *chr)
{
    return priv(chr)->context;
}

static gboolean late_opened(gpointer opaque)
{
    VhChardev *chr = opaque;
    VhChardevPrivate *p = priv(chr);

    g_clear_pointer(&p->opened_idle, g_source_unref);
    if (p->connected && p->event) {
        p->event(p->opaque, VH_CHARDEV_EVENT_OPENED);
    }
    return G_SOURCE_REMOVE;
}

static void cancel_late_opened(VhChardevPrivate *p)
{
    if (p->opened_idle) {
        g_source_destroy(p->opened_idle);
        g_clear_pointer(&p->opened_idle, g_source_unref);
    }
}

void vh_chardev_set_handlers(VhChardev *chr, VhChardevCanReadFunc can_read,
                             VhChardevReadFunc read, VhChardevEventFunc event,
                             void *opaque, GMainContext *context)
{
    VhChardevPrivate *p = priv(chr);
    VhChardevClass *klass = VH_CHARDEV_GET_CLASS(chr);

    g_return_if_fail(context == NULL || context == p->context);
    if (klass->set_handlers) {
        klass->set_handlers(chr, can_read, read, event, opaque);
        return;
    }
    p->can_read = can_read;
    p->read = read;
    p->event = event;
    p->opaque = opaque;
    p->fe_attached = can_read || read || event;
    cancel_late_opened(p);
    if (p->connected && event) {
        p->opened_idle = g_idle_source_new();
        g_source_set_callback(p->opened_idle, late_opened, chr, NULL);
        g_source_attach(p->opened_idle, p->context);
    }
    vh_chardev_accept_input(chr);
}

VhChardev *vh_chardev_get_backend(VhChardev *chr)
{
    VhChardevClass *klass = VH_CHARDEV_GET_CLASS(chr);

    return klass->get_backend ? klass->get_backend(chr) : chr;
}

void vh_chardev_be_set_has_frontend(VhChardev *chr, bool attached)
{
    priv(chr)->fe_attached = attached;
}

void vh_chardev_accept_input(VhChardev *chr)
{
    VhChardevClass *klass = VH_CHARDEV_GET_CLASS(chr);

    if (!priv(chr)->closed && klass->update_read_handler) {
        klass->update_read_handler(chr);
    }
}

size_t vh_chardev_be_can_read(VhChardev *chr)
{
    VhChardevPrivate *p = priv(chr);

    if (!p->read) {
        return 0;
    }
    return p->can_read ? p->can_read(p->opaque) : 4096;
}

void vh_chardev_be_read(VhChardev *chr, const guint8 *buf, size_t len)
{
    VhChardevPrivate *p = priv(chr);

    if (p->read && len) {
        p->read(p->opaque, buf, len);
    }
}

void vh_chardev_be_set_connected(VhChardev *chr, bool connected)
{
    VhChardevPrivate *p = priv(chr);

    if (p->connected == connected) {
        return;
    }
    p->connected = connected;
    cancel_late_opened(p);
    if (p->event) {
        p->event(p->opaque,
                 connected ? VH_CHARDEV_EVENT_OPENED : VH_CHARDEV_EVENT_CLOSED);
    }
}

void vh_chardev_record_error(VhChardev *chr, const char *fmt, ...)
{
    VhChardevPrivate *p = priv(chr);
    va_list ap;

    g_free(p->last_error);
    va_start(ap, fmt);
    p->last_error = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    p->last_error_time = g_get_real_time();
    g_warning("chardev %s: %s", p->id, p->last_error);
}

void vh_chardev_count_dropped(VhChardev *chr, size_t len)
{
    priv(chr)->dropped += len;
}

static void log_output(VhChardev *chr, const void *buf, size_t len)
{
    VhChardevPrivate *p = priv(chr);
    g_autoptr(GError) err = NULL;

    if (!p->logfile) {
        return;
    }
    if (!vh_channel_write_all(VH_CHANNEL(p->logfile), buf, len, &err)) {
        vh_chardev_record_error(chr, "logfile %s: %s; logging stopped",
                                p->logfile_path, err->message);
        g_clear_object(&p->logfile);
    }
}

gssize vh_chardev_write(VhChardev *chr, const void *buf, size_t len,
                        GError **errp)
{
    VhChardevPrivate *p = priv(chr);
    gssize n;

    g_return_val_if_fail(VH_IS_CHARDEV(chr), -1);
    if (p->closed) {
        g_set_error(errp, G_IO_ERROR, G_IO_ERROR_CLOSED, "chardev %s is closed",
                    p->id);
        return -1;
    }
    if (len == 0) {
        return 0;
    }
    log_output(chr, buf, len);
    if (!p->connected) {
        p->dropped += len;
        return len;
    }
    n = VH_CHARDEV_GET_CLASS(chr)->write(chr, buf, len, errp);
    if (n < 0) {
        return -1;
    }
    if ((size_t)n < len) {
        p->dropped += len - n;
    }
    return len;
}

bool vh_chardev_set_logfile(VhChardev *chr, const char *path, bool append,
                            GError **errp)
{
    VhChardevPrivate *p = priv(chr);
    int flags = O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC);
    VhChannelFile *f = vh_channel_file_new_path(path, flags, 0666, errp);

    if (!f) {
        g_prefix_error(errp, "chardev %s: logfile: ", p->id);
        return false;
    }
    g_clear_object(&p->logfile);
    g_free(p->logfile_path);
    p->logfile = f;
    p->logfile_path = g_strdup(path);
    return true;
}

bool vh_chardev_has_frontend(VhChardev *chr)
{
    return priv(chr)->fe_attached;
}

bool vh_chardev_is_connected(VhChardev *chr)
{
    return priv(chr)->connected;
}

bool vh_chardev_is_closed(VhChardev *chr)
{
    return priv(chr)->closed;
}

const char *vh_chardev_get_last_error(VhChardev *chr, gint64 *when_us)
{
    VhChardevPrivate *p = priv(chr);

    if (when_us) {
        *when_us = p->last_error_time;
    }
    return p->last_error;
}

guint64 vh_chardev_get_dropped(VhChardev *chr)
{
    return priv(chr)->dropped;
}

char *vh_chardev_describe(VhChardev *chr)
{
    return VH_CHARDEV_GET_CLASS(chr)->describe(chr);
}

void vh_chardev_close(VhChardev *chr)
{
    VhChardevPrivate *p = priv(chr);
    VhChardevClass *klass = VH_CHARDEV_GET_CLASS(chr);

    if (p->closed) {
        return;
    }
    p->closed = true;
    cancel_late_opened(p);
    if (klass->close) {
        klass->close(chr);
    }
    p->connected = false;
    g_clear_object(&p->logfile);
}

static void vh_chardev_dispose(GObject *obj)
{
    vh_chardev_close(VH_CHARDEV(obj));
    G_OBJECT_CLASS(vh_chardev_parent_class)->dispose(obj);
}

static void vh_chardev_finalize(GObject *obj)
{
    VhChardevPrivate *p = priv(VH_CHARDEV(obj));

    g_free(p->id);
    g_free(p->logfile_path);
    g_free(p->last_error);
    g_clear_pointer(&p->context, g_main_context_unref);
    G_OBJECT_CLASS(vh_chardev_parent_class)->finalize(obj);
}

static void vh_chardev_class_init(VhChardevClass *klass)
{
    GObjectClass *oc = G_OBJECT_CLASS(klass);

    oc->dispose = vh_chardev_dispose;
    oc->finalize = vh_chardev_finalize;
}

static void vh_chardev_init(VhChardev *chr)
{
}

void vh_chardev_set_info_func(VhChardevInfoFunc func, void *opaque)
{
    G_LOCK(info);
    info_func = func;
    info_opaque = opaque;
    G_UNLOCK(info);
}

void vh_chardev_info(const char *fmt, ...)
{
    g_autofree char *msg = NULL;
    va_list ap;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    G_LOCK(info);
    if (info_func) {
        info_func(msg, info_opaque);
    } else {
        fprintf(stderr, "vmhost: %s\n", msg);
    }
    G_UNLOCK(info);
}

/* ---- connection notices ---- */

typedef struct {
    guint handle;
    VhChardevNoticeFunc func;
    void *opaque;
} NoticeFunc;

static GArray *notice_funcs; /* NoticeFunc */
static guint notice_next = 1;
G_LOCK_DEFINE_STATIC(notice);

guint vh_chardev_add_notice_func(VhChardevNoticeFunc func, void *opaque)
{
    NoticeFunc nf = {.func = func, .opaque = opaque};

    g_return_val_if_fail(func != NULL, 0);
    G_LOCK(notice);
    if (!notice_funcs) {
        notice_funcs = g_array_new(false, false, sizeof(NoticeFunc));
    }
    nf.handle = notice_next++;
    g_array_append_val(notice_funcs, nf);
    G_UNLOCK(notice);
    return nf.handle;
}

void vh_chardev_remove_notice_func(guint handle)
{
    G_LOCK(notice);
    for (guint i = 0; notice_funcs && i < notice_funcs->len; i++) {
        if (g_array_index(notice_funcs, NoticeFunc, i).handle == handle) {
            g_array_remove_index(notice_funcs, i);
            break;
        }
    }
    if (notice_funcs && notice_funcs->len == 0) {
        g_clear_pointer(&notice_funcs, g_array_unref);
    }
    G_UNLOCK(notice);
}

void vh_chardev_notify(const VhChardevNotice *notice)
{
    g_autoptr(GArray) copy = NULL;

    /* called without the lock held: observers may take their own locks */
    G_LOCK(notice);
    if (notice_funcs) {
        copy = g_array_copy(notice_funcs);
    }
    G_UNLOCK(notice);
    for (guint i = 0; copy && i < copy->len; i++) {
        NoticeFunc *nf = &g_array_index(copy, NoticeFunc, i);
        nf->func(notice, nf->opaque);
    }
}
