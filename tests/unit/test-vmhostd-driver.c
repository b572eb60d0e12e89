/*
 * vmhostd's domain driver against the real vmhost ($VMHOST_BUILDDIR/src/
 * vmhost/vmhost): define/start/suspend/resume/destroy/undefine with the
 * events counted, transient domains, a crashed machine, a driver restarted
 * while machines run, the store, racing calls, the console and the error
 * paths. Each test runs the driver's context in a thread, as vmhostd runs
 * calls in workers; every vmhost it started is killed and its temp dir
 * removed at the end, on assertion failures too (SIGABRT/SIGTRAP).
 */
#include <errno.h>
#include <ftw.h>
#include <glib/gstdio.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "driver.h"
#include "vmhost/io/channel-file.h"

static char *vmhost_bin;

typedef struct {
    VhDomainEventType event;
    int detail;
    char *name;
} Event;

typedef struct {
    char *dir;
    char *config_dir;
    char *run_dir;
    char *binary;
    GMainContext *ctx;
    GMainLoop *loop;
    GThread *thread;
    VhDriver *drv;
    GMutex lock;
    GCond cond;
    GArray *events; /* Event */
} Fixture;

/* The one fixture alive, for the SIGABRT cleanup. */
static Fixture *current;

#define XML_FMT                                                                \
    "<domain type='vmhost'>\n"                                                 \
    "  <name>%s</name>\n"                                                      \
    "%s"                                                                       \
    "  <memory unit='MiB'>16</memory>\n"                                       \
    "  <vcpu>1</vcpu>\n"                                                       \
    "  <os><type>hvm</type></os>\n"                                            \
    "  <devices>\n"                                                            \
    "    <serial type='pty'><target port='0'/></serial>\n"                     \
    "    <console type='pty'><target type='serial' port='0'/></console>\n"     \
    "  </devices>\n"                                                           \
    "</domain>\n"

static char *dom_xml(const char *name, const char *uuid)
{
    g_autofree char *u =
        uuid ? g_strdup_printf("  <uuid>%s</uuid>\n", uuid) : g_strdup("");

    return g_strdup_printf(XML_FMT, name, u);
}

/* ---- cleanup that also runs when an assertion aborts ---- */

/* The pids of the machines in @run_dir (their -pidfile files). */
static GArray *run_dir_pids(const char *run_dir)
{
    GArray *pids = g_array_new(false, false, sizeof(pid_t));
    g_autoptr(GDir) d = g_dir_open(run_dir, 0, NULL);
    const char *e;

    while (d && (e = g_dir_read_name(d))) {
        g_autofree char *path = NULL;
        g_autofree char *text = NULL;
        pid_t pid;

        if (!g_str_has_suffix(e, ".pid")) {
            continue;
        }
        path = g_build_filename(run_dir, e, NULL);
        if (g_file_get_contents(path, &text, NULL, NULL) &&
            (pid = atoi(text)) > 0) {
            g_array_append_val(pids, pid);
        }
    }
    return pids;
}

static void kill_pids(GArray *pids)
{
    for (guint i = 0; i < pids->len; i++) {
        kill(g_array_index(pids, pid_t, i), SIGKILL);
    }
    g_array_unref(pids);
}

static int rm_one(const char *path, const struct stat *st, int flag,
                  struct FTW *ftw)
{
    return remove(path) < 0 ? 0 : 0;
}

