"""TLS termination: handshake and GET with Python's ssl module and
`openssl s_client`; SNI choosing the server and its certificate (RSA or
ECDSA by what the client supports); unknown names; ssl_reject_handshake;
old protocols and weak suites refused (with a client that really offers
them); resumption across workers by session id, by ticket and through the
shared cache; ticket key rotation; client certificates; the stapled OCSP
response; plain HTTP on the TLS port (497); stalled handshakes; renewed
certificates by reload under load; config errors at -t.

Certificates are made at run time with the openssl CLI into a temp dir."""

import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import unittest
import warnings

from portico_harness import (PorticoTestCase, free_port, http_conf,
                             wait_for)

CERTS = None     # the directory of the module's certificates


def sh(*args, **kw):
    return subprocess.run(list(args), cwd=CERTS, check=True,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=60, **kw)


def make_cert(name, cn, sans=(), ec=False, serial=1, ca=True):
    """name.key and name.pem signed by the test CA (or self-signed)."""
    key = (["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]
           if ec else ["-newkey", "rsa:2048"])
    if not os.path.exists(os.path.join(CERTS, name + ".key")):
        sh("openssl", "req", *key, "-nodes", "-keyout", name + ".key",
           "-out", name + ".csr", "-subj", "/CN=" + cn)
    else:     # a renewal: the same key
        sh("openssl", "req", "-new", "-key", name + ".key", "-out",
           name + ".csr", "-subj", "/CN=" + cn)
    ext = os.path.join(CERTS, name + ".ext")
    with open(ext, "w") as f:
        if sans:
            f.write("subjectAltName=" + ",".join("DNS:" + s for s in sans)
                    + "\n")
        f.write("basicConstraints=CA:FALSE\n")
    if ca:
        sh("openssl", "x509", "-req", "-in", name + ".csr", "-CA", "ca.pem",
           "-CAkey", "ca.key", "-set_serial", str(serial), "-days", "2",
           "-out", name + ".pem", "-extfile", ext)
    else:
        sh("openssl", "x509", "-req", "-in", name + ".csr", "-signkey",
           name + ".key", "-set_serial", str(serial), "-days", "2",
           "-out", name + ".pem", "-extfile", ext)


def setUpModule():
    global CERTS
    CERTS = tempfile.mkdtemp(prefix="portico-tls-")
    os.chmod(CERTS, 0o755)
    sh("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
       "-keyout", "ca.key", "-out", "ca.pem", "-subj", "/CN=Portico Test CA",
       "-days", "2", "-addext", "basicConstraints=critical,CA:TRUE",
       "-addext", "keyUsage=keyCertSign,cRLSign,digitalSignature")
    make_cert("a_rsa", "a.test", ["a.test", "localhost"], serial=10)
    make_cert("a_ec", "a.test", ["a.test", "localhost"], ec=True, serial=11)
    make_cert("b", "b.test", ["b.test"], serial=12)
    make_cert("client", "client", serial=13)
    make_cert("rogue", "rogue", ca=False, serial=14)
    make_cert("revoked", "revoked", serial=15)
    # a CRL revoking serial 15 (0F)
    with open(os.path.join(CERTS, "ca.cnf"), "w") as f:
        f.write("[ca]\ndefault_ca = d\n[d]\ndatabase = crlindex.txt\n"
                "crlnumber = crlnumber\ndefault_md = sha256\n"
                "default_crl_days = 2\n")
    with open(os.path.join(CERTS, "crlindex.txt"), "w") as f:
        f.write("R\t301231235959Z\t%sZ\t0F\tunknown\t/CN=revoked\n"
                % time.strftime("%y%m%d%H%M%S", time.gmtime()))
    with open(os.path.join(CERTS, "crlnumber"), "w") as f:
        f.write("01\n")
    sh("openssl", "ca", "-gencrl", "-keyfile", "ca.key", "-cert", "ca.pem",
       "-out", "crl.pem", "-config", "ca.cnf")
    # an OCSP response for a_rsa, signed by the CA itself
    with open(os.path.join(CERTS, "index.txt"), "w") as f:
        f.write("V\t301231235959Z\t\t0A\tunknown\t/CN=a.test\n")
    sh("openssl", "ocsp", "-index", "index.txt", "-rsigner", "ca.pem",
       "-rkey", "ca.key", "-CA", "ca.pem", "-issuer", "ca.pem", "-cert",
       "a_rsa.pem", "-respout", "ocsp.der", "-ndays", "1")
    os.mkdir(os.path.join(CERTS, "files"))
    os.chmod(os.path.join(CERTS, "files"), 0o755)
    with open(os.path.join(CERTS, "files", "big.bin"), "wb") as f:
        f.write(os.urandom(1500000))
    os.chmod(os.path.join(CERTS, "files", "big.bin"), 0o644)
    for name in ("ka", "kb"):
        with open(os.path.join(CERTS, name), "wb") as f:
            f.write(os.urandom(80))
    for n in os.listdir(CERTS):
        if not os.path.isdir(os.path.join(CERTS, n)):
            os.chmod(os.path.join(CERTS, n), 0o644)


def tearDownModule():
    shutil.rmtree(CERTS, ignore_errors=True)


def cpath(name):
    return os.path.join(CERTS, name)


def der_of(name):
    with open(cpath(name)) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


def client_ctx(maxv=None, minv=None, ciphers=None, cert=None, tickets=True):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cpath("ca.pem"))
    if maxv:
        ctx.maximum_version = maxv
    if minv:
        ctx.minimum_version = minv
    if ciphers:
        ctx.set_ciphers(ciphers)
    if cert:
        ctx.load_cert_chain(cpath(cert + ".pem"), cpath(cert + ".key"))
    if not tickets:
        ctx.options |= ssl.OP_NO_TICKET
    return ctx


