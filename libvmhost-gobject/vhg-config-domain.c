/*
 * VhgConfigDomain: the libxml2 document of a domain and typed views on it,
 * with lib/domain's node helpers and units. Parsing here is lenient (a
 * client shows whatever a server sends: libvirtd's documents have disks
 * and interfaces vmhost does not run); vmhostd validates what it is given.
 */
#include "vhg-config-private.h"

#include <libxml/parser.h>
#include <libxml/xmlsave.h>
#include <string.h>

#define MAX_DOC_SIZE (4 * 1024 * 1024)

#if LIBXML_VERSION >= 21200
typedef const xmlError *VhgXmlErrorPtr;
#else
typedef xmlErrorPtr VhgXmlErrorPtr;
#endif

struct _VhgConfigDomain {
    GObject parent;
    xmlDocPtr doc;
    char *uuid_cache;
};

G_DEFINE_TYPE(VhgConfigDomain, vhg_config_domain, G_TYPE_OBJECT)

static void vhg_config_domain_finalize(GObject *obj)
{
    VhgConfigDomain *conf = VHG_CONFIG_DOMAIN(obj);

    xmlFreeDoc(conf->doc);
    g_free(conf->uuid_cache);
    G_OBJECT_CLASS(vhg_config_domain_parent_class)->finalize(obj);
}

static void vhg_config_domain_init(VhgConfigDomain *conf)
{
}

static void vhg_config_domain_class_init(VhgConfigDomainClass *klass)
{
    G_OBJECT_CLASS(klass)->finalize = vhg_config_domain_finalize;
}

xmlNodePtr vhg_config_domain_root(VhgConfigDomain *conf)
{
    return xmlDocGetRootElement(conf->doc);
}

/* ---- parsing, with the line and column of the first error ---- */

typedef struct {
    char *message;
} ParseError;

static void on_xml_error(void *data, VhgXmlErrorPtr err)
{
    xmlParserCtxtPtr ctxt = data;
    ParseError *pe = ctxt->_private;

    if (err->level >= XML_ERR_ERROR && !pe->message) {
        g_autofree char *msg = g_strstrip(g_strdup(err->message));

        pe->message = g_strdup_printf("line %d, column %d: %s", err->line,
                                      err->int2, msg);
    }
}

static void on_internal_subset(void *data, const xmlChar *name,
                               const xmlChar *external_id,
                               const xmlChar *system_id)
{
    xmlParserCtxtPtr ctxt = data;
    ParseError *pe = ctxt->_private;

    if (!pe->message) {
        pe->message = g_strdup_printf(
            "line %d, column %d: a DOCTYPE declaration is not allowed",
            xmlSAX2GetLineNumber(ctxt), xmlSAX2GetColumnNumber(ctxt));
    }
    xmlStopParser(ctxt);
}

/* A document from @xml; XML_ERROR naming the line and column on failure. */
xmlDocPtr vhg_xml_read(const char *xml, const char *what, GError **error)
{
    static gsize initialised;
    ParseError pe = {NULL};
    xmlParserCtxtPtr ctxt;
    xmlDocPtr doc;
    gsize len = strnlen(xml, MAX_DOC_SIZE + 1);

    if (len > MAX_DOC_SIZE) {
        g_set_error(error, VHG_ERROR, VHG_ERROR_XML_ERROR,
                    "XML error: %s is larger than %d bytes", what,
                    MAX_DOC_SIZE);
        return NULL;
    }
    if (g_once_init_enter(&initialised)) {
        xmlInitParser();
        g_once_init_leave(&initialised, 1);
    }
    ctxt = xmlNewParserCtxt();
    if (!ctxt) {
        g_set_error(error, VHG_ERROR, VHG_ERROR_NO_MEMORY, "out of memory");
        return NULL;
    }
    ctxt->_private = &pe;
    ctxt->sax->serror = on_xml_error;
    ctxt->sax->internalSubset = on_internal_subset;
    doc = xmlCtxtReadMemory(ctxt, xml, (int)len, what, NULL,
                            XML_PARSE_NONET | XML_PARSE_NOBLANKS |
                                XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!doc || !ctxt->wellFormed || pe.message) {
        if (!pe.message) {
            const xmlError *last = xmlCtxtGetLastError(ctxt);

            pe.message = g_strdup_printf(
                "line %d, column %d: %s", last ? last->line : 0,
                last ? last->int2 : 0,
                last && last->message ? g_strstrip(last->message)
                                      : "not a well-formed document");
        }
        g_set_error(error, VHG_ERROR, VHG_ERROR_XML_ERROR,
                    "XML error in %s: %s", what, pe.message);
        xmlFreeDoc(doc);
        doc = NULL;
    }
    g_free(pe.message);
    xmlFreeParserCtxt(ctxt);
    return doc;
}

