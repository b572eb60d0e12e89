/*
 * Tests for the program log (lib/util/log.c). GLib takes one log writer
 * per process, so every case runs in a subprocess.
 */
#include "vmhost/util/log.h"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>

static char *tmpdir;

/* Messages go to stderr until a log file is open, then to the file. */
static void test_stderr_then_file(void)
{
    g_autofree char *path = g_build_filename(tmpdir, "a.log", NULL);

    if (g_test_subprocess()) {
        g_autoptr(GError) err = NULL;
        const char *file = g_getenv("VH_TEST_LOGFILE"); /* the parent's */

        g_log_set_always_fatal(G_LOG_FATAL_MASK);
        vh_log_init("prog");
        vh_log_line("dropped: no file yet");
        g_warning("careful %d", 1);
        g_message("plain");
        g_assert_false(vh_log_has_file());
        g_assert_true(vh_log_open_file(file, &err));
        g_assert_no_error(err);
        g_assert_true(vh_log_has_file());
        g_warning("in the file");
        vh_log_line("prog: a line of our own");
        vh_log_close();
        g_message("stderr again");
        return;
    }
    g_setenv("VH_TEST_LOGFILE", path, TRUE);
    g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
    g_unsetenv("VH_TEST_LOGFILE");
    g_test_trap_assert_passed();
    g_test_trap_assert_stderr("prog: warning: careful 1\nprog: plain\n"
                              "prog: stderr again\n");

    g_autofree char *text = NULL;
    g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    g_assert_cmpuint(g_strv_length(lines), ==, 3);
    g_assert_cmpstr(lines[2], ==, "");
    const char *want[] = {"prog: warning: in the file",
                          "prog: a line of our own"};
    for (guint i = 0; i < 2; i++) {
        /* "2026-12-07T02:41:15.123456Z TEXT" */
        g_assert_true(g_regex_match_simple(
            "^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{6}Z ", lines[i],
            0, 0));
        g_assert_cmpstr(strchr(lines[i], ' ') + 1, ==, want[i]);
    }
    g_assert_cmpint(g_unlink(path), ==, 0);
}

/* Debug and info records stay out unless G_MESSAGES_DEBUG asks. */
static void test_debug_dropped(void)
{
    if (g_test_subprocess()) {
        g_unsetenv("G_MESSAGES_DEBUG");
        vh_log_init("prog");
        g_debug("hidden");
        g_info("hidden too");
        g_message("shown");
        return;
    }
    g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
    g_test_trap_assert_passed();
    g_test_trap_assert_stderr("prog: shown\n");
}

static void test_open_fails(void)
{
    g_autofree char *path = g_build_filename(tmpdir, "no/dir/x.log", NULL);
    g_autoptr(GError) err = NULL;

    g_assert_false(vh_log_open_file(path, &err));
    g_assert_error(err, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
    g_assert_true(g_str_has_prefix(err->message, "cannot open "));
    g_assert_false(vh_log_has_file());
}

/* Streams as QEMU's -D takes them; a FIFO without a reader never blocks. */
static void test_open_streams(void)
{
    g_autofree char *fifo = g_build_filename(tmpdir, "fifo", NULL);
    g_autoptr(GError) err = NULL;

    g_assert_true(vh_log_open_file("/dev/null", &err));
    g_assert_no_error(err);
    g_assert_true(vh_log_has_file());
    vh_log_line("to nowhere");
    vh_log_close();
    g_assert_false(vh_log_has_file());

    g_assert_cmpint(mkfifo(fifo, 0600), ==, 0);
    g_assert_false(vh_log_open_file(fifo, &err));
    g_assert_nonnull(err);
    g_test_message("%s", err->message);
    g_assert_true(g_str_has_prefix(err->message, "cannot open "));
    g_assert_nonnull(strstr(err->message, fifo));
    g_assert_false(vh_log_has_file());
    g_assert_cmpint(g_unlink(fifo), ==, 0);
}

int main(int argc, char **argv)
{
    int rc;

    g_test_init(&argc, &argv, NULL);
    /* subprocesses use the parent's files, named in the environment */
    if (!g_test_subprocess()) {
        tmpdir = g_dir_make_tmp("vh-util-log-XXXXXX", NULL);
        g_assert_nonnull(tmpdir);
    }
    g_test_add_func("/util/log/stderr-then-file", test_stderr_then_file);
    g_test_add_func("/util/log/debug-dropped", test_debug_dropped);
    g_test_add_func("/util/log/open-fails", test_open_fails);
    g_test_add_func("/util/log/open-streams", test_open_streams);
    rc = g_test_run();
    if (tmpdir) {
        /* every case removed its files */
        g_assert_cmpint(g_rmdir(tmpdir), ==, 0);
    }
    g_free(tmpdir);
    return rc;
}
