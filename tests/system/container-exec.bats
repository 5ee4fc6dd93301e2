#!/usr/bin/env bats
# exec, attach and -it terminals as a Docker user drives them: exit codes,
# -e/-u/-w, -d, -i, a stopped container, attach to running output, a pty
# inside under script(1), its size, and the detach keys.

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
  store_reset
  ! grep -q "$BATS_TEST_TMPDIR" /proc/self/mountinfo || false
}

b() { "$BERTH" --root "$ROOT" --runroot "$RUNROOT" "$@"; }
B="\"$BERTH\" --root \"\$ROOT\" --runroot \"\$RUNROOT\""

# in_pty ROWS COLS CMD: run CMD on a new pty of that size (script(1)),
# with this shell's stdin as the typed input.
in_pty() {
  local rows=$1 cols=$2
  shift 2
  ROOT=$ROOT RUNROOT=$RUNROOT BERTH=$BERTH \
    timeout 30 script -qfec "stty rows $rows cols $cols; $*" /dev/null
}

@test "exec: output, exit code, -e -u -w, and flags after the container go to the command" {
  b run -d --name ctr bb:1 sleep 1000 > /dev/null
  run b exec ctr echo hello
  [ "$status" -eq 0 ]
  [ "$output" = hello ]
  run b exec ctr sh -c 'exit 7'
  [ "$status" -eq 7 ]
  run b exec -e X=one -e Y -w /tmp -u nobody ctr sh -c 'echo "$X|$Y|$(pwd)|$(id -u):$(id -g)"'
  [ "$status" -eq 0 ]
  [ "$output" = "one||/tmp|65534:65534" ]
  run b exec -u 123:45 ctr sh -c 'echo $(id -u):$(id -g)'
  [ "$output" = "123:45" ]
  run b exec -u nosuchuser ctr true
  [ "$status" -ne 0 ]
  [[ "$output" =~ "unable to find user nosuchuser" ]]
  printf 'A=from-file\n# comment\n\n' > "$BATS_TEST_TMPDIR/env"
  run b exec --env-file "$BATS_TEST_TMPDIR/env" ctr sh -c 'echo $A'
  [ "$output" = from-file ]
  run --separate-stderr b exec ctr sh -c 'echo out; echo err >&2'
  [ "$output" = out ]
  [ "$stderr" = err ]
}

@test "exec: 127 for a command not found, 126 for one that cannot run" {
  b run -d --name ctr bb:1 sleep 1000 > /dev/null
  run -127 b exec ctr no-such-command
  [[ "$output" =~ "no-such-command" ]]
  [[ "$output" =~ "not found" ]]
  run -126 b exec ctr /etc/passwd
  run -126 b exec ctr /tmp
  # the container is unharmed
  run b exec ctr echo still
  [ "$output" = still ]
}

@test "exec -i passes stdin; without -i the command reads nothing" {
  b run -d --name ctr bb:1 sleep 1000 > /dev/null
  run bash -c "printf 'one\ntwo\n' | '$BERTH' --root '$ROOT' --runroot '$RUNROOT' exec -i ctr cat"
  [ "$status" -eq 0 ]
  [ "$output" = "$(printf 'one\ntwo')" ]
  run bash -c "printf 'one\n' | '$BERTH' --root '$ROOT' --runroot '$RUNROOT' exec ctr cat"
  [ "$status" -eq 0 ]
  [ -z "$output" ]
}

@test "exec -d returns at once and the command runs on" {
  b run -d --name ctr bb:1 sleep 1000 > /dev/null
  run b exec -d ctr sh -c 'sleep 1; echo done > /tmp/marker'
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  run b exec ctr cat /tmp/marker
  [ "$status" -ne 0 ]
  sleep 1.5
  run b exec ctr cat /tmp/marker
  [ "$output" = done ]
}

@test "exec --privileged gets every capability; a plain exec does not" {
  b run -d --name ctr bb:1 sleep 1000 > /dev/null
  run b exec ctr sh -c 'grep CapEff /proc/self/status'
  local plain=$output
  run b exec --privileged ctr sh -c 'grep CapEff /proc/self/status'
  [ "$status" -eq 0 ]
  [ "$output" != "$plain" ]
  # every capability berth itself holds
  [ "${output##*:}" = "$(awk '/CapBnd/ {print $2}' /proc/self/status)" ] ||
    [ "$(echo ${output##*:})" = "$(awk '/CapBnd/ {print $2}' /proc/self/status)" ]
}

