/*
 * REMOTE_PROGRAM's connection procedures: auth, features, open and close,
 * and what a connection reports about the host.
 */
#include "remote-internal.h"

#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "vmhost-config.h"

/* virConnectOpen's VIR_CONNECT_RO */
#define CONNECT_RO 1
/* What GET_LIB_VERSION reports: the libvirt API level this daemon serves
 * (Debian 12's libvirt 9.0.0), as major * 1000000 + minor * 1000. */
#define LIBVIRT_API_VERSION 9000000ull

/* AUTH_LIST: void -> {remote_auth_type types<20>}: REMOTE_AUTH_NONE (0);
 * authentication happened in the TLS handshake or by socket permissions. */
static bool do_auth_list(VhRpcCall *call, VhXdrReader *a, GByteArray *ret,
                         GError **errp)
{
    if (!vh_xdr_end(a, errp)) {
        return false;
    }
    vh_xdr_put_u32(ret, 1);
    vh_xdr_put_i32(ret, 0);
    return true;
}

/* CONNECT_SUPPORTS_FEATURE: {int feature} -> {int supported} */
static bool do_supports_feature(VhRpcCall *call, VhXdrReader *a,
                                GByteArray *ret, GError **errp)
{
    gint32 feature;
    int yes = 0;

    if (!vh_xdr_get_i32(a, &feature, errp) || !vh_xdr_end(a, errp)) {
        return false;
    }
    switch (feature) {
    case VH_REMOTE_FEATURE_PROGRAM_KEEPALIVE:
        /* as libvirtd: our own pings start once the client asks */
        vh_rpc_conn_start_keepalive(vh_rpc_call_get_conn(call));
        yes = 1;
        break;
    case VH_REMOTE_FEATURE_REMOTE_EVENT_CALLBACK:
    case VH_REMOTE_FEATURE_REMOTE_CLOSE_CALLBACK:
    /* migration v3 with parameters, peer to peer (remote-migrate.c) */
    case VH_REMOTE_FEATURE_MIGRATION_P2P:
    case VH_REMOTE_FEATURE_MIGRATION_V3:
    case VH_REMOTE_FEATURE_MIGRATE_CHANGE_PROTECTION:
    case VH_REMOTE_FEATURE_TYPED_PARAM_STRING:
    case VH_REMOTE_FEATURE_MIGRATION_PARAMS:
        yes = 1;
        break;
    default:
        yes = 0;
        break;
    }
    vh_xdr_put_i32(ret, yes);
    return true;
}

/*
 * The names vmhostd answers to: "" or NULL (the default), and
 * vmhost:///system, qemu:///system and their /session forms. A client's
 * remote driver strips the transport and host (vmhost+tls://h/system
 * arrives as vmhost:///system) and keeps other query parameters.
 */
static bool accept_name(const char *name, GError **errp)
{
    if (!name || !*name) {
        return true;
    }
    g_autofree char *base = g_strndup(name, strcspn(name, "?"));
    static const char *const ok[] = {
        "vmhost:///system", "vmhost:///session", "qemu:///system",
        "qemu:///session",  "vmhost:///",        "qemu:///",
    };
    for (gsize i = 0; i < G_N_ELEMENTS(ok); i++) {
        if (strcmp(base, ok[i]) == 0) {
            return true;
        }
    }
    g_set_error(errp, VH_VIR_ERROR, VH_VIR_ERR_NO_CONNECT,
                "no connection driver available for %s (vmhostd serves "
                "vmhost:///system and qemu:///system)",
                name);
    return false;
}

/* CONNECT_OPEN: {remote_string name; unsigned flags} -> void */
static bool do_open(VhRpcCall *call, VhXdrReader *a, GByteArray *ret,
                    GError **errp)
{
    RemoteConn *rc = remote_conn(call);
    VhRpcConn *conn = vh_rpc_call_get_conn(call);
    g_autofree char *name = NULL;
    guint32 flags;

    if (!vh_xdr_get_opt_string(a, 0, &name, errp) ||
        !vh_xdr_get_u32(a, &flags, errp) || !vh_xdr_end(a, errp) ||
        !remote_check_flags(flags, CONNECT_RO, "virConnectOpen", errp) ||
        !accept_name(name, errp)) {
        return false;
    }
    g_mutex_lock(&rc->lock);
    bool again = rc->opened;
    if (!again) {
        rc->opened = true;
        rc->uri = g_strdup(name && *name ? name : "vmhost:///system");
    }
    g_mutex_unlock(&rc->lock);
    if (again) {
        g_set_error(errp, VH_VIR_ERROR, VH_VIR_ERR_INTERNAL_ERROR,
                    "internal error: connection already open");
        return false;
    }
    if (flags & CONNECT_RO) {
        vh_rpc_conn_set_readonly(conn);
    }
    vh_rpc_conn_set_open(conn, true);
    g_info("client %s opened %s%s", vh_rpc_conn_get_identity(conn),
           name && *name ? name : "the default URI",
           vh_rpc_conn_is_readonly(conn) ? " read-only" : "");
    return true;
}

