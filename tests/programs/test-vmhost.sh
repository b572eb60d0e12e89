#!/bin/sh
# vmhost end to end (TAP): the seed's TLS chardev command as written, with
# gnutls-cli talking to the test guest's console; wait=on blocking startup;
# two vmhost instances as TLS server and client; a vmhost TLS client's
# console driven from a socat TLS server; -serial shorthands; HMP and QMP
# monitors (-monitor, -qmp, -mon, mux=on); signals, -pidfile, -daemonize,
# -D; and every option error. Every server is on
# 127.0.0.1; every process is killed and reaped; $work is removed.
set -u
. "$(dirname "$0")/testlib.sh"
tl_start vmhost-test
pki="$work/pki"
# A daemonized vmhost is no child of ours: its pid is in its pidfile.
cleanup_more() {
    [ -s "$work/d.pid" ] && kill -KILL "$(cat "$work/d.pid")" 2>/dev/null
}

# console PORT OUT EXPECT [gnutls-cli options]: send $work/in to the guest
# console over TLS and keep the session open until OUT holds EXPECT.
console() {
    cport=$1 out=$2 expect=$3
    shift 3
    : >"$out"
    {
        cat "$work/in"
        wait_until "grep -q '$expect' '$out'"
    } | timeout 20 gnutls-cli --priority=NORMAL -p "$cport" \
        --x509cafile="$pki/ca-cert.pem" "$@" 127.0.0.1 >"$out" 2>"$out.err"
}
# qmp_session ADDR OUT LAST: the here-doc's lines to the QMP monitor at
# socat address ADDR, input held open until OUT holds LAST (or 10 s).
qmp_session() {
    : >"$2"
    {
        cat
        wait_until "grep -q '$3' '$2'"
    } | timeout 15 socat -t 1 - "$1" | tr -d '\r' >"$2"
}
client_cert="--x509certfile=$pki/client-cert.pem --x509keyfile=$pki/client-key.pem"

echo "1..84"
make_pki "$pki" "CN=vmhost-client"
mkdir "$work/cli"
cp "$pki/ca-cert.pem" "$pki/client-cert.pem" "$pki/client-key.pem" "$work/cli/"
creds="tls-creds-x509,id=tls0,endpoint=server,dir=$pki"

# ---- the seed's command, as written (server, nowait) ----
port=$(free_port)
bg seed "$vmhost" -object "$creds" \
    -chardev "socket,id=s0,host=127.0.0.1,port=$port,tls-creds=tls0,server,nowait" \
    -device isa-serial,chardev=s0 -nographic -pidfile "$work/seed.pid" \
    -D "$work/seed.log"
seed=$last
wait_until '[ -s "$work/seed.pid" ]'
check "the seed command starts; the pidfile holds its pid" \
    '[ "$(cat "$work/seed.pid" 2>/dev/null)" = "$seed" ]'

printf 'echo hello\n' >"$work/in"
console "$port" "$work/c1.out" '^hello' $client_cert
check "gnutls-cli: echo hello comes back from the guest console" \
    'grep -qx "hello" "$work/c1.out"'

printf 'status\nverify\nfrobnicate\necho done\n' >"$work/in"
console "$port" "$work/c2.out" '^done' $client_cert
check "status: the guest is running" 'grep -qx "state: running" "$work/c2.out"'
check "verify: every page checks out" 'grep -q "^verify: ok" "$work/c2.out"'
check "a bad command gets an error line" \
    'grep -qx "error: unknown command .frobnicate. (try .help.)" "$work/c2.out"'

printf 'ec' >"$work/in"
printf 'ho part\r\necho crlf\r\n' >>"$work/in"
console "$port" "$work/c3.out" '^crlf' $client_cert
check "CRLF line ends" 'grep -qx "part" "$work/c3.out" && grep -qx "crlf" "$work/c3.out"'

printf 'echo nope\n' >"$work/in"
console "$port" "$work/c4.out" '^nope'
check "a client without a certificate is refused, and -D logs why" \
    '! grep -q "^nope" "$work/c4.out" && grep -q "warning: chardev s0: TLS handshake with 127.0.0.1:[0-9]* refused.*did not send a certificate" "$work/seed.log"'

stop "$seed"
rc=$?
check "SIGTERM: exit 0, pidfile removed, logged" \
    '[ $rc -eq 0 ] && [ ! -e "$work/seed.pid" ] && grep -q "terminating on signal 15" "$work/seed.log"'

