#!/usr/bin/env bats
# A container's files from the outside: cp (both ways, tar streams, Docker's
# archive semantics, symlink escapes), diff, export, commit. The image is a
# busybox rootfs imported into a private store.

load helpers
bats_require_minimum_version 1.5.0

setup() {
  ROOT=$BATS_TEST_TMPDIR/root
  RUNROOT=$BATS_TEST_TMPDIR/run
  OUT=$BATS_TEST_TMPDIR/out
  mkdir -p "$OUT"
  ensure_busybox_rootfs
  tar -C "$BUSYBOX_ROOTFS" -cf - . | b import --change 'CMD ["sh"]' - bb:1 > /dev/null
}

teardown() {
  local id
  for id in $(b ps -aq --no-trunc 2>/dev/null); do
    b rm -f "$id" > /dev/null 2>&1 || true
  done
  rm -f /berth-fs-escape-test /tmp/berth-fs-escape-test
  store_reset
  ! grep -q "$BATS_TEST_TMPDIR" /proc/self/mountinfo || false
}

b() { "$BERTH" --root "$ROOT" --runroot "$RUNROOT" "$@"; }

# in_image IMAGE SCRIPT: run SCRIPT in a new container of IMAGE and print
# what it wrote, read back with cp from a file inside the container (so the
# check does not depend on run's output streaming, which is not this file's
# subject).
in_image() {
  local name=chk$RANDOM
  b run --name "$name" "$1" sh -c "($2) > /.out 2>&1" > /dev/null 2>&1 || true
  b cp "$name:/.out" - | tar -xOf -
  b rm "$name" > /dev/null
}

@test "cp from a stopped container: file, dir, dir/., into an existing dir, missing file" {
  b run --name ct bb:1 sh -c 'echo hello > /f; mkdir -p /d/e; echo deep > /d/e/g; chown 123:45 /d/e/g'
  b cp ct:/f "$OUT/copied"
  [ "$(cat "$OUT/copied")" = hello ]
  # an existing directory as DEST: copied into it under SRC's name
  b cp ct:/f "$OUT"
  [ "$(cat "$OUT/f")" = hello ]
  # a directory to a new name, and its contents with /.
  b cp ct:/d "$OUT/newdir"
  [ "$(cat "$OUT/newdir/e/g")" = deep ]
  mkdir "$OUT/into"
  b cp ct:/d/. "$OUT/into"
  [ "$(cat "$OUT/into/e/g")" = deep ]
  [ ! -e "$OUT/into/d" ]
  # ownership: the caller's without -a, the source's with it
  [ "$(stat -c %u:%g "$OUT/newdir/e/g")" = "$(id -u):$(id -g)" ]
  b cp -a ct:/d "$OUT/arch"
  [ "$(stat -c %u:%g "$OUT/arch/e/g")" = 123:45 ]
  run b cp ct:/nope "$OUT/x"
  [ "$status" -eq 1 ]
  [[ "$output" == *"Could not find the file /nope in container ct"* ]]
  run b cp ct:/d "$OUT/copied"
  [ "$status" -eq 1 ]
  [[ "$output" == *"cannot overwrite non-directory"* ]]
  # the rootfs of the stopped container was unmounted again
  ! grep -q "$RUNROOT" /proc/self/mountinfo
}

@test "cp into a container, then see the files from inside; - tar streams both ways" {
  b create --name ct bb:1 sh -c '(cat /in/host.txt /in/sub/s.txt /t/a/b.txt; stat -c %u /in/host.txt) > /.out 2>&1'
  mkdir -p "$OUT/src/sub"
  echo from-host > "$OUT/src/host.txt"
  echo sub > "$OUT/src/sub/s.txt"
  b cp "$OUT/src" ct:/in
  mkdir -p "$OUT/tar/a" && echo tarred > "$OUT/tar/a/b.txt"
  b run --rm bb:1 true
  tar -C "$OUT/tar" -cf - a | b cp - ct:/tmp
  run b cp - ct:/etc/passwd < /dev/null
  [ "$status" -eq 1 ]
  [[ "$output" == *"must be a directory"* ]]
  b cp ct:/tmp/a - > "$OUT/out.tar"
  [ "$(tar -tf "$OUT/out.tar" | sort | tr '\n' ' ')" = "a/ a/b.txt " ]
  run b cp ct:/tmp/a ct:/t
  [[ "$output" == *"copying between containers is not supported"* ]]
  b cp "$OUT/tar" ct:/t
  run b start -a ct
  [ "$status" -eq 0 ]
  b cp ct:/.out "$OUT/res"
  mapfile -t lines < "$OUT/res"
  [ "${lines[0]}" = from-host ]
  [ "${lines[1]}" = sub ]
  [ "${lines[2]}" = tarred ]
  [ "${lines[3]}" = 0 ]
}

