"""Request headers the proxy sends (defaults, order, proxy_set_header and its
inheritance, proxy_pass_request_headers/body, proxy_method, proxy_set_body,
proxy_http_version) and response headers it passes (hidden by default,
proxy_hide_header, proxy_pass_header, proxy_ignore_headers, X-Accel-*,
proxy_redirect, proxy_cookie_*)."""

import re
import time

from origins import echo, fixed, route, started
from portico_harness import RawClient
from proxy_util import ProxyCase, request, request_bytes, server_header


class RequestHeaders(ProxyCase):

    def setUp(self):
        super().setUp()
        self.o = started(self)
        o = self.o.addr
        self.inst = self.proxy(f"""
    server {{
        listen 127.0.0.1:@PORT@;
        proxy_set_header X-Server s;
        proxy_set_header Host $proxy_host;
        location /d/ {{ proxy_pass http://{o}; }}
        location /set/ {{
            proxy_set_header X-Loc l;
            proxy_set_header User-Agent "";
            proxy_set_header X-Empty "";
            proxy_set_header Host example.test;
            proxy_pass http://{o};
        }}
        location /nohdr/ {{
            proxy_pass_request_headers off;
            proxy_pass http://{o};
        }}
        location /method/ {{
            proxy_method POST;
            proxy_set_body "a=$arg_a&u=$uri";
            proxy_pass http://{o};
        }}
        location /v11/ {{
            proxy_http_version 1.1;
            proxy_pass http://{o};
        }}
    }}""")

    def send(self, path, **kw):
        n = len(self.o.requests)
        r = request(self.inst.port, path, **kw)
        self.assertEqual(r.status, 200, r)
        return self.o.wait_requests(n + 1)[n]

    def test_defaults_exactly(self):
        req = self.send("/d/x", headers=[
            ("User-Agent", "ua/1"), ("Accept", "*/*"), ("X-B", "1"),
            ("X-A", "2"), ("X-B", "3"), ("Keep-Alive", "300"),
            ("TE", "trailers"), ("Upgrade", "foo"), ("Expect-Ct", "z")])
        self.assertEqual(req.request_line, "GET /d/x HTTP/1.0")
        # set headers first (server level: X-Server, Host), then the
        # default Connection, then the client's in order, less the
        # hop-by-hop ones (Connection, Keep-Alive, TE, Upgrade)
        self.assertEqual(req.headers, [
            ("X-Server", "s"), ("Host", self.o.addr),
            ("Connection", "close"),
            ("User-Agent", "ua/1"), ("Accept", "*/*"), ("X-B", "1"),
            ("X-A", "2"), ("X-B", "3"), ("Expect-Ct", "z")])
        self.assertEqual(req.body, b"")

    def test_location_set_header_replaces_inherited_ones(self):
        req = self.send("/set/x", headers=[("User-Agent", "ua/1"),
                                           ("X-Empty", "client")])
        self.assertEqual(req.header("X-Loc"), "l")
        self.assertIsNone(req.header("X-Server"))
        self.assertEqual(req.header("Host"), "example.test")
        # an empty value removes the header, the client's too
        self.assertIsNone(req.header("User-Agent"))
        self.assertIsNone(req.header("X-Empty"))

    def test_pass_request_headers_off(self):
        req = self.send("/nohdr/x", headers=[("User-Agent", "ua/1"),
                                             ("X-A", "1")])
        self.assertEqual(req.headers, [("X-Server", "s"),
                                       ("Host", self.o.addr),
                                       ("Connection", "close")])

    def test_post_body_and_length(self):
        req = self.send("/d/p", method="POST", body=b"hello=world",
                        headers=[("Content-Type", "text/plain")])
        self.assertEqual(req.method, "POST")
        self.assertEqual(req.header("Content-Length"), "11")
        self.assertEqual(req.body, b"hello=world")
        self.assertEqual(req.names()[:4], ["X-Server", "Host", "Connection",
                                           "Content-Length"])

    def test_pass_request_body_off(self):
        # the body is not sent, but the client's Content-Length is (as
        # nginx: configs add proxy_set_header Content-Length "")
        o = started(self, echo(), body=False)
        inst = self.proxy(f"""
    server {{
        listen 127.0.0.1:@PORT@;
        location / {{ proxy_pass_request_body off;
                     proxy_pass http://{o.addr}; }}
    }}""")
        r = request(inst.port, "/p", method="POST", body=b"secret")
        self.assertEqual(r.status, 200)
        req = o.last()
        self.assertEqual(req.header("Content-Length"), "6")
        self.assertTrue(req.conn.raw.endswith(b"\r\n\r\n"), req.conn.raw)
        self.assertNotIn(b"secret", req.conn.raw)

    def test_method_and_set_body(self):
        req = self.send("/method/m?a=7")
        self.assertEqual(req.method, "POST")
        self.assertEqual(req.body, b"a=7&u=/method/m")
        self.assertEqual(req.header("Content-Length"), "15")

    def test_http_version_11(self):
        req = self.send("/v11/x")
        self.assertEqual(req.request_line, "GET /v11/x HTTP/1.1")
        self.assertEqual(req.header("Connection"), "close")

    def test_chunked_request_body(self):
        body = b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
        # buffered (the default): both versions get a length
        for path in ("/d/c", "/v11/c"):
            req = self.send(path, method="POST", body=body,
                            headers=[("Transfer-Encoding", "chunked")])
            self.assertEqual(req.header("Content-Length"), "11")
            self.assertIsNone(req.header("Transfer-Encoding"))
            self.assertEqual(req.body, b"hello world")

    def test_expect_is_not_forwarded(self):
        with RawClient(self.inst.port) as c:
            c.send(b"POST /d/e HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                   b"Expect: 100-continue\r\nContent-Length: 3\r\n\r\n")
            r = c.response()
            self.assertEqual(r.status, 100)
            c.send(b"abc")
            r = c.response()
            self.assertEqual(r.status, 200)
        req = self.o.last()
        self.assertIsNone(req.header("Expect"))
        self.assertEqual(req.body, b"abc")


class UnbufferedChunkedBody(ProxyCase):

    def test_chunked_to_11_only_when_unbuffered(self):
        o = started(self)
        inst = self.proxy(f"""
    server {{
        listen 127.0.0.1:@PORT@;
        proxy_request_buffering off;
        location /v10/ {{ proxy_pass http://{o.addr}; }}
        location /v11/ {{ proxy_http_version 1.1;
                          proxy_pass http://{o.addr}; }}
    }}""")
        # chunked goes upstream only while the body is still being read
        with RawClient(inst.port, timeout=10) as c:
            c.send(request_bytes("/v11/c", "POST", body=b"5;ext=1\r\nhello\r\n",
                                 headers=[("Transfer-Encoding", "chunked")]))
            self.assertTrue(o.head_seen.wait(10), "no request upstream")
            c.send(b"6\r\n world\r\n0\r\nT: x\r\n\r\n")
            self.assertEqual(c.response().status, 200)
        req = o.last()
        self.assertEqual(req.header("Transfer-Encoding"), "chunked")
        self.assertIsNone(req.header("Content-Length"))
        self.assertEqual(req.body, b"hello world")
        # HTTP/1.0 has no chunked encoding: the body is buffered instead
        body = b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
        r = request(inst.port, "/v10/c", method="POST", body=body,
                    headers=[("Transfer-Encoding", "chunked")])
        self.assertEqual(r.status, 200)
        req = o.wait_requests(2)[1]
        self.assertEqual(req.header("Content-Length"), "11")
        self.assertEqual(req.body, b"hello world")


OLD_DATE = "Mon, 01 Jan 2001 00:00:00 GMT"


class ResponseHeaders(ProxyCase):

    def setUp(self):
        super().setUp()
        base = [("Server", "origin/1"), ("Date", OLD_DATE), ("X-Pad", "p"),
                ("X-Accel-Expires", "10"),
                ("X-Accel-Foo", "f"), ("X-Secret", "s"), ("X-Dup", "1"),
                ("X-Keep", "k"), ("X-Dup", "2"),
                ("Content-Type", "text/plain")]
        self.o = started(self, route({
            "/h/": fixed(200, base, b"body\n"),
            "/charset/": fixed(200, [("Content-Type", "text/plain"),
                                     ("X-Accel-Charset", "koi8-r")], b"c\n"),
            "/redir/": fixed(200, [("X-Accel-Redirect", "/internal/t?q=1"),
                                   ("X-Other", "o")], b"origin body\n"),
            "/named/": fixed(200, [("X-Accel-Redirect", "@fallback")],
                             b"origin body\n"),
            "/rate/": fixed(200, [("X-Accel-Limit-Rate", "4096")],
                            b"r" * 6144),
        }))
        o = self.o.addr
        self.inst = self.proxy(f"""
    server {{
        listen 127.0.0.1:@PORT@;
        location /h/ {{
            proxy_hide_header X-Secret;
            proxy_pass http://{o};
        }}
        location /pass/ {{
            proxy_pass_header Server;
            proxy_pass_header Date;
            proxy_pass_header X-Accel-Expires;
            proxy_pass http://{o}/h/;
        }}
        location /charset/ {{ charset utf-8; proxy_pass http://{o}; }}
        location /cs-same/ {{ charset koi8-r; proxy_pass http://{o}/charset/; }}
        location /cs-none/ {{ charset utf-8; proxy_pass http://{o}/h/; }}
        location /redir/ {{ proxy_pass http://{o}; }}
        location /named/ {{ proxy_pass http://{o}; }}
        location /ignored/ {{
            proxy_ignore_headers X-Accel-Redirect X-Accel-Limit-Rate;
            proxy_pass http://{o}/redir/;
        }}
        location /rate/ {{ proxy_pass http://{o}; }}
        location /norate/ {{
            proxy_ignore_headers X-Accel-Limit-Rate;
            proxy_pass http://{o}/rate/;
        }}
        location /internal/ {{
            internal;
            return 200 "internal $uri $args\\n";
        }}
        location @fallback {{ return 200 "named $uri\\n"; }}
    }}""")

    def test_default_hidden_headers(self):
        r = request(self.inst.port, "/h/x")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, b"body\n")
        self.assertRegex(r.header("Server"), server_header())
        self.assertNotEqual(r.header("Date"), OLD_DATE)
        self.assertIsNone(r.header("X-Pad"))
        self.assertIsNone(r.header("X-Accel-Expires"))
        self.assertIsNone(r.header("X-Secret"))
        # only the X-Accel-* headers nginx acts upon are hidden
        self.assertEqual(r.header("X-Accel-Foo"), "f")
        # others pass in order, duplicates kept
        self.assertEqual(r.all("X-Dup"), ["1", "2"])
        self.assertEqual(r.header("X-Keep"), "k")
        names = r.names()
        self.assertLess(names.index("X-Dup"), names.index("X-Keep"))
        self.assertEqual(r.header("Content-Length"), "5")

    def test_pass_header(self):
        r = request(self.inst.port, "/pass/x")
        self.assertEqual(r.header("Server"), "origin/1")
        self.assertEqual(r.header("Date"), OLD_DATE)
        self.assertEqual(r.header("X-Accel-Expires"), "10")
        self.assertEqual(r.header("X-Secret"), "s")

    def test_accel_charset(self):
        # X-Accel-Charset names the charset the body is in: with the same
        # `charset` it is labelled so
        r = request(self.inst.port, "/cs-same/x")
        self.assertEqual(r.header("Content-Type"), "text/plain; charset=koi8-r")
        self.assertIsNone(r.header("X-Accel-Charset"))
        # without it, `charset` labels the body
        r = request(self.inst.port, "/cs-none/x")
        self.assertEqual(r.header("Content-Type"), "text/plain; charset=utf-8")
        # a koi8-r body is never labelled utf-8 (nginx without a
        # charset_map leaves it unlabelled)
        r = request(self.inst.port, "/charset/x")
        self.assertNotIn("utf-8", r.header("Content-Type"))
        self.assertIsNone(r.header("X-Accel-Charset"))

    def test_accel_redirect_to_a_location(self):
        r = request(self.inst.port, "/redir/x")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, b"internal /internal/t q=1\n")
        self.assertIsNone(r.header("X-Accel-Redirect"))
        # the redirect drops the origin's headers
        self.assertIsNone(r.header("X-Other"))
        # internal: a client cannot reach it
        self.assertEqual(request(self.inst.port, "/internal/t").status, 404)

    def test_accel_redirect_to_a_named_location(self):
        r = request(self.inst.port, "/named/x")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, b"named /named/x\n")

    def test_ignored_accel_redirect(self):
        r = request(self.inst.port, "/ignored/x")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, b"origin body\n")
        self.assertIsNone(r.header("X-Accel-Redirect"))   # still hidden
        self.assertEqual(r.header("X-Other"), "o")

    def test_accel_limit_rate(self):
        t0 = time.monotonic()
        r = request(self.inst.port, "/norate/x")
        fast = time.monotonic() - t0
        self.assertEqual(len(r.body), 6144)
        t0 = time.monotonic()
        r = request(self.inst.port, "/rate/x", timeout=20)
        slow = time.monotonic() - t0
        self.assertEqual(r.body, b"r" * 6144)
        # 6 KiB at 4 KiB/s: about 1.5 s (the bound leaves a margin)
        self.assertGreater(slow, 0.75, f"fast {fast:.2f}")
        self.assertLess(fast, 1.0)


