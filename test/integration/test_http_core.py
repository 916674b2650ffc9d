"""The HTTP/1.1 core on the wire: keep-alive decisions, pipelining, HEAD,
Expect: 100-continue, request bodies discarded under keep-alive, the
client_* limits and timeouts, keepalive_* limits, send_timeout, error_page,
the built-in pages, server and location selection, variables, merge_slashes,
Date and Server. Every expectation was checked against nginx 1.22.1 unless
a comment says otherwise."""

import email.utils
import re
import socket
import time
import unittest

from portico_harness import (PorticoTestCase, RawClient, exchange, serve,
                             wait_for)

H = b"Host: localhost\r\n"
VERSION = "0.1.0"


def page(status_line, server="portico/" + VERSION):
    """nginx's built-in error page, as Portico words it."""
    return (f"<html>\r\n<head><title>{status_line}</title></head>\r\n"
            f"<body>\r\n<center><h1>{status_line}</h1></center>\r\n"
            f"<hr><center>{server}</center>\r\n</body>\r\n</html>\r\n"
            ).encode()


def req(path=b"/", method=b"GET", version=b"HTTP/1.1", headers=H, body=b""):
    return (method + b" " + path + b" " + version + b"\r\n" + headers
            + b"\r\n" + body)


CLOSE = b"Connection: close\r\n"

BASIC = """
    server {
        listen 127.0.0.1:@PORT@;
        server_name localhost;
        keepalive_timeout 30s 25;
        location / {
            return 200 "$request_method $uri\\n";
        }
    }
"""


