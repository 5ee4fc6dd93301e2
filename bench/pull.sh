#!/usr/bin/env bash
# Pull of the ~400 MB five-layer image (bench/pull-image.sh) from a loopback
# docker-registry into an EMPTY store, side by side (issue 3):
#   podman  private --root/--runroot, overlay driver, --tls-verify=false
#   docker  a private dockerd (overlay2), restarted with a new data-root
#           before every run
#   berth   berth --root T pull (release build, build-bench)
#   curl    the layer blobs fetched in parallel to /dev/null: the network
#           floor (what the registry and loopback alone cost)
# Before each timed run the tool gets a new, empty store (the old one is
# moved aside, not deleted), which is then initialised (an `images`
# listing), so creating the store is not timed but the pull of every layer
# into it is. The stores are on a private journaled ext4 on a loop device
# (see below for why). One warm-up round, then RUNS rounds of every tool
# once (interleaved, see "run"); medians and the ratios podman/berth and
# docker/berth.
# Page caches are not dropped (that needs a privilege we cannot assume):
# the registry's blobs are in the page cache after the warm-up, for every
# tool alike, so the figures are for a warm registry.
# Usage: bench/pull.sh [runs]   (default 5; run as root)
#   BERTH=PATH     berth binary (default build-bench/src/berth, a release
#                  build: set up if missing and brought up to date first)
#   TOOLS="podman docker berth curl"   which to measure
#   DOCKER_CLI=PATH  docker client (default: docker in PATH)
#   BENCH_FS=tmp   stores in the temp dir, not on a private loop ext4
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/pull-image.sh"
. "$here/../tests/system/peers/lib.bash"
RUNS=${1:-5}
TOOLS=${TOOLS:-podman docker berth curl}
BERTH=${BERTH:-$here/../build-bench/src/berth}
DOCKER_CLI=${DOCKER_CLI:-$(command -v docker || true)}
exec 3>&2 # peers/lib.bash logs to fd 3
work=$(mktemp -d /tmp/berth-bench-XXXXXX)
PEER_TMP=$work
peer_globals_snapshot