# ---- SIGTERM with a client attached: it gets a TLS close-notify ----
port=$(free_port)
bg bye "$vmhost" -object "$creds" \
    -chardev "socket,id=s0,host=127.0.0.1,port=$port,tls-creds=tls0,server,nowait" \
    -device isa-serial,chardev=s0 -pidfile "$work/bye.pid"
bye=$last
wait_until '[ -s "$work/bye.pid" ]'
: >"$work/bye.cli"
{
    printf 'echo before\n'
    wait_until 'grep -q "^before" "$work/bye.cli"'
    kill -TERM "$bye"
    wait_until 'grep -q "Peer has closed the GnuTLS connection" "$work/bye.cli"'
} | timeout 20 gnutls-cli --priority=NORMAL -p "$port" \
    --x509cafile="$pki/ca-cert.pem" $client_cert 127.0.0.1 >"$work/bye.cli" 2>&1
wait "$bye"
rc=$?
check "SIGTERM with a TLS client attached: close-notify sent, exit 0" \
    '[ $rc -eq 0 ] && grep -q "Peer has closed the GnuTLS connection" "$work/bye.cli" && ! grep -q "abnormally" "$work/bye.cli"'

# ---- verify-peer=off: the seed's gnutls-cli line exactly ----
port=$(free_port)
bg nover "$vmhost" -object "$creds,verify-peer=off" \
    -chardev "socket,id=s0,host=127.0.0.1,port=$port,tls-creds=tls0,server,nowait" \
    -device isa-serial,chardev=s0 -pidfile "$work/nover.pid"
nover=$last
wait_until '[ -s "$work/nover.pid" ]'
printf 'echo hello\n' >"$work/in"
console "$port" "$work/c5.out" '^hello'
check "verify-peer=off: gnutls-cli with only the CA gets the console" \
    'grep -qx "hello" "$work/c5.out"'
stop "$nover" INT
rc=$?
check "SIGINT: exit 0, pidfile removed" '[ $rc -eq 0 ] && [ ! -e "$work/nover.pid" ]'

# ---- JSON -object and -device (QEMU >= 6.0, as libvirt writes them) ----
port=$(free_port)
bg json "$vmhost" \
    -object "{\"qom-type\":\"tls-creds-x509\",\"id\":\"tls0\",\"dir\":\"$pki\",\"endpoint\":\"server\",\"verify-peer\":false}" \
    -chardev "socket,id=s0,host=127.0.0.1,port=$port,tls-creds=tls0,server=on,wait=off" \
    -device '{"driver":"isa-serial","chardev":"s0","id":"ser0"}' -pidfile "$work/json.pid"
jsonvm=$last
wait_until '[ -s "$work/json.pid" ]'
printf 'echo json\n' >"$work/in"
console "$port" "$work/cj.out" '^json'
check "JSON -object and -device: gnutls-cli with only the CA gets the console" \
    'grep -qx "json" "$work/cj.out"'
stop "$jsonvm"
check "JSON -object and -device: SIGTERM exits 0" '[ $? -eq 0 ]'

# ---- server with wait on: startup blocks until the first client ----
port=$(free_port)
bg wait "$vmhost" -object "$creds" \
    -chardev "socket,id=s0,host=127.0.0.1,port=$port,tls-creds=tls0,server" \
    -device isa-serial,chardev=s0 -pidfile "$work/wait.pid"
waiter=$last
wait_until 'grep -q "waiting for connection on: .*127.0.0.1:$port" "$work/wait.err"'
check "wait on: says where it waits" \
    'grep -q "^vmhost: waiting for connection on: .*127.0.0.1:$port" "$work/wait.err"'
sleep 0.3
check "wait on: not ready (no pidfile) before a client" '[ ! -e "$work/wait.pid" ]'
printf 'echo waited\n' >"$work/in"
console "$port" "$work/c6.out" '^waited' $client_cert
check "wait on: the first client gets the console and startup completes" \
    'grep -qx "waited" "$work/c6.out" && [ -s "$work/wait.pid" ]'
stop "$waiter"
check "wait on: SIGTERM exits 0" '[ $? -eq 0 ]'

# SIGTERM while still waiting for the client: a clean exit too.
port=$(free_port)
bg wait2 "$vmhost" -object "$creds" \
    -chardev "socket,id=s0,host=127.0.0.1,port=$port,tls-creds=tls0,server" \
    -device isa-serial,chardev=s0
