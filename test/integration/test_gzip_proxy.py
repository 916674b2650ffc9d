"""gzip and gunzip on proxied responses (issue 7's proxied cases): the
decompressed body equals the origin's byte for byte (0, 1, 8 KiB, 1 MiB;
origin with Content-Length, chunked, close-delimited; HTTP/1.0 client;
kept-alive origin connection); gzip_proxied decided from the request's
Via and the origin's real headers (a table of every value against origin
header sets, the origin's Date, repeated Cache-Control lines); an
origin's Content-Encoding never recompressed; ETag and Vary; the sync
flush of server-sent events with proxy_buffering off and with
X-Accel-Buffering: no, and of a known length under libdeflate's limit
(a readiness handshake with the origin, no sleeps); 16 MiB through the
proxy's temp file, unbuffered to a slow client, and a client gone
mid-body; gunzip of an origin's gzip body (members concatenated, sync
flushes passed on), passed through to a client that takes gzip, a
corrupt one aborting its response only; one case over TLS. The slow
class (make test-slow) streams 100 MiB and 1 GiB through the proxy,
watching the worker's RSS. The expectations are nginx 1.22's: this file
passes with PORTICO_BIN=/usr/sbin/nginx."""

import gzip
import hashlib
import os
import random
import re
import socket
import ssl
import subprocess
import threading
import time
import unittest
import zlib

import origins
from portico_harness import UNDER_NGINX, BIN, wait_for
from proxy_util import ProxyCase
from test_gzip import Reply, text

SIZES = {"s0": b"", "s1": b"x", "s8k": text(8192),
         "s1m": text(1 << 20, seed=2)}
AE = (("Accept-Encoding", "gzip"),)
VIA = (("Via", "1.1 cache.example"),)
IO = 30          # the bound of every client read
SLOW = os.environ.get("PORTICO_SLOW") == "1"


def fetch(port, path, headers=(), tls=None, method="GET", timeout=IO):
    """One request on its own connection, read to EOF: a test_gzip Reply
    (body de-chunked, still encoded; .complete from the framing)."""
    hdrs = "".join(f"{k}: {v}\r\n" for k, v in headers)
    req = (f"{method} {path} HTTP/1.1\r\nHost: localhost\r\n{hdrs}"
           f"Connection: close\r\n\r\n").encode()
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    if tls is not None:
        s = tls.wrap_socket(s, server_hostname="localhost")
    data = bytearray()
    deadline = time.monotonic() + timeout
    try:
        s.sendall(req)
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(1 << 20)
            except (ConnectionResetError, ssl.SSLError):
                break
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    data = bytes(data)
    end = data.find(b"\r\n\r\n")
    assert end > 0, f"no head in {data[:200]!r}"
    lines = data[:end].decode("latin-1").split("\r\n")
    headers = [tuple(line.split(": ", 1)) for line in lines[1:]]
    r = Reply(int(lines[0].split(" ")[1]), headers, b"", True, lines)
    rest = data[end + 4:]
    if method == "HEAD":
        r.body = rest
    elif r.h("Transfer-Encoding") == "chunked":
        r.body, r.complete = dechunk_fast(rest)
    elif r.h("Content-Length") is not None:
        n = int(r.h("Content-Length"))
        r.body, r.complete = rest[:n], len(rest) >= n
    else:
        r.body = rest
    return r


def exact(table, default=None):
    """An origin behaviour by exact path (query string ignored)."""
    default = default or origins.fixed(404, body=b"no route\n")

    def b(c, req):
        return table.get(req.target.split("?")[0], default)(c, req)
    return b


def plain_text(hs=()):
    return [("Content-Type", "text/plain")] + list(hs)


