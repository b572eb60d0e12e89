/* A program's log (log.h). */
#include "vmhost/util/log.h"

#include "vmhost/util/error.h"
#include "vmhost/util/file.h"
#include "vmhost/util/terminal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

/* Records come from any thread; the lock keeps file and lines whole. */
static GMutex lock;
static FILE *log_file;
static char *log_prog;

static void write_line_locked(const char *text)
{
    g_autoptr(GDateTime) now = g_date_time_new_now_utc();
    g_autofree char *stamp = g_date_time_format(now, "%Y-%m-%dT%H:%M:%S.%fZ");

    fprintf(log_file, "%s %s\n", stamp, text);
    fflush(log_file);
}

void vh_log_line(const char *text)
{
    g_mutex_lock(&lock);
    if (log_file) {
        write_line_locked(text);
    }
    g_mutex_unlock(&lock);
}

static GLogWriterOutput writer(GLogLevelFlags level, const GLogField *fields,
                               gsize n_fields, gpointer opaque)
{
    g_autofree char *text = NULL;

    (void)opaque;
    g_mutex_lock(&lock);
    text = vh_log_format(log_prog, level, fields, n_fields);
    if (text && log_file) {
        write_line_locked(text);
    } else if (text) {
        fprintf(stderr, "%s%s", text, vh_tty_line_end(STDERR_FILENO));
    }
    g_mutex_unlock(&lock);
    return G_LOG_WRITER_HANDLED;
}

void vh_log_init(const char *prog)
{
    g_mutex_lock(&lock);
    g_free(log_prog);
    log_prog = g_strdup(prog);
    g_mutex_unlock(&lock);
    g_log_set_writer_func(writer, NULL, NULL);
}

bool vh_log_open_file(const char *path, GError **errp)
{
    g_autoptr(GError) err = NULL;
    int fd = vh_file_open(path, O_WRONLY | O_APPEND | O_CREAT, 0666,
                          VH_FILE_OPEN_STREAMS, &err);
    FILE *f = NULL;

    if (fd >= 0) {
        f = fdopen(fd, "a");
        if (!f) {
            vh_set_error_errno(&err, errno, "%s", path);
            close(fd);
        }
    }
    if (!f) {
        g_set_error(errp, err->domain, err->code, "cannot open %s",
                    err->message);
        return false;
    }
    g_mutex_lock(&lock);
    if (log_file) {
        fclose(log_file);
    }
    log_file = f;
    g_mutex_unlock(&lock);
    return true;
}

bool vh_log_has_file(void)
{
    g_mutex_lock(&lock);
    bool has = log_file != NULL;
    g_mutex_unlock(&lock);
    return has;
}

void vh_log_close(void)
{
    g_mutex_lock(&lock);
    if (log_file) {
        fclose(log_file);
        log_file = NULL;
    }
    g_mutex_unlock(&lock);
}