cleanup() {
  set +e
  [ -z "${fs:-}" ] || [ ! -f "$fs/dockerd/started.pid" ] || stop_pid "$(cat "$fs/dockerd/started.pid")"
  peer_kill_leftovers
  peer_umount_all
  [ ! -s "$work/loopdev" ] || losetup -d "$(cat "$work/loopdev")"
  registry_stop
  peer_globals_cleanup
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

has() { [[ " $TOOLS " == *" $1 "* ]]; }

bench_image_build
bench_image_push

# The stores live on a private ext4 (defaults, so with a journal) in a
# sparse file on a loop device with direct I/O: what a host's /var/lib
# usually is, and out of reach of other users of the machine. This VM's
# root is ext4 WITHOUT a journal, where creating a file scans past every
# inode freed in the last 1-5 minutes (ext4 recently_deleted()): any mass
# delete anywhere on it (a test's cleanup) made file creation 10-20x slower
# (2000 empty files: 0.04 s vs 0.6-1 s) and pull times swing 2-3x.
# BENCH_FS=tmp puts the stores in the temp dir instead.
fs=$work
if [ "${BENCH_FS:-loop}" = loop ]; then
  truncate -s 40G "$work/fs.img"
  mkfs.ext4 -q -F "$work/fs.img"
  losetup --direct-io=on -f --show "$work/fs.img" > "$work/loopdev"
  mkdir "$work/fs"
  mount "$(cat "$work/loopdev")" "$work/fs"
  fs=$work/fs
fi
echo "stores on: $(findmnt -no SOURCE,FSTYPE,OPTIONS -T "$fs")"
echo "host: $(uname -r), $(nproc) cpus, $(free -g | awk '/^Mem:/ {print $2}') GiB; image $BENCH_REF"
bench_image_layers | awk '{n++; s += $1} END {printf "image: %d layers, %.0f MB compressed\n", n, s/1e6}'

# ---- the commands --------------------------------------------------------
cmds=() names=() preps=()

# the registry's blobs into the page cache; the network floor
blob_urls=()
while read -r _ d; do blob_urls+=(-o /dev/null "$REG_URL/v2/bench/big/blobs/$d"); done < <(bench_image_layers)
curl -sf --noproxy '*' -Z "${blob_urls[@]}" > /dev/null 2>&1
if has curl; then
  names+=(curl)
  cmds+=("curl -sf --noproxy * -Z ${blob_urls[*]}")
  preps+=(:)
fi

# Every timed run gets a new store: the previous one is renamed into the
# trash, not deleted (nothing is deleted while measuring; see above), and
# the trash goes at the end.
mkdir -p "$fs/trash"
# _prep NAME PATH...: prepare-script lines moving each PATH to the trash
_prep() {
  local name=$1 p
  shift
  echo 'n=$RANDOM$RANDOM'
  for p in "$@"; do
    echo "umount -R $p 2>/dev/null; [ ! -e $p ] || mv -T $p $fs/trash/$name-\$n-$(basename "$p")"
  done
}

if has podman && command -v podman >/dev/null; then
  d=$fs/podman
  mkdir -p "$d"
  # Debian's containers.conf with private paths and the file events logger
  awk -v d="$d" '{ print } /^\[engine\]/ {
      print "events_logger = \"file\""; print "events_logfile_path = \"" d "/events.log\""
      print "tmp_dir = \"" d "/tmp\""; print "volume_path = \"" d "/volumes\"" }' \
    /usr/share/containers/containers.conf > "$d/containers.conf"
  podman=(env "CONTAINERS_CONF=$d/containers.conf" podman --root "$d/root" --runroot "$d/runroot"
    --storage-driver overlay)
  # podman (as root) keeps a blob-info cache outside --root: remove it
  # before each run unless it was there before we started.
  bic=/var/lib/containers/cache/blob-info-cache-v1.boltdb
  rmbic=:
  grep -qxF "$bic" "$work/globals.before" || rmbic="rm -f $bic"
  names+=("podman $(podman --version | awk '{print $3}')")
  cmds+=("${podman[*]} pull -q --tls-verify=false $BENCH_REF")
  preps+=("$(_prep podman "$d/root/overlay" "$d/root" "$d/runroot" "$d/tmp")
$rmbic
${podman[*]} images -q")
fi

if has docker && command -v dockerd >/dev/null && [ -n "$DOCKER_CLI" ]; then
  # A new dockerd with a new data-root for every run: `docker rmi` would
  # delete the layers just before the next pull (see above).
  d=$fs/dockerd
  mkdir -p "$d"
  echo '{}' > "$d/daemon.json"
  docker=("$DOCKER_CLI" -H "unix://$d/docker.sock")
  {
    echo "if [ -f $d/started.pid ]; then"
    echo "  pid=\$(cat $d/started.pid)"
    echo "  kill -TERM \$pid 2>/dev/null"
    echo "  for i in \$(seq 1 300); do kill -0 \$pid 2>/dev/null || break; sleep 0.1; done"
    echo "  ! kill -0 \$pid 2>/dev/null || { echo \"dockerd \$pid did not stop\" >&2; exit 1; }"
    echo "fi"
    _prep docker "$d/data" "$d/exec"
    echo "dockerd --config-file $d/daemon.json --data-root $d/data --exec-root $d/exec" \
      "--pidfile $d/docker.pid --host unix://$d/docker.sock --bridge none --iptables=false" \
      "--ip6tables=false --ip-masq=false --storage-driver overlay2" \
      "--exec-opt native.cgroupdriver=cgroupfs >> $d/dockerd.log 2>&1 3>&- </dev/null &"
    echo "echo \$! > $d/started.pid"
    echo "for i in \$(seq 1 300); do ${docker[*]} version >/dev/null 2>&1 && exit 0; sleep 0.1; done"
    echo "echo \"dockerd did not start: \$(tail -3 $d/dockerd.log)\" >&2"
    echo "exit 1"
  } > "$d/restart.sh"
  if bash "$d/restart.sh"; then
    names+=("docker $(dockerd --version | awk '{print $3}' | sed 's/[,+].*//')")
    cmds+=("${docker[*]} pull -q $BENCH_REF")
    preps+=("bash $d/restart.sh")
  else
    echo "docker: dockerd did not start; not measured"
  fi
fi

if has berth; then
  if [ "$BERTH" = "$here/../build-bench/src/berth" ]; then
    [ -d "$here/../build-bench" ] || meson setup "$here/../build-bench" "$here/.." --buildtype=release >/dev/null
    ninja -C "$here/../build-bench" >/dev/null ||
      echo "warning: the build failed; measuring the berth already in build-bench" >&2
  fi
  if "$BERTH" pull --help >/dev/null 2>&1; then
    d=$fs/berth
    berth=("$BERTH" --root "$d/root" --runroot "$d/run")
    names+=("berth")
    cmds+=("${berth[*]} pull -q $BENCH_REF")
    preps+=("$(_prep berth "$d/root" "$d/run")
${berth[*]} images -q")
  else
    echo "berth: '$BERTH pull' is not available (yet); not measured"
  fi
fi

# ---- run -----------------------------------------------------------------
# Rounds: every tool once per round (hyperfine, one run), a first round as
# warm-up, then RUNS rounds. Interleaved so that load from other users of
# the machine (2 vCPUs, shared) falls on every tool alike, not on whichever
# hyperfine happened to be measuring. CPU time (user+sys of the command and
# its children) is printed for the daemonless tools; docker's work is done
# in dockerd, so its client's CPU time means nothing.
# hyperfine -N runs --prepare without a shell too: each is a script.
for i in "${!cmds[@]}"; do printf '%s\n' "${preps[$i]}" > "$work/prepare-$i.sh"; done
load0=$(cut -d' ' -f1-3 /proc/loadavg)
for round in $(seq 0 "$RUNS"); do
  for i in "${!cmds[@]}"; do
    hyperfine -N --runs 1 --prepare "bash $work/prepare-$i.sh" \
      --export-json "$work/r$round-$i.json" "${cmds[$i]}" > "$work/hyperfine.log" 2>&1 ||
      { cat "$work/hyperfine.log"; exit 1; }
  done
done
load1=$(cut -d' ' -f1-3 /proc/loadavg)

# stat FIELD I: median, min and max (ms) of tool I over rounds 1..RUNS
stat() {
  for round in $(seq 1 "$RUNS"); do
    jq -r ".results[0] | $1 * 1000" "$work/r$round-$2.json"
  done | sort -g | awk '{v[NR] = $1} END {
    m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    printf "%.0f %.0f %.0f\n", m, v[1], v[NR]}'
}
echo "pull of $BENCH_REF into an empty store, median of $RUNS rounds (min-max);"
echo "load average before/after: $load0 / $load1"
declare -A by
for i in "${!cmds[@]}"; do
  read -r med lo hi < <(stat .mean "$i")
  read -r cpu _ _ < <(stat '(.user + .system)' "$i")
  case ${names[$i]} in docker*) cpu="(in dockerd)" ;; *) cpu="$cpu ms" ;; esac
  printf '  %-16s %7s ms  (%s-%s ms)  CPU %s\n' "${names[$i]}" "$med" "$lo" "$hi" "$cpu"
  by[${names[$i]%% *}]=$med
done
if [ -n "${by[berth]:-}" ]; then
  [ -z "${by[podman]:-}" ] || echo "  ratio podman/berth: $(ratio "${by[podman]}" "${by[berth]}")x"
  [ -z "${by[docker]:-}" ] || echo "  ratio docker/berth: $(ratio "${by[docker]}" "${by[berth]}")x"
fi
[ -z "${by[podman]:-}" ] || [ -z "${by[docker]:-}" ] ||
  echo "  ratio podman/docker: $(ratio "${by[podman]}" "${by[docker]}")x"
