/*
 * Where one QMP input object ends: RFC 8259 strings (with backslash
 * escapes) may hold any bracket, everything else nests.
 */
#include "vmhost/monitor/qmp.h"

/* Deeper nesting is refused before JsonParser ever recurses into it. */
#define QMP_DEPTH_MAX 1024

struct _VhQmpSplitter {
    VhQmpPieceFunc func;
    void *opaque;
    GString *buf;
    size_t len; /* bytes of the piece, also those dropped */
    guint depth;
    bool in_string;
    bool escape;
    bool garbage; /* text outside any object */
    bool too_long;
};

VhQmpSplitter *vh_qmp_splitter_new(VhQmpPieceFunc func, void *opaque)
{
    VhQmpSplitter *sp = g_new0(VhQmpSplitter, 1);

    sp->func = func;
    sp->opaque = opaque;
    sp->buf = g_string_new(NULL);
    return sp;
}

void vh_qmp_splitter_reset(VhQmpSplitter *sp)
{
    g_string_truncate(sp->buf, 0);
    sp->len = 0;
    sp->depth = 0;
    sp->in_string = sp->escape = sp->garbage = sp->too_long = false;
}

void vh_qmp_splitter_free(VhQmpSplitter *sp)
{
    if (sp) {
        g_string_free(sp->buf, true);
        g_free(sp);
    }
}

static void emit(VhQmpSplitter *sp)
{
    g_autofree char *text = g_strndup(sp->buf->str, sp->buf->len);
    size_t len = sp->buf->len;
    bool too_long = sp->too_long;

    vh_qmp_splitter_reset(sp);
    sp->func(text, len, too_long, sp->opaque);
}

static void append(VhQmpSplitter *sp, guint8 c)
{
    sp->len++;
    if (sp->len > VH_QMP_INPUT_MAX || sp->depth > QMP_DEPTH_MAX) {
        if (!sp->too_long) {
            sp->too_long = true;
            g_string_truncate(sp->buf, 0);
        }
        return;
    }
    g_string_append_c(sp->buf, c);
}

static void object_byte(VhQmpSplitter *sp, guint8 c)
{
    if (sp->in_string) {
        if (sp->escape) {
            sp->escape = false;
        } else if (c == '\\') {
            sp->escape = true;
        } else if (c == '"') {
            sp->in_string = false;
        }
        append(sp, c);
        return;
    }
    switch (c) {
    case '"':
        sp->in_string = true;
        break;
    case '{':
    case '[':
        sp->depth++;
        break;
    case '}':
    case ']':
        sp->depth--;
        break;
    default:
        break;
    }
    append(sp, c);
    if (sp->depth == 0) {
        emit(sp);
    }
}

static void start_object(VhQmpSplitter *sp, guint8 c)
{
    sp->depth = 1;
    append(sp, c);
}

void vh_qmp_splitter_feed(VhQmpSplitter *sp, const guint8 *buf, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        guint8 c = buf[i];

        if (sp->depth > 0) {
            object_byte(sp, c);
        } else if (sp->garbage) {
            if (c == '\n') {
                emit(sp);
            } else if (c == '{' || c == '[') {
                emit(sp);
                start_object(sp, c);
            } else {
                append(sp, c);
            }
        } else if (c == '{' || c == '[') {
            start_object(sp, c);
        } else if (!g_ascii_isspace(c)) {
            sp->garbage = true;
            append(sp, c);
        }
    }
}
