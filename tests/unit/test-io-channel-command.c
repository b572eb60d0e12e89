/* Tests for VhChannelCommand (lib/io/channel-command.c). */
#include "channel-conformance.h"
#include "vmhost/io/channel-command.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static VhChannelCommand *spawn_or_die(const char *const *argv, int flags)
{
    g_autoptr(GError) err = NULL;
    VhChannelCommand *c = vh_channel_command_new_spawn(argv, flags, &err);

    g_assert_no_error(err);
    g_assert_nonnull(c);
    g_assert_cmpint(vh_channel_command_get_pid(c), >, 0);
    return c;
}

/* The child is gone and was reaped: no zombie, no process. */
static void assert_reaped(GPid pid)
{
    g_autofree char *proc = g_strdup_printf("/proc/%d", pid);

    g_assert_cmpint(waitpid(pid, NULL, WNOHANG), ==, -1);
    g_assert_cmpint(errno, ==, ECHILD);
    g_assert_false(g_file_test(proc, G_FILE_TEST_EXISTS));
}

static bool factory_cat(VhChannel **writer, VhChannel **reader, gpointer opaque,
                        GError **errp)
{
    const char *argv[] = {"cat", NULL};
    VhChannelCommand *c = vh_channel_command_new_spawn(argv, O_RDWR, errp);

    if (!c) {
        return false;
    }
    *writer = VH_CHANNEL(c);
    *reader = VH_CHANNEL(g_object_ref(c));
    return true;
}

static void test_cat(void)
{
    const char *argv[] = {"cat", NULL};
    g_autoptr(VhChannelCommand) c = spawn_or_die(argv, O_RDWR);
    VhChannel *ioc = VH_CHANNEL(c);
    g_autoptr(GError) err = NULL;
    GPid pid = vh_channel_command_get_pid(c);
    char buf[16] = {0};

    g_assert_true(vh_channel_has_feature(ioc, VH_CHANNEL_FEATURE_SHUTDOWN));
    g_assert_true(vh_channel_write_all(ioc, "hello\n", 6, &err));
    g_assert_true(vh_channel_shutdown(ioc, VH_CHANNEL_SHUTDOWN_WRITE, &err));
    g_assert_no_error(err);
    g_assert_true(vh_channel_read_all(ioc, buf, 6, &err));
    g_assert_cmpstr(buf, ==, "hello\n");
    g_assert_cmpint(vh_channel_read(ioc, buf, sizeof(buf), &err), ==, 0);

    /* Writing after the write shutdown is an error, not a crash. */
    g_assert_cmpint(vh_channel_write(ioc, "x", 1, &err), ==, -1);
    g_assert_error(err, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE);
    g_clear_error(&err);

    g_assert_true(vh_channel_close(ioc, &err));
    g_assert_no_error(err);
    g_assert_cmpint(vh_channel_command_get_pid(c), ==, 0);
    assert_reaped(pid);
}

/*
 * Closing @c must report the child's failure with each of the NULL-ended
 * needles in the message, and leave no zombie. Returns the error (transfer
 * full) for checks of its own.
 */
static GError *assert_close_fails(VhChannelCommand *c,
                                  ...) G_GNUC_NULL_TERMINATED;
static GError *assert_close_fails(VhChannelCommand *c, ...)
{
    g_autoptr(GError) err = NULL;
    GPid pid = vh_channel_command_get_pid(c);
    const char *needle;
    va_list ap;

    g_assert_false(vh_channel_close(VH_CHANNEL(c), &err));
    g_assert_error(err, VH_ERROR, VH_ERROR_CHILD_FAILED);
    va_start(ap, c);
    while ((needle = va_arg(ap, const char *))) {
        if (!strstr(err->message, needle)) {
            g_error("'%s' not in '%s'", needle, err->message);
        }
    }
    va_end(ap);
    assert_reaped(pid);
    return g_steal_pointer(&err);
}

static void test_exit_status(void)
{
    const char *argv[] = {"sh", "-c", "exit 3", NULL};
    g_autoptr(VhChannelCommand) c = spawn_or_die(argv, O_RDONLY);
    char buf[4];

    g_assert_cmpint(vh_channel_read(VH_CHANNEL(c), buf, 4, NULL), ==, 0);
    g_autoptr(GError) err = assert_close_fails(c, "status 3", NULL);
    g_assert_cmpstr(err->message, ==,
                    "command 'sh -c exit 3' exited with status 3");
}

