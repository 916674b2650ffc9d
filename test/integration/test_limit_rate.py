"""limit_rate, limit_rate_after, $limit_rate and X-Accel-Limit-Rate: the
client's download is paced as nginx paces it (one second's worth at once,
then the rate), a paused write is not a send_timeout, and the connection
stays usable for the next request. Timings are bounded loosely: unlimited,
these downloads take milliseconds."""

import os
import shutil
import tempfile
import time
import unittest

from origins import fixed, started
from portico_harness import PorticoTestCase, RawClient, serve

SIZE = 200 * 1024

CONF = """
    server {
        listen 127.0.0.1:@PORT@;
        server_name localhost;
        root @WWW@;
        send_timeout 1s;
        location / { }
        location /slow/ { alias @WWW@/; limit_rate 100k; }
        location /nosf/ { alias @WWW@/; limit_rate 100k; sendfile off; }
        location /after/ { alias @WWW@/; limit_rate 100k;
                           limit_rate_after 150k; }
        location /var/ { alias @WWW@/; set $limit_rate 100k; }
        location /cv/ { alias @WWW@/; limit_rate $arg_r;
                        limit_rate_after $arg_a; }
        location /zero/ { alias @WWW@/; limit_rate 0; }
        location /after50/ { alias @WWW@/; limit_rate 100k;
                             limit_rate_after 50k; }
        location /show/ { set $limit_rate 64k; return 200 "$limit_rate\\n"; }
        location /proxy/ { proxy_pass http://@ORIGIN@/; }
        location /proxyoff/ { limit_rate 100k;
                              proxy_pass http://@OFF@/; }
    }
"""


def get(port, path, keep=False, timeout=15):
    """(response, seconds) of one GET on a new connection; the client too,
    when `keep`."""
    c = RawClient(port, timeout=timeout)
    conn = "keep-alive" if keep else "close"
    start = time.monotonic()
    c.send(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n"
           f"Connection: {conn}\r\n\r\n".encode())
    r = c.response()
    took = time.monotonic() - start
    if keep:
        return r, took, c
    c.close()
    return r, took


class LimitRate(PorticoTestCase):

    @classmethod
    def setUpClass(cls):
        cls.www = tempfile.mkdtemp(prefix="pt-limit-rate-")
        os.chmod(cls.www, 0o755)
        cls.body = bytes(range(256)) * (SIZE // 256)
        with open(os.path.join(cls.www, "f.bin"), "wb") as f:
            f.write(cls.body)
        os.chmod(os.path.join(cls.www, "f.bin"), 0o644)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.www, ignore_errors=True)

    def setUp(self):
        super().setUp()
        self.origin = started(self, fixed(200, [
            ("X-Accel-Limit-Rate", "102400")], self.body))
        conf = CONF.replace("@WWW@", self.www)
        self.off = started(self, fixed(200, [
            ("X-Accel-Limit-Rate", "off")], self.body))
        conf = conf.replace("@ORIGIN@", self.origin.addr)
        conf = conf.replace("@OFF@", self.off.addr)
        self.inst = serve(self, conf)

    def timed(self, path, low, high):
        r, took = get(self.inst.port, path)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, self.body)
        self.assertGreaterEqual(took, low, f"{path} was not limited")
        self.assertLess(took, high, f"{path} was too slow")
        return took

    def test_unlimited_is_fast(self):
        self.timed("/f.bin", 0, 1.0)

    def test_limit_rate_sendfile(self):
        # 100k at once, then 100k at 100k/s: about 1 s; nginx takes 1-2 s
        self.timed("/slow/f.bin", 0.8, 4.0)

    def test_limit_rate_sendfile_off(self):
        self.timed("/nosf/f.bin", 0.8, 4.0)

    def test_limit_rate_after(self):
        # 150k free, 100k at once of the rate: all at once
        self.timed("/after/f.bin", 0, 0.8)

    def test_limit_rate_after_then_rate(self):
        # 50k free and 100k at once, the last 50k a second later (nginx
        # takes 1-1.5 s)
        self.timed("/after50/f.bin", 0.8, 4.0)

    def test_set_limit_rate(self):
        self.timed("/var/f.bin", 0.8, 4.0)

    def test_variables_in_limit_rate(self):
        """nginx 1.17.0+: values with variables, read at the first write;
        an empty or bad value is no limit."""
        self.timed("/cv/f.bin?r=100k", 0.8, 4.0)
        self.timed("/cv/f.bin?r=100k&a=150k", 0, 0.8)
        self.timed("/cv/f.bin", 0, 0.8)

    def test_zero_is_no_limit(self):
        self.timed("/zero/f.bin", 0, 1.0)

    def test_variable_reads_the_rate(self):
        r, _ = get(self.inst.port, "/show/")
        self.assertEqual(r.body, b"65536\n")

    def test_keepalive_after_limited_response(self):
        r, took, c = get(self.inst.port, "/slow/f.bin", keep=True)
        with c:
            self.assertEqual(r.body, self.body)
            self.assertGreaterEqual(took, 0.8)
            start = time.monotonic()
            c.send(b"GET /f.bin HTTP/1.1\r\nHost: localhost\r\n\r\n")
            r = c.response()
            self.assertEqual(r.body, self.body)
            # the next request has no limit and no leftover pause
            self.assertLess(time.monotonic() - start, 1.0)

    def test_x_accel_limit_rate(self):
        self.timed("/proxy/f.bin", 0.8, 4.0)

    def test_x_accel_limit_rate_off_overrides_location(self):
        self.timed("/proxyoff/f.bin", 0, 1.0)


class SlowRate(PorticoTestCase):
    """A 3-second download under send_timeout 1s completes."""

    def test_three_seconds_under_send_timeout(self):
        www = tempfile.mkdtemp(prefix="pt-limit-rate-")
        self.addCleanup(shutil.rmtree, www, True)
        os.chmod(www, 0o755)
        body = b"x" * (3 * 64 * 1024)
        with open(os.path.join(www, "g.bin"), "wb") as f:
            f.write(body)
        os.chmod(os.path.join(www, "g.bin"), 0o644)
        inst = serve(self, f"""
    server {{
        listen 127.0.0.1:@PORT@;
        server_name localhost;
        root {www};
        send_timeout 1s;
        location / {{ limit_rate 48k; }}
    }}
""")
        r, took = get(inst.port, "/g.bin", timeout=20)
        self.assertEqual(r.body, body)
        self.assertGreaterEqual(took, 2.0)
        self.assertLess(took, 8.0)
        self.assertNotIn("client timed out", inst.log())


if __name__ == "__main__":
    unittest.main()
