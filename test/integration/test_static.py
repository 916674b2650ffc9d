"""Static content: files (sendfile on and off), directories, index,
autoindex, try_files, alias, conditional requests and byte ranges. One
portico instance serves a tree built in its prefix; responses are checked
byte for byte, and autoindex listings against the real nginx 1.22 serving
the same tree (skipped when /usr/sbin/nginx is missing)."""

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

from portico_harness import (DEADLINE, Portico, alive, children, free_port,
                             proc_uid, wait_for)

NGINX = "/usr/sbin/nginx"
MTIME = 1700000000                     # Tue, 14 Nov 2023 22:13:20 GMT
MTIME_HTTP = "Tue, 14 Nov 2023 22:13:20 GMT"
TEN = b"0123456789"
ETAG_TEN = '"%x-%x"' % (MTIME, 10)
BIG_SIZE = 3 * 1024 * 1024 + 12345
HUGE_SIZE = 48 * 1024 * 1024           # sparse: memory bound of sendfile off

# The locations both portico and nginx serve (@WWW@: the tree).
LOCATIONS = """
        location /ai/ { alias @WWW@/sub/; autoindex on; }
        location /aij/ { alias @WWW@/sub/; autoindex on;
                         autoindex_format json; }
        location /aix/ { alias @WWW@/sub/; autoindex on;
                         autoindex_format xml; }
        location /aip/ { alias @WWW@/sub/; autoindex on;
                         autoindex_format jsonp; }
        location /aih/ { alias @WWW@/sub/; autoindex on;
                         autoindex_exact_size off; autoindex_localtime on; }
"""

CONF = """
daemon off;
worker_processes 1;
error_log logs/error.log info;
pid logs/portico.pid;
events { worker_connections 64; }
http {
    types {
        text/plain txt;
        text/html html htm;
        application/octet-stream bin;
        image/png png;
    }
    default_type application/x-default;
    server {
        listen 127.0.0.1:@PORT@;
        server_name localhost;
        root @WWW@;

        location /nosf/ { alias @WWW@/; sendfile off; }
        location /sf/ { alias @WWW@/; sendfile on; tcp_nopush on; }
        location /nolog/ { log_not_found off; }
        location /idx/ { index missing.html $arg_i.html second.htm; }
        location /idxabs/ { index nothere.html /ten.txt; }
        location /tf/ { try_files $uri $uri/ /echo?from=tf; }
        location /tf404/ { try_files $uri =404; }
        location /tfnamed/ { try_files $uri @named; }
        location /tfalias/ { alias @WWW@/sub/; try_files $uri $uri/ =404; }
        location ~ ^/tfre/(.*)$ { alias @WWW@/sub/$1; try_files "" =410; }
        location ~ ^/re/(.*)$ { alias @WWW@/sub/$1; }
        location /before/ { alias @WWW@/; if_modified_since before; }
        location /imsoff/ { alias @WWW@/; if_modified_since off; }
        location /noetag/ { alias @WWW@/; etag off; }
        location /onerange/ { alias @WWW@/; max_ranges 1; }
        location /noranges/ { alias @WWW@/; max_ranges 0; }
        location = /echo { return 200 "echo uri=$uri args=$args\\n"; }
        location = /ret { return 200 "text\\n"; }
        location @named { return 200 "named $uri\\n"; }
@LOCATIONS@
    }
}
"""

NGINX_CONF = """
daemon off;
master_process off;
error_log @PREFIX@/error.log info;
pid @PREFIX@/nginx.pid;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path @PREFIX@/cb;
    proxy_temp_path @PREFIX@/pt;
    fastcgi_temp_path @PREFIX@/ft;
    uwsgi_temp_path @PREFIX@/ut;
    scgi_temp_path @PREFIX@/st;
    types { text/plain txt; text/html html; }
    server {
        listen 127.0.0.1:@PORT@;
        root @WWW@;
@LOCATIONS@
    }
}
"""