static void test_killed_by_signal(void)
{
    const char *argv[] = {"sh", "-c", "kill -KILL $$", NULL};
    g_autoptr(VhChannelCommand) c = spawn_or_die(argv, O_RDONLY);
    char buf[4];

    g_assert_cmpint(vh_channel_read(VH_CHANNEL(c), buf, 4, NULL), ==, 0);
    g_error_free(assert_close_fails(c, "killed by signal 9", NULL));
}

/* A child that outlives its pipes is terminated after the timeout. */
static void test_terminated(void)
{
    const char *argv[] = {"sleep", "30", NULL};
    g_autoptr(VhChannelCommand) c = spawn_or_die(argv, O_RDWR);
    gint64 start = g_get_monotonic_time();

    vh_channel_command_set_exit_timeout(c, 100);
    g_error_free(assert_close_fails(c, "command 'sleep 30'", "SIGTERM", NULL));
    g_assert_cmpint(g_get_monotonic_time() - start, <, 5 * G_USEC_PER_SEC);
}

/* One that ignores SIGTERM gets SIGKILL. */
static void test_killed(void)
{
    const char *argv[] = {"sh", "-c", "trap '' TERM; exec sleep 30", NULL};
    g_autoptr(VhChannelCommand) c = spawn_or_die(argv, O_WRONLY);

    vh_channel_command_set_exit_timeout(c, 50);
    g_usleep(100 * 1000); /* let the trap be set */
    g_error_free(assert_close_fails(c, "SIGKILL", NULL));
}

/* Dropping the last reference reaps the child too. */
static void test_unref_reaps(void)
{
    const char *argv[] = {"cat", NULL};
    VhChannelCommand *c = spawn_or_die(argv, O_RDWR);
    GPid pid = vh_channel_command_get_pid(c);

    g_object_unref(c);
    assert_reaped(pid);
}

static void test_spawn_failure(void)
{
    const char *argv[] = {"/nonexistent/vmhost-no-such-program", "-x", NULL};
    g_autoptr(GError) err = NULL;

    g_assert_null(vh_channel_command_new_spawn(argv, O_RDWR, &err));
    g_assert_nonnull(err);
    g_assert_true(g_str_has_prefix(
        err->message,
        "Failed to run command '/nonexistent/vmhost-no-such-program -x': "));
}

static void test_bad_mode(void)
{
    const char *argv[] = {"cat", NULL};
    g_autoptr(GError) err = NULL;

    g_assert_null(vh_channel_command_new_spawn(argv, O_ACCMODE, &err));
    g_assert_error(err, VH_ERROR, VH_ERROR_INVALID_ARGUMENT);
}

static void test_one_direction(void)
{
    const char *echo[] = {"echo", "hi", NULL};
    const char *cat[] = {"cat", NULL};
    g_autoptr(VhChannelCommand) r = spawn_or_die(echo, O_RDONLY);
    g_autoptr(VhChannelCommand) w = spawn_or_die(cat, O_WRONLY);
    g_autoptr(GError) err = NULL;
    char buf[8] = {0};

    g_assert_true(vh_channel_read_all(VH_CHANNEL(r), buf, 3, &err));
    g_assert_cmpstr(buf, ==, "hi\n");
    g_assert_cmpint(vh_channel_write(VH_CHANNEL(r), "x", 1, &err), ==, -1);
    g_assert_error(err, VH_ERROR, VH_ERROR_NOT_SUPPORTED);
    g_assert_nonnull(strstr(err->message, "command 'echo hi'"));
    g_clear_error(&err);

    g_assert_true(vh_channel_write_all(VH_CHANNEL(w), "discarded", 9, &err));
    g_assert_cmpint(vh_channel_read(VH_CHANNEL(w), buf, 1, &err), ==, -1);
    g_assert_error(err, VH_ERROR, VH_ERROR_NOT_SUPPORTED);
    g_clear_error(&err);

    g_assert_true(vh_channel_close(VH_CHANNEL(r), &err));
    g_assert_true(vh_channel_close(VH_CHANNEL(w), &err));
    g_assert_no_error(err);
}

/* A child that exited leaves a broken pipe, reported without SIGPIPE. */
static void test_broken_pipe(void)
{
    const char *argv[] = {"true", NULL};
    g_autoptr(VhChannelCommand) c = spawn_or_die(argv, O_WRONLY);
    g_autoptr(GError) err = NULL;
    char buf[4096] = {0};
    gssize n = 0;

    for (int i = 0; i < 2000 && n >= 0; i++) {
        n = vh_channel_write(VH_CHANNEL(c), buf, sizeof(buf), &err);
        g_usleep(1000);
    }
    g_assert_cmpint(n, ==, -1);
    g_assert_error(err, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE);
    g_assert_nonnull(strstr(err->message, "command 'true'"));
    g_clear_error(&err);
    g_assert_true(vh_channel_close(VH_CHANNEL(c), &err));
    g_assert_no_error(err);
}