class Reply:
    def __init__(self, status, headers, body, peer, sock_info):
        self.status = status
        self.headers = headers
        self.body = body
        self.peer = peer                  # DER of the server certificate
        self.version, self.cipher, self.reused, self.session = sock_info


def get(port, host="a.test", path="/", ctx=None, session=None,
        verify=True, timeout=10, extra=b""):
    """One request over a new TLS connection; the whole response."""
    ctx = ctx or client_ctx()
    if not verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s = ctx.wrap_socket(raw, server_hostname=host, session=session)
    except Exception:
        raw.close()
        raise
    with s:
        s.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: "
                  + host.encode() + b"\r\nConnection: close\r\n" + extra
                  + b"\r\n")
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        info = (s.version(), s.cipher()[0], s.session_reused, s.session)
        peer = s.getpeercert(binary_form=True)
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    r = Reply(int(lines[0].split()[1]), headers,
              body.decode(errors="replace"), peer, info)
    r.raw = body
    return r


def mem_tls_get(port, prefix, together):
    """A TLS GET through memory BIOs, `prefix` sent before the
    ClientHello (in the same write when `together`)."""
    ctx = client_ctx()
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname="a.test")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        if not together:
            s.sendall(prefix)
            prefix = b""
        while True:
            try:
                obj.do_handshake()
                break
            except ssl.SSLWantReadError:
                s.sendall(prefix + out.read())
                prefix = b""
                data = s.recv(65536)
                if not data:
                    raise AssertionError("closed in the handshake")
                inc.write(data)
        obj.write(b"GET / HTTP/1.1\r\nHost: a.test\r\n"
                  b"Connection: close\r\n\r\n")
        s.sendall(out.read())
        got = b""
        while True:
            data = s.recv(65536)
            if not data:
                break
            inc.write(data)
            try:
                for _ in range(100):
                    chunk = obj.read(65536)
                    if not chunk:
                        break
                    got += chunk
            except (ssl.SSLWantReadError, ssl.SSLZeroReturnError):
                pass
    return got


def s_client(port, *args, stdin=b"", timeout=20):
    """openssl s_client: (returncode, stdout + stderr)."""
    p = subprocess.run(["openssl", "s_client", "-connect",
                        f"127.0.0.1:{port}", *args], input=stdin,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=timeout)
    return p.returncode, p.stdout.decode("latin1")


def handshake_ok(out):
    m = re.search(r"Cipher is (\S+)", out)
    return m is not None and m.group(1) != "(NONE)"


SHOW = ('return 200 "@NAME@ $https $scheme $ssl_protocol $ssl_server_name '
        '$ssl_session_reused $ssl_client_verify $pid\\n";')

BLOCK = r"""
    client_header_timeout 3s;
    ssl_certificate @C@/a_rsa.pem;
    ssl_certificate_key @C@/a_rsa.key;
    ssl_certificate @C@/a_ec.pem;
    ssl_certificate_key @C@/a_ec.key;
    ssl_session_cache shared:TLS:1m;

    server {
        listen 127.0.0.1:@PORT@ ssl default_server;
        server_name a.test;
        ssl_stapling on;
        ssl_stapling_file @C@/ocsp.der;
        location / { SHOW_A }
        location /files/ { root @C@; }
        location /ext { error_page 497 https://$host:@PORT@$request_uri;
                        SHOW_A }
    }
    server {
        listen 127.0.0.1:@PORT@ ssl;
        server_name b.test;
        ssl_certificate @C@/b.pem;
        ssl_certificate_key @C@/b.key;
        location / { SHOW_B }
    }
    # ssl_reject_handshake on the default server of a port
    server {
        listen 127.0.0.1:@PORT2@ ssl default_server;
        ssl_reject_handshake on;
    }
    server {
        listen 127.0.0.1:@PORT2@ ssl;
        server_name a.test;
        location / { SHOW_A }
    }
    # client certificates
    server {
        listen 127.0.0.1:@PORT3@ ssl;
        server_name a.test;
        ssl_client_certificate @C@/ca.pem;
        ssl_verify_client on;
        location / { return 200 "$ssl_client_verify|$ssl_client_s_dn|$ssl_client_i_dn|$ssl_client_serial|$ssl_client_fingerprint\n"; }
    }
    server {
        listen 127.0.0.1:@PORT3@ ssl;
        server_name b.test;
        location / { return 200 "\nb-on-3\n"; }
    }
    server {
        listen 127.0.0.1:@PORT4@ ssl;
        server_name a.test;
        ssl_client_certificate @C@/ca.pem;
        ssl_verify_client optional;
        ssl_crl @C@/crl.pem;
        ssl_verify_depth 2;
        error_page 497 https://$host:@PORT@$request_uri;
        location / { return 200 "$ssl_client_verify|$ssl_client_s_dn\n"; }
    }
    # TLS behind a PROXY protocol header
    server {
        listen 127.0.0.1:@PORT6@ ssl proxy_protocol;
        location / { return 200 "$proxy_protocol_addr $ssl_protocol\n"; }
    }
    # old protocols and suites, on purpose: proves the client offers them
    server {
        listen 127.0.0.1:@PORT5@ ssl;
        ssl_protocols TLSv1 TLSv1.1 TLSv1.2;
        ssl_ciphers DEFAULT:@SECLEVEL=0;
        location / { SHOW_A }
    }
""".replace("SHOW_A", SHOW.replace("@NAME@", "a")).replace(
    "SHOW_B", SHOW.replace("@NAME@", "b"))


