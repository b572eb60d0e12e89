#include "vmhost/crypto/pki.h"

#include "crypto-priv.h"

#include <errno.h>
#include <gio/gio.h>
#include <gnutls/crypto.h>
#include <gnutls/x509-ext.h>
#include <string.h>

#define OID_BASIC_CONSTRAINTS "2.5.29.19"
#define OID_KEY_USAGE         "2.5.29.15"

struct _VhPkiKey {
    gatomicrefcount ref;
    VhPkiKeyType type;
    gnutls_x509_privkey_t x509;
};

static const char *const key_type_names[] = {
    [VH_PKI_KEY_ECDSA_P256] = "ecdsa-p256",
    [VH_PKI_KEY_ECDSA_P384] = "ecdsa-p384",
    [VH_PKI_KEY_RSA_2048] = "rsa-2048",
    [VH_PKI_KEY_RSA_3072] = "rsa-3072",
    [VH_PKI_KEY_ED25519] = "ed25519",
};

const char *vh_pki_key_type_name(VhPkiKeyType type)
{
    if ((size_t)type >= G_N_ELEMENTS(key_type_names)) {
        return "unknown";
    }
    return key_type_names[type];
}

bool vh_pki_key_type_from_name(const char *name, VhPkiKeyType *type,
                               GError **errp)
{
    for (size_t i = 0; i < G_N_ELEMENTS(key_type_names); i++) {
        if (name && g_str_equal(name, key_type_names[i])) {
            *type = (VhPkiKeyType)i;
            return true;
        }
    }
    g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                "unknown key type '%s': expected ecdsa-p256, ecdsa-p384, "
                "rsa-2048, rsa-3072 or ed25519",
                name ? name : "");
    return false;
}

static const struct {
    const char *name;
    VhPkiLayoutFiles files;
} layouts[] = {
    [VH_PKI_LAYOUT_QEMU] = {"qemu",
                            {"ca-cert.pem", "ca-key.pem", "ca-crl.pem",
                             "server-cert.pem", "server-key.pem",
                             "client-cert.pem", "client-key.pem"}},
    /* libvirt's defaults under /etc/pki (libvirtd.conf, its clients). */
    [VH_PKI_LAYOUT_LIBVIRT] = {"libvirt",
                               {"CA/cacert.pem", "CA/private/cakey.pem",
                                "CA/cacrl.pem", "libvirt/servercert.pem",
                                "libvirt/private/serverkey.pem",
                                "libvirt/clientcert.pem",
                                "libvirt/private/clientkey.pem"}},
    [VH_PKI_LAYOUT_PKIPATH] = {"pkipath",
                               {"cacert.pem", NULL, "cacrl.pem",
                                "servercert.pem", "serverkey.pem",
                                "clientcert.pem", "clientkey.pem"}},
};

const VhPkiLayoutFiles *vh_pki_layout_files(VhPkiLayout layout)
{
    g_return_val_if_fail(layout < G_N_ELEMENTS(layouts), NULL);
    return &layouts[layout].files;
}

const char *vh_pki_layout_name(VhPkiLayout layout)
{
    g_return_val_if_fail(layout < G_N_ELEMENTS(layouts), NULL);
    return layouts[layout].name;
}

bool vh_pki_layout_from_name(const char *name, VhPkiLayout *layout,
                             GError **errp)
{
    for (size_t i = 0; i < G_N_ELEMENTS(layouts); i++) {
        if (name && g_str_equal(name, layouts[i].name)) {
            *layout = (VhPkiLayout)i;
            return true;
        }
    }
    g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                "unknown layout '%s': expected qemu, libvirt or pkipath",
                name ? name : "");
    return false;
}

static void set_gnutls_error(GError **errp, VhErrorCode code, int rc,
                             const char *fmt, ...) G_GNUC_PRINTF(4, 5);

static void set_gnutls_error(GError **errp, VhErrorCode code, int rc,
                             const char *fmt, ...)
{
    va_list ap;
    g_autofree char *what = NULL;

    va_start(ap, fmt);
    what = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error(errp, VH_ERROR, code, "%s: %s", what, gnutls_strerror(rc));
}

