/*
 * The return path (vmhost/migration/return-path.h): the target's answers
 * on the main connection, and recognising a TLS peer where the plain
 * stream belongs.
 */
#include "stream-priv.h"

#include "vmhost/util/error.h"

bool vh_mig_is_tls_record(const guint8 *p)
{
    return (p[0] == VH_MIG_TLS_CONTENT_ALERT ||
            p[0] == VH_MIG_TLS_CONTENT_HANDSHAKE) &&
           p[1] == VH_MIG_TLS_VERSION_MAJOR &&
           p[2] <= VH_MIG_TLS_VERSION_MINOR_MAX;
}

bool vh_mig_rp_send(VhChannel *ch, VhMigRpType type, const void *body,
                    guint32 len, GError **errp)
{
    g_autoptr(GByteArray) b = g_byte_array_new();

    vh_mig_put_u32(b, type);
    vh_mig_put_u32(b, len);
    if (len) {
        g_byte_array_append(b, body, len);
    }
    return vh_channel_write_all(ch, b->data, b->len, errp);
}

bool vh_mig_rp_send_loaded(VhChannel *ch, const VhMigCounts *c, GError **errp)
{
    g_autoptr(GByteArray) b = g_byte_array_new();

    vh_mig_put_u64(b, c->records);
    vh_mig_put_u64(b, c->normal);
    vh_mig_put_u64(b, c->zero);
    return vh_mig_rp_send(ch, VH_MIG_RP_LOADED, b->data, b->len, errp);
}

void vh_mig_rp_send_error(VhChannel *ch, const char *reason)
{
    g_autoptr(GError) err = NULL;
    size_t len = MIN(strlen(reason), VH_MIG_RP_ERROR_MAX);

    if (!vh_mig_rp_send(ch, VH_MIG_RP_ERROR, reason, (guint32)len, &err)) {
        g_debug("migration: cannot tell the source why: %s", err->message);
    }
}

bool vh_mig_rp_send_bitmap(VhChannel *ch, const guint64 *map, guint64 pages,
                           guint32 iteration, GError **errp)
{
    g_autoptr(GByteArray) b = g_byte_array_new();
    guint64 words = (pages + 63) / 64;

    vh_mig_put_u32(b, VH_MIG_RP_RECV_BITMAP);
    vh_mig_put_u32(b, (guint32)(VH_MIG_RP_RECV_BITMAP_BASE + words * 8));
    vh_mig_put_u32(b, 0);
    vh_mig_put_u32(b, iteration);
    vh_mig_put_u64(b, pages);
    for (guint64 w = 0; w < words; w++) {
        vh_mig_put_u64(b, __atomic_load_n(&map[w], __ATOMIC_ACQUIRE));
    }
    return vh_channel_write_all(ch, b->data, b->len, errp);
}

static bool rp_read_header(VhChannel *ch, guint8 *hdr, GError **errp);

