/* Helpers shared by lib/migration/transport*.c (private). */
#pragma once

#include "vmhost/io/channel-tls.h"
#include "vmhost/migration/transport.h"

/* "tcp", "unix", "fd", "exec" or "file". */
const char *vh_mig_uri_scheme(const VhMigUri *u);

/* Refuses TLS where it cannot work (file:: there is no peer). */
G_GNUC_WARN_UNUSED_RESULT
bool vh_mig_check_tls(const VhMigUri *u, const VhMigTls *tls, GError **errp);

/*
 * The channel for an fd: URI (a socket or any other fd), taken from @fdl,
 * blocking. Closes the fd on failure.
 */
G_GNUC_WARN_UNUSED_RESULT
VhChannel *vh_mig_open_fd(const VhMigUri *u, VhMigFdLookup fdl,
                          void *fdl_opaque, GError **errp);

/* /bin/sh -c CMD with both pipes (a TLS handshake needs both ways). */
G_GNUC_WARN_UNUSED_RESULT
VhChannel *vh_mig_open_exec(const VhMigUri *u, GError **errp);
