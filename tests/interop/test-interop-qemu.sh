#!/bin/sh
# Real QEMU (qemu-system-x86_64 from Debian) as the TLS chardev peer of
# vmhost, both ways, with ONE certificate directory made by vmhost-pki (TAP):
#   (a) QEMU's TLS chardev client, its HMP monitor on it, connects to a
#       vmhost TLS chardev server whose frontend is a chardev-probe;
#   (b) a vmhost TLS chardev client connects to QEMU's TLS chardev server
#       (QEMU's HMP monitor again);
#   (c) QEMU's server presents a certificate for another host name: the
#       vmhost client refuses it, at startup and while reconnecting, and
#       query-chardev says why.
# vmhost is driven over QMP (probe-write / probe-read) on a UNIX socket.
# Also the -device chardev-probe option errors, which need no QEMU.
#
# QEMU 7.2's TLS chardev reads one byte per socket wakeup when its HMP
# monitor is the frontend (the rest of a TLS record stays in GnuTLS's buffer
# until more data arrives), so the test types as a person would: one byte
# per write, waiting for QEMU's echo before the next.
#
# Servers listen on 127.0.0.1 only; every process is killed and reaped;
# $work is removed.
set -u
. "$(dirname "$0")/../programs/testlib.sh"
tl_start interop-qemu
qemu=${QEMU:-qemu-system-x86_64}
pki="$work/pki"
log_files="*.err *.out *.log *.qout *.acc"
wait_ticks=300 # 15 s
listening() { ss -Hltn "sport = :$1" 2>/dev/null | grep -q LISTEN; }
# The QMP session (qmp_open "$qs" SOCK 3) the helpers below talk to.
qs=""

# c0_entry: c0's object in the query-chardev $reply.
c0_entry() { printf '%s' "$reply" | sed -n 's/.*{"label":"c0",\([^}]*\)}.*/\1/p'; }
# probe_take ACC: append what probe p0 received to the file ACC (raw bytes).
probe_take() {
    qmp "$qs" 3 probe-read '{"device":"p0","format":"base64"}'
    printf '%s' "$reply" | sed -n 's/.*"return":"\([^"]*\)".*/\1/p' |
        base64 -d >>"$1"
}
# probe_wait ACC PATTERN: take until ACC holds PATTERN (grep -E).
probe_wait() {
    i=0
    while ! grep -Eaq "$2" "$1"; do
        i=$((i + 1))
        [ "$i" -gt 200 ] && return 1
        probe_take "$1"
        sleep 0.05
    done
}
# type_line ACC TEXT: TEXT and a newline to the peer, one byte per write,
# each once QEMU has echoed the one before; returns 1 if QEMU stops echoing.
type_line() {
    acc=$1 rest=$2
    while [ -n "$rest" ]; do
        c=$(printf '%s' "$rest" | cut -c1)
        rest=$(printf '%s' "$rest" | cut -c2-)
        size=$(wc -c <"$acc")
        qmp "$qs" 3 probe-write "{\"device\":\"p0\",\"data\":\"$c\"}"
        probe_wait "$acc" '.' >/dev/null
        wait_until "probe_take '$acc'; [ \$(wc -c <'$acc') -gt $size ]" 100 ||
            return 1
    done
    qmp "$qs" 3 probe-write '{"device":"p0","data":"\n"}'
}

echo "1..19"
make_pki "$pki" "CN=interop-client" --cn "interop CA"
mkdir "$work/other"
{
    cp "$pki/ca-cert.pem" "$pki/ca-key.pem" "$work/other/" &&
        "$pki_tool" issue server "$work/other" --hostname other.example
} >/dev/null || {
    echo "Bail out! vmhost-pki failed"
    exit 1
}

# ---- -device chardev-probe errors (no QEMU needed) ----
"$vmhost" -chardev null,id=n0 -device chardev-probe,id=p0 \
    >"$work/e1.out" 2>"$work/e1.err"
check "chardev-probe without chardev= is a startup error" \
    '[ $? = 1 ] && grep -q "chardev-probe: parameter .chardev. is required" "$work/e1.err"'
"$vmhost" -device chardev-probe,id=p0,chardev=nope \
    >"$work/e2.out" 2>"$work/e2.err"
check "chardev-probe on an unknown chardev names it" \
    '[ $? = 1 ] && grep -q "chardev-probe: chardev .nope. not found" "$work/e2.err"'
"$vmhost" -chardev null,id=n0 -device isa-serial,chardev=n0 \
    -device chardev-probe,id=p0,chardev=n0 >"$work/e3.out" 2>"$work/e3.err"
check "chardev-probe on a chardev a serial port holds is refused" \
    '[ $? = 1 ] && grep -q "chardev-probe p0: chardev .n0. is already in use" "$work/e3.err"'
