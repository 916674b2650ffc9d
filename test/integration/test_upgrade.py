"""Binary upgrade on the fly (USR2, WINCH, QUIT) and its rollback (HUP to
the old master, QUIT to the new one), daemonized as in production, under a
client load that must see zero failed requests."""

import os
import signal
import unittest

from portico_harness import (MASTER_TITLE, Load, PorticoTestCase, alive,
                             children, cmdline, listening_inodes, proc_stat,
                             wait_for, workers_of)

WORKERS = 2


class BinaryUpgrade(PorticoTestCase):

    def setUp(self):
        super().setUp()
        self.loads = []

    def tearDown(self):
        try:
            for load in self.loads:
                load.stop()
        finally:
            super().tearDown()

    def start_loads(self, port):
        """One client making a new connection per request and one reusing
        keep-alive connections."""
        self.loads = [Load(port, keepalive=False, max_seconds=30),
                      Load(port, keepalive=True, max_seconds=30)]
        for load in self.loads:
            load.start()
        for load in self.loads:
            load.wait_ok(50)

    def marks(self):
        return [load.mark() for load in self.loads]

    def wait_served_only_by(self, pids, what, count=100):
        """From now on, `count` responses on each client come only from
        `pids`; returns the marks taken before waiting."""
        marks = self.marks()
        for load, m in zip(self.loads, marks):
            recs = load.wait_ok(count, since=m, what=what)
            # requests already in flight at the mark may still finish on
            # the previous generation; anything later must not
            later = [r for r in recs[5:] if r[3] not in pids]
            self.assertEqual(later, [], f"{what}: responses from other "
                             f"pids than {sorted(pids)}")
        return marks

    def upgrade(self, inst, old_master, old_workers):
        """USR2 to the old master: returns (new master, its workers)."""
        mark = inst.log_size()
        inst.signal(signal.SIGUSR2, old_master)
        wait_for(lambda: inst.read_pidfile(inst.oldbin_path) == old_master,
                 "the .oldbin pid file to hold the old master",
                 diag=inst.diag)
        new_master = wait_for(
            lambda: (lambda p: p if p and p != old_master else None)(
                inst.read_pidfile()),
            "a new pid file naming the new master", diag=inst.diag)
        inst.track(new_master)
        self.assertEqual(proc_stat(new_master)[1], old_master,
                         "the new master is a child of the old one")
        wait_for(lambda: cmdline(new_master).startswith(MASTER_TITLE),
                 "the new master's title", diag=inst.diag)
        inst.wait_log(rf"\[notice\] {old_master}#{old_master}: start new "
                      rf"binary process {new_master}\n", since=mark)
        inst.wait_log(rf"\[notice\] {new_master}#{new_master}: using "
                      r'inherited sockets from "[\d;]+"\n', since=mark)
        new_workers = inst.wait_workers(len(old_workers), new_master)
        self.assertFalse(set(new_workers) & set(old_workers))
        # the old generation is untouched so far
        self.assertEqual(workers_of(old_master), old_workers)
        self.assertIn(new_master, children(old_master))
        return new_master, new_workers

    def test_upgrade(self):
        inst = self.portico(workers=WORKERS, daemon=True,
                            listen_extra=" reuseport")
        old_master = inst.start()
        old_workers = workers_of(old_master)
        self.assertNotEqual(old_master, inst.popens[0].pid,
                            "the master forked into the background")
        sockets = listening_inodes(inst.port)
        self.assertEqual(len(sockets), WORKERS)
        self.start_loads(inst.port)
        for load in self.loads:
            self.assertTrue(all(r[3] in old_workers
                                for r in load.snapshot() if r[1]))

        new_master, new_workers = self.upgrade(inst, old_master, old_workers)
        # both generations accept on the same sockets meanwhile
        for load in self.loads:
            load.wait_ok(100, since=load.mark())

        # WINCH: the old workers stop gracefully, the old master stays
        mark = inst.log_size()
        inst.signal(signal.SIGWINCH, old_master)
        inst.wait_log(rf"\[notice\] {old_master}#{old_master}: gracefully "
                      r"shutting down worker processes\n", since=mark)
        inst.wait_gone(old_workers, "old workers after WINCH")
        self.assertTrue(alive(old_master))
        self.assertEqual(workers_of(old_master), [])
        self.wait_served_only_by(set(new_workers), "after WINCH")

        # QUIT: the old master leaves; the new one keeps the sockets
        inst.signal(signal.SIGQUIT, old_master)
        inst.wait_gone([old_master], "the old master after QUIT")
        wait_for(lambda: not os.path.exists(inst.oldbin_path),
                 ".oldbin to be removed", diag=inst.diag)
        self.assertEqual(inst.read_pidfile(), new_master)
        self.assertTrue(alive(new_master))
        self.assertEqual(workers_of(new_master), new_workers)
        self.wait_served_only_by(set(new_workers), "after QUIT of the old "
                                 "master")
        # the new master serves on the very sockets the old one bound
        self.assertEqual(listening_inodes(inst.port), sockets)

        for load in self.loads:
            load.stop()
        for load in self.loads:
            self.assert_no_failures(load)
            ok = [r for r in load.snapshot() if r[1]]
            self.assertIn(ok[0][3], old_workers)
            self.assertIn(ok[-1][3], new_workers)
            # pids move from the old generation to the new one, once
            gen = [r[3] in new_workers for r in ok]
            first_new_only = max(i for i, g in enumerate(gen) if not g) + 1
            self.assertTrue(all(gen[first_new_only:]))
            self.assertGreater(len(gen) - first_new_only, 50)

    def test_rollback(self):
        inst = self.portico(workers=WORKERS, daemon=True,
                            listen_extra=" reuseport")
        old_master = inst.start()
        old_workers = workers_of(old_master)
        sockets = listening_inodes(inst.port)
        self.start_loads(inst.port)

        new_master, new_workers = self.upgrade(inst, old_master, old_workers)
        inst.signal(signal.SIGWINCH, old_master)
        inst.wait_gone(old_workers, "old workers after WINCH")
        self.wait_served_only_by(set(new_workers), "after WINCH")

        # HUP to the old master: its workers come back (same config)
        mark = inst.log_size()
        inst.signal(signal.SIGHUP, old_master)
        inst.wait_log(rf"\[notice\] {old_master}#{old_master}: start worker "
                      r"processes \(rollback from the new binary\)\n",
                      since=mark)
        back = inst.wait_workers(WORKERS, old_master, exclude=old_workers)
        self.assertFalse(set(back) & set(old_workers))
        self.assertFalse(set(back) & set(new_workers))

        # QUIT to the new master: it and its workers leave
        inst.signal(signal.SIGQUIT, new_master)
        inst.wait_gone([new_master] + new_workers,
                       "the new master and its workers after QUIT")
        inst.wait_log(rf"\[alert\] {old_master}#{old_master}: new binary "
                      rf"process {new_master} exited, the old one takes the "
                      r"pid file back\n", since=mark)
        wait_for(lambda: inst.read_pidfile() == old_master,
                 "the pid file to name the old master again",
                 diag=inst.diag)
        self.assertFalse(os.path.exists(inst.oldbin_path))
        self.assertTrue(alive(old_master))
        self.assertEqual(workers_of(old_master), back)
        self.wait_served_only_by(set(back), "after the rollback")
        self.assertEqual(listening_inodes(inst.port), sockets)

        for load in self.loads:
            load.stop()
        for load in self.loads:
            self.assert_no_failures(load)

    def test_second_usr2_is_refused(self):
        inst = self.portico(workers=1, daemon=True)
        old_master = inst.start()
        new_master, _ = self.upgrade(inst, old_master,
                                     workers_of(old_master))
        mark = inst.log_size()
        inst.signal(signal.SIGUSR2, old_master)
        inst.wait_log(rf"\[alert\] {old_master}#{old_master}: the changing "
                      r"binary signal is ignored", since=mark)
        self.assertEqual(inst.read_pidfile(), new_master)
        self.assertEqual(inst.read_pidfile(inst.oldbin_path), old_master)

    def test_winch_in_foreground_is_ignored(self):
        """As nginx: without daemon WINCH is a terminal resize."""
        inst = self.portico(workers=2)
        master = inst.start()
        ws = workers_of(master)
        inst.signal(signal.SIGWINCH)
        # a reopen round trip proves the master handled its signals since
        mark = inst.log_size()
        inst.signal(signal.SIGUSR1)
        inst.wait_log(rf"{master}#{master}: reopening logs\n", since=mark)
        self.assertEqual(workers_of(master), ws)
        self.assertNotIn("shutting down", inst.log())


if __name__ == "__main__":
    unittest.main()
