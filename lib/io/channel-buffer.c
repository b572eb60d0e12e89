/*
 * VhChannelBuffer: an in-memory channel with a read/write offset.
 */
#include "vmhost/io/channel-buffer.h"

#include "channel-internal.h"

#include <stdio.h>
#include <string.h>

struct _VhChannelBuffer {
    VhChannel parent_instance;
    GByteArray *data;
    size_t offset;
};

G_DEFINE_FINAL_TYPE(VhChannelBuffer, vh_channel_buffer, VH_TYPE_CHANNEL)

VhChannelBuffer *vh_channel_buffer_new(size_t capacity_hint)
{
    VhChannelBuffer *b = g_object_new(VH_TYPE_CHANNEL_BUFFER, NULL);

    g_byte_array_unref(b->data);
    b->data = g_byte_array_sized_new(MIN(capacity_hint, (size_t)G_MAXUINT));
    return b;
}

const guint8 *vh_channel_buffer_get_data(VhChannelBuffer *b, size_t *len)
{
    g_return_val_if_fail(VH_IS_CHANNEL_BUFFER(b), NULL);

    size_t n = b->data->len;
    if (len) {
        *len = n;
    }
    return n ? b->data->data : NULL;
}

static gssize buffer_readv(VhChannel *ioc, const struct iovec *iov, size_t niov,
                           int **fds, size_t *nfds, GError **errp)
{
    VhChannelBuffer *b = VH_CHANNEL_BUFFER(ioc);
    size_t done = 0;

    for (size_t i = 0; i < niov && b->offset < b->data->len; i++) {
        size_t n = MIN(iov[i].iov_len, b->data->len - b->offset);
        memcpy(iov[i].iov_base, b->data->data + b->offset, n);
        b->offset += n;
        done += n;
    }
    return done;
}

static gssize buffer_writev(VhChannel *ioc, const struct iovec *iov,
                            size_t niov, const int *fds, size_t nfds,
                            GError **errp)
{
    VhChannelBuffer *b = VH_CHANNEL_BUFFER(ioc);
    size_t total = 0;

    for (size_t i = 0; i < niov; i++) {
        total += iov[i].iov_len;
    }
    if (total > G_MAXSSIZE || b->offset + total > G_MAXUINT) {
        g_set_error(errp, G_IO_ERROR, G_IO_ERROR_NO_SPACE,
                    "%s cannot grow beyond %u bytes", vh_channel_get_name(ioc),
                    G_MAXUINT);
        return -1;
    }
    if (b->offset + total > b->data->len) {
        size_t old = b->data->len;
        g_byte_array_set_size(b->data, b->offset + total);
        if (b->offset > old) {
            /* A seek past the end leaves a hole of zeros. */
            memset(b->data->data + old, 0, b->offset - old);
        }
    }
    for (size_t i = 0; i < niov; i++) {
        memcpy(b->data->data + b->offset, iov[i].iov_base, iov[i].iov_len);
        b->offset += iov[i].iov_len;
    }
    return total;
}

static off_t buffer_seek(VhChannel *ioc, off_t offset, int whence,
                         GError **errp)
{
    VhChannelBuffer *b = VH_CHANNEL_BUFFER(ioc);
    gint64 base;

    switch (whence) {
    case SEEK_SET:
        base = 0;
        break;
    case SEEK_CUR:
        base = b->offset;
        break;
    case SEEK_END:
        base = b->data->len;
        break;
    default:
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "Invalid seek origin %d on %s", whence,
                    vh_channel_get_name(ioc));
        return -1;
    }
    if ((offset < 0 && -offset > base) || base + offset > G_MAXUINT) {
        g_set_error(errp, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                    "Seek to %" G_GINT64_FORMAT " is outside %s",
                    (gint64)(base + offset), vh_channel_get_name(ioc));
        return -1;
    }
    b->offset = base + offset;
    return b->offset;
}

static bool buffer_close(VhChannel *ioc, GError **errp)
{
    VhChannelBuffer *b = VH_CHANNEL_BUFFER(ioc);

    g_byte_array_set_size(b->data, 0);
    b->offset = 0;
    return true;
}

static GIOCondition buffer_ready(VhChannel *ioc)
{
    VhChannelBuffer *b = VH_CHANNEL_BUFFER(ioc);

    if (vh_channel_is_closed(ioc)) {
        return G_IO_NVAL;
    }
    return G_IO_OUT | (b->offset < b->data->len ? G_IO_IN : 0);
}

static GSource *buffer_create_watch(VhChannel *ioc, GIOCondition cond)
{
    return vh_channel_create_ready_watch(ioc, cond, buffer_ready);
}

static bool buffer_set_blocking(VhChannel *ioc, bool enabled, GError **errp)
{
    return true;
}

static void vh_channel_buffer_finalize(GObject *obj)
{
    VhChannelBuffer *b = VH_CHANNEL_BUFFER(obj);

    g_byte_array_unref(b->data);
    G_OBJECT_CLASS(vh_channel_buffer_parent_class)->finalize(obj);
}

static void vh_channel_buffer_init(VhChannelBuffer *b)
{
    b->data = g_byte_array_new();
    vh_channel_set_feature(VH_CHANNEL(b), VH_CHANNEL_FEATURE_SEEK);
}

static void vh_channel_buffer_class_init(VhChannelBufferClass *klass)
{
    GObjectClass *oc = G_OBJECT_CLASS(klass);
    VhChannelClass *cc = VH_CHANNEL_CLASS(klass);

    oc->finalize = vh_channel_buffer_finalize;
    cc->readv = buffer_readv;
    cc->writev = buffer_writev;
    cc->close = buffer_close;
    cc->create_watch = buffer_create_watch;
    cc->set_blocking = buffer_set_blocking;
    cc->seek = buffer_seek;
}
