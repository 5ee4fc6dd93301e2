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
