#!/bin/sh
# vmhost post-copy across a real link that goes down (TAP): the source and
# the target each in its own network namespace, joined by a veth pair
# (10.x addresses that exist only inside the namespaces), TLS with
# tls-authz on every connection, multifd. During post-copy the link is
# taken down (ip link set down: packets vanish, nothing resets the TCP
# connections, as when a cable is pulled).
#   1. x-postcopy-link-timeout 0 on both sides (the kernel's TCP timeouts):
#      3 s after the cut neither side has noticed, so the operator runs
#      migrate_pause where post-copy still looks active (QEMU's
#      procedure); both sides are then postcopy-paused, the target's guest
#      running on; the link comes back, migrate_recover and migrate -r
#      finish it and the target's guest verifies.
#   2. x-postcopy-link-timeout 2000 on both sides and no migrate_pause:
#      both sides notice the dead link by themselves and pause within a
#      bounded time (the time each took is printed), the source keeping
#      its guest; the link comes back and the resume finishes as in 1.
#   3. The link dies between POSTCOPY_RUN and READY (a tc filter drops
#      the target's data from before the switch): the source cannot know
#      whether the target runs the guest, so both pause; the resume
#      finishes as in 2.
# Skipped, saying why, where namespaces cannot be made (not root, no ip
# netns, no veth, no userfaultfd).
set -u
mem=64M
tag=$$
ns_src="vhpc-src-$tag"
ns_dst="vhpc-dst-$tag"
veth_src="vhps$tag"
veth_dst="vhpd$tag"
net="10.232.$((tag % 250 + 1))"
src_ip="$net.1" dst_ip="$net.2"

. "$(dirname "$0")/migration-lib.sh"
tl_start mig-pc-netns
cleanup_more() {
    ip netns del "$ns_src" 2>/dev/null
    ip netns del "$ns_dst" 2>/dev/null
}

skip_all() {
    echo "1..0 # SKIP post-copy across two network namespaces: $1"
    exit 0
}
netns_pair

pki="$work/pki"
mkdir "$pki"
{
    "$pki_tool" init-ca "$pki" &&
        "$pki_tool" issue server "$pki" --hostname "target-$tag" --ip "$dst_ip" &&
        "$pki_tool" issue client "$pki" --dn "C=GB,O=vmhost,CN=source-$tag"
} >/dev/null || {
    echo "Bail out! vmhost-pki failed"
    exit 1
}
echo "# source $ns_src ($src_ip), target $ns_dst ($dst_ip)"
# link_ok: the target's kernel answers the source's namespace (a refused
# connection to a port nobody listens on; a dead link gives no answer).
link_ok() {
    ip netns exec "$ns_src" socat -T 1 /dev/null "TCP:$dst_ip:9,connect-timeout=1" 2>&1 |
        grep -q "refused"
}
check "the namespaces reach each other over the veth pair" 'link_ok'

VM_WRAP="ip netns exec $ns_src" vm src \
    -object "tls-creds-x509,id=tls0,endpoint=client,dir=$pki"
VM_WRAP="ip netns exec $ns_dst" vm dst -incoming defer \
    -object "tls-creds-x509,id=tls0,endpoint=server,dir=$pki" \
    -object "authz-simple,id=auth0,identity=C=GB,,O=vmhost,,CN=source-$tag"
r=$(hmp src "migrate_set_capability postcopy-ram on")
if echo "$r" | grep -q "not supported"; then
    gone src
    gone dst
    skip_all "postcopy-ram: $r"
