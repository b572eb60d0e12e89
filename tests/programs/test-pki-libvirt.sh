#!/bin/sh
# vmhost-pki --layout libvirt against a real libvirt (TAP): the files land
# where libvirtd and libvirt's clients look for them (/etc/pki/CA and
# /etc/pki/libvirt mirrored under one DIR, plus a ?pkipath= directory), and
# Debian's libvirtd (9.0, its built-in test:///default driver, a private
# config listening on 127.0.0.1 only) and virsh accept them. vmhost-pki's
# default ECDSA certificates are refused by libvirt's client with its key
# encipherment message - the reason the libvirt layout makes RSA keys.
#
# libvirtd runs unprivileged: as nobody (setpriv) when we are root, else as
# ourselves; it is stopped and reaped, and its files go with $work.
set -u
. "$(dirname "$0")/testlib.sh"
tl_start pki-libvirt
log_files="*.err *.out *.log"

for prog in /usr/sbin/libvirtd virsh setpriv; do
    if ! command -v "$prog" >/dev/null 2>&1; then
        echo "1..0 # SKIP $prog is not installed (Debian: libvirt-daemon, libvirt-clients)"
        exit 0
    fi
done
echo "1..12"

d="$work/lv"
mkdir -p "$d/home" "$d/run" "$d/home-ec" "$d/run-ec"
pki="$d/pki"

# ---- the layout ----
"$pki_tool" init-ca "$pki" --layout libvirt --cn "vmhost test CA" >"$work/init.out" 2>&1 &&
    "$pki_tool" issue server "$pki" --layout libvirt --hostname localhost \
        --ip 127.0.0.1 >"$work/server.out" 2>&1 &&
    "$pki_tool" issue client "$pki" --layout libvirt \
        --dn "C=GB,O=vmhost,CN=virsh" >"$work/client.out" 2>&1
check "init-ca, issue server and issue client --layout libvirt succeed" '[ $? -eq 0 ]'
check "libvirt's file names: CA/cacert.pem, libvirt/servercert.pem, libvirt/private/serverkey.pem, client pair, pkipath dir" \
    'for f in CA/cacert.pem CA/private/cakey.pem libvirt/servercert.pem \
        libvirt/private/serverkey.pem libvirt/clientcert.pem \
        libvirt/private/clientkey.pem pkipath/cacert.pem \
        pkipath/clientcert.pem pkipath/clientkey.pem; do
        [ -s "$pki/$f" ] || { echo "# missing $f"; exit 1; }
    done'
check "private keys are 0600 in 0700 private/ directories" \
    '[ "$(stat -c %a "$pki/libvirt/private")" = 700 ] &&
     [ "$(stat -c %a "$pki/libvirt/private/serverkey.pem")" = 600 ] &&
     [ "$(stat -c %a "$pki/CA/private/cakey.pem")" = 600 ] &&
     [ "$(stat -c %a "$pki/pkipath/clientkey.pem")" = 600 ]'
certtool -i --infile "$pki/libvirt/servercert.pem" >"$work/server.info" 2>&1
check "the default key for --layout libvirt is RSA-3072 with digitalSignature + keyEncipherment" \
    'grep -q "Subject Public Key Algorithm: RSA" "$work/server.info" &&
     grep -q "Modulus (bits 3072)" "$work/server.info" &&
     grep -q "Key encipherment" "$work/server.info" &&
     grep -q "Digital signature" "$work/server.info"'
"$pki_tool" validate "$pki" --layout libvirt --endpoint server \
    --hostname localhost >"$work/vs.out" 2>&1 &&
    "$pki_tool" validate "$pki/pkipath" --layout pkipath --endpoint client \
        >"$work/vc.out" 2>&1
check "validate --layout libvirt (server) and --layout pkipath (client) pass" '[ $? -eq 0 ]'

# vmhost-pki's defaults (QEMU's layout, ECDSA P-256), in a pkipath directory.
make_pki "$work/ec" "C=GB,O=vmhost,CN=virsh"
mkdir -p "$d/ecpath"
cp "$work/ec/ca-cert.pem" "$d/ecpath/cacert.pem"
cp "$work/ec/client-cert.pem" "$d/ecpath/clientcert.pem"
cp "$work/ec/client-key.pem" "$d/ecpath/clientkey.pem"

# ---- libvirtd with a private config on loopback ----
port=$(free_port)
lv_conf "$d" "$pki" "$port" "C=GB,O=vmhost,CN=virsh"
lv_start "$d"
check "libvirtd (test driver, unprivileged) starts with the libvirt-layout certificates" \
    'kill -0 "$lvd" 2>/dev/null && [ -S "$d/run/libvirt-sock" ] &&
     { [ -z "$as_user" ] || [ "$(ps -o user= -p "$lvd")" = nobody ]; }'

uri="test+tls://localhost:$port/default"
$(lv_penv "$d") timeout 30 virsh -c "$uri?pkipath=$pki/pkipath" list --all \
    >"$work/list.out" 2>"$work/list.err"
rc=$?
check "virsh -c 'test+tls://localhost:PORT/default?pkipath=DIR' list --all accepts them" \
    '[ $rc -eq 0 ] && grep -q " test .*running" "$work/list.out"'
$(lv_penv "$d") /usr/bin/python3 - "$uri?pkipath=$pki/pkipath" >"$work/py.out" 2>&1 <<'EOF'
import sys
import libvirt
conn = libvirt.open(sys.argv[1])
print("domains:", [d.name() for d in conn.listAllDomains()])
conn.close()
EOF
rc=$?
check "python3-libvirt opens the same URI and lists the test domain" \
    '[ $rc -eq 0 ] && grep -q "domains: .*test" "$work/py.out"'

$(lv_penv "$d") timeout 30 virsh -c "$uri?pkipath=$d/ecpath" list --all \
    >"$work/ec.out" 2>"$work/ec.err"
rc=$?
check "vmhost-pki's default ECDSA certificates: virsh refuses them (usage does not permit key encipherment)" \
    '[ $rc -ne 0 ] && grep -q "clientcert.pem usage does not permit key encipherment" "$work/ec.err"'

# The same refusal on the daemon's side: libvirtd checks its own certificate.
cp -a "$pki" "$d/pki-ec"
"$pki_tool" issue server "$d/pki-ec" --layout libvirt --key-type ecdsa-p256 \
    --hostname localhost --force >"$work/ecserver.out" 2>&1
check "issue --layout libvirt --key-type ecdsa-p256 warns that libvirt refuses such certificates" \
    'grep -q "warning: ecdsa-p256 certificates have no keyEncipherment key usage" "$work/ecserver.out"'
ecport=$(free_port)
sed -e "s|$pki/|$d/pki-ec/|" -e "s|\"$port\"|\"$ecport\"|" \
    -e "s|unix_sock_dir = .*|unix_sock_dir = \"$d/run-ec\"|" \
    "$d/libvirtd.conf" >"$d/libvirtd-ec.conf"
[ "$(id -u)" -eq 0 ] && chown -R nobody:nogroup "$d"
$(lv_penv "$d" -ec) $as_user timeout 30 /usr/sbin/libvirtd --listen \
    -f "$d/libvirtd-ec.conf" >"$work/libvirtd-ec.out" 2>&1
rc=$?
check "libvirtd refuses to start with an ECDSA server certificate from vmhost-pki, saying why" \
    '[ $rc -ne 0 ] && grep -q "servercert.pem usage does not permit key encipherment" "$work/libvirtd-ec.out"'

stop "$lvd"
rc=$?
check "libvirtd stops on SIGTERM (exit 0)" '[ $rc -eq 0 ]'
