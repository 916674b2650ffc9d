"""Helpers for Portico's integration tests: a temporary prefix with a
generated config, the real binary started in it on a free loopback port,
bounded waits on /proc, files, ports and the error log, HTTP clients and a
background request loop. Every pid seen is tracked and SIGKILLed at the end
of the test that started it.

PORTICO_BIN=/usr/sbin/nginx runs a suite under the real nginx, the
baseline: UNDER_NGINX is then true, the process titles are nginx's and the
generated configs name nginx's worker group (see README "Differences from
nginx", 1). Portico-only tests skip themselves with skip_under_nginx()."""

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

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BIN = os.path.abspath(os.environ.get("PORTICO_BIN",
                                     os.path.join(ROOT, "objs", "portico")))

DEADLINE = 10.0        # default bound of every wait, in seconds
POLL = 0.02            # poll interval of every wait
UNDER_NGINX = os.path.basename(BIN).startswith("nginx")
PRODUCT = "nginx" if UNDER_NGINX else "portico"
WORKER_TITLE = f"{PRODUCT}: worker process"
MASTER_TITLE = f"{PRODUCT}: master process"


def nginx_user(main_extra):
    """The config line nginx needs as root (its default group for "nobody"
    is "nobody", which Debian lacks): none for portico, so that line
    numbers in portico's configs do not move."""
    if UNDER_NGINX and "user " not in main_extra:
        return ["user nobody nogroup;"]
    return []


def skip_under_nginx(testcase, why):
    """Skip a test that covers a Portico-only feature or a documented
    difference from nginx when the suite runs under nginx."""
    if UNDER_NGINX:
        testcase.skipTest(f"portico-only: {why}")


# ---------------------------------------------------------------- waiting

def wait_for(pred, what, timeout=DEADLINE, diag=None):
    """Poll pred() until it returns a true value and return that value.
    An exception from pred counts as "not yet". On timeout fail with
    `what`, the last exception and diag() (e.g. the log tail)."""
    deadline = time.monotonic() + timeout
    last_exc = None
    while True:
        try:
            v = pred()
            if v:
                return v
        except Exception as e:            # not ready yet
            last_exc = e
        if time.monotonic() >= deadline:
            msg = f"timed out after {timeout:.0f} s waiting for {what}"
            if last_exc is not None:
                msg += f" (last error: {last_exc!r})"
            if diag is not None:
                msg += "\n" + diag()
            raise AssertionError(msg)
        time.sleep(POLL)


# ---------------------------------------------------------------- /proc

def proc_stat(pid):
    """(state, ppid) of pid, or None when it does not exist."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = s[s.rindex(")") + 2:].split()
    return fields[0], int(fields[1])


def alive(pid):
    """True while pid runs: a zombie (nobody reaps daemons here) is dead."""
    st = proc_stat(pid)
    return st is not None and st[0] not in ("Z", "X")


def children(pid):
    path = f"/proc/{pid}/task/{pid}/children"
    try:
        with open(path) as f:
            return [int(x) for x in f.read().split()]
    except FileNotFoundError:
        if not os.path.exists(f"/proc/{pid}"):
            return []
    # kernel without CONFIG_PROC_CHILDREN: scan every process
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            st = proc_stat(int(name))
            if st is not None and st[1] == pid:
                out.append(int(name))
    return out


def cmdline(pid):
    """The process title as ps shows it ("" for a zombie or a gone pid)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            raw = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()


def proc_uid(pid):
    """(real, effective) uid of pid."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("Uid:"):
                v = line.split()
                return int(v[1]), int(v[2])
    raise AssertionError(f"no Uid line for {pid}")


def workers_of(master):
    """Pids of the master's live, serving workers (not shutting down)."""
    return sorted(p for p in children(master)
                  if alive(p) and cmdline(p) == WORKER_TITLE)


def listening_sockets(port):
    """How many TCP sockets listen on 127.0.0.1:port (reuseport makes
    one per worker slot), from /proc/net/tcp."""
    n = 0
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            v = line.split()
            if v[3] == "0A" and v[1] == f"0100007F:{port:04X}":
                n += 1
    return n


