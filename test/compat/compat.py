#!/usr/bin/env python3
"""Portico's differential compatibility suite: every case in cases/ (an
nginx.conf, NAME.conf, and its requests, NAME.requests) is served by the
real nginx and then by Portico, from the same configuration text, on the
same 127.0.0.1 ports, with the same document root; each request goes over
a raw socket to both, and the answers are compared: the status line,
every header but Date (as a multiset: names case-insensitive, the order of
repeated names kept) and the body (a gzip-encoded body decompressed: the
encoders' bytes differ, their content may not). Normalised first: the Server value and
the product name in built-in pages (README Differences #6; with the
Content-Length they change, for HEAD too, through the same request made
with GET), multipart boundaries, and an Expires that is relative to now
(compared as its distance to Date). ETag and Last-Modified are compared as
they are: both servers serve the very same files, whose fixed mtimes make
nginx's "mtime-size" ETags and Portico's equal. A difference must be
listed in differences.txt with its README item, or it fails; so does a
listed difference that no longer occurs.

Each server runs as `BINARY -p PREFIX -c CONF -g "daemon off; master_process
on; pid ...; error_log ...;"` (plus "user nobody nogroup;" as root) in one
world-readable temporary prefix holding the document root (html/, built
by build_tree, every mtime 1700000000) and the configurations; a case's
@PORT@, @PORT2@ ... are free ports (the same for both servers), @HTML@ the
document root, @PREFIX@ the prefix. Servers are stopped by their pid.

Proxy cases: @ORIGIN@ is the port of echo_origin.py, a tiny origin this
script starts (one per run, for both servers) whose answer body is the
request it received, byte for byte; @DEAD@ a port nothing listens on. A
case whose .conf has the line "# compat: pending" is skipped for Portico
(reported, not failed) while `portico -t` rejects its configuration; nginx
still serves it and every request must get an answer from nginx (and the
status of `expect=`). Once Portico accepts the file the case is compared
like any other, with no change here; deleting the line makes a rejection
fail.

    python3 test/compat/compat.py [-v] [-k CASE[/REQUEST]] [--show]

-v prints every request's verdict, --show every answer of the selected
requests. Environment: PORTICO_BIN (default objs/portico), PT_NGINX
(default /usr/sbin/nginx). Python 3 standard library only.

The .requests format: a block per request, opened by "=== NAME [OPTIONS]".
Lines starting with "#" are comments everywhere. In the default mode the
block is a request head, one header per line (joined with CRLF): the first
line "METHOD TARGET [VERSION]" (HTTP/1.1 when left out), "Host: localhost"
added when an HTTP/1.1 request has no Host line, the head ended by a blank
line; the lines after it are the body, concatenated as they are (a
Content-Length is added when the body is not empty and neither
Content-Length nor Transfer-Encoding is given). Every line is unescaped:
\\r \\n \\t \\0 \\s (space) \\xHH \\\\, and {{TEXT*N}} repeats TEXT N times.
Options:
  raw      the block's lines are concatenated as they are (after
           unescaping), nothing added: write every CR and LF yourself
  nohost   no Host line added
  probe    a second request (GET /probe, Connection: close) follows in the
           same write, and every answer up to the server's close is read
  shut     the client half-closes (SHUT_WR) after sending
  timeout=S  the bound of the whole exchange (default 3 s)
  port=N   send it to the case's Nth port (@PORTN@; default the first)
  heads=N,M  the Nth, Mth final answers are to HEAD requests (pipelines;
           the first is when the request starts with HEAD)
  expect=N nginx's first answer must have status N (a check of the case
           itself, made whether Portico runs it or not)
  tls[=V]  speak TLS on that port (V: 1.2 or 1.3 pins the version; no
           certificate check); the first answer gets a pseudo header
           "X-Compat-TLS: VERSION cert=NAME" (the name of the test
           certificate the server presented), compared like the others
  sni=NAME send NAME as the TLS server name (implies tls; without it no
           server name is sent); neither goes with shut

TLS cases: @CERT@/@KEY@ (ECDSA P-256, "a.test"; SANs a.test, localhost,
127.0.0.1) and @CERT2@/@KEY2@ (ECDSA P-256, "b.test") are made at run time
with the openssl CLI by test/integration/tls_certs.py, from one test CA,
into the prefix, only when a case uses them.
"""

import argparse
import calendar
import email.utils
import gzip
import hashlib
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import zlib

import echo_origin

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "integration"))
import tls_certs  # noqa: E402  (test/integration/tls_certs.py)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CASES = os.path.join(HERE, "cases")
DIFFERENCES = os.path.join(HERE, "differences.txt")
README = os.path.join(ROOT, "README.md")
NGINX = os.environ.get("PT_NGINX", "/usr/sbin/nginx")
PORTICO = os.path.abspath(os.environ.get(
    "PORTICO_BIN", os.path.join(ROOT, "objs", "portico")))

