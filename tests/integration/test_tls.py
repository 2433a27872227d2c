"""TLS (issue 4, SPEC §3.1 spec.tls, §3.2 APIRoute tls, §4, §5.9), as real TLS clients see it:
Python's ssl module, curl and openssl s_client against the real binary.

- termination with certificates from kubernetes.io/tls Secrets, chosen per connection by SNI
  (exact names, then one-label wildcards, else the default certificate); RSA and ECDSA keys;
  chains; TLS 1.2/1.3 only; ALPN http/1.1
- rotation while a keep-alive connection stays open; broken Secrets reported and isolated
- ssl-redirect (Ingress), redirectHTTP and HSTS (APIRoute)
- client certificates (required, optional, rejected; X-Client-Cert-Subject)
- upstream TLS: Ingress backend-protocol HTTPS, APIRoute https:// backends, verified or not

Certificates are made per run by tls_certs.CertFactory (the openssl CLI); none is checked in.
Most tests share one gateway (module scope, read-only); those that change configuration start
their own.
"""

from __future__ import annotations

import http.client
import http.server
import json
import re
import socket
import ssl
import subprocess
import select
import threading
import types
import warnings
from contextlib import closing

import pytest

from conftest import (ATRIUM_BIN, ECHO_BIN, LOOPBACK, EchoBackend, _die_with_parent, apiroute,
                      http_request, https_connection, https_request, ingress, ingress_path,
                      service_docs, stop_and_check, tls_client_context, to_yaml, wait_until)
from test_admin import metric_value
from tls_certs import Cert, CertFactory, ca_secret, cert_info, tls_secret

DEFAULT_CN = re.compile(r"(^|,)CN=atrium-default(,|$)")
SPOOFED = "CN=admin,O=Evil Corp"


# --------------------------------------------------------------------------------------------
# helpers


def tls_ingress(name: str, rules: list[tuple[str, str]], tls: list[tuple[list[str], str]],
                annotations: dict | None = None, port=80) -> dict:
    """An Ingress routing each (host, service) of `rules` on "/", with spec.tls entries
    (hosts, secretName)."""
    ing = ingress(name, [{"host": h, "paths": [ingress_path("/", svc, port=port)]}
                         for h, svc in rules], annotations=annotations)
    if tls:
        ing["spec"]["tls"] = [{"hosts": hosts, "secretName": secret} for hosts, secret in tls]
    return ing


def route(name: str, hostnames: list[str], tls: dict | None, backend: dict) -> dict:
    spec: dict = {"hostnames": hostnames, "rules": [{"backends": [backend]}]}
    if tls is not None:
        spec["tls"] = tls
    return apiroute(name, spec)


def svc(name: str, port: int = 80) -> dict:
    return {"service": {"name": name, "port": port}}


def served_cert(gw, sni: str | None, context: ssl.SSLContext | None = None) -> bytes:
    """The leaf certificate (DER) the gateway presents for `sni` (None: no SNI at all)."""
    with closing(gw.https_connection(sni, context, timeout=5)) as conn:
        return conn.tls_info()["cert"]


def is_default_cert(der: bytes) -> bool:
    return bool(DEFAULT_CN.search(cert_info(der)["subject"]))


def verifying(ca: Cert, **kwargs) -> ssl.SSLContext:
    """A client context that verifies the chain against `ca` and the SNI name."""
    return tls_client_context(cafile=ca.cert, **kwargs)


def invalid_secrets(gw):
    """The gauge of Secrets that are referenced for TLS but unusable (None if absent)."""
    return metric_value(gw.metrics(), "atrium_tls_invalid_secrets")


def echo_of(r) -> dict:
    assert r.status == 200, r
    return r.json()


def expect_tls_refusal(attempt) -> str:
    """Runs `attempt()` (a TLS request); it must fail at the handshake or on the first read
    (an alert, a reset or a closed connection), not hang and not be answered."""
    try:
        r = attempt()
    except TimeoutError as e:  # a timeout is a hang, not a refusal
        pytest.fail(f"no TLS alert, the connection hung: {e!r}")
    except (ssl.SSLError, ConnectionError, http.client.HTTPException, OSError) as e:
        return repr(e)
    pytest.fail(f"served although the client certificate was missing or invalid: {r!r}")


def run_cmd(*args: str, timeout: float = 30, stdin: bytes = b"") -> subprocess.CompletedProcess:
    return subprocess.run(list(args), input=stdin, capture_output=True, timeout=timeout)


# --------------------------------------------------------------------------------------------
# test upstreams over TLS


class TLSEchoBackend(EchoBackend):
    """echo-backend serving HTTPS with `cert` (--tls-cert/--tls-key); answers carry "tls": true."""

    def __init__(self, name: str, cert: Cert):
        self.name = self.instance = name
        self.proc = subprocess.Popen(
            [ECHO_BIN, "--bind", LOOPBACK, "--port", "0", "--name", name, "--instance", name,
             "--tls-cert", str(cert.write_fullchain()), "--tls-key", str(cert.key)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent)
        try:
            ready, _, _ = select.select([self.proc.stdout], [], [], 10)
            line = self.proc.stdout.readline().decode() if ready else ""  # "" also on exit
            m = re.search(r"listening on [\d.]+:(\d+)", line)
            if not m:
                self.proc.wait(5)
                raise RuntimeError(f"echo-backend --tls-cert did not start: {line!r} "
                                   f"{self.proc.stderr.read().decode(errors='replace')!r}")
        except BaseException:
            self.stop()
            raise
        self.port = int(m.group(1))

    def stop(self):
        super().stop()
        if self.proc.stderr:
            self.proc.stderr.close()


class _CountingHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a pooled upstream expects
    timeout = 10

    def setup(self):
        super().setup()
        self.request.do_handshake()

    def do_GET(self):  # noqa: N802 - http.server's naming
        body = json.dumps({"service": "counting", "tls": True,
                           "connections": self.server.connections}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class TLSCountingBackend(http.server.ThreadingHTTPServer):
    """A keep-alive HTTPS upstream that counts the TCP connections (= TLS handshakes) made to
    it, to see whether the gateway pools its upstream TLS connections."""

    daemon_threads = True

    def __init__(self, cert: Cert):
        super().__init__((LOOPBACK, 0), _CountingHandler)
        self.port = self.server_address[1]
        self.connections = 0
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(cert.write_fullchain(), cert.key)
        self.thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.1},
                                       daemon=True)
        self.thread.start()

    def get_request(self):
        sock, addr = super().get_request()
        self.connections += 1  # only the serving thread accepts
        return self.context.wrap_socket(sock, server_side=True,
                                        do_handshake_on_connect=False), addr

    def handle_error(self, request, client_address):
        pass  # a client that goes away mid-handshake is not a test failure

    def stop(self):
        self.shutdown()
        self.server_close()


