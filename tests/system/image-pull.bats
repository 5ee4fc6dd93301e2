#!/usr/bin/env bats
# berth pull / login / logout against Debian's docker-registry on loopback
# (registry-lib.bash): plain, TLS, Basic and token auth, bad registries
# (flaky-proxy.py: hangs, dropped connections, delays). Every failure must
# name the cause and leave the store exactly as it was.

load helpers
load registry-lib

PROXY_PY=$BATS_TEST_DIRNAME/flaky-proxy.py

setup_file() {
  registry_start plain
  setup_test_image "$REG/test/img:v1" >/dev/null
  export MAIN_REG=$REG MAIN_REG_DIR=$REG_DIR MAIN_DIGEST=$TEST_IMAGE_DIGEST
}

teardown_file() {
  registry_stop
}

setup() {
  T=$BATS_TEST_TMPDIR
  export BERTH_CONFIG=$T/cfg HOME=$T/home
  mkdir -p "$HOME"
  unset BERTH_REGISTRY_TIMEOUT BERTH_REGISTRY_SECURE_LOOPBACK
  PROXY_PIDS=()
}

teardown() {
  local p
  for p in "${PROXY_PIDS[@]}"; do
    kill "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  # registries a test started itself (not setup_file's)
  local d
  for d in ${OWN_REGS:-}; do registry_stop "$d"; done
}

b() { "$BERTH" --root "$T/root" --runroot "$T/run" "$@"; }

# The store as a user could tell it apart: files (not the layer lock files,
# which are empty and only ever flock()ed) and every db row.
store_listing() {
  # the db by its content (its -wal/-shm files live on between commands)
  (cd "$T/root" && find . -path ./layers/locks -prune -o -path './berth.db*' -prune -o \
    -printf '%p %s\n' | sort)
  sqlite3 "$T/root/berth.db" .dump
  sqlite3 "$T/root/berth.db" 'SELECT * FROM images; SELECT * FROM tags;
    SELECT * FROM layers; SELECT * FROM image_layers; SELECT * FROM repo_digests;'
}


# start_proxy ARGS...: flaky-proxy.py on loopback; sets PROXY (127.0.0.1:port).
start_proxy() {
  local pf=$T/proxy.port.$RANDOM
  /usr/bin/python3 "$PROXY_PY" --port-file "$pf" --log "$T/proxy.log" "$@" 3>&- &
  PROXY_PIDS+=($!)
  for _ in $(seq 1 100); do [ -s "$pf" ] && break; sleep 0.05; done
  [ -s "$pf" ]
  PROXY=127.0.0.1:$(cat "$pf")
}

# own_registry MODE: a registry only this test uses, with the test image.
own_registry() {
  registry_start "$1"
  OWN_REGS="${OWN_REGS:-} $REG_DIR"
  setup_test_image "$REG/test/img:v1" >/dev/null
}

layer_file() {
  find "$T/root/layers" -path "*/diff$1" -print -quit
}

@test "pull: plain registry, docker pull's output, layers and record in the store" {
  runf b pull "$MAIN_REG/test/img:v1"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "${lines[0]}" = "v1: Pulling from test/img" ]
  local n=${#lines[@]}
  [ "${lines[n - 3]}" = "Digest: $MAIN_DIGEST" ]
  [ "${lines[n - 2]}" = "Status: Downloaded newer image for $MAIN_REG/test/img:v1" ]
  [ "${lines[n - 1]}" = "$MAIN_REG/test/img:v1" ]
  # three layers, each through Docker's steps; no bars, no escapes off a terminal
  local ids
  ids=$(echo "$output" | sed -n 's/^\([0-9a-f]\{12\}\): Pulling fs layer$/\1/p')
  [ "$(echo "$ids" | wc -l)" -eq 3 ]
  for id in $ids; do
    grep -qx "$id: Verifying Checksum" <<<"$output"
    grep -qx "$id: Download complete" <<<"$output"
    grep -qx "$id: Pull complete" <<<"$output"
  done
  ! grep -q $'\e' <<<"$output" || false
  ! grep -q "Downloading" <<<"$output" || false
  # content on disk, from layer 2
  local f
  f=$(layer_file /data/blob.bin)
  [ -n "$f" ]
  [ "$(sha256sum "$f" | cut -d' ' -f1)" = "$TEST_IMAGE_SHA256" ]
  [ "$(cat "$(layer_file /data/hello.txt)")" = "hello from berth" ]
  [ "$(stat -c '%u:%g %a' "$(layer_file /data/owned)")" = "1000:1000 640" ]
  # the record: tag -> image, repo digest, three layers
  [ "$(sqlite3 "$T/root/berth.db" "SELECT count(*) FROM tags WHERE name = '$MAIN_REG/test/img:v1'")" = 1 ]
  [ "$(sqlite3 "$T/root/berth.db" "SELECT digest FROM repo_digests")" = "$MAIN_DIGEST" ]
  [ "$(sqlite3 "$T/root/berth.db" "SELECT count(*) FROM layers")" = 3 ]
}

