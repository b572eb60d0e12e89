/*
 * REMOTE_PROGRAM's domain procedures, each a thin codec around one
 * VhDriver call. A domain argument is remote_nonnull_domain; the driver
 * finds it by UUID, as libvirt's daemon does.
 */
#include "remote-internal.h"

#include <string.h>

/* libvirt's flag bits, by function */
/* virConnectListAllDomains flags as libvirt numbers them on the wire */
#define LIST_ALL_KNOWN      0xffffu /* ACTIVE .. NO_CHECKPOINT */
#define LIST_MANAGEDSAVE    256u
#define LIST_NO_MANAGEDSAVE 512u
#define LIST_AUTOSTART      1024u
#define LIST_NO_AUTOSTART   2048u
#define LIST_HAS_SNAPSHOT   4096u
#define LIST_NO_SNAPSHOT    8192u
#define LIST_HAS_CHECKPOINT 16384u
#define LIST_NO_CHECKPOINT  32768u
/* The bits the driver filters on (libvirt's numbers, as driver.h's) */
#define LIST_DRIVER_BITS      0xfffu /* ACTIVE .. OTHER, AUTOSTART, NO_ */
#define XML_ALLOWED           0xfu   /* SECURE INACTIVE UPDATE_CPU MIGRATABLE */
#define XML_SECURE            1u
#define DEFINE_VALIDATE       1u
#define CREATE_PAUSED         1u
#define CREATE_AUTODESTROY    2u
#define CREATE_BYPASS_CACHE   4u
#define CREATE_FORCE_BOOT     8u
#define CREATE_XML_VALIDATE   16u
#define UNDEFINE_ALLOWED      0x7fu /* nothing vmhost keeps besides the config */
#define SHUTDOWN_ACPI         1u
#define DESTROY_GRACEFUL      1u
#define DESTROY_REMOVE_LOGS   2u
#define CONSOLE_FORCE         1u
#define CONSOLE_SAFE          2u
#define MESSAGES_ALLOWED      3u
#define SNAPSHOT_LIST_ALLOWED 0x7ffu

static void put_ref(GByteArray *ret, const VhDomainRef *d)
{
    vh_remote_put_domain(ret, d->name, d->uuid, d->id);
}

/* {remote_nonnull_domain dom} */
static bool get_dom(VhXdrReader *a, guint8 *uuid, GError **errp)
{
    g_autofree char *name = NULL;
    gint32 id;

    return vh_remote_get_domain(a, &name, uuid, &id, errp);
}

static bool args_dom(VhXdrReader *a, guint8 *uuid, GError **errp)
{
    return get_dom(a, uuid, errp) && vh_xdr_end(a, errp);
}

static bool args_dom_flags(VhXdrReader *a, guint8 *uuid, guint32 *flags,
                           GError **errp)
{
    return get_dom(a, uuid, errp) && vh_xdr_get_u32(a, flags, errp) &&
           vh_xdr_end(a, errp);
}

/* {dom}, or {dom; unsigned flags} when the call is flags_proc (flags 0) */
static bool args_dom_opt_flags(VhRpcCall *call, guint32 flags_proc,
                               VhXdrReader *a, guint8 *uuid, guint32 *flags,
                               GError **errp)
{
    *flags = 0;
    if (vh_rpc_call_get_header(call)->proc == flags_proc) {
        return args_dom_flags(a, uuid, flags, errp);
    }
    return args_dom(a, uuid, errp);
}

/*
 * {dom} (flags_func NULL) or {dom; unsigned flags} with the flags checked
 * against allowed for flags_func; fails unless the domain exists. For the
 * queries whose answer is the same for every domain vmhost keeps.
 */
static bool args_existing_dom(VhRpcCall *call, VhXdrReader *a,
                              const char *flags_func, guint32 allowed,
                              GError **errp)
{
    guint8 uuid[VH_REMOTE_UUID_LEN];
    guint32 flags;
    bool active;

    if (flags_func ? !args_dom_flags(a, uuid, &flags, errp) ||
                         !remote_check_flags(flags, allowed, flags_func, errp)
                   : !args_dom(a, uuid, errp)) {
        return false;
    }
    return vh_driver_is_active(remote_driver(call), uuid, &active, errp);
}