static VhPkiKey *key_wrap(gnutls_x509_privkey_t x509, VhPkiKeyType type)
{
    VhPkiKey *key = g_new0(VhPkiKey, 1);

    g_atomic_ref_count_init(&key->ref);
    key->type = type;
    key->x509 = x509;
    return key;
}

VhPkiKey *vh_pki_key_generate(VhPkiKeyType type, GError **errp)
{
    gnutls_x509_privkey_t x509 = NULL;
    gnutls_pk_algorithm_t algo;
    unsigned int bits;
    int rc;

    switch (type) {
    case VH_PKI_KEY_ECDSA_P256:
        algo = GNUTLS_PK_ECDSA;
        bits = GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1);
        break;
    case VH_PKI_KEY_ECDSA_P384:
        algo = GNUTLS_PK_ECDSA;
        bits = GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP384R1);
        break;
    case VH_PKI_KEY_RSA_2048:
        algo = GNUTLS_PK_RSA;
        bits = 2048;
        break;
    case VH_PKI_KEY_RSA_3072:
        algo = GNUTLS_PK_RSA;
        bits = 3072;
        break;
    case VH_PKI_KEY_ED25519:
        algo = GNUTLS_PK_EDDSA_ED25519;
        bits = GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_ED25519);
        break;
    default:
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "unknown key type %d", (int)type);
        return NULL;
    }

    rc = gnutls_x509_privkey_init(&x509);
    if (rc == 0) {
        rc = gnutls_x509_privkey_generate2(x509, algo, bits, 0, NULL, 0);
    }
    if (rc < 0) {
        gnutls_x509_privkey_deinit(x509);
        set_gnutls_error(errp, VH_ERROR_FAILED, rc,
                         "cannot generate a %s private key",
                         vh_pki_key_type_name(type));
        return NULL;
    }
    return key_wrap(x509, type);
}

static VhPkiKeyType key_type_of(gnutls_x509_privkey_t x509)
{
    unsigned int bits = 0;
    int algo = gnutls_x509_privkey_get_pk_algorithm2(x509, &bits);

    switch (algo) {
    case GNUTLS_PK_RSA:
    case GNUTLS_PK_RSA_PSS:
        return bits > 2048 ? VH_PKI_KEY_RSA_3072 : VH_PKI_KEY_RSA_2048;
    case GNUTLS_PK_EDDSA_ED25519:
        return VH_PKI_KEY_ED25519;
    case GNUTLS_PK_ECDSA:
        return bits > 256 ? VH_PKI_KEY_ECDSA_P384 : VH_PKI_KEY_ECDSA_P256;
    default:
        return VH_PKI_KEY_ECDSA_P256;
    }
}

VhPkiKey *vh_pki_key_load(const char *path, GError **errp)
{
    gnutls_x509_privkey_t x509 = vh_crypto_load_key(path, "private key", errp);

    return x509 ? key_wrap(x509, key_type_of(x509)) : NULL;
}

VhPkiKey *vh_pki_key_ref(VhPkiKey *key)
{
    g_atomic_ref_count_inc(&key->ref);
    return key;
}

void vh_pki_key_unref(VhPkiKey *key)
{
    if (key && g_atomic_ref_count_dec(&key->ref)) {
        gnutls_x509_privkey_deinit(key->x509);
        g_free(key);
    }
}

VhPkiKeyType vh_pki_key_get_type(VhPkiKey *key)
{
    return key->type;
}

gnutls_x509_privkey_t vh_pki_key_get_x509(VhPkiKey *key)
{
    return key->x509;
}

static char *datum_to_string(gnutls_datum_t *d)
{
    char *s = g_strndup((const char *)d->data, d->size);

    gnutls_free(d->data);
    d->data = NULL;
    return s;
}

char *vh_pki_key_export_pem(VhPkiKey *key, GError **errp)
{
    gnutls_datum_t out = {NULL, 0};
    int rc = gnutls_x509_privkey_export2_pkcs8(key->x509, GNUTLS_X509_FMT_PEM,
                                               NULL, GNUTLS_PKCS_PLAIN, &out);

    if (rc < 0) {
        set_gnutls_error(errp, VH_ERROR_FAILED, rc,
                         "cannot export the private key");
        return NULL;
    }
    return datum_to_string(&out);
}

