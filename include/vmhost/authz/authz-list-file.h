/*
 * VhAuthzListFile: -object authz-list-file,id=ID,filename=F[,refresh=on|off]
 *
 * The rules of authz-list kept in a JSON file:
 *
 *     {"policy": "deny",
 *      "rules": [{"match": "CN=*,O=ACME", "policy": "allow",
 *                 "format": "glob"}]}
 *
 * The object is GInitable: g_initable_new() reads the file and fails when
 * it cannot be loaded.
 *
 *     g_autoptr(VhAuthzListFile) a = vh_authz_list_file_new(path, true, errp);
 *
 * Reloading (refresh=on, the default): every is_allowed stat()s the file
 * and reloads it when its inode, size, mtime or ctime (nanosecond stamps)
 * changed since the last load. A stat per decision is cheap next to a TLS
 * handshake, works from any thread, and needs no main loop, unlike a
 * GFileMonitor. With refresh=off the file is read once.
 *
 * A file that fails to load (missing, unreadable, bad JSON, a bad rule)
 * denies everyone until it loads again; the denial message names the file
 * and says why.
 */
#pragma once

#include <gio/gio.h>

#include "vmhost/authz/authz.h"

G_BEGIN_DECLS

#define VH_TYPE_AUTHZ_LIST_FILE (vh_authz_list_file_get_type())
G_DECLARE_FINAL_TYPE(VhAuthzListFile, vh_authz_list_file, VH, AUTHZ_LIST_FILE,
                     VhAuthz)

/* (transfer full) Properties "filename" and "refresh"; loads the file. */
G_GNUC_WARN_UNUSED_RESULT
VhAuthzListFile *vh_authz_list_file_new(const char *filename, bool refresh,
                                        GError **errp);

const char *vh_authz_list_file_get_filename(VhAuthzListFile *authz);
bool vh_authz_list_file_get_refresh(VhAuthzListFile *authz);

G_END_DECLS
