#include "vmhost/machine/test-guest.h"

#include <pthread.h>
#include <stdarg.h>
#include <time.h>
#include <string.h>

#include "vmhost/util/error.h"
#include "vmhost/util/size.h"

#define PAGE_WORDS (VH_RAM_PAGE_SIZE / sizeof(guint64))

/* Data pages per table page, and pages per header+table+data group. */
#define TABLE_ENTRIES_PER_PAGE PAGE_WORDS

/* The workload writes at most this many pages between control checks. */
#define BATCH_PAGES 64

/* The token bucket holds at most this long's worth of writes. */
#define BURST_US 100000

/* Rates above this are refused (they only mean "as fast as possible"). */
#define MAX_RATE (1ULL << 40)

/* Mismatches a verify error names. */
#define VERIFY_REPORT 4

typedef struct {
    guint64 magic;
    guint32 version;
    guint32 page_size;
    guint64 pages;
    guint64 table_pages;
    guint64 data_pages;
} GuestHeader;

struct VhTestGuest {
    VhRamBlock *ram;
    guint8 *host;
    guint64 pages;
    guint64 table_pages;
    guint64 data_pages;
    guint64 first_data;
    guint64 *table;

    /* Held by the workload for each page write, and by verify/checksum. */
    pthread_mutex_t page_lock;

    /*
     * Protects the control fields below; cond signals both ways. pthread
     * rather than GMutex/GCond: GLib's futex-based locks are invisible to
     * ThreadSanitizer, which would then report every access as a race.
     */
    pthread_mutex_t lock;
    pthread_cond_t cond; /* on CLOCK_MONOTONIC, as g_get_monotonic_time() */
    guint64 rate;
    VhDirtyPattern pattern;
    /*
     * The workload's position (PRNG state, sweep cursor): published by the
     * thread after every batch, so exact while it is idle; want_* is a
     * position set from outside that the thread takes over before its next
     * write (restore).
     */
    guint64 rng;
    guint64 cursor;
    guint64 want_rng;
    guint64 want_cursor;
    bool restore;
    bool paused; /* requested by pause(), cleared by resume() */
    bool idle;   /* the thread is parked and writes nothing */
    bool quit;

    int wake;              /* atomic: leave the batch, look at the controls */
    guint64 pages_written; /* atomic */
    GThread *thread;
};

