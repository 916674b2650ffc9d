"""Support for the upstream suites (test_upstream_*.py): threaded HTTP/1.1
origins that count connections and requests, the proxy under test (portico,
or nginx when PORTICO_BIN names it) started in its own process group with a
literal http block, and the skips for what only one of the two can do."""

import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.parse

from portico_harness import (BIN, alive, children, cmdline, free_port,
                             wait_for)

NAME = os.path.basename(BIN)          # "portico" or "nginx": message prefix
NGINX = NAME == "nginx"
WORKER_TITLE = f"{NAME}: worker process"
LOG_FORMAT = "$msec|$pid|$upstream_addr|$upstream_status|$status|$request_uri"


def portico_only(reason):
    """Skip a test (or a class) under nginx: `reason` says where nginx
    differs or what it lacks."""
    return unittest.skipIf(NGINX, f"Portico-only: {reason}")


_accepted = {}


def accepts(upstream="", location=""):
    """Whether the binary accepts `upstream` and `proxy_pass` with these
    extra upstream and location lines (`-t` on a tiny config): until the
    proxy and each feature land, the suites that need them skip."""
    key = (upstream, location)
    if key not in _accepted:
        d = tempfile.mkdtemp(prefix="pt-up-probe-")
        try:
            os.mkdir(os.path.join(d, "logs"))
            conf = os.path.join(d, "probe.conf")
            with open(conf, "w") as f:
                f.write("error_log logs/error.log;\npid logs/p.pid;\n"
                        "events { worker_connections 16; }\n"
                        f"http {{ upstream u {{ server 127.0.0.1:9; {upstream}"
                        " }\n server { listen 127.0.0.1:9;\n location / "
                        f"{{ proxy_pass http://u; {location} }} }} }}\n")
            r = subprocess.run([BIN, "-t", "-p", d, "-c", conf],
                               stdin=subprocess.DEVNULL,
                               capture_output=True, timeout=30)
            _accepted[key] = r.returncode == 0
        finally:
            shutil.rmtree(d, ignore_errors=True)
    return _accepted[key]


def ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def resolved(host):
    """The distinct addresses `host` resolves to for TCP (as the proxy sees
    them at config load)."""
    out = []
    for fam, _, _, _, sa in socket.getaddrinfo(host, 80,
                                               type=socket.SOCK_STREAM):
        if sa[0] not in out:
            out.append(sa[0])
    return out


# ------------------------------------------------------------- origins

def _fill(s, buf, done):
    """Read from s onto buf until done(buf); EOFError when s ends first."""
    while not done(buf):
        chunk = s.recv(65536)
        if not chunk:
            raise EOFError()
        buf += chunk
    return buf


class Conn:
    """One connection an origin accepted."""

    def __init__(self, cid, peer):
        self.id = cid
        self.peer = peer            # (host, port) or "" for unix sockets
        self.requests = 0
        self.closed_by = None       # "peer" (EOF), "origin", "stop"
        self.closed_at = None


