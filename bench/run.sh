#!/usr/bin/env bash
# `run --rm` of a busybox-static image, berth side by side with podman and
# docker (issue 4's performance clause):
#  1. `run --rm --network none bb true`: medians of RUNS runs of each
#     (hyperfine, interleaved warm-up), and the ratios docker/berth and
#     podman/berth;
#  2. 100 containers `run -d --network none bb sleep 1000`, then `rm -f` of
#     each, sequentially and 8 at a time (xargs -P8): the time of each phase,
#     whether all 100 ran, and the peak memory of the per-container monitors
#     once all 100 run (sum of VmRSS: berth-monitor for berth, conmon for
#     podman, containerd-shim for docker; dockerd and containerd themselves
#     are printed apart). berth's monitor RSS per container (min/median/max)
#     is from /proc/PID/status VmRSS.
# Each engine has private state under one temp dir: podman a private
# containers.conf and --root/--runroot (its default runtime, cgroupfs), docker
# a private dockerd (overlay2, no bridge, no iptables) with its own
# containerd, berth --root/--runroot. The same rootfs tar (a static busybox
# and its applet links) is imported into each: `docker import`, `podman
# import`, `berth import`.
# Usage: bench/run.sh [runs]   (default 20; run as root)
#   BERTH=PATH      berth binary (default build-runbench/src/berth: a release
#                   build, set up if missing and brought up to date first)
#   TOOLS="berth podman docker"   which engines to measure
#   N=100 P=8       containers in part 2 and the parallelism
#   DOCKER_CLI=PATH docker client (default: docker in PATH)
#   BENCH_FS=tmp    state in the temp dir, not on the private file systems
#                   below
# Every engine's persistent state (berth --root, podman --root, dockerd
# --data-root) is on a private journaled ext4 on a loop device, and its
# runtime state (berth --runroot, podman --runroot, dockerd --exec-root and
# containerd's state) on a private tmpfs: what /var/lib and /run are on a
# usual host. This VM has neither: its root is ext4 WITHOUT a journal,
# where creating a file scans past every inode freed in the last minutes
# (ext4 recently_deleted()), and /run is on that same ext4; after a test
# suite's cleanup, every file a container start creates cost 10-20x more
# there, for every engine alike, and the figures swung by 2x.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/../tests/system/peers/lib.bash"
RUNS=${1:-20}
TOOLS=${TOOLS:-berth podman docker}
N=${N:-100}
P=${P:-8}
BERTH=${BERTH:-$here/../build-runbench/src/berth}
DOCKER_CLI=${DOCKER_CLI:-$(command -v docker || true)}
exec 3>&2 # peers/lib.bash logs to fd 3
work=$(mktemp -d /tmp/berth-bench-run-XXXXXX)
PEER_TMP=$work
peer_globals_snapshot

has() { [[ " $TOOLS " == *" $1 "* ]]; }

# rm_all TOOL: every container of that engine, whatever its state
rm_all() {
  local ids
  ids=$(cli "$1" ps -aq 2>/dev/null || true)
  [ -z "$ids" ] || case $1 in
    podman) cli podman rm -f -t 0 $ids > /dev/null 2>&1 || true ;;
    *) cli "$1" rm -f $ids > /dev/null 2>&1 || true ;;
  esac
}