/* ---- lists ---- */

/* CONNECT_NUM_OF_DOMAINS / NUM_OF_DEFINED_DOMAINS: void -> {int num} */
static bool do_num_of_domains(VhRpcCall *call, VhXdrReader *a, GByteArray *ret,
                              GError **errp)
{
    bool active = vh_rpc_call_get_header(call)->proc ==
                  VH_REMOTE_PROC_CONNECT_NUM_OF_DOMAINS;

    if (!vh_xdr_end(a, errp)) {
        return false;
    }
    vh_xdr_put_i32(ret, vh_driver_num_domains(remote_driver(call), active));
    return true;
}

static bool get_max(VhXdrReader *a, gint32 *max, GError **errp)
{
    if (!vh_xdr_get_i32(a, max, errp) || !vh_xdr_end(a, errp)) {
        return false;
    }
    if (*max < 0 || (guint32)*max > VH_REMOTE_DOMAIN_LIST_MAX) {
        g_set_error(errp, VH_VIR_ERROR, VH_VIR_ERR_RPC,
                    "maximum of %d domains is out of the range 0..%u", *max,
                    VH_REMOTE_DOMAIN_LIST_MAX);
        return false;
    }
    return true;
}

/* CONNECT_LIST_DOMAINS: {int maxids} -> {int ids<16384>};
 * CONNECT_LIST_DEFINED_DOMAINS: {int maxnames} -> {string names<16384>} */
static bool do_list_domains(VhRpcCall *call, VhXdrReader *a, GByteArray *ret,
                            GError **errp)
{
    bool active = vh_rpc_call_get_header(call)->proc ==
                  VH_REMOTE_PROC_CONNECT_LIST_DOMAINS;
    gint32 max;

    if (!get_max(a, &max, errp)) {
        return false;
    }
    g_autoptr(GPtrArray) doms =
        vh_driver_list_domains(remote_driver(call), active ? 1 : 2);
    guint n = MIN(doms->len, (guint)max);
    vh_xdr_put_u32(ret, n);
    for (guint i = 0; i < n; i++) {
        VhDomainRef *d = doms->pdata[i];

        if (active) {
            vh_xdr_put_i32(ret, d->id);
        } else {
            vh_xdr_put_string(ret, d->name);
        }
    }
    return true;
}

/* The wire's filter bits in the numbering vh_driver_list_domains takes. */
/* CONNECT_LIST_ALL_DOMAINS: {int need_results; unsigned flags}
 * -> {remote_nonnull_domain domains<16384>; unsigned ret} */
static bool do_list_all(VhRpcCall *call, VhXdrReader *a, GByteArray *ret,
                        GError **errp)
{
    gint32 need;
    guint32 flags;

    if (!vh_xdr_get_i32(a, &need, errp) || !vh_xdr_get_u32(a, &flags, errp) ||
        !vh_xdr_end(a, errp) ||
        !remote_check_flags(flags, LIST_ALL_KNOWN, "virConnectListAllDomains",
                            errp)) {
        return false;
    }
    g_autoptr(GPtrArray) doms =
        vh_driver_list_domains(remote_driver(call), flags & LIST_DRIVER_BITS);
    /* no domain has a managed save image, a snapshot or a checkpoint */
    static const guint32 has_no[][2] = {
        {LIST_MANAGEDSAVE, LIST_NO_MANAGEDSAVE},
        {LIST_HAS_SNAPSHOT, LIST_NO_SNAPSHOT},
        {LIST_HAS_CHECKPOINT, LIST_NO_CHECKPOINT},
    };
    for (gsize i = 0; i < G_N_ELEMENTS(has_no); i++) {
        if ((flags & has_no[i][0]) && !(flags & has_no[i][1])) {
            g_ptr_array_set_size(doms, 0);
        }
    }
    guint n = MIN(doms->len, VH_REMOTE_DOMAIN_LIST_MAX);
    if (need) {
        vh_xdr_put_u32(ret, n);
        for (guint i = 0; i < n; i++) {
            put_ref(ret, doms->pdata[i]);
        }
    } else {
        vh_xdr_put_u32(ret, 0);
    }
    vh_xdr_put_u32(ret, n);
    return true;
}

