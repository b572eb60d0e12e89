/*
 * VhTlsRecordKeys: TLS 1.3 record protection (RFC 8446 section 5.2) for
 * application data, with the traffic keys of a GnuTLS session. See
 * docs/tls-records.md for why vmhost seals and opens these records itself.
 */
#include "tls-record.h"

#include <string.h>

/* RFC 8446 section 5.1 */
#define CONTENT_APPLICATION_DATA 23
#define LEGACY_RECORD_VERSION    0x0303

/*
 * AES-GCM's confidentiality bound is 2^24.5 full records per key (RFC 8446
 * section 5.5). Well before it, the writer hands the session to GnuTLS for
 * a KeyUpdate; the same count is plenty for the other AEADs.
 */
#define SEAL_LIMIT (G_GUINT64_CONSTANT(1) << 24)

void vh_tls_record_keys_clear(VhTlsRecordKeys *keys)
{
    if (keys->aead) {
        gnutls_aead_cipher_deinit(keys->aead);
    }
    if (keys->cipher) {
        gnutls_cipher_deinit(keys->cipher);
    }
    memset(keys, 0, sizeof(*keys));
}

bool vh_tls_record_cipher_supported(gnutls_cipher_algorithm_t cipher)
{
    switch (cipher) {
    case GNUTLS_CIPHER_AES_128_GCM:
    case GNUTLS_CIPHER_AES_256_GCM:
    case GNUTLS_CIPHER_CHACHA20_POLY1305:
        return true;
    default:
        return false;
    }
}

int vh_tls_record_keys_load(VhTlsRecordKeys *keys, gnutls_session_t session,
                            bool read)
{
    gnutls_cipher_algorithm_t cipher = gnutls_cipher_get(session);
    gnutls_datum_t mac, iv, key;
    unsigned char seq[8];
    int ret;

    vh_tls_record_keys_clear(keys);
    ret = gnutls_record_get_state(session, read, &mac, &iv, &key, seq);
    if (ret < 0) {
        return ret;
    }
    if (iv.size != sizeof(keys->iv)) {
        return GNUTLS_E_INTERNAL_ERROR;
    }
    /*
     * A reader opens a record in one call; a writer seals with the
     * incremental API, which encrypts from the caller's buffer into the
     * record (the one-call API cannot: the content type must follow the
     * plaintext in the cipher's input).
     */
    if (read) {
        ret = gnutls_aead_cipher_init(&keys->aead, cipher, &key);
        if (ret < 0) {
            keys->aead = NULL;
        }
    } else {
        ret = gnutls_cipher_init(&keys->cipher, cipher, &key, &iv);
        if (ret < 0) {
            keys->cipher = NULL;
        }
    }
    if (ret < 0) {
        return ret;
    }
    memcpy(keys->iv, iv.data, sizeof(keys->iv));
    for (int i = 0; i < 8; i++) {
        keys->seq = keys->seq << 8 | seq[i];
    }
    keys->tag_size = gnutls_cipher_get_tag_size(cipher);
    keys->max_plain =
        MIN(gnutls_record_get_max_size(session), VH_TLS_RECORD_MAX_PLAIN);
    return 0;
}

void vh_tls_record_keys_seq_bytes(const VhTlsRecordKeys *keys,
                                  unsigned char seq[8])
{
    for (int i = 0; i < 8; i++) {
        seq[i] = keys->seq >> (56 - 8 * i);
    }
}

bool vh_tls_record_keys_worn(const VhTlsRecordKeys *keys)
{
    return keys->seq >= SEAL_LIMIT;
}

/* The per-record nonce: the static IV XOR the sequence number. */
static void make_nonce(const VhTlsRecordKeys *keys, unsigned char *nonce)
{
    memcpy(nonce, keys->iv, sizeof(keys->iv));
    for (int i = 0; i < 8; i++) {
        nonce[4 + i] ^= (unsigned char)(keys->seq >> (56 - 8 * i));
    }
}

static void put_header(unsigned char *hdr, size_t body)
{
    hdr[0] = CONTENT_APPLICATION_DATA;
    hdr[1] = LEGACY_RECORD_VERSION >> 8;
    hdr[2] = LEGACY_RECORD_VERSION & 0xff;
    hdr[3] = body >> 8;
    hdr[4] = body & 0xff;
}

