/*
 * The return path (docs/migration-stream.md): the target's answers to the
 * source on the main connection, and how either side recognises a TLS
 * peer where it expects vmhost's plain stream (lib/migration/return-path.c).
 *
 *     // target
 *     vh_mig_rp_send(ch, VH_MIG_RP_READY, NULL, 0, errp);
 *     vh_mig_rp_send_loaded(ch, &counts, errp);
 *     // source
 *     if (!vh_mig_rp_recv(ch, &type, &counts, errp)) { ... }
 *
 * Each message is (u32 type, u32 length, body); the receiver takes its
 * bounds from one table of types, so that a new message (post-copy's page
 * requests) is one more row there.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>

#include "vmhost/io/channel.h"
#include "vmhost/migration/stream-format.h"

G_BEGIN_DECLS

/* ---- a TLS peer where vmhost's plain stream belongs ---- */

/*
 * Whether @p (VH_MIG_TLS_RECORD_PEEK bytes) starts a TLS record of type
 * alert (21) or handshake (22) with protocol version 3.x (RFC 8446 5.1:
 * every version from SSL 3.0 to TLS 1.3 writes major version 3). Neither the
 * stream magic nor a return path message ever starts so: the peer speaks
 * TLS where this end does not (tls-creds set on one side only).
 */
bool vh_mig_is_tls_record(const guint8 *p);

/* What each side says then, in vh_mig_rp_recv() and the loader. */
#define VH_MIG_TLS_TARGET_HINT "the target expects TLS (set tls-creds)"
#define VH_MIG_TLS_SOURCE_HINT                                                 \
    "the source sent a TLS handshake; set tls-creds on the target"

/* ---- return path ---- */

G_GNUC_WARN_UNUSED_RESULT
bool vh_mig_rp_send(VhChannel *ch, VhMigRpType type, const void *body,
                    guint32 len, GError **errp);
G_GNUC_WARN_UNUSED_RESULT
bool vh_mig_rp_send_loaded(VhChannel *ch, const VhMigCounts *c, GError **errp);
/* Best effort: the connection may be gone already. */
void vh_mig_rp_send_error(VhChannel *ch, const char *reason);
/*
 * Read one message. READY: true. LOADED: true with *@c filled. ERROR:
 * false, @errp = "the target refused the migration: REASON". A TLS record
 * (a TLS target's alert to a plain source): false, VH_MIG_TLS_TARGET_HINT.
 * Anything else (EOF, a malformed message): false naming it.
 */
/* One message of any type (post-copy's reader: REQ_PAGES too). */
typedef struct {
    VhMigRpType type;
    VhMigCounts counts; /* LOADED */
    guint32 block;      /* REQ_PAGES: block, count (checked 1..256), first */
    guint32 count;
    guint64 first;
} VhMigRpMsg;
G_GNUC_WARN_UNUSED_RESULT
bool vh_mig_rp_recv_msg(VhChannel *ch, VhMigRpMsg *m, GError **errp);
/* Post-copy: ask the source for pages first..first+count-1 of @block. */
G_GNUC_WARN_UNUSED_RESULT
bool vh_mig_rp_send_req_pages(VhChannel *ch, guint32 block, guint64 first,
                              guint32 count, GError **errp);
/* Resume: the target's received bitmap of @pages pages (block 0). */
G_GNUC_WARN_UNUSED_RESULT
bool vh_mig_rp_send_bitmap(VhChannel *ch, const guint64 *map, guint64 pages,
                           guint32 iteration, GError **errp);
/*
 * The source's side: exactly @pages pages' bitmap into @map, and the last
 * ITER_END the target checked (the resumed channels go on from there).
 * NOT_RUN instead: false with *@not_run set (the target never ran the
 * guest and never will).
 */
G_GNUC_WARN_UNUSED_RESULT
bool vh_mig_rp_recv_bitmap(VhChannel *ch, guint64 *map, guint64 pages,
                           guint32 *iteration, bool *not_run, GError **errp);
/* READY, LOADED or ERROR; REQ_PAGES here is an error. */
G_GNUC_WARN_UNUSED_RESULT
bool vh_mig_rp_recv(VhChannel *ch, VhMigRpType *type, VhMigCounts *c,
                    GError **errp);

G_END_DECLS