/* ---- lookups ---- */

static bool reply_ref(GByteArray *ret, VhDomainRef *d)
{
    if (!d) {
        return false;
    }
    put_ref(ret, d);
    vh_domain_ref_free(d);
    return true;
}

/* DOMAIN_LOOKUP_BY_NAME: {string name} -> {dom} */
static bool do_lookup_by_name(VhRpcCall *call, VhXdrReader *a, GByteArray *ret,
                              GError **errp)
{
    g_autofree char *name = NULL;

    if (!vh_xdr_get_string(a, 0, &name, errp) || !vh_xdr_end(a, errp)) {
        return false;
    }
    return reply_ref(ret,
                     vh_driver_lookup_by_name(remote_driver(call), name, errp));
}

/* DOMAIN_LOOKUP_BY_UUID: {opaque uuid[16]} -> {dom} */
static bool do_lookup_by_uuid(VhRpcCall *call, VhXdrReader *a, GByteArray *ret,
                              GError **errp)
{
    guint8 uuid[VH_REMOTE_UUID_LEN];

    if (!vh_xdr_get_opaque_fixed(a, uuid, sizeof(uuid), errp) ||
        !vh_xdr_end(a, errp)) {
        return false;
    }
    return reply_ref(ret,
                     vh_driver_lookup_by_uuid(remote_driver(call), uuid, errp));
}

/* DOMAIN_LOOKUP_BY_ID: {int id} -> {dom} */
static bool do_lookup_by_id(VhRpcCall *call, VhXdrReader *a, GByteArray *ret,
                            GError **errp)
{
    gint32 id;

    if (!vh_xdr_get_i32(a, &id, errp) || !vh_xdr_end(a, errp)) {
        return false;
    }
    return reply_ref(ret,
                     vh_driver_lookup_by_id(remote_driver(call), id, errp));
}

/* ---- state queries ---- */

/* DOMAIN_GET_INFO: {dom} -> {unsigned char state; unsigned hyper maxMem,
 * memory; unsigned short nrVirtCpu; unsigned hyper cpuTime} */
static bool do_get_info(VhRpcCall *call, VhXdrReader *a, GByteArray *ret,
                        GError **errp)
{
    guint8 uuid[VH_REMOTE_UUID_LEN];
    VhDomainInfo info;

    if (!args_dom(a, uuid, errp) ||
        !vh_driver_get_info(remote_driver(call), uuid, &info, errp)) {
        return false;
    }
    vh_xdr_put_u32(ret, (guint8)info.state);
    vh_xdr_put_u64(ret, info.max_mem_kib);
    vh_xdr_put_u64(ret, info.memory_kib);
    vh_xdr_put_u32(ret, (guint16)info.nr_virt_cpu);
    vh_xdr_put_u64(ret, info.cpu_time_ns);
    return true;
}

/* DOMAIN_GET_MAX_MEMORY: {dom} -> {unsigned hyper memory} */
static bool do_get_max_memory(VhRpcCall *call, VhXdrReader *a, GByteArray *ret,
                              GError **errp)
{
    guint8 uuid[VH_REMOTE_UUID_LEN];
    VhDomainInfo info;

    if (!args_dom(a, uuid, errp) ||
        !vh_driver_get_info(remote_driver(call), uuid, &info, errp)) {
        return false;
    }
    vh_xdr_put_u64(ret, info.max_mem_kib);
    return true;
}

/* DOMAIN_GET_STATE: {dom; unsigned flags} -> {int state; int reason} */
static bool do_get_state(VhRpcCall *call, VhXdrReader *a, GByteArray *ret,
                         GError **errp)
{
    guint8 uuid[VH_REMOTE_UUID_LEN];
    guint32 flags;
    int state, reason;

    if (!args_dom_flags(a, uuid, &flags, errp) ||
        !remote_check_flags(flags, 0, "virDomainGetState", errp) ||
        !vh_driver_get_state(remote_driver(call), uuid, &state, &reason,
                             errp)) {
        return false;
    }
    vh_xdr_put_i32(ret, state);
    vh_xdr_put_i32(ret, reason);
    return true;
}

