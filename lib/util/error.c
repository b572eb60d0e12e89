#include "vmhost/util/error.h"

/* The quark's name is made from these tokens: keep clang-format's spaces out.
 */
/* clang-format off */
G_DEFINE_QUARK(vh-error-quark, vh_error)
/* clang-format on */
