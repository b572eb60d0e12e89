/*
 * The channel conformance harness: one set of GTest cases that every
 * channel type must pass, run over a connected pair the caller provides.
 *
 *     static bool make_pair(VhChannel **writer, VhChannel **reader,
 *                           gpointer opaque, GError **errp)
 *     {
 *         VhChannelSocket *a, *b;
 *         if (!vh_channel_socket_pair(&a, &b, errp)) {
 *             return false;
 *         }
 *         *writer = VH_CHANNEL(a);
 *         *reader = VH_CHANNEL(b);
 *         return true;
 *     }
 *
 *     int main(int argc, char **argv)
 *     {
 *         g_test_init(&argc, &argv, NULL);
 *         vh_channel_conformance_add("/io/channel/socket/unix", make_pair,
 *                                    NULL, VH_CONFORMANCE_BIDIRECTIONAL);
 *         return g_test_run();
 *     }
 *
 * The factory is called once per case. It returns two connected, blocking
 * channels (transfer full): bytes written to *writer arrive at *reader.
 * They may be one object (a command running `cat`, which echoes its stdin
 * to its stdout), returned with two references: the harness then ends the
 * writer's direction with vh_channel_shutdown(WRITE) (the type must have
 * VH_CHANNEL_FEATURE_SHUTDOWN) instead of closing it. Otherwise "the writer
 * finishes" means vh_channel_close(writer), which must make the reader see EOF.
 * A TLS factory returns channels whose handshake is complete.
 *
 * The factory returns false with *errp set to fail the case, or with
 * G_IO_ERROR_NOT_SUPPORTED to skip it visibly (e.g. no IPv6 on the host).
 * @opaque must stay valid until g_test_run() returns.
 *
 * Cases registered under @prefix:
 *   bulk-blocking      8 MiB of random bytes in random iovecs (zero-length
 *                      entries included), writer in a thread, then EOF
 *   bulk-nonblocking   the same with both ends non-blocking, driven by
 *                      watches on one GMainContext; callbacks counted
 *   all-nonblocking    the *_all helpers on non-blocking channels
 *   eof                EOF after the writer finishes, repeatedly
 *   shutdown           shutdown(WRITE) gives EOF at the reader while the
 *                      reader can still write back (needs the SHUTDOWN
 *                      feature on the writer and BIDIRECTIONAL; else skip)
 *   watch              G_IO_IN fires only once data arrives; G_IO_OUT fires
 *                      on a writable channel
 *   closed             I/O after close fails with G_IO_ERROR_CLOSED
 */
#pragma once

#include "vmhost/io/channel.h"

typedef bool (*VhChannelPairFactory)(VhChannel **writer, VhChannel **reader,
                                     gpointer opaque, GError **errp);

typedef enum {
    VH_CONFORMANCE_DEFAULT = 0,
    /* The reader can write to the writer (sockets, TLS), not pipes. */
    VH_CONFORMANCE_BIDIRECTIONAL = 1 << 0,
    /* Bulk cases move 1 MiB instead of 8 MiB (slow transports). */
    VH_CONFORMANCE_SMALL = 1 << 1,
} VhConformanceFlags;

void vh_channel_conformance_add(const char *prefix,
                                VhChannelPairFactory factory, gpointer opaque,
                                VhConformanceFlags flags);
