#!/usr/bin/env bats
# The local image commands as a Docker user drives them: images, tag, rmi,
# image inspect, inspect, history, image prune. Images get into a private
# store by `berth pull` from a loopback docker-registry.

load helpers
load registry-lib

setup_file() {
  registry_start plain
  setup_test_image "$REG/test/busybox:test" >&3
  # a second, one-layer image with other labels and a newer date
  local l=$REG_DIR/small
  mkdir -p "$l/etc" && echo small > "$l/etc/small"
  OCI_CREATED=2025-06-01T00:00:00Z OCI_LABELS='{"tier":"small"}' \
    make_oci_image "$REG_DIR/small-oci" v1 "$l"
  push_image "$REG_DIR/small-oci" "$REG/test/small:v1" v1
  export SMALL_CONFIG=$OCI_CONFIG_DIGEST
  export IMG=$REG/test/busybox:test SMALL=$REG/test/small:v1
  # the config digest of the test image (its image id)
  export IMG_ID
  IMG_ID=$(jq -r '.manifests[0].digest' "$TEST_IMAGE_OCI/index.json" | cut -d: -f2)
  IMG_ID=sha256:$(jq -r '.config.digest' "$TEST_IMAGE_OCI/blobs/sha256/$IMG_ID" | cut -d: -f2)
}

teardown_file() {
  registry_stop
}

setup() {
  ROOT=$BATS_TEST_TMPDIR/root
  RUNROOT=$BATS_TEST_TMPDIR/run
}

b() { "$BERTH" --root "$ROOT" --runroot "$RUNROOT" "$@"; }

pull() { b pull -q "$1" > /dev/null; }

@test "images: Docker's table, one row per tag, newest first" {
  pull "$IMG"
  pull "$SMALL"
  run b images
  [ "$status" -eq 0 ]
  [ "${#lines[@]}" -eq 3 ]
  # header: columns padded to the widest cell + 3, at least 10 wide
  [[ "${lines[0]}" =~ ^REPOSITORY\ +TAG\ +IMAGE\ ID\ +CREATED\ +SIZE$ ]]
  # the newer image (2025) comes first
  read -r repo tag id _ <<< "${lines[1]}"
  [ "$repo" = "$REG/test/small" ] && [ "$tag" = v1 ]
  [ "$id" = "${SMALL_CONFIG:7:12}" ]
  read -r repo tag id _ <<< "${lines[2]}"
  [ "$repo" = "$REG/test/busybox" ] && [ "$tag" = test ] && [ "$id" = "${IMG_ID:7:12}" ]
  [[ "${lines[2]}" =~ "years ago" ]]
  # column starts line up with the header's
  local col=${lines[0]%%TAG*}
  [ "${lines[1]:${#col}:2}" = v1 ]
}

@test "images: -q, --no-trunc, --format, --digests, a repository argument" {
  pull "$IMG"
  pull "$SMALL"
  run b images -q
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "${SMALL_CONFIG:7:12}" ] && [ "${lines[1]}" = "${IMG_ID:7:12}" ]
  run b images -q --no-trunc
  [ "${lines[1]}" = "$IMG_ID" ]
  run b images --format '{{.Repository}}:{{.Tag}}'
  [ "$output" = "$(printf '%s\n%s' "$SMALL" "$IMG")" ]
  run b images --format '{{json .}}' "$REG/test/busybox"
  [ "$status" -eq 0 ]
  [ "$(jq -r .ID <<< "$output")" = "${IMG_ID:7:12}" ]
  [ "$(jq -r .Digest <<< "$output")" = "<none>" ]
  run b images --digests --format '{{.Digest}}' "$IMG"
  [ "$output" = "$TEST_IMAGE_DIGEST" ]
  run b images --digests
  [[ "${lines[0]}" =~ ^REPOSITORY\ +TAG\ +DIGEST\ +IMAGE\ ID ]]
  # a repository that is not there: just the header
  run b images nothing/here
  [ "$status" -eq 0 ] && [ "${#lines[@]}" -eq 1 ]
}

