/*
 * Migration's steps on the driver (driver-migrate.h): the machines are
 * driven over QMP as libvirt drives QEMU (object-add tls-creds-x509,
 * migrate-set-parameters, migrate-set-capabilities, migrate-incoming,
 * migrate, query-migrate, migrate_cancel, cont).
 *
 * A domain's migration job is obj->mig_op (under drv->lock), set from
 * prepare (destination) or perform (source) until finish or confirm.
 * The job lock (obj->job) is held for each step's setup but not while
 * perform waits for the transfer, so virsh's --timeout-suspend (a
 * suspend), domjobinfo and domjobabort reach the machine meanwhile.
 */
#define G_LOG_DOMAIN "vmhostd"

#include "driver-migrate.h"

#include <gio/gio.h>
#include <string.h>
#include <unistd.h>

#include "driver-priv.h"
#include "vmhost/migration/migration.h"

#define QMP_TIMEOUT_MS 30000
/* query-migrate every 20 ms at first, backing off to 250 ms: a short
 * migration ends without delay, a long one is not slowed by the source
 * vmhost counting its dirty pages for each query; a MIGRATION event (the
 * end, or a failure) cuts the wait short, so the destination's guest is
 * resumed (finish) without waiting for the next poll */
#define POLL_MIN_US      20000
#define POLL_MAX_US      250000
#define FINISH_WAIT_US   (30 * G_USEC_PER_SEC)
#define MIG_TLS_ID       "vh-mig-tls"
#define MIG_AUTHZ_ID     "vh-mig-authz"
#define LOG_TAIL_MAX     (64 * 1024)
#define REFUSAL_WAIT_US  (2 * G_USEC_PER_SEC)
#define REFUSAL_POLL_US  20000
#define DEFAULT_PORT_MIN 49152
#define DEFAULT_PORT_MAX 49215

/* ---- QMP ---- */

static JsonNode *qmp_run(VhQmpClient *c, const char *cmd, JsonObject *args,
                         GError **errp)
{
    g_autoptr(GError) err = NULL;
    JsonNode *ret =
        vh_qmp_client_execute_sync(c, cmd, args, QMP_TIMEOUT_MS, &err);

    if (!ret) {
        g_set_error(errp, VH_VIR_ERROR, VH_VIR_ERR_OPERATION_FAILED,
                    "operation failed: vmhost %s: %s", cmd, err->message);
    }
    return ret;
}

static bool qmp_ok(VhQmpClient *c, const char *cmd, JsonObject *args,
                   GError **errp)
{
    g_autoptr(JsonNode) ret = qmp_run(c, cmd, args, errp);

    return ret != NULL;
}

/* The migration's TLS credentials: object-add after dropping a leftover
 * of an earlier attempt. */
static bool add_tls_creds(VhDriver *drv, VhQmpClient *c, const char *endpoint,
                          GError **errp)
{
    g_autoptr(JsonObject) del = json_object_new();
    g_autoptr(JsonObject) o = json_object_new();
    g_autoptr(JsonNode) ignored = NULL;

    json_object_set_string_member(del, "id", MIG_TLS_ID);
    ignored =
        vh_qmp_client_execute_sync(c, "object-del", del, QMP_TIMEOUT_MS, NULL);
    json_object_set_string_member(o, "qom-type", "tls-creds-x509");
    json_object_set_string_member(o, "id", MIG_TLS_ID);
    json_object_set_string_member(o, "endpoint", endpoint);
    json_object_set_string_member(o, "dir", drv->migrate_tls_dir);
    json_object_set_boolean_member(o, "verify-peer", drv->migrate_tls_verify);
    return qmp_ok(c, "object-add", o, errp);
}

/* migrate_tls_allowed_dn_list as an authz-list (deny unless a glob
 * matches: tls_allowed_dn_list's fnmatch, on the same DN form), for the
 * incoming side's tls-authz. */
static bool add_authz(VhDriver *drv, VhQmpClient *c, GError **errp)
{
    g_autoptr(JsonObject) del = json_object_new();
    g_autoptr(JsonObject) o = json_object_new();
    g_autoptr(JsonNode) ignored = NULL;
    JsonArray *rules = json_array_new();

    json_object_set_string_member(del, "id", MIG_AUTHZ_ID);
    ignored =
        vh_qmp_client_execute_sync(c, "object-del", del, QMP_TIMEOUT_MS, NULL);
    for (char **g = drv->migrate_tls_allowed_dn; *g; g++) {
        JsonObject *r = json_object_new();

        json_object_set_string_member(r, "match", *g);
        json_object_set_string_member(r, "policy", "allow");
        json_object_set_string_member(r, "format", "glob");
        json_array_add_object_element(rules, r);
    }
    json_object_set_string_member(o, "qom-type", "authz-list");
    json_object_set_string_member(o, "id", MIG_AUTHZ_ID);
    json_object_set_string_member(o, "policy", "deny");
    json_object_set_array_member(o, "rules", rules);
    return qmp_ok(c, "object-add", o, errp);
}

/* multifd as asked; MIGRATION events on, so that the source's wait
 * (wait_outgoing) ends when the migration does, not at its next poll */
static bool set_multifd(VhQmpClient *c, const VhMigrateArgs *a, GError **errp)
{
    g_autoptr(JsonObject) o = json_object_new();
    JsonArray *caps = json_array_new();
    JsonObject *cap = json_object_new();
    JsonObject *events = json_object_new();

    json_object_set_string_member(cap, "capability", "multifd");
    json_object_set_boolean_member(cap, "state",
                                   (a->flags & VH_MIGRATE_PARALLEL) != 0);
    json_array_add_object_element(caps, cap);
    json_object_set_string_member(events, "capability", "events");
    json_object_set_boolean_member(events, "state", true);
    json_array_add_object_element(caps, events);
    json_object_set_array_member(o, "capabilities", caps);
    return qmp_ok(c, "migrate-set-capabilities", o, errp);
}

