"""Test certificates, made on the fly with the `openssl` command-line tool.

Nothing with a private key is checked in: every test run makes its own CAs, server and client
certificates in a pytest temporary directory, and they are thrown away with it. All keys are
small-but-modern (ECDSA P-256, RSA 2048) and all validity windows are short, so nothing here
could pass for a real credential.

    certs = CertFactory(tmp_path)
    ca = certs.ca("Test Root CA")
    leaf = certs.leaf(ca, "foo.bar.com", dns=["foo.bar.com"])               # ECDSA, PKCS#8 key
    rsa = certs.leaf(ca, "rsa.example.com", kind="rsa", key_format="traditional")
    old = certs.leaf(ca, "x", expired=True)                                   # valid in 2020 only
    client = certs.leaf(client_ca, "client-1", org="Example Clients", usage="client")
    secret = tls_secret("foo-tls", leaf)                                      # kubernetes.io/tls

Then `leaf.der` is what a TLS client sees as the peer certificate, so a test can tell exactly
which certificate a server chose; `cert_info(der)` reads its subject, issuer and names.
"""

from __future__ import annotations

import base64
import datetime
import ssl
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

OPENSSL = "openssl"

# `openssl ca` needs a configuration and a database even for one signature; this is the least
# it accepts. copy_extensions=none: only the extensions given on the command line are signed.
_CA_CONFIG = """\
[ca]
default_ca = test_ca
[test_ca]
database = {dir}/index.txt
new_certs_dir = {dir}
serial = {dir}/serial
default_md = sha256
policy = anything
unique_subject = no
copy_extensions = none
[anything]
commonName = optional
organizationName = optional
"""


def _run(*args: str, stdin: bytes | None = None) -> bytes:
    r = subprocess.run([OPENSSL, *args], input=stdin, capture_output=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)} failed ({r.returncode}):\n"
                           f"{r.stderr.decode(errors='replace')}")
    return r.stdout


@dataclass
class Cert:
    """A certificate and its key on disk. `chain` holds the intermediates (never the root) that a
    server sends after this certificate; `root` marks a self-signed CA."""

    name: str
    cert: Path
    key: Path
    chain: list[Path] = field(default_factory=list)
    root: bool = False

    def chain_below(self) -> list[Path]:
        """What a certificate issued by this one sends after itself."""
        return list(self.chain) if self.root else [self.cert, *self.chain]

    @property
    def cert_pem(self) -> str:
        return self.cert.read_text()

    @property
    def key_pem(self) -> str:
        return self.key.read_text()

    @property
    def fullchain_pem(self) -> str:
        """tls.crt as Kubernetes expects it: the leaf, then the intermediates."""
        return "".join(p.read_text() for p in [self.cert, *self.chain])

    @property
    def der(self) -> bytes:
        return ssl.PEM_cert_to_DER_cert(self.cert_pem)

    @property
    def subject(self) -> str:
        return cert_info(self.der)["subject"]

    def write_fullchain(self) -> Path:
        """The leaf and its chain in one file (for servers such as nginx and echo-backend)."""
        path = self.cert.with_name(self.cert.stem + "-fullchain.pem")
        path.write_text(self.fullchain_pem)
        return path


