/*
 * Migration transports: QEMU's migration URIs turned into channels.
 *
 * Source:
 *
 *     VhMigUri u;
 *     if (!vh_mig_uri_parse("tcp:target.example:9000", &u, errp)) {
 *         return false;
 *     }
 *     VhMigTls tls = { .creds = creds, .hostname = NULL };
 *     VhChannel *ch = vh_mig_connect(&u, &tls, NULL, NULL, cancel, errp);
 *     vh_mig_uri_clear(&u);
 *     // blocking writes of the stream, then vh_channel_close(ch, ...)
 *
 * Target:
 *
 *     VhMigListener *l = vh_mig_listen(&u, &tls, lookup, mon, ctx,
 *                                      on_channel, state, errp);
 *     // on_channel(ch, NULL, state) for each connection that passed the
 *     // TLS handshake and tls-authz, on @ctx; (NULL, err, state) for each
 *     // one that did not, and the listener keeps serving.
 *
 * URIs (QEMU's spelling):
 *   tcp:HOST:PORT       HOST a name, an IPv4 address or [IPv6]
 *   unix:PATH
 *   fd:NAME             an fd passed earlier with getfd NAME
 *   exec:CMD            /bin/sh -c CMD; the source writes its stdin, the
 *                       target reads its stdout
 *   file:PATH[,offset=N] the source writes PATH from byte N (created or
 *                       truncated there), the target reads it from byte N;
 *                       N takes the size suffixes K, M, G, ... (bytes by
 *                       default)
 *
 * TLS: on iff VhMigTls.creds is set, on every connection, each with its own
 * handshake. The client checks the server's certificate against
 * VhMigTls.hostname, else the host of a tcp: URI; unix:, fd: and exec:
 * without a hostname are refused before connecting when the credentials
 * are x509 ones that verify the peer (PSK and anon have no certificate to
 * check). file: cannot carry TLS (there is no peer) and is refused with
 * TLS. The server applies the authz object VhMigTls.authzid (looked up
 * at each handshake) to the peer's identity: the distinguished name of its
 * x509 certificate, or the PSK username; a client without one is denied
 * (the rule of every TLS listener, tls-accept.h).
 *
 * The server runs the handshakes of all connections at once, each given
 * VhMigTls.handshake_timeout_ms (default VH_MIG_HANDSHAKE_TIMEOUT_MS) on
 * tcp: and unix: (fd: and exec: have one
 * connection and no limit: their source may start any time), and refuses
 * connections beyond VH_MIG_MAX_PENDING_HANDSHAKES in their handshake
 * (each refusal reaches the accept callback with its reason).
 *
 * Every channel returned or delivered is blocking (the migration threads
 * read and write it synchronously; a blocking TLS channel batches records)
 * and is owned by the receiver (g_object_unref when done).
 */
#pragma once

#include <gio/gio.h>
#include <stdbool.h>

#include "vmhost/crypto/tls-creds.h"
#include "vmhost/io/channel.h"

G_BEGIN_DECLS

/* How long a migration client may take for its TLS handshake (tcp:, unix:). */
#define VH_MIG_HANDSHAKE_TIMEOUT_MS 10000
/*
 * TLS handshakes a target runs at once: a source opens at most
 * 1 + VH_MIG_MAX_CHANNELS connections; the rest of the room is for a
 * retrying source beside clients that stall.
 */
#define VH_MIG_MAX_PENDING_HANDSHAKES 64

typedef enum {
    VH_MIG_URI_TCP,
    VH_MIG_URI_UNIX,
    VH_MIG_URI_FD,
    VH_MIG_URI_EXEC,
    VH_MIG_URI_FILE,
} VhMigUriKind;

/* A parsed URI; only the fields of its kind are set, the others are NULL/0. */
typedef struct {
    VhMigUriKind kind;
    char *host;     /* tcp: name or address, without [] for IPv6 */
    char *port;     /* tcp: service, as given */
    char *path;     /* unix:, file: */
    char *fdname;   /* fd: */
    char *command;  /* exec: */
    guint64 offset; /* file: */
} VhMigUri;

