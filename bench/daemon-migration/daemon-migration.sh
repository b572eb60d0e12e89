#!/bin/sh
# bench/daemon-migration: live migration between two vmhostd daemons with
# virsh, the hosts being two network namespaces on a veth pair (as
# tests/programs/test-vmhostd-migrate.sh sets them up), for guests of
# BENCH_MIG_SIZES MiB (default "1024 4096") whose RAM was first written
# through with pseudo-random pages (the test guest's sequential
# dirtying), idle during the transfer:
#   native TLS         virsh migrate --live --p2p --tls
#   native TLS x2      ... --parallel --parallel-connections 2 (multifd)
#   tunnelled          virsh migrate --live --p2p --tunnelled (the stream
#                      inside the daemons' TLS connection)
#   plain              virsh migrate --live --p2p (no TLS)
# and two references without any daemon, through the same veth with the
# same migration certificates, each run right after a native TLS run so
# that all three see the same load:
#   vmhost alone       vmhost processes (the same guest, its RAM filled
#                      the same way) driven over QMP by qmp-migrate.py as
#                      vmhostd drives them: migrate-set-parameters
#                      tls-creds/tls-hostname/max-bandwidth 0,
#                      migrate-incoming, migrate, query-migrate polled on
#                      vmhostd's schedule (20 ms backing off to 250 ms);
#                      the guest goes there and back and the way back is
#                      measured (see ref_vmhost)
#   QEMU 7.2           qemu-system-x86_64 -machine none, RAM a
#                      memory-backend-file over a tmpfs file of random
#                      bytes made for each run (no guest OS needed to fill
#                      it, so no zero pages), the target a
#                      memory-backend-ram; native TLS
#                      with tls-creds-x509 on both sides, -incoming defer,
#                      the same driver (skipped if QEMU is not installed)
# For each: the wall time (virsh migrate, or the driver from its migrate
# command), the migration's own time (query-migrate's total-time: the
# daemons' log it, the driver reads it), MiB/s on that time, the ratio of
# that time to vmhost alone's, and the CPU each side spent per GiB of
# guest RAM (utime + stime from /proc/PID/stat: vmhost + vmhostd for the
# daemon rows, the machine alone for the references). Each figure is the
# median of BENCH_REPS (3) runs, alternating directions for the daemons.
# BENCH_MIG_MODES ("native multifd tunnelled plain") picks the daemons'
# modes (the references run after each native one); BENCH_MIG_COUNT=1 adds
# one untimed migration per mode under strace -c, and prints the socket
# reads and writes per MiB of the source's vmhost and both daemons.
# Every path waits BENCH_SETTLE_S (5) seconds after its guest's fill
# before it migrates, and the first migration after a fill is slower
# still (4 GiB: 19.5 s against 11.5 s for the next one through the
# daemons), so the reference's measured run is its guest's second: there
# and back, as the daemons' median run is; both first runs are shown too.
# Then the downtime with the guest writing 100 MB/s at random pages
# (`dirty 100 random`), through the daemons and with vmhost alone, against
# the default downtime-limit (300 ms). The load average is recorded at
# the start and the end. Needs root (namespaces) and virsh.
set -eu

build=${1:-build}
here=$(cd "$(dirname "$0")/.." && pwd)
vmhost="$build/src/vmhost/vmhost"
vmhostd="$build/src/vmhostd/vmhostd"
pki_tool="$build/src/vmhost-pki/vmhost-pki"
sizes=${BENCH_MIG_SIZES:-1024 4096}
reps=${BENCH_REPS:-3}
out="$here/results/daemon-migration.md"
driver="$(cd "$(dirname "$0")" && pwd)/qmp-migrate.py"
qemu=$(command -v qemu-system-x86_64 || true)

if [ "$(id -u)" != 0 ] || ! command -v virsh >/dev/null 2>&1; then
    echo "bench/daemon-migration: skipped (needs root for namespaces and virsh)"
    exit 0
