/*
 * isa-serial: the guest console (line discipline in front of the test
 * guest) or a plain port, as the frontend of a chardev.
 */
#include "vmhost/machine/serial.h"
#include "vmhost/util/error.h"

#include <string.h>

struct VhSerial {
    char *id;
    VhChardev *chr;
    VhTestGuest *console; /* NULL: a plain port */
    GString *line;
    bool after_cr;      /* the last byte ended a line with '\r' */
    bool too_long;      /* discarding the rest of an over-long line */
    guint64 commands;   /* atomic: a migration reads and sets them */
    guint64 dropped;    /* atomic */
    VhMachine *machine; /* where the state is registered, or NULL */
};

static void console_reply(VhSerial *s, const char *reply)
{
    g_autofree char *out = g_strconcat(reply, "\n", NULL);
    g_autoptr(GError) err = NULL;

    /* Only a closed chardev fails; a missing peer just drops (counted). */
    if (vh_chardev_write(s->chr, out, strlen(out), &err) < 0) {
        g_warning("serial %s: reply not written: %s", s->id, err->message);
    }
}

static void console_line_end(VhSerial *s)
{
    if (s->too_long) {
        g_autofree char *msg =
            g_strdup_printf("error: line too long (more than %u bytes)",
                            (unsigned)VH_SERIAL_LINE_MAX);
        s->too_long = false;
        console_reply(s, msg);
    } else {
        g_autofree char *reply =
            vh_test_guest_command(s->console, s->line->str);
        if (reply[0]) {
            __atomic_fetch_add(&s->commands, 1, __ATOMIC_RELAXED);
            console_reply(s, reply);
        }
    }
    g_string_truncate(s->line, 0);
}

static void console_byte(VhSerial *s, guint8 c)
{
    bool after_cr = s->after_cr;

    s->after_cr = false;
    if (after_cr && (c == '\n' || c == '\0')) {
        return; /* the second half of "\r\n" or telnet's "\r\0" */
    }
    if (c == '\r' || c == '\n') {
        s->after_cr = c == '\r';
        console_line_end(s);
        return;
    }
    if (s->too_long) {
        return;
    }
    if (s->line->len >= VH_SERIAL_LINE_MAX) {
        s->too_long = true;
        g_string_truncate(s->line, 0);
        return;
    }
    g_string_append_c(s->line, (char)c);
}

static size_t serial_can_read(void *opaque)
{
    return VH_SERIAL_LINE_MAX;
}

static void serial_read(void *opaque, const guint8 *buf, size_t len)
{
    VhSerial *s = opaque;

    if (!s->console) {
        __atomic_fetch_add(&s->dropped, len, __ATOMIC_RELAXED);
        return;
    }
    for (size_t i = 0; i < len; i++) {
        console_byte(s, buf[i]);
    }
}

static void serial_event(void *opaque, VhChardevEvent event)
{
    VhSerial *s = opaque;

    switch (event) {
    case VH_CHARDEV_EVENT_OPENED:
        /* Not here: a late OPENED may follow the first bytes. */
        break;
    case VH_CHARDEV_EVENT_CLOSED:
        /* The next peer does not inherit half a line from this one. */
        g_string_truncate(s->line, 0);
        s->after_cr = false;
        s->too_long = false;
        break;
    default:
        break;
    }
}

VhSerial *vh_serial_new(const char *id, VhChardev *chr, VhTestGuest *console,
                        GError **errp)
{
    VhSerial *s;

    g_return_val_if_fail(VH_IS_CHARDEV(chr), NULL);
    if (!id || !id[0]) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "isa-serial: an id is required");
        return NULL;
    }
    s = g_new0(VhSerial, 1);
    s->id = g_strdup(id);
    s->chr = g_object_ref(chr);
    s->console = console;
    s->line = g_string_new(NULL);
    vh_chardev_set_handlers(chr, serial_can_read, serial_read, serial_event, s,
                            NULL);
    return s;
}

void vh_serial_free(VhSerial *s)
{
    if (!s) {
        return;
    }
    if (s->machine) {
        vh_machine_unregister_device(s->machine, s);
    }
    vh_chardev_set_handlers(s->chr, NULL, NULL, NULL, s, NULL);
    g_object_unref(s->chr);
    g_string_free(s->line, TRUE);
    g_free(s->id);
    g_free(s);
}

const char *vh_serial_get_id(VhSerial *s)
{
    return s->id;
}

VhChardev *vh_serial_get_chardev(VhSerial *s)
{
    return s->chr;
}

bool vh_serial_is_console(VhSerial *s)
{
    return s->console != NULL;
}

guint64 vh_serial_get_commands(VhSerial *s)
{
    return __atomic_load_n(&s->commands, __ATOMIC_RELAXED);
}

guint64 vh_serial_get_dropped(VhSerial *s)
{
    return __atomic_load_n(&s->dropped, __ATOMIC_RELAXED);
}

void vh_serial_set_counters(VhSerial *s, guint64 commands, guint64 dropped)
{
    __atomic_store_n(&s->commands, commands, __ATOMIC_RELAXED);
    __atomic_store_n(&s->dropped, dropped, __ATOMIC_RELAXED);
}

void vh_serial_register_state(VhSerial *s, VhMachine *m)
{
    g_return_if_fail(s->machine == NULL);
    s->machine = m;
    vh_machine_register_device(m, &vh_serial_state_ops, s);
}
