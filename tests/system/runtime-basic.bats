#!/usr/bin/env bats
# berth-runtime driven as runc is: lifecycle, process settings, resources.

load helpers

setup() { setup_runtime; }
teardown() { teardown_runtime; }

@test "version and spec" {
  run "$RUNTIME" --version
  [ "$status" -eq 0 ]
  [[ "$output" == *"berth-runtime version"* ]]
  [[ "$output" == *"spec: 1."* ]]
  dir=$BATS_TEST_TMPDIR/spec
  mkdir -p "$dir"
  (cd "$dir" && "$RUNTIME" spec)
  jq -e '.ociVersion and .process.args[0] == "sh" and .root.path == "rootfs"' "$dir/config.json"
  run bash -c "cd '$dir' && '$RUNTIME' spec"
  [ "$status" -ne 0 ]
  [[ "$output" == *"config.json exists"* ]]
}

@test "berth runtime is the same front end" {
  run "$BERTH" runtime --version
  [ "$status" -eq 0 ]
  [[ "$output" == *"berth-runtime version"* ]]
}

@test "run returns the container's exit code" {
  run rt run -b "$BUNDLE" "$CID"
  [ "$status" -eq 0 ]
  cfg_args sh -c 'exit 3'
  run rt run -b "$BUNDLE" "$CID"
  [ "$status" -eq 3 ]
  assert_clean "$CID"
}

@test "run passes output through and sets env, cwd, hostname" {
  cfg '.process.env += ["FOO=bar"] | .process.cwd = "/tmp" | .hostname = "boxy"'
  cfg_args sh -c 'echo "$FOO $(pwd) $(hostname) $HOME"'
  run rt run -b "$BUNDLE" "$CID"
  [ "$status" -eq 0 ]
  [ "$output" = "bar /tmp boxy /root" ]
}

@test "create, start, state, kill, delete" {
  cfg_args sleep 100
  rt create -b "$BUNDLE" --pid-file "$BATS_TEST_TMPDIR/pid" "$CID"
  run rt state "$CID"
  [ "$(echo "$output" | jq -r .status)" = created ]
  pid=$(echo "$output" | jq -r .pid)
  [ "$pid" = "$(cat "$BATS_TEST_TMPDIR/pid")" ]
  [ "$(echo "$output" | jq -r .bundle)" = "$BUNDLE" ]
  kill -0 "$pid"
  rt start "$CID"
  wait_status "$CID" running
  run rt start "$CID"
  [ "$status" -ne 0 ]
  run rt delete "$CID"
  [ "$status" -ne 0 ]
  [[ "$output" == *"not stopped"* ]]
  rt kill "$CID" KILL
  wait_status "$CID" stopped
  rt delete "$CID"
  assert_clean "$CID"
  run rt state "$CID"
  [ "$status" -ne 0 ]
  [[ "$output" == *"does not exist"* ]]
}

@test "list and ps show the container" {
  cfg_args sleep 100
  rt run -d -b "$BUNDLE" "$CID"
  run rt list
  [[ "$output" == *"$CID"*running* ]]
  run rt list -q
  [ "$output" = "$CID" ]
  pid=$(rt state "$CID" | jq -r .pid)
  run rt ps --format json "$CID"
  [ "$(echo "$output" | jq -r '.[0]')" = "$pid" ]
  run rt ps "$CID"
  [[ "${lines[0]}" == *PID* ]]
  [[ "$output" == *sleep* ]]
  rt delete --force "$CID"
  assert_clean "$CID"
}

@test "exec runs in the container and returns its exit code" {
  cfg_args sleep 100
  cfg '.hostname = "exechost"'
  rt run -d -b "$BUNDLE" "$CID"
  run rt exec "$CID" hostname
  [ "$status" -eq 0 ]
  [ "$output" = exechost ]
  run rt exec "$CID" sh -c 'exit 7'
  [ "$status" -eq 7 ]
  run rt exec --env X=1 --cwd /tmp "$CID" sh -c 'echo $X $(pwd)'
  [ "$output" = "1 /tmp" ]
  run rt exec --user 65534:65534 "$CID" id -u
  [ "$output" = 65534 ]
  # it sees the container's processes, pid 1 is the init
  run rt exec "$CID" cat /proc/1/cmdline
  [[ "$output" == sleep* ]]
  run rt exec "$CID" /nonexistent
  [ "$status" -ne 0 ]
  [[ "$output" == *"no such file or directory"* ]]
  run rt exec "$CID" nosuchcommand
  [ "$status" -ne 0 ]
  [[ "$output" == *"executable file not found"* ]]
  rt delete --force "$CID"
}