fi
work=$(mktemp -d /tmp/vh-bench-dmig.XXXXXX)
# QEMU's source RAM: a file of random bytes in memory (tmpfs)
shm=$(mktemp -d /dev/shm/vh-bench-dmig.XXXXXX)
tag=$$
ns_src="vhbm-src-$tag" ns_dst="vhbm-dst-$tag"
veth_src="vhbs$tag" veth_dst="vhbd$tag"
net="10.233.$((tag % 250 + 1))"
src_ip="$net.1" dst_ip="$net.2"
cleanup() {
    for p in $(ps -eo pid=,args= | awk -v w="$work" 'index($0, w) && $1 != '$$' { print $1 }'); do
        kill -KILL "$p" 2>/dev/null || true
    done
    ip netns del "$ns_src" 2>/dev/null || true
    ip netns del "$ns_dst" 2>/dev/null || true
    rm -rf "/etc/netns/$ns_src" "/etc/netns/$ns_dst" "$work" "$shm"
    rmdir /etc/netns 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

ip netns add "$ns_src" && ip netns add "$ns_dst"
ip link add "$veth_src" netns "$ns_src" type veth peer name "$veth_dst" netns "$ns_dst"
ip -n "$ns_src" link set lo up && ip -n "$ns_dst" link set lo up
ip -n "$ns_src" addr add "$src_ip/24" dev "$veth_src"
ip -n "$ns_dst" addr add "$dst_ip/24" dev "$veth_dst"
ip -n "$ns_src" link set "$veth_src" up && ip -n "$ns_dst" link set "$veth_dst" up
mkdir -p "/etc/netns/$ns_src" "/etc/netns/$ns_dst"
printf '127.0.0.1 localhost\n%s src\n%s dst\n' "$src_ip" "$dst_ip" >"/etc/netns/$ns_src/hosts"
cp "/etc/netns/$ns_src/hosts" "/etc/netns/$ns_dst/hosts"

pki() { "$pki_tool" "$@" >>"$work/pki.log" 2>&1; }
pki init-ca "$work/ca" --layout libvirt --cn "bench CA"
pki init-ca "$work/mca" --cn "bench migration CA"
for d in src dst admin; do mkdir -p "$work/$d/pki" && cp -r "$work/ca/CA" "$work/$d/pki/"; done
for h in src dst; do
    eval "ip=\$${h}_ip"
    pki issue server "$work/$h/pki" --layout libvirt --hostname "$h" --ip "$ip"
    pki issue client "$work/$h/pki" --layout libvirt --dn "C=GB,O=vmhost,CN=$h"
    mkdir -p "$work/$h/mig" "$work/$h/home/.pki/libvirt" "$work/$h/cfg" "$work/$h/cache"
    mkdir -m 700 "$work/$h/run"
    cp "$work/mca/ca-cert.pem" "$work/mca/ca-key.pem" "$work/$h/mig/"
    pki issue server "$work/$h/mig" --hostname "$h" --ip "$ip"
    pki issue client "$work/$h/mig" --dn "C=GB,O=vmhost,CN=$h-migration"
    cp "$work/$h/pki/pkipath/"*.pem "$work/$h/home/.pki/libvirt/"
    cat >"$work/$h/vmhostd.conf" <<EOC
listen_tls = 1
listen_addr = "$ip"
unix_sock_dir = "$work/$h/sock"
ca_file = "$work/$h/pki/CA/cacert.pem"
cert_file = "$work/$h/pki/libvirt/servercert.pem"
key_file = "$work/$h/pki/libvirt/private/serverkey.pem"
tls_allowed_dn_list = ["*CN=admin", "*CN=src", "*CN=dst"]
EOC
    cat >"$work/$h/driver.conf" <<EOC
vmhost_binary = "$vmhost"
migrate_tls_x509_cert_dir = "$work/$h/mig"
EOC
done
pki issue client "$work/admin/pki" --layout libvirt --dn "C=GB,O=vmhost,CN=admin"

env_of() {
    echo HOME="$work/$1/home" XDG_CONFIG_HOME="$work/$1/cfg" \
        XDG_RUNTIME_DIR="$work/$1/run" XDG_CACHE_HOME="$work/$1/cache"
}
for h in src dst; do
    eval "ns=\$ns_$h"
    # shellcheck disable=SC2046
    ip netns exec "$ns" env $(env_of "$h") "$vmhostd" --session --listen --verbose \
        --config "$work/$h/vmhostd.conf" --driver-config "$work/$h/driver.conf" \
        >"$work/$h-d.out" 2>"$work/$h-d.err" &
    eval "dpid_$h=\$!"
done
for h in src dst; do
    i=0
    while ! grep -q 'vmhostd ready' "$work/$h-d.err" 2>/dev/null; do
        i=$((i + 1)); [ $i -lt 300 ] || { echo "vmhostd $h did not start"; cat "$work/$h-d.err"; exit 1; }
        sleep 0.05
    done
done
admin="pkipath=$work/admin/pki/pkipath"
vs() { # vs HOST ARGS...: virsh on HOST
    vh=$1; shift
    eval "ns=\$ns_$vh"
    # shellcheck disable=SC2046
    ip netns exec "$ns" env $(env_of "$vh") timeout 900 virsh -q -c "vmhost+tls://$vh/system?$admin" "$@"
}
ticks() { # utime + stime of PID in clock ticks (0 when gone)
    awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null || echo 0
}
vmpid() { cat "$work/$1/run/vmhost/qemu/bvm.pid" 2>/dev/null || echo 0; }
hz=$(getconf CLK_TCK)
now_ms() { date +%s%3N; }
other() { if [ "$1" = src ]; then echo dst; else echo src; fi; }

# guestcmd HOST COMMAND REPLY: one command to bvm's guest through its
# console; fails unless REPLY comes back
guestcmd() {
    eval "ns=\$ns_$1"
    # shellcheck disable=SC2046
    ip netns exec "$ns" env $(env_of "$1") timeout 60 python3 - "vmhost+tls://$1/system?$admin" "$2" "$3" <<'EOP'
import os, pty, select, sys, time
pid, fd = pty.fork()
if pid == 0:
    os.execvp("virsh", ["virsh", "-c", sys.argv[1], "console", "bvm"])
def until(n, secs):
    out = b""; end = time.time() + secs
    while n not in out and time.time() < end:
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            try: out += os.read(fd, 4096)
            except OSError: break
    return n in out
until(b"Escape character", 15); time.sleep(0.3)
os.write(fd, sys.argv[2].encode() + b"\r"); ok = until(sys.argv[3].encode(), 15)
os.write(fd, b"\x1d"); time.sleep(0.3)
try: os.kill(pid, 9)
except OSError: pass
os.waitpid(pid, 0)
sys.exit(0 if ok else 1)
EOP
}
# fill HOST: the guest writes all of its RAM once (through its console),
# for FILL_S seconds, then stops; fails unless the guest said it stopped
# (the reply, not just the echo of an earlier one: a guest that keeps
# writing 4 GiB/s never converges)
fill() {
    guestcmd "$1" "dirty 4G sequential" "dirty: " || return 1
    sleep "${FILL_S:-2}"
    for _ in 1 2 3; do
        guestcmd "$1" "dirty off" "dirty: off" && return 0
    done
    return 1
}
# A migration that starts right after the guest wrote all of its RAM is
# slower (1 GiB on loopback, vmhost alone: 3.3-3.7 s at once, 2.3-2.9 s
# after 5 s); every path waits this long after its fill
settle=${BENCH_SETTLE_S:-5}

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
# per_gib TICKS SIZE: CPU seconds per GiB of guest RAM
per_gib() { awk -v t="$1" -v hz="$hz" -v s="$2" 'BEGIN { printf "%.3f\n", t / hz / (s / 1024) }'; }
# field NAME LINE: NAME=VALUE from a qmp-migrate.py result line
field() { printf '%s\n' "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
# last_mig HOST: "TOTAL DOWNTIME" (ms) of HOST daemon's last completed migration
last_mig() {
    sed -n 's/.*domain bvm: migration completed in \([0-9]*\) ms, downtime \([0-9]*\) ms.*/\1 \2/p' \
        "$work/$1-d.err" | tail -n 1
}
load0=$(cut -d' ' -f1-3 /proc/loadavg)
commit=$(git -C "$here/.." rev-parse --short HEAD 2>/dev/null || echo unknown)

{
    echo "# bench/daemon-migration ($(date -u '+%Y-%m-%d %H:%MZ'), commit $commit, $(nproc) CPUs)"
    echo
    echo "virsh migrate --live between two vmhostd daemons in network namespaces"
    echo "(veth); guest RAM written through once with random pages, then idle;"
    echo "median of $reps runs. \"wall\" is the whole virsh command (or the driver's"
    echo "migrate to completed for the references), \"migration\" query-migrate's"
    echo "total-time; MiB/s on the migration time. CPU in seconds per GiB of guest"
    echo "RAM, source and destination (vmhost + vmhostd for the daemon rows)."
    echo "Each path waits ${settle} s after its guest's fill. Load average (1, 5, 15"
    echo "min) at the start: $load0."
    echo
    echo "| RAM | mode | wall s | migration s | MiB/s | migration time vs vmhost alone | src CPU s/GiB | dst CPU s/GiB |"
    echo "|---|---|---|---|---|---|---|---|"
} >"$out"

# start_vmhost NS NAME SIZE ARGS...: a reference vmhost in NS (QMP socket
# $work/NAME.qmp); its pid in $last
start_vmhost() {
    sns=$1 sname=$2 ssize=$3
    shift 3
    rm -f "$work/$sname.qmp"
    ip netns exec "$sns" "$vmhost" -name "$sname" -nodefaults -m "${ssize}M" \
        -qmp "unix:$work/$sname.qmp,server,nowait" -D "$work/$sname.log" "$@" >/dev/null 2>&1 &
    last=$!
}
wait_sock() {
    i=0
    while [ ! -S "$1" ]; do
        i=$((i + 1)); [ $i -lt 400 ] || { echo "no monitor at $1"; exit 1; }
        sleep 0.05
    done
}
# ref_vmhost SIZE PORT [DIRTY]: vmhost alone over TLS. As the daemons'
# guest, whose median run is one that came in by migration and leaves
# again: machine A (src) is filled, settles and migrates to B (dst), which
# resumes it (the first migration after the fill: appended to
# $work/ref1), then B migrates it back to a fresh C (src), measured
# (appended to $work/ref, or $work/refdt with DIRTY, a rate the guest
# keeps writing at random pages during that migration)
ref_vmhost() {
    size=$1 port=$2 dirty=${3:-}
    start_vmhost "$ns_src" ra "$size" -object "tls-creds-x509,id=tls0,endpoint=client,dir=$work/src/mig"
    apid=$last
    start_vmhost "$ns_dst" rb "$size" -S -incoming defer \
        -object "tls-creds-x509,id=tls0,endpoint=server,dir=$work/dst/mig" \
        -object "tls-creds-x509,id=tlsc,endpoint=client,dir=$work/dst/mig"
    bpid=$last
    wait_sock "$work/ra.qmp"; wait_sock "$work/rb.qmp"
    python3 "$driver" hmp "$work/ra.qmp" "guest dirty 4G sequential" >/dev/null
    sleep $((size / 1024 + 2))
    python3 "$driver" hmp "$work/ra.qmp" "guest dirty off" >/dev/null
    sleep "$settle"
    res=$(python3 "$driver" migrate --src "$work/ra.qmp" --dst "$work/rb.qmp" \
        --src-pid "$apid" --dst-pid "$bpid" --uri "tcp:$dst_ip:$port" \
        --tls-creds tls0 --tls-hostname dst --max-bandwidth 0) || { echo "vmhost alone: $res"; exit 1; }
    [ -n "$dirty" ] || echo "$res" >>"$work/ref1"
    kill -KILL "$apid" 2>/dev/null || true
    wait "$apid" 2>/dev/null || true
    # C only now: three machines of 4 GiB beside the daemons' guest are
    # more than this machine's memory while others run too
    start_vmhost "$ns_src" rc "$size" -S -incoming defer \
        -object "tls-creds-x509,id=tls0,endpoint=server,dir=$work/src/mig"
    cpid=$last
    wait_sock "$work/rc.qmp"
    python3 "$driver" cmd "$work/rb.qmp" cont >/dev/null
    [ -z "$dirty" ] || python3 "$driver" hmp "$work/rb.qmp" "guest dirty $dirty random" >/dev/null
    res=$(python3 "$driver" migrate --src "$work/rb.qmp" --dst "$work/rc.qmp" \
        --src-pid "$bpid" --dst-pid "$cpid" --uri "tcp:$src_ip:$port" \
        --tls-creds tls0 --src-tls-creds tlsc --tls-hostname src --max-bandwidth 0) ||
        { echo "vmhost alone (back): $res"; exit 1; }
    ok=$(python3 "$driver" hmp "$work/rc.qmp" "guest verify")
    case "$ok" in *"verify: ok"*) ;; *) echo "vmhost alone: the target does not verify: $ok"; exit 1 ;; esac
    if [ -n "$dirty" ]; then echo "$res" >>"$work/refdt"; else echo "$res" >>"$work/ref"; fi
    kill -KILL "$bpid" "$cpid" 2>/dev/null || true
    wait "$bpid" "$cpid" 2>/dev/null || true
}
# ref_qemu SIZE PORT: QEMU 7.2, src -> dst over TLS, its RAM the random
# file $shm/qram; appends the result line to $work/qref
ref_qemu() {
    size=$1 port=$2
    rm -f "$work/qa.qmp" "$work/qb.qmp"
    # made for each run and removed after it, to keep memory free
    head -c "${size}M" /dev/urandom >"$shm/qram"
    ip netns exec "$ns_src" "$qemu" -machine none,memory-backend=m -nodefaults -display none \
        -object "memory-backend-file,id=m,size=${size}M,mem-path=$shm/qram,share=off" \
        -object "tls-creds-x509,id=tls0,endpoint=client,dir=$work/src/mig" \
        -qmp "unix:$work/qa.qmp,server=on,wait=off" >"$work/qa.log" 2>&1 &
    apid=$!
    ip netns exec "$ns_dst" "$qemu" -machine none,memory-backend=m -nodefaults -display none \
        -object "memory-backend-ram,id=m,size=${size}M" -incoming defer \
        -object "tls-creds-x509,id=tls0,endpoint=server,dir=$work/dst/mig" \
        -qmp "unix:$work/qb.qmp,server=on,wait=off" >"$work/qb.log" 2>&1 &
    bpid=$!
    wait_sock "$work/qa.qmp"; wait_sock "$work/qb.qmp"
    # QEMU's 0 is no limit too, but say so the way libvirt does
    res=$(python3 "$driver" migrate --src "$work/qa.qmp" --dst "$work/qb.qmp" \
        --src-pid "$apid" --dst-pid "$bpid" --uri "tcp:$dst_ip:$port" \
        --tls-creds tls0 --tls-hostname dst --max-bandwidth 1099511627776) ||
        { echo "QEMU: $res $(cat "$work/qa.log" "$work/qb.log")"; exit 1; }
    echo "$res" >>"$work/qref"
    kill -KILL "$apid" "$bpid" 2>/dev/null || true
    wait "$apid" "$bpid" 2>/dev/null || true
    rm -f "$shm/qram"
}
# row LABEL SIZE WALLS TOTALS SRC_TICKS DST_TICKS: a table row from files of
# one value per run (medians); the ratio is to $ref_total
row() {
    wm=$(median <"$3") tm=$(median <"$4")
    awk -v n="$1" -v s="$2" -v w="$wm" -v t="$tm" -v r="${ref_total:-$tm}" \
        -v cs="$(per_gib "$(median <"$5")" "$2")" -v cd="$(per_gib "$(median <"$6")" "$2")" \
        'BEGIN { printf "| %d MiB | %s | %.2f | %.2f | %.0f | %.2fx | %s | %s |\n", s, n, w / 1000, t / 1000, s / (t / 1000), t / r, cs, cd }' |
        tee -a "$out"
}
# split_res FILE: the driver's result lines into FILE.w FILE.t FILE.cs FILE.cd
split_res() {
    : >"$1.w"; : >"$1.t"; : >"$1.cs"; : >"$1.cd"
    while read -r l; do
        field wall_ms "$l" >>"$1.w"; field total_ms "$l" >>"$1.t"
        field src_ticks "$l" >>"$1.cs"; field dst_ticks "$l" >>"$1.cd"
    done <"$1"
}

