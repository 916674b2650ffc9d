"""allow and deny: rules in order, the first match deciding, no match
allowing; CIDR blocks; IPv6 on ::1 and v4-mapped clients on a dual-stack
socket; inheritance of a level's list as a whole; satisfy any|all; the
403 page and its log line; nginx's wording for bad rules.

No content handler answers the test locations, so a request that passes
the access phase ends in 404: 404 means allowed, 403 refused."""

import http.client
import re
import socket
import unittest

from portico_harness import PorticoTestCase, wait_for

FORBIDDEN = "access forbidden by rule"
# what nginx appends to a request's error log lines
CONTEXT = (r', client: 127\.0\.0\.1, server: [^,]*, request: "[A-Z]+ [^"]*", '
           r'host: "[^"]*"\n')


def conf_text(port, server_body, http_extra="", listen=None):
    listens = listen or [f"127.0.0.1:{port}"]
    return "\n".join([
        "daemon off;",
        "worker_processes 1;",
        "error_log logs/error.log info;",
        "pid logs/portico.pid;",
        "events {",
        "    worker_connections 64;",
        "}",
        "http {",
        http_extra,
        "    server {",
        *[f"        listen {a};" for a in listens],
        "        location = /ready { allow all; return 200 \"v1 $pid\\n\"; }",
        server_body,
        "    }",
        "}",
        "",
    ])


def status(port, path, host="127.0.0.1"):
    """GET path on a new connection to host (an IPv4 or IPv6 literal):
    (status, body)."""
    conn = http.client.HTTPConnection(host, port, timeout=5)
    try:
        conn.request("GET", path, headers={"Connection": "close"})
        r = conn.getresponse()
        return r.status, r.read().decode()
    finally:
        conn.close()


def ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def dual_stack():
    """Whether an IPv6 wildcard socket takes IPv4 clients (v4-mapped)."""
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            s.bind(("::", 0))
            s.listen(1)
            port = s.getsockname()[1]
            with socket.create_connection(("127.0.0.1", port), timeout=2):
                pass
        return True
    except OSError:
        return False


