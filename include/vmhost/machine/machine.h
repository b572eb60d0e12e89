/*
 * VhMachine: the machine a vmhost process runs: a name, guest RAM, the run
 * state that `stop`/`cont`/`query-status` see, and the built-in test guest.
 *
 *     g_autoptr(VhRamBlock) ram = vh_ram_block_new("pc.ram", size, false,
 *                                                  &err);
 *     g_autoptr(VhMachine) m = vh_machine_new("vm0", g_steal_pointer(&ram),
 *                                             &err);
 *     g_signal_connect(m, "state-changed", G_CALLBACK(on_state), mon);
 *     if (!start_paused && !vh_machine_cont(m, &err)) { ... }
 *
 * Run states and their names, as QEMU's query-status shows them:
 *
 *     prelaunch   created, not started yet (-S), or waiting for -incoming
 *     running     the guest runs
 *     paused      stopped by `stop` (or by migration completing its pass)
 *     shutdown    the guest is gone (powered off, or ended by the host);
 *                 only `quit` is left
 *     postmigrate the source after a completed migration
 *     inmigrate   a target receiving a migration
 *
 * Transitions (vh_machine_set_state() refuses any other):
 *
 *     prelaunch   -> running, inmigrate, postmigrate, shutdown
 *     running     -> paused, postmigrate, shutdown
 *     paused      -> running, postmigrate, shutdown
 *     postmigrate -> running, paused, shutdown
 *     inmigrate   -> running, paused, prelaunch, shutdown
 *     shutdown    -> (none)
 *
 * The test guest's workload runs exactly while the state is running: a
 * transition out of running returns only after the guest has stopped at a
 * page boundary, so a caller that stopped the machine may read RAM as a
 * consistent whole.
 *
 * Threads: state changes may come from any thread (the monitor on the main
 * thread, the migration thread); they are serialized. "state-changed" is
 * always emitted in the thread that runs the GMainContext that was the
 * thread-default when the machine was created, in the order the
 * transitions happened: directly from a change made in the thread that
 * runs that context (or in the creating thread while no loop runs it),
 * after any queued earlier ones; otherwise from an idle source on that
 * context.
 * By the time a handler runs the state may have moved on; handlers get the
 * (old, new) pair of the transition they report.
 */
#pragma once

#include <glib-object.h>
#include <stdbool.h>

#include "vmhost/machine/ram.h"
#include "vmhost/machine/test-guest.h"
#include "vmhost/machine/vmstate.h"

G_BEGIN_DECLS

typedef enum {
    VH_RUN_STATE_PRELAUNCH,
    VH_RUN_STATE_RUNNING,
    VH_RUN_STATE_PAUSED,
    VH_RUN_STATE_SHUTDOWN,
    VH_RUN_STATE_POSTMIGRATE,
    VH_RUN_STATE_INMIGRATE,
} VhRunState;

#define VH_TYPE_RUN_STATE (vh_run_state_get_type())
GType vh_run_state_get_type(void);

/* "prelaunch", "running", ... (static). */
const char *vh_run_state_name(VhRunState state);
bool vh_run_state_from_name(const char *name, VhRunState *state);

#define VH_TYPE_MACHINE (vh_machine_get_type())
G_DECLARE_FINAL_TYPE(VhMachine, vh_machine, VH, MACHINE, GObject)

/*
 * A machine in prelaunch over @ram (transfer full, freed on failure too),
 * with its test guest formatted into @ram. Signals go to the caller's
 * thread-default main context. Fails when the test guest does not fit.
 *
 * Property "name" (construct-only string): the -name, used in messages.
 * Signal "state-changed": void (VhMachine *m, VhRunState old,
 * VhRunState new, gpointer user_data).
 */
G_GNUC_WARN_UNUSED_RESULT
VhMachine *vh_machine_new(const char *name, VhRamBlock *ram, GError **errp);

const char *vh_machine_get_name(VhMachine *m);
/* (transfer none), valid as long as @m. */
VhRamBlock *vh_machine_get_ram(VhMachine *m);
VhTestGuest *vh_machine_get_test_guest(VhMachine *m);
/*
 * The guest's workload as counters, for figures that must not depend on
 * which device makes it (migration's write rate around post-copy): pages
 * written since the guest was created, and the rate it was set to write
 * at (bytes/s, 0 when idle).
 */
