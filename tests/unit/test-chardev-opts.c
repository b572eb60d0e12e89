/*
 * -chardev option strings (every key, the legacy spellings, every error)
 * and the chardev registry.
 */
#include "chardev-testutil.h"
#include "vmhost/chardev/char-file.h"
#include "vmhost/chardev/char-null.h"
#include "vmhost/chardev/char-ringbuf.h"
#include "vmhost/chardev/char-socket.h"
#include "vmhost/chardev/chardev-opts.h"

#include <glib/gstdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static char *tmpdir(void)
{
    g_autoptr(GError) err = NULL;
    char *dir = g_dir_make_tmp("vh-chardev-opts-XXXXXX", &err);

    g_assert_no_error(err);
    return dir;
}

static void drain(void)
{
    while (g_main_context_iteration(NULL, FALSE)) {
    }
}

/* ---- socket ---- */

static void test_socket_tcp_server(void)
{
    g_autoptr(VhChardev) a = vh_test_chardev_new_ok(
        "socket,id=s0,host=127.0.0.1,port=0,server=on,wait=off,"
        "nodelay=on,telnet=on,ipv4=on");
    g_autoptr(VhChardev) b = vh_test_chardev_new_ok(
        "socket,id=s1,host=127.0.0.1,port=0,server,nowait");
    g_autoptr(VhChardev) c =
        vh_test_chardev_new_ok("socket,id=s2,host=127.0.0.1,port=0,"
                               "server=on");
    g_autofree char *desc = vh_chardev_describe(a);

    g_assert_true(VH_IS_CHARDEV_SOCKET(a));
    g_assert_cmpstr(vh_chardev_get_id(a), ==, "s0");
    g_assert_false(vh_chardev_socket_get_wait(VH_CHARDEV_SOCKET(a)));
    g_assert_true(g_str_has_prefix(desc, "disconnected:tcp:127.0.0.1:"));
    g_assert_true(g_str_has_suffix(desc, ",server=on"));
    /* legacy bare server / nowait */
    g_assert_false(vh_chardev_socket_get_wait(VH_CHARDEV_SOCKET(b)));
    g_assert_cmpuint(vh_chardev_socket_get_port(VH_CHARDEV_SOCKET(b)), >, 0);
    /* a server waits by default */
    g_assert_true(vh_chardev_socket_get_wait(VH_CHARDEV_SOCKET(c)));
}

static void test_socket_tcp_client(void)
{
    g_autoptr(VhChardev) srv = vh_test_chardev_new_ok(
        "socket,id=srv,host=127.0.0.1,port=0,server=on,wait=off");
    guint16 port = vh_chardev_socket_get_port(VH_CHARDEV_SOCKET(srv));
    g_autofree char *spec = g_strdup_printf(
        "socket,id=cli,host=127.0.0.1,port=%u,delay=off,ipv4", port);
    g_autoptr(VhChardev) cli = vh_test_chardev_new_ok(spec);

    g_assert_false(vh_chardev_socket_get_wait(VH_CHARDEV_SOCKET(cli)));
    while (!vh_chardev_is_connected(srv) || !vh_chardev_is_connected(cli)) {
        g_main_context_iteration(NULL, TRUE);
    }
}

