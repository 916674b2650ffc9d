"""TLS to upstreams (issue 6, upstream side): proxy_pass https:// to a
Python ssl origin whose certificates are made at run time; verification
(right CA, wrong CA, wrong name), SNI from proxy_ssl_name, a client
certificate, session reuse counted by the origin's full handshakes,
keep-alive over TLS, refusal of an old-protocol origin, config errors."""

import os
import signal
import socket
import ssl
import tempfile
import threading
import unittest

import tls_certs
from proxy_util import ProxyCase, request, request_bytes
from portico_harness import RawClient, UNDER_NGINX, wait_for, workers_of


class TLSOrigin:
    """A threaded HTTPS/1.1 origin answering "<name> <method> <body len>";
    it records per connection the SNI, whether the session was resumed
    and the client certificate's subject, and keeps connections alive."""

    def __init__(self, pair, name="o1", ca=None, require_cert=False,
                 old_only=False):
        self.name = name
        self.conns = []          # dicts: sni, reused, peer, requests
        self.failed = 0          # handshakes that failed
        self.lock = threading.Lock()
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(pair.chain, pair.key)
        if old_only:
            ctx.minimum_version = ssl.TLSVersion.TLSv1
            ctx.maximum_version = ssl.TLSVersion.TLSv1
            ctx.set_ciphers("DEFAULT@SECLEVEL=0")
        if require_cert:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(ca.cert)
        ctx.sni_callback = self._sni
        self.ctx = ctx
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self._sni_seen = threading.local()
        threading.Thread(target=self._accept, daemon=True).start()

    def _sni(self, sock, name, ctx):
        sock.context_sni = name

    def _accept(self):
        while True:
            try:
                raw, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(raw,),
                             daemon=True).start()

    def _serve(self, raw):
        raw.settimeout(30)
        try:
            # ragged EOFs raise: a close without close_notify is seen
            s = self.ctx.wrap_socket(raw, server_side=True,
                                     suppress_ragged_eofs=False)
        except (ssl.SSLError, OSError):
            with self.lock:
                self.failed += 1
            raw.close()
            return
        peer = s.getpeercert()
        info = {"sni": getattr(s, "context_sni", None),
                "reused": s.session_reused,
                "peer": dict(x[0] for x in peer["subject"]) if peer else None,
                "requests": 0, "version": s.version(), "end": None}
        with self.lock:
            self.conns.append(info)
        buf = b""
        try:
            while True:
                while b"\r\n\r\n" not in buf:
                    d = s.recv(65536)
                    if not d:
                        info["end"] = "close_notify"
                        return
                    buf += d
                head, buf = buf.split(b"\r\n\r\n", 1)
                lines = head.decode("latin-1").split("\r\n")
                hdrs = {k.strip().lower(): v.strip() for k, v in
                        (x.split(":", 1) for x in lines[1:])}
                n = int(hdrs.get("content-length", "0"))
                while len(buf) < n:
                    d = s.recv(65536)
                    if not d:
                        return
                    buf += d
                body, buf = buf[:n], buf[n:]
                info["requests"] += 1
                info["host"] = hdrs.get("host")
                info.setdefault("agents", []).append(hdrs.get("user-agent"))
                if "upgrade" in hdrs:
                    self._echo(s, buf)
                    return
                out = (f"{self.name} {lines[0].split()[0]} {len(body)}"
                       ).encode()
                close = hdrs.get("connection", "").lower() == "close" \
                    or lines[0].endswith("HTTP/1.0")
                s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n"
                          % (len(out), b"Connection: close\r\n" if close
                             else b"") + out)
                if close:
                    return
        except (OSError, ssl.SSLError, ValueError) as e:
            info["end"] = type(e).__name__
            return
        finally:
            try:
                s.close()
            except OSError:
                pass

    @staticmethod
    def _echo(s, buf):
        """101, then every byte back until EOF (a tunnel over TLS)."""
        s.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\n"
                  b"Connection: Upgrade\r\n\r\n" + buf)
        while True:
            d = s.recv(65536)
            if not d:
                return
            s.sendall(d)

    def close(self):
        self.sock.close()

    def stats(self):
        with self.lock:
            return [dict(c) for c in self.conns]