# --------------------------------------------------------------------------------------------
# the shared gateway


@pytest.fixture(scope="module")
def certs(tmp_path_factory) -> CertFactory:
    return CertFactory(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="module")
def pki(certs):
    """Every certificate the shared gateway and its tests use."""
    p = types.SimpleNamespace()
    p.root = certs.ca("Atrium Test Root CA")
    p.intermediate = certs.ca("Atrium Test Intermediate CA", issuer=p.root)
    # The conformance case: the Secret whose SAN is foo.bar.com (ECDSA P-256, PKCS#8 key).
    p.foo = certs.leaf(p.root, "foo.bar.com")
    p.wild = certs.leaf(p.root, "*.wild.example.com")
    p.exact_wild = certs.leaf(p.root, "exact.wild.example.com")
    p.rsa = certs.leaf(p.root, "rsa.example.com", kind="rsa", key_format="traditional")
    p.ec_sec1 = certs.leaf(p.root, "ec.example.com", key_format="traditional")
    p.chain = certs.leaf(p.intermediate, "chain.example.com")
    p.data = certs.leaf(p.root, "data.example.com")
    p.web = certs.leaf(p.root, "redirect.example.com", dns=[
        "redirect.example.com", "*.redirect.example.com", "noredir.example.com",
        "noredir-nginx.example.com"])
    p.api = certs.leaf(p.root, "api.example.com", dns=["api.example.com", "api2.example.com"])
    p.gw = certs.leaf(p.root, "gw.example.com", dns=[
        "hsts.example.com", "hsts-min.example.com", "mtls.example.com", "mtls-opt.example.com"])
    p.client_ca = certs.ca("Example Clients CA")
    p.client = certs.leaf(p.client_ca, "client-1", org="Example Clients", usage="client")
    p.rogue_ca = certs.ca("Rogue CA")
    p.rogue = certs.leaf(p.rogue_ca, "client-1", org="Example Clients", usage="client")
    p.upstream_ca = certs.ca("Upstream CA")
    p.other_ca = certs.ca("Other CA")
    p.upstream = certs.leaf(p.upstream_ca, "backend.internal")
    p.upstream_expired = certs.leaf(p.upstream_ca, "backend.internal", expired=True)
    return p


PLAIN_BACKENDS = ["foo-bar-com", "wildcard-foo-com", "web", "api", "mtls"]