def listening_inodes(port):
    """Socket inodes of the TCP listeners on 127.0.0.1:port: the same set
    means the very same sockets (adopted, not bound again)."""
    out = set()
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            v = line.split()
            if v[3] == "0A" and v[1] == f"0100007F:{port:04X}":
                out.add(int(v[9]))
    return out


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- HTTP

BODY_RE = re.compile(r"^(\S+) (\d+)\n$")


def parse_body(body):
    """"v1 1234\\n" -> ("v1", 1234)."""
    m = BODY_RE.match(body)
    if m is None:
        raise AssertionError(f"unexpected response body {body!r}")
    return m.group(1), int(m.group(2))


def http_get(port, path="/", timeout=5, close=True):
    """One request on a new connection: (status, headers, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path,
                     headers={"Connection": "close"} if close else {})
        r = conn.getresponse()
        body = r.read().decode()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, body
    finally:
        conn.close()


def get_tag_pid(port, timeout=5):
    status, _, body = http_get(port, timeout=timeout)
    if status != 200:
        raise AssertionError(f"status {status}, body {body!r}")
    return parse_body(body)


def read_response(sock):
    """One "Connection: close" response from a raw socket: (tag, pid)."""
    data = b""
    while True:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        raise ConnectionError(f"incomplete response {data!r}")
    if not head.startswith(b"HTTP/1.1 200 "):
        raise AssertionError(f"status line {head[:40]!r}")
    return parse_body(body.decode())


class Load(threading.Thread):
    """A client loop against 127.0.0.1:port, either a new connection per
    request, keep-alive connections (reconnecting only when the server
    answers "Connection: close"), or bursts: `burst` connections opened
    at once (so that some wait in the accept queues), then a request on
    each. Records (time, ok, tag, pid, error) per request. Bounded: stops
    at stop(), after max_seconds, or after max_requests."""

    def __init__(self, port, keepalive=False, max_seconds=30,
                 max_requests=100000, burst=0, pause=0.0):
        super().__init__(daemon=True)
        self.port = port
        self.pause = pause           # idle seconds between two requests
        self.burst = burst
        self.keepalive = keepalive
        self.max_seconds = max_seconds
        self.max_requests = max_requests
        self.records = []
        self.reconnects = 0
        self._stop_ev = threading.Event()
        self._lock = threading.Lock()

    def _record(self, ok, tag=None, pid=None, err=None):
        with self._lock:
            self.records.append((time.monotonic(), ok, tag, pid, err))

    def run_burst(self, end):
        n = 0
        while (not self._stop_ev.is_set() and time.monotonic() < end
               and n < self.max_requests):
            socks = []
            # one deadline for the whole burst keeps stop() prompt
            burst_end = time.monotonic() + 5
            try:
                for _ in range(self.burst):
                    n += 1
                    try:
                        socks.append(socket.create_connection(
                            ("127.0.0.1", self.port), timeout=5))
                    except Exception as e:
                        self._record(False, err=f"connect: {e!r}")
                for s in socks:
                    try:
                        s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n"
                                  b"Connection: close\r\n\r\n")
                    except Exception as e:
                        self._record(False, err=f"send: {e!r}")
                        s.close()
                for s in socks:
                    if s.fileno() == -1:
                        continue
                    try:
                        s.settimeout(max(0.05, burst_end - time.monotonic()))
                        tag, pid = read_response(s)
                        self._record(True, tag, pid)
                    except Exception as e:
                        self._record(False, err=f"{type(e).__name__}: {e}")
            finally:
                for s in socks:
                    s.close()

    def run(self):
        end = time.monotonic() + self.max_seconds
        if self.burst:
            self.run_burst(end)
            return
        conn = None
        n = 0
        while (not self._stop_ev.is_set() and time.monotonic() < end
               and n < self.max_requests):
            n += 1
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port,
                                                      timeout=5)
                    self.reconnects += 1
                if self.keepalive:
                    conn.request("GET", "/")
                else:
                    conn.request("GET", "/", headers={"Connection": "close"})
                r = conn.getresponse()
                body = r.read().decode()
                if r.status != 200:
                    raise AssertionError(f"status {r.status}")
                tag, pid = parse_body(body)
                if r.will_close or not self.keepalive:
                    conn.close()
                    conn = None
                self._record(True, tag, pid)
            except Exception as e:        # a failed request is the finding
                self._record(False, err=f"{type(e).__name__}: {e}")
                if conn is not None:
                    conn.close()
                    conn = None
            if self.pause:
                self._stop_ev.wait(self.pause)
        if conn is not None:
            conn.close()

    def stop(self):
        self._stop_ev.set()
        self.join(timeout=15)
        if self.is_alive():
            raise AssertionError("client loop did not stop")

    def snapshot(self):
        with self._lock:
            return list(self.records)

    def mark(self):
        with self._lock:
            return len(self.records)

    def ok_since(self, mark):
        return [r for r in self.snapshot()[mark:] if r[1]]

    def failures(self):
        return [r for r in self.snapshot() if not r[1]]

    def wait_ok(self, count, since=0, what="responses", timeout=DEADLINE):
        """Wait for `count` successful requests after mark `since`."""
        return wait_for(lambda: len(self.ok_since(since)) >= count
                        and self.ok_since(since),
                        f"{count} {what} from the client loop "
                        f"({self.kind()})",
                        timeout, diag=self.summary)

    def kind(self):
        if self.burst:
            return f"bursts of {self.burst}"
        kind = "keep-alive" if self.keepalive else "new connections"
        return kind + (f", {self.pause} s idle" if self.pause else "")

    def summary(self):
        recs = self.snapshot()
        bad = [r for r in recs if not r[1]]
        return (f"client loop ({self.kind()}): {len(recs)} requests, "
                f"{len(bad)} failed, "
                f"first failures: {[r[4] for r in bad[:5]]}")


# ---------------------------------------------------------------- instance

def make_conf(port, workers=1, body="v1 $pid\\n", daemon=False,
              main_extra="", events_extra="", listen_extra="",
              worker_connections=64, error_level="notice", server_extra=""):
    """A config with one server answering `return 200 "BODY"`;
    workers=None leaves worker_processes out (for -g)."""
    lines = [f"daemon {'on' if daemon else 'off'};"] + nginx_user(main_extra)
    if workers is not None:
        lines.append(f"worker_processes {workers};")
    lines += [
        f"error_log logs/error.log {error_level};",
        "pid logs/portico.pid;",
        main_extra,
        "",
        "events {",
        f"    worker_connections {worker_connections};",
        events_extra,
        "}",
        "",
        "http {",
        "    server {",
        f"        listen 127.0.0.1:{port}{listen_extra};",
        f"        {server_extra}",
        f"        return 200 \"{body}\";",
        "    }",
        "}",
        "",
    ]
    return "\n".join(lines)


class Portico:
    """One portico instance: a temporary prefix (mode 0755 so that workers
    running as nobody can use it) with logs/, its config, the masters and
    workers it started."""

    def __init__(self, port=None, **conf):
        self.prefix = tempfile.mkdtemp(prefix="portico-it-")
        os.chmod(self.prefix, 0o755)
        os.mkdir(os.path.join(self.prefix, "logs"))
        os.chmod(os.path.join(self.prefix, "logs"), 0o755)
        self.conf_path = os.path.join(self.prefix, "portico.conf")
        self.pid_path = os.path.join(self.prefix, "logs", "portico.pid")
        self.oldbin_path = self.pid_path + ".oldbin"
        self.log_path = os.path.join(self.prefix, "logs", "error.log")
        self.port = port if port is not None else free_port()
        self.conf = dict(conf)
        self.master = None
        self.popens = []
        self.pids = set()            # every portico pid this test saw
        self.write_conf()

    # -- files

    def path(self, *parts):
        return os.path.join(self.prefix, *parts)

    def write_conf(self, text=None, **changes):
        """Write the generated config (with changes) or a literal text."""
        if text is None:
            self.conf.update(changes)
            text = make_conf(self.port, **self.conf)
        self.write(self.conf_path, text)

    def write(self, path, text):
        # write then rename: a reload never reads a half-written file
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.rename(tmp, path)

    def read_pidfile(self, path=None):
        try:
            with open(path or self.pid_path) as f:
                s = f.read()
        except FileNotFoundError:
            return None
        return int(s) if re.fullmatch(r"\d+\n", s) else None

    def log(self, path=None):
        try:
            with open(path or self.log_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def log_size(self):
        try:
            return os.path.getsize(self.log_path)
        except FileNotFoundError:
            return 0

    def log_tail(self, n=30):
        return "error.log tail:\n" + "\n".join(self.log().splitlines()[-n:])

    def wait_log(self, pattern, since=0, timeout=DEADLINE, path=None):
        """Wait for a regex in the error log after byte offset `since`;
        returns the match."""
        rx = re.compile(pattern, re.M)
        return wait_for(lambda: rx.search(self.log(path)[since:]),
                        f"log line /{pattern}/", timeout, diag=self.log_tail)

    # -- processes

    def argv(self, *args):
        return [BIN, "-p", self.prefix, "-c", self.conf_path, *args]

    def run(self, *args, timeout=DEADLINE):
        """Run the binary to completion (-t, -s ...): CompletedProcess."""
        return subprocess.run(self.argv(*args), cwd=self.prefix,
                              stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, timeout=timeout)

    def start(self, *args, workers=None, wait=True):
        """Start a master; returns its pid. Daemonized (daemon on) the
        started process exits 0 and the pid file names the master."""
        out = open(self.path("stdout.txt"), "ab")
        err = open(self.path("stderr.txt"), "ab")
        try:
            p = subprocess.Popen(self.argv(*args), cwd=self.prefix,
                                 stdin=subprocess.DEVNULL, stdout=out,
                                 stderr=err)
        finally:
            out.close()
            err.close()
        self.popens.append(p)
        self.pids.add(p.pid)
        if self.conf.get("daemon"):
            try:
                rc = p.wait(timeout=DEADLINE)
            except subprocess.TimeoutExpired:
                raise AssertionError("daemonizing portico did not exit")
            if rc != 0:
                raise AssertionError(f"portico exited {rc}: {self.stderr()}")
            self.master = wait_for(
                lambda: (lambda pid: pid if pid and alive(pid)
                         and cmdline(pid).startswith(MASTER_TITLE)
                         else None)(self.read_pidfile()),
                "the pid file to name a running master", diag=self.diag)
        else:
            self.master = p.pid
            wait_for(lambda: p.poll() is not None
                     or self.read_pidfile() == p.pid,
                     "the pid file with the master pid", diag=self.diag)
            if p.poll() is not None:
                raise AssertionError(f"portico exited {p.returncode}: "
                                     f"{self.stderr()}")
        self.pids.add(self.master)
        if wait:
            n = workers or self.conf.get("workers", 1) or 1
            self.wait_ready(n)
        return self.master

    def stderr(self):
        try:
            with open(self.path("stderr.txt"), errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def diag(self):
        return f"stderr: {self.stderr()!r}\n{self.log_tail()}"

    def wait_workers(self, n, master=None, timeout=DEADLINE, exclude=()):
        """Wait until the master has exactly n serving workers, none of
        them in `exclude` (the generation a reload replaces)."""
        master = master or self.master
        exclude = set(exclude)

        def check():
            w = workers_of(master)
            return w if len(w) == n and not exclude & set(w) else None
        ws = wait_for(check, f"{n} worker processes of master {master} "
                      f"other than {sorted(exclude)} (have "
                      f"{workers_of(master)})", timeout, diag=self.diag)
        self.pids.update(ws)
        return ws

    def wait_ready(self, n, master=None):
        ws = self.wait_workers(n, master)
        wait_for(lambda: get_tag_pid(self.port, timeout=2),
                 f"port {self.port} to answer", diag=self.diag)
        return ws

    def wait_gone(self, pids, what, timeout=DEADLINE):
        pids = list(pids)
        wait_for(lambda: not any(alive(p) for p in pids),
                 f"{what} {[p for p in pids if alive(p)]} to exit", timeout,
                 diag=self.diag)

    def track(self, *pids):
        self.pids.update(pids)

    def signal(self, signo, pid=None):
        os.kill(pid or self.master, signo)

    def kill_all(self):
        """SIGKILL every portico process this instance started. Masters
        are frozen (SIGSTOP) before their children are listed, so none
        respawns a worker (or starts a binary) that the list would miss."""
        def ours(pid):
            # pid reuse guard: only what still looks like portico
            return alive(pid) and PRODUCT in cmdline(pid)

        todo = list(self.pids)
        seen = set()
        while todo:
            pid = todo.pop()
            if pid in seen:
                continue
            seen.add(pid)
            if not ours(pid):
                continue
            if cmdline(pid).startswith(MASTER_TITLE):
                try:
                    os.kill(pid, signal.SIGSTOP)
                except ProcessLookupError:
                    continue
            todo.extend(children(pid))
        for pid in seen:
            if ours(pid) or (proc_stat(pid) or ("",))[0] == "T":
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self.pids |= seen
        for p in self.popens:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass

    def cleanup(self):
        self.kill_all()
        shutil.rmtree(self.prefix, ignore_errors=True)


class PorticoTestCase(unittest.TestCase):
    """Base class: self.portico(...) makes an instance that is killed and
    removed in tearDown (and by a cleanup, should setUp fail)."""

    def setUp(self):
        if not os.access(BIN, os.X_OK):
            self.fail(f"portico binary {BIN} not found: run make")
        self._instances = []

    def tearDown(self):
        for inst in self._instances:
            inst.kill_all()

    def portico(self, **conf):
        inst = Portico(**conf)
        self._instances.append(inst)
        self.addCleanup(inst.cleanup)
        return inst

    def assert_no_failures(self, load):
        bad = load.failures()
        self.assertEqual(bad, [], f"failed requests: {load.summary()}")


# ---------------------------------------------------------------- raw HTTP
# For the HTTP core tests: a config with a literal http block, started on
# several free ports, and a raw-socket client that parses every response
# byte by byte (status line, headers, Content-Length or chunked body) and
# tells whether the server closed the connection.

def http_conf(ports, http_block, workers=1, error_level="info",
              main_extra="", daemon=False, worker_connections=64):
    """A whole config around `http_block`, whose @PORT@, @PORT2@ ...
    @PORTn@ are replaced by the free ports given."""
    block = http_block
    for i in reversed(range(len(ports))):
        block = block.replace("@PORT%s@" % (i + 1 if i else ""),
                              str(ports[i]))
    return "\n".join([
        f"daemon {'on' if daemon else 'off'};",
        *nginx_user(main_extra),
        f"worker_processes {workers};",
        f"error_log logs/error.log {error_level};",
        "pid logs/portico.pid;",
        main_extra,
        "events {",
        f"    worker_connections {worker_connections};",
        "}",
        "http {",
        block,
        "}",
        "",
    ])


class Response:
    """One parsed response: status (int), status_line (str), headers (a
    list of (name, value) in order), body (bytes), head (raw bytes)."""

    def __init__(self, status_line, headers, body, head):
        self.status_line = status_line
        self.status = int(status_line.split(" ")[1])
        self.headers = headers
        self.body = body
        self.head = head

    def header(self, name):
        """The value of the only header `name` (None when absent)."""
        v = self.all(name)
        if len(v) > 1:
            raise AssertionError(f"{len(v)} {name} headers in {self.head!r}")
        return v[0] if v else None

    def all(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def names(self):
        return [k for k, _ in self.headers]

    def text(self):
        return self.body.decode("latin-1")

    def __repr__(self):
        return f"<Response {self.status_line!r} {self.body[:80]!r}>"


class Incomplete(Exception):
    """More bytes are needed to parse a whole response."""


def parse_response(data, head=False):
    """Parse one response from the start of `data`: (Response, the bytes
    after it). `head`: the answer to a HEAD request (no body). Raises
    Incomplete when data holds only a part of it."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        raise Incomplete()
    raw = data[:end + 2]
    lines = raw.decode("latin-1").split("\r\n")[:-1]
    if not re.fullmatch(r"HTTP/1\.1 \d{3} .*", lines[0]):
        raise AssertionError(f"bad status line in {data[:200]!r}")
    headers = []
    for line in lines[1:]:
        if not re.fullmatch(r"[A-Za-z0-9-]+: [^\r\n]*", line):
            raise AssertionError(f"bad header line {line!r}")
        k, _, v = line.partition(": ")
        headers.append((k, v))
    rest = data[end + 4:]
    status = int(lines[0].split(" ")[1])
    tmp = Response(lines[0], headers, b"", raw)
    if head or status < 200 or status in (204, 304):
        return Response(lines[0], headers, b"", raw), rest
    if tmp.header("Transfer-Encoding") == "chunked":
        body = b""
        while True:
            crlf = rest.find(b"\r\n")
            if crlf < 0:
                raise Incomplete()
            size = int(rest[:crlf], 16)
            if len(rest) < crlf + 2 + size + 2:
                raise Incomplete()
            if rest[crlf + 2 + size:crlf + 4 + size] != b"\r\n":
                raise AssertionError(f"bad chunk in {rest[:100]!r}")
            body += rest[crlf + 2:crlf + 2 + size]
            rest = rest[crlf + 4 + size:]
            if size == 0:
                return Response(lines[0], headers, body, raw), rest
    cl = tmp.header("Content-Length")
    if cl is None:
        raise AssertionError(f"no framing in {raw!r}")
    n = int(cl)
    if len(rest) < n:
        raise Incomplete()
    return Response(lines[0], headers, rest[:n], raw), rest[n:]