class Access(PorticoTestCase):

    def serve(self, server_body, http_extra="", listen=None,
              probe="127.0.0.1"):
        inst = self.portico()
        inst.write_conf(conf_text(inst.port, server_body, http_extra,
                                  [a.replace("@PORT@", str(inst.port))
                                   for a in listen] if listen else None))
        inst.start(wait=False)
        inst.wait_workers(1)
        wait_for(lambda: status(inst.port, "/ready", probe)[0] == 200,
                 f"port {inst.port} to answer", diag=inst.diag)
        return inst

    def assert_codes(self, inst, cases, host="127.0.0.1"):
        for path, want in cases:
            with self.subTest(path=path, client=host):
                got = status(inst.port, path, host)[0]
                self.assertEqual(got, want, f"{path} from {host}")

    def forbidden_lines(self, inst):
        return len(re.findall(r"\[error\] \d+#\d+: (?:\*\d+ )?"
                              + FORBIDDEN + CONTEXT, inst.log()))

    def test_deny_all_gives_the_403_page_and_logs(self):
        inst = self.serve("location /d { deny all; }")
        mark = inst.log_size()
        code, body = status(inst.port, "/d")
        self.assertEqual(code, 403)
        self.assertIn("<title>403 Forbidden</title>", body)
        inst.wait_log(r"\[error\] \d+#\d+: (?:\*\d+ )?" + FORBIDDEN + CONTEXT,
                      since=mark)

    def test_first_match_wins(self):
        inst = self.serve("""
            location /a { allow 127.0.0.1; deny all; }
            location /b { deny 127.0.0.1; allow all; }
            location /c { deny 10.0.0.1; allow 127.0.0.1; deny all; }
            location /d { allow 10.0.0.0/8; deny 127.0.0.2; deny 127.0.0.1;
                          allow all; }
        """)
        self.assert_codes(inst, [("/a", 404), ("/b", 403), ("/c", 404),
                                 ("/d", 403)])

    def test_no_match_allows(self):
        inst = self.serve("""
            location /a { allow 10.0.0.0/8; }
            location /b { deny 192.168.0.0/16; deny ::1; }
        """)
        self.assert_codes(inst, [("/a", 404), ("/b", 404)])
        self.assertEqual(self.forbidden_lines(inst), 0)

    def test_all(self):
        inst = self.serve("""
            location /a { allow all; }
            location /d { deny all; allow 127.0.0.1; }
        """)
        self.assert_codes(inst, [("/a", 404), ("/d", 403)])

    def test_cidr_v4(self):
        inst = self.serve("""
            location /net8 { allow 127.0.0.0/8; deny all; }
            location /net24 { deny 127.0.0.0/24; allow all; }
            location /other24 { allow 127.0.1.0/24; deny all; }
            location /host32 { deny 127.0.0.1/32; allow all; }
            location /zero { deny 0.0.0.0/0; }
            location /odd { allow 126.0.0.0/7; deny all; }
        """)
        self.assert_codes(inst, [("/net8", 404), ("/net24", 403),
                                 ("/other24", 403), ("/host32", 403),
                                 ("/zero", 403), ("/odd", 404)])

    def test_low_address_bits_warn_and_are_masked(self):
        inst = self.serve("location /m { allow 127.0.0.5/8; deny all; }")
        self.assertRegex(inst.log(), r"\[warn\] \d+#\d+: low address bits "
                         r"of 127\.0\.0\.5/8 are meaningless in "
                         + re.escape(inst.conf_path) + r":\d+")
        self.assert_codes(inst, [("/m", 404)])

    def test_invalid_parameters(self):
        for bad in ("127.0.0.1/33", "foo", "1.2.3", "::1/129",
                    "127.0.0.1/", "unix:/tmp/x"):
            with self.subTest(rule=bad):
                inst = self.portico()
                inst.write_conf(conf_text(inst.port,
                                          f"location /x {{ deny {bad}; }}"))
                r = inst.run("-t")
                self.assertEqual(r.returncode, 1, r.stderr)
                self.assertRegex(r.stderr, r"portico: \[emerg\] invalid "
                                 r"parameter \"" + re.escape(bad)
                                 + r"\" in " + re.escape(inst.conf_path))

    def test_rules_are_inherited_as_a_whole(self):
        inst = self.serve("""
            deny all;
            location /inherit { }
            location /own { allow 127.0.0.1; }
            location /outer {
                allow 127.0.0.1; deny all;
                location /outer/inner { }
                location /outer/deny { deny 127.0.0.1; }
            }
        """)
        # /own: its one rule replaces the server's, no deny all appended
        self.assert_codes(inst, [("/inherit", 403), ("/own", 404),
                                 ("/outer", 404), ("/outer/inner", 404),
                                 ("/outer/deny", 403), ("/elsewhere", 403)])

    def test_http_level_rules(self):
        inst = self.serve("location /s { } location /o { allow all; }",
                          http_extra="    deny 127.0.0.1;")
        self.assert_codes(inst, [("/s", 403), ("/o", 404)])

    def test_unix_rules_do_not_apply_to_tcp(self):
        inst = self.serve("""
            location /u { deny unix:; }
            location /a { allow unix:; deny all; }
        """)
        self.assert_codes(inst, [("/u", 404), ("/a", 403)])

    def test_return_runs_before_access(self):
        # as nginx: the rewrite phase (return) comes before access
        inst = self.serve('location /r { deny all; return 200 "early"; }')
        self.assertEqual(status(inst.port, "/r"), (200, "early"))

    def test_satisfy_any_with_deny_all(self):
        inst = self.serve("""
            location /any { satisfy any; deny all; }
            location /all { satisfy all; deny all; }
        """)
        mark = inst.log_size()
        self.assert_codes(inst, [("/any", 403), ("/all", 403)])
        # logged once per refusal either way (post-access under any)
        wait_for(lambda: inst.log()[mark:].count(FORBIDDEN) == 2,
                 "two refusals logged", diag=inst.log_tail)

    def test_satisfy_any_with_allow_all(self):
        inst = self.serve("""
            location /any { satisfy any; allow all; }
            location /any-first { satisfy any; allow 127.0.0.1; deny all; }
            location /any-nomatch { satisfy any; deny 10.0.0.1; }
            location /all { satisfy all; allow all; }
        """)
        self.assert_codes(inst, [("/any", 404), ("/any-first", 404),
                                 ("/any-nomatch", 404), ("/all", 404)])
        self.assertEqual(self.forbidden_lines(inst), 0)

    def test_satisfy_any_deny_first(self):
        inst = self.serve("""
            location /x { satisfy any; deny 127.0.0.1; allow all; }
        """)
        self.assert_codes(inst, [("/x", 403)])


@unittest.skipUnless(ipv6_loopback(), "::1 is not available here")
class AccessIPv6(PorticoTestCase):

    serve = Access.serve
    assert_codes = Access.assert_codes

    def test_v6_rules_on_loopback(self):
        inst = self.serve("""
            location /host { allow ::1; deny all; }
            location /net { allow ::/1; deny all; }
            location /deny { deny ::1/128; allow all; }
            location /other { allow 2001:db8::/32; deny all; }
            location /v4only { allow 127.0.0.1; deny all; }
            location /v4nomatch { deny 127.0.0.1; }
            location /all { deny all; }
        """, listen=["[::1]:@PORT@"], probe="::1")
        self.assert_codes(inst, [("/host", 404), ("/net", 404),
                                 ("/deny", 403), ("/other", 403),
                                 ("/v4only", 403), ("/v4nomatch", 404),
                                 ("/all", 403)],
                          host="::1")

    @unittest.skipUnless(dual_stack(), "no dual-stack IPv6 sockets here")
    def test_v4_mapped_clients_use_v4_rules(self):
        inst = self.serve("""
            location /v4 { allow 127.0.0.1; deny all; }
            location /v4net { deny 127.0.0.0/8; allow all; }
            location /v6 { allow ::1; deny all; }
            location /mapped { allow ::ffff:127.0.0.1; deny all; }
            location /v6only { allow ::ffff:127.0.0.1; }
            location /v6only-deny { deny ::ffff:127.0.0.0/104; }
        """, listen=["[::]:@PORT@ ipv6only=off"])
        # a v4-mapped client is checked against the IPv4 rules when there
        # are any (deny all put one there); else against the IPv6 ones
        self.assert_codes(inst, [("/v4", 404), ("/v4net", 403),
                                 ("/v6", 403), ("/mapped", 403),
                                 ("/v6only", 404), ("/v6only-deny", 403)])


if __name__ == "__main__":
    unittest.main()
