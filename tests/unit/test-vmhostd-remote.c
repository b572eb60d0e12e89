/*
 * vmhostd's remote protocol against the real clients: Debian's virsh,
 * python3-libvirt and libvirt-glib (through PyGObject) talk to a
 * VhRemoteServer + VhDriver on UNIX sockets in a temp dir (one read-write,
 * one read-only), and the driver runs real vmhost machines
 * ($VMHOST_BUILDDIR/src/vmhost/vmhost). Clients that are not installed
 * make their tests skip.
 */
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "remote.h"
#include "vmhost/io/address.h"
#include "vmhost/io/net-listener.h"

typedef struct {
    char *dir;
    char *config_dir, *run_dir;
    char *vmhost_bin;
    GMainContext *ctx;
    GMainLoop *loop;
    GThread *thread;
    VhDriver *drv;
    VhRemoteServer *srv;
    VhNetListener *rw, *ro;
    char *uri, *uri_ro;
    char **env;
    GMutex lock;
    GCond cond;
    bool ready;
} Fixture;

static Fixture F;

#define PYTHON "/usr/bin/python3"

#define XML                                                                    \
    "<domain type='vmhost'>\n"                                                 \
    "  <name>%s</name>\n"                                                      \
    "  <memory unit='MiB'>16</memory>\n"                                       \
    "  <vcpu>1</vcpu>\n"                                                       \
    "  <os><type>hvm</type></os>\n"                                            \
    "  <devices>\n"                                                            \
    "    <serial type='pty'><target port='0'/></serial>\n"                     \
    "    <console type='pty'><target type='serial' port='0'/></console>\n"     \
    "  </devices>\n"                                                           \
    "</domain>\n"

static void on_client(VhNetListener *l, VhChannelSocket *client,
                      gpointer opaque)
{
    bool ro = GPOINTER_TO_INT(opaque);

    vh_remote_server_add_client(F.srv, VH_CHANNEL(client), false, ro,
                                ro ? "test ro client" : "test client");
}

static VhNetListener *listen_at(const char *path, bool ro)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GSocketAddress) addr = g_unix_socket_address_new(path);
    VhNetListener *l = vh_net_listener_new();

    g_assert_true(vh_net_listener_open_address(l, addr, &err));
    g_assert_no_error(err);
    vh_net_listener_set_client_func(l, on_client, GINT_TO_POINTER(ro), NULL,
                                    F.ctx);
    return l;
}

static gpointer loop_thread(gpointer unused)
{
    g_autoptr(GError) err = NULL;
    VhDriverConfig cfg = {.config_dir = F.config_dir,
                          .run_dir = F.run_dir,
                          .vmhost_binary = F.vmhost_bin,
                          .context = F.ctx};
    VhRemoteLimits lim = {.max_clients = 50,
                          .max_workers = 8,
                          .keepalive_interval = 5,
                          .keepalive_count = 5};

    g_main_context_push_thread_default(F.ctx);
    F.drv = vh_driver_new(&cfg, &err);
    g_assert_no_error(err);
    F.srv = vh_remote_server_new(F.drv, &lim, F.ctx);
    g_autofree char *rw = g_build_filename(F.dir, "sock", NULL);
    g_autofree char *ro = g_build_filename(F.dir, "sock-ro", NULL);
    F.rw = listen_at(rw, false);
    F.ro = listen_at(ro, true);
    F.uri = g_strdup_printf("vmhost+unix:///system?socket=%s", rw);
    F.uri_ro = g_strdup_printf("vmhost+unix:///system?socket=%s", ro);
    g_mutex_lock(&F.lock);
    F.ready = true;
    g_cond_broadcast(&F.cond);
    g_mutex_unlock(&F.lock);

    g_main_loop_run(F.loop);

    vh_net_listener_disconnect(F.rw);
    vh_net_listener_disconnect(F.ro);
    g_clear_object(&F.rw);
    g_clear_object(&F.ro);
    vh_remote_server_free(F.srv);
    g_main_context_pop_thread_default(F.ctx);
    return NULL;
}

