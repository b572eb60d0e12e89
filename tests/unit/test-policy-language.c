/*
 * vmhost-policy's library (src/vmhost-policy): the policy language, the
 * generated back-ends, the tree (config, local.d) and the GnuTLS check
 * before installing. The program itself is tested end to end by
 * tests/programs/test-vmhost-policy.sh.
 */
#include "policy.h"
#include "tree.h"

#include "crypto-testutil.h"
#include "vmhost/util/error.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static char *tmpdir;

/* The names in @list of @pol, space-separated (transfer full). */
static char *names(const VhPolicy *pol, VhPolicyList list)
{
    GString *s = g_string_new(NULL);
    GPtrArray *a = pol->lists[list];

    for (guint i = 0; i < a->len; i++) {
        const VhPolicyAlg *alg = a->pdata[i];
        g_string_append_printf(s, "%s%s", i ? " " : "", alg->name);
    }
    return g_string_free(s, FALSE);
}

static VhPolicy *parse(const char *text)
{
    g_autoptr(VhPolicy) pol = vh_policy_new("TEST");
    g_autoptr(GError) err = NULL;

    if (!vh_policy_apply_text(pol, "t.pol", text, &err)) {
        g_error("unexpected: %s", err->message);
    }
    return g_steal_pointer(&pol);
}

static void expect_error(const char *text, const char *what)
{
    g_autoptr(VhPolicy) pol = vh_policy_new("TEST");
    g_autoptr(GError) err = NULL;

    g_assert_false(vh_policy_apply_text(pol, "t.pol", text, &err));
    g_assert_error(err, VH_ERROR, VH_ERROR_CONFIG);
    if (!strstr(err->message, what)) {
        g_error("error '%s' lacks '%s'", err->message, what);
    }
}

static void put(const char *rel, const char *text)
{
    g_autofree char *path = g_build_filename(tmpdir, rel, NULL);
    g_autofree char *dir = g_path_get_dirname(path);

    g_assert_cmpint(g_mkdir_with_parents(dir, 0755), ==, 0);
    g_assert_true(g_file_set_contents(path, text, -1, NULL));
}

static void test_builtins(void)
{
    const char *const *pols = vh_policy_builtin_names(false);
    const char *const *mods = vh_policy_builtin_names(true);

    for (guint i = 0; pols[i]; i++) {
        for (guint j = 0; mods[j]; j++) {
            g_autofree char *spec = g_strdup_printf("%s:%s", pols[i], mods[j]);
            g_autoptr(GError) err = NULL;
            g_autoptr(VhPolicy) pol = vh_policy_load(tmpdir, spec, &err);
            g_assert_no_error(err);
            g_assert_cmpstr(pol->name, ==, spec);
        }
    }
    {
        g_autoptr(VhPolicy) d = vh_policy_load(tmpdir, "DEFAULT", NULL);
        g_autofree char *prot = names(d, VH_POLICY_PROTOCOL);
        g_autofree char *mac = names(d, VH_POLICY_MAC);
        g_autofree char *cipher = names(d, VH_POLICY_CIPHER);
        g_assert_cmpstr(prot, ==, "TLS1.3 TLS1.2 DTLS1.2");
        g_assert_cmpstr(mac, ==, "AEAD");
        g_assert_true(g_str_has_prefix(cipher, "AES-256-GCM AES-128-GCM "
                                               "CHACHA20-POLY1305"));
        g_assert_cmpint(d->min_rsa_size, ==, 2048);
        g_assert_cmpint(d->min_dh_size, ==, 2048);
    }
    {
        g_autoptr(VhPolicy) l = vh_policy_load(tmpdir, "LEGACY:NO-SHA1", NULL);
        g_autofree char *sign = names(l, VH_POLICY_SIGN);
        g_autofree char *hash = names(l, VH_POLICY_HASH);
        g_autofree char *mac = names(l, VH_POLICY_MAC);
        g_assert_null(strstr(sign, "SHA1"));
        g_assert_null(strstr(hash, "SHA1"));
        g_assert_cmpstr(mac, ==, "AEAD HMAC-SHA2-256 HMAC-SHA2-384");
        g_assert_cmpint(l->min_rsa_size, ==, 1024);
    }
    {
        g_autoptr(VhPolicy) f =
            vh_policy_load(tmpdir, "FUTURE:ECDHE-ONLY", NULL);
        g_autofree char *kx = names(f, VH_POLICY_KX);
        g_autofree char *group = names(f, VH_POLICY_GROUP);
        g_assert_cmpstr(kx, ==, "ECDHE");
        g_assert_cmpstr(group, ==, "X25519 SECP256R1 X448 SECP521R1 SECP384R1");
        g_assert_cmpint(f->min_rsa_size, ==, 3072);
    }
}

