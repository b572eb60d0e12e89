/*
 * The resolve command. The decision itself is lib/crypto's
 * (vh_tls_priority_resolve()); this file only reports it and enumerates
 * what the compiled priority enables, as GnuTLS lists it.
 */
#include "resolve.h"

#include "vmhost/crypto/tls-priority.h"
#include "vmhost/util/conf.h"

#include <gnutls/gnutls.h>
#include <json-glib/json-glib.h>
#include <stdio.h>

typedef const char *(*NameFunc)(unsigned int id);

static const char *protocol_name(unsigned int id)
{
    return gnutls_protocol_get_name((gnutls_protocol_t)id);
}
static const char *cipher_name(unsigned int id)
{
    return gnutls_cipher_get_name((gnutls_cipher_algorithm_t)id);
}
static const char *mac_name(unsigned int id)
{
    return gnutls_mac_get_name((gnutls_mac_algorithm_t)id);
}
static const char *kx_name(unsigned int id)
{
    return gnutls_kx_get_name((gnutls_kx_algorithm_t)id);
}
static const char *group_name(unsigned int id)
{
    return gnutls_group_get_name((gnutls_group_t)id);
}
static const char *sign_name(unsigned int id)
{
    return gnutls_sign_get_name((gnutls_sign_algorithm_t)id);
}

/* One enumerated list: its label, JSON member and names. */
typedef struct {
    const char *label;
    const char *member;
    GPtrArray *names; /* const char * (static GnuTLS strings) */
} Listing;

static GPtrArray *names_of(const unsigned int *ids, int n, NameFunc f)
{
    GPtrArray *out = g_ptr_array_new();

    for (int i = 0; i < n; i++) {
        const char *name = f(ids[i]);
        g_ptr_array_add(out, (gpointer)(name ? name : "(unknown)"));
    }
    return out;
}

static GPtrArray *suites(gnutls_priority_t p)
{
    GPtrArray *out = g_ptr_array_new();

    for (unsigned int idx = 0;; idx++) {
        unsigned int sidx;
        unsigned char id[2];
        gnutls_kx_algorithm_t kx;
        gnutls_cipher_algorithm_t cipher;
        gnutls_mac_algorithm_t mac;
        gnutls_protocol_t min;
        const char *name;
        int rc = gnutls_priority_get_cipher_suite_index(p, idx, &sidx);

        if (rc == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE) {
            break;
        }
        if (rc < 0) {
            continue;
        }
        name = gnutls_cipher_suite_info(sidx, id, &kx, &cipher, &mac, &min);
        if (name) {
            g_ptr_array_add(out, (gpointer)name);
        }
    }
    return out;
}

static void list_all(gnutls_priority_t p, Listing *l)
{
    const unsigned int *ids = NULL;
    int n;

    n = gnutls_priority_protocol_list(p, &ids);
    l[0] = (Listing){"protocols", "protocols",
                     names_of(ids, n > 0 ? n : 0, protocol_name)};
    n = gnutls_priority_cipher_list(p, &ids);
    l[1] = (Listing){"ciphers", "ciphers",
                     names_of(ids, n > 0 ? n : 0, cipher_name)};
    n = gnutls_priority_mac_list(p, &ids);
    l[2] = (Listing){"MACs", "macs", names_of(ids, n > 0 ? n : 0, mac_name)};
    n = gnutls_priority_kx_list(p, &ids);
    l[3] = (Listing){"key exchanges", "key_exchanges",
                     names_of(ids, n > 0 ? n : 0, kx_name)};
    n = gnutls_priority_group_list(p, &ids);
    l[4] =
        (Listing){"groups", "groups", names_of(ids, n > 0 ? n : 0, group_name)};
    n = gnutls_priority_sign_list(p, &ids);
    l[5] = (Listing){"signatures", "signatures",
                     names_of(ids, n > 0 ? n : 0, sign_name)};
    l[6] = (Listing){"cipher suites", "cipher_suites", suites(p)};
}

#define N_LISTINGS 7

static char *resolution_text(const VhTlsPriority *prio)
{
    switch (prio->resolution) {
    case VH_TLS_PRIORITY_KEYWORD:
        return g_strdup_printf("keyword %s%s%s", prio->keyword,
                               prio->keyword_value ? " = " : "",
                               prio->keyword_value ? prio->keyword_value : "");
    case VH_TLS_PRIORITY_BASELINE:
        return g_strdup_printf("baseline (%s)", prio->baseline_reason
                                                    ? prio->baseline_reason
                                                    : "no keyword found");
    case VH_TLS_PRIORITY_LITERAL:
    default:
        return g_strdup("literal (no keyword lookup)");
    }
}