w2=$last
wait_until 'grep -q "waiting for connection" "$work/wait2.err"'
stop "$w2"
check "SIGTERM while waiting for the first client exits 0" '[ $? -eq 0 ]'

# ---- two vmhost instances: TLS chardev server and client ----
port=$(free_port)
bg srv "$vmhost" -name srv -object "$creds" \
    -chardev "socket,id=s0,host=127.0.0.1,port=$port,tls-creds=tls0,server" \
    -device isa-serial,chardev=s0 -pidfile "$work/srv.pid" -D "$work/srv.log" \
    -monitor "unix:$work/srv-mon.sock,server,nowait"
srv=$last
wait_until 'grep -q "waiting for connection" "$work/srv.err"'
bg cli "$vmhost" -name cli -object "tls-creds-x509,id=tlsc,endpoint=client,dir=$work/cli" \
    -chardev "socket,id=c0,host=127.0.0.1,port=$port,tls-creds=tlsc" \
    -device isa-serial,chardev=c0 -pidfile "$work/cli.pid" -D "$work/cli.log"
cli=$last
wait_until '[ -s "$work/srv.pid" ] && [ -s "$work/cli.pid" ]'
check "two instances: the server's startup completes once the TLS client vmhost is in" \
    '[ -s "$work/srv.pid" ] && [ -s "$work/cli.pid" ] && ! grep -q warning "$work/srv.log" "$work/cli.log" && grep -q "machine srv up" "$work/srv.log" && grep -q "machine cli up" "$work/cli.log"'
unix_talk "$work/srv-mon.sock" >"$work/srv-mon.out" <<EOF
info chardev
EOF
check "two instances: the server's HMP shows its TLS chardev connected to the client vmhost" \
    'grep -q "^s0: filename=tcp:127.0.0.1:$port,server=on <-> 127.0.0.1:[0-9]*\$" "$work/srv-mon.out"'
stop "$cli"
c=$?
stop "$srv"
s=$?
check "two instances: both exit 0 on SIGTERM" '[ $c -eq 0 ] && [ $s -eq 0 ]'

# A vmhost TLS client against a vmhost server of another CA: refused,
# named. The client fails its startup (no reconnect), exit 1.
mkdir "$work/other"
"$pki_tool" init-ca "$work/other" --cn "other CA" >/dev/null
port=$(free_port)
bg srv2 "$vmhost" -object "$creds,verify-peer=off" \
    -chardev "socket,id=s0,host=127.0.0.1,port=$port,tls-creds=tls0,server,nowait" \
    -device isa-serial,chardev=s0 -pidfile "$work/srv2.pid"
srv2=$last
wait_until '[ -s "$work/srv2.pid" ]'
"$vmhost" -object "tls-creds-x509,id=tlsc,endpoint=client,dir=$work/other" \
    -chardev "socket,id=c0,host=127.0.0.1,port=$port,tls-creds=tlsc" \
    -device isa-serial,chardev=c0 >"$work/bad.out" 2>"$work/bad.err"
rc=$?
check "a client of another CA fails startup naming the peer and the reason" \
    '[ $rc -eq 1 ] && grep -q "^vmhost: -chardev: chardev c0: connection to tcp:127.0.0.1:$port failed:.*not signed by a trusted CA" "$work/bad.err"'
stop "$srv2"

# ---- a vmhost TLS client's console, driven by a socat TLS server ----
if command -v socat >/dev/null; then
    port=$(free_port)
    : >"$work/socat.out"
    {
        printf 'echo across\n'
        wait_until 'grep -q "^across" "$work/socat.out"'
    } | socat -T 20 "OPENSSL-LISTEN:$port,bind=127.0.0.1,reuseaddr,cert=$pki/server-cert.pem,key=$pki/server-key.pem,cafile=$pki/ca-cert.pem,verify=1" \
        STDIO >"$work/socat.out" 2>"$work/socat.err" &
    socat_pid=$!
    pids="$pids $socat_pid"
    wait_until "grep -q ':$port ' /proc/net/tcp 2>/dev/null || ss -ltn 2>/dev/null | grep -q ':$port '"
    bg viacli "$vmhost" -object "tls-creds-x509,id=tlsc,endpoint=client,dir=$work/cli" \
        -chardev "socket,id=c0,host=127.0.0.1,port=$port,tls-creds=tlsc" \
        -device isa-serial,chardev=c0
    viacli=$last
    wait_until 'grep -q "^across" "$work/socat.out"'
    check "a vmhost TLS client's guest console answers the TLS server side" \
        'grep -qx "across" "$work/socat.out"'
    stop "$viacli"
    check "the TLS client vmhost exits 0 on SIGTERM" '[ $? -eq 0 ]'
    kill "$socat_pid" 2>/dev/null
    wait "$socat_pid" 2>/dev/null