class CertFactory:
    """Makes keys and certificates under `directory`; each call writes new files."""

    def __init__(self, directory: Path):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self._count = 0

    def _path(self, stem: str, suffix: str) -> Path:
        self._count += 1
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in stem)
        return self.dir / f"{self._count:03d}-{safe}{suffix}"

    # --- keys

    def key(self, stem: str, kind: str = "ec", key_format: str = "pkcs8") -> Path:
        """A new private key: kind "ec" (P-256) or "rsa" (2048 bits); key_format "pkcs8"
        ("BEGIN PRIVATE KEY") or "traditional" ("BEGIN EC/RSA PRIVATE KEY", as cert-manager
        and older tooling write them)."""
        if kind == "ec":
            pem = _run("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256")
        elif kind == "rsa":
            pem = _run("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048")
        else:
            raise ValueError(f"unknown key kind {kind!r}")
        if key_format == "traditional":
            pem = _run("pkey", "-traditional", stdin=pem)
        elif key_format != "pkcs8":
            raise ValueError(f"unknown key format {key_format!r}")
        path = self._path(stem, ".key")
        path.write_bytes(pem)
        path.chmod(0o600)
        return path

    # --- certificates

    def ca(self, cn: str, kind: str = "ec", issuer: Cert | None = None,
           org: str | None = None) -> Cert:
        """A CA: self-signed (a root) or, with `issuer`, an intermediate signed by it."""
        key = self.key(cn, kind)
        ext = ["basicConstraints=critical,CA:TRUE", "keyUsage=critical,keyCertSign,cRLSign",
               "subjectKeyIdentifier=hash"]
        subject = _subject(cn, org)
        if issuer is None:
            cert = self._path(cn, ".crt")
            args = ["req", "-x509", "-new", "-key", str(key), "-subj", subject, "-days", "30",
                    "-sha256", "-out", str(cert)]
            for e in ext:
                args += ["-addext", e]
            _run(*args)
            return Cert(cn, cert, key, root=True)
        cert = self._sign(issuer, key, subject, ext + ["authorityKeyIdentifier=keyid"],
                          stem=cn)
        return Cert(cn, cert, key, issuer.chain_below())

    def leaf(self, issuer: Cert | None, cn: str, dns: Iterable[str] | None = None,
             ips: Iterable[str] = (), kind: str = "ec", key_format: str = "pkcs8",
             org: str | None = None, usage: str = "server", expired: bool = False,
             days: int = 30) -> Cert:
        """An end-entity certificate signed by `issuer` (None: self-signed).

        dns defaults to [cn] for server certificates; usage "server" or "client" sets the
        extended key usage; expired=True makes one valid only in January 2020.
        """
        key = self.key(cn, kind, key_format)
        if dns is None:
            dns = [cn] if usage == "server" else []
        names = [f"DNS:{d}" for d in dns] + [f"IP:{i}" for i in ips]
        ext = ["basicConstraints=critical,CA:FALSE",
               "keyUsage=critical,digitalSignature" + (",keyEncipherment" if kind == "rsa"
                                                       else ""),
               "extendedKeyUsage=" + {"server": "serverAuth", "client": "clientAuth"}[usage],
               "subjectKeyIdentifier=hash"]
        if names:
            ext.append("subjectAltName=" + ",".join(names))
        subject = _subject(cn, org)
        if issuer is None:
            cert = self._path(cn, ".crt")
            args = ["req", "-x509", "-new", "-key", str(key), "-subj", subject, "-days",
                    str(days), "-sha256", "-out", str(cert)]
            for e in ext:
                args += ["-addext", e]
            _run(*args)
            return Cert(cn, cert, key)
        ext.append("authorityKeyIdentifier=keyid")
        validity = (datetime.datetime(2020, 1, 1), datetime.datetime(2020, 1, 31)) \
            if expired else None
        cert = self._sign(issuer, key, subject, ext, stem=cn, days=days, validity=validity)
        return Cert(cn, cert, key, issuer.chain_below())

    def mismatched(self, cert: Cert) -> Cert:
        """The same certificate paired with a fresh key that does not belong to it."""
        return Cert(cert.name + "-mismatched", cert.cert, self.key(cert.name + "-other"),
                    list(cert.chain))

    def _sign(self, issuer: Cert, key: Path, subject: str, ext: list[str], stem: str,
              days: int = 30,
              validity: tuple[datetime.datetime, datetime.datetime] | None = None) -> Path:
        """Signs a CSR for `key` with `issuer` through `openssl ca`, the one command that takes
        an explicit validity window (an expired certificate needs one in the past)."""
        if validity is None:
            now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
            # Back-dated an hour: a peer whose clock is a little behind still accepts it.
            validity = (now - datetime.timedelta(hours=1), now + datetime.timedelta(days=days))
        csr = _run("req", "-new", "-key", str(key), "-subj", subject)
        cert = self._path(stem, ".crt")
        with tempfile.TemporaryDirectory(dir=self.dir) as scratch:
            s = Path(scratch)
            (s / "index.txt").write_text("")
            (s / "ca.cnf").write_text(_CA_CONFIG.format(dir=scratch))
            (s / "ext.cnf").write_text("\n".join(ext) + "\n")
            (s / "req.csr").write_bytes(csr)
            _run("ca", "-batch", "-config", str(s / "ca.cnf"), "-cert", str(issuer.cert),
                 "-keyfile", str(issuer.key), "-in", str(s / "req.csr"), "-out", str(cert),
                 "-extfile", str(s / "ext.cnf"), "-notext", "-preserveDN", "-rand_serial",
                 "-startdate", validity[0].strftime("%Y%m%d%H%M%SZ"),
                 "-enddate", validity[1].strftime("%Y%m%d%H%M%SZ"))
        return cert


