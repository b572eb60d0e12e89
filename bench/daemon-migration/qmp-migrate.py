#!/usr/bin/env python3
"""One live migration between two machines driven over QMP, the way
vmhostd drives them (bench/daemon-migration's references, "vmhost alone"
and QEMU 7.2): one QMP connection per machine, kept open;
migrate-set-parameters and migrate-incoming on the target,
migrate-set-parameters and migrate on the source, then query-migrate every
20 ms backing off to 250 ms (vmhostd's schedule) until it ends.

    qmp-migrate.py migrate --src SOCK --dst SOCK --src-pid PID --dst-pid PID
        --uri tcp:HOST:PORT [--tls-creds ID --tls-hostname NAME]
        [--max-bandwidth BYTES] [--multifd N]
    qmp-migrate.py hmp SOCK "COMMAND LINE"
    qmp-migrate.py cmd SOCK COMMAND     (a QMP command without arguments)

migrate prints one line: status, wall ms (from the migrate command to
the end), the source's total-time and downtime (ms), and each side's CPU
ticks (utime + stime of the two pids) over the migration, and the RAM
bytes sent.
"""
import argparse
import json
import socket
import sys
import time


class Qmp:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        deadline = time.time() + 20
        while True:
            try:
                self.s.connect(path)
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.05)
        self.f = self.s.makefile("rb")
        self.read()  # the greeting
        self.cmd("qmp_capabilities")

    def read(self):
        while True:
            line = self.f.readline()
            if not line:
                raise RuntimeError("QMP connection closed")
            msg = json.loads(line)
            if "event" not in msg:
                return msg

    def cmd(self, name, **args):
        req = {"execute": name}
        if args:
            req["arguments"] = args
        self.s.sendall(json.dumps(req).encode() + b"\n")
        rep = self.read()
        if "error" in rep:
            raise RuntimeError("%s: %s" % (name, rep["error"].get("desc")))
        return rep.get("return")


def ticks(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            st = f.read().rsplit(")", 1)[1].split()
        return int(st[11]) + int(st[12])
    except OSError:
        return 0


def migrate(a):
    src, dst = Qmp(a.src), Qmp(a.dst)
    params = {}
    if a.tls_creds:
        params["tls-creds"] = a.tls_creds
    if a.multifd:
        params["multifd-channels"] = a.multifd
    caps = [{"capability": "multifd", "state": bool(a.multifd)}]
    if params:
        dst.cmd("migrate-set-parameters", **params)
    dst.cmd("migrate-set-capabilities", capabilities=caps)
    dst.cmd("migrate-incoming", uri=a.uri)
    if a.tls_creds:
        params["tls-creds"] = a.src_tls_creds or a.tls_creds
        params["tls-hostname"] = a.tls_hostname
    params["max-bandwidth"] = a.max_bandwidth
    src.cmd("migrate-set-parameters", **params)
    src.cmd("migrate-set-capabilities", capabilities=caps)
    s0, d0 = ticks(a.src_pid), ticks(a.dst_pid)
    t0 = time.monotonic()
    src.cmd("migrate", uri=a.uri)
    poll = 0.02
    while True:
        q = src.cmd("query-migrate")
        st = q.get("status", "")
        if st in ("completed", "failed", "cancelled"):
            break
        time.sleep(poll)
        poll = min(poll * 2, 0.25)
    t1 = time.monotonic()
    s1, d1 = ticks(a.src_pid), ticks(a.dst_pid)
    if st == "completed":
        # the target has everything once the source says so (vmhost: the
        # return path confirmed it); QEMU's target may still be loading
        deadline = time.time() + 30
        while dst.cmd("query-status").get("status") == "inmigrate":
            if time.time() > deadline:
                break
            time.sleep(0.02)
        d1 = ticks(a.dst_pid)
    print("status=%s wall_ms=%d total_ms=%s downtime_ms=%s src_ticks=%d "
          "dst_ticks=%d ram_bytes=%s error=%s"
          % (st, (t1 - t0) * 1000, q.get("total-time", -1),
             q.get("downtime", -1), s1 - s0, d1 - d0,
             q.get("ram", {}).get("transferred", -1),
             json.dumps(q.get("error-desc", ""))))
    return 0 if st == "completed" else 1


def hmp(a):
    print(Qmp(a.sock).cmd("human-monitor-command", **{"command-line": a.line}))
    return 0


def cmd(a):
    print(json.dumps(Qmp(a.sock).cmd(a.command)))
    return 0


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="what", required=True)
    m = sub.add_parser("migrate")
    m.add_argument("--src", required=True)
    m.add_argument("--dst", required=True)
    m.add_argument("--src-pid", type=int, required=True)
    m.add_argument("--dst-pid", type=int, required=True)
    m.add_argument("--uri", required=True)
    m.add_argument("--tls-creds")
    m.add_argument("--tls-hostname")
    m.add_argument("--src-tls-creds",
                   help="the source's credentials id, if not --tls-creds")
    m.add_argument("--max-bandwidth", type=int, default=0)
    m.add_argument("--multifd", type=int, default=0)
    h = sub.add_parser("hmp")
    h.add_argument("sock")
    h.add_argument("line")
    c = sub.add_parser("cmd")
    c.add_argument("sock")
    c.add_argument("command")
    a = p.parse_args()
    return {"migrate": migrate, "hmp": hmp, "cmd": cmd}[a.what](a)


if __name__ == "__main__":
    sys.exit(main())
