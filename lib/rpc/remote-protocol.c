/*
 * remote_nonnull_domain, the one structure of REMOTE_PROGRAM that both
 * vmhostd and the client library encode and decode.
 */
#include "vmhost/rpc/remote-protocol.h"

#include <string.h>

void vh_remote_put_domain(GByteArray *b, const char *name,
                          const guint8 uuid[VH_REMOTE_UUID_LEN], gint32 id)
{
    vh_xdr_put_string(b, name);
    vh_xdr_put_opaque_fixed(b, uuid, VH_REMOTE_UUID_LEN);
    vh_xdr_put_i32(b, id);
}

bool vh_remote_get_domain(VhXdrReader *r, char **name,
                          guint8 uuid[VH_REMOTE_UUID_LEN], gint32 *id,
                          GError **errp)
{
    g_autofree char *n = NULL;
    guint8 u[VH_REMOTE_UUID_LEN];
    gint32 i;

    if (!vh_xdr_get_string(r, 0, &n, errp) ||
        !vh_xdr_get_opaque_fixed(r, u, VH_REMOTE_UUID_LEN, errp) ||
        !vh_xdr_get_i32(r, &i, errp)) {
        return false;
    }
    *name = g_steal_pointer(&n);
    memcpy(uuid, u, VH_REMOTE_UUID_LEN);
    *id = i;
    return true;
}
