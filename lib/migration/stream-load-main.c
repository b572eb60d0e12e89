/*
 * The main stream on the target: header, RAM_SETUP, pages (without
 * multifd), ITER_END, the device state and END, in the order
 * docs/migration-stream.md allows, each field checked.
 */
#include "stream-priv.h"

#include "vmhost/util/error.h"

typedef struct {
    guint32 version;
    guint32 page_size;
    guint32 flags;
    guint32 channels;
    guint8 uuid[VH_MIG_UUID_SIZE];
    guint64 reserved;
} Header;

/* The magic: what else the bytes are, when they are no main stream. */
static bool check_magic(const guint8 *h, GError **errp)
{
    if (memcmp(h, VH_MIG_STREAM_MAGIC, VH_MIG_MAGIC_SIZE) == 0) {
        return true;
    }
    if (memcmp(h, VH_MIG_CHANNEL_MAGIC, VH_MIG_MAGIC_SIZE) == 0) {
        return vh_mig_bad(errp, "header: a multifd channel arrived where the "
                                "main stream was expected");
    }
    if (vh_mig_is_tls_record(h)) {
        return vh_mig_bad(errp, "header: " VH_MIG_TLS_SOURCE_HINT);
    }
    return vh_mig_bad(errp,
                      "header: bad magic (not a vmhost migration stream)");
}

static bool check_header(VhMigLoader *l, const Header *h, GError **errp)
{
    if (h->version != VH_MIG_STREAM_VERSION) {
        return vh_mig_bad(errp,
                          "header: version %u not supported (this vmhost "
                          "reads version %u)",
                          h->version, VH_MIG_STREAM_VERSION);
    }
    if (h->page_size != VH_RAM_PAGE_SIZE) {
        return vh_mig_bad(errp, "header: page size %u, this vmhost uses %u",
                          h->page_size, VH_RAM_PAGE_SIZE);
    }
    if (h->flags & ~(guint32)VH_MIG_FLAGS_KNOWN) {
        return vh_mig_bad(errp, "header: unknown flags 0x%x", h->flags);
    }
    if (!(h->flags & VH_MIG_FLAG_MULTIFD) && h->channels != 0) {
        return vh_mig_bad(errp,
                          "header: channel count %u without the multifd flag",
                          h->channels);
    }
    if ((h->flags & VH_MIG_FLAG_MULTIFD) &&
        (h->channels == 0 || h->channels > VH_MIG_MAX_CHANNELS)) {
        return vh_mig_bad(errp,
                          "header: multifd channel count %u out of range "
                          "(1..%u)",
                          h->channels, VH_MIG_MAX_CHANNELS);
    }
    if ((h->flags & VH_MIG_FLAG_MULTIFD) && !l->allow_multifd) {
        return vh_mig_bad(errp, "header: the source wants multifd channels, "
                                "which this transport cannot carry");
    }
    if (h->reserved != 0) {
        return vh_mig_bad(errp, "header: reserved field is not zero");
    }
    if ((h->flags & VH_MIG_FLAG_POSTCOPY) &&
        !(h->flags & VH_MIG_FLAG_RETURN_PATH)) {
        return vh_mig_bad(errp, "header: post-copy without a return path");
    }
    return true;
}

