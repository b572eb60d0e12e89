/*
 * XDR encoding and bounds-checked decoding (RFC 4506 sections 4.1-4.13).
 */
#include "vmhost/rpc/xdr.h"

#include <string.h>

static const guint8 zeros[4];

static gsize pad4(gsize n)
{
    return (4 - (n & 3)) & 3;
}

void vh_xdr_put_u32(GByteArray *b, guint32 v)
{
    guint32 be = GUINT32_TO_BE(v);

    g_byte_array_append(b, (const guint8 *)&be, 4);
}

void vh_xdr_put_i32(GByteArray *b, gint32 v)
{
    vh_xdr_put_u32(b, (guint32)v);
}

void vh_xdr_put_u64(GByteArray *b, guint64 v)
{
    vh_xdr_put_u32(b, (guint32)(v >> 32));
    vh_xdr_put_u32(b, (guint32)v);
}

void vh_xdr_put_i64(GByteArray *b, gint64 v)
{
    vh_xdr_put_u64(b, (guint64)v);
}

void vh_xdr_put_bool(GByteArray *b, bool v)
{
    vh_xdr_put_u32(b, v ? 1 : 0);
}

void vh_xdr_put_opaque_fixed(GByteArray *b, const void *data, gsize len)
{
    if (len) {
        g_byte_array_append(b, data, len);
    }
    g_byte_array_append(b, zeros, pad4(len));
}

void vh_xdr_put_opaque(GByteArray *b, const void *data, gsize len)
{
    g_assert(len <= G_MAXUINT32);
    vh_xdr_put_u32(b, (guint32)len);
    vh_xdr_put_opaque_fixed(b, data, len);
}

void vh_xdr_put_string(GByteArray *b, const char *s)
{
    vh_xdr_put_opaque(b, s, strlen(s));
}

void vh_xdr_put_opt_string(GByteArray *b, const char *s)
{
    vh_xdr_put_bool(b, s != NULL);
    if (s) {
        vh_xdr_put_string(b, s);
    }
}

void vh_xdr_patch_u32(GByteArray *b, gsize offset, guint32 v)
{
    guint32 be = GUINT32_TO_BE(v);

    g_assert(offset + 4 <= b->len);
    memcpy(b->data + offset, &be, 4);
}

static bool need(VhXdrReader *r, gsize n, const char *what, GError **errp)
{
    if (vh_xdr_remaining(r) < n) {
        g_set_error(errp, VH_VIR_ERROR, VH_VIR_ERR_RPC,
                    "truncated message: %s at offset %" G_GSIZE_FORMAT
                    " needs %" G_GSIZE_FORMAT " bytes, %" G_GSIZE_FORMAT
                    " left",
                    what, r->pos, n, vh_xdr_remaining(r));
        return false;
    }
    return true;
}

bool vh_xdr_get_u32(VhXdrReader *r, guint32 *v, GError **errp)
{
    guint32 be;

    if (!need(r, 4, "integer", errp)) {
        return false;
    }
    memcpy(&be, r->data + r->pos, 4);
    r->pos += 4;
    *v = GUINT32_FROM_BE(be);
    return true;
}

bool vh_xdr_get_i32(VhXdrReader *r, gint32 *v, GError **errp)
{
    guint32 u;

    if (!vh_xdr_get_u32(r, &u, errp)) {
        return false;
    }
    *v = (gint32)u;
    return true;
}

bool vh_xdr_get_u64(VhXdrReader *r, guint64 *v, GError **errp)
{
    guint32 hi, lo;

    if (!need(r, 8, "hyper", errp)) {
        return false;
    }
    if (!vh_xdr_get_u32(r, &hi, errp) || !vh_xdr_get_u32(r, &lo, errp)) {
        return false;
    }
    *v = ((guint64)hi << 32) | lo;
    return true;
}

bool vh_xdr_get_i64(VhXdrReader *r, gint64 *v, GError **errp)
{
    guint64 u;

    if (!vh_xdr_get_u64(r, &u, errp)) {
        return false;
    }
    *v = (gint64)u;
    return true;
}

bool vh_xdr_get_bool(VhXdrReader *r, bool *v, GError **errp)
{
    guint32 u;
    gsize at = r->pos;

    if (!vh_xdr_get_u32(r, &u, errp)) {
        return false;
    }
    if (u > 1) {
        r->pos = at;
        g_set_error(errp, VH_VIR_ERROR, VH_VIR_ERR_RPC,
                    "invalid boolean %u at offset %" G_GSIZE_FORMAT, u, at);
        return false;
    }
    *v = u;
    return true;
}

