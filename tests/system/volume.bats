#!/usr/bin/env bats
# `berth volume`: create, ls, inspect, rm, prune with Docker's output and
# messages; tmpfs- and bind-backed volumes; export -> rm -> import keeps
# the tree (contents, owners, modes, xattrs, hardlinks, symlinks); escaping
# archives are refused and change nothing; bad input.

load helpers
bats_require_minimum_version 1.5.0

setup() {
  ROOT=$BATS_TEST_TMPDIR/root
  RUNROOT=$BATS_TEST_TMPDIR/run
  OUT=$BATS_TEST_TMPDIR/out
  mkdir -p "$OUT"
}

teardown() {
  local id v
  for id in $(b ps -aq --no-trunc 2>/dev/null); do
    b rm -f "$id" > /dev/null 2>&1 || true
  done
  for v in $(b volume ls -q 2>/dev/null); do
    b volume rm -f "$v" > /dev/null 2>&1 || true
  done
  rm -f /tmp/berth-vol-escape-test
  # every tmpfs and bind volume was unmounted by rm
  store_reset
  ! grep -q "$BATS_TEST_TMPDIR" /proc/self/mountinfo || false
}

b() { "$BERTH" --root "$ROOT" --runroot "$RUNROOT" "$@"; }

# tree_sum DIR: one line per entry: type, mode, owner, size, content hash,
# link target, user xattrs, and the inode's link count.
tree_sum() {
  (cd "$1" && find . -mindepth 1 | LC_ALL=C sort | while read -r p; do
    printf '%s %s ' "$p" "$(stat -c '%F %a %u:%g %h' "$p")"
    if [ -L "$p" ]; then readlink "$p"
    elif [ -f "$p" ]; then sha256sum < "$p" | cut -c1-16
    else echo; fi
    getfattr -h -d -m '^user\.' --absolute-names "$p" 2>/dev/null | grep -v '^#' | grep . || true
  done)
}

@test "create, idempotent create, ls (table, -q, filters, format), inspect" {
  run b volume create db1
  [ "$status" -eq 0 ] && [ "$output" = db1 ]
  run b volume create --name db1
  [ "$status" -eq 0 ] && [ "$output" = db1 ]
  run b volume create --label env=prod -l tier=db db2
  [ "$output" = db2 ]
  run b volume create
  [ "$status" -eq 0 ]
  [[ "$output" =~ ^[0-9a-f]{64}$ ]]
  anon=$output

  # sorted by name: where the random one goes depends on its first digits
  sorted=$(printf '%s\n' "$anon" db1 db2 | LC_ALL=C sort)
  run b volume ls
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "DRIVER    VOLUME NAME" ]
  [ "$(printf '%s\n' "${lines[@]:1}")" = "$(printf 'local     %s\n' $sorted)" ]
  [ "${#lines[@]}" -eq 4 ]

  run b volume list -q
  [ "$output" = "$sorted" ]
  run b volume ls -q --filter label=env=prod
  [ "$output" = db2 ]
  run b volume ls -q --filter label=env
  [ "$output" = db2 ]
  run b volume ls -q -f label=env=dev
  [ -z "$output" ]
  # (the 64-hex name of the anonymous one may hold "db" too)
  run b volume ls -q -f name=db
  [ "$output" = "$(printf '%s\n' "$anon" db1 db2 | grep db | LC_ALL=C sort)" ]
  run b volume ls -q -f name=b2
  [ "$output" = "$(printf '%s\n' "$anon" db2 | grep b2 | LC_ALL=C sort)" ]
  run b volume ls -q -f driver=local -f dangling=true -f name=db1
  [ "$output" = "$(printf '%s\n' "$anon" db1 | grep db1 | LC_ALL=C sort)" ]
  run b volume ls -q -f dangling=false
  [ -z "$output" ]
  run b volume ls --format '{{.Name}}|{{.Driver}}|{{.Labels}}|{{.Scope}}|{{.Mountpoint}}' -f name=db2
  [ "$output" = "db2|local|env=prod,tier=db|local|$ROOT/volumes/db2/_data" ]
  run b volume ls --format 'table {{.Name}}\t{{.Labels}}' -f name=db2
  [ "${lines[0]}" = "VOLUME NAME   LABELS" ]
  run b volume ls -f bogus=1
  [ "$status" -eq 1 ]
  [[ "$output" == *"invalid filter 'bogus'"* ]]

  run b volume inspect db2
  [ "$status" -eq 0 ]
  echo "$output" | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert len(d) == 1, d
