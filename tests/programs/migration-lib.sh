# Shell helpers for the migration tests (sourced by test-migration.sh and
# test-migration-netns.sh, which then call tl_start): testlib.sh (TAP,
# $work and the cleanup trap, wait_until) with 100 ms ticks, HMP/QMP over
# UNIX sockets (one command per connection: these hmp and qmp replace
# testlib's session qmp), starting vmhost machines with both monitors, and
# the checks every migration gets. The caller sets $mem, and adds every
# process it starts to $pids so that the EXIT trap kills and reaps it.
# VM_WRAP, if set, is a command prefix for the next vm (e.g. "ip netns exec NS").
. "$(dirname "$0")/testlib.sh"
# not_ok shows $why (set by the checks below) and the machines' logs.
log_files="*.err *.log *.hmp.out"
log_lines=15
# wait_until COND [TENTHS]: up to TENTHS/10 s (default 10 s).
wait_tick=0.1
wait_ticks=100

# ---- monitors ----
# hmp NAME CMD...: each CMD a line to NAME's HMP monitor; prints the
# replies (CRs and terminal escapes removed). The monitor closes the
# connection once it has answered every line it read before our EOF, so a
# quick reply costs no wait; socat's -t only bounds how long a slow one (a
# `guest verify` of a large guest under ASan) may take, and must not cut it.
hmp() {
    sock="$work/$1.hmp"
    shift
    printf '%s\n' "$@" | timeout 25 socat -t 20 - "UNIX-CONNECT:$sock" 2>/dev/null |
        tr -d '\r' | sed 's/\x1b\[[0-9;]*[A-Za-z]//g; s/^(vmhost) //' |
        tee -a "$work/hmp.log"
}
# qmp NAME COMMAND [ARGUMENTS-JSON]: the reply line.
qmp() {
    if [ $# -ge 3 ]; then
        c="{\"execute\":\"$2\",\"arguments\":$3}"
    else
        c="{\"execute\":\"$2\"}"
    fi
    printf '{"execute":"qmp_capabilities"}\n%s\n' "$c" |
        timeout 25 socat -t 20 - "UNIX-CONNECT:$work/$1.qmp" 2>/dev/null |
        tr -d '\r' | grep '"return"\|"error"' | tail -n 1
}
json_str() {
    printf '%s' "$1" | grep -o "\"$2\": *\"[^\"]*\"" | head -n 1 |
        sed 's/.*: *"//; s/"$//'
}
json_num() {
    printf '%s' "$1" | grep -o "\"$2\": *[0-9]*" | head -n 1 | sed 's/.*: *//'
}
# mstatus NAME: query-migrate's status ("gone" if the process has ended).
mstatus() {
    r=$(qmp "$1" query-migrate)
    if [ -z "$r" ]; then echo gone; else json_str "$r" status; fi
}
# merror NAME: query-migrate's error-desc.
merror() { json_str "$(qmp "$1" query-migrate)" error-desc; }
# rstate NAME: the run state (query-status), "gone" if it has ended.
rstate() {
    r=$(qmp "$1" query-status)
    if [ -z "$r" ]; then echo gone; else json_str "$r" status; fi
}
# wait_mig NAME "STATUS..." [TENTHS]: until query-migrate says one of them
# (default 30 s); prints the status.
wait_mig() {
    i=0
    while :; do
        st=$(mstatus "$1")
        case " $2 " in *" $st "*)
            echo "$st"
            return 0
            ;;
        esac
        i=$((i + 1))
        if [ "$i" -gt "${3:-300}" ]; then
            echo "$st"
            return 1
        fi
        sleep 0.1
    done
}
guest() { hmp "$1" "guest $2" | grep "^$3" | head -n 1; }
verify_ok() { guest "$1" verify 'verify:' | grep -q '^verify: ok'; }
checksum() { guest "$1" checksum 'checksum:'; }

