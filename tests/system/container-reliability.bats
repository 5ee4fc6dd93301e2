#!/usr/bin/env bats
# Reliability (issue 4): many containers started at once, a CLI killed in
# the middle of `run`, a container's process killed from outside, and a
# soak of run --rm cycles that must leave nothing behind on the host: no
# mount, no cgroup, no file in the store, no process.

load helpers
bats_require_minimum_version 1.5.0

setup() {
  ROOT=$BATS_TEST_TMPDIR/root
  RUNROOT=$BATS_TEST_TMPDIR/run
  ensure_busybox_rootfs
  tar -C "$BUSYBOX_ROOTFS" -cf - . | b import --change 'CMD ["sh"]' - bb:1 > /dev/null
}

teardown() {
  local id
  [ -z "${CLI_PID:-}" ] || kill -9 "$CLI_PID" 2> /dev/null || true
  for id in $(b ps -aq --no-trunc 2> /dev/null); do
    b rm -f "$id" > /dev/null 2>&1 || true
  done
  store_reset
  ! grep -q "$BATS_TEST_TMPDIR" /proc/self/mountinfo || false
}

b() { "$BERTH" --root "$ROOT" --runroot "$RUNROOT" "$@"; }

# pids of processes whose command line names this test's store (monitors,
# exit handlers, CLIs)
store_procs() {
  local f pid cmd
  for f in /proc/[0-9]*/cmdline; do
    pid=${f#/proc/}
    pid=${pid%/cmdline}
    [ "$pid" != "$$" ] || continue
    { cmd=$(tr '\0' ' ' < "$f"); } 2> /dev/null || continue
    [[ "$cmd" != *"$ROOT "* ]] || echo "$pid $cmd"
  done
  return 0
}

# assert_gone ID: nothing of a container is left on the host
assert_gone() {
  local id=$1
  run b ps -aq --no-trunc
  [[ "$output" != *"$id"* ]] || { echo "ps still lists $id"; return 1; }
  ! grep -q "$id" /proc/self/mountinfo || { echo "mount left: $(grep "$id" /proc/self/mountinfo)"; return 1; }
  [ -z "$(find /sys/fs/cgroup -maxdepth 4 -type d -name "$id" 2> /dev/null)" ] ||
    { echo "cgroup left: $(find /sys/fs/cgroup -maxdepth 4 -type d -name "$id")"; return 1; }
  [ ! -e "$ROOT/containers/$id" ] || { echo "container dir left"; return 1; }
  [ ! -e "$RUNROOT/containers/$id" ] || { echo "run dir left"; return 1; }
  [ ! -e "$RUNROOT/runtime/$id" ] || { echo "runtime state left"; return 1; }
}

# wait_for SECONDS CMD...: poll until CMD succeeds
wait_for() {
  local n=$(($1 * 20))
  shift
  while [ "$n" -gt 0 ]; do
    "$@" > /dev/null 2>&1 && return 0
    sleep 0.05
    n=$((n - 1))
  done
  return 1
}

@test "50 concurrent run -d with names: all start, 50 distinct names, rm -f cleans all" {
  local i pids=() pid
  for i in $(seq 50); do
    b run -d --name "c$i" bb:1 sleep 1000 > "$BATS_TEST_TMPDIR/out.$i" 2>&1 &
    pids+=($!)
  done
  local failed=0
  for pid in "${pids[@]}"; do wait "$pid" || failed=$((failed + 1)); done
  [ "$failed" -eq 0 ] || { cat "$BATS_TEST_TMPDIR"/out.*; false; }
  # every run printed an id, and no id twice
  [ "$(cat "$BATS_TEST_TMPDIR"/out.* | grep -cE '^[0-9a-f]{64}$')" -eq 50 ]
  [ "$(cat "$BATS_TEST_TMPDIR"/out.* | sort -u | wc -l)" -eq 50 ]
  run b ps --format '{{.Names}} {{.State}}'
  [ "$status" -eq 0 ]
  [ "${#lines[@]}" -eq 50 ]
  [ "$(printf '%s\n' "${lines[@]}" | awk '{print $1}' | sort -u | wc -l)" -eq 50 ]
  [ "$(printf '%s\n' "${lines[@]}" | grep -c ' running$')" -eq 50 ]
  for i in $(seq 50); do printf '%s\n' "${lines[@]}" | grep -qx "c$i running"; done
  local ids
  ids=$(b ps -q --no-trunc)
  run b rm -f $(seq -f 'c%g' 50)
  [ "$status" -eq 0 ]
  [ "${#lines[@]}" -eq 50 ]
  run b ps -aq
  [ -z "$output" ]
  for i in $ids; do assert_gone "$i"; done
  [ -z "$(store_procs)" ]
}

@test "concurrent run -d of one name: exactly one gets it" {
  local i pids=() pid
  for i in $(seq 8); do
    b run -d --name same bb:1 sleep 1000 > "$BATS_TEST_TMPDIR/out.$i" 2>&1 &
    pids+=($!)
  done
  local ok=0
  for pid in "${pids[@]}"; do wait "$pid" && ok=$((ok + 1)) || true; done
  [ "$ok" -eq 1 ]
  [ "$(cat "$BATS_TEST_TMPDIR"/out.* | grep -c 'is already in use')" -eq 7 ]
  run b ps -a --format '{{.Names}}'
  [ "$output" = same ]
}

@test "kill -9 of the CLI mid-run: the container keeps running, ps shows it, rm -f cleans" {
  "$BERTH" --root "$ROOT" --runroot "$RUNROOT" run --name fg bb:1 sleep 1000 > /dev/null 2>&1 &
  CLI_PID=$!
  wait_for 10 eval '[ "$(b ps --format "{{.Names}} {{.State}}")" = "fg running" ]'
  kill -9 "$CLI_PID"
  wait "$CLI_PID" 2> /dev/null || true
  CLI_PID=
  # the container outlives its CLI, under its monitor
  run b ps --format '{{.Names}} {{.State}}'
  [ "$output" = "fg running" ]
  local id pid
  id=$(b inspect -f '{{.Id}}' fg)
  pid=$(b inspect -f '{{.State.Pid}}' fg)
  [ "$pid" -gt 0 ]
  [ "$(tr '\0' ' ' < "/proc/$pid/cmdline")" = "sleep 1000 " ]
  [ "$(b inspect -f '{{.State.Running}}' fg)" = true ]
  [ -n "$(store_procs | grep berth-monitor)" ]
  run b rm -f fg
  [ "$status" -eq 0 ]
  ! kill -0 "$pid" 2> /dev/null || false
  assert_gone "$id"
  [ -z "$(store_procs)" ]
}

@test "kill -9 of a container's process: ps -a shows Exited (137), rm cleans" {
  run b run -d --name victim bb:1 sleep 1000
  [ "$status" -eq 0 ]
  local id=$output pid
  pid=$(b inspect -f '{{.State.Pid}}' victim)
  [ "$pid" -gt 0 ]
  kill -9 "$pid"
  wait_for 10 eval '[ "$(b inspect -f "{{.State.Status}}" victim)" = exited ]'
  run b ps -a --format '{{.Names}} {{.Status}}'
  [[ "$output" =~ ^victim\ Exited\ \(137\)\ .*ago$ ]]
  run b ps -q
  [ -z "$output" ]
  [ "$(b inspect -f '{{.State.ExitCode}} {{.State.Running}}' victim)" = "137 false" ]
  # the exit handler unmounted and cleaned the runtime state
  ! grep -q "$id" /proc/self/mountinfo || false
  [ -z "$(find /sys/fs/cgroup -maxdepth 4 -type d -name "$id" 2> /dev/null)" ]
  run b rm victim
  [ "$status" -eq 0 ]
  assert_gone "$id"
  [ -z "$(store_procs)" ]
}

@test "soak: 200 run --rm cycles leave no mount, cgroup, store file or process" {
  # warm up once so that lazily made directories exist before the baseline
  b run --rm --network none bb:1 true
  local mounts files
  mounts=$(wc -l < /proc/self/mountinfo)
  files=$(find "$ROOT" "$RUNROOT" -not -name 'berth.db*' | sort)
  local i failed=0
  for i in $(seq 200); do
    b run --rm --network none --cidfile "$BATS_TEST_TMPDIR/cid.$i" bb:1 true || failed=$((failed + 1))
  done
  [ "$failed" -eq 0 ]
  [ -z "$(store_procs)" ]
  # mountinfo is host-wide: other users may mount at the same time, so no
  # line may name this store, and the count may not have grown by 200
  ! grep -q "$BATS_TEST_TMPDIR" /proc/self/mountinfo || false
  [ "$(wc -l < /proc/self/mountinfo)" -lt $((mounts + 50)) ]
  run diff <(echo "$files") <(find "$ROOT" "$RUNROOT" -not -name 'berth.db*' | sort)
  [ "$status" -eq 0 ]
  run b ps -aq
  [ -z "$output" ]
  # no cgroup of any of the 200 containers (the berth cgroup parent is
  # shared with other users, so each id is looked for)
  # (a cidfile has no final newline)
  for i in $(seq 200); do cat "$BATS_TEST_TMPDIR/cid.$i" && echo; done > "$BATS_TEST_TMPDIR/ids"
  grep -qxE '[0-9a-f]{64}' "$BATS_TEST_TMPDIR/ids"
  [ "$(sort -u "$BATS_TEST_TMPDIR/ids" | wc -l)" -eq 200 ]
  local left
  left=$(find /sys/fs/cgroup -mindepth 2 -maxdepth 3 -type d -path '*/berth/*' -printf '%f\n' 2> /dev/null |
    grep -Fxf "$BATS_TEST_TMPDIR/ids" || true)
  [ -z "$left" ]
}