/**
 * vhg_config_domain_new:
 *
 * An empty domain document, `<domain type='vmhost'/>`, to fill in with the
 * setters.
 *
 * Returns: (transfer full): the new configuration
 */
VhgConfigDomain *vhg_config_domain_new(void)
{
    VhgConfigDomain *conf = g_object_new(VHG_TYPE_CONFIG_DOMAIN, NULL);
    xmlNodePtr root;

    conf->doc = xmlNewDoc(BAD_CAST "1.0");
    root = xmlNewDocNode(conf->doc, NULL, BAD_CAST "domain", NULL);
    xmlDocSetRootElement(conf->doc, root);
    xmlSetProp(root, BAD_CAST "type", BAD_CAST "vmhost");
    return conf;
}

/**
 * vhg_config_domain_new_from_xml:
 * @xml: a domain XML document
 * @error: return location for a #GError
 *
 * Parses @xml. Everything in it is kept, modelled or not. A malformed
 * document fails with %VHG_ERROR_XML_ERROR naming the line and column of
 * the first error; the root must be `<domain>`.
 *
 * Returns: (transfer full) (nullable): the configuration, or %NULL on error
 */
VhgConfigDomain *vhg_config_domain_new_from_xml(const char *xml, GError **error)
{
    VhgConfigDomain *conf;
    xmlDocPtr doc;
    xmlNodePtr root;

    g_return_val_if_fail(xml != NULL, NULL);
    doc = vhg_xml_read(xml, "domain.xml", error);
    if (!doc) {
        return NULL;
    }
    root = xmlDocGetRootElement(doc);
    if (!vh_domain_xml_is(root, "domain")) {
        g_set_error(error, VHG_ERROR, VHG_ERROR_XML_ERROR,
                    "XML error: expected the root element <domain>, not <%s>",
                    root ? (const char *)root->name : "");
        xmlFreeDoc(doc);
        return NULL;
    }
    conf = g_object_new(VHG_TYPE_CONFIG_DOMAIN, NULL);
    conf->doc = doc;
    return conf;
}

char *vhg_config_domain_format(VhgConfigDomain *conf)
{
    xmlBufferPtr buf = xmlBufferCreate();
    xmlSaveCtxtPtr save;
    char *out;

    save = xmlSaveToBuffer(buf, "UTF-8", XML_SAVE_FORMAT | XML_SAVE_NO_DECL);
    xmlSaveTree(save, vhg_config_domain_root(conf));
    xmlSaveClose(save);
    out = g_strndup((const char *)xmlBufferContent(buf), xmlBufferLength(buf));
    xmlBufferFree(buf);
    return out;
}

/**
 * vhg_config_domain_to_xml:
 * @conf: a configuration
 *
 * Returns: (transfer full): the document as text
 */
char *vhg_config_domain_to_xml(VhgConfigDomain *conf)
{
    g_return_val_if_fail(VHG_IS_CONFIG_DOMAIN(conf), NULL);
    return vhg_config_domain_format(conf);
}

/* ---- simple elements ---- */