static void rm_rf(const char *dir)
{
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void on_abort(int sig)
{
    /* The dir goes first: the driver's thread may die of the warnings
     * the kills cause before this one is done. */
    if (current) {
        GArray *pids = run_dir_pids(current->run_dir);

        rm_rf(current->dir);
        kill_pids(pids);
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

/* ---- the fixture ---- */

static void on_event(const VhDomainRef *dom, VhDomainEventType event,
                     int detail, gpointer opaque)
{
    Fixture *f = opaque;
    Event e = {.event = event, .detail = detail, .name = g_strdup(dom->name)};

    g_mutex_lock(&f->lock);
    g_array_append_val(f->events, e);
    g_cond_broadcast(&f->cond);
    g_mutex_unlock(&f->lock);
}

static void event_clear(gpointer p)
{
    g_free(((Event *)p)->name);
}

static guint count_events(Fixture *f, const char *name, VhDomainEventType ev,
                          int detail)
{
    guint n = 0;

    g_mutex_lock(&f->lock);
    for (guint i = 0; i < f->events->len; i++) {
        Event *e = &g_array_index(f->events, Event, i);

        n +=
            g_str_equal(e->name, name) && e->event == ev && e->detail == detail;
    }
    g_mutex_unlock(&f->lock);
    return n;
}

/* Wait until @name has had @n such events (10 s at most). */
static bool wait_events(Fixture *f, const char *name, VhDomainEventType ev,
                        int detail, guint n)
{
    gint64 deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;

    while (count_events(f, name, ev, detail) < n) {
        g_mutex_lock(&f->lock);
        g_cond_wait_until(&f->cond, &f->lock, deadline);
        g_mutex_unlock(&f->lock);
        if (g_get_monotonic_time() >= deadline) {
            return count_events(f, name, ev, detail) >= n;
        }
    }
    return true;
}

static gpointer loop_thread(gpointer opaque)
{
    Fixture *f = opaque;

    g_main_context_push_thread_default(f->ctx);
    g_main_loop_run(f->loop);
    g_main_context_pop_thread_default(f->ctx);
    return NULL;
}

static void driver_up(Fixture *f)
{
    VhDriverConfig cfg = {.config_dir = f->config_dir,
                          .run_dir = f->run_dir,
                          .vmhost_binary = f->binary,
                          .context = f->ctx};
    g_autoptr(GError) err = NULL;

    f->drv = vh_driver_new(&cfg, &err);
    g_assert_no_error(err);
    vh_driver_add_event_func(f->drv, on_event, f);
    f->loop = g_main_loop_new(f->ctx, false);
    f->thread = g_thread_new("driver-loop", loop_thread, f);
}

static gboolean quit_loop(gpointer opaque)
{
    g_main_loop_quit(opaque);
    return G_SOURCE_REMOVE;
}

/* Like a daemon killed: the driver goes, the machines stay. */
static void driver_down(Fixture *f)
{
    g_main_context_invoke(f->ctx, quit_loop, f->loop);
    g_thread_join(f->thread);
    g_clear_pointer(&f->drv, vh_driver_free);
    g_clear_pointer(&f->loop, g_main_loop_unref);
    f->thread = NULL;
}

static void fixture_setup(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;

    if (!vmhost_bin) {
        return;
    }
    f->dir = g_dir_make_tmp("vmhostd-drv-XXXXXX", &err);
    g_assert_no_error(err);
    f->config_dir = g_build_filename(f->dir, "config", NULL);
    f->run_dir = g_build_filename(f->dir, "run", NULL);
    f->binary = g_strdup(vmhost_bin);
    f->ctx = g_main_context_new();
    g_mutex_init(&f->lock);
    g_cond_init(&f->cond);
    f->events = g_array_new(false, false, sizeof(Event));
    g_array_set_clear_func(f->events, event_clear);
    current = f;
    driver_up(f);
}

static void fixture_teardown(Fixture *f, gconstpointer data)
{
    if (!f->dir) {
        return;
    }
    if (f->drv) {
        g_autoptr(GPtrArray) active = vh_driver_list_domains(f->drv, 1);

        for (guint i = 0; i < active->len; i++) {
            VhDomainRef *r = active->pdata[i];

            (void)vh_driver_destroy(f->drv, r->uuid, 0, NULL);
        }
        driver_down(f);
    }
    kill_pids(run_dir_pids(f->run_dir));
    rm_rf(f->dir);
    current = NULL;
    g_array_unref(f->events);
    g_main_context_unref(f->ctx);
    g_mutex_clear(&f->lock);
    g_cond_clear(&f->cond);
    g_free(f->dir);
    g_free(f->config_dir);
    g_free(f->run_dir);
    g_free(f->binary);
}

static bool need_vmhost(void)
{
    if (!vmhost_bin) {
        g_test_skip("vmhost not found: set VMHOST_BUILDDIR to the build dir");
        return false;
    }
    return true;
}

static VhDomainRef *define(Fixture *f, const char *name)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *xml = dom_xml(name, NULL);
    VhDomainRef *r = vh_driver_define_xml(f->drv, xml, 0, &err);

    g_assert_no_error(err);
    g_assert_nonnull(r);
    return r;
}

static void start(Fixture *f, VhDomainRef *r, guint flags)
{
    g_autoptr(GError) err = NULL;

    g_assert_true(vh_driver_start(f->drv, r->uuid, flags, &err));
    g_assert_no_error(err);
}

static void assert_state(Fixture *f, VhDomainRef *r, int want_state,
                         int want_reason)
{
    g_autoptr(GError) err = NULL;
    int state = -1;
    int reason = -1;

    g_assert_true(vh_driver_get_state(f->drv, r->uuid, &state, &reason, &err));
    g_assert_no_error(err);
    g_assert_cmpint(state, ==, want_state);
    g_assert_cmpint(reason, ==, want_reason);
}

static char *run_file(Fixture *f, const char *name, const char *ext)
{
    g_autofree char *base = g_strconcat(name, ".", ext, NULL);

    return g_build_filename(f->run_dir, base, NULL);
}

static pid_t domain_pid(Fixture *f, const char *name)
{
    g_autofree char *path = run_file(f, name, "pid");
    g_autofree char *text = NULL;

    g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
    return atoi(text);
}

/* ---- tests ---- */

static void test_lifecycle(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(VhDomainRef) r = NULL;
    g_autoptr(VhDomainRef) again = NULL;
    g_autoptr(VhDomainRef) byid = NULL;
    g_autoptr(GPtrArray) all = NULL;
    g_autofree char *xml = NULL;
    g_autofree char *status = NULL;
    VhDomainInfo info;
    bool active = true;

    if (!need_vmhost()) {
        return;
    }
    r = define(f, "vm1");
    {
        /* as libvirt: an update names the uuid, else it is a new domain
         * whose name is taken */
        g_autofree char *u = vh_domain_uuid_format(r->uuid);
        g_autofree char *upd = dom_xml("vm1", u);
        g_autofree char *anon = dom_xml("vm1", NULL);

        again = vh_driver_define_xml(f->drv, anon, 0, &err);
        g_assert_error(err, VH_VIR_ERROR, VH_VIR_ERR_DOM_EXIST);
        g_clear_error(&err);
        again = vh_driver_define_xml(f->drv, upd, 0, &err);
        g_assert_no_error(err);
    }
    g_assert_cmpmem(r->uuid, 16, again->uuid, 16);
    g_assert_cmpuint(count_events(f, "vm1", VH_DOMAIN_EVENT_DEFINED, 0), ==, 1);
    g_assert_cmpuint(count_events(f, "vm1", VH_DOMAIN_EVENT_DEFINED, 1), ==, 1);
    g_assert_cmpint(r->id, ==, -1);
    all = vh_driver_list_domains(f->drv, 0);
    g_assert_cmpuint(all->len, ==, 1);
    g_assert_cmpuint(vh_driver_num_domains(f->drv, true), ==, 0);
    g_assert_cmpuint(vh_driver_num_domains(f->drv, false), ==, 1);
    assert_state(f, r, VH_DOMAIN_SHUTOFF, 0);

    start(f, r, 0);
    g_assert_cmpuint(count_events(f, "vm1", VH_DOMAIN_EVENT_STARTED, 0), ==, 1);
    assert_state(f, r, VH_DOMAIN_RUNNING, 1);
    byid = vh_driver_lookup_by_id(f->drv, 1, &err);
    g_assert_no_error(err);
    g_assert_cmpstr(byid->name, ==, "vm1");
    g_assert_true(vh_driver_is_active(f->drv, r->uuid, &active, &err));
    g_assert_true(active);
    g_assert_true(vh_driver_get_info(f->drv, r->uuid, &info, &err));
    g_assert_cmpint(info.state, ==, VH_DOMAIN_RUNNING);
    g_assert_cmpuint(info.max_mem_kib, ==, 16384);
    g_assert_cmpuint(info.nr_virt_cpu, ==, 1);
    xml = vh_driver_get_xml(f->drv, r->uuid, 0, &err);
    g_assert_no_error(err);
    g_assert_nonnull(strstr(xml, "/dev/pts/"));
    status = run_file(f, "vm1", "xml");
    g_assert_true(g_file_test(status, G_FILE_TEST_EXISTS));
    all = (g_ptr_array_unref(all), vh_driver_list_domains(f->drv, 16));
    g_assert_cmpuint(all->len, ==, 1);

    g_assert_true(vh_driver_suspend(f->drv, r->uuid, &err));
    g_assert_no_error(err);
    assert_state(f, r, VH_DOMAIN_PAUSED, 1);
    g_assert_true(vh_driver_suspend(f->drv, r->uuid, &err)); /* no-op */
    all = (g_ptr_array_unref(all), vh_driver_list_domains(f->drv, 32));
    g_assert_cmpuint(all->len, ==, 1);
    g_assert_true(vh_driver_resume(f->drv, r->uuid, &err));
    g_assert_no_error(err);
    assert_state(f, r, VH_DOMAIN_RUNNING, 5);

    g_assert_true(vh_driver_destroy(f->drv, r->uuid, 0, &err));
    g_assert_no_error(err);
    assert_state(f, r, VH_DOMAIN_SHUTOFF, 2);
    g_assert_false(g_file_test(status, G_FILE_TEST_EXISTS));
    g_clear_pointer(&byid, vh_domain_ref_free);
    byid = vh_driver_lookup_by_id(f->drv, 1, &err);
    g_assert_error(err, VH_VIR_ERROR, VH_VIR_ERR_NO_DOMAIN);
    g_clear_error(&err);

    start(f, r, 1); /* paused: id 2 */
    assert_state(f, r, VH_DOMAIN_PAUSED, 1);
    byid = vh_driver_lookup_by_id(f->drv, 2, &err);
    g_assert_no_error(err);
    g_assert_true(vh_driver_resume(f->drv, r->uuid, &err));
    assert_state(f, r, VH_DOMAIN_RUNNING, 5);
    g_assert_true(vh_driver_destroy(f->drv, r->uuid, 0, &err));
    g_assert_true(vh_driver_undefine(f->drv, r->uuid, 0, &err));
    g_assert_no_error(err);
    g_clear_pointer(&again, vh_domain_ref_free);
    again = vh_driver_lookup_by_name(f->drv, "vm1", &err);
    g_assert_error(err, VH_VIR_ERROR, VH_VIR_ERR_NO_DOMAIN);
    g_assert_null(again);

    /* Every event exactly as often as it happened. */
    g_assert_cmpuint(count_events(f, "vm1", VH_DOMAIN_EVENT_STARTED, 0), ==, 2);
    g_assert_cmpuint(count_events(f, "vm1", VH_DOMAIN_EVENT_SUSPENDED, 0), ==,
                     2);
    g_assert_cmpuint(count_events(f, "vm1", VH_DOMAIN_EVENT_RESUMED, 0), ==, 2);
    g_assert_cmpuint(count_events(f, "vm1", VH_DOMAIN_EVENT_STOPPED, 1), ==, 2);
    g_assert_cmpuint(count_events(f, "vm1", VH_DOMAIN_EVENT_UNDEFINED, 0), ==,
                     1);
    g_assert_cmpuint(f->events->len, ==, 11);
}

static void test_transient(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *xml = dom_xml("tr1", NULL);
    g_autoptr(VhDomainRef) r = NULL;
    g_autoptr(VhDomainRef) dup = NULL;
    g_autoptr(VhDomainRef) p = NULL;
    g_autoptr(VhDomainRef) gone = NULL;
    bool persistent = true;

    if (!need_vmhost()) {
        return;
    }
    r = vh_driver_create_xml(f->drv, xml, 0, &err);
    g_assert_no_error(err);
    g_assert_cmpint(r->id, ==, 1);
    g_assert_true(vh_driver_is_persistent(f->drv, r->uuid, &persistent, &err));
    g_assert_false(persistent);
    dup = vh_driver_create_xml(f->drv, xml, 0, &err);
    g_assert_error(err, VH_VIR_ERROR, VH_VIR_ERR_DOM_EXIST);
    g_clear_error(&err);
    g_assert_false(vh_driver_undefine(f->drv, r->uuid, 0, &err));
    g_assert_error(err, VH_VIR_ERROR, VH_VIR_ERR_OPERATION_INVALID);
    g_clear_error(&err);
    g_assert_false(vh_driver_set_autostart(f->drv, r->uuid, true, &err));
    g_assert_error(err, VH_VIR_ERROR, VH_VIR_ERR_OPERATION_INVALID);
    g_clear_error(&err);
    g_assert_true(vh_driver_destroy(f->drv, r->uuid, 0, &err));
    gone = vh_driver_lookup_by_name(f->drv, "tr1", &err);
    g_assert_error(err, VH_VIR_ERROR, VH_VIR_ERR_NO_DOMAIN);
    g_clear_error(&err);
    g_assert_cmpuint(count_events(f, "tr1", VH_DOMAIN_EVENT_STOPPED, 1), ==, 1);

    /* A running persistent domain that is undefined runs on as transient,
     * and disappears when it stops. */
    p = define(f, "pt1");
    start(f, p, 0);
    g_assert_true(vh_driver_undefine(f->drv, p->uuid, 0, &err));
    g_assert_no_error(err);
    g_assert_true(vh_driver_is_persistent(f->drv, p->uuid, &persistent, &err));
    g_assert_false(persistent);
    assert_state(f, p, VH_DOMAIN_RUNNING, 1);
    g_assert_true(vh_driver_destroy(f->drv, p->uuid, 0, &err));
    g_clear_pointer(&gone, vh_domain_ref_free);
    gone = vh_driver_lookup_by_name(f->drv, "pt1", &err);
    g_assert_error(err, VH_VIR_ERROR, VH_VIR_ERR_NO_DOMAIN);
    g_assert_cmpuint(count_events(f, "pt1", VH_DOMAIN_EVENT_UNDEFINED, 0), ==,
                     1);
}

static void test_crash(Fixture *f, gconstpointer data)
{
    g_autoptr(VhDomainRef) r = NULL;
    g_autofree char *status = NULL;

    if (!need_vmhost()) {
        return;
    }
    r = define(f, "cr1");
    start(f, r, 0);
    g_test_expect_message("vmhostd", G_LOG_LEVEL_WARNING,
                          "*cr1*ended without a shutdown*crashed*");
    g_assert_cmpint(kill(domain_pid(f, "cr1"), SIGKILL), ==, 0);
    g_assert_true(wait_events(f, "cr1", VH_DOMAIN_EVENT_STOPPED, 2, 1));
    g_test_assert_expected_messages();
    assert_state(f, r, VH_DOMAIN_SHUTOFF, 3);
    status = run_file(f, "cr1", "xml");
    g_assert_false(g_file_test(status, G_FILE_TEST_EXISTS));
    g_assert_cmpuint(count_events(f, "cr1", VH_DOMAIN_EVENT_STOPPED, 1), ==, 0);
}

/* Read from @ioc until @want shows up (5 s at most). */
static bool read_until(VhChannel *ioc, const char *want)
{
    g_autoptr(GString) got = g_string_new(NULL);
    int fd = vh_channel_file_get_fd(VH_CHANNEL_FILE(ioc));
    gint64 deadline = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;

    while (!strstr(got->str, want) && g_get_monotonic_time() < deadline) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        char buf[256];
        gssize n;

        if (poll(&p, 1, 100) <= 0) {
            continue;
        }
        n = vh_channel_read(ioc, buf, sizeof(buf), NULL);
        if (n <= 0) {
            return false;
        }
        g_string_append_len(got, buf, n);
    }
    return strstr(got->str, want) != NULL;
}

/* Alive and not a zombie that nobody reaps (machines are orphans). */
static bool pid_running(pid_t pid)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/cmdline", (int)pid);
    g_autofree char *cmd = NULL;
    gsize len = 0;

    return kill(pid, 0) == 0 && g_file_get_contents(path, &cmd, &len, NULL) &&
           len > 0;
}

