/*
 * A debug-only trace of post-copy's page requests, hop by hop: with
 * VMHOST_POSTCOPY_TRACE=PREFIX in the environment each vmhost records
 * (event, page, CLOCK_MONOTONIC ns, thread) for every hop of every
 * request and writes them to PREFIX.PID when post-copy ends; without it,
 * one predictable branch per hop. Source and target share the clock on
 * one host, so a request's hops line up across the two files.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
    VH_PCT_FAULT = 'F',  /* target: the fault thread read the fault */
    VH_PCT_REQ = 'R',    /* target: REQ_PAGES written on REQUEST */
    VH_PCT_GOT = 'Q',    /* source: REQ_PAGES read */
    VH_PCT_SENT = 'S',   /* source: the page written on URGENT */
    VH_PCT_URGENT = 'U', /* target: its URGENT PAGES header read */
    VH_PCT_DATA = 'D',   /* target: its data read */
    VH_PCT_PLACED = 'P', /* target: placed from URGENT */
    VH_PCT_SERVED = 'V', /* target: a requested page placed (any path) */
} VhPcTraceEvent;

extern gboolean vh_pc_trace_on;

void vh_pc_trace_init(void);
void vh_pc_trace_add(VhPcTraceEvent ev, guint64 page);
void vh_pc_trace_dump(void);

static inline void vh_pc_trace(VhPcTraceEvent ev, guint64 page)
{
    if (G_UNLIKELY(vh_pc_trace_on)) {
        vh_pc_trace_add(ev, page);
    }
}

G_END_DECLS