/* ---- checks and addresses ---- */

static bool check_tls_dir(VhDriver *drv, const char *const *files,
                          const char *side, GError **errp)
{
    if (!drv->migrate_tls_dir) {
        g_set_error(errp, VH_VIR_ERROR, VH_VIR_ERR_OPERATION_INVALID,
                    "Requested operation is not valid: TLS migration needs "
                    "migrate_tls_x509_cert_dir on the %s host",
                    side);
        return false;
    }
    for (; *files; files++) {
        g_autofree char *p =
            g_build_filename(drv->migrate_tls_dir, *files, NULL);

        if (!g_file_test(p, G_FILE_TEST_EXISTS)) {
            g_set_error(errp, VH_VIR_ERROR, VH_VIR_ERR_OPERATION_INVALID,
                        "Requested operation is not valid: the %s host has "
                        "no migration certificates: %s is missing "
                        "(migrate_tls_x509_cert_dir)",
                        side, p);
            return false;
        }
    }
    return true;
}

/* "tcp://HOST[:PORT]" (or "tcp:HOST[:PORT]"): *host (transfer full) and
 * *port (0 when absent). */
static bool parse_tcp_uri(const char *uri, char **host, guint *port,
                          GError **errp)
{
    g_autofree char *full = NULL;
    g_autoptr(GUri) u = NULL;

    if (g_str_has_prefix(uri, "tcp:") && !g_str_has_prefix(uri, "tcp://")) {
        full = g_strdup_printf("tcp://%s", uri + 4);
        uri = full;
    }
    u = g_uri_parse(uri, G_URI_FLAGS_NONE, NULL);
    if (!u || g_strcmp0(g_uri_get_scheme(u), "tcp") != 0 ||
        !g_uri_get_host(u) || !*g_uri_get_host(u)) {
        g_set_error(errp, VH_VIR_ERROR, VH_VIR_ERR_INVALID_ARG,
                    "invalid argument: unsupported migration URI '%s' "
                    "(vmhostd migrates over tcp://HOST[:PORT])",
                    uri);
        return false;
    }
    *host = g_strdup(g_uri_get_host(u));
    *port = g_uri_get_port(u) > 0 ? (guint)g_uri_get_port(u) : 0;
    return true;
}

/* HOST:PORT as vmhost's tcp: URIs write it (IPv6 in brackets). */
static char *host_port(const char *host, guint port)
{
    return strchr(host, ':') ? g_strdup_printf("[%s]:%u", host, port)
                             : g_strdup_printf("%s:%u", host, port);
}

static bool port_bindable(const char *addr, guint port)
{
    g_autoptr(GInetAddress) ia = g_inet_address_new_from_string(addr);
    g_autoptr(GSocketAddress) sa = NULL;
    g_autoptr(GSocket) s = NULL;

    if (!ia) {
        return true; /* a name: vmhost resolves and reports it */
    }
    sa = g_inet_socket_address_new(ia, port);
    s = g_socket_new(g_inet_address_get_family(ia), G_SOCKET_TYPE_STREAM,
                     G_SOCKET_PROTOCOL_TCP, NULL);
    return s && g_socket_bind(s, sa, TRUE, NULL);
}

/* A port of migration_port_min..max that nobody holds (transfer: release
 * with release_port). */
static guint take_port(VhDriver *drv, const char *addr, GError **errp)
{
    guint lo =
        drv->migration_port_min ? drv->migration_port_min : DEFAULT_PORT_MIN;
    guint hi =
        drv->migration_port_max ? drv->migration_port_max : DEFAULT_PORT_MAX;

    g_mutex_lock(&drv->lock);
    for (guint p = lo; p <= hi && p <= 65535; p++) {
        if (!g_hash_table_contains(drv->mig_ports, GUINT_TO_POINTER(p)) &&
            port_bindable(addr, p)) {
            g_hash_table_add(drv->mig_ports, GUINT_TO_POINTER(p));
            g_mutex_unlock(&drv->lock);
            return p;
        }
    }
    g_mutex_unlock(&drv->lock);
    g_set_error(errp, VH_VIR_ERROR, VH_VIR_ERR_INTERNAL_ERROR,
                "internal error: Unable to find an unused port in range "
                "'migration' (%u-%u)",
                lo, hi);
    return 0;
}

static void release_port(VhDriver *drv, guint port)
{
    g_mutex_lock(&drv->lock);
    g_hash_table_remove(drv->mig_ports, GUINT_TO_POINTER(port));
    g_mutex_unlock(&drv->lock);
}

static bool no_job(GError **errp)
{
    g_set_error_literal(errp, VH_VIR_ERROR, VH_VIR_ERR_OPERATION_INVALID,
                        "Requested operation is not valid: no job is active "
                        "on the domain");
    return false;
}

/* ---- source: begin ---- */

char *vh_driver_migrate_begin(VhDriver *drv, const guint8 *uuid,
                              const VhMigrateArgs *a, GError **errp)
{
    g_autoptr(VhDomainObj) obj = vh_driver_get_obj(drv, uuid, errp);
    g_autoptr(VhDomainDef) def = NULL;
    static const char *const client_files[] = {"ca-cert.pem", "client-cert.pem",
                                               "client-key.pem", NULL};

    if (!obj) {
        return NULL;
    }
    if ((a->flags & VH_MIGRATE_TLS) &&
        !check_tls_dir(drv, client_files, "source", errp)) {
        return NULL;
    }
    g_mutex_lock(&drv->lock);
    if (!obj->active) {
        g_mutex_unlock(&drv->lock);
        g_set_error_literal(errp, VH_VIR_ERROR, VH_VIR_ERR_OPERATION_INVALID,
                            "Requested operation is not valid: domain is not "
                            "running");
        return NULL;
    }
    if (obj->mig_op) {
        g_mutex_unlock(&drv->lock);
        g_set_error(errp, VH_VIR_ERROR, VH_VIR_ERR_OPERATION_INVALID,
                    "Requested operation is not valid: domain '%s' is "
                    "already being migrated",
                    obj->name);
        return NULL;
    }
    def = vh_domain_def_copy(obj->live ? obj->live : obj->def);
    g_mutex_unlock(&drv->lock);
    if (a->dest_xml) {
        return g_strdup(a->dest_xml);
    }
    /* the inactive form: pty paths are the destination's own */
    return vh_domain_def_format(def, VH_DOMAIN_XML_INACTIVE);
}

