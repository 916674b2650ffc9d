"""proxy_temp_path and client_body_temp_path with levels: a temp file is
named by a 10-digit number inside the level directories its name selects
(level 1 from the name's last digits), made by the worker on demand, and
unlinked at once, so nothing stays on disk. Also the levels' checks."""

import os
import re
import socket
import stat

import test_proxy_stream as tps
from origins import echo, started, stream
from portico_harness import wait_for
from proxy_util import ProxyCase, request, request_bytes

SIZE = 512 << 10


def files_under(tmp):
    return [os.path.join(d, f) for d, _, fs in os.walk(tmp) for f in fs]


class TempLevels(ProxyCase):

    def setUp(self):
        super().setUp()
        self.gen = tps.pattern(SIZE, piece=7777)
        self.o = started(self, stream(self.gen, length=SIZE))
        self.e = started(self, echo())
        self.inst = self.proxy(f"""
    server {{
        listen 127.0.0.1:@PORT@ sndbuf=8k;
        location /spill/ {{
            proxy_temp_path lv_proxy/ 1 2;
            proxy_buffers 4 8k; proxy_busy_buffers_size 8k;
            proxy_pass http://{self.o.addr}/;
        }}
        location /body/ {{
            client_body_temp_path lv_body 1 2;
            client_body_buffer_size 1k;
            proxy_pass http://{self.e.addr}/;
        }}
    }}""", error_level="warn")

    def assert_levels(self, tmp, name):
        """`name` (logged) is tmp/D/DD/NNNNNNNNNN with D and DD the name's
        last digits; the directories exist for the worker only; no file is
        left in tmp."""
        m = re.fullmatch(re.escape(tmp) + r"/(\d)/(\d\d)/(\d{10})", name)
        self.assertIsNotNone(m, name)
        l1, l2, num = m.groups()
        self.assertEqual((l1, l2), (num[-1], num[-3:-1]))
        for d in (os.path.join(tmp, l1), os.path.join(tmp, l1, l2)):
            st = os.stat(d)
            self.assertTrue(stat.S_ISDIR(st.st_mode), d)
            self.assertEqual(stat.S_IMODE(st.st_mode), 0o700, d)
            self.assertEqual(st.st_uid, os.stat(tmp).st_uid, d)
        self.assertEqual(files_under(tmp), [])

    def test_proxied_body_spills_into_levels(self):
        tmp = self.inst.path("lv_proxy")
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.settimeout(30)
        self.addCleanup(s.close)
        s.connect(("127.0.0.1", self.inst.port))
        s.sendall(request_bytes("/spill/x"))
        name = self.inst.wait_log(r"\[warn\] .*an upstream response is "
                                  r"buffered to a temporary file "
                                  r"(/[^, ]+)")[1]
        # while the response is still held: open, yet already unlinked
        self.assertEqual(files_under(tmp), [])
        head, digest, n = tps.SlowClient.finish(None, s)
        self.assertTrue(head.startswith(b"HTTP/1.1 200 "), head)
        self.assertEqual((n, digest), (SIZE, tps.digest_of(self.gen)))
        self.assert_levels(tmp, name)

    def test_client_body_spills_into_levels(self):
        tmp = self.inst.path("lv_body")
        body = bytes(range(256)) * 256          # 64k: beyond the 1k buffer
        r = request(self.inst.port, "/body/x", method="POST", body=body)
        self.assertEqual(r.status, 200)
        name = self.inst.wait_log(r"\[warn\] .*a client request body is "
                                  r"buffered to a temporary file "
                                  r"(/[^, ]+)")[1]
        self.assert_levels(tmp, name)

    def test_numbers_follow_each_other(self):
        tmp = self.inst.path("lv_body")
        body = b"x" * 4096
        for _ in range(3):
            r = request(self.inst.port, "/body/x", method="POST", body=body)
            self.assertEqual(r.status, 200)
        names = wait_for(lambda: (lambda v: v if len(v) >= 3 else None)(
            re.findall(r"a client request body is buffered to a temporary "
                       r"file \S+/(\d{10})", self.inst.log())),
            "three temp file lines", diag=self.inst.diag)
        nums = [int(n) for n in names]
        self.assertEqual(nums, list(range(nums[0], nums[0] + 3)))
        self.assertEqual(files_under(tmp), [])


class TempLevelErrors(ProxyCase):

    def config_error(self, directives):
        """`-t` with `directives` in a server (the prelude sets the http
        level's temp paths): (returncode, stderr)."""
        return super().config_error(
            "server {\n    listen 127.0.0.1:@PORT@;\n    " + directives
            + "\n    }")

    def assert_error(self, block, message, line_re=r"\d+"):
        rc, err = self.config_error(block)
        self.assertNotEqual(rc, 0, err)
        self.assertRegex(err, message + r" in \S+:" + line_re)

    def test_invalid_levels(self):
        for levels in ("0", "x", "-1", "11", "2 9", "4 4 3"):
            with self.subTest(levels=levels):
                self.assert_error(
                    f"proxy_temp_path /tmp/pt_lv {levels};",
                    r'"proxy_temp_path" directive invalid value')
                self.assert_error(
                    f"client_body_temp_path /tmp/pt_lv {levels};",
                    r'"client_body_temp_path" directive invalid value')

    def test_too_many_levels(self):
        self.assert_error("proxy_temp_path /tmp/pt_lv 1 1 1 1;",
                          r'invalid number of arguments in "proxy_temp_path"'
                          r' directive')

    def test_valid_levels(self):
        for levels in ("1", "3", "1 2", "2 2 2", "10", "01"):
            with self.subTest(levels=levels):
                rc, err = self.config_error(
                    f"proxy_temp_path /tmp/pt_lv {levels};")
                self.assertEqual(rc, 0, err)

    def test_same_path_different_levels(self):
        rc, err = self.config_error("proxy_temp_path /tmp/pt_lv 1;\n"
                                    "    client_body_temp_path /tmp/pt_lv/ "
                                    "1 2;")
        self.assertNotEqual(rc, 0, err)
        self.assertRegex(err, r'the same path name "/tmp/pt_lv" in \S+:\d+ '
                              r'has the different levels than in \S+:\d+')
        rc, err = self.config_error("proxy_temp_path /tmp/pt_lv 1 2;\n"
                                    "    client_body_temp_path /tmp/pt_lv/ "
                                    "1 2;")
        self.assertEqual(rc, 0, err)
