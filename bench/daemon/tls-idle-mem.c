/*
 * bench/daemon's yardstick for GnuTLS's own share of an idle TLS connection:
 * N bare GnuTLS server sessions, each after a full handshake with the
 * daemons' certificates and priority and one record each way (libvirt's
 * 0x01 byte, then a call), kept open; prints the process's VmRSS growth
 * per session.
 * What a daemon's idle TLS connection costs beyond this is its own.
 *
 *   tls-idle-mem CA CERT KEY CLIENT-CERT CLIENT-KEY PRIORITY N [direct]
 *
 * The clients run in a child process, one handshake after the other in
 * step with ours over socketpairs, so only server sessions count here.
 */
#include <gnutls/gnutls.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static void die(const char *what, int rc) __attribute__((noreturn));

static void die(const char *what, int rc)
{
    fprintf(stderr, "tls-idle-mem: %s: %s\n", what,
            rc ? gnutls_strerror(rc) : "failed");
    exit(1);
}

static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;

    if (!f) {
        die("/proc/self/status", 0);
    }
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, "VmRSS:", 6) == 0) {
            kib = strtol(line + 6, NULL, 10);
        }
    }
    fclose(f);
    return kib;
}

/* With "direct", each session compiles its own priority
 * (gnutls_priority_set_direct(), as libvirt does); by default one compiled
 * priority is shared by every session, as vmhost's credentials do. */
static const char *direct;

static gnutls_priority_t priority(const char *prio)
{
    gnutls_priority_t p;
    int rc = gnutls_priority_init(&p, prio, NULL);

    if (rc < 0) {
        die(prio, rc);
    }
    return p;
}

static gnutls_session_t session(unsigned flags,
                                gnutls_certificate_credentials_t cred,
                                gnutls_priority_t prio, int fd)
{
    gnutls_session_t s;
    int rc;

    if ((rc = gnutls_init(&s, flags)) < 0 ||
        (rc = direct ? gnutls_priority_set_direct(s, direct, NULL)
                     : gnutls_priority_set(s, prio)) < 0 ||
        (rc = gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, cred)) < 0) {
        die("session", rc);
    }
    if (flags & GNUTLS_SERVER) {
        gnutls_certificate_server_set_request(s, GNUTLS_CERT_REQUIRE);
    }
    gnutls_transport_set_int(s, fd);
    do {
        rc = gnutls_handshake(s);
    } while (rc < 0 && !gnutls_error_is_fatal(rc));
    if (rc < 0) {
        die("handshake", rc);
    }
    return s;
}

static gnutls_certificate_credentials_t creds(const char *ca, const char *cert,
                                              const char *key)
{
    gnutls_certificate_credentials_t c;
    int rc;

    if ((rc = gnutls_certificate_allocate_credentials(&c)) < 0 ||
        (rc = gnutls_certificate_set_x509_trust_file(
             c, ca, GNUTLS_X509_FMT_PEM)) < 0 ||
        (rc = gnutls_certificate_set_x509_key_file(c, cert, key,
                                                   GNUTLS_X509_FMT_PEM)) < 0) {
        die(cert, rc);
    }
    return c;
}

int main(int argc, char **argv)
{
    if (argc == 9 && strcmp(argv[8], "direct") == 0) {
        direct = argv[6];
    } else if (argc != 8) {
        fprintf(stderr, "usage: tls-idle-mem CA CERT KEY CLIENT-CERT "
                        "CLIENT-KEY PRIORITY N [direct]\n");
        return 2;
    }
    gnutls_priority_t prio;
    int n = atoi(argv[7]) + 1; /* the first one pays one-off costs */
    int(*sv)[2] = calloc(n, sizeof(*sv));
    char byte = 1;

    gnutls_global_init();
    prio = priority(argv[6]);
    for (int i = 0; i < n; i++) {
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv[i]) < 0) {
            die("socketpair", 0);
        }
    }
    pid_t child = fork();
    if (child == 0) {
        gnutls_certificate_credentials_t c = creds(argv[1], argv[4], argv[5]);
        for (int i = 0; i < n; i++) {
            gnutls_session_t s = session(GNUTLS_CLIENT, c, prio, sv[i][1]);
            if (gnutls_record_recv(s, &byte, 1) != 1 ||
                gnutls_record_send(s, &byte, 1) != 1) {
                die("client read", 0);
            }
        }
        pause();
        _exit(0);
    }
    gnutls_certificate_credentials_t c = creds(argv[1], argv[2], argv[3]);
    long before = 0;
    for (int i = 0; i < n; i++) {
        gnutls_session_t s = session(GNUTLS_SERVER, c, prio, sv[i][0]);
        if (gnutls_record_send(s, &byte, 1) != 1 ||
            gnutls_record_recv(s, &byte, 1) != 1) {
            die("server write", 0);
        }
        close(sv[i][1]);
        if (i == 0) {
            before = rss_kib();
        }
    }
    long after = rss_kib();
    kill(child, SIGTERM);
    waitpid(child, NULL, 0);
    printf("sessions=%d rss_before_kib=%ld rss_after_kib=%ld "
           "kib_per_conn=%.2f\n",
           n - 1, before, after, (double)(after - before) / (n - 1));
    return 0;
}
