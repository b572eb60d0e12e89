/*
 * The monitor side of socket chardevs: the CHARDEV_CONNECTED /
 * CHARDEV_DISCONNECTED / CHARDEV_REFUSED events (plain, TLS with the peer
 * DN, the id of a mux=on chardev, a refused client), getfd through a
 * mux=on UNIX socket monitor and refused over TLS and TCP monitors, and
 * chardev-add with fd=NAME from getfd (listening and connected sockets,
 * unknown names, numbers, non-sockets).
 *
 * The test's own QMP monitor is on one end of a socketpair (MonPeer);
 * other monitors are reached through in-process client chardevs
 * (a Link). Everything runs on the default main context.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <gio/gunixsocketaddress.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "chardev-testutil.h"
#include "crypto-testutil.h"
#include "monitor-testutil.h"
#include "tls-testutil.h"
#include "vmhost/chardev/char-socket.h"
#include "vmhost/chardev/chardev-opts.h"
#include "vmhost/machine/probe.h"
#include "vmhost/machine/serial.h"
#include "vmhost/monitor/hmp.h"
#include "vmhost/monitor/qmp.h"
#include "vmhost/object/object.h"
#include "vmhost/vmhost-types.h"

#define DN_SERVER "C=UK,O=vmhost test,CN=localhost"
#define DN_CLIENT "C=UK,O=vmhost test,CN=client-ev"

static TlsTestPki *pki;

typedef struct {
    VhMonitorHost host;
    MonPeer peer;
    VhQmp *qmp;
    GQueue events; /* JsonObject *, read while waiting for a reply */
} Fixture;

/* ---- the test's QMP monitor ---- */

/* The next reply; events on the way are queued. */
static JsonObject *read_reply(Fixture *f)
{
    for (;;) {
        JsonObject *m = mon_read_json(&f->peer);

        if (!json_object_has_member(m, "event")) {
            return m;
        }
        g_queue_push_tail(&f->events, m);
    }
}

static JsonObject *cmd_fd(Fixture *f, const char *json, int fd)
{
    if (fd >= 0) {
        mon_send_fd(&f->peer, json, fd);
    } else {
        mon_send(&f->peer, json);
    }
    return read_reply(f);
}

static void ok_fd(Fixture *f, const char *json, int fd)
{
    g_autoptr(JsonObject) r = cmd_fd(f, json, fd);

    if (json_object_has_member(r, "error")) {
        g_error("%s: %s", json,
                json_object_get_string_member(
                    json_object_get_object_member(r, "error"), "desc"));
    }
    g_assert_true(json_object_has_member(r, "return"));
}

static void ok(Fixture *f, const char *json)
{
    ok_fd(f, json, -1);
}

static void fails(Fixture *f, const char *json, const char *desc)
{
    g_autoptr(JsonObject) r = cmd_fd(f, json, -1);
    const char *got;

    g_assert_true(json_object_has_member(r, "error"));
    got = json_object_get_string_member(
        json_object_get_object_member(r, "error"), "desc");
    if (!strstr(got, desc)) {
        g_error("'%s' not in '%s'", desc, got);
    }
}

static bool is_event(JsonObject *m, const char *name, const char *id)
{
    JsonObject *data = json_object_get_object_member(m, "data");

    return g_str_equal(json_object_get_string_member(m, "event"), name) &&
           data && json_object_has_member(data, "id") &&
           g_str_equal(json_object_get_string_member(data, "id"), id);
}

/*
 * The data of the first event @name about chardev @id (transfer full),
 * taken out of the queue; other events stay queued.
 */
static JsonObject *wait_event(Fixture *f, const char *name, const char *id)
{
    for (;;) {
        for (GList *l = f->events.head; l; l = l->next) {
            if (is_event(l->data, name, id)) {
                g_autoptr(JsonObject) m = l->data;

                g_queue_delete_link(&f->events, l);
                return json_object_ref(
                    json_object_get_object_member(m, "data"));
            }
        }
        JsonObject *m = mon_read_json(&f->peer);

        if (!json_object_has_member(m, "event")) {
            g_error("a reply while waiting for %s", name);
        }
        g_queue_push_tail(&f->events, m);
    }
}

