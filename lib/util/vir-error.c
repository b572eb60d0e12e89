#include "vmhost/util/vir-error.h"

/* clang-format off */
G_DEFINE_QUARK(vh-vir-error-quark, vh_vir_error)
/* clang-format on */
