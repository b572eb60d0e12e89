#!/usr/bin/python3
"""bench/gobject: DOMAIN_GET_INFO from Python, libvmhost-gobject (through
PyGObject, no libvirt.so) against python3-libvirt (libvirt.so), on the same
server and connection kind, in the same run.

    gobject-bench.py URI DOMAIN SECONDS REPS

Figures (median of REPS, the clients interleaved):
  libvirt  sync   dom.info() in a loop, one connection
  vhg      sync   dom.get_info() in a loop, one connection
  vhg      async  1000 get_info_async() in flight from one thread (the main
                  loop's), refilled as they complete
Prints one markdown table row per figure: calls/s, the ratio to
python3-libvirt, and the client's CPU per call (all its threads, from
time.process_time(): less sensitive than the rate to a loaded machine).
"""
import statistics
import sys
import time

import gi

gi.require_version("VmhostGObject", "1.0")
from gi.repository import GLib, VmhostGObject as V  # noqa: E402
import libvirt  # noqa: E402

IN_FLIGHT = 1000


def rate_sync(call, seconds):
    """(calls/s, client CPU us per call: every thread of this process)"""
    n = 0
    c0 = time.process_time()
    t0 = time.perf_counter()
    end = t0 + seconds
    while True:
        for _ in range(50):
            call()
        n += 50
        t = time.perf_counter()
        if t >= end:
            return n / (t - t0), (time.process_time() - c0) * 1e6 / n


def rate_async(dom, seconds):
    loop = GLib.MainLoop()
    state = {"done": 0, "issued": 0, "errors": 0}
    c0 = time.process_time()
    t0 = time.perf_counter()
    end = t0 + seconds

    def on_info(d, res):
        try:
            d.get_info_finish(res)
        except GLib.Error:
            state["errors"] += 1
        state["done"] += 1
        if time.perf_counter() < end:
            state["issued"] += 1
            d.get_info_async(None, on_info)
        elif state["done"] == state["issued"]:
            loop.quit()

    for _ in range(IN_FLIGHT):
        state["issued"] += 1
        dom.get_info_async(None, on_info)
    loop.run()
    t = time.perf_counter()
    if state["errors"]:
        raise SystemExit("async get_info failed %d times" % state["errors"])
    return state["done"] / (t - t0), (time.process_time() - c0) * 1e6 / state["done"]


def main():
    uri, name, seconds, reps = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])

    lv = libvirt.open(uri)
    ldom = lv.lookupByName(name)
    conn = V.Connection.new(uri)
    conn.open(None)
    conn.fetch_domains(None)
    vdom = conn.find_domain_by_name(name)
    # warm up both
    rate_sync(ldom.info, 0.2)
    rate_sync(lambda: vdom.get_info(None), 0.2)

    res = {"lv": [], "vs": [], "va": []}
    for _ in range(reps):
        res["lv"].append(rate_sync(ldom.info, seconds))
        res["vs"].append(rate_sync(lambda: vdom.get_info(None), seconds))
        res["va"].append(rate_async(vdom, seconds))
    lv_m = statistics.median(r[0] for r in res["lv"])
    for key, label in (("lv", "python3-libvirt dom.info(), sync"),
                       ("vs", "libvmhost-gobject get_info(), sync"),
                       ("va", "libvmhost-gobject get_info_async(), %d in flight" % IN_FLIGHT)):
        m = statistics.median(r[0] for r in res[key])
        cpu = statistics.median(r[1] for r in res[key])
        print("| %s | %.0f | %.2f | %.1f |" % (label, m, m / lv_m, cpu), flush=True)
    conn.close()
    lv.close()


main()
