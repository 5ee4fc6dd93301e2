#!/usr/bin/python3
# A small token server for berth's registry tests, implementing Docker's
# registry token authentication (the "Bearer" flow of distribution's
# docs/spec/auth/token.md) well enough for docker-registry 2.8 to accept its
# tokens. Loopback only; Debian's python3-jwt and python3-cryptography only
# (run with /usr/bin/python3: a pyenv python on PATH lacks them).
#
#   GET  /token?service=S&scope=repository:NAME:pull,push[&scope=...]
#        [&offline_token=true&client_id=X]   with optional Basic auth
#   POST /token  (form: grant_type=password|refresh_token, service, scope,
#        username/password or refresh_token, access_type=offline)  the OAuth2
#        variant that Docker uses once it holds an identity (refresh) token.
#
# Anonymous callers get pull-only grants (like Docker Hub; TOKEN_ANON=none
# grants them nothing); a known user gets the actions listed for it; a wrong
# password is a 401. Requested actions are intersected with what is allowed
# and a token is issued even when nothing is granted: the registry then
# answers 401 insufficient_scope, as with Docker Hub.
#
# How docker-registry 2.8 trusts a token (registry/auth/token/token.go,
# VerifySigningKey): from the JWT header it tries, in order, `x5c` (a cert
# chain that must verify up to a cert in auth.token.rootcertbundle), `jwk`,
# then `kid`, which it looks up among the public keys of rootcertbundle's
# certs by their *libtrust key id*: SHA-256 of the DER SubjectPublicKeyInfo,
# first 30 bytes, base32 without padding, in 12 groups of 4 joined by ':'.
# We sign with that `kid` by default; --sign x5c puts the cert in `x5c`.
# The `aud` claim must be a single string equal to auth.token.service, `iss`
# equal to auth.token.issuer.
#
# Environment knobs:
#   TOKEN_TTL          seconds a token lives (expires_in and exp), default 300
#   TOKEN_EXP_OFFSET   seconds added to the JWT's exp claim only (default 0).
#                      docker-registry accepts a token until exp + 60 s
#                      (its clock-skew leeway): -60 makes the registry refuse
#                      a token exactly TOKEN_TTL seconds after issue.
#   TOKEN_ANON         pull (default) or none: what anonymous callers get.
#
# Every request is logged as one JSON line to --log, so tests can count
# token fetches (e.g. that a client refreshed an expired token).

import argparse
import base64
import datetime
import hashlib
import json
import os
import secrets
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec


def libtrust_key_id(public_key):
    """docker/libtrust's KeyID of a public key (see header comment)."""
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    b32 = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode().rstrip("=")
    return ":".join(b32[i : i + 4] for i in range(0, len(b32), 4))


def parse_scopes(values):
    """'repository:NAME:pull,push' -> (type, name, [actions]). One scope
    parameter may hold several scopes separated by spaces (OAuth2 form);
    NAME may itself contain ':' only in exotic types, so split at both ends."""
    out = []
    for value in values:
        for scope in value.split():
            parts = scope.split(":")
            if len(parts) < 3:
                continue
            out.append((parts[0], ":".join(parts[1:-1]), [a for a in parts[-1].split(",") if a]))
    return out


class State:
    def __init__(self, args):
        with open(args.key, "rb") as f:
            self.key = serialization.load_pem_private_key(f.read(), password=None)
        with open(args.cert, "rb") as f:
            cert = x509.load_pem_x509_certificate(f.read())
        self.alg = "ES256" if isinstance(self.key, ec.EllipticCurvePrivateKey) else "RS256"
        if args.sign == "x5c":
            der = cert.public_bytes(serialization.Encoding.DER)
            self.headers = {"x5c": [base64.b64encode(der).decode()]}
        else:
            self.headers = {"kid": libtrust_key_id(self.key.public_key())}
        self.issuer = args.issuer
        self.service = args.service
        self.users = {}
        for spec in args.user:
            name, password, *rest = spec.split(":", 2)
            actions = set((rest[0] if rest else "pull,push,delete").split(","))
            self.users[name] = (password, actions)
        self.ttl = int(os.environ.get("TOKEN_TTL", "300"))
        self.exp_offset = int(os.environ.get("TOKEN_EXP_OFFSET", "0"))
        anon = os.environ.get("TOKEN_ANON", "pull")
        self.anon_actions = set() if anon == "none" else set(anon.split(","))
        self.refresh_tokens = {}  # opaque refresh token -> user name
        self.lock = threading.Lock()
        self.log_path = args.log

    def log(self, entry):
        if not self.log_path:
            return
        entry["time"] = time.time()
        with self.lock, open(self.log_path, "a") as f:
            f.write(json.dumps(entry) + "\n")

    def allowed(self, user, rtype, name):
        if user is None:
            return self.anon_actions if rtype == "repository" else set()
        actions = self.users[user][1]
        if rtype == "registry":  # registry:catalog:*
            return {"*"}
        return actions | ({"*"} if {"pull", "push", "delete"} <= actions else set())

    def issue(self, user, scopes, offline):
        now = int(time.time())
        access = []
        for rtype, name, actions in scopes:
            granted = [a for a in actions if a in self.allowed(user, rtype, name)]
            access.append({"type": rtype, "name": name, "actions": granted})
        claims = {
            "iss": self.issuer,
            "sub": user or "",
            "aud": self.service,
            "exp": now + self.ttl + self.exp_offset,
            "nbf": now,
            "iat": now,
            "jti": secrets.token_hex(16),
            "access": access,
        }
        token = jwt.encode(claims, self.key, algorithm=self.alg, headers=self.headers)
        body = {
            "token": token,
            "access_token": token,
            "expires_in": self.ttl,
            "issued_at": datetime.datetime.fromtimestamp(now, datetime.timezone.utc)
            .isoformat()
            .replace("+00:00", "Z"),
        }
        if offline and user is not None:
            rt = secrets.token_urlsafe(24)
            with self.lock:
                self.refresh_tokens[rt] = user
            body["refresh_token"] = rt
        return body, access


