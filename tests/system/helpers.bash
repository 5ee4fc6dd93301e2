# Shared helpers for berth's system tests (bats). Every test gets a private
# state root and bundle under $BATS_TEST_TMPDIR; teardown deletes every
# container it made and checks nothing is left behind.

BERTH_BUILD=${BERTH_BUILD:-$(cd "$BATS_TEST_DIRNAME/../.." && pwd)/build}
BERTH=$BERTH_BUILD/src/berth
RUNTIME=$BERTH_BUILD/src/berth-runtime

# One busybox rootfs, built once per test run and copied per bundle.
BUSYBOX_ROOTFS=${BUSYBOX_ROOTFS:-/tmp/berth-test-busybox-rootfs}

ensure_busybox_rootfs() {
  [ -x "$BUSYBOX_ROOTFS/bin/busybox" ] && return 0
  local tmp
  tmp=$(mktemp -d /tmp/berth-bbXXXXXX)
  mkdir -p "$tmp"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,root,var}
  cp /bin/busybox "$tmp/bin/busybox"
  local a
  for a in $("$tmp/bin/busybox" --list); do
    [ -e "$tmp/bin/$a" ] || ln -s busybox "$tmp/bin/$a"
  done
  echo 'root:x:0:0:root:/root:/bin/sh' > "$tmp/etc/passwd"
  echo 'nobody:x:65534:65534:nobody:/nonexistent:/bin/false' >> "$tmp/etc/passwd"
  printf 'root:x:0:\ntty:x:5:\nnogroup:x:65534:\n' > "$tmp/etc/group"
  chmod 1777 "$tmp/tmp"
  chmod 755 "$tmp"
  mv -T "$tmp" "$BUSYBOX_ROOTFS" 2>/dev/null || rm -rf "$tmp"
}

# make_bundle DIR: busybox rootfs + `berth-runtime spec`, no terminal.
make_bundle() {
  local dir=$1
  ensure_busybox_rootfs
  mkdir -p "$dir"
  cp -a "$BUSYBOX_ROOTFS" "$dir/rootfs"
  (cd "$dir" && "$RUNTIME" spec)
  jq '.process.terminal = false | .process.args = ["true"] | .root.readonly = false' \
    "$dir/config.json" > "$dir/config.tmp" && mv "$dir/config.tmp" "$dir/config.json"
}

# cfg JQ-FILTER: edit the test bundle's config.json in place.
cfg() {
  jq "$1" "$BUNDLE/config.json" > "$BUNDLE/config.tmp" && mv "$BUNDLE/config.tmp" "$BUNDLE/config.json"
}

# set the process args: cfg_args sh -c 'echo hi'
cfg_args() {
  local json
  json=$(printf '%s\n' "$@" | jq -R . | jq -s .)
  cfg ".process.args = $json"
}

rt() { "$RUNTIME" --root "$STATE_ROOT" "$@"; }

setup_runtime() {
  STATE_ROOT=$BATS_TEST_TMPDIR/state
  BUNDLE=$BATS_TEST_TMPDIR/bundle
  CID=bt$$-${BATS_TEST_NUMBER}
  make_bundle "$BUNDLE"
}

# The cgroup directories a container id would have, on every hierarchy.
cgroup_dirs_of() {
  local id=$1
  find /sys/fs/cgroup -maxdepth 6 -type d -name "$id" 2>/dev/null
}

teardown_runtime() {
  local id
  if [ -d "$STATE_ROOT" ]; then
    for id in $(ls "$STATE_ROOT" 2>/dev/null); do
      "$RUNTIME" --root "$STATE_ROOT" delete --force "$id" >/dev/null 2>&1 || true
    done
  fi
}

# assert_clean ID: no state dir, no cgroup, no process left for a container.
assert_clean() {
  local id=$1
  [ ! -e "$STATE_ROOT/$id" ] || { echo "state dir left: $STATE_ROOT/$id"; return 1; }
  local left
  left=$(cgroup_dirs_of "$id")
  [ -z "$left" ] || { echo "cgroups left: $left"; return 1; }
  ! grep -qs "$BUNDLE/rootfs" /proc/self/mountinfo || { echo "mounts left"; return 1; }
}