# ---------------------------------------------------------------- client

class Resp:
    def __init__(self, status, headers, body, head):
        self.status = status
        self.headers = headers          # [(name, value)] in order
        self.body = body
        self.head = head

    def h(self, name):
        v = [b for a, b in self.headers if a.lower() == name.lower()]
        if len(v) > 1:
            raise AssertionError(f"several {name} in {self.head!r}")
        return v[0] if v else None

    def names(self):
        return [a for a, _ in self.headers]


class Conn:
    """A raw keep-alive connection that parses responses byte by byte."""

    def __init__(self, port, rcvbuf=None, timeout=10):
        self.sock = socket.socket()
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect(("127.0.0.1", port))
        self.buf = b""
        self.eof = False
        self.recv_size = 65536

    def close(self):
        self.sock.close()

    def send(self, data):
        self.sock.sendall(data)

    def _more(self):
        chunk = self.sock.recv(self.recv_size)
        if not chunk:
            self.eof = True
            raise AssertionError(f"connection closed after {self.buf[:300]!r}")
        self.buf += chunk

    def _take(self, n):
        while len(self.buf) < n:
            self._more()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _line(self):
        while b"\r\n" not in self.buf:
            self._more()
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line

    def response(self, head=False):
        while b"\r\n\r\n" not in self.buf:
            self._more()
        raw, _, self.buf = self.buf.partition(b"\r\n\r\n")
        lines = raw.decode("latin-1").split("\r\n")
        m = re.fullmatch(r"HTTP/1\.1 (\d{3}) .+", lines[0])
        if m is None:
            raise AssertionError(f"bad status line {lines[0]!r}")
        headers = [tuple(x.split(": ", 1)) for x in lines[1:]]
        r = Resp(int(m.group(1)), headers, b"", raw)
        if head or r.status in (204, 304):
            return r
        if r.h("Transfer-Encoding") == "chunked":
            body = []
            while True:
                size = int(self._line(), 16)
                body.append(self._take(size))
                if self._take(2) != b"\r\n":
                    raise AssertionError("bad chunk end")
                if size == 0:
                    break
            r.body = b"".join(body)
        elif r.h("Content-Length") is not None:
            r.body = self._take(int(r.h("Content-Length")))
        else:
            raise AssertionError(f"no framing: {raw!r}")
        return r

    def closed(self, timeout=5):
        """True when the server closes the connection with nothing more."""
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(1) == b""
        except socket.timeout:
            return False


def req(method, path, headers=(), host="localhost", close=False):
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    lines += [f"{k}: {v}" for k, v in headers]
    if close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


# ---------------------------------------------------------------- tree

def write(path, data, mode=0o644):
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, mode)
    os.utime(path, (MTIME, MTIME))


def mkdir(path, mode=0o755):
    os.mkdir(path)
    os.chmod(path, mode)


def build_tree(www):
    mkdir(www)
    write(f"{www}/ten.txt", TEN)
    write(f"{www}/empty.txt", b"")
    write(f"{www}/page.html", b"<p>page</p>\n")
    write(f"{www}/noext", b"no extension\n")
    write(f"{www}/img.PNG", b"png?\n")
    big = os.urandom(BIG_SIZE)
    write(f"{www}/big.bin", big)
    with open(f"{www}/huge.bin", "wb") as f:
        f.truncate(HUGE_SIZE)
    os.chmod(f"{www}/huge.bin", 0o644)
    for d in ("dir", "idx", "idxabs", "noidx", "tf", "tf/d", "sub",
              "sub/inner", "sub/zdir", 'e x%"{}'):
        mkdir(f"{www}/{d}")
    write(f"{www}/dir/index.html", b"dir index\n")
    write(f"{www}/idx/var.html", b"var index\n")
    write(f"{www}/idx/second.htm", b"second index\n")
    write(f"{www}/tf/a.txt", b"tf a\n")
    write(f"{www}/tf/d/index.html", b"tf d index\n")
    write(f"{www}/sub/a.txt", b"x")
    write(f"{www}/sub/a b&c.html", b"hi\n")
    write(f"{www}/sub/.hidden", b"hidden\n")
    write(f"{www}/sub/k12.bin", b"k" * 12345)
    write(f"{www}/sub/" + "long-" * 12 + ".txt", b"long\n")
    write(f"{www}/sub/caf\u00e9.txt".encode(), b"utf8 name\n")
    write(f"{www}/sub/q<\"'>.txt", b"quotes\n")
    os.symlink("/nonexistent/target", f"{www}/sub/dangling")
    os.utime(f"{www}/sub/dangling", (MTIME, MTIME), follow_symlinks=False)
    for d in ("sub/inner", "sub/zdir", "sub"):
        os.utime(f"{www}/{d}", (MTIME, MTIME))
    return big