cleanup() {
  set +e
  local t
  for t in $TOOLS; do [ ! -x "$work/bin/$t" ] || rm_all "$t"; done
  [ ! -f "$work/dockerd/started.pid" ] || stop_pid "$(cat "$work/dockerd/started.pid")"
  peer_kill_leftovers
  peer_umount_all
  peer_globals_cleanup
  rmdir /sys/fs/cgroup/*/berth-bench-run 2>/dev/null
  bench_state_fs_cleanup "$work"
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# cli TOOL ARGS...: the engine's client with its private state
cli() { "$work/bin/$1" "${@:2}"; }

if [ ! -x "$BERTH" ] || [ "$BERTH" = "$here/../build-runbench/src/berth" ]; then
  [ -d "$here/../build-runbench" ] ||
    meson setup "$here/../build-runbench" "$here/.." --buildtype=release -Dwerror=false > /dev/null
  ninja -C "$here/../build-runbench" src/berth > /dev/null
fi

# ---- the image: a static busybox and its applets, one tar for all --------
bench_busybox_tar "$work"

# ---- where state lives (see the top) -------------------------------------
bench_state_fs "$work"

# ---- the engines ---------------------------------------------------------
bench_engines "$TOOLS" "$work" "$fs" "$rt" "$work/rootfs.tar"

echo "host: $(uname -r), $(nproc) cpus, $(free -g | awk '/^Mem:/ {print $2}') GiB"
for t in "${names[@]}"; do
  case $t in
    berth) v="berth $("$BERTH" version --format '{{.Client.Version}}' 2>/dev/null || echo '?') ($BERTH)" ;;
    podman) v="$(podman --version), runtime $(cli podman info --format "{{.Host.OCIRuntime.Name}}" 2>/dev/null || true) $(runc --version | head -1)" ;;
    docker) v="dockerd $(dockerd --version | awk '{print $3}' | tr -d ,), client $("$DOCKER_CLI" --version | awk '{print $3}' | tr -d ,)" ;;
  esac
  echo "  $v"
done

# ---- 1. run --rm bb true -------------------------------------------------
cmds=()
for t in "${names[@]}"; do
  # each must work before it is timed
  cli "$t" run --rm --network none bb true || { echo "$t: run --rm failed" >&2; exit 1; }
  # the engine's own command line, not its wrapper script: a shell's start
  # (~1 ms) would be timed with every engine
  cmds+=("$(sed -n 's/^exec \(.*\) "\$@"$/\1/p' "$work/bin/$t") run --rm --network none bb true")
done
hyperfine -N --warmup 3 --runs "$RUNS" --export-json "$work/run.json" "${cmds[@]}" > /dev/null
mapfile -t med < <(hyperfine_medians "$work/run.json")
echo "run --rm --network none bb true, median of $RUNS runs:"
for i in "${!names[@]}"; do printf '  %-8s %9s ms\n' "${names[$i]}" "${med[$i]}"; done
if [ "${names[0]}" = berth ]; then
  for i in "${!names[@]}"; do
    [ "$i" -eq 0 ] || echo "  ratio ${names[$i]}/berth: $(ratio "${med[$i]}" "${med[0]}")x"
  done
fi

# ---- 2. N containers run -d, then rm -f ----------------------------------
# monitor_pids TOOL: pids of the engine's per-container monitors (their
# command lines name our private directory)
monitor_pids() {
  local pat f pid cmd
  case $1 in
    berth) pat='^berth-monitor ' ;;
    podman) pat='conmon ' ;;
    docker) pat='containerd-shim' ;;
  esac
  for f in /proc/[0-9]*/cmdline; do
    pid=${f#/proc/}
    pid=${pid%/cmdline}
    { cmd=$(tr '\0' ' ' < "$f"); } 2> /dev/null || continue
    [[ "$cmd" == *"$work/"* ]] && [[ "$cmd" =~ $pat ]] && echo "$pid"
  done
  return 0
}
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2> /dev/null || echo 0; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", b - a}'; }

echo "$N containers: run -d --network none bb sleep 1000, then rm -f of each:"
printf '  %-8s %-10s %9s %9s %8s %14s %14s\n' engine mode "run s" "rm s" running "monitors MiB" "per ctr KiB"
for t in "${names[@]}"; do
  for mode in sequential "parallel-$P"; do
    rm_all "$t"
    [ "$mode" = sequential ] && par=1 || par=$P
    rmcmd=(rm -f)
    [ "$t" != podman ] || rmcmd=(rm -f -t 0)
    t0=$(now)
    seq "$N" | xargs -P "$par" -I{} "$work/bin/$t" run -d --network none bb sleep 1000 \
      > "$work/ids" 2> "$work/run.err" || true
    t1=$(now)
    running=$(cli "$t" ps -q | wc -l)
    total=0 n=0
    : > "$work/rss"
    for pid in $(monitor_pids "$t"); do
      k=$(rss_kb "$pid")
      echo "$k" >> "$work/rss"
      total=$((total + k))
      n=$((n + 1))
    done
    t2=$(now)
    xargs -P "$par" -n 1 "$work/bin/$t" "${rmcmd[@]}" < "$work/ids" > /dev/null 2>> "$work/run.err" || true
    t3=$(now)
    left=$(cli "$t" ps -aq | wc -l)
    printf '  %-8s %-10s %9s %9s %8s %14s %14s\n' "$t" "$mode" "$(secs "$t0" "$t1")" "$(secs "$t2" "$t3")" \
      "$running/$N" "$(awk -v k="$total" 'BEGIN {printf "%.1f", k/1024}') ($n)" \
      "$([ "$n" -gt 0 ] && echo $((total / n)) || echo -)"
    [ "$t" != berth ] || [ ! -s "$work/rss" ] ||
      sort -n "$work/rss" | awk '{a[NR]=$1} END {printf "    berth-monitor VmRSS KiB: min %d, median %d, max %d\n", a[1], a[int((NR+1)/2)], a[NR]}'
    [ "$t" != docker ] || {
      dpid=$(cat "$work/dockerd/started.pid")
      cpid=$(pgrep -P "$dpid" -x containerd || true)
      echo "    (dockerd $(($(rss_kb "$dpid") / 1024)) MiB, containerd $([ -n "$cpid" ] && echo $(($(rss_kb "$cpid") / 1024)) || echo ?) MiB RSS, not counted)"
    }
    [ "$left" -eq 0 ] || echo "    $left containers left after rm -f"
    [ ! -s "$work/run.err" ] || { echo "    errors:"; sort "$work/run.err" | uniq -c | head -5 | sed 's/^/      /'; }
    left_mon=$(monitor_pids "$t" | wc -l)
    [ "$left_mon" -eq 0 ] || echo "    $left_mon monitors still running after rm -f"
  done
done
