/*
 * vmhostd's program: its config files (vmhostd.conf with libvirtd.conf's
 * keys, vmhostd-driver.conf with qemu.conf's), the session locations,
 * tls_allowed_dn_list matching and log_outputs parsing. The daemon end to
 * end with libvirt's clients: tests/programs/test-vmhostd.sh.
 */
#include "daemon.h"

#include "vmhost/util/error.h"

#include <glib/gstdio.h>
#include <string.h>

static char *tmpdir;

/* A file in the temp dir with @text; its path (transfer full). */
static char *write_conf(const char *name, const char *text)
{
    char *path = g_build_filename(tmpdir, name, NULL);

    g_assert_true(g_file_set_contents(path, text, -1, NULL));
    return path;
}

static void test_defaults_session(void)
{
    g_autoptr(VhDaemonConfig) cfg = vh_daemon_config_new(true);

    g_assert_false(cfg->privileged);
    g_assert_true(cfg->listen_tls);
    g_assert_false(cfg->listen_tcp);
    g_assert_cmpstr(cfg->tls_port, ==, "16514");
    g_assert_cmpstr(cfg->tcp_port, ==, "16509");
    g_assert_null(cfg->listen_addr);
    g_assert_cmpuint(cfg->unix_sock_rw_perms, ==, 0700);
    g_assert_cmpuint(cfg->unix_sock_ro_perms, ==, 0777);
    g_assert_cmpuint(cfg->max_clients, ==, 5000);
    g_assert_cmpuint(cfg->max_anonymous_clients, ==, 20);
    g_assert_cmpint(cfg->keepalive_interval, ==, 5);
    g_assert_cmpuint(cfg->keepalive_count, ==, 5);
    g_assert_null(cfg->tls_allowed_dn_list);
    g_assert_true(
        g_str_has_suffix(cfg->key_file, "/.pki/libvirt/serverkey.pem"));
    g_assert_true(
        g_str_has_suffix(cfg->cert_file, "/.pki/libvirt/servercert.pem"));
    g_assert_true(g_str_has_suffix(cfg->ca_file, "/.pki/libvirt/cacert.pem"));
    g_assert_true(g_str_has_prefix(cfg->unix_sock_dir, tmpdir));
    g_assert_true(g_str_has_suffix(cfg->unix_sock_dir, "/run/vmhost"));
    g_assert_true(
        g_str_has_suffix(cfg->domain_config_dir, "/config/vmhost/qemu"));
    g_assert_true(
        g_str_has_suffix(cfg->config_file, "/config/vmhost/vmhostd.conf"));
    g_assert_true(g_str_has_suffix(cfg->driver_config_file,
                                   "/config/vmhost/vmhostd-driver.conf"));
    g_assert_cmpstr(cfg->chardev_tls_x509_cert_dir, ==,
                    "/etc/pki/libvirt-chardev");
    g_assert_cmpstr(cfg->migrate_tls_x509_cert_dir, ==,
                    "/etc/pki/libvirt-migrate");
    g_assert_cmpstr(cfg->default_tls_x509_cert_dir, ==, "/etc/pki/qemu");
    g_assert_true(cfg->chardev_tls_x509_verify);
    g_assert_cmpuint(cfg->migration_port_min, ==, 49152);
    g_assert_cmpuint(cfg->migration_port_max, ==, 49215);
}

static void test_missing_default_files(void)
{
    g_autoptr(VhDaemonConfig) cfg = vh_daemon_config_new(true);
    g_autoptr(GError) err = NULL;

    /* the session defaults do not exist: defaults, no error */
    g_assert_true(vh_daemon_config_load(cfg, NULL, NULL, &err));
    g_assert_no_error(err);
    g_assert_null(cfg->config_file);
    g_assert_null(cfg->driver_config_file);
    /* a named one must exist */
    g_assert_false(
        vh_daemon_config_load(cfg, "/nonexistent/x.conf", NULL, &err));
    g_assert_nonnull(strstr(err->message, "/nonexistent/x.conf"));
}

