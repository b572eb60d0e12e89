/*
 * The channel conformance harness (see channel-conformance.h).
 */
#include "channel-conformance.h"

#include <string.h>

#define BULK_SIZE       (8 * 1024 * 1024)
#define BULK_SIZE_SMALL (1024 * 1024)
#define ALL_SIZE        (1024 * 1024)
#define MAX_IOV         48
#define MAX_IOV_LEN     (96 * 1024)
#define CASE_TIMEOUT_US (60 * G_USEC_PER_SEC)

typedef struct {
    VhChannelPairFactory factory;
    gpointer opaque;
    VhConformanceFlags flags;
} CaseData;

typedef struct {
    VhChannel *writer;
    VhChannel *reader;
} Pair;

/* Create the pair, or skip/fail the case; false means return now. */
static bool pair_open(const CaseData *cd, Pair *p)
{
    g_autoptr(GError) err = NULL;

    memset(p, 0, sizeof(*p));
    if (!cd->factory(&p->writer, &p->reader, cd->opaque, &err)) {
        g_assert_nonnull(err);
        if (g_error_matches(err, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED)) {
            g_test_skip(err->message);
            return false;
        }
        g_assert_no_error(err);
    }
    g_assert_true(VH_IS_CHANNEL(p->writer));
    g_assert_true(VH_IS_CHANNEL(p->reader));
    return true;
}

static void pair_close(Pair *p)
{
    g_autoptr(GError) err = NULL;

    g_assert_true(vh_channel_close(p->reader, &err));
    g_assert_no_error(err);
    g_assert_true(vh_channel_close(p->writer, &err));
    g_assert_no_error(err);
    g_object_unref(p->writer);
    g_object_unref(p->reader);
}

static bool pair_shared(const Pair *p)
{
    return p->writer == p->reader;
}

/* End the writer's direction so that the reader sees EOF. */
static void pair_finish_writer(Pair *p)
{
    g_autoptr(GError) err = NULL;

    if (pair_shared(p)) {
        g_assert_true(
            vh_channel_shutdown(p->writer, VH_CHANNEL_SHUTDOWN_WRITE, &err));
    } else {
        g_assert_true(vh_channel_close(p->writer, &err));
    }
    g_assert_no_error(err);
}

static void pair_set_blocking(Pair *p, bool blocking)
{
    g_autoptr(GError) err = NULL;

    g_assert_true(vh_channel_set_blocking(p->writer, blocking, &err));
    g_assert_no_error(err);
    g_assert_true(vh_channel_set_blocking(p->reader, blocking, &err));
    g_assert_no_error(err);
}

static guint8 *random_bytes(GRand *rand, size_t len)
{
    guint8 *buf = g_malloc(len);

    for (size_t i = 0; i + 4 <= len; i += 4) {
        guint32 v = g_rand_int(rand);
        memcpy(buf + i, &v, 4);
    }
    for (size_t i = len & ~(size_t)3; i < len; i++) {
        buf[i] = g_rand_int(rand);
    }
    return buf;
}

/*
 * Cover up to MAX_IOV random slices of buf[pos, end) with @iov, some of
 * them empty; the total is non-zero whenever pos < end.
 */
static size_t random_iov(GRand *rand, guint8 *buf, size_t pos, size_t end,
                         struct iovec *iov)
{
    size_t n = g_rand_int_range(rand, 1, MAX_IOV + 1);
    size_t total = 0;

    for (size_t i = 0; i < n; i++) {
        size_t len = 0;
        if (g_rand_int_range(rand, 0, 8) != 0) {
            /* Not inside MIN(): it would draw twice. */
            size_t want = g_rand_int_range(rand, 1, MAX_IOV_LEN);
            len = MIN(end - pos, want);
        }
        if (i == n - 1 && total == 0) {
            len = MIN(end - pos, (size_t)MAX_IOV_LEN); /* never all-empty */
        }
        iov[i].iov_base = buf + pos;
        iov[i].iov_len = len;
        pos += len;
        total += len;
    }
    return n;
}

