/*
 * The loader (vmhost/migration/stream-loader.h): the object, what every
 * part of the loading shares (errors, exact reads, names), telling a main
 * stream from a channel, and PAGES records into guest RAM. The main
 * stream is stream-load-main.c, the multifd channels
 * stream-load-channel.c, the device state stream-load-devices.c.
 */
#include "stream-priv.h"
#include "postcopy-trace.h"

#include <string.h>

#include "vmhost/util/error.h"

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
    g_mutex_init(&l->rp_lock);
    g_cond_init(&l->cond);
    return l;
}

void vh_mig_loader_allow_postcopy(VhMigLoader *l, VhMigPostcopyRunFunc func,
                                  void *opaque)
{
    l->allow_postcopy = true;
    l->run_func = func;
    l->run_opaque = opaque;
}

void vh_mig_loader_set_postcopy_pause(VhMigLoader *l,
                                      VhMigPostcopyPauseFunc func)
{
    l->pause_func = func;
}

bool vh_mig_loader_is_paused(VhMigLoader *l)
{
    bool p;

    g_mutex_lock(&l->lock);
    p = l->paused;
    g_mutex_unlock(&l->lock);
    return p;
}

bool vh_mig_loader_not_run(VhMigLoader *l)
{
    bool v;

    g_mutex_lock(&l->lock);
    v = l->not_run;
    g_mutex_unlock(&l->lock);
    return v;
}

void vh_mig_loader_set_not_run(VhMigLoader *l, const guint8 *uuid)
{
    l->not_run_known = true;
    memcpy(l->not_run_uuid, uuid, VH_MIG_UUID_SIZE);
}

bool vh_mig_loader_never_ran(VhMigLoader *l, guint8 *uuid)
{
    bool v;

    g_mutex_lock(&l->lock);
    v = l->have_header && l->pc && !vh_mig_loader_in_postcopy(l);
    if (v) {
        memcpy(uuid, l->uuid, VH_MIG_UUID_SIZE);
    }
    g_mutex_unlock(&l->lock);
    return v;
}

VhChannel *vh_mig_loader_main_channel(VhMigLoader *l)
{
    return l->cur_main;
}

void vh_mig_loader_release_main(VhMigLoader *l)
{
    g_mutex_lock(&l->lock);
    l->main_released = true;
    g_cond_broadcast(&l->cond);
    g_mutex_unlock(&l->lock);
}

bool vh_mig_loader_in_postcopy(VhMigLoader *l)
{
    return __atomic_load_n(&l->postcopy_live, __ATOMIC_ACQUIRE);
}

void vh_mig_loader_postcopy_finish(VhMigLoader *l)
{
    if (l->pc) {
        vh_postcopy_target_finish(l->pc);
    }
    /* The REQUEST connection's thread may end it now. */
    g_mutex_lock(&l->lock);
    l->pc_done = true;
    g_cond_broadcast(&l->cond);
    g_mutex_unlock(&l->lock);
}

char *vh_mig_loader_postcopy_stats(VhMigLoader *l)
{
    VhPostcopyStats st;
    guint64 dropped, calls, stale;

    if (!vh_mig_loader_in_postcopy(l)) {
        return NULL;
    }
    vh_postcopy_get_stats(l->pc, &st);
    vh_postcopy_get_drops(l->pc, &dropped, &calls, &stale);
    return g_strdup_printf(
        "faults %" G_GUINT64_FORMAT ", page requests %" G_GUINT64_FORMAT
        ", served %" G_GUINT64_FORMAT ", zero %" G_GUINT64_FORMAT
        ", request to placement p50 %" G_GUINT64_FORMAT
        " us, p99 %" G_GUINT64_FORMAT " us, max %" G_GUINT64_FORMAT
        " us, discarded %" G_GUINT64_FORMAT " pages in %" G_GUINT64_FORMAT
        " madvise calls, stale at the switch %" G_GUINT64_FORMAT,
        st.faults, st.requests, st.served, st.zero, st.p50_us, st.p99_us,
        st.max_us, dropped, calls, stale);
}

