"""gzip, gzip_static and gunzip on static files and `return` responses:
every directive, the decompressed body byte for byte (0, 1, 8 KiB, 1 MiB),
the head of a compressed response (Content-Encoding, no Content-Length,
chunked on 1.1, close-delimited on 1.0, weak ETag, Vary), Range and HEAD,
304, $gzip_ratio, a corrupt .gz through gunzip. Heads and statuses are
compared with nginx 1.22 serving the same tree with the same config (the
compressed bytes differ between encoders: bodies are compared
decompressed)."""

import gzip
import os
import random
import re
import shutil
import socket
import subprocess
import tempfile
import time
import unittest
import zlib

from portico_harness import Portico, free_port, wait_for

NGINX = "/usr/sbin/nginx"
HAVE_NGINX = os.access(NGINX, os.X_OK)

MSIE6 = "Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.0)"
MSIE6_SV1 = "Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1; SV1)"

LOCATIONS = """
        location / { }
        location /off/ { alias @WWW@/; gzip off; }
        location /any/ { alias @WWW@/; gzip_types *; }
        location /min/ { alias @WWW@/; gzip_min_length 1000; }
        location /min0/ { alias @WWW@/; gzip_min_length 0; }
        location /v10/ { alias @WWW@/; gzip_http_version 1.0; }
        location /novary/ { alias @WWW@/; gzip_vary off; }
        location /dis/ { alias @WWW@/; gzip_disable msie6 "Bad[Bb]ot"; }
        location /proxany/ { alias @WWW@/; gzip_proxied any; }
        location /proxlm/ { alias @WWW@/; gzip_proxied no_last_modified; }
        location /proxetag/ { alias @WWW@/; gzip_proxied no_etag;
                              etag off; }
        location /proxetag2/ { alias @WWW@/; gzip_proxied no_etag; }
        location /proxauth/ { alias @WWW@/; gzip_proxied auth;
                              add_header Cache-Control "max-age=60"; }
        location /proxauth2/ { alias @WWW@/; gzip_proxied auth; }
        location /proxexp/ { alias @WWW@/; gzip_proxied expired;
                             expires -1; }
        location /proxnc/ { alias @WWW@/; gzip_proxied no-cache;
                            expires epoch; }
        location /proxnc2/ { alias @WWW@/; gzip_proxied no-cache;
                             add_header Cache-Control "no-cache"; }
        location /proxpriv/ { alias @WWW@/; gzip_proxied private;
                              add_header Cache-Control "no-cache"; }
        location /small/ { alias @WWW@/; gzip_buffers 2 1k;
                           gzip_comp_level 9; gzip_window 1k;
                           gzip_hash 1k; }
        location /st/ { alias @WWW@/; gzip_static on; }
        location /sta/ { alias @WWW@/; gzip_static always; }
        location /gun/ { alias @WWW@/; gzip_static always; gunzip on;
                         gunzip_buffers 4 1k; }
        location = /ret { default_type text/plain; return 200 "@RET@"; }
        location = /retshort { default_type text/plain; return 200 "short"; }
        location = /ret403 { return 403; }
        location = /ret404 { return 404; }
        location = /ret500 { return 500; }
        location = /ret302 { return 302 /x; }
"""

CONF = """
daemon off;
worker_processes 1;
error_log @PREFIX@/logs/error.log info;
pid @PREFIX@/logs/server.pid;
events { worker_connections 64; }
http {
    log_format g '$uri $status $gzip_ratio';
    access_log @PREFIX@/logs/gzip.log g;
@NGINX_EXTRA@
    types { text/html html; text/plain txt; application/json json;
            image/png png; }
    default_type application/octet-stream;
    gzip on;
    gzip_types text/plain application/json;
    gzip_vary on;
    server {
        listen 127.0.0.1:@PORT@;
        root @WWW@;
@LOCATIONS@
    }
}
"""

NGINX_EXTRA = """
    client_body_temp_path @PREFIX@/cb;
    proxy_temp_path @PREFIX@/pt;
    fastcgi_temp_path @PREFIX@/ft;
    uwsgi_temp_path @PREFIX@/ut;
    scgi_temp_path @PREFIX@/st;
"""

