/*
 * VhChardev: the abstract character device behind -chardev. A backend
 * (socket, file, null, ringbuf, ...) moves bytes between a frontend (a
 * serial port, a monitor) and the outside world.
 *
 *     static size_t can_read(void *opaque) { return room_in_fifo(opaque); }
 *     static void on_read(void *opaque, const guint8 *buf, size_t len) {...}
 *     static void on_event(void *opaque, VhChardevEvent ev) {...}
 *
 *     VhChardev *chr = vh_chardev_null_new("n0", NULL, errp);
 *     vh_chardev_set_handlers(chr, can_read, on_read, on_event, uart, NULL);
 *     if (vh_chardev_write(chr, "hello\n", 6, errp) < 0) { ... }
 *
 * Threads: a chardev runs on one GMainContext (given at creation; NULL is
 * the global default context). Every call, and every frontend callback,
 * happens in the thread that iterates that context.
 *
 * Writing never blocks the caller. With nothing connected the bytes are
 * dropped (and still go to the logfile), as in QEMU. A backend whose peer
 * is slow buffers up to a bound (socket: VH_CHARDEV_SOCKET_OUTBUF_MAX) and
 * drops beyond it; every drop is recorded as the last error.
 *
 * Errors: every failure a backend sees (refused handshake, lost peer,
 * dropped output) is logged with g_warning() naming the chardev id, the
 * peer and the reason, and stored as the "last error" with a timestamp, for
 * `info chardev` / `query-chardev`.
 *
 * Ownership: chardevs are GObjects (transfer full from the constructors).
 * The last unref closes the chardev.
 */
#pragma once

#include <gio/gio.h>
#include <stdbool.h>

#include "vmhost/util/error.h"

G_BEGIN_DECLS

typedef enum {
    VH_CHARDEV_EVENT_OPENED, /* a peer is connected and ready */
    VH_CHARDEV_EVENT_CLOSED, /* the peer went away */
    /* only to the frontends of a mux (char-mux.h): */
    VH_CHARDEV_EVENT_MUX_IN,  /* this frontend now receives the input */
    VH_CHARDEV_EVENT_MUX_OUT, /* input went to another frontend */
} VhChardevEvent;

/* How many bytes the frontend can take now; 0 stops reading. */
typedef size_t (*VhChardevCanReadFunc)(void *opaque);
/* Bytes for the frontend (never more than can_read said). */
typedef void (*VhChardevReadFunc)(void *opaque, const guint8 *buf, size_t len);
typedef void (*VhChardevEventFunc)(void *opaque, VhChardevEvent event);

#define VH_TYPE_CHARDEV (vh_chardev_get_type())
G_DECLARE_DERIVABLE_TYPE(VhChardev, vh_chardev, VH, CHARDEV, GObject)

struct _VhChardevClass {
    GObjectClass parent_class;

    /*
     * Mandatory. Send @len bytes to the peer without blocking. Called only
     * while the chardev is connected. Return how many bytes were taken
     * (buffered counts as taken; bytes not taken are dropped by the base,
     * which records it) or -1 with @errp set.
     */
    gssize (*write)(VhChardev *chr, const guint8 *buf, size_t len,
                    GError **errp);
    /* Mandatory. The QEMU "filename" form, see vh_chardev_describe(). */
    char *(*describe)(VhChardev *chr);
    /* Optional. Release connections, listeners and timers; called once. */
    void (*close)(VhChardev *chr);
    /*
     * Optional. The frontend's handlers changed or it can read again
     * (vh_chardev_accept_input): re-evaluate read watches.
     */
    void (*update_read_handler)(VhChardev *chr);
    /*
     * Optional. Take over vh_chardev_set_handlers (a mux keeps one set per
     * frontend); the base then stores nothing.
     */
    void (*set_handlers)(VhChardev *chr, VhChardevCanReadFunc can_read,
                         VhChardevReadFunc read, VhChardevEventFunc event,
                         void *opaque);
    /* Optional. The chardev this one wraps (a mux's backend). */
    VhChardev *(*get_backend)(VhChardev *chr);

    gpointer padding[6];
};

const char *vh_chardev_get_id(VhChardev *chr);
/* The context the chardev runs on (borrowed; never NULL). */
GMainContext *vh_chardev_get_context(VhChardev *chr);

/*
 * Install the frontend's callbacks (any may be NULL; NULL @read drops
 * input). All three NULL detaches the frontend: pass the @opaque it was
 * attached with, which is how a mux (char-mux.h) tells its frontends
 * apart. @context must be NULL or the chardev's own context: moving a
 * chardev between contexts is not supported. If the chardev is already
 * connected, @event is called with OPENED from the chardev's context soon
 * after (never from within this call).
 */
void vh_chardev_set_handlers(VhChardev *chr, VhChardevCanReadFunc can_read,
                             VhChardevReadFunc read, VhChardevEventFunc event,
                             void *opaque, GMainContext *context);