def body_routes():
    """/cl/S (Content-Length), /ch/S (chunked, in 3 pieces), /cd/S
    (close-delimited, HTTP/1.0) for every size S."""
    t = {}
    for name, body in SIZES.items():
        third = max(1, len(body) // 3)
        pieces = [body[i:i + third] for i in range(0, len(body), third)]
        t[f"/cl/{name}"] = origins.fixed(200, plain_text(), body)
        t[f"/ch/{name}"] = origins.chunked(pieces, plain_text())
        t[f"/cd/{name}"] = origins.close_delimited(body, plain_text())
    return t


class GzipProxyCase(ProxyCase):
    def gz(self, r, original, where=""):
        self.assertEqual(r.status, 200, f"{where} {r.head}")
        self.assertEqual(r.h("Content-Encoding"), "gzip", f"{where} {r.head}")
        self.assertIsNone(r.h("Content-Length"), r.head)
        self.assertEqual(r.h("Transfer-Encoding"), "chunked", r.head)
        self.assertTrue(r.complete, f"{where} {r.head}")
        self.assertEqual(gzip.decompress(r.body), original, where)

    def plain(self, r, original, where=""):
        self.assertEqual(r.status, 200, f"{where} {r.head}")
        self.assertIsNone(r.h("Content-Encoding"), f"{where} {r.head}")
        self.assertTrue(r.complete, f"{where} {r.head}")
        self.assertEqual(r.body, original, where)


class Bodies(GzipProxyCase):
    """The decompressed body is the origin's, whatever its framing; the
    gzip_min_length test only against a length the origin announced."""

    def test_sizes_and_framings(self):
        o = origins.started(self, exact(body_routes()))
        inst = self.proxy(f"""
    gzip on; gzip_types text/plain;
    server {{ listen 127.0.0.1:@PORT@;
        location / {{ proxy_pass http://{o.addr}; proxy_http_version 1.1; }}
        location /z/ {{ proxy_pass http://{o.addr}/; gzip_min_length 0; }}
    }}""")
        for kind in ("cl", "ch", "cd"):
            for name, body in SIZES.items():
                path = f"/{kind}/{name}"
                r = fetch(inst.port, path, AE)
                # gzip_min_length 20 (the default) against Content-Length
                if kind == "cl" and len(body) < 20:
                    self.plain(r, body, path)
                else:
                    self.gz(r, body, path)
                self.gz(fetch(inst.port, "/z" + path, AE), body, "/z" + path)
                self.plain(fetch(inst.port, path), body, path + " no AE")

    def test_min_length_and_ratio(self):
        # gzip_min_length against the origin's Content-Length only;
        # $gzip_ratio of a proxied answer
        o = origins.started(self, exact(body_routes()))
        inst = self.proxy(f"""
    gzip on; gzip_types text/plain; gzip_min_length 9000;
    log_format r '$uri $gzip_ratio';
    access_log logs/ratio.log r;
    server {{ listen 127.0.0.1:@PORT@;
        location / {{ proxy_pass http://{o.addr}; proxy_http_version 1.1; }}
    }}""")
        self.plain(fetch(inst.port, "/cl/s8k", AE), SIZES["s8k"])
        self.gz(fetch(inst.port, "/ch/s8k", AE), SIZES["s8k"])
        self.gz(fetch(inst.port, "/cl/s1m", AE), SIZES["s1m"])
        lines = self.access_lines(inst, 3, "ratio.log")
        self.assertEqual(lines[0], "/cl/s8k -")
        for line in lines[1:]:
            uri, ratio = line.split(" ")
            self.assertRegex(ratio, r"^\d+\.\d\d$", line)
            self.assertGreater(float(ratio), 2, line)

    def test_origin_content_encoding_kept(self):
        body = text(8192, seed=3)
        gzbody = gzip.compress(body, mtime=0)
        o = origins.started(self, exact({
            "/gz": origins.fixed(200, plain_text([("Content-Encoding",
                                                    "gzip")]), gzbody),
            "/br": origins.fixed(200, plain_text([("Content-Encoding",
                                                    "br")]), b"brotli?" * 99),
            "/gzch": origins.chunked([gzbody[:100], gzbody[100:]],
                                     plain_text([("Content-Encoding",
                                                  "gzip")])),
        }))
        inst = self.proxy(f"""
    gzip on; gzip_types text/plain;
    server {{ listen 127.0.0.1:@PORT@;
        location / {{ proxy_pass http://{o.addr}; proxy_http_version 1.1; }}
    }}""")
        for path, raw in (("/gz", gzbody), ("/br", b"brotli?" * 99),
                          ("/gzch", gzbody)):
            for hs in ((), AE):
                r = fetch(inst.port, path, hs)
                self.assertEqual(r.status, 200)
                self.assertEqual(r.all("Content-Encoding"),
                                 ["br" if path == "/br" else "gzip"], r.head)
                self.assertTrue(r.complete)
                self.assertEqual(r.body, raw, f"{path} {hs}: recompressed")

    def test_etag_and_vary(self):
        body = text(8192, seed=4)
        o = origins.started(self, exact({
            "/strong": origins.fixed(200, plain_text([("ETag", '"v1"')]),
                                     body),
            "/weak": origins.fixed(200, plain_text([("ETag", 'W/"v1"')]),
                                   body),
            "/vary": origins.fixed(200, plain_text(
                [("Vary", "Accept-Encoding")]), body),
            "/img": origins.fixed(200, [("Content-Type", "image/png")],
                                  body),
        }))
        inst = self.proxy(f"""
    gzip on; gzip_types text/plain; gzip_vary on;
    server {{ listen 127.0.0.1:@PORT@;
        location / {{ proxy_pass http://{o.addr}; }}
        location /via/ {{ proxy_pass http://{o.addr}/; }}
    }}""")
        r = fetch(inst.port, "/strong", AE)
        self.gz(r, body)
        self.assertEqual(r.all("ETag"), ['W/"v1"'])
        self.assertEqual(r.all("Vary"), ["Accept-Encoding"])
        r = fetch(inst.port, "/strong")
        self.plain(r, body)
        self.assertEqual(r.all("ETag"), ['"v1"'])
        self.assertEqual(r.all("Vary"), ["Accept-Encoding"])
        r = fetch(inst.port, "/weak", AE)
        self.gz(r, body)
        self.assertEqual(r.all("ETag"), ['W/"v1"'])
        # nginx adds its own line beside the origin's
        r = fetch(inst.port, "/vary", AE)
        self.gz(r, body)
        self.assertEqual(r.all("Vary"), ["Accept-Encoding"] * 2)
        r = fetch(inst.port, "/img", AE)
        self.plain(r, body)
        self.assertEqual(r.all("Vary"), [])
        # refused by gzip_proxied (off): still varies on Accept-Encoding
        r = fetch(inst.port, "/via/strong", AE + VIA)
        self.plain(r, body)
        self.assertEqual(r.all("Vary"), ["Accept-Encoding"])
        self.assertEqual(r.all("ETag"), ['"v1"'])

    def test_head_and_statuses(self):
        body = text(4000, seed=5)
        o = origins.started(self, exact({
            "/404": origins.fixed(404, plain_text(), body),
            "/403": origins.fixed(403, plain_text(), body),
            "/500": origins.fixed(500, plain_text(), body),
            "/ok": origins.fixed(200, plain_text(), body),
        }))
        inst = self.proxy(f"""
    gzip on; gzip_types text/plain;
    server {{ listen 127.0.0.1:@PORT@;
        location / {{ proxy_pass http://{o.addr}; }} }}""")
        for path, st in (("/404", 404), ("/403", 403)):
            r = fetch(inst.port, path, AE)
            self.assertEqual(r.status, st)
            self.assertEqual(r.h("Content-Encoding"), "gzip")
            self.assertEqual(gzip.decompress(r.body), body)
        r = fetch(inst.port, "/500", AE)
        self.assertEqual((r.status, r.h("Content-Encoding"), r.body),
                         (500, None, body))
        r = fetch(inst.port, "/ok", AE, method="HEAD")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.h("Content-Encoding"), "gzip")
        self.assertIsNone(r.h("Content-Length"))
        self.assertEqual(r.body, b"")

    def test_http10_client_close_delimited(self):
        body = SIZES["s8k"]
        o = origins.started(self, exact(body_routes()))
        inst = self.proxy(f"""
    gzip on; gzip_types text/plain; gzip_http_version 1.0;
    server {{ listen 127.0.0.1:@PORT@;
        location / {{ proxy_pass http://{o.addr}; proxy_http_version 1.1; }}
    }}""")
        for path in ("/cl/s8k", "/ch/s8k"):
            s = socket.create_connection(("127.0.0.1", inst.port), timeout=IO)
            self.addCleanup(s.close)
            s.sendall(f"GET {path} HTTP/1.0\r\nAccept-Encoding: gzip\r\n"
                      f"\r\n".encode())
            data = read_to_eof(s)
            head, _, rest = data.partition(b"\r\n\r\n")
            self.assertIn(b"Content-Encoding: gzip", head)
            self.assertNotIn(b"Content-Length", head)
            self.assertNotIn(b"Transfer-Encoding", head)
            self.assertEqual(gzip.decompress(rest), body, path)

    def test_upstream_keepalive_reused(self):
        o = origins.started(self, exact(body_routes()))
        inst = self.proxy(f"""
    gzip on; gzip_types text/plain;
    upstream ka {{ server {o.addr}; keepalive 4; }}
    server {{ listen 127.0.0.1:@PORT@;
        location / {{ proxy_pass http://ka; proxy_http_version 1.1;
                     proxy_set_header Connection ""; }}
    }}""")
        for _ in range(2):
            for path in ("/cl/s8k", "/ch/s1m", "/cl/s1m", "/ch/s1"):
                self.gz(fetch(inst.port, path, AE),
                        SIZES[path.split("/")[2]], path)
        self.assertEqual(o.accepted, 1, "the origin connection is reused")

    def start_big(self):
        """An origin of 16 MiB of incompressible bytes (more than the
        kernel's socket buffers hold): /big (Content-Length), /bigch
        (chunked), /gzbig (gzip-encoded); the proxy with small buffers,
        /unbuf/ with proxy_buffering off."""
        big = random.Random(12).randbytes(16 << 20)
        self.big = big
        ge = plain_text([("Content-Encoding", "gzip")])
        o = origins.started(self, exact({
            "/big": origins.fixed(200, plain_text(), big),
            "/bigch": origins.chunked([big[:1 << 20], big[1 << 20:]],
                                      plain_text()),
            "/gzbig": origins.fixed(200, ge, gzip.compress(big, 1))}))
        return self.proxy(f"""
    gzip on; gzip_types text/plain; gunzip on;
    proxy_http_version 1.1;
    proxy_buffers 4 4k; proxy_busy_buffers_size 4k;
    gzip_buffers 2 4k; gzip_comp_level 1; gunzip_buffers 2 4k;
    server {{ listen 127.0.0.1:@PORT@;
        location / {{ proxy_pass http://{o.addr}; }}
        location /unbuf/ {{ proxy_pass http://{o.addr}/;
                           proxy_buffering off; }}
    }}""", error_level="warn")

    def slow_get(self, inst, path, headers=AE, spill=False):
        """GET with a small receive buffer, reading nothing until the
        proxy has spilled to its temp file when `spill`: the body
        de-chunked and decoded."""
        log = inst.path("logs", "error.log")
        size = os.path.getsize(log) if os.path.exists(log) else 0
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.settimeout(IO)
        s.connect(("127.0.0.1", inst.port))
        self.addCleanup(s.close)
        hdrs = "".join(f"{k}: {v}\r\n" for k, v in headers)
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n{hdrs}"
                  f"Connection: close\r\n\r\n".encode())

        def spilled():
            with open(log) as f:
                f.seek(size)
                return "buffered to a temporary file" in f.read()
        if spill:
            wait_for(spilled, f"{path}: the temp file warning",
                     diag=lambda: inst.log_tail(20))
        data = read_to_eof(s)
        head, _, rest = data.partition(b"\r\n\r\n")
        body, complete = dechunk_fast(rest)
        self.assertTrue(complete, f"{path}: {head}")
        if b"Content-Encoding: gzip" in head:
            return gzip.decompress(body)
        return body

    def same(self, got, want, path):
        if got != want:
            i = next((i for i in range(min(len(got), len(want)))
                      if got[i] != want[i]), min(len(got), len(want)))
            j = want.find(got[i:i + 64])
            self.fail(f"{path}: {len(got)} bytes decoded, {len(want)} "
                      f"sent; they differ from byte {i} (what follows is "
                      f"the origin's byte {j})")

    def test_body_spilled_to_temp_file(self):
        # gzip (and gunzip) then stream from file buffers (a body under
        # the libdeflate limit is gathered by gzip at once, so it never
        # makes the proxy spill)
        inst = self.start_big()
        for path in ("/big", "/bigch"):
            self.same(self.slow_get(inst, path, spill=True), self.big, path)
        self.same(self.slow_get(inst, "/gzbig", (), spill=True), self.big,
                  "/gzbig gunzipped")

    def test_unbuffered_slow_client(self):
        inst = self.start_big()
        for path in ("/unbuf/big", "/unbuf/bigch"):
            self.same(self.slow_get(inst, path), self.big, path)
        self.same(self.slow_get(inst, "/unbuf/gzbig", ()), self.big,
                  "/unbuf/gzbig gunzipped")

    def test_client_gone_mid_body(self):
        inst = self.start_big()
        for path in ("/big", "/unbuf/bigch", "/gzbig"):
            s = socket.create_connection(("127.0.0.1", inst.port),
                                         timeout=IO)
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n"
                      f"{'' if 'gzbig' in path else 'Accept-Encoding: gzip'}"
                      f"\r\n\r\n".encode())
            got = b""
            while len(got) < 100000:
                chunk = s.recv(65536)
                self.assertTrue(chunk, path)
                got += chunk
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                         b"\x01\x00\x00\x00\x00\x00\x00\x00")
            s.close()
            # the worker goes on
            r = fetch(inst.port, "/bigch", AE)
            self.same(gzip.decompress(r.body), self.big, "after " + path)
        log = inst.log()
        self.assertNotRegex(log, r"\[(alert|crit|emerg)\]")

    def test_origin_cut_short_never_ends_cleanly(self):
        # the origin closes before its announced length (or its last
        # chunk): the compressed answer must not end as if whole
        body = text(1 << 20, seed=13)

        def cut(n, chunked=False):
            def b(c, req):
                hs = plain_text([("Transfer-Encoding", "chunked")]
                                if chunked else
                                [("Content-Length", str(len(body)))])
                data = body[:n]
                if chunked:
                    data = b"%x\r\n%s\r\n" % (len(data), data)
                c.send(origins.head_bytes(200, hs) + data)
                c.close()
                return False
            return b
        o = origins.started(self, exact({
            "/whole": cut(50000), "/big": cut(500000),
            "/ch": cut(50000, chunked=True),
            "/gzcut": origins.fixed(200, plain_text(), body)}))
        inst = self.proxy(f"""
    gzip on; gzip_types text/plain;
    server {{ listen 127.0.0.1:@PORT@;
        location / {{ proxy_pass http://{o.addr}; proxy_http_version 1.1; }}
        location /unbuf/ {{ proxy_pass http://{o.addr}/;
                           proxy_http_version 1.1; proxy_buffering off; }}
    }}""")
        for path in ("/whole", "/big", "/ch", "/unbuf/whole", "/unbuf/big",
                     "/unbuf/ch"):
            r = fetch(inst.port, path, AE)
            self.assertEqual(r.status, 200, path)
            self.assertFalse(r.complete, f"{path}: ended cleanly")
            d = zlib.decompressobj(16 + 15)
            got = d.decompress(r.body)
            self.assertFalse(d.eof, f"{path}: a whole gzip stream")
            self.assertTrue(body.startswith(got), path)
        self.gz(fetch(inst.port, "/gzcut", AE), body)


