/*
 * Where one QMP input object ends: RFC 8259 strings (with backslash
 * escapes) may hold any bracket, everything else nests.
 */
#include "vmhost/monitor/qmp.h"

struct _VhQmpSplitter {
    VhQmpPieceFunc func;
    void *opaque;
    GString *buf;
    guint depth;
    bool in_string;
    bool escape;
    bool garbage; /* text outside any object */
    bool discard; /* a limit was crossed: drop up to the next newline */
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
    sp->depth = 0;
    sp->in_string = sp->escape = sp->garbage = sp->discard = false;
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

    vh_qmp_splitter_reset(sp);
    sp->func(text, len, VH_QMP_PIECE_OK, sp->opaque);
}

/* A limit crossed: say so now, forget the piece, drop to the newline. */
static void refuse(VhQmpSplitter *sp, VhQmpPieceStatus status)
{
    vh_qmp_splitter_reset(sp);
    sp->discard = true;
    /* keep the big buffer from lingering for the whole connection */
    g_string_free(sp->buf, true);
    sp->buf = g_string_new(NULL);
    sp->func("", 0, status, sp->opaque);
}

/* false: @c crossed the size limit and the piece is gone. */
static bool append(VhQmpSplitter *sp, guint8 c)
{
    if (sp->buf->len >= VH_QMP_INPUT_MAX) {
        refuse(sp, VH_QMP_PIECE_TOO_LARGE);
        /* the newline that crossed it ends the dropped line itself */
        sp->discard = c != '\n';
        return false;
    }
    g_string_append_c(sp->buf, c);
    return true;
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
        if (sp->depth == VH_QMP_DEPTH_MAX) {
            refuse(sp, VH_QMP_PIECE_TOO_DEEP);
            return;
        }
        sp->depth++;
        break;
    case '}':
    case ']':
        sp->depth--;
        break;
    default:
        break;
    }
    if (append(sp, c) && sp->depth == 0) {
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

        if (sp->discard) {
            sp->discard = c != '\n';
        } else if (sp->depth > 0) {
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
