#!/usr/bin/env bats
# The store under concurrent and hostile use (issue 3, review findings): a
# failed pull never deletes blobs another pull uses (the store's GC lock),
# prune collects what failures leave, a record whose config blob is gone
# still lists and goes, two loads of the same images in opposite orders
# both finish, a load of an archive full of unused metadata stays in
# bounded memory, a push of a loaded image and a save of it run together,
# and a pull into an unusable --root exits 1. Private stores under the
# test's temp dir; the registry is loopback only (store-safety-lib.py).

load helpers
load registry-lib

LIB_PY=$BATS_TEST_DIRNAME/store-safety-lib.py

setup() {
  T=$BATS_TEST_TMPDIR
  export BERTH_CONFIG=$T/cfg HOME=$T/home
  mkdir -p "$HOME"
  unset BERTH_REGISTRY_SECURE_LOOPBACK
  export BERTH_REGISTRY_TIMEOUT=10
  PIDS=()
}

teardown() {
  local p
  for p in "${PIDS[@]}"; do
    kill "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  for d in ${OWN_REGS:-}; do registry_stop "$d"; done
}

b() { "$BERTH" --root "$T/root" --runroot "$T/run" "$@"; }

start_race_registry() {
  local pf=$T/race.port
  python3 "$LIB_PY" registry --port-file "$pf" --lifetime 120 > "$T/race.out" 2>&1 3>&- < /dev/null &
  PIDS+=($!)
  for _ in $(seq 1 200); do [ -s "$pf" ] && break; sleep 0.05; done
  [ -s "$pf" ] || { cat "$T/race.out"; false; }
  RACE=127.0.0.1:$(cat "$pf")
}

blobs() { ls "$T/root/blobs/sha256" | LC_ALL=C sort; }

@test "a failed pull leaves the blobs a concurrent pull of the same image uses" {
  start_race_registry
  # a: manifest and config at once, its layer 404s after 1.5 s; b starts
  # 0.5 s later, finds the config a stored, and finishes after a failed.
  b pull -q "$RACE/race/a" > "$T/a.out" 2>&1 &
  local pa=$!
  sleep 0.5
  b pull -q "$RACE/race/b" > "$T/b.out" 2>&1 &
  local pb=$!
  local sa=0 sb=0
  wait "$pa" || sa=$?
  wait "$pb" || sb=$?
  cat "$T/a.out" "$T/b.out"
  [ "$sa" -eq 1 ]
  [ "$sb" -eq 0 ]
  run b images --format '{{.Repository}}:{{.Tag}}'
  echo "$output"
  [ "$status" -eq 0 ]
  [ "$output" = "$RACE/race/b:latest" ]
  # the config blob b's image is: present, inspect works
  run b image inspect --format '{{.Config.Labels.image}}' "$RACE/race/b"
  echo "$output"
  [ "$status" -eq 0 ]
  [ "$output" = "one" ]
  local id
  id=$(b image inspect --format '{{.Id}}' "$RACE/race/b")
  [ -f "$T/root/blobs/sha256/${id#sha256:}" ]
  # and a fresh pull of it is up to date, a removal works
  run b rmi "$RACE/race/b"
  [ "$status" -eq 0 ]
  [ -z "$(blobs)" ]
}

@test "a failed pull while another operation runs leaves garbage that prune removes" {
  start_race_registry
  mkdir -p "$T/root"
  b images > /dev/null
  # someone holds the GC lock shared (as a running pull or load does) for
  # as long as the failing pull runs
  flock -s "$T/root/gc.lock" sleep 3 &
  local pl=$!
  sleep 0.2
  run b pull -q "$RACE/race/a"
  echo "$output"
  [ "$status" -eq 1 ]
  wait "$pl" || true
  # manifest and config of the failed pull stay: while the lock was held
  # nobody could tell they were garbage
  [ "$(blobs | wc -l)" -eq 2 ]
  # another image; prune must keep it and take the garbage
  run b pull -q "$RACE/race/slow"
  [ "$status" -eq 0 ]
  [ "$(blobs | wc -l)" -eq 5 ]
  run b image prune -f
  echo "$output"
  [ "$status" -eq 0 ]
  [ "$(blobs | wc -l)" -eq 3 ]
  run b images --format '{{.Repository}}'
  [ "$output" = "$RACE/race/slow" ]
  run b image inspect "$RACE/race/slow"
  [ "$status" -eq 0 ]
  local id
  id=$(b image inspect --format '{{.Id}}' "$RACE/race/slow")
  [ -f "$T/root/blobs/sha256/${id#sha256:}" ]
}

