#include "chardev-testutil.h"

#include <string.h>

VhChardev *vh_test_chardev_new(const char *str, GError **errp)
{
    g_autoptr(VhOpts) o = vh_opts_parse("-chardev", str, "backend", errp);

    return o ? vh_chardev_new_from_opts(o, NULL, errp) : NULL;
}

VhChardev *vh_test_chardev_new_ok(const char *str)
{
    g_autoptr(GError) err = NULL;
    VhChardev *chr = vh_test_chardev_new(str, &err);

    g_assert_no_error(err);
    g_assert_nonnull(chr);
    return chr;
}

void vh_test_chardev_expect_error(const char *str, const char *message)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(VhChardev) chr = vh_test_chardev_new(str, &err);

    g_assert_null(chr);
    g_assert_nonnull(err);
    if (!strstr(err->message, message)) {
        g_error("'%s': got '%s', expected '%s'", str, err->message, message);
    }
}