static size_t bulk_size(const CaseData *cd)
{
    return cd->flags & VH_CONFORMANCE_SMALL ? BULK_SIZE_SMALL : BULK_SIZE;
}

typedef struct {
    Pair *pair;
    const guint8 *data;
    size_t len;
    guint32 seed;
} WriterJob;

static gpointer bulk_writer_thread(gpointer opaque)
{
    WriterJob *job = opaque;
    g_autoptr(GRand) rand = g_rand_new_with_seed(job->seed);
    struct iovec iov[MAX_IOV];
    size_t pos = 0;

    while (pos < job->len) {
        g_autoptr(GError) err = NULL;
        size_t niov = random_iov(rand, (guint8 *)job->data, pos, job->len, iov);
        gssize n = vh_channel_writev(job->pair->writer, iov, niov, &err);
        g_assert_no_error(err);
        g_assert_cmpint(n, >, 0);
        pos += n;
    }
    pair_finish_writer(job->pair);
    return NULL;
}

static void test_bulk_blocking(gconstpointer opaque)
{
    const CaseData *cd = opaque;
    g_autoptr(GRand) rand = g_rand_new_with_seed(g_test_rand_int());
    size_t len = bulk_size(cd);
    g_autofree guint8 *data = random_bytes(rand, len);
    g_autofree guint8 *got = g_malloc0(len + MAX_IOV_LEN);
    struct iovec iov[MAX_IOV];
    size_t pos = 0;
    Pair p;

    if (!pair_open(cd, &p)) {
        return;
    }
    WriterJob job = {&p, data, len, g_rand_int(rand)};
    GThread *thread = g_thread_new("writer", bulk_writer_thread, &job);

    for (;;) {
        g_autoptr(GError) err = NULL;
        /* Room beyond the expected end exposes any excess bytes. */
        size_t niov = random_iov(rand, got, pos, len + MAX_IOV_LEN, iov);
        gssize n = vh_channel_readv(p.reader, iov, niov, &err);
        g_assert_no_error(err);
        g_assert_cmpint(n, >=, 0);
        if (n == 0) {
            break;
        }
        pos += n;
        g_assert_cmpuint(pos, <=, len);
    }
    g_thread_join(thread);
    g_assert_cmpuint(pos, ==, len);
    g_assert_true(memcmp(data, got, len) == 0);
    pair_close(&p);
}

typedef struct {
    Pair *pair;
    GRand *rand;
    const guint8 *data;
    guint8 *got;
    size_t len;
    size_t wpos;
    size_t rpos;
    unsigned writer_calls;
    unsigned writer_blocks;
    unsigned reader_calls;
    unsigned reader_blocks;
    unsigned eofs;
} NbState;

static gboolean nb_write_ready(VhChannel *ioc, GIOCondition cond,
                               gpointer opaque)
{
    NbState *st = opaque;
    struct iovec iov[MAX_IOV];

    st->writer_calls++;
    g_assert_true(cond & G_IO_OUT);
    while (st->wpos < st->len) {
        g_autoptr(GError) err = NULL;
        size_t niov =
            random_iov(st->rand, (guint8 *)st->data, st->wpos, st->len, iov);
        gssize n = vh_channel_writev(ioc, iov, niov, &err);
        g_assert_no_error(err);
        if (n == VH_CHANNEL_ERR_BLOCK) {
            st->writer_blocks++;
            return G_SOURCE_CONTINUE;
        }
        g_assert_cmpint(n, >, 0);
        st->wpos += n;
    }
    pair_finish_writer(st->pair);
    return G_SOURCE_REMOVE;
}

static gboolean nb_read_ready(VhChannel *ioc, GIOCondition cond,
                              gpointer opaque)
{
    NbState *st = opaque;
    struct iovec iov[MAX_IOV];

    st->reader_calls++;
    for (;;) {
        g_autoptr(GError) err = NULL;
        size_t niov =
            random_iov(st->rand, st->got, st->rpos, st->len + MAX_IOV_LEN, iov);
        gssize n = vh_channel_readv(ioc, iov, niov, &err);
        g_assert_no_error(err);
        if (n == VH_CHANNEL_ERR_BLOCK) {
            st->reader_blocks++;
            return G_SOURCE_CONTINUE;
        }
        if (n == 0) {
            st->eofs++;
            return G_SOURCE_REMOVE;
        }
        g_assert_cmpint(n, >, 0);
        st->rpos += n;
        g_assert_cmpuint(st->rpos, <=, st->len);
    }
}

