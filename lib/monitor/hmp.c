/*
 * The human monitor: line editing and history in front of the command
 * table.
 */
#include "vmhost/monitor/hmp.h"

#include "monitor-internal.h"

#define HMP_BANNER "vmhost monitor - type 'help' for more information\n"

typedef enum {
    ESC_NONE,
    ESC_SEEN,    /* ESC */
    ESC_BRACKET, /* ESC [ */
} EscState;

struct _VhHmp {
    VhMonitorHost *host;
    VhChardev *chr;
    bool terminal;
    GString *line;
    GPtrArray *history; /* oldest first */
    guint hist_pos;     /* == history->len: the line being typed */
    EscState esc;
    bool last_cr; /* swallow the LF of a CRLF */
};

/* Write @text with every "\n" as "\r\n"; a closed chardev loses it. */
static void hmp_puts(VhHmp *hmp, const char *text)
{
    g_autoptr(GString) s = g_string_new(NULL);
    g_autoptr(GError) err = NULL;

    for (const char *p = text; *p; p++) {
        if (*p == '\n') {
            g_string_append_c(s, '\r');
        }
        g_string_append_c(s, *p);
    }
    if (s->len && vh_chardev_write(hmp->chr, s->str, s->len, &err) < 0) {
        g_debug("monitor on %s: %s", vh_chardev_get_id(hmp->chr), err->message);
    }
}

static const char *skip_blanks(const char *p)
{
    while (g_ascii_isspace(*p)) {
        p++;
    }
    return p;
}

/* The first word of @p into *@word (transfer full); returns what follows. */
static const char *take_word(const char *p, char **word)
{
    const char *start = skip_blanks(p);
    const char *end = start;

    while (*end && !g_ascii_isspace(*end)) {
        end++;
    }
    *word = g_strndup(start, end - start);
    return skip_blanks(end);
}

static char *hmp_error(const GError *err)
{
    if (g_error_matches(err, VH_QMP_ERROR, VH_QMP_ERROR_COMMAND_NOT_FOUND)) {
        return g_strdup_printf("%s\n", err->message);
    }
    return g_strdup_printf("Error: %s\n", err->message);
}

static char *run_command(VhMonitorHost *host, const VhMonitorCommand *cmd,
                         const char *rest)
{
    g_auto(GStrv) argv = NULL;
    g_autoptr(JsonObject) args = NULL;
    g_autoptr(JsonNode) ret = NULL;
    g_autoptr(GError) err = NULL;

    if (*rest && !g_shell_parse_argv(rest, NULL, &argv, &err)) {
        return g_strdup_printf("Error: %s: %s\n", cmd->hmp_name, err->message);
    }
    if (cmd->hmp_parse) {
        args = cmd->hmp_parse(rest, argv, &err);
        if (!args) {
            return hmp_error(err);
        }
    } else if (argv && argv[0]) {
        return g_strdup_printf("Error: %s takes no arguments\n", cmd->hmp_name);
    }
    ret = vh_monitor_run(host, cmd, args, &err);
    if (!ret) {
        return hmp_error(err);
    }
    return cmd->hmp_format ? cmd->hmp_format(ret) : g_strdup("");
}

char *vh_hmp_run_line(VhMonitorHost *host, const char *line)
{
    g_autofree char *word = NULL;
    g_autofree char *name = NULL;
    const char *rest = take_word(line, &word);
    const VhMonitorCommand *cmd;

    if (!*word) {
        return g_strdup("");
    }
    if (g_str_equal(word, "info")) {
        g_autofree char *sub = NULL;

        rest = take_word(rest, &sub);
        if (!*sub) {
            cmd = vh_monitor_find_hmp("help");
            return run_command(host, cmd, "info");
        }
        name = g_strdup_printf("info %s", sub);
    } else {
        name = g_steal_pointer(&word);
    }
    cmd = vh_monitor_find_hmp(name);
    if (!cmd) {
        return g_strdup_printf("unknown command: '%s'\n", name);
    }
    return run_command(host, cmd, rest);
}

static void prompt(VhHmp *hmp)
{
    hmp_puts(hmp, VH_HMP_PROMPT);
}

/* Replace the line being edited, redrawing it on a terminal. */
static void set_line(VhHmp *hmp, const char *text)
{
    g_string_assign(hmp->line, text);
    if (hmp->terminal) {
        hmp_puts(hmp, "\r\033[K" VH_HMP_PROMPT);
        hmp_puts(hmp, text);
    }
}

static void history_add(VhHmp *hmp, const char *text)
{
    if (!*text ||
        (hmp->history->len &&
         g_str_equal(g_ptr_array_index(hmp->history, hmp->history->len - 1),
                     text))) {
        return;
    }
    if (hmp->history->len == VH_HMP_HISTORY_MAX) {
        g_ptr_array_remove_index(hmp->history, 0);
    }
    g_ptr_array_add(hmp->history, g_strdup(text));
}

