#!/bin/sh
# vmhost live migration end to end (TAP), driven only through HMP and QMP
# monitors on UNIX sockets with QEMU's command language:
#   - every transport (tcp IPv4, tcp [::1], unix, fd: via getfd over QMP,
#     exec: at both ends, file: with and without offset), plain and TLS;
#   - multifd with 1, 2 and 4 channels;
#   - a guest dirtying RAM at a rate that converges (verify passes,
#     checksums equal) and at one that cannot (stays active within the
#     downtime limit, migrate_cancel works, the source runs on intact);
#   - the TLS matrix: hostname from the URI, tls-hostname override and
#     mismatch, tls-authz allow and deny, a client without a certificate
#     with verify-peer on and off, PSK match and mismatch, fd:/exec: with
#     and without tls-hostname;
#   - faults: target killed mid-stream, the network cut (a socat relay
#     killed), TLS refused, file: on a full disk (a 1 MiB tmpfs in a private
#     mount namespace), cancel at several moments; each time the source
#     runs on with its RAM intact, the target does not start, the reason is
#     in query-migrate, and a second migrate works;
#   - no false completion: an authz denial fails the source, never
#     "completed".
# Guests have 64 MiB; every server is on 127.0.0.1/::1 or a UNIX socket;
# every process is killed and reaped and $work removed.
set -u
mem=64M

. "$(dirname "$0")/migration-lib.sh"
tl_start mig-test

echo "# vmhost $(ls -l "$vmhost" 2>/dev/null | awk '{ print $6, $7, $8 }')"

# ---- PKI ----
pki="$work/pki"      # CA, server cert (localhost, 127.0.0.1, ::1), client cert
nocert="$work/nocert" # the CA only: a client without a certificate
other="$work/other"  # same CA, server cert for target.example only
psk="$work/psk" psk2="$work/psk2"
mkdir "$pki" "$nocert" "$other" "$psk" "$psk2"
client_dn="C=GB,O=vmhost,CN=mig-source"
{
    "$pki_tool" init-ca "$pki" &&
        "$pki_tool" issue server "$pki" --hostname localhost --ip 127.0.0.1 --ip ::1 &&
        "$pki_tool" issue client "$pki" --dn "$client_dn" &&
        cp "$pki/ca-cert.pem" "$nocert/" &&
        cp "$pki/ca-cert.pem" "$pki/ca-key.pem" "$other/" &&
        "$pki_tool" issue server "$other" --hostname target.example &&
        cp "$pki/client-cert.pem" "$pki/client-key.pem" "$other/" &&
        rm "$other/ca-key.pem"
} >/dev/null || {
    echo "Bail out! vmhost-pki failed"
    exit 1
}
echo "qemu:$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$psk/keys.psk"
echo "qemu:$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$psk2/keys.psk"
chmod 600 "$psk/keys.psk" "$psk2/keys.psk"
# Credentials: x509 by default; TLS_SRC/TLS_DST override per test.
x509_src="tls-creds-x509,id=tls0,endpoint=client,dir=$pki"
x509_dst="tls-creds-x509,id=tls0,endpoint=server,dir=$pki"
fast="migrate_set_parameter max-bandwidth 10G"

# pair [SRC-ARGS] -- [DST-ARGS]: a running source "src" (RAM partly
# written) and a target "dst" waiting with -incoming defer.
pair() {
    sa="" da="" side=src
    for a in "$@"; do
        if [ "$a" = -- ]; then side=dst; continue; fi
        if [ $side = src ]; then sa="$sa $a"; else da="$da $a"; fi
    done
    # shellcheck disable=SC2086
    vm src $sa
    # shellcheck disable=SC2086
    vm dst -incoming defer $da
    fill src
}
tls_on="migrate_set_parameter tls-creds tls0"

