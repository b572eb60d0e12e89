#include "vmhost/crypto/tls-priority.h"

#include "vmhost-config.h"
#include "vmhost/util/file.h"

#include <gio/gio.h>
#include <string.h>

/* What the text of an allowlist-mode SYSTEM entry is reported as. */
#define ALLOWLIST_SYSTEM "(built from the [overrides] allowlist)"

const char *vh_tls_priority_source_name(VhTlsPrioritySource source)
{
    switch (source) {
    case VH_TLS_PRIORITY_SOURCE_OBJECT:
        return "object";
    case VH_TLS_PRIORITY_SOURCE_CONFIG:
        return "config";
    case VH_TLS_PRIORITY_SOURCE_DEFAULT:
        return "default";
    default:
        return "unknown";
    }
}

const char *vh_tls_priority_resolution_name(VhTlsPriorityResolution resolution)
{
    switch (resolution) {
    case VH_TLS_PRIORITY_LITERAL:
        return "literal";
    case VH_TLS_PRIORITY_KEYWORD:
        return "keyword";
    case VH_TLS_PRIORITY_BASELINE:
        return "baseline";
    default:
        return "unknown";
    }
}

const char *vh_tls_priority_system_file(void)
{
    const char *file = gnutls_get_system_config_file();

    return file ? file : "(none)";
}

/* The element GnuTLS stopped at: up to the next ':', without its +/-/!. */
static char *bad_token(const char *err_pos)
{
    const char *end;

    if (!err_pos) {
        return g_strdup("");
    }
    while (*err_pos == '+' || *err_pos == '-' || *err_pos == '!') {
        err_pos++;
    }
    end = strchr(err_pos, ':');
    return end ? g_strndup(err_pos, end - err_pos) : g_strdup(err_pos);
}

/* GnuTLS's reason for @rc, without the final '.', plus " at 'TOKEN'". */
static char *why_failed(int rc, const char *err_pos)
{
    g_autofree char *why = g_strdup(gnutls_strerror(rc));
    size_t len = strlen(why);

    /* "The request is invalid." reads badly before " at ...". */
    if (len && why[len - 1] == '.') {
        why[len - 1] = '\0';
    }
    if (!err_pos) {
        return g_steal_pointer(&why);
    }
    g_autofree char *token = bad_token(err_pos);
    return g_strdup_printf("%s at '%s'", why, token);
}

/*
 * gnutls_priority_init() of @priority; on failure the reason, naming the
 * token GnuTLS stopped at unless @priority is an '@' string (GnuTLS then
 * points at its start, which says nothing).
 */
static bool try_compile(const char *priority, gnutls_priority_t *out,
                        char **reason)
{
    const char *err_pos = NULL;
    int rc = gnutls_priority_init(out, priority, &err_pos);

    if (rc < 0) {
        *out = NULL;
        *reason = why_failed(rc, priority[0] == '@' ? NULL : err_pos);
        return false;
    }
    return true;
}

bool vh_tls_priority_compile(const char *priority, gnutls_priority_t *out,
                             GError **errp)
{
    g_autofree char *reason = NULL;

    if (!try_compile(priority, out, &reason)) {
        g_set_error(errp, VH_ERROR, VH_ERROR_CONFIG,
                    "Failed to set TLS session priority to %s: %s", priority,
                    reason);
        return false;
    }
    return true;
}

/*
 * The system priority file as GnuTLS reads it: KEY=VALUE lines outside any
 * section or in [priorities] (first wins), and [global] override-mode.
 */
typedef struct {
    GHashTable *entries; /* keyword -> value */
    bool allowlist;
} SystemFile;

static void system_file_clear(SystemFile *sf)
{
    if (sf->entries) {
        g_hash_table_unref(sf->entries);
    }
    memset(sf, 0, sizeof(*sf));
}

static void system_file_value(SystemFile *sf, const char *section,
                              const char *key, const char *value)
{
    if (!section || strcmp(section, "priorities") == 0) {
        if (!g_hash_table_contains(sf->entries, key)) {
            g_hash_table_insert(sf->entries, g_strdup(key), g_strdup(value));
        }
    } else if (strcmp(section, "global") == 0 &&
               g_ascii_strcasecmp(key, "override-mode") == 0) {
        sf->allowlist = g_ascii_strcasecmp(value, "allowlist") == 0;
    }
}

/* Cut an inline "; comment" (a ';' after a space, as inih has it). */
static char *strip_inline_comment(char *text)
{
    for (char *p = text; *p; p++) {
        if (*p == ';' && p > text && g_ascii_isspace(p[-1])) {
            *p = '\0';
            break;
        }
    }
    return g_strstrip(text);
}

/*
 * Parse @file the way GnuTLS's INI reader (inih) does; false with *@reason
 * when it cannot be read. Note inih's continuation lines: an indented line
 * after "KEY=..." is another value for KEY (so ignored: the first wins),
 * not a new entry.
 */