RET_BODY = "return body, long enough to be compressed: " + "abc " * 40


def text(n, seed=1):
    """Realistic text: HTML rows of words, numbers and dates."""
    rnd = random.Random(seed)
    words = ("portico proxy request response header body server client "
             "cache upstream location module worker connection buffer "
             "stream event gzip deflate encoding the a of and to in").split()
    out, size, i = [], 0, 0
    while size < n:
        line = (f'<tr class="r{i % 2}"><td>{i}</td><td>'
                f'{" ".join(rnd.choice(words) for _ in range(5))}</td>'
                f'<td>{rnd.random() * 1e4:.3f}</td><td>2026-'
                f'{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d}'
                f'</td></tr>\n')
        out.append(line)
        size += len(line)
        i += 1
    return "".join(out).encode()[:n]


def read(path):
    with open(path, "rb") as f:
        return f.read()


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, 0o644)


def build_tree(www):
    os.makedirs(www)
    os.chmod(www, 0o755)
    files = {
        "t0.txt": b"", "t1.txt": b"x", "t8k.txt": text(8192),
        "t1m.txt": text(1 << 20, seed=2), "page.html": text(5000, seed=3),
        "data.json": text(3000, seed=4), "img.png": text(3000, seed=5),
        "t500.txt": text(500, seed=6), "t2k.txt": text(2000, seed=7),
        "pre.html": text(9000, seed=8),
    }
    for name, data in files.items():
        write(os.path.join(www, name), data)
    # gzip_static: a .gz beside pre.html (distinct content to tell it)
    write(os.path.join(www, "pre.html.gz"),
          gzip.compress(b"precompressed " + files["pre.html"], 9, mtime=0))
    # a corrupt one: a valid start, then garbage
    good = gzip.compress(text(200000, seed=9), 6, mtime=0)
    write(os.path.join(www, "bad.html"), b"original")
    write(os.path.join(www, "bad.html.gz"),
          good[:20000] + bytes(range(256)) * 40)
    return files


