#!/bin/sh
# vmhost live migration between two hosts (TAP): the source and the target
# each in its own network namespace, joined by a veth pair (10.x IPv4 and
# fd00:: IPv6 addresses that exist only inside the namespaces). Each host
# has its own certificate directory: the target's server certificate
# carries its name and address, the source's client certificate its name.
# The source resolves the target's name through the namespace's own
# /etc/hosts (/etc/netns/NS/hosts, which `ip netns exec` mounts). Migrates
# over TLS with multifd, by name and by IPv4 and IPv6 address, and checks
# that a certificate for the other host is refused. Skipped, saying why,
# where namespaces cannot be made (not root, no ip netns, no veth).
set -u
mem=64M
tag=$$
ns_src="vhmig-src-$tag"
ns_dst="vhmig-dst-$tag"
veth_src="vhms$tag"
veth_dst="vhmd$tag"
# 10.231.X.0/24 with X from the pid, so parallel runs do not collide.
net="10.231.$((tag % 250 + 1))"
src_ip="$net.1" dst_ip="$net.2"
sub6=$(printf %x $((tag % 65536)))
src_ip6="fd00:231:$sub6::1" dst_ip6="fd00:231:$sub6::2"
dst_name="target-$tag.vmhost.test"
src_name="source-$tag.vmhost.test"

. "$(dirname "$0")/migration-lib.sh"
tl_start mig-netns
cleanup_more() {
    ip netns del "$ns_src" 2>/dev/null
    ip netns del "$ns_dst" 2>/dev/null
    rm -rf "/etc/netns/$ns_src" "/etc/netns/$ns_dst"
    rmdir /etc/netns 2>/dev/null
}

skip_all() {
    echo "1..0 # SKIP two network namespaces: $1"
    exit 0
}
netns_pair
mkdir -p "/etc/netns/$ns_src" "/etc/netns/$ns_dst"
printf '127.0.0.1 localhost\n%s %s\n%s %s\n' "$dst_ip" "$dst_name" "$src_ip" "$src_name" \
    >"/etc/netns/$ns_src/hosts"
cp "/etc/netns/$ns_src/hosts" "/etc/netns/$ns_dst/hosts"

n=0
echo "# source $ns_src ($src_ip, $src_ip6), target $ns_dst ($dst_ip, $dst_ip6)"
# reach [WRAP]: "hi" from a socat listener in the target's namespace, over
# IPv4 and IPv6, seen from the source's namespace (or from WRAP's).
rport=$((20000 + tag % 20000 + 1))
ip netns exec "$ns_dst" socat "TCP6-LISTEN:$rport,ipv6only=0,reuseaddr,fork" SYSTEM:"echo hi" 2>/dev/null &
pids="$pids $!"
wait_until 'ip netns exec "$ns_dst" ss -ltn | grep -q ":$rport "' 50
reach() {
    $1 timeout 3 socat -T 2 - "TCP:$dst_ip:$rport,connect-timeout=2" </dev/null 2>/dev/null | grep -qx hi &&
        $1 timeout 3 socat -T 2 - "TCP6:[$dst_ip6]:$rport,connect-timeout=2" </dev/null 2>/dev/null | grep -qx hi
}
check "the namespaces reach each other over the veth pair (IPv4 and IPv6)" 'reach "ip netns exec $ns_src"'
check "the target's addresses are not reachable from outside the namespaces" '! reach ""'

# Each host's own certificate directory, one CA.
ca="$work/ca" sdir="$work/source-pki" ddir="$work/target-pki" odir="$work/other-pki"
mkdir "$ca" "$sdir" "$ddir" "$odir"
{
    "$pki_tool" init-ca "$ca" --cn "two-host CA" &&
        for d in "$sdir" "$ddir" "$odir"; do cp "$ca/ca-cert.pem" "$ca/ca-key.pem" "$d/"; done &&
        "$pki_tool" issue server "$ddir" --hostname "$dst_name" --ip "$dst_ip" --ip "$dst_ip6" &&
        "$pki_tool" issue server "$sdir" --hostname "$src_name" --ip "$src_ip" --ip "$src_ip6" &&
        "$pki_tool" issue client "$sdir" --dn "C=GB,O=vmhost,CN=$src_name" &&
        "$pki_tool" issue client "$ddir" --dn "C=GB,O=vmhost,CN=$dst_name" &&
        "$pki_tool" issue server "$odir" --hostname "$src_name" --ip "$src_ip" &&
        rm "$sdir/ca-key.pem" "$ddir/ca-key.pem" "$odir/ca-key.pem"
} >/dev/null || {
    echo "Bail out! vmhost-pki failed"
    exit 1
}
check "the target's certificate names its host and address" \
    '"$pki_tool" validate "$ddir" --endpoint server --hostname "$dst_name" >/dev/null && "$pki_tool" validate "$ddir" --endpoint server --hostname "$dst_ip" >/dev/null'

tls_on="migrate_set_parameter tls-creds tls0"
mf="migrate_set_capability multifd on"
# two_hosts LABEL URI-HOST LISTEN-ADDR TARGET-PKI [EXPECT]: target in ns_dst
# (started with -S so that its RAM can be compared with the source's)
# listening on LISTEN-ADDR, source in ns_src writing 20 MB/s and migrating
# to URI-HOST over TLS with 2 multifd channels.
two_hosts() {
    label=$1 host=$2 listen=$3 tdir=$4 expect=${5:-ok}
    port=$((20000 + tag % 20000))
    VM_WRAP="ip netns exec $ns_src" vm src \
        -object "tls-creds-x509,id=tls0,endpoint=client,dir=$sdir"
    VM_WRAP="ip netns exec $ns_dst" vm dst -S -incoming defer \
        -object "tls-creds-x509,id=tls0,endpoint=server,dir=$tdir" \
        -object "authz-simple,id=auth0,identity=C=GB,,O=vmhost,,CN=$src_name"
    fill src
    hmp src "guest dirty 20 random" >/dev/null
    hmp dst "$tls_on" "migrate_set_parameter tls-authz auth0" "$mf" \
        "migrate_set_parameter multifd-channels 2" "migrate_incoming tcp:$listen:$port" >/dev/null
    hmp src "$tls_on" "$mf" "migrate_set_parameter multifd-channels 2" \
        "migrate_set_parameter max-bandwidth 10G" "migrate -d tcp:$host:$port" >/dev/null
    if [ "$expect" = ok ]; then
        check "$label" 'migrated src dst'
        hmp dst cont >/dev/null
        check "... the target runs after cont and verifies" \
            'wait_until "[ \"\$(rstate dst)\" = running ]" 50 && verify_ok dst'
    else
        st=$(wait_mig src "failed completed cancelled" 150)
        check "$label" '[ "$st" = failed ] && [ -n "$(merror src)" ] && intact src && not_started dst'
    fi
    both_gone src dst
}
two_hosts "TLS + multifd 2 between namespaces, by name ($dst_name): completed, checksums equal, verify ok" \
    "$dst_name" "$dst_ip" "$ddir"
two_hosts "... by IPv4 address ($dst_ip)" "$dst_ip" "$dst_ip" "$ddir"
two_hosts "... by IPv6 address ([$dst_ip6])" "[$dst_ip6]" "[$dst_ip6]" "$ddir"
two_hosts "a target presenting another host's certificate is refused; the source runs on" \
    "$dst_name" "$dst_ip" "$odir" fail

check "no sanitizer report from any vmhost (stderr of every machine)" 'sanitizer_clean'
check "every vmhost exited on SIGTERM, none needed SIGKILL" 'all_exited_on_sigterm'
echo "1..$n"