class StaticBase(unittest.TestCase):
    """One instance for the class: the tree is read-only to the tests."""

    @classmethod
    def setUpClass(cls):
        cls.inst = Portico()
        cls.addClassCleanup(cls.inst.cleanup)
        cls.www = cls.inst.path("www")
        cls.big = build_tree(cls.www)
        text = CONF.replace("@LOCATIONS@", LOCATIONS)
        text = text.replace("@PORT@", str(cls.inst.port))
        cls.inst.write_conf(text=text.replace("@WWW@", cls.www))
        cls.inst.start(wait=False)
        cls.worker = cls.inst.wait_workers(1)[0]
        cls.port = cls.inst.port
        wait_for(lambda: cls.get_cls("/ten.txt").status == 200,
                 "portico to answer", diag=cls.inst.diag)

    @classmethod
    def get_cls(cls, path, headers=(), method="GET"):
        c = Conn(cls.port)
        try:
            c.send(req(method, path, headers, close=True))
            return c.response(head=method == "HEAD")
        finally:
            c.close()

    def get(self, path, headers=(), method="GET"):
        return self.get_cls(path, headers, method)

    def log_mark(self):
        return self.inst.log_size()

    def log_since(self, mark):
        return self.inst.log()[mark:]

    def assert_status_body(self, r, status, body):
        self.assertEqual((r.status, r.body), (status, body), r.head)


# ---------------------------------------------------------------- files

