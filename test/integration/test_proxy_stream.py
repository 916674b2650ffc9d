"""Bodies through the proxy: chunked responses de-chunked and re-chunked,
HTTP/1.0 clients, HEAD, 304, proxy_buffering on/off and X-Accel-Buffering,
proxy_request_buffering on/off, proxy_buffer_size, proxy_buffers and
proxy_busy_buffers_size, temp file spill under a slow client,
client_max_body_size on a chunked body, keep-alive to the origin."""

import hashlib
import os
import re
import socket
import threading
import time

from origins import (chunked, close_delimited, echo, fixed, head_bytes,
                     route, started, stream)
from portico_harness import RawClient, wait_for, workers_of
from proxy_util import ProxyCase, read_until_close, request, request_bytes

CHUNKS = [b"first;", b"", b"x" * 5000, b"\r\n0\r\n", b"last"]


def gated(gate, head_headers=()):
    """An origin behaviour: the head and "early" at once, the rest only
    once `gate` is set (bounded), chunked."""
    def b(c, req):
        c.log_start(req)
        c.send(head_bytes(200, list(head_headers)
                          + [("Transfer-Encoding", "chunked")])
               + b"5\r\nearly\r\n")
        gate.wait(15)
        c.send(b"4\r\nlate\r\n0\r\n\r\n")
        return True
    return b


class Bodies(ProxyCase):

    def setUp(self):
        super().setUp()
        self.gate = threading.Event()
        self.o = started(self, route({
            "/chunked": chunked([c for c in CHUNKS if c],
                                trailers=[("X-Trailer", "t")],
                                exts=["a=1", None, 'b="q"', None],
                                headers=[("Trailer", "X-Trailer")]),
            "/close": close_delimited(b"until the end\n"),
            "/len": fixed(200, [("ETag", '"e1"')], b"0123456789"),
            "/nm": fixed(304, [("ETag", '"e1"')]),
            "/gate": gated(self.gate),
            "/accel": gated(self.gate, [("X-Accel-Buffering", "no")]),
        }))
        o = self.o.addr
        self.inst = self.proxy(f"""
    server {{
        listen 127.0.0.1:@PORT@;
        location / {{ proxy_pass http://{o}; }}
        location /off/ {{ proxy_buffering off; proxy_pass http://{o}/; }}
        location /v11/ {{ proxy_http_version 1.1; proxy_pass http://{o}/; }}
    }}""")

    def test_chunked_response_rechunked(self):
        r = request(self.inst.port, "/chunked")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("Transfer-Encoding"), "chunked")
        self.assertEqual(r.body, b"".join(CHUNKS))
        # trailers are dropped (the announcing header passes)
        self.assertNotIn(b"X-Trailer: t", r.head)
        for path in ("/off/chunked", "/v11/chunked"):
            self.assertEqual(request(self.inst.port, path).body,
                             b"".join(CHUNKS))

    def test_http10_client_gets_a_close_delimited_body(self):
        for path in ("/chunked", "/close"):
            with RawClient(self.inst.port) as c:
                c.send(request_bytes(path, version="HTTP/1.0"))
                data = read_until_close(c.sock)
            head, _, body = data.partition(b"\r\n\r\n")
            self.assertTrue(head.startswith(b"HTTP/1.1 200 "), head)
            self.assertNotIn(b"Transfer-Encoding", head)
            self.assertNotIn(b"Content-Length", head)
            want = b"".join(CHUNKS) if path == "/chunked" \
                else b"until the end\n"
            self.assertEqual(body, want)

    def test_close_delimited_response_to_http11_client(self):
        r = request(self.inst.port, "/close")
        self.assertEqual(r.header("Transfer-Encoding"), "chunked")
        self.assertEqual(r.body, b"until the end\n")

    def test_head(self):
        r = request(self.inst.port, "/len", method="HEAD")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("Content-Length"), "10")
        self.assertEqual(self.o.last().method, "HEAD")
        # nothing after the head: a next request on the connection parses
        with RawClient(self.inst.port) as c:
            c.send(request_bytes("/len", "HEAD", close=False)
                   + request_bytes("/len"))
            self.assertEqual(c.response(head=True).status, 200)
            self.assertEqual(c.response().body, b"0123456789")

    def test_304(self):
        r = request(self.inst.port, "/nm",
                    headers=[("If-None-Match", '"e1"')])
        self.assertEqual(r.status, 304)
        self.assertEqual(r.body, b"")
        self.assertEqual(r.header("ETag"), '"e1"')
        self.assertEqual(self.o.last().header("If-None-Match"), '"e1"')

    def early_then_late(self, path):
        """The client sees "early" while the origin waits on the gate."""
        with RawClient(self.inst.port, timeout=10) as c:
            c.send(request_bytes(path))
            wait_for(lambda: (c._recv(time.monotonic() + 0.2) or True)
                     and b"early" in c.buf, "the first bytes at the client",
                     timeout=10)
            self.gate.set()
            r = c.response()
        self.assertEqual(r.body, b"earlylate")

    def test_buffering_off_streams(self):
        self.early_then_late("/off/gate")

    def test_accel_buffering_no_streams(self):
        self.early_then_late("/accel")


