/*
 * VhAuthzSimple: -object authz-simple,id=ID,identity=NAME. Allows exactly
 * one identity (byte-for-byte comparison) and denies everything else.
 *
 *     g_autoptr(VhAuthzSimple) a = vh_authz_simple_new("C=UK,CN=qemu");
 */
#pragma once

#include "vmhost/authz/authz.h"

G_BEGIN_DECLS

#define VH_TYPE_AUTHZ_SIMPLE (vh_authz_simple_get_type())
G_DECLARE_FINAL_TYPE(VhAuthzSimple, vh_authz_simple, VH, AUTHZ_SIMPLE, VhAuthz)

/* (transfer full) A new object allowing only @identity. */
VhAuthzSimple *vh_authz_simple_new(const char *identity);

const char *vh_authz_simple_get_identity(VhAuthzSimple *authz);

G_END_DECLS