class KeepAlive(PorticoTestCase):

    def test_decisions(self):
        inst = serve(self, BASIC)
        cases = [
            # (version, headers, keep)
            (b"HTTP/1.1", H, True),
            (b"HTTP/1.1", H + CLOSE, False),
            (b"HTTP/1.1", H + b"Connection: Keep-Alive, close\r\n", False),
            (b"HTTP/1.1", H + b"Connection: upgrade\r\n", True),
            (b"HTTP/1.0", b"", False),
            (b"HTTP/1.0", b"Connection: keep-alive\r\n", True),
            (b"HTTP/1.0", b"Connection: Keep-Alive\r\n", True),
            (b"HTTP/1.0", H + b"Connection: close\r\n", False),
        ]
        for version, headers, keep in cases:
            with self.subTest(version=version, headers=headers), \
                    RawClient(inst.port) as c:
                c.send(req(b"/one", version=version, headers=headers))
                r = c.response()
                self.assertEqual(r.status_line, "HTTP/1.1 200 OK")
                self.assertEqual(r.body, b"GET /one\n")
                if not keep:
                    self.assertEqual(r.header("Connection"), "close")
                    self.assertIsNone(r.header("Keep-Alive"))
                    self.assertTrue(c.wait_eof())
                    self.assertEqual(c.buf, b"")
                    continue
                self.assertEqual(r.header("Connection"), "keep-alive")
                self.assertEqual(r.header("Keep-Alive"), "timeout=25")
                # the connection serves another request
                self.assertFalse(c.wait_eof(timeout=0.2))
                c.send(req(b"/two", headers=H + CLOSE))
                self.assertEqual(c.responses()[0].body, b"GET /two\n")

    def test_keepalive_timeout_zero_closes(self):
        inst = serve(self, BASIC.replace("keepalive_timeout 30s 25;",
                                         "keepalive_timeout 0;"))
        rs, _ = exchange(inst.port, req() + req(b"/never"))
        self.assertEqual([r.status for r in rs], [200])
        self.assertEqual(rs[0].header("Connection"), "close")

    def test_keepalive_requests(self):
        inst = serve(self, BASIC.replace(
            "keepalive_timeout 30s 25;", "keepalive_requests 3;"))
        # one at a time, then all in one write: the third closes either way
        with RawClient(inst.port) as c:
            for i in range(2):
                c.send(req(b"/%d" % i))
                self.assertEqual(c.response().header("Connection"),
                                 "keep-alive")
            c.send(req(b"/2"))
            rs = c.responses()
        self.assertEqual(len(rs), 1)
        self.assertEqual(rs[0].header("Connection"), "close")
        rs, _ = exchange(inst.port, b"".join(req(b"/%d" % i)
                                             for i in range(5)))
        self.assertEqual([r.body for r in rs],
                         [b"GET /0\n", b"GET /1\n", b"GET /2\n"])
        self.assertEqual([r.header("Connection") for r in rs],
                         ["keep-alive", "keep-alive", "close"])

    def test_keepalive_timeout_closes_idle(self):
        inst = serve(self, BASIC.replace("keepalive_timeout 30s 25;",
                                         "keepalive_timeout 1s;"))
        with RawClient(inst.port) as c:
            c.send(req())
            r = c.response()
            t0 = time.monotonic()
            self.assertEqual(r.header("Connection"), "keep-alive")
            self.assertIsNone(r.header("Keep-Alive"))
            self.assertTrue(c.wait_eof(timeout=5))
            idle = time.monotonic() - t0
            self.assertEqual(c.buf, b"")
            self.assertFalse(c.reset)
        self.assertGreater(idle, 0.7)
        self.assertLess(idle, 3)

    def test_pipelining(self):
        inst = serve(self, BASIC)
        reqs = [req(b"/a"), req(b"/b", method=b"HEAD"),
                req(b"/c", method=b"POST", headers=H + b"Content-Length: 3\r\n",
                    body=b"xyz"),
                req(b"/d", method=b"DELETE"), req(b"/e?q", headers=H + CLOSE),
                req(b"/never")]
        with RawClient(inst.port) as c:
            c.send(b"".join(reqs))
            rs = c.responses(heads=(1,))
        self.assertEqual([r.body for r in rs],
                         [b"GET /a\n", b"", b"POST /c\n", b"DELETE /d\n",
                          b"GET /e\n"])
        self.assertEqual(rs[1].header("Content-Length"), "8")
        self.assertEqual([r.header("Connection") for r in rs],
                         ["keep-alive"] * 4 + ["close"])

    def test_head_same_headers_no_body(self):
        inst = serve(self, BASIC)
        with RawClient(inst.port) as c:
            c.send(req(b"/x", method=b"HEAD") + req(b"/x") +
                   req(b"/x", method=b"HEAD", headers=H + CLOSE))
            head, get, last = c.responses(heads=(0, 2))
        self.assertEqual(head.body, b"")
        self.assertEqual(get.body, b"GET /x\n")
        self.assertEqual(head.names(), get.names())
        self.assertEqual(head.names(), ["Server", "Date", "Content-Type",
                                        "Content-Length", "Connection",
                                        "Keep-Alive"])
        for name in ("Content-Type", "Connection", "Server"):
            self.assertEqual(head.header(name), get.header(name))
        # the length of the body GET would send (for HEAD /x: "HEAD /x\n")
        self.assertEqual(head.header("Content-Length"), "8")
        self.assertEqual(last.header("Connection"), "close")


BODY = """
    server {
        listen 127.0.0.1:@PORT@;
        server_name localhost;
        client_max_body_size 100;
        lingering_timeout 1s;
        location / {
            return 200 "$request_method $uri\\n";
        }
        location /big/ {
            client_max_body_size 0;
            return 200 "big $request_method $uri\\n";
        }
    }
"""


def chunked(*parts):
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + \
        b"0\r\n\r\n"


