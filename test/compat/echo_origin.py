"""The origin of the compat suite's proxy cases: a tiny HTTP/1.x server on
127.0.0.1 whose answer body is the exact request it received (head and
body bytes as they came), so that nginx's and Portico's forwarded requests
are compared byte for byte. Words in the path pick other answers (below).

Started by compat.py (one per run, shared by both servers, so the Host
nginx and Portico send carries the same port); threads, stdlib only.

Path words (in the path as the origin receives it, first match wins):
  /status/NNN     answer NNN (the echo as the body, none for 204/304)
  badheader       a header line without a colon (nginx: 502)
  accel-redirect  X-Accel-Redirect: /internal/landed?from=origin
  redir           302, Location and Refresh to http://127.0.0.1:PORT + the
                  path with "redir" replaced by "landed"
  headers         headers nginx hides by default (Date, Server, X-Pad,
                  X-Accel-*) and others it passes (X-Secret, X-Passed,
                  Set-Cookie)
  chunked         the echo in chunks (to HTTP/1.1 requests only)
  gzipped         the echo gzip-compressed, with Content-Encoding: gzip
                  (combines with chunked)
"""

import gzip
import http
import re
import socket
import socketserver
import threading

LIMIT = 1 << 20                 # request head + body the origin accepts
TIMEOUT = 10.0

HIDDEN = [("Server", "echo-origin/1.0"),
          ("Date", "Thu, 01 Jan 2015 00:00:00 GMT"),
          ("X-Pad", "avoid browser bug"),
          ("X-Accel-Expires", "60"),
          ("X-Accel-Buffering", "no"),
          ("X-Accel-Limit-Rate", "1048576"),
          ("X-Accel-Charset", "utf-8")]
PASSED = [("X-Secret", "should-be-hidden-by-proxy_hide_header"),
          ("X-Passed", "yes"),
          ("Set-Cookie", "a=1; Domain=127.0.0.1; Path=/"),
          ("Set-Cookie", "b=2")]


class BadRequest(Exception):
    pass


def read_request(sock, buf):
    """(raw request bytes, rest of buf) of the next request; None at EOF
    before a request starts."""
    while b"\r\n\r\n" not in buf:
        if len(buf) > LIMIT:
            raise BadRequest("head too long")
        data = sock.recv(65536)
        if not data:
            if buf:
                raise BadRequest("EOF in the head")
            return None
        buf += data
    end = buf.index(b"\r\n\r\n") + 4
    head = buf[:end].decode("latin-1")
    m = re.search(r"\r\ncontent-length:[ \t]*(\d+)", head, re.I)
    if re.search(r"\r\ntransfer-encoding:[ \t]*chunked", head, re.I):
        pos = end
        while True:
            crlf = buf.find(b"\r\n", pos)
            while crlf < 0:
                buf += recv_more(sock, buf)
                crlf = buf.find(b"\r\n", pos)
            size = int(buf[pos:crlf].split(b";")[0], 16)
            if size == 0:
                while buf.find(b"\r\n\r\n", crlf) < 0 and \
                        buf[crlf + 2:crlf + 4] != b"\r\n":
                    buf += recv_more(sock, buf)
                tail = crlf if buf[crlf + 2:crlf + 4] == b"\r\n" else \
                    buf.find(b"\r\n\r\n", crlf)
                total = tail + 4
                break
            while len(buf) < crlf + 2 + size + 2:
                buf += recv_more(sock, buf)
            pos = crlf + 4 + size
    else:
        total = end + (int(m.group(1)) if m else 0)
        if total > LIMIT:
            raise BadRequest("body too long")
        while len(buf) < total:
            buf += recv_more(sock, buf)
    return buf[:total], buf[total:]


def recv_more(sock, buf):
    if len(buf) > LIMIT:
        raise BadRequest("request too long")
    data = sock.recv(65536)
    if not data:
        raise BadRequest("EOF in the request")
    return data


def answer(raw, port):
    """(response bytes, close after it) for one raw request."""
    line = raw.split(b"\r\n", 1)[0].decode("latin-1")
    parts = line.split(" ")
    method = parts[0]
    target = parts[1] if len(parts) > 1 else "/"
    version = parts[2] if len(parts) > 2 else "HTTP/0.9"
    path = target.split("?", 1)[0]
    head_lc = raw.split(b"\r\n\r\n", 1)[0].lower()
    close = (version != "HTTP/1.1" or b"\r\nconnection: close" in head_lc)
    status, headers, body = 200, [("Content-Type", "text/plain")], raw
    m = re.search(r"/status/(\d{3})", path)
    if m:
        status = int(m.group(1))
    elif "badheader" in path:
        headers.append(("This line has no colon", None))
    elif "accel-redirect" in path:
        headers.append(("X-Accel-Redirect", "/internal/landed?from=origin"))
    elif "redir" in path:
        status = 302
        to = "http://127.0.0.1:%d%s" % (port, path.replace("redir", "landed"))
        headers += [("Location", to), ("Refresh", "5; url=" + to)]
    elif "headers" in path:
        headers += HIDDEN + PASSED
    if "gzipped" in path and status not in (204, 304):
        headers.append(("Content-Encoding", "gzip"))
        body = gzip.compress(body, 6, mtime=0)
    chunked = "chunked" in path and version == "HTTP/1.1"
    if status in (204, 304) or status < 200:
        body = b""
    out = ["HTTP/1.1 %d %s" % (status, reason(status))]
    for k, v in headers:
        out.append(k if v is None else "%s: %s" % (k, v))
    if chunked:
        out.append("Transfer-Encoding: chunked")
    elif status not in (204, 304):
        out.append("Content-Length: %d" % len(body))
    if close:
        out.append("Connection: close")
    head = ("\r\n".join(out) + "\r\n\r\n").encode("latin-1")
    if method == "HEAD" or status in (204, 304):
        return head, close
    if chunked:
        half = len(body) // 2
        body = b"".join(b"%x\r\n%s\r\n" % (len(c), c)
                        for c in (body[:half], body[half:]) if c) + b"0\r\n\r\n"
    return head + body, close


def reason(status):
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Status"


class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        sock = self.request
        sock.settimeout(TIMEOUT)
        buf = b""
        try:
            while True:
                got = read_request(sock, buf)
                if got is None:
                    return
                raw, buf = got
                data, close = answer(raw, self.server.server_address[1])
                sock.sendall(data)
                if close:
                    return
        except (BadRequest, OSError, ValueError):
            return


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


class EchoOrigin:
    """The running origin: .port; stop() ends it."""

    def __init__(self):
        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.1},
                                       daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(TIMEOUT)


if __name__ == "__main__":
    o = EchoOrigin()
    print("echo origin on 127.0.0.1:%d" % o.port)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        o.stop()
