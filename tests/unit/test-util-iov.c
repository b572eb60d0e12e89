/* Tests for the iovec helpers (lib/util/iov.c). */
#include "vmhost/util/iov.h"

#include <glib.h>

static void test_size(void)
{
    char a[3], b[5];
    struct iovec iov[] = {
        {.iov_base = a, .iov_len = sizeof(a)},
        {.iov_base = NULL, .iov_len = 0},
        {.iov_base = b, .iov_len = sizeof(b)},
    };

    g_assert_cmpuint(vh_iov_size(iov, 0), ==, 0);
    g_assert_cmpuint(vh_iov_size(iov, 1), ==, 3);
    g_assert_cmpuint(vh_iov_size(iov, 2), ==, 3);
    g_assert_cmpuint(vh_iov_size(iov, 3), ==, 8);
    g_assert_cmpuint(vh_iov_size(NULL, 0), ==, 0);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/util/iov/size", test_size);
    return g_test_run();
}