static void test_socket_reconnect(void)
{
    /* nothing listens on the port: with a retry delay creation succeeds */
    g_autoptr(VhChardev) srv = vh_test_chardev_new_ok(
        "socket,id=srv,host=127.0.0.1,port=0,server=on,wait=off");
    guint16 port = vh_chardev_socket_get_port(VH_CHARDEV_SOCKET(srv));
    g_autofree char *legacy = NULL, *ms = NULL, *none = NULL, *both = NULL;
    g_autoptr(VhChardev) a = NULL, b = NULL;

    g_clear_object(&srv); /* frees the port */
    legacy = g_strdup_printf("socket,id=c1,host=127.0.0.1,port=%u,"
                             "reconnect=1",
                             port);
    ms = g_strdup_printf("socket,id=c2,host=127.0.0.1,port=%u,"
                         "reconnect-ms=500",
                         port);
    none = g_strdup_printf("socket,id=c3,host=127.0.0.1,port=%u", port);
    both = g_strdup_printf("socket,id=c4,host=127.0.0.1,port=%u,"
                           "reconnect=1,reconnect-ms=5",
                           port);
    g_test_expect_message("vmhost-chardev", G_LOG_LEVEL_WARNING,
                          "*connecting to*");
    g_test_expect_message("vmhost-chardev", G_LOG_LEVEL_WARNING,
                          "*connecting to*");
    a = vh_test_chardev_new_ok(legacy);
    b = vh_test_chardev_new_ok(ms);
    g_assert_false(vh_chardev_is_connected(a));
    vh_test_chardev_expect_error(none, "chardev c3: ");
    vh_test_chardev_expect_error(
        both, "chardev c4: 'reconnect' and 'reconnect-ms' are the "
              "same setting");
    vh_test_chardev_expect_error(
        "socket,id=c5,host=h,port=1,reconnect=x",
        "chardev c5: -chardev: parameter 'reconnect' expects a "
        "number");
    vh_test_chardev_expect_error("socket,id=c6,host=h,port=1,reconnect-ms=-1",
                                 "parameter 'reconnect-ms' expects a number");
    /* both clients fail their first try (the warnings above) */
    while (!vh_chardev_get_last_error(a, NULL) ||
           !vh_chardev_get_last_error(b, NULL)) {
        g_main_context_iteration(NULL, TRUE);
    }
    g_test_assert_expected_messages();
    vh_chardev_close(a);
    vh_chardev_close(b);
    drain();
}

static void test_socket_unix(void)
{
    g_autofree char *dir = tmpdir();
    g_autofree char *path = g_build_filename(dir, "sock", NULL);
    g_autofree char *srv_spec =
        g_strdup_printf("socket,id=u0,path=%s,server=on,wait=off", path);
    g_autofree char *cli_spec = g_strdup_printf("socket,id=u1,path=%s", path);
    g_autoptr(VhChardev) srv = vh_test_chardev_new_ok(srv_spec);
    g_autoptr(VhChardev) cli = vh_test_chardev_new_ok(cli_spec);
    g_autofree char *desc = vh_chardev_describe(cli);

    g_assert_true(g_str_has_prefix(desc, "unix:"));
    vh_chardev_close(cli);
    vh_chardev_close(srv);
    g_unlink(path);
    g_rmdir(dir);
}

static void test_socket_abstract(void)
{
    g_autofree char *name = g_strdup_printf("vh-test-opts-%d", (int)getpid());
    g_autofree char *spec = g_strdup_printf(
        "socket,id=a0,path=%s,abstract=on,server=on,wait=off", name);
    g_autoptr(VhChardev) chr = vh_test_chardev_new_ok(spec);
    g_autofree char *desc = vh_chardev_describe(chr);

    g_assert_true(g_str_has_prefix(desc, "disconnected:abstract:"));
}

static void test_socket_fd(void)
{
    int sv[2];
    g_autofree char *spec = NULL;
    g_autoptr(VhChardev) chr = NULL;

    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
    spec = g_strdup_printf("socket,id=f0,fd=%d", sv[0]);
    chr = vh_test_chardev_new_ok(spec);
    g_assert_true(vh_chardev_is_connected(chr));
    vh_chardev_close(chr);
    close(sv[1]);
    vh_test_chardev_expect_error("socket,id=f1,fd=-3",
                                 "chardev f1: -chardev: parameter 'fd' "
                                 "expects a number from 0");
}

