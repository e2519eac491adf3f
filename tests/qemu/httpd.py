#!/usr/bin/env python3
"""Test HTTP server for the QEMU tests: serves files from a directory and records POSTs.

Usage: httpd.py --root DIR --reports FILE [--port 0] [--port-file FILE] [--access-log FILE]

- GET/HEAD serve files under --root (Range requests supported, so resumes can be tested).
- POST to any path appends one JSON line to --reports:
  {"path": "/report/case1", "auth": "Bearer ..."|null, "body": <parsed JSON or text>}
  and answers 200. The guest reaches this server through QEMU's guestfwd.
- Binds 127.0.0.1 only (or --bind ADDR). With --port 0 the kernel picks a port; it is written to --port-file.
"""
import argparse
import http.server
import json
import os
import re
import sys
import threading


class Handler(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    reports_lock = threading.Lock()

    def log_message(self, fmt, *args):
        if self.server.access_log:
            with open(self.server.access_log, "a") as f:
                f.write("%s %s\n" % (self.log_date_time_string(), fmt % args))

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        try:
            body = json.loads(raw)
        except ValueError:
            body = raw.decode("utf-8", "replace")
        rec = {"path": self.path, "auth": self.headers.get("Authorization"), "body": body}
        with self.reports_lock, open(self.server.reports, "a") as f:
            f.write(json.dumps(rec) + "\n")
        out = b"{}"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)
        self.log_message('"POST %s" 200', self.path)

    def send_head(self):
        rng = self.headers.get("Range")
        m = re.match(r"bytes=(\d+)-(\d*)$", rng or "")
        path = self.translate_path(self.path)
        if not m or not os.path.isfile(path):
            return super().send_head()
        size = os.path.getsize(path)
        start = int(m.group(1))
        end = int(m.group(2)) if m.group(2) else size - 1
        if start >= size:
            self.send_error(416)
            return None
        f = open(path, "rb")
        f.seek(start)
        self.send_response(206)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Range", "bytes %d-%d/%d" % (start, end, size))
        self.send_header("Content-Length", str(end - start + 1))
        self.end_headers()
        self._remaining = end - start + 1
        return f

    def copyfile(self, source, outputfile):
        left = getattr(self, "_remaining", None)
        if left is None:
            return super().copyfile(source, outputfile)
        while left > 0:
            buf = source.read(min(65536, left))
            if not buf:
                break
            outputfile.write(buf)
            left -= len(buf)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True)
    ap.add_argument("--reports", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--access-log")
    # tests/ironic binds the bridge address inside its network namespace.
    ap.add_argument("--bind", default="127.0.0.1")
    a = ap.parse_args()
    a.reports = os.path.abspath(a.reports)
    if a.access_log:
        a.access_log = os.path.abspath(a.access_log)
    os.chdir(a.root)
    srv = http.server.ThreadingHTTPServer((a.bind, a.port), Handler)
    srv.daemon_threads = True
    srv.reports = a.reports
    srv.access_log = a.access_log
    if a.port_file:
        with open(a.port_file + ".tmp", "w") as f:
            f.write("%d\n" % srv.server_address[1])
        os.rename(a.port_file + ".tmp", a.port_file)
    print("httpd.py: serving %s on %s:%d" % (a.root, a.bind, srv.server_address[1]), file=sys.stderr)
    srv.serve_forever()


if __name__ == "__main__":
    main()
