#!/usr/bin/env python3
"""httpd.py - loopback HTTP/1.1 test server for the artifactfs fetch tests.

    httpd.py --root DIR --port-file FILE [--bind 127.0.0.1] [--log FILE]
             [--parent-pid PID] [--stall-seconds 120] [--lifetime 1800]
             [--mode MODE]

Binds port 0, and once it listens writes the chosen port to FILE (a temporary
file renamed into place): the tests wait for that file, never sleep blindly.
Serves the files under DIR at /<path> with Content-Length; HEAD is supported.

Fault modes, chosen by a path prefix and applied to the file named by the
rest of the path (a /delay/<ms>/ prefix may precede any of the others):

    /404/<f>        404 Not Found
    /500/<f>        500 Internal Server Error
    /503/<f>        503 Service Unavailable
    /truncate/<f>   full Content-Length announced, half the body sent, closed
    /corrupt/<f>    same length, 16 bytes in the middle inverted (XOR 0xff)
    /stall/<f>      headers and the first 1 KiB, then silence for at most
                    --stall-seconds or until the client goes away
    /slow/<f>       1 KiB every 0.2 s (for at most --stall-seconds)
    /trickle/<n>/<f> full Content-Length announced, then n bytes per second
                    (for at most --stall-seconds, or until released)
    /redirect/<f>   302 to /<f>
    /reset/<f>      part of the body, then a TCP RST (SO_LINGER {1, 0})
    /delay/<ms>/<f> wait ms (at most 60 s) before answering
    /zeros/<f>      the file, then zeros without end: no Content-Length, the
                    body ends when the client goes away (or --stall-seconds)
    /zeros-cl/<f>   the same with a Content-Length of the file plus 100 GiB

--mode MODE applies one of these modes (404, 500, 503, stall, ...) to
every request without a mode of its own: a fake HTTP proxy that fails in
that way, since a proxy is asked for absolute URLs ("GET http://origin/f")
whose path is just /f.

Requests are counted per method and path: GET /_stats returns them as JSON,
{"GET": {"/x": 1}, "HEAD": {}, "total": {"GET": 1, "HEAD": 0}};
GET /_stats?m=GET&p=/x returns one count as text, GET /_stats?m=GET the
total of a method; POST /_reset clears them.  POST /_release?p=/trickle/10/x
ends the trickles of that path now (the connection is closed) and answers
later requests of it 404 (a definite answer, so the client stops retrying);
without p, of every path.  /_stats and /_reset are not counted.  With --log,
one line per request is appended: "<unix time> <method> <path> <status>".

Every wait is bounded.  SIGTERM or SIGINT stops the server; so does the end
of the process --parent-pid names, or --lifetime seconds.  Standard library
only (Python 3.9+).
"""

import argparse
import http.server
import json
import os
import select
import signal
import socket
import struct
import sys
import threading
import time
import urllib.parse

CHUNK = 1024
SLOW_INTERVAL = 0.2
MAX_DELAY_MS = 60000
CORRUPT_LEN = 16
ZEROS_CHUNK = 1 << 20
ZEROS_CL_EXTRA = 100 << 30

STOP = threading.Event()


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.counts = {}

    def add(self, method, path):
        with self.lock:
            per = self.counts.setdefault(method, {})
            per[path] = per.get(path, 0) + 1

    def reset(self):
        with self.lock:
            self.counts = {}

    def snapshot(self):
        with self.lock:
            out = {m: dict(self.counts.get(m, {})) for m in ("GET", "HEAD")}
            for m, per in self.counts.items():
                out.setdefault(m, dict(per))
            out["total"] = {m: sum(out[m].values()) for m in list(out)}
        return out


