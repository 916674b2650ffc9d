"""Signals to the master, sent with `portico -s NAME` (through the pid
file) or with kill: reload, quit, stop, reopen, and a reload that fails."""

import os
import pwd
import signal
import unittest

from portico_harness import (PorticoTestCase, alive, get_tag_pid, wait_for,
                             workers_of)


class SignalCommands(PorticoTestCase):

    def send(self, inst, name):
        r = inst.run("-s", name)
        self.assertEqual((r.returncode, r.stderr), (0, ""),
                         f"portico -s {name}")

    def test_s_reload_switches_config(self):
        inst = self.portico(workers=2)
        master = inst.start()
        old = workers_of(master)
        self.assertEqual(get_tag_pid(inst.port)[0], "v1")
        mark = inst.log_size()
        inst.write_conf(body="v2 $pid\\n")
        self.send(inst, "reload")

        inst.wait_log(rf"\[notice\] {master}#{master}: reconfiguring\n",
                      since=mark)
        new = inst.wait_workers(2, exclude=old)
        # the old generation drains and exits; the master stays
        inst.wait_gone(old, "old workers")
        for w in old:
            inst.wait_log(rf"worker process {w} exited with code 0\n",
                          since=mark)
        self.assertTrue(alive(master))
        self.assertEqual(inst.read_pidfile(), master)
        for _ in range(10):
            tag, pid = get_tag_pid(inst.port)
            self.assertEqual(tag, "v2")
            self.assertIn(pid, new)

    def test_s_reload_changes_worker_count(self):
        inst = self.portico(workers=1)
        master = inst.start()
        old = workers_of(master)
        inst.write_conf(workers=3, body="v2 $pid\\n")
        self.send(inst, "reload")
        inst.wait_workers(3, exclude=old)
        inst.wait_gone(old, "the old worker")
        wait_for(lambda: get_tag_pid(inst.port)[0] == "v2",
                 "the new config to answer", diag=inst.diag)
        self.assertEqual(inst.read_pidfile(), master)

    def test_s_quit(self):
        inst = self.portico(workers=2)
        master = inst.start()
        ws = workers_of(master)
        self.send(inst, "quit")
        inst.wait_gone([master] + ws, "master and workers after quit")
        self.assertEqual(inst.popens[0].wait(timeout=5), 0)
        self.assertFalse(os.path.exists(inst.pid_path))
        inst.wait_log(rf"\[notice\] {master}#{master}: gracefully shutting "
                      r"down\n")
        inst.wait_log(rf"\[notice\] {master}#{master}: exit\n")
        with self.assertRaises(ConnectionRefusedError):
            get_tag_pid(inst.port)

    def test_s_stop(self):
        inst = self.portico(workers=2)
        master = inst.start()
        ws = workers_of(master)
        self.send(inst, "stop")
        inst.wait_gone([master] + ws, "master and workers after stop")
        self.assertEqual(inst.popens[0].wait(timeout=5), 0)
        self.assertFalse(os.path.exists(inst.pid_path))
        inst.wait_log(rf"\[notice\] {master}#{master}: exiting\n")
        inst.wait_log(rf"\[notice\] {master}#{master}: exit\n")
        with self.assertRaises(ConnectionRefusedError):
            get_tag_pid(inst.port)

    def test_s_without_running_master(self):
        inst = self.portico()
        r = inst.run("-s", "reload")
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr, f'portico: [error] open() '
                         f'"{inst.pid_path}" failed (2: No such file or '
                         f'directory)\n')

    def test_s_with_garbage_pid_file(self):
        inst = self.portico()
        inst.write(inst.pid_path, "abc\n")
        r = inst.run("-s", "quit")
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr, f'portico: [error] invalid PID number '
                         f'"abc" in "{inst.pid_path}"\n')

    def test_s_reopen_after_log_rotation(self):
        self.check_reopen(lambda inst: self.send(inst, "reopen"))

    def test_usr1_after_log_rotation(self):
        self.check_reopen(lambda inst: inst.signal(signal.SIGUSR1))

    def check_reopen(self, reopen):
        inst = self.portico(workers=2)
        master = inst.start()
        ws = workers_of(master)
        rotated = inst.log_path + ".1"
        os.rename(inst.log_path, rotated)
        reopen(inst)
        # the master recreates the file, then each worker reopens it; all
        # of them logged "reopening logs" into the rotated file first
        wait_for(lambda: os.path.exists(inst.log_path),
                 "error.log to be recreated", diag=inst.diag)
        for pid in [master] + ws:
            inst.wait_log(rf"\[notice\] {pid}#{pid}: reopening logs\n",
                          path=rotated)
        # a second reopen is logged by every process into the new file:
        # proof that each of them writes there now
        inst.signal(signal.SIGUSR1)
        for pid in [master] + ws:
            inst.wait_log(rf"\[notice\] {pid}#{pid}: reopening logs\n")
        self.assertEqual(workers_of(master), ws)
        if os.geteuid() == 0:
            # workers (nobody) must be able to reopen it next time
            self.assertEqual(os.stat(inst.log_path).st_uid,
                             pwd.getpwnam("nobody").pw_uid)
        self.assertEqual(get_tag_pid(inst.port)[0], "v1")


class FailedReload(PorticoTestCase):

    def test_hup_with_broken_config_keeps_old_one(self):
        inst = self.portico(workers=2)
        master = inst.start()
        old = workers_of(master)
        good = open(inst.conf_path).read()
        inst.write_conf(text=good.replace("return 200", "retrun 200"))
        mark = inst.log_size()
        inst.signal(signal.SIGHUP)
        line = good.splitlines().index(
            [x for x in good.splitlines() if "return 200" in x][0]) + 1
        inst.wait_log(rf'\[emerg\] {master}#{master}: unknown directive '
                      rf'"retrun" in {inst.conf_path}:{line}\n', since=mark)
        inst.wait_log(rf"\[alert\] {master}#{master}: reload failed: still "
                      r"running with the configuration loaded before\n",
                      since=mark)
        # nothing changed: same master, same workers, old text
        self.assertTrue(alive(master))
        self.assertEqual(workers_of(master), old)
        self.assertEqual(inst.read_pidfile(), master)
        for _ in range(5):
            tag, pid = get_tag_pid(inst.port)
            self.assertEqual(tag, "v1")
            self.assertIn(pid, old)
        self.assertNotIn("exited", inst.log()[mark:])

        # and a later good reload still works
        inst.write_conf(body="v2 $pid\\n")
        inst.signal(signal.SIGHUP)
        inst.wait_gone(old, "old workers")
        new = inst.wait_workers(2, exclude=old)
        wait_for(lambda: get_tag_pid(inst.port) in [("v2", w) for w in new],
                 "v2 from the new workers", diag=inst.diag)

    def test_hup_with_unbindable_listen_keeps_old_one(self):
        """A config that parses but cannot be applied (the address is not
        local) fails as a whole too."""
        inst = self.portico(workers=1)
        master = inst.start()
        old = workers_of(master)
        good = open(inst.conf_path).read()
        inst.write_conf(text=good.replace(
            "        return 200", "        listen 192.0.2.1:1;\n"
            "        return 200"))
        mark = inst.log_size()
        inst.signal(signal.SIGHUP)
        inst.wait_log(r"\[emerg\] .*bind\(\) to 192\.0\.2\.1:1 failed",
                      since=mark)
        inst.wait_log(r"reload failed: still running with the configuration "
                      r"loaded before\n", since=mark)
        self.assertEqual(workers_of(master), old)
        self.assertEqual(get_tag_pid(inst.port), ("v1", old[0]))


if __name__ == "__main__":
    unittest.main()