static const char *child_text(VhgConfigDomain *conf, const char *name)
{
    xmlNodePtr n = vh_domain_xml_child(vhg_config_domain_root(conf), name);

    return n ? vh_domain_xml_text(n) : NULL;
}

static void set_child_text(VhgConfigDomain *conf, const char *name,
                           const char *text)
{
    xmlNodePtr root = vhg_config_domain_root(conf);
    xmlNodePtr n = vh_domain_xml_child(root, name);

    if (!text) {
        if (n) {
            xmlUnlinkNode(n);
            xmlFreeNode(n);
        }
        return;
    }
    vh_domain_xml_set_text(n ? n : xmlNewChild(root, NULL, BAD_CAST name, NULL),
                           text);
}

/**
 * vhg_config_domain_get_name:
 * @conf: a configuration
 *
 * Returns: (transfer none) (nullable): the name, valid until the next edit
 */
const char *vhg_config_domain_get_name(VhgConfigDomain *conf)
{
    g_return_val_if_fail(VHG_IS_CONFIG_DOMAIN(conf), NULL);
    return child_text(conf, "name");
}

/**
 * vhg_config_domain_set_name:
 * @conf: a configuration
 * @name: the domain's name
 *
 * Sets `<name>`.
 */
void vhg_config_domain_set_name(VhgConfigDomain *conf, const char *name)
{
    g_return_if_fail(VHG_IS_CONFIG_DOMAIN(conf));
    g_return_if_fail(name != NULL);
    set_child_text(conf, "name", name);
}

/**
 * vhg_config_domain_get_uuid:
 * @conf: a configuration
 *
 * Returns: (transfer none) (nullable): the UUID in its text form, or %NULL
 *   when the document has none (the server then makes one)
 */
const char *vhg_config_domain_get_uuid(VhgConfigDomain *conf)
{
    const char *text;
    guint8 uuid[VH_DOMAIN_UUID_LEN];

    g_return_val_if_fail(VHG_IS_CONFIG_DOMAIN(conf), NULL);
    text = child_text(conf, "uuid");
    if (!text) {
        return NULL;
    }
    g_clear_pointer(&conf->uuid_cache, g_free);
    /* in the canonical form, whatever spelling the document uses */
    if (vh_domain_uuid_parse(text, uuid)) {
        conf->uuid_cache = vh_domain_uuid_format(uuid);
        return conf->uuid_cache;
    }
    return text;
}

/**
 * vhg_config_domain_set_uuid:
 * @conf: a configuration
 * @uuid: (nullable): a UUID in its text form, or %NULL to remove it
 *
 * Sets `<uuid>`.
 */
void vhg_config_domain_set_uuid(VhgConfigDomain *conf, const char *uuid)
{
    g_return_if_fail(VHG_IS_CONFIG_DOMAIN(conf));
    set_child_text(conf, "uuid", uuid);
}

/**
 * vhg_config_domain_get_title:
 * @conf: a configuration
 *
 * Returns: (transfer none) (nullable): the title, or %NULL
 */
const char *vhg_config_domain_get_title(VhgConfigDomain *conf)
{
    g_return_val_if_fail(VHG_IS_CONFIG_DOMAIN(conf), NULL);
    return child_text(conf, "title");
}

/**
 * vhg_config_domain_set_title:
 * @conf: a configuration
 * @title: (nullable): a one-line title, or %NULL to remove it
 *
 * Sets `<title>`.
 */
void vhg_config_domain_set_title(VhgConfigDomain *conf, const char *title)
{
    g_return_if_fail(VHG_IS_CONFIG_DOMAIN(conf));
    set_child_text(conf, "title", title);
}

/**
 * vhg_config_domain_get_description:
 * @conf: a configuration
 *
 * Returns: (transfer none) (nullable): the description, or %NULL
 */
const char *vhg_config_domain_get_description(VhgConfigDomain *conf)
{
    g_return_val_if_fail(VHG_IS_CONFIG_DOMAIN(conf), NULL);
    return child_text(conf, "description");
}

