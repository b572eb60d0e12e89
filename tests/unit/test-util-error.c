/* Tests for the vmhost error domain (lib/util/error.c). */
#include "vmhost/util/error.h"

static void test_domain(void)
{
    g_autoptr(GError) err = g_error_new(VH_ERROR, VH_ERROR_TLS_PEER, "x");

    g_assert_cmpstr(g_quark_to_string(VH_ERROR), ==, "vh-error-quark");
    g_assert_true(g_error_matches(err, VH_ERROR, VH_ERROR_TLS_PEER));
    g_assert_false(g_error_matches(err, G_FILE_ERROR, VH_ERROR_TLS_PEER));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/util/error/domain", test_domain);
    return g_test_run();
}
