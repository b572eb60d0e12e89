/*
 * The HMP line editor (lib/monitor/readline.c): whatever bytes a person
 * or a program types at a monitor.
 *
 * The input is fed in three chunks split at points taken from it, so
 * escape sequences and UTF-8 characters split across reads are covered.
 * Two editors see it: one echoing (a terminal) and one not. Invariants:
 * nothing crashes; both end with the same line, cursor, finished lines
 * and history (echo changes only the output); the line is valid UTF-8
 * without control characters, at most MAX_LEN bytes, the cursor on a
 * character boundary; history is bounded, without blank entries or
 * consecutive repeats. And the echo is right: the bytes written are
 * played on a model terminal (printable characters one or two columns
 * wide, BS, CR LF, ESC [ n C / D, ESC [ K, ESC [ H ESC [ 2 J), whose
 * current row after every chunk must show exactly the prompt and the
 * line, with the cursor at the editor's cursor.
 */
#include "fuzz-common.h"

#include "lib/monitor/readline.h"

#define PROMPT  "(vmhost) "
#define MAX_LEN 64

/* The model terminal's current row: one string per column ("" right of
 * a wide character), and the cursor column. */
typedef struct {
    GPtrArray *cells;
    size_t col;
    GString *esc; /* an escape sequence being read */
    bool in_esc;
} Screen;

typedef struct {
    VhReadline *rl;
    Screen scr;
    GPtrArray *lines;
} Ed;

static const char *const cands[] = {"info",
                                    "inform",
                                    "help",
                                    "h\xc3\xa9",
                                    "\xe6\xbc\xa2\xe5\xad\x97",
                                    "x y",
                                    "chardev-add",
                                    "chardev-remove",
                                    "socket,",
                                    "id=",
                                    NULL};

static void cell_set(Screen *s, size_t col, const char *text)
{
    while (s->cells->len <= col) {
        g_ptr_array_add(s->cells, g_strdup(" "));
    }
    g_free(s->cells->pdata[col]);
    s->cells->pdata[col] = g_strdup(text);
}

static void screen_clear(Screen *s)
{
    g_ptr_array_set_size(s->cells, 0);
    s->col = 0;
}

static void screen_csi(Screen *s, const char *params, char final)
{
    size_t n = *params ? strtoul(params, NULL, 10) : 1;

    switch (final) {
    case 'C':
        s->col += n;
        break;
    case 'D':
        g_assert_cmpuint(n, <=, s->col); /* never left of column 0 */
        s->col -= n;
        break;
    case 'K':
        g_assert_cmpstr(params, ==, "");
        if (s->cells->len > s->col) {
            g_ptr_array_set_size(s->cells, s->col);
        }
        break;
    case 'H':
        g_assert_cmpstr(params, ==, "");
        s->col = 0;
        break;
    case 'J':
        g_assert_cmpstr(params, ==, "2");
        screen_clear(s);
        break;
    default:
        g_error("unexpected escape sequence ESC [ %s %c", params, final);
    }
}

static void screen_put(Screen *s, const char *buf, size_t len)
{
    const char *end = buf + len;

    g_assert_true(g_utf8_validate(buf, len, NULL));
    for (const char *p = buf; p < end; p = g_utf8_next_char(p)) {
        gunichar c = g_utf8_get_char(p);

        if (s->in_esc) {
            g_string_append_unichar(s->esc, c);
            if (s->esc->len == 1) {
                g_assert_cmpint(c, ==, '[');
            } else if (c >= 0x40 && c <= 0x7e) {
                g_autofree char *params =
                    g_strndup(s->esc->str + 1, s->esc->len - 2);

                screen_csi(s, params, (char)c);
                s->in_esc = false;
            }
            continue;
        }
        if (c == 0x1b) {
            s->in_esc = true;
            g_string_truncate(s->esc, 0);
        } else if (c == '\b') {
            g_assert_cmpuint(s->col, >, 0);
            s->col--;
        } else if (c == '\r') {
            s->col = 0;
        } else if (c == '\n') {
            g_assert_cmpuint(s->col, ==, 0); /* always CR LF */
            screen_clear(s);
        } else {
            char text[8] = {0};

            g_assert_false(g_unichar_iscntrl(c));
            g_unichar_to_utf8(c, text);
            cell_set(s, s->col, text);
            if (g_unichar_iswide(c)) {
                cell_set(s, s->col + 1, "");
                s->col++;
            }
            s->col++;
        }
    }
}

/* The row as text, blanks at the end dropped. */
static char *screen_row(Screen *s)
{
    GString *row = g_string_new(NULL);

    for (guint i = 0; i < s->cells->len; i++) {
        g_string_append(row, s->cells->pdata[i]);
    }
    while (row->len && row->str[row->len - 1] == ' ') {
        g_string_truncate(row, row->len - 1);
    }
    return g_string_free(row, false);
}