else
    ok "# SKIP socat not installed"
    ok "# SKIP socat not installed"
fi

# ---- -serial shorthands: unix: and tcp: servers, several ports ----
port=$(free_port)
bg short "$vmhost" -serial "unix:$work/con.sock,server,nowait" \
    -serial "tcp:127.0.0.1:$port,server,nowait" -serial null \
    -pidfile "$work/short.pid"
short=$last
wait_until '[ -s "$work/short.pid" ]'
printf 'echo via unix\n' | timeout 10 socat -t 2 - "UNIX-CONNECT:$work/con.sock" >"$work/u.out" 2>&1
check "-serial unix:PATH,server: the first port is the console" \
    'grep -qx "via unix" "$work/u.out"'
printf 'echo via tcp\n' | timeout 10 socat -t 1 - "TCP:127.0.0.1:$port" >"$work/t.out" 2>&1
check "-serial tcp:...: a second port is plain (input dropped, no reply)" \
    '[ ! -s "$work/t.out" ]'
stop "$short"
rc=$?
check "SIGTERM removes the UNIX socket and the pidfile" \
    '[ $rc -eq 0 ] && [ ! -e "$work/con.sock" ] && [ ! -e "$work/short.pid" ]'

# ---- -serial stdio, -m and -S ----
: >"$work/stdio.out"
{
    printf 'echo via stdio\r\nstatus\n'
    wait_until 'grep -q "^state:" "$work/stdio.out"'
} | "$vmhost" -name io -m 16M -S -serial stdio >"$work/stdio.out" 2>"$work/stdio.err" &
stdio=$!
pids="$pids $stdio"
wait_until 'grep -q "^state:" "$work/stdio.out"'
check "-serial stdio: the console on stdin/stdout" 'grep -qx "via stdio" "$work/stdio.out"'
check "-m 16M sizes guest RAM; -S leaves the guest stopped" \
    'grep -q "^pages: 4096 (16 MiB)" "$work/stdio.out" && grep -qx "state: paused" "$work/stdio.out"'
stop "$stdio"

# ---- -daemonize + -pidfile ----
port=$(free_port)
"$vmhost" -daemonize -pidfile "$work/d.pid" -serial "tcp:127.0.0.1:$port,server,nowait" \
    >"$work/d.out" 2>"$work/d.err"
rc=$?
dpid=$(cat "$work/d.pid" 2>/dev/null)
check "-daemonize: the parent exits 0 once the daemon is ready (pidfile written)" \
    '[ $rc -eq 0 ] && [ -n "$dpid" ] && kill -0 "$dpid" 2>/dev/null'
printf 'echo daemon\n' | timeout 10 socat -t 2 - "TCP:127.0.0.1:$port" >"$work/dd.out" 2>&1
check "-daemonize: the daemon serves its console" 'grep -qx "daemon" "$work/dd.out"'
kill -TERM "$dpid" 2>/dev/null
wait_until '! kill -0 "$dpid" 2>/dev/null'
check "-daemonize: SIGTERM ends the daemon and removes its pidfile" \
    '! kill -0 "$dpid" 2>/dev/null && [ ! -e "$work/d.pid" ]'

"$vmhost" -daemonize -chardev socket,id=x,bogus=1 >"$work/d.out" 2>"$work/d.err"
rc=$?
check "-daemonize: a startup error is reported and the parent exits 1" \
    '[ $rc -eq 1 ] && grep -q "invalid parameter .bogus." "$work/d.err"'

# ---- junk connections while a QMP monitor has no negotiated client ----
# Each connection is a CHARDEV_CONNECTED and a CHARDEV_DISCONNECTED that
# the monitor must drop without a trace (it leaked ~260 bytes each).
# flood PORT N: N connections to PORT, each closed at once.
flood() {
    python3 -c 'import socket, sys
for _ in range(int(sys.argv[2])):
    socket.create_connection(("127.0.0.1", int(sys.argv[1]))).close()' "$1" "$2"
}
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
port=$(free_port)
qport=$(free_port)
bg junk env ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0" \
    "$vmhost" -chardev "socket,id=s0,host=127.0.0.1,port=$port,server=on,wait=off" \
    -device isa-serial,chardev=s0 -qmp "tcp:127.0.0.1:$qport,server=on,wait=off" \
    -pidfile "$work/junk.pid"
