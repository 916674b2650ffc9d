"""Malformed and ambiguous requests: one table, each row a raw request and
the status Portico answers (nginx 1.22.1 answers the same unless the row
says otherwise). Every request is followed in the same write by a probe
request (GET /probe, Connection: close): when the first answer keeps the
connection the probe must be answered next, from its own request line
(nothing in the first request's body is executed); when it closes the
connection nothing more may come."""

import socket
import unittest

from portico_harness import PorticoTestCase, RawClient, exchange, serve

CONF = """
    server {
        listen 127.0.0.1:@PORT@;
        server_name localhost;
        client_header_buffer_size 1k;
        large_client_header_buffers 2 1k;
        location / {
            return 200 "ok $request_method $uri host=$host foo=[$http_x_foo] xy=[$http_x_y]\\n";
        }
    }
    server {
        listen 127.0.0.1:@PORT2@;
        server_name localhost;
        ignore_invalid_headers off;
        underscores_in_headers on;
        location / {
            return 200 "ok $request_method $uri host=$host foo=[$http_x_foo] xy=[$http_x_y]\\n";
        }
    }
"""

PROBE = (b"GET /probe HTTP/1.1\r\nHost: localhost\r\n"
         b"Connection: close\r\n\r\n")
PROBE_BODY = b"ok GET /probe host=localhost foo=[] xy=[]\n"

H = b"Host: localhost\r\n"
SMUGGLED = b"GET /smuggled HTTP/1.1\r\nHost: localhost\r\n\r\n"
LONG = b"a" * 1100            # over the 1k large header buffer


def get(path=b"/", version=b"HTTP/1.1", headers=H):
    return b"GET " + path + b" " + version + b"\r\n" + headers + b"\r\n"


def post(headers, body=b""):
    return b"POST / HTTP/1.1\r\n" + H + headers + b"\r\n" + body


def cl(n):
    return b"Content-Length: " + n + b"\r\n"


TE = b"Transfer-Encoding: chunked\r\n"

# The status table: (name, raw request, status, keep-alive after it,
# port index (0: defaults, 1: ignore_invalid_headers off and
# underscores_in_headers on), the body of a 200, or None for the usual
# "ok GET /"). keep=False: the connection is closed after the response and
# the probe is not answered.
OK = b"ok GET / host=localhost foo=[] xy=[]\n"
OK_POST = b"ok POST / host=localhost foo=[] xy=[]\n"

