/*
 * GnuTLS reads its system priority file once, when the library initialises,
 * from GNUTLS_SYSTEM_PRIORITY_FILE. So a candidate back-end is loaded by a
 * fresh process (the tool itself in its "__verify" mode) with that variable
 * pointing at it and GNUTLS_SYSTEM_PRIORITY_FAIL_ON_INVALID=1, which makes
 * any entry GnuTLS does not understand fatal. GnuTLS says why only in its
 * debug log, so the child runs with GNUTLS_DEBUG_LEVEL=2 and the parent
 * keeps the "cfg:" lines that explain a failure.
 */
#include "tree.h"

#include "vmhost/crypto/tls-priority.h"
#include "vmhost/util/error.h"

#include <gnutls/gnutls.h>
#include <stdio.h>
#include <string.h>

#define VERIFY_MODE "__verify"

int vh_policy_verify_child(int argc, char **argv)
{
    const char *file = argc > 1 ? argv[1] : NULL;
    const char *used = gnutls_get_system_config_file();
    int status = 0;

    if (!file || g_strcmp0(used, file) != 0) {
        printf("FILE\tGnuTLS read %s instead of %s\n", used ? used : "nothing",
               file ? file : "(none)");
        return 1;
    }
    for (int i = 1; i < argc; i++) {
        const char *kw = i == 1 ? "SYSTEM" : argv[i];
        g_autofree char *prio = g_strconcat("@", kw, NULL);
        gnutls_priority_t p = NULL;
        const char *err_pos = NULL;
        int rc = gnutls_priority_init(&p, prio, &err_pos);

        if (rc < 0) {
            printf("KEYWORD\t%s\t%s\n", kw, gnutls_strerror(rc));
            status = 1;
        } else {
            gnutls_priority_deinit(p);
        }
    }
    fflush(stdout);
    return status;
}

/* Lines of GnuTLS's debug log that say what went wrong. */
static char *gnutls_reasons(const char *log, VhPolicyBackend *b,
                            const char *candidate)
{
    g_auto(GStrv) lines = g_strsplit(log ? log : "", "\n", -1);
    g_autoptr(GString) out = g_string_new(NULL);
    bool empty;
    g_autofree char *parse_tag =
        g_strdup_printf("cfg: unable to parse: %s: ", candidate);

    for (char **l = lines; *l; l++) {
        const char *cfg = strstr(*l, "cfg: ");
        const char *at;

        if (!cfg || strstr(cfg, "cfg: marking") ||
            strstr(cfg, "cfg: enabling") || strstr(cfg, "cfg: adding") ||
            strstr(cfg, "cfg: loaded") || strstr(cfg, "cfg: deferred") ||
            strstr(cfg, "cfg: finalized") || strstr(cfg, "cfg: system prio")) {
            continue;
        }
        if (out->len) {
            g_string_append(out, "; ");
        }
        at = strstr(cfg, parse_tag);
        if (at) {
            guint64 n = g_ascii_strtoull(at + strlen(parse_tag), NULL, 10);
            g_auto(GStrv) text = g_strsplit(b->text, "\n", -1);
            const char *origin = n && n <= b->line_origin->len
                                     ? b->line_origin->pdata[n - 1]
                                     : "an unknown line";
            const char *line = n && n <= g_strv_length(text) ? text[n - 1] : "";
            g_string_append_printf(out, "cannot parse %s: '%s'", origin,
                                   g_strstrip((char *)line));
        } else {
            g_string_append(out, cfg);
        }
    }
    empty = out->len == 0;
    return g_string_free(g_steal_pointer(&out), empty);
}

static VhPolicyEntry *find_entry(VhPolicyBackend *b, const char *kw)
{
    for (guint i = 0; i < b->entries->len; i++) {
        VhPolicyEntry *e = b->entries->pdata[i];
        if (strcmp(e->keyword, kw) == 0) {
            return e;
        }
    }
    return NULL;
}