static size_t columns(const char *s, size_t len)
{
    size_t n = 0;

    for (const char *p = s; p < s + len; p = g_utf8_next_char(p)) {
        n += g_unichar_iswide(g_utf8_get_char(p)) ? 2 : 1;
    }
    return n;
}

static void check_screen(Ed *e)
{
    const char *line = vh_readline_get_line(e->rl);
    size_t cursor = vh_readline_get_cursor(e->rl);
    g_autofree char *row = screen_row(&e->scr);
    g_autofree char *want = g_strconcat(PROMPT, line, NULL);

    g_strchomp(want);
    g_assert_false(e->scr.in_esc);
    g_assert_cmpstr(row, ==, want);
    g_assert_cmpuint(e->scr.col, ==,
                     columns(PROMPT, strlen(PROMPT)) + columns(line, cursor));
}

static void on_out(void *opaque, const char *buf, size_t len)
{
    Ed *e = opaque;

    screen_put(&e->scr, buf, len);
}

static void on_line(void *opaque, const char *line)
{
    Ed *e = opaque;

    g_ptr_array_add(e->lines, g_strdup(line));
    vh_readline_show_prompt(e->rl);
}

static GStrv on_complete(void *opaque, const char *before, const char *word)
{
    g_assert_true(g_str_has_suffix(before, word));
    return g_strdupv((char **)cands);
}

static void ed_init(Ed *e, bool echo)
{
    e->scr.cells = g_ptr_array_new_with_free_func(g_free);
    e->scr.esc = g_string_new(NULL);
    e->lines = g_ptr_array_new_with_free_func(g_free);
    e->rl =
        vh_readline_new(PROMPT, echo, MAX_LEN, on_out, on_line, on_complete, e);
    vh_readline_show_prompt(e->rl);
}

static void ed_clear(Ed *e)
{
    vh_readline_free(e->rl);
    g_ptr_array_unref(e->scr.cells);
    g_string_free(e->scr.esc, true);
    g_ptr_array_unref(e->lines);
}

static void check_state(VhReadline *rl)
{
    const char *line = vh_readline_get_line(rl);
    size_t cursor = vh_readline_get_cursor(rl);
    const GPtrArray *h = vh_readline_get_history(rl);

    g_assert_cmpuint(strlen(line), <=, MAX_LEN);
    g_assert_cmpuint(cursor, <=, strlen(line));
    g_assert_true(g_utf8_validate(line, -1, NULL));
    g_assert_true(cursor == 0 || cursor == strlen(line) ||
                  ((guint8)line[cursor] & 0xc0) != 0x80);
    for (const char *p = line; *p; p = g_utf8_next_char(p)) {
        g_assert_false(g_unichar_iscntrl(g_utf8_get_char(p)));
    }
    g_assert_cmpuint(h->len, <=, VH_READLINE_HISTORY_MAX);
    for (guint i = 0; i < h->len; i++) {
        g_autofree char *stripped = g_strstrip(g_strdup(h->pdata[i]));

        g_assert_cmpstr(stripped, ==, h->pdata[i]);
        g_assert_cmpstr(h->pdata[i], !=, "");
        g_assert_true(i == 0 || !g_str_equal(h->pdata[i], h->pdata[i - 1]));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t cut[4] = {0, 0, 0, size};
    Ed term = {0}, plain = {0};
    const GPtrArray *ht, *hp;

    if (size) {
        cut[1] = data[0] % size;
        cut[2] = cut[1] + (size > 1 ? data[1] % (size - cut[1] + 1) : 0);
    }
    ed_init(&term, true);
    ed_init(&plain, false);
    check_screen(&term);
    for (int i = 0; i < 3 && size; i++) {
        vh_readline_feed(term.rl, data + cut[i], cut[i + 1] - cut[i]);
        vh_readline_feed(plain.rl, data + cut[i], cut[i + 1] - cut[i]);
        check_screen(&term);
        check_state(term.rl);
    }
    /* Tab aside (it edits only on a terminal), the two agree */
    if (!size || !memchr(data, '\t', size)) {
        g_assert_cmpstr(vh_readline_get_line(term.rl), ==,
                        vh_readline_get_line(plain.rl));
        g_assert_cmpuint(vh_readline_get_cursor(term.rl), ==,
                         vh_readline_get_cursor(plain.rl));
        g_assert_cmpuint(term.lines->len, ==, plain.lines->len);
        for (guint i = 0; i < term.lines->len; i++) {
            g_assert_cmpstr(term.lines->pdata[i], ==, plain.lines->pdata[i]);
        }
        ht = vh_readline_get_history(term.rl);
        hp = vh_readline_get_history(plain.rl);
        g_assert_cmpuint(ht->len, ==, hp->len);
    }
    ed_clear(&term);
    ed_clear(&plain);
    return 0;
}
