/*
 * VhChardevSerial (-chardev serial,path=/dev/ttyS0, alias tty): a host
 * terminal device in raw mode (no echo, no line editing, 8N1, 115200 baud
 * until the frontend sets the line). The terminal's settings are restored
 * on close. Always connected.
 *
 *     g_autoptr(VhChardev) s = vh_chardev_serial_new("ser0", "/dev/ttyUSB0",
 *                                                    NULL, errp);
 *     // the guest programmed its UART:
 *     vh_chardev_serial_set_params(s, 9600, 8, 'N', 1, errp);
 */
#pragma once

#include "vmhost/chardev/chardev.h"

G_BEGIN_DECLS

#define VH_TYPE_CHARDEV_SERIAL (vh_chardev_serial_get_type())
G_DECLARE_FINAL_TYPE(VhChardevSerial, vh_chardev_serial, VH, CHARDEV_SERIAL,
                     VhChardev)

/*
 * (transfer full) Errors: "chardev ser0: cannot open /dev/ttyS9: No such
 * file or directory", "chardev ser0: /tmp/x is not a terminal".
 */
G_GNUC_WARN_UNUSED_RESULT
VhChardev *vh_chardev_serial_new(const char *id, const char *path,
                                 GMainContext *ctx, GError **errp);

/*
 * Program the line: @baud one of the standard rates (50 .. 4000000; an
 * unlisted rate is an error naming it), @data_bits 5..8, @parity 'N', 'E'
 * or 'O', @stop_bits 1 or 2. @chr must be a VhChardevSerial (or a mux
 * over one); other backends accept and ignore the call, returning true,
 * since the line is only meaningful on a real tty.
 */
G_GNUC_WARN_UNUSED_RESULT
bool vh_chardev_serial_set_params(VhChardev *chr, unsigned baud, int data_bits,
                                  char parity, int stop_bits, GError **errp);

G_END_DECLS
