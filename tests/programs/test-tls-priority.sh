#!/bin/sh
# Per-application TLS priority end to end (TAP): the seed's local.d scenario
# in a temporary crypto-policies root managed by vmhost-policy, a vmhost TLS
# chardev server, and gnutls-cli / gnutls-serv as the other application.
#   (1) no app entry: a TLS 1.2-only client connects to vmhost;
#   (2) app set VMHOST (TLS 1.3 only): the restarted vmhost refuses that
#       client, while gnutls-cli <-> gnutls-serv with @SYSTEM still agree
#       on TLS 1.2 (gnutls-serv binds every address: it runs in a private
#       network namespace);
#   (3) tls_priority in vmhost.conf overrides the app entry;
#   (4) a creds object's priority= overrides all;
#   (5) no back-end file: vmhost's baseline and one warning; strict refuses;
#       and a testssl.sh scan of that port: nothing below TLS 1.2, no CBC,
#       3DES or RC4 suite (VH_TESTSSL_FULL=1: testssl's full default scan,
#       for make soak).
# Plus the vmhost.conf rules (--config, VMHOST_CONF, errors). Every vmhost
# listens on 127.0.0.1; every process is killed and reaped; $work is
# removed.
set -u
. "$(dirname "$0")/testlib.sh"
tl_start tls-prio-test
policy="$build/src/vmhost-policy/vmhost-policy"
pki="$work/pki"
root="$work/root"
backend="$root/etc/crypto-policies/back-ends/gnutls.config"
log_files="*.err *.out *.info"

# Both vmhost and the other application read this file, as on a host
# whose GnuTLS was built to read the crypto-policies back-end.
GNUTLS_SYSTEM_PRIORITY_FILE=$backend
export GNUTLS_SYSTEM_PRIORITY_FILE
unset VMHOST_CONF

# start NAME [vmhost options]: a vmhost with a TLS chardev server on $port
# (creds tls0, extra creds options in $creds_extra) and an HMP monitor;
# waits until it is ready. $vm is its pid; returns non-zero if it exited.
start() {
    name=$1
    shift
    port=$(free_port)
    rm -f "$work/$name.pid" "$work/$name.sock"
    "$vmhost" "$@" \
        -object "tls-creds-x509,id=tls0,endpoint=server,dir=$pki,verify-peer=off$creds_extra" \
        -chardev "socket,id=s0,host=127.0.0.1,port=$port,tls-creds=tls0,server=on,wait=off" \
        -device isa-serial,chardev=s0 \
        -monitor "unix:$work/$name.sock,server,nowait" -nographic \
        -pidfile "$work/$name.pid" >"$work/$name.out" 2>"$work/$name.err" &
    vm=$!
    pids="$pids $vm"
    wait_until "[ -s '$work/$name.pid' ] || ! kill -0 $vm 2>/dev/null"
    [ -s "$work/$name.pid" ]
}
# info NAME: HMP "info tls" into $work/NAME.info.
info() {
    echo "info tls" | unix_talk "$work/$1.sock" >"$work/$1.info"
}
# connects PRIORITY [PORT]: a gnutls-cli handshake with vmhost succeeds;
# the session description is left in $work/cli.out.
connects() {
    timeout 10 gnutls-cli --priority "$1" -p "${2:-$port}" \
        --x509cafile="$pki/ca-cert.pem" 127.0.0.1 </dev/null \
        >"$work/cli.out" 2>&1 &&
        grep -q "Handshake was completed" "$work/cli.out"
}
tls12="NORMAL:-VERS-ALL:+VERS-TLS1.2"
tls13="NORMAL:-VERS-ALL:+VERS-TLS1.3"
creds_extra=""

plan=41
[ "${VH_TESTSSL_FULL:-0}" = 1 ] && plan=42
echo "1..$plan"
make_pki "$pki"
[ -x "$policy" ] || {
    echo "Bail out! $policy is not built"
    exit 1
}

