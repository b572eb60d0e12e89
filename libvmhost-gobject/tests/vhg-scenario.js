// libvmhost-gobject from gjs (JavaScript), nothing hand-written (issue 12).
//
//     gjs vhg-scenario.js URI DRIVER
//
// The scenario of vhg-scenario.py: open (async, on a GLib.MainLoop), list,
// define from a VhgConfigDomain built here, XML round trip with namespaced
// metadata, start, a console line (DRIVER vmhost), info, suspend/resume
// with signals on the main loop, stop, undefine, errors with libvirt's
// codes, close. One line per step; exit 1 at the first failure.
imports.gi.versions.VmhostGObject = '1.0';
const GLib = imports.gi.GLib;
const V = imports.gi.VmhostGObject;
const System = imports.system;

const NS = 'http://example.org/vhg-test/1';
const loop = new GLib.MainLoop(null, false);

function fail(msg) {
    print('FAIL: ' + msg);
    System.exit(1);
}

function step(msg) {
    print('ok: ' + msg);
}

function runUntil(cond, what, seconds = 30) {
    const deadline = GLib.get_monotonic_time() + seconds * 1000000;
    const id = GLib.timeout_add(GLib.PRIORITY_DEFAULT, 50, () => {
        if (cond() || GLib.get_monotonic_time() > deadline) {
            loop.quit();
            return GLib.SOURCE_REMOVE;
        }
        return GLib.SOURCE_CONTINUE;
    });
    if (!cond())
        loop.run();
    if (GLib.MainContext.default().find_source_by_id(id))
        GLib.source_remove(id);
    if (!cond())
        fail('timed out waiting for ' + what);
}

function expectError(code, func) {
    try {
        func();
    } catch (e) {
        if (!(e instanceof GLib.Error) || !e.matches(V.error_quark(), code))
            fail(`expected error ${code}, got ${e}`);
        return e;
    }
    fail(`succeeded; expected error ${code}`);
}

function main(uri, driver) {
    const pid = new Date().getTime() % 100000;
    const name = `vhg-gjs-${pid}`;
    const conn = V.Connection.new(uri);
    const added = [], removed = [], closed = [];
    conn.connect('domain-added', (c, d) => added.push(d.get_name()));
    conn.connect('domain-removed', (c, d) => removed.push(d.get_name()));
    conn.connect('closed', (c, reason) => closed.push(reason));

    const opened = [];
    conn.open_async(null, (c, res) => opened.push(c.open_finish(res)));
    runUntil(() => opened.length > 0, 'open_async');
    if (!opened[0] || !conn.is_open())
        fail('open_async did not open');
    step(`open_async ${conn.uri}`);

    const fetched = [];
    conn.fetch_domains_async(null, (c, res) => fetched.push(c.fetch_domains_finish(res)));
    runUntil(() => fetched.length > 0, 'fetch_domains_async');
    const names = conn.get_domains().map(d => d.get_name()).sort();
    step(`fetch_domains_async: [${names}]`);
    if (driver === 'test' && !names.includes('test'))
        fail("libvirt's test driver lists its domain 'test'");

    const conf = V.ConfigDomain.new();
    conf.set_virt_type(driver);
    conf.set_name(name);
    conf.set_memory(32 * 1024);
    conf.set_vcpus(1);
    conf.set_os_type('hvm');
    if (driver === 'vmhost') {
        conf.add_serial(V.ConfigDomainSerialType.PTY).set_target_port(0);
        conf.add_console(V.ConfigDomainSerialType.PTY).set_target_port(0);
    }
    conf.set_custom_xml("<app><owner id='7'>gjs</owner></app>", 'vt', NS);
    const dom = conn.define_domain(conf, null);
    if (dom.get_name() !== name || !dom.persistent || dom.state !== V.DomainState.SHUTOFF)
        fail(`define_domain: ${dom.get_name()} persistent ${dom.persistent} state ${dom.state}`);
    runUntil(() => added.includes(name), 'domain-added');
    step(`define_domain ${name} uuid ${dom.uuid}, domain-added emitted`);

    const back = dom.get_config(2, null);
    const custom = back.get_custom_xml(NS);
    if (back.get_name() !== name || !custom || !custom.includes('gjs'))
        fail(`get_config: ${back.to_xml()}`);
    step(`get_config keeps unmodelled metadata: ${custom}`);

    const seen = [];
    for (const sig of ['started', 'suspended', 'resumed', 'stopped'])
        dom.connect(sig, () => seen.push(sig));

    const res = [];
    dom.start_async(0, null, (d, r) => res.push(d.start_finish(r)));
    runUntil(() => res.length > 0 && seen.includes('started'), "start_async and 'started'");
    if (dom.state !== V.DomainState.RUNNING || dom.id < 0)
        fail(`after start: state ${dom.state} id ${dom.id}`);
    step(`start_async: running, id ${dom.id}`);

    if (driver === 'vmhost') {
        const console = dom.open_console(null, 0, null);
        const token = `vhg-gjs-console-${pid}`;
        let got = '';
        const inp = console.get_input_stream();
        const onRead = (stream, r) => {
            const data = stream.read_bytes_finish(r);
            if (data.get_size() > 0) {
                got += new TextDecoder().decode(data.get_data());
                if (!got.includes(token))
                    stream.read_bytes_async(4096, GLib.PRIORITY_DEFAULT, null, onRead);
            }
        };
        GLib.usleep(300000);
        inp.read_bytes_async(4096, GLib.PRIORITY_DEFAULT, null, onRead);
        console.get_output_stream().write_all(new TextEncoder().encode(`echo ${token}\r`), null);
        runUntil(() => got.includes(token), 'the console line');
        console.close(null);
        step('open_console: the line came back');
    }

    const info = dom.get_info(null);
    if (info.state !== V.DomainState.RUNNING || info.max_mem !== 32 * 1024)
        fail(`get_info: state ${info.state} max_mem ${info.max_mem}`);
    step(`get_info: running, ${info.max_mem} KiB`);

    res.length = 0;
    dom.suspend_async(null, (d, r) => res.push(d.suspend_finish(r)));
    runUntil(() => res.length > 0 && seen.includes('suspended'), "'suspended'");
    if (dom.state !== V.DomainState.PAUSED)
        fail(`after suspend: ${dom.state}`);
    res.length = 0;
    dom.resume_async(null, (d, r) => res.push(d.resume_finish(r)));
    runUntil(() => res.length > 0 && seen.includes('resumed'), "'resumed'");
    step('suspend_async / resume_async with their signals');

    expectError(V.Error.OPERATION_INVALID, () => dom.start(0, null));
    dom.stop(0, null);
    runUntil(() => seen.includes('stopped'), "'stopped'");
    if (seen.join(',') !== 'started,suspended,resumed,stopped')
        fail(`signals: ${seen}`);
    step(`stop: signals ${seen}`);

    dom.undefine(0, null);
    runUntil(() => removed.includes(name), 'domain-removed');
    expectError(V.Error.NO_DOMAIN, () => dom.start(0, null));
    step('undefine: domain-removed; the stale object gets NO_DOMAIN');

    const e = expectError(V.Error.XML_ERROR,
        () => V.ConfigDomain.new_from_xml('<domain>\n <name>x</nam>\n</domain>'));
    if (!e.message.includes('line 2') || !e.message.includes('column'))
        fail(`no line and column: ${e.message}`);
    step(`malformed XML: ${e.message}`);

    conn.close();
    runUntil(() => closed.length > 0, 'closed');
    step(`close: 'closed' emitted (${closed[0]})`);
    print('PASS');
}

main(ARGV[0], ARGV[1]);
