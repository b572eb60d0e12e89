/*
 * VhTlsSession over a non-blocking socketpair: handshakes stepped by hand,
 * and the peer-check matrix of docs/compat-qemu.md.
 */
#include "tls-testutil.h"
#include "vmhost/authz/authz-list-file.h"
#include "vmhost/authz/authz-list.h"
#include "vmhost/crypto/tls-session.h"
#include "vmhost/object/object.h"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#define SERVER_DN "C=UK,O=vmhost test,CN=server.example.org"
#define CLIENT_DN "C=UK,O=vmhost test,CN=client1"
#define EVIL_DN   "C=UK,O=vmhost test,CN=evil"

static TlsTestPki *pki;
static TlsTestPki *other_pki;
static char *dir_server, *dir_server_cn, *dir_server_expired;
static char *dir_client, *dir_client_evil, *dir_client_nocert;
static char *dir_client_otherca, *dir_client_notyet;

static ssize_t fd_push(const char *buf, size_t len, void *opaque)
{
    return send(GPOINTER_TO_INT(opaque), buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
}

static ssize_t fd_pull(char *buf, size_t len, void *opaque)
{
    return recv(GPOINTER_TO_INT(opaque), buf, len, MSG_DONTWAIT);
}

/* [0] is the client, [1] the server. */
typedef struct {
    VhTlsSession *sess[2];
    int fd[2];
    VhTlsHandshakeStatus st[2];
    GError *err[2];
} Pair;

static void pair_init(Pair *p, VhTlsCreds *client, const char *hostname,
                      VhTlsCreds *server, const char *authzid)
{
    g_autoptr(GError) err = NULL;

    memset(p, 0, sizeof(*p));
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, p->fd), ==, 0);
    p->sess[0] = vh_tls_session_new(client, hostname, NULL,
                                    VH_TLS_CREDS_ENDPOINT_CLIENT, &err);
    g_assert_no_error(err);
    p->sess[1] = vh_tls_session_new(server, NULL, authzid,
                                    VH_TLS_CREDS_ENDPOINT_SERVER, &err);
    g_assert_no_error(err);
    for (int i = 0; i < 2; i++) {
        vh_tls_session_set_callbacks(p->sess[i], fd_push, fd_pull,
                                     GINT_TO_POINTER(p->fd[i]));
        p->st[i] = VH_TLS_HANDSHAKE_NEEDS_WRITE;
    }
}

static void pair_clear(Pair *p)
{
    for (int i = 0; i < 2; i++) {
        g_clear_object(&p->sess[i]);
        g_clear_error(&p->err[i]);
        if (p->fd[i] >= 0) {
            close(p->fd[i]);
        }
    }
}

static bool pair_done(Pair *p, int i)
{
    return p->st[i] == VH_TLS_HANDSHAKE_COMPLETE ||
           p->st[i] == VH_TLS_HANDSHAKE_FAILED;
}

/* Step both ends until each has completed or failed. */
static void pair_handshake(Pair *p)
{
    for (int iter = 0; iter < 100000; iter++) {
        for (int i = 0; i < 2; i++) {
            if (pair_done(p, i)) {
                continue;
            }
            p->st[i] = vh_tls_session_handshake(p->sess[i], &p->err[i]);
            if (p->st[i] == VH_TLS_HANDSHAKE_FAILED) {
                g_test_message("%s: %s", i ? "server" : "client",
                               p->err[i]->message);
                /* the other end sees the connection go */
                shutdown(p->fd[i], SHUT_RDWR);
            }
        }
        if (pair_done(p, 0) && pair_done(p, 1)) {
            return;
        }
    }
    g_assert_not_reached();
}

static void assert_ok(Pair *p)
{
    g_assert_no_error(p->err[0]);
    g_assert_no_error(p->err[1]);
    g_assert_cmpint(p->st[0], ==, VH_TLS_HANDSHAKE_COMPLETE);
    g_assert_cmpint(p->st[1], ==, VH_TLS_HANDSHAKE_COMPLETE);
    g_assert_true(vh_tls_session_is_handshake_complete(p->sess[0]));
    g_assert_true(vh_tls_session_is_handshake_complete(p->sess[1]));
}

/* Wait until @fd is readable (the peer's bytes arrived). */
static void wait_readable(int fd)
{
    GPollFD pfd = {.fd = fd, .events = G_IO_IN};

    g_assert_cmpint(g_poll(&pfd, 1, 5000), ==, 1);
}