MTIME = 1700000000            # every file and directory: 14 Nov 2023 22:13:20
START_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0
PROBE = b"GET /probe HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
PENDING = "# compat: pending"


# ---------------------------------------------------------------- cases

class Request:
    def __init__(self, case, name, data, opts):
        self.case = case
        self.name = name
        self.id = f"{case}/{name}"
        self.data = data
        self.probe = "probe" in opts
        self.shut = "shut" in opts
        self.timeout = float(opts.get("timeout", 3))
        self.port = int(opts.get("port", 1))
        self.expect = int(opts["expect"]) if "expect" in opts else None
        self.sni = opts.get("sni") or None
        self.tls = "tls" in opts or self.sni is not None
        self.tls_version = opts.get("tls") or None
        if self.tls_version not in (None, "1.2", "1.3"):
            raise ValueError(f"{self.id}: tls= takes 1.2 or 1.3")
        if self.tls and self.shut:
            # a half-close would end the TLS layer, not just the writing
            raise ValueError(f"{self.id}: shut does not go with tls")
        if self.probe:
            self.data += PROBE
        # the final answers (1, 2, ...) that answer a HEAD request
        self.heads = {int(n) for n in opts.get("heads", "").split(",") if n}
        if data.startswith(b"HEAD "):
            self.heads.add(1)
        self.head = 1 in self.heads

    def as_get(self):
        """The same request with GET for HEAD."""
        r = Request.__new__(Request)
        r.__dict__.update(self.__dict__)
        r.data = b"GET " + self.data[5:]
        r.head = False
        r.heads = set()
        return r


class Case:
    def __init__(self, name, conf, requests):
        self.name = name
        self.conf = conf
        self.requests = requests
        self.pending = any(ln.strip() == PENDING for ln in conf.split("\n"))
        n = 1
        while f"@PORT{n + 1}@" in conf:
            n += 1
        self.nports = n


ESC_RE = re.compile(r"\{\{(.*?)\*(\d+)\}\}|\\(x[0-9A-Fa-f]{2}|.)")
ESCAPES = {"r": "\r", "n": "\n", "t": "\t", "0": "\0", "s": " ",
           "\\": "\\"}


def unescape(line, where):
    def sub(m):
        if m.group(1) is not None:
            return m.group(1) * int(m.group(2))
        e = m.group(3)
        if e[0] == "x" and len(e) == 3:
            return chr(int(e[1:], 16))
        if e in ESCAPES:
            return ESCAPES[e]
        raise ValueError(f"{where}: unknown escape \\{e}")
    return ESC_RE.sub(sub, line).encode("latin-1")


def build_request(lines, opts, where):
    if "raw" in opts:
        return b"".join(unescape(ln, where) for ln in lines)
    while lines and lines[0] == "":
        lines = lines[1:]
    if not lines:
        raise ValueError(f"{where}: empty request")
    try:
        blank = lines.index("")
    except ValueError:
        blank = len(lines)
    head = [unescape(ln, where) for ln in lines[:blank]]
    body = b"".join(unescape(ln, where) for ln in lines[blank + 1:])
    first = head[0].split(b" ")
    if len(first) == 2:
        head[0] += b" HTTP/1.1"
    names = [h.split(b":", 1)[0].strip().lower() for h in head[1:]]
    if (b"host" not in names and "nohost" not in opts
            and head[0].endswith(b"HTTP/1.1")):
        head.insert(1, b"Host: localhost")
    if (body and b"content-length" not in names
            and b"transfer-encoding" not in names):
        head.append(b"Content-Length: %d" % len(body))
    return b"".join(h + b"\r\n" for h in head) + b"\r\n" + body


def parse_requests(text, case, path):
    out = []
    cur = None

    def close():
        if cur is None:
            return
        name, opts, lines, lineno = cur
        while lines and lines[-1] == "":
            lines.pop()
        where = f"{path}:{lineno}"
        out.append(Request(case, name, build_request(lines, opts, where),
                           opts))

    for lineno, line in enumerate(text.split("\n"), 1):
        if line.startswith("#"):
            continue
        if line.startswith("==="):
            close()
            words = line[3:].split()
            if not words:
                raise ValueError(f"{path}:{lineno}: a request needs a name")
            opts = {}
            for w in words[1:]:
                k, _, v = w.partition("=")
                opts[k] = v
            bad = set(opts) - {"raw", "nohost", "probe", "shut", "timeout",
                               "port", "heads", "expect", "tls", "sni"}
            if bad:
                raise ValueError(f"{path}:{lineno}: unknown option {bad}")
            cur = (words[0], opts, [], lineno)
            continue
        if cur is None:
            if line.strip():
                raise ValueError(f"{path}:{lineno}: text before the first "
                                 f"request")
            continue
        cur[2].append(line)
    close()
    names = [r.name for r in out]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise ValueError(f"{path}: duplicate request names {sorted(dup)}")
    return out


