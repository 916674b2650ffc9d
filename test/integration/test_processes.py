"""The process tree: one master, N workers, their titles and user, and the
respawn of a worker that dies."""

import os
import pwd
import signal
import unittest

from portico_harness import (BIN, MASTER_TITLE, WORKER_TITLE, PorticoTestCase,
                             alive, children, cmdline, get_tag_pid, proc_uid,
                             workers_of)


class ProcessTree(PorticoTestCase):

    def test_master_and_workers(self):
        inst = self.portico(workers=3)
        master = inst.start()
        self.assertEqual(inst.read_pidfile(), master)
        ws = workers_of(master)
        self.assertEqual(len(ws), 3)
        # nothing else hangs below the master (no cache processes here)
        self.assertEqual(sorted(children(master)), ws)
        self.assertEqual(cmdline(master),
                         f"{MASTER_TITLE} {BIN} -p {inst.prefix} "
                         f"-c {inst.conf_path}")
        for w in ws:
            self.assertEqual(cmdline(w), WORKER_TITLE)
        # the log names every worker it started
        for w in ws:
            inst.wait_log(rf"\[notice\] {master}#{master}: start worker "
                          rf"process {w}\n")
        # a worker answers, never the master
        _, pid = get_tag_pid(inst.port)
        self.assertIn(pid, ws)

    def test_workers_run_as_nobody(self):
        inst = self.portico(workers=2)
        master = inst.start()
        if os.geteuid() != 0:
            self.skipTest("not root: workers keep the master's user")
        nobody = pwd.getpwnam("nobody")
        self.assertEqual(proc_uid(master), (0, 0))
        for w in workers_of(master):
            self.assertEqual(proc_uid(w), (nobody.pw_uid, nobody.pw_uid),
                             f"worker {w} uid")
        # the error log was handed to the workers' user
        self.assertEqual(os.stat(inst.log_path).st_uid, nobody.pw_uid)

    def test_killed_worker_is_respawned(self):
        inst = self.portico(workers=1)
        master = inst.start()
        victim = workers_of(master)[0]
        self.assertEqual(get_tag_pid(inst.port)[1], victim)
        os.kill(victim, signal.SIGKILL)
        inst.wait_gone([victim], "the killed worker")
        new = inst.wait_workers(1)[0]
        self.assertNotEqual(new, victim)
        inst.wait_log(rf"\[alert\] {master}#{master}: worker process "
                      rf"{victim} exited on signal 9\n")
        inst.wait_log(rf"\[notice\] {master}#{master}: start worker "
                      rf"process {new}\n")
        self.assertTrue(alive(master))
        self.assertEqual(inst.read_pidfile(), master)
        # the shared listening socket survived: the new worker answers
        for _ in range(5):
            self.assertEqual(get_tag_pid(inst.port), ("v1", new))

    def test_killed_worker_is_respawned_reuseport(self):
        inst = self.portico(workers=2, listen_extra=" reuseport")
        master = inst.start()
        before = workers_of(master)
        os.kill(before[1], signal.SIGKILL)
        inst.wait_gone([before[1]], "the killed worker")
        after = inst.wait_workers(2)
        self.assertNotIn(before[1], after)
        inst.wait_log(rf"worker process {before[1]} exited on signal 9\n")
        # every reuseport slot has a worker again: 40 new connections,
        # each must be answered (none stuck on the dead worker's socket)
        seen = set()
        for _ in range(40):
            _, pid = get_tag_pid(inst.port, timeout=3)
            self.assertIn(pid, after)
            seen.add(pid)
        # steering is random over the two slots: both serve
        self.assertEqual(seen, set(after))


if __name__ == "__main__":
    unittest.main()
