"""proxy_next_upstream and its _tries and _timeout: a primary A that fails
as scripted and a backup B that answers, in upstream blocks (A has
max_fails=0, so every request tries it first). Retries are seen in the
origins' request counts and in $upstream_addr/$upstream_status."""

import threading

from origins import (close_mid_body, close_now, delayed, fixed,
                     mid_body_delay, raw, route, started)
from portico_harness import RawClient, free_port, wait_for
from proxy_util import ProxyCase, read_until_close, request, request_bytes

CODES = (500, 502, 503, 504, 403, 404, 429)


class NextUpstream(ProxyCase):

    def setUp(self):
        super().setUp()
        table = {f"/s{c}": fixed(c, [], f"A {c}\n".encode()) for c in CODES}
        table.update({
            "/close": close_now(),
            "/inv": raw(b"HTTP/1.1 200 OK\r\nBad Line\r\n\r\n"),
            "/slow": delayed(3, fixed(200, [], b"A late\n")),
            "/started": close_mid_body(total=1000, sent=100),
        })
        self.a = started(self, route(table), name="A")
        self.b = started(self, fixed(200, [], b"B\n"), name="B")
        dead = free_port()
        self.dead = f"127.0.0.1:{dead}"
        a, b = self.a.addr, self.b.addr
        every = " ".join(f"http_{c}" for c in CODES)
        self.inst = self.proxy(f"""
    upstream pair {{ server {a} max_fails=0; server {b} backup; }}
    upstream dead {{ server {self.dead} max_fails=0; server {b} backup; }}
    server {{
        listen 127.0.0.1:@PORT@;
        access_log logs/access.log proxy;
        proxy_read_timeout 1s;
        location /d/ {{ proxy_pass http://pair/; }}
        location /all/ {{
            proxy_next_upstream error timeout invalid_header {every};
            proxy_pass http://pair/;
        }}
        location /ni/ {{
            proxy_next_upstream error timeout non_idempotent;
            proxy_pass http://pair/;
        }}
        location /off/ {{ proxy_next_upstream off; proxy_pass http://pair/; }}
        location /refused/ {{ proxy_pass http://dead/; }}
        location /roff/ {{ proxy_next_upstream off; proxy_pass http://dead/; }}
        location /tries/ {{
            proxy_next_upstream_tries 1;
            proxy_pass http://dead/;
        }}
        location /nut/ {{
            proxy_read_timeout 2s;
            proxy_next_upstream_timeout 1s;
            proxy_pass http://pair/;
        }}
        location /started/ {{
            proxy_next_upstream error timeout http_502;
            proxy_buffering off;
            proxy_pass http://pair/;
        }}
    }}""")

    def go(self, path, method="GET", body=None):
        """(status, body, how many requests B got for it)."""
        nb = len(self.b.requests)
        r = request(self.inst.port, path, method=method, body=body,
                    timeout=15)
        return r.status, r.body, len(self.b.requests) - nb

    def log_line(self, n):
        return self.access_lines(self.inst, n)[n - 1].split("|")

    def test_default_is_error_and_timeout(self):
        self.assertEqual(self.go("/d/close"), (200, b"B\n", 1))
        self.assertEqual(self.go("/d/slow"), (200, b"B\n", 1))
        for c in CODES:
            st, body, nb = self.go(f"/d/s{c}")
            self.assertEqual((st, nb), (c, 0), c)
            self.assertEqual(body, f"A {c}\n".encode())
        self.assertEqual(self.go("/d/inv")[::2], (502, 0))
        line = self.log_line(2)
        self.assertEqual(line[1], "200")
        self.assertEqual(line[2], f"{self.a.addr}, {self.b.addr}")
        self.assertEqual(line[3], "504, 200")
        self.assertRegex(line[4], r"^\d+\.\d{3}, \d+\.\d{3}$")
        self.assertEqual(self.log_line(1)[3], "502, 200")

    def test_every_condition(self):
        for c in CODES:
            self.assertEqual(self.go(f"/all/s{c}"), (200, b"B\n", 1), c)
        self.assertEqual(self.go("/all/inv"), (200, b"B\n", 1))
        lines = self.access_lines(self.inst, len(CODES) + 1)
        self.assertEqual([ln.split("|")[3] for ln in lines],
                         [f"{c}, 200" for c in CODES] + ["502, 200"])

    def test_post_not_retried_once_sent(self):
        self.assertEqual(self.go("/d/close", "POST", b"p")[::2], (502, 0))
        self.assertEqual(self.a.last().method, "POST")
        # with non_idempotent it is
        self.assertEqual(self.go("/ni/close", "POST", b"p"), (200, b"B\n", 1))
        self.assertEqual(self.b.last().body, b"p")

    def test_post_retried_when_never_sent(self):
        self.assertEqual(self.go("/refused/x", "POST", b"p"),
                         (200, b"B\n", 1))
        line = self.log_line(1)
        self.assertEqual(line[2], f"{self.dead}, {self.b.addr}")
        self.assertEqual(line[3], "502, 200")

    def test_off(self):
        self.assertEqual(self.go("/off/close")[::2], (502, 0))
        self.assertEqual(self.go("/off/slow")[::2], (504, 0))
        self.assertEqual(self.go("/roff/x")[::2], (502, 0))
        self.assertEqual(self.log_line(3)[2:4], [self.dead, "502"])

    def test_tries(self):
        self.assertEqual(self.go("/tries/x")[::2], (502, 0))
        self.assertEqual(self.go("/refused/x"), (200, b"B\n", 1))

    def test_timeout(self):
        # the first attempt took 2 s, over proxy_next_upstream_timeout
        self.assertEqual(self.go("/nut/slow")[::2], (504, 0))
        self.assertEqual(self.log_line(1)[3], "504")

    def test_never_after_response_bytes(self):
        with RawClient(self.inst.port, timeout=15) as c:
            c.send(request_bytes("/started/started"))
            data = read_until_close(c.sock)
        head, _, body = data.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 200 "), head)
        self.assertEqual(body, b"x" * 100)
        self.assertEqual(len(self.b.requests), 0)
        self.assertEqual(self.log_line(1)[3], "200")


