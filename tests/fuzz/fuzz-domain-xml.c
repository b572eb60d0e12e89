/*
 * vh_domain_def_parse(): libvirt domain XML (lib/domain).
 *
 * Invariants: success xor an error (XML_ERROR or CONFIG_UNSUPPORTED, the
 * only codes the parser uses) with a one-line message; a parsed document
 * formats, live and inactive, to XML that parses again to the same name,
 * uuid, memory, current memory, vcpus and serial ports, and formats to the
 * same text again; and the command line can be made from it.
 */
#include "fuzz-common.h"

#include "vmhost/domain/domain-def.h"

static void check_same(VhDomainDef *a, VhDomainDef *b)
{
    g_autofree char *ua = vh_domain_def_get_uuid_string(a);
    g_autofree char *ub = vh_domain_def_get_uuid_string(b);
    g_autoptr(GArray) ca = vh_domain_def_get_chardevs(a);
    g_autoptr(GArray) cb = vh_domain_def_get_chardevs(b);

    g_assert_cmpstr(vh_domain_def_get_name(a), ==, vh_domain_def_get_name(b));
    g_assert_cmpstr(ua, ==, ub);
    g_assert_cmpuint(vh_domain_def_get_memory_kib(a), ==,
                     vh_domain_def_get_memory_kib(b));
    g_assert_cmpuint(vh_domain_def_get_current_memory_kib(a), ==,
                     vh_domain_def_get_current_memory_kib(b));
    g_assert_cmpuint(vh_domain_def_get_vcpus(a), ==,
                     vh_domain_def_get_vcpus(b));
    g_assert_cmpuint(ca->len, ==, cb->len);
    for (guint i = 0; i < ca->len; i++) {
        VhDomainChr *x = &g_array_index(ca, VhDomainChr, i);
        VhDomainChr *y = &g_array_index(cb, VhDomainChr, i);

        g_assert_cmpint(x->type, ==, y->type);
        g_assert_cmpint(x->port, ==, y->port);
        g_assert_cmpint(x->mirrors_serial, ==, y->mirrors_serial);
        g_assert_cmpstr(x->host, ==, y->host);
        g_assert_cmpstr(x->service, ==, y->service);
    }
}

static void check_reparse(VhDomainDef *def, guint flags)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *text = vh_domain_def_format(def, flags);
    g_autoptr(VhDomainDef) again = vh_domain_def_parse(text, -1, 0, &err);
    g_autofree char *text2 = NULL;

    g_assert_no_error(err);
    g_assert_nonnull(again);
    check_same(def, again);
    text2 = vh_domain_def_format(again, flags);
    g_assert_cmpstr(text, ==, text2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(VhDomainDef) def = NULL;
    g_auto(GStrv) argv = NULL;
    VhDomainArgvOptions opts = {
        .qmp_socket = "/run/q.sock",
        .chardev_tls_dir = "/etc/pki/chardev",
    };

    /* not NUL-terminated on purpose: the parser takes a length */
    def = vh_domain_def_parse((const char *)data, (gssize)size, 0, &err);
    fuzz_assert_result(def != NULL, err);
    if (!def) {
        g_assert_true(
            g_error_matches(err, VH_VIR_ERROR, VH_VIR_ERR_XML_ERROR) ||
            g_error_matches(err, VH_VIR_ERROR, VH_VIR_ERR_CONFIG_UNSUPPORTED));
        g_assert_null(strchr(err->message, '\n'));
        return 0;
    }
    g_assert_nonnull(vh_domain_def_get_name(def));
    g_assert_cmpuint(vh_domain_def_get_memory_kib(def), >, 0);
    g_assert_cmpuint(vh_domain_def_get_current_memory_kib(def), <=,
                     vh_domain_def_get_memory_kib(def));
    check_reparse(def, 0);
    check_reparse(def, VH_DOMAIN_XML_INACTIVE);
    argv = vh_domain_def_to_argv(def, &opts, &err);
    fuzz_assert_result(argv != NULL, err);
    return 0;
}