static void setup(Fixture *f)
{
    g_queue_init(&f->events);
    f->qmp = mon_qmp_open(&f->peer, &f->host);
    ok(f, "{\"execute\": \"qmp_capabilities\"}");
}

static void teardown(Fixture *f)
{
    mon_qmp_close(&f->peer, &f->host, f->qmp);
    g_queue_clear_full(&f->events, (GDestroyNotify)json_object_unref);
    mon_settle();
}

/* ---- objects and chardevs the tests make ---- */

static void add_object(const char *id, gpointer obj)
{
    g_autoptr(GError) err = NULL;

    g_assert_true(vh_object_add(id, G_OBJECT(obj), &err));
    g_assert_no_error(err);
    g_object_unref(obj);
}

static void drop_read(void *opaque, const guint8 *buf, size_t len)
{
}

/* A registered chardev from an option string, with a reading frontend. */
static VhChardev *add_chardev(const char *spec, bool reader)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(VhOpts) o = vh_opts_parse("-chardev", spec, "backend", &err);
    g_autoptr(VhChardev) chr = vh_chardev_new_from_opts(o, NULL, &err);

    g_assert_no_error(err);
    g_assert_true(vh_chardev_register(chr, &err));
    g_assert_no_error(err);
    if (reader) {
        vh_chardev_set_handlers(chr, NULL, drop_read, NULL, chr, NULL);
    }
    return chr; /* borrowed: the registry holds it */
}

static void detach(const char *id)
{
    VhChardev *chr = vh_chardev_lookup(id);

    vh_chardev_set_handlers(chr, NULL, NULL, NULL, NULL, NULL);
}

static guint16 port_of(VhChardev *chr)
{
    return vh_chardev_socket_get_port(
        VH_CHARDEV_SOCKET(vh_chardev_get_backend(chr)));
}

/* ---- a client chardev talking to another monitor ---- */

typedef struct {
    VhChardev *chr;
    GString *in;
} Link;

static void link_read(void *opaque, const guint8 *buf, size_t len)
{
    g_string_append_len(((Link *)opaque)->in, (const char *)buf, len);
}

static bool link_up(void *opaque)
{
    return vh_chardev_is_connected(((Link *)opaque)->chr);
}

static void link_open(Link *l, const char *spec)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(VhOpts) o = vh_opts_parse("-chardev", spec, "backend", &err);

    l->chr = vh_chardev_new_from_opts(o, NULL, &err);
    g_assert_no_error(err);
    l->in = g_string_new(NULL);
    vh_chardev_set_handlers(l->chr, NULL, link_read, NULL, l, NULL);
    mon_wait(link_up, l);
}

static void link_close(Link *l)
{
    vh_chardev_set_handlers(l->chr, NULL, NULL, NULL, NULL, NULL);
    vh_chardev_close(l->chr);
    g_clear_object(&l->chr);
    g_string_free(l->in, true);
}

typedef struct {
    Link *l;
    const char *what;
} LinkWait;

static bool link_has(void *opaque)
{
    LinkWait *w = opaque;

    return strstr(w->l->in->str, w->what) != NULL;
}

/*
 * Send @json and wait until what came in holds @want; returns it all
 * (transfer full) and forgets it.
 */
static char *link_cmd(Link *l, const char *json, const char *want)
{
    g_autoptr(GError) err = NULL;
    LinkWait w = {l, want};
    char *out;

    g_assert_cmpint(vh_chardev_write(l->chr, json, strlen(json), &err), ==,
                    (gssize)strlen(json));
    mon_wait(link_has, &w);
    out = g_strdup(l->in->str);
    g_string_truncate(l->in, 0);
    return out;
}

/* ---- events ---- */

