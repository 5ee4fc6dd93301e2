#!/usr/bin/env bats
# Volumes, binds and tmpfs in containers, as a Docker user writes them:
# named volumes that outlive containers, shared volumes, copy-up from the
# image, -v and --mount with Docker's differences, --tmpfs, --volumes-from,
# image VOLUMEs as anonymous volumes (rm -v, --rm), inspect's Mounts, the
# escape attacks (VOLUME traversal, mount destination swap: CVE-2022-23648,
# CVE-2021-30465) and bad input. Each test uses a private store; nothing
# may stay mounted after it.

load helpers
bats_require_minimum_version 1.5.0

setup() {
  ROOT=$BATS_TEST_TMPDIR/root
  RUNROOT=$BATS_TEST_TMPDIR/run
  ensure_busybox_rootfs
  tar -C "$BUSYBOX_ROOTFS" -cf - . | b import --change 'CMD ["sh"]' - bb:1 > /dev/null
}

teardown() {
  local id v
  for id in $(b ps -aq --no-trunc 2>/dev/null); do
    b rm -f "$id" > /dev/null 2>&1 || true
  done
  # Kill what a test left in the background (the swap loop).
  [ -z "${BG_PID:-}" ] || kill "$BG_PID" 2>/dev/null || true
  for v in $(vols); do
    b volume rm -f "$v" > /dev/null 2>&1 || true
  done
  store_reset
  ! grep -q "$BATS_TEST_TMPDIR" /proc/self/mountinfo || false
}

b() { "$BERTH" --root "$ROOT" --runroot "$RUNROOT" "$@"; }