def load_cases(directory=None):
    directory = directory or CASES
    cases = []
    for fn in sorted(os.listdir(directory)):
        if not fn.endswith(".conf"):
            continue
        name = fn[:-5]
        with open(os.path.join(directory, fn)) as f:
            conf = f.read()
        rpath = os.path.join(directory, name + ".requests")
        with open(rpath, encoding="utf-8") as f:
            reqs = parse_requests(f.read(), name, rpath)
        cases.append(Case(name, conf, reqs))
    return cases


# ---------------------------------------------------------------- the tree

# Text for the gzip cases: deterministic, compressible, not repetitive.
GZ_TEXT = b"".join(b"<p>line %d: the %s fox jumps over %d lazy dogs</p>\n"
                   % (i, (b"quick", b"brown", b"red", b"slow")[i * 7 % 4],
                      i * i % 97) for i in range(300))


def tree_files():
    """The document root: path -> bytes (a path ending in / is a
    directory)."""
    digits = b"".join(b"%04d " % i for i in range(200))  # 1000 bytes
    f = {
        "index.html": b"<html><body>home</body></html>\n",
        "a.txt": b"alpha\n",
        "ten.txt": b"0123456789",
        "r.txt": digits,
        "empty.txt": b"",
        "page.html": b"<html><body>page</body></html>\n",
        "page.htm": b"<p>htm</p>\n",
        "style.css": b"body { color: red; }\n",
        "app.js": b"console.log(1);\n",
        "data.json": b'{"a": 1}\n',
        "pic.png": b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR",
        "noext": b"no extension\n",
        "file.weird": b"unknown type\n",
        "UPPER.TXT": b"upper\n",
        "sp ace.txt": b"space\n",
        "pct%41.txt": b"percent\n",
        "secret.txt": b"secret\n",
        "fallback.html": b"<p>fallback</p>\n",
        "dir/index.html": b"<p>dir index</p>\n",
        "dir/x.txt": b"dir x\n",
        "dir/sub/deep.txt": b"deep\n",
        "second/second.htm": b"<p>second index</p>\n",
        "second/other.txt": b"other\n",
        "list/a.txt": b"a\n",
        "list/B.txt": b"B\n",
        "list/z z.txt": b"zz\n",
        "list/amp&lt<>\".txt": b"amp\n",
        "list/\xc3\xbcml.txt".encode("latin-1").decode("utf-8"): b"uml\n",
        "list/" + "long" * 20 + ".txt": b"long\n",
        "list/big.bin": b"\0" * 123456,
        "list/sub/": None,
        "list/.hidden": b"hidden\n",
        "err/404.html": b"<p>custom 404</p>\n",
        "err/50x.html": b"<p>custom 50x</p>\n",
        "err/403.html": b"<p>custom 403</p>\n",
        "alt/a.txt": b"alt alpha\n",
        "alt/index.html": b"<p>alt index</p>\n",
        "alt/deep/b.txt": b"alt deep b\n",
        "closed/x.txt": b"closed\n",
        "img/logo.png": b"\x89PNGlogo",
        "img/photo.JPG": b"\xff\xd8jpeg",
        "static/app.css": b"a{}\n",
        "api/v1": b"api file\n",
        "x.php": b"<?php echo 1; ?>\n",
        "docs/guide.txt": b"guide\n",
        "docs/index.htm": b"<p>docs</p>\n",
        "gz/page.html": GZ_TEXT,
        "gz/page.txt": GZ_TEXT,
        "gz/data.json": GZ_TEXT[:3000],
        "gz/pic.png": GZ_TEXT[:2000],
        "gz/tiny.txt": b"tiny text\n",
        "gz/pre.html": GZ_TEXT[:4000],
        "gz/pre.html.gz": gzip.compress(b"pre " + GZ_TEXT[:4000], 9,
                                        mtime=0),
    }
    return f


def build_tree(html):
    files = tree_files()
    os.makedirs(html)
    for rel, data in files.items():
        p = os.path.join(html, rel)
        if data is None:
            os.makedirs(p, exist_ok=True)
            continue
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(data)
    os.chmod(os.path.join(html, "secret.txt"), 0)
    for dirpath, dirnames, filenames in os.walk(html, topdown=False):
        for n in filenames + dirnames:
            os.utime(os.path.join(dirpath, n), (MTIME, MTIME))
    os.utime(html, (MTIME, MTIME))
    # after the walk (a closed directory cannot be walked into)
    os.chmod(os.path.join(html, "closed"), 0)


# ---------------------------------------------------------------- servers

