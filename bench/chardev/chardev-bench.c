/*
 * chardev-bench: the client side of bench/chardev/chardev.sh.
 *
 *   chardev-bench rtt --tls HOST:PORT --plain HOST:PORT --dir DIR
 *                 [--count N] [--blocks B] [--priority P]
 *       Round trips of 64-byte lines ("echo " + 58 characters + "\n") to
 *       the test guest console behind two chardev servers, one over TLS
 *       and one over plain TCP, both connections open for the whole run,
 *       N round trips each, in B alternating blocks (so that a noisy spell
 *       on a shared machine hits both). Prints, per transport:
 *           rtt tls|plain N p50_us p99_us mean_us p90_us csw_per_rtt
 *       csw_per_rtt is this client's voluntary context switches (times it
 *       blocked waiting for a reply) per round trip (getrusage).
 *
 *   chardev-bench connrate --connect HOST:PORT --dir DIR --seconds S
 *                 [--priority P]
 *       New TLS connections one after the other for S seconds: TCP
 *       connect, full handshake (x509 both ways, no resumption), TLS
 *       close-notify, close. Prints:
 *           connrate N_CONNECTIONS SECONDS CONNECTIONS_PER_SECOND
 *
 *   chardev-bench records --dir DIR [--count N] [--priority P]
 *       What TLS itself adds to a round trip, without a network or a main
 *       loop: one thread, a UNIX socketpair, a client and a server session
 *       (the same certificates); each round trip is a 64-byte record one
 *       way and a 59-byte one back (4 GnuTLS record calls), against the
 *       same exchange in plain send/recv on the same socketpair. Prints:
 *           records tls|plain N p50_us
 *
 * DIR is a QEMU-layout certificate directory (ca-cert.pem,
 * client-cert.pem, client-key.pem); the server certificate is checked
 * against HOST. The default priority is TLS 1.3 only.
 *
 * Plain GnuTLS and blocking sockets: the client should cost the same
 * whichever server it talks to, and be as cheap as possible. After the
 * handshake a TLS session reads ciphertext ahead (ReadAhead), so a reply
 * costs one recv() as it does over plain TCP.
 */
#include <errno.h>
#include <gnutls/gnutls.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define LINE_LEN         64
#define DEFAULT_PRIORITY "NORMAL:-VERS-ALL:+VERS-TLS1.3"

/*
 * Ciphertext read ahead for a session after its handshake. GnuTLS pulls a
 * record as its 5-byte header and then its body: straight from the socket
 * that is two recv() per record, where the plain client makes one read()
 * per reply (strace -c: 2.0 against 1.0 per round trip), and the second
 * one is a cost of this client, not of the server it measures. vmhost's
 * own TLS channel reads ahead the same way (lib/io/channel-tls.c).
 */
typedef struct {
    int fd;
    size_t pos, len;
    char buf[16 * 1024 + 256];
} ReadAhead;

static ssize_t read_ahead_pull(gnutls_transport_ptr_t ptr, void *data,
                               size_t size)
{
    ReadAhead *ra = ptr;
    size_t n;

    if (ra->pos == ra->len) {
        ssize_t got = recv(ra->fd, ra->buf, sizeof(ra->buf), 0);

        if (got <= 0) {
            return got; /* errno is GnuTLS's default errno function's */
        }
        ra->pos = 0;
        ra->len = got;
    }
    n = size < ra->len - ra->pos ? size : ra->len - ra->pos;
    memcpy(data, ra->buf + ra->pos, n);
    ra->pos += n;
    return n;
}

static int read_ahead_timeout(gnutls_transport_ptr_t ptr, unsigned ms)
{
    ReadAhead *ra = ptr;
    struct pollfd pfd = {.fd = ra->fd, .events = POLLIN};

    if (ra->pos < ra->len) {
        return 1;
    }
    return poll(&pfd, 1, ms == GNUTLS_INDEFINITE_TIMEOUT ? -1 : (int)ms);
}

/* From now on @s reads @fd through @ra (sends are unchanged). */
static void use_read_ahead(gnutls_session_t s, ReadAhead *ra, int fd)
{
    ra->fd = fd;
    ra->pos = ra->len = 0;
    gnutls_transport_set_ptr2(s, ra, (gnutls_transport_ptr_t)(intptr_t)fd);
    gnutls_transport_set_pull_function(s, read_ahead_pull);
    gnutls_transport_set_pull_timeout_function(s, read_ahead_timeout);
}

typedef struct {
    int fd;
    gnutls_session_t tls; /* NULL: plain TCP */
    ReadAhead ra;
    char buf[4096];
    size_t have;
} Conn;

