/*
 * <serial> and <console>: pty, unix and tcp sources, libvirt's meaning.
 *
 * A <console> whose target is a serial port (type 'serial' or none) that a
 * <serial> already defines is that serial port shown again, as libvirt
 * writes it for serial0; it is not a second device. A console for a port
 * no <serial> has is a serial port of its own.
 */
#include "domain-internal.h"

#include <stdlib.h>
#include <string.h>

#define MAX_PORT 255

static const char *const chr_attrs[] = {"type", "tty"};
static const char *const source_attrs[] = {"mode", "path", "host", "service",
                                           "tls"};

static bool parse_port(const char *text, int *port)
{
    char *end = NULL;
    long v;

    if (!text || !g_ascii_isdigit(text[0])) {
        return false;
    }
    v = strtol(text, &end, 10);
    if (*end || v < 0 || v > MAX_PORT) {
        return false;
    }
    *port = (int)v;
    return true;
}

static bool type_of(const char *type, VhDomainChrType *out)
{
    if (!type || g_str_equal(type, "pty")) {
        *out = VH_DOMAIN_CHR_PTY;
    } else if (g_str_equal(type, "unix")) {
        *out = VH_DOMAIN_CHR_UNIX;
    } else if (g_str_equal(type, "tcp")) {
        *out = VH_DOMAIN_CHR_TCP;
    } else {
        return false;
    }
    return true;
}

static void normalize(xmlNodePtr n)
{
    xmlNodePtr src = vh_domain_xml_child(n, "source");
    xmlNodePtr target = vh_domain_xml_child(n, "target");

    for (guint i = 0; i < G_N_ELEMENTS(chr_attrs); i++) {
        vh_domain_xml_normalize_attr(n, chr_attrs[i]);
    }
    for (guint i = 0; src && i < G_N_ELEMENTS(source_attrs); i++) {
        vh_domain_xml_normalize_attr(src, source_attrs[i]);
    }
    if (target) {
        vh_domain_xml_normalize_attr(target, "type");
        vh_domain_xml_normalize_attr(target, "port");
    }
    if (vh_domain_xml_child(n, "protocol")) {
        vh_domain_xml_normalize_attr(vh_domain_xml_child(n, "protocol"),
                                     "type");
    }
}

static bool check_mode(const char *what, const char *mode, GError **errp)
{
    if (mode && !g_str_equal(mode, "bind") && !g_str_equal(mode, "connect")) {
        return vh_domain_fail(errp, VH_VIR_ERR_XML_ERROR,
                              "<%s> source mode '%s': expected 'bind' or "
                              "'connect'",
                              what, mode);
    }
    return true;
}

static bool check_socket(xmlNodePtr n, VhDomainChrType type, GError **errp)
{
    const char *what = (const char *)n->name;
    xmlNodePtr src = vh_domain_xml_child(n, "source");
    const char *tls = vh_domain_xml_attr(src, "tls");
    const char *proto =
        vh_domain_xml_attr(vh_domain_xml_child(n, "protocol"), "type");

    if (!check_mode(what, vh_domain_xml_attr(src, "mode"), errp)) {
        return false;
    }
    if (type == VH_DOMAIN_CHR_UNIX) {
        const char *path = vh_domain_xml_attr(src, "path");

        if (!path || !path[0]) {
            return vh_domain_fail(errp, VH_VIR_ERR_XML_ERROR,
                                  "<%s type='unix'> needs <source path=...>",
                                  what);
        }
    } else {
        const char *host = vh_domain_xml_attr(src, "host");
        const char *service = vh_domain_xml_attr(src, "service");

        if (!host || !host[0]) {
            return vh_domain_fail(errp, VH_VIR_ERR_XML_ERROR,
                                  "<%s type='tcp'> needs <source host=...>",
                                  what);
        }
        if (!service || !service[0] || strlen(service) > 5 ||
            strspn(service, "0123456789") != strlen(service) ||
            atoi(service) < 1 || atoi(service) > 65535) {
            return vh_domain_fail(errp, VH_VIR_ERR_XML_ERROR,
                                  "<%s type='tcp'> needs <source service=...> "
                                  "with a port number, not '%s'",
                                  what, service ? service : "");
        }
    }
    if (tls && !g_str_equal(tls, "yes") && !g_str_equal(tls, "no")) {
        return vh_domain_fail(errp, VH_VIR_ERR_XML_ERROR,
                              "<%s> source tls '%s': expected 'yes' or 'no'",
                              what, tls);
    }
    if (g_strcmp0(tls, "yes") == 0 && type != VH_DOMAIN_CHR_TCP) {
        return vh_domain_fail(errp, VH_VIR_ERR_CONFIG_UNSUPPORTED,
                              "tls='yes' is only supported on <%s type='tcp'>",
                              what);
    }
    if (proto && !g_str_equal(proto, "raw") && !g_str_equal(proto, "telnet")) {
        return vh_domain_fail(errp, VH_VIR_ERR_CONFIG_UNSUPPORTED,
                              "<%s> protocol '%s' is not supported by vmhost "
                              "(raw or telnet)",
                              what, proto);
    }
    return true;
}