def free_ports(n):
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def children_of(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


class Server:
    """One master (nginx or Portico) started in the foreground on `conf`;
    stopped by its pid."""

    def __init__(self, binary, kind, prefix, conf_path, ports):
        self.kind = kind
        self.ports = ports
        self.log = os.path.join(prefix, "logs", f"{kind}-error.log")
        self.out = os.path.join(prefix, "logs", f"{kind}-stderr.txt")
        pid = os.path.join(prefix, "logs", f"{kind}.pid")
        for p in (self.log, self.out, pid):
            if os.path.exists(p):
                os.unlink(p)
        g = ("daemon off; master_process on; "
             f"pid {pid}; error_log {self.log} info;")
        if os.geteuid() == 0:
            g = "user nobody nogroup; " + g
        with open(self.out, "wb") as out:
            self.proc = subprocess.Popen(
                [binary, "-p", prefix + "/", "-c", conf_path, "-g", g],
                cwd=prefix, stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT)
        self.wait_listening()

    def diag(self):
        text = ""
        for p in (self.out, self.log):
            try:
                with open(p, errors="replace") as f:
                    text += f"--- {p}\n" + f.read()[-3000:]
            except OSError:
                pass
        return text

    def wait_listening(self):
        deadline = time.monotonic() + START_TIMEOUT
        pending = list(self.ports)
        while pending:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.kind} exited "
                                   f"{self.proc.returncode}:\n{self.diag()}")
            try:
                with socket.create_connection(("127.0.0.1", pending[0]),
                                              timeout=1):
                    pending.pop(0)
                    continue
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{self.kind} does not listen on "
                                   f"{pending}:\n{self.diag()}")
            time.sleep(0.02)

    def stop(self):
        if self.proc.poll() is not None:
            return
        kids = children_of(self.proc.pid)
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            kids += children_of(self.proc.pid)
            self.proc.kill()
            self.proc.wait()
        # a worker outliving its master would keep the ports
        deadline = time.monotonic() + STOP_TIMEOUT
        for k in kids:
            while os.path.exists(f"/proc/{k}") and \
                    time.monotonic() < deadline:
                time.sleep(0.02)
            if os.path.exists(f"/proc/{k}"):
                try:
                    os.kill(k, signal.SIGKILL)
                except ProcessLookupError:
                    pass


# ---------------------------------------------------------------- client

class Response:
    def __init__(self, status_line, headers, body):
        self.status_line = status_line
        self.headers = headers          # [(name, value)] as sent
        self.body = body
        self.as_get = None
        try:
            self.status = int(status_line.split(" ")[1])
        except (IndexError, ValueError):
            self.status = 0

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return None


class Incomplete(Exception):
    pass


class Garbage(Exception):
    pass


