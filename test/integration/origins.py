"""Scripted HTTP origins for the proxy suites: stdlib servers on free
127.0.0.1 ports (or a unix socket), one thread per connection, that record
exactly what they received and answer as the test scripts them.

Recording. Origin.conns lists one Conn per accepted connection (.raw: every
byte read on it, .requests: its Requests). Origin.requests lists every
Request in arrival order: .method .target .version .headers (a list of
(name, value) in order, duplicates kept) .body (bytes, de-chunked, growing
while it arrives) .chunked .chunk_exts .trailers .raw_head .conn (the Conn)
.complete (an Event set once the whole body is in). Origin.started is the
response log: (conn id, target) appended before the first byte of each
response is sent, so a kill-mid-load test knows which responses had begun.
Conn.peer is the client's address; Origin.accepted counts connections; Origin.head_seen is an Event set at the
first request head.

Behaviours are callables b(ctx, req) -> keep_alive (bool); ctx.send(bytes),
ctx.close(), ctx.reset() (SO_LINGER 0: the peer sees RST), ctx.recv(n) and
ctx.recv_exact(n) (reading past the request) act on the connection. The
module-level builders make the usual ones:
  fixed(status, headers, body)       Content-Length added unless given
                                     (headers may repeat a name)
  echo()                             200 with a JSON account of the request
  chunked(chunks, trailers, exts)    Transfer-Encoding: chunked, with chunk
                                     extensions and trailers
  close_delimited(body)              HTTP/1.0 style, no length, then close
  raw(data, close=True)              arbitrary bytes: invalid heads,
                                     truncated heads, extra bytes
  dribble(head, pieces, delay)       a head then pieces `delay` s apart
  delayed(seconds, then)             wait before the head
  mid_body_delay(body, at, seconds)  pause after `at` body bytes
  close_now() / reset_now()          close or reset before any response
  close_mid_head() / close_mid_body(total, sent)
  stream(gen, length=None)           a body from a generator (huge bodies),
                                     Content-Length or chunked
  interim(status, then)              a 1xx (e.g. 100 Continue) first
  websocket_echo()                   101 with Sec-WebSocket-Accept, then
                                     echo every data frame until close
  sequence(b1, b2, ...)              one behaviour per request, the last
                                     one repeats
  route({prefix: b}, default)        by target prefix
Origin(read_requests=False) accepts and never reads (send timeouts);
Origin(body=False) leaves the request body to the behaviour.
full_backlog_listener() is a listener whose accept queue is full, so a
connect to it hangs (connect timeouts on loopback)."""

import base64
import hashlib
import json
import os
import socket
import struct
import threading
import time

