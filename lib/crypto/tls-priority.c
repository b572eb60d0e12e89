#include "vmhost/crypto/tls-priority.h"

#include "vmhost-config.h"

#include <string.h>

const char *vh_tls_priority_source_name(VhTlsPrioritySource source)
{
    switch (source) {
    case VH_TLS_PRIORITY_SOURCE_OBJECT:
        return "object";
    case VH_TLS_PRIORITY_SOURCE_DEFAULT:
        return "default";
    default:
        return "unknown";
    }
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

bool vh_tls_priority_compile(const char *priority, gnutls_priority_t *out,
                             GError **errp)
{
    const char *err_pos = NULL;
    int rc = gnutls_priority_init(out, priority, &err_pos);

    if (rc < 0) {
        g_autofree char *token = bad_token(err_pos);
        g_autofree char *why = g_strdup(gnutls_strerror(rc));
        size_t len = strlen(why);

        /* "The request is invalid." reads badly before " at ...". */
        if (len && why[len - 1] == '.') {
            why[len - 1] = '\0';
        }
        *out = NULL;
        g_set_error(errp, VH_ERROR, VH_ERROR_CONFIG,
                    "Failed to set TLS session priority to %s: %s at '%s'",
                    priority, why, token);
        return false;
    }
    return true;
}

bool vh_tls_priority_resolve(const VhTlsPriorityInputs *in, VhTlsPriority *out,
                             GError **errp)
{
    const char *base;
    VhTlsPrioritySource source;
    g_autofree char *full = NULL;
    gnutls_priority_t compiled = NULL;

    if (in->object_priority && in->object_priority[0]) {
        base = in->object_priority;
        source = VH_TLS_PRIORITY_SOURCE_OBJECT;
    } else {
        base =
            in->build_default ? in->build_default : VMHOST_TLS_PRIORITY_DEFAULT;
        source = VH_TLS_PRIORITY_SOURCE_DEFAULT;
    }
    full = g_strconcat(base, in->suffix ? in->suffix : "", NULL);

    vh_tls_priority_clear(out);
    if (!vh_tls_priority_compile(full, &compiled, errp)) {
        return false;
    }
    out->string = g_steal_pointer(&full);
    out->source = source;
    out->compiled = compiled;
    return true;
}

void vh_tls_priority_clear(VhTlsPriority *prio)
{
    if (prio->compiled) {
        gnutls_priority_deinit(prio->compiled);
    }
    g_free(prio->string);
    memset(prio, 0, sizeof(*prio));
}