/* DOMAIN_GET_OS_TYPE: {dom} -> {string type} */
static bool do_get_os_type(VhRpcCall *call, VhXdrReader *a, GByteArray *ret,
                           GError **errp)
{
    if (!args_existing_dom(call, a, NULL, 0, errp)) {
        return false;
    }
    vh_xdr_put_string(ret, "hvm");
    return true;
}

typedef bool (*BoolQuery)(VhDriver *, const guint8 *, bool *, GError **);

static bool bool_query(VhRpcCall *call, VhXdrReader *a, GByteArray *ret,
                       BoolQuery q, GError **errp)
{
    guint8 uuid[VH_REMOTE_UUID_LEN];
    bool v;

    if (!args_dom(a, uuid, errp) || !q(remote_driver(call), uuid, &v, errp)) {
        return false;
    }
    vh_xdr_put_i32(ret, v);
    return true;
}

/* DOMAIN_IS_ACTIVE: {dom} -> {int active} */
static bool do_is_active(VhRpcCall *call, VhXdrReader *a, GByteArray *ret,
                         GError **errp)
{
    return bool_query(call, a, ret, vh_driver_is_active, errp);
}

/* DOMAIN_IS_PERSISTENT: {dom} -> {int persistent} */
static bool do_is_persistent(VhRpcCall *call, VhXdrReader *a, GByteArray *ret,
                             GError **errp)
{
    return bool_query(call, a, ret, vh_driver_is_persistent, errp);
}

/* DOMAIN_GET_AUTOSTART: {dom} -> {int autostart} */
static bool do_get_autostart(VhRpcCall *call, VhXdrReader *a, GByteArray *ret,
                             GError **errp)
{
    return bool_query(call, a, ret, vh_driver_get_autostart, errp);
}

/* DOMAIN_IS_UPDATED: {dom} -> {int updated}: vmhost has no live changes
 * to a persistent config, so never. */
static bool do_is_updated(VhRpcCall *call, VhXdrReader *a, GByteArray *ret,
                          GError **errp)
{
    if (!args_existing_dom(call, a, NULL, 0, errp)) {
        return false;
    }
    vh_xdr_put_i32(ret, 0);
    return true;
}

/* DOMAIN_SET_AUTOSTART: {dom; int autostart} -> void */
static bool do_set_autostart(VhRpcCall *call, VhXdrReader *a, GByteArray *ret,
                             GError **errp)
{
    guint8 uuid[VH_REMOTE_UUID_LEN];
    gint32 on;

    return get_dom(a, uuid, errp) && vh_xdr_get_i32(a, &on, errp) &&
           vh_xdr_end(a, errp) &&
           vh_driver_set_autostart(remote_driver(call), uuid, on != 0, errp);
}

/* DOMAIN_HAS_MANAGED_SAVE_IMAGE: {dom; unsigned flags} -> {int result} */
static bool do_has_managed_save(VhRpcCall *call, VhXdrReader *a,
                                GByteArray *ret, GError **errp)
{
    if (!args_existing_dom(call, a, "virDomainHasManagedSaveImage", 0, errp)) {
        return false;
    }
    vh_xdr_put_i32(ret, 0);
    return true;
}

/* DOMAIN_GET_SECURITY_LABEL: {dom} -> {char label<4097>; int enforcing};
 * DOMAIN_GET_SECURITY_LABEL_LIST: {dom} -> {labels<64>; int ret}:
 * both empty, in the same bytes */
static bool do_get_security_label(VhRpcCall *call, VhXdrReader *a,
                                  GByteArray *ret, GError **errp)
{
    if (!args_existing_dom(call, a, NULL, 0, errp)) {
        return false;
    }
    vh_xdr_put_u32(ret, 0);
    vh_xdr_put_i32(ret, 0);
    return true;
}

