/*
 * Creating registry objects from option strings: -object, object_add.
 *
 *     vh_object_register_builtin_types();   (vmhost/vmhost-types.h)
 *     if (!vh_object_add_from_string(
 *             "tls-creds-x509,id=tls0,endpoint=server,dir=/etc/pki/vmhost",
 *             errp)) { ... }
 *
 * Types are registered under their QEMU names ("tls-creds-x509"). Each key
 * other than qom-type and id names a GObject property of the type, spelled
 * as in QEMU (dir, endpoint, verify-peer, ...), and its string is converted
 * by the property's type:
 *   gboolean       on/off, yes/no, true/false; bare "K" and "noK" as in
 *                  opts.h
 *   string         as written
 *   enum           by nick ("endpoint=server")
 *   int, uint, int64, long, ulong
 *                  a number within the property's range
 *   uint64         a size: a number of bytes or "4G", "512M", ...
 * Keys that are no property may be taken by the type's opts hook (authz-list
 * takes rules.N.match/policy/format this way); any key left over is an error
 * naming the type and the key.
 *
 * A type with a writable string property "id" (VhAuthz) gets the object's
 * id in it, for its messages. GInitable types are initialised before the
 * object is registered; their errors read "object 'tls0': ...".
 */
#pragma once

#include <glib-object.h>
#include <stdbool.h>

#include "vmhost/util/json.h"
#include "vmhost/util/opts.h"

G_BEGIN_DECLS

/*
 * Optional per type: consume keys of @opts that are no property (marking
 * them used by reading them) and apply them to the new @obj, before
 * g_initable_init(). Errors name the option and key, as opts.h getters do.
 */
typedef bool (*VhObjectOptsHook)(GObject *obj, VhOpts *opts, GError **errp);

/*
 * Make @type creatable as @qemu_name. Registering the same name again
 * replaces the entry (the last registration wins).
 */
void vh_object_type_register(const char *qemu_name, GType type);
void vh_object_type_register_full(const char *qemu_name, GType type,
                                  VhObjectOptsHook hook);

/* The type registered as @qemu_name, or G_TYPE_INVALID. */
GType vh_object_type_lookup(const char *qemu_name);
/* The registered QEMU type names, sorted (transfer full). */
GStrv vh_object_type_list(void);

/*
 * Create the object @opts describe (qom-type, id, properties), initialise
 * it and register it under its id. Returns the object (transfer full: the
 * registry holds its own reference), or NULL with an error:
 *   "-object: invalid object type 'tls-creds-x590'"
 *   "-object tls-creds-x509: object type 'tls-creds-x509' has no property
 *    'foo'"
 *   "-object: parameter 'endpoint' expects 'client' or 'server', got 'x'"
 *   "-object tls-creds-x509: parameter 'id' is required"
 *   "object 'tls0': <the GInitable error>"
 * With @opts named VH_OBJECT_ADD_OPTNAME (the monitor's object_add, QMP
 * and HMP) an unknown property is QEMU's "Parameter 'foo' is unexpected".
 * Every element of @opts is marked used on success.
 */
#define VH_OBJECT_ADD_OPTNAME "object_add"

G_GNUC_WARN_UNUSED_RESULT
GObject *vh_object_create_from_opts(VhOpts *opts, GError **errp);

/*
 * Create the object the JSON object @o describes, as QEMU >= 6.0 takes
 * -object '{"qom-type": ..., "id": ..., ...}' and QMP object-add: values
 * are typed, so a property of a boolean type takes a JSON boolean (not
 * "on"), a string or enum property a JSON string, a number property a
 * JSON integer; otherwise "Invalid parameter type for 'verify-peer',
 * expected: boolean" (QEMU's words). Members that are no property
 * (authz-list's rules) are flattened for the type's hook as dotted keys.
 * Then as vh_object_create_from_opts(), errors prefixed with @optname.
 */
/*
 * Only the type check of vh_object_create_from_json(): each member of @o
 * that is qom-type, id or a writable property of the qom-type's type has
 * that JSON type. @optname prefixes the error (NULL: no prefix, as QMP).
 */
G_GNUC_WARN_UNUSED_RESULT
bool vh_object_check_json_types(const char *optname, JsonObject *o,
                                GError **errp);

G_GNUC_WARN_UNUSED_RESULT
GObject *vh_object_create_from_json(const char *optname, JsonObject *o,
                                    GError **errp);

/*
 * Parse @str as -object does and create it: a string that starts with '{'
 * is JSON (as in QEMU: no blank before it), anything else an option
 * string (implied key qom-type).
 */
G_GNUC_WARN_UNUSED_RESULT
bool vh_object_add_from_string(const char *str, GError **errp);

G_END_DECLS
