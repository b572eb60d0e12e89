/*
 * Shared by lib/domain's files: the document behind a VhDomainDef and the
 * small libxml2 helpers every file uses. Elements vmhost models are in no
 * namespace (libvirt's domain XML has none); anything namespaced belongs to
 * someone else and is left alone.
 */
#pragma once

#include "vmhost/domain/domain-def.h"

#include <libxml/tree.h>

struct _VhDomainDef {
    xmlDocPtr doc;
};

/* The first child element of @parent named @name in no namespace, or NULL. */
xmlNodePtr vh_domain_xml_child(xmlNodePtr parent, const char *name);
/* A new (or the existing) child element @name, appended at the end. */
xmlNodePtr vh_domain_xml_ensure_child(xmlNodePtr parent, const char *name);
/* Whether @node is an element named @name in no namespace. */
bool vh_domain_xml_is(xmlNodePtr node, const char *name);

/*
 * The value of attribute @name (no namespace) as a view into the document,
 * or NULL. Parsing leaves every attribute it reads as one text node, so the
 * view is the whole value.
 */
const char *vh_domain_xml_attr(xmlNodePtr node, const char *name);
/* An element's text as a view (one text node after parsing), "" if empty. */
const char *vh_domain_xml_text(xmlNodePtr node);
/* Replace @node's children with one text node holding @text literally. */
void vh_domain_xml_set_text(xmlNodePtr node, const char *text);
/* Make @node's content (or attribute @name's value) a single text node. */
void vh_domain_xml_normalize_text(xmlNodePtr node);
void vh_domain_xml_normalize_attr(xmlNodePtr node, const char *name);

/* Set an error, with libvirt's prefix for the code, and return false. */
bool vh_domain_fail(GError **errp, VhVirErrorCode code, const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);

/* "unsupported configuration: device <@what> is not supported by vmhost" */
bool vh_domain_fail_device(GError **errp, const char *what);

/*
 * Checks the <serial>/<console> elements of <devices> (called from the
 * parser for each one, with the port numbers seen so far) and fills in a
 * missing <target port='N'/>.
 */
G_GNUC_WARN_UNUSED_RESULT
bool vh_domain_chr_validate(xmlNodePtr devices, GError **errp);

/* Remove what only a running domain shows (pty paths) from @doc. */
void vh_domain_chr_strip_live(xmlDocPtr doc);

/*
 * A size with libvirt's unit names, in KiB (rounded up). Fails with
 * XML_ERROR naming @what ("memory") for a bad number, unit or overflow.
 */
G_GNUC_WARN_UNUSED_RESULT
bool vh_domain_parse_kib(const char *what, const char *value, const char *unit,
                         guint64 *kib, GError **errp);
