#include "vmhost/vmhost-types.h"

#include "vmhost/authz/authz-list-file.h"
#include "vmhost/authz/authz-list.h"
#include "vmhost/authz/authz-simple.h"
#include "vmhost/crypto/tls-creds-anon.h"
#include "vmhost/crypto/tls-creds-psk.h"
#include "vmhost/crypto/tls-creds-x509.h"
#include "vmhost/machine/memory-backend.h"
#include "vmhost/object/object-create.h"

void vh_object_register_builtin_types(void)
{
    static gsize done;

    if (!g_once_init_enter(&done)) {
        return;
    }
    vh_object_type_register("tls-creds-x509", VH_TYPE_TLS_CREDS_X509);
    vh_object_type_register("tls-creds-anon", VH_TYPE_TLS_CREDS_ANON);
    vh_object_type_register("tls-creds-psk", VH_TYPE_TLS_CREDS_PSK);
    vh_object_type_register("authz-simple", VH_TYPE_AUTHZ_SIMPLE);
    vh_object_type_register_full("authz-list", VH_TYPE_AUTHZ_LIST,
                                 vh_authz_list_opts_hook);
    vh_object_type_register("authz-list-file", VH_TYPE_AUTHZ_LIST_FILE);
    vh_object_type_register("memory-backend-ram", VH_TYPE_MEMORY_BACKEND_RAM);
    vh_object_type_register("memory-backend-file", VH_TYPE_MEMORY_BACKEND_FILE);
    g_once_init_leave(&done, 1);
}
