/*
 * VhQmpClient: vmhostd's side of one machine's private QMP socket.
 *
 *     g_autoptr(VhQmpClient) c = vh_qmp_client_connect(path, 5000, errp);
 *     if (!c) {
 *         return false;       // no socket, no greeting, capabilities refused
 *     }
 *     vh_qmp_client_attach(c, ctx, on_event, on_eof, obj, obj_unref);
 *     g_autoptr(JsonNode) st =
 *         vh_qmp_client_execute_sync(c, "query-status", NULL, 5000, errp);
 *
 * Connecting reads the greeting and negotiates qmp_capabilities in the
 * calling thread (blocking, bounded by the timeout). Once attached to a
 * GMainContext, everything the machine sends is read there: replies go to
 * the callback given to vh_qmp_client_execute() (on that context's
 * thread), events to @on_event, and the end of the connection to @on_eof
 * (once; pending commands then fail with G_IO_ERROR_CLOSED).
 *
 * vh_qmp_client_execute_sync() may be called from any thread but the
 * attached context's own (it waits for that thread to read the reply).
 * Errors from the machine come back as G_IO_ERROR_FAILED with QMP's "desc";
 * an unknown command as G_IO_ERROR_NOT_SUPPORTED (QMP's CommandNotFound).
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>
#include <stdbool.h>

G_BEGIN_DECLS

typedef struct _VhQmpClient VhQmpClient;

/* @data is the event's "data" member or NULL; (transfer none). */
typedef void (*VhQmpEventFunc)(VhQmpClient *c, const char *event,
                               JsonObject *data, gpointer opaque);
typedef void (*VhQmpEofFunc)(VhQmpClient *c, gpointer opaque);
/* Exactly one of @ret and @err is set; both (transfer none). */
typedef void (*VhQmpReplyFunc)(VhQmpClient *c, JsonNode *ret, const GError *err,
                               gpointer opaque);

G_GNUC_WARN_UNUSED_RESULT
VhQmpClient *vh_qmp_client_connect(const char *path, guint timeout_ms,
                                   GError **errp);

/* Start reading on @ctx (NULL: the global default). @destroy frees
 * @opaque when the client is closed or freed. */
void vh_qmp_client_attach(VhQmpClient *c, GMainContext *ctx,
                          VhQmpEventFunc on_event, VhQmpEofFunc on_eof,
                          gpointer opaque, GDestroyNotify destroy);

/* Send a command (@args (transfer none), may be NULL); @cb runs on the
 * attached context's thread. False (and @cb never runs) when the
 * connection is gone. */
bool vh_qmp_client_execute(VhQmpClient *c, const char *cmd, JsonObject *args,
                           VhQmpReplyFunc cb, gpointer opaque, GError **errp);

/* The reply's "return" (transfer full), or NULL with G_IO_ERROR_TIMED_OUT
 * after @timeout_ms. */
G_GNUC_WARN_UNUSED_RESULT
JsonNode *vh_qmp_client_execute_sync(VhQmpClient *c, const char *cmd,
                                     JsonObject *args, guint timeout_ms,
                                     GError **errp);

/* On the attached context's thread: read and dispatch whatever the peer
 * has sent so far (the events a machine wrote just before it exited). */
void vh_qmp_client_drain(VhQmpClient *c);

/* Stop reading and shut the socket down; pending commands fail. When
 * called from another thread, a callback already running on the context
 * may still finish; @destroy runs at the last unref. Safe to call twice. */
void vh_qmp_client_close(VhQmpClient *c);

VhQmpClient *vh_qmp_client_ref(VhQmpClient *c);
void vh_qmp_client_unref(VhQmpClient *c);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VhQmpClient, vh_qmp_client_unref)

G_END_DECLS
