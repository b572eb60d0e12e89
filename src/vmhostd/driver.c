/* Placeholder until the driver helper lands driver.c. */
#include "driver.h"
