"""Upstream groups and their balancers against real origins: server
parameters, backup and down peers, unix sockets, names with several
addresses, smooth weighted round robin, least_conn, ip_hash, hash
[consistent], random, max_fails/fail_timeout, max_conns, proxy_bind, and
the config errors of `upstream` blocks with nginx's wording."""

import collections
import re
import time
import unittest

from portico_harness import wait_for
from upstream_support import (PROXY, Held, Origin, UpstreamCase, group,
                              ipv6_loopback, request, resolved, who)

def binomial_bound(n, p, z=3.891):
    """The two-sided 99.99% interval of a binomial count."""
    mean = n * p
    sd = (n * p * (1 - p)) ** 0.5
    return mean - z * sd, mean + z * sd


class Syntax(UpstreamCase):

    def test_params_accepted_and_down_never_used(self):
        o = self.origins(3)
        p = self.proxy(group([
            f"{o[0].addr()} weight=2 max_fails=3 fail_timeout=5s "
            "max_conns=10",
            f"{o[1].addr()} down",
            f"{o[2].addr()} max_fails=0"]))
        seen = collections.Counter(who(p.port) for _ in range(12))
        self.assertEqual(seen, {"o1": 8, "o3": 4})
        self.assertEqual(o[1].nconns(), 0)

    def test_backup_only_when_every_primary_is_down(self):
        o = self.origins(3)
        p = self.proxy(group([o[0].addr(), o[1].addr(),
                              f"{o[2].addr()} backup"]))
        seen = collections.Counter(who(p.port) for _ in range(10))
        self.assertEqual(seen, {"o1": 5, "o2": 5})
        o[0].stop()
        # one primary left: still no backup
        seen = collections.Counter(who(p.port) for _ in range(6))
        self.assertEqual(set(seen), {"o2"})
        o[1].stop()
        seen = collections.Counter(who(p.port) for _ in range(6))
        self.assertEqual(set(seen), {"o3"})

    def test_unix_socket_servers(self):
        d = self.unix_dir()
        a = Origin("ua", unix=f"{d}/a.sock").start()
        b = Origin("ub", unix=f"{d}/b.sock").start()
        self.addCleanup(a.stop)
        self.addCleanup(b.stop)
        p = self.proxy(group([a.addr(), b.addr()]))
        seen = collections.Counter(who(p.port) for _ in range(6))
        self.assertEqual(seen, {"ua": 3, "ub": 3})
        addrs = {tuple(r["addrs"]) for r in p.wait_access(6)}
        self.assertEqual(addrs, {(f"unix:{d}/a.sock",), (f"unix:{d}/b.sock",)})

    def test_name_with_every_address_a_peer(self):
        # localhost: 127.0.0.1 and, where the resolver says so, ::1
        addrs = [a for a in resolved("localhost")
                 if a in ("127.0.0.1", "::1")]
        if "::1" in addrs and not ipv6_loopback():
            self.skipTest("localhost resolves to ::1, which is unusable")
        self.assertIn("127.0.0.1", addrs)
        port = Origin("x").port
        os = {}
        for a in addrs:
            o = Origin("v6" if ":" in a else "v4", port=port, host=a).start()
            self.addCleanup(o.stop)
            os[a] = o
        p = self.proxy(group([f"localhost:{port}"]))
        seen = collections.Counter(who(p.port) for _ in range(2 * len(addrs)))
        self.assertEqual(set(seen), {o.name for o in os.values()})
        logged = {r["addrs"][0] for r in p.wait_access(2 * len(addrs))}
        self.assertEqual(logged, {f"[{a}]:{port}" if ":" in a
                                  else f"{a}:{port}" for a in addrs})

    def test_proxy_bind_source_address(self):
        o = self.origins(1)[0]
        p = self.proxy(group([o.addr()],
                             location=PROXY + " proxy_bind 127.0.0.2;"))
        self.assertEqual(who(p.port), "o1")
        self.assertEqual(o.peers()[0][0], "127.0.0.2")