def parse_one(buf, head, eof):
    """(Response, rest) from the start of buf; Incomplete when more bytes
    are needed, Garbage when buf is no HTTP response."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        if not buf.startswith(b"HTTP/"[:len(buf)]):
            raise Garbage()
        raise Incomplete()
    lines = buf[:end].decode("latin-1").split("\r\n")
    if not re.match(r"HTTP/\d\.\d \d{3}", lines[0]):
        raise Garbage()
    headers = []
    for ln in lines[1:]:
        k, sep, v = ln.partition(":")
        if not sep:
            raise Garbage()
        headers.append((k, v.strip(" \t")))
    r = Response(lines[0], headers, b"")
    rest = buf[end + 4:]
    if head or r.status < 200 or r.status in (204, 304):
        return r, rest
    te = r.header("transfer-encoding")
    if te is not None and te.lower() == "chunked":
        body = b""
        pos = 0
        while True:
            crlf = rest.find(b"\r\n", pos)
            if crlf < 0:
                raise Incomplete()
            try:
                size = int(rest[pos:crlf].split(b";")[0], 16)
            except ValueError:
                raise Garbage()
            if size == 0:
                tend = rest.find(b"\r\n\r\n", crlf)
                if rest[crlf + 2:crlf + 4] == b"\r\n":
                    tend = crlf
                if tend < 0:
                    raise Incomplete()
                r.body = body
                return r, rest[tend + 4:]
            if len(rest) < crlf + 2 + size + 2:
                raise Incomplete()
            body += rest[crlf + 2:crlf + 2 + size]
            pos = crlf + 4 + size
    cl = r.header("content-length")
    if cl is not None:
        try:
            n = int(cl)
        except ValueError:
            raise Garbage()
        if len(rest) < n:
            if eof:
                raise Garbage()
            raise Incomplete()
        r.body = rest[:n]
        return r, rest[n:]
    if not eof:
        raise Incomplete()
    r.body = rest
    return r, b""


TLS_NAMES = {}      # SHA-256 of a test certificate (DER) -> its name


def tls_context(version):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if version is not None:
        v = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}
        ctx.minimum_version = ctx.maximum_version = v[version]
    return ctx


def tls_wrap(s, req):
    """(TLS socket, its "X-Compat-TLS" value) or raises OSError."""
    t = tls_context(req.tls_version).wrap_socket(
        s, server_hostname=req.sni)
    der = t.getpeercert(binary_form=True) or b""
    name = TLS_NAMES.get(hashlib.sha256(der).hexdigest(), "unknown")
    return t, f"{t.version()} cert={name}"


def exchange(port, req):
    """The answers to req: a list of Response, ended (when the request
    is a probe one, or no final response came) by one of the strings
    "closed", "timeout" or "headerless: ..." (bytes that are no HTTP/1.x
    response, as nginx's HTTP/0.9 answers)."""
    out = []
    deadline = time.monotonic() + req.timeout
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=req.timeout)
    except OSError as e:
        return [f"connect failed: {e}"]
    tls_info = None
    if req.tls:
        try:
            s, tls_info = tls_wrap(s, req)
        except (OSError, ssl.SSLError) as e:
            s.close()
            why = getattr(e, "reason", None) or type(e).__name__
            return [f"tls handshake failed: {why}"]
    buf = b""
    eof = False
    try:
        try:
            s.sendall(req.data)
            if req.shut:
                s.shutdown(socket.SHUT_WR)
        except OSError:
            pass                      # the server answered and closed early
        while True:
            try:
                finals = sum(1 for a in out if a.status >= 200)
                r, buf = parse_one(buf, finals + 1 in req.heads, eof)
                if tls_info is not None and not out:
                    r.headers.append(("X-Compat-TLS", tls_info))
                out.append(r)
                if r.status >= 200 and not req.probe:
                    return out
                continue
            except Incomplete:
                pass
            except Garbage:
                # no status line: an HTTP/0.9 answer, or noise
                out.append("headerless: %r" % buf[:200])
                return out
            if eof:
                out.append("closed" if not buf else
                           "closed after partial: %r" % buf[:200])
                return out
            left = deadline - time.monotonic()
            if left <= 0:
                out.append("timeout")
                return out
            s.settimeout(left)
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                continue
            except (ConnectionResetError, ssl.SSLError):
                chunk = b""       # a TLS close without close_notify too
            if not chunk:
                eof = True
            buf += chunk
    finally:
        s.close()


# ---------------------------------------------------------------- compare

PRODUCT_RE = re.compile(r"^(nginx|portico)(/[0-9.]+)?$")
CENTER_RE = re.compile(rb"<center>(nginx|portico)(/[0-9.]+)?</center>")
BOUNDARY_RE = re.compile(r"boundary=(\S+)")


def http_time(v):
    t = email.utils.parsedate_tz(v)
    return None if t is None else calendar.timegm(t[:9]) - (t[9] or 0)


class Norm:
    """The comparable form of one answer."""

    def __init__(self, answer):
        self.text = None
        if isinstance(answer, str):
            self.status = answer
            self.headers = {}
            self.body = b""
            return
        self.status = answer.status_line
        body = answer.body
        if answer.header("content-encoding") == "gzip" and body:
            # encoders differ in their bytes: compare what they decode to
            try:
                body = b"gzip:" + gzip.decompress(body)
            except (OSError, EOFError, zlib.error):
                body = b"gzip, undecodable:" + body
        body2 = CENTER_RE.sub(
            lambda m: b"<center>SERVER" + (b"/V" if m.group(2) else b"") +
            b"</center>", body)
        h = {}
        for k, v in answer.headers:
            h.setdefault(k.lower(), []).append(v)
        h.pop("date", None)
        date = http_time(answer.header("date") or "")
        if "server" in h:
            h["server"] = [PRODUCT_RE.sub(
                lambda m: "SERVER" + ("/V" if m.group(2) else ""), v)
                for v in h["server"]]
        for i, v in enumerate(h.get("content-type", [])):
            m = BOUNDARY_RE.search(v)
            if m:
                body2 = body2.replace(m.group(1).encode(), b"BOUNDARY")
                h["content-type"][i] = v.replace(m.group(1), "BOUNDARY")
        if body2 != body and h.get("content-length") == [str(len(body))]:
            h["content-length"] = [str(len(body2))]
        g = answer.as_get
        if g is not None and h.get("content-length") == [
                g.header("content-length")]:
            # HEAD: the body GET gets shows what the product name changes
            gn = Norm(g)
            if gn.body != g.body:
                h["content-length"] = gn.headers["content-length"]
        # an Expires relative to now compares as its distance to Date
        self.expires_rel = None
        if "expires" in h and date is not None:
            e = http_time(h["expires"][0])
            if e is not None:
                self.expires_rel = e - date
        self.headers = h
        self.body = body2

    def show(self, limit=600):
        if not self.headers and not self.body:
            return f"    {self.status}\n"
        s = f"    {self.status}\n"
        for k in sorted(self.headers):
            for v in self.headers[k]:
                s += f"    {k}: {v}\n"
        b = self.body
        s += "    body (%d): %r%s\n" % (len(b), b[:limit],
                                         "..." if len(b) > limit else "")
        return s


