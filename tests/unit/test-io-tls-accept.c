/*
 * VhTlsAccept, the accept path of every TLS listener: handshakes side by
 * side, the cap, the timeout, the one authz rule, and freeing with
 * handshakes in flight. Clients are TLS channels over socketpairs, driven
 * by the same GMainContext as the acceptor.
 */
#include "tls-testutil.h"
#include "vmhost/authz/authz-simple.h"
#include "vmhost/io/channel-socket.h"
#include "vmhost/io/tls-accept.h"
#include "vmhost/object/object.h"

#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define SERVER_DN "C=UK,O=vmhost test,CN=server.example.org"
#define CLIENT_DN "C=UK,O=vmhost test,CN=client1"

static TlsTestPki *pki;
static char *dir_server, *dir_client;

/* What the acceptor reported. */
typedef struct {
    guint calls;
    GPtrArray *accepted; /* VhChannelTls */
    GPtrArray *errors;   /* GError */
    char *last_peer;
} Seen;

static void on_tls(VhChannelTls *tls, const char *peer, const GError *err,
                   gpointer opaque)
{
    Seen *s = opaque;

    s->calls++;
    g_free(s->last_peer);
    s->last_peer = g_strdup(peer);
    if (tls) {
        g_assert_null(err);
        g_ptr_array_add(s->accepted, tls);
    } else {
        g_assert_nonnull(err);
        g_ptr_array_add(s->errors, g_error_copy(err));
    }
}

static void seen_init(Seen *s)
{
    memset(s, 0, sizeof(*s));
    s->accepted = g_ptr_array_new_with_free_func(g_object_unref);
    s->errors = g_ptr_array_new_with_free_func((GDestroyNotify)g_error_free);
}

static void seen_clear(Seen *s)
{
    g_ptr_array_unref(s->accepted);
    g_ptr_array_unref(s->errors);
    g_free(s->last_peer);
}

/* A connection: the server end for the acceptor, a client end for us. */
typedef struct {
    VhChannelSocket *server_end;
    VhChannelSocket *client_end;
    VhChannelTls *client; /* NULL for a client that never speaks */
    guint done;
    bool ok;
    GError *err;
} Conn;

static void client_done(GObject *src, GAsyncResult *res, gpointer opaque)
{
    Conn *c = opaque;

    c->done++;
    c->ok = vh_channel_tls_handshake_finish(VH_CHANNEL_TLS(src), res, &c->err);
}

/* With @creds, the client starts its handshake on the thread-default ctx. */
static void conn_open(Conn *c, VhTlsCreds *creds)
{
    g_autoptr(GError) err = NULL;

    memset(c, 0, sizeof(*c));
    g_assert_true(vh_channel_socket_pair(&c->server_end, &c->client_end, &err));
    g_assert_true(
        vh_channel_set_blocking(VH_CHANNEL(c->client_end), false, &err));
    g_assert_no_error(err);
    if (!creds) {
        return;
    }
    c->client = vh_channel_tls_new_client(VH_CHANNEL(c->client_end), creds,
                                          "server.example.org", &err);
    g_assert_no_error(err);
    vh_channel_tls_handshake(c->client, NULL, client_done, c);
}

static void conn_close(Conn *c)
{
    g_clear_object(&c->client);
    g_clear_object(&c->server_end);
    g_clear_object(&c->client_end);
    g_clear_error(&c->err);
}

static void spin_until(GMainContext *ctx, bool (*cond)(gpointer), gpointer p)
{
    gint64 deadline = g_get_monotonic_time() + 20 * G_USEC_PER_SEC;

    while (!cond(p)) {
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        g_main_context_iteration(ctx, TRUE);
    }
}

static bool seen_calls_1(gpointer p)
{
    return ((Seen *)p)->calls >= 1;
}

static bool seen_calls_3(gpointer p)
{
    return ((Seen *)p)->calls >= 3;
}

typedef struct {
    GMainContext *ctx;
    VhTlsAccept *a;
    Seen seen;
} Fixture;

static void fixture_open(Fixture *f, VhTlsCreds *creds, const char *authzid,
                         guint timeout_ms, guint max_pending)
{
    VhTlsAcceptOptions o = {
        .creds = creds,
        .authzid = authzid,
        .what = "test listener",
        .timeout_ms = timeout_ms,
        .max_pending = max_pending,
    };

    f->ctx = g_main_context_new();
    g_main_context_push_thread_default(f->ctx);
    seen_init(&f->seen);
    f->a = vh_tls_accept_new(&o, on_tls, &f->seen, NULL);
}

static void fixture_close(Fixture *f)
{
    g_clear_pointer(&f->a, vh_tls_accept_free);
    while (g_main_context_iteration(f->ctx, FALSE)) {
    }
    g_main_context_pop_thread_default(f->ctx);
    g_main_context_unref(f->ctx);
    seen_clear(&f->seen);
}

static void add_ok(Fixture *f, Conn *c, const char *peer)
{
    g_autoptr(GError) err = NULL;

    g_assert_true(
        vh_tls_accept_add(f->a, VH_CHANNEL(c->server_end), peer, &err));
    g_assert_no_error(err);
}

