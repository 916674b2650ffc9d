"""The shared certificate helper tls_certs.py: what it makes verifies with
the openssl CLI as it says (chains, SANs, key types, expiry, revocation,
OCSP), and nginx 1.22 takes it the way the TLS tests of issue 6 will
(both key types in one server chosen by the client's ciphers, a stapled
OCSP response from ssl_stapling_file, client certificates accepted,
expired and revoked ones refused). The nginx part is skipped when nginx
is not installed."""

import os
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import unittest

from portico_harness import free_port
import tls_certs
from test_tls_scan import NGINX, Server


def verify(ca, pair, crl=False):
    """openssl verify's output for pair against the CA (and its CRL)."""
    args = ["openssl", "verify", "-CAfile", ca.cert]
    if crl:
        args += ["-CRLfile", ca.crl, "-crl_check"]
    p = subprocess.run(args + [pair.cert], capture_output=True, text=True,
                       timeout=30)
    return p.stdout + p.stderr


def text(pair):
    return tls_certs.run("x509", "-in", pair.cert, "-noout",
                         "-text").decode()


def make_set(cls):
    """A CA, RSA and ECDSA server pairs, a client, an expired client and a
    revoked client, as attributes of a test class."""
    cls.dir = tempfile.mkdtemp(prefix="portico-certs-")
    os.chmod(cls.dir, 0o755)
    cls.ca = tls_certs.CertAuthority(cls.dir)
    cls.rsa = cls.ca.server("localhost", ("localhost", "127.0.0.1", "a.test"),
                            kind="rsa")
    cls.ec = cls.ca.server("localhost", ("localhost", "127.0.0.1"),
                           kind="ecdsa")
    cls.alice = cls.ca.client("alice")
    cls.old = cls.ca.client("old", expired=True)
    cls.mallory = cls.ca.client("mallory")
    cls.ca.revoke(cls.mallory)


class Helper(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        make_set(cls)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def test_chains_verify(self):
        for p in (self.rsa, self.ec, self.alice):
            self.assertIn(": OK", verify(self.ca, p), p)
        self.assertIn("expired", verify(self.ca, self.old))
        with open(self.rsa.chain) as f:
            self.assertEqual(f.read().count("BEGIN CERTIFICATE"), 2)

    def test_key_types_sans_and_usage(self):
        t = text(self.rsa)
        self.assertIn("Public-Key: (2048 bit)", t)
        self.assertIn("DNS:localhost, IP Address:127.0.0.1, DNS:a.test", t)
        self.assertIn("TLS Web Server Authentication", t)
        t = text(self.ec)
        self.assertIn("id-ecPublicKey", t)
        self.assertIn("prime256v1", t)
        self.assertIn("TLS Web Client Authentication", text(self.alice))
        self.assertEqual(tls_certs.subject(self.alice.cert),
                         "subject=O = Portico tests, CN = alice")

    def test_two_pairs_with_one_name_do_not_collide(self):
        again = self.ca.server("localhost", kind="rsa")
        self.assertNotEqual(again.cert, self.rsa.cert)

    def test_revocation_crl_and_ocsp(self):
        self.assertIn(": OK", verify(self.ca, self.alice, crl=True))
        self.assertIn("revoked", verify(self.ca, self.mallory, crl=True))
        good = self.ca.ocsp_response(self.ec)
        self.assertEqual(tls_certs.ocsp_status(good, self.ec, self.ca),
                         "good")
        bad = self.ca.ocsp_response(self.mallory)
        self.assertEqual(tls_certs.ocsp_status(bad, self.mallory, self.ca),
                         "revoked")

    def test_self_signed(self):
        p = tls_certs.self_signed(self.dir, "x.test", kind="ecdsa")
        self.assertEqual(p.chain, p.cert)
        self.assertIn("DNS:x.test", text(p))

    def test_unknown_kind(self):
        with self.assertRaises(ValueError):
            tls_certs.new_key(os.path.join(self.dir, "k"), "dsa")


NGINX_CONF = """\
worker_processes 1;
events {{ worker_connections 64; }}
http {{
    access_log off;
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate     {ec.chain};
        ssl_certificate_key {ec.key};
        ssl_certificate     {rsa.chain};
        ssl_certificate_key {rsa.key};
        ssl_stapling on;
        ssl_stapling_file {ocsp};
        ssl_client_certificate {ca.cert};
        ssl_crl {ca.crl};
        ssl_verify_client optional;
        return 200 "$ssl_client_verify|$ssl_client_s_dn|$ssl_protocol\\n";
    }}
}}
"""


@unittest.skipUnless(os.access(NGINX, os.X_OK), "nginx is not installed")
class WithNginx(unittest.TestCase):
    """The same certificates behind nginx 1.22, through Python's ssl module
    (verifying the chain and the name) and openssl s_client."""

    @classmethod
    def setUpClass(cls):
        make_set(cls)
        for d in ("logs", "conf"):
            os.makedirs(os.path.join(cls.dir, d))
        cls.port = free_port()
        conf = os.path.join(cls.dir, "conf", "nginx.conf")
        with open(conf, "w") as f:
            f.write(NGINX_CONF.format(port=cls.port, ec=cls.ec, rsa=cls.rsa,
                                      ca=cls.ca,
                                      ocsp=cls.ca.ocsp_response(cls.ec)))
        cls.nginx = Server(NGINX, cls.dir, conf, (cls.port,), "nginx")

    @classmethod
    def tearDownClass(cls):
        cls.nginx.stop()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def get(self, client=None, ciphers=None):
        """(peer certificate's key type, body) of one verified request."""
        ctx = ssl.create_default_context(cafile=self.ca.cert)
        if ciphers:
            ctx.maximum_version = ssl.TLSVersion.TLSv1_2
            ctx.set_ciphers(ciphers)
        if client:
            ctx.load_cert_chain(client.chain, client.key)
        with socket.create_connection(("127.0.0.1", self.port),
                                      timeout=10) as raw, \
                ctx.wrap_socket(raw, server_hostname="localhost") as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n"
                      b"Connection: close\r\n\r\n")
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
            der = s.getpeercert(binary_form=True)
        with open(self.ec.cert) as f:
            ec = der == ssl.PEM_cert_to_DER_cert(f.read())
        return "ecdsa" if ec else "rsa", data.decode(errors="replace")

    def test_key_type_chosen_by_the_client(self):
        self.assertEqual(self.get()[0], "ecdsa")
        self.assertEqual(self.get(ciphers="ECDHE-RSA-AES128-GCM-SHA256")[0],
                         "rsa")

    def test_client_certificates(self):
        self.assertIn("200 OK", self.get()[1])
        self.assertIn("NONE||", self.get()[1])
        body = self.get(self.alice)[1]
        self.assertIn("SUCCESS|CN=alice,O=Portico tests|", body)
        body = self.get(self.old)[1]
        self.assertIn("400 Bad Request", body)
        self.assertIn("The SSL certificate error", body)
        body = self.get(self.mallory)[1]
        self.assertIn("400 Bad Request", body)

    def test_stapled_response(self):
        p = subprocess.run(
            ["openssl", "s_client", "-connect", f"127.0.0.1:{self.port}",
             "-servername", "localhost", "-status", "-CAfile", self.ca.cert],
            input=b"", capture_output=True, timeout=30)
        out = p.stdout.decode(errors="replace")
        self.assertIn("OCSP Response Status: successful", out)
        self.assertRegex(out, re.compile(r"Cert Status: good"))


if __name__ == "__main__":
    unittest.main()
