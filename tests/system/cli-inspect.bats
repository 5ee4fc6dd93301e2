#!/usr/bin/env bats
# `berth inspect` as Docker's generic inspect: containers, images, networks
# and volumes by name, --type to pick one kind, one JSON array for all
# arguments, "No such object" for a name nothing has, and --format per
# object. Also the prune prompt's answers ("y", "yes", any case).

load helpers
bats_require_minimum_version 1.5.0

setup() {
  ROOT=$BATS_TEST_TMPDIR/root
  RUNROOT=$BATS_TEST_TMPDIR/run
  ensure_busybox_rootfs
  tar -C "$BUSYBOX_ROOTFS" -cf - . | b import - bb:1 > /dev/null
}

teardown() {
  local id v
  for id in $(b ps -aq --no-trunc 2>/dev/null); do
    b rm -f "$id" > /dev/null 2>&1 || true
  done
  for v in $(b volume ls -q 2>/dev/null); do
    b volume rm -f "$v" > /dev/null 2>&1 || true
  done
  store_reset
  ! grep -q "$BATS_TEST_TMPDIR" /proc/self/mountinfo || false
}

b() { "$BERTH" --root "$ROOT" --runroot "$RUNROOT" "$@"; }

@test "inspect: every kind of object by name, in one array" {
  b volume create vol1 > /dev/null
  b create --name ctr1 bb:1 true > /dev/null
  run b inspect ctr1 bb:1 vol1 none
  [ "$status" -eq 0 ]
  [ "$(jq length <<< "$output")" -eq 4 ]
  [ "$(jq -r '.[0].Name' <<< "$output")" = /ctr1 ]
  [ "$(jq -r '.[1].RepoTags[0]' <<< "$output")" = bb:1 ]
  [ "$(jq -r '.[2].Mountpoint' <<< "$output")" = "$ROOT/volumes/vol1/_data" ]
  [ "$(jq -r '.[3].Driver' <<< "$output")" = null ]
  run b inspect -f '{{.Name}} {{.Driver}}' vol1
  [ "$status" -eq 0 ]
  [ "$output" = "vol1 local" ]
}

@test "inspect: --type picks the kind; unknown names and types are errors" {
  b volume create bb > /dev/null
  # an image and a volume share the name: the type decides
  run b inspect --type volume -f '{{.Name}}' bb
  [ "$status" -eq 0 ]
  [ "$output" = bb ]
  run b inspect --type image -f '{{index .RepoTags 0}}' bb:1
  [ "$output" = bb:1 ]
  run -1 b inspect nothing-here
  # Docker's: an empty array on stdout, the error on stderr
  [[ "$output" == *"[]"* ]]
  [[ "$output" == *"Error: No such object: nothing-here"* ]]
  run -1 b inspect --type volume nothing-here
  [[ "$output" == *"No such volume: nothing-here"* ]]
  run -1 b inspect --type network nothing-here
  [[ "$output" == *"network nothing-here not found"* ]]
  run -1 b inspect --type secret x
  [[ "$output" == *'"secret" is not a valid value for --type'* ]]
  # one good and one bad: the good one is printed, the exit code is 1
  run -1 b inspect --type volume bb nothing-here
  [[ "$output" == *'"Name": "bb"'* ]]
}

@test "prune prompt: y, yes and YES confirm; anything else keeps everything" {
  local answer
  for answer in n no "" x; do
    b volume create > /dev/null
    run b volume prune <<< "$answer"
    [ "$status" -eq 0 ]
    [ "$(b volume ls -q | wc -l)" -eq 1 ]
    b volume rm -f "$(b volume ls -q)" > /dev/null
  done
  for answer in y yes YES " Y "; do
    b volume create > /dev/null
    run b volume prune <<< "$answer"
    [ "$status" -eq 0 ]
    [[ "$output" == *"Deleted Volumes:"* ]]
    [ "$(b volume ls -q | wc -l)" -eq 0 ]
  done
}

@test "version: Docker's Client/Server layout, --format over the same document" {
  run b version
  [ "$status" -eq 0 ]
  [[ "$output" == "Client:"* ]]
  [[ "$output" == *" API version:       1.41"* ]]
  [[ "$output" == *"Server: berth (no daemon"* ]]
  run b version --format '{{.Client.ApiVersion}} {{.Server.Os}}'
  [ "$status" -eq 0 ]
  [ "$output" = "1.41 linux" ]
  run -125 b version --bogus
}

@test "system reset: the store's containers, volumes, networks, images and files go, host side too" {
  b volume create keep > /dev/null
  b network create --subnet 10.213.250.0/24 rnet > /dev/null
  br="br-$(b network inspect -f '{{.Id}}' rnet | cut -c1-12)"
  b run -d --name r1 --network rnet -v keep:/data bb:1 sleep 1000 > /dev/null
  b run -d --name r2 bb:1 sleep 1000 > /dev/null
  ip link show "$br" > /dev/null
  run b system reset <<< n
  [ "$status" -eq 0 ]
  [ "$(b ps -q | wc -l)" -eq 2 ] # refused at the prompt: nothing changed
  run b system reset -f
  [ "$status" -eq 0 ]
  # nothing of the store is left: its files, its bridges
  [ -z "$(ls -A "$ROOT")" ]
  ! ip link show "$br" > /dev/null 2>&1 || false
  ! ip link show "berth-$(printf %s "$ROOT" | sha256sum | cut -c1-8)" > /dev/null 2>&1 || false
  ! grep -q "$BATS_TEST_TMPDIR" /proc/self/mountinfo || false
  # and it is an empty store again
  [ -z "$(b ps -aq)" ]
  [ -z "$(b volume ls -q)" ]
  [ -z "$(b images -q)" ]
  [ "$(b network ls -q | wc -l)" -eq 3 ]
}
