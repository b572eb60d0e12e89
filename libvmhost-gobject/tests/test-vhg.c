/*
 * libvmhost-gobject's C API: config documents (live views, unknown content
 * kept, parse errors with line and column, namespaced metadata), URIs, and
 * a connection to a fake server on a UNIX socket that is hand-fed the
 * protocol's opening replies, a domain list, a lifecycle event, a call
 * left unanswered and a dropped connection (closed emitted once, the
 * pending call failed). Every wait is bounded.
 */
#include <gio/gunixsocketaddress.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "vhg-private.h"

#define WAIT_MS 5000

/* ---- config ---- */

static const char *doc =
    "<domain type='kvm' id='3'>\n"
    "  <name>vm1</name>\n"
    "  <uuid>C7A5FDBD-EDAF-9455-926A-D65C16DB1809</uuid>\n"
    "  <memory unit='MiB'>64</memory>\n"
    "  <features><acpi/><apic eoi='on'/></features>\n"
    "  <os firmware='efi'><type arch='x86_64'>hvm</type><boot dev='hd'/></os>\n"
    "  <devices>\n"
    "    <disk type='file' device='disk'><source file='/x.img'/></disk>\n"
    "    <serial type='tcp'><source mode='bind' host='0.0.0.0' service='4555' "
    "tls='yes'/><protocol type='raw'/><target port='0'/></serial>\n"
    "  </devices>\n"
    "  <metadata><a:app xmlns:a='urn:a'><a:k v='1'/></a:app>"
    "<b:app xmlns:b='urn:b'/></metadata>\n"
    "</domain>\n";

static void test_config_round_trip(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(VhgConfigDomain) c = vhg_config_domain_new_from_xml(doc, &err);
    g_autofree char *xml = NULL;
    g_autofree char *a = NULL;
    GList *serials;
    VhgConfigDomainSerial *s;

    g_assert_no_error(err);
    g_assert_cmpstr(vhg_config_domain_get_name(c), ==, "vm1");
    g_assert_cmpstr(vhg_config_domain_get_uuid(c), ==,
                    "c7a5fdbd-edaf-9455-926a-d65c16db1809");
    g_assert_cmpuint(vhg_config_domain_get_memory(c), ==, 64 * 1024);
    g_assert_cmpuint(vhg_config_domain_get_vcpus(c), ==, 1);
    g_assert_cmpstr(vhg_config_domain_get_os_type(c), ==, "hvm");
    g_assert_cmpstr(vhg_config_domain_get_virt_type(c), ==, "kvm");
    serials = vhg_config_domain_get_serials(c);
    g_assert_cmpuint(g_list_length(serials), ==, 1);
    s = serials->data;
    g_assert_cmpint(vhg_config_domain_serial_get_serial_type(s), ==,
                    VHG_CONFIG_DOMAIN_SERIAL_TCP);
    g_assert_cmpstr(vhg_config_domain_serial_get_service(s), ==, "4555");
    g_assert_true(vhg_config_domain_serial_get_listen(s));
    g_assert_true(vhg_config_domain_serial_get_tls(s));
    g_assert_cmpint(vhg_config_domain_serial_get_target_port(s), ==, 0);

    /* edits touch only their elements */
    vhg_config_domain_set_memory(c, 128 * 1024);
    vhg_config_domain_set_os_type(c, "hvm");
    vhg_config_domain_serial_set_host_service(s, "127.0.0.1", "4556");
    g_list_free_full(serials, g_object_unref);
    vhg_config_domain_set_title(c, "t");
    vhg_config_domain_set_on_reboot(c, "destroy");
    vhg_config_domain_set_on_poweroff(c, "destroy");
    vhg_config_domain_set_on_crash(c, "restart");
    g_assert_cmpstr(vhg_config_domain_get_on_reboot(c), ==, "destroy");
    g_assert_cmpstr(vhg_config_domain_get_on_crash(c), ==, "restart");
    g_assert_true(vhg_config_domain_set_custom_xml(c, "<app><z/></app>", "a",
                                                   "urn:a", &err));
    xml = vhg_config_domain_to_xml(c);
    for (const char *kept = "<disk type=\"file\" device=\"disk\">\0"
                            "<source file=\"/x.img\"/>\0"
                            "<apic eoi=\"on\"/>\0"
                            "<os firmware=\"efi\">\0"
                            "<type arch=\"x86_64\">hvm</type>\0"
                            "<boot dev=\"hd\"/>\0"
                            "<protocol type=\"raw\"/>\0"
                            "<b:app xmlns:b=\"urn:b\"/>\0"
                            "id=\"3\"\0"
                            "<memory unit=\"KiB\">131072</memory>\0"
                            "service=\"4556\"\0"
                            "<title>t</title>\0";
         *kept; kept += strlen(kept) + 1) {
        if (!strstr(xml, kept)) {
            g_error("%s lost from:\n%s", kept, xml);
        }
    }
    a = vhg_config_domain_get_custom_xml(c, "urn:a");
    g_assert_cmpstr(a, ==, "<a:app xmlns:a=\"urn:a\"><a:z/></a:app>");
    g_assert_null(strstr(xml, "a:k"));
    /* removing one namespace's metadata leaves the other */
    g_assert_true(
        vhg_config_domain_set_custom_xml(c, NULL, "a", "urn:a", &err));
    g_assert_null(vhg_config_domain_get_custom_xml(c, "urn:a"));
    g_free(a);
    a = vhg_config_domain_get_custom_xml(c, "urn:b");
    g_assert_nonnull(a);
}