/* Three clients at once: each is delivered, with its name. */
static void test_accept(void)
{
    g_autoptr(VhTlsCreds) s =
        tls_test_creds_anon(VH_TLS_CREDS_ENDPOINT_SERVER, NULL);
    g_autoptr(VhTlsCreds) cl =
        tls_test_creds_anon(VH_TLS_CREDS_ENDPOINT_CLIENT, NULL);
    Fixture f;
    Conn c[3];

    fixture_open(&f, s, NULL, 10000, 0);
    for (guint i = 0; i < 3; i++) {
        g_autofree char *peer = g_strdup_printf("peer%u", i);

        conn_open(&c[i], cl);
        add_ok(&f, &c[i], peer);
    }
    g_assert_cmpuint(vh_tls_accept_get_pending(f.a), ==, 3);
    spin_until(f.ctx, seen_calls_3, &f.seen);
    g_assert_cmpuint(f.seen.accepted->len, ==, 3);
    g_assert_cmpuint(f.seen.errors->len, ==, 0);
    g_assert_cmpuint(vh_tls_accept_get_pending(f.a), ==, 0);
    for (guint i = 0; i < 3; i++) {
        VhChannel *tls = f.seen.accepted->pdata[i];

        g_assert_false(vh_channel_get_blocking(tls));
        g_assert_true(vh_tls_session_is_handshake_complete(
            vh_channel_tls_get_session(VH_CHANNEL_TLS(tls))));
        conn_close(&c[i]);
    }
    fixture_close(&f);
}

/* Beyond the cap a connection is refused at once, and closed. */
static void test_cap(void)
{
    g_autoptr(VhTlsCreds) s =
        tls_test_creds_anon(VH_TLS_CREDS_ENDPOINT_SERVER, NULL);
    g_autoptr(GError) err = NULL;
    Fixture f;
    Conn c[3];
    char b;

    fixture_open(&f, s, NULL, 0, 2);
    for (guint i = 0; i < 2; i++) {
        conn_open(&c[i], NULL); /* silent: they stay in their handshake */
        add_ok(&f, &c[i], "staller");
    }
    conn_open(&c[2], NULL);
    g_assert_false(vh_tls_accept_add(f.a, VH_CHANNEL(c[2].server_end),
                                     "one too many", &err));
    g_assert_error(err, VH_ERROR, VH_ERROR_TLS_HANDSHAKE);
    g_assert_cmpstr(err->message, ==,
                    "test listener: refused the connection from one too "
                    "many: 2 TLS handshakes are already in progress, the "
                    "limit");
    g_assert_true(vh_channel_is_closed(VH_CHANNEL(c[2].server_end)));
    g_assert_cmpuint(vh_tls_accept_get_pending(f.a), ==, 2);
    /* freeing cuts the two stallers; no callback for them */
    g_clear_pointer(&f.a, vh_tls_accept_free);
    while (g_main_context_iteration(f.ctx, FALSE)) {
    }
    g_assert_cmpuint(f.seen.calls, ==, 0);
    for (guint i = 0; i < 2; i++) {
        g_clear_error(&err);
        g_assert_cmpint(
            vh_channel_read(VH_CHANNEL(c[i].client_end), &b, 1, &err), ==, 0);
    }
    for (guint i = 0; i < 3; i++) {
        conn_close(&c[i]);
    }
    fixture_close(&f);
}

