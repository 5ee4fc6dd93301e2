#!/usr/bin/env bats
# berth-runtime given bad input: every case fails with a non-zero exit and a
# message naming the field or the cause, and leaves nothing behind (no state
# dir, cgroup, mount or process).

load helpers

setup() {
  setup_isolated
  cp "$BUNDLE/config.json" "$BATS_TEST_TMPDIR/config.good"
}

teardown() { teardown_isolated; }
teardown_file() { teardown_isolated_file; }

# create_fails SUBSTRING...: `create` fails, its message has every
# substring, nothing is left.
create_fails() {
  runf rt create -b "$BUNDLE" "$CID"
  echo "status $status: $output"
  [ "$status" -ne 0 ]
  [ -n "$output" ]
  local s
  for s in "$@"; do
    [[ "$output" == *"$s"* ]] || { echo "message lacks '$s'"; return 1; }
  done
  assert_nothing_left
}

reset_config() { cp "$BATS_TEST_TMPDIR/config.good" "$BUNDLE/config.json"; }

@test "malformed JSON config" {
  printf '{"ociVersion": "1.0.2", "process": {"args": ["sh"]' >"$BUNDLE/config.json"
  create_fails config.json JSON
  printf 'not json at all' >"$BUNDLE/config.json"
  create_fails config.json JSON
  : >"$BUNDLE/config.json"
  create_fails config.json
  printf '[1, 2]' >"$BUNDLE/config.json"
  create_fails config
  # nesting far deeper than any config: refused, not a crash
  { printf '{"ociVersion":"1.0.2","annotations":{"x":'
    printf '[%.0s' $(seq 1 100000)
    printf ']%.0s' $(seq 1 100000)
    printf '}}'; } >"$BUNDLE/config.json"
  create_fails config.json
  rm "$BUNDLE/config.json"
  create_fails config.json
}