def read_to_eof(s):
    data = bytearray()
    deadline = time.monotonic() + IO
    while time.monotonic() < deadline:
        chunk = s.recv(1 << 20)
        if not chunk:
            break
        data += chunk
    return bytes(data)


def dechunk_fast(data):
    """test_gzip.dechunk in linear time, for big bodies."""
    out, pos = [], 0
    while True:
        crlf = data.find(b"\r\n", pos)
        if crlf < 0:
            return b"".join(out), False
        size = int(data[pos:crlf].split(b";")[0], 16)
        if size == 0:
            return b"".join(out), data[crlf + 2:crlf + 4] == b"\r\n"
        if len(data) < crlf + 4 + size:
            out.append(data[crlf + 2:crlf + 2 + size])
            return b"".join(out), False
        out.append(data[crlf + 2:crlf + 2 + size])
        pos = crlf + 4 + size


# -------------------------------------------------------------- gzip_proxied

PAST = "Thu, 01 Jan 1970 00:00:01 GMT"
FUTURE = "Fri, 01 Jan 2100 00:00:00 GMT"
ORIGIN_HEADERS = {
    "none": [],
    "lm": [("Last-Modified", "Wed, 21 Oct 2015 07:28:00 GMT")],
    "etag": [("ETag", '"e1"')],
    "lmetag": [("Last-Modified", "Wed, 21 Oct 2015 07:28:00 GMT"),
               ("ETag", '"e1"')],
    "nocache": [("Cache-Control", "no-cache")],
    "nostore": [("Cache-Control", "max-age=0, no-store")],
    "private": [("Cache-Control", "private")],
    "public": [("Cache-Control", "public, max-age=60")],
    "exppast": [("Expires", PAST)],
    "expfuture": [("Expires", FUTURE)],
    "expbad": [("Expires", "soon")],
    "expnc": [("Expires", FUTURE), ("Cache-Control", "no-cache")],
}
PROXIED = ["off", "expired", "no-cache", "no-store", "private",
           "no_last_modified", "no_etag", "auth", "any",
           "expired no-cache", "no_last_modified no_etag"]


