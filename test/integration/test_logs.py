"""Access logs and syslog: the default combined line, custom formats and
their escapes, access_log placement and inheritance, if=, buffers (flush
time, exit, reopen, gzip), USR1 reopen, whole lines from several workers,
paths with variables, and syslog datagrams from access_log and error_log
at the main and location levels."""

import gzip
import http.client
import json
import os
import re
import signal
import socket
import threading
import time
import unittest

from portico_harness import (PorticoTestCase, free_port, http_get, wait_for,
                             workers_of)

TIME_LOCAL = r"\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}"
SYSLOG_TIME = r"[A-Z][a-z]{2} [ 123]\d \d\d:\d\d:\d\d"
READY = 'location = / { return 200 "v1 $pid\\n"; }'


def conf(port, http_block, workers=1, main_extra="", error_level="info"):
    """A whole config; @PORT@ in the http block becomes `port`."""
    return "\n".join([
        "daemon off;",
        f"worker_processes {workers};",
        f"error_log logs/error.log {error_level};",
        "pid logs/portico.pid;",
        main_extra,
        "events { worker_connections 256; }",
        "http {",
        http_block.replace("@PORT@", str(port)),
        "}",
        "",
    ])


def wchan(pid):
    with open(f"/proc/{pid}/wchan") as f:
        return f.read().strip()


def request(port, path, headers=None, method="GET", body=None, conn=None):
    """One request; (status, body bytes). With conn, on that keep-alive
    connection."""
    c = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, r.read()
    finally:
        if conn is None:
            c.close()


def raw_request(port, data):
    """Send raw bytes, read until the server closes; the response bytes."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(data)
        out = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return out
            out += chunk


class UdpSink:
    """A datagram socket on 127.0.0.1 playing the syslog server."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.seen = []

    def wait(self, pattern, timeout=10):
        """The first datagram (whole, decoded) matching the regex."""
        rx = re.compile(pattern, re.S)
        deadline = time.monotonic() + timeout
        for d in self.seen:
            if rx.search(d):
                return d
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                d = self.sock.recv(65535).decode("latin-1")
            except socket.timeout:
                break
            self.seen.append(d)
            if rx.search(d):
                return d
        raise AssertionError(f"no datagram /{pattern}/ in {self.seen!r}")

    def close(self):
        self.sock.close()