/*
 * Parse @uri into @out (to be released with vh_mig_uri_clear()). On error
 * @out is left cleared and the message names the URI and the faulty part.
 */
G_GNUC_WARN_UNUSED_RESULT
bool vh_mig_uri_parse(const char *uri, VhMigUri *out, GError **errp);

/* Free the strings of @u and zero it; safe on a cleared VhMigUri. */
void vh_mig_uri_clear(VhMigUri *u);

/* Whether a target accepts more than one connection: tcp:, unix:. */
bool vh_mig_uri_supports_multiple(const VhMigUri *u);

typedef struct {
    VhTlsCreds *creds;          /* NULL = no TLS */
    const char *hostname;       /* tls-hostname parameter, may be NULL */
    const char *authzid;        /* target: tls-authz, an object id, or NULL */
    guint handshake_timeout_ms; /* target, tcp:/unix:; 0: the default */
} VhMigTls;

/*
 * fd: URIs: return the named fd, taking ownership of it from the monitor's
 * table (the transport closes it), or -1 with @errp set.
 */
typedef int (*VhMigFdLookup)(const char *name, GError **errp, void *opaque);

/*
 * Source: one outgoing connection, blocking, in the calling thread; the TLS
 * handshake (client side; hostname = tls->hostname, else the tcp host; fd:/
 * exec:/unix: with TLS and no hostname fail with a clear message) is done
 * when it returns. exec: runs "sh -c CMD" writing to its stdin. file: opens
 * PATH for writing at offset. @tls and @fdl may be NULL; @c may be NULL and
 * cancels the connect and the handshake. Returns a blocking channel
 * (transfer full) or NULL with @errp set.
 */
G_GNUC_WARN_UNUSED_RESULT
VhChannel *vh_mig_connect(const VhMigUri *u, const VhMigTls *tls,
                          VhMigFdLookup fdl, void *fdl_opaque, GCancellable *c,
                          GError **errp);

/*
 * Called on the listener's GMainContext with a new established channel
 * (transfer full: @ch is the callee's) and @err NULL, or with @ch NULL and
 * @err saying why one connection failed (its handshake, authz, ...).
 */
typedef void (*VhMigAcceptFunc)(VhChannel *ch, const GError *err, void *opaque);

typedef struct VhMigListener VhMigListener;

/*
 * Target: accept connections. tcp:/unix:: a listener kept until freed, any
 * number of connections. fd:/exec:/file:: exactly one channel (exec: runs
 * CMD reading its stdout, file: reads PATH from offset, fd: takes the fd
 * via @fdl), delivered from @ctx once the TLS handshake, if any, is done.
 * Each established channel (TLS handshake and authz done, on the
 * GMainContext @ctx, NULL = the global default) is passed to @cb; failures
 * of one connection are passed as (NULL, error) and the listener keeps
 * going. @cb is never called after vh_mig_listener_free(). Returns NULL with
 * @errp set when the listening itself fails (bind, unknown fd, ...).
 * @tls is copied (with references on its objects).
 */
G_GNUC_WARN_UNUSED_RESULT
VhMigListener *vh_mig_listen(const VhMigUri *u, const VhMigTls *tls,
                             VhMigFdLookup fdl, void *fdl_opaque,
                             GMainContext *ctx, VhMigAcceptFunc cb,
                             void *opaque, GError **errp);

/*
 * The actual address as a URI (transfer full): "tcp:127.0.0.1:41234" with
 * the bound port (the first one if HOST resolved to several), "tcp:[::1]:P",
 * "unix:PATH", or the URI as given for fd:/exec:/file:.
 */
char *vh_mig_listener_describe(VhMigListener *l);

/* Stops listening, aborts handshakes in progress. NULL is allowed. */
void vh_mig_listener_free(VhMigListener *l);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(VhMigListener, vh_mig_listener_free)

G_END_DECLS
