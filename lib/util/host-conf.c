/* vmhost.conf: where it is and what it holds (see conf.h). */
#include "vmhost/util/conf.h"

#include "vmhost/util/error.h"

#include <string.h>
#include <unistd.h>

static const VhConfKey host_keys[] = {
    {"tls_priority", VH_CONF_STRING},
    {"tls_priority_strict", VH_CONF_BOOL},
    {NULL, 0},
};

/* Installed once at startup, before any thread reads it. */
static VhHostConf installed;

const VhConfKey *vh_host_conf_keys(void)
{
    return host_keys;
}

char *vh_host_conf_path(const char *cli_path, bool *explicit_out)
{
    const char *env = g_getenv(VH_HOST_CONF_ENV);

    *explicit_out = true;
    if (cli_path) {
        return g_strdup(cli_path);
    }
    if (env && env[0]) {
        return g_strdup(env);
    }
    *explicit_out = false;
    return g_strdup(VH_HOST_CONF_DEFAULT_PATH);
}

bool vh_host_conf_read(const char *cli_path, VhHostConf *out, GError **errp)
{
    bool explicit_path;
    g_autofree char *path = vh_host_conf_path(cli_path, &explicit_path);
    g_autoptr(VhConf) conf = NULL;
    const char *prio;

    vh_host_conf_clear(out);
    if (!explicit_path && access(path, F_OK) != 0) {
        return true;
    }
    conf = vh_conf_load_file(path, host_keys, errp);
    if (!conf) {
        return false;
    }
    prio = vh_conf_get_string(conf, "tls_priority");
    if (prio && !prio[0]) {
        g_set_error(errp, VH_ERROR, VH_ERROR_CONFIG,
                    "%s:%u: tls_priority must not be empty", path,
                    vh_conf_get_line(conf, "tls_priority"));
        return false;
    }
    out->path = g_steal_pointer(&path);
    out->tls_priority = g_strdup(prio);
    out->tls_priority_strict =
        vh_conf_get_bool(conf, "tls_priority_strict", false);
    return true;
}

static void copy_into(VhHostConf *dst, const VhHostConf *src)
{
    vh_host_conf_clear(dst);
    if (src) {
        dst->path = g_strdup(src->path);
        dst->tls_priority = g_strdup(src->tls_priority);
        dst->tls_priority_strict = src->tls_priority_strict;
    }
}

bool vh_host_conf_load(const char *cli_path, GError **errp)
{
    VhHostConf conf = {0};

    if (!vh_host_conf_read(cli_path, &conf, errp)) {
        return false;
    }
    vh_host_conf_set(&conf);
    vh_host_conf_clear(&conf);
    return true;
}

const VhHostConf *vh_host_conf_get(void)
{
    return &installed;
}

void vh_host_conf_set(const VhHostConf *conf)
{
    copy_into(&installed, conf);
}

void vh_host_conf_clear(VhHostConf *conf)
{
    g_free(conf->path);
    g_free(conf->tls_priority);
    memset(conf, 0, sizeof(*conf));
}
