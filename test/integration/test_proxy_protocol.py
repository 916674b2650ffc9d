"""`listen ... proxy_protocol`: PROXY protocol v1 and v2 headers sent by
raw sockets (whole, split across writes, with the request in the same
write), the $proxy_protocol_* variables, `real_ip_header proxy_protocol`
with trusted and untrusted peers, and the connections that are closed:
malformed headers (with nginx's log line), a header that never completes
(client_header_timeout), no header at all, a header too large for the
buffer."""

import re
import socket
import struct
import time
import unittest

from portico_harness import (Incomplete, PorticoTestCase, free_port,
                             http_conf, parse_response, wait_for)

SHOW = ('return 200 "pp=$proxy_protocol_addr:$proxy_protocol_port>'
        '$proxy_protocol_server_addr:$proxy_protocol_server_port '
        'ra=$remote_addr rp=$remote_port rra=$realip_remote_addr\\n";')

BLOCK = r"""
    client_header_timeout 2s;
    log_format pp '$remote_addr $proxy_protocol_addr $proxy_protocol_port '
                  '"$request"';
    access_log logs/access.log pp;

    server {
        listen 127.0.0.1:@PORT@ proxy_protocol;
        location / { SHOW }
    }
    # the PROXY header's source becomes the client: the peer is trusted
    server {
        listen 127.0.0.1:@PORT2@ proxy_protocol;
        set_real_ip_from 127.0.0.1;
        real_ip_header proxy_protocol;
        location / { SHOW }
        location /acl { allow 192.0.2.0/24; deny all; }
    }
    # ... it is not
    server {
        listen 127.0.0.1:@PORT3@ proxy_protocol;
        set_real_ip_from 10.0.0.0/8;
        real_ip_header proxy_protocol;
        location / { SHOW }
    }
    # a plain listener: the variables are empty, the header is a request
    server {
        listen 127.0.0.1:@PORT4@;
        set_real_ip_from 127.0.0.1;
        real_ip_header proxy_protocol;
        location / { SHOW }
    }
""".replace("SHOW", SHOW)

SIG = b"\r\n\r\n\x00\r\nQUIT\n"
REQ = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"


def v2(ver_cmd, fam, body):
    return SIG + bytes([ver_cmd, fam]) + struct.pack("!H", len(body)) + body


def inet(src, dst, sport, dport):
    return (socket.inet_aton(src) + socket.inet_aton(dst)
            + struct.pack("!HH", sport, dport))


def inet6(src, dst, sport, dport):
    return (socket.inet_pton(socket.AF_INET6, src)
            + socket.inet_pton(socket.AF_INET6, dst)
            + struct.pack("!HH", sport, dport))


class Conn:
    """A raw client connection; every read bounded by the timeout."""

    def __init__(self, port, timeout=10):
        self.s = socket.create_connection(("127.0.0.1", port),
                                          timeout=timeout)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def send(self, *pieces, gap=0.02):
        """Each piece in its own write; the gap lets the server read them
        apart (the result must not depend on it)."""
        for i, p in enumerate(pieces):
            if i:
                time.sleep(gap)
            self.s.sendall(p)

    def response(self):
        while True:
            try:
                r, self.buf = parse_response(self.buf)
                return r
            except Incomplete:
                pass
            chunk = self.s.recv(65536)
            if not chunk:
                raise AssertionError(f"closed after {self.buf!r}")
            self.buf += chunk

    def closed(self):
        """True when the server closes without answering (EOF or reset)
        within the timeout."""
        try:
            while True:
                chunk = self.s.recv(65536)
                if not chunk:
                    return self.buf == b""
                self.buf += chunk
        except ConnectionResetError:
            return self.buf == b""
        except socket.timeout:
            return False

    def close(self):
        self.s.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def fields(text):
    m = re.fullmatch(r"pp=(.*):(\d*)>(.*):(\d*) ra=(\S+) rp=(\d*) rra=(\S+)\n",
                     text)
    assert m, text
    return m.groups()


