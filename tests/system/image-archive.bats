#!/usr/bin/env bats
# berth save / load / import as a Docker user drives them, against real
# peers: podman loads what berth saves, berth loads what skopeo writes
# (docker-archive and OCI layouts), and bad archives change nothing.
# Every store is private (--root/--runroot under the test's temp dir);
# podman runs with its own --root/--runroot and the vfs driver.

load helpers
load registry-lib

# Paths that podman and skopeo (as root) create whatever they are told; we
# remove those that did not exist before this file ran.
ARCHIVE_GLOBALS=("${REG_SKOPEO_GLOBALS[@]}" /run/containers/networks /run/containers)

setup_file() {
  export FIX
  FIX=$(mktemp -d /tmp/berth-archive-XXXXXX)
  for p in "${ARCHIVE_GLOBALS[@]}"; do
    [ ! -e "$p" ] || echo "$p"
  done > "$FIX/globals.before"
  make_busybox_rootfs "$FIX/rootfs"
  echo "known content" > "$FIX/rootfs/etc/marker"
  tar -C "$FIX/rootfs" --numeric-owner -cf "$FIX/rootfs.tar" .
  gzip -n -k "$FIX/rootfs.tar"
  zstd -q -k "$FIX/rootfs.tar" -o "$FIX/rootfs.tar.zst"
  # a two-layer OCI image: busybox, then a layer with a known file
  mkdir -p "$FIX/l2/data"
  echo "layer two" > "$FIX/l2/data/two.txt"
  make_oci_image "$FIX/oci" v1 "$FIX/rootfs" "$FIX/l2"
  export OCI_ID=$OCI_CONFIG_DIGEST OCI_DIFFS=$OCI_DIFF_IDS
  # the same image as `docker save` would write it, made by skopeo
  skopeo --insecure-policy copy -q "oci:$FIX/oci:v1" \
    "docker-archive:$FIX/skopeo.tar:example.com/team/app:v1"
  # and as an OCI archive (a tar of the layout)
  tar -C "$FIX/oci" -cf "$FIX/oci.tar" .
}

teardown_file() {
  for p in "${ARCHIVE_GLOBALS[@]}"; do
    grep -qxF "$p" "$FIX/globals.before" && continue
    if [ -d "$p" ]; then rmdir "$p" 2>/dev/null || true; else rm -f "$p"; fi
  done
  rm -rf "$FIX"
}

setup() {
  ROOT=$BATS_TEST_TMPDIR/root
  RUNROOT=$BATS_TEST_TMPDIR/run
}

teardown() {
  if [ -n "${PODMAN_ROOT:-}" ]; then
    podman_b rmi -a -f >/dev/null 2>&1 || true
    rm -rf "$PODMAN_ROOT" "$PODMAN_RUNROOT"
  fi
}

b() { "$BERTH" --root "$ROOT" --runroot "$RUNROOT" "$@"; }

podman_b() {
  podman --root "$PODMAN_ROOT" --runroot "$PODMAN_RUNROOT" --storage-driver vfs \
    --cgroup-manager cgroupfs --events-backend none "$@"
}

# The store as a listing: every path (with sizes of files) and the db rows.
# Lock files (layers/locks/<chain>) are left out: the layer store keeps them
# (removing a lock file another process may be waiting on would break the
# lock), they hold nothing.
store_state() {
  (cd "$ROOT" && find . -path ./berth.db-shm -prune -o -path ./berth.db-wal -prune -o \
    -path ./berth.db -prune -o -path './layers/locks/*' -prune -o -printf '%y %s %p\n' |
    LC_ALL=C sort)
  sqlite3 "$ROOT/berth.db" 'SELECT * FROM images ORDER BY id; SELECT name, image_id FROM tags
    ORDER BY name; SELECT chain_id, blob_digest FROM layers ORDER BY chain_id;
    SELECT * FROM image_layers ORDER BY image_id, idx;'
}

# config JSON of an image id, as stored
config_of() { cat "$ROOT/blobs/sha256/${1#sha256:}"; }

# layer directory of a chain id
layer_dir() { echo "$ROOT/layers/${1#sha256:}/diff"; }

