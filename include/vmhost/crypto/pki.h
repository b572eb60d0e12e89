/*
 * PKI generation on GnuTLS: private keys, X.509 certificates and CRLs, with
 * every extension under the caller's control so that tests can build any
 * certificate the sanity checks must accept or refuse, and operators (via
 * vmhost-pki) get sensible presets.
 *
 *     g_autoptr(VhPkiKey) cakey = vh_pki_key_generate(VH_PKI_KEY_ECDSA_P256,
 *                                                     errp);
 *     VhPkiCertSpec spec;
 *     vh_pki_cert_spec_init_ca(&spec, "C=UK,O=vmhost,CN=vmhost CA", 365);
 *     g_auto(gnutls_x509_crt_t) ca = vh_pki_cert_create(&spec, cakey,
 *                                                       NULL, NULL, errp);
 *
 *     const char *dns[] = {"host1.example.org", NULL};
 *     g_autoptr(VhPkiKey) key = vh_pki_key_generate(VH_PKI_KEY_ECDSA_P256,
 *                                                   errp);
 *     vh_pki_cert_spec_init_server(&spec, "C=UK,O=vmhost,CN=host1",
 *                                  vh_pki_key_get_type(key), dns, NULL, 365);
 *     g_auto(gnutls_x509_crt_t) crt = vh_pki_cert_create(&spec, key, ca,
 *                                                        cakey, errp);
 *     vh_pki_cert_save("server-cert.pem", &crt, 1, false, errp);
 *     vh_pki_key_save(key, "server-key.pem", false, errp);
 *
 * Certificates are plain gnutls_x509_crt_t (transfer full: release with
 * gnutls_x509_crt_deinit() or declare them g_auto(gnutls_x509_crt_t)).
 */
#pragma once

#include <glib.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdbool.h>
#include <time.h>

#include "vmhost/util/error.h"

G_BEGIN_DECLS

G_DEFINE_AUTO_CLEANUP_FREE_FUNC(gnutls_x509_crt_t, gnutls_x509_crt_deinit, NULL)
G_DEFINE_AUTO_CLEANUP_FREE_FUNC(gnutls_x509_crl_t, gnutls_x509_crl_deinit, NULL)

typedef enum {
    VH_PKI_KEY_ECDSA_P256, /* the default */
    VH_PKI_KEY_ECDSA_P384,
    VH_PKI_KEY_RSA_2048, /* for tests that need RSA quickly */
    VH_PKI_KEY_RSA_3072,
    VH_PKI_KEY_ED25519,
} VhPkiKeyType;

/* "ecdsa-p256", "ecdsa-p384", "rsa-2048", "rsa-3072", "ed25519". */
const char *vh_pki_key_type_name(VhPkiKeyType type);
/* Parse one of the names above; fails naming @name and the choices. */
G_GNUC_WARN_UNUSED_RESULT
bool vh_pki_key_type_from_name(const char *name, VhPkiKeyType *type,
                               GError **errp);

/*
 * Where a PKI's files go. QEMU's layout is one directory per endpoint
 * (tls-creds-x509's dir). libvirt's mirrors /etc/pki under one root DIR:
 * DIR/CA/cacert.pem (+ DIR/CA/private/cakey.pem, DIR/CA/cacrl.pem) and
 * DIR/libvirt/{server,client}cert.pem with the keys in DIR/libvirt/private/.
 * A pkipath directory is what libvirt's clients take as `?pkipath=DIR`
 * (and what ~/.pki/libvirt holds): every file flat in one directory.
 */
typedef enum {
    VH_PKI_LAYOUT_QEMU,
    VH_PKI_LAYOUT_LIBVIRT,
    VH_PKI_LAYOUT_PKIPATH,
} VhPkiLayout;

/* The file names of a layout, relative to its directory (static). */
typedef struct {
    const char *ca_cert;
    const char *ca_key; /* NULL: the layout keeps no CA key (pkipath) */
    const char *ca_crl;
    const char *server_cert;
    const char *server_key;
    const char *client_cert;
    const char *client_key;
} VhPkiLayoutFiles;

const VhPkiLayoutFiles *vh_pki_layout_files(VhPkiLayout layout);
/* "qemu", "libvirt", "pkipath". */
const char *vh_pki_layout_name(VhPkiLayout layout);
/* Parse one of the names above; fails naming @name and the choices. */
G_GNUC_WARN_UNUSED_RESULT
bool vh_pki_layout_from_name(const char *name, VhPkiLayout *layout,
                             GError **errp);

/* A private key (refcounted; wraps a gnutls_x509_privkey_t). */
typedef struct _VhPkiKey VhPkiKey;

G_GNUC_WARN_UNUSED_RESULT
VhPkiKey *vh_pki_key_generate(VhPkiKeyType type, GError **errp);
/* Load a PEM private key (PKCS#8 or the traditional RSA/EC formats). */
G_GNUC_WARN_UNUSED_RESULT
VhPkiKey *vh_pki_key_load(const char *path, GError **errp);
VhPkiKey *vh_pki_key_ref(VhPkiKey *key);
void vh_pki_key_unref(VhPkiKey *key);
VhPkiKeyType vh_pki_key_get_type(VhPkiKey *key);
/* Borrowed; valid while @key lives. */
gnutls_x509_privkey_t vh_pki_key_get_x509(VhPkiKey *key);
/* The key as unencrypted PKCS#8 PEM (transfer full). */
G_GNUC_WARN_UNUSED_RESULT
char *vh_pki_key_export_pem(VhPkiKey *key, GError **errp);
/*
 * Write the key as PEM to @path atomically with mode 0600. Fails if @path
 * exists unless @overwrite.
 */
