#include "crypto-priv.h"

#include "vmhost/util/file.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *vh_crypto_read_file(const char *path, const char *what, size_t *len,
                          GError **errp)
{
    g_autoptr(GError) err = NULL;
    char *data = NULL;
    gsize n = 0;

    /*
     * Read as bytes: what a NUL means depends on the format, so each
     * parser says it (a PEM slot: vh_crypto_read_pem(); keys.psk: its
     * parser).
     */
    if (!vh_file_read_regular(path, VH_FILE_MAX_CREDENTIALS,
                              VH_FILE_READ_BINARY, &data, &n, &err)) {
        g_set_error(errp, VH_ERROR, VH_ERROR_CERT_FILE, "Unable to read %s %s",
                    what, err->message);
        return NULL;
    }
    *len = n;
    return data;
}

char *vh_crypto_read_pem(const char *path, const char *what, size_t *len,
                         GError **errp)
{
    g_autofree char *data = vh_crypto_read_file(path, what, len, errp);
    const char *nul;

    if (!data) {
        return NULL;
    }
    /*
     * PEM is text. A NUL means DER (or another binary format) in a PEM
     * slot: a certificate-file error naming the file, not the generic
     * "NUL in text" of config files, and never text cut short at the NUL.
     */
    nul = memchr(data, '\0', *len);
    if (nul) {
        g_set_error(errp, VH_ERROR, VH_ERROR_CERT_FILE,
                    "Unable to parse %s %s: not PEM text (a NUL byte at byte "
                    "%zu: DER or another binary format? convert it to PEM)",
                    what, path, (size_t)(nul - data));
        explicit_bzero(data, *len); /* it may be a private key */
        return NULL;
    }
    return g_steal_pointer(&data);
}

void vh_cert_list_clear(VhCertList *list)
{
    for (size_t i = 0; list->certs && i < list->n; i++) {
        gnutls_x509_crt_deinit(list->certs[i]);
    }
    g_free(list->certs);
    list->certs = NULL;
    list->n = 0;
}

static bool parse_fail(const char *path, const char *what, const char *why,
                       GError **errp)
{
    g_set_error(errp, VH_ERROR, VH_ERROR_CERT_FILE, "Unable to parse %s %s: %s",
                what, path, why);
    return false;
}

bool vh_crypto_load_certs(const char *path, const char *what,
                          gnutls_x509_crt_t **certs, size_t *n, GError **errp)
{
    g_autofree char *data = NULL;
    gnutls_x509_crt_t *list = NULL;
    unsigned int count = 0;
    gnutls_datum_t datum;
    size_t len = 0;
    int rc;

    data = vh_crypto_read_pem(path, what, &len, errp);
    if (!data) {
        return false;
    }
    if (!strstr(data, "-----BEGIN ")) {
        return parse_fail(path, what, "no PEM certificate in the file", errp);
    }
    datum.data = (unsigned char *)data;
    datum.size = len;
    rc = gnutls_x509_crt_list_import2(&list, &count, &datum,
                                      GNUTLS_X509_FMT_PEM, 0);
    if (rc < 0 || count == 0) {
        return parse_fail(path, what,
                          rc < 0 ? gnutls_strerror(rc)
                                 : "no PEM certificate in the file",
                          errp);
    }
    /* Hand back a g_malloc'd array so that callers free it with g_free. */
    *certs = g_memdup2(list, sizeof(*list) * count);
    gnutls_free(list);
    *n = count;
    return true;
}

gnutls_x509_privkey_t vh_crypto_load_key(const char *path, const char *what,
                                         GError **errp)
{
    g_autofree char *data = NULL;
    gnutls_x509_privkey_t key = NULL;
    gnutls_datum_t datum;
    size_t len = 0;
    int rc;

    data = vh_crypto_read_pem(path, what, &len, errp);
    if (!data) {
        return NULL;
    }
    datum.data = (unsigned char *)data;
    datum.size = len;
    rc = gnutls_x509_privkey_init(&key);
    if (rc == 0) {
        rc = gnutls_x509_privkey_import2(key, &datum, GNUTLS_X509_FMT_PEM, NULL,
                                         GNUTLS_PKCS_PLAIN);
    }
    explicit_bzero(data, len);
    if (rc < 0) {
        gnutls_x509_privkey_deinit(key);
        parse_fail(path, what, gnutls_strerror(rc), errp);
        return NULL;
    }
    return key;
}

bool vh_crypto_load_dh_params(const char *dir, gnutls_dh_params_t *out,
                              GError **errp)
{
    g_autofree char *path = g_build_filename(dir, "dh-params.pem", NULL);
    g_autofree char *data = NULL;
    gnutls_dh_params_t params = NULL;
    gnutls_datum_t datum;
    size_t len = 0;
    int rc;

    *out = NULL;
    if (!g_file_test(path, G_FILE_TEST_EXISTS)) {
        return true;
    }
    data = vh_crypto_read_pem(path, "DH parameters", &len, errp);
    if (!data) {
        return false;
    }
    datum.data = (unsigned char *)data;
    datum.size = len;
    rc = gnutls_dh_params_init(&params);
    if (rc == 0) {
        rc = gnutls_dh_params_import_pkcs3(params, &datum, GNUTLS_X509_FMT_PEM);
    }
    if (rc < 0) {
        if (params) {
            gnutls_dh_params_deinit(params);
        }
        g_set_error(errp, VH_ERROR, VH_ERROR_CERT_FILE,
                    "Unable to parse DH parameters %s: %s", path,
                    gnutls_strerror(rc));
        return false;
    }
    *out = params;
    return true;
}
