"""Smoke suite of the proxy core against small threaded origins started by
the tests: proxy_pass to an address, a unix socket and an upstream name,
request bodies (length and chunked), chunked and large responses, 502 on
a refused connection, 504 on a read timeout, next upstream, client
keep-alive through proxied responses, variables, X-Accel-Redirect,
intercepted errors and an upgraded connection."""

import hashlib
import http.server
import os
import re
import socket
import socketserver
import tempfile
import threading
import time
import unittest

from dnsstub import DnsStub
from portico_harness import (PorticoTestCase, RawClient, free_port,
                             http_conf, wait_for)

BIG = 10 * 1024 * 1024
HUGE = 160 * 1024 * 1024  # far more than the kernel's socket buffers hold
                          # (tcp_rmem's 32 MiB autotuning bound and more)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def record(self, body=b""):
        self.server.seen.append({
            "method": self.command, "path": self.path,
            "peer": self.client_address[1],
            "headers": list(self.headers.items()), "body": body})

    def reply(self, status, body, headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self.record()
        p = self.path
        if p.startswith("/chunked"):
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            for i in range(5):
                d = b"part %d;" % i
                self.wfile.write(b"%x\r\n%s\r\n" % (len(d), d))
            self.wfile.write(b"0\r\n\r\n")
        elif p.startswith("/big"):
            size = BIG if "huge" not in p else HUGE
            self.send_response(200)
            self.send_header("Content-Length", str(size))
            self.end_headers()
            block = bytes(range(256)) * 256
            for _ in range(size // len(block)):
                self.wfile.write(block)
            self.wfile.flush()
            self.server.finished.append(p)
        elif p.startswith("/chunks/"):
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            piece = b"%x\r\n%s\r\n" % (4000, b"z" * 4000)
            for _ in range(int(p[8:])):
                self.wfile.write(piece)
            self.wfile.write(b"0\r\n\r\n")
        elif p.startswith("/size/"):
            self.reply(200, b"x" * int(p[6:]))
        elif p.startswith("/slow"):
            time.sleep(3)
            self.reply(200, b"late")
        elif p.startswith("/status/"):
            self.reply(int(p[8:11]), b"origin body " + p[8:11].encode())
        elif p.startswith("/accel_named"):
            self.reply(200, b"ignored", [("X-Accel-Redirect", "@named")])
        elif p.startswith("/accel"):
            self.reply(200, b"ignored", [("X-Accel-Redirect", "/final")])
        elif p.startswith("/ws"):
            self.send_response(101)
            self.send_header("Upgrade", "echo")
            self.send_header("Connection", "upgrade")
            self.end_headers()
            self.wfile.flush()
            while True:
                d = self.connection.recv(4096)
                if not d:
                    break
                self.connection.sendall(d.upper())
            self.close_connection = True
        elif p.startswith("/badhead"):
            self.wfile.write(b"HTTP/1.1 200 OK\r\nBad Header\r\n\r\n")
            self.close_connection = True
        else:
            self.reply(200, ("%s %s" % (self.server.name, p)).encode(),
                       [("X-Origin", self.server.name),
                        ("Server", "origin"), ("X-Accel-Buffering", "no")])

    def do_HEAD(self):
        self.record()
        self.send_response(200)
        self.send_header("Content-Length", "1234")
        self.end_headers()

    def read_chunked(self):
        body = b""
        while True:
            size = int(self.rfile.readline().split(b";")[0], 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return body
            body += self.rfile.read(size)
            self.rfile.readline()

    def do_POST(self):
        if self.headers.get("Transfer-Encoding") == "chunked":
            body = self.read_chunked()
        else:
            body = self.rfile.read(int(self.headers.get("Content-Length",
                                                        "0")))
        n = len(body)
        self.record(body)
        self.reply(200, b"%d %s" % (n, hashlib.md5(body).hexdigest()
                                     .encode()))


class TCPOrigin(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        pass    # a client (the proxy) gone early is part of the tests


class UnixOrigin(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass

    def get_request(self):
        sock, _ = super().get_request()
        return sock, ("unix", 0)


def start_origin(test, name, path=None):
    if path is None:
        srv = TCPOrigin(("127.0.0.1", 0), Handler)
    else:
        srv = UnixOrigin(path, Handler)
    srv.seen = []
    srv.finished = []
    srv.name = name
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    test.addCleanup(srv.server_close)
    test.addCleanup(srv.shutdown)
    return srv


class OneShotOrigin:
    """Answers the first request of each connection with keep-alive, then
    closes the connection when the next request arrives on it, without a
    byte of response: a kept-alive connection the origin dropped."""

    def __init__(self, test):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.bodies = []
        test.addCleanup(self.sock.close)
        threading.Thread(target=self.run, daemon=True).start()

    def run(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self.serve, args=(c,),
                             daemon=True).start()

    def serve(self, c):
        with c:
            data = b""
            while b"\r\n\r\n" not in data:
                d = c.recv(65536)
                if not d:
                    return
                data += d
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst")
            c.recv(65536)   # the next request: dropped unanswered


def silent_listener(test):
    """A port that accepts and never answers."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    test.addCleanup(s.close)
    return s.getsockname()[1]


class ProxyCore(PorticoTestCase):

    def setUp(self):
        super().setUp()
        self.a = start_origin(self, "a")
        self.b = start_origin(self, "b")
        self.tmp = tempfile.mkdtemp(prefix="pt-proxy-")
        os.chmod(self.tmp, 0o777)
        self.sock_path = os.path.join(self.tmp, "origin.sock")
        self.u = start_origin(self, "u", self.sock_path)
        os.chmod(self.sock_path, 0o777)
        self.silent = silent_listener(self)
        self.dns = DnsStub({"origin.test": [("127.0.0.1", 60)]})
        self.dns.start()
        self.addCleanup(self.dns.stop)
        self.dead = free_port()
        self.oneshot = OneShotOrigin(self)
        pa, pb = self.a.server_address[1], self.b.server_address[1]
        block = f"""
            log_format up '$request_uri $upstream_addr $upstream_status '
                          '$upstream_response_length $proxy_host '
                          '$upstream_http_x_origin';
            access_log logs/access.log up;
            upstream be {{ server 127.0.0.1:{pb}; }}
            upstream ka {{ server 127.0.0.1:{pb}; keepalive 4; }}
            upstream pair {{ server 127.0.0.1:{self.dead};
                            server 127.0.0.1:{pa}; }}
            upstream oneshot {{ server 127.0.0.1:{self.oneshot.port};
                               keepalive 2; }}
            upstream flaky {{ server 127.0.0.1:{pb}; server 127.0.0.1:{pa}; }}
            server {{
                listen 127.0.0.1:@PORT@;
                client_max_body_size 1k;
                error_page 404 /errors/404.html;
                location = /ready {{ return 200 ok; }}
                location = /final {{ return 200 "final page"; }}
                location @named {{ return 200 "named page"; }}
                location /errors/ {{ return 200 "custom 404"; }}
                location / {{ proxy_pass http://127.0.0.1:{pa}; }}
                location /big {{ client_max_body_size 20m;
                                proxy_pass http://127.0.0.1:{pa}; }}
                location /stream {{ client_max_body_size 20m;
                    proxy_request_buffering off; proxy_http_version 1.1;
                    proxy_pass http://127.0.0.1:{pa}; }}
                location /stream1k {{ proxy_request_buffering off;
                    proxy_http_version 1.1;
                    proxy_pass http://127.0.0.1:{pa}; }}
                location /up/ {{ proxy_pass http://be/x/; }}
                location /unix/ {{ proxy_pass http://unix:{self.sock_path}:/; }}
                location /refused {{ proxy_pass http://127.0.0.1:{self.dead}; }}
                location /timeout {{ proxy_read_timeout 1s;
                    proxy_pass http://127.0.0.1:{self.silent}; }}
                location /slow {{ proxy_read_timeout 1s;
                    proxy_pass http://127.0.0.1:{pa}; }}
                location /ka/ {{ proxy_http_version 1.1;
                    proxy_set_header Connection "";
                    proxy_pass http://ka/; }}
                location /rate/ {{ proxy_limit_rate 512k;
                    proxy_pass http://127.0.0.1:{pa}/size/; }}
                location /abort {{ proxy_pass http://127.0.0.1:{pa}/slow; }}
                location /setbody {{ proxy_method POST;
                    proxy_set_body "k=$arg_k";
                    proxy_hide_header X-Origin; proxy_pass_header Server;
                    proxy_pass http://127.0.0.1:{pa}; }}
                location /ifp {{ proxy_pass http://127.0.0.1:{pa};
                    if ($arg_x) {{ add_header X-If yes; }} }}
                location /retry/ {{ proxy_next_upstream error http_503;
                    proxy_pass http://flaky/status/; }}
                location /oneshot {{ proxy_http_version 1.1;
                    proxy_set_header Connection "";
                    proxy_pass http://oneshot; }}
                location /oneshot_post {{ proxy_http_version 1.1;
                    proxy_set_header Connection "";
                    proxy_pass http://oneshot; }}
                location /pair {{ proxy_pass http://pair; }}
                location /intercept/ {{ proxy_intercept_errors on;
                    proxy_pass http://127.0.0.1:{pa}/status/; }}
                location /vars {{ proxy_pass http://$arg_to; }}
                location /dns {{ resolver {self.dns.addr};
                    proxy_pass http://$arg_h:{pa}; }}
                location /hdr {{ proxy_set_header X-Extra "v $request_method";
                    proxy_set_header User-Agent "";
                    proxy_pass http://127.0.0.1:{pa}; }}
                location /ws {{ proxy_http_version 1.1;
                    proxy_set_header Upgrade $http_upgrade;
                    proxy_set_header Connection upgrade;
                    proxy_pass http://127.0.0.1:{pa}; }}
            }}
        """
        self.inst = self.portico()
        self.inst.write_conf(http_conf([self.inst.port], block))
        self.inst.start(wait=False)
        self.inst.wait_workers(1)
        wait_for(lambda: self.get("/ready").status == 200,
                 "the proxy to answer", diag=self.inst.diag)

    def get(self, path, head=False, extra=b""):
        c = RawClient(self.inst.port, timeout=15)
        try:
            c.send(b"%s %s HTTP/1.1\r\nHost: test\r\n%s\r\n"
                   % (b"HEAD" if head else b"GET", path.encode(), extra))
            return c.response(head=head)
        finally:
            c.close()

    def post(self, path, body, chunked=False):
        c = RawClient(self.inst.port, timeout=15)
        try:
            if chunked:
                data = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 100]),
                                                   body[i:i + 100])
                                for i in range(0, len(body), 100))
                c.send(b"POST %s HTTP/1.1\r\nHost: test\r\n"
                       b"Transfer-Encoding: chunked\r\n\r\n%s0\r\n\r\n"
                       % (path.encode(), data))
            else:
                c.send(b"POST %s HTTP/1.1\r\nHost: test\r\n"
                       b"Content-Length: %d\r\n\r\n%s"
                       % (path.encode(), len(body), body))
            return c.response()
        finally:
            c.close()

    def access_lines(self):
        path = self.inst.path("logs", "access.log")
        with open(path) as f:
            return f.read().splitlines()

    def wait_access(self, uri):
        return wait_for(lambda: [l for l in self.access_lines()
                                 if l.startswith(uri + " ")],
                        f"the access log line of {uri}")[-1]

    def test_get_to_address(self):
        r = self.get("/p/q?x=1")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, b"a /p/q?x=1")
        self.assertEqual(r.header("X-Origin"), "a")
        self.assertTrue(r.header("Server").startswith("portico"))
        self.assertIsNone(r.header("X-Accel-Buffering"))
        seen = self.a.seen[-1]
        h = dict(seen["headers"])
        pa = self.a.server_address[1]
        self.assertEqual(h["Host"], f"127.0.0.1:{pa}")
        self.assertEqual(h["Connection"], "close")
        self.assertEqual(seen["method"], "GET")

    def test_set_header(self):
        self.get("/hdr", extra=b"User-Agent: ua\r\nX-Client: c\r\n")
        h = dict(self.a.seen[-1]["headers"])
        self.assertEqual(h["X-Extra"], "v GET")
        self.assertNotIn("User-Agent", h)
        self.assertEqual(h["X-Client"], "c")

    def test_method_body_and_header_lists(self):
        r = self.get("/setbody?k=v")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, b"3 " + hashlib.md5(b"k=v").hexdigest()
                         .encode())
        seen = self.a.seen[-1]
        self.assertEqual((seen["method"], seen["body"]), ("POST", b"k=v"))
        self.assertEqual(dict(seen["headers"])["Content-Length"], "3")
        r = self.get("/p")
        self.assertEqual(r.header("X-Origin"), "a")
        r2 = RawClient(self.inst.port, timeout=15)
        try:
            r2.send(b"POST /setbody HTTP/1.1\r\nHost: t\r\n"
                    b"Content-Length: 0\r\n\r\n")
            r = r2.response()
        finally:
            r2.close()
        self.assertIsNone(r.header("X-Origin"))
        self.assertTrue(r.header("Server").startswith("BaseHTTP"))

    def test_if_block_inherits_proxy_pass(self):
        r = self.get("/ifp?x=1")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, b"a /ifp?x=1")
        self.assertEqual(r.header("X-If"), "yes")
        r = self.get("/ifp")
        self.assertEqual(r.body, b"a /ifp")
        self.assertIsNone(r.header("X-If"))

    def test_upstream_name_and_uri_part(self):
        r = self.get("/up/a/b?k=v")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, b"b /x/a/b?k=v")
        self.assertEqual(dict(self.b.seen[-1]["headers"])["Host"], "be")

    def test_unix_socket(self):
        r = self.get("/unix/s")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, b"u /s")
        self.assertEqual(dict(self.u.seen[-1]["headers"])["Host"],
                         "localhost")

    def test_variables_target(self):
        pb = self.b.server_address[1]
        r = self.get(f"/vars?to=127.0.0.1:{pb}")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, f"b /vars?to=127.0.0.1:{pb}".encode())
        r = self.get("/vars?to=be")
        self.assertEqual(r.body, b"b /vars?to=be")

    def test_resolved_target(self):
        r = self.get("/dns?h=origin.test")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, b"a /dns?h=origin.test")
        pa = self.a.server_address[1]
        self.assertEqual(dict(self.a.seen[-1]["headers"])["Host"],
                         f"origin.test:{pa}")
        r = self.get("/dns?h=nosuch.test")
        self.assertEqual(r.status, 502)
        self.inst.wait_log(r"nosuch\.test could not be resolved "
                           r"\(3: Host not found\)")
        r = self.get("/vars?to=origin.test")
        self.assertEqual(r.status, 502)
        self.inst.wait_log(r"no resolver defined to resolve origin\.test")

    def test_post_body(self):
        body = os.urandom(700)
        r = self.post("/post", body)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, b"700 " + hashlib.md5(body).hexdigest()
                         .encode())
        self.assertEqual(self.a.seen[-1]["body"], body)

    def test_chunked_request_body_sent_with_length(self):
        body = os.urandom(900)
        r = self.post("/post", body, chunked=True)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, b"900 " + hashlib.md5(body).hexdigest()
                         .encode())

    def test_chunked_body_over_limit_413(self):
        r = self.post("/post", b"z" * 3000, chunked=True)
        self.assertEqual(r.status, 413)

    def test_chunked_response(self):
        r = self.get("/chunked")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("Transfer-Encoding"), "chunked")
        self.assertEqual(r.header("Content-Type"), "text/plain")
        self.assertEqual(r.body, b"".join(b"part %d;" % i for i in range(5)))

    def test_head_request(self):
        r = self.get("/x", head=True)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("Content-Length"), "1234")
        self.assertEqual(self.a.seen[-1]["method"], "HEAD")

    def test_big_body_streams(self):
        c = RawClient(self.inst.port, timeout=30)
        try:
            c.send(b"GET /big HTTP/1.1\r\nHost: t\r\n\r\n")
            r = c.response(timeout=60)
        finally:
            c.close()
        self.assertEqual(r.status, 200)
        self.assertEqual(len(r.body), BIG)
        block = bytes(range(256)) * 256
        self.assertEqual(hashlib.md5(r.body).hexdigest(),
                         hashlib.md5(block * (BIG // len(block))).hexdigest())

    def test_slow_client_spills_to_temp_file(self):
        # a normal socket: a tiny receive buffer stalls on zero-window
        # probe backoff; the kernel's buffers hold ~70 MiB at most here
        s = socket.socket()
        s.settimeout(30)
        s.connect(("127.0.0.1", self.inst.port))
        self.addCleanup(s.close)
        s.sendall(b"GET /big/huge HTTP/1.1\r\nHost: t\r\n\r\n")
        # the origin is done long before the client reads a byte
        wait_for(lambda: "/big/huge" in self.a.finished,
                 "the origin to finish", timeout=60)
        self.inst.wait_log(r"an upstream response is buffered to a "
                           r"temporary file")
        head, got, h, in_head = b"", 0, hashlib.md5(), True
        deadline = time.monotonic() + 120
        while got < HUGE and time.monotonic() < deadline:
            chunk = s.recv(1 << 20)
            if not chunk:
                break
            if in_head:
                head += chunk
                if b"\r\n\r\n" not in head:
                    continue
                head, _, chunk = head.partition(b"\r\n\r\n")
                in_head = False
            got += len(chunk)
            h.update(chunk)
        self.assertIn(b"Content-Length: %d" % HUGE, head)
        self.assertEqual(got, HUGE)
        block = bytes(range(256)) * 256
        want = hashlib.md5()
        for _ in range(HUGE // len(block)):
            want.update(block)
        self.assertEqual(h.hexdigest(), want.hexdigest())

    def test_memory_flat_for_long_chunked_body(self):
        pid = int(open(self.inst.path("logs", "portico.pid")).read())
        worker = wait_for(lambda: [int(x) for x in open(
            f"/proc/{pid}/task/{pid}/children").read().split()],
            "the worker")[0]

        def peak_after(chunks):
            c = RawClient(self.inst.port, timeout=60)
            try:
                c.send(b"GET /chunks/%d HTTP/1.0\r\nHost: t\r\n\r\n"
                       % chunks)
                n = 0
                while not c.eof:
                    c._recv(time.monotonic() + 60)
                    n += len(c.buf)
                    c.buf = b""
            finally:
                c.close()
            with open(f"/proc/{worker}/status") as f:
                hwm = int(re.search(r"VmHWM:\s+(\d+)", f.read()).group(1))
            return n, hwm

        n1, small = peak_after(2500)        # 10 MB
        n2, large = peak_after(25000)       # 100 MB
        self.assertGreater(n2, 100000000)
        # the peak does not grow with the body (kB)
        self.assertLess(large - small, 2048)

    def test_big_request_body(self):
        body = os.urandom(3 * 1024 * 1024)
        r = self.post("/big", body)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, b"%d %s" % (len(body), hashlib.md5(body)
                                             .hexdigest().encode()))

    def test_unbuffered_request_body(self):
        body = os.urandom(3 * 1024 * 1024)
        want = b"%d %s" % (len(body), hashlib.md5(body).hexdigest().encode())
        r = self.post("/stream", body)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, want)
        self.assertEqual(dict(self.a.seen[-1]["headers"])["Content-Length"],
                         str(len(body)))
        r = self.post("/stream", body, chunked=True)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, want)
        self.assertEqual(dict(self.a.seen[-1]["headers"])
                         ["Transfer-Encoding"], "chunked")
        r = self.post("/stream1k", b"y" * 5000, chunked=True)
        self.assertEqual(r.status, 413)

    def test_refused_502(self):
        r = self.get("/refused")
        self.assertEqual(r.status, 502)
        self.inst.wait_log(
            r"connect\(\) failed \(111: Connection refused\) while "
            r"connecting to upstream, client: 127\.0\.0\.1, server: , "
            r"request: \"GET /refused HTTP/1\.1\", upstream: "
            r"\"http://127\.0\.0\.1:\d+/refused\", host: \"test\"")

    def test_read_timeout_504(self):
        t0 = time.monotonic()
        r = self.get("/timeout")
        self.assertEqual(r.status, 504)
        self.assertLess(time.monotonic() - t0, 10)
        self.inst.wait_log(r"upstream timed out \(110: Connection timed "
                           r"out\) while reading response header from "
                           r"upstream")
        r = self.get("/slow")
        self.assertEqual(r.status, 504)

    def test_limit_rate(self):
        t0 = time.monotonic()
        r = self.get("/rate/1572864")
        self.assertEqual(len(r.body), 1572864)
        # a second's worth at once, then 512k/s: two more seconds
        self.assertGreater(time.monotonic() - t0, 1.5)

    def test_client_abort(self):
        c = RawClient(self.inst.port, timeout=15)
        c.send(b"GET /abort HTTP/1.1\r\nHost: t\r\n\r\n")
        wait_for(lambda: any(s["path"] == "/slow" for s in self.a.seen),
                 "the request to reach the origin")
        c.close()
        self.inst.wait_log(r"client prematurely closed connection, so "
                           r"upstream connection is closed too while "
                           r"reading response header from upstream")

    def test_invalid_header_502(self):
        r = self.get("/badhead")
        self.assertEqual(r.status, 502)
        self.inst.wait_log(r"upstream sent invalid header")

    def test_next_upstream(self):
        r = self.get("/pair/n")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, b"a /pair/n")
        pa = self.a.server_address[1]
        line = self.wait_access("/pair/n")
        self.assertIn(f"127.0.0.1:{self.dead}, 127.0.0.1:{pa} 502, 200",
                      line)

    def test_variables_logged(self):
        self.get("/logged")
        pa = self.a.server_address[1]
        line = self.wait_access("/logged")
        self.assertEqual(line, f"/logged 127.0.0.1:{pa} 200 9 "
                               f"127.0.0.1:{pa} a")

    def test_client_keepalive(self):
        c = RawClient(self.inst.port, timeout=15)
        try:
            for i in range(3):
                c.send(b"GET /k%d HTTP/1.1\r\nHost: t\r\n\r\n" % i)
                r = c.response()
                self.assertEqual(r.body, b"a /k%d" % i)
                self.assertEqual(r.header("Connection"), "keep-alive")
            c.send(b"GET /chunked HTTP/1.1\r\nHost: t\r\n\r\n")
            self.assertEqual(c.response().status, 200)
            c.send(b"GET /k9 HTTP/1.1\r\nHost: t\r\n\r\n")
            self.assertEqual(c.response().body, b"a /k9")
        finally:
            c.close()

    def test_upstream_keepalive(self):
        before = len(self.b.seen)
        for i in range(4):
            r = self.get("/ka/%d" % i)
            self.assertEqual(r.body, b"b /%d" % i)
        r = self.get("/ka/chunked")
        self.assertEqual(r.body, b"".join(b"part %d;" % i for i in range(5)))
        r = self.get("/ka/last")
        self.assertEqual(r.body, b"b /last")
        seen = self.b.seen[before:]
        self.assertEqual(len(seen), 6)
        self.assertEqual(len({s["peer"] for s in seen}), 1, seen)
        self.assertNotIn("Connection", dict(seen[0]["headers"]))

    def test_cached_connection_closed_by_origin(self):
        # a GET that meets a dropped kept-alive connection is sent again
        # on a fresh one
        self.assertEqual(self.get("/oneshot").body, b"first")
        self.assertEqual(self.get("/oneshot").body, b"first")
        self.assertEqual(self.oneshot.connections, 2)
        # a POST is not: it may have had its effect (502)
        c = RawClient(self.inst.port, timeout=15)
        try:
            c.send(b"POST /oneshot_post HTTP/1.1\r\nHost: t\r\n"
                   b"Content-Length: 2\r\n\r\nhi")
            r = c.response()
        finally:
            c.close()
        self.assertEqual(r.status, 502)

    def test_intercept_errors(self):
        r = self.get("/intercept/404")
        self.assertEqual(r.status, 404)
        self.assertEqual(r.body, b"custom 404")
        r = self.get("/intercept/503")
        self.assertEqual(r.status, 503)
        self.assertEqual(r.body, b"origin body 503")

    def test_x_accel_redirect(self):
        r = self.get("/accel")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, b"final page")
        r = self.get("/accel_named")
        self.assertEqual(r.body, b"named page")

    def test_next_upstream_on_status(self):
        # both peers answer 503: the second answer goes to the client
        r = self.get("/retry/503")
        self.assertEqual(r.status, 503)
        self.assertEqual(r.body, b"origin body 503")
        line = self.wait_access("/retry/503")
        self.assertIn(" 503, 503 ", line)
        # 500 is not in the list: no retry
        self.get("/retry/500")
        self.assertNotIn(",", self.wait_access("/retry/500").split()[1])

    def test_upgrade_tunnel(self):
        c = RawClient(self.inst.port, timeout=15)
        try:
            c.send(b"GET /ws HTTP/1.1\r\nHost: t\r\nUpgrade: echo\r\n"
                   b"Connection: upgrade\r\n\r\n")
            r = c.response()
            self.assertEqual(r.status, 101)
            self.assertEqual(r.header("Upgrade"), "echo")
            for word in (b"hello", b"world"):
                c.buf = b""
                c.send(word)
                wait_for(lambda: (c._recv(time.monotonic() + 5) or True)
                         and c.buf == word.upper(), "the echo")
        finally:
            c.close()


if __name__ == "__main__":
    unittest.main()
