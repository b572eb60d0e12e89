#!/bin/sh
# vmhostd end to end (TAP) with libvirt's real clients: virsh over
# vmhost+tls, qemu+tls and vmhost+unix (read-write and read-only),
# python3-libvirt and libvirt-glib (tests/programs/vmhostd-clients.py),
# the console on a pty, lifecycle events, refused TLS clients (DN not
# allowed, another CA, no certificate), a daemon killed with SIGKILL and
# restarted while a machine runs, a crashed machine, startup errors, and a
# clean SIGTERM. The daemon runs in --session mode with every file under
# $work; certificates are made at test time in libvirt's layout (RSA,
# digitalSignature + keyEncipherment, which libvirt 9's clients require).
set -u
. "$(dirname "$0")/testlib.sh"
tl_start vmhostd
here=$(cd "$(dirname "$0")" && pwd)
vmhostd="$build/src/vmhostd/vmhostd"
clients="$here/vmhostd-clients.py"
py=/usr/bin/python3
log_files="d.err sa.err anon.log lv.out cmd.err"
log_lines=30
dpid=""

# The machines outlive the daemon by design: kill what this test started
# (every process whose command line names $work), then the daemon.
kill_machines() {
    for p in $(ps -eo pid=,args= | awk -v w="$work" 'index($0, w) && $1 != '$$' { print $1 }'); do
        kill -KILL "$p" 2>/dev/null
    done
}
cleanup_more() { kill_machines; }

need() {
    command -v "$1" >/dev/null 2>&1 || { echo "1..0 # SKIP $1 is not installed"; exit 0; }
}
need virsh
need certtool
need gnutls-cli
if ! "$vmhostd" --version >/dev/null 2>"$work/v.err"; then
    echo "1..0 # SKIP vmhostd: $(cat "$work/v.err")"
    exit 0
fi

echo "1..42"

# ---- a private home: libvirt's client writes nothing to the real one ----
export HOME="$work/home" XDG_CONFIG_HOME="$work/cfg" XDG_RUNTIME_DIR="$work/run"
export XDG_CACHE_HOME="$work/cache" LIBVIRT_DEFAULT_URI=""
mkdir -p "$HOME" "$XDG_CONFIG_HOME" "$XDG_CACHE_HOME"
mkdir -m 700 "$XDG_RUNTIME_DIR"

# ---- PKI in libvirt's layout, by certtool as libvirt's docs do it ----
pki="$work/pki"
mkdir -p "$pki" "$work/cli" "$work/intr" "$work/wca"
cert() { # cert NAME TEMPLATE-LINES... (signed by the CA in $pki)
    cname=$1; shift
    printf '%s\n' "$@" "expiration_days = 30" >"$pki/$cname.info"
    certtool --generate-privkey --key-type rsa --bits 2048 \
        --outfile "$pki/$cname.key" 2>/dev/null &&
        certtool --generate-certificate --load-privkey "$pki/$cname.key" \
            --load-ca-certificate "$pki/${ca:-ca}.crt" \
            --load-ca-privkey "$pki/${ca:-ca}.key" \
            --template "$pki/$cname.info" --outfile "$pki/$cname.crt" 2>/dev/null
}
selfca() { # selfca NAME CN
    printf '%s\n' "cn = $2" ca cert_signing_key "expiration_days = 30" >"$pki/$1.info"
    certtool --generate-privkey --key-type rsa --bits 2048 --outfile "$pki/$1.key" 2>/dev/null &&
        certtool --generate-self-signed --load-privkey "$pki/$1.key" \
            --template "$pki/$1.info" --outfile "$pki/$1.crt" 2>/dev/null
}
usage="tls_www_client signing_key encryption_key"
{
    selfca ca "vmhost test CA" && selfca otherca "another CA" &&
        cert server "organization = vmhost test" "cn = localhost" \
            "dns_name = localhost" "ip_address = 127.0.0.1" tls_www_server \
            signing_key encryption_key &&
        cert admin "country = GB" "organization = vmhost test" "cn = admin" $usage &&
        cert intruder "country = GB" "organization = vmhost test" "cn = intruder" $usage &&
        ca=otherca cert stranger "country = GB" "organization = vmhost test" "cn = admin" $usage
} || { echo "Bail out! certtool failed"; exit 1; }
for d in cli intr wca; do cp "$pki/ca.crt" "$work/$d/cacert.pem"; done
cp "$pki/admin.crt" "$work/cli/clientcert.pem"
cp "$pki/admin.key" "$work/cli/clientkey.pem"
cp "$pki/intruder.crt" "$work/intr/clientcert.pem"
cp "$pki/intruder.key" "$work/intr/clientkey.pem"
cp "$pki/stranger.crt" "$work/wca/clientcert.pem"
cp "$pki/stranger.key" "$work/wca/clientkey.pem"

