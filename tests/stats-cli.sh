#!/bin/sh
# stats-cli.sh: `memprof stats` end to end on the fixture trees (no root,
# no Docker needed): the table like docker's, JSON lines with the pinned
# keys, selection by name, id prefix and cgroup path, and the errors.

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

on cgroup-v1-docker
t_run "$MEMPROF" stats --no-stream
t_expect_rc "table on the v1 Docker fixture" 0
t_expect_match "docker's header" out '^CONTAINER ID   NAME         CPU %     MEM USAGE / LIMIT   MEM %     NET I/O       BLOCK I/O   PIDS$'
t_expect_match "mp-net1 row in docker's units" out '^64a8fd0dde75   mp-net1      0\.00%     532KiB / 128MiB     0\.41%     1\.53kB / 0B   0B / 0B     2$'
t_expect_lines "one line per container and the header" out 4

t_run "$MEMPROF" stats --no-stream --format json
t_expect_rc "json on the v1 Docker fixture" 0
t_expect_lines "one object per container" out 3
t_expect_match "pinned keys in order" out '^\{"id":"[0-9a-f]{64}","name":"[^"]+","cgroup":"/docker/[0-9a-f]{64}","cpu_percent":[0-9.]+,"mem_usage_bytes":[0-9]+,"mem_limit_bytes":[0-9]+,"mem_percent":[0-9.]+,"net_rx_bytes":[0-9]+,"net_tx_bytes":[0-9]+,"block_read_bytes":[0-9]+,"block_write_bytes":[0-9]+,"pids":[0-9]+,'

t_run "$MEMPROF" stats --no-stream --format json mp-probe
t_expect_lines "a name selects one row" out 1
t_expect_match "the named row" out '"name":"mp-probe"'
t_run "$MEMPROF" stats --no-stream 64a8
t_expect_lines "a unique id prefix selects one row" out 2
t_expect_match "the row of the id prefix" out ' mp-net1 '
t_run "$MEMPROF" stats --no-stream 64
t_expect_rc "an ambiguous id prefix" 1
t_expect_match "ambiguous prefix message" err "^memprof: stats: '64' matches 2 containers; give more of the id$"
t_run "$MEMPROF" stats --no-stream nosuch
t_expect_rc "an unknown container" 1
t_expect_match "unknown container message" err '^memprof: stats: no such container: nosuch$'
t_run "$MEMPROF" stats --no-stream --no-trunc mp-probe
t_expect_match "--no-trunc shows the full id" out '^d472150c8f32630f4f82eb35ac21357bdaea3a7fb672eb2f5a7526f48ddcaf2e +mp-probe'

on cgroup-v2-systemd
t_run "$MEMPROF" stats --no-stream --all
t_expect_match "--all names systemd units" out '^- +nginx-proxy\.service +'
t_expect_match "web in docker's units" out '^3f2a9c1e5b7d   web +0\.00% +250MiB / 512MiB +48\.83% +1\.5MB / 250kB +4\.1MB / 8\.19MB +5$'
t_run "$MEMPROF" stats --no-stream --format json worker
t_expect_match "the slice's tighter limit is noted" out '"mem_parent_limit_bytes":268435456'
t_expect_match "PSI and OOM counters" out '"oom_events":2,"oom_kills":1,"mem_psi_some_avg10":1\.500'
t_run "$MEMPROF" stats --no-stream --all --format json /user.slice
t_expect_match "no figures read: null, not zero" out '"mem_usage_bytes":null'

on cgroup-v2-k8s
t_run "$MEMPROF" stats --no-stream
t_expect_match "Kubernetes pod/container names" out ' shop-api-7d9f8b6c5-x2k4q/api '
t_expect_match "the pod's sandbox" out ' shop-api-7d9f8b6c5-x2k4q/POD '

on cgroup-v2-podman
t_run "$MEMPROF" stats --no-stream --format json db
t_expect_match "Podman name and image" out '"name":"db".*"runtime":"podman","image":"docker.io/library/postgres:16"'

MEMPROF_CGROUP_ROOT=/nonexistent-$$ t_run "$MEMPROF" stats --no-stream
t_expect_rc "no cgroup tree" 1
t_expect_match "no cgroup tree message" err "^memprof: stats: /nonexistent-$$: No such file or directory$"

t_done
