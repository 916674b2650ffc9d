#!/usr/bin/env python3
"""Portico's test runner: runs the Check unit binaries and the Python
integration suite, then prints one closing line "N passed, N failed"."""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHECK_RE = re.compile(r"Checks: (\d+), Failures: (\d+), Errors: (\d+)")


def run_unit(binaries):
    # Check's 4 s default is too short for the heavier suites under
    # sanitizers on a loaded 2-core machine
    os.environ.setdefault("CK_DEFAULT_TIMEOUT", "60")
    passed = failed = 0
    for b in binaries:
        proc = subprocess.run([b], cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True,
                              timeout=600)
        out = proc.stdout
        m = CHECK_RE.search(out)
        if m is None:
            print(out)
            print(f"{b}: no Check summary (exit {proc.returncode})")
            failed += 1
            continue
        total, fail, err = (int(x) for x in m.groups())
        bad = fail + err
        if bad or proc.returncode != 0:
            print(out)
            bad = max(bad, 1)
        else:
            print(f"unit {os.path.basename(b)}: {total} checks ok")
        passed += total - min(bad, total)
        failed += bad
    return passed, failed


def sanitizer_dir():
    """A directory every process (workers run as nobody) can write its
    sanitizer reports to; ASan/UBSan write there instead of to stderr,
    which daemonized processes do not have."""
    d = tempfile.mkdtemp(prefix="pt-sanitizer-")
    os.chmod(d, 0o1777)
    base = os.path.join(d, "report")
    os.environ["ASAN_OPTIONS"] = ":".join(filter(None, [
        os.environ.get("ASAN_OPTIONS", ""), f"log_path={base}",
        "abort_on_error=0"]))
    os.environ["UBSAN_OPTIONS"] = ":".join(filter(None, [
        os.environ.get("UBSAN_OPTIONS", ""), f"log_path={base}",
        "print_stacktrace=1"]))
    return d


def sanitizer_reports(d):
    """Each report file is one failure; they are printed whole."""
    bad = 0
    for name in sorted(os.listdir(d)):
        path = os.path.join(d, name)
        with open(path, errors="replace") as f:
            text = f.read()
        print(f"=== sanitizer report {name} ===\n{text}")
        bad += 1
    shutil.rmtree(d, ignore_errors=True)
    return bad


def run_integration(pattern):
    os.environ.setdefault("PORTICO_BIN", os.path.join(ROOT, "objs", "portico"))
    idir = os.path.join(ROOT, "test", "integration")
    sys.path.insert(0, idir)
    suite = unittest.defaultTestLoader.discover(idir, pattern=pattern,
                                                top_level_dir=idir)
    result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
    bad = len(result.failures) + len(result.errors) + \
        len(result.unexpectedSuccesses)
    skipped = len(result.skipped)
    # a class or module skipped in setUpClass is one entry that testsRun
    # never counted: only skipped test methods come off the run count
    ran_skipped = sum(1 for t, _ in result.skipped
                      if isinstance(t, unittest.TestCase))
    return result.testsRun - bad - ran_skipped, bad, skipped


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--unit", nargs="*", default=[])
    ap.add_argument("--unit-only", action="store_true")
    ap.add_argument("--integration-only", action="store_true")
    ap.add_argument("--pattern", default=os.environ.get("PT_TEST_PATTERN",
                                                        "test_*.py"))
    args = ap.parse_args()

    passed = failed = skipped = 0
    sdir = sanitizer_dir()
    if not args.integration_only:
        p, f = run_unit(args.unit)
        passed += p
        failed += f
    if not args.unit_only:
        p, f, s = run_integration(args.pattern)
        passed += p
        failed += f
        skipped += s

    reports = sanitizer_reports(sdir)
    if reports:
        print(f"{reports} sanitizer report(s): each counts as a failure")
        failed += reports

    print(f"{passed} passed, {failed} failed" +
          (f", {skipped} skipped" if skipped else ""))
    return 1 if failed or passed == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
