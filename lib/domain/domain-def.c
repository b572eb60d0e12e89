/*
 * VhDomainDef: parse (libxml2, hardened), validate what vmhost models,
 * format, getters and setters on the document itself.
 *
 * What the parser does with the top level of <domain>:
 * - models name, uuid, title, description, memory, currentMemory, vcpu,
 *   os/type, on_poweroff, on_reboot, on_crash, devices and metadata;
 * - refuses elements that ask for resources vmhost cannot honour, so a
 *   machine is never started as something other than what was asked for:
 *   maxMemory (hotplug), memoryBacking (hugepages, locking), vcpus (vCPU
 *   hotplug), iothreads/iothreadids, numatune, cputune, launchSecurity,
 *   and the QEMU namespace's <qemu:commandline> (extra QEMU arguments);
 * - keeps everything else verbatim (features, cpu, clock, pm, sysinfo,
 *   seclabel, resource, on_lockfailure, other namespaces, ...): they
 *   describe what a hypervisor shows a guest, vmhost's test guest has no
 *   use for them, and libvirt's tools write them into every document.
 * Under <devices>: serial and console (domain-chr.c); <emulator> is
 * accepted and ignored (the daemon chooses the vmhost binary);
 * <memballoon model='none'/> is accepted (it asks for no device); every
 * other element is refused by name.
 */
#include "domain-internal.h"

#include <libxml/SAX2.h>
#include <libxml/parser.h>
#include <libxml/xmlerror.h>
#include <libxml/xmlsave.h>
#include <string.h>

#define MAX_DOC_SIZE (4 * 1024 * 1024)

#if LIBXML_VERSION >= 21200
typedef const xmlError *VhXmlErrorPtr;
#else
typedef xmlErrorPtr VhXmlErrorPtr;
#endif

/* ---- parsing ---- */

typedef struct {
    char *message; /* the first error: "line N: ..." */
} ParseErrors;

static void record_error(ParseErrors *pe, int line, const char *msg)
{
    g_autofree char *text = g_strstrip(g_strdup(msg ? msg : "parse error"));

    if (!pe->message) {
        pe->message = g_strdup_printf("line %d: %s", line, text);
    }
}

/* libxml2's per-context structured handler: nothing goes to stderr. */
static void on_xml_error(void *data, VhXmlErrorPtr err)
{
    xmlParserCtxtPtr ctxt = data;

    if (err->level >= XML_ERR_ERROR) {
        record_error(ctxt->_private, err->line, err->message);
    }
}

/* A DOCTYPE could declare entities; domain XML has none, so stop here. */
static void on_internal_subset(void *data, const xmlChar *name,
                               const xmlChar *external_id,
                               const xmlChar *system_id)
{
    xmlParserCtxtPtr ctxt = data;

    (void)name;
    (void)external_id;
    (void)system_id;
    record_error(ctxt->_private, xmlSAX2GetLineNumber(ctxt),
                 "a DOCTYPE declaration is not allowed in domain XML");
    xmlStopParser(ctxt);
}

