#!/usr/bin/env bash
# berth-runtime against runc, side by side, on the same busybox bundle:
#  1. create+start+wait+delete of a container running `true` (`run`, which
#     does all four), medians of N runs each, and the ratio;
#  2. the same as four separate commands (create; start; poll state; delete);
#  3. whether a container with a 1 MiB memory limit starts at all.
# Usage: bench/runtime.sh [runs]   (default 30; run as root)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
RUNS=${1:-30}
BERTH_RUNTIME=${BERTH_RUNTIME:-$here/../build/src/berth-runtime}
RUNC=${RUNC:-runc}
work=$(mktemp -d /tmp/berth-bench-XXXXXX)
cleanup() {
  "$BERTH_RUNTIME" --root "$work/bstate" delete -f b1 >/dev/null 2>&1 || true
  "$RUNC" --root "$work/rstate" delete -f r1 >/dev/null 2>&1 || true
  rm -rf "$work"
  rmdir /sys/fs/cgroup/*/berth-bench/* /sys/fs/cgroup/*/berth-bench 2>/dev/null || true
}
trap cleanup EXIT

bench_bundle "$work/bundle" '["true"]'
cd "$work/bundle"

run_series() { # label cmd...
  local label=$1 i; shift
  for i in $(seq 1 3); do "$@" >/dev/null 2>&1; done   # warm up
  for i in $(seq 1 "$RUNS"); do time_ms "$@"; done > "$work/$label.times"
}

run_series runc "$RUNC" --root "$work/rstate" run r1
run_series berth "$BERTH_RUNTIME" --root "$work/bstate" run b1
m_runc=$(median < "$work/runc.times")
m_berth=$(median < "$work/berth.times")
echo "run (create+start+wait+delete) of 'true', median of $RUNS runs:"
printf '  %-14s %8s ms\n' runc "$m_runc" berth-runtime "$m_berth"
awk -v a="$m_runc" -v b="$m_berth" 'BEGIN {printf "  ratio runc/berth-runtime: %.2fx\n", a/b}'

four_steps() { # runtime root id
  local rt=$1 root=$2 id=$3
  "$rt" --root "$root" create "$id" && "$rt" --root "$root" start "$id" || return 1
  while [ "$("$rt" --root "$root" state "$id" | jq -r .status)" != stopped ]; do :; done
  "$rt" --root "$root" delete "$id"
}
run_series runc4 four_steps "$RUNC" "$work/rstate" r1
run_series berth4 four_steps "$BERTH_RUNTIME" "$work/bstate" b1
m_runc4=$(median < "$work/runc4.times")
m_berth4=$(median < "$work/berth4.times")
echo "create; start; state until stopped; delete (separate commands), median of $RUNS runs:"
printf '  %-14s %8s ms\n' runc "$m_runc4" berth-runtime "$m_berth4"
awk -v a="$m_runc4" -v b="$m_berth4" 'BEGIN {printf "  ratio runc/berth-runtime: %.2fx\n", a/b}'

echo "container with linux.resources.memory.limit = 1 MiB running 'echo started':"
jq '.linux.resources.memory = {"limit": 1048576} | .process.args = ["echo", "started"]' \
  config.json > c.json && mv c.json config.json
for pair in "runc:$RUNC:$work/rstate" "berth-runtime:$BERTH_RUNTIME:$work/bstate"; do
  IFS=: read -r label bin root <<< "$pair"
  if out=$("$bin" --root "$root" run m1 2>&1) && [ "$out" = started ]; then
    printf '  %-14s starts\n' "$label"
  else
    printf '  %-14s fails: %s\n' "$label" "$(echo "$out" | tail -1 | cut -c1-100)"
  fi
  "$bin" --root "$root" delete -f m1 >/dev/null 2>&1 || true
done
