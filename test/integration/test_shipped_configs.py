"""The configurations shipped in conf/: conf/portico.conf passes
`portico -t` and `nginx -t`, and runs: its /demo/ location proxies to the
server's own "/"; conf/examples/*.conf pass `nginx -t` (lines marked
"Portico extension" removed first: open-source nginx has no health_check
or match) and `portico -t`."""

import os
import re
import shutil
import subprocess
import tempfile
import unittest

from portico_harness import Portico, http_get, wait_for

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CONF = os.path.join(ROOT, "conf")
EXAMPLES = os.path.join(CONF, "examples")
NGINX = os.environ.get("PT_NGINX", "/usr/sbin/nginx")
PORTICO = os.path.abspath(os.environ.get(
    "PORTICO_BIN", os.path.join(ROOT, "objs", "portico")))

EXTENSION = "# Portico extension"


def without_extensions(text):
    return "".join(ln for ln in text.splitlines(True) if EXTENSION not in ln)


def examples():
    return sorted(os.path.join(EXAMPLES, f) for f in os.listdir(EXAMPLES)
                  if f.endswith(".conf"))


class ShippedConfigs(unittest.TestCase):

    def setUp(self):
        self.prefix = tempfile.mkdtemp(prefix="portico-shipped-")
        os.makedirs(os.path.join(self.prefix, "logs"))
        # the certificate the TLS example names (an operator's own in use)
        certs = os.path.join(self.prefix, "certs")
        os.makedirs(certs)
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                        "-nodes", "-days", "2", "-subj", "/CN=example.com",
                        "-keyout", os.path.join(certs, "example.com.key"),
                        "-out", os.path.join(certs, "example.com.pem")],
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=True, timeout=60)

    def tearDown(self):
        shutil.rmtree(self.prefix, ignore_errors=True)

    def check(self, binary, text, name):
        path = os.path.join(self.prefix, name)
        with open(path, "w") as f:
            f.write(text)
        r = subprocess.run([binary, "-t", "-p", self.prefix + "/", "-c", path,
                            "-e", os.path.join(self.prefix, "logs", "e.log")],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=60)
        return r.returncode, r.stdout.decode(errors="replace")

    def test_portico_conf(self):
        with open(os.path.join(CONF, "portico.conf")) as f:
            code, out = self.check(PORTICO, f.read(), "portico.conf")
        self.assertEqual(code, 0, out)

    @unittest.skipUnless(os.access(NGINX, os.X_OK), f"no {NGINX}")
    def test_portico_conf_under_nginx(self):
        with open(os.path.join(CONF, "portico.conf")) as f:
            text = f.read()
        self.assertIn("\n    upstream portico_demo {", text)
        self.assertIn("\n        location /demo/ {", text)
        code, out = self.check(NGINX, text, "portico.conf")
        self.assertEqual(code, 0, out)

    def test_portico_conf_runs_its_demo(self):
        """The shipped config as is, but on a free port: "/" answers, and
        /demo/ is the same answer passed through the proxy."""
        with open(os.path.join(CONF, "portico.conf")) as f:
            text = f.read()
        self.assertEqual(text.count("127.0.0.1:8080"), 2)
        inst = Portico()
        self.addCleanup(inst.cleanup)
        inst.write_conf(text.replace("127.0.0.1:8080",
                                     "127.0.0.1:%d" % inst.port)
                        .replace("daemon", "# daemon"))
        # worker_processes auto: one per CPU this process may run on
        inst.start("-g", "daemon off;", wait=False)
        inst.wait_workers(len(os.sched_getaffinity(0)))
        direct = wait_for(lambda: http_get(inst.port, "/"), "an answer",
                          diag=inst.diag)
        proxied = http_get(inst.port, "/demo/")
        self.assertEqual(direct[0], 200)
        self.assertEqual(proxied[0], 200)
        self.assertRegex(proxied[2], r"^Portico is running \(worker \d+\)\n$")

    @unittest.skipUnless(os.access(NGINX, os.X_OK), f"no {NGINX}")
    def test_examples_under_nginx(self):
        self.assertGreaterEqual(len(examples()), 2)
        for path in examples():
            with self.subTest(example=os.path.basename(path)):
                with open(path) as f:
                    text = without_extensions(f.read())
                code, out = self.check(NGINX, text, os.path.basename(path))
                self.assertEqual(code, 0, out)

    def test_examples_under_portico(self):
        for path in examples():
            with self.subTest(example=os.path.basename(path)):
                with open(path) as f:
                    code, out = self.check(PORTICO, f.read(),
                                           os.path.basename(path))
                self.assertEqual(code, 0, out)


if __name__ == "__main__":
    unittest.main()
