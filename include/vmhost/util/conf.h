/*
 * Config files in libvirtd.conf syntax, and vmhost.conf.
 *
 *     # a comment
 *     tls_priority = "@VMHOST,SYSTEM"      strings: "..." with \" \\ \n \t
 *     tls_priority_strict = 1              integers (decimal, optional -)
 *     listen = [ "a",                      lists of strings, may span lines
 *                "b", ]                    (a trailing comma is allowed)
 *
 * The caller lists the keys it accepts and their types; anything else is an
 * error, as is a key given twice:
 *
 *     static const VhConfKey keys[] = {
 *         {"tls_priority", VH_CONF_STRING},
 *         {"tls_priority_strict", VH_CONF_BOOL},
 *         {NULL, 0},
 *     };
 *     g_autoptr(VhConf) conf = vh_conf_load_file(path, keys, errp);
 *     const char *prio = vh_conf_get_string(conf, "tls_priority");
 *
 * Errors (VH_ERROR_CONFIG) name the place and what was wrong or expected:
 * "/etc/vmhost/vmhost.conf:3: unknown key 'tls_prority'",
 * "/etc/vmhost/vmhost.conf:3:16: expected a value (a \"string\", an integer
 * or a [ list ]), got 'x'". An unreadable file is VH_ERROR_CONFIG too:
 * "Cannot read config file PATH: No such file or directory".
 */
#pragma once

#include <glib.h>
#include <stdbool.h>

G_BEGIN_DECLS

typedef enum {
    VH_CONF_STRING, /* "text" */
    VH_CONF_INT,    /* a 64-bit signed integer */
    VH_CONF_BOOL,   /* the integer 0 or 1 */
    VH_CONF_LIST,   /* [ "a", "b" ] (possibly empty) */
} VhConfType;

typedef struct {
    const char *name;
    VhConfType type;
} VhConfKey;

/* A parsed file: the keys that were set, with their values. */
typedef struct _VhConf VhConf;

/*
 * Parse @len bytes of @text (need not be NUL-terminated); @name is the file
 * name used in messages. @keys ends with {NULL}. Returns NULL with the error
 * set. (transfer full)
 */
G_GNUC_WARN_UNUSED_RESULT
VhConf *vh_conf_parse(const char *name, const char *text, gsize len,
                      const VhConfKey *keys, GError **errp);

/* Read and parse @path; a missing or unreadable file is an error. */
G_GNUC_WARN_UNUSED_RESULT
VhConf *vh_conf_load_file(const char *path, const VhConfKey *keys,
                          GError **errp);

/*
 * The same, but a key not in @keys is passed to @unknown (file name, line,
 * key) and skipped instead of failing: for files shared with another
 * program's keys (vmhostd.conf may be a copy of libvirtd.conf). The value
 * must still be well-formed.
 */
typedef void (*VhConfUnknownFunc)(const char *name, guint line, const char *key,
                                  gpointer opaque);
G_GNUC_WARN_UNUSED_RESULT
VhConf *vh_conf_parse_full(const char *name, const char *text, gsize len,
                           const VhConfKey *keys, VhConfUnknownFunc unknown,
                           gpointer opaque, GError **errp);
G_GNUC_WARN_UNUSED_RESULT
VhConf *vh_conf_load_file_full(const char *path, const VhConfKey *keys,
                               VhConfUnknownFunc unknown, gpointer opaque,
                               GError **errp);

void vh_conf_free(VhConf *conf);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VhConf, vh_conf_free)

/* The name given to vh_conf_parse() / the path loaded. */
const char *vh_conf_get_name(VhConf *conf);
/* Whether @key was set in the file. */
bool vh_conf_has(VhConf *conf, const char *key);
/* The line @key was set on, 0 if unset. */
guint vh_conf_get_line(VhConf *conf, const char *key);
/* The value of a VH_CONF_STRING key, NULL if unset. (transfer none) */
const char *vh_conf_get_string(VhConf *conf, const char *key);
/* VH_CONF_INT / VH_CONF_BOOL: @dflt if unset. */
gint64 vh_conf_get_int(VhConf *conf, const char *key, gint64 dflt);
bool vh_conf_get_bool(VhConf *conf, const char *key, bool dflt);
/* VH_CONF_LIST: NULL-terminated, NULL if unset. (transfer none) */
const char *const *vh_conf_get_list(VhConf *conf, const char *key);

/*
 * vmhost.conf: the host-wide settings every program reads the same way.
 *
 *     vmhost --config FILE ...       FILE must exist
 *     VMHOST_CONF=FILE vmhost ...    FILE must exist (--config wins)
 *     vmhost ...                     /etc/vmhost/vmhost.conf if it exists
 *
 * Keys: tls_priority (string), tls_priority_strict (0/1). Programs call
 * vh_host_conf_load() once, before creating any -object; lib/crypto reads
 * the result through vh_host_conf_get() when credentials are created.
 */
#define VH_HOST_CONF_DEFAULT_PATH "/etc/vmhost/vmhost.conf"
#define VH_HOST_CONF_ENV          "VMHOST_CONF"

typedef struct {
    char *path;               /* the file read; NULL when none was */
    char *tls_priority;       /* NULL: unset */
    bool tls_priority_strict; /* refuse instead of using the baseline */
} VhHostConf;

/* The keys vmhost.conf accepts ({NULL}-terminated). */
const VhConfKey *vh_host_conf_keys(void);

/*
 * The file to read: @cli_path (--config) if non-NULL, else $VMHOST_CONF if
 * set and non-empty, else the default. *@explicit_out says whether the
 * file must exist. (transfer full)
 */
char *vh_host_conf_path(const char *cli_path, bool *explicit_out);

/*
 * Read vmhost.conf into @out (cleared first) following the rules above.
 * A missing default file leaves @out empty and succeeds.
 */
G_GNUC_WARN_UNUSED_RESULT
bool vh_host_conf_read(const char *cli_path, VhHostConf *out, GError **errp);

/* vh_host_conf_read(), then install the result process-wide. */
G_GNUC_WARN_UNUSED_RESULT
bool vh_host_conf_load(const char *cli_path, GError **errp);

/* The installed settings; all unset until vh_host_conf_load(). */
const VhHostConf *vh_host_conf_get(void);
/* Install a copy of @conf (NULL: unset everything); for tests and tools. */
void vh_host_conf_set(const VhHostConf *conf);

void vh_host_conf_clear(VhHostConf *conf);

G_END_DECLS
