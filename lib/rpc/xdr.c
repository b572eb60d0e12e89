/* Placeholder until the rpc helper lands xdr.c. */
#include <glib.h>
