/*
 * Tests for lib/domain: libvirt domain XML documents (parse, validate,
 * format, setters, live data) and the vmhost command line, which the
 * /domain/def/vmhost/ cases run with the real vmhost binary.
 */
#include "vmhost/domain/domain-def.h"

#include <errno.h>
#include <gio/gio.h>
#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>
#include <libxml/c14n.h>
#include <libxml/parser.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A document as virsh dumpxml / virt-install write them, plus extras. */
static const char full_xml[] =
    "<domain type='vmhost' xmlns:vendor='http://example.com/vendor' "
    "vendor:flavour='gold'>\n"
    "  <name>demo</name>\n"
    "  <uuid>c7a5fdbd-edaf-9455-926a-d65c16db1809</uuid>\n"
    "  <title>A demo machine</title>\n"
    "  <description>Two lines\nof description &amp; an entity</description>\n"
    "  <metadata>\n"
    "    <app1:foo xmlns:app1='http://app1.example.org/' kind='x'>fishing "
    "<b>bold</b> text</app1:foo>\n"
    "    <app2:bar xmlns:app2='http://app2.example.org/'><app2:item n='1'/>"
    "<!-- a comment --><app2:item n='2'>&lt;two&gt;</app2:item></app2:bar>\n"
    "  </metadata>\n"
    "  <memory unit='MiB' dumpCore='on'>512</memory>\n"
    "  <currentMemory unit='KiB'>262144</currentMemory>\n"
    "  <vcpu placement='static'>2</vcpu>\n"
    "  <resource><partition>/machine</partition></resource>\n"
    "  <os>\n"
    "    <type arch='x86_64' machine='pc-q35-7.2'>hvm</type>\n"
    "    <boot dev='hd'/>\n"
    "  </os>\n"
    "  <features><acpi/><apic/></features>\n"
    "  <cpu mode='host-passthrough' check='none' migratable='on'/>\n"
    "  <clock offset='utc'><timer name='rtc' tickpolicy='catchup'/></clock>\n"
    "  <on_poweroff>destroy</on_poweroff>\n"
    "  <on_reboot>restart</on_reboot>\n"
    "  <on_crash>coredump-restart</on_crash>\n"
    "  <pm><suspend-to-mem enabled='no'/></pm>\n"
    "  <devices>\n"
    "    <emulator>/usr/bin/qemu-system-x86_64</emulator>\n"
    "    <serial type='pty' vendor:speed='fast'>\n"
    "      <target type='isa-serial' port='0'><model name='isa-serial'/>"
    "</target>\n"
    "    </serial>\n"
    "    <serial type='unix'>\n"
    "      <source mode='bind' path='/tmp/demo-serial1.sock'/>\n"
    "      <target port='1'/>\n"
    "    </serial>\n"
    "    <serial type='tcp'>\n"
    "      <source mode='bind' host='127.0.0.1' service='4555' tls='yes'/>\n"
    "      <protocol type='telnet'/>\n"
    "      <target port='2'/>\n"
    "    </serial>\n"
    "    <console type='pty'>\n"
    "      <target type='serial' port='0'/>\n"
    "    </console>\n"
    "    <memballoon model='none'/>\n"
    "  </devices>\n"
    "  <seclabel type='none' model='none'/>\n"
    "  <vendor:extra level='3'>kept</vendor:extra>\n"
    "</domain>\n";

/* A small valid document with @memory and @devices spliced in. */
static char *doc_with(const char *memory, const char *devices)
{
    return g_strdup_printf(
        "<domain type='kvm'>\n"
        "  <name>small</name>\n"
        "  <uuid>00112233-4455-6677-8899-aabbccddeeff</uuid>\n"
        "  %s\n"
        "  <devices>%s</devices>\n"
        "</domain>\n",
        memory ? memory : "<memory>131072</memory>", devices ? devices : "");
}

static VhDomainDef *parse_ok(const char *xml)
{
    g_autoptr(GError) err = NULL;
    VhDomainDef *def = vh_domain_def_parse(xml, -1, 0, &err);

    g_assert_no_error(err);
    g_assert_nonnull(def);
    return def;
}

/* The C14N form (comments kept) of @xml, blank text nodes dropped. */
static char *canonical(const char *xml)
{
    xmlDocPtr doc = xmlReadMemory(xml, (int)strlen(xml), "c.xml", NULL,
                                  XML_PARSE_NONET | XML_PARSE_NOBLANKS);
    xmlChar *out = NULL;
    char *ret;

    g_assert_nonnull(doc);
    g_assert_cmpint(
        xmlC14NDocDumpMemory(doc, NULL, XML_C14N_1_0, NULL, 1, &out), >=, 0);
    ret = g_strdup((const char *)out);
    xmlFree(out);
    xmlFreeDoc(doc);
    return ret;
}

static void assert_same_meaning(const char *a, const char *b)
{
    g_autofree char *ca = canonical(a);
    g_autofree char *cb = canonical(b);

    g_assert_cmpstr(ca, ==, cb);
}

/* ---- documents ---- */

static void test_getters(void)
{
    g_autoptr(VhDomainDef) def = parse_ok(full_xml);
    g_autofree char *uuid = vh_domain_def_get_uuid_string(def);
    guint8 bytes[VH_DOMAIN_UUID_LEN];

    g_assert_cmpstr(vh_domain_def_get_name(def), ==, "demo");
    g_assert_cmpstr(uuid, ==, "c7a5fdbd-edaf-9455-926a-d65c16db1809");
    vh_domain_def_get_uuid(def, bytes);
    g_assert_cmphex(bytes[0], ==, 0xc7);
    g_assert_cmphex(bytes[15], ==, 0x09);
    g_assert_cmpstr(vh_domain_def_get_title(def), ==, "A demo machine");
    g_assert_cmpstr(vh_domain_def_get_description(def), ==,
                    "Two lines\nof description & an entity");
    g_assert_cmpuint(vh_domain_def_get_memory_kib(def), ==, 524288);
    g_assert_cmpuint(vh_domain_def_get_current_memory_kib(def), ==, 262144);
    g_assert_cmpuint(vh_domain_def_get_vcpus(def), ==, 2);
    g_assert_cmpstr(vh_domain_def_get_on_poweroff(def), ==, "destroy");
    g_assert_cmpstr(vh_domain_def_get_on_reboot(def), ==, "restart");
    g_assert_cmpstr(vh_domain_def_get_on_crash(def), ==, "coredump-restart");
    g_assert_cmpint(vh_domain_def_get_id(def), ==, -1);
    g_assert_nonnull(vh_domain_def_get_xml_doc(def));
}

static void test_defaults(void)
{
    g_autofree char *xml = doc_with(NULL, NULL);
    g_autoptr(VhDomainDef) def = parse_ok(xml);

    g_assert_null(vh_domain_def_get_title(def));
    g_assert_null(vh_domain_def_get_description(def));
    g_assert_cmpuint(vh_domain_def_get_current_memory_kib(def), ==, 131072);
    g_assert_cmpuint(vh_domain_def_get_vcpus(def), ==, 1);
    g_assert_cmpstr(vh_domain_def_get_on_poweroff(def), ==, "destroy");
    g_assert_cmpstr(vh_domain_def_get_on_reboot(def), ==, "restart");
    g_assert_cmpstr(vh_domain_def_get_on_crash(def), ==, "destroy");
}