class Origin:
    """An HTTP/1.1 origin on 127.0.0.1:port (or a unix socket) answering
    every request with body "NAME\\n" and headers X-Origin, X-Conn (the
    connection number) and X-Conn-Req (its request count). Knobs: delay
    (seconds, or ?delay=S per request), ?hold (answer only once held is
    set), fail_next(k, status),
    drop_reused(k) (close without answering the next k requests that
    arrive on a reused connection), close_after (close after each
    response without saying so), idle_timeout, split (pause between the
    first body byte and the rest, for kills mid-response), health (the
    status of /health, for active checks). stop() closes
    the listener and every connection (as a killed process would);
    restart() listens again on the same address."""

    def __init__(self, name, port=None, unix=None, host="127.0.0.1",
                 idle_timeout=20):
        self.name = name
        self.host = host
        self.unix = unix
        self.port = None if unix else (port or free_port())
        self.idle_timeout = idle_timeout
        self.delay = 0.0
        self.split = 0.0
        self.close_after = False
        self.health = 200            # the status of /health (probes)
        self.held = threading.Event()    # releases ?hold requests
        self._fail = []              # statuses of the next requests
        self._drop_reused = 0
        self.lock = threading.Lock()
        self.conns = []
        self.requests = []           # dicts: conn, method, path, headers...
        self.started = set()         # ?id= of responses whose head was sent
        self.finished = set()
        self.lsock = None
        self._socks = set()
        self._stopped = threading.Event()

    # -- addresses

    def addr(self):
        """As an upstream `server` line names it."""
        if self.unix:
            return f"unix:{self.unix}"
        if ":" in self.host:
            return f"[{self.host}]:{self.port}"
        return f"{self.host}:{self.port}"

    # -- life cycle

    def start(self):
        if self.unix:
            if os.path.exists(self.unix):
                os.unlink(self.unix)
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.bind(self.unix)
            os.chmod(self.unix, 0o777)    # workers run as nobody
        else:
            fam = socket.AF_INET6 if ":" in self.host else socket.AF_INET
            s = socket.socket(fam, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if fam == socket.AF_INET6:
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            s.bind((self.host, self.port))
        s.listen(256)
        self._stopped.clear()
        self.lsock = s
        threading.Thread(target=self._accept, args=(s,), daemon=True).start()
        return self

    def stop(self):
        """Refuse new connections and cut every open one."""
        self._stopped.set()
        self.held.set()
        with self.lock:
            ls, self.lsock = self.lsock, None
            socks = list(self._socks)
        if ls is not None:
            try:
                ls.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            ls.close()
        for s in socks:
            try:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                             b"\x01\x00\x00\x00\x00\x00\x00\x00")
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self.unix and os.path.exists(self.unix):
            os.unlink(self.unix)

    def restart(self):
        self.held.clear()
        return self.start()

    # -- scripting

    def fail_next(self, k, status=502):
        with self.lock:
            self._fail += [status] * k

    def drop_reused(self, k):
        with self.lock:
            self._drop_reused += k

    # -- figures

    def nconns(self):
        with self.lock:
            return len(self.conns)

    def nrequests(self):
        with self.lock:
            return len(self.requests)

    def served(self, since=0.0):
        """Requests other than health probes, received after `since`
        (a time.monotonic() value)."""
        with self.lock:
            return [r for r in self.requests
                    if r["path"] != "/health" and r["time"] >= since]

    def probes(self, since=0.0):
        with self.lock:
            return [r for r in self.requests
                    if r["path"] == "/health" and r["time"] >= since]

    def open_conns(self):
        with self.lock:
            return [c for c in self.conns if c.closed_by is None]

    def peers(self):
        with self.lock:
            return [c.peer for c in self.conns]

    def reset_counts(self):
        with self.lock:
            self.conns = []
            self.requests = []

    # -- serving

    def _accept(self, ls):
        while not self._stopped.is_set():
            try:
                s, peer = ls.accept()
            except OSError:
                return
            with self.lock:
                if self._stopped.is_set():
                    s.close()
                    return
                c = Conn(len(self.conns) + 1, peer)
                self.conns.append(c)
                self._socks.add(s)
            threading.Thread(target=self._serve, args=(s, c),
                             daemon=True).start()

    def _serve(self, s, c):
        s.settimeout(self.idle_timeout)
        buf = b""
        why = "peer"
        try:
            while True:
                req, buf = self._read_request(s, buf)
                if req is None:
                    why = "peer"
                    break
                if not self._answer(s, c, req):
                    why = "origin"
                    break
        except socket.timeout:
            why = "origin"
        except OSError:
            why = "stop" if self._stopped.is_set() else "peer"
        finally:
            with self.lock:
                c.closed_by = c.closed_by or why
                c.closed_at = time.monotonic()
                self._socks.discard(s)
            s.close()

    @staticmethod
    def _read_request(s, buf):
        """(request dict, rest) or (None, b"") at EOF."""
        try:
            buf = _fill(s, buf, lambda b: b"\r\n\r\n" in b)
            head, _, buf = buf.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, target, version = lines[0].split(" ")
            headers = {}
            for line in lines[1:]:
                k, _, v = line.partition(":")
                headers[k.strip().lower()] = v.strip()
            body = b""
            if headers.get("transfer-encoding", "").lower() == "chunked":
                size = -1
                while size != 0:
                    buf = _fill(s, buf, lambda b: b"\r\n" in b)
                    size_line, _, buf = buf.partition(b"\r\n")
                    size = int(size_line.split(b";")[0], 16)
                    buf = _fill(s, buf, lambda b: len(b) >= size + 2)
                    body += buf[:size]
                    buf = buf[size + 2:]
            else:
                n = int(headers.get("content-length", "0"))
                buf = _fill(s, buf, lambda b: len(b) >= n)
                body, buf = buf[:n], buf[n:]
        except EOFError:
            return None, b""
        url = urllib.parse.urlsplit(target)
        q = dict(urllib.parse.parse_qsl(url.query))
        return {"method": method, "target": target, "path": url.path,
                "query": q, "version": version, "headers": headers,
                "body": body}, buf

    def _answer(self, s, c, req):
        """Send one response; False when the connection is to close."""
        q = req["query"]
        with self.lock:
            c.requests += 1
            req["conn"] = c.id
            req["conn_req"] = c.requests
            req["peer"] = c.peer
            req["time"] = time.monotonic()
            self.requests.append(req)
            if c.requests > 1 and self._drop_reused > 0:
                self._drop_reused -= 1
                req["dropped"] = True
                return False
            if req["path"] == "/health":
                status = self.health
            else:
                status = self._fail.pop(0) if self._fail else 200
            req["status"] = status
        if "hold" in q and not self.held.wait(30):
            return False
        delay = float(q.get("delay", self.delay))
        if delay:
            if self._stopped.wait(delay):
                return False
        close = (self.close_after
                 or req["headers"].get("connection", "").lower() == "close"
                 or req["version"] == "HTTP/1.0")
        body = f"{self.name}\n".encode()
        if req["path"] == "/echo":
            body += req["body"]
        head = (f"HTTP/1.1 {status} S\r\nContent-Type: text/plain\r\n"
                f"Content-Length: {len(body)}\r\nX-Origin: {self.name}\r\n"
                f"X-Conn: {c.id}\r\nX-Conn-Req: {c.requests}\r\n"
                + ("Connection: close\r\n"
                   if close and not self.close_after else "")
                + "\r\n").encode()
        rid = q.get("id")
        split = float(q.get("split", self.split))
        if rid is not None:
            with self.lock:
                self.started.add(rid)
        if split:
            s.sendall(head + body[:1])
            if self._stopped.wait(split):
                return False
            s.sendall(body[1:])
        else:
            s.sendall(head + body)
        if rid is not None:
            with self.lock:
                self.finished.add(rid)
        return not close


