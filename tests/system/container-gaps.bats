#!/usr/bin/env bats
# The last gaps of issue 4: a reused monitor pid never reads as running nor
# gets signalled; log driver k8s-file; a container in its restart backoff
# counts as running; exec -d leaves no zombie and dies with its container.

load helpers
bats_require_minimum_version 1.5.0

setup() {
  ROOT=$BATS_TEST_TMPDIR/root
  RUNROOT=$BATS_TEST_TMPDIR/run
  DECOY=
  ensure_busybox_rootfs
  tar -C "$BUSYBOX_ROOTFS" -cf - . | b import --change 'CMD ["sh"]' - bb:1 > /dev/null
}

teardown() {
  [ -z "$DECOY" ] || kill "$DECOY" 2>/dev/null || true
  local id
  for id in $(b ps -aq --no-trunc 2>/dev/null); do
    b rm -f "$id" > /dev/null 2>&1 || true
  done
  store_reset
  ! grep -q "$BATS_TEST_TMPDIR" /proc/self/mountinfo || false
}

b() { "$BERTH" --root "$ROOT" --runroot "$RUNROOT" "$@"; }

# wait_for SECONDS CMD...: poll until CMD succeeds
wait_for() {
  local n=$(($1 * 10))
  shift
  while ! "$@"; do
    n=$((n - 1))
    [ "$n" -gt 0 ] || return 1
    sleep 0.1
  done
}

state_is() { [ "$(b inspect -f '{{.State.Status}}' "$1")" = "$2" ]; }

# ---- 1. pid reuse ------------------------------------------------------------

@test "pid reuse: a monitor pid now held by another process is not the container's" {
  local id state mpid ipid
  id=$(b run -d bb:1 sleep 1000)
  state=$ROOT/containers/$id/state.json
  mpid=$(jq -r .MonitorPid "$state")
  ipid=$(jq -r .Pid "$state")
  [ "$mpid" -gt 1 ]
  [ "$ipid" -gt 1 ]
  # the monitor's start time is recorded beside its pid
  local mstart
  mstart=$(awk '{sub(/.*\) /, ""); print $20}' /proc/$mpid/stat)
  cp "$state" "$BATS_TEST_TMPDIR/state.seen"
  kill -9 "$mpid" "$ipid"
  wait_for 10 pid_dead "$mpid"
  wait_for 10 pid_dead "$ipid"
  # an unrelated live process gets the monitor's pid (as after pid reuse)
  sleep 1000 &
  DECOY=$!
  jq --argjson p "$DECOY" '.MonitorPid = $p' "$state" > "$state.new"
  mv "$state.new" "$state"
  run b ps -q
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  run b inspect -f '{{.State.Status}} {{.State.Running}} {{.State.Pid}}' "$id"
  [ "$output" = "exited false 0" ]
  run b stop -t 1 "$id"
  [ "$status" -eq 0 ]
  kill -0 "$DECOY"
  run b rm "$id"
  [ "$status" -eq 0 ]
  kill -0 "$DECOY"
  ! grep -q '^State:[[:space:]]*Z' /proc/$DECOY/status
  [ "$(jq -r .MonitorStartTime "$BATS_TEST_TMPDIR/state.seen")" = "$mstart" ]
}

@test "pid reuse: a state file without the start time is still read (old format)" {
  local id state mpid
  id=$(b run -d bb:1 sleep 1000)
  state=$ROOT/containers/$id/state.json
  jq 'del(.MonitorStartTime)' "$state" > "$state.new"
  mv "$state.new" "$state"
  run b inspect -f '{{.State.Status}}' "$id"
  [ "$output" = running ]
  run b stop -t 1 "$id"
  [ "$status" -eq 0 ]
  run b inspect -f '{{.State.Status}}' "$id"
  [ "$output" = exited ]
}

# ---- 3. restarting counts as running ---------------------------------------