static void test_edits(void)
{
    g_autoptr(VhPolicy) pol =
        parse("cipher = AES-256-GCM AES-128-GCM CHACHA20-POLY1305\n"
              "cipher = +AES-256-CBC -AES-128-GCM\n"
              "cipher = AES-128-CCM+ CHACHA20-POLY1305+\n"
              "cipher = +AES-256-GCM\n" /* already there: stays put */
              "mac = AEAD HMAC-SHA1\n"
              "mac =\n" /* an empty list empties it */
              "min_rsa_size = 3072\n");
    g_autofree char *cipher = names(pol, VH_POLICY_CIPHER);
    g_autofree char *mac = names(pol, VH_POLICY_MAC);

    g_assert_cmpstr(cipher, ==,
                    "AES-128-CCM CHACHA20-POLY1305 AES-256-GCM AES-256-CBC");
    g_assert_cmpstr(mac, ==, "");
    g_assert_cmpint(pol->min_rsa_size, ==, 3072);
    g_assert_cmpint(pol->min_dh_size, ==, 0);
}

static void test_globs_and_case(void)
{
    g_autoptr(VhPolicy) pol =
        parse("sign = RSA-SHA1 ECDSA-SHA1 RSA-SHA2-256 dsa-sha1\n"
              "sign = -*-SHA1\n"
              "cipher = *-GCM\n"
              "cipher = -CAMELLIA-*\n");
    g_autofree char *sign = names(pol, VH_POLICY_SIGN);
    g_autofree char *cipher = names(pol, VH_POLICY_CIPHER);

    g_assert_cmpstr(sign, ==, "RSA-SHA2-256");
    /* table order for a glob; AES-192-GCM has no GnuTLS form but is known */
    g_assert_cmpstr(cipher, ==, "AES-256-GCM AES-128-GCM AES-192-GCM");
}

static void test_scopes(void)
{
    g_autoptr(VhPolicy) pol = parse("cipher = AES-256-GCM\n"
                                    "cipher@TLS = +AES-128-GCM\n"
                                    "cipher@SSH = AES-256-CTR\n"
                                    "cipher@!SSH = +AES-256-CCM\n"
                                    "cipher@{ssh,gnutls} = +AES-128-CCM\n"
                                    "cipher@!{tls,ike} = CHACHA20-POLY1305\n"
                                    "min_dh_size@openssh = 4096\n"
                                    "min_dh_size@ssl = 3072\n");
    g_autofree char *cipher = names(pol, VH_POLICY_CIPHER);

    g_assert_cmpstr(cipher, ==,
                    "AES-256-GCM AES-128-GCM AES-256-CCM "
                    "AES-128-CCM");
    g_assert_cmpint(pol->min_dh_size, ==, 3072);
}

static void test_lines(void)
{
    g_autoptr(VhPolicy) pol = parse("# comment\n"
                                    "\n"
                                    "group = X25519 \\\n"
                                    "        SECP256R1 # a comment \\\n"
                                    "   hash = SHA2-256   # trailing\n");
    g_autofree char *group = names(pol, VH_POLICY_GROUP);
    g_autofree char *hash = names(pol, VH_POLICY_HASH);

    /* a comment ends the line: its backslash does not continue it */
    g_assert_cmpstr(group, ==, "X25519 SECP256R1");
    g_assert_cmpstr(hash, ==, "SHA2-256");
    expect_error("group = X25519 \\\n  SECP256R1 # x \\\n  FFDHE-2048\n",
                 "t.pol:3: expected 'key = value', got 'FFDHE-2048'");
}

