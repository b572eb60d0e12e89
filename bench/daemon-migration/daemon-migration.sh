#!/bin/sh
# bench/daemon-migration: live migration between two vmhostd daemons with
# virsh, the hosts being two network namespaces on a veth pair (as
# tests/programs/test-vmhostd-migrate.sh sets them up), for guests of
# BENCH_MIG_SIZES MiB (default "1024 4096") whose RAM was first written
# through (the test guest's sequential dirtying), idle during the transfer:
#   native TLS         virsh migrate --live --p2p --tls
#   native TLS x2      ... --parallel --parallel-connections 2 (multifd)
#   tunnelled          virsh migrate --live --p2p --tunnelled (the stream
#                      inside the daemons' TLS connection)
#   plain              virsh migrate --live --p2p (no TLS)
# and, on the same link, vmhost's own migrate over TLS without any daemon
# (both vmhosts driven over QMP) as the reference for "native TLS through
# the daemons". For each: wall time of the whole migrate command, the
# throughput (guest RAM / time), and the CPU each side spent per GiB of
# guest RAM (utime + stime of the vmhost and vmhostd processes from
# /proc/PID/stat, before and after). Each figure is the median of
# BENCH_REPS (3) runs, alternating directions; each reference run follows
# a native TLS run, so both see the same load. Needs root (namespaces).
set -eu

build=${1:-build}
here=$(cd "$(dirname "$0")/.." && pwd)
vmhost="$build/src/vmhost/vmhost"
vmhostd="$build/src/vmhostd/vmhostd"
pki_tool="$build/src/vmhost-pki/vmhost-pki"
sizes=${BENCH_MIG_SIZES:-1024 4096}
reps=${BENCH_REPS:-3}
out="$here/results/daemon-migration.md"

if [ "$(id -u)" != 0 ] || ! command -v virsh >/dev/null 2>&1; then
    echo "bench/daemon-migration: skipped (needs root for namespaces and virsh)"
    exit 0
fi
work=$(mktemp -d /tmp/vh-bench-dmig.XXXXXX)
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
    rm -rf "/etc/netns/$ns_src" "/etc/netns/$ns_dst" "$work"
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

# fill HOST: the guest writes all of its RAM once (through its console)
fill() {
    eval "ns=\$ns_$1"
    # shellcheck disable=SC2046
    ip netns exec "$ns" env $(env_of "$1") timeout 120 python3 - "vmhost+tls://$1/system?$admin" <<'EOP'
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
os.write(fd, b"dirty 4G sequential\r"); time.sleep(float(os.environ.get("FILL_S", "2")))
os.write(fd, b"dirty off\r"); until(b"dirty", 5)
os.write(fd, b"\x1d"); time.sleep(0.3)
try: os.kill(pid, 9)
except OSError: pass
os.waitpid(pid, 0)
EOP
}

# guestcmd HOST COMMAND: one command to bvm's guest through its console
guestcmd() {
    eval "ns=\$ns_$1"
    # shellcheck disable=SC2046
    ip netns exec "$ns" env $(env_of "$1") timeout 60 python3 - "vmhost+tls://$1/system?$admin" "$2" <<'EOP'
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
os.write(fd, sys.argv[2].encode() + b"\r"); until(sys.argv[2].split()[0].encode(), 5)
os.write(fd, b"\x1d"); time.sleep(0.3)
try: os.kill(pid, 9)
except OSError: pass
os.waitpid(pid, 0)
EOP
}

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

{
    echo "# bench/daemon-migration ($(date -u +%Y-%m-%d), $(nproc) CPUs)"
    echo
    echo "virsh migrate --live between two vmhostd daemons in network namespaces"
    echo "(veth); guest RAM written through once, then idle; median of $reps runs."
    echo "CPU in seconds per GiB of guest RAM, source side (vmhost + vmhostd) and"
    echo "destination side (vmhost + vmhostd)."
    echo
    echo "| RAM | mode | time s | MiB/s | vs native TLS | src CPU s/GiB | dst CPU s/GiB |"
    echo "|---|---|---|---|---|---|---|"
} >"$out"

