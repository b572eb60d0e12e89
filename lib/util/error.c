#include "vmhost/util/error.h"

#include <gio/gio.h>
#include <stdarg.h>

/* The quark's name is made from these tokens: keep clang-format's spaces out.
 */
/* clang-format off */
G_DEFINE_QUARK(vh-error-quark, vh_error)
/* clang-format on */

char *vh_log_format(const char *prog, GLogLevelFlags level,
                    const GLogField *fields, gsize n_fields)
{
    const char *msg = "", *domain = NULL, *kind = "";

    for (gsize i = 0; i < n_fields; i++) {
        if (g_str_equal(fields[i].key, "MESSAGE")) {
            msg = fields[i].value;
        } else if (g_str_equal(fields[i].key, "GLIB_DOMAIN")) {
            domain = fields[i].value;
        }
    }
    if (g_log_writer_default_would_drop(level, domain)) {
        return NULL;
    }
    if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL)) {
        kind = "error: ";
    } else if (level & G_LOG_LEVEL_WARNING) {
        kind = "warning: ";
    }
    return g_strdup_printf("%s: %s%s", prog, kind, msg);
}

void vh_set_error_errno(GError **errp, int errnum, const char *fmt, ...)
{
    va_list ap;

    if (!errp) {
        return;
    }
    va_start(ap, fmt);
    g_autofree char *prefix = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error(errp, G_IO_ERROR, g_io_error_from_errno(errnum), "%s: %s",
                prefix, g_strerror(errnum));
}
