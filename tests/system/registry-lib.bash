# Registry test infrastructure for berth's pull/push/login tests (bats), also
# sourced by bench/pull-image.sh. Real peers only, all on loopback:
# Debian's docker-registry 2.8 (`docker-registry serve CONFIG`), a small token
# server (token-server.py), skopeo to push/inspect, openssl for test certs.
#
#   registry_start [plain|tls|basic|token]   start a registry (+ token server)
#   registry_stop [REG_DIR...]               stop them, remove their temp dirs
#   make_busybox_rootfs DIR                  busybox-static rootfs
#   make_oci_image DIR TAG LAYERDIR...       OCI layout, one gzip layer per dir
#   push_image DIR REF [TAG]                 skopeo copy oci:DIR[:TAG] docker://REF
#   pull_image REF DIR TAG                   skopeo copy docker://REF oci:DIR:TAG
#   inspect_image REF [skopeo-inspect-args]  skopeo inspect docker://REF
#   setup_test_image REF                     3-layer busybox test image, pushed
#
# Call registry_start directly (not through bats' `run`, a subshell): it sets
# and exports the variables below. Call registry_stop from teardown (or
# teardown_file): with no argument it stops every registry this shell (or,
# through the exported REG_STARTED_DIRS, its setup_file) started.
#
# The variables (exported by registry_start):
#   REG            127.0.0.1:PORT, the name to use in image references
#   REG_LOCALHOST  localhost:PORT, the same registry by name (for TLS tests:
#                  the server cert names IP:127.0.0.1 and DNS:localhost, so
#                  both names verify against REG_CA; but Docker, and berth,
#                  treat 127.0.0.0/8 registries as insecure without looking at
#                  certs, so a test that wants verification to matter should
#                  use REG_LOCALHOST if berth only exempts loopback IPs)
#   REG_PORT REG_URL (http[s]://127.0.0.1:PORT) REG_MODE REG_TLS (0|1)
#   REG_DIR        private temp dir: config, storage, logs (registry.log)
#   REG_PID        the docker-registry process
#   REG_CA         (TLS) the test CA's certificate
#   REG_CERTS_D    (TLS) a certs.d-layout dir: $REG_CERTS_D/$REG/ca.crt and
#                  $REG_CERTS_D/$REG_LOCALHOST/ca.crt (Docker's layout)
#   REG_USER REG_PASS  (basic, token) berth / s3cret-pw
#   TOKEN_PID TOKEN_PORT TOKEN_REALM TOKEN_SERVICE TOKEN_ISSUER
#   TOKEN_LOG      (token) one JSON line per token request (count refreshes)
#
# Knobs read by registry_start:
#   REG_TLS=1      TLS for basic or token mode too (plain and tls fix it).
#                  docker-registry 2.8 does NOT require TLS for htpasswd (its
#                  docs only advise it), so basic defaults to plain HTTP.
#   TOKEN_TTL, TOKEN_EXP_OFFSET, TOKEN_ANON: see token-server.py. For a
#                  refresh test, TOKEN_TTL=2 TOKEN_EXP_OFFSET=-60 makes
#                  docker-registry really refuse tokens 2 s after issue (it
#                  adds 60 s of leeway to the exp claim).
#   TOKEN_SIGN=x5c sign with the cert chain in the JWT header instead of kid.
#   REG_CLIENT_CERT=1 (TLS) require a client certificate signed by the test
#                  CA (http.tls.clientcas); one is made and exported as
#                  REG_CLIENT_CERT_FILE/REG_CLIENT_KEY_FILE, and copied into
#                  REG_CERTS_D/<host>/client.cert + client.key (Docker's layout).
# Knobs read by push_image / pull_image / inspect_image:
#   REG_CREDS      unset: REG_USER:REG_PASS if those are set, else anonymous;
#                  set and empty: anonymous; USER:PASS: those credentials.
#   REG_TLS_VERIFY=0  do not verify TLS even when REG_CERTS_D has the host.
#   PUSH_FORMAT    oci (default: keep the layout's OCI manifest) or v2s2
#                  (Docker schema 2; the layer blobs stay the same).
#
# The registry's temp dir is under /tmp, not $BATS_TEST_TMPDIR: helpers.bash's
# procs_left treats any process naming the test dir as a leaked container.

REGLIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# Debian's python3 has python3-jwt/python3-cryptography; a pyenv one may not.
REG_PYTHON=${REG_PYTHON:-/usr/bin/python3}
REG_TMPBASE=${REG_TMPBASE:-/tmp}
REG_DEFAULT_USER=berth
REG_DEFAULT_PASS=s3cret-pw
# skopeo as root keeps a blob-info cache here whatever it is told; we remove
# what we created (runtime-peers' podman cleanup looks at the same paths).
REG_SKOPEO_GLOBALS=(/var/lib/containers/cache/blob-info-cache-v1.boltdb
  /var/lib/containers/cache /var/lib/containers)

_reg_log() { echo "# registry-lib: $*" >&2; }

# curl to loopback only; never through a proxy from the environment.
_reg_curl() { curl -s --noproxy '*' --max-time 10 "$@"; }

_reg_free_port() {
  "$REG_PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# _reg_make_certs DIR: test CA, server cert for 127.0.0.1/localhost, and a
# self-signed token-signing cert. EC P-256: fast to make, fine for Go and
# OpenSSL. Made in a temp dir and renamed, so concurrent callers are safe.
_reg_make_certs() {
  local dir=$1 tmp
  [ -s "$dir/token.crt" ] && return 0
  tmp=$(mktemp -d "${dir}.tmpXXXXXX") || return 1
  (
    set -e
    cd "$tmp"
    ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
    openssl req -x509 "${ec[@]}" -keyout ca.key -out ca.crt -days 3650 \
      -subj "/CN=berth test CA" -addext "basicConstraints=critical,CA:TRUE" \
      -addext "keyUsage=critical,keyCertSign,cRLSign"
    openssl req -new "${ec[@]}" -keyout server.key -out server.csr -subj "/CN=localhost"
    printf '%s\n' "subjectAltName=IP:127.0.0.1,DNS:localhost" "basicConstraints=CA:FALSE" \
      "keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth" > server.ext
    openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -set_serial "0x$(openssl rand -hex 8)" \
      -days 825 -extfile server.ext -out server.crt
    openssl req -x509 "${ec[@]}" -keyout token.key -out token.crt -days 3650 \
      -subj "/CN=berth test token signer"
    chmod 644 ./*.crt
  ) >"$tmp.log" 2>&1 || { cat "$tmp.log" >&2; rm -rf "$tmp" "$tmp.log"; return 1; }
  rm -f "$tmp.log"
  mv -T "$tmp" "$dir" 2>/dev/null || rm -rf "$tmp"
}

# _reg_make_client_cert CERTS OUT: a client certificate (clientAuth) signed
# by the test CA in CERTS, as OUT/client.cert and OUT/client.key.
_reg_make_client_cert() {
  local certs=$1 out=$2
  mkdir -p "$out" || return 1
  (
    set -e
    cd "$out"
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
      -keyout client.key -out client.csr -subj "/CN=berth test client"
    printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature" \
      "extendedKeyUsage=clientAuth" > client.ext
    openssl x509 -req -in client.csr -CA "$certs/ca.crt" -CAkey "$certs/ca.key" \
      -set_serial "0x$(openssl rand -hex 8)" -days 825 -extfile client.ext -out client.cert
    rm -f client.csr client.ext
  ) >"$out.log" 2>&1 || { cat "$out.log" >&2; rm -f "$out.log"; return 1; }
  rm -f "$out.log"
}

# Where certs live: once per bats run (BATS_RUN_TMPDIR, removed by bats at the
# end), else in the registry's own dir.
_reg_certs_dir() {
  if [ -n "${BATS_RUN_TMPDIR:-}" ] && [ -d "$BATS_RUN_TMPDIR" ]; then
    echo "$BATS_RUN_TMPDIR/berth-registry-certs"
  else
    echo "$REG_DIR/certs"
  fi
}

# _reg_stop_pid PID DIR: TERM then KILL a process we started. It must name
# DIR on its command line, so a recycled pid is never killed.
_reg_stop_pid() {
  local pid=$1 dir=$2 i sig
  [ -n "$pid" ] || return 0
  for sig in TERM KILL; do
    grep -qsF -- "$dir" "/proc/$pid/cmdline" 2>/dev/null || break
    kill "-$sig" "$pid" 2>/dev/null || true
    for i in $(seq 1 50); do
      if [ ! -e "/proc/$pid" ]; then break; fi
      # our own child: reap it once it is a zombie
      if [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = Z ]; then
        wait "$pid" 2>/dev/null || true
        break
      fi
      sleep 0.1
    done
    [ -e "/proc/$pid" ] || return 0
  done
  wait "$pid" 2>/dev/null || true
}

# _reg_wait_up URL PID: wait (10 s) for /v2/ to answer 200 or 401; fail early
# if the process died (a port taken between our probe and its bind).
_reg_wait_up() {
  local url=$1 pid=$2 code i cc=()
  [ -z "${REG_CLIENT_CERT_FILE:-}" ] || cc=(--cert "$REG_CLIENT_CERT_FILE" --key "$REG_CLIENT_KEY_FILE")
  for i in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || return 1
    [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ] || return 1
    code=$(_reg_curl -k "${cc[@]}" -o /dev/null -w '%{http_code}' "$url/v2/" 2>/dev/null)
    case $code in 200 | 401) return 0 ;; esac
    sleep 0.1
  done
  return 1
}

registry_start() {
  local mode=${1:-plain} tls certs port tport i cfg auth="" tlscfg="" try
  case $mode in
    plain) tls=0 ;;
    tls) tls=1 ;;
    basic | token) tls=${REG_TLS:-0} ;;
    *) _reg_log "registry_start: unknown mode '$mode' (plain|tls|basic|token)"; return 2 ;;
  esac
  command -v docker-registry >/dev/null || { _reg_log "docker-registry not installed"; return 1; }
  REG_DIR=$(mktemp -d "$REG_TMPBASE/berth-reg-XXXXXX") || return 1
  export REG_DIR REG_MODE=$mode REG_TLS=$tls
  export REG_STARTED_DIRS=${REG_STARTED_DIRS:+$REG_STARTED_DIRS:}$REG_DIR
  unset REG_CLIENT_CERT_FILE REG_CLIENT_KEY_FILE
  unset REG_CA REG_CERTS_D REG_USER REG_PASS TOKEN_PID TOKEN_PORT TOKEN_REALM \
    TOKEN_SERVICE TOKEN_ISSUER TOKEN_LOG REG REG_PID REG_PORT REG_URL REG_LOCALHOST

  # which skopeo globals exist before us (see REG_SKOPEO_GLOBALS)
  for i in "${REG_SKOPEO_GLOBALS[@]}"; do
    [ ! -e "$i" ] || echo "$i"
  done > "$REG_DIR/globals.before"
  # skopeo must not read the host's credentials or trust policy
  echo '{}' > "$REG_DIR/auth.json"
  echo '{"default": [{"type": "insecureAcceptAnything"}]}' > "$REG_DIR/policy.json"

  if [ "$tls" = 1 ] || [ "$mode" = token ]; then
    certs=$(_reg_certs_dir)
    _reg_make_certs "$certs" || { registry_stop "$REG_DIR"; return 1; }
  fi
  if [ "$tls" = 1 ]; then
    export REG_CA=$certs/ca.crt REG_CERTS_D=$REG_DIR/certs.d
    tlscfg="  tls:
    certificate: $certs/server.crt
    key: $certs/server.key"
    if [ "${REG_CLIENT_CERT:-0}" = 1 ]; then
      _reg_make_client_cert "$certs" "$REG_DIR/client" || { registry_stop "$REG_DIR"; return 1; }
      export REG_CLIENT_CERT_FILE=$REG_DIR/client/client.cert REG_CLIENT_KEY_FILE=$REG_DIR/client/client.key
      tlscfg+="
    clientcas:
      - $certs/ca.crt"
    fi
  fi

  case $mode in
    basic)
      export REG_USER=$REG_DEFAULT_USER REG_PASS=$REG_DEFAULT_PASS
      htpasswd -Bbn "$REG_USER" "$REG_PASS" > "$REG_DIR/htpasswd" 2>/dev/null || return 1
      auth="auth:
  htpasswd:
    realm: berth-test
    path: $REG_DIR/htpasswd"
      ;;
    token)
      export REG_USER=$REG_DEFAULT_USER REG_PASS=$REG_DEFAULT_PASS
      export TOKEN_SERVICE=berth-test-registry TOKEN_ISSUER=berth-test-token-issuer
      export TOKEN_LOG=$REG_DIR/token-requests.jsonl
      "$REG_PYTHON" "$REGLIB_DIR/token-server.py" --port-file "$REG_DIR/token.port" \
        --key "$certs/token.key" --cert "$certs/token.crt" \
        --issuer "$TOKEN_ISSUER" --service "$TOKEN_SERVICE" \
        --user "$REG_USER:$REG_PASS:pull,push,delete" --sign "${TOKEN_SIGN:-kid}" \
        --log "$TOKEN_LOG" > "$REG_DIR/token-server.log" 2>&1 3>&- </dev/null &
      export TOKEN_PID=$!
      echo "$TOKEN_PID" > "$REG_DIR/token.pid"
      for i in $(seq 1 100); do
        [ -s "$REG_DIR/token.port" ] || ! kill -0 "$TOKEN_PID" 2>/dev/null && break
        sleep 0.05
      done
      if [ ! -s "$REG_DIR/token.port" ]; then
        _reg_log "token server did not start:"; cat "$REG_DIR/token-server.log" >&2
        registry_stop "$REG_DIR"; return 1
      fi
      export TOKEN_PORT=$(cat "$REG_DIR/token.port")
      export TOKEN_REALM=http://127.0.0.1:$TOKEN_PORT/token
      auth="auth:
  token:
    realm: $TOKEN_REALM
    service: $TOKEN_SERVICE
    issuer: $TOKEN_ISSUER
    rootcertbundle: $certs/token.crt"
      ;;
  esac

  # docker-registry reads REGISTRY_* variables as config overrides: drop any.
  local -a unsetenv=()
  for i in $(compgen -e | grep '^REGISTRY_'); do unsetenv+=(-u "$i"); done

  for try in 1 2 3 4 5; do
    port=$(_reg_free_port) || return 1
    cfg=$REG_DIR/config.yml
    cat > "$cfg" <<EOF
version: 0.1
log:
  level: info
  formatter: text
storage:
  filesystem:
    rootdirectory: $REG_DIR/storage
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:$port
  secret: $(openssl rand -hex 16)
$tlscfg
health:
  storagedriver:
    enabled: false
$auth
EOF
    env "${unsetenv[@]}" docker-registry serve "$cfg" > "$REG_DIR/registry.log" 2>&1 3>&- </dev/null &
    REG_PID=$!
    echo "$REG_PID" > "$REG_DIR/registry.pid"
    REG_PORT=$port
    if [ "$tls" = 1 ]; then REG_URL=https://127.0.0.1:$port; else REG_URL=http://127.0.0.1:$port; fi
    if _reg_wait_up "$REG_URL" "$REG_PID"; then
      break
    fi
    _reg_log "docker-registry on port $port did not come up (try $try):"
    tail -5 "$REG_DIR/registry.log" >&2
    _reg_stop_pid "$REG_PID" "$REG_DIR"
    REG_PID=
  done
  if [ -z "$REG_PID" ]; then
    registry_stop "$REG_DIR"
    return 1
  fi
  export REG_PID REG_PORT REG_URL REG=127.0.0.1:$REG_PORT REG_LOCALHOST=localhost:$REG_PORT
  if [ "$tls" = 1 ]; then
    mkdir -p "$REG_CERTS_D/$REG" "$REG_CERTS_D/$REG_LOCALHOST"
    cp "$REG_CA" "$REG_CERTS_D/$REG/ca.crt"
    cp "$REG_CA" "$REG_CERTS_D/$REG_LOCALHOST/ca.crt"
    if [ -n "${REG_CLIENT_CERT_FILE:-}" ]; then
      for i in "$REG" "$REG_LOCALHOST"; do
        cp "$REG_CLIENT_CERT_FILE" "$REG_CERTS_D/$i/client.cert"
        cp "$REG_CLIENT_KEY_FILE" "$REG_CERTS_D/$i/client.key"
      done
    fi
  fi
}

# registry_stop [DIR...]: stop the registry and token server of each DIR
# (default: every one started here or in setup_file) and remove DIR.
registry_stop() {
  local -a dirs=()
  local d p keep=""
  if [ $# -gt 0 ]; then
    dirs=("$@")
  else
    IFS=: read -r -a dirs <<< "${REG_STARTED_DIRS:-}"
  fi
  for d in "${dirs[@]}"; do
    [ -n "$d" ] || continue
    # never rm -rf anything registry_start did not make
    case $d in "$REG_TMPBASE"/berth-reg-*) ;; *) _reg_log "not a registry dir: $d"; continue ;; esac
    [ -d "$d" ] || continue
    [ ! -f "$d/registry.pid" ] || _reg_stop_pid "$(cat "$d/registry.pid")" "$d"
    [ ! -f "$d/token.pid" ] || _reg_stop_pid "$(cat "$d/token.pid")" "$d"
    # skopeo's globals that did not exist before this registry started
    if [ -f "$d/globals.before" ]; then
      for p in "${REG_SKOPEO_GLOBALS[@]}"; do
        grep -qxF "$p" "$d/globals.before" && continue
        if [ -d "$p" ]; then rmdir "$p" 2>/dev/null || true; else rm -f "$p"; fi
      done
    fi
    rm -rf "$d"
  done
  # forget the stopped ones
  IFS=: read -r -a dirs <<< "${REG_STARTED_DIRS:-}"
  for d in "${dirs[@]}"; do
    [ -n "$d" ] && [ -d "$d" ] && keep=${keep:+$keep:}$d
  done
  export REG_STARTED_DIRS=$keep
  if [ -n "${REG_DIR:-}" ] && [ ! -d "$REG_DIR" ]; then
    unset REG REG_DIR REG_PID REG_PORT REG_URL REG_LOCALHOST REG_MODE REG_TLS REG_CA \
      REG_CERTS_D REG_USER REG_PASS TOKEN_PID TOKEN_PORT TOKEN_REALM TOKEN_SERVICE \
      TOKEN_ISSUER TOKEN_LOG
  fi
  return 0
}

# ---- images ----------------------------------------------------------------

# make_busybox_rootfs DIR: busybox-static with every applet symlinked in /bin,
# a minimal /etc/passwd and /etc/group, the usual empty mount points.
make_busybox_rootfs() {
  local dir=$1 a
  mkdir -p "$dir"/{bin,etc,dev,proc,sys,tmp,root,var,usr/bin} || return 1
  cp /bin/busybox "$dir/bin/busybox" || return 1
  for a in $("$dir/bin/busybox" --list); do
    [ -e "$dir/bin/$a" ] || ln -s busybox "$dir/bin/$a"
  done
  printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' 'nobody:x:65534:65534:nobody:/nonexistent:/bin/false' \
    > "$dir/etc/passwd"
  printf '%s\n' 'root:x:0:' 'tty:x:5:' 'nogroup:x:65534:' > "$dir/etc/group"
  chmod 755 "$dir" "$dir/bin" "$dir/etc"
  chmod 1777 "$dir/tmp"
  chmod 700 "$dir/root"
}

# _oci_put_blob DIR FILE: move FILE into DIR/blobs/sha256 under its digest;
# prints "sha256:HEX SIZE".
_oci_put_blob() {
  local out=$1 f=$2 hex size
  hex=$(sha256sum "$f" | cut -d' ' -f1) || return 1
  size=$(stat -c %s "$f")
  mv "$f" "$out/blobs/sha256/$hex" || return 1
  echo "sha256:$hex $size"
}

# make_oci_image DIR TAG LAYERDIR...: write (or add TAG to) an OCI image
# layout in DIR, built with tar/gzip/sha256sum/jq only, so every byte is under
# our control and reproducible: one gzip layer per LAYERDIR, bottom first.
# Layer tars: entries named without "./" (as Docker writes them), sorted by
# name, ownership numeric and as in the dir, every mtime = SOURCE_DATE_EPOCH
# (default: OCI_CREATED), PAX format without atime/ctime or pid-named
# headers; gzip -n (no name or time). Whiteouts are ordinary files in the
# LAYERDIR named .wh.NAME (or .wh..wh..opq) and go into the tar as they are.
# Knobs: OCI_CREATED (2024-01-01T00:00:00Z), OCI_LABELS (JSON object),
# OCI_CMD (JSON array, default ["sh"]), OCI_ENTRYPOINT (JSON array),
# OCI_ENV (JSON array of extra "K=V"), OCI_WORKDIR, OCI_USER, OCI_GZIP_LEVEL
# (6), OCI_ARCH (dpkg's architecture as GOARCH).
# Sets OCI_MANIFEST_DIGEST, OCI_MANIFEST_SIZE, OCI_CONFIG_DIGEST,
# OCI_LAYER_DIGESTS and OCI_DIFF_IDS (space-separated, bottom first).
make_oci_image() {
  local out=$1 tag=$2 ld n=0 tmp diff gz dsz
  shift 2
  [ $# -ge 1 ] || { _reg_log "make_oci_image DIR TAG LAYERDIR..."; return 2; }
  local created=${OCI_CREATED:-2024-01-01T00:00:00Z}
  local epoch=${SOURCE_DATE_EPOCH:-$(date -u -d "$created" +%s)}
  local arch=${OCI_ARCH:-$(dpkg --print-architecture 2>/dev/null || echo amd64)}
  case $arch in i386) arch=386 ;; armhf | armel) arch=arm ;; ppc64el) arch=ppc64le ;; esac
  mkdir -p "$out/blobs/sha256" || return 1
  echo '{"imageLayoutVersion":"1.0.0"}' > "$out/oci-layout"
  local layers='[]' diffs='[]' hist='[]'
  OCI_LAYER_DIGESTS="" OCI_DIFF_IDS=""
  for ld in "$@"; do
    [ -d "$ld" ] || { _reg_log "make_oci_image: not a directory: $ld"; return 1; }
    n=$((n + 1))
    tmp=$(mktemp "$out/.layer-XXXXXX") || return 1
    # top-level names, sorted bytewise; tar --sort=name orders the rest
    (cd "$ld" && find . -mindepth 1 -maxdepth 1 -printf '%P\0' | LC_ALL=C sort -z) > "$tmp.list"
    LC_ALL=C tar -C "$ld" --null -T "$tmp.list" --sort=name --numeric-owner \
      --mtime="@$epoch" --format=posix \
      --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
      -cf "$tmp.tar" || { rm -f "$tmp" "$tmp".*; return 1; }
    diff=sha256:$(sha256sum "$tmp.tar" | cut -d' ' -f1)
    gzip -n "-${OCI_GZIP_LEVEL:-6}" -c "$tmp.tar" > "$tmp" || { rm -f "$tmp" "$tmp".*; return 1; }
    rm -f "$tmp.tar" "$tmp.list"
    read -r gz dsz < <(_oci_put_blob "$out" "$tmp")
    layers=$(jq -c --arg d "$gz" --argjson s "$dsz" \
      '. + [{mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: $d, size: $s}]' <<< "$layers")
    diffs=$(jq -c --arg d "$diff" '. + [$d]' <<< "$diffs")
    hist=$(jq -c --arg c "$created" --arg by "berth-test make_oci_image: layer $n from $(basename "$ld")" \
      '. + [{created: $c, created_by: $by}]' <<< "$hist")
    OCI_LAYER_DIGESTS+="${OCI_LAYER_DIGESTS:+ }$gz"
    OCI_DIFF_IDS+="${OCI_DIFF_IDS:+ }$diff"
  done

  local cfgf mf cd csz md msz
  cfgf=$(mktemp "$out/.config-XXXXXX") || return 1
  jq -cnj --arg created "$created" --arg arch "$arch" --argjson diffs "$diffs" --argjson hist "$hist" \
    --argjson labels "${OCI_LABELS:-null}" --argjson cmd "${OCI_CMD:-[\"sh\"]}" \
    --argjson ep "${OCI_ENTRYPOINT:-null}" --argjson env "${OCI_ENV:-[]}" \
    --arg wd "${OCI_WORKDIR:-}" --arg user "${OCI_USER:-}" '
    {created: $created, architecture: $arch, os: "linux",
     config: ({Env: (["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"] + $env),
               Cmd: $cmd}
              + (if $ep then {Entrypoint: $ep} else {} end)
              + (if $labels then {Labels: $labels} else {} end)
              + (if $wd != "" then {WorkingDir: $wd} else {} end)
              + (if $user != "" then {User: $user} else {} end)),
     rootfs: {type: "layers", diff_ids: $diffs},
     history: $hist}' > "$cfgf" || { rm -f "$cfgf"; return 1; }
  read -r cd csz < <(_oci_put_blob "$out" "$cfgf")

  mf=$(mktemp "$out/.manifest-XXXXXX") || return 1
  jq -cnj --arg cd "$cd" --argjson cs "$csz" --argjson layers "$layers" '
    {schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
     config: {mediaType: "application/vnd.oci.image.config.v1+json", digest: $cd, size: $cs},
     layers: $layers}' > "$mf" || { rm -f "$mf"; return 1; }
  read -r md msz < <(_oci_put_blob "$out" "$mf")

  # index.json: replace TAG's entry, keep other tags
  local idx='{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}'
  [ ! -f "$out/index.json" ] || idx=$(cat "$out/index.json")
  jq -c --arg md "$md" --argjson ms "$msz" --arg tag "$tag" '
    .manifests = ([.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] != $tag)]
      + [{mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $md, size: $ms,
          annotations: {"org.opencontainers.image.ref.name": $tag}}])' <<< "$idx" > "$out/index.json.tmp" &&
    mv "$out/index.json.tmp" "$out/index.json" || return 1
  OCI_MANIFEST_DIGEST=$md OCI_MANIFEST_SIZE=$msz OCI_CONFIG_DIGEST=$cd
}

# _reg_skopeo_flags src|dest REF: skopeo options for talking to REF's
# registry into the array _REG_FLAGS: TLS (verify against REG_CERTS_D/HOST
# when we have it), credentials (REG_CREDS, see the header), our empty
# authfile when a registry dir exists.
_reg_skopeo_flags() {
  local side=$1 ref=$2 host pre
  host=${ref%%/*}
  [ "$side" = any ] && pre="" || pre="$side-"
  _REG_FLAGS=()
  if [ -n "${REG_CERTS_D:-}" ] && [ -d "$REG_CERTS_D/$host" ] && [ "${REG_TLS_VERIFY:-1}" != 0 ]; then
    _REG_FLAGS+=("--${pre}cert-dir=$REG_CERTS_D/$host" "--${pre}tls-verify=true")
  else
    _REG_FLAGS+=("--${pre}tls-verify=false")
  fi
  if [ -n "${REG_CREDS+set}" ]; then
    if [ -n "$REG_CREDS" ]; then _REG_FLAGS+=("--${pre}creds=$REG_CREDS"); else _REG_FLAGS+=("--${pre}no-creds"); fi
  elif [ -n "${REG_USER:-}" ] && [ -n "${REG_PASS:-}" ]; then
    _REG_FLAGS+=("--${pre}creds=$REG_USER:$REG_PASS")
  else
    _REG_FLAGS+=("--${pre}no-creds")
  fi
  if [ -n "${REG_DIR:-}" ] && [ -f "$REG_DIR/auth.json" ]; then
    _REG_FLAGS+=("--${pre}authfile=$REG_DIR/auth.json")
  fi
}

_reg_skopeo_global() {
  if [ -n "${REG_DIR:-}" ] && [ -f "$REG_DIR/policy.json" ]; then
    echo "--policy=$REG_DIR/policy.json"
  else
    echo "--insecure-policy"
  fi
}

# push_image DIR REF [TAG]: skopeo copy oci:DIR[:TAG] docker://REF. Without
# TAG, DIR's index must hold exactly one image. Sets PUSHED_DIGEST.
push_image() {
  local dir=$1 ref=$2 tag=${3:-} src fmt=()
  src=oci:$dir${tag:+:$tag}
  [ "${PUSH_FORMAT:-oci}" = oci ] || fmt=(--format "$PUSH_FORMAT")
  _reg_skopeo_flags dest "$ref"
  local df
  df=$(mktemp "${REG_DIR:-${TMPDIR:-/tmp}}/.digest-XXXXXX") || return 1
  skopeo "$(_reg_skopeo_global)" copy -q --retry-times 0 "${fmt[@]}" "${_REG_FLAGS[@]}" \
    --digestfile "$df" "$src" "docker://$ref" || { rm -f "$df"; return 1; }
  PUSHED_DIGEST=$(cat "$df")
  rm -f "$df"
}

# pull_image REF DIR TAG: skopeo copy docker://REF oci:DIR:TAG (to check what
# berth pushed, byte for byte).
pull_image() {
  local ref=$1 dir=$2 tag=$3
  _reg_skopeo_flags src "$ref"
  skopeo "$(_reg_skopeo_global)" copy -q --retry-times 0 "${_REG_FLAGS[@]}" \
    "docker://$ref" "oci:$dir:$tag"
}

# inspect_image REF [ARGS...]: skopeo inspect docker://REF (add --raw for
# the manifest, --config for the config).
inspect_image() {
  local ref=$1
  shift
  _reg_skopeo_flags any "$ref"
  skopeo inspect --retry-times 0 "${_REG_FLAGS[@]}" "$@" "docker://$ref"
}

# Deterministic incompressible bytes: SHA-256 in counter mode.
# _reg_det_bytes SIZE SEED > FILE
_reg_det_bytes() {
  "$REG_PYTHON" -c '
import hashlib, sys
size, seed = int(sys.argv[1]), sys.argv[2].encode()
out, i = bytearray(), 0
while len(out) < size:
    out += hashlib.sha256(seed + i.to_bytes(8, "big")).digest()
    i += 1
sys.stdout.buffer.write(out[:size])' "$1" "$2"
}

# setup_test_image REF: build and push a 3-layer busybox image with known
# content, in OCI form ($TEST_IMAGE_OCI, tag $TEST_IMAGE_TAG):
#   layer 1  busybox rootfs (make_busybox_rootfs) + /data/remove-me,
#            /data/opaque/old.txt, /etc/motd "layer 1"
#   layer 2  /data/hello.txt ("hello from berth\n"), /data/blob.bin (1 MiB,
#            deterministic, sha256 $TEST_IMAGE_SHA256), /data/owned (uid:gid
#            1000:1000, mode 0640), /data/link -> hello.txt (symlink),
#            /data/hardlink (hard link to blob.bin), /data/empty-dir/
#   layer 3  whiteout /data/.wh.remove-me (deletes layer 1's file), opaque
#            /data/opaque/.wh..wh..opq + /data/opaque/new.txt (hides
#            old.txt), /etc/motd "layer 3" (replaces layer 1's)
# Exports TEST_IMAGE_REF TEST_IMAGE_DIGEST (the manifest digest in the
# registry) TEST_IMAGE_OCI TEST_IMAGE_TAG TEST_IMAGE_LAYERS
# TEST_IMAGE_KNOWN_FILE TEST_IMAGE_SHA256 TEST_IMAGE_DELETED
# TEST_IMAGE_HIDDEN, plus TEST_IMAGE_DIFF_IDS.
setup_test_image() {
  local ref=$1 work
  work=$(mktemp -d "${REG_DIR:-${BATS_TEST_TMPDIR:-${TMPDIR:-/tmp}}}/test-image-XXXXXX") || return 1
  local l1=$work/l1 l2=$work/l2 l3=$work/l3
  make_busybox_rootfs "$l1" || return 1
  mkdir -p "$l1/data/opaque" "$l2/data/empty-dir" "$l3/data/opaque" "$l3/etc"
  echo "delete me in layer 3" > "$l1/data/remove-me"
  echo "hidden by layer 3's opaque whiteout" > "$l1/data/opaque/old.txt"
  echo "layer 1" > "$l1/etc/motd"
  echo "hello from berth" > "$l2/data/hello.txt"
  _reg_det_bytes 1048576 berth-test-image > "$l2/data/blob.bin" || return 1
  ln "$l2/data/blob.bin" "$l2/data/hardlink"
  ln -s hello.txt "$l2/data/link"
  echo "owned by 1000:1000" > "$l2/data/owned"
  chown 1000:1000 "$l2/data/owned" && chmod 0640 "$l2/data/owned"
  chmod 755 "$l2/data" "$l2/data/empty-dir" "$l1/data" "$l3/data"
  : > "$l3/data/.wh.remove-me"
  : > "$l3/data/opaque/.wh..wh..opq"
  echo "new in layer 3" > "$l3/data/opaque/new.txt"
  echo "layer 3" > "$l3/etc/motd"
  export TEST_IMAGE_OCI=$work/oci TEST_IMAGE_TAG=test TEST_IMAGE_REF=$ref TEST_IMAGE_LAYERS=3
  export TEST_IMAGE_KNOWN_FILE=/data/blob.bin
  export TEST_IMAGE_SHA256
  TEST_IMAGE_SHA256=$(sha256sum "$l2/data/blob.bin" | cut -d' ' -f1)
  export TEST_IMAGE_DELETED=/data/remove-me TEST_IMAGE_HIDDEN=/data/opaque/old.txt
  OCI_LABELS=${OCI_LABELS:-'{"org.berth.test":"setup_test_image"}'} \
    make_oci_image "$TEST_IMAGE_OCI" "$TEST_IMAGE_TAG" "$l1" "$l2" "$l3" || return 1
  export TEST_IMAGE_DIFF_IDS=$OCI_DIFF_IDS
  rm -rf "$l1" "$l2" "$l3"
  push_image "$TEST_IMAGE_OCI" "$ref" "$TEST_IMAGE_TAG" || return 1
  export TEST_IMAGE_DIGEST=$PUSHED_DIGEST
}