class Files(StaticBase):

    def test_small_file_headers_and_body(self):
        r = self.get("/ten.txt")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, TEN)
        self.assertEqual(r.names(), ["Server", "Date", "Content-Type",
                                     "Content-Length", "Last-Modified",
                                     "Connection", "ETag", "Accept-Ranges"])
        self.assertEqual(r.h("Content-Type"), "text/plain")
        self.assertEqual(r.h("Content-Length"), "10")
        self.assertEqual(r.h("Last-Modified"), MTIME_HTTP)
        self.assertEqual(r.h("ETag"), ETAG_TEN)
        self.assertEqual(r.h("Accept-Ranges"), "bytes")

    def test_sendfile_off_small_and_big(self):
        r = self.get("/nosf/ten.txt")
        self.assert_status_body(r, 200, TEN)
        r = self.get("/nosf/big.bin")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.h("Content-Length"), str(BIG_SIZE))
        self.assertTrue(r.body == self.big, "big.bin differs (sendfile off)")

    def test_sendfile_on_big_with_nopush(self):
        r = self.get("/sf/big.bin")
        self.assertEqual(r.status, 200)
        self.assertTrue(r.body == self.big, "big.bin differs (sendfile on)")
        self.assert_status_body(self.get("/sf/ten.txt"), 200, TEN)

    def test_slow_reader_sendfile_off_and_on(self):
        """A small receive window makes the writer stop and resume many
        times: with sendfile off the bytes not taken are read again."""
        for prefix in ("/nosf", "/sf"):
            c = Conn(self.port, rcvbuf=4096)
            c.recv_size = 1500
            try:
                c.send(req("GET", f"{prefix}/big.bin") +
                       req("GET", f"{prefix}/ten.txt"))
                r = c.response()
                self.assertTrue(r.body == self.big, f"{prefix}: differs")
                self.assert_status_body(c.response(), 200, TEN)
            finally:
                c.close()

    def test_sendfile_off_memory_is_bounded(self):
        """A 48 MiB file through sendfile off leaves the worker's peak RSS
        where it was: it is read a bounded buffer at a time."""
        def hwm():
            with open(f"/proc/{self.worker}/status") as f:
                return int(re.search(r"VmHWM:\s+(\d+) kB", f.read())[1])
        self.get("/nosf/ten.txt")
        before = hwm()
        c = Conn(self.port)
        try:
            c.send(req("GET", "/nosf/huge.bin", close=True))
            r = c.response()
        finally:
            c.close()
        self.assertEqual(len(r.body), HUGE_SIZE)
        self.assertEqual(r.body.count(0), HUGE_SIZE)
        self.assertLess(hwm() - before, 8 * 1024,
                        "worker memory grew with the file")

    def test_head_then_get_on_one_connection(self):
        c = Conn(self.port)
        try:
            c.send(req("HEAD", "/ten.txt") + req("GET", "/page.html"))
            r = c.response(head=True)
            self.assertEqual(r.status, 200)
            self.assertEqual(r.h("Content-Length"), "10")
            self.assertEqual(r.h("ETag"), ETAG_TEN)
            self.assert_status_body(c.response(), 200, b"<p>page</p>\n")
        finally:
            c.close()

    def test_empty_file(self):
        r = self.get("/empty.txt")
        self.assert_status_body(r, 200, b"")
        self.assertEqual(r.h("Content-Length"), "0")
        self.assertEqual(r.h("ETag"), '"%x-0"' % MTIME)

    def test_content_types(self):
        for path, ctype in (("/page.html", "text/html"),
                            ("/noext", "application/x-default"),
                            ("/big.bin", "application/octet-stream"),
                            ("/img.PNG", "image/png")):
            r = self.get(path, method="HEAD")
            self.assertEqual(r.h("Content-Type"), ctype, path)

    def test_missing_file_404_logged(self):
        mark = self.log_mark()
        r = self.get("/nofile")
        self.assertEqual(r.status, 404)
        self.assertIn(b"<title>404 Not Found</title>", r.body)
        self.inst.wait_log(re.escape(f'[error] ') + r".*" + re.escape(
            f'open() "{self.www}/nofile" failed (2: No such file or '
            f'directory)'), since=mark)
        mark = self.log_mark()
        self.assertEqual(self.get("/ten.txt/x").status, 404)
        self.inst.wait_log(re.escape(f'open() "{self.www}/ten.txt/x" failed '
                                     f'(20: Not a directory)'), since=mark)

    def test_log_not_found_off(self):
        mark = self.log_mark()
        self.assertEqual(self.get("/nolog/nofile").status, 404)
        self.assertEqual(self.get("/ten.txt").status, 200)
        self.assertNotIn("nolog", self.log_since(mark))

    def test_forbidden_file_and_index(self):
        """A directory the worker may not enter: its files give 403 (and
        its index too). Root bypasses permissions: then skipped."""
        uid = proc_uid(self.worker)[1]
        if uid == 0:
            self.skipTest("the worker runs as root: nothing is forbidden")
        locked = f"{self.www}/locked"
        if not os.path.isdir(locked):
            mkdir(locked)
            write(f"{locked}/f.txt", b"secret\n")
            # root's 0700 keeps the worker user out; our own user needs 000
            os.chmod(locked, 0o700 if os.geteuid() != uid else 0o000)
            self.addCleanup(os.chmod, locked, 0o755)
        mark = self.log_mark()
        self.assertEqual(self.get("/locked/f.txt").status, 403)
        self.inst.wait_log(re.escape(f'open() "{locked}/f.txt" failed (13: '
                                     f'Permission denied)'), since=mark)
        mark = self.log_mark()
        self.assertEqual(self.get("/locked/").status, 403)
        self.inst.wait_log(re.escape(f'"{locked}/index.html" is forbidden '
                                     f'(13: Permission denied)'), since=mark)

    def test_directory_redirect_keeps_args(self):
        r = self.get("/dir?a=1&b=%20")
        self.assertEqual(r.status, 301)
        self.assertEqual(r.h("Location"),
                         f"http://localhost:{self.port}/dir/?a=1&b=%20")
        self.assertIn(b"301 Moved Permanently", r.body)
        r = self.get("/dir")
        self.assertEqual(r.h("Location"), f"http://localhost:{self.port}/dir/")

    def test_directory_redirect_escapes_path(self):
        # nginx 1.22 escapes the path (SP " # % < > ? \\ ^ ` { | }), not
        # the args
        r = self.get("/e%20x%25%22%7B%7D?a=%20b")
        self.assertEqual(r.status, 301)
        self.assertEqual(r.h("Location"), f"http://localhost:{self.port}"
                         f"/e%20x%25%22%7B%7D/?a=%20b")

    def test_methods(self):
        self.assertEqual(self.get("/ten.txt", method="POST").status, 405)
        self.assertEqual(self.get("/nothere", method="PUT").status, 405)
        self.assertEqual(self.get("/dir/", method="DELETE").status, 405)
        # nginx tests the file first for POST
        self.assertEqual(self.get("/nothere", method="POST").status, 404)
        self.assertEqual(self.get("/dir", method="POST").status, 301)

    def test_alias_regex_with_captures(self):
        self.assert_status_body(self.get("/re/a.txt"), 200, b"x")
        r = self.get("/re/inner?z=1")
        self.assertEqual(r.status, 301)
        self.assertEqual(r.h("Location"),
                         f"http://localhost:{self.port}/re/inner/?z=1")
        self.assertEqual(self.get("/re/nothing").status, 404)


