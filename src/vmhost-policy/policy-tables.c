/*
 * The algorithm names a policy may use, with their GnuTLS spelling, and the
 * built-in policies. Names follow crypto-policies; those with no GnuTLS
 * equivalent (SSH-only ciphers, FIDO signatures, ...) are accepted so that
 * policy files written for other back-ends still load, and are skipped.
 */
#include "policy-priv.h"

#include <string.h>

#define ALG0(n)                                                                \
    {                                                                          \
        n, {NULL}, NULL                                                        \
    }
#define ALG1(n, g)                                                             \
    {                                                                          \
        n, {g, NULL}, NULL                                                     \
    }
#define ALG2(n, g, h)                                                          \
    {                                                                          \
        n, {g, h, NULL}, NULL                                                  \
    }
#define ALGC(n, g, c)                                                          \
    {                                                                          \
        n, {g, NULL}, c                                                        \
    }
#define ALG2C(n, g, h, c)                                                      \
    {                                                                          \
        n, {g, h, NULL}, c                                                     \
    }

static const VhPolicyAlg protocols[] = {
    ALG1("SSL3.0", "SSL3.0"),   ALG1("TLS1.0", "TLS1.0"),
    ALG1("TLS1.1", "TLS1.1"),   ALG1("TLS1.2", "TLS1.2"),
    ALG1("TLS1.3", "TLS1.3"),   ALG1("DTLS1.0", "DTLS1.0"),
    ALG1("DTLS1.2", "DTLS1.2"), {NULL, {NULL}, NULL},
};

static const VhPolicyAlg ciphers[] = {
    ALG1("AES-256-GCM", "AES-256-GCM"),
    ALG1("AES-128-GCM", "AES-128-GCM"),
    ALG1("AES-256-CCM", "AES-256-CCM"),
    ALG1("AES-128-CCM", "AES-128-CCM"),
    ALG1("CHACHA20-POLY1305", "CHACHA20-POLY1305"),
    ALG1("CAMELLIA-256-GCM", "CAMELLIA-256-GCM"),
    ALG1("CAMELLIA-128-GCM", "CAMELLIA-128-GCM"),
    ALG1("AES-256-CBC", "AES-256-CBC"),
    ALG1("AES-128-CBC", "AES-128-CBC"),
    ALG1("CAMELLIA-256-CBC", "CAMELLIA-256-CBC"),
    ALG1("CAMELLIA-128-CBC", "CAMELLIA-128-CBC"),
    ALG1("3DES-CBC", "3DES-CBC"),
    ALG1("RC4-128", "ARCFOUR-128"),
    ALG1("NULL", "NULL"),
    ALG0("AES-192-GCM"),
    ALG0("AES-192-CCM"),
    ALG0("AES-192-CBC"),
    ALG0("AES-256-CTR"),
    ALG0("AES-192-CTR"),
    ALG0("AES-128-CTR"),
    ALG0("DES-CBC"),
    ALG0("RC4-40"),
    ALG0("RC2-CBC"),
    ALG0("SEED-CBC"),
    ALG0("IDEA-CBC"),
    {NULL, {NULL}, NULL},
};

static const VhPolicyAlg macs[] = {
    ALG1("AEAD", "AEAD"),
    ALG1("HMAC-SHA2-256", "SHA256"),
    ALG1("HMAC-SHA2-384", "SHA384"),
    ALG1("HMAC-SHA2-512", "SHA512"),
    ALG1("HMAC-SHA1", "SHA1"),
    ALG1("HMAC-MD5", "MD5"),
    ALG0("UMAC-128"),
    ALG0("UMAC-64"),
    {NULL, {NULL}, NULL},
};

static const VhPolicyAlg hashes[] = {
    ALG1("SHA2-256", "SHA256"),     ALG1("SHA2-384", "SHA384"),
    ALG1("SHA2-512", "SHA512"),     ALG1("SHA2-224", "SHA224"),
    ALG1("SHA3-256", "SHA3-256"),   ALG1("SHA3-384", "SHA3-384"),
    ALG1("SHA3-512", "SHA3-512"),   ALG1("SHA3-224", "SHA3-224"),
    ALG1("SHAKE-128", "SHAKE-128"), ALG1("SHAKE-256", "SHAKE-256"),
    ALG1("SHA1", "SHA1"),           ALG1("MD5", "MD5"),
    {NULL, {NULL}, NULL},
};

