/*
 * The vmhost command line for a domain (the language of the README's
 * "vmhost: the machine"). Values go into QEMU-style option strings, where
 * ',' separates keys: every value from the document is written with ','
 * doubled, so a path cannot add options.
 *
 * Ids: serial port N is "-chardev ...,id=charserialN" with
 * "-device isa-serial,chardev=charserialN,id=serialN" (libvirt's names,
 * so query-chardev's label tells the daemon which port a pty is), and its
 * TLS credentials are "chrtlsN". Ports are emitted in port order: vmhost's
 * first isa-serial port is the test guest's console.
 */
#include "domain-internal.h"

#include <stdarg.h>

static char *escape(const char *value)
{
    g_auto(GStrv) parts = g_strsplit(value, ",", -1);

    return g_strjoinv(",,", parts);
}

static void add(GPtrArray *argv, const char *arg)
{
    g_ptr_array_add(argv, g_strdup(arg));
}

static void add_printf(GPtrArray *argv, const char *fmt, ...)
    G_GNUC_PRINTF(2, 3);

static void add_printf(GPtrArray *argv, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    g_ptr_array_add(argv, g_strdup_vprintf(fmt, ap));
    va_end(ap);
}

static bool add_tls_object(GPtrArray *argv, const VhDomainChr *c,
                           const VhDomainArgvOptions *opts, GError **errp)
{
    g_autofree char *dir = NULL;

    if (!opts->chardev_tls_dir) {
        return vh_domain_fail(errp, VH_VIR_ERR_CONFIG_UNSUPPORTED,
                              "serial port %d asks for tls='yes' but no "
                              "chardev TLS certificate directory is "
                              "configured (chardev_tls_x509_cert_dir)",
                              c->port);
    }
    dir = escape(opts->chardev_tls_dir);
    add(argv, "-object");
    add_printf(argv,
               "tls-creds-x509,id=chrtls%d,endpoint=%s,dir=%s,verify-peer=%s",
               c->port, c->listen ? "server" : "client", dir,
               opts->chardev_tls_verify ? "on" : "off");
    return true;
}

static void add_chardev(GPtrArray *argv, const VhDomainChr *c)
{
    GString *s = g_string_new(NULL);
    g_autofree char *a = NULL;
    g_autofree char *b = NULL;

    switch (c->type) {
    case VH_DOMAIN_CHR_PTY:
        g_string_append_printf(s, "pty,id=charserial%d", c->port);
        break;
    case VH_DOMAIN_CHR_UNIX:
        a = escape(c->path);
        g_string_append_printf(s, "socket,id=charserial%d,path=%s", c->port, a);
        break;
    case VH_DOMAIN_CHR_TCP:
    default:
        a = escape(c->host);
        b = escape(c->service);
        g_string_append_printf(s, "socket,id=charserial%d,host=%s,port=%s",
                               c->port, a, b);
        break;
    }
    if (c->type != VH_DOMAIN_CHR_PTY) {
        if (c->listen) {
            g_string_append(s, ",server=on,wait=off");
        }
        if (c->telnet) {
            g_string_append(s, ",telnet=on");
        }
        if (c->tls) {
            g_string_append_printf(s, ",tls-creds=chrtls%d", c->port);
        }
    }
    add(argv, "-chardev");
    g_ptr_array_add(argv, g_string_free(s, false));
    add(argv, "-device");
    add_printf(argv, "isa-serial,chardev=charserial%d,id=serial%d", c->port,
               c->port);
}

static gint by_port(gconstpointer a, gconstpointer b)
{
    return ((const VhDomainChr *)a)->port - ((const VhDomainChr *)b)->port;
}

static bool add_serial_ports(GPtrArray *argv, const VhDomainDef *def,
                             const VhDomainArgvOptions *opts, GError **errp)
{
    g_autoptr(GArray) chrs = vh_domain_def_get_chardevs(def);
    g_autoptr(GArray) ports = g_array_new(false, false, sizeof(VhDomainChr));

    for (guint i = 0; i < chrs->len; i++) {
        VhDomainChr *c = &g_array_index(chrs, VhDomainChr, i);

        if (!c->mirrors_serial) {
            g_array_append_val(ports, *c);
        }
    }
    g_array_sort(ports, by_port);
    for (guint i = 0; i < ports->len; i++) {
        VhDomainChr *c = &g_array_index(ports, VhDomainChr, i);

        if (c->tls && !add_tls_object(argv, c, opts, errp)) {
            return false;
        }
        add_chardev(argv, c);
    }
    return true;
}

GStrv vh_domain_def_to_argv(const VhDomainDef *def,
                            const VhDomainArgvOptions *opts, GError **errp)
{
    g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
    g_autofree char *name = escape(vh_domain_def_get_name(def));
    guint64 kib = vh_domain_def_get_memory_kib(def);

    if (kib % 4) {
        vh_domain_fail(errp, VH_VIR_ERR_CONFIG_UNSUPPORTED,
                       "memory of %" G_GUINT64_FORMAT " KiB is not a "
                       "multiple of 4 KiB (vmhost's page size)",
                       kib);
        return NULL;
    }
    add(argv, opts->vmhost_binary ? opts->vmhost_binary : "vmhost");
    add(argv, "-name");
    add_printf(argv, "guest=%s", name);
    add(argv, "-m");
    /* in KiB with a suffix: a plain number would mean MiB */
    add_printf(argv, "%" G_GUINT64_FORMAT "K", kib);
    add(argv, "-nodefaults");
    add(argv, "-nographic");
    if (opts->qmp_socket) {
        g_autofree char *qmp = escape(opts->qmp_socket);

        add(argv, "-qmp");
        add_printf(argv, "unix:%s,server,nowait", qmp);
    }
    if (opts->pidfile) {
        add(argv, "-pidfile");
        add(argv, opts->pidfile);
    }
    if (opts->logfile) {
        add(argv, "-D");
        add(argv, opts->logfile);
    }
    if (opts->daemonize) {
        add(argv, "-daemonize");
    }
    if (opts->start_paused) {
        add(argv, "-S");
    }
    if (!add_serial_ports(argv, def, opts, errp)) {
        return NULL;
    }
    g_ptr_array_add(argv, NULL);
    return (GStrv)g_ptr_array_free(g_steal_pointer(&argv), false);
}