static void history_move(VhHmp *hmp, int dir)
{
    if (dir < 0 && hmp->hist_pos > 0) {
        hmp->hist_pos--;
    } else if (dir > 0 && hmp->hist_pos < hmp->history->len) {
        hmp->hist_pos++;
    } else {
        return;
    }
    set_line(hmp, hmp->hist_pos < hmp->history->len
                      ? g_ptr_array_index(hmp->history, hmp->hist_pos)
                      : "");
}

static void execute(VhHmp *hmp)
{
    g_autofree char *line = g_strdup(hmp->line->str);
    g_autofree char *out = NULL;
    VhChardev *prev;

    g_string_truncate(hmp->line, 0);
    if (hmp->terminal) {
        hmp_puts(hmp, "\n");
    }
    history_add(hmp, g_strstrip(line));
    hmp->hist_pos = hmp->history->len;
    prev = vh_mon_set_current_chardev(hmp->chr);
    out = vh_hmp_run_line(hmp->host, line);
    vh_mon_set_current_chardev(prev);
    hmp_puts(hmp, out);
    prompt(hmp);
}

static bool escape_byte(VhHmp *hmp, guint8 c)
{
    switch (hmp->esc) {
    case ESC_SEEN:
        hmp->esc = c == '[' || c == 'O' ? ESC_BRACKET : ESC_NONE;
        return true;
    case ESC_BRACKET:
        /* Parameters (digits, ';') continue the sequence. */
        if (g_ascii_isdigit(c) || c == ';') {
            return true;
        }
        hmp->esc = ESC_NONE;
        if (c == 'A') {
            history_move(hmp, -1);
        } else if (c == 'B') {
            history_move(hmp, 1);
        }
        return true;
    case ESC_NONE:
    default:
        if (c == 0x1b) {
            hmp->esc = ESC_SEEN;
            return true;
        }
        return false;
    }
}

static void input_byte(VhHmp *hmp, guint8 c)
{
    bool was_cr = hmp->last_cr;

    hmp->last_cr = c == '\r';
    if (escape_byte(hmp, c)) {
        return;
    }
    switch (c) {
    case '\n':
        if (!was_cr) {
            execute(hmp);
        }
        break;
    case '\r':
        execute(hmp);
        break;
    case 0x7f: /* DEL: the Backspace key of most terminals */
    case '\b':
        if (hmp->line->len) {
            g_string_truncate(hmp->line, hmp->line->len - 1);
            if (hmp->terminal) {
                hmp_puts(hmp, "\b \b");
            }
        }
        break;
    case 0x15: /* Ctrl-U */
        set_line(hmp, "");
        break;
    default:
        if (c < 0x20 || hmp->line->len >= VH_HMP_LINE_MAX) {
            break; /* other controls; over-long lines are cut */
        }
        g_string_append_c(hmp->line, c);
        if (hmp->terminal) {
            char echo[2] = {(char)c, 0};

            hmp_puts(hmp, echo);
        }
        break;
    }
}

static size_t hmp_can_read(void *opaque)
{
    return 4096;
}

static void hmp_read(void *opaque, const guint8 *buf, size_t len)
{
    VhHmp *hmp = opaque;

    for (size_t i = 0; i < len; i++) {
        input_byte(hmp, buf[i]);
    }
}

static void hmp_event(void *opaque, VhChardevEvent event)
{
    VhHmp *hmp = opaque;

    switch (event) {
    case VH_CHARDEV_EVENT_OPENED:
        g_string_truncate(hmp->line, 0);
        hmp->esc = ESC_NONE;
        hmp->last_cr = false;
        hmp_puts(hmp, HMP_BANNER);
        prompt(hmp);
        break;
    case VH_CHARDEV_EVENT_CLOSED:
    default:
        break;
    }
}

VhHmp *vh_hmp_new(VhMonitorHost *host, VhChardev *chr, bool terminal)
{
    VhHmp *hmp = g_new0(VhHmp, 1);

    hmp->host = host;
    hmp->chr = g_object_ref(chr);
    hmp->terminal = terminal;
    hmp->line = g_string_new(NULL);
    hmp->history = g_ptr_array_new_with_free_func(g_free);
    vh_chardev_set_handlers(chr, hmp_can_read, hmp_read, hmp_event, hmp, NULL);
    return hmp;
}

void vh_hmp_free(VhHmp *hmp)
{
    if (!hmp) {
        return;
    }
    vh_chardev_set_handlers(hmp->chr, NULL, NULL, NULL, NULL, NULL);
    g_object_unref(hmp->chr);
    g_string_free(hmp->line, true);
    g_ptr_array_unref(hmp->history);
    g_free(hmp);
}