def origins(testcase, n, prefix="o", **kw):
    """n started origins named o1..on, stopped at the end of the test."""
    out = []
    for i in range(n):
        o = Origin(f"{prefix}{i + 1}", **kw).start()
        testcase.addCleanup(o.stop)
        out.append(o)
    return out


# ------------------------------------------------------------- configs

PROXY = "proxy_pass http://u;"


def group(servers, extra="", location=PROXY, location_extra="",
          listen_extra="", before=""):
    """An http block part: `upstream u` of `servers` (server lines) and
    `extra` (its other lines), `before` (e.g. match blocks), then a server
    on @PORT@ whose location / has `location` and `location_extra`."""
    body = "".join(f"        server {s};\n" for s in servers)
    return (f"    upstream u {{\n{extra}\n{body}    }}\n{before}"
            f"    server {{\n        listen 127.0.0.1:@PORT@{listen_extra};\n"
            f"        location / {{ {location} {location_extra} }}\n"
            f"    }}\n")


# ------------------------------------------------------------- clients

def request(port, path="/", method="GET", body=None, src=None, timeout=10,
            headers=None):
    """One request on a new connection, from source address `src`:
    (status, headers with lowercase names, body text)."""
    conn = http.client.HTTPConnection(
        "127.0.0.1", port, timeout=timeout,
        source_address=(src, 0) if src else None)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        text = r.read().decode("latin-1")
        return r.status, {k.lower(): v for k, v in r.getheaders()}, text
    finally:
        conn.close()


