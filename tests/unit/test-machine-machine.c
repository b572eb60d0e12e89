/* Tests for the machine's run states (lib/machine/machine.c). */
#include "vmhost/machine/machine.h"
#include "vmhost/util/error.h"

#include <string.h>

#define N_STATES (VH_RUN_STATE_INMIGRATE + 1)

typedef struct {
    guint count;
    VhRunState old_state[16];
    VhRunState new_state[16];
    GThread *thread; /* where the last emission ran */
} Seen;

static void on_state_changed(VhMachine *m, VhRunState old_state,
                             VhRunState new_state, gpointer data)
{
    Seen *seen = data;

    if (seen->count < G_N_ELEMENTS(seen->old_state)) {
        seen->old_state[seen->count] = old_state;
        seen->new_state[seen->count] = new_state;
    }
    seen->count++;
    seen->thread = g_thread_self();
}

static VhMachine *machine_new(guint64 size, Seen *seen)
{
    g_autoptr(GError) err = NULL;
    VhRamBlock *ram = vh_ram_block_new("pc.ram", size, false, &err);

    g_assert_no_error(err);
    VhMachine *m = vh_machine_new("vm0", ram, &err);
    g_assert_no_error(err);
    g_assert_nonnull(m);
    if (seen) {
        g_signal_connect(m, "state-changed", G_CALLBACK(on_state_changed),
                         seen);
    }
    return m;
}

static void assert_seen(const Seen *seen, guint i, VhRunState old_state,
                        VhRunState new_state)
{
    g_assert_cmpuint(seen->count, >, i);
    g_assert_cmpstr(vh_run_state_name(seen->old_state[i]), ==,
                    vh_run_state_name(old_state));
    g_assert_cmpstr(vh_run_state_name(seen->new_state[i]), ==,
                    vh_run_state_name(new_state));
}

static void test_names(void)
{
    static const char *names[N_STATES] = {
        "prelaunch", "running",     "paused",
        "shutdown",  "postmigrate", "inmigrate",
    };

    for (int s = 0; s < N_STATES; s++) {
        VhRunState back;
        g_assert_cmpstr(vh_run_state_name(s), ==, names[s]);
        g_assert_true(vh_run_state_from_name(names[s], &back));
        g_assert_cmpint(back, ==, s);
    }
    VhRunState unused;
    g_assert_false(vh_run_state_from_name("finish-migrate", &unused));
    g_assert_false(vh_run_state_from_name(NULL, &unused));
}

static void test_basics(void)
{
    Seen seen = {0};
    g_autoptr(VhMachine) m = machine_new(1 << 20, &seen);

    g_autofree char *name = NULL;

    g_assert_cmpstr(vh_machine_get_name(m), ==, "vm0");
    g_object_get(m, "name", &name, NULL);
    g_assert_cmpstr(name, ==, "vm0");
    g_assert_cmpuint(vh_ram_block_get_size(vh_machine_get_ram(m)), ==, 1 << 20);
    g_assert_nonnull(vh_machine_get_test_guest(m));
    g_assert_cmpint(vh_machine_get_state(m), ==, VH_RUN_STATE_PRELAUNCH);
    g_assert_false(vh_machine_is_running(m));
    g_assert_true(vh_test_guest_is_paused(vh_machine_get_test_guest(m)));
    g_assert_cmpuint(seen.count, ==, 0);
}

/* The workload's counters as the machine gives them, for migration. */
static void test_guest_writes(void)
{
    g_autoptr(VhMachine) m = machine_new(1 << 20, NULL);
    g_autoptr(GError) err = NULL;
    VhTestGuest *guest = vh_machine_get_test_guest(m);
    guint64 pages = 1, rate = 1;
    gint64 deadline;

    vh_machine_get_guest_writes(m, &pages, &rate);
    g_assert_cmpuint(pages, ==, 0);
    g_assert_cmpuint(rate, ==, 0);

    vh_test_guest_set_workload(guest, 4 << 20, VH_DIRTY_SEQUENTIAL);
    g_assert_true(vh_machine_cont(m, &err));
    g_assert_no_error(err);
    deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
    do {
        g_usleep(1000);
        vh_machine_get_guest_writes(m, &pages, &rate);
    } while (pages == 0 && g_get_monotonic_time() < deadline);
    g_assert_cmpuint(pages, >, 0);
    g_assert_cmpuint(rate, ==, 4 << 20);

    /* stopped, the counters hold still and are the guest's own */
    g_assert_true(vh_machine_stop(m, &err));
    vh_test_guest_set_workload(guest, 0, VH_DIRTY_SEQUENTIAL);
    vh_machine_get_guest_writes(m, &pages, &rate);
    g_assert_cmpuint(pages, ==, vh_test_guest_get_pages_written(guest));
    g_assert_cmpuint(rate, ==, 0);
}