/* A vmhost with a domain's run files but no status, as a daemon killed
 * in the middle of a start leaves it. */
static pid_t spawn_orphan(Fixture *f, const char *name)
{
    g_autofree char *qmp = run_file(f, name, "qmp");
    g_autofree char *qmp_opt = g_strdup_printf("unix:%s,server,nowait", qmp);
    g_autofree char *pidfile = run_file(f, name, "pid");
    const char *argv[] = {vmhost_bin,   "-m",    "16",       "-nodefaults",
                          "-qmp",       qmp_opt, "-pidfile", pidfile,
                          "-daemonize", NULL};
    g_autoptr(GError) err = NULL;
    int status = -1;

    g_assert_true(g_spawn_sync(NULL, (char **)argv, NULL,
                               G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL,
                               NULL, &status, &err));
    g_assert_no_error(err);
    g_assert_cmpint(status, ==, 0);
    return domain_pid(f, name);
}

static void test_restart(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(VhDomainRef) a = NULL;
    g_autoptr(VhDomainRef) b = NULL;
    g_autoptr(VhDomainRef) c = NULL;
    g_autoptr(VhDomainRef) d = NULL;
    g_autoptr(VhDomainRef) t = NULL;
    g_autoptr(VhDomainRef) found = NULL;
    g_autofree char *xml = dom_xml("rt-t", NULL);
    g_autofree char *live = NULL;
    bool persistent = true;
    g_autofree char *path = NULL;
    g_autoptr(VhChannel) con = NULL;
    pid_t dead;
    pid_t orphan;

    if (!need_vmhost()) {
        return;
    }
    a = define(f, "rt-a");
    b = define(f, "rt-b");
    d = define(f, "rt-d");
    start(f, a, 0);
    start(f, b, 0);
    start(f, d, 0);
    g_assert_true(vh_driver_suspend(f->drv, b->uuid, &err));
    t = vh_driver_create_xml(f->drv, xml, 0, &err);
    g_assert_no_error(err);

    driver_down(f);
    /* While the daemon is away, one machine dies. */
    dead = domain_pid(f, "rt-d");
    g_assert_cmpint(kill(dead, SIGKILL), ==, 0);
    while (pid_running(dead)) {
        g_usleep(10000);
    }
    /* And one was started by a daemon killed before it wrote the status. */
    orphan = spawn_orphan(f, "rt-o");
    g_test_expect_message("vmhostd", G_LOG_LEVEL_WARNING,
                          "*rt-d*is gone*crashed*");
    g_test_expect_message("vmhostd", G_LOG_LEVEL_WARNING,
                          "*rt-o*stopping vmhost pid*never finished*");
    driver_up(f);
    g_test_assert_expected_messages();
    g_assert_false(pid_running(orphan));
    g_free(path);
    path = run_file(f, "rt-o", "pid");
    g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));

    assert_state(f, a, VH_DOMAIN_RUNNING, 1);
    assert_state(f, b, VH_DOMAIN_PAUSED, 1);
    assert_state(f, d, VH_DOMAIN_SHUTOFF, 3);
    found = vh_driver_lookup_by_name(f->drv, "rt-t", &err);
    g_assert_no_error(err);
    g_assert_cmpint(found->id, ==, t->id);
    g_assert_true(vh_driver_is_persistent(f->drv, t->uuid, &persistent, &err));
    g_assert_false(persistent);
    live = vh_driver_get_xml(f->drv, a->uuid, 0, &err);
    g_assert_nonnull(strstr(live, "/dev/pts/"));

    /* The console is found again from the status file's live XML. */
    con = vh_driver_open_console(f->drv, b->uuid, NULL, 0, &err);
    g_assert_no_error(err);
    g_assert_true(vh_channel_write_all(con, "echo back\n", 10, &err));
    g_assert_true(read_until(con, "back"));

    /* QMP is back: events flow again. */
    g_assert_true(vh_driver_resume(f->drv, b->uuid, &err));
    g_assert_no_error(err);
    assert_state(f, b, VH_DOMAIN_RUNNING, 5);
    g_assert_true(vh_driver_suspend(f->drv, a->uuid, &err));
    assert_state(f, a, VH_DOMAIN_PAUSED, 1);
    /* A new start gets an id above the adopted ones. */
    c = define(f, "rt-c");
    start(f, c, 0);
    g_clear_pointer(&found, vh_domain_ref_free);
    found = vh_driver_lookup_by_name(f->drv, "rt-c", &err);
    g_assert_cmpint(found->id, ==, 5); /* a, b, d, t had 1-4 */
    /* A machine adopted after a restart is still watched for its exit. */
    g_test_expect_message("vmhostd", G_LOG_LEVEL_WARNING, "*rt-a*crashed*");
    kill(domain_pid(f, "rt-a"), SIGKILL);
    g_assert_true(wait_events(f, "rt-a", VH_DOMAIN_EVENT_STOPPED, 2, 1));
    g_test_assert_expected_messages();
}