static void test_socket_errors(void)
{
    vh_test_chardev_expect_error(
        "socket,id=s0,host=127.0.0.1,port=0,server=maybe",
        "chardev s0: -chardev: parameter 'server' expects 'on' or "
        "'off', got 'maybe'");
    vh_test_chardev_expect_error(
        "socket,id=s0,host=127.0.0.1,port=1,wait=on",
        "chardev s0: 'wait' option is incompatible with socket in "
        "client connect mode");
    vh_test_chardev_expect_error(
        "socket,id=s0,host=127.0.0.1,port=0,server,tls-authz=a",
        "chardev s0: 'tls-authz' option requires 'tls-creds'");
    vh_test_chardev_expect_error(
        "socket,id=s0,host=127.0.0.1,port=0,server,tls-creds=nope",
        "chardev s0: no object with id 'nope'");
    vh_test_chardev_expect_error("socket,id=s0,port=99999,server",
                                 "chardev s0: port '99999'");
    vh_test_chardev_expect_error("socket,id=s0",
                                 "chardev s0: socket needs exactly one of");
    vh_test_chardev_expect_error("socket,id=s0,host=h,port=1,foo=bar",
                                 "-chardev socket: invalid parameter 'foo'");
    vh_test_chardev_expect_error("socket,id=s0,host=h,port=1,nodelay=2",
                                 "parameter 'nodelay' expects 'on' or 'off'");
    vh_test_chardev_expect_error("socket,id=s0,host=h,port=1,telnet=2",
                                 "parameter 'telnet' expects");
    vh_test_chardev_expect_error("socket,id=s0,host=h,port=1,ipv4=2",
                                 "parameter 'ipv4' expects");
    vh_test_chardev_expect_error("socket,id=s0,host=h,port=1,ipv6=2",
                                 "parameter 'ipv6' expects");
    vh_test_chardev_expect_error("socket,id=s0,host=h,port=1,abstract=2",
                                 "parameter 'abstract' expects");
    vh_test_chardev_expect_error("socket,id=s0,host=h,port=1,delay=2",
                                 "parameter 'delay' expects");
    vh_test_chardev_expect_error(
        "socket,id=s0,host=h,port=1,logappend=2",
        "chardev s0: -chardev: parameter 'logappend' expects");
}

static void test_socket_logfile(void)
{
    g_autofree char *dir = tmpdir();
    g_autofree char *log = g_build_filename(dir, "log", NULL);
    g_autofree char *spec =
        g_strdup_printf("socket,id=s0,host=127.0.0.1,port=0,server,nowait,"
                        "logfile=%s,logappend=on",
                        log);
    g_autoptr(VhChardev) chr = NULL;
    g_autofree char *got = NULL;

    g_assert_true(g_file_set_contents(log, "old\n", -1, NULL));
    chr = vh_test_chardev_new_ok(spec);
    g_assert_cmpint(vh_chardev_write(chr, "new\n", 4, NULL), ==, 4);
    g_assert_true(g_file_get_contents(log, &got, NULL, NULL));
    g_assert_cmpstr(got, ==, "old\nnew\n");
    vh_chardev_close(chr);
    g_unlink(log);
    g_rmdir(dir);
}

/* ---- null, file, ringbuf ---- */

static void test_null(void)
{
    g_autoptr(VhChardev) chr = vh_test_chardev_new_ok("null,id=n0");

    g_assert_true(VH_IS_CHARDEV_NULL(chr));
    vh_test_chardev_expect_error("null,id=n0,path=x",
                                 "-chardev null: invalid parameter "
                                 "'path'");
}

static void test_file(void)
{
    g_autofree char *dir = tmpdir();
    g_autofree char *path = g_build_filename(dir, "out", NULL);
    g_autofree char *trunc = g_strdup_printf("file,id=f0,path=%s", path);
    g_autofree char *app =
        g_strdup_printf("file,id=f1,path=%s,append=on", path);
    g_autofree char *got = NULL;
    g_autoptr(VhChardev) a = NULL, b = NULL;

    g_assert_true(g_file_set_contents(path, "old\n", -1, NULL));
    a = vh_test_chardev_new_ok(trunc);
    g_assert_true(VH_IS_CHARDEV_FILE(a));
    g_assert_cmpint(vh_chardev_write(a, "one\n", 4, NULL), ==, 4);
    g_clear_object(&a);
    b = vh_test_chardev_new_ok(app);
    g_assert_cmpint(vh_chardev_write(b, "two\n", 4, NULL), ==, 4);
    g_clear_object(&b);
    g_assert_true(g_file_get_contents(path, &got, NULL, NULL));
    g_assert_cmpstr(got, ==, "one\ntwo\n");

    vh_test_chardev_expect_error("file,id=f2",
                                 "-chardev file,id=f2: parameter 'path' is "
                                 "required");
    vh_test_chardev_expect_error("file,id=f3,path=/nonexistent-dir/x",
                                 "chardev f3: ");
    vh_test_chardev_expect_error(
        "file,id=f4,path=x,append=2",
        "chardev f4: -chardev: parameter 'append' expects");
    vh_test_chardev_expect_error("file,id=f5,path=x,size=1",
                                 "-chardev file: invalid parameter 'size'");
    g_unlink(path);
    g_rmdir(dir);
}

