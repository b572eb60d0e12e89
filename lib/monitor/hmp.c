/*
 * The human monitor: the line editor (readline.h) in front of the
 * command table, with completion of command names and ids.
 */
#include "vmhost/monitor/hmp.h"

#include <string.h>

#include "monitor-internal.h"
#include "readline.h"
#include "vmhost/chardev/chardev-opts.h"
#include "vmhost/machine/probe.h"
#include "vmhost/object/object-create.h"
#include "vmhost/object/object.h"

#define HMP_BANNER "vmhost monitor - type 'help' for more information\n"

G_STATIC_ASSERT(VH_HMP_HISTORY_MAX == VH_READLINE_HISTORY_MAX);

struct _VhHmp {
    VhMonitorHost *host;
    VhChardev *chr;
    VhReadline *rl;
    bool terminal;
    VhHmpAsync *busy; /* a command that holds the monitor (migrate) */
    GQueue pending;   /* lines that came in meanwhile */
};

struct VhHmpAsync {
    VhHmp *hmp; /* NULL once the monitor is gone */
    bool terminal;
};

/* The monitor whose line runs now (commands run in its thread only). */
static VhHmp *current_hmp;

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

/* ---- completion ---- */

typedef enum {
    ARG_NONE,
    ARG_CHARDEV,
    ARG_OBJECT,
    ARG_FDNAME,
    ARG_PROBE,
    ARG_OBJECT_TYPE, /* the type an option string starts with */
    ARG_BACKEND,
} ArgKind;

/* What the first argument of a command names, where that is a known set. */
static const struct {
    const char *command;
    ArgKind kind;
} arg_kinds[] = {
    {"chardev-remove", ARG_CHARDEV}, {"ringbuf_write", ARG_CHARDEV},
    {"ringbuf_read", ARG_CHARDEV},   {"object_del", ARG_OBJECT},
    {"closefd", ARG_FDNAME},         {"probe_write", ARG_PROBE},
    {"probe_read", ARG_PROBE},       {"object_add", ARG_OBJECT_TYPE},
    {"chardev-add", ARG_BACKEND},
};

static void add_if_prefix(GPtrArray *out, const char *cand, const char *word)
{
    if (g_str_has_prefix(cand, word)) {
        g_ptr_array_add(out, g_strdup(cand));
    }
}

/* The first words of the HMP command names ("info" once). */
static void complete_commands(GPtrArray *out, const char *word)
{
    guint n;
    const VhMonitorCommand *cmds = vh_monitor_commands(&n);

    for (guint i = 0; i < n; i++) {
        const char *name = cmds[i].hmp_name;
        const char *blank = name ? strchr(name, ' ') : NULL;
        g_autofree char *first = NULL;

        if (!name) {
            continue;
        }
        first = blank ? g_strndup(name, blank - name) : g_strdup(name);
        add_if_prefix(out, first, word);
    }
}

/* The second words of "@group X" commands ("info status" -> "status"). */
static void complete_group(GPtrArray *out, const char *group, const char *word)
{
    g_autofree char *prefix = g_strconcat(group, " ", NULL);
    guint n;
    const VhMonitorCommand *cmds = vh_monitor_commands(&n);

    for (guint i = 0; i < n; i++) {
        const char *name = cmds[i].hmp_name;

        if (name && g_str_has_prefix(name, prefix)) {
            add_if_prefix(out, name + strlen(prefix), word);
        }
    }
}

static void complete_arg(VhHmp *hmp, GPtrArray *out, ArgKind kind,
                         const char *word)
{
    switch (kind) {
    case ARG_CHARDEV: {
        g_autoptr(GPtrArray) chrs = vh_chardev_list();

        for (guint i = 0; i < chrs->len; i++) {
            add_if_prefix(out, vh_chardev_get_id(chrs->pdata[i]), word);
        }
        break;
    }
    case ARG_OBJECT:
    case ARG_PROBE: {
        g_auto(GStrv) ids =
            kind == ARG_OBJECT ? vh_object_list_ids() : vh_probe_list_ids();

        for (guint i = 0; ids && ids[i]; i++) {
            add_if_prefix(out, ids[i], word);
        }
        break;
    }
    case ARG_FDNAME: {
        GHashTableIter it;
        gpointer key;

        if (!hmp->host->fds) {
            break;
        }
        g_hash_table_iter_init(&it, hmp->host->fds);
        while (g_hash_table_iter_next(&it, &key, NULL)) {
            add_if_prefix(out, key, word);
        }
        break;
    }
    case ARG_OBJECT_TYPE:
    case ARG_BACKEND: {
        g_auto(GStrv) names = kind == ARG_OBJECT_TYPE
                                  ? vh_object_type_list()
                                  : vh_chardev_backend_list();

        /* "tls-creds-x509," - the options follow */
        for (guint i = 0; names[i]; i++) {
            g_autofree char *cand = g_strconcat(names[i], ",", NULL);

            add_if_prefix(out, cand, word);
        }
        break;
    }
    case ARG_NONE:
    default:
        break;
    }
}

static bool is_help(const char *name)
{
    return g_str_equal(name, "help") || g_str_equal(name, "?") ||
           g_str_equal(name, "h");
}

/*
 * Tab: command names, info subcommands, help topics, and the ids the
 * first argument of some commands names (arg_kinds).
 */
