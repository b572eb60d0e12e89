/*
 * vmhostd.conf (libvirtd.conf's keys) and vmhostd-driver.conf (qemu.conf's
 * keys), and the locations of system and session mode.
 */
#include "daemon.h"

#include "vmhost/util/conf.h"
#include "vmhost/util/error.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SYSTEM_CONF_DIR "/etc/vmhost"
#define SYSTEM_RUN_DIR  "/run/vmhost"

static const VhConfKey daemon_keys[] = {
    {"listen_tls", VH_CONF_BOOL},
    {"listen_tcp", VH_CONF_BOOL},
    {"tls_port", VH_CONF_STRING},
    {"tcp_port", VH_CONF_STRING},
    {"listen_addr", VH_CONF_STRING},
    {"unix_sock_dir", VH_CONF_STRING},
    {"unix_sock_group", VH_CONF_STRING},
    {"unix_sock_rw_perms", VH_CONF_STRING},
    {"unix_sock_ro_perms", VH_CONF_STRING},
    {"key_file", VH_CONF_STRING},
    {"cert_file", VH_CONF_STRING},
    {"ca_file", VH_CONF_STRING},
    {"crl_file", VH_CONF_STRING},
    {"tls_no_sanity_certificate", VH_CONF_BOOL},
    {"tls_no_verify_certificate", VH_CONF_BOOL},
    {"tls_allowed_dn_list", VH_CONF_LIST},
    {"tls_priority", VH_CONF_STRING},
    {"max_clients", VH_CONF_INT},
    {"max_queued_clients", VH_CONF_INT},
    {"max_anonymous_clients", VH_CONF_INT},
    {"max_workers", VH_CONF_INT},
    {"keepalive_interval", VH_CONF_INT},
    {"keepalive_count", VH_CONF_INT},
    {"log_level", VH_CONF_INT},
    {"log_outputs", VH_CONF_STRING},
    {NULL, 0},
};

static const VhConfKey driver_keys[] = {
    {"chardev_tls", VH_CONF_BOOL},
    {"chardev_tls_x509_cert_dir", VH_CONF_STRING},
    {"chardev_tls_x509_verify", VH_CONF_BOOL},
    {"default_tls_x509_cert_dir", VH_CONF_STRING},
    {"default_tls_x509_verify", VH_CONF_BOOL},
    {"migrate_tls_x509_cert_dir", VH_CONF_STRING},
    {"migrate_tls_x509_verify", VH_CONF_BOOL},
    {"migrate_tls_allowed_dn_list", VH_CONF_LIST},
    {"migration_port_min", VH_CONF_INT},
    {"migration_port_max", VH_CONF_INT},
    {"vmhost_binary", VH_CONF_STRING},
    {NULL, 0},
};

/* An operator's typo must be visible; a copied libvirtd.conf must load. */
static void warn_unknown(const char *name, guint line, const char *key,
                         gpointer opaque)
{
    g_warning("%s:%u: unknown key '%s' ignored (not a vmhostd setting)", name,
              line, key);
}

static void set_str(char **field, const char *value)
{
    g_free(*field);
    *field = g_strdup(value);
}