v = d[0]
assert list(v) == ["CreatedAt", "Driver", "Labels", "Mountpoint", "Name", "Options", "Scope"], list(v)
assert v["Name"] == "db2" and v["Driver"] == "local" and v["Scope"] == "local", v
assert v["Labels"] == {"env": "prod", "tier": "db"}, v
assert v["Options"] is None, v
assert v["CreatedAt"].endswith("Z") and len(v["CreatedAt"]) == 20, v
'
  [ -d "$ROOT/volumes/db2/_data" ]
  [ "$(stat -c %a "$ROOT/volumes/db2/_data")" = 755 ]
  [ "$(stat -c %a "$ROOT/volumes/db2")" = 700 ]
  run b volume inspect -f '{{.Name}} {{.Driver}}' db1 db2
  [ "$output" = "$(printf 'db1 local\ndb2 local')" ]
  run b volume inspect db1 nope
  [ "$status" -eq 1 ]
  [[ "$output" == *"Error: No such volume: nope"* ]]
  [[ "$output" == *'"Name": "db1"'* ]]
}

@test "rm: prints names, missing volume exit 1 or -f 0, data gone" {
  b volume create v1 > /dev/null
  b volume create v2 > /dev/null
  echo hi > "$ROOT/volumes/v1/_data/f"
  run b volume rm v1 v2
  [ "$status" -eq 0 ]
  [ "$output" = "$(printf 'v1\nv2')" ]
  [ ! -e "$ROOT/volumes/v1" ]
  run b volume rm v1
  [ "$status" -eq 1 ]
  [ "$output" = "Error: get v1: no such volume" ]
  run b volume remove -f v1
  [ "$status" -eq 0 ]
  [ "$output" = v1 ]
  [ -z "$(b volume ls -q)" ]
}

@test "rm of a volume in use is refused with Docker's message; free again after the container goes" {
  ensure_busybox_rootfs
  tar -C "$BUSYBOX_ROOTFS" -cf - . | b import --change 'CMD ["sh"]' - bb:1 > /dev/null
  b volume create used > /dev/null
  id=$(b create -v used:/data bb:1)
  run b volume rm used
  [ "$status" -eq 1 ]
  [ "$output" = "Error: remove used: volume is in use - [$id]" ]
  run b volume rm -f used
  [ "$status" -eq 1 ]
  run b volume ls -q -f dangling=false
  [ "$output" = used ]
  run b volume prune -a -f
  [ "$output" = "Total reclaimed space: 0B" ]
  b volume inspect used > /dev/null
  b rm "$id" > /dev/null
  run b volume rm used
  [ "$status" -eq 0 ] && [ "$output" = used ]
}

@test "prune: anonymous only by default, -a for named, label filters, the prompt" {
  b volume create named > /dev/null
  b volume create -l keep=yes named2 > /dev/null
  anon=$(b volume create)
  run b volume prune <<< n
  [ "$status" -eq 0 ]
  [ "$output" = "WARNING! This will remove anonymous local volumes not used by at least one container.
Are you sure you want to continue? [y/N] " ]
  [ "$(b volume ls -q | wc -l)" -eq 3 ]
  # a nameless create is anonymous (Docker's); named ones stay without -a
  run b volume inspect -f '{{json .Labels}}' "$anon"
  [ "$output" = '{"com.docker.volume.anonymous":""}' ]
  run b volume prune -f
  [ "$output" = "$(printf 'Deleted Volumes:\n%s\n\nTotal reclaimed space: 0B' "$anon")" ]
  anon=$(b volume create)
  head -c 100000 /dev/urandom > "$ROOT/volumes/named/_data/blob"
  run b volume prune -a -f --filter label!=keep
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "Deleted Volumes:" ]
  [[ "$output" == *"$anon"* ]]
  [[ "$output" == *"named"$'\n'* ]]
  [[ "$output" != *named2* ]]
  [[ "${lines[-1]}" =~ ^"Total reclaimed space: 10"[0-9.]*kB$ ]]
  run b volume ls -q
  [ "$output" = named2 ]
  run b volume prune -a <<< y
  [[ "$output" == "WARNING! This will remove all local volumes not used by at least one container."* ]]
  [[ "$output" == *"Deleted Volumes:"$'\n'"named2"* ]]
  run b volume prune -f --filter foo=bar
  [ "$status" -eq 1 ]
  [[ "$output" == *"invalid filter 'foo'"* ]]
}

