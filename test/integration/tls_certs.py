"""Test certificates made at run time with the openssl CLI (issue 6: none are
committed): a CA, server certificates (RSA 2048 or ECDSA P-256, with SANs),
client certificates, expired ones, revocation (CRL) and DER OCSP responses.
Shared by the TLS tests (test_tls_scan.py, test/compat TLS cases, and the
implementation's tests); checked by test_certs_helper.py, also behind nginx.

API (every path absolute, every file world-readable: workers run as nobody):
    ca = CertAuthority(directory, name="Portico Test CA", kind="ecdsa")
        A CA under directory/ca/ (an `openssl ca` database). ca.cert and
        ca.key: its PEM certificate and key (ssl_client_certificate,
        ssl_trusted_certificate, proxy_ssl_trusted_certificate, cafile=);
        ca.crl: its PEM CRL (ssl_crl), rewritten by revoke().
    ca.server(name, sans=None, kind="rsa", expired=False, days=30) -> Pair
        CN=name, subjectAltName from sans (default: name and 127.0.0.1; an
        address becomes an IP SAN), serverAuth. kind: "rsa" (2048),
        "rsa4096" or "ecdsa" (P-256). expired: valid 2001-2002 only.
    ca.client(name, kind="ecdsa", expired=False, days=30) -> Pair
        CN=name, clientAuth (nginx's $ssl_client_s_dn: "CN=name,O=Portico
        tests").
    ca.revoke(pair)                  revoked in the database and the CRL
    ca.ocsp_response(pair, path=None, days=7) -> path of a DER OCSP response
        ("good", or "revoked" after revoke()), signed by the CA: what
        ssl_stapling_file takes.
    Pair: .name, .cert (leaf PEM), .key (PEM), .chain (leaf + CA: what
        ssl_certificate takes). Several pairs may share a name.
    self_signed(directory, name, kind="rsa", sans=None, days=30) -> Pair
        No CA; .chain is .cert.
    subject(cert) -> "subject=O = Portico tests, CN = NAME"
    ocsp_status(der, pair, ca) -> "good" | "revoked" | "unknown"
    run(*args) -> openssl's stdout; OpenSSLError with its stderr.

Cost: a CA and a few pairs take about a second (RSA key generation is the
slowest part). Example:
    ca = CertAuthority(prefix)
    srv = ca.server("localhost", kind="ecdsa")
    conf = f"ssl_certificate {srv.chain}; ssl_certificate_key {srv.key};"
    ctx = ssl.create_default_context(cafile=ca.cert)   # verifies "localhost"
"""

import os
import subprocess

OPENSSL = "openssl"
TIMEOUT = 60

CA_CNF = """\
[ ca ]
default_ca = test_ca

[ test_ca ]
dir              = {dir}
database         = {dir}/index.txt
new_certs_dir    = {dir}/newcerts
serial           = {dir}/serial
crlnumber        = {dir}/crlnumber
default_md       = sha256
default_crl_days = 30
policy           = anything
unique_subject   = no
copy_extensions  = none
email_in_dn      = no

[ anything ]
organizationName       = optional
commonName             = supplied
"""


# key identifiers: strict verifiers (Python 3.13's VERIFY_X509_STRICT) want
# them on every certificate of a chain
KEY_IDS = ["subjectKeyIdentifier=hash", "authorityKeyIdentifier=keyid"]


class OpenSSLError(Exception):
    pass


def run(*args, cwd=None, stdin=None):
    """openssl with args; its stdout, or OpenSSLError with its stderr."""
    p = subprocess.run([OPENSSL] + [str(a) for a in args], cwd=cwd,
                       input=stdin, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=TIMEOUT)
    if p.returncode != 0:
        raise OpenSSLError(f"openssl {' '.join(map(str, args))}: exit "
                           f"{p.returncode}: {p.stderr.decode(errors='replace')}")
    return p.stdout


def new_key(path, kind):
    """A PEM private key: "rsa" (2048 bits), "rsa4096" or "ecdsa" (P-256)."""
    if kind == "ecdsa":
        run("genpkey", "-algorithm", "EC", "-pkeyopt",
            "ec_paramgen_curve:P-256", "-out", path)
    elif kind in ("rsa", "rsa4096"):
        bits = "4096" if kind == "rsa4096" else "2048"
        run("genpkey", "-algorithm", "RSA", "-pkeyopt",
            f"rsa_keygen_bits:{bits}", "-out", path)
    else:
        raise ValueError(f"unknown key kind {kind!r}")
    os.chmod(path, 0o644)


def san_list(sans):
    """"DNS:a,IP:127.0.0.1" from names and addresses."""
    out = []
    for s in sans:
        is_ip = all(p.isdigit() for p in s.split(".")) and s.count(".") == 3
        out.append(("IP:" if is_ip or ":" in s else "DNS:") + s)
    return ",".join(out)


class Pair:
    """A certificate and its key. cert: the leaf (PEM); chain: leaf then
    the CA (what ssl_certificate takes); key: the PEM private key."""

    def __init__(self, name, cert, key, chain):
        self.name, self.cert, self.key, self.chain = name, cert, key, chain

    def __repr__(self):
        return f"Pair({self.name!r}, {self.cert!r})"


def _readable(*paths):
    for p in paths:
        os.chmod(p, 0o644)


def _file_stem(directory, stem):
    """A path prefix in directory not used yet (several pairs per name)."""
    base = os.path.join(directory, stem.replace("*", "star").replace("/", "_"))
    path, n = base, 1
    while os.path.exists(path + ".crt"):
        n += 1
        path = f"{base}-{n}"
    return path