def compare(ngx, pt):
    """The fields in which two answer lists differ: "status", "header:NAME",
    "body", "answers" (their number), prefixed by "#N " from the second
    answer on."""
    fields = []
    if len(ngx) != len(pt):
        fields.append("answers")
    for i, (a, b) in enumerate(zip(ngx, pt)):
        pre = "" if i == 0 else f"#{i + 1} "
        if a.status != b.status:
            # another answer: its headers and body differ as a matter of
            # course
            fields.append(pre + "status")
            continue
        for k in sorted(set(a.headers) | set(b.headers)):
            va, vb = a.headers.get(k), b.headers.get(k)
            if va == vb:
                continue
            if (k == "expires" and va and vb and a.expires_rel is not None
                    and a.expires_rel == b.expires_rel):
                continue
            fields.append(pre + "header:" + k)
        if a.body != b.body:
            fields.append(pre + "body")
    return fields


# ---------------------------------------------------------------- the list

class Difference:
    """One accepted difference: `request` (CASE/NAME), what may differ
    (statuses: (nginx, portico) when the whole answer differs; headers;
    body), the reason (README item or newer-nginx tag)."""

    def __init__(self, request, what, reason, where):
        self.request = request
        self.where = where
        self.reason = reason
        self.statuses = None
        self.fields = set()
        for part in (p.strip() for p in what.split(";")):
            m = re.fullmatch(r"status (\S+) -> (\S+)", part)
            if m:
                self.statuses = (m.group(1), m.group(2))
                continue
            m = re.fullmatch(r"headers? (.+)", part)
            if m:
                for name in m.group(1).split(","):
                    self.fields.add("header:" + name.strip().lower())
                continue
            if part == "body":
                self.fields.add("body")
                continue
            raise ValueError(f"{where}: cannot read what differs: {part!r}")

    def accepts(self, fields, ngx, pt):
        """None when this entry covers the difference, else why not."""
        if self.statuses is not None:
            got = (status_word(ngx[0]), status_word(pt[0]))
            if got != self.statuses:
                return (f"the list says status {self.statuses[0]} -> "
                        f"{self.statuses[1]}, got {got[0]} -> {got[1]}")
            return None
        extra = set(fields) - self.fields
        if extra:
            return f"differs also in {sorted(extra)}"
        return None


def status_word(answer):
    if isinstance(answer, Response):
        return str(answer.status)
    return answer.split(":")[0].split(" ")[0]


def readme_items():
    with open(README, encoding="utf-8") as f:
        text = f.read()
    m = re.search(r"^## Differences from nginx\n(.*?)(?=^## |\Z)", text,
                  re.M | re.S)
    if m is None:
        return set()
    return {int(n) for n in re.findall(r"^(\d+)\. ", m.group(1), re.M)}


def load_differences(path=None):
    """The accepted differences: {request id: Difference}. A line is
    `CASE/REQUEST | WHAT | REASON`; REASON starts with "README Differences
    #N" (an item of README's "Differences from nginx") or
    "newer-nginx: VERSION"."""
    path = path or DIFFERENCES
    items = readme_items()
    out = {}
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            where = f"{path}:{lineno}"
            parts = [p.strip() for p in line.split("|", 2)]
            if len(parts) != 3:
                raise ValueError(f"{where}: want CASE/REQUEST | WHAT | "
                                 f"REASON")
            req, what, reason = parts
            m = re.match(r"README Differences #(\d+)\b", reason)
            if m:
                if int(m.group(1)) not in items:
                    raise ValueError(f"{where}: README's Differences from "
                                     f"nginx has no item {m.group(1)}")
            elif not re.match(r"newer-nginx: \d+\.\d+\.\d+\b", reason):
                raise ValueError(f"{where}: the reason must be 'README "
                                 f"Differences #N' or 'newer-nginx: X.Y.Z'")
            if req in out:
                raise ValueError(f"{where}: {req} is listed twice")
            out[req] = Difference(req, what, reason, where)
    return out


# ---------------------------------------------------------------- the run

class Result:
    def __init__(self, req, ngx, pt):
        self.req = req
        self.ngx = ngx                  # raw answers
        self.pt = pt
        self.nn = [Norm(a) for a in ngx]
        self.np = [Norm(a) for a in pt]
        self.fields = compare(self.nn, self.np)
        self.accepted = None            # the Difference that covers it
        self.problem = None             # why this result fails

    def show(self):
        s = f"  nginx:\n" + "".join(n.show() for n in self.nn)
        s += f"  portico:\n" + "".join(n.show() for n in self.np)
        return s


