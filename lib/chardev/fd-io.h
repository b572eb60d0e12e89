/*
 * The byte pump the fd-based backends (stdio, pty, pipe, serial) share:
 * non-blocking reads gated by the frontend's can_read, non-blocking writes
 * with a bounded output buffer. Owned by the backend, which calls it from
 * its chardev's context only.
 */
#pragma once

#include "chardev-internal.h"

/* Output the fd does not take at once is buffered up to this, then dropped. */
#define VH_FD_IO_OUTBUF_MAX (64 * 1024)

typedef struct VhFdIo VhFdIo;

/*
 * Reading hit EOF (@err 0) or failed (@err an errno); reading has
 * stopped. The backend decides what that means (stdio: no more input;
 * pty: the peer left).
 */
typedef void (*VhFdIoEofFunc)(VhChardev *chr, int err);

/*
 * Pump between @chr's frontend and @in_fd / @out_fd (may be equal; -1 for
 * none), both made non-blocking. With @own_fds they are closed by
 * vh_fd_io_free; the previous O_NONBLOCK state is restored either way.
 */
VhFdIo *vh_fd_io_new(VhChardev *chr, int in_fd, int out_fd, bool own_fds,
                     VhFdIoEofFunc on_eof);
void vh_fd_io_free(VhFdIo *io);

/* Reading is off until started. */
void vh_fd_io_start_reading(VhFdIo *io);
void vh_fd_io_stop_reading(VhFdIo *io);
/* The frontend's can_read may have changed. */
void vh_fd_io_update_read(VhFdIo *io);

/* Bytes taken (written or buffered); the rest is dropped and recorded. */
size_t vh_fd_io_write(VhFdIo *io, const guint8 *buf, size_t len);
/* Forget buffered output (the peer went away). */
void vh_fd_io_discard_output(VhFdIo *io);