# ---- the daemon's config ----
port=$(free_port)
sock="$work/sock"
cat >"$work/vmhostd.conf" <<EOF
# vmhostd.conf for the test (libvirtd.conf's keys)
listen_tls = 1
listen_addr = "127.0.0.1"
tls_port = "$port"
unix_sock_dir = "$sock"
unix_sock_rw_perms = "0700"
unix_sock_ro_perms = "0777"
ca_file = "$pki/ca.crt"
cert_file = "$pki/server.crt"
key_file = "$pki/server.key"
tls_allowed_dn_list = ["*O=vmhost test,CN=admin"]
auth_tls = "none"
keepalive_interval = 5
EOF
cat >"$work/driver.conf" <<EOF
vmhost_binary = "$vmhost"
migration_port_min = 49152
EOF
start_daemon() {
    bg d "$vmhostd" --session --listen --verbose --config "$work/vmhostd.conf" \
        --driver-config "$work/driver.conf"
    dpid=$last
    wait_until "[ -S '$sock/vmhost-sock' ] && grep -q 'vmhostd ready' '$work/d.err'" 200 ||
        wait_until "! kill -0 $dpid 2>/dev/null" 1
}
tls="vmhost+tls://localhost:$port/system?pkipath=$work/cli"
unix="vmhost+unix:///system?socket=$sock/vmhost-sock"
ro="vmhost+unix:///system?socket=$sock/vmhost-sock-ro"
# v URI ARGS...: virsh, its output in $out (stderr in $work/cmd.err)
v() {
    vuri=$1; shift
    out=$(timeout 30 virsh -q -c "$vuri" "$@" 2>"$work/cmd.err")
}
state() { v "$tls" domstate "$1"; echo "$out"; }
dom_xml() { # dom_xml NAME FILE
    cat >"$2" <<EOF
<domain type='vmhost'>
  <name>$1</name>
  <memory unit='MiB'>32</memory>
  <vcpu>1</vcpu>
  <os><type>hvm</type></os>
  <devices>
    <serial type='pty'><target port='0'/></serial>
    <console type='pty'><target type='serial' port='0'/></console>
  </devices>
</domain>
EOF
}

start_daemon
check "vmhostd starts in --session mode with TLS on 127.0.0.1:$port" \
    'kill -0 $dpid && grep -q "listening on 127.0.0.1:$port (TLS)" "$work/d.err"'
check "the UNIX sockets: vmhost-sock 0700, vmhost-sock-ro 0777; the pid file" \
    '[ "$(stat -c %a "$sock/vmhost-sock")" = 700 ] && [ "$(stat -c %a "$sock/vmhost-sock-ro")" = 777 ] &&
     [ "$(cat "$XDG_RUNTIME_DIR/vmhost/vmhostd.pid")" = "$dpid" ]'
check "an unknown key is a warning naming file:line" \
    'grep -q "vmhostd.conf:12: unknown key .auth_tls. ignored" "$work/d.err"'

