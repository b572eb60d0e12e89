/*
 * keys.psk parsing (vh_psk_keys_parse(), what tls-creds-psk loads).
 *
 * Invariants: success xor a VH_ERROR_CONFIG error that names the file and
 * the first bad line; and the result agrees with a reference reading of the
 * format written here from the documentation (lines "username:hexkey",
 * surrounding whitespace ignored, blank lines skipped, first entry wins).
 */
#include "fuzz-common.h"

#include "lib/crypto/crypto-priv.h"

#define PSK_PATH "/fuzz/keys.psk"

typedef struct {
    GHashTable *keys;  /* username -> GBytes, first entry of each */
    unsigned int line; /* the first bad line, or 0 */
    bool has_nul;
} Reference;

static GBytes *ref_hex(const char *hex, size_t len)
{
    g_autoptr(GByteArray) out = g_byte_array_new();

    if (len == 0 || len % 2) {
        return NULL;
    }
    for (size_t i = 0; i < len; i += 2) {
        int hi = g_ascii_xdigit_value(hex[i]);
        int lo = g_ascii_xdigit_value(hex[i + 1]);
        guint8 byte;
        if (hi < 0 || lo < 0) {
            return NULL;
        }
        byte = (guint8)(hi * 16 + lo);
        g_byte_array_append(out, &byte, 1);
    }
    return g_byte_array_free_to_bytes(g_steal_pointer(&out));
}

/* One line, [start, end): false when it is bad. */
static bool ref_line(Reference *ref, const char *start, const char *end)
{
    const char *colon;
    GBytes *key;

    while (start < end && g_ascii_isspace(*start)) {
        start++;
    }
    while (end > start && g_ascii_isspace(end[-1])) {
        end--;
    }
    if (start == end) {
        return true;
    }
    colon = memchr(start, ':', end - start);
    if (!colon || colon == start) {
        return false;
    }
    key = ref_hex(colon + 1, end - colon - 1);
    if (!key) {
        return false;
    }
    char *user = g_strndup(start, colon - start);
    if (g_hash_table_contains(ref->keys, user)) {
        g_free(user);
        g_bytes_unref(key);
    } else {
        g_hash_table_insert(ref->keys, user, key);
    }
    return true;
}

static void ref_parse(Reference *ref, const char *data, size_t size)
{
    const char *p = data, *end = data + size;
    unsigned int lineno = 1;

    ref->keys = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                      (GDestroyNotify)g_bytes_unref);
    ref->line = 0;
    ref->has_nul = size > 0 && memchr(data, '\0', size) != NULL;
    if (ref->has_nul) {
        return;
    }
    for (;;) {
        const char *nl = memchr(p, '\n', end - p);
        const char *stop = nl ? nl : end;
        if (!ref_line(ref, p, stop)) {
            ref->line = lineno;
            return;
        }
        if (!nl) {
            return;
        }
        p = nl + 1;
        lineno++;
    }
}

static void check_keys(GHashTable *keys, GHashTable *expected)
{
    GHashTableIter iter;
    gpointer user, value;

    g_assert_cmpuint(g_hash_table_size(keys), ==, g_hash_table_size(expected));
    g_hash_table_iter_init(&iter, expected);
    while (g_hash_table_iter_next(&iter, &user, &value)) {
        const VhPskKey *key = g_hash_table_lookup(keys, user);
        gsize len;
        const void *want = g_bytes_get_data(value, &len);

        g_assert_nonnull(key);
        g_assert_cmpuint(key->len, >, 0);
        g_assert_cmpmem(key->data, key->len, want, len);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autofree char *text = g_malloc(size + 1);
    g_autoptr(GHashTable) keys = NULL;
    g_autoptr(GError) err = NULL;
    Reference ref;

    memcpy(text, data, size);
    text[size] = '\0';
    keys = vh_psk_keys_parse(text, size, PSK_PATH, &err);
    fuzz_assert_result(keys != NULL, err);
    ref_parse(&ref, text, size);

    if (ref.has_nul) {
        g_assert_null(keys);
        g_assert_nonnull(strstr(err->message, "NUL byte"));
    } else if (ref.line) {
        g_autofree char *where =
            g_strdup_printf(PSK_PATH " line %u: ", ref.line);
        g_assert_null(keys);
        g_assert_true(g_str_has_prefix(err->message, where));
    } else {
        g_assert_nonnull(keys);
        check_keys(keys, ref.keys);
    }
    if (err) {
        g_assert_true(g_error_matches(err, VH_ERROR, VH_ERROR_CONFIG));
    }
    g_hash_table_unref(ref.keys);
    return 0;
}