static const char *opt_dir;
static const char *opt_priority = DEFAULT_PRIORITY;
static gnutls_certificate_credentials_t creds;

static _Noreturn void die(const char *what, const char *why)
{
    fprintf(stderr, "chardev-bench: %s: %s\n", what, why);
    exit(1);
}

static double now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void split_hostport(const char *hp, char **host, char **port)
{
    const char *colon = strrchr(hp, ':');

    if (!colon || colon == hp || !colon[1]) {
        die(hp, "expected HOST:PORT");
    }
    *host = strndup(hp, colon - hp);
    *port = strdup(colon + 1);
}

static int tcp_connect(const char *host, const char *port)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai;
    int fd, one = 1, rc;

    rc = getaddrinfo(host, port, &hints, &ai);
    if (rc) {
        die(host, gai_strerror(rc));
    }
    fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
        die(port, strerror(errno));
    }
    freeaddrinfo(ai);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

static void load_creds(void)
{
    char *ca, *cert, *key;
    int rc;

    if (!opt_dir) {
        die("--dir", "a certificate directory is required");
    }
    if (asprintf(&ca, "%s/ca-cert.pem", opt_dir) < 0 ||
        asprintf(&cert, "%s/client-cert.pem", opt_dir) < 0 ||
        asprintf(&key, "%s/client-key.pem", opt_dir) < 0) {
        die("asprintf", "out of memory");
    }
    gnutls_certificate_allocate_credentials(&creds);
    rc = gnutls_certificate_set_x509_trust_file(creds, ca, GNUTLS_X509_FMT_PEM);
    if (rc <= 0) {
        die(ca, rc < 0 ? gnutls_strerror(rc) : "no CA certificate");
    }
    rc = gnutls_certificate_set_x509_key_file(creds, cert, key,
                                              GNUTLS_X509_FMT_PEM);
    if (rc < 0) {
        die(cert, gnutls_strerror(rc));
    }
    free(ca);
    free(cert);
    free(key);
}

static gnutls_session_t tls_open(int fd, const char *host)
{
    gnutls_session_t s;
    const char *errpos = NULL;
    int rc;

    gnutls_init(&s, GNUTLS_CLIENT);
    rc = gnutls_priority_set_direct(s, opt_priority, &errpos);
    if (rc < 0) {
        die(opt_priority, gnutls_strerror(rc));
    }
    gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, creds);
    gnutls_session_set_verify_cert(s, host, 0);
    gnutls_transport_set_int(s, fd);
    do {
        rc = gnutls_handshake(s);
    } while (rc < 0 && !gnutls_error_is_fatal(rc));
    if (rc < 0) {
        die("TLS handshake", gnutls_strerror(rc));
    }
    return s;
}

static Conn *conn_open(const char *hostport, bool tls)
{
    Conn *c = calloc(1, sizeof(*c));
    char *host, *port;

    split_hostport(hostport, &host, &port);
    c->fd = tcp_connect(host, port);
    if (tls) {
        c->tls = tls_open(c->fd, host);
        use_read_ahead(c->tls, &c->ra, c->fd);
    }
    free(host);
    free(port);
    return c;
}

static void conn_close(Conn *c)
{
    if (c->tls) {
        gnutls_bye(c->tls, GNUTLS_SHUT_WR);
        gnutls_deinit(c->tls);
    }
    close(c->fd);
    free(c);
}

static void conn_write(Conn *c, const char *buf, size_t len)
{
    while (len) {
        ssize_t n = c->tls ? gnutls_record_send(c->tls, buf, len)
                           : write(c->fd, buf, len);

        if (n < 0) {
            if (c->tls ? !gnutls_error_is_fatal(n) : errno == EINTR) {
                continue;
            }
            die("write", c->tls ? gnutls_strerror(n) : strerror(errno));
        }
        buf += n;
        len -= n;
    }
}

/* Read until a '\n'; returns the line length (including it). */
static size_t conn_read_line(Conn *c)
{
    for (;;) {
        char *nl = memchr(c->buf, '\n', c->have);
        ssize_t n;

        if (nl) {
            size_t len = nl + 1 - c->buf;

            memmove(c->buf, nl + 1, c->have - len);
            c->have -= len;
            return len;
        }
        if (c->have == sizeof(c->buf)) {
            die("read", "a reply line longer than 4 KiB");
        }
        n = c->tls ? gnutls_record_recv(c->tls, c->buf + c->have,
                                        sizeof(c->buf) - c->have)
                   : read(c->fd, c->buf + c->have, sizeof(c->buf) - c->have);
        if (n == 0) {
            die("read", "the server closed the connection");
        }
        if (n < 0) {
            if (c->tls ? !gnutls_error_is_fatal(n) : errno == EINTR) {
                continue;
            }
            die("read", c->tls ? gnutls_strerror(n) : strerror(errno));
        }
        c->have += n;
    }
}

