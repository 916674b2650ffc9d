"""Shared by the proxy suites (test_proxy_*.py): the skip guard for a
binary without proxy_pass, starting the binary with an http block that
proxies to origins.py origins, and a raw HTTP client returning the
harness's parsed Response."""

import os
import re
import shutil
import subprocess
import tempfile
import time

from portico_harness import (BIN, UNDER_NGINX, PorticoTestCase, RawClient,
                             free_port, http_conf, listening_sockets,
                             wait_for)

# every instance gets its temp paths in its prefix, so temp files can be
# looked at and nothing lands in /var/lib/nginx
PRELUDE = """
    proxy_temp_path proxy_temp;
    client_body_temp_path body_temp;
    log_format proxy '$request|$status|$upstream_addr|$upstream_status|'
                     '$upstream_response_time|$body_bytes_sent';
"""

_supported = None


def proxy_supported():
    """(True, "") when BIN accepts proxy_pass in `-t`, else (False, why):
    the proxy suites skip until Portico's proxy lands."""
    global _supported
    if _supported is None:
        d = tempfile.mkdtemp(prefix="portico-pt-")
        os.mkdir(os.path.join(d, "logs"))
        conf = os.path.join(d, "t.conf")
        with open(conf, "w") as f:
            f.write(http_conf([free_port()], """
    server { listen 127.0.0.1:@PORT@;
             location / { proxy_pass http://127.0.0.1:9; } }""",
                              error_level="error"))
        r = subprocess.run([BIN, "-t", "-p", d, "-c", conf],
                           capture_output=True, text=True, timeout=30)
        _supported = (r.returncode == 0, r.stderr.strip())
        shutil.rmtree(d, ignore_errors=True)
    return _supported


class ProxyCase(PorticoTestCase):
    """Base of the proxy suites: skipped when the binary has no proxy."""

    def setUp(self):
        # per test, not per class: test/run.py counts a class-level skip
        # as a skip but not as a test run
        ok, why = proxy_supported()
        if not ok:
            self.skipTest(f"{os.path.basename(BIN)} does not accept "
                          f"proxy_pass yet (the proxy has not landed): "
                          f"{why.splitlines()[:1]}")
        super().setUp()

    def proxy(self, block, nports=1, workers=1, error_level="info", **kw):
        """Start the binary with PRELUDE + `block` as its http block (see
        harness http_conf for @PORT@); ready once its workers run and the
        ports listen (no probe request: origins count what they get)."""
        inst = self.portico(workers=workers)
        inst.ports = [inst.port] + [free_port() for _ in range(nports - 1)]
        inst.write_conf(text=http_conf(inst.ports, PRELUDE + block,
                                       workers=workers,
                                       error_level=error_level, **kw))
        inst.start(wait=False)
        inst.wait_workers(workers)
        for p in inst.ports:
            wait_for(lambda: listening_sockets(p), f"port {p} to listen",
                     diag=inst.diag)
        return inst

    def config_error(self, block):
        """`-t` on PRELUDE + block: (returncode, stderr)."""
        inst = self.portico()
        inst.ports = [inst.port]
        inst.write_conf(text=http_conf(inst.ports, PRELUDE + block))
        r = inst.run("-t")
        return r.returncode, r.stderr

    def access_lines(self, inst, n, name="access.log", timeout=10):
        """The first n lines of logs/<name> (waiting for them)."""
        path = inst.path("logs", name)

        def lines():
            try:
                with open(path) as f:
                    v = f.read().splitlines()
            except FileNotFoundError:
                return None
            return v if len(v) >= n else None
        return wait_for(lines, f"{n} lines in {name}", timeout,
                        diag=inst.diag)


def request_bytes(target="/", method="GET", headers=None, body=None,
                  version="HTTP/1.1", host="localhost", close=True):
    """A raw request; headers: list of (name, value) after Host."""
    hs = [("Host", host)] if host is not None else []
    hs += list(headers or [])
    if close and version == "HTTP/1.1":
        hs.append(("Connection", "close"))
    if body is not None and not any(k.lower() in ("content-length",
                                                  "transfer-encoding")
                                    for k, _ in hs):
        hs.append(("Content-Length", str(len(body))))
    head = f"{method} {target} {version}\r\n" + \
        "".join(f"{k}: {v}\r\n" for k, v in hs) + "\r\n"
    return head.encode("latin-1") + (body or b"")


def request(port, target="/", method="GET", timeout=10, **kw):
    """One request on a new connection: the parsed Response."""
    with RawClient(port, timeout=timeout) as c:
        c.send(request_bytes(target, method, **kw))
        return c.response(head=(method == "HEAD"))


def read_until_close(sock, timeout=10):
    """Every byte until EOF (or a reset), bounded by timeout."""
    deadline = time.monotonic() + timeout
    data = b""
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
    return data


def error_log_has(inst, pattern, timeout=10):
    return inst.wait_log(pattern, timeout=timeout)


def server_header():
    """The product token nginx or portico puts in Server."""
    return re.compile(r"^nginx/[\d.]+$" if UNDER_NGINX
                      else r"^portico/[\d.]+$")


class StreamReader:
    """Buffered reads from a socket for parsing a response as it comes."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def fill(self):
        chunk = self.sock.recv(1 << 18)
        if not chunk:
            raise AssertionError(f"connection closed, have {self.buf[:80]!r}")
        self.buf += chunk

    def until(self, sep):
        while sep not in self.buf:
            self.fill()
        out, _, self.buf = self.buf.partition(sep)
        return out

    def take(self, n):
        """Up to n bytes (at least one)."""
        if not self.buf:
            self.fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out


def dechunk_stream(sock):
    """Yield the body of the response arriving on sock piece by piece,
    chunked or with a Content-Length, without holding it whole."""
    rd = StreamReader(sock)
    head = rd.until(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200 "):
        raise AssertionError(f"head {head!r}")
    m = re.search(rb"\r\ncontent-length: (\d+)", head, re.I)
    if m:
        left = int(m.group(1))
        while left:
            piece = rd.take(left)
            left -= len(piece)
            yield piece
        return
    if not re.search(rb"\r\ntransfer-encoding: chunked", head, re.I):
        raise AssertionError(f"no framing in {head!r}")
    while True:
        size = int(rd.until(b"\r\n").split(b";")[0], 16)
        if size == 0:
            while rd.until(b"\r\n"):    # trailers, up to the empty line
                pass
            return
        while size:
            piece = rd.take(size)
            size -= len(piece)
            yield piece
        if rd.until(b"\r\n") != b"":
            raise AssertionError("bad chunk end")
