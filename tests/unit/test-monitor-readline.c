/*
 * The HMP line editor (lib/monitor/readline.c) as a state machine: feed
 * bytes, check the line, the cursor, the finished lines and the exact
 * bytes echoed.
 */
#include <string.h>

#include "lib/monitor/readline.h"

#define PROMPT "> "

typedef struct {
    VhReadline *rl;
    GString *out;             /* echoed since the last take_out */
    GPtrArray *lines;         /* finished lines */
    const char *const *cands; /* what completion offers */
    guint completions;        /* complete() calls */
    char *before, *word;      /* the last complete() arguments */
    bool prompt_on_line;      /* show the prompt again after each line */
} T;

static void on_out(void *opaque, const char *buf, size_t len)
{
    g_string_append_len(((T *)opaque)->out, buf, len);
}

static void on_line(void *opaque, const char *line)
{
    T *t = opaque;

    g_ptr_array_add(t->lines, g_strdup(line));
    if (t->prompt_on_line) {
        vh_readline_show_prompt(t->rl);
    }
}

static GStrv on_complete(void *opaque, const char *before, const char *word)
{
    T *t = opaque;

    t->completions++;
    g_free(t->before);
    g_free(t->word);
    t->before = g_strdup(before);
    t->word = g_strdup(word);
    return t->cands ? g_strdupv((char **)t->cands) : NULL;
}

static T *t_new_full(bool echo, size_t max_len)
{
    T *t = g_new0(T, 1);

    t->out = g_string_new(NULL);
    t->lines = g_ptr_array_new_with_free_func(g_free);
    t->rl =
        vh_readline_new(PROMPT, echo, max_len, on_out, on_line, on_complete, t);
    return t;
}

static T *t_new(bool echo)
{
    return t_new_full(echo, 4096);
}

static void t_free(T *t)
{
    vh_readline_free(t->rl);
    g_string_free(t->out, true);
    g_ptr_array_unref(t->lines);
    g_free(t->before);
    g_free(t->word);
    g_free(t);
}

static void feed(T *t, const char *bytes)
{
    vh_readline_feed(t->rl, (const guint8 *)bytes, strlen(bytes));
}

/* Feed, then check what was echoed (and forget it). */
static void feed_echo(T *t, const char *bytes, const char *echo)
{
    g_string_truncate(t->out, 0);
    feed(t, bytes);
    g_assert_cmpstr(t->out->str, ==, echo);
    g_string_truncate(t->out, 0);
}

static void check(T *t, const char *line, size_t cursor)
{
    g_assert_cmpstr(vh_readline_get_line(t->rl), ==, line);
    g_assert_cmpuint(vh_readline_get_cursor(t->rl), ==, cursor);
}

static void check_lines(T *t, const char *const *want)
{
    guint n = g_strv_length((char **)want);

    g_assert_cmpuint(t->lines->len, ==, n);
    for (guint i = 0; i < n; i++) {
        g_assert_cmpstr(t->lines->pdata[i], ==, want[i]);
    }
}

static void test_insert(void)
{
    T *t = t_new(true);

    vh_readline_show_prompt(t->rl);
    g_assert_cmpstr(t->out->str, ==, PROMPT);
    feed_echo(t, "abc", "abc");
    check(t, "abc", 3);
    /* Left twice, then insert: the tail is redrawn, cursor put back */
    feed_echo(t, "\033[D\033[D", "\b\b");
    check(t, "abc", 1);
    feed_echo(t, "X", "Xbc\b\b");
    check(t, "aXbc", 2);
    feed_echo(t, "\r", "\r\n");
    check(t, "", 0);
    check_lines(t, (const char *[]){"aXbc", NULL});
    t_free(t);
}

static void test_left_right(void)
{
    T *t = t_new(true);

    feed(t, "abcd");
    feed_echo(t, "\033[D", "\b");
    feed_echo(t, "\033OD", "\b");
    feed_echo(t, "\x02", "\b"); /* Ctrl-B */
    check(t, "abcd", 1);
    /* Right reprints the character it passes over */
    feed_echo(t, "\033[C", "b");
    feed_echo(t, "\033OC", "c");
    feed_echo(t, "\x06", "d"); /* Ctrl-F */
    check(t, "abcd", 4);
    /* at the ends nothing moves and nothing is written */
    feed_echo(t, "\033[C\x06", "");
    feed_echo(t, "\x01", "\b\b\b\b");
    feed_echo(t, "\033[D\x02", "");
    check(t, "abcd", 0);
    t_free(t);
}