static double round_trip(Conn *c, const char *line)
{
    double t0 = now_us();
    size_t got;

    conn_write(c, line, LINE_LEN);
    got = conn_read_line(c);
    if (got != LINE_LEN - 5) {
        die("reply", "not the echoed line");
    }
    return now_us() - t0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

/* This process's voluntary context switches so far. */
static long voluntary_switches(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_nvcsw;
}

static void report(const char *name, double *v, long n, long csw)
{
    double sum = 0;

    qsort(v, n, sizeof(*v), cmp_double);
    for (long i = 0; i < n; i++) {
        sum += v[i];
    }
    printf("rtt %s %ld %.1f %.1f %.1f %.1f %.2f\n", name, n, v[n / 2],
           v[(long)(n * 0.99)], sum / n, v[(long)(n * 0.9)], (double)csw / n);
}

static int cmd_rtt(const char *tls_hp, const char *plain_hp, long count,
                   long blocks)
{
    char line[LINE_LEN + 1];
    double *tls_v = calloc(count, sizeof(double));
    double *plain_v = calloc(count, sizeof(double));
    Conn *t, *p;
    long per = count / blocks, done = 0, tcsw = 0, pcsw = 0;

    if (!tls_hp || !plain_hp || count < 100 || blocks < 1 || per < 1) {
        die("rtt", "needs --tls, --plain, --count >= 100, --blocks >= 1");
    }
    load_creds();
    t = conn_open(tls_hp, true);
    p = conn_open(plain_hp, false);
    /* "echo " + 58 characters + "\n": 64 bytes; the reply is 59. */
    memcpy(line, "echo ", 5);
    for (int i = 5; i < LINE_LEN - 1; i++) {
        line[i] = 'a' + i % 26;
    }
    line[LINE_LEN - 1] = '\n';
    line[LINE_LEN] = '\0';
    /* Warm up both paths (page faults, caches). */
    for (int i = 0; i < 200; i++) {
        round_trip(t, line);
        round_trip(p, line);
    }
    for (long b = 0; b < blocks; b++) {
        long n = b == blocks - 1 ? count - done : per;
        long csw = voluntary_switches();

        for (long i = 0; i < n; i++) {
            tls_v[done + i] = round_trip(t, line);
        }
        tcsw += voluntary_switches() - csw;
        csw = voluntary_switches();
        for (long i = 0; i < n; i++) {
            plain_v[done + i] = round_trip(p, line);
        }
        pcsw += voluntary_switches() - csw;
        done += n;
    }
    conn_close(t);
    conn_close(p);
    report("tls", tls_v, count, tcsw);
    report("plain", plain_v, count, pcsw);
    free(tls_v);
    free(plain_v);
    return 0;
}

/* Both sessions' handshakes, stepped in turn over a non-blocking pair. */
static void pair_handshake(gnutls_session_t c, gnutls_session_t s)
{
    int rc_c = GNUTLS_E_AGAIN, rc_s = GNUTLS_E_AGAIN;

    while (rc_c < 0 || rc_s < 0) {
        if (rc_c < 0) {
            rc_c = gnutls_handshake(c);
            if (rc_c < 0 && gnutls_error_is_fatal(rc_c)) {
                die("client handshake", gnutls_strerror(rc_c));
            }
        }
        if (rc_s < 0) {
            rc_s = gnutls_handshake(s);
            if (rc_s < 0 && gnutls_error_is_fatal(rc_s)) {
                die("server handshake", gnutls_strerror(rc_s));
            }
        }
    }
}

static void record_xfer(gnutls_session_t from, gnutls_session_t to,
                        const char *buf, size_t len)
{
    char in[256];
    ssize_t n;

    if (gnutls_record_send(from, buf, len) != (ssize_t)len) {
        die("records", "short send");
    }
    do {
        n = gnutls_record_recv(to, in, sizeof(in));
    } while (n == GNUTLS_E_AGAIN);
    if (n != (ssize_t)len) {
        die("records", n < 0 ? gnutls_strerror(n) : "short record");
    }
}

static void plain_xfer(int from, int to, const char *buf, size_t len)
{
    char in[256];

    if (send(from, buf, len, 0) != (ssize_t)len ||
        recv(to, in, sizeof(in), 0) != (ssize_t)len) {
        die("records", "plain send/recv failed");
    }
}

static int cmd_records(long count)
{
    gnutls_certificate_credentials_t screds;
    gnutls_session_t c, s;
    char line[LINE_LEN], *cert, *key;
    double *tv = calloc(count, sizeof(double));
    double *pv = calloc(count, sizeof(double));
    int sv[2];
    static ReadAhead ra[2];

    load_creds();
    if (asprintf(&cert, "%s/server-cert.pem", opt_dir) < 0 ||
        asprintf(&key, "%s/server-key.pem", opt_dir) < 0) {
        die("asprintf", "out of memory");
    }
    gnutls_certificate_allocate_credentials(&screds);
    if (gnutls_certificate_set_x509_key_file(screds, cert, key,
                                             GNUTLS_X509_FMT_PEM) < 0) {
        die(cert, "cannot load the server certificate");
    }
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) < 0) {
        die("socketpair", strerror(errno));
    }
    gnutls_init(&c, GNUTLS_CLIENT | GNUTLS_NONBLOCK);
    gnutls_init(&s, GNUTLS_SERVER | GNUTLS_NONBLOCK);
    gnutls_priority_set_direct(c, opt_priority, NULL);
    gnutls_priority_set_direct(s, opt_priority, NULL);
    gnutls_credentials_set(c, GNUTLS_CRD_CERTIFICATE, creds);
    gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, screds);
    gnutls_certificate_server_set_request(s, GNUTLS_CERT_REQUIRE);
    gnutls_transport_set_int(c, sv[0]);
    gnutls_transport_set_int(s, sv[1]);
    pair_handshake(c, s);
    use_read_ahead(c, &ra[0], sv[0]);
    use_read_ahead(s, &ra[1], sv[1]);
    memset(line, 'x', sizeof(line));
    for (long i = -1000; i < count; i++) {
        double t0 = now_us(), t1, t2;

        record_xfer(c, s, line, LINE_LEN);
        record_xfer(s, c, line, LINE_LEN - 5);
        t1 = now_us();
        plain_xfer(sv[0], sv[1], line, LINE_LEN);
        plain_xfer(sv[1], sv[0], line, LINE_LEN - 5);
        t2 = now_us();
        if (i >= 0) {
            tv[i] = t1 - t0;
            pv[i] = t2 - t1;
        }
    }
    qsort(tv, count, sizeof(double), cmp_double);
    qsort(pv, count, sizeof(double), cmp_double);
    printf("records tls %ld %.2f\n", count, tv[count / 2]);
    printf("records plain %ld %.2f\n", count, pv[count / 2]);
    gnutls_deinit(c);
    gnutls_deinit(s);
    gnutls_certificate_free_credentials(screds);
    free(cert);
    free(key);
    free(tv);
    free(pv);
    return 0;
}