/* ---- destination: prepare ---- */

/* The size of the domain's vmhost log (RUN_DIR/NAME.log, appended to by
 * each of its machines), 0 when there is none. */
static goffset log_size(VhDriver *drv, const char *name)
{
    g_autofree char *path = vh_store_run_path(drv, name, "log");
    g_autoptr(GFile) f = g_file_new_for_path(path);
    g_autoptr(GFileInfo) fi = g_file_query_info(
        f, G_FILE_ATTRIBUTE_STANDARD_SIZE, G_FILE_QUERY_INFO_NONE, NULL, NULL);

    return fi ? g_file_info_get_size(fi) : 0;
}

/*
 * Why the incoming vmhost refused a connection since @from (its log's
 * size at prepare), from the last such line it logged (transfer full), or
 * NULL: what libvirt does with QEMU's log to explain a failure. A
 * refused client certificate (tls-authz, another CA) shows only here:
 * the source's vmhost sees a connection closed after its handshake.
 */
static char *incoming_refusal(VhDriver *drv, const char *name, goffset from)
{
    g_autofree char *path = vh_store_run_path(drv, name, "log");
    g_autoptr(GFile) f = g_file_new_for_path(path);
    g_autoptr(GFileInputStream) in = g_file_read(f, NULL, NULL);
    g_autofree char *buf = NULL;
    goffset size = log_size(drv, name);
    gsize len = 0;
    char *line, *end;

    if (!in || size <= from) {
        return NULL;
    }
    from = MAX(from, size - LOG_TAIL_MAX);
    buf = g_malloc(size - from + 1);
    if (!g_seekable_seek(G_SEEKABLE(in), from, G_SEEK_SET, NULL, NULL) ||
        !g_input_stream_read_all(G_INPUT_STREAM(in), buf, size - from, &len,
                                 NULL, NULL)) {
        return NULL;
    }
    buf[len] = '\0';
    line = g_strrstr(buf, VH_MIG_LOG_REFUSED);
    if (!line) {
        return NULL;
    }
    line += strlen(VH_MIG_LOG_REFUSED);
    end = strchr(line, '\n');
    return g_strstrip(
        g_strndup(line, end ? (gsize)(end - line) : strlen(line)));
}

/*
 * incoming_refusal, given time to appear: the source learns of a refusal
 * from the TLS alert the destination's vmhost sends before it logs why,
 * and its cancel can reach us first. Only where tls-authz can refuse
 * (migrate_tls_allowed_dn_list) is a refusal worth waiting for.
 */
static char *incoming_refusal_wait(VhDriver *drv, const char *name,
                                   goffset from)
{
    gint64 deadline = g_get_monotonic_time() + REFUSAL_WAIT_US;
    char *why;

    while (!(why = incoming_refusal(drv, name, from)) &&
           drv->migrate_tls_allowed_dn && g_get_monotonic_time() < deadline) {
        g_usleep(REFUSAL_POLL_US);
    }
    return why;
}

/* The domain to receive @def: a new transient one, or a defined one that
 * is not running (same uuid); its job held. */
static VhDomainObj *incoming_obj(VhDriver *drv, const VhDomainDef *def,
                                 bool *is_new, GError **errp)
{
    const char *name = vh_domain_def_get_name(def);
    guint8 uuid[VH_DOMAIN_UUID_LEN];
    VhDomainObj *obj;

    vh_domain_def_get_uuid(def, uuid);
    g_mutex_lock(&drv->lock);
    obj = vh_driver_find_name_locked(drv, name);
    if (!obj) {
        *is_new = true;
        obj = vh_driver_insert_locked(drv, def, errp);
        g_mutex_unlock(&drv->lock);
        return obj;
    }
    *is_new = false;
    if (obj->active) {
        g_mutex_unlock(&drv->lock);
        g_set_error(errp, VH_VIR_ERROR, VH_VIR_ERR_OPERATION_INVALID,
                    "Requested operation is not valid: domain '%s' is "
                    "already active",
                    name);
        return NULL;
    }
    if (memcmp(obj->uuid, uuid, VH_DOMAIN_UUID_LEN) != 0) {
        g_autofree char *s = vh_domain_uuid_format(obj->uuid);

        g_mutex_unlock(&drv->lock);
        g_set_error(errp, VH_VIR_ERROR, VH_VIR_ERR_DOM_EXIST,
                    "domain '%s' is already defined with uuid %s", name, s);
        return NULL;
    }
    g_mutex_unlock(&drv->lock);
    obj = vh_driver_job_obj(drv, uuid, errp);
    if (obj) {
        g_mutex_lock(&drv->lock);
        bool active = obj->active;
        g_mutex_unlock(&drv->lock);
        if (active) {
            vh_driver_job_obj_end(obj);
            g_set_error(errp, VH_VIR_ERROR, VH_VIR_ERR_OPERATION_INVALID,
                        "Requested operation is not valid: domain '%s' is "
                        "already active",
                        name);
            return NULL;
        }
    }
    return obj;
}