static xmlDocPtr read_document(const char *xml, gsize len, GError **errp)
{
    static gsize initialised;
    ParseErrors pe = {NULL};
    xmlParserCtxtPtr ctxt;
    xmlDocPtr doc;
    bool ok;

    /* libxml2's global state, once, before threads share the library */
    if (g_once_init_enter(&initialised)) {
        xmlInitParser();
        g_once_init_leave(&initialised, 1);
    }
    ctxt = xmlNewParserCtxt();
    if (!ctxt) {
        vh_domain_fail(errp, VH_VIR_ERR_NO_MEMORY, "out of memory");
        return NULL;
    }
    ctxt->_private = &pe;
    ctxt->sax->serror = on_xml_error;
    ctxt->sax->internalSubset = on_internal_subset;
    /* no network, no entity substitution, no DTD loading or defaults */
    doc = xmlCtxtReadMemory(ctxt, xml, (int)len, "domain.xml", NULL,
                            XML_PARSE_NONET | XML_PARSE_NOBLANKS |
                                XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    ok = doc && ctxt->wellFormed && ctxt->nsWellFormed && !pe.message;
    if (!ok) {
        const xmlError *last = xmlCtxtGetLastError(ctxt);

        if (!pe.message) {
            record_error(&pe, last ? last->line : 0,
                         last ? last->message : "not a well-formed document");
        }
        vh_domain_fail(errp, VH_VIR_ERR_XML_ERROR, "%s", pe.message);
        xmlFreeDoc(doc);
        doc = NULL;
    }
    g_free(pe.message);
    xmlFreeParserCtxt(ctxt);
    return doc;
}

static const char *const refused_top[] = {
    "maxMemory",   "memoryBacking", "vcpus",   "iothreads",
    "iothreadids", "numatune",      "cputune", "launchSecurity",
};

static const char *const singletons[] = {
    "name",          "uuid",    "title",    "description", "memory",
    "currentMemory", "vcpu",    "os",       "on_poweroff", "on_reboot",
    "on_crash",      "devices", "metadata",
};

#define QEMU_NS "http://libvirt.org/schemas/domain/qemu/1.0"

static bool check_top_element(xmlNodePtr n, GHashTable *seen, GError **errp)
{
    const char *name = (const char *)n->name;

    if (n->ns) {
        if (n->ns->href && g_str_equal((const char *)n->ns->href, QEMU_NS) &&
            g_str_equal(name, "commandline")) {
            return vh_domain_fail(errp, VH_VIR_ERR_CONFIG_UNSUPPORTED,
                                  "<qemu:commandline> is not supported by "
                                  "vmhost (it passes no extra arguments)");
        }
        return true;
    }
    for (guint i = 0; i < G_N_ELEMENTS(refused_top); i++) {
        if (g_str_equal(name, refused_top[i])) {
            return vh_domain_fail(errp, VH_VIR_ERR_CONFIG_UNSUPPORTED,
                                  "element <%s> is not supported by vmhost",
                                  name);
        }
    }
    for (guint i = 0; i < G_N_ELEMENTS(singletons); i++) {
        if (g_str_equal(name, singletons[i])) {
            if (!g_hash_table_add(seen, (gpointer)singletons[i])) {
                return vh_domain_fail(errp, VH_VIR_ERR_XML_ERROR,
                                      "element <%s> appears more than once",
                                      name);
            }
            if (!g_str_equal(name, "os") && !g_str_equal(name, "devices") &&
                !g_str_equal(name, "metadata")) {
                vh_domain_xml_normalize_text(n);
            }
        }
    }
    return true;
}

static bool check_name(xmlNodePtr root, GError **errp)
{
    xmlNodePtr n = vh_domain_xml_child(root, "name");
    const char *name = vh_domain_xml_text(n);

    if (!n || !name[0]) {
        return vh_domain_fail(errp, VH_VIR_ERR_XML_ERROR,
                              "missing domain name: <name> is required");
    }
    if (strchr(name, '/')) {
        return vh_domain_fail(errp, VH_VIR_ERR_XML_ERROR,
                              "name '%s' cannot contain '/'", name);
    }
    return true;
}

static bool check_uuid(xmlNodePtr root, GError **errp)
{
    xmlNodePtr n = vh_domain_xml_child(root, "uuid");
    guint8 uuid[VH_DOMAIN_UUID_LEN];
    g_autofree char *text = NULL;

    if (!n) {
        vh_domain_uuid_generate(uuid);
        n = xmlNewChild(root, NULL, BAD_CAST "uuid", NULL);
        /* where libvirt prints it: right after <name> */
        xmlAddNextSibling(vh_domain_xml_child(root, "name"), n);
    } else if (!vh_domain_uuid_parse(vh_domain_xml_text(n), uuid)) {
        return vh_domain_fail(errp, VH_VIR_ERR_XML_ERROR,
                              "malformed uuid element '%s'",
                              vh_domain_xml_text(n));
    }
    text = vh_domain_uuid_format(uuid);
    vh_domain_xml_set_text(n, text);
    return true;
}

static bool check_title(xmlNodePtr root, GError **errp)
{
    if (strchr(vh_domain_xml_text(vh_domain_xml_child(root, "title")), '\n')) {
        return vh_domain_fail(errp, VH_VIR_ERR_XML_ERROR,
                              "title must not contain newlines");
    }
    return true;
}

static bool memory_kib(xmlNodePtr n, const char *what, guint64 *kib,
                       GError **errp)
{
    vh_domain_xml_normalize_attr(n, "unit");
    return vh_domain_parse_kib(what, vh_domain_xml_text(n),
                               vh_domain_xml_attr(n, "unit"), kib, errp);
}

static bool check_memory(xmlNodePtr root, GError **errp)
{
    xmlNodePtr mem = vh_domain_xml_child(root, "memory");
    xmlNodePtr cur = vh_domain_xml_child(root, "currentMemory");
    guint64 max, now;

    if (!mem) {
        return vh_domain_fail(errp, VH_VIR_ERR_XML_ERROR,
                              "missing memory size: <memory> is required");
    }
    if (!memory_kib(mem, "memory", &max, errp)) {
        return false;
    }
    if (max == 0) {
        return vh_domain_fail(errp, VH_VIR_ERR_XML_ERROR,
                              "memory size must be greater than zero");
    }
    if (cur) {
        if (!memory_kib(cur, "currentMemory", &now, errp)) {
            return false;
        }
        if (now > max) {
            return vh_domain_fail(errp, VH_VIR_ERR_XML_ERROR,
                                  "currentMemory (%" G_GUINT64_FORMAT
                                  " KiB) is larger than "
                                  "memory (%" G_GUINT64_FORMAT " KiB)",
                                  now, max);
        }
    }
    return true;
}

static bool parse_count(const char *text, guint64 max, guint64 *out)
{
    g_autofree char *s = g_strstrip(g_strdup(text));
    char *end = NULL;

    if (!g_ascii_isdigit(s[0])) {
        return false;
    }
    *out = g_ascii_strtoull(s, &end, 10);
    return *end == '\0' && *out >= 1 && *out <= max;
}

static bool check_vcpu(xmlNodePtr root, GError **errp)
{
    xmlNodePtr n = vh_domain_xml_child(root, "vcpu");
    guint64 v;

    if (n && !parse_count(vh_domain_xml_text(n), 4096, &v)) {
        return vh_domain_fail(errp, VH_VIR_ERR_XML_ERROR,
                              "invalid vcpu count '%s' (expected 1 to 4096)",
                              vh_domain_xml_text(n));
    }
    return true;
}

static bool check_os(xmlNodePtr root, GError **errp)
{
    xmlNodePtr type =
        vh_domain_xml_child(vh_domain_xml_child(root, "os"), "type");
    const char *t;

    if (!type) {
        return true; /* hvm: the only kind there is */
    }
    vh_domain_xml_normalize_text(type);
    t = vh_domain_xml_text(type);
    if (!g_str_equal(t, "hvm")) {
        return vh_domain_fail(errp, VH_VIR_ERR_CONFIG_UNSUPPORTED,
                              "os type '%s' is not supported by vmhost (only "
                              "'hvm')",
                              t);
    }
    return true;
}

static bool check_lifecycle(xmlNodePtr root, const char *what, bool crash,
                            GError **errp)
{
    static const char *const actions[] = {
        "destroy",        "restart",          "preserve",
        "rename-restart", "coredump-destroy", "coredump-restart",
    };
    xmlNodePtr n = vh_domain_xml_child(root, what);
    const char *v = vh_domain_xml_text(n);
    guint limit = crash ? G_N_ELEMENTS(actions) : 4;

    if (!n) {
        return true;
    }
    for (guint i = 0; i < limit; i++) {
        if (g_str_equal(v, actions[i])) {
            return true;
        }
    }
    return vh_domain_fail(errp, VH_VIR_ERR_XML_ERROR, "invalid %s action '%s'",
                          what, v);
}

static bool check_devices(xmlNodePtr root, GError **errp)
{
    xmlNodePtr devices = vh_domain_xml_child(root, "devices");

    if (!devices) {
        return true;
    }
    for (xmlNodePtr n = devices->children; n; n = n->next) {
        if (n->type != XML_ELEMENT_NODE || vh_domain_xml_is(n, "serial") ||
            vh_domain_xml_is(n, "console") || vh_domain_xml_is(n, "emulator")) {
            continue;
        }
        if (vh_domain_xml_is(n, "memballoon")) {
            vh_domain_xml_normalize_attr(n, "model");
            if (g_strcmp0(vh_domain_xml_attr(n, "model"), "none") == 0) {
                continue;
            }
        }
        return vh_domain_fail_device(errp, (const char *)n->name);
    }
    return vh_domain_chr_validate(devices, errp);
}

static bool check_type(xmlNodePtr root, GError **errp)
{
    const char *type;

    vh_domain_xml_normalize_attr(root, "type");
    type = vh_domain_xml_attr(root, "type");
    if (!type) {
        return vh_domain_fail(errp, VH_VIR_ERR_XML_ERROR,
                              "missing domain type attribute "
                              "(<domain type='vmhost'>)");
    }
    if (!g_str_equal(type, "vmhost") && !g_str_equal(type, "kvm") &&
        !g_str_equal(type, "qemu")) {
        return vh_domain_fail(errp, VH_VIR_ERR_CONFIG_UNSUPPORTED,
                              "domain type '%s' is not supported by vmhost "
                              "(use 'vmhost', 'kvm' or 'qemu')",
                              type);
    }
    return true;
}

static bool validate(xmlDocPtr doc, GError **errp)
{
    xmlNodePtr root = xmlDocGetRootElement(doc);
    g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);

    if (root && root->ns && g_str_equal((const char *)root->name, "domain")) {
        return vh_domain_fail(errp, VH_VIR_ERR_XML_ERROR,
                              "<domain> must be in no namespace (found '%s')",
                              root->ns->href ? (const char *)root->ns->href
                                             : "");
    }
    if (!vh_domain_xml_is(root, "domain")) {
        return vh_domain_fail(errp, VH_VIR_ERR_XML_ERROR,
                              "expected the root element <domain>, not <%s>",
                              root ? (const char *)root->name : "");
    }
    if (!check_type(root, errp)) {
        return false;
    }
    for (xmlNodePtr n = root->children; n; n = n->next) {
        if (n->type == XML_ELEMENT_NODE && !check_top_element(n, seen, errp)) {
            return false;
        }
    }
    return check_name(root, errp) && check_uuid(root, errp) &&
           check_title(root, errp) && check_memory(root, errp) &&
           check_vcpu(root, errp) && check_os(root, errp) &&
           check_lifecycle(root, "on_poweroff", false, errp) &&
           check_lifecycle(root, "on_reboot", false, errp) &&
           check_lifecycle(root, "on_crash", true, errp) &&
           check_devices(root, errp);
}

