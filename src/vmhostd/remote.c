/* Placeholder until the protocol helper lands remote.c. */
#include "remote.h"
