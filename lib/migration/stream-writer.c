/*
 * The migration stream's writers (vmhost/migration/stream.h): the source's
 * sections, and PAGES records sent straight from guest RAM.
 */
#include "stream-priv.h"

void vh_mig_put_u32(GByteArray *b, guint32 v)
{
    v = GUINT32_TO_LE(v);
    g_byte_array_append(b, (const guint8 *)&v, sizeof(v));
}

void vh_mig_put_u64(GByteArray *b, guint64 v)
{
    v = GUINT64_TO_LE(v);
    g_byte_array_append(b, (const guint8 *)&v, sizeof(v));
}

static void put_str(GByteArray *b, const char *s)
{
    vh_mig_put_u32(b, (guint32)strlen(s));
    g_byte_array_append(b, (const guint8 *)s, (guint)strlen(s));
}

void vh_mig_put_header(GByteArray *b, guint32 flags, guint32 channels,
                       const guint8 uuid[VH_MIG_UUID_SIZE])
{
    g_byte_array_append(b, (const guint8 *)VH_MIG_STREAM_MAGIC,
                        VH_MIG_MAGIC_SIZE);
    vh_mig_put_u32(b, VH_MIG_STREAM_VERSION);
    vh_mig_put_u32(b, VH_RAM_PAGE_SIZE);
    vh_mig_put_u32(b, flags);
    vh_mig_put_u32(b, channels);
    g_byte_array_append(b, uuid, VH_MIG_UUID_SIZE);
    vh_mig_put_u64(b, 0);
}

void vh_mig_put_hello(GByteArray *b, guint32 index,
                      const guint8 uuid[VH_MIG_UUID_SIZE])
{
    g_byte_array_append(b, (const guint8 *)VH_MIG_CHANNEL_MAGIC,
                        VH_MIG_MAGIC_SIZE);
    vh_mig_put_u32(b, VH_MIG_STREAM_VERSION);
    vh_mig_put_u32(b, index);
    g_byte_array_append(b, uuid, VH_MIG_UUID_SIZE);
    vh_mig_put_u64(b, 0);
}

void vh_mig_put_pc_hello(GByteArray *b, guint32 role,
                         const guint8 uuid[VH_MIG_UUID_SIZE])
{
    g_byte_array_append(b, (const guint8 *)VH_MIG_POSTCOPY_MAGIC,
                        VH_MIG_MAGIC_SIZE);
    vh_mig_put_u32(b, VH_MIG_STREAM_VERSION);
    vh_mig_put_u32(b, role);
    g_byte_array_append(b, uuid, VH_MIG_UUID_SIZE);
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

    /* One block: count, name, size, pages. */
    vh_mig_put_section(b, VH_MIG_SEC_RAM_SETUP,
                       4 + 4 + (guint32)strlen(name) + 8 + 8);
    vh_mig_put_u32(b, 1);
    put_str(b, name);
    vh_mig_put_u64(b, vh_ram_block_get_size(ram));
    vh_mig_put_u64(b, vh_ram_block_get_pages(ram));
}

/* ITER_END and DIRTY_SYNC: one body (docs/migration-stream.md). */
static void put_barrier(GByteArray *b, guint32 type, guint64 n,
                        guint32 channels, const guint64 *packets)
{
    vh_mig_put_section(b, type, VH_MIG_ITER_END_BASE + 8 * channels);
    vh_mig_put_u64(b, n);
    vh_mig_put_u32(b, channels);
    vh_mig_put_u32(b, 0);
    for (guint32 i = 0; i < channels; i++) {
        vh_mig_put_u64(b, packets[i]);
    }
}

void vh_mig_put_iter_end(GByteArray *b, guint64 iteration, guint32 channels,
                         const guint64 *packets)
{
    put_barrier(b, VH_MIG_SEC_ITER_END, iteration, channels, packets);
}

void vh_mig_put_dirty_sync(GByteArray *b, guint64 sync, guint32 channels,
                           const guint64 *packets)
{
    put_barrier(b, VH_MIG_SEC_DIRTY_SYNC, sync, channels, packets);
}

void vh_mig_put_machine(GByteArray *b, bool running)
{
    vh_mig_put_section(b, VH_MIG_SEC_MACHINE, VH_MIG_MACHINE_BODY);
    vh_mig_put_u32(b, running ? 1 : 0);
    vh_mig_put_u32(b, 0);
}

void vh_mig_put_device_section(GByteArray *b, const char *name,
                               guint32 instance, guint32 version,
                               const void *payload, guint32 len)
{
    guint32 nlen = (guint32)strlen(name);

    vh_mig_put_section(b, VH_MIG_SEC_DEVICE,
                       4 + nlen + VH_MIG_DEVICE_BASE + len);
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
    vh_mig_put_section(b, VH_MIG_SEC_END, VH_MIG_END_BODY);
    vh_mig_put_u64(b, c->records);
    vh_mig_put_u64(b, c->normal);
    vh_mig_put_u64(b, c->zero);
    vh_mig_put_u64(b, c->iterations);
}

