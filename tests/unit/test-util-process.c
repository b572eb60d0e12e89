/* Tests for pid files and daemonizing (lib/util/process.c). */
#include "vmhost/util/error.h"
#include "vmhost/util/process.h"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <stdlib.h>
#include <unistd.h>

static char *tmpdir;

static char *tmp_path(const char *name)
{
    return g_build_filename(tmpdir, name, NULL);
}

static void test_pidfile(void)
{
    g_autofree char *path = tmp_path("a.pid");
    g_autofree char *want = g_strdup_printf("%d\n", (int)getpid());
    g_autofree char *got = NULL;
    g_autoptr(GError) err = NULL;
    VhPidfile *p = vh_pidfile_acquire(path, &err);

    g_assert_no_error(err);
    g_assert_nonnull(p);
    g_assert_true(g_file_get_contents(path, &got, NULL, NULL));
    g_assert_cmpstr(got, ==, want);
    vh_pidfile_remove(p);
    g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
    vh_pidfile_remove(NULL);
}

/* A stale file (no lock held) is taken over and rewritten. */
static void test_pidfile_stale(void)
{
    g_autofree char *path = tmp_path("stale.pid");
    g_autoptr(GError) err = NULL;

    g_assert_true(g_file_set_contents(path, "999999\nold junk\n", -1, NULL));
    g_autoptr(VhPidfile) p = vh_pidfile_acquire(path, &err);
    g_assert_no_error(err);
    g_autofree char *got = NULL;
    g_assert_true(g_file_get_contents(path, &got, NULL, NULL));
    g_assert_cmpint(atoi(got), ==, (int)getpid());
    g_assert_null(strchr(got, 'j'));
}

static void test_pidfile_no_dir(void)
{
    g_autofree char *path = tmp_path("no/such/dir/x.pid");
    g_autoptr(GError) err = NULL;

    g_assert_null(vh_pidfile_acquire(path, &err));
    g_assert_error(err, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
    g_assert_true(g_str_has_prefix(err->message, "cannot open "));
    g_assert_nonnull(strstr(err->message, path));
}

/* Another process holding the file: refused, the file left alone. */
static void test_pidfile_locked(void)
{
    g_autofree char *path = tmp_path("held.pid");

    if (g_test_subprocess()) {
        g_autoptr(GError) err = NULL;
        const char *held = g_getenv("VH_TEST_PIDFILE");

        g_assert_null(vh_pidfile_acquire(held, &err));
        g_assert_error(err, VH_ERROR, VH_ERROR_FAILED);
        g_printerr("%s\n", err->message);
        return;
    }
    g_autoptr(GError) err = NULL;
    g_autoptr(VhPidfile) p = vh_pidfile_acquire(path, &err);
    g_assert_no_error(err);
    g_setenv("VH_TEST_PIDFILE", path, TRUE);
    g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
    g_unsetenv("VH_TEST_PIDFILE");
    g_test_trap_assert_passed();
    g_test_trap_assert_stderr("*held.pid is locked by another running "
                              "process*");
    g_assert_true(g_file_test(path, G_FILE_TEST_EXISTS));
}

/*
 * The parent of vh_daemonize_start() exits 0 once the child says it is
 * ready, 1 when the child ends without saying so.
 */
static void daemonize_child(bool ready)
{
    g_autoptr(GError) err = NULL;
    int fd = -1;

    if (!vh_daemonize_start(&fd, &err)) {
        g_printerr("%s\n", err->message);
        _exit(2);
    }
    /* the daemon: a new session, the pipe to the parent */
    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(getsid(0), ==, getpid());
    if (ready) {
        vh_daemonize_finish(fd);
    }
    _exit(0);
}

static void test_daemonize_ready(void)
{
    if (g_test_subprocess()) {
        daemonize_child(true);
        return;
    }
    g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
    g_test_trap_assert_passed();
}

static void test_daemonize_failed(void)
{
    if (g_test_subprocess()) {
        daemonize_child(false);
        return;
    }
    g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
    g_test_trap_assert_failed();
}

int main(int argc, char **argv)
{
    int rc;

    g_test_init(&argc, &argv, NULL);
    /* subprocesses use the parent's files, named in the environment */
    if (!g_test_subprocess()) {
        tmpdir = g_dir_make_tmp("vh-util-process-XXXXXX", NULL);
        g_assert_nonnull(tmpdir);
    }
    g_test_add_func("/util/process/pidfile", test_pidfile);
    g_test_add_func("/util/process/pidfile-stale", test_pidfile_stale);
    g_test_add_func("/util/process/pidfile-no-dir", test_pidfile_no_dir);
    g_test_add_func("/util/process/pidfile-locked", test_pidfile_locked);
    g_test_add_func("/util/process/daemonize-ready", test_daemonize_ready);
    g_test_add_func("/util/process/daemonize-failed", test_daemonize_failed);
    rc = g_test_run();
    if (tmpdir) {
        /* every case removed its files */
        g_assert_cmpint(g_rmdir(tmpdir), ==, 0);
    }
    g_free(tmpdir);
    return rc;
}