static void test_round_trip(void)
{
    g_autoptr(VhDomainDef) def = parse_ok(full_xml);
    g_autofree char *out = vh_domain_def_format(def, 0);
    g_autofree char *inactive =
        vh_domain_def_format(def, VH_DOMAIN_XML_INACTIVE);
    g_autoptr(VhDomainDef) again = parse_ok(out);
    g_autofree char *out2 = vh_domain_def_format(again, 0);
    g_autoptr(VhDomainDef) copy = vh_domain_def_copy(def);
    g_autofree char *out3 = vh_domain_def_format(copy, 0);

    assert_same_meaning(full_xml, out);
    assert_same_meaning(full_xml, inactive);
    g_assert_cmpstr(out, ==, out2);
    g_assert_cmpstr(out, ==, out3);
    /* libvirt's layout: two-space indent, no XML declaration */
    g_assert_true(g_str_has_prefix(out, "<domain "));
    g_assert_nonnull(strstr(out, "\n  <name>demo</name>\n"));
    g_assert_nonnull(strstr(out, "\n    <serial type=\"pty\""));
    g_assert_true(g_str_has_suffix(out, "</domain>\n"));
}

static char *replace(const char *text, const char *from, const char *to)
{
    g_auto(GStrv) parts = g_strsplit(text, from, -1);

    g_assert_cmpuint(g_strv_length(parts), ==, 2);
    return g_strjoinv(to, parts);
}

static void test_setters(void)
{
    g_autoptr(VhDomainDef) def = parse_ok(full_xml);
    g_autofree char *out = NULL;
    g_autofree char *e1 =
        replace(full_xml, "<name>demo</name>", "<name>renamed</name>");
    g_autofree char *e2 = replace(e1, "<memory unit='MiB' dumpCore='on'>512",
                                  "<memory unit='KiB' dumpCore='on'>1048576");
    g_autofree char *e3 = replace(e2, "<title>A demo machine</title>", "");
    g_autofree char *e4 = replace(e3, ">2</vcpu>", ">4</vcpu>");
    g_autofree char *e5 =
        replace(e4, "Two lines\nof description &amp; an entity",
                "new &lt;text&gt; &amp; more");
    g_autofree char *e6 =
        replace(e5, "<uuid>c7a5fdbd-edaf-9455-926a-d65c16db1809</uuid>",
                "<uuid>00000000-0000-0000-0000-0000000000ff</uuid>");
    guint8 uuid[VH_DOMAIN_UUID_LEN] = {0};

    uuid[15] = 0xff;
    vh_domain_def_set_name(def, "renamed");
    vh_domain_def_set_memory_kib(def, 1048576);
    vh_domain_def_set_title(def, NULL);
    vh_domain_def_set_vcpus(def, 4);
    vh_domain_def_set_description(def, "new <text> & more");
    vh_domain_def_set_uuid(def, uuid);
    out = vh_domain_def_format(def, 0);
    assert_same_meaning(e6, out);
    g_assert_cmpstr(vh_domain_def_get_description(def), ==,
                    "new <text> & more");
    g_assert_cmpuint(vh_domain_def_get_memory_kib(def), ==, 1048576);
    g_assert_cmpuint(vh_domain_def_get_vcpus(def), ==, 4);

    /* lowering memory below currentMemory lowers currentMemory too */
    vh_domain_def_set_memory_kib(def, 131072);
    g_assert_cmpuint(vh_domain_def_get_current_memory_kib(def), ==, 131072);
    vh_domain_def_set_current_memory_kib(def, 65536);
    g_assert_cmpuint(vh_domain_def_get_current_memory_kib(def), ==, 65536);
    /* a title that was absent is created */
    vh_domain_def_set_title(def, "back");
    g_assert_cmpstr(vh_domain_def_get_title(def), ==, "back");
    g_clear_pointer(&out, g_free);
    out = vh_domain_def_format(def, 0);
    g_assert_nonnull(strstr(out, "<title>back</title>"));
    g_assert_nonnull(strstr(out, "fishing <b>bold</b> text"));
}

static void test_live(void)
{
    g_autoptr(VhDomainDef) def = parse_ok(full_xml);
    g_autofree char *live = NULL;
    g_autofree char *inactive = NULL;
    g_autoptr(GArray) chrs = NULL;

    vh_domain_def_set_id(def, 7);
    vh_domain_def_set_pty_path(def, 0, "/dev/pts/9");
    g_assert_cmpint(vh_domain_def_get_id(def), ==, 7);
    live = vh_domain_def_format(def, 0);
    g_assert_true(g_str_has_prefix(live, "<domain ") &&
                  strstr(live, " id=\"7\""));
    g_assert_nonnull(strstr(live, "<serial type=\"pty\" vendor:speed=\"fast\" "
                                  "tty=\"/dev/pts/9\">\n"
                                  "      <source path=\"/dev/pts/9\"/>"));
    g_assert_nonnull(strstr(live, "<console type=\"pty\" tty=\"/dev/pts/9\">\n"
                                  "      <source path=\"/dev/pts/9\"/>"));
    chrs = vh_domain_def_get_chardevs(def);
    g_assert_cmpstr(g_array_index(chrs, VhDomainChr, 0).path, ==, "/dev/pts/9");
    g_assert_cmpstr(g_array_index(chrs, VhDomainChr, 3).path, ==, "/dev/pts/9");

    inactive = vh_domain_def_format(def, VH_DOMAIN_XML_INACTIVE);
    assert_same_meaning(full_xml, inactive);

    /* a restarted daemon re-reads its live XML: the id stays */
    {
        g_autoptr(VhDomainDef) again = parse_ok(live);

        g_assert_cmpint(vh_domain_def_get_id(again), ==, 7);
        vh_domain_def_set_id(again, -1);
        vh_domain_def_set_pty_path(again, 0, NULL);
        g_clear_pointer(&live, g_free);
        live = vh_domain_def_format(again, 0);
        g_assert_null(strstr(live, "id=\"7\""));
        g_assert_null(strstr(live, "/dev/pts/9"));
    }
}

static void test_chardevs(void)
{
    g_autoptr(VhDomainDef) def = parse_ok(full_xml);
    g_autoptr(GArray) chrs = vh_domain_def_get_chardevs(def);
    VhDomainChr *c;

    g_assert_cmpuint(chrs->len, ==, 4);
    c = &g_array_index(chrs, VhDomainChr, 0);
    g_assert_true(!c->is_console && c->type == VH_DOMAIN_CHR_PTY &&
                  c->port == 0 && !c->path && !c->mirrors_serial);
    c = &g_array_index(chrs, VhDomainChr, 1);
    g_assert_true(c->type == VH_DOMAIN_CHR_UNIX && c->listen && c->port == 1);
    g_assert_cmpstr(c->path, ==, "/tmp/demo-serial1.sock");
    c = &g_array_index(chrs, VhDomainChr, 2);
    g_assert_true(c->type == VH_DOMAIN_CHR_TCP && c->listen && c->telnet &&
                  c->tls && c->port == 2);
    g_assert_cmpstr(c->host, ==, "127.0.0.1");
    g_assert_cmpstr(c->service, ==, "4555");
    c = &g_array_index(chrs, VhDomainChr, 3);
    g_assert_true(c->is_console && c->type == VH_DOMAIN_CHR_PTY &&
                  c->port == 0 && c->mirrors_serial);
}

/* Serials without a port get the lowest free one, written back. */
static void test_ports(void)
{
    g_autofree char *xml =
        doc_with(NULL, "<serial type='pty'><target port='1'/></serial>"
                       "<serial type='pty'/><serial type='pty'/>"
                       "<console type='pty'/>"
                       "<console type='tcp'><source host='::1' service='99'/>"
                       "<target type='serial' port='5'/></console>");
    g_autoptr(VhDomainDef) def = parse_ok(xml);
    g_autoptr(GArray) chrs = vh_domain_def_get_chardevs(def);
    g_autofree char *out = vh_domain_def_format(def, 0);
    const int want[] = {1, 0, 2, 0, 5};

    g_assert_cmpuint(chrs->len, ==, 5);
    for (guint i = 0; i < 5; i++) {
        VhDomainChr *c = &g_array_index(chrs, VhDomainChr, i);

        g_assert_cmpint(c->port, ==, want[i]);
        g_assert_cmpint(c->mirrors_serial, ==, i == 3);
    }
    g_assert_false(g_array_index(chrs, VhDomainChr, 4).listen);
    g_assert_nonnull(strstr(out, "<target port=\"2\"/>"));
}

