/*
 * The migration stream: writers for the source, the checking loader for
 * the target. The format is docs/migration-stream.md.
 */
#include "vmhost/migration/stream.h"

#include <string.h>

#include "vmhost/util/error.h"

#define PFX "migration stream: "

/* A multifd channel must connect within this long after the main header. */
#define CHANNEL_CONNECT_TIMEOUT_US (30 * G_USEC_PER_SEC)

/* ---- little-endian helpers ---- */

static guint32 get_u32(const guint8 *p)
{
    guint32 v;

    memcpy(&v, p, 4);
    return GUINT32_FROM_LE(v);
}

static guint64 get_u64(const guint8 *p)
{
    guint64 v;

    memcpy(&v, p, 8);
    return GUINT64_FROM_LE(v);
}

void vh_mig_put_u32(GByteArray *b, guint32 v)
{
    v = GUINT32_TO_LE(v);
    g_byte_array_append(b, (const guint8 *)&v, 4);
}

void vh_mig_put_u64(GByteArray *b, guint64 v)
{
    v = GUINT64_TO_LE(v);
    g_byte_array_append(b, (const guint8 *)&v, 8);
}

static void put_str(GByteArray *b, const char *s)
{
    vh_mig_put_u32(b, (guint32)strlen(s));
    g_byte_array_append(b, (const guint8 *)s, (guint)strlen(s));
}

/* ---- writing ---- */

void vh_mig_put_header(GByteArray *b, guint32 flags, guint32 channels,
                       const guint8 uuid[16])
{
    g_byte_array_append(b, (const guint8 *)VH_MIG_STREAM_MAGIC, 8);
    vh_mig_put_u32(b, VH_MIG_STREAM_VERSION);
    vh_mig_put_u32(b, VH_RAM_PAGE_SIZE);
    vh_mig_put_u32(b, flags);
    vh_mig_put_u32(b, channels);
    g_byte_array_append(b, uuid, 16);
    vh_mig_put_u64(b, 0);
}

void vh_mig_put_hello(GByteArray *b, guint32 index, const guint8 uuid[16])
{
    g_byte_array_append(b, (const guint8 *)VH_MIG_CHANNEL_MAGIC, 8);
    vh_mig_put_u32(b, VH_MIG_STREAM_VERSION);
    vh_mig_put_u32(b, index);
    g_byte_array_append(b, uuid, 16);
    vh_mig_put_u64(b, 0);
}

void vh_mig_put_section(GByteArray *b, VhMigSection type, guint32 len)
{
    vh_mig_put_u32(b, type);
    vh_mig_put_u32(b, len);
}

void vh_mig_put_ram_setup(GByteArray *b, VhRamBlock *ram)
{
    const char *name = vh_ram_block_get_name(ram);

    vh_mig_put_section(b, VH_MIG_SEC_RAM_SETUP,
                       4 + 4 + (guint32)strlen(name) + 8 + 8);
    vh_mig_put_u32(b, 1);
    put_str(b, name);
    vh_mig_put_u64(b, vh_ram_block_get_size(ram));
    vh_mig_put_u64(b, vh_ram_block_get_pages(ram));
}

void vh_mig_put_iter_end(GByteArray *b, guint64 iteration, guint32 channels,
                         const guint64 *packets)
{
    vh_mig_put_section(b, VH_MIG_SEC_ITER_END, 16 + 8 * channels);
    vh_mig_put_u64(b, iteration);
    vh_mig_put_u32(b, channels);
    vh_mig_put_u32(b, 0);
    for (guint32 i = 0; i < channels; i++) {
        vh_mig_put_u64(b, packets[i]);
    }
}

void vh_mig_put_machine(GByteArray *b, bool running)
{
    vh_mig_put_section(b, VH_MIG_SEC_MACHINE, 8);
    vh_mig_put_u32(b, running ? 1 : 0);
    vh_mig_put_u32(b, 0);
}

void vh_mig_put_device_section(GByteArray *b, const char *name,
                               guint32 instance, guint32 version,
                               const void *payload, guint32 len)
{
    guint32 nlen = (guint32)strlen(name);

    vh_mig_put_section(b, VH_MIG_SEC_DEVICE, 4 + nlen + 12 + len);
    put_str(b, name);
    vh_mig_put_u32(b, instance);
    vh_mig_put_u32(b, version);
    vh_mig_put_u32(b, len);
    g_byte_array_append(b, payload, len);
}

void vh_mig_put_device(GByteArray *b, const VhDeviceEntry *e)
{
    g_autoptr(GByteArray) payload = g_byte_array_new();
    VhStateWriter w = {.buf = payload};

    e->ops->save(e->dev, &w);
    g_assert(payload->len <= VH_MIG_DEVICE_MAX);
    vh_mig_put_device_section(b, e->ops->name, e->instance, e->ops->version,
                              payload->data, payload->len);
}

void vh_mig_put_devices(GByteArray *b, GArray *devices, bool running)
{
    vh_mig_put_machine(b, running);
    for (guint i = 0; devices && i < devices->len; i++) {
        vh_mig_put_device(b, &g_array_index(devices, VhDeviceEntry, i));
    }
}

void vh_mig_put_end(GByteArray *b, const VhMigCounts *c)
{
    vh_mig_put_section(b, VH_MIG_SEC_END, 32);
    vh_mig_put_u64(b, c->records);
    vh_mig_put_u64(b, c->normal);
    vh_mig_put_u64(b, c->zero);
    vh_mig_put_u64(b, c->iterations);
}

bool vh_mig_page_is_zero(const void *p)
{
    const guint64 *w = p;

    /* Random data differs from zero in the first word almost always. */
    if (w[0] | w[1] | w[2] | w[3]) {
        return false;
    }
    if (w[4] | w[5] | w[6] | w[7]) {
        return false;
    }
    for (guint i = 8; i < VH_RAM_PAGE_SIZE / 8; i += 8) {
        if (w[i] | w[i + 1] | w[i + 2] | w[i + 3] | w[i + 4] | w[i + 5] |
            w[i + 6] | w[i + 7]) {
            return false;
        }
    }
    return true;
}

static bool bit_test(const guint64 *map, guint i)
{
    return (map[i / 64] >> (i % 64)) & 1;
}