static guint count_children(xmlNodePtr n, const char *name)
{
    guint count = 0;

    for (xmlNodePtr c = n->children; c; c = c->next) {
        count += vh_domain_xml_is(c, name);
    }
    return count;
}

/* One element's own checks; *port is -1 when it names no port. */
static bool check_one(xmlNodePtr n, bool console, VhDomainChrType *type,
                      int *port, GError **errp)
{
    const char *what = (const char *)n->name;
    const char *t = vh_domain_xml_attr(n, "type");
    xmlNodePtr target = vh_domain_xml_child(n, "target");
    const char *ttype = vh_domain_xml_attr(target, "type");
    const char *tport = vh_domain_xml_attr(target, "port");

    if (!type_of(t, type)) {
        g_autofree char *d = g_strdup_printf("%s type='%s'", what, t);

        return vh_domain_fail_device(errp, d);
    }
    if (ttype && !g_str_equal(ttype, console ? "serial" : "isa-serial")) {
        g_autofree char *d =
            g_strdup_printf("%s> with <target type='%s'", what, ttype);

        return vh_domain_fail_device(errp, d);
    }
    if (count_children(n, "source") > 1 || count_children(n, "target") > 1 ||
        count_children(n, "protocol") > 1) {
        return vh_domain_fail(errp, VH_VIR_ERR_XML_ERROR,
                              "<%s> has more than one <source>, <target> or "
                              "<protocol>",
                              what);
    }
    *port = -1;
    if (tport && !parse_port(tport, port)) {
        return vh_domain_fail(errp, VH_VIR_ERR_XML_ERROR,
                              "<%s> target port '%s': expected 0 to %d", what,
                              tport, MAX_PORT);
    }
    return *type == VH_DOMAIN_CHR_PTY || check_socket(n, *type, errp);
}

static void write_port(xmlNodePtr n, int port)
{
    xmlNodePtr target = vh_domain_xml_ensure_child(n, "target");
    g_autofree char *text = g_strdup_printf("%d", port);

    xmlSetNsProp(target, NULL, BAD_CAST "port", BAD_CAST text);
}

static int lowest_free(const GHashTable *used)
{
    int p = 0;

    while (g_hash_table_contains((GHashTable *)used, GINT_TO_POINTER(p))) {
        p++;
    }
    return p;
}

bool vh_domain_chr_validate(xmlNodePtr devices, GError **errp)
{
    /* port -> the VhDomainChrType of its <serial>, plus one */
    g_autoptr(GHashTable) ports = g_hash_table_new(NULL, NULL);
    g_autoptr(GPtrArray) unnumbered = g_ptr_array_new();
    VhDomainChrType type;
    int port;

    for (xmlNodePtr n = devices->children; n; n = n->next) {
        if (!vh_domain_xml_is(n, "serial")) {
            continue;
        }
        normalize(n);
        if (!check_one(n, false, &type, &port, errp)) {
            return false;
        }
        if (port < 0) {
            g_ptr_array_add(unnumbered, n);
            continue;
        }
        if (g_hash_table_contains(ports, GINT_TO_POINTER(port))) {
            return vh_domain_fail(errp, VH_VIR_ERR_XML_ERROR,
                                  "serial port %d is defined twice", port);
        }
        g_hash_table_insert(ports, GINT_TO_POINTER(port),
                            GINT_TO_POINTER(type + 1));
    }
    for (guint i = 0; i < unnumbered->len; i++) {
        xmlNodePtr n = g_ptr_array_index(unnumbered, i);

        if (g_hash_table_size(ports) > MAX_PORT) {
            return vh_domain_fail(errp, VH_VIR_ERR_XML_ERROR,
                                  "too many serial ports");
        }
        port = lowest_free(ports);
        type_of(vh_domain_xml_attr(n, "type"), &type);
        g_hash_table_insert(ports, GINT_TO_POINTER(port),
                            GINT_TO_POINTER(type + 1));
        write_port(n, port);
    }
    for (xmlNodePtr n = devices->children; n; n = n->next) {
        gpointer serial_type;

        if (!vh_domain_xml_is(n, "console")) {
            continue;
        }
        normalize(n);
        if (!check_one(n, true, &type, &port, errp)) {
            return false;
        }
        if (port < 0) {
            port = 0;
            write_port(n, 0);
        }
        serial_type = g_hash_table_lookup(ports, GINT_TO_POINTER(port));
        if (!serial_type) {
            /* a port of its own; a later console may mirror it */
            g_hash_table_insert(ports, GINT_TO_POINTER(port),
                                GINT_TO_POINTER(type + 1));
        } else if (GPOINTER_TO_INT(serial_type) != (int)type + 1) {
            return vh_domain_fail(errp, VH_VIR_ERR_CONFIG_UNSUPPORTED,
                                  "<console> on serial port %d has type '%s', "
                                  "not the type of the port it shows",
                                  port, vh_domain_xml_attr(n, "type"));
        }
    }
    return true;
}