static void test_units(void)
{
    static const struct {
        const char *value, *unit;
        guint64 kib;
    } cases[] = {
        {"1048576", NULL, 1048576},
        {"1024", "b", 1},
        {"1025", "bytes", 2},
        {"1", "b", 1},
        {"1024", "KB", 1000},
        {"1000", "KB", 977},
        {"7", "k", 7},
        {"7", "KiB", 7},
        {"3", "MB", 2930},
        {"3", "M", 3072},
        {"3", "MiB", 3072},
        {"2", "GB", 1953125},
        {"2", "G", 2097152},
        {"2", "GiB", 2097152},
        {"1", "TB", 976562500},
        {"1", "T", 1073741824},
        {"1", "TiB", 1073741824},
        {" 64 ", "MiB", 65536},
    };

    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *mem =
            cases[i].unit
                ? g_strdup_printf("<memory unit='%s'>%s</memory>",
                                  cases[i].unit, cases[i].value)
                : g_strdup_printf("<memory>%s</memory>", cases[i].value);
        g_autofree char *xml = doc_with(mem, NULL);
        g_autoptr(VhDomainDef) def = parse_ok(xml);

        g_test_message("%s %s", cases[i].value,
                       cases[i].unit ? cases[i].unit : "(none)");
        g_assert_cmpuint(vh_domain_def_get_memory_kib(def), ==, cases[i].kib);
    }
}

static void test_uuid_generated(void)
{
    const char *xml = "<domain type='qemu'><name>u</name>"
                      "<memory unit='MiB'>64</memory></domain>";
    g_autoptr(VhDomainDef) a = parse_ok(xml);
    g_autoptr(VhDomainDef) b = parse_ok(xml);
    g_autofree char *ua = vh_domain_def_get_uuid_string(a);
    g_autofree char *ub = vh_domain_def_get_uuid_string(b);
    g_autofree char *out = vh_domain_def_format(a, 0);
    g_autofree char *want =
        g_strdup_printf("<name>u</name>\n  <uuid>%s</uuid>", ua);
    g_autoptr(VhDomainDef) again = parse_ok(out);
    g_autofree char *uagain = vh_domain_def_get_uuid_string(again);

    g_assert_cmpstr(ua, !=, ub);
    g_assert_cmpuint(strlen(ua), ==, 36);
    g_assert_nonnull(strstr(out, want));
    g_assert_cmpstr(ua, ==, uagain);
}

static void test_uuid_text(void)
{
    guint8 u[VH_DOMAIN_UUID_LEN];
    g_autofree char *s = NULL;

    g_assert_true(vh_domain_uuid_parse("C7A5FDBDEDAF9455926AD65C16DB1809", u));
    s = vh_domain_uuid_format(u);
    g_assert_cmpstr(s, ==, "c7a5fdbd-edaf-9455-926a-d65c16db1809");
    g_assert_true(
        vh_domain_uuid_parse(" c7a5-fdbd-edaf-9455-926a-d65c-16db-1809 ", u));
    g_assert_false(
        vh_domain_uuid_parse("c7a5fdbd-edaf-9455-926a-d65c16db180", u));
    g_assert_false(
        vh_domain_uuid_parse("c7a5fdbd-edaf-9455-926a-d65c16db18090", u));
    g_assert_false(
        vh_domain_uuid_parse("-c7a5fdbd-edaf-9455-926a-d65c16db1809", u));
    g_assert_false(
        vh_domain_uuid_parse("g7a5fdbd-edaf-9455-926a-d65c16db1809", u));
    g_assert_false(vh_domain_uuid_parse("", u));
    g_assert_false(vh_domain_uuid_parse(NULL, u));
}

/* ---- refusals ---- */

typedef struct {
    const char *name;
    const char *xml; /* NULL: doc_with(memory, devices) */
    const char *memory;
    const char *devices;
    VhVirErrorCode code;
    const char *message;
} Refusal;