/* A string given to resolve is passed as the object's; say so plainly. */
static const char *source_name(const VhTlsPriority *prio, bool given)
{
    return given ? "command-line" : vh_tls_priority_source_name(prio->source);
}

static void print_text(const VhTlsPriority *prio, bool given, Listing *l)
{
    g_autofree char *how = resolution_text(prio);

    printf("requested:     %s (from %s)\n", prio->requested,
           source_name(prio, given));
    printf("system file:   %s\n", prio->system_file
                                      ? prio->system_file
                                      : vh_tls_priority_system_file());
    printf("resolution:    %s\n", how);
    printf("effective:     %s\n", prio->string);
    for (int i = 0; i < N_LISTINGS; i++) {
        g_autofree char *label = g_strconcat(l[i].label, ":", NULL);
        printf("%-14s", label);
        if (!l[i].names->len) {
            printf(" (none)");
        }
        for (guint j = 0; j < l[i].names->len; j++) {
            printf(" %s", (const char *)l[i].names->pdata[j]);
        }
        putchar('\n');
    }
}

static void print_json(const VhTlsPriority *prio, bool given, Listing *l)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    g_autoptr(JsonGenerator) gen = json_generator_new();
    g_autoptr(JsonNode) root = NULL;
    g_autofree char *out = NULL;

    json_builder_begin_object(b);
    json_builder_set_member_name(b, "requested");
    json_builder_add_string_value(b, prio->requested);
    json_builder_set_member_name(b, "source");
    json_builder_add_string_value(b, source_name(prio, given));
    json_builder_set_member_name(b, "system_file");
    json_builder_add_string_value(b, prio->system_file
                                         ? prio->system_file
                                         : vh_tls_priority_system_file());
    json_builder_set_member_name(b, "resolution");
    json_builder_add_string_value(
        b, vh_tls_priority_resolution_name(prio->resolution));
    json_builder_set_member_name(b, "keyword");
    if (prio->keyword) {
        json_builder_add_string_value(b, prio->keyword);
    } else {
        json_builder_add_null_value(b);
    }
    json_builder_set_member_name(b, "keyword_value");
    if (prio->keyword_value) {
        json_builder_add_string_value(b, prio->keyword_value);
    } else {
        json_builder_add_null_value(b);
    }
    json_builder_set_member_name(b, "baseline_reason");
    if (prio->baseline_reason) {
        json_builder_add_string_value(b, prio->baseline_reason);
    } else {
        json_builder_add_null_value(b);
    }
    json_builder_set_member_name(b, "effective");
    json_builder_add_string_value(b, prio->string);
    for (int i = 0; i < N_LISTINGS; i++) {
        json_builder_set_member_name(b, l[i].member);
        json_builder_begin_array(b);
        for (guint j = 0; j < l[i].names->len; j++) {
            json_builder_add_string_value(b, l[i].names->pdata[j]);
        }
        json_builder_end_array(b);
    }
    json_builder_end_object(b);
    root = json_builder_get_root(b);
    json_generator_set_root(gen, root);
    json_generator_set_pretty(gen, TRUE);
    out = json_generator_to_data(gen, NULL);
    printf("%s\n", out);
}

int vh_policy_resolve_main(const char *string, const char *config_path,
                           bool json)
{
    VhHostConf conf = {0};
    VhTlsPriority prio = {0};
    g_autoptr(GError) err = NULL;
    Listing l[N_LISTINGS];
    VhTlsPriorityInputs in = {
        .object_priority = string,
        .conf = &conf,
        .quiet = true,
    };

    if (!vh_host_conf_read(config_path, &conf, &err) ||
        !vh_tls_priority_resolve(&in, &prio, &err)) {
        fprintf(stderr, "vmhost-policy: %s\n", err->message);
        vh_host_conf_clear(&conf);
        return 1;
    }
    list_all(prio.compiled, l);
    if (json) {
        print_json(&prio, string != NULL, l);
    } else {
        print_text(&prio, string != NULL, l);
    }
    for (int i = 0; i < N_LISTINGS; i++) {
        g_ptr_array_unref(l[i].names);
    }
    vh_tls_priority_clear(&prio);
    vh_host_conf_clear(&conf);
    return 0;
}
