/* libxml2 helpers shared by lib/domain's files (domain-internal.h). */
#include "domain-internal.h"

#include <stdarg.h>
#include <string.h>

bool vh_domain_xml_is(xmlNodePtr node, const char *name)
{
    return node && node->type == XML_ELEMENT_NODE && node->ns == NULL &&
           g_str_equal((const char *)node->name, name);
}

xmlNodePtr vh_domain_xml_child(xmlNodePtr parent, const char *name)
{
    if (!parent) {
        return NULL;
    }
    for (xmlNodePtr n = parent->children; n; n = n->next) {
        if (vh_domain_xml_is(n, name)) {
            return n;
        }
    }
    return NULL;
}

xmlNodePtr vh_domain_xml_ensure_child(xmlNodePtr parent, const char *name)
{
    xmlNodePtr n = vh_domain_xml_child(parent, name);

    return n ? n : xmlNewChild(parent, NULL, BAD_CAST name, NULL);
}

const char *vh_domain_xml_attr(xmlNodePtr node, const char *name)
{
    xmlAttrPtr a = node ? xmlHasNsProp(node, BAD_CAST name, NULL) : NULL;

    if (!a || a->type != XML_ATTRIBUTE_NODE) {
        return NULL;
    }
    if (!a->children) {
        return "";
    }
    return (const char *)a->children->content;
}

const char *vh_domain_xml_text(xmlNodePtr node)
{
    if (!node || !node->children || node->children->type != XML_TEXT_NODE) {
        return "";
    }
    return (const char *)node->children->content;
}

void vh_domain_xml_set_text(xmlNodePtr node, const char *text)
{
    xmlNodePtr child = node->children;

    while (child) {
        xmlNodePtr next = child->next;

        xmlUnlinkNode(child);
        xmlFreeNode(child);
        child = next;
    }
    /* a text node takes its content literally: no entity parsing */
    xmlAddChild(node, xmlNewDocText(node->doc, BAD_CAST text));
}

void vh_domain_xml_normalize_text(xmlNodePtr node)
{
    xmlChar *content;

    if (!node->children ||
        (node->children->type == XML_TEXT_NODE && !node->children->next)) {
        return;
    }
    content = xmlNodeGetContent(node);
    vh_domain_xml_set_text(node, content ? (const char *)content : "");
    xmlFree(content);
}

void vh_domain_xml_normalize_attr(xmlNodePtr node, const char *name)
{
    xmlAttrPtr a = xmlHasNsProp(node, BAD_CAST name, NULL);
    xmlChar *value;

    if (!a || a->type != XML_ATTRIBUTE_NODE ||
        (a->children && a->children->type == XML_TEXT_NODE &&
         !a->children->next)) {
        return;
    }
    value = xmlNodeGetContent((xmlNodePtr)a);
    xmlSetNsProp(node, NULL, BAD_CAST name, value ? value : BAD_CAST "");
    xmlFree(value);
}

static const char *prefix_for(VhVirErrorCode code)
{
    switch (code) {
    case VH_VIR_ERR_XML_ERROR:
        return "XML error: ";
    case VH_VIR_ERR_CONFIG_UNSUPPORTED:
        return "unsupported configuration: ";
    case VH_VIR_ERR_INTERNAL_ERROR:
        return "internal error: ";
    default:
        return "";
    }
}

bool vh_domain_fail(GError **errp, VhVirErrorCode code, const char *fmt, ...)
{
    va_list ap;
    g_autofree char *msg = NULL;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    /* values from the document are quoted in it: keep the message one line */
    for (char *p = msg; *p; p++) {
        if ((guchar)*p < 0x20) {
            *p = ' ';
        }
    }
    g_set_error(errp, VH_VIR_ERROR, code, "%s%s", prefix_for(code), msg);
    return false;
}

bool vh_domain_fail_device(GError **errp, const char *what)
{
    return vh_domain_fail(errp, VH_VIR_ERR_CONFIG_UNSUPPORTED,
                          "device <%s> is not supported by vmhost", what);
}
