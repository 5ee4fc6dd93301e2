#!/usr/bin/env bash
# Soak (issue 4, reliability): CYCLES `run --rm` cycles and CYCLES/4
# `run -d` + `rm -f` cycles of a busybox container in a private store, with
# what the host holds sampled every STEP cycles: open files (file-nr),
# mounts, berth cgroup directories, processes, the store's disk use (du of
# root and runroot, the db and its WAL included) and MemAvailable. A leak
# shows as a column that grows with the cycle count; the last line says
# whether any did, beyond a tolerance for what other processes on the
# machine do meanwhile.
# Usage: bench/soak.sh [cycles]   (default 2000; run as root)
#   BERTH=PATH  berth binary (default build-release/src/berth)
#   STEP=N      sample every N cycles (default 250)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
CYCLES=${1:-2000}
STEP=${STEP:-250}
BERTH=${BERTH:-$here/../build-release/src/berth}
[ -x "$BERTH" ] || { echo "no berth binary at $BERTH (ninja -C build-release)" >&2; exit 1; }
work=$(mktemp -d /tmp/berth-soak-XXXXXX)
b() { "$BERTH" --root "$work/root" --runroot "$work/run" "$@"; }
cleanup() {
  set +e
  local id
  for id in $(b ps -aq --no-trunc 2> /dev/null); do b rm -f "$id" > /dev/null 2>&1; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$work/rootfs"/{bin,etc,proc,sys,dev,tmp}
cp /bin/busybox "$work/rootfs/bin/busybox"
for a in sh true sleep; do ln -s busybox "$work/rootfs/bin/$a"; done
tar -C "$work/rootfs" -cf - . | b import - bb > /dev/null

sample() {
  local files mounts cgroups procs disk mem
  files=$(awk '{print $1}' /proc/sys/fs/file-nr)
  mounts=$(wc -l < /proc/self/mountinfo)
  cgroups=$(find /sys/fs/cgroup -maxdepth 3 -path '*/berth/*' -type d 2> /dev/null | wc -l)
  # (berth's cgroups of any store: other berth users show here too)
  # processes of this store (monitors, exit handlers): their command lines
  # name it; the machine's other processes come and go on their own
  procs=0
  local f
  for f in /proc/[0-9]*/cmdline; do
    grep -qs "$work/" "$f" && procs=$((procs + 1))
  done
  disk=$(du -sk "$work/root" "$work/run" | awk '{s += $1} END {print s}')
  mem=$(awk '/^MemAvailable:/ {print int($2 / 1024)}' /proc/meminfo)
  printf '%8s %10s %8s %8s %8s %10s %10s\n' "$1" "$files" "$mounts" "$cgroups" "$procs" "$disk" "$mem"
}

b run --rm --network none bb true # lazily made directories exist before the baseline
echo "berth: $BERTH; $CYCLES run --rm cycles, then $((CYCLES / 4)) run -d + rm -f cycles"
printf '%8s %10s %8s %8s %8s %10s %10s\n' cycle open-files mounts cgroups procs "store KiB" "avail MiB"
first=$(sample 0)
echo "$first"
failed=0
t0=$(date +%s.%N)
for i in $(seq "$CYCLES"); do
  b run --rm --network none bb true || failed=$((failed + 1))
  [ $((i % STEP)) -ne 0 ] || sample "$i"
done
t1=$(date +%s.%N)
for i in $(seq $((CYCLES / 4))); do
  id=$(b run -d --network none bb sleep 100) || { failed=$((failed + 1)); continue; }
  b rm -f "$id" > /dev/null || failed=$((failed + 1))
done
t2=$(date +%s.%N)
last=$(sample "d+rm")
echo "$last"
echo "failed cycles: $failed"
awk -v a="$t0" -v b="$t1" -v c="$t2" -v n="$CYCLES" \
  'BEGIN {printf "run --rm: %.1f s (%.1f ms a cycle); run -d + rm -f: %.1f s\n", b - a, (b - a) * 1000 / n, c - b}'
# growth beyond noise: open files 200 and mounts 5 (host-wide counts), berth
# cgroups 0, this store's processes 0, its disk use 1 MiB (the WAL is kept
# below that)
read -r _ f0 m0 c0 p0 d0 _ <<< "$first"
read -r _ f1 m1 c1 p1 d1 _ <<< "$last"
grew=()
[ $((f1 - f0)) -le 200 ] || grew+=("open files +$((f1 - f0))")
[ $((m1 - m0)) -le 5 ] || grew+=("mounts +$((m1 - m0))")
[ $((c1 - c0)) -le 0 ] || grew+=("cgroups +$((c1 - c0))")
[ $((p1 - p0)) -le 0 ] || grew+=("processes +$((p1 - p0))")
[ $((d1 - d0)) -le 1024 ] || grew+=("store +$((d1 - d0)) KiB")
if [ "${#grew[@]}" -eq 0 ] && [ "$failed" -eq 0 ]; then
  echo "no growth: open files, mounts, cgroups, processes and store size are where they started"
else
  echo "GROWTH: ${grew[*]:-none}; failed cycles: $failed"
  exit 1
fi