static void test_events_plain(void)
{
    Fixture f = {0};
    g_autoptr(JsonObject) c = NULL, d = NULL;
    VhChardev *chr;
    int fd;

    setup(&f);
    ok(&f, "{\"execute\": \"chardev-add\", \"arguments\": {\"id\": \"ev0\", "
           "\"backend\": {\"type\": \"socket\", \"data\": {\"addr\": "
           "{\"type\": \"inet\", \"data\": {\"host\": \"127.0.0.1\", "
           "\"port\": \"0\"}}, \"server\": true, \"wait\": false}}}}");
    chr = vh_chardev_lookup("ev0");
    vh_chardev_set_handlers(chr, NULL, drop_read, NULL, chr, NULL);
    fd = vh_test_tcp_connect(port_of(chr));
    c = wait_event(&f, "CHARDEV_CONNECTED", "ev0");
    g_assert_true(g_str_has_prefix(json_object_get_string_member(c, "peer"),
                                   "127.0.0.1:"));
    g_assert_true(json_object_get_boolean_member(c, "server"));
    g_assert_false(json_object_has_member(c, "tls"));
    g_assert_false(json_object_has_member(c, "reason"));
    close(fd);
    d = wait_event(&f, "CHARDEV_DISCONNECTED", "ev0");
    g_assert_cmpstr(json_object_get_string_member(d, "reason"), ==,
                    "closed by the peer");
    g_assert_cmpstr(json_object_get_string_member(d, "peer"), ==,
                    json_object_get_string_member(c, "peer"));
    detach("ev0");
    teardown(&f);
}

/*
 * Mutual x509: both ends report TLS with the other's DN; the server's
 * event carries the mux=on chardev's own id; a client without a
 * certificate is refused, and both ends say so.
 */
static void test_events_tls(void)
{
    Fixture f = {0};
    g_autoptr(JsonObject) s = NULL, c = NULL, d = NULL, r = NULL;
    g_autofree char *srv_dir = tls_test_pki_dir(pki, "server");
    g_autofree char *cli_dir = tls_test_pki_dir(pki, "client");
    g_autofree char *anon_dir = tls_test_pki_dir(pki, "client-nocert");
    g_autofree char *spec = NULL;
    const char *dns[] = {"localhost", NULL};
    const char *ips[] = {"127.0.0.1", NULL};
    g_autoptr(GError) err = NULL;
    VhChardev *srv;
    Link cl = {0};
    guint16 port;
    JsonObject *tls;

    tls_test_pki_issue_server(pki, srv_dir, DN_SERVER, dns, ips, 0, 0);
    tls_test_pki_issue_client(pki, cli_dir, DN_CLIENT, 0, 0);
    add_object("ev-srv",
               tls_test_creds_x509(srv_dir, VH_TLS_CREDS_ENDPOINT_SERVER, true,
                                   NULL, true));
    add_object("ev-cli",
               tls_test_creds_x509(cli_dir, VH_TLS_CREDS_ENDPOINT_CLIENT, true,
                                   NULL, true));
    add_object("ev-nocert",
               tls_test_creds_x509(anon_dir, VH_TLS_CREDS_ENDPOINT_CLIENT, true,
                                   NULL, true));

    setup(&f);
    srv = add_chardev("socket,id=tm0,host=127.0.0.1,port=0,server=on,"
                      "wait=off,tls-creds=ev-srv,mux=on",
                      true);
    port = port_of(srv);
    spec = g_strdup_printf("socket,id=tc0,host=127.0.0.1,port=%u,"
                           "tls-creds=ev-cli",
                           port);
    link_open(&cl, spec);
    s = wait_event(&f, "CHARDEV_CONNECTED", "tm0");
    tls = json_object_get_object_member(s, "tls");
    g_assert_nonnull(tls);
    g_assert_cmpstr(json_object_get_string_member(tls, "peer-dn"), ==,
                    DN_CLIENT);
    g_assert_true(g_str_has_prefix(
        json_object_get_string_member(tls, "protocol"), "TLS1."));
    g_assert_nonnull(json_object_get_string_member(tls, "cipher"));
    c = wait_event(&f, "CHARDEV_CONNECTED", "tc0");
    g_assert_false(json_object_get_boolean_member(c, "server"));
    tls = json_object_get_object_member(c, "tls");
    g_assert_cmpstr(json_object_get_string_member(tls, "peer-dn"), ==,
                    DN_SERVER);
    link_close(&cl);
    d = wait_event(&f, "CHARDEV_DISCONNECTED", "tm0");
    g_assert_nonnull(json_object_get_string_member(d, "reason"));

    /* no client certificate: the server refuses, naming the reason */
    g_free(spec);
    spec = g_strdup_printf("socket,id=tc1,host=127.0.0.1,port=%u,"
                           "tls-creds=ev-nocert",
                           port);
    {
        g_autoptr(VhOpts) o = vh_opts_parse("-chardev", spec, "backend", &err);
        g_autoptr(VhChardev) bad = vh_chardev_new_from_opts(o, NULL, &err);

        g_assert_no_error(err);
        /* (under TLS 1.3 the client may finish first, then lose it) */
        r = wait_event(&f, "CHARDEV_REFUSED", "tm0");
        vh_chardev_close(bad);
    }
    g_assert_true(g_str_has_prefix(json_object_get_string_member(r, "peer"),
                                   "127.0.0.1:"));
    g_assert_nonnull(
        strstr(json_object_get_string_member(r, "reason"), "certificate"));
    g_assert_false(vh_chardev_is_connected(srv));

    detach("tm0");
    teardown(&f);
    g_assert_true(vh_object_del("ev-srv", &err));
    g_assert_true(vh_object_del("ev-cli", &err));
    g_assert_true(vh_object_del("ev-nocert", &err));
}