static const Refusal refusals[] = {
    {"malformed",
     "<domain type='vmhost'>\n  <name>x</name>\n"
     "  <memory>1</memory\n</domain>\n",
     NULL, NULL, VH_VIR_ERR_XML_ERROR, "XML error: line 4: "},
    {"unclosed", "<domain type='vmhost'>\n<name>x</name>\n", NULL, NULL,
     VH_VIR_ERR_XML_ERROR, "XML error: line 3: "},
    {"empty", "", NULL, NULL, VH_VIR_ERR_XML_ERROR, "XML error: line "},
    {"entity", "<domain type='vmhost'>\n<name>&foo;</name></domain>", NULL,
     NULL, VH_VIR_ERR_XML_ERROR, "XML error: line 2: Entity 'foo' not defined"},
    {"doctype",
     "<?xml version='1.0'?>\n<!DOCTYPE domain [<!ENTITY a 'b'>]>\n"
     "<domain type='vmhost'><name>&a;</name></domain>",
     NULL, NULL, VH_VIR_ERR_XML_ERROR,
     "XML error: line 2: a DOCTYPE declaration is not allowed in domain XML"},
    {"unbound-prefix",
     "<domain type='vmhost'><name>x</name><memory>4</memory>"
     "<x:y/></domain>",
     NULL, NULL, VH_VIR_ERR_XML_ERROR, "XML error: line 1: Namespace prefix"},
    {"root", "<network/>", NULL, NULL, VH_VIR_ERR_XML_ERROR,
     "XML error: expected the root element <domain>, not <network>"},
    {"root-ns", "<domain xmlns='urn:x' type='vmhost'/>", NULL, NULL,
     VH_VIR_ERR_XML_ERROR,
     "XML error: <domain> must be in no namespace (found 'urn:x')"},
    {"no-type", "<domain><name>x</name></domain>", NULL, NULL,
     VH_VIR_ERR_XML_ERROR, "XML error: missing domain type attribute"},
    {"type-xen", "<domain type='xen'><name>x</name></domain>", NULL, NULL,
     VH_VIR_ERR_CONFIG_UNSUPPORTED,
     "unsupported configuration: domain type 'xen' is not supported by "
     "vmhost"},
    {"no-name", "<domain type='vmhost'><memory>4</memory></domain>", NULL, NULL,
     VH_VIR_ERR_XML_ERROR, "XML error: missing domain name"},
    {"empty-name",
     "<domain type='vmhost'><name></name><memory>4</memory></domain>", NULL,
     NULL, VH_VIR_ERR_XML_ERROR, "XML error: missing domain name"},
    {"slash-name",
     "<domain type='vmhost'><name>a/b</name><memory>4</memory></domain>", NULL,
     NULL, VH_VIR_ERR_XML_ERROR, "XML error: name 'a/b' cannot contain '/'"},
    {"two-names", "<domain type='vmhost'><name>a</name><name>b</name></domain>",
     NULL, NULL, VH_VIR_ERR_XML_ERROR,
     "XML error: element <name> appears more than once"},
    {"bad-uuid",
     "<domain type='vmhost'><name>a</name><uuid>1234</uuid>"
     "<memory>4</memory></domain>",
     NULL, NULL, VH_VIR_ERR_XML_ERROR,
     "XML error: malformed uuid element '1234'"},
    {"no-memory", "<domain type='vmhost'><name>a</name></domain>", NULL, NULL,
     VH_VIR_ERR_XML_ERROR, "XML error: missing memory size"},
    {"bad-unit", NULL, "<memory unit='XB'>4</memory>", NULL,
     VH_VIR_ERR_XML_ERROR, "XML error: invalid memory unit 'XB'"},
    {"bad-number", NULL, "<memory>4x</memory>", NULL, VH_VIR_ERR_XML_ERROR,
     "XML error: invalid memory value '4x'"},
    {"negative", NULL, "<memory>-4</memory>", NULL, VH_VIR_ERR_XML_ERROR,
     "XML error: invalid memory value '-4'"},
    {"zero", NULL, "<memory>0</memory>", NULL, VH_VIR_ERR_XML_ERROR,
     "XML error: memory size must be greater than zero"},
    {"overflow", NULL, "<memory unit='TiB'>18446744073709551615</memory>", NULL,
     VH_VIR_ERR_XML_ERROR, "XML error: memory value '"},
    {"current-bad-unit", NULL,
     "<memory>8</memory><currentMemory unit='kb'>4</currentMemory>", NULL,
     VH_VIR_ERR_XML_ERROR, "XML error: invalid currentMemory unit 'kb'"},
    {"current-over", NULL,
     "<memory unit='MiB'>1</memory><currentMemory>1025</currentMemory>", NULL,
     VH_VIR_ERR_XML_ERROR,
     "XML error: currentMemory (1025 KiB) is larger than memory (1024 KiB)"},
    {"vcpu", NULL, "<memory>8</memory><vcpu>0</vcpu>", NULL,
     VH_VIR_ERR_XML_ERROR, "XML error: invalid vcpu count '0'"},
    {"os-type", NULL, "<memory>8</memory><os><type>exe</type></os>", NULL,
     VH_VIR_ERR_CONFIG_UNSUPPORTED,
     "unsupported configuration: os type 'exe' is not supported"},
    {"on-poweroff", NULL,
     "<memory>8</memory><on_poweroff>coredump-destroy</on_poweroff>", NULL,
     VH_VIR_ERR_XML_ERROR,
     "XML error: invalid on_poweroff action 'coredump-destroy'"},
    {"on-crash", NULL, "<memory>8</memory><on_crash>explode</on_crash>", NULL,
     VH_VIR_ERR_XML_ERROR, "XML error: invalid on_crash action 'explode'"},
    {"title-newline", NULL, "<memory>8</memory><title>a\nb</title>", NULL,
     VH_VIR_ERR_XML_ERROR, "XML error: title must not contain newlines"},
    {"maxMemory", NULL, "<memory>8</memory><maxMemory slots='4'>16</maxMemory>",
     NULL, VH_VIR_ERR_CONFIG_UNSUPPORTED,
     "unsupported configuration: element <maxMemory> is not supported by "
     "vmhost"},
    {"qemu-commandline",
     "<domain type='kvm' "
     "xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>"
     "<name>q</name><memory>8</memory><qemu:commandline>"
     "<qemu:arg value='-foo'/></qemu:commandline></domain>",
     NULL, NULL, VH_VIR_ERR_CONFIG_UNSUPPORTED,
     "unsupported configuration: <qemu:commandline> is not supported"},
    {"disk", NULL, NULL,
     "<disk type='file' device='disk'><source file='/a.img'/>"
     "<target dev='vda'/></disk>",
     VH_VIR_ERR_CONFIG_UNSUPPORTED,
     "unsupported configuration: device <disk> is not supported by vmhost"},
    {"interface", NULL, NULL, "<interface type='network'/>",
     VH_VIR_ERR_CONFIG_UNSUPPORTED,
     "unsupported configuration: device <interface> is not supported by "
     "vmhost"},
    {"graphics", NULL, NULL, "<graphics type='vnc'/>",
     VH_VIR_ERR_CONFIG_UNSUPPORTED,
     "unsupported configuration: device <graphics> is not supported by "
     "vmhost"},
    {"memballoon", NULL, NULL, "<memballoon model='virtio'/>",
     VH_VIR_ERR_CONFIG_UNSUPPORTED,
     "unsupported configuration: device <memballoon> is not supported by "
     "vmhost"},
    {"serial-file", NULL, NULL,
     "<serial type='file'><source path='/tmp/x'/></serial>",
     VH_VIR_ERR_CONFIG_UNSUPPORTED,
     "unsupported configuration: device <serial type='file'> is not "
     "supported by vmhost"},
    {"console-virtio", NULL, NULL,
     "<console type='pty'><target type='virtio' port='0'/></console>",
     VH_VIR_ERR_CONFIG_UNSUPPORTED,
     "unsupported configuration: device <console> with <target "
     "type='virtio'> is not supported by vmhost"},
    {"console-mismatch", NULL, NULL,
     "<serial type='tcp'><source host='a' service='1'/></serial>"
     "<console type='pty'/>",
     VH_VIR_ERR_CONFIG_UNSUPPORTED,
     "unsupported configuration: <console> on serial port 0 has type 'pty'"},
    {"unix-no-path", NULL, NULL,
     "<serial type='unix'><source mode='bind'/></serial>", VH_VIR_ERR_XML_ERROR,
     "XML error: <serial type='unix'> needs <source path=...>"},
    {"unix-tls", NULL, NULL,
     "<serial type='unix'><source path='/a' tls='yes'/></serial>",
     VH_VIR_ERR_CONFIG_UNSUPPORTED,
     "unsupported configuration: tls='yes' is only supported on <serial "
     "type='tcp'>"},
    {"tcp-no-host", NULL, NULL,
     "<serial type='tcp'><source service='5'/></serial>", VH_VIR_ERR_XML_ERROR,
     "XML error: <serial type='tcp'> needs <source host=...>"},
    {"tcp-service", NULL, NULL,
     "<serial type='tcp'><source host='h' service='telnet'/></serial>",
     VH_VIR_ERR_XML_ERROR,
     "XML error: <serial type='tcp'> needs <source service=...> with a port "
     "number, not 'telnet'"},
    {"tcp-mode", NULL, NULL,
     "<serial type='tcp'><source mode='listen' host='h' service='5'/>"
     "</serial>",
     VH_VIR_ERR_XML_ERROR,
     "XML error: <serial> source mode 'listen': expected 'bind' or "
     "'connect'"},
    {"tcp-tls-value", NULL, NULL,
     "<serial type='tcp'><source host='h' service='5' tls='on'/></serial>",
     VH_VIR_ERR_XML_ERROR,
     "XML error: <serial> source tls 'on': expected 'yes' or 'no'"},
    {"tcp-protocol", NULL, NULL,
     "<serial type='tcp'><source host='h' service='5'/>"
     "<protocol type='telnets'/></serial>",
     VH_VIR_ERR_CONFIG_UNSUPPORTED,
     "unsupported configuration: <serial> protocol 'telnets' is not "
     "supported"},
    {"port-twice", NULL, NULL,
     "<serial type='pty'><target port='1'/></serial>"
     "<serial type='pty'><target port='1'/></serial>",
     VH_VIR_ERR_XML_ERROR, "XML error: serial port 1 is defined twice"},
    {"port-bad", NULL, NULL, "<serial type='pty'><target port='x'/></serial>",
     VH_VIR_ERR_XML_ERROR, "XML error: <serial> target port 'x'"},
    {"usb-serial", NULL, NULL,
     "<serial type='pty'><target type='usb-serial'/></serial>",
     VH_VIR_ERR_CONFIG_UNSUPPORTED,
     "unsupported configuration: device <serial> with <target "
     "type='usb-serial'> is not supported by vmhost"},
};