def proxied_expected(flags, origin, auth):
    """nginx 1.22's gzip_proxied rule for a request with Via."""
    hs = dict(ORIGIN_HEADERS[origin])
    if "off" in flags:
        return False
    if "any" in flags or (auth and "auth" in flags):
        return True
    if "Expires" in hs:
        return "expired" in flags and hs["Expires"] == PAST
    cc = hs.get("Cache-Control")
    if cc is not None:
        return any(f in flags and f in cc
                   for f in ("no-cache", "no-store", "private"))
    if "no_last_modified" in flags and "Last-Modified" in hs:
        return False
    if "no_etag" in flags and "ETag" in hs:
        return False
    return True


class Proxied(GzipProxyCase):
    def test_decision_table(self):
        body = text(3000, seed=6)
        o = origins.started(self, exact({
            f"/{k}": origins.fixed(200, plain_text(v), body)
            for k, v in ORIGIN_HEADERS.items()}))
        locs = "".join(
            f"        location /p{i}/ {{ gzip_proxied {v}; "
            f"proxy_pass http://{o.addr}/; }}\n"
            for i, v in enumerate(PROXIED))
        inst = self.proxy(f"""
    gzip on; gzip_types text/plain;
    server {{ listen 127.0.0.1:@PORT@;
{locs}    }}""")
        wrong = []
        for i, flags in enumerate(PROXIED):
            for origin in ORIGIN_HEADERS:
                for auth in (False, True):
                    hs = AE + VIA + ((("Authorization", "Basic eDp5"),)
                                     if auth else ())
                    r = fetch(inst.port, f"/p{i}/{origin}", hs)
                    self.assertEqual(r.status, 200)
                    got = r.h("Content-Encoding") == "gzip"
                    want = proxied_expected(flags.split(), origin, auth)
                    if got != want:
                        wrong.append(f"gzip_proxied {flags}; origin {origin}"
                                     f"{' +auth' if auth else ''}: "
                                     f"gzip {got}, expected {want}")
                    self.assertEqual(r.plain(), body)
                # without Via gzip_proxied plays no part
                r = fetch(inst.port, f"/p{i}/{origin}", AE)
                if r.h("Content-Encoding") != "gzip":
                    wrong.append(f"{flags} {origin}: no Via, not gzipped")
        self.assertEqual(wrong, [], "\n".join(wrong))

    def test_origin_date_and_repeated_lines(self):
        # Expires is compared with the origin's Date when it is passed
        # (proxy_pass_header Date), else with now; every Cache-Control
        # line counts, the token case-insensitive, no prefix match
        body = text(3000, seed=10)
        exp = ("Expires", "Fri, 01 Jan 2016 00:00:00 GMT")
        o = origins.started(self, exact({
            "/date": origins.fixed(200, plain_text(
                [("Date", "Thu, 01 Jan 2015 00:00:00 GMT"), exp]), body),
            "/date2": origins.fixed(200, plain_text(
                [("Date", "Sun, 01 Jan 2017 00:00:00 GMT"), exp]), body),
            "/cc2": origins.fixed(200, plain_text(
                [("Cache-Control", "public"),
                 ("Cache-Control", "no-cache")]), body),
            "/cc3": origins.fixed(200, plain_text(
                [("Cache-Control", "public, NO-CACHE")]), body),
            "/cc4": origins.fixed(200, plain_text(
                [("Cache-Control", "no-cachex")]), body),
            "/exp0": origins.fixed(200, plain_text([("Expires", "0")]),
                                   body)}))
        inst = self.proxy(f"""
    gzip on; gzip_types text/plain;
    server {{ listen 127.0.0.1:@PORT@;
        location /d/ {{ proxy_pass http://{o.addr}/; gzip_proxied expired;
                       proxy_pass_header Date; }}
        location /e/ {{ proxy_pass http://{o.addr}/; gzip_proxied expired; }}
        location /n/ {{ proxy_pass http://{o.addr}/; gzip_proxied no-cache; }}
    }}""")
        for path, want in (("/d/date", False), ("/d/date2", True),
                           ("/e/date", True), ("/e/exp0", False),
                           ("/n/cc2", True), ("/n/cc3", True),
                           ("/n/cc4", False)):
            r = fetch(inst.port, path, AE + VIA)
            self.assertEqual(r.h("Content-Encoding") == "gzip", want, path)
            self.assertEqual(r.plain(), body, path)


