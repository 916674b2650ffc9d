"""The rewrite module on the wire: rewrite with its flags, captures and
arguments, the rewrite cycle limit, if with every operator and file test
(and the conf of an if block), set, break and return, rewrite_log and the
uninitialized variable warning, plus config errors. One instance serves
every case; the same block is also run under the real nginx 1.22 (skipped
when /usr/sbin/nginx is missing) and the answers compared."""

import os
import re
import shutil
import signal
import subprocess
import unittest

from portico_harness import (Portico, PorticoTestCase, RawClient, http_conf,
                             wait_for)

NGINX = "/usr/sbin/nginx"

SERVER = r"""
    server {
        listen 127.0.0.1:@PORT@;
        server_name localhost;
        root @WWW@;

        rewrite ^/srv/(.*)$ /show/$1 last;
        if ($arg_srv = teapot) { return 418 "server if\n"; }
        set $srvvar "from-server";

        location /show/ { return 200 "show uri=$uri args=$args 1=$1\n"; }

        location /old/ { rewrite ^/old/(.*)$ /show/$1 last; return 500; }
        location /brk/ { rewrite ^/brk/(.*)$ /$1 break; return 500; }
        location /red/ { rewrite ^/red/(.*)$ /show/$1 redirect; }
        location /perm/ { rewrite ^/perm/(.*)$ /show/$1 permanent; }
        location /url/ { rewrite ^/url/(.*)$ https://x.test/$1; }
        location /urlq/ { rewrite ^/urlq/(.*)$ https://x.test/$1?from=url; }
        location /urld/ { rewrite ^/urld/(.*)$ https://x.test/$1? permanent; }
        location /sch/ { rewrite ^/sch/(.*)$ $scheme://x.test/$1; }
        location /qadd/ { rewrite ^/qadd/(.*)$ /show/q?x=$1 last; }
        location /qrep/ { rewrite ^/qrep/(.*)$ /show/q?x=$1? last; }
        location /qdrop/ { rewrite ^/qdrop/(.*)$ /show/drop? last; }
        location /cap/ {
            rewrite ^/cap/(?<first>\w+)/(\w+)$ /show/$2-$first last;
        }
        location ~ ^/loc/(\d+)/ { rewrite ^/loc/\d+/(.*)$ /show/$1 last; }
        location ~ ^/keep/(\d+)$ {
            rewrite ^/nomatch /x;
            return 200 "kept [$1]\n";
        }
        location ~ ^/grp/(\d+)$ { rewrite ^ /show/$1 last; }
        location /loop/ { rewrite ^ /loop/again last; }
        location /chain/ {
            rewrite ^/chain/a$ /chain/b;
            rewrite ^/chain/b$ /chain/c;
            return 200 "chain $uri\n";
        }
        location /esc/ { rewrite ^/esc/(.*)$ /show/$1?v=$1 last; }
        location /escr/ { rewrite ^/escr/(.*)$ /show/$1 redirect; }
        location /lit/ { rewrite ^ /show/%41%20 redirect; }
        location /empty/ { rewrite ^ ? last; }
        location /log/ { rewrite_log on; rewrite ^/log/(.*)$ /show/$1 last; }

        location /truth/ {
            if ($arg_v) { return 200 "true\n"; }
            return 200 "false\n";
        }
        location /eq/ {
            if ($arg_v = "") { return 200 "empty\n"; }
            if ($arg_v = abc) { return 200 "abc\n"; }
            if ($arg_v != xyz) { return 200 "not xyz\n"; }
            return 200 "xyz\n";
        }
        location /re/ {
            if ($arg_v ~ ^(\d+)-(?<word>[a-z]+)$) {
                return 200 "match $1 $2 $word\n";
            }
            if ($arg_v ~* ^ABC) { return 200 "caseless\n"; }
            if ($arg_v !~ ^x) { return 200 "not x [$1]\n"; }
            if ($arg_v !~* ^XY) { return 200 "not xy\n"; }
            return 200 "xy\n";
        }
        location /ft/ {
            if (-f $document_root$arg_p) { return 200 "file\n"; }
            if (-d $document_root$arg_p) { return 200 "dir\n"; }
            if (!-e $document_root$arg_p) { return 200 "missing\n"; }
            return 200 "other\n";
        }
        location /fx/ {
            if (-x $document_root$arg_p) { return 200 "exec\n"; }
            if (!-x $document_root$arg_p) { return 200 "not exec\n"; }
        }
        location /fnot/ {
            if (!-f $document_root$arg_p) { return 200 "not file\n"; }
            if (!-d $document_root$arg_p) { return 200 "not dir\n"; }
            return 200 "dir\n";
        }
        location /root/ {
            root @WWW@/dir;
            if ($arg_alt) { root @WWW@/alt; }
            rewrite ^/root/(.*)$ /$1 break;
        }
        location /iflast/ {
            if ($arg_go) { rewrite ^ /show/from-if last; }
            return 200 "no go\n";
        }
        location /iferr/ {
            if ($arg_e) { error_page 404 = /show/err; }
            rewrite ^ /nothere break;
        }
        location /ifset/ {
            set $q out;
            if ($arg_a) { set $q in; }
            return 200 "q=$q\n";
        }

        location /set/ {
            set $a A;
            set $b "$a-$uri";
            set $a A2;
            return 200 "a=$a b=$b srv=$srvvar\n";
        }
        location /setargs/ {
            set $args "x=1&y=2";
            return 200 "args=$args y=$arg_y\n";
        }
        location /uninit/ { return 200 "[$never_set]\n"; }
        location /argx/ { return 200 "[$arg_x]\n"; }
        location /keepvar/ { set $kv kept; error_page 404 = /showvar; }
        location /errsrv/ { error_page 404 = /srv/fromerr; }
        location /tfsrv/ { try_files /nothere /srv/fromtf; }
        location = /showvar { return 200 "kv=[$kv]\n"; }
        location /setarg/ {
            if ($arg_q) { set $arg_x from-set; }
            return 200 "[$arg_x]\n";
        }
        location /never/ { set $never_set x; }
        location /break/ {
            set $z 1;
            if ($arg_b) { set $z 2; break; }
            set $z 3;
            return 200 "z=$z\n";
        }
        location = /r200 { return 200; }
        location = /r204 { return 204; }
        location = /r301 { return 301; }
        location = /r404 { return 404 "gone $uri\n"; }
        location = /r404e { return 404 ""; }
        location = /r444 { return 444; }
        location = /rurl { return https://z.test$request_uri; }
        location = /r307 { return 307 /show/x; }
    }
"""

