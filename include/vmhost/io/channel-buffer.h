/*
 * VhChannelBuffer: a channel over a growable in-memory byte array.
 *
 *     g_autoptr(VhChannelBuffer) buf = vh_channel_buffer_new(4096);
 *     if (!vh_channel_write_all(VH_CHANNEL(buf), "abc", 3, errp)) ...
 *     vh_channel_seek(VH_CHANNEL(buf), 0, SEEK_SET, errp);   // rewind
 *     size_t len;
 *     const guint8 *data = vh_channel_buffer_get_data(buf, &len);
 *
 * Writes store at the offset (overwriting, then growing the buffer) and
 * advance it; reads consume from the offset; a read at the end is EOF.
 * Seeking is supported (VH_CHANNEL_FEATURE_SEEK), including past the end:
 * the next write fills the gap with zeros. Watches never wait: G_IO_OUT is
 * always ready, G_IO_IN only while unread data lies beyond the offset. The
 * channel is not thread-safe.
 *
 * Ownership: the channel owns the bytes; get_data returns a pointer valid
 * until the next write, seek or close.
 */
#pragma once

#include "vmhost/io/channel.h"

G_BEGIN_DECLS

#define VH_TYPE_CHANNEL_BUFFER (vh_channel_buffer_get_type())
G_DECLARE_FINAL_TYPE(VhChannelBuffer, vh_channel_buffer, VH, CHANNEL_BUFFER,
                     VhChannel)

/* An empty buffer; @capacity_hint preallocates that many bytes. */
VhChannelBuffer *vh_channel_buffer_new(size_t capacity_hint);

/*
 * All bytes written so far (from offset 0, whatever the current offset),
 * transfer none; *len (may be NULL) gets their count. NULL when empty.
 */
const guint8 *vh_channel_buffer_get_data(VhChannelBuffer *b, size_t *len);

G_END_DECLS
