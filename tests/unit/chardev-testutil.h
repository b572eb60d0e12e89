/*
 * Test helpers for chardevs made from -chardev option strings.
 *
 *     g_autoptr(VhChardev) chr = vh_test_chardev_new_ok("null,id=n0");
 *     vh_test_chardev_expect_error("null", "parameter 'id' is required");
 *
 * and for tests that run chardevs on the default main context: waiting
 * while iterating it, loopback TCP sockets, and a socket chardev on one end
 * of a socketpair with the test as the peer at the other end.
 */
#pragma once

#include "vmhost/chardev/chardev-opts.h"
#include "vmhost/io/channel-socket.h"

/* The chardev for @str (transfer full), or NULL with *errp set. */
VhChardev *vh_test_chardev_new(const char *str, GError **errp);
/* The chardev for @str (transfer full); the test fails on an error. */
VhChardev *vh_test_chardev_new_ok(const char *str);
/* Creating @str must fail with an error containing @message. */
void vh_test_chardev_expect_error(const char *str, const char *message);

/* How long VH_TEST_WAIT_UNTIL waits before the test fails. */
#define VH_TEST_WAIT_US (15 * G_USEC_PER_SEC)

/*
 * Iterate the default main context until @expr holds; the test fails,
 * naming @expr, after VH_TEST_WAIT_US. A 10 ms timer keeps the loop waking
 * up for conditions no source signals.
 */
#define VH_TEST_WAIT_UNTIL(expr)                                               \
    do {                                                                       \
        gint64 deadline_ = g_get_monotonic_time() + VH_TEST_WAIT_US;           \
        guint tick_ = vh_test_ticker_add();                                    \
        while (!(expr)) {                                                      \
            if (g_get_monotonic_time() > deadline_) {                          \
                g_error("timed out waiting for %s", #expr);                    \
            }                                                                  \
            g_main_context_iteration(NULL, TRUE);                              \
        }                                                                      \
        g_source_remove(tick_);                                                \
    } while (0)

/* A 10 ms timer on the default main context that does nothing (its id). */
guint vh_test_ticker_add(void);
/* Iterate the default main context (without blocking) for @ms. */
void vh_test_spin(guint ms);

/* A TCP socket listening on 127.0.0.1 at a free port (*port). */
int vh_test_tcp_listen(guint16 *port);
/* A TCP socket connected to 127.0.0.1:@port. */
int vh_test_tcp_connect(guint16 port);

/*
 * A socket chardev @id (not registered; transfer full) on one end of a
 * socketpair; *peer (transfer full) is the other end, non-blocking, for
 * the test to play the remote peer.
 */
VhChardev *vh_test_chardev_socketpair(const char *id, VhChannelSocket **peer);
/* All @len bytes of @buf to @peer; the test fails on an error. */
void vh_test_peer_write(VhChannelSocket *peer, const void *buf, size_t len);
