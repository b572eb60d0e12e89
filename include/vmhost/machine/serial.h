/*
 * VhSerial: an isa-serial device (-device isa-serial,chardev=ID, -serial
 * DEV): the frontend of one chardev.
 *
 *     g_autoptr(VhSerial) com1 =
 *         vh_serial_new("serial0", chr, vh_machine_get_test_guest(m), errp);
 *     g_autoptr(VhSerial) com2 = vh_serial_new("serial1", chr2, NULL, errp);
 *
 * A port given a test guest is the guest's console (vmhost gives it to the
 * first port only). The console is line-oriented, with no echo and no
 * prompt: bytes from the chardev are collected into lines; a line ends at
 * "\n", "\r\n" or a lone "\r" (a telnet "\r\0" too). Each non-blank line
 * goes to vh_test_guest_command() and the reply, followed by "\n", is
 * written back; a blank line gets no reply. A line longer than
 * VH_SERIAL_LINE_MAX bytes is discarded up to its end and answered with
 * "error: line too long (more than N bytes)". Bytes left without a line
 * end when the peer disconnects are discarded: a new peer starts afresh.
 *
 * Any other port is a plain port: the guest drives no UART there, so its
 * input is dropped, as a real UART's receive FIFO overflows when no
 * driver reads it. vh_serial_get_dropped() counts those bytes.
 *
 * Threads: everything runs on the chardev's GMainContext, and
 * vh_serial_new() / vh_serial_free() must be called in the thread that
 * runs it (or before any thread does). Console commands run there too,
 * synchronously: `verify` of a large RAM holds the context for as long as
 * it takes. The guest's workload thread never touches the chardev.
 */
#pragma once

#include <stdbool.h>

#include "vmhost/chardev/chardev.h"
#include "vmhost/machine/machine.h"
#include "vmhost/machine/test-guest.h"
#include "vmhost/machine/vmstate.h"

G_BEGIN_DECLS

#define VH_SERIAL_LINE_MAX 4096

typedef struct VhSerial VhSerial;

/*
 * A serial port @id (used in messages) over @chr, holding a reference on
 * it and installing its handlers; @console (transfer none, must outlive
 * the port) makes it the guest console, NULL a plain port. Fails when @id
 * is empty. (transfer full)
 */
G_GNUC_WARN_UNUSED_RESULT
VhSerial *vh_serial_new(const char *id, VhChardev *chr, VhTestGuest *console,
                        GError **errp);

/* Removes the handlers and drops the chardev reference. NULL is allowed. */
void vh_serial_free(VhSerial *s);

const char *vh_serial_get_id(VhSerial *s);
/* (transfer none) */
VhChardev *vh_serial_get_chardev(VhSerial *s);
bool vh_serial_is_console(VhSerial *s);
/* Console lines answered so far (blank lines not counted). */
guint64 vh_serial_get_commands(VhSerial *s);
/* Input bytes a plain port dropped. */
guint64 vh_serial_get_dropped(VhSerial *s);
/*
 * Set both counters (a migration target takes over the source's). The
 * counters are atomic: the getters and this may run in any thread.
 */
void vh_serial_set_counters(VhSerial *s, guint64 commands, guint64 dropped);

/*
 * The port's migration state, "serial" version 1: id, console flag and
 * both counters (lib/machine/serial-state.c).
 */
extern const VhDeviceStateOps vh_serial_state_ops;

/*
 * Register the port's state with @m (borrowed: it must outlive the port);
 * vh_serial_free() unregisters it. Ports take instances in the order they
 * register, which must be the same on both ends of a migration.
 */
void vh_serial_register_state(VhSerial *s, VhMachine *m);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(VhSerial, vh_serial_free)

G_END_DECLS