/* The child of /vmhostd/driver/daemon-killed: a daemon that starts a
 * domain, says so, and waits for its SIGKILL. */
static int killed_daemon_child(const char *dir)
{
    g_autofree char *config_dir = g_build_filename(dir, "config", NULL);
    g_autofree char *run_dir = g_build_filename(dir, "run", NULL);
    VhDriverConfig cfg = {.config_dir = config_dir,
                          .run_dir = run_dir,
                          .vmhost_binary = vmhost_bin};
    g_autoptr(GError) err = NULL;
    g_autofree char *xml = dom_xml("k1", NULL);
    VhDriver *drv = vh_driver_new(&cfg, &err);
    VhDomainRef *r = drv ? vh_driver_define_xml(drv, xml, 0, &err) : NULL;

    if (!r || !vh_driver_start(drv, r->uuid, 0, &err)) {
        g_printerr("child: %s\n", err->message);
        return 1;
    }
    g_print("ready\n");
    for (;;) {
        pause();
    }
}

/* A daemon killed with SIGKILL leaves its machines running, and the next
 * one takes them over with their state and QMP. */
static void test_daemon_killed(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(VhDomainRef) r = NULL;
    g_autofree char *self = g_file_read_link("/proc/self/exe", NULL);
    const char *argv[] = {self, NULL};
    g_auto(GStrv) env = g_get_environ();
    GPid child;
    int out = -1;
    char buf[16] = "";
    int status;

    if (!need_vmhost()) {
        return;
    }
    driver_down(f);
    env = g_environ_setenv(env, "VMHOSTD_DRIVER_CHILD", f->dir, true);
    g_assert_true(g_spawn_async_with_pipes(
        NULL, (char **)argv, env, G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL, &child,
        NULL, &out, NULL, &err));
    g_assert_no_error(err);
    g_assert_cmpint(read(out, buf, 6), ==, 6);
    close(out);
    g_assert_cmpstr(buf, ==, "ready\n");
    kill(child, SIGKILL);
    g_assert_cmpint(waitpid(child, &status, 0), ==, child);
    g_assert_true(WIFSIGNALED(status));

    driver_up(f);
    r = vh_driver_lookup_by_name(f->drv, "k1", &err);
    g_assert_no_error(err);
    g_assert_cmpint(r->id, ==, 1);
    assert_state(f, r, VH_DOMAIN_RUNNING, 1);
    g_assert_true(vh_driver_suspend(f->drv, r->uuid, &err));
    g_assert_no_error(err);
    assert_state(f, r, VH_DOMAIN_PAUSED, 1);
    g_assert_true(vh_driver_destroy(f->drv, r->uuid, 0, &err));
}

