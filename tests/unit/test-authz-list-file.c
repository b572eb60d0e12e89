/* authz-list-file: JSON file rules, refresh on change, failed loads deny. */
#include "vmhost/authz/authz-list-file.h"

#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>

typedef struct {
    char *dir;
    char *path;
} Fixture;

static void fixture_setup(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;

    f->dir = g_dir_make_tmp("vh-authz-XXXXXX", &err);
    g_assert_no_error(err);
    f->path = g_build_filename(f->dir, "rules.json", NULL);
}

static void fixture_teardown(Fixture *f, gconstpointer data)
{
    g_unlink(f->path);
    g_rmdir(f->dir);
    g_free(f->path);
    g_free(f->dir);
}

static void write_rules(Fixture *f, const char *json)
{
    g_autoptr(GError) err = NULL;

    /* g_file_set_contents replaces the file (new inode) atomically */
    g_assert_true(g_file_set_contents(f->path, json, -1, &err));
}

static bool allowed(VhAuthzListFile *authz, const char *identity, GError **errp)
{
    return vh_authz_is_allowed(VH_AUTHZ(authz), identity, errp);
}

static void test_load(Fixture *f, gconstpointer data)
{
    g_autoptr(VhAuthzListFile) authz = NULL;
    g_autoptr(GError) err = NULL;

    write_rules(f, "{\"policy\": \"deny\", \"rules\": ["
                   "{\"match\": \"CN=*.acme.com\", \"policy\": \"allow\","
                   " \"format\": \"glob\"}]}");
    authz = vh_authz_list_file_new(f->path, true, &err);
    g_assert_no_error(err);
    g_assert_cmpstr(vh_authz_list_file_get_filename(authz), ==, f->path);
    g_assert_true(vh_authz_list_file_get_refresh(authz));
    g_assert_true(allowed(authz, "CN=www.acme.com", &err));
    g_assert_false(allowed(authz, "CN=www.evil.com", &err));
    g_assert_error(err, VH_ERROR, VH_ERROR_AUTHZ_DENIED);
    g_assert_nonnull(strstr(err->message, "CN=www.evil.com"));
}

static void test_missing_at_create(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(VhAuthzListFile) authz =
        vh_authz_list_file_new(f->path, true, &err);

    g_assert_null(authz);
    g_assert_error(err, VH_ERROR, VH_ERROR_CONFIG);
    g_assert_nonnull(strstr(err->message, f->path));
}

static void test_refresh(Fixture *f, gconstpointer data)
{
    g_autoptr(VhAuthzListFile) authz = NULL;
    g_autoptr(GError) err = NULL;

    write_rules(f, "{\"policy\": \"allow\"}");
    authz = vh_authz_list_file_new(f->path, true, &err);
    g_assert_no_error(err);
    g_assert_true(allowed(authz, "CN=bob", &err));

    write_rules(f, "{\"policy\": \"deny\", \"rules\": [{\"match\": "
                   "\"CN=alice\", \"policy\": \"allow\"}]}");
    g_assert_false(allowed(authz, "CN=bob", &err));
    g_assert_error(err, VH_ERROR, VH_ERROR_AUTHZ_DENIED);
    g_clear_error(&err);
    g_assert_true(allowed(authz, "CN=alice", &err));

    /* broken file: everyone is denied and the error names file and cause */
    write_rules(f, "{\"policy\": \"allow\", \"rules\": [");
    g_assert_false(allowed(authz, "CN=alice", &err));
    g_assert_error(err, VH_ERROR, VH_ERROR_AUTHZ_DENIED);
    g_assert_nonnull(strstr(err->message, f->path));
    g_assert_nonnull(strstr(err->message, "JSON"));
    g_clear_error(&err);

    /* bad rule content */
    write_rules(f,
                "{\"rules\": [{\"match\": \"x\", \"policy\": \"perhaps\"}]}");
    g_assert_false(allowed(authz, "x", &err));
    g_assert_nonnull(strstr(err->message, "perhaps"));
    g_assert_nonnull(strstr(err->message, f->path));
    g_clear_error(&err);

    /* removed file denies too */
    g_assert_cmpint(g_unlink(f->path), ==, 0);
    g_assert_false(allowed(authz, "CN=alice", &err));
    g_assert_nonnull(strstr(err->message, f->path));
    g_clear_error(&err);

    /* and a good file brings it back */
    write_rules(f, "{\"policy\": \"allow\"}");
    g_assert_true(allowed(authz, "CN=alice", &err));
    g_assert_no_error(err);
}

static void test_no_refresh(Fixture *f, gconstpointer data)
{
    g_autoptr(VhAuthzListFile) authz = NULL;
    g_autoptr(GError) err = NULL;

    write_rules(f, "{\"policy\": \"allow\"}");
    authz = vh_authz_list_file_new(f->path, false, &err);
    g_assert_no_error(err);
    write_rules(f, "{\"policy\": \"deny\"}");
    g_assert_true(allowed(authz, "CN=bob", &err));
    g_assert_no_error(err);
}

static void test_top_level_not_object(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(VhAuthzListFile) authz = NULL;

    write_rules(f, "[]");
    authz = vh_authz_list_file_new(f->path, true, &err);
    g_assert_null(authz);
    g_assert_error(err, VH_ERROR, VH_ERROR_CONFIG);
    g_assert_nonnull(strstr(err->message, f->path));
}

/*
 * A NUL in the rules, raw or as \u0000, would cut a DN or the file short:
 * refused, naming the file (issue 10 item 8). So is a FIFO, at once.
 */
static void test_nul_and_fifo(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(VhAuthzListFile) authz = NULL;

    write_rules(f, "{\"policy\": \"deny\", \"rules\": [{\"match\": "
                   "\"CN=admin\\u0000junk\", \"policy\": \"allow\"}]}");
    authz = vh_authz_list_file_new(f->path, true, &err);
    g_assert_null(authz);
    g_assert_error(err, VH_ERROR, VH_ERROR_CONFIG);
    g_assert_nonnull(strstr(err->message, f->path));
    g_assert_nonnull(strstr(err->message, "NUL character"));
    g_clear_error(&err);

    g_assert_true(
        g_file_set_contents(f->path, "{\"policy\": \"allow\"}\0x", 21, NULL));
    authz = vh_authz_list_file_new(f->path, true, &err);
    g_assert_null(authz);
    g_assert_nonnull(strstr(err->message, ":1: a NUL byte"));
    g_clear_error(&err);

    g_assert_cmpint(g_unlink(f->path), ==, 0);
    g_assert_cmpint(mkfifo(f->path, 0600), ==, 0);
    authz = vh_authz_list_file_new(f->path, true, &err);
    g_assert_null(authz);
    g_assert_nonnull(strstr(err->message, "not a regular file (a FIFO)"));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
#define ADD(path, fn)                                                          \
    g_test_add(path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
    ADD("/authz/list-file/load", test_load);
    ADD("/authz/list-file/missing-at-create", test_missing_at_create);
    ADD("/authz/list-file/refresh", test_refresh);
    ADD("/authz/list-file/no-refresh", test_no_refresh);
    ADD("/authz/list-file/top-level-not-object", test_top_level_not_object);
    ADD("/authz/list-file/nul-and-fifo", test_nul_and_fifo);
    return g_test_run();
}
