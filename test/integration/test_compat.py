"""The differential compatibility suite (test/compat/): every case there
is served by the real nginx 1.22 (/usr/sbin/nginx) and by Portico, and
the answers are compared; a difference that test/compat/differences.txt
does not list fails. Skipped when nginx is not installed."""

import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "compat"))

import compat  # noqa: E402  (test/compat/compat.py)


@unittest.skipUnless(os.access(compat.NGINX, os.X_OK),
                     f"{compat.NGINX} is not installed (apt-get install "
                     f"nginx-light): the nginx comparison is skipped")
class Compat(unittest.TestCase):

    def test_cases_are_well_formed(self):
        cases = compat.load_cases()
        self.assertGreaterEqual(len(cases), 12)
        self.assertGreaterEqual(sum(len(c.requests) for c in cases), 150)
        diffs = compat.load_differences()
        known = {r.id for c in cases for r in c.requests}
        self.assertEqual(sorted(set(diffs) - known), [],
                         "differences.txt names requests that do not exist")

    def test_nginx_and_portico_answer_alike(self):
        if not os.access(compat.PORTICO, os.X_OK):
            self.fail(f"portico binary {compat.PORTICO} not found: run make")
        report = compat.run()
        print(f"\n{report.summary()} ({report.seconds:.1f} s)")
        if not report.ok():
            self.fail("\n" + report.details(accepted=False) +
                      report.summary())


if __name__ == "__main__":
    unittest.main()
