/*
 * TLS priority resolution: the one place where the effective GnuTLS priority
 * string of a credentials object is decided.
 *
 *     VhTlsPriorityInputs in = {
 *         .object_priority = priority_property,  (NULL when unset)
 *         .suffix = ":+ANON-ECDH:+ANON-DH",
 *     };
 *     VhTlsPriority prio = {0};
 *     if (!vh_tls_priority_resolve(&in, &prio, errp)) { ... }
 *     gnutls_priority_set(session, prio.compiled);
 *     ...
 *     vh_tls_priority_clear(&prio);
 *
 * Which string is requested: the object's priority= if set (and non-empty),
 * else tls_priority from vmhost.conf (vh_host_conf_get()), else the build
 * default (meson option tls_priority, VMHOST_TLS_PRIORITY_DEFAULT,
 * "@VMHOST,SYSTEM" unless configured otherwise).
 *
 * How it is resolved: a string not starting with '@' is used as written.
 * "@KW1,KW2[:extra]" is looked up by GnuTLS in the system priority file
 * (vh_tls_priority_system_file()); vmhost parses that file as well (both the
 * INI format's [priorities] section and the legacy KEYWORD=string lines) to
 * report which keyword matched and what it said. When the lookup fails ONLY
 * because none of the keywords exists (no file, or no such entries), the
 * baseline VH_TLS_PRIORITY_BASELINE_STRING (plus ":extra") is used and a
 * warning is logged (once per requested string and process) naming the
 * file, the keywords and the baseline; with tls_priority_strict = 1 in
 * vmhost.conf that is an error instead.
 *
 * Finally the credentials type's suffix is appended and the string compiled,
 * so that a typo fails when the creds object is created.
 */
#pragma once

#include <gnutls/gnutls.h>
#include <stdbool.h>

#include "vmhost/crypto/tls-creds.h"
#include "vmhost/util/conf.h"
#include "vmhost/util/error.h"

G_BEGIN_DECLS

/*
 * vmhost's stand-in for crypto-policies' DEFAULT on hosts without a policy:
 * TLS 1.3 and 1.2 only, AEAD ciphers only (AES-GCM ahead of ChaCha20, CCM
 * last, and as a server in this order whatever the client prefers), no
 * SHA-1 signatures. docs/tls-priority.md explains it.
 */
#define VH_TLS_PRIORITY_BASELINE_STRING                                        \
    "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:"                              \
    "-CIPHER-ALL:+AES-256-GCM:+AES-128-GCM:+CHACHA20-POLY1305:"                \
    "+AES-256-CCM:+AES-128-CCM:-MAC-ALL:+AEAD:"                                \
    "-SIGN-RSA-SHA1:-SIGN-DSA-SHA1:-SIGN-ECDSA-SHA1:%SERVER_PRECEDENCE"

/* How the requested string became the effective one. */
typedef enum {
    VH_TLS_PRIORITY_LITERAL,  /* no '@': used as written */
    VH_TLS_PRIORITY_KEYWORD,  /* '@': a keyword of the system file matched */
    VH_TLS_PRIORITY_BASELINE, /* '@': no keyword exists; baseline used */
} VhTlsPriorityResolution;

/* What the decision is made from; every field may be NULL/0. */
typedef struct {
    /*
     * The object's priority= property. A tool resolving a string given on
     * its command line (vmhost-policy resolve STRING) passes it here; the
     * source then reads "object".
     */
    const char *object_priority;
    const VhHostConf *conf;    /* NULL: vh_host_conf_get() */
    const char *build_default; /* NULL: VMHOST_TLS_PRIORITY_DEFAULT */
    const char *suffix;        /* the credentials type's suffix */
    bool quiet;                /* don't log the baseline warning */
} VhTlsPriorityInputs;

/* The decision. Zero-initialise; release with vh_tls_priority_clear(). */
struct _VhTlsPriority {
    char *string;               /* effective string, suffix included */
    VhTlsPrioritySource source; /* where the requested string came from */
    char *requested;            /* the requested string, as given */
    VhTlsPriorityResolution resolution;
    char *system_file;          /* the file GnuTLS reads (for '@' strings) */
    char *keyword;              /* KEYWORD: the one that matched */
    char *keyword_value;        /* KEYWORD: its entry in the file, if parsed */
    char *baseline_reason;      /* BASELINE: why, e.g. "no file ..." */
    gnutls_priority_t compiled; /* gnutls_priority_init() of string */
};

/*
 * Decide, resolve and compile. Errors (VH_ERROR_CONFIG) use libvirt's
 * wording plus the token GnuTLS stopped at:
 * "Failed to set TLS session priority to NORMAL:-VERS-TLS1.9: The request
 * is invalid at 'VERS-TLS1.9'"; for '@' strings they also name the file
 * and what the string resolved to:
 * "Failed to set TLS session priority to @VMHOST,SYSTEM: VMHOST in
 * /etc/gnutls/config resolved to NORMAL:-VERS-TLS9: The request is invalid
 * at 'VERS-TLS9'". On failure @out is left cleared.
 */
G_GNUC_WARN_UNUSED_RESULT
bool vh_tls_priority_resolve(const VhTlsPriorityInputs *in, VhTlsPriority *out,
                             GError **errp);

/* Compile @priority alone, with the error above (transfer full). */
G_GNUC_WARN_UNUSED_RESULT
bool vh_tls_priority_compile(const char *priority, gnutls_priority_t *out,
                             GError **errp);

/* Free what @prio holds and zero it; safe on a zeroed struct. */
void vh_tls_priority_clear(VhTlsPriority *prio);

/* "object", "config" or "default". */
const char *vh_tls_priority_source_name(VhTlsPrioritySource source);
/* "literal", "keyword" or "baseline". */
const char *vh_tls_priority_resolution_name(VhTlsPriorityResolution resolution);

/*
 * The system priority file GnuTLS reads: $GNUTLS_SYSTEM_PRIORITY_FILE as it
 * was when GnuTLS initialised, else the compiled-in path (Debian:
 * /etc/gnutls/config; Fedora: /etc/crypto-policies/back-ends/gnutls.config).
 * (transfer none)
 */
const char *vh_tls_priority_system_file(void);

/*
 * Look @keyword up in @file the way GnuTLS does (first entry wins; lines
 * outside any section or in [priorities]). Returns the entry's value
 * (transfer full), or NULL with *@reason saying why ("no such file",
 * "no entry VMHOST"). Never fails otherwise: an unreadable file is a
 * reason too.
 */
char *vh_tls_priority_lookup_keyword(const char *file, const char *keyword,
                                     char **reason);

G_END_DECLS
