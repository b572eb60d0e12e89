/*
 * vmhost-policy: manage a crypto-policies tree for GnuTLS (the system
 * policy, per-application local.d entries) and show what a priority string
 * resolves to.
 *
 *   vmhost-policy [--root DIR] [--format allowlist|legacy] COMMAND
 *     set POLICY[:SUB...]      write the config and regenerate
 *     show                     print the configured policy
 *     update                   regenerate the back-end from the config
 *     check                    is the back-end current? (0 yes, 1 no)
 *     generate POLICY[:SUB...] print a back-end without installing it
 *     app set APP STRING | app unset APP | app list
 *     resolve [STRING] [--json] [--config FILE]
 *
 * Exit status: 0 success (check: current), 1 failure (check: stale),
 * 2 usage error (check: error).
 */
#include "policy.h"
#include "resolve.h"
#include "tree.h"

#include "vmhost/util/error.h"
#include "vmhost/util/file.h"

#include <gnutls/gnutls.h>

#include <errno.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define EXIT_USAGE 2

static const char summary[] =
    "Commands:\n"
    "  set POLICY[:SUB...]       write etc/crypto-policies/config, regenerate\n"
    "  show                      print the configured policy\n"
    "  update                    regenerate the back-end from the config\n"
    "  check                     0: back-end current, 1: stale, 2: error\n"
    "  generate POLICY[:SUB...]  print the back-end text, install nothing\n"
    "  app set APP STRING        local.d/gnutls-APP.config = APP=STRING\n"
    "  app unset APP             remove local.d/gnutls-APP.config\n"
    "  app list                  the local.d entries\n"
    "  resolve [STRING]          what GnuTLS makes of STRING (default: what\n"
    "                            vmhost would use) [--json] [--config FILE]\n"
    "\n"
    "Built-in policies: DEFAULT, LEGACY, FUTURE; sub-policies: NO-SHA1,\n"
    "NO-CAMELLIA, ECDHE-ONLY. Every new back-end is loaded by GnuTLS with\n"
    "invalid entries fatal before it replaces the old one.\n"
    "Exit status: 0 ok, 1 failure, 2 usage error.";

static char *opt_root;
static char *opt_format;
static char *opt_config;
static gboolean opt_json;

static const GOptionEntry entries[] = {
    {"root", 0, 0, G_OPTION_ARG_FILENAME, &opt_root,
     "Manage the tree under DIR instead of /", "DIR"},
    {"format", 0, 0, G_OPTION_ARG_STRING, &opt_format,
     "Back-end format: allowlist (INI, GnuTLS >= 3.7.3) or legacy "
     "(KEYWORD=string); default: that of the installed back-end, else "
     "allowlist",
     "FORMAT"},
    {"json", 0, 0, G_OPTION_ARG_NONE, &opt_json, "resolve: JSON output", NULL},
    {"config", 0, 0, G_OPTION_ARG_FILENAME, &opt_config,
     "resolve: vmhost config file (default: $VMHOST_CONF or "
     "/etc/vmhost/vmhost.conf)",
     "FILE"},
    G_OPTION_ENTRY_NULL,
};

static int fail(GError *err)
{
    fprintf(stderr, "vmhost-policy: %s\n", err->message);
    return 1;
}

static int usage(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
static int usage(const char *fmt, ...)
{
    g_autofree char *msg = NULL;
    va_list ap;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    fprintf(stderr,
            "vmhost-policy: %s\nUsage: vmhost-policy [--root DIR] "
            "[--format allowlist|legacy] COMMAND ...\n\n%s\n",
            msg, summary);
    return EXIT_USAGE;
}

/* The program itself, re-run in its "__verify" mode. */
static char *self_path(void)
{
    char *p = g_file_read_link("/proc/self/exe", NULL);

    return p ? p : g_strdup("vmhost-policy");
}

static bool pick_format(VhPolicyTree *t, VhPolicyFormat *out)
{
    if (!opt_format) {
        *out = vh_policy_tree_current_format(t);
        return true;
    }
    return vh_policy_format_parse(opt_format, out);
}

/*
 * Managing the real tree while this host's GnuTLS reads another file (stock
 * Debian reads /etc/gnutls/config) changes nothing for anyone: say so.
 */
static void note_gnutls_file(VhPolicyTree *t)
{
    const char *used = gnutls_get_system_config_file();
    g_autofree char *a = NULL;
    g_autofree char *b = NULL;

    if (strcmp(t->root, "/") != 0 || !used) {
        return;
    }
    a = realpath(used, NULL);
    b = realpath(t->backend_path, NULL);
    if (!a || !b || strcmp(a, b) != 0) {
        fprintf(stderr,
                "vmhost-policy: note: GnuTLS on this host reads %s, not %s; "
                "link it (ln -s %s %s) for the policy to apply (see "
                "docs/tls-priority.md)\n",
                used, t->backend_path, t->backend_path, used);
    }
}

static bool commit_config(gpointer data, GError **errp)
{
    void **args = data;

    return vh_policy_tree_write_config(args[0], args[1], errp);
}

static int cmd_set(VhPolicyTree *t, VhPolicyFormat fmt, const char *spec)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *helper = self_path();
    g_autoptr(VhPolicyBackend) b = vh_policy_tree_build(t, spec, fmt, &err);
    void *args[] = {t, (void *)spec};

    if (!b ||
        !vh_policy_tree_install(t, b, helper, commit_config, args, &err)) {
        return fail(err);
    }
    printf("policy %s set; %s regenerated (%s format)\n", spec, t->backend_path,
           vh_policy_format_name(fmt));
    note_gnutls_file(t);
    return 0;
}