# ======== transports, plain and TLS ========
# transport LABEL TLS(0|1) SRC-URI DST-URI [extra HMP for both]
transport() {
    label=$1 tls=$2 suri=$3 duri=$4
    shift 4
    if [ "$tls" = 1 ]; then
        pair -object "$x509_src" -- -object "$x509_dst"
        hmp dst "$tls_on" "$@" "migrate_incoming $duri" >/dev/null
        hmp src "$tls_on" "$fast" "$@" "migrate -d $suri" >/dev/null
    else
        pair
        hmp dst "$@" "migrate_incoming $duri" >/dev/null
        hmp src "$fast" "$@" "migrate -d $suri" >/dev/null
    fi
    check "$label" 'migrated src dst'
    both_gone src dst
}

for tls in 0 1; do
    if [ $tls = 1 ]; then t="TLS"; else t="plain"; fi
    port=$(free_port)
    transport "tcp IPv4 ($t): completed, source postmigrate, target runs, verify ok, checksums equal" \
        $tls "tcp:127.0.0.1:$port" "tcp:127.0.0.1:$port"
    port=$(free_port6)
    transport "tcp [::1] ($t)" $tls "tcp:[::1]:$port" "tcp:[::1]:$port"
    if [ $tls = 1 ]; then
        transport "unix ($t, tls-hostname localhost)" 1 "unix:$work/mig.sock" \
            "unix:$work/mig.sock" "migrate_set_parameter tls-hostname localhost"
    else
        transport "unix ($t)" 0 "unix:$work/mig.sock" "unix:$work/mig.sock"
    fi
    rm -f "$work/mig.sock"
done
port=$(free_port)
transport "tcp localhost (TLS): hostname from the URI" 1 \
    "tcp:localhost:$port" "tcp:127.0.0.1:$port"

# fd: a socket pair handed to both with getfd over QMP.
for tls in 0 1; do
    if [ $tls = 1 ]; then
        pair -object "$x509_src" -- -object "$x509_dst"
        extra="migrate_set_parameter tls-hostname localhost"
        t="TLS, tls-hostname localhost"
        hmp src "$tls_on" "$extra" >/dev/null
        hmp dst "$tls_on" >/dev/null
    else
        pair
        t=plain
    fi
    "$fdpass" "$work/src.qmp" "$work/dst.qmp" migfd >"$work/fdpass.out" 2>&1
    rc=$?
    check "fd: getfd over QMP hands each side one end of a socket pair ($t)" \
        '[ $rc -eq 0 ] && [ "$(grep -c return "$work/fdpass.out")" = 2 ]'
    hmp dst "migrate_incoming fd:migfd" >/dev/null
    hmp src "$fast" "migrate -d fd:migfd" >/dev/null
    check "fd:migfd ($t)" 'migrated src dst'
    both_gone src dst
done

# exec: at both ends. Plain: through a file (cat > file, then cat file).
# TLS: a socat relay, the target's command listening, the source's
# connecting (TLS needs both directions).
pair
hmp src "$fast" "migrate -d \"exec:cat > $work/exec.state\"" >/dev/null
st=$(wait_mig src "completed failed" 300)
check "exec:cat > FILE: the source completes" '[ "$st" = completed ] && [ -s "$work/exec.state" ]'
hmp dst "migrate_incoming \"exec:cat $work/exec.state\"" >/dev/null
check "exec:cat FILE on the target: runs, verify ok, checksums equal" 'migrated src dst'
both_gone src dst

for hn in 1 0; do
    pair -object "$x509_src" -- -object "$x509_dst"
    rm -f "$work/exec.sock"
    hmp dst "$tls_on" "migrate_incoming \"exec:socat STDIO UNIX-LISTEN:$work/exec.sock\"" >/dev/null
    wait_until '[ -S "$work/exec.sock" ]' 50
    if [ $hn = 1 ]; then
        hmp src "$tls_on" "$fast" "migrate_set_parameter tls-hostname localhost" \
            "migrate -d \"exec:socat STDIO UNIX-CONNECT:$work/exec.sock\"" >/dev/null
        check "exec: at both ends over TLS with tls-hostname" 'migrated src dst'
    else
        hmp src "$tls_on" "$fast" \
            "migrate -d \"exec:socat STDIO UNIX-CONNECT:$work/exec.sock\"" >"$work/src.hmp.out"
        st=$(wait_mig src "failed completed" 100)
        err="$(merror src) $(cat "$work/src.hmp.out")"
        check "exec: with TLS and no tls-hostname fails, saying so; source intact" \
            '[ "$st" = failed ] && echo "$err" | grep -qi "hostname" && intact src'
    fi
    both_gone src dst
    # The target's command never got its peer: vmhost's exit stops it too.
    check "exec: commands end with their vmhost (hostname $hn)" \
        'wait_until "! pgrep -f \"UNIX-LISTEN:$work/exec.sock\" >/dev/null" 50'
