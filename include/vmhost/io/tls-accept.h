/*
 * VhTlsAccept: the server side of TLS for a listener. Every accepted
 * connection runs its handshake at once, concurrently with the others, each
 * with its own timeout; at most max_pending run at a time, and a connection
 * beyond that is closed at once (the caller logs why). A client that stalls in
 * its handshake therefore costs one slot for one timeout, and delays nobody.
 *
 *     static void on_tls(VhChannelTls *tls, const char *peer,
 *                        const GError *err, gpointer opaque)
 *     {
 *         if (!tls) {
 *             g_message("%s", err->message);    // refused, timed out
 *             return;
 *         }
 *         start_session(opaque, tls);           // takes ownership
 *     }
 *
 *     VhTlsAcceptOptions o = {.creds = creds, .what = "chardev s0",
 *                             .timeout_ms = 10000,
 *                             .max_pending = VH_TLS_ACCEPT_MAX_PENDING};
 *     VhTlsAccept *a = vh_tls_accept_new(&o, on_tls, server, NULL);
 *     ...
 *     // in the listener's client callback:
 *     if (!vh_tls_accept_add(a, VH_CHANNEL(client), peer, &err)) {
 *         g_warning("%s", err->message);   // over the cap
 *     }
 *     ...
 *     vh_tls_accept_free(a);   // cuts what is still pending
 *
 * Everything runs on the context given in the options (the thread-default
 * context, or the global default, when NULL); the callback too.
 * vh_tls_accept_free() may be called from another thread.
 */
#pragma once

#include "vmhost/io/channel-tls.h"

G_BEGIN_DECLS

/*
 * The default bound on handshakes in progress: like a listen backlog, but
 * for connections already accepted. Above the 17 connections of a
 * migration with the most multifd channels, and above the handful of
 * clients that may race for a chardev.
 */
#define VH_TLS_ACCEPT_MAX_PENDING 64u

typedef struct VhTlsAccept VhTlsAccept;

typedef struct {
    VhTlsCreds *creds; /* server credentials (required) */
    /*
     * An authz object for the peer's identity, or NULL. The one authz rule
     * of every TLS listener: the identity the session authenticated (a
     * verified certificate's DN, a PSK username) must be allowed by it
     * (checked when the handshake completes, tls-session.h), and a client
     * without one is denied: with anonymous credentials, or x509 ones with
     * verify-peer=off, every client (vh_tls_accept_new() warns).
     */
    const char *authzid;
    const char *what;  /* for messages: "chardev s0", "migration on ..." */
    guint timeout_ms;  /* per handshake; 0: none */
    guint max_pending; /* 0: VH_TLS_ACCEPT_MAX_PENDING */
    GMainContext *ctx; /* NULL: the thread-default context */
} VhTlsAcceptOptions;

/*
 * Called once per connection given to vh_tls_accept_add() that was not
 * refused there: with @tls (transfer full, non-blocking, handshake done),
 * or with NULL and @err (the handshake failed, timed out, or the peer was
 * denied; the connection is closed). @peer names the client. Not called
 * after vh_tls_accept_free().
 */
typedef void (*VhTlsAcceptFunc)(VhChannelTls *tls, const char *peer,
                                const GError *err, gpointer opaque);

/*
 * (transfer full) Copies what it needs from @o. @destroy (or NULL) is
 * called on @opaque when the acceptor is freed and the last handshake it
 * cut has ended.
 */
VhTlsAccept *vh_tls_accept_new(const VhTlsAcceptOptions *o, VhTlsAcceptFunc cb,
                               gpointer opaque, GDestroyNotify destroy);

/*
 * Starts the handshake on @client (a reference is taken), named @peer in
 * messages. When max_pending handshakes are already running, or the TLS
 * session cannot be set up, the client is closed, the reason set in @errp
 * (for the caller to log) and false returned; the callback is not called
 * for it.
 */
G_GNUC_WARN_UNUSED_RESULT
bool vh_tls_accept_add(VhTlsAccept *a, VhChannel *client, const char *peer,
                       GError **errp);

/* Handshakes in progress. */
guint vh_tls_accept_get_pending(VhTlsAccept *a);

/*
 * Cuts the handshakes in progress (their sockets are shut down and closed;
 * the callback is not called for them) and frees. NULL is ignored.
 */
void vh_tls_accept_free(VhTlsAccept *a);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(VhTlsAccept, vh_tls_accept_free)

G_END_DECLS
