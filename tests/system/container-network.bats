#!/usr/bin/env bats
# Containers on networks (issue 6): name and alias resolution over the
# embedded DNS, isolation between networks, connect/disconnect, --internal,
# published ports (TCP and UDP, on 127.0.0.1 and on the default bridge's
# gateway), port conflicts, static addresses, container:NAME, and teardown
# that leaves nothing. Needs root. Traffic only to loopback and addresses on
# bridges these tests made. Subnets are explicit (10.213.0.0/16) so that
# suites of other engineers running at the same time do not collide.
# (busybox wget -T crashes in Debian's build: timeouts are `timeout N wget`.)

load helpers
bats_require_minimum_version 1.5.0

b() { "$BERTH" --root "$ROOT" --runroot "$RUNROOT" "$@"; }

# Host state lines naming devices this test made (bridges and its veths).
snapshot() { { ip -br link; ip -br addr; ip route; } | sort; }

setup() {
  [ "$(id -u)" = 0 ] || skip "needs root"
  ROOT=$BATS_TEST_TMPDIR/root
  RUNROOT=$BATS_TEST_TMPDIR/run
  ensure_busybox_rootfs
  tar -C "$BUSYBOX_ROOTFS" -cf - . | b import --change 'CMD ["sh"]' - bb:1 > /dev/null
  : > "$BATS_TEST_TMPDIR/bridges"
  snapshot > "$BATS_TEST_TMPDIR/before"
  # one /24 per test: 10.213.<n>.0/24, 10.213.<n+100>.0/24
  NET1=10.213.$BATS_TEST_NUMBER
  NET2=10.213.$((BATS_TEST_NUMBER + 100))
  PORT=$((18000 + BATS_TEST_NUMBER * 10))
}

# mknet NAME SUBNET [flags]: a network whose bridge teardown checks.
mknet() {
  local name=$1 subnet=$2
  shift 2
  local id
  id=$(b network create --subnet "$subnet" "$@" "$name")
  echo "br-${id:0:12}" >> "$BATS_TEST_TMPDIR/bridges"
}

ids_made() { b ps -aq --no-trunc 2>/dev/null; }

teardown() {
  [ "$(id -u)" = 0 ] || return 0
  local id ids
  ids=$(ids_made)
  for id in $ids; do b rm -f "$id" > /dev/null 2>&1 || true; done
  for id in $(b network ls -q --filter type=custom 2>/dev/null); do
    b network rm "$id" > /dev/null 2>&1 || true
  done
  local fail=0
  store_reset || fail=1
  # no veth of our containers
  for id in $ids; do
    if ip -br link | grep -q "^vb${id:0:7}"; then
      echo "veth of ${id:0:12} left" >&2
      fail=1
    fi
  done
  # no port rule for our host ports, no DNS record of our containers
  if nft list table inet berth 2>/dev/null | grep -E "\. (1[89][0-9]{3}) :" | grep -qE "\. $((PORT / 10))[0-9] :"; then
    echo "port rules left" >&2
    nft list table inet berth | grep -E ': [0-9.]+ \. [0-9]+' >&2
    fail=1
  fi
  if [ -f "$RUNROOT/dns/records.json" ] &&
    [ "$(jq '.containers | length' "$RUNROOT/dns/records.json")" != 0 ]; then
    echo "DNS records left" >&2
    fail=1
  fi
  if [ -n "$(ls "$RUNROOT/network" 2>/dev/null)" ]; then
    echo "network state files left" >&2
    fail=1
  fi
  snapshot > "$BATS_TEST_TMPDIR/after"
  local changed ours=NONE br
  changed=$(diff "$BATS_TEST_TMPDIR/before" "$BATS_TEST_TMPDIR/after" | grep '^[<>]' || true)
  while read -r br; do [ -n "$br" ] && ours="$ours|$br"; done < "$BATS_TEST_TMPDIR/bridges"
  if echo "$changed" | grep -E "$ours"; then
    echo "host network state changed (above)" >&2
    fail=1
  fi
  return $fail
}