done

# fd: with TLS and no tls-hostname.
pair -object "$x509_src" -- -object "$x509_dst"
hmp src "$tls_on" >/dev/null
hmp dst "$tls_on" >/dev/null
"$fdpass" "$work/src.qmp" "$work/dst.qmp" migfd >"$work/fdpass.out" 2>&1
hmp dst "migrate_incoming fd:migfd" >/dev/null
hmp src "migrate -d fd:migfd" >"$work/src.hmp.out"
st=$(wait_mig src "failed completed" 100)
err="$(merror src) $(cat "$work/src.hmp.out")"
check "fd: with TLS and no tls-hostname fails, saying so; source intact" \
    '[ "$st" = failed ] && echo "$err" | grep -qi "hostname" && intact src'
both_gone src dst

# file: save, then restore; with an offset too.
for off in "" ",offset=4096"; do
    pair
    rm -f "$work/state.bin"
    hmp src "$fast" "migrate -d file:$work/state.bin$off" >/dev/null
    st=$(wait_mig src "completed failed" 300)
    check "file:PATH$off: the source completes and the file holds the state" \
        '[ "$st" = completed ] && [ -s "$work/state.bin" ]'
    if [ -n "$off" ]; then
        check "file:PATH$off: the bytes before the offset are left alone" \
            '[ "$(head -c 4096 "$work/state.bin" | tr -d "\0" | wc -c)" -eq 0 ]'
    fi
    hmp dst "migrate_incoming file:$work/state.bin$off" >/dev/null
    check "file:PATH$off restored on the target: runs, verify ok, checksums equal" \
        'migrated src dst'
    both_gone src dst
done

# -incoming URI on the command line (listening at once), and
# migrate_incoming allowed only once.
port=$(free_port)
vm src
vm dst -incoming "tcp:127.0.0.1:$port"
fill src
again=$(hmp dst "migrate_incoming tcp:127.0.0.1:$(free_port)")
hmp src "$fast" "migrate -d tcp:127.0.0.1:$port" >/dev/null
check "-incoming tcp:HOST:PORT on the command line: completed, verify ok, checksums equal" \
    'migrated src dst'
check "a second migrate_incoming is refused with a reason" \
    'echo "$again" | grep -qi "^error: .*already"'
both_gone src dst

# ======== multifd ========
for ch in 1 2 4; do
    port=$(free_port)
    pair -object "$x509_src" -- -object "$x509_dst"
    set_mf="migrate_set_capability multifd on"
    set_ch="migrate_set_parameter multifd-channels $ch"
    hmp dst "$tls_on" "$set_mf" "$set_ch" "migrate_incoming tcp:127.0.0.1:$port" >/dev/null
    hmp src "$tls_on" "$set_mf" "$set_ch" "$fast" "migrate -d tcp:127.0.0.1:$port" >/dev/null
    check "multifd $ch channel(s) over TLS: verify ok, checksums equal" 'migrated src dst'
    check "multifd $ch: info migrate shows $ch channel(s)" \
        'hmp src "info migrate" | grep -q "^multifd channels: $ch\$"'
    both_gone src dst
done
port=$(free_port)
pair
hmp dst "migrate_set_capability multifd on" "migrate_set_parameter multifd-channels 4" \
    "migrate_incoming tcp:127.0.0.1:$port" >/dev/null
hmp src "migrate_set_capability multifd on" "migrate_set_parameter multifd-channels 4" \
    "$fast" "migrate -d tcp:127.0.0.1:$port" >/dev/null
