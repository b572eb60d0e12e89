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
 * Order today: the object's priority= if set (and non-empty), else the build
 * default (meson option tls_priority, VMHOST_TLS_PRIORITY_DEFAULT). Then the
 * credentials type's suffix is appended. Later levels (config files, system
 * crypto policy) are added here and nowhere else.
 */
#pragma once

#include <gnutls/gnutls.h>
#include <stdbool.h>

#include "vmhost/crypto/tls-creds.h"
#include "vmhost/util/error.h"

G_BEGIN_DECLS

/* What the decision is made from; every field may be NULL. */
typedef struct {
    const char *object_priority; /* the object's priority= property */
    const char *build_default;   /* NULL: VMHOST_TLS_PRIORITY_DEFAULT */
    const char *suffix;          /* the credentials type's suffix */
} VhTlsPriorityInputs;

/* The decision. Zero-initialise; release with vh_tls_priority_clear(). */
typedef struct {
    char *string;               /* effective string, suffix included */
    VhTlsPrioritySource source; /* where the base string came from */
    gnutls_priority_t compiled; /* gnutls_priority_init() of string */
} VhTlsPriority;

/*
 * Decide, then compile the string so that a typo fails now, with libvirt's
 * wording plus the token GnuTLS stopped at:
 * "Failed to set TLS session priority to NORMAL:-VERS-TLS1.9: The request
 * is invalid at 'VERS-TLS1.9'" (VH_ERROR_CONFIG). On failure @out is left
 * cleared.
 */
G_GNUC_WARN_UNUSED_RESULT
bool vh_tls_priority_resolve(const VhTlsPriorityInputs *in, VhTlsPriority *out,
                             GError **errp);

/* Compile @priority alone, with the same error as above (transfer full). */
G_GNUC_WARN_UNUSED_RESULT
bool vh_tls_priority_compile(const char *priority, gnutls_priority_t *out,
                             GError **errp);

/* Free what @prio holds and zero it; safe on a zeroed struct. */
void vh_tls_priority_clear(VhTlsPriority *prio);

/* "object" or "default". */
const char *vh_tls_priority_source_name(VhTlsPrioritySource source);

G_END_DECLS