guint64 vh_mig_put_discard(GByteArray *b, const guint64 *bitmap, guint64 pages)
{
    g_autoptr(GByteArray) r = g_byte_array_new();
    guint64 total = 0;
    guint32 n = 0;
    guint64 p = 0;

    while (p < pages) {
        guint64 q;

        if (p % 64 == 0 && !bitmap[p / 64]) {
            p += 64; /* mostly empty, called every mid-pass sync */
            continue;
        }
        if (!((bitmap[p / 64] >> (p % 64)) & 1)) {
            p++;
            continue;
        }
        for (q = p + 1; q < pages && ((bitmap[q / 64] >> (q % 64)) & 1); q++) {
        }
        vh_mig_put_u64(r, p);
        vh_mig_put_u64(r, q - p);
        total += q - p;
        p = q;
        if (++n == VH_MIG_DISCARD_MAX_RANGES || p >= pages) {
            vh_mig_put_section(b, VH_MIG_SEC_DISCARD,
                               VH_MIG_DISCARD_BASE + r->len);
            vh_mig_put_u32(b, 0);
            vh_mig_put_u32(b, n);
            g_byte_array_append(b, r->data, r->len);
            g_byte_array_set_size(r, 0);
            n = 0;
        }
    }
    if (n) {
        vh_mig_put_section(b, VH_MIG_SEC_DISCARD, VH_MIG_DISCARD_BASE + r->len);
        vh_mig_put_u32(b, 0);
        vh_mig_put_u32(b, n);
        g_byte_array_append(b, r->data, r->len);
    }
    return total;
}

void vh_mig_put_postcopy_run(GByteArray *b)
{
    vh_mig_put_section(b, VH_MIG_SEC_POSTCOPY_RUN, 0);
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

gint64 vh_mig_send_pages(VhChannel *ch, VhRamBlock *ram, guint32 block,
                         guint64 first, guint32 count,
                         const guint64 present[VH_MIG_BITMAP_WORDS],
                         VhMigCounts *c, GError **errp)
{
    return vh_mig_send_pages_hint(ch, ram, block, first, count, present, NULL,
                                  c, errp);
}

/* What one PAGES record carries: its zero bits and its data's iovec. */
typedef struct {
    guint64 zero[VH_MIG_BITMAP_WORDS];
    struct iovec iov[1 + VH_MIG_RECORD_PAGES]; /* [0]: the record header */
    size_t niov;
    guint64 normal;
    guint64 nzero;
} Record;

/*
 * Sort the present pages into zero bits and data; neighbouring data pages
 * share one iovec entry. A page known to be zero is not read, so never
 * faulted in.
 */
static void classify(Record *r, guint8 *host, guint64 first, guint32 count,
                     const guint64 *present, const guint64 *known_zero)
{
    r->niov = 1;
    for (guint32 i = 0; i < count; i++) {
        guint8 *page = host + (first + i) * VH_RAM_PAGE_SIZE;
        struct iovec *last = &r->iov[r->niov - 1];

        if (!vh_mig_bit_test(present, i)) {
            continue;
        }
        if ((known_zero && vh_mig_bit_test(known_zero, i)) ||
            vh_mig_page_is_zero(page)) {
            r->zero[i / 64] |= 1ULL << (i % 64);
            r->nzero++;
            continue;
        }
        r->normal++;
        if (r->niov > 1 && (guint8 *)last->iov_base + last->iov_len == page) {
            last->iov_len += VH_RAM_PAGE_SIZE;
        } else {
            r->iov[r->niov].iov_base = page;
            r->iov[r->niov].iov_len = VH_RAM_PAGE_SIZE;
            r->niov++;
        }
    }
}

static guint8 *store_u32(guint8 *p, guint32 v)
{
    v = GUINT32_TO_LE(v);
    memcpy(p, &v, sizeof(v));
    return p + sizeof(v);
}

static guint8 *store_u64(guint8 *p, guint64 v)
{
    v = GUINT64_TO_LE(v);
    memcpy(p, &v, sizeof(v));
    return p + sizeof(v);
}

gint64 vh_mig_send_pages_hint(VhChannel *ch, VhRamBlock *ram, guint32 block,
                              guint64 first, guint32 count,
                              const guint64 present[VH_MIG_BITMAP_WORDS],
                              const guint64 known_zero[VH_MIG_BITMAP_WORDS],
                              VhMigCounts *c, GError **errp)
{
    guint8 hdr[VH_MIG_SECTION_HEADER_SIZE + VH_MIG_PAGES_BODY];
    guint8 *p = hdr;
    Record r;

    g_assert(count >= 1 && count <= VH_MIG_RECORD_PAGES);
    memset(r.zero, 0, sizeof(r.zero));
    r.normal = r.nzero = 0;
    classify(&r, vh_ram_block_get_host(ram), first, count, present, known_zero);
    /* The record header, on the stack: no allocation per record. */
    p = store_u32(p, VH_MIG_SEC_PAGES);
    p = store_u32(p, VH_MIG_PAGES_BODY);
    p = store_u32(p, block);
    p = store_u32(p, count);
    p = store_u64(p, first);
    for (guint i = 0; i < VH_MIG_BITMAP_WORDS; i++) {
        p = store_u64(p, present[i]);
    }
    for (guint i = 0; i < VH_MIG_BITMAP_WORDS; i++) {
        p = store_u64(p, r.zero[i]);
    }
    g_assert(p == hdr + sizeof(hdr));
    r.iov[0].iov_base = hdr;
    r.iov[0].iov_len = sizeof(hdr);
    if (!vh_channel_writev_all(ch, r.iov, r.niov, errp)) {
        return -1;
    }
    c->records++;
    c->normal += r.normal;
    c->zero += r.nzero;
    return (gint64)(sizeof(hdr) + r.normal * VH_RAM_PAGE_SIZE);
}
