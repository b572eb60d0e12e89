#include "vmhost/util/error.h"

G_DEFINE_QUARK(vh-error-quark, vh_error)
