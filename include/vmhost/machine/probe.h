/*
 * VhProbe: the chardev-probe device (-device chardev-probe,id=P,chardev=ID),
 * a silent frontend that lets tests and operators exchange raw bytes with
 * whatever is at the other end of a chardev (a QEMU monitor, gnutls-cli,
 * another vmhost), through the monitor commands probe_write/probe_read
 * (probe-write/probe-read in QMP).
 *
 *     g_autoptr(VhProbe) p = vh_probe_new("p0", chr, errp);
 *     vh_chardev_write(...)            // or: vh_probe_write(p, "hi\n", 3, e)
 *     g_autoptr(GByteArray) in = vh_probe_read(p, 0);  // all received
 *
 * It sends nothing on its own. Everything the chardev delivers is kept, in
 * arrival order, in a buffer of at most VH_PROBE_BUFFER_MAX bytes; when it
 * is full the oldest bytes are dropped to make room, and counted
 * (vh_probe_get_dropped). Reading consumes. A peer disconnecting does not
 * clear the buffer: what it sent stays readable.
 *
 * Probes are registered by id, process-wide, while they exist, so that the
 * monitor can find them (vh_probe_lookup); ids are unique among probes.
 *
 * Threads: like every frontend, all calls happen in the thread that runs the
 * chardev's GMainContext (the registry lives there too).
 */
#pragma once

#include <stdbool.h>

#include "vmhost/chardev/chardev.h"
#include "vmhost/machine/machine.h"
#include "vmhost/machine/vmstate.h"

G_BEGIN_DECLS

#define VH_PROBE_BUFFER_MAX (64 * 1024)

typedef struct VhProbe VhProbe;

/*
 * A probe @id over @chr, holding a reference on it, installing its
 * handlers and registering @id. Fails when @id is empty or a probe with
 * that id exists, or when @chr already has a frontend. (transfer full)
 */
G_GNUC_WARN_UNUSED_RESULT
VhProbe *vh_probe_new(const char *id, VhChardev *chr, GError **errp);

/* Unregisters, removes the handlers, drops the chardev. NULL is allowed. */
void vh_probe_free(VhProbe *p);

/* The probe registered as @id (borrowed), or NULL. */
VhProbe *vh_probe_lookup(const char *id);
/* The ids of the probes there are, in no order (transfer full). */
GStrv vh_probe_list_ids(void);

const char *vh_probe_get_id(VhProbe *p);
/* (transfer none) */
VhChardev *vh_probe_get_chardev(VhProbe *p);

/*
 * Send @len bytes to the chardev's peer, as given (nothing appended). As
 * with any chardev write, bytes are dropped (and recorded by the chardev)
 * when no peer is connected; fails only when the chardev is closed.
 */
G_GNUC_WARN_UNUSED_RESULT
bool vh_probe_write(VhProbe *p, const void *buf, size_t len, GError **errp);

/*
 * Take up to @max bytes (0: all) from the front of the receive buffer
 * (transfer full; empty when nothing has arrived).
 */
GByteArray *vh_probe_read(VhProbe *p, size_t max);

/* Bytes waiting in the receive buffer. */
size_t vh_probe_get_pending(VhProbe *p);
/* Bytes received since creation, and the oldest ones dropped unread. */
guint64 vh_probe_get_received(VhProbe *p);
guint64 vh_probe_get_dropped(VhProbe *p);
/* Whether the chardev reported a peer (OPENED without a CLOSED since). */
bool vh_probe_is_open(VhProbe *p);

/*
 * The probe's migration state, "chardev-probe" version 1: id, counters and
 * the unread bytes (what the source received stays readable on the
 * target). The buffer and counters have their own lock, so a migration
 * thread may save and restore them while the chardev's thread receives.
 */
extern const VhDeviceStateOps vh_probe_state_ops;

/*
 * Register the probe's state with @m (borrowed: it must outlive the
 * probe); vh_probe_free() unregisters it.
 */
void vh_probe_register_state(VhProbe *p, VhMachine *m);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(VhProbe, vh_probe_free)

G_END_DECLS
