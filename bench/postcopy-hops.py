#!/usr/bin/env python3
"""Post-copy's page requests hop by hop, from the debug-only trace
(lib/migration/postcopy-trace.h): run a post-copy with
VMHOST_POSTCOPY_TRACE=PREFIX in the environment of both vmhosts (the bench
passes its environment on), then

    postcopy-hops.py PREFIX

reads PREFIX.PID of both sides (one clock: one host) and prints, for the
median 100 requests, the slowest 1% and the slowest 10, each hop's mean
and max and how much of it the thread that ends the hop spent runnable
but not running (its run-queue wait from /proc/thread-self/schedstat):

    F fault thread read the fault      R REQ_PAGES written on REQUEST
    Q source read REQ_PAGES            S the page written on URGENT
    U target read URGENT's header      D its data read
    V the requested page placed (by URGENT, or by the bulk first)
"""
import bisect
import collections
import glob
import sys

ORDER = ['F', 'R', 'Q', 'S', 'U', 'D', 'V']


def load(prefix):
    ev = collections.defaultdict(lambda: collections.defaultdict(list))
    bytid = collections.defaultdict(list)
    for path in glob.glob(prefix + '.*'):
        with open(path) as f:
            for line in f:
                e, page, ns, tid, rq = line.split()
                ev[int(page)][e].append((int(ns), int(tid), int(rq)))
                bytid[int(tid)].append((int(ns), int(rq)))
    for t in bytid.values():
        t.sort()
    return ev, bytid


def requests(ev):
    """Each served request: its hops in order, the first of each after
    the one before (a page is requested again only after it was placed)."""
    rows = []
    for d in ev.values():
        for v in d.get('V', []):
            fs = [x for x in d.get('F', []) if x[0] <= v[0]]
            if not fs:
                continue
            r = {'F': max(fs)}
            prev = r['F'][0]
            for h in ORDER[1:-1]:
                c = [x for x in d.get(h, []) if prev <= x[0] <= v[0]]
                if c:
                    r[h] = min(c)
                    prev = r[h][0]
            r['V'] = v
            rows.append(r)
    rows.sort(key=lambda r: r['V'][0] - r['F'][0])
    return rows


def rq_wait(bytid, a, b, h):
    """Run-queue wait of b's thread from a (same thread) or, for the
    wake-ups Q and U, from that thread's event before b; None otherwise
    (a bulk thread's placement: its event before is unrelated)."""
    if a[1] == b[1]:
        return b[2] - a[2]
    if h not in ('Q', 'U'):
        return None
    lst = bytid[b[1]]
    i = bisect.bisect_left(lst, (b[0], -1))
    return b[2] - lst[i - 1][1] if i > 0 else 0


def report(name, sel, bytid):
    hop = collections.defaultdict(list)
    wait = collections.defaultdict(list)
    for r in sel:
        pk = 'F'
        for h in ORDER[1:]:
            if h not in r:
                continue
            k = pk + '>' + h
            hop[k].append(r[h][0] - r[pk][0])
            w = rq_wait(bytid, r[pk], r[h], h)
            if w is not None:
                wait[k].append(w)
            pk = h
    bulk = sum(1 for r in sel if 'D' not in r)
    print('%s: %d requests (%d served by the bulk first), ms mean/max, '
          'of which run-queue wait:' % (name, len(sel), bulk))
    for k in hop:
        w = wait.get(k)
        print('    %s %7.3f/%7.3f   %s' % (
            k, sum(hop[k]) / len(hop[k]) / 1e6, max(hop[k]) / 1e6,
            'wait %7.3f/%7.3f' % (sum(w) / len(w) / 1e6, max(w) / 1e6)
            if w else ''))


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    ev, bytid = load(sys.argv[1])
    rows = requests(ev)
    if not rows:
        sys.exit('postcopy-hops: no served request in %s.*' % sys.argv[1])
    lat = [r['V'][0] - r['F'][0] for r in rows]
    n = len(lat)
    print('requests %d: fault to placement p50 %.3f, p99 %.3f, max %.3f ms'
          % (n, lat[n // 2] / 1e6, lat[n * 99 // 100] / 1e6, lat[-1] / 1e6))
    report('median 100', rows[max(n // 2 - 50, 0):n // 2 + 50], bytid)
    report('slowest 1%', rows[n * 99 // 100:], bytid)
    report('slowest 10', rows[-10:], bytid)


if __name__ == '__main__':
    main()
