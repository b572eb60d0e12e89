/*
 * vmhost-pki: make and check the certificate directories that
 * tls-creds-x509 loads (QEMU's layout), or libvirt's layout for vmhostd
 * and libvirt's clients (--layout libvirt, see pki.h).
 *
 *   vmhost-pki init-ca DIR [--cn NAME] [--days N] [--key-type TYPE]
 *   vmhost-pki issue server DIR --hostname NAME... [--ip ADDR...] [--days N]
 *   vmhost-pki issue client DIR --dn DN [--days N] [--pkipath PDIR]
 *   vmhost-pki validate DIR --endpoint server|client [--hostname NAME]
 *                           [--json] [--for qemu|libvirt]
 *   vmhost-pki show-dn FILE
 *
 * init-ca, issue and validate take --layout qemu|libvirt (validate also
 * pkipath); with libvirt the default key type is rsa-3072.
 *
 * Exit status: 0 success, 1 failure (including any FAIL from validate),
 * 2 usage error.
 */
#include "vmhost/crypto/pki.h"
#include "vmhost/crypto/tls-creds-x509.h"
#include "vmhost/crypto/x509-check.h"
#include "vmhost/util/file.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define EXIT_USAGE       2
#define EXPIRY_WARN_DAYS 30
#define PKIPATH_DIR      "pkipath"

static const char usage_summary[] =
    "Commands:\n"
    "  init-ca DIR [--cn NAME] [--days N] [--key-type TYPE] [--force]\n"
    "  issue server DIR --hostname NAME... [--ip ADDR...] [--days N]\n"
    "               [--key-type TYPE] [--force]\n"
    "  issue client DIR --dn DN [--days N] [--key-type TYPE] [--force]\n"
    "               [--pkipath PDIR]\n"
    "  validate DIR --endpoint server|client [--hostname NAME] [--json]\n"
    "           [--for qemu|libvirt]\n"
    "  show-dn FILE\n"
    "\n"
    "init-ca, issue and validate take --layout qemu (default) or libvirt\n"
    "(DIR/CA/cacert.pem, DIR/libvirt/servercert.pem, ...); validate also\n"
    "pkipath (cacert.pem, clientcert.pem, clientkey.pem in one DIR).\n"
    "Key types: ecdsa-p256 (default), ecdsa-p384, rsa-3072 (default with\n"
    "--layout libvirt), ed25519.\n"
    "Exit status: 0 ok, 1 failure, 2 usage error.";

static int usage_error(GOptionContext *ctx, const char *fmt, ...)
    G_GNUC_PRINTF(2, 3);

static int usage_error(GOptionContext *ctx, const char *fmt, ...)
{
    g_autofree char *msg = NULL;
    va_list ap;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    fprintf(stderr, "vmhost-pki: %s\n", msg);
    if (ctx) {
        g_autofree char *help = g_option_context_get_help(ctx, TRUE, NULL);
        fprintf(stderr, "\n%s", help);
    } else {
        fprintf(stderr, "Usage: vmhost-pki COMMAND ...\n\n%s\n", usage_summary);
    }
    return EXIT_USAGE;
}

static int fail(GError *err)
{
    fprintf(stderr, "vmhost-pki: %s\n", err->message);
    return 1;
}

/* Parse @ctx; on success *argc/argv hold the positional arguments. */
static bool parse(GOptionContext *ctx, int *argc, char ***argv, int *status)
{
    g_autoptr(GError) err = NULL;

    if (!g_option_context_parse(ctx, argc, argv, &err)) {
        *status = usage_error(ctx, "%s", err->message);
        return false;
    }
    return true;
}

static bool days_valid(GOptionContext *ctx, int days, int *status)
{
    if (days <= 0 || days > 36500) {
        *status = usage_error(ctx, "--days must be between 1 and 36500");
        return false;
    }
    return true;
}

static bool layout_parse(GOptionContext *ctx, const char *name,
                         VhPkiLayout *layout, int *status)
{
    g_autoptr(GError) err = NULL;

    if (!name) {
        *layout = VH_PKI_LAYOUT_QEMU;
        return true;
    }
    if (!vh_pki_layout_from_name(name, layout, &err)) {
        *status = usage_error(ctx, "%s", err->message);
        return false;
    }
    return true;
}

