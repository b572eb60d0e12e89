/*
 * The migration stream's loader: the target side of
 * docs/migration-stream.md (lib/migration/stream-load*.c).
 *
 *     g_autoptr(VhMigLoader) l = vh_mig_loader_new(ram, true);
 *     g_autoptr(GArray) devices = vh_machine_get_devices(machine);
 *     vh_mig_loader_set_devices(l, devices);
 *     // each accepted connection, in its own thread:
 *     VhMigPreamble pre;
 *     if (!vh_mig_read_preamble(ch, &pre, errp)) { ... }
 *     if (pre.kind == VH_MIG_CONN_MAIN) {
 *         ok = vh_mig_loader_run_main(l, ch, &pre, errp);
 *         // then vh_mig_loader_apply_devices(l, errp) and answer LOADED
 *     } else {
 *         ok = vh_mig_loader_run_channel(l, ch, &pre, errp);
 *     }
 *
 * The loader checks every field; any failure is an error naming the section
 * and the field, and the first failure of any connection aborts the others
 * (those blocked in the loader's waits return; those blocked in I/O must be
 * unblocked by the caller, e.g. by shutting their channel down).
 *
 * Page data goes straight into guest RAM with one vectored read per
 * record, which is right while the guest does not run. Post-copy (issue
 * 15) will place pages atomically into RAM the guest is already using
 * (userfaultfd); that is vh_mig_load_pages()'s one place to change.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>

#include "vmhost/io/channel.h"
#include "vmhost/machine/ram.h"
#include "vmhost/machine/vmstate.h"
#include "vmhost/migration/stream-format.h"

G_BEGIN_DECLS

/* ---- loading ---- */

typedef struct VhMigLoader VhMigLoader;

/*
 * A loader into @ram (borrowed; block 0, the only block a vmhost machine
 * has). @allow_multifd false refuses a stream that wants channels (file:,
 * exec:, fd:, the fuzz target).
 */
VhMigLoader *vh_mig_loader_new(VhRamBlock *ram, bool allow_multifd);
void vh_mig_loader_free(VhMigLoader *l);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VhMigLoader, vh_mig_loader_free)

/*
 * The target's devices (GArray of VhDeviceEntry, a reference is taken;
 * vh_machine_get_devices()). The stream must carry exactly these, by name
 * and instance, each in a version its ops accept: a section for a device
 * this machine lacks, or in a version it cannot load, is refused naming
 * the device. Without this call the machine has no devices.
 */
void vh_mig_loader_set_devices(VhMigLoader *l, GArray *devices);

/* What a connection is, by its first bytes. */
typedef enum {
    VH_MIG_CONN_MAIN,     /* a main stream: "VHMIGSTR" */
    VH_MIG_CONN_CHANNEL,  /* a multifd channel: "VHMIGCHN" */
    VH_MIG_CONN_POSTCOPY, /* a post-copy connection: "VHMIGPCC" */
} VhMigConnKind;

/* A connection's preamble, read by vh_mig_read_preamble(). */
typedef struct {
    VhMigConnKind kind;
    guint8 magic[VH_MIG_MAGIC_SIZE]; /* the loader's; callers read kind */
} VhMigPreamble;

/*
 * Read what an accepted connection starts with and tell a main stream
 * from a multifd channel, before either joins a loader. Fails for a
 * connection that ends first, a TLS handshake (VH_MIG_TLS_SOURCE_HINT) or
 * anything else that is no vmhost stream, saying which.
 */
G_GNUC_WARN_UNUSED_RESULT
bool vh_mig_read_preamble(VhChannel *ch, VhMigPreamble *pre, GError **errp);

/*
 * Read the main stream through END and the clean end of the connection
 * (close-notify), waiting for every multifd channel; answers READY on the
 * return path when the header asks for one. On failure the error names the
 * field; the loader is aborted. @pre: what vh_mig_read_preamble() read
 * (a main stream's), or NULL to read it here.
 */
G_GNUC_WARN_UNUSED_RESULT
bool vh_mig_loader_run_main(VhMigLoader *l, VhChannel *ch,
                            const VhMigPreamble *pre, GError **errp);

/*
 * Read one multifd channel (hello, pages, syncs, end, close-notify). @pre
 * as for run_main.
 */
G_GNUC_WARN_UNUSED_RESULT
bool vh_mig_loader_run_channel(VhMigLoader *l, VhChannel *ch,
                               const VhMigPreamble *pre, GError **errp);

