/* Tests for the vmhost error domain (lib/util/error.c). */
#include "vmhost/util/error.h"

static void test_domain(void)
{
    g_autoptr(GError) err = g_error_new(VH_ERROR, VH_ERROR_TLS_PEER, "x");

    g_assert_cmpstr(g_quark_to_string(VH_ERROR), ==, "vh-error-quark");
    g_assert_true(g_error_matches(err, VH_ERROR, VH_ERROR_TLS_PEER));
    g_assert_false(g_error_matches(err, G_FILE_ERROR, VH_ERROR_TLS_PEER));
}

static void test_log_format(void)
{
    GLogField warn[] = {
        {"GLIB_DOMAIN", "vmhost", -1},
        {"MESSAGE", "TLS priority: baseline used", -1},
    };
    GLogField crit[] = {{"MESSAGE", "broken", -1}};
    GLogField plain[] = {{"MESSAGE", "hello", -1}};
    g_autofree char *w = vh_log_format("prog", G_LOG_LEVEL_WARNING, warn, 2);
    g_autofree char *c = vh_log_format("prog", G_LOG_LEVEL_CRITICAL, crit, 1);
    g_autofree char *m = vh_log_format("prog", G_LOG_LEVEL_MESSAGE, plain, 1);

    g_assert_cmpstr(w, ==, "prog: warning: TLS priority: baseline used");
    g_assert_cmpstr(c, ==, "prog: error: broken");
    g_assert_cmpstr(m, ==, "prog: hello");
    /* Debug records are dropped unless G_MESSAGES_DEBUG asks for them. */
    g_unsetenv("G_MESSAGES_DEBUG");
    g_assert_null(vh_log_format("prog", G_LOG_LEVEL_DEBUG, plain, 1));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/util/error/domain", test_domain);
    g_test_add_func("/util/error/log-format", test_log_format);
    return g_test_run();
}