static void test_bulk_nonblocking(gconstpointer opaque)
{
    const CaseData *cd = opaque;
    g_autoptr(GRand) rand = g_rand_new_with_seed(g_test_rand_int());
    g_autoptr(GMainContext) ctx = g_main_context_new();
    size_t len = bulk_size(cd);
    g_autofree guint8 *data = random_bytes(rand, len);
    g_autofree guint8 *got = g_malloc0(len + MAX_IOV_LEN);
    gint64 deadline = g_get_monotonic_time() + CASE_TIMEOUT_US;
    Pair p;

    if (!pair_open(cd, &p)) {
        return;
    }
    pair_set_blocking(&p, false);
    NbState st = {
        .pair = &p, .rand = rand, .data = data, .got = got, .len = len};
    vh_channel_add_watch(p.writer, G_IO_OUT, nb_write_ready, &st, NULL, ctx);
    vh_channel_add_watch(p.reader, G_IO_IN, nb_read_ready, &st, NULL, ctx);

    while (st.eofs == 0) {
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        g_main_context_iteration(ctx, TRUE);
    }
    /* Let any stale source go; nothing may dispatch after EOF. */
    while (g_main_context_iteration(ctx, FALSE)) {
    }
    g_test_message("writer: %u callbacks, %u would-block; reader: %u "
                   "callbacks, %u would-block",
                   st.writer_calls, st.writer_blocks, st.reader_calls,
                   st.reader_blocks);
    g_assert_cmpuint(st.wpos, ==, len);
    g_assert_cmpuint(st.rpos, ==, len);
    g_assert_cmpuint(st.eofs, ==, 1);
    g_assert_cmpuint(st.writer_calls, >=, 1);
    g_assert_cmpuint(st.reader_calls, >=, 1);
    /* Every callback but the last made progress or hit would-block. */
    g_assert_cmpuint(st.writer_blocks, <=, st.writer_calls);
    g_assert_cmpuint(st.reader_blocks + 1, ==, st.reader_calls);
    g_assert_true(memcmp(data, got, len) == 0);
    pair_close(&p);
}

static gpointer all_writer_thread(gpointer opaque)
{
    WriterJob *job = opaque;
    g_autoptr(GError) err = NULL;
    size_t third = job->len / 3;
    struct iovec iov[4] = {
        {(void *)job->data, third},
        {(void *)(job->data + third), 0},
        {(void *)(job->data + third), third},
        {(void *)(job->data + 2 * third), job->len - 2 * third},
    };

    g_assert_true(vh_channel_writev_all(job->pair->writer, iov, 4, &err));
    g_assert_no_error(err);
    pair_finish_writer(job->pair);
    return NULL;
}

static void test_all_nonblocking(gconstpointer opaque)
{
    const CaseData *cd = opaque;
    g_autoptr(GRand) rand = g_rand_new_with_seed(g_test_rand_int());
    g_autofree guint8 *data = random_bytes(rand, ALL_SIZE);
    g_autofree guint8 *got = g_malloc0(ALL_SIZE);
    g_autoptr(GError) err = NULL;
    guint8 extra;
    Pair p;

    if (!pair_open(cd, &p)) {
        return;
    }
    pair_set_blocking(&p, false);
    WriterJob job = {&p, data, ALL_SIZE, 0};
    GThread *thread = g_thread_new("writer", all_writer_thread, &job);

    g_assert_true(vh_channel_read_all(p.reader, got, 1000, &err));
    g_assert_no_error(err);
    struct iovec iov[2] = {
        {got + 1000, 0},
        {got + 1000, ALL_SIZE - 1000},
    };
    g_assert_true(vh_channel_readv_all(p.reader, iov, 2, &err));
    g_assert_no_error(err);
    g_assert_cmpint(vh_channel_read_all_eof(p.reader, &extra, 1, &err), ==, 0);
    g_assert_no_error(err);
    g_thread_join(thread);
    g_assert_true(memcmp(data, got, ALL_SIZE) == 0);
    pair_close(&p);
}

