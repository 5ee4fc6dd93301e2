#!/usr/bin/env bats
# berth-runtime driven by the real engines that drive runc: podman (through
# conmon), dockerd (through its containerd and containerd-shim-runc-v2) and
# containerd (ctr). Each engine runs with private state under one temp dir
# and is stopped, by the pid we started, in teardown_file. No registry is
# reachable here: the image is a busybox rootfs imported locally. Containers
# get no network (--network none, or none configured for ctr).
#
# Run: cd /work/main && ninja -C build && bats tests/system/runtime-peers.bats

bats_require_minimum_version 1.5.0

load helpers
load peers/lib

# The docker.io CLI matching dockerd 20.10 (/usr/local/bin/docker may be newer).
DOCKER_CLI=${DOCKER_CLI:-/usr/bin/docker}

# podman's default seccomp profile (with Debian's default capabilities) is
# refused by berth-runtime (see the "default seccomp profile" test); the
# other podman tests opt out of seccomp so they test everything else.
PODMAN_OPTS=(--network none --security-opt seccomp=unconfined)
DOCKER_OPTS=(--runtime berth --network none)

setup_file() {
  [ -x "$RUNTIME" ] || { echo "build berth first: $RUNTIME missing" >&2; return 1; }
  PEER_TMP=$(mktemp -d /tmp/berth-peers.XXXXXX)
  export PEER_TMP
  peer_globals_snapshot
  BUSYBOX_ROOTFS=$PEER_TMP/rootfs ensure_busybox_rootfs
  tar -C "$PEER_TMP/rootfs" -cf "$PEER_TMP/rootfs.tar" .
  # The daemons start in the background and come up together.
  dockerd_setup && touch "$PEER_TMP/dockerd.started"
  containerd_setup && touch "$PEER_TMP/containerd.started"
  podman_setup && touch "$PEER_TMP/podman.ok"
  [ -f "$PEER_TMP/dockerd.started" ] && dockerd_wait && touch "$PEER_TMP/dockerd.ok"
  [ -f "$PEER_TMP/containerd.started" ] && containerd_wait && touch "$PEER_TMP/containerd.ok"
  return 0
}

teardown_file() {
  [ -n "$PEER_TMP" ] && [ -d "$PEER_TMP" ] || return 0
  podman_teardown
  dockerd_teardown
  containerd_teardown
  peer_umount_all
  peer_globals_cleanup
  rm -rf "$PEER_TMP"
}

# peer_require NAME: skip when the engine is not installed; fail, pointing at
# its log, when it is installed but did not come up.
peer_require() {
  [ -f "$PEER_TMP/$1.ok" ] && return 0
  case $1 in
    podman) command -v podman >/dev/null && command -v conmon >/dev/null || skip "podman/conmon not installed" ;;
    dockerd) command -v dockerd >/dev/null && [ -x "$DOCKER_CLI" ] || skip "dockerd not installed" ;;
    containerd) command -v containerd >/dev/null || skip "containerd not installed" ;;
  esac
  echo "$1 did not start; see $PEER_TMP/$1"
  return 1
}

# ---- podman ----------------------------------------------------------------

@test "podman: run --rm prints output and propagates the exit code" {
  peer_require podman
  run --separate-stderr podman_cmd run --rm "${PODMAN_OPTS[@]}" localhost/bb echo hi
  [ "$status" -eq 0 ]
  [ "$output" = hi ]
  run podman_cmd run --rm "${PODMAN_OPTS[@]}" localhost/bb sh -c 'exit 3'
  [ "$status" -eq 3 ]
  # conmon reports what berth-runtime says; podman maps it to 127.
  run -127 podman_cmd run --rm "${PODMAN_OPTS[@]}" localhost/bb /no/such/bin
  [ "$status" -eq 127 ]
  [[ "$output" == *"/no/such/bin"*"no such file or directory"* ]]
  run podman_cmd ps -aq
  [ -z "$output" ]
}