def who(port, path="/", **kw):
    """The origin that answered a 200: its name."""
    status, _, body = request(port, path, **kw)
    if status != 200:
        raise AssertionError(f"{path}: status {status}, body {body!r}")
    return body.strip().split("\n")[0]


class Held:
    """One request the origin holds unanswered (in flight at the proxy)
    until finish(): `busy` is the origin that holds it."""

    def __init__(self, port, origins):
        self.origins = origins
        self.result = {}
        self.thread = threading.Thread(target=self._run, args=(port,),
                                       daemon=True)
        self.thread.start()
        self.busy = wait_for(lambda: next((o for o in origins
                                           if o.nrequests()), None),
                             "the held request to reach an origin")
        others = [o for o in origins if o is not self.busy]
        self.idle = others[0] if others else None

    def _run(self, port):
        try:
            self.result["name"] = who(port, "/?hold=1", timeout=40)
        except Exception as e:        # reported by finish()
            self.result["error"] = e

    def finish(self):
        """Release it: the name of the origin that answered it."""
        for o in self.origins:
            o.held.set()
        self.thread.join(timeout=30)
        if "error" in self.result:
            raise self.result["error"]
        return self.result.get("name")


class Keepalive:
    """A client keep-alive connection, for sequences of requests."""

    def __init__(self, port, timeout=10):
        self.conn = http.client.HTTPConnection("127.0.0.1", port,
                                               timeout=timeout)

    def get(self, path="/"):
        self.conn.request("GET", path)
        r = self.conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, \
            r.read().decode("latin-1")

    def close(self):
        self.conn.close()


class LoadLoop:
    """`threads` client threads, each sending GET /?id=T-N on new
    connections until stop(), `max_requests` each or `max_seconds`.
    Records (id, end time, status, body or error, start time) per
    request."""

    def __init__(self, port, threads=4, max_requests=2000, max_seconds=30,
                 path="/", pause=0.0):
        self.port = port
        self.path = path
        self.pause = pause
        self.max_requests = max_requests
        self.max_seconds = max_seconds
        self.records = []
        self.lock = threading.Lock()
        self.stop_ev = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(i,),
                                         daemon=True)
                        for i in range(threads)]

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def _run(self, t):
        end = time.monotonic() + self.max_seconds
        sep = "&" if "?" in self.path else "?"
        for n in range(self.max_requests):
            if self.stop_ev.is_set() or time.monotonic() > end:
                return
            rid = f"{t}-{n}"
            start = time.monotonic()
            try:
                st, _, body = request(self.port, f"{self.path}{sep}id={rid}")
                rec = (rid, time.monotonic(), st, body, start)
            except Exception as e:        # a failure is the finding
                rec = (rid, time.monotonic(), None,
                       f"{type(e).__name__}: {e}", start)
            with self.lock:
                self.records.append(rec)
            if self.pause:
                self.stop_ev.wait(self.pause)

    def count(self):
        with self.lock:
            return len(self.records)

    def wait_count(self, n, timeout=30):
        wait_for(lambda: self.count() >= n, f"{n} requests of the load",
                 timeout)

    def stop(self):
        self.stop_ev.set()
        for t in self.threads:
            t.join(timeout=20)
            if t.is_alive():
                raise AssertionError("load thread did not stop")

    def snapshot(self):
        with self.lock:
            return list(self.records)

    def starts(self):
        """id -> the time.monotonic() the request began."""
        return {r[0]: r[4] for r in self.snapshot()}

    def failures(self):
        return [r for r in self.snapshot()
                if r[2] != 200 or not re.fullmatch(r"\w+\n", r[3])]


# ------------------------------------------------------------- the proxy