VhDaemonConfig *vh_daemon_config_new(bool session)
{
    VhDaemonConfig *cfg = g_new0(VhDaemonConfig, 1);
    const char *home = g_get_home_dir();
    g_autofree char *pki = g_build_filename(home, ".pki", "libvirt", NULL);
    g_autofree char *conf_dir = NULL;
    g_autofree char *run = NULL;

    cfg->privileged = !session && geteuid() == 0;
    if (cfg->privileged) {
        conf_dir = g_strdup(SYSTEM_CONF_DIR);
        run = g_strdup(SYSTEM_RUN_DIR);
        cfg->key_file = g_strdup("/etc/pki/libvirt/private/serverkey.pem");
        cfg->cert_file = g_strdup("/etc/pki/libvirt/servercert.pem");
        cfg->ca_file = g_strdup("/etc/pki/CA/cacert.pem");
        cfg->crl_file = g_strdup("/etc/pki/CA/cacrl.pem");
        cfg->pid_file = g_strdup("/run/vmhostd.pid");
    } else {
        conf_dir = g_build_filename(g_get_user_config_dir(), "vmhost", NULL);
        run = g_build_filename(g_get_user_runtime_dir(), "vmhost", NULL);
        cfg->key_file = g_build_filename(pki, "serverkey.pem", NULL);
        cfg->cert_file = g_build_filename(pki, "servercert.pem", NULL);
        cfg->ca_file = g_build_filename(pki, "cacert.pem", NULL);
        cfg->crl_file = g_build_filename(pki, "cacrl.pem", NULL);
        cfg->pid_file = g_build_filename(run, "vmhostd.pid", NULL);
    }
    cfg->listen_tls = true;
    cfg->tls_port = g_strdup("16514");
    cfg->tcp_port = g_strdup("16509");
    cfg->unix_sock_dir = g_strdup(run);
    cfg->unix_sock_rw_perms = 0700;
    cfg->unix_sock_ro_perms = 0777;
    cfg->max_clients = 5000;
    cfg->max_queued_clients = 1000;
    cfg->max_anonymous_clients = 20;
    cfg->max_workers = 20;
    cfg->keepalive_interval = 5;
    cfg->keepalive_count = 5;
    cfg->log_level = 3;

    cfg->default_tls_x509_verify = true;
    cfg->chardev_tls_x509_verify = true;
    cfg->migrate_tls_x509_verify = true;
    cfg->chardev_tls_x509_cert_dir = g_strdup("/etc/pki/libvirt-chardev");
    cfg->default_tls_x509_cert_dir = g_strdup("/etc/pki/qemu");
    cfg->migrate_tls_x509_cert_dir = g_strdup("/etc/pki/libvirt-migrate");
    cfg->migration_port_min = 49152;
    cfg->migration_port_max = 49215;

    cfg->domain_config_dir = g_build_filename(conf_dir, "qemu", NULL);
    cfg->run_dir = g_build_filename(run, "qemu", NULL);
    cfg->config_file = g_build_filename(conf_dir, "vmhostd.conf", NULL);
    cfg->driver_config_file =
        g_build_filename(conf_dir, "vmhostd-driver.conf", NULL);
    return cfg;
}

void vh_daemon_config_free(VhDaemonConfig *cfg)
{
    if (!cfg) {
        return;
    }
    g_free(cfg->config_file);
    g_free(cfg->tls_port);
    g_free(cfg->tcp_port);
    g_free(cfg->listen_addr);
    g_free(cfg->unix_sock_dir);
    g_free(cfg->unix_sock_group);
    g_free(cfg->key_file);
    g_free(cfg->cert_file);
    g_free(cfg->ca_file);
    g_free(cfg->crl_file);
    g_strfreev(cfg->tls_allowed_dn_list);
    g_free(cfg->tls_allowed_dn_list_where);
    g_free(cfg->tls_priority);
    g_free(cfg->log_outputs);
    g_free(cfg->driver_config_file);
    g_free(cfg->chardev_tls_x509_cert_dir);
    g_free(cfg->default_tls_x509_cert_dir);
    g_free(cfg->migrate_tls_x509_cert_dir);
    g_strfreev(cfg->migrate_tls_allowed_dn_list);
    g_free(cfg->migrate_tls_allowed_dn_list_where);
    g_free(cfg->vmhost_binary);
    g_free(cfg->domain_config_dir);
    g_free(cfg->run_dir);
    g_free(cfg->pid_file);
    g_free(cfg);
}

static bool bad_value(VhConf *conf, const char *key, GError **errp,
                      const char *what)
{
    g_set_error(errp, VH_ERROR, VH_ERROR_CONFIG, "%s:%u: %s must be %s",
                vh_conf_get_name(conf), vh_conf_get_line(conf, key), key, what);
    return false;
}

/* An unsigned integer key within [min, max]; unset leaves @out alone. */
static bool get_uint(VhConf *conf, const char *key, guint min, guint max,
                     guint *out, GError **errp)
{
    gint64 v;

    if (!vh_conf_has(conf, key)) {
        return true;
    }
    v = vh_conf_get_int(conf, key, 0);
    if (v < min || v > max) {
        g_autofree char *what = g_strdup_printf(
            "between %u and %u, not %" G_GINT64_FORMAT, min, max, v);
        return bad_value(conf, key, errp, what);
    }
    *out = (guint)v;
    return true;
}

static void get_bool(VhConf *conf, const char *key, bool *out)
{
    *out = vh_conf_get_bool(conf, key, *out);
}

