#!/bin/sh
# bench/daemon: the management daemon against Debian's libvirtd, in the same
# run, with the same clients (python3-libvirt under /usr/bin/python3, see
# daemon-bench.py), the same certificates (vmhost-pki --layout libvirt:
# RSA-3072, digitalSignature + keyEncipherment) and the same TLS priority:
#   1. dom.info() on one TLS connection: calls/s, p50/p99 latency, and the
#      daemon's CPU per call (utime + stime from /proc/PID/stat);
#   2. TLS connect + CONNECT_OPEN + close, one after the other:
#      connections/s (client-bound: the client's RSA work dominates) and the
#      daemon's CPU per connection, which is what the daemon controls;
#   3. the daemon's VmRSS growth per idle connection, over N idle TLS and N
#      idle UNIX-socket connections, and GnuTLS's own share of it: N bare
#      GnuTLS server sessions after their handshake (tls-idle-mem.c);
#   4. create -> running and destroy -> shut off, CYCLES times over one TLS
#      connection (the calls `virsh start` and `virsh destroy` make), p50
#      and p99, and the daemon's CPU per cycle;
#   5. at max_clients (fresh daemons with a small limit), what the next
#      client sees, from virsh and from python3-libvirt, cut after a bound.
# libvirtd runs its built-in test driver (test:///default, domain "test")
# from a private config on 127.0.0.1, unprivileged (as nobody when we are
# root). vmhostd runs side by side when it exists: VMHOSTD=path (default
# BUILD/src/vmhostd/vmhostd if it runs; VMHOSTD= to leave it out), with one
# running domain "bench"; then every figure gets a vmhostd/libvirtd ratio.
# Calls and connections are the median of REPS runs, the daemons
# interleaved. Environment: BENCH_REPS (3), BENCH_SECONDS (3 per figure per
# daemon per run), BENCH_IDLE (100 connections), BENCH_PRIORITY (NORMAL),
# BENCH_CYCLES (50), BENCH_MAX_CLIENTS (5), BENCH_FULL_WAIT (5 s).
set -eu

build=${1:-build}
here=$(cd "$(dirname "$0")/.." && pwd)
bench="$here/daemon/daemon-bench.py"
pki_tool="$build/src/vmhost-pki/vmhost-pki"
stream="$build/src/vmhost-stream/vmhost-stream"
vmhost="$build/src/vmhost/vmhost"
py=/usr/bin/python3
reps=${BENCH_REPS:-3}
seconds=${BENCH_SECONDS:-3}
idle=${BENCH_IDLE:-100}
prio=${BENCH_PRIORITY:-NORMAL}
if [ -z "${VMHOSTD+set}" ]; then
    VMHOSTD="$build/src/vmhostd/vmhostd"
    "$VMHOSTD" --version >/dev/null 2>&1 || VMHOSTD=""
fi

for prog in /usr/sbin/libvirtd virsh; do
    command -v "$prog" >/dev/null 2>&1 || {
        echo "bench/daemon: skipped: $prog is not installed (libvirt-daemon, libvirt-clients)"
        exit 0
    }
done
"$py" -c 'import libvirt' 2>/dev/null || {
    echo "bench/daemon: skipped: $py has no libvirt module (python3-libvirt)"
    exit 0
}

