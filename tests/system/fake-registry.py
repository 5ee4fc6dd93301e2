#!/usr/bin/python3
# A scripted fake registry for berth's bad-input pull tests
# (image-pull-badinput.bats). python3 stdlib only, loopback only, exits by
# itself after --lifetime seconds. Each repository name gets a crafted
# answer (see SCENARIOS below); "ok/img" is a small valid image.
#
#   --port-file F   the port, written once listening (renamed into place)
#   --log F         one line per request: METHOD PATH STATUS [range=...]
#   --canary DIR    absolute directory the malicious layers aim at
#   --default NAME  scenario for repositories not in the table (notfound)
#   --lifetime S    exit after S seconds (default 300)
#   --upload-to URL base of the upload Location for repositories named
#                   "*/elsewhere" (a host the registry does not own)
#
# Push: POST/PATCH/PUT blob uploads, PUT manifests, DELETE, kept per
# repository. Repositories under "basic/" want Basic berth:s3cret-pw, under
# "bearer/" a token from GET /token/N (each challenge names a new realm
# /token/N, so a client re-learns the realm on every 401). The log line of
# a request that carried an Authorization header ends with " auth=<scheme>".
# Paths outside /v2/ (the --upload-to side) accept any upload.
#
# A TLS ClientHello (berth tries HTTPS first on loopback registries) is
# refused by closing the connection, as flaky-proxy.py does.
import argparse
import base64
import gzip
import hashlib
import io
import json
import os
import socket
import sys
import tarfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"

BLOBS = {}  # digest -> bytes
LOCK = threading.Lock()
COUNTS = {}  # (repo, kind) -> requests seen
PUSHED = {}  # repo -> {digest or tag: bytes}, for the push repositories
UPLOADS = {}  # upload id -> bytearray
REALMS = [0]  # challenges sent so far (bearer/)
BASIC_CREDS = base64.b64encode(b"berth:s3cret-pw").decode()
# A terminal title change and a colour: what must never reach a terminal.
ESC_SEQ = "\x1b]0;PWNED\x07\x1b[31m"