# vm NAME ARGS...: start vmhost with HMP and QMP monitors on UNIX sockets;
# waits until QMP answers. $NAME_pid (via pid NAME) is its pid.
vm() {
    name=$1
    shift
    rm -f "$work/$name.hmp" "$work/$name.qmp" "$work/$name.pid"
    # shellcheck disable=SC2086
    ${VM_WRAP:-} "$vmhost" -name "$name" -nodefaults -m "$mem" "$@" \
        -monitor "unix:$work/$name.hmp,server,nowait" \
        -qmp "unix:$work/$name.qmp,server,nowait" \
        -pidfile "$work/$name.pid" -D "$work/$name.log" \
        >>"$work/$name.out" 2>>"$work/$name.err" &
    p=$!
    pids="$pids $p"
    echo "$p" >"$work/$name.pid0"
    wait_until '[ -n "$(qmp "$name" query-status)" ] || ! kill -0 $p 2>/dev/null' 150
}
pid() { cat "$work/$1.pid0"; }
alive() { kill -0 "$(pid "$1")" 2>/dev/null; }
# gone NAME: end it as an operator would (SIGTERM; sanitizer builds then
# run their exit checks), SIGKILL if it is still there after 10 s; reap it.
gone() {
    p=$(pid "$1")
    kill -TERM "$p" 2>/dev/null
    i=0
    while kill -0 "$p" 2>/dev/null && [ "$i" -lt 100 ]; do
        i=$((i + 1))
        sleep 0.1
    done
    # A vmhost that needs SIGKILL has a shutdown bug: remember it for
    # all_exited_on_sigterm.
    if kill -KILL "$p" 2>/dev/null; then
        echo "# $1 (pid $p) did not exit within 10 s of SIGTERM"
        stuck="$stuck $1"
    fi
    wait "$p" 2>/dev/null
    return 0
}
stuck=""
# all_exited_on_sigterm: every machine stopped by gone() exited by itself.
all_exited_on_sigterm() { [ -z "$stuck" ]; }
# sanitizer_clean: no AddressSanitizer/LeakSanitizer/UBSan report in any
# machine's stderr (they are appended to across runs of the same name).
sanitizer_clean() {
    ! grep -l "AddressSanitizer\|LeakSanitizer\|runtime error:" "$work"/*.err 2>/dev/null
}
free_port6() { "$stream" free-port "[::1]"; }

# fill NAME: the guest rewrites part of its RAM once, so that RAM is not
# all zero pages.
fill() {
    hmp "$1" "guest dirty 2G sequential" >/dev/null
    sleep 0.2
    hmp "$1" "guest dirty off" >/dev/null
}

# ---- one migration and its checks ----
# migrated SRC DST: the source completed and is in postmigrate, the target
# runs (or waits in prelaunch if started with -S), its guest verifies, and
# its checksum equals the source's (the source's RAM is frozen by then).
migrated() {
    st=$(wait_mig "$1" "completed failed cancelled" 300)
    if [ "$st" != completed ]; then
        why="source status $st: $(merror "$1")"
        return 1
    fi
    rs=$(rstate "$1")
    [ "$rs" = postmigrate ] || {
        why="source run state $rs"
        return 1
    }
    tgt=$2
    wait_until 'case "$(rstate "$tgt")" in running | prelaunch | paused) true ;; *) false ;; esac' 100 || {
        why="target run state $(rstate "$tgt")"
        return 1
    }
    a=$(checksum "$1") b=$(checksum "$2")
    [ -n "$a" ] && [ "$a" = "$b" ] || {
        why="checksums: source '$a', target '$b'"
        return 1
    }
    verify_ok "$2" || {
        why="target: $(guest "$2" verify verify:)"
        return 1
    }
}
# intact NAME: the source runs on, its guest verifies.
intact() {
    rs=$(rstate "$1")
    [ "$rs" = running ] || {
        why="source run state '$rs' (want running)"
        return 1
    }
    verify_ok "$1" || {
        why="source: $(guest "$1" verify verify:)"
        return 1
    }
}
# not_started NAME: the target is not running a guest (it ended, or it
# stays in inmigrate/a failed incoming state).
not_started() {
    rs=$(rstate "$1")
    case "$rs" in
    running | postmigrate)
        why="target run state '$rs'"
        return 1
        ;;
    esac
    return 0
}
both_gone() {
    for v in "$@"; do gone "$v"; done
}

# ---- two hosts ----
# netns_pair: the namespaces $ns_src and $ns_dst joined by the veth pair
# $veth_src / $veth_dst, with $src_ip / $dst_ip (/24) and, where the
# caller set them, $src_ip6 / $dst_ip6 (/64). Where that cannot be done
# (not root, no ip(8), no veth) the whole test is skipped with the reason,
# through the caller's skip_all. The caller's cleanup_more deletes them.
netns_pair() {
    [ "$(id -u)" = 0 ] || skip_all "not root"
    command -v ip >/dev/null || skip_all "no ip(8)"
    for ns in "$ns_src" "$ns_dst"; do
        ip netns add "$ns" 2>"$work/ns.err" ||
            skip_all "ip netns add failed: $(cat "$work/ns.err")"
    done
    netns_link 2>"$work/ns.err" ||
        skip_all "cannot join the namespaces with a veth pair: $(cat "$work/ns.err")"
}
netns_link() {
    ip link add "$veth_src" netns "$ns_src" type veth peer name "$veth_dst" \
        netns "$ns_dst" || return 1
    for side in src dst; do
        eval "ns=\$ns_$side dev=\$veth_$side ip4=\$${side}_ip ip6=\${${side}_ip6:-}"
        ip -n "$ns" link set lo up &&
            ip -n "$ns" addr add "$ip4/24" dev "$dev" || return 1
        if [ -n "$ip6" ]; then
            ip -n "$ns" addr add "$ip6/64" dev "$dev" nodad || return 1
        fi
        ip -n "$ns" link set "$dev" up || return 1
    done
}
