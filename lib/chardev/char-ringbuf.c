/* -chardev ringbuf: a power-of-two ring keeping the newest bytes. */
#include "chardev-internal.h"
#include "vmhost/chardev/char-ringbuf.h"

#include <string.h>

struct _VhChardevRingbuf {
    VhChardev parent;
    guint8 *data;
    size_t size; /* a power of two */
    /* free-running counters; positions are taken modulo size */
    guint64 prod;
    guint64 cons;
};

G_DEFINE_FINAL_TYPE(VhChardevRingbuf, vh_chardev_ringbuf, VH_TYPE_CHARDEV)

void vh_chardev_ringbuf_write(VhChardevRingbuf *rb, const void *buf, size_t len)
{
    const guint8 *p = buf;

    /* only the last size bytes can survive */
    if (len > rb->size) {
        rb->prod += len - rb->size;
        p += len - rb->size;
        len = rb->size;
    }
    for (size_t i = 0; i < len; i++) {
        rb->data[(rb->prod + i) & (rb->size - 1)] = p[i];
    }
    rb->prod += len;
    if (rb->prod - rb->cons > rb->size) {
        rb->cons = rb->prod - rb->size;
    }
}

size_t vh_chardev_ringbuf_read(VhChardevRingbuf *rb, size_t max, guint8 **out)
{
    size_t n = MIN(max, vh_chardev_ringbuf_count(rb));
    guint8 *buf = g_malloc(n + 1);

    for (size_t i = 0; i < n; i++) {
        buf[i] = rb->data[(rb->cons + i) & (rb->size - 1)];
    }
    buf[n] = 0;
    rb->cons += n;
    *out = buf;
    return n;
}

size_t vh_chardev_ringbuf_count(VhChardevRingbuf *rb)
{
    return rb->prod - rb->cons;
}

size_t vh_chardev_ringbuf_size(VhChardevRingbuf *rb)
{
    return rb->size;
}

static gssize ringbuf_write(VhChardev *chr, const guint8 *buf, size_t len,
                            GError **errp)
{
    vh_chardev_ringbuf_write(VH_CHARDEV_RINGBUF(chr), buf, len);
    return len;
}

static char *ringbuf_describe(VhChardev *chr)
{
    return g_strdup("memory");
}

static void vh_chardev_ringbuf_finalize(GObject *obj)
{
    g_free(VH_CHARDEV_RINGBUF(obj)->data);
    G_OBJECT_CLASS(vh_chardev_ringbuf_parent_class)->finalize(obj);
}

static void vh_chardev_ringbuf_class_init(VhChardevRingbufClass *klass)
{
    VhChardevClass *cc = VH_CHARDEV_CLASS(klass);

    G_OBJECT_CLASS(klass)->finalize = vh_chardev_ringbuf_finalize;
    cc->write = ringbuf_write;
    cc->describe = ringbuf_describe;
}

static void vh_chardev_ringbuf_init(VhChardevRingbuf *rb)
{
}

VhChardev *vh_chardev_ringbuf_new(const char *id, size_t size,
                                  GMainContext *ctx, GError **errp)
{
    g_autoptr(VhChardev) chr = g_object_new(VH_TYPE_CHARDEV_RINGBUF, NULL);
    VhChardevRingbuf *rb = VH_CHARDEV_RINGBUF(chr);

    if (!vh_chardev_init_base(chr, id, ctx, errp)) {
        return NULL;
    }
    if (size == 0) {
        size = VH_CHARDEV_RINGBUF_DEFAULT_SIZE;
    }
    if ((size & (size - 1)) != 0) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "chardev %s: ringbuf size %zu must be a power of two", id,
                    size);
        return NULL;
    }
    rb->size = size;
    rb->data = g_malloc0(size);
    vh_chardev_be_set_connected(chr, true);
    return g_steal_pointer(&chr);
}