static guint count_hidden(const char *dir)
{
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    const char *e;
    guint n = 0;

    while (d && (e = g_dir_read_name(d))) {
        n += e[0] == '.';
    }
    return n;
}

static void test_store(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(VhDomainRef) r = NULL;
    g_autoptr(VhDomainRef) s = NULL;
    g_autofree char *cfg = g_build_filename(f->config_dir, "st1.xml", NULL);
    g_autofree char *bad = g_build_filename(f->config_dir, "bad.xml", NULL);
    g_autofree char *link =
        g_build_filename(f->config_dir, "autostart", "st1.xml", NULL);
    g_autofree char *text = NULL;
    g_autoptr(GPtrArray) all = NULL;
    bool on = false;

    if (!need_vmhost()) {
        return;
    }
    r = define(f, "st1");
    s = define(f, "st2");
    g_assert_true(g_file_get_contents(cfg, &text, NULL, NULL));
    g_assert_nonnull(strstr(text, "<name>st1</name>"));
    g_assert_cmpuint(count_hidden(f->config_dir), ==, 0);
    g_assert_true(vh_driver_set_autostart(f->drv, r->uuid, true, &err));
    g_assert_no_error(err);
    g_assert_true(g_file_test(link, G_FILE_TEST_IS_SYMLINK));
    g_assert_true(g_file_set_contents(bad, "<domain><name>bad", -1, NULL));

    driver_down(f);
    g_test_expect_message("vmhostd", G_LOG_LEVEL_WARNING, "*bad.xml*");
    driver_up(f);
    g_test_assert_expected_messages();
    all = vh_driver_list_domains(f->drv, 0);
    g_assert_cmpuint(all->len, ==, 2);
    g_assert_true(vh_driver_get_autostart(f->drv, r->uuid, &on, &err));
    g_assert_true(on);
    g_ptr_array_unref(all);
    all = vh_driver_list_domains(f->drv, 1024 /* AUTOSTART */);
    g_assert_cmpuint(all->len, ==, 1);

    vh_driver_autostart(f->drv);
    assert_state(f, r, VH_DOMAIN_RUNNING, 1);
    assert_state(f, s, VH_DOMAIN_SHUTOFF, 0);
    g_assert_cmpuint(count_hidden(f->run_dir), ==, 0);
    g_assert_true(vh_driver_set_autostart(f->drv, r->uuid, false, &err));
    g_assert_false(g_file_test(link, G_FILE_TEST_EXISTS));
    g_assert_true(vh_driver_undefine(f->drv, s->uuid, 0, &err));
    g_free(cfg);
    cfg = g_build_filename(f->config_dir, "st2.xml", NULL);
    g_assert_false(g_file_test(cfg, G_FILE_TEST_EXISTS));
}

