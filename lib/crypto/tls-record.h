/*
 * TLS 1.3 application-data records sealed and opened by vmhost with the
 * traffic keys of a GnuTLS session (private to lib/crypto; the design is
 * docs/tls-records.md). VhTlsSession owns one VhTlsRecordKeys per
 * direction and hands the sequence numbers back to GnuTLS whenever GnuTLS
 * itself is to read or write a record.
 */
#pragma once

#include <glib.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

G_BEGIN_DECLS

#define VH_TLS_RECORD_HEADER    5
#define VH_TLS_RECORD_MAX_PLAIN 16384
/* Returned when a record is not application data: GnuTLS must take it. */
#define VH_TLS_RECORD_NOT_DATA (-1000)

typedef struct {
    gnutls_aead_cipher_hd_t aead; /* a reader's */
    gnutls_cipher_hd_t cipher;    /* a writer's */
    unsigned char iv[12];
    uint64_t seq; /* of the next record */
    size_t tag_size;
    size_t max_plain;
} VhTlsRecordKeys;

/* The AEADs vmhost seals and opens; others stay with GnuTLS. */
bool vh_tls_record_cipher_supported(gnutls_cipher_algorithm_t cipher);

/*
 * Take @session's current keys and sequence number for reading (@read) or
 * writing. Returns 0 or a GnuTLS error code.
 */
int vh_tls_record_keys_load(VhTlsRecordKeys *keys, gnutls_session_t session,
                            bool read);
void vh_tls_record_keys_clear(VhTlsRecordKeys *keys);
/* The sequence number as gnutls_record_set_state() takes it. */
void vh_tls_record_keys_seq_bytes(const VhTlsRecordKeys *keys,
                                  unsigned char seq[8]);
/* The writer's keys have sealed enough records to need a KeyUpdate. */
bool vh_tls_record_keys_worn(const VhTlsRecordKeys *keys);

/* The size of a sealed record of @len plaintext bytes, header included. */
size_t vh_tls_record_seal_size(const VhTlsRecordKeys *keys, size_t len);

/*
 * Seal @len (<= keys->max_plain) bytes of @iov, from byte @skip on, as
 * one record into @out (vh_tls_record_seal_size() bytes). Returns 0 or a
 * GnuTLS error code.
 */
int vh_tls_record_seal(VhTlsRecordKeys *keys, const struct iovec *iov,
                       size_t niov, size_t skip, size_t len, char *out);

/*
 * The body length a record header announces, VH_TLS_RECORD_NOT_DATA when
 * its outer type is not application data, or GNUTLS_E_RECORD_OVERFLOW.
 */
gssize vh_tls_record_body_size(const VhTlsRecordKeys *keys, const char *hdr);

/*
 * Open the record at @rec (header and @body bytes) into @dst, which has
 * room for @body - tag_size bytes; @rec is left as it was. Returns the
 * plaintext length, VH_TLS_RECORD_NOT_DATA for a record of another inner
 * type (the sequence number is not advanced: GnuTLS takes the record), or
 * a GnuTLS error code (GNUTLS_E_DECRYPTION_FAILED).
 */
gssize vh_tls_record_open(VhTlsRecordKeys *keys, char *rec, size_t body,
                          char *dst);

G_END_DECLS