/* Write @data to @path atomically with @mode, refusing to replace a file. */
static bool write_file(const char *path, const char *what, const char *data,
                       int mode, bool overwrite, GError **errp)
{
    g_autoptr(GError) local = NULL;

    if (!overwrite && g_file_test(path, G_FILE_TEST_EXISTS)) {
        g_set_error(errp, VH_ERROR, VH_ERROR_CERT_FILE,
                    "Refusing to overwrite existing %s %s", what, path);
        return false;
    }
    if (!g_file_set_contents_full(
            path, data, -1, G_FILE_SET_CONTENTS_CONSISTENT, mode, &local)) {
        g_set_error(errp, VH_ERROR, VH_ERROR_CERT_FILE,
                    "Unable to write %s %s: %s", what, path, local->message);
        return false;
    }
    return true;
}

bool vh_pki_key_save(VhPkiKey *key, const char *path, bool overwrite,
                     GError **errp)
{
    g_autofree char *pem = vh_pki_key_export_pem(key, errp);
    bool ok;

    if (!pem) {
        return false;
    }
    ok = write_file(path, "private key", pem, 0600, overwrite, errp);
    explicit_bzero(pem, strlen(pem));
    return ok;
}

static void spec_init_times(VhPkiCertSpec *spec, unsigned int days)
{
    time_t now = time(NULL);

    spec->activation = now - 60 * 60;
    spec->expiration = now + (time_t)days * 24 * 60 * 60;
}

void vh_pki_cert_spec_init_ca(VhPkiCertSpec *spec, const char *dn,
                              unsigned int days)
{
    memset(spec, 0, sizeof(*spec));
    spec->dn = dn;
    spec_init_times(spec, days);
    spec->basic_constraints = VH_PKI_EXT_CRITICAL;
    spec->is_ca = true;
    spec->path_len = -1;
    spec->key_usage = VH_PKI_EXT_CRITICAL;
    spec->key_usage_bits = GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN;
}

static void spec_init_leaf(VhPkiCertSpec *spec, const char *dn,
                           VhPkiKeyType key_type, unsigned int days)
{
    memset(spec, 0, sizeof(*spec));
    spec->dn = dn;
    spec_init_times(spec, days);
    spec->basic_constraints = VH_PKI_EXT_CRITICAL;
    spec->is_ca = false;
    spec->path_len = -1;
    spec->key_usage = VH_PKI_EXT_CRITICAL;
    spec->key_usage_bits = GNUTLS_KEY_DIGITAL_SIGNATURE;
    if (key_type == VH_PKI_KEY_RSA_2048 || key_type == VH_PKI_KEY_RSA_3072) {
        /* RSA key exchange in TLS <= 1.2 encrypts to the key. */
        spec->key_usage_bits |= GNUTLS_KEY_KEY_ENCIPHERMENT;
    }
    spec->key_purpose = VH_PKI_EXT_NONCRITICAL;
}

void vh_pki_cert_spec_init_server(VhPkiCertSpec *spec, const char *dn,
                                  VhPkiKeyType key_type,
                                  const char *const *dns_names,
                                  const char *const *ip_addresses,
                                  unsigned int days)
{
    static const char *const purposes[] = {GNUTLS_KP_TLS_WWW_SERVER, NULL};

    spec_init_leaf(spec, dn, key_type, days);
    spec->key_purposes = purposes;
    spec->dns_names = dns_names;
    spec->ip_addresses = ip_addresses;
}

void vh_pki_cert_spec_init_client(VhPkiCertSpec *spec, const char *dn,
                                  VhPkiKeyType key_type, unsigned int days)
{
    static const char *const purposes[] = {GNUTLS_KP_TLS_WWW_CLIENT, NULL};

    spec_init_leaf(spec, dn, key_type, days);
    spec->key_purposes = purposes;
}

