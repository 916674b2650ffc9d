"""Upstream failures: refused, reset, invalid or truncated heads and bodies
(502 or a truncated body), connect/send/read timeouts (504) with nginx's
error log lines, proxy_intercept_errors with error_page."""

from origins import (close_mid_body, close_mid_head, close_now, delayed,
                     dribble, fixed, full_backlog_listener, head_bytes, raw,
                     reset_now, route, started, Origin)
from portico_harness import PRODUCT, RawClient, free_port
from proxy_util import ProxyCase, read_until_close, request, request_bytes

# nginx puts the connection number "*N" first; portico does not
ERR = r"\[error\] \d+#\d+: (?:\*\d+ )?"


class Failures(ProxyCase):

    def setUp(self):
        super().setUp()
        self.o = started(self, route({
            "/ok": fixed(200, [], b"fine\n"),
            "/reset": reset_now(),
            "/close": close_now(),
            "/midhead": close_mid_head(),
            "/badline": raw(b"HTTP/1.1 200 OK\r\nBad Header Line\r\n\r\n"),
            "/midbody": close_mid_body(total=1000, sent=100),
            "/midchunk": raw(head_bytes(200, [("Transfer-Encoding",
                                               "chunked")])
                             + b"a\r\n0123456789\r\n10\r\nabc"),
            "/slowhead": delayed(3, fixed(200, [], b"late\n")),
            "/stall": dribble(head_bytes(200, [("Content-Length", "10")])
                              + b"01234", [b"56789"], 3),
        }))
        self.dead = free_port()
        o = self.o.addr
        self.inst = self.proxy(f"""
    server {{
        listen 127.0.0.1:@PORT@;
        proxy_read_timeout 1s;
        location / {{ proxy_pass http://{o}; }}
        location /refused {{ proxy_pass http://127.0.0.1:{self.dead}; }}
    }}""")

    def check(self, path, status, log):
        r = request(self.inst.port, path)
        self.assertEqual(r.status, status, r)
        return self.inst.wait_log(ERR + log)

    def test_ok(self):
        self.assertEqual(request(self.inst.port, "/ok").body, b"fine\n")

    def test_refused(self):
        r = request(self.inst.port, "/refused")
        self.assertEqual(r.status, 502)
        # the product name differs (README "Differences from nginx", 6)
        self.assertRegex(r.text(), r"<center><h1>502 Bad Gateway</h1>"
                         r"</center>\r\n<hr><center>%s/[\d.]+</center>"
                         % PRODUCT)
        self.check("/refused", 502, r"connect\(\) failed \(111: Connection "
                   r"refused\) while connecting to upstream, client: "
                   r"127\.0\.0\.1, server: , request: \"GET /refused "
                   r"HTTP/1\.1\", upstream: \"http://127\.0\.0\.1:%d/refused\""
                   % self.dead)

    def test_reset(self):
        self.check("/reset", 502, r"recv\(\) failed \(104: Connection reset "
                   r"by peer\) while reading response header from upstream")

    def test_closed_before_response(self):
        self.check("/close", 502, r"upstream prematurely closed connection "
                   r"while reading response header from upstream")

    def test_closed_mid_head(self):
        self.check("/midhead", 502, r"upstream prematurely closed "
                   r"connection while reading response header from upstream")

    def test_invalid_header_line(self):
        self.check("/badline", 502, r"upstream sent invalid header")

    def test_truncated_body(self):
        with RawClient(self.inst.port) as c:
            c.send(request_bytes("/midbody"))
            data = read_until_close(c.sock)
        head, _, body = data.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 200 "), head)
        self.assertIn(b"Content-Length: 1000", head)
        self.assertEqual(body, b"x" * 100)
        self.inst.wait_log(ERR + r"upstream prematurely closed connection "
                           r"while reading upstream")

    def test_truncated_chunked_body(self):
        with RawClient(self.inst.port) as c:
            c.send(request_bytes("/midchunk"))
            data = read_until_close(c.sock)
        head, _, body = data.partition(b"\r\n\r\n")
        self.assertIn(b"Transfer-Encoding: chunked", head)
        # re-chunked: what arrived (maybe the cut chunk's start too), and
        # no last chunk, so the client can tell the body is cut
        size, _, rest = body.partition(b"\r\n")
        self.assertEqual(rest[:10], b"0123456789", body)
        self.assertTrue(b"0123456789abc".startswith(rest[:int(size, 16)]))
        self.assertNotIn(b"\r\n0\r\n\r\n", body)
        self.inst.wait_log(ERR + r"upstream prematurely closed connection "
                           r"while reading upstream")

    def test_read_timeout(self):
        self.check("/slowhead", 504, r"upstream timed out \(110: Connection "
                   r"timed out\) while reading response header from upstream")

    def test_read_timeout_mid_body(self):
        with RawClient(self.inst.port) as c:
            c.send(request_bytes("/stall"))
            data = read_until_close(c.sock)
        head, _, body = data.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 200 "), head)
        # cut: nginx sends what it buffered or nothing more
        self.assertIn(body, (b"", b"01234"))
        self.inst.wait_log(ERR + r"upstream timed out \(110: Connection "
                           r"timed out\) while reading upstream")


