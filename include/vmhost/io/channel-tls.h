/*
 * VhChannelTls: TLS over any other VhChannel (the "master").
 *
 *     g_autoptr(VhChannelTls) tls = vh_channel_tls_new_client(
 *         VH_CHANNEL(sock), creds, "host1.example.org", errp);
 *     if (!tls || !vh_channel_tls_handshake_sync(tls, errp)) {
 *         return false;
 *     }
 *     g_print("%s %s peer %s\n", vh_channel_tls_get_protocol(tls),
 *             vh_channel_tls_get_cipher(tls),
 *             vh_channel_tls_get_peer_name(tls));
 *     vh_channel_write_all(VH_CHANNEL(tls), buf, len, errp);
 *     vh_channel_tls_bye(tls, errp);     // close-notify: a clean end
 *
 * On a non-blocking master, run the handshake from a GMainContext with
 * vh_channel_tls_handshake(): it is driven by watches on the master in the
 * caller's thread-default context (G_IO_IN when GnuTLS needs to read,
 * G_IO_OUT when it needs to write), never by polling or sleeping.
 *
 * I/O before the handshake has completed fails. Reads return 0 once the
 * peer sent close-notify; a peer that closed without it gives
 * VH_ERROR_TLS_PREMATURE_EOF. Writes cut data into full 16 KiB records;
 * on a blocking master the records of one write leave in 256 KiB batches,
 * and ciphertext is always read ahead in 256 KiB pieces (so a read watch
 * also fires while read-ahead ciphertext is waiting).
 * Ending the stream and cutting the transport are separate (as in QEMU):
 * vh_channel_tls_bye() sends close-notify, the clean end the peer reads as
 * EOF; shutdown(READ) or shutdown(BOTH) only shuts the master down, touches
 * no session state and may therefore be called from any thread to abort
 * the I/O of another (the peer then sees a truncation, never a clean end).
 * shutdown(WRITE) alone is a half-close and so is bye, then the master's
 * shutdown(WRITE). close says bye too (best effort; on a non-blocking
 * master whose socket is full it waits at most 2 s for room, then closes
 * anyway). set_blocking, set_cork and set_delay act on the master. File
 * descriptors never pass over TLS.
 *
 * Watches (create_watch) wrap the master's watch and also fire for G_IO_IN
 * when GnuTLS already holds decrypted data, which the master's fd cannot
 * show.
 *
 * Ownership: the TLS channel holds a reference on the master and closes it
 * when it is closed itself.
 */
#pragma once

#include "vmhost/crypto/tls-creds.h"
#include "vmhost/crypto/tls-session.h"
#include "vmhost/io/channel.h"

G_BEGIN_DECLS

#define VH_TYPE_CHANNEL_TLS (vh_channel_tls_get_type())
G_DECLARE_FINAL_TYPE(VhChannelTls, vh_channel_tls, VH, CHANNEL_TLS, VhChannel)

/*
 * (transfer full) A TLS server on @master. @creds must be server creds.
 * @authzid: the id of an authz object for the client's identity, or NULL.
 */
G_GNUC_WARN_UNUSED_RESULT
VhChannelTls *vh_channel_tls_new_server(VhChannel *master, VhTlsCreds *creds,
                                        const char *authzid, GError **errp);
/*
 * (transfer full) A TLS client on @master. @creds must be client creds.
 * @hostname: the name the server certificate must match (required when the
 * creds verify the peer; see tls-session.h).
 */
G_GNUC_WARN_UNUSED_RESULT
VhChannelTls *vh_channel_tls_new_client(VhChannel *master, VhTlsCreds *creds,
                                        const char *hostname, GError **errp);

/*
 * Run the handshake asynchronously in the thread-default main context;
 * @callback runs there when it is over (never from within this call).
 */
void vh_channel_tls_handshake(VhChannelTls *tls, GCancellable *cancellable,
                              GAsyncReadyCallback callback, gpointer opaque);
/*
 * The same with a deadline, the one handshake-with-timeout of every TLS
 * user (listeners through VhTlsAccept, chardev clients): when @timeout_ms
 * (0: none) passes first, the handshake stops and finishes with
 * G_IO_ERROR_TIMED_OUT, "NAME: TLS handshake timed out after N ms".
 */
void vh_channel_tls_handshake_timeout(VhChannelTls *tls, guint timeout_ms,
                                      GCancellable *cancellable,
                                      GAsyncReadyCallback callback,
                                      gpointer opaque);
G_GNUC_WARN_UNUSED_RESULT
bool vh_channel_tls_handshake_finish(VhChannelTls *tls, GAsyncResult *result,
                                     GError **errp);
/*
 * Run the handshake to the end in the calling thread (on a non-blocking
 * master it waits for readiness with vh_channel_wait()).
 */
G_GNUC_WARN_UNUSED_RESULT
bool vh_channel_tls_handshake_sync(VhChannelTls *tls, GError **errp);

/*
 * Send close-notify: our side of the stream ends and the peer reads a clean
 * EOF. Waits for room on the master for as long as it takes (a non-blocking
 * one with vh_channel_wait()). Called again, it does nothing. From the
 * thread that does the channel's I/O; to abort that I/O from elsewhere, use
 * vh_channel_shutdown(BOTH).
 */
G_GNUC_WARN_UNUSED_RESULT
bool vh_channel_tls_bye(VhChannelTls *tls, GError **errp);

/* Borrowed. */
VhTlsSession *vh_channel_tls_get_session(VhChannelTls *tls);
VhChannel *vh_channel_tls_get_master(VhChannelTls *tls);

/* Shortcuts for the session getters (NULL before the handshake). */
const char *vh_channel_tls_get_peer_name(VhChannelTls *tls);
const char *vh_channel_tls_get_protocol(VhChannelTls *tls);
const char *vh_channel_tls_get_cipher(VhChannelTls *tls);

G_END_DECLS