class Report:
    def __init__(self):
        self.results = []
        self.errors = []                # list of strings
        self.skipped = []               # (case, why): pending, nginx only
        self.nginx_only = 0             # requests served by nginx only
        self.seconds = 0.0

    @property
    def total(self):
        return len(self.results)

    def matching(self):
        return [r for r in self.results if not r.fields]

    def accepted(self):
        return [r for r in self.results if r.fields and r.accepted
                and not r.problem]

    def failures(self):
        return [r for r in self.results if r.problem]

    def summary(self):
        s = (f"compat: {len(self.matching())} of {self.total} requests "
             f"match, {len(self.accepted())} accepted differences")
        if self.skipped:
            s += (f"; {len(self.skipped)} pending case(s), "
                  f"{self.nginx_only} requests, skipped for Portico")
        return s

    def details(self, accepted=True):
        s = ""
        for r in self.failures():
            s += f"FAIL {r.req.id}: {r.problem}\n"
            s += f"  request: {r.req.data[:300]!r}\n" + r.show()
        if accepted:
            for r in self.accepted():
                s += (f"accepted {r.req.id}: {', '.join(r.fields)} "
                      f"({r.accepted.reason})\n")
        for case, why in self.skipped:
            s += f"skipped for Portico: {case} (pending: {why})\n"
        for e in self.errors:
            s += f"ERROR {e}\n"
        return s

    def ok(self):
        return not self.failures() and not self.errors and self.total > 0


def run_server(binary, kind, prefix, conf_path, ports, requests):
    """The answers to every request, each a list; the first answer to a
    HEAD request carries the answer to the same request made with GET
    (.as_get), whose body tells how the product name is normalised."""
    srv = Server(binary, kind, prefix, conf_path, ports)
    try:
        out = []
        for r in requests:
            answers = exchange(ports[r.port - 1], r)
            if r.head and answers and isinstance(answers[0], Response):
                g = exchange(ports[r.port - 1], r.as_get())
                if g and isinstance(g[0], Response):
                    answers[0].as_get = g[0]
            out.append(answers)
        return out
    finally:
        srv.stop()


def select(cases, only):
    if not only:
        return cases
    out = []
    for c in cases:
        reqs = [r for r in c.requests
                if any(r.id == k or c.name == k for k in only)]
        if reqs:
            c.requests = reqs
            out.append(c)
    return out


def portico_rejects(prefix, conf_path):
    """None when `portico -t` accepts the configuration, else its first
    error line."""
    try:
        r = subprocess.run([PORTICO, "-t", "-p", prefix + "/", "-c",
                            conf_path], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=START_TIMEOUT)
    except subprocess.TimeoutExpired:
        return "portico -t did not finish"
    if r.returncode == 0:
        return None
    lines = r.stdout.decode(errors="replace").strip().splitlines()
    return next((ln for ln in lines if "[emerg]" in ln),
                lines[0] if lines else f"exit {r.returncode}")


def expect_problem(req, answers, pending):
    """Why nginx's answers do not fit the request's own checks, or None: the
    status of expect=, and an HTTP answer in a pending case (which nothing
    else checks while Portico skips it)."""
    finals = [a for a in answers
              if not isinstance(a, Response) or a.status >= 200]
    first = finals[0] if finals else "no answer"
    if not isinstance(first, Response):
        if pending or req.expect is not None:
            return f"nginx gave no HTTP answer ({first})"
        return None
    if req.expect is not None and first.status != req.expect:
        return f"nginx answered {first.status}, the case expects {req.expect}"
    return None


def judge(req, a, b, diffs):
    res = Result(req, a, b)
    d = diffs.get(req.id)
    if res.fields:
        if d is None:
            res.problem = ("differs in " + ", ".join(res.fields) +
                           " (not in differences.txt)")
        else:
            why = d.accepts(res.fields, a, b)
            if why:
                res.problem = f"{d.where}: {why}"
            else:
                res.accepted = d
    elif d is not None:
        res.problem = (f"{d.where}: listed as a difference but "
                       f"both answer the same (stale entry)")
    return res


def write_case(case, prefix, html, extra):
    """The case's configuration with its placeholders filled in: (path,
    ports)."""
    ports = free_ports(case.nports)
    text = case.conf
    for i in range(case.nports, 0, -1):
        text = text.replace("@PORT%s@" % (i if i > 1 else ""),
                            str(ports[i - 1]))
    text = text.replace("@HTML@", html).replace("@PREFIX@", prefix)
    for k, v in extra.items():
        text = text.replace(k, str(v))
    conf_path = os.path.join(prefix, "conf", case.name + ".conf")
    with open(conf_path, "w") as f:
        f.write(text)
    return conf_path, ports


