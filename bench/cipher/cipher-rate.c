/*
 * cipher-rate: what one core encrypts and decrypts per second with GnuTLS's
 * AEAD ciphers, in 16 KiB records (a full TLS record), measured in CPU time
 * (CLOCK_PROCESS_CPUTIME_ID), so that a shared machine's load does not
 * lower it as it lowers a wall-clock rate.
 *
 *   cipher-rate [SECONDS]
 *       Prints, for AES-128-GCM and AES-256-GCM:
 *           cipher NAME encrypt_GBps decrypt_GBps
 *
 * gnutls-cli --benchmark-ciphers (GnuTLS 3.7) measures AES-128-GCM alone
 * and in wall-clock time; bench/tls-stream needs AES-256-GCM too, for the
 * ceiling 1/(1/plain + 1/AES) of issue 11.
 */
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RECORD 16384
#define TAG    16

static double cpu_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what, int rc)
{
    fprintf(stderr, "cipher-rate: %s: %s\n", what, gnutls_strerror(rc));
    exit(1);
}

/* GB/s of plaintext over @seconds of CPU time; @enc: encrypt or decrypt. */
static double rate(gnutls_aead_cipher_hd_t h, unsigned char *pt,
                   unsigned char *ct, double seconds, int enc)
{
    unsigned char nonce[12] = {0};
    double start = cpu_seconds(), end = start;
    long n = 0;

    do {
        for (int i = 0; i < 64; i++, n++) {
            size_t len = RECORD + TAG;
            int rc;

            if (enc) {
                memcpy(nonce, &n, sizeof(n));
                rc = gnutls_aead_cipher_encrypt(h, nonce, sizeof(nonce), NULL,
                                                0, TAG, pt, RECORD, ct, &len);
            } else {
                size_t plen = RECORD;
                rc = gnutls_aead_cipher_decrypt(h, nonce, sizeof(nonce), NULL,
                                                0, TAG, ct, RECORD + TAG, pt,
                                                &plen);
            }
            if (rc < 0) {
                die(enc ? "encrypt" : "decrypt", rc);
            }
        }
        end = cpu_seconds();
    } while (end - start < seconds);
    return (double)n * RECORD / (end - start) / 1e9;
}

static void measure(const char *name, gnutls_cipher_algorithm_t alg,
                    double seconds)
{
    unsigned char key[32] = {1}, nonce[12] = {0};
    gnutls_datum_t k = {key, gnutls_cipher_get_key_size(alg)};
    unsigned char *pt = calloc(1, RECORD), *ct = calloc(1, RECORD + TAG);
    gnutls_aead_cipher_hd_t h;
    size_t len = RECORD + TAG;
    double e, d;
    int rc;

    rc = gnutls_aead_cipher_init(&h, alg, &k);
    if (rc < 0) {
        die(name, rc);
    }
    e = rate(h, pt, ct, seconds, 1);
    /* one valid record to decrypt over and over */
    rc = gnutls_aead_cipher_encrypt(h, nonce, sizeof(nonce), NULL, 0, TAG, pt,
                                    RECORD, ct, &len);
    if (rc < 0) {
        die(name, rc);
    }
    d = rate(h, pt, ct, seconds, 0);
    printf("cipher %s %.2f %.2f\n", name, e, d);
    gnutls_aead_cipher_deinit(h);
    free(pt);
    free(ct);
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 1.0;

    if (seconds <= 0) {
        fprintf(stderr, "usage: cipher-rate [SECONDS]\n");
        return 1;
    }
    gnutls_global_init();
    measure("AES-128-GCM", GNUTLS_CIPHER_AES_128_GCM, seconds);
    measure("AES-256-GCM", GNUTLS_CIPHER_AES_256_GCM, seconds);
    return 0;
}