static void test_home_end(void)
{
    static const char *const home[] = {"\033[H", "\033[1~", "\033[7~", "\033OH",
                                       "\x01"};
    static const char *const end[] = {"\033[F", "\033[4~", "\033[8~", "\033OF",
                                      "\x05"};
    T *t = t_new(true);

    feed(t, "info status");
    for (guint i = 0; i < G_N_ELEMENTS(home); i++) {
        /* far moves are ESC [ n D / C, short ones BS or the text */
        feed_echo(t, home[i], "\033[11D");
        check(t, "info status", 0);
        feed_echo(t, end[i], "\033[11C");
        check(t, "info status", 11);
        feed_echo(t, end[i], "");
    }
    feed_echo(t, "\033[H\033[C\033[C", "\033[11Din");
    feed_echo(t, "\033[F", "\033[9C");
    feed_echo(t, "\033[D\033[D\033[D\033[D\033[H", "\b\b\b\b\033[7D");
    feed_echo(t, "\033[F", "\033[11C");
    /* moving right over four bytes or fewer reprints them */
    feed_echo(t, "\033[D\033[D\033[D\033[D\033[F", "\b\b\b\batus");
    t_free(t);
}

static void test_backspace_delete(void)
{
    T *t = t_new(true);

    feed(t, "abcd");
    feed_echo(t, "\x7f", "\b \b");
    check(t, "abc", 3);
    feed_echo(t, "\b", "\b \b"); /* Ctrl-H */
    check(t, "ab", 2);
    feed(t, "cd\033[D\033[D");
    /* in the middle: back, reprint the tail, blank the last column */
    feed_echo(t, "\x7f", "\bcd \b\b\b");
    check(t, "acd", 1);
    /* Delete at the cursor: ESC [ 3 ~ and Ctrl-D */
    feed_echo(t, "\033[3~", "d \b\b");
    check(t, "ad", 1);
    feed_echo(t, "\x04", " \b");
    check(t, "a", 1);
    /* nothing to delete: nothing written */
    feed_echo(t, "\x04\033[3~", "");
    feed(t, "\x01");
    feed_echo(t, "\x7f\b", "");
    check(t, "a", 0);
    t_free(t);
}

static void test_kill(void)
{
    T *t = t_new(true);

    feed(t, "ringbuf_write rb0 hello");
    feed(t, "\033[H\033[C\033[C\033[C\033[C");
    check(t, "ringbuf_write rb0 hello", 4);
    /* Ctrl-K: the rest erased with ESC [ K */
    feed_echo(t, "\x0b", "\033[K");
    check(t, "ring", 4);
    feed_echo(t, "\x0b", "");
    feed(t, "buf_write rb0 hello\033[D\033[D");
    /* Ctrl-U: from the start to the cursor */
    feed_echo(t, "\x15", "\033[21Dlo\033[K\b\b");
    check(t, "lo", 0);
    feed_echo(t, "\x15", "");
    /* Ctrl-W: blanks, then the word before the cursor */
    feed(t, "\x0b"
            "closefd  fd0  ");
    feed_echo(t, "\x17", "\033[5D\033[K");
    check(t, "closefd  ", 9);
    feed_echo(t, "\x17", "\033[9D\033[K");
    check(t, "", 0);
    feed_echo(t, "\x17", "");
    /* Alt-Backspace too, and it keeps the text after the cursor */
    feed(t, "a bc d\033[D\033[D");
    feed_echo(t, "\033\x7f", "\b\b d  \b\b\b\b");
    check(t, "a  d", 2);
    t_free(t);
}