@test "config violating the schema names the field" {
  # jq filter, then the substrings the message must have
  local cases=(
    '.process.terminal = "yes"' 'process.terminal' ''
    '.process.args = "sh"' 'process.args' ''
    '.process.args = []' 'process.args' 'empty'
    '.process.user.uid = "root"' 'process.user.uid' ''
    'del(.process.args)' 'process.args' 'required'
    'del(.process.cwd)' 'process.cwd' 'required'
    '.process.cwd = "relative/dir"' 'process.cwd' 'absolute'
    '.process.env = ["NOEQUALS"]' 'process.env[0]' 'NOEQUALS'
    '.process.capabilities.bounding += ["CAP_BOGUS"]' 'CAP_BOGUS' 'unknown capability'
    '.process.rlimits = [{"type":"RLIMIT_BOGUS","soft":1,"hard":1}]' 'RLIMIT_BOGUS' ''
    '.process.rlimits = [{"type":"RLIMIT_NOFILE","soft":10,"hard":5}]' 'process.rlimits' 'hard'
    '.linux.namespaces += [{"type":"bogus"}]' 'unknown namespace type' 'bogus'
    '.linux.namespaces += [{"type":"pid"}]' 'pid' 'given twice'
    '.linux.namespaces = [{"type":"pid"}] | del(.hostname)' 'mount namespace' ''
    '.linux.devices = [{"path":"/dev/x","type":"q","major":1,"minor":3}]' 'linux.devices[0].type' 'q'
    '.linux.devices = [{"path":"dev/x","type":"c","major":1,"minor":3}]' 'linux.devices[0].path' 'dev/x'
    '.hooks = {"prestart":[{"path":"relative/hook"}]}' 'hooks.prestart[0].path' 'relative/hook'
    '.hooks = {"prestart":[{"path":"/bin/true","timeout":0}]}' 'hooks.prestart[0].timeout' ''
    '.mounts += [{"destination":"/x"}]' 'mounts[' 'type'
    '.mounts += [{"destination":"","type":"tmpfs"}]' 'mounts[' 'destination'
    '.root = {}' 'root.path' 'required'
    '.ociVersion = "0.1"' 'ociVersion' '0.1'
    '.linux.sysctl = {"kernel.panic":"1"}' 'kernel.panic' 'host'
    '.linux.uidMappings = [{"containerID":0,"hostID":1000,"size":1}]' 'uidMappings' 'user namespace'
    '.linux.rootfsPropagation = "sideways"' 'rootfsPropagation' 'sideways'
  )
  local i
  for ((i = 0; i < ${#cases[@]}; i += 3)); do
    reset_config
    cfg "${cases[i]}"
    echo "== ${cases[i]}"
    create_fails "${cases[i + 1]}" "${cases[i + 2]}"
  done
}

@test "missing rootfs directory" {
  cfg '.root.path = "no-such-rootfs"'
  create_fails rootfs no-such-rootfs
  cfg '.root.path = "config.json"'
  create_fails rootfs "not a directory"
}

@test "namespace path that does not exist, or is of the wrong type" {
  cfg '.linux.namespaces = (.linux.namespaces | map(if .type == "uts" then .path = "/nonexistent/ns/uts" else . end))'
  create_fails /nonexistent/ns/uts uts
  reset_config
  # an ipc namespace given as the uts one
  cfg '.linux.namespaces = (.linux.namespaces | map(if .type == "uts" then .path = "/proc/self/ns/ipc" else . end))'
  create_fails /proc/self/ns/ipc "not a uts namespace"
  reset_config
  # not a namespace at all
  cfg '.linux.namespaces = (.linux.namespaces | map(if .type == "network" then .path = "/etc/hostname" else . end))'
  create_fails /etc/hostname network
}

@test "duplicate container id is refused and the first container is unharmed" {
  cfg_args sleep 100
  rt create -b "$BUNDLE" "$CID"
  pid=$(rt state "$CID" | jq -r .pid)
  runf rt create -b "$BUNDLE" "$CID"
  [ "$status" -ne 0 ]
  [[ "$output" == *"$CID"*"already exists"* ]]
  runf rt run -b "$BUNDLE" "$CID"
  [ "$status" -ne 0 ]
  [[ "$output" == *"already exists"* ]]
  # the first is still there, still waiting to start
  [ "$(rt state "$CID" | jq -r .status)" = created ]
  [ "$(rt state "$CID" | jq -r .pid)" = "$pid" ]
  kill -0 "$pid"
  [ -p "$STATE_ROOT/$CID/exec.fifo" ]
  rt start "$CID"
  wait_status "$CID" running
  rt delete --force "$CID"
  assert_nothing_left
}

@test "a failing prestart hook fails create with its output" {
  printf '#!/bin/sh\necho "hook-says-no: bad day" >&2\nexit 1\n' >"$BATS_TEST_TMPDIR/hook.sh"
  chmod +x "$BATS_TEST_TMPDIR/hook.sh"
  cfg '.hooks = {"prestart":[{"path":"'"$BATS_TEST_TMPDIR/hook.sh"'"}]}'
  create_fails prestart "exit status 1" "hook-says-no: bad day"
  # the same through createRuntime and createContainer
  cfg '.hooks = {"createRuntime":[{"path":"'"$BATS_TEST_TMPDIR/hook.sh"'"}]}'
  create_fails createRuntime "hook-says-no: bad day"
  cfg '.hooks = {"createContainer":[{"path":"'"$BATS_TEST_TMPDIR/hook.sh"'"}]}'
  create_fails createContainer "hook-says-no: bad day"
  # a hook that does not exist
  cfg '.hooks = {"prestart":[{"path":"'"$BATS_TEST_TMPDIR/no-such-hook"'"}]}'
  create_fails prestart no-such-hook
}

@test "a hook that outlives its timeout is killed and fails create" {
  # argv[0] names the test directory, so a surviving hook is found.
  cfg '.hooks = {"prestart":[{"path":"/bin/sleep","args":["'"$BATS_TEST_TMPDIR/hooksleep"'","30"],"timeout":1}]}'
  start=$SECONDS
  create_fails prestart "timed out"
  [ $((SECONDS - start)) -le 5 ]
}

@test "an executable that does not exist" {
  cfg_args no-such-command-xyz
  create_fails "executable file not found" no-such-command-xyz
  cfg_args /no/such/binary
  create_fails /no/such/binary "no such file or directory"
  cfg_args /etc
  create_fails /etc "is a directory"
}

@test "a cwd that does not exist" {
  cfg '.process.cwd = "/no/such/dir"'
  create_fails cwd /no/such/dir
  cfg '.process.cwd = "/etc/passwd"'
  create_fails cwd /etc/passwd
}

@test "terminal without a console socket" {
  cfg '.process.terminal = true'
  create_fails terminal console-socket
  runf rt create -b "$BUNDLE" --console-socket "$BATS_TEST_TMPDIR/no-such.sock" "$CID"
  [ "$status" -ne 0 ]
  [[ "$output" == *"no-such.sock"* ]]
  assert_nothing_left
}

@test "kill with an unknown signal" {
  cfg_args sleep 100
  rt run -d -b "$BUNDLE" "$CID"
  for sig in SIGBOGUS BOGUS 0 99999 -9 RTMAX+1; do
    run rt kill "$CID" "$sig"
    echo "$sig: $status $output"
    [ "$status" -ne 0 ]
    [[ "$output" == *"unknown signal"* ]]
  done
  [ "$(rt state "$CID" | jq -r .status)" = running ]
  rt delete --force "$CID"
  assert_nothing_left
}

@test "commands on an unknown id" {
  for cmd in state start "kill" delete pause resume ps; do
    run rt $cmd no-such-container
    echo "$cmd: $status $output"
    [ "$status" -ne 0 ]
    [[ "$output" == *"no-such-container"*"does not exist"* ]]
  done
  run rt exec no-such-container true
  [ "$status" -ne 0 ]
  [[ "$output" == *"does not exist"* ]]
  run rt update --pids-limit 5 no-such-container
  [ "$status" -ne 0 ]
  [[ "$output" == *"does not exist"* ]]
  [ ! -e "$STATE_ROOT/no-such-container" ]
}

@test "invalid container ids" {
  for id in "../escape" "a/b" ".." "." "with space" 'semi;colon' "$(printf 'new\nline')" ""; do
    runf rt create -b "$BUNDLE" "$id"
    echo "'$id': $status $output"
    [ "$status" -ne 0 ]
    [[ "$output" == *"invalid container id"* ]]
    run rt state "$id"
    [ "$status" -ne 0 ]
  done
  [ ! -e "$BATS_TEST_TMPDIR/escape" ]
  [ -z "$(ls -A "$STATE_ROOT" 2>/dev/null)" ]
  [ -z "$(procs_left)" ]
}

@test "start of a stopped container" {
  cfg_args true
  rt create -b "$BUNDLE" "$CID"
  rt start "$CID"
  wait_status "$CID" stopped
  run rt start "$CID"
  [ "$status" -ne 0 ]
  [[ "$output" == *"stopped"* ]]
  [ "$(rt state "$CID" | jq -r .status)" = stopped ]
  rt delete "$CID"
  assert_nothing_left
}

@test "exec into a stopped container" {
  cfg_args true
  rt create -b "$BUNDLE" "$CID"
  rt start "$CID"
  wait_status "$CID" stopped
  runf rt exec "$CID" true
  [ "$status" -ne 0 ]
  [[ "$output" == *"stopped"* ]]
  runf rt exec -d "$CID" sleep 100
  [ "$status" -ne 0 ]
  [[ "$output" == *"stopped"* ]]
  rt delete "$CID"
  assert_nothing_left
}

@test "delete without --force refuses a running container and keeps it running" {
  cfg_args sleep 100
  rt run -d -b "$BUNDLE" "$CID"
  pid=$(rt state "$CID" | jq -r .pid)
  run rt delete "$CID"
  [ "$status" -ne 0 ]
  [[ "$output" == *"$CID"*"not stopped"* ]]
  [ "$(rt state "$CID" | jq -r .status)" = running ]
  kill -0 "$pid"
  [ -d "$STATE_ROOT/$CID" ]
  [ -n "$(cgroup_dirs_of "$CID")" ]
  rt delete --force "$CID"
  pid_dead "$pid"
  assert_nothing_left
}

@test "delete of a paused container: refused without --force, done with it" {
  cfg_args sleep 100
  rt run -d -b "$BUNDLE" "$CID"
  pid=$(rt state "$CID" | jq -r .pid)
  rt pause "$CID"
  wait_status "$CID" paused
  run rt delete "$CID"
  [ "$status" -ne 0 ]
  [[ "$output" == *"not stopped"* ]]
  [ "$(rt state "$CID" | jq -r .status)" = paused ]
  kill -0 "$pid"
  run rt delete --force "$CID"
  echo "delete --force: $status $output"
  [ "$status" -eq 0 ]
  pid_dead "$pid"
  assert_nothing_left
}