/* Write @len bytes from @from, read them on @to, compare. */
static void pair_transfer(Pair *p, int from, size_t len)
{
    g_autofree char *out = g_malloc(len);
    g_autofree char *in = g_malloc(len);
    size_t sent = 0, got = 0;

    for (size_t i = 0; i < len; i++) {
        out[i] = (char)(i * 7 + 3);
    }
    while (got < len) {
        g_autoptr(GError) err = NULL;
        gssize n;
        if (sent < len) {
            n = vh_tls_session_write(p->sess[from], out + sent, len - sent,
                                     &err);
            g_assert_no_error(err);
            if (n > 0) {
                /* whole records, never byte by byte */
                g_assert_true(n % 16384 == 0 || sent + n == len);
                sent += n;
            }
        }
        n = vh_tls_session_read(p->sess[!from], in + got, len - got, &err);
        g_assert_no_error(err);
        g_assert_cmpint(n, !=, 0);
        if (n > 0) {
            got += n;
        }
    }
    g_assert_cmpmem(in, len, out, len);
}

static void test_x509_ok(const char *priority, const char *protocol)
{
    g_autoptr(VhTlsCreds) client = tls_test_creds_x509(
        dir_client, VH_TLS_CREDS_ENDPOINT_CLIENT, true, priority, true);
    g_autoptr(VhTlsCreds) server = tls_test_creds_x509(
        dir_server, VH_TLS_CREDS_ENDPOINT_SERVER, true, priority, true);
    g_autofree char *desc = NULL;
    Pair p;

    pair_init(&p, client, "server.example.org", server, NULL);
    g_assert_null(vh_tls_session_get_protocol(p.sess[0]));
    pair_handshake(&p);
    assert_ok(&p);
    g_assert_cmpstr(vh_tls_session_get_peer_name(p.sess[0]), ==, SERVER_DN);
    g_assert_cmpstr(vh_tls_session_get_peer_name(p.sess[1]), ==, CLIENT_DN);
    g_assert_cmpstr(vh_tls_session_get_protocol(p.sess[0]), ==, protocol);
    g_assert_cmpstr(vh_tls_session_get_protocol(p.sess[1]), ==, protocol);
    g_assert_nonnull(vh_tls_session_get_cipher(p.sess[0]));
    g_assert_nonnull(vh_tls_session_get_kx(p.sess[0]));
    desc = vh_tls_session_get_description(p.sess[0]);
    g_assert_nonnull(desc);
    g_test_message("%s", desc);
    g_assert_cmpint(vh_tls_session_get_hostname_check(p.sess[0]), ==,
                    VH_TLS_HOSTNAME_MATCH);
    g_assert_cmpint(vh_tls_session_get_hostname_check(p.sess[1]), ==,
                    VH_TLS_HOSTNAME_NOT_CHECKED);
    g_assert_cmpint(vh_tls_session_get_endpoint(p.sess[1]), ==,
                    VH_TLS_CREDS_ENDPOINT_SERVER);
    pair_transfer(&p, 0, 100);
    pair_transfer(&p, 1, 1 << 20);
    pair_transfer(&p, 0, 3 * 16384 + 5);
    pair_clear(&p);
}

static void test_x509_tls12(void)
{
    test_x509_ok(TLS_TEST_PRIORITY_TLS12, "TLS1.2");
}

static void test_x509_tls13(void)
{
    test_x509_ok(TLS_TEST_PRIORITY_TLS13, "TLS1.3");
}

/*
 * Run a handshake expected to fail on @side (0 client, 1 server) with
 * @code and a message holding each of @needles.
 */
static void expect_failure(VhTlsCreds *client, const char *hostname,
                           VhTlsCreds *server, const char *authzid, int side,
                           int code, const char *const *needles)
{
    Pair p;

    pair_init(&p, client, hostname, server, authzid);
    pair_handshake(&p);
    g_assert_cmpint(p.st[side], ==, VH_TLS_HANDSHAKE_FAILED);
    g_assert_error(p.err[side], VH_ERROR, code);
    for (size_t i = 0; needles && needles[i]; i++) {
        if (!strstr(p.err[side]->message, needles[i])) {
            g_error("'%s' not in '%s'", needles[i], p.err[side]->message);
        }
    }
    pair_clear(&p);
}

