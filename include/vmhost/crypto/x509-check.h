/*
 * X.509 sanity checks, as QEMU runs them when x509 credentials are loaded
 * (docs/compat-qemu.md), written once and used twice: the
 * credentials objects stop at the first failure, `vmhost-pki validate`
 * collects every check as a PASS/WARN/FAIL item.
 *
 *     g_autoptr(VhX509Report) report = vh_x509_report_new(
 *         VH_X509_REPORT_STOP_AT_FAIL);
 *     VhX509CheckInput in = {
 *         .is_server = true,
 *         .cert_file = "/d/server-cert.pem", .certs = chain, .ncerts = n,
 *         .ca_file = "/d/ca-cert.pem", .cas = cas, .ncas = ncas,
 *     };
 *     if (!vh_x509_check_identity(report, &in)) {
 *         return vh_x509_report_propagate(report, errp);
 *     }
 *
 * Every message names the file, the certificate's subject DN and the rule:
 * "/d/server-cert.pem (CN=host1): key purpose is critical and lacks TLS WWW
 * server".
 */
#pragma once

#include <glib.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdbool.h>
#include <time.h>

#include "vmhost/util/error.h"

G_BEGIN_DECLS

typedef enum {
    VH_X509_CHECK_PASS,
    VH_X509_CHECK_WARN,
    VH_X509_CHECK_FAIL,
} VhX509CheckStatus;

/* "PASS", "WARN" or "FAIL". */
const char *vh_x509_check_status_name(VhX509CheckStatus status);

/* One check's outcome. */
typedef struct {
    VhX509CheckStatus status;
    char *check;   /* rule id: "validity", "basic-constraints", ... */
    char *message; /* full sentence: file, subject and why */
} VhX509CheckItem;

typedef enum {
    /* Record only the first FAIL (and nothing else); checks then stop. */
    VH_X509_REPORT_STOP_AT_FAIL,
    /* Record every PASS/WARN/FAIL item and carry on after failures. */
    VH_X509_REPORT_COLLECT_ALL,
} VhX509ReportMode;

typedef struct _VhX509Report VhX509Report;

VhX509Report *vh_x509_report_new(VhX509ReportMode mode);
void vh_x509_report_free(VhX509Report *report);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VhX509Report, vh_x509_report_free)

/*
 * Add an item (callers such as vmhost-pki add their own checks: files,
 * permissions, hostname). In STOP_AT_FAIL mode PASS/WARN are dropped and
 * only the first FAIL is kept.
 */
void vh_x509_report_add(VhX509Report *report, VhX509CheckStatus status,
                        const char *check, const char *fmt, ...)
    G_GNUC_PRINTF(4, 5);
/* True once any FAIL was added. */
bool vh_x509_report_failed(VhX509Report *report);
/* True when checks should stop (STOP_AT_FAIL mode after a FAIL). */
bool vh_x509_report_should_stop(VhX509Report *report);
/* The items in order (borrowed; VhX509CheckItem *). */
GPtrArray *vh_x509_report_get_items(VhX509Report *report);
/*
 * Set @errp from the first FAIL (VH_ERROR_CERT_CHECK, its message) and
 * return false; returns true and leaves @errp alone when nothing failed.
 */
bool vh_x509_report_propagate(VhX509Report *report, GError **errp);

/* What to check: a node's own chain against its CA bundle. */
typedef struct {
    bool is_server;        /* leaf must be a server (else client) */
    const char *cert_file; /* for messages, e.g. ".../server-cert.pem" */
    const gnutls_x509_crt_t *certs; /* leaf first, then intermediates */
    size_t ncerts;
    const char *ca_file;          /* for messages: ".../ca-cert.pem" */
    const gnutls_x509_crt_t *cas; /* every CA in ca-cert.pem */
    size_t ncas;
    time_t now; /* 0: time(NULL) */
    /* WARN when a certificate expires within this many days (0: never). */
    unsigned int warn_expiry_days;
    /*
     * The chain is for libvirt's peers (vmhostd's own certificates, and
     * `vmhost-pki validate --for libvirt`): check "libvirt-key-usage" WARNs
     * when the leaf's key usage lacks keyEncipherment, naming the file and
     * the reason: Debian 12's libvirt (9.0), client and daemon, refuses such
     * a certificate when the extension is critical ("usage does not permit
     * key encipherment") and logs a warning when it is not. Leave it false
     * for QEMU's uses, where an ECDSA certificate without it is right.
     */
    bool for_libvirt;
} VhX509CheckInput;

/*
 * Run every sanity rule on the chain in @in: validity times, basic
 * constraints, key usage, key purpose (leaf only; with for_libvirt also
 * libvirt's keyEncipherment rule), chain order in the own
 * file, a path to a self-signed root through ca_file (only CAs on that path
 * are checked), and a final GnuTLS verification of the chain against all
 * CAs. Returns false when something FAILed.
 */
bool vh_x509_check_identity(VhX509Report *report, const VhX509CheckInput *in);

/*
 * Who may read the private key @key_file (check "key-permissions"; a rule
 * of vmhost's own, QEMU has none): FAIL when others may read or write it
 * ("... is accessible by others (mode 0644): chmod 600 it"), WARN when its
 * group may (fine when that group is the service's own), PASS otherwise.
 * Nothing is added when the file cannot be stat()ed (the read reports
 * that). vmhost-pki validate shows every item; tls-creds-x509 acts on the
 * FAIL only (a warning, or an error with sanity-check=strict).
 */
void vh_x509_check_key_permissions(VhX509Report *report, const char *key_file);

/*
 * The subject DN exactly as authz sees it: gnutls_x509_crt_get_dn()'s string,
 * RDNs in certificate order, e.g. "C=UK,O=vmhost,CN=qemu" for a certificate
 * made by certtool with country, organization and cn (transfer full). NULL
 * with an error when the DN cannot be read.
 */
G_GNUC_WARN_UNUSED_RESULT
char *vh_x509_get_dn(gnutls_x509_crt_t crt, GError **errp);

/* True when @key is the private half of @crt's public key. */
bool vh_x509_key_matches_cert(gnutls_x509_crt_t crt, gnutls_x509_privkey_t key);

G_END_DECLS
