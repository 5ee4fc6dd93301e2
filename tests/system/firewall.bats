#!/usr/bin/env bats
# net/firewall.h against real traffic. The "host" is a private network
# namespace ($H) so the machine's own ruleset, links and sysctls are never
# touched; "containers" are namespaces on bridges inside it, joined by veths.
# Only addresses on bridges made here and loopback are used. tests/unit/fwtool
# (test-only) calls the firewall functions.
load helpers

FWTOOL=$BERTH_BUILD/tests/unit/fwtool

hx() { ip netns exec "$H" "$@"; }
fw() { ip netns exec "$H" "$FWTOOL" "$@"; }

# mkbridge NAME ADDR/PLEN: a bridge in the host namespace
mkbridge() {
  hx ip link add "$1" type bridge
  hx ip addr add "$2" dev "$1"
  hx ip link set "$1" up
}

# mkctr NS BRIDGE ADDR/PLEN GATEWAY: a "container" namespace on a bridge
mkctr() {
  local ns=$P-$1
  ip netns add "$ns"
  NSES+=("$ns")
  hx ip link add "v$1" type veth peer name eth0 netns "$ns"
  hx ip link set "v$1" master "$2" up
  # hairpin mode: with br_netfilter, DNAT of a container's packet back to
  # itself happens in the bridge path and needs it (berth's veths get it too)
  hx ip link set "v$1" type bridge_slave hairpin on
  ip netns exec "$ns" ip addr add "$3" dev eth0
  ip netns exec "$ns" ip link set eth0 up
  ip netns exec "$ns" ip link set lo up
  ip netns exec "$ns" ip route add default via "$4"
}

cx() { local ns=$P-$1; shift; ip netns exec "$ns" "$@"; }

# serve_http NS TEXT: busybox httpd on port 80 answering TEXT
serve_http() {
  mkdir -p "$BATS_TEST_TMPDIR/www-$1"
  echo "$2" > "$BATS_TEST_TMPDIR/www-$1/index.html"
  cx "$1" busybox httpd -p 80 -h "$BATS_TEST_TMPDIR/www-$1"
}

# serve_udp NS PORT: answers every datagram with "udp-<NS>"; a datagram
# "who" gets the sender's address instead
serve_udp() {
  cx "$1" python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", int(sys.argv[1])))
while True:
    d, a = s.recvfrom(512)
    s.sendto((a[0] if d == b"who" else "udp-" + sys.argv[2]).encode(), a)
' "$2" "$1" > /dev/null 2>&1 &
  for _ in $(seq 50); do cx "$1" ss -lun | grep -q ":$2 " && return 0; sleep 0.1; done
  return 1
}

# fetch [NS|host] URL: prints the body, fails after 3 s (curl: busybox
# 1.35's wget -T segfaults)
fetch() {
  local where=$1 url=$2
  if [ "$where" = host ]; then
    hx curl -sS -m 3 "$url"
  else
    cx "$where" curl -sS -m 3 "$url"
  fi
}

udp_ask() { # NS|host ADDR PORT [MESSAGE]
  local code='
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
s.sendto(sys.argv[3].encode(), (sys.argv[1], int(sys.argv[2])))
print(s.recvfrom(512)[0].decode())
'
  if [ "$1" = host ]; then
    hx python3 -c "$code" "$2" "$3" "${4:-ping}"
  else
    cx "$1" python3 -c "$code" "$2" "$3" "${4:-ping}"
  fi
}

setup() {
  [ -x "$FWTOOL" ] || { echo "$FWTOOL not built" >&2; return 1; }
  P=bfw$$
  H=$P-host
  NSES=()
  ip netns add "$H"
  hx ip link set lo up
  hx sysctl -qw net.ipv4.ip_forward=1
  BEFORE=$(hx nft list ruleset)
  mkbridge bfwa 10.231.1.1/24
  mkbridge bfwb 10.231.2.1/24
  mkbridge bfwi 10.231.3.1/24
  mkbridge bfwx 10.231.9.1/24 # "outside": a bridge that is no berth network
  mkctr a1 bfwa 10.231.1.2/24 10.231.1.1
  mkctr a2 bfwa 10.231.1.3/24 10.231.1.1
  mkctr b1 bfwb 10.231.2.2/24 10.231.2.1
  mkctr i1 bfwi 10.231.3.2/24 10.231.3.1
  mkctr x1 bfwx 10.231.9.2/24 10.231.9.1
}

teardown() {
  local ns pid
  for ns in "${NSES[@]}" "$H"; do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill "$pid" 2>/dev/null || true; done
  done
  for ns in "${NSES[@]}" "$H"; do ip netns del "$ns" 2>/dev/null || true; done
}

add_networks() {
  fw init
  fw net-add bfwa 10.231.1.0/24 - public
  fw net-add bfwb 10.231.2.0/24 - public
  fw net-add bfwi 10.231.3.0/24 - internal
}