static bool system_file_read(const char *file, SystemFile *sf, char **reason)
{
    g_autofree char *text = NULL;
    g_autoptr(GError) err = NULL;
    g_auto(GStrv) lines = NULL;
    g_autofree char *section = NULL;
    g_autofree char *prev_key = NULL;

    memset(sf, 0, sizeof(*sf));
    if (!vh_file_read_regular(file, VH_FILE_MAX_TEXT, VH_FILE_READ_TEXT, &text,
                              NULL, &err)) {
        *reason = g_error_matches(err, G_IO_ERROR, G_IO_ERROR_NOT_FOUND)
                      ? g_strdup("no such file")
                      : g_strdup_printf("cannot read it: %s", err->message);
        return false;
    }
    sf->entries =
        g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    lines = g_strsplit(text, "\n", -1);
    for (guint i = 0; lines[i]; i++) {
        bool indented = lines[i][0] == ' ' || lines[i][0] == '\t';
        char *line = g_strstrip(lines[i]);
        size_t len = strlen(line);
        char *sep;

        if (!len || line[0] == '#' || line[0] == ';') {
            continue;
        }
        if (prev_key && indented) {
            system_file_value(sf, section, prev_key,
                              strip_inline_comment(line));
            continue;
        }
        if (line[0] == '[') {
            g_free(section);
            section =
                g_strndup(line + 1, line[len - 1] == ']' ? len - 2 : len - 1);
            g_clear_pointer(&prev_key, g_free);
            continue;
        }
        sep = strpbrk(line, "=:");
        if (!sep) {
            continue;
        }
        *sep = '\0';
        g_free(prev_key);
        prev_key = g_strdup(g_strstrip(line));
        system_file_value(sf, section, prev_key, strip_inline_comment(sep + 1));
    }
    return true;
}

static char *system_file_lookup(const SystemFile *sf, const char *keyword)
{
    const char *value = g_hash_table_lookup(sf->entries, keyword);

    if (sf->allowlist && strcmp(keyword, "SYSTEM") == 0) {
        return g_strdup(ALLOWLIST_SYSTEM);
    }
    return g_strdup(value);
}

char *vh_tls_priority_lookup_keyword(const char *file, const char *keyword,
                                     char **reason)
{
    SystemFile sf;
    char *value;

    if (!system_file_read(file, &sf, reason)) {
        return NULL;
    }
    value = system_file_lookup(&sf, keyword);
    if (!value) {
        *reason = g_strdup_printf("no entry %s", keyword);
    }
    system_file_clear(&sf);
    return value;
}

/* The requested string, and which level it came from. */
static const char *pick(const VhTlsPriorityInputs *in, const VhHostConf *conf,
                        VhTlsPrioritySource *source)
{
    if (in->object_priority && in->object_priority[0]) {
        *source = VH_TLS_PRIORITY_SOURCE_OBJECT;
        return in->object_priority;
    }
    if (conf->tls_priority && conf->tls_priority[0]) {
        *source = VH_TLS_PRIORITY_SOURCE_CONFIG;
        return conf->tls_priority;
    }
    *source = VH_TLS_PRIORITY_SOURCE_DEFAULT;
    return in->build_default ? in->build_default : VMHOST_TLS_PRIORITY_DEFAULT;
}

/*
 * "@KW1,KW2:extra": find the first keyword the file has. Fills
 * out->keyword / keyword_value, or out->baseline_reason when none exists.
 */
static void lookup_keywords(const char *requested, VhTlsPriority *out)
{
    const char *colon = strchr(requested, ':');
    g_autofree char *list =
        colon ? g_strndup(requested + 1, colon - requested - 1)
              : g_strdup(requested + 1);
    g_auto(GStrv) keywords = g_strsplit(list, ",", -1);
    g_autofree char *joined = g_strjoinv(", ", keywords);
    g_autofree char *reason = NULL;
    SystemFile sf;

    if (!system_file_read(out->system_file, &sf, &reason)) {
        out->baseline_reason = g_strdup_printf(
            "%s: %s (looked for %s)", out->system_file, reason, joined);
        return;
    }
    for (guint i = 0; keywords[i]; i++) {
        char *value = system_file_lookup(&sf, keywords[i]);

        if (value) {
            out->keyword = g_strdup(keywords[i]);
            out->keyword_value = value;
            break;
        }
    }
    if (!out->keyword) {
        g_autofree char *alternatives = g_strjoinv(" or ", keywords);

        out->baseline_reason = g_strdup_printf("%s has no entry %s",
                                               out->system_file, alternatives);
    }
    system_file_clear(&sf);
}