fi
fill src
hmp src "guest dirty 60M random" >/dev/null
port=$((20000 + tag % 20000))
tls_on="migrate_set_parameter tls-creds tls0"
pc_on="migrate_set_capability postcopy-ram on"
mf_on="migrate_set_capability multifd on"
# into_postcopy SRC DST PORT LINK-TIMEOUT-SETTING: SRC migrates to DST
# across the namespaces (TLS + tls-authz + multifd, pre-copy slower than
# the guest writes), switched to post-copy; prints DST's status.
into_postcopy() {
    hmp "$2" "$tls_on" "$pc_on" "$mf_on" "migrate_set_parameter tls-authz auth0" \
        "$4" "migrate_incoming tcp:$dst_ip:$3" >/dev/null
    hmp "$1" "$tls_on" "$pc_on" "$mf_on" "migrate_set_parameter max-bandwidth 10M" \
        "migrate_set_parameter max-postcopy-bandwidth 8M" "$4" \
        "migrate -d tcp:$dst_ip:$3" >/dev/null
    wait_mig "$1" active 100 >/dev/null
    sleep 0.5
    hmp "$1" migrate_start_postcopy >/dev/null
    wait_mig "$2" "postcopy-active completed failed" 100
}
# Case 1: the kernel's timeouts (x-postcopy-link-timeout off).
lt_off="migrate_set_parameter x-postcopy-link-timeout 0"
st=$(into_postcopy src dst "$port" "$lt_off")
check "TLS + tls-authz + multifd between namespaces: the target reaches postcopy-active" \
    '[ "$st" = postcopy-active ] || { why="target $st: $(merror dst)"; false; }'
sleep 0.5
ip -n "$ns_src" link set "$veth_src" down
check "the link is down: the source's namespace no longer reaches the target" '! link_ok'
# A dead link looks like a slow one: neither side can know for minutes
# (TCP's retransmission timeout). Wait a bounded 3 s, then pause by hand
# wherever post-copy still looks active.
sleep 3
ss=$(mstatus src) st=$(mstatus dst)
echo "# 3 s after the cut: source $ss, target $st"
check "x-postcopy-link-timeout 0: 3 s after the cut neither side has noticed (both postcopy-active)" \
    '[ "$ss" = postcopy-active ] && [ "$st" = postcopy-active ] || { why="source $ss ($(merror src)), target $st ($(merror dst))"; false; }'
paused_by_hand=""
for side in src dst; do
    if [ "$(mstatus $side)" = postcopy-active ]; then
        hmp "$side" migrate_pause >/dev/null
        paused_by_hand="$paused_by_hand $side"
    fi
done
echo "# migrate_pause on:${paused_by_hand:- neither}"
ss=$(wait_mig src "postcopy-paused completed failed" 100)
st=$(wait_mig dst "postcopy-paused completed failed" 100)
check "link down: both sides postcopy-paused within 13 s of the cut" \
    '[ "$ss" = postcopy-paused ] && [ "$st" = postcopy-paused ] || { why="source $ss ($(merror src)), target $st ($(merror dst))"; false; }'
check "... the source's guest stays paused, the target's runs on" \
    '[ "$(rstate src)" = paused ] && [ "$(rstate dst)" = running ]'
w0=$(guest dst status 'pages written:' | sed 's/.*: //')
sleep 0.5
w1=$(guest dst status 'pages written:' | sed 's/.*: //')
echo "# the target's guest wrote $((w1 - w0)) pages in 0.5 s while paused (it waits on pages it lacks)"
r=$(hmp src "migrate -r tcp:$dst_ip:$((port + 1))")
wait_mig src "postcopy-active completed failed" 20 >/dev/null
check "migrate -r while the link is still down does not resume: the source stays paused" \
    '[ "$(mstatus src)" = postcopy-paused ] || { why="source $(mstatus src): $(merror src)"; false; }'
ip -n "$ns_src" link set "$veth_src" up
check "the link is back" 'wait_until link_ok 50'
hmp dst "migrate_recover tcp:$dst_ip:$((port + 2))" >/dev/null
# The failed attempt above ends (connect timeout or refusal) and the source
# waits for a new migrate -r; a resume still under way is refused, so retry.
i=0
while :; do
    r=$(hmp src "migrate -r tcp:$dst_ip:$((port + 2))")
    echo "$r" | grep -q "already under way" || break
    i=$((i + 1))
    [ "$i" -gt 150 ] && break
    sleep 0.2