typedef struct {
    Fixture *f;
    int role;
    guint unexpected;
} Racer;

static gpointer racer(gpointer opaque)
{
    Racer *r = opaque;
    g_autofree char *xml =
        dom_xml("race", "c7a5fdbd-edaf-9455-926a-d65c16db1809");
    static const guint8 uuid[16] = {0xc7, 0xa5, 0xfd, 0xbd, 0xed, 0xaf,
                                    0x94, 0x55, 0x92, 0x6a, 0xd6, 0x5c,
                                    0x16, 0xdb, 0x18, 0x09};

    for (guint i = 0; i < (r->role == 2 ? 4 : 40); i++) {
        g_autoptr(GError) err = NULL;
        g_autoptr(VhDomainRef) ref = NULL;

        switch (r->role) {
        case 0:
            ref = vh_driver_define_xml(r->f->drv, xml, 0, &err);
            break;
        case 1:
            (void)vh_driver_undefine(r->f->drv, uuid, 0, &err);
            break;
        default:
            if (vh_driver_start(r->f->drv, uuid, 0, &err)) {
                (void)vh_driver_destroy(r->f->drv, uuid, 0, &err);
            }
            break;
        }
        if (err && !g_error_matches(err, VH_VIR_ERROR, VH_VIR_ERR_NO_DOMAIN) &&
            !g_error_matches(err, VH_VIR_ERROR, VH_VIR_ERR_OPERATION_INVALID)) {
            g_printerr("racer %d: %s\n", r->role, err->message);
            r->unexpected++;
        }
    }
    return NULL;
}

static void test_race(Fixture *f, gconstpointer data)
{
    Racer rs[5] = {{f, 0}, {f, 0}, {f, 1}, {f, 1}, {f, 2}};
    GThread *th[5];
    g_autoptr(GError) err = NULL;
    g_autoptr(VhDomainRef) r = NULL;
    g_autofree char *cfg = g_build_filename(f->config_dir, "race.xml", NULL);
    bool persistent = false;

    if (!need_vmhost()) {
        return;
    }
    for (guint i = 0; i < 5; i++) {
        th[i] = g_thread_new("racer", racer, &rs[i]);
    }
    for (guint i = 0; i < 5; i++) {
        g_thread_join(th[i]);
        g_assert_cmpuint(rs[i].unexpected, ==, 0);
    }
    g_assert_cmpuint(count_hidden(f->config_dir), ==, 0);
    /* The table and the store agree, and the store reloads. */
    r = vh_driver_lookup_by_name(f->drv, "race", &err);
    if (r) {
        g_assert_true(
            vh_driver_is_persistent(f->drv, r->uuid, &persistent, &err));
    }
    g_clear_error(&err);
    g_assert_cmpint(g_file_test(cfg, G_FILE_TEST_EXISTS), ==, persistent);
    driver_down(f);
    driver_up(f);
    g_clear_pointer(&r, vh_domain_ref_free);
    r = vh_driver_lookup_by_name(f->drv, "race", &err);
    g_assert_cmpint(r != NULL, ==, persistent);
}

