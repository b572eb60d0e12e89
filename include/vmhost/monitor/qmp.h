/*
 * QMP, the JSON machine monitor, over any chardev.
 *
 *     g_autoptr(VhQmp) qmp = vh_qmp_new(&host, chr);
 *     peer <- {"QMP": {"version": {...}, "capabilities": []}}
 *     peer -> {"execute": "qmp_capabilities"}
 *     peer <- {"return": {}}
 *     peer -> {"execute": "query-status", "id": 7}
 *     peer <- {"return": {"status": "running", "running": true, ...}, "id": 7}
 *
 * Input is a stream of JSON objects: several may arrive in one read and
 * one may be split across reads; each complete one gets exactly one reply
 * (a malformed one a GenericError), and the monitor stays up. Until
 * qmp_capabilities has run every other command fails with CommandNotFound
 * ("Expecting capabilities negotiation with 'qmp_capabilities'"), and
 * events are held back. Replies and events are one line each, ending in
 * CRLF.
 *
 * Events (vh_qmp_emit_event in monitor.h) go to every negotiated monitor:
 * STOP and RESUME when the host's machine leaves or enters running,
 * SHUTDOWN on quit, and vmhost's own chardev events (the chardev layer's
 * connection notices, chardev.h), data
 * {"id", "peer", "server", "reason"?, "tls"?: {"protocol", "cipher",
 * "peer-dn"?}}: CHARDEV_CONNECTED when a peer is in (TLS and telnet done;
 * "tls" when over TLS), CHARDEV_DISCONNECTED when it leaves ("reason"),
 * CHARDEV_REFUSED when a TLS handshake fails, times out or authz denies
 * ("reason"). "id" is the registered chardev (a mux=on chardev's own id).
 */
#pragma once

#include "vmhost/chardev/chardev.h"
#include "vmhost/monitor/monitor.h"

G_BEGIN_DECLS

/*
 * One input object may not be larger than this; it gets an error. (QEMU
 * allows 64 MiB; no vmhost command needs more than a few KiB, and each
 * connection may hold this much.)
 */
#define VH_QMP_INPUT_MAX (1024 * 1024)

typedef struct _VhQmp VhQmp;

/*
 * (transfer full) Attach a QMP monitor to @chr (a reference is taken; the
 * monitor is its frontend); the greeting goes out when the chardev opens.
 * @host is borrowed and must outlive the monitor.
 */
VhQmp *vh_qmp_new(VhMonitorHost *host, VhChardev *chr);

/* Where a monitor without a chardev sends its lines (CRLF included). */
typedef void (*VhQmpOutputFunc)(const char *line, size_t len, void *opaque);

/*
 * (transfer full) A QMP monitor with no chardev: input comes from
 * vh_qmp_feed, output goes to @out (the greeting at once).
 */
VhQmp *vh_qmp_new_detached(VhMonitorHost *host, VhQmpOutputFunc out,
                           void *opaque);
/* Input bytes, as if read from the chardev. */
void vh_qmp_feed(VhQmp *qmp, const guint8 *buf, size_t len);

/* Detach from the chardev and the machine and free. NULL is allowed. */
void vh_qmp_free(VhQmp *qmp);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VhQmp, vh_qmp_free)

/*
 * The stream splitter on its own: finds where each top-level JSON value
 * ends (braces and brackets counted outside strings, escapes honoured).
 * Text outside any object up to the next newline or '{' is a piece of its
 * own (it will not parse).
 *
 * A piece that crosses a limit is reported at once, as soon as the limit
 * is crossed, with an empty @text and @status saying which; the rest of
 * that input up to and including the next newline is dropped, then
 * splitting starts over. (QEMU reports the same limits, but goes on
 * lexing the rest of the line: 100,000 '[' would get ~100 errors there.)
 */
typedef enum {
    VH_QMP_PIECE_OK,        /* a complete value, or text outside one */
    VH_QMP_PIECE_TOO_DEEP,  /* nested deeper than VH_QMP_DEPTH_MAX */
    VH_QMP_PIECE_TOO_LARGE, /* more than VH_QMP_INPUT_MAX bytes */
} VhQmpPieceStatus;

/* QEMU's nesting limit: 1024 levels are fine, 1025 are refused. */
#define VH_QMP_DEPTH_MAX 1024

typedef void (*VhQmpPieceFunc)(const char *text, size_t len,
                               VhQmpPieceStatus status, void *opaque);
typedef struct _VhQmpSplitter VhQmpSplitter;
VhQmpSplitter *vh_qmp_splitter_new(VhQmpPieceFunc func, void *opaque);
void vh_qmp_splitter_feed(VhQmpSplitter *sp, const guint8 *buf, size_t len);
/* Forget a partial piece (the peer went away). */
void vh_qmp_splitter_reset(VhQmpSplitter *sp);
void vh_qmp_splitter_free(VhQmpSplitter *sp);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VhQmpSplitter, vh_qmp_splitter_free)

G_END_DECLS