static void test_words(void)
{
    T *t = t_new(true);

    feed(t, "one two  three");
    feed_echo(t, "\033b", "\033[5D");
    check(t, "one two  three", 9);
    feed_echo(t, "\033[1;5D", "\033[5D");
    check(t, "one two  three", 4);
    feed_echo(t, "\033[1;3D", "\b\b\b\b");
    check(t, "one two  three", 0);
    feed_echo(t, "\033f", "one");
    feed_echo(t, "\033[1;5C", " two");
    check(t, "one two  three", 7);
    feed_echo(t, "\033[1;5C", "\033[7C");
    feed_echo(t, "\033f", "");
    check(t, "one two  three", 14);
    t_free(t);
}

static void test_history(void)
{
    T *t = t_new(true);
    const GPtrArray *h = vh_readline_get_history(t->rl);

    feed(t, "first\r  second  \r\r   \rsecond\rthird\n");
    /* blank lines and a repeat of the newest are not kept; stripped */
    g_assert_cmpuint(h->len, ==, 3);
    g_assert_cmpstr(h->pdata[0], ==, "first");
    g_assert_cmpstr(h->pdata[1], ==, "second");
    g_assert_cmpstr(h->pdata[2], ==, "third");
    /* the line being typed comes back after Down past the newest */
    feed(t, "wor");
    feed_echo(t, "\033[A", "\b\b\bthird");
    check(t, "third", 5);
    feed_echo(t, "\033OA", "\033[5Dsecond");
    feed_echo(t, "\x10", "\033[6Dfirst \b"); /* Ctrl-P */
    check(t, "first", 5);
    feed_echo(t, "\033[A", ""); /* oldest: stays */
    feed_echo(t, "\033[B", "\033[5Dsecond");
    feed_echo(t, "\x0e", "\033[6Dthird \b"); /* Ctrl-N */
    feed_echo(t, "\033OB", "\033[5Dwor  \b\b");
    check(t, "wor", 3);
    feed_echo(t, "\033[B", ""); /* newest: stays */
    /* an edited recall runs as edited, history unchanged but for it */
    feed(t, "\x15\033[A\x7f\x7f"
            "ee\r");
    g_assert_cmpstr(t->lines->pdata[t->lines->len - 1], ==, "thiee");
    g_assert_cmpuint(h->len, ==, 4);
    g_assert_cmpstr(h->pdata[2], ==, "third");
    t_free(t);
}

static void test_history_bound(void)
{
    T *t = t_new(false);
    const GPtrArray *h = vh_readline_get_history(t->rl);

    for (int i = 0; i < VH_READLINE_HISTORY_MAX + 6; i++) {
        g_autofree char *line = g_strdup_printf("cmd%d\r", i);

        feed(t, line);
    }
    g_assert_cmpuint(h->len, ==, VH_READLINE_HISTORY_MAX);
    g_assert_cmpstr(h->pdata[0], ==, "cmd6");
    g_assert_cmpstr(h->pdata[VH_READLINE_HISTORY_MAX - 1], ==, "cmd69");
    /* Up as many times as there are entries, and more, reaches cmd6 */
    for (int i = 0; i < VH_READLINE_HISTORY_MAX + 3; i++) {
        feed(t, "\033[A");
    }
    check(t, "cmd6", 4);
    g_assert_cmpuint(t->out->len, ==, 0); /* no echo without a terminal */
    t_free(t);
}

static void test_enter(void)
{
    T *t = t_new(false);

    /* CR, LF and CR LF end a line; LF CR is two */
    feed(t, "a\rb\nc\r\nd\n\re\r");
    feed(t, "\nf\r");
    check_lines(t, (const char *[]){"a", "b", "c", "d", "", "e", "f", NULL});
    t_free(t);
}

static void test_ctrl_c_l(void)
{
    T *t = t_new(true);

    feed(t, "abc\033[D");
    feed_echo(t, "\x03", "^C\r\n" PROMPT);
    check(t, "", 0);
    g_assert_cmpuint(t->lines->len, ==, 0);
    feed(t, "xyz\033[D\033[D");
    feed_echo(t, "\x0c", "\033[H\033[2J" PROMPT "xyz\b\b");
    check(t, "xyz", 1);
    t_free(t);

    /* without a terminal: discarded silently, Ctrl-L does nothing */
    t = t_new(false);
    feed(t, "abc\x03"
            "de\x0c\r");
    check_lines(t, (const char *[]){"de", NULL});
    g_assert_cmpuint(t->out->len, ==, 0);
    t_free(t);
}

