/* Helpers shared by the lib/crypto tests. */
#pragma once

#include <glib.h>

/* A new temporary directory (transfer full). */
char *vh_test_mkdtemp(const char *prefix);
/* Remove @path and everything under it. */
void vh_test_rm_rf(const char *path);
