#!/bin/sh
# libvmhost-gobject against Debian's libvirtd (TAP): the library talks to any
# server of the protocol. libvirtd 9.0 runs its built-in test driver with a
# private config on loopback (TLS, certificates in libvirt's layout from
# vmhost-pki) and a UNIX socket in $work, unprivileged (as nobody through
# setpriv when we are root), with private HOME/XDG dirs; the Python
# scenario (list, info, XML, define, lifecycle with signals, undefine,
# errors) runs over test+tls:// and test+unix://. libvirtd is stopped and
# reaped; its files go with $work.
set -u
. "${VMHOST_TOP_SRCDIR:?}/tests/programs/testlib.sh"
tl_start vhg-libvirtd
here="$VMHOST_TOP_SRCDIR/libvmhost-gobject/tests"
# Under AddressSanitizer (meson sets VHG_ASAN_PRELOAD) the interpreters,
# which are not instrumented, load the instrumented library with the ASan
# runtime preloaded; their own leaks are not the library's (the C tests
# check those), so leak detection is off for them only.
client_env=""
[ -n "${VHG_ASAN_PRELOAD:-}" ] &&
    client_env="env LD_PRELOAD=$VHG_ASAN_PRELOAD ASAN_OPTIONS=detect_leaks=0:abort_on_error=1"
log_files="libvirtd.err tls.out unix.out"
log_lines=30

for prog in /usr/sbin/libvirtd setpriv /usr/bin/python3; do
    command -v "$prog" >/dev/null 2>&1 || {
        echo "1..0 # SKIP $prog is not installed (Debian: libvirt-daemon)"
        exit 0
    }
done
echo "1..4"

d="$work/lv"
mkdir -p "$d/home" "$d/run"
pki="$d/pki"
{
    "$pki_tool" init-ca "$pki" --layout libvirt --cn "vhg test CA" &&
        "$pki_tool" issue server "$pki" --layout libvirt --hostname localhost --ip 127.0.0.1 &&
        "$pki_tool" issue client "$pki" --layout libvirt --dn "C=GB,O=vmhost,CN=vhg"
} >"$work/pki.out" 2>&1 || { echo "Bail out! vmhost-pki failed"; exit 1; }

port=$(free_port)
lv_conf "$d" "$pki" "$port" "C=GB,O=vmhost,CN=vhg"
lv_start "$d"
check "libvirtd (test driver, unprivileged, loopback TLS on $port) starts" \
    'kill -0 "$lvd" 2>/dev/null && [ -S "$d/run/libvirt-sock" ]'

# The client keeps its own HOME: nothing is written to the real one.
export HOME="$work/home"
mkdir -p "$HOME"
timeout 120 $client_env /usr/bin/python3 "$here/vhg-scenario.py" \
    "test+tls://localhost:$port/default?pkipath=$pki/pkipath" test >"$work/tls.out" 2>&1
rc=$?
sed 's/^/# tls: /' "$work/tls.out"
check "Python scenario over test+tls:// (list, info, XML, define, lifecycle signals, undefine, errors)" \
    '[ $rc -eq 0 ] && grep -q PASS "$work/tls.out"'

timeout 120 $client_env /usr/bin/python3 "$here/vhg-scenario.py" \
    "test+unix:///default?socket=$d/run/libvirt-sock" test >"$work/unix.out" 2>&1
rc=$?
sed 's/^/# unix: /' "$work/unix.out"
check "Python scenario over test+unix:// with ?socket=" '[ $rc -eq 0 ] && grep -q PASS "$work/unix.out"'

stop "$lvd"
rc=$?
check "libvirtd stops on SIGTERM" '[ $rc -eq 0 ]'