static void test_wrong_ca(void)
{
    g_autoptr(VhTlsCreds) client = tls_test_creds_x509(
        dir_client_otherca, VH_TLS_CREDS_ENDPOINT_CLIENT, true, NULL, true);
    g_autoptr(VhTlsCreds) server = tls_test_creds_x509(
        dir_server, VH_TLS_CREDS_ENDPOINT_SERVER, false, NULL, true);
    const char *needles[] = {"TLS peer certificate " SERVER_DN,
                             "is not signed by a trusted CA", NULL};

    expect_failure(client, "server.example.org", server, NULL, 0,
                   VH_ERROR_TLS_PEER, needles);
}

static void test_wrong_ca_verify_off(void)
{
    g_autoptr(VhTlsCreds) client = tls_test_creds_x509(
        dir_client_otherca, VH_TLS_CREDS_ENDPOINT_CLIENT, false, NULL, true);
    g_autoptr(VhTlsCreds) server = tls_test_creds_x509(
        dir_server, VH_TLS_CREDS_ENDPOINT_SERVER, false, NULL, true);
    Pair p;

    /* no checks at all, not even the hostname */
    pair_init(&p, client, "wrong.example.org", server, NULL);
    pair_handshake(&p);
    assert_ok(&p);
    g_assert_cmpstr(vh_tls_session_get_peer_name(p.sess[0]), ==, SERVER_DN);
    g_assert_cmpint(vh_tls_session_get_hostname_check(p.sess[0]), ==,
                    VH_TLS_HOSTNAME_NOT_CHECKED);
    pair_clear(&p);
}

/* The client (no cert) checks the server in @dir against @hostname. */
static void hostname_case(const char *dir, const char *hostname, bool ok)
{
    g_autoptr(VhTlsCreds) client = tls_test_creds_x509(
        dir_client_nocert, VH_TLS_CREDS_ENDPOINT_CLIENT, true, NULL, true);
    g_autoptr(VhTlsCreds) server = tls_test_creds_x509(
        dir, VH_TLS_CREDS_ENDPOINT_SERVER, false, NULL, true);

    if (ok) {
        Pair p;
        pair_init(&p, client, hostname, server, NULL);
        pair_handshake(&p);
        assert_ok(&p);
        g_assert_cmpint(vh_tls_session_get_hostname_check(p.sess[0]), ==,
                        VH_TLS_HOSTNAME_MATCH);
        pair_clear(&p);
    } else if (!hostname) {
        const char *needles[] = {"No hostname for certificate validation",
                                 NULL};
        expect_failure(client, NULL, server, NULL, 0, VH_ERROR_TLS_PEER,
                       needles);
    } else {
        const char *needles[] = {"does not match hostname", hostname, NULL};
        expect_failure(client, hostname, server, NULL, 0, VH_ERROR_TLS_PEER,
                       needles);
    }
}

static void test_hostname_dns_san(void)
{
    hostname_case(dir_server, "server.example.org", true);
    hostname_case(dir_server, "alias.example.org", true);
}

static void test_hostname_ip_san(void)
{
    hostname_case(dir_server, "127.0.0.1", true);
    hostname_case(dir_server, "::1", true);
    hostname_case(dir_server, "127.0.0.2", false);
}

static void test_hostname_cn_fallback(void)
{
    hostname_case(dir_server_cn, "cnonly.example.org", true);
    hostname_case(dir_server_cn, "other.example.org", false);
}

static void test_hostname_mismatch(void)
{
    hostname_case(dir_server, "evil.example.org", false);
    /* the CN is not consulted when there are SANs */
    hostname_case(dir_server, "server.example.org.evil", false);
}

static void test_hostname_missing(void)
{
    hostname_case(dir_server, NULL, false);
}

static void register_authz(const char *id)
{
    g_autoptr(VhAuthzList) authz = vh_authz_list_new(VH_AUTHZ_LIST_POLICY_DENY);
    g_autoptr(GError) err = NULL;

    vh_authz_list_append_rule(authz, "*CN=evil*", VH_AUTHZ_LIST_POLICY_DENY,
                              VH_AUTHZ_LIST_FORMAT_GLOB);
    vh_authz_list_append_rule(authz, "C=UK,O=vmhost test,CN=client*",
                              VH_AUTHZ_LIST_POLICY_ALLOW,
                              VH_AUTHZ_LIST_FORMAT_GLOB);
    vh_authz_list_append_rule(authz, "C=UK,O=vmhost test,CN=evil",
                              VH_AUTHZ_LIST_POLICY_ALLOW,
                              VH_AUTHZ_LIST_FORMAT_EXACT);
    g_assert_true(vh_object_add(id, G_OBJECT(authz), &err));
    g_assert_no_error(err);
}