/* DOMAIN_GET_MESSAGES: {dom; unsigned flags} -> {string msgs<2048>} */
static bool do_get_messages(VhRpcCall *call, VhXdrReader *a, GByteArray *ret,
                            GError **errp)
{
    if (!args_existing_dom(call, a, "virDomainGetMessages", MESSAGES_ALLOWED,
                           errp)) {
        return false;
    }
    vh_xdr_put_u32(ret, 0);
    return true;
}

/* DOMAIN_SNAPSHOT_NUM: {dom; unsigned flags} -> {int num}: vmhost keeps
 * no snapshots (virsh undefine asks). */
static bool do_snapshot_num(VhRpcCall *call, VhXdrReader *a, GByteArray *ret,
                            GError **errp)
{
    if (!args_existing_dom(call, a, "virDomainSnapshotNum",
                           SNAPSHOT_LIST_ALLOWED, errp)) {
        return false;
    }
    vh_xdr_put_i32(ret, 0);
    return true;
}

/* DOMAIN_GET_XML_DESC: {dom; unsigned flags} -> {string xml} */
static bool do_get_xml_desc(VhRpcCall *call, VhXdrReader *a, GByteArray *ret,
                            GError **errp)
{
    guint8 uuid[VH_REMOTE_UUID_LEN];
    guint32 flags;

    if (!args_dom_flags(a, uuid, &flags, errp) ||
        !remote_check_flags(flags, XML_ALLOWED, "virDomainGetXMLDesc", errp)) {
        return false;
    }
    if ((flags & XML_SECURE) &&
        vh_rpc_conn_is_readonly(vh_rpc_call_get_conn(call))) {
        g_set_error(errp, VH_VIR_ERROR, VH_VIR_ERR_OPERATION_DENIED,
                    "operation forbidden: virDomainGetXMLDesc with secure "
                    "flag");
        return false;
    }
    g_autofree char *xml = vh_driver_get_xml(
        remote_driver(call), uuid,
        flags & (VH_DOMAIN_XML_SECURE | VH_DOMAIN_XML_INACTIVE), errp);
    if (!xml) {
        return false;
    }
    vh_xdr_put_string(ret, xml);
    return true;
}

/* ---- changes ---- */

/* DOMAIN_DEFINE_XML: {string xml} -> {dom};
 * DOMAIN_DEFINE_XML_FLAGS: {string xml; unsigned flags} -> {dom} */
static bool do_define_xml(VhRpcCall *call, VhXdrReader *a, GByteArray *ret,
                          GError **errp)
{
    g_autofree char *xml = NULL;
    guint32 flags = 0;
    bool with_flags = vh_rpc_call_get_header(call)->proc ==
                      VH_REMOTE_PROC_DOMAIN_DEFINE_XML_FLAGS;

    if (!vh_xdr_get_string(a, 0, &xml, errp) ||
        (with_flags && !vh_xdr_get_u32(a, &flags, errp)) ||
        !vh_xdr_end(a, errp) ||
        !remote_check_flags(flags, DEFINE_VALIDATE, "virDomainDefineXMLFlags",
                            errp)) {
        return false;
    }
    return reply_ref(
        ret, vh_driver_define_xml(remote_driver(call), xml, flags, errp));
}

/* DOMAIN_CREATE_XML: {string xml_desc; unsigned flags} -> {dom} */
static bool do_create_xml(VhRpcCall *call, VhXdrReader *a, GByteArray *ret,
                          GError **errp)
{
    g_autofree char *xml = NULL;
    guint32 flags;

    if (!vh_xdr_get_string(a, 0, &xml, errp) ||
        !vh_xdr_get_u32(a, &flags, errp) || !vh_xdr_end(a, errp) ||
        !remote_check_flags(flags,
                            CREATE_PAUSED | CREATE_AUTODESTROY |
                                CREATE_BYPASS_CACHE | CREATE_FORCE_BOOT |
                                CREATE_XML_VALIDATE,
                            "virDomainCreateXML", errp)) {
        return false;
    }
    if (flags & CREATE_AUTODESTROY) {
        g_set_error(errp, VH_VIR_ERROR, VH_VIR_ERR_ARGUMENT_UNSUPPORTED,
                    "argument unsupported: vmhostd keeps machines running "
                    "when their client disconnects (no autodestroy)");
        return false;
    }
    return reply_ref(ret, vh_driver_create_xml(remote_driver(call), xml,
                                               flags & CREATE_PAUSED, errp));
}