# ---------------------------------------------------------------- streaming

class Handshake:
    """An origin behaviour that sends `first`, signals `sent`, waits for
    the test's `release` (bounded), then sends `rest` and ends."""

    def __init__(self, first, rest, length=False, headers=()):
        self.first, self.rest = first, rest
        self.length, self.headers = length, list(headers)
        self.sent = threading.Event()
        self.release = threading.Event()
        self.finished = threading.Event()

    def __call__(self, c, req):
        hs = list(self.headers)
        if self.length:
            hs.append(("Content-Length",
                       str(len(self.first) + len(self.rest))))
        else:
            hs.append(("Transfer-Encoding", "chunked"))

        def piece(data):
            c.send(data if self.length else b"%x\r\n%s\r\n" % (len(data),
                                                               data))
        c.send(origins.head_bytes(200, hs))
        piece(self.first)
        self.sent.set()
        if not self.release.wait(IO):
            return False
        piece(self.rest)
        if not self.length:
            c.send(b"0\r\n\r\n")
        self.finished.set()
        return False


class ChunkReader:
    """A client decoding a chunked gzip response as it arrives."""

    def __init__(self, port, path, headers=AE):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=IO)
        hdrs = "".join(f"{k}: {v}\r\n" for k, v in headers)
        self.s.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n{hdrs}"
                       f"Connection: close\r\n\r\n".encode())
        self.buf = b""
        self.plain = b""
        self.ended = False
        self.d = zlib.decompressobj(16 + 15)
        while b"\r\n\r\n" not in self.buf:
            self.recv()
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        self.head = head.decode("latin-1")

    def close(self):
        self.s.close()

    def recv(self):
        chunk = self.s.recv(65536)
        if not chunk:
            raise EOFError(f"closed; got {self.plain[:100]!r}")
        self.buf += chunk

    def decode(self):
        while not self.ended:
            crlf = self.buf.find(b"\r\n")
            if crlf < 0:
                return
            size = int(self.buf[:crlf], 16)
            if size == 0:
                self.ended = True
                return
            if len(self.buf) < crlf + 4 + size:
                return
            self.plain += self.d.decompress(self.buf[crlf + 2:
                                                     crlf + 2 + size])
            self.buf = self.buf[crlf + 4 + size:]

    def until(self, pred, what):
        deadline = time.monotonic() + IO
        self.decode()
        while not pred():
            if time.monotonic() > deadline:
                raise AssertionError(f"{what}: got {self.plain[:200]!r}")
            self.recv()
            self.decode()


