"""An origin that answers before it has read the whole request body (an
early 413, a 200 after the head, a close without reading): the proxy reads
the response while it is still sending the request, as nginx does, with
proxy_request_buffering on (body from memory or a temp file) and off
(streamed, with a length or chunked), and never reuses an upstream
connection whose request was cut short."""

import os
import re
import shutil
import socket
import ssl
import tempfile
import threading
import time

import tls_certs

from origins import Origin, fixed, head_bytes, route
from portico_harness import UNDER_NGINX, RawClient
from proxy_util import ProxyCase

MIB = 1 << 20
BIG = 8 * MIB


def early(status=413, body=b"too large\n", after="drain", pace=0.0,
          stats=None):
    """An origin behaviour (for Origin(body=False)): the response right
    after the head, then `after`: "drain" reads and drops the body until
    EOF (pausing `pace` s per read so that buffers fill), "close" closes
    without reading. `stats` (a list) gets the bytes drained per
    connection and whether EOF ended the drain."""
    def b(c, req):
        c.log_start(req)
        c.send(head_bytes(status, [("Content-Length", str(len(body)))])
               + body)
        if after == "close":
            return False
        got, eof = len(c.buf), False
        c.buf = b""
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                piece = c.sock.recv(1 << 16)
            except OSError:
                break
            if not piece:
                eof = True
                break
            got += len(piece)
            if pace:
                time.sleep(pace)
        if stats is not None:
            stats.append((got, eof))
        return False
    return b


def slow_reader(pace, then):
    """Reads the head, then the body (Content-Length) in 64 KiB pieces with
    `pace` s between them, then answers with `then`."""
    def b(c, req):
        n = int(req.header("Content-Length") or 0) - len(c.buf)
        c.buf = b""
        while n > 0:
            piece = c.sock.recv(min(n, 1 << 16))
            if not piece:
                return False
            n -= len(piece)
            time.sleep(pace)
        return then(c, req)
    return b


def never_reads():
    """Reads the head and nothing more, never answers (until stopped)."""
    def b(c, req):
        c.pause(30)
        return False
    return b


class Upload:
    """A client sending `head` + `body` from a thread (in 64 KiB pieces,
    stopping at the first error) while the test reads the response."""

    def __init__(self, port, head, body):
        self.c = RawClient(port, timeout=30)
        self.sent = 0
        self.error = None
        self.t = threading.Thread(target=self._send, args=(head, body),
                                  daemon=True)
        self.t.start()

    def _send(self, head, body):
        try:
            self.c.sock.sendall(head)
            view = memoryview(body)
            while self.sent < len(body):
                self.c.sock.sendall(view[self.sent:self.sent + (1 << 16)])
                self.sent += min(1 << 16, len(body) - self.sent)
        except OSError as e:
            self.error = e

    def done(self, timeout=30):
        self.t.join(timeout)
        return not self.t.is_alive()

    def close(self):
        try:
            self.c.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.c.close()
        self.t.join(5)


def post_head(path, length=None, method="POST", close=False):
    hs = [("Host", "localhost")]
    hs.append(("Content-Length", str(length)) if length is not None
              else ("Transfer-Encoding", "chunked"))
    if close:
        hs.append(("Connection", "close"))
    return (f"{method} {path} HTTP/1.1\r\n"
            + "".join(f"{k}: {v}\r\n" for k, v in hs) + "\r\n").encode()


def chunked_body(data, piece=1 << 16):
    out = [b"%x\r\n%s\r\n" % (len(data[i:i + piece]), data[i:i + piece])
           for i in range(0, len(data), piece)]
    return b"".join(out) + b"0\r\n\r\n"


def wait_stats(stats, n=1, timeout=20):
    deadline = time.monotonic() + timeout
    while len(stats) < n and time.monotonic() < deadline:
        time.sleep(0.05)
    return stats


def cut_after_head(total=100, sent=10):
    """A 200 of `total` bytes right after the request head, cut after
    `sent` of them by a close."""
    def b(c, req):
        c.log_start(req)
        c.send(head_bytes(200, [("Content-Length", str(total))])
               + b"y" * sent)
        return False
    return b


