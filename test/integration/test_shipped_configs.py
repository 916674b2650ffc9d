"""The configurations shipped in conf/: conf/portico.conf passes
`portico -t`; its commented proxy demo and conf/examples/*.conf pass
`nginx -t` (lines marked "Portico extension" removed first: open-source
nginx has no health_check or match); the examples pass `portico -t`, a
test skipped while Portico rejects them only for a directive of the
reverse proxy (issue 5) that it does not know yet."""

import os
import re
import shutil
import subprocess
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CONF = os.path.join(ROOT, "conf")
EXAMPLES = os.path.join(CONF, "examples")
NGINX = os.environ.get("PT_NGINX", "/usr/sbin/nginx")
PORTICO = os.path.abspath(os.environ.get(
    "PORTICO_BIN", os.path.join(ROOT, "objs", "portico")))

# The directives of issue 5: an unknown one means "not merged yet", any
# other rejection is a real error.
PENDING_DIRECTIVES = re.compile(
    r'unknown directive "(upstream|proxy_\w+|set_real_ip_from|real_ip_\w+|'
    r'health_check|match)"')
EXTENSION = "# Portico extension"


def without_extensions(text):
    return "".join(ln for ln in text.splitlines(True) if EXTENSION not in ln)


def uncomment_demo(text):
    """portico.conf with its commented proxy demo switched on."""
    out = []
    for ln in text.splitlines(True):
        m = re.match(r"^(\s*)# ( *)(upstream|server |keepalive|location|"
                     r"proxy_|\})(.*)$", ln, re.S)
        out.append(m.group(1) + m.group(2) + m.group(3) + m.group(4)
                   if m else ln)
    return "".join(out)


def examples():
    return sorted(os.path.join(EXAMPLES, f) for f in os.listdir(EXAMPLES)
                  if f.endswith(".conf"))


class ShippedConfigs(unittest.TestCase):

    def setUp(self):
        self.prefix = tempfile.mkdtemp(prefix="portico-shipped-")
        os.makedirs(os.path.join(self.prefix, "logs"))

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
    def test_portico_conf_demo_under_nginx(self):
        with open(os.path.join(CONF, "portico.conf")) as f:
            text = f.read()
        demo = uncomment_demo(text)
        self.assertIn("\n    upstream portico_demo {", demo)
        self.assertIn("\n        location /demo/ {", demo)
        code, out = self.check(NGINX, demo, "portico.conf")
        self.assertEqual(code, 0, out)

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
        pending = []
        for path in examples():
            with self.subTest(example=os.path.basename(path)):
                with open(path) as f:
                    code, out = self.check(PORTICO, f.read(),
                                           os.path.basename(path))
                if code != 0 and PENDING_DIRECTIVES.search(out):
                    pending.append("%s: %s" % (os.path.basename(path),
                                               PENDING_DIRECTIVES.search(out)
                                               .group(0)))
                    continue
                self.assertEqual(code, 0, out)
        if pending:
            self.skipTest("reverse proxy not merged yet: " + "; ".join(pending))


if __name__ == "__main__":
    unittest.main()
