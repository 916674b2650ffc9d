"""A stub DNS server for integration tests: UDP on 127.0.0.1, a free port,
answering from a dict, in a background thread. Python 3 stdlib only.

    from dnsstub import DnsStub

    with DnsStub({"backend.test": [("127.0.0.1", 60)]}) as dns:
        conf = f"resolver 127.0.0.1:{dns.port} valid=1s;"
        ...
        assert dns.count("backend.test") == 1

API
    DnsStub(records=None, delay=0.0, drop=False)
        records: {name: [(address, ttl), ...]}. Names match without case
        and without a final dot. An IPv4 address answers A queries, an
        IPv6 address AAAA queries (a name with only one kind answers the
        other kind with NOERROR and no records). `address` may also be
        "CNAME:target" to answer with an alias (followed within the same
        answer when the target is in `records`). Any other name gets
        NXDOMAIN (with an SOA whose minimum is `nxdomain_ttl`, default 5).
        delay: seconds to wait before each answer (answers are sent from a
        timer, so later queries are not held up behind it).
        drop: when true, queries are counted and never answered.
    start() / stop()      run and stop the thread (also a context manager)
    port                  the UDP port (bound at construction)
    addr                  "127.0.0.1:PORT", for the resolver directive
    records, delay, drop, nxdomain_ttl, servfail
                          may be changed while running (servfail: a set of
                          names answered with SERVFAIL)
    set(name, answers)    replace one name's answers
    count(name=None, qtype=None)
                          queries received for a name (all names when
                          None), of one type ("A", "AAAA") or both
    queries               every query so far, as (name, "A"|"AAAA"|str(n))
    reset_counts()        forget the queries
    wait_count(n, name=None, timeout=10)
                          wait until count(name) >= n; AssertionError after
                          timeout seconds
"""

import ipaddress
import socket
import struct
import threading
import time

TYPES = {1: "A", 5: "CNAME", 6: "SOA", 28: "AAAA"}


def _encode_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        raw = label.encode("ascii")
        out += bytes([len(raw)]) + raw
    return out + b"\0"


def _read_qname(pkt, off):
    """The question name (no compression in queries) and the offset past
    it; ValueError when malformed."""
    labels = []
    for _ in range(128):
        n = pkt[off]
        if n == 0:
            return ".".join(labels), off + 1
        if n & 0xC0 or off + 1 + n > len(pkt):
            raise ValueError("bad name")
        labels.append(pkt[off + 1:off + 1 + n].decode("ascii", "replace"))
        off += 1 + n
    raise ValueError("name too long")


def _norm(name):
    return name.lower().rstrip(".")


class DnsStub:
    def __init__(self, records=None, delay=0.0, drop=False):
        self.records = {_norm(k): list(v) for k, v in (records or {}).items()}
        self.delay = delay
        self.drop = drop
        self.nxdomain_ttl = 5
        self.servfail = set()
        self.queries = []
        self._lock = threading.Lock()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.settimeout(0.1)
        self.port = self._sock.getsockname()[1]
        self.addr = f"127.0.0.1:{self.port}"
        self._stop = threading.Event()
        self._thread = None
        self._timers = []

    # ------------------------------------------------------------ control

    def start(self):
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name=f"dnsstub:{self.port}")
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        for t in self._timers:
            t.cancel()
        self._sock.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def set(self, name, answers):
        with self._lock:
            self.records[_norm(name)] = list(answers)

    def count(self, name=None, qtype=None):
        with self._lock:
            return sum(1 for n, t in self.queries
                       if (name is None or n == _norm(name))
                       and (qtype is None or t == qtype))

    def reset_counts(self):
        with self._lock:
            self.queries = []

    def wait_count(self, n, name=None, timeout=10):
        deadline = time.monotonic() + timeout
        while self.count(name) < n:
            if time.monotonic() >= deadline:
                raise AssertionError(
                    f"dnsstub: {self.count(name)} queries for {name!r}, "
                    f"wanted {n}")
            time.sleep(0.02)

    # ------------------------------------------------------------ serving

    def _run(self):
        while not self._stop.is_set():
            try:
                pkt, peer = self._sock.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                self._handle(pkt, peer)
            except (ValueError, IndexError, struct.error):
                continue              # not a query we understand

    def _handle(self, pkt, peer):
        ident, flags, qdcount = struct.unpack(">HHH", pkt[:6])
        if flags & 0x8000 or qdcount != 1:
            return
        name, off = _read_qname(pkt, 12)
        qtype, qclass = struct.unpack(">HH", pkt[off:off + 4])
        question = pkt[12:off + 4]
        with self._lock:
            self.queries.append((_norm(name), TYPES.get(qtype, str(qtype))))
            drop, delay = self.drop, self.delay
            reply = self._reply(ident, flags, question, _norm(name), qtype)
        if drop:
            return
        if delay > 0:
            t = threading.Timer(delay, self._send, (reply, peer))
            t.daemon = True
            self._timers.append(t)
            t.start()
        else:
            self._send(reply, peer)

    def _send(self, reply, peer):
        try:
            self._sock.sendto(reply, peer)
        except OSError:
            pass                      # stopped meanwhile

    def _answers(self, name, qtype, seen):
        """Records for name (following aliases in `records`), as bytes,
        and their count."""
        out, n = b"", 0
        for addr, ttl in self.records.get(name, []):
            if addr.startswith("CNAME:"):
                target = _norm(addr[6:])
                out += (_encode_name(name)
                        + struct.pack(">HHIH", 5, 1, ttl,
                                      len(_encode_name(target)))
                        + _encode_name(target))
                n += 1
                if target not in seen and len(seen) < 8:
                    more, k = self._answers(target, qtype, seen | {target})
                    out, n = out + more, n + k
                continue
            ip = ipaddress.ip_address(addr)
            if (ip.version == 4) != (qtype == 1) or qtype not in (1, 28):
                continue
            out += (_encode_name(name)
                    + struct.pack(">HHIH", qtype, 1, ttl, len(ip.packed))
                    + ip.packed)
            n += 1
        return out, n

    def _reply(self, ident, flags, question, name, qtype):
        rd = flags & 0x0100
        if name in self.servfail:
            return (struct.pack(">HHHHHH", ident, 0x8080 | rd | 2, 1, 0, 0, 0)
                    + question)
        if name not in self.records:
            soa = (b"\xc0\x0c" + b"\xc0\x0c"
                   + struct.pack(">IIIII", 1, 3600, 600, 86400,
                                 self.nxdomain_ttl))
            auth = (b"\xc0\x0c"
                    + struct.pack(">HHIH", 6, 1, self.nxdomain_ttl, len(soa))
                    + soa)
            return (struct.pack(">HHHHHH", ident, 0x8080 | rd | 3, 1, 0, 1, 0)
                    + question + auth)
        answers, n = self._answers(name, qtype, {name})
        return (struct.pack(">HHHHHH", ident, 0x8080 | rd, 1, n, 0, 0)
                + question + answers)
