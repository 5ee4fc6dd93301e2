#!/usr/bin/env bats
# The image store under stress: a pull killed at any point, a full disk, the
# storage drivers, relative --root. Each test checks what is left on disk.

load helpers
load registry-lib

setup_file() {
  registry_start plain
  setup_test_image "$REG/test/busybox:test" >&3
  # a bigger image, so that a kill lands while bytes are moving
  local l=$REG_DIR/big
  mkdir -p "$l/data"
  _reg_det_bytes $((24 << 20)) big-layer > "$l/data/big.bin"
  make_oci_image "$REG_DIR/big-oci" v1 "$REG_DIR/big"
  push_image "$REG_DIR/big-oci" "$REG/test/big:v1" v1
  export IMG=$REG/test/busybox:test BIG=$REG/test/big:v1
}

teardown_file() {
  registry_stop
}

setup() {
  ROOT=$BATS_TEST_TMPDIR/root
  RUNROOT=$BATS_TEST_TMPDIR/run
}

teardown() {
  if [ -n "${SMALLFS:-}" ] && mountpoint -q "$SMALLFS"; then
    umount "$SMALLFS"
  fi
}

b() { "$BERTH" --root "$ROOT" --runroot "$RUNROOT" "$@"; }

# Every layer directory under layers/ is complete (no temp dirs left once a
# berth command has opened the store) and the db names no missing layer or
# blob.
store_consistent() {
  local chain hex
  b images -q > /dev/null || return 1
  [ -z "$(find "$ROOT/layers/tmp" -mindepth 1 -maxdepth 1 2>/dev/null)" ] || {
    echo "temp layers left: $(ls "$ROOT/layers/tmp")"; return 1; }
  [ -z "$(find "$ROOT/blobs/tmp" -mindepth 1 -maxdepth 1 2>/dev/null)" ] || {
    echo "temp blobs left"; return 1; }
  for chain in $(sqlite3 "$ROOT/berth.db" 'SELECT chain_id FROM layers'); do
    hex=${chain#sha256:}
    [ -d "$ROOT/layers/$hex/diff" ] || { echo "db names missing layer $chain"; return 1; }
  done
  for hex in $(sqlite3 "$ROOT/berth.db" "SELECT substr(id, 8) FROM images"); do
    [ -f "$ROOT/blobs/sha256/$hex" ] || { echo "image without its config blob"; return 1; }
  done
}

@test "a pull killed with SIGKILL at any point leaves a consistent store; the next pull completes" {
  local delay pid
  for delay in 0.05 0.15 0.3 0.5 0.8 1.2; do
    # berth itself in the background, not a subshell around it
    "$BERTH" --root "$ROOT" --runroot "$RUNROOT" pull -q "$BIG" > /dev/null &
    pid=$!
    sleep "$delay"
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    run store_consistent
    [ "$status" -eq 0 ] || { echo "after a kill at ${delay}s: $output"; false; }
    # the image is either fully there or not there at all
    run b images -q
    [ -z "$output" ] || [ "$output" = "$(b image inspect -f '{{.Id}}' "$BIG" | cut -c8-19)" ]
    b rmi "$BIG" > /dev/null 2>&1 || true
  done
  run b pull "$BIG"
  [ "$status" -eq 0 ]
  store_consistent
  local chain
  chain=$(b image inspect -f '{{.GraphDriver.Data.UpperDir}}' "$BIG")
  [ "$(sha256sum < "$chain/data/big.bin")" = "$(_reg_det_bytes $((24 << 20)) big-layer | sha256sum)" ]
  [ -z "$(pgrep -f "$ROOT" || true)" ]
}

@test "a full disk: a clear error, and the store is as it was" {
  SMALLFS=$BATS_TEST_TMPDIR/small
  mkdir -p "$SMALLFS"
  mount -t tmpfs -o size=3m tmpfs "$SMALLFS"
  ROOT=$SMALLFS/root
  b images > /dev/null
  local before
  before=$(cd "$ROOT" && find . -path ./layers/locks -prune -o -print | grep -v 'berth.db' | sort)
  run b pull "$IMG"
  [ "$status" -eq 1 ]
  [[ "$output" =~ "no space left on device" ]]
  [[ "$output" =~ "$IMG" ]]
  [ "$(cd "$ROOT" && find . -path ./layers/locks -prune -o -print | grep -v 'berth.db' | sort)" = "$before" ]
  [ "$(sqlite3 "$ROOT/berth.db" 'SELECT count(*) FROM images')" -eq 0 ]
  [ "$(sqlite3 "$ROOT/berth.db" 'SELECT count(*) FROM layers')" -eq 0 ]
}

@test "storage drivers: vfs keeps whole trees, a store keeps its driver, bad names fail" {
  run b --storage-driver vfs pull -q "$IMG"
  [ "$status" -eq 0 ]
  local dir
  dir=$(b image inspect -f '{{.GraphDriver.Data.Dir}}' "$IMG")
  [ "$(b image inspect -f '{{.GraphDriver.Name}}' "$IMG")" = vfs ]
  # the top layer's tree has layer 1's busybox, layer 2's data, layer 3's changes
  [ -x "$dir/bin/busybox" ]
  [ "$(cat "$dir/data/hello.txt")" = "hello from berth" ]
  [ "$(cat "$dir/etc/motd")" = "layer 3" ]
  [ ! -e "$dir$TEST_IMAGE_DELETED" ] && [ ! -e "$dir$TEST_IMAGE_HIDDEN" ]
  [ -z "$(find "$dir" -name '.wh.*')" ]
  run b --storage-driver overlay images
  [ "$status" -eq 1 ]
  [[ "$output" =~ "uses storage driver 'vfs', not 'overlay'" ]]
  run b --storage-driver zfs images
  [ "$status" -eq 1 ]
  [[ "$output" =~ "unknown storage driver 'zfs'" ]]
}

@test "overlay: whiteouts become overlay markers; a relative --root works" {
  cd "$BATS_TEST_TMPDIR"
  run "$BERTH" --root rel-root --runroot rel-run pull -q "$IMG"
  [ "$status" -eq 0 ]
  ROOT=$BATS_TEST_TMPDIR/rel-root RUNROOT=$BATS_TEST_TMPDIR/rel-run
  local top
  top=$(b image inspect -f '{{.GraphDriver.Data.UpperDir}}' "$IMG")
  [[ "$top" = "$BATS_TEST_TMPDIR/rel-root/"* ]]
  # layer 3: /data/remove-me as a 0:0 character device, /data/opaque opaque
  [ "$(stat -c '%F %t:%T' "$top$TEST_IMAGE_DELETED")" = "character special file 0:0" ]
  [ "$(getfattr --only-values -n trusted.overlay.opaque "$top/data/opaque" 2>/dev/null)" = y ]
}

@test "six pulls of one image into a new store at once: all succeed, each blob and layer once" {
  local i pids=() failed=0
  for i in $(seq 1 6); do
    "$BERTH" --root "$ROOT" --runroot "$RUNROOT" pull -q "$IMG" > "$BATS_TEST_TMPDIR/out.$i" 2>&1 &
    pids+=($!)
  done
  for i in "${pids[@]}"; do
    wait "$i" || failed=$((failed + 1))
  done
  cat "$BATS_TEST_TMPDIR"/out.* >&2
  [ "$failed" -eq 0 ]
  [ "$(sqlite3 "$ROOT/berth.db" 'PRAGMA journal_mode')" = wal ]
  # 3 layer blobs, the config and the manifest; 3 layers; 1 image
  [ "$(find "$ROOT/blobs/sha256" -type f | wc -l)" -eq 5 ]
  [ "$(find "$ROOT/layers" -mindepth 1 -maxdepth 1 -name '[0-9a-f]*' | wc -l)" -eq 3 ]
  run b images -q
  [ "$output" = "$(b image inspect -f '{{.Id}}' "$IMG" | cut -c8-19)" ]
  store_consistent
}