/*
 * libvirt's clients (9.0) refuse a certificate whose key usage lacks
 * keyEncipherment, which an ECDSA or Ed25519 certificate rightly lacks:
 * libvirt's layout gets RSA, as libvirt's own certtool recipes.
 */
static VhPkiKeyType default_key_type(VhPkiLayout layout)
{
    return layout == VH_PKI_LAYOUT_QEMU ? VH_PKI_KEY_ECDSA_P256
                                        : VH_PKI_KEY_RSA_3072;
}

static bool key_type_parse(GOptionContext *ctx, const char *name,
                           VhPkiLayout layout, VhPkiKeyType *type, int *status)
{
    g_autoptr(GError) err = NULL;

    if (!name) {
        *type = default_key_type(layout);
        return true;
    }
    if (!vh_pki_key_type_from_name(name, type, &err)) {
        *status = usage_error(ctx, "%s", err->message);
        return false;
    }
    return true;
}

/* The options of every command that makes a key and a certificate. */
typedef struct {
    int days;
    char *key_type_name;
    char *layout_name;
    gboolean force;
    char *days_help;
    VhPkiKeyType type;             /* set by cert_options_check() */
    VhPkiLayout layout;            /* set by cert_options_check() */
    const VhPkiLayoutFiles *files; /* set by cert_options_check() */
} CertOptions;

static void cert_options_add(GOptionContext *ctx, CertOptions *co,
                             int default_days)
{
    /* GOption keeps pointers to the help texts, not copies */
    co->days_help = g_strdup_printf("Validity (default %d)", default_days);
    co->days = default_days;
    GOptionEntry entries[] = {
        {"days", 0, 0, G_OPTION_ARG_INT, &co->days, co->days_help, "N"},
        {"key-type", 0, 0, G_OPTION_ARG_STRING, &co->key_type_name,
         "ecdsa-p256 (default), ecdsa-p384, rsa-3072 (default for "
         "--layout libvirt), ed25519",
         "TYPE"},
        {"layout", 0, 0, G_OPTION_ARG_STRING, &co->layout_name,
         "qemu (default: DIR/ca-cert.pem, ...) or libvirt "
         "(DIR/CA/cacert.pem, DIR/libvirt/servercert.pem, ...)",
         "LAYOUT"},
        {"force", 0, 0, G_OPTION_ARG_NONE, &co->force, "Replace existing files",
         NULL},
        {NULL},
    };
    g_option_context_add_main_entries(ctx, entries, NULL);
}

static bool cert_options_check(GOptionContext *ctx, CertOptions *co,
                               int *status)
{
    if (!days_valid(ctx, co->days, status) ||
        !layout_parse(ctx, co->layout_name, &co->layout, status) ||
        !key_type_parse(ctx, co->key_type_name, co->layout, &co->type,
                        status)) {
        return false;
    }
    if (co->layout == VH_PKI_LAYOUT_PKIPATH) {
        *status = usage_error(ctx, "--layout pkipath is for validate; "
                                   "issue client --layout libvirt writes a "
                                   "pkipath directory too");
        return false;
    }
    co->files = vh_pki_layout_files(co->layout);
    return true;
}

