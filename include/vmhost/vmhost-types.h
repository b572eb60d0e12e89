/*
 * The object types vmhost creates from -object / object_add, registered
 * under their QEMU names. This sits above every layer (lib/types.c, in the
 * vh-types library that libvmhost_dep carries), because lib/object, which
 * creates the objects, sits below the layers that define them.
 *
 *     vh_object_register_builtin_types();
 *     if (!vh_object_add_from_string("authz-simple,id=a0,identity=CN=x",
 *                                    errp)) { ... }
 *
 * Types: tls-creds-x509, tls-creds-anon, tls-creds-psk, authz-simple,
 * authz-list (with rules.N.match, rules.N.policy and rules.N.format, N
 * counting from 0; format defaults to exact, policy is required),
 * authz-list-file, memory-backend-ram and memory-backend-file
 * (vmhost/machine/memory-backend.h).
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Idempotent and thread-safe. */
void vh_object_register_builtin_types(void);

G_END_DECLS