check "multifd 4 channels, plain TCP" 'migrated src dst'
both_gone src dst

# ======== QMP only, and HMP migrate without -d ========
# The whole migration through QMP (migrate-set-capabilities,
# migrate-set-parameters, migrate-incoming, migrate), with the source's
# MIGRATION events read on a QMP session held open meanwhile.
port=$(free_port)
pair -object "$x509_src" -- -object "$x509_dst"
caps='{"capabilities":[{"capability":"multifd","state":true},{"capability":"events","state":true}]}'
params='{"tls-creds":"tls0","multifd-channels":2,"max-bandwidth":10737418240}'
r1=$(qmp dst migrate-set-capabilities "$caps")
r2=$(qmp dst migrate-set-parameters '{"tls-creds":"tls0","multifd-channels":2}')
r3=$(qmp dst migrate-incoming "{\"uri\":\"tcp:127.0.0.1:$port\"}")
r4=$(qmp src migrate-set-capabilities "$caps")
r5=$(qmp src migrate-set-parameters "$params")
: >"$work/events.out"
{
    printf '{"execute":"qmp_capabilities"}\n{"execute":"migrate","arguments":{"uri":"tcp:127.0.0.1:%s"}}\n' "$port"
    wait_until 'grep -q "\"completed\"\|\"failed\"" "$work/events.out"' 300
} | timeout 40 socat -t 1 - "UNIX-CONNECT:$work/src.qmp" >"$work/events.out" 2>/dev/null
check "QMP: migrate-set-capabilities, migrate-set-parameters, migrate-incoming return {}" \
    'for r in "$r1" "$r2" "$r3" "$r4" "$r5"; do echo "$r" | grep -q "\"return\": *{}" || exit 1; done'
check "QMP: migrate completes; verify ok, checksums equal" 'migrated src dst'
check "QMP: with the events capability, MIGRATION events setup, active, completed on the source" \
    'grep -q "\"MIGRATION\".*\"setup\"" "$work/events.out" && grep -q "\"MIGRATION\".*\"active\"" "$work/events.out" && grep -q "\"MIGRATION\".*\"completed\"" "$work/events.out"'
r=$(qmp src query-migrate-parameters)
check "QMP: query-migrate-parameters shows what was set" \
    'echo "$r" | grep -q "\"tls-creds\": *\"tls0\"" && echo "$r" | grep -q "\"multifd-channels\": *2"'
r=$(qmp src query-migrate-capabilities)
check "QMP: query-migrate-capabilities shows multifd on" \
    'echo "$r" | grep -q "\"capability\": *\"multifd\", *\"state\": *true\|\"state\": *true, *\"capability\": *\"multifd\""'
both_gone src dst

# HMP migrate without -d, with the seed's migrate_set_str_parameter: the
# monitor reports progress and the end on the same session.
port=$(free_port)
pair -object "$x509_src" -- -object "$x509_dst"
hmp dst "migrate_set_str_parameter tls-creds tls0" "migrate_incoming tcp:127.0.0.1:$port" >/dev/null
hmp src "migrate_set_str_parameter tls-creds tls0" "migrate_set_parameter max-bandwidth 64M" >/dev/null
: >"$work/fg.out"
{
    printf 'migrate tcp:127.0.0.1:%s\n' "$port"
    wait_until 'grep -q "migration completed\|migration failed" "$work/fg.out"' 300
} | timeout 40 socat -t 1 - "UNIX-CONNECT:$work/src.hmp" >"$work/fg.out" 2>/dev/null
check "HMP migrate (no -d): progress with a percentage, then 'migration completed'" \
    'grep -q "[0-9.]*%" "$work/fg.out" && grep -q "migration completed" "$work/fg.out" && migrated src dst'
both_gone src dst

# ======== dirty rates ========
# Converging: 20 MB/s of writes against a fast link; the target starts
# stopped (-S) so its RAM can be compared with the source's frozen RAM.
port=$(free_port)
vm src -object "$x509_src"
vm dst -S -incoming defer -object "$x509_dst"
fill src
hmp src "guest dirty 20 random" >/dev/null
hmp dst "$tls_on" "migrate_incoming tcp:127.0.0.1:$port" >/dev/null
hmp src "$tls_on" "migrate_set_parameter max-bandwidth 1G" \
    "migrate -d tcp:127.0.0.1:$port" >/dev/null