/**
 * vhg_config_domain_set_description:
 * @conf: a configuration
 * @description: (nullable): the text, or %NULL to remove it
 *
 * Sets `<description>`.
 */
void vhg_config_domain_set_description(VhgConfigDomain *conf,
                                       const char *description)
{
    g_return_if_fail(VHG_IS_CONFIG_DOMAIN(conf));
    set_child_text(conf, "description", description);
}

static guint64 get_kib(VhgConfigDomain *conf, const char *name)
{
    xmlNodePtr n = vh_domain_xml_child(vhg_config_domain_root(conf), name);
    guint64 kib = 0;

    if (n && !vh_domain_parse_kib(name, vh_domain_xml_text(n),
                                  vh_domain_xml_attr(n, "unit"), &kib, NULL)) {
        return 0;
    }
    return kib;
}

static void set_kib(VhgConfigDomain *conf, const char *name, guint64 kib)
{
    xmlNodePtr n =
        vh_domain_xml_ensure_child(vhg_config_domain_root(conf), name);
    g_autofree char *text = g_strdup_printf("%" G_GUINT64_FORMAT, kib);

    vh_domain_xml_set_text(n, text);
    xmlSetProp(n, BAD_CAST "unit", BAD_CAST "KiB");
}

/**
 * vhg_config_domain_get_memory:
 * @conf: a configuration
 *
 * Returns: `<memory>` in KiB (whatever unit the document uses), 0 if unset
 */
guint64 vhg_config_domain_get_memory(VhgConfigDomain *conf)
{
    g_return_val_if_fail(VHG_IS_CONFIG_DOMAIN(conf), 0);
    return get_kib(conf, "memory");
}

/**
 * vhg_config_domain_set_memory:
 * @conf: a configuration
 * @kib: the memory size in KiB
 *
 * Sets `<memory unit='KiB'>`.
 */
void vhg_config_domain_set_memory(VhgConfigDomain *conf, guint64 kib)
{
    g_return_if_fail(VHG_IS_CONFIG_DOMAIN(conf));
    set_kib(conf, "memory", kib);
}

/**
 * vhg_config_domain_get_current_memory:
 * @conf: a configuration
 *
 * Returns: `<currentMemory>` in KiB, 0 if unset
 */
guint64 vhg_config_domain_get_current_memory(VhgConfigDomain *conf)
{
    g_return_val_if_fail(VHG_IS_CONFIG_DOMAIN(conf), 0);
    return get_kib(conf, "currentMemory");
}

/**
 * vhg_config_domain_set_current_memory:
 * @conf: a configuration
 * @kib: the current memory in KiB
 *
 * Sets `<currentMemory unit='KiB'>`.
 */
void vhg_config_domain_set_current_memory(VhgConfigDomain *conf, guint64 kib)
{
    g_return_if_fail(VHG_IS_CONFIG_DOMAIN(conf));
    set_kib(conf, "currentMemory", kib);
}

/**
 * vhg_config_domain_get_vcpus:
 * @conf: a configuration
 *
 * Returns: `<vcpu>`, 1 if unset
 */
guint vhg_config_domain_get_vcpus(VhgConfigDomain *conf)
{
    const char *text;
    guint64 n;

    g_return_val_if_fail(VHG_IS_CONFIG_DOMAIN(conf), 0);
    text = child_text(conf, "vcpu");
    if (!text ||
        !g_ascii_string_to_unsigned(text, 10, 1, G_MAXUINT, &n, NULL)) {
        return 1;
    }
    return (guint)n;
}

/**
 * vhg_config_domain_set_vcpus:
 * @conf: a configuration
 * @vcpus: the number of virtual CPUs
 *
 * Sets `<vcpu>`.
 */
void vhg_config_domain_set_vcpus(VhgConfigDomain *conf, guint vcpus)
{
    g_autofree char *text = g_strdup_printf("%u", vcpus);

    g_return_if_fail(VHG_IS_CONFIG_DOMAIN(conf));
    set_child_text(conf, "vcpu", text);
}

