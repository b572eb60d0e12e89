/*
 * What backends use from the VhChardev base: construction, the frontend's
 * callbacks, the connected state and error recording.
 */
#pragma once

#include "vmhost/chardev/chardev.h"

/*
 * Set the id and context (NULL: the global default context); call from the
 * backend's constructor right after g_object_new(). Validates @id.
 */
G_GNUC_WARN_UNUSED_RESULT
bool vh_chardev_init_base(VhChardev *chr, const char *id, GMainContext *ctx,
                          GError **errp);

/* The frontend's can_read (0 without a frontend read callback). */
size_t vh_chardev_be_can_read(VhChardev *chr);
/* Hand input to the frontend. */
void vh_chardev_be_read(VhChardev *chr, const guint8 *buf, size_t len);
/* For a class with its own set_handlers: whether a frontend is attached. */
void vh_chardev_be_set_has_frontend(VhChardev *chr, bool attached);
/* Set the connected state and tell the frontend (OPENED / CLOSED). */
void vh_chardev_be_set_connected(VhChardev *chr, bool connected);

/*
 * Record a failure: g_warning("chardev ID: MESSAGE") and store it as the
 * last error with the current time.
 */
void vh_chardev_record_error(VhChardev *chr, const char *fmt, ...)
    G_GNUC_PRINTF(2, 3);
/* Count @len bytes as dropped. */
void vh_chardev_count_dropped(VhChardev *chr, size_t len);

/* Send @message to the info func (see vh_chardev_set_info_func). */
void vh_chardev_info(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

/* Tell every notice observer (see vh_chardev_add_notice_func). */
void vh_chardev_notify(const VhChardevNotice *notice);
