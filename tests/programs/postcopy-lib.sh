# Shell helpers for the post-copy tests (sourced after migration-lib.sh and
# tl_start by test-migration-postcopy.sh and -recovery.sh): the
# userfaultfd check, a source/target pair over TLS whose guest writes
# faster than pre-copy may carry, and the checks of a finished post-copy.
# The caller makes the certificates in $pki first.

# pc_need_uffd: skip the whole test where userfaultfd is not ours to use.
pc_need_uffd() {
    if [ "$(id -u)" != 0 ] &&
        [ "$(cat /proc/sys/vm/unprivileged_userfaultfd 2>/dev/null)" != 1 ]; then
        echo "1..0 # SKIP userfaultfd needs root or vm.unprivileged_userfaultfd=1"
        exit 0
    fi
}

tls_src="tls-creds-x509,id=tls0,endpoint=client,dir=$pki"
tls_dst="tls-creds-x509,id=tls0,endpoint=server,dir=$pki"
tls_on="migrate_set_parameter tls-creds tls0"
pc_on="migrate_set_capability postcopy-ram on"
# 10 MiB/s of link against a guest writing 60 MiB/s: pre-copy cannot end.
slow="migrate_set_parameter max-bandwidth 10M"

# pair [SRC-ARGS] -- [DST-ARGS]: a running source "src" with TLS
# credentials (RAM written once, then a random 60 MiB/s writer) and a
# target "dst" waiting with -incoming defer.
pair() {
    sa="" da="" side=src
    for a in "$@"; do
        if [ "$a" = -- ]; then side=dst; continue; fi
        if [ $side = src ]; then sa="$sa $a"; else da="$da $a"; fi
    done
    # shellcheck disable=SC2086
    vm src -object "$tls_src" $sa
    # shellcheck disable=SC2086
    vm dst -incoming defer -object "$tls_dst" $da
    fill src
    hmp src "guest dirty 60M random" >/dev/null
}
# pages_written NAME: the test guest's count of pages written.
pages_written() { guest "$1" status 'pages written:' | sed 's/.*: //'; }
# postcopied SRC DST: both completed, the source in postmigrate, the
# target's guest running and verifying.
postcopied() {
    st=$(wait_mig "$1" "completed failed cancelled" 600)
    [ "$st" = completed ] || {
        why="source status $st: $(merror "$1")"
        return 1
    }
    st=$(wait_mig "$2" "completed failed" 300)
    [ "$st" = completed ] || {
        why="target status $st: $(merror "$2")"
        return 1
    }
    rs=$(rstate "$1")
    [ "$rs" = postmigrate ] || {
        why="source run state $rs"
        return 1
    }
    rs=$(rstate "$2")
    [ "$rs" = running ] || {
        why="target run state $rs"
        return 1
    }
    # A page the target never got (or kept stale) is a loss even where
    # verify cannot see it (a page that should be zero).
    lost=$(grep -hs -e 'never received' -e 'stale pages' "$work/$2.log" "$work/$2.err" | head -n 1)
    [ -z "$lost" ] || {
        why="target: $lost"
        return 1
    }
    hmp "$2" "guest dirty off" >/dev/null
    verify_ok "$2" || {
        why="target: $(guest "$2" verify verify:)"
        return 1
    }
}
