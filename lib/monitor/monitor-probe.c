/*
 * probe-write / probe-read (HMP probe_write / probe_read): raw bytes to and
 * from a chardev-probe device (vmhost/machine/probe.h).
 *
 * QMP takes and returns the data as UTF-8 text or base64 (format=), like
 * ringbuf-write/ringbuf-read; probe-write fails (DeviceNotActive) rather
 * than drop the data when no peer is connected. HMP works on bytes:
 * probe_write's data is the rest of the line after the device (one pair of
 * enclosing double quotes removed) with \n \r \t \\ \" \' \xHH decoded,
 * nothing appended; probe_read prints what it took, a backslash as \\, CR
 * as \r and every other control or non-ASCII byte except LF and TAB as
 * \xHH, and ends the output with a newline if the data did not.
 */
#include "monitor-internal.h"

#include "vmhost/chardev/chardev-opts.h"
#include "vmhost/machine/probe.h"

#include <string.h>

static VhProbe *find_probe(JsonObject *args, GError **errp)
{
    const char *dev = NULL;
    VhProbe *p;

    if (!vh_mon_arg_str(args, "device", true, &dev, errp)) {
        return NULL;
    }
    p = vh_probe_lookup(dev);
    if (p) {
        return p;
    }
    if (vh_chardev_lookup(dev)) {
        g_set_error(errp, VH_QMP_ERROR, VH_QMP_ERROR_DEVICE_NOT_FOUND,
                    "Device '%s' is a chardev, not a chardev-probe device "
                    "(-device chardev-probe,id=NAME,chardev=%s)",
                    dev, dev);
    } else {
        g_set_error(errp, VH_QMP_ERROR, VH_QMP_ERROR_DEVICE_NOT_FOUND,
                    "Device '%s' not found (no chardev-probe with that id)",
                    dev);
    }
    return NULL;
}

JsonNode *vh_mon_probe_write(VhMonitorHost *host, JsonObject *args,
                             GError **errp)
{
    VhProbe *p = find_probe(args, errp);
    g_autoptr(GBytes) data = NULL;
    g_autofree char *what = NULL;
    gsize len;
    VhChardev *chr;

    if (!p) {
        return NULL;
    }
    what = g_strdup_printf("probe-write %s", vh_probe_get_id(p));
    if (!(data = vh_mon_arg_data(args, what, errp))) {
        return NULL;
    }
    chr = vh_probe_get_chardev(p);
    if (!vh_chardev_is_connected(chr)) {
        /* A chardev would drop it silently; the operator wants to know. */
        g_set_error(errp, VH_QMP_ERROR, VH_QMP_ERROR_DEVICE_NOT_ACTIVE,
                    "%s: chardev '%s' has no peer connected; nothing was sent",
                    what, vh_chardev_get_id(chr));
        return NULL;
    }
    const char *raw = g_bytes_get_data(data, &len);
    if (!vh_probe_write(p, raw, len, errp)) {
        return NULL;
    }
    return vh_mon_empty();
}

JsonNode *vh_mon_probe_read(VhMonitorHost *host, JsonObject *args,
                            GError **errp)
{
    VhProbe *p = find_probe(args, errp);
    gint64 size = 0;
    bool base64 = false;
    g_autoptr(GByteArray) in = NULL;

    if (!p || !vh_mon_arg_int(args, "size", false, &size, errp) ||
        !vh_mon_arg_format(args, &base64, errp)) {
        return NULL;
    }
    if (size < 0) {
        g_set_error(errp, VH_QMP_ERROR, VH_QMP_ERROR_GENERIC,
                    "probe-read %s: parameter 'size' must not be negative "
                    "(0 or absent reads everything)",
                    vh_probe_get_id(p));
        return NULL;
    }
    in = vh_probe_read(p, (size_t)size);
    return vh_mon_data_string(base64, in->data, in->len);
}

static int hex_digit(char c)
{
    return g_ascii_isxdigit(c) ? g_ascii_xdigit_value(c) : -1;
}

