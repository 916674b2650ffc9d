"""The resolver directives: `portico -t` accepts what nginx accepts and
rejects the rest in nginx's words; a running server with a resolver opens
no DNS socket until a lookup needs one. Also a self-test of dnsstub.py,
the stub DNS server the proxy tests use."""

import socket
import struct
import unittest

from dnsstub import DnsStub
from portico_harness import PorticoTestCase, http_get, serve

EVENTS = "events {\n    worker_connections 16;\n}\n"


def query(port, name, qtype=1, ident=0x4242, timeout=5):
    """Send one query to the stub; (rcode, [(type, ttl, rdata)])."""
    qname = b"".join(bytes([len(x)]) + x.encode()
                     for x in name.split(".")) + b"\0"
    pkt = struct.pack(">HHHHHH", ident, 0x0100, 1, 0, 0, 0) + qname \
        + struct.pack(">HH", qtype, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(pkt, ("127.0.0.1", port))
        resp, _ = s.recvfrom(4096)
    ident_r, flags, qd, an, ns, ar = struct.unpack(">HHHHHH", resp[:12])
    assert ident_r == ident and flags & 0x8000 and qd == 1
    off = 12 + len(qname) + 4
    out = []
    for _ in range(an):
        # owner names are written uncompressed by the stub
        while resp[off] != 0:
            off += resp[off] + 1
        off += 1
        t, _c, ttl, rdlen = struct.unpack(">HHIH", resp[off:off + 10])
        out.append((t, ttl, resp[off + 10:off + 10 + rdlen]))
        off += 10 + rdlen
    return flags & 0xF, out


class DnsStubSelfTest(unittest.TestCase):

    def test_answers_counts_and_nxdomain(self):
        records = {"Backend.test": [("127.0.0.1", 30), ("::1", 40)],
                   "alias.test": [("CNAME:backend.test", 50)]}
        with DnsStub(records) as dns:
            rcode, ans = query(dns.port, "backend.TEST")
            self.assertEqual(rcode, 0)
            self.assertEqual(ans, [(1, 30, bytes([127, 0, 0, 1]))])
            rcode, ans = query(dns.port, "backend.test", qtype=28)
            self.assertEqual(ans, [(28, 40, bytes(15) + b"\1")])
            rcode, ans = query(dns.port, "alias.test")
            self.assertEqual([a[0] for a in ans], [5, 1])
            rcode, ans = query(dns.port, "nope.test")
            self.assertEqual((rcode, ans), (3, []))
            self.assertEqual(dns.count("backend.test"), 2)
            self.assertEqual(dns.count("backend.test", "AAAA"), 1)
            self.assertEqual(dns.count(), 4)
            dns.servfail.add("backend.test")
            self.assertEqual(query(dns.port, "backend.test")[0], 2)

    def test_drop_and_delay(self):
        with DnsStub({"a.test": [("10.0.0.1", 5)]}, drop=True) as dns:
            with self.assertRaises(socket.timeout):
                query(dns.port, "a.test", timeout=0.3)
            dns.wait_count(1, "a.test")
            dns.drop = False
            dns.delay = 0.2
            self.assertEqual(query(dns.port, "a.test")[0], 0)


class ResolverConfig(PorticoTestCase):

    def check_t(self, http_block, error=None, line=5):
        inst = self.portico()
        inst.write_conf(EVENTS + "http {\n" + http_block + "\n}\n")
        r = inst.run("-t")
        if error is None:
            self.assertEqual(r.returncode, 0, r.stderr)
            return
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual(
            r.stderr,
            f"portico: [emerg] {error} in {inst.conf_path}:{line}\n"
            f"portico: configuration file {inst.conf_path} test failed\n")

    def test_accepted(self):
        self.check_t("resolver 127.0.0.1 [::1]:5353 127.0.0.2:53 valid=30s "
                     "ipv6=off status_zone=z;\nresolver_timeout 5s;\n"
                     "server {\n  resolver localhost ipv4=off;\n"
                     "  location / {\n    resolver 10.0.0.1 valid=0;\n"
                     "    resolver_timeout 100ms;\n  }\n}")

    def test_errors_as_nginx(self):
        cases = [
            ("resolver 127.0.0.1 valid=x;",
             "invalid parameter: valid=x"),
            ("resolver 127.0.0.1 ipv6=maybe;",
             "invalid parameter: ipv6=maybe"),
            ("resolver 127.0.0.1 ipv4=off ipv6=off;",
             '"ipv4" and "ipv6" cannot both be "off"'),
            ("resolver 127.0.0.1 foo=1;",
             'host not found in resolver "foo=1"'),
            ("resolver 127.0.0.1:99999;",
             'invalid port in resolver "127.0.0.1:99999"'),
            ("resolver 127.0.0.1:0;",
             'invalid port in resolver "127.0.0.1:0"'),
            ("resolver ::1;", 'invalid port in resolver "::1"'),
            ("resolver [::1;", 'invalid host in resolver "[::1"'),
            ("resolver 127.0.0.1; resolver 127.0.0.2;",
             '"resolver" directive is duplicate'),
            ("resolver_timeout 1x;",
             '"resolver_timeout" directive invalid value'),
            ("resolver;",
             'invalid number of arguments in "resolver" directive'),
        ]
        for text, error in cases:
            with self.subTest(text=text):
                self.check_t(text, error)

    def test_no_socket_until_needed(self):
        with DnsStub({}) as dns:
            inst = serve(self, f"resolver {dns.addr};\nserver {{\n"
                         f"  listen 127.0.0.1:@PORT@;\n"
                         f"  location / {{ return 200 \"ok\\n\"; }}\n}}")
            status, _h, body = http_get(inst.port, "/")
            self.assertEqual((status, body), (200, "ok\n"))
            self.assertEqual(dns.count(), 0)
            # no UDP socket connected to the stub: sockets open lazily
            remote = "0100007F:%04X" % dns.port
            with open("/proc/net/udp") as f:
                peers = [line.split()[2] for line in f.readlines()[1:]]
            self.assertNotIn(remote, peers)

if __name__ == "__main__":
    unittest.main()