remove_networks() {
  fw net-rm bfwa 10.231.1.0/24 - public
  fw net-rm bfwb 10.231.2.0/24 - public
  fw net-rm bfwi 10.231.3.0/24 - internal
}

@test "firewall: init is idempotent and fini restores the ruleset" {
  fw init
  first=$(hx nft list ruleset)
  fw init
  [ "$(hx nft list ruleset)" = "$first" ]
  [ "$(hx nft list tables)" = "table inet berth" ]
  add_networks
  run fw fini
  [ "$output" = kept ]
  remove_networks
  run fw fini
  [ "$output" = deleted ]
  [ "$(hx nft list ruleset)" = "$BEFORE" ]
}

@test "firewall: published tcp port from host loopback, bridge gateway and hairpin" {
  add_networks
  serve_http a1 hello-a1
  # before publishing, 127.0.0.1:8080 has nothing behind it
  run fetch host http://127.0.0.1:8080/
  [ "$status" -ne 0 ]
  fw port-add tcp - 8080 10.231.1.2 80
  [ "$(fetch host http://127.0.0.1:8080/)" = hello-a1 ]
  [ "$(fetch host http://10.231.1.1:8080/)" = hello-a1 ]
  [ "$(fetch host http://10.231.2.1:8080/)" = hello-a1 ]
  # hairpin: the container itself and a neighbour, through the host address
  [ "$(fetch a1 http://10.231.1.1:8080/)" = hello-a1 ]
  [ "$(fetch a2 http://10.231.1.1:8080/)" = hello-a1 ]
  # from a machine outside (another link): DNAT in prerouting
  [ "$(fetch x1 http://10.231.9.1:8080/)" = hello-a1 ]
  fw port-rm tcp - 8080 10.231.1.2 80
  run fetch host http://127.0.0.1:8080/
  [ "$status" -ne 0 ]
  remove_networks
  fw fini
  [ "$(hx nft list ruleset)" = "$BEFORE" ]
}

@test "firewall: port bound to one host address, and port ranges" {
  add_networks
  serve_http a1 one
  serve_http a2 two
  fw port-add tcp 127.0.0.1 8081 10.231.1.2 80
  [ "$(fetch host http://127.0.0.1:8081/)" = one ]
  run fetch host http://10.231.1.1:8081/
  [ "$status" -ne 0 ]
  # 8090-8091 -> 80-81 of a2: only 80 listens there
  fw port-add tcp - 8090-8091 10.231.1.3 80
  [ "$(fetch host http://127.0.0.1:8090/)" = two ]
  hx nft list map inet berth dnat4_any | grep -q 'tcp . 8091 : 10.231.1.3 . 81'
  fw port-rm tcp - 8090-8091 10.231.1.3 80
  fw port-rm tcp 127.0.0.1 8081 10.231.1.2 80
  remove_networks
  fw fini
  [ "$(hx nft list ruleset)" = "$BEFORE" ]
}

@test "firewall: published udp port" {
  add_networks
  serve_udp a1 5353
  fw port-add udp - 5353 10.231.1.2 5353
  [ "$(udp_ask host 127.0.0.1 5353)" = udp-a1 ]
  [ "$(udp_ask host 10.231.1.1 5353)" = udp-a1 ]
  [ "$(udp_ask x1 10.231.9.1 5353)" = udp-a1 ]
  fw port-rm udp - 5353 10.231.1.2 5353
  run udp_ask host 127.0.0.1 5353
  [ "$status" -ne 0 ]
  remove_networks
  fw fini
}

@test "firewall: masquerade, isolation between networks, internal has no egress" {
  serve_http x1 outside
  serve_http a1 in-a
  serve_http b1 in-b
  serve_http i1 in-i
  serve_udp x1 7000
  [ "$(udp_ask a1 10.231.9.2 7000 who)" = 10.231.1.2 ]
  # without berth's rules everything is routed: the checks below can fail
  [ "$(fetch b1 http://10.231.1.2/)" = in-a ]
  [ "$(fetch i1 http://10.231.9.2/)" = outside ]
  add_networks
  # egress is masqueraded to the outgoing address
  [ "$(fetch a1 http://10.231.9.2/)" = outside ]
  [ "$(udp_ask a1 10.231.9.2 7000 who)" = 10.231.9.1 ]
  # same network: allowed
  [ "$(fetch a2 http://10.231.1.2/)" = in-a ]
  # different networks: dropped both ways
  run fetch b1 http://10.231.1.2/
  [ "$status" -ne 0 ]
  run fetch a1 http://10.231.2.2/
  [ "$status" -ne 0 ]
  # internal: nothing out, nothing in, no masquerade element
  run fetch i1 http://10.231.9.2/
  [ "$status" -ne 0 ]
  run fetch a1 http://10.231.3.2/
  [ "$status" -ne 0 ]
  run fetch x1 http://10.231.3.2/
  [ "$status" -ne 0 ]
  hx nft -j list table inet berth | jq -e '[.nftables[] | select(.set.name == "masq4") | .set.elem // [] | .[] | tostring] | any(test("10.231.3.0")) | not'
  hx nft -j list table inet berth | jq -e '[.nftables[] | select(.set.name == "masq4") | .set.elem // [] | .[] | tostring] | any(test("10.231.1.0"))'
  hx nft -j list table inet berth | jq -e '[.nftables[] | select(.set.name == "internal") | .set.elem[]] == ["bfwi"]'
  # the host itself still reaches the internal network (it is its gateway)
  [ "$(fetch host http://10.231.3.2/)" = in-i ]
  remove_networks
  fw fini
  [ "$(fetch b1 http://10.231.1.2/)" = in-a ]
  [ "$(hx nft list ruleset)" = "$BEFORE" ]
}

