"""Heavy tests, run by `make test-slow` (PORTICO_SLOW=1): thousands of idle
keep-alive connections, and the worker memory they cost next to nginx's
on the same config (the floor of the HTTP issue; ../shared/TARGETS.md has
the goal). Memory figures are skipped under sanitizers."""

import os
import resource
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

from portico_harness import (BIN, PorticoTestCase, alive, children,
                             free_port, wait_for)

SLOW = os.environ.get("PORTICO_SLOW") == "1"
IDLE = 5000
NGINX = "/usr/sbin/nginx"


def sanitized():
    out = subprocess.run([BIN, "-V"], capture_output=True, text=True).stderr
    return "--with-sanitizers" in out


def rss(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for {pid}")


def conf(port, prefix):
    return f"""
worker_processes 1;
worker_rlimit_nofile 20000;
error_log {prefix}/error.log error;
pid {prefix}/server.pid;
events {{ worker_connections 10240; }}
http {{
    access_log off;
    keepalive_timeout 300s;
    keepalive_requests 100000;
    server {{ listen 127.0.0.1:{port}; return 200 "ok\\n"; }}
}}
"""


def open_idle(port, n):
    """n keep-alive connections, each after one whole request."""
    socks = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        while not data.endswith(b"ok\n"):
            chunk = s.recv(4096)
            if not chunk:
                raise AssertionError("closed while opening idle connections")
            data += chunk
        socks.append(s)
    return socks


def measure(port, worker):
    """(worker RSS idle, worker RSS with IDLE idle keep-alive connections),
    in bytes."""
    warm = open_idle(port, 50)           # page in the code paths first
    for s in warm:
        s.close()
    time.sleep(0.5)
    idle = rss(worker)
    socks = open_idle(port, IDLE)
    time.sleep(0.5)                      # let the worker settle its pages
    loaded = rss(worker)
    # still serving with them all open
    probe = open_idle(port, 1)
    for s in socks + probe:
        s.close()
    return idle, loaded


@unittest.skipUnless(SLOW, "slow test: run with make test-slow")
class IdleConnections(PorticoTestCase):

    def setUp(self):
        super().setUp()
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = min(hard, 4 * IDLE)
        if soft < want:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
        if resource.getrlimit(resource.RLIMIT_NOFILE)[0] < IDLE + 200:
            self.skipTest("not enough file descriptors for this test")

    def run_server(self, argv, prefix, port):
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        self.addCleanup(lambda: (p.poll() is None and p.kill(), p.wait()))

        def worker():
            # portico's or nginx's: the master's one live child
            ws = [c for c in children(p.pid) if alive(c)]
            return ws[0] if len(ws) == 1 else None
        w = wait_for(worker, "one worker", diag=lambda: "")
        wait_for(lambda: socket.create_connection(("127.0.0.1", port),
                                                  timeout=1).close() or True,
                 "the port to accept", diag=lambda: "")
        return p, w

    def test_idle_keepalive_memory_against_nginx(self):
        prefix = tempfile.mkdtemp(prefix="portico-slow-")
        os.chmod(prefix, 0o755)
        self.addCleanup(shutil.rmtree, prefix, True)
        port = free_port()
        path = os.path.join(prefix, "p.conf")
        with open(path, "w") as f:
            f.write(conf(port, prefix))
        p, w = self.run_server([BIN, "-p", prefix + "/", "-c", path,
                                "-g", "daemon off;"], prefix, port)
        m_idle, m_loaded = measure(port, w)
        mine = (m_loaded - m_idle) / IDLE
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=10)
        print(f"\nportico: worker RSS {m_idle // 1024} KiB idle, "
              f"{m_loaded // 1024} KiB with {IDLE} idle keep-alive "
              f"connections: {mine:.0f} bytes per connection")

        if sanitized():
            return   # no memory figures from sanitizer builds
        if not os.path.exists(NGINX):
            self.skipTest("nginx is not installed: no comparison")
        nport = free_port()
        npath = os.path.join(prefix, "n.conf")
        with open(npath, "w") as f:
            f.write(conf(nport, prefix).replace("server.pid", "nginx.pid"))
        n, nw = self.run_server([NGINX, "-p", prefix + "/", "-c", npath,
                                 "-g", "daemon off;"], prefix, nport)
        n_idle, n_loaded = measure(nport, nw)
        theirs = (n_loaded - n_idle) / IDLE
        n.send_signal(signal.SIGTERM)
        n.wait(timeout=10)
        print(f"nginx:   worker RSS {n_idle // 1024} KiB idle, "
              f"{n_loaded // 1024} KiB with {IDLE} idle keep-alive "
              f"connections: {theirs:.0f} bytes per connection")
        # the floor: no more than nginx on the same config, idle, loaded
        # and per connection
        self.assertLessEqual(m_idle, n_idle)
        self.assertLessEqual(m_loaded, n_loaded)
        self.assertLessEqual(mine, theirs)


if __name__ == "__main__":
    unittest.main()