static void cert_options_clear(CertOptions *co)
{
    g_free(co->key_type_name);
    g_free(co->layout_name);
    g_free(co->days_help);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(CertOptions, cert_options_clear)

/* An RDN value with the characters RFC 4514 needs escaped escaped. */
static char *dn_escape(const char *value)
{
    GString *out = g_string_new(NULL);

    for (const char *p = value; *p; p++) {
        if (strchr(",+\"\\<>;=", *p) || (p == value && *p == '#')) {
            g_string_append_c(out, '\\');
        }
        g_string_append_c(out, *p);
    }
    return g_string_free(out, FALSE);
}

/* Fail if any of the NULL-terminated names exists in @dir. */
static bool refuse_overwrite(const char *dir, bool force, GError **errp, ...)
{
    va_list ap;
    const char *name;
    bool ok = true;

    va_start(ap, errp);
    while (ok && !force && (name = va_arg(ap, const char *))) {
        g_autofree char *path = g_build_filename(dir, name, NULL);
        if (g_file_test(path, G_FILE_TEST_EXISTS)) {
            g_set_error(errp, VH_ERROR, VH_ERROR_CERT_FILE,
                        "%s already exists; use --force to replace it", path);
            ok = false;
        }
    }
    va_end(ap);
    return ok;
}

static bool ensure_dir_mode(const char *dir, int mode, GError **errp)
{
    if (g_mkdir_with_parents(dir, mode) < 0) {
        int e = errno;
        g_set_error(errp, VH_ERROR, VH_ERROR_CERT_FILE,
                    "Unable to create directory %s: %s", dir, g_strerror(e));
        return false;
    }
    return true;
}

static bool ensure_dir(const char *dir, GError **errp)
{
    return ensure_dir_mode(dir, 0755, errp);
}

/* The directory @name (relative to @dir) goes in, made if missing. */
static bool ensure_parent(const char *dir, const char *name, int mode,
                          GError **errp)
{
    g_autofree char *path = g_build_filename(dir, name, NULL);
    g_autofree char *parent = g_path_get_dirname(path);

    return ensure_dir_mode(parent, mode, errp);
}

/*
 * Write @key and @crt as @key_name / @cert_name in @dir; a missing key
 * directory (libvirt's private/) is made private to the owner.
 */
static bool write_pair(const char *dir, const char *cert_name,
                       const char *key_name, gnutls_x509_crt_t crt,
                       VhPkiKey *key, GError **errp)
{
    g_autofree char *cert_path = g_build_filename(dir, cert_name, NULL);
    g_autofree char *key_path = g_build_filename(dir, key_name, NULL);

    if (!ensure_parent(dir, cert_name, 0755, errp) ||
        !ensure_parent(dir, key_name, 0700, errp) ||
        !vh_pki_key_save(key, key_path, true, errp) ||
        !vh_pki_cert_save(cert_path, &crt, 1, true, errp)) {
        return false;
    }
    printf("wrote %s\nwrote %s\n", cert_path, key_path);
    return true;
}

/* ---- init-ca ---------------------------------------------------------- */

static int cmd_init_ca(int argc, char **argv)
{
    g_autofree char *cn = NULL;
    g_auto(CertOptions) co = {0};
    GOptionEntry entries[] = {
        {"cn", 0, 0, G_OPTION_ARG_STRING, &cn, "CA common name", "NAME"},
        {NULL},
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new(
        "DIR - create a CA: DIR/ca-cert.pem and DIR/ca-key.pem (libvirt: "
        "DIR/CA/cacert.pem and DIR/CA/private/cakey.pem)");
    g_autoptr(GError) err = NULL;
    g_autoptr(VhPkiKey) key = NULL;
    g_auto(gnutls_x509_crt_t) crt = NULL;
    g_autofree char *dn = NULL;
    g_autofree char *escaped = NULL;
    VhPkiCertSpec spec;
    int status = 0;

    g_option_context_add_main_entries(ctx, entries, NULL);
    cert_options_add(ctx, &co, 3650);
    if (!parse(ctx, &argc, &argv, &status) ||
        !cert_options_check(ctx, &co, &status)) {
        return status;
    }
    if (argc != 2) {
        return usage_error(ctx, "init-ca takes exactly one DIR");
    }
    escaped = dn_escape(cn ? cn : "vmhost CA");
    dn = g_strdup_printf("CN=%s", escaped);
    vh_pki_cert_spec_init_ca(&spec, dn, co.days);
    if (!ensure_dir(argv[1], &err) ||
        !refuse_overwrite(argv[1], co.force, &err, co.files->ca_cert,
                          co.files->ca_key, NULL) ||
        !(key = vh_pki_key_generate(co.type, &err)) ||
        !(crt = vh_pki_cert_create(&spec, key, NULL, NULL, &err)) ||
        !write_pair(argv[1], co.files->ca_cert, co.files->ca_key, crt, key,
                    &err)) {
        return fail(err);
    }
    return 0;
}

/* ---- issue ------------------------------------------------------------ */

/* Load DIR's CA and check that its key belongs to it. */
static bool load_ca(const char *dir, const VhPkiLayoutFiles *files,
                    gnutls_x509_crt_t *ca, VhPkiKey **key, GError **errp)
{
    g_autofree char *cert_path = g_build_filename(dir, files->ca_cert, NULL);
    g_autofree char *key_path = g_build_filename(dir, files->ca_key, NULL);

    *ca = vh_pki_cert_load(cert_path, errp);
    if (!*ca) {
        return false;
    }
    *key = vh_pki_key_load(key_path, errp);
    if (!*key) {
        return false;
    }
    if (!vh_x509_key_matches_cert(*ca, vh_pki_key_get_x509(*key))) {
        g_set_error(errp, VH_ERROR, VH_ERROR_CERT_FILE, "%s does not match %s",
                    key_path, cert_path);
        return false;
    }
    return true;
}

/* A leaf libvirt's clients will refuse: say so before making it. */
static void warn_libvirt_key_type(const CertOptions *co)
{
    if (co->layout == VH_PKI_LAYOUT_LIBVIRT &&
        co->type != VH_PKI_KEY_RSA_2048 && co->type != VH_PKI_KEY_RSA_3072) {
        fprintf(stderr,
                "vmhost-pki: warning: %s certificates have no "
                "keyEncipherment key usage, and Debian 12's libvirt "
                "clients (9.0) refuse them; use rsa-3072 for libvirt\n",
                vh_pki_key_type_name(co->type));
    }
}

static bool refuse_pkipath(const char *pkipath, bool force, GError **errp)
{
    const VhPkiLayoutFiles *flat = vh_pki_layout_files(VH_PKI_LAYOUT_PKIPATH);

    return refuse_overwrite(pkipath, force, errp, flat->ca_cert,
                            flat->client_cert, flat->client_key, NULL);
}

/*
 * A client's ?pkipath= directory: the CA, the certificate and its key
 * side by side, as libvirt's clients want them (all three must be there).
 */
static bool write_pkipath(const char *pkipath, gnutls_x509_crt_t ca,
                          gnutls_x509_crt_t crt, VhPkiKey *key, GError **errp)
{
    const VhPkiLayoutFiles *flat = vh_pki_layout_files(VH_PKI_LAYOUT_PKIPATH);
    g_autofree char *ca_path = g_build_filename(pkipath, flat->ca_cert, NULL);

    if (!ensure_dir_mode(pkipath, 0700, errp) ||
        !vh_pki_cert_save(ca_path, &ca, 1, true, errp) ||
        !write_pair(pkipath, flat->client_cert, flat->client_key, crt, key,
                    errp)) {
        return false;
    }
    printf("wrote %s\n", ca_path);
    return true;
}

static int cmd_issue(int argc, char **argv)
{
    g_auto(GStrv) hostnames = NULL;
    g_auto(GStrv) ips = NULL;
    g_autofree char *dn_opt = NULL;
    g_autofree char *pkipath = NULL;
    g_auto(CertOptions) co = {0};
    GOptionEntry entries[] = {
        {"hostname", 0, 0, G_OPTION_ARG_STRING_ARRAY, &hostnames,
         "Server DNS name (repeatable; the first is the CN)", "NAME"},
        {"ip", 0, 0, G_OPTION_ARG_STRING_ARRAY, &ips,
         "Server IP address (repeatable)", "ADDR"},
        {"dn", 0, 0, G_OPTION_ARG_STRING, &dn_opt,
         "Client subject DN, e.g. C=UK,O=vmhost,CN=client1", "DN"},
        {"pkipath", 0, 0, G_OPTION_ARG_FILENAME, &pkipath,
         "With --layout libvirt: the client's ?pkipath=PDIR directory "
         "(default DIR/" PKIPATH_DIR ")",
         "PDIR"},
        {NULL},
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new(
        "server|client DIR - issue a certificate signed by DIR's CA");
    g_autoptr(GError) err = NULL;
    g_autoptr(VhPkiKey) cakey = NULL;
    g_autoptr(VhPkiKey) key = NULL;
    g_auto(gnutls_x509_crt_t) ca = NULL;
    g_auto(gnutls_x509_crt_t) crt = NULL;
    g_autofree char *dn = NULL;
    const char *dir, *cert_name, *key_name;
    bool server;
    VhPkiCertSpec spec;
    int status = 0;

    g_option_context_add_main_entries(ctx, entries, NULL);
    cert_options_add(ctx, &co, 365);
    if (!parse(ctx, &argc, &argv, &status) ||
        !cert_options_check(ctx, &co, &status)) {
        return status;
    }
    if (argc != 3 ||
        (!g_str_equal(argv[1], "server") && !g_str_equal(argv[1], "client"))) {
        return usage_error(ctx, "expected: issue server|client DIR");
    }
    server = g_str_equal(argv[1], "server");
    dir = argv[2];
    if (server && (!hostnames || !hostnames[0])) {
        return usage_error(ctx, "issue server needs at least one --hostname");
    }
    if (server && dn_opt) {
        return usage_error(ctx, "--dn is for client certificates; a server's "
                                "CN is its first --hostname");
    }
    if (!server && (!dn_opt || !dn_opt[0])) {
        return usage_error(ctx, "issue client needs --dn");
    }
    if (!server && (hostnames || ips)) {
        return usage_error(ctx, "--hostname and --ip are for server "
                                "certificates");
    }
    if (pkipath && (server || co.layout != VH_PKI_LAYOUT_LIBVIRT)) {
        return usage_error(ctx, "--pkipath is for issue client --layout "
                                "libvirt");
    }
    if (!server && co.layout == VH_PKI_LAYOUT_LIBVIRT && !pkipath) {
        pkipath = g_build_filename(dir, PKIPATH_DIR, NULL);
    }
    warn_libvirt_key_type(&co);

    if (server) {
        g_autofree char *escaped = dn_escape(hostnames[0]);
        dn = g_strdup_printf("CN=%s", escaped);
        vh_pki_cert_spec_init_server(&spec, dn, co.type,
                                     (const char *const *)hostnames,
                                     (const char *const *)ips, co.days);
        cert_name = co.files->server_cert;
        key_name = co.files->server_key;
    } else {
        vh_pki_cert_spec_init_client(&spec, dn_opt, co.type, co.days);
        cert_name = co.files->client_cert;
        key_name = co.files->client_key;
    }
    if (!refuse_overwrite(dir, co.force, &err, cert_name, key_name, NULL) ||
        (pkipath && !refuse_pkipath(pkipath, co.force, &err)) ||
        !load_ca(dir, co.files, &ca, &cakey, &err) ||
        !(key = vh_pki_key_generate(co.type, &err)) ||
        !(crt = vh_pki_cert_create(&spec, key, ca, cakey, &err)) ||
        !write_pair(dir, cert_name, key_name, crt, key, &err) ||
        (pkipath && !write_pkipath(pkipath, ca, crt, key, &err))) {
        return fail(err);
    }
    return 0;
}

/* ---- validate --------------------------------------------------------- */

typedef struct {
    VhX509Report *report;
    const char *dir;
    VhPkiLayout layout;
    const VhPkiLayoutFiles *files;
    bool for_libvirt; /* libvirt's peers will use it (--for libvirt) */
    bool server;
    gnutls_x509_crt_t *cas;
    size_t ncas;
    char *ca_path;
} Validation;

static char *vpath(const Validation *v, const char *name)
{
    return g_build_filename(v->dir, name, NULL);
}

/* PASS when @path is a readable file; FAIL (or nothing if optional). */
static bool check_file(Validation *v, const char *path, bool required)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *data = NULL;
    gsize len = 0;

    if (!g_file_test(path, G_FILE_TEST_EXISTS)) {
        if (required) {
            vh_x509_report_add(v->report, VH_X509_CHECK_FAIL, "files",
                               "%s is missing", path);
        }
        return false;
    }
    /* the way the credentials object reads it: a FIFO must not hang us */
    if (!vh_file_read_regular(path, VH_FILE_MAX_CREDENTIALS, VH_FILE_READ_TEXT,
                              &data, &len, &err)) {
        vh_x509_report_add(v->report, VH_X509_CHECK_FAIL, "files", "%s",
                           err->message);
        return false;
    }
    explicit_bzero(data, len); /* it may be a private key */
    vh_x509_report_add(v->report, VH_X509_CHECK_PASS, "files",
                       "%s is present and readable", path);
    return true;
}

/* The rule the credentials object applies too (x509-check.h). */
static void check_key_mode(Validation *v, const char *path)
{
    vh_x509_check_key_permissions(v->report, path);
}

static void check_hostname(Validation *v, const char *cert_path,
                           gnutls_x509_crt_t leaf, const char *hostname)
{
    g_autofree char *dn = vh_x509_get_dn(leaf, NULL);

    if (gnutls_x509_crt_check_hostname(leaf, hostname)) {
        vh_x509_report_add(v->report, VH_X509_CHECK_PASS, "hostname",
                           "%s (%s): matches hostname '%s'", cert_path,
                           dn ? dn : "?", hostname);
    } else {
        vh_x509_report_add(v->report, VH_X509_CHECK_FAIL, "hostname",
                           "%s (%s): does not match hostname '%s' (neither "
                           "its DNS/IP alternative names nor its CN)",
                           cert_path, dn ? dn : "?", hostname);
    }
}

/* One identity: cert + key files, then every sanity check on the chain. */
static void validate_identity(Validation *v, const char *cert_name,
                              const char *key_name, const char *hostname)
{
    g_autofree char *cert_path = vpath(v, cert_name);
    g_autofree char *key_path = vpath(v, key_name);
    g_autoptr(GError) err = NULL;
    g_autoptr(VhPkiKey) key = NULL;
    gnutls_x509_crt_t *certs = NULL;
    size_t n = 0;
    bool have_cert = check_file(v, cert_path, true);
    bool have_key = check_file(v, key_path, true);

    if (have_key) {
        check_key_mode(v, key_path);
        key = vh_pki_key_load(key_path, &err);
        if (!key) {
            vh_x509_report_add(v->report, VH_X509_CHECK_FAIL, "parse", "%s",
                               err->message);
            g_clear_error(&err);
        }
    }
    if (!have_cert) {
        return;
    }
    if (!vh_pki_cert_load_all(cert_path, &certs, &n, &err)) {
        vh_x509_report_add(v->report, VH_X509_CHECK_FAIL, "parse", "%s",
                           err->message);
        return;
    }
    if (key && vh_x509_key_matches_cert(certs[0], vh_pki_key_get_x509(key))) {
        vh_x509_report_add(v->report, VH_X509_CHECK_PASS, "key-match",
                           "%s matches %s", key_name, cert_name);
    } else if (key) {
        vh_x509_report_add(v->report, VH_X509_CHECK_FAIL, "key-match",
                           "%s does not match %s in %s", key_name, cert_name,
                           v->dir);
    }
    if (v->cas) {
        VhX509CheckInput in = {
            .is_server = v->server,
            .cert_file = cert_path,
            .certs = certs,
            .ncerts = n,
            .ca_file = v->ca_path,
            .cas = v->cas,
            .ncas = v->ncas,
            .warn_expiry_days = EXPIRY_WARN_DAYS,
            .for_libvirt = v->for_libvirt,
        };
        vh_x509_check_identity(v->report, &in);
    }
    if (hostname) {
        check_hostname(v, cert_path, certs[0], hostname);
    }
    vh_pki_cert_list_free(certs, n);
}

static void validate_ca(Validation *v)
{
    g_autoptr(GError) err = NULL;

    v->ca_path = vpath(v, v->files->ca_cert);
    if (!check_file(v, v->ca_path, true)) {
        return;
    }
    if (!vh_pki_cert_load_all(v->ca_path, &v->cas, &v->ncas, &err)) {
        vh_x509_report_add(v->report, VH_X509_CHECK_FAIL, "parse", "%s",
                           err->message);
        return;
    }
    vh_x509_report_add(v->report, VH_X509_CHECK_PASS, "parse",
                       "%s holds %zu CA certificate%s", v->ca_path, v->ncas,
                       v->ncas == 1 ? "" : "s");
}

static void validate_optional(Validation *v, const char *name)
{
    g_autofree char *path = vpath(v, name);

    check_file(v, path, false);
}

static void validate_dir(Validation *v, const char *hostname)
{
    struct stat st;
    int err = 0;

    if (g_stat(v->dir, &st) < 0) {
        err = errno;
    } else if (!S_ISDIR(st.st_mode)) {
        err = ENOTDIR;
    }
    if (err) {
        vh_x509_report_add(v->report, VH_X509_CHECK_FAIL, "files",
                           "%s is not an accessible directory: %s", v->dir,
                           g_strerror(err));
        return;
    }
    validate_ca(v);
    if (v->server) {
        validate_identity(v, v->files->server_cert, v->files->server_key,
                          hostname);
        if (v->layout != VH_PKI_LAYOUT_QEMU) {
            /* libvirt has one identity, no DH parameters file */
            validate_optional(v, v->files->ca_crl);
            return;
        }
        for (int i = 0; i < VH_TLS_X509_MAX_EXTRA_IDENTITIES; i++) {
            g_autofree char *cert = g_strdup_printf("server-cert-%d.pem", i);
            g_autofree char *key = g_strdup_printf("server-key-%d.pem", i);
            g_autofree char *path = vpath(v, cert);
            if (!g_file_test(path, G_FILE_TEST_EXISTS)) {
                break;
            }
            validate_identity(v, cert, key, hostname);
        }
        validate_optional(v, VH_TLS_X509_CA_CRL);
        validate_optional(v, VH_TLS_X509_DH_PARAMS);
        return;
    }
    {
        g_autofree char *cert = vpath(v, v->files->client_cert);
        g_autofree char *key = vpath(v, v->files->client_key);
        bool have_cert = g_file_test(cert, G_FILE_TEST_EXISTS);
        bool have_key = g_file_test(key, G_FILE_TEST_EXISTS);

        if (have_cert || have_key || v->layout != VH_PKI_LAYOUT_QEMU) {
            /* libvirt's clients always present one */
            validate_identity(v, v->files->client_cert, v->files->client_key,
                              NULL);
        } else {
            vh_x509_report_add(v->report, VH_X509_CHECK_PASS, "files",
                               "no %s/%s: the client presents no "
                               "certificate",
                               v->files->client_cert, v->files->client_key);
        }
    }
}

static void print_text(VhX509Report *report)
{
    GPtrArray *items = vh_x509_report_get_items(report);

    for (guint i = 0; i < items->len; i++) {
        VhX509CheckItem *item = g_ptr_array_index(items, i);
        printf("%s %-17s %s\n", vh_x509_check_status_name(item->status),
               item->check, item->message);
    }
}

static void print_json(VhX509Report *report, const char *dir,
                       const char *endpoint)
{
    GPtrArray *items = vh_x509_report_get_items(report);
    g_autoptr(JsonBuilder) b = json_builder_new();
    g_autoptr(JsonGenerator) gen = json_generator_new();
    g_autoptr(JsonNode) root = NULL;
    g_autofree char *text = NULL;
    unsigned int counts[3] = {0, 0, 0};

    json_builder_begin_object(b);
    json_builder_set_member_name(b, "dir");
    json_builder_add_string_value(b, dir);
    json_builder_set_member_name(b, "endpoint");
    json_builder_add_string_value(b, endpoint);
    json_builder_set_member_name(b, "checks");
    json_builder_begin_array(b);
    for (guint i = 0; i < items->len; i++) {
        VhX509CheckItem *item = g_ptr_array_index(items, i);
        counts[item->status]++;
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "status");
        json_builder_add_string_value(b,
                                      vh_x509_check_status_name(item->status));
        json_builder_set_member_name(b, "check");
        json_builder_add_string_value(b, item->check);
        json_builder_set_member_name(b, "message");
        json_builder_add_string_value(b, item->message);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
    json_builder_set_member_name(b, "pass");
    json_builder_add_int_value(b, counts[VH_X509_CHECK_PASS]);
    json_builder_set_member_name(b, "warn");
    json_builder_add_int_value(b, counts[VH_X509_CHECK_WARN]);
    json_builder_set_member_name(b, "fail");
    json_builder_add_int_value(b, counts[VH_X509_CHECK_FAIL]);
    json_builder_set_member_name(b, "ok");
    json_builder_add_boolean_value(b, counts[VH_X509_CHECK_FAIL] == 0);
    json_builder_end_object(b);

    root = json_builder_get_root(b);
    json_generator_set_root(gen, root);
    json_generator_set_pretty(gen, TRUE);
    text = json_generator_to_data(gen, NULL);
    printf("%s\n", text);
}

static int cmd_validate(int argc, char **argv)
{
    g_autofree char *endpoint = NULL;
    g_autofree char *hostname = NULL;
    g_autofree char *layout_name = NULL;
    g_autofree char *for_name = NULL;
    gboolean json = FALSE;
    GOptionEntry entries[] = {
        {"endpoint", 0, 0, G_OPTION_ARG_STRING, &endpoint,
         "Which side DIR is for (required)", "server|client"},
        {"hostname", 0, 0, G_OPTION_ARG_STRING, &hostname,
         "Check that the server certificate matches NAME", "NAME"},
        {"json", 0, 0, G_OPTION_ARG_NONE, &json, "Print the checks as JSON",
         NULL},
        {"layout", 0, 0, G_OPTION_ARG_STRING, &layout_name,
         "qemu (default), libvirt (DIR/CA/..., DIR/libvirt/...) or pkipath "
         "(a client's ?pkipath= directory)",
         "LAYOUT"},
        {"for", 0, 0, G_OPTION_ARG_STRING, &for_name,
         "Who uses the certificates: qemu (default with --layout qemu) or "
         "libvirt (default otherwise: also warn about what libvirt's "
         "clients refuse)",
         "qemu|libvirt"},
        {NULL},
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new(
        "DIR - check a credentials directory as tls-creds-x509 would");
    g_autoptr(VhX509Report) report = NULL;
    Validation v = {0};
    int status = 0;
    bool failed;

    g_option_context_add_main_entries(ctx, entries, NULL);
    if (!parse(ctx, &argc, &argv, &status)) {
        return status;
    }
    if (argc != 2) {
        return usage_error(ctx, "validate takes exactly one DIR");
    }
    if (!endpoint || (!g_str_equal(endpoint, "server") &&
                      !g_str_equal(endpoint, "client"))) {
        return usage_error(ctx, "--endpoint server|client is required");
    }
    if (hostname && !g_str_equal(endpoint, "server")) {
        return usage_error(ctx, "--hostname checks a server certificate: "
                                "use it with --endpoint server");
    }
    if (!layout_parse(ctx, layout_name, &v.layout, &status)) {
        return status;
    }
    v.files = vh_pki_layout_files(v.layout);
    if (for_name && !g_str_equal(for_name, "qemu") &&
        !g_str_equal(for_name, "libvirt")) {
        return usage_error(ctx, "--for takes qemu or libvirt, not '%s'",
                           for_name);
    }
    v.for_libvirt = for_name ? g_str_equal(for_name, "libvirt")
                             : v.layout != VH_PKI_LAYOUT_QEMU;

    report = vh_x509_report_new(VH_X509_REPORT_COLLECT_ALL);
    v.report = report;
    v.dir = argv[1];
    v.server = g_str_equal(endpoint, "server");
    validate_dir(&v, hostname);
    vh_pki_cert_list_free(v.cas, v.ncas);
    g_free(v.ca_path);

    failed = vh_x509_report_failed(report);
    if (json) {
        print_json(report, argv[1], endpoint);
    } else {
        print_text(report);
        printf("%s: %s\n", argv[1], failed ? "FAILED" : "OK (no check failed)");
    }
    return failed ? 1 : 0;
}

/* ---- show-dn ---------------------------------------------------------- */

static int cmd_show_dn(int argc, char **argv)
{
    g_autoptr(GOptionContext) ctx = g_option_context_new(
        "FILE - print the certificate's subject DN as tls-authz sees it");
    g_autoptr(GError) err = NULL;
    g_auto(gnutls_x509_crt_t) crt = NULL;
    g_autofree char *dn = NULL;
    int status = 0;

    if (!parse(ctx, &argc, &argv, &status)) {
        return status;
    }
    if (argc != 2) {
        return usage_error(ctx, "show-dn takes exactly one FILE");
    }
    crt = vh_pki_cert_load(argv[1], &err);
    if (!crt || !(dn = vh_x509_get_dn(crt, &err))) {
        return fail(err);
    }
    printf("%s\n", dn);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*run)(int argc, char **argv);
    } commands[] = {
        {"init-ca", cmd_init_ca},
        {"issue", cmd_issue},
        {"validate", cmd_validate},
        {"show-dn", cmd_show_dn},
    };

    g_set_prgname("vmhost-pki");
    if (argc < 2) {
        return usage_error(NULL, "no command given");
    }
    if (g_str_equal(argv[1], "--help") || g_str_equal(argv[1], "-h") ||
        g_str_equal(argv[1], "help")) {
        printf("Usage: vmhost-pki COMMAND ...\n\n%s\n", usage_summary);
        return 0;
    }
    for (size_t i = 0; i < G_N_ELEMENTS(commands); i++) {
        if (g_str_equal(argv[1], commands[i].name)) {
            g_autofree char *prgname =
                g_strdup_printf("vmhost-pki %s", commands[i].name);
            /* The command sees itself as argv[0]. */
            g_set_prgname(prgname);
            return commands[i].run(argc - 1, argv + 1);
        }
    }
    return usage_error(NULL, "unknown command '%s'", argv[1]);
}
