#!/usr/bin/env python3
"""Loopback test server for the inbound tests.

GET serves static files from WWW (CRLs, VKS keyserver layout; HKP
/pks/lookup?op=get&search=0xFPR is answered from the same files).  POST is an
OCSP request: it is answered by the real `openssl ocsp` responder run on the
CA in DIR (index.txt = good/revoked, serials it never issued = unknown),
signed by RSIGNER (normally the CA's delegated OCSP signer); with --replay
every request gets the first response again (an old nonce: a replay).  openssl 3.0's
own `-port` listens on every interface, so this wrapper keeps the test
servers on 127.0.0.1.  --hang accepts connections and never answers.

usage: httpd.py PORT WWW [--ocsp DIR RSIGNER] [--replay] [--hang]
"""
import http.server
import os
import subprocess
import sys
import tempfile
import time
import urllib.parse

port, www = int(sys.argv[1]), sys.argv[2]
ocsp = None
hang = "--hang" in sys.argv
replay = "--replay" in sys.argv  # answer every request with the first response
first = []
if "--ocsp" in sys.argv:
    i = sys.argv.index("--ocsp")
    ocsp = (sys.argv[i + 1], sys.argv[i + 2])


class H(http.server.SimpleHTTPRequestHandler):
    def __init__(self, *a, **kw):
        super().__init__(*a, directory=www, **kw)

    def log_message(self, fmt, *args):
        sys.stderr.write("httpd %d: %s\n" % (port, fmt % args))

    def do_GET(self):
        if hang:
            time.sleep(3600)
        if self.path.startswith("/pks/lookup?"):
            # HKP: op=get&options=mr&search=0xFPR, answered from the VKS tree
            q = urllib.parse.parse_qs(self.path.split("?", 1)[1])
            fpr = q.get("search", [""])[0]
            if q.get("op") != ["get"] or not fpr.startswith("0x"):
                self.send_error(400)
                return
            self.path = "/vks/v1/by-fingerprint/" + fpr[2:].upper()
        return super().do_GET()

    def do_POST(self):
        if hang:
            time.sleep(3600)
        n = int(self.headers.get("Content-Length", "0"))
        if ocsp is None or n <= 0 or n > 65536:
            self.send_error(400)
            return
        body = self.rfile.read(n)
        d, signer = ocsp
        with tempfile.TemporaryDirectory() as t:
            rq, rs = os.path.join(t, "req.der"), os.path.join(t, "resp.der")
            with open(rq, "wb") as f:
                f.write(body)
            r = subprocess.run(["openssl", "ocsp", "-index", os.path.join(d, "ca/index.txt"),
                                "-CA", os.path.join(d, "ca.pem"),
                                "-rsigner", os.path.join(d, signer + ".pem"),
                                "-rkey", os.path.join(d, signer + ".key"),
                                "-ndays", "1", "-reqin", rq, "-respout", rs],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            if r.returncode != 0:
                sys.stderr.write(r.stderr.decode(errors="replace"))
                self.send_error(500)
                return
            with open(rs, "rb") as f:
                data = f.read()
        if replay:
            if not first:
                first.append(data)
            data = first[0]
        self.send_response(200)
        self.send_header("Content-Type", "application/ocsp-response")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


http.server.ThreadingHTTPServer.daemon_threads = True
http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
