/*
 * XDR (RFC 4506) as libvirt's remote protocol uses it: a writer that
 * appends to a GByteArray and a bounds-checked reader over a byte range.
 * Knows no procedure; the server (rpc/server.h) and the client library
 * build their messages from these calls.
 *
 *     g_autoptr(GByteArray) b = g_byte_array_new();
 *     vh_xdr_put_string(b, "vm1");
 *     vh_xdr_put_opaque_fixed(b, uuid, 16);
 *     vh_xdr_put_i32(b, -1);
 *
 *     VhXdrReader r = VH_XDR_READER_INIT(b->data, b->len);
 *     g_autofree char *name = NULL;
 *     guint8 u[16];
 *     gint32 id;
 *     if (!vh_xdr_get_string(&r, VH_XDR_STRING_MAX, &name, errp) ||
 *         !vh_xdr_get_opaque_fixed(&r, u, 16, errp) ||
 *         !vh_xdr_get_i32(&r, &id, errp) || !vh_xdr_end(&r, errp)) ...
 *
 * Every reader call checks the bytes left before it reads, checks that
 * padding to 4 bytes is zero, and fails with VH_VIR_ERROR /
 * VH_VIR_ERR_RPC naming the field's offset; a failed reader call leaves
 * its out parameter untouched (strings: NULL). Wire facts (RFC 4506 4.x):
 * every item is a multiple of 4 bytes, big-endian; `unsigned char` and
 * `short` take 4 bytes; a bool is a u32 0/1; an optional (`type *`) is a
 * bool then the item; arrays and strings are a u32 count then the items.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>

#include "vmhost/util/vir-error.h"

G_BEGIN_DECLS

/* libvirt's REMOTE_STRING_MAX: the longest string in any message. */
#define VH_XDR_STRING_MAX (4u * 1024 * 1024)

typedef struct {
    const guint8 *data;
    gsize len;
    gsize pos;
} VhXdrReader;

#define VH_XDR_READER_INIT(d, l)                                               \
    {                                                                          \
        .data = (const guint8 *)(d), .len = (l), .pos = 0                      \
    }

/* Writers: they cannot fail (GByteArray aborts on OOM). */
void vh_xdr_put_u32(GByteArray *b, guint32 v);
void vh_xdr_put_i32(GByteArray *b, gint32 v);
void vh_xdr_put_u64(GByteArray *b, guint64 v); /* unsigned hyper */
void vh_xdr_put_i64(GByteArray *b, gint64 v);  /* hyper */
void vh_xdr_put_bool(GByteArray *b, bool v);
/* @s must not be NULL */
void vh_xdr_put_string(GByteArray *b, const char *s);
/* bool present + string */
void vh_xdr_put_opt_string(GByteArray *b, const char *s);
void vh_xdr_put_opaque_fixed(GByteArray *b, const void *data, gsize len);
void vh_xdr_put_opaque(GByteArray *b, const void *data, gsize len);
/* Overwrite the u32 at @offset (a count or length written before). */
void vh_xdr_patch_u32(GByteArray *b, gsize offset, guint32 v);

/* Readers. */
G_GNUC_WARN_UNUSED_RESULT
bool vh_xdr_get_u32(VhXdrReader *r, guint32 *v, GError **errp);
G_GNUC_WARN_UNUSED_RESULT
bool vh_xdr_get_i32(VhXdrReader *r, gint32 *v, GError **errp);
G_GNUC_WARN_UNUSED_RESULT
bool vh_xdr_get_u64(VhXdrReader *r, guint64 *v, GError **errp);
G_GNUC_WARN_UNUSED_RESULT
bool vh_xdr_get_i64(VhXdrReader *r, gint64 *v, GError **errp);
/* Only 0 and 1 are booleans; anything else is an error. */
G_GNUC_WARN_UNUSED_RESULT
bool vh_xdr_get_bool(VhXdrReader *r, bool *v, GError **errp);
/*
 * A string of at most @max bytes (0: VH_XDR_STRING_MAX) without NUL bytes;
 * *s is (transfer full), NUL-terminated.
 */
G_GNUC_WARN_UNUSED_RESULT
bool vh_xdr_get_string(VhXdrReader *r, guint32 max, char **s, GError **errp);
/* An optional string: *s is NULL when absent. */
G_GNUC_WARN_UNUSED_RESULT
bool vh_xdr_get_opt_string(VhXdrReader *r, guint32 max, char **s,
                           GError **errp);
G_GNUC_WARN_UNUSED_RESULT
bool vh_xdr_get_opaque_fixed(VhXdrReader *r, void *out, gsize len,
                             GError **errp);
/* Variable opaque of at most @max bytes; *data is (transfer full), never
 * NULL on success (a 1-byte zeroed buffer when *len is 0). */
G_GNUC_WARN_UNUSED_RESULT
bool vh_xdr_get_opaque(VhXdrReader *r, guint32 max, guint8 **data, guint32 *len,
                       GError **errp);
/*
 * An array's count, at most @max, and at least @min_item_size bytes per
 * item must be left (so a forged count cannot make the caller allocate
 * more than the packet holds).
 */
G_GNUC_WARN_UNUSED_RESULT
bool vh_xdr_get_count(VhXdrReader *r, guint32 max, gsize min_item_size,
                      guint32 *n, GError **errp);
/* Every byte consumed: trailing data is an error. */
G_GNUC_WARN_UNUSED_RESULT
bool vh_xdr_end(VhXdrReader *r, GError **errp);

static inline gsize vh_xdr_remaining(const VhXdrReader *r)
{
    return r->len - r->pos;
}

G_END_DECLS