@test "tmpfs-backed volume: mounted when first used, data in the tmpfs, unmounted by rm" {
  run b volume create -o type=tmpfs -o device=tmpfs -o o=size=1m,mode=0750 tv
  [ "$status" -eq 0 ]
  run b volume inspect -f '{{.Options.type}} {{.Options.o}}' tv
  [ "$output" = "tmpfs size=1m,mode=0750" ]
  ! grep -q "$ROOT/volumes/tv/_data" /proc/self/mountinfo
  # export mounts it (the first use), empty
  b volume export tv > "$OUT/empty.tar"
  findmnt -n -o FSTYPE,OPTIONS "$ROOT/volumes/tv/_data" > "$OUT/mnt"
  grep -q '^tmpfs .*size=1024k' "$OUT/mnt"
  [ "$(stat -c %a "$ROOT/volumes/tv/_data")" = 750 ]
  mkdir -p "$OUT/src" && echo tmpdata > "$OUT/src/f"
  tar -C "$OUT/src" -cf "$OUT/in.tar" .
  b volume import tv "$OUT/in.tar"
  [ "$(cat "$ROOT/volumes/tv/_data/f")" = tmpdata ]
  findmnt -n "$ROOT/volumes/tv/_data" > /dev/null
  # too big for its 1m: the import fails, the old contents stay
  head -c 2000000 /dev/zero > "$OUT/src/big"
  tar -C "$OUT/src" -cf "$OUT/big.tar" .
  run b volume import --force tv "$OUT/big.tar"
  [ "$status" -eq 1 ]
  b volume rm tv
  ! grep -q "$ROOT/volumes/tv" /proc/self/mountinfo
  [ ! -e "$ROOT/volumes/tv" ]
}

@test "bind-backed volume: the host directory's files, the host directory kept after rm" {
  mkdir -p "$OUT/host"
  echo hostfile > "$OUT/host/h"
  run b volume create -o type=none -o device="$OUT/host" -o o=bind bv
  [ "$status" -eq 0 ]
  b volume export bv | tar -tf - > "$OUT/list"
  grep -qx './h' "$OUT/list"
  [ "$(cat "$ROOT/volumes/bv/_data/h")" = hostfile ]
  b volume rm bv
  [ "$(cat "$OUT/host/h")" = hostfile ]
  [ ! -e "$ROOT/volumes/bv" ]
  run b volume create -o type=none -o device=relative/dir -o o=bind bad
  [ "$status" -eq 1 ]
  [[ "$output" == *"not an absolute path"* ]]
  run b volume create -o type=none -o device="$OUT/missing" -o o=bind bad
  [ "$status" -eq 1 ]
  [ ! -e "$ROOT/volumes/bad" ]
}