@test "pull: a second pull is 'up to date', prints no layer lines and changes nothing" {
  b pull -q "$MAIN_REG/test/img:v1"
  local before
  before=$(store_listing)
  sleep 1.1 # into another second: nothing may be re-stamped (the tag's time was)
  runf b pull "$MAIN_REG/test/img:v1"
  [ "$status" -eq 0 ]
  [ "$output" = "v1: Pulling from test/img
Digest: $MAIN_DIGEST
Status: Image is up to date for $MAIN_REG/test/img:v1
$MAIN_REG/test/img:v1" ]
  [ "$(store_listing)" = "$before" ]
}

@test "pull: -q prints only the full name; 'image pull' is the same command" {
  runf b pull -q "$MAIN_REG/test/img:v1"
  [ "$status" -eq 0 ]
  [ "$output" = "$MAIN_REG/test/img:v1" ]
  runf b image pull -q "$MAIN_REG/test/img:v1"
  [ "$status" -eq 0 ]
  [ "$output" = "$MAIN_REG/test/img:v1" ]
}

@test "pull: by digest" {
  runf b pull "$MAIN_REG/test/img@$MAIN_DIGEST"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "${lines[0]}" = "$MAIN_DIGEST: Pulling from test/img" ]
  grep -qx "Status: Downloaded newer image for $MAIN_REG/test/img@$MAIN_DIGEST" <<<"$output"
  [ "$(sqlite3 "$T/root/berth.db" "SELECT digest FROM repo_digests")" = "$MAIN_DIGEST" ]
  # a digest the registry does not have
  local bad=sha256:$(printf '%064d' 0)
  runf b pull "$MAIN_REG/test/img@$bad"
  [ "$status" -eq 1 ]
  [[ "$output" == *"manifest unknown"* ]]
}

@test "pull: on a terminal, progress is redrawn in place with docker's escapes" {
  command -v script >/dev/null || skip "script(1) not installed"
  runf script -qec "$BERTH --root $T/root --runroot $T/run pull $MAIN_REG/test/img:v1" /dev/null
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  # cursor up, erase line, carriage return ... cursor down
  grep -q $'\e\\[[0-9]*A\e\\[2K\r[0-9a-f]\\{12\\}: ' <<<"$output"
  grep -q $'Pull complete \r\e\\[[0-9]*B' <<<"$output"
  grep -q "Downloading \[=*>" <<<"$output"
  grep -q "Status: Downloaded newer image for $MAIN_REG/test/img:v1" <<<"$output"
}

@test "pull: unknown image and bad names fail clearly and leave the store as it was" {
  b pull -q "$MAIN_REG/test/img:v1"
  local before
  before=$(store_listing)
  runf b pull "$MAIN_REG/test/nothing-here:v1"
  [ "$status" -eq 1 ]
  [[ "${lines[-1]}" == "Error: pull '$MAIN_REG/test/nothing-here:v1': "*"manifest unknown"* ]]
  runf b pull "$MAIN_REG/test/img:no-such-tag"
  [ "$status" -eq 1 ]
  [[ "$output" == *"manifest unknown"* ]]
  runf b pull "$MAIN_REG/Test/UPPER"
  [ "$status" -eq 1 ]
  [[ "$output" == *"invalid reference format"* ]]
  [ "$(store_listing)" = "$before" ]
  # a registry that is not there
  runf b pull "127.0.0.1:1/test/img:v1"
  [ "$status" -eq 1 ]
  [[ "$output" == *"connection refused"* ]]
  [ "$(store_listing)" = "$before" ]
}

