/*
 * vh_chardev_shorthand_parse(): QEMU's -serial/-monitor/-qmp device
 * shorthand (chardev:ID, none, null, stdio, pty, file:PATH,
 * tcp:/telnet:[HOST]:PORT[,opts], unix:PATH[,opts]).
 *
 * Invariants: success xor an error (VH_ERROR_INVALID_ARGUMENT naming the
 * option); on failure the result is left cleared; on success exactly the
 * field of the kind is set; a new chardev's options name the option, carry
 * one backend of the known ones and the id last, a socket has a port or a
 * path, and they print back to a string that parses to equal options;
 * clearing twice is harmless.
 */
#include "fuzz-common.h"

#include "vmhost/chardev/chardev-shorthand.h"
#include "vmhost/util/error.h"

static void check_new(const char *dev, VhOpts *o)
{
    const char *backend = vh_opts_get_string(o, "backend");
    guint n = vh_opts_count(o);
    g_autoptr(GError) err = NULL;

    g_assert_cmpstr(vh_opts_get_optname(o), ==, "-serial");
    g_assert_nonnull(backend);
    g_assert_true(g_str_equal(backend, "null") ||
                  g_str_equal(backend, "stdio") ||
                  g_str_equal(backend, "pty") || g_str_equal(backend, "file") ||
                  g_str_equal(backend, "socket"));
    g_assert_cmpuint(n, >=, 2);
    g_assert_cmpstr(vh_opts_nth_key(o, n - 1), ==, "id");
    g_assert_cmpstr(vh_opts_nth_value(o, n - 1), ==, "fuzz0");
    if (g_str_equal(backend, "socket")) {
        g_assert_true(vh_opts_has(o, "port") || vh_opts_has(o, "path"));
    }
    if (g_str_equal(backend, "file")) {
        g_assert_cmpstr(vh_opts_get_string(o, "path"), ==, dev + 5);
    }
    g_autofree char *text = vh_opts_to_string(o);
    g_autoptr(VhOpts) back = vh_opts_parse("-serial", text, NULL, &err);
    g_assert_no_error(err);
    g_assert_true(vh_opts_equal(o, back));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autofree char *dev = fuzz_cstring(data, size);
    g_autoptr(GError) err = NULL;
    VhChardevShorthand sh;
    bool ok;

    if (!dev) {
        return 0;
    }
    ok = vh_chardev_shorthand_parse("-serial", dev, "fuzz0", &sh, &err);
    fuzz_assert_result(ok, err);
    if (!ok) {
        g_assert_error(err, VH_ERROR, VH_ERROR_INVALID_ARGUMENT);
        g_assert_true(g_str_has_prefix(err->message, "-serial"));
        g_assert_null(sh.opts);
        g_assert_null(sh.chardev_id);
        return 0;
    }
    switch (sh.kind) {
    case VH_CHARDEV_SHORTHAND_NONE:
        g_assert_cmpstr(dev, ==, "none");
        g_assert_null(sh.opts);
        g_assert_null(sh.chardev_id);
        break;
    case VH_CHARDEV_SHORTHAND_EXISTING:
        g_assert_true(g_str_has_prefix(dev, "chardev:"));
        g_assert_cmpstr(sh.chardev_id, ==, dev + strlen("chardev:"));
        g_assert_null(sh.opts);
        break;
    case VH_CHARDEV_SHORTHAND_NEW:
        g_assert_null(sh.chardev_id);
        check_new(dev, sh.opts);
        break;
    default:
        g_assert_not_reached();
    }
    vh_chardev_shorthand_clear(&sh);
    vh_chardev_shorthand_clear(&sh);
    return 0;
}
