#!/usr/bin/env bats
# The embedded resolver (hidden `berth dns`): records written with
# `berth dns update --records FILE`, queries with dig from inside network
# namespaces made here to 127.0.0.11, forwarding to a fake upstream on
# 127.0.0.1 (never a real resolver).
load helpers

A=aaaaaaaaaaaa1111111111111111111111111111111111111111111111111111
B=bbbbbbbbbbbb2222222222222222222222222222222222222222222222222222
C=cccccccccccc3333333333333333333333333333333333333333333333333333

setup() {
  P=bdns$$
  RUN=$BATS_TEST_TMPDIR/run
  mkdir -p "$RUN"
  for n in a b c; do
    ip netns add "$P-$n"
    ip netns exec "$P-$n" ip link set lo up
  done
  # fake upstream: answers every A query with 192.0.2.7
  UPPORT=$((20000 + $$ % 20000))
  python3 "$BATS_TEST_DIRNAME/fake-dns.py" 127.0.0.1 "$UPPORT" 192.0.2.7 3>&- &
  UPPID=$!
  for _ in $(seq 50); do ss -lun | grep -q "127.0.0.1:$UPPORT " && break; sleep 0.1; done
  export BERTH_DNS_UPSTREAM=127.0.0.1:$UPPORT
}

server_pid() {
  ss -lxp 2>/dev/null | grep -F "$RUN/dns/ctl.sock" | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2
}

teardown() {
  local pid
  pid=$(server_pid)
  [ -n "$pid" ] && kill "$pid" 2>/dev/null
  kill "$UPPID" 2>/dev/null || true
  for n in a b c; do ip netns del "$P-$n" 2>/dev/null || true; done
}

# records WEBIP: a (web, alias db) and b (client) share n1; c (other) is alone
# on the internal network n2
records() {
  cat > "$BATS_TEST_TMPDIR/rec.json" <<JSON
{"containers": [
 {"id": "$A", "name": "/web", "netns": "/run/netns/$P-a",
  "networks": [{"id": "n1", "internal": false, "ipv4": "$1", "ipv6": "fd00:1::2", "aliases": ["db"]}]},
 {"id": "$B", "name": "client", "netns": "/run/netns/$P-b",
  "networks": [{"id": "n1", "internal": false, "ipv4": "10.88.0.3", "aliases": []}]},
 {"id": "$C", "name": "other", "netns": "/run/netns/$P-c",
  "networks": [{"id": "n2", "internal": true, "ipv4": "10.89.0.2", "aliases": ["hidden"]}]}
]}
JSON
  "$BERTH" dns update --records "$BATS_TEST_TMPDIR/rec.json" --runroot "$RUN"
}

q() { # NS dig-args...
  local ns=$1; shift
  ip netns exec "$P-$ns" dig +time=2 +tries=1 @127.0.0.11 "$@"
}

@test "dns: names, aliases and short ids on shared networks" {
  records 10.88.0.2
  [ "$(q b +short web)" = 10.88.0.2 ]
  [ "$(q b +short WEB)" = 10.88.0.2 ]
  [ "$(q b +short db)" = 10.88.0.2 ]
  [ "$(q b +short aaaaaaaaaaaa)" = 10.88.0.2 ]
  [ "$(q b +short web AAAA)" = fd00:1::2 ]
  [ "$(q a +short client)" = 10.88.0.3 ]
  [ "$(q b +short +tcp web)" = 10.88.0.2 ]
  # a container on no shared network is not visible: NXDOMAIN, not forwarded
  q b other | grep -q 'status: NXDOMAIN'
  q b hidden | grep -q 'status: NXDOMAIN'
  q c web | grep -q 'status: NXDOMAIN'
  [ "$(q c +short hidden)" = 10.89.0.2 ]
}

@test "dns: other names go to the upstream, not from internal networks" {
  records 10.88.0.2
  [ "$(q b +short example.com)" = 192.0.2.7 ]
  [ "$(q b +short +tcp example.com)" = 192.0.2.7 ]
  q c example.com | grep -q 'status: REFUSED'
}

@test "dns: answers follow updates; with no records the server lingers, then exits" {
  export BERTH_DNS_LINGER_MS=1500
  records 10.88.0.2
  pid=$(server_pid)
  [ -n "$pid" ]
  [ "$(q b +short web)" = 10.88.0.2 ]
  records 10.88.0.9
  [ "$(q b +short web)" = 10.88.0.9 ]
  # the same server, reloaded
  [ "$(server_pid)" = "$pid" ]
  echo '{"containers": []}' > "$BATS_TEST_TMPDIR/empty.json"
  "$BERTH" dns update --records "$BATS_TEST_TMPDIR/empty.json" --runroot "$RUN"
  # nothing answers for the container any more, though the server lingers
  # for the next one (a run --rm after another reuses it)
  run q b +short web
  [ "$output" != 10.88.0.9 ]
  kill -0 "$pid"
  records 10.88.0.3
  [ "$(server_pid)" = "$pid" ]
  [ "$(q b +short web)" = 10.88.0.3 ]
  "$BERTH" dns update --records "$BATS_TEST_TMPDIR/empty.json" --runroot "$RUN"
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  ! kill -0 "$pid" 2>/dev/null || false
  [ ! -e "$RUN/dns/ctl.sock" ]
}