class ConfigErrors(UpstreamCase):

    NEEDS = ("keepalive 2; zone z 64k; random two least_conn; "
             "hash $arg_x;")

    def check(self, block, message, needle, offset=0):
        p = self.proxy(block, start=False)
        self.check_emerg(p, message, needle, offset)

    def test_no_servers_inside_upstream(self):
        self.check("    upstream u {\n    }\n    server { listen "
                   "127.0.0.1:@PORT@; location / { proxy_pass http://u; } }",
                   "no servers are inside upstream", "upstream u", 1)

    def test_duplicate_upstream(self):
        self.check("    upstream u { server 127.0.0.1:1; }\n"
                   "    upstream u { server 127.0.0.1:2; }\n",
                   'duplicate upstream "u"', "127.0.0.1:2")

    def test_invalid_parameter(self):
        for param in ("foo=1", "weight=0", "weight=x", "max_fails=x",
                      "fail_timeout=x", "max_conns=x"):
            with self.subTest(param=param):
                self.check(f"    upstream u {{\n        server 127.0.0.1:1 "
                           f"{param};\n    }}\n",
                           f'invalid parameter "{param}"', param)

    def test_host_not_found_in_upstream(self):
        self.check("    upstream u {\n        server nosuch.invalid:80;\n"
                   "    }\n",
                   'host not found in upstream "nosuch.invalid:80"',
                   "nosuch.invalid")

    def test_invalid_host_in_upstream(self):
        self.check("    upstream u {\n        server http://127.0.0.1:1;\n"
                   "    }\n",
                   'invalid host in upstream "http://127.0.0.1:1"',
                   "http://")

    def test_balancer_without_backup(self):
        for method in ("hash $arg_x", "ip_hash", "random"):
            with self.subTest(method=method):
                self.check(f"    upstream u {{\n        {method};\n"
                           "        server 127.0.0.1:1;\n"
                           "        server 127.0.0.1:2 backup;\n    }\n",
                           'balancing method does not support parameter '
                           '"backup"', "backup")

    def test_hash_after_backup_leaves_no_servers(self):
        # the backup line is accepted first, then hash drops backups
        self.check("    upstream u {\n        server 127.0.0.1:1 backup;\n"
                   "        hash $arg_x;\n    }\n",
                   'no servers in upstream "u"', "upstream u {")

    def test_keepalive_zero(self):
        self.check("    upstream u {\n        server 127.0.0.1:1;\n"
                   "        keepalive 0;\n    }\n",
                   'invalid value "0" in "keepalive" directive',
                   "keepalive 0")

    def test_zone_too_small(self):
        self.check("    upstream u {\n        server 127.0.0.1:1;\n"
                   "        zone z 1k;\n    }\n",
                   'zone "z" is too small', "zone z")

    def test_proxy_pass_unknown_name(self):
        self.check("    server {\n        listen 127.0.0.1:@PORT@;\n"
                   "        location / { proxy_pass http://nope; }\n"
                   "    }\n",
                   'host not found in upstream "nope"', "http://nope")

    def test_upstream_may_not_have_port(self):
        self.check("    upstream u { server 127.0.0.1:1; }\n"
                   "    server {\n        listen 127.0.0.1:@PORT@;\n"
                   "        location / { proxy_pass http://u:81; }\n"
                   "    }\n",
                   'upstream "u" may not have port 81', "http://u:81")

    def test_random_invalid_parameter(self):
        self.check("    upstream u {\n        server 127.0.0.1:1;\n"
                   "        random two foo;\n    }\n",
                   'invalid parameter "foo"', "random two")

    def test_hash_without_key(self):
        self.check("    upstream u {\n        server 127.0.0.1:1;\n"
                   "        hash;\n    }\n",
                   'invalid number of arguments in "hash" directive',
                   "hash;")

    def test_method_redefined_is_a_warning(self):
        p = self.proxy("    upstream u {\n        server 127.0.0.1:1;\n"
                       "        least_conn;\n        ip_hash;\n    }\n",
                       start=False)
        r = p.test_conf()
        self.assertEqual(r.returncode, 0, r.stderr)
        line = p.conf_line("ip_hash")
        self.assertRegex(r.stderr, r"\[warn\] (?:\d+#\d+: )?load balancing "
                         r"method redefined in " + re.escape(
                             f"{p.conf_path}:{line}") + "\n")


class RoundRobin(UpstreamCase):

    def test_smooth_weighted_exact_cycle(self):
        o = self.origins(3)
        p = self.proxy(group([f"{o[0].addr()} weight=5", o[1].addr(),
                              o[2].addr()]))
        seq = [who(p.port) for _ in range(14)]
        cycle = ["o1", "o1", "o2", "o1", "o3", "o1", "o1"]
        self.assertEqual(seq, cycle * 2)

    def test_equal_weights_alternate(self):
        o = self.origins(3)
        p = self.proxy(group([x.addr() for x in o]))
        seq = [who(p.port) for _ in range(9)]
        self.assertEqual(seq, ["o1", "o2", "o3"] * 3)