class Reply:
    def __init__(self, status, headers, body, complete, raw_head):
        self.status = status
        self.headers = headers
        self.body = body            # de-chunked, still encoded
        self.complete = complete    # the framing said the body is whole
        self.head = raw_head

    def all(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def h(self, name):
        v = self.all(name)
        assert len(v) <= 1, f"{len(v)} {name}: {self.head}"
        return v[0] if v else None

    def names(self):
        return sorted({k.lower() for k, _ in self.headers} - {"date",
                                                              "server"})

    def plain(self):
        if self.h("Content-Encoding") == "gzip":
            return gzip.decompress(self.body)
        return self.body


def dechunk(data):
    """(body, complete) of a chunked body read until EOF."""
    body = b""
    while True:
        crlf = data.find(b"\r\n")
        if crlf < 0:
            return body, False
        size = int(data[:crlf].split(b";")[0], 16)
        if size == 0:
            return body, data[crlf + 2:].startswith(b"\r\n")
        if len(data) < crlf + 4 + size:
            return body + data[crlf + 2:crlf + 2 + size], False
        body += data[crlf + 2:crlf + 2 + size]
        data = data[crlf + 4 + size:]


def fetch(port, path, headers=(), method="GET", version="1.1", timeout=20):
    """One request on its own connection (closed by the server or after
    the whole response), the body read to EOF."""
    hdrs = "".join(f"{k}: {v}\r\n" for k, v in headers)
    req = (f"{method} {path} HTTP/{version}\r\nHost: localhost\r\n{hdrs}"
           f"Connection: close\r\n\r\n").encode()
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    data = b""
    try:
        s.sendall(req)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(1 << 20)
            except ConnectionResetError:
                break
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    end = data.find(b"\r\n\r\n")
    assert end > 0, f"no head in {data[:200]!r}"
    lines = data[:end].decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = [tuple(line.split(": ", 1)) for line in lines[1:]]
    rest = data[end + 4:]
    r = Reply(status, headers, b"", True, lines)
    if method == "HEAD" or status in (204, 304):
        r.body = rest
    elif r.h("Transfer-Encoding") == "chunked":
        r.body, r.complete = dechunk(rest)
    elif r.h("Content-Length") is not None:
        n = int(r.h("Content-Length"))
        r.body, r.complete = rest[:n], len(rest) >= n
    else:
        r.body = rest
    return r


class Server:
    """portico or nginx on the shared config, in its own prefix."""

    def __init__(self, binary, www, locations):
        self.prefix = tempfile.mkdtemp(prefix="portico-gzip-")
        os.chmod(self.prefix, 0o755)
        os.mkdir(os.path.join(self.prefix, "logs"))
        os.chmod(os.path.join(self.prefix, "logs"), 0o755)
        self.port = free_port()
        text_ = CONF.replace("@LOCATIONS@", locations).replace(
            "@NGINX_EXTRA@", NGINX_EXTRA if binary == NGINX else "")
        text_ = (text_.replace("@PORT@", str(self.port))
                 .replace("@WWW@", www).replace("@PREFIX@", self.prefix)
                 .replace("@RET@", RET_BODY))
        self.conf = os.path.join(self.prefix, "server.conf")
        with open(self.conf, "w") as f:
            f.write(text_)
        self.proc = subprocess.Popen(
            [binary, "-p", self.prefix, "-c", self.conf],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)

        def up():
            if self.proc.poll() is not None:
                raise AssertionError(f"{binary} exited: {self.log()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), 1).close()
                return True
            except OSError:
                return False
        wait_for(up, f"{binary} to listen", diag=self.log)

    def log(self, name="error.log"):
        try:
            with open(os.path.join(self.prefix, "logs", name),
                      errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        shutil.rmtree(self.prefix, ignore_errors=True)


class GzipBase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.inst = Portico()        # only for its binary path and prefix
        cls.addClassCleanup(cls.inst.cleanup)
        cls.www = cls.inst.path("www")
        cls.files = build_tree(cls.www)
        locs = LOCATIONS.replace("@WWW@", cls.www)
        from portico_harness import BIN
        cls.pt = Server(BIN, cls.www, locs)
        cls.addClassCleanup(cls.pt.stop)
        cls.ng = None
        if HAVE_NGINX:
            cls.ng = Server(NGINX, cls.www, locs)
            cls.addClassCleanup(cls.ng.stop)

    def get(self, path, headers=(), **kw):
        return fetch(self.pt.port, path, headers, **kw)

    def both(self, path, headers=(), **kw):
        """Portico's reply, after checking it against nginx's: status,
        the set of header names, the coding headers' values, and the
        decompressed body."""
        p = fetch(self.pt.port, path, headers, **kw)
        if self.ng is None:
            return p
        n = fetch(self.ng.port, path, headers, **kw)
        where = f"{kw.get('method', 'GET')} {path} {headers}"
        self.assertEqual(p.status, n.status, where)
        self.assertEqual(p.names(), n.names(),
                         f"{where}\nportico {p.head}\nnginx {n.head}")
        for name in ("Content-Encoding", "Vary", "ETag", "Content-Type",
                     "Transfer-Encoding", "Accept-Ranges", "Connection"):
            self.assertEqual(p.h(name), n.h(name), f"{where}: {name}")
        if n.h("Content-Length") is not None and n.h("Content-Encoding") \
                is None and n.status < 300:
            self.assertEqual(p.h("Content-Length"), n.h("Content-Length"))
        self.assertEqual(p.complete, n.complete, where)
        if kw.get("method") != "HEAD" and p.status < 300:
            self.assertEqual(p.plain(), n.plain(), where)
        return p

    def assert_gzipped(self, r, original):
        self.assertEqual(r.status, 200, r.head)
        self.assertEqual(r.h("Content-Encoding"), "gzip", r.head)
        self.assertIsNone(r.h("Content-Length"), r.head)
        self.assertTrue(r.complete, r.head)
        self.assertEqual(gzip.decompress(r.body), original)

    def assert_plain(self, r, original):
        self.assertEqual(r.status, 200, r.head)
        self.assertIsNone(r.h("Content-Encoding"), r.head)
        self.assertEqual(r.body, original)


AE = (("Accept-Encoding", "gzip"),)


class Compress(GzipBase):
    def test_sizes_round_trip(self):
        for name in ("t8k.txt", "t1m.txt"):
            r = self.both("/" + name, AE)
            self.assert_gzipped(r, self.files[name])
            self.assertEqual(r.h("Transfer-Encoding"), "chunked")
            self.assertEqual(r.h("Vary"), "Accept-Encoding")
            self.assertTrue(r.h("ETag").startswith('W/"'), r.head)
            self.assertIsNone(r.h("Accept-Ranges"))
        for name in ("t0.txt", "t1.txt"):
            # below gzip_min_length 20: as they are
            self.assert_plain(self.both("/" + name, AE), self.files[name])
            self.assert_gzipped(self.both("/min0/" + name, AE),
                                self.files[name])

    @unittest.skipUnless(HAVE_NGINX, "nginx is not installed")
    def test_no_larger_than_nginx(self):
        # the floor, on every text here: libdeflate (whole
        # bodies) and zlib (streamed) alike
        for path in ("/t8k.txt", "/page.html", "/data.json", "/t2k.txt",
                     "/t500.txt", "/t1m.txt", "/ret"):
            p = fetch(self.pt.port, path, AE)
            n = fetch(self.ng.port, path, AE)
            self.assertEqual(n.h("Content-Encoding"), "gzip", path)
            self.assertLessEqual(len(p.body), len(n.body), path)

    def test_small_buffers_and_window_stream_whole(self):
        # 2 x 1k output buffers: the 1 MiB body leaves in many rounds
        r = self.both("/small/t1m.txt", AE)
        self.assert_gzipped(r, self.files["t1m.txt"])

    def test_http10_close_delimited(self):
        r = self.both("/v10/t8k.txt", AE, version="1.0")
        self.assertIsNone(r.h("Transfer-Encoding"))
        self.assertEqual(r.h("Connection"), "close")
        self.assert_gzipped(r, self.files["t8k.txt"])
        # gzip_http_version 1.1 (default): a 1.0 client gets it plain,
        # with Vary all the same
        r = self.both("/t8k.txt", AE, version="1.0")
        self.assert_plain(r, self.files["t8k.txt"])
        self.assertEqual(r.h("Vary"), "Accept-Encoding")

    def test_negotiation(self):
        body = self.files["t8k.txt"]
        for ae in ("gzip", "deflate, gzip, br", "gzip;q=0.5", "x-gzip",
                   "GZIP"):
            self.assert_gzipped(self.get("/t8k.txt", [("Accept-Encoding",
                                                       ae)]), body)
        for ae in ("gzip;q=0", "deflate", "identity", "br;q=1",
                   "gzip;q=0.000"):
            r = self.get("/t8k.txt", [("Accept-Encoding", ae)])
            self.assert_plain(r, body)
            self.assertEqual(r.h("Vary"), "Accept-Encoding", ae)
        # "*" takes gzip (RFC 9110; nginx 1.22 only looks for "gzip")
        self.assert_gzipped(self.get("/t8k.txt", [("Accept-Encoding",
                                                   "*")]), body)
        self.assert_gzipped(self.both("/t8k.txt", [("Accept-Encoding",
                                                    "gzip;q=0.5")]), body)
        self.assert_plain(self.both("/t8k.txt", [("Accept-Encoding",
                                                  "gzip;q=0")]), body)
        self.assert_plain(self.both("/t8k.txt"), body)

    def test_types(self):
        self.assert_gzipped(self.both("/page.html", AE),
                            self.files["page.html"])   # text/html always
        self.assert_gzipped(self.both("/data.json", AE),
                            self.files["data.json"])
        r = self.both("/img.png", AE)
        self.assert_plain(r, self.files["img.png"])
        self.assertIsNone(r.h("Vary"))     # gzip would not apply at all
        self.assert_gzipped(self.both("/any/img.png", AE),
                            self.files["img.png"])
        self.assert_plain(self.both("/off/t8k.txt", AE), self.files["t8k.txt"])

    def test_min_length(self):
        self.assert_plain(self.both("/min/t500.txt", AE),
                          self.files["t500.txt"])
        self.assert_gzipped(self.both("/min/t2k.txt", AE),
                            self.files["t2k.txt"])
        self.assert_plain(self.both("/retshort", AE), b"short")

    def test_return_and_statuses(self):
        self.assert_gzipped(self.both("/ret", AE), RET_BODY.encode())
        for path, status in (("/ret403", 403), ("/ret404", 404),
                             ("/nothere.txt", 404)):
            r = self.both(path, AE)
            self.assertEqual(r.status, status)
            self.assertEqual(r.h("Content-Encoding"), "gzip", path)
            self.assertIn(b"<html>", gzip.decompress(r.body))
        for path, status in (("/ret500", 500), ("/ret302", 302)):
            r = self.both(path, AE)
            self.assertEqual(r.status, status)
            self.assertIsNone(r.h("Content-Encoding"), path)

    def test_vary(self):
        r = self.both("/novary/t8k.txt", AE)
        self.assertIsNone(r.h("Vary"))
        self.assert_gzipped(r, self.files["t8k.txt"])
        r = self.both("/novary/t8k.txt")
        self.assertIsNone(r.h("Vary"))

    def test_range_gets_whole_200(self):
        r = self.both("/t8k.txt", AE + (("Range", "bytes=0-99"),))
        self.assert_gzipped(r, self.files["t8k.txt"])
        self.assertIsNone(r.h("Content-Range"))
        # without gzip the range applies
        r = self.both("/t8k.txt", (("Range", "bytes=0-99"),))
        self.assertEqual((r.status, r.body), (206, self.files["t8k.txt"][:100]))

    def test_head(self):
        r = self.both("/t8k.txt", AE, method="HEAD")
        self.assertEqual(r.h("Content-Encoding"), "gzip")
        self.assertIsNone(r.h("Content-Length"))
        self.assertEqual(r.body, b"")

    def test_304_unaffected(self):
        lm = self.get("/t8k.txt").h("Last-Modified")
        r = self.both("/t8k.txt", AE + (("If-Modified-Since", lm),))
        self.assertEqual(r.status, 304)
        self.assertIsNone(r.h("Content-Encoding"))
        etag = self.get("/t8k.txt").h("ETag")
        r = self.both("/t8k.txt", AE + (("If-None-Match", etag),))
        self.assertEqual(r.status, 304)
        # the weak ETag of the compressed response matches too (weak
        # comparison for If-None-Match)
        r = self.both("/t8k.txt", AE + (("If-None-Match", "W/" + etag),))
        self.assertEqual(r.status, 304)

    def test_disable(self):
        body = self.files["t8k.txt"]
        for ua in (MSIE6, "Mozilla/4.0 (compatible; MSIE 5.5; Windows)",
                   "BadBot/1.0", "xBadbotx"):
            r = self.both("/dis/t8k.txt", AE + (("User-Agent", ua),))
            self.assert_plain(r, body)
            self.assertEqual(r.h("Vary"), "Accept-Encoding")
        for ua in (MSIE6_SV1, "Mozilla/5.0", "GoodBot"):
            self.assert_gzipped(self.both("/dis/t8k.txt",
                                          AE + (("User-Agent", ua),)), body)
        # the default disables nothing
        self.assert_gzipped(self.both("/t8k.txt", AE + (("User-Agent",
                                                         MSIE6),)), body)

    def test_proxied(self):
        body = self.files["t8k.txt"]
        via = AE + (("Via", "1.1 cache"),)
        self.assert_plain(self.both("/t8k.txt", via), body)    # off
        self.assert_gzipped(self.both("/proxany/t8k.txt", via), body)
        # nginx counts an origin's Last-Modified line, not a static
        # file's mtime; a static file's ETag is a line
        self.assert_gzipped(self.both("/proxlm/t8k.txt", via), body)
        self.assert_gzipped(self.both("/proxetag/t8k.txt", via), body)
        self.assert_plain(self.both("/proxetag2/t8k.txt", via), body)
        self.assert_plain(self.both("/proxauth/t8k.txt", via), body)
        # nginx compresses when no rule refuses: no Expires, no
        # Cache-Control, and neither no_last_modified nor no_etag
        self.assert_gzipped(self.both("/proxauth2/t8k.txt", via), body)
        self.assert_gzipped(self.both(
            "/proxauth/t8k.txt", via + (("Authorization", "Basic eDp5"),)),
            body)
        # expires -1: Expires before Date
        self.assert_gzipped(self.both("/proxexp/t8k.txt", via), body)
        # expires epoch: Expires in the past too, but only no-cache given
        self.assert_plain(self.both("/proxnc/t8k.txt", via), body)
        self.assert_gzipped(self.both("/proxnc2/t8k.txt", via), body)
        self.assert_plain(self.both("/proxpriv/t8k.txt", via), body)
        # without Via gzip_proxied plays no part
        self.assert_gzipped(self.both("/proxlm/t8k.txt", AE), body)

    def test_gzip_ratio_logged(self):
        self.get("/t1m.txt", AE)
        self.get("/img.png", AE)
        log = wait_for(lambda: (lambda s: s if "/img.png" in s else None)(
            self.pt.log("gzip.log")), "the access log lines")
        m = re.search(r"^/t1m.txt 200 (\d+)\.(\d\d)$", log, re.M)
        self.assertIsNotNone(m, log)
        self.assertGreater(int(m.group(1)), 1)
        self.assertRegex(log, r"(?m)^/img.png 200 -$")


class Static(GzipBase):
    def test_gzip_static_on(self):
        gz = read(os.path.join(self.www, "pre.html.gz"))
        r = self.both("/st/pre.html", AE)
        self.assertEqual((r.status, r.body), (200, gz))
        self.assertEqual(r.h("Content-Encoding"), "gzip")
        self.assertEqual(r.h("Content-Length"), str(len(gz)))
        self.assertEqual(r.h("Content-Type"), "text/html")
        self.assertEqual(r.h("Vary"), "Accept-Encoding")
        st = os.stat(os.path.join(self.www, "pre.html.gz"))
        self.assertEqual(r.h("ETag"), '"%x-%x"' % (int(st.st_mtime),
                                                    st.st_size))
        # no gzip from the client: the original, with Vary
        r = self.both("/st/pre.html")
        self.assert_plain(r, self.files["pre.html"])
        self.assertEqual(r.h("Vary"), "Accept-Encoding")
        # no .gz: compressed on the fly (gzip on)
        self.assert_gzipped(self.both("/st/page.html", AE),
                            self.files["page.html"])
        r = self.both("/st/pre.html", AE, method="HEAD")
        self.assertEqual(r.h("Content-Length"), str(len(gz)))

    def test_gzip_static_always(self):
        gz = read(os.path.join(self.www, "pre.html.gz"))
        for hdrs in ((), AE, (("Accept-Encoding", "identity"),)):
            r = self.both("/sta/pre.html", hdrs)
            self.assertEqual((r.status, r.body), (200, gz))
            self.assertEqual(r.h("Content-Encoding"), "gzip")
            self.assertIsNone(r.h("Vary"))
        self.assert_plain(self.both("/sta/t8k.txt"), self.files["t8k.txt"])

    def test_gunzip(self):
        r = self.both("/gun/pre.html")
        self.assertIsNone(r.h("Content-Encoding"))
        self.assertEqual(r.h("Transfer-Encoding"), "chunked")
        self.assertTrue(r.complete)
        self.assertEqual(r.body, b"precompressed " + self.files["pre.html"])
        self.assertEqual(r.h("Vary"), "Accept-Encoding")
        self.assertTrue(r.h("ETag").startswith("W/"), r.head)
        # a client taking gzip gets the .gz as it is
        gz = read(os.path.join(self.www, "pre.html.gz"))
        r = self.both("/gun/pre.html", AE)
        self.assertEqual(r.body, gz)

    def test_gunzip_corrupt(self):
        mark = len(self.pt.log())
        r = self.get("/gun/bad.html")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.h("Transfer-Encoding"), "chunked")
        self.assertFalse(r.complete, "a corrupt body must not end cleanly")
        good = text(200000, seed=9)
        self.assertTrue(good.startswith(r.body[:1000]))
        wait_for(lambda: re.search(r"\[error\].*gunzip: (corrupt gzip stream|unexpected end)",
                                   self.pt.log()[mark:]),
                 "the gunzip error line", diag=self.pt.log)
        # the worker goes on: another request on another connection
        self.assert_gzipped(self.get("/t8k.txt", AE), self.files["t8k.txt"])
        if self.ng is not None:
            n = fetch(self.ng.port, "/gun/bad.html")
            self.assertFalse(n.complete)


class ConfigErrors(unittest.TestCase):
    CASES = [
        ("gzip_comp_level 10;", "value must be between 1 and 9"),
        ("gzip_comp_level 0;", "value must be between 1 and 9"),
        ("gzip_window 3k;", '"gzip_window" directive must be 512, 1k, 2k, '
                            '4k, 8k, 16k, or 32k'),
        ("gzip_hash 256;", '"gzip_hash" directive must be 512, 1k, 2k, 4k, '
                           '8k, 16k, 32k, 64k, or 128k'),
        ("gzip_buffers 0 4k;", '"gzip_buffers" directive invalid value'),
        ("gunzip_buffers 1 x;", '"gunzip_buffers" directive invalid value'),
        ("gzip_http_version 2.0;", 'invalid value "2.0"'),
        ("gzip_proxied foo;", 'invalid value "foo"'),
        ("gzip_static foo;", 'invalid value "foo"'),
        ("gzip_min_length -1;", '"gzip_min_length" directive invalid value'),
        ("gzip maybe;", 'invalid value "maybe" in "gzip" directive, it must '
                        'be "on" or "off"'),
        ('gzip_disable "(";', 'pcre2_compile() failed: missing closing '
                              'parenthesis in "("'),
    ]

    def test_errors_as_nginx(self):
        from portico_harness import BIN
        d = tempfile.mkdtemp(prefix="portico-gzip-conf-")
        self.addCleanup(shutil.rmtree, d, True)
        os.mkdir(os.path.join(d, "logs"))
        for directive, msg in self.CASES:
            path = os.path.join(d, "t.conf")
            with open(path, "w") as f:
                f.write("events {}\nhttp {\n    %s\n}\n" % directive)
            for binary in [BIN] + ([NGINX] if HAVE_NGINX else []):
                p = subprocess.run([binary, "-t", "-p", d, "-c", path],
                                   capture_output=True, text=True, timeout=30)
                self.assertNotEqual(p.returncode, 0, directive)
                self.assertRegex(p.stderr, r"(\] |: )" + re.escape(
                                 f"{msg} in {path}:3"),
                              f"{binary}: {directive}")

    def test_accepted(self):
        from portico_harness import BIN
        d = tempfile.mkdtemp(prefix="portico-gzip-conf-")
        self.addCleanup(shutil.rmtree, d, True)
        os.mkdir(os.path.join(d, "logs"))
        path = os.path.join(d, "t.conf")
        with open(path, "w") as f:
            f.write("events {}\nhttp {\n gzip on; gzip_window 32k; "
                    "gzip_hash 128k; gzip_buffers 16 8k; gzip_comp_level 9;"
                    " gzip_proxied off any; gzip_types * text/css;"
                    " gzip_disable msie6; gunzip on; gunzip_buffers 8 4k;"
                    " gzip_static always; gzip_http_version 1.0;\n}\n")
        p = subprocess.run([BIN, "-t", "-p", d, "-c", path],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)


if __name__ == "__main__":
    unittest.main()


SLOW = os.environ.get("PORTICO_SLOW") == "1"


def sanitized():
    from portico_harness import BIN
    out = subprocess.run([BIN, "-V"], capture_output=True, text=True).stderr
    return "--with-sanitizers" in out


def rss(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for {pid}")


def big_file(path, mib):
    """`mib` MiB of text: a 1 MiB block of generated text, repeated (the
    32 KiB window never sees the repeat: it compresses as text does)."""
    block = text(1 << 20, seed=11)
    with open(path, "wb") as f:
        for _ in range(mib):
            f.write(block)
    os.chmod(path, 0o644)
    return block


@unittest.skipUnless(SLOW, "slow test: run with make test-slow")
class Huge(unittest.TestCase):
    """A 100 MiB body round trip, and a 1 GiB one read slowly while the
    worker's RSS is watched: gzip streams in its buffers whatever the
    size."""

    def setUp(self):
        from portico_harness import BIN, children, alive
        self.prefix = tempfile.mkdtemp(prefix="portico-gzip-slow-")
        os.chmod(self.prefix, 0o755)
        self.addCleanup(shutil.rmtree, self.prefix, True)
        self.www = os.path.join(self.prefix, "www")
        os.mkdir(self.www)
        os.chmod(self.www, 0o755)
        self.port = free_port()
        conf = os.path.join(self.prefix, "p.conf")
        with open(conf, "w") as f:
            f.write(f"""
daemon off;
worker_processes 1;
error_log {self.prefix}/error.log info;
pid {self.prefix}/p.pid;
events {{ worker_connections 64; }}
http {{
    access_log off;
    types {{ text/plain txt; }}
    gzip on;
    gzip_types text/plain;
    server {{ listen 127.0.0.1:{self.port}; root {self.www}; }}
}}
""")
        self.proc = subprocess.Popen([BIN, "-p", self.prefix + "/", "-c",
                                      conf], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        self.addCleanup(lambda: (self.proc.poll() is None
                                 and self.proc.kill(), self.proc.wait()))
        self.worker = wait_for(
            lambda: (lambda ws: ws[0] if len(ws) == 1 else None)(
                [c for c in children(self.proc.pid) if alive(c)]),
            "one worker")
        wait_for(lambda: socket.create_connection(
            ("127.0.0.1", self.port), timeout=1).close() or True,
            "the port to accept")

    def stream(self, path, on_progress=None, rcvbuf=None):
        """GET path with gzip; decompress as it comes: (sha256 of the
        decoded body, its length, whether the chunked body ended)."""
        import hashlib
        s = socket.socket()
        if rcvbuf:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        s.settimeout(60)
        s.connect(("127.0.0.1", self.port))
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip"
                  f"\r\nConnection: close\r\n\r\n".encode())
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = s.recv(65536)
            self.assertTrue(chunk, "closed before the head")
            buf += chunk
        head, _, buf = buf.partition(b"\r\n\r\n")
        self.assertIn(b"Content-Encoding: gzip", head)
        self.assertIn(b"Transfer-Encoding: chunked", head)
        d = zlib.decompressobj(16 + 15)
        h = hashlib.sha256()
        total, ended, n = 0, False, 0
        while True:
            # de-chunk what is whole in buf
            while True:
                crlf = buf.find(b"\r\n")
                if crlf < 0:
                    break
                size = int(buf[:crlf], 16)
                if size == 0:
                    ended = True
                    break
                if len(buf) < crlf + 4 + size:
                    break
                out = d.decompress(buf[crlf + 2:crlf + 2 + size])
                h.update(out)
                total += len(out)
                buf = buf[crlf + 4 + size:]
            if ended:
                break
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
            n += 1
            if on_progress and n % 64 == 0:
                on_progress()
        s.close()
        return h.hexdigest(), total, ended

    def expected(self, block, mib):
        import hashlib
        h = hashlib.sha256()
        for _ in range(mib):
            h.update(block)
        return h.hexdigest()

    def test_100mib_round_trip(self):
        block = big_file(os.path.join(self.www, "100m.txt"), 100)
        digest, total, ended = self.stream("/100m.txt")
        self.assertTrue(ended)
        self.assertEqual(total, 100 << 20)
        self.assertEqual(digest, self.expected(block, 100))

    def test_1gib_rss_bounded(self):
        block = big_file(os.path.join(self.www, "1g.txt"), 1024)
        base = rss(self.worker)
        peak = [base]

        def sample():
            peak[0] = max(peak[0], rss(self.worker))
        digest, total, ended = self.stream("/1g.txt", sample, rcvbuf=65536)
        self.assertTrue(ended)
        self.assertEqual(total, 1 << 30)
        self.assertEqual(digest, self.expected(block, 1024))
        grew = peak[0] - base
        print(f"\ngzip of 1 GiB: worker RSS {base // 1024} KiB before, "
              f"peak {peak[0] // 1024} KiB (+{grew // 1024} KiB)")
        if not sanitized():
            # buffers (128 KiB), zlib (256 KiB), the file read buffer and
            # the request pool's per-write descriptors
            self.assertLess(grew, 32 << 20)
