/*
 * Post-copy on the source: a thread reads the return path while the
 * migration thread sends, and hands it the target's page requests.
 */
#include "postcopy-priv.h"
#include "postcopy-trace.h"

#include "source-pages.h"
#include "vmhost/migration/return-path.h"
#include "vmhost/util/error.h"

typedef struct {
    VhPcEvent ev;
    guint64 first;
    guint32 count;
    VhMigCounts loaded;
    GError *err;
} Item;

struct VhPostcopySource {
    VhChannel *ch;     /* REQUEST: this thread reads it */
    VhChannel *urgent; /* URGENT: this thread writes it */
    VhMigPageSender *sender;
    VhMigCounts counts; /* the thread's; read after the join */
    guint64 records;
    guint64 pages;
    GAsyncQueue *q; /* Item */
    GThread *thread;
    guint64 requests; /* atomic */
    gint failed;      /* atomic: the reader queued VH_PC_FAILED */
};

static void item_free(gpointer p)
{
    Item *it = p;

    g_clear_error(&it->err);
    g_free(it);
}

/* The requested pages, one record, on URGENT (the source RAM is frozen). */
static bool serve(VhPostcopySource *ps, guint64 first, guint32 count,
                  GError **errp)
{
    guint64 present[VH_MIG_BITMAP_WORDS] = {0};

    for (guint32 i = 0; i < count; i++) {
        present[i / 64] |= 1ULL << (i % 64);
    }
    if (!vh_mig_page_sender_send(ps->sender, ps->urgent, false, first, count,
                                 present, &ps->counts, errp)) {
        g_prefix_error(errp, "migration postcopy urgent: ");
        return false;
    }
    ps->records++;
    return true;
}

static gpointer reader(gpointer opaque)
{
    VhPostcopySource *ps = opaque;

    vh_postcopy_urgent_thread();
    for (;;) {
        Item *it = g_new0(Item, 1);
        VhMigRpMsg m;

        if (!vh_mig_rp_recv_msg(ps->ch, &m, &it->err)) {
            it->ev = VH_PC_FAILED;
        } else if (m.type == VH_MIG_RP_REQ_PAGES) {
            vh_pc_trace(VH_PCT_GOT, m.first);
            if (m.block != 0 || m.first >= ps->pages ||
                m.count > ps->pages - m.first) {
                it->ev = VH_PC_FAILED;
                g_set_error(&it->err, VH_ERROR, VH_ERROR_FAILED,
                            "return path from the target: REQ_PAGES: block "
                            "%u pages %" G_GUINT64_FORMAT
                            "+%u are outside guest RAM (%" G_GUINT64_FORMAT
                            " pages): protocol error",
                            m.block, m.first, m.count, ps->pages);
            } else if (serve(ps, m.first, m.count, &it->err)) {
                vh_pc_trace(VH_PCT_SENT, m.first);
                it->ev = VH_PC_REQUEST;
                it->first = m.first;
                it->count = m.count;
                __atomic_fetch_add(&ps->requests, 1, __ATOMIC_RELAXED);
            } else {
                it->ev = VH_PC_FAILED;
            }
        } else if (m.type == VH_MIG_RP_LOADED) {
            it->ev = VH_PC_LOADED;
            it->loaded = m.counts;
        } else {
            it->ev = VH_PC_FAILED;
            g_set_error(&it->err, VH_ERROR, VH_ERROR_FAILED,
                        "return path from the target: READY during "
                        "post-copy");
        }
        bool more = it->ev == VH_PC_REQUEST;

        if (it->ev == VH_PC_FAILED) {
            g_atomic_int_set(&ps->failed, 1);
        }
        g_async_queue_push(ps->q, it); /* the consumer's now */
        if (!more) {
            return NULL;
        }
    }
}

VhPostcopySource *vh_postcopy_source_start(VhChannel *req, VhChannel *urgent,
                                           VhMigPageSender *sender,
                                           guint64 pages)
{
    VhPostcopySource *ps = g_new0(VhPostcopySource, 1);

    ps->ch = g_object_ref(req);
    ps->urgent = g_object_ref(urgent);
    ps->sender = sender;
    ps->pages = pages;
    ps->q = g_async_queue_new_full(item_free);
    vh_pc_trace_init();
    ps->thread = g_thread_new("postcopy-rp", reader, ps);
    return ps;
}

VhPcEvent vh_postcopy_source_next(VhPostcopySource *ps, bool wait,
                                  guint64 *first, guint32 *count,
                                  VhMigCounts *loaded, GError **errp)
{
    Item *it = wait ? g_async_queue_pop(ps->q) : g_async_queue_try_pop(ps->q);
    VhPcEvent ev;

    if (!it) {
        return VH_PC_NONE;
    }
    ev = it->ev;
    *first = it->first;
    *count = it->count;
    *loaded = it->loaded;
    if (it->err) {
        g_propagate_error(errp, g_steal_pointer(&it->err));
    }
    item_free(it);
    return ev;
}

bool vh_postcopy_source_failed(VhPostcopySource *ps)
{
    return g_atomic_int_get(&ps->failed);
}

guint64 vh_postcopy_source_requests(VhPostcopySource *ps)
{
    return __atomic_load_n(&ps->requests, __ATOMIC_RELAXED);
}

void vh_postcopy_source_stop(VhPostcopySource *ps, VhMigCounts *c,
                             guint64 *records)
{
    if (ps->thread) {
        g_thread_join(ps->thread);
        ps->thread = NULL;
    }
    vh_pc_trace_dump();
    c->records += ps->counts.records;
    c->normal += ps->counts.normal;
    c->zero += ps->counts.zero;
    *records = ps->records;
}

guint64 vh_postcopy_next_window(const guint64 *bitmap, guint64 nwords,
                                guint step, guint64 from)
{
    guint64 start = from - from % step;

    if (start >= nwords) {
        start = 0;
    }
    for (guint64 n = 0, w = start; n < nwords; n += step) {
        for (guint k = 0; k < step; k++) {
            if (bitmap[w + k]) {
                return w;
            }
        }
        w = w + step >= nwords ? 0 : w + step;
    }
    return VH_PC_NO_WINDOW;
}

void vh_postcopy_source_free(VhPostcopySource *ps)
{
    if (!ps) {
        return;
    }
    if (ps->thread) {
        g_thread_join(ps->thread);
    }
    g_async_queue_unref(ps->q);
    g_object_unref(ps->ch);
    g_object_unref(ps->urgent);
    g_free(ps);
}
