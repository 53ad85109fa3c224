#!/bin/sh
# top-batch.sh: `memprof top --batch -n N` on the fixture trees (no root,
# no Docker): N frames of plain text, the header, every column with the
# figures docker would print (the same rows `memprof stats` shows), sort,
# filter and tree options, the cgroup-v2 layouts, and the errors: bad
# options exit 2 with one line, no terminal without --batch exits 1.

. "$(dirname "$0")/lib.sh"

[ -x "$MEMPROF" ] || { echo "memprof binary not built: $MEMPROF"; exit 99; }
FX=$MEMPROF_SRCDIR/tests/fixtures

# on FIXTURE: point every reader of the monitor at a fixture tree.
on() {
    MEMPROF_PROC_ROOT=$FX/$1/proc
    MEMPROF_CGROUP_ROOT=$FX/$1/sys/fs/cgroup
    MEMPROF_DOCKER_ROOT=$FX/$1/var/lib/docker
    MEMPROF_CONTAINERD_ROOT=$FX/$1/run/containerd
    MEMPROF_PODMAN_ROOT=$FX/$1/var/lib/containers/storage
    MEMPROF_DOCKER_SOCKET=
    export MEMPROF_PROC_ROOT MEMPROF_CGROUP_ROOT MEMPROF_DOCKER_ROOT \
        MEMPROF_CONTAINERD_ROOT MEMPROF_PODMAN_ROOT MEMPROF_DOCKER_SOCKET
}

# rows: the table rows of the last output (not headers, not blank lines).
rows() {
    printf '%s\n' "$T_OUT" | grep -Ev '^(memprof top - |Host: |NAME |$)'
}

on cgroup-v1-docker
t_run "$MEMPROF" top --batch -n 2 -d 0.1
t_expect_rc "batch on the v1 Docker fixture" 0
t_expect_match "header line" out '^memprof top - [0-9]{2}:[0-9]{2}:[0-9]{2} - cgroup hybrid - 3 containers$'
t_expect_match "host line from the fixture's /proc" out '^Host: CPU -- of 2 CPUs  Mem .* / 23\.54GiB \([0-9.]+%\)  Swap 0B / 0B$'
t_expect_match "column titles" out '^NAME +CONTAINER ID +CPU % +MEM USAGE +LIMIT +MEM % +SWAP +OOM +PSI +NET I/O +BLOCK I/O +PIDS$'
t_expect_match "mp-net1 as docker prints it, plus swap, OOM kills, PSI" out \
    '^mp-net1 +64a8fd0dde75 +0\.00% +532KiB +128MiB +0\.41% +0B +0 +0\.0 +1\.53kB / 0B +0B / 0B +2$'
t_expect_match "mp-fixture" out '^mp-fixture +64add2455855 +0\.00% +856KiB +64MiB +1\.31% '
n=$(printf '%s\n' "$T_OUT" | grep -c '^memprof top - ')
if [ "$n" -eq 2 ]; then t_ok "-n 2 prints two frames"; else t_fail "-n 2" "$n frames"; fi
t_expect_lines "two frames of 3 rows and 3 header lines, a blank line between" out 13
first=$(rows | head -3 | awk '{ print $1 }' | tr '\n' ' ')
if [ "$first" = "mp-fixture mp-probe mp-net1 " ]; then t_ok "sorted by memory, largest first"; else t_fail "default sort" "$first"; fi

# The same figures as `memprof stats` (docker's formulas) for every row.
stats=$("$MEMPROF" stats --no-stream 2>&1)
for name in mp-net1 mp-fixture mp-probe; do
    s=$(printf '%s\n' "$stats" | awk -v n="$name" '$2 == n { print $4, $6, $7 }')
    b=$(rows | awk -v n="$name" '$1 == n { print $4, $5, $6 }' | head -1)
    if [ -n "$s" ] && [ "$s" = "$b" ]; then t_ok "$name: usage, limit, MEM % as in stats ($b)"; else t_fail "$name vs stats" "top '$b', stats '$s'"; fi