@test "restarting: listed by ps, matched by status=restarting, waited for by wait" {
  local id
  id=$(b run -d --restart always bb:1 sh -c 'exit 3')
  # Docker's backoff doubles from 100 ms: after 4 restarts each backoff is
  # at least 1.6 s, long enough to look at
  restarting_long() {
    [ "$(b inspect -f '{{.State.Status}} {{.RestartCount}}' "$id" | awk '$1 == "restarting" && $2 >= 4 {print "y"}')" = y ]
  }
  wait_for 60 restarting_long
  b wait "$id" > "$BATS_TEST_TMPDIR/wait.out" 2>&1 &
  local waiter=$!
  run b ps --no-trunc
  [ "$status" -eq 0 ]
  [[ "$output" =~ $id.*Restarting\ \(3\)\ .*\ ago ]]
  run b ps -q --no-trunc --filter status=restarting
  [ "$output" = "$id" ]
  run b rm "$id"
  [ "$status" -ne 0 ]
  [[ "$output" =~ "You cannot remove a restarting container $id" ]]
  # wait keeps waiting across restarts
  sleep 3
  kill -0 "$waiter"
  run b stop "$id"
  [ "$status" -eq 0 ]
  # stopped for good: exited at once, and wait returns its code
  run b inspect -f '{{.State.Status}}' "$id"
  [ "$output" = exited ]
  wait_for 10 pid_dead "$waiter"
  wait "$waiter" || true
  [[ "$(cat "$BATS_TEST_TMPDIR/wait.out")" =~ ^(3|137|143)$ ]]
  sleep 2 # longer than the backoff it was in: nothing restarts it
  run b inspect -f '{{.State.Status}}' "$id"
  [ "$output" = exited ]
  run b ps -q
  [ -z "$output" ]
}

@test "restarting: an exit handler killed in its backoff reads as exited" {
  local id state hpid
  id=$(b run -d --restart always bb:1 sh -c 'exit 2')
  restarting_long() {
    [ "$(b inspect -f '{{.State.Status}} {{.RestartCount}}' "$id" | awk '$1 == "restarting" && $2 >= 4 {print "y"}')" = y ]
  }
  wait_for 60 restarting_long
  state=$ROOT/containers/$id/state.json
  hpid=$(jq -r .MonitorPid "$state")
  [ "$hpid" -gt 1 ]
  kill -9 "$hpid"
  wait_for 10 pid_dead "$hpid"
  run b inspect -f '{{.State.Status}}' "$id"
  [ "$output" = exited ]
  run timeout 10 "$BERTH" --root "$ROOT" --runroot "$RUNROOT" wait "$id"
  [ "$status" -ne 124 ] # returned, did not hang
}

# ---- 4. exec -d --------------------------------------------------------------

@test "exec -d: returns at once, the process runs on, is reaped, and dies with the container" {
  local id start end spid ppid
  id=$(b run -d bb:1 sleep 1000)
  start=$(date +%s%N)
  run b exec -d "$id" sh -c 'sleep 1; echo gaps-done > /tmp/f'
  end=$(date +%s%N)
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  [ $(((end - start) / 1000000)) -lt 900 ]
  # the CLI has exited; the process is still there, and its parent is
  # neither the host's pid 1 nor the container's init (which need not reap)
  spid=$(pgrep -f '^sh -c sleep 1; echo gaps-done' | head -1)
  [ -n "$spid" ]
  ppid=$(awk '/^PPid:/ {print $2}' /proc/$spid/status)
  [ "$ppid" -ne 1 ]
  [ "$ppid" -ne "$(b inspect -f '{{.State.Pid}}' "$id")" ]
  wait_for 10 b exec "$id" test -s /tmp/f
  run b exec "$id" cat /tmp/f
  [ "$output" = gaps-done ]
  # reaped: gone, not a zombie
  wait_for 5 eval "! kill -0 $spid 2>/dev/null"
  # a second one is ended by rm -f, with its waiter
  run b exec -d "$id" sleep 4321
  [ "$status" -eq 0 ]
  spid=$(pgrep -f '^sleep 4321$' | head -1)
  [ -n "$spid" ]
  ppid=$(awk '/^PPid:/ {print $2}' /proc/$spid/status)
  run b rm -f "$id"
  [ "$status" -eq 0 ]
  wait_for 10 eval "! kill -0 $spid 2>/dev/null"
  wait_for 10 pid_dead "$ppid"
}