@test "dns: system reset stops a lingering server at once" {
  records 10.88.0.2
  pid=$(server_pid)
  echo '{"containers": []}' > "$BATS_TEST_TMPDIR/empty.json"
  "$BERTH" dns update --records "$BATS_TEST_TMPDIR/empty.json" --runroot "$RUN"
  kill -0 "$pid"
  "$BERTH" --root "$BATS_TEST_TMPDIR/root" --runroot "$RUN" system reset -f
  for _ in $(seq 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  ! kill -0 "$pid" 2>/dev/null || false
}

@test "dns: malformed queries are ignored, the server keeps answering" {
  records 10.88.0.2
  ip netns exec "$P-b" python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(0.5)
for m in [b"", b"\x00", b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\xc0\x0c\x00\x01\x00\x01",
          b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x3f" + b"a" * 10, b"x" * 600]:
    s.sendto(m, ("127.0.0.11", 53))
    try:
        s.recvfrom(4096)
        raise SystemExit("answered a malformed query")
    except socket.timeout:
        pass
'
  [ "$(q b +short web)" = 10.88.0.2 ]
}

@test "dns: bad records are refused and change nothing" {
  records 10.88.0.2
  echo '{"containers": [{"id": "x", "netns": "relative"}]}' > "$BATS_TEST_TMPDIR/bad.json"
  run "$BERTH" dns update --records "$BATS_TEST_TMPDIR/bad.json" --runroot "$RUN"
  [ "$status" -ne 0 ]
  [[ "$output" == *"absolute netns path"* ]]
  [ "$(q b +short web)" = 10.88.0.2 ]
}

@test "dns: a flood of forwarded queries to a silent upstream does not starve others" {
  # an upstream that takes queries and never answers
  SILENT=$((UPPORT + 1))
  python3 -c 'import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
s.bind(("127.0.0.1", int(sys.argv[1])))
while True: s.recv(4096)' "$SILENT" 3>&- &
  SILENTPID=$!
  for _ in $(seq 50); do ss -lun | grep -q "127.0.0.1:$SILENT " && break; sleep 0.1; done
  BERTH_DNS_UPSTREAM=127.0.0.1:$SILENT records 10.88.0.2
  # container b floods names to forward; each waits 3 s for the upstream
  ip netns exec "$P-b" python3 -c '
import socket, struct, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
q = b"\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07example\x03com\x00\x00\x01\x00\x01"
end = time.time() + 2.5
i = 0
while time.time() < end:
    s.sendto(struct.pack(">H", i & 0xffff) + q, ("127.0.0.11", 53))
    i += 1
    if i % 200 == 0: time.sleep(0.01)
'
  # meanwhile the server still reloads at once and answers other containers
  ok=0
  SECONDS=0
  records 10.88.0.5 && ok=1
  kill "$SILENTPID" 2>/dev/null || true
  [ "$ok" = 1 ]
  [ "$SECONDS" -lt 3 ]
  [ "$(q a +short client)" = 10.88.0.3 ]
  # and the server holds a bounded number of upstream sockets
  pid=$(server_pid)
  [ "$(ls /proc/$pid/fd | wc -l)" -lt 2000 ]
}

@test "dns: a record whose namespace is gone or is the host's: others served, nothing bound on the host" {
  cat > "$BATS_TEST_TMPDIR/rec.json" <<JSON
{"containers": [
 {"id": "$A", "name": "web", "netns": "/run/netns/$P-a",
  "networks": [{"id": "n1", "ipv4": "10.88.0.2"}]},
 {"id": "$B", "name": "client", "netns": "/run/netns/$P-b",
  "networks": [{"id": "n1", "ipv4": "10.88.0.3"}]},
 {"id": "$C", "name": "dead", "netns": "/proc/999999999/ns/net",
  "networks": [{"id": "n1", "ipv4": "10.88.0.4"}]},
 {"id": "dddddddddddd", "name": "hostish", "netns": "/proc/self/ns/net",
  "networks": [{"id": "n1", "ipv4": "10.88.0.5"}]}
]}
JSON
  run "$BERTH" dns update --records "$BATS_TEST_TMPDIR/rec.json" --runroot "$RUN"
  [ "$status" -eq 0 ]
  [ "$(q b +short web)" = 10.88.0.2 ]
  # the host's namespace never gets a resolver socket on 127.0.0.11
  ! ss -lnu | grep -q '127.0.0.11:53 '
  ! ss -lnt | grep -q '127.0.0.11:53 '
}