/* splitmix64 */
static inline guint64 mix_next(guint64 *state)
{
    guint64 z = (*state += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static guint64 page_seed(guint64 index, guint64 gen)
{
    guint64 s = gen;
    guint64 g = mix_next(&s);

    s = index ^ g;
    return mix_next(&s);
}

void vh_test_guest_fill_page(void *page, guint64 index, guint64 gen)
{
    guint64 *w = page;

    if (gen == 0) {
        memset(page, 0, VH_RAM_PAGE_SIZE);
        return;
    }
    guint64 s = page_seed(index, gen);
    w[0] = index ^ VH_TEST_GUEST_PAGE_TAG;
    w[1] = gen;
    for (size_t i = 2; i < PAGE_WORDS; i++) {
        w[i] = mix_next(&s);
    }
}

static bool page_is_zero(const guint64 *w)
{
    for (size_t i = 0; i < PAGE_WORDS; i++) {
        if (w[i]) {
            return false;
        }
    }
    return true;
}

static bool page_matches(const void *page, guint64 index, guint64 gen)
{
    const guint64 *w = page;

    if (gen == 0) {
        return page_is_zero(w);
    }
    if (w[0] != (index ^ VH_TEST_GUEST_PAGE_TAG) || w[1] != gen) {
        return false;
    }
    guint64 s = page_seed(index, gen);
    for (size_t i = 2; i < PAGE_WORDS; i++) {
        if (w[i] != mix_next(&s)) {
            return false;
        }
    }
    return true;
}

const char *vh_dirty_pattern_name(VhDirtyPattern pattern)
{
    switch (pattern) {
    case VH_DIRTY_SEQUENTIAL:
        return "sequential";
    case VH_DIRTY_RANDOM:
        return "random";
    case VH_DIRTY_HOT:
        return "hot";
    default:
        return "unknown";
    }
}

bool vh_dirty_pattern_from_name(const char *name, VhDirtyPattern *pattern)
{
    for (int p = VH_DIRTY_SEQUENTIAL; p <= VH_DIRTY_HOT; p++) {
        if (g_strcmp0(name, vh_dirty_pattern_name(p)) == 0) {
            *pattern = p;
            return true;
        }
    }
    return false;
}

/* ---- layout ---- */

static guint8 *data_page(VhTestGuest *guest, guint64 index)
{
    return guest->host + (guest->first_data + index) * VH_RAM_PAGE_SIZE;
}

static GuestHeader expected_header(const VhTestGuest *guest)
{
    GuestHeader h = {
        .magic = VH_TEST_GUEST_MAGIC,
        .version = VH_TEST_GUEST_VERSION,
        .page_size = VH_RAM_PAGE_SIZE,
        .pages = guest->pages,
        .table_pages = guest->table_pages,
        .data_pages = guest->data_pages,
    };
    return h;
}

static bool header_valid(const VhTestGuest *guest)
{
    GuestHeader want = expected_header(guest);

    return memcmp(guest->host, &want, sizeof(want)) == 0;
}

/* A new header and a zeroed table, touching only table words that need it. */
static void format_ram(VhTestGuest *guest)
{
    GuestHeader h = expected_header(guest);

    memcpy(guest->host, &h, sizeof(h));
    for (guint64 i = 0; i < guest->data_pages; i++) {
        if (guest->table[i]) {
            guest->table[i] = 0;
        }
    }
}

/* ---- the workload thread ---- */

typedef struct {
    guint64 rng;
    guint64 cursor;
    double tokens;
    gint64 last_us;
} Workload;

static guint64 pick_page(VhTestGuest *guest, Workload *w,
                         VhDirtyPattern pattern)
{
    guint64 n = guest->data_pages;
    guint64 hot = MAX(n / 20, 1);

    switch (pattern) {
    case VH_DIRTY_RANDOM:
        return mix_next(&w->rng) % n;
    case VH_DIRTY_HOT:
        if (hot == n || mix_next(&w->rng) % 10 < 9) {
            return mix_next(&w->rng) % hot;
        }
        return hot + mix_next(&w->rng) % (n - hot);
    case VH_DIRTY_SEQUENTIAL:
    default: {
        guint64 index = w->cursor;
        w->cursor = (index + 1) % n;
        return index;
    }
    }
}

/* Content first, then the generation: see the header for why. */
static void write_page(VhTestGuest *guest, guint64 index)
{
    pthread_mutex_lock(&guest->page_lock);
    guint64 gen = __atomic_load_n(&guest->table[index], __ATOMIC_RELAXED) + 1;
    vh_test_guest_fill_page(data_page(guest, index), index, gen);
    __atomic_store_n(&guest->table[index], gen, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&guest->page_lock);
    __atomic_fetch_add(&guest->pages_written, 1, __ATOMIC_RELAXED);
}

/*
 * With the lock held: how many pages the bucket allows now, or 0 after
 * waiting for credit (or for a control change) with the lock released.
 */
static guint64 take_tokens(VhTestGuest *guest, Workload *w)
{
    gint64 now = g_get_monotonic_time();
    double rate = (double)guest->rate;
    double burst = MAX(rate * BURST_US / G_USEC_PER_SEC, VH_RAM_PAGE_SIZE);

    w->tokens += rate * (double)(now - w->last_us) / G_USEC_PER_SEC;
    w->tokens = MIN(w->tokens, burst);
    w->last_us = now;
    if (w->tokens >= VH_RAM_PAGE_SIZE) {
        return MIN((guint64)(w->tokens / VH_RAM_PAGE_SIZE), BATCH_PAGES);
    }
    double need_us = (VH_RAM_PAGE_SIZE - w->tokens) * G_USEC_PER_SEC / rate;
    gint64 until = now + (gint64)MAX(need_us, 200.0);
    struct timespec ts = {
        .tv_sec = until / G_USEC_PER_SEC,
        .tv_nsec = (until % G_USEC_PER_SEC) * 1000,
    };
    pthread_cond_timedwait(&guest->cond, &guest->lock, &ts);
    return 0;
}

static gpointer workload_thread(gpointer data)
{
    VhTestGuest *guest = data;
    Workload w = {0};

    pthread_mutex_lock(&guest->lock);
    while (!guest->quit) {
        if (guest->paused || guest->rate == 0) {
            guest->idle = true;
            pthread_cond_broadcast(&guest->cond);
            pthread_cond_wait(&guest->cond, &guest->lock);
            continue;
        }
        if (guest->idle) {
            /* No credit for the time spent parked. */
            guest->idle = false;
            w.tokens = 0;
            w.last_us = g_get_monotonic_time();
        }
        if (guest->restore) {
            w.rng = guest->want_rng;
            w.cursor = guest->want_cursor;
            guest->restore = false;
        }
        g_atomic_int_set(&guest->wake, 0);
        guint64 n = take_tokens(guest, &w);
        if (n == 0) {
            continue;
        }
        VhDirtyPattern pattern = guest->pattern;
        pthread_mutex_unlock(&guest->lock);
        for (guint64 i = 0; i < n && !g_atomic_int_get(&guest->wake); i++) {
            write_page(guest, pick_page(guest, &w, pattern));
            w.tokens -= VH_RAM_PAGE_SIZE;
        }
        pthread_mutex_lock(&guest->lock);
        if (!guest->restore) {
            guest->rng = w.rng;
            guest->cursor = w.cursor;
        }
    }
    guest->idle = true;
    pthread_cond_broadcast(&guest->cond);
    pthread_mutex_unlock(&guest->lock);
    return NULL;
}

/* ---- life cycle and controls ---- */

VhTestGuest *vh_test_guest_new(VhRamBlock *ram, GError **errp)
{
    guint64 pages = vh_ram_block_get_pages(ram);

    if (pages < VH_TEST_GUEST_MIN_PAGES) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "guest RAM '%s' is too small for the test guest: "
                    "%" G_GUINT64_FORMAT " pages, at least %u needed",
                    vh_ram_block_get_name(ram), pages, VH_TEST_GUEST_MIN_PAGES);
        return NULL;
    }

    g_autoptr(VhTestGuest) guest = g_new0(VhTestGuest, 1);
    guest->ram = ram;
    guest->host = vh_ram_block_get_host(ram);
    guest->pages = pages;
    guest->table_pages =
        (pages - 1 + TABLE_ENTRIES_PER_PAGE) / (TABLE_ENTRIES_PER_PAGE + 1);
    guest->data_pages = pages - 1 - guest->table_pages;
    guest->first_data = 1 + guest->table_pages;
    guest->table = (guint64 *)(guest->host + VH_RAM_PAGE_SIZE);
    pthread_condattr_t attr;
    pthread_mutex_init(&guest->page_lock, NULL);
    pthread_mutex_init(&guest->lock, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&guest->cond, &attr);
    pthread_condattr_destroy(&attr);
    guest->pattern = VH_DIRTY_SEQUENTIAL;
    guest->rng = guest->want_rng = 1;
    guest->restore = true;
    guest->paused = true;

    if (!header_valid(guest)) {
        format_ram(guest);
    }
    guest->thread =
        g_thread_try_new("vh-test-guest", workload_thread, guest, errp);
    if (!guest->thread) {
        g_prefix_error(errp, "cannot start the test guest of '%s': ",
                       vh_ram_block_get_name(ram));
        return NULL;
    }
    return g_steal_pointer(&guest);
}