check "a guest writing 20 MB/s converges: completed, checksums equal, verify ok" \
    'migrated src dst'
r=$(qmp src query-migrate)
down=$(json_num "$r" downtime)
check "converging: the downtime ($down ms) stays near the 300 ms downtime-limit (< 500 ms)" \
    '[ -n "$down" ] && [ "$down" -lt 500 ]'
check "query-migrate names the dirty-tracking mechanism and counts passes" \
    'hmp src "info migrate" | grep -qi "uffd\|mprotect" && [ "$(json_num "$r" dirty-sync-count)" -ge 1 ]'
hmp dst cont >/dev/null
check "-S on the target: prelaunch until cont, then running and verify ok" \
    'wait_until "[ \"\$(rstate dst)\" = running ]" 50 && verify_ok dst'
both_gone src dst

# Not converging: writes as fast as the guest can against 32 MiB/s and a
# 20 ms downtime limit: it must keep iterating.
port=$(free_port)
pair -object "$x509_src" -- -object "$x509_dst"
hmp src "guest dirty 4G random" >/dev/null
hmp dst "$tls_on" "migrate_incoming tcp:127.0.0.1:$port" >/dev/null
hmp src "$tls_on" "migrate_set_parameter max-bandwidth 32M" \
    "migrate_set_parameter downtime-limit 20" >/dev/null
t0=$(date +%s%N)
hmp src "migrate -d tcp:127.0.0.1:$port" >/dev/null
# Poll rather than sleep a fixed 4 s: on a loaded machine the passes come
# slower. Wait for at least 4 s (the bandwidth measurement's span) and two
# dirty-sync passes, at most 20 s; every answer must say active (setup only
# before the first active). The bandwidth is judged over the real elapsed
# time, up to the answer its byte count comes from.
bad=""
seen_active=false
while :; do
    r=$(qmp src query-migrate)
    t1=$(date +%s%N)
    st=$(json_str "$r" status)
    passes=$(json_num "$r" dirty-sync-count)
    ms=$(((t1 - t0) / 1000000))
    case "$st" in
    active) seen_active=true ;;
    setup) if $seen_active; then bad="setup after active"; fi ;;
    *) bad="${st:-no answer}" ;;
    esac
    [ -n "$bad" ] && break
    [ "$ms" -ge 4000 ] && [ "${passes:-0}" -ge 2 ] && break
    [ "$ms" -ge 20000 ] && break
    sleep 0.2
done
xfer=$(json_num "$(printf '%s' "$r" | grep -o '"ram": *{[^}]*}')" transferred)
limit=$((ms * 32 * 1048576 / 1000))
check "max-bandwidth 32M: $xfer bytes in $ms ms, at most 1.2x the limit ($limit)" \
    '[ -n "$xfer" ] && [ "$xfer" -le $((limit * 6 / 5)) ] && [ "$xfer" -ge $((limit / 4)) ]'

check "non-converging: active throughout ${ms} ms (${bad:-never left active}), ${passes:-0} passes (>= 2)" \
    '[ -z "$bad" ] && [ "$st" = active ] && [ "${passes:-0}" -ge 2 ]'
check "non-converging: the guest never stopped (run state running)" \
    '[ "$(rstate src)" = running ]'
hmp src migrate_cancel >/dev/null
st=$(wait_mig src "cancelled failed completed" 100)
hmp src "guest dirty off" >/dev/null
check "migrate_cancel: cancelled; the source runs on and verifies" \
    '[ "$st" = cancelled ] && intact src'
check "migrate_cancel: the target does not start" 'not_started dst'
gone dst
port=$(free_port)
vm dst -incoming defer -object "$x509_dst"
hmp dst "$tls_on" "migrate_incoming tcp:127.0.0.1:$port" >/dev/null
hmp src "migrate_set_parameter max-bandwidth 10G" "migrate -d tcp:127.0.0.1:$port" >/dev/null
check "a second migrate after the cancel completes" 'migrated src dst'
both_gone src dst

