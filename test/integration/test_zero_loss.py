"""Zero loss (ARCHITECTURE.md, "Reload" and "Binary upgrade"): a bounded
client load, with clients on new connections and on keep-alive
connections, none of which ever retries, goes through five HUP reloads
that each change the answer, then a USR2, WINCH, QUIT binary upgrade of a
daemonized master. Not one request may fail or be reset, each client sees
every new answer soon after its reload and never an older one again."""

import os
import http.client
import signal
import time
import unittest

from portico_harness import (MASTER_TITLE, Load, PorticoTestCase, alive,
                             cmdline, proc_stat, wait_for, workers_of)

WORKERS = 2
RELOADS = 5


class ZeroLoss(PorticoTestCase):

    def setUp(self):
        super().setUp()
        self.loads = []

    def tearDown(self):
        try:
            for load in self.loads:
                if load.is_alive():
                    load.stop()
        finally:
            super().tearDown()

    def wait_tag(self, tag, what, count=50, loads=None):
        """Every client (of `loads`) answers `count` times with `tag` from
        now on; returns the marks of all taken before waiting."""
        marks = [load.mark() for load in self.loads]
        for load, m in zip(self.loads, marks):
            if loads is not None and load not in loads:
                continue
            wait_for(lambda: sum(1 for r in load.ok_since(m)
                                 if r[2] == tag) >= count,
                     f"{count} answers {tag!r} {what} ({load.kind()})",
                     diag=load.summary)
        return marks

    @staticmethod
    def version_header(port):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            c.request("GET", "/")
            r = c.getresponse()
            r.read()
            return r.getheader("X-Version")
        finally:
            c.close()

    def upgrade(self, inst, old_master, old_workers):
        mark = inst.log_size()
        inst.signal(signal.SIGUSR2, old_master)
        wait_for(lambda: inst.read_pidfile(inst.oldbin_path) == old_master,
                 "the .oldbin pid file", diag=inst.diag)
        new_master = wait_for(
            lambda: (lambda p: p if p and p != old_master else None)(
                inst.read_pidfile()),
            "a new pid file naming the new master", diag=inst.diag)
        inst.track(new_master)
        self.assertEqual(proc_stat(new_master)[1], old_master)
        wait_for(lambda: cmdline(new_master).startswith(MASTER_TITLE),
                 "the new master's title", diag=inst.diag)
        inst.wait_log(rf"{new_master}#{new_master}: using inherited "
                      r'sockets from "[\d;]+"', since=mark)
        new_workers = inst.wait_workers(WORKERS, new_master)
        self.assertFalse(set(new_workers) & set(old_workers))
        return new_master, new_workers

    def test_reloads_and_upgrade_under_load(self):
        inst = self.portico(workers=WORKERS, daemon=True,
                            body="v1 $pid\\n", worker_connections=256,
                            server_extra="add_header X-Version v1;")
        master = inst.start()
        t0 = time.monotonic()
        # busy keep-alive clients, keep-alive clients mostly idle (their
        # next request races the reload's close of idle connections) and
        # clients on a new connection per request
        self.loads = ([Load(inst.port, keepalive=True, max_seconds=60,
                            max_requests=20000) for _ in range(2)]
                      + [Load(inst.port, keepalive=True, max_seconds=60,
                              max_requests=20000, pause=0.005)
                         for _ in range(2)]
                      + [Load(inst.port, keepalive=False, max_seconds=60,
                              max_requests=20000) for _ in range(3)])
        for load in self.loads:
            load.start()
        self.wait_tag("v1", "before the reloads")

        workers = workers_of(master)
        gone_marks = {}
        for n in range(2, RELOADS + 2):
            tag = f"v{n}"
            inst.write_conf(body=tag + " $pid\\n",
                            server_extra=f"add_header X-Version {tag};")
            mark = inst.log_size()
            inst.signal(signal.SIGHUP)
            inst.wait_log(rf"\[notice\] {master}#{master}: reconfiguring",
                          since=mark)
            new = inst.wait_workers(WORKERS, exclude=workers)
            inst.wait_gone(workers, f"the workers replaced by reload {n}")
            # both generations accept until the old one leaves: from now
            # on nothing older than this one may answer
            gone_marks[n] = [load.mark() for load in self.loads]
            workers = new
            self.wait_tag(tag, f"after reload {n - 1}")
            # the reload changed a response header too
            self.assertEqual(self.version_header(inst.port), tag)

        # binary upgrade: the new binary reads a config answering v7; until
        # WINCH both generations answer (v6 and v7 mixed)
        inst.write_conf(body="v7 $pid\\n",
                        server_extra="add_header X-Version v7;")
        old_master, old_workers = master, workers
        new_master, new_workers = self.upgrade(inst, old_master, old_workers)
        # new connections reach both generations; keep-alive ones stay on
        # the old workers until WINCH
        self.wait_tag("v7", "from the new binary's workers", count=10,
                      loads=[ld for ld in self.loads if not ld.keepalive])
        inst.signal(signal.SIGWINCH, old_master)
        inst.wait_gone(old_workers, "the old workers after WINCH")
        self.assertTrue(alive(old_master))
        marks = self.wait_tag("v7", "after WINCH")
        inst.signal(signal.SIGQUIT, old_master)
        inst.wait_gone([old_master], "the old master after QUIT")
        wait_for(lambda: not os.path.exists(inst.oldbin_path),
                 ".oldbin to be removed", diag=inst.diag)
        self.assertEqual(inst.read_pidfile(), new_master)
        self.assertEqual(workers_of(new_master), new_workers)
        self.wait_tag("v7", "after QUIT")

        for load in self.loads:
            load.stop()
        elapsed = time.monotonic() - t0
        total = 0
        for i, (load, m) in enumerate(zip(self.loads, marks)):
            self.assert_no_failures(load)
            recs = load.snapshot()
            total += len(recs)
            tags = [int(r[2][1:]) for r in recs]
            # once a generation's workers are gone, it never answers again
            # (requests in flight at the mark may still end there)
            for n, gm in gone_marks.items():
                older = [t for t in tags[gm[i] + 5:] if t < n]
                self.assertEqual(older, [], f"{load.kind()}: answers older "
                                 f"than v{n} after its reload")
            # every generation was seen, by every client
            self.assertEqual(set(tags), set(range(1, RELOADS + 3)),
                             load.kind())
            # after WINCH only the new binary's workers answer: v7
            late = recs[m + 5:]
            self.assertEqual({r[2] for r in late}, {"v7"}, load.kind())
            self.assertTrue({r[3] for r in late} <= set(new_workers),
                            load.kind())
        self.assertGreater(total, 2000)
        print(f"\nzero loss: {total} requests in {elapsed:.1f} s", end=" ")
        self.assertLess(elapsed, 45)


if __name__ == "__main__":
    unittest.main()
