"""The keep-alive pool to upstreams, proven by counting connections at the
origin: reuse with `keepalive N`, keepalive_requests, keepalive_timeout,
keepalive_time, a pooled connection the origin closed (idle, or just as a
request arrives: GET retried on a fresh connection, POST only with
non_idempotent), and a new connection per request without a pool."""

import time
import unittest

from portico_harness import wait_for
from upstream_support import (Held, Keepalive, Origin, UpstreamCase, group,
                              request, who)

POOLED = ("proxy_pass http://u; proxy_http_version 1.1; "
          "proxy_set_header Connection \"\";")


def pooled(servers, upstream_extra="keepalive 4;", **kw):
    kw.setdefault("location", POOLED)
    return group(servers, extra=f"        {upstream_extra}", **kw)


class Pool(UpstreamCase):

    NEEDS = ("keepalive 4; keepalive_requests 3; keepalive_timeout 1s; "
             "keepalive_time 1s;")

    def test_sequential_requests_share_one_connection(self):
        o = self.origins(1)[0]
        p = self.proxy(pooled([o.addr()]))
        for i in range(20):
            self.assertEqual(who(p.port, f"/?n={i}"), "o1")
        self.assertEqual((o.nconns(), o.nrequests()), (1, 20))
        # the origin saw HTTP/1.1 without "Connection: close"
        req = o.requests[-1]
        self.assertEqual(req["version"], "HTTP/1.1")
        self.assertNotIn("connection", req["headers"])

    def test_one_connection_per_worker(self):
        o = self.origins(1)[0]
        p = self.proxy(pooled([o.addr()]), workers=2)
        for i in range(30):
            self.assertEqual(who(p.port, f"/?n={i}"), "o1")
        pids = {r["pid"] for r in p.wait_access(30)}
        self.assertEqual(o.nconns(), len(pids))
        self.assertEqual(o.nrequests(), 30)

    def test_client_keepalive_and_pool_together(self):
        o = self.origins(2)
        p = self.proxy(pooled([x.addr() for x in o]))
        c = Keepalive(p.port)
        try:
            seq = [c.get(f"/?n={i}")[2] for i in range(10)]
        finally:
            c.close()
        self.assertEqual(seq, ["o1\n", "o2\n"] * 5)
        self.assertEqual([x.nconns() for x in o], [1, 1])

    def test_without_keepalive_each_request_is_a_new_connection(self):
        o = self.origins(1)[0]
        p = self.proxy(pooled([o.addr()], upstream_extra="",
                              location="proxy_pass http://u;"))
        for i in range(8):
            self.assertEqual(who(p.port, f"/?n={i}"), "o1")
        self.assertEqual(o.nconns(), 8)
        # proxy_http_version 1.0 and "Connection: close" by default
        req = o.requests[-1]
        self.assertEqual(req["version"], "HTTP/1.0")
        self.assertEqual(req["headers"].get("connection"), "close")

    def test_keepalive_without_http11_does_not_reuse(self):
        o = self.origins(1)[0]
        p = self.proxy(pooled([o.addr()], location="proxy_pass http://u;"))
        for i in range(5):
            self.assertEqual(who(p.port, f"/?n={i}"), "o1")
        self.assertEqual(o.nconns(), 5)

    def test_idle_connections_beyond_n_are_closed(self):
        # six requests at once need six connections; once they are
        # answered (together, so that several land in one event-loop
        # step), only `keepalive 2` of them stay open, the most recent
        o = self.origins(1)[0]
        p = self.proxy(pooled([o.addr()], upstream_extra="keepalive 2;"))
        held = [Held(p.port, [o]) for _ in range(6)]
        wait_for(lambda: o.nrequests() == 6, "six requests at the origin")
        self.assertEqual(held[0].finish(), "o1")
        for h in held[1:]:
            self.assertEqual(h.finish(), "o1")
        wait_for(lambda: len(o.open_conns()) == 2,
                 "the proxy to close all but 2 idle connections")
        self.assertEqual([c.closed_by for c in o.conns].count("peer"), 4)
        # the two kept are reused: no new connection for what follows
        for i in range(4):
            self.assertEqual(who(p.port, f"/?n={i}"), "o1")
        self.assertEqual((o.nconns(), len(o.open_conns())), (6, 2))

    def test_keepalive_requests_closes_after_n(self):
        o = self.origins(1)[0]
        p = self.proxy(pooled([o.addr()],
                              upstream_extra="keepalive 4; "
                              "keepalive_requests 3;"))
        for i in range(9):
            self.assertEqual(who(p.port, f"/?n={i}"), "o1")
        self.assertEqual(o.nconns(), 3)
        wait_for(lambda: all(c.closed_by == "peer" for c in o.conns),
                 "the proxy to close each connection after 3 requests")
        self.assertEqual([c.requests for c in o.conns], [3, 3, 3])

    def test_keepalive_timeout_closes_idle_connections(self):
        o = self.origins(1)[0]
        p = self.proxy(pooled([o.addr()],
                              upstream_extra="keepalive 4; "
                              "keepalive_timeout 1s;"))
        self.assertEqual(who(p.port), "o1")
        t0 = time.monotonic()
        self.assertIsNone(o.conns[0].closed_by)
        wait_for(lambda: o.conns[0].closed_by == "peer",
                 "the idle pooled connection to be closed", 10)
        # nginx's timer granularity allows some slack past 1 s
        self.assertLess(o.conns[0].closed_at - t0, 4)
        self.assertEqual(who(p.port), "o1")
        self.assertEqual(o.nconns(), 2)

    def test_keepalive_time_limits_a_connections_life(self):
        o = self.origins(1)[0]
        p = self.proxy(pooled([o.addr()],
                              upstream_extra="keepalive 4; "
                              "keepalive_time 1s;"))
        self.assertEqual(who(p.port), "o1")
        self.assertEqual(who(p.port), "o1")
        self.assertEqual(o.nconns(), 1)
        time.sleep(1.2)
        # the request after keepalive_time still uses it, then it closes
        self.assertEqual(who(p.port), "o1")
        wait_for(lambda: o.conns[0].closed_by == "peer",
                 "the old connection to be closed after its last request")
        self.assertEqual(who(p.port), "o1")
        self.assertEqual(o.nconns(), 2)
        self.assertEqual(o.conns[0].requests, 3)

    def test_chunked_request_body_then_reuse(self):
        # unbuffered: the body goes upstream chunked, and the connection
        # still returns to the pool after it
        o = self.origins(1)[0]
        p = self.proxy(pooled([o.addr()], location_extra=
                              "proxy_request_buffering off;"))
        def chunks(i):
            yield b"ab"
            time.sleep(0.2)      # the rest comes after the proxy started
            yield b"cd%d" % i
        for i in range(3):
            st, _, body = request(p.port, "/echo", "POST", chunks(i))
            self.assertEqual((st, body), (200, f"o1\nabcd{i}"))
        self.assertEqual(o.requests[0]["headers"].get("transfer-encoding"),
                         "chunked")
        self.assertEqual(o.nconns(), 1)

    def test_unix_socket_pool(self):
        d = self.unix_dir()
        o = Origin("ux", unix=f"{d}/o.sock").start()
        self.addCleanup(o.stop)
        p = self.proxy(pooled([o.addr()]))
        for i in range(6):
            self.assertEqual(who(p.port, f"/?n={i}"), "ux")
        self.assertEqual(o.nconns(), 1)