static void test_refusal(gconstpointer data)
{
    const Refusal *r = data;
    g_autofree char *xml =
        r->xml ? g_strdup(r->xml) : doc_with(r->memory, r->devices);
    g_autoptr(GError) err = NULL;
    g_autoptr(VhDomainDef) def = vh_domain_def_parse(xml, -1, 0, &err);

    g_assert_null(def);
    g_assert_error(err, VH_VIR_ERROR, (gint)r->code);
    g_test_message("%s", err->message);
    g_assert_true(g_str_has_prefix(err->message, r->message));
    g_assert_null(strchr(err->message, '\n'));
}

static void test_oversize(void)
{
    GString *s = g_string_new("<domain type='vmhost'><name>big</name>"
                              "<memory>8</memory><description>");
    g_autoptr(GError) err = NULL;
    g_autoptr(VhDomainDef) def = NULL;
    g_autofree char *xml = NULL;
    gsize body;

    while (s->len < 4 * 1024 * 1024) {
        g_string_append(s, "0123456789abcdef");
    }
    g_string_append(s, "</description></domain>");
    xml = g_string_free(s, false);
    def = vh_domain_def_parse(xml, -1, 0, &err);
    g_assert_null(def);
    g_assert_error(err, VH_VIR_ERROR, VH_VIR_ERR_XML_ERROR);
    g_assert_cmpstr(err->message, ==,
                    "XML error: the document is larger than the limit of "
                    "4194304 bytes");

    /* just under the limit is fine, with an explicit length too */
    body = 4 * 1024 * 1024 - 200;
    g_clear_error(&err);
    xml[body] = '\0';
    strcpy(xml + body - 32, "</description></domain>");
    def = vh_domain_def_parse(xml, (gssize)strlen(xml), 0, &err);
    g_assert_no_error(err);
    g_assert_nonnull(def);
}

/* libxml2's errors reach the caller's GError, never stderr. */
static void test_quiet(void)
{
    if (g_test_subprocess()) {
        g_autoptr(GError) err = NULL;
        g_autoptr(VhDomainDef) def = vh_domain_def_parse(
            "<domain type='vmhost'>\n<name>&bad;</name>\n<x:y/>\n<a></b>", -1,
            0, &err);

        g_assert_null(def);
        g_assert_error(err, VH_VIR_ERROR, VH_VIR_ERR_XML_ERROR);
        return;
    }
    g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
    g_test_trap_assert_passed();
    g_test_trap_assert_stderr("");
    g_test_trap_assert_stdout("");
}

/* Errors are per parse: threads parsing at once get their own. */
static gpointer parse_many(gpointer data)
{
    guint id = GPOINTER_TO_UINT(data);
    g_autofree char *bad = g_strdup_printf(
        "<domain type='vmhost'>\n<name>x</name>\n</nope%u>", id);
    g_autofree char *want =
        g_strdup_printf("XML error: line 3: Opening and ending tag mismatch: "
                        "domain line 1 and nope%u",
                        id);

    for (guint i = 0; i < 200; i++) {
        g_autoptr(GError) err = NULL;
        g_autoptr(VhDomainDef) def = vh_domain_def_parse(bad, -1, 0, &err);
        g_autoptr(VhDomainDef) good =
            vh_domain_def_parse(full_xml, -1, 0, NULL);

        g_assert_null(def);
        g_assert_nonnull(good);
        g_assert_cmpstr(err->message, ==, want);
    }
    return NULL;
}

static void test_threads(void)
{
    GThread *threads[4];

    for (guint i = 0; i < G_N_ELEMENTS(threads); i++) {
        threads[i] = g_thread_new("parse", parse_many, GUINT_TO_POINTER(i + 1));
    }
    for (guint i = 0; i < G_N_ELEMENTS(threads); i++) {
        g_thread_join(threads[i]);
    }
}

/* An explicit length: bytes after it are not read. */
static void test_length(void)
{
    g_autofree char *xml = g_strdup_printf("%sgarbage", full_xml);
    g_autoptr(GError) err = NULL;
    g_autoptr(VhDomainDef) def =
        vh_domain_def_parse(xml, (gssize)strlen(full_xml), 0, &err);

    g_assert_no_error(err);
    g_assert_nonnull(def);
}

/* ---- argv ---- */

static char *argv_of(const char *devices, const VhDomainArgvOptions *opts,
                     GError **errp)
{
    g_autofree char *xml = doc_with("<memory unit='MiB'>64</memory>", devices);
    g_autoptr(VhDomainDef) def = parse_ok(xml);
    g_auto(GStrv) argv = vh_domain_def_to_argv(def, opts, errp);

    return argv ? g_strjoinv(" ", argv) : NULL;
}

static const VhDomainArgvOptions base_opts = {
    .vmhost_binary = "/usr/bin/vmhost",
    .qmp_socket = "/run/vmhost/small.qmp",
    .pidfile = "/run/vmhost/small.pid",
    .logfile = "/var/log/vmhost/small.log",
    .chardev_tls_dir = "/etc/pki/libvirt-chardev",
    .chardev_tls_verify = true,
    .daemonize = true,
};

#define ARGV_HEAD                                                              \
    "/usr/bin/vmhost -name guest=small -m 65536K -nodefaults -nographic "      \
    "-qmp unix:/run/vmhost/small.qmp,server,nowait -pidfile "                  \
    "/run/vmhost/small.pid -D /var/log/vmhost/small.log -daemonize"

static void test_argv_kinds(void)
{
    static const struct {
        const char *devices, *args;
    } cases[] = {
        {"", ""},
        {"<serial type='pty'/><console type='pty'/>",
         " -chardev pty,id=charserial0 "
         "-device isa-serial,chardev=charserial0,id=serial0"},
        {"<serial type='unix'><source mode='bind' path='/run/a,b.sock'/>"
         "</serial>",
         " -chardev socket,id=charserial0,path=/run/a,,b.sock,server=on,"
         "wait=off -device isa-serial,chardev=charserial0,id=serial0"},
        {"<serial type='unix'><source mode='connect' path='/run/c'/>"
         "<target port='3'/></serial>",
         " -chardev socket,id=charserial3,path=/run/c "
         "-device isa-serial,chardev=charserial3,id=serial3"},
        {"<serial type='tcp'><source mode='bind' host='127.0.0.1' "
         "service='4555'/><protocol type='telnet'/></serial>",
         " -chardev socket,id=charserial0,host=127.0.0.1,port=4555,"
         "server=on,wait=off,telnet=on "
         "-device isa-serial,chardev=charserial0,id=serial0"},
        {"<serial type='tcp'><source mode='connect' host='::1' "
         "service='7' tls='yes'/><protocol type='raw'/></serial>",
         " -object tls-creds-x509,id=chrtls0,endpoint=client,"
         "dir=/etc/pki/libvirt-chardev,verify-peer=on "
         "-chardev socket,id=charserial0,host=::1,port=7,tls-creds=chrtls0 "
         "-device isa-serial,chardev=charserial0,id=serial0"},
        {"<serial type='tcp'><source mode='bind' host='h' service='8' "
         "tls='yes'/></serial>",
         " -object tls-creds-x509,id=chrtls0,endpoint=server,"
         "dir=/etc/pki/libvirt-chardev,verify-peer=on "
         "-chardev socket,id=charserial0,host=h,port=8,server=on,wait=off,"
         "tls-creds=chrtls0 "
         "-device isa-serial,chardev=charserial0,id=serial0"},
        /* port order, and a console of its own on a free port */
        {"<serial type='pty'><target port='1'/></serial>"
         "<console type='pty'><target type='serial' port='0'/></console>",
         " -chardev pty,id=charserial0 "
         "-device isa-serial,chardev=charserial0,id=serial0 "
         "-chardev pty,id=charserial1 "
         "-device isa-serial,chardev=charserial1,id=serial1"},
    };

    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(GError) err = NULL;
        g_autofree char *got = argv_of(cases[i].devices, &base_opts, &err);
        g_autofree char *want = g_strconcat(ARGV_HEAD, cases[i].args, NULL);

        g_assert_no_error(err);
        g_assert_cmpstr(got, ==, want);
    }
}