static void test_escapes_swallowed(void)
{
    static const char *const seqs[] = {
        "\033[2~",   "\033[5~",
        "\033[6~",   "\033[15~",
        "\033[1;2P", "\033OP",
        "\033[200~", "\033[?25h",
        "\033[ q",   "\033x",
        "\033[Z",    "\033[1;5A",
        "\033O1",    "\033[99999999999999999999~",
    };
    T *t = t_new(true);

    feed(t, "ab");
    for (guint i = 0; i < G_N_ELEMENTS(seqs); i++) {
        if (g_str_equal(seqs[i], "\033[1;5A")) {
            continue; /* that one is Up, with nothing to recall */
        }
        feed_echo(t, seqs[i], "");
        check(t, "ab", 2);
    }
    /* split over several reads */
    feed_echo(t, "\033", "");
    feed_echo(t, "[", "");
    feed_echo(t, "3", "");
    feed_echo(t, "~", "");
    check(t, "ab", 2);
    /* an escape cut short by a control byte: the byte still counts */
    feed_echo(t, "\033[1\r", "\r\n");
    check_lines(t, (const char *[]){"ab", NULL});
    feed(t, "cd\033\033[D");
    check(t, "cd", 1);
    /* a byte >= 0x80 inside a sequence ends it and is dropped */
    feed(t, "\033[\xc3\xa9");
    check(t, "cd", 1);
    t_free(t);
}

static void test_controls_ignored(void)
{
    static const guint8 ctl[] = {0x00, 0x07, 0x0f, 0x11, 0x12, 0x13, 0x14, 0x16,
                                 0x18, 0x19, 0x1a, 0x1c, 0x1d, 0x1e, 0x1f};
    T *t = t_new(true);

    feed(t, "a");
    g_string_truncate(t->out, 0);
    vh_readline_feed(t->rl, ctl, sizeof(ctl));
    g_assert_cmpuint(t->out->len, ==, 0);
    check(t, "a", 1);
    t_free(t);
}

static const char *const cmds[] = {"info",           "help", "chardev-add",
                                   "chardev-remove", "cont", NULL};

static void test_complete_none_one(void)
{
    T *t = t_new(true);

    t->cands = cmds;
    feed(t, "x");
    feed_echo(t, "\t", "");
    g_assert_cmpuint(t->completions, ==, 1);
    g_assert_cmpstr(t->word, ==, "x");
    check(t, "x", 1);
    /* candidates not starting with the word are ignored */
    feed(t, "\x15"
            "in");
    feed_echo(t, "\t", "fo ");
    check(t, "info ", 5);
    g_assert_cmpstr(t->before, ==, "in");
    g_assert_cmpstr(t->word, ==, "in");
    /* a second word: before has the whole line up to the cursor */
    t->cands = (const char *const[]){"status", "version", NULL};
    feed(t, "v");
    feed_echo(t, "\t", "ersion ");
    g_assert_cmpstr(t->before, ==, "info v");
    g_assert_cmpstr(t->word, ==, "v");
    /* the word is what is before the cursor; the tail moves along */
    t->cands = (const char *const[]){"chardev-remove", NULL};
    feed(t, "\x15"
            "ch rb0\033[D\033[D\033[D\033[D");
    feed_echo(t, "\t", "ardev-remove  rb0\b\b\b\b");
    check(t, "chardev-remove  rb0", 15);
    /* a complete word gets its blank */
    t->cands = (const char *const[]){"cont", NULL};
    feed(t, "\x15\x0b"
            "cont");
    feed_echo(t, "\t", " ");
    check(t, "cont ", 5);
    /* a word ending in ',' or '=' wants more: no blank after it */
    t->cands = (const char *const[]){"socket,", NULL};
    feed(t, "\x15sock");
    feed_echo(t, "\t", "et,");
    t->cands = (const char *const[]){"socket,id=", NULL};
    feed_echo(t, "\t", "id=");
    check(t, "socket,id=", 10);
    feed(t, "\x15"
            "cont ");
    /* NULL from the completer: nothing */
    t->cands = NULL;
    feed_echo(t, "\t", "");
    check(t, "cont ", 5);
    t_free(t);
}

