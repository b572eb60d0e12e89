#!/bin/sh
# vmhost post-copy live migration (TAP), driven through HMP and QMP on UNIX
# sockets with QEMU's commands: migrate_set_capability postcopy-ram on at
# both ends, migrate, migrate_start_postcopy (HMP and QMP):
#   - manual switch over TLS with anonymous RAM, a guest writing faster than
#     max-bandwidth lets pre-copy carry (it would never converge): both
#     sides reach completed, the target's guest ran during post-copy and
#     verifies, the target shows its page-fault figures and the guest's
#     write rate during post-copy (the source its rate before the switch);
#   - a shared memory-backend-file on shmem (/dev/shm), TLS and multifd;
#   - the automatic switch (x-postcopy-after-passes) of a non-converging
#     pre-copy;
#   - the link cut during post-copy with multifd (ss -K on the loopback
#     connections):
#     both sides postcopy-paused, the target's guest running, then
#     migrate_recover and migrate resume (TLS again) finish it, verifying;
#   - the source killed during post-copy: the target says the state is
#     split;
#   - cancel before migrate_start_postcopy: the source runs on, verifying;
#   - refusals with their messages: file: and exec: transports, a target
#     without the capability (the source runs on), migrate_start_postcopy
#     without it, RAM userfaultfd cannot register (share=on on ext4).
# Every server is on 127.0.0.1 or a UNIX socket; every process is killed
# and reaped, $work and the /dev/shm file removed.
set -u
mem=64M

. "$(dirname "$0")/migration-lib.sh"
tl_start mig-postcopy
shm="/dev/shm/vh-postcopy-$$"
cleanup_more() { rm -f "$shm"; }

pki="$work/pki"
. "$(dirname "$0")/postcopy-lib.sh"
pc_need_uffd
mkdir "$pki"
{
    "$pki_tool" init-ca "$pki" &&
        "$pki_tool" issue server "$pki" --hostname localhost --ip 127.0.0.1 &&
        "$pki_tool" issue client "$pki" --dn "C=GB,O=vmhost,CN=mig-source"
} >/dev/null || {
    echo "Bail out! vmhost-pki failed"
    exit 1
}
port=$(free_port)

# ======== manual switch over TLS, anonymous RAM ========
pair
hmp dst "$tls_on" "$pc_on" "migrate_incoming tcp:127.0.0.1:$port" >/dev/null
hmp src "$tls_on" "$pc_on" "$slow" "migrate -d tcp:127.0.0.1:$port" >/dev/null
wait_mig src active 100 >/dev/null
sleep 1
w0=$(pages_written src)
sleep 1
w1=$(pages_written src)
hmp src migrate_start_postcopy >/dev/null
st=$(wait_mig dst "postcopy-active completed failed" 100)
# The target's guest runs while its pages arrive.
wp0=$(pages_written dst)
sleep 0.5
wp1=$(pages_written dst)
check "manual: the target reaches postcopy-active (or completed), its guest runs" \
    'case "$st" in postcopy-active | completed) true ;; *) why="target $st: $(merror dst)"; false ;; esac'
check "manual over TLS: both completed, the target's guest verifies" 'postcopied src dst'
info=$(hmp dst "info migrate")
check "target's info migrate shows the page-fault figures" \
    'echo "$info" | grep -q "^postcopy: faults [0-9]*, page requests"'
check "target's info migrate shows the guest's write rate during post-copy, as a share of its set rate" \
    'echo "$info" | grep -q "^guest write rate: [0-9]* pages/s during post-copy ([0-9]*% of its set 15360 pages/s)"'
sinfo=$(hmp src "info migrate")
check "source's info migrate shows the guest's write rate before the switch" \
    'echo "$sinfo" | grep -q "^guest write rate: [0-9]* pages/s before the switch to post-copy"'
r=$(qmp dst query-migrate)
check "QMP query-migrate has x-guest-write-rate (phase post-copy)" \
    'echo "$r" | grep -q "\"x-guest-write-rate\":{\"phase\":\"post-copy\",\"pages-per-second\":[0-9]*"'
echo "# target: $(echo "$info" | grep -E '^(postcopy|guest write rate):' | tr '\n' ' ')"
echo "# source: $(echo "$sinfo" | grep -E '^(downtime|postcopy|guest write rate):' | tr '\n' ' ')"
echo "# guest pages written per second: pre-copy $(((w1 - w0))), first 0.5 s of post-copy $(((wp1 - wp0) * 2))"
hmp dst "guest dirty off" >/dev/null
check "the target's guest keeps running after completion" '[ "$(rstate dst)" = running ]'
both_gone src dst

# ======== QMP migrate-start-postcopy, shmem memory-backend-file, multifd ========
rm -f "$shm"
pair -object "memory-backend-file,id=m0,size=$mem,mem-path=$shm.src,share=on" \
    -machine memory-backend=m0 -- \
    -object "memory-backend-file,id=m0,size=$mem,mem-path=$shm,share=on" \
    -machine memory-backend=m0
