#!/usr/bin/env bats
# berth pull against registries that misbehave (issue 3, bad input): a
# scripted fake registry (fake-registry.py) serves crafted manifests,
# configs, blobs and error answers per repository name; malicious layers aim
# at a canary directory under the test's temp dir. Every failure must exit 1
# with an "Error: pull '<image>': ..." line naming the cause, and leave the
# store exactly as it was. Also: registry mirrors (with every proxy variable
# pointing at a dead loopback port, so a wrong fallback can never leave the
# machine) and TLS client certificates, against Debian's docker-registry.

load helpers
load registry-lib

FAKE_PY=$BATS_TEST_DIRNAME/fake-registry.py

setup() {
  T=$BATS_TEST_TMPDIR
  export BERTH_CONFIG=$T/cfg HOME=$T/home
  mkdir -p "$HOME" "$T/canary"
  echo "canary: must stay as it is" > "$T/canary/passwd"
  unset BERTH_REGISTRY_SECURE_LOOPBACK
  # no hang can stall the suite: a silent registry fails within seconds
  export BERTH_REGISTRY_TIMEOUT=5
  FAKE_PIDS=()
}

teardown() {
  local p
  for p in "${FAKE_PIDS[@]}"; do
    kill "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  local d
  for d in ${OWN_REGS:-}; do registry_stop "$d"; done
}

b() { "$BERTH" --root "$T/root" --runroot "$T/run" "$@"; }

# start_fake [--default SCENARIO]: fake-registry.py on loopback, for at most
# 120 s; sets FAKE (127.0.0.1:port) and FAKE_LOG.
start_fake() {
  local pf=$T/fake.port.$RANDOM
  FAKE_LOG=$T/fake.log
  "$REG_PYTHON" "$FAKE_PY" --port-file "$pf" --log "$FAKE_LOG" --canary "$T/canary" \
    --lifetime 120 "$@" > "$T/fake.out" 2>&1 3>&- < /dev/null &
  FAKE_PIDS+=($!)
  for _ in $(seq 1 200); do [ -s "$pf" ] && break; sleep 0.05; done
  [ -s "$pf" ] || { cat "$T/fake.out"; false; }
  FAKE=127.0.0.1:$(cat "$pf")
}

# The store as a user could tell it apart: every file (not the layer lock
# files, empty and only ever flock()ed) and the db rows.
store_state() {
  (cd "$T/root" && find . -path ./layers/locks -prune -o -path './berth.db*' -prune -o \
    -printf '%p %y %s\n' | LC_ALL=C sort)
  sqlite3 "$T/root/berth.db" 'SELECT * FROM images; SELECT * FROM tags;
    SELECT * FROM layers; SELECT * FROM image_layers; SELECT * FROM repo_digests;'
}

# A store with one good image in it, so "unchanged" means something.
seed_store() {
  runf b pull -q "$FAKE/ok/img"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "$(sqlite3 "$T/root/berth.db" 'SELECT count(*) FROM images')" = 1 ]
  BEFORE=$(store_state)
}

# pull_fails REPO CAUSE-GLOB: the pull exits 1, its last line is the error
# naming the image and the cause, and the store is unchanged.
pull_fails() {
  local ref=$FAKE/$1
  runf b pull "$ref"
  echo "$output"
  [ "$status" -eq 1 ]
  [[ "${lines[-1]}" == "Error: pull '$ref': "$2 ]]
  [ "$(store_state)" = "$BEFORE" ]
}

# Nothing written at or outside the canary: no "escaped" file anywhere
# under the test dir but inside the store, the canary file intact, unlinked.
canary_intact() {
  [ -z "$(find "$T" -path "$T/root" -prune -o -name escaped -print)" ]
  [ "$(cat "$T/canary/passwd")" = "canary: must stay as it is" ]
  [ "$(stat -c %h "$T/canary/passwd")" = 1 ]
  [ "$(ls -A "$T/canary")" = passwd ]
}

@test "bad manifests: malformed, oversized, deeply nested JSON" {
  start_fake
  seed_store
  pull_fails bad/malformed "manifest 'sha256:"*"': manifest: invalid JSON"*
  pull_fails bad/huge "fetch manifest 'latest': manifest is larger than 4194304 bytes"
  pull_fails bad/nested "manifest 'sha256:"*"': manifest: document nested deeper than "*" levels"
}

@test "bad manifests: unknown media type, served type and mediaType disagree, 129 layers" {
  start_fake
  seed_store
  pull_fails bad/mediatype "*unsupported media type 'application/vnd.example.unknown+json'"
  pull_fails bad/mismatch "*mediaType 'application/vnd.oci.image.manifest.v1+json' does not match the served type 'application/vnd.oci.image.index.v1+json'"
  pull_fails bad/layers129 "*too many layers (129, the limit is 128)"
  # the rejected documents were never fetched further
  ! grep -q "^GET /v2/bad/layers129/blobs/" "$FAKE_LOG" || false
}

