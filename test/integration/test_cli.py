"""The nginx command line: -v -V -h, option errors, -t -q -T and -g."""

import os
import subprocess
import unittest

from portico_harness import BIN, PorticoTestCase, workers_of


def run_bin(*args):
    return subprocess.run([BIN, *args], stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, timeout=10)


class VersionAndHelp(unittest.TestCase):

    def test_v_prints_version(self):
        r = run_bin("-v")
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stderr, r"\Aportico version: portico/\d+\.\d+\.\d+"
                                   r"\n\Z")
        self.assertEqual(r.stdout, "")

    def test_V_prints_configure_arguments(self):
        r = run_bin("-V")
        self.assertEqual(r.returncode, 0)
        lines = r.stderr.splitlines()
        self.assertRegex(lines[0], r"^portico version: portico/\d+\.\d+\.\d+$")
        self.assertTrue(any(x.startswith("configure arguments:")
                            for x in lines), r.stderr)
        self.assertTrue(any(x.startswith("built with ") for x in lines),
                        r.stderr)

    def test_h_prints_usage(self):
        for opt in ("-h", "-?"):
            with self.subTest(opt=opt):
                r = run_bin(opt)
                self.assertEqual(r.returncode, 0)
                self.assertTrue(r.stderr.startswith(
                    "portico version: portico/"), r.stderr)
                self.assertIn("Usage: portico [-?hvVtTq] [-s signal] "
                              "[-p prefix]", r.stderr)
                for o in ("-t ", "-T ", "-q ", "-s signal", "-p prefix",
                          "-c filename", "-g directives"):
                    self.assertIn("  " + o, r.stderr)

    def test_invalid_option(self):
        r = run_bin("-x")
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr, 'portico: invalid option: "x"\n')

    def test_invalid_option_without_dash(self):
        r = run_bin("foo")
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr, 'portico: invalid option: "foo"\n')

    def test_option_requires_value(self):
        for opt, need in (("-c", "file name"), ("-p", "directory name"),
                          ("-g", "parameter"), ("-s", "parameter"),
                          ("-e", "file name")):
            with self.subTest(opt=opt):
                r = run_bin(opt)
                self.assertEqual(r.returncode, 1)
                self.assertEqual(r.stderr,
                                 f'portico: option "{opt}" requires {need}\n')

    def test_invalid_signal(self):
        r = run_bin("-s", "restart")
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr, 'portico: invalid option: "-s restart"\n')


class ConfigTest(PorticoTestCase):

    def test_t_ok(self):
        inst = self.portico()
        r = inst.run("-t")
        self.assertEqual(r.returncode, 0, r.stderr)
        c = inst.conf_path
        self.assertEqual(
            r.stderr,
            f"portico: the configuration file {c} syntax is ok\n"
            f"portico: configuration file {c} test is successful\n")
        self.assertEqual(r.stdout, "")

    def test_t_q_is_silent(self):
        inst = self.portico()
        r = inst.run("-t", "-q")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr, "")
        self.assertEqual(r.stdout, "")
        # combined flags too
        r = inst.run("-tq")
        self.assertEqual((r.returncode, r.stderr), (0, ""))

    def test_t_q_still_reports_errors(self):
        inst = self.portico()
        inst.write_conf("events {}\nbogus;\n")
        r = inst.run("-t", "-q")
        self.assertEqual(r.returncode, 1)
        self.assertEqual(
            r.stderr,
            f'portico: [emerg] unknown directive "bogus" in '
            f'{inst.conf_path}:2\n'
            f'portico: configuration file {inst.conf_path} test failed\n')

    def test_T_dumps_every_file(self):
        inst = self.portico()
        os.mkdir(inst.path("conf.d"))
        inc_a = inst.path("conf.d", "a.conf")
        inc_b = inst.path("main.inc")
        a_text = "# included by glob\nworker_shutdown_timeout 5s;\n"
        b_text = "worker_processes 2;\n"
        main_text = ("include main.inc;\n"
                     "include conf.d/*.conf;\n"
                     "events {\n    worker_connections 16;\n}\n")
        inst.write(inc_a, a_text)
        inst.write(inc_b, b_text)
        inst.write_conf(main_text)
        r = inst.run("-T")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(f"configuration file {inst.conf_path} test is "
                      f"successful", r.stderr)
        expect = "".join(f"# configuration file {name}:\n{text}\n"
                         for name, text in ((inst.conf_path, main_text),
                                            (inc_b, b_text),
                                            (inc_a, a_text)))
        self.assertEqual(r.stdout, expect)

    def test_T_q_dumps_without_messages(self):
        inst = self.portico()
        r = inst.run("-T", "-q")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr, "")
        with open(inst.conf_path) as f:
            self.assertEqual(r.stdout, f"# configuration file "
                                       f"{inst.conf_path}:\n{f.read()}\n")

    def test_g_bad_directive_names_command_line(self):
        inst = self.portico(workers=None)
        r = inst.run("-g", "daemon maybe;", "-t")
        self.assertEqual(r.returncode, 1)
        self.assertEqual(
            r.stderr,
            'portico: [emerg] invalid value "maybe" in "daemon" directive, '
            'it must be "on" or "off" in command line\n'
            f'portico: configuration file {inst.conf_path} test failed\n')
        r = inst.run("-g", "no_such_thing 1;", "-t")
        self.assertEqual(r.returncode, 1)
        self.assertTrue(r.stderr.startswith(
            'portico: [emerg] unknown directive "no_such_thing" in command '
            'line\n'), r.stderr)

    def test_g_duplicate_of_config(self):
        inst = self.portico(workers=2)
        r = inst.run("-g", "worker_processes 3;", "-t")
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr.splitlines()[0],
                         'portico: [emerg] "worker_processes" directive is '
                         f'duplicate in {inst.conf_path}:2')

    def test_g_is_applied(self):
        inst = self.portico(workers=None)
        master = inst.start("-g", "worker_processes 3;", workers=3)
        self.assertEqual(len(workers_of(master)), 3)
        # the master's title keeps the command line
        with open(f"/proc/{master}/cmdline", "rb") as f:
            title = f.read().replace(b"\0", b" ").decode().strip()
        self.assertIn("-g worker_processes 3;", title)


if __name__ == "__main__":
    unittest.main()
