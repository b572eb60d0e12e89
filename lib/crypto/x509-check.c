#include "vmhost/crypto/x509-check.h"

#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>

#define SECONDS_PER_DAY (24 * 60 * 60)

struct _VhX509Report {
    VhX509ReportMode mode;
    GPtrArray *items; /* VhX509CheckItem * */
    bool failed;
};

const char *vh_x509_check_status_name(VhX509CheckStatus status)
{
    switch (status) {
    case VH_X509_CHECK_PASS:
        return "PASS";
    case VH_X509_CHECK_WARN:
        return "WARN";
    case VH_X509_CHECK_FAIL:
        return "FAIL";
    default:
        return "????";
    }
}

static void item_free(gpointer p)
{
    VhX509CheckItem *item = p;

    g_free(item->check);
    g_free(item->message);
    g_free(item);
}

VhX509Report *vh_x509_report_new(VhX509ReportMode mode)
{
    VhX509Report *report = g_new0(VhX509Report, 1);

    report->mode = mode;
    report->items = g_ptr_array_new_with_free_func(item_free);
    return report;
}

void vh_x509_report_free(VhX509Report *report)
{
    if (report) {
        g_ptr_array_unref(report->items);
        g_free(report);
    }
}

static void report_addv(VhX509Report *report, VhX509CheckStatus status,
                        const char *check, const char *fmt, va_list ap)
    G_GNUC_PRINTF(4, 0);

static void report_addv(VhX509Report *report, VhX509CheckStatus status,
                        const char *check, const char *fmt, va_list ap)
{
    VhX509CheckItem *item;

    if (vh_x509_report_should_stop(report)) {
        return;
    }
    if (status == VH_X509_CHECK_FAIL) {
        report->failed = true;
    } else if (report->mode == VH_X509_REPORT_STOP_AT_FAIL) {
        return;
    }
    item = g_new0(VhX509CheckItem, 1);
    item->status = status;
    item->check = g_strdup(check);
    item->message = g_strdup_vprintf(fmt, ap);
    g_ptr_array_add(report->items, item);
}

void vh_x509_report_add(VhX509Report *report, VhX509CheckStatus status,
                        const char *check, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    report_addv(report, status, check, fmt, ap);
    va_end(ap);
}

bool vh_x509_report_failed(VhX509Report *report)
{
    return report->failed;
}

bool vh_x509_report_should_stop(VhX509Report *report)
{
    return report->failed && report->mode == VH_X509_REPORT_STOP_AT_FAIL;
}

GPtrArray *vh_x509_report_get_items(VhX509Report *report)
{
    return report->items;
}

bool vh_x509_report_propagate(VhX509Report *report, GError **errp)
{
    for (guint i = 0; i < report->items->len; i++) {
        VhX509CheckItem *item = g_ptr_array_index(report->items, i);
        if (item->status == VH_X509_CHECK_FAIL) {
            g_set_error_literal(errp, VH_ERROR, VH_ERROR_CERT_CHECK,
                                item->message);
            return false;
        }
    }
    return true;
}

char *vh_x509_get_dn(gnutls_x509_crt_t crt, GError **errp)
{
    gnutls_datum_t dn = {NULL, 0};
    /* COMPAT is gnutls_x509_crt_get_dn()'s format: certificate order. */
    int rc = gnutls_x509_crt_get_dn3(crt, &dn, GNUTLS_X509_DN_FLAG_COMPAT);
    char *s;

    if (rc < 0) {
        g_set_error(errp, VH_ERROR, VH_ERROR_CERT_CHECK,
                    "Unable to read the certificate's subject DN: %s",
                    gnutls_strerror(rc));
        return NULL;
    }
    s = g_strndup((const char *)dn.data, dn.size);
    gnutls_free(dn.data);
    return s;
}

/* State of one vh_x509_check_identity() run. */
typedef struct {
    VhX509Report *report;
    const VhX509CheckInput *in;
    time_t now;
} CheckCtx;

/* How one certificate is checked: where it came from and its role. */
typedef struct {
    gnutls_x509_crt_t crt;
    const char *file;
    bool is_ca;
    bool is_leaf;
    char *who; /* "FILE (DN)" for messages */
} CertRef;

