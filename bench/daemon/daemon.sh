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
#      idle UNIX-socket connections.
# libvirtd runs its built-in test driver (test:///default, domain "test")
# from a private config on 127.0.0.1, unprivileged (as nobody when we are
# root). vmhostd runs side by side when it exists: VMHOSTD=path (default
# BUILD/src/vmhostd/vmhostd if it runs; VMHOSTD= to leave it out), with one
# running domain "bench"; then every figure gets a vmhostd/libvirtd ratio.
# Calls and connections are the median of REPS runs, the daemons
# interleaved. Environment: BENCH_REPS (3), BENCH_SECONDS (3 per figure per
# daemon per run), BENCH_IDLE (100 connections), BENCH_PRIORITY (NORMAL).
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
# daemon_conf PORT SOCKDIR: the listener keys both daemons share
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
max_clients = 5000
max_anonymous_clients = 5000
EOF
}

# ---- libvirtd ----
lv_port=$(free_port)
mkdir -p "$work/lv/sock"
{
    daemon_conf "$lv_port" "$work/lv/sock"
    echo 'auth_tls = "none"'
    echo 'auth_unix_rw = "none"'
    echo 'auth_unix_ro = "none"'
} >"$work/libvirtd.conf"
lv_env=$(penv lv)
as_user=""
if [ "$(id -u)" -eq 0 ]; then
    chmod 0711 "$work"
    chown -R nobody:nogroup "$work/lv" "$pki"
    as_user="setpriv --reuid=nobody --regid=nogroup --clear-groups"
fi
$lv_env $as_user /usr/sbin/libvirtd --listen -f "$work/libvirtd.conf" \
    >"$work/libvirtd.log" 2>&1 &
lv_pid=$!
pids="$pids $lv_pid"
wait_for '[ -S "$work/lv/sock/libvirt-sock" ]' "libvirtd did not start (see its log)"
lv_tls="test+tls://localhost:$lv_port/default?pkipath=$pki/pkipath&tls_priority=$prio"
lv_unix="test+unix:///default?socket=$work/lv/sock/libvirt-sock"
lv_dom=test
lv_ver=$(/usr/sbin/libvirtd --version | awk '{ print $NF }')

# ---- vmhostd, when there is one ----
have_vd=0
if [ -n "$VMHOSTD" ]; then
    vd_port=$(free_port)
    mkdir -p "$work/vd/sock"
    daemon_conf "$vd_port" "$work/vd/sock" >"$work/vmhostd.conf"
    echo "vmhost_binary = \"$vmhost\"" >"$work/driver.conf"
    vd_env=$(penv vd)
    $vd_env "$VMHOSTD" --session --listen --config "$work/vmhostd.conf" \
        --driver-config "$work/driver.conf" >"$work/vmhostd.log" 2>&1 &
    vd_pid=$!
    pids="$pids $vd_pid"
    vd_tls="vmhost+tls://localhost:$vd_port/system?pkipath=$pki/pkipath&tls_priority=$prio"
    vd_unix="vmhost+unix:///system?socket=$work/vd/sock/vmhost-sock"
    vd_dom=bench
    cat >"$work/bench.xml" <<EOF
<domain type='vmhost'>
  <name>bench</name>
  <memory unit='MiB'>32</memory>
  <vcpu>1</vcpu>
  <os><type>hvm</type></os>
</domain>
EOF
    i=0
    until [ -S "$work/vd/sock/vmhost-sock" ] || [ "$i" -ge 200 ]; do
        sleep 0.05
        i=$((i + 1))
    done
    if $client_env virsh -q -c "$vd_tls" create "$work/bench.xml" \
        >"$work/vd-create.log" 2>&1; then
        have_vd=1
    else
        echo "bench/daemon: vmhostd ($VMHOSTD) left out: $(tail -n 2 "$work/vd-create.log" "$work/vmhostd.log" | tr '\n' ' ')"
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

report=$(awk -v have_vd="$have_vd" -v ver="$lv_ver" -v idle="$idle" \
    -v a1="$lvc_lv" -v a2="$lp50_lv" -v a3="$lp99_lv" -v a4="$lcpu_lv" \
    -v a5="$crate_lv" -v a6="$ccpu_lv" -v a7="$mtls_lv" -v a8="$munix_lv" \
    -v b1="${lvc_vd:-}" -v b2="${lp50_vd:-}" -v b3="${lp99_vd:-}" \
    -v b4="${lcpu_vd:-}" -v b5="${crate_vd:-}" -v b6="${ccpu_vd:-}" \
    -v b7="${mtls_vd:-}" -v b8="${munix_vd:-}" 'BEGIN {
    split("dom.info() calls/s (one TLS connection)|dom.info() p50 us|dom.info() p99 us|daemon CPU per call, us|TLS connect+open+close per s|daemon CPU per TLS connection, ms|daemon RSS per idle TLS connection, KiB|daemon RSS per idle UNIX connection, KiB", name, "|")
    split("1|0|0|0|1|0|0|0", higher, "|")
    a[1] = a1; a[2] = a2; a[3] = a3; a[4] = a4; a[5] = a5; a[6] = a6; a[7] = a7; a[8] = a8
    b[1] = b1; b[2] = b2; b[3] = b3; b[4] = b4; b[5] = b5; b[6] = b6; b[7] = b7; b[8] = b8
    if (have_vd == 1) {
        printf "| %s | libvirtd %s | vmhostd | vmhostd / libvirtd |\n", "figure", ver
        printf "|---|---|---|---|\n"
    } else {
        printf "| %s | libvirtd %s |\n|---|---|\n", "figure", ver
    }
    for (i = 1; i <= 8; i++) {
        if (have_vd == 1) {
            r = (a[i] > 0) ? b[i] / a[i] : 0
            printf "| %s | %.1f | %.1f | %.2fx%s |\n", name[i], a[i], b[i], r,
                (higher[i] ? " (higher is better)" : "")
        } else {
            printf "| %s | %.2f |\n", name[i], a[i]
        }
    }
    printf "\n(idle connections: %d per transport; RSS growth after a first connection)\n", idle
}')
echo
echo "$report"
mkdir -p "$here/results"
{
    echo "## daemon $(date -u +%Y-%m-%dT%H:%MZ) reps=$reps seconds=$seconds idle=$idle priority=$prio"
    echo
    echo "$report"
    echo
} >>"$here/results/daemon.md"