rm -f "$shm.src" # the source keeps its mapping
hmp dst "$tls_on" "$pc_on" "migrate_set_capability multifd on" \
    "migrate_incoming tcp:127.0.0.1:$port" >/dev/null
hmp src "$tls_on" "$pc_on" "migrate_set_capability multifd on" "$slow" \
    "migrate -d tcp:127.0.0.1:$port" >/dev/null
wait_mig src active 100 >/dev/null
sleep 1
r=$(qmp src migrate-start-postcopy)
check "QMP migrate-start-postcopy answers return" 'echo "$r" | grep -q "\"return\""'
check "shmem file RAM, TLS, multifd: both completed, the target verifies" \
    'postcopied src dst'
both_gone src dst
rm -f "$shm"

# ======== automatic switch ========
pair
hmp dst "$tls_on" "$pc_on" "migrate_incoming tcp:127.0.0.1:$port" >/dev/null
hmp src "$tls_on" "$pc_on" "$slow" "migrate_set_parameter x-postcopy-after-passes 2" \
    "migrate -d tcp:127.0.0.1:$port" >/dev/null
check "x-postcopy-after-passes 2: a non-converging pre-copy ends in post-copy, completed, verifies" \
    'postcopied src dst'
check "the source logged the automatic switch" \
    'grep -q "starting post-copy (x-postcopy-after-passes)" "$work/src.log" "$work/src.err" 2>/dev/null'
# The passes before the switch discarded what the guest dirtied as they
# went (mid-pass dirty syncs), so the switch had little left to drop.
sinfo=$(hmp src "info migrate")
dinfo=$(hmp dst "info migrate")
echo "# source: $(echo "$sinfo" | grep '^postcopy:')"
echo "# target: $(echo "$dinfo" | grep '^postcopy:')"
check "... pages were discarded during pre-copy, at mid-pass syncs (source's info migrate)" \
    'echo "$sinfo" | grep -Eq "^postcopy: .*mid-pass syncs [1-9][0-9]*, pages discarded before the switch [1-9][0-9]* "'
check "... the target dropped them, and found no stale page at the switch" \
    'echo "$dinfo" | grep -Eq "^postcopy: .*discarded [1-9][0-9]* pages in [1-9][0-9]* madvise calls, stale at the switch 0$"'
check "... dirty-sync-count counts the 2 passes and the switch, not the mid-pass syncs" \
    '[ "$(json_num "$(qmp src query-migrate)" dirty-sync-count)" = 3 ]'
both_gone src dst

# ======== multifd, automatic switch after 1 pass ========
# With multifd a DISCARD waits for its barrier (FLUSH on every channel,
# then DIRTY_SYNC): a page sent again after it must not be dropped.
pair
hmp dst "$tls_on" "$pc_on" "migrate_set_capability multifd on" \
    "migrate_incoming tcp:127.0.0.1:$port" >/dev/null
hmp src "$tls_on" "$pc_on" "migrate_set_capability multifd on" "$slow" \
    "migrate_set_parameter x-postcopy-after-passes 1" \
    "migrate -d tcp:127.0.0.1:$port" >/dev/null
check "multifd, x-postcopy-after-passes 1: completed, the target verifies" \
    'postcopied src dst'
sinfo=$(hmp src "info migrate")
dinfo=$(hmp dst "info migrate")
echo "# source: $(echo "$sinfo" | grep '^postcopy:')"
echo "# target: $(echo "$dinfo" | grep '^postcopy:')"
check "... mid-pass syncs discarded pages over the multifd barrier" \
    'echo "$sinfo" | grep -Eq "^postcopy: .*mid-pass syncs [1-9][0-9]*, pages discarded before the switch [1-9][0-9]* " &&
     echo "$dinfo" | grep -Eq "^postcopy: .*discarded [1-9][0-9]* pages in [1-9][0-9]* madvise calls, stale at the switch 0$"'
both_gone src dst

# ======== link cut during post-copy: both pause, recover, resume ========
# cut_link PORT: kill every TCP connection to or from PORT on loopback
# (both ends are here); ss -K needs the kernel's sock_diag destroy.
cut_link() { ss -K "( sport = :$1 or dport = :$1 )" >/dev/null 2>&1; }
pc_slow="migrate_set_parameter max-postcopy-bandwidth 10M"
pair
port2=$(free_port)
mf_on="migrate_set_capability multifd on"
hmp dst "$tls_on" "$pc_on" "$mf_on" "migrate_incoming tcp:127.0.0.1:$port" >/dev/null
hmp src "$tls_on" "$pc_on" "$mf_on" "$slow" "$pc_slow" "migrate -d tcp:127.0.0.1:$port" >/dev/null
wait_mig src active 100 >/dev/null
sleep 0.5
hmp src migrate_start_postcopy >/dev/null
st=$(wait_mig dst "postcopy-active completed failed" 100)
sleep 0.5
cut_link "$port"
ss=$(wait_mig src "postcopy-paused completed failed" 100)
st=$(wait_mig dst "postcopy-paused completed failed" 100)
if [ "$ss" = completed ]; then
    skip "link cut: post-copy completed before the cut"