void vh_test_guest_free(VhTestGuest *guest)
{
    if (!guest) {
        return;
    }
    if (guest->thread) {
        pthread_mutex_lock(&guest->lock);
        guest->quit = true;
        g_atomic_int_set(&guest->wake, 1);
        pthread_cond_broadcast(&guest->cond);
        pthread_mutex_unlock(&guest->lock);
        g_thread_join(guest->thread);
    }
    pthread_cond_destroy(&guest->cond);
    pthread_mutex_destroy(&guest->lock);
    pthread_mutex_destroy(&guest->page_lock);
    g_free(guest);
}

/* With the lock held: make the thread look at the controls soon. */
static void kick(VhTestGuest *guest)
{
    g_atomic_int_set(&guest->wake, 1);
    pthread_cond_broadcast(&guest->cond);
}

void vh_test_guest_pause(VhTestGuest *guest)
{
    pthread_mutex_lock(&guest->lock);
    guest->paused = true;
    kick(guest);
    while (!guest->idle) {
        pthread_cond_wait(&guest->cond, &guest->lock);
    }
    pthread_mutex_unlock(&guest->lock);
}

void vh_test_guest_resume(VhTestGuest *guest)
{
    pthread_mutex_lock(&guest->lock);
    guest->paused = false;
    kick(guest);
    pthread_mutex_unlock(&guest->lock);
}