static void test_authz_allow(void)
{
    g_autoptr(VhTlsCreds) client = tls_test_creds_x509(
        dir_client, VH_TLS_CREDS_ENDPOINT_CLIENT, true, NULL, true);
    g_autoptr(VhTlsCreds) server = tls_test_creds_x509(
        dir_server, VH_TLS_CREDS_ENDPOINT_SERVER, true, NULL, true);
    g_autoptr(GError) err = NULL;
    Pair p;

    register_authz("authz-allow");
    pair_init(&p, client, "server.example.org", server, "authz-allow");
    pair_handshake(&p);
    assert_ok(&p);
    g_assert_cmpstr(vh_tls_session_get_peer_name(p.sess[1]), ==, CLIENT_DN);
    pair_clear(&p);
    g_assert_true(vh_object_del("authz-allow", &err));
}

static void test_authz_deny(void)
{
    g_autoptr(VhTlsCreds) client = tls_test_creds_x509(
        dir_client_evil, VH_TLS_CREDS_ENDPOINT_CLIENT, true, NULL, true);
    g_autoptr(VhTlsCreds) server = tls_test_creds_x509(
        dir_server, VH_TLS_CREDS_ENDPOINT_SERVER, true, NULL, true);
    g_autoptr(GError) err = NULL;
    const char *needles[] = {"authz-deny", EVIL_DN, NULL};

    register_authz("authz-deny");
    /* the first matching rule (deny *CN=evil*) wins over the exact allow */
    expect_failure(client, "server.example.org", server, "authz-deny", 1,
                   VH_ERROR_AUTHZ_DENIED, needles);
    g_assert_true(vh_object_del("authz-deny", &err));
}

/* authz-list-file consulted at each handshake: an edit takes effect. */
static void test_authz_list_file(void)
{
    g_autoptr(VhTlsCreds) client = tls_test_creds_x509(
        dir_client, VH_TLS_CREDS_ENDPOINT_CLIENT, true, NULL, true);
    g_autoptr(VhTlsCreds) server = tls_test_creds_x509(
        dir_server, VH_TLS_CREDS_ENDPOINT_SERVER, true, NULL, true);
    g_autofree char *path = g_build_filename(pki->root, "authz.json", NULL);
    g_autoptr(VhAuthzListFile) authz = NULL;
    g_autoptr(GError) err = NULL;
    const char *denied[] = {CLIENT_DN, "authz-file", NULL};
    const char *broken[] = {CLIENT_DN, "authz.json", NULL};
    Pair p;

    g_assert_true(g_file_set_contents(
        path,
        "{\"policy\": \"deny\", \"rules\": [{\"match\": "
        "\"C=UK,O=vmhost test,CN=client*\", \"policy\": \"allow\", "
        "\"format\": \"glob\"}]}",
        -1, &err));
    authz = vh_authz_list_file_new(path, true, &err);
    g_assert_no_error(err);
    g_assert_true(vh_object_add("authz-file", G_OBJECT(authz), &err));

    pair_init(&p, client, "server.example.org", server, "authz-file");
    pair_handshake(&p);
    assert_ok(&p);
    pair_clear(&p);

    g_assert_true(
        g_file_set_contents(path, "{\"policy\": \"deny\"}", -1, &err));
    expect_failure(client, "server.example.org", server, "authz-file", 1,
                   VH_ERROR_AUTHZ_DENIED, denied);
    g_assert_true(g_file_set_contents(path, "{\"policy\": ", -1, &err));
    expect_failure(client, "server.example.org", server, "authz-file", 1,
                   VH_ERROR_AUTHZ_DENIED, broken);
    g_assert_true(vh_object_del("authz-file", &err));
}

static void test_authz_missing(void)
{
    g_autoptr(VhTlsCreds) client = tls_test_creds_x509(
        dir_client, VH_TLS_CREDS_ENDPOINT_CLIENT, true, NULL, true);
    g_autoptr(VhTlsCreds) server = tls_test_creds_x509(
        dir_server, VH_TLS_CREDS_ENDPOINT_SERVER, true, NULL, true);
    const char *needles[] = {"no-such-authz", CLIENT_DN, NULL};

    expect_failure(client, "server.example.org", server, "no-such-authz", 1,
                   VH_ERROR_AUTHZ_DENIED, needles);
}

static void test_authz_verify_off(void)
{
    g_autoptr(VhTlsCreds) client = tls_test_creds_x509(
        dir_client_evil, VH_TLS_CREDS_ENDPOINT_CLIENT, true, NULL, true);
    g_autoptr(VhTlsCreds) server = tls_test_creds_x509(
        dir_server, VH_TLS_CREDS_ENDPOINT_SERVER, false, NULL, true);
    Pair p;

    /* verify-peer=off: no authz either */
    pair_init(&p, client, "server.example.org", server, "no-such-authz");
    pair_handshake(&p);
    assert_ok(&p);
    pair_clear(&p);
}