static void test_stop_cont(void)
{
    Seen seen = {0};
    g_autoptr(VhMachine) m = machine_new(1 << 20, &seen);
    g_autoptr(GError) err = NULL;
    VhTestGuest *guest = vh_machine_get_test_guest(m);

    /* stop with nothing running changes nothing, as in QEMU. */
    g_assert_true(vh_machine_stop(m, &err));
    g_assert_no_error(err);
    g_assert_cmpuint(seen.count, ==, 0);

    g_assert_true(vh_machine_cont(m, &err));
    g_assert_no_error(err);
    g_assert_true(vh_machine_is_running(m));
    g_assert_false(vh_test_guest_is_paused(guest));
    assert_seen(&seen, 0, VH_RUN_STATE_PRELAUNCH, VH_RUN_STATE_RUNNING);

    g_assert_true(vh_machine_cont(m, &err)); /* already running */
    g_assert_cmpuint(seen.count, ==, 1);

    g_assert_true(vh_machine_stop(m, &err));
    g_assert_cmpint(vh_machine_get_state(m), ==, VH_RUN_STATE_PAUSED);
    g_assert_true(vh_test_guest_is_paused(guest));
    assert_seen(&seen, 1, VH_RUN_STATE_RUNNING, VH_RUN_STATE_PAUSED);
    g_assert_true(vh_machine_stop(m, &err));
    g_assert_cmpuint(seen.count, ==, 2);

    g_assert_true(vh_machine_cont(m, &err));
    assert_seen(&seen, 2, VH_RUN_STATE_PAUSED, VH_RUN_STATE_RUNNING);

    vh_machine_shutdown(m);
    assert_seen(&seen, 3, VH_RUN_STATE_RUNNING, VH_RUN_STATE_SHUTDOWN);
    g_assert_true(vh_test_guest_is_paused(guest));
    vh_machine_shutdown(m);
    g_assert_cmpuint(seen.count, ==, 4);

    g_assert_false(vh_machine_cont(m, &err));
    g_assert_error(err, VH_ERROR, VH_ERROR_INVALID_ARGUMENT);
    g_assert_cmpstr(err->message, ==,
                    "cannot continue machine 'vm0': the guest has shut down "
                    "(state 'shutdown'); only quit is left");
    g_assert_cmpint(vh_machine_get_state(m), ==, VH_RUN_STATE_SHUTDOWN);
    g_assert_cmpuint(seen.count, ==, 4);
}

/* The transition table of machine.h, written out again. */
static const char *const allowed[N_STATES] = {
    [VH_RUN_STATE_PRELAUNCH] = "running inmigrate postmigrate shutdown",
    [VH_RUN_STATE_RUNNING] = "paused postmigrate shutdown",
    [VH_RUN_STATE_PAUSED] = "running postmigrate shutdown",
    [VH_RUN_STATE_SHUTDOWN] = "",
    [VH_RUN_STATE_POSTMIGRATE] = "running paused shutdown",
    [VH_RUN_STATE_INMIGRATE] = "running paused prelaunch shutdown",
};

/* Bring a fresh machine to @state along allowed transitions. */
static void reach(VhMachine *m, VhRunState state)
{
    g_autoptr(GError) err = NULL;

    if (state == VH_RUN_STATE_PAUSED) {
        g_assert_true(vh_machine_set_state(m, VH_RUN_STATE_RUNNING, &err));
    }
    if (state != VH_RUN_STATE_PRELAUNCH) {
        g_assert_true(vh_machine_set_state(m, state, &err));
    }
    g_assert_no_error(err);
    g_assert_cmpint(vh_machine_get_state(m), ==, state);
}

