"""`zone NAME SIZE`: peer state shared by every worker (failures, round
robin position), kept across a reload when the zone is unchanged, and the
active health checks built on it (`health_check`, `match`), which
open-source nginx lacks."""

import collections
import time
import unittest

from portico_harness import wait_for
from upstream_support import Held, UpstreamCase, group, portico_only, who


def zgroup(servers, extra="        zone u 64k;", **kw):
    """A group with a zone (by default), listening with reuseport so that
    fresh connections spread over the workers."""
    return group(servers, extra=extra, listen_extra=" reuseport", **kw)


def spread(p, n, path="/"):
    """n requests on fresh connections (reuseport spreads them over the
    workers): the names that answered, and the pids that logged them."""
    before = len(p.access())
    names = [who(p.port, f"{path}?s={i}") for i in range(n)]
    recs = p.wait_access(before + n)[before:]
    return names, {r["pid"] for r in recs}


class SharedState(UpstreamCase):

    NEEDS = "zone z 64k; least_conn;"

    def test_failure_seen_by_every_worker(self):
        o = self.origins(2)
        p = self.proxy(zgroup([f"{x.addr()} max_fails=1 fail_timeout=30s"
                              for x in o]), workers=2)
        o[1].stop()
        dead = o[1].addr()
        # until one request has tried the dead peer
        for i in range(20):
            self.assertEqual(who(p.port, f"/?f={i}"), "o1")
            if any(dead in r["addrs"] for r in p.access()):
                break
        n0 = len(p.wait_access(i + 1))
        names, pids = spread(p, 40)
        self.assertEqual(set(names), {"o1"})
        self.assertEqual(len(pids), 2, "both workers served")
        tries = [r for r in p.access() if dead in r["addrs"]]
        self.assertEqual(len(tries), 1, f"the dead peer was tried again: "
                         f"{tries} (first {n0} records before)")

    def test_without_zone_each_worker_learns_alone(self):
        o = self.origins(2)
        p = self.proxy(zgroup([f"{x.addr()} max_fails=1 fail_timeout=30s"
                              for x in o], extra=""), workers=2)
        o[1].stop()
        names, pids = spread(p, 40)
        self.assertEqual(set(names), {"o1"})
        self.assertEqual(len(pids), 2, "both workers served")
        tries = collections.Counter(r["pid"] for r in p.access()
                                    if o[1].addr() in r["addrs"])
        # one failed try per worker that served, never a second
        self.assertEqual(set(tries.values()), {1})
        self.assertLessEqual(set(tries), pids)

    def test_round_robin_exact_across_workers(self):
        # the weights' current values live in the zone: one sequence
        o = self.origins(3)
        p = self.proxy(zgroup([f"{o[0].addr()} weight=5", o[1].addr(),
                              o[2].addr()]), workers=2)
        names, pids = spread(p, 14)
        cycle = ["o1", "o1", "o2", "o1", "o3", "o1", "o1"]
        self.assertEqual(names, cycle * 2)
        self.assertEqual(len(pids), 2)

    def test_round_robin_per_worker_without_zone(self):
        o = self.origins(3)
        p = self.proxy(zgroup([f"{o[0].addr()} weight=5", o[1].addr(),
                              o[2].addr()], extra=""), workers=2)
        before = len(p.access())
        names = [who(p.port, f"/?s={i}") for i in range(28)]
        # log lines of two workers may land out of order: match by URI
        by_uri = {r["uri"]: r for r in p.wait_access(before + 28)[before:]}
        per = collections.defaultdict(list)
        for i, name in enumerate(names):
            rec = by_uri[f"/?s={i}"]
            self.assertEqual(rec["addrs"][0],
                             {x.name: x.addr() for x in o}[name])
            per[rec["pid"]].append(name)
        self.assertEqual(len(per), 2, "both workers served")
        cycle = ["o1", "o1", "o2", "o1", "o3", "o1", "o1"]
        for pid, seq in per.items():
            self.assertEqual(seq, (cycle * 4)[:len(seq)], f"worker {pid}")

    def test_new_peer_after_reload_starts_fresh(self):
        o = self.origins(3)
        p = self.proxy(zgroup([f"{x.addr()} max_fails=1 fail_timeout=30s"
                              for x in o[:2]]), workers=2)
        self.assertEqual(set(spread(p, 6)[0]), {"o1", "o2"})
        p.write_conf(zgroup([f"{x.addr()} max_fails=1 fail_timeout=30s"
                            for x in o]))
        p.reload()
        names, _ = spread(p, 12)
        self.assertEqual(collections.Counter(names),
                         {"o1": 4, "o2": 4, "o3": 4})

    @portico_only("nginx 1.22 rebuilds the zone's peers on reload: a "
                  "failed peer is tried again at once")
    def test_failed_peer_stays_failed_across_reload(self):
        o = self.origins(3)
        servers = [f"{x.addr()} max_fails=1 fail_timeout=30s" for x in o[:2]]
        p = self.proxy(zgroup(servers), workers=2)
        o[1].stop()
        wait_for(lambda: who(p.port) and any(
            o[1].addr() in r["addrs"] for r in p.access()),
            "a request to try the stopped peer")
        before = len([r for r in p.access() if o[1].addr() in r["addrs"]])
        # same zone, one more peer: o2 keeps its failure, o3 is fresh
        p.write_conf(zgroup(servers + [
            f"{o[2].addr()} max_fails=1 fail_timeout=30s"]))
        p.reload()
        names, _ = spread(p, 20)
        self.assertEqual(set(names), {"o1", "o3"})
        after = len([r for r in p.access() if o[1].addr() in r["addrs"]])
        self.assertEqual(after, before)

    def test_least_conn_across_workers(self):
        # connection counts live in the zone: the other worker sees them
        o = self.origins(2)
        p = self.proxy(zgroup([x.addr() for x in o],
                             extra="        zone u 64k;\n        least_conn;"),
                       workers=2)
        held = Held(p.port, o)
        names, pids = spread(p, 10)
        self.assertEqual(names, [held.idle.name] * 10)
        self.assertEqual(len(pids), 2)
        self.assertEqual(held.finish(), held.busy.name)


