#!/usr/bin/env bats
# berth-runtime against the attacks of the "Runtime" table in SECURITY.md.
# Each test mounts the attack and fails if it works. No test races the
# runtime: containers are driven with create/start, attackers wait on files
# the test writes, and every wait is a bounded poll.

load helpers

setup() {
  setup_isolated
  # mktemp -d made the shared rootfs 0700: a non-root process could not
  # even chdir to "/".
  chmod 755 "$BUNDLE/rootfs"
  # A host directory outside every rootfs: an attack that escapes the
  # rootfs leaves something here.
  HOSTDIR=$BATS_TEST_TMPDIR/hostdir
  mkdir -p "$HOSTDIR"
}

teardown() { teardown_isolated; }
teardown_file() { teardown_isolated_file; }

# wait_file PATH: wait until PATH exists (10s at most).
wait_file() {
  local i
  for i in $(seq 1 1000); do
    [ -e "$1" ] && return 0
    sleep 0.01
  done
  echo "timed out waiting for $1"
  return 1
}

# crun: create and start the bundle's container with its
# output in a file, wait until it stopped, delete it. $status is create's,
# $output/$lines the container's output (or create's error). Nothing runs in
# the foreground, so a fast exit cannot be missed.
crun() {
  local out=$BATS_TEST_TMPDIR/crun.out
  status=0
  "$RUNTIME" --root "$STATE_ROOT" create -b "$BUNDLE" "$CID" >"$out" 2>&1 || status=$?
  if [ "$status" -eq 0 ]; then
    rt start "$CID" >>"$out" 2>&1 && wait_status "$CID" stopped >>"$out" || status=$?
    rt delete --force "$CID" >>"$out" 2>&1 || status=$?
  fi
  output=$(cat "$out")
  mapfile -t lines <<<"$output"
}

# A private copy of the runtime binary: a successful attack damages only it,
# and no unrelated process running the shared build keeps it busy.
use_runtime_copy() {
  mkdir -p "$BATS_TEST_TMPDIR/bin"
  cp "$BERTH" "$BATS_TEST_TMPDIR/bin/berth"
  ln -s berth "$BATS_TEST_TMPDIR/bin/berth-runtime"
  RUNTIME=$BATS_TEST_TMPDIR/bin/berth-runtime
  RUNTIME_SHA=$(sha256sum <"$BATS_TEST_TMPDIR/bin/berth")
  RUNTIME_INODE=$(stat -c %d:%i "$BATS_TEST_TMPDIR/bin/berth")
}

assert_runtime_intact() {
  [ "$(sha256sum <"$BATS_TEST_TMPDIR/bin/berth")" = "$RUNTIME_SHA" ] || {
    echo "the runtime binary was modified: ...$(tail -c 16 "$BATS_TEST_TMPDIR/bin/berth" | od -c | head -1)"
    return 1
  }
}

# ---- CVE-2019-5736: host binary overwrite -------------------------------

# exe_attack TARGET: the script of a container process that holds
# /proc/TARGET/exe open, waits for /tmp/go (the target has exec'd away from
# that binary by then), and tries for 2s to reopen it for writing. Results in
# /tmp/opened and /tmp/result of its rootfs.
exe_attack() {
  cat <<EOF
if ! (exec 3</proc/$1/exe) 2>/tmp/open-error; then echo no-open >/tmp/opened; exit 0; fi
exec 3</proc/$1/exe
echo opened >/tmp/opened
while [ ! -e /tmp/go ]; do sleep 0.02; done
i=0
while [ \$i -lt 100 ]; do
  if { echo PWNED >>/proc/self/fd/3; } 2>/dev/null; then echo wrote >/tmp/result; exit 0; fi
  i=\$((i + 1)); sleep 0.02
done
echo refused >/tmp/result
EOF
}

# finish_exe_attack ROOTFS COMMAND...: wait until the attacker (in ROOTFS)
# holds the executable or failed to, run COMMAND (the start that makes the
# target exec away), let the attacker write. Sets $result.
finish_exe_attack() {
  local r=$1
  shift
  wait_file "$r/tmp/opened"
  "$@"
  touch "$r/tmp/go"
  if [ "$(cat "$r/tmp/opened")" = opened ]; then
    wait_file "$r/tmp/result"
    result=$(cat "$r/tmp/result")
  else
    result="no-open ($(cat "$r/tmp/open-error"))"
  fi
}