/* DOMAIN_UNDEFINE: {dom} -> void; DOMAIN_UNDEFINE_FLAGS: {dom; flags} */
static bool do_undefine(VhRpcCall *call, VhXdrReader *a, GByteArray *ret,
                        GError **errp)
{
    guint8 uuid[VH_REMOTE_UUID_LEN];
    guint32 flags;

    return args_dom_opt_flags(call, VH_REMOTE_PROC_DOMAIN_UNDEFINE_FLAGS, a,
                              uuid, &flags, errp) &&
           remote_check_flags(flags, UNDEFINE_ALLOWED, "virDomainUndefineFlags",
                              errp) &&
           vh_driver_undefine(remote_driver(call), uuid, 0, errp);
}

/* DOMAIN_CREATE: {dom} -> void;
 * DOMAIN_CREATE_WITH_FLAGS: {dom; unsigned flags} -> {dom} */
static bool do_create(VhRpcCall *call, VhXdrReader *a, GByteArray *ret,
                      GError **errp)
{
    guint8 uuid[VH_REMOTE_UUID_LEN];
    guint32 flags;
    bool with_flags = vh_rpc_call_get_header(call)->proc ==
                      VH_REMOTE_PROC_DOMAIN_CREATE_WITH_FLAGS;

    if (!args_dom_opt_flags(call, VH_REMOTE_PROC_DOMAIN_CREATE_WITH_FLAGS, a,
                            uuid, &flags, errp) ||
        !remote_check_flags(
            flags, CREATE_PAUSED | CREATE_BYPASS_CACHE | CREATE_FORCE_BOOT,
            "virDomainCreateWithFlags", errp) ||
        !vh_driver_start(remote_driver(call), uuid, flags & CREATE_PAUSED,
                         errp)) {
        return false;
    }
    if (with_flags) {
        return reply_ref(
            ret, vh_driver_lookup_by_uuid(remote_driver(call), uuid, errp));
    }
    return true;
}

/* DOMAIN_SHUTDOWN: {dom}; DOMAIN_SHUTDOWN_FLAGS: {dom; unsigned flags} */
static bool do_shutdown(VhRpcCall *call, VhXdrReader *a, GByteArray *ret,
                        GError **errp)
{
    guint8 uuid[VH_REMOTE_UUID_LEN];
    guint32 flags;

    if (!args_dom_opt_flags(call, VH_REMOTE_PROC_DOMAIN_SHUTDOWN_FLAGS, a, uuid,
                            &flags, errp)) {
        return false;
    }
    if (!remote_check_flags(flags, 0x1f, "virDomainShutdownFlags", errp)) {
        return false;
    }
    if (flags & ~SHUTDOWN_ACPI) {
        g_set_error(errp, VH_VIR_ERROR, VH_VIR_ERR_ARGUMENT_UNSUPPORTED,
                    "argument unsupported: vmhost shuts down only with the "
                    "ACPI power button (mode acpi), not mode 0x%x",
                    flags & ~SHUTDOWN_ACPI);
        return false;
    }
    return vh_driver_shutdown(remote_driver(call), uuid, 0, errp);
}

/* DOMAIN_DESTROY: {dom}; DOMAIN_DESTROY_FLAGS: {dom; unsigned flags} */
static bool do_destroy(VhRpcCall *call, VhXdrReader *a, GByteArray *ret,
                       GError **errp)
{
    guint8 uuid[VH_REMOTE_UUID_LEN];
    guint32 flags;

    if (!args_dom_opt_flags(call, VH_REMOTE_PROC_DOMAIN_DESTROY_FLAGS, a, uuid,
                            &flags, errp)) {
        return false;
    }
    /* REMOVE_LOGS: vmhostd keeps no per-domain log beyond the run dir */
    return remote_check_flags(flags, DESTROY_GRACEFUL | DESTROY_REMOVE_LOGS,
                              "virDomainDestroyFlags", errp) &&
           vh_driver_destroy(remote_driver(call), uuid,
                             flags & DESTROY_GRACEFUL, errp);
}