EVENT1 = b"event: tick\ndata: " + b"first event " * 20 + b"\n\n"
EVENT2 = b"event: tick\ndata: second event\n\n"


class Streaming(GzipProxyCase):
    def start(self, beh):
        o = origins.started(self, exact({"/sse": beh}))
        return self.proxy(f"""
    gzip on; gzip_types text/event-stream text/plain;
    server {{ listen 127.0.0.1:@PORT@;
        location / {{ proxy_pass http://{o.addr}; proxy_http_version 1.1; }}
        location /unbuf/ {{ proxy_pass http://{o.addr}/;
                           proxy_http_version 1.1; proxy_buffering off; }}
    }}""")

    def first_before_last(self, beh, path, first, rest):
        inst = self.start(beh)
        c = ChunkReader(inst.port, path)
        self.addCleanup(c.close)
        self.addCleanup(beh.release.set)
        self.assertIn("Content-Encoding: gzip", c.head)
        c.until(lambda: c.plain == first, "the first part, decompressed")
        # the origin is still waiting for the release: it has not finished
        self.assertFalse(beh.finished.is_set())
        beh.release.set()
        c.until(lambda: c.ended, "the end of the body")
        self.assertEqual(c.plain + c.d.flush(), first + rest)
        self.assertTrue(c.d.eof, "the gzip stream must end")

    def test_sse_proxy_buffering_off(self):
        beh = Handshake(EVENT1, EVENT2,
                        headers=[("Content-Type", "text/event-stream")])
        self.first_before_last(beh, "/unbuf/sse", EVENT1, EVENT2)

    def test_sse_x_accel_buffering_no(self):
        beh = Handshake(EVENT1, EVENT2,
                        headers=[("Content-Type", "text/event-stream"),
                                 ("X-Accel-Buffering", "no")])
        self.first_before_last(beh, "/sse", EVENT1, EVENT2)

    def test_known_length_flushed_midway(self):
        # under libdeflate's whole-body limit: the flush must make it
        # stream
        body = text(100000, seed=7)
        beh = Handshake(body[:40000], body[40000:], length=True,
                        headers=plain_text())
        self.first_before_last(beh, "/unbuf/sse", body[:40000],
                               body[40000:])

    def test_gunzip_passes_the_origins_sync_flush(self):
        # a gzip-encoded event stream, sync-flushed after the first event
        # by the origin: gunzip hands the client the first event at once
        z = zlib.compressobj(6, zlib.DEFLATED, 16 + 15)
        first = z.compress(EVENT1) + z.flush(zlib.Z_SYNC_FLUSH)
        rest = z.compress(EVENT2) + z.flush()
        beh = Handshake(first, rest, headers=[
            ("Content-Type", "text/event-stream"),
            ("Content-Encoding", "gzip")])
        o = origins.started(self, exact({"/sse": beh}))
        inst = self.proxy(f"""
    server {{ listen 127.0.0.1:@PORT@;
        location / {{ proxy_pass http://{o.addr}; proxy_http_version 1.1;
                     proxy_buffering off; gunzip on; }}
    }}""")
        c = ChunkReader(inst.port, "/sse", headers=())
        self.addCleanup(c.close)
        self.addCleanup(beh.release.set)
        c.d = Identity()
        c.until(lambda: c.plain == EVENT1, "the first event, gunzipped")
        self.assertFalse(beh.finished.is_set())
        beh.release.set()
        c.until(lambda: c.ended, "the end of the body")
        self.assertEqual(c.plain, EVENT1 + EVENT2)