@test "exec into a stopped or missing container: Docker's message, exit 1" {
  local id
  id=$(b create --name stp bb:1 true)
  run -1 b exec stp true
  [ "$output" = "Error: Container $id is not running" ]
  b start stp > /dev/null
  b wait stp > /dev/null
  run -1 b exec stp true
  [ "$output" = "Error: Container $id is not running" ]
  run -1 b exec nope true
  [ "$output" = "Error: No such container: nope" ]
  run -1 b exec stp
  [[ "$output" =~ "requires at least 2 arguments" ]]
  run -125 b exec --detach-keys ctrl-xx stp true
  [[ "$output" =~ "Invalid detach keys (ctrl-xx) provided" ]]
}

@test "attach: sees new output of a running container and its exit code" {
  b run -d --name att bb:1 sh -c 'sleep 1; echo after-attach; exit 5' > /dev/null
  run -5 b attach att
  [ "$output" = after-attach ]
  run -1 b attach att
  [[ "$output" =~ "You cannot attach to a stopped container, start it first" ]]
  # a loop's output keeps coming; a signal ends attach, not the container
  b run -d --name loop bb:1 sh -c 'i=0; while :; do echo tick $i; i=$((i+1)); sleep 0.2; done' > /dev/null
  run timeout 1.5 "$BERTH" --root "$ROOT" --runroot "$RUNROOT" attach --sig-proxy=false loop
  [[ "$output" =~ tick\ [0-9]+ ]]
  [ "$(b inspect -f '{{.State.Running}}' loop)" = true ]
}

@test "run -it: a pty inside, its size from the terminal, and a live resize" {
  run in_pty 33 77 "\"\$BERTH\" --root \"\$ROOT\" --runroot \"\$RUNROOT\" run --rm -it bb:1 sh -c 'tty; stty size'" < /dev/null
  [ "$status" -eq 0 ]
  [[ "$output" =~ /dev/pts/[0-9]+ ]]
  [[ "$output" =~ "33 77" ]]
  # SIGWINCH on our terminal reaches the container's pty through its monitor
  run in_pty 20 50 "\"\$BERTH\" --root \"\$ROOT\" --runroot \"\$RUNROOT\" run --rm -it bb:1 sh -c 'stty size; sleep 2; stty size' & sleep 1; stty rows 44 cols 99; wait" < /dev/null
  [[ "$output" =~ "20 50" ]]
  [[ "$output" =~ "44 99" ]]
  # exec -it too, with the exit code of its command
  b run -d --name ctr bb:1 sleep 1000 > /dev/null
  run in_pty 31 71 "\"\$BERTH\" --root \"\$ROOT\" --runroot \"\$RUNROOT\" exec -it ctr sh -c 'tty; stty size; exit 3'" < /dev/null
  [ "$status" -eq 3 ]
  [[ "$output" =~ /dev/pts/[0-9]+ ]]
  [[ "$output" =~ "31 71" ]]
}

@test "detach keys: ctrl-p ctrl-q leaves the container running; attach again; custom keys" {
  run bash -c "(sleep 1.5; printf '\020\021') | ROOT=$ROOT RUNROOT=$RUNROOT timeout 30 script -qfec '$B run -it --name det bb:1 sh' /dev/null"
  [ "$status" -eq 0 ]
  [ "$(b inspect -f '{{.State.Running}}' det)" = true ]
  # input typed after attaching reaches the same shell; the detach keys
  # end attach with Docker's message and code
  run bash -c "(sleep 1; printf 'echo val=\$((6*7))\n'; sleep 1; printf '\001x') | ROOT=$ROOT RUNROOT=$RUNROOT timeout 30 script -qfec '$B attach --detach-keys ctrl-a,x det' /dev/null"
  [ "$status" -eq 1 ]
  [[ "$output" =~ "val=42" ]]
  [[ "$output" =~ "read escape sequence" ]]
  [ "$(b inspect -f '{{.State.Running}}' det)" = true ]
  # a key that only starts the sequence is passed on
  run bash -c "(sleep 1; printf '\020echo p-ok\n'; sleep 1; printf '\020\021') | ROOT=$ROOT RUNROOT=$RUNROOT timeout 30 script -qfec '$B attach det' /dev/null"
  [[ "$output" =~ "p-ok" ]]
  [ "$(b inspect -f '{{.State.Running}}' det)" = true ]
}