static bool set_ext(gnutls_x509_crt_t crt, const char *oid, gnutls_datum_t *der,
                    VhPkiExt how, const char *what, GError **errp)
{
    int rc = gnutls_x509_crt_set_extension_by_oid(
        crt, oid, der->data, der->size, how == VH_PKI_EXT_CRITICAL);

    gnutls_free(der->data);
    der->data = NULL;
    if (rc < 0) {
        set_gnutls_error(errp, VH_ERROR_FAILED, rc, "cannot set %s", what);
        return false;
    }
    return true;
}

static bool set_basic_constraints(gnutls_x509_crt_t crt,
                                  const VhPkiCertSpec *spec, GError **errp)
{
    gnutls_datum_t der = {NULL, 0};
    int rc;

    if (spec->basic_constraints == VH_PKI_EXT_ABSENT) {
        return true;
    }
    rc = gnutls_x509_ext_export_basic_constraints(spec->is_ca, spec->path_len,
                                                  &der);
    if (rc < 0) {
        set_gnutls_error(errp, VH_ERROR_FAILED, rc,
                         "cannot encode basic constraints");
        return false;
    }
    return set_ext(crt, OID_BASIC_CONSTRAINTS, &der, spec->basic_constraints,
                   "basic constraints", errp);
}

static bool set_key_usage(gnutls_x509_crt_t crt, const VhPkiCertSpec *spec,
                          GError **errp)
{
    gnutls_datum_t der = {NULL, 0};
    int rc;

    if (spec->key_usage == VH_PKI_EXT_ABSENT) {
        return true;
    }
    rc = gnutls_x509_ext_export_key_usage(spec->key_usage_bits, &der);
    if (rc < 0) {
        set_gnutls_error(errp, VH_ERROR_FAILED, rc, "cannot encode key usage");
        return false;
    }
    return set_ext(crt, OID_KEY_USAGE, &der, spec->key_usage, "key usage",
                   errp);
}

static bool set_key_purposes(gnutls_x509_crt_t crt, const VhPkiCertSpec *spec,
                             GError **errp)
{
    if (spec->key_purpose == VH_PKI_EXT_ABSENT || !spec->key_purposes) {
        return true;
    }
    for (const char *const *p = spec->key_purposes; *p; p++) {
        int rc = gnutls_x509_crt_set_key_purpose_oid(
            crt, *p, spec->key_purpose == VH_PKI_EXT_CRITICAL);
        if (rc < 0) {
            set_gnutls_error(errp, VH_ERROR_FAILED, rc,
                             "cannot set key purpose %s", *p);
            return false;
        }
    }
    return true;
}

static bool set_alt_names(gnutls_x509_crt_t crt, const VhPkiCertSpec *spec,
                          GError **errp)
{
    int rc;

    for (const char *const *p = spec->dns_names; p && *p; p++) {
        rc = gnutls_x509_crt_set_subject_alt_name(
            crt, GNUTLS_SAN_DNSNAME, *p, strlen(*p), GNUTLS_FSAN_APPEND);
        if (rc < 0) {
            set_gnutls_error(errp, VH_ERROR_FAILED, rc,
                             "cannot add DNS name '%s'", *p);
            return false;
        }
    }
    for (const char *const *p = spec->ip_addresses; p && *p; p++) {
        g_autoptr(GInetAddress) addr = g_inet_address_new_from_string(*p);
        if (!addr) {
            g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                        "'%s' is not an IPv4 or IPv6 address", *p);
            return false;
        }
        rc = gnutls_x509_crt_set_subject_alt_name(
            crt, GNUTLS_SAN_IPADDRESS, g_inet_address_to_bytes(addr),
            g_inet_address_get_native_size(addr), GNUTLS_FSAN_APPEND);
        if (rc < 0) {
            set_gnutls_error(errp, VH_ERROR_FAILED, rc,
                             "cannot add IP address '%s'", *p);
            return false;
        }
    }
    return true;
}