done
check "link back: migrate_recover + migrate -r (TLS and tls-authz again) are taken" \
    '! echo "$r" | grep -qi error || { why="$r"; false; }'
ss=$(wait_mig src "completed failed" 600)
st=$(wait_mig dst "completed failed" 300)
check "recovered across the namespaces: both completed" \
    '[ "$ss" = completed ] && [ "$st" = completed ] || { why="source $ss ($(merror src)), target $st ($(merror dst))"; false; }'
hmp dst "guest dirty off" >/dev/null
check "... the target's guest runs and verifies" \
    '[ "$(rstate dst)" = running ] && verify_ok dst'
check "... the source resumed over the 2 multifd channels" \
    'grep -q "post-copy resumed over 2 multifd channels" "$work/src.log"'
both_gone src dst

# Case 2: x-postcopy-link-timeout 2000 on both sides, no migrate_pause.
# This time the target's end of the link goes down.
VM_WRAP="ip netns exec $ns_src" vm src2 \
    -object "tls-creds-x509,id=tls0,endpoint=client,dir=$pki"
VM_WRAP="ip netns exec $ns_dst" vm dst2 -incoming defer \
    -object "tls-creds-x509,id=tls0,endpoint=server,dir=$pki" \
    -object "authz-simple,id=auth0,identity=C=GB,,O=vmhost,,CN=source-$tag"
fill src2
hmp src2 "guest dirty 60M random" >/dev/null
port=$((port + 3))
lt_on="migrate_set_parameter x-postcopy-link-timeout 2000"
st=$(into_postcopy src2 dst2 "$port" "$lt_on")
check "x-postcopy-link-timeout 2000: the target reaches postcopy-active" \
    '[ "$st" = postcopy-active ] || { why="target $st: $(merror dst2)"; false; }'
# guarded_at WHEN: both logs say the timeout went on the main connection,
# REQUEST, URGENT and the 2 multifd channels at WHEN.
guarded_at() {
    grep -q "$1: x-postcopy-link-timeout 2000 ms on 5 TCP connections" "$work/src2.log" &&
        grep -q "$1: x-postcopy-link-timeout 2000 ms on 5 TCP connections" "$work/dst2.log"
}
check "... both sides put it on every connection at the switch (main, REQUEST, URGENT, 2 multifd)" \
    'wait_until "guarded_at post-copy" 30 || { why="$(grep -h x-postcopy-link-timeout "$work/src2.log" "$work/dst2.log")"; false; }'
sleep 0.5
# t0 before the cut: the times measured are never shorter than the real.
t0=$(date +%s%N)
ip -n "$ns_dst" link set "$veth_dst" down
# Nobody runs migrate_pause: poll both sides for up to 15 s.
ds="" dt=""
while :; do
    now=$(date +%s%N)
    [ -z "$ds" ] && [ "$(mstatus src2)" = postcopy-paused ] && ds=$(((now - t0) / 1000000))
    [ -z "$dt" ] && [ "$(mstatus dst2)" = postcopy-paused ] && dt=$(((now - t0) / 1000000))
    [ -n "$ds" ] && [ -n "$dt" ] && break
    [ $((now - t0)) -gt 15000000000 ] && break
    sleep 0.1
done
echo "# detected without migrate_pause: source paused ${ds:-never} ms, target ${dt:-never} ms after the cut"
check "link down, nobody pauses: both sides postcopy-paused by themselves within 15 s" \
    '[ -n "$ds" ] && [ -n "$dt" ] || { why="source $(mstatus src2) ($(merror src2)), target $(mstatus dst2) ($(merror dst2))"; false; }'
# A connection fails once nothing came from the peer for the timeout and a
# keepalive probe (every quarter of it, at least 1 s) went unanswered: an
# idle one may have been silent up to 1 s before the cut.
check "... neither within 1 s: the timeout did it, not the cut itself" \
    '[ "${ds:-0}" -ge 1000 ] && [ "${dt:-0}" -ge 1000 ] || { why="source ${ds} ms, target ${dt} ms"; false; }'
