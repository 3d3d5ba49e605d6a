#!/usr/bin/env python3
"""A small WKD / HKP / VKS key server for postseal's key discovery tests.

Serves, over HTTPS (cert from the test CA) on 127.0.0.1:PORT, files from ROOT:
  WKD advanced  GET /.well-known/openpgpkey/DOMAIN/hu/HASH   -> ROOT/wkd/DOMAIN/HASH
  WKD direct    GET /.well-known/openpgpkey/hu/HASH (Host)   -> ROOT/wkd/HOST/HASH
  HKP           GET /pks/lookup?op=get&options=mr&search=A   -> ROOT/hkp/A (lowercased)
  VKS           GET /vks/v1/by-email/A                       -> ROOT/vks/A (lowercased)
Missing file: 404.  A file ROOT/status.N (N = 500, 503...) makes every answer
that status.  A file ROOT/delay holding seconds makes every answer wait that
long first (the "slow server").  Every request is appended to LOG as
"KIND HOST PATH STATUS" and flushed at once, so tests can count queries.
"""
import http.server
import os
import ssl
import sys
import time
import urllib.parse

port, root, log, cert, key = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]


def safe(name):
    return name and "/" not in name and not name.startswith(".")


class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_message(self, *args):
        pass

    def answer(self, kind, path):
        try:
            with open(os.path.join(root, "delay")) as f:
                time.sleep(float(f.read().strip() or 0))
        except FileNotFoundError:
            pass
        status, body = 404, b"not found\n"
        forced = [f for f in os.listdir(root) if f.startswith("status.")]
        if forced:
            status, body = int(forced[0][7:]), b"server failure\n"
        elif path is not None and os.path.isfile(path):
            with open(path, "rb") as f:
                status, body = 200, f.read()
        with open(log, "a") as f:
            f.write("%s %s %s %d\n" % (kind, self.headers.get("Host", "-"), self.path, status))
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def do_GET(self):
        u = urllib.parse.urlsplit(self.path)
        p = u.path.split("/")
        q = urllib.parse.parse_qs(u.query)
        host = (self.headers.get("Host") or "").split(":")[0].lower()
        if len(p) == 6 and p[1:3] == [".well-known", "openpgpkey"] and p[4] == "hu" and safe(p[3]) and safe(p[5]):
            return self.answer("wkd-advanced", os.path.join(root, "wkd", p[3], p[5]))
        if len(p) == 5 and p[1:4] == [".well-known", "openpgpkey", "hu"] and safe(p[4]) and safe(host):
            return self.answer("wkd-direct", os.path.join(root, "wkd", host, p[4]))
        if u.path == "/pks/lookup" and q.get("op") == ["get"] and "search" in q:
            a = q["search"][0].lower()
            return self.answer("hkp", os.path.join(root, "hkp", a) if safe(a) else None)
        if len(p) == 5 and p[1:4] == ["vks", "v1", "by-email"]:
            a = urllib.parse.unquote(p[4]).lower()
            return self.answer("vks", os.path.join(root, "vks", a) if safe(a) else None)
        return self.answer("other", None)


ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), H)
srv.daemon_threads = True
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
srv.serve_forever()
