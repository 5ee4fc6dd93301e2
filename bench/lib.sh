# Shared helpers for berth benchmarks: median/ratio arithmetic and a
# busybox bundle. Benchmarks print their numbers; nothing asserts on time.

# hyperfine_medians JSON: "median_ms" of each command in a hyperfine export, one a line.
# hyperfine runs each command directly (-N) or subtracts the shell's own
# start-up, so no constant overhead dilutes the ratios.
hyperfine_medians() { jq -r '.results[] | .median * 1000 | . * 1000 | round / 1000' "$1"; }

# ratio A B: A/B with two decimals
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a/b}'; }

# bench_bundle DIR ARGS-JSON: a busybox rootfs with berth-runtime's default spec
bench_bundle() {
  local dir=$1 args=$2 a
  mkdir -p "$dir/rootfs"/{bin,proc,sys,dev,etc,tmp}
  cp /bin/busybox "$dir/rootfs/bin/busybox"
  for a in sh true sleep echo cat; do ln -sf busybox "$dir/rootfs/bin/$a"; done
  (cd "$dir" && "$BERTH_RUNTIME" spec)
  jq --argjson args "$args" --arg cg "/berth-bench/$(basename "$dir")" \
    '.process.terminal = false | .process.args = $args | .linux.cgroupsPath = $cg' \
    "$dir/config.json" > "$dir/c.json" && mv "$dir/c.json" "$dir/config.json"
}

# bench_engines TOOLS WORK FS RT TARBALL: the engines of TOOLS ("berth podman
# docker") with private state - persistent under FS, runtime under RT,
# wrappers in WORK/bin (peer_wrapper, tests/system/peers/lib.bash) - the
# TARBALL imported as bb:latest into each; names=() the engines set up.
# Needs BERTH and DOCKER_CLI, and cli()/has() as bench/run.sh defines them.
bench_engines() {
  local TOOLS=$1 work=$2 fs=$3 rt=$4 tarball=$5 d
  names=()
  if has berth; then
    peer_wrapper berth "'$BERTH'" --root "'$fs/berth/root'" --runroot "'$rt/berth/run'"
    cli berth import - bb:latest < "$tarball" > /dev/null
    names+=(berth)
  fi

  if has podman && command -v podman > /dev/null && command -v conmon > /dev/null; then
    d=$work/podman
    mkdir -p "$d"
    # Debian's containers.conf with private paths. No default ulimits: this
    # machine refuses the setrlimit podman's defaults (nofile 1048576, and
    # any nproc) ask of the runtime; and runc, not crun: crun 1.8 refuses
    # this host's hybrid cgroup layout ("cgroups in hybrid mode not
    # supported").
    awk -v d="$d" -v f="$fs/podman" -v r="$rt/podman" '
      { print }
      /^\[containers\]/ { print "default_ulimits = []" }
      /^\[engine\]/ {
        print "runtime = \"runc\""
        print "cgroup_manager = \"cgroupfs\""; print "events_logger = \"file\""
        print "events_logfile_path = \"" d "/events.log\""; print "tmp_dir = \"" r "/tmp\""
        print "static_dir = \"" f "/libpod\""; print "volume_path = \"" f "/volumes\""
        print "lock_type = \"file\"" }
      /^\[network\]/ { print "network_config_dir = \"" d "/networks\"" }
    ' /usr/share/containers/containers.conf > "$d/containers.conf"
    peer_wrapper podman env "CONTAINERS_CONF='$d/containers.conf'" podman \
      --root "'$fs/podman/root'" --runroot "'$rt/podman/runroot'" --storage-driver overlay \
      --cgroup-manager cgroupfs --events-backend file
    cli podman import -q "$tarball" localhost/bb:latest > /dev/null
    names+=(podman)
  fi

  if has docker && command -v dockerd > /dev/null && [ -n "$DOCKER_CLI" ]; then
    d=$work/dockerd
    mkdir -p "$d"
    echo '{}' > "$d/daemon.json"
    peer_wrapper docker "'$DOCKER_CLI'" -H "'unix://$d/docker.sock'"
    dockerd --config-file "$d/daemon.json" --data-root "$fs/docker/data" --exec-root "$rt/docker/exec" \
      --pidfile "$d/docker.pid" --host "unix://$d/docker.sock" --bridge none --iptables=false \
      --ip6tables=false --ip-masq=false --storage-driver overlay2 \
      --exec-opt native.cgroupdriver=cgroupfs > "$d/dockerd.log" 2>&1 3>&- < /dev/null &
    echo $! > "$d/started.pid"
    wait_until 30 cli docker version || { echo "dockerd did not start: $(tail -3 "$d/dockerd.log")" >&2; exit 1; }
    cli docker import - bb:latest < "$tarball" > /dev/null
    names+=(docker)
  fi
}

# bench_busybox_tar WORK: WORK/rootfs.tar, a static busybox and its applet
# links with a root user: the one image every engine imports.
bench_busybox_tar() {
  local work=$1 a
  file -L /bin/busybox | grep -q 'statically linked' || { echo "need a static /bin/busybox" >&2; return 1; }
  mkdir -p "$work/rootfs"/{bin,etc,proc,sys,dev,tmp,root}
  cp /bin/busybox "$work/rootfs/bin/busybox"
  for a in $("$work/rootfs/bin/busybox" --list); do
    [ -e "$work/rootfs/bin/$a" ] || ln -s busybox "$work/rootfs/bin/$a"
  done
  echo 'root:x:0:0:root:/root:/bin/sh' > "$work/rootfs/etc/passwd"
  echo 'root:x:0:' > "$work/rootfs/etc/group"
  tar -C "$work/rootfs" -cf "$work/rootfs.tar" .
}

# bench_state_fs WORK: sets fs (persistent state) and rt (runtime state).
# Unless BENCH_FS=tmp, fs is a private journaled ext4 on a loop device and
# rt a tmpfs, as /var/lib and /run are on a usual host: this VM's root is an
# ext4 without a journal, where every file creation after a mass delete
# costs 10-20x more, and /run is on it too. bench_state_fs_cleanup WORK
# undoes it.
bench_state_fs() {
  local work=$1
  fs=$work/state rt=$work/state
  mkdir -p "$fs"
  if [ "${BENCH_FS:-loop}" = loop ]; then
    truncate -s 20G "$work/fs.img"
    mkfs.ext4 -q -F "$work/fs.img"
    losetup --direct-io=on -f --show "$work/fs.img" > "$work/loopdev"
    mkdir -p "$work/fs" "$work/rt"
    mount "$(cat "$work/loopdev")" "$work/fs"
    mount -t tmpfs -o mode=0755 tmpfs "$work/rt"
    fs=$work/fs rt=$work/rt
  fi
  echo "state on: $(findmnt -no SOURCE,FSTYPE,OPTIONS -T "$fs"); runtime state on: $(findmnt -no FSTYPE -T "$rt")"
}

bench_state_fs_cleanup() {
  local work=$1
  [ -z "${fs:-}" ] || ! mountpoint -q "$fs" || umount "$fs"
  [ -z "${rt:-}" ] || ! mountpoint -q "$rt" || umount "$rt"
  [ ! -s "$work/loopdev" ] || losetup -d "$(cat "$work/loopdev")"
}
