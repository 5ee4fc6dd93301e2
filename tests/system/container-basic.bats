#!/usr/bin/env bats
# Containers as a Docker user runs them: run (foreground, -d, --rm, -i),
# create/start, ps, logs, stop, kill, wait, rm, inspect, and what is left
# behind. The image is a busybox rootfs imported into a private store.

load helpers
bats_require_minimum_version 1.5.0

setup() {
  ROOT=$BATS_TEST_TMPDIR/root
  RUNROOT=$BATS_TEST_TMPDIR/run
  ensure_busybox_rootfs
  tar -C "$BUSYBOX_ROOTFS" -cf - . | b import --change 'CMD ["sh"]' - bb:1 > /dev/null
}

teardown() {
  # every container this test made goes, whatever state it is in
  local id
  for id in $(b ps -aq --no-trunc 2>/dev/null); do
    b rm -f "$id" > /dev/null 2>&1 || true
  done
  # nothing mounted or running from this test's store
  store_reset
  ! grep -q "$BATS_TEST_TMPDIR" /proc/self/mountinfo || false
}

b() { "$BERTH" --root "$ROOT" --runroot "$RUNROOT" "$@"; }

@test "run: output, exit code, and --rm leaves nothing" {
  run b run --rm bb:1 echo hello from berth
  [ "$status" -eq 0 ]
  [ "$output" = "hello from berth" ]
  run b run --rm bb:1 sh -c 'exit 3'
  [ "$status" -eq 3 ]
  run b ps -aq
  [ -z "$output" ]
  [ -z "$(ls "$ROOT/containers")" ]
  [ -z "$(ls "$RUNROOT/containers" 2>/dev/null)" ]
  [ -z "$(ls "$RUNROOT/runtime" 2>/dev/null)" ]
}

@test "run: stdout and stderr stay apart" {
  run --separate-stderr b run --rm bb:1 sh -c 'echo out; echo err >&2'
  [ "$status" -eq 0 ]
  [ "$output" = out ]
  [ "$stderr" = err ]
}

@test "run -i: stdin reaches the container" {
  run bash -c "printf 'line one\nline two\n' | '$BERTH' --root '$ROOT' --runroot '$RUNROOT' run --rm -i bb:1 cat"
  [ "$status" -eq 0 ]
  [ "$output" = "$(printf 'line one\nline two')" ]
}

@test "run: a command that is not found is 127, not executable 126, a bad image 125" {
  run -127 b run --rm bb:1 no-such-command
  [ "$status" -eq 127 ]
  [[ "$output" =~ "no-such-command" ]]
  run -126 b run --rm bb:1 /etc/passwd
  [ "$status" -eq 126 ]
  run b run --rm --pull never nope:1 true
  [ "$status" -eq 125 ]
  [[ "$output" =~ "No such image: nope:1" ]]
  run b run --rm --memory 1x bb:1 true
  [ "$status" -eq 125 ]
  [[ "$output" =~ "invalid" ]]
  run b ps -aq
  [ -z "$output" ]
}

