#!/usr/bin/env bats
# berth network create/ls/inspect/rm/prune end to end: Docker's output
# shapes, the bridge device a network owns (made at create with its gateway,
# gone at rm), automatic subnets that avoid the host's routes, and bad input
# that leaves nothing behind. Needs root (links). After every test the host's
# links, addresses and routes are as before.

load helpers

b() { "$BERTH" --root "$BATS_TEST_TMPDIR/root" --runroot "$BATS_TEST_TMPDIR/run" "$@"; }

DUMMY=berthnetdummy
# Named like a berth veth ("vb" + 13 hex) but of no network of the test's store:
# another store's container (another --root on the same host) has such links.
FOREIGN_VETH=vb0123456fedcba

# Host network state. Other test suites may add or remove their own links
# while this one runs, so teardown compares only the lines that name a
# device this test made (recorded by mknet) or its dummy.
snapshot() { { ip -br link; ip -br addr; ip route; ip -6 route; } | sort; }

setup() {
  [ "$(id -u)" = 0 ] || skip "needs root"
  : > "$BATS_TEST_TMPDIR/bridges"
  snapshot > "$BATS_TEST_TMPDIR/before"
}

teardown() {
  [ "$(id -u)" = 0 ] || return 0
  ip link del "$DUMMY" 2>/dev/null || true
  ip link del "$FOREIGN_VETH" 2>/dev/null || true
  ROOT=$BATS_TEST_TMPDIR/root RUNROOT=$BATS_TEST_TMPDIR/run store_reset
  snapshot > "$BATS_TEST_TMPDIR/after"
  local changed
  changed=$(diff "$BATS_TEST_TMPDIR/before" "$BATS_TEST_TMPDIR/after" | grep '^[<>]' || true)
  local ours=$DUMMY br
  while read -r br; do [ -n "$br" ] && ours="$ours|$br"; done < "$BATS_TEST_TMPDIR/bridges"
  if echo "$changed" | grep -E "$ours" ; then
    echo "host network state changed (above)" >&2
    # Do not leave the debris to the next test.
    while read -r br; do [ -n "$br" ] && ip link del "$br" 2>/dev/null; done < "$BATS_TEST_TMPDIR/bridges"
    return 1
  fi
}

# mknet ARGS...: create a network, record its bridge for teardown, print id.
mknet() {
  local id br
  id=$(b network create "$@") || return 1
  br=$(b network inspect -f '{{.Id}}' "$id" | cut -c1-12)
  echo "br-$br" >> "$BATS_TEST_TMPDIR/bridges"
  echo "$id"
}

@test "network ls shows the predefined networks as docker does" {
  run b network ls
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "NETWORK ID     NAME      DRIVER    SCOPE" ]
  [[ "${lines[1]}" =~ ^[0-9a-f]{12}\ \ \ bridge\ \ \ \ bridge\ \ \ \ local$ ]]
  [[ "${lines[2]}" =~ ^[0-9a-f]{12}\ \ \ host\ \ \ \ \ \ host\ \ \ \ \ \ local$ ]]
  [[ "${lines[3]}" =~ ^[0-9a-f]{12}\ \ \ none\ \ \ \ \ \ null\ \ \ \ \ \ local$ ]]
  [ "${#lines[@]}" -eq 4 ]
  # The default bridge's subnet is chosen (and stable), its device not made yet.
  # A store other than the default one has a bridge of its own, named
  # after its root.
  run b network inspect -f '{{.Driver}} {{index .Options "com.docker.network.bridge.name"}}' bridge
  [ "$output" = "bridge berth-$(printf %s "$BATS_TEST_TMPDIR/root" | sha256sum | cut -c1-8)" ]
  run b network rm bridge
  [ "$status" -eq 1 ]
  [ "$output" = "Error: bridge is a pre-defined network and cannot be removed" ]
  run b network rm host none
  [ "$status" -eq 1 ]
  [[ "$output" == *"host is a pre-defined network and cannot be removed"* ]]
  [[ "$output" == *"none is a pre-defined network and cannot be removed"* ]]
}

