/*
 * VhgConfigDomainSerial: a live view of one <serial> or <console> element
 * of a VhgConfigDomain (the view holds a reference on the document's
 * owner). Elements and attributes it does not model stay as they are.
 */
#include "vhg-config-private.h"

struct _VhgConfigDomainSerial {
    GObject parent;
    VhgConfigDomain *conf; /* a reference: the document lives while we do */
    xmlNodePtr node;       /* NULL once removed */
};

G_DEFINE_TYPE(VhgConfigDomainSerial, vhg_config_domain_serial, G_TYPE_OBJECT)

static void vhg_config_domain_serial_finalize(GObject *obj)
{
    g_clear_object(&VHG_CONFIG_DOMAIN_SERIAL(obj)->conf);
    G_OBJECT_CLASS(vhg_config_domain_serial_parent_class)->finalize(obj);
}

static void vhg_config_domain_serial_init(VhgConfigDomainSerial *s)
{
}

static void
vhg_config_domain_serial_class_init(VhgConfigDomainSerialClass *klass)
{
    G_OBJECT_CLASS(klass)->finalize = vhg_config_domain_serial_finalize;
}

VhgConfigDomainSerial *vhg_config_domain_serial_new_view(VhgConfigDomain *conf,
                                                         xmlNodePtr node)
{
    VhgConfigDomainSerial *s =
        g_object_new(VHG_TYPE_CONFIG_DOMAIN_SERIAL, NULL);

    s->conf = g_object_ref(conf);
    s->node = node;
    return s;
}

void vhg_config_domain_serial_unlink(VhgConfigDomainSerial *s)
{
    g_return_if_fail(VHG_IS_CONFIG_DOMAIN_SERIAL(s));
    if (s->node) {
        xmlUnlinkNode(s->node);
        xmlFreeNode(s->node);
        s->node = NULL;
    }
}

static const char *const type_names[] = {
    [VHG_CONFIG_DOMAIN_SERIAL_PTY] = "pty",
    [VHG_CONFIG_DOMAIN_SERIAL_UNIX] = "unix",
    [VHG_CONFIG_DOMAIN_SERIAL_TCP] = "tcp",
};

static xmlNodePtr child(VhgConfigDomainSerial *s, const char *name, bool create)
{
    if (!s->node) {
        return NULL;
    }
    return create ? vh_domain_xml_ensure_child(s->node, name)
                  : vh_domain_xml_child(s->node, name);
}

static const char *source_attr(VhgConfigDomainSerial *s, const char *name)
{
    return vh_domain_xml_attr(child(s, "source", false), name);
}

/**
 * vhg_config_domain_serial_get_is_console:
 * @serial: a serial view
 *
 * Returns: whether this is a `<console>` rather than a `<serial>`
 */
gboolean vhg_config_domain_serial_get_is_console(VhgConfigDomainSerial *serial)
{
    g_return_val_if_fail(VHG_IS_CONFIG_DOMAIN_SERIAL(serial), FALSE);
    return vh_domain_xml_is(serial->node, "console");
}

/**
 * vhg_config_domain_serial_get_serial_type:
 * @serial: a serial view
 *
 * Returns: the type= of the device
 */
VhgConfigDomainSerialType
vhg_config_domain_serial_get_serial_type(VhgConfigDomainSerial *serial)
{
    const char *type;

    g_return_val_if_fail(VHG_IS_CONFIG_DOMAIN_SERIAL(serial),
                         VHG_CONFIG_DOMAIN_SERIAL_OTHER);
    type = vh_domain_xml_attr(serial->node, "type");
    for (guint i = 0; type && i < G_N_ELEMENTS(type_names); i++) {
        if (g_str_equal(type, type_names[i])) {
            return i;
        }
    }
    return VHG_CONFIG_DOMAIN_SERIAL_OTHER;
}

/**
 * vhg_config_domain_serial_set_serial_type:
 * @serial: a serial view
 * @type: pty, unix or tcp
 *
 * Sets type= (%VHG_CONFIG_DOMAIN_SERIAL_OTHER leaves it alone).
 */
void vhg_config_domain_serial_set_serial_type(VhgConfigDomainSerial *serial,
                                              VhgConfigDomainSerialType type)
{
    g_return_if_fail(VHG_IS_CONFIG_DOMAIN_SERIAL(serial));
    if (serial->node && type < G_N_ELEMENTS(type_names)) {
        xmlSetProp(serial->node, BAD_CAST "type", BAD_CAST type_names[type]);
    }
}

/**
 * vhg_config_domain_serial_get_target_port:
 * @serial: a serial view
 *
 * Returns: `<target port=...>`, or -1 when unset
 */
int vhg_config_domain_serial_get_target_port(VhgConfigDomainSerial *serial)
{
    const char *port;
    gint64 n;

    g_return_val_if_fail(VHG_IS_CONFIG_DOMAIN_SERIAL(serial), -1);
    port = vh_domain_xml_attr(child(serial, "target", false), "port");
    if (!port || !g_ascii_string_to_signed(port, 10, 0, G_MAXINT, &n, NULL)) {
        return -1;
    }
    return (int)n;
}

/**
 * vhg_config_domain_serial_set_target_port:
 * @serial: a serial view
 * @port: the port number (0 for the first serial port)
 *
 * Sets `<target port=...>`; a console's target also gets type='serial'
 * when it has no type.
 */