class Bodies(PorticoTestCase):

    def test_expect_100_continue(self):
        inst = serve(self, BODY)
        with RawClient(inst.port) as c:
            c.send(req(b"/up", method=b"PUT", headers=H +
                       b"Expect: 100-continue\r\nContent-Length: 5\r\n"))
            cont = c.response()
            self.assertEqual(cont.head, b"HTTP/1.1 100 Continue\r\n")
            r = c.response()
            self.assertEqual((r.status, r.body), (200, b"PUT /up\n"))
            self.assertEqual(r.header("Connection"), "keep-alive")
            # the body comes after the answer: discarded, not a request
            c.send(b"GET /")
            c.send(req(b"/next", headers=H + CLOSE))
            rs = c.responses()
        self.assertEqual([(r.status, r.body) for r in rs],
                         [(200, b"GET /next\n")])

    def test_no_100_continue(self):
        inst = serve(self, BODY)
        cases = [
            # HTTP/1.0: no interim responses
            req(b"/a", method=b"POST", version=b"HTTP/1.0", headers=H +
                b"Expect: 100-continue\r\nContent-Length: 2\r\n", body=b"ab"),
            # an error answers at once, without 100
            req(b"/a", method=b"POST", headers=H + CLOSE +
                b"Expect: 100-continue\r\nContent-Length: 101\r\n"),
            # not exactly 100-continue
            req(b"/a", method=b"POST", headers=H + CLOSE +
                b"Expect: 100-continuex\r\nContent-Length: 2\r\n", body=b"ab"),
        ]
        for data in cases:
            with self.subTest(data=data):
                rs, _ = exchange(inst.port, data)
                self.assertEqual(len(rs), 1)
                self.assertNotEqual(rs[0].status, 100)

    def test_100_continue_without_a_body(self):
        """nginx 1.22.1 answers the expectation even when no body is
        announced: 100 Continue, then the response."""
        inst = serve(self, BODY)
        rs, _ = exchange(inst.port, req(b"/a", headers=H + CLOSE +
                                        b"Expect: 100-continue\r\n"))
        self.assertEqual([r.status for r in rs], [100, 200])

    def test_bodies_discarded_under_keepalive(self):
        """A body the handler does not read is dropped as it arrives,
        however it is split, and the next request on the connection is
        read from the byte after it."""
        inst = serve(self, BODY)
        big = b"x" * 300000
        sends = [
            # Content-Length: with the head, after it, in pieces
            [req(b"/1", method=b"POST", headers=H + b"Content-Length: 5\r\n",
                 body=b"hello")],
            [req(b"/2", method=b"POST", headers=H +
                 b"Content-Length: 5\r\n"), 0.1, b"he", 0.1, b"llo"],
            # chunked, with extensions and a trailer, split everywhere
            [req(b"/3", method=b"POST", headers=H +
                 b"Transfer-Encoding: chunked\r\n"), 0.1, b"3;a=b\r\nab",
             0.1, b"c\r\n2\r", 0.1, b"\nde\r\n0\r\nX-T: 1\r\n", 0.1,
             b"\r\n"],
            # a large one (no limit in /big/), many reads
            [req(b"/big/4", method=b"POST", headers=H +
                 b"Content-Length: %d\r\n" % len(big)), 0.1, big],
            [req(b"/big/5", method=b"POST", headers=H +
                 b"Transfer-Encoding: chunked\r\n"), 0.1,
             chunked(*[big[:70000]] * 4)],
        ]
        for parts in sends:
            with self.subTest(parts=parts[0]), RawClient(inst.port) as c:
                for p in parts:
                    if isinstance(p, float):
                        time.sleep(p)
                    else:
                        c.send(p)
                r = c.response()
                self.assertEqual(r.status, 200)
                self.assertEqual(r.header("Connection"), "keep-alive")
                # the next request, right after the body in the stream
                c.send(req(b"/after", headers=H + CLOSE))
                rs = c.responses()
                self.assertEqual([(x.status, x.body) for x in rs],
                                 [(200, b"GET /after\n")])

    def test_stalled_discarded_body_closes(self):
        """After the response, a discarded body that stops arriving holds
        the connection for lingering_timeout only."""
        inst = serve(self, BODY)
        with RawClient(inst.port) as c:
            c.send(req(b"/s", method=b"POST", headers=H +
                       b"Content-Length: 50\r\n", body=b"abc"))
            r = c.response()
            self.assertEqual(r.header("Connection"), "keep-alive")
            t0 = time.monotonic()
            self.assertTrue(c.wait_eof(timeout=5))
            self.assertGreater(time.monotonic() - t0, 0.7)
            self.assertEqual(c.buf, b"")

    def test_client_max_body_size(self):
        inst = serve(self, BODY)
        too_large = page("413 Request Entity Too Large")
        # Content-Length over the limit: 413 at once, connection closed
        for body in (b"", b"y" * 101):
            with self.subTest(body=len(body)):
                rs, _ = exchange(inst.port, req(
                    b"/", method=b"POST",
                    headers=H + b"Content-Length: 101\r\n", body=body)
                    + req(b"/never"))
                self.assertEqual([r.status for r in rs], [413])
                self.assertEqual(rs[0].status_line,
                                 "HTTP/1.1 413 Request Entity Too Large")
                self.assertEqual(rs[0].header("Connection"), "close")
                self.assertEqual(rs[0].body, too_large)
        # at the limit: fine
        rs, _ = exchange(inst.port, req(
            b"/", method=b"POST", headers=H + CLOSE +
            b"Content-Length: 100\r\n", body=b"y" * 100))
        self.assertEqual([r.status for r in rs], [200])
        self.assertIn("intended to send too large body: 101 bytes",
                      inst.log())
        # a chunked body has no length to refuse up front; when nobody
        # reads it, it is discarded whatever its size (as nginx)
        rs, _ = exchange(inst.port, req(
            b"/", method=b"POST", headers=H + b"Transfer-Encoding: chunked\r\n",
            body=chunked(b"y" * 200)) + req(b"/n", headers=H + CLOSE))
        self.assertEqual([(r.status, r.header("Connection")) for r in rs],
                         [(200, "keep-alive"), (200, "close")])