static char *format_time(time_t t)
{
    g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc(t);

    return dt ? g_date_time_format(dt, "%Y-%m-%d %H:%M:%S UTC")
              : g_strdup_printf("@%lld", (long long)t);
}

static const char *role_name(const CheckCtx *ctx, const CertRef *ref)
{
    if (ref->is_ca) {
        return "CA certificate";
    }
    return ctx->in->is_server ? "server certificate" : "client certificate";
}

static void add(const CheckCtx *ctx, VhX509CheckStatus status,
                const char *check, const char *fmt, ...) G_GNUC_PRINTF(4, 5);

static void add(const CheckCtx *ctx, VhX509CheckStatus status,
                const char *check, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    report_addv(ctx->report, status, check, fmt, ap);
    va_end(ap);
}

static void check_validity(const CheckCtx *ctx, const CertRef *ref)
{
    time_t act = gnutls_x509_crt_get_activation_time(ref->crt);
    time_t exp = gnutls_x509_crt_get_expiration_time(ref->crt);
    g_autofree char *act_s = format_time(act);
    g_autofree char *exp_s = format_time(exp);
    unsigned int warn_days = ctx->in->warn_expiry_days;

    if (act == (time_t)-1 || exp == (time_t)-1) {
        add(ctx, VH_X509_CHECK_FAIL, "validity",
            "%s: cannot read the validity times of the %s", ref->who,
            role_name(ctx, ref));
    } else if (exp < ctx->now) {
        add(ctx, VH_X509_CHECK_FAIL, "validity",
            "%s: the %s has expired (notAfter %s)", ref->who,
            role_name(ctx, ref), exp_s);
    } else if (act > ctx->now) {
        add(ctx, VH_X509_CHECK_FAIL, "validity",
            "%s: the %s is not yet active (notBefore %s)", ref->who,
            role_name(ctx, ref), act_s);
    } else if (warn_days &&
               exp - ctx->now < (time_t)warn_days * SECONDS_PER_DAY) {
        add(ctx, VH_X509_CHECK_WARN, "validity",
            "%s: the %s expires within %u days (notAfter %s)", ref->who,
            role_name(ctx, ref), warn_days, exp_s);
    } else {
        add(ctx, VH_X509_CHECK_PASS, "validity", "%s: the %s is valid until %s",
            ref->who, role_name(ctx, ref), exp_s);
    }
}

static void check_basic_constraints(const CheckCtx *ctx, const CertRef *ref)
{
    unsigned int critical = 0, ca = 0;
    int pathlen = -1;
    int rc = gnutls_x509_crt_get_basic_constraints(ref->crt, &critical, &ca,
                                                   &pathlen);

    if (rc == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE) {
        if (ref->is_ca) {
            add(ctx, VH_X509_CHECK_FAIL, "basic-constraints",
                "%s: the CA certificate has no basic constraints", ref->who);
        } else {
            add(ctx, VH_X509_CHECK_PASS, "basic-constraints",
                "%s: the %s has no basic constraints (not a CA)", ref->who,
                role_name(ctx, ref));
        }
    } else if (rc < 0) {
        add(ctx, VH_X509_CHECK_FAIL, "basic-constraints",
            "%s: cannot read the basic constraints: %s", ref->who,
            gnutls_strerror(rc));
    } else if (ref->is_ca && !ca) {
        add(ctx, VH_X509_CHECK_FAIL, "basic-constraints",
            "%s: the CA certificate's basic constraints say it is not a CA",
            ref->who);
    } else if (!ref->is_ca && ca) {
        add(ctx, VH_X509_CHECK_FAIL, "basic-constraints",
            "%s: the %s is marked as a CA in its basic constraints", ref->who,
            role_name(ctx, ref));
    } else {
        add(ctx, VH_X509_CHECK_PASS, "basic-constraints",
            "%s: basic constraints fit a %s", ref->who, role_name(ctx, ref));
    }
}

