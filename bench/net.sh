#!/usr/bin/env bash
# Networking costs (issue 6's performance clause), berth side by side with
# podman and docker installed from Debian, busybox image in private stores:
#   1. the latency a user network adds to `run --rm bb true`: hyperfine
#      medians of RUNS (>= 20) with --network none and with --network on a
#      bridge network each engine made (--subnet 10.214.N.0/24);
#   2. `network connect` and `network disconnect` of a running container
#      (medians of RUNS, whole CLI, each timed alone);
#   3. TCP throughput of SIZE_MB from the host into a berth container (a
#      busybox nc sink): through a port published on 127.0.0.1 (DNAT, no
#      userland proxy) against straight to the container's address.
# The peers (bench_engines in lib.sh): podman with netavark (it adds its
# iptables rules for the network and removes them with it); docker a
# private dockerd with --iptables=false --ip-masq=false: a dockerd that
# manages iptables sets the host's FORWARD policy to DROP, cutting off every
# other engine's containers on this host while it runs. Part 3 is berth
# only (dockerd without iptables publishes through its userland proxy only).
# Traffic goes to 127.0.0.1 and to addresses on the bridges made here only.
# Nothing asserts on time.
# Usage: bench/net.sh   (as root; BERTH, RUNS, SIZE_MB, TOOLS="berth podman docker")
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/../tests/system/peers/lib.bash"
BERTH=${BERTH:-$here/../build-release/src/berth}
RUNS=${RUNS:-20}
SIZE_MB=${SIZE_MB:-1024}
TOOLS=${TOOLS:-berth podman docker}
DOCKER_CLI=${DOCKER_CLI:-$(command -v docker || true)}
exec 3>&2 # peers/lib.bash logs to fd 3
work=$(mktemp -d /tmp/berth-bench-net-XXXXXX)
PEER_TMP=$work
peer_globals_snapshot
has() { [[ " $TOOLS " == *" $1 "* ]]; }
cli() { "$work/bin/$1" "${@:2}"; }
ruleset_before=$(nft list ruleset 2> /dev/null | md5sum)
tables_before=$(nft list tables 2> /dev/null)

cleanup() {
  set +e
  local t
  for t in ${names[@]+"${names[@]}"}; do
    case $t in
      podman) cli podman rm -f -t 0 -a > /dev/null 2>&1 ;;
      *) cli "$t" rm -f $(cli "$t" ps -aq) > /dev/null 2>&1 ;;
    esac
    cli "$t" network rm benchnet benchnet2 > /dev/null 2>&1
  done
  [ ! -x "$work/bin/berth" ] || cli berth system reset -f > /dev/null 2>&1
  [ ! -f "$work/dockerd/started.pid" ] || stop_pid "$(cat "$work/dockerd/started.pid")"
  peer_kill_leftovers
  peer_umount_all
  peer_globals_cleanup
  bench_state_fs_cleanup "$work"
  # netavark leaves its iptables-nft tables (empty NETAVARK chains) behind
  # after the last network goes: remove the ones this run brought (after a
  # moment: podman's container cleanup runs netavark asynchronously)
  sleep 2
  local tb
  while read -r tb; do
    [ -n "$tb" ] && ! grep -qxF "$tb" <<< "$tables_before" &&
      nft list $tb 2> /dev/null | grep -q NETAVARK && nft delete $tb
  done <<< "$(nft list tables 2> /dev/null)"
  [ "$(nft list ruleset 2> /dev/null | md5sum)" = "$ruleset_before" ] ||
    echo "note: the host's nftables ruleset differs from before the run" >&2
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[ -x "$BERTH" ] || { echo "no berth at $BERTH (ninja -C build-release)" >&2; exit 1; }
bench_busybox_tar "$work"
bench_state_fs "$work"
bench_engines "$TOOLS" "$work" "$fs" "$rt" "$work/rootfs.tar"
echo "host: $(uname -r), $(nproc) cpus; engines: ${names[*]}"

# ---- 1. the latency a user network adds ----------------------------------
n=0
cmds=()
for t in "${names[@]}"; do
  n=$((n + 1))
  cli "$t" network create --subnet "10.214.$n.0/24" benchnet > /dev/null
  line=$(sed -n 's/^exec \(.*\) "\$@"$/\1/p' "$work/bin/$t")
  for net in none benchnet; do
    cli "$t" run --rm --network "$net" bb true || { echo "$t: run on $net failed" >&2; exit 1; }
    cmds+=("$line run --rm --network $net bb true")
  done
done
hyperfine -N --warmup 3 --runs "$RUNS" --export-json "$work/run.json" "${cmds[@]}" > /dev/null
mapfile -t med < <(hyperfine_medians "$work/run.json")
echo "run --rm bb true, medians of $RUNS (ms):"
printf '  %-8s %12s %14s %10s\n' engine "--network none" "user network" added
i=0
for t in "${names[@]}"; do
  printf '  %-8s %12s %14s %10s\n' "$t" "${med[$i]}" "${med[$((i + 1))]}" \
    "$(awk -v a="${med[$((i + 1))]}" -v b="${med[$i]}" 'BEGIN {printf "%.1f", a - b}')"
  i=$((i + 2))
done

# ---- 2. connect / disconnect ---------------------------------------------
msmed() { sort -n "$1" | awk '{a[NR]=$1} END {printf "%.1f", (NR % 2 ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2) / 1000}'; }
echo "network connect / disconnect of a running container, medians of $RUNS (ms):"
n=100
for t in "${names[@]}"; do
  n=$((n + 1))
  cli "$t" network create --subnet "10.214.$n.0/24" benchnet2 > /dev/null
  cli "$t" run -d --name conn --network benchnet bb sleep 1000 > /dev/null
  : > "$work/conn.$t"
  : > "$work/disc.$t"
  for _ in $(seq "$RUNS"); do
    t0=$(date +%s%N)
    cli "$t" network connect benchnet2 conn
    t1=$(date +%s%N)
    cli "$t" network disconnect benchnet2 conn
    t2=$(date +%s%N)
    echo $(((t1 - t0) / 1000)) >> "$work/conn.$t"
    echo $(((t2 - t1) / 1000)) >> "$work/disc.$t"
  done
  printf '  %-8s connect %8s  disconnect %8s\n' "$t" "$(msmed "$work/conn.$t")" "$(msmed "$work/disc.$t")"
  case $t in
    podman) cli podman rm -f -t 0 conn > /dev/null ;;
    *) cli "$t" rm -f conn > /dev/null ;;
  esac
done

# ---- 3. published-port throughput (berth) ---------------------------------
if has berth; then
  echo "throughput, $SIZE_MB MiB host -> berth container (MiB/s):"
  cli berth run -d --name sink --network benchnet -p 127.0.0.1:15001:5001 bb \
    nc -ll -p 5001 -e sh -c 'cat > /dev/null' > /dev/null
  ip=$(cli berth inspect -f '{{.NetworkSettings.Networks.benchnet.IPAddress}}' sink)
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
  : > "$work/pub" && : > "$work/dir"
  for _ in 1 2 3; do
    stream 127.0.0.1 15001 >> "$work/pub"
    stream "$ip" 5001 >> "$work/dir"
  done
  p=$(sort -n "$work/pub" | sed -n 2p) d=$(sort -n "$work/dir" | sed -n 2p)
  echo "  published 127.0.0.1:15001 $p, direct $ip:5001 $d (medians of 3): $(awk -v p="$p" -v d="$d" 'BEGIN {printf "%.0f%%", 100 * p / d}')"
fi