static void test_transitions(void)
{
    for (int from = 0; from < N_STATES; from++) {
        for (int to = 0; to < N_STATES; to++) {
            Seen seen = {0};
            g_autoptr(VhMachine) m = machine_new(1 << 20, NULL);
            g_autoptr(GError) err = NULL;
            g_auto(GStrv) ok = g_strsplit(allowed[from], " ", -1);
            bool want = from == to || g_strv_contains((const char *const *)ok,
                                                      vh_run_state_name(to));

            reach(m, from);
            g_signal_connect(m, "state-changed", G_CALLBACK(on_state_changed),
                             &seen);
            bool got = vh_machine_set_state(m, to, &err);
            g_assert_cmpint(got, ==, want);
            if (!want) {
                g_autofree char *msg = g_strdup_printf(
                    "machine 'vm0' cannot go from state '%s' to '%s'",
                    vh_run_state_name(from), vh_run_state_name(to));
                g_assert_error(err, VH_ERROR, VH_ERROR_INVALID_ARGUMENT);
                g_assert_cmpstr(err->message, ==, msg);
                g_assert_cmpint(vh_machine_get_state(m), ==, from);
                g_assert_cmpuint(seen.count, ==, 0);
                continue;
            }
            g_assert_no_error(err);
            g_assert_cmpint(vh_machine_get_state(m), ==, to);
            g_assert_cmpuint(seen.count, ==, from == to ? 0 : 1);
            if (from != to) {
                assert_seen(&seen, 0, from, to);
            }
            g_assert_cmpint(
                vh_test_guest_is_paused(vh_machine_get_test_guest(m)), ==,
                to != VH_RUN_STATE_RUNNING);
        }
    }
}

static void test_inmigrate_autostart(void)
{
    Seen seen = {0};
    g_autoptr(VhMachine) m = machine_new(1 << 20, &seen);
    g_autoptr(GError) err = NULL;

    reach(m, VH_RUN_STATE_INMIGRATE);
    g_assert_true(vh_machine_get_autostart(m));
    g_assert_true(vh_machine_stop(m, &err));
    g_assert_false(vh_machine_get_autostart(m));
    g_assert_true(vh_machine_cont(m, &err));
    g_assert_true(vh_machine_get_autostart(m));
    g_assert_cmpint(vh_machine_get_state(m), ==, VH_RUN_STATE_INMIGRATE);
    vh_machine_set_autostart(m, false);
    g_assert_false(vh_machine_get_autostart(m));
    g_assert_no_error(err);
    g_assert_cmpuint(seen.count, ==, 1);
}

/* The workload runs exactly while the machine is running. */
static void test_guest_follows_state(void)
{
    g_autoptr(VhMachine) m = machine_new(1 << 20, NULL);
    g_autoptr(GError) err = NULL;
    VhTestGuest *guest = vh_machine_get_test_guest(m);

    vh_test_guest_set_workload(guest, 50 << 20, VH_DIRTY_RANDOM);
    g_usleep(30000);
    g_assert_cmpuint(vh_test_guest_get_pages_written(guest), ==, 0);

    g_assert_true(vh_machine_cont(m, &err));
    while (vh_test_guest_get_pages_written(guest) < 100) {
        g_usleep(1000);
    }
    g_assert_true(vh_machine_stop(m, &err));
    guint64 written = vh_test_guest_get_pages_written(guest);
    g_usleep(30000);
    g_assert_cmpuint(vh_test_guest_get_pages_written(guest), ==, written);
    g_assert_true(vh_test_guest_verify(guest, NULL, &err));
    g_assert_no_error(err);
}

typedef struct {
    VhMachine *m;
    bool ok;
} ThreadArgs;

static gpointer stop_from_thread(gpointer data)
{
    ThreadArgs *args = data;

    args->ok = vh_machine_stop(args->m, NULL) &&
               vh_machine_cont(args->m, NULL) && vh_machine_stop(args->m, NULL);
    return NULL;
}