class LeastConn(UpstreamCase):

    NEEDS = "least_conn; random two least_conn;"

    def test_idle_peer_gets_the_next_requests(self):
        o = self.origins(2)
        p = self.proxy(group([o[0].addr(), o[1].addr()],
                             extra="        least_conn;"))
        held = Held(p.port, o)
        seq = [who(p.port) for _ in range(6)]
        self.assertEqual(seq, [held.idle.name] * 6)
        self.assertEqual(held.finish(), held.busy.name)

    def test_random_two_least_conn_prefers_idle(self):
        o = self.origins(2)
        p = self.proxy(group([o[0].addr(), o[1].addr()],
                             extra="        random two least_conn;"))
        held = Held(p.port, o)
        # with two peers "two" always compares both
        self.assertEqual([who(p.port) for _ in range(6)],
                         [held.idle.name] * 6)
        held.finish()


class Hashing(UpstreamCase):

    NEEDS = "ip_hash; hash $arg_x consistent;"

    def test_ip_hash_uses_the_first_three_octets(self):
        o = self.origins(3)
        p = self.proxy(group([x.addr() for x in o],
                             extra="        ip_hash;"))
        mapping = {}
        for a in range(1, 4):
            for b in range(1, 11):
                net = f"127.{a}.{b}"
                names = {who(p.port, src=f"{net}.{c}") for c in (1, 77, 254)}
                self.assertEqual(len(names), 1, f"{net}.0/24 -> {names}")
                mapping[net] = names.pop()
        self.assertGreater(len(set(mapping.values())), 1, mapping)
        # stable: the same networks map the same way again
        for net, name in list(mapping.items())[:10]:
            self.assertEqual(who(p.port, src=f"{net}.9"), name)

    def test_ip_hash_down_keeps_the_other_networks(self):
        # `down` keeps the hashing of everyone else (its networks move)
        o = self.origins(3)
        nets = [f"127.{a}.{b}" for a in (4, 5) for b in range(1, 16)]
        p = self.proxy(group([x.addr() for x in o], extra="        ip_hash;"))
        before = {n: who(p.port, src=f"{n}.1") for n in nets}
        p.cleanup()
        self.assertEqual(len(set(before.values())), 3, before)
        q = self.proxy(group([o[0].addr(), o[1].addr(),
                              f"{o[2].addr()} down"],
                             extra="        ip_hash;"))
        after = {n: who(q.port, src=f"{n}.1") for n in nets}
        for n in nets:
            if before[n] == "o3":
                self.assertIn(after[n], ("o1", "o2"), n)
            else:
                self.assertEqual(after[n], before[n], n)

    def test_hash_key_is_stable(self):
        o = self.origins(3)
        p = self.proxy(group([x.addr() for x in o],
                             extra="        hash $arg_x;"))
        first = {k: who(p.port, f"/?x=k{k}") for k in range(40)}
        self.assertGreater(len(set(first.values())), 1, first)
        for k in range(40):
            self.assertEqual(who(p.port, f"/?x=k{k}"), first[k])

    def test_hash_remote_addr(self):
        o = self.origins(3)
        p = self.proxy(group([x.addr() for x in o],
                             extra="        hash $remote_addr;"))
        srcs = [f"127.9.{i}.{j}" for i in range(1, 5) for j in (3, 200)]
        first = {s: who(p.port, src=s) for s in srcs}
        self.assertGreater(len(set(first.values())), 1, first)
        for s in srcs:
            self.assertEqual(who(p.port, src=s), first[s])

    def test_consistent_removal_remaps_only_the_removed_peers_keys(self):
        o = self.origins(4)
        extra = "        hash $arg_x consistent;"
        keys = [f"key{k}" for k in range(200)]
        p = self.proxy(group([x.addr() for x in o], extra=extra))
        before = {k: who(p.port, f"/?x={k}") for k in keys}
        p.cleanup()
        self.assertEqual(len(set(before.values())), 4)
        # the same group without o3
        q = self.proxy(group([o[0].addr(), o[1].addr(), o[3].addr()],
                             extra=extra))
        after = {k: who(q.port, f"/?x={k}") for k in keys}
        moved = [k for k in keys if after[k] != before[k]]
        self.assertEqual(sorted(moved),
                         sorted(k for k in keys if before[k] == "o3"))
        self.assertTrue(all(after[k] != "o3" for k in keys))


