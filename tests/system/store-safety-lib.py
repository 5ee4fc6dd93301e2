#!/usr/bin/python3
# Helpers for image-store-safety.bats. python3 stdlib only, loopback only.
#
#   registry --port-file F [--lifetime S]
#       A registry with two images, "one" and "two" (one small gzip layer
#       each), served under timed repositories:
#         race/a      image one; its layer answers 404 after 1.5 s
#         race/b      image one; its layer arrives after 3 s
#         race/slow   image two; its layer arrives after 3 s
#         ok/one      image one, at once
#   archive OUT NAME[,NAME..] [--layers N] [--mb M] [--junk K]
#       A docker-archive (gzip'd when OUT ends in .gz) of one image per NAME,
#       in that order; each image's content derives from its name, so two
#       archives naming the same image hold the same image. --layers N
#       layers of M MiB of random bytes each; --junk K adds K legacy
#       "<n>/json" entries of 8 MiB of zeros that nothing references.
import gzip
import hashlib
import io
import json
import os
import sys
import tarfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def digest(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


def layer_tar(name, idx, size):
    data = b""
    seed = ("%s-%d" % (name, idx)).encode()
    chunks = []
    n = 0
    while n < size:
        seed = hashlib.sha256(seed).digest()
        chunks.append(seed)
        n += len(seed)
    data = b"".join(chunks)[:size]
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        ti = tarfile.TarInfo("%s-%d.bin" % (name.replace("/", "_").replace(":", "_"), idx))
        ti.size, ti.mode, ti.mtime = len(data), 0o644, 1704067200
        tf.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def config(name, diff_ids):
    return json.dumps({
        "architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z",
        "config": {"Cmd": ["sh"], "Labels": {"image": name}},
        "rootfs": {"type": "layers", "diff_ids": diff_ids}}, sort_keys=True).encode()


# ---- registry -------------------------------------------------------------

BLOBS = {}
IMAGES = {}


def make_registry_image(name):
    plain = layer_tar(name, 0, 4096)
    gz = gzip.compress(plain, mtime=0)
    cfg = config(name, [digest(plain)])
    BLOBS[digest(gz)] = gz
    BLOBS[digest(cfg)] = cfg
    m = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": digest(cfg), "size": len(cfg)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": digest(gz), "size": len(gz)}]}).encode()
    IMAGES[name] = (m, digest(gz))


REPOS = {"race/a": ("one", 1.5, 404), "race/b": ("one", 3, 200),
         "race/slow": ("two", 3, 200), "ok/one": ("one", 0, 200)}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def reply(self, status, body=b"", headers=None):
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Docker-Distribution-Api-Version", "registry/2.0")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path == "/v2/":
            return self.reply(200, b"{}", {"Content-Type": "application/json"})
        for kind in ("/manifests/", "/blobs/"):
            if path.startswith("/v2/") and kind in path:
                repo, ref = path[4:].rsplit(kind, 1)
                break
        else:
            return self.reply(404)
        if repo not in REPOS:
            return self.reply(404)
        img, delay, status = REPOS[repo]
        m, layer = IMAGES[img]
        if kind == "/manifests/":
            return self.reply(200, m, {"Content-Type": json.loads(m)["mediaType"],
                                       "Docker-Content-Digest": digest(m)})
        if ref == layer:
            time.sleep(delay)
            if status != 200:
                return self.reply(status, b'{"errors":[{"code":"BLOB_UNKNOWN",'
                                  b'"message":"gone"}]}', {"Content-Type": "application/json"})
        blob = BLOBS.get(ref)
        if blob is None:
            return self.reply(404)
        return self.reply(200, blob, {"Content-Type": "application/octet-stream",
                                      "Docker-Content-Digest": ref})

    do_HEAD = do_GET


def registry(args):
    port_file = args[args.index("--port-file") + 1]
    lifetime = float(args[args.index("--lifetime") + 1]) if "--lifetime" in args else 120
    make_registry_image("one")
    make_registry_image("two")
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    with open(port_file + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(port_file + ".tmp", port_file)
    threading.Timer(lifetime, lambda: os._exit(0)).start()
    srv.serve_forever()


# ---- archive --------------------------------------------------------------

def add(tf, name, data):
    ti = tarfile.TarInfo(name)
    ti.size, ti.mode, ti.mtime = len(data), 0o644, 1704067200
    tf.addfile(ti, io.BytesIO(data))


def archive(args):
    out, names = args[0], args[1].split(",")
    opt = lambda k, d: int(args[args.index(k) + 1]) if k in args else d
    n_layers, mb, junk = opt("--layers", 1), opt("--mb", 0), opt("--junk", 0)
    raw = open(out, "wb")
    fobj = gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) if out.endswith(".gz") else raw
    with tarfile.open(fileobj=fobj, mode="w|", format=tarfile.PAX_FORMAT) as tf:
        zeros = bytes(8 << 20)
        for k in range(junk):
            add(tf, "junk%d/json" % k, zeros)
        manifest = []
        for name in names:
            paths, diffs = [], []
            for i in range(n_layers):
                t = layer_tar(name, i, max(mb << 20, 1024))
                p = "blobs/sha256/" + digest(t)[7:]
                add(tf, p, t)
                paths.append(p)
                diffs.append(digest(t))
            cfg = config(name, diffs)
            cp = "blobs/sha256/" + digest(cfg)[7:]
            add(tf, cp, cfg)
            manifest.append({"Config": cp, "RepoTags": [name], "Layers": paths})
        add(tf, "manifest.json", json.dumps(manifest).encode())
    if fobj is not raw:
        fobj.close()
    raw.close()


if __name__ == "__main__":
    {"registry": registry, "archive": archive}[sys.argv[1]](sys.argv[2:])