static void test_errors(void)
{
    static const struct {
        const char *text;
        const char *error;
    } cases[] = {
        {"cipher AES-256-GCM\n", "t.pol:1: expected 'key = value'"},
        {"\n\nCipher = AES-256-GCM\n", "t.pol:3: expected 'key = value'"},
        {"arbitrary_dh_groups = 1\n", "t.pol:1: unsupported key "
                                      "'arbitrary_dh_groups'"},
        {"cipher = AES-512-GCM\n", "t.pol:1: unknown cipher 'AES-512-GCM'"},
        {"key_exchange = ECDH\n", "unknown key exchange 'ECDH'"},
        {"sign = RSA-SHA1\nsign = -FOO-*\n",
         "t.pol:2: 'FOO-*' matches no known signature algorithm"},
        {"cipher = AES-256-GCM -AES-128-GCM\n", "mixes a plain list"},
        {"cipher = -\n", "t.pol:1: empty cipher name"},
        {"min_rsa_size = 512\n", "from 1024 to 16384, not '512'"},
        {"min_dh_size = lots\n", "not 'lots'"},
        {"cipher@FOO = AES-256-GCM\n", "unknown scope 'FOO'"},
        {"cipher@{tls = AES-256-GCM\n", "unterminated scope"},
        {"cipher@SSH = AES-9\n", "unknown cipher 'AES-9'"},
        {"mac = AEAD \\", "t.pol:1: the last line ends with '\\'"},
    };

    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        expect_error(cases[i].text, cases[i].error);
    }
}

static void test_spec(void)
{
    static const char *const bad[] = {"",   "A::B", "A:", "a/b",
                                      "..", "-X",   "A B"};
    g_auto(GStrv) ok = vh_policy_spec_split("DEFAULT:NO-SHA1:MY_MOD.1", NULL);

    g_assert_cmpuint(g_strv_length(ok), ==, 3);
    g_assert_cmpstr(ok[2], ==, "MY_MOD.1");
    for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(GError) err = NULL;
        g_auto(GStrv) parts = vh_policy_spec_split(bad[i], &err);
        g_assert_null(parts);
        g_assert_error(err, VH_ERROR, VH_ERROR_CONFIG);
    }
}

static void test_load_files(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(VhPolicy) pol = NULL;

    /* /etc beats /usr/share beats the built-in */
    put("usr/share/crypto-policies/policies/DEFAULT.pol", "mac = HMAC-SHA1\n");
    pol = vh_policy_load(tmpdir, "DEFAULT", &err);
    g_assert_no_error(err);
    g_assert_cmpuint(pol->lists[VH_POLICY_MAC]->len, ==, 1);
    g_clear_pointer(&pol, vh_policy_free);
    put("etc/crypto-policies/policies/DEFAULT.pol", "mac = HMAC-MD5 AEAD\n");
    put("etc/crypto-policies/policies/modules/MINE.pmod", "mac = -AEAD\n");
    pol = vh_policy_load(tmpdir, "DEFAULT:MINE", &err);
    g_assert_no_error(err);
    {
        g_autofree char *mac = names(pol, VH_POLICY_MAC);
        g_assert_cmpstr(mac, ==, "HMAC-MD5");
    }
    g_clear_pointer(&pol, vh_policy_free);

    put("etc/crypto-policies/policies/modules/BAD.pmod",
        "# ok\ncipher = -AES-128-GCM\nprotocol = TLS1.4\n");
    pol = vh_policy_load(tmpdir, "LEGACY:BAD", &err);
    g_assert_null(pol);
    g_assert_nonnull(strstr(err->message, "modules/BAD.pmod:3: unknown "
                                          "protocol 'TLS1.4'"));
    g_clear_error(&err);

    /* a policy that cannot be read (even by root: a directory) */
    {
        g_autofree char *d = g_build_filename(
            tmpdir, "etc/crypto-policies/policies/DIR.pol", NULL);
        g_assert_cmpint(g_mkdir_with_parents(d, 0755), ==, 0);
        pol = vh_policy_load(tmpdir, "DIR", &err);
        g_assert_null(pol);
        g_assert_nonnull(strstr(err->message, "Cannot read policy "));
        g_assert_nonnull(strstr(err->message, "DIR.pol"));
        g_clear_error(&err);
    }

    pol = vh_policy_load(tmpdir, "NOPE", &err);
    g_assert_null(pol);
    g_assert_nonnull(strstr(err->message, "unknown policy 'NOPE': no "
                                          "NOPE.pol in"));
    g_assert_nonnull(strstr(err->message, "DEFAULT, LEGACY, FUTURE"));
    g_clear_error(&err);
    pol = vh_policy_load(tmpdir, "FUTURE:NO-SHA2", &err);
    g_assert_null(pol);
    g_assert_nonnull(strstr(err->message, "unknown sub-policy 'NO-SHA2'"));
    g_assert_nonnull(strstr(err->message, "NO-SHA1, NO-CAMELLIA, ECDHE-ONLY"));
}

