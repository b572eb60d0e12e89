/* Tests for the object registry (lib/object). */
#include "vmhost/object/object.h"
#include "vmhost/util/error.h"

#include <string.h>

static void test_add_lookup_del(void)
{
    g_autoptr(GObject) obj = g_object_new(G_TYPE_OBJECT, NULL);
    g_autoptr(GError) err = NULL;
    g_autoptr(GObject) found = NULL;

    g_assert_true(vh_object_add("obj0", obj, &err));
    g_assert_no_error(err);
    found = vh_object_lookup("obj0");
    g_assert_true(found == obj);
    g_assert_true(vh_object_del("obj0", &err));
    g_assert_null(vh_object_lookup("obj0"));
}

static void test_duplicate_id(void)
{
    g_autoptr(GObject) obj = g_object_new(G_TYPE_OBJECT, NULL);
    g_autoptr(GError) err = NULL;

    g_assert_true(vh_object_add("dup", obj, NULL));
    g_assert_false(vh_object_add("dup", obj, &err));
    g_assert_error(err, VH_ERROR, VH_ERROR_INVALID_ARGUMENT);
    g_assert_nonnull(strstr(err->message, "'dup' already exists"));
    g_assert_true(vh_object_del("dup", NULL));
}

static void test_bad_ids(void)
{
    const char *bad[] = {"", "0abc", "-x", "a b", "a,b", "a=b", NULL};

    for (int i = 0; bad[i]; i++) {
        g_autoptr(GError) err = NULL;
        g_assert_false(vh_object_id_valid(bad[i], &err));
        g_assert_error(err, VH_ERROR, VH_ERROR_INVALID_ARGUMENT);
        g_assert_nonnull(strstr(err->message, "invalid object id"));
    }
    g_assert_true(vh_object_id_valid("tls0.a-b_c", NULL));
}

static void test_del_missing(void)
{
    g_autoptr(GError) err = NULL;

    g_assert_false(vh_object_del("nothing", &err));
    g_assert_error(err, VH_ERROR, VH_ERROR_INVALID_ARGUMENT);
}

static void test_lookup_typed(void)
{
    g_autoptr(GObject) obj = g_object_new(G_TYPE_OBJECT, NULL);
    g_autoptr(GError) err = NULL;
    gpointer got;

    g_assert_true(vh_object_add("typed", obj, NULL));
    got = vh_object_lookup_typed("typed", G_TYPE_INITIALLY_UNOWNED, &err);
    g_assert_null(got);
    g_assert_nonnull(strstr(err->message, "is a GObject, not a"));
    g_clear_error(&err);
    got = vh_object_lookup_typed("missing", G_TYPE_OBJECT, &err);
    g_assert_null(got);
    g_assert_nonnull(strstr(err->message, "no object with id 'missing'"));
    got = vh_object_lookup_typed("typed", G_TYPE_OBJECT, NULL);
    g_assert_true(got == obj);
    g_object_unref(got);
    g_assert_true(vh_object_del("typed", NULL));
}

static void test_list_ids(void)
{
    g_autoptr(GObject) obj = g_object_new(G_TYPE_OBJECT, NULL);
    g_auto(GStrv) ids = NULL;

    g_assert_true(vh_object_add("b1", obj, NULL));
    g_assert_true(vh_object_add("a1", obj, NULL));
    ids = vh_object_list_ids();
    g_assert_cmpuint(g_strv_length(ids), ==, 2);
    g_assert_cmpstr(ids[0], ==, "a1");
    g_assert_cmpstr(ids[1], ==, "b1");
    g_assert_true(vh_object_del("a1", NULL));
    g_assert_true(vh_object_del("b1", NULL));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/object/registry/add-lookup-del", test_add_lookup_del);
    g_test_add_func("/object/registry/duplicate-id", test_duplicate_id);
    g_test_add_func("/object/registry/bad-ids", test_bad_ids);
    g_test_add_func("/object/registry/del-missing", test_del_missing);
    g_test_add_func("/object/registry/lookup-typed", test_lookup_typed);
    g_test_add_func("/object/registry/list-ids", test_list_ids);
    return g_test_run();
}