junk=$last
wait_until '[ -s "$work/junk.pid" ]'
jpid=$(cat "$work/junk.pid")
flood "$port" 1000
sleep 1
before=$(rss_kib "$jpid")
flood "$port" 6000
sleep 2
after=$(rss_kib "$jpid")
check "6000 junk connections with an unnegotiated QMP monitor: VmRSS flat ($before -> $after kB)" \
    '[ $((after - before)) -lt 1024 ]'
stop "$junk"

# ---- HMP: -monitor unix:PATH,server,nowait ----
port=$(free_port)
bg hmp "$vmhost" -name hm -object "$creds" \
    -chardev "socket,id=s0,host=127.0.0.1,port=$port,tls-creds=tls0,server,nowait" \
    -device isa-serial,chardev=s0 -monitor "unix:$work/mon.sock,server,nowait" \
    -pidfile "$work/hmp.pid"
hmpvm=$last
wait_until '[ -s "$work/hmp.pid" ]'
unix_talk "$work/mon.sock" >"$work/h1.out" <<EOF
info status
guest echo hi
stop
info status
cont
info status
info chardev
object_add authz-simple,id=a0,identity=CN=x
object_add authz-simple,id=a0,identity=CN=x
object_del a0
object_del a0
frobnicate
EOF
check "HMP: the banner, then info status: running" \
    'grep -q "^vmhost monitor" "$work/h1.out" && [ "$(grep -c "VM status: running" "$work/h1.out")" -eq 2 ]'
check "HMP: guest echo hi runs on the test guest" 'grep -qx "(vmhost) hi" "$work/h1.out"'
check "HMP: stop, then info status shows paused; cont resumes" \
    'grep -q "VM status: paused" "$work/h1.out" && sed -n "/paused/,\$p" "$work/h1.out" | grep -q "VM status: running"'
check "HMP: info chardev lists the TLS console and the monitor's own socket" \
    'grep -q "^s0: filename=disconnected:tcp:127.0.0.1:$port,server=on" "$work/h1.out" && grep -q "compat_monitor0: filename=unix:$work/mon.sock" "$work/h1.out"'
check "HMP: object_add creates a0 (a second one is refused), object_del removes it" \
    'grep -q "Error: object_add: an object with id .a0. already exists" "$work/h1.out" && [ "$(grep -c "Error: no object with id .a0." "$work/h1.out")" -eq 1 ]'
check "HMP: an unknown command is an error, the monitor answers on" \
    'grep -q "unknown command: .frobnicate." "$work/h1.out"'
unix_talk "$work/mon.sock" >"$work/h2.out" <<EOF
info status
quit
EOF
wait "$hmpvm"
rc=$?
check "HMP: a second session works; quit exits 0, removes the socket and the pidfile" \
    'grep -q "VM status: running" "$work/h2.out" && [ $rc -eq 0 ] && [ ! -e "$work/mon.sock" ] && [ ! -e "$work/hmp.pid" ]'

# ---- QMP: -qmp tcp:127.0.0.1:PORT,server,nowait ----
port=$(free_port)
bg qmp "$vmhost" -qmp "tcp:127.0.0.1:$port,server,nowait" -pidfile "$work/qmp.pid"
qmpvm=$last
wait_until '[ -s "$work/qmp.pid" ]'
qmp_session "TCP:127.0.0.1:$port" "$work/q1.out" '"SHUTDOWN"' <<'EOF'
{"execute": "query-status"}
{"execute": "qmp_capabilities"}
{"execute": "query-status", "id": 1}
{"execute": "stop"}
{"execute": "query-status", "id": 2}
{"execute": "cont"}
{"execute": "guest-command", "arguments": {"command-line": "echo hi"}, "id": 3}
{"execute": "cont"
,}
{"execute": "query-status", "id": 4}
{"execute": "quit"}
EOF
wait "$qmpvm"
rc=$?
check "QMP: the greeting first, commands refused before qmp_capabilities" \
    'head -n 1 "$work/q1.out" | grep -q "^{\"QMP\":{\"version\"" && sed -n 2p "$work/q1.out" | grep -q "CommandNotFound"'
