# Shell helpers for the TAP tests of the programs (sourced by
# tests/programs/*.sh, migration-lib.sh and tests/interop/test-interop-qemu.sh;
# a script in tests/programs finds it as "$(dirname "$0")/testlib.sh").
#
#   tl_start NAME    $work (a fresh temporary directory, vh-NAME.XXXXXX), the
#                    EXIT trap that kills and reaps every pid in $pids, closes
#                    descriptors 3 to 7 and removes $work (it first calls
#                    cleanup_more, which a script may redefine), and
#                    HUP/INT/PIPE/TERM traps that exit 1 through it.
#   ok/not_ok/check/skip   TAP lines, numbered in $n. not_ok prints $why (if
#                    set) and the last $log_lines lines of every file in
#                    $work matching a pattern in $log_files.
#   wait_until COND [TICKS]   COND polled every $wait_tick s, at most TICKS
#                    (default $wait_ticks) times.
#   free_port, bg, stop, unix_talk, make_pki, qmp_open/qmp/has: below.
#
# VMHOST_BUILDDIR names the build tree (meson's test environment sets it).
build=${VMHOST_BUILDDIR:?}
vmhost="$build/src/vmhost/vmhost"
pki_tool="$build/src/vmhost-pki/vmhost-pki"
stream="$build/src/vmhost-stream/vmhost-stream"
fdpass="$build/tests/programs/mig-fdpass"
pids=""
qid=0
why=""
log_files="*.err *.out *.log"
log_lines=40
wait_tick=0.05
wait_ticks=200

cleanup_more() { :; }
tl_cleanup() {
    exec 3>&- 4>&- 5>&- 6>&- 7>&- 2>/dev/null
    for p in $pids; do
        kill -KILL "$p" 2>/dev/null
    done
    for p in $pids; do
        wait "$p" 2>/dev/null
    done
    cleanup_more
    rm -rf "$work"
}
# tl_start NAME: see above.
tl_start() {
    work=$(mktemp -d "${TMPDIR:-/tmp}/vh-$1.XXXXXX") || {
        echo "Bail out! no temporary directory"
        exit 1
    }
    trap tl_cleanup EXIT
    trap 'exit 1' HUP INT PIPE TERM
}

n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
# not_ok TEXT: the failure and what the programs said.
not_ok() {
    n=$((n + 1))
    echo "not ok $n - $1"
    [ -n "$why" ] && echo "# $why"
    # the patterns expand in $work (in a subshell, so the cd stays there)
    (
        cd "$work" || exit
        for f in $log_files; do
            # awk ends every line, so a last line without a newline (an
            # HMP prompt) cannot swallow the next TAP line.
            [ -s "$f" ] && tail -n "$log_lines" "$f" |
                awk -v f="$f" '{ print "# " f ": " $0 }'
        done
    )
}
# check TEXT COND: ok if COND (eval'd; $? is still the caller's) holds.
check() {
    if eval "$2"; then ok "$1"; else not_ok "$1"; fi
    why=""
}
skip() { n=$((n + 1)); echo "ok $n # SKIP $1"; }

# wait_until COND [TICKS]: see above.
wait_until() {
    i=0
    while ! eval "$1"; do
        i=$((i + 1))
        [ "$i" -gt "${2:-$wait_ticks}" ] && return 1
        sleep "$wait_tick"
    done
}
free_port() { "$stream" free-port 127.0.0.1; }

# bg NAME PROG ARGS...: start in the background, output in $work/NAME.out
# and .err; $last is its pid.
bg() {
    name=$1
    shift
    "$@" >"$work/$name.out" 2>"$work/$name.err" &
    last=$!
    pids="$pids $last"
}
# stop PID [SIGNAL]: signal (default TERM) and reap; returns the exit status.
stop() {
    kill "-${2:-TERM}" "$1" 2>/dev/null
    wait "$1"
}

# lv_penv DIR [SUFFIX]: the env command that gives libvirtd or a client a
# private HOME/XDG tree under DIR (env execs, so a background job's pid is
# the program's own; each libvirtd needs its own runtime dir for its pidfile).
lv_penv() {
    echo "env HOME=$1/home${2:-} XDG_CONFIG_HOME=$1/home${2:-}/.config" \
        "XDG_CACHE_HOME=$1/home${2:-}/.cache XDG_RUNTIME_DIR=$1/run${2:-}" \
        "XDG_DATA_HOME=$1/home${2:-}/.local/share"
}