static const VhPolicyAlg signs[] = {
    ALG2C("ECDSA-SHA2-256", "ECDSA-SHA256", "ECDSA-SECP256R1-SHA256",
          "SECP256R1"),
    ALG2C("ECDSA-SHA2-384", "ECDSA-SHA384", "ECDSA-SECP384R1-SHA384",
          "SECP384R1"),
    ALG2C("ECDSA-SHA2-512", "ECDSA-SHA512", "ECDSA-SECP521R1-SHA512",
          "SECP521R1"),
    ALG1("ECDSA-SHA2-224", "ECDSA-SHA224"),
    ALG1("ECDSA-SHA3-256", "ECDSA-SHA3-256"),
    ALG1("ECDSA-SHA3-384", "ECDSA-SHA3-384"),
    ALG1("ECDSA-SHA3-512", "ECDSA-SHA3-512"),
    ALG1("ECDSA-SHA1", "ECDSA-SHA1"),
    ALGC("EDDSA-ED25519", "EdDSA-Ed25519", "ED25519"),
    ALGC("EDDSA-ED448", "EdDSA-Ed448", "ED448"),
    ALG1("RSA-PSS-SHA2-256", "RSA-PSS-SHA256"),
    ALG1("RSA-PSS-SHA2-384", "RSA-PSS-SHA384"),
    ALG1("RSA-PSS-SHA2-512", "RSA-PSS-SHA512"),
    ALG1("RSA-PSS-RSAE-SHA2-256", "RSA-PSS-RSAE-SHA256"),
    ALG1("RSA-PSS-RSAE-SHA2-384", "RSA-PSS-RSAE-SHA384"),
    ALG1("RSA-PSS-RSAE-SHA2-512", "RSA-PSS-RSAE-SHA512"),
    ALG1("RSA-SHA2-256", "RSA-SHA256"),
    ALG1("RSA-SHA2-384", "RSA-SHA384"),
    ALG1("RSA-SHA2-512", "RSA-SHA512"),
    ALG1("RSA-SHA2-224", "RSA-SHA224"),
    ALG1("RSA-SHA3-256", "RSA-SHA3-256"),
    ALG1("RSA-SHA3-384", "RSA-SHA3-384"),
    ALG1("RSA-SHA3-512", "RSA-SHA3-512"),
    ALG1("RSA-SHA1", "RSA-SHA1"),
    ALG1("DSA-SHA1", "DSA-SHA1"),
    ALG1("RSA-MD5", "RSA-MD5"),
    ALG0("ECDSA-SHA2-256-FIDO"),
    ALG0("EDDSA-ED25519-FIDO"),
    ALG0("RSA-PSS-SHA2-224"),
    ALG0("RSA-PSS-SHA1"),
    {NULL, {NULL}, NULL},
};

static const VhPolicyAlg groups[] = {
    ALGC("X25519", "GROUP-X25519", "X25519"),
    ALGC("SECP256R1", "GROUP-SECP256R1", "SECP256R1"),
    ALGC("X448", "GROUP-X448", "X448"),
    ALGC("SECP521R1", "GROUP-SECP521R1", "SECP521R1"),
    ALGC("SECP384R1", "GROUP-SECP384R1", "SECP384R1"),
    ALG1("FFDHE-2048", "GROUP-FFDHE2048"),
    ALG1("FFDHE-3072", "GROUP-FFDHE3072"),
    ALG1("FFDHE-4096", "GROUP-FFDHE4096"),
    ALG1("FFDHE-6144", "GROUP-FFDHE6144"),
    ALG1("FFDHE-8192", "GROUP-FFDHE8192"),
    ALG0("FFDHE-1536"),
    {NULL, {NULL}, NULL},
};

static const VhPolicyAlg kxs[] = {
    ALG2("ECDHE", "ECDHE-RSA", "ECDHE-ECDSA"),
    ALG1("RSA", "RSA"),
    ALG1("DHE", "DHE-RSA"),
    ALG1("DHE-RSA", "DHE-RSA"),
    ALG1("DHE-DSS", "DHE-DSS"),
    ALG1("PSK", "PSK"),
    ALG1("DHE-PSK", "DHE-PSK"),
    ALG1("ECDHE-PSK", "ECDHE-PSK"),
    ALG1("RSA-PSK", "RSA-PSK"),
    ALG0("ECDHE-GSS"),
    ALG0("DHE-GSS"),
    {NULL, {NULL}, NULL},
};