static void test_eof(gconstpointer opaque)
{
    const CaseData *cd = opaque;
    g_autoptr(GError) err = NULL;
    char buf[16];
    Pair p;

    if (!pair_open(cd, &p)) {
        return;
    }
    g_assert_true(vh_channel_write_all(p.writer, "hello", 5, &err));
    g_assert_no_error(err);
    pair_finish_writer(&p);
    g_assert_true(vh_channel_read_all(p.reader, buf, 5, &err));
    g_assert_no_error(err);
    g_assert_true(memcmp(buf, "hello", 5) == 0);
    for (int i = 0; i < 3; i++) {
        g_assert_cmpint(vh_channel_read(p.reader, buf, sizeof(buf), &err), ==,
                        0);
        g_assert_no_error(err);
    }
    /* readv_all after EOF is an error, not a hang. */
    g_assert_false(vh_channel_read_all(p.reader, buf, 1, &err));
    g_assert_error(err, G_IO_ERROR, G_IO_ERROR_PARTIAL_INPUT);
    pair_close(&p);
}

static void test_shutdown(gconstpointer opaque)
{
    const CaseData *cd = opaque;
    g_autoptr(GError) err = NULL;
    char buf[8];
    Pair p;

    if (!pair_open(cd, &p)) {
        return;
    }
    if (!(cd->flags & VH_CONFORMANCE_BIDIRECTIONAL) || pair_shared(&p) ||
        !vh_channel_has_feature(p.writer, VH_CHANNEL_FEATURE_SHUTDOWN)) {
        g_test_skip("needs a bidirectional pair with half-close");
        pair_close(&p);
        return;
    }
    g_assert_true(vh_channel_write_all(p.writer, "ping", 4, &err));
    g_assert_true(
        vh_channel_shutdown(p.writer, VH_CHANNEL_SHUTDOWN_WRITE, &err));
    g_assert_no_error(err);
    g_assert_true(vh_channel_read_all(p.reader, buf, 4, &err));
    g_assert_no_error(err);
    g_assert_cmpint(vh_channel_read(p.reader, buf, sizeof(buf), &err), ==, 0);
    g_assert_no_error(err);

    /* The other direction still works. */
    g_assert_true(vh_channel_write_all(p.reader, "pong", 4, &err));
    g_assert_no_error(err);
    g_assert_true(vh_channel_read_all(p.writer, buf, 4, &err));
    g_assert_no_error(err);
    g_assert_true(memcmp(buf, "pong", 4) == 0);

    /* Writing after a write shutdown fails. */
    g_assert_cmpint(vh_channel_write(p.writer, "x", 1, &err), ==, -1);
    g_assert_nonnull(err);
    g_clear_error(&err);
    pair_close(&p);
}

typedef struct {
    unsigned calls;
    GIOCondition cond;
} WatchCount;

static gboolean watch_count(VhChannel *ioc, GIOCondition cond, gpointer opaque)
{
    WatchCount *wc = opaque;

    wc->calls++;
    wc->cond = cond;
    return G_SOURCE_REMOVE;
}

static void run_until_called(GMainContext *ctx, WatchCount *wc)
{
    gint64 deadline = g_get_monotonic_time() + CASE_TIMEOUT_US;

    while (wc->calls == 0) {
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        g_main_context_iteration(ctx, TRUE);
    }
}