# wait_status ID STATUS: poll `state` until it reports STATUS (max ~5s).
wait_status() {
  local i
  for i in $(seq 1 500); do
    [ "$(rt state "$1" 2>/dev/null | jq -r .status)" = "$2" ] && return 0
    sleep 0.01
  done
  echo "status of $1 is $(rt state "$1" 2>&1 | jq -r .status) not $2"
  return 1
}

# ---- for suites that attack or abuse the runtime ---------------------------

# setup_isolated: setup_runtime with the container's cgroup under
# /berth-test/<id>, so leftovers are easy to find and remove.
setup_isolated() {
  setup_runtime
  cfg '.linux.cgroupsPath = "/berth-test/'"$CID"'"'
}

# teardown_isolated: thaw, delete everything, kill what this test's
# directory still runs, remove the cgroup.
teardown_isolated() {
  rt resume "$CID" >/dev/null 2>&1 || true
  teardown_runtime
  local p
  for p in $(procs_left); do
    kill -9 "$p" 2>/dev/null || true
  done
  rmdir /sys/fs/cgroup/*/berth-test/"$CID" 2>/dev/null || true
}

teardown_isolated_file() {
  rmdir /sys/fs/cgroup/*/berth-test 2>/dev/null || true
}

# Processes whose command line names this test's directory: the runtime, what
# it forked before exec, hooks (bracketed: grep must not find itself).
procs_left() {
  local pat="${BATS_TEST_TMPDIR%?}[${BATS_TEST_TMPDIR: -1}]/"
  grep -ls -- "$pat" /proc/[0-9]*/cmdline 2>/dev/null | cut -d/ -f3 | tr '\n' ' '
}

# assert_nothing_left [ID]: assert_clean, plus no process and no host mount.
assert_nothing_left() {
  assert_clean "${1:-$CID}"
  local left
  left=$(procs_left)
  [ -z "$left" ] || { echo "processes left: $left"; ps -o pid,args -p "${left// /,}0"; return 1; }
  ! grep -qs "$BATS_TEST_TMPDIR" /proc/self/mountinfo || {
    echo "host mounts left:"; grep "$BATS_TEST_TMPDIR" /proc/self/mountinfo; return 1; }
}

# runf CMD...: bats' run, but the output goes through a file: a container
# that CMD wrongly created would hold a pipe open and hang the test.
runf() {
  local f=$BATS_TEST_TMPDIR/runf.out
  status=0
  "$@" >"$f" 2>&1 </dev/null || status=$?
  output=$(cat "$f")
  mapfile -t lines <<<"$output"
}

# pid_dead PID: the process is gone or a zombie (on hosts whose pid 1 does not
# reap, a killed container's init stays a zombie: dead all the same).
pid_dead() {
  ! kill -0 "$1" 2>/dev/null || grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

# store_reset: everything this test's private store ($ROOT, $RUNROOT) made
# goes, on the host too - the default network's bridge and its firewall
# elements outlive every container (`berth system reset`). Fails when the
# store's bridge ("berth-<8 hex of sha256(root)>") is still there.
store_reset() {
  "$BERTH" --root "$ROOT" --runroot "$RUNROOT" system reset -f
  local br
  br="berth-$(printf %s "$ROOT" | sha256sum | cut -c1-8)"
  if ip link show "$br" > /dev/null 2>&1; then
    echo "the store's bridge $br is left" >&2
    return 1
  fi
}

# A container suite's private store with the busybox image as bb:1 (CMD
# sh), and b, the berth CLI on it; the teardown removes every container and
# resets the store.
b() { "$BERTH" --root "$ROOT" --runroot "$RUNROOT" "$@"; }

container_store_setup() {
  ROOT=$BATS_TEST_TMPDIR/root
  RUNROOT=$BATS_TEST_TMPDIR/run
  ensure_busybox_rootfs
  tar -C "$BUSYBOX_ROOTFS" -cf - . | b import --change 'CMD ["sh"]' - bb:1 > /dev/null
}

container_store_teardown() {
  local id
  for id in $(b ps -aq --no-trunc 2>/dev/null); do
    b rm -f "$id" > /dev/null 2>&1 || true
  done
  store_reset
}