/* Why "@..." failed when the file has @prio->keyword: compile its text. */
static char *keyword_failure(const VhTlsPriority *prio, const char *extra,
                             const char *suffix, const char *gnutls_reason)
{
    g_autofree char *resolved = NULL;
    g_autofree char *reason = NULL;
    gnutls_priority_t tmp = NULL;

    if (!prio->keyword_value ||
        strcmp(prio->keyword_value, ALLOWLIST_SYSTEM) == 0) {
        return g_strdup_printf(
            "%s in %s is %s: %s", prio->keyword, prio->system_file,
            prio->keyword_value ? prio->keyword_value : "(unknown)",
            gnutls_reason);
    }
    resolved = g_strconcat(prio->keyword_value, extra, NULL);
    if (prio->keyword_value[0] == '@') {
        return g_strdup_printf("%s in %s resolved to %s: an entry cannot "
                               "refer to another keyword",
                               prio->keyword, prio->system_file, resolved);
    }
    {
        g_autofree char *full = g_strconcat(resolved, suffix, NULL);

        if (try_compile(full, &tmp, &reason)) {
            gnutls_priority_deinit(tmp);
            reason = g_strdup(gnutls_reason);
        }
    }
    return g_strdup_printf("%s in %s resolved to %s: %s", prio->keyword,
                           prio->system_file, resolved, reason);
}

/*
 * One warning per process for each requested string that falls back to the
 * baseline, however many credentials objects ask for it.
 */
static void warn_baseline(const VhTlsPriority *prio)
{
    static GMutex lock;
    static GHashTable *warned;
    bool first;

    g_mutex_lock(&lock);
    if (!warned) {
        warned = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    }
    first = g_hash_table_add(warned, g_strdup(prio->requested));
    g_mutex_unlock(&lock);
    if (first) {
        g_warning("TLS priority %s: %s; using vmhost's baseline %s instead "
                  "(set tls_priority_strict = 1 in vmhost.conf to refuse)",
                  prio->requested, prio->baseline_reason,
                  VH_TLS_PRIORITY_BASELINE_STRING);
    }
}

/* Resolve an '@' string into @out; on success out->string is set. */
static bool resolve_at(const VhTlsPriorityInputs *in, const VhHostConf *conf,
                       VhTlsPriority *out, GError **errp)
{
    const char *suffix = in->suffix ? in->suffix : "";
    const char *colon = strchr(out->requested, ':');
    const char *extra = colon ? colon : "";
    g_autofree char *full = g_strconcat(out->requested, suffix, NULL);
    g_autofree char *reason = NULL;

    out->system_file = g_strdup(vh_tls_priority_system_file());
    lookup_keywords(out->requested, out);
    if (try_compile(full, &out->compiled, &reason)) {
        /* GnuTLS found one: report what our reading of the file says. */
        out->resolution = VH_TLS_PRIORITY_KEYWORD;
        g_clear_pointer(&out->baseline_reason, g_free);
        out->string = g_steal_pointer(&full);
        return true;
    }
    if (out->keyword) {
        g_autofree char *why = keyword_failure(out, extra, suffix, reason);
        g_set_error(errp, VH_ERROR, VH_ERROR_CONFIG,
                    "Failed to set TLS session priority to %s: %s",
                    out->requested, why);
        return false;
    }
    if (conf->tls_priority_strict) {
        g_set_error(errp, VH_ERROR, VH_ERROR_CONFIG,
                    "Failed to set TLS session priority to %s: %s, and "
                    "tls_priority_strict forbids vmhost's baseline (GnuTLS: "
                    "%s)",
                    out->requested, out->baseline_reason, reason);
        return false;
    }
    out->resolution = VH_TLS_PRIORITY_BASELINE;
    g_free(full);
    full = g_strconcat(VH_TLS_PRIORITY_BASELINE_STRING, extra, suffix, NULL);
    g_clear_pointer(&reason, g_free);
    if (!try_compile(full, &out->compiled, &reason)) {
        /* The extra text after the keywords is bad. */
        g_set_error(errp, VH_ERROR, VH_ERROR_CONFIG,
                    "Failed to set TLS session priority to %s: %s; with "
                    "vmhost's baseline in its place it is %s: %s",
                    out->requested, out->baseline_reason, full, reason);
        return false;
    }
    if (!in->quiet) {
        warn_baseline(out);
    }
    out->string = g_steal_pointer(&full);
    return true;
}

bool vh_tls_priority_resolve(const VhTlsPriorityInputs *in, VhTlsPriority *out,
                             GError **errp)
{
    const VhHostConf *conf = in->conf ? in->conf : vh_host_conf_get();
    VhTlsPrioritySource source;
    const char *requested = pick(in, conf, &source);

    vh_tls_priority_clear(out);
    out->source = source;
    out->requested = g_strdup(requested);
    if (requested[0] == '@') {
        if (!resolve_at(in, conf, out, errp)) {
            vh_tls_priority_clear(out);
            return false;
        }
        return true;
    }
    out->resolution = VH_TLS_PRIORITY_LITERAL;
    out->string = g_strconcat(requested, in->suffix ? in->suffix : "", NULL);
    if (!vh_tls_priority_compile(out->string, &out->compiled, errp)) {
        vh_tls_priority_clear(out);
        return false;
    }
    return true;
}

void vh_tls_priority_clear(VhTlsPriority *prio)
{
    if (prio->compiled) {
        gnutls_priority_deinit(prio->compiled);
    }
    g_free(prio->string);
    g_free(prio->requested);
    g_free(prio->system_file);
    g_free(prio->keyword);
    g_free(prio->keyword_value);
    g_free(prio->baseline_reason);
    memset(prio, 0, sizeof(*prio));
}
