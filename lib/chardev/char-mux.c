/*
 * mux=on: one backend, several frontends, Ctrl-A escapes. See char-mux.h.
 */
#include "chardev-internal.h"
#include "vmhost/chardev/char-mux.h"

#include <string.h>

typedef struct {
    VhChardevCanReadFunc can_read;
    VhChardevReadFunc read;
    VhChardevEventFunc event;
    void *opaque;
    GSource *opened_idle; /* late OPENED for a frontend added while open */
} Frontend;

struct _VhChardevMux {
    VhChardev parent;
    VhChardev *backend;
    Frontend fe[VH_CHARDEV_MUX_MAX];
    int count;
    int focus;
    bool escape; /* Ctrl-A seen, waiting for the command */
};

G_DEFINE_FINAL_TYPE(VhChardevMux, vh_chardev_mux, VH_TYPE_CHARDEV)

static const char help_text[] =
    "\r\nC-a h    print this help\r\n"
    "C-a c    switch between the frontends (serial port, monitor)\r\n"
    "C-a C-a  send C-a\r\n";

static void send_event(Frontend *f, VhChardevEvent ev)
{
    if (f->event) {
        f->event(f->opaque, ev);
    }
}

static void cancel_idle(Frontend *f)
{
    if (f->opened_idle) {
        g_source_destroy(f->opened_idle);
        g_clear_pointer(&f->opened_idle, g_source_unref);
    }
}

/* ---- from the backend ---- */

static size_t mux_can_read(void *opaque)
{
    VhChardevMux *m = opaque;
    Frontend *f = m->focus >= 0 ? &m->fe[m->focus] : NULL;

    if (!f || !f->read) {
        /* nobody to read: still consume escapes so Ctrl-A c works */
        return m->count ? 1 : 0;
    }
    return f->can_read ? f->can_read(f->opaque) : 4096;
}

static void deliver(VhChardevMux *m, const guint8 *buf, size_t len)
{
    Frontend *f = m->focus >= 0 ? &m->fe[m->focus] : NULL;
    size_t room;

    if (!len) {
        return;
    }
    if (!f || !f->read) {
        vh_chardev_count_dropped(VH_CHARDEV(m), len);
        return;
    }
    room = f->can_read ? f->can_read(f->opaque) : len;
    if (room < len) {
        vh_chardev_count_dropped(VH_CHARDEV(m), len - room);
        len = room;
    }
    if (len) {
        f->read(f->opaque, buf, len);
    }
}

/* The byte after Ctrl-A; true when it is data (a literal Ctrl-A). */
static bool escape_command(VhChardevMux *m, guint8 c)
{
    switch (c) {
    case VH_CHARDEV_MUX_ESCAPE:
        return true;
    case 'c':
        vh_chardev_mux_switch_focus(m);
        return false;
    case 'h':
    case '?': {
        g_autoptr(GError) err = NULL;
        if (vh_chardev_write(m->backend, help_text, strlen(help_text), &err) <
            0) {
            vh_chardev_record_error(VH_CHARDEV(m), "help: %s", err->message);
        }
        return false;
    }
    default:
        return false;
    }
}

static void mux_read(void *opaque, const guint8 *buf, size_t len)
{
    VhChardevMux *m = opaque;
    size_t start = 0;

    for (size_t i = 0; i < len; i++) {
        if (m->escape) {
            m->escape = false;
            if (escape_command(m, buf[i])) {
                start = i; /* the literal Ctrl-A starts the next run */
                continue;
            }
            start = i + 1;
        } else if (buf[i] == VH_CHARDEV_MUX_ESCAPE) {
            deliver(m, buf + start, i - start);
            m->escape = true;
            start = i + 1;
        }
    }
    if (!m->escape) {
        deliver(m, buf + start, len - start);
    }
}

static void mux_event(void *opaque, VhChardevEvent ev)
{
    VhChardevMux *m = opaque;
    bool connected = ev == VH_CHARDEV_EVENT_OPENED;

    if ((ev != VH_CHARDEV_EVENT_OPENED && ev != VH_CHARDEV_EVENT_CLOSED) ||
        vh_chardev_is_connected(VH_CHARDEV(m)) == connected) {
        return;
    }
    m->escape = false; /* half an escape does not outlive the peer */
    vh_chardev_be_set_connected(VH_CHARDEV(m), connected);
    for (int i = 0; i < m->count; i++) {
        cancel_idle(&m->fe[i]);
        send_event(&m->fe[i], ev);
    }
}

/* ---- the frontends ---- */

void vh_chardev_mux_switch_focus(VhChardevMux *m)
{
    int old = m->focus;

    if (m->count == 0) {
        return;
    }
    m->focus = (m->focus + 1) % m->count;
    if (old == m->focus) {
        return;
    }
    if (old >= 0) {
        send_event(&m->fe[old], VH_CHARDEV_EVENT_MUX_OUT);
    }
    send_event(&m->fe[m->focus], VH_CHARDEV_EVENT_MUX_IN);
    vh_chardev_accept_input(m->backend);
}

int vh_chardev_mux_get_focus(VhChardevMux *m)
{
    return m->focus;
}

typedef struct {
    VhChardevMux *mux;
    int index;
} LateOpened;

static gboolean late_opened(gpointer opaque)
{
    LateOpened *lo = opaque;
    Frontend *f = &lo->mux->fe[lo->index];

    g_clear_pointer(&f->opened_idle, g_source_unref);
    if (vh_chardev_is_connected(VH_CHARDEV(lo->mux))) {
        send_event(f, VH_CHARDEV_EVENT_OPENED);
    }
    return G_SOURCE_REMOVE;
}