@test "pull: a blob whose content does not match its digest is refused, store unchanged" {
  b pull -q "$MAIN_REG/test/img:v1"
  local before w l blobdata
  before=$(store_listing)
  # an image of its own (no blob shared with others) ...
  w=$T/corrupt
  mkdir -p "$w/l1/data"
  head -c 100000 /dev/urandom > "$w/l1/data/file"
  make_oci_image "$w/oci" bad "$w/l1"
  push_image "$w/oci" "$MAIN_REG/test/corrupt:bad" bad
  l=${OCI_LAYER_DIGESTS#sha256:}
  blobdata=$MAIN_REG_DIR/storage/docker/registry/v2/blobs/sha256/${l:0:2}/$l/data
  [ -f "$blobdata" ]
  # ... whose layer the registry then serves changed: still a valid gzip
  # tar of the same size (random data is stored, not compressed), other bytes
  gzip -dc "$blobdata" > "$w/layer.tar"
  printf 'CORRUPTED' | dd of="$w/layer.tar" bs=1 seek=50000 conv=notrunc status=none
  gzip -n -6 -c "$w/layer.tar" > "$w/bad.gz"
  [ "$(stat -c %s "$w/bad.gz")" = "$(stat -c %s "$blobdata")" ]
  cp "$w/bad.gz" "$blobdata"
  runf b pull "$MAIN_REG/test/corrupt:bad"
  [ "$status" -eq 1 ]
  [[ "${lines[-1]}" == "Error: pull '$MAIN_REG/test/corrupt:bad': "*"$OCI_LAYER_DIGESTS"*"digest mismatch"* ]]
  [ "$(store_listing)" = "$before" ]
}

@test "pull: a registry that never answers times out (BERTH_REGISTRY_TIMEOUT) and changes nothing" {
  b pull -q "$MAIN_REG/test/img:v1"
  local before
  before=$(store_listing)
  start_proxy --mode hang
  export BERTH_REGISTRY_TIMEOUT=1
  local t0=$SECONDS
  runf b pull "$PROXY/test/img:v1"
  [ "$status" -eq 1 ]
  [[ "${lines[-1]}" == "Error: pull '$PROXY/test/img:v1': "*"timed out"* ]]
  [ $((SECONDS - t0)) -lt 15 ]
  [ "$(store_listing)" = "$before" ]
}

@test "pull: a blob download that drops is resumed with Range" {
  start_proxy --target "$MAIN_REG" --drop-after 200000
  runf b pull "$PROXY/test/img:v1"
  [ "$status" -eq 0 ] || { echo "$output"; cat "$T/proxy.log"; false; }
  grep -q "^DROP " "$T/proxy.log"
  grep -q "range=bytes=200000-" "$T/proxy.log"
  [ "$(sha256sum "$(layer_file /data/blob.bin)" | cut -d' ' -f1)" = "$TEST_IMAGE_SHA256" ]
}

@test "pull: two concurrent pulls of one image both succeed and store each blob once" {
  # The store exists already: two processes creating a fresh metadata db at
  # once is the store's own race (reported), not the pull's.
  b pull -q "$MAIN_REG/test/img:no-such-tag" 2>/dev/null || true
  [ -f "$T/root/berth.db" ]
  b pull -q "$MAIN_REG/test/img:v1" > "$T/p1.out" 2>&1 &
  local p1=$!
  b pull -q "$MAIN_REG/test/img:v1" > "$T/p2.out" 2>&1 &
  local p2=$!
  local s1=0 s2=0
  wait $p1 || s1=$?
  wait $p2 || s2=$?
  [ "$s1" -eq 0 ] || { cat "$T/p1.out"; false; }
  [ "$s2" -eq 0 ] || { cat "$T/p2.out"; false; }
  [ "$(cat "$T/p1.out")" = "$MAIN_REG/test/img:v1" ]
  # 3 layers + config + manifest, once each; 3 layer dirs; one image
  [ "$(find "$T/root/blobs/sha256" -type f | wc -l)" -eq 5 ]
  [ "$(find "$T/root/layers" -mindepth 1 -maxdepth 1 -type d ! -name locks ! -name tmp | wc -l)" -eq 3 ]
  [ "$(sqlite3 "$T/root/berth.db" 'SELECT count(*) FROM images')" = 1 ]
  [ -z "$(find "$T/root/layers/tmp" -mindepth 1 2>/dev/null)" ]
}

@test "pull: an index picks the host's platform, --platform another" {
  local w=$T/multi host
  host=$(dpkg --print-architecture)
  mkdir -p "$w/amd/etc" "$w/arm/etc"
  echo amd64 > "$w/amd/etc/arch"
  echo arm64 > "$w/arm/etc/arch"
  OCI_ARCH=amd64 make_oci_image "$w/oci" amd "$w/amd"
  local amd_d=$OCI_MANIFEST_DIGEST amd_s=$OCI_MANIFEST_SIZE
  OCI_ARCH=arm64 make_oci_image "$w/oci" arm "$w/arm"
  local arm_d=$OCI_MANIFEST_DIGEST arm_s=$OCI_MANIFEST_SIZE
  jq -cn --arg a "$amd_d" --argjson asz "$amd_s" --arg r "$arm_d" --argjson rs "$arm_s" '
    {schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests: [
      {mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $a, size: $asz,
       platform: {architecture: "amd64", os: "linux"}},
      {mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $r, size: $rs,
       platform: {architecture: "arm64", os: "linux"}}]}' > "$w/index"
  local ih
  ih=$(sha256sum "$w/index" | cut -d' ' -f1)
  mv "$w/index" "$w/oci/blobs/sha256/$ih"
  jq -c --arg d "sha256:$ih" --argjson s "$(stat -c %s "$w/oci/blobs/sha256/$ih")" '
    .manifests += [{mediaType: "application/vnd.oci.image.index.v1+json", digest: $d, size: $s,
      annotations: {"org.opencontainers.image.ref.name": "multi"}}]' "$w/oci/index.json" > "$w/i2"
  mv "$w/i2" "$w/oci/index.json"
  _reg_skopeo_flags dest "$MAIN_REG/test/multi:latest"
  skopeo "$(_reg_skopeo_global)" copy -q --all --retry-times 0 "${_REG_FLAGS[@]}" \
    "oci:$w/oci:multi" "docker://$MAIN_REG/test/multi:latest"

  runf b pull --platform linux/arm64 "$MAIN_REG/test/multi"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "${lines[0]}" = "Using default tag: latest" ]
  [ "${lines[1]}" = "latest: Pulling from test/multi" ]
  # the index's digest is what Docker reports
  grep -qx "Digest: sha256:$ih" <<<"$output"
  [ "$(cat "$(layer_file /etc/arch)")" = arm64 ]
  if [ "$host" = amd64 ]; then
    rm -rf "$T/root2"
    runf "$BERTH" --root "$T/root2" --runroot "$T/run2" pull -q "$MAIN_REG/test/multi"
    [ "$status" -eq 0 ]
    [ "$(cat "$(find "$T/root2/layers" -path '*/diff/etc/arch' -print -quit)")" = amd64 ]
  fi
  runf b pull --platform linux/s390x "$MAIN_REG/test/multi"
  [ "$status" -eq 1 ]
  [[ "$output" == *"s390x"* ]]
}

