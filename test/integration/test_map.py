"""The map module on the wire: exact keys (any case), regexes in order with
numbered and named captures, the default, hostnames wildcards, volatile,
values with variables, include inside the block, maps used by return,
rewrite and if, and config errors. Also run under the real nginx 1.22
(skipped when /usr/sbin/nginx is missing) and the answers compared."""

import os
import unittest

import test_rewrite
from portico_harness import PorticoTestCase
from test_rewrite import NGINX, ServerCase, check_config_error

BLOCK = r"""
    map $arg_k $m {
        default def;
        Foo upper;
        \default escaped;
        ~^r(\d+)$ "num $1";
        ~*^R(?<rest>.*)$ "any $rest";
        ~^r second-never;
        "" empty;
    }
    map $arg_k $nodefault { a 1; }
    map $arg_k $onlyre { ~. re; }
    map $http_host $h {
        hostnames;
        default none;
        a.example.com exact;
        *.example.com star;
        *.b.example.com deep;
        .example.org dot;
        www.example.* tail;
    }
    map $uri $cached { /vol/a A; default other; }
    map $uri $vol { volatile; /vol/a A; default other; }
    map $host$uri $both { localhost/both hit; default miss; }
    map $arg_k $withvar { a "uri=$uri"; default "[$arg_k]"; }
    map $arg_k $inc {
        include @WWW@/map.inc;
        local here;
    }
    map $uri $target { /go/a /show/A; default /show/none; }
    map $arg_k $over { default map; }

    server {
        listen 127.0.0.1:@PORT@;
        server_name localhost;
        root @WWW@;

        location /show/ { return 200 "show $uri\n"; }
        location /m/ {
            return 200 "m=$m nodefault=[$nodefault] re=[$onlyre]\n";
        }
        location /h/ { return 200 "h=$h\n"; }
        location /vol/ {
            set $c1 $cached;
            set $v1 $vol;
            rewrite ^ /vol/b;
            return 200 "cached $c1 $cached volatile $v1 $vol\n";
        }
        location /both { return 200 "$both\n"; }
        location /wv/ { return 200 "$withvar\n"; }
        location /inc/ { return 200 "$inc\n"; }
        location /go/ { rewrite ^ $target last; }
        location /if/ {
            if ($m = upper) { return 200 "if upper\n"; }
            return 200 "if $m\n";
        }
        location /redir/ { return 302 /show/$m; }
        location /over/ { set $over "set"; return 200 "$over\n"; }
    }
"""

FILES = {
    "map.inc": "included yes;\n",
}


class Map(ServerCase):

    BLOCK = BLOCK
    FILES = FILES

    def test_exact_keys_in_any_case(self):
        self.expect("/m/?k=Foo", 200, "m=upper nodefault=[] re=[re]\n")
        self.expect("/m/?k=FOO", 200, "m=upper nodefault=[] re=[re]\n")
        self.expect("/m/?k=default", 200, "m=escaped nodefault=[] re=[re]\n")

    def test_regexes_in_order_with_captures(self):
        self.expect("/m/?k=r12", 200, "m=num 12 nodefault=[] re=[re]\n")
        self.expect("/m/?k=Rx", 200, "m=any x nodefault=[] re=[re]\n")
        self.expect("/m/?k=rx", 200, "m=any x nodefault=[] re=[re]\n")

    def test_default(self):
        self.expect("/m/?k=zz", 200, "m=def nodefault=[] re=[re]\n")
        self.expect("/m/?k=a", 200, "m=def nodefault=[1] re=[re]\n")

    def test_empty_source(self):
        # an empty key matches "", and no regex is tried on it
        self.expect("/m/", 200, "m=empty nodefault=[] re=[]\n")

    def test_hostnames(self):
        cases = [
            ("a.example.com", "exact"), ("A.Example.COM", "exact"),
            ("z.a.example.com", "star"), ("x.y.b.example.com", "deep"),
            ("b.example.com", "star"), ("example.com", "none"),
            ("example.org", "dot"), ("q.example.org", "dot"),
            ("www.example.com", "star"), ("www.example.net", "tail"),
            ("www.example", "none"), ("a.example.com.", "exact"),
        ]
        for host, value in cases:
            with self.subTest(host=host):
                self.expect("/h/", 200, f"h={value}\n", host=host)

    def test_volatile(self):
        # the cached value stays after the URI changed; volatile follows
        self.expect("/vol/a", 200, "cached A A volatile A other\n")

    def test_complex_source_and_values(self):
        self.expect("/both", 200, "hit\n")
        self.expect("/bothx", 200, "miss\n")
        self.expect("/wv/?k=a", 200, "uri=/wv/\n")
        self.expect("/wv/?k=b", 200, "[b]\n")

    def test_include(self):
        self.expect("/inc/?k=included", 200, "yes\n")
        self.expect("/inc/?k=local", 200, "here\n")

    def test_map_in_rewrite_if_and_return(self):
        self.expect("/go/a", 200, "show /show/A\n")
        self.expect("/go/b", 200, "show /show/none\n")
        self.expect("/if/?k=foo", 200, "if upper\n")
        self.expect("/if/?k=r1", 200, "if num 1\n")
        self.expect("/redir/?k=foo", 302,
                    location="http://localhost:@PORT@/show/upper")

    def test_set_overrides_a_map(self):
        self.expect("/over/", 200, "set\n")


class ConfigErrors(PorticoTestCase):

    def test_errors(self):
        cases = [
            ("map $a b {\n}", 'invalid variable name "b"', "map"),
            ("map $a $b {\na;\n}", "invalid number of the map parameters",
             "a;"),
            ("map $a $b {\ndefault a;\ndefault b;\n}",
             "duplicate default map parameter", "default b"),
            ("map $a $b {\nx 1;\nX 2;\n}", 'conflicting parameter "x"',
             "X 2"),
            ("map $a $b {\nhostnames;\n.a.com 1;\na.com 2;\n}",
             'conflicting parameter "a.com"', "a.com 2"),
            ("map $a $b {\nhostnames;\na*b 1;\n}",
             'invalid hostname or wildcard "a*b"', "a*b"),
            ("map $a $b {\nk {\n}\n}", 'unexpected "{"', "k {"),
            ("server {\nmap $a $b {\n}\n}",
             '"map" directive is not allowed here', "map"),
        ]
        for block, message, marker in cases:
            with self.subTest(block=block):
                check_config_error(self, block, message, marker)


@unittest.skipUnless(os.access(NGINX, os.X_OK), "nginx is not installed")
class AgainstNginx(test_rewrite.AgainstNginx):

    BLOCK = BLOCK
    FILES = FILES
    CASES = [
        "/m/?k=Foo", "/m/?k=FOO", "/m/?k=default", "/m/?k=r12", "/m/?k=Rx",
        "/m/?k=rx", "/m/?k=zz", "/m/?k=a", "/m/", "/vol/a", "/both",
        "/bothx", "/wv/?k=a", "/wv/?k=b", "/inc/?k=included",
        "/inc/?k=local", "/go/a", "/go/b", "/if/?k=foo", "/if/?k=r1",
        "/redir/?k=foo", "/over/",
    ]
    HOSTS = [
        "a.example.com", "A.Example.COM", "z.a.example.com",
        "x.y.b.example.com", "b.example.com", "example.com", "example.org",
        "q.example.org", "www.example.com", "www.example.net",
        "www.example", "a.example.com.",
    ]


if __name__ == "__main__":
    unittest.main()