/* A monitor that has not negotiated gets no chardev events. */
static void test_events_need_negotiation(void)
{
    Fixture f = {0};
    MonPeer other = {0};
    g_autoptr(VhQmp) q2 = NULL;
    g_autofree char *greeting = NULL;
    VhChardev *chr;
    int fd;

    setup(&f);
    mon_peer_open(&other, "qmp1");
    q2 = vh_qmp_new(&f.host, other.chr);
    greeting = mon_read_until(&other, "\r\n");
    chr = add_chardev("socket,id=ev1,host=127.0.0.1,port=0,server=on,wait=off",
                      true);
    fd = vh_test_tcp_connect(port_of(chr));
    g_autoptr(JsonObject) c = wait_event(&f, "CHARDEV_CONNECTED", "ev1");
    g_assert_cmpstr(json_object_get_string_member(c, "id"), ==, "ev1");
    mon_settle();
    g_assert_cmpstr(other.in->str, ==, "");
    close(fd);
    detach("ev1");
    g_clear_pointer(&q2, vh_qmp_free);
    mon_peer_close(&other);
    teardown(&f);
}

/*
 * Events while a QMP monitor has not negotiated are dropped without a
 * trace: chardev notices, STOP/RESUME and any other event. What a dropped
 * event built must be freed; the ASan build (detect_leaks=1) fails here
 * on a leak, one per event and monitor.
 */
static void test_events_unnegotiated_no_leak(void)
{
    Fixture f = {0};
    MonPeer other = {0};
    g_autoptr(VhQmp) q2 = NULL;
    g_autofree char *greeting = NULL;
    g_autoptr(GError) err = NULL;
    VhChardev *chr;

    f.host.machine = mon_machine_new();
    setup(&f);
    mon_peer_open(&other, "qmp1");
    q2 = vh_qmp_new(&f.host, other.chr);
    greeting = mon_read_until(&other, "\r\n");
    chr = add_chardev("socket,id=ev2,host=127.0.0.1,port=0,server=on,wait=off",
                      true);
    for (int i = 0; i < 20; i++) {
        int fd = vh_test_tcp_connect(port_of(chr));
        g_autoptr(JsonObject) c = wait_event(&f, "CHARDEV_CONNECTED", "ev2");

        close(fd);
        g_autoptr(JsonObject) d = wait_event(&f, "CHARDEV_DISCONNECTED", "ev2");
    }
    for (int i = 0; i < 20; i++) {
        g_assert_true(vh_machine_cont(f.host.machine, &err));
        g_assert_true(vh_machine_stop(f.host.machine, &err));
        vh_qmp_emit_event("CUSTOM", NULL);
    }
    mon_settle();
    g_assert_cmpstr(other.in->str, ==, "");
    detach("ev2");
    g_clear_pointer(&q2, vh_qmp_free);
    mon_peer_close(&other);
    teardown(&f);
    g_clear_object(&f.host.machine);
}