@test "exec -d: a command that cannot run is still Docker's error and code" {
  local id
  id=$(b run -d bb:1 sleep 1000)
  run -127 b exec -d "$id" no-such-command
  [[ "$output" =~ "no-such-command" ]]
  run b exec -d nope true
  [ "$status" -ne 0 ]
  [[ "$output" =~ "No such container: nope" ]]
}

# ---- 2. log driver k8s-file --------------------------------------------------

@test "log driver k8s-file: CRI records, logs reads them, inspect names the file" {
  local id log
  id=$(b run -d --log-driver k8s-file bb:1 sh -c 'echo one; echo two >&2; printf "part"; sleep 2.5; echo " whole"; sleep 1000')
  log=$ROOT/containers/$id/$id-k8s.log
  run b inspect -f '{{.HostConfig.LogConfig.Type}} {{.LogPath}}' "$id"
  [ "$output" = "k8s-file $log" ]
  wait_for 15 grep -q ' whole$' "$log"
  local ts='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{9}Z'
  run cat "$log"
  [ "${#lines[@]}" -eq 4 ]
  [[ "${lines[0]}" =~ ^$ts\ stdout\ F\ one$ ]]
  [[ "${lines[1]}" =~ ^$ts\ stderr\ F\ two$ ]]
  # output that stalled without a newline is a partial record
  [[ "${lines[2]}" =~ ^$ts\ stdout\ P\ part$ ]]
  [[ "${lines[3]}" =~ ^$ts\ stdout\ F\ \ whole$ ]]
  [ ! -e "$ROOT/containers/$id/$id-json.log" ]
  run --separate-stderr b logs "$id"
  [ "$status" -eq 0 ]
  [ "$output" = "$(printf 'one\npart whole')" ]
  [ "$stderr" = two ]
  run b logs --tail 1 -t "$id"
  [[ "$output" =~ ^$ts\ \ whole$ ]]
  run b logs --since 2000-01-01T00:00:00Z --until 2001-01-01T00:00:00Z "$id"
  [ -z "$output" ]
  # -f follows new records until the container stops
  b logs -f "$id" > "$BATS_TEST_TMPDIR/follow.out" 2>&1 &
  local f=$!
  b exec "$id" sh -c 'echo later > /proc/1/fd/1'
  wait_for 10 grep -q '^later$' "$BATS_TEST_TMPDIR/follow.out"
  b stop -t 1 "$id"
  wait_for 10 pid_dead "$f"
}

@test "log driver k8s-file: rotation with max-size and max-file" {
  local id
  id=$(b run -d --log-driver k8s-file --log-opt max-size=1k --log-opt max-file=3 bb:1 \
    sh -c 'i=0; while [ $i -lt 200 ]; do echo line$i; i=$((i+1)); done')
  [ "$(b wait "$id")" = 0 ]
  local dir=$ROOT/containers/$id
  [ -e "$dir/$id-k8s.log.1" ]
  [ -e "$dir/$id-k8s.log.2" ]
  [ ! -e "$dir/$id-k8s.log.3" ]
  for f in "$dir/$id-k8s.log"*; do
    [ "$(stat -c %s "$f")" -le 1024 ]
  done
  # logs reads the kept files oldest first, the last line last
  run b logs "$id"
  [ "${lines[-1]}" = line199 ]
  local first=${lines[0]#line}
  [ "${#lines[@]}" -eq $((200 - first)) ]
}

@test "log drivers: none cannot be read, an unknown one is refused at create" {
  local id
  id=$(b run -d --log-driver none bb:1 echo hi)
  b wait "$id"
  run b logs "$id"
  [ "$status" -ne 0 ]
  [[ "$output" =~ "configured logging driver does not support reading" ]]
  run b inspect -f '{{.LogPath}}' "$id"
  [ -z "$output" ]
  run b create --log-driver nosuch bb:1 true
  [ "$status" -eq 125 ]
  [[ "$output" =~ "logger: no log driver named 'nosuch' is registered" ]]
  run b ps -aq
  [ "${#lines[@]}" -eq 1 ]
}
