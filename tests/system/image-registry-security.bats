#!/usr/bin/env bats
# The registry client against registries that try to get more than they
# should (issue 3, review items 1, 2, 5, 7, 8): credentials must only reach
# the registry they belong to (not the host an upload Location names, not a
# mirror), parallel requests that re-learn the token realm must not race,
# nothing a registry sends may reach the terminal as an escape sequence,
# and debug logs carry neither credentials nor URL query strings.
# fake-registry.py plays the registries; every proxy variable points at a
# dead loopback port where Docker Hub could be reached, so nothing leaves
# the machine.

load helpers
load registry-lib

FAKE_PY=$BATS_TEST_DIRNAME/fake-registry.py

setup() {
  T=$BATS_TEST_TMPDIR
  export BERTH_CONFIG=$T/cfg HOME=$T/home DOCKER_CONFIG=$T/docker-cfg
  mkdir -p "$HOME" "$BERTH_CONFIG" "$DOCKER_CONFIG"
  unset BERTH_REGISTRY_SECURE_LOOPBACK
  export BERTH_REGISTRY_TIMEOUT=5
  FAKE_PIDS=()
}

teardown() {
  local p
  for p in "${FAKE_PIDS[@]}"; do
    kill "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
}

b() { "$BERTH" --root "$T/root" --runroot "$T/run" "$@"; }

# start_fake [ARGS...]: fake-registry.py on loopback for at most 120 s; sets
# FAKE (127.0.0.1:port) and FAKE_LOG (a log of its own).
start_fake() {
  local n=$RANDOM
  local pf=$T/fake.$n.port
  FAKE_LOG=$T/fake.$n.log
  "$REG_PYTHON" "$FAKE_PY" --port-file "$pf" --log "$FAKE_LOG" --lifetime 120 "$@" \
    > "$T/fake.$n.out" 2>&1 3>&- < /dev/null &
  FAKE_PIDS+=($!)
  for _ in $(seq 1 200); do [ -s "$pf" ] && break; sleep 0.05; done
  [ -s "$pf" ] || { cat "$T/fake.$n.out"; false; }
  FAKE=127.0.0.1:$(cat "$pf")
  touch "$FAKE_LOG"
}

no_network_env() {
  export https_proxy=http://127.0.0.1:9 HTTPS_PROXY=http://127.0.0.1:9
  export http_proxy=http://127.0.0.1:9 HTTP_PROXY=http://127.0.0.1:9
  export no_proxy=127.0.0.1,localhost NO_PROXY=127.0.0.1,localhost
  unset ALL_PROXY all_proxy
}

# login_file SERVER USER PASS: berth's config.json, as `berth login` writes it.
login_file() {
  jq -n --arg r "$1" --arg a "$(printf '%s:%s' "$2" "$3" | base64 -w0)" \
    '{auths: {($r): {auth: $a}}}' > "$BERTH_CONFIG/config.json"
}

# lacks [GREP-OPTS] PATTERN FILE: PATTERN is not in FILE. (A bare "! grep"
# in the middle of a test would not fail it: errexit ignores "!".)
lacks() { ! grep -q "$@"; }

# no_escapes TEXT: no ESC, BEL or CSI (U+009B) byte in TEXT.
no_escapes() {
  [[ "$1" != *$'\e'* && "$1" != *$'\a'* && "$1" != *$'\xc2\x9b'* ]]
}

@test "push: an upload Location on another host:port gets no Authorization; -D shows no query string" {
  start_fake
  local other=$FAKE other_log=$FAKE_LOG
  start_fake --upload-to "http://$other"
  login_file "$FAKE" berth s3cret-pw
  runf b pull -q "$FAKE/ok/img"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  b tag "$FAKE/ok/img" "$FAKE/basic/elsewhere:1"
  runf b -D push "$FAKE/basic/elsewhere:1"
  echo "$output"
  echo "registry:"; cat "$FAKE_LOG"; echo "other host:"; cat "$other_log"
  # the registry itself wanted, and got, the credentials ...
  grep -q "^POST /v2/basic/elsewhere/blobs/uploads/.* 202 auth=Basic" "$FAKE_LOG"
  # ... the other host received the uploads, never with credentials
  grep -q "^PUT /upload/" "$other_log"
  lacks "auth=" "$other_log"
  # debug output: no URL query string (upload state, digests), no secret
  grep -q "registry: PUT http://$other/upload/" <<<"$output"
  lacks "SECRET-STATE" <<<"$output"
  lacks -E "https?://[^ ]*\?" <<<"$output"
  lacks "s3cret-pw" <<<"$output"
  lacks "$(printf 'berth:s3cret-pw' | base64 -w0)" <<<"$output"
}