# ---- (1) a policy, no app entry: @VMHOST,SYSTEM falls back to SYSTEM ----
"$policy" --root "$root" set DEFAULT >"$work/policy.out" 2>&1
check "vmhost-policy set DEFAULT writes the back-end" '[ -s "$backend" ]'
start one
check "(1) vmhost starts with the DEFAULT policy" '[ -s "$work/one.pid" ]'
check "(1) a TLS 1.2-only client connects" 'connects "$tls12"'
check "(1) ... and negotiates TLS 1.2" 'grep -q "(TLS1.2" "$work/cli.out"'
info one
check "(1) info tls: the build default, resolved by the SYSTEM entry" \
    'grep -q "requested @VMHOST,SYSTEM: keyword SYSTEM in $backend" "$work/one.info" &&
     grep -q "priority=@VMHOST,SYSTEM (default)" "$work/one.info"'
check "(1) no warning about the priority" '! grep -q "priority" "$work/one.err"'
stop "$vm"

# ---- (2) the seed's local.d entry: vmhost TLS 1.3 only ----
"$policy" --root "$root" app set VMHOST "$tls13" >"$work/policy.out" 2>&1
check "(2) vmhost-policy app set VMHOST writes local.d and the back-end" \
    '[ -f "$root/etc/crypto-policies/local.d/gnutls-VMHOST.config" ] &&
     grep -q "^VMHOST=$tls13\$" "$backend"'
start two
check "(2) the restarted vmhost refuses the TLS 1.2-only client" \
    '! connects "$tls12"'
check "(2) ... and its log says why" \
    'wait_until "grep -q \"TLS handshake with 127.0.0.1:[0-9]* refused\" \"$work/two.err\""'
check "(2) a TLS 1.3 client still connects" 'connects "$tls13"'
info two
check "(2) info tls: keyword VMHOST" \
    'grep -q "requested @VMHOST,SYSTEM: keyword VMHOST in $backend" "$work/two.info"'
stop "$vm"
# The other application: gnutls-serv and gnutls-cli asking for @SYSTEM.
other_app() {
    timeout 30 unshare -n sh -c '
        ip link set lo up || exit 3
        gnutls-serv --priority @SYSTEM -p 5556 --echo \
            --x509certfile="$1/server-cert.pem" \
            --x509keyfile="$1/server-key.pem" >/dev/null 2>&1 &
        serv=$!
        rc=1
        for i in $(seq 50); do
            if gnutls-cli --priority "@SYSTEM:-VERS-TLS1.3" -p 5556 \
                --x509cafile="$1/ca-cert.pem" 127.0.0.1 </dev/null \
                >"$2" 2>&1; then
                rc=0
                break
            fi
            sleep 0.1
        done
        kill $serv
        wait $serv
        exit $rc' sh "$pki" "$work/other.out"
}
if unshare -n true 2>/dev/null; then
    check "(2) the other app: gnutls-cli <-> gnutls-serv with @SYSTEM still use TLS 1.2" \
        'other_app && grep -q "Handshake was completed" "$work/other.out" &&
         grep -q "(TLS1.2" "$work/other.out"'
else
    skip "(2) the other app: no network namespace for gnutls-serv here"
fi

# ---- (3) tls_priority in vmhost.conf overrides the app entry ----
cat >"$work/tls12.conf" <<EOF
# vmhost.conf: this host's vmhost speaks TLS 1.2 only
tls_priority = "$tls12"
EOF
start three --config "$work/tls12.conf"
check "(3) with tls_priority = TLS 1.2 only, the TLS 1.2 client connects" \
    'connects "$tls12"'
check "(3) ... and the TLS 1.3-only client is refused" '! connects "$tls13"'
info three
check "(3) info tls: source config" \
    'grep -q "priority=$tls12 (config)" "$work/three.info"'
stop "$vm"
VMHOST_CONF="$work/tls12.conf"
export VMHOST_CONF
start three_env
check "(3) VMHOST_CONF names the file when --config does not" \
    'connects "$tls12"'