static void test_keys(void)
{
    g_autoptr(VhDaemonConfig) cfg = vh_daemon_config_new(true);
    g_autoptr(GError) err = NULL;
    g_autofree char *path =
        write_conf("keys.conf", "listen_tls = 0\n"
                                "listen_tcp = 1\n"
                                "tls_port = \"1234\"\n"
                                "listen_addr = \"127.0.0.1\"\n"
                                "unix_sock_dir = \"/x/sock\"\n"
                                "unix_sock_rw_perms = \"0770\"\n"
                                "tls_allowed_dn_list = [\"*CN=admin\",\n"
                                "                       \"C=GB,*\"]\n"
                                "tls_priority = \"NORMAL\"\n"
                                "max_clients = 7\n"
                                "max_anonymous_clients = 3\n"
                                "keepalive_interval = -1\n"
                                "log_outputs = \"1:stderr\"\n");
    g_autofree char *where = g_strdup_printf("%s:7", path);

    g_assert_true(vh_daemon_config_parse_daemon(cfg, path, &err));
    g_assert_no_error(err);
    g_assert_false(cfg->listen_tls);
    g_assert_true(cfg->listen_tcp);
    g_assert_cmpstr(cfg->tls_port, ==, "1234");
    g_assert_cmpstr(cfg->listen_addr, ==, "127.0.0.1");
    g_assert_cmpstr(cfg->unix_sock_dir, ==, "/x/sock");
    g_assert_cmpuint(cfg->unix_sock_rw_perms, ==, 0770);
    g_assert_cmpuint(cfg->unix_sock_ro_perms, ==, 0777);
    g_assert_cmpuint(g_strv_length(cfg->tls_allowed_dn_list), ==, 2);
    g_assert_cmpstr(cfg->tls_allowed_dn_list_where, ==, where);
    g_assert_cmpstr(cfg->tls_priority, ==, "NORMAL");
    g_assert_cmpuint(cfg->max_clients, ==, 7);
    g_assert_cmpuint(cfg->max_anonymous_clients, ==, 3);
    g_assert_cmpint(cfg->keepalive_interval, ==, -1);
    g_assert_cmpstr(cfg->log_outputs, ==, "1:stderr");
}

static void test_unknown_key_warns(void)
{
    g_autoptr(VhDaemonConfig) cfg = vh_daemon_config_new(true);
    g_autoptr(GError) err = NULL;
    g_autofree char *path = write_conf(
        "unknown.conf", "# a copied libvirtd.conf\nmax_clients = 9\n"
                        "auth_tls = \"none\"\nadmin_max_workers = 5\n");

    g_test_expect_message(NULL, G_LOG_LEVEL_WARNING,
                          "*unknown.conf:3: unknown key 'auth_tls' ignored*");
    g_test_expect_message(
        NULL, G_LOG_LEVEL_WARNING,
        "*unknown.conf:4: unknown key 'admin_max_workers' ignored*");
    g_assert_true(vh_daemon_config_parse_daemon(cfg, path, &err));
    g_test_assert_expected_messages();
    g_assert_no_error(err);
    g_assert_cmpuint(cfg->max_clients, ==, 9);
}

static void test_bad_values(void)
{
    static const struct {
        const char *text;
        const char *needle;
    } cases[] = {
        {"unix_sock_rw_perms = \"0999\"\n", ":1: unix_sock_rw_perms must be"},
        {"tls_port = \"99999\"\n", ":1: tls_port must be a port number"},
        {"\nmax_clients = 0\n", ":2: max_clients must be between 1"},
        {"keepalive_interval = -5\n", ":1: keepalive_interval must be"},
        {"max_clients = \"many\"\n", "max_clients must be an integer"},
        {"listen_tls = 2\n", "listen_tls must be 0 or 1"},
        {"log_level = 7\n", ":1: log_level must be between 1 and 4"},
    };

    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(VhDaemonConfig) cfg = vh_daemon_config_new(true);
        g_autoptr(GError) err = NULL;
        g_autofree char *path = write_conf("bad.conf", cases[i].text);

        g_assert_false(vh_daemon_config_parse_daemon(cfg, path, &err));
        g_assert_error(err, VH_ERROR, VH_ERROR_CONFIG);
        if (!strstr(err->message, cases[i].needle)) {
            g_error("'%s': message '%s' lacks '%s'", cases[i].text,
                    err->message, cases[i].needle);
        }
    }
}

