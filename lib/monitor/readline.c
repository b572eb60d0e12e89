/*
 * The HMP line editor (readline.h): a byte-fed state machine. Output is
 * collected per call and handed out in one piece, so a keystroke costs
 * one chardev write.
 */
#include "readline.h"

#include <string.h>

typedef enum {
    ST_NORM,
    ST_ESC, /* ESC */
    ST_CSI, /* ESC [ parameters */
    ST_SS3, /* ESC O */
} EscState;

#define CSI_PARAM_MAX   16
#define LIST_WIDTH      80 /* the completion list's line width */
#define LIST_MIN_COLUMN 10

struct VhReadline {
    char *prompt;
    bool echo;
    size_t max_len;
    VhReadlineOutFunc out;
    VhReadlineLineFunc line;
    VhReadlineCompleteFunc complete;
    void *opaque;

    GString *buf;
    size_t cursor; /* byte offset, always at a character boundary */
    GString *outbuf;

    EscState esc;
    char csi[CSI_PARAM_MAX];
    size_t csi_len;
    bool csi_intermediate;
    guint8 utf8[4]; /* a multi-byte character being read */
    size_t utf8_len, utf8_need;
    bool last_cr;

    GPtrArray *history; /* oldest first */
    guint hist_pos;     /* == history->len: the line being typed */
    char *scratch;      /* that line, while walking the history */
};

/* ---- output ---- */

static void put(VhReadline *rl, const char *s, size_t len)
{
    g_string_append_len(rl->outbuf, s, len);
}

static void puts_(VhReadline *rl, const char *s)
{
    put(rl, s, strlen(s));
}

static void flush(VhReadline *rl)
{
    if (rl->outbuf->len) {
        rl->out(rl->opaque, rl->outbuf->str, rl->outbuf->len);
        g_string_truncate(rl->outbuf, 0);
    }
}

static guint char_width(gunichar c)
{
    return g_unichar_iswide(c) ? 2 : 1;
}

/*
 * Characters the line may hold: no controls (C0, DEL, C1), and no
 * zero-width ones, which a terminal draws onto the character before them
 * and so could not be erased by redrawing from the cursor on.
 */
static bool char_ok(gunichar c)
{
    return !g_unichar_iscntrl(c) && !g_unichar_iszerowidth(c);
}

static bool text_ok(const char *s)
{
    if (!g_utf8_validate(s, -1, NULL)) {
        return false;
    }
    for (const char *p = s; *p; p = g_utf8_next_char(p)) {
        if (!char_ok(g_utf8_get_char(p))) {
            return false;
        }
    }
    return true;
}

/* Terminal columns of the valid UTF-8 in [@s, @s + @len). */
static size_t columns(const char *s, size_t len)
{
    size_t n = 0;

    for (const char *p = s; p < s + len; p = g_utf8_next_char(p)) {
        n += char_width(g_utf8_get_char(p));
    }
    return n;
}

static size_t cols_between(VhReadline *rl, size_t from, size_t to)
{
    return columns(rl->buf->str + from, to - from);
}

/* Cursor @n columns left: backspaces while they are no longer. */
static void move_left(VhReadline *rl, size_t n)
{
    if (n == 0) {
        return;
    }
    if (n <= 4) {
        for (size_t i = 0; i < n; i++) {
            puts_(rl, "\b");
        }
    } else {
        g_string_append_printf(rl->outbuf, "\033[%zuD", n);
    }
}

/* Cursor from byte @from to @to (> @from): reprint or ESC [ n C. */
static void move_right(VhReadline *rl, size_t from, size_t to)
{
    g_autofree char *seq =
        g_strdup_printf("\033[%zuC", cols_between(rl, from, to));

    if (strlen(seq) < to - from) {
        puts_(rl, seq);
    } else {
        put(rl, rl->buf->str + from, to - from);
    }
}

/* Blank @n columns from the cursor on; the cursor stays. */
static void erase_cols(VhReadline *rl, size_t n)
{
    if (n == 0) {
        return;
    }
    if (n <= 2) {
        for (size_t i = 0; i < n; i++) {
            puts_(rl, " ");
        }
        move_left(rl, n);
    } else {
        puts_(rl, "\033[K");
    }
}

/*
 * After the text at the cursor changed: print the line from the cursor
 * on, blank the @gone columns the old text took beyond it, come back.
 */
static void redraw_tail(VhReadline *rl, size_t gone)
{
    size_t tail = rl->buf->len - rl->cursor;

    put(rl, rl->buf->str + rl->cursor, tail);
    erase_cols(rl, gone);
    move_left(rl, cols_between(rl, rl->cursor, rl->buf->len));
}