# Volume names, from the store's layout (volumes.h: <root>/volumes/<name>/).
vols() {
  local d
  [ -d "$ROOT/volumes" ] || return 0
  for d in "$ROOT"/volumes/*/; do
    [ -d "$d" ] && basename "$d"
  done | sort
}

# An image whose /srv/app has odd owners and modes, a setuid file, a
# hardlink, a symlink and an xattr; VOLUME /srv/app.
make_odd_image() {
  local r=$BATS_TEST_TMPDIR/oddroot
  cp -a "$BUSYBOX_ROOTFS" "$r"
  mkdir -p "$r/srv/app/sub"
  echo data > "$r/srv/app/file"
  ln "$r/srv/app/file" "$r/srv/app/hard"
  ln -s file "$r/srv/app/link"
  echo tool > "$r/srv/app/suid"
  setfattr -n user.origin -v image "$r/srv/app/file"
  chown -R 1234:5678 "$r/srv/app"
  chmod 0750 "$r/srv/app"
  chmod 4755 "$r/srv/app/suid"
  tar -C "$r" --xattrs --xattrs-include='*' -cf - . |
    b import --change 'VOLUME ["/srv/app"]' --change 'CMD ["sh"]' - odd:1 > /dev/null
}

@test "named volume: data outlives the container (database style)" {
  run b run --name db1 -v dbdata:/var/lib/db bb:1 sh -c 'echo row1 > /var/lib/db/table; sync'
  [ "$status" -eq 0 ]
  run b rm db1
  [ "$status" -eq 0 ]
  [ "$(vols)" = dbdata ]
  run b run --rm -v dbdata:/var/lib/db bb:1 cat /var/lib/db/table
  [ "$status" -eq 0 ]
  [ "$output" = row1 ]
  # removed with -v: a named volume stays
  b create --name db2 -v dbdata:/var/lib/db bb:1 > /dev/null
  run b rm -v db2
  [ "$status" -eq 0 ]
  [ "$(vols)" = dbdata ]
}

@test "two running containers share a volume" {
  b run -d --name writer -v shared:/s bb:1 sh -c 'i=0; while :; do i=$((i+1)); echo $i > /s/n.tmp; mv /s/n.tmp /s/n; sleep 0.1; done' > /dev/null
  b run -d --name reader -v shared:/s bb:1 sleep 60 > /dev/null
  local a b2
  sleep 1
  a=$(b exec reader cat /s/n)
  sleep 1
  b2=$(b exec reader cat /s/n)
  [ -n "$a" ]
  [ "$b2" -gt "$a" ]
  run b rm -f writer reader
  [ "$status" -eq 0 ]
}

@test "copy-up: an empty volume gets the image's directory, owners, modes and links kept" {
  make_odd_image
  run b run --rm -v appdata:/srv/app odd:1 sh -c 'stat -c "%u:%g %a" /srv/app /srv/app/suid; cat /srv/app/link'
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "1234:5678 750" ]
  [ "${lines[1]}" = "1234:5678 4755" ]
  [ "${lines[2]}" = data ]
  local d=$ROOT/volumes/appdata/_data
  [ "$(stat -c '%u:%g %a' "$d")" = "1234:5678 750" ]
  [ "$(stat -c '%i' "$d/file")" = "$(stat -c '%i' "$d/hard")" ]
  [ "$(readlink "$d/link")" = file ]
  [ -d "$d/sub" ]
  [ "$(getfattr --only-values -n user.origin "$d/file")" = image ]
}

@test "copy-up only into an empty volume; nocopy and volume-nocopy skip it" {
  make_odd_image
  b run --rm -v full:/x bb:1 sh -c 'echo mine > /x/own' > /dev/null
  run b run --rm -v full:/srv/app odd:1 ls /srv/app
  [ "$status" -eq 0 ]
  [ "$output" = own ]
  run b run --rm -v empty1:/srv/app:nocopy odd:1 ls -A /srv/app
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  run b run --rm --mount type=volume,source=empty2,target=/srv/app,volume-nocopy odd:1 ls -A /srv/app
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  [ -z "$(ls -A "$ROOT/volumes/empty1/_data")" ]
  # never for binds: the host directory is mounted as it is
  mkdir "$BATS_TEST_TMPDIR/hostdir"
  run b run --rm -v "$BATS_TEST_TMPDIR/hostdir:/srv/app" odd:1 ls -A /srv/app
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  [ -z "$(ls -A "$BATS_TEST_TMPDIR/hostdir")" ]
}

@test "-v and --mount: read-only both ways; a missing bind source is made by -v, refused by --mount" {
  mkdir "$BATS_TEST_TMPDIR/src"
  run b run --rm -v "$BATS_TEST_TMPDIR/src:/m:ro" bb:1 touch /m/x
  [ "$status" -ne 0 ]
  [[ "$output" =~ "Read-only file system" ]]
  run b run --rm --mount "type=bind,source=$BATS_TEST_TMPDIR/src,target=/m,readonly" bb:1 touch /m/x
  [ "$status" -ne 0 ]
  [[ "$output" =~ "Read-only file system" ]]
  run b run --rm -v rov:/m:ro bb:1 touch /m/x
  [ "$status" -ne 0 ]
  run b run --rm --mount type=volume,source=rov,target=/m,ro bb:1 touch /m/x
  [ "$status" -ne 0 ]
  run b run --rm -v "$BATS_TEST_TMPDIR/src:/m" bb:1 sh -c 'echo w > /m/x'
  [ "$status" -eq 0 ]
  [ "$(cat "$BATS_TEST_TMPDIR/src/x")" = w ]

  run b run --rm -v "$BATS_TEST_TMPDIR/made/by/v:/m" bb:1 true
  [ "$status" -eq 0 ]
  [ -d "$BATS_TEST_TMPDIR/made/by/v" ]
  run -125 b run --rm --mount "type=bind,source=$BATS_TEST_TMPDIR/not/there,target=/m" bb:1 true
  [[ "$output" =~ "invalid mount config for type \"bind\": bind source path does not exist: $BATS_TEST_TMPDIR/not/there" ]]
  [ ! -e "$BATS_TEST_TMPDIR/not" ]
  [ -z "$(b ps -aq)" ]
}

@test "--tmpfs and --mount type=tmpfs: size and mode visible inside" {
  run b run --rm --tmpfs /t1:size=2m,mode=1770 --mount type=tmpfs,target=/t2,tmpfs-size=3m,tmpfs-mode=0700 bb:1 sh -c 'grep -E " /t[12] " /proc/mounts; stat -c "%n %a" /t1 /t2'
  [ "$status" -eq 0 ]
  [[ "$output" =~ "tmpfs /t1 tmpfs rw,nosuid,nodev,noexec,relatime,size=2048k,mode=1770" ]]
  [[ "$output" =~ "tmpfs /t2 tmpfs rw,nosuid,nodev,noexec,relatime,size=3072k,mode=700" ]]
  [[ "$output" =~ "/t1 1770" ]]
  [[ "$output" =~ "/t2 700" ]]
  [ -z "$(vols)" ]
}

@test "--volumes-from: the volumes and binds of another container, :ro refuses writes" {
  mkdir "$BATS_TEST_TMPDIR/b"
  b create --name src -v vf:/data -v "$BATS_TEST_TMPDIR/b:/bind" -v /anon bb:1 > /dev/null
  run b run --rm --volumes-from src bb:1 sh -c 'echo a > /data/f && echo b > /bind/f && echo c > /anon/f && cat /data/f /bind/f /anon/f'
  [ "$status" -eq 0 ]
  [ "$output" = "$(printf 'a\nb\nc')" ]
  run b run --rm --volumes-from src:ro bb:1 sh -c 'cat /data/f; echo x > /data/g'
  [ "$status" -ne 0 ]
  [[ "$output" =~ "a" ]]
  [[ "$output" =~ "Read-only file system" ]]
  [ ! -e "$ROOT/volumes/vf/_data/g" ]
  # --rm of the borrower kept src's anonymous volume: src still uses it
  [ "$(vols | wc -l)" -eq 2 ]
  run -125 b run --rm --volumes-from nosuch bb:1 true
  [[ "$output" =~ "No such container: nosuch" ]]
}

@test "image VOLUME: an anonymous volume, listed, removed by rm -v and by --rm; named ones stay" {
  make_odd_image
  b create --name a1 odd:1 > /dev/null
  local anon
  anon=$(vols)
  [ "${#anon}" -eq 64 ]
  run b volume ls -q
  [ "$status" -eq 0 ]
  [ "$output" = "$anon" ]
  run b rm -v a1
  [ "$status" -eq 0 ]
  [ -z "$(vols)" ]
  # rm without -v keeps it
  b create --name a2 odd:1 > /dev/null
  b rm a2 > /dev/null
  [ -n "$(vols)" ]
  b volume rm -f "$(vols)" > /dev/null
  # --rm removes it when the container exits, the named one stays
  run b run --rm -v keepme:/keep odd:1 ls /srv/app
  [ "$status" -eq 0 ]
  [[ "$output" =~ "suid" ]]
  [ "$(vols)" = keepme ]
  # -v over the VOLUME's place: no anonymous volume for it
  b create --name a3 -v named3:/srv/app odd:1 > /dev/null
  [ "$(vols)" = "$(printf 'keepme\nnamed3')" ]
}

@test "inspect: Mounts in Docker's shape, HostConfig as given" {
  mkdir "$BATS_TEST_TMPDIR/h"
  b create --name i1 -v iv:/data -v "$BATS_TEST_TMPDIR/h:/h:ro" -v /anon --mount type=tmpfs,target=/t bb:1 > /dev/null
  run b inspect -f '{{json .Mounts}}' i1
  [ "$status" -eq 0 ]
  local m=$output anon
  anon=$(vols | grep -v '^iv$')
  run jq -c 'sort_by(.Destination)' <<< "$m"
  [ "$output" = "[{\"Type\":\"volume\",\"Name\":\"$anon\",\"Source\":\"$ROOT/volumes/$anon/_data\",\"Destination\":\"/anon\",\"Driver\":\"local\",\"Mode\":\"\",\"RW\":true,\"Propagation\":\"\"},{\"Type\":\"volume\",\"Name\":\"iv\",\"Source\":\"$ROOT/volumes/iv/_data\",\"Destination\":\"/data\",\"Driver\":\"local\",\"Mode\":\"z\",\"RW\":true,\"Propagation\":\"\"},{\"Type\":\"bind\",\"Source\":\"$BATS_TEST_TMPDIR/h\",\"Destination\":\"/h\",\"Mode\":\"ro\",\"RW\":false,\"Propagation\":\"rprivate\"},{\"Type\":\"tmpfs\",\"Source\":\"\",\"Destination\":\"/t\",\"Mode\":\"\",\"RW\":true,\"Propagation\":\"\"}]" ]
  run b inspect -f '{{json .HostConfig.Binds}}' i1
  [ "$output" = "[\"iv:/data\",\"$BATS_TEST_TMPDIR/h:/h:ro\"]" ]
}

@test "attack: a VOLUME with ../ traversal stays inside the rootfs (CVE-2022-23648)" {
  local victim=$BATS_TEST_TMPDIR/victim
  mkdir "$victim"
  echo orig > "$victim/keep"
  tar -C "$BUSYBOX_ROOTFS" -cf - . |
    b import --change "VOLUME [\"../../../../../../..$victim\"]" --change 'CMD ["sh"]' - trav:1 > /dev/null
  run b run --rm trav:1 sh -c "echo pwned > $victim/keep; echo pwned > $victim/new; grep -c ' $victim ' /proc/mounts"
  [ "$status" -eq 0 ]
  [ "$output" = 1 ]
  [ "$(cat "$victim/keep")" = orig ]
  [ ! -e "$victim/new" ]
  # the same through a symlink in the image pointing out of the root
  local r=$BATS_TEST_TMPDIR/symroot
  cp -a "$BUSYBOX_ROOTFS" "$r"
  ln -s "../../../../../../../..$victim" "$r/data"
  tar -C "$r" -cf - . | b import --change 'VOLUME ["/data"]' --change 'CMD ["sh"]' - sym:1 > /dev/null
  run b run --rm sym:1 sh -c 'echo pwned > /data/new; cat /data/new'
  [ "$status" -eq 0 ]
  [ "$output" = pwned ]
  [ ! -e "$victim/new" ]
  [ "$(cat "$victim/keep")" = orig ]
  [ -z "$(vols)" ]
}

@test "attack: a shared volume swapping a mount destination for a symlink (CVE-2021-30465)" {
  local victim=$BATS_TEST_TMPDIR/victim
  mkdir "$victim"
  echo orig > "$victim/keep"
  # Static: the destination /mnt/sub is, in the shared volume, a symlink
  # aimed at the host directory.
  b run --rm -v shared:/share bb:1 ln -s "/../../../../../../..$victim" /share/sub
  run b run --rm -v shared:/mnt -v other:/mnt/sub bb:1 sh -c 'echo in > /mnt/sub/f'
  [ "$status" -eq 0 ]
  [ ! -e "$victim/f" ]
  [ "$(cat "$ROOT/volumes/other/_data/f")" = in ]
  # Racing: another container flips it between a directory and the symlink
  # while containers start.
  b run -d --name flipper -v shared:/share bb:1 sh -c "while :; do rm -rf /share/sub; mkdir /share/sub; rm -rf /share/sub; ln -s /../../../../../../..$victim /share/sub; done" > /dev/null
  local i
  for i in 1 2 3 4 5 6 7 8; do
    b run --rm -v shared:/mnt -v other:/mnt/sub bb:1 sh -c 'echo race > /mnt/sub/r' > /dev/null 2>&1 || true
    ! grep -q " $victim " /proc/self/mountinfo || false
  done
  b rm -f flipper > /dev/null
  [ ! -e "$victim/r" ]
  [ ! -e "$victim/f" ]
  [ "$(ls "$victim")" = keep ]
  [ "$(cat "$victim/keep")" = orig ]
}

@test "bad input: Docker's errors, exit 125, no container and no volume left" {
  mkdir -p "$BATS_TEST_TMPDIR/d"
  local spec
  run -125 b run --rm -v 'a:b:c:d' bb:1 true
  [[ "$output" =~ "invalid volume specification: 'a:b:c:d'" ]]
  run -125 b run --rm -v 'vol:/x:bogus' bb:1 true
  [[ "$output" =~ "invalid mode: bogus" ]]
  run -125 b run --rm -v 'rel/dir:/x' bb:1 true
  [[ "$output" =~ "\"rel/dir\" includes invalid characters for a local volume name" ]]
  run -125 b run --rm -v 'vol:rel' bb:1 true
  [[ "$output" =~ "mount path must be absolute" ]]
  run -125 b run --rm --mount 'type=bind,source=rel,target=/x' bb:1 true
  [[ "$output" =~ "invalid mount config for type \"bind\": invalid mount path: 'rel' mount path must be absolute" ]]
  run -125 b run --rm --mount 'type=volume,target=/x,bogus=1' bb:1 true
  [[ "$output" =~ "unexpected key 'bogus'" ]]
  run -125 b run --rm --mount 'type=nope,target=/x' bb:1 true
  [[ "$output" =~ "mount type unknown" ]]
  run -125 b run --rm --mount 'type=bind,target=/x' bb:1 true
  [[ "$output" =~ "field Source must not be empty" ]]
  run -125 b run --rm --mount 'type=volume,source=v1' bb:1 true
  [[ "$output" =~ "target is required" ]]
  run -125 b run --rm -v v1:/x -v v2:/x bb:1 true
  [[ "$output" =~ "Duplicate mount point: /x" ]]
  run -125 b run --rm -v v1:/x --mount type=volume,source=v3,target=/x/ bb:1 true
  [[ "$output" =~ "Duplicate mount point: /x" ]]
  run -125 b run --rm --mount type=volume,target=/y -v "$BATS_TEST_TMPDIR/d:/y" bb:1 true
  [[ "$output" =~ "Duplicate mount point: /y" ]]
  run -125 b create --name bad1 -v v4:/x -v v5:/x bb:1 true
  [[ "$output" =~ "Duplicate mount point: /x" ]]
  run -125 b run --rm -v okvol:/a --mount type=volume,source=v6,target=/x,volume-driver=nodriver bb:1 true
  [[ "$output" =~ "plugin \"nodriver\" not found" ]]
  [ -z "$(b ps -aq)" ]
  [ -z "$(vols)" ]
  [ -z "$(ls "$ROOT/containers")" ]
}