static void test_config_bad_xml(void)
{
    static const struct {
        const char *xml;
        const char *needle;
    } cases[] = {
        {"<domain>\n  <name>x</nam>\n</domain>", "line 2, column "},
        {"<domain><name>x</name>", "line 1, column "},
        {"", "line "},
        {"<!DOCTYPE d [<!ENTITY e 'x'>]><domain/>", "DOCTYPE"},
        {"<notdomain/>", "expected the root element <domain>"},
        {"<domain>\n\n   <a b='1' b='2'/></domain>", "line 3, column "},
    };

    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(GError) err = NULL;
        VhgConfigDomain *c = vhg_config_domain_new_from_xml(cases[i].xml, &err);

        g_assert_null(c);
        g_assert_error(err, VHG_ERROR, VHG_ERROR_XML_ERROR);
        if (!strstr(err->message, cases[i].needle)) {
            g_error("case %u: '%s' lacks '%s'", i, err->message,
                    cases[i].needle);
        }
    }
    g_autoptr(VhgConfigDomain) c = vhg_config_domain_new();
    g_autoptr(GError) err = NULL;
    g_assert_false(
        vhg_config_domain_set_custom_xml(c, "<a><b></a>", "p", "urn:p", &err));
    g_assert_error(err, VHG_ERROR, VHG_ERROR_XML_ERROR);
    g_assert_nonnull(strstr(err->message, "column"));
}

static void test_config_build(void)
{
    g_autoptr(VhgConfigDomain) c = vhg_config_domain_new();
    g_autoptr(VhgConfigDomainSerial) s = NULL;
    g_autoptr(VhgConfigDomainSerial) con = NULL;
    g_autofree char *xml = NULL;
    g_autoptr(GError) err = NULL;
    g_autoptr(VhgConfigDomain) again = NULL;
    GList *l;

    vhg_config_domain_set_name(c, "built");
    vhg_config_domain_set_memory(c, 32768);
    g_object_unref(
        vhg_config_domain_add_serial(c, VHG_CONFIG_DOMAIN_SERIAL_PTY));
    s = vhg_config_domain_add_serial(c, VHG_CONFIG_DOMAIN_SERIAL_UNIX);
    vhg_config_domain_serial_set_path(s, "/tmp/s.sock");
    vhg_config_domain_serial_set_listen(s, TRUE);
    vhg_config_domain_serial_set_target_port(s, 1);
    con = vhg_config_domain_add_console(c, VHG_CONFIG_DOMAIN_SERIAL_PTY);
    vhg_config_domain_serial_set_target_port(con, 0);
    g_assert_true(vhg_config_domain_serial_get_is_console(con));
    xml = vhg_config_domain_to_xml(c);
    g_assert_nonnull(strstr(xml, "<target port=\"0\" type=\"serial\"/>"));
    /* what vmhostd's parser accepts */
    again = vhg_config_domain_new_from_xml(xml, &err);
    g_assert_no_error(err);
    g_autoptr(VhDomainDef) def = vh_domain_def_parse(xml, -1, 0, &err);
    g_assert_no_error(err);
    g_assert_cmpstr(vh_domain_def_get_name(def), ==, "built");
    g_autoptr(GArray) chr = vh_domain_def_get_chardevs(def);
    g_assert_cmpuint(chr->len, ==, 3);
    l = vhg_config_domain_get_serials(again);
    g_assert_cmpuint(g_list_length(l), ==, 3);
    vhg_config_domain_remove_serial(again, l->data);
    g_list_free_full(l, g_object_unref);
    l = vhg_config_domain_get_serials(again);
    g_assert_cmpuint(g_list_length(l), ==, 2);
    g_list_free_full(l, g_object_unref);
}