static void test_ringbuf(void)
{
    g_autoptr(VhChardev) a = vh_test_chardev_new_ok("ringbuf,id=r0,size=4K");
    g_autoptr(VhChardev) b = vh_test_chardev_new_ok("ringbuf,id=r1");
    g_autoptr(VhChardev) c = vh_test_chardev_new_ok("memory,id=r2,size=128");

    g_assert_cmpuint(vh_chardev_ringbuf_size(VH_CHARDEV_RINGBUF(a)), ==, 4096);
    g_assert_cmpuint(vh_chardev_ringbuf_size(VH_CHARDEV_RINGBUF(b)), ==,
                     VH_CHARDEV_RINGBUF_DEFAULT_SIZE);
    g_assert_cmpuint(vh_chardev_ringbuf_size(VH_CHARDEV_RINGBUF(c)), ==, 128);
    vh_test_chardev_expect_error(
        "ringbuf,id=r3,size=1000",
        "chardev r3: ringbuf size 1000 must be a power of two");
    vh_test_chardev_expect_error("ringbuf,id=r4,size=0",
                                 "chardev r4: ringbuf size must not "
                                 "be 0");
    vh_test_chardev_expect_error("ringbuf,id=r5,size=lots",
                                 "chardev r5: -chardev: parameter "
                                 "'size'");
    vh_test_chardev_expect_error("ringbuf,id=r6,path=x",
                                 "-chardev ringbuf: invalid "
                                 "parameter 'path'");
}

static void test_logfile(void)
{
    g_autofree char *dir = tmpdir();
    g_autofree char *log = g_build_filename(dir, "log", NULL);
    const char *backends[] = {"null", "ringbuf"};

    for (size_t i = 0; i < G_N_ELEMENTS(backends); i++) {
        g_autofree char *spec = g_strdup_printf(
            "%s,id=l%zu,logfile=%s,logappend", backends[i], i, log);
        g_autoptr(VhChardev) chr = vh_test_chardev_new_ok(spec);
        g_assert_cmpint(vh_chardev_write(chr, "x", 1, NULL), ==, 1);
    }
    {
        g_autofree char *spec =
            g_strdup_printf("null,id=t,logfile=%s,logappend=off", log);
        g_autoptr(VhChardev) chr G_GNUC_UNUSED = vh_test_chardev_new_ok(spec);
        g_autofree char *got = NULL;

        g_assert_true(g_file_get_contents(log, &got, NULL, NULL));
        g_assert_cmpstr(got, ==, "");
    }
    {
        g_autofree char *spec = g_strdup_printf("null,id=t,logfile=%s", log);
        g_autoptr(VhChardev) chr = vh_test_chardev_new_ok(spec);
        g_autofree char *got = NULL;

        g_assert_cmpint(vh_chardev_write(chr, "ab", 2, NULL), ==, 2);
        g_assert_true(g_file_get_contents(log, &got, NULL, NULL));
        g_assert_cmpstr(got, ==, "ab");
    }
    vh_test_chardev_expect_error("null,id=t,logfile=/nonexistent-dir/log",
                                 "chardev t: logfile: ");
    vh_test_chardev_expect_error(
        "null,id=t,logappend=2",
        "chardev t: -chardev: parameter 'logappend' expects");
    g_unlink(log);
    g_rmdir(dir);
}

/* ---- common errors ---- */

static void test_common_errors(void)
{
    vh_test_chardev_expect_error("bogus,id=x",
                                 "-chardev: unknown backend 'bogus'");
    vh_test_chardev_expect_error("id=x",
                                 "-chardev: parameter 'backend' is required");
    vh_test_chardev_expect_error("null",
                                 "-chardev null: parameter 'id' is required");
    vh_test_chardev_expect_error("null,id=0bad", "0bad");
    vh_test_chardev_expect_error(
        "null,id=x,mux=2", "chardev x: -chardev: parameter 'mux' expects");
    g_assert_true(vh_chardev_backend_known("socket"));
    g_assert_true(vh_chardev_backend_known("ringbuf"));
    g_assert_false(vh_chardev_backend_known("bogus"));
    g_assert_false(vh_chardev_backend_known(NULL));
}