else
    check "link cut (TLS, multifd): the source pauses (postcopy-paused), its guest stays paused" \
        '[ "$ss" = postcopy-paused ] && [ "$(rstate src)" = paused ]'
    check "link cut: the target pauses, its guest runs on, it says how to recover" \
        '[ "$st" = postcopy-paused ] && [ "$(rstate dst)" = running ] && merror dst | grep -q "migrate_recover URI"'
    hmp dst "migrate_recover tcp:127.0.0.1:$port2" >/dev/null
    r=$(qmp src migrate "{\"uri\": \"tcp:127.0.0.1:$port2\", \"resume\": true}")
    check "migrate_recover on the target, QMP migrate resume: true on the source" \
        'echo "$r" | grep -q "\"return\""'
    check "recovered: both completed, the target's guest verifies" 'postcopied src dst'
fi
both_gone src dst

# ======== the source dies during post-copy ========
pair
hmp dst "$tls_on" "$pc_on" "migrate_incoming tcp:127.0.0.1:$port" >/dev/null
hmp src "$tls_on" "$pc_on" "$slow" "$pc_slow" "migrate -d tcp:127.0.0.1:$port" >/dev/null
wait_mig src active 100 >/dev/null
sleep 0.5
hmp src migrate_start_postcopy >/dev/null
wait_mig dst "postcopy-active completed failed" 100 >/dev/null
sleep 0.3
kill -KILL "$(pid src)"
wait "$(pid src)" 2>/dev/null
st=$(wait_mig dst "postcopy-paused completed failed" 100)
err=$(merror dst)
check "source killed during post-copy: the target does not pretend (postcopy-paused, the state is split)" \
    '[ "$st" = postcopy-paused ] && echo "$err" | grep -q "state is split"'
gone dst

# ======== cancel before the switch ========
pair
hmp dst "$tls_on" "$pc_on" "migrate_incoming tcp:127.0.0.1:$port" >/dev/null
hmp src "$tls_on" "$pc_on" "$slow" "migrate -d tcp:127.0.0.1:$port" >/dev/null
wait_mig src active 100 >/dev/null
sleep 0.5
hmp src migrate_cancel >/dev/null
st=$(wait_mig src "cancelled failed completed" 100)
check "cancel before migrate_start_postcopy: cancelled, the source runs on and verifies" \
    '[ "$st" = cancelled ] && intact src'
check "and the target did not start a guest" 'not_started dst'
r=$(hmp src migrate_start_postcopy)
check "migrate_start_postcopy with no migration running is refused" \
    'echo "$r" | grep -q "no outgoing pre-copy is running"'
r=$(hmp src "migrate -r tcp:127.0.0.1:$port")
check "migrate -r with no post-copy paused is refused" \
    'echo "$r" | grep -q "no outgoing post-copy is paused"'
r=$(hmp dst "migrate_recover tcp:127.0.0.1:$port")
check "migrate_recover with no post-copy paused is refused" \
    'echo "$r" | grep -q "no incoming post-copy is paused"'
both_gone src dst

# ======== refusals ========
vm src
fill src
hmp src "$pc_on" >/dev/null
r=$(hmp src "migrate -d file:$work/state.bin")
check "file: with postcopy-ram is refused before anything is sent" \
    'echo "$r" | grep -q "postcopy-ram needs a return path" && [ ! -e "$work/state.bin" ]'
r=$(hmp src "migrate -d \"exec:cat >$work/state.bin\"")
check "exec: with postcopy-ram is refused" 'echo "$r" | grep -q "postcopy-ram needs a return path"'
vm dst -incoming defer
hmp dst "migrate_incoming tcp:127.0.0.1:$port" >/dev/null
hmp src "migrate -d tcp:127.0.0.1:$port" >/dev/null
st=$(wait_mig src "failed completed cancelled" 100)
err=$(merror src)
check "a target without postcopy-ram refuses, saying so; the source runs on" \
    '[ "$st" = failed ] && echo "$err" | grep -q "this target does not" && intact src'
both_gone src dst
vm src
hmp src "migrate_set_capability postcopy-ram off" >/dev/null
r=$(hmp src "migrate_start_postcopy")
check "migrate_start_postcopy without the capability is refused" \
    'echo "$r" | grep -q "Enable postcopy with migrate_set_capability"'
gone src
# A shared file on ext4 or another disk file system: no MISSING faults.
fs=$(stat -f -c %T "$work" 2>/dev/null)
if [ "$fs" != tmpfs ]; then
    vm src -object "memory-backend-file,id=m0,size=$mem,mem-path=$work/ram.img,share=on" \
        -machine memory-backend=m0
    r=$(hmp src "$pc_on")
    check "RAM userfaultfd cannot register ($fs file): postcopy-ram refused, saying why" \
        'echo "$r" | grep -q "userfaultfd cannot register RAM"'
    gone src
else
    skip "RAM userfaultfd cannot register: \$work is on tmpfs"
fi

check "no sanitizer report from any vmhost (stderr of every machine)" 'sanitizer_clean'
check "every vmhost exited on SIGTERM, none needed SIGKILL" 'all_exited_on_sigterm'
echo "1..$n"