VhDomainDef *vh_domain_def_parse(const char *xml, gssize len, guint flags,
                                 GError **errp)
{
    g_autoptr(VhDomainDef) def = NULL;
    gsize size;
    xmlDocPtr doc;

    g_return_val_if_fail(xml != NULL, NULL);
    g_return_val_if_fail(flags == 0, NULL);

    size = len < 0 ? strnlen(xml, MAX_DOC_SIZE + 1) : (gsize)len;
    if (size > MAX_DOC_SIZE) {
        vh_domain_fail(errp, VH_VIR_ERR_XML_ERROR,
                       "the document is larger than the limit of %d bytes",
                       MAX_DOC_SIZE);
        return NULL;
    }
    doc = read_document(xml, size, errp);
    if (!doc) {
        return NULL;
    }
    def = g_new0(VhDomainDef, 1);
    def->doc = doc;
    if (!validate(doc, errp)) {
        return NULL;
    }
    return g_steal_pointer(&def);
}

void vh_domain_def_free(VhDomainDef *def)
{
    if (def) {
        xmlFreeDoc(def->doc);
        g_free(def);
    }
}

VhDomainDef *vh_domain_def_copy(const VhDomainDef *def)
{
    VhDomainDef *copy = g_new0(VhDomainDef, 1);

    copy->doc = xmlCopyDoc(def->doc, 1);
    return copy;
}