static bool set_key_ids(gnutls_x509_crt_t crt, const VhPkiCertSpec *spec,
                        gnutls_x509_crt_t issuer, GError **errp)
{
    unsigned char id[64];
    size_t size = sizeof(id);
    int rc;

    if (!spec->no_subject_key_id) {
        rc = gnutls_x509_crt_get_key_id(crt, 0, id, &size);
        if (rc == 0) {
            rc = gnutls_x509_crt_set_subject_key_id(crt, id, size);
        }
        if (rc < 0) {
            set_gnutls_error(errp, VH_ERROR_FAILED, rc,
                             "cannot set the subject key id");
            return false;
        }
    }
    if (spec->no_authority_key_id) {
        return true;
    }
    size = sizeof(id);
    rc = gnutls_x509_crt_get_subject_key_id(issuer ? issuer : crt, id, &size,
                                            NULL);
    if (rc < 0) {
        size = sizeof(id);
        rc = gnutls_x509_crt_get_key_id(issuer ? issuer : crt, 0, id, &size);
    }
    if (rc == 0) {
        rc = gnutls_x509_crt_set_authority_key_id(crt, id, size);
    }
    if (rc < 0) {
        set_gnutls_error(errp, VH_ERROR_FAILED, rc,
                         "cannot set the authority key id");
        return false;
    }
    return true;
}

static bool set_serial(gnutls_x509_crt_t crt, guint64 serial, GError **errp)
{
    unsigned char buf[16];
    size_t len;
    int rc;

    if (serial == 0) {
        rc = gnutls_rnd(GNUTLS_RND_NONCE, buf, sizeof(buf));
        if (rc < 0) {
            set_gnutls_error(errp, VH_ERROR_FAILED, rc,
                             "cannot make a random serial");
            return false;
        }
        buf[0] = (buf[0] & 0x7f) | 0x40; /* positive, no leading zero */
        len = sizeof(buf);
    } else {
        /* A leading zero byte keeps the INTEGER positive. */
        buf[0] = 0;
        for (int i = 0; i < 8; i++) {
            buf[1 + i] = (unsigned char)(serial >> (56 - 8 * i));
        }
        len = 9;
    }
    rc = gnutls_x509_crt_set_serial(crt, buf, len);
    if (rc < 0) {
        set_gnutls_error(errp, VH_ERROR_FAILED, rc, "cannot set the serial");
        return false;
    }
    return true;
}

/*
 * gnutls_x509_crt_set_dn() reads RFC 4514 order (last RDN first); specs use
 * certificate order like gnutls_x509_crt_get_dn(), so reverse the RDNs,
 * splitting on commas that are neither escaped nor quoted.
 */
static char *dn_reverse(const char *dn)
{
    g_autoptr(GPtrArray) rdns = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GString) out = g_string_new(NULL);
    const char *start = dn;
    bool quoted = false;

    for (const char *p = dn;; p++) {
        if (*p == '\\' && p[1]) {
            p++;
        } else if (*p == '"') {
            quoted = !quoted;
        } else if (*p == '\0' || (*p == ',' && !quoted)) {
            g_ptr_array_add(rdns, g_strndup(start, p - start));
            if (!*p) {
                break;
            }
            start = p + 1;
        }
    }
    for (guint i = rdns->len; i > 0; i--) {
        if (i != rdns->len) {
            g_string_append_c(out, ',');
        }
        g_string_append(out, g_ptr_array_index(rdns, i - 1));
    }
    return g_string_free(g_steal_pointer(&out), FALSE);
}