def start(test, block, nports, workers=1, wait_port=0, ready=None):
    inst = test.portico()
    inst.ports = [inst.port]
    while len(inst.ports) < nports:
        p = free_port()
        if p not in inst.ports:
            inst.ports.append(p)
    inst.write_conf(text=http_conf(inst.ports, block.replace("@C@", CERTS),
                                   workers=workers))
    inst.start(wait=False)
    inst.wait_workers(workers)
    ready = ready or (lambda: get(inst.ports[wait_port]).status == 200)

    def ok():
        try:
            return ready()
        except OSError:
            return False
    wait_for(ok, "the TLS port to answer", diag=inst.diag)
    return inst


class Basics(PorticoTestCase):

    def setUp(self):
        super().setUp()
        self.inst = start(self, BLOCK, 6)
        self.port = self.inst.port

    def test_get_and_variables(self):
        r = get(self.port)
        self.assertEqual(r.status, 200)
        f = r.body.split()
        self.assertEqual(f[:5], ["a", "on", "https", "TLSv1.3", "a.test"])
        self.assertEqual(f[5], ".")
        self.assertEqual(f[6], "NONE")
        r = get(self.port, ctx=client_ctx(maxv=ssl.TLSVersion.TLSv1_2))
        self.assertEqual(r.version, "TLSv1.2")
        self.assertIn("TLSv1.2", r.body)
        # ALPN: http/1.1 only
        ctx = client_ctx()
        ctx.set_alpn_protocols(["h2", "http/1.1"])
        with socket.create_connection(("127.0.0.1", self.port)) as raw:
            with ctx.wrap_socket(raw, server_hostname="a.test") as s:
                self.assertEqual(s.selected_alpn_protocol(), "http/1.1")

    def test_big_body_and_keepalive(self):
        # records over several writes and pipelined keep-alive requests
        ctx = client_ctx()
        with socket.create_connection(("127.0.0.1", self.port)) as raw:
            with ctx.wrap_socket(raw, server_hostname="a.test") as s:
                req = b"GET / HTTP/1.1\r\nHost: a.test\r\n\r\n"
                s.sendall(req * 3 + req.replace(b"\r\n\r\n",
                                                b"\r\nConnection: close"
                                                b"\r\n\r\n"))
                data = b""
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    data += chunk
        self.assertEqual(data.count(b"HTTP/1.1 200 OK"), 4)
        # a body to discard, sent slowly in pieces, then the next request
        with socket.create_connection(("127.0.0.1", self.port)) as raw:
            with ctx.wrap_socket(raw, server_hostname="a.test") as s:
                body = os.urandom(300000)
                s.sendall(b"POST / HTTP/1.1\r\nHost: a.test\r\n"
                          b"Content-Length: %d\r\n\r\n" % len(body))
                for i in range(0, len(body), 50000):
                    s.sendall(body[i:i + 50000])
                    time.sleep(0.05)
                s.sendall(b"GET / HTTP/1.1\r\nHost: a.test\r\n"
                          b"Connection: close\r\n\r\n")
                data = b""
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    data += chunk
        self.assertEqual(data.count(b"HTTP/1.1 200 OK"), 2, data)

    def test_static_file(self):
        with open(cpath("files/big.bin"), "rb") as f:
            want = f.read()
        r = get(self.port, path="/files/big.bin")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.raw, want)
        r = get(self.port, path="/files/big.bin",
                extra=b"Range: bytes=1000-1999\r\n")
        self.assertEqual((r.status, r.raw), (206, want[1000:2000]))

    def test_sni_selects_server_and_certificate(self):
        r = get(self.port, host="b.test")
        self.assertTrue(r.body.startswith("b "), r.body)
        self.assertEqual(r.peer, der_of("b.pem"))
        # RSA or ECDSA by what the client supports (TLS 1.2 suites)
        r = get(self.port, ctx=client_ctx(maxv=ssl.TLSVersion.TLSv1_2,
                                          ciphers="ECDHE-ECDSA-AES128-GCM-"
                                                  "SHA256"))
        self.assertEqual(r.peer, der_of("a_ec.pem"))
        r = get(self.port, ctx=client_ctx(maxv=ssl.TLSVersion.TLSv1_2,
                                          ciphers="ECDHE-RSA-AES128-GCM-"
                                                  "SHA256"))
        self.assertEqual(r.peer, der_of("a_rsa.pem"))
        # TLS 1.3 by signature algorithms
        rc, out = s_client(self.port, "-servername", "a.test",
                           "-sigalgs", "RSA-PSS+SHA256")
        self.assertIn("Peer signature type: RSA-PSS", out)
        rc, out = s_client(self.port, "-servername", "a.test",
                           "-sigalgs", "ECDSA+SHA256")
        self.assertIn("Peer signature type: ECDSA", out)

    def test_unknown_name_gets_default_server(self):
        r = get(self.port, host="unknown.test", verify=False)
        self.assertTrue(r.body.startswith("a "), r.body)
        self.assertIn(r.peer, (der_of("a_rsa.pem"), der_of("a_ec.pem")))
        # no SNI at all
        rc, out = s_client(self.port, "-noservername",
                           stdin=b"GET / HTTP/1.0\r\n\r\n")
        self.assertIn("CN = a.test", out)

    def test_reject_handshake(self):
        port2 = self.inst.ports[1]
        with self.assertRaises(ssl.SSLError) as e:
            get(port2, host="unknown.test")
        self.assertIn("UNRECOGNIZED_NAME", str(e.exception).upper())
        with self.assertRaises(ssl.SSLError):
            get(port2, host=None, verify=False)
        self.assertEqual(get(port2, host="a.test").status, 200)
        self.inst.wait_log(r"\[info\] .*handshake rejected while SSL "
                           r"handshaking, client: 127\.0\.0\.1")

    def test_old_protocols_refused(self):
        legacy = self.inst.ports[4]
        for flag in ("-tls1", "-tls1_1"):
            args = (flag, "-cipher", "DEFAULT@SECLEVEL=0")
            rc, out = s_client(legacy, *args, stdin=b"Q\n")
            self.assertTrue(handshake_ok(out),
                            f"the client does not offer {flag}: {out}")
            rc, out = s_client(self.port, *args, stdin=b"Q\n")
            self.assertFalse(handshake_ok(out), out)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx = client_ctx(minv=ssl.TLSVersion.TLSv1,
                             maxv=ssl.TLSVersion.TLSv1_1,
                             ciphers="DEFAULT@SECLEVEL=0")
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        self.assertEqual(get(legacy, ctx=ctx, verify=False).status, 200)
        with self.assertRaises(ssl.SSLError):
            get(self.port, ctx=ctx, verify=False)
        self.inst.wait_log(r"\[info\] .*SSL_do_handshake\(\) failed \(SSL: "
                           r"error:\S+:SSL routines::unsupported protocol\) "
                           r"while SSL handshaking, client: 127\.0\.0\.1")

    def test_weak_suites_refused(self):
        legacy = self.inst.ports[4]
        offered = 0
        for suite in ("AES128-SHA", "AES256-SHA", "AES128-SHA256",
                      "ECDHE-RSA-AES128-SHA", "ECDHE-RSA-AES256-SHA384",
                      "DES-CBC3-SHA", "RC4-SHA", "NULL-SHA256",
                      "EXP-RC4-MD5", "AES128-GCM-SHA256",
                      "DHE-RSA-AES128-GCM-SHA256"):
            args = ("-tls1_2", "-cipher", suite + "@SECLEVEL=0")
            rc, out = s_client(legacy, *args, stdin=b"Q\n")
            if handshake_ok(out):
                offered += 1
            rc, out = s_client(self.port, *args, stdin=b"Q\n")
            self.assertFalse(handshake_ok(out), f"{suite} accepted: {out}")
        # at least the CBC suites really went out (the control accepted)
        self.assertGreaterEqual(offered, 4)
        rc, out = s_client(self.port, "-tls1_2", stdin=b"Q\n")
        self.assertRegex(out, r"Cipher is ECDHE-(RSA|ECDSA)-(AES\d+-GCM|"
                              r"CHACHA20)")

    def test_client_certificates(self):
        on, opt = self.inst.ports[2], self.inst.ports[3]
        r = get(on, ctx=client_ctx(cert="client"))
        self.assertEqual(r.status, 200)
        f = r.body.strip().split("|")
        self.assertEqual(f[:4], ["SUCCESS", "CN=client",
                                 "CN=Portico Test CA", "0D"])
        self.assertRegex(f[4], r"^[0-9a-f]{40}$")
        r = get(on)
        self.assertEqual(r.status, 400)
        self.assertIn("No required SSL certificate was sent", r.body)
        r = get(on, ctx=client_ctx(cert="rogue"))
        self.assertEqual(r.status, 400)
        self.assertIn("The SSL certificate error", r.body)
        r = get(opt)
        self.assertEqual((r.status, r.body), (200, "NONE|\n"))
        r = get(opt, ctx=client_ctx(cert="client"))
        self.assertEqual((r.status, r.body), (200, "SUCCESS|CN=client\n"))
        r = get(opt, ctx=client_ctx(cert="rogue"))
        self.assertEqual(r.status, 400)
        # ssl_crl: a revoked certificate is a certificate error
        r = get(opt, ctx=client_ctx(cert="revoked"))
        self.assertEqual(r.status, 400)
        self.assertIn("The SSL certificate error", r.body)
        self.inst.wait_log(r"client SSL certificate verify error: "
                           r"\(23:certificate revoked\)")
        self.inst.wait_log(r"client SSL certificate verify error: \(\d+:")
        self.inst.wait_log(r"client sent no required SSL certificate")

    def test_misdirected_request(self):
        # nginx 1.22's rule: SNI chose a server by name, and Host chooses
        # another whose ssl_verify_client is on: 421
        on = self.inst.ports[2]

        def ask(sni, host):
            ctx = client_ctx(cert="client")
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            raw = socket.create_connection(("127.0.0.1", on), timeout=10)
            with ctx.wrap_socket(raw, server_hostname=sni) as s:
                s.sendall(b"GET / HTTP/1.1\r\nHost: " + host.encode()
                          + b"\r\nConnection: close\r\n\r\n")
                data = b""
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        return data
                    data += chunk
        self.assertTrue(ask("b.test", "a.test").startswith(b"HTTP/1.1 421"))
        self.inst.wait_log(r"client attempted to request the server name "
                           r"different from the one that was negotiated")
        # the Host's server does not verify: served by it
        r = ask("a.test", "b.test")
        self.assertTrue(r.endswith(b"\nb-on-3\n"), r)
        # a name no server has chose nothing: no rule
        r = ask("other.test", "a.test")
        self.assertTrue(r.startswith(b"HTTP/1.1 200"), r)
        self.assertIn(b"SUCCESS|CN=client", r)

    def test_ocsp_stapling(self):
        rc, out = s_client(self.port, "-servername", "a.test", "-status",
                           stdin=b"Q\n")
        self.assertIn("OCSP Response Status: successful", out)
        self.assertIn("Cert Status: good", out)

    def test_plain_http_on_tls_port(self):
        with socket.create_connection(("127.0.0.1", self.port),
                                      timeout=10) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: a.test\r\n\r\n")
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break      # closed after the answer
                data += chunk
        self.assertTrue(data.startswith(b"HTTP/1.1 400 Bad Request"), data)
        self.assertIn(b"The plain HTTP request was sent to HTTPS port", data)
        self.assertIn(b"Connection: close", data)
        self.inst.wait_log(r"client sent plain HTTP request to HTTPS port")
        # error_page 497 at the server level (the check comes before the
        # location is known: one in a location does not apply, as nginx)
        for port, path in ((self.inst.ports[3], "/ext/x?y=1"),):
            with socket.create_connection(("127.0.0.1", port),
                                          timeout=10) as s:
                s.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\n"
                          b"Host: a.test\r\n\r\n")
                data = s.recv(65536)
            self.assertTrue(data.startswith(b"HTTP/1.1 302"), data)
            self.assertIn(f"Location: https://a.test:{self.port}{path}"
                          .encode(), data)

    def test_proxy_protocol_then_tls(self):
        # the header and the ClientHello in one segment, then apart
        pp = b"PROXY TCP4 192.0.2.7 192.0.2.8 1234 443\r\n"
        for together in (True, False):
            body = mem_tls_get(self.inst.ports[5], pp, together)
            self.assertTrue(body.endswith(b"192.0.2.7 TLSv1.3\n"), body)

    def test_stalled_and_garbage_handshakes(self):
        stalled = socket.create_connection(("127.0.0.1", self.port))
        stalled.sendall(b"\x16\x03\x01\x02\x00\x01")   # a record begun
        garbage = socket.create_connection(("127.0.0.1", self.port))
        garbage.sendall(b"\x16\x03\x01\x00\x05hello" + os.urandom(200))
        try:
            garbage.settimeout(10)
            self.assertEqual(garbage.recv(1024)[:1], b"\x15")   # an alert
            # others are served meanwhile
            t0 = time.monotonic()
            self.assertEqual(get(self.port).status, 200)
            self.assertLess(time.monotonic() - t0, 2.5)
            stalled.settimeout(15)
            t0 = time.monotonic()
            self.assertEqual(stalled.recv(1024), b"")
            # client_header_timeout 3s since accept
            self.assertLess(time.monotonic() - t0, 10)
        finally:
            stalled.close()
            garbage.close()
        self.inst.wait_log(r"client timed out while SSL handshaking")


