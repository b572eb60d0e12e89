/*
 * VhChannel: the abstract, stackable I/O channel every vmhost service uses.
 *
 * A channel moves bytes (and, where the transport allows, file descriptors)
 * with vectored reads and writes, can be blocking or non-blocking, and gives
 * a GSource that fires when it is ready on any GMainContext. Channel types:
 * socket, file, command, buffer, null, and tls, which wraps any other channel.
 *
 * Usage, a blocking echo of one message:
 *
 *     g_autoptr(VhChannelSocket) sock = vh_channel_socket_new();
 *     if (!vh_channel_socket_connect_sync(sock, addr, errp)) {
 *         return false;
 *     }
 *     VhChannel *ioc = VH_CHANNEL(sock);
 *     if (!vh_channel_write_all(ioc, "ping\n", 5, errp)) {
 *         return false;
 *     }
 *     char buf[5];
 *     return vh_channel_read_all(ioc, buf, sizeof(buf), errp) == 1;
 *
 * Return conventions for the primitive I/O calls:
 *   > 0  bytes transferred
 *   0    end of file (reads only)
 *   VH_CHANNEL_ERR_BLOCK (-2)  would block; the error is NOT set
 *   -1   failure; *errp is set
 * Would-block is only ever returned by a non-blocking channel. The *_all
 * helpers never return it: on a non-blocking channel they wait for readiness
 * in a nested main loop, so they may be called from any thread but must not
 * be relied on for latency inside a busy main loop.
 *
 * Ownership: a channel that wraps another (tls) holds a reference on it.
 * Closing a channel closes what it owns; unreferencing the last reference
 * closes it too.
 */
#pragma once

#include <gio/gio.h>
#include <stdbool.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "vmhost/util/error.h"

G_BEGIN_DECLS

#define VH_CHANNEL_ERR_BLOCK (-2)

typedef enum {
    VH_CHANNEL_FEATURE_FD_PASS = 1 << 0,  /* readv/writev carry fds */
    VH_CHANNEL_FEATURE_SHUTDOWN = 1 << 1, /* half-close supported */
    VH_CHANNEL_FEATURE_LISTEN = 1 << 2,   /* a listening socket */
    VH_CHANNEL_FEATURE_SEEK = 1 << 3,     /* seek supported */
} VhChannelFeature;

typedef enum {
    VH_CHANNEL_SHUTDOWN_READ = 1,
    VH_CHANNEL_SHUTDOWN_WRITE = 2,
    VH_CHANNEL_SHUTDOWN_BOTH = 3,
} VhChannelShutdown;

#define VH_TYPE_CHANNEL (vh_channel_get_type())
G_DECLARE_DERIVABLE_TYPE(VhChannel, vh_channel, VH, CHANNEL, GObject)

/**
 * VhChannelFunc:
 * A watch callback: @cond holds the conditions that are ready. Return
 * G_SOURCE_CONTINUE to keep watching, G_SOURCE_REMOVE to stop.
 */
typedef gboolean (*VhChannelFunc)(VhChannel *ioc, GIOCondition cond,
                                  gpointer opaque);

struct _VhChannelClass {
    GObjectClass parent_class;

    /*
     * Mandatory. Read into @iov. When @fds is non-NULL the channel has
     * VH_CHANNEL_FEATURE_FD_PASS and may return received descriptors in a
     * newly allocated array (transfer full: the caller closes each fd and
     * g_free()s the array); *nfds is set to their count (0 when none).
     */
    gssize (*readv)(VhChannel *ioc, const struct iovec *iov, size_t niov,
                    int **fds, size_t *nfds, GError **errp);
    /* Mandatory. Write @iov; @fds only with VH_CHANNEL_FEATURE_FD_PASS. */
    gssize (*writev)(VhChannel *ioc, const struct iovec *iov, size_t niov,
                     const int *fds, size_t nfds, GError **errp);
    /* Mandatory. Release the OS resources; called at most once. */
    bool (*close)(VhChannel *ioc, GError **errp);
    /*
     * Mandatory. A new GSource that dispatches a VhChannelFunc when any of
     * @cond is ready (G_IO_HUP and G_IO_ERR are always reported).
     */
    GSource *(*create_watch)(VhChannel *ioc, GIOCondition cond);
    /* Mandatory. Switch between blocking and non-blocking I/O. */
    bool (*set_blocking)(VhChannel *ioc, bool enabled, GError **errp);

    /* Optional (VH_CHANNEL_FEATURE_SHUTDOWN). Half-close. */
    bool (*shutdown)(VhChannel *ioc, VhChannelShutdown how, GError **errp);
    /* Optional. Hold back small writes until uncorked (TCP_CORK). */
    void (*set_cork)(VhChannel *ioc, bool enabled);
    /* Optional. false disables Nagle's algorithm (TCP_NODELAY). */
    void (*set_delay)(VhChannel *ioc, bool enabled);
    /* Optional (VH_CHANNEL_FEATURE_SEEK). Like lseek(2). */
    off_t (*seek)(VhChannel *ioc, off_t offset, int whence, GError **errp);
    /*
     * Optional, for a channel that reads ahead from its transport (TLS):
     * the bytes it holds, which a read returns without touching the
     * transport. 0 means the next read goes to the transport.
     */
    gsize (*get_read_ahead)(VhChannel *ioc);

    gpointer padding[7];
};

/* Feature flags. set_feature is for channel implementations. */
bool vh_channel_has_feature(VhChannel *ioc, VhChannelFeature feature);
void vh_channel_set_feature(VhChannel *ioc, VhChannelFeature feature);

/*
 * A name for messages and debugging ("chardev s0", "migration main"). The
 * default is the type name.
 */
void vh_channel_set_name(VhChannel *ioc, const char *name);
const char *vh_channel_get_name(VhChannel *ioc);

