#!/usr/bin/env bats
# pause, unpause, restart, rename, top, port, update and container prune, as
# a Docker user runs them; every effect is checked from outside berth (the
# cgroup files, the host's process table, the store's directories).

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
    b unpause "$id" > /dev/null 2>&1 || true
    b rm -f "$id" > /dev/null 2>&1 || true
  done
  store_reset
  ! grep -q "$BATS_TEST_TMPDIR" /proc/self/mountinfo || false
}

b() { "$BERTH" --root "$ROOT" --runroot "$RUNROOT" "$@"; }

# cgfile CONTROLLER V1-FILE V2-FILE ID: the container's cgroup file
cgfile() {
  if [ -e /sys/fs/cgroup/cgroup.controllers ]; then
    echo "/sys/fs/cgroup/berth/$4/$3"
  else
    echo "/sys/fs/cgroup/$1/berth/$4/$2"
  fi
}

cgv2() { [ -e /sys/fs/cgroup/cgroup.controllers ]; }

# the state of the process with pid $1 in /proc (R, S, D, ...)
proc_state() { awk '/^State:/ {print $2}' "/proc/$1/status"; }

@test "pause, unpause: the cgroup is frozen and thawed, ps and inspect say so" {
  local id
  id=$(b run -d --name p1 bb:1 sh -c 'while :; do date +%s%N > /tmp/tick; sleep 0.05; done')
  local freeze
  if cgv2; then freeze=$(cgfile x x cgroup.freeze "$id"); else freeze=$(cgfile freezer freezer.state x "$id"); fi
  run b pause p1
  [ "$status" -eq 0 ]
  [ "$output" = p1 ]
  if cgv2; then [ "$(cat "$freeze")" = 1 ]; else [ "$(cat "$freeze")" = FROZEN ]; fi
  run b ps --format '{{.Names}} {{.Status}} {{.State}}'
  [[ "$output" =~ ^p1\ Up\ .*\ \(Paused\)\ paused$ ]]
  run b inspect -f '{{.State.Status}} {{.State.Paused}} {{.State.Running}}' p1
  [ "$output" = "paused true true" ]
  # frozen: the loop makes no progress
  local merged pid t1 t2
  pid=$(b inspect -f '{{.State.Pid}}' p1)
  t1=$(cat "/proc/$pid/root/tmp/tick")
  sleep 0.3
  t2=$(cat "/proc/$pid/root/tmp/tick")
  [ "$t1" = "$t2" ]
  run b pause p1
  [ "$status" -eq 1 ]
  [ "$output" = "Error: Container $id is already paused" ]
  run b unpause p1
  [ "$status" -eq 0 ]
  [ "$output" = p1 ]
  if cgv2; then [ "$(cat "$freeze")" = 0 ]; else [ "$(cat "$freeze")" = THAWED ]; fi
  # thawed: the loop moves again (within 5 s, however loaded the machine)
  local i
  for i in $(seq 50); do
    [ "$(cat "/proc/$pid/root/tmp/tick")" != "$t2" ] && break
    sleep 0.1
  done
  [ "$(cat "/proc/$pid/root/tmp/tick")" != "$t2" ]
  run b unpause p1
  [ "$status" -eq 1 ]
  [ "$output" = "Error: Container $id is not paused" ]
  run b ps --format '{{.Names}} {{.State}}'
  [ "$output" = "p1 running" ]
  # a stopped container, an unknown one; several at once: one error each
  b kill p1 > /dev/null
  b wait p1 > /dev/null
  run b pause p1
  [ "$status" -eq 1 ]
  [ "$output" = "Error: Container $id is not running" ]
  run b container unpause p1 nope
  [ "$status" -eq 1 ]
  [ "${lines[0]}" = "Error: Container $id is not paused" ]
  [ "${lines[1]}" = "Error: No such container: nope" ]
  run b pause
  [ "$status" -eq 1 ]
  [[ "$output" =~ \"berth\ pause\"\ requires\ at\ least\ 1\ argument ]]
}

@test "restart: a new process, the name printed; a created or paused one starts too" {
  b run -d --name r1 bb:1 sleep 1000 > /dev/null
  local pid1 pid2 started1
  pid1=$(b inspect -f '{{.State.Pid}}' r1)
  started1=$(b inspect -f '{{.State.StartedAt}}' r1)
  run b restart -t 1 r1
  [ "$status" -eq 0 ]
  [ "$output" = r1 ]
  pid2=$(b inspect -f '{{.State.Pid}}' r1)
  [ "$pid2" -gt 0 ]
  [ "$pid1" != "$pid2" ]
  [ ! -e "/proc/$pid1" ]
  [ -e "/proc/$pid2" ]
  [ "$(b inspect -f '{{.State.StartedAt}}' r1)" != "$started1" ]
  run b ps --format '{{.Names}} {{.State}}'
  [ "$output" = "r1 running" ]
  # paused: thawed, stopped, started
  b pause r1 > /dev/null
  run b container restart -t 0 r1
  [ "$status" -eq 0 ]
  [ "$(b inspect -f '{{.State.Status}}' r1)" = running ]
  [ ! -e "/proc/$pid2" ]
  # created (never started): restart starts it
  b create --name r2 bb:1 sleep 1000 > /dev/null
  run b restart r2
  [ "$status" -eq 0 ]
  [ "$(b inspect -f '{{.State.Status}}' r2)" = running ]
  run b restart nope
  [ "$status" -eq 1 ]
  [ "$output" = "Error: No such container: nope" ]
  run b restart -t x r1
  [ "$status" -eq 125 ]
}

@test "rename: ps shows the new name, the old one is free, Docker's errors" {
  local id
  id=$(b run -d --name old bb:1 sleep 1000)
  b create --name other bb:1 true > /dev/null
  run b rename old new
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  run b ps --format '{{.Names}}'
  [ "$output" = new ]
  [ "$(b inspect -f '{{.Name}}' "$id")" = /new ]
  run b inspect old
  [ "$status" -eq 1 ]
  # the old name can be taken again
  b create --name old bb:1 true > /dev/null
  run b container rename new other
  [ "$status" -eq 1 ]
  [[ "$output" =~ 'Conflict. The container name "/other" is already in use by container' ]]
  run b rename new 'bad name!'
  [ "$status" -eq 1 ]
  [[ "$output" =~ "Invalid container name (bad name!)" ]]
  run b rename new new
  [ "$status" -eq 1 ]
  [[ "$output" =~ "Renaming a container with the same name as its current name" ]]
  run b rename nope x
  [ "$status" -eq 1 ]
  [ "$output" = "Error: No such container: nope" ]
  run b rename new
  [ "$status" -eq 1 ]
  [[ "$output" =~ \"berth\ rename\"\ requires\ exactly\ 2\ arguments ]]
  run b ps --format '{{.Names}}'
  [ "$output" = new ]
}

@test "top: the container's processes as ps shows them, with ps options" {
  local id
  id=$(b run -d --name t1 bb:1 sh -c 'sleep 1000 & exec sleep 2000')
  local pid
  pid=$(b inspect -f '{{.State.Pid}}' t1)
  for _ in $(seq 50); do pgrep -P "$pid" > /dev/null && break; sleep 0.05; done
  run b top t1
  [ "$status" -eq 0 ]
  [[ "${lines[0]}" =~ ^UID\ +PID\ +PPID\ +C\ +STIME\ +TTY\ +TIME\ +CMD$ ]]
  # only the container's two processes, the init's pid among them
  [ "${#lines[@]}" -eq 3 ]
  [[ "$output" =~ root\ +$pid\ .*\ sleep\ 2000 ]]
  [[ "$output" =~ sleep\ 1000 ]]
  ! [[ "$output" =~ bats ]]
  # docker's tabwriter: cells padded to 20 at least
  [ "${lines[0]:0:20}" = "UID                 " ]
  run b top t1 aux
  [ "$status" -eq 0 ]
  [[ "${lines[0]}" =~ ^USER\ +PID\ +%CPU\ +%MEM ]]
  [ "${#lines[@]}" -eq 3 ]
  run b container top t1 -o pid,comm
  [ "$status" -eq 0 ]
  [[ "${lines[0]}" =~ ^PID\ +COMMAND$ ]]
  [[ "$output" =~ $pid\ +sleep ]]
  run b top t1 -o pid,ppid=PID
  [ "$status" -eq 1 ]
  [ "$output" = 'Error: specifying "pid,ppid=PID" is not allowed' ]
  run b top t1 -o comm
  [ "$status" -eq 1 ]
  [ "$output" = "Error: Couldn't find PID field in ps output" ]
  run b top t1 --no-such-ps-option
  [ "$status" -eq 1 ]
  [[ "$output" =~ ^Error:\ Error\ running\ ps:\ exit\ status ]]
  b kill t1 > /dev/null
  b wait t1 > /dev/null
  run b top t1
  [ "$status" -eq 1 ]
  [ "$output" = "Error: Container $id is not running" ]
  run b top nope
  [ "$status" -eq 1 ]
  [ "$output" = "Error: No such container: nope" ]
}

@test "port: nothing published, Docker's message for a port" {
  b run -d --name web bb:1 sleep 1000 > /dev/null
  run --separate-stderr b port web
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  [ -z "$stderr" ]
  run b port web 80
  [ "$status" -eq 1 ]
  [ "$output" = "Error: No public port '80/tcp' published for web" ]
  run b container port web 53/udp
  [ "$status" -eq 1 ]
  [ "$output" = "Error: No public port '53/udp' published for web" ]
  run b port web http
  [ "$status" -eq 1 ]
  [[ "$output" =~ 'parsing "http": invalid syntax' ]]
  run b port nope
  [ "$status" -eq 1 ]
  [ "$output" = "Error: No such container: nope" ]
}

@test "update: limits change in the cgroup at once and inspect shows them" {
  local id
  id=$(b run -d --name u1 -m 64m bb:1 sleep 1000)
  local mem
  if cgv2; then mem=$(cgfile x x memory.max "$id"); else mem=$(cgfile memory memory.limit_in_bytes x "$id"); fi
  [ "$(cat "$mem")" = 67108864 ]
  # a limit above the memoryswap in force (2 x 64m) needs a new memoryswap
  run b update -m 200m u1
  [ "$status" -eq 1 ]
  [ "$output" = "Error: Cannot update container $id: Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time" ]
  [ "$(cat "$mem")" = 67108864 ]
  run b update -m 100m --memory-swap 300m --memory-reservation 50m --cpus 0.5 \
    --cpu-shares 512 --pids-limit 42 --cpuset-cpus 0 --restart on-failure:2 u1
  [ "$status" -eq 0 ]
  [ "$output" = u1 ]
  [ "$(cat "$mem")" = 104857600 ]
  if cgv2; then
    [ "$(cat "$(cgfile x x cpu.max "$id")")" = "50000 100000" ]
    [ "$(cat "$(cgfile x x pids.max "$id")")" = 42 ]
    [ "$(cat "$(cgfile x x cpuset.cpus "$id")")" = 0 ]
  else
    [ "$(cat "$(cgfile memory memory.memsw.limit_in_bytes x "$id")")" = 314572800 ]
    [ "$(cat "$(cgfile memory memory.soft_limit_in_bytes x "$id")")" = 52428800 ]
    [ "$(cat "$(cgfile cpu cpu.cfs_quota_us x "$id")")" = 50000 ]
    [ "$(cat "$(cgfile cpu cpu.shares x "$id")")" = 512 ]
    [ "$(cat "$(cgfile pids pids.max x "$id")")" = 42 ]
    [ "$(cat "$(cgfile cpuset cpuset.cpus x "$id")")" = 0 ]
  fi
  run b inspect -f '{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}} {{.HostConfig.MemoryReservation}} {{.HostConfig.NanoCpus}} {{.HostConfig.CpuShares}} {{.HostConfig.PidsLimit}} {{.HostConfig.CpusetCpus}} {{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}' u1
  [ "$output" = "104857600 314572800 52428800 500000000 512 42 0 on-failure:2" ]
  # unlimited pids again
  run b update --pids-limit -1 u1
  [ "$status" -eq 0 ]
  if cgv2; then [ "$(cat "$(cgfile x x pids.max "$id")")" = max ]; else [ "$(cat "$(cgfile pids pids.max x "$id")")" = max ]; fi
}

@test "update: a stopped container's new limits apply at its next start" {
  local id
  id=$(b create --name u2 bb:1 sleep 1000)
  run b container update -m 32m --memory-swap 64m u2
  [ "$status" -eq 0 ]
  [ "$output" = u2 ]
  [ "$(b inspect -f '{{.HostConfig.Memory}}' u2)" = 33554432 ]
  b start u2 > /dev/null
  local mem
  if cgv2; then mem=$(cgfile x x memory.max "$id"); else mem=$(cgfile memory memory.limit_in_bytes x "$id"); fi
  [ "$(cat "$mem")" = 33554432 ]
}

@test "update: bad values and unknown containers change nothing" {
  local id
  id=$(b run -d --name u3 -m 64m bb:1 sleep 1000)
  local mem
  if cgv2; then mem=$(cgfile x x memory.max "$id"); else mem=$(cgfile memory memory.limit_in_bytes x "$id"); fi
  run b update -m 1x u3
  [ "$status" -eq 125 ]
  [[ "$output" =~ 'invalid argument "1x" for "-m, --memory" flag' ]]
  run b update --cpus abc u3
  [ "$status" -eq 125 ]
  [[ "$output" =~ 'invalid argument "abc" for "--cpus" flag' ]]
  run b update --cpu-shares lots u3
  [ "$status" -eq 125 ]
  run b update -m 1m u3
  [ "$status" -eq 1 ]
  [ "$output" = "Error: Minimum memory limit allowed is 6MB" ]
  run b update --cpus 100000 u3
  [ "$status" -eq 1 ]
  [[ "$output" =~ "Range of CPUs is from 0.01 to" ]]
  run b update --cpuset-cpus 4095 u3
  [ "$status" -eq 1 ]
  [[ "$output" =~ "Requested CPUs are not available - requested 4095" ]]
  run b update --cpuset-cpus x u3
  [ "$status" -eq 1 ]
  run b update --restart bogus u3
  [ "$status" -eq 1 ]
  [ "$output" = "Error: invalid restart policy 'bogus'" ]
  run b update -m 64m --memory-swap 32m u3
  [ "$status" -eq 1 ]
  [[ "$output" =~ "Minimum memoryswap limit should be larger than memory limit" ]]
  run b update u3
  [ "$status" -eq 1 ]
  [ "$output" = "Error: you must provide one or more flags when using this command" ]
  run b update -m 32m nope
  [ "$status" -eq 1 ]
  [ "$output" = "Error: No such container: nope" ]
  [ "$(cat "$mem")" = 67108864 ]
  # nothing of the refused updates was recorded
  [ "$(b inspect -f '{{json .HostConfig}}' u3)" = '{"Memory":67108864}' ]
}

@test "container prune: stopped containers go, running ones stay; filters; the prompt" {
  local big ex lab run
  big=$(b create --name big bb:1 sh -c 'dd if=/dev/zero of=/big bs=1024 count=1024 2>/dev/null')
  b start big > /dev/null
  b wait big > /dev/null
  lab=$(b create --name lab --label keep=yes bb:1 true)
  run=$(b run -d --name up bb:1 sleep 1000)
  b pause up > /dev/null
  # no: nothing removed
  run bash -c "echo n | '$BERTH' --root '$ROOT' --runroot '$RUNROOT' container prune"
  [ "$status" -eq 0 ]
  [[ "$output" =~ "WARNING! This will remove all stopped containers." ]]
  [[ "$output" =~ "Total reclaimed space: 0B" ]]
  [ "$(b ps -aq | wc -l)" -eq 3 ]
  run b container prune -f --filter nope=1
  [ "$status" -eq 1 ]
  [ "$output" = "Error: invalid filter 'nope'" ]
  run b container prune -f --filter until=later
  [ "$status" -eq 1 ]
  # created within the hour: until=1h removes nothing
  run b container prune -f --filter until=1h
  [ "$output" = "Total reclaimed space: 0B" ]
  run b container prune -f --filter label!=keep
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "Deleted Containers:" ]
  [ "${lines[1]}" = "$big" ]
  # the 1 MiB file written in the container: go-units HumanSize
  [ "${lines[2]}" = "Total reclaimed space: 1.049MB" ]
  [ ! -e "$ROOT/containers/$big" ]
  run b container prune -f --filter label=keep=yes
  [ "${lines[1]}" = "$lab" ]
  # the paused (running) container stays, and keeps running
  run b ps -a --format '{{.Names}} {{.State}}'
  [ "$output" = "up paused" ]
  run b container prune --force
  [ "$output" = "Total reclaimed space: 0B" ]
}
