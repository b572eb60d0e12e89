/* Helpers shared by the lib/crypto tests. */
#pragma once

#include <glib.h>

/* A new temporary directory (transfer full). */
char *vh_test_mkdtemp(const char *prefix);
/* Remove @path and everything under it. */
void vh_test_rm_rf(const char *path);

#include "vmhost/crypto/tls-creds.h"

/*
 * Run a TLS handshake between @server and @client credentials over a
 * socketpair (server in a thread). Returns 0 when both sides succeed, else
 * the first failing GnuTLS error code; *client_rc / *server_rc (optional)
 * get each side's result.
 */
int vh_test_handshake(VhTlsCreds *server, VhTlsCreds *client, int *server_rc,
                      int *client_rc);
