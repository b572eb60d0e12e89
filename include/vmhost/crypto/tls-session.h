/*
 * VhTlsSession: one TLS connection's GnuTLS session, independent of how its
 * bytes travel. The owner (VhChannelTls, or a test) supplies push/pull
 * callbacks that move ciphertext, steps the handshake until it completes,
 * then reads and writes plaintext.
 *
 *     g_autoptr(VhTlsSession) sess = vh_tls_session_new(
 *         creds, "host1.example.org", NULL, VH_TLS_CREDS_ENDPOINT_CLIENT,
 *         errp);
 *     vh_tls_session_set_callbacks(sess, my_push, my_pull, conn);
 *     for (;;) {
 *         switch (vh_tls_session_handshake(sess, errp)) {
 *         case VH_TLS_HANDSHAKE_COMPLETE:  goto done;
 *         case VH_TLS_HANDSHAKE_NEEDS_READ:  wait_readable(conn); break;
 *         case VH_TLS_HANDSHAKE_NEEDS_WRITE: wait_writable(conn); break;
 *         case VH_TLS_HANDSHAKE_FAILED: return false;
 *         }
 *     }
 *
 * Transport callbacks: push sends, pull receives; each returns the byte
 * count, 0 for end of file (pull), or -1 with errno set; errno EAGAIN (or
 * EWOULDBLOCK, EINTR) means "would block, call again later".
 *
 * Peer checks (run when the handshake completes; QEMU's rules, see
 * docs/compat-qemu.md): with x509 credentials whose verify-peer is
 * on, the peer must present a certificate that GnuTLS verifies against the
 * CA list (and CRL), every certificate it sent must be within its validity
 * times, a client checks the server's certificate against @hostname and a
 * server passes the client's subject DN to the authz object @authzid. With
 * PSK credentials a server passes the client's PSK username to @authzid.
 * Anonymous credentials and x509 ones with verify-peer=off authenticate
 * nobody, so a session runs no authz check with them (QEMU's rule); the
 * listeners' path, VhTlsAccept, denies their clients when authz is set.
 * Failures are VH_ERROR_TLS_PEER (or VH_ERROR_AUTHZ_DENIED) and name the
 * peer's DN and the reason.
 *
 * A session is used from one thread at a time.
 */
#pragma once

#include <gnutls/gnutls.h>
#include <stdbool.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "vmhost/crypto/tls-creds.h"

G_BEGIN_DECLS

/*
 * Would block; no error is set. A session is no channel: VhChannelTls
 * translates this into VH_CHANNEL_ERR_BLOCK.
 */
#define VH_TLS_SESSION_ERR_BLOCK (-2)
/* The record is not application data: read it with vh_tls_session_read(). */
#define VH_TLS_SESSION_ERR_NOT_DATA (-3)

typedef enum {
    VH_TLS_HANDSHAKE_COMPLETE,
    VH_TLS_HANDSHAKE_NEEDS_READ,  /* call again once the transport reads */
    VH_TLS_HANDSHAKE_NEEDS_WRITE, /* call again once the transport writes */
    VH_TLS_HANDSHAKE_FAILED,      /* *errp is set */
} VhTlsHandshakeStatus;

typedef enum {
    VH_TLS_HOSTNAME_NOT_CHECKED, /* server, verify-peer off, or not x509 */
    VH_TLS_HOSTNAME_MATCH,
    VH_TLS_HOSTNAME_MISMATCH,
} VhTlsHostnameCheck;

typedef ssize_t (*VhTlsSessionPush)(const char *buf, size_t len, void *opaque);
typedef ssize_t (*VhTlsSessionPull)(char *buf, size_t len, void *opaque);

#define VH_TYPE_TLS_SESSION (vh_tls_session_get_type())
G_DECLARE_FINAL_TYPE(VhTlsSession, vh_tls_session, VH, TLS_SESSION, GObject)

/*
 * (transfer full) A session for @endpoint with @creds (which must have been
 * made for that endpoint: "Expected TLS credentials for a server endpoint").
 * @hostname: client only, the name (or IP address) the server's certificate
 * must match; also sent as SNI when it is a DNS name. @authzid: server
 * only, the id of an authz object consulted with the peer's identity, or
 * NULL. Both strings are copied.
 */
G_GNUC_WARN_UNUSED_RESULT
VhTlsSession *vh_tls_session_new(VhTlsCreds *creds, const char *hostname,
                                 const char *authzid,
                                 VhTlsCredsEndpoint endpoint, GError **errp);

/* Set the transport before the first handshake step. */
void vh_tls_session_set_callbacks(VhTlsSession *sess, VhTlsSessionPush push,
                                  VhTlsSessionPull pull, void *opaque);

/*
 * Run the handshake as far as the transport allows. On COMPLETE the peer
 * checks have passed. FAILED: VH_ERROR_TLS_HANDSHAKE (with the GnuTLS
 * reason, and the alert name when the peer sent one), VH_ERROR_TLS_PEER or
 * VH_ERROR_AUTHZ_DENIED. After COMPLETE further calls return COMPLETE.
 */
G_GNUC_WARN_UNUSED_RESULT
VhTlsHandshakeStatus vh_tls_session_handshake(VhTlsSession *sess,
                                              GError **errp);
bool vh_tls_session_is_handshake_complete(VhTlsSession *sess);