# ======== TLS matrix ========
# tls_case LABEL EXPECT(ok|fail) SRC-ARGS -- DST-ARGS -- SRC-HMP... -- DST-HMP...
# Migrates to tcp:127.0.0.1:PORT (or $TLS_HOST).
tls_try() {
    expect=$1
    port=$(free_port)
    hmp dst $dst_cmds "migrate_incoming tcp:127.0.0.1:$port" >/dev/null
    hmp src $src_cmds "$fast" "migrate -d tcp:${TLS_HOST:-127.0.0.1}:$port" >/dev/null
    if [ "$expect" = ok ]; then
        migrated src dst
    else
        st=$(wait_mig src "failed completed cancelled" 150)
        [ "$st" = failed ] || {
            why="source status $st (want failed)"
            return 1
        }
        [ -n "$(merror src)" ] || {
            why="no error-desc in query-migrate"
            return 1
        }
        # SRC_WANT: in the source's error; DST_WANT: in the target's log.
        [ -z "${SRC_WANT:-}" ] || merror src | grep -qF "$SRC_WANT" || {
            why="source error '$(merror src)' lacks '$SRC_WANT'"
            return 1
        }
        [ -z "${DST_WANT:-}" ] ||
            cat "$work/dst.err" "$work/dst.log" 2>/dev/null | grep -qF "$DST_WANT" || {
            why="the target's log lacks '$DST_WANT'"
            return 1
        }
        intact src && not_started dst
    fi
}
IFS_SAVE=$IFS
# The HMP command lists below hold spaces inside each command, so they are
# split on newlines.
nl='
'
tls_case() {
    label=$1 expect=$2 sargs=$3 dargs=$4 src_cmds=$5 dst_cmds=$6
    # shellcheck disable=SC2086
    vm src $sargs
    # shellcheck disable=SC2086
    vm dst -incoming defer $dargs
    fill src
    IFS=$nl
    check "$label" 'tls_try $expect'
    IFS=$IFS_SAVE
    both_gone src dst
}
S="-object $x509_src"
D="-object $x509_dst"
tls_case "TLS: the tls-hostname override is checked instead of the URI's host" ok \
    "-object tls-creds-x509,id=tls0,endpoint=client,dir=$other" \
    "-object tls-creds-x509,id=tls0,endpoint=server,dir=$other" \
    "$tls_on${nl}migrate_set_parameter tls-hostname target.example" "$tls_on"
tls_case "TLS: a certificate not for the URI's host (127.0.0.1) is refused" fail \
    "-object tls-creds-x509,id=tls0,endpoint=client,dir=$other" \
    "-object tls-creds-x509,id=tls0,endpoint=server,dir=$other" "$tls_on" "$tls_on"
tls_case "TLS: a tls-hostname the certificate does not carry is refused" fail \
    "$S" "$D" "$tls_on${nl}migrate_set_parameter tls-hostname wrong.example" "$tls_on"
tls_case "TLS: tls-authz allowing the client's DN" ok \
    "$S" "$D -object authz-simple,id=auth0,identity=$(echo "$client_dn" | sed "s/,/,,/g")" \
    "$tls_on" "$tls_on${nl}migrate_set_parameter tls-authz auth0"
tls_case "TLS: tls-authz denying the client's DN: the source fails (never completed), the target does not start" fail \
    "$S" "$D -object authz-simple,id=auth0,identity=CN=someone-else" \
    "$tls_on" "$tls_on${nl}migrate_set_parameter tls-authz auth0"
tls_case "TLS: a client without a certificate is refused (verify-peer on)" fail \
    "-object tls-creds-x509,id=tls0,endpoint=client,dir=$nocert" "$D" "$tls_on" "$tls_on"
tls_case "TLS: a client without a certificate is accepted with verify-peer=off" ok \
    "-object tls-creds-x509,id=tls0,endpoint=client,dir=$nocert" "$D,verify-peer=off" \
    "$tls_on" "$tls_on"
