/*
 * VhChannel base class: precondition checks, the read/write-all helpers,
 * waiting for readiness, and fd-based GSources shared by the channel types.
 */
#include "vmhost/io/channel.h"
#include "vmhost/util/iov.h"

#include <errno.h>

typedef struct {
    char *name;
    unsigned features;
    bool closed;
    bool blocking;
} VhChannelPrivate;

G_DEFINE_ABSTRACT_TYPE_WITH_PRIVATE(VhChannel, vh_channel, G_TYPE_OBJECT)

static void vh_channel_init(VhChannel *ioc)
{
    VhChannelPrivate *priv = vh_channel_get_instance_private(ioc);

    priv->blocking = true;
}

/*
 * Subclasses release OS resources in their close vfunc, not in dispose, so
 * that dropping the last reference closes the channel exactly once.
 */
static void vh_channel_dispose(GObject *obj)
{
    VhChannel *ioc = VH_CHANNEL(obj);
    VhChannelPrivate *priv = vh_channel_get_instance_private(ioc);

    if (!priv->closed) {
        g_autoptr(GError) err = NULL;
        if (!vh_channel_close(ioc, &err)) {
            g_debug("closing %s on release: %s", vh_channel_get_name(ioc),
                    err->message);
        }
    }
    G_OBJECT_CLASS(vh_channel_parent_class)->dispose(obj);
}

static void vh_channel_finalize(GObject *obj)
{
    VhChannelPrivate *priv = vh_channel_get_instance_private(VH_CHANNEL(obj));

    g_free(priv->name);
    G_OBJECT_CLASS(vh_channel_parent_class)->finalize(obj);
}

static void vh_channel_class_init(VhChannelClass *klass)
{
    GObjectClass *oc = G_OBJECT_CLASS(klass);

    oc->dispose = vh_channel_dispose;
    oc->finalize = vh_channel_finalize;
}

bool vh_channel_has_feature(VhChannel *ioc, VhChannelFeature feature)
{
    VhChannelPrivate *priv = vh_channel_get_instance_private(ioc);

    return (priv->features & feature) == feature;
}

void vh_channel_set_feature(VhChannel *ioc, VhChannelFeature feature)
{
    VhChannelPrivate *priv = vh_channel_get_instance_private(ioc);

    priv->features |= feature;
}

void vh_channel_set_name(VhChannel *ioc, const char *name)
{
    VhChannelPrivate *priv = vh_channel_get_instance_private(ioc);

    g_free(priv->name);
    priv->name = g_strdup(name);
}

const char *vh_channel_get_name(VhChannel *ioc)
{
    VhChannelPrivate *priv = vh_channel_get_instance_private(ioc);

    return priv->name ? priv->name : G_OBJECT_TYPE_NAME(ioc);
}

bool vh_channel_is_closed(VhChannel *ioc)
{
    VhChannelPrivate *priv = vh_channel_get_instance_private(ioc);

    return priv->closed;
}

bool vh_channel_get_blocking(VhChannel *ioc)
{
    VhChannelPrivate *priv = vh_channel_get_instance_private(ioc);

    return priv->blocking;
}

static bool check_open(VhChannel *ioc, GError **errp)
{
    if (vh_channel_is_closed(ioc)) {
        g_set_error(errp, G_IO_ERROR, G_IO_ERROR_CLOSED, "%s is closed",
                    vh_channel_get_name(ioc));
        return false;
    }
    return true;
}

static bool check_feature(VhChannel *ioc, VhChannelFeature feature,
                          const char *what, GError **errp)
{
    if (!vh_channel_has_feature(ioc, feature)) {
        g_set_error(errp, VH_ERROR, VH_ERROR_NOT_SUPPORTED,
                    "%s does not support %s", vh_channel_get_name(ioc), what);
        return false;
    }
    return true;
}

gssize vh_channel_readv_full(VhChannel *ioc, const struct iovec *iov,
                             size_t niov, int **fds, size_t *nfds,
                             GError **errp)
{
    g_return_val_if_fail(VH_IS_CHANNEL(ioc), -1);
    g_return_val_if_fail((fds == NULL) == (nfds == NULL), -1);

    if (fds) {
        *fds = NULL;
        *nfds = 0;
        if (!check_feature(ioc, VH_CHANNEL_FEATURE_FD_PASS,
                           "file descriptor passing", errp)) {
            return -1;
        }
    }
    if (!check_open(ioc, errp)) {
        return -1;
    }
    return VH_CHANNEL_GET_CLASS(ioc)->readv(ioc, iov, niov, fds, nfds, errp);
}