# ---------------------------------------------------------------- index

class Index(StaticBase):

    def test_default_index(self):
        self.assert_status_body(self.get("/dir/"), 200, b"dir index\n")

    def test_index_list_with_variable(self):
        self.assert_status_body(self.get("/idx/?i=var"), 200, b"var index\n")
        self.assert_status_body(self.get("/idx/"), 200, b"second index\n")
        self.assert_status_body(self.get("/idx/?i=nothere"), 200,
                                b"second index\n")

    def test_absolute_index_keeps_args(self):
        self.assert_status_body(self.get("/idxabs/?q=1"), 200, TEN)

    def test_missing_directory(self):
        mark = self.log_mark()
        self.assertEqual(self.get("/missing/").status, 404)
        self.inst.wait_log(re.escape(f'"{self.www}/missing/index.html" is not '
                                     f'found (2: No such file or directory)'),
                           since=mark)

    def test_no_index_is_forbidden(self):
        mark = self.log_mark()
        self.assertEqual(self.get("/noidx/").status, 403)
        self.inst.wait_log(r"directory index of \".*noidx/\" is forbidden",
                           since=mark)


# ---------------------------------------------------------------- try_files

class TryFiles(StaticBase):

    def test_file_found(self):
        self.assert_status_body(self.get("/tf/a.txt"), 200, b"tf a\n")

    def test_directory_entry(self):
        # "$uri/" finds the directory: the slash-less URI is redirected
        r = self.get("/tf/d")
        self.assertEqual(r.status, 301)
        self.assertEqual(r.h("Location"),
                         f"http://localhost:{self.port}/tf/d/")
        self.assert_status_body(self.get("/tf/d/"), 200, b"tf d index\n")

    def test_uri_fallback_with_args(self):
        mark = self.log_mark()
        self.assert_status_body(self.get("/tf/nothing?x=1"), 200,
                                b"echo uri=/echo args=from=tf\n")
        self.assertNotIn("nothing", self.log_since(mark))

    def test_code_fallback(self):
        mark = self.log_mark()
        self.assertEqual(self.get("/tf404/nothing").status, 404)
        self.assertNotIn("nothing", self.log_since(mark))

    def test_named_fallback(self):
        self.assert_status_body(self.get("/tfnamed/nothing"), 200,
                                b"named /tfnamed/nothing\n")

    def test_alias_prefix(self):
        self.assert_status_body(self.get("/tfalias/a.txt"), 200, b"x")
        self.assertEqual(self.get("/tfalias/nothing").status, 404)

    def test_alias_regex(self):
        self.assert_status_body(self.get("/tfre/a.txt"), 200, b"x")
        self.assertEqual(self.get("/tfre/nothing").status, 410)


