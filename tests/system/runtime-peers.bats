#!/usr/bin/env bats
# berth-runtime driven by the real engines that drive runc: podman (through
# conmon), dockerd (through its containerd and containerd-shim-runc-v2) and
# containerd (ctr). Each engine runs with private state under one temp dir
# and is stopped, by the pid we started, in teardown_file. No registry is
# reachable here: the image is a busybox rootfs imported locally. Containers
# get no network (--network none, or none configured for ctr).
#
# Run: cd /work/main && ninja -C build && bats tests/system/runtime-peers.bats
# (BERTH_BUILD=DIR to test another build; DOCKER_CLI to pick the client.)

bats_require_minimum_version 1.5.0

load helpers
load peers/lib

# The docker.io client matching dockerd 20.10 (/usr/local/bin/docker may be
# a newer one).
DOCKER_CLI=${DOCKER_CLI:-/usr/bin/docker}

# podman's default seccomp profile (with Debian's default capabilities) is
# refused by berth-runtime (see the "default seccomp profile" test): the
# other podman tests opt out of seccomp so that they test everything else.
PODMAN_OPTS=(--network none)
DOCKER_OPTS=(--runtime berth --network none)
IMG_CTR=docker.io/library/bb:latest

# Where a container sees its own memory and pids limits, and where the host
# sees a cgroup's memory limit (cgroup v1 here; v2 elsewhere).
if [ -d /sys/fs/cgroup/memory ]; then
  CG_MEM=/sys/fs/cgroup/memory/memory.limit_in_bytes CG_PIDS=/sys/fs/cgroup/pids/pids.max
  host_mem_limit() { cat "/sys/fs/cgroup/memory/$1/memory.limit_in_bytes"; }
else
  CG_MEM=/sys/fs/cgroup/memory.max CG_PIDS=/sys/fs/cgroup/pids.max
  host_mem_limit() { cat "/sys/fs/cgroup/$1/memory.max"; }
fi

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
  peer_runtime_sweep_all
  peer_kill_leftovers
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

# elapsed_ms CMD...: run CMD, print how long it took.
elapsed_ms() {
  local start
  start=$(date +%s%N)
  "$@" >/dev/null
  echo $((($(date +%s%N) - start) / 1000000))
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
  [[ "$output" == *"/no/such/bin"*"no such file or directory"* ]]
  run podman_cmd ps -aq
  [ -z "$output" ]
}

@test "podman: run with podman's default seccomp profile" {
  peer_require podman
  # Debian's default capabilities lack CAP_AUDIT_WRITE, so podman's profile
  # has conditional socket(2) rules next to an unconditional socketcall(2).
  run --separate-stderr podman_cmd run --rm --network none localhost/bb \
    grep Seccomp: /proc/self/status
  echo "$output $stderr"
  [ "$status" -eq 0 ]
  [[ "$output" == *"Seccomp:"*2* ]]
}

@test "podman: default seccomp profile filters socket(2) as runc does" {
  peer_require podman
  command -v cc >/dev/null || skip "no C compiler for the probe"
  cc -static -O -o "$PEER_TMP/socket-probe" "$BATS_TEST_DIRNAME/peers/socket-probe.c" ||
    skip "cannot link the probe statically"
  run --separate-stderr podman_cmd run --rm --network none \
    -v "$PEER_TMP/socket-probe:/probe:ro" localhost/bb /probe
  echo "$output $stderr"
  [ "$status" -eq 0 ]
  # The profile answers EINVAL for audit netlink sockets only (no
  # CAP_AUDIT_WRITE); every other socket is allowed (the kernel answers),
  # none gets the default action's ENOSYS.
  [ "${lines[0]}" = "netlink-audit: EINVAL" ]
  [ "${lines[1]}" = "netlink-route: ok" ]
  [ "${lines[2]}" = "unix: ok" ]
  [[ "${lines[3]}" == inet-protocol-9:* ]]
  [ "${lines[3]}" != "inet-protocol-9: ENOSYS" ]
}