class Redirects(ProxyCase):

    def setUp(self):
        super().setUp()
        self.o = started(self)
        o = self.o.addr
        loc = "http://%s/z/a/b" % o

        def at(location, refresh=None):
            hs = [("Location", location)]
            if refresh:
                hs.append(("Refresh", refresh))
            return fixed(302, hs, b"moved\n")
        self.o.behaviour = route({
            "/z/": at(loc, "5; url=" + loc),
            "/other/": at("http://elsewhere.test/old/x"),
            "/rel/": at("/z/rel"),
        })
        self.inst = self.proxy(f"""
    server {{
        listen 127.0.0.1:@PORT@;
        server_name localhost;
        location /def/ {{ proxy_pass http://{o}/z/; }}
        location /off/ {{ proxy_redirect off; proxy_pass http://{o}/z/; }}
        location /ft/ {{
            proxy_redirect http://elsewhere.test/old/ /new/;
            proxy_pass http://{o}/other/;
        }}
        location /rx/ {{
            proxy_redirect ~^http://([^/]+)/old/(.*)$ http://$1/re/$2;
            proxy_pass http://{o}/other/;
        }}
        location /rel/ {{
            proxy_redirect /z/ /mapped/;
            proxy_pass http://{o};
        }}
    }}""")

    def test_default(self):
        r = request(self.inst.port, "/def/x")
        self.assertEqual(r.status, 302)
        # "proxy_redirect default": the proxy_pass URL becomes the location
        self.assertEqual(r.header("Location"),
                         f"http://localhost:{self.inst.port}/def/a/b")
        # Refresh is rewritten too, but only Location is made absolute
        self.assertEqual(r.header("Refresh"), "5; url=/def/a/b")

    def test_off(self):
        r = request(self.inst.port, "/off/x")
        self.assertEqual(r.header("Location"), f"http://{self.o.addr}/z/a/b")

    def test_from_to(self):
        r = request(self.inst.port, "/ft/x")
        self.assertEqual(r.header("Location"),
                         f"http://localhost:{self.inst.port}/new/x")

    def test_regex(self):
        r = request(self.inst.port, "/rx/x")
        self.assertEqual(r.header("Location"), "http://elsewhere.test/re/x")

    def test_relative_location(self):
        r = request(self.inst.port, "/rel/x")
        self.assertEqual(r.header("Location"),
                         f"http://localhost:{self.inst.port}/mapped/rel")