# second_bundle DIR ID: another bundle, set up as setup() does.
second_bundle() {
  make_bundle "$1"
  jq --arg cg "/berth-test/$2" '.linux.cgroupsPath = $cg' "$1/config.json" >"$1/c.tmp"
  mv "$1/c.tmp" "$1/config.json"
}

# cfg_in DIR FILTER: cfg for another bundle.
cfg_in() {
  jq "$2" "$1/config.json" >"$1/c.tmp" && mv "$1/c.tmp" "$1/config.json"
}

# join_pid_ns DIR PID: DIR's container joins the pid namespace of PID.
join_pid_ns() {
  cfg_in "$1" '.linux.namespaces = (.linux.namespaces | map(if .type == "pid" then .path = "/proc/'"$2"'/ns/pid" else . end))'
}

# The pid of host pid $1 in its innermost pid namespace.
inner_pid() { awk '/^NSpid:/ {print $NF}' "/proc/$1/status"; }

PTRACE_CAPS='{bounding: ["CAP_SYS_PTRACE","CAP_KILL","CAP_AUDIT_WRITE"], effective: ["CAP_SYS_PTRACE","CAP_KILL","CAP_AUDIT_WRITE"], permitted: ["CAP_SYS_PTRACE","CAP_KILL","CAP_AUDIT_WRITE"]}'

@test "CVE-2019-5736: exec into a created container cannot reach the runtime binary" {
  use_runtime_copy
  # CAP_SYS_PTRACE (docker --cap-add SYS_PTRACE) defeats non-dumpability.
  cfg ".process.capabilities = $PTRACE_CAPS"
  cfg_args sleep 100
  rt create -b "$BUNDLE" "$CID"
  runf rt exec -d "$CID" sh -c "$(exe_attack 1)"
  if [ "$status" -ne 0 ]; then
    # refused: the waiting init stays out of reach of container code
    [[ "$output" == *created* ]]
    result="exec refused: $output"
    rt start "$CID"
  else
    finish_exe_attack "$BUNDLE/rootfs" rt start "$CID"
  fi
  rt delete --force "$CID"
  echo "attack: $result"
  assert_runtime_intact
  [ "$result" != wrote ]
}

@test "CVE-2019-5736: a container joining a pid namespace with CAP_SYS_PTRACE in it waits out of reach" {
  use_runtime_copy
  # A, running, with CAP_SYS_PTRACE: the attacker lives here.
  cfg ".process.capabilities = $PTRACE_CAPS"
  cfg_args sleep 100
  rt run -d -b "$BUNDLE" "$CID"
  pa=$(rt state "$CID" | jq -r .pid)
  # B joins A's pid namespace (a pod) and waits in "created", visible to A.
  b2=$BATS_TEST_TMPDIR/b2
  second_bundle "$b2" "${CID}b"
  join_pid_ns "$b2" "$pa"
  cfg_in "$b2" '.process.args = ["sleep", "100"]'
  rt create -b "$b2" "${CID}b"
  pb=$(rt state "${CID}b" | jq -r .pid)
  init_exe=$(stat -L -c %d:%i "/proc/$pb/exe")
  init_name=$(readlink "/proc/$pb/exe")
  rt exec -d "$CID" sh -c "$(exe_attack "$(inner_pid "$pb")")"
  finish_exe_attack "$BUNDLE/rootfs" rt start "${CID}b"
  rt delete --force "${CID}b"
  rt delete --force "$CID"
  echo "B's init ran from: $init_name; attack: $result"
  assert_runtime_intact
  [ "$result" != wrote ]
  [ "$init_exe" != "$RUNTIME_INODE" ]
  assert_clean "${CID}b"
}