/* C escapes in @s into bytes; NULL with @errp set on a bad one. */
static GByteArray *unescape(const char *s, GError **errp)
{
    g_autoptr(GByteArray) out = g_byte_array_new();

    for (; *s; s++) {
        guint8 c = (guint8)*s;

        if (c == '\\') {
            switch (*++s) {
            case 'n':
                c = '\n';
                break;
            case 'r':
                c = '\r';
                break;
            case 't':
                c = '\t';
                break;
            case '\\':
            case '"':
            case '\'':
                c = (guint8)*s;
                break;
            case 'x':
                if (hex_digit(s[1]) < 0 || hex_digit(s[2]) < 0) {
                    g_set_error_literal(
                        errp, VH_QMP_ERROR, VH_QMP_ERROR_GENERIC,
                        "probe_write: \\x needs two hex digits");
                    return NULL;
                }
                c = (guint8)(hex_digit(s[1]) << 4 | hex_digit(s[2]));
                s += 2;
                break;
            case '\0':
                g_set_error_literal(errp, VH_QMP_ERROR, VH_QMP_ERROR_GENERIC,
                                    "probe_write: the data ends in a lone "
                                    "backslash");
                return NULL;
            default:
                g_set_error(errp, VH_QMP_ERROR, VH_QMP_ERROR_GENERIC,
                            "probe_write: unknown escape '\\%c' (use \\n \\r "
                            "\\t \\\\ \\\" \\xHH)",
                            *s);
                return NULL;
            }
        }
        g_byte_array_append(out, &c, 1);
    }
    return g_steal_pointer(&out);
}

JsonObject *vh_mon_parse_probe_write(const char *rest, char **argv,
                                     GError **errp)
{
    g_autoptr(GByteArray) bytes = NULL;
    g_autofree char *data = NULL;
    g_autofree char *b64 = NULL;
    const char *d = rest;
    size_t len;
    JsonObject *o;

    if (!argv || !argv[0] || !argv[1]) {
        g_set_error_literal(errp, VH_QMP_ERROR, VH_QMP_ERROR_GENERIC,
                            "probe_write: expects a device and the data");
        return NULL;
    }
    /* The data is the rest of the line after the device, as typed. */
    while (*d && !g_ascii_isspace(*d)) {
        d++;
    }
    while (g_ascii_isspace(*d)) {
        d++;
    }
    len = strlen(d);
    if (len >= 2 && d[0] == '"' && d[len - 1] == '"') {
        data = g_strndup(d + 1, len - 2); /* "quoted" keeps its blanks */
    } else {
        data = g_strdup(d);
    }
    bytes = unescape(data, errp);
    if (!bytes) {
        return NULL;
    }
    b64 = g_base64_encode(bytes->data, bytes->len);
    o = json_object_new();
    json_object_set_string_member(o, "device", argv[0]);
    json_object_set_string_member(o, "data", b64);
    json_object_set_string_member(o, "format", "base64");
    return o;
}

JsonObject *vh_mon_parse_probe_read(const char *rest, char **argv,
                                    GError **errp)
{
    JsonObject *o;

    if (!argv || !argv[0] || (argv[1] && argv[2])) {
        g_set_error_literal(errp, VH_QMP_ERROR, VH_QMP_ERROR_GENERIC,
                            "probe_read: expects a device and an optional "
                            "size");
        return NULL;
    }
    o = json_object_new();
    json_object_set_string_member(o, "device", argv[0]);
    if (argv[1]) {
        json_object_set_string_member(o, "size", argv[1]);
    }
    /* Bytes, not text: the formatter escapes what a terminal would eat. */
    json_object_set_string_member(o, "format", "base64");
    return o;
}

char *vh_mon_format_probe_read(JsonNode *result)
{
    gsize len = 0;
    g_autofree guchar *raw =
        g_base64_decode(json_node_get_string(result), &len);
    GString *s = g_string_new(NULL);

    for (gsize i = 0; i < len; i++) {
        guint8 c = raw[i];

        if (c == '\\') {
            g_string_append(s, "\\\\");
        } else if (c == '\r') {
            g_string_append(s, "\\r");
        } else if (c == '\n' || c == '\t' || (c >= 0x20 && c < 0x7f)) {
            g_string_append_c(s, (char)c);
        } else {
            g_string_append_printf(s, "\\x%02x", c);
        }
    }
    if (s->len && s->str[s->len - 1] != '\n') {
        g_string_append_c(s, '\n');
    }
    return g_string_free(s, false);
}