class Limits(ProxyCase):

    def test_head_larger_than_proxy_buffer_size(self):
        big = [("X-Big", "b" * 3000)]
        o = started(self, route({"/big": fixed(200, big, b"ok"),
                                 "/small": fixed(200, [], b"ok")}))
        inst = self.proxy(f"""
    server {{
        listen 127.0.0.1:@PORT@;
        location / {{ proxy_buffer_size 1k; proxy_pass http://{o.addr}; }}
        location /w/ {{ proxy_buffer_size 8k; proxy_pass http://{o.addr}/; }}
    }}""")
        self.assertEqual(request(inst.port, "/small").status, 200)
        r = request(inst.port, "/big")
        self.assertEqual(r.status, 502)
        inst.wait_log(r"\[error\] .*upstream sent too big header while "
                      r"reading response header from upstream")
        r = request(inst.port, "/w/big")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("X-Big"), "b" * 3000)

    def test_busy_buffers_size_bound(self):
        rc, err = self.config_error("""
    server { listen 127.0.0.1:@PORT@;
        location / { proxy_buffers 2 4k; proxy_busy_buffers_size 8k;
                     proxy_pass http://127.0.0.1:9; } }""")
        self.assertNotEqual(rc, 0)
        self.assertIn('"proxy_busy_buffers_size" must be less than the size '
                      'of all "proxy_buffers" minus one buffer', err)

    def test_chunked_body_over_client_max_body_size(self):
        o = started(self)
        inst = self.proxy(f"""
    server {{
        listen 127.0.0.1:@PORT@;
        client_max_body_size 1k;
        location / {{ proxy_pass http://{o.addr}; }}
    }}""")
        body = b"400\r\n" + b"a" * 1024 + b"\r\n10\r\n" + b"b" * 16 \
            + b"\r\n0\r\n\r\n"
        r = request(inst.port, "/", method="POST", body=body,
                    headers=[("Transfer-Encoding", "chunked")])
        self.assertEqual(r.status, 413)
        inst.wait_log(r"client intended to send too large chunked body")
        self.assertEqual(o.accepted, 0)