/* Changes made elsewhere are delivered on the creating context, in order. */
static void test_signal_thread(void)
{
    Seen seen = {0};
    g_autoptr(VhMachine) m = machine_new(1 << 20, &seen);
    g_autoptr(GError) err = NULL;
    ThreadArgs args = {m, false};

    g_assert_true(vh_machine_cont(m, &err));
    g_assert_cmpuint(seen.count, ==, 1);

    GThread *t = g_thread_new("stopper", stop_from_thread, &args);
    g_thread_join(t);
    g_assert_true(args.ok);
    g_assert_cmpint(vh_machine_get_state(m), ==, VH_RUN_STATE_PAUSED);
    g_assert_cmpuint(seen.count, ==, 1); /* queued, not yet delivered */

    /* A change made here first delivers the queued ones. */
    g_assert_true(vh_machine_cont(m, &err));
    g_assert_cmpuint(seen.count, ==, 5);
    assert_seen(&seen, 1, VH_RUN_STATE_RUNNING, VH_RUN_STATE_PAUSED);
    assert_seen(&seen, 2, VH_RUN_STATE_PAUSED, VH_RUN_STATE_RUNNING);
    assert_seen(&seen, 3, VH_RUN_STATE_RUNNING, VH_RUN_STATE_PAUSED);
    assert_seen(&seen, 4, VH_RUN_STATE_PAUSED, VH_RUN_STATE_RUNNING);
    g_assert_true(seen.thread == g_thread_self());

    /* And the idle sources left behind find nothing more to say. */
    while (g_main_context_iteration(NULL, FALSE)) {
    }
    g_assert_cmpuint(seen.count, ==, 5);

    /* Without a change here, running the context delivers them. */
    args.ok = false;
    t = g_thread_new("stopper", stop_from_thread, &args);
    g_thread_join(t);
    g_assert_true(args.ok);
    seen.thread = NULL;
    while (g_main_context_iteration(NULL, FALSE)) {
    }
    g_assert_cmpuint(seen.count, ==, 8);
    assert_seen(&seen, 7, VH_RUN_STATE_RUNNING, VH_RUN_STATE_PAUSED);
    g_assert_true(seen.thread == g_thread_self());
}

static void test_too_small(void)
{
    g_autoptr(GError) err = NULL;
    VhRamBlock *ram =
        vh_ram_block_new("tiny", 2 * VH_RAM_PAGE_SIZE, false, &err);

    g_assert_no_error(err);
    g_autoptr(VhMachine) m = vh_machine_new("vm1", ram, &err);
    g_assert_null(m);
    g_assert_error(err, VH_ERROR, VH_ERROR_INVALID_ARGUMENT);
    g_assert_cmpstr(err->message, ==,
                    "machine 'vm1': guest RAM 'tiny' is too small for the "
                    "test guest: 2 pages, at least 3 needed");
}

/* One id namespace for every device: a clash is refused until released. */
static void test_device_ids(void)
{
    g_autoptr(VhMachine) m = machine_new(1 << 20, NULL);
    g_autoptr(GError) err = NULL;

    g_assert_true(vh_machine_claim_device_id(m, "serial0", &err));
    g_assert_true(vh_machine_claim_device_id(m, "probe0", &err));
    g_assert_no_error(err);
    g_assert_false(vh_machine_claim_device_id(m, "serial0", &err));
    g_assert_error(err, VH_ERROR, VH_ERROR_INVALID_ARGUMENT);
    g_assert_cmpstr(err->message, ==,
                    "a device with id 'serial0' already exists");
    g_clear_error(&err);
    vh_machine_release_device_id(m, "serial0");
    vh_machine_release_device_id(m, "never-claimed");
    g_assert_true(vh_machine_claim_device_id(m, "serial0", &err));
    g_assert_false(vh_machine_claim_device_id(m, "probe0", NULL));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/machine/machine/names", test_names);
    g_test_add_func("/machine/machine/basics", test_basics);
    g_test_add_func("/machine/machine/guest-writes", test_guest_writes);
    g_test_add_func("/machine/machine/stop-cont", test_stop_cont);
    g_test_add_func("/machine/machine/transitions", test_transitions);
    g_test_add_func("/machine/machine/inmigrate-autostart",
                    test_inmigrate_autostart);
    g_test_add_func("/machine/machine/guest-follows-state",
                    test_guest_follows_state);
    g_test_add_func("/machine/machine/signal-thread", test_signal_thread);
    g_test_add_func("/machine/machine/too-small", test_too_small);
    g_test_add_func("/machine/machine/device-ids", test_device_ids);
    return g_test_run();
}
