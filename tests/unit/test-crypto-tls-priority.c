/* Tests for TLS priority resolution (lib/crypto/tls-priority.c). */
#include "vmhost/crypto/tls-creds-anon.h"
#include "vmhost/crypto/tls-creds-psk.h"
#include "vmhost/crypto/tls-priority.h"

#include "vmhost-config.h"

#include "crypto-testutil.h"

#include <string.h>

static void test_build_default(void)
{
    g_autoptr(GError) err = NULL;
    VhTlsPriorityInputs in = {0};
    VhTlsPriority prio = {0};

    g_assert_true(vh_tls_priority_resolve(&in, &prio, &err));
    g_assert_no_error(err);
    g_assert_cmpstr(prio.string, ==, VMHOST_TLS_PRIORITY_DEFAULT);
    g_assert_cmpint(prio.source, ==, VH_TLS_PRIORITY_SOURCE_DEFAULT);
    g_assert_nonnull(prio.compiled);
    g_assert_cmpstr(vh_tls_priority_source_name(prio.source), ==, "default");
    vh_tls_priority_clear(&prio);
    g_assert_null(prio.string);
    g_assert_null(prio.compiled);
    vh_tls_priority_clear(&prio); /* twice is fine */

    /* An empty priority= means unset. */
    in.object_priority = "";
    g_assert_true(vh_tls_priority_resolve(&in, &prio, &err));
    g_assert_cmpint(prio.source, ==, VH_TLS_PRIORITY_SOURCE_DEFAULT);
    vh_tls_priority_clear(&prio);

    /* The build default input overrides the compiled-in one. */
    in.object_priority = NULL;
    in.build_default = "SECURE256";
    g_assert_true(vh_tls_priority_resolve(&in, &prio, &err));
    g_assert_cmpstr(prio.string, ==, "SECURE256");
    g_assert_cmpint(prio.source, ==, VH_TLS_PRIORITY_SOURCE_DEFAULT);
    vh_tls_priority_clear(&prio);
}

static void test_object_override(void)
{
    g_autoptr(GError) err = NULL;
    VhTlsPriorityInputs in = {
        .object_priority = "NORMAL:-VERS-TLS1.2",
        .build_default = "SECURE256",
    };
    VhTlsPriority prio = {0};

    g_assert_true(vh_tls_priority_resolve(&in, &prio, &err));
    g_assert_cmpstr(prio.string, ==, "NORMAL:-VERS-TLS1.2");
    g_assert_cmpint(prio.source, ==, VH_TLS_PRIORITY_SOURCE_OBJECT);
    g_assert_cmpstr(vh_tls_priority_source_name(prio.source), ==, "object");
    vh_tls_priority_clear(&prio);
}

static void test_suffix(void)
{
    g_autoptr(GError) err = NULL;
    VhTlsPriorityInputs in = {
        .object_priority = "NORMAL",
        .suffix = VH_TLS_PSK_PRIORITY_SUFFIX,
    };
    VhTlsPriority prio = {0};

    g_assert_true(vh_tls_priority_resolve(&in, &prio, &err));
    g_assert_cmpstr(prio.string, ==, "NORMAL:+ECDHE-PSK:+DHE-PSK:+PSK");
    vh_tls_priority_clear(&prio);
}

static void test_typo_names_token(void)
{
    g_autoptr(GError) err = NULL;
    VhTlsPriorityInputs in = {.object_priority = "NORMAL:-VERS-TLS1.9"};
    VhTlsPriority prio = {0};
    gnutls_priority_t compiled = NULL;

    g_assert_false(vh_tls_priority_resolve(&in, &prio, &err));
    g_assert_error(err, VH_ERROR, VH_ERROR_CONFIG);
    g_assert_cmpstr(err->message, ==,
                    "Failed to set TLS session priority to "
                    "NORMAL:-VERS-TLS1.9: The request is invalid at "
                    "'VERS-TLS1.9'");
    g_assert_null(prio.string);
    g_assert_null(prio.compiled);
    g_clear_error(&err);

    /* A token in the middle: only that token is named. */
    g_assert_false(vh_tls_priority_compile("NORMAL:+AES-999-GCM:-VERS-TLS1.0",
                                           &compiled, &err));
    g_assert_null(compiled);
    g_assert_nonnull(strstr(err->message, "at 'AES-999-GCM'"));
    g_clear_error(&err);

    /* A bad base keyword. */
    g_assert_false(vh_tls_priority_compile("NORMALX", &compiled, &err));
    g_assert_nonnull(strstr(err->message, "at 'NORMALX'"));
    g_clear_error(&err);

    /* A bad build default is caught the same way. */
    in.object_priority = NULL;
    in.build_default = "NORMAL:%BOGUS";
    g_assert_false(vh_tls_priority_resolve(&in, &prio, &err));
    g_assert_nonnull(strstr(err->message, "at '%BOGUS'"));
}