/* ---- getfd ---- */

/* The test's end of a UNIX socket at @path, non-blocking like MonPeer's. */
static void unix_connect(MonPeer *peer, const char *path)
{
    g_autoptr(GSocketAddress) sa = g_unix_socket_address_new(path);
    struct sockaddr_storage ss;

    peer->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    g_assert_true(g_socket_address_to_native(sa, &ss, sizeof(ss), NULL));
    g_assert_cmpint(connect(peer->fd, (struct sockaddr *)&ss,
                            g_socket_address_get_native_size(sa)),
                    ==, 0);
    g_assert_cmpint(fcntl(peer->fd, F_SETFL, O_NONBLOCK), ==, 0);
    peer->in = g_string_new(NULL);
}

/* getfd through a mux=on chardev on a UNIX socket: the fd arrives. */
static void test_getfd_mux_unix(void)
{
    Fixture f = {0};
    g_autofree char *dir = vh_test_mkdtemp("vh-getfd");
    g_autofree char *path = g_build_filename(dir, "m.sock", NULL);
    g_autofree char *spec = NULL;
    g_autoptr(VhQmp) mq = NULL;
    g_autofree char *r1 = NULL, *r2 = NULL;
    MonPeer unix_peer = {0};
    VhChardev *mux;
    int p[2];

    setup(&f);
    spec = g_strdup_printf("socket,id=mx0,path=%s,server=on,wait=off,mux=on",
                           path);
    mux = add_chardev(spec, false);
    mq = vh_qmp_new(&f.host, mux);

    unix_connect(&unix_peer, path);
    g_free(mon_read_until(&unix_peer, "\r\n")); /* greeting */
    mon_send(&unix_peer, "{\"execute\": \"qmp_capabilities\"}");
    g_free(mon_read_until(&unix_peer, "\r\n"));

    g_assert_cmpint(pipe(p), ==, 0);
    mon_send_fd(&unix_peer,
                "{\"execute\": \"getfd\", \"arguments\": {\"fdname\": "
                "\"viamux\"}}",
                p[1]);
    r1 = mon_read_until(&unix_peer, "\r\n");
    g_assert_nonnull(strstr(r1, "\"return\""));
    g_assert_true(
        mon_fd_is_pipe_end(vh_monitor_host_get_fd(&f.host, "viamux"), p[0]));
    /* without an fd: the ordinary complaint */
    mon_send(&unix_peer, "{\"execute\": \"getfd\", \"arguments\": "
                         "{\"fdname\": \"none\"}}");
    r2 = mon_read_until(&unix_peer, "\r\n");
    g_assert_nonnull(strstr(r2, "no file descriptor was received"));

    close(p[0]);
    close(p[1]);
    close(unix_peer.fd);
    g_string_free(unix_peer.in, true);
    g_clear_pointer(&mq, vh_qmp_free);
    teardown(&f);
    vh_test_rm_rf(dir);
}