static void test_driver_keys(void)
{
    g_autoptr(VhDaemonConfig) cfg = vh_daemon_config_new(true);
    g_autoptr(GError) err = NULL;
    g_autofree char *path = write_conf(
        "driver.conf", "chardev_tls = 1\n"
                       "default_tls_x509_cert_dir = \"/pki/default\"\n"
                       "default_tls_x509_verify = 0\n"
                       "migrate_tls_x509_cert_dir = \"/pki/mig\"\n"
                       "migrate_tls_x509_verify = 1\n"
                       "migration_port_min = 50000\n"
                       "migration_port_max = 50010\n");
    g_autofree char *bad =
        write_conf("driver-bad.conf", "migration_port_min = 60000\n"
                                      "migration_port_max = 50000\n");

    g_assert_true(vh_daemon_config_parse_driver(cfg, path, &err));
    g_assert_no_error(err);
    g_assert_true(cfg->chardev_tls);
    /* qemu.conf: unset chardev_* / migrate_* follow default_* */
    g_assert_cmpstr(cfg->chardev_tls_x509_cert_dir, ==, "/pki/default");
    g_assert_false(cfg->chardev_tls_x509_verify);
    g_assert_cmpstr(cfg->migrate_tls_x509_cert_dir, ==, "/pki/mig");
    g_assert_true(cfg->migrate_tls_x509_verify);
    g_assert_cmpuint(cfg->migration_port_min, ==, 50000);
    g_assert_cmpuint(cfg->migration_port_max, ==, 50010);

    g_assert_false(vh_daemon_config_parse_driver(cfg, bad, &err));
    g_assert_nonnull(strstr(err->message, "driver-bad.conf:2"));
}

static void test_dn_allowed(void)
{
    const char *const any[] = {"*CN=admin", "C=GB,O=Example,CN=ops-*", NULL};
    const char *const none[] = {NULL};
    const char *dn = "C=GB,O=Example,CN=admin";

    g_assert_true(vh_daemon_dn_allowed(NULL, dn));  /* unset: any verified */
    g_assert_false(vh_daemon_dn_allowed(none, dn)); /* empty: nobody */
    g_assert_true(vh_daemon_dn_allowed(any, dn));
    g_assert_true(vh_daemon_dn_allowed(any, "C=GB,O=Example,CN=ops-7"));
    g_assert_false(vh_daemon_dn_allowed(any, "C=GB,O=Example,CN=intruder"));
    g_assert_false(vh_daemon_dn_allowed(any, "C=GB,O=Example,CN=admin2"));
    g_assert_false(vh_daemon_dn_allowed(any, NULL)); /* no certificate */
}

static void test_log_outputs_bad(void)
{
    static const char *const specs[] = {"9:stderr", "3:syslog", "3", "x:stderr",
                                        "2:file:"};

    for (gsize i = 0; i < G_N_ELEMENTS(specs); i++) {
        g_autoptr(VhDaemonConfig) cfg = vh_daemon_config_new(true);
        g_autoptr(GError) err = NULL;

        cfg->log_outputs = g_strdup(specs[i]);
        g_assert_false(vh_daemon_log_setup(cfg, false, &err));
        g_assert_error(err, VH_ERROR, VH_ERROR_CONFIG);
        g_assert_nonnull(strstr(err->message, "log_outputs"));
    }
}

int main(int argc, char **argv)
{
    int rc;

    tmpdir = g_dir_make_tmp("vh-daemon-XXXXXX", NULL);
    g_assert_nonnull(tmpdir);
    {
        g_autofree char *cfgdir = g_build_filename(tmpdir, "config", NULL);
        g_autofree char *run = g_build_filename(tmpdir, "run", NULL);

        g_setenv("XDG_CONFIG_HOME", cfgdir, TRUE);
        g_setenv("XDG_RUNTIME_DIR", run, TRUE);
        g_setenv("HOME", tmpdir, TRUE);
    }
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/vmhostd/config/defaults-session", test_defaults_session);
    g_test_add_func("/vmhostd/config/missing-default-files",
                    test_missing_default_files);
    g_test_add_func("/vmhostd/config/keys", test_keys);
    g_test_add_func("/vmhostd/config/unknown-key-warns",
                    test_unknown_key_warns);
    g_test_add_func("/vmhostd/config/bad-values", test_bad_values);
    g_test_add_func("/vmhostd/config/driver-keys", test_driver_keys);
    g_test_add_func("/vmhostd/tls/dn-allowed", test_dn_allowed);
    g_test_add_func("/vmhostd/log/outputs-bad", test_log_outputs_bad);
    rc = g_test_run();
    {
        g_autoptr(GDir) d = g_dir_open(tmpdir, 0, NULL);
        const char *name;

        while (d && (name = g_dir_read_name(d))) {
            g_autofree char *p = g_build_filename(tmpdir, name, NULL);
            g_unlink(p);
        }
    }
    g_rmdir(tmpdir);
    g_free(tmpdir);
    return rc;
}