static void test_creds_use_resolution(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(VhTlsCreds) anon = NULL;
    g_autoptr(VhTlsCreds) anon2 = NULL;
    g_autoptr(VhTlsCreds) bad = NULL;
    g_autofree char *expect = g_strconcat(VMHOST_TLS_PRIORITY_DEFAULT,
                                          VH_TLS_ANON_PRIORITY_SUFFIX, NULL);

    anon = g_initable_new(VH_TYPE_TLS_CREDS_ANON, NULL, &err, "endpoint",
                          VH_TLS_CREDS_ENDPOINT_SERVER, NULL);
    g_assert_no_error(err);
    g_assert_cmpstr(vh_tls_creds_get_priority(anon), ==, expect);
    g_assert_cmpint(vh_tls_creds_get_priority_source(anon), ==,
                    VH_TLS_PRIORITY_SOURCE_DEFAULT);

    anon2 = g_initable_new(VH_TYPE_TLS_CREDS_ANON, NULL, &err, "priority",
                           "NORMAL:-VERS-TLS1.3", NULL);
    g_assert_no_error(err);
    g_assert_cmpstr(vh_tls_creds_get_priority(anon2), ==,
                    "NORMAL:-VERS-TLS1.3:+ANON-ECDH:+ANON-DH");
    g_assert_cmpint(vh_tls_creds_get_priority_source(anon2), ==,
                    VH_TLS_PRIORITY_SOURCE_OBJECT);

    /* A typo fails when the object is created, naming the token. */
    bad = g_initable_new(VH_TYPE_TLS_CREDS_ANON, NULL, &err, "priority",
                         "NORMAL:+VERS-TLS1.9", NULL);
    g_assert_null(bad);
    g_assert_error(err, VH_ERROR, VH_ERROR_CONFIG);
    g_assert_nonnull(strstr(err->message,
                            "Failed to set TLS session priority to "
                            "NORMAL:+VERS-TLS1.9:+ANON-ECDH:+ANON-DH"));
    g_assert_nonnull(strstr(err->message, "at 'VERS-TLS1.9'"));
}

static void test_priority_applied(void)
{
    /* TLS 1.2 only on the client: the handshake agrees on TLS 1.2. */
    g_autoptr(GError) err = NULL;
    g_autoptr(VhTlsCreds) server =
        g_initable_new(VH_TYPE_TLS_CREDS_ANON, NULL, &err, "endpoint",
                       VH_TLS_CREDS_ENDPOINT_SERVER, NULL);
    g_autoptr(VhTlsCreds) client =
        g_initable_new(VH_TYPE_TLS_CREDS_ANON, NULL, &err, "priority",
                       "NORMAL:-VERS-ALL:+VERS-TLS1.2", NULL);
    g_autoptr(VhTlsCreds) client13 =
        g_initable_new(VH_TYPE_TLS_CREDS_ANON, NULL, &err, "priority",
                       "NORMAL:-VERS-ALL:+VERS-TLS1.3", NULL);

    g_assert_no_error(err);
    g_assert_cmpint(vh_test_handshake(server, client, NULL, NULL), ==, 0);
    /* Anonymous key exchange does not exist in TLS 1.3. */
    g_assert_cmpint(vh_test_handshake(server, client13, NULL, NULL), <, 0);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/crypto/tls-priority/build-default", test_build_default);
    g_test_add_func("/crypto/tls-priority/object-override",
                    test_object_override);
    g_test_add_func("/crypto/tls-priority/suffix", test_suffix);
    g_test_add_func("/crypto/tls-priority/typo", test_typo_names_token);
    g_test_add_func("/crypto/tls-priority/creds", test_creds_use_resolution);
    g_test_add_func("/crypto/tls-priority/applied", test_priority_applied);
    return g_test_run();
}