bool vh_test_guest_is_paused(VhTestGuest *guest)
{
    pthread_mutex_lock(&guest->lock);
    bool paused = guest->paused;
    pthread_mutex_unlock(&guest->lock);
    return paused;
}

void vh_test_guest_set_workload(VhTestGuest *guest, guint64 rate,
                                VhDirtyPattern pattern)
{
    g_return_if_fail(pattern <= VH_DIRTY_HOT);

    pthread_mutex_lock(&guest->lock);
    guest->rate = MIN(rate, MAX_RATE);
    guest->pattern = pattern;
    kick(guest);
    pthread_mutex_unlock(&guest->lock);
}

guint64 vh_test_guest_get_rate(VhTestGuest *guest)
{
    pthread_mutex_lock(&guest->lock);
    guint64 rate = guest->rate;
    pthread_mutex_unlock(&guest->lock);
    return rate;
}

VhDirtyPattern vh_test_guest_get_pattern(VhTestGuest *guest)
{
    pthread_mutex_lock(&guest->lock);
    VhDirtyPattern pattern = guest->pattern;
    pthread_mutex_unlock(&guest->lock);
    return pattern;
}

/* With the lock held: the thread goes on from @rng and @cursor. */
static void restore_locked(VhTestGuest *guest, guint64 rng, guint64 cursor)
{
    guest->rng = guest->want_rng = rng;
    guest->cursor = guest->want_cursor = cursor;
    guest->restore = true;
    kick(guest);
}

void vh_test_guest_set_seed(VhTestGuest *guest, guint64 seed)
{
    pthread_mutex_lock(&guest->lock);
    restore_locked(guest, seed, guest->cursor);
    pthread_mutex_unlock(&guest->lock);
}

void vh_test_guest_get_workload_state(VhTestGuest *guest,
                                      VhTestGuestWorkloadState *state)
{
    pthread_mutex_lock(&guest->lock);
    state->rng = guest->rng;
    state->cursor = guest->cursor;
    pthread_mutex_unlock(&guest->lock);
}

bool vh_test_guest_set_workload_state(VhTestGuest *guest,
                                      const VhTestGuestWorkloadState *state,
                                      GError **errp)
{
    if (state->cursor >= guest->data_pages) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "test guest of '%s': workload cursor %" G_GUINT64_FORMAT
                    " is past its %" G_GUINT64_FORMAT " data pages",
                    vh_ram_block_get_name(guest->ram), state->cursor,
                    guest->data_pages);
        return false;
    }
    pthread_mutex_lock(&guest->lock);
    restore_locked(guest, state->rng, state->cursor);
    pthread_mutex_unlock(&guest->lock);
    return true;
}

guint64 vh_test_guest_get_pages_written(VhTestGuest *guest)
{
    return __atomic_load_n(&guest->pages_written, __ATOMIC_RELAXED);
}

guint64 vh_test_guest_get_data_pages(VhTestGuest *guest)
{
    return guest->data_pages;
}

guint64 vh_test_guest_get_first_data_page(VhTestGuest *guest)
{
    return guest->first_data;
}

