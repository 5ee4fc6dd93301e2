# Shared helpers for berth benchmarks: median/ratio arithmetic and a
# busybox bundle. Benchmarks print their numbers; nothing asserts on time.

# median of the numbers on stdin
median() { sort -n | awk '{a[NR]=$1} END {if (NR==0) {print "nan"; exit} if (NR%2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2}'; }

# time_ms CMD...: wall time of one run in milliseconds (3 decimals)
time_ms() {
  local t0 t1
  t0=$(date +%s%N)
  "$@" >/dev/null 2>&1 || return 1
  t1=$(date +%s%N)
  awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f\n", (b-a)/1e6}'
}

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