@test "exec --process and detached exec with pid file" {
  cfg_args sleep 100
  rt run -d -b "$BUNDLE" "$CID"
  jq '.args = ["sh", "-c", "echo from-process-json"] | .terminal = false' \
    "$BUNDLE/config.json" > /dev/null
  jq '.process | .args = ["sh", "-c", "echo from-process-json"]' "$BUNDLE/config.json" \
    > "$BATS_TEST_TMPDIR/process.json"
  run rt exec --process "$BATS_TEST_TMPDIR/process.json" "$CID"
  [ "$output" = from-process-json ]
  rt exec -d --pid-file "$BATS_TEST_TMPDIR/epid" "$CID" sleep 50
  epid=$(cat "$BATS_TEST_TMPDIR/epid")
  grep -q sleep "/proc/$epid/cmdline"
  rt delete --force "$CID"
  pid_dead "$epid"
}

@test "user, groups, umask and no_new_privs" {
  cfg '.process.user = {"uid": 65534, "gid": 65534, "additionalGids": [5], "umask": 63}'
  cfg_args sh -c 'id; umask; grep NoNewPrivs /proc/self/status'
  run rt run -b "$BUNDLE" "$CID"
  [ "$status" -eq 0 ]
  [[ "${lines[0]}" == "uid=65534"*"gid=65534"*"groups="*"5"* ]]
  [ "${lines[1]}" = "0077" ]
  [[ "${lines[2]}" == *"1" ]]
}

@test "capabilities: all five sets as configured" {
  # CAP_KILL(5) + CAP_NET_BIND_SERVICE(10) = 0x420
  cfg '.process.capabilities = {"bounding":["CAP_KILL","CAP_NET_BIND_SERVICE"],"effective":["CAP_KILL","CAP_NET_BIND_SERVICE"],"permitted":["CAP_KILL","CAP_NET_BIND_SERVICE"],"inheritable":["CAP_KILL"],"ambient":["CAP_KILL"]}'
  cfg_args grep -E '^Cap(Inh|Prm|Eff|Bnd|Amb)' /proc/self/status
  run rt run -b "$BUNDLE" "$CID"
  [ "$status" -eq 0 ]
  [[ "$output" == *"CapInh:	0000000000000020"* ]]
  [[ "$output" == *"CapPrm:	0000000000000420"* ]]
  [[ "$output" == *"CapEff:	0000000000000420"* ]]
  [[ "$output" == *"CapBnd:	0000000000000420"* ]]
  [[ "$output" == *"CapAmb:	0000000000000020"* ]]
}

@test "rlimits apply; raising a hard limit is reported clearly" {
  cfg '.process.rlimits = [{"type":"RLIMIT_NOFILE","soft":123,"hard":456}]'
  cfg_args sh -c 'ulimit -n; ulimit -Hn'
  run rt run -b "$BUNDLE" "$CID"
  [ "${lines[0]}" = 123 ]
  [ "${lines[1]}" = 456 ]
  hard=$(ulimit -Hn)
  cfg ".process.rlimits = [{\"type\":\"RLIMIT_NOFILE\",\"soft\":1024,\"hard\":$((hard * 4))}]"
  run rt run -b "$BUNDLE" "$CID"
  [ "$status" -ne 0 ]
  [[ "$output" == *"RLIMIT_NOFILE"*"CAP_SYS_RESOURCE"* ]]
  assert_clean "$CID"
}

@test "read-only rootfs, masked and read-only paths" {
  cfg '.root.readonly = true'
  cfg_args sh -c 'touch /x 2>&1; wc -c < /proc/timer_list; echo 1 > /proc/sys/kernel/domainname 2>&1; ls /sys/firmware | wc -l'
  run rt run -b "$BUNDLE" "$CID"
  [[ "${lines[0]}" == *"Read-only file system"* ]]
  [ "${lines[1]}" = 0 ]
  [[ "${lines[2]}" == *"Read-only file system"* ]]
  [ "${lines[3]}" = 0 ]
}

