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
    g_assert_cmpstr(prio.requested, ==, VMHOST_TLS_PRIORITY_DEFAULT);
    if (VMHOST_TLS_PRIORITY_DEFAULT[0] == '@') {
        /* The tests' system file (tests/unit/meson.build) has SYSTEM. */
        g_assert_cmpint(prio.resolution, ==, VH_TLS_PRIORITY_KEYWORD);
        g_assert_cmpstr(prio.keyword, ==, "SYSTEM");
        g_assert_cmpstr(prio.keyword_value, ==, "NORMAL");
    }
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

/* The config level sits between the object and the build default. */
static void test_config_level(void)
{
    g_autoptr(GError) err = NULL;
    VhHostConf conf = {.tls_priority = (char *)"NORMAL:-VERS-TLS1.3"};
    VhTlsPriorityInputs in = {.conf = &conf, .build_default = "SECURE256"};
    VhTlsPriority prio = {0};
    g_autoptr(VhTlsCreds) anon = NULL;

    g_assert_true(vh_tls_priority_resolve(&in, &prio, &err));
    g_assert_no_error(err);
    g_assert_cmpstr(prio.string, ==, "NORMAL:-VERS-TLS1.3");
    g_assert_cmpstr(prio.requested, ==, "NORMAL:-VERS-TLS1.3");
    g_assert_cmpint(prio.source, ==, VH_TLS_PRIORITY_SOURCE_CONFIG);
    g_assert_cmpint(prio.resolution, ==, VH_TLS_PRIORITY_LITERAL);
    g_assert_cmpstr(vh_tls_priority_source_name(prio.source), ==, "config");
    g_assert_cmpstr(vh_tls_priority_resolution_name(prio.resolution), ==,
                    "literal");
    g_assert_null(prio.system_file);

    /* The object's priority= beats the config. */
    in.object_priority = "NORMAL:-VERS-TLS1.2";
    g_assert_true(vh_tls_priority_resolve(&in, &prio, &err));
    g_assert_cmpstr(prio.string, ==, "NORMAL:-VERS-TLS1.2");
    g_assert_cmpint(prio.source, ==, VH_TLS_PRIORITY_SOURCE_OBJECT);

    /* A bad config string fails like any other. */
    in.object_priority = NULL;
    conf.tls_priority = (char *)"NORMAL:-VERS-TLS9";
    g_assert_false(vh_tls_priority_resolve(&in, &prio, &err));
    g_assert_cmpstr(err->message, ==,
                    "Failed to set TLS session priority to NORMAL:-VERS-TLS9: "
                    "The request is invalid at 'VERS-TLS9'");
    g_assert_null(prio.requested);
    g_clear_error(&err);

    /* Creds read the installed vmhost.conf settings (in.conf NULL). */
    conf.tls_priority = (char *)"SECURE128";
    vh_host_conf_set(&conf);
    anon = g_initable_new(VH_TYPE_TLS_CREDS_ANON, NULL, &err, "endpoint",
                          VH_TLS_CREDS_ENDPOINT_SERVER, NULL);
    vh_host_conf_set(NULL);
    g_assert_no_error(err);
    g_assert_cmpstr(vh_tls_creds_get_priority(anon), ==,
                    "SECURE128" VH_TLS_ANON_PRIORITY_SUFFIX);
    g_assert_cmpint(vh_tls_creds_get_priority_source(anon), ==,
                    VH_TLS_PRIORITY_SOURCE_CONFIG);
    g_assert_cmpstr(vh_tls_creds_get_priority_info(anon)->requested, ==,
                    "SECURE128");
}

/* ---- '@' strings: each case in a child whose GnuTLS reads its own file */

static const char *system_file(void)
{
    return g_getenv("GNUTLS_SYSTEM_PRIORITY_FILE");
}

/*
 * Re-run the current test in a child whose GNUTLS_SYSTEM_PRIORITY_FILE
 * holds @content (NULL: the file does not exist). GnuTLS reads the variable
 * when it initialises, so it cannot be changed in this process.
 */
static void in_child_with_system_file(const char *content)
{
    g_autofree char *dir = vh_test_mkdtemp("vh-tls-prio");
    g_autofree char *file = g_build_filename(dir, "gnutls.config", NULL);
    g_autofree char *saved = g_strdup(system_file());

    if (content) {
        g_assert_true(g_file_set_contents(file, content, -1, NULL));
    }
    g_setenv("GNUTLS_SYSTEM_PRIORITY_FILE", file, true);
    g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDERR);
    if (saved) {
        g_setenv("GNUTLS_SYSTEM_PRIORITY_FILE", saved, true);
    } else {
        g_unsetenv("GNUTLS_SYSTEM_PRIORITY_FILE");
    }
    vh_test_rm_rf(dir);
    g_test_trap_assert_passed();
}

