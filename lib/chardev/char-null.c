/* -chardev null: connected, output discarded. */
#include "chardev-internal.h"
#include "vmhost/chardev/char-null.h"

struct _VhChardevNull {
    VhChardev parent;
};

G_DEFINE_FINAL_TYPE(VhChardevNull, vh_chardev_null, VH_TYPE_CHARDEV)

static gssize null_write(VhChardev *chr, const guint8 *buf, size_t len,
                         GError **errp)
{
    return len;
}

static char *null_describe(VhChardev *chr)
{
    return g_strdup("null");
}

static void vh_chardev_null_class_init(VhChardevNullClass *klass)
{
    VhChardevClass *cc = VH_CHARDEV_CLASS(klass);

    cc->write = null_write;
    cc->describe = null_describe;
}

static void vh_chardev_null_init(VhChardevNull *n)
{
}

VhChardev *vh_chardev_null_new(const char *id, GMainContext *ctx, GError **errp)
{
    g_autoptr(VhChardev) chr = g_object_new(VH_TYPE_CHARDEV_NULL, NULL);

    if (!vh_chardev_init_base(chr, id, ctx, errp)) {
        return NULL;
    }
    vh_chardev_be_set_connected(chr, true);
    return g_steal_pointer(&chr);
}