static void get_str(VhConf *conf, const char *key, char **out)
{
    if (vh_conf_has(conf, key)) {
        set_str(out, vh_conf_get_string(conf, key));
    }
}

/* A list key into *@list (a copy) and "FILE:LINE" into *@where. */
static void get_list(VhConf *conf, const char *key, char ***list, char **where)
{
    const char *const *v = vh_conf_get_list(conf, key);

    if (!v) {
        return;
    }
    g_strfreev(*list);
    *list = g_strdupv((char **)v);
    g_free(*where);
    *where = g_strdup_printf("%s:%u", vh_conf_get_name(conf),
                             vh_conf_get_line(conf, key));
}

/* "0770": octal file permissions, as libvirtd.conf writes them. */
static bool get_perms(VhConf *conf, const char *key, guint *out, GError **errp)
{
    const char *s = vh_conf_get_string(conf, key);
    char *end = NULL;
    unsigned long v;

    if (!s) {
        return true;
    }
    errno = 0;
    v = strtoul(s, &end, 8);
    if (errno || !*s || *end || v > 0777) {
        return bad_value(conf, key, errp, "octal permissions such as \"0770\"");
    }
    *out = (guint)v;
    return true;
}

static bool get_port(VhConf *conf, const char *key, char **out, GError **errp)
{
    const char *s = vh_conf_get_string(conf, key);
    guint64 port;

    if (!s) {
        return true;
    }
    if (!g_ascii_string_to_unsigned(s, 10, 0, 65535, &port, NULL)) {
        return bad_value(conf, key, errp, "a port number such as \"16514\"");
    }
    set_str(out, s);
    return true;
}

static bool apply_daemon(VhDaemonConfig *cfg, VhConf *conf, GError **errp)
{
    gint64 ka;

    get_bool(conf, "listen_tls", &cfg->listen_tls);
    get_bool(conf, "listen_tcp", &cfg->listen_tcp);
    get_str(conf, "listen_addr", &cfg->listen_addr);
    get_str(conf, "unix_sock_dir", &cfg->unix_sock_dir);
    get_str(conf, "unix_sock_group", &cfg->unix_sock_group);
    get_str(conf, "key_file", &cfg->key_file);
    get_str(conf, "cert_file", &cfg->cert_file);
    get_str(conf, "ca_file", &cfg->ca_file);
    get_str(conf, "crl_file", &cfg->crl_file);
    get_bool(conf, "tls_no_sanity_certificate",
             &cfg->tls_no_sanity_certificate);
    get_bool(conf, "tls_no_verify_certificate",
             &cfg->tls_no_verify_certificate);
    get_str(conf, "tls_priority", &cfg->tls_priority);
    get_str(conf, "log_outputs", &cfg->log_outputs);
    get_list(conf, "tls_allowed_dn_list", &cfg->tls_allowed_dn_list,
             &cfg->tls_allowed_dn_list_where);
    ka = vh_conf_get_int(conf, "keepalive_interval", cfg->keepalive_interval);
    if (ka < -1 || ka > 3600) {
        return bad_value(conf, "keepalive_interval", errp,
                         "-1 (off) or between 0 and 3600 seconds");
    }
    cfg->keepalive_interval = (int)ka;
    if (vh_conf_has(conf, "log_level")) {
        guint lvl = 3;

        if (!get_uint(conf, "log_level", 1, 4, &lvl, errp)) {
            return false;
        }
        cfg->log_level = (int)lvl;
    }
    return get_port(conf, "tls_port", &cfg->tls_port, errp) &&
           get_port(conf, "tcp_port", &cfg->tcp_port, errp) &&
           get_perms(conf, "unix_sock_rw_perms", &cfg->unix_sock_rw_perms,
                     errp) &&
           get_perms(conf, "unix_sock_ro_perms", &cfg->unix_sock_ro_perms,
                     errp) &&
           get_uint(conf, "max_clients", 1, 1000000, &cfg->max_clients, errp) &&
           get_uint(conf, "max_queued_clients", 1, 65535,
                    &cfg->max_queued_clients, errp) &&
           get_uint(conf, "max_anonymous_clients", 1, 1000000,
                    &cfg->max_anonymous_clients, errp) &&
           get_uint(conf, "max_workers", 1, 1000, &cfg->max_workers, errp) &&
           get_uint(conf, "keepalive_count", 0, 1000, &cfg->keepalive_count,
                    errp);
}

