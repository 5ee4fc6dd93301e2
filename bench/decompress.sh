#!/usr/bin/env bash
# gzip decompression throughput on the pull benchmark's real layer blobs
# (bench/pull-image.sh's cached OCI layout): berth's own streaming
# decompressor with each library it can use (BERTH_GZIP=zlib|isal), the
# libraries called directly, libdeflate on whole buffers (it has no streaming
# interface), and SHA-256 for scale (a pull hashes every blob and every tar).
# Blobs are read into memory first; streaming modes are fed 16 KiB at a time.
# Prints MB/s (10^6 bytes) of compressed input and uncompressed output, the
# median of REPS runs each, per layer and over the whole image.
# Usage: bench/decompress.sh [reps]   (default 5)
#   BERTH_BUILD=DIR  the berth build whose libberth.a is linked (default
#                    build-bench, a release build; made if missing)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/pull-image.sh"
REPS=${1:-5}
BUILD=${BERTH_BUILD:-$here/../build-bench}
work=$(mktemp -d /tmp/berth-bench-XXXXXX)
trap 'rm -rf "$work"' EXIT

[ -d "$BUILD" ] || meson setup "$BUILD" "$here/.." --buildtype=release >/dev/null
ninja -C "$BUILD" >/dev/null || [ ! -f "$BUILD/src/libberth/libberth.a" ] ||
  echo "warning: the build failed; using the libberth.a already in $BUILD" >&2
cc -std=c17 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
  -Wformat=2 -I "$here/../src" -I "$here/.." -o "$work/decompress" "$here/decompress.c" \
  "$BUILD/src/libberth/libberth.a" "$BUILD/src/basic/libbasic.a" \
  -lisal -ldeflate -lz -lcrypto -ldl -lpthread
bench_image_build

echo "host: $(uname -r), $(nproc) cpus, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
echo "zlib $(dpkg-query -W -f '${Version}' zlib1g 2>/dev/null), isa-l $(dpkg-query -W -f '${Version}' libisal2 2>/dev/null), libdeflate $(dpkg-query -W -f '${Version}' libdeflate0 2>/dev/null); median of $REPS runs, MB/s out (in)"
modes=("berth BERTH_GZIP=zlib" "berth BERTH_GZIP=isal" "zlib" "isal" "libdeflate")
labels=("berth+zlib" "berth+isal" "zlib" "isal" "libdeflate")
printf '  %-24s' "layer (gz MB -> tar MB)"
printf ' %17s' "${labels[@]}"
echo
declare -A tin
n=0
while read -r size digest; do
  n=$((n + 1))
  blob=$BENCH_OCI/blobs/sha256/${digest#sha256:}
  line=""
  for i in "${!modes[@]}"; do
    read -r mode envset <<< "${modes[$i]} "
    read -r _ in out secs mbin mbout < <(env ${envset:+"$envset"} "$work/decompress" "$mode" "$blob" "$REPS")
    line+=$(printf ' %8s (%6s)' "$mbout" "$mbin")
    tin[$i]=$(awk -v a="${tin[$i]:-0}" -v b="$secs" 'BEGIN {print a + b}')
    total_out[$n]=$out
  done
  printf '  %-24s%s\n' "$n: $(awk -v a="$size" -v b="$out" 'BEGIN {printf "%.1f -> %.1f", a/1e6, b/1e6}')" "$line"
done < <(bench_image_layers)

read -r gz_total < <(bench_image_layers | awk '{s += $1} END {print s}')
tar_total=$(printf '%s\n' "${total_out[@]}" | awk '{s += $1} END {print s}')
printf '  %-24s' "all: $(awk -v a="$gz_total" -v b="$tar_total" 'BEGIN {printf "%.0f -> %.0f", a/1e6, b/1e6}')"
for i in "${!modes[@]}"; do
  printf ' %8s s %6s' "$(awk -v t="${tin[$i]}" 'BEGIN {printf "%.3f", t}')" \
    "$(awk -v t="${tin[$i]}" -v o="$tar_total" 'BEGIN {printf "%.0f", o/t/1e6}')"
done
echo "  (seconds, MB/s out, one layer after another on one core)"
echo "  ratio berth+zlib/berth+isal (time): $(ratio "${tin[0]}" "${tin[1]}")x;" \
  "zlib/isal: $(ratio "${tin[2]}" "${tin[3]}")x; libdeflate/isal: $(ratio "${tin[4]}" "${tin[3]}")x"

# SHA-256 of the whole image's bytes, compressed and uncompressed, for scale
sha=$(bench_image_layers | while read -r _ d; do "$work/decompress" sha256 "$BENCH_OCI/blobs/sha256/${d#sha256:}" "$REPS"; done |
  awk '{t += $4; b += $2} END {printf "%.0f", b/t/1e6}')
echo "  SHA-256 (OpenSSL): $sha MB/s"