class Handler(BaseHTTPRequestHandler):
    server_version = "berth-test-token/1"
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # stderr goes to the caller's log file
        sys.stderr.write("%s %s\n" % (self.address_string(), fmt % args))

    def reply(self, code, body, extra_headers=()):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in extra_headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def basic_user(self):
        """None for anonymous, the user name, or False for bad credentials."""
        st = self.server.state
        hdr = self.headers.get("Authorization", "")
        if not hdr.lower().startswith("basic "):
            return None
        try:
            name, password = base64.b64decode(hdr[6:].strip()).decode().split(":", 1)
        except Exception:
            return False
        if name in st.users and secrets.compare_digest(st.users[name][0], password):
            return name
        return False

    def finish_request(self, user, params, offline, method):
        st = self.server.state
        service = params.get("service", [""])[0]
        entry = {"method": method, "user": user, "service": service, "scopes": params.get("scope", [])}
        if user is False:
            entry["status"] = 401
            st.log(entry)
            self.reply(401, {"details": "incorrect username or password"},
                       [("WWW-Authenticate", 'Basic realm="berth-test-token"')])
            return
        if service != st.service:
            entry["status"] = 400
            st.log(entry)
            self.reply(400, {"details": "unknown service %r" % service})
            return
        body, access = st.issue(user, parse_scopes(params.get("scope", [])), offline)
        entry.update(status=200, granted=access, anonymous=user is None)
        st.log(entry)
        self.reply(200, body)

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path != "/token":
            self.reply(404, {"details": "not found"})
            return
        params = urllib.parse.parse_qs(url.query)
        offline = params.get("offline_token", ["false"])[0] == "true"
        self.finish_request(self.basic_user(), params, offline, "GET")

    def do_POST(self):
        url = urllib.parse.urlsplit(self.path)
        length = int(self.headers.get("Content-Length", "0"))
        form = urllib.parse.parse_qs(self.rfile.read(length).decode())
        if url.path != "/token":
            self.reply(404, {"details": "not found"})
            return
        st = self.server.state
        grant = form.get("grant_type", [""])[0]
        if grant == "password":
            name = form.get("username", [""])[0]
            password = form.get("password", [""])[0]
            ok = name in st.users and secrets.compare_digest(st.users[name][0], password)
            user = name if ok else False
        elif grant == "refresh_token":
            with st.lock:
                user = st.refresh_tokens.get(form.get("refresh_token", [""])[0], False)
        else:
            self.reply(400, {"error": "unsupported_grant_type"})
            return
        offline = form.get("access_type", [""])[0] == "offline"
        self.finish_request(user, form, offline, "POST")


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--listen", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0: pick a free one")
    p.add_argument("--port-file", required=True, help="written once listening")
    p.add_argument("--key", required=True, help="PEM private key (EC P-256 or RSA)")
    p.add_argument("--cert", required=True, help="PEM cert of that key (in rootcertbundle)")
    p.add_argument("--issuer", required=True)
    p.add_argument("--service", required=True)
    p.add_argument("--user", action="append", default=[], help="NAME:PASS[:ACTIONS]")
    p.add_argument("--sign", choices=["kid", "x5c"], default="kid")
    p.add_argument("--log", default="")
    args = p.parse_args()
    if not args.listen.startswith("127.") and args.listen not in ("::1", "localhost"):
        sys.exit("token-server: loopback addresses only")
    server = ThreadingHTTPServer((args.listen, args.port), Handler)
    server.daemon_threads = True
    server.state = State(args)
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % server.server_address[1])
    os.rename(tmp, args.port_file)  # readers never see a half-written file
    server.serve_forever()


if __name__ == "__main__":
    main()