class RequestBuffering(ProxyCase):

    def test_on_and_off(self):
        o = started(self)
        inst = self.proxy(f"""
    server {{
        listen 127.0.0.1:@PORT@;
        location /on/ {{ proxy_pass http://{o.addr}; }}
        location /off/ {{ proxy_request_buffering off;
                         proxy_pass http://{o.addr}; }}
    }}""")
        first, rest = b"a" * 1000, b"b" * 1000
        # off: the origin has the head and the first part while the
        # client still holds the rest
        with RawClient(inst.port, timeout=10) as c:
            c.send(request_bytes("/off/", "POST", body=first,
                                 headers=[("Content-Length", "2000")]))
            req = o.last()
            wait_for(lambda: req.body == first, "the first part upstream")
            self.assertFalse(req.complete.is_set())
            c.send(rest)
            self.assertEqual(c.response().status, 200)
        self.assertEqual(req.body, first + rest)
        # on: nothing reaches the origin before the whole body
        with RawClient(inst.port, timeout=10) as c:
            c.send(request_bytes("/on/", "POST", body=first,
                                 headers=[("Content-Length", "2000")]))
            time.sleep(0.5)               # a negative: bounded wait
            self.assertEqual(len(o.requests), 1)
            c.send(rest)
            self.assertEqual(c.response().status, 200)
        self.assertEqual(o.wait_requests(2)[1].body, first + rest)