TABLE = [
    # -- body framing
    ("cl+te", post(cl(b"5") + TE, b"0\r\n\r\n"), 400, False, 0, None),
    ("te+cl", post(TE + cl(b"5"), b"0\r\n\r\n"), 400, False, 0, None),
    ("cl+te smuggles a request", post(cl(b"5") + TE, b"0\r\n\r\n" + SMUGGLED),
     400, False, 0, None),
    ("duplicate cl equal", post(cl(b"5") + cl(b"5"), b"hello"), 400, False,
     0, None),
    ("duplicate cl different", post(cl(b"5") + cl(b"6"), b"hello!"), 400,
     False, 0, None),
    ("cl list", post(cl(b"5, 5"), b"hello"), 400, False, 0, None),
    ("cl +5", post(cl(b"+5"), b"hello"), 400, False, 0, None),
    ("cl 5 5", post(cl(b"5 5"), b"hello"), 400, False, 0, None),
    ("cl 0x5", post(cl(b"0x5"), b"hello"), 400, False, 0, None),
    ("cl empty", post(cl(b""), b""), 400, False, 0, None),
    ("cl -1", post(cl(b"-1")), 400, False, 0, None),
    ("cl overflow", post(cl(b"99999999999999999999")), 400, False, 0, None),
    # trailing whitespace is not part of a field value (RFC 9110 5.5)
    ("cl '5 '", post(cl(b"5 "), b"hello"), 200, True, 0, OK_POST),
    ("cl valid", post(cl(b"5"), b"hello"), 200, True, 0, OK_POST),
    ("te on http/1.0",
     b"POST / HTTP/1.0\r\n" + TE + b"\r\n0\r\n\r\n", 400, False, 0, None),
    ("te gzip", post(b"Transfer-Encoding: gzip\r\n"), 501, False, 0, None),
    ("te chunked, gzip", post(b"Transfer-Encoding: chunked, gzip\r\n"), 501,
     False, 0, None),
    ("te gzip, chunked", post(b"Transfer-Encoding: gzip, chunked\r\n",
                              b"0\r\n\r\n"), 501, False, 0, None),
    ("te identity", post(b"Transfer-Encoding: identity\r\n"), 501, False, 0,
     None),
    ("te unknown and cl", post(b"Transfer-Encoding: gzip\r\n" + cl(b"0")),
     501, False, 0, None),
    ("te twice", post(TE + TE, b"0\r\n\r\n"), 400, False, 0, None),
    ("te Chunked (case)", post(b"Transfer-Encoding: Chunked\r\n",
                               b"5\r\nhello\r\n0\r\n\r\n"), 200, True, 0,
     OK_POST),
    ("chunked body", post(TE, b"5\r\nhello\r\n0\r\n\r\n"), 200, True, 0,
     OK_POST),
    ("chunk extension and trailer",
     post(TE, b"5;name=value\r\nhello\r\n0\r\nX-Trailer: 1\r\n\r\n"), 200,
     True, 0, OK_POST),
    ("chunk size not hex", post(TE, b"zz\r\nhello\r\n0\r\n\r\n"), 400, False,
     0, None),
    ("chunk size overflow", post(TE, b"f" * 17 + b"\r\nhello\r\n0\r\n\r\n"),
     400, False, 0, None),
    ("chunk size negative", post(TE, b"-5\r\nhello\r\n0\r\n\r\n"), 400,
     False, 0, None),
    ("chunk size 0x", post(TE, b"0x5\r\nhello\r\n0\r\n\r\n"), 400, False, 0,
     None),
    ("chunk data longer than its size",
     post(TE, b"3\r\nhello\r\n0\r\n\r\n"), 400, False, 0, None),
    # -- header lines
    ("obs-fold", get(headers=H + b"X-Foo: a\r\n b\r\n"), 400, False, 0,
     None),
    ("obs-fold first line", get(headers=b" " + H), 400, False, 0, None),
    ("nul in value", get(headers=H + b"X-Foo: a\0b\r\n"), 400, False, 0,
     None),
    ("bare cr in value", get(headers=H + b"X-Foo: a\rb\r\n"), 400, False, 0,
     None),
    ("del in value", get(headers=H + b"X-Foo: a\x7fb\r\n"), 400, False, 0,
     None),
    ("bare lf line ends", b"GET / HTTP/1.1\nHost: localhost\nX-Foo: bar\n\n",
     200, True, 0, b"ok GET / host=localhost foo=[bar] xy=[]\n"),
    ("space before colon", get(headers=H + b"X-Foo : a\r\n"), 400, False, 0,
     None),
    ("tab before colon", get(headers=H + b"X-Foo\t: a\r\n"), 400, False, 0,
     None),
    ("space in name", get(headers=H + b"X Foo: a\r\n"), 400, False, 0, None),
    ("empty name", get(headers=H + b": a\r\n"), 400, False, 0, None),
    ("no colon", get(headers=H + b"X-Foo\r\n"), 400, False, 0, None),
    ("header value visible", get(headers=H + b"X-Foo:  bar \t\r\n"), 200,
     True, 0, b"ok GET / host=localhost foo=[bar] xy=[]\n"),
    ("invalid name char ignored", get(headers=H + b"X-Foo@: a\r\n"), 200,
     True, 0, None),
    ("invalid name char refused", get(headers=H + b"X-Foo@: a\r\n"), 400,
     False, 1, None),
    ("underscore dropped", get(headers=H + b"X_Y: 1\r\n"), 200, True, 0,
     None),
    ("underscore allowed", get(headers=H + b"X_Y: 1\r\n"), 200, True, 1,
     b"ok GET / host=localhost foo=[] xy=[1]\n"),
    ("header too large", get(headers=H + b"X-Foo: " + LONG + b"\r\n"), 494,
     False, 0, None),
    ("cookie too large", get(headers=H + b"Cookie: " + LONG + b"\r\n"), 494,
     False, 0, None),
    # -- Host
    ("http/1.1 without host", get(headers=b""), 400, False, 0, None),
    ("two hosts", get(headers=H + H), 400, False, 0, None),
    ("two different hosts", get(headers=H + b"Host: other\r\n"), 400, False,
     0, None),
    ("empty host", get(headers=b"Host: \r\n"), 400, False, 0, None),
    ("host with slash", get(headers=b"Host: a/b\r\n"), 400, False, 0, None),
    ("host with ..", get(headers=b"Host: a..b\r\n"), 400, False, 0, None),
    ("host with backslash", get(headers=b"Host: a\\b\r\n"), 400, False, 0,
     None),
    ("host upper case, port, trailing dot",
     get(headers=b"Host: LocalHost.:8080\r\n"), 200, True, 0, None),
    ("http/1.0 without host", get(version=b"HTTP/1.0", headers=b""), 200,
     False, 0, b"ok GET / host=localhost foo=[] xy=[]\n"),
    # -- request line
    ("invalid method char", b"G@T / HTTP/1.1\r\n" + H + b"\r\n", 400, False,
     0, None),
    ("lower case method", b"get / HTTP/1.1\r\n" + H + b"\r\n", 400, False, 0,
     None),
    ("unknown method", b"FOO / HTTP/1.1\r\n" + H + b"\r\n", 200, True, 0,
     b"ok FOO / host=localhost foo=[] xy=[]\n"),
    ("trace", b"TRACE / HTTP/1.1\r\n" + H + b"\r\n", 405, False, 0, None),
    ("space before method", b" GET / HTTP/1.1\r\n" + H + b"\r\n", 400, False,
     0, None),
    ("no uri", b"GET HTTP/1.1\r\n" + H + b"\r\n", 400, False, 0, None),
    ("relative uri", get(path=b"x"), 400, False, 0, None),
    ("extra token", get(version=b"HTTP/1.1 x"), 400, False, 0, None),
    ("tab separator", b"GET\t/ HTTP/1.1\r\n" + H + b"\r\n", 400, False, 0,
     None),
    ("control char in uri", get(path=b"/a\x01b"), 400, False, 0, None),
    ("http/2.0", get(version=b"HTTP/2.0"), 505, False, 0, None),
    ("http/3.0", get(version=b"HTTP/3.0"), 505, False, 0, None),
    ("http/1.a", get(version=b"HTTP/1.a"), 400, False, 0, None),
    ("http/1.", get(version=b"HTTP/1."), 400, False, 0, None),
    ("http/1", get(version=b"HTTP/1"), 400, False, 0, None),
    ("http/1.1000", get(version=b"HTTP/1.1000"), 400, False, 0, None),
    ("http/0.9", get(version=b"HTTP/0.9"), 400, False, 0, None),
    ("lower case http", get(version=b"http/1.1"), 400, False, 0, None),
    ("https/1.1", get(version=b"HTTPS/1.1"), 400, False, 0, None),
    ("http/1.1x", get(version=b"HTTP/1.1x"), 400, False, 0, None),
    ("request line too long", get(path=b"/" + LONG), 414, False, 0, None),
    ("absolute uri wins over host",
     get(path=b"http://example.com/x?a=1", headers=b"Host: other\r\n"), 200,
     True, 0, b"ok GET /x host=example.com foo=[] xy=[]\n"),
    # -- path normalisation
    ("bad escape %zz", get(path=b"/%zz"), 400, False, 0, None),
    ("truncated escape %4", get(path=b"/%4"), 400, False, 0, None),
    ("lone %", get(path=b"/a%"), 400, False, 0, None),
    ("escaped nul", get(path=b"/a%00b"), 400, False, 0, None),
    ("above root /../x", get(path=b"/../x"), 400, False, 0, None),
    ("above root /a/../../x", get(path=b"/a/../../x"), 400, False, 0, None),
    ("above root %2e%2e", get(path=b"/%2e%2e/x"), 400, False, 0, None),
    ("above root %2E%2e", get(path=b"/a/%2E%2e/%2e%2e/x"), 400, False, 0,
     None),
    ("dot segments resolved", get(path=b"/a/./b/%2e%2e/c%2fd"), 200, True,
     0, b"ok GET /a/c/d host=localhost foo=[] xy=[]\n"),
    # -- a body that looks like a request is not executed as one
    ("cl body holds a request", post(cl(b"%d" % len(SMUGGLED)), SMUGGLED),
     200, True, 0, OK_POST),
    ("chunk holds a request",
     post(TE, b"%x\r\n" % len(SMUGGLED) + SMUGGLED + b"\r\n0\r\n\r\n"), 200,
     True, 0, OK_POST),
]