def conf_text(ports, http_block, workers=1, main_extra="", error_level="info",
              worker_connections=256):
    """The whole config: @PORT@ @PORT2@ ... in `http_block` become the
    ports; a control server on the last port answers /ready without
    touching any upstream."""
    block = http_block
    for i in reversed(range(len(ports) - 1)):
        block = block.replace("@PORT%s@" % (i + 1 if i else ""),
                              str(ports[i]))
    return "\n".join([
        "daemon off;",
        "master_process on;",
        f"worker_processes {workers};",
        f"error_log logs/error.log {error_level};",
        "pid logs/server.pid;",
        main_extra,
        f"events {{ worker_connections {worker_connections}; }}",
        "http {",
        f"    log_format up '{LOG_FORMAT}';",
        "    access_log logs/access.log up;",
        "    server {",
        f"        listen 127.0.0.1:{ports[-1]};",
        "        location / { return 200 \"ready\\n\"; }",
        "    }",
        block,
        "}",
        "",
    ])


class Proxy:
    """The binary under test in a temporary prefix (0755: workers run as
    nobody), in its own process group so that the whole group, reloaded
    workers included, is killed at the end."""

    def __init__(self, http_block, nports=1, workers=1, **kw):
        self.prefix = tempfile.mkdtemp(prefix="pt-up-")
        os.chmod(self.prefix, 0o755)
        self.logs = os.path.join(self.prefix, "logs")
        os.mkdir(self.logs)
        os.chmod(self.logs, 0o755)
        self.conf_path = os.path.join(self.prefix, "proxy.conf")
        self.ports = []
        while len(self.ports) < nports + 1:   # a freed port may come again
            port = free_port()
            if port not in self.ports:
                self.ports.append(port)
        self.port = self.ports[0]
        self.workers = workers
        self.popen = None
        self.write_conf(http_block, workers=workers, **kw)

    def path(self, name):
        return os.path.join(self.prefix, name)

    def write_conf(self, http_block, workers=None, **kw):
        self.workers = workers or self.workers
        with open(self.conf_path, "w") as f:
            f.write(conf_text(self.ports, http_block.replace(
                "@PREFIX@", self.prefix), workers=self.workers, **kw))

    def conf_line(self, needle):
        """The line number of the first config line containing needle."""
        with open(self.conf_path) as f:
            for i, line in enumerate(f, 1):
                if needle in line:
                    return i
        raise AssertionError(f"{needle!r} not in the config")

    def test_conf(self):
        return subprocess.run([BIN, "-t", "-p", self.prefix, "-c",
                               self.conf_path], stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=30)

    def start(self):
        err = open(self.path("stderr.txt"), "ab")
        try:
            self.popen = subprocess.Popen(
                [BIN, "-p", self.prefix, "-c", self.conf_path],
                cwd=self.prefix, stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=err,
                start_new_session=True)
        finally:
            err.close()
        self.master = self.popen.pid
        self.wait_workers()
        self.wait_ready()
        return self

    def diag(self):
        try:
            with open(self.path("stderr.txt"), errors="replace") as f:
                err = f.read()
        except FileNotFoundError:
            err = ""
        tail = "\n".join(self.error_log().splitlines()[-30:])
        return f"stderr: {err!r}\nerror.log tail:\n{tail}"

    def worker_pids(self):
        return sorted(p for p in children(self.master)
                      if alive(p) and cmdline(p) == WORKER_TITLE)

    def wait_workers(self, exclude=(), timeout=20):
        exclude = set(exclude)

        def check():
            if self.popen.poll() is not None:
                raise AssertionError(f"{NAME} exited "
                                     f"{self.popen.returncode}: "
                                     f"{self.diag()}")
            w = self.worker_pids()
            return w if len(w) == self.workers and not exclude & set(w) \
                else None
        try:
            return wait_for(check, f"{self.workers} workers", timeout,
                            diag=self.diag)
        except AssertionError:
            if self.popen.poll() is not None:
                raise AssertionError(f"{NAME} exited {self.popen.returncode}"
                                     f": {self.diag()}")
            raise

    def wait_ready(self):
        def ready():
            st, _, body = request(self.ports[-1], "/ready", timeout=2)
            return st == 200 and body == "ready\n"
        wait_for(ready, "the control port to answer", 20, diag=self.diag)

    def reload(self):
        """HUP with the config on disk: returns the new workers once the
        old ones are gone."""
        old = self.worker_pids()
        mark = self.error_log_size()
        os.kill(self.master, signal.SIGHUP)
        new = self.wait_workers(exclude=old)
        wait_for(lambda: not any(alive(p) for p in old),
                 "the old workers to exit", 20, diag=self.diag)
        return new, mark

    def stop(self):
        if self.popen is None:
            return
        try:
            os.killpg(self.master, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            self.popen.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.prefix, ignore_errors=True)

    # -- logs

    def error_log(self):
        try:
            with open(os.path.join(self.logs, "error.log"),
                      errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def error_log_size(self):
        return len(self.error_log())

    def wait_error(self, pattern, since=0, timeout=10):
        rx = re.compile(pattern, re.M)
        return wait_for(lambda: rx.search(self.error_log()[since:]),
                        f"error.log line /{pattern}/", timeout,
                        diag=self.diag)

    def access(self):
        """Access log records: dicts time (wall clock), pid, addrs and
        statuses (lists, one per try), status, uri; only the requests that
        went upstream (not /ready)."""
        try:
            with open(os.path.join(self.logs, "access.log"),
                      errors="replace") as f:
                lines = f.read().splitlines()
        except FileNotFoundError:
            return []
        out = []
        for line in lines:
            msec, pid, addrs, ups, status, uri = line.split("|", 5)
            if addrs == "-":
                continue
            out.append({"time": float(msec), "pid": int(pid),
                        "addrs": re.split(r", (?:: )?", addrs),
                        "statuses": re.split(r", (?:: )?", ups),
                        "status": int(status), "uri": uri})
        return out


    def wait_access(self, n, timeout=10):
        """The access records once there are at least n (a worker logs a
        request after its response is sent)."""
        return wait_for(lambda: (lambda a: a if len(a) >= n else None)(
            self.access()), f"{n} access log records", timeout,
            diag=lambda: f"have {self.access()}")


class UpstreamCase(unittest.TestCase):
    """Base of the upstream suites: skips a test while the binary lacks
    the proxy or what the class NEEDS (upstream lines) and LOC_NEEDS
    (location lines); self.proxy(...) starts one, killed at the end."""

    NEEDS = ""
    LOC_NEEDS = ""

    def setUp(self):
        # per test, not per class: test/run.py counts a test as run and
        # skipped only when its own setUp skips
        if not os.access(BIN, os.X_OK):
            self.fail(f"{BIN} not found: run make")
        if not accepts():
            self.skipTest(f"{NAME} does not accept upstream/proxy_pass yet "
                          "(-t on a tiny config fails)")
        if not accepts(self.NEEDS, self.LOC_NEEDS):
            self.skipTest(f"{NAME} does not accept "
                          f"{(self.NEEDS + ' ' + self.LOC_NEEDS).strip()!r} "
                          "yet (-t fails)")

    def proxy(self, http_block, start=True, **kw):
        p = Proxy(http_block, **kw)
        self.addCleanup(p.cleanup)
        if start:
            p.start()
        return p

    def origins(self, n, **kw):
        return origins(self, n, **kw)

    def unix_dir(self):
        d = tempfile.mkdtemp(prefix="pt-up-sock-")
        os.chmod(d, 0o755)
        self.addCleanup(shutil.rmtree, d, True)
        return d

    def check_emerg(self, p, message, needle, offset=0):
        """`-t` fails with exactly `message` at the line holding needle
        (plus offset)."""
        r = p.test_conf()
        where = f" in {p.conf_path}:{p.conf_line(needle) + offset}"
        self.assertEqual(r.returncode, 1, r.stderr)
        # "NAME: [emerg] MSG" (portico) or the long log form nginx writes
        # to stderr when the config names an error_log it cannot open yet
        self.assertRegex(r.stderr, r"(?m)^(?:" + re.escape(NAME) +
                         r": |\S+ \S+ )\[emerg\] (?:\d+#\d+: )?"
                         + re.escape(message + where) + "$")
        self.assertTrue(r.stderr.endswith(
            f"{NAME}: configuration file {p.conf_path} test failed\n"),
            r.stderr)