@pytest.fixture(scope="module")
def gw(request, tmp_path_factory, pki):
    from conftest import Atrium

    started: list = []
    try:
        b = {n: EchoBackend(n) for n in PLAIN_BACKENDS}
        started += b.values()
        tls_up = TLSEchoBackend("tls-up", pki.upstream)
        started.append(tls_up)
        tls_expired = TLSEchoBackend("tls-expired", pki.upstream_expired)
        started.append(tls_expired)
        counting = TLSCountingBackend(pki.upstream)
        started.append(counting)

        secrets = [
            tls_secret("conformance-tls", pki.foo),
            tls_secret("wild-tls", pki.wild),
            tls_secret("exact-wild-tls", pki.exact_wild),
            tls_secret("rsa-tls", pki.rsa),
            tls_secret("ec-tls", pki.ec_sec1),
            tls_secret("chain-tls", pki.chain),
            tls_secret("data-tls", pki.data, encoding="data"),
            tls_secret("web-tls", pki.web),
            tls_secret("api-tls", pki.api),
            tls_secret("gw-tls", pki.gw),
            ca_secret("client-ca", pki.client_ca),
            ca_secret("upstream-ca", pki.upstream_ca, encoding="stringData"),
            ca_secret("other-ca", pki.other_ca, key="bundle.pem"),
        ]
        services = []
        for n in PLAIN_BACKENDS:
            services += service_docs(n, [b[n]])
        services += service_docs("tls-up", [tls_up], port_name="https", service_port=443)
        services += service_docs("counting", [counting], port_name="https", service_port=443)

        https_backend = {"atrium.dev/backend-protocol": "HTTPS"}
        ingresses = [
            # The Ingress conformance host-rules case, TLS included.
            tls_ingress("host-rules", [("*.foo.com", "wildcard-foo-com"),
                                       ("foo.bar.com", "foo-bar-com")],
                        [(["foo.bar.com"], "conformance-tls")]),
            tls_ingress("wild", [("*.wild.example.com", "web")],
                        [(["*.wild.example.com"], "wild-tls")]),
            tls_ingress("exact-wild", [("exact.wild.example.com", "web")],
                        [(["exact.wild.example.com"], "exact-wild-tls")]),
            tls_ingress("keys", [(h, "web") for h in ("rsa.example.com", "ec.example.com",
                                                      "chain.example.com", "data.example.com")],
                        [(["rsa.example.com"], "rsa-tls"), (["ec.example.com"], "ec-tls"),
                         (["chain.example.com"], "chain-tls"),
                         (["data.example.com"], "data-tls")]),
            tls_ingress("redirect", [("redirect.example.com", "web"),
                                     ("*.redirect.example.com", "web")],
                        [(["redirect.example.com", "*.redirect.example.com"], "web-tls")]),
            tls_ingress("noredir", [("noredir.example.com", "web")],
                        [(["noredir.example.com"], "web-tls")],
                        annotations={"atrium.dev/ssl-redirect": "false"}),
            tls_ingress("noredir-nginx", [("noredir-nginx.example.com", "web")],
                        [(["noredir-nginx.example.com"], "web-tls")],
                        annotations={"nginx.ingress.kubernetes.io/ssl-redirect": "false"}),
            tls_ingress("plain", [("plain.example.com", "web")], []),
            tls_ingress("up", [("up.example.com", "tls-up")], [], annotations=https_backend,
                        port=443),
            tls_ingress("up-nginx", [("up-nginx.example.com", "tls-up")], [], port=443,
                        annotations={"nginx.ingress.kubernetes.io/backend-protocol": "HTTPS"}),
            tls_ingress("up-pool", [("pool.example.com", "counting")], [],
                        annotations=https_backend, port=443),
            tls_ingress("up-not-tls", [("up-not-tls.example.com", "web")], [],
                        annotations=https_backend),
        ]

        def url(backend, tls=None):
            d = {"url": f"https://{LOOPBACK}:{backend.port}"}
            if tls is not None:
                d["tls"] = tls
            return d

        verified = {"caSecretRef": {"name": "upstream-ca", "key": "ca.crt"},
                    "serverName": "backend.internal"}
        routes = [
            route("api", ["api.example.com", "api2.example.com"], {"secretName": "api-tls"},
                  svc("api")),
            route("hsts", ["hsts.example.com"], {
                "secretName": "gw-tls", "redirectHTTP": True,
                "hsts": {"maxAge": 600, "includeSubDomains": True, "preload": True}}, svc("web")),
            route("hsts-min", ["hsts-min.example.com"],
                  {"secretName": "gw-tls", "hsts": {"maxAge": 60}}, svc("web")),
            route("mtls", ["mtls.example.com"], {
                "secretName": "gw-tls",
                "clientValidation": {"caSecretRef": {"name": "client-ca", "key": "ca.crt"}}},
                svc("mtls")),
            route("mtls-opt", ["mtls-opt.example.com"], {
                "secretName": "gw-tls",
                "clientValidation": {"caSecretRef": {"name": "client-ca", "key": "ca.crt"},
                                     "optional": True}}, svc("mtls")),
            route("up-verified", ["upv.example.com"], None, url(tls_up, verified)),
            route("up-insecure", ["upi.example.com"], None,
                  url(tls_up, {"insecureSkipVerify": True})),
            route("up-wrong-ca", ["upw.example.com"], None, url(tls_up, {
                "caSecretRef": {"name": "other-ca", "key": "bundle.pem"},
                "serverName": "backend.internal"})),
            route("up-wrong-name", ["upn.example.com"], None,
                  url(tls_up, {**verified, "serverName": "other.internal"})),
            route("up-system-cas", ["ups.example.com"], None, url(tls_up)),
            route("up-expired", ["upe.example.com"], None, url(tls_expired, verified)),
        ]
        gateway = Atrium(tmp_path_factory.mktemp("tls"), {
            "secrets.yaml": secrets, "services.yaml": services,
            "ingresses.yaml": ingresses, "routes.yaml": routes})
    except BaseException:
        for s in started:
            s.stop()
        raise
    request.node._atrium_gateways = [gateway]
    gateway.counting = counting
    yield gateway
    try:
        stop_and_check(gateway)
    finally:
        for s in started:
            s.stop()


# --------------------------------------------------------------------------------------------
# the fixtures themselves (independent of the gateway's TLS)


def test_generated_certificates(certs, pki):
    info = cert_info(pki.chain.der)
    assert info["subject"] == "CN=chain.example.com"
    assert info["issuer"] == "CN=Atrium Test Intermediate CA"
    assert pki.chain.fullchain_pem.count("BEGIN CERTIFICATE") == 2  # leaf + intermediate
    assert cert_info(pki.wild.der)["dns"] == ["*.wild.example.com"]
    assert pki.client.subject == "CN=client-1,O=Example Clients"
    assert "2020" in cert_info(pki.upstream_expired.der)["not_after"]
    assert pki.rsa.key_pem.startswith("-----BEGIN RSA PRIVATE KEY-----")
    assert pki.ec_sec1.key_pem.startswith("-----BEGIN EC PRIVATE KEY-----")
    assert pki.foo.key_pem.startswith("-----BEGIN PRIVATE KEY-----")
    mismatched = certs.mismatched(pki.foo)
    with pytest.raises(ssl.SSLError):
        ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(mismatched.cert, mismatched.key)
    s = tls_secret("x", pki.chain, encoding="data")
    assert s["type"] == "kubernetes.io/tls" and set(s["data"]) == {"tls.crt", "tls.key"}


def test_echo_backend_serves_https(pki):
    backend = TLSEchoBackend("tls-fixture", pki.upstream)
    try:
        ctx = verifying(pki.upstream_ca, alpn=["h2", "http/1.1"])
        conn = https_connection(backend.port, "backend.internal", ctx)
        try:
            assert conn.tls_info()["alpn"] == "http/1.1"
            for i in range(3):  # keep-alive
                r = https_request(backend.port, path=f"/e/{i}", host="backend.internal",
                                  conn=conn, headers={"X-Echo-Body-Size": "70000"} if i == 1
                                  else {})
                assert r.status == 200, r
            r = https_request(backend.port, "POST", "/p", host="backend.internal", conn=conn,
                              body=b"z" * 100000)
            seen = echo_of(r)
            assert seen["tls"] is True and seen["bodyLength"] == 100000
            assert seen["service"] == "tls-fixture"
        finally:
            conn.close()
        # Connection: close ends with close_notify, the answer complete.
        r = https_request(backend.port, host="backend.internal", context=ctx,
                          headers={"X-Echo-Close": "1"})
        assert echo_of(r)["tls"] is True
        # No TLS 1.1.
        with pytest.raises(ssl.SSLError):
            https_connection(backend.port, "backend.internal",
                             _legacy_context(ssl.TLSVersion.TLSv1_1), timeout=5)
    finally:
        backend.stop()
    plain = EchoBackend("plain-fixture")
    try:
        assert echo_of(http_request(plain.port))["tls"] is False
    finally:
        plain.stop()


