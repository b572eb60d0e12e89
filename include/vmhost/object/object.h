/*
 * The object registry: -object / object_add give GObjects (TLS credentials,
 * authz rules, memory backends) an id by which other parts find them at the
 * time of use, as QEMU's do.
 *
 *     if (!vh_object_add("tls0", G_OBJECT(creds), errp)) { ... }
 *     g_autoptr(VhTlsCreds) c = vh_object_lookup_typed("tls0",
 *                                   VH_TYPE_TLS_CREDS, errp);
 *
 * The registry is process-wide and thread-safe.
 */
#pragma once

#include <glib-object.h>
#include <stdbool.h>

G_BEGIN_DECLS

/*
 * An id starts with a letter and holds only letters, digits, '-', '.' and
 * '_' (QEMU's rule). Returns false with an error naming @id otherwise.
 */
G_GNUC_WARN_UNUSED_RESULT
bool vh_object_id_valid(const char *id, GError **errp);

/* Register @obj under @id; takes a reference. Fails if @id is taken. */
G_GNUC_WARN_UNUSED_RESULT
bool vh_object_add(const char *id, GObject *obj, GError **errp);

/* Drop the registry's reference. Fails if no object has @id. */
G_GNUC_WARN_UNUSED_RESULT
bool vh_object_del(const char *id, GError **errp);

/* The object with @id (transfer full), or NULL. */
GObject *vh_object_lookup(const char *id);

/*
 * The object with @id if it is a @type (transfer full); otherwise NULL and
 * an error that says which: "no object with id 'x'" or "object 'x' is a
 * VhAuthzSimple, not a VhTlsCreds".
 */
gpointer vh_object_lookup_typed(const char *id, GType type, GError **errp);

/* The ids in the registry (transfer full), sorted. */
GStrv vh_object_list_ids(void);

G_END_DECLS