@test "an image whose config blob is missing still lists and rmi -f removes it" {
  python3 "$LIB_PY" archive "$T/x.tar" example.com/x:1
  run b load -i "$T/x.tar"
  [ "$status" -eq 0 ]
  local id
  id=$(b images -q --no-trunc)
  rm "$T/root/blobs/sha256/${id#sha256:}"
  run b images --format '{{.ID}} {{.Repository}}:{{.Tag}}'
  echo "$output"
  [ "$status" -eq 0 ]
  [ "$output" = "${id:7:12} example.com/x:1" ]
  run b rmi -f "${id:7:12}"
  echo "$output"
  [ "$status" -eq 0 ]
  [[ "$output" == *"Deleted: $id"* ]]
  run b images -q
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  run b image prune -f
  [ "$status" -eq 0 ]
}

@test "two loads of the same images in opposite orders both finish" {
  python3 "$LIB_PY" archive "$T/xy.tar" example.com/x:1,example.com/y:1 --layers 3 --mb 4
  python3 "$LIB_PY" archive "$T/yx.tar" example.com/y:1,example.com/x:1 --layers 3 --mb 4
  local i s1 s2
  for i in $(seq 1 8); do
    rm -rf "$T/root" "$T/run"
    timeout 60 "$BERTH" --root "$T/root" --runroot "$T/run" load -q -i "$T/xy.tar" > "$T/1.out" 2>&1 &
    local p1=$!
    timeout 60 "$BERTH" --root "$T/root" --runroot "$T/run" load -q -i "$T/yx.tar" > "$T/2.out" 2>&1 &
    local p2=$!
    s1=0 s2=0
    wait "$p1" || s1=$?
    wait "$p2" || s2=$?
    cat "$T/1.out" "$T/2.out"
    [ "$s1" -eq 0 ]
    [ "$s2" -eq 0 ]
    [ "$(b images -q | wc -l)" -eq 2 ]
  done
}

@test "a load of many big unused metadata entries runs in bounded memory" {
  # 60 legacy <n>/json entries of 8 MiB (480 MiB, a few hundred KiB of
  # gzip) next to a small image
  python3 "$LIB_PY" archive "$T/junk.tar.gz" example.com/x:1 --junk 60
  [ "$(stat -c %s "$T/junk.tar.gz")" -lt $((4 << 20)) ]
  run bash -c 'ulimit -v 307200; exec "$@"' - "$BERTH" --root "$T/root" --runroot "$T/run" \
    load -i "$T/junk.tar.gz"
  echo "$output"
  [ "$status" -eq 0 ]
  [[ "$output" == *"Loaded image: example.com/x:1"* ]]
  # nothing of the junk was stored: the image's two blobs only
  [ "$(blobs | wc -l)" -eq 2 ]
}

@test "a push of a loaded image while a save of it runs: both succeed" {
  registry_start plain
  OWN_REGS="$REG_DIR"
  local reg=$REG
  # big plain layers: the push gzips them, the save reads them meanwhile
  python3 "$LIB_PY" archive "$T/big.tar" "$reg/team/app:1" --layers 2 --mb 24
  run b load -q -i "$T/big.tar"
  [ "$status" -eq 0 ]
  # the save starts first and stalls on a slow reader (it has read the
  # image record naming the plain blobs); the push compresses the layers
  # meanwhile; then the save goes on to open the other layer's blob
  (set -o pipefail; b save "$reg/team/app:1" 2> "$T/save.out" |
    { sleep 4; cat > "$T/saved.tar"; }) &
  local ps=$!
  sleep 0.5
  local ss=0 sp=0
  b push "$reg/team/app:1" > "$T/push.out" 2>&1 || sp=$?
  wait "$ps" || ss=$?
  cat "$T/push.out" "$T/save.out"
  [ "$sp" -eq 0 ]
  [ "$ss" -eq 0 ]
  # the saved archive loads into a fresh store as the same image
  run "$BERTH" --root "$T/root2" --runroot "$T/run2" load -q -i "$T/saved.tar"
  echo "$output"
  [ "$status" -eq 0 ]
  # a second save after the push still finds every blob
  run b save -o "$T/saved2.tar" "$reg/team/app:1"
  [ "$status" -eq 0 ]
}

@test "a pull into an unusable --root exits 1" {
  touch "$T/notadir"
  run "$BERTH" --root "$T/notadir" --runroot "$T/run" pull 127.0.0.1:1/x/y
  echo "$output"
  [ "$status" -eq 1 ]
  [[ "$output" == *"Error:"* ]]
}