@test "images: filters dangling, reference, label, before, since; a bad filter fails" {
  pull "$IMG"
  pull "$SMALL"
  run b images -q -f label=tier=small
  [ "$output" = "${SMALL_CONFIG:7:12}" ]
  run b images -q -f label=org.berth.test
  [ "$output" = "${IMG_ID:7:12}" ]
  run b images -q --filter "reference=*/test/busy*"
  [ "$output" = "${IMG_ID:7:12}" ]
  run b images -q -f "before=$SMALL"
  [ "$output" = "${IMG_ID:7:12}" ]
  run b images -q -f "since=$IMG"
  [ "$output" = "${SMALL_CONFIG:7:12}" ]
  run b images -q -f dangling=true
  [ "$status" -eq 0 ] && [ -z "$output" ]
  run b images -f bogus=1
  [ "$status" -eq 1 ]
  [[ "$output" =~ "Invalid filter 'bogus'" ]]
}

@test "tag, then rmi: untag semantics, conflicts, and what is left on disk" {
  pull "$IMG"
  run b tag "$IMG" mine/copy
  [ "$status" -eq 0 ]
  run b images --format '{{.Repository}}:{{.Tag}} {{.ID}}'
  [[ "$output" =~ "mine/copy:latest ${IMG_ID:7:12}" ]]
  [[ "$output" =~ "$IMG ${IMG_ID:7:12}" ]]
  # by id with two names: Docker refuses without -f
  run b rmi "${IMG_ID:7:12}"
  [ "$status" -eq 1 ]
  [[ "$output" =~ "must be forced" ]]
  # by name: only the name goes
  run b rmi mine/copy
  [ "$status" -eq 0 ]
  [ "$output" = "Untagged: mine/copy:latest" ]
  run b images -q
  [ "$output" = "${IMG_ID:7:12}" ]
  # the last name: the image and its layers and blobs go
  local layers_before
  layers_before=$(find "$ROOT/layers" -mindepth 1 -maxdepth 1 -name '[0-9a-f]*' | wc -l)
  [ "$layers_before" -eq 3 ]
  run b rmi "$IMG"
  [ "$status" -eq 0 ]
  [[ "${lines[0]}" = "Untagged: $IMG" ]]
  [[ "$output" =~ "Deleted: $IMG_ID" ]]
  [ "$(find "$ROOT/layers" -mindepth 1 -maxdepth 1 -name '[0-9a-f]*' | wc -l)" -eq 0 ]
  [ "$(find "$ROOT/blobs/sha256" -type f | wc -l)" -eq 0 ]
  run b images -q
  [ -z "$output" ]
}

@test "rmi: an unknown image fails with Docker's message and exit 1; the others still go" {
  pull "$SMALL"
  run b rmi nope:latest "$SMALL"
  [ "$status" -eq 1 ]
  [[ "$output" =~ "Error: No such image: nope:latest" ]]
  [[ "$output" =~ "Untagged: $SMALL" ]]
  run b images -q
  [ -z "$output" ]
}

@test "tag: errors for a missing source and a bad target; argument count" {
  pull "$SMALL"
  run b tag nope:1 x:y
  [ "$status" -eq 1 ]
  [[ "$output" =~ "No such image: nope:1" ]]
  run b tag "$SMALL" 'Bad:Name'
  [ "$status" -eq 1 ]
  [[ "$output" =~ "invalid reference format" ]]
  run b tag "$SMALL"
  [ "$status" -eq 1 ]
  [[ "$output" =~ "\"berth tag\" requires exactly 2 arguments." ]]
  run b images --bogus
  [ "$status" -eq 125 ]
  [[ "$output" =~ "unknown flag: --bogus" ]]
}

