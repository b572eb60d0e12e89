/*
 * VhChardevFile (-chardev file,path=P[,append=on]): output goes to a file,
 * truncated at open unless @append. Always connected; no input.
 *
 *     g_autoptr(VhChardev) f = vh_chardev_file_new("f0", "/tmp/console.log",
 *                                                  false, NULL, errp);
 */
#pragma once

#include "vmhost/chardev/chardev.h"

G_BEGIN_DECLS

#define VH_TYPE_CHARDEV_FILE (vh_chardev_file_get_type())
G_DECLARE_FINAL_TYPE(VhChardevFile, vh_chardev_file, VH, CHARDEV_FILE,
                     VhChardev)

/* (transfer full) Error: "chardev f0: Failed to open /x: ...". */
G_GNUC_WARN_UNUSED_RESULT
VhChardev *vh_chardev_file_new(const char *id, const char *path, bool append,
                               GMainContext *ctx, GError **errp);

G_END_DECLS