bool vh_mig_rp_recv_bitmap(VhChannel *ch, guint64 *map, guint64 pages,
                           guint32 *iteration, bool *not_run, GError **errp)
{
    guint8 hdr[VH_MIG_RP_HEADER_SIZE + VH_MIG_RP_RECV_BITMAP_BASE];
    const guint8 *p = hdr;
    guint64 words = (pages + 63) / 64;
    g_autofree guint64 *raw = g_new(guint64, words);
    g_autoptr(GError) err = NULL;
    guint32 type, len, block;
    guint64 n;

    /* A refused TLS session (tls-authz) ends here without an answer. */
    if (!rp_read_header(ch, hdr, errp)) {
        g_prefix_error(errp, "RECV_BITMAP: ");
        return false;
    }
    type = vh_mig_take_u32(&p);
    len = vh_mig_take_u32(&p);
    *not_run = false;
    if (type == VH_MIG_RP_ERROR) {
        g_set_error_literal(errp, VH_ERROR, VH_ERROR_FAILED,
                            "the target refused to resume");
        return false;
    }
    if (type == VH_MIG_RP_NOT_RUN && len == 0) {
        *not_run = true;
        g_set_error_literal(errp, VH_ERROR, VH_ERROR_FAILED,
                            "the target says POSTCOPY_RUN never reached it: "
                            "it never ran the guest and has dropped the "
                            "migration");
        return false;
    }
    if (!vh_channel_read_all(ch, hdr + VH_MIG_RP_HEADER_SIZE,
                             VH_MIG_RP_RECV_BITMAP_BASE, &err)) {
        g_set_error(errp, VH_ERROR, VH_ERROR_FAILED,
                    "return path from the target: RECV_BITMAP: %s",
                    err->message);
        return false;
    }
    block = vh_mig_take_u32(&p);
    *iteration = vh_mig_take_u32(&p);
    n = vh_mig_take_u64(&p);
    if (type != VH_MIG_RP_RECV_BITMAP || block != 0 || n != pages ||
        len != VH_MIG_RP_RECV_BITMAP_BASE + words * 8) {
        g_set_error(errp, VH_ERROR, VH_ERROR_FAILED,
                    "return path from the target: malformed RECV_BITMAP "
                    "(type %u, length %u, block %u, %" G_GUINT64_FORMAT
                    " pages)",
                    type, len, block, n);
        return false;
    }
    if (!vh_channel_read_all(ch, raw, words * 8, &err)) {
        g_set_error(errp, VH_ERROR, VH_ERROR_FAILED,
                    "return path from the target: RECV_BITMAP: %s",
                    err->message);
        return false;
    }
    for (guint64 w = 0; w < words; w++) {
        map[w] = GUINT64_FROM_LE(raw[w]);
    }
    return true;
}

/* The messages a source takes, with the body lengths each may have. */
typedef struct {
    VhMigRpType type;
    const char *name;
    guint32 min_len;
    guint32 max_len;
} RpKind;

static const RpKind rp_kinds[] = {
    {VH_MIG_RP_READY, "READY", 0, 0},
    {VH_MIG_RP_LOADED, "LOADED", VH_MIG_RP_LOADED_BODY, VH_MIG_RP_LOADED_BODY},
    {VH_MIG_RP_ERROR, "ERROR", 0, VH_MIG_RP_ERROR_MAX},
    {VH_MIG_RP_REQ_PAGES, "REQ_PAGES", VH_MIG_RP_REQ_PAGES_BODY,
     VH_MIG_RP_REQ_PAGES_BODY},
};

bool vh_mig_rp_send_req_pages(VhChannel *ch, guint32 block, guint64 first,
                              guint32 count, GError **errp)
{
    g_autoptr(GByteArray) b = g_byte_array_new();

    vh_mig_put_u32(b, block);
    vh_mig_put_u32(b, count);
    vh_mig_put_u64(b, first);
    return vh_mig_rp_send(ch, VH_MIG_RP_REQ_PAGES, b->data, b->len, errp);
}

static const RpKind *rp_kind(guint32 type, guint32 len)
{
    for (guint i = 0; i < G_N_ELEMENTS(rp_kinds); i++) {
        if (rp_kinds[i].type == type) {
            return len >= rp_kinds[i].min_len && len <= rp_kinds[i].max_len
                       ? &rp_kinds[i]
                       : NULL;
        }
    }
    return NULL;
}

/*
 * A message's header. The first bytes alone come first: a TLS target
 * answers a plain source with an alert of 7 bytes and closes, which is no
 * message of 8.
 */
static bool rp_read_header(VhChannel *ch, guint8 *hdr, GError **errp)
{
    g_autoptr(GError) err = NULL;
    int r = vh_channel_read_all_eof(ch, hdr, VH_MIG_TLS_RECORD_PEEK, &err);

    if (r > 0 && vh_mig_is_tls_record(hdr)) {
        g_set_error_literal(errp, VH_ERROR, VH_ERROR_FAILED,
                            VH_MIG_TLS_TARGET_HINT
                            ": it answered with a TLS record");
        return false;
    }
    if (r > 0 && !vh_channel_read_all(
                     ch, hdr + VH_MIG_TLS_RECORD_PEEK,
                     VH_MIG_RP_HEADER_SIZE - VH_MIG_TLS_RECORD_PEEK, &err)) {
        r = -1;
    }
    if (r == 0) {
        g_set_error_literal(errp, VH_ERROR, VH_ERROR_FAILED,
                            "the target closed the connection without an "
                            "answer (it refused this source, e.g. by "
                            "tls-authz, or failed)");
        return false;
    }
    if (r < 0) {
        g_set_error(errp, VH_ERROR, VH_ERROR_FAILED,
                    "return path from the target: %s", err->message);
        return false;
    }
    return true;
}

