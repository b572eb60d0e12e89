/*
 * Helpers shared by the channel types: fd I/O with the channel return
 * conventions, errno-based errors, and the always-ready watch.
 */
#include "channel-internal.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>

size_t vh_iov_clamp(size_t niov)
{
    return MIN(niov, (size_t)IOV_MAX);
}

gssize vh_fd_readv(int fd, const struct iovec *iov, size_t niov,
                   const char *what, GError **errp)
{
    ssize_t n;

    do {
        n = readv(fd, iov, (int)vh_iov_clamp(niov));
    } while (n < 0 && errno == EINTR);
    if (n >= 0) {
        return n;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
        return VH_CHANNEL_ERR_BLOCK;
    }
    vh_set_error_errno(errp, errno, "Failed to read from %s", what);
    return -1;
}

/*
 * SIGPIPE is blocked around the write and a SIGPIPE the write raised is
 * consumed, so that a library call never kills a program that did not
 * ignore the signal.
 */
gssize vh_fd_writev(int fd, const struct iovec *iov, size_t niov,
                    const char *what, GError **errp)
{
    sigset_t pipe_set, old_set, pending;
    bool was_pending;
    ssize_t n;
    int saved;

    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old_set);
    sigpending(&pending);
    was_pending = sigismember(&pending, SIGPIPE);

    do {
        n = writev(fd, iov, (int)vh_iov_clamp(niov));
    } while (n < 0 && errno == EINTR);
    saved = errno;

    if (n < 0 && saved == EPIPE && !was_pending) {
        static const struct timespec zero = {0, 0};
        while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR) {
        }
    }
    pthread_sigmask(SIG_SETMASK, &old_set, NULL);

    if (n >= 0) {
        return n;
    }
    if (saved == EAGAIN || saved == EWOULDBLOCK) {
        return VH_CHANNEL_ERR_BLOCK;
    }
    vh_set_error_errno(errp, saved, "Failed to write to %s", what);
    return -1;
}

typedef struct {
    GSource parent;
    VhChannel *ioc;
    GIOCondition cond;
    VhReadyFunc ready;
} VhReadySource;

static GIOCondition ready_source_revents(VhReadySource *src)
{
    return src->ready(src->ioc) & (src->cond | G_IO_HUP | G_IO_ERR | G_IO_NVAL);
}

static gboolean ready_source_prepare(GSource *source, gint *timeout)
{
    *timeout = -1;
    return ready_source_revents((VhReadySource *)source) != 0;
}

static gboolean ready_source_check(GSource *source)
{
    return ready_source_revents((VhReadySource *)source) != 0;
}

static gboolean ready_source_dispatch(GSource *source, GSourceFunc callback,
                                      gpointer opaque)
{
    VhReadySource *src = (VhReadySource *)source;
    VhChannelFunc func = (VhChannelFunc)(void (*)(void))callback;

    if (!func) {
        g_warning("watch on %s has no callback", vh_channel_get_name(src->ioc));
        return G_SOURCE_REMOVE;
    }
    return func(src->ioc, ready_source_revents(src), opaque);
}

static void ready_source_finalize(GSource *source)
{
    g_object_unref(((VhReadySource *)source)->ioc);
}

static GSourceFuncs ready_source_funcs = {
    .prepare = ready_source_prepare,
    .check = ready_source_check,
    .dispatch = ready_source_dispatch,
    .finalize = ready_source_finalize,
};

GSource *vh_channel_create_ready_watch(VhChannel *ioc, GIOCondition cond,
                                       VhReadyFunc ready)
{
    GSource *source = g_source_new(&ready_source_funcs, sizeof(VhReadySource));
    VhReadySource *src = (VhReadySource *)source;

    src->ioc = g_object_ref(ioc);
    src->cond = cond;
    src->ready = ready;
    return source;
}

typedef struct {
    GSource source;
    GCancellable *cancellable;
} CancelSource;

static gboolean cancel_source_check(GSource *source)
{
    return g_cancellable_is_cancelled(((CancelSource *)source)->cancellable);
}

static gboolean cancel_source_prepare(GSource *source, gint *timeout)
{
    *timeout = -1;
    return cancel_source_check(source);
}

static gboolean cancel_source_dispatch(GSource *source, GSourceFunc callback,
                                       gpointer opaque)
{
    GCancellableSourceFunc func =
        (GCancellableSourceFunc)(void (*)(void))callback;

    return func ? func(((CancelSource *)source)->cancellable, opaque)
                : G_SOURCE_REMOVE;
}

static void cancel_source_finalize(GSource *source)
{
    CancelSource *cs = (CancelSource *)source;

    g_cancellable_release_fd(cs->cancellable);
    g_object_unref(cs->cancellable);
}

static GSourceFuncs cancel_source_funcs = {
    .prepare = cancel_source_prepare,
    .check = cancel_source_check,
    .dispatch = cancel_source_dispatch,
    .finalize = cancel_source_finalize,
};

GSource *vh_cancel_source_new(GCancellable *c)
{
    GPollFD pfd;

    if (!g_cancellable_make_pollfd(c, &pfd)) {
        return g_cancellable_source_new(c);
    }
    GSource *source = g_source_new(&cancel_source_funcs, sizeof(CancelSource));
    CancelSource *cs = (CancelSource *)source;

    cs->cancellable = g_object_ref(c);
    g_source_set_static_name(source, "vh-cancel");
    g_source_add_unix_fd(source, pfd.fd, G_IO_IN);
    return source;
}