/* ---- URIs ---- */

static void test_uri(void)
{
    VhgUri u;
    g_autoptr(GError) err = NULL;

    g_assert_true(vhg_uri_parse(
        "vmhost+tls://h.example.org:1234/system?pkipath=/p&no_verify=1&"
        "tls_priority=NORMAL&extra=1",
        &u, &err));
    g_assert_cmpstr(u.driver, ==, "vmhost");
    g_assert_cmpstr(u.transport, ==, "tls");
    g_assert_cmpstr(u.host, ==, "h.example.org");
    g_assert_cmpint(u.port, ==, 1234);
    g_assert_cmpstr(u.pkipath, ==, "/p");
    g_assert_true(u.no_verify);
    g_assert_cmpstr(u.tls_priority, ==, "NORMAL");
    g_assert_cmpstr(u.name, ==, "vmhost:///system?extra=1");
    vhg_uri_clear(&u);

    g_assert_true(vhg_uri_parse("qemu://host/system", &u, &err));
    g_assert_cmpstr(u.transport, ==, "tls");
    g_assert_cmpint(u.port, ==, 16514);
    g_assert_cmpstr(u.name, ==, "qemu:///system");
    vhg_uri_clear(&u);

    g_assert_true(
        vhg_uri_parse("test+unix:///default?socket=/run/x/s", &u, &err));
    g_assert_cmpstr(u.transport, ==, "unix");
    g_assert_cmpstr(u.socket, ==, "/run/x/s");
    g_assert_cmpstr(u.name, ==, "test:///default");
    vhg_uri_clear(&u);

    g_assert_false(vhg_uri_parse("vmhost+ssh://h/system", &u, &err));
    g_assert_error(err, VHG_ERROR, VHG_ERROR_INVALID_ARG);
    g_clear_error(&err);
    g_assert_false(vhg_uri_parse("vmhost+tls:///system", &u, &err));
    g_assert_error(err, VHG_ERROR, VHG_ERROR_INVALID_ARG);
    g_clear_error(&err);
    g_assert_false(vhg_uri_parse("not a uri", &u, &err));
    g_assert_error(err, VHG_ERROR, VHG_ERROR_INVALID_ARG);
}

/* ---- a connection to a hand-fed server ---- */

typedef struct {
    int listen_fd;
    int fd;
    bool mute_open; /* never answer CONNECT_OPEN */
} Fake;

static bool read_n(int fd, void *buf, size_t n)
{
    guint8 *p = buf;

    while (n > 0) {
        struct pollfd pfd = {fd, POLLIN, 0};
        ssize_t r;

        if (poll(&pfd, 1, WAIT_MS) != 1 || (r = read(fd, p, n)) <= 0) {
            return false;
        }
        p += r;
        n -= r;
    }
    return true;
}

static bool srv_read(int fd, VhRpcHeader *hdr)
{
    guint8 buf[4096];
    guint32 len;

    if (!read_n(fd, buf, 4) || !vh_rpc_packet_check_length(buf, &len, NULL) ||
        len > sizeof(buf) || !read_n(fd, buf + 4, len - 4)) {
        return false;
    }
    VhXdrReader r = VH_XDR_READER_INIT(buf, len);
    return vh_rpc_packet_decode_header(&r, hdr, NULL);
}

static void srv_send(int fd, const VhRpcHeader *hdr, GByteArray *body)
{
    g_autoptr(GByteArray) pkt = vh_rpc_packet_new(hdr);

    if (body) {
        g_byte_array_append(pkt, body->data, body->len);
    }
    vh_rpc_packet_finish(pkt);
    g_assert_cmpint(write(fd, pkt->data, pkt->len), ==, (ssize_t)pkt->len);
}

static const guint8 fake_uuid[16] = {1, 2,  3,  4,  5,  6,  7,  8,
                                     9, 10, 11, 12, 13, 14, 15, 16};