static void test_watch(gconstpointer opaque)
{
    const CaseData *cd = opaque;
    g_autoptr(GMainContext) ctx = g_main_context_new();
    g_autoptr(GError) err = NULL;
    WatchCount in = {0}, out = {0};
    char c;
    Pair p;

    if (!pair_open(cd, &p)) {
        return;
    }
    pair_set_blocking(&p, false);
    g_assert_cmpint(vh_channel_read(p.reader, &c, 1, &err), ==,
                    VH_CHANNEL_ERR_BLOCK);
    g_assert_no_error(err);

    guint id =
        vh_channel_add_watch(p.reader, G_IO_IN, watch_count, &in, NULL, ctx);
    g_assert_cmpuint(id, >, 0);
    for (int i = 0; i < 5; i++) {
        g_main_context_iteration(ctx, FALSE);
    }
    g_assert_cmpuint(in.calls, ==, 0);

    g_assert_true(vh_channel_write_all(p.writer, "x", 1, &err));
    g_assert_no_error(err);
    run_until_called(ctx, &in);
    g_assert_cmpuint(in.calls, ==, 1);
    g_assert_true(in.cond & G_IO_IN);
    g_assert_cmpint(vh_channel_read(p.reader, &c, 1, &err), ==, 1);
    g_assert_cmpint(c, ==, 'x');

    vh_channel_add_watch(p.writer, G_IO_OUT, watch_count, &out, NULL, ctx);
    run_until_called(ctx, &out);
    g_assert_cmpuint(out.calls, ==, 1);
    g_assert_true(out.cond & G_IO_OUT);
    /* Both watches removed themselves: nothing else dispatches. */
    while (g_main_context_iteration(ctx, FALSE)) {
    }
    g_assert_cmpuint(in.calls, ==, 1);
    g_assert_cmpuint(out.calls, ==, 1);
    pair_close(&p);
}

static void assert_closed_error(gssize ret, GError **err)
{
    g_assert_cmpint(ret, ==, -1);
    g_assert_error(*err, G_IO_ERROR, G_IO_ERROR_CLOSED);
    g_clear_error(err);
}

static void test_closed(gconstpointer opaque)
{
    const CaseData *cd = opaque;
    g_autoptr(GError) err = NULL;
    char buf[4];
    Pair p;

    if (!pair_open(cd, &p)) {
        return;
    }
    g_assert_true(vh_channel_close(p.writer, &err));
    g_assert_no_error(err);
    g_assert_true(vh_channel_close(p.reader, &err));
    g_assert_no_error(err);
    g_assert_true(vh_channel_is_closed(p.writer));
    g_assert_true(vh_channel_is_closed(p.reader));

    assert_closed_error(vh_channel_read(p.reader, buf, 4, &err), &err);
    assert_closed_error(vh_channel_write(p.writer, "abcd", 4, &err), &err);
    assert_closed_error(vh_channel_read(p.writer, buf, 4, &err), &err);
    assert_closed_error(vh_channel_write(p.reader, "abcd", 4, &err), &err);
    g_assert_false(vh_channel_write_all(p.writer, "abcd", 4, &err));
    g_assert_error(err, G_IO_ERROR, G_IO_ERROR_CLOSED);
    g_clear_error(&err);
    g_assert_false(vh_channel_set_blocking(p.reader, false, &err));
    g_assert_error(err, G_IO_ERROR, G_IO_ERROR_CLOSED);
    g_clear_error(&err);
    /* Closing again is harmless. */
    pair_close(&p);
}

void vh_channel_conformance_add(const char *prefix,
                                VhChannelPairFactory factory, gpointer opaque,
                                VhConformanceFlags flags)
{
    static const struct {
        const char *name;
        GTestDataFunc func;
    } cases[] = {
        {"bulk-blocking", test_bulk_blocking},
        {"bulk-nonblocking", test_bulk_nonblocking},
        {"all-nonblocking", test_all_nonblocking},
        {"eof", test_eof},
        {"shutdown", test_shutdown},
        {"watch", test_watch},
        {"closed", test_closed},
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        CaseData *cd = g_new0(CaseData, 1);
        g_autofree char *path = g_strdup_printf("%s/%s", prefix, cases[i].name);

        cd->factory = factory;
        cd->opaque = opaque;
        cd->flags = flags;
        g_test_add_data_func_full(path, cd, cases[i].func, g_free);
    }
}