/* HMP on a mux=on UNIX socket, QEMU's classic -mon setup: getfd works. */
static void test_getfd_mux_hmp(void)
{
    Fixture f = {0};
    g_autofree char *dir = vh_test_mkdtemp("vh-getfd-hmp");
    g_autofree char *path = g_build_filename(dir, "h.sock", NULL);
    g_autofree char *spec = NULL;
    g_autofree char *out = NULL;
    MonPeer peer = {0};
    VhHmp *h;
    VhChardev *mux;
    int p[2];

    setup(&f);
    spec = g_strdup_printf("socket,id=hx0,path=%s,server=on,wait=off,mux=on",
                           path);
    mux = add_chardev(spec, false);
    h = vh_hmp_new(&f.host, mux, false);
    unix_connect(&peer, path);
    g_free(mon_read_until(&peer, VH_HMP_PROMPT));
    g_assert_cmpint(pipe(p), ==, 0);
    mon_send_fd(&peer, "getfd hmpfd\n", p[1]);
    out = mon_read_until(&peer, VH_HMP_PROMPT);
    g_assert_null(strstr(out, "rror"));
    g_assert_true(
        mon_fd_is_pipe_end(vh_monitor_host_get_fd(&f.host, "hmpfd"), p[0]));
    close(p[0]);
    close(p[1]);
    close(peer.fd);
    g_string_free(peer.in, true);
    vh_hmp_free(h);
    teardown(&f);
    vh_test_rm_rf(dir);
}

/* Over TLS and over TCP getfd fails and says why. */
static void test_getfd_tls_and_tcp(void)
{
    Fixture f = {0};
    g_autoptr(GError) err = NULL;
    g_autoptr(VhQmp) tq = NULL, pq = NULL;
    g_autofree char *spec = NULL, *r = NULL, *r2 = NULL;
    VhChardev *tchr, *pchr;
    Link tl = {0}, pl = {0};

    add_object("gf-anon-s",
               tls_test_creds_anon(VH_TLS_CREDS_ENDPOINT_SERVER, NULL));
    add_object("gf-anon-c",
               tls_test_creds_anon(VH_TLS_CREDS_ENDPOINT_CLIENT, NULL));

    setup(&f);
    tchr = add_chardev("socket,id=tq0,host=127.0.0.1,port=0,server=on,"
                       "wait=off,tls-creds=gf-anon-s",
                       false);
    tq = vh_qmp_new(&f.host, tchr);
    spec = g_strdup_printf("socket,id=tql,host=127.0.0.1,port=%u,"
                           "tls-creds=gf-anon-c",
                           port_of(tchr));
    link_open(&tl, spec);
    g_free(link_cmd(&tl, "", "\"QMP\""));
    g_free(link_cmd(&tl, "{\"execute\": \"qmp_capabilities\"}", "return"));
    r = link_cmd(&tl,
                 "{\"execute\": \"getfd\", \"arguments\": {\"fdname\": "
                 "\"x\"}}",
                 "error");
    g_assert_nonnull(strstr(r, "getfd x: No file descriptor supplied via "
                               "SCM_RIGHTS: chardev tq0 is a TLS channel: "
                               "file descriptors cannot be passed over TLS"));

    pchr = add_chardev("socket,id=pq0,host=127.0.0.1,port=0,server=on,"
                       "wait=off",
                       false);
    pq = vh_qmp_new(&f.host, pchr);
    g_free(spec);
    spec =
        g_strdup_printf("socket,id=pql,host=127.0.0.1,port=%u", port_of(pchr));
    link_open(&pl, spec);
    g_free(link_cmd(&pl, "", "\"QMP\""));
    g_free(link_cmd(&pl, "{\"execute\": \"qmp_capabilities\"}", "return"));
    r2 = link_cmd(&pl,
                  "{\"execute\": \"getfd\", \"arguments\": {\"fdname\": "
                  "\"x\"}}",
                  "error");
    g_assert_nonnull(strstr(r2, "chardev pq0 is not a UNIX socket"));
    g_assert_cmpint(vh_monitor_host_get_fd(&f.host, "x"), ==, -1);

    link_close(&tl);
    link_close(&pl);
    g_clear_pointer(&tq, vh_qmp_free);
    g_clear_pointer(&pq, vh_qmp_free);
    teardown(&f);
    g_assert_true(vh_object_del("gf-anon-s", &err));
    g_assert_true(vh_object_del("gf-anon-c", &err));
}