@test "podman: run with podman's default seccomp profile" {
  peer_require podman
  # Debian's default capabilities lack CAP_AUDIT_WRITE, so podman's profile
  # has conditional socket(2) rules next to an unconditional socketcall(2).
  run --separate-stderr podman_cmd run --rm --network none localhost/bb \
    sh -c 'grep Seccomp: /proc/self/status'
  echo "$output $stderr"
  [ "$status" -eq 0 ]
  [[ "$output" == *"Seccomp:"*2* ]]
}

@test "podman: run -d, exec, ps -a, stop, rm" {
  peer_require podman
  run podman_cmd run -d --name p1 "${PODMAN_OPTS[@]}" localhost/bb \
    sh -c 'echo started; trap "echo got-term; exit 9" TERM; while :; do sleep 0.1; done'
  [ "$status" -eq 0 ]
  run --separate-stderr podman_cmd exec p1 sh -c 'echo exec-out; exit 5'
  [ "$status" -eq 5 ]
  [ "$output" = exec-out ]
  run podman_cmd exec p1 ps -o pid,args
  [[ "$output" == *"1 sh -c echo started"* ]]
  run podman_cmd ps -a --format '{{.Names}} {{.Status}}'
  [[ "$output" == *"p1 Up"* ]]
  podman_cmd stop -t 10 p1
  run podman_cmd inspect -f '{{.State.ExitCode}}' p1
  [ "$output" = 9 ]
  run podman_cmd logs p1
  [ "$output" = "$(printf 'started\ngot-term')" ]
  run podman_cmd ps -a --format '{{.Names}} {{.Status}}'
  [[ "$output" == *"p1 Exited (9)"* ]]
  podman_cmd rm p1
  run podman_cmd ps -aq
  [ -z "$output" ]
}

@test "podman: stop kills a container that ignores SIGTERM after the timeout" {
  peer_require podman
  podman_cmd run -d --name p2 "${PODMAN_OPTS[@]}" localhost/bb \
    sh -c 'trap "" TERM; while :; do sleep 0.1; done'
  start=$(date +%s%N)
  podman_cmd stop -t 1 p2
  elapsed=$((($(date +%s%N) - start) / 1000000))
  [ "$elapsed" -ge 900 ]
  run podman_cmd inspect -f '{{.State.ExitCode}}' p2
  [ "$output" = 137 ]
  podman_cmd rm p2
}

@test "podman: pause, unpause, top, kill" {
  peer_require podman
  podman_cmd run -d --name p3 "${PODMAN_OPTS[@]}" localhost/bb sleep 1000
  podman_cmd pause p3
  run podman_cmd inspect -f '{{.State.Status}}' p3
  [ "$output" = paused ]
  podman_cmd unpause p3
  run podman_cmd inspect -f '{{.State.Status}}' p3
  [ "$output" = running ]
  run podman_cmd top p3
  [ "$status" -eq 0 ]
  [[ "$output" == *"sleep 1000"* ]]
  podman_cmd kill p3
  run podman_cmd wait p3
  [ "$output" = 137 ]
  podman_cmd rm p3
}

