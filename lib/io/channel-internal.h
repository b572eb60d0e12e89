/*
 * Private helpers shared by the fd-based channel types (socket, file,
 * command) and the in-memory ones (buffer, null). Not installed.
 */
#pragma once

#include "vmhost/io/channel.h"

G_BEGIN_DECLS

/*
 * readv(2)/writev(2) on a plain fd with the channel return conventions:
 * EINTR is retried, EAGAIN gives VH_CHANNEL_ERR_BLOCK, other failures set
 * a G_IO_ERROR whose message names @what ("file /tmp/x", "command 'cat'").
 * Writes never raise SIGPIPE: a closed pipe is G_IO_ERROR_BROKEN_PIPE.
 */
gssize vh_fd_readv(int fd, const struct iovec *iov, size_t niov,
                   const char *what, GError **errp);
gssize vh_fd_writev(int fd, const struct iovec *iov, size_t niov,
                    const char *what, GError **errp);

/* vh_set_error_errno() is in vmhost/util/error.h. */

/* iovec arrays longer than IOV_MAX are transferred in several calls. */
size_t vh_iov_clamp(size_t niov);

/*
 * A GSource for channels that never wait (buffer, null, regular files): it
 * dispatches on every main-loop iteration where @ready(@ioc) intersects the
 * watched conditions. @ready must be cheap and must not block.
 */
typedef GIOCondition (*VhReadyFunc)(VhChannel *ioc);
GSource *vh_channel_create_ready_watch(VhChannel *ioc, GIOCondition cond,
                                       VhReadyFunc ready);

/*
 * A GSource that dispatches once @c is cancelled; the callback is a
 * GCancellableSourceFunc. Unlike g_cancellable_source_new() it runs no
 * handler in the cancelling thread (cancelling only makes the
 * cancellable's fd readable), so a cancel from another thread cannot race
 * the waiting thread destroying the source: with GLib 2.74 that race
 * leaked the source now and then (LeakSanitizer, migrate_cancel during a
 * TLS handshake). Falls back to g_cancellable_source_new() when no fd can
 * be made.
 */
GSource *vh_cancel_source_new(GCancellable *c);

G_END_DECLS