check "QMP: query-status after negotiation: running" \
    'grep -q "\"status\":\"running\".*\"id\":1" "$work/q1.out"'
check "QMP: stop sends a STOP event and pauses" \
    'grep -q "^{\"event\":\"STOP\"" "$work/q1.out" && grep -q "\"status\":\"paused\".*\"id\":2" "$work/q1.out"'
check "QMP: cont sends a RESUME event" 'grep -q "^{\"event\":\"RESUME\"" "$work/q1.out"'
check "QMP: guest-command echo hi" 'grep -q "{\"return\":\"hi\",\"id\":3}" "$work/q1.out"'
check "QMP: malformed JSON gets a GenericError and the monitor answers on" \
    'grep -q "GenericError.*JSON parse error" "$work/q1.out" && grep -q "\"status\":\"running\".*\"id\":4" "$work/q1.out"'
check "QMP: quit sends SHUTDOWN, exits 0 and removes the pidfile" \
    'grep -q "^{\"event\":\"SHUTDOWN\",\"data\":{\"guest\":false,\"reason\":\"host-qmp-quit\"}" "$work/q1.out" && [ $rc -eq 0 ] && [ ! -e "$work/qmp.pid" ]'

# ---- system_powerdown: the guest powers off, SHUTDOWN (guest), exit 0 ----
port=$(free_port)
bg pd "$vmhost" -object "$creds" \
    -chardev "socket,id=s0,host=127.0.0.1,port=$port,tls-creds=tls0,server,nowait" \
    -device isa-serial,chardev=s0 -qmp "unix:$work/pd-qmp.sock,server,nowait" \
    -pidfile "$work/pd.pid" -D "$work/pd.log"
pdvm=$last
wait_until '[ -s "$work/pd.pid" ]'
qmp_open pd "$work/pd-qmp.sock" 3
: >"$work/pd.cli"
{
    printf 'dirty 10M\necho before\n'
    wait_until 'grep -q "^before" "$work/pd.cli"'
    printf '{"execute":"system_powerdown","id":"pd"}\n' >&3
    wait_until 'grep -q "Peer has closed the GnuTLS connection" "$work/pd.cli"'
} | timeout 20 gnutls-cli --priority=NORMAL -p "$port" \
    --x509cafile="$pki/ca-cert.pem" $client_cert 127.0.0.1 >"$work/pd.cli" 2>&1
wait "$pdvm"
rc=$?
exec 3>&-
check "system_powerdown (QMP): replies, then POWERDOWN and SHUTDOWN from the guest" \
    'grep -q "{\"return\":{},\"id\":\"pd\"}" "$work/pd.qout" && grep -q "^{\"event\":\"POWERDOWN\"" "$work/pd.qout" && grep -q "^{\"event\":\"SHUTDOWN\",\"data\":{\"guest\":true,\"reason\":\"guest-shutdown\"}" "$work/pd.qout"'
check "system_powerdown: exit 0, close-notify to the console client, pidfile and socket gone, logged" \
    '[ $rc -eq 0 ] && grep -q "Peer has closed the GnuTLS connection" "$work/pd.cli" && ! grep -q "abnormally" "$work/pd.cli" && [ ! -e "$work/pd.pid" ] && [ ! -e "$work/pd-qmp.sock" ] && grep -q "the guest powered off" "$work/pd.log"'

bg pdh "$vmhost" -monitor "unix:$work/pdh.sock,server,nowait" -pidfile "$work/pdh.pid"
pdhvm=$last
wait_until '[ -s "$work/pdh.pid" ]'
unix_talk "$work/pdh.sock" >"$work/pdh.out" <<EOF
system_powerdown
EOF
wait "$pdhvm"
rc=$?
check "system_powerdown (HMP): the guest powers off, exit 0, pidfile gone" \
    '[ $rc -eq 0 ] && [ ! -e "$work/pdh.pid" ] && [ ! -e "$work/pdh.sock" ]'

# ---- -mon chardev=ID,mode=control; HMP and QMP side by side ----
bg mon "$vmhost" -chardev "socket,id=m0,path=$work/qmp.sock,server,nowait" \
    -mon chardev=m0,mode=control,pretty=off \
    -monitor "unix:$work/mon2.sock,server,nowait" -pidfile "$work/mon.pid"