def corrupt(data):
    """Invert CORRUPT_LEN bytes in the middle; the length is unchanged."""
    if not data:
        return data
    buf = bytearray(data)
    start = max(0, len(buf) // 2 - CORRUPT_LEN // 2)
    for i in range(start, min(len(buf), start + CORRUPT_LEN)):
        buf[i] ^= 0xFF
    return bytes(buf)


def parse_modes(path):
    """Split '/delay/500/stall/a/b.tar' into (delay_ms, mode, '/a/b.tar').

    For /trickle/<n>/, mode is ('trickle', n)."""
    parts = path.split("/")[1:]
    delay = 0
    mode = None
    while parts:
        if mode is None and parts[0] == "trickle" and len(parts) >= 2 and parts[1].isdigit():
            mode = ("trickle", max(1, int(parts[1])))
            parts = parts[2:]
            continue
        head = parts[0]
        if head == "delay" and len(parts) >= 2 and parts[1].isdigit():
            delay += int(parts[1])
            parts = parts[2:]
            continue
        if mode is None and head in ("404", "500", "503", "truncate", "corrupt", "stall",
                                     "slow", "redirect", "reset", "zeros", "zeros-cl"):
            mode = head
            parts = parts[1:]
            continue
        break
    return min(delay, MAX_DELAY_MS), mode, "/" + "/".join(parts)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "artifactfs-testd/1"
    timeout = 30  # idle keep-alive connections do not hold a thread forever

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("httpd: %s\n" % (fmt % args))

    def log_request(self, code="-", size="-"):
        # Called by send_response(): one line per answered request.
        if self.server.logfile and not self.path.startswith("/_"):
            code = getattr(code, "value", code)
            line = "%.3f %s %s %s\n" % (time.time(), self.command, self.path, code)
            with self.server.log_lock:
                with open(self.server.logfile, "a") as f:
                    f.write(line)
        self.log_message('"%s" %s', self.requestline, code)

    # --- helpers -----------------------------------------------------------

    def client_gone(self, wait):
        """Wait up to `wait` s; true when the peer closed or reset the connection."""
        try:
            r, _, _ = select.select([self.connection], [], [], wait)
            if not r:
                return False
            return self.connection.recv(1, socket.MSG_PEEK) == b""
        except (OSError, ValueError):
            return True

    def sleep(self, seconds):
        """A bounded sleep that ends early when the server stops."""
        STOP.wait(seconds)

    def send_plain(self, code, text, extra=None):
        body = (text + "\n").encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_headers_for(self, length, close=False):
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(length))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()

    def load(self, rel):
        """The bytes of the file at URL path rel under the root, or None."""
        rel = urllib.parse.unquote(rel)
        parts = [p for p in rel.split("/") if p not in ("", ".")]
        if any(p == ".." for p in parts) or "\0" in rel:
            return None
        path = os.path.join(self.server.root, *parts) if parts else self.server.root
        if not os.path.isfile(path):
            return None
        with open(path, "rb") as f:
            return f.read()

    def rst(self):
        """Close the connection with a TCP RST instead of a FIN."""
        self.close_connection = True
        try:
            self.wfile.flush()
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
            fd = self.connection.detach()
            os.close(fd)
        except OSError:
            pass

    def released(self, path):
        with self.server.release_lock:
            return self.server.release_all or path in self.server.released

    def trickle(self, path, data, rate):
        """n bytes per second, in up to 10 writes a second, until released."""
        if self.released(path):
            self.send_plain(404, "released")
            return
        self.send_headers_for(len(data), close=True)
        chunk = max(1, rate // 10)
        interval = chunk / float(rate)
        deadline = time.monotonic() + self.server.stall_seconds
        for off in range(0, len(data), chunk):
            if STOP.is_set() or time.monotonic() > deadline or self.released(path):
                return  # bounded: the rest is never sent, the connection closes
            self.wfile.write(data[off:off + chunk])
            self.wfile.flush()
            if self.client_gone(interval):
                return

    # --- methods -----------------------------------------------------------

    def do_POST(self):
        path = urllib.parse.urlsplit(self.path).path
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(min(n, 1 << 20))
        if path == "/_reset":
            self.server.stats.reset()
            self.send_plain(200, "reset")
        elif path == "/_release":
            q = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
            with self.server.release_lock:
                if "p" in q:
                    self.server.released.update(q["p"])
                else:
                    self.server.release_all = True
            self.send_plain(200, "released")
        else:
            self.send_plain(405, "method not allowed")

    def do_HEAD(self):
        self.serve()

    def do_GET(self):
        self.serve()

    def serve(self):
        try:
            self._serve()
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError,
                socket.timeout):
            self.close_connection = True

    def _serve(self):
        url = urllib.parse.urlsplit(self.path)
        path = url.path
        if path == "/_stats" and self.command == "GET":
            snap = self.server.stats.snapshot()
            q = urllib.parse.parse_qs(url.query)
            if "m" in q:
                # /_stats?m=GET&p=/x: one count; /_stats?m=GET: the total.
                m = q["m"][0]
                n = snap.get(m, {}).get(q["p"][0], 0) if "p" in q else \
                    snap["total"].get(m, 0)
                body, ctype = ("%d\n" % n).encode(), "text/plain"
            else:
                body, ctype = json.dumps(snap, sort_keys=True).encode(), "application/json"
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.server.stats.add(self.command, path)
        delay, mode, rel = parse_modes(path)
        if mode is None and self.server.mode:
            mode = self.server.mode
        if delay:
            self.sleep(delay / 1000.0)
        if mode == "404":
            self.send_plain(404, "not found (fault mode)")
            return
        if mode == "500":
            self.send_plain(500, "internal server error (fault mode)")
            return
        if mode == "503":
            self.send_plain(503, "service unavailable (fault mode)")
            return
        data = self.load(rel)
        if data is None:
            self.send_plain(404, "not found")
            return
        head = self.command == "HEAD"
        if mode == "redirect":
            host = self.headers.get("Host") or "%s:%d" % self.server.server_address[:2]
            self.send_plain(302, "found", {"Location": "http://%s%s" % (host, rel)})
            return
        if mode == "corrupt":
            data = corrupt(data)
        if head or mode in (None, "corrupt"):
            self.send_headers_for(len(data))
            if not head:
                self.wfile.write(data)
            return
        if mode == "truncate":
            self.send_headers_for(len(data), close=True)
            self.wfile.write(data[: len(data) // 2])
            return
        if mode == "reset":
            self.send_headers_for(len(data), close=True)
            self.wfile.write(data[: max(1, len(data) // 4)])
            self.rst()
            return
        if mode == "stall":
            self.send_headers_for(len(data), close=True)
            self.wfile.write(data[:CHUNK])
            self.wfile.flush()
            deadline = time.monotonic() + self.server.stall_seconds
            while not STOP.is_set() and time.monotonic() < deadline:
                if self.client_gone(0.2):
                    return
            return
        if isinstance(mode, tuple):
            self.trickle(path, data, mode[1])
            return
        if mode == "slow":
            self.send_headers_for(len(data))
            deadline = time.monotonic() + self.server.stall_seconds
            for off in range(0, len(data), CHUNK):
                if STOP.is_set() or time.monotonic() > deadline:
                    self.close_connection = True  # bounded: the rest is never sent
                    return
                self.wfile.write(data[off:off + CHUNK])
                self.wfile.flush()
                if off + CHUNK < len(data):
                    self.sleep(SLOW_INTERVAL)
            return
        if mode in ("zeros", "zeros-cl"):
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            if mode == "zeros-cl":
                self.send_header("Content-Length", str(len(data) + ZEROS_CL_EXTRA))
            self.send_header("Connection", "close")
            self.close_connection = True
            self.end_headers()
            self.wfile.write(data)
            zeros = bytes(ZEROS_CHUNK)
            deadline = time.monotonic() + self.server.stall_seconds
            while not STOP.is_set() and time.monotonic() < deadline:
                self.wfile.write(zeros)  # BrokenPipe/reset when the client leaves
            return
        self.send_plain(500, "unknown mode")


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        # A client that went away mid-answer is normal here; anything else is
        # reported on stderr (kept by the tests) without stopping the server.
        exc = sys.exc_info()[1]
        if isinstance(exc, (BrokenPipeError, ConnectionResetError, socket.timeout)):
            return
        super().handle_error(request, client_address)


def write_port_file(path, port):
    """Write port (a number, or "API FILES" for github.py) to path atomically."""
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "w") as f:
        f.write("%s\n" % port)
    os.replace(tmp, path)


def parent_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def serve(servers, port_file, port, parent_pid, lifetime, name):
    """Serve servers until SIGTERM, SIGINT or SIGHUP, the end of parent_pid, or
    lifetime seconds; port goes to port_file once they listen.  Shared with
    github.py."""
    def on_signal(signum, frame):
        STOP.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    for server in servers:
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                         daemon=True).start()
    write_port_file(port_file, port)

    end = time.monotonic() + lifetime
    while not STOP.wait(0.25):
        if parent_pid and not parent_alive(parent_pid):
            break
        if time.monotonic() > end:
            sys.stderr.write("%s: --lifetime reached, exiting\n" % name)
            break
    STOP.set()
    for server in servers:
        server.shutdown()
        server.server_close()
    return 0


def main():
    ap = argparse.ArgumentParser(description="loopback HTTP test server")
    ap.add_argument("--root", required=True)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--bind", default="127.0.0.1")
    ap.add_argument("--log")
    ap.add_argument("--parent-pid", type=int)
    ap.add_argument("--stall-seconds", type=float, default=120.0)
    ap.add_argument("--lifetime", type=float, default=1800.0,
                    help="exit after this many seconds whatever happens")
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--mode", help="a fault mode for every request (a fake proxy)")
    args = ap.parse_args()

    if ":" in args.bind:
        Server.address_family = socket.AF_INET6
    server = Server((args.bind, 0), Handler)
    server.root = os.path.abspath(args.root)
    server.stats = Stats()
    server.logfile = os.path.abspath(args.log) if args.log else None
    server.log_lock = threading.Lock()
    server.stall_seconds = min(args.stall_seconds, 120.0)
    server.release_lock = threading.Lock()
    server.released = set()
    server.release_all = False
    server.verbose = args.verbose
    server.mode = args.mode
    return serve([server], args.port_file, server.server_address[1], args.parent_pid,
                 args.lifetime, "httpd")


if __name__ == "__main__":
    sys.exit(main())