SRC_WANT="the target does not expect TLS (set tls-creds on the target"
DST_WANT="the source sent a TLS handshake; set tls-creds on the target"
tls_case "TLS: the target not using TLS refuses a TLS source, both say why" fail \
    "$S" "" "$tls_on" ""
SRC_WANT="the target expects TLS (set tls-creds)" DST_WANT=""
tls_case "TLS: a TLS target refuses a plain source, which is told to set tls-creds" fail \
    "" "$D" "" "$tls_on"
SRC_WANT="" DST_WANT=""
tls_case "TLS-PSK: matching keys" ok \
    "-object tls-creds-psk,id=tls0,endpoint=client,dir=$psk" \
    "-object tls-creds-psk,id=tls0,endpoint=server,dir=$psk" "$tls_on" "$tls_on"
tls_case "TLS-PSK: mismatched keys are refused" fail \
    "-object tls-creds-psk,id=tls0,endpoint=client,dir=$psk2" \
    "-object tls-creds-psk,id=tls0,endpoint=server,dir=$psk" "$tls_on" "$tls_on"
tls_case "TLS: a second migrate after a refused one works" ok "$S" "$D" "$tls_on" "$tls_on"

# ======== faults ========
# Target killed mid-stream: a slow link (16 MiB/s for 64 MiB) so that it is
# surely mid-stream.
port=$(free_port)
pair -object "$x509_src" -- -object "$x509_dst"
hmp dst "$tls_on" "migrate_incoming tcp:127.0.0.1:$port" >/dev/null
hmp src "$tls_on" "migrate_set_parameter max-bandwidth 16M" "migrate -d tcp:127.0.0.1:$port" >/dev/null
wait_mig src active 50 >/dev/null
sleep 0.5
gone dst
st=$(wait_mig src "failed completed cancelled" 150)
check "target killed mid-stream: the source fails with the reason" \
    '[ "$st" = failed ] && [ -n "$(merror src)" ]'
check "target killed mid-stream: the source runs on intact" 'intact src'
port=$(free_port)
vm dst -incoming defer -object "$x509_dst"
hmp dst "$tls_on" "migrate_incoming tcp:127.0.0.1:$port" >/dev/null
hmp src "$fast" "migrate -d tcp:127.0.0.1:$port" >/dev/null
check "a second migrate after the target died completes" 'migrated src dst'
both_gone src dst

# Network cut: a socat relay in the middle, killed mid-stream.
port=$(free_port) rport=$(free_port)
pair -object "$x509_src" -- -object "$x509_dst"
hmp dst "$tls_on" "migrate_incoming tcp:127.0.0.1:$port" >/dev/null
socat "TCP-LISTEN:$rport,bind=127.0.0.1,reuseaddr" "TCP:127.0.0.1:$port" 2>/dev/null &
relay=$!
pids="$pids $relay"
wait_until 'ss -ltn | grep -q "127.0.0.1:$rport "' 50
hmp src "$tls_on" "migrate_set_parameter max-bandwidth 16M" "migrate -d tcp:localhost:$rport" >/dev/null
wait_mig src active 50 >/dev/null
sleep 0.5
kill -KILL "$relay" 2>/dev/null
wait "$relay" 2>/dev/null
st=$(wait_mig src "failed completed cancelled" 150)
check "network cut mid-stream: the source fails with the reason, runs on intact" \
    '[ "$st" = failed ] && [ -n "$(merror src)" ] && intact src'
sleep 0.5
dst_mig=$(mstatus dst)
dst_err=$(merror dst)
dst_info=$(hmp dst "info migrate")
check "network cut mid-stream: the target does not start the half-received guest" \
    'not_started dst && { [ "$dst_mig" = gone ] || [ "$dst_mig" = failed ]; }'
check "network cut mid-stream: the target says why (query-migrate error-desc, info migrate)" \
    '[ "$dst_mig" = gone ] || { [ -n "$dst_err" ] && echo "$dst_info" | grep -qi "error"; }'
both_gone src dst