static bool load_header(VhMigLoader *l, VhChannel *ch, const VhMigPreamble *pre,
                        GError **errp)
{
    guint8 buf[VH_MIG_HEADER_SIZE];
    const guint8 *p = buf + VH_MIG_MAGIC_SIZE;
    VhPostcopyTarget *pc = NULL;
    Header h;

    if (!vh_mig_preamble_bytes(ch, pre, buf, sizeof(buf), "header", errp) ||
        !check_magic(buf, errp)) {
        return false;
    }
    h.version = vh_mig_take_u32(&p);
    h.page_size = vh_mig_take_u32(&p);
    h.flags = vh_mig_take_u32(&p);
    h.channels = vh_mig_take_u32(&p);
    memcpy(h.uuid, p, VH_MIG_UUID_SIZE);
    p += VH_MIG_UUID_SIZE;
    h.reserved = vh_mig_take_u64(&p);
    if (!check_header(l, &h, errp)) {
        return false;
    }
    if (h.flags & VH_MIG_FLAG_RESUME) {
        /* Nothing is paused here: this attempt is new. */
        if (l->not_run_known &&
            memcmp(h.uuid, l->not_run_uuid, VH_MIG_UUID_SIZE) == 0) {
            g_mutex_lock(&l->lock);
            l->not_run = true;
            g_mutex_unlock(&l->lock);
            return vh_mig_bad(errp, "resume header: POSTCOPY_RUN of this "
                                    "session never reached this target "
                                    "(its migration failed before): the "
                                    "guest never ran here");
        }
        return vh_mig_bad(errp, "resume header: no post-copy is paused here");
    }
    /*
     * Before any channel may join (have_header): no page can be loaded
     * before the RAM is dropped, even from a source that does not wait
     * for READY.
     */
    if ((h.flags & VH_MIG_FLAG_POSTCOPY) && l->allow_postcopy) {
        pc = vh_postcopy_target_new(l->ram);
        if (!vh_postcopy_target_prepare(pc, errp)) {
            vh_postcopy_target_free(pc);
            return false;
        }
    }
    g_mutex_lock(&l->lock);
    l->flags = h.flags;
    l->channels = h.channels;
    l->pc = pc;
    memcpy(l->uuid, h.uuid, VH_MIG_UUID_SIZE);
    l->have_header = true;
    g_cond_broadcast(&l->cond);
    g_mutex_unlock(&l->lock);
    return true;
}

/* RAM_SETUP's block 0 after its name: size and pages, against ours. */
static bool check_block(VhMigLoader *l, const char *name, guint64 size,
                        guint64 pages, GError **errp)
{
    if (size == 0 || size % VH_RAM_PAGE_SIZE) {
        return vh_mig_bad(errp,
                          "RAM_SETUP: block 0 ('%s') size %" G_GUINT64_FORMAT
                          " is not a non-zero multiple of the page size",
                          name, size);
    }
    if (pages != size / VH_RAM_PAGE_SIZE) {
        return vh_mig_bad(errp,
                          "RAM_SETUP: block 0 ('%s') page count "
                          "%" G_GUINT64_FORMAT
                          " does not match its size %" G_GUINT64_FORMAT,
                          name, pages, size);
    }
    if (size != vh_ram_block_get_size(l->ram)) {
        return vh_mig_bad(errp,
                          "RAM_SETUP: block 0 ('%s') is %" G_GUINT64_FORMAT
                          " bytes on the source but '%s' is %" G_GUINT64_FORMAT
                          " bytes here (start the target with the same -m)",
                          name, size, vh_ram_block_get_name(l->ram),
                          vh_ram_block_get_size(l->ram));
    }
    return true;
}

static bool load_ram_setup(VhMigLoader *l, const guint8 *b, guint32 len,
                           GError **errp)
{
    const guint8 *p = b, *end = b + len;
    g_autofree char *name = NULL;
    guint32 nblocks;
    guint64 size;

    if (len < 4) {
        return vh_mig_bad(errp, "RAM_SETUP: section length %u too short", len);
    }
    nblocks = vh_mig_take_u32(&p);
    if (nblocks == 0 || nblocks > VH_MIG_MAX_BLOCKS) {
        return vh_mig_bad(errp,
                          "RAM_SETUP: block count %u out of range (1..%u)",
                          nblocks, VH_MIG_MAX_BLOCKS);
    }
    if (nblocks != 1) {
        return vh_mig_bad(
            errp, "RAM_SETUP: the source has %u RAM blocks, this machine 1",
            nblocks);
    }
    name = vh_mig_read_name(&p, end, VH_MIG_BLOCK_NAME_MAX,
                            "RAM_SETUP: block 0 name", errp);
    if (!name) {
        return false;
    }
    if (end - p != 16) {
        return vh_mig_bad(errp,
                          "RAM_SETUP: section length %u does not match its "
                          "block list",
                          len);
    }
    size = vh_mig_take_u64(&p);
    return check_block(l, name, size, vh_mig_take_u64(&p), errp);
}

/*
 * ITER_END (@flush false: every channel reached this iteration's SYNC) and
 * DIRTY_SYNC (true: post-copy with multifd, a dirty sync in the middle of
 * a pass; every channel reached its FLUSH): the same body, u64 number
 * (*@last + 1), u32 channels, u32 reserved, u64 packets per channel. The
 * DISCARDs before either drop their pages while every channel waits at
 * its barrier, so that no record of theirs is in flight; then the
 * channels go on. A resume goes on from the last ITER_END checked.
 */