/* Answer whatever arrives until @stop_proc; then return its header. */
static gpointer fake_server(gpointer opaque)
{
    Fake *fk = opaque;
    VhRpcHeader h;

    fk->fd = accept(fk->listen_fd, NULL, NULL);
    g_assert_cmpint(fk->fd, >=, 0);
    while (srv_read(fk->fd, &h)) {
        g_autoptr(GByteArray) b = g_byte_array_new();
        VhRpcHeader rep = h;

        rep.type = VH_RPC_REPLY;
        switch (h.proc) {
        case VH_REMOTE_PROC_AUTH_LIST:
            vh_xdr_put_u32(b, 1);
            vh_xdr_put_i32(b, 0);
            break;
        case VH_REMOTE_PROC_CONNECT_SUPPORTS_FEATURE:
            vh_xdr_put_i32(b, 0);
            break;
        case VH_REMOTE_PROC_CONNECT_OPEN:
            if (fk->mute_open) {
                continue;
            }
            break;
        case VH_REMOTE_PROC_CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY:
            vh_xdr_put_i32(b, 1);
            break;
        case VH_REMOTE_PROC_CONNECT_LIST_ALL_DOMAINS:
            vh_xdr_put_u32(b, 1);
            vh_remote_put_domain(b, "fake", fake_uuid, 3);
            vh_xdr_put_u32(b, 1);
            break;
        case VH_REMOTE_PROC_DOMAIN_GET_STATE:
            vh_xdr_put_i32(b, VHG_DOMAIN_STATE_RUNNING);
            vh_xdr_put_i32(b, 1);
            break;
        case VH_REMOTE_PROC_DOMAIN_IS_PERSISTENT:
            vh_xdr_put_i32(b, 1);
            break;
        case VH_REMOTE_PROC_DOMAIN_SUSPEND: {
            /* the reply, then the event, as a server sends them */
            VhRpcHeader ev = {VH_REMOTE_PROGRAM,
                              1,
                              VH_REMOTE_PROC_DOMAIN_EVENT_CALLBACK_LIFECYCLE,
                              VH_RPC_MESSAGE,
                              0,
                              VH_RPC_OK};
            g_autoptr(GByteArray) eb = g_byte_array_new();

            srv_send(fk->fd, &rep, NULL);
            vh_xdr_put_i32(eb, 1);
            vh_remote_put_domain(eb, "fake", fake_uuid, 3);
            vh_xdr_put_i32(eb, VHG_EVENT_SUSPENDED);
            vh_xdr_put_i32(eb, 0);
            srv_send(fk->fd, &ev, eb);
            continue;
        }
        case VH_REMOTE_PROC_DOMAIN_GET_INFO:
            /* left unanswered: the connection drops under it */
            close(fk->fd);
            return NULL;
        default: {
            g_autoptr(GError) e =
                g_error_new(VH_VIR_ERROR, VH_VIR_ERR_NO_SUPPORT,
                            "unsupported procedure %u", h.proc);
            rep.status = VH_RPC_ERROR;
            vh_rpc_error_encode(b, e, VH_VIR_FROM_REMOTE);
            break;
        }
        }
        srv_send(fk->fd, &rep, b);
    }
    close(fk->fd);
    return NULL;
}

typedef struct {
    int suspended, closed, added;
    char *reason;
    bool info_done;
    GError *info_err;
} Seen;

static void on_suspended(VhgDomain *dom, gpointer opaque)
{
    ((Seen *)opaque)->suspended++;
}

static void on_closed(VhgConnection *conn, const char *reason, gpointer opaque)
{
    Seen *s = opaque;

    s->closed++;
    g_free(s->reason);
    s->reason = g_strdup(reason);
}

static void on_added(VhgConnection *conn, VhgDomain *dom, gpointer opaque)
{
    ((Seen *)opaque)->added++;
}

static void on_info(GObject *src, GAsyncResult *res, gpointer opaque)
{
    Seen *s = opaque;
    VhgDomainInfo *info =
        vhg_domain_get_info_finish(VHG_DOMAIN(src), res, &s->info_err);

    g_assert_null(info);
    s->info_done = true;
}

static void iterate_until(bool (*cond)(Seen *), Seen *s)
{
    gint64 end = g_get_monotonic_time() + WAIT_MS * 1000;

    while (!cond(s) && g_get_monotonic_time() < end) {
        g_main_context_iteration(NULL, FALSE);
        g_usleep(1000);
    }
    g_assert_true(cond(s));
}

static bool got_suspended(Seen *s)
{
    return s->suspended > 0;
}

static bool got_closed(Seen *s)
{
    return s->closed > 0 && s->info_done;
}