/* A client that never speaks is cut after the timeout, and told why. */
static void test_timeout(void)
{
    g_autoptr(VhTlsCreds) s =
        tls_test_creds_anon(VH_TLS_CREDS_ENDPOINT_SERVER, NULL);
    Fixture f;
    Conn c;

    fixture_open(&f, s, NULL, 100, 0);
    conn_open(&c, NULL);
    add_ok(&f, &c, "sleepy");
    spin_until(f.ctx, seen_calls_1, &f.seen);
    g_assert_cmpuint(f.seen.errors->len, ==, 1);
    GError *e = f.seen.errors->pdata[0];
    g_assert_error(e, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
    g_assert_cmpstr(e->message, ==,
                    "test listener: TLS handshake with sleepy timed out "
                    "after 100 ms");
    g_assert_cmpstr(f.seen.last_peer, ==, "sleepy");
    conn_close(&c);
    fixture_close(&f);
}

static void register_authz(const char *id, const char *identity)
{
    g_autoptr(VhAuthzSimple) a = vh_authz_simple_new(identity);
    g_autoptr(GError) err = NULL;

    g_assert_true(vh_object_add(id, G_OBJECT(a), &err));
}

static void unregister_authz(const char *id)
{
    g_autoptr(GError) err = NULL;

    g_assert_true(vh_object_del(id, &err));
}

/* x509, verify-peer on: authz judges the verified DN. */
static void test_authz_x509(void)
{
    g_autoptr(VhTlsCreds) s = tls_test_creds_x509(
        dir_server, VH_TLS_CREDS_ENDPOINT_SERVER, true, NULL, true);
    g_autoptr(VhTlsCreds) cl = tls_test_creds_x509(
        dir_client, VH_TLS_CREDS_ENDPOINT_CLIENT, true, NULL, true);
    const char *ids[] = {"acc-allow", "acc-deny"};

    register_authz("acc-allow", CLIENT_DN);
    register_authz("acc-deny", "CN=someone else");
    for (guint i = 0; i < 2; i++) {
        Fixture f;
        Conn c;

        fixture_open(&f, s, ids[i], 10000, 0);
        conn_open(&c, cl);
        add_ok(&f, &c, "x509 client");
        spin_until(f.ctx, seen_calls_1, &f.seen);
        if (i == 0) {
            g_assert_cmpuint(f.seen.accepted->len, ==, 1);
            g_assert_cmpstr(
                vh_channel_tls_get_peer_name(f.seen.accepted->pdata[0]), ==,
                CLIENT_DN);
        } else {
            GError *e = f.seen.errors->pdata[0];

            g_assert_error(e, VH_ERROR, VH_ERROR_AUTHZ_DENIED);
            g_assert_nonnull(strstr(e->message, CLIENT_DN));
            g_assert_nonnull(strstr(e->message, "acc-deny"));
        }
        conn_close(&c);
        fixture_close(&f);
    }
    unregister_authz("acc-allow");
    unregister_authz("acc-deny");
}

/*
 * The one rule: with authz set, a client without an authenticated identity
 * is denied. Anonymous credentials, and x509 ones with verify-peer=off,
 * authenticate nobody; the acceptor warns when it is made.
 */
static void test_authz_no_identity(void)
{
    g_autoptr(VhTlsCreds) anon_s =
        tls_test_creds_anon(VH_TLS_CREDS_ENDPOINT_SERVER, NULL);
    g_autoptr(VhTlsCreds) anon_c =
        tls_test_creds_anon(VH_TLS_CREDS_ENDPOINT_CLIENT, NULL);
    g_autoptr(VhTlsCreds) noverify_s = tls_test_creds_x509(
        dir_server, VH_TLS_CREDS_ENDPOINT_SERVER, false, NULL, true);
    g_autoptr(VhTlsCreds) x509_c = tls_test_creds_x509(
        dir_client, VH_TLS_CREDS_ENDPOINT_CLIENT, true, NULL, true);
    VhTlsCreds *servers[] = {anon_s, noverify_s};
    VhTlsCreds *clients[] = {anon_c, x509_c};
    const char *why[] = {"anonymous credentials",
                         "verify-peer=off, so no client certificate"};

    register_authz("acc-any", CLIENT_DN);
    for (guint i = 0; i < 2; i++) {
        Fixture f;
        Conn c;

        g_test_expect_message("vmhost-io", G_LOG_LEVEL_WARNING,
                              "test listener: tls-authz 'acc-any' will deny "
                              "every client: *");
        fixture_open(&f, servers[i], "acc-any", 10000, 0);
        g_test_assert_expected_messages();
        conn_open(&c, clients[i]);
        add_ok(&f, &c, "nobody");
        spin_until(f.ctx, seen_calls_1, &f.seen);
        g_assert_cmpuint(f.seen.accepted->len, ==, 0);
        GError *e = f.seen.errors->pdata[0];
        g_test_message("%s", e->message);
        g_assert_error(e, VH_ERROR, VH_ERROR_AUTHZ_DENIED);
        g_assert_nonnull(strstr(e->message, "tls-authz 'acc-any' refused a "
                                            "client without an identity"));
        g_assert_nonnull(strstr(e->message, why[i]));
        conn_close(&c);
        fixture_close(&f);
    }
    /* without authz both are let in */
    for (guint i = 0; i < 2; i++) {
        Fixture f;
        Conn c;

        fixture_open(&f, servers[i], NULL, 10000, 0);
        conn_open(&c, clients[i]);
        add_ok(&f, &c, "anyone");
        spin_until(f.ctx, seen_calls_1, &f.seen);
        g_assert_cmpuint(f.seen.accepted->len, ==, 1);
        conn_close(&c);
        fixture_close(&f);
    }
    unregister_authz("acc-any");
}

int main(int argc, char **argv)
{
    const char *ips[] = {"127.0.0.1", NULL};
    const char *dns[] = {"server.example.org", NULL};
    int rc;

    g_test_init(&argc, &argv, NULL);
    pki = tls_test_pki_new("vmhost tls-accept CA");
    dir_server = tls_test_pki_dir(pki, "server");
    dir_client = tls_test_pki_dir(pki, "client");
    tls_test_pki_issue_server(pki, dir_server, SERVER_DN, dns, ips, 0, 0);
    tls_test_pki_issue_client(pki, dir_client, CLIENT_DN, 0, 0);
    g_test_add_func("/io/tls-accept/accept", test_accept);
    g_test_add_func("/io/tls-accept/cap", test_cap);
    g_test_add_func("/io/tls-accept/timeout", test_timeout);
    g_test_add_func("/io/tls-accept/authz-x509", test_authz_x509);
    g_test_add_func("/io/tls-accept/authz-no-identity", test_authz_no_identity);
    rc = g_test_run();
    g_free(dir_server);
    g_free(dir_client);
    tls_test_pki_free(pki);
    return rc;
}
