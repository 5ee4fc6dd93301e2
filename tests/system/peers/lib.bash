# Helpers for runtime-peers.bats: start real container engines (podman,
# dockerd, containerd) with private state under $PEER_TMP, all using
# berth-runtime, and take them down again leaving nothing behind.
#
# Engines write a few paths they hard-code whatever they are told:
# dockerd /etc/docker/key.json and /run/docker/plugins, podman
# /run/containers/networks and /var/lib/containers/cache (its blob-info
# cache), containerd's shims /run/containerd/s. peer_globals_snapshot records
# which of those existed before we started; peer_globals_cleanup removes the
# files we created and then the directories we created, only if empty, so
# nothing another user of the machine made is touched.

PEER_GLOBAL_FILES=(/etc/docker/key.json /var/lib/containers/cache/blob-info-cache-v1.boltdb)
# deepest first
PEER_GLOBAL_DIRS=(/etc/docker /run/docker/plugins /run/docker /run/containers/networks
  /run/containers /var/lib/containers/cache /var/lib/containers /run/containerd/s
  /run/containerd)
# cgroup parents the engines create under every hierarchy.
PEER_CGROUP_PARENTS=(docker libpod_parent default)

peer_log() { echo "# peers: $*" >&3; }

peer_globals_snapshot() {
  local p
  : > "$PEER_TMP/globals.before"
  for p in "${PEER_GLOBAL_FILES[@]}" "${PEER_GLOBAL_DIRS[@]}"; do
    [ -e "$p" ] && echo "$p" >> "$PEER_TMP/globals.before"
  done
  : > "$PEER_TMP/cgroups.before"
  for p in "${PEER_CGROUP_PARENTS[@]}"; do
    find /sys/fs/cgroup -mindepth 2 -maxdepth 2 -type d -name "$p" >> "$PEER_TMP/cgroups.before" 2>/dev/null
  done
}

peer_globals_cleanup() {
  local p d
  for p in "${PEER_GLOBAL_FILES[@]}"; do
    grep -qxF "$p" "$PEER_TMP/globals.before" || rm -f "$p"
  done
  for p in "${PEER_GLOBAL_DIRS[@]}"; do
    grep -qxF "$p" "$PEER_TMP/globals.before" || rmdir "$p" 2>/dev/null || true
  done
  # Empty cgroup parents the engines made, depth first (podman also makes
  # libpod_parent/conmon); rmdir refuses a cgroup still in use.
  for p in "${PEER_CGROUP_PARENTS[@]}"; do
    for d in $(find /sys/fs/cgroup -mindepth 2 -maxdepth 2 -type d -name "$p" 2>/dev/null); do
      grep -qxF "$d" "$PEER_TMP/cgroups.before" && continue
      find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null || true
      [ ! -d "$d" ] || peer_log "cgroup left behind (still in use?): $(find "$d" -type d | tr '\n' ' ')"
    done
  done
}

