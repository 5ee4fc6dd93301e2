# Helpers for runtime-peers.bats: start real container engines (podman,
# dockerd, containerd) with private state under $PEER_TMP, all using
# berth-runtime, and take them down again leaving nothing behind.
#
# Engines write a few paths they hard-code whatever they are told
# (/etc/docker/key.json, /run/docker/plugins, /run/containers/networks,
# /var/lib/containers/cache, /run/containerd/s): peer_globals_snapshot
# records which of those existed before we started, and
# peer_globals_cleanup removes only the ones we created.

PEER_GLOBALS=(/etc/docker /run/docker /run/containers /var/lib/containers /run/containerd
  /run/libpod /run/runc /etc/containers/networks /dev/shm/libpod_lock)
# cgroup parents the engines create under every hierarchy.
PEER_CGROUP_PARENTS=(docker libpod_parent default)

peer_log() { echo "# peers: $*" >&3; }

peer_globals_snapshot() {
  local p
  : > "$PEER_TMP/globals.before"
  for p in "${PEER_GLOBALS[@]}"; do
    [ -e "$p" ] && echo "$p" >> "$PEER_TMP/globals.before"
  done
  : > "$PEER_TMP/cgroups.before"
  for p in "${PEER_CGROUP_PARENTS[@]}"; do
    find /sys/fs/cgroup -mindepth 2 -maxdepth 2 -type d -name "$p" >> "$PEER_TMP/cgroups.before" 2>/dev/null
  done
}

peer_globals_cleanup() {
  local p
  for p in "${PEER_GLOBALS[@]}"; do
    if [ -e "$p" ] && ! grep -qxF "$p" "$PEER_TMP/globals.before"; then
      rm -rf "$p"
    fi
  done
  # Empty cgroup parents the engines made (rmdir refuses non-empty ones).
  for p in "${PEER_CGROUP_PARENTS[@]}"; do
    local d
    for d in $(find /sys/fs/cgroup -mindepth 2 -maxdepth 2 -type d -name "$p" 2>/dev/null); do
      # depth first: podman also makes libpod_parent/conmon
      grep -qxF "$d" "$PEER_TMP/cgroups.before" ||
        find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null || true
    done
  done
}

# Unmount everything below $PEER_TMP, deepest first.
peer_umount_all() {
  local m
  for m in $(awk -v t="$PEER_TMP" 'index($5, t) == 1 {print $5}' /proc/self/mountinfo | sort -r); do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
  done
}

# wait_gone PID [SECONDS]: wait for a process we started to exit.
wait_gone() {
  local pid=$1 n=$((${2:-10} * 10))
  while [ "$n" -gt 0 ] && kill -0 "$pid" 2>/dev/null; do
    # reap it if it is our child
    wait "$pid" 2>/dev/null || true
    sleep 0.1
    n=$((n - 1))
  done
  ! kill -0 "$pid" 2>/dev/null
}

# stop_pid PID: TERM, then KILL after 15s. Only for processes we started.
stop_pid() {
  local pid=$1
  [ -n "$pid" ] || return 0
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  wait_gone "$pid" 15 && return 0
  peer_log "pid $pid ignored SIGTERM, killing it"
  kill -KILL "$pid" 2>/dev/null || true
  wait_gone "$pid" 5
}

# wait_until SECONDS CMD...: poll CMD until it succeeds.
wait_until() {
  local n=$(($1 * 10))
  shift
  while [ "$n" -gt 0 ]; do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.1
    n=$((n - 1))
  done
  return 1
}

# ---- podman --------------------------------------------------------------

# podman has no daemon: a private containers.conf (Debian's, plus private
# paths) and private --root/--runroot are all its state.
podman_setup() {
  command -v podman >/dev/null && command -v conmon >/dev/null || return 1
  local d=$PEER_TMP/podman hard
  mkdir -p "$d"
  hard=$(ulimit -Hn)
  # This machine's hard RLIMIT_NOFILE is below podman's default 1048576 and
  # root lacks CAP_SYS_RESOURCE, so no runtime (runc included) can apply
  # podman's default ulimits: use limits we are allowed to set.
  awk -v d="$d" -v hard="$hard" '
    { print }
    /^\[containers\]/ { print "default_ulimits = [\"nofile=" hard ":" hard "\", \"nproc=32768:32768\"]" }
    /^\[engine\]/ {
      print "cgroup_manager = \"cgroupfs\""
      print "events_logger = \"file\""
      print "events_logfile_path = \"" d "/events.log\""
      print "tmp_dir = \"" d "/tmp\""
      print "static_dir = \"" d "/root/libpod\""
      print "volume_path = \"" d "/volumes\""
      print "lock_type = \"file\""
    }
    /^\[network\]/ { print "network_config_dir = \"" d "/networks\"" }
  ' /usr/share/containers/containers.conf > "$d/containers.conf"
  grep -q '^\[engine\]' "$d/containers.conf" || return 1
  podman_wrapper
  podman_cmd import "$PEER_TMP/rootfs.tar" localhost/bb:latest > "$d/import.log" 2>&1
}

# $PEER_TMP/bin/podman: podman with our private config and storage, and
# berth-runtime with a private state root (podman passes no --root of its
# own); a script so that script(1) can run it too.
podman_cmd() { "$PEER_TMP/bin/podman" "$@"; }

