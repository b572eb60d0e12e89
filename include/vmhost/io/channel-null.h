/*
 * VhChannelNull: the /dev/null of channels.
 *
 *     g_autoptr(VhChannelNull) sink = vh_channel_null_new();
 *     vh_channel_write_all(VH_CHANNEL(sink), data, len, errp); // discarded
 *     vh_channel_read(VH_CHANNEL(sink), buf, sizeof(buf), errp); // 0: EOF
 *
 * Reads always return EOF, writes accept and discard everything, watches
 * are always ready (G_IO_IN: EOF is readable; G_IO_OUT). No features.
 *
 * Ownership: nothing beyond the object itself.
 */
#pragma once

#include "vmhost/io/channel.h"

G_BEGIN_DECLS

#define VH_TYPE_CHANNEL_NULL (vh_channel_null_get_type())
G_DECLARE_FINAL_TYPE(VhChannelNull, vh_channel_null, VH, CHANNEL_NULL,
                     VhChannel)

VhChannelNull *vh_channel_null_new(void);

G_END_DECLS