HC = "health_check interval=1s fails=1 passes=2 uri=/health match=ok;"
MATCH = ("    match ok {\n        status 200-399;\n"
         "        header X-Origin ~ \"^o\";\n        body ~ \"^o[0-9]\";\n"
         "    }\n")


@portico_only("active health checks are not in nginx open source")
class HealthChecks(UpstreamCase):

    NEEDS = "zone z 64k;"
    LOC_NEEDS = "health_check interval=1s;"

    def test_requires_a_zone(self):
        p = self.proxy(zgroup(["127.0.0.1:1"], extra="", location_extra=HC,
                             before=MATCH), start=False)
        r = p.test_conf()
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertRegex(r.stderr, r"\[emerg\] .*zone.* in "
                         + p.conf_path.replace(".", r"\.") + r":\d+\n")

    def test_unknown_match_block(self):
        p = self.proxy(zgroup(["127.0.0.1:1"], location_extra=HC),
                       start=False)
        r = p.test_conf()
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("ok", r.stderr)

    def test_peer_out_and_back(self):
        o = self.origins(2)
        p = self.proxy(zgroup([x.addr() for x in o], location_extra=HC,
                             before=MATCH), workers=2)
        wait_for(lambda: o[1].probes(), "the first probe of o2")
        o[1].health = 503
        # out of rotation within 3 x interval * fails
        wait_for(lambda: set(spread(p, 4)[0]) == {"o1"},
                 "o2 to leave the rotation", 3)
        names, pids = spread(p, 30)
        self.assertEqual(set(names), {"o1"})
        self.assertEqual(len(pids), 2, "both workers keep it out")
        # one worker probes per interval, not every worker
        since = time.monotonic()
        time.sleep(3.2)
        self.assertLessEqual(len(o[1].probes(since)), 4)
        self.assertGreaterEqual(len(o[1].probes(since)), 2)
        # back after `passes` good probes: within 3 x interval * passes
        t1 = time.monotonic()
        o[1].health = 200
        wait_for(lambda: "o2" in spread(p, 4)[0], "o2 to return", 6)
        first = min(r["time"] for r in o[1].served(t1))
        good = [r for r in o[1].probes(t1)
                if r["status"] == 200 and r["time"] < first]
        self.assertGreaterEqual(len(good), 2, "passes=2 good probes first")

    def test_body_mismatch_fails_the_check(self):
        o = self.origins(2)
        match = MATCH.replace('body ~ "^o[0-9]"', 'body ~ "^o1"')
        p = self.proxy(zgroup([x.addr() for x in o], location_extra=HC,
                             before=match))
        wait_for(lambda: o[1].probes(), "the first probe of o2")
        wait_for(lambda: set(spread(p, 4)[0]) == {"o1"},
                 "o2 (body o2) to leave the rotation", 3)

    def test_connection_refused_fails_the_check(self):
        o = self.origins(2)
        p = self.proxy(zgroup([x.addr() for x in o], location_extra=HC,
                             before=MATCH))
        o[1].stop()
        wait_for(lambda: set(spread(p, 4)[0]) == {"o1"},
                 "o2 to leave the rotation", 3)
        o[1].restart()
        wait_for(lambda: "o2" in spread(p, 4)[0], "o2 to return", 6)


if __name__ == "__main__":
    unittest.main()