class Timeouts(ProxyCase):

    def test_connect_timeout(self):
        port = full_backlog_listener(self)
        inst = self.proxy(f"""
    server {{
        listen 127.0.0.1:@PORT@;
        location / {{ proxy_connect_timeout 1s;
                     proxy_pass http://127.0.0.1:{port}; }}
    }}""")
        r = request(inst.port, "/")
        self.assertEqual(r.status, 504)
        inst.wait_log(ERR + r"upstream timed out \(110: Connection timed "
                      r"out\) while connecting to upstream")

    def test_send_timeout(self):
        o = Origin(read_requests=False).start()
        self.addCleanup(o.stop)
        inst = self.proxy(f"""
    server {{
        listen 127.0.0.1:@PORT@;
        client_max_body_size 0;
        location / {{ proxy_send_timeout 1s;
                     proxy_pass http://{o.addr}; }}
    }}""")
        body = b"z" * (32 << 20)          # more than loopback buffers hold
        r = request(inst.port, "/", method="POST", body=body, timeout=30)
        self.assertEqual(r.status, 504)
        inst.wait_log(ERR + r"upstream timed out \(110: Connection timed "
                      r"out\) while sending request to upstream")


class InterceptErrors(ProxyCase):

    def test_intercept_with_error_page(self):
        o = started(self, route({
            "/404": fixed(404, [("X-O", "1")], b"origin 404\n"),
            "/500": fixed(500, [], b"origin 500\n"),
            "/200": fixed(200, [], b"origin 200\n"),
        }))
        inst = self.proxy(f"""
    server {{
        listen 127.0.0.1:@PORT@;
        location /i/ {{
            proxy_intercept_errors on;
            error_page 404 /err404;
            error_page 500 = @fallback;
            proxy_pass http://{o.addr}/;
        }}
        location /n/ {{
            error_page 404 /err404;
            proxy_pass http://{o.addr}/;
        }}
        location /err404 {{ internal; return 404 "intercepted\\n"; }}
        location @fallback {{ return 200 "fallback\\n"; }}
    }}""")
        r = request(inst.port, "/i/404")
        self.assertEqual((r.status, r.body), (404, b"intercepted\n"))
        self.assertIsNone(r.header("X-O"))
        r = request(inst.port, "/i/500")
        self.assertEqual((r.status, r.body), (200, b"fallback\n"))
        r = request(inst.port, "/i/200")
        self.assertEqual((r.status, r.body), (200, b"origin 200\n"))
        # off (the default): the origin's error passes as it is
        r = request(inst.port, "/n/404")
        self.assertEqual((r.status, r.body), (404, b"origin 404\n"))
        self.assertEqual(r.header("X-O"), "1")
