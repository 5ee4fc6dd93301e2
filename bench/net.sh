#!/usr/bin/env bash
# Networking costs of berth (issue 6's performance clause), measured on this
# host with a busybox image in a private store:
#   1. added latency of `run --rm IMAGE true` on a user network against
#      --network none (hyperfine, medians of RUNS >= 20);
#   2. `network connect` + `disconnect` of a running container (median of
#      RUNS, each timed alone);
#   3. TCP throughput streaming SIZE_MB from the host into a container
#      (busybox nc sink): through a published port on 127.0.0.1 (DNAT, no
#      userland proxy) against straight to the container's address.
# Peers: docker and podman are not run here by default (PEERS=1 to try):
# a dockerd with its bridge and iptables sets the host's FORWARD policy to
# DROP, which cuts every berth (and other engines') container off while it
# runs - not something to do on a shared host. Nothing asserts on time.
#
# Usage: sudo bench/net.sh   (BERTH_BUILD, RUNS, SIZE_MB)
set -euo pipefail
[ -n "${DEBUG:-}" ] && set -x
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
BERTH_BUILD=${BERTH_BUILD:-$here/../build}
BERTH=$BERTH_BUILD/src/berth
RUNS=${RUNS:-20}
SIZE_MB=${SIZE_MB:-1024}
work=$(mktemp -d /tmp/berth-bench-net.XXXXXX)
b() { "$BERTH" --root "$work/root" --runroot "$work/run" "$@"; }
cleanup() {
  b rm -f sink conn > /dev/null 2>&1 || true
  b network rm benchnet > /dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

rootfs=$work/rootfs
mkdir -p "$rootfs"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,etc,tmp,root,var}
chmod 755 "$rootfs"
cp /bin/busybox "$rootfs/bin/busybox"
for a in $("$rootfs/bin/busybox" --list); do [ -e "$rootfs/bin/$a" ] || ln -s busybox "$rootfs/bin/$a"; done
tar -C "$rootfs" -cf - . | b import --change 'ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin' - bb:1 > /dev/null
b network create --subnet 10.214.0.0/24 benchnet > /dev/null

echo "== run --rm bb true: --network none vs a user network ($RUNS runs)"
hyperfine -N -w 3 -r "$RUNS" --export-json "$work/run.json" \
  "$BERTH --root $work/root --runroot $work/run run --rm --network none bb:1 true" \
  "$BERTH --root $work/root --runroot $work/run run --rm --network benchnet bb:1 true" > /dev/null
mapfile -t m < <(hyperfine_medians "$work/run.json")
echo "none: ${m[0]} ms  user network: ${m[1]} ms  added: $(awk -v a="${m[1]}" -v b="${m[0]}" 'BEGIN {printf "%.1f", a-b}') ms"

echo "== network connect / disconnect of a running container ($RUNS runs)"
b run -d --name conn bb:1 sleep 1000 > /dev/null
: > "$work/conn.txt"
: > "$work/disc.txt"
for _ in $(seq "$RUNS"); do
  t0=$(date +%s%N); b network connect benchnet conn; t1=$(date +%s%N)
  b network disconnect benchnet conn; t2=$(date +%s%N)
  echo $(((t1 - t0) / 1000)) >> "$work/conn.txt"
  echo $(((t2 - t1) / 1000)) >> "$work/disc.txt"
done
med() { sort -n "$1" | awk '{a[NR]=$1} END {printf "%.1f", (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)/1000}'; }
echo "connect: $(med "$work/conn.txt") ms  disconnect: $(med "$work/disc.txt") ms (medians, whole CLI)"

echo "== throughput, $SIZE_MB MiB host -> container"
b run -d --name sink --network benchnet -p 127.0.0.1:15001:5001 bb:1 \
  nc -ll -p 5001 -e sh -c 'cat > /dev/null' > /dev/null
ip=$(b inspect -f '{{.NetworkSettings.Networks.benchnet.IPAddress}}' sink)
sleep 0.3
stream() { # stream HOST PORT: MiB/s of one SIZE_MB transfer
  python3 - "$1" "$2" "$SIZE_MB" << 'PY'
import socket, sys, time
host, port, mb = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
buf = bytes(1 << 20)
s = socket.create_connection((host, port), timeout=30)
t = time.monotonic()
for _ in range(mb):
    s.sendall(buf)
s.shutdown(socket.SHUT_WR)
s.recv(1)
print("%.0f" % (mb / (time.monotonic() - t)))
PY
}
for i in 1 2 3; do
  echo "published 127.0.0.1:15001: $(stream 127.0.0.1 15001) MiB/s   direct $ip:5001: $(stream "$ip" 5001) MiB/s"
done