static void test_complete_many(void)
{
    T *t = t_new(true);

    t->cands = (const char *const[]){"chardev-remove", "chardev-add",
                                     "chardev-add", "cont", NULL};
    feed(t, "c");
    /* cont and chardev-*: no common prefix beyond "c"; sorted, once */
    feed_echo(t, "\t",
              "\r\nchardev-add     chardev-remove  cont\r\n" PROMPT "c");
    check(t, "c", 1);
    feed(t, "h");
    /* the common prefix is inserted, then the list */
    feed_echo(t, "\t",
              "ardev-\r\nchardev-add     chardev-remove\r\n" PROMPT "chardev-");
    check(t, "chardev-", 8);
    /* the cursor is put back where it was in the redrawn line */
    t->cands = (const char *const[]){"status", "stop", NULL};
    feed(t, "\x15"
            "info s x\033[D\033[D");
    feed_echo(t, "\t", "t x\b\b\r\nstatus    stop\r\n" PROMPT "info st x\b\b");
    check(t, "info st x", 7);
    g_assert_cmpstr(t->before, ==, "info s");
    t_free(t);
}

static void test_complete_columns(void)
{
    T *t = t_new(true);
    g_autoptr(GPtrArray) c = g_ptr_array_new_with_free_func(g_free);
    const char *list;

    for (int i = 0; i < 9; i++) {
        g_ptr_array_add(c, g_strdup_printf("id%d", i));
    }
    g_ptr_array_add(c, NULL);
    t->cands = (const char *const *)c->pdata;
    feed(t, "x ");
    g_string_truncate(t->out, 0);
    feed(t, "\t");
    /* ten columns wide at least, eight per 80-column row */
    list = "id\r\n"
           "id0       id1       id2       id3       id4       id5       "
           "id6       id7\r\n"
           "id8\r\n" PROMPT "x id";
    g_assert_cmpstr(t->out->str, ==, list);
    t_free(t);
}

static void test_complete_needs_terminal(void)
{
    T *t = t_new(false);

    t->cands = cmds;
    feed(t, "in\t\r");
    g_assert_cmpuint(t->completions, ==, 0);
    check_lines(t, (const char *[]){"in", NULL});
    g_assert_cmpuint(t->out->len, ==, 0);
    t_free(t);
}

static void test_utf8(void)
{
    T *t = t_new(true);

    /* é is two bytes, one column; 漢 three bytes, two columns */
    feed_echo(t,
              "a\xc3\xa9"
              "b",
              "a\xc3\xa9"
              "b");
    check(t,
          "a\xc3\xa9"
          "b",
          4);
    feed_echo(t, "\033[D\033[D", "\b\b");
    check(t,
          "a\xc3\xa9"
          "b",
          1);
    feed_echo(t, "\033[C", "\xc3\xa9");
    check(t,
          "a\xc3\xa9"
          "b",
          3);
    feed_echo(t, "\x7f", "\bb \b\b");
    check(t, "ab", 1);
    feed_echo(t, "\xe6\xbc\xa2",
              "\xe6\xbc\xa2"
              "b\b");
    check(t,
          "a\xe6\xbc\xa2"
          "b",
          4);
    feed_echo(t, "\033[D", "\b\b");
    check(t,
          "a\xe6\xbc\xa2"
          "b",
          1);
    feed_echo(t, "\033[3~", "b  \b\b\b");
    check(t, "ab", 1);
    /* a character split over two reads is still one */
    feed(t, "\xf0\x9f");
    check(t, "ab", 1);
    feed_echo(t, "\x98\x80",
              "\xf0\x9f\x98\x80"
              "b\b");
    check(t,
          "a\xf0\x9f\x98\x80"
          "b",
          5);
    feed(t, "\x15\x0b");
    /* invalid: stray continuation, bad leads, overlong, surrogate,
     * beyond U+10FFFF, a C1 control (U+0085), a truncated sequence */
    feed_echo(t,
              "\x80\xbf\xc0\xc1\xf5\xff\xe0\x80\x80\xed\xa0\x80\xf4\x90\x80"
              "\x80\xc2\x85\xc3"
              "A\xe6\xbc"
              "B",
              "AB");
    check(t, "AB", 2);
    /* zero-width characters (U+0301 combining acute, U+200B) are dropped */
    feed_echo(t, "e\xcc\x81\xe2\x80\x8b", "e");
    check(t, "ABe", 3);
    /* and so are candidates holding them, or controls, or bad UTF-8 */
    t->cands = (const char *const[]){"ABex\xcc\x81", "ABe\x01", "ABe\xff",
                                     "ABey", NULL};
    feed_echo(t, "\t", "y ");
    t_free(t);
}

