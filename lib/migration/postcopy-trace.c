/* Post-copy's debug-only request trace (postcopy-trace.h). */
#include "postcopy-trace.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TRACE_MAX (1u << 22)

typedef struct {
    guint64 ns;
    guint64 rq; /* the thread's time waiting on a run queue so far (ns) */
    guint64 page;
    guint32 tid;
    char ev;
} Entry;

gboolean vh_pc_trace_on;
static Entry *entries;
static gint n_entries; /* atomic */
static char *prefix;

void vh_pc_trace_init(void)
{
    static gsize once;

    if (g_once_init_enter(&once)) {
        const char *p = g_getenv("VMHOST_POSTCOPY_TRACE");

        if (p && *p) {
            prefix = g_strdup(p);
            entries = g_new0(Entry, TRACE_MAX);
            vh_pc_trace_on = TRUE;
        }
        g_once_init_leave(&once, 1);
    }
}

/* /proc/thread-self/schedstat: run time, run-queue wait, slices. */
static guint64 run_queue_ns(void)
{
    static __thread int fd = -1;
    char buf[128];
    ssize_t n;

    if (fd < 0) {
        fd = open("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC);
    }
    n = fd < 0 ? -1 : pread(fd, buf, sizeof(buf) - 1, 0);
    if (n <= 0) {
        return 0;
    }
    buf[n] = 0;
    return g_ascii_strtoull(strchr(buf, ' ') ? strchr(buf, ' ') + 1 : buf, NULL,
                            10);
}

void vh_pc_trace_add(VhPcTraceEvent ev, guint64 page)
{
    guint i = (guint)g_atomic_int_add(&n_entries, 1);
    struct timespec ts;

    if (i >= TRACE_MAX) {
        return;
    }
    entries[i].rq = run_queue_ns();
    clock_gettime(CLOCK_MONOTONIC, &ts);
    entries[i].ns = (guint64)ts.tv_sec * 1000000000u + (guint64)ts.tv_nsec;
    entries[i].page = page;
    entries[i].tid = (guint32)syscall(SYS_gettid);
    entries[i].ev = (char)ev;
}

void vh_pc_trace_dump(void)
{
    g_autofree char *path = NULL;
    guint n;
    FILE *f;

    if (!vh_pc_trace_on) {
        return;
    }
    n = MIN((guint)g_atomic_int_get(&n_entries), TRACE_MAX);
    path = g_strdup_printf("%s.%d", prefix, (int)getpid());
    f = fopen(path, "a");
    if (!f) {
        return;
    }
    for (guint i = 0; i < n; i++) {
        fprintf(f,
                "%c %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT
                " %u %" G_GUINT64_FORMAT "\n",
                entries[i].ev, entries[i].page, entries[i].ns, entries[i].tid,
                entries[i].rq);
    }
    fclose(f);
    g_atomic_int_set(&n_entries, 0);
}