class ProxySSL(ProxyCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.dir = tempfile.mkdtemp(prefix="portico-pssl-")
        os.chmod(cls.dir, 0o755)
        cls.ca = tls_certs.CertAuthority(cls.dir, kind="ecdsa")
        cls.srv = cls.ca.server("origin.test", sans=["origin.test",
                                                     "127.0.0.1"])
        cls.client = cls.ca.client("portico-client")
        cls.other = tls_certs.CertAuthority(os.path.join(cls.dir, "other"),
                                            name="Other CA")
        cls.selfsigned = tls_certs.self_signed(cls.dir, "origin.test",
                                               sans=["origin.test",
                                                     "127.0.0.1"])

    def origin(self, pair=None, **kw):
        o = TLSOrigin(pair or self.srv, **kw)
        self.addCleanup(o.close)
        return o

    def start(self, o, extra="", upstream=None, target=None, workers=1):
        target = target or f"https://127.0.0.1:{o.port}"
        o = None
        block = (upstream or "") + f"""
    server {{ listen 127.0.0.1:@PORT@;
        location / {{ proxy_pass {target}; {extra} }}
    }}"""
        return self.proxy(block, workers=workers)

    def get(self, p, method="GET", body=None):
        return request(p.port, "/x", method=method, body=body)

    # -- plain proxying over TLS

    def test_get_and_post(self):
        o = self.origin()
        p = self.start(o)
        r = self.get(p)
        self.assertEqual((r.status, r.body), (200, b"o1 GET 0"))
        r = self.get(p, "POST", b"a" * 100000)
        self.assertEqual((r.status, r.body), (200, b"o1 POST 100000"))
        st = o.stats()
        self.assertEqual(st[0]["host"], f"127.0.0.1:{o.port}")
        self.assertIn(st[0]["version"], ("TLSv1.3", "TLSv1.2"))
        # nginx's default: no SNI
        self.assertIsNone(st[0]["sni"])

    def test_default_port_443_leaves_host_bare(self):
        # $proxy_host of https://name has no port; the request is not sent
        # anywhere useful (port 443 is closed), only the header matters
        o = self.origin()
        p = self.start(o, "add_header X-PH $proxy_host always; "
                          "proxy_connect_timeout 2s;",
                       target="https://127.0.0.1")
        r = self.get(p)
        self.assertEqual(r.status, 502)
        self.assertEqual(r.header("X-PH"), "127.0.0.1")

    def test_proxy_pass_with_variables(self):
        o = self.origin()
        p = self.start(o, f"set $t 127.0.0.1:{o.port}; "
                          f"proxy_ssl_server_name on; "
                          f"proxy_ssl_name origin.test; "
                          f"proxy_ssl_verify on; "
                          f"proxy_ssl_trusted_certificate {self.ca.cert};",
                       target="https://$t")
        r = self.get(p)
        self.assertEqual((r.status, r.body), (200, b"o1 GET 0"))
        self.assertEqual(o.stats()[0]["sni"], "origin.test")
        self.assertEqual(o.stats()[0]["host"], f"127.0.0.1:{o.port}")

    def test_variables_default_port_is_443(self):
        p = self.start(None, "set $t 127.0.0.1; proxy_connect_timeout 2s; "
                             "add_header X-PH $proxy_host always; "
                             "add_header X-UA $upstream_addr always;",
                       target="https://$t")
        r = self.get(p)
        self.assertEqual(r.status, 502)
        self.assertEqual(r.header("X-PH"), "127.0.0.1")
        self.assertEqual(r.header("X-UA"), "127.0.0.1:443")

    # -- verification

    @unittest.skipIf(UNDER_NGINX, "nginx 1.22 checks an address against "
                     "DNS names only (README difference 15)")
    def test_verify_with_the_right_ca(self):
        # the name is $proxy_host, an address: the certificate's IP SAN
        o = self.origin()
        p = self.start(o, f"proxy_ssl_verify on; "
                          f"proxy_ssl_trusted_certificate {self.ca.cert};")
        self.assertEqual(self.get(p).status, 200)

    def test_verify_with_a_wrong_ca(self):
        o = self.origin()
        p = self.start(o, f"proxy_ssl_verify on; "
                          f"proxy_ssl_trusted_certificate {self.other.cert};")
        self.assertEqual(self.get(p).status, 502)
        # the origin sends its CA too: "self-signed certificate in
        # certificate chain"
        p.wait_log(r"\[error\].*upstream SSL certificate verify error: "
                   r"\(19:self-signed certificate in certificate chain\) "
                   r"while SSL handshaking to upstream, client: 127\.0\.0\.1")

    def test_verify_self_signed(self):
        o = self.origin(self.selfsigned)
        p = self.start(o, f"proxy_ssl_verify on; "
                          f"proxy_ssl_trusted_certificate {self.ca.cert};")
        self.assertEqual(self.get(p).status, 502)
        p.wait_log(r"upstream SSL certificate verify error: \(18:self-signed "
                   r"certificate\) while SSL handshaking to upstream")

    def test_verify_wrong_name(self):
        o = self.origin()
        p = self.start(o, f"proxy_ssl_verify on; proxy_ssl_name other.test; "
                          f"proxy_ssl_trusted_certificate {self.ca.cert};")
        self.assertEqual(self.get(p).status, 502)
        p.wait_log(r'upstream SSL certificate does not match "other\.test" '
                   r'while SSL handshaking to upstream')

    def test_verify_name_from_proxy_ssl_name(self):
        o = self.origin()
        p = self.start(o, f"proxy_ssl_verify on; "
                          f"proxy_ssl_name origin.test; "
                          f"proxy_ssl_trusted_certificate {self.ca.cert};")
        self.assertEqual(self.get(p).status, 200)

    def test_crl_refuses_a_revoked_origin(self):
        ca = tls_certs.CertAuthority(os.path.join(self.dir, "crl"),
                                     name="CRL CA")
        revoked = ca.server("origin.test", sans=["origin.test"])
        ca.revoke(revoked)
        o = self.origin(revoked)
        p = self.start(o, f"proxy_ssl_verify on; proxy_ssl_name origin.test;"
                          f" proxy_ssl_trusted_certificate {ca.cert}; "
                          f"proxy_ssl_crl {ca.crl};")
        self.assertEqual(self.get(p).status, 502)
        p.wait_log(r"upstream SSL certificate verify error: \(23:certificate "
                   r"revoked\) while SSL handshaking to upstream")

    def test_verify_depth_counts_intermediates(self):
        # OpenSSL's depth counts untrusted CAs between the leaf and the
        # trust anchor: a leaf the trusted CA signed passes with depth 0
        o = self.origin()
        p = self.start(o, f"proxy_ssl_verify on; proxy_ssl_name origin.test;"
                          f" proxy_ssl_trusted_certificate {self.ca.cert}; "
                          f"proxy_ssl_verify_depth 0;")
        self.assertEqual(self.get(p).status, 200)

    def test_bad_certificate_is_an_error_for_next_upstream(self):
        bad = self.origin(self.selfsigned, name="bad")
        good = self.origin(name="good")
        up = f"""
    upstream u {{ server 127.0.0.1:{bad.port}; server 127.0.0.1:{good.port}; }}"""
        p = self.start(bad, f"proxy_ssl_verify on; proxy_ssl_name origin.test;"
                            f" proxy_ssl_trusted_certificate {self.ca.cert};",
                       upstream=up, target="https://u")
        bodies = {self.get(p).body for _ in range(4)}
        self.assertEqual(bodies, {b"good GET 0"})

    # -- SNI and client certificates

    def test_server_name_sends_proxy_ssl_name(self):
        o = self.origin()
        p = self.start(o, "proxy_ssl_server_name on; "
                          "proxy_ssl_name sni.example;")
        self.assertEqual(self.get(p).status, 200)
        self.assertEqual(o.stats()[0]["sni"], "sni.example")

    def test_server_name_default_is_proxy_host(self):
        o = self.origin()
        up = f"upstream origin.test {{ server 127.0.0.1:{o.port}; }}"
        p = self.start(o, "proxy_ssl_server_name on;", upstream=up,
                       target="https://origin.test")
        self.assertEqual(self.get(p).status, 200)
        self.assertEqual(o.stats()[0]["sni"], "origin.test")

    def test_no_sni_for_an_address(self):
        o = self.origin()
        p = self.start(o, "proxy_ssl_server_name on;")
        self.assertEqual(self.get(p).status, 200)
        self.assertIsNone(o.stats()[0]["sni"])

    def test_client_certificate(self):
        o = self.origin(ca=self.ca, require_cert=True)
        p = self.start(o, f"proxy_ssl_certificate {self.client.cert}; "
                          f"proxy_ssl_certificate_key {self.client.key};")
        self.assertEqual(self.get(p).status, 200)
        self.assertEqual(o.stats()[-1]["peer"]["commonName"],
                         "portico-client")

    def test_client_certificate_missing(self):
        o = self.origin(ca=self.ca, require_cert=True)
        p = self.start(o)
        self.assertEqual(self.get(p).status, 502)

    # -- sessions

    def run_sequential(self, extra, n=6):
        o = self.origin()
        p = self.start(o, extra)
        for _ in range(n):
            self.assertEqual(self.get(p).status, 200)
        return [c["reused"] for c in o.stats()]

    def test_session_reuse(self):
        reused = self.run_sequential("")
        self.assertEqual(len(reused), 6)
        self.assertFalse(reused[0])
        # every later connection resumed: one full handshake in six
        self.assertEqual(reused.count(False), 1, reused)

    def test_session_reuse_tls12(self):
        reused = self.run_sequential("proxy_ssl_protocols TLSv1.2;")
        self.assertEqual(reused.count(False), 1, reused)

    def test_session_reuse_per_worker(self):
        # each worker keeps its own sessions: at most one full handshake
        # per worker
        o = self.origin()
        p = self.start(o, workers=2)
        for _ in range(12):
            self.assertEqual(self.get(p).status, 200)
        reused = [c["reused"] for c in o.stats()]
        self.assertEqual(len(reused), 12)
        self.assertLessEqual(reused.count(False), 2, reused)

    def test_session_reuse_off(self):
        reused = self.run_sequential("proxy_ssl_session_reuse off;")
        self.assertEqual(reused, [False] * 6)

    # -- keep-alive

    def test_keepalive_over_tls(self):
        o = self.origin()
        up = f"upstream u {{ server 127.0.0.1:{o.port}; keepalive 4; }}"
        p = self.start(o, "proxy_http_version 1.1; "
                          "proxy_set_header Connection \"\";",
                       upstream=up, target="https://u")
        for i in range(10):
            r = self.get(p, "POST" if i % 2 else "GET", b"b" * i)
            self.assertEqual(r.status, 200)
        st = o.stats()
        self.assertEqual((len(st), st[0]["requests"]), (1, 10))

    def test_keepalive_with_a_client_connection(self):
        o = self.origin()
        up = f"upstream u {{ server 127.0.0.1:{o.port}; keepalive 4; }}"
        p = self.start(o, "proxy_http_version 1.1; "
                          "proxy_set_header Connection \"\";",
                       upstream=up, target="https://u")
        with RawClient(p.port) as c:
            for i in range(5):
                c.send(request_bytes("/k", close=False))
                self.assertEqual(c.response().body, b"o1 GET 0")
        self.assertEqual(len(o.stats()), 1)

    @unittest.skipIf(UNDER_NGINX, "nginx closes pooled TLS connections "
                     "without close_notify")
    def test_idle_pooled_connection_closes_with_close_notify(self):
        # the pool's idle timeout closes the connection through its pool:
        # the TLS cleanup runs (close_notify, then SSL_free)
        o = self.origin()
        up = (f"upstream u {{ server 127.0.0.1:{o.port}; keepalive 4; "
              f"keepalive_timeout 1s; }}")
        p = self.start(o, "proxy_http_version 1.1; "
                          "proxy_set_header Connection \"\";",
                       upstream=up, target="https://u")
        self.assertEqual(self.get(p).status, 200)
        wait_for(lambda: o.stats()[0]["end"], "the pooled connection to end",
                 timeout=15)
        self.assertEqual(o.stats()[0]["end"], "close_notify")

    def test_handshake_timeout(self):
        # an origin that accepts and never answers the ClientHello
        silent = socket.socket()
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        self.addCleanup(silent.close)
        port = silent.getsockname()[1]
        p = self.proxy(f"""
    server {{ listen 127.0.0.1:@PORT@;
        location / {{ proxy_pass https://127.0.0.1:{port};
                     proxy_connect_timeout 1s; }} }}""")
        self.assertEqual(self.get(p).status, 504)
        p.wait_log(r"\[error\].*upstream timed out \(110: Connection timed "
                   r"out\) while SSL handshaking to upstream")

    def test_upgrade_tunnel_over_tls(self):
        o = self.origin()
        p = self.start(o, "proxy_http_version 1.1; "
                          "proxy_set_header Upgrade $http_upgrade; "
                          "proxy_set_header Connection upgrade;")
        with RawClient(p.port) as c:
            c.send(request_bytes("/ws", close=False,
                                 headers=[("Upgrade", "echo"),
                                          ("Connection", "Upgrade")]))
            r = c.response(head=True)
            self.assertEqual(r.status, 101)
            for i in range(5):
                msg = b"ping %d " % i * (1 + i * 5000)
                c.sock.sendall(msg)
                got = b""
                while len(got) < len(msg):
                    d = c.sock.recv(65536)
                    self.assertTrue(d)
                    got += d
                self.assertEqual(got, msg)

    def test_reload_switches_the_client_certificate(self):
        # the location's context is rebuilt by a reload: the new worker
        # presents the new client certificate
        other = self.ca.client("after-reload")
        o = self.origin(ca=self.ca, require_cert=True)
        p = self.start(o, f"proxy_ssl_certificate {self.client.cert}; "
                          f"proxy_ssl_certificate_key {self.client.key};")
        self.assertEqual(self.get(p).status, 200)
        old = set(workers_of(p.master))
        text = open(p.conf_path).read()
        p.write_conf(text=text.replace(self.client.cert, other.cert)
                     .replace(self.client.key, other.key))
        p.signal(signal.SIGHUP)
        wait_for(lambda: (lambda w: w and not (set(w) & old))(
            workers_of(p.master)), "new workers", timeout=20)
        wait_for(lambda: self.get(p).status == 200
                 and o.stats()[-1]["peer"]["commonName"] == "after-reload",
                 "the new certificate upstream", timeout=20)

    # -- active health checks (a Portico feature)

    def probes(self, o):
        return sum(c.get("agents", []).count("portico health check")
                   for c in o.stats())

    @unittest.skipIf(UNDER_NGINX, "active health checks are not in nginx "
                     "open source")
    def test_health_check_probes_over_tls(self):
        good = self.origin(name="good")
        bad = self.origin(self.selfsigned, name="bad")
        up = (f"upstream u {{ zone z 64k; server 127.0.0.1:{good.port}; "
              f"server 127.0.0.1:{bad.port}; }}")
        p = self.start(good, f"health_check interval=1s; "
                             f"proxy_next_upstream off; "
                             f"proxy_ssl_server_name on; "
                             f"proxy_ssl_name origin.test; "
                             f"proxy_ssl_verify on; "
                             f"proxy_ssl_trusted_certificate {self.ca.cert};",
                       upstream=up, target="https://u")
        wait_for(lambda: self.probes(good) >= 1, "a probe over TLS",
                 timeout=15)
        self.assertIn("origin.test", {c["sni"] for c in good.stats()})
        # the origin whose certificate fails the check leaves the rotation
        wait_for(lambda: all(self.get(p).body == b"good GET 0"
                             for _ in range(4)),
                 "the bad origin to leave the rotation", timeout=15)
        p.wait_log(r"upstream SSL certificate verify error")

    # -- protocols

    def test_old_protocol_origin_is_refused(self):
        o = self.origin(old_only=True)
        p = self.start(o)
        self.assertEqual(self.get(p).status, 502)
        # nginx 1.22 (TLSv1 in its default) logs the sigalg refusal at crit
        p.wait_log(r"\[(error|crit)\].*SSL_do_handshake\(\) failed .* while SSL "
                   r"handshaking to upstream")

    @unittest.skipIf(UNDER_NGINX, "nginx 1.22's default has TLSv1")
    def test_old_protocol_allowed_when_listed(self):
        o = self.origin(old_only=True)
        p = self.start(o, "proxy_ssl_protocols TLSv1 TLSv1.2; "
                          "proxy_ssl_ciphers DEFAULT@SECLEVEL=0;")
        self.assertEqual(self.get(p).status, 200)
        self.assertEqual(o.stats()[0]["version"], "TLSv1")

    def test_conf_command(self):
        o = self.origin()
        p = self.start(o, "proxy_ssl_conf_command MaxProtocol TLSv1.2;")
        self.assertEqual(self.get(p).status, 200)
        self.assertEqual(o.stats()[0]["version"], "TLSv1.2")

    # -- config errors

    def conf_err(self, extra):
        rc, err = self.config_error(f"""
    server {{ listen 127.0.0.1:@PORT@;
        location / {{ proxy_pass https://127.0.0.1:9; {extra} }} }}""")
        self.assertNotEqual(rc, 0)
        return err

    def test_config_errors(self):
        self.assertIn("no proxy_ssl_trusted_certificate for "
                      "proxy_ssl_verify", self.conf_err("proxy_ssl_verify on;"))
        self.assertIn('no "proxy_ssl_certificate_key" is defined for '
                      'certificate "/nope.pem"',
                      self.conf_err("proxy_ssl_certificate /nope.pem;"))
        self.assertIn('cannot load certificate "/nope.pem": BIO_new_file() '
                      'failed', self.conf_err("proxy_ssl_certificate /nope.pem;"
                                              " proxy_ssl_certificate_key "
                                              "/nope.key;"))
        self.assertIn('SSL_CTX_load_verify_locations("/nope.pem") failed',
                      self.conf_err("proxy_ssl_verify on; "
                                    "proxy_ssl_trusted_certificate "
                                    "/nope.pem;"))
        self.assertIn('invalid value "TLSv9"',
                      self.conf_err("proxy_ssl_protocols TLSv9;"))
        self.assertIn('SSL_CTX_set_cipher_list("FOO") failed',
                      self.conf_err("proxy_ssl_ciphers FOO;"))
        self.assertIn('SSL_CONF_cmd("Foo", "bar") failed',
                      self.conf_err("proxy_ssl_conf_command Foo bar;"))

    def test_encrypted_client_key_with_password_file(self):
        key = os.path.join(self.dir, "enc.key")
        tls_certs.run("pkey", "-in", self.client.key, "-out", key,
                      "-aes256", "-passout", "pass:s3cret")
        pw = os.path.join(self.dir, "pw.txt")
        with open(pw, "w") as f:
            f.write("wrong\ns3cret\n")
        os.chmod(key, 0o644)
        os.chmod(pw, 0o644)
        o = self.origin(ca=self.ca, require_cert=True)
        p = self.start(o, f"proxy_ssl_certificate {self.client.cert}; "
                          f"proxy_ssl_certificate_key {key}; "
                          f"proxy_ssl_password_file {pw};")
        self.assertEqual(self.get(p).status, 200)


if __name__ == "__main__":
    unittest.main()
