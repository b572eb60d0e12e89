/*
 * VhChannelFile: a channel over a file, pipe, FIFO or character device fd.
 *
 *     g_autoptr(VhChannelFile) f = vh_channel_file_new_path(
 *         "/var/log/vm.log", O_WRONLY | O_CREAT | O_APPEND, 0600, errp);
 *     if (!f || !vh_channel_write_all(VH_CHANNEL(f), line, len, errp)) {
 *         return false;
 *     }
 *
 * Seekable fds (lseek works: regular files, block devices) get
 * VH_CHANNEL_FEATURE_SEEK. Watches on a regular file are always ready, since
 * reads and writes on one never wait; on anything else (pipes, ttys) they
 * poll the fd. Errors name the path ("Failed to open /x: No such file or
 * directory"), or "fd N" for an adopted fd. Writes on a pipe whose reader
 * is gone fail with G_IO_ERROR_BROKEN_PIPE and never raise SIGPIPE.
 *
 * Ownership: the channel owns its fd and closes it on vh_channel_close() or
 * the last unref.
 */
#pragma once

#include <fcntl.h>
#include <sys/types.h>

#include "vmhost/io/channel.h"

G_BEGIN_DECLS

#define VH_TYPE_CHANNEL_FILE (vh_channel_file_get_type())
G_DECLARE_FINAL_TYPE(VhChannelFile, vh_channel_file, VH, CHANNEL_FILE,
                     VhChannel)

/*
 * open(2) @path with @flags (O_CLOEXEC is always added) and @mode (used
 * with O_CREAT). O_NONBLOCK in @flags gives a non-blocking channel.
 */
G_GNUC_WARN_UNUSED_RESULT
VhChannelFile *vh_channel_file_new_path(const char *path, int flags,
                                        mode_t mode, GError **errp);

/* Adopt @fd (the channel takes ownership). */
VhChannelFile *vh_channel_file_new_fd(int fd);

/* The fd (still owned by the channel), or -1 once closed. */
int vh_channel_file_get_fd(VhChannelFile *f);

G_END_DECLS
