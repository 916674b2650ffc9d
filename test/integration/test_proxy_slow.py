"""Heavy proxy case, run by `make test-slow` (PORTICO_SLOW=1): a
multi-gigabyte body streamed from an origin through the proxy to a slow
reader, byte-exact, with the worker's RSS bounded by the buffer settings
whatever the body size (RSS figures are skipped under sanitizers, as in
test_slow.py). PT_PROXY_SLOW_BYTES overrides the size (to try it small)."""

import hashlib
import os
import socket
import threading
import time
import unittest

from origins import started, stream
from portico_harness import workers_of
from proxy_util import ProxyCase, dechunk_stream, request_bytes
from test_proxy_stream import pattern
from test_slow import SLOW, rss, sanitized

SIZE = int(os.environ.get("PT_PROXY_SLOW_BYTES", 3 << 30))
RSS_GROWTH = 32 << 20        # far above 8 x 8k buffers, far below SIZE


class Sampler(threading.Thread):
    """The highest RSS of pid until stop()."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = 0
        self.ev = threading.Event()

    def run(self):
        while not self.ev.wait(0.05):
            try:
                self.peak = max(self.peak, rss(self.pid))
            except (AssertionError, OSError):
                return

    def stop(self):
        self.ev.set()
        self.join(5)


@unittest.skipUnless(SLOW, "slow test: run with make test-slow")
class HugeBody(ProxyCase):

    def test_multi_gigabyte_body_to_a_slow_reader(self):
        gen = pattern(SIZE, piece=1 << 16)
        o = started(self, stream(gen))
        inst = self.proxy(f"""
    server {{
        listen 127.0.0.1:@PORT@;
        proxy_buffers 8 8k;
        proxy_buffer_size 8k;
        proxy_read_timeout 60s;
        send_timeout 60s;
        location /buffered/ {{
            proxy_max_temp_file_size 0;
            proxy_pass http://{o.addr}/;
        }}
        location /unbuffered/ {{
            proxy_buffering off;
            proxy_pass http://{o.addr}/;
        }}
    }}""")
        want = hashlib.sha256()
        for piece in gen():
            want.update(piece)
        worker = workers_of(inst.master)[0]
        base = rss(worker)
        for path in ("/buffered/x", "/unbuffered/x"):
            sampler = Sampler(worker)
            sampler.start()
            try:
                n, digest = self.slow_read(inst.port, path)
            finally:
                sampler.stop()
            self.assertEqual(n, SIZE, path)
            self.assertEqual(digest, want.hexdigest(), path)
            print(f"\n{path}: {SIZE >> 20} MiB through, worker RSS "
                  f"{base >> 10} KiB before, peak {sampler.peak >> 10} KiB")
            if not sanitized():
                self.assertLess(sampler.peak - base, RSS_GROWTH, path)

    def slow_read(self, port, path):
        """Read the (chunked) body with a small receive buffer, pausing
        in the first seconds so the proxy has to hold back the origin:
        (payload length, sha256)."""
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
        s.settimeout(60)
        s.connect(("127.0.0.1", port))
        try:
            s.sendall(request_bytes(path))
            h = hashlib.sha256()
            n = 0
            t0 = time.monotonic()
            deadline = t0 + 1800
            for piece in dechunk_stream(s):
                h.update(piece)
                n += len(piece)
                if time.monotonic() - t0 < 3:
                    time.sleep(0.01)      # the slow phase
                if time.monotonic() > deadline:
                    raise AssertionError(f"only {n} bytes in 30 min")
            return n, h.hexdigest()
        finally:
            s.close()
