"""proxy_busy_buffers_size and proxy_temp_file_write_size: with
proxy_buffering on, at most busy_buffers_size of memory buffers wait in
the client's output; what the origin sends beyond it goes to the temp file
(written in batches of up to temp_file_write_size) or waits when temp
files are off. The client is slow: it reads nothing until told to."""

import re
import socket
import threading
import time

import test_proxy_stream as tps
from origins import started, stream
from portico_harness import wait_for
from proxy_util import ProxyCase, request_bytes

SIZE = 512 << 10         # fits proxy_buffers 32 32k, not 32k of busy


def signalling(behaviour, done):
    """`behaviour`, then `done` set once its whole response was sent."""
    def b(c, req):
        keep = behaviour(c, req)
        done.set()
        return keep
    return b


class BusyBuffers(ProxyCase):

    def setUp(self):
        super().setUp()
        self.done = threading.Event()
        self.gen = tps.pattern(SIZE, piece=7777)
        self.o = started(self, signalling(stream(self.gen, length=SIZE),
                                          self.done))
        self.c = started(self, stream(self.gen))    # chunked
        mem = "proxy_buffers 32 32k;"
        # a small send buffer: the kernel holds little of what the client
        # does not read, so the proxy's buffers decide where the body waits
        self.inst = self.proxy(f"""
    server {{
        listen 127.0.0.1:@PORT@ sndbuf=8k;
        location /small/ {{
            {mem} proxy_busy_buffers_size 32k;
            proxy_pass http://{self.o.addr}/;
        }}
        location /large/ {{
            {mem} proxy_busy_buffers_size 960k;
            proxy_pass http://{self.o.addr}/;
        }}
        location /nofile/ {{
            {mem} proxy_busy_buffers_size 32k; proxy_max_temp_file_size 0;
            proxy_pass http://{self.o.addr}/;
        }}
        location /chunked/ {{
            {mem} proxy_busy_buffers_size 32k;
            proxy_temp_file_write_size 100k;
            proxy_pass http://{self.c.addr}/;
        }}
    }}""", error_level="warn")
        self.tmp = self.inst.path("proxy_temp")

    def slow(self, path):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.settimeout(30)
        self.addCleanup(s.close)
        s.connect(("127.0.0.1", self.inst.port))
        s.sendall(request_bytes(path))
        return s

    def assert_intact(self, s):
        head, digest, n = tps.SlowClient.finish(None, s)
        self.assertTrue(head.startswith(b"HTTP/1.1 200 "), head)
        self.assertEqual((n, digest), (SIZE, tps.digest_of(self.gen)))

    def assert_spilled(self):
        wait_for(lambda: tps.temp_files(self.inst, self.tmp),
                 "a temp file in proxy_temp_path", timeout=15,
                 diag=self.inst.diag)
        self.inst.wait_log(r"\[warn\] .*an upstream response is buffered "
                           r"to a temporary file " + re.escape(self.tmp))

    def test_busy_limit_sends_the_rest_to_the_temp_file(self):
        # the memory buffers could hold the whole body; the busy limit
        # keeps all but 32k of it out of them
        s = self.slow("/small/x")
        self.assert_spilled()
        self.assertTrue(self.done.wait(15), "the origin to finish")
        self.assert_intact(s)

    def test_large_busy_limit_keeps_the_body_in_memory(self):
        s = self.slow("/large/x")
        self.assertTrue(self.done.wait(15), "the origin to finish")
        time.sleep(0.3)                   # a negative: bounded wait
        self.assertEqual(tps.temp_files(self.inst, self.tmp), [])
        self.assertNotIn("temporary file", self.inst.log())
        self.assert_intact(s)

    def test_without_temp_files_the_origin_waits(self):
        s = self.slow("/nofile/x")
        time.sleep(0.5)                   # a negative: bounded wait
        self.assertEqual(tps.temp_files(self.inst, self.tmp), [])
        self.assert_intact(s)
        self.assertNotIn("temporary file", self.inst.log())

    def test_chunked_body_spilled_in_batches(self):
        s = self.slow("/chunked/x")
        self.assert_spilled()
        head, digest, n = tps.SlowClient.finish(None, s)
        self.assertIn(b"Transfer-Encoding: chunked", head)
        self.assertEqual((n, digest), (SIZE, tps.digest_of(self.gen)))


class Defaults(ProxyCase):

    def test_defaults_follow_the_levels_own_buffers(self):
        # as nginx: unset sizes default from the location's proxy_buffers,
        # not from the outer level's
        rc, err = self.config_error("""
    proxy_buffers 4 4k;
    server {
        listen 127.0.0.1:@PORT@;
        location / { proxy_buffers 32 32k; proxy_pass http://127.0.0.1:9; }
    }""")
        self.assertEqual(rc, 0, err)
        rc, err = self.config_error("""
    proxy_temp_file_write_size 8k;
    server {
        listen 127.0.0.1:@PORT@;
        location / { proxy_buffers 32 32k; proxy_pass http://127.0.0.1:9; }
    }""")
        self.assertNotEqual(rc, 0)
        self.assertIn('"proxy_temp_file_write_size" must be equal to or '
                      'greater than', err)