static const char tiny[] = "protocol = TLS1.3 TLS1.2\n"
                           "cipher = AES-256-GCM AES-256-CTR\n"
                           "mac = AEAD\n"
                           "hash = SHA2-256\n"
                           "sign = ECDSA-SHA2-256 EDDSA-ED25519\n"
                           "group = X25519 FFDHE-3072\n"
                           "key_exchange = ECDHE ECDHE-GSS\n"
                           "min_rsa_size = 3072\n"
                           "min_dh_size = 2048\n";

static void test_generate(void)
{
    g_autoptr(VhPolicy) pol = parse(tiny);
    g_autofree char *prio = vh_policy_priority_string(pol);
    g_autofree char *allow =
        vh_policy_generate(pol, VH_POLICY_FORMAT_ALLOWLIST);
    g_autofree char *legacy = vh_policy_generate(pol, VH_POLICY_FORMAT_LEGACY);
    const char *system =
        "NONE:+VERS-TLS1.3:+VERS-TLS1.2:+AES-256-GCM:+AEAD:+ECDHE-RSA:"
        "+ECDHE-ECDSA:+GROUP-X25519:+GROUP-FFDHE3072:+SIGN-ECDSA-SHA256:"
        "+SIGN-ECDSA-SECP256R1-SHA256:+SIGN-EdDSA-Ed25519:%PROFILE_MEDIUM";
    g_autofree char *want_allow = g_strdup_printf(
        "# Generated by vmhost-policy: policy TEST, format allowlist.\n"
        "# Do not edit: change etc/crypto-policies/config or local.d/ and "
        "run\n"
        "# \"vmhost-policy update\".\n"
        "[global]\noverride-mode = allowlist\n\n[overrides]\n"
        "secure-hash = SHA256\n"
        "secure-sig = ECDSA-SHA256\nsecure-sig = ECDSA-SECP256R1-SHA256\n"
        "secure-sig = EdDSA-Ed25519\n"
        "secure-sig-for-cert = ECDSA-SHA256\n"
        "secure-sig-for-cert = ECDSA-SECP256R1-SHA256\n"
        "secure-sig-for-cert = EdDSA-Ed25519\n"
        "enabled-version = TLS1.3\nenabled-version = TLS1.2\n"
        "enabled-curve = X25519\nenabled-curve = SECP256R1\n"
        "enabled-curve = ED25519\n"
        "tls-enabled-cipher = AES-256-GCM\n"
        "tls-enabled-mac = AEAD\n"
        "tls-enabled-group = GROUP-X25519\n"
        "tls-enabled-group = GROUP-FFDHE3072\n"
        "tls-enabled-kx = ECDHE-RSA\ntls-enabled-kx = ECDHE-ECDSA\n"
        "min-verification-profile = medium\n"
        "\n[priorities]\nSYSTEM=%s\n",
        system);

    /* the smaller of min_rsa_size and min_dh_size picks the profile */
    g_assert_cmpstr(prio, ==, system);
    g_assert_cmpstr(allow, ==, want_allow);
    g_assert_true(g_str_has_suffix(legacy, "format legacy.\n"
                                           "# Do not edit: change "
                                           "etc/crypto-policies/config or "
                                           "local.d/ and run\n"
                                           "# \"vmhost-policy update\".\n"
                                           "SYSTEM=NONE:+VERS-TLS1.3:"
                                           "+VERS-TLS1.2:+AES-256-GCM:+AEAD:"
                                           "+ECDHE-RSA:+ECDHE-ECDSA:"
                                           "+GROUP-X25519:+GROUP-FFDHE3072:"
                                           "+SIGN-ECDSA-SHA256:"
                                           "+SIGN-ECDSA-SECP256R1-SHA256:"
                                           "+SIGN-EdDSA-Ed25519:"
                                           "%PROFILE_MEDIUM\n"));
}