/* DOMAIN_SUSPEND / DOMAIN_RESUME: {dom} -> void */
static bool do_suspend(VhRpcCall *call, VhXdrReader *a, GByteArray *ret,
                       GError **errp)
{
    guint8 uuid[VH_REMOTE_UUID_LEN];

    return args_dom(a, uuid, errp) &&
           vh_driver_suspend(remote_driver(call), uuid, errp);
}

static bool do_resume(VhRpcCall *call, VhXdrReader *a, GByteArray *ret,
                      GError **errp)
{
    guint8 uuid[VH_REMOTE_UUID_LEN];

    return args_dom(a, uuid, errp) &&
           vh_driver_resume(remote_driver(call), uuid, errp);
}

/* DOMAIN_OPEN_CONSOLE: {dom; remote_string dev_name; unsigned flags}
 * -> void, then a stream on the call's serial */
static bool do_open_console(VhRpcCall *call, VhXdrReader *a, GByteArray *ret,
                            GError **errp)
{
    guint8 uuid[VH_REMOTE_UUID_LEN];
    g_autofree char *dev = NULL;
    guint32 flags;

    if (!get_dom(a, uuid, errp) || !vh_xdr_get_opt_string(a, 0, &dev, errp) ||
        !vh_xdr_get_u32(a, &flags, errp) || !vh_xdr_end(a, errp) ||
        !remote_check_flags(flags, CONSOLE_FORCE | CONSOLE_SAFE,
                            "virDomainOpenConsole", errp)) {
        return false;
    }
    g_autoptr(VhChannel) ch = vh_driver_open_console(
        remote_driver(call), uuid, dev, flags & CONSOLE_FORCE, errp);
    if (!ch) {
        return false;
    }
    vh_rpc_call_attach_stream(call, ch);
    return true;
}

#define W VH_RPC_PROC_WRITE
/* a table lookup under the driver's short lock (GET_INFO reads procfs too):
 * run on the server's thread, no worker hand-off */
#define I VH_RPC_PROC_INLINE