@test "default devices exist and /dev is the container's own" {
  cfg_args sh -c 'ls -l /dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/tty | wc -l; echo x > /dev/null && echo ok; readlink /dev/fd; readlink /dev/ptmx'
  run rt run -b "$BUNDLE" "$CID"
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = 6 ]
  [ "${lines[1]}" = ok ]
  [ "${lines[2]}" = /proc/self/fd ]
  [ "${lines[3]}" = pts/ptmx ]
}

@test "linux.devices creates nodes with mode and owner" {
  cfg '.linux.devices = [{"path":"/dev/mynull","type":"c","major":1,"minor":3,"fileMode":420,"uid":65534,"gid":5}] | .linux.resources.devices += [{"allow":true,"type":"c","major":1,"minor":3,"access":"rwm"}]'
  cfg_args stat -c '%F %a %u %g %t:%T' /dev/mynull
  run rt run -b "$BUNDLE" "$CID"
  [ "$status" -eq 0 ]
  [ "$output" = "character special file 644 65534 5 1:3" ]
}

@test "memory limit of 1 MiB still starts, and pids limit applies" {
  cfg '.linux.resources.memory = {"limit": 1048576} | .linux.resources.pids = {"limit": 7}'
  cfg '.linux.cgroupsPath = "/berth-test/'"$CID"'"'
  cfg_args sh -c 'echo started'
  run rt run -b "$BUNDLE" "$CID"
  [ "$status" -eq 0 ]
  [ "$output" = started ]
  cfg_args sleep 100
  rt run -d -b "$BUNDLE" "$CID"
  [ "$(cat /sys/fs/cgroup/memory/berth-test/$CID/memory.limit_in_bytes)" = 1048576 ]
  [ "$(cat /sys/fs/cgroup/pids/berth-test/$CID/pids.max)" = 7 ]
  rt update --memory 8m --pids-limit 20 "$CID"
  [ "$(cat /sys/fs/cgroup/memory/berth-test/$CID/memory.limit_in_bytes)" = 8388608 ]
  [ "$(cat /sys/fs/cgroup/pids/berth-test/$CID/pids.max)" = 20 ]
  echo '{"pids":{"limit":30}}' | rt update -r - "$CID"
  [ "$(cat /sys/fs/cgroup/pids/berth-test/$CID/pids.max)" = 30 ]
  rt delete --force "$CID"
  [ ! -d "/sys/fs/cgroup/memory/berth-test/$CID" ]
  rmdir /sys/fs/cgroup/*/berth-test 2>/dev/null || true
}

@test "pause and resume" {
  cfg_args sleep 100
  rt run -d -b "$BUNDLE" "$CID"
  rt pause "$CID"
  wait_status "$CID" paused
  pid=$(rt state "$CID" | jq -r .pid)
  grep -q '^State:.*(stopped\|D\|S)' "/proc/$pid/status" || true
  rt resume "$CID"
  wait_status "$CID" running
  rt delete --force "$CID"
  assert_clean "$CID"
}

@test "kill --all reaches every process" {
  cfg_args sh -c 'sleep 100 & sleep 100 & wait'
  rt run -d -b "$BUNDLE" "$CID"
  sleep 0.2
  run rt ps --format json "$CID"
  [ "$(echo "$output" | jq length)" -eq 3 ]
  rt kill --all "$CID" KILL
  wait_status "$CID" stopped
  rt delete "$CID"
  assert_clean "$CID"
}

@test "terminal: run allocates a pty from the container's devpts" {
  cfg '.process.terminal = true'
  cfg_args sh -c 'tty; [ -t 0 ] && echo is-a-tty; ls -l /dev/console | cut -c1'
  run rt run -b "$BUNDLE" "$CID" < /dev/null
  [ "$status" -eq 0 ]
  [[ "$output" == *"/dev/pts/0"* ]]
  [[ "$output" == *"is-a-tty"* ]]
}

@test "user namespace with uid and gid mappings" {
  cfg '.linux.namespaces += [{"type":"user"}] | .linux.uidMappings = [{"containerID":0,"hostID":100000,"size":65536}] | .linux.gidMappings = [{"containerID":0,"hostID":100000,"size":65536}]'
  chown -R 100000:100000 "$BUNDLE/rootfs"
  cfg_args sh -c 'id -u; cat /proc/self/uid_map'
  # the container's root (host uid 100000) must be able to reach the rootfs
  run rt run -b "$BUNDLE" "$CID"
  [ "$status" -ne 0 ]
  [[ "$output" == *"cannot reach the rootfs"* ]]
  d=$BUNDLE
  while [ "$d" != / ]; do chmod o+x "$d"; d=$(dirname "$d"); done
  run rt run -b "$BUNDLE" "$CID"
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = 0 ]
  [[ "${lines[1]}" == *"0"*"100000"*"65536"* ]]
}

@test "seccomp profile returns the configured errno" {
  cfg '.linux.seccomp = {"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":1}]}'
  cfg_args sh -c 'mkdir /tmp/x 2>&1; echo rc=$?'
  run rt run -b "$BUNDLE" "$CID"
  [[ "$output" == *"Operation not permitted"* ]]
  [[ "$output" == *"rc=1"* ]]
}

@test "sysctl in the container's network namespace" {
  cfg '.linux.sysctl = {"net.ipv4.ip_forward": "1"}'
  cfg_args cat /proc/sys/net/ipv4/ip_forward
  run rt run -b "$BUNDLE" "$CID"
  [ "$output" = 1 ]
}

@test "joining another container's namespaces by path" {
  cfg_args sleep 100
  cfg '.hostname = "first"'
  rt run -d -b "$BUNDLE" "$CID"
  pid=$(rt state "$CID" | jq -r .pid)
  b2=$BATS_TEST_TMPDIR/b2
  make_bundle "$b2"
  jq --arg p "/proc/$pid/ns/uts" '.linux.namespaces = (.linux.namespaces | map(if .type == "uts" then .path = $p else . end)) | .process.args = ["hostname"] | del(.hostname)' \
    "$b2/config.json" > "$b2/c.tmp" && mv "$b2/c.tmp" "$b2/config.json"
  run rt run -b "$b2" "${CID}b"
  [ "$status" -eq 0 ]
  [ "$output" = first ]
  rt delete --force "$CID"
}

@test "joining another container's network namespace alone (the fast path)" {
  cfg_args sleep 100
  rt run -d -b "$BUNDLE" "$CID"
  pid=$(rt state "$CID" | jq -r .pid)
  b2=$BATS_TEST_TMPDIR/b2
  make_bundle "$b2"
  jq --arg p "/proc/$pid/ns/net" '.linux.namespaces = (.linux.namespaces | map(if .type == "network" then .path = $p else . end)) | .process.args = ["readlink", "/proc/self/ns/net"]' \
    "$b2/config.json" > "$b2/c.tmp" && mv "$b2/c.tmp" "$b2/config.json"
  run rt run -b "$b2" "${CID}b"
  [ "$status" -eq 0 ]
  [ "$output" = "$(readlink /proc/$pid/ns/net)" ]
  # the first container's namespace, not the host's
  [ "$output" != "$(readlink /proc/self/ns/net)" ]
  rt delete --force "$CID"
}

@test "time namespace offsets" {
  cfg '.linux.namespaces += [{"type":"time"}] | .linux.timeOffsets = {"boottime":{"secs":86400000}}'
  cfg_args cut -d. -f1 /proc/uptime
  run rt run -b "$BUNDLE" "$CID"
  [ "$status" -eq 0 ]
  [ "$output" -gt 86400000 ]
}

@test "hooks run in order with the state on stdin" {
  log=$BATS_TEST_TMPDIR/hooks.log
  for h in prestart createRuntime poststart poststop; do
    printf '#!/bin/sh\necho %s $(/usr/bin/jq -r .status) >> %s\n' "$h" "$log" > "$BATS_TEST_TMPDIR/$h.sh"
    chmod +x "$BATS_TEST_TMPDIR/$h.sh"
  done
  # createContainer runs in the container's namespaces: check the hostname
  printf '#!/bin/sh\necho createContainer $(hostname) >> %s\n' "$log" > "$BATS_TEST_TMPDIR/cc.sh"
  chmod +x "$BATS_TEST_TMPDIR/cc.sh"
  cfg ".hostname = \"hooked\" | .hooks = {\"prestart\":[{\"path\":\"$BATS_TEST_TMPDIR/prestart.sh\"}],\"createRuntime\":[{\"path\":\"$BATS_TEST_TMPDIR/createRuntime.sh\"}],\"createContainer\":[{\"path\":\"$BATS_TEST_TMPDIR/cc.sh\"}],\"poststart\":[{\"path\":\"$BATS_TEST_TMPDIR/poststart.sh\"}],\"poststop\":[{\"path\":\"$BATS_TEST_TMPDIR/poststop.sh\"}]}"
  rt run -b "$BUNDLE" "$CID"
  run cat "$log"
  [ "${lines[0]}" = "prestart created" ]
  [ "${lines[1]}" = "createRuntime created" ]
  [ "${lines[2]}" = "createContainer hooked" ]
  [ "${lines[3]}" = "poststart running" ]
  [ "${lines[4]}" = "poststop stopped" ]
}

@test "SIGKILL reaches a paused container" {
  cfg_args sleep 100
  rt run -d -b "$BUNDLE" "$CID"
  rt pause "$CID"
  wait_status "$CID" paused
  rt kill "$CID" KILL
  wait_status "$CID" stopped
  rt delete "$CID"
  assert_clean "$CID"
}

@test "idmapped bind mounts map ids, with and without a user namespace" {
  share=$BATS_TEST_TMPDIR/share
  mkdir -p "$share"
  echo hostfile > "$share/f"
  cfg ".mounts += [{\"destination\":\"/share\",\"type\":\"bind\",\"source\":\"$share\",\"options\":[\"bind\",\"idmap\"],\"uidMappings\":[{\"containerID\":0,\"hostID\":1000,\"size\":1}],\"gidMappings\":[{\"containerID\":0,\"hostID\":1000,\"size\":1}]}]"
  cfg_args sh -c 'stat -c "%u:%g" /share/f; cat /share/f'
  run rt run -b "$BUNDLE" "$CID"
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "1000:1000" ]
  [ "${lines[1]}" = hostfile ]
  # A user-namespaced container owns the host's root-owned files through the
  # mount, and what it writes lands on disk as root.
  m='[{"containerID":0,"hostID":100000,"size":65536}]'
  cfg ".linux.namespaces += [{\"type\":\"user\"}] | .linux.uidMappings = $m | .linux.gidMappings = $m | .mounts[-1].uidMappings = $m | .mounts[-1].gidMappings = $m"
  chown -R 100000:100000 "$BUNDLE/rootfs"
  d=$BUNDLE
  while [ "$d" != / ]; do chmod o+x "$d"; d=$(dirname "$d"); done
  cfg_args sh -c 'stat -c "%u:%g" /share/f; echo new > /share/g && echo wrote'
  run rt run -b "$BUNDLE" "$CID"
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "0:0" ]
  [ "${lines[1]}" = wrote ]
  [ "$(stat -c %u:%g "$share/g")" = "0:0" ]
  assert_clean "$CID"
}

@test "events: stats snapshot and stream from the container's cgroup" {
  cfg_args sh -c 'sleep 100 & sleep 100'
  cfg '.linux.resources.memory = {"limit": 67108864} | .linux.resources.pids = {"limit": 50}'
  rt run -d -b "$BUNDLE" "$CID"
  # the shell forks its two sleeps just after start: wait for them
  local i
  for i in $(seq 100); do
    [ "$(rt events --stats "$CID" | jq -r .data.pids.current)" -ge 2 ] && break
    sleep 0.02
  done
  run rt events --stats "$CID"
  [ "$status" -eq 0 ]
  [ "$(echo "$output" | jq -r .type)" = stats ]
  [ "$(echo "$output" | jq -r .data.memory.usage.limit)" = 67108864 ]
  [ "$(echo "$output" | jq -r .data.pids.limit)" = 50 ]
  [ "$(echo "$output" | jq -r .data.pids.current)" -ge 2 ]
  [ "$(echo "$output" | jq -r .data.memory.usage.usage)" -gt 0 ]
  run timeout 3 "$RUNTIME" --root "$STATE_ROOT" events --interval 200ms "$CID"
  [ "$(echo "$output" | grep -c '"type":"stats"')" -ge 3 ]
  rt delete --force "$CID"
  run rt events --stats "$CID"
  [ "$status" -ne 0 ]
  [[ "$output" == *"does not exist"* ]]
}
