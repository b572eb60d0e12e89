#!/bin/sh
# bench/chardev: character device servers, in the same run:
#   1. round-trip latency (p50, mean, p90, p99) of 64-byte lines ("echo "
#      + 58 characters + newline) answered by the test guest console behind
#      a vmhost TLS chardev server and behind a vmhost plain TCP chardev
#      server; both connections stay open and the round trips alternate in
#      blocks (chardev-bench rtt). Each run prints its own figures and the
#      wake-ups per round trip (voluntary context switches of the client
#      and of each server, and the servers' CPU migrations), so a run that
#      falls into a slow mode shows, and shows where (issue 11). The runs
#      are made in three placements: free (the scheduler's), same (client
#      and servers pinned to one CPU: no vCPU ever halts) and cross
#      (servers on one CPU, client on the other: every message wakes a
#      halted vCPU), so each run shows both modes and the ratio in each;
#   1b. what TLS itself costs per round trip on this CPU, without network
#      or main loop: the same 64- and 59-byte exchange between two GnuTLS
#      sessions over a socketpair in one thread, against plain send/recv
#      (chardev-bench records): plain p50 + that cost is the best TLS p50
#      any server could reach with GnuTLS here;
#   2. new TLS connections per second (TCP connect, full x509 handshake
#      both ways, close-notify, close; one after the other) to a vmhost TLS
#      chardev server and to QEMU's TLS chardev server with its HMP monitor
#      on it, with default options (QEMU's nodelay is off by default), and,
#      for reference, QEMU with nodelay=on (chardev-bench connrate).
# Same certificates (vmhost-pki), same priority (TLS 1.3 only) everywhere.
# Every figure is the median of REPS runs, the peers interleaved.
# Environment: BENCH_REPS (3), BENCH_RTT_COUNT (40000 round trips per
# transport per run), BENCH_CONN_SECONDS (3 per server per run),
# BENCH_PLACEMENTS ("free same cross"), QEMU.
set -eu

build=${1:-build}
here=$(cd "$(dirname "$0")/.." && pwd)
vmhost="$build/src/vmhost/vmhost"
pki_tool="$build/src/vmhost-pki/vmhost-pki"
stream="$build/src/vmhost-stream/vmhost-stream"
client="$build/bench/chardev/chardev-bench"
qemu=${QEMU:-qemu-system-x86_64}
reps=${BENCH_REPS:-3}
count=${BENCH_RTT_COUNT:-40000}
seconds=${BENCH_CONN_SECONDS:-3}
prio="NORMAL:-VERS-ALL:+VERS-TLS1.3"

work=$(mktemp -d "${TMPDIR:-/tmp}/vmhost-bench-chardev.XXXXXX")
pids=""
cleanup() {
    for p in $pids; do
        kill "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

pki="$work/pki"
mkdir "$pki"
"$pki_tool" init-ca "$pki" --cn "bench CA" >/dev/null
"$pki_tool" issue server "$pki" --hostname localhost --ip 127.0.0.1 >/dev/null
"$pki_tool" issue client "$pki" --dn "CN=bench-client" >/dev/null

free_port() { "$stream" free-port 127.0.0.1; }
listening() { ss -Hltn "sport = :$1" 2>/dev/null | grep -q LISTEN; }
wait_listening() {
    i=0
    until listening "$1"; do
        i=$((i + 1))
        [ "$i" -lt 200 ] || { echo "bench/chardev: $2 did not listen on $1" >&2; exit 1; }
        sleep 0.05
    done
}
median() { tr ' ' '\n' | grep . | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# vmhost_server NAME PORT [TLS]: a vmhost whose guest console is on a
# chardev server at 127.0.0.1:PORT, with TLS when a third argument is given.
vmhost_server() {
    if [ $# -gt 2 ]; then
        "$vmhost" -object "tls-creds-x509,id=tls0,endpoint=server,dir=$pki,priority=$prio" \
            -chardev "socket,id=c0,host=127.0.0.1,port=$2,server=on,wait=off,tls-creds=tls0" \
            -device isa-serial,chardev=c0 >"$work/$1.log" 2>&1 &
    else
        "$vmhost" -chardev "socket,id=c0,host=127.0.0.1,port=$2,server=on,wait=off" \
            -device isa-serial,chardev=c0 >"$work/$1.log" 2>&1 &
    fi
    pids="$pids $!"
    eval "pid_$1=$!"
    wait_listening "$2" "vmhost $1"
}

# wakes PID: voluntary context switches of all its threads, CPU
# migrations of its main thread (the chardev's main loop), and the CPU time
# of all its threads in ns (schedstat).
wakes() {
    awk '/^voluntary_ctxt_switches/ { v += $2 } END { printf "%d ", v }' \
        /proc/"$1"/task/*/status
    awk '/nr_migrations/ { printf "%d ", $3; exit }' /proc/"$1"/sched 2>/dev/null || printf "0 "
    cat /proc/"$1"/task/*/schedstat | awk '{ t += $1 } END { printf "%.0f\n", t }'
}

# qemu_server PORT [CHARDEV OPTIONS]: QEMU's TLS chardev server with its
# HMP monitor on it.
qemu_server() {
    "$qemu" -nodefaults -display none -machine none \
        -object "tls-creds-x509,id=tls0,endpoint=server,dir=$pki,priority=$prio" \
        -chardev "socket,id=c0,host=127.0.0.1,port=$1,server=on,wait=off,tls-creds=tls0${2:-}" \
        -mon chardev=c0,mode=readline >"$work/qemu-$1.log" 2>&1 &
    pids="$pids $!"
    wait_listening "$1" "QEMU"
}

tls_port=$(free_port)
vmhost_server tls "$tls_port" tls
plain_port=$(free_port)
vmhost_server plain "$plain_port"

# place WHERE: pin both servers (all their threads) and set the client's
# prefix. free: the scheduler's choice; same: client and servers on CPU 1
# (the mode in which neither side's vCPU ever halts); cross: servers on
# CPU 0, client on CPU 1 (every message wakes a halted vCPU).
place() {
    case "$1" in
    free) cpus=0-$(($(nproc) - 1)) client_cpu="" ;;
    same) cpus=1 client_cpu="taskset -c 1" ;;
    cross) cpus=0 client_cpu="taskset -c 1" ;;
    esac
    taskset -a -p -c "$cpus" "$pid_tls" >/dev/null
    taskset -a -p -c "$cpus" "$pid_plain" >/dev/null
}
placements=${BENCH_PLACEMENTS:-free same cross}
if [ "$(nproc)" -lt 2 ] || ! command -v taskset >/dev/null 2>&1; then
    placements=free
