/*
 * Helpers for struct iovec arrays, shared by the channel and TLS layers.
 *
 *     size_t want = vh_iov_size(iov, niov);
 */
#pragma once

#include <stddef.h>
#include <sys/uio.h>

/* The number of bytes @iov describes. */
size_t vh_iov_size(const struct iovec *iov, size_t niov);