/* The incoming side's parameters, then migrate-incoming. */
static bool start_incoming(VhDriver *drv, VhQmpClient *c,
                           const VhMigrateArgs *a, const char *listen,
                           guint port, GError **errp)
{
    g_autoptr(JsonObject) params = json_object_new();
    g_autoptr(JsonObject) in = json_object_new();
    g_autofree char *hp = port ? host_port(listen, port) : NULL;
    g_autofree char *uri = port ? g_strdup_printf("tcp:%s", hp)
                                : g_strdup_printf("unix:%s", listen);

    if (a->flags & VH_MIGRATE_TLS) {
        if (!add_tls_creds(drv, c, "server", errp)) {
            return false;
        }
        json_object_set_string_member(params, "tls-creds", MIG_TLS_ID);
        if (drv->migrate_tls_allowed_dn) {
            if (!add_authz(drv, c, errp)) {
                return false;
            }
            json_object_set_string_member(params, "tls-authz", MIG_AUTHZ_ID);
        }
    }
    if ((a->flags & VH_MIGRATE_PARALLEL) && a->parallel_connections > 0) {
        json_object_set_int_member(params, "multifd-channels",
                                   a->parallel_connections);
    }
    if (json_object_get_size(params) &&
        !qmp_ok(c, "migrate-set-parameters", params, errp)) {
        return false;
    }
    if (!set_multifd(c, a, errp)) {
        return false;
    }
    json_object_set_string_member(in, "uri", uri);
    return qmp_ok(c, "migrate-incoming", in, errp);
}

/* @tunnel: vmhost listens on RUN_DIR/NAME.tunnel (a UNIX socket) for
 * the daemon to relay into, and that path is returned; else on a TCP
 * port, and the URI for the source is returned. */
static char *prepare(VhDriver *drv, const VhMigrateArgs *a, bool tunnel,
                     char **name, GError **errp)
{
    static const char *const server_files[] = {"ca-cert.pem", "server-cert.pem",
                                               "server-key.pem", NULL};
    g_autoptr(VhDomainDef) def = NULL;
    g_autoptr(VhQmpClient) qmp = NULL;
    g_autofree char *host = NULL;
    const char *listen = a->listen_address ? a->listen_address : "0.0.0.0";
    g_autofree char *sock = NULL;
    VhDomainObj *obj;
    guint port = 0;
    goffset log_from;
    bool is_new = false;
    bool own_port = false;

    if (!a->dest_xml) {
        g_set_error_literal(errp, VH_VIR_ERROR, VH_VIR_ERR_INVALID_ARG,
                            "invalid argument: no domain XML passed");
        return NULL;
    }
    if ((a->flags & VH_MIGRATE_TLS) &&
        !check_tls_dir(drv, server_files, "destination", errp)) {
        return NULL;
    }
    if ((a->flags & VH_MIGRATE_TLS) && drv->migrate_tls_allowed_dn &&
        !drv->migrate_tls_allowed_dn[0]) {
        g_set_error(errp, VH_VIR_ERROR, VH_VIR_ERR_OPERATION_DENIED,
                    "operation forbidden: migrate_tls_allowed_dn_list (%s) "
                    "is empty: this host accepts no TLS migration",
                    drv->migrate_tls_allowed_dn_where);
        return NULL;
    }
    if (!tunnel && a->uri && !parse_tcp_uri(a->uri, &host, &port, errp)) {
        return NULL;
    }
    def = vh_domain_def_parse(a->dest_xml, -1, 0, errp);
    if (!def) {
        return NULL;
    }
    if (a->dname) {
        vh_domain_def_set_name(def, a->dname);
    }
    obj = incoming_obj(drv, def, &is_new, errp);
    if (!obj) {
        return NULL;
    }
    if (tunnel) {
        sock = vh_store_run_path(drv, obj->name, "tunnel");
        unlink(sock);
    } else if (!port) {
        port = take_port(drv, listen, errp);
        own_port = port != 0;
        if (!port) {
            goto fail_unstarted;
        }
    }
    log_from = log_size(drv, obj->name);
    if (!vh_driver_process_start_incoming(drv, obj, def, errp)) {
        goto fail_unstarted;
    }
    qmp = vh_driver_process_get_qmp(drv, obj, errp);
    if (!qmp ||
        !start_incoming(drv, qmp, a, tunnel ? sock : listen, port, errp)) {
        vh_driver_process_stop(drv, obj, VH_SHUTOFF_FAILED,
                               VH_EVENT_STOPPED_FAILED, NULL);
        if (own_port) {
            release_port(drv, port);
        }
        vh_driver_job_obj_end(obj);
        return NULL;
    }
    g_mutex_lock(&drv->lock);
    obj->mig_port = own_port ? port : 0;
    obj->mig_log_from = log_from;
    g_mutex_unlock(&drv->lock);
    *name = g_strdup(obj->name);
    if (tunnel) {
        g_info("domain %s: incoming tunnelled migration", obj->name);
        vh_driver_job_obj_end(obj);
        return g_steal_pointer(&sock);
    }
    g_info("domain %s: incoming migration on %s port %u%s%s%s", obj->name,
           listen, port, a->flags & VH_MIGRATE_TLS ? " (TLS)" : "",
           (a->flags & VH_MIGRATE_TLS) && drv->migrate_tls_allowed_dn
               ? " with tls-authz from migrate_tls_allowed_dn_list "
               : "",
           (a->flags & VH_MIGRATE_TLS) && drv->migrate_tls_allowed_dn
               ? drv->migrate_tls_allowed_dn_where
               : "");
    vh_driver_job_obj_end(obj);
    return g_strdup_printf("tcp://%s:%u", host ? host : g_get_host_name(),
                           port);

fail_unstarted:
    if (own_port) {
        release_port(drv, port);
    }
    if (is_new) {
        g_mutex_lock(&drv->lock);
        vh_driver_remove_locked(drv, obj);
        g_mutex_unlock(&drv->lock);
    }
    vh_driver_job_obj_end(obj);
    return NULL;
}