stop "$vm"
start three_cli --config /dev/null
check "(3) --config wins over VMHOST_CONF" '! connects "$tls12"'
stop "$vm"
unset VMHOST_CONF

# ---- (4) priority= on the creds object overrides all ----
creds_extra=",priority=$tls13"
start four --config "$work/tls12.conf"
check "(4) priority= TLS 1.3 beats tls_priority TLS 1.2: 1.2 refused" \
    '! connects "$tls12"'
check "(4) ... 1.3 connects" 'connects "$tls13"'
info four
check "(4) info tls: source object" \
    'grep -q "priority=$tls13 (object)" "$work/four.info"'
stop "$vm"
creds_extra=""

# ---- (5) no back-end file: the baseline ----
rm -f "$backend"
start five
check "(5) without a back-end vmhost still starts" '[ -s "$work/five.pid" ]'
check "(5) one warning names the file, the keywords and the baseline" \
    '[ "$(grep -c "using vmhost.s baseline" "$work/five.err")" = 1 ] &&
     grep -q "TLS priority @VMHOST,SYSTEM: $backend: no such file (looked for VMHOST, SYSTEM); using vmhost.s baseline NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:" "$work/five.err"'
check "(5) a TLS 1.2 AEAD client connects" 'connects "$tls12"'
check "(5) ... with AES-GCM first" 'grep -q "(AES-256-GCM)" "$work/cli.out"'
check "(5) a client preferring ChaCha20 still gets AES-GCM (server order)" \
    'connects "NORMAL:-CIPHER-ALL:+CHACHA20-POLY1305:+AES-256-GCM:+AES-128-GCM" &&
     grep -q "(AES-256-GCM)" "$work/cli.out"'
check "(5) a TLS 1.2 CBC-only client is refused" \
    '! connects "$tls12:-CIPHER-ALL:+AES-128-CBC:+AES-256-CBC:-MAC-ALL:+SHA1:+SHA256"'
check "(5) a TLS 1.1 client is refused" \
    '! connects "NORMAL:-VERS-ALL:+VERS-TLS1.1"'
info five
check "(5) info tls: baseline, and why" \
    'grep -q "requested @VMHOST,SYSTEM: baseline ($backend: no such file" "$work/five.info"'
stop "$vm"
printf 'tls_priority_strict = 1\n' >"$work/strict.conf"
timeout 10 "$vmhost" --config "$work/strict.conf" \
    -object "tls-creds-x509,id=tls0,endpoint=server,dir=$pki" \
    >"$work/strict.out" 2>"$work/strict.err"
rc=$?
check "(5) tls_priority_strict = 1 refuses to start (exit 1)" '[ $rc = 1 ]'
check "(5) ... naming the string, the file and the setting" \
    'grep -q "Failed to set TLS session priority to @VMHOST,SYSTEM: $backend: no such file (looked for VMHOST, SYSTEM), and tls_priority_strict forbids" "$work/strict.err"'

# ---- the vmhost.conf rules ----
timeout 10 "$vmhost" --config "$work/missing.conf" >"$work/cfg.out" \
    2>"$work/cfg.err"
rc=$?
check "a missing --config file is an error naming it" \
    '[ $rc = 1 ] && grep -q "Cannot read config file $work/missing.conf: No such file" "$work/cfg.err"'
VMHOST_CONF="$work/missing.conf" timeout 10 "$vmhost" -S >"$work/cfg.out" \
    2>"$work/cfg.err" </dev/null
rc=$?
check "a missing VMHOST_CONF file is an error" '[ $rc = 1 ]'
printf 'tls_priority = "NORMAL"\ntls_prority = "x"\n' >"$work/typo.conf"
timeout 10 "$vmhost" --config "$work/typo.conf" >"$work/cfg.out" \
    2>"$work/cfg.err"