guint64 vh_test_guest_get_generation(VhTestGuest *guest, guint64 index)
{
    g_return_val_if_fail(index < guest->data_pages, 0);

    return __atomic_load_n(&guest->table[index], __ATOMIC_ACQUIRE);
}

/* ---- verify and checksum ---- */

/* What a mismatching page holds, for the message. */
static char *describe_page(const guint64 *w, guint64 index)
{
    if (page_is_zero(w)) {
        return g_strdup("holds zeros (generation 0)");
    }
    if (w[0] == (index ^ VH_TEST_GUEST_PAGE_TAG) && w[1] != 0 &&
        page_matches(w, index, w[1])) {
        return g_strdup_printf("holds generation %" G_GUINT64_FORMAT, w[1]);
    }
    return g_strdup("is corrupted");
}

static bool header_error(VhTestGuest *guest, GError **errp)
{
    const GuestHeader *h = (const GuestHeader *)guest->host;

    g_set_error(errp, VH_ERROR, VH_ERROR_FAILED,
                "test guest RAM '%s' does not verify: the header page does "
                "not describe this RAM (magic %016" G_GINT64_MODIFIER
                "x, version %u, %" G_GUINT64_FORMAT
                " pages; expected version %u, %" G_GUINT64_FORMAT " pages)",
                vh_ram_block_get_name(guest->ram), h->magic, h->version,
                h->pages, VH_TEST_GUEST_VERSION, guest->pages);
    return false;
}

bool vh_test_guest_verify(VhTestGuest *guest, guint64 *pages_checked,
                          GError **errp)
{
    g_autoptr(GString) report = g_string_new(NULL);
    guint64 bad = 0;

    if (pages_checked) {
        *pages_checked = 0;
    }
    pthread_mutex_lock(&guest->page_lock);
    if (!header_valid(guest)) {
        pthread_mutex_unlock(&guest->page_lock);
        return header_error(guest, errp);
    }
    for (guint64 i = 0; i < guest->data_pages; i++) {
        guint64 gen = __atomic_load_n(&guest->table[i], __ATOMIC_ACQUIRE);
        const guint8 *page = data_page(guest, i);
        if (page_matches(page, i, gen)) {
            continue;
        }
        if (bad++ < VERIFY_REPORT) {
            g_autofree char *what = describe_page((const guint64 *)page, i);
            g_string_append_printf(
                report,
                "%sdata page %" G_GUINT64_FORMAT " (RAM page %" G_GUINT64_FORMAT
                ") should hold generation %" G_GUINT64_FORMAT " but %s",
                bad > 1 ? "; " : "", i, guest->first_data + i, gen, what);
        }
    }
    pthread_mutex_unlock(&guest->page_lock);
    if (pages_checked) {
        *pages_checked = guest->data_pages;
    }
    if (bad) {
        g_set_error(errp, VH_ERROR, VH_ERROR_FAILED,
                    "test guest RAM '%s' does not verify: %" G_GUINT64_FORMAT
                    " of %" G_GUINT64_FORMAT " data pages differ from the "
                    "generation table: %s%s",
                    vh_ram_block_get_name(guest->ram), bad, guest->data_pages,
                    report->str, bad > VERIFY_REPORT ? "; ..." : "");
        return false;
    }
    return true;
}

#define HASH_P1 0x9e3779b185ebca87ULL
#define HASH_P2 0xc2b2ae3d27d4eb4fULL

static inline guint64 hash_round(guint64 acc, guint64 word)
{
    acc += word * HASH_P2;
    acc = (acc << 31) | (acc >> 33);
    return acc * HASH_P1;
}

guint64 vh_test_guest_checksum(VhTestGuest *guest)
{
    guint64 lane[4] = {HASH_P1, HASH_P2, 0, -HASH_P1};
    const guint64 *w = (const guint64 *)guest->host;
    guint64 words = vh_ram_block_get_size(guest->ram) / sizeof(guint64);

    pthread_mutex_lock(&guest->page_lock);
    for (guint64 i = 0; i < words; i += 4) {
        lane[0] = hash_round(lane[0], w[i]);
        lane[1] = hash_round(lane[1], w[i + 1]);
        lane[2] = hash_round(lane[2], w[i + 2]);
        lane[3] = hash_round(lane[3], w[i + 3]);
    }
    pthread_mutex_unlock(&guest->page_lock);

    guint64 h = words;
    for (int i = 0; i < 4; i++) {
        h = hash_round(h ^ lane[i], (guint64)i + 1);
    }
    guint64 s = h;
    return mix_next(&s);
}