static bool load_barrier(VhMigLoader *l, bool flush, const guint8 *b,
                         guint32 len, guint64 *last, GError **errp)
{
    const char *name = flush ? "DIRTY_SYNC" : "ITER_END";
    const guint8 *p = b;
    guint64 n;
    guint32 nch;

    if (len < VH_MIG_ITER_END_BASE) {
        return vh_mig_bad(errp, "%s: section length %u too short", name, len);
    }
    n = vh_mig_take_u64(&p);
    nch = vh_mig_take_u32(&p);
    if (n != *last + 1) {
        return vh_mig_bad(errp,
                          "%s: %s %" G_GUINT64_FORMAT
                          " out of order (expected %" G_GUINT64_FORMAT ")",
                          name, flush ? "sync" : "iteration", n, *last + 1);
    }
    if (nch != l->channels) {
        return vh_mig_bad(errp, "%s: channel count %u, the header said %u",
                          name, nch, l->channels);
    }
    if (!vh_mig_expect_len(name, len, VH_MIG_ITER_END_BASE + 8 * nch, errp)) {
        return false;
    }
    if (vh_mig_take_u32(&p) != 0) {
        return vh_mig_bad(errp, "%s: reserved field is not zero", name);
    }
    if (!vh_mig_wait_barrier(l, flush, n, p, errp) ||
        (l->pc && !vh_postcopy_discard_pending(l->pc, errp))) {
        return false;
    }
    vh_mig_open_barrier(l, flush, n);
    *last = n;
    return true;
}

/* END's totals against what every connection loaded. */
static bool load_end(VhMigLoader *l, const guint8 *b, GError **errp)
{
    const guint8 *p = b;
    VhMigCounts want, got;

    want.records = vh_mig_take_u64(&p);
    want.normal = vh_mig_take_u64(&p);
    want.zero = vh_mig_take_u64(&p);
    want.iterations = vh_mig_take_u64(&p);
    if (!vh_mig_wait_channels_done(l, errp)) {
        return false;
    }
    g_mutex_lock(&l->lock);
    got = l->counts;
    g_mutex_unlock(&l->lock);
    /* After a resume the lost records were sent again: the totals differ. */
    if (!l->resumed &&
        (want.records != got.records || want.normal != got.normal ||
         want.zero != got.zero || want.iterations != got.iterations)) {
        return vh_mig_bad(
            errp,
            "END: the source sent %" G_GUINT64_FORMAT
            " records (%" G_GUINT64_FORMAT " normal, %" G_GUINT64_FORMAT
            " zero pages) in %" G_GUINT64_FORMAT
            " iterations, %" G_GUINT64_FORMAT " records (%" G_GUINT64_FORMAT
            ", %" G_GUINT64_FORMAT ") in %" G_GUINT64_FORMAT " arrived",
            want.records, want.normal, want.zero, want.iterations, got.records,
            got.normal, got.zero, got.iterations);
    }
    return true;
}

/* Where the main stream is: what may come next. */
typedef struct {
    guint64 iter;          /* the last ITER_END */
    guint64 flush;         /* the last DIRTY_SYNC */
    bool pages_since_iter; /* PAGES after it */
    bool devices;          /* device state began: only more of it, or END */
    bool postcopy;         /* POSTCOPY_RUN came: PAGES, then END */
} MainPos;

/* A section body of @len (at most @max) bytes, NUL-terminated. */
static guint8 *read_body(VhChannel *ch, const char *name, guint32 len,
                         guint32 max, GError **errp)
{
    g_autofree guint8 *b = NULL;

    if (len > max) {
        vh_mig_bad(errp, "%s: section length %u too long", name, len);
        return NULL;
    }
    b = g_malloc(len + 1);
    b[len] = 0;
    if (!vh_mig_read_exact(ch, b, len, name, errp)) {
        return NULL;
    }
    return g_steal_pointer(&b);
}

