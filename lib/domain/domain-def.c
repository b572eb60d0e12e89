/* Placeholder until the domain helper lands domain-def.c. */
#include "vmhost/domain/domain-def.h"