check "an unknown key names file and line" \
    'grep -q "$work/typo.conf:2: unknown key .tls_prority." "$work/cfg.err"'
printf 'tls_priority = NORMAL\n' >"$work/syntax.conf"
timeout 10 "$vmhost" --config "$work/syntax.conf" >"$work/cfg.out" \
    2>"$work/cfg.err"
check "a syntax error names file, line and column" \
    'grep -q "$work/syntax.conf:1:16: expected a value" "$work/cfg.err"'
printf 'tls_priority = "NORMAL:-VERS-TLS9"\n' >"$work/bad.conf"
timeout 10 "$vmhost" --config "$work/bad.conf" \
    -object "tls-creds-x509,id=tls0,endpoint=server,dir=$pki" \
    >"$work/cfg.out" 2>"$work/cfg.err"
check "a bad tls_priority fails when the creds object is created" \
    'grep -q "Failed to set TLS session priority to NORMAL:-VERS-TLS9: The request is invalid at .VERS-TLS9." "$work/cfg.err"'
"$stream" --config "$work/missing.conf" free-port 127.0.0.1 \
    >"$work/cfg.out" 2>"$work/cfg.err"
check "vmhost-stream --config follows the same rules" \
    'grep -q "Cannot read config file $work/missing.conf" "$work/cfg.err"'

# ---- testssl.sh on a default-configured port of a host without a policy ----
if command -v testssl >/dev/null && command -v jq >/dev/null; then
    start scan
    if [ "${VH_TESTSSL_FULL:-0}" = 1 ]; then
        checks="--full -e"
    else
        checks="-p -s -e"
    fi
    # shellcheck disable=SC2086
    timeout 900 testssl --quiet --color 0 --warnings off $checks \
        --jsonfile "$work/scan.json" "127.0.0.1:$port" >"$work/scan.log" 2>&1
    finding() { jq -r ".[] | select(.id == \"$1\") | .finding" "$work/scan.json"; }
    check "testssl: SSLv2, SSLv3, TLS 1.0 and 1.1 not offered" \
        '[ "$(finding SSLv2)$(finding SSLv3)$(finding TLS1)$(finding TLS1_1)" = "not offerednot offerednot offerednot offered" ]'
    check "testssl: TLS 1.2 and 1.3 offered" \
        '[ "$(finding TLS1_2)" = offered ] && finding TLS1_3 | grep -q "^offered"'
    check "testssl: no 3DES, LOW (RC4, DES) or obsolete CBC cipher list" \
        '[ "$(finding cipherlist_3DES_IDEA)$(finding cipherlist_LOW)$(finding cipherlist_AVERAGE)" = "not offerednot offerednot offered" ]'
    if [ "${VH_TESTSSL_FULL:-0}" = 1 ]; then
        # The test's own PKI has no CRL, OCSP or trusted root: not judged.
        check "testssl full scan: no HIGH or CRITICAL finding outside the certificate" \
            '[ -z "$(jq -r ".[] | select((.severity == \"HIGH\" or .severity == \"CRITICAL\") and (.id | startswith(\"cert_\") | not)) | .id" "$work/scan.json")" ]'
    fi
    check "testssl: every suite offered is AEAD (GCM, CCM, ChaCha20)" \
        'jq -r ".[] | select(.id | startswith(\"cipher_x\")) | .finding" "$work/scan.json" >"$work/suites" &&
         grep -q "_GCM_" "$work/suites" &&
         ! grep -Eq "_CBC_|3DES|_DES_|RC4|NULL" "$work/suites"'
    stop "$vm"
else
    for t in protocols versions ciphers suites; do
        skip "testssl: testssl or jq not installed ($t)"
    done
fi

# Under ASan/UBSan (make asan) a report goes to stderr; vmhost's exit
# status is not checked after SIGTERM, so look for one here.
check "no sanitizer report from any program run" \
    '! grep -l "Sanitizer\|runtime error:" "$work"/*.err'