static void test_client_no_cert(bool verify, const char *priority)
{
    g_autoptr(VhTlsCreds) client = tls_test_creds_x509(
        dir_client_nocert, VH_TLS_CREDS_ENDPOINT_CLIENT, true, priority, true);
    g_autoptr(VhTlsCreds) server = tls_test_creds_x509(
        dir_server, VH_TLS_CREDS_ENDPOINT_SERVER, verify, priority, true);
    Pair p;

    pair_init(&p, client, "server.example.org", server, NULL);
    pair_handshake(&p);
    if (verify) {
        g_assert_cmpint(p.st[1], ==, VH_TLS_HANDSHAKE_FAILED);
        g_assert_nonnull(p.err[1]);
        g_assert_true(p.err[1]->domain == VH_ERROR);
        g_assert_true(p.err[1]->code == VH_ERROR_TLS_HANDSHAKE ||
                      p.err[1]->code == VH_ERROR_TLS_PEER);
        g_assert_nonnull(strstr(p.err[1]->message, "ertificate"));
        if (p.st[0] == VH_TLS_HANDSHAKE_FAILED) {
            /* the server told the client why, with an alert */
            g_assert_error(p.err[0], VH_ERROR, VH_ERROR_TLS_HANDSHAKE);
            g_assert_nonnull(strstr(p.err[0]->message, "alert"));
        }
    } else {
        assert_ok(&p);
        g_assert_null(vh_tls_session_get_peer_name(p.sess[1]));
    }
    pair_clear(&p);
}

static void test_client_no_cert_refused_tls12(void)
{
    test_client_no_cert(true, TLS_TEST_PRIORITY_TLS12);
}

static void test_client_no_cert_refused_tls13(void)
{
    test_client_no_cert(true, TLS_TEST_PRIORITY_TLS13);
}

static void test_client_no_cert_accepted(void)
{
    test_client_no_cert(false, NULL);
}

static void test_expired_server(void)
{
    g_autoptr(VhTlsCreds) client = tls_test_creds_x509(
        dir_client_nocert, VH_TLS_CREDS_ENDPOINT_CLIENT, true, NULL, true);
    /* the expired side loads its cert with sanity-check=off */
    g_autoptr(VhTlsCreds) server = tls_test_creds_x509(
        dir_server_expired, VH_TLS_CREDS_ENDPOINT_SERVER, false, NULL, false);
    const char *needles[] = {"CN=expired.example.org", "expired", NULL};

    expect_failure(client, "expired.example.org", server, NULL, 0,
                   VH_ERROR_TLS_PEER, needles);
}

static void test_notyet_client(void)
{
    g_autoptr(VhTlsCreds) client = tls_test_creds_x509(
        dir_client_notyet, VH_TLS_CREDS_ENDPOINT_CLIENT, true, NULL, false);
    g_autoptr(VhTlsCreds) server = tls_test_creds_x509(
        dir_server, VH_TLS_CREDS_ENDPOINT_SERVER, true, NULL, true);
    const char *needles[] = {"CN=notyet", "not yet active", NULL};

    expect_failure(client, "server.example.org", server, NULL, 1,
                   VH_ERROR_TLS_PEER, needles);
}

static void test_endpoint_mismatch(void)
{
    g_autoptr(VhTlsCreds) client = tls_test_creds_x509(
        dir_client, VH_TLS_CREDS_ENDPOINT_CLIENT, true, NULL, true);
    g_autoptr(GError) err = NULL;
    g_autoptr(VhTlsSession) sess = vh_tls_session_new(
        client, NULL, NULL, VH_TLS_CREDS_ENDPOINT_SERVER, &err);

    g_assert_null(sess);
    g_assert_nonnull(err);
    g_assert_nonnull(
        strstr(err->message, "Expected TLS credentials for a server endpoint"));
}