FILES = {
    "f.txt": "f\n",
    "dir/index.html": "dir index\n",
    "dir/f.txt": "dir f\n",
    "alt/f.txt": "alt f\n",
    "exe.sh": "#!/bin/sh\n",
}


def build_www(www, files=FILES):
    for name, body in files.items():
        path = os.path.join(www, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(body)
    if os.path.exists(os.path.join(www, "exe.sh")):
        os.chmod(os.path.join(www, "exe.sh"), 0o755)


def get(port, path, method="GET", host="localhost"):
    """One request on a new connection: the Response, or None when the
    server closed without answering."""
    with RawClient(port) as c:
        c.send(f"{method} {path} HTTP/1.1\r\nHost: {host}\r\n"
               f"Connection: close\r\n\r\n".encode())
        out = c.responses(heads=(0,) if method == "HEAD" else ())
        return out[0] if out else None


def normalize(r):
    """What must match between portico and nginx: status, Location (port
    blanked) and body (server name in built-in pages blanked)."""
    if r is None:
        return None
    loc = r.header("Location")
    if loc is not None:
        loc = re.sub(r"//localhost:\d+", "//localhost:PORT", loc)
    body = re.sub(rb"<center>(nginx|portico)/[\d.]+</center>",
                  b"<center>SERVER</center>", r.body)
    return (r.status, loc, body)


class Server:
    """A portico (or nginx) instance serving `block` (@WWW@: a tree built
    from `files` in its prefix) on one port."""

    def __init__(self, block, files=FILES, nginx=False):
        self.nginx = nginx
        self.proc = None
        self.inst = Portico()
        self.prefix = self.inst.prefix
        self.www = self.inst.path("www")
        build_www(self.www, files)
        self.port = self.inst.port
        try:
            self.start(block.replace("@WWW@", self.www))
        except BaseException:
            self.stop()
            raise

    def start(self, block):
        if self.nginx:
            self.inst.write_conf(text=http_conf(
                [self.port], "access_log off;\n" + block,
                main_extra="master_process off;"))
            self.proc = subprocess.Popen(
                [NGINX, "-p", self.prefix + "/", "-c", self.inst.conf_path],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL)
        else:
            self.inst.write_conf(text=http_conf([self.port], block))
            self.inst.start(wait=False)
            self.inst.wait_workers(1)
        wait_for(lambda: get(self.port, "/__ready__") is not None,
                 "the server to answer", diag=self.inst.diag)

    def get(self, path, method="GET", host="localhost"):
        return get(self.port, path, method, host)

    def log(self):
        return self.inst.log()

    def log_size(self):
        return self.inst.log_size()

    def stop(self):
        if self.nginx:
            if self.proc is not None and self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            shutil.rmtree(self.prefix, ignore_errors=True)
        else:
            self.inst.cleanup()


class ServerCase(unittest.TestCase):
    """One portico for the class; the tests only read."""

    BLOCK = SERVER
    FILES = FILES

    @classmethod
    def setUpClass(cls):
        cls.srv = Server(cls.BLOCK, cls.FILES)
        cls.addClassCleanup(cls.srv.stop)

    def get(self, path, method="GET", host="localhost"):
        return self.srv.get(path, method, host)

    def expect(self, path, status, body=None, location=None, host="localhost"):
        r = self.get(path, host=host)
        self.assertIsNotNone(r, path)
        self.assertEqual(r.status, status, (path, r.head, r.body))
        if body is not None:
            self.assertEqual(r.text(), body, path)
        if location is not None:
            self.assertEqual(r.header("Location"),
                             location.replace("@PORT@", str(self.srv.port)),
                             path)
        return r


class Rewrite(ServerCase):

    def test_last_searches_locations_again(self):
        self.expect("/old/x?a=1", 200, "show uri=/show/x args=a=1 1=x\n")

    def test_break_serves_the_new_uri_in_the_same_location(self):
        self.expect("/brk/f.txt", 200, "f\n")
        self.expect("/brk/nothere", 404)

    def test_redirect_and_permanent(self):
        self.expect("/red/x?a=1", 302,
                    location="http://localhost:@PORT@/show/x?a=1")
        r = self.expect("/perm/x", 301,
                        location="http://localhost:@PORT@/show/x")
        self.assertIn(b"<title>301 Moved Permanently</title>", r.body)

    def test_url_replacement_redirects(self):
        self.expect("/url/p?a=1", 302, location="https://x.test/p?a=1")
        # a "?" in the URL joins the request's arguments with "&"
        self.expect("/urlq/p?a=1", 302,
                    location="https://x.test/p?from=url&a=1")
        # a trailing "?" drops them
        self.expect("/urld/p?a=1", 301, location="https://x.test/p")
        self.expect("/sch/p", 302, location="http://x.test/p")

    def test_arguments(self):
        self.expect("/qadd/v?o=1", 200, "show uri=/show/q args=x=v&o=1 1=v\n")
        self.expect("/qrep/v?o=1", 200, "show uri=/show/q args=x=v 1=v\n")
        self.expect("/qdrop/v?o=1", 200, "show uri=/show/drop args= 1=v\n")

    def test_named_and_numbered_captures(self):
        self.expect("/cap/one/two", 200,
                    "show uri=/show/two-one args= 1=one\n")
        self.expect("/loc/7/rest", 200, "show uri=/show/rest args= 1=rest\n")

    def test_captures_of_the_last_match(self):
        # a rewrite that does not match forgets the location's captures
        self.expect("/keep/42", 200, "kept []\n")
        # one that matches without groups hides them too (nginx)
        self.expect("/grp/42", 200, "show uri=/show/ args= 1=\n")

    def test_rewrite_cycle_limit(self):
        mark = self.srv.log_size()
        self.expect("/loop/", 500)
        self.assertIn('rewrite or internal redirection cycle while '
                      'processing "/loop/again"', self.srv.log()[mark:])

    def test_without_flag_the_next_directives_run(self):
        self.expect("/chain/a", 200, "chain /chain/c\n")

    def test_server_level(self):
        self.expect("/srv/z?k=v", 200, "show uri=/show/z args=k=v 1=z\n")
        self.expect("/anything?srv=teapot", 418, "server if\n")

    def test_server_level_runs_again_after_internal_redirects(self):
        self.expect("/errsrv/x", 200,
                    "show uri=/show/fromerr args= 1=fromerr\n")
        self.expect("/tfsrv/x", 200, "show uri=/show/fromtf args= 1=fromtf\n")

    def test_quoted_uri(self):
        # $1 is decoded; after "?" it is escaped as an argument
        self.expect("/esc/a%20b%26c", 200,
                    "show uri=/show/a b&c args=v=a%20b%26c 1=a b&c\n")
        # a redirect keeps %20 escaped, decodes what is printable
        self.expect("/escr/a%20b%41", 302,
                    location="http://localhost:@PORT@/show/a%20bA")
        self.expect("/lit/", 302,
                    location="http://localhost:@PORT@/show/A%20")

    def test_zero_length_uri(self):
        mark = self.srv.log_size()
        self.expect("/empty/", 500)
        self.assertIn("the rewritten URI has a zero length",
                      self.srv.log()[mark:])

    def test_rewrite_log(self):
        mark = self.srv.log_size()
        self.expect("/log/x?a=1", 200)
        log = self.srv.log()[mark:]
        self.assertRegex(log, r'\[notice\] .*"\^/log/\(\.\*\)\$" matches '
                         r'"/log/x"')
        self.assertRegex(log, r'\[notice\] .*rewritten data: "/show/x", '
                         r'args: "a=1"')


class If(ServerCase):

    def test_variable_truth(self):
        self.expect("/truth/?v=1", 200, "true\n")
        self.expect("/truth/?v=00", 200, "true\n")
        self.expect("/truth/?v=0", 200, "false\n")
        self.expect("/truth/", 200, "false\n")

    def test_equal_and_not_equal(self):
        self.expect("/eq/", 200, "empty\n")
        self.expect("/eq/?v=abc", 200, "abc\n")
        self.expect("/eq/?v=ABC", 200, "not xyz\n")
        self.expect("/eq/?v=xyz", 200, "xyz\n")

    def test_regex_operators(self):
        self.expect("/re/?v=12-ab", 200, "match 12 ab ab\n")
        self.expect("/re/?v=abcd", 200, "caseless\n")
        # a failed match leaves no $1 behind
        self.expect("/re/?v=q", 200, "not x []\n")
        self.expect("/re/?v=xa", 200, "not xy\n")
        self.expect("/re/?v=XYZ", 200, "not x []\n")
        self.expect("/re/?v=xyz", 200, "xy\n")

    def test_file_operators(self):
        self.expect("/ft/?p=/f.txt", 200, "file\n")
        self.expect("/ft/?p=/dir", 200, "dir\n")
        self.expect("/ft/?p=/nothere", 200, "missing\n")
        self.expect("/ft/?p=/f.txt/x", 200, "missing\n")
        self.expect("/fx/?p=/exe.sh", 200, "exec\n")
        self.expect("/fx/?p=/f.txt", 200, "not exec\n")
        self.expect("/fnot/?p=/dir", 200, "not file\n")
        self.expect("/fnot/?p=/f.txt", 200, "not dir\n")

    def test_if_block_has_its_own_conf(self):
        self.expect("/root/f.txt", 200, "dir f\n")
        self.expect("/root/f.txt?alt=1", 200, "alt f\n")
        self.expect("/root/index.html?alt=1", 404)

    def test_rewrite_last_inside_if(self):
        self.expect("/iflast/?go=1", 200,
                    "show uri=/show/from-if args=go=1 1=\n")
        self.expect("/iflast/", 200, "no go\n")

    def test_error_page_inside_if(self):
        self.expect("/iferr/?e=1", 200, "show uri=/show/err args= 1=\n")
        self.expect("/iferr/", 404)

    def test_directives_after_the_block_still_run(self):
        self.expect("/ifset/", 200, "q=out\n")
        self.expect("/ifset/?a=1", 200, "q=in\n")


class SetBreakReturn(ServerCase):

    def test_set(self):
        self.expect("/set/", 200, "a=A2 b=A-/set/ srv=from-server\n")

    def test_set_builtin_args(self):
        self.expect("/setargs/?q=9", 200, "args=x=1&y=2 y=2\n")

    def test_set_of_a_prefix_variable(self):
        # "set $arg_x" elsewhere leaves $arg_x reading the argument
        self.expect("/argx/?x=1", 200, "[1]\n")
        self.expect("/setarg/?x=1", 200, "[1]\n")
        self.expect("/setarg/?x=1&q=1", 200, "[from-set]\n")

    def test_set_survives_an_internal_redirect(self):
        self.expect("/keepvar/nothere", 200, "kv=[kept]\n")

    def test_uninitialized_variable(self):
        mark = self.srv.log_size()
        self.expect("/uninit/", 200, "[]\n")
        self.assertIn('[warn]', self.srv.log()[mark:])
        self.assertIn('using uninitialized "never_set" variable',
                      self.srv.log()[mark:])

    def test_break(self):
        self.expect("/break/", 200, "z=3\n")
        # break stops the directives; static then finds no file
        self.expect("/break/?b=1", 404)

    def test_return_forms(self):
        r = self.expect("/r200", 200, "")
        self.assertEqual(r.header("Content-Length"), "0")
        self.expect("/r204", 204, "")
        # a redirect code without a URL still sends an empty Location
        self.expect("/r301", 301, location="")
        self.expect("/r404", 404, "gone /r404\n")
        r = self.expect("/r404e", 404)
        self.assertIn(b"<title>404 Not Found</title>", r.body)
        self.assertIsNone(self.get("/r444"))
        self.expect("/rurl?a=b", 302, location="https://z.test/rurl?a=b")
        self.expect("/r307", 307,
                    location="http://localhost:@PORT@/show/x")


def check_config_error(case, block, message, marker):
    """-t (in an instance of PorticoTestCase `case`) fails with `message`
    on the first line holding `marker` (also used by test_map)."""
    inst = case.portico()
    text = http_conf([inst.port], block)
    line = [i for i, s in enumerate(text.split("\n"), 1) if marker in s][0]
    inst.write_conf(text=text)
    r = inst.run("-t")
    case.assertEqual(r.returncode, 1, r.stderr)
    case.assertIn(f"portico: [emerg] {message} in {inst.conf_path}:"
                  f"{line}\n", r.stderr)


class ConfigErrors(PorticoTestCase):

    def check(self, block, message, marker):
        check_config_error(self, block, message, marker)

    def test_errors(self):
        cases = [
            ("server {\nif ($a) {\nroot /x;\n}\n}",
             '"root" directive is not allowed here', "root"),
            ("server {\nif ($a) {\nbreak;\nfoo;\n}\n}",
             'unknown directive "foo"', "foo"),
            ("server {\nlocation / {\nif ($a) {\nif ($b) { }\n}\n}\n}",
             '"if" directive is not allowed here', "($b)"),
            ("server {\nlocation / {\nif $a { }\n}\n}",
             'invalid condition "$a"', "if"),
            ("server {\nlocation / {\nif ($a ! b) { }\n}\n}",
             'unexpected "!" in condition', "if"),
            ("server {\nlocation / {\nif (-z $a) { }\n}\n}",
             'invalid condition "-z"', "if"),
            ("server {\nrewrite ^ \"\";\n}", "empty replacement",
             "rewrite"),
            ("server {\nrewrite ^ /x foo;\n}", 'invalid parameter "foo"',
             "rewrite"),
            ("server {\nset $uri b;\n}", 'the duplicate "uri" variable',
             "set"),
            ("server {\nreturn 1000;\n}", 'invalid return code "1000"',
             "return"),
        ]
        for block, message, marker in cases:
            with self.subTest(block=block):
                self.check(block, message, marker)


# Requests whose answers must be nginx's, byte for byte (but the port).
NGINX_CASES = [
    "/old/x?a=1", "/brk/f.txt", "/brk/nothere", "/red/x?a=1", "/perm/x",
    "/url/p?a=1", "/urlq/p?a=1", "/urld/p?a=1", "/sch/p", "/qadd/v?o=1",
    "/qrep/v?o=1", "/qdrop/v?o=1", "/cap/one/two", "/loc/7/rest",
    "/keep/42", "/grp/42", "/loop/", "/chain/a", "/srv/z?k=v",
    "/x?srv=teapot", "/esc/a%20b%26c", "/esc/a+b?q=1", "/escr/a%20b%41",
    "/escr/a%3Fb", "/lit/", "/empty/", "/truth/?v=0", "/truth/?v=00",
    "/eq/", "/eq/?v=abc", "/re/?v=12-ab", "/re/?v=abcd", "/re/?v=q",
    "/re/?v=XYZ", "/ft/?p=/f.txt", "/ft/?p=/dir", "/ft/?p=/nothere",
    "/fx/?p=/exe.sh", "/fx/?p=/f.txt", "/fnot/?p=/dir", "/root/f.txt",
    "/root/f.txt?alt=1", "/iflast/?go=1", "/iferr/?e=1", "/iferr/",
    "/ifset/?a=1", "/set/", "/setargs/?q=9", "/uninit/", "/break/?b=1",
    "/argx/?x=1", "/setarg/?x=1", "/setarg/?x=1&q=1", "/keepvar/nothere",
    "/errsrv/x", "/tfsrv/x",
    "/break/", "/r200", "/r204", "/r301", "/r404", "/r404e", "/r444",
    "/rurl?a=b", "/r307",
]


@unittest.skipUnless(os.access(NGINX, os.X_OK), "nginx is not installed")
class AgainstNginx(ServerCase):
    """The same answers from nginx for CASES (paths) and for "/h/" with
    each of HOSTS (test_map extends this class)."""

    CASES = NGINX_CASES
    HOSTS = []

    def test_same_answers(self):
        ngx = Server(self.BLOCK, self.FILES, nginx=True)
        try:
            for path in self.CASES:
                with self.subTest(path=path):
                    self.assertEqual(normalize(self.get(path)),
                                     normalize(ngx.get(path)))
            for host in self.HOSTS:
                with self.subTest(host=host):
                    self.assertEqual(normalize(self.get("/h/", host=host)),
                                     normalize(ngx.get("/h/", host=host)))
        finally:
            ngx.stop()


if __name__ == "__main__":
    unittest.main()