@test "CVE-2019-5736: a container joining a created container's pid namespace cannot reach its init's binary" {
  use_runtime_copy
  # B waits in "created", alone in its new pid namespace ...
  cfg_args sleep 100
  rt create -b "$BUNDLE" "$CID"
  pb=$(rt state "$CID" | jq -r .pid)
  init_exe=$(stat -L -c %d:%i "/proc/$pb/exe")
  init_name=$(readlink "/proc/$pb/exe")
  # ... until C, with CAP_SYS_PTRACE, joins that namespace: B's init is its
  # pid 1.
  b2=$BATS_TEST_TMPDIR/b2
  second_bundle "$b2" "${CID}c"
  join_pid_ns "$b2" "$pb"
  cfg_in "$b2" ".process.capabilities = $PTRACE_CAPS"
  jq --arg s "$(exe_attack 1)" '.process.args = ["sh", "-c", $s]' "$b2/config.json" >"$b2/c.tmp"
  mv "$b2/c.tmp" "$b2/config.json"
  rt run -d -b "$b2" "${CID}c"
  finish_exe_attack "$b2/rootfs" rt start "$CID"
  rt delete --force "${CID}c"
  rt delete --force "$CID"
  echo "B's init ran from: $init_name; attack: $result"
  assert_runtime_intact
  [ "$result" != wrote ]
  [ "$init_exe" != "$RUNTIME_INODE" ]
  assert_clean "${CID}c"
}

@test "CVE-2019-5736: a #!/proc/self/exe program cannot rewrite the runtime binary" {
  use_runtime_copy
  r=$BUNDLE/rootfs
  # The program the runtime execs names /proc/self/exe as its interpreter.
  # The kernel resolves that to whatever did the execve. Were it the
  # runtime, "runtime --log=/f" (the program's own path, "--log=/f"
  # relative to "/") would block opening the FIFO /f: a live target.
  mkfifo "$r/f"
  mkdir "$r/--log="
  # An image with a C library, as the attack's images had: the runtime
  # binary can run in it.
  local lib
  for lib in $(ldd "$BERTH" | grep -o '/[^ ]*'); do
    cp --parents -L "$lib" "$r"
  done
  printf '#!/proc/self/exe runtime\n' >"$r/--log=/f"
  chmod 755 "$r/--log=/f"
  cfg_args sleep 100
  rt run -d -b "$BUNDLE" "$CID"
  jq '.process | .args = ["--log=/f"] | .cwd = "/"' "$BUNDLE/config.json" >"$BATS_TEST_TMPDIR/evil.json"
  rt exec -d --pid-file "$BATS_TEST_TMPDIR/evil.pid" --process "$BATS_TEST_TMPDIR/evil.json" "$CID"
  hpid=$(cat "$BATS_TEST_TMPDIR/evil.pid")
  target_exe=$(stat -L -c %d:%i "/proc/$hpid/exe" 2>/dev/null || echo gone)
  target_name=$(readlink "/proc/$hpid/exe" 2>/dev/null || echo gone)
  # Its pid as the container sees it.
  cpid=$(awk '/^NSpid:/ {print $NF}' "/proc/$hpid/status" 2>/dev/null || true)
  rt exec -d "$CID" sh -c '
    t=/proc/'"${cpid:-0}"'/exe
    if ! (exec 3<$t) 2>/tmp/open-error; then echo no-open >/tmp/result; exit 0; fi
    exec 3<$t
    exec 4<>/f
    i=0
    while [ $i -lt 100 ]; do
      if { echo PWNED >>/proc/self/fd/3; } 2>/dev/null; then echo wrote >/tmp/result; exit 0; fi
      i=$((i + 1)); sleep 0.02
    done
    echo refused >/tmp/result'
  wait_file "$r/tmp/result"
  result=$(cat "$r/tmp/result")
  rt delete --force "$CID"
  echo "interpreter was: $target_name; attack: $result"
  assert_runtime_intact
  [ "$result" != wrote ]
  [ "$target_exe" != "$RUNTIME_INODE" ]
}

# ---- CVE-2024-21626: leaked fd / cwd -------------------------------------