def run_case(case, prefix, conf_path, ports, diffs, report, out):
    """Serves the case by nginx, then by Portico unless it is pending and
    Portico rejects it; appends to report."""
    ngx = run_server(NGINX, "nginx", prefix, conf_path, ports, case.requests)
    for req, a in zip(case.requests, ngx):
        bad = expect_problem(req, a, case.pending)
        if bad:
            report.errors.append(f"{req.id}: {bad}")
    why = portico_rejects(prefix, conf_path) if case.pending else None
    if why:
        report.skipped.append((case.name, why))
        report.nginx_only += len(case.requests)
        for req, a in zip(case.requests, ngx):
            if out.verbose:
                out.stream.write(f"{'nginx':8} {req.id}  (pending)\n")
            if out.show:
                out.stream.write(f"--- {req.id}: {req.data[:300]!r}\n  nginx:\n"
                                 + "".join(Norm(x).show() for x in a))
        return
    pt = run_server(PORTICO, "portico", prefix, conf_path, ports,
                    case.requests)
    for req, a, b in zip(case.requests, ngx, pt):
        res = judge(req, a, b, diffs)
        report.results.append(res)
        if out.verbose:
            verdict = ("ok" if not res.fields else
                       "FAIL" if res.problem else "accepted")
            what = "  " + ", ".join(res.fields) if res.fields else ""
            out.stream.write(f"{verdict:8} {req.id}{what}\n")
        if out.show:
            out.stream.write(f"--- {req.id}: {req.data[:300]!r}\n" +
                             res.show())


class Output:
    def __init__(self, verbose, show, stream):
        self.verbose, self.show, self.stream = verbose, show, stream


def make_certs(prefix):
    """The TLS cases' certificates (see the module docstring): their
    placeholders, each certificate known to TLS_NAMES by its name."""
    ca = tls_certs.CertAuthority(prefix)
    out = {}
    for n, name, sans in (("", "a.test", ("a.test", "localhost",
                                          "127.0.0.1")),
                          ("2", "b.test", ("b.test",))):
        pair = ca.server(name, sans, kind="ecdsa")
        out[f"@CERT{n}@"], out[f"@KEY{n}@"] = pair.chain, pair.key
        with open(pair.cert) as f:
            der = ssl.PEM_cert_to_DER_cert(f.read())
        TLS_NAMES[hashlib.sha256(der).hexdigest()] = name
    return out


def run(only=None, verbose=False, show=False, stream=sys.stdout):
    t0 = time.monotonic()
    report = Report()
    out = Output(verbose, show, stream)
    cases = select(load_cases(), only)
    diffs = load_differences()
    known = {r.id for c in load_cases() for r in c.requests}
    for d in diffs.values():
        if d.request not in known:
            report.errors.append(f"{d.where}: no request {d.request}")
    prefix = tempfile.mkdtemp(prefix="portico-compat-")
    origin = None
    try:
        os.chmod(prefix, 0o755)
        os.makedirs(os.path.join(prefix, "logs"))
        os.makedirs(os.path.join(prefix, "conf"))
        html = os.path.join(prefix, "html")
        build_tree(html)
        extra = {}
        if any("@ORIGIN@" in c.conf or "@DEAD@" in c.conf for c in cases):
            origin = echo_origin.EchoOrigin()
            extra = {"@ORIGIN@": origin.port, "@DEAD@": free_ports(1)[0]}
        if any("@CERT" in c.conf for c in cases):
            extra.update(make_certs(prefix))
        for case in cases:
            conf_path, ports = write_case(case, prefix, html, extra)
            try:
                run_case(case, prefix, conf_path, ports, diffs, report, out)
            except RuntimeError as e:
                report.errors.append(f"case {case.name}: {e}")
    finally:
        if origin is not None:
            origin.stop()
        closed = os.path.join(prefix, "html", "closed")
        if os.path.isdir(closed):
            os.chmod(closed, 0o755)       # or rmtree cannot enter it
        shutil.rmtree(prefix, ignore_errors=True)
    report.seconds = time.monotonic() - t0
    return report


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("-k", dest="only", action="append",
                    help="a case or CASE/REQUEST (repeatable)")
    ap.add_argument("--show", action="store_true",
                    help="print both answers of every request")
    args = ap.parse_args()
    for b in (NGINX, PORTICO):
        if not os.access(b, os.X_OK):
            print(f"compat: {b} is not there")
            return 2
    report = run(args.only, args.verbose, args.show)
    sys.stdout.write(report.details())
    print(report.summary() + f" ({report.seconds:.1f} s)")
    return 0 if report.ok() else 1


if __name__ == "__main__":
    sys.exit(main())