RESUME = r"""
    ssl_certificate @C@/a_rsa.pem;
    ssl_certificate_key @C@/a_rsa.key;
    add_header X-Pid $pid;
    server {
        listen 127.0.0.1:@PORT@ ssl reuseport;
        ssl_session_cache shared:TLS:1m;
        location / { return 200 "$ssl_session_reused $ssl_protocol\n"; }
    }
    server {
        listen 127.0.0.1:@PORT2@ ssl reuseport;
        ssl_session_cache shared:TLS:1m;
        ssl_session_tickets off;
        location / { return 200 "$ssl_session_reused $ssl_protocol\n"; }
    }
    server {
        listen 127.0.0.1:@PORT3@ ssl reuseport;
        ssl_session_cache off;
        ssl_session_ticket_key @C@/@K1@;
        @K2@
        location / { return 200 "$ssl_session_reused $ssl_protocol\n"; }
    }
"""


def resume_elsewhere(test, port, ctx):
    """Make a session, then reconnect with it until another worker
    answers (bounded); returns that reply."""
    first = get(port, ctx=ctx)
    test.assertFalse(first.reused)
    pid = first.headers["x-pid"]
    for _ in range(60):
        r = get(port, ctx=ctx, session=first.session)
        if r.headers["x-pid"] != pid:
            return r
    test.fail("no other worker answered in 60 connections")