/* The protocol versions @prio enables, e.g. "TLS1.3 TLS1.2". */
static char *protocols(gnutls_priority_t prio)
{
    const unsigned int *list = NULL;
    int n = gnutls_priority_protocol_list(prio, &list);
    GString *s = g_string_new(NULL);

    for (int i = 0; i < n; i++) {
        g_string_append_printf(s, "%s%s", i ? " " : "",
                               gnutls_protocol_get_name(list[i]));
    }
    return g_string_free(s, false);
}

static void resolve_ok(const char *requested, VhTlsPriority *prio)
{
    g_autoptr(GError) err = NULL;
    VhHostConf none = {0};
    VhTlsPriorityInputs in = {.build_default = requested, .conf = &none};

    g_assert_true(vh_tls_priority_resolve(&in, prio, &err));
    g_assert_no_error(err);
    g_assert_cmpstr(prio->requested, ==, requested);
    g_assert_cmpstr(prio->system_file, ==, system_file());
}

static char *resolve_error(const char *requested, bool strict)
{
    GError *err = NULL;
    VhHostConf conf = {.tls_priority_strict = strict};
    VhTlsPriorityInputs in = {.build_default = requested, .conf = &conf};
    VhTlsPriority prio = {0};
    char *msg;

    g_assert_false(vh_tls_priority_resolve(&in, &prio, &err));
    g_assert_error(err, VH_ERROR, VH_ERROR_CONFIG);
    g_assert_null(prio.string);
    g_assert_null(prio.compiled);
    msg = g_strdup(err->message);
    g_error_free(err);
    return msg;
}

static const char ini_file[] = "# generated\n"
                               "[global]\n"
                               "override-mode = blocklist\n"
                               "\n"
                               "[overrides]\n"
                               "insecure-hash = MD5\n"
                               "\n"
                               "[priorities]\n"
                               "SYSTEM=NORMAL:-VERS-ALL:+VERS-TLS1.2\n"
                               "VMHOST = NORMAL:-VERS-ALL:+VERS-TLS1.3  \n";

static void test_at_ini(void)
{
    VhTlsPriority prio = {0};
    g_autofree char *reason = NULL;
    g_autofree char *value = NULL;
    g_autofree char *p = NULL;

    if (!g_test_subprocess()) {
        in_child_with_system_file(ini_file);
        return;
    }
    resolve_ok("@VMHOST,SYSTEM", &prio);
    g_assert_cmpint(prio.resolution, ==, VH_TLS_PRIORITY_KEYWORD);
    g_assert_cmpstr(vh_tls_priority_resolution_name(prio.resolution), ==,
                    "keyword");
    g_assert_cmpstr(prio.keyword, ==, "VMHOST");
    g_assert_cmpstr(prio.keyword_value, ==, "NORMAL:-VERS-ALL:+VERS-TLS1.3");
    g_assert_cmpstr(prio.string, ==, "@VMHOST,SYSTEM");
    g_assert_null(prio.baseline_reason);
    p = protocols(prio.compiled);
    g_assert_cmpstr(p, ==, "TLS1.3");
    g_free(p);

    /* No app entry: the system entry, as GnuTLS agrees. */
    resolve_ok("@LIBVIRT,SYSTEM", &prio);
    g_assert_cmpstr(prio.keyword, ==, "SYSTEM");
    p = protocols(prio.compiled);
    g_assert_cmpstr(p, ==, "TLS1.2");
    g_free(p);

    /* Text after ':' is appended to the entry. */
    resolve_ok("@VMHOST,SYSTEM:+VERS-TLS1.2", &prio);
    g_assert_cmpstr(prio.keyword, ==, "VMHOST");
    p = protocols(prio.compiled);
    g_assert_cmpstr(p, ==, "TLS1.3 TLS1.2");
    vh_tls_priority_clear(&prio);

    value = vh_tls_priority_lookup_keyword(system_file(), "SYSTEM", &reason);
    g_assert_cmpstr(value, ==, "NORMAL:-VERS-ALL:+VERS-TLS1.2");
    g_assert_null(reason);
    g_free(value);
    value = vh_tls_priority_lookup_keyword(system_file(), "system", &reason);
    g_assert_null(value);
    g_assert_cmpstr(reason, ==, "no entry system");
    g_free(reason);
    value = vh_tls_priority_lookup_keyword("/nonexistent/gnutls.config",
                                           "SYSTEM", &reason);
    g_assert_null(value);
    g_assert_cmpstr(reason, ==, "no such file");
}