@test "network create makes the bridge with its gateway; rm removes it" {
  id=$(mknet web)
  [[ "$id" =~ ^[0-9a-f]{64}$ ]]
  br=br-${id:0:12}
  run ip -d link show dev "$br"
  [ "$status" -eq 0 ]
  [[ "$output" == *"bridge "* ]]
  subnet=$(b network inspect -f '{{(index .IPAM.Config 0).Subnet}}' web)
  gw=$(b network inspect -f '{{(index .IPAM.Config 0).Gateway}}' web)
  [[ "$subnet" =~ ^(172\.(1[89]|2[0-9]|3[01])\.0\.0/16|192\.168\.[0-9]+\.0/20)$ ]]
  run ip -o addr show dev "$br"
  [[ "$output" == *"inet $gw/${subnet#*/}"* ]]
  [ "$(cat /proc/sys/net/ipv4/conf/$br/route_localnet)" = 1 ]
  # The route of the new bridge is on the host.
  ip route | grep -q "^$subnet dev $br"

  run b network ls --format '{{.Name}} {{.Driver}} {{.Scope}} {{.ID}}'
  [[ "$output" == *"web bridge local ${id:0:12}"* ]]
  run b network ls --no-trunc -q --filter name=web
  [ "$output" = "$id" ]

  run b network inspect web
  [ "$status" -eq 0 ]
  echo "$output" | jq -e --arg id "$id" --arg s "$subnet" --arg g "$gw" '
    length == 1 and .[0].Name == "web" and .[0].Id == $id and .[0].Scope == "local"
    and .[0].Driver == "bridge" and .[0].EnableIPv6 == false and .[0].Internal == false
    and .[0].Attachable == false and .[0].Ingress == false and .[0].ConfigOnly == false
    and .[0].ConfigFrom == {"Network": ""} and .[0].Containers == {}
    and .[0].IPAM.Driver == "default" and .[0].IPAM.Config == [{"Subnet": $s, "Gateway": $g}]
    and .[0].Options == {} and .[0].Labels == {}
    and (.[0].Created | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T"))'
  # By unique id prefix too.
  run b network inspect -f '{{.Name}}' "${id:0:5}"
  [ "$output" = web ]

  run b network rm web
  [ "$status" -eq 0 ]
  [ "$output" = web ]
  run ip link show dev "$br"
  [ "$status" -ne 0 ]
  ! ip route | grep -q " dev $br "
  run b network ls -q --filter name=web
  [ "$output" = "" ]
}

@test "network create with subnet, gateway, ip-range, labels, options, internal" {
  id=$(mknet --subnet 10.213.64.0/24 --gateway 10.213.64.254 --ip-range 10.213.64.128/25 \
    --label tier=back --label team --internal --attachable -o com.docker.network.driver.mtu=1400 back)
  run b network inspect back
  echo "$output" | jq -e '.[0].IPAM.Config == [{"Subnet": "10.213.64.0/24",
      "IPRange": "10.213.64.128/25", "Gateway": "10.213.64.254"}]
    and .[0].Internal == true and .[0].Attachable == true
    and .[0].Labels == {"tier": "back", "team": ""}
    and .[0].Options == {"com.docker.network.driver.mtu": "1400"}'
  br=br-${id:0:12}
  run ip -o addr show dev "$br"
  [[ "$output" == *"inet 10.213.64.254/24"* ]]
  run ip -o link show dev "$br"
  [[ "$output" == *"mtu 1400"* ]]

  # A bridge name of the user's choosing.
  mknet --subnet 10.213.65.0/24 -o com.docker.network.bridge.name=berthtestbr named >/dev/null
  echo berthtestbr >> "$BATS_TEST_TMPDIR/bridges"
  run ip -o addr show dev berthtestbr
  [[ "$output" == *"inet 10.213.65.1/24"* ]]

  # Filters: label, label!=, driver, type, id.
  run b network ls --format '{{.Name}}' --filter label=tier=back
  [ "$output" = back ]
  run b network ls --format '{{.Name}}' --filter label=team
  [ "$output" = back ]
  run b network ls --format '{{.Name}}' --filter type=custom
  [ "${lines[*]}" = "back named" ]
  run b network ls --format '{{.Name}}' --filter type=builtin
  [ "${lines[*]}" = "bridge host none" ]
  run b network ls --format '{{.Name}}' --filter driver=null
  [ "$output" = none ]
  run b network ls --format '{{.Name}}' --filter id="${id:0:10}"
  [ "$output" = back ]
  run b network ls --format '{{.Name}} {{.Labels}} {{.Internal}}' --filter name=back
  [ "$output" = "back team=,tier=back true" ]
  run b network ls --filter bogus=1
  [ "$status" -ne 0 ]
  [[ "$output" == *"invalid filter 'bogus'"* ]]

  run b network rm back named
  [ "$status" -eq 0 ]
  [ "${lines[*]}" = "back named" ]
  ! ip link show dev berthtestbr 2>/dev/null
}