podman_wrapper() {
  local d=$PEER_TMP/podman
  mkdir -p "$PEER_TMP/bin"
  cat > "$PEER_TMP/bin/podman" <<EOF
#!/bin/sh
CONTAINERS_CONF='$d/containers.conf' exec podman \\
  --root '$d/root' --runroot '$d/runroot' --storage-driver overlay \\
  --cgroup-manager cgroupfs --events-backend file \\
  --runtime '$RUNTIME' --runtime-flag 'root=$d/berth-state' "\$@"
EOF
  chmod +x "$PEER_TMP/bin/podman"
}

podman_teardown() {
  [ -d "$PEER_TMP/podman/root" ] || return 0
  podman_cmd rm -af -t 0 >/dev/null 2>&1 || true
}

# ---- dockerd -------------------------------------------------------------

dockerd_setup() {
  command -v dockerd >/dev/null && [ -x "$DOCKER_CLI" ] || return 1
  local d=$PEER_TMP/dockerd
  mkdir -p "$d"
  echo '{}' > "$d/daemon.json"
  dockerd --config-file "$d/daemon.json" \
    --data-root "$d/data" --exec-root "$d/exec" --pidfile "$d/docker.pid" \
    --host "unix://$d/docker.sock" --bridge none --iptables=false --ip6tables=false \
    --ip-masq=false --storage-driver overlay2 --exec-opt native.cgroupdriver=cgroupfs \
    --add-runtime "berth=$RUNTIME" --default-runtime runc --log-level debug \
    > "$d/dockerd.log" 2>&1 3>&- </dev/null &
  echo $! > "$d/started.pid"
}

dockerd_wait() {
  local d=$PEER_TMP/dockerd
  wait_until 30 docker_cmd version || {
    peer_log "dockerd did not come up; log: $d/dockerd.log"
    tail -20 "$d/dockerd.log" | sed 's/^/# /' >&3
    return 1
  }
  tar -C "$PEER_TMP/rootfs" -c . | docker_cmd import - bb:latest > "$d/import.log" 2>&1
}

docker_cmd() { "$DOCKER_CLI" -H "unix://$PEER_TMP/dockerd/docker.sock" "$@"; }

dockerd_teardown() {
  local d=$PEER_TMP/dockerd pid
  [ -f "$d/started.pid" ] || return 0
  pid=$(cat "$d/started.pid")
  if kill -0 "$pid" 2>/dev/null; then
    local ids
    ids=$(docker_cmd ps -aq 2>/dev/null)
    [ -z "$ids" ] || docker_cmd rm -f $ids >/dev/null 2>&1 || true
  fi
  stop_pid "$pid"
}

# ---- containerd ----------------------------------------------------------

containerd_setup() {
  command -v containerd >/dev/null && command -v ctr >/dev/null || return 1
  local d=$PEER_TMP/containerd
  mkdir -p "$d"
  cat > "$d/config.toml" <<EOF
version = 2
root = "$d/root"
state = "$d/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.internal.v1.tracing",
  "io.containerd.tracing.processor.v1.otlp"]
[grpc]
  address = "$d/containerd.sock"
[ttrpc]
  address = "$d/containerd.sock.ttrpc"
[debug]
  level = "debug"
[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = "$d/opt"
EOF
  containerd --config "$d/config.toml" > "$d/containerd.log" 2>&1 3>&- </dev/null &
  echo $! > "$d/started.pid"
  "$BATS_TEST_DIRNAME/peers/make-oci-archive.sh" "$PEER_TMP/rootfs" "$d/bb.tar" \
    docker.io/library/bb:latest
}

containerd_wait() {
  local d=$PEER_TMP/containerd
  wait_until 30 ctr_cmd version || {
    peer_log "containerd did not come up; log: $d/containerd.log"
    tail -20 "$d/containerd.log" | sed 's/^/# /' >&3
    return 1
  }
  ctr_cmd images import "$d/bb.tar" > "$d/import.log" 2>&1
}

ctr_cmd() { ctr -a "$PEER_TMP/containerd/containerd.sock" "$@"; }

# ctr_run ARGS...: `ctr run` with berth-runtime and private fifo/state dirs.
ctr_run() {
  local d=$PEER_TMP/containerd
  ctr_cmd run --fifo-dir "$d/fifo" --runc-binary "$RUNTIME" --runc-root "$d/runc" "$@"
}

ctr_exec() { ctr_cmd task exec --fifo-dir "$PEER_TMP/containerd/fifo" "$@"; }

containerd_teardown() {
  local d=$PEER_TMP/containerd pid id
  [ -f "$d/started.pid" ] || return 0
  pid=$(cat "$d/started.pid")
  if kill -0 "$pid" 2>/dev/null; then
    for id in $(ctr_cmd task ls -q 2>/dev/null); do
      ctr_cmd task kill -s KILL "$id" >/dev/null 2>&1 || true
      wait_until 5 sh -c "! ctr -a '$d/containerd.sock' task ls -q | grep -qx '$id' || \
        ctr -a '$d/containerd.sock' task ls | grep -q '^$id .*STOPPED'"
      ctr_cmd task delete -f "$id" >/dev/null 2>&1 || true
    done
    for id in $(ctr_cmd containers ls -q 2>/dev/null); do
      ctr_cmd containers delete "$id" >/dev/null 2>&1 || true
    done
  fi
  stop_pid "$pid"
}