static void test_at_legacy(void)
{
    VhTlsPriority prio = {0};
    g_autofree char *p = NULL;

    if (!g_test_subprocess()) {
        in_child_with_system_file("# KEYWORD=string, GnuTLS < 3.6.9\n"
                                  "VMHOST=NORMAL:-VERS-ALL:+VERS-TLS1.2\n"
                                  "VMHOST=NORMAL\n"
                                  "SYSTEM=NORMAL:-VERS-ALL:+VERS-TLS1.3 ; c\n"
                                  "  LIBVIRT=NORMAL\n");
        return;
    }
    /* A duplicated keyword: the first one wins, for GnuTLS and for us. */
    resolve_ok("@VMHOST,SYSTEM", &prio);
    g_assert_cmpint(prio.resolution, ==, VH_TLS_PRIORITY_KEYWORD);
    g_assert_cmpstr(prio.keyword, ==, "VMHOST");
    g_assert_cmpstr(prio.keyword_value, ==, "NORMAL:-VERS-ALL:+VERS-TLS1.2");
    p = protocols(prio.compiled);
    g_assert_cmpstr(p, ==, "TLS1.2");
    g_free(p);
    resolve_ok("@SYSTEM", &prio);
    g_assert_cmpstr(prio.keyword, ==, "SYSTEM");
    g_assert_cmpstr(prio.keyword_value, ==, "NORMAL:-VERS-ALL:+VERS-TLS1.3");
    p = protocols(prio.compiled);
    g_assert_cmpstr(p, ==, "TLS1.3");
    /*
     * An indented line continues the previous entry (GnuTLS's INI reader):
     * there is no LIBVIRT entry, so SYSTEM is used.
     */
    resolve_ok("@LIBVIRT,SYSTEM", &prio);
    g_assert_cmpstr(prio.keyword, ==, "SYSTEM");
    vh_tls_priority_clear(&prio);
}

static void test_at_allowlist(void)
{
    VhTlsPriority prio = {0};
    g_autofree char *p = NULL;

    if (!g_test_subprocess()) {
        in_child_with_system_file("[global]\n"
                                  "override-mode = allowlist\n"
                                  "[overrides]\n"
                                  "secure-hash = SHA256\n"
                                  "secure-sig = RSA-SHA256\n"
                                  "enabled-version = TLS1.2\n"
                                  "tls-enabled-cipher = AES-128-GCM\n"
                                  "tls-enabled-mac = AEAD\n"
                                  "tls-enabled-group = SECP256R1\n"
                                  "tls-enabled-kx = ECDHE-RSA\n");
        return;
    }
    /* SYSTEM exists without a [priorities] line: the allowlist builds it. */
    resolve_ok("@VMHOST,SYSTEM", &prio);
    g_assert_cmpint(prio.resolution, ==, VH_TLS_PRIORITY_KEYWORD);
    g_assert_cmpstr(prio.keyword, ==, "SYSTEM");
    g_assert_nonnull(strstr(prio.keyword_value, "allowlist"));
    p = protocols(prio.compiled);
    g_assert_cmpstr(p, ==, "TLS1.2");
    vh_tls_priority_clear(&prio);
}

/* The baseline: TLS 1.3 + 1.2, AEAD only, no SHA-1 signatures. */
static void assert_baseline_algorithms(gnutls_priority_t compiled)
{
    g_autofree char *p = protocols(compiled);
    const unsigned int *list = NULL;
    int n;

    g_assert_cmpstr(p, ==, "TLS1.3 TLS1.2");
    n = gnutls_priority_cipher_list(compiled, &list);
    g_assert_cmpint(n, >, 0);
    for (int i = 0; i < n; i++) {
        const char *name = gnutls_cipher_get_name(list[i]);

        g_assert_true(g_str_has_suffix(name, "-GCM") ||
                      g_str_has_suffix(name, "-CCM") ||
                      g_str_equal(name, "CHACHA20-POLY1305"));
    }
    /* AES-GCM ahead of ChaCha20. */
    g_assert_cmpstr(gnutls_cipher_get_name(list[0]), ==, "AES-256-GCM");
    g_assert_cmpstr(gnutls_cipher_get_name(list[1]), ==, "AES-128-GCM");
    g_assert_cmpstr(gnutls_cipher_get_name(list[2]), ==, "CHACHA20-POLY1305");
    n = gnutls_priority_sign_list(compiled, &list);
    g_assert_cmpint(n, >, 0);
    for (int i = 0; i < n; i++) {
        g_assert_null(strstr(gnutls_sign_get_name(list[i]), "SHA1"));
    }
}