const VhRpcProc vh_remote_domain_procs[] = {
    {VH_REMOTE_PROC_CONNECT_NUM_OF_DOMAINS, "CONNECT_NUM_OF_DOMAINS",
     do_num_of_domains, I},
    {VH_REMOTE_PROC_CONNECT_NUM_OF_DEFINED_DOMAINS,
     "CONNECT_NUM_OF_DEFINED_DOMAINS", do_num_of_domains, I},
    {VH_REMOTE_PROC_CONNECT_LIST_DOMAINS, "CONNECT_LIST_DOMAINS",
     do_list_domains, 0},
    {VH_REMOTE_PROC_CONNECT_LIST_DEFINED_DOMAINS,
     "CONNECT_LIST_DEFINED_DOMAINS", do_list_domains, 0},
    {VH_REMOTE_PROC_CONNECT_LIST_ALL_DOMAINS, "CONNECT_LIST_ALL_DOMAINS",
     do_list_all, 0},
    {VH_REMOTE_PROC_DOMAIN_LOOKUP_BY_NAME, "DOMAIN_LOOKUP_BY_NAME",
     do_lookup_by_name, I},
    {VH_REMOTE_PROC_DOMAIN_LOOKUP_BY_UUID, "DOMAIN_LOOKUP_BY_UUID",
     do_lookup_by_uuid, I},
    {VH_REMOTE_PROC_DOMAIN_LOOKUP_BY_ID, "DOMAIN_LOOKUP_BY_ID", do_lookup_by_id,
     I},
    {VH_REMOTE_PROC_DOMAIN_GET_INFO, "DOMAIN_GET_INFO", do_get_info, I},
    {VH_REMOTE_PROC_DOMAIN_GET_MAX_MEMORY, "DOMAIN_GET_MAX_MEMORY",
     do_get_max_memory, I},
    {VH_REMOTE_PROC_DOMAIN_GET_STATE, "DOMAIN_GET_STATE", do_get_state, I},
    {VH_REMOTE_PROC_DOMAIN_GET_OS_TYPE, "DOMAIN_GET_OS_TYPE", do_get_os_type,
     I},
    {VH_REMOTE_PROC_DOMAIN_IS_ACTIVE, "DOMAIN_IS_ACTIVE", do_is_active, I},
    {VH_REMOTE_PROC_DOMAIN_IS_PERSISTENT, "DOMAIN_IS_PERSISTENT",
     do_is_persistent, I},
    {VH_REMOTE_PROC_DOMAIN_IS_UPDATED, "DOMAIN_IS_UPDATED", do_is_updated, 0},
    {VH_REMOTE_PROC_DOMAIN_GET_AUTOSTART, "DOMAIN_GET_AUTOSTART",
     do_get_autostart, I},
    {VH_REMOTE_PROC_DOMAIN_SET_AUTOSTART, "DOMAIN_SET_AUTOSTART",
     do_set_autostart, W},
    {VH_REMOTE_PROC_DOMAIN_HAS_MANAGED_SAVE_IMAGE,
     "DOMAIN_HAS_MANAGED_SAVE_IMAGE", do_has_managed_save, 0},
    {VH_REMOTE_PROC_DOMAIN_GET_SECURITY_LABEL, "DOMAIN_GET_SECURITY_LABEL",
     do_get_security_label, 0},
    {VH_REMOTE_PROC_DOMAIN_GET_SECURITY_LABEL_LIST,
     "DOMAIN_GET_SECURITY_LABEL_LIST", do_get_security_label, 0},
    {VH_REMOTE_PROC_DOMAIN_GET_MESSAGES, "DOMAIN_GET_MESSAGES", do_get_messages,
     0},
    {VH_REMOTE_PROC_DOMAIN_SNAPSHOT_NUM, "DOMAIN_SNAPSHOT_NUM", do_snapshot_num,
     0},
    {VH_REMOTE_PROC_DOMAIN_GET_XML_DESC, "DOMAIN_GET_XML_DESC", do_get_xml_desc,
     0},
    {VH_REMOTE_PROC_DOMAIN_DEFINE_XML, "DOMAIN_DEFINE_XML", do_define_xml, W},
    {VH_REMOTE_PROC_DOMAIN_DEFINE_XML_FLAGS, "DOMAIN_DEFINE_XML_FLAGS",
     do_define_xml, W},
    {VH_REMOTE_PROC_DOMAIN_CREATE_XML, "DOMAIN_CREATE_XML", do_create_xml, W},
    {VH_REMOTE_PROC_DOMAIN_UNDEFINE, "DOMAIN_UNDEFINE", do_undefine, W},
    {VH_REMOTE_PROC_DOMAIN_UNDEFINE_FLAGS, "DOMAIN_UNDEFINE_FLAGS", do_undefine,
     W},
    {VH_REMOTE_PROC_DOMAIN_CREATE, "DOMAIN_CREATE", do_create, W},
    {VH_REMOTE_PROC_DOMAIN_CREATE_WITH_FLAGS, "DOMAIN_CREATE_WITH_FLAGS",
     do_create, W},
    {VH_REMOTE_PROC_DOMAIN_SHUTDOWN, "DOMAIN_SHUTDOWN", do_shutdown, W},
    {VH_REMOTE_PROC_DOMAIN_SHUTDOWN_FLAGS, "DOMAIN_SHUTDOWN_FLAGS", do_shutdown,
     W},
    {VH_REMOTE_PROC_DOMAIN_DESTROY, "DOMAIN_DESTROY", do_destroy, W},
    {VH_REMOTE_PROC_DOMAIN_DESTROY_FLAGS, "DOMAIN_DESTROY_FLAGS", do_destroy,
     W},
    {VH_REMOTE_PROC_DOMAIN_SUSPEND, "DOMAIN_SUSPEND", do_suspend, W},
    {VH_REMOTE_PROC_DOMAIN_RESUME, "DOMAIN_RESUME", do_resume, W},
    {VH_REMOTE_PROC_DOMAIN_OPEN_CONSOLE, "DOMAIN_OPEN_CONSOLE", do_open_console,
     W},
};
const gsize vh_remote_domain_n_procs = G_N_ELEMENTS(vh_remote_domain_procs);