static void schedule_opened(VhChardevMux *m, int i)
{
    LateOpened *lo = g_new(LateOpened, 1);

    lo->mux = m;
    lo->index = i;
    m->fe[i].opened_idle = g_idle_source_new();
    g_source_set_callback(m->fe[i].opened_idle, late_opened, lo, g_free);
    g_source_attach(m->fe[i].opened_idle,
                    vh_chardev_get_context(VH_CHARDEV(m)));
}

static void detach(VhChardevMux *m, int i)
{
    cancel_idle(&m->fe[i]);
    memmove(&m->fe[i], &m->fe[i + 1], (m->count - i - 1) * sizeof(Frontend));
    m->count--;
    memset(&m->fe[m->count], 0, sizeof(Frontend));
    /* idles carry indexes: re-arm the moved ones */
    for (int j = i; j < m->count; j++) {
        if (m->fe[j].opened_idle) {
            cancel_idle(&m->fe[j]);
            schedule_opened(m, j);
        }
    }
    if (m->focus > i || m->focus >= m->count) {
        m->focus--;
    }
    if (m->focus < 0 && m->count) {
        m->focus = 0;
    }
}

static void mux_set_handlers(VhChardev *chr, VhChardevCanReadFunc can_read,
                             VhChardevReadFunc read, VhChardevEventFunc event,
                             void *opaque)
{
    VhChardevMux *m = VH_CHARDEV_MUX(chr);
    bool detaching = !can_read && !read && !event;
    int i;

    for (i = 0; i < m->count && m->fe[i].opaque != opaque; i++) {
    }
    if (detaching) {
        if (i < m->count) {
            detach(m, i);
        }
    } else if (i == VH_CHARDEV_MUX_MAX) {
        vh_chardev_record_error(chr,
                                "a mux takes at most %d frontends; "
                                "one more refused",
                                VH_CHARDEV_MUX_MAX);
        return;
    } else {
        if (i == m->count) {
            m->count++;
        }
        cancel_idle(&m->fe[i]);
        m->fe[i] = (Frontend){can_read, read, event, opaque, NULL};
        if (m->focus < 0) {
            m->focus = i;
        }
        if (vh_chardev_is_connected(chr) && event) {
            schedule_opened(m, i);
        }
    }
    vh_chardev_be_set_has_frontend(chr, m->count > 0);
    vh_chardev_accept_input(m->backend);
}

/* ---- the class ---- */

static gssize mux_write(VhChardev *chr, const guint8 *buf, size_t len,
                        GError **errp)
{
    return vh_chardev_write(VH_CHARDEV_MUX(chr)->backend, buf, len, errp);
}

static char *mux_describe(VhChardev *chr)
{
    return vh_chardev_describe(VH_CHARDEV_MUX(chr)->backend);
}

static void mux_update_read_handler(VhChardev *chr)
{
    vh_chardev_accept_input(VH_CHARDEV_MUX(chr)->backend);
}

static VhChardev *mux_get_backend(VhChardev *chr)
{
    return VH_CHARDEV_MUX(chr)->backend;
}

static void mux_close(VhChardev *chr)
{
    VhChardevMux *m = VH_CHARDEV_MUX(chr);

    for (int i = 0; i < m->count; i++) {
        cancel_idle(&m->fe[i]);
    }
    if (m->backend) {
        vh_chardev_set_handlers(m->backend, NULL, NULL, NULL, NULL, NULL);
        vh_chardev_close(m->backend);
    }
}

static void vh_chardev_mux_finalize(GObject *obj)
{
    g_clear_object(&VH_CHARDEV_MUX(obj)->backend);
    G_OBJECT_CLASS(vh_chardev_mux_parent_class)->finalize(obj);
}

static void vh_chardev_mux_class_init(VhChardevMuxClass *klass)
{
    VhChardevClass *cc = VH_CHARDEV_CLASS(klass);

    G_OBJECT_CLASS(klass)->finalize = vh_chardev_mux_finalize;
    cc->write = mux_write;
    cc->describe = mux_describe;
    cc->close = mux_close;
    cc->update_read_handler = mux_update_read_handler;
    cc->set_handlers = mux_set_handlers;
    cc->get_backend = mux_get_backend;
}

static void vh_chardev_mux_init(VhChardevMux *m)
{
    m->focus = -1;
}

VhChardev *vh_chardev_mux_new(const char *id, VhChardev *backend, GError **errp)
{
    g_autoptr(VhChardev) chr = NULL;
    VhChardevMux *m;

    g_return_val_if_fail(VH_IS_CHARDEV(backend), NULL);
    if (vh_chardev_has_frontend(backend)) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "chardev %s: backend %s already has a frontend", id,
                    vh_chardev_get_id(backend));
        return NULL;
    }
    chr = g_object_new(VH_TYPE_CHARDEV_MUX, NULL);
    m = VH_CHARDEV_MUX(chr);
    if (!vh_chardev_init_base(chr, id, vh_chardev_get_context(backend), errp)) {
        return NULL;
    }
    m->backend = g_object_ref(backend);
    vh_chardev_be_set_connected(chr, vh_chardev_is_connected(backend));
    vh_chardev_set_handlers(backend, mux_can_read, mux_read, mux_event, m,
                            NULL);
    return g_steal_pointer(&chr);
}