class KillMidLoad(ProxyCase):
    """An origin stopped under load: no idempotent request fails except
    one whose response the stopped origin had started (its response log
    says which); the other origin takes the traffic."""

    def test_kill_an_origin_mid_load(self):
        body = b"0123456789" * 10
        a = started(self, mid_body_delay(body, 50, 0.02), name="A")
        b = started(self, mid_body_delay(body, 50, 0.02), name="B")
        inst = self.proxy(f"""
    upstream pair {{ server {a.addr}; server {b.addr}; }}
    server {{
        listen 127.0.0.1:@PORT@;
        location / {{ proxy_pass http://pair; }}
    }}""", worker_connections=256)
        results = {}
        lock = threading.Lock()
        stop = threading.Event()

        def client(k):
            for i in range(100000):       # bounded by stop and 60 s
                if stop.is_set():
                    return
                target = f"/c{k}/{i}"
                try:
                    r = request(inst.port, target, timeout=10)
                    ok = r.status == 200 and r.body == body
                    why = r.status
                except AssertionError as e:
                    ok, why = False, str(e)[:120]
                with lock:
                    results[target] = (ok, why)
        threads = [threading.Thread(target=client, args=(k,), daemon=True)
                   for k in range(4)]
        for t in threads:
            t.start()
        self.addCleanup(stop.set)
        wait_for(lambda: len(a.started) >= 20 and len(b.started) >= 20,
                 "traffic on both origins", timeout=30)
        a.stop()
        mark = len(results)
        wait_for(lambda: len(results) >= mark + 100, "100 more requests",
                 timeout=30)
        stop.set()
        for t in threads:
            t.join(15)
        started_on_a = {target for _, target in a.started}
        failed = {t: w for t, (ok, w) in results.items() if not ok}
        self.assertEqual({t: w for t, w in failed.items()
                          if t not in started_on_a}, {},
                         "failed requests whose response had not started")
        self.assertGreaterEqual(len(results) - len(failed), 100)