v "$tls" version
check "virsh version over vmhost+tls" '[ $? -eq 0 ] && printf "%s" "$out" | grep -q "hypervisor"'
v "$tls" hostname
check "virsh hostname" '[ "$out" = "$(hostname)" ] || [ -n "$out" ]'
v "$tls" uri
check "virsh uri names /system" 'printf "%s" "$out" | grep -q "/system"'

dom_xml vm1 "$work/vm1.xml"
v "$tls" define "$work/vm1.xml"
check "virsh define FILE" '[ $? -eq 0 ]'
v "$tls" list --all
check "virsh list --all: vm1 shut off" 'printf "%s" "$out" | grep -Eq "vm1 +shut off"'

bg ev timeout 120 virsh -c "$tls" event --all --loop
evpid=$last
wait_until "grep -q . '$work/ev.out' || [ -s '$work/ev.err' ]" 20 # no output until events
sleep 1
v "$tls" start vm1
check "virsh start vm1" '[ "$(state vm1)" = running ]'
v "$tls" domid vm1
check "virsh domid: a number" 'printf "%s" "$out" | grep -Eq "^[0-9]+$"'
v "$tls" domuuid vm1
uuid=$out
check "virsh domuuid: a UUID" 'printf "%s" "$uuid" | grep -Eq "^[0-9a-f-]{36}$"'
v "$tls" dominfo vm1
check "virsh dominfo: running, 32768 KiB, 1 CPU" \
    'printf "%s" "$out" | grep -Eq "State: +running" && printf "%s" "$out" | grep -Eq "Max memory: +32768 KiB" && printf "%s" "$out" | grep -Eq "CPU\(s\): +1"'
v "$tls" list --state-running
r=$out
v "$tls" list --state-shutoff --name
check "virsh list --state-running / --state-shutoff" \
    'printf "%s" "$r" | grep -q vm1 && ! printf "%s" "$out" | grep -q vm1'
v "$tls" dumpxml vm1
check "virsh dumpxml" 'printf "%s" "$out" | grep -q "<name>vm1</name>" && printf "%s" "$out" | grep -q "$uuid"'
v "$tls" suspend vm1
s1=$(state vm1)
v "$tls" resume vm1
check "virsh suspend / resume" '[ "$s1" = paused ] && [ "$(state vm1)" = running ]'

timeout 40 "$py" "$clients" console "$tls" vm1 >"$work/con.out" 2>&1
rc=$?
why="$(cat "$work/con.out")"
check "virsh console on a pty: echo comes back, Ctrl-] leaves" '[ $rc -eq 0 ]'

v "$tls" destroy vm1
check "virsh destroy" '[ "$(state vm1)" = "shut off" ]'
check "virsh event --all --loop: started and stopped (destroyed)" \
    'wait_until "grep -q \"lifecycle.*vm1.*Stopped Destroyed\" \"$work/ev.out\"" 100 &&
     grep -q "lifecycle.*vm1.*Started Booted" "$work/ev.out" &&
     grep -q "lifecycle.*vm1.*Suspended" "$work/ev.out"'
stop "$evpid" >/dev/null 2>&1

v "$tls" autostart vm1
a=$?
v "$tls" dominfo vm1
check "virsh autostart" '[ $a -eq 0 ] && printf "%s" "$out" | grep -Eq "Autostart: +enable"'
v "$tls" autostart --disable vm1

v "qemu+tls://localhost:$port/system?pkipath=$work/cli" list --all
check "qemu+tls:// reaches the same daemon" 'printf "%s" "$out" | grep -q vm1'
v "$unix" list --all
check "vmhost+unix:///system?socket=: list" 'printf "%s" "$out" | grep -q vm1'
v "$ro" list --all
l=$out
virsh -q -r -c "$ro" start vm1 >/dev/null 2>"$work/cmd.err"
rc=$?
check "the read-only socket (virsh -r) reads but may not start" \
    'printf "%s" "$l" | grep -q vm1 && [ $rc -ne 0 ] && grep -Eqi "forbidden|read.only" "$work/cmd.err" && [ "$(state vm1)" = "shut off" ]'