char *vh_driver_migrate_prepare(VhDriver *drv, const VhMigrateArgs *a,
                                char **name, GError **errp)
{
    return prepare(drv, a, false, name, errp);
}

char *vh_driver_migrate_prepare_tunnel(VhDriver *drv, const VhMigrateArgs *a,
                                       char **name, GError **errp)
{
    return prepare(drv, a, true, name, errp);
}

/* ---- source: perform ---- */

static bool start_outgoing(VhDriver *drv, VhQmpClient *c,
                           const VhMigrateArgs *a, const char *host, guint port,
                           GError **errp)
{
    g_autoptr(JsonObject) params = json_object_new();
    g_autoptr(JsonObject) mig = json_object_new();
    g_autofree char *hp = port ? host_port(host, port) : NULL;
    g_autofree char *uri =
        port ? g_strdup_printf("tcp:%s", hp) : g_strdup_printf("unix:%s", host);

    if (a->flags & VH_MIGRATE_TLS) {
        if (!add_tls_creds(drv, c, "client", errp)) {
            return false;
        }
        json_object_set_string_member(params, "tls-creds", MIG_TLS_ID);
        json_object_set_string_member(params, "tls-hostname",
                                      a->tls_destination ? a->tls_destination
                                                         : host);
    } else {
        json_object_set_string_member(params, "tls-creds", "");
        json_object_set_string_member(params, "tls-hostname", "");
    }
    /* a machine that came in with one: a source checks no client */
    json_object_set_string_member(params, "tls-authz", "");
    /* libvirt's default is no limit; vmhost's own is 128 MiB/s */
    json_object_set_int_member(params, "max-bandwidth",
                               (gint64)MIN(a->bandwidth_mib, G_MAXINT64 >> 20)
                                   << 20);
    if ((a->flags & VH_MIGRATE_PARALLEL) && a->parallel_connections > 0) {
        json_object_set_int_member(params, "multifd-channels",
                                   a->parallel_connections);
    }
    if (!qmp_ok(c, "migrate-set-parameters", params, errp) ||
        !set_multifd(c, a, errp)) {
        return false;
    }
    json_object_set_string_member(mig, "uri", uri);
    return qmp_ok(c, "migrate", mig, errp);
}

/* query-migrate's object (transfer full) or NULL when the machine is
 * gone. */
static JsonObject *query_migrate(VhQmpClient *c, GError **errp)
{
    g_autoptr(JsonNode) ret = qmp_run(c, "query-migrate", NULL, errp);

    if (!ret || !JSON_NODE_HOLDS_OBJECT(ret)) {
        return NULL;
    }
    return json_object_ref(json_node_get_object(ret));
}

/* Until the outgoing migration ends: "completed", or an error. */
/* Sleep up to @us, or until @obj's vmhost sends a MIGRATION event after
 * the @seen-th. */
static void wait_event(VhDriver *drv, VhDomainObj *obj, guint seen, gulong us)
{
    gint64 until = g_get_monotonic_time() + us;

    g_mutex_lock(&drv->lock);
    while (obj->mig_events == seen &&
           g_cond_wait_until(&drv->mig_cond, &drv->lock, until)) {
    }
    g_mutex_unlock(&drv->lock);
}

static bool wait_outgoing(VhDriver *drv, VhDomainObj *obj, VhQmpClient *c,
                          VhMigrateAliveFunc alive, gpointer opaque,
                          GError **errp)
{
    const char *name = obj->name;
    bool lost = false;
    gulong poll_us = POLL_MIN_US;

    for (;;) {
        g_autoptr(GError) err = NULL;
        g_autoptr(JsonObject) o = NULL;
        const char *st;
        guint seen;

        g_mutex_lock(&drv->lock);
        seen = obj->mig_events;
        g_mutex_unlock(&drv->lock);
        o = query_migrate(c, &err);

        if (!o) {
            g_set_error(errp, VH_VIR_ERROR, VH_VIR_ERR_OPERATION_FAILED,
                        "operation failed: domain %s: vmhost is gone during "
                        "the migration: %s",
                        name, err->message);
            return false;
        }
        st = json_object_get_string_member_with_default(o, "status", "");
        if (g_str_equal(st, "completed")) {
            g_info("domain %s: migration completed in %" G_GINT64_FORMAT
                   " ms, downtime %" G_GINT64_FORMAT " ms",
                   name,
                   json_object_get_int_member_with_default(o, "total-time", -1),
                   json_object_get_int_member_with_default(o, "downtime", -1));
            return true;
        }
        if (g_str_equal(st, "failed")) {
            g_set_error(errp, VH_VIR_ERROR, VH_VIR_ERR_OPERATION_FAILED,
                        "operation failed: job 'migration out' failed: %s",
                        json_object_get_string_member_with_default(
                            o, "error-desc", "no reason given"));
            return false;
        }
        if (g_str_equal(st, "cancelled") && lost) {
            g_set_error_literal(errp, VH_VIR_ERROR, VH_VIR_ERR_OPERATION_FAILED,
                                "operation failed: Lost connection to "
                                "destination host");
            return false;
        }
        if (g_str_equal(st, "cancelled")) {
            g_set_error_literal(errp, VH_VIR_ERROR,
                                VH_VIR_ERR_OPERATION_ABORTED,
                                "operation aborted: job 'migration out' "
                                "canceled by client");
            return false;
        }
        if (!lost && alive && !alive(opaque)) {
            g_warning("domain %s: lost the connection to the destination "
                      "daemon; cancelling the migration",
                      name);
            lost = true;
            if (!qmp_ok(c, "migrate_cancel", NULL, &err)) {
                g_propagate_error(errp, g_steal_pointer(&err));
                return false;
            }
        }
        wait_event(drv, obj, seen, poll_us);
        poll_us = MIN(poll_us * 2, POLL_MAX_US);
    }
}

