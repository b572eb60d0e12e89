#!/bin/sh
# Files the operator names, read by every program (TAP): a FIFO or another
# non-regular file where a file belongs is refused at once, naming it (it
# used to block in open() and ignore SIGTERM), a NUL byte in a text file is
# refused naming the file and line (it used to truncate the text), and a
# world-readable private key is a warning for -object tls-creds-x509 and an
# error with sanity-check=strict (issue 10 items 2, 7 and 8); the same for
# the migration target's file: URI and the -D log file. Every run is
# bounded by timeout, so a regression fails instead of hanging the suite.
set -u
. "$(dirname "$0")/testlib.sh"
tl_start file-inputs
policy="$build/src/vmhost-policy/vmhost-policy"
log_files="out"
unset GNUTLS_SYSTEM_PRIORITY_FILE VMHOST_CONF
echo "1..25"

# run PROG ARGS...: at most 10 s, output in $work/out; $rc is the status
# (124 when it had to be killed: the hang this test is about).
run() {
    timeout -s KILL 10 "$@" >"$work/out" 2>&1 </dev/null
    rc=$?
}
said() { grep -q -- "$1" "$work/out"; }

make_pki "$work/pki" "CN=client1"
chmod 600 "$work/pki"/*-key.pem

# pki_with_fifo NAME: a copy of the PKI with NAME replaced by a FIFO.
pki_with_fifo() {
    rm -rf "$work/fp"
    cp -a "$work/pki" "$work/fp"
    rm "$work/fp/$1"
    mkfifo "$work/fp/$1"
}

# ---- item 2: FIFOs ----
for f in ca-cert.pem server-key.pem server-cert.pem; do
    pki_with_fifo "$f"
    run "$vmhost" -object "tls-creds-x509,id=t0,endpoint=server,dir=$work/fp" -S
    check "-object tls-creds-x509 with $f a FIFO fails at once, naming it" \
        '[ $rc -eq 1 ] && said "$work/fp/$f: not a regular file (a FIFO)"'
done

# HMP object_add with such a dir: an error, and the main loop still answers
pki_with_fifo ca-cert.pem
rm -f "$work/hmp.sock"
bg hmp "$vmhost" -monitor "unix:$work/hmp.sock,server=on,wait=off" -S
wait_until "[ -S '$work/hmp.sock' ]"
printf 'object_add tls-creds-x509,id=t1,endpoint=server,dir=%s\ninfo status\n' \
    "$work/fp" | unix_talk "$work/hmp.sock" >"$work/out"
check "HMP object_add with a FIFO ca-cert.pem: refused naming it, monitor answers" \
    'said "fp/ca-cert.pem: not a regular file (a FIFO)" && said "VM status"'
stop "$last"

mkfifo "$work/conf.fifo"
run "$vmhost" --config "$work/conf.fifo" -S
check "vmhost --config FIFO fails at once, naming it" \
    '[ $rc -eq 1 ] && said "conf.fifo: not a regular file (a FIFO)"'
run env VMHOST_CONF="$work/conf.fifo" "$vmhost" -S
check "VMHOST_CONF=FIFO fails at once, naming it" \
    '[ $rc -eq 1 ] && said "conf.fifo: not a regular file (a FIFO)"'
run "$vmhost" --config /dev/zero -S
check "vmhost --config /dev/zero (a character device) is refused" \
    '[ $rc -eq 1 ] && said "/dev/zero: not a regular file (a character device)"'

# the migration target's file: and the -D log: never a blocking open()
mkfifo "$work/mig.fifo"
run "$vmhost" -incoming "file:$work/mig.fifo" -S
check "-incoming file:FIFO fails at once, naming it" \
    '[ $rc -eq 1 ] && said "mig.fifo: not a regular file (a FIFO)"'
run "$vmhost" -D "$work/mig.fifo" -S
check "-D FIFO with no reader fails at once, naming it" \
    '[ $rc -eq 1 ] && said "-D: cannot open .*mig.fifo: a FIFO with no reader"'

pki_with_fifo server-key.pem
run "$pki_tool" validate "$work/fp" --endpoint server
check "vmhost-pki validate: a FIFO key is a FAIL naming it, no hang" \
    '[ $rc -eq 1 ] && said "^FAIL.*fp/server-key.pem: not a regular file (a FIFO)"'

r="$work/root"
mkdir -p "$r/etc/crypto-policies/local.d"
run "$policy" --root "$r" update
check "vmhost-policy update in an empty root" '[ $rc -eq 0 ]'
mkfifo "$r/etc/crypto-policies/local.d/gnutls-FIFO.config"
for cmd in update check "app list"; do
    # shellcheck disable=SC2086
    run "$policy" --root "$r" $cmd
    check "vmhost-policy $cmd with a FIFO in local.d fails naming it" \
        '[ $rc -ne 0 ] && [ $rc -ne 124 ] && said "gnutls-FIFO.config: not a regular file (a FIFO)"'
done
rm "$r/etc/crypto-policies/local.d/gnutls-FIFO.config"
run "$policy" resolve --config "$work/conf.fifo"
check "vmhost-policy resolve --config FIFO fails naming it" \
    '[ $rc -ne 0 ] && [ $rc -ne 124 ] && said "conf.fifo: not a regular file (a FIFO)"'

# ---- item 8: NUL bytes in text ----
printf 'tls_priority = "NORMAL"\000garbage\n' >"$work/nul.conf"
run "$vmhost" --config "$work/nul.conf" -S
check "vmhost.conf with a NUL: refused naming file and line" \
    '[ $rc -eq 1 ] && said "nul.conf:1:24: .*a NUL byte"'
printf 'DEFAULT\000:garbage\n' >"$r/etc/crypto-policies/config"
run "$policy" --root "$r" update
check "policy config DEFAULT<NUL>:garbage: refused naming file and line" \
    '[ $rc -ne 0 ] && said "crypto-policies/config:1: a NUL byte"'
printf 'DEFAULT\n' >"$r/etc/crypto-policies/config"
printf 'VMHOST=NORMAL\000garbage\n' >"$r/etc/crypto-policies/local.d/gnutls-VMHOST.config"
run "$policy" --root "$r" update
check "local.d VMHOST=NORMAL<NUL>garbage: refused naming file and line" \
    '[ $rc -ne 0 ] && said "gnutls-VMHOST.config:1: a NUL byte" &&
     ! grep -q "^VMHOST" "$r/etc/crypto-policies/back-ends/gnutls.config"'
rm "$r/etc/crypto-policies/local.d/gnutls-VMHOST.config"
mkdir -p "$r/etc/crypto-policies/policies"
printf 'cipher = AES-256-GCM\n\000bogus_key = 1\n' >"$r/etc/crypto-policies/policies/MINE.pol"
run "$policy" --root "$r" generate MINE
check "a .pol file with a NUL before a bad key: refused naming file and line" \
    '[ $rc -ne 0 ] && said "MINE.pol:2: a NUL byte"'
printf '{"policy":"deny","rules":[{"match":"CN=a","policy":"allow"}]}\000junk' >"$work/rules.json"
run "$vmhost" -object "authz-list-file,id=a0,filename=$work/rules.json" -S
check "authz-list-file rules with a NUL: refused naming the file" \
    '[ $rc -eq 1 ] && said "rules.json:1: a NUL byte"'

# JSON option strings: \u0000 would cut "NORMAL\u0000:+VERS-TLS1.0" short
json='{"qom-type":"tls-creds-x509","id":"t0","endpoint":"server","dir":"'"$work/pki"'","priority":"NORMAL\u0000:+VERS-TLS1.0"}'
run "$vmhost" -object "$json" -S
check "-object JSON with \\u0000 in a string: refused, not cut short" \
    '[ $rc -eq 1 ] && said "NUL character (\\\\u0000)"'

# ---- item 7: a private key others can read ----
cp -a "$work/pki" "$work/wr"
chmod 644 "$work/wr/server-key.pem"
bg wr "$vmhost" -object "tls-creds-x509,id=t0,endpoint=server,dir=$work/wr" \
    -monitor "unix:$work/mon.sock,server=on,wait=off" -S
wait_until "[ -S '$work/mon.sock' ]"
printf 'info tls\n' | unix_talk "$work/mon.sock" >"$work/out"
check "world-readable key: vmhost starts and warns, naming the key" \
    'grep -q "warning: .*wr/server-key.pem is accessible by others (mode 0644)" "$work/wr.err"'
check "world-readable key: info tls shows the warning" \
    'said "warning: .*wr/server-key.pem is accessible by others"'
stop "$last"
run "$vmhost" -object "tls-creds-x509,id=t0,endpoint=server,dir=$work/wr,sanity-check=strict" -S
check "world-readable key with sanity-check=strict: refused" \
    '[ $rc -eq 1 ] && said "wr/server-key.pem is accessible by others (mode 0644)"'
rm -f "$work/mon.sock"
bg off "$vmhost" -object "tls-creds-x509,id=t0,endpoint=server,dir=$work/wr,sanity-check=off" \
    -monitor "unix:$work/mon.sock,server=on,wait=off" -S
wait_until "[ -S '$work/mon.sock' ]"
stop "$last"
check "sanity-check=off stays QEMU's: no permission check, no warning" \
    '! grep -q "accessible by others" "$work/off.err"'
