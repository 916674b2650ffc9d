"""`portico -t` on upstream blocks, balancers, keepalive and zone
directives: what nginx accepts passes, and each error has nginx's wording
with the file and line (every message checked against nginx 1.22)."""

import unittest

from portico_harness import PorticoTestCase

HEAD = "events {\n    worker_connections 16;\n}\nhttp {\n"


class UpstreamConf(PorticoTestCase):

    def run_t(self, body):
        inst = self.portico()
        inst.write_conf(HEAD + body + "}\n")
        return inst, inst.run("-t")

    def ok(self, body, warning=None):
        inst, r = self.run_t(body)
        self.assertEqual(r.returncode, 0, r.stderr)
        if warning is not None:
            self.assertIn(f"[warn] {warning} in {inst.conf_path}:", r.stderr)

    def error(self, body, message, line=None):
        inst, r = self.run_t(body)
        where = f" in {inst.conf_path}:{line}" if line is not None else ""
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual(
            r.stderr.splitlines()[0], f"portico: [emerg] {message}{where}")

    def test_accepted(self):
        self.ok("upstream a {\n"
                "    server 127.0.0.1:8080 weight=3 max_fails=2"
                " fail_timeout=5s max_conns=4;\n"
                "    server localhost:8081 backup;\n"
                "    server unix:/tmp/x.sock down;\n"
                "    keepalive 8;\n    keepalive_timeout 30s;\n"
                "    keepalive_requests 100;\n    keepalive_time 10m;\n"
                "    zone a 64k;\n}\n")
        for balancer in ("least_conn", "ip_hash", "hash $remote_addr",
                         "hash $request_uri consistent", "random",
                         "random two", "random two least_conn"):
            with self.subTest(balancer=balancer):
                self.ok(f"upstream a {{\n    {balancer};\n"
                        "    server 127.0.0.1 weight=2 max_conns=3;\n"
                        "    server 127.0.0.2 down;\n}\n")

    def test_redefined_balancer_warns(self):
        self.ok("upstream a {\n    ip_hash;\n    least_conn;\n"
                "    server 127.0.0.1;\n}\n",
                warning="load balancing method redefined")

    def test_no_servers(self):
        self.error("upstream a {\n\n}\n", "no servers are inside upstream",
                   line=7)

    def test_only_backup_servers(self):
        self.error("upstream a {\n    server 127.0.0.1 backup;\n}\n",
                   'no servers in upstream "a"', line=5)

    def test_duplicate_upstream(self):
        self.error("upstream a {\n    server 127.0.0.1;\n}\n"
                   "upstream a {\n    server 127.0.0.1;\n}\n",
                   'duplicate upstream "a"', line=8)

    def test_invalid_parameters(self):
        for param in ("foo=1", "weight=0", "weight=x", "max_fails=-1",
                      "fail_timeout=x", "max_conns=x"):
            with self.subTest(param=param):
                self.error(f"upstream a {{\n    server 127.0.0.1 {param};\n"
                           "}\n", f'invalid parameter "{param}"', line=6)

    def test_balancer_without_backup(self):
        for balancer in ("ip_hash", "hash $remote_addr", "random two"):
            with self.subTest(balancer=balancer):
                self.error(f"upstream a {{\n    {balancer};\n"
                           "    server 127.0.0.1 backup;\n}\n",
                           'balancing method does not support parameter '
                           '"backup"', line=7)

    def test_bad_addresses(self):
        self.error("upstream a {\n    server nosuchhost.invalid;\n}\n",
                   'host not found in upstream "nosuchhost.invalid"', line=6)
        self.error("upstream a {\n    server 127.0.0.1:0;\n}\n",
                   'invalid port in upstream "127.0.0.1:0"', line=6)
        self.error("upstream a {\n    server http://127.0.0.1;\n}\n",
                   'invalid host in upstream "http://127.0.0.1"', line=6)

    def test_balancer_parameters(self):
        self.error("upstream a {\n    hash $x foo;\n    server 127.0.0.1;\n"
                   "}\n", 'invalid parameter "foo"', line=6)
        self.error("upstream a {\n    random two foo;\n"
                   "    server 127.0.0.1;\n}\n", 'invalid parameter "foo"',
                   line=6)

    def test_keepalive_errors(self):
        self.error("upstream a {\n    server 127.0.0.1;\n    keepalive 0;\n"
                   "}\n", 'invalid value "0" in "keepalive" directive',
                   line=7)
        self.error("upstream a {\n    server 127.0.0.1;\n    keepalive 2;\n"
                   "    keepalive 3;\n}\n",
                   '"keepalive" directive is duplicate', line=8)

    def test_zone_errors(self):
        self.error("upstream a {\n    server 127.0.0.1;\n    zone z 1k;\n"
                   "}\n", 'zone "z" is too small', line=7)
        self.error("upstream a {\n    server 127.0.0.1;\n    zone z x;\n"
                   "}\n", 'invalid zone size "x"', line=7)
        self.error("upstream a {\n    server 127.0.0.1;\n    zone z;\n}\n",
                   'zero size shared memory zone "z"')
        self.ok("upstream a {\n    server 127.0.0.1;\n    zone z;\n}\n"
                "upstream b {\n    server 127.0.0.1;\n    zone z 64k;\n}\n")

    def test_not_allowed_outside_upstream(self):
        self.error("least_conn;\n", '"least_conn" directive is not allowed '
                   "here", line=5)


if __name__ == "__main__":
    unittest.main()