@test "podman: run -d, exec, ps -a, stop, logs, rm" {
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
  # berth-runtime's state went with it.
  [ -z "$(ls "$PEER_TMP/podman/berth-state")" ]
}

@test "podman: stop kills a container that ignores SIGTERM after the timeout" {
  peer_require podman
  podman_cmd run -d --name p2 "${PODMAN_OPTS[@]}" localhost/bb \
    sh -c 'trap "" TERM; while :; do sleep 0.1; done'
  ms=$(elapsed_ms podman_cmd stop -t 1 p2)
  [ "$ms" -ge 900 ]
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

@test "podman: kill and rm -f of a paused container" {
  peer_require podman
  # runc thaws a cgroup-v1 freezer after SIGKILL; without that the frozen
  # process never dies. On failure, thaw it through the runtime so that the
  # test leaves nothing behind.
  podman_cmd run -d --name p5 "${PODMAN_OPTS[@]}" localhost/bb sleep 1000
  id5=$(podman_cmd inspect -f '{{.Id}}' p5)
  podman_cmd pause p5
  run podman_cmd kill p5
  echo "kill: $status $output"
  killed=$status
  [ "$killed" -eq 0 ] || podman_rt resume "$id5" || true
  run podman_cmd wait p5
  echo "wait: $output"
  waited=$output
  podman_cmd run -d --name p6 "${PODMAN_OPTS[@]}" localhost/bb sleep 1000
  id6=$(podman_cmd inspect -f '{{.Id}}' p6)
  podman_cmd pause p6
  run podman_cmd rm -f -t 0 p6
  echo "rm -f: $status $output"
  removed=$status
  if [ "$removed" -ne 0 ]; then
    podman_rt resume "$id6" || true
    podman_rt delete --force "$id6" || true
  fi
  podman_cmd rm -f -t 0 p5 p6 >/dev/null 2>&1 || true
  [ "$killed" -eq 0 ]
  [ "$waited" = 137 ]
  [ "$removed" -eq 0 ]
}

@test "podman: limits, user, volumes, read-only root, stdin, --init" {
  peer_require podman
  mkdir -p "$PEER_TMP/vol"
  echo host-file > "$PEER_TMP/vol/f"
  run --separate-stderr podman_cmd run --rm "${PODMAN_OPTS[@]}" --read-only \
    -v "$PEER_TMP/vol:/vol:ro" -m 64m --pids-limit 50 --user 65534 --hostname boxy -e A=b \
    localhost/bb sh -c 'cat /vol/f; id -u; hostname; echo $A; touch /x 2>/dev/null || echo ro-root
      cat '"$CG_MEM $CG_PIDS"'
      grep -q libpod_parent/libpod- /proc/self/cgroup && echo in-libpod-cgroup'
  [ "$status" -eq 0 ]
  [ "$output" = "$(printf 'host-file\n65534\nboxy\nb\nro-root\n67108864\n50\nin-libpod-cgroup')" ]
  run --separate-stderr podman_cmd run --rm -i "${PODMAN_OPTS[@]}" localhost/bb cat <<<piped-in
  [ "$output" = piped-in ]
  if [ -x /usr/libexec/podman/catatonit ] || command -v catatonit >/dev/null; then
    run --separate-stderr podman_cmd run --rm --init "${PODMAN_OPTS[@]}" localhost/bb ps -o pid,args
    [ "$status" -eq 0 ]
    [[ "${lines[1]}" == *"1 /run/podman-init -- ps"* ]]
  fi
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
  [[ "$output" == *"/no/such/bin"*"no such file or directory"* ]]
  # docker's own default seccomp profile loads.
  run --separate-stderr docker_cmd run --rm "${DOCKER_OPTS[@]}" bb grep Seccomp: /proc/self/status
  [[ "$output" == *"Seccomp:"*2* ]]
  run docker_cmd ps -aq
  [ -z "$output" ]
}

@test "docker: run -d, exec, top, stop, logs, rm" {
  peer_require dockerd
  run docker_cmd run -d --name d1 "${DOCKER_OPTS[@]}" bb \
    sh -c 'echo started; trap "echo got-term; exit 9" TERM; while :; do sleep 0.1; done'
  [ "$status" -eq 0 ]
  run --separate-stderr docker_cmd exec d1 sh -c 'echo exec-out; exit 5'
  [ "$status" -eq 5 ]
  [ "$output" = exec-out ]
  run --separate-stderr docker_cmd exec -u 65534 -w /tmp -e FOO=bar d1 sh -c 'id -u; pwd; echo $FOO'
  [ "$output" = "$(printf '65534\n/tmp\nbar')" ]
  run --separate-stderr docker_cmd exec -i d1 cat <<<piped-in
  [ "$output" = piped-in ]
  run -126 docker_cmd exec d1 /no/such/bin
  [[ "$output" == *"/no/such/bin"*"no such file or directory"* ]]
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
  # berth-runtime's state (dockerd's exec-root/runtime-berth) went with it.
  [ -z "$(ls "$PEER_TMP/dockerd/exec/runtime-berth/moby" 2>/dev/null)" ]
}

@test "docker: stop kills a container that ignores SIGTERM after the timeout" {
  peer_require dockerd
  docker_cmd run -d --name d2 "${DOCKER_OPTS[@]}" bb sh -c 'trap "" TERM; while :; do sleep 0.1; done'
  ms=$(elapsed_ms docker_cmd stop -t 1 d2)
  [ "$ms" -ge 900 ]
  run docker_cmd inspect -f '{{.State.ExitCode}} {{.State.Status}}' d2
  [ "$output" = "137 exited" ]
  docker_cmd rm d2
}

@test "docker: resource limits, update, pause, unpause, kill when paused" {
  peer_require dockerd
  run --separate-stderr docker_cmd run --rm "${DOCKER_OPTS[@]}" -m 64m --pids-limit 50 bb \
    cat "$CG_MEM" "$CG_PIDS"
  [ "$status" -eq 0 ]
  [ "$output" = "$(printf '67108864\n50')" ]
  id=$(docker_cmd run -d "${DOCKER_OPTS[@]}" -m 64m bb sleep 1000)
  docker_cmd update -m 128m --memory-swap 256m "$id"
  run docker_cmd exec "$id" cat "$CG_MEM"
  [ "$output" = 134217728 ]
  docker_cmd pause "$id"
  run docker_cmd inspect -f '{{.State.Status}}' "$id"
  [ "$output" = paused ]
  docker_cmd unpause "$id"
  run docker_cmd exec "$id" echo alive
  [ "$output" = alive ]
  # dockerd unpauses after a SIGKILL itself.
  docker_cmd pause "$id"
  docker_cmd kill "$id"
  run docker_cmd wait "$id"
  [ "$output" = 137 ]
  docker_cmd rm "$id"
}

@test "docker: run -t and exec -it give the process a terminal" {
  peer_require dockerd
  run --separate-stderr docker_cmd run --rm -t "${DOCKER_OPTS[@]}" bb sh -c 'tty; exit 4' </dev/null
  [ "$status" -eq 4 ]
  [[ "$output" == /dev/pts/* ]]
  docker_cmd run -d --name d4 "${DOCKER_OPTS[@]}" bb sleep 1000
  run script -qec "$PEER_TMP/bin/docker exec -it d4 \
    sh -c 'tty; test -t 0 && echo stdin-is-tty; exit 2'" /dev/null </dev/null
  [ "$status" -eq 2 ]
  [[ "$output" == *"/dev/pts/"* ]]
  [[ "$output" == *stdin-is-tty* ]]
  docker_cmd rm -f d4
}

# ---- containerd (ctr) ------------------------------------------------------

@test "ctr: run --rm prints output and propagates the exit code" {
  peer_require containerd
  run --separate-stderr ctr_run --rm "$IMG_CTR" c1 echo hi
  [ "$status" -eq 0 ]
  [ "$output" = hi ]
  run ctr_run --rm "$IMG_CTR" c2 sh -c 'exit 3'
  [ "$status" -eq 3 ]
  # containerd's default seccomp profile loads.
  run --separate-stderr ctr_run --rm --seccomp "$IMG_CTR" c2 grep Seccomp: /proc/self/status
  [[ "$output" == *"Seccomp:"*2* ]]
  # The shim reads the error from berth-runtime's --log (json).
  run ctr_run --rm "$IMG_CTR" c3 /no/such/bin
  [ "$status" -ne 0 ]
  [[ "$output" == *"/no/such/bin"*"no such file or directory"* ]]
  run ctr_cmd containers ls -q
  [ -z "$output" ]
}

@test "ctr: run -d, task exec, ps, pause, resume, kill, delete" {
  peer_require containerd
  ctr_run -d --memory-limit 67108864 --env A=b --cwd /tmp "$IMG_CTR" c4 \
    sh -c 'trap "exit 7" TERM; while :; do sleep 0.1; done'
  [ "$(ctr_task_status c4)" = RUNNING ]
  # ctr puts the container in cgroup /default/<id>.
  [ "$(host_mem_limit default/c4)" = 67108864 ]
  run --separate-stderr ctr_exec --exec-id e0 c4 sh -c 'echo $A; pwd'
  [ "$output" = "$(printf 'b\n/tmp')" ]
  run --separate-stderr ctr_exec --exec-id e1 c4 sh -c 'echo exec-out; exit 5'
  [ "$status" -eq 5 ]
  [ "$output" = exec-out ]
  run ctr_cmd task ps c4
  [ "$status" -eq 0 ]
  [ "${#lines[@]}" -ge 2 ]
  ctr_cmd task pause c4
  [ "$(ctr_task_status c4)" = PAUSED ]
  ctr_cmd task resume c4
  [ "$(ctr_task_status c4)" = RUNNING ]
  ctr_cmd task kill c4
  ctr_wait_status c4 STOPPED
  run ctr_cmd task delete c4
  [ "$status" -eq 0 ]
  [[ "$output" == *"exit code 7"* ]]
  ctr_cmd containers delete c4
  run ctr_cmd containers ls -q
  [ -z "$output" ]
  # berth-runtime's state went with it.
  [ -z "$(ls "$PEER_TMP/containerd/berth-state/default" 2>/dev/null)" ]
}

@test "ctr: SIGKILL stops a paused task" {
  peer_require containerd
  ctr_run -d "$IMG_CTR" c7 sleep 1000
  ctr_cmd task pause c7
  ctr_cmd task kill -s KILL c7
  # containerd leaves the thawing to the runtime, as runc does it.
  run ctr_wait_status c7 STOPPED 5
  [ "$(ctr_task_status c7)" != PAUSED ] || ctr_cmd task resume c7
  ctr_wait_status c7 STOPPED
  ctr_cmd task delete c7
  ctr_cmd containers delete c7
  echo "$output"
  [ "$status" -eq 0 ]
}

@test "ctr: run -t and task exec -t give the process a terminal" {
  peer_require containerd
  run script -qec "$PEER_TMP/bin/ctr-run --rm -t $IMG_CTR c5 sh -c 'tty; exit 4'" \
    /dev/null </dev/null
  [ "$status" -eq 4 ]
  [[ "$output" == *"/dev/pts/"* ]]
  ctr_run -d "$IMG_CTR" c6 sleep 1000
  run script -qec "$PEER_TMP/bin/ctr-exec -t --exec-id e2 c6 \
    sh -c 'tty; test -t 0 && echo stdin-is-tty; exit 2'" /dev/null </dev/null
  [ "$status" -eq 2 ]
  [[ "$output" == *"/dev/pts/"* ]]
  [[ "$output" == *stdin-is-tty* ]]
  ctr_cmd task kill -s KILL c6
  ctr_wait_status c6 STOPPED
  ctr_cmd task delete c6
  ctr_cmd containers delete c6
}