static void test_console(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(VhDomainRef) r = NULL;
    g_autoptr(VhChannel) c1 = NULL;
    g_autoptr(VhChannel) c2 = NULL;
    g_autoptr(VhChannel) c3 = NULL;
    char buf[16];

    if (!need_vmhost()) {
        return;
    }
    r = define(f, "con1");
    start(f, r, 0);
    c1 = vh_driver_open_console(f->drv, r->uuid, NULL, 0, &err);
    g_assert_no_error(err);
    g_assert_true(vh_channel_write_all(c1, "echo hi\n", 8, &err));
    g_assert_true(read_until(c1, "hi"));

    c2 = vh_driver_open_console(f->drv, r->uuid, NULL, 0, &err);
    g_assert_error(err, VH_VIR_ERROR, VH_VIR_ERR_OPERATION_FAILED);
    g_assert_null(c2);
    g_clear_error(&err);

    c2 = vh_driver_open_console(f->drv, r->uuid, "serial0", 1, &err);
    g_assert_no_error(err);
    /* The old session ends: its reader sees EOF. */
    g_assert_cmpint(vh_channel_read(c1, buf, sizeof(buf), NULL), ==, 0);
    g_assert_true(vh_channel_write_all(c2, "echo again\n", 11, &err));
    g_assert_true(read_until(c2, "again"));

    /* Closed, the console is free for the next user. */
    g_assert_true(vh_channel_close(c2, &err));
    c3 = vh_driver_open_console(f->drv, r->uuid, "console0", 0, &err);
    g_assert_no_error(err);
    g_assert_true(vh_channel_write_all(c3, "echo three\n", 11, &err));
    g_assert_true(read_until(c3, "three"));
}

static void test_shutdown(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(VhDomainRef) r = NULL;

    if (!need_vmhost()) {
        return;
    }
    r = define(f, "sd1");
    start(f, r, 0);
    if (!vh_driver_shutdown(f->drv, r->uuid, 0, &err) &&
        g_error_matches(err, VH_VIR_ERROR, VH_VIR_ERR_OPERATION_UNSUPPORTED)) {
        g_test_skip("vmhost has no system_powerdown yet");
        return;
    }
    g_assert_no_error(err);
    g_assert_true(wait_events(f, "sd1", VH_DOMAIN_EVENT_STOPPED, 0, 1));
    g_assert_cmpuint(count_events(f, "sd1", VH_DOMAIN_EVENT_SHUTDOWN, 0), ==,
                     1);
    assert_state(f, r, VH_DOMAIN_SHUTOFF, 1);
}

typedef struct {
    Fixture *f;
    VhDomainRef *r;
} SlowStart;

static gpointer slow_start(gpointer opaque)
{
    SlowStart *s = opaque;

    start(s->f, s->r, 0);
    return NULL;
}

/* A start that takes 2 s holds only its own domain. */
static void test_slow_start(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(VhDomainRef) slow = NULL;
    g_autoptr(VhDomainRef) other = NULL;
    g_autofree char *script = g_build_filename(f->dir, "slow-vmhost", NULL);
    g_autofree char *body = NULL;
    SlowStart s;
    GThread *th;
    gint64 t0;

    if (!need_vmhost()) {
        return;
    }
    body =
        g_strdup_printf("#!/bin/sh\nsleep 2\nexec '%s' \"$@\"\n", vmhost_bin);
    g_assert_true(g_file_set_contents(script, body, -1, NULL));
    g_assert_cmpint(g_chmod(script, 0755), ==, 0);
    driver_down(f);
    g_free(f->binary);
    f->binary = g_strdup(script);
    driver_up(f);

    slow = define(f, "slow");
    other = define(f, "other");
    s.f = f;
    s.r = slow;
    th = g_thread_new("slow-start", slow_start, &s);
    g_usleep(300000);
    t0 = g_get_monotonic_time();
    for (guint i = 0; i < 20; i++) {
        g_autoptr(GPtrArray) all = vh_driver_list_domains(f->drv, 0);
        g_autoptr(VhDomainRef) l =
            vh_driver_lookup_by_name(f->drv, "slow", &err);
        VhDomainInfo info;

        g_assert_cmpuint(all->len, ==, 2);
        g_assert_true(vh_driver_get_info(f->drv, slow->uuid, &info, &err));
    }
    g_assert_cmpint(g_get_monotonic_time() - t0, <, 200000);
    g_thread_join(th);
    assert_state(f, slow, VH_DOMAIN_RUNNING, 1);
}