@test "export -> rm -> import: contents, owners, modes incl. setuid, xattrs, hardlink, symlink" {
  b volume create data > /dev/null
  d=$ROOT/volumes/data/_data
  mkdir -p "$d/sub/deep"
  echo one > "$d/sub/file"
  head -c 300000 /dev/urandom > "$d/sub/deep/random"
  ln "$d/sub/file" "$d/hard"
  ln -s sub/file "$d/link"
  ln -s /etc/passwd "$d/abslink"
  printf '#!/bin/sh\n' > "$d/suid" && chmod 4755 "$d/suid"
  chmod 2770 "$d/sub/deep"
  chown 1234:5678 "$d/sub/file"
  chown -h 42:43 "$d/link"
  mkfifo "$d/fifo"
  setfattr -n user.note -v hello "$d/sub/file"
  chmod 0751 "$d"
  before=$(tree_sum "$d")
  [ -n "$before" ]

  b volume export data > "$OUT/data.tar"
  [ "$(tar -tf "$OUT/data.tar" | head -1)" = ./ ]
  b volume export -o "$OUT/data2.tar" data
  # readable by its owner only: a volume's files can be secrets
  [ "$(stat -c %a "$OUT/data2.tar")" = 600 ]
  cmp "$OUT/data.tar" "$OUT/data2.tar"
  b volume rm data > /dev/null

  # into a new volume (import makes it), from a file
  b volume import data "$OUT/data.tar"
  after=$(tree_sum "$ROOT/volumes/data/_data")
  [ "$before" = "$after" ]
  [ "$(stat -c %a "$ROOT/volumes/data/_data")" = 751 ]
  # hardlink kept as one inode
  [ "$(stat -c %i "$ROOT/volumes/data/_data/hard")" = "$(stat -c %i "$ROOT/volumes/data/_data/sub/file")" ]

  # from stdin, compressed, into another
  gzip -c "$OUT/data.tar" | b volume import copy -
  [ "$before" = "$(tree_sum "$ROOT/volumes/copy/_data")" ]

  # a terminal is refused for export (script gives one)
  run script -qec "$BERTH --root $ROOT --runroot $RUNROOT volume export data" /dev/null
  [[ "$output" == *"cowardly refusing to save to a terminal"* ]]
}

@test "import into a non-empty volume needs --force, which replaces the contents" {
  b volume create vv > /dev/null
  echo old > "$ROOT/volumes/vv/_data/old"
  mkdir -p "$OUT/src" && echo new > "$OUT/src/new"
  tar -C "$OUT/src" -cf "$OUT/new.tar" .
  run b volume import vv "$OUT/new.tar"
  [ "$status" -eq 1 ]
  [ "$output" = "Error: import vv: volume vv is not empty: use --force to replace its contents" ]
  [ "$(cat "$ROOT/volumes/vv/_data/old")" = old ]
  [ ! -e "$ROOT/volumes/vv/_data/new" ]
  run b volume import --force vv "$OUT/new.tar"
  [ "$status" -eq 0 ]
  [ ! -e "$ROOT/volumes/vv/_data/old" ]
  [ "$(cat "$ROOT/volumes/vv/_data/new")" = new ]
  # no staging directory left behind
  [ "$(ls -A "$ROOT/volumes/vv")" = _data ]
}