gssize vh_channel_writev_full(VhChannel *ioc, const struct iovec *iov,
                              size_t niov, const int *fds, size_t nfds,
                              GError **errp)
{
    g_return_val_if_fail(VH_IS_CHANNEL(ioc), -1);

    if (nfds > 0 && !check_feature(ioc, VH_CHANNEL_FEATURE_FD_PASS,
                                   "file descriptor passing", errp)) {
        return -1;
    }
    if (!check_open(ioc, errp)) {
        return -1;
    }
    return VH_CHANNEL_GET_CLASS(ioc)->writev(ioc, iov, niov, fds, nfds, errp);
}

gssize vh_channel_readv(VhChannel *ioc, const struct iovec *iov, size_t niov,
                        GError **errp)
{
    return vh_channel_readv_full(ioc, iov, niov, NULL, NULL, errp);
}

gssize vh_channel_writev(VhChannel *ioc, const struct iovec *iov, size_t niov,
                         GError **errp)
{
    return vh_channel_writev_full(ioc, iov, niov, NULL, 0, errp);
}

gssize vh_channel_read(VhChannel *ioc, void *buf, size_t len, GError **errp)
{
    struct iovec iov = {.iov_base = buf, .iov_len = len};

    return vh_channel_readv_full(ioc, &iov, 1, NULL, NULL, errp);
}

gssize vh_channel_write(VhChannel *ioc, const void *buf, size_t len,
                        GError **errp)
{
    struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};

    return vh_channel_writev_full(ioc, &iov, 1, NULL, 0, errp);
}

/* Drop @done bytes from the front of the iovec array (*iov, *niov). */
static void iov_advance(struct iovec **iov, size_t *niov, size_t done)
{
    while (*niov > 0 && done >= (*iov)->iov_len) {
        done -= (*iov)->iov_len;
        (*iov)++;
        (*niov)--;
    }
    if (*niov > 0) {
        (*iov)->iov_base = (char *)(*iov)->iov_base + done;
        (*iov)->iov_len -= done;
    }
}

int vh_channel_readv_all_eof(VhChannel *ioc, const struct iovec *iov,
                             size_t niov, GError **errp)
{
    g_autofree struct iovec *copy = g_memdup2(iov, niov * sizeof(*iov));
    struct iovec *cur = copy;
    size_t ncur = niov;
    size_t want = vh_iov_size(iov, niov);
    size_t got = 0;

    while (got < want) {
        gssize n = vh_channel_readv(ioc, cur, ncur, errp);
        if (n == VH_CHANNEL_ERR_BLOCK) {
            vh_channel_wait(ioc, G_IO_IN);
            continue;
        }
        if (n < 0) {
            return -1;
        }
        if (n == 0) {
            if (got == 0) {
                return 0;
            }
            g_set_error(errp, G_IO_ERROR, G_IO_ERROR_PARTIAL_INPUT,
                        "%s: unexpected end of file after %zu of %zu bytes",
                        vh_channel_get_name(ioc), got, want);
            return -1;
        }
        got += n;
        iov_advance(&cur, &ncur, n);
    }
    return 1;
}

bool vh_channel_readv_all(VhChannel *ioc, const struct iovec *iov, size_t niov,
                          GError **errp)
{
    int ret = vh_channel_readv_all_eof(ioc, iov, niov, errp);

    if (ret == 0) {
        g_set_error(errp, G_IO_ERROR, G_IO_ERROR_PARTIAL_INPUT,
                    "%s: unexpected end of file", vh_channel_get_name(ioc));
    }
    return ret == 1;
}

int vh_channel_read_all_eof(VhChannel *ioc, void *buf, size_t len,
                            GError **errp)
{
    struct iovec iov = {.iov_base = buf, .iov_len = len};

    return vh_channel_readv_all_eof(ioc, &iov, 1, errp);
}

