#!/bin/sh
# libvmhost-gobject against vmhostd (TAP): the Python scenario through
# PyGObject and the same scenario in gjs, each over TLS with certificates
# in libvirt's layout made by vmhost-pki; the library's own default
# certificate locations (~/.pki/libvirt or /etc/pki for root are not
# touched: the scenario uses ?pkipath=); the C example. vmhostd runs in
# --session mode with every file under $work; its machines outlive it by
# design, so every process whose command line names $work is killed.
set -u
. "${VMHOST_TOP_SRCDIR:?}/tests/programs/testlib.sh"
tl_start vhg-vmhostd
here="$VMHOST_TOP_SRCDIR/libvmhost-gobject/tests"
# Under AddressSanitizer (meson sets VHG_ASAN_PRELOAD) the interpreters,
# which are not instrumented, load the instrumented library with the ASan
# runtime preloaded; their own leaks are not the library's (the C tests
# check those), so leak detection is off for them only.
client_env=""
[ -n "${VHG_ASAN_PRELOAD:-}" ] &&
    client_env="env LD_PRELOAD=$VHG_ASAN_PRELOAD ASAN_OPTIONS=detect_leaks=0:abort_on_error=1"
vmhostd="$build/src/vmhostd/vmhostd"
example="$build/libvmhost-gobject/examples/vhg-list"
log_files="d.err py.out gjs.out ex.out ex.err"
log_lines=30

kill_machines() {
    for p in $(ps -eo pid=,args= | awk -v w="$work" 'index($0, w) && $1 != '$$' { print $1 }'); do
        kill -KILL "$p" 2>/dev/null
    done
}
cleanup_more() { kill_machines; }

for prog in /usr/bin/python3 gjs; do
    command -v "$prog" >/dev/null 2>&1 || { echo "1..0 # SKIP $prog is not installed"; exit 0; }
done
echo "1..6"

export HOME="$work/home" XDG_CONFIG_HOME="$work/cfg" XDG_RUNTIME_DIR="$work/run"
export XDG_CACHE_HOME="$work/cache"
mkdir -p "$HOME" "$XDG_CONFIG_HOME" "$XDG_CACHE_HOME"
mkdir -m 700 "$XDG_RUNTIME_DIR"

pki="$work/pki"
{
    "$pki_tool" init-ca "$pki" --layout libvirt --cn "vhg test CA" &&
        "$pki_tool" issue server "$pki" --layout libvirt --hostname localhost --ip 127.0.0.1 &&
        "$pki_tool" issue client "$pki" --layout libvirt --dn "C=GB,O=vmhost,CN=vhg"
} >"$work/pki.out" 2>&1 || { echo "Bail out! vmhost-pki failed"; exit 1; }

port=$(free_port)
sock="$work/sock"
cat >"$work/vmhostd.conf" <<EOC
listen_tls = 1
listen_addr = "127.0.0.1"
tls_port = "$port"
unix_sock_dir = "$sock"
ca_file = "$pki/CA/cacert.pem"
cert_file = "$pki/libvirt/servercert.pem"
key_file = "$pki/libvirt/private/serverkey.pem"
tls_allowed_dn_list = ["C=GB,O=vmhost,CN=vhg"]
EOC
cat >"$work/driver.conf" <<EOC
vmhost_binary = "$vmhost"
EOC
bg d "$vmhostd" --session --listen --verbose --config "$work/vmhostd.conf" \
    --driver-config "$work/driver.conf"
dpid=$last
wait_until "[ -S '$sock/vmhost-sock' ] && grep -q 'vmhostd ready' '$work/d.err'" 200
check "vmhostd runs with TLS on 127.0.0.1:$port" 'kill -0 $dpid 2>/dev/null'

tls="vmhost+tls://localhost:$port/system?pkipath=$pki/pkipath"
timeout 120 $client_env /usr/bin/python3 "$here/vhg-scenario.py" "$tls" vmhost >"$work/py.out" 2>&1
rc=$?
sed 's/^/# py: /' "$work/py.out"
check "Python (PyGObject): open over TLS, list, define, XML, start, console, info, suspend/resume signals, stop, undefine, errors, close" \
    '[ $rc -eq 0 ] && grep -q PASS "$work/py.out"'

timeout 120 $client_env gjs "$here/vhg-scenario.js" "$tls" vmhost >"$work/gjs.out" 2>&1
rc=$?
sed 's/^/# gjs: /' "$work/gjs.out"
check "gjs: the same scenario" '[ $rc -eq 0 ] && grep -q PASS "$work/gjs.out"'

unix="qemu+unix:///system?socket=$sock/vmhost-sock"
timeout 60 "$example" "$unix" >"$work/ex.out" 2>"$work/ex.err"
rc=$?
check "the C example lists domains over qemu+unix with ?socket=" '[ $rc -eq 0 ] && grep -q "^hostname: " "$work/ex.out"'

timeout 60 "$example" "vmhost+tls://localhost:$port/system?pkipath=$work/nowhere" >"$work/ex2.out" 2>"$work/ex2.err"
rc=$?
check "a missing pkipath fails, naming the file" '[ $rc -ne 0 ] && grep -q "nowhere/cacert.pem" "$work/ex2.err"'

# The daemon dies under an open TLS connection: closed is emitted on the
# main loop and calls fail with VHG_ERROR_RPC, without hanging.
cat >"$work/dropped.py" <<'EOP'
import sys, gi
gi.require_version("VmhostGObject", "1.0")
from gi.repository import GLib, VmhostGObject as V
conn = V.Connection.new(sys.argv[1])
conn.open(None)
conn.fetch_domains(None)
closed, loop = [], GLib.MainLoop()
conn.connect("closed", lambda c, why: (closed.append(why), loop.quit()))
print("open", flush=True)
GLib.timeout_add_seconds(20, loop.quit)
loop.run()
if not closed or conn.is_open():
    sys.exit("no closed signal")
try:
    conn.get_hostname(None)
    sys.exit("a call on a dropped connection succeeded")
except GLib.Error as e:
    if not e.matches(V.error_quark(), V.Error.RPC):
        sys.exit("unexpected error: %s" % e.message)
print("closed: %s" % closed[0], flush=True)
EOP
$client_env /usr/bin/python3 "$work/dropped.py" "$tls" >"$work/dropped.out" 2>&1 &
ppid=$!
pids="$pids $ppid"
wait_until "grep -q open '$work/dropped.out'" 200
kill -KILL "$dpid"
wait "$dpid" 2>/dev/null
wait "$ppid"
rc=$?
sed 's/^/# dropped: /' "$work/dropped.out"
check "vmhostd killed under an open connection: closed emitted, calls fail with VHG_ERROR_RPC" \
    '[ $rc -eq 0 ] && grep -q "^closed: " "$work/dropped.out"'