TIMEOUTS = """
    server {
        listen 127.0.0.1:@PORT@ sndbuf=8k;
        server_name localhost;
        client_header_timeout 1s;
        client_body_timeout 1s;
        send_timeout 1s;
        location / {
            return 200 "ok\\n";
        }
        location /large {
            return 200 "@LARGE@";
        }
    }
"""


class Timeouts(PorticoTestCase):

    def test_client_header_timeout(self):
        inst = serve(self, TIMEOUTS.replace("@LARGE@", "x"))
        for partial in (b"", b"GET / HT", b"GET / HTTP/1.1\r\nHost: x\r\n"):
            with self.subTest(partial=partial), RawClient(inst.port) as c:
                mark = inst.log_size()
                if partial:
                    c.send(partial)
                t0 = time.monotonic()
                self.assertTrue(c.wait_eof(timeout=5))
                self.assertEqual(c.buf, b"", "no response at all")
                self.assertGreater(time.monotonic() - t0, 0.7)
                if partial:
                    inst.wait_log(r"\[info\] .*client timed out",
                                  since=mark)

    def test_send_timeout(self):
        """A client that stops reading a large answer is dropped after
        send_timeout without progress (small socket buffers on both ends,
        so that the answers cannot all sit in them)."""
        large = "0123456789abcdef" * 128          # 2 KB a response
        inst = serve(self, TIMEOUTS.replace("@LARGE@", large))
        n = 400                                   # 800 KB in all
        with RawClient(inst.port, rcvbuf=4096) as c:
            mark = inst.log_size()
            c.send(req(b"/large") * n)
            inst.wait_log(r"\[info\] .*client timed out", since=mark)
            got = 0
            try:
                while True:
                    chunk = c.sock.recv(1 << 20)
                    if not chunk:
                        break
                    got += len(chunk)
            except ConnectionResetError:
                pass
        # it stopped well before the end
        self.assertLess(got, n * len(large) // 2)


ERRORS = """
    server {
        listen 127.0.0.1:@PORT@;
        server_name localhost;
        error_page 404 /err404;
        error_page 403 =200 /ok;
        error_page 410 = @named;
        error_page 500 http://example.com/oops;
        error_page 502 =301 http://example.com/moved;
        error_page 503 /int;
        error_page 401 = /ok;
        location = /err404 { return 200 "custom 404 for $uri $request_uri\\n"; }
        location = /ok { return 200 "ok page $request_method\\n"; }
        location @named { return 202 "named $uri\\n"; }
        location = /missing { return 404; }
        location = /forbidden { return 403; }
        location = /gone { return 410; }
        location = /fail { return 500; }
        location = /bad { return 502; }
        location = /unavail { return 503; }
        location = /unauth { return 401; }
        location = /int { internal; return 200 "internal $uri\\n"; }
        location /rec-off/ { error_page 404 /rec-off/b; return 404; }
        location = /rec-off/b { error_page 404 /rec-off/c; return 404; }
        location = /rec-off/c { return 200 "c\\n"; }
        location /rec-on/ {
            recursive_error_pages on;
            error_page 404 /rec-on/b;
            return 404;
        }
        location = /rec-on/b {
            recursive_error_pages on;
            error_page 404 /rec-on/c;
            return 404;
        }
        location = /rec-on/c { return 200 "c $uri\\n"; }
        location /loop/ {
            recursive_error_pages on;
            error_page 404 /loop/x;
            return 404;
        }
        location = /text404 { return 404 "nope\\n"; }
    }
    server {
        listen 127.0.0.1:@PORT2@;
        server_name localhost;
        location = /missing { return 404; }
        location = /forbidden { return 403; }
        location = /fail { return 500; }
        location = /found { return 302 /elsewhere; }
        location = /unauth { return 401; }
    }
    server {
        listen 127.0.0.1:@PORT3@;
        server_name localhost;
        server_tokens off;
        location / { return 404; }
    }
"""


class ErrorPages(PorticoTestCase):

    def get(self, port, path, method=b"GET"):
        rs, _ = exchange(port, req(path, method=method, headers=H + CLOSE),
                         heads=(0,) if method == b"HEAD" else ())
        self.assertEqual(len(rs), 1)
        return rs[0]

    def test_error_page(self):
        inst = serve(self, ERRORS, nports=3)
        cases = [
            # path, status line, Location, body
            (b"/missing", "404 Not Found", None,
             b"custom 404 for /err404 /missing\n"),
            (b"/forbidden", "200 OK", None, b"ok page GET\n"),
            (b"/gone", "202 Accepted", None, b"named /gone\n"),
            (b"/fail", "302 Moved Temporarily", "http://example.com/oops",
             page("302 Found")),
            (b"/bad", "301 Moved Permanently", "http://example.com/moved",
             page("301 Moved Permanently")),
            # an internal location is reached through error_page...
            (b"/unavail", "503 Service Temporarily Unavailable", None,
             b"internal /int\n"),
            (b"/unauth", "200 OK", None, b"ok page GET\n"),
            # ...but not directly
            (b"/int", "404 Not Found", None,
             b"custom 404 for /err404 /int\n"),
            (b"/rec-off/x", "404 Not Found", None, page("404 Not Found")),
            (b"/rec-on/x", "404 Not Found", None, b"c /rec-on/c\n"),
            (b"/loop/x", "500 Internal Server Error", None,
             page("500 Internal Server Error")),
            # a return with a text is not an error page
            (b"/text404", "404 Not Found", None, b"nope\n"),
            (b"/err404?a=1", "200 OK", None,
             b"custom 404 for /err404 /err404?a=1\n"),
        ]
        for path, status, location, body in cases:
            with self.subTest(path=path):
                r = self.get(inst.port, path)
                self.assertEqual(r.status_line, "HTTP/1.1 " + status)
                self.assertEqual(r.header("Location"), location)
                self.assertEqual(r.body, body)
        # the method of a redirected POST becomes GET; HEAD stays HEAD
        self.assertEqual(self.get(inst.port, b"/forbidden", b"POST").body,
                         b"ok page GET\n")
        r = self.get(inst.port, b"/forbidden", b"HEAD")
        self.assertEqual((r.status, r.body), (200, b""))
        self.assertEqual(r.header("Content-Length"), "13")
        self.assertIn("rewrite or internal redirection cycle", inst.log())

    def test_error_page_keeps_connection(self):
        """An error_page redirect finishes the request once: the
        connection goes on (and the worker survives)."""
        inst = serve(self, ERRORS, nports=3)
        with RawClient(inst.port) as c:
            c.send(b"".join(req(p) for p in (b"/missing", b"/gone",
                                             b"/forbidden", b"/unavail")))
            for body in (b"custom 404 for /err404 /missing\n",
                         b"named /gone\n", b"ok page GET\n",
                         b"internal /int\n"):
                r = c.response()
                self.assertEqual(r.body, body)
                self.assertEqual(r.header("Connection"), "keep-alive")
            c.send(req(b"/missing", headers=H + CLOSE))
            self.assertEqual(c.responses()[0].status, 404)
        self.assertNotIn("signal", inst.log())

    def test_builtin_pages(self):
        inst = serve(self, ERRORS, nports=3)
        for path, status in ((b"/missing", "404 Not Found"),
                             (b"/forbidden", "403 Forbidden"),
                             (b"/fail", "500 Internal Server Error"),
                             (b"/unauth", "401 Authorization Required")):
            with self.subTest(path=path):
                r = self.get(inst.ports[1], path)
                self.assertEqual(r.body, page(status))
                self.assertEqual(r.header("Content-Type"), "text/html")
                self.assertEqual(r.header("Content-Length"),
                                 str(len(page(status))))
                self.assertEqual(r.header("Server"), "portico/" + VERSION)
        r = self.get(inst.ports[1], b"/found")
        self.assertEqual(r.status_line, "HTTP/1.1 302 Moved Temporarily")
        self.assertEqual(r.header("Location"),
                         f"http://localhost:{inst.ports[1]}/elsewhere")
        self.assertEqual(r.body, page("302 Found"))
        # server_tokens off: no version, in the page and in Server
        r = self.get(inst.ports[2], b"/x")
        self.assertEqual(r.body, page("404 Not Found", server="portico"))
        self.assertEqual(r.header("Server"), "portico")
        # HEAD: the same head, no page
        r = self.get(inst.ports[1], b"/missing", b"HEAD")
        self.assertEqual(r.body, b"")
        self.assertEqual(r.header("Content-Length"),
                         str(len(page("404 Not Found"))))


NAMES = """
    server {
        listen 127.0.0.1:@PORT@;
        server_name _;
        return 200 "first [$server_name] $host\\n";
    }
    server {
        listen 127.0.0.1:@PORT@ default_server;
        server_name default.test;
        return 200 "default [$server_name] $host\\n";
    }
    server {
        listen 127.0.0.1:@PORT@;
        server_name exact.test www.exact.test;
        return 200 "exact [$server_name] $host\\n";
    }
    server {
        listen 127.0.0.1:@PORT@;
        server_name *.wild.test;
        return 200 "wild-front [$server_name] $host\\n";
    }
    server {
        listen 127.0.0.1:@PORT@;
        server_name www.wild2.*;
        return 200 "wild-back\\n";
    }
    server {
        listen 127.0.0.1:@PORT@;
        server_name .dot.test;
        return 200 "dot\\n";
    }
    server {
        listen 127.0.0.1:@PORT@;
        server_name *.exact.test;
        return 200 "wild-exact\\n";
    }
    server {
        listen 127.0.0.1:@PORT@;
        server_name ~^([a-z]+)\\.re\\.test$;
        return 200 "regex $1\\n";
    }
    server {
        listen 127.0.0.1:@PORT@;
        server_name ~^n(\\d+)-(\\d+)\\.re2\\.test$;
        return 200 "regex2 $2 $1\\n";
    }
    server {
        listen 127.0.0.1:@PORT@;
        server_name ~^(www\\.)?multi\\.test$ other.test;
        return 200 "multi [$server_name]\\n";
    }
    server {
        listen 127.0.0.1:@PORT2@;
        server_name first.test;
        return 200 "port2 first\\n";
    }
    server {
        listen 127.0.0.1:@PORT2@;
        server_name second.test;
        return 200 "port2 second\\n";
    }
"""


class ServerNames(PorticoTestCase):

    def test_selection(self):
        inst = serve(self, NAMES, nports=2)
        cases = [
            (b"exact.test", b"exact [exact.test] exact.test\n"),
            (b"EXACT.TEST", b"exact [exact.test] exact.test\n"),
            (b"exact.test:8080", b"exact [exact.test] exact.test\n"),
            (b"exact.test.", b"exact [exact.test] exact.test\n"),
            (b"www.exact.test", b"exact [exact.test] www.exact.test\n"),
            (b"a.www.exact.test", b"wild-exact\n"),
            (b"a.wild.test", b"wild-front [*.wild.test] a.wild.test\n"),
            (b"b.a.wild.test", b"wild-front [*.wild.test] b.a.wild.test\n"),
            (b"wild.test", b"default [default.test] wild.test\n"),
            (b"www.wild2.org", b"wild-back\n"),
            (b"dot.test", b"dot\n"),
            (b"x.dot.test", b"dot\n"),
            (b"abc.re.test", b"regex abc\n"),
            (b"n42-7.re2.test", b"regex2 7 42\n"),
            (b"multi.test", b"multi [~^(www\\.)?multi\\.test$]\n"),
            (b"www.multi.test", b"multi [~^(www\\.)?multi\\.test$]\n"),
            (b"other.test", b"multi [~^(www\\.)?multi\\.test$]\n"),
            (b"_", b"first [_] _\n"),
            (b"unknown.test", b"default [default.test] unknown.test\n"),
            (b"[::1]", b"default [default.test] [::1]\n"),
        ]
        for host, body in cases:
            with self.subTest(host=host):
                rs, _ = exchange(inst.port, req(
                    headers=b"Host: " + host + b"\r\n" + CLOSE))
                self.assertEqual(rs[0].body, body)
        # HTTP/1.0 without Host: the default server, named by it
        rs, _ = exchange(inst.port, req(version=b"HTTP/1.0", headers=b""))
        self.assertEqual(rs[0].body, b"default [default.test] default.test\n")
        # without default_server the first server of the address
        rs, _ = exchange(inst.ports[1], req(
            headers=b"Host: nobody\r\n" + CLOSE))
        self.assertEqual(rs[0].body, b"port2 first\n")
        rs, _ = exchange(inst.ports[1], req(
            headers=b"Host: second.test\r\n" + CLOSE))
        self.assertEqual(rs[0].body, b"port2 second\n")


LOCATIONS = """
    server {
        listen 127.0.0.1:@PORT@;
        server_name localhost;
        location = / { return 200 "exact-root\\n"; }
        location / { return 200 "prefix-root\\n"; }
        location /images/ { return 200 "images\\n"; }
        location ^~ /static/ { return 200 "static-noregex\\n"; }
        location ~ \\.(gif|jpg)$ { return 200 "regex-img $1\\n"; }
        location ~* \\.PNG$ { return 200 "regex-png-ci\\n"; }
        location ~ ^/images/.*\\.gif$ { return 200 "images-regex\\n"; }
        location /nest/ {
            location ~ \\.txt$ { return 200 "nested-txt $uri\\n"; }
            return 200 "nest\\n";
        }
        location /a/ { return 200 "a\\n"; }
        location /a/b/ { return 200 "ab\\n"; }
        location = /exact { return 200 "exact\\n"; }
        location ~ ^/cap/(?<word>[a-z]+)/(\\d+)$ { return 200 "cap $word $2\\n"; }
        location /internal/ { internal; return 200 "internal\\n"; }
    }
"""


class Locations(PorticoTestCase):

    def test_order(self):
        inst = serve(self, LOCATIONS)
        cases = [
            (b"/", b"exact-root\n"),
            (b"/x", b"prefix-root\n"),
            (b"/images/a.gif", b"regex-img gif\n"),     # first regex wins
            (b"/static/a.gif", b"static-noregex\n"),    # ^~ stops regexes
            (b"/images/x", b"images\n"),
            (b"/images/a.GIF", b"images\n"),            # ~ is case-sensitive
            (b"/a/b/c", b"ab\n"),                       # longest prefix
            (b"/a/c", b"a\n"),
            (b"/x.PNG", b"regex-png-ci\n"),
            (b"/x.png", b"regex-png-ci\n"),
            (b"/nest/f.txt", b"nested-txt /nest/f.txt\n"),
            (b"/nest/f", b"nest\n"),
            (b"/exact", b"exact\n"),
            (b"/exact/", b"prefix-root\n"),
            (b"/exact?x=1", b"exact\n"),
            (b"/cap/abc/42", b"cap abc 42\n"),
            (b"/%61/b/c", b"ab\n"),                     # decoded first
            (b"/a/../exact", b"exact\n"),
        ]
        for path, body in cases:
            with self.subTest(path=path):
                rs, _ = exchange(inst.port, req(path, headers=H + CLOSE))
                self.assertEqual(rs[0].status, 200)
                self.assertEqual(rs[0].body, body)
        rs, _ = exchange(inst.port, req(b"/internal/x", headers=H + CLOSE))
        self.assertEqual(rs[0].status, 404)
        self.assertEqual(rs[0].body, page("404 Not Found"))


VARS = """
    server {
        listen 127.0.0.1:@PORT@;
        server_name localhost alias.test;
        location / {
            return 200 "uri=$uri args=$args is_args=$is_args host=$host foo=$http_x_foo method=$request_method server=$server_name request_uri=$request_uri arg_y=$arg_y proto=$server_protocol scheme=$scheme request=$request\\n";
        }
    }
    server {
        listen 127.0.0.1:@PORT2@;
        server_name localhost;
        merge_slashes off;
        location / { return 200 "uri=$uri\\n"; }
        location /a/b { return 200 "ab uri=$uri\\n"; }
    }
"""


class Variables(PorticoTestCase):

    def test_return_body(self):
        inst = serve(self, VARS, nports=2)
        rs, _ = exchange(inst.port, req(
            b"/p%20q/r?x=1&y=%41", headers=b"Host: Alias.Test:99\r\n"
            b"X-Foo: bar baz\r\n" + CLOSE))
        self.assertEqual(
            rs[0].body,
            b"uri=/p q/r args=x=1&y=%41 is_args=? host=alias.test "
            b"foo=bar baz method=GET server=localhost "
            b"request_uri=/p%20q/r?x=1&y=%41 arg_y=%41 proto=HTTP/1.1 "
            b"scheme=http request=GET /p%20q/r?x=1&y=%41 HTTP/1.1\n")
        rs, _ = exchange(inst.port, req(
            b"/plain", method=b"OPTIONS", version=b"HTTP/1.0", headers=b""))
        self.assertEqual(
            rs[0].body,
            b"uri=/plain args= is_args= host=localhost foo= method=OPTIONS "
            b"server=localhost request_uri=/plain arg_y= proto=HTTP/1.0 "
            b"scheme=http request=OPTIONS /plain HTTP/1.0\n")

    def test_merge_slashes(self):
        inst = serve(self, VARS, nports=2)
        for port, path, body in (
                (0, b"//a///b", b"uri=/a/b"),
                (0, b"/a/./b/../c//d", b"uri=/a/c/d"),
                (1, b"//a///b", b"uri=//a///b"),
                (1, b"/a/./b/../c//d", b"uri=/a/c//d"),
                (1, b"/%2F%2fx", b"uri=///x"),
                (1, b"/a//b", b"uri=/a//b"),            # not /a/b
                (1, b"/a/b", b"ab uri=/a/b")):
            with self.subTest(port=port, path=path):
                rs, _ = exchange(inst.ports[port], req(path, headers=H + CLOSE))
                self.assertTrue(rs[0].body.startswith(body + b" ")
                                or rs[0].body == body + b"\n", rs[0].body)


class DateServer(PorticoTestCase):

    def test_date_and_server(self):
        inst = serve(self, BASIC + """
    server {
        listen 127.0.0.1:@PORT2@;
        server_name localhost;
        server_tokens off;
        return 200 "x";
    }
""", nports=2)
        before = time.time()
        rs, _ = exchange(inst.port, req(headers=H + CLOSE))
        after = time.time()
        r = rs[0]
        self.assertEqual(r.names(), ["Server", "Date", "Content-Type",
                                     "Content-Length", "Connection"])
        self.assertEqual(r.header("Server"), "portico/" + VERSION)
        date = r.header("Date")
        self.assertRegex(date, r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d "
                         r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
                         r" \d{4} \d\d:\d\d:\d\d GMT$")
        t = email.utils.parsedate_to_datetime(date).timestamp()
        self.assertLessEqual(before - 2, t)
        self.assertLessEqual(t, after + 1)
        self.assertEqual(r.header("Content-Type"), "text/plain")
        rs, _ = exchange(inst.ports[1], req(headers=H + CLOSE))
        self.assertEqual(rs[0].header("Server"), "portico")
        self.assertEqual(rs[0].body, b"x")


if __name__ == "__main__":
    unittest.main()