# ---------------------------------------------------------------- conditions

class Conditional(StaticBase):

    def test_etag_off(self):
        r = self.get("/noetag/ten.txt")
        self.assertIsNone(r.h("ETag"))
        self.assertEqual(r.h("Last-Modified"), MTIME_HTTP)

    def test_if_none_match_304(self):
        c = Conn(self.port)
        try:
            c.send(req("GET", "/ten.txt", [("If-None-Match", ETAG_TEN)]) +
                   req("GET", "/ten.txt", [("If-None-Match", '"other"')]))
            r = c.response()
            self.assertEqual(r.status, 304)
            self.assertEqual(r.names(), ["Server", "Date", "Last-Modified",
                                         "Connection", "ETag"])
            self.assertEqual(r.h("ETag"), ETAG_TEN)
            self.assert_status_body(c.response(), 200, TEN)
        finally:
            c.close()
        self.assertEqual(self.get("/ten.txt", [("If-None-Match", "*")])
                         .status, 304)
        self.assertEqual(self.get("/ten.txt", [("If-None-Match",
                                                f'"a", W/{ETAG_TEN}')])
                         .status, 304)

    def test_if_modified_since(self):
        later = "Wed, 15 Nov 2023 00:00:00 GMT"
        ims = lambda p, d: self.get(p, [("If-Modified-Since", d)]).status
        self.assertEqual(ims("/ten.txt", MTIME_HTTP), 304)
        self.assertEqual(ims("/ten.txt", later), 200)
        self.assertEqual(ims("/before/ten.txt", later), 304)
        self.assertEqual(ims("/imsoff/ten.txt", MTIME_HTTP), 200)
        # both headers: both must say "not modified"
        r = self.get("/ten.txt", [("If-Modified-Since", MTIME_HTTP),
                                  ("If-None-Match", '"other"')])
        self.assertEqual(r.status, 200)

    def test_if_match_412_closes(self):
        c = Conn(self.port)
        try:
            c.send(req("GET", "/ten.txt", [("If-Match", '"other"')]) +
                   req("GET", "/ten.txt"))
            r = c.response()
            self.assertEqual(r.status, 412)
            self.assertIsNone(r.h("ETag"))
            self.assertIn(b"<title>412 Precondition Failed</title>", r.body)
            self.assertTrue(c.closed(), "nginx closes after the 412")
        finally:
            c.close()
        self.assertEqual(self.get("/ten.txt", [("If-Match", ETAG_TEN)])
                         .status, 200)
        self.assertEqual(self.get("/ten.txt", [("If-Match", "*")]).status,
                         200)

    def test_if_unmodified_since(self):
        ius = lambda d: self.get("/ten.txt", [("If-Unmodified-Since", d)])
        self.assertEqual(ius(MTIME_HTTP).status, 200)
        self.assertEqual(ius("Mon, 13 Nov 2023 00:00:00 GMT").status, 412)


# ---------------------------------------------------------------- ranges