MAX_HEAD = 1 << 20           # a bigger request head is a test bug
IO_TIMEOUT = 30              # bound of every blocking read or write
WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class Request:
    def __init__(self, conn, raw_head):
        self.conn = conn
        self.raw_head = raw_head
        lines = raw_head.decode("latin-1").split("\r\n")
        self.request_line = lines[0]
        parts = lines[0].split(" ")
        self.method = parts[0]
        self.target = parts[1] if len(parts) > 1 else ""
        self.version = parts[2] if len(parts) > 2 else ""
        self.headers = []
        for line in lines[1:]:
            if not line:
                continue
            k, _, v = line.partition(":")
            self.headers.append((k, v.strip()))
        self.body = b""
        self.chunked = False
        self.chunk_exts = []
        self.trailers = []
        self.complete = threading.Event()
        self.time_head = time.monotonic()

    def header(self, name):
        """The value of the only header `name`, None when absent."""
        v = self.all(name)
        if len(v) > 1:
            raise AssertionError(f"{len(v)} {name} headers: {self.headers}")
        return v[0] if v else None

    def all(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def names(self):
        return [k for k, _ in self.headers]

    def wants_close(self):
        c = (self.header("Connection") or "").lower()
        return "close" in c or (self.version == "HTTP/1.0"
                                and "keep-alive" not in c)

    def __repr__(self):
        return f"<Request {self.request_line!r} {self.headers}>"


class Conn:
    """One accepted connection: the socket, every byte read, its requests."""

    def __init__(self, origin, sock, cid, peer=None):
        self.origin = origin
        self.sock = sock
        self.peer = peer             # (address, port) of the client
        self.id = cid
        self.raw = b""
        self.buf = b""
        self.requests = []
        self.closed = False

    # -- reading

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError()
        self.raw += chunk
        self.buf += chunk

    def recv(self, n=65536):
        """Up to n bytes (b"" at EOF)."""
        if not self.buf:
            try:
                self._fill()
            except EOFError:
                return b""
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def recv_exact(self, n):
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def recv_line(self):
        while b"\r\n" not in self.buf:
            if len(self.buf) > MAX_HEAD:
                raise AssertionError("line too long")
            self._fill()
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line

    def read_head(self):
        while b"\r\n\r\n" not in self.buf:
            if len(self.buf) > MAX_HEAD:
                raise AssertionError("request head too long")
            self._fill()
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        return head

    def read_body(self, req):
        te = (req.header("Transfer-Encoding") or "").lower()
        if te == "chunked":
            req.chunked = True
            while True:
                line = self.recv_line().decode("latin-1")
                size, _, ext = line.partition(";")
                if ext:
                    req.chunk_exts.append(ext)
                size = int(size.strip(), 16)
                if size == 0:
                    break
                self._read_into(req, size)
                self.recv_exact(2)
            while True:
                line = self.recv_line()
                if not line:
                    break
                k, _, v = line.decode("latin-1").partition(":")
                req.trailers.append((k, v.strip()))
        else:
            n = int(req.header("Content-Length") or 0)
            self._read_into(req, n)
        req.complete.set()

    def _read_into(self, req, n):
        while n > 0:
            if not self.buf:
                self._fill()
            take = self.buf[:n]
            self.buf = self.buf[len(take):]
            req.body += take
            n -= len(take)

    # -- writing

    def send(self, data):
        self.sock.sendall(data)

    def close(self):
        if not self.closed:
            self.closed = True
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.sock.close()

    def reset(self):
        """Close with RST instead of FIN."""
        if not self.closed:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                 struct.pack("ii", 1, 0))
            self.closed = True
            self.sock.close()

    def pause(self, seconds):
        """Sleep, cut short when the origin stops (so tests end fast)."""
        self.origin._stop.wait(seconds)

    def log_start(self, req):
        with self.origin.lock:
            self.origin.started.append((self.id, req.target))


class Origin:
    """A scripted origin; see the module docstring. Start with start() (or
    the `started` helper) and stop with stop()."""

    def __init__(self, behaviour=None, unix=None, read_requests=True,
                 body=True, name="origin", backlog=128):
        self.behaviour = behaviour or echo()
        self.unix = unix
        self.read_requests = read_requests
        self.read_bodies = body
        self.name = name
        self.lock = threading.Lock()
        self.conns = []
        self.requests = []
        self.started = []
        self.accepted = 0
        self.errors = []
        self.head_seen = threading.Event()
        self.threads = []
        self._stop = threading.Event()
        if unix:
            self.lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            if os.path.exists(unix):
                os.unlink(unix)
            self.lsock.bind(unix)
            os.chmod(unix, 0o777)       # workers run as nobody
            self.port = None
            self.addr = "unix:" + unix
        else:
            self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.lsock.bind(("127.0.0.1", 0))
            self.port = self.lsock.getsockname()[1]
            self.addr = f"127.0.0.1:{self.port}"
        self.lsock.listen(backlog)
        self.lsock.settimeout(0.2)

    def start(self):
        t = threading.Thread(target=self._accept_loop, daemon=True)
        t.start()
        self.threads.append(t)
        return self

    def _accept_loop(self):
        while not self._stop.is_set():
            try:
                s, peer = self.lsock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            s.settimeout(IO_TIMEOUT)
            with self.lock:
                self.accepted += 1
                c = Conn(self, s, len(self.conns), peer)
                self.conns.append(c)
            t = threading.Thread(target=self._serve, args=(c,), daemon=True)
            t.start()
            self.threads.append(t)

    def _serve(self, c):
        if not self.read_requests:
            self._stop.wait(IO_TIMEOUT)
            c.close()
            return
        try:
            while not self._stop.is_set() and not c.closed:
                try:
                    head = c.read_head()
                except EOFError:
                    break
                req = Request(c, head)
                with self.lock:
                    c.requests.append(req)
                    self.requests.append(req)
                self.head_seen.set()
                if self.read_bodies:
                    c.read_body(req)
                keep = self.behaviour(c, req)
                if not keep or req.wants_close():
                    break
        except (OSError, EOFError) as e:
            self.errors.append(repr(e))
        except Exception as e:            # a script bug: seen by the test
            self.errors.append(repr(e))
        finally:
            c.close()

    def stop(self):
        self._stop.set()
        try:
            self.lsock.close()
        except OSError:
            pass
        with self.lock:
            conns = list(self.conns)
        for c in conns:
            try:
                c.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for t in self.threads:
            t.join(timeout=2)
        if self.unix and os.path.exists(self.unix):
            os.unlink(self.unix)

    # -- queries

    def wait_requests(self, n, timeout=10):
        """Wait until n requests have arrived; returns them."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.requests) >= n:
                    return list(self.requests)
            time.sleep(0.01)
        raise AssertionError(f"{self.name}: {len(self.requests)} requests "
                             f"within {timeout} s, wanted {n}")

    def last(self):
        return self.wait_requests(1)[-1]

    def requests_per_conn(self):
        with self.lock:
            return [len(c.requests) for c in self.conns]


def started(testcase, behaviour=None, **kw):
    """An origin started now and stopped at the test's cleanup."""
    o = Origin(behaviour, **kw).start()
    testcase.addCleanup(o.stop)
    return o