class ProxyProtocol(PorticoTestCase):

    def setUp(self):
        super().setUp()
        inst = self.portico()
        inst.ports = [inst.port]
        while len(inst.ports) < 4:
            p = free_port()
            if p not in inst.ports:
                inst.ports.append(p)
        inst.write_conf(text=http_conf(inst.ports, BLOCK))
        inst.start(wait=False)
        inst.wait_workers(1)
        wait_for(lambda: self.ask(inst.ports[3], b"").status == 200,
                 "the server to answer", diag=inst.diag)
        self.inst = inst

    def ask(self, port, header, req=REQ):
        """Send the header then the request (one write each) and read the
        response."""
        with Conn(port) as c:
            c.send(*[x for x in (header, req) if x])
            return c.response()

    def show(self, port, header):
        r = self.ask(port, header)
        self.assertEqual(r.status, 200, r)
        return fields(r.text())

    def test_v1(self):
        p = self.inst.ports[0]
        self.assertEqual(self.show(p, b"PROXY TCP4 192.0.2.1 198.51.100.2 "
                                      b"5555 443\r\n")[:5],
                         ("192.0.2.1", "5555", "198.51.100.2", "443",
                          "127.0.0.1"))
        self.assertEqual(self.show(p, b"PROXY TCP6 2001:DB8::1 2001:db8::2 "
                                      b"1 65535\r\n")[:4],
                         ("2001:db8::1", "1", "2001:db8::2", "65535"))
        # UNKNOWN: the header is skipped, nothing is known
        self.assertEqual(self.show(p, b"PROXY UNKNOWN whatever\r\n")[:5],
                         ("", "", "", "", "127.0.0.1"))

    def test_v2(self):
        p = self.inst.ports[0]
        self.assertEqual(self.show(p, v2(0x21, 0x11, inet(
            "192.0.2.1", "198.51.100.2", 5555, 443)))[:4],
            ("192.0.2.1", "5555", "198.51.100.2", "443"))
        self.assertEqual(self.show(p, v2(0x21, 0x21, inet6(
            "2001:db8::1", "::ffff:192.0.2.9", 7, 8)))[:4],
            ("2001:db8::1", "7", "::ffff:192.0.2.9", "8"))
        # TLVs are skipped
        tlvs = b"\x01\x00\x02h2" + b"\x20\x00\x05\x01\x00\x00\x00\x00"
        self.assertEqual(self.show(p, v2(0x21, 0x11, inet(
            "192.0.2.3", "198.51.100.2", 1, 2) + tlvs))[:2],
            ("192.0.2.3", "1"))
        # LOCAL: the proxy's own connection, no addresses
        self.assertEqual(self.show(p, v2(0x20, 0x00, b""))[:5],
                         ("", "", "", "", "127.0.0.1"))
        self.assertEqual(self.show(p, v2(0x20, 0x11, inet(
            "192.0.2.1", "198.51.100.2", 1, 2)))[:5],
            ("", "", "", "", "127.0.0.1"))

    def test_split_across_writes(self):
        p = self.inst.ports[0]
        h1 = b"PROXY TCP4 192.0.2.1 198.51.100.2 5555 443\r\n"
        h2 = v2(0x21, 0x11, inet("192.0.2.4", "198.51.100.2", 6, 7))
        # (header, where header + request is cut into writes)
        for h, cuts in ((h1, [1]), (h1, [6, 20, len(h1) - 1]),
                        (h1, [len(h1) + 5]), (h2, [1, 12, 16]),
                        (h2, [20, len(h2) + 3]), (h2, [len(h2)])):
            data = h + REQ
            bounds = [0, *cuts, len(data)]
            pieces = [data[a:b] for a, b in zip(bounds, bounds[1:])]
            with self.subTest(header=h, cuts=cuts):
                with Conn(p) as c:
                    c.send(*pieces)
                    r = c.response()
                self.assertEqual(r.status, 200)
                self.assertEqual(fields(r.text())[0],
                                 "192.0.2.1" if h is h1 else "192.0.2.4")

    def test_keepalive_keeps_the_header(self):
        with Conn(self.inst.ports[0]) as c:
            c.send(b"PROXY TCP4 192.0.2.1 198.51.100.2 5555 443\r\n")
            for _ in range(3):
                c.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                self.assertEqual(fields(c.response().text())[0],
                                 "192.0.2.1")

    def test_real_ip_header_proxy_protocol(self):
        trusted, untrusted, plain = self.inst.ports[1:4]
        h = b"PROXY TCP4 192.0.2.1 198.51.100.2 5555 443\r\n"
        self.assertEqual(self.show(trusted, h),
                         ("192.0.2.1", "5555", "198.51.100.2", "443",
                          "192.0.2.1", "5555", "127.0.0.1"))
        ra, rp, rra = self.show(untrusted, h)[4:]
        self.assertEqual((ra, rra), ("127.0.0.1", "127.0.0.1"))
        self.assertNotEqual(rp, "5555")
        # a header without addresses changes nothing
        self.assertEqual(self.show(trusted, v2(0x20, 0x00, b""))[4],
                         "127.0.0.1")
        # allow/deny see the PROXY header's source
        acl = b"GET /acl HTTP/1.0\r\n\r\n"
        r = self.ask(trusted, b"PROXY TCP4 192.0.2.7 198.51.100.2 1 2\r\n",
                     acl)
        self.assertEqual(r.status, 404)
        r = self.ask(trusted, b"PROXY TCP4 203.0.113.7 198.51.100.2 1 2\r\n",
                     acl)
        self.assertEqual(r.status, 403)
        # no PROXY header on a plain listener: empty variables
        self.assertEqual(self.show(plain, b"")[:5],
                         ("", "", "", "", "127.0.0.1"))

    def test_access_log(self):
        self.show(self.inst.ports[0],
                  b"PROXY TCP4 192.0.2.42 198.51.100.2 4242 443\r\n")
        log = self.inst.path("logs", "access.log")
        wait_for(lambda: "192.0.2.42" in self.inst.log(log),
                 "the access log line", diag=self.inst.diag)
        self.assertIn('127.0.0.1 192.0.2.42 4242 "GET / HTTP/1.1"',
                      self.inst.log(log))

    def refused(self, data, pattern):
        """The connection is closed without an answer and the error log
        gets the line."""
        mark = self.inst.log_size()
        with Conn(self.inst.ports[0]) as c:
            c.send(data)
            self.assertTrue(c.closed(), f"{data!r}: answered {c.buf!r}")
        # a broken header is logged raw, line ends and all
        self.inst.wait_log(r"\[error\] \d+#\d+: (?:\*\d+ )?" + pattern
                           + r"[\s\S]*? while reading PROXY protocol, "
                           r"client: 127\.0\.0\.1", since=mark)

    def test_malformed_headers_close_the_connection(self):
        bad = [
            (b"PROXY TCP4 192.0.2.1 198.51.100.2 65536 443\r\n" + REQ,
             r'broken header: "PROXY TCP4 192\.0\.2\.1 198\.51\.100\.2 65536'),
            (b"PROXY TCP4 ::1 ::2 1 2\r\n", r'broken header: "PROXY TCP4 ::1'),
            (b"PROXY TCP4 192.0.2.1  198.51.100.2 1 2\r\n",
             r'broken header: "PROXY TCP4'),
            (b"PROXY TCP4 192.0.2.1 198.51.100.2 1 2\n",
             r'broken header: "PROXY TCP4'),
            (b"PROXY UNKNOWN " + b"x" * 100 + b"\r\n",
             r'broken header: "PROXY UNKNOWN x+'),
            (v2(0x31, 0x11, inet("192.0.2.1", "198.51.100.2", 1, 2)),
             r"unknown PROXY protocol version: 3"),
            (v2(0x22, 0x11, inet("192.0.2.1", "198.51.100.2", 1, 2)),
             r"PROXY protocol v2 unsupported command 2"),
            (v2(0x21, 0x41, inet("192.0.2.1", "198.51.100.2", 1, 2)),
             r"PROXY protocol v2 unsupported address family 4"),
            (v2(0x21, 0x11, inet("192.0.2.1", "198.51.100.2", 1, 2)[:8]),
             r"PROXY protocol v2 header is too short"),
            (v2(0x21, 0x11, inet("192.0.2.1", "198.51.100.2", 1, 2)
                + b"\x01\x00\x09ab"),
             r"PROXY protocol v2 broken TLV"),
            (SIG[:8] + b"XXXX" + b"\x21\x11\x00\x00",
             r'broken header: "'),
        ]
        for data, pattern in bad:
            with self.subTest(data=data):
                self.refused(data, pattern)

    def test_no_header_closes_the_connection(self):
        self.refused(REQ, r'broken header: "GET / HTTP/1\.1')

    def test_header_too_large_for_the_buffer(self):
        # client_header_buffer_size is 1k: the header must fit it
        big = v2(0x21, 0x11, inet("192.0.2.1", "198.51.100.2", 1, 2)
                 + b"\x20" + struct.pack("!H", 2000) + b"x" * 2000)
        self.refused(big, r"header is too large")

    def test_incomplete_header_times_out(self):
        mark = self.inst.log_size()
        with Conn(self.inst.ports[0], timeout=20) as c:
            start = time.monotonic()
            c.send(b"PROXY TCP4 192.0.2.1 198.51.100.2 ")
            self.assertTrue(c.closed(), "still open after 20 s")
            took = time.monotonic() - start
        # client_header_timeout 2s (the timer may fire a little early on
        # a loaded machine, never much)
        self.assertGreater(took, 1.5)
        self.assertNotIn("broken header", self.inst.log()[mark:])


if __name__ == "__main__":
    unittest.main()