@test "firewall: remote packets to 127.0.0.0/8 are dropped, route_localnet set on the bridge" {
  # a service on the host's loopback, and a neighbour on the bridge sending
  # packets for 127.0.0.0/8 to the host through it (CVE-2020-8558)
  mkdir -p "$BATS_TEST_TMPDIR/lo" && echo secret > "$BATS_TEST_TMPDIR/lo/index.html"
  hx busybox httpd -p 8888 -h "$BATS_TEST_TMPDIR/lo"
  cx a1 ip route del local 127.0.0.0/8 dev lo table local
  cx a1 sysctl -qw net.ipv4.conf.eth0.route_localnet=1
  cx a1 ip route add 127.9.9.0/24 via 10.231.1.1
  hx sysctl -qw net.ipv4.conf.bfwa.route_localnet=1
  # control: without berth's table the host answers
  [ "$(fetch a1 http://127.9.9.1:8888/)" = secret ]
  hx sysctl -qw net.ipv4.conf.bfwa.route_localnet=0
  add_networks
  [ "$(hx cat /proc/sys/net/ipv4/conf/bfwa/route_localnet)" = 1 ]
  run fetch a1 http://127.9.9.1:8888/
  [ "$status" -ne 0 ]
  # the host's own loopback is unaffected
  [ "$(fetch host http://127.9.9.1:8888/)" = secret ]
  remove_networks
  fw fini
}

@test "firewall: a taken host port is refused with Docker's message" {
  add_networks
  fw port-add tcp - 8080 10.231.1.2 80
  run fw port-check tcp - 8080 10.231.1.3 80
  [ "$status" -eq 1 ]
  [[ "$output" == *"driver failed programming external connectivity on endpoint fwtool: Bind for 0.0.0.0:8080 failed: port is already allocated"* ]]
  run fw port-check tcp 127.0.0.1 8080 10.231.1.3 80
  [ "$status" -eq 1 ]
  run fw port-add tcp - 8080 10.231.1.3 80
  [ "$status" -eq 1 ]
  [[ "$output" == *"port is already allocated"* ]]
  # something else listening on the host
  hx python3 -c 'import socket,time; s=socket.socket(); s.bind(("127.0.0.1", 9099)); s.listen(); time.sleep(60)' &
  for _ in $(seq 50); do hx ss -ltn | grep -q ':9099 ' && break; sleep 0.1; done
  run fw port-check tcp - 9099 10.231.1.3 80
  [ "$status" -eq 1 ]
  [[ "$output" == *"Bind for 0.0.0.0:9099 failed: port is already allocated"* ]]
  run fw port-check tcp 127.0.0.1 9099 10.231.1.3 80
  [ "$status" -eq 1 ]
  fw port-check udp - 9099 10.231.1.3 80
  fw port-check tcp - 8085 10.231.1.3 80
  fw port-rm tcp - 8080 10.231.1.2 80
  fw port-check tcp - 8080 10.231.1.3 80
  remove_networks
  fw fini
  [ "$(hx nft list ruleset)" = "$BEFORE" ]
}

@test "firewall: a drop policy in another table's forward chain is reported" {
  run fw blocked
  [ "$output" = no ]
  hx nft add table ip filter
  hx nft 'add chain ip filter FORWARD { type filter hook forward priority 0; policy drop; }'
  run fw blocked
  [ "$output" = "table ip filter chain FORWARD" ]
}

@test "firewall: bad input is refused before reaching nftables" {
  run fw net-add 'br0"; flush ruleset' 10.0.0.0/24 - public
  [ "$status" -eq 1 ]
  [[ "$output" == *"invalid bridge name"* ]]
  run fw net-add bfwa '10.0.0.0/24 }; flush ruleset' - public
  [ "$status" -eq 1 ]
  [[ "$output" == *"invalid subnet"* ]]
  run fw port-add tcp - 8080 'x; flush ruleset' 80
  [ "$status" -eq 1 ]
  [[ "$output" == *"invalid IP address"* ]]
  run fw port-add tcp ::1 8080 10.231.1.2 80
  [ "$status" -eq 1 ]
}
