/*
 * VhAuthz: the abstract authorization object behind -object authz-simple /
 * authz-list / authz-list-file.
 *
 * A service that authenticates a peer (a TLS server reading the client
 * certificate's subject DN, for instance) asks an authz object whether that
 * identity may proceed. Services name the object by id, and the object is
 * looked up in the registry at the time of use, as QEMU does, so it may be
 * replaced or removed at run time; a missing object denies.
 *
 *     g_autoptr(GError) err = NULL;
 *     if (!vh_authz_is_allowed_by_id("auth0", "C=UK,CN=qemu", &err)) {
 *         g_warning("%s", err->message);  // VH_ERROR_AUTHZ_DENIED
 *     }
 *
 * Every denial returns false with a VH_ERROR_AUTHZ_DENIED error naming the
 * identity and the authz object; an object that cannot decide (its rules
 * file fails to load) denies with the reason in the message.
 */
#pragma once

#include <glib-object.h>
#include <stdbool.h>

#include "vmhost/util/error.h"

G_BEGIN_DECLS

#define VH_TYPE_AUTHZ (vh_authz_get_type())
G_DECLARE_DERIVABLE_TYPE(VhAuthz, vh_authz, VH, AUTHZ, GObject)

struct _VhAuthzClass {
    GObjectClass parent_class;

    /*
     * Mandatory. true when @identity is allowed. On a plain denial return
     * false and leave @errp unset: the caller words the message. When the
     * object cannot decide (a rules file that fails to load, say), return
     * false and set @errp to the reason; the caller turns it into a denial
     * that quotes it.
     */
    bool (*is_allowed)(VhAuthz *authz, const char *identity, GError **errp);

    gpointer padding[8];
};

/*
 * The "id" property: the registry id, used in messages. Optional; without
 * it messages name the type. vh_authz_is_allowed_by_id() always names the
 * id it looked up.
 */
const char *vh_authz_get_id(VhAuthz *authz);

/* Ask @authz about @identity. See the denial contract above. */
G_GNUC_WARN_UNUSED_RESULT
bool vh_authz_is_allowed(VhAuthz *authz, const char *identity, GError **errp);

/*
 * Look @authzid up in the object registry now and ask it. A missing object,
 * or one that is not a VhAuthz, denies with an error naming @authzid.
 */
G_GNUC_WARN_UNUSED_RESULT
bool vh_authz_is_allowed_by_id(const char *authzid, const char *identity,
                               GError **errp);

G_END_DECLS
