/*
 * The QMP input stream: whatever bytes a peer sends to a QMP monitor.
 *
 * A detached, read-only monitor (no machine, nothing can change) is fed
 * the input in two chunks split at a point taken from the input, so
 * objects split across reads are covered. Invariants: nothing crashes;
 * every output line is one JSON object; apart from the greeting, each is
 * a reply with exactly one of "return" and "error" (errors have a class
 * and a desc); and there is exactly one reply per complete input piece, as
 * a second splitter fed the same bytes counts them.
 */
#include "fuzz-common.h"

#include <json-glib/json-glib.h>

#include "vmhost/monitor/qmp.h"

typedef struct {
    guint lines;
    guint replies;
} Out;

static void check_line(const char *line, size_t len, void *opaque)
{
    Out *out = opaque;
    g_autoptr(JsonParser) parser = json_parser_new();
    g_autoptr(GError) err = NULL;
    JsonObject *o;

    g_assert_true(len >= 2 && line[len - 2] == '\r' && line[len - 1] == '\n');
    g_assert_true(json_parser_load_from_data(parser, line, len - 2, &err));
    g_assert_no_error(err);
    g_assert_true(JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser)));
    o = json_node_get_object(json_parser_get_root(parser));
    if (out->lines++ == 0) {
        g_assert_true(json_object_has_member(o, "QMP"));
        return;
    }
    g_assert_true(json_object_has_member(o, "return") !=
                  json_object_has_member(o, "error"));
    if (json_object_has_member(o, "error")) {
        JsonObject *e = json_object_get_object_member(o, "error");

        g_assert_nonnull(json_object_get_string_member(e, "class"));
        g_assert_cmpstr(json_object_get_string_member(e, "desc"), !=, "");
    }
    out->replies++;
}

static void count_piece(const char *text, size_t len, VhQmpPieceStatus status,
                        void *opaque)
{
    (*(guint *)opaque)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    VhMonitorHost host = {.read_only = true};
    Out out = {0};
    guint pieces = 0;
    size_t cut = size ? data[0] % size : 0;
    g_autoptr(VhQmp) qmp = vh_qmp_new_detached(&host, check_line, &out);
    g_autoptr(VhQmpSplitter) sp = vh_qmp_splitter_new(count_piece, &pieces);

    if (size) {
        vh_qmp_feed(qmp, data, cut);
        vh_qmp_feed(qmp, data + cut, size - cut);
        vh_qmp_splitter_feed(sp, data, size);
    }
    g_assert_cmpuint(out.replies, ==, pieces);
    return 0;
}
