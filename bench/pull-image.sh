#!/usr/bin/env bash
# The pull benchmark's image (issue 3): ~400 MB uncompressed in five gzip
# layers, bottom first:
#   1. a `debootstrap --variant=minbase` Debian tree (the host's suite and
#      architecture, from the mirror in /etc/apt/sources.list*)
#   2. /bench/random.bin, 40 MiB of incompressible bytes (deterministic)
#   3. /bench/zeros.bin, 40 MiB of zeros
#   4. /usr/share/doc-copy: a copy of the host's /usr/share/doc (many small
#      text files, mostly already gzipped)
#   5. a small layer (/etc/bench-release, /bench/small)
# Both the minbase tree and the finished OCI layout are built once and cached
# under $BENCH_CACHE (default /var/cache/berth-bench): minbase/ and oci/
# (tag "big"). Delete the directory to rebuild.
#
# Sourced (by bench/pull.sh):
#   bench_image_build          make the cache if missing; sets BENCH_OCI
#   bench_image_push           start a plain loopback registry (registry-lib)
#                              and push the image to it as $REG/bench/big:latest;
#                              sets BENCH_REF, BENCH_DIGEST
# Run: `bench/pull-image.sh` builds the cache and prints the layers;
#      `bench/pull-image.sh --serve` also pushes it to a registry and keeps that
#      running until interrupted (for pulling by hand).
# Run as root (debootstrap, ownership in the tree).

BENCH_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BENCH_CACHE=${BENCH_CACHE:-/var/cache/berth-bench}
BENCH_OCI=$BENCH_CACHE/oci
BENCH_TAG=big
# registry-lib: registry start/stop, make_oci_image, push_image, _reg_det_bytes
. "$BENCH_HERE/../tests/system/registry-lib.bash"

_bench_log() { echo "# pull-image: $*" >&2; }

# The first Debian mirror URI (and suite) in the apt sources, deb822 or
# one-line format: debootstrap fetches from nowhere else.
_bench_mirror() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk '/^URIs:/ && $2 ~ /debian\/?$/ && $2 !~ /security/ {print $2; exit}' "$f"
  done | head -1 | grep . && return 0
  grep -hs '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list |
    awk '$2 ~ /debian\/?$/ && $2 !~ /security/ {print $2; exit}' | grep .
}

_bench_minbase() {
  local dir=$BENCH_CACHE/minbase tmp suite mirror
  [ -x "$dir/bin/sh" ] && return 0
  command -v debootstrap >/dev/null || { _bench_log "debootstrap not installed"; return 1; }
  suite=$(. /etc/os-release && echo "${VERSION_CODENAME:?}") || return 1
  mirror=$(_bench_mirror) || { _bench_log "no Debian mirror in /etc/apt/sources.list*"; return 1; }
  tmp=$BENCH_CACHE/minbase.tmp
  rm -rf "$tmp"
  _bench_log "debootstrap --variant=minbase $suite from $mirror (once; cached in $dir)"
  debootstrap --variant=minbase "$suite" "$tmp" "$mirror" > "$BENCH_CACHE/debootstrap.log" 2>&1 || {
    _bench_log "debootstrap failed; see $BENCH_CACHE/debootstrap.log"
    tail -5 "$BENCH_CACHE/debootstrap.log" >&2
    rm -rf "$tmp"
    return 1
  }
  # kept as debootstrap leaves it, its downloaded .debs included: that is
  # what makes the image the issue's ~400 MB
  mv -T "$tmp" "$dir"
}

bench_image_build() {
  [ -f "$BENCH_OCI/index.json" ] && return 0
  mkdir -p "$BENCH_CACHE" || return 1
  _bench_minbase || return 1
  local work rc=0
  work=$(mktemp -d "$BENCH_CACHE/build-XXXXXX") || return 1
  (
    set -e
    mkdir -p "$work"/{random/bench,zeros/bench,docs/usr/share,small/etc,small/bench}
    _reg_det_bytes $((40 << 20)) berth-bench-random > "$work/random/bench/random.bin"
    head -c $((40 << 20)) /dev/zero > "$work/zeros/bench/zeros.bin"
    cp -a /usr/share/doc "$work/docs/usr/share/doc-copy"
    echo "berth pull benchmark image" > "$work/small/etc/bench-release"
    printf 'small layer %s\n' $(seq 1 200) > "$work/small/bench/small"
    rm -rf "$work/oci"
    OCI_LABELS='{"org.berth.bench":"pull"}' OCI_CMD='["bash"]' \
      make_oci_image "$work/oci" "$BENCH_TAG" "$BENCH_CACHE/minbase" "$work/random" \
      "$work/zeros" "$work/docs" "$work/small"
    rm -rf "$BENCH_OCI"
    mv -T "$work/oci" "$BENCH_OCI"
  ) || rc=$?
  rm -rf "$work"
  [ "$rc" = 0 ] || _bench_log "building the OCI layout failed"
  return "$rc"
}

# bench_image_layers: "compressed-bytes digest" of each layer, bottom first.
bench_image_layers() {
  local m
  m=$(jq -r --arg t "$BENCH_TAG" \
    '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $t) | .digest' \
    "$BENCH_OCI/index.json")
  jq -r '.layers[] | "\(.size) \(.digest)"' "$BENCH_OCI/blobs/sha256/${m#sha256:}"
}

bench_image_push() {
  registry_start plain || return 1
  BENCH_REF=$REG/bench/big:latest
  push_image "$BENCH_OCI" "$BENCH_REF" "$BENCH_TAG" || return 1
  BENCH_DIGEST=$PUSHED_DIGEST
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  bench_image_build
  echo "image: $BENCH_OCI (tag $BENCH_TAG); layers (compressed bytes, digest), bottom first:"
  bench_image_layers | sed 's/^/  /'
  bench_image_layers | while read -r _ d; do gzip -l "$BENCH_OCI/blobs/sha256/${d#sha256:}" | awk 'NR == 2 {print $2}'; done |
    awk '{s += $1} END {printf "uncompressed: %.0f MB of tar\n", s / 1e6}'
  if [ "${1:-}" = --serve ]; then
    trap 'registry_stop' EXIT
    trap 'exit 0' INT TERM
    bench_image_push
    echo "pushed $BENCH_REF ($BENCH_DIGEST); registry pid $REG_PID; Ctrl-C stops it"
    while kill -0 "$REG_PID" 2>/dev/null; do sleep 1; done
  fi
fi