class Random(UpstreamCase):

    NEEDS = "random;"

    def check_share(self, weights, n=200):
        o = self.origins(len(weights))
        p = self.proxy(group([f"{x.addr()} weight={w}"
                              for x, w in zip(o, weights)],
                             extra="        random;"))
        seen = collections.Counter(who(p.port) for _ in range(n))
        total = sum(weights)
        for x, w in zip(o, weights):
            lo, hi = binomial_bound(n, w / total)
            self.assertTrue(lo <= seen[x.name] <= hi,
                            f"{x.name}: {seen[x.name]} of {n} not in "
                            f"[{lo:.0f}, {hi:.0f}] ({dict(seen)})")

    def test_random_equal_weights(self):
        self.check_share([1, 1])

    def test_random_weighted(self):
        self.check_share([3, 1])


class PassiveChecks(UpstreamCase):

    NEEDS = "zone z 64k;"

    def test_failed_peer_skipped_until_fail_timeout(self):
        o = self.origins(2)
        p = self.proxy(group([o[0].addr(),
                              f"{o[1].addr()} max_fails=1 fail_timeout=3s"]))
        dead = o[1].addr()
        o[1].stop()
        t0 = time.time()
        for i in range(6):
            self.assertEqual(who(p.port, f"/?n={i}"), "o1")
        fails = [r for r in p.wait_access(6) if dead in r["addrs"]]
        self.assertEqual(len(fails), 1, fails)
        self.assertEqual(fails[0]["addrs"], [dead, o[0].addr()])
        self.assertEqual(fails[0]["statuses"], ["502", "200"])
        first = fails[0]["time"]
        # requests for 2 s more (fail_timeout less the one-second clock
        # granularity): none of them tries the failed peer
        n = 0
        while time.time() < first + 2:
            self.assertEqual(who(p.port, f"/?w={n}"), "o1")
            n += 1
            time.sleep(0.05)
        again = [r for r in p.wait_access(6 + n) if dead in r["addrs"]]
        self.assertEqual(len(again), 1, again)
        self.assertGreater(n, 5)
        # once fail_timeout is over, one request tries it again
        o[1].restart()

        def back():
            return who(p.port, f"/?b={time.time()}") == "o2"
        wait_for(back, "the restarted peer to serve again", 9)
        self.assertLess(time.time() - t0, 3 * 3 + 1)
        p.wait_error(r"connect\(\) failed \(111: Connection refused\) while "
                     r"connecting to upstream")

    def test_no_live_upstreams(self):
        o = self.origins(2)
        p = self.proxy(group([f"{x.addr()} max_fails=1 fail_timeout=10s"
                              for x in o]))
        for x in o:
            x.stop()
        st, _, _ = request(p.port, "/?first")
        self.assertEqual(st, 502)
        first = p.wait_access(1)[-1]
        self.assertEqual(sorted(first["addrs"]), sorted(x.addr() for x in o))
        self.assertEqual(first["statuses"], ["502", "502"])
        # both are marked failed now: nothing is even tried
        st, _, _ = request(p.port, "/?second")
        self.assertEqual(st, 502)
        p.wait_error(r"\[error\] \d+#\d+: \*\d+ no live upstreams while "
                     r"connecting to upstream")
        second = p.wait_access(2)[-1]
        self.assertEqual((second["addrs"], second["statuses"]),
                         (["u"], ["502"]))

    def test_single_server_is_never_marked_failed(self):
        o = self.origins(1)
        p = self.proxy(group([f"{o[0].addr()} max_fails=1 fail_timeout=30s"]))
        o[0].stop()
        self.assertEqual(request(p.port)[0], 502)
        o[0].restart()
        # well within fail_timeout: a lone peer is always tried
        self.assertEqual(who(p.port), "o1")

    def test_max_conns_reached_is_no_live_upstreams(self):
        o = self.origins(1)
        p = self.proxy(group([f"{o[0].addr()} max_conns=1"]))
        held = Held(p.port, o)
        self.assertEqual(request(p.port, "/?second")[0], 502)
        p.wait_error(r"no live upstreams while connecting to upstream")
        self.assertEqual(held.finish(), "o1")
        self.assertEqual(o[0].nrequests(), 1)
        self.assertEqual(who(p.port), "o1")

    def test_max_conns_sends_the_rest_to_backup(self):
        o = self.origins(2)
        p = self.proxy(group([f"{o[0].addr()} max_conns=1",
                              f"{o[1].addr()} backup"],
                             extra="        zone u 64k;"), workers=2)
        held = Held(p.port, o[:1])
        # whichever worker takes them, the zone says o1 is full
        self.assertEqual([who(p.port) for _ in range(6)], ["o2"] * 6)
        self.assertEqual(held.finish(), "o1")
        self.assertEqual(who(p.port), "o1")

if __name__ == "__main__":
    unittest.main()
