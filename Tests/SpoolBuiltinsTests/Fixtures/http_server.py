#!/usr/bin/env python3
# Local HTTP server for the `http` built-in tests. Binds 127.0.0.1 on a free port, prints the port
# on stdout, and serves until its stdin closes or it is terminated (and at most 60 s), so it never
# outlives the tests.
import gzip
import json
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, body, content_type):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Test-Server", "spoold-builtins")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self):
        if self.path == "/json":
            body = json.dumps({"ok": True, "items": [1, 2, 3], "name": "spool"})
            self.reply(200, body.encode(), "application/json")
        elif self.path == "/text":
            self.reply(200, b"hello, spool\n", "text/plain; charset=utf-8")
        elif self.path.startswith("/status/"):
            code = int(self.path.split("/")[2])
            self.reply(code, json.dumps({"status": code}).encode(), "application/json")
        elif self.path == "/big":
            self.reply(200, b"x" * (100 * 1024), "text/plain")
        elif self.path.startswith("/redirect/"):
            # /redirect/N: N more hops, then /json.
            left = int(self.path.split("/")[2])
            self.send_response(302)
            self.send_header("Location", "/json" if left <= 1 else "/redirect/%d" % (left - 1))
            self.send_header("Content-Length", "0")
            self.send_header("X-Hop", str(left))
            self.end_headers()
        elif self.path == "/repeated":
            self.send_response(200)
            self.send_header("Set-Cookie", "a=1")
            self.send_header("Set-Cookie", "b=2")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")
        elif self.path == "/gzip":
            body = gzip.compress(json.dumps({"zipped": True}).encode())
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif self.path == "/method":
            self.reply(200, json.dumps({"method": self.command}).encode(), "application/json")
        elif self.path == "/slow":
            time.sleep(3)
            self.reply(200, b"late", "text/plain")
        else:
            self.reply(404, b"not found", "text/plain")

    def redirect(self, status, location):
        self.send_response(status)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self):
        # Redirects of a request with a body: 303 and 301 say "GET it there", 307 "send it again there".
        if self.path in ("/see-other", "/moved", "/temporary"):
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            status = {"/see-other": 303, "/moved": 301, "/temporary": 307}[self.path]
            self.redirect(status, "/echo" if status == 307 else "/method")
            return
        if self.path != "/echo":
            self.reply(404, b"not found", "text/plain")
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace")
        headers = {k.lower(): v for k, v in self.headers.items()}
        echo = {"method": self.command, "body": body, "headers": headers}
        self.reply(200, json.dumps(echo).encode(), "application/json")

    do_PUT = do_POST
    do_DELETE = do_POST
    do_HEAD = do_GET  # reply() sends no body to a HEAD


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default listen backlog is 5: more clients at once overflow it, the kernel drops
    # their SYN, and they connect only after the 1 s SYN retransmission.
    request_queue_size = 128

    def handle_error(self, request, client_address):
        pass  # clients that time out on purpose close the connection early


def exit_when_stdin_closes():
    sys.stdin.read()
    os._exit(0)


def main():
    # A child of a libdispatch worker thread inherits its blocked signals; let SIGTERM/SIGINT through.
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    server = QuietServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=exit_when_stdin_closes, daemon=True).start()
    # A backstop only (stdin closing is the normal end): longer than any test run on a loaded machine.
    backstop = threading.Timer(1800, lambda: os._exit(0))
    backstop.daemon = True
    backstop.start()
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