class Logs(PorticoTestCase):

    def start(self, http_block, workers=1, main_extra="", files=()):
        """Start portico with `http_block` (@PORT@ filled in); `files`
        are created under the prefix first (e.g. html/)."""
        port = free_port()
        inst = self.portico(port=port, workers=workers)
        for d in files:
            os.makedirs(inst.path(d), exist_ok=True)
            os.chmod(inst.path(d), 0o777)
        inst.write_conf(conf(port, http_block, workers, main_extra))
        inst.start(workers=workers)
        return inst

    def read(self, inst, name="access.log"):
        try:
            with open(inst.path("logs", name), "rb") as f:
                return f.read().decode("latin-1")
        except FileNotFoundError:
            return ""

    def lines(self, inst, name="access.log", path=None):
        """Lines of a log, without those of the readiness probe."""
        return [ln for ln in self.read(inst, name).splitlines()
                if (path is None and '"GET / HTTP' not in ln)
                or (path is not None and path in ln)]

    def wait_lines(self, inst, n, name="access.log", path=None):
        return wait_for(lambda: (lambda v: v if len(v) >= n else None)(
                        self.lines(inst, name, path)),
                        f"{n} lines in {name}", diag=inst.diag)

    # ------------------------------------------------------------ format

    def test_default_combined_line(self):
        inst = self.start(f"""
            server {{
                listen 127.0.0.1:@PORT@;
                {READY}
                location /a {{ return 200 "hello"; }}
            }}""")
        status, body = request(inst.port, "/a?x=1",
                               {"User-Agent": "ua/1.0",
                                "Referer": "http://r.example/p"})
        self.assertEqual((status, body), (200, b"hello"))
        request(inst.port, "/a", {"User-Agent": "t",
                                  "Authorization": "Basic Ym9iOnNlY3JldA=="})
        ls = self.wait_lines(inst, 2)
        self.assertRegex(ls[0], r'^127\.0\.0\.1 - - \[' + TIME_LOCAL +
                         r'\] "GET /a\?x=1 HTTP/1\.1" 200 \d+ '
                         r'"http://r\.example/p" "ua/1\.0"$')
        self.assertRegex(ls[1], r'^127\.0\.0\.1 - bob \[' + TIME_LOCAL +
                         r'\] "GET /a HTTP/1\.1" 200 \d+ "-" "t"$')

    def test_custom_format_variables(self):
        inst = self.start(f"""
            log_format many '$status|$body_bytes_sent|$request_time|'
                            '$request_length|$msec|$connection|'
                            '$connection_requests|$pid|$http_x_test|'
                            '$sent_http_content_type|$request_method|$uri|'
                            '$args|$bytes_sent|${{server_port}}|$time_iso8601';
            server {{
                listen 127.0.0.1:@PORT@;
                access_log logs/many.log many;
                {READY}
                location /m {{ default_type text/x-m; return 200 "12345"; }}
            }}""")
        c = http.client.HTTPConnection("127.0.0.1", inst.port, timeout=5)
        before = time.time()
        request(inst.port, "/m?k=v", {"X-Test": "hello"}, conn=c)
        request(inst.port, "/m", conn=c)
        after = time.time()
        c.close()
        ls = self.wait_lines(inst, 2, "many.log", path="|/m|")
        worker = workers_of(inst.master)[0]
        for n, ln in enumerate(ls, 1):
            f = ln.split("|")
            self.assertEqual(len(f), 16, ln)
            self.assertEqual(f[0], "200")
            self.assertRegex(f[1], r"^\d+$")    # see test_byte_counts
            self.assertRegex(f[2], r"^\d+\.\d{3}$")
            self.assertRegex(f[3], r"^\d+$")
            self.assertRegex(f[4], r"^\d+\.\d{3}$")
            self.assertTrue(before - 1 <= float(f[4]) <= after + 1, f[4])
            self.assertRegex(f[5], r"^\d+$")
            self.assertEqual(f[6], str(n))
            self.assertEqual(f[7], str(worker))
            self.assertEqual(f[9], "text/x-m")
            self.assertEqual(f[10], "GET")
            self.assertEqual(f[11], "/m")
            self.assertGreater(int(f[13]), int(f[1]))
            self.assertEqual(f[14], str(inst.port))
            self.assertRegex(f[15], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d"
                             r"[+-]\d\d:\d\d$")
        self.assertEqual(ls[0].split("|")[8], "hello")
        self.assertEqual(ls[1].split("|")[8], "-")
        self.assertEqual(ls[0].split("|")[12], "k=v")
        # one keep-alive connection for both
        self.assertEqual(ls[0].split("|")[5], ls[1].split("|")[5])
        # request_length counts the whole head
        self.assertEqual(int(ls[0].split("|")[3]),
                         len("GET /m?k=v HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                             "Accept-Encoding: identity\r\n"
                             "X-Test: hello\r\n\r\n" % inst.port))

    # nginx logs 5 and the whole response size, per request, on both
    # requests of one keep-alive connection.
    def test_byte_counts(self):
        inst = self.start(f"""
            log_format n '$uri $body_bytes_sent $bytes_sent';
            server {{
                listen 127.0.0.1:@PORT@;
                access_log logs/n.log n;
                {READY}
                location /n {{ return 200 "12345"; }}
            }}""")
        with socket.create_connection(("127.0.0.1", inst.port),
                                      timeout=5) as s:
            sizes = []
            for _ in range(2):
                s.sendall(b"GET /n HTTP/1.1\r\nHost: x\r\n\r\n")
                data = b""
                while not data.endswith(b"12345"):
                    data += s.recv(4096)
                sizes.append(len(data))
        ls = self.wait_lines(inst, 2, "n.log", path="/n ")
        self.assertEqual(ls, [f"/n 5 {sizes[0]}", f"/n 5 {sizes[1]}"])

    def test_access_log_in_if(self):
        inst = self.start(f"""
            server {{
                listen 127.0.0.1:@PORT@;
                {READY}
                location /iff {{
                    if ($arg_quiet) {{ access_log off; return 200 "q"; }}
                    if ($arg_other) {{
                        access_log logs/other.log combined;
                        return 200 "o";
                    }}
                    return 200 "i";
                }}
            }}""")
        for q in ("/iff?quiet=1", "/iff?other=1", "/iff?plain=1"):
            self.assertEqual(request(inst.port, q)[0], 200)
        ls = self.wait_lines(inst, 1, path="/iff")
        self.assertEqual(len(ls), 1)
        self.assertIn("/iff?plain=1", ls[0])
        ls = self.lines(inst, "other.log", path="/iff")
        self.assertEqual(len(ls), 1)
        self.assertIn("/iff?other=1", ls[0])

    def test_escape_json(self):
        inst = self.start(f"""
            log_format j escape=json '{{"uri":"$uri",'
                                     '"ua":"$http_user_agent",'
                                     '"none":"$http_x_none","s":$status}}';
            server {{
                listen 127.0.0.1:@PORT@;
                access_log logs/j.log j;
                {READY}
                location /j {{ return 204; }}
            }}""")
        raw_request(inst.port, b'GET /j HTTP/1.1\r\nHost: x\r\n'
                    b'User-Agent: a"b\\c\xc3\xa9\r\nConnection: close\r\n\r\n')
        ln = self.wait_lines(inst, 1, "j.log", path='"/j"')[0]
        self.assertEqual(ln, '{"uri":"/j","ua":"a\\"b\\\\c\xc3\xa9",'
                         '"none":"","s":204}')
        self.assertEqual(json.loads(ln.encode("latin-1").decode()),
                         {"uri": "/j", "ua": 'a"b\\cé', "none": "",
                          "s": 204})

    def test_escape_default_and_none(self):
        inst = self.start(f"""
            log_format d '$uri [$http_user_agent] [$http_x_none]';
            log_format n escape=none '$uri [$http_user_agent] [$http_x_none]';
            server {{
                listen 127.0.0.1:@PORT@;
                access_log logs/d.log d;
                access_log logs/n.log n;
                {READY}
            }}""")
        raw_request(inst.port, b'GET /e HTTP/1.1\r\nHost: x\r\n'
                    b'User-Agent: a"b\\c\xc3\xa9~\r\n'
                    b'Connection: close\r\n\r\n')
        self.assertEqual(self.wait_lines(inst, 1, "d.log", path="/e ")[0],
                         r'/e [a\x22b\x5Cc\xC3\xA9~] [-]')
        self.assertEqual(self.wait_lines(inst, 1, "n.log", path="/e ")[0],
                         '/e [a"b\\c\xc3\xa9~] []')

    # ------------------------------------------------------------ placement

    def test_off_in_location_and_inheritance(self):
        inst = self.start(f"""
            access_log logs/http.log combined;
            server {{
                listen 127.0.0.1:@PORT@;
                {READY}
                location /quiet {{ access_log off; return 200 "q"; }}
                location /own {{
                    access_log logs/own.log combined;
                    access_log logs/own2.log combined;
                    return 200 "o";
                }}
                location /inherit {{ return 200 "i"; }}
            }}""")
        for p in ("/quiet", "/own", "/quiet/x", "/inherit"):
            self.assertEqual(request(inst.port, p)[0], 200)
        self.wait_lines(inst, 1, "http.log", path="/inherit")
        http_log = self.read(inst, "http.log")
        self.assertNotIn("/quiet", http_log)
        self.assertNotIn("/own", http_log)
        # a level with its own access_log replaces the parent's, and each
        # of several access_log at one level gets the line
        for name in ("own.log", "own2.log"):
            ls = self.lines(inst, name)
            self.assertEqual(len(ls), 1, ls)
            self.assertRegex(ls[0], r'"GET /own HTTP/1\.1" 200 \d+ ')
        # the default file is not used once http has an access_log
        self.assertEqual(self.read(inst, "access.log"), "")

    def test_per_server_logs(self):
        inst = self.start(f"""
            server {{
                listen 127.0.0.1:@PORT@;
                server_name one.example;
                access_log logs/one.log combined;
                {READY}
            }}
            server {{
                listen 127.0.0.1:@PORT@;
                server_name two.example;
                access_log logs/two.log combined;
                location / {{ return 200 "two"; }}
            }}
            server {{
                listen 127.0.0.1:@PORT@;
                server_name three.example;
                location / {{ return 200 "three"; }}
            }}""")
        for host in ("one.example", "two.example", "three.example"):
            request(inst.port, "/host-" + host, {"Host": host})
        for name, host in (("one.log", "one"), ("two.log", "two"),
                           ("access.log", "three")):
            # each server's requests in its own file, and only those; no
            # access_log in the server: the default logs/access.log
            ls = self.wait_lines(inst, 1, name, path="/host-")
            self.assertEqual(len(ls), 1, ls)
            self.assertIn(f"/host-{host}.example", ls[0])

    def test_if_condition(self):
        inst = self.start(f"""
            log_format p '$request_uri';
            server {{
                listen 127.0.0.1:@PORT@;
                access_log logs/if.log p if=$arg_log;
                {READY}
                location /c {{ return 200 "c"; }}
            }}""")
        for q in ("/c?log=0", "/c", "/c?log=", "/c?log=1", "/c?log=yes"):
            request(inst.port, q)
        self.wait_lines(inst, 2, "if.log")
        # the last request is logged: the others before it were skipped
        self.assertEqual(self.lines(inst, "if.log"),
                         ["/c?log=1", "/c?log=yes"])

    def test_path_with_variables(self):
        inst = self.start(f"""
            log_format p '$uri';
            server {{
                listen 127.0.0.1:@PORT@;
                access_log logs/by-$arg_f.log p;
                {READY}
                location /v {{ return 200 "v"; }}
                location /noroot {{ root /nonexistent/dir; return 200 "n"; }}
            }}""", files=["html", "logs"])
        request(inst.port, "/v?f=a")
        request(inst.port, "/v?f=b")
        request(inst.port, "/v2?f=a")
        wait_for(lambda: self.lines(inst, "by-a.log") == ["/v", "/v2"],
                 "by-a.log", diag=inst.diag)
        self.assertEqual(self.lines(inst, "by-b.log"), ["/v"])
        # nothing is logged while the location's root does not exist
        request(inst.port, "/noroot?f=c")
        inst.wait_log(r'testing "/nonexistent/dir" existence failed')
        self.assertFalse(os.path.exists(inst.path("logs", "by-c.log")))

    # ------------------------------------------------------------ buffers

    def test_buffer_flushed_after_flush_time(self):
        inst = self.start(f"""
            server {{
                listen 127.0.0.1:@PORT@;
                access_log logs/b.log combined buffer=64k flush=1s;
                {READY}
            }}""")
        # the readiness probe itself sits in the buffer for up to 1 s
        request(inst.port, "/buffered")
        t0 = time.monotonic()
        ls = self.wait_lines(inst, 1, "b.log", path="/buffered")
        self.assertEqual(len(ls), 1)
        self.assertLess(time.monotonic() - t0, 5)

    def test_buffer_flushed_at_exit(self):
        inst = self.start(f"""
            server {{
                listen 127.0.0.1:@PORT@;
                access_log logs/b.log combined buffer=64k;
                {READY}
            }}""")
        for i in range(3):
            request(inst.port, f"/x{i}")
        time.sleep(0.2)
        self.assertEqual(self.read(inst, "b.log"), "")
        inst.signal(signal.SIGQUIT)
        inst.wait_gone([inst.master], "the master")
        self.assertEqual(len(self.lines(inst, "b.log", path="/x")), 3)

    def test_buffer_flushed_before_reopen_and_gzip(self):
        inst = self.start(f"""
            server {{
                listen 127.0.0.1:@PORT@;
                access_log logs/b.log combined buffer=64k;
                access_log logs/z.log.gz combined gzip=5;
                {READY}
            }}""")
        request(inst.port, "/before")
        os.rename(inst.path("logs", "b.log"), inst.path("logs", "b.log.1"))
        os.rename(inst.path("logs", "z.log.gz"),
                  inst.path("logs", "z.log.gz.1"))
        inst.signal(signal.SIGUSR1)
        wait_for(lambda: "/before" in self.read(inst, "b.log.1"),
                 "the buffered line in the rotated file", diag=inst.diag)
        wait_for(lambda: os.path.exists(inst.path("logs", "b.log")),
                 "b.log to be reopened", diag=inst.diag)
        inst.wait_log(rf"\[notice\] {workers_of(inst.master)[0]}#\d+: "
                      r"reopening logs")
        request(inst.port, "/after")
        inst.signal(signal.SIGQUIT)
        inst.wait_gone([inst.master], "the master")
        self.assertNotIn("/after", self.read(inst, "b.log.1"))
        self.assertEqual(len(self.lines(inst, "b.log", path="/after")), 1)
        with gzip.open(inst.path("logs", "z.log.gz.1"), "rt") as f:
            old = f.read()
        with gzip.open(inst.path("logs", "z.log.gz"), "rt") as f:
            new = f.read()
        self.assertIn('"GET /before HTTP/1.1" 404 ', old)
        self.assertNotIn("/after", old)
        self.assertIn('"GET /after HTTP/1.1" 404 ', new)

    def test_usr1_reopens_access_logs(self):
        inst = self.start(f"""
            server {{
                listen 127.0.0.1:@PORT@;
                {READY}
            }}""", workers=2)
        request(inst.port, "/one")
        self.wait_lines(inst, 1, path="/one")
        os.rename(inst.path("logs", "access.log"),
                  inst.path("logs", "access.log.1"))
        # a worker still starting up could miss the signal (it is noted
        # only when the event loop wakes): wait until both sleep in it
        wait_for(lambda: all(wchan(p) == "do_epoll_wait"
                             for p in workers_of(inst.master)),
                 "both workers in their event loop", diag=inst.diag)
        mark = inst.log_size()
        inst.signal(signal.SIGUSR1)
        for pid in workers_of(inst.master):
            inst.wait_log(rf"\[notice\] {pid}#\d+: reopening logs",
                          since=mark)
        for i in range(20):    # new connections: both workers answer
            request(inst.port, f"/two{i}")
        self.wait_lines(inst, 20, path="/two")
        self.assertNotIn("/two", self.read(inst, "access.log.1"))
        self.assertIn("/one", self.read(inst, "access.log.1"))

    def test_two_workers_never_interleave(self):
        inst = self.start(f"""
            log_format big '$pid $uri $http_x_pad END';
            server {{
                listen 127.0.0.1:@PORT@;
                access_log logs/big.log big;
                {READY}
            }}""", workers=2)
        pads = [chr(ord("a") + i) * 6000 for i in range(8)]
        errors = []

        def client(i):
            try:
                for _ in range(40):
                    request(inst.port, "/load", {"X-Pad": pads[i]})
            except Exception as e:     # reported below
                errors.append(repr(e))

        threads = [threading.Thread(target=client, args=(i,), daemon=True)
                   for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        self.assertEqual(errors, [])
        ls = self.wait_lines(inst, 320, "big.log", path=" /load ")
        self.assertEqual(len(ls), 320)
        rx = re.compile(r"^(\d+) /load (([a-h])\3{5999}) END$")
        bad = [ln[:80] for ln in ls if not rx.match(ln)]
        self.assertEqual(bad, [])
        # both workers wrote (else the test would prove nothing)
        self.assertEqual({int(rx.match(ln).group(1)) for ln in ls},
                         set(workers_of(inst.master)))

    # ------------------------------------------------------------ syslog

    def sink(self):
        s = UdpSink()
        self.addCleanup(s.close)
        return s

    def test_syslog_access_log_datagram(self):
        udp = self.sink()
        params = "facility=local0,severity=warn,nohostname"
        inst = self.start(f"""
            server {{
                listen 127.0.0.1:@PORT@;
                access_log syslog:server=127.0.0.1:{udp.port},tag=web;
                access_log syslog:server=127.0.0.1:{udp.port},{params}
                           combined;
                {READY}
                location /s {{ return 200 "sys"; }}
            }}""")
        request(inst.port, "/s", {"User-Agent": "u"})
        host = re.escape(socket.gethostname())
        line = (r'127\.0\.0\.1 - - \[' + TIME_LOCAL +
                r'\] "GET /s HTTP/1\.1" 200 \d+ "-" "u"')
        udp.wait(r"^<190>" + SYSLOG_TIME + " " + host + r" web: " + line +
                 r"$")
        udp.wait(r"^<132>" + SYSLOG_TIME + r" portico: " + line + r"$")
        # no file was opened for them
        self.assertFalse(os.path.exists(inst.path("logs", "access.log")))

    def test_syslog_error_log_main_level(self):
        udp = self.sink()
        inst = self.start(f"""
            server {{
                listen 127.0.0.1:@PORT@;
                {READY}
            }}""", main_extra=f"error_log syslog:server=127.0.0.1:{udp.port}"
                              ",tag=main notice;")
        host = re.escape(socket.gethostname())
        d = udp.wait(rf"\[notice\] {inst.master}#{inst.master}: start "
                     r"worker process")
        self.assertRegex(d, r"^<189>" + SYSLOG_TIME + " " + host +
                         r" main: \d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[notice\] "
                         rf"{inst.master}#{inst.master}: start worker "
                         r"process \d+$")
        # the file log still gets everything
        self.assertIn("start worker process", inst.log())

    def test_syslog_error_log_location_level(self):
        udp = self.sink()
        inst = self.start(f"""
            server {{
                listen 127.0.0.1:@PORT@;
                {READY}
                location /small {{
                    client_max_body_size 10;
                    error_log syslog:server=127.0.0.1:{udp.port} warn;
                    return 200 "s";
                }}
            }}""")
        status, _ = request(inst.port, "/small", method="POST",
                            body=b"x" * 100)
        self.assertEqual(status, 413)
        worker = workers_of(inst.master)[0]
        host = re.escape(socket.gethostname())
        d = udp.wait(r"client intended to send too large body")
        self.assertRegex(d, r"^<187>" + SYSLOG_TIME + " " + host +
                         r" portico: \d{4}/\d\d/\d\d \d\d:\d\d:\d\d "
                         rf"\[error\] {worker}#{worker}: .*client intended "
                         r"to send too large body: 100 bytes")
        # the location's error_log replaced the main one for this message
        self.assertNotIn("too large body", inst.log())

    # ------------------------------------------------------------ config

    def check_conf(self, http_block, message):
        port = free_port()
        inst = self.portico(port=port)
        inst.write_conf(conf(port, http_block))
        r = inst.run("-t")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(message, r.stderr)

    def test_config_errors(self):
        srv = "server { listen 127.0.0.1:@PORT@; %s }"
        for block, msg in [
            (srv % "access_log logs/a.log nosuch;",
             'unknown log format "nosuch"'),
            ("log_format combined '$uri';", 'duplicate "log_format" name '
             '"combined"'),
            ("log_format x escape=xml '$uri';",
             'unknown log format escaping "xml"'),
            ("log_format x '${uri';",
             'the closing bracket in "uri" variable is missing'),
            ("log_format x '$nosuchvar';", 'unknown "nosuchvar" variable'),
            (srv % "access_log logs/a.log combined flush=1s;",
             'no buffer is defined for access_log "logs/a.log"'),
            (srv % "access_log logs/a.log combined buffer=x;",
             'invalid buffer size "x"'),
            (srv % "access_log logs/a.log combined gzip=10;",
             'invalid compression level "10"'),
            (srv % "access_log logs/$uri.log combined buffer=4k;",
             "buffered logs cannot have variables in name"),
            (srv % "access_log syslog:server=127.0.0.1 combined buffer=4k;",
             "logs to syslog cannot be buffered"),
            (srv % "access_log syslog:tag=x;", "no syslog server specified"),
            (srv % "access_log syslog:server=127.0.0.1,facility=nope;",
             'unknown syslog facility "nope"'),
            (srv % "access_log off combined;", 'invalid parameter "combined"'),
            (srv % ("access_log logs/a.log combined buffer=4k;"
                    "access_log logs/a.log combined buffer=8k;"),
             'access_log "logs/a.log" already defined with conflicting '
             'parameters'),
            (srv % "error_log syslog:server=127.0.0.1,bogus;",
             'unknown syslog parameter "bogus"'),
        ]:
            with self.subTest(block=block):
                self.check_conf(block, msg)

    def test_config_accepted(self):
        port = free_port()
        inst = self.portico(port=port)
        inst.write_conf(conf(port, """
            open_log_file_cache max=1000 inactive=20s valid=1m min_uses=2;
            log_format empty escape=json;
            access_log logs/a.log combined buffer=4k gzip flush=5m if=$arg_x;
            server {
                listen 127.0.0.1:@PORT@;
                access_log syslog:server=[::1]:5514,@PARAMS@ empty;
                access_log syslog:server=unix:/dev/log;
                error_log syslog:server=127.0.0.1 debug;
            }""".replace("@PARAMS@", "facility=daemon,severity=info,tag=t_1,"
                                    "nohostname"),
            main_extra="error_log syslog:server=localhost:5514;"))
        r = inst.run("-t")
        self.assertEqual(r.returncode, 0, r.stderr)


class ConnectionNumbers(PorticoTestCase):
    """The "*N" of error log lines: one counter for all workers, as nginx
    keeps it in shared memory, so two workers never log the same N; a
    reload keeps it going."""

    LINE = re.compile(r"\[error\] (\d+)#\d+: \*(\d+) open\(\) \"[^\"]*"
                      r"/missing\d+\" failed")

    def numbers(self, inst):
        with open(inst.path("logs", "error.log"), errors="replace") as f:
            return [(int(p), int(n)) for p, n in self.LINE.findall(f.read())]

    def provoke(self, inst, workers, limit=400):
        """404s (each logs open() failed at error), one per connection,
        until every worker in `workers` has logged: those lines' N."""
        for i in range(limit):
            status, _, _ = http_get(inst.port, f"/missing{i}")
            self.assertEqual(status, 404)
            got = [(p, n) for p, n in self.numbers(inst) if p in workers]
            if {p for p, _ in got} == set(workers):
                return [n for _, n in got]
        self.fail(f"not all of {workers} logged in {limit} connections: "
                  f"{self.numbers(inst)}")

    def test_distinct_across_workers_and_reload(self):
        port = free_port()
        inst = self.portico(port=port, workers=2)
        inst.write_conf(conf(port, f"""
    server {{
        listen 127.0.0.1:{port} reuseport;
        {READY}
    }}""", workers=2, error_level="error"))
        inst.start(workers=2)
        first = inst.wait_workers(2)
        before = self.provoke(inst, first)
        self.assertEqual(len(before), len(set(before)), before)

        inst.signal(signal.SIGHUP)
        second = inst.wait_workers(2, exclude=first)
        after = self.provoke(inst, second)
        self.assertEqual(len(after), len(set(after)), after)
        self.assertGreater(min(after), max(before))
