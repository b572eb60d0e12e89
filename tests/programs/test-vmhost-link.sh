#!/bin/sh
# Two vmhost instances over a TLS chardev, and bad peers at a vmhost TLS
# chardev server (TAP):
#   - A: TLS chardev server + isa-serial (the test guest's console);
#     B: TLS chardev client (reconnect-ms) + chardev-probe. B's probe
#     sends "echo hello-<random>" to A's guest and reads the reply; both
#     QMP monitors report CHARDEV_CONNECTED with the peer's DN; A restarts,
#     B reports CHARDEV_DISCONNECTED, reconnects and data flows again; a
#     second client (gnutls-cli) waits while B is attached and gets in when
#     B leaves.
#   - a peer that stalls (plain TCP, nothing sent) and one that stops half
#     way through its ClientHello are timed out (CHARDEV_REFUSED) and the
#     listener keeps serving: a real client gets in afterwards;
#   - 1000 connects flood the port while a TLS client is attached: that
#     client's session keeps working and vmhost's VmRSS stays flat;
#   - port in use, bad creds dir: clear errors, exit status 1.
# Servers listen on 127.0.0.1 only; every process is killed and reaped;
# $work is removed.
set -u
. "$(dirname "$0")/testlib.sh"
tl_start link-test
pki="$work/pki"
cli="$work/cli"
log_files="*.err *.out *.log *.qout"
log_lines=20
# Under ASan, freed memory sits in a quarantine (256 MiB by default) and
# would read as growth in the VmRSS checks; no effect on other builds.
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0"
export ASAN_OPTIONS

# event NAME EVENT [COUNT]: wait until NAME's QMP output holds COUNT
# (default 1) EVENT lines; $ev is the last one.
event() {
    if wait_until "[ \$(grep -c '\"event\":\"$2\"' '$work/$1.qout') -ge ${3:-1} ]"; then
        ev=$(grep "\"event\":\"$2\"" "$work/$1.qout" | tail -n 1)
    else
        ev="(no $2)"
    fi
}
# probe_wait TEXT: read B's probe p0 until what it got holds TEXT.
probe_wait() {
    : >"$work/probe.acc"
    i=0
    while ! grep -q "$1" "$work/probe.acc"; do
        i=$((i + 1))
        [ "$i" -gt 200 ] && return 1
        qmp b 4 probe-read '{"device":"p0","format":"base64"}'
        printf '%s' "$reply" | sed -n 's/.*"return":"\([^"]*\)".*/\1/p' |
            base64 -d >>"$work/probe.acc"
        sleep 0.05
    done
}
# echo_through: B's probe sends "echo hello-<random>"; A's guest answers.
echo_through() {
    word="hello-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')"
    qmp b 4 probe-write "{\"device\":\"p0\",\"data\":\"echo $word\\n\"}"
    case $reply in *'"return"'*) ;; *) return 1 ;; esac
    probe_wait "^$word"
}
# rss PID: VmRSS in kB.
rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

# gnutls_session NAME PORT: a gnutls-cli session kept open, fed through
# fd 5 from $work/NAME.fifo, output in $work/NAME.gout; $gpid its pid.
gnutls_session() {
    rm -f "$work/$1.fifo"
    mkfifo "$work/$1.fifo"
    gnutls-cli --priority=NORMAL -p "$2" --x509cafile="$pki/ca-cert.pem" \
        --x509certfile="$cli/client-cert.pem" \
        --x509keyfile="$cli/client-key.pem" 127.0.0.1 \
        <"$work/$1.fifo" >"$work/$1.gout" 2>"$work/$1.gerr" &
    gpid=$!
    pids="$pids $gpid"
    exec 5>"$work/$1.fifo"
}

echo "1..26"
make_pki "$pki" "CN=vmhost-link-client"
mkdir "$cli"
cp "$pki/ca-cert.pem" "$pki/client-cert.pem" "$pki/client-key.pem" "$cli/"
port=$(free_port)