wait_http() { # wait_http CONTAINER: until its httpd answers inside
  local i
  for i in $(seq 50); do
    b exec "$1" wget -qO- http://127.0.0.1/ > /dev/null 2>&1 && return 0
    sleep 0.1
  done
  return 1
}

web() { # web NAME [run flags]: busybox httpd serving "hello from NAME"
  local name=$1
  shift
  b run -d --name "$name" "$@" bb:1 sh -c \
    "mkdir -p /w && echo hello from $name > /w/index.html && exec httpd -f -p 80 -h /w" > /dev/null
  wait_http "$name"
}

@test "user network: by name, by alias, ping by short id; resolv.conf and hosts" {
  mknet n1 "$NET1.0/24"
  web web1 --network n1 --network-alias www
  run b run --rm --network n1 bb:1 sh -c 'wget -qO- http://web1/ && wget -qO- http://www/'
  [ "$status" -eq 0 ]
  [ "$output" = "$(printf 'hello from web1\nhello from web1')" ]
  local short
  short=$(b inspect -f '{{.Id}}' web1 | cut -c1-12)
  run b run --rm --network n1 bb:1 ping -c1 -W3 "$short"
  [ "$status" -eq 0 ]
  [[ "$output" == *"$NET1.2"* ]]
  run b exec web1 cat /etc/resolv.conf
  [[ "$output" == *"nameserver 127.0.0.11"* ]]
  run b exec web1 cat /etc/hosts
  [[ "$output" == *"$NET1.2	$short"* ]]
  run b inspect web1
  [ "$(echo "$output" | jq -r '.[0].NetworkSettings.Networks.n1.IPAddress')" = "$NET1.2" ]
  [ "$(echo "$output" | jq -r '.[0].NetworkSettings.Networks.n1.Gateway')" = "$NET1.1" ]
  [ "$(echo "$output" | jq -r '.[0].NetworkSettings.Networks.n1.Aliases[0]')" = www ]
  [ "$(echo "$output" | jq -r '.[0].NetworkSettings.Networks.n1.MacAddress')" = "02:42:0a:d5:$(printf %02x "$BATS_TEST_NUMBER"):02" ]
}

@test "different networks cannot reach each other, by IP or by name" {
  mknet n1 "$NET1.0/24"
  mknet n2 "$NET2.0/24"
  web alpha --network n1
  run b run --rm --network n2 bb:1 timeout 2 wget -qO- "http://$NET1.2/"
  [ "$status" -ne 0 ]
  run b run --rm --network n2 bb:1 nslookup alpha 127.0.0.11
  [ "$status" -ne 0 ]
  [[ "$output" == *NXDOMAIN* ]]
  # the same network still works (the failure above is isolation)
  run b run --rm --network n1 bb:1 timeout 2 wget -qO- "http://$NET1.2/"
  [ "$output" = "hello from alpha" ]
}