static void test_argv_options(void)
{
    VhDomainArgvOptions opts = {0};
    g_autoptr(GError) err = NULL;
    g_autofree char *got = NULL;
    g_autofree char *xml = doc_with("<memory unit='b'>1048577</memory>", NULL);
    g_autoptr(VhDomainDef) def = parse_ok(xml);
    g_auto(GStrv) argv = NULL;

    opts.start_paused = true;
    opts.chardev_tls_verify = false;
    got = argv_of("", &opts, &err);
    g_assert_cmpstr(got, ==,
                    "vmhost -name guest=small -m 65536K -nodefaults "
                    "-nographic -S");

    /* tls='yes' needs the directory */
    g_clear_pointer(&got, g_free);
    got = argv_of("<serial type='tcp'><source host='h' service='8' "
                  "tls='yes'/></serial>",
                  &opts, &err);
    g_assert_null(got);
    g_assert_error(err, VH_VIR_ERROR, VH_VIR_ERR_CONFIG_UNSUPPORTED);
    g_assert_nonnull(strstr(err->message, "chardev_tls_x509_cert_dir"));
    g_clear_error(&err);

    /* 1 MiB + 1 byte is 1025 KiB: not whole pages */
    argv = vh_domain_def_to_argv(def, &opts, &err);
    g_assert_null(argv);
    g_assert_error(err, VH_VIR_ERROR, VH_VIR_ERR_CONFIG_UNSUPPORTED);

    /* a comma in the name cannot add options */
    {
        g_autoptr(VhDomainDef) d2 = parse_ok(full_xml);
        g_auto(GStrv) a2 = NULL;

        opts.chardev_tls_dir = "/d";
        vh_domain_def_set_name(d2, "a,b=c");
        a2 = vh_domain_def_to_argv(d2, &opts, NULL);
        g_assert_cmpstr(a2[2], ==, "guest=a,,b=c");
        g_assert_cmpstr(a2[4], ==, "524288K");
    }
}

/* ---- the generated command line, run by the real vmhost ---- */

typedef struct {
    char *dir;
    char *qmp_path;
    char *pidfile;
    char *logfile;
    GPid pid;
    GPid child; /* when not daemonized */
    GSocketConnection *qmp;
    GDataInputStream *qmp_in;
} Machine;

static char *build_program(const char *env, const char *rel)
{
    const char *builddir = g_getenv("VMHOST_BUILDDIR");
    char *path;

    if (g_getenv(env)) {
        return g_strdup(g_getenv(env));
    }
    if (!builddir) {
        return NULL;
    }
    path = g_build_filename(builddir, rel, NULL);
    if (!g_file_test(path, G_FILE_TEST_IS_EXECUTABLE)) {
        g_free(path);
        return NULL;
    }
    return path;
}

static void dump_log(const Machine *m)
{
    g_autofree char *log = NULL;

    if (g_file_get_contents(m->logfile, &log, NULL, NULL)) {
        g_test_message("vmhost log:\n%s", log);
    }
}

static void run_ok(char **argv)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *out = NULL;
    g_autofree char *errs = NULL;
    int status = 0;

    g_assert_true(g_spawn_sync(NULL, argv, NULL, G_SPAWN_DEFAULT, NULL, NULL,
                               &out, &errs, &status, &err));
    g_assert_no_error(err);
    if (!g_spawn_check_wait_status(status, NULL)) {
        g_test_message("%s: %s%s", argv[0], out, errs);
        g_assert_not_reached();
    }
}

/* A daemonized machine, stopped if a failed assertion aborts the test. */
static volatile sig_atomic_t daemon_pid;