@test "pull over TLS: verified with the CA in --certs-dir, a clear error without it" {
  own_registry tls
  export BERTH_REGISTRY_SECURE_LOOPBACK=1
  mkdir -p "$T/empty-certs"
  runf b --certs-dir "$T/empty-certs" pull "$REG_LOCALHOST/test/img:v1"
  [ "$status" -eq 1 ]
  [[ "${lines[-1]}" == *"certificate"* ]]
  [[ "${lines[-1]}" == *"$REG_LOCALHOST"* ]]
  [ ! -e "$T/root/berth.db" ] || [ "$(sqlite3 "$T/root/berth.db" 'SELECT count(*) FROM images')" = 0 ]
  runf b --certs-dir "$REG_CERTS_D" pull -q "$REG_LOCALHOST/test/img:v1"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "$output" = "$REG_LOCALHOST/test/img:v1" ]
  # loopback without the knob: insecure as in Docker (unverified TLS)
  unset BERTH_REGISTRY_SECURE_LOOPBACK
  runf b --certs-dir "$T/empty-certs" pull -q "$REG/test/img:v1"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  # and a plain-HTTP registry is never used when TLS is required
  export BERTH_REGISTRY_SECURE_LOOPBACK=1
  runf b --certs-dir "$T/empty-certs" pull "$MAIN_REG/test/img:v1"
  [ "$status" -eq 1 ]
  [[ "${lines[-1]}" == *"tls"* ]]
}