bool vh_driver_migrate_perform(VhDriver *drv, const guint8 *uuid,
                               const char *uri, const VhMigrateArgs *a,
                               VhMigrateAliveFunc alive, gpointer opaque,
                               GError **errp)
{
    VhDomainObj *obj = vh_driver_job_obj(drv, uuid, errp);
    g_autoptr(VhQmpClient) qmp = NULL;
    g_autofree char *host = NULL;
    VhDomainRef *ref = NULL;
    guint port = 0;
    bool ok;

    if (!obj) {
        return false;
    }
    if (g_str_has_prefix(uri, "unix:")) {
        /* a tunnel: the daemon relays what vmhost writes there */
        host = g_strdup(uri + 5);
    } else if (!parse_tcp_uri(uri, &host, &port, errp)) {
        vh_driver_job_obj_end(obj);
        return false;
    }
    if (!(qmp = vh_driver_process_get_qmp(drv, obj, errp))) {
        vh_driver_job_obj_end(obj);
        return false;
    }
    if (!port && !g_str_has_prefix(uri, "unix:")) {
        vh_driver_job_obj_end(obj);
        g_set_error(errp, VH_VIR_ERROR, VH_VIR_ERR_INVALID_ARG,
                    "invalid argument: migration URI '%s' has no port", uri);
        return false;
    }
    g_mutex_lock(&drv->lock);
    if (obj->mig_op) {
        g_mutex_unlock(&drv->lock);
        vh_driver_job_obj_end(obj);
        g_set_error(errp, VH_VIR_ERROR, VH_VIR_ERR_OPERATION_INVALID,
                    "Requested operation is not valid: domain '%s' is "
                    "already being migrated",
                    obj->name);
        return false;
    }
    obj->mig_op = VH_JOB_OP_MIGRATION_OUT;
    obj->mig_started = g_get_monotonic_time();
    obj->mig_was_running = obj->state == VH_DOMAIN_RUNNING;
    g_mutex_unlock(&drv->lock);

    g_info("domain %s: migrating to %s%s%s", obj->name, uri,
           port ? "" : " (tunnelled)",
           a->flags & VH_MIGRATE_TLS ? " over TLS" : "");
    ok = start_outgoing(drv, qmp, a, host, port, errp);
    /* The transfer runs without the job lock: suspend (virsh
     * --timeout-suspend), job stats and abort reach the machine. */
    g_mutex_unlock(&obj->job);
    ok = ok && wait_outgoing(drv, obj, qmp, alive, opaque, errp);

    g_mutex_lock(&drv->lock);
    if (ok && obj->active) {
        /* vmhost is in postmigrate now */
        obj->state = VH_DOMAIN_PAUSED;
        obj->reason = VH_PAUSED_MIGRATION;
        ref = vh_domain_obj_make_ref(obj);
    } else if (!ok) {
        obj->mig_op = 0;
    }
    g_mutex_unlock(&drv->lock);
    if (ref) {
        vh_driver_emit(drv, ref, VH_DOMAIN_EVENT_SUSPENDED,
                       VH_EVENT_SUSPENDED_MIGRATED);
    }
    vh_domain_obj_unref(obj);
    return ok;
}

/* ---- destination: finish ---- */

/* Until the incoming side has everything ("completed"). */
static bool wait_incoming(VhQmpClient *c, const char *name, GError **errp)
{
    gint64 deadline = g_get_monotonic_time() + FINISH_WAIT_US;

    for (;;) {
        g_autoptr(GError) err = NULL;
        g_autoptr(JsonObject) o = query_migrate(c, &err);
        const char *st;

        if (!o) {
            g_set_error(errp, VH_VIR_ERROR, VH_VIR_ERR_OPERATION_FAILED,
                        "operation failed: domain %s: vmhost is gone: %s", name,
                        err->message);
            return false;
        }
        st = json_object_get_string_member_with_default(o, "status", "");
        if (g_str_equal(st, "completed")) {
            return true;
        }
        if (g_str_equal(st, "failed") || g_str_equal(st, "cancelled") ||
            g_get_monotonic_time() > deadline) {
            g_set_error(errp, VH_VIR_ERROR, VH_VIR_ERR_OPERATION_FAILED,
                        "operation failed: job 'migration in' failed: %s",
                        json_object_get_string_member_with_default(
                            o, "error-desc", st));
            return false;
        }
        g_usleep(POLL_MIN_US);
    }
}

/* The incoming domain named by the params, its job held. */
static VhDomainObj *finish_obj(VhDriver *drv, const VhMigrateArgs *a,
                               GError **errp)
{
    g_autofree char *name = NULL;
    guint8 uuid[VH_DOMAIN_UUID_LEN];
    VhDomainObj *obj;

    if (a->dname) {
        name = g_strdup(a->dname);
    } else if (a->dest_xml) {
        g_autoptr(VhDomainDef) def =
            vh_domain_def_parse(a->dest_xml, -1, 0, errp);

        if (!def) {
            return NULL;
        }
        name = g_strdup(vh_domain_def_get_name(def));
    } else {
        g_set_error_literal(errp, VH_VIR_ERROR, VH_VIR_ERR_INVALID_ARG,
                            "invalid argument: no domain name or XML passed");
        return NULL;
    }
    g_mutex_lock(&drv->lock);
    obj = vh_driver_find_name_locked(drv, name);
    if (obj) {
        memcpy(uuid, obj->uuid, VH_DOMAIN_UUID_LEN);
    }
    g_mutex_unlock(&drv->lock);
    if (!obj) {
        g_set_error(errp, VH_VIR_ERROR, VH_VIR_ERR_NO_DOMAIN,
                    "Domain not found: no domain with matching name '%s'",
                    name);
        return NULL;
    }
    obj = vh_driver_job_obj(drv, uuid, errp);
    if (!obj) {
        return NULL;
    }
    g_mutex_lock(&drv->lock);
    bool incoming = obj->active && obj->mig_op == VH_JOB_OP_MIGRATION_IN;
    g_mutex_unlock(&drv->lock);
    if (!incoming) {
        vh_driver_job_obj_end(obj);
        g_set_error(errp, VH_VIR_ERROR, VH_VIR_ERR_NO_DOMAIN,
                    "Domain not found: no incoming migration of domain '%s'",
                    name);
        return NULL;
    }
    return obj;
}