check "... both say the link timed out, naming x-postcopy-link-timeout" \
    'merror src2 | grep -q "x-postcopy-link-timeout, 2000 ms" && merror dst2 | grep -q "x-postcopy-link-timeout, 2000 ms" ||
        { why="source: $(merror src2); target: $(merror dst2)"; false; }'
check "... the source's guest stays paused with its state, the target's runs on" \
    '[ "$(rstate src2)" = paused ] && [ "$(rstate dst2)" = running ]'
ip -n "$ns_dst" link set "$veth_dst" up
check "the link is back" 'wait_until link_ok 50'
hmp dst2 "migrate_recover tcp:$dst_ip:$((port + 1))" >/dev/null
r=$(hmp src2 "migrate_set_parameter max-postcopy-bandwidth 0" "migrate -r tcp:$dst_ip:$((port + 1))")
check "link back: migrate_recover + migrate -r are taken" \
    '! echo "$r" | grep -qi error || { why="$r"; false; }'
ss=$(wait_mig src2 "completed failed" 300)
st=$(wait_mig dst2 "completed failed" 300)
check "recovered: both completed" \
    '[ "$ss" = completed ] && [ "$st" = completed ] || { why="source $ss ($(merror src2)), target $st ($(merror dst2))"; false; }'
hmp dst2 "guest dirty off" >/dev/null
check "... the target's guest runs and verifies" \
    '[ "$(rstate dst2)" = running ] && verify_ok dst2'
check "... the resumed connections had the timeout too" \
    'grep -q "post-copy resumed: x-postcopy-link-timeout 2000 ms on 5 TCP connections" "$work/src2.log" &&
        grep -q "post-copy resumed (x-postcopy-link-timeout 2000 ms on its connections)" "$work/dst2.log"'
both_gone src2 dst2

# Case 3: the link dies between POSTCOPY_RUN and READY. Before the
# switch a tc filter on the target's end drops every packet it sends on
# the migration port that carries data (IP length 64 and up); pure ACKs,
# FIN and RST (40-52 bytes) pass. Pre-copy goes on (the target sends no
# data then), the target takes POSTCOPY_RUN and runs the guest, and its
# READY, the first data it sends, never arrives: the cut falls in exactly
# that window. The target's unacknowledged READY times out after
# x-postcopy-link-timeout; the source, which cannot know whether the
# target runs the guest, must pause too, keeping its guest, not fail.
VM_WRAP="ip netns exec $ns_src" vm src3 \
    -object "tls-creds-x509,id=tls0,endpoint=client,dir=$pki"
VM_WRAP="ip netns exec $ns_dst" vm dst3 -incoming defer \
    -object "tls-creds-x509,id=tls0,endpoint=server,dir=$pki" \
    -object "authz-simple,id=auth0,identity=C=GB,,O=vmhost,,CN=source-$tag"
fill src3
hmp src3 "guest dirty 60M random" >/dev/null
port=$((port + 2))
# 1000 ms, the least: the target's READY times out that long after it.
lt_1s="migrate_set_parameter x-postcopy-link-timeout 1000"
hmp dst3 "$tls_on" "$pc_on" "$mf_on" "migrate_set_parameter tls-authz auth0" \
    "$lt_1s" "migrate_incoming tcp:$dst_ip:$port" >/dev/null
hmp src3 "$tls_on" "$pc_on" "$mf_on" "migrate_set_parameter max-bandwidth 10M" \
    "migrate_set_parameter max-postcopy-bandwidth 8M" "$lt_1s" \
    "migrate -d tcp:$dst_ip:$port" >/dev/null