static int cmd_show(VhPolicyTree *t)
{
    g_autoptr(GError) err = NULL;
    bool missing;
    g_autofree char *spec = vh_policy_tree_read_config(t, &missing, &err);

    if (!spec) {
        return fail(err);
    }
    printf("%s\n", spec);
    if (missing) {
        fprintf(stderr,
                "vmhost-policy: %s does not exist; the policy is "
                "DEFAULT\n",
                t->config_path);
    }
    return 0;
}

static int cmd_update(VhPolicyTree *t, VhPolicyFormat fmt)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *helper = self_path();
    bool missing;
    g_autofree char *spec = vh_policy_tree_read_config(t, &missing, &err);
    g_autoptr(VhPolicyBackend) b = NULL;

    if (!spec) {
        return fail(err);
    }
    b = vh_policy_tree_build(t, spec, fmt, &err);
    if (!b || !vh_policy_tree_install(t, b, helper, NULL, NULL, &err)) {
        return fail(err);
    }
    printf("%s regenerated from policy %s (%s format)\n", t->backend_path, spec,
           vh_policy_format_name(fmt));
    note_gnutls_file(t);
    return 0;
}

static int cmd_check(VhPolicyTree *t, VhPolicyFormat fmt)
{
    g_autoptr(GError) err = NULL;
    bool missing;
    g_autofree char *spec = vh_policy_tree_read_config(t, &missing, &err);
    g_autoptr(VhPolicyBackend) b = NULL;
    g_autofree char *cur = NULL;
    g_autoptr(GError) rerr = NULL;

    if (spec) {
        b = vh_policy_tree_build(t, spec, fmt, &err);
    }
    if (!b) {
        fprintf(stderr, "vmhost-policy: %s\n", err->message);
        return 2;
    }
    note_gnutls_file(t);
    if (!vh_file_read_regular(t->backend_path, VH_FILE_MAX_TEXT,
                              VH_FILE_READ_BINARY, &cur, NULL, &rerr)) {
        if (!g_error_matches(rerr, G_IO_ERROR, G_IO_ERROR_NOT_FOUND)) {
            fprintf(stderr, "vmhost-policy: Cannot read %s\n", rerr->message);
            return 2;
        }
        printf("stale: %s does not exist; run \"vmhost-policy update\"\n",
               t->backend_path);
        return 1;
    }
    if (strcmp(cur, b->text) != 0) {
        printf("stale: %s is not what policy %s and local.d give (%s "
               "format); run \"vmhost-policy update\"\n",
               t->backend_path, spec, vh_policy_format_name(fmt));
        return 1;
    }
    printf("current: %s matches policy %s (%s format)\n", t->backend_path, spec,
           vh_policy_format_name(fmt));
    return 0;
}

static int cmd_generate(VhPolicyTree *t, VhPolicyFormat fmt, const char *spec)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(VhPolicy) pol = vh_policy_load(t->root, spec, &err);
    g_autofree char *text = NULL;

    if (!pol) {
        return fail(err);
    }
    text = vh_policy_generate(pol, fmt);
    fputs(text, stdout);
    return 0;
}

typedef struct {
    const char *path;
    const char *text; /* NULL: remove */
} AppCommit;

static bool commit_app(gpointer data, GError **errp)
{
    AppCommit *c = data;

    if (c->text) {
        return vh_policy_write_atomic(c->path, c->text, errp);
    }
    if (g_unlink(c->path) < 0) {
        int e = errno;
        vh_set_error_errno(errp, e, "Cannot remove %s", c->path);
        return false;
    }
    return true;
}

static int app_change(VhPolicyTree *t, VhPolicyFormat fmt, const char *app,
                      const char *string)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *helper = self_path();
    g_autofree char *path = NULL;
    g_autofree char *name = NULL;
    g_autofree char *text = NULL;
    g_autofree char *spec = NULL;
    g_autoptr(VhPolicyBackend) b = NULL;
    AppCommit c;
    bool missing;

    if (!vh_policy_app_name_valid(app, &err)) {
        return fail(err);
    }
    path = vh_policy_tree_app_path(t, app);
    name = g_path_get_basename(path);
    if (string) {
        if (!string[0] || strpbrk(string, "\r\n#")) {
            fprintf(stderr,
                    "vmhost-policy: the priority string for %s must "
                    "be one non-empty line without '#'\n",
                    app);
            return 1;
        }
        if (string[0] == '@') {
            fprintf(stderr,
                    "vmhost-policy: the priority string for %s "
                    "cannot be a keyword (%s): GnuTLS does not "
                    "expand a file entry twice\n",
                    app, string);
            return 1;
        }
        text = g_strdup_printf("%s=%s\n", app, string);
    } else if (!g_file_test(path, G_FILE_TEST_EXISTS)) {
        fprintf(stderr, "vmhost-policy: no entry for %s: %s does not exist\n",
                app, path);
        return 1;
    }
    spec = vh_policy_tree_read_config(t, &missing, &err);
    if (spec) {
        b = vh_policy_tree_build_with(t, spec, fmt, name, text, &err);
    }
    c = (AppCommit){path, text};
    if (!b || !vh_policy_tree_install(t, b, helper, commit_app, &c, &err)) {
        return fail(err);
    }
    if (string) {
        printf("%s: %s=%s; %s regenerated\n", path, app, string,
               t->backend_path);
    } else {
        printf("%s removed; %s regenerated\n", path, t->backend_path);
    }
    note_gnutls_file(t);
    return 0;
}