static void test_at_no_file(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(VhTlsCreds) anon = NULL;
    g_autoptr(VhTlsCreds) strict_creds = NULL;
    VhTlsPriority prio = {0};
    g_autofree char *expect = NULL;
    g_autofree char *msg = NULL;
    g_autofree char *p = NULL;
    VhHostConf strict = {.tls_priority_strict = true};
    const VhTlsPriority *info;

    if (!g_test_subprocess()) {
        in_child_with_system_file(NULL);
        return;
    }
    /* One warning naming the file, the keywords and the baseline. */
    expect = g_strdup_printf("TLS priority @VMHOST,SYSTEM: %s: no such file "
                             "(looked for VMHOST, SYSTEM); using vmhost's "
                             "baseline %s instead*",
                             system_file(), VH_TLS_PRIORITY_BASELINE_STRING);
    g_test_expect_message("vmhost-crypto", G_LOG_LEVEL_WARNING, expect);
    resolve_ok("@VMHOST,SYSTEM", &prio);
    g_test_assert_expected_messages();
    g_assert_cmpint(prio.resolution, ==, VH_TLS_PRIORITY_BASELINE);
    g_assert_cmpstr(vh_tls_priority_resolution_name(prio.resolution), ==,
                    "baseline");
    g_assert_cmpstr(prio.string, ==, VH_TLS_PRIORITY_BASELINE_STRING);
    g_assert_null(prio.keyword);
    g_assert_nonnull(strstr(prio.baseline_reason, "no such file"));
    assert_baseline_algorithms(prio.compiled);

    /* One warning per string and process (a second one would abort). */
    resolve_ok("@VMHOST,SYSTEM", &prio);
    g_assert_cmpint(prio.resolution, ==, VH_TLS_PRIORITY_BASELINE);
    /* Extra text still applies; a new string gets its own warning. */
    g_test_expect_message("vmhost-crypto", G_LOG_LEVEL_WARNING,
                          "TLS priority @VMHOST,SYSTEM:-VERS-TLS1.2: *");
    resolve_ok("@VMHOST,SYSTEM:-VERS-TLS1.2", &prio);
    g_test_assert_expected_messages();
    g_assert_cmpstr(prio.string, ==,
                    VH_TLS_PRIORITY_BASELINE_STRING ":-VERS-TLS1.2");
    p = protocols(prio.compiled);
    g_assert_cmpstr(p, ==, "TLS1.3");
    vh_tls_priority_clear(&prio);

    /* Bad extra text is named, on the baseline too. */
    msg = resolve_error("@VMHOST,SYSTEM:-VERS-TLS9", false);
    g_assert_nonnull(strstr(msg, "Failed to set TLS session priority to "
                                 "@VMHOST,SYSTEM:-VERS-TLS9: "));
    g_assert_nonnull(strstr(msg, "no such file (looked for VMHOST, SYSTEM); "
                                 "with vmhost's baseline in its place it is "
                                 "NORMAL:"));
    g_assert_true(g_str_has_suffix(msg, ":-VERS-TLS9: The request is invalid "
                                        "at 'VERS-TLS9'"));
    g_free(msg);

    /* Strict: refuse, naming the string, the file and the setting. */
    msg = resolve_error("@VMHOST,SYSTEM", true);
    g_free(expect);
    expect = g_strdup_printf("Failed to set TLS session priority to "
                             "@VMHOST,SYSTEM: %s: no such file (looked for "
                             "VMHOST, SYSTEM), and tls_priority_strict forbids "
                             "vmhost's baseline (GnuTLS: The request is "
                             "invalid)",
                             system_file());
    g_assert_cmpstr(msg, ==, expect);

    /* The creds object records the baseline; strict refuses to create it. */
    if (VMHOST_TLS_PRIORITY_DEFAULT[0] == '@' &&
        strcmp(VMHOST_TLS_PRIORITY_DEFAULT, "@VMHOST,SYSTEM") != 0) {
        g_test_expect_message("vmhost-crypto", G_LOG_LEVEL_WARNING,
                              "TLS priority *");
    }
    anon = g_initable_new(VH_TYPE_TLS_CREDS_ANON, NULL, &err, "endpoint",
                          VH_TLS_CREDS_ENDPOINT_SERVER, NULL);
    g_assert_no_error(err);
    info = vh_tls_creds_get_priority_info(anon);
    g_assert_cmpint(info->source, ==, VH_TLS_PRIORITY_SOURCE_DEFAULT);
    if (VMHOST_TLS_PRIORITY_DEFAULT[0] == '@') {
        g_assert_cmpint(info->resolution, ==, VH_TLS_PRIORITY_BASELINE);
        g_assert_cmpstr(
            vh_tls_creds_get_priority(anon), ==,
            VH_TLS_PRIORITY_BASELINE_STRING VH_TLS_ANON_PRIORITY_SUFFIX);
        vh_host_conf_set(&strict);
        strict_creds =
            g_initable_new(VH_TYPE_TLS_CREDS_ANON, NULL, &err, "endpoint",
                           VH_TLS_CREDS_ENDPOINT_SERVER, NULL);
        vh_host_conf_set(NULL);
        g_assert_null(strict_creds);
        g_assert_nonnull(strstr(err->message, "tls_priority_strict"));
    }
}

