#!/usr/bin/env bats
# `berth push` as a Docker user drives it: an image pulled from one loopback
# docker-registry (SRC) is tagged and pushed to another (DST) or to another
# repository of the same one; what arrives is checked with skopeo (inspect,
# copy to an OCI dir) and the registries' own logs.

load helpers
load registry-lib

setup_file() {
  registry_start plain
  export SRC=$REG SRC_DIR=$REG_DIR
  setup_test_image "$SRC/src/busybox:test" >&3
  export IMG=$SRC/src/busybox:test
  # the test image's manifest, config (image id) and layer blob digests
  local m
  m=$TEST_IMAGE_OCI/blobs/sha256/$(jq -r '.manifests[0].digest' "$TEST_IMAGE_OCI/index.json" | cut -d: -f2)
  export IMG_ID IMG_LAYERS
  IMG_ID=$(jq -r .config.digest "$m")
  IMG_LAYERS=$(jq -r '[.layers[].digest] | join(" ")' "$m")
  registry_start plain
  export DST=$REG DST_DIR=$REG_DIR
}

teardown_file() {
  registry_stop
}

setup() {
  ROOT=$BATS_TEST_TMPDIR/root
  RUNROOT=$BATS_TEST_TMPDIR/run
  # credentials only from files this test writes, never the host's
  export BERTH_CONFIG=$BATS_TEST_TMPDIR/berth-config
  export DOCKER_CONFIG=$BATS_TEST_TMPDIR/docker-config
  mkdir -p "$BERTH_CONFIG" "$DOCKER_CONFIG"
  TEST_REGS=()
}