static void test_connection_fake(void)
{
    g_autofree char *dir = g_dir_make_tmp("vhg-test-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "sock", NULL);
    g_autofree char *uri =
        g_strdup_printf("vmhost+unix:///system?socket=%s", path);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    Fake fk = {socket(AF_UNIX, SOCK_STREAM, 0), -1};
    g_autoptr(VhgConnection) conn = vhg_connection_new(uri);
    g_autoptr(GError) err = NULL;
    g_autoptr(VhgDomain) dom = NULL;
    Seen seen = {0};
    GThread *t;

    g_strlcpy(sa.sun_path, path, sizeof(sa.sun_path));
    g_assert_cmpint(bind(fk.listen_fd, (struct sockaddr *)&sa, sizeof(sa)), ==,
                    0);
    g_assert_cmpint(listen(fk.listen_fd, 1), ==, 0);
    t = g_thread_new("fake", fake_server, &fk);

    g_signal_connect(conn, "closed", G_CALLBACK(on_closed), &seen);
    g_signal_connect(conn, "domain-added", G_CALLBACK(on_added), &seen);
    g_assert_true(vhg_connection_open(conn, NULL, &err));
    g_assert_no_error(err);
    g_assert_true(vhg_connection_is_open(conn));
    /* an unknown procedure answered NO_SUPPORT */
    g_assert_null(vhg_connection_get_hostname(conn, NULL, &err));
    g_assert_error(err, VHG_ERROR, VHG_ERROR_NO_SUPPORT);
    g_clear_error(&err);

    g_assert_true(vhg_connection_fetch_domains(conn, NULL, &err));
    dom = vhg_connection_find_domain_by_name(conn, "fake");
    g_assert_nonnull(dom);
    g_clear_object(&dom);
    /* fetched again: the same object */
    VhgDomain *first = vhg_connection_find_domain_by_name(conn, "fake");
    g_assert_true(vhg_connection_fetch_domains(conn, NULL, &err));
    dom = vhg_connection_find_domain_by_name(conn, "fake");
    g_assert_true(dom == first);
    g_object_unref(first);
    g_assert_nonnull(dom);
    g_assert_cmpint(vhg_domain_get_id(dom), ==, 3);
    g_assert_cmpint(vhg_domain_get_state(dom), ==, VHG_DOMAIN_STATE_RUNNING);
    g_assert_true(vhg_domain_get_persistent(dom));
    g_assert_cmpstr(vhg_domain_get_uuid(dom), ==,
                    "01020304-0506-0708-090a-0b0c0d0e0f10");

    g_signal_connect(dom, "suspended", G_CALLBACK(on_suspended), &seen);
    g_assert_true(vhg_domain_suspend(dom, NULL, &err));
    g_assert_cmpint(vhg_domain_get_state(dom), ==, VHG_DOMAIN_STATE_PAUSED);
    iterate_until(got_suspended, &seen);

    /* a pending call, then the server drops the connection */
    vhg_domain_get_info_async(dom, NULL, on_info, &seen);
    iterate_until(got_closed, &seen);
    g_assert_error(seen.info_err, VHG_ERROR, VHG_ERROR_RPC);
    g_assert_cmpint(seen.closed, ==, 1);
    g_assert_nonnull(strstr(seen.reason, "closed"));
    g_assert_false(vhg_connection_is_open(conn));
    g_assert_false(vhg_domain_resume(dom, NULL, &err));
    g_assert_error(err, VHG_ERROR, VHG_ERROR_RPC);
    g_clear_error(&err);

    vhg_connection_close(conn);
    while (g_main_context_iteration(NULL, FALSE)) {
    }
    g_assert_cmpint(seen.closed, ==, 1);
    g_assert_cmpint(seen.added, ==, 0); /* fetched, not added by events */
    g_thread_join(t);
    close(fk.listen_fd);
    unlink(path);
    rmdir(dir);
    g_free(seen.reason);
    g_clear_error(&seen.info_err);
}

/* A fake server on a fresh socket; @uri (transfer full) names it. */
static GThread *fake_start(Fake *fk, char **dir, char **uri)
{
    g_autofree char *path = NULL;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};

    *dir = g_dir_make_tmp("vhg-test-XXXXXX", NULL);
    path = g_build_filename(*dir, "sock", NULL);
    *uri = g_strdup_printf("vmhost+unix:///system?socket=%s", path);
    fk->listen_fd = socket(AF_UNIX, SOCK_STREAM, 0);
    g_strlcpy(sa.sun_path, path, sizeof(sa.sun_path));
    g_assert_cmpint(bind(fk->listen_fd, (struct sockaddr *)&sa, sizeof(sa)), ==,
                    0);
    g_assert_cmpint(listen(fk->listen_fd, 1), ==, 0);
    return g_thread_new("fake", fake_server, fk);
}

