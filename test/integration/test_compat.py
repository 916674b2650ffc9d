"""The differential compatibility suite (test/compat/): every case there
is served by the real nginx 1.22 (/usr/sbin/nginx) and by Portico, and
the answers are compared; a difference that test/compat/differences.txt
does not list fails. Skipped when nginx is not installed. Cases marked
"# compat: pending" (the proxy's, issue 5; tls, issue 6) are served by
nginx only while `portico -t` rejects them, and listed as skipped."""

import os
import socket
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
        for case, why in report.skipped:
            print(f"skipped for Portico: {case} (pending: {why})")
        if not report.ok():
            self.fail("\n" + report.details(accepted=False) +
                      report.summary())


class EchoOrigin(unittest.TestCase):
    """The proxy cases' origin answers with the request it received, byte
    for byte, and keeps HTTP/1.1 connections open."""

    def exchange(self, sock, data):
        sock.sendall(data)
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = sock.recv(65536)
            self.assertTrue(chunk, "origin closed before answering")
            buf += chunk
        head, _, body = buf.partition(b"\r\n\r\n")
        n = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        while len(body) < n:
            chunk = sock.recv(65536)
            self.assertTrue(chunk, "origin closed in the body")
            body += chunk
        return head, body

    def test_echo(self):
        origin = compat.echo_origin.EchoOrigin()
        try:
            with socket.create_connection(("127.0.0.1", origin.port),
                                          timeout=10) as s:
                req = (b"POST /x?y=1 HTTP/1.1\r\nHost: a\r\nX-A:  b \r\n"
                       b"Transfer-Encoding: chunked\r\n\r\n"
                       b"3\r\nabc\r\n0\r\n\r\n")
                head, body = self.exchange(s, req)
                self.assertTrue(head.startswith(b"HTTP/1.1 200 OK\r\n"))
                self.assertEqual(body, req)
                req2 = b"GET /status/404 HTTP/1.1\r\nHost: a\r\n\r\n"
                head, body = self.exchange(s, req2)
                self.assertTrue(head.startswith(b"HTTP/1.1 404 "))
                self.assertEqual(body, req2)
        finally:
            origin.stop()


if __name__ == "__main__":
    unittest.main()