# --------------------------------------------------------------------------------------------
# termination and certificate selection


def test_host_rules_conformance_tls(gw, pki):
    # Ingress conformance, host rules: "GET https://foo.bar.com" verifies the hostname
    # foo.bar.com, is served by foo-bar-com, and the request's Host is foo.bar.com.
    r = gw.https_get("/", host="foo.bar.com", context=verifying(pki.root))
    assert r.tls["cert"] == pki.foo.der
    seen = echo_of(r)
    assert seen["service"] == "foo-bar-com"
    assert seen["host"] == "foo.bar.com"
    # The wildcard rule of the same Ingress is plain HTTP, and routed as before.
    assert echo_of(gw.get("/", host="x.foo.com"))["service"] == "wildcard-foo-com"


def test_openssl_s_client_servername(gw, pki):
    request = b"GET /s-client HTTP/1.1\r\nHost: foo.bar.com\r\nConnection: close\r\n\r\n"
    r = run_cmd("openssl", "s_client", "-connect", f"{LOOPBACK}:{gw.https_port}",
                     "-servername", "foo.bar.com", "-CAfile", str(pki.root.cert),
                     "-verify_hostname", "foo.bar.com", "-verify_return_error", "-ign_eof",
                     stdin=request)
    out = r.stdout.decode(errors="replace")
    assert "Verify return code: 0 (ok)" in out, out
    assert re.search(r"subject=.*CN\s*=\s*foo\.bar\.com", out), out
    assert '"service":"foo-bar-com"' in out, out
    assert '"path":"/s-client"' in out, out
    # Connection: close ends with a close_notify before the TCP close (RFC 8446 §6.1: MUST);
    # OpenSSL 3 reports a bare EOF as "unexpected eof" and exits 1.
    assert r.returncode == 0, ("no close_notify before the connection closed?", out,
                               r.stderr.decode(errors="replace"))


def test_curl_resolve(gw, pki):
    port = gw.https_port
    r = run_cmd("curl", "-sS", "--max-time", "10", "--resolve",
                     f"foo.bar.com:{port}:{LOOPBACK}", "--cacert", str(pki.root.cert),
                     "-w", "\n%{http_code} %{ssl_verify_result} %{http_version}",
                     f"https://foo.bar.com:{port}/curl?x=1")
    assert r.returncode == 0, r.stderr
    body, _, status = r.stdout.decode().rpartition("\n")
    assert status == "200 0 1.1", (status, body)
    seen = json.loads(body)
    assert seen["service"] == "foo-bar-com" and seen["path"] == "/curl?x=1"
    # curl against a wildcard name, verified too.
    r = run_cmd("curl", "-sS", "--max-time", "10", "--resolve",
                     f"Abc.wild.example.com:{port}:{LOOPBACK}", "--cacert", str(pki.root.cert),
                     f"https://Abc.wild.example.com:{port}/")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["service"] == "web"


def test_wildcard_certificates(gw, pki):
    ctx = verifying(pki.root)
    for sni in ("a.wild.example.com", "Zz-9.WILD.example.com"):
        r = gw.https_get("/", host=sni, context=ctx)
        assert r.tls["cert"] == pki.wild.der, sni
        assert echo_of(r)["service"] == "web"
    # An exact name beats the wildcard that also covers it.
    assert served_cert(gw, "exact.wild.example.com") == pki.exact_wild.der
    # One label only: neither two labels nor the bare domain.
    assert is_default_cert(served_cert(gw, "a.b.wild.example.com"))
    assert is_default_cert(served_cert(gw, "wild.example.com"))


def test_unknown_or_no_sni_gets_the_default_certificate(gw):
    unknown = served_cert(gw, "unknown.example.com")
    none = served_cert(gw, None)
    assert unknown == none
    info = cert_info(unknown)
    assert DEFAULT_CN.search(info["subject"]), info
    assert info["issuer"] == info["subject"], info  # self-signed, made at start
    # Routing over TLS is by Host, as in plain HTTP: an unknown host is a JSON 404.
    r = gw.https_get("/nothing", host="unknown.example.com")
    assert r.status == 404, r
    assert r.json()["error"]["code"] == "route_not_found"


@pytest.mark.parametrize("pem,key_type", [("rsa", "RSA"), ("ec_sec1", "ECDSA"), ("foo", "ECDSA")])
def test_rsa_and_ecdsa_certificates(gw, pki, pem, key_type):
    cert = getattr(pki, pem)
    host = cert_info(cert.der)["dns"][0]
    # TLS 1.2 shows the key type in the cipher suite (ECDHE-RSA-… / ECDHE-ECDSA-…).
    ctx12 = verifying(pki.root, maximum=ssl.TLSVersion.TLSv1_2)
    r = gw.https_get("/", host=host, context=ctx12)
    assert r.tls["cert"] == cert.der
    assert r.tls["version"] == "TLSv1.2"
    assert f"-{key_type}-" in r.tls["cipher"], r.tls
    assert echo_of(r)["service"] in ("web", "foo-bar-com")
    r = gw.https_get("/", host=host, context=verifying(pki.root, minimum=ssl.TLSVersion.TLSv1_3))
    assert r.tls["cert"] == cert.der and r.tls["version"] == "TLSv1.3"
    assert r.status == 200, r


