/*
 * log_outputs as libvirtd reads it: space-separated "LEVEL:stderr",
 * "LEVEL:file:PATH" or "LEVEL:journald" (written to stderr, which systemd
 * sends to the journal), LEVEL 1 debug .. 4 error. Each line:
 * "2026-12-07 02:12:18.123+0000: 4242: warning : MESSAGE".
 */
#include "daemon.h"

#include "vmhost/util/error.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    int level;
    FILE *fp; /* stderr or an opened file */
} LogOutput;

static GPtrArray *outputs; /* LogOutput *, set once at startup */
static int global_level = 3;
static GMutex log_lock;
static bool writer_set;

static int level_of(GLogLevelFlags flags)
{
    if (flags & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL)) {
        return 4;
    }
    if (flags & G_LOG_LEVEL_WARNING) {
        return 3;
    }
    if (flags & (G_LOG_LEVEL_MESSAGE | G_LOG_LEVEL_INFO)) {
        return 2;
    }
    return 1;
}

static const char *level_name(int level)
{
    switch (level) {
    case 4:
        return "error";
    case 3:
        return "warning";
    case 2:
        return "info";
    default:
        return "debug";
    }
}

static const char *field_message(const GLogField *fields, gsize n)
{
    for (gsize i = 0; i < n; i++) {
        if (strcmp(fields[i].key, "MESSAGE") == 0) {
            return fields[i].value;
        }
    }
    return "";
}

static GLogWriterOutput writer(GLogLevelFlags flags, const GLogField *fields,
                               gsize n_fields, gpointer opaque)
{
    int level = level_of(flags);
    g_autoptr(GDateTime) now = NULL;
    g_autofree char *stamp = NULL;

    if (level < global_level) {
        return G_LOG_WRITER_HANDLED;
    }
    now = g_date_time_new_now_utc();
    stamp = g_date_time_format(now, "%Y-%m-%d %H:%M:%S.%f");
    stamp[23] = '\0'; /* milliseconds */
    g_mutex_lock(&log_lock);
    for (guint i = 0; i < outputs->len; i++) {
        LogOutput *o = g_ptr_array_index(outputs, i);

        if (level < o->level) {
            continue;
        }
        fprintf(o->fp, "%s+0000: %d: %s : %s\n", stamp, (int)getpid(),
                level_name(level), field_message(fields, n_fields));
        fflush(o->fp);
    }
    g_mutex_unlock(&log_lock);
    return G_LOG_WRITER_HANDLED;
}

static bool parse_output(const char *spec, GError **errp)
{
    g_auto(GStrv) parts = g_strsplit(spec, ":", 3);
    LogOutput *o;
    guint64 level;

    if (!parts[0] || !parts[1] ||
        !g_ascii_string_to_unsigned(parts[0], 10, 1, 4, &level, NULL)) {
        g_set_error(errp, VH_ERROR, VH_ERROR_CONFIG,
                    "log_outputs: '%s' is not LEVEL:stderr, LEVEL:file:PATH "
                    "or LEVEL:journald (LEVEL 1-4)",
                    spec);
        return false;
    }
    o = g_new0(LogOutput, 1);
    o->level = (int)level;
    if (strcmp(parts[1], "stderr") == 0 || strcmp(parts[1], "journald") == 0) {
        o->fp = stderr;
    } else if (strcmp(parts[1], "file") == 0 && parts[2] && parts[2][0]) {
        o->fp = fopen(parts[2], "ae");
        if (!o->fp) {
            g_set_error(errp, VH_ERROR, VH_ERROR_CONFIG,
                        "log_outputs: cannot open log file %s: %s", parts[2],
                        g_strerror(errno));
            g_free(o);
            return false;
        }
    } else {
        g_set_error(errp, VH_ERROR, VH_ERROR_CONFIG,
                    "log_outputs: unknown output '%s' in '%s' (stderr, "
                    "file:PATH or journald)",
                    parts[1], spec);
        g_free(o);
        return false;
    }
    g_ptr_array_add(outputs, o);
    return true;
}

bool vh_daemon_log_setup(const VhDaemonConfig *cfg, bool verbose, GError **errp)
{
    g_autofree char *dflt = g_strdup_printf("%d:stderr", verbose ? 2 : 3);
    const char *spec = cfg->log_outputs ? cfg->log_outputs : dflt;
    g_auto(GStrv) items = g_strsplit_set(spec, " \t", -1);

    if (outputs) {
        /* A second call (after the config is read) replaces the first. */
        g_mutex_lock(&log_lock);
        for (guint i = 0; i < outputs->len; i++) {
            LogOutput *o = g_ptr_array_index(outputs, i);

            if (o->fp != stderr) {
                fclose(o->fp);
            }
            g_free(o);
        }
        g_ptr_array_set_size(outputs, 0);
        g_mutex_unlock(&log_lock);
    } else {
        outputs = g_ptr_array_new();
    }
    global_level = verbose ? MIN(cfg->log_level, 2) : cfg->log_level;
    for (char **p = items; *p; p++) {
        if (**p && !parse_output(*p, errp)) {
            return false;
        }
    }
    if (verbose) {
        /* --verbose: informational lines on stderr whatever the config. */
        bool on_stderr = false;

        for (guint i = 0; i < outputs->len; i++) {
            LogOutput *o = g_ptr_array_index(outputs, i);

            if (o->fp == stderr) {
                o->level = MIN(o->level, 2);
                on_stderr = true;
            }
        }
        if (!on_stderr) {
            LogOutput *o = g_new0(LogOutput, 1);

            o->level = 2;
            o->fp = stderr;
            g_ptr_array_add(outputs, o);
        }
    }
    if (!writer_set) {
        /* GLib allows one call per process */
        g_log_set_writer_func(writer, NULL, NULL);
        writer_set = true;
    }
    return true;
}