static void check_key_usage(const CheckCtx *ctx, const CertRef *ref)
{
    unsigned int usage = 0, critical = 0;
    unsigned int needed =
        ref->is_ca ? GNUTLS_KEY_KEY_CERT_SIGN : GNUTLS_KEY_DIGITAL_SIGNATURE;
    const char *needed_name = ref->is_ca ? "keyCertSign" : "digitalSignature";
    int rc = gnutls_x509_crt_get_key_usage(ref->crt, &usage, &critical);

    if (rc == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE) {
        add(ctx, VH_X509_CHECK_PASS, "key-usage",
            "%s: no key usage extension (any usage allowed)", ref->who);
    } else if (rc < 0) {
        add(ctx, VH_X509_CHECK_FAIL, "key-usage",
            "%s: cannot read the key usage: %s", ref->who, gnutls_strerror(rc));
    } else if (usage & needed) {
        add(ctx, VH_X509_CHECK_PASS, "key-usage", "%s: key usage includes %s",
            ref->who, needed_name);
    } else if (critical) {
        add(ctx, VH_X509_CHECK_FAIL, "key-usage",
            "%s: key usage is critical and lacks %s", ref->who, needed_name);
    } else {
        add(ctx, VH_X509_CHECK_WARN, "key-usage",
            "%s: key usage lacks %s (allowed: the extension is not "
            "critical)",
            ref->who, needed_name);
    }
}

static void check_key_purpose(const CheckCtx *ctx, const CertRef *ref)
{
    const char *wanted = ctx->in->is_server ? GNUTLS_KP_TLS_WWW_SERVER
                                            : GNUTLS_KP_TLS_WWW_CLIENT;
    const char *wanted_name =
        ctx->in->is_server ? "TLS WWW server" : "TLS WWW client";
    bool found = false, any_critical = false;
    unsigned int i;

    for (i = 0;; i++) {
        char oid[256];
        size_t size = sizeof(oid);
        unsigned int critical = 0;
        int rc = gnutls_x509_crt_get_key_purpose_oid(ref->crt, i, oid, &size,
                                                     &critical);
        if (rc == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE) {
            break;
        }
        if (rc < 0) {
            add(ctx, VH_X509_CHECK_FAIL, "key-purpose",
                "%s: cannot read key purpose %u: %s", ref->who, i,
                gnutls_strerror(rc));
            return;
        }
        any_critical |= critical != 0;
        if (g_str_equal(oid, wanted) || g_str_equal(oid, GNUTLS_KP_ANY)) {
            found = true;
        }
    }

    if (i == 0) {
        add(ctx, VH_X509_CHECK_PASS, "key-purpose",
            "%s: no key purpose extension (any purpose allowed)", ref->who);
    } else if (found) {
        add(ctx, VH_X509_CHECK_PASS, "key-purpose", "%s: key purpose allows %s",
            ref->who, wanted_name);
    } else if (any_critical) {
        add(ctx, VH_X509_CHECK_FAIL, "key-purpose",
            "%s: key purpose is critical and lacks %s", ref->who, wanted_name);
    } else {
        add(ctx, VH_X509_CHECK_WARN, "key-purpose",
            "%s: key purpose lacks %s (allowed: the extension is not "
            "critical)",
            ref->who, wanted_name);
    }
}

/*
 * libvirt (9.0) wants keyEncipherment in every leaf's key usage, whatever
 * the key type: an error when the extension is critical, a warning when not.
 */
static void check_libvirt_key_usage(const CheckCtx *ctx, const CertRef *ref)
{
    unsigned int usage = 0, critical = 0;
    int rc = gnutls_x509_crt_get_key_usage(ref->crt, &usage, &critical);

    if (rc == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE) {
        add(ctx, VH_X509_CHECK_PASS, "libvirt-key-usage",
            "%s: no key usage extension, which libvirt's clients accept",
            ref->who);
    } else if (rc < 0) {
        return; /* check_key_usage() has reported it */
    } else if (usage & GNUTLS_KEY_KEY_ENCIPHERMENT) {
        add(ctx, VH_X509_CHECK_PASS, "libvirt-key-usage",
            "%s: key usage includes keyEncipherment, as libvirt's clients "
            "require",
            ref->who);
    } else if (critical) {
        add(ctx, VH_X509_CHECK_WARN, "libvirt-key-usage",
            "%s: key usage lacks keyEncipherment: Debian 12's libvirt "
            "clients (9.0) refuse it (\"usage does not permit key "
            "encipherment\"); use an RSA key with digitalSignature + "
            "keyEncipherment (vmhost-pki --layout libvirt)",
            ref->who);
    } else {
        add(ctx, VH_X509_CHECK_WARN, "libvirt-key-usage",
            "%s: key usage lacks keyEncipherment: Debian 12's libvirt "
            "clients (9.0) accept it only because the extension is not "
            "critical, and log a warning",
            ref->who);
    }
}

