/*
 * JSON input as QEMU reads it: one parser for QMP and the JSON forms of
 * -object and -device.
 *
 *     g_autoptr(GError) err = NULL;
 *     g_autoptr(JsonNode) n = vh_json_parse(text, -1, &err);
 *     if (!n) { ... err->message: "duplicate key 'id'" ... }
 *
 * json-glib keeps the last of two members with the same name; QEMU
 * refuses the input ("JSON parse error, duplicate key"), and so does this.
 */
#pragma once

#include <json-glib/json-glib.h>
#include <stdbool.h>

#include "vmhost/util/opts.h"

G_BEGIN_DECLS

/*
 * Parse @text (@len bytes, -1: NUL-terminated) into a node (transfer full),
 * or NULL with @errp set (VH_ERROR_INVALID_ARGUMENT): json-glib's message,
 * or "duplicate key 'NAME'" when an object has a member name twice (at any
 * depth). Callers prefix "JSON parse error, " as QEMU does. A NUL, raw
 * or as the escape \u0000, is refused too ("a NUL character (\u0000) in
 * a string at byte N"): json-glib would cut the string short there, so
 * "NORMAL\u0000:+VERS-TLS1.0" would read as "NORMAL". So is anything but
 * blanks after the first value ("unexpected data after the JSON value at
 * byte N"): json-glib 1.6 takes "[1] [2]" as its last value, dropping
 * (and leaking) the first.
 */
G_GNUC_WARN_UNUSED_RESULT
JsonNode *vh_json_parse(const char *text, gssize len, GError **errp);

/* @n's JSON type as QEMU names it: "string", "integer", "boolean", ... */
const char *vh_json_type_name(JsonNode *n);

/*
 * @o as option-string keys for @optname (transfer full): strings as
 * written, booleans on/off, integers in decimal, null as a bare flag,
 * objects and arrays flattened into dotted keys (rules.0.match). Keys
 * must be what opts.h takes; a number with a fraction is refused.
 */
G_GNUC_WARN_UNUSED_RESULT
VhOpts *vh_opts_from_json(const char *optname, JsonObject *o, GError **errp);

G_END_DECLS
