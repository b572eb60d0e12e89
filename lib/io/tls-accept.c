/*
 * VhTlsAccept: concurrent server TLS handshakes with a timeout each and a
 * bound on how many run at once (see tls-accept.h).
 *
 * The acceptor is reference counted: each handshake in flight holds a
 * reference, so vh_tls_accept_free() only marks it closed and cuts the
 * handshakes; their completions, if the context still runs, find it closed
 * and drop their channels. The lock guards the pending list and each
 * handshake's aborted flag, which free() touches from any thread.
 */
#include "vmhost/io/tls-accept.h"

#include "vmhost/crypto/tls-creds-psk.h"
#include "vmhost/crypto/tls-creds-x509.h"
#include "vmhost/util/error.h"

struct VhTlsAccept {
    VhTlsCreds *creds;
    char *authzid;
    char *what;
    guint timeout_ms;
    guint max_pending;
    GMainContext *ctx;
    VhTlsAcceptFunc cb;
    gpointer opaque;
    GDestroyNotify destroy;

    GMutex lock;
    GPtrArray *pending; /* Hs, in the order they came */
    bool closed;
};

typedef struct {
    VhTlsAccept *a; /* a reference */
    VhChannelTls *tls;
    char *peer;
    GCancellable *cancel;
    bool aborted; /* under a->lock */
} Hs;

static VhTlsAccept *accept_ref(VhTlsAccept *a)
{
    return g_atomic_rc_box_acquire(a);
}

static void accept_clear(VhTlsAccept *a)
{
    g_ptr_array_unref(a->pending);
    g_mutex_clear(&a->lock);
    g_clear_object(&a->creds);
    g_clear_pointer(&a->ctx, g_main_context_unref);
    g_free(a->authzid);
    g_free(a->what);
    if (a->destroy) {
        a->destroy(a->opaque);
    }
}

static void accept_unref(VhTlsAccept *a)
{
    g_atomic_rc_box_release_full(a, (GDestroyNotify)accept_clear);
}

/*
 * Whether the session authenticates a client's identity, the one authz
 * judges: a verified certificate's DN, or a PSK username.
 */
static bool authenticates_clients(VhTlsCreds *creds)
{
    if (VH_IS_TLS_CREDS_X509(creds)) {
        return vh_tls_creds_get_verify_peer(creds);
    }
    return VH_IS_TLS_CREDS_PSK(creds);
}

static const char *no_identity_why(VhTlsCreds *creds)
{
    return VH_IS_TLS_CREDS_X509(creds)
               ? "the credentials have verify-peer=off, so no client "
                 "certificate is verified"
               : "anonymous credentials give a client no identity";
}

/*
 * The one authz rule of every TLS listener. With an authz object, the
 * session has already checked the identity it authenticated (tls-session.h);
 * credentials that authenticate nobody leave nothing to check, and such a
 * client is denied rather than waved through. The peer gets the same
 * access_denied alert as a session's own refusal.
 */
static bool check_identity(VhTlsAccept *a, Hs *hs, GError **errp)
{
    if (!a->authzid || authenticates_clients(a->creds)) {
        return true;
    }
    (void)gnutls_alert_send(
        vh_tls_session_get_gnutls(vh_channel_tls_get_session(hs->tls)),
        GNUTLS_AL_FATAL, GNUTLS_A_ACCESS_DENIED);
    g_set_error(errp, VH_ERROR, VH_ERROR_AUTHZ_DENIED,
                "%s: tls-authz '%s' refused a client without an identity: %s",
                vh_channel_get_name(VH_CHANNEL(hs->tls)), a->authzid,
                no_identity_why(a->creds));
    return false;
}

VhTlsAccept *vh_tls_accept_new(const VhTlsAcceptOptions *o, VhTlsAcceptFunc cb,
                               gpointer opaque, GDestroyNotify destroy)
{
    g_return_val_if_fail(o != NULL && o->creds != NULL && cb != NULL, NULL);

    VhTlsAccept *a = g_atomic_rc_box_new0(VhTlsAccept);
    GMainContext *ctx = o->ctx ? o->ctx : g_main_context_get_thread_default();

    a->creds = g_object_ref(o->creds);
    a->authzid = g_strdup(o->authzid);
    a->what = g_strdup(o->what ? o->what : "TLS listener");
    a->timeout_ms = o->timeout_ms;
    a->max_pending =
        o->max_pending ? o->max_pending : VH_TLS_ACCEPT_MAX_PENDING;
    a->ctx = g_main_context_ref(ctx ? ctx : g_main_context_default());
    a->cb = cb;
    a->opaque = opaque;
    a->destroy = destroy;
    g_mutex_init(&a->lock);
    a->pending = g_ptr_array_new();
    if (a->authzid && !authenticates_clients(a->creds)) {
        g_warning("%s: tls-authz '%s' will deny every client: %s", a->what,
                  a->authzid, no_identity_why(a->creds));
    }
    return a;
}