/**
 * vhg_config_domain_get_os_type:
 * @conf: a configuration
 *
 * Returns: (transfer none) (nullable): `<os><type>`, e.g. "hvm"
 */
const char *vhg_config_domain_get_os_type(VhgConfigDomain *conf)
{
    xmlNodePtr os;

    g_return_val_if_fail(VHG_IS_CONFIG_DOMAIN(conf), NULL);
    os = vh_domain_xml_child(vhg_config_domain_root(conf), "os");
    os = vh_domain_xml_child(os, "type");
    return os ? vh_domain_xml_text(os) : NULL;
}

/**
 * vhg_config_domain_set_os_type:
 * @conf: a configuration
 * @type: the OS type, e.g. "hvm"
 *
 * Sets `<os><type>`, keeping what else `<os>` holds.
 */
void vhg_config_domain_set_os_type(VhgConfigDomain *conf, const char *type)
{
    xmlNodePtr os;

    g_return_if_fail(VHG_IS_CONFIG_DOMAIN(conf));
    os = vh_domain_xml_ensure_child(vhg_config_domain_root(conf), "os");
    vh_domain_xml_set_text(vh_domain_xml_ensure_child(os, "type"), type);
}

/**
 * vhg_config_domain_get_virt_type:
 * @conf: a configuration
 *
 * Returns: (transfer none) (nullable): `<domain type=...>`, e.g. "vmhost"
 */
const char *vhg_config_domain_get_virt_type(VhgConfigDomain *conf)
{
    g_return_val_if_fail(VHG_IS_CONFIG_DOMAIN(conf), NULL);
    return vh_domain_xml_attr(vhg_config_domain_root(conf), "type");
}

/**
 * vhg_config_domain_set_virt_type:
 * @conf: a configuration
 * @type: the hypervisor type, e.g. "vmhost", "kvm" or "test"
 *
 * Sets `<domain type=...>`.
 */
void vhg_config_domain_set_virt_type(VhgConfigDomain *conf, const char *type)
{
    g_return_if_fail(VHG_IS_CONFIG_DOMAIN(conf));
    xmlSetProp(vhg_config_domain_root(conf), BAD_CAST "type", BAD_CAST type);
}

/**
 * vhg_config_domain_get_on_poweroff:
 * @conf: a configuration
 *
 * Returns: (transfer none) (nullable): `<on_poweroff>`, or %NULL (libvirt's
 *   default: destroy)
 */
const char *vhg_config_domain_get_on_poweroff(VhgConfigDomain *conf)
{
    g_return_val_if_fail(VHG_IS_CONFIG_DOMAIN(conf), NULL);
    return child_text(conf, "on_poweroff");
}

/**
 * vhg_config_domain_set_on_poweroff:
 * @conf: a configuration
 * @action: (nullable): destroy, restart, preserve or rename-restart; %NULL
 *   removes it
 *
 * Sets `<on_poweroff>`.
 */
void vhg_config_domain_set_on_poweroff(VhgConfigDomain *conf,
                                       const char *action)
{
    g_return_if_fail(VHG_IS_CONFIG_DOMAIN(conf));
    set_child_text(conf, "on_poweroff", action);
}

/**
 * vhg_config_domain_get_on_crash:
 * @conf: a configuration
 *
 * Returns: (transfer none) (nullable): `<on_crash>`, or %NULL
 */
const char *vhg_config_domain_get_on_crash(VhgConfigDomain *conf)
{
    g_return_val_if_fail(VHG_IS_CONFIG_DOMAIN(conf), NULL);
    return child_text(conf, "on_crash");
}

/**
 * vhg_config_domain_set_on_crash:
 * @conf: a configuration
 * @action: (nullable): the action, or %NULL to remove it
 *
 * Sets `<on_crash>`.
 */
void vhg_config_domain_set_on_crash(VhgConfigDomain *conf, const char *action)
{
    g_return_if_fail(VHG_IS_CONFIG_DOMAIN(conf));
    set_child_text(conf, "on_crash", action);
}