class Resumption(PorticoTestCase):

    def setUp(self):
        super().setUp()
        self.block = RESUME.replace("@K1@", "ka").replace("@K2@", "")
        self.inst = start(self, self.block, 3, workers=2)

    def check(self, port, ctx, version):
        r = resume_elsewhere(self, port, ctx)
        self.assertTrue(r.reused, "not resumed on another worker")
        self.assertEqual(r.body, f"r {version}\n")

    def test_tls12_session_id_shared_cache(self):
        self.check(self.inst.ports[1],
                   client_ctx(maxv=ssl.TLSVersion.TLSv1_2, tickets=False),
                   "TLSv1.2")

    def test_tls12_ticket(self):
        self.check(self.inst.port, client_ctx(maxv=ssl.TLSVersion.TLSv1_2),
                   "TLSv1.2")
        # a ticket alone (no cache at all on this port)
        self.check(self.inst.ports[2],
                   client_ctx(maxv=ssl.TLSVersion.TLSv1_2), "TLSv1.2")

    def test_tls13_ticket(self):
        self.check(self.inst.port, client_ctx(), "TLSv1.3")

    def test_tls13_without_tickets_uses_shared_cache(self):
        # OpenSSL sends stateful TLS 1.3 tickets (a session id) when
        # tickets are off: they resume through the shared cache
        self.check(self.inst.ports[1], client_ctx(), "TLSv1.3")

    def test_shared_cache_kept_by_reload(self):
        port = self.inst.ports[1]
        ctx = client_ctx(maxv=ssl.TLSVersion.TLSv1_2, tickets=False)
        old = get(port, ctx=ctx)
        self.reload(self.block + "\n    # changed\n")
        r = get(port, ctx=ctx, session=old.session)
        self.assertTrue(r.reused)

    def test_ticket_key_rotation(self):
        port = self.inst.ports[2]
        ctx = client_ctx(maxv=ssl.TLSVersion.TLSv1_2)
        old = get(port, ctx=ctx)
        # B encrypts from now on, A still decrypts
        self.reload(RESUME.replace("@K1@", "kb").replace(
            "@K2@", "ssl_session_ticket_key @C@/ka;"))
        r = get(port, ctx=ctx, session=old.session)
        self.assertTrue(r.reused)
        new = get(port, ctx=ctx)
        # A gone: its tickets no longer resume, B's do
        self.reload(RESUME.replace("@K1@", "kb").replace("@K2@", ""))
        self.assertFalse(get(port, ctx=ctx, session=old.session).reused)
        self.assertTrue(get(port, ctx=ctx, session=new.session).reused)

    def reload(self, block):
        inst = self.inst
        old = set(inst.wait_workers(2))
        inst.write_conf(text=http_conf(inst.ports,
                                       block.replace("@C@", CERTS),
                                       workers=2))
        inst.signal(signal.SIGHUP)
        inst.wait_workers(2, exclude=old)
        inst.wait_gone(old, "old workers")


