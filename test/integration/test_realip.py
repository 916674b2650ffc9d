"""The realip module: set_real_ip_from, real_ip_header (X-Real-IP,
X-Forwarded-For, any header), real_ip_recursive; $realip_remote_addr and
$realip_remote_port. Trusted and untrusted peers are clients bound to
different 127.x.y.z source addresses (and ::1), against CIDRs that
include or exclude them. A client that is not trusted never changes
$remote_addr, whatever it sends; allow/deny, the access log and the error
log see the real address; keep-alive requests start from the peer again.

The servers answer with `return` (rewrite phase), so the address shown
is the one set in the post-read phase by the server-level directives;
location-level directives act in the preaccess phase, seen by
allow/deny, add_header and the access log."""

import re
import socket
import unittest

from portico_harness import (Incomplete, PorticoTestCase, free_port,
                             http_conf, parse_response, wait_for)
from test_access import ipv6_loopback

SHOW = 'return 200 "$remote_addr $realip_remote_addr [$remote_port]\\n";'

BLOCK = r"""
    log_format rip '$remote_addr $realip_remote_addr "$request"';
    access_log logs/access.log rip;

    # trusts 127.0.0.1 only; the last X-Forwarded-For address
    server {
        listen 127.0.0.1:@PORT@;
        set_real_ip_from 127.0.0.1;
        real_ip_header X-Forwarded-For;
        location / { SHOW }
        location = /ready { return 200 "ready\n"; }
    }
    # trusts 127/8 and 10/8, walks past them
    server {
        listen 127.0.0.1:@PORT2@;
        set_real_ip_from 127.0.0.0/8;
        set_real_ip_from 10.0.0.0/8;
        real_ip_header X-Forwarded-For;
        real_ip_recursive on;
        location / { SHOW }
    }
    # the default header (X-Real-IP), trusting 127.0.0.0/30 only
    server {
        listen 127.0.0.1:@PORT3@;
        set_real_ip_from 127.0.0.0/30;
        location / { SHOW }
    }
    # a header by name; a host name as the trusted address
    server {
        listen 127.0.0.1:@PORT4@;
        set_real_ip_from localhost;
        real_ip_header X-Client-Addr;
        location / { SHOW }
    }
    # location-level directives (preaccess): allow/deny see the address
    server {
        listen 127.0.0.1:@PORT5@;
        location / { SHOW }
        location /acl {
            set_real_ip_from 127.0.0.0/8;
            real_ip_header X-Real-IP;
            allow 192.0.2.0/24;
            deny all;
        }
        location /hdr {
            set_real_ip_from 127.0.0.0/8;
            add_header X-Addr "$remote_addr $realip_remote_addr" always;
        }
        location /plain {
            add_header X-Addr "$remote_addr $realip_remote_addr" always;
        }
    }
    # no set_real_ip_from: headers are never looked at
    server {
        listen 127.0.0.1:@PORT6@;
        real_ip_header X-Forwarded-For;
        location / { SHOW }
    }
""".replace("SHOW", SHOW)

BLOCK6 = r"""
    server {
        listen [::1]:@PORT@;
        set_real_ip_from ::1;
        set_real_ip_from 2001:db8::/32;
        real_ip_header X-Forwarded-For;
        real_ip_recursive on;
        location / { SHOW }
    }
    server {
        listen [::1]:@PORT2@;
        set_real_ip_from 2001:db8::/32;
        set_real_ip_from 127.0.0.0/8;
        real_ip_header X-Forwarded-For;
        location / { SHOW }
    }
""".replace("SHOW", SHOW)


def connect(port, src="127.0.0.1", host=None):
    """A connection from source address `src` (any 127.x.y.z, or ::1)."""
    family = socket.AF_INET6 if ":" in src else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(10)
    s.bind((src, 0))
    s.connect((host or ("::1" if ":" in src else "127.0.0.1"), port))
    return s


def read_response(s, buf=b"", head=False):
    """(Response, the bytes after it); bounded by the socket timeout."""
    while True:
        try:
            return parse_response(buf, head)
        except Incomplete:
            pass
        chunk = s.recv(65536)
        if not chunk:
            raise AssertionError(f"closed after {buf!r}")
        buf += chunk