bool vh_daemon_config_parse_daemon(VhDaemonConfig *cfg, const char *path,
                                   GError **errp)
{
    g_autoptr(VhConf) conf =
        vh_conf_load_file_full(path, daemon_keys, warn_unknown, NULL, errp);

    return conf && apply_daemon(cfg, conf, errp);
}

static bool apply_driver(VhDaemonConfig *cfg, VhConf *conf, GError **errp)
{
    get_bool(conf, "chardev_tls", &cfg->chardev_tls);
    get_str(conf, "default_tls_x509_cert_dir", &cfg->default_tls_x509_cert_dir);
    get_bool(conf, "default_tls_x509_verify", &cfg->default_tls_x509_verify);
    /* qemu.conf: the specific dirs and verify flags default to default_*. */
    if (vh_conf_has(conf, "default_tls_x509_verify")) {
        cfg->chardev_tls_x509_verify = cfg->default_tls_x509_verify;
        cfg->migrate_tls_x509_verify = cfg->default_tls_x509_verify;
    }
    if (vh_conf_has(conf, "default_tls_x509_cert_dir")) {
        set_str(&cfg->chardev_tls_x509_cert_dir,
                cfg->default_tls_x509_cert_dir);
        set_str(&cfg->migrate_tls_x509_cert_dir,
                cfg->default_tls_x509_cert_dir);
    }
    get_str(conf, "chardev_tls_x509_cert_dir", &cfg->chardev_tls_x509_cert_dir);
    get_bool(conf, "chardev_tls_x509_verify", &cfg->chardev_tls_x509_verify);
    get_str(conf, "migrate_tls_x509_cert_dir", &cfg->migrate_tls_x509_cert_dir);
    get_bool(conf, "migrate_tls_x509_verify", &cfg->migrate_tls_x509_verify);
    get_list(conf, "migrate_tls_allowed_dn_list",
             &cfg->migrate_tls_allowed_dn_list,
             &cfg->migrate_tls_allowed_dn_list_where);
    /* without a verified certificate there is no DN to match */
    if (cfg->migrate_tls_allowed_dn_list && !cfg->migrate_tls_x509_verify) {
        return bad_value(conf, "migrate_tls_allowed_dn_list", errp,
                         "left unset when migrate_tls_x509_verify is 0 (an "
                         "unverified client has no DN to match)");
    }
    get_str(conf, "vmhost_binary", &cfg->vmhost_binary);
    if (!get_uint(conf, "migration_port_min", 1, 65535,
                  &cfg->migration_port_min, errp) ||
        !get_uint(conf, "migration_port_max", 1, 65535,
                  &cfg->migration_port_max, errp)) {
        return false;
    }
    if (cfg->migration_port_min > cfg->migration_port_max) {
        return bad_value(conf, "migration_port_max", errp,
                         "at least migration_port_min");
    }
    return true;
}

bool vh_daemon_config_parse_driver(VhDaemonConfig *cfg, const char *path,
                                   GError **errp)
{
    g_autoptr(VhConf) conf =
        vh_conf_load_file_full(path, driver_keys, warn_unknown, NULL, errp);

    return conf && apply_driver(cfg, conf, errp);
}

/*
 * @given: the command line's file (must exist); else @dflt if it exists.
 * *@used is set to the file read, or NULL.
 */
static bool load_one(VhDaemonConfig *cfg, const char *given, char **used,
                     bool (*parse)(VhDaemonConfig *, const char *, GError **),
                     GError **errp)
{
    g_autofree char *path = g_strdup(given ? given : *used);

    if (!given && !g_file_test(path, G_FILE_TEST_EXISTS)) {
        g_clear_pointer(used, g_free);
        return true;
    }
    set_str(used, path);
    return parse(cfg, path, errp);
}

bool vh_daemon_config_load(VhDaemonConfig *cfg, const char *config_file,
                           const char *driver_file, GError **errp)
{
    return load_one(cfg, config_file, &cfg->config_file,
                    vh_daemon_config_parse_daemon, errp) &&
           load_one(cfg, driver_file, &cfg->driver_config_file,
                    vh_daemon_config_parse_driver, errp);
}