# count_run NAME OPTS MIB: one more migration (untimed) with strace -c on
# the source's vmhost and both daemons; prints their socket reads and
# writes per MiB of guest RAM (the "counted" of issue 13's copies).
count_run() {
    to=$(other $at)
    eval "sd=\$dpid_$at dd=\$dpid_$to"
    sv=$(vmpid $at)
    cpids=""
    for w in "source-vmhost:$sv" "source-daemon:$sd" "destination-daemon:$dd"; do
        strace -f -c -o "$work/strace.${w%%:*}" -p "${w#*:}" 2>/dev/null &
        cpids="$cpids $!"
    done
    sleep 0.5
    # shellcheck disable=SC2086
    vs $at migrate bvm --live --p2p $2 "vmhost+tls://$to/system" >/dev/null 2>"$work/mig.err" ||
        { echo "migrate $1 (counted) failed: $(cat "$work/mig.err")"; exit 1; }
    # shellcheck disable=SC2086
    kill -INT $cpids 2>/dev/null || true
    # shellcheck disable=SC2086
    wait $cpids 2>/dev/null || true
    at=$to
    line="  $1, syscalls per MiB of RAM (reads/writes):"
    for w in source-vmhost source-daemon destination-daemon; do
        line="$line $w $(awk -v mib="$3" '
            # % time, seconds, usecs/call, calls, [errors,] syscall
            $NF ~ /^(read|readv|recvmsg|recvfrom)$/ { r += $4 }
            $NF ~ /^(write|writev|sendmsg|sendto)$/ { w += $4 }
            END { printf "%.1f/%.1f", r / mib, w / mib }' "$work/strace.$w")"
    done
    echo "$line" | tee -a "$out"
}