@test "image inspect: Docker's fields, -f templates, missing images" {
  pull "$IMG"
  run b image inspect "$IMG"
  [ "$status" -eq 0 ]
  [ "$(jq -r '.[0].Id' <<< "$output")" = "$IMG_ID" ]
  [ "$(jq -r '.[0].RepoTags[0]' <<< "$output")" = "$IMG" ]
  [ "$(jq -r '.[0].RepoDigests[0]' <<< "$output")" = "$REG/test/busybox@$TEST_IMAGE_DIGEST" ]
  [ "$(jq -r '.[0].RootFS.Layers | join(" ")' <<< "$output")" = "$TEST_IMAGE_DIFF_IDS" ]
  [ "$(jq -r '.[0].Config.Labels["org.berth.test"]' <<< "$output")" = setup_test_image ]
  [ "$(jq -r '.[0].Config.Cmd[0]' <<< "$output")" = sh ]
  [ "$(jq -r '.[0].Os' <<< "$output")" = linux ]
  [ "$(jq -r '.[0].Created' <<< "$output")" = 2024-01-01T00:00:00Z ]
  # the upper layer dir of GraphDriver exists on disk
  [ -d "$(jq -r '.[0].GraphDriver.Data.UpperDir // .[0].GraphDriver.Data.Dir' <<< "$output")" ]
  run b image inspect -f '{{.Id}} {{index .Config.Labels "org.berth.test"}} {{len .RootFS.Layers}}' "${IMG_ID:7:6}"
  [ "$status" -eq 0 ]
  [ "$output" = "$IMG_ID setup_test_image 3" ]
  run b inspect --format '{{json .Config.Cmd}}' "$IMG"
  [ "$output" = '["sh"]' ]
  run b image inspect nope
  [ "$status" -eq 1 ]
  [[ "$output" =~ "Error: No such image: nope" ]]
  [[ "$output" =~ "[]" ]]
  run b inspect nope
  [ "$status" -eq 1 ]
  [[ "$output" =~ "No such object: nope" ]]
}

@test "history: one row per history entry, newest first, sizes of the layers" {
  pull "$IMG"
  run b history "$IMG"
  [ "$status" -eq 0 ]
  [ "${#lines[@]}" -eq 4 ]
  [[ "${lines[0]}" =~ ^IMAGE\ +CREATED\ +CREATED\ BY\ +SIZE\ +COMMENT$ ]]
  [[ "${lines[1]}" =~ ^${IMG_ID:7:12}\ +[0-9]+\ years\ ago\ +berth-test\ make_oci_image:\ layer\ 3 ]]
  [[ "${lines[2]}" =~ ^\<missing\> ]]
  run b history --no-trunc --format '{{.ID}}|{{.CreatedBy}}' "$IMG"
  [ "${lines[0]}" = "$IMG_ID|berth-test make_oci_image: layer 3 from l3" ]
  [ "${lines[2]}" = "<missing>|berth-test make_oci_image: layer 1 from l1" ]
  # layer 2 holds the 1 MiB blob (and its hard link): about 1.05MB
  run b history -H=false --format '{{.Size}}' "$IMG"
  [ "${lines[1]}" -gt 1048576 ] && [ "${lines[1]}" -lt 1200000 ]
  run b history nope
  [ "$status" -eq 1 ]
}

@test "image prune: dangling images go, tagged stay; -a takes all; nothing to do is 0B" {
  pull "$IMG"
  pull "$SMALL"
  run b image prune -f
  [ "$status" -eq 0 ]
  [ "$output" = "Total reclaimed space: 0B" ]
  # retag busybox's name onto small: busybox becomes dangling
  b tag "$SMALL" "$IMG"
  run b images -q -f dangling=true
  [ "$output" = "${IMG_ID:7:12}" ]
  run b image prune -f
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "Deleted Images:" ]
  [[ "$output" =~ "deleted: $IMG_ID" ]]
  [[ "${lines[-1]}" =~ ^Total\ reclaimed\ space:\ [0-9.]+MB$ ]]
  # small now has two names: -q prints a line per row, as Docker does
  run b images -q
  [ "$output" = "$(printf '%s\n%s' "${SMALL_CONFIG:7:12}" "${SMALL_CONFIG:7:12}")" ]
  # without -f it asks; "n" keeps everything
  run b image prune -a <<< "n"
  [[ "$output" =~ "Are you sure you want to continue? [y/N]" ]]
  run b images --format '{{.Repository}}:{{.Tag}}'
  [ "${#lines[@]}" -eq 2 ]
  run b image prune -a -f
  [ "$status" -eq 0 ]
  [[ "$output" =~ "untagged: $SMALL" ]]
  run b images -q
  [ -z "$output" ]
  [ "$(find "$ROOT/blobs/sha256" -type f | wc -l)" -eq 0 ]
}