static bool cert_fill(gnutls_x509_crt_t crt, const VhPkiCertSpec *spec,
                      VhPkiKey *key, gnutls_x509_crt_t issuer, GError **errp)
{
    time_t now = time(NULL);
    const char *err_pos = NULL;
    g_autofree char *rfc_dn = NULL;
    int rc;

    rc = gnutls_x509_crt_set_version(crt, 3);
    if (rc == 0) {
        rc = gnutls_x509_crt_set_key(crt, key->x509);
    }
    if (rc < 0) {
        set_gnutls_error(errp, VH_ERROR_FAILED, rc,
                         "cannot set the certificate key");
        return false;
    }
    rfc_dn = dn_reverse(spec->dn ? spec->dn : "");
    rc = gnutls_x509_crt_set_dn(crt, rfc_dn, &err_pos);
    if (rc < 0) {
        g_set_error(errp, VH_ERROR, VH_ERROR_INVALID_ARGUMENT,
                    "invalid subject DN '%s'%s%s: %s", spec->dn ? spec->dn : "",
                    err_pos ? " at " : "", err_pos ? err_pos : "",
                    gnutls_strerror(rc));
        return false;
    }
    rc = gnutls_x509_crt_set_activation_time(
        crt, spec->activation ? spec->activation : now - 60 * 60);
    if (rc == 0) {
        rc = gnutls_x509_crt_set_expiration_time(
            crt,
            spec->expiration ? spec->expiration : now + 365 * 24 * 60 * 60);
    }
    if (rc < 0) {
        set_gnutls_error(errp, VH_ERROR_FAILED, rc,
                         "cannot set the validity times");
        return false;
    }
    return set_serial(crt, spec->serial, errp) &&
           set_basic_constraints(crt, spec, errp) &&
           set_key_usage(crt, spec, errp) &&
           set_key_purposes(crt, spec, errp) &&
           set_alt_names(crt, spec, errp) &&
           set_key_ids(crt, spec, issuer, errp);
}

/*
 * GnuTLS caches some parsed fields (the SANs) only when a certificate is
 * imported, so hand back a freshly imported copy of what was signed.
 */
static gnutls_x509_crt_t cert_reparse(gnutls_x509_crt_t crt, GError **errp)
{
    gnutls_x509_crt_t copy = NULL;
    gnutls_datum_t der = {NULL, 0};
    int rc = gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, &der);

    if (rc == 0) {
        rc = gnutls_x509_crt_init(&copy);
    }
    if (rc == 0) {
        rc = gnutls_x509_crt_import(copy, &der, GNUTLS_X509_FMT_DER);
    }
    gnutls_free(der.data);
    if (rc < 0) {
        if (copy) {
            gnutls_x509_crt_deinit(copy);
        }
        set_gnutls_error(errp, VH_ERROR_FAILED, rc,
                         "cannot re-read the new certificate");
        return NULL;
    }
    return copy;
}

gnutls_x509_crt_t vh_pki_cert_create(const VhPkiCertSpec *spec, VhPkiKey *key,
                                     gnutls_x509_crt_t issuer,
                                     VhPkiKey *issuer_key, GError **errp)
{
    g_auto(gnutls_x509_crt_t) crt = NULL;
    int rc;

    g_return_val_if_fail(spec && key, NULL);
    g_return_val_if_fail((issuer == NULL) == (issuer_key == NULL), NULL);

    rc = gnutls_x509_crt_init(&crt);
    if (rc < 0) {
        set_gnutls_error(errp, VH_ERROR_FAILED, rc, "cannot make a cert");
        return NULL;
    }
    if (!cert_fill(crt, spec, key, issuer, errp)) {
        return NULL;
    }
    /* Digest 0: GnuTLS picks the one that suits the signing key. */
    rc = gnutls_x509_crt_sign2(crt, issuer ? issuer : crt,
                               issuer_key ? issuer_key->x509 : key->x509, 0, 0);
    if (rc < 0) {
        set_gnutls_error(errp, VH_ERROR_FAILED, rc,
                         "cannot sign the certificate for '%s'",
                         spec->dn ? spec->dn : "");
        return NULL;
    }
    return cert_reparse(crt, errp);
}

char *vh_pki_cert_export_pem(gnutls_x509_crt_t crt, GError **errp)
{
    gnutls_datum_t out = {NULL, 0};
    int rc = gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &out);

    if (rc < 0) {
        set_gnutls_error(errp, VH_ERROR_FAILED, rc,
                         "cannot export the certificate");
        return NULL;
    }
    return datum_to_string(&out);
}