class Ranges(StaticBase):

    def rng(self, path, spec, extra=()):
        return self.get(path, [("Range", spec)] + list(extra))

    def test_single_range(self):
        for path in ("/ten.txt", "/nosf/ten.txt", "/sf/ten.txt"):
            r = self.rng(path, "bytes=2-4")
            self.assert_status_body(r, 206, b"234")
            self.assertEqual(r.h("Content-Range"), "bytes 2-4/10")
            self.assertEqual(r.h("Content-Length"), "3")
            self.assertIsNone(r.h("Accept-Ranges"))
            self.assertEqual(r.h("ETag"), ETAG_TEN)

    def test_suffix_and_open_ranges(self):
        r = self.rng("/ten.txt", "bytes=-3")
        self.assert_status_body(r, 206, b"789")
        self.assertEqual(r.h("Content-Range"), "bytes 7-9/10")
        r = self.rng("/ten.txt", "bytes=8-")
        self.assert_status_body(r, 206, b"89")
        self.assert_status_body(self.rng("/ten.txt", "bytes=0-99"), 206, TEN)

    def test_big_file_ranges(self):
        for path in ("/nosf/big.bin", "/sf/big.bin"):
            r = self.rng(path, "bytes=1000000-2999999")
            self.assertEqual(r.status, 206)
            self.assertTrue(r.body == self.big[1000000:3000000], path)

    def multipart(self, r, parts, ctype, total):
        m = re.fullmatch(r"multipart/byteranges; boundary=(\d{20})",
                         r.h("Content-Type"))
        self.assertIsNotNone(m, r.h("Content-Type"))
        b = m.group(1).encode()
        want = b""
        for start, data in parts:
            want += (b"\r\n--" + b + b"\r\nContent-Type: " + ctype +
                     b"\r\nContent-Range: bytes %d-%d/%d\r\n\r\n"
                     % (start, start + len(data) - 1, total) + data)
        want += b"\r\n--" + b + b"--\r\n"
        self.assertEqual(r.status, 206)
        self.assertEqual(r.h("Content-Length"), str(len(want)))
        self.assertTrue(r.body == want, r.body[:300])

    def test_multiple_ranges(self):
        r = self.rng("/ten.txt", "bytes=0-0,-2")
        self.multipart(r, [(0, b"0"), (8, b"89")], b"text/plain", 10)
        r = self.rng("/nosf/big.bin", "bytes=5-9,3000000-3000099")
        self.multipart(r, [(5, self.big[5:10]),
                           (3000000, self.big[3000000:3000100])],
                       b"application/octet-stream", BIG_SIZE)

    def test_not_satisfiable(self):
        r = self.rng("/ten.txt", "bytes=20-")
        self.assertEqual(r.status, 416)
        self.assertEqual(r.h("Content-Range"), "bytes */10")
        self.assertIsNone(r.h("ETag"))
        self.assertIn(b"416 Requested Range Not Satisfiable", r.body)
        self.assertEqual(self.rng("/ten.txt", "bytes=abc").status, 416)

    def test_ignored_ranges(self):
        for path, spec in (("/ten.txt", "pages=1-2"),
                           ("/onerange/ten.txt", "bytes=0-0,2-3"),
                           ("/ten.txt", "bytes=0-5,3-8")):
            r = self.rng(path, spec)
            self.assert_status_body(r, 200, TEN)
        r = self.rng("/noranges/ten.txt", "bytes=0-1")
        self.assert_status_body(r, 200, TEN)
        self.assertIsNone(r.h("Accept-Ranges"))

    def test_if_range(self):
        r = self.rng("/ten.txt", "bytes=2-4", [("If-Range", ETAG_TEN)])
        self.assert_status_body(r, 206, b"234")
        r = self.rng("/ten.txt", "bytes=2-4", [("If-Range", '"other"')])
        self.assert_status_body(r, 200, TEN)
        r = self.rng("/ten.txt", "bytes=2-4", [("If-Range", MTIME_HTTP)])
        self.assert_status_body(r, 206, b"234")
        r = self.rng("/ten.txt", "bytes=2-4",
                     [("If-Range", "Mon, 13 Nov 2023 00:00:00 GMT")])
        self.assert_status_body(r, 200, TEN)

    def test_head_range(self):
        r = self.get("/ten.txt", [("Range", "bytes=0-1")], method="HEAD")
        self.assertEqual(r.status, 206)
        self.assertEqual(r.h("Content-Range"), "bytes 0-1/10")

    def test_no_ranges_for_return(self):
        r = self.rng("/ret", "bytes=0-1")
        self.assert_status_body(r, 200, b"text\n")
        self.assertIsNone(r.h("Accept-Ranges"))