@test "import refuses escaping archives (.., absolute, through a symlink) and changes nothing" {
  b volume create vv > /dev/null
  echo keep > "$ROOT/volumes/vv/_data/keep"
  before=$(tree_sum "$ROOT/volumes/vv/_data")
  python3 - "$OUT" <<'EOF'
import io, sys, tarfile
out = sys.argv[1]
def mk(name, entries):
    with tarfile.open(f"{out}/{name}.tar", "w") as t:
        for kind, path, arg in entries:
            i = tarfile.TarInfo(path)
            if kind == "file":
                data = arg.encode()
                i.size = len(data)
                t.addfile(i, io.BytesIO(data))
            elif kind == "sym":
                i.type = tarfile.SYMTYPE
                i.linkname = arg
                t.addfile(i)
            elif kind == "hard":
                i.type = tarfile.LNKTYPE
                i.linkname = arg
                t.addfile(i)
mk("dotdot", [("file", "ok", "x"), ("file", "../berth-vol-escape-test", "pwned")])
mk("deep", [("file", "a/../../berth-vol-escape-test", "pwned")])
mk("abs", [("file", "ok", "x"), ("file", "/tmp/berth-vol-escape-test", "pwned")])
mk("symdir", [("sym", "esc", "/tmp"), ("file", "esc/berth-vol-escape-test", "pwned")])
mk("symrel", [("sym", "esc", "../../../../../../../../tmp"), ("file", "esc/berth-vol-escape-test", "pwned")])
mk("hardesc", [("hard", "h", "../../../../../../etc/passwd")])
# a hardlink to a symlink entry is that symlink under another name
mk("hardsym", [("sym", "esc", "/tmp"), ("hard", "h", "esc"), ("file", "h/berth-vol-escape-test", "pwned")])
EOF
  for a in dotdot deep abs symdir symrel hardesc hardsym; do
    run b volume import --force vv "$OUT/$a.tar"
    echo "$a: $output"
    [ "$status" -eq 1 ]
    [[ "$output" == *"not allowed"* ]]
    [ ! -e /tmp/berth-vol-escape-test ]
    [ "$before" = "$(tree_sum "$ROOT/volumes/vv/_data")" ]
    [ "$(ls -A "$ROOT/volumes/vv")" = _data ]
    # into a new volume: refused, and no volume is left
    run b volume import "new$a" "$OUT/$a.tar"
    [ "$status" -eq 1 ]
    [ ! -e "$ROOT/volumes/new$a" ]
  done
  [ "$(b volume ls -q)" = vv ]
  # not a tar at all
  head -c 5000 /dev/urandom > "$OUT/junk"
  run b volume import --force vv "$OUT/junk"
  [ "$status" -eq 1 ]
  [ "$before" = "$(tree_sum "$ROOT/volumes/vv/_data")" ]
}

@test "a volume named like another's lock file (x.lock) leaves volume x working" {
  # Locks and volume directories share <root>/volumes: "db.lock" must be
  # neither the lock of "db" (EISDIR forever after) nor swept away as a
  # stale directory by the create of "db.lock".
  b volume create db > /dev/null
  run b volume create db.lock
  [ "$status" -eq 0 ] && [ "$output" = db.lock ]
  run b volume export db
  [ "$status" -eq 0 ]
  run b volume rm db
  [ "$status" -eq 0 ] && [ "$output" = db ]
  run b volume rm db.lock
  [ "$status" -eq 0 ]
  # the other order: the lock name taken first
  b volume create ab.lock > /dev/null
  run b volume create ab
  [ "$status" -eq 0 ] && [ "$output" = ab ]
  run b volume rm ab ab.lock
  [ "$status" -eq 0 ]
  [ -z "$(b volume ls -q)" ]
}

@test "bad input: names, options, driver, flags" {
  run b volume create x
  [ "$status" -eq 1 ]
  [ "$output" = 'Error: create x: "x" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path' ]
  for n in 'a/b' '../etc' '-ab' 'a b' '.hidden'; do
    run b volume create -- "$n"
    [ "$status" -ne 0 ]
  done
  run b volume create -o foo=bar v1
  [ "$status" -eq 1 ]
  [ "$output" = 'Error: create v1: invalid option key: "foo"' ]
  run b volume create -o type=tmpfs v1
  [ "$status" -eq 1 ]
  [ "$output" = 'Error: create v1: missing required option: "device"' ]
  run b volume create -o novalue v1
  [ "$status" -eq 125 ]
  run b volume create -d nfs v1
  [ "$status" -eq 1 ]
  [ "$output" = 'Error: create v1: plugin "nfs" not found' ]
  run b volume create --name a1 b1
  [ "$status" -eq 1 ]
  [[ "$output" == *"conflicting options"* ]]
  run b volume create --bogus
  [ "$status" -eq 125 ]
  run b volume import bad/name /dev/null
  [ "$status" -eq 1 ]
  [ -z "$(b volume ls -q)" ]
  [ -z "$(ls -A "$ROOT/volumes" 2>/dev/null | grep -v '\.lock$' || true)" ]
}

@test "volume ls: natural name order, as the docker CLI sorts" {
  local v
  for v in db10 db2 db1 app; do b volume create "$v" > /dev/null; done
  run b volume ls -q
  [ "$status" -eq 0 ]
  [ "$output" = "$(printf 'app\ndb1\ndb2\ndb10')" ]
}
