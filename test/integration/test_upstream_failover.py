"""Failover between peers: an origin killed mid-load costs no idempotent
request except one whose response had already started (the origin's log
decides), the failed peer is left alone until fail_timeout (shared by the
workers through a zone), traffic returns after a restart, and
proxy_next_upstream decides what is retried."""

import collections
import os
import time
import unittest

from portico_harness import wait_for
from upstream_support import LoadLoop, UpstreamCase, group, request, who

SLOW = os.environ.get("PORTICO_SLOW") == "1"


class KillMidLoad(UpstreamCase):

    NEEDS = "zone z 64k;"

    def loaded(self, n, fail_timeout, workers=1, threads=4, split=0.01):
        """n origins (responses paused `split` s after their first body
        byte, so that a kill can cut one), a proxy with max_fails=1 (a zone
        and reuseport with several workers) and a running client load."""
        o = self.origins(n)
        for x in o:
            x.split = split
        zone = "        zone u 256k;" if workers > 1 else ""
        p = self.proxy(group([f"{x.addr()} max_fails=1 "
                              f"fail_timeout={fail_timeout}s" for x in o],
                             extra=zone, listen_extra=" reuseport"
                             if workers > 1 else ""), workers=workers)
        load = LoadLoop(p.port, threads=threads, max_requests=20000,
                        max_seconds=120).start()
        self.addCleanup(load.stop)
        load.wait_count(60)
        return o, p, load

    def allowed(self, load, victims):
        """Only requests whose response a victim had started (and not
        finished) may fail."""
        cut = set()
        for v in victims:
            cut |= v.started - v.finished
        bad = [f for f in load.failures() if f[0] not in cut]
        self.assertEqual(bad, [], f"failed requests not explained by a "
                         f"response in progress at a kill (cut: "
                         f"{sorted(cut)})")

    def kill_restart(self, load, victim, fail_timeout, after=80):
        """Kill `victim` under load, then restart it: it serves again
        within 3 x fail_timeout."""
        victim.stop()
        load.wait_count(load.count() + after, timeout=60)
        victim.restart()
        mark = load.count()
        wait_for(lambda: any(r[3] == f"{victim.name}\n"
                             for r in load.snapshot()[mark:]),
                 f"{victim.name} to serve again", 3 * fail_timeout)

    def test_kill_and_restart_one_worker(self):
        o, p, load = self.loaded(3, fail_timeout=1)
        self.assertEqual(load.failures(), [])
        self.kill_restart(load, o[1], 1)
        load.stop()
        self.allowed(load, [o[1]])
        names = {r[3] for r in load.snapshot() if r[2] == 200}
        self.assertEqual(names, {f"{x.name}\n" for x in o})

    def test_zone_workers_stop_at_in_flight_attempts(self):
        threads = 4
        o, p, load = self.loaded(3, fail_timeout=20, workers=2,
                                 threads=threads)
        victim = o[1]
        t_stop = time.monotonic()
        victim.stop()
        with victim.lock:
            # what the victim had received when it died
            received = {r["query"].get("id") for r in victim.requests}
        load.wait_count(load.count() + 120)
        load.stop()
        self.allowed(load, [victim])
        recs = {r["uri"].partition("id=")[2]: r
                for r in p.wait_access(load.count())}
        self.assertEqual(len({r["pid"] for r in recs.values()}), 2,
                         "reuseport spreads clients over both workers")
        dead = victim.addr()
        failed = collections.Counter()
        for rid, r in recs.items():
            for a, s in zip(r["addrs"], r["statuses"]):
                if a == dead and s != "200" and rid not in received:
                    failed[r["pid"]] += 1
        # new tries of the dead peer: each client thread had at most one
        # request in flight to it (connecting, or queued at its listener)
        # or racing the first failure into the zone
        self.assertLessEqual(sum(failed.values()), threads, dict(failed))
        # a request begun once the failure is known tries it no more, in
        # any worker, until fail_timeout
        late = [rid for rid, start in load.starts().items()
                if start > t_stop + 0.3 and dead in recs[rid]["addrs"]]
        self.assertEqual(late, [])

    @unittest.skipUnless(SLOW, "slow test: set PORTICO_SLOW=1")
    def test_repeated_kills_under_heavy_load(self):
        o, p, load = self.loaded(4, fail_timeout=1, workers=2, threads=8,
                                 split=0.005)
        for round_ in range(6):
            load.wait_count(load.count() + 150, timeout=60)
            self.kill_restart(load, o[round_ % len(o)], 1, after=150)
        load.stop()
        self.allowed(load, o)