@test "run -d, ps, logs, stop: the container's life as ps shows it" {
  run b run -d --name web bb:1 sh -c 'echo started; echo oops >&2; exec sleep 1000'
  [ "$status" -eq 0 ]
  [[ "$output" =~ ^[0-9a-f]{64}$ ]]
  local id=$output
  run b ps
  [ "$status" -eq 0 ]
  [[ "${lines[0]}" =~ ^CONTAINER\ ID\ +IMAGE\ +COMMAND\ +CREATED\ +STATUS\ +PORTS\ +NAMES$ ]]
  # Docker's Command: path and args joined, cut to 20 with "…", quoted
  [[ "${lines[1]}" =~ ^${id:0:12}\ +bb:1\ +\"sh\ -c\ echo\ started\;…\"\ +.*\ +Up\ .*\ +web$ ]]
  # logs: both streams, in order, from the json-file log
  for _ in $(seq 50); do grep -q oops "$ROOT/containers/$id/$id-json.log" 2>/dev/null && break; sleep 0.1; done
  run --separate-stderr b logs web
  [ "$output" = started ]
  [ "$stderr" = oops ]
  run --separate-stderr b logs -t web
  [[ "$output" =~ ^20[0-9-]+T[0-9:.]+Z\ started$ ]]
  [ "$(jq -r .stream < "$ROOT/containers/$id/$id-json.log" | head -1)" = stdout ]
  # stop: sleep as pid 1 ignores SIGTERM, so SIGKILL after the timeout
  run b stop -t 1 web
  [ "$status" -eq 0 ]
  [ "$output" = web ]
  run b ps -q
  [ -z "$output" ]
  run b ps -a --format '{{.Names}} {{.Status}}'
  [[ "$output" =~ ^web\ Exited\ \(137\)\ .*ago$ ]]
  run b inspect -f '{{.State.Status}} {{.State.ExitCode}} {{.Name}}' web
  [ "$output" = "exited 137 /web" ]
  ! grep -q "$id" /proc/self/mountinfo || false
}

@test "create, start, wait, logs; start again; rm" {
  run b create --name job bb:1 sh -c 'echo run; exit 4'
  [ "$status" -eq 0 ]
  run b ps -a --format '{{.Names}} {{.Status}}'
  [ "$output" = "job Created" ]
  run b start job
  [ "$output" = job ]
  run b wait job
  [ "$output" = 4 ]
  run b logs job
  [ "$output" = run ]
  # a second start runs it again and appends to the log
  b start job > /dev/null
  b wait job > /dev/null
  run b logs job
  [ "$output" = "$(printf 'run\nrun')" ]
  run b rm job
  [ "$status" -eq 0 ]
  run b ps -aq
  [ -z "$output" ]
}

@test "names: a taken name is refused; rm of a running container needs -f" {
  b run -d --name dup bb:1 sleep 1000 > /dev/null
  run b run -d --name dup bb:1 true
  [ "$status" -eq 125 ]
  [[ "$output" =~ "Conflict. The container name \"/dup\" is already in use" ]]
  run b rm dup
  [ "$status" -eq 1 ]
  [[ "$output" =~ "You cannot remove a running container" ]]
  run b kill dup
  [ "$status" -eq 0 ]
  run b wait dup
  [ "$output" = 137 ]
  run b run -d --name dup2 bb:1 sleep 1000
  run b rm -f dup2
  [ "$status" -eq 0 ]
  run b ps -a --format '{{.Names}}'
  [ "$output" = dup ]
}

@test "inspect: Docker's fields for a container; the generic inspect finds it first" {
  b create --name insp -e FOO=bar -w /tmp --label tier=web bb:1 echo hi > /dev/null
  run b container inspect insp
  [ "$status" -eq 0 ]
  [ "$(jq -r '.[0].Name' <<< "$output")" = /insp ]
  [ "$(jq -r '.[0].State.Status' <<< "$output")" = created ]
  [ "$(jq -r '.[0].Path' <<< "$output")" = echo ]
  [ "$(jq -r '.[0].Args[0]' <<< "$output")" = hi ]
  [ "$(jq -r '.[0].Config.WorkingDir' <<< "$output")" = /tmp ]
  [ "$(jq -r '.[0].Config.Labels.tier' <<< "$output")" = web ]
  [ "$(jq -r '.[0].Config.Env | index("FOO=bar") != null' <<< "$output")" = true ]
  [ "$(jq -r '.[0].Config.Image' <<< "$output")" = bb:1 ]
  run b inspect -f '{{.Config.Cmd}}' insp
  [ "$output" = "[echo hi]" ]
  run b container inspect nope
  [ "$status" -eq 1 ]
  [[ "$output" =~ "No such container: nope" ]]
  # the image it uses cannot be removed
  run b rmi bb:1
  [ "$status" -eq 1 ]
  [[ "$output" =~ "container" ]]
}

@test "a killed monitor: ps tells the truth and rm -f cleans up" {
  run b run -d --name orphan bb:1 sleep 1000
  local id=$output
  local mon
  mon=$(jq -r .MonitorPid "$ROOT/containers/$id/state.json")
  [ "$mon" -gt 0 ]
  kill -9 "$mon"
  # the container itself still runs; ps says so
  run b ps --format '{{.Names}} {{.State}}'
  [ "$output" = "orphan running" ]
  run b rm -f orphan
  [ "$status" -eq 0 ]
  run b ps -aq
  [ -z "$output" ]
  [ -z "$(ls "$RUNROOT/runtime" 2>/dev/null)" ]
}

@test "network none: a namespace of its own with loopback up, as Docker's" {
  run b run --rm --network none bb:1 sh -c 'ip -o link; ping -c 1 -W 2 127.0.0.1 > /dev/null && echo pinged'
  [ "$status" -eq 0 ]
  [[ "$output" == *"lo: <LOOPBACK,UP,LOWER_UP>"* ]]
  [[ "$output" == *pinged* ]]
  # only lo
  [ "$(grep -c ': <' <<< "$output")" -eq 1 ]
  # not the host's namespace
  run b run --rm --network none bb:1 readlink /proc/self/ns/net
  [ "$output" != "$(readlink /proc/self/ns/net)" ]
}