def request(port, path="/", headers=(), src="127.0.0.1", host=None):
    """One request on a new connection: the Response."""
    lines = [f"GET {path} HTTP/1.1", "Host: x", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in headers]
    with connect(port, src, host) as s:
        s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        return read_response(s)[0]


def shown(port, headers=(), src="127.0.0.1", host=None):
    """($remote_addr, $realip_remote_addr, $remote_port) as SHOW prints."""
    r = request(port, "/", headers, src, host)
    assert r.status == 200, r
    m = re.fullmatch(r"(\S+) (\S+) \[(\d*)\]\n", r.text())
    assert m, r.text()
    return m.group(1), m.group(2), m.group(3)


class RealIP(PorticoTestCase):

    def start(self, block, nports, src="127.0.0.1"):
        """Portico with `block` on nports free ports (inst.ports); ready
        once the first answers a client from `src`."""
        inst = self.portico()
        inst.ports = [inst.port]
        while len(inst.ports) < nports:
            p = free_port()
            if p not in inst.ports:
                inst.ports.append(p)
        inst.write_conf(text=http_conf(inst.ports, block))
        inst.start(wait=False)
        inst.wait_workers(1)
        wait_for(lambda: request(inst.port, "/", src=src).status == 200,
                 "the server to answer", diag=inst.diag)
        return inst

    def server(self):
        return self.start(BLOCK, 6)

    def test_trusted_peer_takes_the_last_forwarded_address(self):
        inst = self.server()
        port = inst.ports[0]
        ra, rra, rport = shown(port, [("X-Forwarded-For",
                                       "203.0.113.9, 198.51.100.7")])
        self.assertEqual((ra, rra, rport), ("198.51.100.7", "127.0.0.1", ""))
        # off: one step only, even when that address is trusted
        ra, rra, _ = shown(port, [("X-Forwarded-For",
                                   "203.0.113.9, 127.0.0.1")])
        self.assertEqual((ra, rra), ("127.0.0.1", "127.0.0.1"))
        # a port in the header becomes $remote_port
        ra, _, rport = shown(port, [("X-Forwarded-For", "192.0.2.4:8443")])
        self.assertEqual((ra, rport), ("192.0.2.4", "8443"))
        # the last instance counts, however many the client sent before
        # the one its proxy appended
        forged = [("X-Forwarded-For", f"198.51.100.{i}") for i in range(80)]
        self.assertEqual(shown(port, forged + [("X-Forwarded-For",
                                                "192.0.2.77")])[0],
                         "192.0.2.77")
        # no header: the peer
        ra, rra, rport = shown(port)
        self.assertEqual((ra, rra), ("127.0.0.1", "127.0.0.1"))
        self.assertNotEqual(rport, "")

    def test_untrusted_peer_never_changes_the_address(self):
        inst = self.server()
        forged = [("X-Forwarded-For", "1.2.3.4"), ("X-Real-IP", "5.6.7.8"),
                  ("X-Client-Addr", "9.9.9.9")]
        # 127.0.0.2 is outside 127.0.0.1/32 (port 1), 127.0.0.9 outside
        # 127.0.0.0/30 (port 3) and not "localhost" (port 4)
        for port, src in ((inst.ports[0], "127.0.0.2"),
                          (inst.ports[2], "127.0.0.9"),
                          (inst.ports[3], "127.0.0.9"),
                          (inst.ports[5], "127.0.0.1")):
            with self.subTest(port=port, src=src):
                ra, rra, rport = shown(port, forged, src=src)
                self.assertEqual((ra, rra), (src, src))
                self.assertNotEqual(rport, "")
        # the same headers from a trusted source do change it
        self.assertEqual(shown(inst.ports[2], forged, src="127.0.0.3")[0],
                         "5.6.7.8")
        self.assertEqual(shown(inst.ports[3], forged)[0], "9.9.9.9")

    def test_recursive_walks_past_trusted_addresses(self):
        inst = self.server()
        port = inst.ports[1]
        cases = [
            ("203.0.113.9, 10.1.2.3, 127.0.0.5", "203.0.113.9"),
            ("198.51.100.1, 203.0.113.9, 10.1.2.3", "203.0.113.9"),
            ("10.0.0.1, 127.0.0.2", "10.0.0.1"),     # all trusted: leftmost
            ("203.0.113.9, garbage, 10.0.0.1", "10.0.0.1"),   # stops
            ("garbage", "127.0.0.1"),                         # unchanged
        ]
        for xff, want in cases:
            with self.subTest(xff=xff):
                self.assertEqual(shown(port, [("X-Forwarded-For", xff)])[0],
                                 want)
        # several header lines are one list, in order
        self.assertEqual(shown(port, [("X-Forwarded-For", "192.0.2.1"),
                                      ("X-Forwarded-For", "10.9.9.9")])[0],
                         "192.0.2.1")
        # an untrusted peer: nothing, however long the chain
        self.assertEqual(shown(inst.ports[2], [("X-Real-IP", "192.0.2.1")],
                               src="127.0.0.77")[0], "127.0.0.77")

    def test_real_ip_header_forms(self):
        inst = self.server()
        port = inst.ports[2]
        for value, want in (("192.0.2.5", "192.0.2.5"),
                            (" 192.0.2.6 ", "192.0.2.6"),
                            ("2001:DB8::5", "2001:db8::5"),
                            ("[2001:db8::6]:99", "2001:db8::6"),
                            ("::ffff:192.0.2.7", "::ffff:192.0.2.7"),
                            ("not-an-address", "127.0.0.1"),
                            ("192.0.2.300", "127.0.0.1")):
            with self.subTest(value=value):
                self.assertEqual(shown(port, [("X-Real-IP", value)])[0], want)

    def test_location_level_in_preaccess_with_allow_deny(self):
        inst = self.server()
        port = inst.ports[4]
        mark = inst.log_size()
        # allowed only as 192.0.2.x: 404 (no content handler) means allowed
        r = request(port, "/acl", [("X-Real-IP", "192.0.2.10")])
        self.assertEqual(r.status, 404)
        r = request(port, "/acl", [("X-Real-IP", "198.51.100.10")])
        self.assertEqual(r.status, 403)
        r = request(port, "/acl")
        self.assertEqual(r.status, 403)
        # the error log names the real client
        inst.wait_log(r"access forbidden by rule, client: 198\.51\.100\.10,",
                      since=mark)
        # header filters run after preaccess: they see the change (the
        # server level, with no set_real_ip_from, changed nothing)
        r = request(port, "/hdr", [("X-Real-IP", "192.0.2.11")])
        self.assertEqual(r.header("X-Addr"), "192.0.2.11 127.0.0.1")
        r = request(port, "/plain", [("X-Real-IP", "192.0.2.11")])
        self.assertEqual(r.header("X-Addr"), "127.0.0.1 127.0.0.1")

    def test_access_log_shows_the_real_address(self):
        inst = self.server()
        port = inst.ports[0]
        request(port, "/logged-one", [("X-Forwarded-For", "192.0.2.55")])
        request(port, "/logged-two", [("X-Forwarded-For", "192.0.2.56")],
                src="127.0.0.2")
        log = inst.path("logs", "access.log")
        wait_for(lambda: "/logged-two" in inst.log(log), "the access log",
                 diag=inst.diag)
        text = inst.log(log)
        self.assertIn('192.0.2.55 127.0.0.1 "GET /logged-one HTTP/1.1"', text)
        self.assertIn('127.0.0.2 127.0.0.2 "GET /logged-two HTTP/1.1"', text)

    def test_keepalive_starts_from_the_peer_again(self):
        inst = self.server()
        with connect(inst.ports[0]) as s:
            buf = b""
            for xff, want in (("192.0.2.1", "192.0.2.1"), (None, "127.0.0.1"),
                              ("192.0.2.2", "192.0.2.2"), (None, "127.0.0.1")):
                hdr = f"X-Forwarded-For: {xff}\r\n" if xff else ""
                s.sendall(f"GET / HTTP/1.1\r\nHost: x\r\n{hdr}\r\n".encode())
                r, buf = read_response(s, buf)
                self.assertEqual(r.text().split()[0:2], [want, "127.0.0.1"],
                                 f"X-Forwarded-For {xff}")
            # pipelined: both in one write, each request on its own
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n"
                      b"X-Forwarded-For: 192.0.2.3\r\n\r\n"
                      b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            r1, buf = read_response(s, buf)
            r2, buf = read_response(s, buf)
            self.assertEqual(r1.text().split()[0], "192.0.2.3")
            self.assertEqual(r2.text().split()[0], "127.0.0.1")

    def test_ipv6(self):
        if not ipv6_loopback():
            self.skipTest("::1 is not available on this host")
        inst = self.start(BLOCK6, 2, src="::1")
        p1, p2 = inst.ports
        self.assertEqual(shown(p1, [("X-Forwarded-For",
                                     "192.0.2.1, 2001:db8::9")], src="::1"),
                         ("192.0.2.1", "::1", ""))
        self.assertEqual(shown(p1, [("X-Forwarded-For",
                                     "2001:db9::1, 2001:db8:1::1")],
                               src="::1")[0:2], ("2001:db9::1", "::1"))
        # ::1 is not in 2001:db8::/32 nor in 127.0.0.0/8: untrusted
        ra, rra, rport = shown(p2, [("X-Forwarded-For", "192.0.2.1")],
                               src="::1")
        self.assertEqual((ra, rra), ("::1", "::1"))
        self.assertNotEqual(rport, "")

    def test_unix_socket_peer(self):
        inst = self.portico()
        sock = inst.path("rip.sock")
        inst.write_conf(text=http_conf([inst.port], f"""
            server {{
                listen unix:{sock};
                listen 127.0.0.1:{inst.port};
                set_real_ip_from unix:;
                location / {{ {SHOW} }}
            }}"""))
        inst.start(wait=False)
        inst.wait_workers(1)
        wait_for(lambda: request(inst.port).status == 200,
                 "the server to answer", diag=inst.diag)

        def over_unix(extra):
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(10)
                s.connect(sock)
                s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n" + extra
                          + b"Connection: close\r\n\r\n")
                return read_response(s)[0].text()
        self.assertEqual(over_unix(b"X-Real-IP: 192.0.2.1\r\n"),
                         "192.0.2.1 unix: []\n")
        self.assertEqual(over_unix(b""), "unix: unix: []\n")
        # "unix:" trusts unix peers only
        self.assertEqual(shown(inst.port, [("X-Real-IP", "192.0.2.1")])[0],
                         "127.0.0.1")