@test "mirror answering 401 Basic: Docker Hub credentials are never sent to it" {
  start_fake --default mirror-basic
  no_network_env
  login_file "https://index.docker.io/v1/" hubuser hub-secret-pw
  runf b --registry-mirror "http://$FAKE" pull busybox
  echo "$output"; cat "$FAKE_LOG"
  [ "$status" -eq 1 ]
  # the first layer was refused with 401 Basic; the second layer's retry
  # (after its 503) came after that: the mirror was asked again ...
  grep -q "^GET /v2/library/busybox/blobs/sha256:[0-9a-f]* 401$" "$FAKE_LOG"
  local slow
  slow=$(awk '$3 == 503 { print $2; exit }' "$FAKE_LOG")
  [ -n "$slow" ]
  [ "$(grep -c "^GET $slow " "$FAKE_LOG")" -ge 2 ]
  # ... and never got an Authorization header
  lacks "auth=" "$FAKE_LOG"
}

@test "push with parallel layers to a Bearer registry whose realm changes on every 401, 5 times" {
  start_fake
  runf b pull -q "$FAKE/ok/multi"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  local i
  for i in 1 2 3 4 5; do
    b tag "$FAKE/ok/multi" "$FAKE/bearer/race$i:1"
    runf b push "$FAKE/bearer/race$i:1"
    [ "$status" -eq 0 ] || { echo "push $i: $output"; false; }
    grep -q "^PUT /v2/bearer/race$i/manifests/1 201 auth=Bearer" "$FAKE_LOG"
    # six layers and a config went up
    [ "$(grep -c "^PUT /v2/bearer/race$i/blobs/uploads/[^ ]* 201 auth=Bearer" "$FAKE_LOG")" = 7 ]
  done
  # several challenges, each a new realm, each answered by a token request
  [ "$(grep -c '^GET /token/' "$FAKE_LOG")" -ge 5 ]
}

@test "terminal escapes in a reason phrase, an error code, the digest and type headers never reach the output" {
  start_fake
  local repo
  for repo in evil/reason evil/code evil/digest evil/ctype; do
    runf b -D pull "$FAKE/$repo"
    echo "$repo: $output" | cat -v
    [ "$status" -eq 1 ]
    no_escapes "$output"
    [[ "${lines[-1]}" == "Error: pull '$FAKE/$repo': "* ]]
  done
  # the text around the escapes is still shown, the escapes as '?'
  runf b pull "$FAKE/evil/reason"
  [[ "${lines[-1]}" == *"received unexpected HTTP status: 418 ?]0;PWNED??[31mteapot" ]]
  runf b pull "$FAKE/evil/code"
  [[ "${lines[-1]}" == *"?]0;pwned??[31mmanifest unknown: ?]0;PWNED??[31mgone" ]]
  runf b pull "$FAKE/evil/digest"
  [[ "${lines[-1]}" == *"manifest digest mismatch: the registry says sha256:?]0;PWNED??[31m0000"* ]]
}

@test "a mirror URL with user:password@ is refused clearly, the password shown nowhere" {
  no_network_env
  runf b -D --registry-mirror "http://mirroruser:mirror-pw@127.0.0.1:9" pull busybox
  echo "$output"
  [ "$status" -eq 1 ]
  [[ "${lines[-1]}" == "Error: pull 'busybox': registry mirror 'http://127.0.0.1:9': credentials in a mirror URL are not supported"* ]]
  lacks "mirror-pw" <<<"$output"
}