static void test_profiles(void)
{
    static const struct {
        const char *text;
        const char *profile; /* NULL: none */
    } cases[] = {
        {"min_rsa_size = 1024\n", "%PROFILE_LOW"},
        {"min_rsa_size = 1800\n", "%PROFILE_LEGACY"},
        {"min_dh_size = 2048\n", "%PROFILE_MEDIUM"},
        {"min_rsa_size = 4096\nmin_dh_size = 3072\n", "%PROFILE_HIGH"},
        {"min_rsa_size = 8192\n", "%PROFILE_ULTRA"},
        {"min_rsa_size = 16384\n", "%PROFILE_FUTURE"},
        {"cipher = AES-256-GCM\n", NULL},
    };

    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(VhPolicy) pol = parse(cases[i].text);
        g_autofree char *prio = vh_policy_priority_string(pol);
        if (cases[i].profile) {
            g_assert_true(g_str_has_suffix(prio, cases[i].profile));
        } else {
            g_assert_null(strchr(prio, '%'));
        }
    }
}

static void test_config(void)
{
    g_autoptr(VhPolicyTree) t = vh_policy_tree_new(tmpdir);
    g_autoptr(GError) err = NULL;
    g_autofree char *spec = NULL;
    bool missing = false;

    spec = vh_policy_tree_read_config(t, &missing, &err);
    g_assert_cmpstr(spec, ==, "DEFAULT");
    g_assert_true(missing);
    g_clear_pointer(&spec, g_free);

    g_assert_true(vh_policy_tree_write_config(t, "FUTURE:NO-SHA1", &err));
    spec = vh_policy_tree_read_config(t, &missing, &err);
    g_assert_cmpstr(spec, ==, "FUTURE:NO-SHA1");
    g_assert_false(missing);
    g_clear_pointer(&spec, g_free);

    put("etc/crypto-policies/config", "# the policy\n\n  LEGACY  # old\n");
    spec = vh_policy_tree_read_config(t, &missing, &err);
    g_assert_cmpstr(spec, ==, "LEGACY");
    g_clear_pointer(&spec, g_free);

    put("etc/crypto-policies/config", "LEGACY\n\nDEFAULT\n");
    g_assert_null(vh_policy_tree_read_config(t, &missing, &err));
    g_assert_nonnull(strstr(err->message, "config:3: a second policy line "
                                          "'DEFAULT'"));
    g_clear_error(&err);
    put("etc/crypto-policies/config", "# nothing\n");
    g_assert_null(vh_policy_tree_read_config(t, &missing, &err));
    g_assert_nonnull(strstr(err->message, "names no policy"));
    g_clear_error(&err);
    put("etc/crypto-policies/config", "DEFAULT::X\n");
    g_assert_null(vh_policy_tree_read_config(t, &missing, &err));
    g_assert_nonnull(strstr(err->message, "config:1: invalid policy"));
}

static void test_app_names(void)
{
    static const char *const good[] = {"VMHOST", "libvirt", "a", "X-1_y"};
    static const char *const bad[] = {"",    "-x",  "a/b",    "..",
                                      "a b", "a=b", "SYSTEM", "é"};

    for (guint i = 0; i < G_N_ELEMENTS(good); i++) {
        g_assert_true(vh_policy_app_name_valid(good[i], NULL));
    }
    for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(GError) err = NULL;
        g_assert_false(vh_policy_app_name_valid(bad[i], &err));
        g_assert_error(err, VH_ERROR, VH_ERROR_INVALID_ARGUMENT);
    }
    {
        char longname[66];
        memset(longname, 'a', 65);
        longname[65] = '\0';
        g_assert_false(vh_policy_app_name_valid(longname, NULL));
        longname[64] = '\0';
        g_assert_true(vh_policy_app_name_valid(longname, NULL));
    }
}