/* What the message says, its body read into @body (@len bytes). */
static bool rp_handle(const RpKind *k, guint8 *body, guint32 len, VhMigRpMsg *m,
                      GError **errp)
{
    const guint8 *p = body;
    VhMigCounts *c = &m->counts;

    switch (k->type) {
    case VH_MIG_RP_READY:
        return true;
    case VH_MIG_RP_REQ_PAGES:
        m->block = vh_mig_take_u32(&p);
        m->count = vh_mig_take_u32(&p);
        m->first = vh_mig_take_u64(&p);
        if (m->count == 0 || m->count > VH_MIG_RECORD_PAGES) {
            g_set_error(errp, VH_ERROR, VH_ERROR_FAILED,
                        "return path from the target: REQ_PAGES: page count "
                        "%u out of range (1..%u)",
                        m->count, VH_MIG_RECORD_PAGES);
            return false;
        }
        return true;
    case VH_MIG_RP_LOADED:
        memset(c, 0, sizeof(*c));
        c->records = vh_mig_take_u64(&p);
        c->normal = vh_mig_take_u64(&p);
        c->zero = vh_mig_take_u64(&p);
        return true;
    case VH_MIG_RP_ERROR:
    default:
        body[len] = 0;
        g_set_error(errp, VH_ERROR, VH_ERROR_FAILED,
                    "the target refused the migration: %s",
                    g_utf8_validate((char *)body, len, NULL)
                        ? (char *)body
                        : "(reason not valid UTF-8)");
        return false;
    }
}

bool vh_mig_rp_recv_msg(VhChannel *ch, VhMigRpMsg *m, GError **errp)
{
    guint8 hdr[VH_MIG_RP_HEADER_SIZE];
    guint8 body[VH_MIG_RP_ERROR_MAX + 1];
    g_autoptr(GError) err = NULL;
    const guint8 *p = hdr;
    const RpKind *k;
    guint32 t, len;

    G_STATIC_ASSERT(VH_MIG_RP_LOADED_BODY <= VH_MIG_RP_ERROR_MAX);
    if (!rp_read_header(ch, hdr, errp)) {
        return false;
    }
    t = vh_mig_take_u32(&p);
    len = vh_mig_take_u32(&p);
    k = rp_kind(t, len);
    if (!k) {
        g_set_error(errp, VH_ERROR, VH_ERROR_FAILED,
                    "return path from the target: malformed message (type "
                    "%u, length %u)",
                    t, len);
        return false;
    }
    if (len && !vh_channel_read_all(ch, body, len, &err)) {
        g_set_error(errp, VH_ERROR, VH_ERROR_FAILED,
                    "return path from the target: %s: %s", k->name,
                    err->message);
        return false;
    }
    memset(m, 0, sizeof(*m));
    m->type = k->type;
    return rp_handle(k, body, len, m, errp);
}

bool vh_mig_rp_recv(VhChannel *ch, VhMigRpType *type, VhMigCounts *c,
                    GError **errp)
{
    VhMigRpMsg m;

    if (!vh_mig_rp_recv_msg(ch, &m, errp)) {
        return false;
    }
    if (m.type == VH_MIG_RP_REQ_PAGES) {
        g_set_error_literal(errp, VH_ERROR, VH_ERROR_FAILED,
                            "return path from the target: REQ_PAGES outside "
                            "post-copy");
        return false;
    }
    *type = m.type;
    *c = m.counts;
    return true;
}