done

t_run "$MEMPROF" top --batch -n 1 -d 0.1 --sort name
first=$(rows | awk '{ print $1 }' | tr '\n' ' ')
if [ "$first" = "mp-fixture mp-net1 mp-probe " ]; then t_ok "--sort name"; else t_fail "--sort name" "$first"; fi
t_run "$MEMPROF" top --batch -n 1 -d 0.1 -s limit
first=$(rows | awk '{ print $1 }' | tr '\n' ' ')
if [ "$first" = "mp-probe mp-net1 mp-fixture " ]; then t_ok "-s limit, largest first"; else t_fail "-s limit" "$first"; fi
t_run "$MEMPROF" top --batch -n 1 -d 0.1 --filter NET1
t_expect_match "filter keeps the match (any case)" out '^mp-net1 '
t_expect_match "header says 1 of 3" out ' - 1 container of 3$'
t_expect_lines "filter leaves one row" out 4

on cgroup-v2-systemd
t_run "$MEMPROF" top --batch -n 1 -d 0.1 --all --tree
t_expect_rc "batch --all --tree on pure v2 with systemd" 0
t_expect_match "v2 layout" out ' - cgroup v2 - 9 cgroups$'
t_expect_match "a slice at the root" out '^limited\.slice +- '
t_expect_match "its container indented under it, with OOM kills and PSI" out \
    '^  worker +9b8c7d6e5f4a +0\.00% +80MiB +.* +0B +1 +1\.5 +1\.5MB / 250kB +0B / 1kB +2$'
t_expect_match "three levels deep" out '^    session-2\.scope '
t_expect_match "unreadable cgroup: -- not 0" out '^user\.slice +- +-- +-- +-- +-- +-- +-- +-- +-- +-- +--$'
t_run "$MEMPROF" top --batch -n 1 -d 0.1
t_expect_match "containers only without --all" out ' - 2 containers$'

on cgroup-v2-k8s
t_run "$MEMPROF" top --batch -n 1 -d 0.1
t_expect_match "Kubernetes pod/container names" out '^shop-api-7d9f8b6c5-x2k4q/api +222222222222 '
on cgroup-v2-podman
t_run "$MEMPROF" top --batch -n 1 -d 0.1 -f postgres
t_expect_match "filter matches the image" out '^db +aaaaaaaa1111 .* 225MiB +1GiB +21\.97% '

# --- errors --------------------------------------------------------------
on cgroup-v1-docker
t_run "$MEMPROF" top --batch -n 0
t_expect_rc "-n 0" 2
t_expect_lines "one line" err 1
t_run "$MEMPROF" top --batch -s bogus
t_expect_rc "unknown sort column" 2
t_expect_match "names the column" err "^memprof: top: unknown sort column 'bogus' \(see 'memprof help top'\)$"
t_run "$MEMPROF" top --delay 0.01
t_expect_rc "a delay below 0.1 s" 2
t_run "$MEMPROF" top extra
t_expect_rc "an argument" 2
t_run "$MEMPROF" top -n 1
t_expect_rc "no terminal and no --batch" 1
t_expect_lines "says so in one line" err 1
t_expect_match "the message" err '^memprof: top: standard (output|input) is not a terminal; use --batch for plain text$'
MEMPROF_CGROUP_ROOT=/nonexistent-$$ t_run "$MEMPROF" top --batch -n 1
t_expect_rc "no cgroup tree" 1
t_expect_match "no cgroup tree message" err "^memprof: top: /nonexistent-$$: No such file or directory$"
# A closed stdout ends the batch with an error, not a hang.
"$MEMPROF" top --batch -d 0.1 2>"$T_TMP/err" | head -1 >/dev/null
rc=$?
if [ "$rc" -eq 0 ]; then t_ok "a closed pipe ends an endless batch"; else t_fail "closed pipe" "$rc"; fi

t_done
