#!/usr/bin/env bats
# Attacks and races found in review of the container code, each mounted as a
# user or a hostile image would: user ids that wrap to root, account files
# that are devices or FIFOs, concurrent starts, and what a monitor pins.

load helpers
bats_require_minimum_version 1.5.0

setup() { container_store_setup; }

teardown() { container_store_teardown; }

@test "a user id beyond 2147483647 is refused, never wrapped to root" {
  run b run --rm -u 4294967296 bb:1 id -u
  [ "$status" -eq 125 ]
  [[ "$output" =~ "uids and gids must be in range 0-2147483647" ]]
  run b run --rm -u 1000:4294967296 bb:1 id -u
  [ "$status" -eq 125 ]
  run b run --rm --group-add 4294967296 bb:1 id -u
  [ "$status" -eq 125 ]
  # an image whose /etc/passwd gives a user such a uid
  local img=$BATS_TEST_TMPDIR/img
  cp -a "$BUSYBOX_ROOTFS" "$img"
  echo 'evil:x:4294967296:0::/:/bin/sh' >> "$img/etc/passwd"
  tar -C "$img" -cf - . | b import - evil:1 > /dev/null
  run b run --rm -u evil evil:1 id -u
  [ "$status" -eq 125 ]
  [[ "$output" =~ "uids and gids must be in range" ]]
  b run -d --name x1 bb:1 sleep 1000 > /dev/null
  run b exec -u 4294967296 x1 id -u
  [ "$status" -ne 0 ]
  [ "$output" != 0 ]
  run b exec -u 1234 x1 id -u
  [ "$output" = 1234 ]
}

@test "account files that are a FIFO or a device are not opened: no hang, no host device" {
  b run -d --name acct bb:1 sleep 1000 > /dev/null
  b exec acct sh -c 'rm /etc/group && mkfifo /etc/group && rm /etc/passwd && mknod /etc/passwd c 1 3'
  # before: berth (as host root) opened the device and blocked on the FIFO
  run timeout 20 "$BERTH" --root "$ROOT" --runroot "$RUNROOT" exec -u nobody acct id -u
  [ "$status" -ne 124 ]
  [ "$status" -ne 0 ]
  [[ "$output" =~ "unable to find user nobody" ]]
  # numeric users need no lookup and still work
  run timeout 20 "$BERTH" --root "$ROOT" --runroot "$RUNROOT" exec -u 99 acct id -u
  [ "$output" = 99 ]
}

@test "three starts of one container at once: one runs, and attach and stop still work" {
  b create --name race bb:1 sh -c 'while :; do echo tick; sleep 0.2; done' > /dev/null
  local i pids=()
  for i in 1 2 3; do
    "$BERTH" --root "$ROOT" --runroot "$RUNROOT" start race > /dev/null &
    pids+=($!)
  done
  for i in "${pids[@]}"; do wait "$i"; done
  run b ps --format '{{.Names}} {{.State}}'
  [ "$output" = "race running" ]
  # the winner's attach socket and mount survived the other starts
  local id
  id=$(b inspect -f '{{.Id}}' race)
  [ -S "$RUNROOT/containers/$id/attach.sock" ]
  grep -q "$RUNROOT/containers/$id/rootfs" /proc/self/mountinfo
  # (attach forwards a SIGTERM to the container, as docker attach does:
  # end it with SIGKILL)
  run timeout -s KILL 3 "$BERTH" --root "$ROOT" --runroot "$RUNROOT" attach --no-stdin race
  [[ "$output" =~ tick ]]
  run b stop -t 1 race
  [ "$status" -eq 0 ]
}

@test "--privileged works where berth lacks a capability; the monitor does not pin the caller's cwd" {
  run b run --rm --privileged bb:1 sh -c 'grep CapEff /proc/self/status'
  [ "$status" -eq 0 ]
  # CAP_SYS_ADMIN (bit 21) is in the effective set
  local eff=${output##*:}
  (( (0x${eff//[[:space:]]/} >> 21) & 1 ))
  mkdir -p "$BATS_TEST_TMPDIR/here"
  local id
  id=$(cd "$BATS_TEST_TMPDIR/here" && "$BERTH" --root "$ROOT" --runroot "$RUNROOT" run -d bb:1 sleep 1000)
  local mon
  mon=$(jq -r .MonitorPid "$ROOT/containers/$id/state.json")
  [ "$(readlink "/proc/$mon/cwd")" = / ]
}

@test "cp from a stopped container while it is started: the started container keeps its rootfs" {
  b create --name cpr bb:1 sh -c 'dd if=/dev/zero of=/big bs=1M count=200 2>/dev/null; exec sleep 1000' > /dev/null
  b start cpr > /dev/null
  wait_until() { local i; for i in $(seq 200); do "$@" && return 0; sleep 0.05; done; return 1; }
  # dd has finished once pid 1 is the sleep
  wait_until b exec cpr grep -qx sleep /proc/1/comm
  b stop -t 0 cpr > /dev/null
  local id
  id=$(b inspect -f '{{.Id}}' cpr)
  # cp mounts the stopped container's rootfs and unmounts it when done;
  # a start meanwhile must wait instead of having its rootfs pulled away
  "$BERTH" --root "$ROOT" --runroot "$RUNROOT" cp cpr:/big "$BATS_TEST_TMPDIR/big" &
  local cpid=$!
  sleep 0.1
  b start cpr > /dev/null
  wait "$cpid"
  [ "$(stat -c %s "$BATS_TEST_TMPDIR/big")" -eq $((200 << 20)) ]
  grep -q "$RUNROOT/containers/$id/rootfs" /proc/self/mountinfo
  run b exec cpr cat /proc/1/cmdline
  [ "$status" -eq 0 ]
  [[ "$output" =~ sleep ]]
}

@test "endless stdin to a process that does not read it: run -i and exec -i still deliver all output" {
  # before: the CLI blocked writing stdin while the process blocked writing
  # its output to us (exec -i deadlocked; run -i lost output and died of SIGPIPE)
  run bash -c "yes | timeout 60 '$BERTH' --root '$ROOT' --runroot '$RUNROOT' run -i --rm bb:1 sh -c 'sleep 1; seq 1 200000' | wc -l"
  [ "$output" = 200000 ]
  b run -d --name reader bb:1 sleep 1000 > /dev/null
  run bash -c "yes | timeout 60 '$BERTH' --root '$ROOT' --runroot '$RUNROOT' exec -i reader sh -c 'sleep 1; seq 1 100000' | wc -l"
  [ "$output" = 100000 ]
  run bash -c "printf 'one\ntwo\n' | '$BERTH' --root '$ROOT' --runroot '$RUNROOT' exec -i reader cat"
  [ "$output" = "$(printf 'one\ntwo')" ]
}