@test "connect: a container on two networks reaches both; DNS follows connect, disconnect, rm" {
  mknet n1 "$NET1.0/24"
  mknet n2 "$NET2.0/24"
  web alpha --network n1
  web charlie --network n2
  b run -d --name both --network n1 bb:1 sleep 1000 > /dev/null
  run b exec both timeout 2 wget -qO- http://charlie/
  [ "$status" -ne 0 ]
  run b network connect --alias extra n2 both
  [ "$status" -eq 0 ]
  run b exec both sh -c "timeout 3 wget -qO- http://alpha/ && timeout 3 wget -qO- http://charlie/"
  [ "$status" -eq 0 ]
  [ "$output" = "$(printf 'hello from alpha\nhello from charlie')" ]
  run b exec both ip -o addr show eth1
  [[ "$output" == *"$NET2."* ]]
  run b exec charlie nslookup extra 127.0.0.11
  [ "$status" -eq 0 ]
  [[ "$output" == *"$NET2."* ]]
  run b network connect n2 both
  [ "$status" -ne 0 ]
  [[ "$output" == *"endpoint with name both already exists in network n2"* ]]
  run b network disconnect n2 both
  [ "$status" -eq 0 ]
  run b exec charlie nslookup extra 127.0.0.11
  [[ "$output" == *NXDOMAIN* ]]
  run b exec both ip link show eth1
  [ "$status" -ne 0 ]
  run b network disconnect n2 both
  [ "$status" -ne 0 ]
  [[ "$output" == *"is not connected to network n2"* ]]
  run b exec both nslookup alpha 127.0.0.11
  [ "$status" -eq 0 ]
  b rm -f alpha > /dev/null
  run b exec both nslookup alpha 127.0.0.11
  [[ "$output" == *NXDOMAIN* ]]
}

@test "--internal: no default route, not masqueraded" {
  mknet priv "$NET1.0/24" --internal
  run b run --rm --network priv bb:1 ip route
  [ "$status" -eq 0 ]
  [[ "$output" != *default* ]]
  [[ "$output" == *"$NET1.0/24"* ]]
  # its subnet is in the firewall's subnets but never in the masquerade set
  b run -d --name priv1 --network priv bb:1 sleep 1000 > /dev/null
  run nft -j list table inet berth
  [ "$status" -eq 0 ]
  local sets
  sets=$(echo "$output" | jq -c '.nftables[] | select(.set) | .set | {name, elem}')
  echo "$sets" | grep '"name":"internal"' | grep -q "br-"
  ! echo "$sets" | grep '"name":"masq4"' | grep -q "\"$NET1.0\""
}

@test "published ports: TCP and UDP on 127.0.0.1 and on the bridge gateway; ps and port" {
  web pub -p "$PORT:80"
  run curl -s --max-time 5 "http://127.0.0.1:$PORT/"
  [ "$output" = "hello from pub" ]
  local gw
  gw=$(b inspect -f '{{.NetworkSettings.Gateway}}' pub)
  [ -n "$gw" ]
  run curl -s --max-time 5 "http://$gw:$PORT/"
  [ "$output" = "hello from pub" ]
  run b port pub
  [ "$output" = "80/tcp -> 0.0.0.0:$PORT" ]
  run b ps --format '{{.Ports}}' --filter name=pub
  [ "$output" = "0.0.0.0:$PORT->80/tcp" ]
  # UDP: the host's python3 in the container (read-only bind of /) echoes
  b run -d --name udp -p "$((PORT + 1)):5353/udp" -v /:/host:ro bb:1 chroot /host /usr/bin/python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 5353))
while True:
    d, a = s.recvfrom(100)
    s.sendto(b"pong:" + d, a)' > /dev/null
  local i out=
  for i in $(seq 30); do
    out=$(python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(0.5)
s.sendto(b"ping", (sys.argv[1], int(sys.argv[2])))
print(s.recvfrom(100)[0].decode())' 127.0.0.1 "$((PORT + 1))" 2> /dev/null) && break
  done
  [ "$out" = "pong:ping" ]
  # -P: the exposed port gets an ephemeral host port
  b run -d --name all --expose 80 -P bb:1 sh -c \
    'mkdir -p /w && echo dash-P > /w/index.html && exec httpd -f -p 80 -h /w' > /dev/null
  wait_http all
  local hp
  hp=$(b port all 80 | cut -d: -f2)
  lo=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range)
  [ "$hp" -ge "$lo" ]
  run curl -s --max-time 5 "http://127.0.0.1:$hp/"
  [ "$output" = dash-P ]
  b rm -f pub udp all > /dev/null
  run curl -s --max-time 2 "http://127.0.0.1:$PORT/"
  [ "$status" -ne 0 ]
}