/* ---- the registry ---- */

static void on_event(void *opaque, VhChardevEvent ev)
{
}

static void test_registry(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(VhChardev) b = vh_test_chardev_new_ok("null,id=b");
    g_autoptr(VhChardev) a = vh_test_chardev_new_ok("ringbuf,id=a");
    g_autoptr(VhChardev) b2 = vh_test_chardev_new_ok("null,id=b");
    g_autoptr(GPtrArray) list = NULL;

    g_assert_true(vh_chardev_register(b, &err));
    g_assert_true(vh_chardev_register(a, &err));
    g_assert_no_error(err);
    g_assert_false(vh_chardev_register(b2, &err));
    g_assert_error(err, VH_ERROR, VH_ERROR_INVALID_ARGUMENT);
    g_assert_cmpstr(err->message, ==, "chardev with id 'b' already exists");
    g_clear_error(&err);

    g_assert_true(vh_chardev_lookup("a") == a);
    g_assert_true(vh_chardev_lookup("b") == b);
    g_assert_null(vh_chardev_lookup("c"));
    g_assert_null(vh_chardev_lookup(NULL));

    list = vh_chardev_list();
    g_assert_cmpuint(list->len, ==, 2);
    g_assert_cmpstr(vh_chardev_get_id(list->pdata[0]), ==, "a");
    g_assert_cmpstr(vh_chardev_get_id(list->pdata[1]), ==, "b");

    /* a frontend holds it */
    g_assert_false(vh_chardev_has_frontend(b));
    vh_chardev_set_handlers(b, NULL, NULL, on_event, NULL, NULL);
    g_assert_true(vh_chardev_has_frontend(b));
    g_assert_false(vh_chardev_remove("b", &err));
    g_assert_cmpstr(err->message, ==,
                    "chardev 'b' is busy: a frontend is attached");
    g_clear_error(&err);
    vh_chardev_set_handlers(b, NULL, NULL, NULL, NULL, NULL);
    g_assert_false(vh_chardev_has_frontend(b));
    g_assert_true(vh_chardev_remove("b", &err));
    g_assert_no_error(err);
    g_assert_true(vh_chardev_is_closed(b));
    g_assert_null(vh_chardev_lookup("b"));

    g_assert_false(vh_chardev_remove("b", &err));
    g_assert_cmpstr(err->message, ==, "chardev 'b' not found");
    g_clear_error(&err);

    /* the id is free again */
    g_assert_true(vh_chardev_register(b2, &err));
    vh_chardev_remove_all();
    g_assert_null(vh_chardev_lookup("a"));
    g_assert_true(vh_chardev_is_closed(a));
    g_clear_pointer(&list, g_ptr_array_unref);
    list = vh_chardev_list();
    g_assert_cmpuint(list->len, ==, 0);
    drain();
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/chardev/opts/socket/tcp-server", test_socket_tcp_server);
    g_test_add_func("/chardev/opts/socket/tcp-client", test_socket_tcp_client);
    g_test_add_func("/chardev/opts/socket/reconnect", test_socket_reconnect);
    g_test_add_func("/chardev/opts/socket/unix", test_socket_unix);
    g_test_add_func("/chardev/opts/socket/abstract", test_socket_abstract);
    g_test_add_func("/chardev/opts/socket/fd", test_socket_fd);
    g_test_add_func("/chardev/opts/socket/errors", test_socket_errors);
    g_test_add_func("/chardev/opts/socket/logfile", test_socket_logfile);
    g_test_add_func("/chardev/opts/null", test_null);
    g_test_add_func("/chardev/opts/file", test_file);
    g_test_add_func("/chardev/opts/ringbuf", test_ringbuf);
    g_test_add_func("/chardev/opts/logfile", test_logfile);
    g_test_add_func("/chardev/opts/errors", test_common_errors);
    g_test_add_func("/chardev/opts/registry", test_registry);
    return g_test_run();
}