class RealIPConfig(PorticoTestCase):
    """nginx's wording for bad directives."""

    def check(self, directive, message):
        inst = self.portico()
        inst.write_conf(text=http_conf([inst.port], f"""
            server {{
                listen 127.0.0.1:{inst.port};
                {directive}
            }}"""))
        r = inst.run("-t")
        self.assertNotEqual(r.returncode, 0, r.stderr)
        want = f"{message} in {inst.conf_path}:"
        self.assertIn(want, r.stderr)

    def test_errors(self):
        self.check("set_real_ip_from foo.invalid;",
                   'host not found in set_real_ip_from "foo.invalid"')
        self.check("set_real_ip_from 1.2.3.4/33;",
                   'host not found in set_real_ip_from "1.2.3.4/33"')
        self.check("set_real_ip_from;", 'invalid number of arguments in '
                   '"set_real_ip_from" directive')
        self.check("real_ip_header X-Real-IP; real_ip_header X-Real-IP;",
                   '"real_ip_header" directive is duplicate')
        self.check("real_ip_recursive maybe;", 'invalid value "maybe" in '
                   '"real_ip_recursive" directive, it must be "on" or "off"')
        self.check("location / { if ($a) { set_real_ip_from 10.0.0.1; } }",
                   '"set_real_ip_from" directive is not allowed here')

    def test_low_bits_warning(self):
        inst = self.portico()
        inst.write_conf(text=http_conf([inst.port], f"""
            server {{
                listen 127.0.0.1:{inst.port};
                set_real_ip_from 10.1.2.3/8;
                set_real_ip_from unix:;
            }}"""))
        r = inst.run("-t")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("low address bits of 10.1.2.3/8 are meaningless",
                      r.stderr)


if __name__ == "__main__":
    unittest.main()