@test "cp: symlinks in the container pointing at / or ../../.. never reach the host" {
  b run --name ct bb:1 sh -c 'ln -s / /abs; ln -s ../../../../.. /rel; mkdir /dir; ln -s /tmp /dir/tmplink'
  echo host-secret > /tmp/berth-fs-escape-test
  # reading through them resolves inside the container
  run b cp ct:/abs/tmp/berth-fs-escape-test "$OUT/r1"
  echo "$output"
  [ "$status" -eq 1 ]
  [[ "$output" == *"Could not find the file"* ]]
  run b cp ct:/rel/tmp/berth-fs-escape-test "$OUT/r2"
  [ "$status" -eq 1 ]
  [ ! -e "$OUT/r1" ] && [ ! -e "$OUT/r2" ]
  # -L follows the named symlink, but inside the container
  b cp -L ct:/abs/etc/passwd "$OUT/pw"
  cmp "$OUT/pw" "$BUSYBOX_ROOTFS/etc/passwd"
  # without -L the symlink itself is copied
  b cp ct:/abs "$OUT/abs"
  [ "$(readlink "$OUT/abs")" = / ]
  # writing through them lands inside the container, not on the host
  echo attack > "$OUT/berth-fs-escape-test"
  rm -f /tmp/berth-fs-escape-test
  b cp "$OUT/berth-fs-escape-test" ct:/abs/tmp/
  b cp "$OUT/berth-fs-escape-test" ct:/rel/
  b cp "$OUT/berth-fs-escape-test" ct:/dir/tmplink/
  tar -C "$OUT" -cf - berth-fs-escape-test | b cp - ct:/rel/tmp
  [ ! -e /tmp/berth-fs-escape-test ]
  [ ! -e /berth-fs-escape-test ]
  b cp ct:/tmp/berth-fs-escape-test "$OUT/back"
  [ "$(cat "$OUT/back")" = attack ]
  b cp ct:/berth-fs-escape-test "$OUT/back2"
  [ "$(cat "$OUT/back2")" = attack ]
}

@test "diff: A, C and D, sorted by path; berth's own /etc files left out" {
  b run --name ct bb:1 sh -c 'echo x >> /etc/passwd; rm /bin/ls; mkdir -p /new/sub; touch /new/sub/f'
  run b diff ct
  [ "$status" -eq 0 ]
  [ "$output" = "$(printf 'C /bin\nD /bin/ls\nC /etc\nC /etc/passwd\nA /new\nA /new/sub\nA /new/sub/f')" ]
  run b diff nope
  [ "$status" -eq 1 ]
  [[ "$output" == *"No such container: nope"* ]]
}

@test "export: the merged filesystem as a tar, on stdout or -o" {
  b run --name ct bb:1 sh -c 'echo exported > /marker; rm /bin/ls'
  b export ct > "$OUT/c.tar"
  tar -tf "$OUT/c.tar" > "$OUT/list"
  grep -qx marker "$OUT/list"
  grep -qx bin/busybox "$OUT/list"
  grep -qx etc/passwd "$OUT/list"
  ! grep -qx bin/ls "$OUT/list"
  b export -o "$OUT/o.tar" ct
  [ "$(tar -xOf "$OUT/o.tar" marker)" = exported ]
  ! grep -q "$RUNROOT" /proc/self/mountinfo
}

@test "commit: the new image runs with the change; -c CMD, -m, -a, a tag" {
  b run --name ct bb:1 sh -c 'echo committed > /hello; rm /bin/ls; mkdir /op; touch /op/old'
  run b commit -m "my message" -a "Me <me@x>" ct mine:1
  [ "$status" -eq 0 ]
  [[ "$output" =~ ^sha256:[0-9a-f]{64}$ ]]
  run in_image mine:1 'cat /hello; test -e /bin/ls && echo present || echo gone'
  [ "$output" = "$(printf 'committed\ngone')" ]
  run b image inspect -f '{{.Comment}}|{{.Author}}|{{len .RootFS.Layers}}' mine:1
  [ "$output" = "my message|Me <me@x>|2" ]
  # -c: the new image's CMD; commit of a committed image stacks layers;
  # an opaque directory (removed, made again) hides the lower one's files
  b run --name c2 mine:1 sh -c 'echo second > /second; rm -rf /op; mkdir /op; touch /op/new'
  run b commit -c 'CMD ["sh", "-c", "cat /second > /from-cmd"]' c2 mine:2
  [ "$status" -eq 0 ]
  b run --name c3 mine:2 > /dev/null
  [ "$(b cp c3:/from-cmd - | tar -xOf -)" = second ]
  run in_image mine:2 'cat /hello; busybox ls /op'
  [ "$output" = "$(printf 'committed\nnew')" ]
  run b commit -c 'BOGUS x' c2
  [ "$status" -eq 1 ]
  [[ "$output" == *"not a valid change command"* ]]
}

@test "commit of a running container (paused meanwhile) keeps it running" {
  b run -d --name ct bb:1 sh -c 'echo live > /live; exec sleep 1000'
  for _ in $(seq 50); do b cp ct:/live - > /dev/null 2>&1 && break; sleep 0.1; done
  run b commit ct live:1
  [ "$status" -eq 0 ]
  run b ps --format '{{.Status}}'
  [[ "$output" == Up* ]]
  [[ "$output" != *Paused* ]]
  run in_image live:1 'cat /live'
  [ "$output" = live ]
  # and cp works while it runs, leaving its rootfs mounted
  b cp ct:/live "$OUT/live"
  [ "$(cat "$OUT/live")" = live ]
  grep -q "$RUNROOT" /proc/self/mountinfo
}
