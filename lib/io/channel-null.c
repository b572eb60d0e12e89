/*
 * VhChannelNull: EOF on read, discard on write, always ready.
 */
#include "vmhost/io/channel-null.h"

#include "channel-internal.h"

struct _VhChannelNull {
    VhChannel parent_instance;
};

G_DEFINE_FINAL_TYPE(VhChannelNull, vh_channel_null, VH_TYPE_CHANNEL)

VhChannelNull *vh_channel_null_new(void)
{
    return g_object_new(VH_TYPE_CHANNEL_NULL, NULL);
}

static gssize null_readv(VhChannel *ioc, const struct iovec *iov, size_t niov,
                         int **fds, size_t *nfds, GError **errp)
{
    return 0;
}

static gssize null_writev(VhChannel *ioc, const struct iovec *iov, size_t niov,
                          const int *fds, size_t nfds, GError **errp)
{
    size_t total = 0;

    for (size_t i = 0; i < niov; i++) {
        total += iov[i].iov_len;
    }
    return MIN(total, (size_t)G_MAXSSIZE);
}

static bool null_close(VhChannel *ioc, GError **errp)
{
    return true;
}

static GIOCondition null_ready(VhChannel *ioc)
{
    return vh_channel_is_closed(ioc) ? G_IO_NVAL : G_IO_IN | G_IO_OUT;
}

static GSource *null_create_watch(VhChannel *ioc, GIOCondition cond)
{
    return vh_channel_create_ready_watch(ioc, cond, null_ready);
}

static bool null_set_blocking(VhChannel *ioc, bool enabled, GError **errp)
{
    return true;
}

static void vh_channel_null_init(VhChannelNull *n)
{
}

static void vh_channel_null_class_init(VhChannelNullClass *klass)
{
    VhChannelClass *cc = VH_CHANNEL_CLASS(klass);

    cc->readv = null_readv;
    cc->writev = null_writev;
    cc->close = null_close;
    cc->create_watch = null_create_watch;
    cc->set_blocking = null_set_blocking;
}