bool vh_channel_read_all(VhChannel *ioc, void *buf, size_t len, GError **errp)
{
    struct iovec iov = {.iov_base = buf, .iov_len = len};

    return vh_channel_readv_all(ioc, &iov, 1, errp);
}

bool vh_channel_writev_full_all(VhChannel *ioc, const struct iovec *iov,
                                size_t niov, const int *fds, size_t nfds,
                                GError **errp)
{
    g_autofree struct iovec *copy = g_memdup2(iov, niov * sizeof(*iov));
    struct iovec *cur = copy;
    size_t ncur = niov;
    size_t left = vh_iov_size(iov, niov);

    while (left > 0 || nfds > 0) {
        gssize n = vh_channel_writev_full(ioc, cur, ncur, fds, nfds, errp);
        if (n == VH_CHANNEL_ERR_BLOCK) {
            vh_channel_wait(ioc, G_IO_OUT);
            continue;
        }
        if (n < 0) {
            return false;
        }
        if (n == 0 && left > 0) {
            /* A channel that accepts nothing would make us spin forever. */
            g_set_error(errp, G_IO_ERROR, G_IO_ERROR_FAILED,
                        "%s: write made no progress with %zu bytes left",
                        vh_channel_get_name(ioc), left);
            return false;
        }
        /* The descriptors travel with the first byte written. */
        fds = NULL;
        nfds = 0;
        left -= n;
        iov_advance(&cur, &ncur, n);
    }
    return true;
}

bool vh_channel_writev_all(VhChannel *ioc, const struct iovec *iov, size_t niov,
                           GError **errp)
{
    return vh_channel_writev_full_all(ioc, iov, niov, NULL, 0, errp);
}

bool vh_channel_write_all(VhChannel *ioc, const void *buf, size_t len,
                          GError **errp)
{
    struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};

    return vh_channel_writev_full_all(ioc, &iov, 1, NULL, 0, errp);
}

bool vh_channel_close(VhChannel *ioc, GError **errp)
{
    VhChannelPrivate *priv = vh_channel_get_instance_private(ioc);

    if (priv->closed) {
        return true;
    }
    priv->closed = true;
    return VH_CHANNEL_GET_CLASS(ioc)->close(ioc, errp);
}

bool vh_channel_shutdown(VhChannel *ioc, VhChannelShutdown how, GError **errp)
{
    VhChannelClass *klass = VH_CHANNEL_GET_CLASS(ioc);

    if (!check_feature(ioc, VH_CHANNEL_FEATURE_SHUTDOWN, "shutdown", errp) ||
        !check_open(ioc, errp)) {
        return false;
    }
    return klass->shutdown(ioc, how, errp);
}

bool vh_channel_set_blocking(VhChannel *ioc, bool enabled, GError **errp)
{
    VhChannelPrivate *priv = vh_channel_get_instance_private(ioc);

    if (!check_open(ioc, errp) ||
        !VH_CHANNEL_GET_CLASS(ioc)->set_blocking(ioc, enabled, errp)) {
        return false;
    }
    priv->blocking = enabled;
    return true;
}

void vh_channel_set_cork(VhChannel *ioc, bool enabled)
{
    VhChannelClass *klass = VH_CHANNEL_GET_CLASS(ioc);

    if (klass->set_cork && !vh_channel_is_closed(ioc)) {
        klass->set_cork(ioc, enabled);
    }
}

void vh_channel_set_delay(VhChannel *ioc, bool enabled)
{
    VhChannelClass *klass = VH_CHANNEL_GET_CLASS(ioc);

    if (klass->set_delay && !vh_channel_is_closed(ioc)) {
        klass->set_delay(ioc, enabled);
    }
}

gssize vh_channel_get_read_ahead(VhChannel *ioc)
{
    VhChannelClass *klass = VH_CHANNEL_GET_CLASS(ioc);

    if (!klass->get_read_ahead || vh_channel_is_closed(ioc)) {
        return -1;
    }
    return (gssize)klass->get_read_ahead(ioc);
}

off_t vh_channel_seek(VhChannel *ioc, off_t offset, int whence, GError **errp)
{
    if (!check_feature(ioc, VH_CHANNEL_FEATURE_SEEK, "seeking", errp) ||
        !check_open(ioc, errp)) {
        return -1;
    }
    return VH_CHANNEL_GET_CLASS(ioc)->seek(ioc, offset, whence, errp);
}