const VhPolicyAlg *vh_policy_table(VhPolicyList list)
{
    switch (list) {
    case VH_POLICY_PROTOCOL:
        return protocols;
    case VH_POLICY_CIPHER:
        return ciphers;
    case VH_POLICY_MAC:
        return macs;
    case VH_POLICY_HASH:
        return hashes;
    case VH_POLICY_SIGN:
        return signs;
    case VH_POLICY_GROUP:
        return groups;
    case VH_POLICY_KX:
        return kxs;
    default:
        g_assert_not_reached();
    }
}

/*
 * The built-in policies, modelled on what Fedora/RHEL crypto-policies mean
 * by the same names. DEFAULT is the same set as the baseline vmhost uses on
 * a host without a policy: TLS 1.2 and 1.3, AEAD ciphers only (AES-GCM
 * ahead of ChaCha20, which GnuTLS runs far slower here), no SHA-1
 * signatures, 2048-bit RSA and DH.
 */
static const char builtin_default[] =
    "# DEFAULT: TLS 1.2 and 1.3, AEAD ciphers only, no SHA-1 signatures,\n"
    "# RSA and DH keys of 2048 bits or more.\n"
    "protocol = TLS1.3 TLS1.2 DTLS1.2\n"
    "cipher = AES-256-GCM AES-128-GCM CHACHA20-POLY1305 AES-256-CCM \\\n"
    "         AES-128-CCM CAMELLIA-256-GCM CAMELLIA-128-GCM\n"
    "mac = AEAD\n"
    "hash = SHA2-256 SHA2-384 SHA2-512 SHA3-256 SHA3-384 SHA3-512 \\\n"
    "       SHA2-224 SHA3-224\n"
    "sign = ECDSA-SHA2-256 ECDSA-SHA2-384 ECDSA-SHA2-512 \\\n"
    "       EDDSA-ED25519 EDDSA-ED448 \\\n"
    "       RSA-PSS-RSAE-SHA2-256 RSA-PSS-RSAE-SHA2-384 "
    "RSA-PSS-RSAE-SHA2-512 \\\n"
    "       RSA-PSS-SHA2-256 RSA-PSS-SHA2-384 RSA-PSS-SHA2-512 \\\n"
    "       RSA-SHA2-256 RSA-SHA2-384 RSA-SHA2-512 \\\n"
    "       ECDSA-SHA2-224 RSA-SHA2-224\n"
    "group = X25519 SECP256R1 X448 SECP521R1 SECP384R1 \\\n"
    "        FFDHE-2048 FFDHE-3072 FFDHE-4096 FFDHE-6144 FFDHE-8192\n"
    "key_exchange = ECDHE RSA DHE DHE-RSA PSK DHE-PSK ECDHE-PSK\n"
    "min_rsa_size = 2048\n"
    "min_dh_size = 2048\n";

static const char builtin_legacy[] =
    "# LEGACY: DEFAULT plus TLS 1.0 and 1.1, CBC ciphers and 3DES, HMAC\n"
    "# MACs, SHA-1 signatures, RSA and DH keys down to 1024 bits.\n"
    "protocol = TLS1.3 TLS1.2 TLS1.1 TLS1.0 DTLS1.2 DTLS1.0\n"
    "cipher = AES-256-GCM AES-128-GCM CHACHA20-POLY1305 AES-256-CCM \\\n"
    "         AES-128-CCM CAMELLIA-256-GCM CAMELLIA-128-GCM \\\n"
    "         AES-256-CBC AES-128-CBC CAMELLIA-256-CBC CAMELLIA-128-CBC \\\n"
    "         3DES-CBC\n"
    "mac = AEAD HMAC-SHA2-256 HMAC-SHA2-384 HMAC-SHA1\n"
    "hash = SHA2-256 SHA2-384 SHA2-512 SHA3-256 SHA3-384 SHA3-512 \\\n"
    "       SHA2-224 SHA3-224 SHA1\n"
    "sign = ECDSA-SHA2-256 ECDSA-SHA2-384 ECDSA-SHA2-512 \\\n"
    "       EDDSA-ED25519 EDDSA-ED448 \\\n"
    "       RSA-PSS-RSAE-SHA2-256 RSA-PSS-RSAE-SHA2-384 "
    "RSA-PSS-RSAE-SHA2-512 \\\n"
    "       RSA-PSS-SHA2-256 RSA-PSS-SHA2-384 RSA-PSS-SHA2-512 \\\n"
    "       RSA-SHA2-256 RSA-SHA2-384 RSA-SHA2-512 \\\n"
    "       ECDSA-SHA2-224 RSA-SHA2-224 ECDSA-SHA1 RSA-SHA1\n"
    "group = X25519 SECP256R1 X448 SECP521R1 SECP384R1 \\\n"
    "        FFDHE-2048 FFDHE-3072 FFDHE-4096 FFDHE-6144 FFDHE-8192\n"
    "key_exchange = ECDHE RSA DHE DHE-RSA PSK DHE-PSK ECDHE-PSK\n"
    "min_rsa_size = 1024\n"
    "min_dh_size = 1024\n";