static char *describe(gnutls_x509_crt_t crt, const char *file)
{
    g_autofree char *dn = vh_x509_get_dn(crt, NULL);

    return g_strdup_printf("%s (%s)", file, dn ? dn : "unreadable DN");
}

static void check_cert(const CheckCtx *ctx, gnutls_x509_crt_t crt,
                       const char *file, bool is_ca, bool is_leaf)
{
    CertRef ref = {
        .crt = crt,
        .file = file,
        .is_ca = is_ca,
        .is_leaf = is_leaf,
        .who = describe(crt, file),
    };

    check_validity(ctx, &ref);
    check_basic_constraints(ctx, &ref);
    check_key_usage(ctx, &ref);
    if (is_leaf) {
        check_key_purpose(ctx, &ref);
    }
    if (is_leaf && ctx->in->for_libvirt) {
        check_libvirt_key_usage(ctx, &ref);
    }
    g_free(ref.who);
}

static bool is_self_signed(gnutls_x509_crt_t crt)
{
    return gnutls_x509_crt_check_issuer(crt, crt) != 0;
}

/* The CA in the bundle that issued @crt (other than @crt itself), or NULL. */
static gnutls_x509_crt_t find_issuer(const CheckCtx *ctx, gnutls_x509_crt_t crt)
{
    for (size_t i = 0; i < ctx->in->ncas; i++) {
        gnutls_x509_crt_t ca = ctx->in->cas[i];
        if (gnutls_x509_crt_check_issuer(crt, ca) &&
            (is_self_signed(crt) || !gnutls_x509_crt_equals(crt, ca))) {
            return ca;
        }
    }
    return NULL;
}

static void check_chain_order(const CheckCtx *ctx)
{
    const VhX509CheckInput *in = ctx->in;

    for (size_t i = 0; i + 1 < in->ncerts; i++) {
        g_autofree char *a = describe(in->certs[i], in->cert_file);
        g_autofree char *b = vh_x509_get_dn(in->certs[i + 1], NULL);

        if (gnutls_x509_crt_check_issuer(in->certs[i], in->certs[i + 1])) {
            add(ctx, VH_X509_CHECK_PASS, "chain-order",
                "%s: certificate %zu is issued by the next one (%s)", a, i,
                b ? b : "?");
        } else {
            add(ctx, VH_X509_CHECK_FAIL, "chain-order",
                "%s: certificate %zu is not issued by the next one in the "
                "file (%s): the chain must be sorted leaf first",
                a, i, b ? b : "?");
        }
    }
}

/*
 * From the top of the own chain, follow issuers through the CA bundle up to
 * a self-signed root, checking each CA on the way (and only those).
 */
static void check_ca_path(const CheckCtx *ctx)
{
    const VhX509CheckInput *in = ctx->in;
    gnutls_x509_crt_t top = in->certs[in->ncerts - 1];
    const char *file = in->cert_file;
    gnutls_x509_crt_t cur = top;

    for (size_t depth = 0; depth <= in->ncas; depth++) {
        gnutls_x509_crt_t issuer;
        g_autofree char *who = describe(cur, file);

        if (cur != top && is_self_signed(cur)) {
            return; /* reached the root */
        }
        issuer = find_issuer(ctx, cur);
        if (!issuer) {
            add(ctx, VH_X509_CHECK_FAIL, "issuer",
                "%s: has no issuer in CA chain %s", who, in->ca_file);
            return;
        }
        add(ctx, VH_X509_CHECK_PASS, "issuer", "%s: issued by a CA in %s", who,
            in->ca_file);
        if (gnutls_x509_crt_equals(issuer, cur)) {
            return; /* the own file ends with a root that is in the bundle */
        }
        check_cert(ctx, issuer, in->ca_file, true, false);
        if (vh_x509_report_should_stop(ctx->report)) {
            return;
        }
        cur = issuer;
        file = in->ca_file;
    }
    add(ctx, VH_X509_CHECK_FAIL, "issuer",
        "%s: the CA chain in %s does not end at a self-signed root",
        in->cert_file, in->ca_file);
}