/*
 * Plaintext I/O after the handshake. Returns the byte count,
 * VH_TLS_SESSION_ERR_BLOCK, 0 (read: the peer sent close-notify) or -1
 * with an error. A transport EOF without close-notify is
 * VH_ERROR_TLS_PREMATURE_EOF. Reads fill the iovs in turn while decrypted
 * data is at hand. Writes cut the data into full-size records (16 KiB),
 * sending large iov pieces in place and gathering small ones. After a
 * would-block, offer the stream from where it stopped (the usual contract):
 * GnuTLS may already hold those bytes in an encrypted record, which is then
 * flushed and the bytes counted, never sent twice.
 */
G_GNUC_WARN_UNUSED_RESULT
gssize vh_tls_session_read(VhTlsSession *sess, char *buf, size_t len,
                           GError **errp);
G_GNUC_WARN_UNUSED_RESULT
gssize vh_tls_session_readv(VhTlsSession *sess, const struct iovec *iov,
                            size_t niov, GError **errp);
G_GNUC_WARN_UNUSED_RESULT
gssize vh_tls_session_write(VhTlsSession *sess, const char *buf, size_t len,
                            GError **errp);
G_GNUC_WARN_UNUSED_RESULT
gssize vh_tls_session_writev(VhTlsSession *sess, const struct iovec *iov,
                             size_t niov, GError **errp);

/*
 * vmhost's own record path (TLS 1.3 with AES-GCM or ChaCha20-Poly1305;
 * docs/tls-records.md). A transport that buffers ciphertext seals records
 * straight into its send buffer and opens them straight out of its receive
 * buffer, saving GnuTLS's copies and allocations; everything else (other
 * TLS versions and ciphers, post-handshake messages, alerts, close-notify)
 * stays with the calls above, which hand the sequence numbers over.
 *
 * vh_tls_session_can_seal(): records may be sealed now (else use
 * vh_tls_session_writev()). vh_tls_session_seal() seals @len
 * (<= vh_tls_session_seal_max()) bytes of @iov from byte @skip on as one
 * record into @out,
 * which has vh_tls_session_seal_size(@len) bytes; once sealed, the record
 * must be sent.
 *
 * vh_tls_session_can_open(): records may be opened now (else use
 * vh_tls_session_readv()). vh_tls_session_record_size() reads a 5-byte
 * record header and returns the whole record's size, or
 * VH_TLS_SESSION_ERR_NOT_DATA, or -1 (a malformed header). With the whole
 * record at hand, vh_tls_session_open() decrypts it into @dst, which has
 * vh_tls_session_open_room(size) bytes (the record is left intact), and
 * returns the plaintext length (0 is a valid empty record),
 * VH_TLS_SESSION_ERR_NOT_DATA (give the record, still unread, to
 * vh_tls_session_readv()), or -1: the record failed authentication and
 * every later read fails too.
 */
bool vh_tls_session_can_seal(VhTlsSession *sess);
size_t vh_tls_session_seal_max(VhTlsSession *sess);
size_t vh_tls_session_seal_size(VhTlsSession *sess, size_t len);
G_GNUC_WARN_UNUSED_RESULT
bool vh_tls_session_seal(VhTlsSession *sess, const struct iovec *iov,
                         size_t niov, size_t skip, size_t len, char *out,
                         GError **errp);
bool vh_tls_session_can_open(VhTlsSession *sess);
G_GNUC_WARN_UNUSED_RESULT
gssize vh_tls_session_record_size(VhTlsSession *sess, const char *hdr,
                                  GError **errp);
size_t vh_tls_session_open_room(VhTlsSession *sess, size_t size);
G_GNUC_WARN_UNUSED_RESULT
gssize vh_tls_session_open(VhTlsSession *sess, char *rec, size_t size,
                           char *dst, GError **errp);

/* Decrypted bytes GnuTLS holds that a read returns without the transport. */
size_t vh_tls_session_check_pending(VhTlsSession *sess);

/*
 * Send close-notify (our write side ends; the peer sees a clean EOF).
 * Returns 0 when sent, VH_TLS_SESSION_ERR_BLOCK to be called again once
 * the transport is writable, -1 on error. Calling it again after 0 is a
 * no-op.
 */
G_GNUC_WARN_UNUSED_RESULT
int vh_tls_session_bye(VhTlsSession *sess, GError **errp);

/* After a would-block: true if GnuTLS waits to write, false to read. */
bool vh_tls_session_wants_write(VhTlsSession *sess);

/*
 * Getters, valid once the handshake is complete (NULL before).
 * peer name: the peer certificate's subject DN as authz sees it (GnuTLS's
 * default, certificate order, e.g. "C=UK,CN=qemu"), or the client's PSK
 * username on a PSK server; NULL when the peer sent no identity.
 */
const char *vh_tls_session_get_peer_name(VhTlsSession *sess);
const char *vh_tls_session_get_protocol(VhTlsSession *sess);
const char *vh_tls_session_get_cipher(VhTlsSession *sess);
const char *vh_tls_session_get_kx(VhTlsSession *sess);
/* GnuTLS's one-line summary, e.g. "(TLS1.3)-(ECDHE-SECP256R1)-..." (transfer
 * full), or NULL before the handshake. */
char *vh_tls_session_get_description(VhTlsSession *sess);
VhTlsHostnameCheck vh_tls_session_get_hostname_check(VhTlsSession *sess);
VhTlsCredsEndpoint vh_tls_session_get_endpoint(VhTlsSession *sess);
/* The underlying session (borrowed), for what this API does not wrap. */
gnutls_session_t vh_tls_session_get_gnutls(VhTlsSession *sess);

G_END_DECLS
