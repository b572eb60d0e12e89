#!/bin/sh
# vmhost post-copy: what an operator does when something goes wrong (TAP),
# through HMP and QMP on UNIX sockets, TLS on every connection:
#   - migrate_pause (HMP) on the source during post-copy: both sides go
#     postcopy-paused saying migrate_pause did it, the target's guest runs
#     on and its write rate shows live in info migrate; migrate_recover and
#     migrate -r finish it and the target verifies;
#   - multifd + post-copy, QMP migrate-pause on the target: both pause,
#     the resume reconnects the multifd channels too (the source says how
#     many), completed, verifying;
#   - tls-authz on the resume: the target's incoming admits one DN; a
#     resume with the source's credentials switched to another DN is
#     refused (the source stays paused and says the target refused it, the
#     target logs the DN), a resume with the right ones then succeeds;
#   - the target killed during pre-copy with postcopy-ram on (before the
#     switch): the source fails the migration, runs on and verifies; a
#     migration to a restarted target then completes in post-copy;
#   - refusals: migrate_pause without a migration, during pre-copy (which
#     goes on), on a side already paused; migrate -r with credentials that
#     do not exist.
# Every server is on 127.0.0.1 or a UNIX socket; every process is killed
# and reaped, $work removed.
set -u
mem=64M

. "$(dirname "$0")/migration-lib.sh"
tl_start mig-pc-recovery

pki="$work/pki" bad="$work/pki-other"
. "$(dirname "$0")/postcopy-lib.sh"
pc_need_uffd
mkdir "$pki" "$bad"
{
    "$pki_tool" init-ca "$pki" &&
        "$pki_tool" issue server "$pki" --hostname localhost --ip 127.0.0.1 &&
        "$pki_tool" issue client "$pki" --dn "C=GB,O=vmhost,CN=mig-source" &&
        cp "$pki/ca-cert.pem" "$pki/ca-key.pem" "$bad/" &&
        "$pki_tool" issue client "$bad" --dn "C=GB,O=vmhost,CN=intruder" &&
        rm "$bad/ca-key.pem"
} >/dev/null || {
    echo "Bail out! vmhost-pki failed"
    exit 1
}
mf_on="migrate_set_capability multifd on"
# post-copy's bulk slow too, so that post-copy lasts a few seconds
pc_slow="migrate_set_parameter max-postcopy-bandwidth 10M"
# into_postcopy [CAPS...]: pair's migration with CAPS on both sides, over
# TLS to $port, switched to post-copy; prints the target's status.
into_postcopy() {
    hmp dst "$tls_on" "$pc_on" "$@" "migrate_incoming tcp:127.0.0.1:$port" >/dev/null
    hmp src "$tls_on" "$pc_on" "$@" "$slow" "$pc_slow" "migrate -d tcp:127.0.0.1:$port" >/dev/null
    wait_mig src active 100 >/dev/null
    sleep 0.5
    hmp src migrate_start_postcopy >/dev/null
    wait_mig dst "postcopy-active completed failed" 100
}
# both_paused: the source and the target postcopy-paused (at most 10 s).
both_paused() {
    ss=$(wait_mig src "postcopy-paused completed failed" 100)
    st=$(wait_mig dst "postcopy-paused completed failed" 100)
    [ "$ss" = postcopy-paused ] && [ "$st" = postcopy-paused ] || {
        why="source $ss ($(merror src)), target $st ($(merror dst))"
        return 1
    }
}
# resume PORT: migrate_recover on the target, migrate -r on the source.
resume() {
    r1=$(hmp dst "migrate_recover tcp:127.0.0.1:$1")
    r2=$(hmp src "migrate -r tcp:127.0.0.1:$1")
    [ -z "$(printf '%s' "$r1$r2" | grep -i error)" ] || {
        why="recover: '$r1', migrate -r: '$r2'"
        return 1
    }
}
port=$(free_port)

# ======== migrate_pause on the source, recover ========
pair
st=$(into_postcopy)
if [ "$st" != postcopy-active ]; then
    not_ok "migrate_pause: the target reached postcopy-active (it is $st: $(merror dst))"
else
    sleep 0.5
    info=$(hmp dst "info migrate")
    check "the target shows its guest's write rate live during post-copy" \
        'echo "$info" | grep -q "^guest write rate: [0-9]* pages/s during post-copy (.*% of its set 15360 pages/s)"'
    echo "# target, live: $(echo "$info" | grep '^guest write rate')"
    echo "# source: $(hmp src "info migrate" | grep '^guest write rate')"
    r=$(hmp src migrate_pause)
    check "HMP migrate_pause on the source is taken (no error)" '! echo "$r" | grep -qi error'
    check "... both sides go postcopy-paused" both_paused
    check "... the source says migrate_pause cut the connections, its guest stays paused" \
        'merror src | grep -q "paused by migrate_pause" && [ "$(rstate src)" = paused ]'
    check "... the target lost its connections, its guest runs on, it says how to recover" \
        'merror dst | grep -q "migrate_recover URI here" && [ "$(rstate dst)" = running ]'
    r=$(hmp src migrate_pause)
    check "migrate_pause on a side already paused is refused" \
        'echo "$r" | grep -q "only a running post-copy can be paused (status postcopy-paused)"'
    port2=$(free_port)
    check "migrate_recover + migrate -r after migrate_pause" 'resume "$port2"'
    check "... both completed, the target's guest verifies" 'postcopied src dst'
    info=$(hmp dst "info migrate")
    check "the target's info migrate keeps the guest's rate over the whole post-copy" \
        'echo "$info" | grep -q "^guest write rate: [0-9]* pages/s during post-copy"'