/* ---- formatting ---- */

char *vh_domain_def_format(const VhDomainDef *def, guint flags)
{
    xmlDocPtr doc = def->doc;
    xmlBufferPtr buf = xmlBufferCreate();
    xmlSaveCtxtPtr save;
    GString *out;

    if (flags & VH_DOMAIN_XML_INACTIVE) {
        doc = xmlCopyDoc(def->doc, 1);
        xmlUnsetNsProp(xmlDocGetRootElement(doc), NULL, BAD_CAST "id");
        vh_domain_chr_strip_live(doc);
    }
    save = xmlSaveToBuffer(buf, "UTF-8", XML_SAVE_FORMAT | XML_SAVE_NO_DECL);
    xmlSaveTree(save, xmlDocGetRootElement(doc));
    xmlSaveClose(save);
    out = g_string_new_len((const char *)xmlBufferContent(buf),
                           xmlBufferLength(buf));
    if (!g_str_has_suffix(out->str, "\n")) {
        g_string_append_c(out, '\n');
    }
    xmlBufferFree(buf);
    if (doc != def->doc) {
        xmlFreeDoc(doc);
    }
    return g_string_free(out, false);
}

gpointer vh_domain_def_get_xml_doc(VhDomainDef *def)
{
    return def->doc;
}