static void test_eof(bool clean)
{
    g_autoptr(VhTlsCreds) client = tls_test_creds_x509(
        dir_client, VH_TLS_CREDS_ENDPOINT_CLIENT, true, NULL, true);
    g_autoptr(VhTlsCreds) server = tls_test_creds_x509(
        dir_server, VH_TLS_CREDS_ENDPOINT_SERVER, true, NULL, true);
    g_autoptr(GError) err = NULL;
    char buf[16];
    gssize n;
    Pair p;

    pair_init(&p, client, "server.example.org", server, NULL);
    pair_handshake(&p);
    assert_ok(&p);
    pair_transfer(&p, 0, 10);
    if (clean) {
        g_assert_cmpint(vh_tls_session_bye(p.sess[0], &err), ==, 0);
        g_assert_no_error(err);
        /* twice is harmless */
        g_assert_cmpint(vh_tls_session_bye(p.sess[0], &err), ==, 0);
    }
    shutdown(p.fd[0], SHUT_WR);
    do {
        wait_readable(p.fd[1]);
        n = vh_tls_session_read(p.sess[1], buf, sizeof(buf), &err);
    } while (n == VH_TLS_SESSION_ERR_BLOCK);
    if (clean) {
        g_assert_no_error(err);
        g_assert_cmpint(n, ==, 0);
    } else {
        g_assert_cmpint(n, ==, -1);
        g_assert_error(err, VH_ERROR, VH_ERROR_TLS_PREMATURE_EOF);
    }
    pair_clear(&p);
}

static void test_eof_clean(void)
{
    test_eof(true);
}

static void test_eof_premature(void)
{
    test_eof(false);
}

static void test_io_before_handshake(void)
{
    g_autoptr(VhTlsCreds) client = tls_test_creds_x509(
        dir_client, VH_TLS_CREDS_ENDPOINT_CLIENT, true, NULL, true);
    g_autoptr(VhTlsCreds) server = tls_test_creds_x509(
        dir_server, VH_TLS_CREDS_ENDPOINT_SERVER, true, NULL, true);
    g_autoptr(GError) err = NULL;
    char buf[4];
    Pair p;

    pair_init(&p, client, "server.example.org", server, NULL);
    g_assert_cmpint(vh_tls_session_read(p.sess[0], buf, 4, &err), ==, -1);
    g_assert_error(err, VH_ERROR, VH_ERROR_FAILED);
    g_clear_error(&err);
    g_assert_cmpint(vh_tls_session_write(p.sess[0], "x", 1, &err), ==, -1);
    g_assert_error(err, VH_ERROR, VH_ERROR_FAILED);
    pair_clear(&p);
}

/* Writes on a full socket: would-block, then the same data completes. */
static void test_write_would_block(void)
{
    g_autoptr(VhTlsCreds) client = tls_test_creds_x509(
        dir_client, VH_TLS_CREDS_ENDPOINT_CLIENT, true, NULL, true);
    g_autoptr(VhTlsCreds) server = tls_test_creds_x509(
        dir_server, VH_TLS_CREDS_ENDPOINT_SERVER, true, NULL, true);
    size_t len = 8 << 20, sent = 0, got = 0;
    g_autofree char *out = g_malloc(len);
    g_autofree char *in = g_malloc(len);
    bool blocked = false;
    struct iovec iov[3];
    Pair p;

    for (size_t i = 0; i < len; i++) {
        out[i] = (char)(i % 251);
    }
    pair_init(&p, client, "server.example.org", server, NULL);
    pair_handshake(&p);
    assert_ok(&p);
    while (got < len) {
        g_autoptr(GError) err = NULL;
        gssize n;
        /* three uneven pieces: gathers small ones, sends big ones whole */
        size_t left = len - sent;
        size_t a = MIN(left, 100), b = MIN(left - a, 70000);
        iov[0] = (struct iovec){out + sent, a};
        iov[1] = (struct iovec){out + sent + a, b};
        iov[2] = (struct iovec){out + sent + a + b, left - a - b};
        if (sent < len) {
            n = vh_tls_session_writev(p.sess[0], iov, 3, &err);
            g_assert_no_error(err);
            if (n == VH_TLS_SESSION_ERR_BLOCK) {
                blocked = true;
            } else {
                sent += n;
            }
        }
        if (blocked || sent == len) {
            n = vh_tls_session_read(p.sess[1], in + got, len - got, &err);
            g_assert_no_error(err);
            if (n > 0) {
                got += n;
            }
        }
    }
    g_assert_true(blocked);
    g_assert_cmpmem(in, len, out, len);
    pair_clear(&p);
}