class Identity:
    def decompress(self, data):
        return data


# ------------------------------------------------------------------ gunzip

def corrupt_gzip(body):
    good = gzip.compress(body, 6, mtime=0)
    return good[:len(good) // 2] + bytes(range(256)) * 40


class Gunzip(GzipProxyCase):
    def setUp(self):
        super().setUp()
        self.body = text(200000, seed=8)
        self.gzbody = gzip.compress(self.body, 6, mtime=0)
        ge = [("Content-Encoding", "gzip")]
        bad = corrupt_gzip(self.body)
        self.origin = origins.started(self, exact({
            "/gz": origins.fixed(200, plain_text(ge), self.gzbody),
            "/gzch": origins.chunked([self.gzbody[:5000],
                                      self.gzbody[5000:]], plain_text(ge)),
            "/bad": origins.fixed(200, plain_text(ge), bad),
            "/badch": origins.chunked([bad[:3000], bad[3000:]],
                                      plain_text(ge)),
            "/plain": origins.fixed(200, plain_text(), self.body),
        }))
        self.inst = self.proxy(f"""
    gzip on; gzip_types text/plain;
    server {{ listen 127.0.0.1:@PORT@;
        location / {{ proxy_pass http://{self.origin.addr};
                     proxy_http_version 1.1; gunzip on; }} }}""")

    def test_gunzip_for_client_without_gzip(self):
        for path in ("/gz", "/gzch"):
            r = fetch(self.inst.port, path)
            self.plain(r, self.body, path)
            self.assertIsNone(r.h("Content-Length"))
            self.assertEqual(r.h("Transfer-Encoding"), "chunked")

    def test_gzip_members_concatenated(self):
        body = text(3000, seed=11)
        o = origins.started(self, exact({"/m": origins.fixed(
            200, plain_text([("Content-Encoding", "gzip")]),
            gzip.compress(body[:1000]) + gzip.compress(body[1000:]))}))
        inst = self.proxy(f"""
    server {{ listen 127.0.0.1:@PORT@;
        location / {{ proxy_pass http://{o.addr}; gunzip on; }} }}""")
        self.plain(fetch(inst.port, "/m"), body)

    def test_passed_through_when_accepted(self):
        for path in ("/gz", "/gzch"):
            r = fetch(self.inst.port, path, AE)
            self.assertEqual(r.h("Content-Encoding"), "gzip")
            self.assertEqual(r.body, self.gzbody, f"{path}: not as sent")

    def test_corrupt_aborts_that_response_only(self):
        for path in ("/bad", "/badch"):
            size = os.path.getsize(self.inst.path("logs", "error.log"))
            r = fetch(self.inst.port, path)
            self.assertEqual(r.status, 200)
            self.assertEqual(r.h("Transfer-Encoding"), "chunked", r.head)
            self.assertFalse(r.complete, f"{path}: a corrupt body ended "
                                         f"cleanly")
            # what came before the damage, (inflate may decode a few
            # bytes of the garbage before it knows)
            self.assertGreater(len(r.body), 10000, path)
            self.assertTrue(self.body.startswith(r.body[:10000]), path)

            def logged():
                with open(self.inst.path("logs", "error.log")) as f:
                    f.seek(size)
                    # nginx: "inflate() returned -5 on response end"
                    return re.search(r"\[error\].*(gunzip: (corrupt gzip "
                                     r"stream|unexpected end)|inflate\(\) "
                                     r"(failed|returned))", f.read())
            wait_for(logged, "the gunzip error line",
                     diag=lambda: self.inst.log_tail(20))
            # the worker goes on: another request on another connection
            self.plain(fetch(self.inst.port, "/gz"), self.body)
            self.gz(fetch(self.inst.port, "/plain", AE), self.body)


# --------------------------------------------------------------------- TLS

class OverTLS(GzipProxyCase):
    def test_gzip_through_ssl_server(self):
        from tls_certs import CertAuthority
        ca = CertAuthority(self.portico().path("certs"))
        srv = ca.server("localhost", kind="ecdsa")
        body = SIZES["s1m"]
        big = random.Random(14).randbytes(8 << 20)
        o = origins.started(self, exact({
            "/cl": origins.fixed(200, plain_text(), body),
            "/ch": origins.chunked([body[:300000], body[300000:]],
                                   plain_text()),
            "/big": origins.chunked([big], plain_text())}))
        inst = self.proxy(f"""
    gzip on; gzip_types text/plain;
    server {{ listen 127.0.0.1:@PORT@ ssl;
        ssl_certificate {srv.chain}; ssl_certificate_key {srv.key};
        location / {{ proxy_pass http://{o.addr}; proxy_http_version 1.1;
                     proxy_buffers 4 4k; proxy_busy_buffers_size 4k;
                     gzip_buffers 2 4k; }}
    }}""")
        ctx = ssl.create_default_context(cafile=ca.cert)
        for path in ("/cl", "/ch"):
            self.gz(fetch(inst.port, path, AE, tls=ctx), body, path)
        self.plain(fetch(inst.port, "/cl", tls=ctx), body)
        # incompressible, more than the socket buffers: TLS writes of
        # gzip's buffers under back-pressure (and the proxy's temp file)
        self.gz(fetch(inst.port, "/big", AE, tls=ctx), big, "/big")


# -------------------------------------------------------------------- slow

def sanitized():
    out = subprocess.run([BIN, "-V"], capture_output=True, text=True).stderr
    return "--with-sanitizers" in out


def rss(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for {pid}")


BLOCK = text(1 << 20, seed=11)


@unittest.skipUnless(SLOW, "slow test: run with make test-slow")
class Huge(GzipProxyCase):
    """100 MiB and 1 GiB streamed by the origin (chunked), compressed by
    the proxy, decompressed as they come; the worker's RSS is watched."""

    def start(self):
        def gen():
            for _ in range(self.mib):
                yield BLOCK
        o = origins.started(self, origins.stream(
            gen, headers=plain_text()))
        inst = self.proxy(f"""
    gzip on; gzip_types text/plain; access_log off;
    server {{ listen 127.0.0.1:@PORT@;
        location / {{ proxy_pass http://{o.addr}; proxy_http_version 1.1; }}
    }}""", error_level="warn")
        return inst

    def stream(self, port, on_progress=None, rcvbuf=None):
        s = socket.socket()
        if rcvbuf:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        s.settimeout(120)
        s.connect(("127.0.0.1", port))
        s.sendall(b"GET /big HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip"
                  b"\r\nConnection: close\r\n\r\n")
        c = ChunkReader.__new__(ChunkReader)
        c.s, c.buf, c.plain, c.ended = s, b"", b"", False
        c.d = zlib.decompressobj(16 + 15)
        while b"\r\n\r\n" not in c.buf:
            c.recv()
        head, _, c.buf = c.buf.partition(b"\r\n\r\n")
        self.assertIn(b"Content-Encoding: gzip", head)
        h, total, n = hashlib.sha256(), 0, 0
        while True:
            c.decode()
            h.update(c.plain)
            total += len(c.plain)
            c.plain = b""
            if c.ended:
                break
            try:
                c.recv()
            except EOFError:
                break
            n += 1
            if on_progress and n % 64 == 0:
                on_progress()
        s.close()
        return h.hexdigest(), total, c.ended

    def expected(self):
        h = hashlib.sha256()
        for _ in range(self.mib):
            h.update(BLOCK)
        return h.hexdigest()

    def test_100mib_round_trip(self):
        self.mib = 100
        inst = self.start()
        digest, total, ended = self.stream(inst.port)
        self.assertTrue(ended)
        self.assertEqual(total, 100 << 20)
        self.assertEqual(digest, self.expected())

    def test_1gib_rss_bounded(self):
        self.mib = 1024
        inst = self.start()
        worker = inst.wait_workers(1)[0]
        base = rss(worker)
        peak = [base]

        def sample():
            peak[0] = max(peak[0], rss(worker))
        digest, total, ended = self.stream(inst.port, sample, rcvbuf=65536)
        self.assertTrue(ended)
        self.assertEqual(total, 1 << 30)
        self.assertEqual(digest, self.expected())
        grew = peak[0] - base
        print(f"\nproxied gzip of 1 GiB: worker RSS {base // 1024} KiB "
              f"before, peak {peak[0] // 1024} KiB (+{grew // 1024} KiB)")
        if not sanitized() and not UNDER_NGINX:
            # proxy buffers, gzip_buffers, zlib's state, the pools
            self.assertLess(grew, 32 << 20)


if __name__ == "__main__":
    unittest.main()