def tls_origin(testcase, stats):
    """A one-connection HTTPS origin: reads the head, answers 413, drains
    the rest slowly until EOF; `stats` gets the body bytes it saw."""
    d = tempfile.mkdtemp(prefix="portico-early-")
    testcase.addCleanup(shutil.rmtree, d, True)
    os.chmod(d, 0o755)
    pair = tls_certs.self_signed(d, "origin.test")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pair.chain, pair.key)
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(8)
    testcase.addCleanup(lsock.close)

    def drain(s, got):
        try:
            while True:
                d = s.recv(65536)
                if not d:
                    break
                got += len(d)
                time.sleep(0.002)
        except (OSError, ssl.SSLError):
            pass
        return got

    def serve():
        raw, _ = lsock.accept()
        raw.settimeout(20)
        with ctx.wrap_socket(raw, server_side=True) as s:
            buf = b""
            while b"\r\n\r\n" not in buf:
                buf += s.recv(65536)
            s.sendall(b"HTTP/1.1 413 X\r\nContent-Length: 3\r\n\r\nno\n")
            stats.append(drain(s, len(buf.partition(b"\r\n\r\n")[2])))
    threading.Thread(target=serve, daemon=True).start()
    return lsock.getsockname()[1]


class Early(ProxyCase):

    def start(self, behaviours, extra="", upstream_extra="", backup=None):
        """One origin per behaviour (the last is a backup when `backup`),
        all reading the request head only; the proxy in front."""
        self.origins = []
        for beh in behaviours:
            o = Origin(beh, body=False).start()
            self.addCleanup(o.stop)
            self.origins.append(o)
        servers = "".join(
            f"server {o.addr}{' backup' if backup and i else ''};"
            for i, o in enumerate(self.origins))
        self.inst = self.proxy(f"""
    upstream u {{ {servers} {upstream_extra} }}
    server {{
        listen 127.0.0.1:@PORT@;
        client_max_body_size 64m;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        {extra}
        location /on/ {{ proxy_pass http://u; }}
        location /off/ {{ proxy_request_buffering off; proxy_pass http://u; }}
    }}""")
        return self.inst

    def upload(self, path, body, chunked=False, method="POST"):
        head = post_head(path, None if chunked else len(body), method)
        up = Upload(self.inst.port, head,
                    chunked_body(body) if chunked else body)
        self.addCleanup(up.close)
        return up

    def alarming(self):
        return re.findall(r"^.*\[(?:error|crit|alert|emerg)\].*$",
                          self.inst.log(), re.M)

    def assert_kept_alive(self, up, size):
        """The upload went in whole and the client connection serves
        another request."""
        self.assertTrue(up.done())
        self.assertIsNone(up.error)
        self.assertEqual(up.sent, size)
        self.assertEqual(self.response_header(up.last, "Connection"),
                         "keep-alive")
        up.c.send(b"GET /on/next HTTP/1.1\r\nHost: localhost\r\n"
                  b"Connection: close\r\n\r\n")
        return up.c.response(timeout=20)

    def assert_lingering_close(self, up, size):
        """The connection ends right after the response, while the rest of
        the body is read and dropped (lingering close), without error.
        nginx says "Connection: keep-alive" in that response all the same;
        Portico says what happens (README, differences)."""
        self.assertTrue(up.c.wait_eof(timeout=10))
        self.assertTrue(up.done())
        self.assertIsNone(up.error)
        self.assertEqual(up.sent, size)
        self.assertEqual(self.response_header(up.last, "Connection"),
                         "keep-alive" if UNDER_NGINX else "close")

    @staticmethod
    def response_header(r, name):
        return r.header(name)

    def response(self, up):
        up.last = up.c.response(timeout=30)
        return up.last

    # ------------------------------------------------ buffering on

    def test_buffered_early_413_origin_drains(self):
        """The body is in a temp file; the origin answers 413 after the
        head and drains slowly: the client gets the 413 and keeps its
        connection, the origin sees the proxy stop sending and close
        (never kept alive with the request half sent), nothing alarming
        is logged."""
        stats = []
        self.start([early(pace=0.002, stats=stats)],
                   upstream_extra="keepalive 4;")
        up = self.upload("/on/a", b"x" * BIG)
        r = self.response(up)
        self.assertEqual((r.status, r.body), (413, b"too large\n"))
        r2 = self.assert_kept_alive(up, BIG)
        self.assertEqual(r2.status, 413)
        got, eof = wait_stats(stats)[0]
        self.assertTrue(eof)
        self.assertLess(got, BIG)
        self.assertEqual(self.origins[0].accepted, 2)
        self.assertEqual(self.alarming(), [])

    def test_buffered_early_200_origin_closes(self):
        """The origin answers and closes without reading the body. Portico
        delivers the answer; nginx 1.22 usually fails its next write
        first (writev() failed (32: Broken pipe)) and answers 502."""
        self.start([early(200, b"done\n", after="close")])
        up = self.upload("/on/a", b"x" * BIG)
        r = self.response(up)
        if UNDER_NGINX:
            self.assertIn(r.status, (200, 502))
        else:
            self.assertEqual((r.status, r.body), (200, b"done\n"))
            self.assertEqual(self.alarming(), [])
        self.assertEqual(self.assert_kept_alive(up, BIG).status, 200)

    def test_buffered_small_body_from_memory(self):
        """A body in memory (no temp file) with an early answer: the same."""
        self.start([early(413, b"no\n", stats=[])])
        up = self.upload("/on/a", b"x" * 4096)
        r = self.response(up)
        self.assertEqual((r.status, r.body), (413, b"no\n"))
        self.assertEqual(self.assert_kept_alive(up, 4096).status, 413)

    # ------------------------------------------------ buffering off

    def test_streamed_early_413_origin_drains(self):
        """Streamed with a length: the 413 comes while the client still
        sends; the rest of the body is drained by a lingering close, the
        upstream connection is closed, not kept."""
        stats = []
        self.start([early(pace=0.002, stats=stats)],
                   upstream_extra="keepalive 4;")
        up = self.upload("/off/a", b"x" * BIG)
        r = self.response(up)
        self.assertEqual((r.status, r.body), (413, b"too large\n"))
        self.assert_lingering_close(up, BIG)
        got, eof = wait_stats(stats)[0]
        self.assertTrue(eof)
        self.assertLess(got, BIG)
        self.assertEqual(self.alarming(), [])
        with RawClient(self.inst.port, timeout=20) as c:
            c.send(b"GET /off/b HTTP/1.1\r\nHost: localhost\r\n\r\n")
            self.assertEqual(c.response().status, 413)
        self.assertEqual(self.origins[0].accepted, 2)

    def test_streamed_chunked_early_413_drains(self):
        stats = []
        self.start([early(pace=0.002, stats=stats)])
        up = self.upload("/off/a", b"x" * BIG, chunked=True)
        r = self.response(up)
        self.assertEqual((r.status, r.body), (413, b"too large\n"))
        self.assert_lingering_close(up, len(chunked_body(b"x" * BIG)))
        self.assertTrue(wait_stats(stats)[0][1])
        self.assertEqual(self.alarming(), [])

    def test_streamed_chunked_early_200_origin_closes(self):
        """As with buffering on: Portico delivers the answer, nginx 1.22
        usually answers 502 after a failed write."""
        self.start([early(200, b"done\n", after="close")])
        up = self.upload("/off/a", b"x" * BIG, chunked=True)
        r = self.response(up)
        if UNDER_NGINX:
            self.assertIn(r.status, (200, 502))
        else:
            self.assertEqual((r.status, r.body), (200, b"done\n"))
            self.assertEqual(self.alarming(), [])
        self.assert_lingering_close(up, len(chunked_body(b"x" * BIG)))

    # ------------------------------------------------ retries, timeouts

    def test_early_502_retried_with_the_whole_body(self):
        """An early 502 with proxy_next_upstream http_502 (PUT): the next
        peer gets the whole body from its first byte."""
        self.start([early(502, b"bad\n", stats=[]),
                    slow_reader(0, fixed(200, body=b"whole\n"))],
                   extra="proxy_next_upstream error http_502;", backup=True)
        up = self.upload("/on/a", b"x" * BIG, method="PUT")
        r = self.response(up)
        self.assertEqual((r.status, r.body), (200, b"whole\n"))
        self.assertEqual(len(self.origins[1].requests), 1)

    def test_streamed_early_502_is_passed_not_retried(self):
        """A streamed body cannot be sent again: the origin's 502 is the
        answer (nginx: no retry once a body without buffering went out)."""
        self.start([early(502, b"bad\n", stats=[]),
                    slow_reader(0, fixed(200, body=b"whole\n"))],
                   extra="proxy_next_upstream error http_502;", backup=True)
        up = self.upload("/off/a", b"x" * BIG, method="PUT")
        r = self.response(up)
        self.assertEqual((r.status, r.body), (502, b"bad\n"))
        self.assertEqual(len(self.origins[1].requests), 0)

    def test_no_retry_once_response_bytes_went_out(self):
        """An early head and part of the body, then a close while the
        request is still going out: the client's response is cut, no
        other peer is tried."""
        self.start([cut_after_head(),
                    slow_reader(0, fixed(200, body=b"whole\n"))],
                   extra="proxy_next_upstream error timeout;", backup=True)
        up = self.upload("/on/a", b"x" * BIG, method="PUT")
        try:
            r = self.response(up)
        except AssertionError:
            r = None
        if r is not None:
            # nginx 1.22 only: its write failed before it read the head,
            # and the retry came before any byte reached the client
            self.assertTrue(UNDER_NGINX)
            self.assertEqual(r.body, b"whole\n")
            return
        self.assertTrue(up.c.buf.startswith(b"HTTP/1.1 200 "), up.c.buf)
        self.assertEqual(len(self.origins[1].requests), 0)
        self.inst.wait_log(r"upstream prematurely closed connection while "
                           r"reading upstream")

    def test_send_timeout_while_sending(self):
        """An origin that reads the head only and never answers:
        proxy_send_timeout ends the try (504), "while sending request"."""
        self.start([never_reads()], extra="proxy_send_timeout 1s;"
                   " proxy_read_timeout 30s;")
        up = self.upload("/on/a", b"x" * BIG)
        r = self.response(up)
        self.assertEqual(r.status, 504)
        self.inst.wait_log(r"upstream timed out \(110: Connection timed "
                           r"out\) while sending request to upstream")

    def test_read_timeout_only_once_the_request_is_sent(self):
        """An origin reading the body more slowly than proxy_read_timeout
        allows for the whole (about 3 s against 2 s; what the socket
        buffers hold after the last write takes well under 2 s): no
        timeout while the request goes out."""
        self.start([slow_reader(0.006, fixed(200, body=b"late\n"))],
                   extra="proxy_send_timeout 10s; proxy_read_timeout 2s;")
        up = self.upload("/on/a", b"x" * (32 * MIB))
        r = self.response(up)
        self.assertEqual((r.status, r.body), (200, b"late\n"))

    # ------------------------------------------------ proxy_ssl

    def test_tls_early_413(self):
        """Over proxy_ssl: the head is read (SSL_read) while the body is
        still being written (SSL_write), buffered and streamed."""
        stats = {"on": [], "off": []}
        ports = {k: tls_origin(self, v) for k, v in stats.items()}
        self.inst = self.proxy(f"""
    server {{
        listen 127.0.0.1:@PORT@;
        client_max_body_size 64m;
        location /on/ {{ proxy_pass https://127.0.0.1:{ports["on"]}; }}
        location /off/ {{ proxy_request_buffering off;
                         proxy_pass https://127.0.0.1:{ports["off"]}; }}
    }}""")
        for k in ("on", "off"):
            up = self.upload(f"/{k}/a", b"x" * BIG)
            r = self.response(up)
            self.assertEqual((r.status, r.body), (413, b"no\n"))
            self.assertLess(wait_stats(stats[k])[0], BIG)
        self.assertEqual(self.alarming(), [])