static int app_list(VhPolicyTree *t)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GPtrArray) names = vh_policy_tree_list_locald(t, &err);

    if (!names) {
        return fail(err);
    }
    for (guint i = 0; i < names->len; i++) {
        g_autofree char *path =
            g_build_filename(t->locald_dir, names->pdata[i], NULL);
        g_autofree char *text = vh_policy_locald_read(path, &err);
        g_auto(GStrv) lines = NULL;

        if (!text) {
            fprintf(stderr, "vmhost-policy: %s\n", err->message);
            return 1;
        }
        lines = g_strsplit(text, "\n", -1);
        for (char **l = lines; *l; l++) {
            char *s = g_strstrip(*l);
            if (s[0] && s[0] != '#' && s[0] != '[' && strchr(s, '=')) {
                printf("%s\t%s\n", s, path);
            }
        }
    }
    return 0;
}

static int cmd_app(VhPolicyTree *t, VhPolicyFormat fmt, int argc, char **argv)
{
    if (argc >= 1 && strcmp(argv[0], "set") == 0) {
        if (argc != 3) {
            return usage("app set takes APP and STRING");
        }
        return app_change(t, fmt, argv[1], argv[2]);
    }
    if (argc >= 1 && strcmp(argv[0], "unset") == 0) {
        if (argc != 2) {
            return usage("app unset takes APP");
        }
        return app_change(t, fmt, argv[1], NULL);
    }
    if (argc >= 1 && strcmp(argv[0], "list") == 0) {
        if (argc != 1) {
            return usage("app list takes no arguments");
        }
        return app_list(t);
    }
    return usage("app needs set, unset or list");
}

int main(int argc, char **argv)
{
    g_autoptr(GOptionContext) ctx = NULL;
    g_autoptr(GError) err = NULL;
    g_autoptr(VhPolicyTree) t = NULL;
    VhPolicyFormat fmt;
    const char *cmd;

    if (argc > 1 && strcmp(argv[1], "__verify") == 0) {
        return vh_policy_verify_child(argc - 1, argv + 1);
    }
    ctx = g_option_context_new("COMMAND ...");
    g_option_context_add_main_entries(ctx, entries, NULL);
    g_option_context_set_description(ctx, summary);
    if (!g_option_context_parse(ctx, &argc, &argv, &err)) {
        return usage("%s", err->message);
    }
    if (argc < 2) {
        return usage("no command");
    }
    cmd = argv[1];
    t = vh_policy_tree_new(opt_root);
    if (!pick_format(t, &fmt)) {
        return usage("unknown --format '%s' (allowlist or legacy)", opt_format);
    }
    /* one change at a time: two runs must not interleave config, local.d
     * and back-end (the lock goes with the process) */
    if (strcmp(cmd, "set") == 0 || strcmp(cmd, "update") == 0 ||
        (strcmp(cmd, "app") == 0 && argc > 2 && strcmp(argv[2], "list"))) {
        if (vh_policy_tree_lock(t, &err) < 0) {
            return fail(err);
        }
    }
    if (strcmp(cmd, "set") == 0 || strcmp(cmd, "generate") == 0) {
        if (argc != 3) {
            return usage("%s takes one POLICY[:SUB...]", cmd);
        }
        return cmd[0] == 's' ? cmd_set(t, fmt, argv[2])
                             : cmd_generate(t, fmt, argv[2]);
    }
    if (strcmp(cmd, "show") == 0 || strcmp(cmd, "update") == 0 ||
        strcmp(cmd, "check") == 0) {
        if (argc != 2) {
            return usage("%s takes no arguments", cmd);
        }
        return cmd[0] == 's'   ? cmd_show(t)
               : cmd[0] == 'u' ? cmd_update(t, fmt)
                               : cmd_check(t, fmt);
    }
    if (strcmp(cmd, "app") == 0) {
        return cmd_app(t, fmt, argc - 2, argv + 2);
    }
    if (strcmp(cmd, "resolve") == 0) {
        if (argc > 3) {
            return usage("resolve takes at most one STRING");
        }
        return vh_policy_resolve_main(argc == 3 ? argv[2] : NULL, opt_config,
                                      opt_json);
    }
    return usage("unknown command '%s'", cmd);
}
