#include "crypto-testutil.h"

#include <ftw.h>
#include <stdio.h>

char *vh_test_mkdtemp(const char *prefix)
{
    g_autofree char *tmpl = g_strdup_printf("%s-XXXXXX", prefix);
    char *dir = g_dir_make_tmp(tmpl, NULL);

    g_assert_nonnull(dir);
    return dir;
}

static int rm_one(const char *path, const struct stat *st, int flag,
                  struct FTW *ftw)
{
    return remove(path);
}

void vh_test_rm_rf(const char *path)
{
    if (path) {
        nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    }
}

#include <gnutls/gnutls.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct {
    gnutls_session_t session;
    int fd;
    int rc;
} HsSide;

static void hs_run(HsSide *side)
{
    do {
        side->rc = gnutls_handshake(side->session);
    } while (side->rc < 0 && !gnutls_error_is_fatal(side->rc));
    if (side->rc < 0) {
        /* Wake the peer if it is still waiting for us. */
        shutdown(side->fd, SHUT_RDWR);
    }
}

static gpointer hs_thread(gpointer data)
{
    hs_run(data);
    return NULL;
}

static void hs_setup(HsSide *side, VhTlsCreds *creds, unsigned int flags,
                     int fd)
{
    g_autoptr(GError) err = NULL;

    g_assert_cmpint(gnutls_init(&side->session, flags), ==, 0);
    g_assert_true(vh_tls_creds_apply(creds, side->session, &err));
    g_assert_no_error(err);
    gnutls_transport_set_int(side->session, fd);
    gnutls_handshake_set_timeout(side->session, 10000);
    side->fd = fd;
}

int vh_test_handshake(VhTlsCreds *server, VhTlsCreds *client, int *server_rc,
                      int *client_rc)
{
    int fds[2];
    HsSide s = {0}, c = {0};
    GThread *thread;

    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), ==, 0);
    hs_setup(&s, server, GNUTLS_SERVER, fds[0]);
    hs_setup(&c, client, GNUTLS_CLIENT, fds[1]);
    thread = g_thread_new("tls-server", hs_thread, &s);
    hs_run(&c);
    g_thread_join(thread);
    gnutls_deinit(s.session);
    gnutls_deinit(c.session);
    close(fds[0]);
    close(fds[1]);
    if (server_rc) {
        *server_rc = s.rc;
    }
    if (client_rc) {
        *client_rc = c.rc;
    }
    return s.rc < 0 ? s.rc : c.rc;
}