virsh -q -r -c "$tls" start vm1 >/dev/null 2>"$work/cmd.err"
rc=$?
check "virsh -r over TLS: start denied (operation forbidden)" \
    '[ $rc -ne 0 ] && grep -Eqi "forbidden|read.only" "$work/cmd.err" && [ "$(state vm1)" = "shut off" ]'

v "$tls" start vm1
timeout 30 virsh -q -c "$tls" shutdown vm1 >/dev/null 2>"$work/cmd.err"
check "virsh shutdown: the guest powers off" 'wait_until "[ \"\$(state vm1)\" = \"shut off\" ]" 200'

dom_xml vm2 "$work/vm2.xml"
v "$tls" create "$work/vm2.xml"
c=$?
v "$tls" list --transient --name
t=$out
v "$tls" destroy vm2
v "$tls" list --all --name
check "virsh create (transient): runs, then is gone after destroy" \
    '[ $c -eq 0 ] && printf "%s" "$t" | grep -qx vm2 && ! printf "%s" "$out" | grep -qx vm2'

dom_xml py1 "$work/py1.xml"
timeout 60 "$py" "$clients" libvirt "$tls" "$work/py1.xml" >"$work/py.out" 2>&1
rc=$?
why="$(tail -5 "$work/py.out")"
check "python3-libvirt: open over TLS, define, lookups, create, info, events, destroy" '[ $rc -eq 0 ]'

dom_xml gl1 "$work/gl1.xml"
v "$tls" define "$work/gl1.xml"
timeout 90 "$py" "$clients" glib "$tls" gl1 >"$work/glib.out" 2>&1
rc=$?
why="$(tail -5 "$work/glib.out")"
check "libvirt-glib: open (sync, async), domains, config XML, start/suspend/resume/stop signals" '[ $rc -eq 0 ]'
v "$tls" undefine gl1

# ---- refused clients ----
v "vmhost+tls://localhost:$port/system?pkipath=$work/intr" list
rc=$?
cp "$work/cmd.err" "$work/intr.err"
check "a DN outside tls_allowed_dn_list: virsh fails and says so" \
    '[ $rc -ne 0 ] && grep -q "authentication failed: the client certificate.s DN .C=GB,O=vmhost test,CN=intruder. is not in the server.s tls_allowed_dn_list" "$work/intr.err"'
sed 's/^/# virsh said: /' "$work/intr.err"
# The daemon logs a refusal after the client has gone: wait for the line.
logged() { wait_until "grep -Eq '$1' '$work/d.err'" || true; }
logged 'CN=intruder from 127.0.0.1:[0-9]* refused'
check "... and the daemon logs who and why" \
    'grep -q "TLS client C=GB,O=vmhost test,CN=intruder from 127.0.0.1:[0-9]* refused: its DN is not in tls_allowed_dn_list ($work/vmhostd.conf:11)" "$work/d.err"'
v "vmhost+tls://localhost:$port/system?pkipath=$work/wca" list
rc=$?
timeout 10 gnutls-cli --x509cafile "$pki/ca.crt" --x509certfile "$pki/stranger.crt" \
    --x509keyfile "$pki/stranger.key" -p "$port" localhost </dev/null >"$work/wca.out" 2>&1
logged 'TLS client 127.0.0.1:[0-9]+ refused: .*(certificate|issuer|signer|CA)'
check "a client certificate from another CA: virsh refuses it, the daemon too (logged)" \
    '[ $rc -ne 0 ] && grep -Eq "TLS client 127.0.0.1:[0-9]+ refused: .*(certificate|issuer|signer|CA)" "$work/d.err"'