"$vmhost" -chardev null,id=n0 -chardev null,id=n1 \
    -device isa-serial,chardev=n0,id=x -device chardev-probe,id=x,chardev=n1 \
    >"$work/e4.out" 2>"$work/e4.err"
check "chardev-probe with a serial port's id is refused" \
    '[ $? = 1 ] && grep -q "a device with id .x. already exists" "$work/e4.err"'
if grep -l "Sanitizer\|runtime error" "$work"/e?.err >/dev/null 2>&1; then
    sanitizer_early=1
fi
rm -f "$work"/e?.*

if ! command -v "$qemu" >/dev/null 2>&1; then
    while [ "$n" -lt 19 ]; do skip "$qemu is not installed"; done
    exit 0
fi
server_dn=$("$pki_tool" show-dn "$pki/server-cert.pem")
qver=$("$qemu" --version | sed -n 's/^QEMU emulator version \([0-9.]*\).*/\1/p')
qcreds_client="tls-creds-x509,id=tls0,endpoint=client,dir=$pki"
qcreds_server="tls-creds-x509,id=tls0,endpoint=server,dir=$pki"

# ---- (a) QEMU's TLS client -> vmhost's TLS server ----
port=$(free_port)
bg va "$vmhost" -object "$qcreds_server" \
    -chardev "socket,id=c0,host=127.0.0.1,port=$port,server=on,wait=off,tls-creds=tls0" \
    -device chardev-probe,id=p0,chardev=c0 \
    -qmp "unix:$work/va.sock,server,nowait" -pidfile "$work/va.pid"
va=$last
wait_until '[ -s "$work/va.pid" ]'
bg qa "$qemu" -nodefaults -display none -machine none \
    -object "$qcreds_client" \
    -chardev "socket,id=c0,host=127.0.0.1,port=$port,tls-creds=tls0" \
    -mon chardev=c0,mode=readline
qa=$last
qs=va
qmp_open "$qs" "$work/va.sock" 3
: >"$work/a.acc"
probe_wait "$work/a.acc" '\(qemu\) '
check "(a) QEMU's monitor banner arrives through vmhost's TLS server" \
    'grep -aq "^QEMU $qver monitor - type .help. for more information" "$work/a.acc"'
type_line "$work/a.acc" "info version"
probe_wait "$work/a.acc" "^$qver"
check "(a) probe-write 'info version': QEMU answers with its version $qver" \
    'grep -aq "^$qver" "$work/a.acc"'
qmp "$qs" 3 query-chardev '{}'
c0=$(c0_entry)
check "(a) query-chardev: c0 connected to QEMU's address, no error" \
    'printf "%s" "$c0" | grep -q "\"filename\":\"tcp:127.0.0.1:$port,server=on <-> 127.0.0.1:[0-9]*\"" &&
     printf "%s" "$c0" | grep -q "\"connected\":true" &&
     ! printf "%s" "$c0" | grep -q "last-error"'
qmp "$qs" 3 human-monitor-command '{"command-line":"info chardev"}'
check "(a) info chardev (HMP) shows the TLS peer of c0: address, TLS 1.3, QEMU's client DN" \
    'printf "%s" "$reply" | grep -q "c0: filename=tcp:127.0.0.1:$port,server=on <-> 127.0.0.1:[0-9]" &&
     printf "%s" "$reply" | grep -q "  tls: TLS1.3 [A-Z0-9-]*, peer CN=interop-client"'
kill "$qa" 2>/dev/null
wait "$qa" 2>/dev/null
wait_until 'qmp "$qs" 3 query-chardev "{}"; printf "%s" "$reply" | grep -q "\"label\":\"c0\",\"filename\":\"disconnected:"'
check "(a) QEMU gone: c0 is listening again" \
    'printf "%s" "$reply" | grep -q "\"label\":\"c0\",\"filename\":\"disconnected:tcp:127.0.0.1:$port,server=on\""'
exec 3>&-
kill "$va" 2>/dev/null
wait "$va"
check "(a) vmhost exits 0 on SIGTERM" '[ $? = 0 ]'

# ---- (b) vmhost's TLS client -> QEMU's TLS server ----
port=$(free_port)
bg qb "$qemu" -nodefaults -display none -machine none \
    -object "$qcreds_server" \
    -chardev "socket,id=c0,host=127.0.0.1,port=$port,server=on,wait=off,tls-creds=tls0" \
    -mon chardev=c0,mode=readline
qb=$last
wait_until "listening $port"
bg vb "$vmhost" -object "$qcreds_client" \
    -chardev "socket,id=c0,host=127.0.0.1,port=$port,tls-creds=tls0" \
    -device chardev-probe,id=p0,chardev=c0 \
    -qmp "unix:$work/vb.sock,server,nowait" -pidfile "$work/vb.pid"