@test "bad configs: not JSON, more diff_ids than layers, over 8 MiB" {
  start_fake
  seed_store
  pull_fails bad/confignotjson "config 'sha256:"*"': image config: invalid JSON"*
  pull_fails bad/diffids "manifest has 1 layers but the config lists 2 diff_ids"
  pull_fails bad/bigconfig "config 'sha256:"*"' is 9437184 bytes, more than 8388608"
  ! grep -q "^GET /v2/bad/bigconfig/blobs/" "$FAKE_LOG" || false
  # only the config was fetched, no layer
  [ "$(grep -c "^GET /v2/bad/confignotjson/blobs/" "$FAKE_LOG")" = 1 ]
  [ "$(grep -c "^GET /v2/bad/diffids/blobs/" "$FAKE_LOG")" = 1 ]
}

@test "a blob cut short on every attempt: 'truncated', bounded retries, store unchanged" {
  start_fake
  seed_store
  local t0=$SECONDS
  pull_fails bad/truncated "layer "*"truncated, "*" of "*" bytes received: '$FAKE': connection closed before the end"*
  [ $((SECONDS - t0)) -lt 20 ]
  # one first try, resumed with Range from where the data stopped, and a
  # bounded number of retries that make no progress
  local n
  n=$(grep -c "^GET /v2/bad/truncated/blobs/.*TRUNCATED" "$FAKE_LOG")
  [ "$n" -ge 2 ] && [ "$n" -le 10 ]
  grep -q "range=bytes=[1-9][0-9]*- TRUNCATED" "$FAKE_LOG"
  [ -z "$(find "$T/root/layers/tmp" -mindepth 1 2>/dev/null)" ]
}

@test "403 on the manifest: denied, store unchanged" {
  start_fake
  seed_store
  pull_fails bad/denied "fetch manifest 'latest': denied: requested access to the resource is denied"
  [ "$(grep -c "^GET /v2/bad/denied/manifests/latest 403" "$FAKE_LOG")" = 1 ]
}

@test "429 with Retry-After once: the pull waits, retries and succeeds; the debug log says so" {
  start_fake
  local t0=$SECONDS
  runf b -D pull -q "$FAKE/rate/once"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "${lines[-1]}" = "$FAKE/rate/once:latest" ]
  grep -q "answered 429, retrying in 1000 ms" <<<"$output"
  [ "$(grep -c '^GET /v2/rate/once/manifests/latest 429' "$FAKE_LOG")" = 1 ]
  [ "$(grep -c '^GET /v2/rate/once/manifests/latest 200' "$FAKE_LOG")" = 1 ]
  [ $((SECONDS - t0)) -ge 1 ]
  [ "$(sqlite3 "$T/root/berth.db" "SELECT count(*) FROM tags WHERE name = '$FAKE/rate/once:latest'")" = 1 ]
}

@test "429 forever: toomanyrequests after bounded retries" {
  start_fake
  seed_store
  local t0=$SECONDS
  pull_fails rate/always "fetch manifest 'latest': toomanyrequests: You have reached your pull rate limit"
  [ "$(grep -c '^GET /v2/rate/always/manifests/latest 429' "$FAKE_LOG")" = 4 ]
  [ $((SECONDS - t0)) -lt 15 ]
}

@test "503 forever: a clear error after bounded retries, in bounded time" {
  start_fake
  seed_store
  local t0=$SECONDS
  pull_fails down/503 "fetch manifest 'latest': received unexpected HTTP status: 503 Service Unavailable"
  [ "$(grep -c '^GET /v2/down/503/manifests/latest 503' "$FAKE_LOG")" = 4 ]
  [ $((SECONDS - t0)) -lt 15 ]
}

@test "500 with a registry error body: the registry's message is shown" {
  start_fake
  seed_store
  pull_fails down/500 "fetch manifest 'latest': received unexpected HTTP status: 500 Internal Server Error (unknown: boom)"
}

@test "malicious layer: a '../' entry aimed outside the store is refused" {
  start_fake
  seed_store
  pull_fails evil/dotdot "layer "*"'..' not allowed in layer names"
  canary_intact
}

@test "malicious layer: a hardlink to a file outside the root is refused" {
  start_fake
  seed_store
  pull_fails evil/hardlink "layer "*"hardlink 'stolen'"*"not allowed in layer names"
  canary_intact
}

@test "malicious layer: a hardlink through an absolute symlink is resolved inside the root and refused" {
  start_fake
  seed_store
  pull_fails evil/symlink-hardlink "layer "*"hardlink 'stolen'"*
  canary_intact
}

@test "malicious layer: writes through absolute symlinks stay inside the layer" {
  # Not an error: absolute symlinks are ordinary in images (/bin/sh ->
  # /bin/busybox). What a write through one reaches is resolved inside the
  # layer root (RESOLVE_IN_ROOT), never the host path the link names.
  start_fake
  runf b pull -q "$FAKE/evil/symlink"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  canary_intact
  local diff
  diff=$(find "$T/root/layers" -mindepth 2 -maxdepth 2 -name diff -exec test -L {}/etc \; -print)
  [ -n "$diff" ]
  [ "$(readlink "$diff/etc")" = "$T/canary" ]
  [ "$(cat "$diff$T/canary/escaped")" = "ESCAPED through an absolute dir symlink" ]
  # the file entry replaced the symlink "passwd" itself
  [ ! -L "$diff/passwd" ]
  [ "$(cat "$diff/passwd")" = "ESCAPED through an absolute file symlink" ]
}

