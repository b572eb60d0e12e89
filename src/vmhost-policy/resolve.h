/*
 * vmhost-policy resolve: what a priority string (default: the one vmhost
 * would use) resolves to, through the same decision the library makes
 * (vh_tls_priority_resolve()), and what GnuTLS then enables.
 */
#pragma once

#include <stdbool.h>

/* Print the report for @string (NULL: vmhost's own choice); exit status. */
int vh_policy_resolve_main(const char *string, const char *config_path,
                           bool json);