static void test_at_no_keyword(void)
{
    VhTlsPriority prio = {0};
    g_autofree char *expect = NULL;

    if (!g_test_subprocess()) {
        in_child_with_system_file("[priorities]\nLIBVIRT=NORMAL\n");
        return;
    }
    expect = g_strdup_printf("TLS priority @VMHOST,SYSTEM: %s has no entry "
                             "VMHOST or SYSTEM; using vmhost's baseline*",
                             system_file());
    g_test_expect_message("vmhost-crypto", G_LOG_LEVEL_WARNING, expect);
    resolve_ok("@VMHOST,SYSTEM", &prio);
    g_test_assert_expected_messages();
    g_assert_cmpint(prio.resolution, ==, VH_TLS_PRIORITY_BASELINE);
    assert_baseline_algorithms(prio.compiled);
    /* A keyword that exists is used. */
    resolve_ok("@VMHOST,LIBVIRT", &prio);
    g_assert_cmpint(prio.resolution, ==, VH_TLS_PRIORITY_KEYWORD);
    g_assert_cmpstr(prio.keyword, ==, "LIBVIRT");
    vh_tls_priority_clear(&prio);
}

static void test_at_bad_entry(void)
{
    g_autofree char *msg = NULL;
    g_autofree char *expect = NULL;

    if (!g_test_subprocess()) {
        in_child_with_system_file("VMHOST=NORMAL:-VERS-TLS9\n"
                                  "LOOP=@SYSTEM\n"
                                  "SYSTEM=NORMAL\n");
        return;
    }
    /* A broken entry is an error, never the baseline, strict or not. */
    msg = resolve_error("@VMHOST,SYSTEM", false);
    expect = g_strdup_printf("Failed to set TLS session priority to "
                             "@VMHOST,SYSTEM: VMHOST in %s resolved to "
                             "NORMAL:-VERS-TLS9: The request is invalid at "
                             "'VERS-TLS9'",
                             system_file());
    g_assert_cmpstr(msg, ==, expect);
    g_free(msg);
    g_free(expect);
    /* The token is found in the extra text too. */
    msg = resolve_error("@SYSTEM:+AES-999-GCM", true);
    expect = g_strdup_printf("Failed to set TLS session priority to "
                             "@SYSTEM:+AES-999-GCM: SYSTEM in %s resolved to "
                             "NORMAL:+AES-999-GCM: The request is invalid at "
                             "'AES-999-GCM'",
                             system_file());
    g_assert_cmpstr(msg, ==, expect);
    g_free(msg);
    g_free(expect);
    /* Values are not expanded twice. */
    msg = resolve_error("@LOOP,SYSTEM", false);
    expect = g_strdup_printf("Failed to set TLS session priority to "
                             "@LOOP,SYSTEM: LOOP in %s resolved to @SYSTEM: "
                             "an entry cannot refer to another keyword",
                             system_file());
    g_assert_cmpstr(msg, ==, expect);
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
    g_test_add_func("/crypto/tls-priority/config", test_config_level);
    g_test_add_func("/crypto/tls-priority/at/ini", test_at_ini);
    g_test_add_func("/crypto/tls-priority/at/legacy", test_at_legacy);
    g_test_add_func("/crypto/tls-priority/at/allowlist", test_at_allowlist);
    g_test_add_func("/crypto/tls-priority/at/no-file", test_at_no_file);
    g_test_add_func("/crypto/tls-priority/at/no-keyword", test_at_no_keyword);
    g_test_add_func("/crypto/tls-priority/at/bad-entry", test_at_bad_entry);
    return g_test_run();
}
