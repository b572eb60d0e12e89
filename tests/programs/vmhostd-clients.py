#!/usr/bin/python3
"""libvirt's real clients against vmhostd, for test-vmhostd.sh.

Run with Debian's /usr/bin/python3 (python3-libvirt, python3-gi and
gir1.2-libvirt-glib-1.0 live there). Each subcommand prints what it saw
and exits 0 when everything held, 1 (with the reason) otherwise:

    vmhostd-clients.py console URI DOMAIN   virsh console on a pty: a line
                                            to the guest and back, Ctrl-]
    vmhostd-clients.py libvirt URI XMLFILE  python3-libvirt: define, look
                                            up, start, events, destroy
    vmhostd-clients.py glib URI DOMAIN      libvirt-glib via PyGObject
"""
import os
import pty
import select
import sys
import threading
import time


def fail(msg):
    print("FAIL: " + msg, flush=True)
    sys.exit(1)


def console(uri, domain):
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp("virsh", ["virsh", "-c", uri, "console", domain])
    out = b""

    def read_until(needle, seconds):
        nonlocal out
        end = time.time() + seconds
        while needle not in out and time.time() < end:
            r, _, _ = select.select([fd], [], [], 0.2)
            if r:
                try:
                    data = os.read(fd, 4096)
                except OSError:
                    break
                if not data:
                    break
                out += data
        return needle in out

    if not read_until(b"Escape character", 15):
        fail("virsh console did not connect: %r" % out)
    time.sleep(0.3)
    token = b"vmhostd-console-%d" % os.getpid()
    os.write(fd, b"echo " + token + b"\r")
    if not read_until(token, 10):
        fail("no echo from the guest: %r" % out)
    os.write(fd, b"\x1d")  # Ctrl-]
    end = time.time() + 10
    status = None
    while time.time() < end:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        read_until(b"\0never", 0.2)
    else:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        fail("virsh console did not leave on Ctrl-]")
    if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
        fail("virsh console exited with status %r: %r" % (status, out))
    print("console ok: %s came back" % token.decode(), flush=True)


def wait_for(cond, seconds):
    end = time.time() + seconds
    while time.time() < end:
        if cond():
            return True
        time.sleep(0.05)
    return cond()


def py_libvirt(uri, xmlfile):
    import libvirt

    libvirt.virEventRegisterDefaultImpl()

    def loop():
        while True:
            libvirt.virEventRunDefaultImpl()

    threading.Thread(target=loop, daemon=True).start()
    conn = libvirt.open(uri)
    events = []

    def on_event(conn, dom, event, detail, opaque):
        events.append((dom.name(), event, detail))

    conn.domainEventRegisterAny(
        None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, on_event, None)
    before = [d.name() for d in conn.listAllDomains()]
    with open(xmlfile) as f:
        dom = conn.defineXML(f.read())
    name = dom.name()
    if name not in [d.name() for d in conn.listAllDomains()]:
        fail("listAllDomains does not show %s (had %r)" % (name, before))
    if conn.lookupByName(name).UUIDString() != dom.UUIDString():
        fail("lookupByName gives another UUID")
    if conn.lookupByUUIDString(dom.UUIDString()).name() != name:
        fail("lookupByUUIDString gives another name")
    if dom.isActive():
        fail("a defined domain is active")
    dom.create()
    if not dom.isActive():
        fail("isActive false after create")
    state, reason = dom.state()
    if state != libvirt.VIR_DOMAIN_RUNNING:
        fail("state %r after create" % state)
    info = dom.info()
    if info[0] != libvirt.VIR_DOMAIN_RUNNING or info[3] < 1:
        fail("info %r" % (info,))
    if "<name>%s</name>" % name not in dom.XMLDesc(0):
        fail("XMLDesc lacks the name")
    dom.destroy()
    if dom.isActive():
        fail("isActive true after destroy")
    want = [
        (name, libvirt.VIR_DOMAIN_EVENT_DEFINED),
        (name, libvirt.VIR_DOMAIN_EVENT_STARTED),
        (name, libvirt.VIR_DOMAIN_EVENT_STOPPED),
    ]
    if not wait_for(lambda: all(any(e[:2] == w for e in events)
                                for w in want), 10):
        fail("lifecycle events: got %r, want %r" % (events, want))
    dom.undefine()
    conn.close()
    print("python3-libvirt ok: events %r" % events, flush=True)


def glib(uri, domain):
    import gi

    gi.require_version("LibvirtGObject", "1.0")
    gi.require_version("LibvirtGConfig", "1.0")
    from gi.repository import GLib, LibvirtGObject

    LibvirtGObject.init_object_check(None)
    loop = GLib.MainLoop()
    seen = []

    def run_until(cond, seconds):
        def tick():
            if cond():
                loop.quit()
                return False
            return True

        GLib.timeout_add(50, tick)
        GLib.timeout_add(seconds * 1000, lambda: loop.quit() and False)
        loop.run()
        return cond()

    # open_async on one connection, open (sync) on another
    aconn = LibvirtGObject.Connection(uri=uri)
    opened = []

    def on_open(c, res):
        opened.append(c.open_finish(res))

    aconn.open_async(None, on_open)
    if not run_until(lambda: opened, 15) or not opened[0]:
        fail("open_async did not finish")
    conn = LibvirtGObject.Connection(uri=uri)
    conn.open(None)
    conn.fetch_domains(None)
    names = [d.get_name() for d in conn.get_domains()]
    if domain not in names:
        fail("get_domains lacks %s: %r" % (domain, names))
    dom = conn.find_domain_by_name(domain)
    xml = dom.get_config(0).to_xml()
    if "<name>%s</name>" % domain not in xml:
        fail("get_config(0).to_xml() lacks the name")
    for sig in ("started", "stopped", "suspended", "resumed"):
        dom.connect(sig, lambda d, s=sig: seen.append(s))
    dom.start(0)
    if not run_until(lambda: "started" in seen, 15):
        fail("no 'started' signal: %r" % seen)
    dom.suspend()
    if not run_until(lambda: "suspended" in seen, 15):
        fail("no 'suspended' signal: %r" % seen)
    dom.resume()
    if not run_until(lambda: "resumed" in seen, 15):
        fail("no 'resumed' signal: %r" % seen)
    dom.stop(0)
    if not run_until(lambda: "stopped" in seen, 15):
        fail("no 'stopped' signal: %r" % seen)
    print("libvirt-glib ok: signals %r" % seen, flush=True)


def main():
    if len(sys.argv) != 4:
        fail(__doc__)
    cmd, a, b = sys.argv[1:]
    if cmd == "console":
        console(a, b)
    elif cmd == "libvirt":
        py_libvirt(a, b)
    elif cmd == "glib":
        glib(a, b)
    else:
        fail("unknown subcommand " + cmd)


if __name__ == "__main__":
    main()