@test "network create --ipv6 gives the bridge both gateways" {
  id=$(mknet --ipv6 --subnet 10.213.66.0/24 --subnet fd00:bee5:66::/64 six)
  br=br-${id:0:12}
  run ip -o addr show dev "$br"
  [[ "$output" == *"inet 10.213.66.1/24"* ]]
  [[ "$output" == *"inet6 fd00:bee5:66::1/64"* ]]
  run b network inspect -f '{{.EnableIPv6}} {{range .IPAM.Config}}{{.Subnet}},{{.Gateway}} {{end}}' six
  [ "$output" = "true 10.213.66.0/24,10.213.66.1 fd00:bee5:66::/64,fd00:bee5:66::1 " ]
  b network rm six
  # IPv4-only networks keep IPv6 off on their bridge.
  id=$(mknet --subnet 10.213.67.0/24 four)
  [ "$(cat /proc/sys/net/ipv6/conf/br-${id:0:12}/disable_ipv6)" = 1 ]
  b network rm four
}

@test "an automatic subnet skips a route the host already has" {
  # The pool berth would pick first, found the way berth looks: the first
  # 172.18-31 /16 no host route overlaps.
  routes=$(ip -4 route show table main | awk '{print $1}' | grep -v default || true)
  first=""
  for i in $(seq 18 31); do
    cand=172.$i.0.0/16 taken=""
    for r in $routes; do
      python3 -c "import ipaddress,sys; sys.exit(0 if ipaddress.ip_network('$cand').overlaps(ipaddress.ip_network('$r', strict=False)) else 1)" && taken=1
    done
    if [ -z "$taken" ]; then first=$cand; break; fi
  done
  [ -n "$first" ] || skip "no free 172.x pool on this host"
  # No dummy module on every kernel: a bare bridge carries the route as well.
  ip link add "$DUMMY" type bridge
  ip link set "$DUMMY" up
  ip route add "$first" dev "$DUMMY"
  id=$(mknet auto)
  subnet=$(b network inspect -f '{{(index .IPAM.Config 0).Subnet}}' auto)
  [ "$subnet" != "$first" ]
  python3 -c "import ipaddress,sys; sys.exit(1 if ipaddress.ip_network('$subnet').overlaps(ipaddress.ip_network('$first')) else 0)"
  b network rm auto
  ip link del "$DUMMY"
}

@test "bad input: a clear error and nothing left" {
  mknet --subnet 10.213.70.0/24 one >/dev/null
  links_before=$(ip -br link | wc -l)
  run b network create --subnet 10.213.70.128/25 two
  [ "$status" -eq 1 ]
  [[ "$output" == *"Pool overlaps with other one on this address space"* ]]
  run b network create --subnet 10.0.0.0/33 two
  [ "$status" -eq 1 ]
  [ "$output" = "Error: invalid subnet 10.0.0.0/33" ]
  run b network create --subnet nonsense two
  [ "$status" -eq 1 ]
  [ "$output" = "Error: invalid subnet nonsense" ]
  run b network create --subnet 10.213.71.0/24 --gateway 10.213.72.1 two
  [ "$status" -eq 1 ]
  [ "$output" = "Error: gateway 10.213.72.1 not in subnet 10.213.71.0/24" ]
  run b network create --gateway 10.213.72.1 two
  [ "$status" -eq 1 ]
  [[ "$output" == *"every ip-range or gateway must have a corresponding subnet"* ]]
  run b network create --subnet 10.213.71.0/24 --ip-range 10.213.72.0/25 two
  [ "$status" -eq 1 ]
  [[ "$output" == *"ip-range 10.213.72.0/25 not in subnet 10.213.71.0/24"* ]]
  run b network create -d overlay two
  [ "$status" -eq 1 ]
  [ "$output" = 'Error: plugin "overlay" not found' ]
  run b network create -d host two
  [ "$status" -eq 1 ]
  [[ "$output" == *'only one instance of "host" network is allowed'* ]]
  run b network create one
  [ "$status" -eq 1 ]
  [[ "$output" == *"network with name one already exists"* ]]
  run b network create bridge
  [ "$status" -eq 1 ]
  [[ "$output" == *"network with name bridge already exists"* ]]
  run b network create 'bad name'
  [ "$status" -eq 1 ]
  [[ "$output" == *'invalid network name "bad name"'* ]]
  # Default networks' device names are reserved
  run b network create -o com.docker.network.bridge.name=berth0 two
  [ "$status" -eq 1 ]
  [[ "$output" == *"bridge name berth0 is reserved for the default networks of berth stores"* ]]
  run b network create -o com.docker.network.bridge.name=berth-0a1b2c3d two
  [ "$status" -eq 1 ]
  [[ "$output" == *"is reserved"* ]]
  # A bridge name that is already a host link: refused, that link untouched
  # (no address, no sysctl, no flag of the host's loopback changes).
  lo_before=$(ip -br addr show dev lo; ip -br link show dev lo; cat /proc/sys/net/ipv6/conf/lo/disable_ipv6 /proc/sys/net/ipv4/conf/lo/route_localnet)
  run b network create -o com.docker.network.bridge.name=lo two
  [ "$status" -eq 1 ]
  [[ "$output" == *"create bridge lo: a link with that name exists"* ]]
  [ "$(ip -br addr show dev lo; ip -br link show dev lo; cat /proc/sys/net/ipv6/conf/lo/disable_ipv6 /proc/sys/net/ipv4/conf/lo/route_localnet)" = "$lo_before" ]
  run b network rm nope
  [ "$status" -eq 1 ]
  [ "$output" = "Error: network nope not found" ]
  run b network inspect nope
  [ "$status" -eq 1 ]
  [[ "$output" == *"network nope not found"* ]]
  run b network create
  [ "$status" -eq 1 ]
  [[ "$output" == *'"berth network create" requires exactly 1 argument'* ]]
  # Nothing half-made: no row, no link.
  run b network ls --format '{{.Name}}' --filter type=custom
  [ "$output" = one ]
  [ "$(ip -br link | wc -l)" -eq "$links_before" ]
  # rm of several: the known ones go, exit 1 for the unknown one.
  mknet --subnet 10.213.73.0/24 three >/dev/null
  run b network rm one nope three
  [ "$status" -eq 1 ]
  [[ "$output" == *"one"* && "$output" == *"three"* && "$output" == *"network nope not found"* ]]
  run b network ls -q --filter type=custom
  [ "$output" = "" ]
}