void vh_mig_loader_free(VhMigLoader *l)
{
    if (!l) {
        return;
    }
    vh_mig_loader_clear_staged(l);
    vh_postcopy_target_free(l->pc);
    g_clear_object(&l->req_ch);
    g_clear_object(&l->resume_ch);
    g_clear_object(&l->cur_main);
    g_mutex_clear(&l->rp_lock);
    g_ptr_array_unref(l->staged);
    g_array_unref(l->devices);
    g_free(l->abort_reason);
    g_mutex_clear(&l->lock);
    g_cond_clear(&l->cond);
    g_free(l);
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

bool vh_mig_loader_aborted_locked(VhMigLoader *l, GError **errp)
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

/* ---- helpers ---- */

bool vh_mig_bad(GError **errp, const char *fmt, ...)
{
    va_list ap;
    g_autofree char *msg = NULL;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error(errp, VH_ERROR, VH_ERROR_FAILED, VH_MIG_PFX "%s", msg);
    return false;
}

bool vh_mig_read_exact(VhChannel *ch, void *buf, size_t len, const char *what,
                       GError **errp)
{
    g_autoptr(GError) err = NULL;
    int r = vh_channel_read_all_eof(ch, buf, len, &err);

    if (r == 1) {
        return true;
    }
    if (r == 0) {
        return vh_mig_bad(errp, "truncated: the connection ended before the %s",
                          what);
    }
    return vh_mig_bad(errp, "truncated in the %s: %s", what, err->message);
}

bool vh_mig_expect_len(const char *sec, guint32 got, guint32 want,
                       GError **errp)
{
    if (got != want) {
        return vh_mig_bad(errp, "%s: section length %u, expected %u", sec, got,
                          want);
    }
    return true;
}

bool vh_mig_expect_eof(VhChannel *ch, const char *what, GError **errp)
{
    g_autoptr(GError) err = NULL;
    guint8 c;
    gssize r = vh_channel_read(ch, &c, 1, &err);

    if (r == 0) {
        return true;
    }
    if (r > 0) {
        return vh_mig_bad(errp, "%s: data after the end marker", what);
    }
    return vh_mig_bad(errp, "%s did not end cleanly after the end marker: %s",
                      what, err->message);
}

char *vh_mig_read_name(const guint8 **p, const guint8 *end, guint32 max,
                       const char *what, GError **errp)
{
    guint32 n;

    if (end - *p < 4) {
        vh_mig_bad(errp, "%s: length field past the end of the section", what);
        return NULL;
    }
    n = vh_mig_take_u32(p);
    if (n == 0 || n > max) {
        vh_mig_bad(errp, "%s: length %u out of range (1..%u)", what, n, max);
        return NULL;
    }
    if ((guint64)(end - *p) < n) {
        vh_mig_bad(errp, "%s: %u bytes past the end of the section", what, n);
        return NULL;
    }
    for (guint32 i = 0; i < n; i++) {
        if ((*p)[i] < 0x21 || (*p)[i] > 0x7e) {
            vh_mig_bad(errp, "%s: byte %u (0x%02x) is not printable ASCII",
                       what, i, (*p)[i]);
            return NULL;
        }
    }
    *p += n;
    return g_strndup((const char *)*p - n, n);
}

const char *vh_mig_section_name(guint32 type)
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
        [VH_MIG_SEC_DISCARD] = "DISCARD",
        [VH_MIG_SEC_POSTCOPY_RUN] = "POSTCOPY_RUN",
        [VH_MIG_SEC_DIRTY_SYNC] = "DIRTY_SYNC",
        [VH_MIG_SEC_FLUSH] = "FLUSH",
    };

    return type < G_N_ELEMENTS(names) ? names[type] : NULL;
}

/* ---- what a connection is ---- */

bool vh_mig_read_preamble(VhChannel *ch, VhMigPreamble *pre, GError **errp)
{
    g_autoptr(GError) err = NULL;

    if (!vh_channel_read_all(ch, pre->magic, VH_MIG_MAGIC_SIZE, &err)) {
        g_set_error(errp, VH_ERROR, VH_ERROR_FAILED,
                    "it ended before its first bytes: %s", err->message);
        return false;
    }
    if (memcmp(pre->magic, VH_MIG_STREAM_MAGIC, VH_MIG_MAGIC_SIZE) == 0) {
        pre->kind = VH_MIG_CONN_MAIN;
        return true;
    }
    if (memcmp(pre->magic, VH_MIG_CHANNEL_MAGIC, VH_MIG_MAGIC_SIZE) == 0) {
        pre->kind = VH_MIG_CONN_CHANNEL;
        return true;
    }
    if (memcmp(pre->magic, VH_MIG_POSTCOPY_MAGIC, VH_MIG_MAGIC_SIZE) == 0) {
        pre->kind = VH_MIG_CONN_POSTCOPY;
        return true;
    }
    g_set_error_literal(errp, VH_ERROR, VH_ERROR_FAILED,
                        vh_mig_is_tls_record(pre->magic)
                            ? VH_MIG_TLS_SOURCE_HINT
                            : "not a vmhost migration stream (bad magic)");
    return false;
}