@test "CVE-2024-21626: cwd /proc/self/fd/N never lands on a host directory (create)" {
  mkdir -p "$STATE_ROOT"
  touch "$STATE_ROOT/HOST-MARKER" "$BUNDLE/HOST-MARKER" "$BATS_TEST_TMPDIR/HOST-MARKER" \
    "$HOSTDIR/HOST-MARKER"
  # The caller leaks descriptors of a host directory into the runtime.
  exec 12<"$HOSTDIR" 13<"$HOSTDIR" 17<"$HOSTDIR"
  cfg_args sh -c 'readlink /proc/self/cwd; ls -a'
  for n in $(seq 3 20); do
    cfg ".process.cwd = \"/proc/self/fd/$n\""
    crun
    echo "fd $n: status $status: $output"
    if [ "$status" -eq 0 ]; then
      [[ "${lines[0]}" == /* ]]
      [[ "$output" != *HOST-MARKER* ]]
      [[ "$output" != *unreachable* ]]
    else
      [[ "$output" == *cwd* ]]
    fi
    assert_nothing_left
  done
}

@test "CVE-2024-21626: exec --cwd /proc/self/fd/N never lands on a host directory" {
  mkdir -p "$STATE_ROOT"
  touch "$STATE_ROOT/HOST-MARKER" "$BUNDLE/HOST-MARKER" "$BATS_TEST_TMPDIR/HOST-MARKER" \
    "$HOSTDIR/HOST-MARKER"
  # The caller leaks descriptors of a host directory into the runtime.
  exec 12<"$HOSTDIR" 13<"$HOSTDIR" 17<"$HOSTDIR"
  cfg_args sleep 100
  rt run -d -b "$BUNDLE" "$CID"
  for n in $(seq 3 20); do
    runf rt exec -d --cwd "/proc/self/fd/$n" "$CID" sh -c \
      "{ readlink /proc/self/cwd; ls -a; } >/tmp/.c$n 2>&1; mv /tmp/.c$n /tmp/c$n"
    echo "fd $n: status $status: $output"
    if [ "$status" -eq 0 ]; then
      wait_file "$BUNDLE/rootfs/tmp/c$n"
      out=$(cat "$BUNDLE/rootfs/tmp/c$n")
      echo "$out"
      [[ "$out" == /* ]]
      [[ "$out" != *HOST-MARKER* ]]
      [[ "$out" != *unreachable* ]]
    else
      [[ "$output" == *cwd* ]]
    fi
  done
  rt delete --force "$CID"
  assert_nothing_left
}

@test "no leaked descriptors: fds 0-2 only; --preserve-fds 1 passes exactly fd 3" {
  echo data >"$HOSTDIR/file"
  cfg_args sleep 100
  # fd 3 of the runtime is a host directory: it must not cross.
  rt run -d -b "$BUNDLE" "$CID" 3<"$HOSTDIR" 4<"$HOSTDIR/file"
  pid=$(rt state "$CID" | jq -r .pid)
  [ "$(ls "/proc/$pid/fd" | sort -n | xargs)" = "0 1 2" ]
  rt exec -d --pid-file "$BATS_TEST_TMPDIR/epid" "$CID" sleep 100 3<"$HOSTDIR" 4<"$HOSTDIR/file"
  epid=$(cat "$BATS_TEST_TMPDIR/epid")
  [ "$(ls "/proc/$epid/fd" | sort -n | xargs)" = "0 1 2" ]
  rt delete --force "$CID"
  rt run -d --preserve-fds 1 -b "$BUNDLE" "$CID" 3<"$HOSTDIR/file" 4<"$HOSTDIR"
  pid=$(rt state "$CID" | jq -r .pid)
  [ "$(ls "/proc/$pid/fd" | sort -n | xargs)" = "0 1 2 3" ]
  [ "$(readlink "/proc/$pid/fd/3")" = "$HOSTDIR/file" ]
  rt delete --force "$CID"
  assert_nothing_left
}

@test "the created init is non-dumpable: a container sharing its pid namespace cannot follow its exe or fds" {
  cfg_args sleep 100
  rt create -b "$BUNDLE" "$CID"
  pb=$(rt state "$CID" | jq -r .pid)
  # C joins the waiting init's pid namespace, default capabilities.
  b2=$BATS_TEST_TMPDIR/b2
  second_bundle "$b2" "${CID}c"
  join_pid_ns "$b2" "$pb"
  jq '.process.args = ["sh", "-c", "{ readlink /proc/1/exe || echo exe-denied; for f in /proc/1/fd/*; do readlink $f || echo fd-denied; done; readlink /proc/1/cwd || echo cwd-denied; } >/tmp/.out 2>&1; mv /tmp/.out /tmp/out"]' \
    "$b2/config.json" >"$b2/c.tmp"
  mv "$b2/c.tmp" "$b2/config.json"
  rt run -d -b "$b2" "${CID}c"
  wait_file "$b2/rootfs/tmp/out"
  output=$(cat "$b2/rootfs/tmp/out")
  echo "$output"
  [[ "$output" == *exe-denied* ]]
  [[ "$output" == *fd-denied* ]]
  [[ "$output" != *"$STATE_ROOT"* ]]
  [[ "$output" != *berth* ]]
  rt delete --force "${CID}c"
  rt delete --force "$CID"
  assert_nothing_left
  assert_clean "${CID}c"
}

# ---- CVE-2021-30465: mount destinations through symlinks ------------------

@test "CVE-2021-30465: mount destinations through symlinks stay inside the rootfs" {
  r=$BUNDLE/rootfs
  # Symlinks naming the host directory, absolute and by "..": resolved in
  # the rootfs they name $r$HOSTDIR, which exists, so every mount succeeds.
  mkdir -p "$r$HOSTDIR"
  ln -s "$HOSTDIR" "$r/evil"
  ln -s "../../../../../../../../../../../..$HOSTDIR" "$r/evil2"
  echo host-source >"$BATS_TEST_TMPDIR/src.txt"
  cfg '.mounts += [{"destination":"/evil/sub","type":"tmpfs","source":"tmpfs"},
                   {"destination":"/evil2/sub2","type":"tmpfs","source":"tmpfs"},
                   {"destination":"/evil/file","type":"bind","source":"'"$BATS_TEST_TMPDIR/src.txt"'","options":["bind","ro"]}]'
  cfg_args sh -c 'stat -f -c %T /evil/sub /evil2/sub2; cat /evil/file; echo x >/evil/sub/inside && echo wrote'
  crun
  echo "$output"
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = tmpfs ]
  [ "${lines[1]}" = tmpfs ]
  [ "${lines[2]}" = host-source ]
  [ "${lines[3]}" = wrote ]
  # Nothing was created in (or mounted on) the host directory ...
  [ -z "$(ls -A "$HOSTDIR")" ] || { ls -la "$HOSTDIR"; false; }
  # ... the destinations were made under the rootfs instead.
  [ -d "$r$HOSTDIR/sub" ]
  [ -d "$r$HOSTDIR/sub2" ]
  [ -f "$r$HOSTDIR/file" ]
  [ "$(cat "$BATS_TEST_TMPDIR/src.txt")" = host-source ]
  assert_nothing_left
}

@test "CVE-2021-30465: a dangling symlink to a host path in a destination does not reach the host" {
  r=$BUNDLE/rootfs
  # The in-rootfs target does not exist: the runtime may create it inside
  # the rootfs or refuse, never follow the link on the host.
  ln -s "$HOSTDIR" "$r/evil"
  echo host-source >"$BATS_TEST_TMPDIR/src.txt"
  for m in '{"destination":"/evil/sub","type":"tmpfs","source":"tmpfs"}' \
    '{"destination":"/evil/file","type":"bind","source":"'"$BATS_TEST_TMPDIR/src.txt"'","options":["bind"]}'; do
    cp "$BUNDLE/config.json" "$BATS_TEST_TMPDIR/config.orig"
    cfg ".mounts += [$m]"
    cfg_args sh -c 'ls /evil'
    crun
    echo "$m: status $status: $output"
    [ -z "$(ls -A "$HOSTDIR")" ] || { ls -la "$HOSTDIR"; false; }
    [ "$status" -eq 0 ] || [[ "$output" == *"/evil/"* ]]
    assert_nothing_left
    cp "$BATS_TEST_TMPDIR/config.orig" "$BUNDLE/config.json"
    rm -rf "${r:?}/tmp/"*
  done
}

# ---- fake /proc, /sys (CVE-2019-16884, CVE-2019-19921, CVE-2023-27561) ----

@test "fake /proc and /sys: a symlinked /proc or /sys in the image is refused" {
  r=$BUNDLE/rootfs
  for d in proc sys; do
    for target in /tmp "$HOSTDIR"; do
      rmdir "$r/$d"
      ln -s "$target" "$r/$d"
      runf rt create -b "$BUNDLE" "$CID"
      echo "/$d -> $target: $output"
      [ "$status" -ne 0 ]
      [[ "$output" == *"'/$d'"*symlink* ]]
      assert_nothing_left
      [ -z "$(ls -A "$HOSTDIR")" ]
      [ -z "$(ls -A "$r/tmp")" ]
      rm "$r/$d"
      mkdir "$r/$d"
    done
  done
}

# ---- CVE-2022-29162: inheritable capabilities ----------------------------

# A binary with file capabilities in its inheritable set: with any
# inheritable capability, exec would raise it into the permitted set. The
# container runs as 65534, prints its own Inh/Amb sets and those of the
# file-capability binary after exec.
plant_capbin() {
  mkdir "$BUNDLE/rootfs/capbin"
  cp "$BUNDLE/rootfs/bin/busybox" "$BUNDLE/rootfs/capbin/grep"
  setcap cap_kill,cap_net_bind_service+ei "$BUNDLE/rootfs/capbin/grep"
  cfg '.process.user = {uid: 65534, gid: 65534} | .process.noNewPrivileges = false'
  cfg_args sh -c 'grep -E "^Cap(Inh|Amb)" /proc/self/status; /capbin/grep -E "^Cap(Inh|Prm|Eff|Amb)" /proc/self/status'
}

# every capability line printed by the capbin container is all zeros
assert_no_caps_gained() {
  echo "$output"
  [ "$status" -eq 0 ]
  [ "${#lines[@]}" -eq 6 ]
  for l in "${lines[@]}"; do
    [[ "$l" == Cap*":	0000000000000000" ]]
  done
  assert_nothing_left
}

@test "CVE-2022-29162: a non-root process gets no inheritable or ambient capabilities" {
  plant_capbin
  caps='["CAP_KILL","CAP_NET_BIND_SERVICE"]'
  cfg ".process.capabilities = {bounding: $caps, effective: $caps, permitted: $caps}"
  crun
  assert_no_caps_gained
}

@test "CVE-2022-29162: without process.capabilities a non-root process gets no inheritable caps" {
  plant_capbin
  cfg 'del(.process.capabilities)'
  crun
  assert_no_caps_gained
}

# ---- CVE-2025-31133: masking through a /dev/null symlink ------------------

@test "CVE-2025-31133: a /dev/null symlink cannot turn masking into a writable bind mount" {
  r=$BUNDLE/rootfs
  cp "$r/etc/passwd" "$BATS_TEST_TMPDIR/passwd.orig"
  echo host-target >"$HOSTDIR/target"
  # No /dev tmpfs: the image's /dev is used as it is.
  cfg 'del(.mounts[] | select(.destination | startswith("/dev")))'
  # (no redirection to /dev/null in here: it is the trap)
  cfg_args sh -c 'echo PWNED >/proc/timer_list; echo len=$(wc -c </proc/timer_list); echo null=$(stat -L -c %t:%T /dev/null)'
  for target in /etc/passwd "$HOSTDIR/target"; do
    rm -f "$r/dev/null"
    ln -s "$target" "$r/dev/null"
    crun
    echo "/dev/null -> $target: $output"
    if [ "$status" -eq 0 ]; then
      [[ "$output" == *"len=0"* ]]
      [[ "$output" == *"null=1:3"* ]]
    else
      [[ "$output" == *"/dev/null"* ]]
    fi
    cmp "$r/etc/passwd" "$BATS_TEST_TMPDIR/passwd.orig"
    [ "$(cat "$HOSTDIR/target")" = host-target ]
    assert_nothing_left
  done
  # A /dev bound from a directory whose "null" is a symlink: the runtime
  # makes no device there, so masking meets the symlink itself.
  devsrc=$BATS_TEST_TMPDIR/devsrc
  mkdir "$devsrc"
  ln -s /etc/passwd "$devsrc/null"
  cfg '.mounts += [{"destination":"/dev","type":"bind","source":"'"$devsrc"'","options":["rbind"]}]'
  crun
  echo "bound /dev: $output"
  if [ "$status" -eq 0 ]; then
    [[ "$output" == *"len=0"* ]]
  else
    [[ "$output" == *"/dev/null"* ]]
  fi
  cmp "$r/etc/passwd" "$BATS_TEST_TMPDIR/passwd.orig"
  [ "$(readlink "$devsrc/null")" = /etc/passwd ]
  assert_nothing_left
}

# ---- CVE-2025-52565: /dev/console symlink ---------------------------------

@test "CVE-2025-52565: a /dev/console symlink is replaced, never written through" {
  r=$BUNDLE/rootfs
  cp "$r/etc/passwd" "$BATS_TEST_TMPDIR/passwd.orig"
  echo host-console >"$HOSTDIR/console"
  cfg 'del(.mounts[] | select(.destination == "/dev")) | .process.terminal = true'
  cfg_args sh -c 'stat -c %F /dev/console; stat -c %F /etc/passwd; echo via-console >/dev/console; tty'
  for target in /etc/passwd "$HOSTDIR/console"; do
    rm -f "$r/dev/console"
    ln -s "$target" "$r/dev/console"
    runf timeout 60 "$RUNTIME" --root "$STATE_ROOT" run -b "$BUNDLE" "$CID"
    output=${output//$'\r'/}
    mapfile -t lines <<<"$output"
    echo "/dev/console -> $target: status $status: $output"
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = "character special file" ]
    [ "${lines[1]}" = "regular file" ]
    [[ "$output" == *via-console* ]]
    [[ "$output" == *"/dev/pts/"* ]]
    cmp "$r/etc/passwd" "$BATS_TEST_TMPDIR/passwd.orig"
    [ "$(cat "$HOSTDIR/console")" = host-console ]
    [ ! -e "$r$HOSTDIR/console" ]
    assert_nothing_left
  done
}

# ---- CVE-2025-52881: /proc write redirection ------------------------------

@test "CVE-2025-52881: a sysctl is not written through a mount over /proc/sys" {
  f=$HOSTDIR/ip_forward
  echo 0 >"$f"
  host_before=$(cat /proc/sys/net/ipv4/ip_forward)
  cfg '.mounts += [{"destination":"/proc/sys/net/ipv4/ip_forward","type":"bind","source":"'"$f"'","options":["bind"]}]
       | .linux.sysctl = {"net.ipv4.ip_forward": "1"}'
  cfg_args sh -c 'echo bound=$(cat /proc/sys/net/ipv4/ip_forward) all=$(cat /proc/sys/net/ipv4/conf/all/forwarding)'
  crun
  echo "status $status: $output"
  [ "$(cat "$f")" = 0 ]
  [ "$(cat /proc/sys/net/ipv4/ip_forward)" = "$host_before" ]
  if [ "$status" -eq 0 ]; then
    # the container's own sysctl was set, the file bound over it untouched
    [ "$output" = "bound=0 all=1" ]
  else
    [[ "$output" == *sysctl* ]]
  fi
  assert_nothing_left
}

# ---- CVE-2026-41579: /dev symlinks before pivot ----------------------------

@test "CVE-2026-41579: a /dev symlink to a host directory gets no device nodes there" {
  r=$BUNDLE/rootfs
  cfg 'del(.mounts[] | select(.destination | startswith("/dev")))'
  cfg_args sh -c 'ls -l /dev/null'
  for target in "$HOSTDIR" "../../../../../../../../../../../..$HOSTDIR"; do
    rm -rf "$r/dev"
    ln -s "$target" "$r/dev"
    crun
    echo "/dev -> $target: status $status: $output"
    [ -z "$(ls -A "$HOSTDIR")" ] || { ls -la "$HOSTDIR"; false; }
    if [ "$status" -ne 0 ]; then
      [[ "$output" == *"/dev"* ]]
    fi
    assert_nothing_left
  done
}