LEAN = r"""
    ssl_certificate @C@/a_rsa.pem;
    ssl_certificate_key @C@/a_rsa.key;
    # no session kept anywhere: TLS 1.3 tickets would be of no use
    server {
        listen 127.0.0.1:@PORT@ ssl default_server;
        server_name a.test;
        ssl_session_cache off;
        ssl_session_tickets off;
        location / { return 200 "a $ssl_protocol\n"; }
    }
    # picked by SNI on the same port: it issues tickets
    server {
        listen 127.0.0.1:@PORT@ ssl;
        server_name b.test;
        ssl_certificate @C@/b.pem;
        ssl_certificate_key @C@/b.key;
        location / { return 200 "b $ssl_protocol\n"; }
    }
    # the CA is trusted here, yet only ssl_certificate's chain is sent
    server {
        listen 127.0.0.1:@PORT2@ ssl;
        ssl_trusted_certificate @C@/ca.pem;
        ssl_client_certificate @C@/ca.pem;
        ssl_verify_client optional;
        location / { return 200 "trusted\n"; }
    }
    # records smaller and larger than the shared 16k coalescing buffer
    server {
        listen 127.0.0.1:@PORT3@ ssl;
        ssl_buffer_size 4k;
        location /files/ { root @C@; }
        location /nosf/ { alias @C@/files/; sendfile off; }
    }
    server {
        listen 127.0.0.1:@PORT4@ ssl;
        ssl_buffer_size 64k;
        location /files/ { root @C@; }
        location /nosf/ { alias @C@/files/; sendfile off; }
    }
"""