bool vh_mig_preamble_bytes(VhChannel *ch, const VhMigPreamble *pre, guint8 *buf,
                           size_t size, const char *what, GError **errp)
{
    size_t have = pre ? VH_MIG_MAGIC_SIZE : 0;

    if (pre) {
        memcpy(buf, pre->magic, VH_MIG_MAGIC_SIZE);
    }
    return vh_mig_read_exact(ch, buf + have, size - have, what, errp);
}

/* ---- PAGES records ---- */

/* Bits of a bitmap word @i that lie below @count pages. */
static guint64 valid_bits(guint32 count, guint i)
{
    if (count >= 64 * (i + 1)) {
        return ~0ULL;
    }
    if (count <= 64 * i) {
        return 0;
    }
    return (1ULL << (count - 64 * i)) - 1;
}

typedef struct {
    guint32 block;
    guint32 count;
    guint64 first;
    guint64 present[VH_MIG_BITMAP_WORDS];
    guint64 zero[VH_MIG_BITMAP_WORDS];
} PagesHeader;

static bool check_pages(VhMigLoader *l, const PagesHeader *h, const char *where,
                        GError **errp)
{
    guint64 any = 0;

    if (h->block != 0) {
        return vh_mig_bad(errp,
                          "%s PAGES record: block index %u out of range (1 "
                          "block)",
                          where, h->block);
    }
    if (h->count == 0 || h->count > VH_MIG_RECORD_PAGES) {
        return vh_mig_bad(errp,
                          "%s PAGES record: page count %u out of range "
                          "(1..%u)",
                          where, h->count, VH_MIG_RECORD_PAGES);
    }
    if (h->first >= l->pages || h->count > l->pages - h->first) {
        return vh_mig_bad(errp,
                          "%s PAGES record: page range %" G_GUINT64_FORMAT
                          "+%u past the end of block 0 (%" G_GUINT64_FORMAT
                          " pages)",
                          where, h->first, h->count, l->pages);
    }
    for (guint i = 0; i < VH_MIG_BITMAP_WORDS; i++) {
        if (h->present[i] & ~valid_bits(h->count, i)) {
            return vh_mig_bad(errp,
                              "%s PAGES record: present bitmap has bits at "
                              "or past the page count %u",
                              where, h->count);
        }
        if (h->zero[i] & ~h->present[i]) {
            return vh_mig_bad(errp,
                              "%s PAGES record: zero bitmap marks pages "
                              "that are not present",
                              where);
        }
        any |= h->present[i];
    }
    if (!any) {
        return vh_mig_bad(errp, "%s PAGES record: present bitmap is empty",
                          where);
    }
    return true;
}

/*
 * Zero pages made zero (written only if they are not, so a never-touched
 * page is not allocated), the data pages' iovec built.
 */
static size_t place_pages(VhMigLoader *l, const PagesHeader *h,
                          struct iovec *iov, guint64 *normal, guint64 *nzero)
{
    size_t niov = 0;

    for (guint32 i = 0; i < h->count; i++) {
        guint8 *page = l->host + (h->first + i) * VH_RAM_PAGE_SIZE;

        if (!vh_mig_bit_test(h->present, i)) {
            continue;
        }
        if (vh_mig_bit_test(h->zero, i)) {
            if (!vh_mig_page_is_zero(page)) {
                memset(page, 0, VH_RAM_PAGE_SIZE);
            }
            (*nzero)++;
            continue;
        }
        (*normal)++;
        if (niov &&
            (guint8 *)iov[niov - 1].iov_base + iov[niov - 1].iov_len == page) {
            iov[niov - 1].iov_len += VH_RAM_PAGE_SIZE;
        } else {
            iov[niov].iov_base = page;
            iov[niov].iov_len = VH_RAM_PAGE_SIZE;
            niov++;
        }
    }
    return niov;
}

static void count_record(VhMigLoader *l, guint64 normal, guint64 nzero)
{
    g_mutex_lock(&l->lock);
    l->counts.records++;
    l->counts.normal += normal;
    l->counts.zero += nzero;
    l->bytes += normal * VH_RAM_PAGE_SIZE;
    g_mutex_unlock(&l->lock);
}

