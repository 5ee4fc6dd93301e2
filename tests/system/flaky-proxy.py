#!/usr/bin/python3
# A misbehaving HTTP front for a loopback registry, for berth's pull tests.
# Loopback only. One request per client connection (answers carry
# "Connection: close"), forwarded to --target unchanged (Range included).
#
#   --mode hang         accept connections, never read or answer them
#   --mode proxy        forward, with these faults:
#     --drop-after N    the first blob GET whose body is longer than N bytes
#                       is cut after N bytes of body (connection closed)
#     --delay S         sleep S seconds before forwarding the first blob GET
#   --port-file F       where the listening port is written
#   --log F             one line per request: method, path, Range header
import argparse
import socket
import sys
import threading
import time


def read_head(sock):
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            return None, b""
        buf += chunk
        if len(buf) > 1 << 20:
            return None, b""
    head, rest = buf.split(b"\r\n\r\n", 1)
    return head.decode("latin-1"), rest


def header(head, name):
    for line in head.split("\r\n")[1:]:
        k, _, v = line.partition(":")
        if k.strip().lower() == name:
            return v.strip()
    return None


class Proxy:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.dropped = False
        self.delayed = False
        host, port = args.target.rsplit(":", 1) if args.target else ("127.0.0.1", "0")
        self.target = (host, int(port))

    def log(self, line):
        if self.args.log:
            with self.lock, open(self.args.log, "a") as f:
                f.write(line + "\n")

    def once(self, attr):
        with self.lock:
            if getattr(self, attr):
                return False
            setattr(self, attr, True)
            return True

    def handle(self, client):
        try:
            # A TLS ClientHello (berth tries HTTPS first on insecure
            # registries): refuse it at once, as a plain HTTP server does.
            first = client.recv(1, socket.MSG_PEEK)
            if not first or first[0] == 0x16:
                return
            head, rest = read_head(client)
            if head is None:
                return
            method, path = head.split(" ")[0], head.split(" ")[1]
            self.log("%s %s range=%s" % (method, path, header(head, "range")))
            length = int(header(head, "content-length") or 0)
            body = rest
            while len(body) < length:
                chunk = client.recv(65536)
                if not chunk:
                    break
                body += chunk
            is_blob_get = method == "GET" and "/blobs/sha256:" in path
            if is_blob_get and self.args.delay and self.once("delayed"):
                time.sleep(self.args.delay)
            lines = [l for l in head.split("\r\n") if not l.lower().startswith("connection:")]
            up = socket.create_connection(self.target)
            up.sendall(("\r\n".join(lines) + "\r\nConnection: close\r\n\r\n").encode("latin-1") + body)
            rhead, rbody = read_head(up)
            if rhead is None:
                return
            rlines = [l for l in rhead.split("\r\n") if not l.lower().startswith("connection:")]
            client.sendall(("\r\n".join(rlines) + "\r\nConnection: close\r\n\r\n").encode("latin-1"))
            clen = int(header(rhead, "content-length") or -1)
            cut = None
            if (is_blob_get and self.args.drop_after and clen > self.args.drop_after
                    and self.once("dropped")):
                cut = self.args.drop_after
                self.log("DROP %s after %d bytes" % (path, cut))
            sent = 0
            while True:
                if rbody:
                    if cut is not None and sent + len(rbody) >= cut:
                        client.sendall(rbody[: cut - sent])
                        return
                    client.sendall(rbody)
                    sent += len(rbody)
                rbody = up.recv(65536)
                if not rbody:
                    break
            up.close()
        except OSError:
            pass
        finally:
            try:
                client.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            client.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", choices=["hang", "proxy"], default="proxy")
    ap.add_argument("--target")
    ap.add_argument("--drop-after", type=int, default=0)
    ap.add_argument("--delay", type=float, default=0)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log")
    args = ap.parse_args()
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(64)
    with open(args.port_file + ".tmp", "w") as f:
        f.write(str(srv.getsockname()[1]))
    import os

    os.rename(args.port_file + ".tmp", args.port_file)
    proxy = Proxy(args)
    held = []
    while True:
        c, _ = srv.accept()
        if args.mode == "hang":
            held.append(c)  # never answered, never closed
            continue
        threading.Thread(target=proxy.handle, args=(c,), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