# start_a: vmhost A, TLS chardev server, the guest console on it.
start_a() {
    rm -f "$work/a.qmp"
    bg a "$vmhost" -name A \
        -object "tls-creds-x509,id=tls0,endpoint=server,dir=$pki" \
        -chardev "socket,id=s0,host=127.0.0.1,port=$port,tls-creds=tls0,server=on,wait=off,tls-handshake-timeout-ms=400" \
        -device isa-serial,chardev=s0 -qmp "unix:$work/a.qmp,server=on,wait=off" \
        -nographic -D "$work/a.log"
    apid=$last
    qmp_open a "$work/a.qmp" 3
}

# ---- two instances ----
start_a
bg b "$vmhost" -name B \
    -object "tls-creds-x509,id=tls0,endpoint=client,dir=$cli" \
    -chardev "socket,id=c0,host=127.0.0.1,port=$port,tls-creds=tls0,reconnect-ms=200" \
    -device chardev-probe,id=p0,chardev=c0 \
    -qmp "unix:$work/b.qmp,server=on,wait=off" -nographic
bpid=$last
qmp_open b "$work/b.qmp" 4
event a CHARDEV_CONNECTED
check "A: CHARDEV_CONNECTED names B's certificate DN and the TLS version" \
    'printf "%s" "$ev" | grep -q "\"id\":\"s0\"" &&
     printf "%s" "$ev" | grep -q "\"peer-dn\":\"CN=vmhost-link-client\"" &&
     printf "%s" "$ev" | grep -q "\"protocol\":\"TLS1\.[23]\""'
qmp b 4 query-chardev '{}'
if printf '%s' "$reply" | grep -q '"label":"c0"[^}]*"connected":true'; then
    b_up=1
else
    b_up=0
    event b CHARDEV_CONNECTED # it may have connected before we listened
fi
check "B: its TLS chardev client is connected to A" '[ $b_up -eq 1 ]'
check "B's probe_write 'echo hello-<random>' comes back from A's guest" \
    'echo_through'
check "and again (the session stays up)" 'echo_through'

# ---- a second client waits while B is attached ----
gnutls_session g1 "$port"
sleep 1
check "a second client (gnutls-cli) gets no TLS handshake while B is attached" \
    '! grep -q "Handshake was completed" "$work/g1.gout" "$work/g1.gerr" 2>/dev/null'
check "meanwhile B's session is unaffected" 'echo_through'

# ---- A restarts: B reconnects ----
exec 5>&-
kill -KILL "$gpid" 2>/dev/null
wait "$gpid" 2>/dev/null
exec 3>&-
stop "$apid"
rc=$?
check "A exits 0 on SIGTERM" '[ $rc -eq 0 ]'
event b CHARDEV_DISCONNECTED
check "B: CHARDEV_DISCONNECTED when A goes away" \
    'printf "%s" "$ev" | grep -q "\"id\":\"c0\".*\"reason\":\"[^\"]"'
nconn=$(grep -c '"event":"CHARDEV_CONNECTED"' "$work/b.qout")
start_a
event b CHARDEV_CONNECTED $((nconn + 1))
check "B reconnects to the restarted A (CHARDEV_CONNECTED, server DN)" \
    'printf "%s" "$ev" | grep -q "\"server\":false.*\"peer-dn\":\"[^\"]*CN=localhost"'
check "data flows again after the reconnect" 'echo_through'

# B leaves: a waiting client gets in
gnutls_session g2 "$port"
sleep 0.5
exec 4>&-
stop "$bpid"
rc=$?
check "B exits 0 on SIGTERM" '[ $rc -eq 0 ]'
printf 'echo second-client\n' >&5
check "the waiting gnutls-cli gets in once B has left, and the guest answers it" \
    'wait_until "grep -q \"^second-client\" \"$work/g2.gout\""'
exec 5>&-
kill -KILL "$gpid" 2>/dev/null
wait "$gpid" 2>/dev/null

