"""WebSocket through the proxy: the usual `map $http_upgrade
$connection_upgrade` config, the 101 handshake, frames echoed both ways
until either side closes, the idle tunnel bounded by proxy_read_timeout,
and no upgrade without the Upgrade/Connection headers set."""

import base64
import os
import time

from origins import started, websocket_echo, ws_accept, ws_frame, ws_read_frame
from portico_harness import RawClient
from proxy_util import ProxyCase, request_bytes


def handshake(c, path="/ws"):
    key = base64.b64encode(os.urandom(16)).decode()
    c.send(request_bytes(path, close=False, headers=[
        ("Upgrade", "websocket"), ("Connection", "Upgrade"),
        ("Sec-WebSocket-Key", key), ("Sec-WebSocket-Version", "13")]))
    return key, c.response(head=True)


def recv_exact(c):
    """A recv_exact over a RawClient's buffer, bounded by its timeout."""
    def f(n):
        deadline = time.monotonic() + c.timeout
        while len(c.buf) < n:
            if c.eof:
                raise EOFError()
            c._recv(deadline)
        out, c.buf = c.buf[:n], c.buf[n:]
        return out
    return f


class WebSocket(ProxyCase):

    def setUp(self):
        super().setUp()
        self.o = started(self, websocket_echo())
        self.inst = self.proxy(f"""
    map $http_upgrade $connection_upgrade {{
        default upgrade;
        ''      close;
    }}
    server {{
        listen 127.0.0.1:@PORT@;
        location /ws {{
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_read_timeout 2s;
            proxy_pass http://{self.o.addr};
        }}
        location /plain {{ proxy_pass http://{self.o.addr}; }}
    }}""")

    def test_echo(self):
        with RawClient(self.inst.port, timeout=10) as c:
            key, r = handshake(c)
            self.assertEqual(r.status, 101)
            self.assertEqual(r.header("Sec-WebSocket-Accept"), ws_accept(key))
            self.assertEqual(r.header("Upgrade"), "websocket")
            self.assertEqual(r.header("Connection").lower(), "upgrade")
            req = self.o.last()
            self.assertEqual(req.request_line, "GET /ws HTTP/1.1")
            self.assertEqual(req.header("Upgrade"), "websocket")
            self.assertEqual(req.header("Connection"), "upgrade")
            read = recv_exact(c)
            mask = b"\x01\x02\x03\x04"
            for op, payload in ((1, b"hello"), (2, os.urandom(70000)),
                                (1, b"")):
                c.send(ws_frame(op, payload, mask))
                self.assertEqual(ws_read_frame(read), (op, payload))
            c.send(ws_frame(9, b"ping", mask))
            self.assertEqual(ws_read_frame(read), (10, b"ping"))
            c.send(ws_frame(8, b"\x03\xe8", mask))
            self.assertEqual(ws_read_frame(read), (8, b"\x03\xe8"))
            # the origin closes after the close frame: so does the proxy
            self.assertTrue(c.wait_eof(10))

    def test_idle_tunnel_closed_by_read_timeout(self):
        with RawClient(self.inst.port, timeout=10) as c:
            _, r = handshake(c)
            self.assertEqual(r.status, 101)
            t0 = time.monotonic()
            self.assertTrue(c.wait_eof(10), "the idle tunnel stayed open")
            took = time.monotonic() - t0
        self.assertGreater(took, 1.5)
        self.assertLess(took, 6)

    def test_no_upgrade_without_the_headers(self):
        # Upgrade and Connection are hop-by-hop: not passed by default
        with RawClient(self.inst.port, timeout=10) as c:
            _, r = handshake(c, "/plain")
            self.assertEqual(r.status, 400)
        self.assertIsNone(self.o.last().header("Upgrade"))