size_t vh_tls_record_seal_size(const VhTlsRecordKeys *keys, size_t len)
{
    return VH_TLS_RECORD_HEADER + len + 1 + keys->tag_size;
}

/*
 * Encrypt the record's plaintext from @iov into @rec's body, in pieces the
 * incremental API takes: every piece but the last a multiple of
 * SEAL_STEP bytes (a GCM block and a ChaCha20 block both divide it).
 */
#define SEAL_STEP 64

int vh_tls_record_seal(VhTlsRecordKeys *keys, const struct iovec *iov,
                       size_t niov, size_t skip, size_t len, char *out)
{
    unsigned char *body = (unsigned char *)out + VH_TLS_RECORD_HEADER;
    size_t bulk = 0, got = 0;
    unsigned char nonce[12];
    int ret;

    g_assert(len <= keys->max_plain);
    while (niov > 0 && skip >= iov->iov_len) {
        skip -= iov->iov_len;
        iov++;
        niov--;
    }
    put_header((unsigned char *)out, len + 1 + keys->tag_size);
    make_nonce(keys, nonce);
    gnutls_cipher_set_iv(keys->cipher, nonce, sizeof(nonce));
    ret = gnutls_cipher_add_auth(keys->cipher, out, VH_TLS_RECORD_HEADER);
    if (ret < 0) {
        return ret;
    }
    if (niov > 0 && iov[0].iov_len - skip >= len) {
        /* the common case: straight from the caller's buffer */
        bulk = len - len % SEAL_STEP;
        if (bulk) {
            ret = gnutls_cipher_encrypt2(keys->cipher,
                                         (const char *)iov[0].iov_base + skip,
                                         bulk, body, bulk);
            if (ret < 0) {
                return ret;
            }
        }
        skip += bulk;
    }
    /* the rest (or a record gathered from several pieces) in place */
    for (size_t i = 0; i < niov && got < len - bulk; i++, skip = 0) {
        size_t take = MIN(iov[i].iov_len - skip, len - bulk - got);
        memcpy(body + bulk + got, (const char *)iov[i].iov_base + skip, take);
        got += take;
    }
    body[len] = CONTENT_APPLICATION_DATA;
    ret = gnutls_cipher_encrypt(keys->cipher, body + bulk, len - bulk + 1);
    if (ret < 0) {
        return ret;
    }
    ret = gnutls_cipher_tag(keys->cipher, body + len + 1, keys->tag_size);
    if (ret < 0) {
        return ret;
    }
    keys->seq++;
    return 0;
}

gssize vh_tls_record_body_size(const VhTlsRecordKeys *keys, const char *hdr)
{
    const unsigned char *h = (const unsigned char *)hdr;
    size_t body = (size_t)h[3] << 8 | h[4];

    if (h[0] != CONTENT_APPLICATION_DATA) {
        return VH_TLS_RECORD_NOT_DATA;
    }
    if (body > VH_TLS_RECORD_MAX_PLAIN + 256 || body < keys->tag_size + 1) {
        return GNUTLS_E_RECORD_OVERFLOW;
    }
    return body;
}

gssize vh_tls_record_open(VhTlsRecordKeys *keys, char *rec, size_t body,
                          char *dst)
{
    unsigned char *r = (unsigned char *)rec;
    unsigned char nonce[12];
    size_t plen = body - keys->tag_size;
    int ret;

    make_nonce(keys, nonce);
    ret = gnutls_aead_cipher_decrypt(
        keys->aead, nonce, sizeof(nonce), r, VH_TLS_RECORD_HEADER,
        keys->tag_size, r + VH_TLS_RECORD_HEADER, body, dst, &plen);
    if (ret < 0) {
        return ret;
    }
    /* The content type is the last non-zero byte; zeros after it pad. */
    while (plen > 0 && dst[plen - 1] == 0) {
        plen--;
    }
    if (plen == 0) {
        return GNUTLS_E_UNEXPECTED_PACKET;
    }
    if ((unsigned char)dst[plen - 1] != CONTENT_APPLICATION_DATA) {
        return VH_TLS_RECORD_NOT_DATA;
    }
    keys->seq++;
    return plen - 1;
}