fi

echo "bench/chardev: $(nproc) cores, median of $reps runs"
echo "round trips: $count per transport per run, 64-byte lines to the test guest console"
echo "  (wake-ups: voluntary context switches per round trip, client/server;"
echo "   mig: the server main loop's CPU migrations during the run;"
echo "   server CPU: all its threads, per round trip)"
: >"$work/modes"
for placement in $placements; do
    place "$placement"
    tp50="" tp99="" tmean="" tp90="" pp50="" pp99="" pmean="" pp90=""
    i=0
    while [ "$i" -lt "$reps" ]; do
        set -- $(wakes "$pid_tls") $(wakes "$pid_plain")
        tw0=$1 tm0=$2 tc0=$3 pw0=$4 pm0=$5 pc0=$6
        $client_cpu "$client" rtt --tls "127.0.0.1:$tls_port" --plain "127.0.0.1:$plain_port" \
            --dir "$pki" --priority "$prio" --count "$count" --blocks 8 >"$work/rtt"
        set -- $(wakes "$pid_tls") $(wakes "$pid_plain")
        tw=$(($1 - tw0)) tm=$(($2 - tm0)) tc=$(($3 - tc0))
        pw=$(($4 - pw0)) pm=$(($5 - pm0)) pc=$(($6 - pc0))
        # rtt NAME N p50 p99 mean p90 client-csw-per-rtt
        set -- $(awk '$2 == "tls" { print $4, $5, $6, $7, $8 }' "$work/rtt")
        tp50="$tp50 $1" tp99="$tp99 $2" tmean="$tmean $3" tp90="$tp90 $4"
        tline=$(awk -v w="$tw" -v m="$tm" -v n="$count" -v c="$5" -v p50="$1" \
            -v mean="$3" -v p90="$4" -v p99="$2" -v cpu="$tc" 'BEGIN {
            printf "TLS %.1f/%.1f/%.1f/%.1f us, wake-ups %.2f/%.2f, mig %d, server CPU %.1f us", p50, mean, p90, p99, c, w / n, m, cpu / n / 1000 }')
        set -- $(awk '$2 == "plain" { print $4, $5, $6, $7, $8 }' "$work/rtt")
        pp50="$pp50 $1" pp99="$pp99 $2" pmean="$pmean $3" pp90="$pp90 $4"
        pline=$(awk -v w="$pw" -v m="$pm" -v n="$count" -v c="$5" -v p50="$1" \
            -v mean="$3" -v p90="$4" -v p99="$2" -v cpu="$pc" 'BEGIN {
            printf "plain %.1f/%.1f/%.1f/%.1f us, wake-ups %.2f/%.2f, mig %d, server CPU %.1f us", p50, mean, p90, p99, c, w / n, m, cpu / n / 1000 }')
        echo "  $placement, run $((i + 1)) (p50/mean/p90/p99): $tline; $pline"
        i=$((i + 1))
    done
    # one line per placement: the medians, TLS then plain
    echo "$placement $(echo "$tp50" | median) $(echo "$tmean" | median)" \
        "$(echo "$tp90" | median) $(echo "$tp99" | median)" \
        "$(echo "$pp50" | median) $(echo "$pmean" | median)" \
        "$(echo "$pp90" | median) $(echo "$pp99" | median)" >>"$work/modes"
done
place free
rt="" rp=""
i=0
while [ "$i" -lt "$reps" ]; do
    "$client" records --dir "$pki" --priority "$prio" --count "$count" >"$work/records"
    rt="$rt $(awk '$2 == "tls" { print $4 }' "$work/records")"
    rp="$rp $(awk '$2 == "plain" { print $4 }' "$work/records")"
    i=$((i + 1))