static int cmd_connrate(const char *hp, double seconds)
{
    double start, end;
    long n = 0;

    if (!hp || seconds <= 0) {
        die("connrate", "needs --connect and --seconds > 0");
    }
    load_creds();
    start = now_us();
    end = start + seconds * 1e6;
    do {
        conn_close(conn_open(hp, true));
        n++;
    } while (now_us() < end);
    seconds = (now_us() - start) / 1e6;
    printf("connrate %ld %.3f %.1f\n", n, seconds, n / seconds);
    return 0;
}

int main(int argc, char **argv)
{
    const char *tls_hp = NULL, *plain_hp = NULL, *connect_hp = NULL;
    long count = 20000, blocks = 4;
    double seconds = 5;

    if (argc < 2) {
        die("usage", "chardev-bench rtt|connrate OPTIONS (see the source)");
    }
    for (int i = 2; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

        if (!v) {
            die(o, "needs a value");
        }
        i++;
        if (!strcmp(o, "--tls")) {
            tls_hp = v;
        } else if (!strcmp(o, "--plain")) {
            plain_hp = v;
        } else if (!strcmp(o, "--connect")) {
            connect_hp = v;
        } else if (!strcmp(o, "--dir")) {
            opt_dir = v;
        } else if (!strcmp(o, "--priority")) {
            opt_priority = v;
        } else if (!strcmp(o, "--count")) {
            count = atol(v);
        } else if (!strcmp(o, "--blocks")) {
            blocks = atol(v);
        } else if (!strcmp(o, "--seconds")) {
            seconds = atof(v);
        } else {
            die(o, "unknown option");
        }
    }
    gnutls_global_init();
    if (!strcmp(argv[1], "rtt")) {
        return cmd_rtt(tls_hp, plain_hp, count, blocks);
    }
    if (!strcmp(argv[1], "connrate")) {
        return cmd_connrate(connect_hp, seconds);
    }
    if (!strcmp(argv[1], "records")) {
        return cmd_records(count);
    }
    die(argv[1], "unknown command (rtt, connrate or records)");
    return 1;
}
