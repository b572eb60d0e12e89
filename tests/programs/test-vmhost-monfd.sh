#!/bin/sh
# File descriptors and monitors, end to end (TAP):
#   - -chardev socket,fd=N with an inherited listening socket: the guest
#     console is served on it; a bad fd, a name, a non-socket: errors;
#   - getfd through a mux=on QMP monitor on a UNIX socket (mig-fdpass
#     sends each end of a socket pair to one of two vmhosts), then
#     chardev-add fd=NAME on each: both report CHARDEV_CONNECTED, the name
#     is used up; unknown names and numbers are refused;
#   - getfd on a QMP monitor behind TLS (gnutls-cli) fails, saying the
#     channel is TLS.
# Servers listen on 127.0.0.1 only; every process is killed and reaped;
# $work is removed.
set -u
. "$(dirname "$0")/testlib.sh"
tl_start monfd-test
pki="$work/pki"
log_files="*.err *.out *.qout *.gout"
log_lines=20

# with_listen_fd PORT CMD...: run CMD with a socket listening on
# 127.0.0.1:PORT inherited as an fd; "@FD@" in CMD becomes its number.
# It execs (under bg, $last is then the pid vmhost ends up with).
with_listen_fd() {
    exec perl -MIO::Socket::INET -MFcntl -e '
        my $port = shift @ARGV;
        my $s = IO::Socket::INET->new(Listen => 4, LocalAddr => "127.0.0.1",
                                      LocalPort => $port, ReuseAddr => 1)
            or die "listen: $!\n";
        fcntl($s, F_SETFD, 0) or die "fcntl: $!\n";
        my $fd = fileno($s);
        exec map { s/\@FD\@/$fd/gr } @ARGV or die "exec: $!\n";' "$@"
}

echo "1..14"
make_pki "$pki"

# ---- -chardev socket,fd=N: an inherited listening socket ----
port=$(free_port)
bg lfd with_listen_fd "$port" "$vmhost" -chardev "socket,id=s0,fd=@FD@" \
    -device isa-serial,chardev=s0 -monitor "unix:$work/lfd.hmp,server=on,wait=off" \
    -nographic
lpid=$last
wait_until "[ -S '$work/lfd.hmp' ]"
printf 'echo via-inherited-fd\n' >"$work/in"
out=$( (
    cat "$work/in"
    sleep 1
) | timeout 10 socat - "TCP:127.0.0.1:$port" 2>&1)
check "fd=N: the guest console answers on the inherited listening socket" \
    'printf "%s" "$out" | grep -q "^via-inherited-fd"'
printf 'info chardev\n' | unix_talk "$work/lfd.hmp" >"$work/lfd.info"
check "info chardev shows it as fd:N,server=on; startup did not wait for a client" \
    'grep -Eq "^s0: filename=disconnected:fd:[0-9]+,server=on" "$work/lfd.info" &&
     ! grep -q "waiting for connection" "$work/lfd.err"'
stop "$lpid"
rc=$?
check "it exits 0 on SIGTERM" '[ $rc -eq 0 ]'

"$vmhost" -chardev "socket,id=s0,fd=77" -nographic >/dev/null 2>"$work/badfd.err"
rc=$?
check "fd=77 (nothing open there): exit 1, 'fd 77 is not a usable socket'" \
    '[ $rc -eq 1 ] && grep -q "chardev s0: fd 77 is not a usable socket" "$work/badfd.err"'
"$vmhost" -chardev "socket,id=s0,fd=lnk" -nographic >/dev/null 2>"$work/namefd.err"
rc=$?
check "fd=NAME on the command line: exit 1, the name is explained" \
    '[ $rc -eq 1 ] && grep -q "fd .lnk. is a name" "$work/namefd.err"'
"$vmhost" -chardev "socket,id=s0,fd=0" -nographic </dev/null >/dev/null \
    2>"$work/notsock.err"