static void test_errors(Fixture *f, gconstpointer data)
{
    static const guint8 nouuid[16] = {1, 2, 3};
    g_autoptr(GError) err = NULL;
    g_autoptr(VhDomainRef) r = NULL;
    g_autoptr(VhDomainRef) x = NULL;
    g_autofree char *other_uuid =
        dom_xml("err1", "11111111-2222-3333-4444-555555555555");
    g_autofree char *xml = NULL;
    VhDomainInfo info;
    int st;
    bool b;

    if (!need_vmhost()) {
        return;
    }
#define EXPECT(call, code)                                                     \
    do {                                                                       \
        g_assert_false(call);                                                  \
        g_assert_error(err, VH_VIR_ERROR, code);                               \
        g_clear_error(&err);                                                   \
    } while (0)
    EXPECT(vh_driver_start(f->drv, nouuid, 0, &err), VH_VIR_ERR_NO_DOMAIN);
    EXPECT(vh_driver_destroy(f->drv, nouuid, 0, &err), VH_VIR_ERR_NO_DOMAIN);
    EXPECT(vh_driver_shutdown(f->drv, nouuid, 0, &err), VH_VIR_ERR_NO_DOMAIN);
    EXPECT(vh_driver_suspend(f->drv, nouuid, &err), VH_VIR_ERR_NO_DOMAIN);
    EXPECT(vh_driver_resume(f->drv, nouuid, &err), VH_VIR_ERR_NO_DOMAIN);
    EXPECT(vh_driver_undefine(f->drv, nouuid, 0, &err), VH_VIR_ERR_NO_DOMAIN);
    EXPECT(vh_driver_get_info(f->drv, nouuid, &info, &err),
           VH_VIR_ERR_NO_DOMAIN);
    EXPECT(vh_driver_get_state(f->drv, nouuid, &st, NULL, &err),
           VH_VIR_ERR_NO_DOMAIN);
    EXPECT(vh_driver_get_xml(f->drv, nouuid, 0, &err), VH_VIR_ERR_NO_DOMAIN);
    EXPECT(vh_driver_get_autostart(f->drv, nouuid, &b, &err),
           VH_VIR_ERR_NO_DOMAIN);
    EXPECT(vh_driver_set_autostart(f->drv, nouuid, true, &err),
           VH_VIR_ERR_NO_DOMAIN);
    EXPECT(vh_driver_is_active(f->drv, nouuid, &b, &err), VH_VIR_ERR_NO_DOMAIN);
    EXPECT(vh_driver_is_persistent(f->drv, nouuid, &b, &err),
           VH_VIR_ERR_NO_DOMAIN);
    EXPECT(vh_driver_open_console(f->drv, nouuid, NULL, 0, &err),
           VH_VIR_ERR_NO_DOMAIN);
    EXPECT(vh_driver_lookup_by_uuid(f->drv, nouuid, &err),
           VH_VIR_ERR_NO_DOMAIN);
    EXPECT(vh_driver_lookup_by_name(f->drv, "nope", &err),
           VH_VIR_ERR_NO_DOMAIN);
    g_assert_nonnull(
        strstr((vh_driver_lookup_by_name(f->drv, "nope", &err), err->message),
               "no domain with matching name 'nope'"));
    g_clear_error(&err);
    EXPECT(vh_driver_lookup_by_id(f->drv, 7, &err), VH_VIR_ERR_NO_DOMAIN);
    EXPECT(vh_driver_define_xml(f->drv, "<domain>", 0, &err),
           VH_VIR_ERR_XML_ERROR);
    EXPECT(vh_driver_create_xml(f->drv, "<domain>", 0, &err),
           VH_VIR_ERR_XML_ERROR);

    r = define(f, "err1");
    EXPECT(vh_driver_define_xml(f->drv, other_uuid, 0, &err),
           VH_VIR_ERR_DOM_EXIST);
    xml = dom_xml("err1", NULL);
    EXPECT(vh_driver_create_xml(f->drv, xml, 0, &err), VH_VIR_ERR_DOM_EXIST);
    EXPECT(vh_driver_suspend(f->drv, r->uuid, &err),
           VH_VIR_ERR_OPERATION_INVALID);
    EXPECT(vh_driver_resume(f->drv, r->uuid, &err),
           VH_VIR_ERR_OPERATION_INVALID);
    EXPECT(vh_driver_destroy(f->drv, r->uuid, 0, &err),
           VH_VIR_ERR_OPERATION_INVALID);
    EXPECT(vh_driver_shutdown(f->drv, r->uuid, 0, &err),
           VH_VIR_ERR_OPERATION_INVALID);
    EXPECT(vh_driver_open_console(f->drv, r->uuid, NULL, 0, &err),
           VH_VIR_ERR_OPERATION_INVALID);
    start(f, r, 0);
    EXPECT(vh_driver_start(f->drv, r->uuid, 0, &err),
           VH_VIR_ERR_OPERATION_INVALID);
    EXPECT(vh_driver_create_xml(f->drv, xml, 0, &err), VH_VIR_ERR_DOM_EXIST);
    x = vh_driver_lookup_by_uuid(f->drv, r->uuid, &err);
    g_assert_no_error(err);
    g_assert_cmpint(x->id, ==, 1);

    /* A vmhost that fails to start: the error says why, nothing stays. */
    driver_down(f);
    g_free(f->binary);
    f->binary = g_strdup("/bin/false");
    driver_up(f);
    g_clear_pointer(&x, vh_domain_ref_free);
    x = define(f, "err2");
    EXPECT(vh_driver_start(f->drv, x->uuid, 0, &err),
           VH_VIR_ERR_OPERATION_FAILED);
    assert_state(f, x, VH_DOMAIN_SHUTOFF, 0);
#undef EXPECT
}

int main(int argc, char **argv)
{
    const char *builddir = g_getenv("VMHOST_BUILDDIR");
    g_autofree char *bin = NULL;

    if (builddir) {
        bin = g_build_filename(builddir, "src", "vmhost", "vmhost", NULL);
        if (g_file_test(bin, G_FILE_TEST_IS_EXECUTABLE)) {
            vmhost_bin = g_steal_pointer(&bin);
        }
    }
    if (g_getenv("VMHOSTD_DRIVER_CHILD")) {
        alarm(60); /* never outlives a test that lost track of it */
        return vmhost_bin
                   ? killed_daemon_child(g_getenv("VMHOSTD_DRIVER_CHILD"))
                   : 1;
    }
    g_test_init(&argc, &argv, NULL);
    /* g_assert aborts; a fatal g_warning traps */
    signal(SIGABRT, on_abort);
    signal(SIGTRAP, on_abort);
#define ADD(path, fn)                                                          \
    g_test_add("/vmhostd/driver/" path, Fixture, NULL, fixture_setup, fn,      \
               fixture_teardown)
    ADD("lifecycle", test_lifecycle);
    ADD("transient", test_transient);
    ADD("crash", test_crash);
    ADD("restart", test_restart);
    ADD("daemon-killed", test_daemon_killed);
    ADD("store", test_store);
    ADD("race", test_race);
    ADD("console", test_console);
    ADD("shutdown", test_shutdown);
    ADD("slow-start", test_slow_start);
    ADD("errors", test_errors);
#undef ADD
    return g_test_run();
}