bool vh_channel_is_closed(VhChannel *ioc);
bool vh_channel_get_blocking(VhChannel *ioc);

/* Primitive I/O: see the return conventions above. */
G_GNUC_WARN_UNUSED_RESULT
gssize vh_channel_readv_full(VhChannel *ioc, const struct iovec *iov,
                             size_t niov, int **fds, size_t *nfds,
                             GError **errp);
G_GNUC_WARN_UNUSED_RESULT
gssize vh_channel_writev_full(VhChannel *ioc, const struct iovec *iov,
                              size_t niov, const int *fds, size_t nfds,
                              GError **errp);
G_GNUC_WARN_UNUSED_RESULT
gssize vh_channel_readv(VhChannel *ioc, const struct iovec *iov, size_t niov,
                        GError **errp);
G_GNUC_WARN_UNUSED_RESULT
gssize vh_channel_writev(VhChannel *ioc, const struct iovec *iov, size_t niov,
                         GError **errp);
G_GNUC_WARN_UNUSED_RESULT
gssize vh_channel_read(VhChannel *ioc, void *buf, size_t len, GError **errp);
G_GNUC_WARN_UNUSED_RESULT
gssize vh_channel_write(VhChannel *ioc, const void *buf, size_t len,
                        GError **errp);

/*
 * Read exactly the bytes @iov describes, waiting as needed.
 * Returns 1 when all were read, 0 on EOF before the first byte, -1 on error
 * (including EOF part-way, reported as G_IO_ERROR_PARTIAL_INPUT).
 */
G_GNUC_WARN_UNUSED_RESULT
int vh_channel_readv_all_eof(VhChannel *ioc, const struct iovec *iov,
                             size_t niov, GError **errp);
/* As readv_all_eof, but EOF before the first byte is an error too. */
G_GNUC_WARN_UNUSED_RESULT
bool vh_channel_readv_all(VhChannel *ioc, const struct iovec *iov, size_t niov,
                          GError **errp);
G_GNUC_WARN_UNUSED_RESULT
int vh_channel_read_all_eof(VhChannel *ioc, void *buf, size_t len,
                            GError **errp);
G_GNUC_WARN_UNUSED_RESULT
bool vh_channel_read_all(VhChannel *ioc, void *buf, size_t len, GError **errp);

/* Write all of @iov (and @fds with the first byte), waiting as needed. */
G_GNUC_WARN_UNUSED_RESULT
bool vh_channel_writev_full_all(VhChannel *ioc, const struct iovec *iov,
                                size_t niov, const int *fds, size_t nfds,
                                GError **errp);
G_GNUC_WARN_UNUSED_RESULT
bool vh_channel_writev_all(VhChannel *ioc, const struct iovec *iov, size_t niov,
                           GError **errp);
G_GNUC_WARN_UNUSED_RESULT
bool vh_channel_write_all(VhChannel *ioc, const void *buf, size_t len,
                          GError **errp);

/*
 * Close the channel. Further I/O fails with G_IO_ERROR_CLOSED; closing
 * twice is harmless and returns true.
 */
bool vh_channel_close(VhChannel *ioc, GError **errp);
/* Fails with VH_ERROR_NOT_SUPPORTED without VH_CHANNEL_FEATURE_SHUTDOWN. */
G_GNUC_WARN_UNUSED_RESULT
bool vh_channel_shutdown(VhChannel *ioc, VhChannelShutdown how, GError **errp);
G_GNUC_WARN_UNUSED_RESULT
bool vh_channel_set_blocking(VhChannel *ioc, bool enabled, GError **errp);
/* No-ops on channels that lack them. */
void vh_channel_set_cork(VhChannel *ioc, bool enabled);
void vh_channel_set_delay(VhChannel *ioc, bool enabled);
/*
 * What a channel that reads ahead holds (see get_read_ahead), or -1 for a
 * channel that does not read ahead, whose every read may find more data in
 * its transport. A reader that has what it needed and gets 0 may return to
 * its watch instead of reading on to would-block: the watch reports what
 * comes next.
 */
gssize vh_channel_get_read_ahead(VhChannel *ioc);
/* Fails with VH_ERROR_NOT_SUPPORTED without VH_CHANNEL_FEATURE_SEEK. */
G_GNUC_WARN_UNUSED_RESULT
off_t vh_channel_seek(VhChannel *ioc, off_t offset, int whence, GError **errp);

/* A new GSource (transfer full); set its callback with g_source_set_callback
 * and a VhChannelFunc cast to GSourceFunc. */
GSource *vh_channel_create_watch(VhChannel *ioc, GIOCondition cond);
/*
 * Watch @ioc on @context (NULL: the global default context); returns the
 * source id in that context. @notify frees @opaque when the watch ends.
 */
guint vh_channel_add_watch(VhChannel *ioc, GIOCondition cond,
                           VhChannelFunc func, gpointer opaque,
                           GDestroyNotify notify, GMainContext *context);

/*
 * Block until @cond is ready, in a private nested main loop. This is what
 * the *_all helpers use on a non-blocking channel.
 */
void vh_channel_wait(VhChannel *ioc, GIOCondition cond);

/*
 * A GSource that watches a plain fd (G_IO_IN/G_IO_OUT/...) and dispatches a
 * VhChannelFunc for @ioc. Channel types built on an fd use this for their
 * create_watch.
 */
GSource *vh_channel_create_fd_watch(VhChannel *ioc, int fd, GIOCondition cond);
/* The same for a pair of fds: @rfd is polled for reads, @wfd for writes. */
GSource *vh_channel_create_fd_pair_watch(VhChannel *ioc, int rfd, int wfd,
                                         GIOCondition cond);

G_END_DECLS
