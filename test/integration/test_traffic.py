"""Connections across process changes: a reload that lowers the number of
reuseport workers under load, the worker_connections limit, and a graceful
quit that still answers requests in flight."""

import signal
import socket
import time
import unittest

from portico_harness import (DEADLINE, Load, PorticoTestCase, alive,
                             get_tag_pid, listening_sockets, wait_for,
                             workers_of)


def recv_response(sock, timeout=5):
    """Read one response (head and Content-Length body) from sock:
    (status line, headers dict, body)."""
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            raise AssertionError(f"connection closed after {data!r}")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    n = int(headers["content-length"])
    while len(body) < n:
        chunk = sock.recv(4096)
        if not chunk:
            raise AssertionError("connection closed inside the body")
        body += chunk
    return lines[0], headers, body.decode()


def read_eof(sock, timeout=5):
    sock.settimeout(timeout)
    return sock.recv(4096) == b""


def refused(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


def server_rx_queue(port, client):
    """Bytes not yet read by the server on the peer of socket `client`,
    from /proc/net/tcp; None while the kernel shows no such socket."""
    cport = client.getsockname()[1]
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            v = line.split()
            local, remote = v[1], v[2]
            if (int(local.split(":")[1], 16) == port
                    and int(remote.split(":")[1], 16) == cport):
                return int(v[4].split(":")[1], 16)
    return None


REQ = b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"


class ReloadUnderLoad(PorticoTestCase):

    def reload_workers(self, inst, loads, old, n, body):
        """Reload to n workers answering `body` under the loads; returns
        the new workers once the old ones are gone, only n listening
        sockets remain, and 300 more responses came from the new ones."""
        inst.write_conf(workers=n, body=body + " $pid\\n")
        inst.signal(signal.SIGHUP)
        new = inst.wait_workers(n, exclude=old)
        inst.wait_gone(old, f"the {len(old)} old workers")
        # surplus sockets are drained, then closed by every process
        wait_for(lambda: listening_sockets(inst.port) == n,
                 f"{n} listening sockets on port {inst.port} (have "
                 f"{listening_sockets(inst.port)})", diag=inst.diag)
        marks = [load.mark() for load in loads]
        # long enough after the close for connections sent to a closed
        # surplus socket to show up as failures
        for load, m in zip(loads, marks):
            recs = load.wait_ok(300, since=m, what=f"responses after the "
                                f"reload to {n} workers")
            self.assertEqual({r[2] for r in recs[10:]}, {body})
            self.assertTrue({r[3] for r in recs[10:]} <= set(new))
        return new

    def test_reload_lowers_reuseport_workers(self):
        inst = self.portico(workers=4, listen_extra=" reuseport")
        master = inst.start()
        old = workers_of(master)
        self.assertEqual(listening_sockets(inst.port), 4)
        loads = [Load(inst.port, keepalive=False, max_seconds=30),
                 Load(inst.port, burst=64, max_seconds=30)]
        for load in loads:
            load.start()
        try:
            for load in loads:
                load.wait_ok(100)
            two = self.reload_workers(inst, loads, old, 2, "v2")
            # and back up: new sockets for slots 2 and 3, none left over
            four = self.reload_workers(inst, loads, two, 4, "v3")
        finally:
            for load in loads:
                load.stop()
        for load in loads:
            self.assert_no_failures(load)
        self.assertEqual(workers_of(master), four)
        # every slot gets traffic (steering covers slots 0 to 3)
        seen = set()
        for _ in range(80):
            seen.add(get_tag_pid(inst.port)[1])
        self.assertEqual(seen, set(four))

    def test_reload_keeps_keepalive_clients(self):
        """A keep-alive client busy across a reload sees no error: its next
        request on an old worker gets "Connection: close"."""
        inst = self.portico(workers=2, listen_extra=" reuseport")
        master = inst.start()
        old = workers_of(master)
        load = Load(inst.port, keepalive=True, max_seconds=30)
        load.start()
        try:
            load.wait_ok(100)
            inst.write_conf(body="v2 $pid\\n")
            inst.signal(signal.SIGHUP)
            inst.wait_gone(old, "old workers")
            recs = load.wait_ok(100, since=load.mark())
            self.assertEqual({r[2] for r in recs}, {"v2"})
        finally:
            load.stop()
        self.assert_no_failures(load)


class ConnectionLimit(PorticoTestCase):

    def test_worker_connections_enforced(self):
        """Busy connections fill the table: accepting pauses (alert), the
        next client waits in the backlog and is served once a slot frees.
        Idle ones are reused first, as nginx does (warn)."""
        inst = self.portico(workers=1, worker_connections=8)
        master = inst.start()
        worker = workers_of(master)[0]
        mark = inst.log_size()
        socks = []
        try:
            # idle connections (no request yet) are reusable: a 9th client
            # makes the worker close the oldest ones and serve it
            for _ in range(12):
                socks.append(socket.create_connection(
                    ("127.0.0.1", inst.port), timeout=5))
            inst.wait_log(rf"\[warn\] {worker}#{worker}: 8 "
                          r"worker_connections are not enough, reusing "
                          r"connections\n", since=mark)
            self.assertEqual(get_tag_pid(inst.port, timeout=5),
                             ("v1", worker))
            for s in socks:
                s.close()
            socks = []

            # busy connections (a request half sent) are not reusable
            mark = inst.log_size()
            for _ in range(20):
                s = socket.create_connection(("127.0.0.1", inst.port),
                                             timeout=5)
                s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
                socks.append(s)
            inst.wait_log(rf"\[alert\] {worker}#{worker}: 8 "
                          r"worker_connections are not enough\n", since=mark)
            # full: a new client is not served while the 20 stay open
            probe = socket.create_connection(("127.0.0.1", inst.port),
                                             timeout=5)
            socks.append(probe)
            probe.sendall(REQ)
            probe.settimeout(0.3)
            with self.assertRaises(socket.timeout):
                probe.recv(1)
        finally:
            for s in socks:
                s.close()
        # the worker survived and serves again once clients went away;
        # the queued probe was closed by us, never reset by the server
        wait_for(lambda: get_tag_pid(inst.port, timeout=2) == ("v1", worker),
                 "the worker to answer again", diag=inst.diag)
        self.assertTrue(alive(master))
        self.assertEqual(workers_of(master), [worker])
        self.assertNotIn("exited", inst.log()[mark:])
        # and it holds more than 8 sequential clients fine
        for _ in range(20):
            self.assertEqual(get_tag_pid(inst.port), ("v1", worker))

    def test_queued_connection_is_served_when_a_slot_frees(self):
        inst = self.portico(workers=1, worker_connections=4)
        master = inst.start()
        worker = workers_of(master)[0]
        # busy (a request half sent and read by the worker), so not
        # reusable: each is taken only once the worker has read its bytes
        idle = []
        for _ in range(4):
            s = socket.create_connection(("127.0.0.1", inst.port), timeout=5)
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
            idle.append(s)
            wait_for(lambda: server_has_read(inst.port, s.getsockname()[1]),
                     "the worker to read the half request", diag=inst.diag)
        waiting = None
        try:
            waiting = socket.create_connection(("127.0.0.1", inst.port),
                                               timeout=5)
            waiting.sendall(REQ)
            inst.wait_log(rf"\[alert\] {worker}#{worker}: 4 "
                          r"worker_connections are not enough\n")
            idle.pop().close()
            status, headers, body = recv_response(waiting)
            self.assertEqual(status, "HTTP/1.1 200 OK")
            self.assertEqual(body, f"v1 {worker}\n")
        finally:
            for s in idle:
                s.close()
            if waiting is not None:
                waiting.close()
        self.assertTrue(alive(master))


def server_has_read(port, client_port):
    """Whether the server side of the loopback connection from client_port
    has an empty receive queue (/proc/net/tcp): the worker read it all."""
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            local, remote = fields[1], fields[2]
            if (int(local.split(":")[1], 16) == port
                    and int(remote.split(":")[1], 16) == client_port):
                return int(fields[4].split(":")[1], 16) == 0
    return False


class GracefulQuit(PorticoTestCase):

    def wait_shutting_down(self, inst, worker):
        inst.wait_log(rf"\[notice\] {worker}#{worker}: gracefully shutting "
                      r"down\n")

    def test_idle_keepalive_gets_one_more_response(self):
        inst = self.portico(workers=1)
        master = inst.start()
        worker = workers_of(master)[0]
        s = socket.create_connection(("127.0.0.1", inst.port), timeout=5)
        try:
            s.sendall(REQ)
            status, headers, body = recv_response(s)
            self.assertEqual(headers["connection"], "keep-alive")
            t0 = time.monotonic()
            inst.signal(signal.SIGQUIT)
            self.wait_shutting_down(inst, worker)
            # the worker holds the idle connection for its grace period
            self.assertTrue(alive(worker))
            late = time.monotonic() - t0
            s.sendall(REQ)
            self.assertLess(late, 1.0, "the test was too slow to send its "
                            "request within the 1 s grace period")
            status, headers, body = recv_response(s)
            self.assertEqual(status, "HTTP/1.1 200 OK")
            self.assertEqual(headers["connection"], "close")
            self.assertEqual(body, f"v1 {worker}\n")
            self.assertTrue(read_eof(s), "server closed after the response")
        finally:
            s.close()
        inst.wait_gone([worker, master], "worker and master after QUIT")
        self.assertEqual(inst.popens[0].wait(timeout=5), 0)

    def test_idle_keepalive_closed_after_grace(self):
        inst = self.portico(workers=1)
        master = inst.start()
        worker = workers_of(master)[0]
        s = socket.create_connection(("127.0.0.1", inst.port), timeout=5)
        try:
            s.sendall(REQ)
            recv_response(s)
            inst.signal(signal.SIGQUIT)
            # silent client: closed after the grace period, not held for
            # the 75 s keep-alive timeout
            self.assertTrue(read_eof(s, timeout=DEADLINE))
        finally:
            s.close()
        inst.wait_gone([worker, master], "worker and master after QUIT")

    def test_partial_request_in_flight_is_finished(self):
        """A request half received when QUIT comes is not cut at the idle
        grace period: it is answered when it completes."""
        inst = self.portico(workers=1)
        master = inst.start()
        worker = workers_of(master)[0]
        s = socket.create_connection(("127.0.0.1", inst.port), timeout=5)
        try:
            s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n")
            # the worker has accepted and read what was sent
            wait_for(lambda: server_rx_queue(inst.port, s) == 0,
                     "the worker to read the partial request",
                     diag=inst.diag)
            inst.signal(signal.SIGQUIT)
            self.wait_shutting_down(inst, worker)
            # a new client is refused now: every listener copy is closed
            wait_for(lambda: refused(inst.port),
                     "the listening socket to be closed", diag=inst.diag)
            # past the 1 s grace of idle keep-alive connections
            time.sleep(1.5)
            self.assertTrue(alive(worker))
            s.sendall(b"X-Late: 1\r\n\r\n")
            status, headers, body = recv_response(s)
            self.assertEqual(status, "HTTP/1.1 200 OK")
            self.assertEqual(headers["connection"], "close")
            self.assertEqual(body, f"v1 {worker}\n")
            self.assertTrue(read_eof(s))
        finally:
            s.close()
        inst.wait_gone([worker, master], "worker and master after QUIT")

if __name__ == "__main__":
    unittest.main()