GSource *vh_channel_create_watch(VhChannel *ioc, GIOCondition cond)
{
    return VH_CHANNEL_GET_CLASS(ioc)->create_watch(ioc, cond);
}

guint vh_channel_add_watch(VhChannel *ioc, GIOCondition cond,
                           VhChannelFunc func, gpointer opaque,
                           GDestroyNotify notify, GMainContext *context)
{
    g_autoptr(GSource) source = vh_channel_create_watch(ioc, cond);

    g_source_set_callback(source, (GSourceFunc)(void (*)(void))func, opaque,
                          notify);
    return g_source_attach(source, context);
}

static gboolean wait_done(VhChannel *ioc, GIOCondition cond, gpointer opaque)
{
    g_main_loop_quit(opaque);
    return G_SOURCE_REMOVE;
}

void vh_channel_wait(VhChannel *ioc, GIOCondition cond)
{
    g_autoptr(GMainContext) ctx = g_main_context_new();
    g_autoptr(GMainLoop) loop = g_main_loop_new(ctx, FALSE);
    g_autoptr(GSource) source = vh_channel_create_watch(ioc, cond);

    g_source_set_callback(source, (GSourceFunc)(void (*)(void))wait_done, loop,
                          NULL);
    g_source_attach(source, ctx);
    g_main_loop_run(loop);
    g_source_destroy(source);
}

/* A GSource over one or two fds that dispatches a VhChannelFunc. */
typedef struct {
    GSource parent;
    VhChannel *ioc;
    gpointer rtag;
    gpointer wtag;
    GIOCondition cond;
} VhFdSource;

static GIOCondition fd_source_revents(VhFdSource *src)
{
    GIOCondition rev = 0;

    if (src->rtag) {
        rev |= g_source_query_unix_fd(&src->parent, src->rtag);
    }
    if (src->wtag) {
        rev |= g_source_query_unix_fd(&src->parent, src->wtag);
    }
    return rev & (src->cond | G_IO_HUP | G_IO_ERR | G_IO_NVAL);
}

static gboolean fd_source_check(GSource *source)
{
    return fd_source_revents((VhFdSource *)source) != 0;
}

static gboolean fd_source_dispatch(GSource *source, GSourceFunc callback,
                                   gpointer opaque)
{
    VhFdSource *src = (VhFdSource *)source;
    VhChannelFunc func = (VhChannelFunc)(void (*)(void))callback;

    if (!func) {
        g_warning("watch on %s has no callback", vh_channel_get_name(src->ioc));
        return G_SOURCE_REMOVE;
    }
    return func(src->ioc, fd_source_revents(src), opaque);
}

static void fd_source_finalize(GSource *source)
{
    g_object_unref(((VhFdSource *)source)->ioc);
}

static GSourceFuncs fd_source_funcs = {
    .check = fd_source_check,
    .dispatch = fd_source_dispatch,
    .finalize = fd_source_finalize,
};

GSource *vh_channel_create_fd_pair_watch(VhChannel *ioc, int rfd, int wfd,
                                         GIOCondition cond)
{
    GSource *source = g_source_new(&fd_source_funcs, sizeof(VhFdSource));
    VhFdSource *src = (VhFdSource *)source;
    GIOCondition rcond = cond & ~G_IO_OUT;
    GIOCondition wcond = cond & G_IO_OUT;

    src->ioc = g_object_ref(ioc);
    src->cond = cond;
    if (rfd == wfd && rfd >= 0) {
        src->rtag = g_source_add_unix_fd(source, rfd, cond);
        return source;
    }
    /*
     * Poll only the fd of a direction being watched: the other one may be
     * closed (half-shut pipes) while this source lives.
     */
    if (rfd >= 0 && rcond) {
        src->rtag = g_source_add_unix_fd(source, rfd, rcond);
    }
    if (wfd >= 0 && wcond) {
        src->wtag = g_source_add_unix_fd(source, wfd, wcond);
    }
    return source;
}

GSource *vh_channel_create_fd_watch(VhChannel *ioc, int fd, GIOCondition cond)
{
    return vh_channel_create_fd_pair_watch(ioc, fd, fd, cond);
}