G_GNUC_WARN_UNUSED_RESULT
bool vh_pki_key_save(VhPkiKey *key, const char *path, bool overwrite,
                     GError **errp);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(VhPkiKey, vh_pki_key_unref)

/* How an extension appears in a certificate. */
typedef enum {
    VH_PKI_EXT_ABSENT,      /* not in the certificate at all */
    VH_PKI_EXT_NONCRITICAL, /* present, not marked critical */
    VH_PKI_EXT_CRITICAL,    /* present and critical */
} VhPkiExt;

/*
 * Everything that goes into a certificate. Zero-initialise it (or use a
 * preset below) and set what matters; strings are borrowed.
 */
typedef struct {
    /*
     * Subject DN in certificate order, e.g. "C=UK,O=vmhost,CN=host1": the
     * same string vh_x509_get_dn() (and so authz) returns for the result.
     */
    const char *dn;
    /* Serial number; 0 means 16 random bytes. */
    guint64 serial;
    /* Absolute validity times; 0 means now - 1 hour / now + 365 days. */
    time_t activation;
    time_t expiration;

    /* basicConstraints: cA flag and pathLenConstraint (-1 = none). */
    VhPkiExt basic_constraints;
    bool is_ca;
    int path_len;

    /* keyUsage: GNUTLS_KEY_* bits. */
    VhPkiExt key_usage;
    unsigned int key_usage_bits;

    /*
     * extKeyUsage: NULL-terminated OIDs, e.g. GNUTLS_KP_TLS_WWW_SERVER,
     * GNUTLS_KP_TLS_WWW_CLIENT, GNUTLS_KP_ANY. Used when key_purpose is not
     * VH_PKI_EXT_ABSENT.
     */
    VhPkiExt key_purpose;
    const char *const *key_purposes;

    /* subjectAltName entries (NULL-terminated lists; either may be NULL). */
    const char *const *dns_names;
    const char *const *ip_addresses; /* textual IPv4 or IPv6 */

    /*
     * Subject key id (from the key) and authority key id (the issuer's
     * subject key id) are added unless these are set.
     */
    bool no_subject_key_id;
    bool no_authority_key_id;
} VhPkiCertSpec;

/*
 * Presets. Each clears @spec first; @days counts from now. A CA: critical
 * basicConstraints cA=TRUE, critical keyUsage keyCertSign+cRLSign. A server:
 * critical basicConstraints cA=FALSE, critical keyUsage digitalSignature
 * (+keyEncipherment for RSA keys), non-critical TLS WWW server purpose and
 * the SANs given. A client: the same with TLS WWW client and no SANs.
 */
void vh_pki_cert_spec_init_ca(VhPkiCertSpec *spec, const char *dn,
                              unsigned int days);
void vh_pki_cert_spec_init_server(VhPkiCertSpec *spec, const char *dn,
                                  VhPkiKeyType key_type,
                                  const char *const *dns_names,
                                  const char *const *ip_addresses,
                                  unsigned int days);
void vh_pki_cert_spec_init_client(VhPkiCertSpec *spec, const char *dn,
                                  VhPkiKeyType key_type, unsigned int days);

/*
 * Build and sign a certificate for @key as @spec says. @issuer and
 * @issuer_key sign it; both NULL makes it self-signed. Returns a new
 * certificate (transfer full) or NULL with an error (bad DN, bad IP, ...).
 */
G_GNUC_WARN_UNUSED_RESULT
gnutls_x509_crt_t vh_pki_cert_create(const VhPkiCertSpec *spec, VhPkiKey *key,
                                     gnutls_x509_crt_t issuer,
                                     VhPkiKey *issuer_key, GError **errp);

/* One certificate as PEM (transfer full). */
G_GNUC_WARN_UNUSED_RESULT
char *vh_pki_cert_export_pem(gnutls_x509_crt_t crt, GError **errp);
/*
 * Write @n certificates (a chain leaf first, or a CA bundle) as PEM to @path
 * atomically, mode 0644. Fails if @path exists unless @overwrite.
 */
G_GNUC_WARN_UNUSED_RESULT
bool vh_pki_cert_save(const char *path, const gnutls_x509_crt_t *certs,
                      size_t n, bool overwrite, GError **errp);
/*
 * Read every certificate in a PEM file (at least one). On success *certs
 * (transfer full: deinit each, then g_free the array) and *n are set.
 */
G_GNUC_WARN_UNUSED_RESULT
bool vh_pki_cert_load_all(const char *path, gnutls_x509_crt_t **certs,
                          size_t *n, GError **errp);
/* The first certificate in a PEM file (transfer full). */
G_GNUC_WARN_UNUSED_RESULT
gnutls_x509_crt_t vh_pki_cert_load(const char *path, GError **errp);
/* Free an array from vh_pki_cert_load_all(). */
void vh_pki_cert_list_free(gnutls_x509_crt_t *certs, size_t n);

/*
 * A CRL signed by @issuer revoking @n_revoked certificates, valid from now
 * for @days (transfer full).
 */
G_GNUC_WARN_UNUSED_RESULT
gnutls_x509_crl_t vh_pki_crl_create(gnutls_x509_crt_t issuer,
                                    VhPkiKey *issuer_key,
                                    const gnutls_x509_crt_t *revoked,
                                    size_t n_revoked, unsigned int days,
                                    GError **errp);
G_GNUC_WARN_UNUSED_RESULT
bool vh_pki_crl_save(const char *path, gnutls_x509_crl_t crl, bool overwrite,
                     GError **errp);

G_END_DECLS