def pattern(total, piece=65536):
    """A deterministic body of `total` bytes, in pieces."""
    def gen():
        sent = 0
        block = bytes(range(256)) * (piece // 256 + 1)
        while sent < total:
            n = min(piece, total - sent)
            yield block[:n]
            sent += n
    return gen


def temp_files(inst, tmp):
    """Files under `tmp`, in the directory or open (maybe deleted) in a
    worker of `inst`."""
    found = [f for _, _, files in os.walk(tmp) for f in files]
    for pid in workers_of(inst.master):
        fds = f"/proc/{pid}/fd"
        for fd in os.listdir(fds):
            try:
                target = os.readlink(os.path.join(fds, fd))
            except OSError:
                continue
            if target.startswith(tmp + "/"):
                found.append(target)
    return found


def dechunk(data):
    """The payload of a whole chunked body (AssertionError if cut)."""
    out = []
    pos = 0
    while True:
        crlf = data.index(b"\r\n", pos)
        size = int(data[pos:crlf].split(b";")[0], 16)
        if size == 0:
            return b"".join(out)
        out.append(data[crlf + 2:crlf + 2 + size])
        if len(out[-1]) != size:
            raise AssertionError("truncated chunk")
        pos = crlf + 4 + size


def digest_of(gen):
    h = hashlib.sha256()
    for p in gen():
        h.update(p)
    return h.hexdigest()


class SlowClient(ProxyCase):

    SIZE = 8 << 20

    def slow_read(self, port, path):
        """A client with a small receive buffer that waits before reading:
        (sha256 of the body, the head)."""
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.settimeout(30)
        s.connect(("127.0.0.1", port))
        s.sendall(request_bytes(path))
        return s

    def finish(self, s):
        """Read the rest: (head, sha256 of the body, its length), the body
        de-chunked when it is chunked."""
        data = read_until_close(s, timeout=60)
        s.close()
        head, _, body = data.partition(b"\r\n\r\n")
        if b"Transfer-Encoding: chunked" in head:
            body = dechunk(body)
        return head, hashlib.sha256(body).hexdigest(), len(body)

    def test_spill_to_temp_file(self):
        gen = pattern(self.SIZE)
        o = started(self, stream(gen, length=self.SIZE))
        inst = self.proxy(f"""
    server {{
        listen 127.0.0.1:@PORT@;
        location /spill/ {{
            proxy_buffers 4 4k;
            proxy_max_temp_file_size 64m;
            proxy_pass http://{o.addr}/;
        }}
        location /nospill/ {{
            proxy_buffers 4 4k;
            proxy_max_temp_file_size 0;
            proxy_pass http://{o.addr}/;
        }}
    }}""", error_level="warn")
        tmp = inst.path("proxy_temp")
        s = self.slow_read(inst.port, "/spill/x")
        # while the client does not read, the body goes to a temp file in
        # proxy_temp_path (nginx unlinks it at once: seen as an open fd)
        wait_for(lambda: temp_files(inst, tmp),
                 "a temp file in proxy_temp_path", timeout=15,
                 diag=inst.diag)
        inst.wait_log(r"\[warn\] .*an upstream response is buffered to a "
                      r"temporary file " + re.escape(tmp))
        head, digest, n = self.finish(s)
        self.assertEqual(n, self.SIZE, head)
        self.assertEqual(digest, digest_of(gen))
        # without temp files the body arrives whole too
        s = self.slow_read(inst.port, "/nospill/x")
        time.sleep(0.3)
        head, digest, n = self.finish(s)
        self.assertEqual((n, digest), (self.SIZE, digest_of(gen)))

    def test_chunked_stream_through_unbuffered(self):
        gen = pattern(4 << 20, piece=7777)
        o = started(self, stream(gen))
        inst = self.proxy(f"""
    server {{
        listen 127.0.0.1:@PORT@;
        location / {{ proxy_buffering off; proxy_buffer_size 4k;
                     proxy_pass http://{o.addr}; }}
    }}""")
        s = self.slow_read(inst.port, "/")
        time.sleep(0.3)
        head, digest, n = self.finish(s)
        self.assertIn(b"Transfer-Encoding: chunked", head)
        self.assertEqual((n, digest), (4 << 20, digest_of(gen)))


class UpstreamKeepalive(ProxyCase):

    def test_one_connection_for_several_requests(self):
        o = started(self, echo())
        inst = self.proxy(f"""
    upstream ka {{ server {o.addr}; keepalive 2; }}
    server {{
        listen 127.0.0.1:@PORT@;
        location / {{
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass http://ka;
        }}
    }}""")
        for i in range(3):
            self.assertEqual(request(inst.port, f"/{i}").status, 200)
        o.wait_requests(3)
        self.assertEqual(o.accepted, 1)
        self.assertEqual(o.requests_per_conn(), [3])
        self.assertIsNone(o.requests[0].header("Connection"))


class BindAndRate(ProxyCase):

    def test_proxy_bind_and_limit_rate(self):
        o = started(self, fixed(200, [], b"z" * 6144))
        inst = self.proxy(f"""
    server {{
        listen 127.0.0.1:@PORT@;
        location /bind/ {{ proxy_bind 127.0.0.2; proxy_pass http://{o.addr}; }}
        location /rate/ {{ proxy_limit_rate 4096; proxy_pass http://{o.addr}; }}
        location /free/ {{ proxy_pass http://{o.addr}; }}
    }}""")
        self.assertEqual(request(inst.port, "/bind/").status, 200)
        self.assertEqual(o.conns[0].peer[0], "127.0.0.2")
        t0 = time.monotonic()
        self.assertEqual(len(request(inst.port, "/free/").body), 6144)
        free = time.monotonic() - t0
        t0 = time.monotonic()
        r = request(inst.port, "/rate/", timeout=20)
        limited = time.monotonic() - t0
        self.assertEqual(r.body, b"z" * 6144)
        self.assertEqual(o.conns[2].peer[0], "127.0.0.1")
        # 6 KiB read from the origin at 4 KiB/s: the reads after the first
        # 4 KiB wait about 1 s
        self.assertGreater(limited, 0.75, f"free {free:.2f}")
        self.assertLess(free, 0.5)


class LargeRequestBodies(ProxyCase):

    def test_large_bodies_arrive_byte_exact(self):
        o = started(self, fixed(200, [], b"got\n"))
        inst = self.proxy(f"""
    server {{
        listen 127.0.0.1:@PORT@;
        client_max_body_size 16m;
        location /on/ {{ proxy_pass http://{o.addr}; }}
        location /off/ {{ proxy_request_buffering off;
                         proxy_http_version 1.1;
                         proxy_pass http://{o.addr}; }}
    }}""")
        body = os.urandom(3 << 20)        # over client_body_buffer_size:
        for i, path in enumerate(("/on/", "/off/")):   # a temp file
            r = request(inst.port, path, method="POST", body=body,
                        timeout=30)
            self.assertEqual(r.status, 200, path)
            req = o.wait_requests(i + 1)[i]
            self.assertEqual(req.header("Content-Length"), str(len(body)))
            self.assertEqual(hashlib.sha256(req.body).digest(),
                             hashlib.sha256(body).digest(), path)
