"""`portico -t` on broken configurations: nginx's exact wording, the file
and line, exit code 1, and the closing "test failed" line."""

import os
import re
import unittest

from portico_harness import PorticoTestCase

OK_EVENTS = "events {\n    worker_connections 16;\n}\n"


class ConfigErrors(PorticoTestCase):

    def check_error(self, text, message, line=None, files=None):
        """Write `text` as the config (and `files`, relative to the prefix),
        run -t and expect exactly the emerg line and "test failed"."""
        inst = self.portico()
        for name, body in (files or {}).items():
            inst.write(inst.path(name), body)
        inst.write_conf(text)
        r = inst.run("-t")
        msg = message.replace("{prefix}", inst.prefix)
        where = f" in {inst.conf_path}:{line}" if line is not None else ""
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual(
            r.stderr,
            f"portico: [emerg] {msg}{where}\n"
            f"portico: configuration file {inst.conf_path} test failed\n")
        self.assertEqual(r.stdout, "")
        # the boot error log has the same error in its long form
        self.assertRegex(inst.log(), r"\[emerg\] \d+#\d+: "
                         + re.escape(msg + where) + "\n")
        return inst

    def test_unknown_directive(self):
        self.check_error(OK_EVENTS + "http {\n    server {\n"
                         "        proxy_pas http://x;\n    }\n}\n",
                         'unknown directive "proxy_pas"', line=6)

    def test_directive_not_allowed_here(self):
        self.check_error(OK_EVENTS + "listen 80;\n",
                         '"listen" directive is not allowed here', line=4)

    def test_invalid_number_of_arguments(self):
        self.check_error("worker_processes 1 2;\n" + OK_EVENTS,
                         'invalid number of arguments in "worker_processes" '
                         'directive', line=1)
        self.check_error(OK_EVENTS + "\nworker_processes;\n",
                         'invalid number of arguments in "worker_processes" '
                         'directive', line=5)

    def test_unexpected_end_of_file(self):
        self.check_error(OK_EVENTS + "http {\n    server {\n    }\n",
                         'unexpected end of file, expecting "}"', line=7)

    def test_unexpected_close_brace(self):
        self.check_error(OK_EVENTS + "}\n", 'unexpected "}"', line=4)

    def test_duplicate_directive(self):
        self.check_error("worker_processes 1;\n" + OK_EVENTS
                         + "worker_processes 2;\n",
                         '"worker_processes" directive is duplicate', line=5)

    def test_missing_include_file(self):
        self.check_error("include extra.conf;\n" + OK_EVENTS,
                         'open() "{prefix}/extra.conf" failed '
                         '(2: No such file or directory)', line=1)

    def test_error_inside_included_file(self):
        inst = self.portico()
        inc = inst.path("inc.conf")
        inst.write(inc, "\n\nworker_processes x y z;\n")
        inst.write_conf("include inc.conf;\n" + OK_EVENTS)
        r = inst.run("-t")
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr.splitlines()[0],
                         'portico: [emerg] invalid number of arguments in '
                         f'"worker_processes" directive in {inc}:3')

    def test_include_glob_matching_nothing_is_fine(self):
        inst = self.portico()
        os.mkdir(inst.path("conf.d"))
        inst.write_conf("include conf.d/*.conf;\ninclude nodir/*.conf;\n"
                        + OK_EVENTS)
        r = inst.run("-t")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("test is successful", r.stderr)

    def test_load_module_is_an_error(self):
        self.check_error("load_module modules/ngx_stream_module.so;\n"
                         + OK_EVENTS,
                         'load_module "modules/ngx_stream_module.so": nginx '
                         'dynamic modules cannot be loaded by portico; the '
                         'features it supports are built in (remove the '
                         'directive or the file that includes it)', line=1)

    def test_no_events_section(self):
        self.check_error("worker_processes 1;\n",
                         'no "events" section in configuration')

    def test_daemon_invalid_value(self):
        self.check_error("\ndaemon x;\n" + OK_EVENTS,
                         'invalid value "x" in "daemon" directive, it must '
                         'be "on" or "off"', line=2)

    def test_use_kqueue(self):
        self.check_error("events {\n    use kqueue;\n}\n",
                         'invalid event type "kqueue"', line=2)

    def test_use_epoll_is_fine(self):
        inst = self.portico()
        inst.write_conf("events {\n    use epoll;\n}\n")
        self.assertEqual(inst.run("-t", "-q").returncode, 0)

    def test_thread_pool_accepted_with_notice(self):
        inst = self.portico()
        inst.write_conf("thread_pool default threads=32 max_queue=65536;\n"
                        + OK_EVENTS)
        r = inst.run("-t")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("[emerg]", r.stderr)
        self.assertIn("test is successful", r.stderr)
        self.assertRegex(inst.log(), r'\[notice\] \d+#\d+: "thread_pool" '
                         r'directive is ignored in '
                         + re.escape(inst.conf_path) + ":1\n")

    def test_start_with_broken_config_fails(self):
        """The same errors stop a real start: exit 1, nothing runs."""
        inst = self.portico()
        inst.write_conf(OK_EVENTS + "bogus on;\n")
        r = inst.run()
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr, 'portico: [emerg] unknown directive '
                         f'"bogus" in {inst.conf_path}:4\n')
        self.assertFalse(os.path.exists(inst.pid_path))


if __name__ == "__main__":
    unittest.main()
