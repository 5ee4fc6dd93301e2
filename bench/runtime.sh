#!/usr/bin/env bash
# berth-runtime against runc, side by side, on the same busybox bundle:
#  1. create+start+wait+delete of a container running `true` as one `run`
#     command, medians of N runs each (hyperfine), and the ratio;
#  2. the same as the four commands a shim issues (create --pid-file; start;
#     wait for the pid; delete);
#  3. whether a container with a 1 MiB memory limit starts at all.
# Usage: bench/runtime.sh [runs]   (default 30; run as root)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
RUNS=${1:-30}
BERTH_RUNTIME=${BERTH_RUNTIME:-$(cd "$here/../build/src" && pwd)/berth-runtime}
RUNC=$(command -v "${RUNC:-runc}")
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
echo "host: $(uname -r), $(nproc) cpus; runc: $("$RUNC" --version | head -1)"

hyperfine -N --warmup 3 --runs "$RUNS" --export-json "$work/run.json" \
  "$RUNC --root $work/rstate run r1" "$BERTH_RUNTIME --root $work/bstate run b1" >/dev/null
read -r m_runc m_berth < <(hyperfine_medians "$work/run.json" | xargs)
echo "run (create+start+wait+delete) of 'true', median of $RUNS runs:"
printf '  %-14s %8s ms\n' runc "$m_runc" berth-runtime "$m_berth"
echo "  ratio runc/berth-runtime: $(ratio "$m_runc" "$m_berth")x"

# Bash builtins only between the commands, so the wait costs no exec.
steps() { # runtime id
  echo "R=$1; \$R --root $work/${2}state create --pid-file $work/$2.pid $2 && pid=\$(< $work/$2.pid) \
&& \$R --root $work/${2}state start $2 \
&& while [ -e /proc/\$pid ] && read -r s < /proc/\$pid/stat && [[ \$s != *') Z '* ]]; do :; done; \
\$R --root $work/${2}state delete $2"
}
hyperfine --shell=bash --warmup 3 --runs "$RUNS" --export-json "$work/steps.json" \
  "$(steps "$RUNC" r)" "$(steps "$BERTH_RUNTIME" b)" >/dev/null
read -r m_runc4 m_berth4 < <(hyperfine_medians "$work/steps.json" | xargs)
echo "create; start; wait for the pid; delete (four commands), median of $RUNS runs:"
printf '  %-14s %8s ms\n' runc "$m_runc4" berth-runtime "$m_berth4"
echo "  ratio runc/berth-runtime: $(ratio "$m_runc4" "$m_berth4")x"

echo "container with linux.resources.memory.limit = 1 MiB running 'echo started':"
jq '.linux.resources.memory = {"limit": 1048576} | .process.args = ["echo", "started"]' \
  config.json > c.json && mv c.json config.json
for pair in "runc:$RUNC:$work/rstate" "berth-runtime:$BERTH_RUNTIME:$work/bstate"; do
  IFS=: read -r label bin root <<< "$pair"
  if out=$("$bin" --root "$root" run m1 2>&1) && [ "$out" = started ]; then
    printf '  %-14s starts\n' "$label"
  else
    printf '  %-14s fails: %s\n' "$label" "$(echo "$out" | tail -1 | cut -c1-120)"
  fi
  "$bin" --root "$root" delete -f m1 >/dev/null 2>&1 || true
done