/* ---- positions ---- */

static size_t prev_char(VhReadline *rl, size_t pos)
{
    const char *s = rl->buf->str;

    if (pos == 0) {
        return 0;
    }
    pos--;
    while (pos > 0 && ((guint8)s[pos] & 0xc0) == 0x80) {
        pos--;
    }
    return pos;
}

static size_t next_char(VhReadline *rl, size_t pos)
{
    if (pos >= rl->buf->len) {
        return rl->buf->len;
    }
    return g_utf8_next_char(rl->buf->str + pos) - rl->buf->str;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static size_t word_start(VhReadline *rl)
{
    const char *s = rl->buf->str;
    size_t p = rl->cursor;

    while (p > 0 && is_blank(s[p - 1])) {
        p--;
    }
    while (p > 0 && !is_blank(s[p - 1])) {
        p--;
    }
    return p;
}

static size_t word_end(VhReadline *rl)
{
    const char *s = rl->buf->str;
    size_t p = rl->cursor;

    while (p < rl->buf->len && is_blank(s[p])) {
        p++;
    }
    while (p < rl->buf->len && !is_blank(s[p])) {
        p++;
    }
    return p;
}

/* ---- edits ---- */

static void move_to(VhReadline *rl, size_t pos)
{
    if (rl->echo) {
        if (pos < rl->cursor) {
            move_left(rl, cols_between(rl, pos, rl->cursor));
        } else if (pos > rl->cursor) {
            move_right(rl, rl->cursor, pos);
        }
    }
    rl->cursor = pos;
}

static void insert(VhReadline *rl, const char *text, size_t len)
{
    if (len == 0 || rl->buf->len + len > rl->max_len) {
        return;
    }
    g_string_insert_len(rl->buf, rl->cursor, text, len);
    rl->cursor += len;
    if (rl->echo) {
        put(rl, text, len);
        redraw_tail(rl, 0);
    }
}

/* Delete from @from (<= cursor) to the cursor. */
static void delete_before(VhReadline *rl, size_t from)
{
    size_t gone = cols_between(rl, from, rl->cursor);

    if (from == rl->cursor) {
        return;
    }
    if (rl->echo) {
        move_left(rl, gone);
    }
    g_string_erase(rl->buf, from, rl->cursor - from);
    rl->cursor = from;
    if (rl->echo) {
        redraw_tail(rl, gone);
    }
}

/* Delete from the cursor to @to. */
static void delete_after(VhReadline *rl, size_t to)
{
    size_t gone = cols_between(rl, rl->cursor, to);

    if (to == rl->cursor) {
        return;
    }
    g_string_erase(rl->buf, rl->cursor, to - rl->cursor);
    if (rl->echo) {
        redraw_tail(rl, gone);
    }
}

/* Replace the whole line (history), cursor at its end. */
static void set_line(VhReadline *rl, const char *text)
{
    size_t old = cols_between(rl, 0, rl->buf->len);
    size_t now = columns(text, strlen(text));

    if (rl->echo) {
        move_left(rl, cols_between(rl, 0, rl->cursor));
        puts_(rl, text);
        erase_cols(rl, old > now ? old - now : 0);
    }
    g_string_assign(rl->buf, text);
    rl->cursor = rl->buf->len;
}

static void draw_line(VhReadline *rl)
{
    puts_(rl, rl->prompt);
    put(rl, rl->buf->str, rl->buf->len);
    move_left(rl, cols_between(rl, rl->cursor, rl->buf->len));
}

static void clear_line(VhReadline *rl)
{
    g_string_truncate(rl->buf, 0);
    rl->cursor = 0;
    rl->hist_pos = rl->history->len;
    g_clear_pointer(&rl->scratch, g_free);
}

/* ---- history ---- */

static void history_add(VhReadline *rl, const char *line)
{
    g_autofree char *text = g_strstrip(g_strdup(line));
    GPtrArray *h = rl->history;

    if (!*text || (h->len && g_str_equal(h->pdata[h->len - 1], text))) {
        return;
    }
    if (h->len == VH_READLINE_HISTORY_MAX) {
        g_ptr_array_remove_index(h, 0);
    }
    g_ptr_array_add(h, g_steal_pointer(&text));
}

static void history_up(VhReadline *rl)
{
    if (rl->hist_pos == 0) {
        return;
    }
    if (rl->hist_pos == rl->history->len) {
        g_free(rl->scratch);
        rl->scratch = g_strdup(rl->buf->str);
    }
    rl->hist_pos--;
    set_line(rl, rl->history->pdata[rl->hist_pos]);
}

static void history_down(VhReadline *rl)
{
    if (rl->hist_pos >= rl->history->len) {
        return;
    }
    rl->hist_pos++;
    if (rl->hist_pos == rl->history->len) {
        g_autofree char *typed = g_steal_pointer(&rl->scratch);

        set_line(rl, typed ? typed : "");
    } else {
        set_line(rl, rl->history->pdata[rl->hist_pos]);
    }
}

/* ---- completion ---- */

static gint cmp_str(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The candidates starting with @word, sorted, each once. */
static GPtrArray *matches(VhReadline *rl, const char *before, const char *word)
{
    g_auto(GStrv) cands = rl->complete(rl->opaque, before, word);
    GPtrArray *m = g_ptr_array_new_with_free_func(g_free);

    for (guint i = 0; cands && cands[i]; i++) {
        if (g_str_has_prefix(cands[i], word) && text_ok(cands[i])) {
            g_ptr_array_add(m, g_strdup(cands[i]));
        }
    }
    g_ptr_array_sort(m, cmp_str);
    for (guint i = 1; i < m->len;) {
        if (g_str_equal(m->pdata[i], m->pdata[i - 1])) {
            g_ptr_array_remove_index(m, i);
        } else {
            i++;
        }
    }
    return m;
}

/* Bytes all of @m share, cut back to a character boundary. */
static size_t common_prefix(GPtrArray *m)
{
    const char *first = m->pdata[0];
    size_t n = strlen(first);

    for (guint i = 1; i < m->len; i++) {
        const char *s = m->pdata[i];
        size_t k = 0;

        while (k < n && s[k] == first[k]) {
            k++;
        }
        n = k;
    }
    while (n > 0 && ((guint8)first[n] & 0xc0) == 0x80) {
        n--;
    }
    return n;
}

static void list_matches(VhReadline *rl, GPtrArray *m)
{
    size_t width = 0, per_row;

    for (guint i = 0; i < m->len; i++) {
        const char *s = m->pdata[i];

        width = MAX(width, columns(s, strlen(s)));
    }
    width = CLAMP(width + 2, LIST_MIN_COLUMN, LIST_WIDTH);
    per_row = LIST_WIDTH / width;
    puts_(rl, "\r\n");
    for (guint i = 0; i < m->len; i++) {
        const char *s = m->pdata[i];
        bool row_end = (i + 1) % per_row == 0 || i + 1 == m->len;

        puts_(rl, s);
        if (row_end) {
            puts_(rl, "\r\n");
        } else {
            for (size_t c = columns(s, strlen(s)); c < width; c++) {
                puts_(rl, " ");
            }
        }
    }
    draw_line(rl);
}

static void tab_complete(VhReadline *rl)
{
    g_autofree char *before = g_strndup(rl->buf->str, rl->cursor);
    size_t ws = rl->cursor;
    g_autoptr(GPtrArray) m = NULL;
    size_t wlen, common;

    if (!rl->complete || !rl->echo) {
        return;
    }
    while (ws > 0 && !is_blank(before[ws - 1])) {
        ws--;
    }
    m = matches(rl, before, before + ws);
    if (m->len == 0) {
        return;
    }
    wlen = rl->cursor - ws;
    if (m->len == 1) {
        const char *only = m->pdata[0];
        /* a word that wants more after it ("tls-creds-x509,") gets no blank */
        bool more = g_str_has_suffix(only, ",") || g_str_has_suffix(only, "=");
        g_autofree char *rest = g_strconcat(only + wlen, more ? "" : " ", NULL);

        insert(rl, rest, strlen(rest));
        return;
    }
    common = common_prefix(m);
    if (common > wlen) {
        insert(rl, (char *)m->pdata[0] + wlen, common - wlen);
    }
    list_matches(rl, m);
}

/* ---- input ---- */

static void enter(VhReadline *rl)
{
    g_autofree char *line = g_strdup(rl->buf->str);

    if (rl->echo) {
        puts_(rl, "\r\n");
    }
    history_add(rl, line);
    clear_line(rl);
    flush(rl);
    rl->line(rl->opaque, line);
}

static void interrupt(VhReadline *rl)
{
    clear_line(rl);
    if (rl->echo) {
        puts_(rl, "^C\r\n");
        draw_line(rl);
    }
}

static void redraw_screen(VhReadline *rl)
{
    if (rl->echo) {
        puts_(rl, "\033[H\033[2J");
        draw_line(rl);
    }
}

static void control(VhReadline *rl, guint8 c)
{
    switch (c) {
    case 0x01: /* Ctrl-A */
        move_to(rl, 0);
        break;
    case 0x02: /* Ctrl-B */
        move_to(rl, prev_char(rl, rl->cursor));
        break;
    case 0x03: /* Ctrl-C */
        interrupt(rl);
        break;
    case 0x04: /* Ctrl-D */
        delete_after(rl, next_char(rl, rl->cursor));
        break;
    case 0x05: /* Ctrl-E */
        move_to(rl, rl->buf->len);
        break;
    case 0x06: /* Ctrl-F */
        move_to(rl, next_char(rl, rl->cursor));
        break;
    case 0x08: /* Ctrl-H */
    case 0x7f: /* DEL: the Backspace key of most terminals */
        delete_before(rl, prev_char(rl, rl->cursor));
        break;
    case '\t':
        tab_complete(rl);
        break;
    case 0x0b: /* Ctrl-K */
        delete_after(rl, rl->buf->len);
        break;
    case 0x0c: /* Ctrl-L */
        redraw_screen(rl);
        break;
    case 0x0e: /* Ctrl-N */
        history_down(rl);
        break;
    case 0x10: /* Ctrl-P */
        history_up(rl);
        break;
    case 0x15: /* Ctrl-U */
        delete_before(rl, 0);
        break;
    case 0x17: /* Ctrl-W */
        delete_before(rl, word_start(rl));
        break;
    case 0x1b:
        rl->esc = ST_ESC;
        break;
    default:
        break; /* other controls mean nothing here */
    }
}

/* The n-th (0-based) numeric parameter of the CSI sequence, or 0. */
static guint csi_param(VhReadline *rl, guint n)
{
    g_autofree char *params = g_strndup(rl->csi, rl->csi_len);
    g_auto(GStrv) parts = g_strsplit(params, ";", -1);

    if (g_strv_length(parts) <= n) {
        return 0;
    }
    /* absurd numbers mean nothing */
    return (guint)MIN(g_ascii_strtoull(parts[n], NULL, 10), 1000);
}

static void arrow(VhReadline *rl, char final, bool word)
{
    switch (final) {
    case 'A':
        history_up(rl);
        break;
    case 'B':
        history_down(rl);
        break;
    case 'C':
        move_to(rl, word ? word_end(rl) : next_char(rl, rl->cursor));
        break;
    case 'D':
        move_to(rl, word ? word_start(rl) : prev_char(rl, rl->cursor));
        break;
    case 'H':
        move_to(rl, 0);
        break;
    case 'F':
        move_to(rl, rl->buf->len);
        break;
    default:
        break; /* swallowed */
    }
}

static void csi_final(VhReadline *rl, char final)
{
    guint mod = csi_param(rl, 1);

    if (rl->csi_intermediate) {
        return;
    }
    if (final != '~') {
        /* xterm: 1;5 is Ctrl, 1;3 Alt: both move by words */
        arrow(rl, final, mod == 3 || mod == 5);
        return;
    }
    switch (csi_param(rl, 0)) {
    case 1:
    case 7:
        move_to(rl, 0);
        break;
    case 4:
    case 8:
        move_to(rl, rl->buf->len);
        break;
    case 3:
        delete_after(rl, next_char(rl, rl->cursor));
        break;
    default:
        break; /* Insert, PageUp, F5 ...: swallowed */
    }
}

static void input_byte(VhReadline *rl, guint8 c);

/* A byte that cannot continue an escape sequence ends it. */
static void escape_abort(VhReadline *rl, guint8 c)
{
    rl->esc = ST_NORM;
    if (c < 0x20) {
        input_byte(rl, c); /* Enter, or a new ESC, keeps its meaning */
    }
}

static void escape_byte(VhReadline *rl, guint8 c)
{
    switch (rl->esc) {
    case ST_ESC:
        rl->esc = ST_NORM;
        if (c == '[') {
            rl->esc = ST_CSI;
            rl->csi_len = 0;
            rl->csi_intermediate = false;
        } else if (c == 'O') {
            rl->esc = ST_SS3;
        } else if (c == 'b' || c == 'f') {
            move_to(rl, c == 'b' ? word_start(rl) : word_end(rl));
        } else if (c == 0x7f || c == 0x08) {
            delete_before(rl, word_start(rl));
        } else {
            escape_abort(rl, c); /* Alt-<key>: swallowed */
        }
        break;
    case ST_CSI:
        if (c >= 0x30 && c <= 0x3f) {
            if (rl->csi_len < CSI_PARAM_MAX) {
                rl->csi[rl->csi_len++] = (char)c;
            }
        } else if (c >= 0x20 && c <= 0x2f) {
            rl->csi_intermediate = true;
        } else if (c >= 0x40 && c <= 0x7e) {
            rl->esc = ST_NORM;
            csi_final(rl, (char)c);
        } else {
            escape_abort(rl, c);
        }
        break;
    case ST_SS3:
        if (c >= 0x40 && c <= 0x7e) {
            rl->esc = ST_NORM;
            arrow(rl, (char)c, false);
        } else {
            escape_abort(rl, c);
        }
        break;
    case ST_NORM:
    default:
        break;
    }
}

/* How many continuation bytes follow lead byte @c; 0: not a lead byte. */
static size_t utf8_needs(guint8 c)
{
    if (c >= 0xc2 && c <= 0xdf) {
        return 1;
    }
    if (c >= 0xe0 && c <= 0xef) {
        return 2;
    }
    if (c >= 0xf0 && c <= 0xf4) {
        return 3;
    }
    return 0;
}

static void utf8_byte(VhReadline *rl, guint8 c)
{
    const char *seq = (const char *)rl->utf8;

    if (rl->utf8_need == 0) {
        rl->utf8_need = utf8_needs(c);
        rl->utf8_len = 0;
        if (rl->utf8_need == 0) {
            return; /* a stray continuation byte or an invalid lead */
        }
        rl->utf8[rl->utf8_len++] = c;
        return;
    }
    rl->utf8[rl->utf8_len++] = c;
    if (rl->utf8_len <= rl->utf8_need) {
        return;
    }
    rl->utf8_need = 0;
    /* overlong forms, surrogates, > U+10FFFF, C1 controls, zero-width
     * characters are dropped */
    if (g_utf8_validate_len(seq, rl->utf8_len, NULL) &&
        char_ok(g_utf8_get_char(seq))) {
        insert(rl, seq, rl->utf8_len);
    }
}

static void input_byte(VhReadline *rl, guint8 c)
{
    bool was_cr = rl->last_cr;

    rl->last_cr = c == '\r';
    if (rl->utf8_need && (c & 0xc0) != 0x80) {
        rl->utf8_need = 0; /* a truncated character: dropped */
    }
    if (rl->esc != ST_NORM) {
        escape_byte(rl, c);
    } else if (c == '\r' || (c == '\n' && !was_cr)) {
        enter(rl);
    } else if (c == '\n') {
        /* the LF of a CR LF */
    } else if (c >= 0x80) {
        utf8_byte(rl, c);
    } else if (c < 0x20 || c == 0x7f) {
        control(rl, c);
    } else {
        char ch = (char)c;

        insert(rl, &ch, 1);
    }
}

void vh_readline_feed(VhReadline *rl, const guint8 *buf, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        input_byte(rl, buf[i]);
    }
    flush(rl);
}

void vh_readline_show_prompt(VhReadline *rl)
{
    if (rl->echo) {
        draw_line(rl);
    } else {
        puts_(rl, rl->prompt);
    }
    flush(rl);
}

void vh_readline_reset(VhReadline *rl)
{
    clear_line(rl);
    rl->esc = ST_NORM;
    rl->utf8_need = 0;
    rl->last_cr = false;
    g_string_truncate(rl->outbuf, 0);
}

VhReadline *vh_readline_new(const char *prompt, bool echo, size_t max_len,
                            VhReadlineOutFunc out, VhReadlineLineFunc line,
                            VhReadlineCompleteFunc complete, void *opaque)
{
    VhReadline *rl = g_new0(VhReadline, 1);

    rl->prompt = g_strdup(prompt);
    rl->echo = echo;
    rl->max_len = max_len;
    rl->out = out;
    rl->line = line;
    rl->complete = complete;
    rl->opaque = opaque;
    rl->buf = g_string_new(NULL);
    rl->outbuf = g_string_new(NULL);
    rl->history = g_ptr_array_new_with_free_func(g_free);
    return rl;
}

void vh_readline_free(VhReadline *rl)
{
    if (!rl) {
        return;
    }
    g_free(rl->prompt);
    g_string_free(rl->buf, true);
    g_string_free(rl->outbuf, true);
    g_ptr_array_unref(rl->history);
    g_free(rl->scratch);
    g_free(rl);
}

const char *vh_readline_get_line(VhReadline *rl)
{
    return rl->buf->str;
}

size_t vh_readline_get_cursor(VhReadline *rl)
{
    return rl->cursor;
}

const GPtrArray *vh_readline_get_history(VhReadline *rl)
{
    return rl->history;
}