timeout 10 gnutls-cli --x509cafile "$pki/ca.crt" -p "$port" localhost </dev/null >"$work/nocert.out" 2>&1
logged 'did not send a certificate'
check "a client without a certificate is refused (logged)" \
    'grep -q "did not send a certificate" "$work/d.err"'
grep "refused" "$work/d.err" | sed 's/^[^:]*:[^:]*:[^:]*: [0-9]*: /# vmhostd said: /'

# ---- the daemon killed while a machine runs; a crash ----
v "$tls" start vm1
mpid=$(cat "$XDG_RUNTIME_DIR/vmhost/qemu/vm1.pid" 2>/dev/null || echo none)
stop "$dpid" KILL
start_daemon
check "SIGKILL and restart: the machine kept running and is listed running" \
    'kill -0 "$mpid" && [ "$(state vm1)" = running ]'
timeout 40 "$py" "$clients" console "$tls" vm1 >"$work/con.out" 2>&1
rc=$?
why="$(cat "$work/con.out")"
check "... and its console still works" '[ $rc -eq 0 ]'
bg ev2 timeout 60 virsh -c "$tls" event vm1 --event lifecycle --loop
ev2=$last
sleep 1
kill -KILL "$mpid" 2>/dev/null
check "a crashed machine: shut off (crashed), with an event" \
    'wait_until "[ \"\$(virsh -q -c \"$tls\" domstate --reason vm1 2>/dev/null)\" = \"shut off (crashed)\" ]" 200 &&
     wait_until "grep -q \"Stopped Crashed\" \"$work/ev2.out\"" 100'
stop "$ev2" >/dev/null 2>&1
v "$tls" undefine vm1
check "virsh undefine" '[ $? -eq 0 ] && ! virsh -q -c "$tls" list --all --name | grep -qx vm1'

# ---- clean shutdown ----
v "$tls" start vm1 2>/dev/null # undefined: fails; use a transient one
v "$tls" create "$work/vm2.xml"
mpid=$(cat "$XDG_RUNTIME_DIR/vmhost/qemu/vm2.pid" 2>/dev/null || echo none)
stop "$dpid" TERM
rc=$?
check "SIGTERM: exit 0, sockets and pid file removed, the machine keeps running" \
    '[ $rc -eq 0 ] && [ ! -e "$sock/vmhost-sock" ] && [ ! -e "$sock/vmhost-sock-ro" ] &&
     [ ! -e "$XDG_RUNTIME_DIR/vmhost/vmhostd.pid" ] && kill -0 "$mpid"'
kill_machines

# ---- socket activation (systemd's protocol, via systemd-socket-activate) ----
if command -v systemd-socket-activate >/dev/null 2>&1; then
    sa="$work/sa"
    mkdir "$sa"
    sport=$(free_port)
    bg sa systemd-socket-activate -l "$sa/vmhost-sock" -l "$sa/vmhost-sock-ro" \
        -l "127.0.0.1:$sport" --fdname=vmhostd.socket:vmhostd-ro.socket:vmhostd-tls.socket \
        "$vmhostd" --session --verbose --pid-file "$work/sa.pid" \
        --config "$work/vmhostd.conf" --driver-config "$work/driver.conf"
    sapid=$last
    wait_until "[ -S '$sa/vmhost-sock-ro' ]" 100
    v "vmhost+tls://localhost:$sport/system?pkipath=$work/cli" list --all
    c=$?
    virsh -q -c "vmhost+unix:///system?socket=$sa/vmhost-sock-ro" create "$work/vm2.xml" \
        >/dev/null 2>"$work/cmd.err"
    r=$?
    check "socket activation: TLS, rw and ro sockets from LISTEN_FDS by their names" \
        '[ $c -eq 0 ] && [ $r -ne 0 ] && grep -q "fd 5 (vmhostd-tls.socket) is the TLS listener" "$work/sa.err" &&
         grep -q "fd 4 (vmhostd-ro.socket) is the read-only listener" "$work/sa.err"'
    stop "$sapid" TERM
