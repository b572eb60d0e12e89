/*
 * The library's error domain is vmhost's VH_VIR_ERROR; the enum must keep
 * its numbers (checked below).
 */
#include "vhg-private.h"

#include "vmhost/util/vir-error.h"

G_STATIC_ASSERT((int)VHG_ERROR_NO_DOMAIN == (int)VH_VIR_ERR_NO_DOMAIN);
G_STATIC_ASSERT((int)VHG_ERROR_AUTH_FAILED == (int)VH_VIR_ERR_AUTH_FAILED);
G_STATIC_ASSERT((int)VHG_ERROR_RPC == (int)VH_VIR_ERR_RPC);
G_STATIC_ASSERT((int)VHG_ERROR_AUTH_UNAVAILABLE ==
                (int)VH_VIR_ERR_AUTH_UNAVAILABLE);

/**
 * vhg_error_quark:
 *
 * The quark of %VHG_ERROR.
 *
 * Returns: the error domain's quark
 */
GQuark vhg_error_quark(void)
{
    return VH_VIR_ERROR;
}