/* Header, RAM_SETUP, every channel connected, READY. */
static bool main_setup(VhMigLoader *l, VhChannel *ch, const VhMigPreamble *pre,
                       GError **errp)
{
    g_autofree guint8 *b = NULL;
    guint8 sh[VH_MIG_SECTION_HEADER_SIZE];
    const guint8 *p = sh;
    guint32 type, len;

    if (!load_header(l, ch, pre, errp) ||
        !vh_mig_read_exact(ch, sh, sizeof(sh), "RAM_SETUP section header",
                           errp)) {
        return false;
    }
    type = vh_mig_take_u32(&p);
    len = vh_mig_take_u32(&p);
    if (type != VH_MIG_SEC_RAM_SETUP) {
        return vh_mig_bad(
            errp, "section type %u where RAM_SETUP must come first", type);
    }
    b = read_body(ch, "RAM_SETUP", len, VH_MIG_RAM_SETUP_MAX, errp);
    if (!b || !load_ram_setup(l, b, len, errp)) {
        return false;
    }
    /* Refused once the source's first bytes are read: it gets the ERROR. */
    if ((l->flags & VH_MIG_FLAG_POSTCOPY) && !l->allow_postcopy) {
        return vh_mig_bad(errp, "header: the source has postcopy-ram on, this "
                                "target does not (migrate_set_capability "
                                "postcopy-ram on here too)");
    }
    if (!vh_mig_wait_channels_connected(l, errp) ||
        (l->pc && !vh_mig_wait_postcopy_connected(l, errp))) {
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

    if (l->channels && !pos->postcopy) {
        return vh_mig_bad(errp, "PAGES record on the main stream of a "
                                "multifd migration");
    }
    if (pos->devices && !pos->postcopy) {
        return vh_mig_bad(errp, "PAGES record after the device state");
    }
    if (!vh_mig_expect_len("PAGES", len, VH_MIG_PAGES_BODY, errp) ||
        !vh_mig_read_exact(ch, body, sizeof(body), "PAGES record header",
                           errp) ||
        !vh_mig_load_pages(l, ch, body, "main stream", errp)) {
        return false;
    }
    pos->pages_since_iter = true;
    return true;
}

static bool main_iter_end(VhMigLoader *l, VhChannel *ch, MainPos *pos,
                          guint32 len, GError **errp)
{
    g_autofree guint8 *b = NULL;

    /* Post-copy's bulk on multifd channels ends with one more ITER_END. */
    if (pos->devices && !pos->postcopy) {
        return vh_mig_bad(errp, "ITER_END after the device state");
    }
    b = read_body(ch, "ITER_END", len, VH_MIG_ITER_END_MAX, errp);
    if (!b || !load_barrier(l, false, b, len, &pos->iter, errp)) {
        return false;
    }
    pos->pages_since_iter = false;
    return true;
}

/* MACHINE or DEVICE: only after the final ITER_END. */
static bool main_device(VhMigLoader *l, VhChannel *ch, MainPos *pos,
                        guint32 type, guint32 len, GError **errp)
{
    const char *name = vh_mig_section_name(type);
    g_autofree guint8 *b = NULL;

    if (pos->iter == 0 || pos->pages_since_iter) {
        return vh_mig_bad(errp, "%s: device state before the final ITER_END",
                          name);
    }
    if (pos->postcopy) {
        return vh_mig_bad(errp, "%s: device state after POSTCOPY_RUN", name);
    }
    /*
     * DISCARDs after the final ITER_END (an older source's switch): the
     * channels carry nothing until POSTCOPY_RUN's READY.
     */
    if (!pos->devices && l->pc && !vh_postcopy_discard_pending(l->pc, errp)) {
        return false;
    }
    pos->devices = true;
    if (type == VH_MIG_SEC_MACHINE) {
        b = read_body(ch, name, len, VH_MIG_MACHINE_BODY, errp);
        return b && vh_mig_load_machine(l, b, len, errp);
    }
    b = read_body(ch, name, len, VH_MIG_DEVICE_SECTION_MAX, errp);
    return b && vh_mig_load_device(l, b, len, errp);
}

/*
 * END. In post-copy, what a resume can mend (URGENT cut before its end, a
 * page the source never sent: its RAM still has it) fails before *@done,
 * so that post-copy pauses; anything after is the end of the stream.
 */
static bool main_end(VhMigLoader *l, VhChannel *ch, guint32 len, bool *done,
                     GError **errp)
{
    guint8 b[VH_MIG_END_BODY];

    /* The URGENT connection ends first (with or without post-copy). */
    if (l->pc && !vh_mig_wait_urgent_done(l, errp)) {
        return false;
    }
    if (vh_mig_loader_in_postcopy(l) &&
        !vh_postcopy_target_check_complete(l->pc, errp)) {
        return false;
    }
    *done = true;
    return vh_mig_devices_complete(l, errp) &&
           vh_mig_expect_len("END", len, VH_MIG_END_BODY, errp) &&
           vh_mig_read_exact(ch, b, sizeof(b), "END section", errp) &&
           load_end(l, b, errp) &&
           vh_mig_expect_eof(ch, "the main connection", errp);
}

/*
 * DISCARD: pages dirtied on the source after their last pre-copy send;
 * the target drops them and fetches them again (only with the POSTCOPY
 * flag, anywhere in pre-copy: docs/migration-stream.md, "Post-copy").
 * Without multifd every record before it is loaded, so they go now; with
 * multifd, records of theirs may still be in flight on the channels: they
 * go at the next DIRTY_SYNC or ITER_END, once every channel is there.
 */
static bool main_discard(VhMigLoader *l, VhChannel *ch, MainPos *pos,
                         guint32 len, GError **errp)
{
    g_autofree guint8 *b = NULL;
    const guint8 *p;
    guint32 block, n;

    if (!l->pc) {
        return vh_mig_bad(errp, "DISCARD without the post-copy flag");
    }
    if (pos->devices || pos->postcopy) {
        return vh_mig_bad(errp, "DISCARD after the device state: only during "
                                "pre-copy");
    }
    b = read_body(ch, "DISCARD", len, VH_MIG_DISCARD_MAX, errp);
    if (!b) {
        return false;
    }
    if (len < VH_MIG_DISCARD_BASE) {
        return vh_mig_bad(errp, "DISCARD: section length %u too short", len);
    }
    p = b;
    block = vh_mig_take_u32(&p);
    n = vh_mig_take_u32(&p);
    if (block != 0) {
        return vh_mig_bad(errp,
                          "DISCARD: block index %u out of range (1 "
                          "block)",
                          block);
    }
    if (n == 0 || n > VH_MIG_DISCARD_MAX_RANGES) {
        return vh_mig_bad(errp, "DISCARD: range count %u out of range (1..%u)",
                          n, VH_MIG_DISCARD_MAX_RANGES);
    }
    if (!vh_mig_expect_len("DISCARD", len, VH_MIG_DISCARD_BASE + 16 * n,
                           errp)) {
        return false;
    }
    /* Every range checked before any is applied. */
    for (guint32 i = 0; i < n; i++) {
        guint64 first = vh_mig_take_u64(&p);
        guint64 count = vh_mig_take_u64(&p);

        if (count == 0 || first >= l->pages || count > l->pages - first) {
            return vh_mig_bad(errp,
                              "DISCARD: range %" G_GUINT64_FORMAT
                              "+%" G_GUINT64_FORMAT
                              " empty or past the end of block 0 "
                              "(%" G_GUINT64_FORMAT " pages)",
                              first, count, l->pages);
        }
    }
    p = b + VH_MIG_DISCARD_BASE;
    for (guint32 i = 0; i < n; i++) {
        guint64 first = vh_mig_take_u64(&p);
        guint64 count = vh_mig_take_u64(&p);

        if (l->channels) {
            vh_postcopy_discard_later(l->pc, first, count);
        } else if (!vh_postcopy_drop(l->pc, first, count, errp)) {
            return false;
        }
    }
    return true;
}

static bool main_dirty_sync(VhMigLoader *l, VhChannel *ch, MainPos *pos,
                            guint32 len, GError **errp)
{
    g_autofree guint8 *b = NULL;

    if (!l->pc) {
        return vh_mig_bad(errp, "DIRTY_SYNC without the post-copy flag");
    }
    if (!l->channels) {
        return vh_mig_bad(errp, "DIRTY_SYNC without multifd channels");
    }
    if (pos->devices || pos->postcopy) {
        return vh_mig_bad(errp, "DIRTY_SYNC after the device state: only "
                                "during pre-copy");
    }
    b = read_body(ch, "DIRTY_SYNC", len, VH_MIG_DIRTY_SYNC_MAX, errp);
    return b && load_barrier(l, true, b, len, &pos->flush, errp);
}

/*
 * POSTCOPY_RUN: every device's state is in; drop the pages not here,
 * register the RAM, start requesting, apply the devices, run the guest.
 */
static bool main_postcopy_run(VhMigLoader *l, VhChannel *ch, MainPos *pos,
                              guint32 len, GError **errp)
{
    guint64 dropped, calls, stale;
    gint64 t0;

    if (!l->pc) {
        return vh_mig_bad(errp, "POSTCOPY_RUN without the post-copy flag");
    }
    if (pos->postcopy) {
        return vh_mig_bad(errp, "POSTCOPY_RUN: a second one");
    }
    if (!vh_mig_devices_complete(l, errp) ||
        !vh_mig_expect_len("POSTCOPY_RUN", len, 0, errp)) {
        return false;
    }
    /*
     * Live first: the fault thread's first request can be answered on
     * URGENT before this thread is back. No bulk is in flight yet (the
     * source waits for READY below). Under the lock, against a resume
     * that found it not live and told the source the guest never ran.
     */
    g_mutex_lock(&l->lock);
    if (l->not_run) {
        g_mutex_unlock(&l->lock);
        return vh_mig_bad(errp, "POSTCOPY_RUN came after the source resumed "
                                "without it: the guest stays the source's");
    }
    __atomic_store_n(&l->postcopy_live, true, __ATOMIC_RELEASE);
    g_mutex_unlock(&l->lock);
    pos->postcopy = true;
    t0 = g_get_monotonic_time();
    if (!vh_postcopy_target_start(l->pc, l->req_ch, &l->rp_lock, errp)) {
        return false;
    }
    vh_postcopy_get_drops(l->pc, &dropped, &calls, &stale);
    g_message("migration: POSTCOPY_RUN: %" G_GUINT64_FORMAT
              " pages discarded before it in %" G_GUINT64_FORMAT
              " madvise calls; the stale check (%" G_GUINT64_FORMAT
              " found) and userfaultfd took %.2f ms",
              dropped, calls, stale,
              (double)(g_get_monotonic_time() - t0) / 1000.0);
    if (!vh_mig_loader_apply_devices(l, errp) ||
        (l->run_func && !l->run_func(l, l->run_opaque, errp))) {
        return false;
    }
    /*
     * READY: the bulk may come. Before it, a multifd channel could load a
     * page in the pre-copy way while the missing pages are dropped.
     */
    if (!vh_mig_rp_send(ch, VH_MIG_RP_READY, NULL, 0, errp)) {
        g_prefix_error(errp, "return path: READY after POSTCOPY_RUN: ");
        return false;
    }
    return true;
}

/* One section after RAM_SETUP; *@done after END. */
static bool main_section(VhMigLoader *l, VhChannel *ch, MainPos *pos,
                         bool *done, GError **errp)
{
    guint8 sh[VH_MIG_SECTION_HEADER_SIZE];
    const guint8 *p = sh;
    guint32 type, len;

    if (!vh_mig_read_exact(ch, sh, sizeof(sh), "next section header", errp)) {
        return false;
    }
    type = vh_mig_take_u32(&p);
    len = vh_mig_take_u32(&p);
    switch (type) {
    case VH_MIG_SEC_RAM_SETUP:
        return vh_mig_bad(errp, "RAM_SETUP: a second one");
    case VH_MIG_SEC_PAGES:
        return main_pages(l, ch, pos, len, errp);
    case VH_MIG_SEC_ITER_END:
        return main_iter_end(l, ch, pos, len, errp);
    case VH_MIG_SEC_MACHINE:
    case VH_MIG_SEC_DEVICE:
        return main_device(l, ch, pos, type, len, errp);
    case VH_MIG_SEC_DISCARD:
        return main_discard(l, ch, pos, len, errp);
    case VH_MIG_SEC_DIRTY_SYNC:
        return main_dirty_sync(l, ch, pos, len, errp);
    case VH_MIG_SEC_POSTCOPY_RUN:
        return main_postcopy_run(l, ch, pos, len, errp);
    case VH_MIG_SEC_END:
        return main_end(l, ch, len, done, errp);
    default:
        return vh_mig_bad(errp, "unknown section type %u on the main stream",
                          type);
    }
}

/*
 * Post-copy lost a connection: pause, wait for a RESUME main stream and
 * its two post-copy connections, tell the source what is here, go on.
 * Returns the new main connection, or NULL when the loader is aborted.
 */
static VhChannel *pause_and_resume(VhMigLoader *l, const GError *why,
                                   GError **errp)
{
    VhChannel *ch = NULL;
    guint32 iteration;

    g_mutex_lock(&l->lock);
    l->paused = true;
    l->pc_epoch++;
    /*
     * The multifd channels may come back with the resume: until then END
     * waits for none, and their next SYNC follows the last ITER_END.
     */
    for (guint i = 0; i < l->channels; i++) {
        l->chan[i].connected = false;
        l->chan[i].done = true;
        l->chan[i].failed = false;
        l->chan[i].synced_iter = l->released_iter;
        l->chan[i].sync_packets = 0;
    }
    l->resume_channels = 0;
    g_clear_object(&l->req_ch);
    l->urgent_connected = false;
    l->urgent_done = false;
    l->urgent_failed = false;
    g_cond_broadcast(&l->cond);
    g_mutex_unlock(&l->lock);
    if (!vh_postcopy_target_set_channel(l->pc, NULL, errp)) {
        return NULL;
    }
    l->pause_func(l, why->message, l->run_opaque);
    g_mutex_lock(&l->lock);
    while (!l->resume_ch && !l->abort_reason) {
        g_cond_wait(&l->cond, &l->lock);
    }
    if (!vh_mig_loader_aborted_locked(l, errp)) {
        ch = g_steal_pointer(&l->resume_ch);
        for (guint i = 0; i < l->resume_channels; i++) {
            l->chan[i].done = false;
        }
    }
    iteration = (guint32)l->released_iter;
    g_mutex_unlock(&l->lock);
    if (!ch) {
        return NULL;
    }
    if ((l->resume_channels && !vh_mig_wait_channels_connected(l, errp)) ||
        !vh_mig_wait_postcopy_connected(l, errp) ||
        !vh_postcopy_target_set_channel(l->pc, l->req_ch, errp) ||
        !vh_mig_rp_send_bitmap(ch, vh_postcopy_received_map(l->pc), l->pages,
                               iteration, errp)) {
        g_prefix_error(errp, "resuming post-copy: ");
        g_object_unref(ch);
        return NULL;
    }
    g_mutex_lock(&l->lock);
    l->paused = false;
    l->resumed = true;
    g_mutex_unlock(&l->lock);
    l->pause_func(l, NULL, l->run_opaque);
    return ch;
}

/*
 * Pause until a resume works: one that fails after its main connection
 * came (its channels did not connect, say) pauses again.
 */
static VhChannel *resume_after(VhMigLoader *l, GError **why, GError **errp)
{
    for (;;) {
        GError *err = NULL;
        VhChannel *next = pause_and_resume(l, *why, &err);
        bool aborted;

        if (next) {
            return next;
        }
        g_mutex_lock(&l->lock);
        aborted = l->abort_reason != NULL;
        g_mutex_unlock(&l->lock);
        if (aborted) {
            g_propagate_error(errp, err);
            return NULL;
        }
        g_message("migration: %s", err->message);
        g_clear_error(why);
        *why = err;
    }
}

static bool run_main(VhMigLoader *l, VhChannel *ch, const VhMigPreamble *pre,
                     GError **errp)
{
    MainPos pos = {0};
    bool done = false;

    if (!main_setup(l, ch, pre, errp)) {
        return false;
    }
    while (!done) {
        g_autoptr(GError) err = NULL;
        VhChannel *next;
        bool aborted;

        if (main_section(l, ch, &pos, &done, &err)) {
            continue;
        }
        g_mutex_lock(&l->lock);
        aborted = l->abort_reason != NULL;
        g_mutex_unlock(&l->lock);
        if (!pos.postcopy || !l->pause_func || aborted || done) {
            g_propagate_error(errp, g_steal_pointer(&err));
            return false;
        }
        /* The guest runs here: wait for the link instead of failing. */
        if (!vh_channel_shutdown(ch, VH_CHANNEL_SHUTDOWN_BOTH, NULL)) {
            g_debug("migration: the failed main connection is cut already");
        }
        next = resume_after(l, &err, errp);
        if (!next) {
            return false;
        }
        g_clear_object(&l->cur_main);
        l->cur_main = next;
        ch = next;
    }
    return true;
}

bool vh_mig_loader_run_main(VhMigLoader *l, VhChannel *ch,
                            const VhMigPreamble *pre, GError **errp)
{
    GError *err = NULL;

    if (run_main(l, ch, pre, &err)) {
        return true;
    }
    /* A channel's failure cut this connection: report the cause. */
    g_mutex_lock(&l->lock);
    if (l->abort_reason) {
        g_clear_error(&err);
        g_set_error_literal(&err, VH_ERROR, VH_ERROR_FAILED, l->abort_reason);
    } else {
        l->abort_reason = g_strdup(err->message);
        g_cond_broadcast(&l->cond);
    }
    g_mutex_unlock(&l->lock);
    g_propagate_error(errp, err);
    return false;
}