/* "KEYWORD\tkw\treason" lines from the child, as an operator reads them. */
static char *keyword_failures(const char *out, VhPolicyBackend *b)
{
    g_auto(GStrv) lines = g_strsplit(out ? out : "", "\n", -1);
    g_autoptr(GString) msg = g_string_new(NULL);
    bool empty;

    for (char **l = lines; *l; l++) {
        g_auto(GStrv) f = g_strsplit(*l, "\t", 3);
        VhPolicyEntry *e;

        if (g_strv_length(f) < 2) {
            continue;
        }
        if (msg->len) {
            g_string_append(msg, "; ");
        }
        if (strcmp(f[0], "FILE") == 0) {
            g_string_append(msg, f[1]);
            continue;
        }
        if (g_strv_length(f) < 3) {
            continue;
        }
        e = find_entry(b, f[1]);
        if (!e) {
            g_string_append_printf(msg, "GnuTLS cannot use @%s%s: %s", f[1],
                                   strcmp(f[1], "SYSTEM") == 0
                                       ? " (what the policy itself allows)"
                                       : "",
                                   f[2]);
            continue;
        }
        /* compiling the value itself names the token GnuTLS stopped at */
        {
            g_autoptr(GError) err = NULL;
            gnutls_priority_t p = NULL;
            if (!vh_tls_priority_compile(e->value, &p, &err)) {
                g_string_append_printf(msg, "%s: entry %s: %s", e->origin,
                                       e->keyword, err->message);
            } else {
                gnutls_priority_deinit(p);
                g_string_append_printf(msg, "%s: entry %s=%s: GnuTLS: %s",
                                       e->origin, e->keyword, e->value, f[2]);
            }
        }
    }
    empty = msg->len == 0;
    return g_string_free(g_steal_pointer(&msg), empty);
}

bool vh_policy_verify(const char *helper, const char *candidate,
                      VhPolicyBackend *b, GError **errp)
{
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    g_auto(GStrv) env = g_get_environ();
    g_autofree char *out = NULL;
    g_autofree char *err_text = NULL;
    g_autoptr(GError) err = NULL;
    g_autofree char *why = NULL;
    int status = 0;

    g_ptr_array_add(argv, (gpointer)helper);
    g_ptr_array_add(argv, (gpointer)VERIFY_MODE);
    g_ptr_array_add(argv, (gpointer)candidate);
    for (guint i = 0; i < b->entries->len; i++) {
        VhPolicyEntry *e = b->entries->pdata[i];
        g_ptr_array_add(argv, e->keyword);
    }
    g_ptr_array_add(argv, NULL);
    env = g_environ_setenv(env, "GNUTLS_SYSTEM_PRIORITY_FILE", candidate, TRUE);
    env = g_environ_setenv(env, "GNUTLS_SYSTEM_PRIORITY_FAIL_ON_INVALID", "1",
                           TRUE);
    env = g_environ_setenv(env, "GNUTLS_DEBUG_LEVEL", "2", TRUE);

    if (!g_spawn_sync(NULL, (char **)argv->pdata, env, G_SPAWN_DEFAULT, NULL,
                      NULL, &out, &err_text, &status, &err)) {
        g_set_error(errp, VH_ERROR, VH_ERROR_CHILD_FAILED,
                    "Cannot run %s to have GnuTLS load the new back-end: %s",
                    helper, err->message);
        return false;
    }
    if (g_spawn_check_wait_status(status, NULL)) {
        return true;
    }
    why = keyword_failures(out, b);
    if (!why) {
        why = gnutls_reasons(err_text, b, candidate);
    }
    if (!why) {
        g_autoptr(GError) st = NULL;
        (void)g_spawn_check_wait_status(status, &st);
        why = g_strdup_printf("the GnuTLS check failed (%s)", st->message);
    }
    g_set_error(errp, VH_ERROR, VH_ERROR_CONFIG,
                "GnuTLS refused the new back-end, the old one stays: %s", why);
    return false;
}