/* CONNECT_CLOSE: void -> void; the client then closes the socket. */
static bool do_close(VhRpcCall *call, VhXdrReader *a, GByteArray *ret,
                     GError **errp)
{
    RemoteConn *rc = remote_conn(call);

    if (!vh_xdr_end(a, errp)) {
        return false;
    }
    g_mutex_lock(&rc->lock);
    g_array_set_size(rc->cbs, 0);
    rc->legacy_lifecycle = false;
    g_mutex_unlock(&rc->lock);
    return true;
}

static bool no_args(VhXdrReader *a, GError **errp)
{
    return vh_xdr_end(a, errp);
}

/* CONNECT_GET_TYPE: void -> {string type} */
static bool do_get_type(VhRpcCall *call, VhXdrReader *a, GByteArray *ret,
                        GError **errp)
{
    if (!no_args(a, errp)) {
        return false;
    }
    vh_xdr_put_string(ret, "VMHOST");
    return true;
}

static guint64 version_number(const char *v)
{
    guint64 parts[3] = {0};
    g_auto(GStrv) p = g_strsplit(v, ".", 3);

    for (int i = 0; i < 3 && p[i]; i++) {
        parts[i] = g_ascii_strtoull(p[i], NULL, 10);
    }
    return parts[0] * 1000000 + parts[1] * 1000 + parts[2];
}

/* CONNECT_GET_VERSION: void -> {unsigned hyper hv_ver} */
static bool do_get_version(VhRpcCall *call, VhXdrReader *a, GByteArray *ret,
                           GError **errp)
{
    if (!no_args(a, errp)) {
        return false;
    }
    vh_xdr_put_u64(ret, version_number(VMHOST_VERSION));
    return true;
}

/* CONNECT_GET_LIB_VERSION: void -> {unsigned hyper lib_ver} */
static bool do_get_lib_version(VhRpcCall *call, VhXdrReader *a, GByteArray *ret,
                               GError **errp)
{
    if (!no_args(a, errp)) {
        return false;
    }
    vh_xdr_put_u64(ret, LIBVIRT_API_VERSION);
    return true;
}

/* CONNECT_GET_HOSTNAME: void -> {string hostname} */
static bool do_get_hostname(VhRpcCall *call, VhXdrReader *a, GByteArray *ret,
                            GError **errp)
{
    if (!no_args(a, errp)) {
        return false;
    }
    vh_xdr_put_string(ret, g_get_host_name());
    return true;
}

/* CONNECT_GET_URI: void -> {string uri} */
static bool do_get_uri(VhRpcCall *call, VhXdrReader *a, GByteArray *ret,
                       GError **errp)
{
    RemoteConn *rc = remote_conn(call);

    if (!no_args(a, errp)) {
        return false;
    }
    g_mutex_lock(&rc->lock);
    vh_xdr_put_string(ret, rc->uri);
    g_mutex_unlock(&rc->lock);
    return true;
}

/* CONNECT_IS_SECURE: void -> {int secure}: TLS or a local socket. */
static bool do_is_secure(VhRpcCall *call, VhXdrReader *a, GByteArray *ret,
                         GError **errp)
{
    if (!no_args(a, errp)) {
        return false;
    }
    vh_xdr_put_i32(ret, 1);
    return true;
}

static const char *host_arch(void)
{
    static struct utsname u;
    static gsize done;

    if (g_once_init_enter(&done)) {
        if (uname(&u) < 0) {
            g_strlcpy(u.machine, "x86_64", sizeof(u.machine));
        }
        g_once_init_leave(&done, 1);
    }
    return u.machine;
}

/* CONNECT_GET_CAPABILITIES: void -> {string capabilities} */
static bool do_get_capabilities(VhRpcCall *call, VhXdrReader *a,
                                GByteArray *ret, GError **errp)
{
    if (!no_args(a, errp)) {
        return false;
    }
    g_autofree char *caps =
        g_strdup_printf("<capabilities>\n"
                        "  <host>\n"
                        "    <cpu>\n"
                        "      <arch>%s</arch>\n"
                        "    </cpu>\n"
                        "    <migration_features>\n"
                        "      <live/>\n"
                        "      <uri_transports>\n"
                        "        <uri_transport>tcp</uri_transport>\n"
                        "        <uri_transport>tls</uri_transport>\n"
                        "      </uri_transports>\n"
                        "    </migration_features>\n"
                        "  </host>\n"
                        "  <guest>\n"
                        "    <os_type>hvm</os_type>\n"
                        "    <arch name='%s'>\n"
                        "      <wordsize>%d</wordsize>\n"
                        "      <emulator>vmhost</emulator>\n"
                        "      <domain type='vmhost'/>\n"
                        "    </arch>\n"
                        "  </guest>\n"
                        "</capabilities>\n",
                        host_arch(), host_arch(), (int)(sizeof(void *) * 8));
    vh_xdr_put_string(ret, caps);
    return true;
}