static void fake_stop(Fake *fk, GThread *t, char *dir)
{
    g_autofree char *path = g_build_filename(dir, "sock", NULL);

    g_thread_join(t);
    close(fk->listen_fd);
    unlink(path);
    rmdir(dir);
    g_free(dir);
}

/* A server that never answers CONNECT_OPEN: the call times out. */
static void test_connection_timeout(void)
{
    Fake fk = {.mute_open = true};
    char *dir;
    g_autofree char *uri = NULL;
    GThread *t = fake_start(&fk, &dir, &uri);
    g_autoptr(VhgConnection) conn = vhg_connection_new(uri);
    g_autoptr(GError) err = NULL;
    gint64 t0 = g_get_monotonic_time();

    vhg_connection_set_call_timeout(conn, 200);
    g_assert_false(vhg_connection_open(conn, NULL, &err));
    g_assert_error(err, VHG_ERROR, VHG_ERROR_OPERATION_TIMEOUT);
    g_assert_cmpint(g_get_monotonic_time() - t0, >=, 190 * 1000);
    g_assert_false(vhg_connection_is_open(conn));
    g_clear_object(&conn); /* the fake sees EOF */
    fake_stop(&fk, t, dir);
}

static void on_opened(GObject *src, GAsyncResult *res, gpointer opaque)
{
    GError **err = opaque;

    g_assert_false(vhg_connection_open_finish(VHG_CONNECTION(src), res, err));
}

static gboolean cancel_cb(gpointer opaque)
{
    g_cancellable_cancel(opaque);
    return G_SOURCE_REMOVE;
}

/* open_async cancelled while the server keeps it waiting. */
static void test_connection_cancel(void)
{
    Fake fk = {.mute_open = true};
    char *dir;
    g_autofree char *uri = NULL;
    GThread *t = fake_start(&fk, &dir, &uri);
    g_autoptr(VhgConnection) conn = vhg_connection_new(uri);
    g_autoptr(GCancellable) cancel = g_cancellable_new();
    GError *err = NULL;
    gint64 end = g_get_monotonic_time() + WAIT_MS * 1000;

    vhg_connection_open_async(conn, cancel, on_opened, &err);
    g_timeout_add(100, cancel_cb, cancel);
    while (!err && g_get_monotonic_time() < end) {
        g_main_context_iteration(NULL, TRUE);
    }
    g_assert_error(err, G_IO_ERROR, G_IO_ERROR_CANCELLED);
    g_clear_error(&err);
    g_assert_false(vhg_connection_is_open(conn));
    g_clear_object(&conn);
    fake_stop(&fk, t, dir);
}

static void test_connection_refused(void)
{
    g_autoptr(VhgConnection) conn =
        vhg_connection_new("vmhost+unix:///system?socket=/nonexistent/sock");
    g_autoptr(VhgConnection) tls = vhg_connection_new(
        "vmhost+tls://localhost:1/system?pkipath=/nonexistent");
    g_autoptr(GError) err = NULL;

    g_assert_false(vhg_connection_open(conn, NULL, &err));
    g_assert_error(err, VHG_ERROR, VHG_ERROR_SYSTEM_ERROR);
    g_assert_nonnull(strstr(err->message, "/nonexistent/sock"));
    g_clear_error(&err);
    g_assert_false(vhg_connection_open(tls, NULL, &err));
    g_assert_error(err, VHG_ERROR, VHG_ERROR_GNUTLS_ERROR);
    g_assert_nonnull(strstr(err->message, "/nonexistent/cacert.pem"));
    g_clear_error(&err);
    g_assert_null(vhg_connection_get_hostname(conn, NULL, &err));
    g_assert_error(err, VHG_ERROR, VHG_ERROR_INVALID_CONN);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/vhg/config/round-trip", test_config_round_trip);
    g_test_add_func("/vhg/config/bad-xml", test_config_bad_xml);
    g_test_add_func("/vhg/config/build", test_config_build);
    g_test_add_func("/vhg/uri", test_uri);
    g_test_add_func("/vhg/connection/fake-server", test_connection_fake);
    g_test_add_func("/vhg/connection/refused", test_connection_refused);
    g_test_add_func("/vhg/connection/timeout", test_connection_timeout);
    g_test_add_func("/vhg/connection/cancel", test_connection_cancel);
    return g_test_run();
}