work=$(mktemp -d "${TMPDIR:-/tmp}/vmhost-bench-daemon.XXXXXX")
pids=""
cleanup() {
    for p in $pids; do
        kill "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    # vmhostd's machines outlive it by design: stop those it started here
    for p in $(ps -eo pid=,args= | awk -v w="$work" 'index($0, w) && $2 ~ /vmhost$/ { print $1 }'); do
        kill -KILL "$p" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

free_port() { "$stream" free-port 127.0.0.1; }
wait_for() { # wait_for COND WHAT
    i=0
    until eval "$1"; do
        i=$((i + 1))
        [ "$i" -lt 300 ] || { echo "bench/daemon: $2" >&2; exit 1; }
        sleep 0.05
    done
}
median() { tr ' ' '\n' | grep . | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
field() { tr ' ' '\n' | sed -n "s/^$1=//p"; } # field KEY < "k=v k=v"
# penv NAME: an env command giving a daemon or client a private HOME/XDG tree
penv() {
    mkdir -p "$work/$1/home" "$work/$1/run"
    echo "env HOME=$work/$1/home XDG_CONFIG_HOME=$work/$1/home/.config" \
        "XDG_CACHE_HOME=$work/$1/home/.cache XDG_RUNTIME_DIR=$work/$1/run" \
        "XDG_DATA_HOME=$work/$1/home/.local/share"
}

pki="$work/pki"
"$pki_tool" init-ca "$pki" --layout libvirt --cn "bench CA" >/dev/null
"$pki_tool" issue server "$pki" --layout libvirt --hostname localhost \
    --ip 127.0.0.1 >/dev/null
"$pki_tool" issue client "$pki" --layout libvirt --dn "CN=bench-client" >/dev/null
client_env=$(penv client)
# daemon_conf PORT SOCKDIR MAX_CLIENTS: the listener keys both daemons share
daemon_conf() {
    cat <<EOF
listen_tls = 1
listen_tcp = 0
tls_port = "$1"
listen_addr = "127.0.0.1"
unix_sock_dir = "$2"
unix_sock_rw_perms = "0777"
key_file = "$pki/libvirt/private/serverkey.pem"
cert_file = "$pki/libvirt/servercert.pem"
ca_file = "$pki/CA/cacert.pem"
tls_priority = "$prio"
tls_allowed_dn_list = ["CN=bench-client"]
max_clients = $3
max_anonymous_clients = $3
EOF
}

as_user=""
if [ "$(id -u)" -eq 0 ]; then
    chmod 0711 "$work"
    chown -R nobody:nogroup "$pki"
    as_user="setpriv --reuid=nobody --regid=nogroup --clear-groups"
fi
lv_ver=$(/usr/sbin/libvirtd --version | awk '{ print $NF }')

# start_lv TAG MAX_CLIENTS: a libvirtd; sets TAG_pid, TAG_tls, TAG_unix
start_lv() {
    port=$(free_port)
    mkdir -p "$work/$1/sock"
    {
        daemon_conf "$port" "$work/$1/sock" "$2"
        echo 'auth_tls = "none"'
        echo 'auth_unix_rw = "none"'
        echo 'auth_unix_ro = "none"'
    } >"$work/$1.conf"
    env=$(penv "$1")
    [ -z "$as_user" ] || chown -R nobody:nogroup "$work/$1"
    $env $as_user /usr/sbin/libvirtd --listen -f "$work/$1.conf" \
        >"$work/$1.log" 2>&1 &
    eval "$1_pid=$!"
    pids="$pids $!"
    sock="$work/$1/sock/libvirt-sock"
    wait_for '[ -S "$sock" ]' "libvirtd did not start: $(cat "$work/$1.log")"
    eval "$1_tls='test+tls://localhost:$port/default?pkipath=$pki/pkipath&tls_priority=$prio'"
    eval "$1_unix='test+unix:///default?socket=$work/$1/sock/libvirt-sock'"
}

# start_vd TAG MAX_CLIENTS: a vmhostd; sets TAG_pid, TAG_tls, TAG_unix
start_vd() {
    port=$(free_port)
    mkdir -p "$work/$1/sock"
    daemon_conf "$port" "$work/$1/sock" "$2" >"$work/$1.conf"
    echo "vmhost_binary = \"$vmhost\"" >"$work/$1-driver.conf"
    env=$(penv "$1")
    $env "$VMHOSTD" --session --listen --config "$work/$1.conf" \
        --driver-config "$work/$1-driver.conf" >"$work/$1.log" 2>&1 &
    eval "$1_pid=$!"
    pids="$pids $!"
    i=0
    until [ -S "$work/$1/sock/vmhost-sock" ] || [ "$i" -ge 200 ]; do
        sleep 0.05
        i=$((i + 1))
    done
    eval "$1_tls='vmhost+tls://localhost:$port/system?pkipath=$pki/pkipath&tls_priority=$prio'"
    eval "$1_unix='vmhost+unix:///system?socket=$work/$1/sock/vmhost-sock'"
}

# domain_xml TYPE NAME
domain_xml() {
    cat <<EOF
<domain type='$1'>
  <name>$2</name>
  <memory unit='MiB'>32</memory>
  <vcpu>1</vcpu>
  <os><type>hvm</type></os>
</domain>
EOF
}

# ---- libvirtd ----
start_lv lv 5000
lv_dom=test

# ---- vmhostd, when there is one ----
have_vd=0
if [ -n "$VMHOSTD" ]; then
    start_vd vd 5000
    vd_dom=bench
    domain_xml vmhost bench >"$work/bench.xml"
    if $client_env virsh -q -c "$vd_tls" create "$work/bench.xml" \
        >"$work/vd-create.log" 2>&1; then
        have_vd=1
    else
        echo "bench/daemon: vmhostd ($VMHOSTD) left out: $(tail -n 2 "$work/vd-create.log" "$work/vd.log" | tr '\n' ' ')"
    fi
fi

# run NAME MODE ARGS...: one measurement, its key=value line on stdout
run() {
    name=$1
    shift
    $client_env "$py" "$bench" "$@" 2>"$work/$name.err" || {
        echo "bench/daemon: $name: $(tail -n 3 "$work/$name.err" | tr '\n' ' ')" >&2
        exit 1
    }
}

echo "bench/daemon: $(nproc) cores, libvirtd $lv_ver (test driver) vs" \
    "$([ "$have_vd" = 1 ] && echo "vmhostd" || echo "no vmhostd"), RSA-3072," \
    "tls_priority $prio, median of $reps runs of $seconds s"
# Idle connections first, on fresh daemons: later churn leaves free heap
# that new connections would reuse without growing RSS.
for d in lv vd; do
    [ "$d" = vd ] && [ "$have_vd" = 0 ] && continue
    eval "uri=\$${d}_tls unix=\$${d}_unix pid=\$${d}_pid"
    eval "munix_$d=$(run "$d-idle-unix" idle "$unix" "$pid" "$idle" | field kib_per_conn)"
    eval "mtls_$d=$(run "$d-idle-tls" idle "$uri" "$pid" "$idle" | field kib_per_conn)"
done
for d in lv vd; do
    eval "lvc_$d='' lp50_$d='' lp99_$d='' lcpu_$d='' crate_$d='' ccpu_$d=''"
done
i=0
while [ "$i" -lt "$reps" ]; do
    for d in lv vd; do
        [ "$d" = vd ] && [ "$have_vd" = 0 ] && continue
        eval "uri=\$${d}_tls dom=\$${d}_dom pid=\$${d}_pid"
        line=$(run "$d-calls" calls "$uri" "$dom" "$pid" "$seconds")
        eval "lvc_$d=\"\$lvc_$d $(echo "$line" | field rate)\""
        eval "lp50_$d=\"\$lp50_$d $(echo "$line" | field p50_us)\""
        eval "lp99_$d=\"\$lp99_$d $(echo "$line" | field p99_us)\""
        eval "lcpu_$d=\"\$lcpu_$d $(echo "$line" | field cpu_us_per_call)\""
        cline=$(run "$d-connect" connect "$uri" "$pid" "$seconds")
        eval "crate_$d=\"\$crate_$d $(echo "$cline" | field rate)\""
        eval "ccpu_$d=\"\$ccpu_$d $(echo "$cline" | field cpu_ms_per_conn)\""
        echo "  run $((i + 1)) $d: dom.info() $(echo "$line" | field rate)/s" \
            "p50 $(echo "$line" | field p50_us) us p99 $(echo "$line" | field p99_us) us," \
            "$(echo "$line" | field cpu_us_per_call) us daemon CPU/call;" \
            "connect $(echo "$cline" | field rate)/s," \
            "$(echo "$cline" | field cpu_ms_per_conn) ms daemon CPU/conn"
    done
    i=$((i + 1))
done

for d in lv vd; do
    [ "$d" = vd ] && [ "$have_vd" = 0 ] && continue
    for v in lvc lp50 lp99 lcpu crate ccpu; do
        eval "${v}_$d=\$(echo \"\$${v}_$d\" | median)"
    done
done

# GnuTLS's own share of an idle TLS connection: bare server sessions with
# the same certificates and priority (tls-idle-mem.c), with one compiled
# priority shared (as vmhostd) and one per session (as libvirtd)
gnutls_kib="" gnutls_direct_kib=""
mem_tool="$build/bench/daemon/tls-idle-mem"
if [ -x "$mem_tool" ]; then
    set -- "$pki/CA/cacert.pem" "$pki/libvirt/servercert.pem" \
        "$pki/libvirt/private/serverkey.pem" "$pki/pkipath/clientcert.pem" \
        "$pki/pkipath/clientkey.pem" "$prio" "$idle"
    gnutls_kib=$("$mem_tool" "$@" | field kib_per_conn)
    gnutls_direct_kib=$("$mem_tool" "$@" direct | field kib_per_conn)
fi

# start -> running and destroy -> shut off, over one open TLS connection
# (what `virsh start` and `virsh destroy` call after connecting)
cycles=${BENCH_CYCLES:-50}
domain_xml test cycle >"$work/cycle-test.xml"
domain_xml vmhost cycle >"$work/cycle-vmhost.xml"
cyc_lv=$(run lv-cycle cycle "$lv_tls" "$lv_pid" "$work/cycle-test.xml" "$cycles")
cyc_vd=""
if [ "$have_vd" = 1 ]; then
    cyc_vd=$(run vd-cycle cycle "$vd_tls" "$vd_pid" "$work/cycle-vmhost.xml" "$cycles")
fi

# max_clients: fresh daemons with a small limit, the limit's clients held
# open; what the next client sees (virsh and python3-libvirt), bounded
maxc=${BENCH_MAX_CLIENTS:-5}
full_wait=${BENCH_FULL_WAIT:-5}
start_lv lvf "$maxc"
full_lv=$(run lv-full full "$lvf_tls" "$maxc" "$full_wait")
full_vd=""
if [ "$have_vd" = 1 ]; then
    start_vd vdf "$maxc"
    full_vd=$(run vd-full full "$vdf_tls" "$maxc" "$full_wait")
fi

# row NAME HIGHER_IS_BETTER LIBVIRTD VMHOSTD: one table row with the ratio
row() {
    awk -v n="$1" -v h="$2" -v a="$3" -v b="$4" -v vd="$have_vd" 'BEGIN {
        if (vd != 1) { printf "| %s | %.2f |\n", n, a; exit }
        r = (a > 0) ? b / a : 0
        printf "| %s | %.2f | %.2f | %.2fx%s |\n", n, a, b, r,
            (h == 1 ? " (higher is better)" : "")
    }'
}
report=$(
    if [ "$have_vd" = 1 ]; then
        echo "| figure | libvirtd $lv_ver | vmhostd | vmhostd / libvirtd |"
        echo "|---|---|---|---|"
    else
        echo "| figure | libvirtd $lv_ver |"
        echo "|---|---|"
    fi
    row "dom.info() calls/s (one TLS connection)" 1 "$lvc_lv" "${lvc_vd:-0}"
    row "dom.info() p50 us" 0 "$lp50_lv" "${lp50_vd:-0}"
    row "dom.info() p99 us" 0 "$lp99_lv" "${lp99_vd:-0}"
    row "daemon CPU per call, us" 0 "$lcpu_lv" "${lcpu_vd:-0}"
    row "TLS connect+open+close per s" 1 "$crate_lv" "${crate_vd:-0}"
    row "daemon CPU per TLS connection, ms" 0 "$ccpu_lv" "${ccpu_vd:-0}"
    row "daemon RSS per idle TLS connection, KiB" 0 "$mtls_lv" "${mtls_vd:-0}"
    row "daemon RSS per idle UNIX connection, KiB" 0 "$munix_lv" "${munix_vd:-0}"
    for k in start_p50_ms start_p99_ms destroy_p50_ms destroy_p99_ms cpu_ms_per_cycle; do
        row "create/destroy x$cycles: $k" 0 "$(echo "$cyc_lv" | field $k)" \
            "$(echo "${cyc_vd:-}" | field $k)"
    done
    echo
    echo "(idle connections: $idle per transport; RSS growth after a first connection)"
    [ -z "$gnutls_kib" ] || echo "GnuTLS's own share (tls-idle-mem: bare server sessions, same certificates and priority, one record each way): $gnutls_kib KiB per session with a shared compiled priority (vmhostd's way), $gnutls_direct_kib KiB with gnutls_priority_set_direct() per session (libvirtd's way)"
    echo "at max_clients=$maxc, client $((maxc + 1)) of libvirtd: $full_lv"
    [ -z "$full_vd" ] || echo "at max_clients=$maxc, client $((maxc + 1)) of vmhostd: $full_vd"
)
echo
echo "$report"
mkdir -p "$here/results"
{
    echo "## daemon $(date -u +%Y-%m-%dT%H:%MZ) reps=$reps seconds=$seconds idle=$idle priority=$prio"
    echo
    echo "$report"
    echo
} >>"$here/results/daemon.md"