monvm=$last
wait_until '[ -s "$work/mon.pid" ]'
qmp_session "UNIX-CONNECT:$work/qmp.sock" "$work/q2.out" '"id":2' <<'EOF'
{"execute": "qmp_capabilities"}
{"execute": "query-status", "id": 1}
{"execute": "human-monitor-command", "arguments": {"command-line": "info chardev"}, "id": 2}
EOF
check "-mon chardev=m0,mode=control: a QMP monitor on the -chardev" \
    'head -n 1 "$work/q2.out" | grep -q "^{\"QMP\"" && grep -q "\"status\":\"running\".*\"id\":1" "$work/q2.out" && grep -q "m0: filename=unix:" "$work/q2.out"'
unix_talk "$work/mon2.sock" >"$work/h3.out" <<EOF
info status
EOF
check "-mon and -monitor together: both monitors answer" \
    'grep -q "VM status: running" "$work/h3.out"'
stop "$monvm"
rc=$?
check "SIGTERM with monitors: exit 0, their sockets removed" \
    '[ $rc -eq 0 ] && [ ! -e "$work/qmp.sock" ] && [ ! -e "$work/mon2.sock" ]'

# QMP on a TLS chardev server: a monitor behind mutual x509.
port=$(free_port)
bg tlsmon "$vmhost" -object "$creds" \
    -chardev "socket,id=t0,host=127.0.0.1,port=$port,tls-creds=tls0,server,nowait" \
    -mon chardev=t0,mode=control -pidfile "$work/tlsmon.pid"
tlsmon=$last
wait_until '[ -s "$work/tlsmon.pid" ]'
qmp_session "OPENSSL:127.0.0.1:$port,cafile=$pki/ca-cert.pem,cert=$pki/client-cert.pem,key=$pki/client-key.pem,verify=1" \
    "$work/q3.out" '"id":1' <<'EOF'
{"execute": "qmp_capabilities"}
{"execute": "query-status", "id": 1}
EOF
check "-mon mode=control on a TLS chardev: QMP over mutual x509" \
    'head -n 1 "$work/q3.out" | grep -q "^{\"QMP\"" && grep -q "\"status\":\"running\".*\"id\":1" "$work/q3.out"'
stop "$tlsmon"
check "the TLS QMP vmhost exits 0 on SIGTERM" '[ $? -eq 0 ]'

# ---- mux=on: the console and a monitor on one stdio ----
: >"$work/mux.out"
{
    printf 'echo muxed\n'
    wait_until 'grep -q "muxed$" "$work/mux.out"'
    printf '\001cinfo status\n'
    wait_until 'grep -q "VM status" "$work/mux.out"'
    printf 'quit\n'
    sleep 5
} | timeout 15 "$vmhost" -chardev stdio,id=c0,mux=on -serial chardev:c0 \
    -mon chardev=c0 >"$work/mux.out" 2>"$work/mux.err"
rc=$?
check "mux=on stdio: the console has the focus, Ctrl-A c gives it to the monitor" \
    'grep -q "muxed$" "$work/mux.out" && grep -q "VM status: running" "$work/mux.out"'
check "mux=on stdio: quit from the monitor exits 0" '[ $rc -eq 0 ]'

# mux=on over a socket server with wait=on: startup waits for the client.
bg muxw "$vmhost" -chardev "socket,id=m,path=$work/mux.sock,server,mux=on" \
    -serial chardev:m -mon chardev=m -pidfile "$work/muxw.pid"
muxw=$last
wait_until 'grep -q "waiting for connection" "$work/muxw.err"'
sleep 0.3
check "mux=on socket server with wait on: not ready before a client" \
    '[ ! -e "$work/muxw.pid" ]'
: >"$work/muxw.out"
{
    printf 'echo via mux\n'
    wait_until 'grep -q "via mux$" "$work/muxw.out"'
    printf '\001cquit\n'
    sleep 5
} | timeout 15 socat -t 1 - "UNIX-CONNECT:$work/mux.sock" | tr -d '\r' >"$work/muxw.out"
wait "$muxw"
rc=$?
check "mux=on socket: the client gets the console, then the monitor; quit exits 0" \
    'grep -q "via mux$" "$work/muxw.out" && grep -q "^(vmhost) " "$work/muxw.out" && [ $rc -eq 0 ] && [ ! -e "$work/mux.sock" ]'

