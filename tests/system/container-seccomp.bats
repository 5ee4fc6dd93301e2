#!/usr/bin/env bats
# The default seccomp profile in a real container, as berth loads it: the
# program libseccomp compiles, rewritten smaller by runtime/seccomp-bpf.c
# (tests/unit/test-seccomp-bpf.c compares the two on every input class).
# Here: what a user sees. Each check runs twice, the second time from the
# compiled-program cache.

load helpers
bats_require_minimum_version 1.5.0

setup() { container_store_setup; }
teardown() { container_store_teardown; }

@test "the default profile denies unshare and mount, allows the rest" {
  for pass in 1 2; do
    run b run --rm --network none bb:1 sh -c \
      'grep "^Seccomp:" /proc/self/status; unshare -U true; echo "unshare=$?"; mount -t tmpfs x /mnt; echo "mount=$?"; echo alive'
    [ "$status" -eq 0 ]
    [[ "$output" =~ Seccomp:[[:space:]]+2 ]]
    [[ "$output" == *"unshare"*"Operation not permitted"* ]]
    [[ "$output" =~ "unshare=1" ]]
    [[ "$output" =~ "mount=1" ]]
    [[ "$output" =~ "alive" ]]
  done
  [ -n "$(ls "$RUNROOT/seccomp-cache")" ]
}

@test "seccomp=unconfined and CAP_SYS_ADMIN lift the unshare denial" {
  if [ "$(cat /proc/sys/user/max_user_namespaces 2>/dev/null || echo 0)" = 0 ]; then
    skip "user namespaces disabled on this host"
  fi
  run b run --rm --network none --security-opt seccomp=unconfined bb:1 sh -c \
    'grep "^Seccomp:" /proc/self/status; unshare -U true; echo "unshare=$?"'
  [ "$status" -eq 0 ]
  [[ "$output" =~ Seccomp:[[:space:]]+0 ]]
  [[ "$output" =~ "unshare=0" ]]
  # CAP_SYS_ADMIN switches in the profile's unshare rule (a different
  # profile, so a different program) and keeps the filter on.
  for pass in 1 2; do
    run b run --rm --network none --cap-add SYS_ADMIN bb:1 sh -c \
      'grep "^Seccomp:" /proc/self/status; unshare -U true; echo "unshare=$?"'
    [ "$status" -eq 0 ]
    [[ "$output" =~ Seccomp:[[:space:]]+2 ]]
    [[ "$output" =~ "unshare=0" ]]
  done
}

@test "personality: only the personas Docker's profile lists" {
  # linux32 is personality(PER_LINUX32), which the profile allows; the
  # argument check is part of the program that was rewritten.
  run b run --rm --network none bb:1 sh -c 'linux32 uname -m; echo "rc=$?"'
  [ "$status" -eq 0 ]
  [[ "$output" =~ "i686" ]]
  [[ "$output" =~ "rc=0" ]]
}
