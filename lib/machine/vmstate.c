/*
 * Device migration state: the payload writer and reader
 * (vmhost/machine/vmstate.h). The registry is the machine's (machine.c).
 */
#include "vmhost/machine/vmstate.h"

#include <string.h>

#include "vmhost/util/error.h"

void vh_state_put_u32(VhStateWriter *w, guint32 v)
{
    v = GUINT32_TO_LE(v);
    g_byte_array_append(w->buf, (const guint8 *)&v, sizeof(v));
}

void vh_state_put_u64(VhStateWriter *w, guint64 v)
{
    v = GUINT64_TO_LE(v);
    g_byte_array_append(w->buf, (const guint8 *)&v, sizeof(v));
}

void vh_state_put_bytes(VhStateWriter *w, const void *data, guint32 len)
{
    vh_state_put_u32(w, len);
    g_byte_array_append(w->buf, data, len);
}

void vh_state_put_str(VhStateWriter *w, const char *s)
{
    vh_state_put_bytes(w, s, (guint32)strlen(s));
}

void vh_state_reader_init(VhStateReader *r, const guint8 *data, guint32 len)
{
    r->p = data;
    r->end = data + len;
    r->len = len;
}

/* The next @n bytes of @field, or NULL with @errp set. */
static const guint8 *take(VhStateReader *r, const char *field, size_t n,
                          GError **errp)
{
    const guint8 *p = r->p;

    if ((size_t)(r->end - r->p) < n) {
        g_set_error(errp, VH_ERROR, VH_ERROR_FAILED,
                    "payload too short for '%s' (%u bytes)", field, r->len);
        return NULL;
    }
    r->p += n;
    return p;
}

bool vh_state_get_u32(VhStateReader *r, const char *field, guint32 *v,
                      GError **errp)
{
    const guint8 *p = take(r, field, sizeof(*v), errp);

    if (!p) {
        return false;
    }
    memcpy(v, p, sizeof(*v));
    *v = GUINT32_FROM_LE(*v);
    return true;
}

bool vh_state_get_u64(VhStateReader *r, const char *field, guint64 *v,
                      GError **errp)
{
    const guint8 *p = take(r, field, sizeof(*v), errp);

    if (!p) {
        return false;
    }
    memcpy(v, p, sizeof(*v));
    *v = GUINT64_FROM_LE(*v);
    return true;
}

bool vh_state_get_bool(VhStateReader *r, const char *field, bool *v,
                       GError **errp)
{
    guint32 u;

    if (!vh_state_get_u32(r, field, &u, errp)) {
        return false;
    }
    if (u > 1) {
        g_set_error(errp, VH_ERROR, VH_ERROR_FAILED, "%s flag %u is not 0 or 1",
                    field, u);
        return false;
    }
    *v = u == 1;
    return true;
}

char *vh_state_get_str(VhStateReader *r, const char *field, guint32 max,
                       GError **errp)
{
    const guint8 *p;
    guint32 n;

    if (!vh_state_get_u32(r, field, &n, errp)) {
        return NULL;
    }
    if (n == 0 || n > max) {
        g_set_error(errp, VH_ERROR, VH_ERROR_FAILED,
                    "%s: length %u out of range (1..%u)", field, n, max);
        return NULL;
    }
    p = take(r, field, n, errp);
    if (!p) {
        return NULL;
    }
    for (guint32 i = 0; i < n; i++) {
        if (p[i] < 0x21 || p[i] > 0x7e) {
            g_set_error(errp, VH_ERROR, VH_ERROR_FAILED,
                        "%s: byte %u (0x%02x) is not printable ASCII", field, i,
                        p[i]);
            return NULL;
        }
    }
    return g_strndup((const char *)p, n);
}

GByteArray *vh_state_get_bytes(VhStateReader *r, const char *field, guint32 max,
                               GError **errp)
{
    const guint8 *p;
    GByteArray *b;
    guint32 n;

    if (!vh_state_get_u32(r, field, &n, errp)) {
        return NULL;
    }
    if (n > max) {
        g_set_error(errp, VH_ERROR, VH_ERROR_FAILED,
                    "%s: length %u out of range (0..%u)", field, n, max);
        return NULL;
    }
    p = take(r, field, n, errp);
    if (!p) {
        return NULL;
    }
    b = g_byte_array_sized_new(n);
    g_byte_array_append(b, p, n);
    return b;
}

bool vh_state_reader_expect_len(VhStateReader *r, guint32 len, GError **errp)
{
    if (r->len != len) {
        g_set_error(errp, VH_ERROR, VH_ERROR_FAILED,
                    "payload length %u, expected %u", r->len, len);
        return false;
    }
    return true;
}

bool vh_state_reader_end(VhStateReader *r, GError **errp)
{
    if (r->p != r->end) {
        g_set_error(errp, VH_ERROR, VH_ERROR_FAILED,
                    "%u bytes after the last field of the payload",
                    (guint)(r->end - r->p));
        return false;
    }
    return true;
}