# ---- option errors: exit 1, one line naming the option ----
# fails NAME EXPECT ARGS...: vmhost ARGS must exit 1 printing EXPECT.
fails() {
    what=$1 expect=$2
    shift 2
    "$vmhost" "$@" >"$work/e.out" 2>"$work/e.err"
    rc=$?
    check "$what" '[ $rc -eq 1 ] && grep -q "$expect" "$work/e.err"'
}
fails "unknown option" "^vmhost: -foo: unknown option" -foo
fails "missing argument" "^vmhost: -chardev: requires an argument" -chardev
fails "bad -name key" "^vmhost: -name vm0: invalid parameter 'bogus'" -name vm0,bogus=1
fails "bad -m" "^vmhost: -m: invalid size '12Q'" -m 12Q
fails "bad -object type" "^vmhost: -object: invalid object type 'tls-creds-x590'" \
    -object tls-creds-x590,id=t
fails "bad -object dir names the directory" "^vmhost: -object: .*$work/missing" \
    -object "tls-creds-x509,id=t,endpoint=server,dir=$work/missing"
fails "JSON -object: a string where a boolean belongs" \
    "^vmhost: -object: Invalid parameter type for 'verify-peer', expected: boolean" \
    -object '{"qom-type":"tls-creds-anon","id":"a","verify-peer":"off"}'
fails "JSON -object: a duplicate key" "^vmhost: -object: JSON parse error, duplicate key 'id'" \
    -object '{"qom-type":"tls-creds-anon","id":"a","id":"b"}'
fails "JSON -device: a number where a string belongs" \
    "^vmhost: -device: Invalid parameter type for 'chardev', expected: string" \
    -device '{"driver":"isa-serial","chardev":5}'
fails "-chardev takes no JSON (as in QEMU 7.2)" "^vmhost: -chardev: .*invalid parameter name" \
    -chardev '{"backend":"null","id":"c0"}'
fails "bad -chardev key" "^vmhost: -chardev socket: invalid parameter 'bogus'" \
    -chardev socket,id=s0,host=127.0.0.1,port=1,bogus=on
fails "-incoming with a bad URI" "^vmhost: -incoming: invalid migration URI 'bogus:x'" -incoming bogus:x
fails "-monitor with a bad device" "^vmhost: -monitor: .bogus:x.: unknown device" -monitor bogus:x
fails "-monitor tcp: without a port" "^vmhost: -monitor: .tcp:127.0.0.1.: expected tcp:HOST:PORT" \
    -monitor tcp:127.0.0.1
fails "-qmp chardev:ID missing" "^vmhost: -qmp: chardev 'nope' not found" -qmp chardev:nope
fails "-mon without chardev" "^vmhost: -mon: parameter 'chardev' is required" -mon mode=control
fails "-mon unknown mode" "^vmhost: -mon: mode 'json': expected readline or control" \
    -chardev null,id=n0 -mon chardev=n0,mode=json
fails "-mon unknown chardev" "^vmhost: -mon: chardev 'n1' not found" -mon chardev=n1
fails "-mon bad key" "^vmhost: -mon n0: invalid parameter 'bogus'" -chardev null,id=n0 -mon chardev=n0,bogus=1
fails "-mon on a chardev a serial port holds" "^vmhost: -mon: chardev 'n0' is already in use" \
    -chardev null,id=n0 -device isa-serial,chardev=n0 -mon chardev=n0
fails "-daemonize with -monitor stdio" "^vmhost: -daemonize: cannot be used with a stdio" \
    -daemonize -monitor stdio
fails "a chardev used by two serial ports" "^vmhost: -device isa-serial: chardev 'n0' is already in use" \
    -chardev null,id=n0 -device isa-serial,chardev=n0 -device isa-serial,chardev=n0
fails "endpoint mismatch" "Expected TLS credentials for a server endpoint" \
    -object "tls-creds-x509,id=tlsc,endpoint=client,dir=$work/cli" \
    -chardev "socket,id=s0,host=127.0.0.1,port=$(free_port),tls-creds=tlsc,server,nowait"
port=$(free_port)
bg busy "$vmhost" -chardev "socket,id=s0,host=127.0.0.1,port=$port,server,nowait" \
    -pidfile "$work/busy.pid"
busy=$last
wait_until '[ -s "$work/busy.pid" ]'
fails "port in use" "^vmhost: -chardev: .*127.0.0.1:$port.*in use" \
    -chardev "socket,id=s0,host=127.0.0.1,port=$port,server,nowait"
stop "$busy"
