#!/usr/bin/env bats
# --init (berth-init as the container's pid 1: reaps orphans, forwards
# signals, exits with its child's status) and --sig-proxy (signals the CLI
# gets in a foreground `run` or `start -a` go to the container).

load helpers
bats_require_minimum_version 1.5.0

setup() {
  ROOT=$BATS_TEST_TMPDIR/root
  RUNROOT=$BATS_TEST_TMPDIR/run
  ensure_busybox_rootfs
  tar -C "$BUSYBOX_ROOTFS" -cf - . | b import --change 'CMD ["sh"]' - bb:1 > /dev/null
}

teardown() {
  local p
  for p in ${CLI_PIDS:-}; do
    kill -KILL "$p" 2>/dev/null || true
  done
  local id
  for id in $(b ps -aq --no-trunc 2>/dev/null); do
    b rm -f "$id" > /dev/null 2>&1 || true
  done
  store_reset
  ! grep -q "$BATS_TEST_TMPDIR" /proc/self/mountinfo || false
}

b() { "$BERTH" --root "$ROOT" --runroot "$RUNROOT" "$@"; }
# (A CLI put in the background to be signalled is started without b(), so
# that $! is berth itself and not a subshell running the function.)

# wait_for_line FILE TEXT: up to 10 s for TEXT to appear in FILE.
wait_for_line() {
  local i
  for i in $(seq 100); do
    grep -qx "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "no '$2' in $1: $(cat "$1")" >&2
  return 1
}

# zombies ID: the <defunct> processes of container ID, one "Z comm" a line.
zombies() { b exec "$1" ps -o stat,comm | awk '$1 ~ /^Z/'; }

TRAP_LOOP='trap "echo got TERM; exit 5" TERM; trap "echo got USR1; exit 6" USR1; echo ready; while :; do sleep 0.1; done'

@test "run --init: berth-init is pid 1 and the command runs as its child" {
  run b run --rm --init bb:1 sh -c 'ps -o pid,ppid,comm; true'
  [ "$status" -eq 0 ]
  [[ "$output" =~ [[:space:]]1[[:space:]]+0[[:space:]]+berth-init ]]
  [[ "$output" =~ [[:space:]]2[[:space:]]+1[[:space:]]+sh ]]
  # without --init the command itself is pid 1
  run b run --rm bb:1 sh -c 'ps -o pid,comm; true'
  [ "$status" -eq 0 ]
  [[ "$output" =~ [[:space:]]1[[:space:]]+sh ]]
  [[ ! "$output" =~ berth-init ]]
}

@test "run --init: the child's exit status is the container's" {
  run b run --rm --init bb:1 sh -c 'exit 7'
  [ "$status" -eq 7 ]
  # killed by a signal: 128+n, as Docker's docker-init
  run b run --rm --init bb:1 sh -c 'kill -USR1 $$'
  [ "$status" -eq 138 ]
  run -127 b run --rm --init bb:1 no-such-command
  [ "$status" -eq 127 ]
  [[ "$output" =~ "no-such-command" ]]
  run b run -d --init bb:1 sh -c 'exit 9'
  [ "$status" -eq 0 ]
  run b wait "$output"
  [ "$output" = 9 ]
}

@test "run --init: an orphaned zombie is reaped, without --init it stays <defunct>" {
  # the subshell's sleep outlives it: reparented to pid 1, it dies 0.1 s later
  local with without
  with=$(b run -d --init bb:1 sh -c '(sleep 0.1 &); sleep 1000')
  without=$(b run -d bb:1 sh -c '(sleep 0.1 &); sleep 1000')
  sleep 1.5
  run zombies "$without"
  [ "$status" -eq 0 ]
  [[ "$output" =~ "Z" ]]
  run zombies "$with"
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  # and the container's command is still the one running under the init
  run b exec "$with" ps -o pid,comm
  [[ "$output" =~ [[:space:]]1[[:space:]]+berth-init ]]
  [[ "$output" =~ sleep ]]
}