/* ---- the console ---- */

static const char help_text[] =
    "commands:\n"
    "  help                  this list\n"
    "  echo TEXT             reply with TEXT\n"
    "  status                RAM layout, workload and state\n"
    "  dirty RATE [PATTERN]  rewrite pages at RATE (100 = 100MB/s, 500M, "
    "1G/s);\n"
    "                        PATTERN: sequential, random or hot\n"
    "  dirty off             stop rewriting pages\n"
    "  verify                check every page against the generation table\n"
    "  checksum              a 64-bit hash of all of RAM";

/* @text quoted for a reply: printable ASCII, at most 40 bytes of input. */
static char *quote(const char *text)
{
    g_autofree char *cut = g_strndup(text, 40);
    g_autofree char *esc = g_strescape(cut, NULL);

    return g_strdup_printf("'%s'%s", esc, strlen(text) > 40 ? "..." : "");
}

static char *reply_error(const char *cmd, const char *fmt, ...)
    G_GNUC_PRINTF(2, 3);

static char *reply_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    return g_strdup_printf("error: %s: %s", cmd, msg);
}

/*
 * "100", "100MB/s", "100 MiB/s" (as status prints it), "500M", "1.5G/s",
 * "4096B/s": bytes per second; M is MiB, as in QEMU's sizes.
 */
static bool parse_rate(const char *arg, guint64 *rate)
{
    g_autofree char *s = g_strdup(arg);
    size_t len = strlen(s);

    if (len >= 2 && g_ascii_strcasecmp(s + len - 2, "/s") == 0) {
        s[len -= 2] = '\0';
    }
    if (len >= 3 && g_ascii_strcasecmp(s + len - 2, "iB") == 0 &&
        strchr("KMGTPE", g_ascii_toupper(s[len - 3]))) {
        s[len -= 2] = '\0';
    } else if (len >= 2 && g_ascii_toupper(s[len - 1]) == 'B' &&
               strchr("KMGTPE", g_ascii_toupper(s[len - 2]))) {
        s[--len] = '\0';
    }
    return vh_size_parse(s, 'M', rate, NULL);
}

static char *cmd_dirty(VhTestGuest *guest, char **args)
{
    guint n = g_strv_length(args);
    VhDirtyPattern pattern = vh_test_guest_get_pattern(guest);
    guint64 rate;

    if (n == 1 && g_ascii_strcasecmp(args[0], "off") == 0) {
        vh_test_guest_set_workload(guest, 0, pattern);
        return g_strdup("dirty: off");
    }
    /* "dirty 100 MiB/s hot": a unit apart from the number. */
    if (n >= 2 && g_ascii_isalpha(args[1][0])) {
        g_autofree char *one = g_strconcat("1", args[1], NULL);
        if (parse_rate(one, &rate)) {
            char *merged = g_strconcat(args[0], args[1], NULL);
            g_free(args[0]);
            g_free(args[1]);
            args[0] = merged;
            memmove(args + 1, args + 2, (n - 1) * sizeof(*args));
            n--;
        }
    }
    if (n < 1 || n > 2) {
        return reply_error("dirty", "expected RATE [sequential|random|hot] "
                                    "or off");
    }
    if (!parse_rate(args[0], &rate)) {
        g_autofree char *q = quote(args[0]);
        return reply_error("dirty",
                           "invalid rate %s (expected MB/s like 100, "
                           "100MB/s, 500M or 1G)",
                           q);
    }
    if (rate == 0 || rate > MAX_RATE) {
        g_autofree char *q = quote(args[0]);
        return reply_error("dirty",
                           "rate %s is out of range (above 0, at most "
                           "1 TiB/s; 'dirty off' stops)",
                           q);
    }
    if (n == 2 && !vh_dirty_pattern_from_name(args[1], &pattern)) {
        g_autofree char *q = quote(args[1]);
        return reply_error("dirty",
                           "unknown pattern %s (expected sequential, random "
                           "or hot)",
                           q);
    }
    vh_test_guest_set_workload(guest, rate, pattern);
    g_autofree char *human = vh_size_format(rate);
    return g_strdup_printf("dirty: %s/s, %s", human,
                           vh_dirty_pattern_name(pattern));
}