class Cookies(ProxyCase):

    def test_cookie_domain_path_flags(self):
        o = started(self, fixed(200, [
            ("Set-Cookie", "a=1; Domain=origin.test; Path=/z/x"),
            ("Set-Cookie", "b=2; path=/z/; domain=.origin.test; Secure"),
            ("Set-Cookie", "c=3; Path=/other")], b"ok\n"))
        inst = self.proxy(f"""
    server {{
        listen 127.0.0.1:@PORT@;
        location /app/ {{
            proxy_cookie_domain origin.test public.test;
            proxy_cookie_path /z/ /app/;
            proxy_cookie_flags a secure httponly samesite=strict;
            proxy_cookie_flags ~^b$ nosecure;
            proxy_pass http://{o.addr}/z/;
        }}
        location /plain/ {{ proxy_pass http://{o.addr}/z/; }}
    }}""")
        r = request(inst.port, "/app/x")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.all("Set-Cookie"), [
            "a=1; Domain=public.test; Path=/app/x; Secure; HttpOnly; "
            "SameSite=Strict",
            "b=2; path=/app/; domain=.public.test",
            "c=3; Path=/other"])
        r = request(inst.port, "/plain/x")
        self.assertEqual(r.all("Set-Cookie")[0],
                         "a=1; Domain=origin.test; Path=/z/x")


