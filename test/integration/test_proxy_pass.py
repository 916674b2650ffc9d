"""proxy_pass targets and nginx's URI replacement rules: with and without a
URI part, regex locations, after rewrite ... break, with variables, to an
upstream group, to a unix socket; what the origin gets in its request
line."""

import os
import tempfile

from origins import echo, started
from proxy_util import ProxyCase, request


class UriRules(ProxyCase):

    def setUp(self):
        super().setUp()
        self.o = started(self)
        o = self.o.addr
        self.inst = self.proxy(f"""
    upstream backend {{ server {o}; }}
    server {{
        listen 127.0.0.1:@PORT@;
        location /plain/ {{ proxy_pass http://{o}; }}
        location /repl/ {{ proxy_pass http://{o}/z/; }}
        location /noslash {{ proxy_pass http://{o}/y; }}
        location /root/ {{ proxy_pass http://{o}/; }}
        location ~ ^/rx/(.*)$ {{ proxy_pass http://{o}; }}
        location ~ ^/cap/(.*)$ {{ proxy_pass http://{o}/base/$1$is_args$args; }}
        location /rw/ {{
            rewrite ^/rw/(.*)$ /new/$1 break;
            proxy_pass http://{o}/ignored/;
        }}
        location /ru/ {{ proxy_pass http://{o}$request_uri; }}
        location /var/ {{
            set $up {o};
            proxy_pass http://$up;
        }}
        location /varuri/ {{
            set $up {o};
            proxy_pass http://$up/fixed$is_args$args;
        }}
        location /group/ {{ proxy_pass http://backend/g/; }}
        location /vgroup/ {{
            set $g backend;
            proxy_pass http://$g;
        }}
    }}""")

    def target(self, path):
        n = len(self.o.requests)
        r = request(self.inst.port, path)
        self.assertEqual(r.status, 200, r)
        req = self.o.wait_requests(n + 1)[n]
        return req.target

    def test_without_uri_part_passes_the_request_uri(self):
        self.assertEqual(self.target("/plain/a/b?x=1&y"), "/plain/a/b?x=1&y")

    def test_without_uri_part_passes_it_unnormalized(self):
        # "in the same form as sent by a client"
        self.assertEqual(self.target("/plain/%41b/./c//d?q=%20"),
                         "/plain/%41b/./c//d?q=%20")

    def test_uri_part_replaces_the_location_prefix(self):
        self.assertEqual(self.target("/repl/a/b?x=1"), "/z/a/b?x=1")
        self.assertEqual(self.target("/noslash/q"), "/y/q")
        self.assertEqual(self.target("/root/k/l"), "/k/l")

    def test_uri_part_uses_the_normalized_uri_reescaped(self):
        # merged slashes, then "c/.." removed; the args stay as sent
        self.assertEqual(self.target("/repl/%41b/./c//../d%20e?q=%41"),
                         "/z/Ab/d%20e?q=%41")

    def test_regex_location_passes_the_request_uri(self):
        self.assertEqual(self.target("/rx/p%41?a=1"), "/rx/p%41?a=1")

    def test_regex_captures_in_the_uri(self):
        # variables: the URI is passed as built, $1 from the decoded URI
        self.assertEqual(self.target("/cap/a/b?x=1"), "/base/a/b?x=1")
        self.assertEqual(self.target("/cap/%41"), "/base/A")

    def test_rewrite_break_passes_the_changed_uri(self):
        # the URI part of proxy_pass is ignored after rewrite ... break
        self.assertEqual(self.target("/rw/x/y?k=v"), "/new/x/y?k=v")

    def test_request_uri_variable(self):
        self.assertEqual(self.target("/ru/%41/x?a"), "/ru/%41/x?a")

    def test_variables_without_uri_pass_the_request_uri(self):
        self.assertEqual(self.target("/var/a%41?z=1"), "/var/a%41?z=1")

    def test_variables_with_uri_pass_it_as_is(self):
        self.assertEqual(self.target("/varuri/a/b?z=1"), "/fixed?z=1")
        self.assertEqual(self.target("/varuri/a/b"), "/fixed")

    def test_upstream_group(self):
        self.assertEqual(self.target("/group/x"), "/g/x")
        self.assertEqual(self.o.last().header("Host"), "backend")

    def test_upstream_group_through_a_variable(self):
        self.assertEqual(self.target("/vgroup/x?1"), "/vgroup/x?1")
        self.assertEqual(self.o.last().header("Host"), "backend")

    def test_request_line_is_http10_by_default(self):
        self.target("/plain/v")
        req = self.o.last()
        self.assertEqual(req.request_line, "GET /plain/v HTTP/1.0")


class UnixSocket(ProxyCase):

    def test_unix_socket_target_with_and_without_uri(self):
        d = tempfile.mkdtemp(prefix="portico-ux-")
        os.chmod(d, 0o755)
        self.addCleanup(os.rmdir, d)
        path = os.path.join(d, "o.sock")
        o = started(self, echo(), unix=path)
        inst = self.proxy(f"""
    upstream ux {{ server unix:{path}; }}
    server {{
        listen 127.0.0.1:@PORT@;
        location /g/ {{ proxy_pass http://ux; }}
        location /u/ {{ proxy_pass http://unix:{path}:/base/; }}
        location /n/ {{ proxy_pass http://unix:{path}; }}
    }}""")
        r = request(inst.port, "/u/a?b")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(o.last().target, "/base/a?b")
        # $proxy_host of a unix socket target is "localhost"
        self.assertEqual(o.last().header("Host"), "localhost")
        r = request(inst.port, "/n/c")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(o.wait_requests(2)[1].target, "/n/c")
        # an upstream group of a unix socket
        r = request(inst.port, "/g/d")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(o.wait_requests(3)[2].target, "/g/d")
        self.assertEqual(o.wait_requests(3)[2].header("Host"), "ux")


class ConfigErrors(ProxyCase):

    def test_uri_part_in_a_regex_location(self):
        rc, err = self.config_error("""
    server { listen 127.0.0.1:@PORT@;
        location ~ ^/a { proxy_pass http://127.0.0.1:9/x; } }""")
        self.assertNotEqual(rc, 0)
        self.assertRegex(err, r'"proxy_pass" cannot have URI part in '
                         r'location given by regular expression, or inside '
                         r'named location, or inside "if" statement, or '
                         r'inside "limit_except" block in \S+:\d+')

    def test_invalid_url_prefix(self):
        rc, err = self.config_error("""
    server { listen 127.0.0.1:@PORT@;
        location / { proxy_pass ftp://127.0.0.1:9; } }""")
        self.assertNotEqual(rc, 0)
        self.assertRegex(err, r'invalid URL prefix in \S+portico\.conf:\d+')

    def test_duplicate_proxy_pass(self):
        rc, err = self.config_error("""
    server { listen 127.0.0.1:@PORT@;
        location / { proxy_pass http://127.0.0.1:9;
                     proxy_pass http://127.0.0.1:8; } }""")
        self.assertNotEqual(rc, 0)
        self.assertRegex(err, r'"proxy_pass" directive is duplicate in '
                         r'\S+portico\.conf:\d+')