@test "import: rootfs tar with --change and -m, a tag, the layer unpacked" {
  run b import --change 'CMD ["sh"]' -c 'ENTRYPOINT /bin/echo hi' -c 'ENV A=1 B="x y"' \
    -c 'WORKDIR /srv' -c 'USER nobody' -c 'EXPOSE 8080 53/udp' -c 'LABEL team=core "k 2"=v2' \
    -c 'VOLUME ["/data"]' -c 'STOPSIGNAL SIGINT' -m 'first import' "$FIX/rootfs.tar" bb:imp
  [ "$status" -eq 0 ]
  [[ "$output" =~ ^sha256:[0-9a-f]{64}$ ]]
  id=$output
  # the image id is the digest of its config
  [ "sha256:$(sha256sum "$ROOT/blobs/sha256/${id#sha256:}" | cut -d' ' -f1)" = "$id" ]
  c=$(config_of "$id")
  [ "$(jq -c .config.Cmd <<< "$c")" = '["sh"]' ]
  [ "$(jq -c .config.Entrypoint <<< "$c")" = '["/bin/sh","-c","/bin/echo hi"]' ]
  [ "$(jq -c .config.Env <<< "$c")" = '["A=1","B=x y"]' ]
  [ "$(jq -r .config.WorkingDir <<< "$c")" = /srv ]
  [ "$(jq -r .config.User <<< "$c")" = nobody ]
  [ "$(jq -c '.config.ExposedPorts | keys' <<< "$c")" = '["53/udp","8080/tcp"]' ]
  [ "$(jq -c .config.Labels <<< "$c")" = '{"team":"core","k 2":"v2"}' ]
  [ "$(jq -c .config.Volumes <<< "$c")" = '{"/data":{}}' ]
  [ "$(jq -r .config.StopSignal <<< "$c")" = SIGINT ]
  [ "$(jq -r .comment <<< "$c")" = 'first import' ]
  [ "$(jq -r '.history[0].comment' <<< "$c")" = 'first import' ]
  [ "$(jq -r .os <<< "$c")" = linux ]
  # the diff_id is the tar's digest, and the layer holds the files
  diff=sha256:$(sha256sum "$FIX/rootfs.tar" | cut -d' ' -f1)
  [ "$(jq -r '.rootfs.diff_ids[0]' <<< "$c")" = "$diff" ]
  [ "$(cat "$(layer_dir "$diff")/etc/marker")" = "known content" ]
  cmp "$(layer_dir "$diff")/bin/busybox" /bin/busybox
  [ "$(sqlite3 "$ROOT/berth.db" "SELECT image_id FROM tags WHERE name = 'docker.io/library/bb:imp'")" = "$id" ]
}

@test "import: gzip and zstd from stdin give the same layer; --platform; bad --change" {
  run b import --platform linux/arm64/v8 - gz:1 < "$FIX/rootfs.tar.gz"
  [ "$status" -eq 0 ]
  gz=$output
  run b import - zst:1 < "$FIX/rootfs.tar.zst"
  [ "$status" -eq 0 ]
  zs=$output
  diff=sha256:$(sha256sum "$FIX/rootfs.tar" | cut -d' ' -f1)
  [ "$(config_of "$gz" | jq -r '.rootfs.diff_ids[0]')" = "$diff" ]
  [ "$(config_of "$zs" | jq -r '.rootfs.diff_ids[0]')" = "$diff" ]
  [ "$(config_of "$gz" | jq -r '.architecture + "/" + .variant')" = arm64/v8 ]
  [ "$(config_of "$zs" | jq -r '.comment')" = 'Imported from -' ]
  # one layer directory for both
  [ "$(ls "$ROOT/layers" | grep -vc -e locks -e tmp)" -eq 1 ]
  [ "$(sqlite3 "$ROOT/berth.db" 'SELECT count(*) FROM layers')" -eq 1 ]

  before=$(store_state)
  run b import -c 'FROM busybox' "$FIX/rootfs.tar"
  [ "$status" -eq 1 ]
  [[ "$output" == *"FROM is not a valid change command"* ]]
  run b import "$FIX/no-such.tar"
  [ "$status" -eq 1 ]
  [[ "$output" == *"no such file or directory"* ]]
  # not a tar at all
  head -c 5000 /dev/urandom > "$BATS_TEST_TMPDIR/junk"
  run b import "$BATS_TEST_TMPDIR/junk" junk:1
  [ "$status" -eq 1 ]
  [[ "$output" == "Error: import: "* ]]
  [ "$(store_state)" = "$before" ]
}

@test "save: docker-archive format that podman loads with the same id and tag" {
  id=$(b import -c 'CMD ["sh"]' "$FIX/rootfs.tar" bb:save)
  b save -o "$BATS_TEST_TMPDIR/bb.tar" bb:save
  run tar -tf "$BATS_TEST_TMPDIR/bb.tar"
  [[ "$output" == *manifest.json* ]]
  [[ "$output" == *repositories* ]]
  [[ "$output" == *"${id#sha256:}.json"* ]]
  [[ "$output" == */layer.tar* ]]
  [[ "$output" == */VERSION* ]]
  [ "$(tar -xOf "$BATS_TEST_TMPDIR/bb.tar" manifest.json | jq -c '.[0].RepoTags')" = '["bb:save"]' ]
  # the layer in the archive is the uncompressed diff
  layer=$(tar -xOf "$BATS_TEST_TMPDIR/bb.tar" manifest.json | jq -r '.[0].Layers[0]')
  [ "$(tar -xOf "$BATS_TEST_TMPDIR/bb.tar" "$layer" | sha256sum | cut -d' ' -f1)" = \
    "$(sha256sum "$FIX/rootfs.tar" | cut -d' ' -f1)" ]

  PODMAN_ROOT=$BATS_TEST_TMPDIR/podman-root PODMAN_RUNROOT=$BATS_TEST_TMPDIR/podman-run
  run podman_b load -i "$BATS_TEST_TMPDIR/bb.tar"
  [ "$status" -eq 0 ]
  run podman_b images --no-trunc --format '{{.ID}} {{.Repository}}:{{.Tag}}'
  [ "$status" -eq 0 ]
  # podman names a short docker-archive name localhost/...
  [[ "$output" == *"$id localhost/bb:save"* ]]
}

@test "save: to stdout, refused on a terminal, unknown image leaves no -o file" {
  b import "$FIX/rootfs.tar" bb:out >/dev/null
  b save bb:out > "$BATS_TEST_TMPDIR/out.tar"
  tar -tf "$BATS_TEST_TMPDIR/out.tar" manifest.json
  run script -qec "$BERTH --root $ROOT --runroot $RUNROOT save bb:out" /dev/null
  [ "$status" -ne 0 ]
  [[ "$output" == *"cowardly refusing to save to a terminal. Use the -o flag or redirect"* ]]
  run b save -o "$BATS_TEST_TMPDIR/none.tar" bb:out nosuch:image
  [ "$status" -eq 1 ]
  [[ "$output" == *"No such image: nosuch:image"* ]]
  [ ! -e "$BATS_TEST_TMPDIR/none.tar" ]
  [ -z "$(ls -A "$BATS_TEST_TMPDIR" | grep tmp)" ]
}

@test "load: a docker-archive written by skopeo, layers on disk" {
  run b load -i "$FIX/skopeo.tar"
  [ "$status" -eq 0 ]
  [ "$output" = "Loaded image: example.com/team/app:v1" ]
  [ "$(sqlite3 "$ROOT/berth.db" "SELECT image_id FROM tags WHERE name = 'example.com/team/app:v1'")" = "$OCI_ID" ]
  read -r d1 d2 <<< "$OCI_DIFFS"
  c2=sha256:$(printf '%s %s' "$d1" "$d2" | sha256sum | cut -d' ' -f1)
  [ "$(cat "$(layer_dir "$d1")/etc/marker")" = "known content" ]
  [ "$(cat "$(layer_dir "$c2")/data/two.txt")" = "layer two" ]
  [ ! -e "$(layer_dir "$c2")/etc/marker" ]
  # loading again changes nothing
  before=$(store_state)
  run b load < "$FIX/skopeo.tar"
  [ "$status" -eq 0 ]
  [ "$output" = "Loaded image: example.com/team/app:v1" ]
  [ "$(store_state | grep -v '^sha256:')" = "$(grep -v '^sha256:' <<< "$before")" ]
}

@test "load: save -> load round trip keeps the image id, plain and gzip" {
  b load -i "$FIX/skopeo.tar" >/dev/null
  b save -o "$BATS_TEST_TMPDIR/rt.tar" example.com/team/app:v1
  gzip -k "$BATS_TEST_TMPDIR/rt.tar"
  ROOT=$BATS_TEST_TMPDIR/root2
  run b load -i "$BATS_TEST_TMPDIR/rt.tar.gz"
  [ "$status" -eq 0 ]
  [ "$output" = "Loaded image: example.com/team/app:v1" ]
  [ "$(sqlite3 "$ROOT/berth.db" 'SELECT id FROM images')" = "$OCI_ID" ]
  # by id: no tags in the archive
  b save "$OCI_ID" > "$BATS_TEST_TMPDIR/byid.tar"
  [ "$(tar -xOf "$BATS_TEST_TMPDIR/byid.tar" manifest.json | jq -c '.[0].RepoTags')" = null ]
  ROOT=$BATS_TEST_TMPDIR/root3
  run b load -i "$BATS_TEST_TMPDIR/byid.tar"
  [ "$status" -eq 0 ]
  [ "$output" = "Loaded image ID: $OCI_ID" ]
}

@test "load: OCI layout archives (skopeo's and berth's own --format oci-archive)" {
  run b load -i "$FIX/oci.tar"
  [ "$status" -eq 0 ]
  # a bare ref.name tag ("v1") is no image name: loaded by id
  [ "$output" = "Loaded image ID: $OCI_ID" ]
  [ "$(sqlite3 "$ROOT/berth.db" 'SELECT manifest_digest FROM images')" = \
    "$(jq -r '.manifests[0].digest' "$FIX/oci/index.json")" ]
  b tag "$OCI_ID" app:oci 2>/dev/null ||
    sqlite3 "$ROOT/berth.db" "INSERT INTO tags VALUES('docker.io/library/app:oci', '$OCI_ID', 0)"
  b save --format oci-archive -o "$BATS_TEST_TMPDIR/mine.tar" app:oci
  tar -xOf "$BATS_TEST_TMPDIR/mine.tar" oci-layout | jq -e '.imageLayoutVersion == "1.0.0"'
  skopeo --insecure-policy inspect "oci-archive:$BATS_TEST_TMPDIR/mine.tar" | jq -e '.Layers | length == 2'
  ROOT=$BATS_TEST_TMPDIR/root2
  run b load -i "$BATS_TEST_TMPDIR/mine.tar"
  [ "$status" -eq 0 ]
  [ "$output" = "Loaded image: app:oci" ]
  [ "$(sqlite3 "$ROOT/berth.db" 'SELECT id FROM images')" = "$OCI_ID" ]
}

# bad_archive NAME: the skopeo docker-archive unpacked into $BATS_TEST_TMPDIR/NAME
unpack_archive() {
  mkdir -p "$BATS_TEST_TMPDIR/$1"
  tar -C "$BATS_TEST_TMPDIR/$1" -xf "$FIX/skopeo.tar"
}

# load_fails FILE PATTERN: load fails with PATTERN in the error; store as before
load_fails() {
  local before
  before=$(store_state)
  run b load -i "$1"
  echo "$output"
  [ "$status" -eq 1 ]
  [[ "$output" == "Error: load: "*$2* ]]
  [ "$(store_state)" = "$before" ]
  [ -z "$(ls -A "$ROOT/blobs/tmp" 2>/dev/null)" ]
  [ -z "$(ls -A "$ROOT/layers/tmp" 2>/dev/null)" ]
}

@test "load: bad archives give a clear error and leave the store unchanged" {
  # a store with something in it already
  b import "$FIX/rootfs.tar" bb:keep >/dev/null

  # truncated
  size=$(stat -c %s "$FIX/skopeo.tar")
  head -c $((size / 2)) "$FIX/skopeo.tar" > "$BATS_TEST_TMPDIR/trunc.tar"
  load_fails "$BATS_TEST_TMPDIR/trunc.tar" "runcated"

  # a layer whose bytes do not match the config's diff_id
  unpack_archive wrong
  layer=$(jq -r '.[0].Layers[1]' "$BATS_TEST_TMPDIR/wrong/manifest.json")
  chmod u+w "$BATS_TEST_TMPDIR/wrong/$layer"
  printf 'XXXX' | dd of="$BATS_TEST_TMPDIR/wrong/$layer" bs=1 seek=600 conv=notrunc status=none
  tar -C "$BATS_TEST_TMPDIR/wrong" -cf "$BATS_TEST_TMPDIR/wrong.tar" .
  load_fails "$BATS_TEST_TMPDIR/wrong.tar" "the config's diff_id is"

  # a layer file the manifest names is missing
  unpack_archive missing
  layer=$(jq -r '.[0].Layers[1]' "$BATS_TEST_TMPDIR/missing/manifest.json")
  rm "$BATS_TEST_TMPDIR/missing/$layer"
  tar -C "$BATS_TEST_TMPDIR/missing" -cf "$BATS_TEST_TMPDIR/missing.tar" .
  load_fails "$BATS_TEST_TMPDIR/missing.tar" "is missing from the archive"

  # not an image archive at all
  tar -C "$FIX" -cf "$BATS_TEST_TMPDIR/notimage.tar" l2
  load_fails "$BATS_TEST_TMPDIR/notimage.tar" "not a docker or OCI image archive"

  # a layer with a path-traversal entry, with a config that matches it
  unpack_archive evil
  python3 - "$BATS_TEST_TMPDIR/evil" <<'EOF'
import hashlib, io, json, sys, tarfile
d = sys.argv[1]
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
    data = b"owned\n"
    for name in ("ok.txt", "../../../../../../tmp/berth-archive-evil"):
        ti = tarfile.TarInfo(name); ti.size = len(data)
        t.addfile(ti, io.BytesIO(data))
raw = buf.getvalue()
diff = "sha256:" + hashlib.sha256(raw).hexdigest()
m = json.load(open(f"{d}/manifest.json"))
open(f"{d}/evil.tar", "wb").write(raw)
cfg = json.load(open(f"{d}/{m[0]['Config']}"))
cfg["rootfs"]["diff_ids"].append(diff)
cb = json.dumps(cfg).encode()
ch = hashlib.sha256(cb).hexdigest()
open(f"{d}/{ch}.json", "wb").write(cb)
m[0]["Config"] = f"{ch}.json"
m[0]["Layers"].append("evil.tar")
m[0]["RepoTags"] = ["evil:1"]
json.dump(m, open(f"{d}/manifest.json", "w"))
EOF
  tar -C "$BATS_TEST_TMPDIR/evil" -cf "$BATS_TEST_TMPDIR/evil.tar" .
  load_fails "$BATS_TEST_TMPDIR/evil.tar" "evil"
  [ ! -e /tmp/berth-archive-evil ]

  # manifest.json pointing outside the archive
  unpack_archive escape
  jq -c '.[0].Layers[0] = "../../etc/passwd"' "$BATS_TEST_TMPDIR/escape/manifest.json" \
    > "$BATS_TEST_TMPDIR/m.json" && mv "$BATS_TEST_TMPDIR/m.json" "$BATS_TEST_TMPDIR/escape/manifest.json"
  tar -C "$BATS_TEST_TMPDIR/escape" -cf "$BATS_TEST_TMPDIR/escape.tar" .
  load_fails "$BATS_TEST_TMPDIR/escape.tar" "leads outside the archive"

  # empty input
  load_fails /dev/null "not a docker or OCI image archive"

  # the image we had is still whole
  [ "$(sqlite3 "$ROOT/berth.db" 'SELECT count(*) FROM images')" -eq 1 ]
}

@test "load, import: the vfs driver keeps the whole tree in each layer" {
  run b --storage-driver vfs load -i "$FIX/skopeo.tar"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  read -r d1 d2 <<< "$OCI_DIFFS"
  c2=sha256:$(printf '%s %s' "$d1" "$d2" | sha256sum | cut -d' ' -f1)
  [ "$(cat "$(layer_dir "$c2")/data/two.txt")" = "layer two" ]
  [ "$(cat "$(layer_dir "$c2")/etc/marker")" = "known content" ]
  run b --storage-driver vfs import "$FIX/rootfs.tar.gz" vfs:1
  [ "$status" -eq 0 ]
}