class Variables(ProxyCase):

    def test_forwarding_headers_and_log_variables(self):
        o = started(self, fixed(200, [("X-Foo", "bar")], b"hello\n"))
        inst = self.proxy(f"""
    log_format vars '$proxy_host|$proxy_port|$upstream_addr|'
                    '$upstream_status|$upstream_response_time|'
                    '$upstream_connect_time|$upstream_header_time|'
                    '$upstream_response_length|$upstream_http_x_foo|'
                    '$proxy_add_x_forwarded_for';
    server {{
        listen 127.0.0.1:@PORT@;
        access_log logs/access.log vars;
        location / {{
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Real-IP $remote_addr;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_pass http://{o.addr};
        }}
        location /local {{ return 200 "l\\n"; }}
    }}""")
        request(inst.port, "/a")
        request(inst.port, "/b", headers=[("X-Forwarded-For", "10.0.0.1")])
        request(inst.port, "/c", headers=[("X-Forwarded-For", "10.0.0.1"),
                                          ("X-Forwarded-For", "10.0.0.2")])
        request(inst.port, "/local")
        reqs = o.wait_requests(3)
        self.assertEqual(reqs[0].header("X-Forwarded-For"), "127.0.0.1")
        self.assertEqual(reqs[0].header("X-Real-IP"), "127.0.0.1")
        self.assertEqual(reqs[0].header("X-Forwarded-Proto"), "http")
        self.assertEqual(reqs[1].all("X-Forwarded-For"),
                         ["10.0.0.1, 127.0.0.1"])
        self.assertEqual(reqs[2].all("X-Forwarded-For"),
                         ["10.0.0.1, 10.0.0.2, 127.0.0.1"])
        lines = self.access_lines(inst, 4)
        host, port = o.addr.split(":")
        t = r"\d+\.\d{3}"
        self.assertRegex(lines[0], "^" + re.escape(
            f"{o.addr}|{port}|{o.addr}|200|") + f"{t}\\|{t}\\|{t}\\|6\\|bar\\|"
            r"127\.0\.0\.1$")
        self.assertTrue(lines[1].endswith("|10.0.0.1, 127.0.0.1"), lines[1])
        # no upstream: the upstream variables are "-"
        self.assertEqual(lines[3], "-|-|-|-|-|-|-|-|-|127.0.0.1")