static xmlNodePtr devices_of(const VhDomainDef *def)
{
    return vh_domain_xml_child(xmlDocGetRootElement(def->doc), "devices");
}

static int port_of(xmlNodePtr n)
{
    int port = 0;

    parse_port(vh_domain_xml_attr(vh_domain_xml_child(n, "target"), "port"),
               &port);
    return port;
}

static void fill(VhDomainChr *c, xmlNodePtr n)
{
    xmlNodePtr src = vh_domain_xml_child(n, "source");

    c->is_console = vh_domain_xml_is(n, "console");
    type_of(vh_domain_xml_attr(n, "type"), &c->type);
    c->path = vh_domain_xml_attr(src, "path");
    if (c->type == VH_DOMAIN_CHR_PTY && !c->path) {
        c->path = vh_domain_xml_attr(n, "tty");
    }
    c->host = vh_domain_xml_attr(src, "host");
    c->service = vh_domain_xml_attr(src, "service");
    c->listen = g_strcmp0(vh_domain_xml_attr(src, "mode"), "bind") == 0;
    c->telnet = g_strcmp0(vh_domain_xml_attr(vh_domain_xml_child(n, "protocol"),
                                             "type"),
                          "telnet") == 0;
    c->tls = c->type == VH_DOMAIN_CHR_TCP &&
             g_strcmp0(vh_domain_xml_attr(src, "tls"), "yes") == 0;
    c->port = port_of(n);
}

GArray *vh_domain_def_get_chardevs(const VhDomainDef *def)
{
    GArray *out = g_array_new(false, true, sizeof(VhDomainChr));
    xmlNodePtr devices = devices_of(def);
    g_autoptr(GHashTable) seen = g_hash_table_new(NULL, NULL);
    const char *const kinds[] = {"serial", "console"};

    for (guint k = 0; devices && k < G_N_ELEMENTS(kinds); k++) {
        for (xmlNodePtr n = devices->children; n; n = n->next) {
            VhDomainChr c = {0};

            if (!vh_domain_xml_is(n, kinds[k])) {
                continue;
            }
            fill(&c, n);
            /* serials first, so a console finds the port it shows */
            c.mirrors_serial = !g_hash_table_add(seen, GINT_TO_POINTER(c.port));
            g_array_append_val(out, c);
        }
    }
    return out;
}

/* The pty <serial>s and <console>s of @doc on @port (-1: all of them). */
static GPtrArray *pty_nodes(xmlDocPtr doc, int port)
{
    GPtrArray *out = g_ptr_array_new();
    xmlNodePtr devices =
        vh_domain_xml_child(xmlDocGetRootElement(doc), "devices");

    for (xmlNodePtr n = devices ? devices->children : NULL; n; n = n->next) {
        VhDomainChrType type;

        if ((vh_domain_xml_is(n, "serial") || vh_domain_xml_is(n, "console")) &&
            type_of(vh_domain_xml_attr(n, "type"), &type) &&
            type == VH_DOMAIN_CHR_PTY && (port < 0 || port_of(n) == port)) {
            g_ptr_array_add(out, n);
        }
    }
    return out;
}

void vh_domain_def_set_pty_path(VhDomainDef *def, int port, const char *path)
{
    g_autoptr(GPtrArray) nodes = pty_nodes(def->doc, port);

    for (guint i = 0; i < nodes->len; i++) {
        xmlNodePtr n = g_ptr_array_index(nodes, i);
        xmlNodePtr src = vh_domain_xml_child(n, "source");

        if (!path) {
            xmlUnsetNsProp(n, NULL, BAD_CAST "tty");
            if (src) {
                xmlUnsetNsProp(src, NULL, BAD_CAST "path");
            }
            continue;
        }
        xmlSetNsProp(n, NULL, BAD_CAST "tty", BAD_CAST path);
        if (!src) {
            src = xmlNewNode(NULL, BAD_CAST "source");
            if (n->children) {
                xmlAddPrevSibling(n->children, src);
            } else {
                xmlAddChild(n, src);
            }
        }
        xmlSetNsProp(src, NULL, BAD_CAST "path", BAD_CAST path);
    }
}

void vh_domain_chr_strip_live(xmlDocPtr doc)
{
    g_autoptr(GPtrArray) nodes = pty_nodes(doc, -1);

    for (guint i = 0; i < nodes->len; i++) {
        xmlNodePtr n = g_ptr_array_index(nodes, i);
        xmlNodePtr src = vh_domain_xml_child(n, "source");

        xmlUnsetNsProp(n, NULL, BAD_CAST "tty");
        if (src) {
            xmlUnsetNsProp(src, NULL, BAD_CAST "path");
            if (!src->properties && !src->children) {
                xmlUnlinkNode(src);
                xmlFreeNode(src);
            }
        }
    }
}