static bool make_persistent(VhDriver *drv, VhDomainObj *obj,
                            const VhMigrateArgs *a, GError **errp)
{
    g_autoptr(VhDomainDef) def = NULL;
    int detail;

    if (a->persist_xml) {
        def = vh_domain_def_parse(a->persist_xml, -1, 0, errp);
        if (!def) {
            return false;
        }
    } else {
        g_mutex_lock(&drv->lock);
        def = vh_domain_def_copy(obj->def);
        g_mutex_unlock(&drv->lock);
    }
    vh_domain_def_set_name(def, obj->name);
    if (!vh_store_save_config(drv, def, errp)) {
        return false;
    }
    g_mutex_lock(&drv->lock);
    detail =
        obj->persistent ? VH_EVENT_DEFINED_UPDATED : VH_EVENT_DEFINED_ADDED;
    vh_domain_def_free(obj->def);
    obj->def = g_steal_pointer(&def);
    obj->persistent = true;
    VhDomainRef *ref = vh_domain_obj_make_ref(obj);
    g_mutex_unlock(&drv->lock);
    vh_driver_emit(drv, ref, VH_DOMAIN_EVENT_DEFINED, detail);
    return true;
}

VhDomainRef *vh_driver_migrate_finish(VhDriver *drv, const VhMigrateArgs *a,
                                      bool cancelled, GError **errp)
{
    VhDomainObj *obj = finish_obj(drv, a, errp);
    g_autoptr(VhQmpClient) qmp = NULL;
    g_autoptr(GError) err = NULL;
    g_autofree char *sock = NULL;
    VhDomainRef *ref = NULL;
    bool run = !(a->flags & VH_MIGRATE_PAUSED);

    if (!obj) {
        return NULL;
    }
    sock = vh_store_run_path(drv, obj->name, "tunnel");
    unlink(sock);
    if (cancelled) {
        g_mutex_lock(&drv->lock);
        goffset from = obj->mig_log_from;
        g_mutex_unlock(&drv->lock);
        g_autofree char *why = incoming_refusal_wait(drv, obj->name, from);

        g_info("domain %s: incoming migration cancelled by the source%s%s",
               obj->name, why ? "; vmhost refused a connection: " : "",
               why ? why : "");
        vh_driver_process_stop(drv, obj, VH_SHUTOFF_FAILED,
                               VH_EVENT_STOPPED_FAILED, NULL);
        if (why) {
            /* the source's vmhost cannot know: tell its daemon */
            g_set_error(errp, VH_VIR_ERROR, VH_VIR_ERR_AUTH_FAILED,
                        "authentication failed: the destination's vmhost "
                        "refused the migration connection: %s",
                        why);
        } else {
            g_set_error(errp, VH_VIR_ERROR, VH_VIR_ERR_OPERATION_FAILED,
                        "operation failed: migration of domain %s was "
                        "cancelled",
                        obj->name);
        }
        vh_driver_job_obj_end(obj);
        return NULL;
    }
    qmp = vh_driver_process_get_qmp(drv, obj, &err);
    if (!qmp || !wait_incoming(qmp, obj->name, &err) ||
        (run && !qmp_ok(qmp, "cont", NULL, &err))) {
        vh_driver_process_stop(drv, obj, VH_SHUTOFF_FAILED,
                               VH_EVENT_STOPPED_FAILED, NULL);
        g_propagate_error(errp, g_steal_pointer(&err));
        vh_driver_job_obj_end(obj);
        return NULL;
    }
    g_mutex_lock(&drv->lock);
    obj->mig_op = 0;
    if (obj->mig_port) {
        g_hash_table_remove(drv->mig_ports, GUINT_TO_POINTER(obj->mig_port));
        obj->mig_port = 0;
    }
    obj->state = run ? VH_DOMAIN_RUNNING : VH_DOMAIN_PAUSED;
    obj->reason = run ? VH_RUNNING_MIGRATED : VH_PAUSED_USER;
    ref = vh_domain_obj_make_ref(obj);
    g_mutex_unlock(&drv->lock);
    if (run) {
        vh_driver_emit(drv, vh_domain_ref_copy(ref), VH_DOMAIN_EVENT_RESUMED,
                       VH_EVENT_RESUMED_MIGRATED);
    } else {
        vh_driver_emit(drv, vh_domain_ref_copy(ref), VH_DOMAIN_EVENT_SUSPENDED,
                       VH_EVENT_SUSPENDED_PAUSED);
    }
    if (!vh_driver_process_save_status(drv, obj, &err)) {
        g_warning("domain %s: %s", obj->name, err->message);
        g_clear_error(&err);
    }
    if ((a->flags & VH_MIGRATE_PERSIST_DEST) &&
        !make_persistent(drv, obj, a, &err)) {
        /* libvirt's MIGRATE_PERSIST_FAILED: the guest runs here anyway */
        g_warning("domain %s: migrated but not made persistent: %s", obj->name,
                  err->message);
    }
    g_info("domain %s: incoming migration finished%s", obj->name,
           run ? ", running" : ", paused");
    vh_driver_job_obj_end(obj);
    return ref;
}