/* Pre-copy with post-copy ahead: the pages the target now has. */
static void mark_received(VhMigLoader *l, const PagesHeader *h)
{
    if (!l->pc) {
        return;
    }
    for (guint32 i = 0; i < h->count; i++) {
        if (vh_mig_bit_test(h->present, i)) {
            vh_postcopy_mark_received(l->pc, h->first + i);
        }
    }
}

/*
 * Post-copy: the guest runs on this RAM, so the data goes to a buffer and
 * each page is placed atomically (a page a fault placed already stays).
 */
static bool load_pages_postcopy(VhMigLoader *l, VhChannel *ch,
                                const PagesHeader *h, const char *where,
                                GError **errp)
{
    g_autofree guint8 *buf = NULL;
    guint64 normal = 0, nzero = 0;
    guint32 n = 0;
    bool urgent = strcmp(where, "URGENT") == 0;

    if (urgent) {
        vh_pc_trace(VH_PCT_URGENT, h->first);
    }
    for (guint32 i = 0; i < h->count; i++) {
        if (vh_mig_bit_test(h->present, i) && !vh_mig_bit_test(h->zero, i)) {
            normal++;
        } else if (vh_mig_bit_test(h->present, i)) {
            nzero++;
        }
    }
    if (normal) {
        g_autoptr(GError) err = NULL;
        int r;

        buf = g_malloc(normal * VH_RAM_PAGE_SIZE);
        r = vh_channel_read_all_eof(ch, buf, normal * VH_RAM_PAGE_SIZE, &err);
        if (r != 1) {
            return vh_mig_bad(errp,
                              "truncated in the %s PAGES record data (pages "
                              "%" G_GUINT64_FORMAT "+%u): %s",
                              where, h->first, h->count,
                              r == 0 ? "the connection ended" : err->message);
        }
    }
    if (urgent) {
        vh_pc_trace(VH_PCT_DATA, h->first);
    }
    for (guint32 i = 0; i < h->count; i++) {
        if (!vh_mig_bit_test(h->present, i)) {
            continue;
        }
        if (!vh_postcopy_place(l->pc, h->first + i,
                               vh_mig_bit_test(h->zero, i)
                                   ? NULL
                                   : buf + (gsize)(n++) * VH_RAM_PAGE_SIZE,
                               errp)) {
            return false;
        }
    }
    if (urgent) {
        vh_pc_trace(VH_PCT_PLACED, h->first);
    }
    count_record(l, normal, nzero);
    return true;
}

bool vh_mig_load_pages(VhMigLoader *l, VhChannel *ch, const guint8 *body,
                       const char *where, GError **errp)
{
    struct iovec iov[VH_MIG_RECORD_PAGES];
    guint64 normal = 0, nzero = 0;
    const guint8 *p = body;
    PagesHeader h;
    size_t niov;

    h.block = vh_mig_take_u32(&p);
    h.count = vh_mig_take_u32(&p);
    h.first = vh_mig_take_u64(&p);
    for (guint i = 0; i < VH_MIG_BITMAP_WORDS; i++) {
        h.present[i] = vh_mig_take_u64(&p);
    }
    for (guint i = 0; i < VH_MIG_BITMAP_WORDS; i++) {
        h.zero[i] = vh_mig_take_u64(&p);
    }
    if (!check_pages(l, &h, where, errp)) {
        return false;
    }
    if (vh_mig_loader_in_postcopy(l)) {
        return load_pages_postcopy(l, ch, &h, where, errp);
    }
    niov = place_pages(l, &h, iov, &normal, &nzero);
    if (niov) {
        g_autoptr(GError) err = NULL;
        int r = vh_channel_readv_all_eof(ch, iov, niov, &err);

        if (r != 1) {
            return vh_mig_bad(errp,
                              "truncated in the %s PAGES record data (pages "
                              "%" G_GUINT64_FORMAT "+%u): %s",
                              where, h.first, h.count,
                              r == 0 ? "the connection ended" : err->message);
        }
    }
    mark_received(l, &h);
    g_mutex_lock(&l->lock);
    l->counts.records++;
    l->counts.normal += normal;
    l->counts.zero += nzero;
    l->bytes += normal * VH_RAM_PAGE_SIZE;
    g_mutex_unlock(&l->lock);
    return true;
}