done
rec_tls=$(echo "$rt" | median) rec_plain=$(echo "$rp" | median)
echo "  GnuTLS alone, 4 record calls per round trip: $rec_tls us vs $rec_plain us for send/recv"
# the headline rows: the scheduler's placement, as an operator runs it
set -- $(awk '$1 == "free" { print $2, $3, $4, $5, $6, $7, $8, $9 }' "$work/modes")
tls_p50=$1 tls_mean=$2 tls_p90=$3 tls_p99=$4
plain_p50=$5 plain_mean=$6 plain_p90=$7 plain_p99=$8

have_qemu=0
if command -v "$qemu" >/dev/null 2>&1; then
    have_qemu=1
    qemu_port=$(free_port)
    qemu_server "$qemu_port"
    qemu_nd_port=$(free_port)
    qemu_server "$qemu_nd_port" ",nodelay=on"
    qver=$("$qemu" --version | sed -n 's/^QEMU emulator version \([0-9.]*\).*/\1/p')
fi
connrate() {
    "$client" connrate --connect "127.0.0.1:$1" --dir "$pki" --priority "$prio" \
        --seconds "$seconds" | awk '{ print $4 }'
}
echo "new TLS connections: $seconds s per server per run"
cv="" cq="" cqn=""
i=0
while [ "$i" -lt "$reps" ]; do
    v=$(connrate "$tls_port")
    cv="$cv $v"
    line="  run $((i + 1)): vmhost $v/s"
    if [ "$have_qemu" = 1 ]; then
        q=$(connrate "$qemu_port")
        qn=$(connrate "$qemu_nd_port")
        cq="$cq $q" cqn="$cqn $qn"
        line="$line, QEMU $q/s, QEMU nodelay=on $qn/s"
    fi
    echo "$line"
    i=$((i + 1))
done
conn_v=$(echo "$cv" | median)
conn_q=$(echo "$cq" | median)
conn_qn=$(echo "$cqn" | median)

report=$(awk -v tp50="$tls_p50" -v tp99="$tls_p99" -v pp50="$plain_p50" \
    -v pp99="$plain_p99" -v tmean="$tls_mean" -v tp90="$tls_p90" \
    -v pmean="$plain_mean" -v pp90="$plain_p90" -v cv="$conn_v" -v cq="${conn_q:-}" \
    -v cqn="${conn_qn:-}" -v qver="${qver:-}" -v rt="$rec_tls" \
    -v rp="$rec_plain" -v modes="$(tr '\n' ';' <"$work/modes")" 'BEGIN {
    printf "| round trip, 64-byte line | p50 us | mean us | p90 us | p99 us | p50 / mean / p99 vs plain TCP |\n"
    printf "|---|---|---|---|---|---|\n"
    printf "| vmhost TLS 1.3 chardev server | %.1f | %.1f | %.1f | %.1f | %.2fx / %.2fx / %.2fx |\n", tp50, tmean, tp90, tp99, tp50 / pp50, tmean / pmean, tp99 / pp99
    printf "| vmhost plain TCP chardev server | %.1f | %.1f | %.1f | %.1f | 1.00x |\n", pp50, pmean, pp90, pp99
    printf "| floor: plain p50 + GnuTLS record cost (%.2f us) | %.1f | - | - | - | %.2fx |\n", rt - rp, pp50 + rt - rp, (pp50 + rt - rp) / pp50
    n = split(modes, rows, ";")
    if (n > 2) {
        printf "\n| placement (TLS vs plain) | TLS p50 / mean / p90 / p99 us | plain p50 / mean / p90 / p99 us | p50 / mean / p99 vs plain |\n"
        printf "|---|---|---|---|\n"
        for (r = 1; r <= n; r++) {
            if (split(rows[r], f, " ") < 9) {
                continue
            }
            printf "| %s | %.1f / %.1f / %.1f / %.1f | %.1f / %.1f / %.1f / %.1f | %.2fx / %.2fx / %.2fx |\n", f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8], f[9], f[2] / f[6], f[3] / f[7], f[5] / f[9]
        }
    }
    printf "\n| new TLS 1.3 connections | per second | vmhost vs this |\n"
    printf "|---|---|---|\n"
    printf "| vmhost TLS chardev server | %.1f | 1.00x |\n", cv
    if (cq != "") {
        printf "| QEMU %s TLS chardev server (default, nodelay off) | %.1f | %.2fx |\n", qver, cq, cv / cq
        printf "| QEMU %s TLS chardev server, nodelay=on | %.1f | %.2fx |\n", qver, cqn, cv / cqn
    } else {
        printf "| QEMU (not installed) | - | - |\n"
    }
}')
echo
echo "$report"
mkdir -p "$here/results"
{
    echo "## chardev $(date -u +%Y-%m-%dT%H:%MZ) reps=$reps count=$count seconds=$seconds"
    echo
    echo "$report"
    echo
} >>"$here/results/chardev.md"