class CertAuthority:
    """A CA in `directory` (an `openssl ca` database, so it can revoke and
    answer OCSP). cert/key: the CA's PEM files; crl: its current CRL."""

    def __init__(self, directory, name="Portico Test CA", kind="ecdsa"):
        self.dir = os.path.join(directory, "ca")
        os.makedirs(os.path.join(self.dir, "newcerts"), exist_ok=True)
        os.chmod(self.dir, 0o755)
        self.cnf = os.path.join(self.dir, "ca.cnf")
        with open(self.cnf, "w") as f:
            f.write(CA_CNF.format(dir=self.dir))
        open(os.path.join(self.dir, "index.txt"), "w").close()
        with open(os.path.join(self.dir, "serial"), "w") as f:
            f.write("1000\n")
        with open(os.path.join(self.dir, "crlnumber"), "w") as f:
            f.write("01\n")
        self.key = os.path.join(self.dir, "ca.key")
        self.cert = os.path.join(self.dir, "ca.crt")
        self.crl = os.path.join(self.dir, "ca.crl")
        new_key(self.key, kind)
        run("req", "-x509", "-new", "-key", self.key, "-out", self.cert,
            "-days", "3650", "-subj", f"/O=Portico tests/CN={name}",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        _readable(self.cert)
        self.update_crl()

    def _sign(self, stem, cn, kind, ext, expired, days):
        key, csr = stem + ".key", stem + ".csr"
        cert, chain = stem + ".crt", stem + ".chain.crt"
        extfile = stem + ".ext"
        new_key(key, kind)
        run("req", "-new", "-key", key, "-out", csr,
            "-subj", f"/O=Portico tests/CN={cn}")
        with open(extfile, "w") as f:
            f.write("[ ext ]\n" + "\n".join(ext) + "\n")
        when = (["-startdate", "20010101000000Z", "-enddate",
                 "20020101000000Z"] if expired else ["-days", str(days)])
        run("ca", "-batch", "-config", self.cnf, "-keyfile", self.key,
            "-cert", self.cert, "-in", csr, "-out", cert, "-notext",
            "-extfile", extfile, "-extensions", "ext", *when)
        with open(cert) as a, open(self.cert) as b, open(chain, "w") as c:
            c.write(a.read() + b.read())
        _readable(cert, chain)
        return Pair(cn, cert, key, chain)

    def server(self, name, sans=None, kind="rsa", expired=False, days=30):
        """A server certificate for `name` (CN and SANs: `sans`, default
        name and 127.0.0.1)."""
        sans = sans or (name, "127.0.0.1")
        ext = KEY_IDS + ["basicConstraints=critical,CA:FALSE",
                         "keyUsage=critical,digitalSignature" +
                         (",keyEncipherment" if kind.startswith("rsa") else ""),
                         "extendedKeyUsage=serverAuth",
                         "subjectAltName=" + san_list(sans)]
        stem = _file_stem(self.dir, f"server-{name}-{kind}")
        return self._sign(stem, name, kind, ext, expired, days)

    def client(self, name, kind="ecdsa", expired=False, days=30):
        """A client certificate (extendedKeyUsage clientAuth), CN=name."""
        ext = KEY_IDS + ["basicConstraints=critical,CA:FALSE",
                         "keyUsage=critical,digitalSignature",
                         "extendedKeyUsage=clientAuth"]
        stem = _file_stem(self.dir, f"client-{name}-{kind}")
        return self._sign(stem, name, kind, ext, expired, days)

    def revoke(self, pair):
        """Marks pair revoked in the CA database and rewrites the CRL."""
        run("ca", "-batch", "-config", self.cnf, "-keyfile", self.key,
            "-cert", self.cert, "-revoke", pair.cert)
        self.update_crl()

    def update_crl(self):
        run("ca", "-batch", "-config", self.cnf, "-keyfile", self.key,
            "-cert", self.cert, "-gencrl", "-out", self.crl)
        _readable(self.crl)

    def ocsp_response(self, pair, path=None, days=7):
        """A DER OCSP response for pair's certificate, signed by the CA from
        its database ("good", or "revoked" after revoke()); its path
        (default: beside the certificate, .ocsp)."""
        path = path or pair.cert[:-len(".crt")] + ".ocsp"
        run("ocsp", "-index", os.path.join(self.dir, "index.txt"),
            "-rsigner", self.cert, "-rkey", self.key, "-CA", self.cert,
            "-issuer", self.cert, "-cert", pair.cert, "-ndays", str(days),
            "-respout", path)
        _readable(path)
        return path


def self_signed(directory, name, kind="rsa", sans=None, days=30):
    """A self-signed server certificate (no CA): a Pair whose chain is the
    certificate itself."""
    sans = sans or (name, "127.0.0.1")
    stem = _file_stem(directory, f"self-{name}-{kind}")
    key, cert = stem + ".key", stem + ".crt"
    new_key(key, kind)
    run("req", "-x509", "-new", "-key", key, "-out", cert, "-days", str(days),
        "-subj", f"/O=Portico tests/CN={name}",
        "-addext", "subjectAltName=" + san_list(sans))
    _readable(cert)
    return Pair(name, cert, key, cert)


def subject(cert):
    """The subject line of a PEM certificate, as openssl prints it."""
    return run("x509", "-in", cert, "-noout", "-subject").decode().strip()


def ocsp_status(der, pair, ca):
    """"good" / "revoked" / "unknown": what a DER OCSP response says of
    pair's certificate, checked against the CA."""
    out = run("ocsp", "-respin", der, "-issuer", ca.cert, "-cert", pair.cert,
              "-CAfile", ca.cert, "-no_nonce").decode()
    line = next((ln for ln in out.splitlines()
                 if ln.startswith(pair.cert + ":")), "")
    return line.split(":", 1)[1].strip() if line else "unknown"