@test "login/logout with Basic auth: wrong password stores nothing; pull needs the login" {
  own_registry basic
  runf b pull "$REG/test/img:v1"
  [ "$status" -eq 1 ]
  [[ "${lines[-1]}" == *"unauthorized: authentication required"* ]]
  runf b login -u "$REG_USER" -p wrong "$REG"
  [ "$status" -eq 1 ]
  [[ "$output" == *"WARNING! Using --password via the CLI is insecure"* ]]
  [[ "${lines[-1]}" == *"unauthorized: incorrect username or password"* ]]
  [[ "$output" != *wrong* ]]
  [ ! -e "$BERTH_CONFIG/config.json" ]
  runf bash -c "echo '$REG_PASS' | '$BERTH' login -u '$REG_USER' --password-stdin '$REG'"
  [ "$status" -eq 0 ]
  [ "$output" = "Login Succeeded" ]
  [ "$(stat -c %a "$BERTH_CONFIG/config.json")" = 600 ]
  [ "$(jq -r --arg r "$REG" '.auths[$r].auth' "$BERTH_CONFIG/config.json" | base64 -d)" = "$REG_USER:$REG_PASS" ]
  runf b pull -q "$REG/test/img:v1"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [[ "$output" != *"$REG_PASS"* ]]
  runf b logout "$REG"
  [ "$output" = "Removing login credentials for $REG" ]
  [ "$(jq -r '.auths | length' "$BERTH_CONFIG/config.json")" = 0 ]
  runf b logout "$REG"
  [ "$status" -eq 0 ]
  [ "$output" = "Not logged in to $REG" ]
  runf b login -u "$REG_USER" "$REG" </dev/null
  [ "$status" -eq 1 ]
  [[ "$output" == *"Cannot perform an interactive login from a non TTY device"* ]]
}

@test "login: Docker's config.json is read too" {
  own_registry basic
  mkdir -p "$HOME/.docker"
  printf '{"auths":{"https://%s/":{"auth":"%s"}},"psFormat":"x"}\n' "$REG" \
    "$(printf '%s:%s' "$REG_USER" "$REG_PASS" | base64 -w0)" > "$HOME/.docker/config.json"
  runf b pull -q "$REG/test/img:v1"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
}

@test "token auth: anonymous pull, login, and a refresh when the registry refuses a cached token" {
  TOKEN_TTL=2 TOKEN_EXP_OFFSET=-60 own_registry token
  # anonymous pull token (TOKEN_ANON=pull)
  runf b pull -q "$REG/test/img:v1"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  grep -q '"repository:test/img:pull"' "$TOKEN_LOG"
  ! grep -q "$REG_PASS" "$TOKEN_LOG" "$T"/cfg/* 2>/dev/null || false
  # wrong password: the token server says no
  runf b login -u "$REG_USER" -p nope "$REG"
  [ "$status" -eq 1 ]
  [[ "${lines[-1]}" == *"unauthorized: incorrect username or password"* ]]
  runf b login -u "$REG_USER" -p "$REG_PASS" "$REG"
  [ "$status" -eq 0 ]
  [ "${lines[-1]}" = "Login Succeeded" ]
  # refresh: the first blob request waits 3 s in the proxy, the registry
  # then refuses the token (TTL 2 s) although expires_in is not over for
  # berth (Docker's minimum lifetime of 60 s): berth must fetch a new one.
  rm -rf "$T/root"
  start_proxy --target "$REG" --delay 3
  : > "$TOKEN_LOG"
  runf b pull -q "$PROXY/test/img:v1"
  [ "$status" -eq 0 ] || { echo "$output"; cat "$TOKEN_LOG"; false; }
  [ "$(grep -c 'repository:test/img:pull' "$TOKEN_LOG")" -ge 2 ]
}