# ---------------------------------------------------------------- autoindex

class Autoindex(StaticBase):
    """Listings compared with what nginx 1.22 sends for the same tree."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.nginx = None
        if not os.access(NGINX, os.X_OK):
            return
        cls.nprefix = tempfile.mkdtemp(prefix="portico-it-nginx-")
        cls.addClassCleanup(shutil.rmtree, cls.nprefix, True)
        cls.nport = free_port()
        text = NGINX_CONF.replace("@LOCATIONS@", LOCATIONS)
        text = text.replace("@PORT@", str(cls.nport))
        text = text.replace("@PREFIX@", cls.nprefix)
        text = text.replace("@WWW@", cls.www)
        conf = os.path.join(cls.nprefix, "nginx.conf")
        with open(conf, "w") as f:
            f.write(text)
        cls.nginx = subprocess.Popen(
            [NGINX, "-p", cls.nprefix, "-c", conf],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        cls.addClassCleanup(cls.stop_nginx)

        def up():
            if cls.nginx.poll() is not None:
                raise AssertionError("nginx exited")
            socket.create_connection(("127.0.0.1", cls.nport), 1).close()
            return True
        wait_for(up, "nginx to listen")

    @classmethod
    def stop_nginx(cls):
        if cls.nginx.poll() is None:
            cls.nginx.kill()
        cls.nginx.wait(timeout=DEADLINE)

    def fetch(self, port, path, method="GET"):
        c = Conn(port)
        try:
            c.send(req(method, path, close=True))
            return c.response(head=method == "HEAD")
        finally:
            c.close()

    def compare(self, path):
        r = self.fetch(self.port, path)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.h("Transfer-Encoding"), "chunked")
        self.assertIsNone(r.h("Content-Length"))
        if self.nginx is None:
            self.skipTest(f"{NGINX} is not installed")
        n = self.fetch(self.nport, path)
        self.assertEqual(r.h("Content-Type"), n.h("Content-Type"))
        self.assertEqual(r.body, n.body)
        return r

    def test_html(self):
        r = self.compare("/ai/")
        self.assertEqual(r.h("Content-Type"), "text/html")
        self.assertIn(b'<a href="a%20b%26c.html">a b&amp;c.html</a>', r.body)
        self.assertNotIn(b"hidden", r.body)

    def test_html_sizes_and_localtime(self):
        self.compare("/aih/")

    def test_json(self):
        r = self.compare("/aij/")
        self.assertEqual(r.h("Content-Type"), "application/json")
        self.assertIn(b'{ "name":"dangling", "type":"other", ', r.body)

    def test_jsonp(self):
        r = self.compare("/aip/?callback=cb_1.x")
        self.assertEqual(r.h("Content-Type"), "application/javascript")
        self.assertTrue(r.body.startswith(b"/* callback */\r\n"
                                          b"cb_1.x([\r\n"))
        self.compare("/aip/")
        self.assertEqual(self.fetch(self.port, "/aip/?callback=a-b").status,
                         400)

    def test_xml(self):
        r = self.compare("/aix/")
        self.assertEqual(r.h("Content-Type"), "text/xml; charset=utf-8")

    def test_head_and_subdirectory(self):
        r = self.fetch(self.port, "/ai/", method="HEAD")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.h("Content-Type"), "text/html")
        r = self.compare("/ai/inner/")
        self.assertIn(b"<h1>Index of /ai/inner/</h1>", r.body)


if __name__ == "__main__":
    unittest.main()
