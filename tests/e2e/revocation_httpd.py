#!/usr/bin/env python3
"""A small HTTP server on 127.0.0.1 for the revocation e2e tests.

Serves the files of a directory (GET /NAME; NAME.ocsp as an OCSP response,
anything else as a CRL), plus fault paths, for GET and POST alike:
  /hang      reads the request and never answers (until the client leaves)
  /html      200 text/html, an error page where a CRL was expected
  /garbage   200 application/ocsp-response, bytes that are no DER
  /endless   200, a body that never ends (for the size limit)
  /status/N  answers status N
  /hold/X    waits until /release is asked, then answers as for /X (a
             faulty source that is being tried while other clients go on)
  /release   lets every /hold/ request, current and later, go on
Prints "PORT <n>" on stdout once listening, then nothing; counts requests
per path in <dir>/.hits (one line per request) so a test can assert how
many fetches reached it.

usage: revocation_httpd.py DIR
"""
import http.server
import os
import socketserver
import sys
import threading

ROOT = sys.argv[1]
FOREVER = threading.Event()
RELEASED = threading.Event()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def _count(self):
        with open(os.path.join(ROOT, ".hits"), "a") as f:
            f.write(self.path + "\n")

    def _send(self, status, body, ctype="application/octet-stream"):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _answer(self):
        self._count()
        path = self.path.split("?", 1)[0]
        if path == "/release":
            RELEASED.set()
            self._send(200, b"released\n", "text/plain")
            return
        if path.startswith("/hold/"):
            RELEASED.wait()
            path = path[5:]
        if path == "/hang":
            FOREVER.wait()
            return
        if path == "/html":
            self._send(200, b"<!DOCTYPE html><html><body><h1>Service unavailable</h1></body></html>",
                       "text/html")
            return
        if path == "/garbage":
            self._send(200, b"\x13\x37 this is not an OCSP response \xff" * 4,
                       "application/ocsp-response")
            return
        if path == "/endless":
            self.send_response(200)
            self.send_header("Content-Type", "application/pkix-crl")
            self.end_headers()
            chunk = b"\x30" * 65536
            try:
                while True:
                    self.wfile.write(chunk)
            except OSError:
                return
        if path.startswith("/status/"):
            self._send(int(path[8:]), b"status\n", "text/plain")
            return
        name = os.path.basename(path)
        full = os.path.join(ROOT, name)
        if not name or not os.path.isfile(full):
            self._send(404, b"not found\n", "text/plain")
            return
        ctype = "application/ocsp-response" if name.endswith(".ocsp") else "application/pkix-crl"
        with open(full, "rb") as f:
            self._send(200, f.read(), ctype)

    def do_GET(self):
        self._answer()

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        if length > 0:
            self.rfile.read(length)
        self._answer()


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    srv = Server(("127.0.0.1", 0), Handler)
    print("PORT %d" % srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
