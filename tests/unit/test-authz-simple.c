/* authz-simple and the VhAuthz base: exact match, messages, lookup by id. */
#include "vmhost/authz/authz-simple.h"
#include "vmhost/object/object.h"

static void test_allow_exact(void)
{
    g_autoptr(VhAuthzSimple) authz = vh_authz_simple_new("C=UK,CN=qemu");
    g_autoptr(GError) err = NULL;

    g_assert_true(vh_authz_is_allowed(VH_AUTHZ(authz), "C=UK,CN=qemu", &err));
    g_assert_no_error(err);
    g_assert_cmpstr(vh_authz_simple_get_identity(authz), ==, "C=UK,CN=qemu");
}

static void test_deny(void)
{
    g_autoptr(VhAuthzSimple) authz = g_object_new(
        VH_TYPE_AUTHZ_SIMPLE, "id", "auth0", "identity", "C=UK,CN=qemu", NULL);
    const char *bad[] = {"C=UK,CN=qem", "C=UK,CN=qemu ", "c=uk,cn=qemu", ""};

    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(GError) err = NULL;
        g_assert_false(vh_authz_is_allowed(VH_AUTHZ(authz), bad[i], &err));
        g_assert_error(err, VH_ERROR, VH_ERROR_AUTHZ_DENIED);
        g_assert_nonnull(strstr(err->message, "auth0"));
        g_assert_nonnull(strstr(err->message, bad[i]));
    }
}

static void test_no_identity_denies(void)
{
    g_autoptr(VhAuthzSimple) authz = g_object_new(VH_TYPE_AUTHZ_SIMPLE, NULL);
    g_autoptr(GError) err = NULL;

    g_assert_false(vh_authz_is_allowed(VH_AUTHZ(authz), "CN=x", &err));
    g_assert_error(err, VH_ERROR, VH_ERROR_AUTHZ_DENIED);
    g_assert_nonnull(strstr(err->message, "VhAuthzSimple"));
}

static void test_by_id(void)
{
    g_autoptr(VhAuthzSimple) authz = vh_authz_simple_new("CN=alice");
    g_autoptr(GError) err = NULL;

    g_assert_true(vh_object_add("authz-by-id", G_OBJECT(authz), &err));
    g_assert_true(vh_authz_is_allowed_by_id("authz-by-id", "CN=alice", &err));
    g_assert_no_error(err);
    g_assert_false(vh_authz_is_allowed_by_id("authz-by-id", "CN=bob", &err));
    g_assert_error(err, VH_ERROR, VH_ERROR_AUTHZ_DENIED);
    g_assert_nonnull(strstr(err->message, "'authz-by-id'"));
    g_assert_nonnull(strstr(err->message, "CN=bob"));
    g_clear_error(&err);

    /* Looked up at the time of use: once removed, it denies. */
    g_assert_true(vh_object_del("authz-by-id", &err));
    g_assert_false(vh_authz_is_allowed_by_id("authz-by-id", "CN=alice", &err));
    g_assert_error(err, VH_ERROR, VH_ERROR_AUTHZ_DENIED);
    g_assert_nonnull(strstr(err->message, "authz-by-id"));
}

static void test_by_id_wrong_type(void)
{
    g_autoptr(GObject) obj = g_object_new(G_TYPE_OBJECT, NULL);
    g_autoptr(GError) err = NULL;

    g_assert_true(vh_object_add("not-authz", obj, &err));
    g_assert_false(vh_authz_is_allowed_by_id("not-authz", "CN=alice", &err));
    g_assert_error(err, VH_ERROR, VH_ERROR_AUTHZ_DENIED);
    g_assert_nonnull(strstr(err->message, "not-authz"));
    g_clear_error(&err);
    g_assert_true(vh_object_del("not-authz", &err));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/authz/simple/allow-exact", test_allow_exact);
    g_test_add_func("/authz/simple/deny", test_deny);
    g_test_add_func("/authz/simple/no-identity", test_no_identity_denies);
    g_test_add_func("/authz/simple/by-id", test_by_id);
    g_test_add_func("/authz/simple/by-id-wrong-type", test_by_id_wrong_type);
    return g_test_run();
}
