"""The load-test origin (test/origin/origin.c, built as objs/test/origin):
its answers by path, keep-alive with discarded request bodies (length and
chunked) and pipelining, the 431 limit, and its log of started and
finished responses."""

import os
import signal
import socket
import subprocess
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
ORIGIN = os.path.join(ROOT, "objs", "test", "origin")


def free_port():
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


def read_response(sock, buf, head_only=False):
    """(status, headers dict, body, rest of buf)."""
    while b"\r\n\r\n" not in buf:
        data = sock.recv(65536)
        if not data:
            raise EOFError("closed in the head")
        buf += data
    head, _, buf = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for ln in lines[1:]:
        k, _, v = ln.partition(":")
        headers[k.strip().lower()] = v.strip()
    if head_only or status in (204, 304):
        return status, headers, b"", buf
    if headers.get("transfer-encoding") == "chunked":
        body = b""
        while True:
            while b"\r\n" not in buf:
                buf += sock.recv(65536)
            line, _, buf = buf.partition(b"\r\n")
            size = int(line, 16)
            while len(buf) < size + 2:
                data = sock.recv(65536)
                if not data:
                    raise EOFError("closed in a chunk")
                buf += data
            body += buf[:size]
            buf = buf[size + 2:]
            if size == 0:
                return status, headers, body, buf
    n = int(headers["content-length"])
    while len(buf) < n:
        data = sock.recv(65536)
        if not data:
            raise EOFError("closed in the body")
        buf += data
    return status, headers, buf[:n], buf[n:]


@unittest.skipUnless(os.access(ORIGIN, os.X_OK),
                     f"{ORIGIN} is not built (make objs/test/origin)")
class Origin(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="pt-origin-")
        self.log = os.path.join(self.tmp, "origin.log")
        self.port = free_port()
        self.proc = subprocess.Popen(
            [ORIGIN, "-p", str(self.port), "-l", self.log],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), 1).close()
                break
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.fail("origin does not listen")
                time.sleep(0.02)

    def tearDown(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            _, err = self.proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.communicate()
            self.fail("origin did not stop on SIGTERM")
        self.assertEqual(self.proc.returncode, 0, err)
        for f in os.listdir(self.tmp):
            os.unlink(os.path.join(self.tmp, f))
        os.rmdir(self.tmp)

    def connect(self):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        self.addCleanup(s.close)
        return s

    def test_answers_by_path(self):
        s = self.connect()
        buf = b""
        conn = None
        cases = [("/", 200, 1024, None), ("/size/0", 200, 0, None),
                 ("/size/300000", 200, 300000, None),
                 ("/chunked/40000", 200, 40000, "chunked"),
                 ("/chunked/0", 200, 0, "chunked"),
                 ("/status/503", 503, 0, None), ("/status/204", 204, 0, None)]
        for i, (path, status, length, te) in enumerate(cases, 1):
            s.sendall(b"GET %s HTTP/1.1\r\nHost: o\r\n\r\n" % path.encode())
            st, h, body, buf = read_response(s, buf)
            self.assertEqual((st, len(body), h.get("transfer-encoding")),
                             (status, length, te), path)
            conn = conn or h["x-origin-conn"]      # the same connection
            self.assertEqual(h["x-origin-conn"], conn)
            self.assertEqual(h["x-origin-request"], str(i))
        s.sendall(b"HEAD /size/77 HTTP/1.1\r\nHost: o\r\n\r\n")
        st, h, body, buf = read_response(s, buf, head_only=True)
        self.assertEqual((st, h["content-length"], buf), (200, "77", b""))

    def test_bodies_discarded_and_pipelining(self):
        s = self.connect()
        chunked = b"".join(b"%x;ext=1\r\n%s\r\n" % (len(c), c)
                           for c in (b"a" * 5000, b"b" * 70000)) + \
            b"0\r\nTrailer: x\r\n\r\n"
        s.sendall(b"POST /size/10 HTTP/1.1\r\nHost: o\r\nContent-Length: "
                  b"100000\r\n\r\n" + b"x" * 100000 +
                  b"POST /size/11 HTTP/1.1\r\nHost: o\r\n"
                  b"Transfer-Encoding: chunked\r\n\r\n" + chunked +
                  b"GET /size/12 HTTP/1.1\r\nHost: o\r\n\r\n")
        buf = b""
        for i, n in enumerate((10, 11, 12), 1):
            st, h, body, buf = read_response(s, buf)
            self.assertEqual((st, len(body), h["x-origin-request"]),
                             (200, n, str(i)))

    def test_close_and_http10(self):
        s = self.connect()
        s.sendall(b"GET /chunked/5 HTTP/1.0\r\n\r\n")
        st, h, body, buf = read_response(s, b"")
        self.assertEqual((st, body, h.get("connection")),
                         (200, b"01234", "close"))
        self.assertEqual(s.recv(10), b"")
        s = self.connect()
        s.sendall(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n")
        st, h, body, buf = read_response(s, b"")
        self.assertEqual(h.get("connection"), "close")
        self.assertEqual(s.recv(10), b"")

    def test_head_too_large(self):
        s = self.connect()
        s.sendall(b"GET / HTTP/1.1\r\nX: " + b"y" * 9000 + b"\r\n\r\n")
        st, h, body, buf = read_response(s, b"")
        self.assertEqual(st, 431)

    def test_log(self):
        s = self.connect()
        s.sendall(b"GET /size/5?q=1 HTTP/1.1\r\nHost: o\r\n\r\n")
        _, h, _, _ = read_response(s, b"")
        s.close()
        c = h["x-origin-conn"]          # setUp's readiness check was one
        want = [f"accept {c}", f"start {c} 1 GET /size/5?q=1", f"done {c} 1",
                f"close {c}"]
        deadline = time.monotonic() + 10
        while True:
            with open(self.log) as f:
                got = [ln for ln in f.read().splitlines()
                       if ln.split()[1] == c]
            if got == want or time.monotonic() > deadline:
                break
            time.sleep(0.02)
        self.assertEqual(got, want)


if __name__ == "__main__":
    unittest.main()