else
    skip "socket activation: systemd-socket-activate is not installed"
fi
kill_machines

# ---- vmhost-pki --layout libvirt, max_anonymous_clients, log_outputs ----
lv="$work/lv"
{
    "$pki_tool" init-ca "$lv" --layout libvirt &&
        "$pki_tool" issue server "$lv" --layout libvirt --hostname localhost --ip 127.0.0.1 &&
        "$pki_tool" issue client "$lv" --layout libvirt --dn "C=GB,O=vmhost test,CN=admin"
} >"$work/lv.out" 2>&1
lvrc=$?
aport=$(free_port)
cat >"$work/anon.conf" <<EOF
listen_addr = "127.0.0.1"
tls_port = "$aport"
unix_sock_dir = "$work/anon-sock"
ca_file = "$lv/CA/cacert.pem"
cert_file = "$lv/libvirt/servercert.pem"
key_file = "$lv/libvirt/private/serverkey.pem"
max_anonymous_clients = 2
log_outputs = "2:file:$work/anon.log"
EOF
bg anon "$vmhostd" --session --listen --pid-file "$work/anon.pid" \
    --config "$work/anon.conf" --driver-config "$work/driver.conf"
apid=$last
wait_until "grep -q 'vmhostd ready' '$work/anon.log' 2>/dev/null" 100
idle=""
for i in 1 2 3; do
    socat -u "TCP:127.0.0.1:$aport" STDOUT >/dev/null 2>&1 </dev/null &
    idle="$idle $!"
done
wait_until "grep -q 'TLS clients in their handshake (max_anonymous_clients)' '$work/anon.log'" 100
w=$?
kill $idle 2>/dev/null
v "vmhost+tls://localhost:$aport/system?pkipath=$lv/pkipath" list --all
c=$?
check "vmhost-pki --layout libvirt certificates; max_anonymous_clients: silent clients pause accepting (logged to the log_outputs file), then it resumes" \
    '[ $lvrc -eq 0 ] && [ $w -eq 0 ] && [ $c -eq 0 ] && ! grep -q "TLS certificate check" "$work/anon.log"'
stop "$apid" TERM

# ---- startup errors ----
sed -e "s|$pki/server.crt|$pki/stranger.crt|" -e "s|$pki/server.key|$pki/stranger.key|" \
    "$work/vmhostd.conf" >"$work/bad.conf"
timeout 10 "$vmhostd" --session --listen --config "$work/bad.conf" --driver-config "$work/driver.conf" \
    >"$work/bad.out" 2>&1
rc=$?
check "a server certificate from another CA: startup fails with the check's message" \
    '[ $rc -eq 1 ] && grep -q "stranger.crt" "$work/bad.out" && [ ! -e "$sock/vmhost-sock" ]'
printf 'tls_priority = "NORMAL:-VERS-TLS9"\n' >>"$work/vmhostd.conf"
timeout 10 "$vmhostd" --session --listen --config "$work/vmhostd.conf" --driver-config "$work/driver.conf" \
    >"$work/bad.out" 2>&1
rc=$?
check "a tls_priority typo stops startup with GnuTLS's token" \
    '[ $rc -eq 1 ] && grep -q "Failed to set TLS session priority to NORMAL:-VERS-TLS9" "$work/bad.out"'
printf 'max_clients = "many"\n' >"$work/bad.conf"
timeout 10 "$vmhostd" --session --config "$work/bad.conf" >"$work/bad.out" 2>&1
rc=$?
check "a bad value names file:line" '[ $rc -eq 1 ] && grep -q "bad.conf:1" "$work/bad.out"'
timeout 10 "$vmhostd" --session --config "$work/missing.conf" >"$work/bad.out" 2>&1
rc=$?
check "a missing --config file is an error" '[ $rc -eq 1 ] && grep -q "missing.conf" "$work/bad.out"'