class RawClient:
    """A raw connection to 127.0.0.1:port that keeps every byte it reads;
    every read is bounded by `timeout`."""

    def __init__(self, port, timeout=5, rcvbuf=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect(("127.0.0.1", port))
        self.timeout = timeout
        self.buf = b""
        self.eof = False
        self.reset = False

    def send(self, data):
        self.sock.sendall(data)

    def _recv(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("timed out")
        self.sock.settimeout(left)
        try:
            chunk = self.sock.recv(65536)
        except ConnectionResetError:
            self.reset = True
            chunk = b""
        if not chunk:
            self.eof = True
        self.buf += chunk

    def response(self, head=False, timeout=None):
        """The next response (1xx ones too); AssertionError when the
        connection ends or `timeout` passes before it is whole."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            try:
                r, self.buf = parse_response(self.buf, head)
                return r
            except Incomplete:
                pass
            if self.eof:
                raise AssertionError(f"connection closed (reset: "
                                     f"{self.reset}) after {self.buf!r}")
            try:
                self._recv(deadline)
            except socket.timeout:
                raise AssertionError(f"no whole response within the "
                                     f"timeout, have {self.buf!r}")

    def responses(self, heads=(), timeout=None):
        """Every response until the server closes: a list. `heads`: the
        indexes of the responses to HEAD requests."""
        deadline = time.monotonic() + (timeout or self.timeout)
        out = []
        while True:
            try:
                r, self.buf = parse_response(self.buf, len(out) in heads)
                out.append(r)
                continue
            except Incomplete:
                pass
            if self.eof:
                if self.buf:
                    raise AssertionError(f"trailing bytes {self.buf!r} "
                                         f"after {out}")
                return out
            try:
                self._recv(deadline)
            except socket.timeout:
                raise AssertionError(f"the server did not close within the "
                                     f"timeout; responses {out}, then "
                                     f"{self.buf!r}")

    def wait_eof(self, timeout=None):
        """True when the server closes (without sending anything more)
        within the timeout, False when it stays open."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while not self.eof:
            try:
                self._recv(deadline)
            except socket.timeout:
                return False
        return True

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def exchange(port, data, heads=(), timeout=5):
    """Send `data` on a new connection, read until the server closes:
    (responses, reset)."""
    with RawClient(port, timeout=timeout) as c:
        c.send(data)
        out = c.responses(heads)
        return out, c.reset


def serve(testcase, http_block, nports=1, workers=1, **kw):
    """Start portico with a literal http block (see http_conf) on `nports`
    free ports: the instance, whose .ports lists them (.port is the
    first). Ready once every port answers a request."""
    inst = testcase.portico(workers=workers, daemon=kw.get("daemon", False))
    inst.ports = [inst.port] + [free_port() for _ in range(nports - 1)]
    inst.write_conf(text=http_conf(inst.ports, http_block, workers=workers,
                                   **kw))
    inst.start(wait=False)
    inst.wait_workers(workers)

    def answers(port):
        with RawClient(port, timeout=2) as c:
            c.send(b"GET / HTTP/1.0\r\n\r\n")
            return c.response(head=True) is not None
    for port in inst.ports:
        wait_for(lambda: answers(port), f"port {port} to answer",
                 diag=inst.diag)
    return inst


def reconf(inst, http_block, **kw):
    """Rewrite the config of an instance started by serve() with another
    http block on the same ports (then HUP it to reload)."""
    kw.setdefault("daemon", inst.conf.get("daemon", False))
    kw.setdefault("workers", inst.conf.get("workers", 1))
    inst.write_conf(text=http_conf(inst.ports, http_block, **kw))