/* NODE_GET_INFO: void -> {char model[32]; unsigned hyper memory; int cpus,
 * mhz, nodes, sockets, cores, threads} (each char takes 4 bytes) */
static bool do_node_get_info(VhRpcCall *call, VhXdrReader *a, GByteArray *ret,
                             GError **errp)
{
    const char *model = host_arch();
    long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);

    if (!no_args(a, errp)) {
        return false;
    }
    for (int i = 0; i < VH_REMOTE_NODE_MODEL_LEN; i++) {
        gsize len = strlen(model);
        vh_xdr_put_i32(ret, i < (int)len ? model[i] : 0);
    }
    vh_xdr_put_u64(ret, pages > 0 && psize > 0
                            ? (guint64)pages * (guint64)psize / 1024
                            : 0);
    vh_xdr_put_i32(ret, cpus > 0 ? (gint32)cpus : 1);
    vh_xdr_put_i32(ret, 0); /* mhz: unknown */
    vh_xdr_put_i32(ret, 1);
    vh_xdr_put_i32(ret, 1);
    vh_xdr_put_i32(ret, cpus > 0 ? (gint32)cpus : 1);
    vh_xdr_put_i32(ret, 1);
    return true;
}

/* NODE_GET_SECURITY_MODEL: void -> {char model<257>; char doi<257>}:
 * none (an empty model, so virsh dominfo asks for no labels). */
static bool do_node_get_security_model(VhRpcCall *call, VhXdrReader *a,
                                       GByteArray *ret, GError **errp)
{
    if (!no_args(a, errp)) {
        return false;
    }
    vh_xdr_put_u32(ret, 0);
    vh_xdr_put_u32(ret, 0);
    return true;
}

/* CONNECT_(UN)REGISTER_CLOSE_CALLBACK: void -> void. The client learns of
 * a close from the socket; nothing to keep. */
static bool do_close_callback(VhRpcCall *call, VhXdrReader *a, GByteArray *ret,
                              GError **errp)
{
    return no_args(a, errp);
}

const VhRpcProc vh_remote_connect_procs[] = {
    {VH_REMOTE_PROC_AUTH_LIST, "AUTH_LIST", do_auth_list,
     VH_RPC_PROC_BEFORE_OPEN},
    {VH_REMOTE_PROC_CONNECT_SUPPORTS_FEATURE, "CONNECT_SUPPORTS_FEATURE",
     do_supports_feature, VH_RPC_PROC_BEFORE_OPEN},
    {VH_REMOTE_PROC_CONNECT_OPEN, "CONNECT_OPEN", do_open,
     VH_RPC_PROC_BEFORE_OPEN},
    {VH_REMOTE_PROC_CONNECT_CLOSE, "CONNECT_CLOSE", do_close,
     VH_RPC_PROC_BEFORE_OPEN},
    {VH_REMOTE_PROC_CONNECT_GET_TYPE, "CONNECT_GET_TYPE", do_get_type,
     VH_RPC_PROC_INLINE},
    {VH_REMOTE_PROC_CONNECT_GET_VERSION, "CONNECT_GET_VERSION", do_get_version,
     VH_RPC_PROC_INLINE},
    {VH_REMOTE_PROC_CONNECT_GET_LIB_VERSION, "CONNECT_GET_LIB_VERSION",
     do_get_lib_version, VH_RPC_PROC_INLINE},
    {VH_REMOTE_PROC_CONNECT_GET_HOSTNAME, "CONNECT_GET_HOSTNAME",
     do_get_hostname, 0},
    {VH_REMOTE_PROC_CONNECT_GET_URI, "CONNECT_GET_URI", do_get_uri, 0},
    {VH_REMOTE_PROC_CONNECT_IS_SECURE, "CONNECT_IS_SECURE", do_is_secure,
     VH_RPC_PROC_INLINE},
    {VH_REMOTE_PROC_CONNECT_GET_CAPABILITIES, "CONNECT_GET_CAPABILITIES",
     do_get_capabilities, 0},
    {VH_REMOTE_PROC_NODE_GET_INFO, "NODE_GET_INFO", do_node_get_info, 0},
    {VH_REMOTE_PROC_NODE_GET_SECURITY_MODEL, "NODE_GET_SECURITY_MODEL",
     do_node_get_security_model, 0},
    {VH_REMOTE_PROC_CONNECT_REGISTER_CLOSE_CALLBACK,
     "CONNECT_REGISTER_CLOSE_CALLBACK", do_close_callback, 0},
    {VH_REMOTE_PROC_CONNECT_UNREGISTER_CLOSE_CALLBACK,
     "CONNECT_UNREGISTER_CLOSE_CALLBACK", do_close_callback, 0},
};
const gsize vh_remote_connect_n_procs = G_N_ELEMENTS(vh_remote_connect_procs);