bool vh_pki_cert_save(const char *path, const gnutls_x509_crt_t *certs,
                      size_t n, bool overwrite, GError **errp)
{
    g_autoptr(GString) all = g_string_new(NULL);

    for (size_t i = 0; i < n; i++) {
        g_autofree char *pem = vh_pki_cert_export_pem(certs[i], errp);
        if (!pem) {
            return false;
        }
        g_string_append(all, pem);
    }
    return write_file(path, "certificate", all->str, 0644, overwrite, errp);
}

bool vh_pki_cert_load_all(const char *path, gnutls_x509_crt_t **certs,
                          size_t *n, GError **errp)
{
    return vh_crypto_load_certs(path, "certificate", certs, n, errp);
}

gnutls_x509_crt_t vh_pki_cert_load(const char *path, GError **errp)
{
    gnutls_x509_crt_t *certs = NULL;
    gnutls_x509_crt_t first;
    size_t n = 0;

    if (!vh_pki_cert_load_all(path, &certs, &n, errp)) {
        return NULL;
    }
    first = certs[0];
    certs[0] = NULL;
    vh_pki_cert_list_free(certs, n);
    return first;
}

void vh_pki_cert_list_free(gnutls_x509_crt_t *certs, size_t n)
{
    for (size_t i = 0; certs && i < n; i++) {
        if (certs[i]) {
            gnutls_x509_crt_deinit(certs[i]);
        }
    }
    g_free(certs);
}

/* As cert_reparse(): a freshly imported copy of what was signed. */
static gnutls_x509_crl_t crl_reparse(gnutls_x509_crl_t crl, GError **errp)
{
    gnutls_x509_crl_t copy = NULL;
    gnutls_datum_t der = {NULL, 0};
    int rc = gnutls_x509_crl_export2(crl, GNUTLS_X509_FMT_DER, &der);

    if (rc == 0) {
        rc = gnutls_x509_crl_init(&copy);
    }
    if (rc == 0) {
        rc = gnutls_x509_crl_import(copy, &der, GNUTLS_X509_FMT_DER);
    }
    gnutls_free(der.data);
    if (rc < 0) {
        if (copy) {
            gnutls_x509_crl_deinit(copy);
        }
        set_gnutls_error(errp, VH_ERROR_FAILED, rc,
                         "cannot re-read the new CRL");
        return NULL;
    }
    return copy;
}

gnutls_x509_crl_t vh_pki_crl_create(gnutls_x509_crt_t issuer,
                                    VhPkiKey *issuer_key,
                                    const gnutls_x509_crt_t *revoked,
                                    size_t n_revoked, unsigned int days,
                                    GError **errp)
{
    g_auto(gnutls_x509_crl_t) crl = NULL;
    time_t now = time(NULL);
    int rc;

    rc = gnutls_x509_crl_init(&crl);
    if (rc == 0) {
        rc = gnutls_x509_crl_set_version(crl, 2);
    }
    if (rc == 0) {
        rc = gnutls_x509_crl_set_this_update(crl, now - 60);
    }
    if (rc == 0) {
        rc = gnutls_x509_crl_set_next_update(crl,
                                             now + (time_t)days * 24 * 60 * 60);
    }
    for (size_t i = 0; rc == 0 && i < n_revoked; i++) {
        rc = gnutls_x509_crl_set_crt(crl, revoked[i], now - 60);
    }
    if (rc == 0) {
        rc = gnutls_x509_crl_sign2(crl, issuer, issuer_key->x509, 0, 0);
    }
    if (rc < 0) {
        set_gnutls_error(errp, VH_ERROR_FAILED, rc, "cannot make a CRL");
        return NULL;
    }
    return crl_reparse(crl, errp);
}

bool vh_pki_crl_save(const char *path, gnutls_x509_crl_t crl, bool overwrite,
                     GError **errp)
{
    gnutls_datum_t out = {NULL, 0};
    g_autofree char *pem = NULL;
    int rc = gnutls_x509_crl_export2(crl, GNUTLS_X509_FMT_PEM, &out);

    if (rc < 0) {
        set_gnutls_error(errp, VH_ERROR_FAILED, rc, "cannot export the CRL");
        return false;
    }
    pem = datum_to_string(&out);
    return write_file(path, "CRL", pem, 0644, overwrite, errp);
}