static char *cmd_status(VhTestGuest *guest)
{
    g_autofree char *size = vh_size_format(vh_ram_block_get_size(guest->ram));
    guint64 rate = vh_test_guest_get_rate(guest);
    g_autofree char *human = vh_size_format(rate);

    return g_strdup_printf(
        "pages: %" G_GUINT64_FORMAT " (%s): 1 header, %" G_GUINT64_FORMAT
        " table, %" G_GUINT64_FORMAT " data\n"
        "workload: %s\n"
        "rate: %s/s\n"
        "pattern: %s\n"
        "pages written: %" G_GUINT64_FORMAT "\n"
        "state: %s",
        guest->pages, size, guest->table_pages, guest->data_pages,
        rate ? "on" : "off", human,
        vh_dirty_pattern_name(vh_test_guest_get_pattern(guest)),
        vh_test_guest_get_pages_written(guest),
        vh_test_guest_is_paused(guest) ? "paused" : "running");
}

static char *cmd_verify(VhTestGuest *guest)
{
    g_autoptr(GError) err = NULL;
    guint64 checked = 0;

    if (!vh_test_guest_verify(guest, &checked, &err)) {
        return reply_error("verify", "%s", err->message);
    }
    return g_strdup_printf("verify: ok, %" G_GUINT64_FORMAT " pages checked",
                           checked);
}

/* Split on blanks, dropping empty fields (transfer full). */
static char **split_args(const char *text)
{
    g_auto(GStrv) parts = g_strsplit_set(text, " \t", -1);
    GPtrArray *args = g_ptr_array_new();

    for (char **p = parts; *p; p++) {
        if (**p) {
            g_ptr_array_add(args, g_strdup(*p));
        }
    }
    g_ptr_array_add(args, NULL);
    return (char **)g_ptr_array_free(args, FALSE);
}

static char *no_args(const char *cmd, char **args)
{
    if (args[0]) {
        return reply_error(cmd, "takes no arguments");
    }
    return NULL;
}

char *vh_test_guest_command(VhTestGuest *guest, const char *line)
{
    g_autofree char *text = g_strstrip(g_strdup(line ? line : ""));
    char *rest = text + strcspn(text, " \t");
    g_autoptr(GString) cmd = g_string_new_len(text, rest - text);
    g_auto(GStrv) args = NULL;
    char *err;

    g_return_val_if_fail(guest != NULL, g_strdup("error: no guest"));

    rest += strspn(rest, " \t");
    args = split_args(rest);
    if (cmd->len == 0) {
        return g_strdup("");
    }
    if (strcmp(cmd->str, "echo") == 0) {
        return g_strdup(rest);
    }
    if (strcmp(cmd->str, "dirty") == 0) {
        return cmd_dirty(guest, args);
    }
    if (strcmp(cmd->str, "help") == 0) {
        return (err = no_args("help", args)) ? err : g_strdup(help_text);
    }
    if (strcmp(cmd->str, "status") == 0) {
        return (err = no_args("status", args)) ? err : cmd_status(guest);
    }
    if (strcmp(cmd->str, "verify") == 0) {
        return (err = no_args("verify", args)) ? err : cmd_verify(guest);
    }
    if (strcmp(cmd->str, "checksum") == 0) {
        if ((err = no_args("checksum", args))) {
            return err;
        }
        return g_strdup_printf("checksum: %016" G_GINT64_MODIFIER "x",
                               vh_test_guest_checksum(guest));
    }
    g_autofree char *q = quote(cmd->str);
    return g_strdup_printf("error: unknown command %s (try 'help')", q);
}