wait_mig src3 active 100 >/dev/null
# drop_target_data on|off: the filter on the target's end of the link
# (htb, u32 and pfifo only: no tc action module is needed). Class 1:20's
# pfifo holds no packet: what goes there is dropped.
drop_target_data() {
    if [ "$1" = off ]; then
        tc -n "$ns_dst" qdisc del dev "$veth_dst" root
        return
    fi
    tcd="tc -n $ns_dst"
    $tcd qdisc add dev "$veth_dst" root handle 1: htb default 10 &&
        $tcd class add dev "$veth_dst" parent 1: classid 1:10 htb rate 10gbit &&
        $tcd class add dev "$veth_dst" parent 1: classid 1:20 htb rate 10gbit &&
        $tcd qdisc add dev "$veth_dst" parent 1:20 handle 20: pfifo limit 0 &&
        $tcd filter add dev "$veth_dst" parent 1: prio 1 protocol ip u32 \
            match ip protocol 6 0xff match ip sport "$port" 0xffff \
            match u16 0 0xffc0 at 2 classid 1:10 &&
        $tcd filter add dev "$veth_dst" parent 1: prio 2 protocol ip u32 \
            match ip protocol 6 0xff match ip sport "$port" 0xffff \
            classid 1:20
}
check "the target's data to the source is dropped from before the switch (tc filter)" \
    'drop_target_data on 2>"$work/tc.err" || { why="$(cat "$work/tc.err")"; false; }'
sleep 0.3
check "... pre-copy goes on meanwhile (the target sends no data in it)" \
    '[ "$(mstatus src3)" = active ] && [ "$(mstatus dst3)" = active ]'
hmp src3 migrate_start_postcopy >/dev/null
st=$(wait_mig dst3 "postcopy-active postcopy-paused completed failed" 100)
check "the target took POSTCOPY_RUN and runs the guest" \
    '[ "$st" = postcopy-active ] || [ "$st" = postcopy-paused ] || { why="target $st: $(merror dst3)"; false; }'
ss=$(wait_mig src3 "postcopy-paused completed failed" 150)
st=$(wait_mig dst3 "postcopy-paused completed failed" 150)
echo "# source: $(merror src3)"
check "READY lost: both sides postcopy-paused, not failed" \
    '[ "$ss" = postcopy-paused ] && [ "$st" = postcopy-paused ] || { why="source $ss ($(merror src3)), target $st ($(merror dst3))"; false; }'
check "... the source says POSTCOPY_RUN went and READY did not come" \
    'merror src3 | grep -q "waiting for the target to run the guest" &&
        merror src3 | grep -q "READY did not come" || { why="$(merror src3)"; false; }'
check "... the source's guest stays paused with its state, the target's runs on" \
    '[ "$(rstate src3)" = paused ] && [ "$(rstate dst3)" = running ]'
drop_target_data off
hmp dst3 "migrate_recover tcp:$dst_ip:$((port + 1))" >/dev/null
r=$(hmp src3 "migrate_set_parameter max-postcopy-bandwidth 0" "migrate -r tcp:$dst_ip:$((port + 1))")
check "filter gone: migrate_recover + migrate -r are taken" \
    '! echo "$r" | grep -qi error || { why="$r"; false; }'
ss=$(wait_mig src3 "completed failed" 300)
st=$(wait_mig dst3 "completed failed" 300)
check "recovered from a cut between POSTCOPY_RUN and READY: both completed" \
    '[ "$ss" = completed ] && [ "$st" = completed ] || { why="source $ss ($(merror src3)), target $st ($(merror dst3))"; false; }'
hmp dst3 "guest dirty off" >/dev/null
check "... the target's guest runs and verifies" \
    '[ "$(rstate dst3)" = running ] && verify_ok dst3'
check "... no page went missing" \
    '! grep -q "pages never received" "$work/dst3.log" "$work/dst3.err"'
both_gone src3 dst3

check "no sanitizer report from any vmhost (stderr of every machine)" 'sanitizer_clean'
check "every vmhost exited on SIGTERM, none needed SIGKILL" 'all_exited_on_sigterm'
echo "1..$n"