static void test_shutdown_read(void)
{
    const char *argv[] = {"cat", NULL};
    g_autoptr(VhChannelCommand) c = spawn_or_die(argv, O_RDWR);
    g_autoptr(GError) err = NULL;
    char buf[4];

    g_assert_true(
        vh_channel_shutdown(VH_CHANNEL(c), VH_CHANNEL_SHUTDOWN_READ, &err));
    g_assert_cmpint(vh_channel_read(VH_CHANNEL(c), buf, 4, &err), ==, -1);
    g_assert_error(err, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE);
    g_clear_error(&err);
    /* cat exits on EOF without having written: status 0. */
    g_assert_true(vh_channel_close(VH_CHANNEL(c), &err));
    g_assert_no_error(err);
}

/* A reader blocked on a command that never writes. */
static gpointer blocked_read(gpointer opaque)
{
    g_autoptr(GError) err = NULL;
    char buf[16];

    return GINT_TO_POINTER(
        (int)vh_channel_read(VH_CHANNEL(opaque), buf, sizeof(buf), &err));
}

/*
 * Shutting down both ways abandons the command: a thread blocked reading
 * it wakes up, and everything the command started is stopped, not only
 * the shell (a migration target's "exec:socat ..." left nothing behind).
 */
static void test_abort_wakes_reader(void)
{
    const char *argv[] = {"sh", "-c", "sleep 30; echo late", NULL};
    g_autoptr(VhChannelCommand) c = spawn_or_die(argv, O_RDWR);
    g_autoptr(GError) err = NULL;
    GPid pid = vh_channel_command_get_pid(c);
    gint64 start = g_get_monotonic_time();
    GThread *reader;
    char buf[4];

    reader = g_thread_new("blocked-read", blocked_read, c);
    g_usleep(100 * 1000); /* let it block */
    g_assert_true(
        vh_channel_shutdown(VH_CHANNEL(c), VH_CHANNEL_SHUTDOWN_BOTH, &err));
    g_assert_no_error(err);
    /* EOF: the command's group was stopped, the pipe's writers are gone. */
    g_assert_cmpint(GPOINTER_TO_INT(g_thread_join(reader)), ==, 0);
    g_assert_cmpint(g_get_monotonic_time() - start, <, 5 * G_USEC_PER_SEC);

    /* Further I/O is refused, without touching the pipes. */
    g_assert_cmpint(vh_channel_write(VH_CHANNEL(c), "x", 1, &err), ==, -1);
    g_assert_error(err, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE);
    g_clear_error(&err);
    g_assert_cmpint(vh_channel_read(VH_CHANNEL(c), buf, 4, &err), ==, -1);
    g_assert_error(err, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE);
    g_clear_error(&err);

    g_error_free(assert_close_fails(c, "signal 15", NULL));
    /*
     * No member of the command's process group (sleep) is left; orphans
     * are reaped by init, so give that a moment.
     */
    for (int i = 0; i < 200 && kill(-pid, 0) == 0; i++) {
        g_usleep(10 * 1000);
    }
    g_assert_cmpint(kill(-pid, 0), ==, -1);
    g_assert_cmpint(errno, ==, ESRCH);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    vh_channel_conformance_add("/io/channel/command/conformance/cat",
                               factory_cat, NULL, VH_CONFORMANCE_DEFAULT);
    g_test_add_func("/io/channel/command/cat", test_cat);
    g_test_add_func("/io/channel/command/exit-status", test_exit_status);
    g_test_add_func("/io/channel/command/killed-by-signal",
                    test_killed_by_signal);
    g_test_add_func("/io/channel/command/terminated", test_terminated);
    g_test_add_func("/io/channel/command/killed", test_killed);
    g_test_add_func("/io/channel/command/unref-reaps", test_unref_reaps);
    g_test_add_func("/io/channel/command/spawn-failure", test_spawn_failure);
    g_test_add_func("/io/channel/command/bad-mode", test_bad_mode);
    g_test_add_func("/io/channel/command/one-direction", test_one_direction);
    g_test_add_func("/io/channel/command/broken-pipe", test_broken_pipe);
    g_test_add_func("/io/channel/command/shutdown-read", test_shutdown_read);
    g_test_add_func("/io/channel/command/abort-wakes-reader",
                    test_abort_wakes_reader);
    return g_test_run();
}
