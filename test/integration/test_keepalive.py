"""Keep-alive connections across a reload (ARCHITECTURE.md, "Reload"): an
idle connection of the old generation may still carry one request within
keepalive_min_timeout, answered by the old worker with "Connection:
close"; it is closed quietly after that grace (at once with 0, as nginx);
a request in flight is finished; worker_shutdown_timeout bounds it all."""

import signal
import time
import unittest

from portico_harness import (PorticoTestCase, RawClient, reconf, serve,
                             wait_for, workers_of)
from test_traffic import server_rx_queue

CONF = """
    keepalive_min_timeout @GRACE@;
    server {
        listen 127.0.0.1:@PORT@;
        server_name localhost;
        location / { return 200 "@TAG@ $pid\\n"; }
    }
"""

REQ = b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"


def conf(tag, grace="3s"):
    return CONF.replace("@TAG@", tag).replace("@GRACE@", grace)


class KeepAliveAtReload(PorticoTestCase):

    def start(self, grace="3s", **kw):
        inst = serve(self, conf("v1", grace), **kw)
        return inst, workers_of(inst.master)

    def reload(self, inst, old, tag="v2", grace="3s", **kw):
        """HUP to a config answering `tag`; returns the new workers once
        they serve (the old ones may still be finishing)."""
        reconf(inst, conf(tag, grace), **kw)
        mark = inst.log_size()
        inst.signal(signal.SIGHUP)
        new = inst.wait_workers(len(old), exclude=old)
        inst.wait_log(r"gracefully shutting down", since=mark)
        return new

    def fresh(self, inst):
        with RawClient(inst.port) as c:
            c.send(b"GET / HTTP/1.1\r\nHost: localhost\r\n"
                   b"Connection: close\r\n\r\n")
            return c.responses()[0].body.decode()

    def test_idle_connection_answered_after_reload(self):
        inst, old = self.start()
        with RawClient(inst.port) as c:
            c.send(REQ)
            r = c.response()
            self.assertEqual(r.body, f"v1 {old[0]}\n".encode())
            self.assertEqual(r.header("Connection"), "keep-alive")
            new = self.reload(inst, old)
            self.assertEqual(self.fresh(inst), f"v2 {new[0]}\n")
            # the old connection: one more request, from the old worker
            c.send(REQ)
            r = c.response()
            self.assertEqual(r.body, f"v1 {old[0]}\n".encode())
            self.assertEqual(r.header("Connection"), "close")
            self.assertTrue(c.wait_eof())
            self.assertFalse(c.reset)
        inst.wait_gone(old, "the old worker")

    def test_pipelined_requests_at_reload(self):
        """Requests already sent on an old connection, and one completed
        after the reload, are all answered; the last says close."""
        inst, old = self.start()
        with RawClient(inst.port) as c:
            c.send(REQ * 3 + b"GET /last HTTP/1.1\r\nHost: loc")
            for _ in range(3):
                self.assertEqual(c.response().header("Connection"),
                                 "keep-alive")
            self.reload(inst, old)
            c.send(b"alhost\r\n\r\n" + REQ)
            rs = c.responses()
        self.assertEqual([r.body for r in rs], [f"v1 {old[0]}\n".encode()])
        self.assertEqual(rs[0].header("Connection"), "close")
        inst.wait_gone(old, "the old worker")

    def test_idle_connection_closed_after_grace(self):
        inst, old = self.start(grace="1s")
        with RawClient(inst.port) as c:
            c.send(REQ)
            c.response()
            t0 = time.monotonic()
            self.reload(inst, old, grace="1s")
            self.assertTrue(c.wait_eof(timeout=5))
            waited = time.monotonic() - t0
            self.assertEqual(c.buf, b"")
            self.assertFalse(c.reset)
        self.assertGreater(waited, 0.5)
        inst.wait_gone(old, "the old worker")

    def test_grace_zero_closes_at_once(self):
        """keepalive_min_timeout 0: nginx's way, the idle connection is
        closed as soon as the old worker stops."""
        inst, old = self.start(grace="0")
        with RawClient(inst.port) as c:
            c.send(REQ)
            c.response()
            self.reload(inst, old, grace="0")
            self.assertTrue(c.wait_eof(timeout=2))
            self.assertEqual(c.buf, b"")
        inst.wait_gone(old, "the old worker")

    def test_busy_connection_bounded_by_worker_shutdown_timeout(self):
        """A request that never completes keeps the old worker only until
        worker_shutdown_timeout."""
        main = "worker_shutdown_timeout 1s;"
        inst, old = self.start(main_extra=main)
        with RawClient(inst.port) as c:
            # a whole request first: the connection is the old worker's
            c.send(REQ)
            self.assertEqual(c.response().body, f"v1 {old[0]}\n".encode())
            c.send(b"GET / HTTP/1.1\r\n")
            wait_for(lambda: server_rx_queue(inst.port, c.sock) == 0,
                     "the worker to read the partial request",
                     diag=inst.diag)
            self.reload(inst, old, main_extra=main)
            t0 = time.monotonic()
            inst.wait_gone(old, "the old worker after the shutdown timeout")
            self.assertGreater(time.monotonic() - t0, 0.5)
            self.assertTrue(c.wait_eof(timeout=2))
            self.assertEqual(c.buf, b"")


if __name__ == "__main__":
    unittest.main()