static void rm_rf(const char *path)
{
    g_autoptr(GDir) d = g_dir_open(path, 0, NULL);
    const char *e;

    while (d && (e = g_dir_read_name(d))) {
        g_autofree char *p = g_build_filename(path, e, NULL);
        if (g_file_test(p, G_FILE_TEST_IS_DIR) &&
            !g_file_test(p, G_FILE_TEST_IS_SYMLINK)) {
            rm_rf(p);
        } else {
            unlink(p);
        }
    }
    rmdir(path);
}

/* Kill the machines of the run dir (their pidfiles) and remove the temp
 * dir: at teardown, and when an assertion aborts the program. */
static void kill_machines(void)
{
    g_autoptr(GDir) d = F.run_dir ? g_dir_open(F.run_dir, 0, NULL) : NULL;
    const char *e;

    while (d && (e = g_dir_read_name(d))) {
        g_autofree char *p = g_build_filename(F.run_dir, e, NULL);
        g_autofree char *text = NULL;
        if (g_str_has_suffix(e, ".pid") &&
            g_file_get_contents(p, &text, NULL, NULL) && atoi(text) > 1) {
            kill(atoi(text), SIGKILL);
        }
    }
}

static void on_abort(int sig)
{
    kill_machines();
    if (F.dir) {
        rm_rf(F.dir);
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

static bool fixture_setup(void)
{
    const char *bd = g_getenv("VMHOST_BUILDDIR");
    g_autoptr(GError) err = NULL;

    F.vmhost_bin =
        bd ? g_build_filename(bd, "src", "vmhost", "vmhost", NULL) : NULL;
    if (!F.vmhost_bin ||
        !g_file_test(F.vmhost_bin, G_FILE_TEST_IS_EXECUTABLE)) {
        return false;
    }
    F.dir = g_dir_make_tmp("vmhostd-remote-XXXXXX", &err);
    g_assert_no_error(err);
    F.config_dir = g_build_filename(F.dir, "config", NULL);
    F.run_dir = g_build_filename(F.dir, "run", NULL);
    F.ctx = g_main_context_new();
    F.loop = g_main_loop_new(F.ctx, FALSE);
    g_mutex_init(&F.lock);
    g_cond_init(&F.cond);

    /* the clients keep their config, cache and history in the temp dir */
    F.env = g_get_environ();
    F.env = g_environ_unsetenv(F.env, "LIBVIRT_DEFAULT_URI");
    F.env = g_environ_unsetenv(F.env, "VIRSH_DEFAULT_CONNECT_URI");
    F.env = g_environ_setenv(F.env, "HOME", F.dir, TRUE);
    F.env = g_environ_setenv(F.env, "XDG_CONFIG_HOME", F.dir, TRUE);
    F.env = g_environ_setenv(F.env, "XDG_CACHE_HOME", F.dir, TRUE);
    F.env = g_environ_setenv(F.env, "XDG_RUNTIME_DIR", F.dir, TRUE);
    F.env = g_environ_setenv(F.env, "LC_ALL", "C", TRUE);

    signal(SIGABRT, on_abort);
    signal(SIGTRAP, on_abort);
    F.thread = g_thread_new("vmhostd-loop", loop_thread, NULL);
    g_mutex_lock(&F.lock);
    while (!F.ready) {
        g_cond_wait(&F.cond, &F.lock);
    }
    g_mutex_unlock(&F.lock);
    return true;
}

static gboolean quit_cb(gpointer opaque)
{
    g_main_loop_quit(F.loop);
    return G_SOURCE_REMOVE;
}

static void fixture_teardown(void)
{
    g_autoptr(GPtrArray) active = vh_driver_list_domains(F.drv, 1);

    for (guint i = 0; i < active->len; i++) {
        VhDomainRef *r = active->pdata[i];
        (void)vh_driver_destroy(F.drv, r->uuid, 0, NULL);
    }
    g_main_context_invoke(F.ctx, quit_cb, NULL);
    g_thread_join(F.thread);
    vh_driver_free(F.drv);
    kill_machines();
    rm_rf(F.dir);
    g_main_loop_unref(F.loop);
    g_main_context_unref(F.ctx);
    g_strfreev(F.env);
    g_free(F.dir);
    g_free(F.config_dir);
    g_free(F.run_dir);
    g_free(F.vmhost_bin);
    g_free(F.uri);
    g_free(F.uri_ro);
}

/* Run @argv (NULL-terminated) under timeout(1); *out gets stdout. */
static int run_argv(const char *const *argv, char **out, char **err_out)
{
    g_autoptr(GPtrArray) a = g_ptr_array_new();
    g_autoptr(GError) err = NULL;
    g_autofree char *o = NULL, *e = NULL;
    int status;

    g_ptr_array_add(a, (gpointer) "timeout");
    g_ptr_array_add(a, (gpointer) "-k5");
    g_ptr_array_add(a, (gpointer) "60");
    for (int i = 0; argv[i]; i++) {
        g_ptr_array_add(a, (gpointer)argv[i]);
    }
    g_ptr_array_add(a, NULL);
    g_assert_true(g_spawn_sync(F.dir, (char **)a->pdata, F.env,
                               G_SPAWN_SEARCH_PATH, NULL, NULL, &o, &e, &status,
                               &err));
    g_assert_no_error(err);
    g_test_message("$ %s ...\n%s%s", argv[0], o, e);
    if (out) {
        *out = g_steal_pointer(&o);
    }
    if (err_out) {
        *err_out = g_steal_pointer(&e);
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* virsh -c URI ARGS...: its stdout, or NULL when it failed (stderr in
 * *errtext). */
static char *virsh_full(const char *uri, bool ro, char **errtext, ...)
{
    g_autoptr(GPtrArray) a = g_ptr_array_new();
    va_list ap;
    const char *arg;
    char *out = NULL, *err = NULL;

    g_ptr_array_add(a, (gpointer) "virsh");
    if (ro) {
        g_ptr_array_add(a, (gpointer) "-r");
    }
    g_ptr_array_add(a, (gpointer) "-c");
    g_ptr_array_add(a, (gpointer)uri);
    va_start(ap, errtext);
    while ((arg = va_arg(ap, const char *))) {
        g_ptr_array_add(a, (gpointer)arg);
    }
    va_end(ap);
    g_ptr_array_add(a, NULL);
    int rc = run_argv((const char *const *)a->pdata, &out, &err);
    if (errtext) {
        *errtext = err;
    } else {
        g_free(err);
    }
    if (rc != 0) {
        g_free(out);
        return NULL;
    }
    return out;
}

#define virsh(...) virsh_full(F.uri, false, NULL, __VA_ARGS__, NULL)

static void assert_contains(const char *haystack, const char *needle)
{
    g_assert_nonnull(haystack);
    if (!strstr(haystack, needle)) {
        g_error("'%s' not found in:\n%s", needle, haystack);
    }
}

/* virsh ARGS... succeeds, and its output contains NEEDLE */
#define virsh_says(needle, ...)                                                \
    do {                                                                       \
        g_autofree char *virsh_out_ = virsh(__VA_ARGS__);                      \
        assert_contains(virsh_out_, needle);                                   \
    } while (0)

static char *write_xml(const char *name)
{
    g_autofree char *xml = g_strdup_printf(XML, name);
    g_autofree char *base = g_strdup_printf("%s.xml", name);
    char *path = g_build_filename(F.dir, base, NULL);

    g_assert_true(g_file_set_contents(path, xml, -1, NULL));
    return path;
}

static bool have_virsh(void)
{
    g_autofree char *p = g_find_program_in_path("virsh");

    if (!F.dir || !p) {
        g_test_skip(!F.dir ? "vmhost not built (VMHOST_BUILDDIR)"
                           : "virsh is not installed");
        return false;
    }
    return true;
}

static void test_virsh_connect(void)
{
    if (!have_virsh()) {
        return;
    }
    g_autofree char *ver = virsh("version");
    assert_contains(ver, "Running hypervisor: VMHOST 0.1.0");
    assert_contains(ver, "Using API: VMHOST 9.0.0");
    g_autofree char *host = virsh("hostname");
    assert_contains(host, g_get_host_name());
    g_autofree char *uri = virsh("uri");
    assert_contains(uri, "vmhost+unix:///system");
    g_autofree char *list = virsh("list", "--all");
    g_assert_nonnull(list);

    /* the name existing tooling uses reaches the same daemon */
    g_autofree char *q = g_strdup_printf("qemu%s", F.uri + strlen("vmhost"));
    g_autofree char *qver = virsh_full(q, false, NULL, "version", NULL);
    assert_contains(qver, "Running hypervisor: VMHOST");
    /* others are refused by name */
    g_autofree char *x = g_strdup_printf("xen%s", F.uri + strlen("vmhost"));
    g_autofree char *errtext = NULL;
    g_autofree char *xver = virsh_full(x, false, &errtext, "version", NULL);
    g_assert_null(xver);
    assert_contains(errtext, "no connection driver available for xen:///");
}

static void test_virsh_lifecycle(void)
{
    if (!have_virsh()) {
        return;
    }
    g_autofree char *file = write_xml("rv1");
    virsh_says("Domain 'rv1' defined", "define", file);
    g_autofree char *list = virsh("list", "--all");
    assert_contains(list, "rv1");
    assert_contains(list, "shut off");
    g_autofree char *info = virsh("dominfo", "rv1");
    assert_contains(info, "Name:           rv1");
    assert_contains(info, "OS Type:        hvm");
    assert_contains(info, "State:          shut off");
    assert_contains(info, "Persistent:     yes");
    assert_contains(info, "Autostart:      disable");
    virsh_says("<name>rv1</name>", "dumpxml", "rv1");
    g_autofree char *uuid = virsh("domuuid", "rv1");
    g_assert_cmpuint(strlen(g_strstrip(uuid)), ==, 36);

    g_autofree char *as = virsh("autostart", "rv1");
    assert_contains(as, "marked as autostarted");
    virsh_says("Autostart:      enable", "dominfo", "rv1");
    virsh_says("rv1", "list", "--all", "--autostart");
    virsh_says("unmarked as autostarted", "autostart", "--disable", "rv1");
    g_autofree char *lnas = virsh("list", "--all", "--autostart");
    g_assert_null(strstr(lnas, "rv1"));

    virsh_says("Domain 'rv1' started", "start", "rv1");
    virsh_says("rv1", "list", "--state-running");
    g_autofree char *loff = virsh("list", "--state-shutoff");
    g_assert_null(strstr(loff, "rv1"));
    virsh_says("running", "domstate", "rv1");
    g_autofree char *id = virsh("domid", "rv1");
    g_assert_cmpint(atoi(id), >, 0);
    virsh_says("rv1", "list");
    virsh_says("suspended", "suspend", "rv1");
    virsh_says("paused", "domstate", "rv1");
    virsh_says("rv1", "list", "--state-paused");
    virsh_says("resumed", "resume", "rv1");
    virsh_says("destroyed", "destroy", "rv1");
    virsh_says("shut off", "domstate", "rv1");
    virsh_says("undefined", "undefine", "rv1");
    g_autofree char *after = virsh("list", "--all");
    g_assert_null(strstr(after, "rv1"));

    /* errors come back with libvirt's words */
    g_autofree char *errtext = NULL;
    g_autofree char *none =
        virsh_full(F.uri, false, &errtext, "dominfo", "nosuch", NULL);
    g_assert_null(none);
    assert_contains(errtext, "failed to get domain 'nosuch'");
}

static void test_virsh_transient(void)
{
    if (!have_virsh()) {
        return;
    }
    g_autofree char *file = write_xml("rv2");
    virsh_says("Domain 'rv2' created", "create", file);
    g_autofree char *info = virsh("dominfo", "rv2");
    assert_contains(info, "Persistent:     no");
    assert_contains(info, "State:          running");
    virsh_says("destroyed", "destroy", "rv2");
    g_autofree char *after = virsh("list", "--all");
    g_assert_null(strstr(after, "rv2"));
}

static void test_virsh_readonly(void)
{
    if (!have_virsh()) {
        return;
    }
    g_autofree char *file = write_xml("rv3");
    g_autofree char *errtext = NULL, *errtext2 = NULL, *errtext3 = NULL;

    /* virsh -r on the read-write socket */
    g_autofree char *def =
        virsh_full(F.uri, true, &errtext, "define", file, NULL);
    g_assert_null(def);
    assert_contains(errtext, "read only access");
    g_autofree char *list =
        virsh_full(F.uri, true, NULL, "list", "--all", NULL);
    g_assert_nonnull(list);

    /* the read-only socket */
    g_autofree char *def2 =
        virsh_full(F.uri_ro, false, &errtext2, "define", file, NULL);
    g_assert_null(def2);
    assert_contains(errtext2, "read only access prevents virDomainDefineXML");
    virsh_says("defined", "define", file);
    g_autofree char *start =
        virsh_full(F.uri_ro, false, &errtext3, "start", "rv3", NULL);
    g_assert_null(start);
    assert_contains(errtext3, "read only access prevents virDomainCreate");
    g_autofree char *info =
        virsh_full(F.uri_ro, false, NULL, "dominfo", "rv3", NULL);
    assert_contains(info, "shut off");
    virsh_says("undefined", "undefine", "rv3");
}

static bool have_python_module(const char *check)
{
    const char *argv[] = {PYTHON, "-c", check, NULL};

    if (!F.dir) {
        g_test_skip("vmhost not built (VMHOST_BUILDDIR)");
        return false;
    }
    if (!g_file_test(PYTHON, G_FILE_TEST_IS_EXECUTABLE) ||
        run_argv(argv, NULL, NULL) != 0) {
        g_test_skip("the Python bindings are not installed");
        return false;
    }
    return true;
}

static const char PY_LIBVIRT[] =
    "import sys, threading, time, libvirt\n"
    "uri, xml = sys.argv[1], open(sys.argv[2]).read()\n"
    "libvirt.virEventRegisterDefaultImpl()\n"
    "def loop():\n"
    "    while True:\n"
    "        libvirt.virEventRunDefaultImpl()\n"
    "threading.Thread(target=loop, daemon=True).start()\n"
    "c = libvirt.open(uri)\n"
    "assert c.getLibVersion() >= 9000000\n"
    "info = c.getInfo()\n"
    "assert len(info) == 8 and info[1] > 0 and info[2] > 0, info\n"
    "assert '<capabilities>' in c.getCapabilities()\n"
    "assert c.getType() == 'VMHOST' and c.getVersion() > 0\n"
    "assert c.getHostname() and c.isSecure() == 1\n"
    "assert c.numOfDomains() >= 0 and c.numOfDefinedDomains() >= 0\n"
    "c.listDomainsID(); c.listDefinedDomains()\n"
    "events = []\n"
    "def cb(conn, dom, event, detail, opaque):\n"
    "    events.append((dom.name(), event, detail))\n"
    "cid = c.domainEventRegisterAny(None,\n"
    "    libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, cb, None)\n"
    "d = c.defineXML(xml)\n"
    "assert d.name() == 'py1'\n"
    "names = [x.name() for x in c.listAllDomains()]\n"
    "assert 'py1' in names, names\n"
    "d = c.lookupByName('py1')\n"
    "assert c.lookupByUUID(d.UUID()).name() == 'py1'\n"
    "assert not d.isActive() and d.isPersistent()\n"
    "st = d.info()\n"
    "assert st[0] == libvirt.VIR_DOMAIN_SHUTOFF and st[1] == 16384, st\n"
    "assert '<name>py1</name>' in d.XMLDesc(0)\n"
    "assert d.OSType() == 'hvm' and d.maxMemory() == 16384\n"
    "assert d.autostart() == 0 and d.hasManagedSaveImage() == 0\n"
    "assert d.isUpdated() == 0 and 'py1' in c.listDefinedDomains()\n"
    "d.setAutostart(1)\n"
    "assert d.autostart() == 1\n"
    "d.setAutostart(0)\n"
    "d.create()\n"
    "assert d.isActive()\n"
    "assert d.state()[0] == libvirt.VIR_DOMAIN_RUNNING\n"
    "assert c.lookupByID(d.ID()).name() == 'py1'\n"
    "d.destroy()\n"
    "d.undefine()\n"
    "for i in range(100):\n"
    "    if len(events) >= 4: break\n"
    "    time.sleep(0.05)\n"
    "kinds = [e[1] for e in events]\n"
    "assert kinds[:4] == [0, 2, 5, 1], events\n"
    "c.domainEventDeregisterAny(cid)\n"
    "try:\n"
    "    c.lookupByName('py1')\n"
    "    raise SystemExit('lookup of an undefined domain worked')\n"
    "except libvirt.libvirtError as e:\n"
    "    assert e.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN, e\n"
    "c.close()\n"
    "print('PYTHON OK')\n";

static void test_python(void)
{
    if (!have_python_module("import libvirt")) {
        return;
    }
    g_autofree char *file = write_xml("py1");
    g_autofree char *out = NULL;
    const char *argv[] = {PYTHON, "-c", PY_LIBVIRT, F.uri, file, NULL};

    g_assert_cmpint(run_argv(argv, &out, NULL), ==, 0);
    assert_contains(out, "PYTHON OK");
}

static const char PY_GLIB[] =
    "import sys, gi\n"
    "gi.require_version('LibvirtGObject', '1.0')\n"
    "gi.require_version('LibvirtGConfig', '1.0')\n"
    "from gi.repository import LibvirtGObject, GLib\n"
    "LibvirtGObject.init_object_check(None)\n"
    "uri = sys.argv[1]\n"
    "c = LibvirtGObject.Connection.new(uri)\n"
    "loop = GLib.MainLoop()\n"
    "res = []\n"
    "def opened(conn, r):\n"
    "    res.append(conn.open_finish(r))\n"
    "    loop.quit()\n"
    "c.open_async(None, opened)\n"
    "GLib.timeout_add_seconds(20, loop.quit)\n"
    "loop.run()\n"
    "assert res == [True] and c.is_open(), res\n"
    "c.fetch_domains(None)\n"
    "names = [d.get_name() for d in c.get_domains()]\n"
    "assert 'lg1' in names, names\n"
    "d = c.find_domain_by_name('lg1')\n"
    "assert '<name>lg1</name>' in d.get_config(0).to_xml()\n"
    "started = []\n"
    "d.connect('started', lambda dom: started.append(1))\n"
    "d.start(0)\n"
    "info = d.get_info()\n"
    "assert info.state == LibvirtGObject.DomainState.RUNNING, info.state\n"
    "ctx = GLib.MainContext.default()\n"
    "for i in range(200):\n"
    "    if started: break\n"
    "    ctx.iteration(False)\n"
    "    GLib.usleep(10000)\n"
    "assert started, 'no started signal'\n"
    "seen = []\n"
    "for sig in ('suspended', 'resumed', 'stopped'):\n"
    "    d.connect(sig, lambda dom, s=sig: seen.append(s))\n"
    "def wait_for(sig):\n"
    "    for i in range(300):\n"
    "        if sig in seen: return\n"
    "        ctx.iteration(False)\n"
    "        GLib.usleep(10000)\n"
    "    raise SystemExit('no %s signal: %s' % (sig, seen))\n"
    "d.suspend()\n"
    "wait_for('suspended')\n"
    "d.resume()\n"
    "wait_for('resumed')\n"
    "d.stop(0)\n"
    "wait_for('stopped')\n"
    "c.close()\n"
    "print('GLIB OK')\n";

static void test_glib(void)
{
    if (!have_python_module("import gi; "
                            "gi.require_version('LibvirtGObject', '1.0')")) {
        return;
    }
    g_autofree char *file = write_xml("lg1");
    virsh_says("defined", "define", file);
    g_autofree char *out = NULL;
    const char *argv[] = {PYTHON, "-c", PY_GLIB, F.uri, NULL};

    int rc = run_argv(argv, &out, NULL);
    g_autofree char *und = virsh("undefine", "lg1");
    g_assert_cmpint(rc, ==, 0);
    assert_contains(out, "GLIB OK");
}

static const char PY_CONSOLE[] =
    "import sys, time, libvirt\n"
    "uri, xml = sys.argv[1], open(sys.argv[2]).read()\n"
    "c = libvirt.open(uri)\n"
    "d = c.createXML(xml, 0)\n"
    "st = c.newStream(0)\n"
    "d.openConsole(None, st, 0)\n"
    "st.send(b'echo QQ-console\\n')\n"
    "data = b''\n"
    "end = time.time() + 20\n"
    "while data.count(b'QQ-console') < 1 + data.count(b'echo QQ-console'):\n"
    "    assert time.time() < end, data\n"
    "    data += st.recv(4096)\n"
    "try:\n"
    "    d.openConsole(None, c.newStream(0), 0)\n"
    "    raise SystemExit('a second console user was let in')\n"
    "except libvirt.libvirtError as e:\n"
    "    assert 'Active console session' in str(e), e\n"
    "st.finish()\n"
    "st2 = c.newStream(0)\n"
    "d.openConsole(None, st2, libvirt.VIR_DOMAIN_CONSOLE_FORCE)\n"
    "st2.abort()\n"
    "d.destroy()\n"
    "c.close()\n"
    "print('CONSOLE OK')\n";

static void test_python_console(void)
{
    if (!have_python_module("import libvirt")) {
        return;
    }
    g_autofree char *file = write_xml("pyc");
    g_autofree char *out = NULL;
    const char *argv[] = {PYTHON, "-c", PY_CONSOLE, F.uri, file, NULL};

    g_assert_cmpint(run_argv(argv, &out, NULL), ==, 0);
    assert_contains(out, "CONSOLE OK");
}

/* virsh event --all: lifecycle events with libvirt's names */
static void test_virsh_event(void)
{
    if (!have_virsh()) {
        return;
    }
    g_autoptr(GError) err = NULL;
    g_autoptr(GSubprocessLauncher) l =
        g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDOUT_PIPE);
    g_subprocess_launcher_set_environ(l, F.env);
    g_autoptr(GSubprocess) p =
        g_subprocess_launcher_spawn(l, &err, "timeout", "60", "virsh", "-c",
                                    F.uri, "event", "--all", "--loop", NULL);
    g_assert_no_error(err);

    /* wait until virsh has registered (its callbacks show in no output, so
     * give it a moment and repeat the define until the events arrive) */
    g_usleep(1500 * 1000);
    g_autofree char *file = write_xml("ev1");
    virsh_says("defined", "define", file);
    virsh_says("started", "start", "ev1");
    g_autofree char *des = virsh("destroy", "ev1");
    virsh_says("undefined", "undefine", "ev1");

    /* read what virsh prints until the undefine shows up */
    g_autoptr(GDataInputStream) in =
        g_data_input_stream_new(g_subprocess_get_stdout_pipe(p));
    g_autoptr(GString) out = g_string_new(NULL);
    while (!strstr(out->str, "Undefined Removed")) {
        g_autofree char *line =
            g_data_input_stream_read_line(in, NULL, NULL, &err);
        g_assert_no_error(err);
        g_assert_nonnull(line); /* EOF: virsh ended (timeout) first */
        g_string_append_printf(out, "%s\n", line);
    }
    g_subprocess_send_signal(p, SIGTERM); /* timeout(1) passes it on */
    g_assert_true(g_subprocess_wait(p, NULL, NULL));
    g_test_message("virsh event:\n%s", out->str);
    assert_contains(out->str,
                    "event 'lifecycle' for domain 'ev1': Defined Added");
    assert_contains(out->str,
                    "event 'lifecycle' for domain 'ev1': Started Booted");
    assert_contains(out->str,
                    "event 'lifecycle' for domain 'ev1': Stopped Destroyed");
}

/* virsh shutdown: the guest powers off through system_powerdown */
static void test_virsh_shutdown(void)
{
    if (!have_virsh()) {
        return;
    }
    g_autofree char *file = write_xml("sd1");
    virsh_says("created", "create", file);
    virsh_says("is being shutdown", "shutdown", "sd1");
    bool gone = false;
    for (int i = 0; i < 100 && !gone; i++) {
        g_autofree char *list = virsh("list", "--all");
        gone = list && !strstr(list, "sd1");
        if (!gone) {
            g_usleep(100 * 1000);
        }
    }
    g_assert_true(gone);
}

/* virsh console through a pty (script(1)): type to the guest, read its
 * answer, leave with Ctrl-] */
static void test_virsh_console(void)
{
    g_autofree char *script = g_find_program_in_path("script");

    if (!have_virsh()) {
        return;
    }
    if (!script) {
        g_test_skip("script(1) is not installed");
        return;
    }
    g_autofree char *file = write_xml("vc1");
    virsh_says("created", "create", file);

    g_autoptr(GError) err = NULL;
    g_autoptr(GSubprocessLauncher) l = g_subprocess_launcher_new(
        G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE);
    g_subprocess_launcher_set_environ(l, F.env);
    g_autofree char *cmd = g_strdup_printf("virsh -c '%s' console vc1", F.uri);
    g_autoptr(GSubprocess) p = g_subprocess_launcher_spawn(
        l, &err, "timeout", "60", "script", "-qec", cmd, "/dev/null", NULL);
    g_assert_no_error(err);
    GOutputStream *in = g_subprocess_get_stdin_pipe(p);
    GInputStream *out = g_subprocess_get_stdout_pipe(p);
    g_autoptr(GString) seen = g_string_new(NULL);
    char buf[4096];

    /* wait for virsh to connect, then type a command for the guest */
    while (!strstr(seen->str, "Escape character")) {
        gssize n = g_input_stream_read(out, buf, sizeof(buf), NULL, &err);
        g_assert_no_error(err);
        g_assert_cmpint(n, >, 0);
        g_string_append_len(seen, buf, n);
    }
    /* the guest may not read its serial port yet: type again each second */
    GPollableInputStream *pin = G_POLLABLE_INPUT_STREAM(out);
    for (int i = 0; !strstr(seen->str, "\nhello-virsh"); i++) {
        g_assert_cmpint(i, <, 300);
        if (i % 10 == 0) {
            g_assert_true(g_output_stream_write_all(in, "echo hello-virsh\r",
                                                    17, NULL, NULL, &err));
        }
        g_usleep(100 * 1000);
        gssize n;
        while ((n = g_pollable_input_stream_read_nonblocking(
                    pin, buf, sizeof(buf), NULL, NULL)) > 0) {
            g_string_append_len(seen, buf, n);
        }
        g_assert_cmpint(n, !=, 0); /* EOF: virsh is gone */
    }
    g_assert_true(g_output_stream_write_all(in, "\035", 1, NULL, NULL, &err));
    g_assert_true(g_subprocess_wait(p, NULL, &err));
    g_test_message("virsh console:\n%s", seen->str);
    g_assert_true(g_subprocess_get_if_exited(p));
    g_assert_cmpint(g_subprocess_get_exit_status(p), ==, 0);

    virsh_says("destroyed", "destroy", "vc1");
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    bool up = fixture_setup();

    g_test_add_func("/vmhostd/remote/virsh/connect", test_virsh_connect);
    g_test_add_func("/vmhostd/remote/virsh/lifecycle", test_virsh_lifecycle);
    g_test_add_func("/vmhostd/remote/virsh/transient", test_virsh_transient);
    g_test_add_func("/vmhostd/remote/virsh/readonly", test_virsh_readonly);
    g_test_add_func("/vmhostd/remote/virsh/event", test_virsh_event);
    g_test_add_func("/vmhostd/remote/virsh/shutdown", test_virsh_shutdown);
    g_test_add_func("/vmhostd/remote/virsh/console", test_virsh_console);
    g_test_add_func("/vmhostd/remote/python", test_python);
    g_test_add_func("/vmhostd/remote/python-console", test_python_console);
    g_test_add_func("/vmhostd/remote/libvirt-glib", test_glib);
    int rc = g_test_run();
    if (up) {
        fixture_teardown();
    }
    return rc;
}
