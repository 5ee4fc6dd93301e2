#!/usr/bin/env bash
# Pull of the ~400 MB five-layer image (bench/pull-image.sh) from a loopback
# docker-registry into an EMPTY store, side by side (issue 3):
#   podman  private --root/--runroot, overlay driver, --tls-verify=false
#   docker  a private dockerd (overlay2, private data-root), image removed
#           and the data-root checked empty before every run
#   berth   berth --root T pull (release build, build-bench)
#   curl    the layer blobs fetched in parallel to /dev/null: the network
#           floor (what the registry and loopback alone cost)
# Before each timed run the tool's store is emptied and then initialised
# (an `images` listing), so creating the store is not timed but the pull
# of every layer into it is. hyperfine: one warm-up run each, then RUNS
# runs; medians and the ratios podman/berth and docker/berth.
# Page caches are not dropped (that needs a privilege we cannot assume):
# the registry's blobs are in the page cache after the warm-up, for every
# tool alike, so the figures are for a warm registry.
# Usage: bench/pull.sh [runs]   (default 5; run as root)
#   BERTH=PATH     berth binary (default build-bench/src/berth; made with
#                  `meson setup build-bench --buildtype=release` if missing)
#   TOOLS="podman docker berth curl"   which to measure
#   DOCKER_CLI=PATH  docker client (default: docker in PATH)
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
  [ ! -f "$work/dockerd/started.pid" ] || stop_pid "$(cat "$work/dockerd/started.pid")"
  peer_kill_leftovers
  peer_umount_all
  registry_stop
  peer_globals_cleanup
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

has() { [[ " $TOOLS " == *" $1 "* ]]; }

bench_image_build
bench_image_push
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

# Every timed run gets a new store: the previous one is renamed into
# $work/trash, not deleted, and the trash goes at the end. Deleting ~15,000
# files just before the next run would slow its file creation: ext4 without
# a journal (this VM's root) skips inodes freed in the last 1-5 minutes when
# allocating new ones, and that scan (recently_deleted()) took 80% of a
# pull's CPU time in perf.
mkdir -p "$work/trash"
# _prep NAME PATH...: prepare-script lines moving each PATH to the trash
_prep() {
  local name=$1 p
  shift
  echo 'n=$RANDOM$RANDOM'
  for p in "$@"; do
    echo "umount -R $p 2>/dev/null; [ ! -e $p ] || mv -T $p $work/trash/$name-\$n-$(basename "$p")"
  done
}

if has podman && command -v podman >/dev/null; then
  d=$work/podman
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
  d=$work/dockerd
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
  if [ ! -x "$BERTH" ] && [ "$BERTH" = "$here/../build-bench/src/berth" ]; then
    [ -d "$here/../build-bench" ] || meson setup "$here/../build-bench" "$here/.." --buildtype=release >/dev/null
    ninja -C "$here/../build-bench" >/dev/null || true
  fi
  if "$BERTH" pull --help >/dev/null 2>&1; then
    d=$work/berth
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
# hyperfine -N runs --prepare without a shell too: each is a script
args=()
for i in "${!cmds[@]}"; do
  printf '%s\n' "${preps[$i]}" > "$work/prepare-$i.sh"
  args+=(--prepare "bash $work/prepare-$i.sh")
done
hyperfine -N --warmup 1 --runs "$RUNS" --export-json "$work/pull.json" "${args[@]}" "${cmds[@]}" \
  > "$work/hyperfine.log" 2>&1 || { cat "$work/hyperfine.log"; exit 1; }
mapfile -t med < <(hyperfine_medians "$work/pull.json")
mapfile -t mins < <(jq -r '.results[] | "\(.min * 1000 | round) \(.max * 1000 | round)"' "$work/pull.json")

echo "pull of $BENCH_REF into an empty store, median of $RUNS runs (min-max):"
declare -A by
for i in "${!cmds[@]}"; do
  printf '  %-16s %9.0f ms  (%s ms)\n' "${names[$i]}" "${med[$i]}" "${mins[$i]/ /-}"
  by[${names[$i]%% *}]=${med[$i]}
done
if [ -n "${by[berth]:-}" ]; then
  [ -z "${by[podman]:-}" ] || echo "  ratio podman/berth: $(ratio "${by[podman]}" "${by[berth]}")x"
  [ -z "${by[docker]:-}" ] || echo "  ratio docker/berth: $(ratio "${by[docker]}" "${by[berth]}")x"
fi
[ -z "${by[podman]:-}" ] || [ -z "${by[docker]:-}" ] ||
  echo "  ratio podman/docker: $(ratio "${by[podman]}" "${by[docker]}")x"
