/* -chardev file: output to a file. */
#include "chardev-internal.h"
#include "vmhost/chardev/char-file.h"
#include "vmhost/io/channel-file.h"

struct _VhChardevFile {
    VhChardev parent;
    VhChannelFile *out;
    char *path;
};

G_DEFINE_FINAL_TYPE(VhChardevFile, vh_chardev_file, VH_TYPE_CHARDEV)

static gssize file_write(VhChardev *chr, const guint8 *buf, size_t len,
                         GError **errp)
{
    VhChardevFile *f = VH_CHARDEV_FILE(chr);
    g_autoptr(GError) err = NULL;

    if (!f->out) {
        return 0;
    }
    if (!vh_channel_write_all(VH_CHANNEL(f->out), buf, len, &err)) {
        vh_chardev_record_error(chr, "writing %s: %s", f->path, err->message);
        return 0;
    }
    return len;
}

static char *file_describe(VhChardev *chr)
{
    return g_strdup_printf("file:%s", VH_CHARDEV_FILE(chr)->path);
}

static void file_close(VhChardev *chr)
{
    g_clear_object(&VH_CHARDEV_FILE(chr)->out);
}

static void vh_chardev_file_finalize(GObject *obj)
{
    g_free(VH_CHARDEV_FILE(obj)->path);
    G_OBJECT_CLASS(vh_chardev_file_parent_class)->finalize(obj);
}

static void vh_chardev_file_class_init(VhChardevFileClass *klass)
{
    VhChardevClass *cc = VH_CHARDEV_CLASS(klass);

    G_OBJECT_CLASS(klass)->finalize = vh_chardev_file_finalize;
    cc->write = file_write;
    cc->describe = file_describe;
    cc->close = file_close;
}

static void vh_chardev_file_init(VhChardevFile *f)
{
}

VhChardev *vh_chardev_file_new(const char *id, const char *path, bool append,
                               GMainContext *ctx, GError **errp)
{
    g_autoptr(VhChardev) chr = g_object_new(VH_TYPE_CHARDEV_FILE, NULL);
    VhChardevFile *f = VH_CHARDEV_FILE(chr);
    int flags = O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC);

    if (!vh_chardev_init_base(chr, id, ctx, errp)) {
        return NULL;
    }
    f->path = g_strdup(path);
    f->out = vh_channel_file_new_path(path, flags, 0666, errp);
    if (!f->out) {
        g_prefix_error(errp, "chardev %s: ", id);
        return NULL;
    }
    vh_chardev_be_set_connected(chr, true);
    return g_steal_pointer(&chr);
}