# lv_conf DIR PKI PORT DN: DIR/libvirtd.conf, a private config for Debian's
# libvirtd: TLS on 127.0.0.1:PORT with the libvirt-layout certificates in
# PKI, for the client DN only; its UNIX socket in DIR/run; no auth.
lv_conf() {
    cat >"$1/libvirtd.conf" <<EOC
listen_tls = 1
listen_tcp = 0
tls_port = "$3"
listen_addr = "127.0.0.1"
unix_sock_dir = "$1/run"
key_file = "$2/libvirt/private/serverkey.pem"
cert_file = "$2/libvirt/servercert.pem"
ca_file = "$2/CA/cacert.pem"
auth_tls = "none"
auth_unix_rw = "none"
auth_unix_ro = "none"
tls_allowed_dn_list = ["$4"]
EOC
}

# lv_start DIR: libvirtd with DIR/libvirtd.conf in the background (bg
# libvirtd), unprivileged: as nobody (setpriv, $as_user) when we are root,
# else as ourselves; $lvd is its pid. Waits for its UNIX socket (the TLS
# port is set up with it).
lv_start() {
    lv_dir=$1
    if [ "$(id -u)" -eq 0 ]; then
        # nobody must reach its files: $work is 0700 (mktemp)
        chmod 0711 "$work"
        chown -R nobody:nogroup "$lv_dir"
        as_user="setpriv --reuid=nobody --regid=nogroup --clear-groups"
    else
        as_user=""
    fi
    bg libvirtd $(lv_penv "$lv_dir") $as_user /usr/sbin/libvirtd --listen \
        -f "$lv_dir/libvirtd.conf"
    lvd=$last
    wait_until '[ -S "$lv_dir/run/libvirt-sock" ]' 400
}

# unix_talk SOCK: stdin's lines to the monitor or console on the UNIX socket
# SOCK; what comes back, CRs removed, on stdout (10 s at most).
unix_talk() {
    timeout 10 socat -t 1 - "UNIX-CONNECT:$1" | tr -d '\r'
}

# make_pki DIR [CLIENT-DN [INIT-CA OPTIONS...]]: a CA, a server certificate
# for localhost and 127.0.0.1 and, given CLIENT-DN, a client certificate, in
# DIR (created); bails out if vmhost-pki fails.
make_pki() {
    pdir=$1 pdn=${2:-}
    shift
    [ $# -gt 0 ] && shift
    {
        mkdir -p "$pdir" &&
            "$pki_tool" init-ca "$pdir" "$@" &&
            "$pki_tool" issue server "$pdir" --hostname localhost --ip 127.0.0.1 &&
            { [ -z "$pdn" ] || "$pki_tool" issue client "$pdir" --dn "$pdn"; }
    } >/dev/null || {
        echo "Bail out! vmhost-pki failed"
        exit 1
    }
}

# qmp_open NAME SOCK FD: a QMP session to the vmhost at SOCK, written
# through file descriptor FD (3 to 7), its output in $work/NAME.qout;
# capabilities negotiated.
qmp_open() {
    wait_until "[ -S '$2' ]" || return 1
    : >"$work/$1.qout"
    rm -f "$work/$1.fifo"
    mkfifo "$work/$1.fifo"
    socat -t 30 - "UNIX-CONNECT:$2" <"$work/$1.fifo" >"$work/$1.qout" \
        2>"$work/$1.socat.err" &
    pids="$pids $!"
    eval "exec $3>'$work/$1.fifo'"
    qmp "$1" "$3" qmp_capabilities '{}'
}
# qmp NAME FD CMD ARGS: run CMD in NAME's session, wait for its reply;
# $reply is that line.
qmp() {
    qid=$((qid + 1))
    printf '{"execute":"%s","arguments":%s,"id":%d}\n' "$3" "$4" "$qid" >&"$2"
    if wait_until "grep -Eq '\"id\":$qid[,}]' '$work/$1.qout'"; then
        reply=$(grep -E "\"id\":$qid[,}]" "$work/$1.qout")
    else
        reply="(no reply to $3)"
    fi
}
# has TEXT: $reply holds TEXT.
has() { printf '%s' "$reply" | grep -q "$1"; }