si=0
for size in $sizes; do
    si=$((si + 1))
    cat >"$work/bvm.xml" <<EOX
<domain type='vmhost'>
  <name>bvm</name>
  <memory unit='MiB'>$size</memory>
  <vcpu>1</vcpu>
  <os><type>hvm</type></os>
  <devices>
    <serial type='pty'><target port='0'/></serial>
    <console type='pty'><target type='serial' port='0'/></console>
  </devices>
</domain>
EOX
    : >"$work/ref"; : >"$work/ref1"; : >"$work/qref"; : >"$work/refdt"
    vs src create "$work/bvm.xml" >/dev/null
    FILL_S=$((size / 1024 + 2)) fill src || { echo "bvm's guest did not stop writing"; exit 1; }
    sleep "$settle"
    at=src
    : >"$work/rows"
    for mode in "native TLS:--tls" "native TLS x2 (multifd):--tls --parallel --parallel-connections 2" \
        "tunnelled:--tunnelled" "plain:"; do
        name=${mode%%:*} opts=${mode#*:}
        case " ${BENCH_MIG_MODES:-native multifd tunnelled plain} " in
        *" $(echo "$name" | sed 's/native TLS x2.*/multifd/; s/native TLS/native/') "*) ;;
        *) continue ;;
        esac
        m=$(echo "$name" | tr -c 'a-zA-Z0-9\n' _)
        : >"$work/$m.w"; : >"$work/$m.t"; : >"$work/$m.cs"; : >"$work/$m.cd"
        r=0
        while [ $r -lt "$reps" ]; do
            to=$(other $at)
            eval "sd=\$dpid_$at dd=\$dpid_$to"
            sv=$(vmpid $at)
            s0=$(( $(ticks "$sv") + $(ticks "$sd") )); d0=$(ticks "$dd")
            t0=$(now_ms)
            # shellcheck disable=SC2086
            vs $at migrate bvm --live --p2p $opts "vmhost+tls://$to/system" >/dev/null 2>"$work/mig.err" ||
                { echo "migrate $name failed: $(cat "$work/mig.err")"; exit 1; }
            t1=$(now_ms)
            dv=$(vmpid $to)
            s1=$(( $(ticks "$sv") + $(ticks "$sd") ))
            [ "$s1" -ge "$s0" ] || s1=$s0
            d1=$(( $(ticks "$dd") + $(ticks "$dv") ))
            echo $((t1 - t0)) >>"$work/$m.w"
            lm=$(last_mig $at)
            echo "${lm%% *}" >>"$work/$m.t"
            echo $((s1 - s0)) >>"$work/$m.cs"
            echo $((d1 - d0)) >>"$work/$m.cd"
            at=$to
            if [ "$name" = "native TLS" ]; then
                # the references right after, so all three see the same load
                ref_vmhost "$size" $((47000 + si * 10 + r))
                [ -z "$qemu" ] || ref_qemu "$size" $((47100 + si * 10 + r))
            fi
            r=$((r + 1))
        done
        echo "$m|$name" >>"$work/rows"
        [ "${BENCH_MIG_COUNT:-0}" = 1 ] && count_run "$name" "$opts" "$size"
    done
    split_res "$work/ref"
    split_res "$work/ref1"
    ref_total=""
    # the references run after each native TLS run: none without it
    if [ -s "$work/ref.t" ]; then
        ref_total=$(median <"$work/ref.t")
        row "vmhost alone, TLS (reference, QMP)" "$size" "$work/ref.w" "$work/ref.t" "$work/ref.cs" "$work/ref.cd"
        row "vmhost alone, TLS, first migration after the fill" "$size" "$work/ref1.w" "$work/ref1.t" "$work/ref1.cs" "$work/ref1.cd"
        head -n 1 "$work/native_TLS.t" >"$work/n1.t"; head -n 1 "$work/native_TLS.w" >"$work/n1.w"
        head -n 1 "$work/native_TLS.cs" >"$work/n1.cs"; head -n 1 "$work/native_TLS.cd" >"$work/n1.cd"
        row "native TLS, first migration after the fill (one run)" "$size" "$work/n1.w" "$work/n1.t" "$work/n1.cs" "$work/n1.cd"
    fi
    while IFS='|' read -r m name; do
        row "$name" "$size" "$work/$m.w" "$work/$m.t" "$work/$m.cs" "$work/$m.cd"
    done <"$work/rows"
    if [ -n "$qemu" ] && [ -s "$work/qref" ]; then
        split_res "$work/qref"
        row "QEMU 7.2, TLS (-machine none, random file-backed RAM)" "$size" "$work/qref.w" "$work/qref.t" "$work/qref.cs" "$work/qref.cd"
    fi

    # downtime with the guest writing 100 MB/s at random pages (the default
    # downtime-limit is 300 ms): the daemons' (query-migrate's, from the
    # source daemon's log) interleaved with vmhost alone's
    : >"$work/dt"
    r=0
    while [ $r -lt "$reps" ]; do
        to=$(other $at)
        guestcmd $at "dirty 100 random" "dirty: " || { echo "bvm's guest did not start writing"; exit 1; }
        vs $at migrate bvm --live --p2p --tls "vmhost+tls://$to/system" >/dev/null 2>"$work/mig.err" ||
            { echo "migrate (dirtying) failed: $(cat "$work/mig.err")"; exit 1; }
        last_mig $at >>"$work/dt"
        at=$to
        ref_vmhost "$size" $((47200 + si * 10 + r)) 100
        r=$((r + 1))
    done
    guestcmd $at "dirty off" "dirty: off" || { echo "bvm's guest did not stop writing"; exit 1; }
    vs $at destroy bvm >/dev/null
    split_res "$work/refdt"
    : >"$work/refdt.d"
    while read -r l; do field downtime_ms "$l" >>"$work/refdt.d"; done <"$work/refdt"
    awk -v s="$size" -v d="$(awk '{ print $2 }' "$work/dt" | median)" \
        -v all="$(awk '{ printf "%s%s", sep, $2; sep = "/" }' "$work/dt")" \
        -v tm="$(awk '{ print $1 }' "$work/dt" | median)" \
        -v rd="$(median <"$work/refdt.d")" -v rall="$(awk '{ printf "%s%s", sep, $1; sep = "/" }' "$work/refdt.d")" \
        -v rtm="$(median <"$work/refdt.t")" \
        'BEGIN { printf "| %d MiB | guest writing 100 MB/s: downtime through the daemons %d ms (runs %s, migration %.2f s); vmhost alone %d ms (runs %s, migration %.2f s); downtime-limit 300 ms | | | | | | |\n", s, d, all, tm / 1000, rd, rall, rtm / 1000 }' |
        tee -a "$out"
done
{
    echo
    echo "Load average (1, 5, 15 min): $load0 at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end."
    echo "The ratio column is the row's migration time over vmhost alone's (below 1"
    echo "is faster). The daemon rows' wall time includes virsh, both daemons' steps"
    echo "and the destination vmhost's start; the references start their target first."
} >>"$out"

echo
echo "(written to $out)"
