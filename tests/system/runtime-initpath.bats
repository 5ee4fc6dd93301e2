#!/usr/bin/env bats
# The init's mount setup as a container sees it: masked and read-only paths,
# bind sources and their propagation, and what createContainer hooks see.
# (The mounts are made through fds and the init's cwd; these pin the
# results, which must not depend on how they were made.)

load helpers

setup() { setup_runtime; }
teardown() { teardown_runtime; }

@test "masked dirs are empty and read-only, masked files read empty, writes do not land" {
  mkdir -p "$BUNDLE/rootfs/secret-dir/sub" "$BUNDLE/rootfs/other-dir"
  echo hidden > "$BUNDLE/rootfs/secret-dir/file"
  echo hidden > "$BUNDLE/rootfs/secret-file"
  echo kept > "$BUNDLE/rootfs/other-dir/file"
  cfg '.linux.maskedPaths = ["/secret-dir", "/other-dir", "/secret-file", "/no-such-path"]'
  cfg_args sh -c 'echo "dir=$(ls -A /secret-dir | wc -l) $(ls -A /other-dir | wc -l)"; touch /secret-dir/x 2>&1 | grep -c "Read-only"; mkdir /other-dir/y 2>&1 | grep -c "Read-only"; echo "file=$(wc -c < /secret-file)"; echo overwrite > /secret-file; echo "after=$(wc -c < /secret-file)"; grep -c " /secret-dir ro," /proc/self/mountinfo'
  run rt run -b "$BUNDLE" "$CID"
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "dir=0 0" ]
  [ "${lines[1]}" = 1 ]
  [ "${lines[2]}" = 1 ]
  [ "${lines[3]}" = "file=0" ]
  [ "${lines[4]}" = "after=0" ]
  [ "${lines[5]}" = 1 ]
  # Nothing written through the masks reached the rootfs.
  [ "$(cat "$BUNDLE/rootfs/secret-file")" = hidden ]
  [ ! -e "$BUNDLE/rootfs/secret-dir/x" ]
  [ ! -e "$BUNDLE/rootfs/other-dir/y" ]
  assert_clean "$CID"
}

@test "read-only paths: dirs, files and mounts below them are read-only, flags kept" {
  mkdir -p "$BUNDLE/rootfs/ro-dir" "$BUNDLE/rootfs/rw-dir"
  echo data > "$BUNDLE/rootfs/ro-dir/file"
  echo data > "$BUNDLE/rootfs/ro-file"
  cfg '.linux.readonlyPaths = ["/ro-dir", "/ro-file", "/proc/sys", "/no-such-path"]'
  cfg '.mounts |= map(if .destination == "/proc" then .options = ["nosuid", "noexec", "nodev"] else . end)'
  cfg_args sh -c 'cat /ro-dir/file; touch /ro-dir/x 2>&1 | grep -c "Read-only"; (echo more >> /ro-file) 2>&1 | grep -c "Read-only"; touch /rw-dir/x && echo rw-ok; (echo 1 > /proc/sys/kernel/domainname) 2>&1 | grep -c "Read-only"; grep " /proc/sys " /proc/self/mountinfo | cut -d" " -f6'
  run rt run -b "$BUNDLE" "$CID"
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = data ]
  [ "${lines[1]}" = 1 ]
  [ "${lines[2]}" = 1 ]
  [ "${lines[3]}" = rw-ok ]
  [ "${lines[4]}" = 1 ]
  # proc's own flags stay on the read-only bind.
  [ "${lines[5]}" = "ro,nosuid,nodev,noexec,relatime" ]
  [ "$(cat "$BUNDLE/rootfs/ro-file")" = data ]
}

@test "file and directory binds: type from the source, propagation and read-only applied" {
  src=$BATS_TEST_TMPDIR/src
  mkdir -p "$src/dir"
  echo content > "$src/file"
  echo indir > "$src/dir/f"
  cfg ".mounts += [{\"destination\":\"/etc/bound-file\",\"type\":\"bind\",\"source\":\"$src/file\",\"options\":[\"rbind\",\"rshared\"]},
                   {\"destination\":\"/new/bound-dir\",\"type\":\"bind\",\"source\":\"$src/dir\",\"options\":[\"rbind\",\"ro\",\"rslave\"]}]"
  cfg_args sh -c 'cat /etc/bound-file; [ -f /etc/bound-file ] && echo is-file; cat /new/bound-dir/f; [ -d /new/bound-dir ] && echo is-dir; touch /new/bound-dir/x 2>&1 | grep -c "Read-only"; grep " /etc/bound-file " /proc/self/mountinfo | grep -c "shared:"; grep " /new/bound-dir " /proc/self/mountinfo | cut -d" " -f6'
  run rt run -b "$BUNDLE" "$CID"
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = content ]
  [ "${lines[1]}" = is-file ]
  [ "${lines[2]}" = indir ]
  [ "${lines[3]}" = is-dir ]
  [ "${lines[4]}" = 1 ]
  [ "${lines[5]}" = 1 ]
  [[ "${lines[6]}" == ro,* ]]
}

@test "a missing bind source fails create with a clear message and leaves nothing" {
  cfg ".mounts += [{\"destination\":\"/x\",\"type\":\"bind\",\"source\":\"$BATS_TEST_TMPDIR/nope\",\"options\":[\"rbind\"]}]"
  run rt run -b "$BUNDLE" "$CID"
  [ "$status" -ne 0 ]
  [[ "$output" == *"bind mount source '$BATS_TEST_TMPDIR/nope'"*"o such file or directory"* ]]
  [ ! -e "$BUNDLE/rootfs/x" ]
  assert_clean "$CID"
}

@test "createContainer hooks start in the runtime's working directory" {
  log=$BATS_TEST_TMPDIR/hook.log
  printf '#!/bin/sh\npwd > %s\n' "$log" > "$BATS_TEST_TMPDIR/cc.sh"
  chmod +x "$BATS_TEST_TMPDIR/cc.sh"
  cfg ".hooks = {\"createContainer\":[{\"path\":\"$BATS_TEST_TMPDIR/cc.sh\"}]}"
  mkdir -p "$BATS_TEST_TMPDIR/wd"
  (cd "$BATS_TEST_TMPDIR/wd" && rt run -b "$BUNDLE" "$CID")
  [ "$(cat "$log")" = "$BATS_TEST_TMPDIR/wd" ]
}

@test "the process starts with default signal dispositions and an empty mask" {
  cfg_args grep -E '^Sig(Blk|Ign)' /proc/self/status
  # The runtime itself runs with SIGINT and SIGPIPE ignored here.
  run bash -c "trap '' INT PIPE; exec \"$RUNTIME\" --root \"$STATE_ROOT\" run -b \"$BUNDLE\" \"$CID\""
  [ "$status" -eq 0 ]
  [[ "$output" == *"SigBlk:	0000000000000000"* ]]
  [[ "$output" == *"SigIgn:	0000000000000000"* ]]
}