static void check_verify(const CheckCtx *ctx)
{
    const VhX509CheckInput *in = ctx->in;
    g_autofree char *who = describe(in->certs[0], in->cert_file);
    unsigned int status = 0;
    gnutls_datum_t why = {NULL, 0};
    int rc = gnutls_x509_crt_list_verify(in->certs, in->ncerts, in->cas,
                                         in->ncas, NULL, 0, 0, &status);

    if (rc < 0) {
        add(ctx, VH_X509_CHECK_FAIL, "verify",
            "%s: cannot verify against %s: %s", who, in->ca_file,
            gnutls_strerror(rc));
        return;
    }
    if (status == 0) {
        add(ctx, VH_X509_CHECK_PASS, "verify", "%s: verifies against %s", who,
            in->ca_file);
        return;
    }
    gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &why,
                                                 0);
    add(ctx, VH_X509_CHECK_FAIL, "verify", "%s: does not verify against %s: %s",
        who, in->ca_file, why.data ? (const char *)why.data : "unknown reason");
    gnutls_free(why.data);
}

bool vh_x509_check_identity(VhX509Report *report, const VhX509CheckInput *in)
{
    CheckCtx ctx = {
        .report = report,
        .in = in,
        .now = in->now ? in->now : time(NULL),
    };

    g_return_val_if_fail(report && in, false);
    if (in->ncerts == 0) {
        return !vh_x509_report_failed(report);
    }
    /* Order first: in an unsorted file the roles below would be wrong. */
    check_chain_order(&ctx);
    for (size_t i = 0; i < in->ncerts; i++) {
        if (vh_x509_report_should_stop(report)) {
            return false;
        }
        check_cert(&ctx, in->certs[i], in->cert_file, i > 0, i == 0);
    }
    if (!vh_x509_report_should_stop(report)) {
        check_ca_path(&ctx);
    }
    if (!vh_x509_report_should_stop(report)) {
        check_verify(&ctx);
    }
    return !vh_x509_report_failed(report);
}

bool vh_x509_key_matches_cert(gnutls_x509_crt_t crt, gnutls_x509_privkey_t key)
{
    unsigned char a[64], b[64];
    size_t alen = sizeof(a), blen = sizeof(b);

    if (gnutls_x509_crt_get_key_id(crt, GNUTLS_KEYID_USE_SHA256, a, &alen) <
            0 ||
        gnutls_x509_privkey_get_key_id(key, GNUTLS_KEYID_USE_SHA256, b, &blen) <
            0) {
        return false;
    }
    return alen == blen && memcmp(a, b, alen) == 0;
}

void vh_x509_check_key_permissions(VhX509Report *report, const char *key_file)
{
    struct stat st;
    unsigned int mode;

    if (stat(key_file, &st) < 0) {
        return;
    }
    mode = st.st_mode & 07777;
    if (st.st_mode & (S_IROTH | S_IWOTH)) {
        vh_x509_report_add(report, VH_X509_CHECK_FAIL, "key-permissions",
                           "%s is accessible by others (mode %04o): chmod "
                           "600 it",
                           key_file, mode);
    } else if (st.st_mode & (S_IRGRP | S_IWGRP)) {
        vh_x509_report_add(report, VH_X509_CHECK_WARN, "key-permissions",
                           "%s is accessible by its group (mode %04o); fine "
                           "only if that group is the service's own",
                           key_file, mode);
    } else {
        vh_x509_report_add(report, VH_X509_CHECK_PASS, "key-permissions",
                           "%s is private to its owner (mode %04o)", key_file,
                           mode);
    }
}
