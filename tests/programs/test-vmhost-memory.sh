#!/bin/sh
# vmhost guest RAM from memory backends (TAP): -object memory-backend-ram
# and memory-backend-file (share=on/off, a directory as mem-path),
# -machine memory-backend=ID with and without -m, prealloc=on and
# -mem-prealloc (checked in the process's resident set), and the errors.
# Every process is killed and reaped; $work is removed.
set -u
. "$(dirname "$0")/testlib.sh"
tl_start memory-test
log_files="*.err *.log"

# up NAME ARGS...: start vmhost, wait for its pidfile (written when ready);
# $last is its pid.
up() {
    name=$1
    shift
    rm -f "$work/$name.pid"
    "$vmhost" -D "$work/$name.log" -pidfile "$work/$name.pid" "$@" \
        </dev/null >/dev/null 2>"$work/$name.err" &
    last=$!
    pids="$pids $last"
    wait_until "[ -s '$work/$name.pid' ] || ! kill -0 $last 2>/dev/null"
}
# rss_kib PID
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
# fails NAME EXPECTED ARGS...: vmhost exits 1 with EXPECTED on stderr.
fails() {
    name=$1 expect=$2
    shift 2
    timeout 10 "$vmhost" "$@" </dev/null >/dev/null 2>"$work/err.txt"
    rc=$?
    if [ "$rc" -eq 1 ] && grep -qF -- "$expect" "$work/err.txt"; then
        ok "$name"
    else
        not_ok "$name (exit $rc: $(cat "$work/err.txt"))"
    fi
}
# console SOCK CMD: one command to the test guest's console.
console() {
    printf '%s\n' "$2" | unix_talk "$1" >/dev/null
}

echo "1..16"

up ram -object memory-backend-ram,id=m0,size=64M -machine memory-backend=m0
check "memory-backend-ram gives the machine its size without -m" \
    'grep -q "up: 64 MiB of RAM" "$work/ram.log"'
stop "$last"

up ram2 -m 64M -object memory-backend-ram,id=m0,size=64M \
    -machine pc,memory-backend=m0
check "-m agreeing with the backend's size, and a machine type" \
    'grep -q "up: 64 MiB of RAM" "$work/ram2.log"'
stop "$last"

# share=on: the guest's writes reach the file.
img="$work/ram.img"
up shared -object "memory-backend-file,id=m0,size=32M,mem-path=$img,share=on" \
    -machine memory-backend=m0 \
    -chardev "socket,id=c0,path=$work/con.sock,server=on,wait=off" \
    -serial chardev:c0
check "memory-backend-file creates mem-path at the size" \
    '[ "$(stat -c %s "$img")" -eq 33554432 ]'
console "$work/con.sock" "dirty 50 sequential"
sleep 0.5
console "$work/con.sock" "dirty off"
check "share=on: guest writes are in the file" \
    '[ "$(tr -d "\000" <"$img" | head -c 64 | wc -c)" -gt 0 ]'
stop "$last"

# share=off: a private mapping, the file keeps its zeros.
img2="$work/private.img"
up private -object "memory-backend-file,id=m0,size=32M,mem-path=$img2,share=off" \
    -machine memory-backend=m0 \
    -chardev "socket,id=c0,path=$work/con2.sock,server=on,wait=off" \
    -serial chardev:c0
console "$work/con2.sock" "dirty 50 sequential"
sleep 0.5
console "$work/con2.sock" "dirty off"
check "share=off: the file is untouched" \
    '[ "$(tr -d "\000" <"$img2" | head -c 64 | wc -c)" -eq 0 ]'
stop "$last"

# A directory: an unlinked temporary file in it.
mkdir "$work/dir"
up dir -object "memory-backend-file,id=m0,size=16M,mem-path=$work/dir" \
    -machine memory-backend=m0
check "mem-path a directory: runs, leaves no file behind" \
    'grep -q "up: 16 MiB of RAM" "$work/dir.log" && [ -z "$(ls "$work/dir")" ]'
stop "$last"

# Preallocation: the whole RAM is resident at once.
up lazy -m 96M
lazy=$(rss_kib "$last")
stop "$last"
up pre -m 96M -mem-prealloc
pre=$(rss_kib "$last")
stop "$last"
check "-mem-prealloc populates -m RAM (RSS ${lazy} KiB -> ${pre} KiB)" \
    '[ "$pre" -ge 98304 ] && [ "$lazy" -lt 98304 ]'
up bpre -object memory-backend-ram,id=m0,size=96M,prealloc=on \
    -machine memory-backend=m0
check "prealloc=on populates the backend" '[ "$(rss_kib "$last")" -ge 98304 ]'
stop "$last"
up bdef -mem-prealloc -object memory-backend-ram,id=m0,size=96M \
    -machine memory-backend=m0
check "-mem-prealloc makes prealloc=on the backends' default" \
    '[ "$(rss_kib "$last")" -ge 98304 ]'
stop "$last"

fails "-m disagreeing with the backend" \
    "Machine memory size does not match the size of the memory backend" \
    -m 128M -object memory-backend-ram,id=m0,size=64M -machine memory-backend=m0
fails "missing size" "-object: object 'm0': Parameter 'size' is missing" \
    -object memory-backend-ram,id=m0 -machine memory-backend=m0
fails "missing mem-path" "Parameter 'mem-path' is missing" \
    -object memory-backend-file,id=m0,size=16M -machine memory-backend=m0
fails "bad mem-path" \
    "cannot open memory backend file '$work/no/such/dir/f'" \
    -object "memory-backend-file,id=m0,size=16M,mem-path=$work/no/such/dir/f" \
    -machine memory-backend=m0
fails "size not page aligned" \
    "size 1000 is not a multiple of the page size (4096 bytes)" \
    -object memory-backend-ram,id=m0,size=1000 -machine memory-backend=m0
fails "id in use" "an object with id 'm0' already exists" \
    -object memory-backend-ram,id=m0,size=16M \
    -object memory-backend-ram,id=m0,size=16M
fails "unknown backend" "Memory backend 'nosuch' not found" \
    -machine memory-backend=nosuch