/*
 * The chardev that talks to the outside (borrowed): the backend under a
 * mux (char-mux.h), otherwise @chr itself. For backend-specific calls such
 * as vh_chardev_socket_wait_connected.
 */
VhChardev *vh_chardev_get_backend(VhChardev *chr);

/* The frontend's can_read may have become non-zero: resume reading. */
void vh_chardev_accept_input(VhChardev *chr);

/*
 * Write to the backend; never blocks. Returns @len (bytes dropped because
 * nothing is connected or the backend's buffer is full still count: they
 * are gone for good and recorded as the last error), or -1 with @errp set
 * when the chardev is closed.
 */
G_GNUC_WARN_UNUSED_RESULT
gssize vh_chardev_write(VhChardev *chr, const void *buf, size_t len,
                        GError **errp);

/*
 * Copy everything written to @path too (logfile=), appending when @append
 * (logappend=on), otherwise truncating. Replaces a previous logfile.
 */
G_GNUC_WARN_UNUSED_RESULT
bool vh_chardev_set_logfile(VhChardev *chr, const char *path, bool append,
                            GError **errp);

/*
 * Whether a frontend is attached: the last vh_chardev_set_handlers call
 * installed at least one handler (all NULL detaches).
 */
bool vh_chardev_has_frontend(VhChardev *chr);

bool vh_chardev_is_connected(VhChardev *chr);
bool vh_chardev_is_closed(VhChardev *chr);

/*
 * The last failure (borrowed; NULL when none) and when it happened
 * (g_get_real_time() microseconds, optional).
 */
const char *vh_chardev_get_last_error(VhChardev *chr, gint64 *when_us);
/* Bytes dropped so far (nothing connected, or output buffer full). */
guint64 vh_chardev_get_dropped(VhChardev *chr);

/*
 * QEMU's filename field (transfer full), e.g.
 * "disconnected:tcp:127.0.0.1:9000,server=on" or, once a client is in,
 * "tcp:127.0.0.1:9000,server=on <-> 127.0.0.1:41234".
 */
char *vh_chardev_describe(VhChardev *chr);

/* Disconnect and release everything; idempotent. Writes then fail. */
void vh_chardev_close(VhChardev *chr);

/*
 * Where informational messages for the operator go ("waiting for
 * connection on: ..."). Default: stderr with a "vmhost: " prefix. A NULL
 * @func restores the default. Process-wide.
 */
typedef void (*VhChardevInfoFunc)(const char *message, void *opaque);
void vh_chardev_set_info_func(VhChardevInfoFunc func, void *opaque);

/*
 * Connection notices: observers, process-wide, told when a chardev's peer
 * is connected (TLS handshake and telnet done: the moment the frontend
 * gets OPENED), goes away after that, or is refused before it got that
 * far (TLS handshake failed, timed out or was denied by authz). Socket
 * chardevs send them; the monitor layer turns them into QMP events
 * (CHARDEV_CONNECTED, CHARDEV_DISCONNECTED, CHARDEV_REFUSED).
 *
 *     static void on_notice(const VhChardevNotice *n, void *opaque) {...}
 *     guint h = vh_chardev_add_notice_func(on_notice, app);
 *     ...
 *     vh_chardev_remove_notice_func(h);
 *
 * Observers run in the thread of the chardev's context, in the order they
 * were added; they must not add or remove observers, nor close the
 * chardev, from the call. The notice and its strings are borrowed for the
 * duration of the call.
 */
typedef enum {
    VH_CHARDEV_NOTICE_CONNECTED,
    VH_CHARDEV_NOTICE_DISCONNECTED,
    VH_CHARDEV_NOTICE_REFUSED,
} VhChardevNoticeKind;

typedef struct {
    VhChardevNoticeKind kind;
    VhChardev *chr;     /* the backend that saw it (a mux's backend) */
    const char *peer;   /* "127.0.0.1:41234", "unix:/run/s.sock", ... */
    bool server;        /* the chardev accepted the peer (else dialled) */
    const char *reason; /* DISCONNECTED and REFUSED: why; else NULL */
    /* CONNECTED over TLS (all NULL without TLS): */
    const char *tls_protocol; /* "TLS1.3" */
    const char *tls_cipher;   /* "AES-256-GCM" */
    const char *tls_peer_dn;  /* the peer's subject DN; NULL: none seen */
} VhChardevNotice;

typedef void (*VhChardevNoticeFunc)(const VhChardevNotice *notice,
                                    void *opaque);
/* Add an observer; returns its handle (never 0). */
guint vh_chardev_add_notice_func(VhChardevNoticeFunc func, void *opaque);
/* Remove the observer @handle returned; unknown handles are ignored. */
void vh_chardev_remove_notice_func(guint handle);

G_END_DECLS