static GStrv hmp_complete(void *opaque, const char *before, const char *word)
{
    VhHmp *hmp = opaque;
    g_autofree char *head = g_strndup(before, strlen(before) - strlen(word));
    g_auto(GStrv) words = g_strsplit_set(head, " \t", -1);
    g_autoptr(GPtrArray) out = g_ptr_array_new();
    g_autoptr(GPtrArray) done = g_ptr_array_new();
    guint n = 0;

    /* the complete words before the one being completed */
    for (guint i = 0; words[i]; i++) {
        if (*words[i]) {
            g_ptr_array_add(done, words[i]);
        }
    }
    n = done->len;
    if (n == 0) {
        complete_commands(out, word);
    } else if (n == 1 && g_str_equal(done->pdata[0], "info")) {
        complete_group(out, "info", word);
    } else if (n == 1 && is_help(done->pdata[0])) {
        complete_commands(out, word);
    } else if (n == 2 && is_help(done->pdata[0]) &&
               g_str_equal(done->pdata[1], "info")) {
        complete_group(out, "info", word);
    } else if (n == 1) {
        for (guint i = 0; i < G_N_ELEMENTS(arg_kinds); i++) {
            if (g_str_equal(done->pdata[0], arg_kinds[i].command)) {
                complete_arg(hmp, out, arg_kinds[i].kind, word);
            }
        }
    }
    g_ptr_array_add(out, NULL);
    return (GStrv)g_ptr_array_free(g_steal_pointer(&out), false);
}

/* ---- the editor's callbacks ---- */

static void hmp_out(void *opaque, const char *buf, size_t len)
{
    VhHmp *hmp = opaque;
    g_autoptr(GError) err = NULL;

    if (vh_chardev_write(hmp->chr, buf, len, &err) < 0) {
        g_debug("monitor on %s: %s", vh_chardev_get_id(hmp->chr), err->message);
    }
}

static void hmp_line(void *opaque, const char *line)
{
    VhHmp *hmp = opaque;
    g_autofree char *out = NULL;
    VhChardev *prev;

    if (hmp->busy) {
        g_queue_push_tail(&hmp->pending, g_strdup(line));
        return;
    }
    prev = vh_mon_set_current_chardev(hmp->chr);
    current_hmp = hmp;
    out = vh_hmp_run_line(hmp->host, line);
    current_hmp = NULL;
    vh_mon_set_current_chardev(prev);
    hmp_puts(hmp, out);
    if (!hmp->busy) {
        vh_readline_show_prompt(hmp->rl);
    }
}

VhHmpAsync *vh_hmp_async_begin(void)
{
    VhHmpAsync *a;

    if (!current_hmp || current_hmp->busy) {
        return NULL;
    }
    a = g_new0(VhHmpAsync, 1);
    a->hmp = current_hmp;
    a->terminal = current_hmp->terminal;
    current_hmp->busy = a;
    return a;
}

bool vh_hmp_async_is_terminal(VhHmpAsync *a)
{
    return a->terminal;
}

void vh_hmp_async_print(VhHmpAsync *a, const char *text)
{
    if (a->hmp) {
        hmp_puts(a->hmp, text);
    }
}

void vh_hmp_async_done(VhHmpAsync *a, const char *text)
{
    VhHmp *hmp = a->hmp;

    if (hmp) {
        hmp->busy = NULL;
        hmp_puts(hmp, text);
        vh_readline_show_prompt(hmp->rl);
        /* Lines that came in meanwhile run now, in order. */
        while (!hmp->busy && hmp->pending.length) {
            g_autofree char *line = g_queue_pop_head(&hmp->pending);

            hmp_line(hmp, line);
        }
        /* Input typed meanwhile waited in the chardev. */
        vh_chardev_accept_input(hmp->chr);
    }
    g_free(a);
}

static size_t hmp_can_read(void *opaque)
{
    VhHmp *hmp = opaque;

    return hmp->busy ? 0 : 4096;
}

static void hmp_read(void *opaque, const guint8 *buf, size_t len)
{
    VhHmp *hmp = opaque;

    vh_readline_feed(hmp->rl, buf, len);
}

static void hmp_event(void *opaque, VhChardevEvent event)
{
    VhHmp *hmp = opaque;

    switch (event) {
    case VH_CHARDEV_EVENT_OPENED:
        vh_readline_reset(hmp->rl);
        hmp_puts(hmp, HMP_BANNER);
        vh_readline_show_prompt(hmp->rl);
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
    hmp->rl = vh_readline_new(VH_HMP_PROMPT, terminal, VH_HMP_LINE_MAX, hmp_out,
                              hmp_line, hmp_complete, hmp);
    vh_chardev_set_handlers(chr, hmp_can_read, hmp_read, hmp_event, hmp, NULL);
    return hmp;
}

void vh_hmp_free(VhHmp *hmp)
{
    if (!hmp) {
        return;
    }
    if (hmp->busy) {
        hmp->busy->hmp = NULL;
    }
    g_queue_clear_full(&hmp->pending, g_free);
    /* a mux=on chardev finds the frontend to drop by its opaque */
    vh_chardev_set_handlers(hmp->chr, NULL, NULL, NULL, hmp, NULL);
    g_object_unref(hmp->chr);
    vh_readline_free(hmp->rl);
    g_free(hmp);
}