# Cancel at several moments: right after migrate -d, mid-stream, and twice.
for when in 0 0.5; do
    port=$(free_port)
    pair -object "$x509_src" -- -object "$x509_dst"
    hmp dst "$tls_on" "migrate_incoming tcp:127.0.0.1:$port" >/dev/null
    if [ "$when" = 0 ]; then
        hmp src "$tls_on" "migrate_set_parameter max-bandwidth 16M" \
            "migrate -d tcp:127.0.0.1:$port" migrate_cancel >/dev/null
    else
        hmp src "$tls_on" "migrate_set_parameter max-bandwidth 16M" \
            "migrate -d tcp:127.0.0.1:$port" >/dev/null
        sleep "$when"
        hmp src migrate_cancel migrate_cancel >/dev/null
    fi
    st=$(wait_mig src "cancelled failed completed" 100)
    check "migrate_cancel ${when}s after migrate -d: cancelled, source intact, target not started" \
        '[ "$st" = cancelled ] && intact src && not_started dst'
    gone dst
    port=$(free_port)
    vm dst -incoming defer -object "$x509_dst"
    hmp dst "$tls_on" "migrate_incoming tcp:127.0.0.1:$port" >/dev/null
    hmp src "$fast" "migrate -d tcp:127.0.0.1:$port" >/dev/null
    check "a second migrate after that cancel completes" 'migrated src dst'
    both_gone src dst
done

# Cancel while the TLS handshake waits on a peer that accepted the
# connection and never answers (a mute socat listener).
port=$(free_port)
vm src -object "$x509_src"
fill src
# (-u: it reads and never writes; no SYSTEM: child that would outlive it)
socat -u "TCP-LISTEN:$port,bind=127.0.0.1,reuseaddr" OPEN:/dev/null 2>/dev/null &
mute=$!
pids="$pids $mute"
wait_until 'ss -ltn | grep -q "127.0.0.1:$port "' 50
hmp src "$tls_on" "migrate -d tcp:127.0.0.1:$port" >/dev/null
sleep 0.5
st0=$(mstatus src)
hmp src migrate_cancel >/dev/null
st=$(wait_mig src "cancelled failed completed" 50)
check "migrate_cancel during a TLS handshake a mute peer never answers: cancelled ($st0 -> $st) within 5 s, source intact" \
    '[ "$st" = cancelled ] && intact src'
kill -KILL "$mute" 2>/dev/null
wait "$mute" 2>/dev/null
gone src

# file: on a full disk: a 1 MiB tmpfs mounted in a private mount namespace
# that only the source lives in.
if unshare -m --propagation private true 2>/dev/null; then
    mkdir "$work/full"
    cat >"$work/src-in-ns.sh" <<EOF
mount -t tmpfs -o size=1M vh-mig-full "$work/full" || exit 97
exec "\$@"
EOF
    vmhost_real=$vmhost
    vmhost="$work/ns-vmhost"
    printf '#!/bin/sh\nexec unshare -m --propagation private sh %s %s "$@"\n' \
        "$work/src-in-ns.sh" "$vmhost_real" >"$vmhost"
    chmod +x "$vmhost"
    vm src
    vmhost=$vmhost_real
    fill src
    hmp src "$fast" "migrate -d file:$work/full/state.bin" >/dev/null
    st=$(wait_mig src "failed completed" 150)
    err=$(merror src)
    check "file: on a full disk: failed, the reason says so, source intact" \
        '[ "$st" = failed ] && echo "$err" | grep -qi "space" && intact src'
    hmp src "migrate -d file:$work/state2.bin" >/dev/null
    st=$(wait_mig src "failed completed" 300)
    check "file: a second migrate to a roomy place completes" '[ "$st" = completed ]'
    gone src
else
    skip "file: on a full disk: cannot make a private mount namespace here (unshare -m)"
    skip "file: a second migrate after a full disk"
fi

check "no sanitizer report from any vmhost (stderr of every machine)" 'sanitizer_clean'
check "every vmhost exited on SIGTERM, none needed SIGKILL" 'all_exited_on_sigterm'
echo "1..$n"