/**
 * vhg_config_domain_get_on_reboot:
 * @conf: a configuration
 *
 * Returns: (transfer none) (nullable): `<on_reboot>`, or %NULL (libvirt's
 *   default: restart)
 */
const char *vhg_config_domain_get_on_reboot(VhgConfigDomain *conf)
{
    g_return_val_if_fail(VHG_IS_CONFIG_DOMAIN(conf), NULL);
    return child_text(conf, "on_reboot");
}

/**
 * vhg_config_domain_set_on_reboot:
 * @conf: a configuration
 * @action: (nullable): destroy, restart, preserve or rename-restart; %NULL
 *   removes it
 *
 * Sets `<on_reboot>`.
 */
void vhg_config_domain_set_on_reboot(VhgConfigDomain *conf, const char *action)
{
    g_return_if_fail(VHG_IS_CONFIG_DOMAIN(conf));
    set_child_text(conf, "on_reboot", action);
}

/* ---- serial ports and consoles ---- */

/**
 * vhg_config_domain_get_serials:
 * @conf: a configuration
 *
 * The `<serial>` and `<console>` devices, in document order, as live views.
 *
 * Returns: (transfer full) (element-type VhgConfigDomainSerial): the devices
 */
GList *vhg_config_domain_get_serials(VhgConfigDomain *conf)
{
    GList *list = NULL;
    xmlNodePtr devices;

    g_return_val_if_fail(VHG_IS_CONFIG_DOMAIN(conf), NULL);
    devices = vh_domain_xml_child(vhg_config_domain_root(conf), "devices");
    for (xmlNodePtr n = devices ? devices->children : NULL; n; n = n->next) {
        if (vh_domain_xml_is(n, "serial") || vh_domain_xml_is(n, "console")) {
            list = g_list_prepend(list,
                                  vhg_config_domain_serial_new_view(conf, n));
        }
    }
    return g_list_reverse(list);
}

static VhgConfigDomainSerial *add_chr(VhgConfigDomain *conf, const char *elem,
                                      VhgConfigDomainSerialType type)
{
    xmlNodePtr devices =
        vh_domain_xml_ensure_child(vhg_config_domain_root(conf), "devices");
    xmlNodePtr n = xmlNewChild(devices, NULL, BAD_CAST elem, NULL);
    VhgConfigDomainSerial *s = vhg_config_domain_serial_new_view(conf, n);

    vhg_config_domain_serial_set_serial_type(s, type);
    return s;
}

/**
 * vhg_config_domain_add_serial:
 * @conf: a configuration
 * @type: the kind of port
 *
 * Appends a `<serial type=...>` to `<devices>`.
 *
 * Returns: (transfer full): a live view of the new port
 */
VhgConfigDomainSerial *
vhg_config_domain_add_serial(VhgConfigDomain *conf,
                             VhgConfigDomainSerialType type)
{
    g_return_val_if_fail(VHG_IS_CONFIG_DOMAIN(conf), NULL);
    return add_chr(conf, "serial", type);
}

/**
 * vhg_config_domain_add_console:
 * @conf: a configuration
 * @type: the kind of console
 *
 * Appends a `<console type=...>` to `<devices>` (with target port 0 it
 * shows the first serial port, as libvirt's consoles do).
 *
 * Returns: (transfer full): a live view of the new console
 */
VhgConfigDomainSerial *
vhg_config_domain_add_console(VhgConfigDomain *conf,
                              VhgConfigDomainSerialType type)
{
    g_return_val_if_fail(VHG_IS_CONFIG_DOMAIN(conf), NULL);
    return add_chr(conf, "console", type);
}

/**
 * vhg_config_domain_remove_serial:
 * @conf: a configuration
 * @serial: a view from this configuration
 *
 * Removes the device from the document; @serial must not be used again.
 */
void vhg_config_domain_remove_serial(VhgConfigDomain *conf,
                                     VhgConfigDomainSerial *serial)
{
    g_return_if_fail(VHG_IS_CONFIG_DOMAIN(conf));
    vhg_config_domain_serial_unlink(serial);
}