# ---- registry mirrors --------------------------------------------------------

# Every proxy variable at a dead loopback port: if berth ever goes past the
# mirror to the real Docker Hub, it reaches nothing.
no_network_env() {
  export https_proxy=http://127.0.0.1:9 HTTPS_PROXY=http://127.0.0.1:9
  export http_proxy=http://127.0.0.1:9 HTTP_PROXY=http://127.0.0.1:9
  export no_proxy=127.0.0.1,localhost NO_PROXY=127.0.0.1,localhost
  unset ALL_PROXY all_proxy
}

# own_registry MODE: a docker-registry for this test only.
own_registry() {
  registry_start "$1"
  OWN_REGS="${OWN_REGS:-} $REG_DIR"
}

# push_small IMAGE-REF: a one-layer image with /etc/small.
push_small() {
  mkdir -p "$T/small/etc"
  echo "small image" > "$T/small/etc/small"
  make_oci_image "$T/small-oci" s "$T/small" >/dev/null
  push_image "$T/small-oci" "$1" s
}

@test "registry mirror: 'pull busybox' comes from the mirror, recorded as docker.io/library/busybox" {
  own_registry plain
  push_small "$REG/library/busybox:latest"
  no_network_env
  runf b --registry-mirror "http://$REG" pull busybox
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "${lines[0]}" = "Using default tag: latest" ]
  [ "${lines[1]}" = "latest: Pulling from library/busybox" ]
  grep -qx "Status: Downloaded newer image for busybox:latest" <<<"$output"
  [ "${lines[-1]}" = "docker.io/library/busybox:latest" ]
  [ "$(sqlite3 "$T/root/berth.db" 'SELECT name FROM tags')" = "docker.io/library/busybox:latest" ]
  runf b images
  [ "$status" -eq 0 ]
  grep -Eq '^busybox +latest +' <<<"$output"
  # the bytes came from the mirror
  grep -q 'GET /v2/library/busybox/manifests/latest' "$REG_DIR/registry.log"
  [ "$(cat "$(find "$T/root/layers" -path '*/diff/etc/small' -print -quit)")" = "small image" ]
}

@test "registry mirror answering 404, then 500: berth falls back to Docker Hub (a dead proxy here) and fails clearly" {
  no_network_env
  local mode t0
  for mode in notfound down/500; do
    start_fake --default "$mode"
    rm -rf "$T/root"
    t0=$SECONDS
    runf b --registry-mirror "http://$FAKE" pull busybox
    echo "$mode: $output"
    [ "$status" -eq 1 ]
    # the mirror was asked first ...
    grep -q "^GET /v2/library/busybox/manifests/latest" "$FAKE_LOG"
    # ... then the registry itself, through the dead proxy
    [[ "${lines[-1]}" == "Error: pull 'busybox': "*"'registry-1.docker.io': connection refused"*"127.0.0.1 port 9"* ]]
    [ $((SECONDS - t0)) -lt 20 ]
    [ ! -e "$T/root/berth.db" ] || [ "$(sqlite3 "$T/root/berth.db" 'SELECT count(*) FROM images')" = 0 ]
    : > "$FAKE_LOG"
  done
}

# ---- client certificates -----------------------------------------------------

@test "client certificate: --certs-dir with client.cert/client.key works, without it a clear error" {
  REG_CLIENT_CERT=1 own_registry tls
  push_small "$REG_LOCALHOST/test/small:1"
  export BERTH_REGISTRY_SECURE_LOOPBACK=1
  # the CA but no client certificate: the registry refuses the handshake
  mkdir -p "$T/ca-only/$REG_LOCALHOST"
  cp "$REG_CA" "$T/ca-only/$REG_LOCALHOST/ca.crt"
  local t0=$SECONDS
  runf b --certs-dir "$T/ca-only" pull "$REG_LOCALHOST/test/small:1"
  echo "$output"
  [ $((SECONDS - t0)) -lt 5 ]
  [ "$status" -eq 1 ]
  [[ "${lines[-1]}" == "Error: pull '$REG_LOCALHOST/test/small:1': "*"'$REG_LOCALHOST': tls: "*"client certificate"* ]]
  [ ! -e "$T/root/berth.db" ] || [ "$(sqlite3 "$T/root/berth.db" 'SELECT count(*) FROM images')" = 0 ]
  # Docker's layout: <certs-dir>/<host:port>/{ca.crt,client.cert,client.key}
  [ -f "$REG_CERTS_D/$REG_LOCALHOST/client.cert" ] && [ -f "$REG_CERTS_D/$REG_LOCALHOST/client.key" ]
  runf b --certs-dir "$REG_CERTS_D" pull -q "$REG_LOCALHOST/test/small:1"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "$output" = "$REG_LOCALHOST/test/small:1" ]
  [ "$(cat "$(find "$T/root/layers" -path '*/diff/etc/small' -print -quit)")" = "small image" ]
}