def digest(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


def put_blob(b):
    d = digest(b)
    BLOBS[d] = b
    return d


def tar_layer(entries):
    """entries: (name, kind, data_or_target). kind: file, dir, symlink,
    hardlink. Returns (gzip bytes, diff_id)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, kind, val in entries:
            ti = tarfile.TarInfo(name)
            ti.mtime = 1704067200
            if kind == "file":
                ti.size = len(val)
                ti.mode = 0o644
                tf.addfile(ti, io.BytesIO(val))
                continue
            if kind == "dir":
                ti.type, ti.mode = tarfile.DIRTYPE, 0o755
            elif kind == "symlink":
                ti.type, ti.linkname, ti.mode = tarfile.SYMTYPE, val, 0o777
            elif kind == "hardlink":
                ti.type, ti.linkname, ti.mode = tarfile.LNKTYPE, val, 0o644
            tf.addfile(ti)
    plain = buf.getvalue()
    return gzip.compress(plain, compresslevel=6, mtime=0), digest(plain)


def make_config(diff_ids):
    return json.dumps({
        "architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z",
        "config": {"Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }, sort_keys=True).encode()


def make_manifest(config, layers, media_type=OCI_MANIFEST, extra=None):
    doc = {
        "schemaVersion": 2, "mediaType": media_type,
        "config": {"mediaType": OCI_CONFIG, "digest": put_blob(config), "size": len(config)},
        "layers": [{"mediaType": OCI_LAYER, "digest": put_blob(gz), "size": len(gz)}
                   for gz in layers],
    }
    if extra:
        doc.update(extra)
    return json.dumps(doc).encode()


def image(entries_per_layer, config_override=None, extra_diff_ids=0):
    gzs, diffs = [], []
    for entries in entries_per_layer:
        gz, d = tar_layer(entries)
        gzs.append(gz)
        diffs.append(d)
    diffs += ["sha256:" + ("%064x" % (i + 1)) for i in range(extra_diff_ids)]
    config = config_override if config_override is not None else make_config(diffs)
    return make_manifest(config, gzs), gzs


def error_body(code, message):
    return json.dumps({"errors": [{"code": code, "message": message}]}).encode()


def build(canary):
    """Scenario table: repo -> dict(manifest=bytes, ctype=str, fail=(status,
    headers, body) for every manifest GET, fail_first=... once, truncate=True)."""
    s = {}
    good, good_layers = image([[("hello.txt", "file", b"hello from the fake registry\n")]])
    s["ok/img"] = {"manifest": good}
    s["bad/malformed"] = {"manifest": b'{"schemaVersion": 2, "mediaType": "' +
                          OCI_MANIFEST.encode() + b'", "config": {"mediaType": '}
    pad = "x" * (5 << 20)
    s["bad/huge"] = {"manifest": make_manifest(make_config([]), [],
                                               extra={"annotations": {"pad": pad}})}
    s["bad/nested"] = {"manifest": b"[" * 200000 + b"]" * 200000}
    unknown = "application/vnd.example.unknown+json"
    body = json.loads(good)
    body["mediaType"] = unknown
    s["bad/mediatype"] = {"manifest": json.dumps(body).encode(), "ctype": unknown}
    s["bad/mismatch"] = {"manifest": good, "ctype": OCI_INDEX}
    s["bad/confignotjson"] = {"manifest": image([[("a", "file", b"a\n")]],
                                                config_override=b"this is not JSON\n")[0]}
    s["bad/diffids"] = {"manifest": image([[("b", "file", b"b\n")]], extra_diff_ids=1)[0]}
    big = json.loads(image([[("c", "file", b"c\n")]])[0])
    big["config"]["size"] = 9 << 20
    s["bad/bigconfig"] = {"manifest": json.dumps(big).encode()}
    cfg = make_config([])
    fake = [{"mediaType": OCI_LAYER, "digest": "sha256:" + ("%064x" % (i + 1)), "size": 32}
            for i in range(129)]
    s["bad/layers129"] = {"manifest": json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": put_blob(cfg), "size": len(cfg)},
        "layers": fake}).encode()}
    # a layer of incompressible bytes, so half of the gzip is half the data
    rnd = b"".join(hashlib.sha256(b"trunc%d" % i).digest() for i in range(8192))
    s["bad/truncated"] = {"manifest": image([[("random.bin", "file", rnd)]])[0],
                          "truncate": True}
    s["bad/denied"] = {"fail": (403, {}, error_body(
        "DENIED", "requested access to the resource is denied"))}
    s["rate/once"] = {"manifest": good, "fail_first": (429, {"Retry-After": "1"}, error_body(
        "TOOMANYREQUESTS", "slow down"))}
    s["rate/always"] = {"fail": (429, {"Retry-After": "1"}, error_body(
        "TOOMANYREQUESTS", "You have reached your pull rate limit"))}
    s["down/503"] = {"fail": (503, {}, b"")}
    s["down/500"] = {"fail": (500, {}, error_body("UNKNOWN", "boom"))}
    s["notfound"] = {"fail": (404, {}, error_body("MANIFEST_UNKNOWN", "manifest unknown"))}
    # Malicious layers. Enough "../" to climb to "/" from any depth, then
    # the canary's absolute path: a careless unpacker writes exactly there.
    up = "../" * 40
    target = canary.strip("/")
    s["evil/dotdot"] = {"manifest": image([[
        ("ok.txt", "file", b"fine\n"),
        (up + target + "/escaped", "file", b"ESCAPED via ../\n")]])[0]}
    s["evil/symlink"] = {"manifest": image([[
        ("passwd", "symlink", "/" + target + "/passwd"),
        ("passwd", "file", b"ESCAPED through an absolute file symlink\n"),
        ("etc", "symlink", "/" + target),
        ("etc/escaped", "file", b"ESCAPED through an absolute dir symlink\n")]])[0]}
    s["evil/symlink-hardlink"] = {"manifest": image([[
        ("etc", "symlink", "/" + target),
        ("stolen", "hardlink", "etc/passwd"),
        ("stolen", "file", b"ESCAPED through a hardlink via a symlink\n")]])[0]}
    s["evil/hardlink"] = {"manifest": image([[
        ("ok.txt", "file", b"fine\n"),
        ("stolen", "hardlink", up + target + "/passwd"),
        ("stolen", "file", b"ESCAPED through a hardlink\n")]])[0]}
    # Terminal escapes in the reason phrase, the error code, the digest header.
    s["evil/reason"] = {"fail": (418, {}, b""), "reason": ESC_SEQ + "teapot"}
    s["evil/code"] = {"fail": (404, {}, json.dumps({"errors": [{
        "code": ESC_SEQ + "MANIFEST_UNKNOWN", "message": ESC_SEQ + "gone"}]}).encode())}
    s["evil/digest"] = {"manifest": good, "digest": "sha256:" + ESC_SEQ + "0" * 40}
    s["evil/ctype"] = {"manifest": good, "ctype": "application/" + ESC_SEQ + "x+json"}
    # A mirror that wants Basic auth for the layers: the first layer is
    # refused at once; the second answers 503 after 1 s (so its retry comes
    # after the first layer's 401 taught the client "Basic"), then 401.
    two, two_layers = image([[("one", "file", b"one\n")], [("two", "file", b"two\n")]])
    s["mirror-basic"] = {"manifest": two, "deny_blob": digest(two_layers[0]),
                         "slow_blob": digest(two_layers[1])}
    # Several layers, for pushes with parallel uploads.
    many, _ = image([[("f%d" % i, "file", b"layer %d\n" % i)] for i in range(6)])
    s["ok/multi"] = {"manifest": many}
    return s


def repo_of(path):
    """/v2/<repo>/(manifests|blobs)/... -> (repo, kind, rest) or None."""
    if not path.startswith("/v2/"):
        return None
    rest = path[4:]
    for kind in ("/blobs/uploads/", "/manifests/", "/blobs/"):
        if kind in rest:
            repo, ref = rest.split(kind, 1) if kind == "/blobs/uploads/" else rest.rsplit(kind, 1)
            return repo, kind, ref
    return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-registry/1"

    def log_message(self, *a):
        pass

    def note(self, status, extra=""):
        a = self.headers.get("Authorization")
        if a:
            extra += " auth=" + a.split(" ", 1)[0]
        with LOCK, open(self.server.args.log, "a") as f:
            f.write("%s %s %d%s\n" % (self.command, self.path, status, extra))

    def reply(self, status, body=b"", ctype="application/json", headers=None, length=None,
              reason=None):
        self.note(status, " range=%s" % self.headers.get("Range") if self.headers.get("Range")
                  else "")
        self.send_response(status, reason)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.send_header("Docker-Distribution-Api-Version", "registry/2.0")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def count(self, repo, kind):
        with LOCK:
            COUNTS[(repo, kind)] = COUNTS.get((repo, kind), 0) + 1
            return COUNTS[(repo, kind)]

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def authorized(self, repo):
        """None when the request may go on, else the 401 has been sent."""
        a = self.headers.get("Authorization") or ""
        if repo.startswith("basic/"):
            if a == "Basic " + BASIC_CREDS:
                return None
            return self.reply(401, error_body("UNAUTHORIZED", "authentication required"),
                              headers={"WWW-Authenticate": 'Basic realm="fake"'}) or True
        if repo.startswith("bearer/"):
            if a.startswith("Bearer fake-token-"):
                return None
            with LOCK:
                REALMS[0] += 1
                n = REALMS[0]
            realm = "http://127.0.0.1:%d/token/%d/%s" % (self.server.server_address[1], n,
                                                          "r" * 200)
            ch = 'Bearer realm="%s",service="fake",scope="repository:%s:pull,push"' % (realm,
                                                                                      repo)
            return self.reply(401, error_body("UNAUTHORIZED", "authentication required"),
                              headers={"WWW-Authenticate": ch}) or True
        return None

    def upload_location(self, repo, uid):
        if repo.endswith("/elsewhere") and self.server.args.upload_to:
            return "%s/upload/%s?_state=SECRET-STATE-%s" % (self.server.args.upload_to, uid, uid)
        return "/v2/%s/blobs/uploads/%s?_state=SECRET-STATE-%s" % (repo, uid, uid)

    def do_POST(self):
        self.body()
        r = repo_of(self.path.split("?", 1)[0])
        if not r or r[1] != "/blobs/uploads/":
            return self.reply(404, error_body("NOT_FOUND", "not found"))
        if self.authorized(r[0]):
            return
        uid = uuid.uuid4().hex
        with LOCK:
            UPLOADS[uid] = bytearray()
        return self.reply(202, headers={"Location": self.upload_location(r[0], uid),
                                        "Docker-Upload-UUID": uid, "Range": "0-0"})

    def do_PATCH(self):
        data = self.body()
        path = self.path.split("?", 1)[0]
        r = repo_of(path)
        if not r:
            return self.reply(202, headers={"Location": self.path})
        if self.authorized(r[0]):
            return
        uid = r[2].strip("/")
        with LOCK:
            if uid not in UPLOADS:
                return self.reply(404, error_body("BLOB_UPLOAD_UNKNOWN", "upload unknown"))
            UPLOADS[uid] += data
            n = len(UPLOADS[uid])
        return self.reply(202, headers={"Location": self.upload_location(r[0], uid),
                                        "Range": "0-%d" % (n - 1)})

    def do_PUT(self):
        data = self.body()
        path, _, query = self.path.partition("?")
        r = repo_of(path)
        if not r:
            # the host an upload Location named: takes anything
            return self.reply(201)
        repo, kind, ref = r
        if self.authorized(repo):
            return
        if kind == "/manifests/":
            with LOCK:
                PUSHED.setdefault(repo, {})[ref] = data
                PUSHED[repo][digest(data)] = data
            return self.reply(201, headers={"Docker-Content-Digest": digest(data)})
        if kind != "/blobs/uploads/":
            return self.reply(405, error_body("UNSUPPORTED", "unsupported"))
        want = dict(kv.split("=", 1) for kv in query.split("&") if "=" in kv).get("digest")
        uid = ref.strip("/")
        with LOCK:
            blob = bytes(UPLOADS.pop(uid, b"")) + data
            if want != digest(blob):
                return self.reply(400, error_body("DIGEST_INVALID", "digest invalid"))
            PUSHED.setdefault(repo, {})[want] = blob
        return self.reply(201, headers={"Docker-Content-Digest": want,
                                        "Location": "/v2/%s/blobs/%s" % (repo, want)})

    def do_DELETE(self):
        self.body()
        return self.reply(204)

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path == "/v2/":
            return self.reply(200, b"{}")
        if path.startswith("/token/"):
            n = path.split("/")[2]
            return self.reply(200, json.dumps({"token": "fake-token-" + n,
                                               "expires_in": 300}).encode())
        r = repo_of(path)
        if r and (r[0].startswith("basic/") or r[0].startswith("bearer/")):
            repo, kind, ref = r
            if self.authorized(repo):
                return
            blob = PUSHED.get(repo, {}).get(ref)
            if blob is None:
                return self.reply(404, error_body("BLOB_UNKNOWN" if kind == "/blobs/" else
                                                  "MANIFEST_UNKNOWN", "unknown"))
            return self.reply(200, blob, ctype="application/octet-stream",
                              headers={"Docker-Content-Digest": ref})
        if not path.startswith("/v2/"):
            return self.reply(404, error_body("NOT_FOUND", "not found"))
        rest = path[4:]
        for kind in ("/manifests/", "/blobs/"):
            if kind in rest:
                repo, ref = rest.rsplit(kind, 1)
                break
        else:
            return self.reply(404, error_body("NOT_FOUND", "not found"))
        sc = self.server.scenarios.get(repo) or self.server.scenarios[self.server.args.default]
        n = self.count(repo, kind)
        if "fail" in sc and kind == "/manifests/":
            st, hdrs, body = sc["fail"]
            return self.reply(st, body, headers=hdrs, reason=sc.get("reason"))
        if "fail_first" in sc and kind == "/manifests/" and n == 1:
            st, hdrs, body = sc["fail_first"]
            return self.reply(st, body, headers=hdrs)
        if kind == "/manifests/":
            m = sc["manifest"]
            if ref.startswith("sha256:") and ref != digest(m):
                return self.reply(404, error_body("MANIFEST_UNKNOWN", "manifest unknown"))
            return self.reply(200, m, ctype=sc.get("ctype") or served_type(m),
                headers={"Docker-Content-Digest": sc.get("digest") or digest(m)})
        seen = self.count(repo, "blob " + ref)
        if ref == sc.get("deny_blob") or (ref == sc.get("slow_blob") and seen > 1):
            return self.reply(401, error_body("UNAUTHORIZED", "authentication required"),
                              headers={"WWW-Authenticate": 'Basic realm="mirror"'})
        if ref == sc.get("slow_blob"):
            time.sleep(1)
            return self.reply(503, error_body("UNAVAILABLE", "try again"))
        blob = BLOBS.get(ref)
        if blob is None:
            return self.reply(404, error_body("BLOB_UNKNOWN", "blob unknown to registry"))
        if sc.get("truncate") and len(blob) > 4096:
            # Honour Range, but never send a byte past the middle of the blob:
            # every attempt ends with the connection closed early.
            start = 0
            rng = self.headers.get("Range")
            if rng and rng.startswith("bytes=") and rng.endswith("-"):
                start = int(rng[6:-1])
            cut = len(blob) // 2
            status = 206 if start else 200
            self.note(status, " range=%s TRUNCATED at %d of %d" % (rng, cut, len(blob)))
            self.send_response(status)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(blob) - start))
            if start:
                self.send_header("Content-Range", "bytes %d-%d/%d" % (start, len(blob) - 1,
                                                                      len(blob)))
            self.end_headers()
            if start < cut:
                self.wfile.write(blob[start:cut])
            self.wfile.flush()
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        return self.reply(200, blob, ctype="application/octet-stream",
                          headers={"Docker-Content-Digest": ref})

    def do_HEAD(self):
        self.do_GET()


def served_type(b):
    """The document's own mediaType, else the OCI manifest type."""
    try:
        return json.loads(b).get("mediaType") or OCI_MANIFEST
    except (ValueError, AttributeError, RecursionError):
        return OCI_MANIFEST


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def finish_request(self, request, client_address):
        try:
            first = request.recv(1, socket.MSG_PEEK)
        except OSError:
            return
        if not first or first[0] == 0x16:
            return
        super().finish_request(request, client_address)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--canary", default="/nonexistent/berth-canary")
    ap.add_argument("--default", default="notfound")
    ap.add_argument("--lifetime", type=float, default=300)
    ap.add_argument("--upload-to", default="")
    args = ap.parse_args()
    srv = Server(("127.0.0.1", 0), Handler)
    srv.args = args
    srv.scenarios = build(os.path.abspath(args.canary))
    if args.default not in srv.scenarios:
        ap.error("unknown scenario %s" % args.default)
    timer = threading.Timer(args.lifetime, lambda: os._exit(0))
    timer.daemon = True
    timer.start()
    with open(args.port_file + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(args.port_file + ".tmp", args.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
