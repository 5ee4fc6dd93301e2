#!/usr/bin/env bats
# A container's life after start: restart policies (on-failure:N, always,
# and a user's stop that ends it for good), health checks, --init, stats
# and `system boot`. The image is a busybox rootfs imported into a private
# store, as in container-basic.bats.

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
  for id in $(b ps -aq --no-trunc 2>/dev/null); do
    b rm -f "$id" > /dev/null 2>&1 || true
  done
  # an exit handler in its restart backoff finds its container gone
  sleep 0.3
  store_reset
  ! grep -q "$BATS_TEST_TMPDIR" /proc/self/mountinfo || false
}

b() { "$BERTH" --root "$ROOT" --runroot "$RUNROOT" "$@"; }

# wait_for SECONDS CMD...: retry CMD every 0.1 s until it succeeds
wait_for() {
  local n=$(($1 * 10))
  shift
  while ((n-- > 0)); do
    if "$@"; then return 0; fi
    sleep 0.1
  done
  "$@"
}

state_is() { [ "$(b inspect --format '{{.State.Status}} {{.RestartCount}}' "$1" 2>/dev/null)" = "$2" ]; }
health_is() { [ "$(b inspect --format '{{.State.Health.Status}}' "$1" 2>/dev/null)" = "$2" ]; }

@test "restart on-failure:2: two restarts, then it stays exited with RestartCount 2" {
  run b run -d --name flaky --restart on-failure:2 bb:1 sh -c 'echo ran; exit 3'
  [ "$status" -eq 0 ]
  wait_for 10 state_is flaky "exited 2"
  sleep 1 # no third restart comes
  run b inspect --format '{{.State.Status}} {{.State.ExitCode}} {{.RestartCount}} {{.HostConfig.RestartPolicy.Name}}' flaky
  [ "$output" = "exited 3 2 on-failure" ]
  # every run logged its line: three runs in all
  run b logs flaky
  [ "$output" = "$(printf 'ran\nran\nran')" ]
  # a success is not restarted by on-failure
  b run -d --name fine --restart on-failure bb:1 true
  wait_for 10 state_is fine "exited 0"
  sleep 0.5
  state_is fine "exited 0"
}

@test "restart always: restarted after each exit; stop ends it for good" {
  run b run -d --name loop --restart always bb:1 sh -c 'sleep 0.2; exit 0'
  [ "$status" -eq 0 ]
  wait_for 15 eval '[ "$(b inspect --format "{{.RestartCount}}" loop)" -ge 2 ]'
  run b stop -t 1 loop
  [ "$status" -eq 0 ]
  local count
  count=$(b inspect --format '{{.RestartCount}}' loop)
  sleep 1.5
  run b inspect --format '{{.State.Status}} {{.RestartCount}}' loop
  [ "$output" = "exited $count" ]
  # start makes the policy apply again
  b start loop
  wait_for 15 eval '[ "$(b inspect --format "{{.RestartCount}}" loop)" -gt "$count" ]'
  b kill loop
  sleep 1
  run b inspect --format '{{.State.Status}}' loop
  [ "$output" = exited ]
}

@test "restart: ps shows Restarting during the backoff" {
  # the backoff doubles from 100 ms: by the 6th restart it is 3.2 s
  b run -d --name crashy --restart always bb:1 sh -c 'exit 7'
  # both views during one backoff (the later ones last seconds)
  wait_for 20 eval '[ "$(b inspect --format "{{.State.Restarting}}" crashy)" = true ] &&
    b ps --format "{{.Status}}" --filter name=crashy | grep -q "^Restarting (7) "'

}

@test "health: a passing check turns healthy, inspect and ps show it" {
  b run -d --name ok --health-cmd 'test -e /tmp/ready' --health-interval 1s --health-retries 2 \
    bb:1 sh -c 'touch /tmp/ready; exec sleep 1000'
  run b inspect --format '{{.State.Health.Status}}' ok
  [ "$output" = starting ]
  run b ps --format '{{.Status}}'
  [[ "$output" =~ ^Up\ .*\ \(health:\ starting\)$ ]]
  wait_for 10 health_is ok healthy
  run b ps --format '{{.Names}} {{.Status}}'
  [[ "$output" =~ ^ok\ Up\ .*\ \(healthy\)$ ]]
  run b inspect --format '{{.State.Health.FailingStreak}} {{(index .State.Health.Log 0).ExitCode}}' ok
  [ "$output" = "0 0" ]
  run b ps -q --filter health=healthy
  [ "${output}" = "$(b inspect --format '{{.Id}}' ok | cut -c1-12)" ]
  run b ps -q --filter health=unhealthy
  [ -z "$output" ]
}

