/*
 * Crypto policies in the crypto-policies language, reduced to what a GnuTLS
 * back-end needs (see docs/vmhost-policy.md for the exact subset).
 *
 *     g_autoptr(VhPolicy) pol = vh_policy_load(root, "DEFAULT:NO-SHA1", errp);
 *     if (!pol) { ... }
 *     g_autofree char *text = vh_policy_generate(pol,
 * VH_POLICY_FORMAT_ALLOWLIST);
 *
 * A policy is ordered lists of algorithms (protocol, cipher, mac, hash, sign,
 * group, key_exchange) and two integers (min_rsa_size, min_dh_size). A
 * .pol file starts from nothing; each .pmod sub-policy then edits the
 * result. The built-in DEFAULT, LEGACY, FUTURE, NO-SHA1, NO-CAMELLIA and
 * ECDHE-ONLY are texts in the same language, run through the same parser.
 * Files under ROOT/etc/crypto-policies/policies/ (then
 * ROOT/usr/share/crypto-policies/policies/) take precedence over them.
 *
 * Errors (VH_ERROR_CONFIG) name the file and line: "FILE:3: unknown cipher
 * 'AES-512-GCM'".
 */
#pragma once

#include <glib.h>
#include <stdbool.h>

G_BEGIN_DECLS

typedef enum {
    VH_POLICY_PROTOCOL,
    VH_POLICY_CIPHER,
    VH_POLICY_MAC,
    VH_POLICY_HASH,
    VH_POLICY_SIGN,
    VH_POLICY_GROUP,
    VH_POLICY_KX,
    VH_POLICY_N_LISTS,
} VhPolicyList;

typedef enum {
    VH_POLICY_FORMAT_ALLOWLIST, /* INI, [global] override-mode = allowlist */
    VH_POLICY_FORMAT_LEGACY,    /* KEYWORD=string lines */
} VhPolicyFormat;

/* One algorithm: its crypto-policies name and what GnuTLS calls it. */
typedef struct {
    const char *name;      /* crypto-policies name, e.g. "HMAC-SHA2-256" */
    const char *gnutls[3]; /* GnuTLS names, NULL-terminated; none: no
                            * GnuTLS equivalent, accepted and skipped */
    const char *curve;     /* curve to enable with it (enabled-curve) */
} VhPolicyAlg;

typedef struct {
    char *name; /* "DEFAULT:NO-SHA1" */
    /* const VhPolicyAlg * (transfer none: static tables), in order */
    GPtrArray *lists[VH_POLICY_N_LISTS];
    int min_rsa_size; /* 0: unset */
    int min_dh_size;  /* 0: unset */
} VhPolicy;

VhPolicy *vh_policy_new(const char *name);
void vh_policy_free(VhPolicy *pol);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VhPolicy, vh_policy_free)

/* The policy-file key of a list: "protocol", "key_exchange", ... */
const char *vh_policy_list_key(VhPolicyList list);

/*
 * Apply the directives of @text (a .pol or .pmod) to @pol, in order. @file
 * names the text in errors. On error @pol may be half-edited.
 */
G_GNUC_WARN_UNUSED_RESULT
bool vh_policy_apply_text(VhPolicy *pol, const char *file, const char *text,
                          GError **errp);

/*
 * Check the syntax of a policy spec "NAME[:SUB...]" and split it
 * (transfer full; NULL-terminated, first element the policy).
 */
G_GNUC_WARN_UNUSED_RESULT
char **vh_policy_spec_split(const char *spec, GError **errp);

/*
 * Build the policy @spec from @root ("/" or a test root; NULL means "/"):
 * the named .pol, then each .pmod in order. Unknown names are an error that
 * says where they were looked for.
 */
G_GNUC_WARN_UNUSED_RESULT
VhPolicy *vh_policy_load(const char *root, const char *spec, GError **errp);

/* The text of a built-in policy ("DEFAULT") or module ("NO-SHA1"), or NULL. */
const char *vh_policy_builtin_text(const char *name, bool module);

/* Names of the built-in policies / modules (NULL-terminated, static). */
const char *const *vh_policy_builtin_names(bool module);

/*
 * The GnuTLS priority string equivalent to @pol ("NONE:+VERS-TLS1.3:...").
 * (transfer full)
 */
char *vh_policy_priority_string(const VhPolicy *pol);

/*
 * The generated back-end text for @pol, ending with "[priorities]\n
 * SYSTEM=..." (allowlist) or "SYSTEM=..." (legacy), newline-terminated, so
 * that local.d text can be appended. (transfer full)
 */
char *vh_policy_generate(const VhPolicy *pol, VhPolicyFormat format);

/* "allowlist" / "legacy"; parse: false for anything else. */
const char *vh_policy_format_name(VhPolicyFormat format);
bool vh_policy_format_parse(const char *name, VhPolicyFormat *out);

G_END_DECLS