# ---------------------------------------------------------------- behaviours

REASONS = {100: "Continue", 101: "Switching Protocols", 200: "OK",
           201: "Created", 204: "No Content", 301: "Moved Permanently",
           302: "Found", 304: "Not Modified", 400: "Bad Request",
           403: "Forbidden", 404: "Not Found", 429: "Too Many Requests",
           500: "Internal Server Error", 502: "Bad Gateway",
           503: "Service Unavailable", 504: "Gateway Timeout"}


def head_bytes(status, headers, version="HTTP/1.1"):
    lines = [f"{version} {status} {REASONS.get(status, 'X')}"]
    lines += [f"{k}: {v}" for k, v in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _has(headers, name):
    return any(k.lower() == name.lower() for k, _ in headers)


def fixed(status=200, headers=(), body=b"", keep=True):
    """A whole response; Content-Length is added unless a length or a
    Transfer-Encoding is among the headers. HEAD gets no body."""
    headers = list(headers)
    if isinstance(body, str):
        body = body.encode()
    if not _has(headers, "Content-Length") and \
            not _has(headers, "Transfer-Encoding"):
        headers.append(("Content-Length", str(len(body))))

    def b(c, req):
        c.log_start(req)
        no_body = req.method == "HEAD" or status in (204, 304)
        c.send(head_bytes(status, headers) + (b"" if no_body else body))
        return keep
    return b


def echo(status=200, extra=()):
    """200 with a JSON body: method, target, version, headers, body."""
    def b(c, req):
        body = json.dumps({
            "method": req.method, "target": req.target,
            "version": req.version, "headers": req.headers,
            "body": req.body.decode("latin-1"), "conn": c.id,
        }).encode()
        return fixed(status, [("Content-Type", "application/json")]
                     + list(extra), body)(c, req)
    return b


def chunked(chunks, headers=(), trailers=(), exts=None, status=200):
    """A chunked response; exts[i] is appended as ";ext" to chunk i."""
    def b(c, req):
        c.log_start(req)
        out = head_bytes(status, list(headers)
                         + [("Transfer-Encoding", "chunked")])
        for i, ch in enumerate(chunks):
            ext = (";" + exts[i]) if exts and exts[i] else ""
            out += b"%x%s\r\n%s\r\n" % (len(ch), ext.encode(), ch)
        out += b"0\r\n"
        out += b"".join(f"{k}: {v}\r\n".encode() for k, v in trailers)
        out += b"\r\n"
        c.send(out)
        return True
    return b


def close_delimited(body, headers=(), version="HTTP/1.0", status=200):
    def b(c, req):
        c.log_start(req)
        c.send(head_bytes(status, headers, version) + body)
        c.close()
        return False
    return b


def raw(data, close=True):
    def b(c, req):
        c.log_start(req)
        c.send(data)
        if close:
            c.close()
        return not close
    return b


def dribble(head, pieces, delay, close=False):
    """Send `head` (bytes) then each piece `delay` seconds apart."""
    def b(c, req):
        c.log_start(req)
        c.send(head)
        for p in pieces:
            c.pause(delay)
            c.send(p)
        if close:
            c.close()
        return not close
    return b


def delayed(seconds, then):
    def b(c, req):
        c.pause(seconds)
        return then(c, req)
    return b


def mid_body_delay(body, at, seconds, headers=()):
    def b(c, req):
        c.log_start(req)
        c.send(head_bytes(200, list(headers)
                          + [("Content-Length", str(len(body)))])
               + body[:at])
        c.pause(seconds)
        c.send(body[at:])
        return True
    return b


def close_now():
    def b(c, req):
        c.close()
        return False
    return b


def reset_now():
    def b(c, req):
        c.reset()
        return False
    return b


def close_mid_head():
    return raw(b"HTTP/1.1 200 OK\r\nContent-Le")


def close_mid_body(total=1000, sent=100, reset=False):
    def b(c, req):
        c.log_start(req)
        c.send(head_bytes(200, [("Content-Length", str(total))])
               + b"x" * sent)
        c.pause(0.1)
        c.reset() if reset else c.close()
        return False
    return b


def stream(gen, length=None, headers=()):
    """A body from a generator of bytes; chunked when length is None."""
    def b(c, req):
        c.log_start(req)
        hs = list(headers)
        if length is None:
            hs.append(("Transfer-Encoding", "chunked"))
        else:
            hs.append(("Content-Length", str(length)))
        c.send(head_bytes(200, hs))
        for piece in gen():
            if length is None:
                c.send(b"%x\r\n%s\r\n" % (len(piece), piece))
            else:
                c.send(piece)
        if length is None:
            c.send(b"0\r\n\r\n")
        return True
    return b


def interim(status, then):
    def b(c, req):
        c.send(head_bytes(status, []))
        return then(c, req)
    return b


def ws_accept(key):
    return base64.b64encode(hashlib.sha1(key.encode() + WS_GUID)
                            .digest()).decode()


def ws_frame(opcode, payload, mask=None):
    """One final frame; masked when mask (4 bytes) is given."""
    n = len(payload)
    head = bytes([0x80 | opcode])
    mbit = 0x80 if mask else 0
    if n < 126:
        head += bytes([mbit | n])
    elif n < 65536:
        head += bytes([mbit | 126]) + struct.pack("!H", n)
    else:
        head += bytes([mbit | 127]) + struct.pack("!Q", n)
    if mask:
        payload = bytes(x ^ mask[i % 4] for i, x in enumerate(payload))
        head += mask
    return head + payload


def ws_read_frame(recv_exact):
    """(opcode, payload) of the next frame, unmasked."""
    b0, b1 = recv_exact(2)
    n = b1 & 0x7F
    if n == 126:
        n = struct.unpack("!H", recv_exact(2))[0]
    elif n == 127:
        n = struct.unpack("!Q", recv_exact(8))[0]
    mask = recv_exact(4) if b1 & 0x80 else None
    payload = recv_exact(n)
    if mask:
        payload = bytes(x ^ mask[i % 4] for i, x in enumerate(payload))
    return b0 & 0x0F, payload


def websocket_echo():
    def b(c, req):
        key = req.header("Sec-WebSocket-Key")
        if (req.header("Upgrade") or "").lower() != "websocket" or not key:
            return fixed(400, body=b"not a websocket handshake\n")(c, req)
        c.log_start(req)
        c.send(head_bytes(101, [("Upgrade", "websocket"),
                                ("Connection", "Upgrade"),
                                ("Sec-WebSocket-Accept", ws_accept(key))]))
        while True:
            try:
                op, payload = ws_read_frame(c.recv_exact)
            except (EOFError, OSError):
                break
            if op == 8:
                c.send(ws_frame(8, payload[:2]))
                break
            if op == 9:
                c.send(ws_frame(10, payload))
            else:
                c.send(ws_frame(op, payload))
        c.close()
        return False
    return b


def sequence(*behaviours):
    """The i-th request (over the whole origin) gets behaviours[i]; the
    last one repeats."""
    lock = threading.Lock()
    n = [0]

    def b(c, req):
        with lock:
            i = min(n[0], len(behaviours) - 1)
            n[0] += 1
        return behaviours[i](c, req)
    return b


def route(table, default=None):
    default = default or fixed(404, body=b"no route\n")

    def b(c, req):
        for prefix, beh in table.items():
            if req.target.startswith(prefix):
                return beh(c, req)
        return default(c, req)
    return b


# ---------------------------------------------------------------- blackhole

def full_backlog_listener(testcase):
    """A listening socket that never accepts, with its accept queue filled
    by connections made here: a further connect gets no SYN-ACK and hangs
    until the connecting side's timeout. Returns its port."""
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.bind(("127.0.0.1", 0))
    ls.listen(0)
    port = ls.getsockname()[1]
    fillers = []

    def cleanup():
        for s in fillers:
            s.close()
        ls.close()
    testcase.addCleanup(cleanup)
    for _ in range(16):                   # bounded: the queue is tiny
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(0.3)
        try:
            s.connect(("127.0.0.1", port))
        except (socket.timeout, BlockingIOError, OSError):
            s.close()
            return port                   # this one hung: the queue is full
        fillers.append(s)
    testcase.skipTest("could not fill a listen queue on loopback")
