/*
 * VhChardevMux (mux=on): one backend shared by several frontends, such as
 * the serial port and the monitor on one stdio or socket.
 *
 *     g_autoptr(VhChardev) be = vh_chardev_stdio_new("con-base", true,
 *                                                    NULL, errp);
 *     g_autoptr(VhChardev) mux = vh_chardev_mux_new("con", be, NULL, errp);
 *     vh_chardev_set_handlers(mux, uart_can_read, uart_read, uart_event,
 *                             uart, NULL);
 *     vh_chardev_set_handlers(mux, mon_can_read, mon_read, mon_event,
 *                             mon, NULL);
 *
 * Frontends: each vh_chardev_set_handlers call on a mux adds a frontend,
 * or, for an @opaque already attached, replaces its handlers (all NULL
 * detaches it). At most VH_CHARDEV_MUX_MAX frontends; one more is refused
 * with a warning and recorded as the last error. The first frontend has
 * the focus.
 *
 * Output: everything any frontend writes goes to the backend. Input goes
 * to the frontend that has the focus. OPENED / CLOSED go to every
 * frontend; MUX_OUT and MUX_IN to the frontends losing and gaining the
 * focus.
 *
 * Escapes (typed on the backend): Ctrl-A c moves the focus to the next
 * frontend; Ctrl-A Ctrl-A sends one Ctrl-A to the focused frontend;
 * Ctrl-A h prints the list of escapes. Unlike QEMU there is no Ctrl-A x
 * (quit), s, b or t: any other Ctrl-A sequence is swallowed, so a guest
 * never sees half an escape. Input typed after Ctrl-A c in the same read
 * goes to the new focus, up to what it can take; the rest is dropped and
 * counted.
 *
 * The mux takes a reference on the backend, installs its own handlers on
 * it, and closes it when the mux is closed. Connected state and describe
 * are the backend's.
 */
#pragma once

#include "vmhost/chardev/chardev.h"

G_BEGIN_DECLS

#define VH_CHARDEV_MUX_MAX    4
#define VH_CHARDEV_MUX_ESCAPE 0x01 /* Ctrl-A */

#define VH_TYPE_CHARDEV_MUX (vh_chardev_mux_get_type())
G_DECLARE_FINAL_TYPE(VhChardevMux, vh_chardev_mux, VH, CHARDEV_MUX, VhChardev)

/*
 * (transfer full) A mux @id over @backend, on the backend's context.
 * Fails if @backend already has a frontend.
 */
G_GNUC_WARN_UNUSED_RESULT
VhChardev *vh_chardev_mux_new(const char *id, VhChardev *backend,
                              GError **errp);

/* Index of the focused frontend (in attach order), -1 with none. */
int vh_chardev_mux_get_focus(VhChardevMux *mux);
/* Move the focus to the next frontend, as Ctrl-A c does. */
void vh_chardev_mux_switch_focus(VhChardevMux *mux);

G_END_DECLS