static void test_locald(void)
{
    g_autoptr(VhPolicyTree) t = vh_policy_tree_new(tmpdir);
    g_autoptr(GError) err = NULL;
    g_autoptr(VhPolicyBackend) b = NULL;
    g_autoptr(VhPolicyBackend) b2 = NULL;
    VhPolicyEntry *e;

    put("etc/crypto-policies/local.d/gnutls-ZED.config", "ZED=NORMAL");
    put("etc/crypto-policies/local.d/gnutls-APP.config",
        "# app\nAPP = NORMAL:-VERS-TLS1.2\n[priorities]\n; c\n");
    put("etc/crypto-policies/local.d/openssl-X.config", "X=1\n");
    put("etc/crypto-policies/local.d/gnutls-junk.txt", "J=1\n");
    b = vh_policy_tree_build(t, "DEFAULT", VH_POLICY_FORMAT_LEGACY, &err);
    g_assert_no_error(err);
    /* sorted, verbatim, a missing final newline added */
    g_assert_true(g_str_has_suffix(
        b->text, "%PROFILE_MEDIUM\n# app\nAPP = NORMAL:-VERS-TLS1.2\n"
                 "[priorities]\n; c\nZED=NORMAL\n"));
    g_assert_cmpuint(b->entries->len, ==, 2);
    e = b->entries->pdata[0];
    g_assert_cmpstr(e->keyword, ==, "APP");
    g_assert_cmpstr(e->value, ==, "NORMAL:-VERS-TLS1.2");
    g_assert_true(g_str_has_suffix(e->origin, "gnutls-APP.config:2"));
    g_assert_true(g_str_has_suffix(
        b->line_origin->pdata[b->line_origin->len - 1], "gnutls-ZED.config:1"));

    /* a local.d entry that cannot be read (even by root: a directory) */
    {
        g_autofree char *d = g_build_filename(
            tmpdir, "etc/crypto-policies/local.d/gnutls-DIR.config", NULL);
        g_autoptr(VhPolicyBackend) none = NULL;
        g_assert_cmpint(g_mkdir(d, 0755), ==, 0);
        none =
            vh_policy_tree_build(t, "DEFAULT", VH_POLICY_FORMAT_LEGACY, &err);
        g_assert_null(none);
        g_assert_nonnull(strstr(err->message, "Cannot read local.d file "));
        g_assert_nonnull(strstr(err->message, "gnutls-DIR.config"));
        g_clear_error(&err);
        g_assert_cmpint(g_rmdir(d), ==, 0);
    }

    /* local.d is for app entries only: nothing that widens the policy */
    {
        static const struct {
            const char *text, *needle;
        } bad[] = {
            {"A=NORMAL\n[overrides]\ntls-enabled-cipher = NULL\n",
             "gnutls-BAD.config:2: a section header '[overrides]' in local.d"},
            {"[global]\noverride-mode = blocklist\n",
             "gnutls-BAD.config:1: a section header '[global]'"},
            {"SYSTEM=NORMAL:+VERS-TLS1.0\n", "gnutls-BAD.config:1: SYSTEM"},
            {"A=NORMAL\n\t:+VERS-TLS1.0\n",
             "gnutls-BAD.config:2: an indented line"},
            {"tls1.0\n", "gnutls-BAD.config:1: 'tls1.0' is not an APP=STRING"},
            {"../x=NORMAL\n", "invalid application name '../x'"},
        };
        g_autofree char *p = g_build_filename(
            tmpdir, "etc/crypto-policies/local.d/gnutls-BAD.config", NULL);

        for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
            g_autoptr(VhPolicyBackend) none = NULL;

            put("etc/crypto-policies/local.d/gnutls-BAD.config", bad[i].text);
            none = vh_policy_tree_build(t, "DEFAULT", VH_POLICY_FORMAT_LEGACY,
                                        &err);
            g_assert_null(none);
            g_assert_error(err, VH_ERROR, VH_ERROR_CONFIG);
            if (!strstr(err->message, bad[i].needle)) {
                g_error("'%s' lacks '%s'", err->message, bad[i].needle);
            }
            g_assert_nonnull(strstr(err->message, "APP=STRING only"));
            g_clear_error(&err);
        }
        /* a NUL cuts nothing short: "VMHOST=NORMAL\0garbage" */
        g_assert_true(
            g_file_set_contents(p, "VMHOST=NORMAL\0garbage\n", 22, NULL));
        g_assert_null(vh_policy_locald_read(p, &err));
        g_assert_nonnull(strstr(err->message, "gnutls-BAD.config:1: a NUL"));
        g_clear_error(&err);
        g_assert_cmpint(g_unlink(p), ==, 0);
    }

    /* what app set / app unset would install */
    b2 = vh_policy_tree_build_with(t, "DEFAULT", VH_POLICY_FORMAT_LEGACY,
                                   "gnutls-MID.config", "MID=NONE\n", &err);
    g_assert_no_error(err);
    g_assert_true(g_str_has_suffix(b2->text, "MID=NONE\nZED=NORMAL\n"));
    g_clear_pointer(&b2, vh_policy_backend_free);
    b2 = vh_policy_tree_build_with(t, "DEFAULT", VH_POLICY_FORMAT_LEGACY,
                                   "gnutls-ZED.config", NULL, &err);
    g_assert_no_error(err);
    g_assert_null(strstr(b2->text, "ZED"));
}