/*
 * Post-copy (docs/migration-stream.md): a stream with the POSTCOPY flag
 * is refused unless allowed. At POSTCOPY_RUN the loader drops the pages it
 * does not have, registers the RAM with userfaultfd, starts requesting
 * faulting pages, applies the devices and calls @func (which starts the
 * guest); the pages that come after are placed atomically.
 */
typedef bool (*VhMigPostcopyRunFunc)(VhMigLoader *l, void *opaque,
                                     GError **errp);
void vh_mig_loader_allow_postcopy(VhMigLoader *l, VhMigPostcopyRunFunc func,
                                  void *opaque);
/*
 * Recovery: when a post-copy connection fails, the loader calls @func
 * (@why: the failure) with the run opaque, and waits for a main stream
 * with the RESUME flag (vh_mig_loader_resume_main), then calls @func with
 * NULL and goes on. Without it a failure fails.
 */
typedef void (*VhMigPostcopyPauseFunc)(VhMigLoader *l, const char *why,
                                       void *opaque);
void vh_mig_loader_set_postcopy_pause(VhMigLoader *l,
                                      VhMigPostcopyPauseFunc func);
bool vh_mig_loader_is_paused(VhMigLoader *l);
/*
 * A main connection while paused: reads its header (RESUME, the session's
 * uuid), hands it to the paused main stream and holds it until the
 * migration ends (vh_mig_loader_release_main) or fails.
 */
G_GNUC_WARN_UNUSED_RESULT
bool vh_mig_loader_resume_main(VhMigLoader *l, VhChannel *ch,
                               const VhMigPreamble *pre, GError **errp);
/*
 * The link died in the switch (after the source sent POSTCOPY_RUN, before
 * it had READY): the source pauses and resumes, not knowing whether the
 * guest runs here. A RESUME of a session whose POSTCOPY_RUN never ran here
 * is refused, POSTCOPY_RUN can no longer run, and this says so: the
 * caller answers NOT_RUN on that connection (the guest is the source's
 * alone). Covers the attempt still loading (resume_main) and, with
 * vh_mig_loader_set_not_run(), a new attempt after that one failed.
 */
bool vh_mig_loader_not_run(VhMigLoader *l);
/* Before any thread: the session @uuid failed here before POSTCOPY_RUN. */
void vh_mig_loader_set_not_run(VhMigLoader *l, const guint8 *uuid);
/*
 * After run_main failed: true and its uuid in @uuid when the attempt had
 * post-copy and POSTCOPY_RUN never ran (the guest never ran here).
 */
bool vh_mig_loader_never_ran(VhMigLoader *l, guint8 *uuid);
/* The main stream's connection now (a resumed one, or NULL: the first). */
VhChannel *vh_mig_loader_main_channel(VhMigLoader *l);
/* The answer went out on it: a resumed main connection may close. */
void vh_mig_loader_release_main(VhMigLoader *l);
/* POSTCOPY_RUN came (the devices are applied, the guest may run). */
bool vh_mig_loader_in_postcopy(VhMigLoader *l);
/* After run_main succeeded in post-copy: unregister the RAM. */
void vh_mig_loader_postcopy_finish(VhMigLoader *l);
/* Fault service figures so far as text (NULL before post-copy). */
char *vh_mig_loader_postcopy_stats(VhMigLoader *l);

/*
 * Serve one post-copy connection (hello; REQUEST: held for the fault
 * thread's requests until post-copy ends; URGENT: requested pages placed
 * as they come, CHANNEL_END, close-notify). @pre as for run_main.
 * *@cause: the failure is this connection's own (the attempt must fail),
 * not the end of an attempt that failed elsewhere.
 */
G_GNUC_WARN_UNUSED_RESULT
bool vh_mig_loader_run_postcopy_conn(VhMigLoader *l, VhChannel *ch,
                                     const VhMigPreamble *pre, bool *cause,
                                     GError **errp);

/* Fail every wait of the loader with @reason (the first reason sticks). */
void vh_mig_loader_abort(VhMigLoader *l, const char *reason);

bool vh_mig_loader_has_return_path(VhMigLoader *l);
/*
 * After run_main succeeded: make every device's loaded state its own (in
 * the order of the devices given). Fails naming the device.
 */
G_GNUC_WARN_UNUSED_RESULT
bool vh_mig_loader_apply_devices(VhMigLoader *l, GError **errp);
/* Valid after run_main succeeded: MACHINE's running flag. */
bool vh_mig_loader_get_running(VhMigLoader *l);
const VhMigCounts *vh_mig_loader_get_counts(VhMigLoader *l);
/* Bytes of page data loaded so far (any thread). */
guint64 vh_mig_loader_get_bytes(VhMigLoader *l);

G_END_DECLS
