#!/bin/sh
# vmhost-stream end to end (TAP): plain and mutual-TLS streams on 127.0.0.1,
# and every failure an operator can cause: another CA, a priority typo, a
# missing credentials directory, bad sizes, bad usage.
set -u
. "$(dirname "$0")/testlib.sh"
tl_start stream-test
spid=""
cleanup_more() { [ -n "$spid" ] && kill "$spid" 2>/dev/null; }
log_files="out server.out"

echo "1..10"
make_pki "$work/a" "CN=client-a"
mkdir "$work/b"
"$pki_tool" init-ca "$work/b" >/dev/null && "$pki_tool" issue client "$work/b" --dn "CN=intruder" >/dev/null ||
    { echo "Bail out! vmhost-pki failed"; exit 1; }

# serve [server options]: start a server in the background, wait for its port.
serve() {
    rm -f "$work/port"
    "$stream" server --listen 127.0.0.1:0 --port-file "$work/port" "$@" >"$work/server.out" 2>&1 &
    spid=$!
    i=0
    while [ ! -s "$work/port" ] && [ "$i" -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
}
finish() { wait "$spid"; rc=$?; spid=""; return $rc; }

serve
"$stream" client --connect "127.0.0.1:$(cat "$work/port")" --bytes 8M >"$work/out" 2>&1
c=$?; finish; s=$?
check "plain stream of 8 MiB" '[ $c -eq 0 ] && [ $s -eq 0 ] && grep -q "received 8 MiB" "$work/server.out"'

serve --tls-dir "$work/a"
"$stream" client --connect "127.0.0.1:$(cat "$work/port")" --bytes 8M --tls-dir "$work/a" >"$work/out" 2>&1
c=$?; finish; s=$?
check "mutual TLS stream: both ends see the peer DN" '[ $c -eq 0 ] && [ $s -eq 0 ] && grep -q "peer CN=client-a" "$work/server.out" && grep -q "peer CN=localhost" "$work/out" && grep -q "received 8 MiB" "$work/server.out"'

serve --tls-dir "$work/a"
"$stream" client --connect "127.0.0.1:$(cat "$work/port")" --bytes 8M --tls-dir "$work/b" >"$work/out" 2>&1
c=$?; finish; s=$?
check "client of another CA: both ends refuse and say why" '[ $c -eq 1 ] && [ $s -eq 1 ] && grep -q "CN=intruder is not signed by a trusted CA" "$work/server.out" && grep -q "CN=localhost is not signed by a trusted CA" "$work/out"'

serve --tls-dir "$work/a"
"$stream" client --connect "127.0.0.1:$(cat "$work/port")" --hostname other.example --bytes 1M --tls-dir "$work/a" >"$work/out" 2>&1
c=$?; finish
check "hostname mismatch refused by the client" '[ $c -eq 1 ] && grep -q "does not match hostname .other.example." "$work/out"'

"$stream" client --connect 127.0.0.1:1 --bytes 1M --tls-dir "$work/a" --priority NORMAL:+VERS-TLS1.9 >"$work/out" 2>&1
c=$?
check "priority typo named before connecting" '[ $c -eq 1 ] && grep -q "at .VERS-TLS1.9." "$work/out"'

"$stream" server --listen 127.0.0.1:0 --tls-dir "$work/missing" >"$work/out" 2>&1
c=$?
check "missing credentials directory named" '[ $c -eq 1 ] && grep -q "$work/missing" "$work/out"'

"$stream" client --connect 127.0.0.1:1 --bytes 1M >"$work/out" 2>&1
c=$?
check "connection refused names the address" '[ $c -eq 1 ] && grep -q "127.0.0.1:1" "$work/out"'

"$stream" client --connect 127.0.0.1:1 --bytes 12Q >"$work/out" 2>&1
c=$?
check "bad --bytes named" '[ $c -eq 1 ] && grep -q "invalid size .12Q." "$work/out"'

"$stream" client --connect 127.0.0.1:1 --bytes 1M --chunk 1K >"$work/out" 2>&1
c=$?
check "bad --chunk named" '[ $c -eq 2 ] && grep -q "outside 4K..64M" "$work/out"'

"$stream" sideways >"$work/out" 2>&1
c=$?
check "unknown mode is a usage error" '[ $c -eq 2 ] && grep -q "usage" "$work/out"'