# ref_once SIZE REP: vmhost's own migrate over TLS on the same link, no
# daemon: one run, appended to rt, rcs, rcd
ref_once() {
    size=$1 r=$2
    port=$((47000 + r))
    rm -f "$work/a.hmp" "$work/b.hmp"
    ip netns exec "$ns_src" "$vmhost" -name a -nodefaults -m "${size}M" \
        -object "tls-creds-x509,id=tls0,endpoint=client,dir=$work/src/mig" \
        -monitor "unix:$work/a.hmp,server,nowait" -D "$work/a.log" >/dev/null 2>&1 &
    apid=$!
    ip netns exec "$ns_dst" "$vmhost" -name b -nodefaults -m "${size}M" -S -incoming defer \
        -object "tls-creds-x509,id=tls0,endpoint=server,dir=$work/dst/mig" \
        -monitor "unix:$work/b.hmp,server,nowait" -D "$work/b.log" >/dev/null 2>&1 &
    bpid=$!
    i=0
    while [ ! -S "$work/a.hmp" ] || [ ! -S "$work/b.hmp" ]; do
        i=$((i + 1)); [ $i -lt 300 ] || { echo "vmhost did not start"; exit 1; }
        sleep 0.05
    done
    hmp() { s=$1; shift; printf '%s\n' "$@" | timeout 20 socat -t 0.5 - "UNIX-CONNECT:$work/$s.hmp" >/dev/null 2>&1; }
    hmp a "guest dirty 4G sequential"
    sleep $((size / 1024 + 2))
    hmp a "guest dirty off"
    hmp b "migrate_set_parameter tls-creds tls0" "migrate_incoming tcp:$dst_ip:$port"
    s0=$(ticks $apid); d0=$(ticks $bpid)
    t0=$(now_ms)
    hmp a "migrate_set_parameter tls-creds tls0" "migrate_set_parameter tls-hostname dst" \
        "migrate_set_parameter max-bandwidth 0" "migrate -d tcp:dst:$port"
    while :; do
        st=$(printf 'info migrate\n' | timeout 20 socat -t 0.1 - "UNIX-CONNECT:$work/a.hmp" 2>/dev/null | tr -d '\r' |
            sed -n 's/.*Migration status: *\([a-z]*\).*/\1/p' | head -n 1)
        case "$st" in completed | failed | cancelled) break ;; esac
        sleep 0.02
    done
    t1=$(now_ms)
    [ "$st" = completed ] || { echo "vmhost alone: $st"; exit 1; }
    s1=$(ticks $apid); d1=$(ticks $bpid)
    echo $((t1 - t0)) >>"$work/rt"
    awk -v a="$s0" -v b="$s1" -v hz="$hz" -v s="$size" 'BEGIN { printf "%.3f\n", (b - a) / hz / (s / 1024) }' >>"$work/rcs"
    awk -v a="$d0" -v b="$d1" -v hz="$hz" -v s="$size" 'BEGIN { printf "%.3f\n", (b - a) / hz / (s / 1024) }' >>"$work/rcd"
    kill -KILL $apid $bpid 2>/dev/null || true
    wait $apid $bpid 2>/dev/null || true
}

for size in $sizes; do
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
    : >"$work/rt" ; : >"$work/rcs" ; : >"$work/rcd"
    vs src create "$work/bvm.xml" >/dev/null
    FILL_S=$((size / 1024 + 2)) fill src
    at=src
    native_t=""
    for mode in "native TLS:--tls" "native TLS x2:--tls --parallel --parallel-connections 2" \
        "tunnelled:--tunnelled" "plain:"; do
        name=${mode%%:*} opts=${mode#*:}
        : >"$work/t" ; : >"$work/cs" ; : >"$work/cd"
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
            echo $((t1 - t0)) >>"$work/t"
            awk -v a="$s0" -v b="$s1" -v hz="$hz" -v s="$size" 'BEGIN { printf "%.3f\n", (b - a) / hz / (s / 1024) }' >>"$work/cs"
            awk -v a="$d0" -v b="$d1" -v hz="$hz" -v s="$size" 'BEGIN { printf "%.3f\n", (b - a) / hz / (s / 1024) }' >>"$work/cd"
            at=$to
            # the reference right after, so both see the same load
            [ "$name" != "native TLS" ] || ref_once "$size" "$r"
            r=$((r + 1))
        done
        tm=$(median <"$work/t")
        [ -n "$native_t" ] || native_t=$tm
        awk -v n="$name" -v s="$size" -v t="$tm" -v nt="$native_t" -v cs="$(median <"$work/cs")" -v cd="$(median <"$work/cd")" \
            'BEGIN { printf "| %d MiB | %s | %.2f | %.0f | %.2fx | %s | %s |\n", s, n, t / 1000, s / (t / 1000), nt / t, cs, cd }' | tee -a "$out"
    done
    # downtime with the guest writing 100 MB/s (vmhost's downtime-limit is
    # 300 ms): the source daemon logs query-migrate's downtime
    : >"$work/dt"
    r=0
    while [ $r -lt "$reps" ]; do
        to=$(other $at)
        guestcmd $at "dirty 100 random"
        vs $at migrate bvm --live --p2p --tls "vmhost+tls://$to/system" >/dev/null 2>"$work/mig.err" ||
            { echo "migrate (dirtying) failed: $(cat "$work/mig.err")"; exit 1; }
        sed -n 's/.*domain bvm: migration completed in \([0-9]*\) ms, downtime \([0-9]*\) ms.*/\1 \2/p' \
            "$work/$at-d.err" | tail -n 1 >>"$work/dt"
        at=$to
        r=$((r + 1))
    done
    guestcmd $at "dirty off"
    awk '{ print $2 }' "$work/dt" | median >"$work/dtm"
    awk -v s="$size" -v d="$(cat "$work/dtm")" -v all="$(awk '{ printf "%s%s", sep, $2; sep = "/" }' "$work/dt")" \
        'BEGIN { printf "| %d MiB | native TLS, guest writing 100 MB/s: downtime %s ms (runs: %s) | | | | | |\n", s, d, all }' | tee -a "$out"
    vs $at destroy bvm >/dev/null
    tm=$(median <"$work/rt")
    awk -v s="$size" -v t="$tm" -v nt="$native_t" -v cs="$(median <"$work/rcs")" -v cd="$(median <"$work/rcd")" \
        'BEGIN { printf "| %d MiB | vmhost alone, TLS (reference) | %.2f | %.0f | %.2fx | %s | %s |\n", s, t / 1000, s / (t / 1000), nt / t, cs, cd }' | tee -a "$out"
done
{
    echo
    echo "\"vs native TLS\" is native TLS's time over the row's: above 1 is faster."
    echo "The reference row's time is vmhost's migrate alone (from the migrate"
    echo "command to 'completed'); the daemon rows include virsh, both daemons'"
    echo "steps and the destination vmhost's start."
} >>"$out"

echo
echo "(written to $out)"