static void test_max_len(void)
{
    T *t = t_new_full(true, 6);

    feed_echo(t, "abcdefgh", "abcdef");
    check(t, "abcdef", 6);
    feed(t, "\x7f\x7f");
    /* a character that does not fit whole is dropped whole */
    feed_echo(t, "\xe6\xbc\xa2", "");
    feed_echo(t, "\xc3\xa9", "\xc3\xa9");
    check(t, "abcd\xc3\xa9", 6);
    /* completion that does not fit inserts nothing */
    t->cands = (const char *const[]){"abcd\xc3\xa9xyz", NULL};
    feed_echo(t, "\t", "");
    feed(t, "\r");
    check_lines(t, (const char *[]){"abcd\xc3\xa9", NULL});
    t_free(t);
}

static void test_no_echo_editing(void)
{
    T *t = t_new(false);

    vh_readline_show_prompt(t->rl);
    g_assert_cmpstr(t->out->str, ==, PROMPT);
    g_string_truncate(t->out, 0);
    feed(t, "info statx\x7fus\033[H\033[3~I\033[F\r");
    feed(t, "version\x01info \r");
    check_lines(t, (const char *[]){"Info status", "info version", NULL});
    g_assert_cmpuint(t->out->len, ==, 0);
    t_free(t);
}

static void test_show_prompt_reset(void)
{
    T *t = t_new(true);

    t->prompt_on_line = true;
    feed_echo(t, "stop\r", "stop\r\n" PROMPT);
    feed(t, "abc\033[D");
    g_string_truncate(t->out, 0);
    vh_readline_show_prompt(t->rl);
    g_assert_cmpstr(t->out->str, ==, PROMPT "abc\b");
    /* reset forgets the line and a half-read sequence */
    feed(t, "\033[");
    vh_readline_reset(t->rl);
    feed(t, "D");
    check(t, "D", 1);
    t_free(t);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/monitor/readline/insert", test_insert);
    g_test_add_func("/monitor/readline/left-right", test_left_right);
    g_test_add_func("/monitor/readline/home-end", test_home_end);
    g_test_add_func("/monitor/readline/backspace-delete",
                    test_backspace_delete);
    g_test_add_func("/monitor/readline/kill", test_kill);
    g_test_add_func("/monitor/readline/words", test_words);
    g_test_add_func("/monitor/readline/history", test_history);
    g_test_add_func("/monitor/readline/history-bound", test_history_bound);
    g_test_add_func("/monitor/readline/enter", test_enter);
    g_test_add_func("/monitor/readline/ctrl-c-l", test_ctrl_c_l);
    g_test_add_func("/monitor/readline/escapes-swallowed",
                    test_escapes_swallowed);
    g_test_add_func("/monitor/readline/controls-ignored",
                    test_controls_ignored);
    g_test_add_func("/monitor/readline/complete-none-one",
                    test_complete_none_one);
    g_test_add_func("/monitor/readline/complete-many", test_complete_many);
    g_test_add_func("/monitor/readline/complete-columns",
                    test_complete_columns);
    g_test_add_func("/monitor/readline/complete-needs-terminal",
                    test_complete_needs_terminal);
    g_test_add_func("/monitor/readline/utf8", test_utf8);
    g_test_add_func("/monitor/readline/max-len", test_max_len);
    g_test_add_func("/monitor/readline/no-echo-editing", test_no_echo_editing);
    g_test_add_func("/monitor/readline/show-prompt-reset",
                    test_show_prompt_reset);
    return g_test_run();
}