static const char builtin_future[] =
    "# FUTURE: TLS 1.2 and 1.3 with 256-bit AEAD ciphers only, no RSA key\n"
    "# exchange, no SHA-224 or SHA-1, RSA and DH keys of 3072 bits or more.\n"
    "protocol = TLS1.3 TLS1.2 DTLS1.2\n"
    "cipher = AES-256-GCM CHACHA20-POLY1305 AES-256-CCM\n"
    "mac = AEAD\n"
    "hash = SHA2-256 SHA2-384 SHA2-512 SHA3-256 SHA3-384 SHA3-512\n"
    "sign = ECDSA-SHA2-256 ECDSA-SHA2-384 ECDSA-SHA2-512 \\\n"
    "       EDDSA-ED25519 EDDSA-ED448 \\\n"
    "       RSA-PSS-RSAE-SHA2-256 RSA-PSS-RSAE-SHA2-384 "
    "RSA-PSS-RSAE-SHA2-512 \\\n"
    "       RSA-PSS-SHA2-256 RSA-PSS-SHA2-384 RSA-PSS-SHA2-512 \\\n"
    "       RSA-SHA2-256 RSA-SHA2-384 RSA-SHA2-512\n"
    "group = X25519 SECP256R1 X448 SECP521R1 SECP384R1 \\\n"
    "        FFDHE-3072 FFDHE-4096 FFDHE-6144 FFDHE-8192\n"
    "key_exchange = ECDHE DHE DHE-RSA PSK DHE-PSK ECDHE-PSK\n"
    "min_rsa_size = 3072\n"
    "min_dh_size = 3072\n";

static const char builtin_no_sha1[] =
    "# NO-SHA1: no SHA-1 anywhere: hash, signatures, HMAC.\n"
    "hash = -SHA1\n"
    "sign = -*-SHA1\n"
    "mac = -HMAC-SHA1\n";

static const char builtin_no_camellia[] =
    "# NO-CAMELLIA: no Camellia ciphers.\n"
    "cipher = -CAMELLIA-*\n";

static const char builtin_ecdhe_only[] =
    "# ECDHE-ONLY: elliptic-curve Diffie-Hellman is the only key exchange\n"
    "# (TLS 1.2 suites and TLS 1.3 groups alike).\n"
    "key_exchange = ECDHE\n"
    "group = -FFDHE-*\n";

typedef struct {
    const char *name;
    const char *text;
} Builtin;

static const Builtin builtin_pols[] = {
    {"DEFAULT", builtin_default},
    {"LEGACY", builtin_legacy},
    {"FUTURE", builtin_future},
    {NULL, NULL},
};

static const Builtin builtin_mods[] = {
    {"NO-SHA1", builtin_no_sha1},
    {"NO-CAMELLIA", builtin_no_camellia},
    {"ECDHE-ONLY", builtin_ecdhe_only},
    {NULL, NULL},
};

static const char *const builtin_pol_names[] = {"DEFAULT", "LEGACY", "FUTURE",
                                                NULL};
static const char *const builtin_mod_names[] = {"NO-SHA1", "NO-CAMELLIA",
                                                "ECDHE-ONLY", NULL};

const char *vh_policy_builtin_text(const char *name, bool module)
{
    const Builtin *b = module ? builtin_mods : builtin_pols;

    for (; b->name; b++) {
        if (strcmp(b->name, name) == 0) {
            return b->text;
        }
    }
    return NULL;
}

const char *const *vh_policy_builtin_names(bool module)
{
    return module ? builtin_mod_names : builtin_pol_names;
}