/*
 * Every kind of frontend leaves a mux=on chardev when freed (each detaches
 * with its own opaque): a freed one must not be called when the peer
 * goes, and the chardev can be removed once they are all gone.
 */
static void test_mux_frontends_detach(void)
{
    Fixture f = {0};
    g_autoptr(GError) err = NULL;
    VhChardev *mux;
    VhQmp *q;
    VhHmp *h;
    VhSerial *ser;
    VhProbe *pr;
    int fd;

    setup(&f);
    mux = add_chardev("socket,id=fe0,host=127.0.0.1,port=0,server=on,"
                      "wait=off,mux=on",
                      false);
    /* (a probe insists on being the first frontend) */
    pr = vh_probe_new("probe-fe", mux, &err);
    g_assert_no_error(err);
    ser = vh_serial_new("serial-fe", mux, NULL, &err);
    g_assert_no_error(err);
    h = vh_hmp_new(&f.host, mux, false);
    q = vh_qmp_new(&f.host, mux);
    fd = vh_test_tcp_connect(port_of(mux));
    g_autoptr(JsonObject) c = wait_event(&f, "CHARDEV_CONNECTED", "fe0");
    g_assert_cmpstr(json_object_get_string_member(c, "id"), ==, "fe0");
    vh_hmp_free(h);
    vh_qmp_free(q);
    vh_probe_free(pr);
    g_assert_true(vh_chardev_has_frontend(mux));
    vh_serial_free(ser);
    g_assert_false(vh_chardev_has_frontend(mux));
    /* the peer leaves (a reader notices): nobody freed is told */
    vh_chardev_set_handlers(mux, NULL, drop_read, NULL, &f, NULL);
    close(fd);
    g_autoptr(JsonObject) d = wait_event(&f, "CHARDEV_DISCONNECTED", "fe0");
    g_assert_cmpstr(json_object_get_string_member(d, "id"), ==, "fe0");
    vh_chardev_set_handlers(mux, NULL, NULL, NULL, &f, NULL);
    g_assert_true(vh_chardev_remove("fe0", &err));
    g_assert_no_error(err);
    teardown(&f);
}

/* ---- chardev-add fd=NAME ---- */

/* An HMP line through human-monitor-command: its output (transfer full). */
static char *hmc(Fixture *f, const char *line)
{
    g_autofree char *json = g_strdup_printf(
        "{\"execute\": \"human-monitor-command\", \"arguments\": "
        "{\"command-line\": \"%s\"}}",
        line);
    g_autoptr(JsonObject) r = cmd_fd(f, json, -1);

    g_assert_true(json_object_has_member(r, "return"));
    return g_strdup(json_object_get_string_member(r, "return"));
}