class Lean(PorticoTestCase):
    """What nginx does not send either: tickets nobody can use, chains
    built from the trusted store; and bodies under every ssl_buffer_size
    (the shared coalescing buffer or a connection's own)."""

    def setUp(self):
        super().setUp()
        self.inst = start(self, LEAN, 4, wait_port=1)

    def test_tls13_tickets_only_where_they_resume(self):
        ctx = client_ctx()
        r = get(self.inst.port, ctx=ctx)
        self.assertEqual(r.body, "a TLSv1.3\n")
        self.assertFalse(r.session.has_ticket)
        r = get(self.inst.port, host="b.test", ctx=ctx)
        self.assertEqual(r.body, "b TLSv1.3\n")
        self.assertTrue(r.session.has_ticket)

    def test_no_chain_built_from_trusted_store(self):
        rc, out = s_client(self.inst.ports[1], "-showcerts",
                           "-servername", "a.test", stdin=b"Q\n")
        self.assertTrue(handshake_ok(out), out)
        self.assertIn(" 0 s:", out)
        self.assertNotIn(" 1 s:", out, out)

    def test_bodies_under_each_buffer_size(self):
        with open(cpath("files/big.bin"), "rb") as f:
            want = f.read()
        for port in self.inst.ports[2:4]:
            for path in ("/files/big.bin", "/nosf/big.bin"):
                for ctx in (client_ctx(),
                            client_ctx(maxv=ssl.TLSVersion.TLSv1_2)):
                    r = get(port, path=path, ctx=ctx, verify=False)
                    self.assertEqual((r.status, len(r.raw)),
                                     (200, len(want)), (port, path))
                    self.assertEqual(r.raw, want, (port, path))


class Renewal(PorticoTestCase):

    def test_reload_with_renewed_certificate_under_load(self):
        d = tempfile.mkdtemp(prefix="portico-renew-")
        self.addCleanup(shutil.rmtree, d, True)
        os.chmod(d, 0o755)
        for n in ("a_rsa.pem", "a_rsa.key"):
            shutil.copy(cpath(n), d)
            os.chmod(os.path.join(d, n), 0o644)
        block = (r"""
            server {
                listen 127.0.0.1:@PORT@ ssl;
                ssl_certificate D/a_rsa.pem;
                ssl_certificate_key D/a_rsa.key;
                location / { return 200 "ok\n"; }
            }""").replace("D/", d + "/")
        inst = start(self, block, 1, workers=2)
        stop = threading.Event()
        stats = {"ok": 0, "fail": [], "serials": set()}

        def load():
            while not stop.is_set():
                try:
                    r = get(inst.port, ctx=client_ctx(), timeout=10)
                    if r.status != 200:
                        raise AssertionError(r.status)
                    stats["ok"] += 1
                    stats["serials"].add(r.peer)
                except Exception as e:     # every failure is counted
                    stats["fail"].append(repr(e))
        threads = [threading.Thread(target=load) for _ in range(3)]
        for t in threads:
            t.start()
        try:
            wait_for(lambda: stats["ok"] >= 20, "load to run")
            # renewal: same key, new certificate (new serial)
            shutil.copy(cpath("a_rsa.key"), cpath("renewed.key"))
            make_cert("renewed", "a.test", ["a.test", "localhost"],
                      serial=99)
            tmp = os.path.join(d, "new.pem")
            shutil.copy(cpath("renewed.pem"), tmp)
            os.chmod(tmp, 0o644)
            os.rename(tmp, os.path.join(d, "a_rsa.pem"))
            old = set(inst.wait_workers(2))
            inst.signal(signal.SIGHUP)
            inst.wait_workers(2, exclude=old)
            inst.wait_gone(old, "old workers")
            mark = stats["ok"]
            wait_for(lambda: stats["ok"] >= mark + 20, "load after reload")
        finally:
            stop.set()
            for t in threads:
                t.join(30)
        self.assertEqual(stats["fail"], [])
        self.assertEqual(get(inst.port).peer, der_of("renewed.pem"))
        self.assertIn(der_of("a_rsa.pem"), stats["serials"])