@test "a host port in use: Docker's error, exit 125, nothing half-configured" {
  busybox nc -l -p "$PORT" > /dev/null 2>&1 &
  local ncpid=$!
  sleep 0.2
  run b run -d --name busy -p "$PORT:80" bb:1 sleep 100
  kill "$ncpid" 2>/dev/null || true
  wait "$ncpid" 2>/dev/null || true
  [ "$status" -eq 125 ]
  [[ "$output" == *"Bind for 0.0.0.0:$PORT failed: port is already allocated"* ]]
  local id
  id=$(b inspect -f '{{.Id}}' busy)
  [ "$(b inspect -f '{{.State.Running}}' busy)" = false ]
  ! ip -br link | grep -q "^vb${id:0:7}"
  [ -z "$(ls "$RUNROOT/network" 2>/dev/null)" ]
  # a port berth publishes itself is taken too
  web first -p "$PORT:80"
  run b run --rm -p "$PORT:80" bb:1 true
  [ "$status" -eq 125 ]
  [[ "$output" == *"port is already allocated"* ]]
  run curl -s --max-time 5 "http://127.0.0.1:$PORT/"
  [ "$output" = "hello from first" ]
}

@test "--ip: a static address, a taken one, and one on the default network" {
  mknet n1 "$NET1.0/24"
  b run -d --name s1 --network n1 --ip "$NET1.50" bb:1 sleep 1000 > /dev/null
  run b exec s1 ip -o addr show eth0
  [[ "$output" == *"$NET1.50/24"* ]]
  [ "$(b inspect -f '{{.NetworkSettings.Networks.n1.IPAMConfig.IPv4Address}}' s1)" = "$NET1.50" ]
  run b run --rm --network n1 --ip "$NET1.50" bb:1 true
  [ "$status" -eq 125 ]
  [[ "$output" == *"Address already in use"* ]]
  run b run --rm --ip 172.17.0.50 bb:1 true
  [ "$status" -eq 125 ]
  [[ "$output" == *"user specified IP address is supported on user defined networks only"* ]]
  run b run --rm --network nosuchnet bb:1 true
  [ "$status" -eq 125 ]
  [[ "$output" == *"network nosuchnet not found"* ]]
}

@test "rm of a network with containers is refused; --network container:x shares the address" {
  mknet n1 "$NET1.0/24"
  b run -d --name xray --network n1 bb:1 sleep 1000 > /dev/null
  run b network rm n1
  [ "$status" -ne 0 ]
  [[ "$output" == *"has active endpoints"* ]]
  run b run --rm --network container:xray bb:1 ip -o addr show eth0
  [ "$status" -eq 0 ]
  [[ "$output" == *"$NET1.2/24"* ]]
  # and xray's hosts and resolv.conf files, as Docker's
  run b run --rm --network container:xray bb:1 cat /etc/hosts /etc/resolv.conf
  [[ "$output" == *"$NET1.2	"* ]]
  [[ "$output" == *"nameserver 127.0.0.11"* ]]
  b create --name stopped bb:1 true > /dev/null
  run b run --rm --network container:stopped bb:1 true
  [ "$status" -eq 125 ]
  [[ "$output" == *"cannot join network of a non running container"* ]]
}