fi
both_gone src dst

# ======== multifd + post-copy, QMP migrate-pause on the target ========
pair
st=$(into_postcopy "$mf_on")
if [ "$st" != postcopy-active ]; then
    not_ok "multifd: the target reached postcopy-active (it is $st: $(merror dst))"
else
    sleep 0.3
    r=$(qmp dst migrate-pause)
    check "QMP migrate-pause on the target answers return" 'echo "$r" | grep -q "\"return\""'
    check "... both sides go postcopy-paused" both_paused
    check "... the target says migrate_pause cut the connections" \
        'merror dst | grep -q "migrate_pause cut the connections"'
    port2=$(free_port)
    check "multifd: migrate_recover + migrate -r" 'resume "$port2"'
    check "... the resume reconnected the 2 multifd channels" \
        'wait_until "grep -q \"post-copy resumed over 2 multifd channels\" \"$work/src.log\"" 100'
    check "multifd: both completed after the resume, the target's guest verifies" \
        'postcopied src dst'
fi
both_gone src dst

# ======== tls-authz on the resume ========
pair -object "tls-creds-x509,id=tlsbad,endpoint=client,dir=$bad" -- \
    -object "authz-simple,id=auth0,identity=C=GB,,O=vmhost,,CN=mig-source"
hmp dst "migrate_set_parameter tls-authz auth0" >/dev/null
st=$(into_postcopy)
if [ "$st" != postcopy-active ]; then
    not_ok "authz: the target reached postcopy-active with the allowed DN (it is $st: $(merror dst))"
else
    hmp dst migrate_pause >/dev/null
    check "authz: both paused" both_paused
    port2=$(free_port)
    hmp src "migrate_set_parameter tls-creds tlsbad" >/dev/null
    hmp dst "migrate_recover tcp:127.0.0.1:$port2" >/dev/null
    hmp src "migrate -r tcp:127.0.0.1:$port2" >/dev/null
    check "a resume with a DN tls-authz does not allow is refused: the source stays paused, saying the target refused it" \
        'wait_until "merror src | grep -q \"resuming: the target refused or dropped the resume (its tls-authz.*Access was denied\"" 100 && [ "$(mstatus src)" = postcopy-paused ]'
    check "... the target stays paused and logs the refused DN" \
        '[ "$(mstatus dst)" = postcopy-paused ] && grep -q "CN=intruder" "$work/dst.log"'
    r=$(hmp src "migrate_set_parameter tls-creds nosuch" "migrate -r tcp:127.0.0.1:$port2")
    check "migrate -r with credentials that do not exist is refused at once" \
        'echo "$r" | grep -q "tls-creds" && [ "$(mstatus src)" = postcopy-paused ]'
    hmp src "migrate_set_parameter tls-creds tls0" >/dev/null
    hmp src "migrate -r tcp:127.0.0.1:$port2" >/dev/null
    check "... then a resume with the allowed DN completes, the target verifies" 'postcopied src dst'
fi
both_gone src dst

# ======== the target dies before the switch ========
pair
hmp dst "$tls_on" "$pc_on" "migrate_incoming tcp:127.0.0.1:$port" >/dev/null
hmp src "$tls_on" "$pc_on" "$slow" "migrate -d tcp:127.0.0.1:$port" >/dev/null
wait_mig src active 100 >/dev/null
sleep 0.5
r=$(hmp src migrate_pause)
check "migrate_pause during pre-copy is refused (use migrate_cancel), pre-copy goes on" \
    'echo "$r" | grep -q "only a running post-copy can be paused (status active); a pre-copy is stopped with migrate_cancel" && [ "$(mstatus src)" = active ]'
kill -KILL "$(pid dst)"
wait "$(pid dst)" 2>/dev/null
st=$(wait_mig src "failed completed cancelled postcopy-paused" 150)
check "target killed during pre-copy with postcopy-ram on: the source fails it, runs on and verifies" \
    '[ "$st" = failed ] && intact src'
vm dst -incoming defer -object "$tls_dst"
hmp dst "$tls_on" "$pc_on" "migrate_incoming tcp:127.0.0.1:$port" >/dev/null
hmp src "migrate -d tcp:127.0.0.1:$port" >/dev/null
wait_mig src active 100 >/dev/null
hmp src migrate_start_postcopy >/dev/null
check "... a migration to the restarted target then completes in post-copy, verifying" \
    'postcopied src dst'
both_gone src dst

vm src
r=$(hmp src migrate_pause)
check "migrate_pause with no migration is refused" \
    'echo "$r" | grep -q "only a running post-copy can be paused (status none)"'
r=$(qmp src migrate-pause)
check "QMP migrate-pause with no migration is a GenericError" \
    'echo "$r" | grep -q "GenericError"'
gone src

check "no sanitizer report from any vmhost (stderr of every machine)" 'sanitizer_clean'
check "every vmhost exited on SIGTERM, none needed SIGKILL" 'all_exited_on_sigterm'
echo "1..$n"