@test "health: a failing check turns unhealthy after Retries, with its output logged" {
  b run -d --name bad --health-cmd 'echo not ready; exit 1' --health-interval 1s --health-retries 2 \
    bb:1 sleep 1000
  wait_for 10 health_is bad unhealthy
  run b inspect --format '{{.State.Health.FailingStreak}}' bad
  [ "$output" -ge 2 ]
  run b inspect --format '{{(index .State.Health.Log 0).ExitCode}} {{(index .State.Health.Log 0).Output}}' bad
  [ "$output" = "1 not ready" ]
  run b ps --format '{{.Status}}' --filter health=unhealthy
  [[ "$output" =~ \(unhealthy\)$ ]]
  # the Log keeps the last 5 results
  wait_for 10 eval '[ "$(b inspect --format "{{len .State.Health.Log}}" bad)" = 5 ]'
  sleep 1.5
  run b inspect --format '{{len .State.Health.Log}}' bad
  [ "$output" = 5 ]
  # no check: no Health in inspect, nothing in ps
  b run -d --name plain bb:1 sleep 1000
  run b inspect --format '{{.State.Health}}' plain
  [ "$output" = "<no value>" ]
}

@test "health: a check that outlives its timeout fails" {
  b run -d --name slow --health-cmd 'sleep 5' --health-interval 1s --health-timeout 300ms \
    --health-retries 1 bb:1 sleep 1000
  wait_for 10 health_is slow unhealthy
  run b inspect --format '{{(index .State.Health.Log 0).ExitCode}} {{(index .State.Health.Log 0).Output}}' slow
  [[ "$output" =~ ^-1\ Health\ check\ exceeded\ timeout ]]
}

@test "stats --no-stream: Docker's columns, the memory in use and the limit" {
  b run -d --name hog --memory 64m bb:1 sh -c 'exec sleep 1000'
  run b stats --no-stream
  [ "$status" -eq 0 ]
  [[ "${lines[0]}" =~ ^CONTAINER\ ID\ +NAME\ +CPU\ %\ +MEM\ USAGE\ /\ LIMIT\ +MEM\ %\ +NET\ I/O\ +BLOCK\ I/O\ +PIDS$ ]]
  [[ "${lines[1]}" =~ ^[0-9a-f]{12}\ +hog\ +[0-9.]+%\ +[0-9.]+(B|KiB|MiB)\ /\ 64MiB\ +[0-9.]+%\ +.*\ +1$ ]]
  # a non-zero usage
  run b stats --no-stream --format '{{.MemUsage}}' hog
  [[ "$output" =~ ^[1-9][0-9.]*(KiB|MiB)\ /\ 64MiB$ ]]
  # a stopped container shows only with --all
  b create --name idle bb:1 true > /dev/null
  run b stats --no-stream --format '{{.Name}}'
  [ "$output" = hog ]
  run b stats --no-stream --all --format '{{.Name}} {{.PIDs}}'
  [[ "$output" =~ "idle 0" ]]
}

@test "system boot: starts always and unless-stopped containers, not stopped ones" {
  b run -d --name a1 --restart always bb:1 sleep 1000 > /dev/null
  b run -d --name u1 --restart unless-stopped bb:1 sleep 1000 > /dev/null
  b run -d --name u2 --restart unless-stopped bb:1 sleep 1000 > /dev/null
  b run -d --name n1 bb:1 sleep 1000 > /dev/null
  b stop -t 0 a1 u1 u2 n1 > /dev/null
  b start u2 > /dev/null
  # as after a reboot: u2's monitor and process die without berth knowing
  local id pid mon
  id=$(b inspect --format '{{.Id}}' u2)
  pid=$(b inspect --format '{{.State.Pid}}' u2)
  mon=$(jq -r .MonitorPid "$ROOT/containers/$id/state.json")
  [ "$mon" -gt 1 ] && [ "$pid" -gt 1 ]
  kill -9 "$mon" "$pid"
  wait_for 5 state_is u2 "exited 0"
  run b system boot
  [ "$status" -eq 0 ]
  [ "$output" = "$(printf 'a1\nu2')" ]
  run b ps --format '{{.Names}}'
  [ "$(echo "$output" | sort | tr '\n' ' ')" = "a1 u2 " ]
  run b system boot --print-unit
  [[ "$output" =~ ExecStart=.*berth\ --root\ $ROOT\ --runroot\ $RUNROOT\ system\ boot ]]
  [[ "$output" =~ WantedBy=multi-user.target ]]
}
