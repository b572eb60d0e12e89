/*
 * VhChardevRingbuf (-chardev ringbuf,size=N): output goes into a ring of
 * N bytes (a power of two; default 64 KiB) that keeps the newest bytes;
 * the ringbuf_read / ringbuf_write monitor commands reach it.
 *
 *     g_autoptr(VhChardev) rb = vh_chardev_ringbuf_new("rb0", 1024, NULL,
 *                                                      errp);
 *     vh_chardev_write(rb, "boot\n", 5, errp);      // as the guest would
 *     g_autofree guint8 *out = NULL;
 *     size_t n = vh_chardev_ringbuf_read(VH_CHARDEV_RINGBUF(rb), 64, &out);
 *
 * Always connected. Input from the monitor side is not passed to a
 * frontend (QEMU's ringbuf_write also just fills the ring).
 */
#pragma once

#include "vmhost/chardev/chardev.h"

G_BEGIN_DECLS

#define VH_CHARDEV_RINGBUF_DEFAULT_SIZE (64 * 1024)

#define VH_TYPE_CHARDEV_RINGBUF (vh_chardev_ringbuf_get_type())
G_DECLARE_FINAL_TYPE(VhChardevRingbuf, vh_chardev_ringbuf, VH, CHARDEV_RINGBUF,
                     VhChardev)

/*
 * (transfer full) @size: bytes, a power of two (0: the default). Error:
 * "chardev rb0: ringbuf size 1000 must be a power of two".
 */
G_GNUC_WARN_UNUSED_RESULT
VhChardev *vh_chardev_ringbuf_new(const char *id, size_t size,
                                  GMainContext *ctx, GError **errp);

/*
 * Append @len bytes; when the ring is full the oldest bytes are
 * overwritten (the ring always holds the newest @size bytes).
 */
void vh_chardev_ringbuf_write(VhChardevRingbuf *rb, const void *buf,
                              size_t len);
/*
 * Take up to @max bytes, oldest first, out of the ring. *@out gets a new
 * buffer (transfer full, NUL-terminated for convenience) with the bytes;
 * returns their count (0 when empty).
 */
size_t vh_chardev_ringbuf_read(VhChardevRingbuf *rb, size_t max, guint8 **out);
/* Bytes waiting in the ring. */
size_t vh_chardev_ringbuf_count(VhChardevRingbuf *rb);
size_t vh_chardev_ringbuf_size(VhChardevRingbuf *rb);

G_END_DECLS