static void on_abort(int sig)
{
    if (daemon_pid > 0) {
        kill((pid_t)daemon_pid, SIGTERM);
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

/* A machine started in the foreground gets SIGTERM if the test dies. */
static void die_with_parent(gpointer data)
{
    (void)data;
    prctl(PR_SET_PDEATHSIG, SIGTERM);
}

/*
 * Start @def. @daemonize: as the daemon will, the parent exiting 0 once
 * the machine is ready; else as our child (killed if the test aborts),
 * ready once the pidfile is written.
 */
static void machine_start(Machine *m, const VhDomainDef *def,
                          const char *tls_dir, bool daemonize)
{
    g_autofree char *vmhost =
        build_program("VMHOST_BINARY", "src/vmhost/vmhost");
    VhDomainArgvOptions opts = {0};
    g_autoptr(GError) err = NULL;
    g_auto(GStrv) argv = NULL;
    g_autofree char *pid = NULL;
    g_autofree char *line = NULL;
    int status = 0;

    opts.vmhost_binary = vmhost;
    opts.qmp_socket = m->qmp_path;
    opts.pidfile = m->pidfile;
    opts.logfile = m->logfile;
    opts.chardev_tls_dir = tls_dir;
    opts.chardev_tls_verify = true;
    opts.daemonize = daemonize;
    argv = vh_domain_def_to_argv(def, &opts, &err);
    g_assert_no_error(err);
    line = g_strjoinv(" ", argv);
    g_test_message("%s", line);
    if (daemonize) {
        g_assert_true(g_spawn_sync(NULL, argv, NULL,
                                   G_SPAWN_STDOUT_TO_DEV_NULL |
                                       G_SPAWN_STDERR_TO_DEV_NULL,
                                   NULL, NULL, NULL, NULL, &status, &err));
        g_assert_no_error(err);
        if (!g_spawn_check_wait_status(status, NULL)) {
            dump_log(m);
            g_assert_not_reached();
        }
    } else {
        g_assert_true(g_spawn_async(NULL, argv, NULL,
                                    G_SPAWN_DO_NOT_REAP_CHILD |
                                        G_SPAWN_STDOUT_TO_DEV_NULL,
                                    die_with_parent, NULL, &m->child, &err));
        g_assert_no_error(err);
        for (int i = 0; !g_file_test(m->pidfile, G_FILE_TEST_EXISTS); i++) {
            if (i == 1000 || waitpid(m->child, &status, WNOHANG) != 0) {
                m->child = 0;
                dump_log(m);
                g_assert_not_reached();
            }
            g_usleep(10000);
        }
    }
    g_assert_true(g_file_get_contents(m->pidfile, &pid, NULL, NULL));
    m->pid = (GPid)atoi(pid);
    g_assert_cmpint(m->pid, >, 1);
    if (daemonize) {
        daemon_pid = m->pid;
        signal(SIGABRT, on_abort);
    }
    g_assert_true(!m->child || m->pid == m->child);
}

static char *qmp_read(Machine *m)
{
    g_autoptr(GError) err = NULL;

    for (;;) {
        char *line = g_data_input_stream_read_line(m->qmp_in, NULL, NULL, &err);

        g_assert_no_error(err);
        g_assert_nonnull(line);
        g_strchomp(line); /* QMP ends lines with CR LF */
        if (!g_str_has_prefix(line, "{\"event\"")) {
            return line;
        }
        g_free(line);
    }
}

/* Send one command; the reply line (events skipped). */
static char *qmp(Machine *m, const char *cmd)
{
    GOutputStream *out = g_io_stream_get_output_stream(G_IO_STREAM(m->qmp));
    g_autoptr(GError) err = NULL;
    g_autofree char *line = g_strconcat(cmd, "\n", NULL);

    g_assert_true(
        g_output_stream_write_all(out, line, strlen(line), NULL, NULL, &err));
    g_assert_no_error(err);
    return qmp_read(m);
}

static void qmp_connect(Machine *m)
{
    g_autoptr(GSocketClient) client = g_socket_client_new();
    g_autoptr(GSocketAddress) addr = g_unix_socket_address_new(m->qmp_path);
    g_autoptr(GError) err = NULL;
    g_autofree char *greeting = NULL;
    g_autofree char *caps = NULL;

    g_socket_client_set_timeout(client, 10);
    m->qmp =
        g_socket_client_connect(client, G_SOCKET_CONNECTABLE(addr), NULL, &err);
    g_assert_no_error(err);
    m->qmp_in = g_data_input_stream_new(
        g_io_stream_get_input_stream(G_IO_STREAM(m->qmp)));
    greeting = qmp_read(m);
    g_assert_nonnull(strstr(greeting, "\"QMP\""));
    caps = qmp(m, "{\"execute\": \"qmp_capabilities\"}");
    g_assert_cmpstr(caps, ==, "{\"return\":{}}");
}

static bool process_gone(GPid pid)
{
    g_autofree char *stat_path = g_strdup_printf("/proc/%d/stat", (int)pid);
    g_autofree char *stat = NULL;
    const char *paren;

    int status;

    if (waitpid(pid, &status, WNOHANG) == pid) {
        return true;
    }
    if (kill(pid, 0) < 0 && errno == ESRCH) {
        return true;
    }
    /* not our child: a zombie waits for its new parent to reap it */
    if (!g_file_get_contents(stat_path, &stat, NULL, NULL)) {
        return true;
    }
    paren = strrchr(stat, ')');
    return paren && paren[1] == ' ' && paren[2] == 'Z';
}

static bool wait_gone(Machine *m)
{
    for (int i = 0; i < 1000; i++) {
        if (process_gone(m->pid) &&
            !g_file_test(m->pidfile, G_FILE_TEST_EXISTS)) {
            return true;
        }
        g_usleep(10000);
    }
    return false;
}

static void machine_init(Machine *m)
{
    g_autoptr(GError) err = NULL;

    memset(m, 0, sizeof(*m));
    m->dir = g_dir_make_tmp("vh-domain-XXXXXX", &err);
    g_assert_no_error(err);
    m->qmp_path = g_build_filename(m->dir, "qmp.sock", NULL);
    m->pidfile = g_build_filename(m->dir, "vm.pid", NULL);
    m->logfile = g_build_filename(m->dir, "vm.log", NULL);
}

static void rm_rf(const char *path)
{
    g_autoptr(GDir) dir = g_dir_open(path, 0, NULL);
    const char *name;

    while (dir && (name = g_dir_read_name(dir))) {
        g_autofree char *child = g_build_filename(path, name, NULL);

        if (g_file_test(child, G_FILE_TEST_IS_DIR) &&
            !g_file_test(child, G_FILE_TEST_IS_SYMLINK)) {
            rm_rf(child);
        } else {
            g_unlink(child);
        }
    }
    g_rmdir(path);
}

/* QMP quit: the machine exits and removes its pidfile. */
static void machine_stop(Machine *m)
{
    g_autofree char *reply = qmp(m, "{\"execute\": \"quit\"}");

    g_assert_cmpstr(reply, ==, "{\"return\":{}}");
    g_assert_true(wait_gone(m));
}

static void machine_cleanup(Machine *m)
{
    if (m->pid > 0 && !process_gone(m->pid)) {
        kill(m->pid, SIGKILL);
        wait_gone(m);
    }
    daemon_pid = 0;
    g_clear_object(&m->qmp_in);
    g_clear_object(&m->qmp);
    rm_rf(m->dir);
    g_free(m->dir);
    g_free(m->qmp_path);
    g_free(m->pidfile);
    g_free(m->logfile);
}

static void assert_running(Machine *m)
{
    g_autofree char *status = qmp(m, "{\"execute\": \"query-status\"}");

    g_test_message("%s", status);
    g_assert_nonnull(strstr(status, "\"running\":true"));
    g_assert_nonnull(strstr(status, "\"status\":\"running\""));
}

/* The test guest on serial port 0 answers "echo" (telnet bytes ignored). */
static void assert_guest_echo_on(GIOStream *io)
{
    GInputStream *in = g_io_stream_get_input_stream(io);
    GOutputStream *out = g_io_stream_get_output_stream(io);
    g_autoptr(GError) err = NULL;
    g_autoptr(GString) got = g_string_new(NULL);
    const char cmd[] = "echo domain-xml-test\r\n";

    g_assert_true(
        g_output_stream_write_all(out, cmd, strlen(cmd), NULL, NULL, &err));
    g_assert_no_error(err);
    while (!strstr(got->str, "domain-xml-test")) {
        char buf[256];
        gssize n = g_input_stream_read(in, buf, sizeof(buf), NULL, &err);

        g_assert_no_error(err);
        g_assert_cmpint(n, >, 0);
        /* telnet negotiation may hold NULs: keep searching the text */
        for (gssize i = 0; i < n; i++) {
            g_string_append_c(got, buf[i] ? buf[i] : ' ');
        }
    }
}

static GSocketConnection *connect_to(GSocketAddress *addr)
{
    g_autoptr(GSocketClient) client = g_socket_client_new();
    g_autoptr(GError) err = NULL;
    GSocketConnection *conn;

    g_socket_client_set_timeout(client, 10);
    conn =
        g_socket_client_connect(client, G_SOCKET_CONNECTABLE(addr), NULL, &err);
    g_assert_no_error(err);
    return conn;
}

static void assert_guest_echo(GSocketAddress *addr)
{
    g_autoptr(GSocketConnection) conn = connect_to(addr);

    assert_guest_echo_on(G_IO_STREAM(conn));
}

/* The same over TLS, with the client certificate verify-peer=on needs. */
static void assert_guest_echo_tls(GSocketAddress *addr, const char *pki)
{
    g_autoptr(GSocketConnection) conn = connect_to(addr);
    g_autoptr(GError) err = NULL;
    g_autofree char *ca = g_build_filename(pki, "ca-cert.pem", NULL);
    g_autofree char *cert = g_build_filename(pki, "client-cert.pem", NULL);
    g_autofree char *key = g_build_filename(pki, "client-key.pem", NULL);
    g_autoptr(GTlsDatabase) db = NULL;
    g_autoptr(GTlsCertificate) mine = NULL;
    g_autoptr(GIOStream) tls = NULL;
    g_autoptr(GSocketConnectable) id = g_network_address_new("127.0.0.1", 0);

    if (!g_tls_backend_supports_tls(g_tls_backend_get_default())) {
        g_test_message("GIO has no TLS backend: no TLS client check");
        return;
    }
    db = g_tls_file_database_new(ca, &err);
    g_assert_no_error(err);
    mine = g_tls_certificate_new_from_files(cert, key, &err);
    g_assert_no_error(err);
    tls = g_tls_client_connection_new(G_IO_STREAM(conn), id, &err);
    g_assert_no_error(err);
    g_tls_connection_set_database(G_TLS_CONNECTION(tls), db);
    g_tls_connection_set_certificate(G_TLS_CONNECTION(tls), mine);
    g_assert_true(
        g_tls_connection_handshake(G_TLS_CONNECTION(tls), NULL, &err));
    g_assert_no_error(err);
    assert_guest_echo_on(tls);
}

static guint16 free_tcp_port(void)
{
    g_autoptr(GSocket) s =
        g_socket_new(G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                     G_SOCKET_PROTOCOL_TCP, NULL);
    g_autoptr(GInetAddress) lo =
        g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
    g_autoptr(GSocketAddress) any = g_inet_socket_address_new(lo, 0);
    g_autoptr(GSocketAddress) bound = NULL;

    g_assert_true(g_socket_bind(s, any, false, NULL));
    bound = g_socket_get_local_address(s, NULL);
    return g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(bound));
}

static VhDomainDef *machine_def(const char *devices)
{
    g_autofree char *xml =
        g_strdup_printf("<domain type='vmhost'><name>vmhost-domain-test</name>"
                        "<memory unit='MiB'>16</memory>"
                        "<currentMemory unit='MiB'>16</currentMemory>"
                        "<devices><emulator>/usr/bin/qemu</emulator>%s"
                        "</devices></domain>",
                        devices);

    return parse_ok(xml);
}

static bool have_vmhost(void)
{
    g_autofree char *vmhost =
        build_program("VMHOST_BINARY", "src/vmhost/vmhost");

    if (!vmhost) {
        g_test_skip("no vmhost binary (VMHOST_BUILDDIR/src/vmhost/vmhost)");
        return false;
    }
    return true;
}

static void test_vmhost_pty(void)
{
    Machine m;
    g_autoptr(VhDomainDef) def = NULL;
    g_autofree char *chardevs = NULL;
    g_autofree char *live = NULL;
    const char *pty;
    char path[64];

    if (!have_vmhost()) {
        return;
    }
    machine_init(&m);
    def = machine_def("<serial type='pty'><target port='0'/></serial>"
                      "<console type='pty'><target type='serial' port='0'/>"
                      "</console>");
    machine_start(&m, def, NULL, false);
    qmp_connect(&m);
    assert_running(&m);
    /* how the daemon learns the pty: query-chardev, label charserialN */
    chardevs = qmp(&m, "{\"execute\": \"query-chardev\"}");
    g_test_message("%s", chardevs);
    pty = strstr(chardevs, "\"label\":\"charserial0\"");
    g_assert_nonnull(pty);
    pty = strstr(chardevs, "pty:/dev/pts/");
    g_assert_nonnull(pty);
    g_assert_cmpint(sscanf(pty, "pty:%63[^\"]", path), ==, 1);
    g_assert_true(g_file_test(path, G_FILE_TEST_EXISTS));
    vh_domain_def_set_pty_path(def, 0, path);
    live = vh_domain_def_format(def, 0);
    g_assert_nonnull(strstr(live, path));
    machine_stop(&m);
    machine_cleanup(&m);
}

static void test_vmhost_unix(void)
{
    Machine m;
    g_autoptr(VhDomainDef) def = NULL;
    g_autoptr(GSocketAddress) addr = NULL;
    g_autofree char *xml = NULL;
    g_autofree char *sock = NULL;

    if (!have_vmhost()) {
        return;
    }
    machine_init(&m);
    /* a comma in the path: escaped on the command line */
    sock = g_build_filename(m.dir, "serial,0.sock", NULL);
    xml = g_strdup_printf("<serial type='unix'><source mode='bind' "
                          "path='%s'/><target port='0'/></serial>",
                          sock);
    def = machine_def(xml);
    machine_start(&m, def, NULL, false);
    qmp_connect(&m);
    assert_running(&m);
    addr = g_unix_socket_address_new(sock);
    assert_guest_echo(addr);
    machine_stop(&m);
    g_assert_false(g_file_test(sock, G_FILE_TEST_EXISTS));
    machine_cleanup(&m);
}

static void test_vmhost_tcp_telnet(void)
{
    Machine m;
    g_autoptr(VhDomainDef) def = NULL;
    g_autoptr(GSocketAddress) addr = NULL;
    g_autofree char *xml = NULL;
    guint16 port = free_tcp_port();

    if (!have_vmhost()) {
        return;
    }
    machine_init(&m);
    xml = g_strdup_printf("<serial type='tcp'><source mode='bind' "
                          "host='127.0.0.1' service='%u'/>"
                          "<protocol type='telnet'/></serial>",
                          port);
    def = machine_def(xml);
    machine_start(&m, def, NULL, false);
    qmp_connect(&m);
    assert_running(&m);
    addr = g_inet_socket_address_new_from_string("127.0.0.1", port);
    assert_guest_echo(addr);
    machine_stop(&m);
    machine_cleanup(&m);
}

static void test_vmhost_tcp_tls(void)
{
    Machine m;
    g_autoptr(VhDomainDef) def = NULL;
    g_autofree char *xml = NULL;
    g_autofree char *pki =
        build_program("VMHOST_PKI_BINARY", "src/vmhost-pki/vmhost-pki");
    g_autofree char *tls_dir = NULL;
    g_autofree char *chardevs = NULL;
    g_autoptr(GSocketAddress) addr = NULL;
    guint16 port = free_tcp_port();

    if (!have_vmhost()) {
        return;
    }
    if (!pki) {
        g_test_skip("no vmhost-pki binary");
        return;
    }
    machine_init(&m);
    tls_dir = g_build_filename(m.dir, "pki", NULL);
    {
        char *init[] = {pki, "init-ca", tls_dir, NULL};
        char *issue[] = {pki,     "issue",      "server",
                         tls_dir, "--hostname", "localhost",
                         "--ip",  "127.0.0.1",  NULL};

        char *client[] = {pki,    "issue",          "client", tls_dir,
                          "--dn", "CN=domain-test", NULL};

        run_ok(init);
        run_ok(issue);
        run_ok(client);
    }
    xml = g_strdup_printf("<serial type='tcp'><source mode='bind' "
                          "host='127.0.0.1' service='%u' tls='yes'/>"
                          "<protocol type='raw'/></serial>",
                          port);
    def = machine_def(xml);
    machine_start(&m, def, tls_dir, true);
    qmp_connect(&m);
    assert_running(&m);
    chardevs = qmp(&m, "{\"execute\": \"query-chardev\"}");
    g_test_message("%s", chardevs);
    g_assert_nonnull(strstr(chardevs, "\"label\":\"charserial0\""));
    addr = g_inet_socket_address_new_from_string("127.0.0.1", port);
    assert_guest_echo_tls(addr, tls_dir);
    machine_stop(&m);
    machine_cleanup(&m);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/domain/def/getters", test_getters);
    g_test_add_func("/domain/def/defaults", test_defaults);
    g_test_add_func("/domain/def/round-trip", test_round_trip);
    g_test_add_func("/domain/def/setters", test_setters);
    g_test_add_func("/domain/def/live", test_live);
    g_test_add_func("/domain/def/chardevs", test_chardevs);
    g_test_add_func("/domain/def/ports", test_ports);
    g_test_add_func("/domain/def/units", test_units);
    g_test_add_func("/domain/def/uuid/generated", test_uuid_generated);
    g_test_add_func("/domain/def/uuid/text", test_uuid_text);
    for (guint i = 0; i < G_N_ELEMENTS(refusals); i++) {
        g_autofree char *path =
            g_strdup_printf("/domain/def/refuse/%s", refusals[i].name);

        g_test_add_data_func(path, &refusals[i], test_refusal);
    }
    g_test_add_func("/domain/def/refuse/oversize", test_oversize);
    g_test_add_func("/domain/def/length", test_length);
    g_test_add_func("/domain/def/quiet", test_quiet);
    g_test_add_func("/domain/def/threads", test_threads);
    g_test_add_func("/domain/def/argv/kinds", test_argv_kinds);
    g_test_add_func("/domain/def/argv/options", test_argv_options);
    g_test_add_func("/domain/def/vmhost/pty", test_vmhost_pty);
    g_test_add_func("/domain/def/vmhost/unix-bind", test_vmhost_unix);
    g_test_add_func("/domain/def/vmhost/tcp-telnet", test_vmhost_tcp_telnet);
    g_test_add_func("/domain/def/vmhost/tcp-tls", test_vmhost_tcp_tls);
    return g_test_run();
}