@test "stop: an --init container ends at once on SIGTERM with 143" {
  local id start elapsed
  id=$(b run -d --init bb:1 sh -c 'while :; do sleep 1; done')
  start=$(date +%s%N)
  run b stop -t 20 "$id"
  [ "$status" -eq 0 ]
  elapsed=$((($(date +%s%N) - start) / 1000000))
  [ "$elapsed" -lt 5000 ]
  run b inspect -f '{{.State.ExitCode}}' "$id"
  [ "$output" = 143 ]
  # without --init, sh as pid 1 ignores SIGTERM: stop has to kill it
  id=$(b run -d bb:1 sh -c 'while :; do sleep 1; done')
  run b stop -t 1 "$id"
  [ "$status" -eq 0 ]
  run b inspect -f '{{.State.ExitCode}}' "$id"
  [ "$output" = 137 ]
}

@test "run --init: the binary is written once to the runroot and bound read-only" {
  run b run --rm --init bb:1 true
  [ "$status" -eq 0 ]
  [ "$(stat -c %a "$RUNROOT/berth-init")" = 755 ]
  local ino
  ino=$(stat -c %i "$RUNROOT/berth-init")
  run b run --rm --init bb:1 sh -c 'echo x > /sbin/berth-init'
  [ "$status" -ne 0 ]
  [[ "$output" =~ "Read-only file system" ]]
  [ "$(stat -c %i "$RUNROOT/berth-init")" = "$ino" ]
  # a damaged copy is replaced, not run
  echo garbage > "$RUNROOT/berth-init"
  run b run --rm --init bb:1 echo fine
  [ "$status" -eq 0 ]
  [ "$output" = fine ]
  cmp -s "$RUNROOT/berth-init" <(b run --rm --init bb:1 cat /sbin/berth-init)
  [ "$(stat -c %s "$RUNROOT/berth-init")" -gt 100 ]
}

@test "run: --sig-proxy forwards the CLI's SIGTERM to the container" {
  "$BERTH" --root "$ROOT" --runroot "$RUNROOT" run --rm bb:1 sh -c "$TRAP_LOOP" > "$BATS_TEST_TMPDIR/out" 2>&1 3>&- &
  local cli=$!
  CLI_PIDS=$cli
  wait_for_line "$BATS_TEST_TMPDIR/out" ready
  kill -TERM "$cli"
  local code=0
  wait "$cli" || code=$?
  [ "$code" -eq 5 ]
  grep -qx "got TERM" "$BATS_TEST_TMPDIR/out"
}

@test "run --sig-proxy=false: the CLI dies of the signal, the container keeps running" {
  "$BERTH" --root "$ROOT" --runroot "$RUNROOT" run --name keep --sig-proxy=false bb:1 sh -c "$TRAP_LOOP" > "$BATS_TEST_TMPDIR/out" 2>&1 3>&- &
  local cli=$!
  CLI_PIDS=$cli
  wait_for_line "$BATS_TEST_TMPDIR/out" ready
  kill -TERM "$cli"
  local code=0
  wait "$cli" || code=$?
  [ "$code" -eq 143 ]
  sleep 0.5
  run b inspect -f '{{.State.Running}}' keep
  [ "$output" = true ]
  ! grep -q "got TERM" "$BATS_TEST_TMPDIR/out"
  run b rm -f keep
  [ "$status" -eq 0 ]
}

@test "start -a: signals are forwarded too" {
  run b create --name att bb:1 sh -c "$TRAP_LOOP"
  [ "$status" -eq 0 ]
  "$BERTH" --root "$ROOT" --runroot "$RUNROOT" start -a att > "$BATS_TEST_TMPDIR/out" 2>&1 3>&- &
  local cli=$!
  CLI_PIDS=$cli
  wait_for_line "$BATS_TEST_TMPDIR/out" ready
  kill -USR1 "$cli"
  local code=0
  wait "$cli" || code=$?
  [ "$code" -eq 6 ]
  grep -qx "got USR1" "$BATS_TEST_TMPDIR/out"
  run b wait att
  [ "$output" = 6 ]
}