void vh_machine_get_guest_writes(VhMachine *m, guint64 *pages,
                                 guint64 *set_rate);

VhRunState vh_machine_get_state(VhMachine *m);
bool vh_machine_is_running(VhMachine *m);

/*
 * Whether a machine in inmigrate runs once the migration is in (true
 * unless started with -S or stopped meanwhile): stop and cont in
 * inmigrate change this, as in QEMU.
 */
bool vh_machine_get_autostart(VhMachine *m);
void vh_machine_set_autostart(VhMachine *m, bool autostart);

/*
 * Move to @state, pausing or resuming the test guest; refuses transitions
 * not in the table above with VH_ERROR_INVALID_ARGUMENT naming both
 * states. Moving to the current state is a no-op success without a
 * signal.
 */
G_GNUC_WARN_UNUSED_RESULT
bool vh_machine_set_state(VhMachine *m, VhRunState state, GError **errp);

/*
 * `stop`: running -> paused. In inmigrate it clears autostart; in any
 * other state there is nothing to stop and it succeeds without a change,
 * as QEMU's stop does.
 */
G_GNUC_WARN_UNUSED_RESULT
bool vh_machine_stop(VhMachine *m, GError **errp);

/*
 * `cont`: prelaunch, paused or postmigrate -> running; a no-op when
 * running; in inmigrate it sets autostart; from shutdown it fails (the
 * guest is gone).
 */
G_GNUC_WARN_UNUSED_RESULT
bool vh_machine_cont(VhMachine *m, GError **errp);

/* Any state -> shutdown (idempotent). */
void vh_machine_shutdown(VhMachine *m);

/*
 * The power button (`system_powerdown`): the test guest powers off
 * gracefully. Running, it does so at once: its workload stops at a page
 * boundary and the machine goes to shutdown (one "state-changed", new
 * state shutdown) with vh_machine_get_guest_shutdown() true. In
 * prelaunch, paused, postmigrate or inmigrate the press is kept and the
 * guest powers off as soon as it runs again (running, then shutdown), as
 * an ACPI guest handles the button once it runs. Pressing it again
 * changes nothing. Fails in shutdown (the guest is gone).
 */
G_GNUC_WARN_UNUSED_RESULT
bool vh_machine_powerdown(VhMachine *m, GError **errp);

/*
 * Whether the machine is in shutdown because the guest powered itself off
 * (QEMU's reason "guest-shutdown"), rather than because the host ended it.
 */
bool vh_machine_get_guest_shutdown(VhMachine *m);

/*
 * The devices whose state migrates (vmhost/machine/vmstate.h). The test
 * guest is registered by vh_machine_new(); every other device registers
 * itself (vh_serial_register_state(), vh_probe_register_state()) and
 * unregisters before it is freed.
 *
 * Register @dev (borrowed) with @ops (static); its instance is the lowest
 * number not taken by another device of the same ops->name (QEMU's
 * instance ids), returned. Any thread.
 */
guint32 vh_machine_register_device(VhMachine *m, const VhDeviceStateOps *ops,
                                   gpointer dev);
/* Remove @dev's registration (none: nothing happens). Any thread. */
void vh_machine_unregister_device(VhMachine *m, gpointer dev);
/*
 * The registered devices in registration order (transfer full; a GArray
 * of VhDeviceEntry, a copy: later registrations do not show in it).
 */
GArray *vh_machine_get_devices(VhMachine *m);

/*
 * Device ids (-device ...,id=ID, the serialN of -serial): one namespace for
 * every device of the machine, serial ports and probes alike, as QEMU's
 * /machine/peripheral. Claim @id for a new device: false, with "a device
 * with id 'ID' already exists", when it is taken. Release it when the
 * device goes (the machine forgets them all when freed). Any thread.
 */
G_GNUC_WARN_UNUSED_RESULT
bool vh_machine_claim_device_id(VhMachine *m, const char *id, GError **errp);
void vh_machine_release_device_id(VhMachine *m, const char *id);

G_END_DECLS
