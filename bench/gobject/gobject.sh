#!/bin/sh
# bench/gobject: libvmhost-gobject from Python (PyGObject, no libvirt.so)
# against python3-libvirt on the same vmhostd, in the same run (see
# gobject-bench.py for the figures): DOMAIN_GET_INFO calls/s on one TLS
# connection and one UNIX-socket connection, sync from both, and 1000
# async calls in flight from one thread through the library. vmhostd runs
# in --session mode from $work with certificates from vmhost-pki --layout
# libvirt and one running domain "bench". Environment: BENCH_SECONDS (2),
# BENCH_REPS (3).
set -eu

build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
build=$(cd "$build" && pwd)
vmhostd="$build/src/vmhostd/vmhostd"
vmhost="$build/src/vmhost/vmhost"
pki_tool="$build/src/vmhost-pki/vmhost-pki"
stream="$build/src/vmhost-stream/vmhost-stream"
py=/usr/bin/python3
seconds=${BENCH_SECONDS:-2}
reps=${BENCH_REPS:-3}
export GI_TYPELIB_PATH="$build/libvmhost-gobject${GI_TYPELIB_PATH:+:$GI_TYPELIB_PATH}"
export LD_LIBRARY_PATH="$build/libvmhost-gobject${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

for f in "$vmhostd" "$build/libvmhost-gobject/VmhostGObject-1.0.typelib"; do
    [ -e "$f" ] || { echo "bench/gobject: skipped: $f is not built"; exit 0; }
done
"$py" -c 'import libvirt' 2>/dev/null || {
    echo "bench/gobject: skipped: $py has no libvirt module (python3-libvirt)"
    exit 0
}

work=$(mktemp -d "${TMPDIR:-/tmp}/vmhost-bench-gobject.XXXXXX")
dpid=""
cleanup() {
    [ -n "$dpid" ] && { kill "$dpid" 2>/dev/null || true; wait "$dpid" 2>/dev/null || true; }
    for p in $(ps -eo pid=,args= | awk -v w="$work" 'index($0, w) { print $1 }'); do
        kill -KILL "$p" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

export HOME="$work/home" XDG_CONFIG_HOME="$work/cfg" XDG_RUNTIME_DIR="$work/run"
export XDG_CACHE_HOME="$work/cache"
mkdir -p "$HOME" "$XDG_CONFIG_HOME" "$XDG_CACHE_HOME"
mkdir -m 700 "$XDG_RUNTIME_DIR"
pki="$work/pki"
"$pki_tool" init-ca "$pki" --layout libvirt --cn "bench CA" >/dev/null
"$pki_tool" issue server "$pki" --layout libvirt --hostname localhost --ip 127.0.0.1 >/dev/null
"$pki_tool" issue client "$pki" --layout libvirt --dn "C=GB,O=vmhost,CN=bench" >/dev/null
port=$("$stream" free-port 127.0.0.1)
cat >"$work/vmhostd.conf" <<EOC
listen_tls = 1
listen_addr = "127.0.0.1"
tls_port = "$port"
unix_sock_dir = "$work/sock"
ca_file = "$pki/CA/cacert.pem"
cert_file = "$pki/libvirt/servercert.pem"
key_file = "$pki/libvirt/private/serverkey.pem"
tls_allowed_dn_list = ["C=GB,O=vmhost,CN=bench"]
tls_priority = "NORMAL"
EOC
echo "vmhost_binary = \"$vmhost\"" >"$work/driver.conf"
"$vmhostd" --session --listen --config "$work/vmhostd.conf" \
    --driver-config "$work/driver.conf" >"$work/d.out" 2>"$work/d.err" &
dpid=$!
i=0
until [ -S "$work/sock/vmhost-sock" ]; do
    i=$((i + 1))
    [ $i -gt 200 ] && { echo "bench/gobject: vmhostd did not start"; cat "$work/d.err"; exit 1; }
    sleep 0.05
done
# the same priority as python3-libvirt's (Debian's libvirt: NORMAL)
tls="vmhost+tls://localhost:$port/system?pkipath=$pki/pkipath&tls_priority=NORMAL"
unix="vmhost+unix:///system?socket=$work/sock/vmhost-sock"
"$py" - "$unix" <<'EOP'
import sys, gi
gi.require_version("VmhostGObject", "1.0")
from gi.repository import VmhostGObject as V
c = V.Connection.new(sys.argv[1]); c.open(None)
conf = V.ConfigDomain.new(); conf.set_name("bench"); conf.set_memory(32768)
conf.set_os_type("hvm")
c.define_domain(conf, None).start(0, None)
c.close()
EOP

out="$top/bench/results/gobject.md"
mkdir -p "$top/bench/results"
{
    echo "# bench/gobject: DOMAIN_GET_INFO from Python, $(date -u +%Y-%m-%d), $(nproc) CPUs"
    echo
    echo "Same vmhostd, same run, median of $reps x ${seconds}s; ratio against python3-libvirt."
    for kind in tls unix; do
        eval "uri=\$$kind"
        echo
        echo "## $kind"
        echo
        echo "| client | calls/s | ratio | client CPU us/call |"
        echo "|---|---|---|---|"
        "$py" "$here/gobject-bench.py" "$uri" bench "$seconds" "$reps" 2>>"$work/bench.err" ||
            { cat "$work/bench.err" >&2; exit 1; }
    done
} | tee "$out"
