/*
 * VhChardevSocket (-chardev socket): a TCP or UNIX stream, server or
 * client, optionally with TLS and telnet. Behaviour follows
 * docs/compat-qemu.md, "Socket character devices".
 *
 *     VhChardevSocketOptions o = {
 *         .host = "127.0.0.1", .port = "9000", .server = true, .wait = true,
 *         .tls_creds = "tls0",
 *     };
 *     g_autoptr(VhChardev) chr = vh_chardev_socket_new("s0", &o, NULL, errp);
 *     if (!chr) ...
 *     if (vh_chardev_socket_get_wait(VH_CHARDEV_SOCKET(chr)) &&
 *         !vh_chardev_socket_wait_connected(VH_CHARDEV_SOCKET(chr), errp))...
 *
 * Server: listens on every address of host:port (or the UNIX path), one
 * client at a time: the listener stops accepting while a client is being
 * set up or is connected, and resumes when it leaves. Client: connects to
 * host:port; with reconnect_ms > 0 it retries after that delay for ever
 * (also after the server goes away); without it a failed connect at
 * creation is an error.
 *
 * Each new connection: non-blocking, TCP_NODELAY if asked, TLS handshake
 * (creds and authz looked up by id at that moment; a client checks the
 * server's certificate against @host; a handshake that does not finish in
 * handshake_timeout_ms is abandoned), telnet negotiation, then OPENED. A
 * TLS server handshakes with several clients at once (at most
 * VH_CHARDEV_SOCKET_MAX_PENDING_HANDSHAKES; more are refused); the first
 * through gets the chardev and the listener pauses until that connection
 * ends; the others finish their handshakes (or time out) and wait, in
 * order, for their turn, as clients wait in the listen backlog in QEMU.
 * Every failure is logged and kept as the last error, naming the chardev,
 * the peer and the reason. EOF or an I/O error gives CLOSED.
 *
 * Output while connected is written at once; what the peer does not take
 * yet is buffered up to VH_CHARDEV_SOCKET_OUTBUF_MAX bytes and the rest
 * dropped (recorded as the last error).
 */
#pragma once

#include "vmhost/chardev/chardev.h"

G_BEGIN_DECLS

#define VH_CHARDEV_SOCKET_OUTBUF_MAX           (1024 * 1024)
#define VH_CHARDEV_SOCKET_HANDSHAKE_TIMEOUT_MS 10000
/*
 * A TLS server runs the handshakes of up to this many clients at once (each
 * with its own timeout) and refuses more (see vmhost/io/tls-accept.h).
 */
#define VH_CHARDEV_SOCKET_MAX_PENDING_HANDSHAKES 64

/*
 * The options of -chardev socket, already parsed. Strings are borrowed
 * for the duration of vh_chardev_socket_new(). Exactly one of host/port,
 * path or fd >= 0 gives the address (set fd to -1 when unused).
 */
typedef struct {
    const char *host; /* TCP: host name or address (server: NULL = any) */
    const char *port; /* TCP: port number (server: "0" = any free port) */
    const char *path; /* UNIX socket path, or the abstract name */
    bool abstract;    /* path is a Linux abstract socket name */
    /*
     * An inherited socket, -1 for none; the chardev owns it from the call
     * on (closed on failure too). Listening (SO_ACCEPTCONN): a server on
     * it; connected: that one connection (no reconnect). TLS needs TCP.
     */
    int fd;
    bool server;
    bool wait; /* server only: startup waits for a client */
    /* client only: retry delay, 0 for none; the option parser passes the
     * legacy reconnect=SECONDS as SECONDS * 1000 */
    gint64 reconnect_ms;
    bool nodelay;          /* TCP_NODELAY */
    bool telnet;           /* RFC 854 negotiation */
    const char *tls_creds; /* id of a VhTlsCreds object, or NULL */
    const char *tls_authz; /* server: id of a VhAuthz object, or NULL */
    bool ipv4, ipv6;       /* restrict to that family (both false: any) */
    const char *logfile;   /* NULL for none */
    bool logappend;
    guint handshake_timeout_ms; /* 0: the default (10 s) */
} VhChardevSocketOptions;

/* Fields zeroed, fd -1. */
#define VH_CHARDEV_SOCKET_OPTIONS_INIT                                         \
    {                                                                          \
        .fd = -1                                                               \
    }

#define VH_TYPE_CHARDEV_SOCKET (vh_chardev_socket_get_type())
G_DECLARE_FINAL_TYPE(VhChardevSocket, vh_chardev_socket, VH, CHARDEV_SOCKET,
                     VhChardev)

/*
 * (transfer full) Create the chardev on @ctx (NULL: the global default
 * context): a server is listening on return; a client without
 * reconnect_ms has connected (the TLS handshake continues on @ctx).
 * Errors, each naming the chardev: wait on a client, tls-authz without
 * tls-creds, TLS on a non-TCP address, a missing or wrong-type creds
 * object, creds for the wrong endpoint ("Expected TLS credentials for a
 * server endpoint"), no address, bind or connect failures.
 */
G_GNUC_WARN_UNUSED_RESULT
VhChardev *vh_chardev_socket_new(const char *id,
                                 const VhChardevSocketOptions *opts,
                                 GMainContext *ctx, GError **errp);

/* Whether startup should call wait_connected (server with wait=on). */
bool vh_chardev_socket_get_wait(VhChardevSocket *s);

/* Whether telnet=on: a person at a telnet client is the usual peer. */
bool vh_chardev_socket_is_telnet(VhChardevSocket *s);

/*
 * Whether it accepts its peers: server=on, or an inherited listening fd
 * (fd=N without server=on is a server when the socket is listening).
 */
bool vh_chardev_socket_is_server(VhChardevSocket *s);

/*
 * Block the calling thread, iterating the chardev's context, until a peer
 * is connected (TLS and telnet done). A server first announces
 * "waiting for connection on: <describe>" through the info func. Fails if
 * the chardev is closed, or a client without reconnect_ms loses its
 * connection before it opens.
 */
G_GNUC_WARN_UNUSED_RESULT
bool vh_chardev_socket_wait_connected(VhChardevSocket *s, GError **errp);

/* The TCP port a server listens on (useful with port "0"), else 0. */
guint16 vh_chardev_socket_get_port(VhChardevSocket *s);

/*
 * While a peer is connected over TLS (handshake done): true, with the
 * protocol ("TLS1.3"), the cipher ("AES-256-GCM") and the peer's subject
 * DN (NULL when it sent no certificate or verify-peer is off), borrowed
 * until the peer goes. Otherwise false and the outputs untouched. For
 * `info chardev` / query-chardev.
 */
bool vh_chardev_socket_get_tls_peer(VhChardevSocket *s, const char **protocol,
                                    const char **cipher, const char **dn);

/*
 * A file descriptor the peer passed with SCM_RIGHTS (UNIX sockets without
 * TLS), oldest first, for a monitor's getfd (transfer full: the caller
 * closes it), or -1 when none is waiting. Fds arrive together with the
 * bytes they were sent with, before the frontend reads those bytes; a new
 * batch closes the ones not taken, and so does a disconnect.
 */
int vh_chardev_socket_take_msgfd(VhChardevSocket *s);

/*
 * Whether a peer can pass fds to this chardev (a UNIX socket without
 * TLS); false with @errp naming the chardev and why not ("chardev m0 is a
 * TLS channel: file descriptors cannot be passed over TLS").
 */
G_GNUC_WARN_UNUSED_RESULT
bool vh_chardev_socket_check_fd_pass(VhChardevSocket *s, GError **errp);

G_END_DECLS
