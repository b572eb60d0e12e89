/*
 * A crypto-policies tree under a root directory, as vmhost-policy manages
 * it:
 *
 *     ROOT/etc/crypto-policies/config                 "DEFAULT:NO-SHA1"
 *     ROOT/etc/crypto-policies/back-ends/gnutls.config   generated
 *     ROOT/etc/crypto-policies/local.d/gnutls-APP.config  appended verbatim
 *     ROOT/etc/crypto-policies/policies/NAME.pol           custom policies
 *     ROOT/etc/crypto-policies/policies/modules/NAME.pmod  custom modules
 *
 *     g_autoptr(VhPolicyTree) t = vh_policy_tree_new("/");
 *     g_autofree char *text = vh_policy_tree_build(t, spec, format, &back,
 *                                                  errp);
 *     if (!text || !vh_policy_tree_install(t, back, helper, errp)) { ... }
 */
#pragma once

#include "policy.h"

G_BEGIN_DECLS

typedef struct {
    char *root;
    char *config_path;
    char *backends_dir;
    char *backend_path;
    char *locald_dir;
} VhPolicyTree;

VhPolicyTree *vh_policy_tree_new(const char *root);
void vh_policy_tree_free(VhPolicyTree *t);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VhPolicyTree, vh_policy_tree_free)

/* A priority entry "KEYWORD=VALUE" of a local.d file. */
typedef struct {
    char *keyword;
    char *value;
    char *origin; /* "ROOT/.../local.d/gnutls-app.config:2" */
} VhPolicyEntry;

/* The text of a back-end, with what it was made of. */
typedef struct {
    char *text;
    GPtrArray *line_origin; /* char *, one per line of text */
    GPtrArray *entries;     /* VhPolicyEntry *, local.d keywords */
} VhPolicyBackend;

void vh_policy_backend_free(VhPolicyBackend *b);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VhPolicyBackend, vh_policy_backend_free)

/*
 * The policy in the config file (transfer full). A missing file is the
 * DEFAULT policy (*missing set); a file with anything but one policy line
 * is an error naming the line.
 */
G_GNUC_WARN_UNUSED_RESULT
char *vh_policy_tree_read_config(VhPolicyTree *t, bool *missing, GError **errp);

/* Write "SPEC\n" to the config file atomically. */
G_GNUC_WARN_UNUSED_RESULT
bool vh_policy_tree_write_config(VhPolicyTree *t, const char *spec,
                                 GError **errp);

/*
 * The back-end for @spec with the local.d files appended (sorted by name,
 * each newline-terminated). Errors: the policy's, an unreadable local.d
 * file. (transfer full)
 */
G_GNUC_WARN_UNUSED_RESULT
VhPolicyBackend *vh_policy_tree_build(VhPolicyTree *t, const char *spec,
                                      VhPolicyFormat format, GError **errp);

/*
 * The same, as if local.d file @name (a "gnutls-APP.config") held @text, or
 * did not exist when @text is NULL: what "app set/unset" would install.
 */
G_GNUC_WARN_UNUSED_RESULT
VhPolicyBackend *vh_policy_tree_build_with(VhPolicyTree *t, const char *spec,
                                           VhPolicyFormat format,
                                           const char *name, const char *text,
                                           GError **errp);

/* The format the installed back-end says it has; allowlist when unknown. */
VhPolicyFormat vh_policy_tree_current_format(VhPolicyTree *t);

/* Run after GnuTLS accepted the new back-end, before it replaces the old. */
typedef bool (*VhPolicyCommitFunc)(gpointer data, GError **errp);

/*
 * Write @b to a temporary file beside the back-end, have GnuTLS load it
 * (vh_policy_verify() with @helper), call @commit (may be NULL; e.g. write
 * the config or a local.d file), then rename it over the back-end and sync
 * the directory. On failure before the rename the old back-end is
 * untouched.
 */
G_GNUC_WARN_UNUSED_RESULT
bool vh_policy_tree_install(VhPolicyTree *t, VhPolicyBackend *b,
                            const char *helper, VhPolicyCommitFunc commit,
                            gpointer data, GError **errp);

/*
 * Serialise changes: an exclusive flock() on ROOT/etc/crypto-policies (made
 * if missing), waited for. Returns the descriptor to close when done, -1
 * with the error set.
 */
G_GNUC_WARN_UNUSED_RESULT
int vh_policy_tree_lock(VhPolicyTree *t, GError **errp);

/* APP names: a letter or digit, then letters, digits, '-', '_' (<= 64). */
G_GNUC_WARN_UNUSED_RESULT
bool vh_policy_app_name_valid(const char *app, GError **errp);

/* ROOT/etc/crypto-policies/local.d/gnutls-APP.config (transfer full). */
char *vh_policy_tree_app_path(VhPolicyTree *t, const char *app);

/* Sorted gnutls-*.config file names in local.d (transfer full). */
G_GNUC_WARN_UNUSED_RESULT
GPtrArray *vh_policy_tree_list_locald(VhPolicyTree *t, GError **errp);

/*
 * Read one local.d file (a regular file of text: a FIFO, a device or a NUL
 * byte is an error naming it) and check that it holds only what local.d is
 * for: per-application entries "APP=STRING" (APP as for
 * vh_policy_app_name_valid(), not SYSTEM), comments, blank lines and the
 * "[priorities]" header they already sit under. Any other section
 * ([global], [overrides]) would change the policy of every GnuTLS
 * application on the host, and an indented line would continue the entry
 * before it, so they are errors naming the file and line
 * ("PATH:2: a section header '[overrides]' in local.d: ..."). Returns the
 * text (transfer full) or NULL.
 */
G_GNUC_WARN_UNUSED_RESULT
char *vh_policy_locald_read(const char *path, GError **errp);

/* The check of vh_policy_locald_read() on @text, named @path. */
G_GNUC_WARN_UNUSED_RESULT
bool vh_policy_locald_check(const char *path, const char *text, GError **errp);

/* Write @contents to @path via a temporary file, fsync, rename, fsync dir. */
G_GNUC_WARN_UNUSED_RESULT
bool vh_policy_write_atomic(const char *path, const char *contents,
                            GError **errp);

/*
 * Have GnuTLS load @candidate with invalid entries fatal, in a child
 * process (@helper "__verify" FILE KEYWORD...), and initialise @SYSTEM and
 * each local.d keyword. Errors carry GnuTLS's reason and the entry's origin.
 */
G_GNUC_WARN_UNUSED_RESULT
bool vh_policy_verify(const char *helper, const char *candidate,
                      VhPolicyBackend *b, GError **errp);

/* The child side: argv = { "__verify", FILE, KEYWORD... }. Exit status. */
int vh_policy_verify_child(int argc, char **argv);

G_END_DECLS