class ConfigErrors(PorticoTestCase):

    def check(self, server, *patterns):
        inst = self.portico()
        inst.write_conf(text=http_conf([inst.port], "server {\n"
                                       "listen 127.0.0.1:@PORT@ ssl;\n"
                                       + server.replace("@C@", CERTS)
                                       + "\n}"))
        r = inst.run("-t")
        self.assertNotEqual(r.returncode, 0)
        for p in patterns:
            self.assertRegex(r.stderr, p.replace("@CONF@",
                                                 re.escape(inst.conf_path)))

    def test_errors(self):
        self.check("", r'no "ssl_certificate" is defined for the "listen '
                       r'\.\.\. ssl" directive in @CONF@:\d+')
        self.check("ssl_certificate @C@/none.pem;\n"
                   "ssl_certificate_key @C@/a_rsa.key;",
                   r'cannot load certificate "[^"]*/none\.pem": '
                   r'BIO_new_file\(\) failed \(SSL: error:\S+:system '
                   r'library::No such file or directory.*\) in @CONF@:\d+')
        self.check("ssl_certificate @C@/a_rsa.pem;\n"
                   "ssl_certificate_key @C@/b.key;",
                   r'SSL_CTX_use_PrivateKey\("[^"]*/b\.key"\) failed '
                   r'\(SSL: error:\S+:x509 certificate routines::key values '
                   r'mismatch\) in @CONF@:\d+')
        self.check("ssl_certificate @C@/a_rsa.pem;\n"
                   "ssl_certificate_key @C@/a_rsa.pem;",
                   r'cannot load certificate key "[^"]*/a_rsa\.pem": '
                   r'PEM_read_bio_PrivateKey\(\) failed')
        self.check("ssl_certificate @C@/a_rsa.pem;\n"
                   "ssl_certificate_key @C@/a_rsa.key;\n"
                   "ssl_protocols TLSv1.2 TLSv9;",
                   r'invalid value "TLSv9" in @CONF@:\d+')
        self.check("ssl_certificate @C@/a_rsa.pem;\n"
                   "ssl_certificate_key @C@/a_rsa.key;\n"
                   "ssl_ciphers BOGUS;",
                   r'SSL_CTX_set_cipher_list\("BOGUS"\) failed \(SSL: '
                   r'error:\S+:SSL routines::no cipher match\)')
        self.check("ssl_certificate @C@/a_rsa.pem;\n"
                   "ssl_certificate_key @C@/a_rsa.key;\n"
                   "ssl_session_cache shared:X;",
                   r'invalid session cache "shared:X" in @CONF@:\d+')
        self.check("ssl_certificate @C@/a_rsa.pem;\n"
                   "ssl_certificate_key @C@/a_rsa.key;\n"
                   "ssl_session_ticket_key @C@/ca.pem;",
                   r'"[^"]*/ca\.pem" must be 48 or 80 bytes in @CONF@:\d+')
        self.check("ssl_certificate @C@/a_rsa.pem;\n"
                   "ssl_certificate_key @C@/a_rsa.key;\n"
                   "ssl_verify_client on;",
                   r'no ssl_client_certificate for ssl_verify_client')

    def test_password_file_and_dhparam(self):
        sh("openssl", "pkey", "-in", "a_rsa.key", "-aes256", "-passout",
           "pass:s3cret", "-out", "enc.key")
        sh("openssl", "genpkey", "-genparam", "-algorithm", "DH", "-pkeyopt",
           "group:ffdhe2048", "-out", "dh.pem")
        for n in ("enc.key", "dh.pem"):
            os.chmod(cpath(n), 0o644)
        with open(cpath("pw"), "w") as f:
            f.write("wrong\ns3cret\n")
        with open(cpath("badpw"), "w") as f:
            f.write("wrong\n")
        inst = self.portico()
        inst.write_conf(text=http_conf([inst.port], (
            "server {\nlisten 127.0.0.1:@PORT@ ssl;\n"
            "ssl_certificate @C@/a_rsa.pem;\n"
            "ssl_certificate_key @C@/enc.key;\n"
            "ssl_password_file @C@/pw;\n"
            "ssl_dhparam @C@/dh.pem;\n"
            "location / { return 200 \"ok\\n\"; }\n}").replace(
                "@C@", CERTS)))
        r = inst.run("-t")
        self.assertEqual(r.returncode, 0, r.stderr)
        inst.start(wait=False)
        inst.wait_workers(1)
        wait_for(lambda: get(inst.port).body == "ok\n", "an answer",
                 diag=inst.diag)
        self.check("ssl_certificate @C@/a_rsa.pem;\n"
                   "ssl_certificate_key @C@/enc.key;\n"
                   "ssl_password_file @C@/badpw;",
                   r'cannot load certificate key "[^"]*/enc\.key": '
                   r'PEM_read_bio_PrivateKey\(\) failed \(SSL: .*bad decrypt')

    def test_http2_parameter_accepted(self):
        inst = self.portico()
        inst.write_conf(text=http_conf([inst.port], "server {\n"
                                       "listen 127.0.0.1:@PORT@ ssl http2;\n"
                                       "ssl_certificate " + cpath("a_rsa.pem")
                                       + ";\nssl_certificate_key "
                                       + cpath("a_rsa.key") + ";\n}"))
        r = inst.run("-t")
        self.assertEqual(r.returncode, 0, r.stderr)


if __name__ == "__main__":
    unittest.main()