static void test_install(void)
{
    g_autoptr(VhPolicyTree) t = vh_policy_tree_new(tmpdir);
    g_autoptr(GError) err = NULL;
    g_autoptr(VhPolicyBackend) good = NULL;
    g_autoptr(VhPolicyBackend) bad = NULL;
    g_autofree char *self = g_file_read_link("/proc/self/exe", NULL);
    g_autofree char *before = NULL;
    g_autofree char *after = NULL;
    g_autoptr(GDir) dir = NULL;
    const char *name;

    put("etc/crypto-policies/local.d/gnutls-OK.config", "OK=NORMAL\n");
    good = vh_policy_tree_build(t, "FUTURE", VH_POLICY_FORMAT_ALLOWLIST, &err);
    g_assert_no_error(err);
    g_assert_true(vh_policy_tree_install(t, good, self, NULL, NULL, &err));
    g_assert_no_error(err);
    g_assert_true(g_file_get_contents(t->backend_path, &before, NULL, NULL));
    g_assert_cmpstr(before, ==, good->text);
    g_assert_cmpint(vh_policy_tree_current_format(t), ==,
                    VH_POLICY_FORMAT_ALLOWLIST);

    /* an entry GnuTLS refuses: named with its file and token */
    bad = vh_policy_tree_build_with(t, "FUTURE", VH_POLICY_FORMAT_LEGACY,
                                    "gnutls-NO.config",
                                    "NO=NORMAL:+VERS-TLS1.9\n", &err);
    g_assert_no_error(err);
    g_assert_false(vh_policy_tree_install(t, bad, self, NULL, NULL, &err));
    g_assert_error(err, VH_ERROR, VH_ERROR_CONFIG);
    g_assert_nonnull(strstr(err->message, "gnutls-NO.config:1: entry NO: "));
    g_assert_nonnull(strstr(err->message, "at 'VERS-TLS1.9'"));
    g_clear_error(&err);
    g_clear_pointer(&bad, vh_policy_backend_free);

    /*
     * a line the INI parser would refuse never gets that far: local.d
     * takes APP=STRING entries only, so the build names it
     */
    bad = vh_policy_tree_build_with(t, "FUTURE", VH_POLICY_FORMAT_ALLOWLIST,
                                    "gnutls-JUNK.config", "# x\nno equals\n",
                                    &err);
    g_assert_null(bad);
    g_assert_nonnull(strstr(err->message, "gnutls-JUNK.config:2: 'no equals' "
                                          "is not an APP=STRING entry"));
    g_clear_error(&err);

    g_assert_true(g_file_get_contents(t->backend_path, &after, NULL, NULL));
    g_assert_cmpstr(after, ==, before);
    dir = g_dir_open(t->backends_dir, 0, NULL);
    while ((name = g_dir_read_name(dir))) {
        g_assert_cmpstr(name, ==, "gnutls.config");
    }

    /* a helper that cannot run */
    g_assert_false(vh_policy_tree_install(t, good, "/nonexistent/helper", NULL,
                                          NULL, &err));
    g_assert_error(err, VH_ERROR, VH_ERROR_CHILD_FAILED);
}