teardown() {
  [ ${#TEST_REGS[@]} -eq 0 ] || registry_stop "${TEST_REGS[@]}"
}

b() { "$BERTH" --root "$ROOT" --runroot "$RUNROOT" "$@"; }

pull() { b pull -q "$1" > /dev/null; }


# layer_digests_of REF: the layer blob digests of a pushed image, read from
# an OCI copy made by skopeo (every byte fetched and verified by skopeo).
layer_digests_of() {
  local ref=$1 dir=$BATS_TEST_TMPDIR/copy-$RANDOM
  pull_image "$ref" "$dir" t >&2 || return 1
  local m
  m=$dir/blobs/sha256/$(jq -r '.manifests[0].digest' "$dir/index.json" | cut -d: -f2)
  jq -r '[.layers[].digest] | join(" ")' "$m"
}

# What a failed push must leave alone: the store's files and records.
store_state() {
  (cd "$ROOT" && find . -path './berth.db*' -prune -o -printf '%p %s %m\n' | LC_ALL=C sort)
  b images --digests --no-trunc
  b image inspect "$IMG" | jq -c '.[0] | [.RepoTags, .RepoDigests]'
}

# start_test_registry MODE: a registry for this test only (stopped in teardown).
start_test_registry() {
  local keep_reg=$REG keep_dir=$REG_DIR
  registry_start "$1" || return 1
  TEST_REGS+=("$REG_DIR")
  T_REG=$REG T_DIR=$REG_DIR T_USER=${REG_USER:-} T_PASS=${REG_PASS:-}
  export REG=$keep_reg REG_DIR=$keep_dir
  unset REG_USER REG_PASS
}

# docker_login REG USER PASS: a Docker config.json, as `docker login` writes it.
docker_login() {
  jq -n --arg r "$1" --arg a "$(printf '%s:%s' "$2" "$3" | base64 -w0)" \
    '{auths: {($r): {auth: $a}}}' > "$DOCKER_CONFIG/config.json"
}

@test "push: a pulled image to another registry, byte for byte" {
  pull "$IMG"
  b tag "$IMG" "$DST/dst/busybox:v1"
  run b push "$DST/dst/busybox:v1"
  echo "$output"
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "The push refers to repository [$DST/dst/busybox]" ]
  local d
  for d in $TEST_IMAGE_DIFF_IDS; do
    [[ "$output" == *"${d:7:12}: Preparing"* ]]
    [[ "$output" == *"${d:7:12}: Pushed"* ]]
  done
  # the image was pulled as OCI with its manifest: the same manifest goes out
  local last=${lines[${#lines[@]} - 1]}
  [[ "$last" =~ ^v1:\ digest:\ (sha256:[0-9a-f]{64})\ size:\ ([0-9]+)$ ]]
  local digest=${BASH_REMATCH[1]} size=${BASH_REMATCH[2]}
  [ "$digest" = "$TEST_IMAGE_DIGEST" ]
  REG_DIR=$DST_DIR
  run inspect_image "$DST/dst/busybox:v1" --raw
  [ "$status" -eq 0 ]
  [ "sha256:$(printf '%s' "$output" | sha256sum | cut -d' ' -f1)" = "$digest" ]
  [ "$(printf '%s' "$output" | wc -c)" -eq "$size" ]
  [ "$(jq -r .config.digest <<< "$output")" = "$IMG_ID" ]
  run layer_digests_of "$DST/dst/busybox:v1"
  [ "$status" -eq 0 ]
  [ "$output" = "$IMG_LAYERS" ]
  # Docker records the pushed repo digest on the image
  run b image inspect "$DST/dst/busybox:v1"
  jq -e --arg d "$DST/dst/busybox@$digest" '.[0].RepoDigests | index($d)' <<< "$output"
}

@test "push: twice, the second time every layer already exists" {
  pull "$IMG"
  b tag "$IMG" "$DST/twice/busybox:1"
  run b push "$DST/twice/busybox:1"
  [ "$status" -eq 0 ]
  [[ "$output" != *"already exists"* ]]
  local first=${lines[${#lines[@]} - 1]}
  run b push "$DST/twice/busybox:1"
  echo "$output"
  [ "$status" -eq 0 ]
  local d
  for d in $TEST_IMAGE_DIFF_IDS; do
    [[ "$output" == *"${d:7:12}: Layer already exists"* ]]
  done
  [[ "$output" != *"Pushed"* ]]
  [ "${lines[${#lines[@]} - 1]}" = "$first" ]
}

@test "push: to another repository of the same registry mounts the layers" {
  pull "$IMG"
  b tag "$IMG" "$SRC/other/copy:m"
  local before
  before=$(grep -c 'http.request.method=PATCH\|http.request.method=PUT' "$SRC_DIR/registry.log" || true)
  run b push "$SRC/other/copy:m"
  echo "$output"
  [ "$status" -eq 0 ]
  local d
  for d in $TEST_IMAGE_DIFF_IDS; do
    [[ "$output" == *"${d:7:12}: Mounted from src/busybox"* ]]
  done
  # no layer was uploaded: the only PUT is the manifest's
  local after
  after=$(grep -c 'http.request.method=PATCH\|http.request.method=PUT' "$SRC_DIR/registry.log" || true)
  [ $((after - before)) -eq 1 ]
  REG_DIR=$SRC_DIR
  run layer_digests_of "$SRC/other/copy:m"
  [ "$status" -eq 0 ]
  [ "$output" = "$IMG_LAYERS" ]
}

@test "push: --all-tags pushes every tag of the repository, -q prints the name only" {
  pull "$IMG"
  b tag "$IMG" "$DST/multi/busybox:a"
  b tag "$IMG" "$DST/multi/busybox:b"
  b tag "$IMG" "$DST/multi/busybox-not-this:c"
  run b push --all-tags "$DST/multi/busybox"
  echo "$output"
  [ "$status" -eq 0 ]
  [ "$(grep -c '^The push refers to repository' <<< "$output")" -eq 1 ]
  [[ "$output" =~ a:\ digest:\ $TEST_IMAGE_DIGEST ]]
  [[ "$output" =~ b:\ digest:\ $TEST_IMAGE_DIGEST ]]
  [[ "$output" != *"c: digest"* ]]
  REG_DIR=$DST_DIR
  run skopeo list-tags --tls-verify=false --no-creds "docker://$DST/multi/busybox"
  [ "$status" -eq 0 ]
  [ "$(jq -c '.Tags | sort' <<< "$output")" = '["a","b"]' ]
  run skopeo list-tags --tls-verify=false --no-creds "docker://$DST/multi/busybox-not-this"
  [ "$status" -ne 0 ]
  # a tag with --all-tags is Docker's usage error
  run b push -a "$DST/multi/busybox:a"
  [ "$status" -eq 1 ]
  [[ "$output" == *"tag can't be used with --all-tags/-a"* ]]
  # -q: nothing but the reference
  run b push -q "$DST/multi/busybox:a"
  [ "$status" -eq 0 ]
  [ "$output" = "$DST/multi/busybox:a" ]
}

@test "push: a layer above the chunk size goes up in chunks" {
  # a 20 MiB incompressible layer (chunks are 16 MiB)
  local l=$BATS_TEST_TMPDIR/big oci=$BATS_TEST_TMPDIR/big-oci
  mkdir -p "$l/data"
  _reg_det_bytes 20971520 berth-push-big > "$l/data/big.bin"
  make_oci_image "$oci" big "$l"
  local big_layer=$OCI_LAYER_DIGESTS big_diff=$OCI_DIFF_IDS
  REG_DIR=$SRC_DIR push_image "$oci" "$SRC/src/big:1" big
  pull "$SRC/src/big:1"
  b tag "$SRC/src/big:1" "$DST/dst/big:1"
  local before
  before=$(grep -c 'http.request.method=PATCH' "$DST_DIR/registry.log" || true)
  run b push "$DST/dst/big:1"
  echo "$output"
  [ "$status" -eq 0 ]
  [[ "$output" == *"${big_diff:7:12}: Pushed"* ]]
  local after
  after=$(grep -c 'http.request.method=PATCH' "$DST_DIR/registry.log" || true)
  [ $((after - before)) -ge 2 ]
  REG_DIR=$DST_DIR
  run layer_digests_of "$DST/dst/big:1"
  [ "$status" -eq 0 ]
  [ "$output" = "$big_layer" ]
}

@test "push: basic auth, denied without credentials, accepted with them" {
  start_test_registry basic
  pull "$IMG"
  b tag "$IMG" "$T_REG/auth/busybox:1"
  local before
  before=$(store_state)
  run b push "$T_REG/auth/busybox:1"
  echo "$output"
  [ "$status" -eq 1 ]
  [[ "${lines[${#lines[@]} - 1]}" == "Error: push '$T_REG/auth/busybox:1': "*"unauthorized"* ]]
  [[ "$output" != *"$T_PASS"* ]]
  [ "$(store_state)" = "$before" ]
  docker_login "$T_REG" "$T_USER" "$T_PASS"
  run b push "$T_REG/auth/busybox:1"
  echo "$output"
  [ "$status" -eq 0 ]
  [[ "${lines[${#lines[@]} - 1]}" == "1: digest: $TEST_IMAGE_DIGEST size: "* ]]
  REG_DIR=$T_DIR REG_USER=$T_USER REG_PASS=$T_PASS
  run layer_digests_of "$T_REG/auth/busybox:1"
  [ "$status" -eq 0 ]
  [ "$output" = "$IMG_LAYERS" ]
}

@test "push: token auth, anonymous push refused, logged-in push works" {
  start_test_registry token
  pull "$IMG"
  b tag "$IMG" "$T_REG/tok/busybox:1"
  local before
  before=$(store_state)
  run b push "$T_REG/tok/busybox:1"
  echo "$output"
  [ "$status" -eq 1 ]
  [[ "${lines[${#lines[@]} - 1]}" == "Error: push '$T_REG/tok/busybox:1': "* ]]
  [[ "$output" =~ unauthorized|denied|insufficient ]]
  [ "$(store_state)" = "$before" ]
  docker_login "$T_REG" "$T_USER" "$T_PASS"
  run b push "$T_REG/tok/busybox:1"
  echo "$output"
  [ "$status" -eq 0 ]
  [[ "${lines[${#lines[@]} - 1]}" == "1: digest: $TEST_IMAGE_DIGEST size: "* ]]
  # the token server was asked for push access to the repository
  grep -q 'repository:tok/busybox:.*push' "$T_DIR/token-requests.jsonl"
  REG_DIR=$T_DIR REG_USER=$T_USER REG_PASS=$T_PASS
  run layer_digests_of "$T_REG/tok/busybox:1"
  [ "$status" -eq 0 ]
  [ "$output" = "$IMG_LAYERS" ]
}

@test "push: an image that is not in the store, a digest reference" {
  run b push "$DST/nothing/here:1"
  [ "$status" -eq 1 ]
  [ "$output" = "Error: An image does not exist locally with the tag: $DST/nothing/here" ]
  pull "$IMG"
  # the repository exists locally, the tag does not
  b tag "$IMG" "$DST/some/busybox:1"
  run b push "$DST/some/busybox:2"
  [ "$status" -eq 1 ]
  [ "$output" = "Error: An image does not exist locally with the tag: $DST/some/busybox" ]
  run b push -a "$DST/nothing/here"
  [ "$status" -eq 1 ]
  [ "$output" = "Error: An image does not exist locally with the tag: $DST/nothing/here" ]
  run b push "$DST/some/busybox@$TEST_IMAGE_DIGEST"
  [ "$status" -eq 1 ]
  [[ "$output" == *"cannot push a digest reference"* ]]
  run b push
  [ "$status" -eq 1 ]
  [[ "$output" == *'"berth push" requires exactly 1 argument.'* ]]
}

# A registry that answers /v2/ but refuses every write with 403 DENIED.
start_refusing_registry() {
  local dir port
  dir=$(mktemp -d /tmp/berth-reg-403-XXXXXX)
  TEST_REGS+=("$dir")
  cat > "$dir/refuse.py" <<'EOF'
import json, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
log = open(sys.argv[2], "a")
class H(BaseHTTPRequestHandler):
    def reply(self, code, body=b""):
        log.write("%s %s %d\n" % (self.command, self.path, code)); log.flush()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Docker-Distribution-Api-Version", "registry/2.0")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
    def deny(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(n)
        self.reply(403, json.dumps({"errors": [{"code": "DENIED",
            "message": "requested access to the resource is denied"}]}).encode())
    def do_GET(self):
        if self.path == "/v2/":
            self.reply(200, b"{}")
        else:
            self.reply(404, b'{"errors":[{"code":"NOT_FOUND","message":"not found"}]}')
    def do_HEAD(self):
        self.reply(404)
    do_POST = do_PUT = do_PATCH = deny
    def log_message(self, *a):
        pass
s = ThreadingHTTPServer(("127.0.0.1", 0), H)
open(sys.argv[1] + ".tmp", "w").write(str(s.server_address[1]))
import os; os.rename(sys.argv[1] + ".tmp", sys.argv[1])
s.serve_forever()
EOF
  "$REG_PYTHON" "$dir/refuse.py" "$dir/port" "$dir/requests.log" > /dev/null 2>&1 3>&- < /dev/null &
  echo $! > "$dir/registry.pid"
  local i
  for i in $(seq 1 100); do
    [ -s "$dir/port" ] && break
    sleep 0.05
  done
  [ -s "$dir/port" ]
  T_REG=127.0.0.1:$(cat "$dir/port") T_DIR=$dir
}

@test "push: a registry that refuses (403) fails clearly and changes nothing locally" {
  start_refusing_registry
  pull "$IMG"
  b tag "$IMG" "$T_REG/no/busybox:1"
  local before
  before=$(store_state)
  run b push "$T_REG/no/busybox:1"
  echo "$output"
  [ "$status" -eq 1 ]
  [[ "${lines[${#lines[@]} - 1]}" == "Error: push '$T_REG/no/busybox:1': "*"denied: requested access to the resource is denied"* ]]
  [ "$(store_state)" = "$before" ]
  # the refusal came from an upload, not from a failure to connect
  grep -q '^POST /v2/no/busybox/blobs/uploads/.* 403$' "$T_DIR/requests.log"
  ! grep -q '^PUT /v2/no/busybox/manifests' "$T_DIR/requests.log" || false
}

# diff_ids_of REF: the sha256 of each gunzipped layer of a pushed image,
# from an OCI copy made by skopeo.
diff_ids_of() {
  local ref=$1 dir=$BATS_TEST_TMPDIR/copy-$RANDOM m l out=""
  pull_image "$ref" "$dir" t >&2 || return 1
  m=$dir/blobs/sha256/$(jq -r '.manifests[0].digest' "$dir/index.json" | cut -d: -f2)
  for l in $(jq -r '.layers[] | .mediaType + "=" + .digest' "$m"); do
    [[ "$l" == *gzip=* ]] || { echo "not gzip: $l" >&2; return 1; }
    out+="${out:+ }sha256:$(gunzip -c "$dir/blobs/sha256/${l##*:}" | sha256sum | cut -d' ' -f1)"
  done
  echo "$out"
}

@test "push: an imported image's plain layer goes up gzipped, its diff_id kept" {
  local rootfs=$BATS_TEST_TMPDIR/rootfs
  make_busybox_rootfs "$rootfs"
  tar -C "$rootfs" -cf "$BATS_TEST_TMPDIR/rootfs.tar" .
  local diff
  diff=sha256:$(sha256sum "$BATS_TEST_TMPDIR/rootfs.tar" | cut -d' ' -f1)
  run b import --change 'CMD ["sh"]' "$BATS_TEST_TMPDIR/rootfs.tar" "$DST/imported/bb:1"
  [ "$status" -eq 0 ]
  local id=${lines[${#lines[@]} - 1]}
  run b push "$DST/imported/bb:1"
  echo "$output"
  [ "$status" -eq 0 ]
  [[ "$output" == *"${diff:7:12}: Pushed"* ]]
  local first=${lines[${#lines[@]} - 1]}
  REG_DIR=$DST_DIR
  run inspect_image "$DST/imported/bb:1" --raw
  [ "$(jq -r .mediaType <<< "$output")" = application/vnd.docker.distribution.manifest.v2+json ]
  [ "$(jq -r .config.digest <<< "$output")" = "$id" ]
  run diff_ids_of "$DST/imported/bb:1"
  [ "$status" -eq 0 ]
  [ "$output" = "$diff" ]
  # the gzip blob was kept: the next push finds it there, same manifest
  run b push "$DST/imported/bb:1"
  [ "$status" -eq 0 ]
  [[ "$output" == *"${diff:7:12}: Layer already exists"* ]]
  [ "${lines[${#lines[@]} - 1]}" = "$first" ]
  # and the image still runs from the store as before: save reads its layer
  run b save -o "$BATS_TEST_TMPDIR/saved.tar" "$DST/imported/bb:1"
  [ "$status" -eq 0 ]
  tar -xOf "$BATS_TEST_TMPDIR/saved.tar" manifest.json | jq -e '.[0].Layers | length == 1'
}

@test "push: a loaded docker-archive (plain layers) arrives with the config's diff_ids" {
  local archive=$BATS_TEST_TMPDIR/img.tar
  skopeo --insecure-policy copy -q "oci:$TEST_IMAGE_OCI:$TEST_IMAGE_TAG" \
    "docker-archive:$archive:loaded/busybox:1"
  run b load -i "$archive"
  echo "$output"
  [ "$status" -eq 0 ]
  b tag loaded/busybox:1 "$DST/loaded/busybox:1"
  run b push "$DST/loaded/busybox:1"
  echo "$output"
  [ "$status" -eq 0 ]
  REG_DIR=$DST_DIR
  run inspect_image "$DST/loaded/busybox:1" --raw
  [ "$(jq -r .config.digest <<< "$output")" = "$IMG_ID" ]
  run diff_ids_of "$DST/loaded/busybox:1"
  [ "$status" -eq 0 ]
  [ "$output" = "$TEST_IMAGE_DIFF_IDS" ]
}