static void test_anon(void)
{
    g_autoptr(VhTlsCreds) client =
        tls_test_creds_anon(VH_TLS_CREDS_ENDPOINT_CLIENT, NULL);
    g_autoptr(VhTlsCreds) server =
        tls_test_creds_anon(VH_TLS_CREDS_ENDPOINT_SERVER, NULL);
    Pair p;

    pair_init(&p, client, NULL, server, "no-such-authz");
    pair_handshake(&p);
    assert_ok(&p);
    g_assert_null(vh_tls_session_get_peer_name(p.sess[0]));
    g_assert_null(vh_tls_session_get_peer_name(p.sess[1]));
    g_assert_cmpint(vh_tls_session_get_hostname_check(p.sess[0]), ==,
                    VH_TLS_HOSTNAME_NOT_CHECKED);
    pair_transfer(&p, 0, 50000);
    pair_clear(&p);
}

#define PSK_KEY_A                                                              \
    "9f2c0d7e6b5a4938271605f4e3d2c1b0a9f8e7d6c5b4a3928170f6e5d4c3b2a1"
#define PSK_KEY_B                                                              \
    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

static void test_psk(const char *priority)
{
    g_autofree char *sdir = g_build_filename(pki->root, "psk-server", NULL);
    g_autofree char *cdir = g_build_filename(pki->root, "psk-client", NULL);
    g_autoptr(VhTlsCreds) server =
        tls_test_creds_psk(sdir, "qemu:" PSK_KEY_A "\nalice:" PSK_KEY_B "\n",
                           VH_TLS_CREDS_ENDPOINT_SERVER, NULL, priority);
    g_autoptr(VhTlsCreds) client =
        tls_test_creds_psk(cdir, "alice:" PSK_KEY_B "\n",
                           VH_TLS_CREDS_ENDPOINT_CLIENT, "alice", priority);
    g_autoptr(VhAuthzList) authz = vh_authz_list_new(VH_AUTHZ_LIST_POLICY_DENY);
    g_autoptr(GError) err = NULL;
    Pair p;

    vh_authz_list_append_rule(authz, "alice", VH_AUTHZ_LIST_POLICY_ALLOW,
                              VH_AUTHZ_LIST_FORMAT_EXACT);
    g_assert_true(vh_object_add("authz-psk", G_OBJECT(authz), &err));
    pair_init(&p, client, NULL, server, "authz-psk");
    pair_handshake(&p);
    assert_ok(&p);
    g_assert_cmpstr(vh_tls_session_get_peer_name(p.sess[1]), ==, "alice");
    pair_transfer(&p, 1, 40000);
    pair_clear(&p);
    g_assert_true(vh_object_del("authz-psk", &err));
}

static void test_psk_tls12(void)
{
    test_psk(TLS_TEST_PRIORITY_TLS12);
}

static void test_psk_tls13(void)
{
    test_psk(TLS_TEST_PRIORITY_TLS13);
}

static void test_psk_mismatch(void)
{
    g_autofree char *sdir = g_build_filename(pki->root, "psk-server2", NULL);
    g_autofree char *cdir = g_build_filename(pki->root, "psk-client2", NULL);
    g_autoptr(VhTlsCreds) server = tls_test_creds_psk(
        sdir, "qemu:" PSK_KEY_A "\n", VH_TLS_CREDS_ENDPOINT_SERVER, NULL, NULL);
    g_autoptr(VhTlsCreds) client = tls_test_creds_psk(
        cdir, "qemu:" PSK_KEY_B "\n", VH_TLS_CREDS_ENDPOINT_CLIENT, NULL, NULL);
    Pair p;

    pair_init(&p, client, NULL, server, NULL);
    pair_handshake(&p);
    /* different keys: at least one side fails, neither completes both */
    g_assert_true(p.st[0] == VH_TLS_HANDSHAKE_FAILED ||
                  p.st[1] == VH_TLS_HANDSHAKE_FAILED);
    for (int i = 0; i < 2; i++) {
        if (p.err[i]) {
            g_assert_error(p.err[i], VH_ERROR, VH_ERROR_TLS_HANDSHAKE);
        }
    }
    pair_clear(&p);
}