void vhg_config_domain_serial_set_target_port(VhgConfigDomainSerial *serial,
                                              int port)
{
    g_autofree char *text = g_strdup_printf("%d", port);
    xmlNodePtr target;

    g_return_if_fail(VHG_IS_CONFIG_DOMAIN_SERIAL(serial));
    target = child(serial, "target", true);
    if (!target) {
        return;
    }
    xmlSetProp(target, BAD_CAST "port", BAD_CAST text);
    if (vhg_config_domain_serial_get_is_console(serial) &&
        !vh_domain_xml_attr(target, "type")) {
        xmlSetProp(target, BAD_CAST "type", BAD_CAST "serial");
    }
}

/**
 * vhg_config_domain_serial_get_path:
 * @serial: a serial view
 *
 * Returns: (transfer none) (nullable): `<source path=...>`: a UNIX
 *   socket's path, or a running domain's pty
 */
const char *vhg_config_domain_serial_get_path(VhgConfigDomainSerial *serial)
{
    g_return_val_if_fail(VHG_IS_CONFIG_DOMAIN_SERIAL(serial), NULL);
    return source_attr(serial, "path");
}

/**
 * vhg_config_domain_serial_set_path:
 * @serial: a serial view
 * @path: a UNIX socket's path
 *
 * Sets `<source path=...>`.
 */
void vhg_config_domain_serial_set_path(VhgConfigDomainSerial *serial,
                                       const char *path)
{
    xmlNodePtr src;

    g_return_if_fail(VHG_IS_CONFIG_DOMAIN_SERIAL(serial));
    if ((src = child(serial, "source", true))) {
        xmlSetProp(src, BAD_CAST "path", BAD_CAST path);
    }
}

/**
 * vhg_config_domain_serial_get_host:
 * @serial: a serial view
 *
 * Returns: (transfer none) (nullable): a TCP port's `<source host=...>`
 */
const char *vhg_config_domain_serial_get_host(VhgConfigDomainSerial *serial)
{
    g_return_val_if_fail(VHG_IS_CONFIG_DOMAIN_SERIAL(serial), NULL);
    return source_attr(serial, "host");
}

/**
 * vhg_config_domain_serial_get_service:
 * @serial: a serial view
 *
 * Returns: (transfer none) (nullable): a TCP port's `<source service=...>`
 */
const char *vhg_config_domain_serial_get_service(VhgConfigDomainSerial *serial)
{
    g_return_val_if_fail(VHG_IS_CONFIG_DOMAIN_SERIAL(serial), NULL);
    return source_attr(serial, "service");
}

/**
 * vhg_config_domain_serial_set_host_service:
 * @serial: a serial view
 * @host: the host
 * @service: the port
 *
 * Sets a TCP port's `<source host=... service=...>`.
 */
void vhg_config_domain_serial_set_host_service(VhgConfigDomainSerial *serial,
                                               const char *host,
                                               const char *service)
{
    xmlNodePtr src;

    g_return_if_fail(VHG_IS_CONFIG_DOMAIN_SERIAL(serial));
    if ((src = child(serial, "source", true))) {
        xmlSetProp(src, BAD_CAST "host", BAD_CAST host);
        xmlSetProp(src, BAD_CAST "service", BAD_CAST service);
    }
}

/**
 * vhg_config_domain_serial_get_listen:
 * @serial: a serial view
 *
 * Returns: whether the socket listens (`<source mode='bind'>`)
 */
gboolean vhg_config_domain_serial_get_listen(VhgConfigDomainSerial *serial)
{
    g_return_val_if_fail(VHG_IS_CONFIG_DOMAIN_SERIAL(serial), FALSE);
    return g_strcmp0(source_attr(serial, "mode"), "bind") == 0;
}

/**
 * vhg_config_domain_serial_set_listen:
 * @serial: a serial view
 * @listen: %TRUE for mode='bind', %FALSE for mode='connect'
 *
 * Sets `<source mode=...>`.
 */
void vhg_config_domain_serial_set_listen(VhgConfigDomainSerial *serial,
                                         gboolean listen)
{
    xmlNodePtr src;

    g_return_if_fail(VHG_IS_CONFIG_DOMAIN_SERIAL(serial));
    if ((src = child(serial, "source", true))) {
        xmlSetProp(src, BAD_CAST "mode", BAD_CAST(listen ? "bind" : "connect"));
    }
}

/**
 * vhg_config_domain_serial_get_tls:
 * @serial: a serial view
 *
 * Returns: whether a TCP port uses TLS (`<source tls='yes'>`)
 */
gboolean vhg_config_domain_serial_get_tls(VhgConfigDomainSerial *serial)
{
    g_return_val_if_fail(VHG_IS_CONFIG_DOMAIN_SERIAL(serial), FALSE);
    return g_strcmp0(source_attr(serial, "tls"), "yes") == 0;
}

/**
 * vhg_config_domain_serial_set_tls:
 * @serial: a serial view
 * @tls: whether to use TLS
 *
 * Sets `<source tls=...>`.
 */
void vhg_config_domain_serial_set_tls(VhgConfigDomainSerial *serial,
                                      gboolean tls)
{
    xmlNodePtr src;

    g_return_if_fail(VHG_IS_CONFIG_DOMAIN_SERIAL(serial));
    if ((src = child(serial, "source", true))) {
        xmlSetProp(src, BAD_CAST "tls", BAD_CAST(tls ? "yes" : "no"));
    }
}