static void hs_free(Hs *hs)
{
    g_object_unref(hs->cancel);
    g_object_unref(hs->tls);
    g_free(hs->peer);
    accept_unref(hs->a);
    g_free(hs);
}

static void hs_done(GObject *src, GAsyncResult *res, gpointer opaque)
{
    Hs *hs = opaque;
    VhTlsAccept *a = hs->a;
    g_autoptr(GError) err = NULL;
    bool ok = vh_channel_tls_handshake_finish(hs->tls, res, &err) &&
              check_identity(a, hs, &err);

    (void)src;
    g_mutex_lock(&a->lock);
    bool dropped = hs->aborted || a->closed;
    g_ptr_array_remove(a->pending, hs);
    g_mutex_unlock(&a->lock);

    if (dropped || !ok) {
        vh_channel_close(VH_CHANNEL(hs->tls), NULL);
    }
    if (!dropped && !ok) {
        if (g_error_matches(err, G_IO_ERROR, G_IO_ERROR_TIMED_OUT)) {
            /* the listener and the peer say more than the channel's name */
            g_clear_error(&err);
            g_set_error(&err, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                        "%s: TLS handshake with %s timed out after %u ms",
                        a->what, hs->peer, a->timeout_ms);
        }
        a->cb(NULL, hs->peer, err, a->opaque);
    } else if (!dropped) {
        a->cb(g_object_ref(hs->tls), hs->peer, NULL, a->opaque);
    }
    hs_free(hs);
}

/* Closes @client for @why (set in @errp); returns false. */
static bool refuse(VhTlsAccept *a, VhChannel *client, const char *peer,
                   GError *why, GError **errp)
{
    vh_channel_close(client, NULL);
    g_propagate_prefixed_error(
        errp, why, "%s: refused the connection from %s: ", a->what, peer);
    return false;
}

bool vh_tls_accept_add(VhTlsAccept *a, VhChannel *client, const char *peer,
                       GError **errp)
{
    GError *why = NULL;

    g_return_val_if_fail(a != NULL && VH_IS_CHANNEL(client), false);

    g_mutex_lock(&a->lock);
    guint n = a->pending->len;
    bool closed = a->closed;
    g_mutex_unlock(&a->lock);
    if (closed || n >= a->max_pending) {
        g_set_error(&why, VH_ERROR, VH_ERROR_TLS_HANDSHAKE,
                    closed ? "the listener is closed"
                           : "%u TLS handshakes are already in progress, "
                             "the limit",
                    n);
        return refuse(a, client, peer, why, errp);
    }
    VhChannelTls *tls =
        vh_channel_tls_new_server(client, a->creds, a->authzid, &why);
    if (!tls || !vh_channel_set_blocking(VH_CHANNEL(tls), false, &why)) {
        g_clear_object(&tls);
        return refuse(a, client, peer, why, errp);
    }
    vh_channel_set_name(VH_CHANNEL(tls), vh_channel_get_name(client));

    Hs *hs = g_new0(Hs, 1);
    hs->a = accept_ref(a);
    hs->tls = tls;
    hs->peer = g_strdup(peer);
    hs->cancel = g_cancellable_new();
    g_mutex_lock(&a->lock);
    g_ptr_array_add(a->pending, hs);
    g_mutex_unlock(&a->lock);
    g_main_context_push_thread_default(a->ctx);
    vh_channel_tls_handshake_timeout(tls, a->timeout_ms, hs->cancel, hs_done,
                                     hs);
    g_main_context_pop_thread_default(a->ctx);
    return true;
}

guint vh_tls_accept_get_pending(VhTlsAccept *a)
{
    g_mutex_lock(&a->lock);
    guint n = a->pending->len;
    g_mutex_unlock(&a->lock);
    return n;
}

/*
 * Marks every pending handshake aborted, shuts its transport down (which
 * also ends a handshake whose context no longer runs; the TLS channel's
 * shutdown touches no session state, so this is safe from any thread) and
 * cancels it: its completion then only closes and frees. Under the lock,
 * so that no completion frees one meanwhile.
 */
static void abort_locked(VhTlsAccept *a)
{
    for (guint i = 0; i < a->pending->len; i++) {
        Hs *hs = g_ptr_array_index(a->pending, i);
        g_autoptr(GError) err = NULL;

        if (hs->aborted) {
            continue;
        }
        hs->aborted = true;
        g_debug("%s: closing the connection from %s in its TLS handshake: "
                "the listener is closed",
                a->what, hs->peer);
        if (!vh_channel_shutdown(VH_CHANNEL(hs->tls), VH_CHANNEL_SHUTDOWN_BOTH,
                                 &err)) {
            g_debug("%s: cutting %s: %s", a->what,
                    vh_channel_get_name(VH_CHANNEL(hs->tls)), err->message);
        }
        g_cancellable_cancel(hs->cancel);
    }
}

void vh_tls_accept_free(VhTlsAccept *a)
{
    if (!a) {
        return;
    }
    g_mutex_lock(&a->lock);
    a->closed = true;
    abort_locked(a);
    g_mutex_unlock(&a->lock);
    accept_unref(a);
}