/* @len bytes of data then padding, which must be zero. */
static bool take(VhXdrReader *r, gsize len, const guint8 **p, const char *what,
                 GError **errp)
{
    gsize pad = pad4(len);

    if (!need(r, len + pad, what, errp)) {
        return false;
    }
    if (memcmp(r->data + r->pos + len, zeros, pad) != 0) {
        g_set_error(errp, VH_VIR_ERROR, VH_VIR_ERR_RPC,
                    "non-zero padding after the %s at offset %" G_GSIZE_FORMAT,
                    what, r->pos);
        return false;
    }
    *p = r->data + r->pos;
    r->pos += len + pad;
    return true;
}

bool vh_xdr_get_opaque_fixed(VhXdrReader *r, void *out, gsize len,
                             GError **errp)
{
    const guint8 *p;

    if (!take(r, len, &p, "fixed opaque", errp)) {
        return false;
    }
    memcpy(out, p, len);
    return true;
}

static bool get_length(VhXdrReader *r, guint32 max, const char *what,
                       guint32 *len, GError **errp)
{
    gsize at = r->pos;

    if (!vh_xdr_get_u32(r, len, errp)) {
        return false;
    }
    if (*len > max) {
        r->pos = at;
        g_set_error(errp, VH_VIR_ERROR, VH_VIR_ERR_RPC,
                    "%s at offset %" G_GSIZE_FORMAT
                    " is %u bytes long, more than the limit of %u",
                    what, at, *len, max);
        return false;
    }
    return true;
}

bool vh_xdr_get_opaque(VhXdrReader *r, guint32 max, guint8 **data, guint32 *len,
                       GError **errp)
{
    gsize at = r->pos;
    guint32 n;
    const guint8 *p;

    if (!get_length(r, max, "opaque data", &n, errp)) {
        return false;
    }
    if (!take(r, n, &p, "opaque data", errp)) {
        r->pos = at;
        return false;
    }
    /* Never NULL, so a caller can tell "empty" from "not read"; an empty
     * one may sit at the very end of the buffer, with nothing to copy. */
    *data = n ? g_memdup2(p, n) : g_malloc0(1);
    *len = n;
    return true;
}

bool vh_xdr_get_string(VhXdrReader *r, guint32 max, char **s, GError **errp)
{
    gsize at = r->pos;
    guint32 n;
    const guint8 *p;

    *s = NULL;
    if (!get_length(r, max ? max : VH_XDR_STRING_MAX, "string", &n, errp)) {
        return false;
    }
    if (!take(r, n, &p, "string", errp)) {
        r->pos = at;
        return false;
    }
    if (memchr(p, '\0', n)) {
        r->pos = at;
        g_set_error(errp, VH_VIR_ERROR, VH_VIR_ERR_RPC,
                    "string at offset %" G_GSIZE_FORMAT " contains a NUL byte",
                    at);
        return false;
    }
    *s = g_strndup((const char *)p, n);
    return true;
}

bool vh_xdr_get_opt_string(VhXdrReader *r, guint32 max, char **s, GError **errp)
{
    gsize at = r->pos;
    bool present;

    *s = NULL;
    if (!vh_xdr_get_bool(r, &present, errp)) {
        return false;
    }
    if (present && !vh_xdr_get_string(r, max, s, errp)) {
        r->pos = at;
        return false;
    }
    return true;
}

bool vh_xdr_get_count(VhXdrReader *r, guint32 max, gsize min_item_size,
                      guint32 *n, GError **errp)
{
    gsize at = r->pos;
    guint32 c;

    if (!vh_xdr_get_u32(r, &c, errp)) {
        return false;
    }
    if (c > max) {
        r->pos = at;
        g_set_error(errp, VH_VIR_ERROR, VH_VIR_ERR_RPC,
                    "array at offset %" G_GSIZE_FORMAT
                    " has %u items, more than the limit of %u",
                    at, c, max);
        return false;
    }
    if (min_item_size && (gsize)c > vh_xdr_remaining(r) / min_item_size) {
        r->pos = at;
        g_set_error(errp, VH_VIR_ERROR, VH_VIR_ERR_RPC,
                    "truncated message: array at offset %" G_GSIZE_FORMAT
                    " claims %u items, only %" G_GSIZE_FORMAT " bytes left",
                    at, c, vh_xdr_remaining(r));
        return false;
    }
    *n = c;
    return true;
}

bool vh_xdr_end(VhXdrReader *r, GError **errp)
{
    if (r->pos != r->len) {
        g_set_error(errp, VH_VIR_ERROR, VH_VIR_ERR_RPC,
                    "%" G_GSIZE_FORMAT
                    " unexpected trailing bytes after the message "
                    "payload at offset %" G_GSIZE_FORMAT,
                    r->len - r->pos, r->pos);
        return false;
    }
    return true;
}