static void test_write_atomic(void)
{
    g_autofree char *file = g_build_filename(tmpdir, "plain", NULL);
    g_autofree char *under = g_build_filename(file, "x", NULL);
    g_autofree char *text = NULL;
    g_autoptr(GError) err = NULL;
    GStatBuf st;

    g_assert_true(vh_policy_write_atomic(file, "one\n", &err));
    g_assert_true(vh_policy_write_atomic(file, "two\n", &err));
    g_assert_true(g_file_get_contents(file, &text, NULL, NULL));
    g_assert_cmpstr(text, ==, "two\n");
    g_assert_cmpint(g_stat(file, &st), ==, 0);
    g_assert_cmpint(st.st_mode & 0777, ==, 0644);
    g_assert_false(vh_policy_write_atomic(under, "x", &err));
    g_assert_nonnull(strstr(err->message, file));
}

static void test_lock(void)
{
    g_autoptr(VhPolicyTree) t = vh_policy_tree_new(tmpdir);
    g_autofree char *dir =
        g_build_filename(tmpdir, "etc", "crypto-policies", NULL);
    g_autofree char *file = g_build_filename(tmpdir, "file", NULL);
    g_autoptr(VhPolicyTree) bad = vh_policy_tree_new(file);
    g_autoptr(GError) err = NULL;
    int fd = vh_policy_tree_lock(t, &err);
    int other;

    g_assert_no_error(err);
    g_assert_cmpint(fd, >=, 0);
    /* another open file description cannot take it meanwhile */
    other = open(dir, O_RDONLY | O_DIRECTORY);
    g_assert_cmpint(other, >=, 0);
    g_assert_cmpint(flock(other, LOCK_EX | LOCK_NB), ==, -1);
    g_assert_cmpint(errno, ==, EWOULDBLOCK);
    close(fd);
    g_assert_cmpint(flock(other, LOCK_EX | LOCK_NB), ==, 0);
    close(other);

    put("file", "x");
    g_assert_cmpint(vh_policy_tree_lock(bad, &err), ==, -1);
    g_assert_nonnull(strstr(err->message, file));
}

static void setup(void)
{
    tmpdir = vh_test_mkdtemp("vh-policy");
}

static void teardown(void)
{
    vh_test_rm_rf(tmpdir);
    g_clear_pointer(&tmpdir, g_free);
}

#define ADD(path, fn)                                                          \
    g_test_add_vtable(path, 0, NULL, (GTestFixtureFunc)setup,                  \
                      (GTestFixtureFunc)fn, (GTestFixtureFunc)teardown)

int main(int argc, char **argv)
{
    /* the GnuTLS check re-runs this program, as it does vmhost-policy */
    if (argc > 1 && strcmp(argv[1], "__verify") == 0) {
        return vh_policy_verify_child(argc - 1, argv + 1);
    }
    g_test_init(&argc, &argv, NULL);
    ADD("/policy/language/builtins", test_builtins);
    ADD("/policy/language/edits", test_edits);
    ADD("/policy/language/globs", test_globs_and_case);
    ADD("/policy/language/scopes", test_scopes);
    ADD("/policy/language/lines", test_lines);
    ADD("/policy/language/errors", test_errors);
    ADD("/policy/language/spec", test_spec);
    ADD("/policy/language/files", test_load_files);
    ADD("/policy/generate/formats", test_generate);
    ADD("/policy/generate/profiles", test_profiles);
    ADD("/policy/tree/config", test_config);
    ADD("/policy/tree/app-names", test_app_names);
    ADD("/policy/tree/local.d", test_locald);
    ADD("/policy/tree/install", test_install);
    ADD("/policy/tree/write-atomic", test_write_atomic);
    ADD("/policy/tree/lock", test_lock);
    return g_test_run();
}
