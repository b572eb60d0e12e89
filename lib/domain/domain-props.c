/*
 * Getters and setters: each reads or edits the document, so whatever the
 * document holds beside the edited element is untouched. Values were
 * checked by the parser; a setter writes a value in the form libvirt
 * prints.
 */
#include "domain-internal.h"

#include <stdlib.h>
#include <string.h>

static xmlNodePtr root_of(const VhDomainDef *def)
{
    return xmlDocGetRootElement(def->doc);
}

static const char *child_text(const VhDomainDef *def, const char *name)
{
    xmlNodePtr n = vh_domain_xml_child(root_of(def), name);

    return n ? vh_domain_xml_text(n) : NULL;
}

/*
 * Set the text of top-level element @name, creating it after the element
 * named @after (or at the end) when absent; NULL @text removes it.
 */
static void set_child_text(VhDomainDef *def, const char *name,
                           const char *after, const char *text)
{
    xmlNodePtr root = root_of(def);
    xmlNodePtr n = vh_domain_xml_child(root, name);
    xmlNodePtr prev;

    if (!text) {
        if (n) {
            xmlUnlinkNode(n);
            xmlFreeNode(n);
        }
        return;
    }
    if (!n) {
        n = xmlNewNode(NULL, BAD_CAST name);
        prev = after ? vh_domain_xml_child(root, after) : NULL;
        if (prev) {
            xmlAddNextSibling(prev, n);
        } else {
            xmlAddChild(root, n);
        }
    }
    vh_domain_xml_set_text(n, text);
}

const char *vh_domain_def_get_name(const VhDomainDef *def)
{
    return child_text(def, "name");
}

void vh_domain_def_set_name(VhDomainDef *def, const char *name)
{
    g_return_if_fail(name && name[0] && !strchr(name, '/'));
    set_child_text(def, "name", NULL, name);
}

void vh_domain_def_get_uuid(const VhDomainDef *def,
                            guint8 uuid[VH_DOMAIN_UUID_LEN])
{
    if (!vh_domain_uuid_parse(child_text(def, "uuid"), uuid)) {
        memset(uuid, 0, VH_DOMAIN_UUID_LEN);
    }
}

char *vh_domain_def_get_uuid_string(const VhDomainDef *def)
{
    guint8 uuid[VH_DOMAIN_UUID_LEN];

    vh_domain_def_get_uuid(def, uuid);
    return vh_domain_uuid_format(uuid);
}

void vh_domain_def_set_uuid(VhDomainDef *def,
                            const guint8 uuid[VH_DOMAIN_UUID_LEN])
{
    g_autofree char *text = vh_domain_uuid_format(uuid);

    set_child_text(def, "uuid", "name", text);
}

const char *vh_domain_def_get_title(const VhDomainDef *def)
{
    return child_text(def, "title");
}

void vh_domain_def_set_title(VhDomainDef *def, const char *title)
{
    g_return_if_fail(!title || !strchr(title, '\n'));
    set_child_text(def, "title", "uuid", title);
}

const char *vh_domain_def_get_description(const VhDomainDef *def)
{
    return child_text(def, "description");
}

void vh_domain_def_set_description(VhDomainDef *def, const char *text)
{
    set_child_text(def, "description",
                   vh_domain_def_get_title(def) ? "title" : "uuid", text);
}

static guint64 memory_of(const VhDomainDef *def, const char *name)
{
    xmlNodePtr n = vh_domain_xml_child(root_of(def), name);
    guint64 kib = 0;

    if (!n || !vh_domain_parse_kib(name, vh_domain_xml_text(n),
                                   vh_domain_xml_attr(n, "unit"), &kib, NULL)) {
        return 0;
    }
    return kib;
}

guint64 vh_domain_def_get_memory_kib(const VhDomainDef *def)
{
    return memory_of(def, "memory");
}

guint64 vh_domain_def_get_current_memory_kib(const VhDomainDef *def)
{
    if (!vh_domain_xml_child(root_of(def), "currentMemory")) {
        return memory_of(def, "memory");
    }
    return memory_of(def, "currentMemory");
}

static void set_memory(VhDomainDef *def, const char *name, const char *after,
                       guint64 kib)
{
    g_autofree char *text = g_strdup_printf("%" G_GUINT64_FORMAT, kib);
    xmlNodePtr n;

    set_child_text(def, name, after, text);
    n = vh_domain_xml_child(root_of(def), name);
    xmlSetNsProp(n, NULL, BAD_CAST "unit", BAD_CAST "KiB");
}

void vh_domain_def_set_memory_kib(VhDomainDef *def, guint64 kib)
{
    g_return_if_fail(kib > 0);
    set_memory(def, "memory", "description", kib);
    if (vh_domain_def_get_current_memory_kib(def) > kib) {
        set_memory(def, "currentMemory", "memory", kib);
    }
}

void vh_domain_def_set_current_memory_kib(VhDomainDef *def, guint64 kib)
{
    g_return_if_fail(kib > 0 && kib <= vh_domain_def_get_memory_kib(def));
    set_memory(def, "currentMemory", "memory", kib);
}

guint vh_domain_def_get_vcpus(const VhDomainDef *def)
{
    const char *text = child_text(def, "vcpu");
    guint64 v;

    if (!text) {
        return 1;
    }
    v = g_ascii_strtoull(text, NULL, 10);
    return v >= 1 && v <= G_MAXUINT ? (guint)v : 1;
}

void vh_domain_def_set_vcpus(VhDomainDef *def, guint vcpus)
{
    g_autofree char *text = g_strdup_printf("%u", vcpus);

    g_return_if_fail(vcpus >= 1);
    set_child_text(def, "vcpu",
                   vh_domain_xml_child(root_of(def), "currentMemory")
                       ? "currentMemory"
                       : "memory",
                   text);
}

static const char *action_of(const VhDomainDef *def, const char *name,
                             const char *fallback)
{
    const char *v = child_text(def, name);

    return v && v[0] ? v : fallback;
}

const char *vh_domain_def_get_on_poweroff(const VhDomainDef *def)
{
    return action_of(def, "on_poweroff", "destroy");
}

const char *vh_domain_def_get_on_reboot(const VhDomainDef *def)
{
    return action_of(def, "on_reboot", "restart");
}

const char *vh_domain_def_get_on_crash(const VhDomainDef *def)
{
    return action_of(def, "on_crash", "destroy");
}

int vh_domain_def_get_id(const VhDomainDef *def)
{
    const char *v = vh_domain_xml_attr(root_of(def), "id");
    gint64 id;

    if (!v) {
        return -1;
    }
    id = g_ascii_strtoll(v, NULL, 10);
    return id >= 0 && id <= G_MAXINT ? (int)id : -1;
}

void vh_domain_def_set_id(VhDomainDef *def, int id)
{
    g_autofree char *text = NULL;

    if (id < 0) {
        xmlUnsetNsProp(root_of(def), NULL, BAD_CAST "id");
        return;
    }
    text = g_strdup_printf("%d", id);
    xmlSetNsProp(root_of(def), NULL, BAD_CAST "id", BAD_CAST text);
}
