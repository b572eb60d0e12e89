/*
 * VhChardevPty (-chardev pty): a pseudo-terminal; the operator connects a
 * terminal program to the slave (/dev/pts/N), which is announced through
 * the info func (vh_chardev_set_info_func) as QEMU does:
 * "char device redirected to /dev/pts/3 (label s0)".
 *
 *     g_autoptr(VhChardev) p = vh_chardev_pty_new("p0", NULL, errp);
 *     const char *slave = vh_chardev_pty_get_path(VH_CHARDEV_PTY(p));
 *
 * The chardev is connected while some process has the slave open: until
 * then (and after the last one closes it) output is dropped, not queued in
 * the kernel for whoever opens the slave next. The slave is put in raw
 * mode. Opening is noticed by polling every VH_CHARDEV_PTY_POLL_MS.
 */
#pragma once

#include "vmhost/chardev/chardev.h"

G_BEGIN_DECLS

#define VH_CHARDEV_PTY_POLL_MS 100

#define VH_TYPE_CHARDEV_PTY (vh_chardev_pty_get_type())
G_DECLARE_FINAL_TYPE(VhChardevPty, vh_chardev_pty, VH, CHARDEV_PTY, VhChardev)

/* (transfer full) Error: "chardev p0: cannot create a pty: ...". */
G_GNUC_WARN_UNUSED_RESULT
VhChardev *vh_chardev_pty_new(const char *id, GMainContext *ctx, GError **errp);

/* The slave's path (borrowed), e.g. "/dev/pts/3". */
const char *vh_chardev_pty_get_path(VhChardevPty *p);

G_END_DECLS