class DeadPooledConnection(UpstreamCase):

    NEEDS = "keepalive 4;"

    def test_origin_closes_idle_connection(self):
        # the close arrives while the connection sits in the pool: it is
        # dropped there, and the next request connects afresh
        o = self.origins(1)[0]
        o.close_after = True
        p = self.proxy(pooled([o.addr()]))
        for i in range(5):
            self.assertEqual(who(p.port, f"/?n={i}"), "o1")
            wait_for(lambda: o.conns[-1].closed_by is not None,
                     "the origin to close its connection")
        self.assertEqual(o.nconns(), 5)
        self.assertEqual(p.wait_access(5)[-1]["statuses"], ["200"])

    def test_post_after_idle_close_uses_a_fresh_connection(self):
        # the close is seen before the pooled connection is picked, so a
        # POST never meets it: nothing to retry
        o = self.origins(1)[0]
        o.close_after = True
        p = self.proxy(pooled([o.addr()]))
        for i in range(3):
            st, _, body = request(p.port, "/echo", "POST", b"p%d" % i)
            self.assertEqual((st, body), (200, f"o1\np{i}"))
            wait_for(lambda: o.conns[-1].closed_by is not None,
                     "the origin to close its connection")
        self.assertEqual(o.nconns(), 3)

    def test_get_retried_on_a_fresh_connection(self):
        # the origin closes the pooled connection on receiving the request,
        # before any response byte: a GET is sent again on a new connection
        o = self.origins(1)[0]
        p = self.proxy(pooled([o.addr()]))
        self.assertEqual(who(p.port, "/?n=1"), "o1")
        o.drop_reused(1)
        self.assertEqual(who(p.port, "/?n=2"), "o1")
        self.assertEqual(o.nconns(), 2)
        self.assertEqual([r["query"].get("n") for r in o.requests],
                         ["1", "2", "2"])
        self.assertTrue(o.requests[1].get("dropped"))
        self.assertEqual(o.requests[2]["conn"], 2)
        rec = p.wait_access(2)[-1]
        self.assertEqual(rec["status"], 200)
        self.assertEqual(rec["addrs"], [o.addr(), o.addr()])
        self.assertEqual(rec["statuses"], ["502", "200"])
        p.wait_error(r"\[error\] \d+#\d+: \*\d+ upstream prematurely closed "
                     r"connection while reading response header from "
                     r"upstream")

    def test_post_not_retried(self):
        o = self.origins(1)[0]
        p = self.proxy(pooled([o.addr()]))
        self.assertEqual(request(p.port, "/echo", "POST", b"one")[2],
                         "o1\none")
        o.drop_reused(1)
        st, _, _ = request(p.port, "/echo", "POST", b"two")
        self.assertEqual(st, 502)
        self.assertEqual(o.nconns(), 1)
        self.assertEqual(o.nrequests(), 2)
        rec = p.wait_access(2)[-1]
        self.assertEqual((rec["addrs"], rec["statuses"]),
                         ([o.addr()], ["502"]))

    def test_post_retried_with_non_idempotent(self):
        o = self.origins(1)[0]
        p = self.proxy(pooled([o.addr()], location_extra=
                              "proxy_next_upstream error non_idempotent;"))
        self.assertEqual(request(p.port, "/echo", "POST", b"one")[2],
                         "o1\none")
        o.drop_reused(1)
        st, _, body = request(p.port, "/echo", "POST", b"two")
        self.assertEqual((st, body), (200, "o1\ntwo"))
        self.assertEqual(o.nconns(), 2)
        self.assertEqual([r["body"] for r in o.requests],
                         [b"one", b"two", b"two"])


if __name__ == "__main__":
    unittest.main()
