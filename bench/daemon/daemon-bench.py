#!/usr/bin/python3
"""bench/daemon's client: python3-libvirt against a management daemon
(libvirtd or vmhostd), measuring what the daemon spends from its
/proc/PID/stat (utime + stime of every thread) and /proc/PID/status.

Run with Debian's /usr/bin/python3 (python3-libvirt). Each mode prints one
line of key=value pairs for bench/daemon/daemon.sh:

  calls   URI DOMAIN PID SECONDS   dom.info() on one connection: calls/s,
                                   p50/p99 latency (us), daemon CPU per call
  connect URI PID SECONDS          open + close (a full TLS handshake each):
                                   connections/s, daemon CPU per connection
  idle    URI PID N                N idle connections kept open: daemon
                                   VmRSS growth per connection (KiB)
  full    URI N SECONDS            with N clients open (the daemon's
                                   max_clients), what client N+1 gets: its
                                   error, or a hang cut after SECONDS; for
                                   virsh and for python3-libvirt
  cycle   URI PID XML CYCLES       define the domain of XML, then CYCLES x
                                   (create -> running, destroy -> shut off):
                                   p50/p99 of each (ms), daemon CPU per cycle
"""
import gc
import os
import subprocess
import sys
import time

import libvirt

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """utime + stime of the whole process (all threads), in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        # the command name may hold spaces: fields follow the last ')'
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def quiet(_ctx, _err):
    """libvirt prints every error to stderr by default; we report our own."""


def percentile(sorted_values, p):
    i = min(len(sorted_values) - 1, int(round(p / 100.0 * (len(sorted_values) - 1))))
    return sorted_values[i]


def mode_calls(uri, name, pid, seconds):
    conn = libvirt.open(uri)
    dom = conn.lookupByName(name)
    for _ in range(200):  # warm up: threads, caches, TLS session
        dom.info()
    lat = []
    clock = time.perf_counter_ns
    c0 = cpu_seconds(pid)
    t0 = clock()
    end = t0 + int(seconds * 1e9)
    now = t0
    while now < end:
        dom.info()
        t = clock()
        lat.append(t - now)
        now = t
    c1 = cpu_seconds(pid)
    conn.close()
    n = len(lat)
    lat.sort()
    wall = (now - t0) / 1e9
    print(f"calls={n} rate={n / wall:.1f} p50_us={percentile(lat, 50) / 1e3:.1f} "
          f"p99_us={percentile(lat, 99) / 1e3:.1f} "
          f"cpu_us_per_call={(c1 - c0) / n * 1e6:.2f}")


def mode_connect(uri, pid, seconds):
    libvirt.open(uri).close()  # warm up
    n = 0
    c0 = cpu_seconds(pid)
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        libvirt.open(uri).close()
        n += 1
    wall = time.monotonic() - t0
    c1 = cpu_seconds(pid)
    print(f"conns={n} rate={n / wall:.1f} "
          f"cpu_ms_per_conn={(c1 - c0) / n * 1e3:.3f}")


def settle(pid):
    """Wait until the daemon's RSS stops moving (at most 3 s)."""
    last = rss_kib(pid)
    for _ in range(30):
        time.sleep(0.1)
        cur = rss_kib(pid)
        if cur == last:
            return cur
        last = cur
    return last


def mode_idle(uri, pid, n):
    # a first connection pays for one-off allocations (driver state, TLS
    # context, worker threads); measure the growth after it
    first = libvirt.open(uri)
    first.getLibVersion()
    gc.collect()
    before = settle(pid)
    conns = []
    for _ in range(n):
        c = libvirt.open(uri)
        c.getLibVersion()  # the connection is fully open and dispatched
        conns.append(c)
    after = settle(pid)
    for c in conns:
        c.close()
    first.close()
    print(f"idle={n} rss_before_kib={before} rss_after_kib={after} "
          f"kib_per_conn={(after - before) / n:.2f}")


def next_client(argv, seconds):
    """Run argv (a client connecting once); its first error line, or 'hung'."""
    t0 = time.monotonic()
    try:
        p = subprocess.run(argv, capture_output=True, text=True,
                           timeout=seconds)
    except subprocess.TimeoutExpired:
        return "hung", time.monotonic() - t0
    lines = [l.strip() for l in (p.stderr + p.stdout).splitlines() if l.strip()]
    what = "exit %d: %s" % (p.returncode, " / ".join(lines[:2]))
    return what.replace(" ", "_"), time.monotonic() - t0


def mode_full(uri, n, seconds):
    conns = []
    for _ in range(n):
        c = libvirt.open(uri)
        c.getLibVersion()
        conns.append(c)
    py = ("import libvirt, sys\n"
          "libvirt.registerErrorHandler(lambda c, e: None, None)\n"
          "try:\n"
          "    libvirt.open(sys.argv[1]).getLibVersion()\n"
          "    print('connected')\n"
          "except libvirt.libvirtError as e:\n"
          "    sys.exit(str(e))\n")
    vw, vt = next_client(["virsh", "-c", uri, "version"], seconds)
    pw, pt = next_client([sys.executable, "-c", py, uri], seconds)
    for c in conns:
        c.close()
    print(f"virsh={vw} virsh_s={vt:.2f} python={pw} python_s={pt:.2f}")


def mode_cycle(uri, pid, xml, cycles):
    conn = libvirt.open(uri)
    with open(xml) as f:
        dom = conn.defineXML(f.read())
    start, stop = [], []
    clock = time.perf_counter_ns
    c0 = cpu_seconds(pid)
    for _ in range(cycles):
        t0 = clock()
        dom.create()
        while dom.state()[0] != libvirt.VIR_DOMAIN_RUNNING:
            time.sleep(0.001)
        t1 = clock()
        dom.destroy()
        while dom.state()[0] != libvirt.VIR_DOMAIN_SHUTOFF:
            time.sleep(0.001)
        t2 = clock()
        start.append(t1 - t0)
        stop.append(t2 - t1)
    c1 = cpu_seconds(pid)
    dom.undefine()
    conn.close()
    start.sort()
    stop.sort()
    print(f"cycles={cycles} start_p50_ms={percentile(start, 50) / 1e6:.2f} "
          f"start_p99_ms={percentile(start, 99) / 1e6:.2f} "
          f"destroy_p50_ms={percentile(stop, 50) / 1e6:.2f} "
          f"destroy_p99_ms={percentile(stop, 99) / 1e6:.2f} "
          f"cpu_ms_per_cycle={(c1 - c0) / cycles * 1e3:.2f}")


def main(argv):
    libvirt.registerErrorHandler(quiet, None)
    mode = argv[1]
    if mode == "calls":
        mode_calls(argv[2], argv[3], int(argv[4]), float(argv[5]))
    elif mode == "connect":
        mode_connect(argv[2], int(argv[3]), float(argv[4]))
    elif mode == "idle":
        mode_idle(argv[2], int(argv[3]), int(argv[4]))
    elif mode == "full":
        mode_full(argv[2], int(argv[3]), float(argv[4]))
    elif mode == "cycle":
        mode_cycle(argv[2], int(argv[3]), argv[4], int(argv[5]))
    else:
        sys.exit(f"daemon-bench.py: unknown mode {mode!r}\n{__doc__}")


if __name__ == "__main__":
    main(sys.argv)