def _subject(cn: str, org: str | None) -> str:
    # Written most significant first; RFC 2253 prints it reversed ("CN=cn,O=org").
    return (f"/O={org}" if org else "") + f"/CN={cn}"


# --------------------------------------------------------------------------------------------
# reading certificates back


def cert_info(cert: bytes | str) -> dict:
    """subject and issuer (RFC 2253), DNS names, notAfter, of a DER (bytes) or PEM (str)
    certificate."""
    pem = cert if isinstance(cert, str) else ssl.DER_cert_to_PEM_cert(cert)
    out = _run("x509", "-noout", "-subject", "-issuer", "-enddate", "-nameopt", "RFC2253",
               "-ext", "subjectAltName", stdin=pem.encode()).decode()
    info: dict = {"subject": "", "issuer": "", "dns": [], "not_after": ""}
    for line in out.splitlines():
        line = line.strip()
        if line.startswith("subject="):
            info["subject"] = line[len("subject="):].strip()
        elif line.startswith("issuer="):
            info["issuer"] = line[len("issuer="):].strip()
        elif line.startswith("notAfter="):
            info["not_after"] = line[len("notAfter="):]
        elif line.startswith("DNS:") or ", DNS:" in line:
            info["dns"] += [n.strip()[4:] for n in line.split(",") if n.strip().startswith("DNS:")]
    return info


# --------------------------------------------------------------------------------------------
# Kubernetes Secrets


def _encode(values: dict[str, str], encoding: str) -> dict:
    if encoding == "stringData":
        return {"stringData": values}
    if encoding == "data":
        return {"data": {k: base64.b64encode(v.encode()).decode() for k, v in values.items()}}
    raise ValueError(f"unknown Secret encoding {encoding!r}")


def tls_secret(name: str, cert: Cert | None = None, namespace: str = "default", *,
               crt: str | None = None, key: str | None = None, encoding: str = "stringData",
               omit: Iterable[str] = ()) -> dict:
    """A `kubernetes.io/tls` Secret: tls.crt (leaf + chain) and tls.key from `cert`, or the
    given texts (crt=/key=, for broken Secrets); `omit` leaves keys out; encoding "stringData"
    or "data" (base64, as the API server returns Secrets)."""
    values = {}
    if cert is not None:
        values = {"tls.crt": cert.fullchain_pem, "tls.key": cert.key_pem}
    if crt is not None:
        values["tls.crt"] = crt
    if key is not None:
        values["tls.key"] = key
    for k in omit:
        values.pop(k, None)
    return {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
            "metadata": {"name": name, "namespace": namespace}, **_encode(values, encoding)}


def ca_secret(name: str, cas: Cert | Iterable[Cert], key: str = "ca.crt",
              namespace: str = "default", encoding: str = "data") -> dict:
    """An Opaque Secret whose `key` holds a PEM bundle of the CA certificates `cas` (for
    clientValidation.caSecretRef and backend tls.caSecretRef)."""
    cas = [cas] if isinstance(cas, Cert) else list(cas)
    bundle = "".join(c.cert_pem for c in cas)
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": name, "namespace": namespace}, **_encode({key: bundle}, encoding)}