@test "network prune removes unused custom networks, asks first, honours filters" {
  mknet --subnet 10.213.80.0/24 --label keep=yes keeper >/dev/null
  mknet --subnet 10.213.81.0/24 --label env=test p1 >/dev/null
  mknet --subnet 10.213.82.0/24 --label env=test p2 >/dev/null
  # Answering no keeps everything.
  run bash -c "echo n | '$BERTH' --root '$BATS_TEST_TMPDIR/root' --runroot '$BATS_TEST_TMPDIR/run' network prune"
  [ "$status" -eq 0 ]
  [[ "$output" == "WARNING! This will remove all custom networks not used by at least one container."* ]]
  [[ "$output" == *"Are you sure you want to continue? [y/N]"* ]]
  [ "$(b network ls -q --filter type=custom | wc -l)" -eq 3 ]
  run b network prune -f --filter label=env=test
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "Deleted Networks:" ]
  [ "${lines[1]}" = p1 ]
  [ "${lines[2]}" = p2 ]
  run b network ls --format '{{.Name}}' --filter type=custom
  [ "$output" = keeper ]
  run b network prune -f --filter label!=keep=yes
  [ "$output" = "" ]
  run bash -c "echo y | '$BERTH' --root '$BATS_TEST_TMPDIR/root' --runroot '$BATS_TEST_TMPDIR/run' network prune"
  [ "$status" -eq 0 ]
  [[ "$output" == *"Deleted Networks:"*keeper* ]]
  run b network ls --format '{{.Name}}'
  [ "${lines[*]}" = "bridge host none" ]
  run b network prune -f --filter bogus=1
  [ "$status" -eq 1 ]
}

@test "system check deletes only its own store's veths, never another store's" {
  mknet --subnet 10.213.80.0/24 mine >/dev/null
  ip link add "$FOREIGN_VETH" type veth peer name vt0123456fedcba
  run b system check
  [ "$status" -eq 0 ]
  # the foreign pair is still there: it belongs to a store this one knows nothing of
  ip link show "$FOREIGN_VETH" > /dev/null
  ip link del "$FOREIGN_VETH"
}

@test "subnets that would take over host addresses or routes are refused" {
  routes_before=$(ip route; ip -6 route; ip -br addr)
  local sn
  for sn in 127.0.0.0/8 127.1.0.0/16 0.0.0.0/0 0.0.0.0/8 96.0.0.0/3 224.0.0.0/24 240.0.0.0/24 \
    255.255.255.0/24 ::/0 ::1/128 ff02::/64; do
    if [[ $sn == *:* ]]; then
      run b network create --ipv6 --subnet "$sn" bad
    else
      run b network create --subnet "$sn" bad
    fi
    [ "$status" -eq 1 ]
    [[ "$output" == *"invalid subnet $sn"* ]]
  done
  run b network ls -q --filter type=custom
  [ "$output" = "" ]
  [ "$(ip route; ip -6 route; ip -br addr)" = "$routes_before" ]
}