# Processes our engines started that outlived them (shims, conmon): their
# command lines name our private directory. Report them and kill them by pid.
peer_kill_leftovers() {
  local f pid cmd
  for f in /proc/[0-9]*/cmdline; do
    pid=${f#/proc/}
    pid=${pid%/cmdline}
    { cmd=$(tr '\0' ' ' < "$f"); } 2>/dev/null || continue
    if [[ "$cmd" == *"$PEER_TMP/"* ]]; then
      peer_log "left behind: pid $pid: ${cmd:0:200}"
      kill -KILL "$pid" 2>/dev/null || true
    fi
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

# peer_wrapper NAME COMMAND...: write $PEER_TMP/bin/NAME, a script that
# runs COMMAND (already quoted for sh) with its own arguments appended, so
# that tests, timeout(1) and script(1) can all run it.
peer_wrapper() {
  local name=$1
  shift
  mkdir -p "$PEER_TMP/bin"
  printf '#!/bin/sh\nexec %s "$@"\n' "$*" > "$PEER_TMP/bin/$name"
  chmod +x "$PEER_TMP/bin/$name"
}

# Engine commands run under a timeout so that a hung engine fails one test
# instead of stalling the run.
PEER_TIMEOUT=${PEER_TIMEOUT:-60}
peer_run() { timeout -k 5 "$PEER_TIMEOUT" "$PEER_TMP/bin/$1" "${@:2}"; }

# ---- podman --------------------------------------------------------------

# podman has no daemon: a private containers.conf (Debian's, plus private
# paths) and private --root/--runroot are all its state. podman passes no
# --root to the runtime, and the `podman container cleanup` that conmon runs
# when a container exits drops --runtime-flag: so podman runs berth-runtime
# through $PEER_TMP/rt/berth-runtime, which adds a private --root.
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
  mkdir -p "$PEER_TMP/rt"
  printf '#!/bin/sh\nexec %s --root %s "$@"\n' "'$RUNTIME'" "'$d/berth-state'" \
    > "$PEER_TMP/rt/berth-runtime"
  chmod +x "$PEER_TMP/rt/berth-runtime"
  peer_wrapper podman env "CONTAINERS_CONF='$d/containers.conf'" podman \
    --root "'$d/root'" --runroot "'$d/runroot'" --storage-driver overlay \
    --cgroup-manager cgroupfs --events-backend file --runtime "'$PEER_TMP/rt/berth-runtime'"
  podman_cmd import "$PEER_TMP/rootfs.tar" localhost/bb:latest > "$d/import.log" 2>&1
}

podman_cmd() { peer_run podman "$@"; }

podman_teardown() {
  [ -x "$PEER_TMP/bin/podman" ] || return 0
  local id
  for id in $(podman_cmd ps -aq --filter status=paused 2>/dev/null); do
    podman_cmd unpause "$id" >/dev/null 2>&1 || true
  done
  podman_cmd rm -af -t 0 >/dev/null 2>&1 || true
}

# ---- dockerd -------------------------------------------------------------

dockerd_setup() {
  command -v dockerd >/dev/null && [ -x "$DOCKER_CLI" ] || return 1
  local d=$PEER_TMP/dockerd
  mkdir -p "$d"
  echo '{}' > "$d/daemon.json"
  peer_wrapper docker "'$DOCKER_CLI'" -H "'unix://$d/docker.sock'"
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

docker_cmd() { peer_run docker "$@"; }

dockerd_teardown() {
  local d=$PEER_TMP/dockerd pid id
  [ -f "$d/started.pid" ] || return 0
  pid=$(cat "$d/started.pid")
  if kill -0 "$pid" 2>/dev/null; then
    for id in $(docker_cmd ps -q --filter status=paused 2>/dev/null); do
      docker_cmd unpause "$id" >/dev/null 2>&1 || true
    done
    for id in $(docker_cmd ps -aq 2>/dev/null); do
      docker_cmd rm -f "$id" >/dev/null 2>&1 || true
    done
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
  # ctr: the client; ctr-run and ctr-exec: `ctr run` / `ctr task exec` with
  # berth-runtime (private state root) and private fifo directory.
  peer_wrapper ctr ctr -a "'$d/containerd.sock'"
  peer_wrapper ctr-run ctr -a "'$d/containerd.sock'" run --fifo-dir "'$d/fifo'" \
    --runc-binary "'$RUNTIME'" --runc-root "'$d/berth-state'"
  peer_wrapper ctr-exec ctr -a "'$d/containerd.sock'" task exec --fifo-dir "'$d/fifo'"
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

ctr_cmd() { peer_run ctr "$@"; }
ctr_run() { peer_run ctr-run "$@"; }
ctr_exec() { peer_run ctr-exec "$@"; }

# ctr_task_status ID: RUNNING, PAUSED, STOPPED... or nothing.
ctr_task_status() { ctr_cmd task ls 2>/dev/null | awk -v id="$1" '$1 == id {print $3}'; }

# ctr_wait_status ID STATUS [SECONDS]
ctr_wait_status() {
  local n=$((${3:-10} * 10))
  while [ "$n" -gt 0 ]; do
    [ "$(ctr_task_status "$1")" = "$2" ] && return 0
    sleep 0.1
    n=$((n - 1))
  done
  echo "task $1 is '$(ctr_task_status "$1")', not $2"
  return 1
}

containerd_teardown() {
  local d=$PEER_TMP/containerd pid id
  [ -f "$d/started.pid" ] || return 0
  pid=$(cat "$d/started.pid")
  if kill -0 "$pid" 2>/dev/null; then
    for id in $(ctr_cmd task ls -q 2>/dev/null); do
      # a frozen task only dies once thawed
      [ "$(ctr_task_status "$id")" != PAUSED ] || ctr_cmd task resume "$id" >/dev/null 2>&1
      ctr_cmd task kill -s KILL "$id" >/dev/null 2>&1 || true
      ctr_wait_status "$id" STOPPED 5 >/dev/null
      ctr_cmd task delete -f "$id" >/dev/null 2>&1 || true
    done
    for id in $(ctr_cmd containers ls -q 2>/dev/null); do
      ctr_cmd containers delete "$id" >/dev/null 2>&1 || true
    done
  fi
  stop_pid "$pid"
}

# ---- berth-runtime itself ------------------------------------------------

# podman_rt ARGS...: berth-runtime on podman's state root.
podman_rt() { "$RUNTIME" --root "$PEER_TMP/podman/berth-state" "$@"; }

# peer_runtime_sweep ROOT: after the engines cleaned up, berth-runtime state
# left under ROOT is a leak: report it, thaw and delete it.
peer_runtime_sweep() {
  local root=$1 id st
  [ -d "$root" ] || return 0
  while read -r id st; do
    [ -n "$id" ] || continue
    peer_log "berth-runtime container left behind in $root: $id ($st)"
    [ "$st" != paused ] || "$RUNTIME" --root "$root" resume "$id" >/dev/null 2>&1
    "$RUNTIME" --root "$root" delete --force "$id" >/dev/null 2>&1 || true
  done < <("$RUNTIME" --root "$root" list --format json 2>/dev/null | jq -r '.[]? | "\(.id) \(.status)"')
}

peer_runtime_sweep_all() {
  peer_runtime_sweep "$PEER_TMP/podman/berth-state"
  peer_runtime_sweep "$PEER_TMP/dockerd/exec/runtime-berth/moby"
  peer_runtime_sweep "$PEER_TMP/containerd/berth-state/default"
}