/* ---- metadata in other namespaces ---- */

static xmlNodePtr find_custom(VhgConfigDomain *conf, const char *ns_uri)
{
    xmlNodePtr md =
        vh_domain_xml_child(vhg_config_domain_root(conf), "metadata");

    for (xmlNodePtr n = md ? md->children : NULL; n; n = n->next) {
        if (n->type == XML_ELEMENT_NODE && n->ns && n->ns->href &&
            g_str_equal((const char *)n->ns->href, ns_uri)) {
            return n;
        }
    }
    return NULL;
}

/**
 * vhg_config_domain_get_custom_xml:
 * @conf: a configuration
 * @ns_uri: the namespace URI of an application's metadata
 *
 * The element in `<metadata>` that is in the namespace @ns_uri.
 *
 * Returns: (transfer full) (nullable): the element as XML text, or %NULL
 */
char *vhg_config_domain_get_custom_xml(VhgConfigDomain *conf,
                                       const char *ns_uri)
{
    xmlNodePtr n;
    xmlBufferPtr buf;
    char *out;

    g_return_val_if_fail(VHG_IS_CONFIG_DOMAIN(conf), NULL);
    g_return_val_if_fail(ns_uri != NULL, NULL);
    n = find_custom(conf, ns_uri);
    if (!n) {
        return NULL;
    }
    buf = xmlBufferCreate();
    xmlNodeDump(buf, conf->doc, n, 0, 0);
    out = g_strndup((const char *)xmlBufferContent(buf), xmlBufferLength(buf));
    xmlBufferFree(buf);
    return out;
}

/* Put @n and its descendants that have no namespace into @ns. */
static void set_ns_deep(xmlNodePtr n, xmlNsPtr ns)
{
    for (; n; n = n->next) {
        if (n->type == XML_ELEMENT_NODE) {
            if (!n->ns) {
                xmlSetNs(n, ns);
            }
            set_ns_deep(n->children, ns);
        }
    }
}

/**
 * vhg_config_domain_set_custom_xml:
 * @conf: a configuration
 * @xml: (nullable): one XML element, or %NULL to remove the namespace's
 *   element
 * @ns_prefix: the prefix to write the namespace with
 * @ns_uri: the namespace URI
 * @error: return location for a #GError
 *
 * Replaces the element of namespace @ns_uri in `<metadata>` with @xml (put
 * into that namespace), as libvirt's virDomainSetMetadata does.
 *
 * Returns: whether @xml was well-formed (%VHG_ERROR_XML_ERROR with the
 *   line and column otherwise)
 */
gboolean vhg_config_domain_set_custom_xml(VhgConfigDomain *conf,
                                          const char *xml,
                                          const char *ns_prefix,
                                          const char *ns_uri, GError **error)
{
    xmlDocPtr frag = NULL;
    xmlNodePtr old, md, copy;
    xmlNsPtr ns;

    g_return_val_if_fail(VHG_IS_CONFIG_DOMAIN(conf), FALSE);
    g_return_val_if_fail(ns_prefix != NULL && ns_uri != NULL, FALSE);
    if (xml && !(frag = vhg_xml_read(xml, "metadata", error))) {
        return FALSE;
    }
    while ((old = find_custom(conf, ns_uri))) {
        xmlUnlinkNode(old);
        xmlFreeNode(old);
    }
    if (!frag) {
        return TRUE;
    }
    md = vh_domain_xml_ensure_child(vhg_config_domain_root(conf), "metadata");
    copy = xmlDocCopyNode(xmlDocGetRootElement(frag), conf->doc, 1);
    xmlFreeDoc(frag);
    xmlAddChild(md, copy);
    ns = xmlNewNs(copy, BAD_CAST ns_uri, BAD_CAST ns_prefix);
    xmlSetNs(copy, ns);
    set_ns_deep(copy->children, ns);
    return TRUE;
}