@test "podman: run -t and exec -it give the process a terminal" {
  peer_require podman
  run --separate-stderr podman_cmd run --rm -t "${PODMAN_OPTS[@]}" localhost/bb \
    sh -c 'tty; exit 4' </dev/null
  [ "$status" -eq 4 ]
  [[ "$output" == /dev/pts/* ]]
  podman_cmd run -d --name p4 "${PODMAN_OPTS[@]}" localhost/bb sleep 1000
  # exec -it forwards its own terminal: script(1) gives it one.
  run script -qec "$PEER_TMP/bin/podman exec -it p4 \
    sh -c 'tty; test -t 0 && echo stdin-is-tty; exit 2'" /dev/null </dev/null
  [ "$status" -eq 2 ]
  [[ "$output" == *"/dev/pts/"* ]]
  [[ "$output" == *stdin-is-tty* ]]
  podman_cmd rm -f -t 0 p4
}

# ---- dockerd ---------------------------------------------------------------

@test "docker: run --rm prints output and propagates the exit code" {
  peer_require dockerd
  run --separate-stderr docker_cmd run --rm "${DOCKER_OPTS[@]}" bb echo hi
  [ "$status" -eq 0 ]
  [ "$output" = hi ]
  run docker_cmd run --rm "${DOCKER_OPTS[@]}" bb sh -c 'exit 3'
  [ "$status" -eq 3 ]
  run -127 docker_cmd run --rm "${DOCKER_OPTS[@]}" bb /no/such/bin
  [ "$status" -eq 127 ]
  [[ "$output" == *"/no/such/bin"*"no such file or directory"* ]]
  # docker's own default seccomp profile loads.
  run --separate-stderr docker_cmd run --rm "${DOCKER_OPTS[@]}" bb grep Seccomp: /proc/self/status
  [[ "$output" == *"Seccomp:"*2* ]]
  run docker_cmd ps -aq
  [ -z "$output" ]
}

@test "docker: run -d, exec, top, stop, rm" {
  peer_require dockerd
  run docker_cmd run -d --name d1 "${DOCKER_OPTS[@]}" bb \
    sh -c 'echo started; trap "echo got-term; exit 9" TERM; while :; do sleep 0.1; done'
  [ "$status" -eq 0 ]
  run --separate-stderr docker_cmd exec d1 sh -c 'echo exec-out; exit 5'
  [ "$status" -eq 5 ]
  [ "$output" = exec-out ]
  run docker_cmd top d1
  [[ "$output" == *"sh -c echo started"* ]]
  run docker_cmd ps -a --format '{{.Names}} {{.Status}}'
  [[ "$output" == *"d1 Up"* ]]
  docker_cmd stop -t 10 d1
  run docker_cmd inspect -f '{{.State.ExitCode}}' d1
  [ "$output" = 9 ]
  run docker_cmd logs d1
  [ "$output" = "$(printf 'started\ngot-term')" ]
  docker_cmd rm d1
  run docker_cmd ps -aq
  [ -z "$output" ]
}

@test "docker: stop kills a container that ignores SIGTERM after the timeout" {
  peer_require dockerd
  docker_cmd run -d --name d2 "${DOCKER_OPTS[@]}" bb sh -c 'trap "" TERM; while :; do sleep 0.1; done'
  start=$(date +%s%N)
  docker_cmd stop -t 1 d2
  elapsed=$((($(date +%s%N) - start) / 1000000))
  [ "$elapsed" -ge 900 ]
  run docker_cmd inspect -f '{{.State.ExitCode}} {{.State.Status}}' d2
  [ "$output" = "137 exited" ]
  docker_cmd rm d2
}

@test "docker: resource limits, update, pause and unpause" {
  peer_require dockerd
  run --separate-stderr docker_cmd run --rm "${DOCKER_OPTS[@]}" -m 64m --pids-limit 50 bb \
    cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max
  [ "$status" -eq 0 ]
  [ "$output" = "$(printf '67108864\n50')" ]
  id=$(docker_cmd run -d "${DOCKER_OPTS[@]}" -m 64m bb sleep 1000)
  docker_cmd update -m 128m --memory-swap 256m "$id"
  run docker_cmd exec "$id" cat /sys/fs/cgroup/memory/memory.limit_in_bytes
  [ "$output" = 134217728 ]
  docker_cmd pause "$id"
  run docker_cmd inspect -f '{{.State.Status}}' "$id"
  [ "$output" = paused ]
  docker_cmd unpause "$id"
  run docker_cmd exec "$id" echo alive
  [ "$output" = alive ]
  docker_cmd rm -f "$id"
}

@test "docker: run -t and exec -it give the process a terminal" {
  peer_require dockerd
  run --separate-stderr docker_cmd run --rm -t "${DOCKER_OPTS[@]}" bb sh -c 'tty; exit 4' </dev/null
  [ "$status" -eq 4 ]
  [[ "$output" == /dev/pts/* ]]
  docker_cmd run -d --name d4 "${DOCKER_OPTS[@]}" bb sleep 1000
  run script -qec "$DOCKER_CLI -H unix://$PEER_TMP/dockerd/docker.sock exec -it d4 \
    sh -c 'tty; test -t 0 && echo stdin-is-tty; exit 2'" /dev/null </dev/null
  [ "$status" -eq 2 ]
  [[ "$output" == *"/dev/pts/"* ]]
  [[ "$output" == *stdin-is-tty* ]]
  docker_cmd rm -f d4
}

# ---- containerd (ctr) ------------------------------------------------------

@test "ctr: run --rm prints output and propagates the exit code" {
  peer_require containerd
  run --separate-stderr ctr_run --rm docker.io/library/bb:latest c1 echo hi
  [ "$status" -eq 0 ]
  [ "$output" = hi ]
  run ctr_run --rm docker.io/library/bb:latest c2 sh -c 'exit 3'
  [ "$status" -eq 3 ]
  # The shim reads the error from berth-runtime's --log (json).
  run ctr_run --rm docker.io/library/bb:latest c3 /no/such/bin
  [ "$status" -ne 0 ]
  [[ "$output" == *"/no/such/bin"*"no such file or directory"* ]]
  run ctr_cmd containers ls -q
  [ -z "$output" ]
}

@test "ctr: run -d, task exec, ps, pause, resume, kill, delete" {
  peer_require containerd
  ctr_run -d docker.io/library/bb:latest c4 \
    sh -c 'trap "exit 7" TERM; while :; do sleep 0.1; done'
  run ctr_cmd task ls
  [[ "$output" == *"c4 "*RUNNING* ]]
  run --separate-stderr ctr_exec --exec-id e1 c4 sh -c 'echo exec-out; exit 5'
  [ "$status" -eq 5 ]
  [ "$output" = exec-out ]
  run ctr_cmd task ps c4
  [ "$status" -eq 0 ]
  [ "${#lines[@]}" -ge 2 ]
  ctr_cmd task pause c4
  run ctr_cmd task ls
  [[ "$output" == *"c4 "*PAUSED* ]]
  ctr_cmd task resume c4
  run ctr_cmd task ls
  [[ "$output" == *"c4 "*RUNNING* ]]
  ctr_cmd task kill c4
  wait_until 10 sh -c "ctr -a '$PEER_TMP/containerd/containerd.sock' task ls | grep -q '^c4 .*STOPPED'"
  run ctr_cmd task delete c4
  [ "$status" -eq 0 ]
  [[ "$output" == *7* ]]
  ctr_cmd containers delete c4
  run ctr_cmd containers ls -q
  [ -z "$output" ]
}

@test "ctr: run -t and task exec -t give the process a terminal" {
  peer_require containerd
  d=$PEER_TMP/containerd
  ctr="ctr -a $d/containerd.sock"
  berth="--fifo-dir $d/fifo --runc-binary $RUNTIME --runc-root $d/runc"
  run script -qec "$ctr run --rm -t $berth docker.io/library/bb:latest c5 sh -c 'tty; exit 4'" \
    /dev/null </dev/null
  [ "$status" -eq 4 ]
  [[ "$output" == *"/dev/pts/"* ]]
  ctr_run -d docker.io/library/bb:latest c6 sleep 1000
  run script -qec "$ctr task exec -t --fifo-dir $d/fifo --exec-id e2 c6 \
    sh -c 'tty; test -t 0 && echo stdin-is-tty; exit 2'" /dev/null </dev/null
  [ "$status" -eq 2 ]
  [[ "$output" == *"/dev/pts/"* ]]
  [[ "$output" == *stdin-is-tty* ]]
  ctr_cmd task kill -s KILL c6
  wait_until 10 sh -c "ctr -a '$d/containerd.sock' task ls | grep -q '^c6 .*STOPPED'"
  ctr_cmd task delete c6
  ctr_cmd containers delete c6
}