static void test_chardev_add_fd_name(void)
{
    Fixture f = {0};
    g_autofree char *out = NULL;
    g_autoptr(JsonObject) c = NULL, c2 = NULL;
    guint16 port;
    int lfd, sv[2], p[2], cl;

    setup(&f);
    /* a listening socket, passed with getfd, becomes a server */
    lfd = vh_test_tcp_listen(&port);
    ok_fd(&f, "{\"execute\": \"getfd\", \"arguments\": {\"fdname\": \"lfd\"}}",
          lfd);
    close(lfd);
    ok(&f, "{\"execute\": \"chardev-add\", \"arguments\": {\"id\": \"fdl\", "
           "\"backend\": {\"type\": \"socket\", \"data\": {\"addr\": "
           "{\"type\": \"fd\", \"data\": {\"str\": \"lfd\"}}, "
           "\"server\": true, \"wait\": false}}}}");
    /* used up, as QEMU hands the fd over */
    g_assert_cmpint(vh_monitor_host_get_fd(&f.host, "lfd"), ==, -1);
    g_assert_cmpuint(port_of(vh_chardev_lookup("fdl")), ==, port);
    vh_chardev_set_handlers(vh_chardev_lookup("fdl"), NULL, drop_read, NULL,
                            NULL, NULL);
    cl = vh_test_tcp_connect(port);
    c = wait_event(&f, "CHARDEV_CONNECTED", "fdl");
    g_assert_true(json_object_get_boolean_member(c, "server"));

    /* a connected socket, through HMP's chardev-add */
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
    ok_fd(&f, "{\"execute\": \"getfd\", \"arguments\": {\"fdname\": \"cfd\"}}",
          sv[0]);
    close(sv[0]);
    ok(&f, "{\"execute\": \"human-monitor-command\", \"arguments\": "
           "{\"command-line\": \"chardev-add socket,id=fdc,fd=cfd\"}}");
    c2 = wait_event(&f, "CHARDEV_CONNECTED", "fdc");
    g_assert_false(json_object_get_boolean_member(c2, "server"));
    g_assert_true(vh_chardev_is_connected(vh_chardev_lookup("fdc")));
    g_assert_cmpint(vh_monitor_host_get_fd(&f.host, "cfd"), ==, -1);

    /* errors: an unknown name, a number, something not a socket */
    fails(&f,
          "{\"execute\": \"chardev-add\", \"arguments\": {\"id\": \"fdx\", "
          "\"backend\": {\"type\": \"socket\", \"data\": {\"addr\": "
          "{\"type\": \"fd\", \"data\": {\"str\": \"nope\"}}}}}}",
          "File descriptor named 'nope' not found");
    fails(&f,
          "{\"execute\": \"chardev-add\", \"arguments\": {\"id\": \"fdx\", "
          "\"backend\": {\"type\": \"socket\", \"data\": {\"addr\": "
          "{\"type\": \"fd\", \"data\": {\"str\": \"0\"}}}}}}",
          "fd '0': over a monitor fd takes the name");
    g_assert_cmpint(pipe(p), ==, 0);
    ok_fd(&f, "{\"execute\": \"getfd\", \"arguments\": {\"fdname\": \"pp\"}}",
          p[1]);
    out = hmc(&f, "chardev-add socket,id=fdx,fd=pp");
    g_assert_nonnull(strstr(out, "is not a usable socket"));
    /* the name keeps its fd for another try */
    g_assert_true(
        mon_fd_is_pipe_end(vh_monitor_host_get_fd(&f.host, "pp"), p[0]));
    g_assert_null(vh_chardev_lookup("fdx"));

    close(p[0]);
    close(p[1]);
    close(cl);
    close(sv[1]);
    detach("fdl");
    teardown(&f);
}

int main(int argc, char **argv)
{
    int rc;

    g_test_init(&argc, &argv, NULL);
    /* refused handshakes are g_warning()s by design: not fatal here */
    g_log_set_always_fatal(G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
    vh_object_register_builtin_types();
    pki = tls_test_pki_new("vmhost events CA");
    g_test_add_func("/monitor/chardev-events/plain", test_events_plain);
    g_test_add_func("/monitor/chardev-events/tls-mux-refused", test_events_tls);
    g_test_add_func("/monitor/chardev-events/need-negotiation",
                    test_events_need_negotiation);
    g_test_add_func("/monitor/chardev-events/unnegotiated-no-leak",
                    test_events_unnegotiated_no_leak);
    g_test_add_func("/monitor/getfd/mux-unix", test_getfd_mux_unix);
    g_test_add_func("/monitor/getfd/mux-hmp", test_getfd_mux_hmp);
    g_test_add_func("/monitor/getfd/tls-and-tcp", test_getfd_tls_and_tcp);
    g_test_add_func("/monitor/chardev-add/fd-name", test_chardev_add_fd_name);
    g_test_add_func("/monitor/mux/frontends-detach", test_mux_frontends_detach);
    rc = g_test_run();
    tls_test_pki_free(pki);
    return rc;
}