static void make_pki(void)
{
    const char *dns[] = {"server.example.org", "alias.example.org", NULL};
    const char *ips[] = {"127.0.0.1", "::1", NULL};
    const char *exp_dns[] = {"expired.example.org", NULL};
    time_t now = time(NULL);

    pki = tls_test_pki_new("Test CA");
    other_pki = tls_test_pki_new("Other CA");
    dir_server = tls_test_pki_dir(pki, "server");
    tls_test_pki_issue_server(pki, dir_server, SERVER_DN, dns, ips, 0, 0);
    dir_server_cn = tls_test_pki_dir(pki, "server-cn");
    tls_test_pki_issue_server(pki, dir_server_cn,
                              "C=UK,O=vmhost test,CN=cnonly.example.org", NULL,
                              NULL, 0, 0);
    dir_server_expired = tls_test_pki_dir(pki, "server-expired");
    tls_test_pki_issue_server(pki, dir_server_expired,
                              "C=UK,O=vmhost test,CN=expired.example.org",
                              exp_dns, NULL, now - 10 * 86400, now - 86400);
    dir_client = tls_test_pki_dir(pki, "client");
    tls_test_pki_issue_client(pki, dir_client, CLIENT_DN, 0, 0);
    dir_client_evil = tls_test_pki_dir(pki, "client-evil");
    tls_test_pki_issue_client(pki, dir_client_evil, EVIL_DN, 0, 0);
    dir_client_notyet = tls_test_pki_dir(pki, "client-notyet");
    tls_test_pki_issue_client(pki, dir_client_notyet,
                              "C=UK,O=vmhost test,CN=notyet", now + 86400,
                              now + 10 * 86400);
    dir_client_nocert = tls_test_pki_dir(pki, "client-nocert");
    dir_client_otherca = tls_test_pki_dir(other_pki, "client-otherca");
}

static void free_pki(void)
{
    tls_test_pki_free(pki);
    tls_test_pki_free(other_pki);
    g_free(dir_server);
    g_free(dir_server_cn);
    g_free(dir_server_expired);
    g_free(dir_client);
    g_free(dir_client_evil);
    g_free(dir_client_notyet);
    g_free(dir_client_nocert);
    g_free(dir_client_otherca);
}

int main(int argc, char **argv)
{
    int ret;

    g_test_init(&argc, &argv, NULL);
    make_pki();
    g_test_add_func("/crypto/tls/session/x509/tls1.2", test_x509_tls12);
    g_test_add_func("/crypto/tls/session/x509/tls1.3", test_x509_tls13);
    g_test_add_func("/crypto/tls/session/wrong-ca", test_wrong_ca);
    g_test_add_func("/crypto/tls/session/wrong-ca-verify-off",
                    test_wrong_ca_verify_off);
    g_test_add_func("/crypto/tls/session/hostname/dns-san",
                    test_hostname_dns_san);
    g_test_add_func("/crypto/tls/session/hostname/ip-san",
                    test_hostname_ip_san);
    g_test_add_func("/crypto/tls/session/hostname/cn-fallback",
                    test_hostname_cn_fallback);
    g_test_add_func("/crypto/tls/session/hostname/mismatch",
                    test_hostname_mismatch);
    g_test_add_func("/crypto/tls/session/hostname/missing",
                    test_hostname_missing);
    g_test_add_func("/crypto/tls/session/authz/allow", test_authz_allow);
    g_test_add_func("/crypto/tls/session/authz/deny", test_authz_deny);
    g_test_add_func("/crypto/tls/session/authz/missing", test_authz_missing);
    g_test_add_func("/crypto/tls/session/authz/list-file",
                    test_authz_list_file);
    g_test_add_func("/crypto/tls/session/authz/verify-off",
                    test_authz_verify_off);
    g_test_add_func("/crypto/tls/session/client-no-cert/refused-tls1.2",
                    test_client_no_cert_refused_tls12);
    g_test_add_func("/crypto/tls/session/client-no-cert/refused-tls1.3",
                    test_client_no_cert_refused_tls13);
    g_test_add_func("/crypto/tls/session/client-no-cert/accepted",
                    test_client_no_cert_accepted);
    g_test_add_func("/crypto/tls/session/expired-server", test_expired_server);
    g_test_add_func("/crypto/tls/session/not-yet-active-client",
                    test_notyet_client);
    g_test_add_func("/crypto/tls/session/endpoint-mismatch",
                    test_endpoint_mismatch);
    g_test_add_func("/crypto/tls/session/eof/clean", test_eof_clean);
    g_test_add_func("/crypto/tls/session/eof/premature", test_eof_premature);
    g_test_add_func("/crypto/tls/session/io-before-handshake",
                    test_io_before_handshake);
    g_test_add_func("/crypto/tls/session/write-would-block",
                    test_write_would_block);
    g_test_add_func("/crypto/tls/session/anon", test_anon);
    g_test_add_func("/crypto/tls/session/psk/tls1.2", test_psk_tls12);
    g_test_add_func("/crypto/tls/session/psk/tls1.3", test_psk_tls13);
    g_test_add_func("/crypto/tls/session/psk/mismatch", test_psk_mismatch);
    ret = g_test_run();
    free_pki();
    return ret;
}