class NextUpstream(UpstreamCase):

    def test_refused_retried_on_the_next_peer(self):
        o = self.origins(2)
        p = self.proxy(group([x.addr() for x in o]))
        o[0].stop()
        self.assertEqual([who(p.port) for _ in range(4)], ["o2"] * 4)

    def test_post_retried_when_connect_fails(self):
        # nothing was sent: a refused connect is retried whatever the method
        o = self.origins(2)
        p = self.proxy(group([x.addr() for x in o]))
        o[0].stop()
        for i in range(3):
            st, _, body = request(p.port, "/echo", "POST", b"b%d" % i)
            self.assertEqual((st, body), (200, f"o2\nb{i}"))

    def test_next_upstream_off(self):
        o = self.origins(2)
        p = self.proxy(group([x.addr() for x in o],
                             location_extra="proxy_next_upstream off;"))
        o[0].stop()
        statuses = [request(p.port, f"/?n={i}")[0] for i in range(4)]
        # o1 is tried once (then is failed for fail_timeout): one 502
        self.assertEqual(sorted(statuses), [200, 200, 200, 502])

    def test_http_502_retried_for_get(self):
        o = self.origins(2)
        p = self.proxy(group([f"{x.addr()} max_fails=0" for x in o],
                             location_extra="proxy_next_upstream error "
                             "timeout http_502;"))
        o[0].fail_next(1, 502)
        self.assertEqual(who(p.port, "/?n=1"), "o2")
        rec = p.wait_access(1)[-1]
        self.assertEqual(rec["statuses"], ["502", "200"])
        self.assertEqual(rec["addrs"], [o[0].addr(), o[1].addr()])

    def test_http_502_not_retried_for_post(self):
        o = self.origins(2)
        p = self.proxy(group([f"{x.addr()} max_fails=0" for x in o],
                             location_extra="proxy_next_upstream error "
                             "timeout http_502;"))
        for x in o:
            x.fail_next(1, 502)
        st, _, body = request(p.port, "/echo", "POST", b"x")
        # the first peer's own 502 reaches the client
        self.assertEqual(st, 502)
        self.assertIn(body, ("o1\nx", "o2\nx"))
        self.assertEqual(sorted(x.nrequests() for x in o), [0, 1])
        self.assertEqual(p.wait_access(1)[-1]["statuses"], ["502"])

    def test_next_upstream_tries(self):
        o = self.origins(3)
        p = self.proxy(group([x.addr() for x in o],
                             location_extra="proxy_next_upstream error "
                             "http_502; proxy_next_upstream_tries 2;"))
        for x in o:
            x.fail_next(5, 502)
        st, _, body = request(p.port)
        self.assertEqual((st, body), (502, "o2\n"))
        self.assertEqual(p.wait_access(1)[-1]["statuses"], ["502", "502"])

    def counted(self, status):
        """o1 answers `status` once (listed in proxy_next_upstream): the
        names that answer the next four requests."""
        o = self.origins(2)
        p = self.proxy(group([f"{x.addr()} max_fails=1 fail_timeout=30s"
                              for x in o],
                             location_extra="proxy_next_upstream error "
                             f"http_{status};"))
        o[0].fail_next(1, status)
        return [who(p.port) for _ in range(4)]

    def test_http_502_counts_as_a_failure(self):
        self.assertEqual(self.counted(502), ["o2"] * 4)

    def test_http_404_does_not_count(self):
        # retried, but o1 stays in: the retry's pick moved o2's weight
        self.assertEqual(self.counted(404), ["o2", "o2", "o1", "o2"])

if __name__ == "__main__":
    unittest.main()
