/*
 * QEMU's option-string language: the one parser behind every command-line
 * option (-chardev, -object, -mon, ...) and the monitors' object_add and
 * chardev-add.
 *
 *     g_autoptr(VhOpts) o = vh_opts_parse("-chardev", "socket,id=s0,"
 *                                         "port=9000,server,nowait",
 *                                         "backend", errp);
 *     guint64 port = 0;
 *     bool server = false, wait = true;
 *     if (!o || !vh_opts_get_uint64(o, "port", 1, 65535, &port, errp) ||
 *         !vh_opts_get_bool(o, "server", &server, errp) ||
 *         !vh_opts_get_bool(o, "wait", &wait, errp) ||
 *         !vh_opts_check_unused(o, errp)) { ... }
 *
 * Syntax: elements separated by ',', each "key=value"; ",," is a literal
 * comma (in a value, or in the implied first value). Keys are made of
 * letters, digits, '-', '_' and '.' (dotted keys such as rules.0.match are
 * plain keys). A value may be empty ("priority=") and may hold '='
 * ("a=b=c" sets a to "b=c"). An empty string parses to no options.
 *
 * Implied key: when @implied_key is given and the first element has no '=',
 * that element is the value of @implied_key ("socket,id=s0" is
 * backend=socket when @implied_key is "backend").
 *
 * Bare words: any other element without '=' is a flag, kept as written.
 * The parser does not know which keys exist, so the legacy spellings are
 * resolved when the option is read: a bare "K" reads as K=on, and a bare
 * "noK" reads as K=off, for any getter asked about K. Asked about "noK"
 * itself, a bare "noK" reads as noK=on; so a real key that starts with "no"
 * (nodelay) keeps working.
 *
 * Duplicates: the last occurrence wins, as in QEMU (counting the bare forms
 * too: "wait=on,nowait" reads wait=off). Reading a key marks all its
 * occurrences used.
 *
 * Getters take the key, write *out only when the key is present (so preset
 * the default) and return false with an error only for a present value
 * that does not convert. Errors read
 * "-chardev: parameter 'server' expects 'on' or 'off', got 'maybe'".
 */
#pragma once

#include <glib-object.h>
#include <stdbool.h>

G_BEGIN_DECLS

typedef struct _VhOpts VhOpts;

/* An empty set for @optname ("-chardev", "object_add": used in messages). */
VhOpts *vh_opts_new(const char *optname);
void vh_opts_free(VhOpts *opts);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VhOpts, vh_opts_free)

/*
 * Parse @str (transfer full result). Errors name @optname, the element
 * (1-based) and what is wrong with it: "-object: element 2 ('=x') has no
 * parameter name before '='".
 */
G_GNUC_WARN_UNUSED_RESULT
VhOpts *vh_opts_parse(const char *optname, const char *str,
                      const char *implied_key, GError **errp);

const char *vh_opts_get_optname(VhOpts *opts);
/* The implied key given to vh_opts_parse (or NULL). */
const char *vh_opts_get_implied_key(VhOpts *opts);

/*
 * Append an element: @value NULL makes a bare flag. @key must be a valid
 * key (see above); not checked beyond a g_return_if_fail.
 */
void vh_opts_append(VhOpts *opts, const char *key, const char *value);

/* Elements in insertion order (duplicates included). */
guint vh_opts_count(VhOpts *opts);
const char *vh_opts_nth_key(VhOpts *opts, guint n);
/* The value as written, or NULL for a bare flag. */
const char *vh_opts_nth_value(VhOpts *opts, guint n);
bool vh_opts_nth_used(VhOpts *opts, guint n);
void vh_opts_nth_mark_used(VhOpts *opts, guint n);

/* Whether @key is given, in any form (K=..., K or noK). Marks nothing. */
bool vh_opts_has(VhOpts *opts, const char *key);

/*
 * The effective value of @key ("on"/"off" for the bare forms), or NULL when
 * absent. Marks @key used. Borrowed from @opts.
 */
const char *vh_opts_get_string(VhOpts *opts, const char *key);

/* on/off, yes/no, true/false (lower case, as QEMU). */
G_GNUC_WARN_UNUSED_RESULT
bool vh_opts_get_bool(VhOpts *opts, const char *key, bool *out, GError **errp);

/* Decimal, or hexadecimal with 0x; within [@min, @max]. */
G_GNUC_WARN_UNUSED_RESULT
bool vh_opts_get_uint64(VhOpts *opts, const char *key, guint64 min, guint64 max,
                        guint64 *out, GError **errp);
G_GNUC_WARN_UNUSED_RESULT
bool vh_opts_get_int(VhOpts *opts, const char *key, gint64 min, gint64 max,
                     gint64 *out, GError **errp);

/* A size as vh_size_parse() reads it, bytes by default ("4G", "4096"). */
G_GNUC_WARN_UNUSED_RESULT
bool vh_opts_get_size(VhOpts *opts, const char *key, guint64 *out,
                      GError **errp);

/*
 * A value of the registered GEnum @enum_type, by nick; the error lists the
 * nicks: "parameter 'endpoint' expects 'client' or 'server', got 'sever'".
 */
G_GNUC_WARN_UNUSED_RESULT
bool vh_opts_get_enum(VhOpts *opts, const char *key, GType enum_type, int *out,
                      GError **errp);

/*
 * The first element nobody read (its key, borrowed), or NULL.
 */
const char *vh_opts_first_unused(VhOpts *opts);

/*
 * Fails when an element was never read: "-chardev socket: invalid
 * parameter 'foo'" (the implied value, when there is one, follows the
 * option name).
 */
G_GNUC_WARN_UNUSED_RESULT
bool vh_opts_check_unused(VhOpts *opts, GError **errp);

/*
 * Collect "PREFIX.N.FIELD" keys into an ordered list of VhOpts, element N
 * holding FIELD=value pairs (transfer full; GPtrArray of VhOpts, freed by
 * the array). N counts from 0 in decimal without leading zeros and must
 * not skip. The collected elements are marked used in @opts; each entry's
 * own getters and check_unused name the full key ("rules.1.policy").
 * No such keys gives an empty array.
 */
G_GNUC_WARN_UNUSED_RESULT
GPtrArray *vh_opts_get_list(VhOpts *opts, const char *prefix, GError **errp);

/*
 * The elements back as an option string (transfer full) that parses, with
 * the same implied key, to an equal VhOpts: commas doubled, the implied
 * value first and bare when it can be.
 */
char *vh_opts_to_string(VhOpts *opts);

/* Same elements (keys, values, bare flags) in the same order. */
bool vh_opts_equal(VhOpts *a, VhOpts *b);

G_END_DECLS