# ---- stalled peers ----
# A plain TCP connect that sends nothing, and half a ClientHello (a record
# header announcing 512 bytes, then 6 of them), each held open.
nref=$(grep -c '"event":"CHARDEV_REFUSED"' "$work/a.qout")
# (each fed from a FIFO the test holds open: no process outlives the test)
mkfifo "$work/stall1.fifo" "$work/stall2.fifo"
socat -u - "TCP:127.0.0.1:$port" <"$work/stall1.fifo" 2>/dev/null &
stall1=$!
pids="$pids $stall1"
exec 6>"$work/stall1.fifo"
socat -u - "TCP:127.0.0.1:$port" <"$work/stall2.fifo" 2>/dev/null &
stall2=$!
pids="$pids $stall2"
exec 7>"$work/stall2.fifo"
printf '\026\003\001\002\000\001\000\001\374\003\003' >&7
event a CHARDEV_REFUSED $((nref + 2))
check "both stalled peers are timed out (CHARDEV_REFUSED: handshake timed out)" \
    '[ $(grep "\"event\":\"CHARDEV_REFUSED\"" "$work/a.qout" | tail -n 2 |
         grep -c "TLS handshake timed out after 400 ms") -eq 2 ]'
check "-D logs the refusals with the peer's address" \
    'grep -q "TLS handshake with 127.0.0.1:[0-9]* timed out after 400 ms" "$work/a.log"'
gnutls_session g3 "$port"
printf 'echo after-stall\n' >&5
check "the listener keeps serving: a real client gets in afterwards" \
    'wait_until "grep -q \"^after-stall\" \"$work/g3.gout\""'

# ---- a connect flood while that client is attached ----
rss_before=$(rss "$apid")
perl -MIO::Socket::INET -e '
    for (1 .. 1000) {
        my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1",
                                      PeerPort => $ARGV[0], Blocking => 0);
        close($s) if $s;
    }' "$port"
rc=$?
check "1000 connects flood the port" '[ $rc -eq 0 ]'
printf 'echo still-here\n' >&5
check "the attached client's session keeps working during the flood" \
    'wait_until "grep -q \"^still-here\" \"$work/g3.gout\""'
sleep 0.5
rss_after=$(rss "$apid")
echo "# VmRSS before ${rss_before} kB, after ${rss_after} kB"
check "vmhost's VmRSS stays flat (< +5 MiB)" \
    '[ $((rss_after - rss_before)) -lt 5120 ]'
check "A is still running" 'kill -0 "$apid"'
exec 5>&-
exec 6>&- 7>&-
kill -KILL "$gpid" "$stall1" "$stall2" 2>/dev/null
wait "$gpid" "$stall1" "$stall2" 2>/dev/null
# The client gone, A works through what the flood left in its backlog.
gnutls_session g4 "$port"
printf 'echo after-flood\n' >&5
check "after the flood a new client still gets in" \
    'wait_until "grep -q \"^after-flood\" \"$work/g4.gout\""'
rss_end=$(rss "$apid")
echo "# VmRSS once the backlog is drained ${rss_end} kB"
check "and VmRSS is still flat (< +5 MiB)" \
    '[ $((rss_end - rss_before)) -lt 5120 ]'
exec 5>&-
kill -KILL "$gpid" 2>/dev/null
wait "$gpid" 2>/dev/null

# ---- startup errors ----
"$vmhost" -object "tls-creds-x509,id=tls0,endpoint=server,dir=$pki" \
    -chardev "socket,id=s1,host=127.0.0.1,port=$port,tls-creds=tls0,server=on,wait=off" \
    -device isa-serial,chardev=s1 -nographic >"$work/inuse.out" 2>"$work/inuse.err"
rc=$?
check "port in use: exit status 1" '[ $rc -eq 1 ]'
check "port in use: the error names the chardev, the address and the reason" \
    'grep -q "s1.*127.0.0.1:$port.*Address already in use" "$work/inuse.err"'
"$vmhost" -object "tls-creds-x509,id=tls0,endpoint=server,dir=$work/nope" \
    -nographic >"$work/badcreds.out" 2>"$work/badcreds.err"
rc=$?
check "bad creds dir: exit status 1" '[ $rc -eq 1 ]'
check "bad creds dir: the error names the object and the missing file" \
    'grep -q "tls0" "$work/badcreds.err" && grep -q "$work/nope" "$work/badcreds.err"'
exec 3>&-
stop "$apid"
rc=$?
check "A exits 0 on SIGTERM after all that" '[ $rc -eq 0 ]'