def test_certificate_chain_is_sent(gw, pki):
    # The client trusts only the root: verification needs the intermediate from tls.crt.
    r = gw.https_get("/", host="chain.example.com", context=verifying(pki.root))
    assert r.tls["cert"] == pki.chain.der
    assert r.status == 200, r


def test_secret_with_base64_data(gw, pki):
    r = gw.https_get("/", host="data.example.com", context=verifying(pki.root))
    assert r.tls["cert"] == pki.data.der and r.status == 200


def test_apiroute_secret_serves_all_its_hostnames(gw, pki):
    for host in ("api.example.com", "api2.example.com"):
        r = gw.https_get("/v1", host=host, context=verifying(pki.root))
        assert r.tls["cert"] == pki.api.der, host
        assert echo_of(r)["service"] == "api"
    # No redirectHTTP: plain HTTP is still served.
    assert echo_of(gw.get("/v1", host="api.example.com"))["service"] == "api"


def test_tls_1_2_and_1_3(gw):
    for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
        ctx = tls_client_context(minimum=version, maximum=version)
        r = gw.https_get("/", host="foo.bar.com", context=ctx)
        assert r.tls["version"] == version.name.replace("_", "."), r.tls
        assert r.status == 200, r


def _legacy_context(maximum: ssl.TLSVersion) -> ssl.SSLContext:
    """A client that offers nothing newer than `maximum` (TLS 1.0/1.1), which OpenSSL 3 allows
    only at security level 0."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx = tls_client_context(minimum=ssl.TLSVersion.TLSv1, maximum=maximum)
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    return ctx


class _LegacyServer:
    """The positive control: a local server that does accept TLS 1.0-1.3, proving the client
    below can really speak the old versions, so their refusal by the gateway means something."""

    def __init__(self, cert: Cert):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.ctx.minimum_version = ssl.TLSVersion.TLSv1
        self.ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
        self.ctx.load_cert_chain(cert.cert, cert.key)
        self.sock = socket.create_server((LOOPBACK, 0))
        self.sock.settimeout(10)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            try:
                conn.settimeout(5)
                with self.ctx.wrap_socket(conn, server_side=True) as s:
                    s.recv(1)
            except OSError:
                pass
            finally:
                conn.close()

    def close(self):
        self.sock.close()


def _python_legacy_handshake(port: int, maximum: ssl.TLSVersion) -> str:
    with closing(https_connection(port, "legacy.example.com", _legacy_context(maximum),
                                 timeout=5)) as conn:
        return conn.tls_info()["version"]


def _s_client_legacy(port: int, flag: str) -> subprocess.CompletedProcess:
    return run_cmd("openssl", "s_client", "-connect", f"{LOOPBACK}:{port}", flag,
                        "-cipher", "DEFAULT@SECLEVEL=0", "-servername", "legacy.example.com",
                        timeout=15)


@pytest.mark.parametrize("version,flag", [(ssl.TLSVersion.TLSv1, "-tls1"),
                                          (ssl.TLSVersion.TLSv1_1, "-tls1_1")])
def test_tls_1_0_and_1_1_refused(gw, certs, version, flag):
    control = _LegacyServer(certs.leaf(None, "legacy.example.com"))
    try:
        try:
            python_can = _python_legacy_handshake(control.port, version) == \
                version.name.replace("_", ".")
        except (ssl.SSLError, OSError, ValueError):
            python_can = False
        if not python_can:
            r = _s_client_legacy(control.port, flag)
            if r.returncode != 0:
                pytest.skip(f"this machine's OpenSSL cannot speak {version.name} at all "
                            f"(python ssl and openssl s_client {flag} both fail locally)")
    finally:
        control.close()
    if python_can:
        with pytest.raises(ssl.SSLError):
            _python_legacy_handshake(gw.https_port, version)
    else:
        r = _s_client_legacy(gw.https_port, flag)
        out = r.stdout.decode(errors="replace")
        assert r.returncode != 0 or "Cipher is (NONE)" in out, out
    # The listener is unharmed.
    assert gw.https_get("/", host="foo.bar.com").status == 200


def test_alpn(gw):
    def negotiated(offer):
        ctx = tls_client_context(alpn=offer)
        with closing(gw.https_connection("foo.bar.com", ctx)) as conn:
            alpn = conn.tls_info()["alpn"]
            r = https_request(gw.https_port, host="foo.bar.com", conn=conn)
            assert r.status == 200, (offer, r)
            return alpn

    assert negotiated(["h2", "http/1.1"]) == "http/1.1"
    assert negotiated(["http/1.1"]) == "http/1.1"
    assert negotiated(["h2"]) is None  # h2 only: no ALPN, but the handshake completes
    assert negotiated(None) is None


def test_requests_over_tls_are_routed_and_forwarded_like_plain_ones(gw, pki):
    # Routing is by Host, whatever the SNI (a certificate for another name is fine here).
    r = gw.https_get("/x", host="plain.example.com")
    seen = echo_of(r)
    assert seen["service"] == "web"
    assert is_default_cert(r.tls["cert"])
    r = gw.https_get("/x", host="PLAIN.example.com:443", sni="foo.bar.com")
    assert echo_of(r)["service"] == "web"
    # What the upstream is told.
    r = gw.https_get("/fwd", host="foo.bar.com", headers={"X-Forwarded-Proto": "http"})
    h = echo_of(r)["headers"]
    assert h["x-forwarded-proto"] == "https"
    assert h["x-forwarded-port"] == str(gw.https_port)
    assert h["x-forwarded-host"] == "foo.bar.com"
    assert r.header("Server") == "atrium"


def test_keep_alive_and_large_bodies_over_tls(gw):
    with closing(gw.https_connection("foo.bar.com")) as conn:
        local = conn.sock.getsockname()
        for i in range(20):
            r = https_request(gw.https_port, path=f"/ka/{i}", host="foo.bar.com", conn=conn)
            assert echo_of(r)["path"] == f"/ka/{i}"
        body = b"u" * (2 * 1024 * 1024)
        r = https_request(gw.https_port, "POST", "/up", host="foo.bar.com", conn=conn, body=body)
        assert echo_of(r)["bodyLength"] == len(body)
        r = https_request(gw.https_port, "POST", "/up-chunked", host="foo.bar.com", conn=conn,
                          body=[b"c" * 50000] * 20, encode_chunked=True)
        assert echo_of(r)["bodyLength"] == 1000000
        r = https_request(gw.https_port, path="/down", host="foo.bar.com", conn=conn,
                          headers={"X-Echo-Body-Size": str(3 * 1024 * 1024),
                                   "X-Echo-Chunked": "1"})
        assert r.status == 200 and r.body == b"x" * (3 * 1024 * 1024)
        assert conn.sock is not None and conn.sock.getsockname() == local


# --------------------------------------------------------------------------------------------
# redirects and HSTS


def test_ssl_redirect_for_ingress_tls_hosts(gw):
    cases = [
        ("redirect.example.com", "/some/path?q=1&r=2",
         "https://redirect.example.com/some/path?q=1&r=2"),
        ("redirect.example.com:8080", "/p", "https://redirect.example.com/p"),  # no port
        ("a.redirect.example.com", "/", "https://a.redirect.example.com/"),      # wildcard host
        ("foo.bar.com", "/x", "https://foo.bar.com/x"),
    ]
    for host, path, location in cases:
        for method in ("GET", "POST"):
            r = gw.request(path, method=method, host=host, body=b"data" if method == "POST"
                           else None)
            assert r.status == 308, (host, method, r)
            assert r.header("Location") == location, (host, r)
    # The same requests over HTTPS are proxied.
    assert echo_of(gw.https_get("/some/path?q=1", host="redirect.example.com"))["service"] == "web"
    # Hosts without TLS are not redirected, not even those of an Ingress that has TLS for others.
    assert echo_of(gw.get("/", host="plain.example.com"))["service"] == "web"
    assert echo_of(gw.get("/", host="y.foo.com"))["service"] == "wildcard-foo-com"


@pytest.mark.parametrize("host", ["noredir.example.com", "noredir-nginx.example.com"])
def test_ssl_redirect_disabled_by_annotation(gw, host):
    assert echo_of(gw.get("/", host=host))["service"] == "web"
    assert echo_of(gw.https_get("/", host=host))["service"] == "web"


def test_apiroute_redirect_http_and_hsts(gw):
    r = gw.get("/p?x=1", host="hsts.example.com")
    assert r.status == 308, r
    assert r.header("Location") == "https://hsts.example.com/p?x=1"
    assert r.header("Strict-Transport-Security") is None  # never on plain HTTP
    r = gw.https_get("/p?x=1", host="hsts.example.com")
    assert echo_of(r)["service"] == "web"
    assert r.header("Strict-Transport-Security") == "max-age=600; includeSubDomains; preload"

    r = gw.get("/", host="hsts-min.example.com")  # hsts without redirectHTTP
    assert echo_of(r)["service"] == "web"
    assert r.header("Strict-Transport-Security") is None
    r = gw.https_get("/", host="hsts-min.example.com")
    assert r.header("Strict-Transport-Security") == "max-age=60"
    # Routes without hsts send none.
    assert gw.https_get("/", host="foo.bar.com").header("Strict-Transport-Security") is None


# --------------------------------------------------------------------------------------------
# client certificates


def with_client_cert(cert: Cert | None, **kwargs) -> ssl.SSLContext:
    if cert is None:
        return tls_client_context(**kwargs)
    return tls_client_context(cert=cert.cert, key=cert.key, **kwargs)


def test_client_certificate_required(gw, pki):
    r = gw.https_get("/who", host="mtls.example.com", context=with_client_cert(pki.client),
                     headers={"X-Client-Cert-Subject": SPOOFED})
    seen = echo_of(r)
    assert seen["service"] == "mtls"
    assert seen["headers"]["x-client-cert-subject"] == "CN=client-1,O=Example Clients"
    for maximum in (None, ssl.TLSVersion.TLSv1_2):  # the alert comes later in TLS 1.3
        for cert in (None, pki.rogue):
            ctx = with_client_cert(cert, maximum=maximum)
            expect_tls_refusal(lambda: gw.https_get("/who", host="mtls.example.com",
                                                    context=ctx, timeout=5))
    # Refusals do not hurt the listener.
    assert gw.https_get("/", host="foo.bar.com").status == 200


def test_client_certificate_optional(gw, pki):
    r = gw.https_get("/who", host="mtls-opt.example.com",
                     headers={"X-Client-Cert-Subject": SPOOFED})
    seen = echo_of(r)
    assert seen["service"] == "mtls"
    assert "x-client-cert-subject" not in seen["headers"], seen
    r = gw.https_get("/who", host="mtls-opt.example.com",
                     context=with_client_cert(pki.client))
    assert echo_of(r)["headers"]["x-client-cert-subject"] == "CN=client-1,O=Example Clients"
    # optional means "may be absent", not "may be invalid".
    ctx = with_client_cert(pki.rogue)
    expect_tls_refusal(lambda: gw.https_get("/who", host="mtls-opt.example.com", context=ctx,
                                            timeout=5))


def test_client_cert_subject_from_clients_is_always_removed(gw):
    spoof = {"X-Client-Cert-Subject": SPOOFED}
    for r in (gw.get("/", host="plain.example.com", headers=spoof),
              gw.https_get("/", host="foo.bar.com", headers=spoof),
              gw.https_get("/", host="api.example.com", headers=spoof)):
        assert "x-client-cert-subject" not in echo_of(r)["headers"]


def test_client_certificate_host_not_reachable_around_the_handshake(gw, pki):
    # Beyond the letter of the contract, but what client validation is for: a client without
    # a certificate must not reach the route through another name's handshake (SNI of a host
    # without client validation, or none) or over plain HTTP. Any refusal will do (421, 403,
    # a redirect, a TLS alert); being answered by the protected upstream will not.
    def reached(attempt) -> bool:
        try:
            r = attempt()
        except (ssl.SSLError, ConnectionError, http.client.HTTPException):
            return False  # refused at the handshake or on the first read
        return r.status == 200 and r.body.startswith(b"{") and r.json().get("service") == "mtls"

    assert not reached(lambda: gw.https_get("/", host="mtls.example.com", sni="foo.bar.com"))
    assert not reached(lambda: gw.https_get("/", host="mtls.example.com", sni=None))
    assert not reached(lambda: gw.get("/", host="mtls.example.com"))


# --------------------------------------------------------------------------------------------
# upstream TLS


@pytest.mark.parametrize("host", ["up.example.com", "up-nginx.example.com"])
def test_ingress_backend_protocol_https(gw, host):
    seen = echo_of(gw.get("/b", host=host))
    assert seen["service"] == "tls-up" and seen["tls"] is True
    assert seen["headers"]["x-forwarded-proto"] == "http"
    seen = echo_of(gw.https_get("/b", host=host))
    assert seen["tls"] is True and seen["headers"]["x-forwarded-proto"] == "https"


def test_upstream_tls_bodies_and_upstream_close(gw):
    conn = gw.connection()
    try:
        for i in range(10):
            headers = {"X-Echo-Close": "1"} if i % 2 == 0 else {}
            r = gw.get(f"/c/{i}", host="up.example.com", headers=headers, conn=conn)
            assert echo_of(r)["path"] == f"/c/{i}"
        r = gw.request("/big", method="POST", host="up.example.com", body=b"b" * 1_000_000,
                       conn=conn)
        assert echo_of(r)["bodyLength"] == 1_000_000
        r = gw.get("/big", host="up.example.com", conn=conn,
                   headers={"X-Echo-Body-Size": "1500000"})
        assert r.status == 200 and len(r.body) == 1_500_000
    finally:
        conn.close()


def test_upstream_tls_connections_are_pooled(gw):
    before = gw.counting.connections
    conn = gw.connection()
    try:
        for i in range(8):
            r = gw.get(f"/pool/{i}", host="pool.example.com", conn=conn)
            assert echo_of(r)["service"] == "counting"
    finally:
        conn.close()
    made = gw.counting.connections - before
    assert 1 <= made <= 2, f"{made} upstream TLS connections for 8 sequential requests"


def test_apiroute_https_backend_verified_with_ca_and_server_name(gw):
    seen = echo_of(gw.get("/v", host="upv.example.com"))
    assert seen["service"] == "tls-up" and seen["tls"] is True


def test_apiroute_https_backend_insecure_skip_verify(gw):
    seen = echo_of(gw.get("/i", host="upi.example.com"))
    assert seen["service"] == "tls-up" and seen["tls"] is True


@pytest.mark.parametrize("host,why", [
    ("upw.example.com", "signed by another CA than caSecretRef's"),
    ("upn.example.com", "certificate not valid for serverName"),
    ("ups.example.com", "not signed by a system CA"),
    ("upe.example.com", "expired"),
    ("up-not-tls.example.com", "backend-protocol HTTPS to a plain HTTP backend"),
])
def test_upstream_tls_failures_are_502(gw, host, why):
    r = gw.get("/", host=host)
    assert r.status == 502, (why, r)
    assert r.json()["error"]["code"] == "bad_gateway", (why, r)


# --------------------------------------------------------------------------------------------
# admin and check on a good configuration


def test_no_invalid_secrets_reported(gw):
    assert invalid_secrets(gw) == 0


def test_check_accepts_a_valid_tls_configuration(tmp_path, pki):
    (tmp_path / "tls.yaml").write_text(to_yaml([
        tls_secret("conformance-tls", pki.foo),
        ca_secret("client-ca", pki.client_ca),
        *service_docs("web", [8080]),
        tls_ingress("host-rules", [("foo.bar.com", "web")], [(["foo.bar.com"], "conformance-tls")]),
        route("mtls", ["mtls.example.com"], {
            "secretName": "conformance-tls", "redirectHTTP": True, "hsts": {"maxAge": 60},
            "clientValidation": {"caSecretRef": {"name": "client-ca", "key": "ca.crt"}}},
            svc("web")),
    ]))
    r = run_cmd(ATRIUM_BIN, "check", str(tmp_path))
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert r.stdout.strip() == b"", r.stdout


# --------------------------------------------------------------------------------------------
# the default certificate flag, rotation, broken Secrets: a gateway each


def test_default_tls_secret_flag(echo, gateway, certs):
    ca = certs.ca("Default CA")
    fallback = certs.leaf(ca, "fallback.example.com")
    own = certs.leaf(ca, "own.example.com")
    web = echo("web")
    gw = gateway({
        "secrets.yaml": [tls_secret("fallback-tls", fallback, namespace="edge"),
                         tls_secret("own-tls", own)],
        "svc.yaml": service_docs("web", [web]),
        "ing.yaml": tls_ingress("own", [("own.example.com", "web")],
                                [(["own.example.com"], "own-tls")]),
    }, extra_args=["--default-tls-secret", "edge/fallback-tls"])
    assert served_cert(gw, "unknown.example.com") == fallback.der
    assert served_cert(gw, None) == fallback.der
    r = gw.https_get("/", host="own.example.com", context=verifying(ca))
    assert r.tls["cert"] == own.der and echo_of(r)["service"] == "web"


def test_rotation_keeps_open_connections(echo, gateway, certs):
    ca = certs.ca("Rotation CA")
    first, second, third = (certs.leaf(ca, "rot.example.com") for _ in range(3))
    web = echo("web")
    gw = gateway({
        "secret.yaml": tls_secret("rot-tls", first),
        "svc.yaml": service_docs("web", [web]),
        "ing.yaml": tls_ingress("rot", [("rot.example.com", "web")],
                                [(["rot.example.com"], "rot-tls")]),
    })
    ctx = verifying(ca)
    old = gw.https_connection("rot.example.com", ctx)
    try:
        r = https_request(gw.https_port, path="/1", host="rot.example.com", conn=old)
        assert echo_of(r)["path"] == "/1" and r.tls["cert"] == first.der

        gw.write("secret.yaml", tls_secret("rot-tls", second))
        wait_until(lambda: served_cert(gw, "rot.example.com", ctx) == second.der, 3,
                   message="new connections get the rotated certificate")
        # The connection opened before the rotation still works, on its first certificate.
        r = https_request(gw.https_port, path="/2", host="rot.example.com", conn=old)
        assert echo_of(r)["path"] == "/2"
        assert old.tls_info()["cert"] == first.der

        gw.write("secret.yaml", tls_secret("rot-tls", third), atomic=False)  # an editor's save
        wait_until(lambda: served_cert(gw, "rot.example.com", ctx) == third.der, 3,
                   message="a second rotation, written in place")
        r = https_request(gw.https_port, path="/3", host="rot.example.com", conn=old)
        assert echo_of(r)["path"] == "/3"
    finally:
        old.close()


def test_broken_secrets_are_reported_and_isolated(echo, gateway, certs, tmp_path):
    ca = certs.ca("Broken CA")
    good = certs.leaf(ca, "good.example.com")
    mismatch = certs.mismatched(certs.leaf(ca, "mismatch.example.com"))
    nokey = certs.leaf(ca, "nokey.example.com")
    web = echo("web")
    broken = ["notpem", "mismatch", "nokey", "missing"]
    manifests = {
        "secrets.yaml": [
            tls_secret("good-tls", good),
            tls_secret("notpem-tls", crt="this is not a certificate\n", key="nor a key\n"),
            tls_secret("mismatch-tls", mismatch),
            tls_secret("nokey-tls", nokey, omit=["tls.key"]),
            # no "missing-tls" at all
        ],
        "svc.yaml": service_docs("web", [web]),
        "ing.yaml": [tls_ingress(name, [(f"{name}.example.com", "web")],
                                 [([f"{name}.example.com"], f"{name}-tls")])
                     for name in ["good", *broken]],
    }
    gw = gateway(manifests)
    r = gw.https_get("/", host="good.example.com", context=verifying(ca))
    assert r.tls["cert"] == good.der and echo_of(r)["service"] == "web"
    for name in broken:
        # No certificate before: the default one, and the host is still served.
        r = gw.https_get("/", host=f"{name}.example.com")
        assert is_default_cert(r.tls["cert"]), name
        assert echo_of(r)["service"] == "web", name
    wait_until(lambda: all(f"default/{n}-tls" in gw.stderr() for n in broken), 3,
               message="every broken Secret named in the log")
    wait_until(lambda: invalid_secrets(gw) == len(broken), 3,
               message=f"atrium_tls_invalid_secrets == {len(broken)}")

    # `atrium check` names them too (as warnings: the exit code is not asserted).
    for name, docs in manifests.items():
        (tmp_path / name).write_text(to_yaml(docs))
    r = run_cmd(ATRIUM_BIN, "check", str(tmp_path))
    output = (r.stdout + r.stderr).decode(errors="replace")
    for name in broken:
        assert f"default/{name}-tls" in output, (name, output)
    assert "Traceback" not in output and "terminate called" not in output


def test_broken_secret_update_keeps_the_previous_certificate(echo, gateway, certs):
    ca = certs.ca("Update CA")
    first, fixed = certs.leaf(ca, "prev.example.com"), certs.leaf(ca, "prev.example.com")
    other = certs.leaf(ca, "other.example.com")
    web = echo("web")
    gw = gateway({
        "prev-secret.yaml": tls_secret("prev-tls", first),
        "other-secret.yaml": tls_secret("other-tls", other),
        "svc.yaml": service_docs("web", [web]),
        "ing.yaml": [
            tls_ingress("prev", [("prev.example.com", "web")],
                        [(["prev.example.com"], "prev-tls")]),
            tls_ingress("other", [("other.example.com", "web")],
                        [(["other.example.com"], "other-tls")]),
        ],
    })
    ctx = verifying(ca)
    assert served_cert(gw, "prev.example.com", ctx) == first.der
    assert invalid_secrets(gw) == 0
    assert "default/prev-tls" not in gw.stderr()

    # A key that belongs to another certificate: reported, and the host keeps the old one.
    gw.write("prev-secret.yaml", tls_secret("prev-tls", certs.mismatched(fixed)))
    wait_until(lambda: invalid_secrets(gw) == 1, 3, message="the broken Secret counted")
    wait_until(lambda: "default/prev-tls" in gw.stderr(), 3, message="the broken Secret logged")
    r = gw.https_get("/", host="prev.example.com", context=ctx)
    assert r.tls["cert"] == first.der and echo_of(r)["service"] == "web"
    r = gw.https_get("/", host="other.example.com", context=ctx)
    assert r.tls["cert"] == other.der and echo_of(r)["service"] == "web"

    # Fixed: the new certificate, and nothing counted any more.
    gw.write("prev-secret.yaml", tls_secret("prev-tls", fixed))
    wait_until(lambda: served_cert(gw, "prev.example.com", ctx) == fixed.der, 3,
               message="the repaired Secret served")
    wait_until(lambda: invalid_secrets(gw) == 0, 3, message="no broken Secret counted")