gint64 vh_mig_send_pages(VhChannel *ch, VhRamBlock *ram, guint32 block,
                         guint64 first, guint32 count, const guint64 present[4],
                         VhMigCounts *c, GError **errp)
{
    return vh_mig_send_pages_hint(ch, ram, block, first, count, present, NULL,
                                  c, errp);
}

gint64 vh_mig_send_pages_hint(VhChannel *ch, VhRamBlock *ram, guint32 block,
                              guint64 first, guint32 count,
                              const guint64 present[4],
                              const guint64 known_zero[4], VhMigCounts *c,
                              GError **errp)
{
    guint8 *host = vh_ram_block_get_host(ram);
    guint8 hdr[8 + VH_MIG_PAGES_BODY];
    struct iovec iov[1 + VH_MIG_RECORD_PAGES];
    guint64 zero[4] = {0, 0, 0, 0};
    guint64 pres[4];
    size_t niov = 1;
    guint64 normal = 0, nzero = 0;
    g_autoptr(GByteArray) b = g_byte_array_sized_new(sizeof(hdr));

    g_assert(count >= 1 && count <= VH_MIG_RECORD_PAGES);
    for (guint i = 0; i < 4; i++) {
        pres[i] = present[i];
    }
    for (guint32 i = 0; i < count; i++) {
        guint8 *page;

        if (!bit_test(pres, i)) {
            continue;
        }
        page = host + (first + i) * VH_RAM_PAGE_SIZE;
        /* Known zero: not read, so never faulted in. */
        if ((known_zero && bit_test(known_zero, i)) ||
            vh_mig_page_is_zero(page)) {
            zero[i / 64] |= 1ULL << (i % 64);
            nzero++;
            continue;
        }
        normal++;
        /* Neighbouring pages share one iovec entry. */
        if (niov > 1 &&
            (guint8 *)iov[niov - 1].iov_base + iov[niov - 1].iov_len == page) {
            iov[niov - 1].iov_len += VH_RAM_PAGE_SIZE;
        } else {
            iov[niov].iov_base = page;
            iov[niov].iov_len = VH_RAM_PAGE_SIZE;
            niov++;
        }
    }
    vh_mig_put_section(b, VH_MIG_SEC_PAGES, VH_MIG_PAGES_BODY);
    vh_mig_put_u32(b, block);
    vh_mig_put_u32(b, count);
    vh_mig_put_u64(b, first);
    for (guint i = 0; i < 4; i++) {
        vh_mig_put_u64(b, pres[i]);
    }
    for (guint i = 0; i < 4; i++) {
        vh_mig_put_u64(b, zero[i]);
    }
    g_assert(b->len == sizeof(hdr));
    iov[0].iov_base = b->data;
    iov[0].iov_len = b->len;
    if (!vh_channel_writev_all(ch, iov, niov, errp)) {
        return -1;
    }
    c->records++;
    c->normal += normal;
    c->zero += nzero;
    return (gint64)(sizeof(hdr) + normal * VH_RAM_PAGE_SIZE);
}

/* ---- a TLS peer where vmhost's plain stream belongs ---- */

enum {
    TLS_CONTENT_ALERT = 21, /* RFC 8446 5.1, ContentType */
    TLS_CONTENT_HANDSHAKE = 22,
    TLS_VERSION_MAJOR = 3, /* SSL 3.0 .. TLS 1.3: 3.0 .. 3.4 */
    TLS_VERSION_MINOR_MAX = 4,
};

bool vh_mig_is_tls_record(const guint8 *p)
{
    return (p[0] == TLS_CONTENT_ALERT || p[0] == TLS_CONTENT_HANDSHAKE) &&
           p[1] == TLS_VERSION_MAJOR && p[2] <= TLS_VERSION_MINOR_MAX;
}

/* ---- return path ---- */

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