void vh_driver_migrate_abort_incoming(VhDriver *drv, const char *name)
{
    VhMigrateArgs a = {.dname = name};
    g_autoptr(GError) err = NULL;
    g_autoptr(VhDomainRef) dom = NULL;
    VhDomainObj *obj;
    bool waiting;

    g_mutex_lock(&drv->lock);
    obj = vh_driver_find_name_locked(drv, name);
    waiting = obj && obj->active && obj->mig_op == VH_JOB_OP_MIGRATION_IN;
    g_mutex_unlock(&drv->lock);
    if (!waiting) {
        return;
    }
    g_warning("domain %s: the source's connection ended before the "
              "migration finished; stopping the incoming machine",
              name);
    dom = vh_driver_migrate_finish(drv, &a, true, &err);
}

/* ---- source: confirm ---- */

bool vh_driver_migrate_confirm(VhDriver *drv, const guint8 *uuid,
                               const VhMigrateArgs *a, bool cancelled,
                               GError **errp)
{
    VhDomainObj *obj = vh_driver_job_obj(drv, uuid, errp);
    g_autoptr(VhQmpClient) qmp = NULL;
    VhDomainRef *ref = NULL;
    bool resume, persistent, ok = true;

    if (!obj) {
        return false;
    }
    if (!cancelled) {
        ok = vh_driver_process_stop(drv, obj, VH_SHUTOFF_MIGRATED,
                                    VH_EVENT_STOPPED_MIGRATED, errp);
        g_mutex_lock(&drv->lock);
        persistent = obj->persistent && !obj->removed;
        g_mutex_unlock(&drv->lock);
        vh_driver_job_obj_end(obj);
        if (ok && persistent && (a->flags & VH_MIGRATE_UNDEFINE_SOURCE)) {
            ok = vh_driver_undefine(drv, uuid, 0, errp);
        }
        return ok;
    }
    g_mutex_lock(&drv->lock);
    resume =
        obj->active && obj->state == VH_DOMAIN_PAUSED && obj->mig_was_running;
    obj->mig_op = 0;
    g_mutex_unlock(&drv->lock);
    if (resume && (qmp = vh_driver_process_get_qmp(drv, obj, errp))) {
        ok = qmp_ok(qmp, "cont", NULL, errp);
        g_mutex_lock(&drv->lock);
        if (ok && obj->active) {
            obj->state = VH_DOMAIN_RUNNING;
            obj->reason = VH_RUNNING_MIGRATION_CANCELED;
            ref = vh_domain_obj_make_ref(obj);
        }
        g_mutex_unlock(&drv->lock);
        if (ref) {
            vh_driver_emit(drv, ref, VH_DOMAIN_EVENT_RESUMED,
                           VH_EVENT_RESUMED_MIGRATED);
        }
    }
    vh_driver_job_obj_end(obj);
    return ok;
}

/* ---- jobs ---- */

static guint64 member_u64(JsonObject *o, const char *key)
{
    if (!o || !json_object_has_member(o, key)) {
        return 0;
    }
    gint64 v = json_object_get_int_member(o, key);

    return v > 0 ? (guint64)v : 0;
}

bool vh_driver_get_job_stats(VhDriver *drv, const guint8 *uuid, VhJobStats *st,
                             GError **errp)
{
    g_autoptr(VhDomainObj) obj = vh_driver_get_obj(drv, uuid, errp);
    g_autoptr(VhQmpClient) qmp = NULL;
    g_autoptr(JsonObject) o = NULL;
    JsonObject *ram;
    int op;
    gint64 started;

    memset(st, 0, sizeof(*st));
    if (!obj) {
        return false;
    }
    g_mutex_lock(&drv->lock);
    op = obj->active ? obj->mig_op : 0;
    started = obj->mig_started;
    g_mutex_unlock(&drv->lock);
    if (!op || !(qmp = vh_driver_process_get_qmp(drv, obj, NULL)) ||
        !(o = query_migrate(qmp, NULL))) {
        return true; /* no job: VIR_DOMAIN_JOB_NONE */
    }
    ram = json_object_has_member(o, "ram")
              ? json_object_get_object_member(o, "ram")
              : NULL;
    st->type = 2; /* VIR_DOMAIN_JOB_UNBOUNDED */
    st->operation = op;
    st->time_elapsed_ms = (g_get_monotonic_time() - started) / 1000;
    st->data_total = member_u64(ram, "total");
    st->data_processed = member_u64(ram, "transferred");
    st->data_remaining = member_u64(ram, "remaining");
    st->mem_iteration = member_u64(ram, "dirty-sync-count");
    st->mem_dirty_rate = member_u64(ram, "dirty-pages-rate");
    if (ram && json_object_has_member(ram, "mbps")) {
        st->mem_bps =
            (guint64)(json_object_get_double_member(ram, "mbps") * 1e6 / 8);
    }
    return true;
}

bool vh_driver_abort_job(VhDriver *drv, const guint8 *uuid, GError **errp)
{
    g_autoptr(VhDomainObj) obj = vh_driver_get_obj(drv, uuid, errp);
    g_autoptr(VhQmpClient) qmp = NULL;
    int op;

    if (!obj) {
        return false;
    }
    g_mutex_lock(&drv->lock);
    op = obj->active ? obj->mig_op : 0;
    g_mutex_unlock(&drv->lock);
    if (op != VH_JOB_OP_MIGRATION_OUT) {
        return no_job(errp);
    }
    qmp = vh_driver_process_get_qmp(drv, obj, errp);
    if (!qmp) {
        return false;
    }
    g_info("domain %s: migration aborted by a client", obj->name);
    return qmp_ok(qmp, "migrate_cancel", NULL, errp);
}