@test "a container whose monitor was killed: rm -f and system check clean up" {
  mknet n1 "$NET1.0/24"
  b run -d --name k1 --network n1 -p "$PORT:80" bb:1 sleep 1000 > /dev/null
  b run -d --name k2 --network n1 bb:1 sleep 1000 > /dev/null
  local id1 id2 m
  id1=$(b inspect -f '{{.Id}}' k1)
  id2=$(b inspect -f '{{.Id}}' k2)
  for m in k1 k2; do
    kill -9 "$(jq -r .MonitorPid "$ROOT/containers/$(b inspect -f '{{.Id}}' $m)/state.json")"
    kill -9 "$(b inspect -f '{{.State.Pid}}' $m)" 2>/dev/null || true
  done
  sleep 0.3
  ip -br link | grep -q "^vb${id1:0:7}"
  run b system check
  [ "$status" -eq 0 ]
  [[ "$output" == *"Reclaimed: 2 container"* ]]
  ! ip -br link | grep -q "^vb${id2:0:7}"
  ! ip -br link | grep -q "^vb${id1:0:7}"
  [ "$(jq '.containers | length' "$RUNROOT/dns/records.json")" = 0 ]
  ! nft list map inet berth dnat4_any | grep -q " $PORT :"
  # the leases are free again: a new container gets the first address
  b rm -f k1 k2 > /dev/null
  run b run --rm --network n1 bb:1 ip -o addr show eth0
  [[ "$output" == *"$NET1.2/24"* ]]
}

@test "--dns on a user network: the embedded DNS forwards other names to it" {
  # a fake resolver on a loopback address of the host (the embedded DNS
  # runs in the host's namespace): every A query gets 192.0.2.99
  python3 "$BATS_TEST_DIRNAME/fake-dns.py" 127.0.0.2 53 192.0.2.99 3>&- &
  FAKE_DNS=$!
  for _ in $(seq 50); do ss -lun | grep -q "127.0.0.2:53 " && break; sleep 0.1; done
  mknet n1 "$NET1.0/24"
  run b run --rm --network n1 --dns 127.0.0.2 bb:1 nslookup some.example 127.0.0.11
  kill "$FAKE_DNS"
  [[ "$output" == *"192.0.2.99"* ]]
  # the container's resolv.conf still names the embedded server
  run b run --rm --network n1 --dns 127.0.0.2 bb:1 cat /etc/resolv.conf
  [[ "$output" == *"nameserver 127.0.0.11"* ]]
}

@test "the firewall table deleted behind berth's back is restored at the next start" {
  mknet n1 "$NET1.0/24"
  b run --rm --network n1 bb:1 true
  nft list table inet berth > /dev/null
  # someone else flushes berth's table (nft flush ruleset would do the
  # same; other stores' networks come back at their next start too)
  nft delete table inet berth
  b run --rm --network n1 bb:1 true
  # back, with the drop of remote packets to 127/8 and the network's subnet
  run nft list table inet berth
  [ "$status" -eq 0 ]
  [[ "$output" == *'iifname != "lo" ip daddr 127.0.0.0/8 drop'* ]]
  [[ "$(nft list set inet berth masq4)" == *"$NET1.0/24"* ]]
}

@test "--add-host: names and addresses in /etc/hosts; host-gateway is the default network's gateway" {
  run b run --rm --add-host db:10.0.0.2 --add-host gw:host-gateway bb:1 cat /etc/hosts
  [ "$status" -eq 0 ]
  [[ "$output" == *$'10.0.0.2\tdb'* ]]
  gw=$(b network inspect -f '{{(index .IPAM.Config 0).Gateway}}' bridge)
  [ -n "$gw" ]
  [[ "$output" == *"$gw	gw"* ]]
  # and the host answers there
  run b run --rm --add-host gw:host-gateway bb:1 ping -c 1 -W 2 gw
  [ "$status" -eq 0 ]
  run b run --rm --add-host 'bad name:10.0.0.2' bb:1 true
  [ "$status" -eq 125 ]
}

@test "network rm with only stopped members succeeds (Docker's); their next start fails" {
  mknet n1 "$NET1.0/24"
  b create --name sleeper --network n1 bb:1 true > /dev/null
  b run --name ran --network n1 bb:1 true
  run b network rm n1
  [ "$status" -eq 0 ]
  run b network ls -q --filter name=n1
  [ -z "$output" ]
  run b start sleeper
  [ "$status" -ne 0 ]
  [[ "$output" == *"network n1 not found"* ]]
  run b inspect -f '{{.State.Status}}' sleeper
  [ "$output" != running ]
}