# Rows where nginx 1.22.1 answers otherwise (Portico is stricter), with
# nginx's answer: a control character or a missing colon in a header line,
# a backslash in Host, and ignore_invalid_headers off, which nginx takes as
# "keep the header" where Portico refuses the request.
NGINX_DIFFERS = {
    "del in value": 200,
    "no colon": 200,
    "host with backslash": 200,
    "invalid name char refused": 200,
}

TOO_LARGE_PAGE = (b"<html>\r\n<head><title>400 Request Header Or Cookie Too "
                  b"Large</title></head>\r\n<body>\r\n<center><h1>400 Bad "
                  b"Request</h1></center>\r\n<center>Request Header Or Cookie "
                  b"Too Large</center>\r\n")


class Smuggling(PorticoTestCase):

    @classmethod
    def wire_status(cls, status):
        return 400 if status == 494 else status

    def check(self, ports, case):
        name, req, status, keep, port, body = case
        with self.subTest(case=name):
            rs, reset = exchange(ports[port], req + PROBE)
            self.assertFalse(reset, "the connection was reset")
            got = [r.status for r in rs]
            want = [self.wire_status(status)] + ([200] if keep else [])
            self.assertEqual(got, want, f"{name}: statuses {rs}")
            first = rs[0]
            self.assertEqual(first.header("Connection"),
                             "keep-alive" if keep else "close")
            if status == 200:
                self.assertEqual(first.body, body or OK)
            elif status == 494:
                self.assertTrue(first.body.startswith(TOO_LARGE_PAGE),
                                first.body)
            else:
                self.assertEqual(first.header("Content-Type"), "text/html")
                self.assertIn(b"<title>%d " % status, first.body)
            if keep:
                self.assertEqual(rs[1].body, PROBE_BODY)
                self.assertEqual(rs[1].header("Connection"), "close")

    def test_table(self):
        self.assertGreaterEqual(len(TABLE), 40)
        self.assertEqual(len({c[0] for c in TABLE}), len(TABLE))
        inst = serve(self, CONF, nports=2)
        for case in TABLE:
            self.check(inst.ports, case)

    def test_split_across_reads(self):
        """The statuses do not depend on how the bytes arrive: every row
        whose answer the head decides, sent one byte a write (TCP_NODELAY),
        answers the same. (A body arriving after the head is not read to
        be discarded: the answer then ends the connection, see
        test_http_core.)"""
        inst = serve(self, CONF, nports=2)
        n = 0
        for name, req, status, keep, port, body in TABLE:
            has_body = len(req) > req.find(b"\r\n\r\n") + 4 \
                and req.find(b"\n\n") < 0
            if len(req) > 300 or (has_body and (status == 200
                                                or name.startswith("chunk"))):
                continue
            n += 1
            with self.subTest(case=name), RawClient(inst.ports[port]) as c:
                c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                data = req + PROBE
                try:
                    for i in range(len(data)):
                        c.send(data[i:i + 1])
                except (BrokenPipeError, ConnectionResetError):
                    pass       # closed after an early error: read it
                rs = c.responses()
                self.assertEqual([r.status for r in rs],
                                 [self.wire_status(status)]
                                 + ([200] if keep else []), name)
        self.assertGreater(n, 60)


if __name__ == "__main__":
    unittest.main()