bool vh_mig_rp_recv(VhChannel *ch, VhMigRpType *type, VhMigCounts *c,
                    GError **errp)
{
    guint8 hdr[8];
    guint8 body[VH_MIG_RP_ERROR_MAX + 1];
    g_autoptr(GError) err = NULL;
    guint32 t, len;
    int r;

    /*
     * The first bytes alone: a TLS target answers a plain source with an
     * alert of 7 bytes and closes, which is no message of 8.
     */
    r = vh_channel_read_all_eof(ch, hdr, VH_MIG_TLS_RECORD_PEEK, &err);
    if (r > 0 && vh_mig_is_tls_record(hdr)) {
        g_set_error_literal(errp, VH_ERROR, VH_ERROR_FAILED,
                            VH_MIG_TLS_TARGET_HINT
                            ": it answered with a TLS record");
        return false;
    }
    if (r > 0 &&
        !vh_channel_read_all(ch, hdr + VH_MIG_TLS_RECORD_PEEK,
                             sizeof(hdr) - VH_MIG_TLS_RECORD_PEEK, &err)) {
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
    t = get_u32(hdr);
    len = get_u32(hdr + 4);
    switch (t) {
    case VH_MIG_RP_READY:
        if (len != 0) {
            break;
        }
        *type = VH_MIG_RP_READY;
        return true;
    case VH_MIG_RP_LOADED:
        if (len != 24) {
            break;
        }
        if (!vh_channel_read_all(ch, body, 24, &err)) {
            g_set_error(errp, VH_ERROR, VH_ERROR_FAILED,
                        "return path from the target: LOADED: %s",
                        err->message);
            return false;
        }
        memset(c, 0, sizeof(*c));
        c->records = get_u64(body);
        c->normal = get_u64(body + 8);
        c->zero = get_u64(body + 16);
        *type = VH_MIG_RP_LOADED;
        return true;
    case VH_MIG_RP_ERROR:
        if (len > VH_MIG_RP_ERROR_MAX) {
            break;
        }
        if (!vh_channel_read_all(ch, body, len, &err)) {
            g_set_error(errp, VH_ERROR, VH_ERROR_FAILED,
                        "return path from the target: ERROR: %s", err->message);
            return false;
        }
        body[len] = 0;
        g_set_error(errp, VH_ERROR, VH_ERROR_FAILED,
                    "the target refused the migration: %s",
                    g_utf8_validate((char *)body, len, NULL)
                        ? (char *)body
                        : "(reason not valid UTF-8)");
        return false;
    default:
        break;
    }
    g_set_error(errp, VH_ERROR, VH_ERROR_FAILED,
                "return path from the target: malformed message (type %u, "
                "length %u)",
                t, len);
    return false;
}

/* ---- loading ---- */

typedef struct {
    bool connected;
    bool done;
    guint64 synced_iter; /* the last SYNC this channel reached */
    guint64 sync_packets;
    guint64 total_packets;
} ChanState;

struct VhMigLoader {
    VhRamBlock *ram;
    guint64 pages;
    guint8 *host;
    bool allow_multifd;
    GArray *devices;   /* VhDeviceEntry: the target's */
    GPtrArray *staged; /* per device: its loaded state, NULL until loaded */
    bool have_machine; /* MACHINE loaded */
    bool running;      /* MACHINE's flag */

    GMutex lock;
    GCond cond;
    char *abort_reason;
    bool have_header;
    guint32 flags;
    guint32 channels;
    guint8 uuid[16];
    guint64 released_iter; /* ITER_END the main stream has checked */
    ChanState chan[VH_MIG_MAX_CHANNELS];
    VhMigCounts counts; /* all connections; under lock */
    guint64 bytes;      /* under lock */
};

static void clear_staged(VhMigLoader *l)
{
    for (guint i = 0; i < l->staged->len; i++) {
        gpointer st = g_ptr_array_index(l->staged, i);

        if (st) {
            g_array_index(l->devices, VhDeviceEntry, i).ops->free_staged(st);
            g_ptr_array_index(l->staged, i) = NULL;
        }
    }
}

VhMigLoader *vh_mig_loader_new(VhRamBlock *ram, bool allow_multifd)
{
    VhMigLoader *l = g_new0(VhMigLoader, 1);

    l->ram = ram;
    l->pages = vh_ram_block_get_pages(ram);
    l->host = vh_ram_block_get_host(ram);
    l->allow_multifd = allow_multifd;
    l->devices = g_array_new(false, true, sizeof(VhDeviceEntry));
    l->staged = g_ptr_array_new();
    g_mutex_init(&l->lock);
    g_cond_init(&l->cond);
    return l;
}

void vh_mig_loader_free(VhMigLoader *l)
{
    if (!l) {
        return;
    }
    clear_staged(l);
    g_ptr_array_unref(l->staged);
    g_array_unref(l->devices);
    g_free(l->abort_reason);
    g_mutex_clear(&l->lock);
    g_cond_clear(&l->cond);
    g_free(l);
}

void vh_mig_loader_set_devices(VhMigLoader *l, GArray *devices)
{
    clear_staged(l);
    g_array_unref(l->devices);
    l->devices = g_array_ref(devices);
    g_ptr_array_set_size(l->staged, devices->len);
}

void vh_mig_loader_abort(VhMigLoader *l, const char *reason)
{
    g_mutex_lock(&l->lock);
    if (!l->abort_reason) {
        l->abort_reason = g_strdup(reason);
    }
    g_cond_broadcast(&l->cond);
    g_mutex_unlock(&l->lock);
}

/* Under the lock: fail with the abort reason if there is one. */
static bool aborted_locked(VhMigLoader *l, GError **errp)
{
    if (l->abort_reason) {
        g_set_error(errp, VH_ERROR, VH_ERROR_FAILED, "%s", l->abort_reason);
        return true;
    }
    return false;
}

bool vh_mig_loader_has_return_path(VhMigLoader *l)
{
    bool rp;

    g_mutex_lock(&l->lock);
    rp = l->have_header && (l->flags & VH_MIG_FLAG_RETURN_PATH);
    g_mutex_unlock(&l->lock);
    return rp;
}

bool vh_mig_loader_get_running(VhMigLoader *l)
{
    return l->running;
}

bool vh_mig_loader_apply_devices(VhMigLoader *l, GError **errp)
{
    for (guint i = 0; i < l->devices->len; i++) {
        const VhDeviceEntry *e = &g_array_index(l->devices, VhDeviceEntry, i);
        gpointer st = g_ptr_array_index(l->staged, i);

        g_assert(st != NULL); /* run_main checked every device came */
        if (!e->ops->apply(e->dev, st, errp)) {
            g_prefix_error(errp,
                           "migration: applying the state of device '%s' "
                           "instance %u: ",
                           e->ops->name, e->instance);
            return false;
        }
    }
    return true;
}

const VhMigCounts *vh_mig_loader_get_counts(VhMigLoader *l)
{
    return &l->counts;
}

guint64 vh_mig_loader_get_bytes(VhMigLoader *l)
{
    guint64 n;

    g_mutex_lock(&l->lock);
    n = l->bytes;
    g_mutex_unlock(&l->lock);
    return n;
}

static G_GNUC_PRINTF(2, 3) bool bad(GError **errp, const char *fmt, ...)
{
    va_list ap;
    g_autofree char *msg = NULL;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error(errp, VH_ERROR, VH_ERROR_FAILED, PFX "%s", msg);
    return false;
}

/* Read exactly @len bytes of @what; an early end names @what. */
static bool read_exact(VhChannel *ch, void *buf, size_t len, const char *what,
                       GError **errp)
{
    g_autoptr(GError) err = NULL;
    int r = vh_channel_read_all_eof(ch, buf, len, &err);

    if (r == 1) {
        return true;
    }
    if (r == 0) {
        return bad(errp, "truncated: the connection ended before the %s", what);
    }
    return bad(errp, "truncated in the %s: %s", what, err->message);
}

static bool expect_len(const char *sec, guint32 got, guint32 want,
                       GError **errp)
{
    if (got != want) {
        return bad(errp, "%s: section length %u, expected %u", sec, got, want);
    }
    return true;
}

/* Read a u32-length string of 1..@max printable ASCII bytes. */
static char *read_name(const guint8 **p, const guint8 *end, guint32 max,
                       const char *what, GError **errp)
{
    guint32 n;

    if (end - *p < 4) {
        bad(errp, "%s: length field past the end of the section", what);
        return NULL;
    }
    n = get_u32(*p);
    *p += 4;
    if (n == 0 || n > max) {
        bad(errp, "%s: length %u out of range (1..%u)", what, n, max);
        return NULL;
    }
    if ((guint64)(end - *p) < n) {
        bad(errp, "%s: %u bytes past the end of the section", what, n);
        return NULL;
    }
    for (guint32 i = 0; i < n; i++) {
        if ((*p)[i] < 0x21 || (*p)[i] > 0x7e) {
            bad(errp, "%s: byte %u (0x%02x) is not printable ASCII", what, i,
                (*p)[i]);
            return NULL;
        }
    }
    *p += n;
    return g_strndup((const char *)*p - n, n);
}

static bool load_ram_setup(VhMigLoader *l, const guint8 *b, guint32 len,
                           GError **errp)
{
    const guint8 *p = b, *end = b + len;
    g_autofree char *name = NULL;
    guint32 nblocks;
    guint64 size, pages;

    if (len < 4) {
        return bad(errp, "RAM_SETUP: section length %u too short", len);
    }
    nblocks = get_u32(p);
    p += 4;
    if (nblocks == 0 || nblocks > VH_MIG_MAX_BLOCKS) {
        return bad(errp, "RAM_SETUP: block count %u out of range (1..%u)",
                   nblocks, VH_MIG_MAX_BLOCKS);
    }
    if (nblocks != 1) {
        return bad(errp,
                   "RAM_SETUP: the source has %u RAM blocks, this machine 1",
                   nblocks);
    }
    name = read_name(&p, end, 255, "RAM_SETUP: block 0 name", errp);
    if (!name) {
        return false;
    }
    if (end - p != 16) {
        return bad(errp,
                   "RAM_SETUP: section length %u does not match its "
                   "block list",
                   len);
    }
    size = get_u64(p);
    pages = get_u64(p + 8);
    if (size == 0 || size % VH_RAM_PAGE_SIZE) {
        return bad(errp,
                   "RAM_SETUP: block 0 ('%s') size %" G_GUINT64_FORMAT
                   " is not a non-zero multiple of the page size",
                   name, size);
    }
    if (pages != size / VH_RAM_PAGE_SIZE) {
        return bad(errp,
                   "RAM_SETUP: block 0 ('%s') page count %" G_GUINT64_FORMAT
                   " does not match its size %" G_GUINT64_FORMAT,
                   name, pages, size);
    }
    if (size != vh_ram_block_get_size(l->ram)) {
        return bad(errp,
                   "RAM_SETUP: block 0 ('%s') is %" G_GUINT64_FORMAT
                   " bytes on the source but '%s' is %" G_GUINT64_FORMAT
                   " bytes here (start the target with the same -m)",
                   name, size, vh_ram_block_get_name(l->ram),
                   vh_ram_block_get_size(l->ram));
    }
    return true;
}

/*
 * A PAGES record body (@body, 80 bytes read) and its page data, straight
 * into guest RAM.
 */
static bool load_pages(VhMigLoader *l, VhChannel *ch, const guint8 *body,
                       const char *where, GError **errp)
{
    guint32 block = get_u32(body);
    guint32 count = get_u32(body + 4);
    guint64 first = get_u64(body + 8);
    guint64 present[4], zero[4];
    struct iovec iov[VH_MIG_RECORD_PAGES];
    size_t niov = 0;
    guint64 normal = 0, nzero = 0;

    for (guint i = 0; i < 4; i++) {
        present[i] = get_u64(body + 16 + 8 * i);
        zero[i] = get_u64(body + 48 + 8 * i);
    }
    if (block != 0) {
        return bad(errp,
                   "%s PAGES record: block index %u out of range (1 "
                   "block)",
                   where, block);
    }
    if (count == 0 || count > VH_MIG_RECORD_PAGES) {
        return bad(errp, "%s PAGES record: page count %u out of range (1..%u)",
                   where, count, VH_MIG_RECORD_PAGES);
    }
    if (first >= l->pages || count > l->pages - first) {
        return bad(errp,
                   "%s PAGES record: page range %" G_GUINT64_FORMAT
                   "+%u past the end of block 0 (%" G_GUINT64_FORMAT " pages)",
                   where, first, count, l->pages);
    }
    for (guint i = 0; i < 4; i++) {
        guint64 valid;

        if (count >= 64 * (i + 1)) {
            valid = ~0ULL;
        } else if (count <= 64 * i) {
            valid = 0;
        } else {
            valid = (1ULL << (count - 64 * i)) - 1;
        }
        if (present[i] & ~valid) {
            return bad(errp,
                       "%s PAGES record: present bitmap has bits at or "
                       "past the page count %u",
                       where, count);
        }
        if (zero[i] & ~present[i]) {
            return bad(errp,
                       "%s PAGES record: zero bitmap marks pages that "
                       "are not present",
                       where);
        }
    }
    if (!(present[0] | present[1] | present[2] | present[3])) {
        return bad(errp, "%s PAGES record: present bitmap is empty", where);
    }
    for (guint32 i = 0; i < count; i++) {
        guint8 *page = l->host + (first + i) * VH_RAM_PAGE_SIZE;

        if (!bit_test(present, i)) {
            continue;
        }
        if (bit_test(zero, i)) {
            /* Reading a never-touched page does not allocate it. */
            if (!vh_mig_page_is_zero(page)) {
                memset(page, 0, VH_RAM_PAGE_SIZE);
            }
            nzero++;
            continue;
        }
        normal++;
        if (niov &&
            (guint8 *)iov[niov - 1].iov_base + iov[niov - 1].iov_len == page) {
            iov[niov - 1].iov_len += VH_RAM_PAGE_SIZE;
        } else {
            iov[niov].iov_base = page;
            iov[niov].iov_len = VH_RAM_PAGE_SIZE;
            niov++;
        }
    }
    if (niov) {
        g_autoptr(GError) err = NULL;
        int r = vh_channel_readv_all_eof(ch, iov, niov, &err);

        if (r != 1) {
            return bad(errp,
                       "truncated in the %s PAGES record data (pages "
                       "%" G_GUINT64_FORMAT "+%u): %s",
                       where, first, count,
                       r == 0 ? "the connection ended" : err->message);
        }
    }
    g_mutex_lock(&l->lock);
    l->counts.records++;
    l->counts.normal += normal;
    l->counts.zero += nzero;
    l->bytes += normal * VH_RAM_PAGE_SIZE;
    g_mutex_unlock(&l->lock);
    return true;
}

static bool load_header(VhMigLoader *l, VhChannel *ch, const guint8 *magic,
                        GError **errp)
{
    guint8 h[VH_MIG_HEADER_SIZE];
    guint32 version, psize, flags, channels;

    if (magic) {
        memcpy(h, magic, 8);
    }
    if (!read_exact(ch, h + (magic ? 8 : 0), sizeof(h) - (magic ? 8 : 0),
                    "header", errp)) {
        return false;
    }
    if (memcmp(h, VH_MIG_STREAM_MAGIC, 8) != 0) {
        if (memcmp(h, VH_MIG_CHANNEL_MAGIC, 8) == 0) {
            return bad(errp, "header: a multifd channel arrived where the "
                             "main stream was expected");
        }
        if (vh_mig_is_tls_record(h)) {
            return bad(errp, "header: " VH_MIG_TLS_SOURCE_HINT);
        }
        return bad(errp, "header: bad magic (not a vmhost migration stream)");
    }
    version = get_u32(h + 8);
    psize = get_u32(h + 12);
    flags = get_u32(h + 16);
    channels = get_u32(h + 20);
    if (version != VH_MIG_STREAM_VERSION) {
        return bad(errp,
                   "header: version %u not supported (this vmhost "
                   "reads version %u)",
                   version, VH_MIG_STREAM_VERSION);
    }
    if (psize != VH_RAM_PAGE_SIZE) {
        return bad(errp, "header: page size %u, this vmhost uses %u", psize,
                   VH_RAM_PAGE_SIZE);
    }
    if (flags & ~(guint32)(VH_MIG_FLAG_MULTIFD | VH_MIG_FLAG_RETURN_PATH)) {
        return bad(errp, "header: unknown flags 0x%x", flags);
    }
    if (flags & VH_MIG_FLAG_MULTIFD) {
        if (channels == 0 || channels > VH_MIG_MAX_CHANNELS) {
            return bad(errp,
                       "header: multifd channel count %u out of range "
                       "(1..%u)",
                       channels, VH_MIG_MAX_CHANNELS);
        }
        if (!l->allow_multifd) {
            return bad(errp, "header: the source wants multifd channels, "
                             "which this transport cannot carry");
        }
    } else if (channels != 0) {
        return bad(errp, "header: channel count %u without the multifd flag",
                   channels);
    }
    if (get_u64(h + 40) != 0) {
        return bad(errp, "header: reserved field is not zero");
    }
    g_mutex_lock(&l->lock);
    l->flags = flags;
    l->channels = channels;
    memcpy(l->uuid, h + 24, 16);
    l->have_header = true;
    g_cond_broadcast(&l->cond);
    g_mutex_unlock(&l->lock);
    return true;
}

/* Wait until every multifd channel has said hello. */
static bool wait_channels_connected(VhMigLoader *l, GError **errp)
{
    gint64 deadline = g_get_monotonic_time() + CHANNEL_CONNECT_TIMEOUT_US;
    bool ok = true;

    g_mutex_lock(&l->lock);
    for (guint i = 0; i < l->channels && ok; i++) {
        while (!l->chan[i].connected && !l->abort_reason) {
            if (!g_cond_wait_until(&l->cond, &l->lock, deadline)) {
                break;
            }
        }
        if (aborted_locked(l, errp)) {
            ok = false;
        } else if (!l->chan[i].connected) {
            ok = bad(errp, "multifd channel %u did not connect within 30 s", i);
        }
    }
    g_mutex_unlock(&l->lock);
    return ok;
}

/* ITER_END: every channel reached this iteration's SYNC with the count. */
static bool load_iter_end(VhMigLoader *l, const guint8 *b, guint32 len,
                          guint64 *iter, GError **errp)
{
    guint64 it;
    guint32 nch;
    bool ok = true;

    if (len < 16) {
        return bad(errp, "ITER_END: section length %u too short", len);
    }
    it = get_u64(b);
    nch = get_u32(b + 8);
    if (it != *iter + 1) {
        return bad(errp,
                   "ITER_END: iteration %" G_GUINT64_FORMAT
                   " out of order (expected %" G_GUINT64_FORMAT ")",
                   it, *iter + 1);
    }
    if (nch != l->channels) {
        return bad(errp, "ITER_END: channel count %u, the header said %u", nch,
                   l->channels);
    }
    if (!expect_len("ITER_END", len, 16 + 8 * nch, errp)) {
        return false;
    }
    if (get_u32(b + 12) != 0) {
        return bad(errp, "ITER_END: reserved field is not zero");
    }
    g_mutex_lock(&l->lock);
    for (guint32 i = 0; i < nch && ok; i++) {
        guint64 want = get_u64(b + 16 + 8 * i);

        while (l->chan[i].synced_iter < it && !l->abort_reason) {
            g_cond_wait(&l->cond, &l->lock);
        }
        if (aborted_locked(l, errp)) {
            ok = false;
        } else if (l->chan[i].sync_packets != want) {
            ok = bad(errp,
                     "ITER_END %" G_GUINT64_FORMAT
                     ": channel %u carried %" G_GUINT64_FORMAT
                     " records, the main stream says %" G_GUINT64_FORMAT,
                     it, i, l->chan[i].sync_packets, want);
        }
    }
    if (ok) {
        l->released_iter = it;
        l->counts.iterations = it;
        g_cond_broadcast(&l->cond);
    }
    g_mutex_unlock(&l->lock);
    *iter = it;
    return ok;
}

static bool load_end(VhMigLoader *l, const guint8 *b, GError **errp)
{
    VhMigCounts want = {
        .records = get_u64(b),
        .normal = get_u64(b + 8),
        .zero = get_u64(b + 16),
        .iterations = get_u64(b + 24),
    };
    bool ok = true;

    g_mutex_lock(&l->lock);
    for (guint i = 0; i < l->channels && ok; i++) {
        while (!l->chan[i].done && !l->abort_reason) {
            g_cond_wait(&l->cond, &l->lock);
        }
        ok = !aborted_locked(l, errp);
    }
    if (ok && (want.records != l->counts.records ||
               want.normal != l->counts.normal || want.zero != l->counts.zero ||
               want.iterations != l->counts.iterations)) {
        ok =
            bad(errp,
                "END: the source sent %" G_GUINT64_FORMAT
                " records (%" G_GUINT64_FORMAT " normal, %" G_GUINT64_FORMAT
                " zero pages) in %" G_GUINT64_FORMAT
                " iterations, %" G_GUINT64_FORMAT " records (%" G_GUINT64_FORMAT
                ", %" G_GUINT64_FORMAT ") in %" G_GUINT64_FORMAT " arrived",
                want.records, want.normal, want.zero, want.iterations,
                l->counts.records, l->counts.normal, l->counts.zero,
                l->counts.iterations);
    }
    g_mutex_unlock(&l->lock);
    return ok;
}

/* After the last section: the peer must end the connection cleanly. */
static bool expect_eof(VhChannel *ch, const char *what, GError **errp)
{
    g_autoptr(GError) err = NULL;
    guint8 c;
    gssize r = vh_channel_read(ch, &c, 1, &err);

    if (r == 0) {
        return true;
    }
    if (r > 0) {
        return bad(errp, "%s: data after the end marker", what);
    }
    return bad(errp, "%s did not end cleanly after the end marker: %s", what,
               err->message);
}

static const char *section_name(guint32 t)
{
    static const char *const names[] = {
        [VH_MIG_SEC_RAM_SETUP] = "RAM_SETUP",
        [VH_MIG_SEC_PAGES] = "PAGES",
        [VH_MIG_SEC_ITER_END] = "ITER_END",
        [VH_MIG_SEC_MACHINE] = "MACHINE",
        [VH_MIG_SEC_END] = "END",
        [VH_MIG_SEC_SYNC] = "SYNC",
        [VH_MIG_SEC_CHANNEL_END] = "CHANNEL_END",
        [VH_MIG_SEC_DEVICE] = "DEVICE",
    };

    return t < G_N_ELEMENTS(names) && names[t] ? names[t] : NULL;
}

static bool load_machine(VhMigLoader *l, const guint8 *b, guint32 len,
                         GError **errp)
{
    if (l->have_machine) {
        return bad(errp, "MACHINE: a second one");
    }
    if (!expect_len("MACHINE", len, 8, errp)) {
        return false;
    }
    if (get_u32(b) > 1) {
        return bad(errp, "MACHINE: running flag %u is not 0 or 1", get_u32(b));
    }
    if (get_u32(b + 4) != 0) {
        return bad(errp, "MACHINE: reserved field is not zero");
    }
    l->running = get_u32(b) == 1;
    l->have_machine = true;
    return true;
}

/* The index of this machine's device @name/@instance, or -1. */
static gint find_device(VhMigLoader *l, const char *name, guint32 instance)
{
    for (guint i = 0; i < l->devices->len; i++) {
        const VhDeviceEntry *e = &g_array_index(l->devices, VhDeviceEntry, i);

        if (e->instance == instance && g_str_equal(e->ops->name, name)) {
            return (gint)i;
        }
    }
    return -1;
}

/* "test-guest 0, serial 0, serial 1" (transfer full). */
static char *device_list(VhMigLoader *l)
{
    GString *s = g_string_new(NULL);

    for (guint i = 0; i < l->devices->len; i++) {
        const VhDeviceEntry *e = &g_array_index(l->devices, VhDeviceEntry, i);

        g_string_append_printf(s, "%s%s %u", i ? ", " : "", e->ops->name,
                               e->instance);
    }
    return g_string_free(s, s->len == 0 ? TRUE : FALSE) ?: g_strdup("none");
}

/* Version, once per device, then the device's own load. */
static bool stage_device(VhMigLoader *l, const char *name, guint32 instance,
                         guint32 version, VhStateReader *r, GError **errp)
{
    gint i = find_device(l, name, instance);
    const VhDeviceEntry *e;
    GError *err = NULL;
    gpointer st;

    if (i < 0) {
        g_autofree char *have = device_list(l);

        return bad(errp,
                   "DEVICE: '%s' instance %u is not a device of this machine "
                   "(it has: %s)",
                   name, instance, have);
    }
    e = &g_array_index(l->devices, VhDeviceEntry, i);
    if (g_ptr_array_index(l->staged, i)) {
        return bad(errp, "device '%s' instance %u: a second one", name,
                   instance);
    }
    if (version > e->ops->version || version < e->ops->min_version) {
        return bad(errp,
                   "device '%s' instance %u: version %u, this vmhost loads "
                   "versions %u..%u (the source is %s)",
                   name, instance, version, e->ops->min_version,
                   e->ops->version,
                   version > e->ops->version ? "newer" : "older");
    }
    st = e->ops->load(e->dev, r, version, &err);
    if (!st) {
        bad(errp, "device '%s' instance %u: %s", name, instance, err->message);
        g_error_free(err);
        return false;
    }
    g_ptr_array_index(l->staged, i) = st;
    return true;
}

/* A DEVICE section body: name, instance, version, payload. */
static bool load_device(VhMigLoader *l, const guint8 *b, guint32 len,
                        GError **errp)
{
    const guint8 *p = b, *end = b + len;
    g_autofree char *name = NULL;
    guint32 instance, version, plen;
    VhStateReader r;

    name = read_name(&p, end, VH_DEVICE_STATE_NAME_MAX, "DEVICE: name", errp);
    if (!name) {
        return false;
    }
    if (end - p < 12) {
        return bad(errp, "DEVICE '%s': section length %u too short", name, len);
    }
    instance = get_u32(p);
    version = get_u32(p + 4);
    plen = get_u32(p + 8);
    p += 12;
    if ((guint64)(end - p) != plen) {
        return bad(errp,
                   "DEVICE '%s' instance %u: payload length %u does not "
                   "match the section length %u",
                   name, instance, plen, len);
    }
    vh_state_reader_init(&r, p, plen);
    return stage_device(l, name, instance, version, &r, errp);
}

/* END may come: MACHINE and every device of this machine arrived. */
static bool devices_complete(VhMigLoader *l, GError **errp)
{
    if (!l->have_machine) {
        return bad(errp, "END before the device state (no MACHINE section)");
    }
    for (guint i = 0; i < l->devices->len; i++) {
        const VhDeviceEntry *e = &g_array_index(l->devices, VhDeviceEntry, i);

        if (!g_ptr_array_index(l->staged, i)) {
            return bad(errp,
                       "END before the device state of '%s' instance %u "
                       "(the source did not send this machine's device)",
                       e->ops->name, e->instance);
        }
    }
    return true;
}

/* Where the main stream is: what may come next. */
typedef struct {
    guint64 iter;          /* the last ITER_END */
    bool pages_since_iter; /* PAGES after it */
    bool devices;          /* device state began: only more of it, or END */
} MainPos;

/* A section body of @len (at most @max) bytes, NUL-terminated. */
static guint8 *read_body(VhChannel *ch, const char *name, guint32 len,
                         guint32 max, GError **errp)
{
    g_autofree guint8 *b = NULL;

    if (len > max) {
        bad(errp, "%s: section length %u too long", name, len);
        return NULL;
    }
    b = g_malloc(len + 1);
    b[len] = 0;
    if (!read_exact(ch, b, len, name, errp)) {
        return NULL;
    }
    return g_steal_pointer(&b);
}

/* Header, RAM_SETUP, every channel connected, READY. */
static bool main_setup(VhMigLoader *l, VhChannel *ch, const guint8 *magic,
                       GError **errp)
{
    g_autofree guint8 *b = NULL;
    guint8 sh[8];

    if (!load_header(l, ch, magic, errp) ||
        !read_exact(ch, sh, 8, "RAM_SETUP section header", errp)) {
        return false;
    }
    if (get_u32(sh) != VH_MIG_SEC_RAM_SETUP) {
        return bad(errp, "section type %u where RAM_SETUP must come first",
                   get_u32(sh));
    }
    b = read_body(ch, "RAM_SETUP", get_u32(sh + 4),
                  4 + VH_MIG_MAX_BLOCKS * (4 + 255 + 16), errp);
    if (!b || !load_ram_setup(l, b, get_u32(sh + 4), errp) ||
        !wait_channels_connected(l, errp)) {
        return false;
    }
    if ((l->flags & VH_MIG_FLAG_RETURN_PATH) &&
        !vh_mig_rp_send(ch, VH_MIG_RP_READY, NULL, 0, errp)) {
        g_prefix_error(errp, "return path: READY: ");
        return false;
    }
    return true;
}

static bool main_pages(VhMigLoader *l, VhChannel *ch, MainPos *pos, guint32 len,
                       GError **errp)
{
    guint8 body[VH_MIG_PAGES_BODY];

    if (l->channels) {
        return bad(errp, "PAGES record on the main stream of a "
                         "multifd migration");
    }
    if (pos->devices) {
        return bad(errp, "PAGES record after the device state");
    }
    if (!expect_len("PAGES", len, VH_MIG_PAGES_BODY, errp) ||
        !read_exact(ch, body, sizeof(body), "PAGES record header", errp) ||
        !load_pages(l, ch, body, "main stream", errp)) {
        return false;
    }
    pos->pages_since_iter = true;
    return true;
}

static bool main_iter_end(VhMigLoader *l, VhChannel *ch, MainPos *pos,
                          guint32 len, GError **errp)
{
    g_autofree guint8 *b = NULL;

    if (pos->devices) {
        return bad(errp, "ITER_END after the device state");
    }
    b = read_body(ch, "ITER_END", len, 16 + 8 * VH_MIG_MAX_CHANNELS, errp);
    if (!b || !load_iter_end(l, b, len, &pos->iter, errp)) {
        return false;
    }
    pos->pages_since_iter = false;
    return true;
}

/* MACHINE or DEVICE: only after the final ITER_END. */
static bool main_device(VhMigLoader *l, VhChannel *ch, MainPos *pos,
                        guint32 type, guint32 len, GError **errp)
{
    const char *name = section_name(type);
    g_autofree guint8 *b = NULL;

    if (pos->iter == 0 || pos->pages_since_iter) {
        return bad(errp, "%s: device state before the final ITER_END", name);
    }
    pos->devices = true;
    if (type == VH_MIG_SEC_MACHINE) {
        b = read_body(ch, name, len, 8, errp);
        return b && load_machine(l, b, len, errp);
    }
    b = read_body(ch, name, len,
                  4 + VH_DEVICE_STATE_NAME_MAX + 12 + VH_MIG_DEVICE_MAX, errp);
    return b && load_device(l, b, len, errp);
}

static bool main_end(VhMigLoader *l, VhChannel *ch, guint32 len, GError **errp)
{
    guint8 b[32];

    return devices_complete(l, errp) && expect_len("END", len, 32, errp) &&
           read_exact(ch, b, 32, "END section", errp) && load_end(l, b, errp) &&
           expect_eof(ch, "the main connection", errp);
}

static bool run_main(VhMigLoader *l, VhChannel *ch, const guint8 *magic,
                     GError **errp)
{
    MainPos pos = {0};

    if (!main_setup(l, ch, magic, errp)) {
        return false;
    }
    for (;;) {
        guint8 sh[8];
        guint32 type, len;
        bool ok;

        if (!read_exact(ch, sh, 8, "next section header", errp)) {
            return false;
        }
        type = get_u32(sh);
        len = get_u32(sh + 4);
        switch (type) {
        case VH_MIG_SEC_RAM_SETUP:
            return bad(errp, "RAM_SETUP: a second one");
        case VH_MIG_SEC_PAGES:
            ok = main_pages(l, ch, &pos, len, errp);
            break;
        case VH_MIG_SEC_ITER_END:
            ok = main_iter_end(l, ch, &pos, len, errp);
            break;
        case VH_MIG_SEC_MACHINE:
        case VH_MIG_SEC_DEVICE:
            ok = main_device(l, ch, &pos, type, len, errp);
            break;
        case VH_MIG_SEC_END:
            return main_end(l, ch, len, errp);
        default:
            return bad(errp, "unknown section type %u on the main stream",
                       type);
        }
        if (!ok) {
            return false;
        }
    }
}

bool vh_mig_loader_run_main(VhMigLoader *l, VhChannel *ch, const guint8 *magic,
                            GError **errp)
{
    GError *err = NULL;

    if (!run_main(l, ch, magic, &err)) {
        /* A channel's failure cut this connection: report the cause. */
        g_mutex_lock(&l->lock);
        if (l->abort_reason) {
            g_clear_error(&err);
            g_set_error_literal(&err, VH_ERROR, VH_ERROR_FAILED,
                                l->abort_reason);
        } else {
            l->abort_reason = g_strdup(err->message);
            g_cond_broadcast(&l->cond);
        }
        g_mutex_unlock(&l->lock);
        g_propagate_error(errp, err);
        return false;
    }
    return true;
}

/* The channel's hello: checks it against the main header once known. */
static bool channel_hello(VhMigLoader *l, VhChannel *ch, const guint8 *magic,
                          guint32 *index, GError **errp)
{
    guint8 h[VH_MIG_HELLO_SIZE];
    guint32 idx = 0;
    bool ok = true;

    if (magic) {
        memcpy(h, magic, 8);
    }
    if (!read_exact(ch, h + (magic ? 8 : 0), sizeof(h) - (magic ? 8 : 0),
                    "multifd channel hello", errp)) {
        return false;
    }
    if (memcmp(h, VH_MIG_CHANNEL_MAGIC, 8) != 0) {
        return bad(errp, "multifd channel hello: bad magic");
    }
    if (get_u32(h + 8) != VH_MIG_STREAM_VERSION) {
        return bad(errp, "multifd channel hello: version %u not supported",
                   get_u32(h + 8));
    }
    if (get_u64(h + 32) != 0) {
        return bad(errp, "multifd channel hello: reserved field is not zero");
    }
    idx = get_u32(h + 12);
    g_mutex_lock(&l->lock);
    while (!l->have_header && !l->abort_reason) {
        g_cond_wait(&l->cond, &l->lock);
    }
    if (aborted_locked(l, errp)) {
        ok = false;
    } else if (!(l->flags & VH_MIG_FLAG_MULTIFD)) {
        ok = bad(errp,
                 "multifd channel %u: the main stream has no multifd "
                 "channels",
                 idx);
    } else if (memcmp(h + 16, l->uuid, 16) != 0) {
        ok = bad(errp,
                 "multifd channel %u: session uuid does not match the "
                 "main stream",
                 idx);
    } else if (idx >= l->channels) {
        ok = bad(errp,
                 "multifd channel hello: index %u out of range (%u "
                 "channels)",
                 idx, l->channels);
    } else if (l->chan[idx].connected) {
        ok = bad(errp, "multifd channel hello: index %u connected twice", idx);
    } else {
        l->chan[idx].connected = true;
        g_cond_broadcast(&l->cond);
    }
    g_mutex_unlock(&l->lock);
    *index = idx;
    return ok;
}

/* SYNC: wait until the main stream has checked this iteration. */
static bool channel_sync(VhMigLoader *l, guint32 idx, const guint8 *b,
                         guint64 received, GError **errp)
{
    guint64 it = get_u64(b);
    guint64 n = get_u64(b + 8);
    bool ok = true;

    g_mutex_lock(&l->lock);
    if (it != l->chan[idx].synced_iter + 1) {
        ok = bad(errp,
                 "multifd channel %u SYNC: iteration %" G_GUINT64_FORMAT
                 " out of order (expected %" G_GUINT64_FORMAT ")",
                 idx, it, l->chan[idx].synced_iter + 1);
    } else if (n != received) {
        ok = bad(errp,
                 "multifd channel %u SYNC %" G_GUINT64_FORMAT
                 ": %" G_GUINT64_FORMAT " records announced, %" G_GUINT64_FORMAT
                 " received",
                 idx, it, n, received);
    } else {
        l->chan[idx].synced_iter = it;
        l->chan[idx].sync_packets = n;
        g_cond_broadcast(&l->cond);
        while (l->released_iter < it && !l->abort_reason) {
            g_cond_wait(&l->cond, &l->lock);
        }
        ok = !aborted_locked(l, errp);
    }
    g_mutex_unlock(&l->lock);
    return ok;
}

static bool run_channel(VhMigLoader *l, VhChannel *ch, const guint8 *magic,
                        guint32 *idxp, GError **errp)
{
    guint32 idx = 0;
    guint64 in_iter = 0, total = 0;
    g_autofree char *where = NULL;

    if (!channel_hello(l, ch, magic, &idx, errp)) {
        return false;
    }
    *idxp = idx;
    where = g_strdup_printf("multifd channel %u", idx);
    for (;;) {
        guint8 sh[8];
        guint8 body[VH_MIG_PAGES_BODY];
        guint32 type, len;

        if (!read_exact(ch, sh, 8, "multifd channel section header", errp)) {
            return false;
        }
        type = get_u32(sh);
        len = get_u32(sh + 4);
        switch (type) {
        case VH_MIG_SEC_PAGES:
            if (!expect_len("PAGES", len, VH_MIG_PAGES_BODY, errp) ||
                !read_exact(ch, body, VH_MIG_PAGES_BODY, "PAGES record header",
                            errp) ||
                !load_pages(l, ch, body, where, errp)) {
                return false;
            }
            in_iter++;
            total++;
            break;
        case VH_MIG_SEC_SYNC:
            if (!expect_len("SYNC", len, 16, errp) ||
                !read_exact(ch, body, 16, "SYNC section", errp) ||
                !channel_sync(l, idx, body, in_iter, errp)) {
                return false;
            }
            in_iter = 0;
            break;
        case VH_MIG_SEC_CHANNEL_END:
            if (!expect_len("CHANNEL_END", len, 8, errp) ||
                !read_exact(ch, body, 8, "CHANNEL_END section", errp)) {
                return false;
            }
            if (in_iter) {
                return bad(errp,
                           "%s: CHANNEL_END after records without a "
                           "SYNC",
                           where);
            }
            if (get_u64(body) != total) {
                return bad(errp,
                           "%s CHANNEL_END: %" G_GUINT64_FORMAT
                           " records announced, %" G_GUINT64_FORMAT " received",
                           where, get_u64(body), total);
            }
            if (!expect_eof(ch, where, errp)) {
                return false;
            }
            g_mutex_lock(&l->lock);
            l->chan[idx].done = true;
            l->chan[idx].total_packets = total;
            g_cond_broadcast(&l->cond);
            g_mutex_unlock(&l->lock);
            return true;
        default:
            return bad(errp, "%s: unknown section type %u", where, type);
        }
    }
}

bool vh_mig_loader_run_channel(VhMigLoader *l, VhChannel *ch,
                               const guint8 *magic, GError **errp)
{
    guint32 idx = G_MAXUINT32;
    GError *err = NULL;

    if (!run_channel(l, ch, magic, &idx, &err)) {
        /*
         * A stray connection that never became one of ours does not abort
         * the migration; a failure inside a registered channel does.
         */
        if (idx != G_MAXUINT32) {
            vh_mig_loader_abort(l, err->message);
        }
        g_propagate_error(errp, err);
        return false;
    }
    return true;
}