rc=$?
check "fd=0 (a file, not a socket): exit 1" \
    '[ $rc -eq 1 ] && grep -q "fd 0 is not a usable socket" "$work/notsock.err"'

# ---- getfd through mux=on, then chardev-add fd=NAME ----
for h in c d; do
    bg "$h" "$vmhost" -name "$h" \
        -chardev "socket,id=m0,path=$work/$h.sock,server=on,wait=off,mux=on" \
        -mon chardev=m0,mode=control -nographic
    eval "${h}pid=\$last"
done
wait_until "[ -S '$work/c.sock' ] && [ -S '$work/d.sock' ]"
"$fdpass" "$work/c.sock" "$work/d.sock" lnk >"$work/fdpass.out" 2>&1
rc=$?
check "getfd through a mux=on QMP monitor on a UNIX socket (both vmhosts)" \
    '[ $rc -eq 0 ] && [ $(grep -c "\"return\"" "$work/fdpass.out") -eq 2 ]'
qmp_open c "$work/c.sock" 3
qmp_open d "$work/d.sock" 4
qmp c 3 chardev-add '{"id":"sp","backend":{"type":"socket","data":{"addr":{"type":"fd","data":{"str":"lnk"}}}}}'
c_add=$reply
qmp d 4 human-monitor-command '{"command-line":"chardev-add socket,id=sp,fd=lnk"}'
d_add=$reply
check "chardev-add fd=lnk (QMP on one, HMP on the other) succeeds" \
    'printf "%s" "$c_add" | grep -q "\"return\":{}" &&
     printf "%s" "$d_add" | grep -q "\"return\":\"\""'
connected_sp() { grep -q '"event":"CHARDEV_CONNECTED".*"id":"sp"' "$work/c.qout"; }
check "CHARDEV_CONNECTED for sp on the monitor that added it" \
    'wait_until connected_sp'
qmp c 3 query-chardev '{}'
check "query-chardev: sp is connected" \
    'has "\"label\":\"sp\"[^}]*\"connected\":true"'
qmp c 3 closefd '{"fdname":"lnk"}'
check "the name was used up by chardev-add" \
    'has "File descriptor named .lnk. not found"'
qmp c 3 chardev-add '{"id":"sq","backend":{"type":"socket","data":{"addr":{"type":"fd","data":{"str":"nope"}}}}}'
check "chardev-add with an unknown fd name fails, naming it" \
    'has "\"error\".*File descriptor named .nope. not found"'
qmp c 3 chardev-add '{"id":"sq","backend":{"type":"socket","data":{"addr":{"type":"fd","data":{"str":"3"}}}}}'
check "chardev-add with an fd number fails: names only over a monitor" \
    'has "\"error\".*over a monitor fd takes the name"'
exec 3>&- 4>&-

# ---- getfd over TLS ----
tport=$(free_port)
bg t "$vmhost" -object "tls-creds-x509,id=tls0,endpoint=server,dir=$pki,verify-peer=off" \
    -chardev "socket,id=tq,host=127.0.0.1,port=$tport,server=on,wait=off,tls-creds=tls0" \
    -mon chardev=tq,mode=control -nographic
tpid=$last
wait_until "ss -Hltn 'sport = :$tport' | grep -q LISTEN"
{
    printf '{"execute":"qmp_capabilities"}\n'
    printf '{"execute":"getfd","arguments":{"fdname":"x"}}\n'
    wait_until "grep -q 'getfd x' '$work/t.gout'"
} | timeout 15 gnutls-cli --priority=NORMAL -p "$tport" \
    --x509cafile="$pki/ca-cert.pem" 127.0.0.1 >"$work/t.gout" 2>&1
check "getfd over a TLS monitor: 'No file descriptor supplied via SCM_RIGHTS', the channel is TLS" \
    'grep -q "getfd x: No file descriptor supplied via SCM_RIGHTS: chardev tq is a TLS channel" "$work/t.gout"'

for p in $cpid $dpid $tpid; do
    stop "$p" || echo "# vmhost $p exited $?"
done