vb=$last
wait_until '[ -s "$work/vb.pid" ] || ! kill -0 $vb 2>/dev/null'
qs=vb
qmp_open "$qs" "$work/vb.sock" 3
: >"$work/b.acc"
probe_wait "$work/b.acc" '\(qemu\) '
check "(b) vmhost's TLS client gets the banner of QEMU's TLS server" \
    'grep -aq "^QEMU $qver monitor - type .help. for more information" "$work/b.acc"'
type_line "$work/b.acc" "info version"
probe_wait "$work/b.acc" "^$qver"
check "(b) probe-write 'info version': QEMU answers with its version $qver" \
    'grep -aq "^$qver" "$work/b.acc"'
qmp "$qs" 3 query-chardev '{}'
c0=$(c0_entry)
check "(b) query-chardev: c0 connected over TLS 1.3 to QEMU's server ($server_dn), no error" \
    'printf "%s" "$c0" | grep -q "\"filename\":\"tcp:127.0.0.1:$port <-> 127.0.0.1:$port\"" &&
     printf "%s" "$c0" | grep -q "\"connected\":true" &&
     printf "%s" "$c0" | grep -q "\"tls-protocol\":\"TLS1.3\"" &&
     printf "%s" "$c0" | grep -q "\"tls-peer-dn\":\"$server_dn\"" &&
     ! printf "%s" "$c0" | grep -q "last-error"'
exec 3>&-
kill "$vb" 2>/dev/null
wait "$vb"
check "(b) vmhost exits 0 on SIGTERM" '[ $? = 0 ]'
kill "$qb" 2>/dev/null
wait "$qb" 2>/dev/null

# ---- (c) QEMU's server cert names another host: vmhost refuses ----
port=$(free_port)
bg qc "$qemu" -nodefaults -display none -machine none \
    -object "tls-creds-x509,id=tls0,endpoint=server,dir=$work/other,verify-peer=off" \
    -chardev "socket,id=c0,host=127.0.0.1,port=$port,server=on,wait=off,tls-creds=tls0" \
    -mon chardev=c0,mode=readline
qc=$last
wait_until "listening $port"
"$vmhost" -object "$qcreds_client" \
    -chardev "socket,id=c0,host=127.0.0.1,port=$port,tls-creds=tls0" \
    -device chardev-probe,id=p0,chardev=c0 >"$work/c1.out" 2>"$work/c1.err"
check "(c) without reconnect the refused certificate is a startup error" \
    '[ $? = 1 ] && grep -q "CN=other.example does not match hostname .127.0.0.1." "$work/c1.err"'
bg vc "$vmhost" -object "$qcreds_client" \
    -chardev "socket,id=c0,host=127.0.0.1,port=$port,tls-creds=tls0,reconnect-ms=300" \
    -device chardev-probe,id=p0,chardev=c0 \
    -qmp "unix:$work/vc.sock,server,nowait" -pidfile "$work/vc.pid"
vc=$last
wait_until '[ -s "$work/vc.pid" ]'
qs=vc
qmp_open "$qs" "$work/vc.sock" 3
wait_until 'qmp "$qs" 3 query-chardev "{}"; printf "%s" "$reply" | grep -q "last-error"'
c0=$(c0_entry)
check "(c) with reconnect-ms, query-chardev shows why: the host name" \
    'printf "%s" "$c0" | grep -q "\"connected\":false" &&
     printf "%s" "$c0" | grep -q "\"last-error\":\"TLS handshake with 127.0.0.1:$port refused: [^\"]*CN=other.example does not match hostname .127.0.0.1."'
qmp "$qs" 3 human-monitor-command '{"command-line":"info chardev"}'
check "(c) info chardev (HMP) shows the reason under c0" \
    'printf "%s" "$reply" | grep -q "c0: filename=disconnected:tcp:127.0.0.1:$port\\\\n  last error ([^)]*): TLS handshake with 127.0.0.1:$port refused: [^\"]*CN=other.example does not match hostname"'
qmp "$qs" 3 probe-write '{"device":"p0","data":"x"}'
check "(c) probe-write to the refused peer says nothing was sent" \
    'printf "%s" "$reply" | grep -q "\"class\":\"DeviceNotActive\",\"desc\":\"probe-write p0: chardev .c0. has no peer connected"'
exec 3>&-
kill "$vc" "$qc" 2>/dev/null
wait "$vc" 2>/dev/null
wait "$qc" 2>/dev/null
check "no sanitizer report from any vmhost run" \
    '[ -z "${sanitizer_early:-}" ] && ! grep -l "Sanitizer\|runtime error" "$work"/*.err >/dev/null 2>&1'
