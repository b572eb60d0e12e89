/*
 * VhChardevNull (-chardev null): always connected, discards output, never
 * produces input.
 *
 *     g_autoptr(VhChardev) chr = vh_chardev_null_new("n0", NULL, errp);
 */
#pragma once

#include "vmhost/chardev/chardev.h"

G_BEGIN_DECLS

#define VH_TYPE_CHARDEV_NULL (vh_chardev_null_get_type())
G_DECLARE_FINAL_TYPE(VhChardevNull, vh_chardev_null, VH, CHARDEV_NULL,
                     VhChardev)

/* (transfer full) @ctx: NULL for the global default context. */
G_GNUC_WARN_UNUSED_RESULT
VhChardev *vh_chardev_null_new(const char *id, GMainContext *ctx,
                               GError **errp);

G_END_DECLS
