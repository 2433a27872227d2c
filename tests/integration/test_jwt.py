"""JWT authentication in the manifests mode (SPEC §3.2 `policy.auth.jwt`, §3.3 `credentials.jwt`,
§4, §5.2): RS256/384/512, PS256, ES256/384 and HS256/384/512 tokens against keys from a JWKS
Secret, an HMAC Secret and a JWKS URI; `kid` selection; the `algorithms` list, `alg: none` and
RSA/HMAC confusion; `exp`/`nbf` with `clockSkew`, `iss`, `aud`; the consumer found through
`consumerClaim`, allowConsumers/allowGroups, `anyOf` with API keys; `claimsToHeaders` without
spoofing; `stripCredentials`; metrics, the access log and tokens kept out of every output;
malformed and hostile tokens; live Secret and consumer changes; a JWKS served by a local HTTP
server, rotated while Atrium runs, and failing.

Every key is generated per run (RSA 2048, EC P-256/P-384, random HMAC secrets) and every token
is signed here with `cryptography`; nothing is checked in. The JWKS endpoint is an http.server
on 127.0.0.1 in a thread.

Run by hand:
    ATRIUM_BIN=build/atrium ECHO_BACKEND_BIN=build/echo-backend \\
        /usr/bin/python3 -m pytest -q tests/integration/test_jwt.py
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from conftest import LOOPBACK, Atrium, EchoBackend, RawClient, http_request, parse_response, \
    service_docs, stop_and_check, to_yaml, wait_until
from test_auth import ECHO_NAME, _count, any_of, api_key, as_consumer, assert_error, \
    assert_forbidden, assert_unauthorized, challenges, consumer, get, identity, route, rule, \
    run_check, secret, upstream
from test_auth import token as nonce

HOST = "jwt.example.com"
OTHER_HOST = "jwt.other.example.com"
OTHER_NS = "other"
ISSUER = "https://issuer.example.com/"
AUDIENCE = "orders-api"
AUDIENCE2 = "billing-api"

MISSING = 'Bearer realm="atrium"'
INVALID = 'Bearer realm="atrium", error="invalid_token"'
APIKEY_CHALLENGE = 'APIKey header="X-API-Key"'

ALICE_SUB = nonce("alice-sub", 6)
BOB_SUB = nonce("bob-sub", 6)
ROBOT_ID = nonce("robot-client", 6)
ALICE_KEY = nonce("alice-key")
BOB_KEY = nonce("bob-key")
WRONG_KEY = nonce("wrong-key")


# --------------------------------------------------------------------------------------------
# keys and tokens, made here


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_json(value) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def be_bytes(n: int, size: int | None = None) -> bytes:
    """`n` big-endian, in `size` bytes or as few as it needs (JWK `n`, `e`, `x`, `y`)."""
    return n.to_bytes(size or max(1, (n.bit_length() + 7) // 8), "big")


def sha(alg: str):
    """The hash of a JWS algorithm name: RS256 -> SHA256."""
    return {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}[alg[2:]]()


class RsaKey:
    """An RSA 2048 key: RS256/384/512 (PKCS#1 v1.5) and PS256/384/512 (PSS, salt = hash size)."""

    def __init__(self, kid: str | None, **jwk_extra):
        self.kid = kid
        self.alg = "RS256"
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.jwk_extra = jwk_extra

    def sign(self, alg: str, data: bytes) -> bytes:
        h = sha(alg)
        pad = padding.PSS(mgf=padding.MGF1(h), salt_length=h.digest_size) \
            if alg.startswith("PS") else padding.PKCS1v15()
        return self.private.sign(data, pad, h)

    def jwk(self) -> dict:
        pub = self.private.public_key().public_numbers()
        return {"kty": "RSA", "kid": self.kid, "n": b64url(be_bytes(pub.n)),
                "e": b64url(be_bytes(pub.e)), **self.jwk_extra}

    def public_forms(self) -> dict[str, bytes]:
        """The public key as bytes an attacker might hope is used as an HMAC secret."""
        pub = self.private.public_key()
        enc, fmt = serialization.Encoding, serialization.PublicFormat
        pem = pub.public_bytes(enc.PEM, fmt.SubjectPublicKeyInfo)
        return {"pem": pem, "pem-no-newline": pem.rstrip(b"\n"),
                "pkcs1-pem": pub.public_bytes(enc.PEM, fmt.PKCS1),
                "der": pub.public_bytes(enc.DER, fmt.SubjectPublicKeyInfo),
                "jwk-json": json.dumps(self.jwk()).encode(),
                "modulus": be_bytes(pub.public_numbers().n)}


class EcKey:
    """An EC key (P-256, P-384, P-521); JWS signatures are raw r||s, `der=True` gives DER."""

    CURVES = {"P-256": (ec.SECP256R1, "ES256"), "P-384": (ec.SECP384R1, "ES384"),
              "P-521": (ec.SECP521R1, "ES512")}

    def __init__(self, kid: str | None, crv: str):
        curve, self.alg = self.CURVES[crv]
        self.kid, self.crv = kid, crv
        self.private = ec.generate_private_key(curve())
        self.size = (self.private.curve.key_size + 7) // 8

    def sign(self, alg: str, data: bytes, der: bool = False) -> bytes:
        signature = self.private.sign(data, ec.ECDSA(sha(alg)))
        if der:
            return signature
        r, s = decode_dss_signature(signature)
        return be_bytes(r, self.size) + be_bytes(s, self.size)

    def jwk(self) -> dict:
        pub = self.private.public_key().public_numbers()
        return {"kty": "EC", "crv": self.crv, "kid": self.kid,
                "x": b64url(be_bytes(pub.x, self.size)), "y": b64url(be_bytes(pub.y, self.size))}


class HmacKey:
    """An HMAC secret: HS256/384/512; as a JWK, `kty: oct`."""

    def __init__(self, kid: str | None, secret_bytes: bytes):
        self.kid, self.secret, self.alg = kid, secret_bytes, "HS256"

    def sign(self, alg: str, data: bytes) -> bytes:
        return hmac.new(self.secret, data, getattr(hashlib, "sha" + alg[2:])).digest()

    def jwk(self) -> dict:
        return {"kty": "oct", "kid": self.kid, "k": b64url(self.secret)}


def jwks(*keys) -> dict:
    return {"keys": [k if isinstance(k, dict) else k.jwk() for k in keys]}


def claims(sub=ALICE_SUB, iss=ISSUER, aud=AUDIENCE, exp=300, nbf=None, iat=0, **extra) -> dict:
    """A payload; exp/nbf/iat are seconds from now; None leaves a claim out."""
    now = int(time.time())
    payload = {name: value for name, value in (("iss", iss), ("sub", sub), ("aud", aud))
               if value is not None}
    payload.update({name: now + offset for name, offset in (("exp", exp), ("nbf", nbf),
                                                             ("iat", iat)) if offset is not None})
    payload.update(extra)
    return payload


_KEY_KID = object()


def make_token(key, alg: str | None = None, *, kid=_KEY_KID, header: dict | None = None,
               payload: dict | bytes | None = None, der: bool = False, **claim_args) -> str:
    """A signed JWS compact token. `kid` defaults to the key's (None: no kid); `header` adds or
    replaces header members; `payload` (a dict, or raw bytes) replaces claims(**claim_args)."""
    alg = alg or key.alg
    head = {"alg": alg, "typ": "JWT"}
    kid = key.kid if kid is _KEY_KID else kid
    if kid is not None:
        head["kid"] = kid
    head.update(header or {})
    body = claims(**claim_args) if payload is None else payload
    signing_input = b64url_json(head) + "." + (b64url(body) if isinstance(body, bytes)
                                                else b64url_json(body))
    data = signing_input.encode()
    signature = key.sign(alg, data, der=True) if der else key.sign(alg, data)
    return signing_input + "." + b64url(signature)


def unsigned_token(header, payload=None, signature: str = "") -> str:
    """header/payload: dicts (as JSON) or raw bytes; the signature segment as given."""
    def seg(v):
        return b64url(v) if isinstance(v, bytes) else b64url_json(v)
    return f"{seg(header)}.{seg(claims() if payload is None else payload)}.{signature}"


# The keys of this run. `jwks` (default) holds RSA_1, RSA_2, EC_256, EC_384 and OCT; the
# namespace "other" has its own `jwks` whose RSA key reuses the kid "rsa-1".
RSA_1 = RsaKey("rsa-1")
RSA_2 = RsaKey("rsa-2", use="sig", alg="RS256")
EC_256 = EcKey("ec256-1", "P-256")
EC_384 = EcKey("ec384-1", "P-384")
OCT = HmacKey("oct-1", secrets.token_bytes(32))
ROGUE_RSA = RsaKey("rsa-1")
ROGUE_EC = EcKey("ec256-1", "P-256")
OTHER_RSA = RsaKey("rsa-1")
# The hmacSecretRef secret: raw bytes, with a NUL and bytes that are no UTF-8.
HMAC = HmacKey(None, secrets.token_bytes(12) + b"\x00\xff\xfe" + secrets.token_bytes(17))
WRONG_HMAC = HmacKey(None, secrets.token_bytes(32))


# --------------------------------------------------------------------------------------------
# manifests


def bytes_secret(name: str, key: str, raw: bytes, namespace: str = "default") -> dict:
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": name, "namespace": namespace},
            "data": {key: base64.b64encode(raw).decode()}}


def jwks_secret(name: str, *keys, namespace: str = "default") -> dict:
    return secret(name, {"keys.json": json.dumps(jwks(*keys))}, namespace=namespace)


def jwt_consumer(name: str, subject: str, groups: list | None = None, api_keys=(),
                 namespace: str = "default") -> dict:
    doc = consumer(name, groups, api_keys, namespace=namespace)
    doc["spec"]["credentials"]["jwt"] = {"subject": subject}
    return doc


def jwt_auth(jwks: str | None = "jwks", hmac_secret: str | None = None, uri: str | None = None,
             issuer: str | None = None, audiences: list | None = None,
             algorithms: list | None = None, clock_skew: str | None = None,
             claims_to_headers: list | None = None, consumer_claim: str | None = None,
             **extra) -> dict:
    """`type: JWT` with its `jwt` object; `extra` goes beside them (allowGroups, ...)."""
    settings = {
        "issuer": issuer, "audiences": audiences, "jwksURI": uri, "algorithms": algorithms,
        "clockSkew": clock_skew, "consumerClaim": consumer_claim,
        "jwksSecretRef": jwks and {"name": jwks, "key": "keys.json"},
        "hmacSecretRef": hmac_secret and {"name": hmac_secret, "key": "secret"},
        "claimsToHeaders": claims_to_headers and [{"claim": c, "header": h}
                                                  for c, h in claims_to_headers],
    }
    return {"type": "JWT", "jwt": {k: v for k, v in settings.items() if v}, **extra}


CLAIM_HEADERS = [("email", "X-User-Email"), ("level", "X-User-Level"),
                 ("admin", "X-User-Admin"), ("ratio", "X-User-Ratio"), ("tenant", "X-Tenant")]
CHECKED = {"issuer": ISSUER, "audiences": [AUDIENCE, AUDIENCE2]}


def unsupported_jwks_entries() -> list[dict]:
    """Keys Atrium does not verify with (Ed25519, P-521): a JWKS holding them still serves."""
    ed = ed25519.Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return [{"kty": "OKP", "crv": "Ed25519", "kid": "ed-1", "x": b64url(ed)},
            EcKey("p521-1", "P-521").jwk()]


P521 = EcKey("p521-2", "P-521")


def consumer_docs() -> list[dict]:
    return [
        jwks_secret("jwks", RSA_1, RSA_2, EC_256, EC_384, OCT),
        jwks_secret("jwks-extra", *unsupported_jwks_entries(), P521, RSA_1),
        bytes_secret("hmac", "secret", HMAC.secret),
        secret("alice-key", {"key": ALICE_KEY}),
        secret("bob-key", {"key": BOB_KEY}),
        jwt_consumer("alice", ALICE_SUB, ["beta", "gold"], [("alice-key", "key")]),
        jwt_consumer("bob", BOB_SUB, [], [("bob-key", "key")]),
        jwt_consumer("robot", ROBOT_ID, ["machines"]),
        # Namespace "other": its own JWKS, and a consumer with alice's subject.
        jwks_secret("jwks", OTHER_RSA, namespace=OTHER_NS),
        jwt_consumer("mallory", ALICE_SUB, ["gold"], namespace=OTHER_NS),
    ]


def route_docs() -> list[dict]:
    return [
        route("jwt", [
            rule("main", "/main", jwt_auth(**CHECKED, claims_to_headers=CLAIM_HEADERS)),
            rule("rs256", "/rs256", jwt_auth(algorithms=["RS256"])),
            rule("hmac", "/hmac", jwt_auth(jwks=None, hmac_secret="hmac", issuer=ISSUER)),
            rule("hs256", "/hs256", jwt_auth(jwks=None, hmac_secret="hmac",
                                             algorithms=["HS256"])),
            rule("mixed", "/mixed", jwt_auth(algorithms=["RS256", "HS256", "HS512"])),
            rule("extra", "/extra", jwt_auth(jwks="jwks-extra")),
            rule("claim", "/claim", jwt_auth(consumer_claim="client_id")),
            rule("skew", "/skew", jwt_auth(clock_skew="2m")),
            rule("strict", "/strict", jwt_auth(clock_skew="0s")),
            rule("gold", "/acl/gold", jwt_auth(allowGroups=["gold"])),
            rule("bob", "/acl/bob", jwt_auth(allowConsumers=["bob"])),
            rule("any", "/any", any_of(api_key(), jwt_auth(**CHECKED))),
            rule("strip", "/strip", jwt_auth(**CHECKED, stripCredentials=True)),
            rule("open", "/open"),
        ], host=HOST),
        route("jwt", [rule("all", "/")], auth=jwt_auth(), host=OTHER_HOST, namespace=OTHER_NS),
    ]


# --------------------------------------------------------------------------------------------
# the shared gateway, the JWKS server and request helpers


@pytest.fixture(scope="module")
def gw(request, tmp_path_factory):
    """One gateway for the module: every route and consumer above, one echo upstream."""
    backend = EchoBackend(ECHO_NAME)
    try:
        services = service_docs("api", [backend]) + \
            service_docs("api", [backend], namespace=OTHER_NS)
        g = Atrium(tmp_path_factory.mktemp("jwt"), {"svc.yaml": services,
                                                    "consumers.yaml": consumer_docs(),
                                                    "routes.yaml": route_docs()})
        request.node._atrium_gateways = [g]  # its log joins a failed test's report
        yield g
        stop_and_check(g)
    finally:
        backend.stop()


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # a client that went away mid-answer is no test failure


class JwksServer:
    """A JWKS endpoint on 127.0.0.1 whose answer a test changes while Atrium runs: a document,
    an error status or a broken body, or no answer at all. Records every request."""

    PATH = "/.well-known/jwks.json"
    HANG = None  # the answer that never comes

    def __init__(self, *keys):
        self._lock = threading.Lock()
        self._release = threading.Event()
        self.requests: list[tuple[str, str]] = []  # (method, path)
        self.serve(*keys)
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                with owner._lock:
                    owner.requests.append((self.command, self.path))
                    answer = owner._answer
                if answer is JwksServer.HANG:
                    owner._release.wait(30)
                    self.close_connection = True
                    return
                status, body = answer
                self.send_response(status)
                for name, value in (("Content-Type", "application/json"),
                                    ("Content-Length", str(len(body)))):
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = _QuietServer((LOOPBACK, 0), Handler)
        self.uri = f"http://{LOOPBACK}:{self.httpd.server_address[1]}{self.PATH}"
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       kwargs={"poll_interval": 0.1}, daemon=True)
        self.thread.start()

    def fetches(self) -> int:
        with self._lock:
            return len(self.requests)

    def _set(self, answer):
        with self._lock:
            self._answer = answer

    def serve(self, *keys):
        self._set((200, json.dumps(jwks(*keys)).encode()))

    def fail(self, status: int, body: bytes = b'{"error":"unavailable"}'):
        self._set((status, body))

    def hang(self):
        self._set(self.HANG)

    def stop(self):
        self._release.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


@pytest.fixture
def jwks_server():
    started: list[JwksServer] = []

    def start(*keys) -> JwksServer:
        server = JwksServer(*keys)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def call(gw, path: str, tok: str | None = None, host: str = HOST, scheme: str = "Bearer",
         **kwargs):
    """GET with `Authorization: Bearer <tok>` (none when tok is None)."""
    return get(gw, path, auth=None if tok is None else f"{scheme} {tok}", host=host, **kwargs)


def assert_missing(r):
    assert_unauthorized(r, MISSING)


def assert_invalid(r, why=""):
    assert r.status == 401 and challenges(r) == [INVALID], (why, r)
    assert_error(r, 401, "unauthorized")


def assert_bearer_401(r, why=""):
    """401 with one Bearer challenge, with or without error="invalid_token"."""
    assert r.status == 401 and challenges(r) in ([MISSING], [INVALID]), (why, r)
    assert_error(r, 401, "unauthorized")


def assert_refused(r, why=""):
    """A bad token: 401 invalid_token, or 431 when it made the header block too large."""
    if r.status == 431:
        assert_error(r, 431, "headers_too_large")
    else:
        assert_invalid(r, why)


def assert_alice(r, why=""):
    assert r.status == 200, (why, r)
    assert identity(r) == as_consumer("alice", "beta,gold"), (why, r)


# --------------------------------------------------------------------------------------------
# algorithms and keys


def test_every_default_algorithm_with_its_key(gw):
    for key, alg in ((RSA_1, "RS256"), (RSA_1, "RS384"), (RSA_1, "RS512"), (RSA_1, "PS256"),
                     (RSA_2, "RS256"), (EC_256, "ES256"), (EC_384, "ES384")):
        tok = make_token(key, alg)
        r = call(gw, "/main/orders", tok)
        assert_alice(r, alg)
        assert upstream(r)["path"] == "/main/orders"
        # Forwarded unless the route strips credentials.
        assert upstream(r)["headers"]["authorization"] == f"Bearer {tok}"
    for alg in ("HS256", "HS384", "HS512"):
        assert_alice(call(gw, "/hmac", make_token(HMAC, alg)), alg)


def test_bearer_scheme_is_case_insensitive(gw):
    """RFC 9110 §11.1: the auth-scheme is a case-insensitive token."""
    tok = make_token(RSA_1)
    for scheme in ("bearer", "BEARER", "BeArEr"):
        assert_alice(call(gw, "/main", tok, scheme=scheme), scheme)


def test_token_without_kid_is_tried_against_every_key_of_its_type(gw):
    for key in (RSA_1, RSA_2, EC_256, EC_384):
        assert_alice(call(gw, "/main", make_token(key, kid=None)), key.kid)
    assert_alice(call(gw, "/mixed", make_token(OCT, "HS512", kid=None)))
    # ...but only against the keys it names none of: a stranger's key still fails.
    assert_invalid(call(gw, "/main", make_token(ROGUE_RSA, kid=None)))
    assert_invalid(call(gw, "/main", make_token(ROGUE_EC, kid=None)))


def test_kid_selects_the_key(gw):
    assert_invalid(call(gw, "/main", make_token(RSA_1, kid="rsa-2")), "another RSA key's kid")
    assert_invalid(call(gw, "/main", make_token(RSA_1, kid="no-such-kid")), "unknown kid")
    assert_invalid(call(gw, "/main", make_token(ROGUE_RSA)), "same kid, other key")
    assert_invalid(call(gw, "/main", make_token(ROGUE_EC)), "same kid, other EC key")
    for kid in ("../../etc/passwd", "rsa-1\x00", "RSA-1", "rsa-1 ", "k" * 5000):
        assert_invalid(call(gw, "/main", make_token(RSA_1, kid=kid)), repr(kid[:20]))


def test_algorithms_list_is_enforced(gw):
    # algorithms: [RS256]
    assert_alice(call(gw, "/rs256", make_token(RSA_1, "RS256")))
    for alg in ("RS384", "RS512", "PS256"):
        assert_invalid(call(gw, "/rs256", make_token(RSA_1, alg)), alg)
    assert_invalid(call(gw, "/rs256", make_token(EC_256)), "ES256")
    # algorithms: [HS256]
    assert_alice(call(gw, "/hs256", make_token(HMAC, "HS256")))
    for alg in ("HS384", "HS512"):
        assert_invalid(call(gw, "/hs256", make_token(HMAC, alg)), alg)
    # Algorithms Atrium does not offer are refused even with the right key.
    for alg in ("PS384", "PS512"):
        assert_invalid(call(gw, "/main", make_token(RSA_1, alg)), alg)
    assert_invalid(call(gw, "/extra", make_token(P521, "ES512")), "ES512")
    # The defaults with JWKS keys are the asymmetric algorithms: an oct JWK is not used then.
    assert_invalid(call(gw, "/main", make_token(OCT, "HS256")), "HS256 with JWKS defaults")
    # The defaults with hmacSecretRef are HS*: no JWKS there, so RS256 has no key.
    assert_invalid(call(gw, "/hmac", make_token(RSA_1, "RS256")), "RS256 on an HMAC route")
    assert_invalid(call(gw, "/hmac", make_token(WRONG_HMAC, "HS256")), "wrong HMAC secret")
    # A token saying one algorithm and signed with another.
    sig_rs256 = make_token(RSA_1, "RS256").rsplit(".", 1)[1]
    fake = make_token(RSA_1, "RS384").rsplit(".", 1)[0] + "." + sig_rs256
    assert_invalid(call(gw, "/main", fake), "RS384 header, RS256 signature")


def test_key_type_must_match_the_algorithm(gw):
    # The EC curve must be the algorithm's.
    assert_invalid(call(gw, "/main", make_token(EC_384, "ES256")), "ES256 with a P-384 key")
    assert_invalid(call(gw, "/main", make_token(EC_256, "ES384")), "ES384 with a P-256 key")
    # A kid naming a key of another type.
    assert_invalid(call(gw, "/main", make_token(RSA_1, "RS256", kid="ec256-1")))
    assert_invalid(call(gw, "/main", make_token(EC_256, "ES256", kid="rsa-1")))
    assert_invalid(call(gw, "/mixed", make_token(OCT, "HS256", kid="rsa-1")))
    # /mixed allows RS256, HS256 and HS512: each with its own key type works...
    assert_alice(call(gw, "/mixed", make_token(RSA_1, "RS256")))
    assert_alice(call(gw, "/mixed", make_token(OCT, "HS256")))
    assert_alice(call(gw, "/mixed", make_token(OCT, "HS512")))
    assert_invalid(call(gw, "/mixed", make_token(EC_256)), "ES256 not in the list")


@pytest.mark.parametrize("form", sorted(RSA_1.public_forms()))
def test_rsa_public_key_used_as_hmac_secret_is_refused(gw, form):
    """The classic confusion: HS256 "signed" with the RSA public key everyone can fetch."""
    confused = HmacKey("rsa-1", RSA_1.public_forms()[form])
    for path in ("/mixed", "/main", "/rs256"):
        for kid in ("rsa-1", None):
            for alg in ("HS256", "HS512"):
                assert_invalid(call(gw, path, make_token(confused, alg, kid=kid)),
                               (path, kid, alg))


def test_alg_none_is_always_refused(gw):
    real = make_token(RSA_1).rsplit(".", 1)[1]
    for path in ("/main", "/hmac", "/mixed", "/claim"):
        for alg in ("none", "None", "NONE", "nOnE"):
            for kid in ("rsa-1", None):
                header = {"alg": alg, "typ": "JWT", **({"kid": kid} if kid else {})}
                for signature in ("", "x", real):
                    assert_invalid(call(gw, path, unsigned_token(header, signature=signature)),
                                   (path, alg, kid, signature[:5]))


def test_keys_named_in_the_token_are_never_trusted(gw, jwks_server):
    """jwk, jku, x5u, x5c in the header: the key comes from the route's configuration only."""
    attacker = jwks_server(ROGUE_RSA)
    embedded = {"jwk": {**ROGUE_RSA.jwk(), "kid": "attacker"}}
    for header in (embedded, {**embedded, "kid": "attacker"}, {"jku": attacker.uri},
                   {"jku": attacker.uri, "kid": "attacker"}, {"x5u": attacker.uri},
                   {"x5c": [b64url(b"not a certificate")]}):
        kid = header.get("kid")
        assert_invalid(call(gw, "/main", make_token(ROGUE_RSA, kid=kid, header=header)),
                       sorted(header))
    time.sleep(0.5)
    assert attacker.fetches() == 0, attacker.requests


def test_jwks_with_unsupported_key_types_still_serves_the_others(gw):
    """`jwks-extra` also holds an Ed25519 and a P-521 key, before the RSA key."""
    assert_alice(call(gw, "/extra", make_token(RSA_1)))
    assert_alice(call(gw, "/extra", make_token(RSA_1, kid=None)))
    assert_invalid(call(gw, "/extra", make_token(RSA_2)))


# --------------------------------------------------------------------------------------------
# claims


def test_exp_and_nbf_with_the_default_clock_skew(gw):
    """Default clockSkew 30s: exp must be after now - 30s, nbf before now + 30s."""
    for exp in (300, None, -10):
        assert_alice(call(gw, "/main", make_token(RSA_1, exp=exp)), f"exp {exp}")
    for exp in (-60, -300, -86400):
        assert_invalid(call(gw, "/main", make_token(RSA_1, exp=exp)), f"exp {exp}")
    for nbf in (-60, 0, 10):
        assert_alice(call(gw, "/main", make_token(RSA_1, nbf=nbf)), f"nbf {nbf}")
    for nbf in (60, 300):
        assert_invalid(call(gw, "/main", make_token(RSA_1, nbf=nbf)), f"nbf {nbf}")
    # The same with HMAC.
    assert_invalid(call(gw, "/hmac", make_token(HMAC, exp=-300)))
    assert_invalid(call(gw, "/hmac", make_token(HMAC, nbf=300)))


def test_clock_skew_setting(gw):
    # clockSkew: 2m
    for exp, nbf in ((-90, None), (None, 90), (-90, 90)):
        r = call(gw, "/skew", make_token(EC_256, exp=exp, nbf=nbf))
        assert r.status == 200, (exp, nbf, r)
    for exp, nbf in ((-200, None), (None, 200)):
        assert_invalid(call(gw, "/skew", make_token(EC_256, exp=exp, nbf=nbf)), (exp, nbf))
    # clockSkew: 0s
    for exp, nbf in ((30, None), (None, -5), (60, -60)):
        r = call(gw, "/strict", make_token(EC_256, exp=exp, nbf=nbf))
        assert r.status == 200, (exp, nbf, r)
    for exp, nbf in ((-5, None), (None, 10), (-20, -60)):
        assert_invalid(call(gw, "/strict", make_token(EC_256, exp=exp, nbf=nbf)), (exp, nbf))


def test_issuer_must_match_when_configured(gw):
    for iss in ("https://evil.example.com/", ISSUER.rstrip("/"), ISSUER.upper(), ISSUER + " ",
                "", None, 5, [ISSUER], {"iss": ISSUER}):
        assert_invalid(call(gw, "/main", make_token(RSA_1, iss=iss)), repr(iss))
        assert_invalid(call(gw, "/hmac", make_token(HMAC, iss=iss)), repr(iss))
    # Routes without an issuer take any.
    r = call(gw, "/rs256", make_token(RSA_1, iss="https://anyone.example.com/"))
    assert_alice(r)
    assert_alice(call(gw, "/rs256", make_token(RSA_1, iss=None)))


def test_audience_string_or_array_must_hold_a_configured_one(gw):
    for aud in (AUDIENCE, AUDIENCE2, [AUDIENCE], ["other-api", AUDIENCE2], [AUDIENCE, AUDIENCE2]):
        assert_alice(call(gw, "/main", make_token(RSA_1, aud=aud)), aud)
    for aud in ("other-api", ["other-api", "more-api"], [], "", None, AUDIENCE + " ",
                AUDIENCE[:-1], AUDIENCE.upper(), f"{AUDIENCE},{AUDIENCE2}", 5,
                {"aud": AUDIENCE}, [[AUDIENCE]]):
        assert_invalid(call(gw, "/main", make_token(RSA_1, aud=aud)), repr(aud))
    # Routes without audiences take any, and none.
    assert_alice(call(gw, "/rs256", make_token(RSA_1, aud="other-api")))
    assert_alice(call(gw, "/rs256", make_token(RSA_1, aud=None)))


# --------------------------------------------------------------------------------------------
# consumers, allow lists, anyOf, claimsToHeaders, stripCredentials


def test_subject_claim_names_the_consumer(gw):
    assert_alice(call(gw, "/main", make_token(RSA_1, sub=ALICE_SUB)))
    assert identity(call(gw, "/main", make_token(EC_384, sub=BOB_SUB))) == as_consumer("bob")
    # A valid token of no consumer is served, without any identity: the subject is matched
    # against credentials.jwt.subject, never against a consumer's name.
    for sub in ("alice", nonce("stranger", 4), ALICE_SUB.upper(), None):
        r = call(gw, "/main", make_token(RSA_1, sub=sub))
        assert identity(r) == {}, (sub, r)
    # Any consumer with a jwt subject, groups or not.
    assert identity(call(gw, "/main", make_token(RSA_1, sub=ROBOT_ID))) == \
        as_consumer("robot", "machines")


def test_client_supplied_consumer_headers_are_removed(gw):
    spoof = {"X-Consumer-Name": "admin", "X-Consumer-Groups": "root",
             "x-consumer-custom-id": "7"}
    assert_alice(call(gw, "/main", make_token(RSA_1), headers=spoof))
    assert identity(call(gw, "/main", make_token(RSA_1, sub=BOB_SUB), headers=spoof)) == \
        as_consumer("bob")
    assert identity(call(gw, "/main", make_token(RSA_1, sub="nobody"), headers=spoof)) == {}


def test_consumer_claim_setting(gw):
    """/claim reads `client_id`; `sub` means nothing there."""
    r = call(gw, "/claim", make_token(RSA_1, sub=ALICE_SUB, client_id=ROBOT_ID))
    assert identity(r) == as_consumer("robot", "machines")
    assert identity(call(gw, "/claim", make_token(RSA_1, sub=ALICE_SUB))) == {}
    r = call(gw, "/claim", make_token(RSA_1, sub=ROBOT_ID, client_id=ALICE_SUB))
    assert_alice(r)


def test_keys_and_consumers_of_the_route_namespace(gw):
    """Namespace "other" has its own JWKS (an RSA key with kid rsa-1 too) and its own consumer
    with alice's subject."""
    r = call(gw, "/x", make_token(OTHER_RSA), host=OTHER_HOST)
    assert identity(r) == as_consumer("mallory", "gold")
    assert_invalid(call(gw, "/x", make_token(RSA_1), host=OTHER_HOST), "default's key")
    assert_invalid(call(gw, "/main", make_token(OTHER_RSA)), "other's key in default")
    assert_alice(call(gw, "/main", make_token(RSA_1)))


def test_allowed_groups_and_consumers_401_versus_403(gw):
    assert_alice(call(gw, "/acl/gold", make_token(RSA_1)))
    assert_forbidden(call(gw, "/acl/gold", make_token(RSA_1, sub=BOB_SUB)))
    assert_forbidden(call(gw, "/acl/gold", make_token(RSA_1, sub="nobody")))
    assert_missing(call(gw, "/acl/gold"))
    assert_invalid(call(gw, "/acl/gold", make_token(ROGUE_RSA)))
    assert_invalid(call(gw, "/acl/gold", make_token(RSA_1, exp=-300)))

    assert identity(call(gw, "/acl/bob", make_token(EC_256, sub=BOB_SUB))) == as_consumer("bob")
    assert_forbidden(call(gw, "/acl/bob", make_token(EC_256)))
    assert_forbidden(call(gw, "/acl/bob", make_token(EC_256, sub="bob")))  # a name, no subject


def test_any_of_jwt_and_api_key(gw):
    assert_alice(call(gw, "/any", make_token(RSA_1)))
    assert identity(get(gw, "/any", key=BOB_KEY, host=HOST)) == as_consumer("bob")
    # One method failing does not matter when the other succeeds.
    assert_alice(call(gw, "/any", make_token(RSA_1), headers={"X-API-Key": WRONG_KEY}))
    r = call(gw, "/any", make_token(ROGUE_RSA), headers={"X-API-Key": BOB_KEY})
    assert identity(r) == as_consumer("bob")
    # Nothing: one challenge per method.
    assert_unauthorized(call(gw, "/any"), APIKEY_CHALLENGE, MISSING)
    # Nothing valid: 401 with the API-key challenge and a Bearer one.
    for r in (call(gw, "/any", make_token(ROGUE_RSA)),
              call(gw, "/any", make_token(RSA_1, aud="other-api"),
                   headers={"X-API-Key": WRONG_KEY}),
              get(gw, "/any", key=WRONG_KEY, host=HOST)):
        assert_error(r, 401, "unauthorized")
        found = challenges(r)
        assert len(found) == 2 and APIKEY_CHALLENGE in found, r
        assert any(c in (MISSING, INVALID) for c in found), r


def test_claims_to_headers(gw):
    tok = make_token(RSA_1, email="alice@example.com", level=3, admin=True, ratio=2.5,
                     tenant="acme")
    seen = upstream(call(gw, "/main", tok))["headers"]
    assert seen["x-user-email"] == "alice@example.com"
    assert seen["x-user-level"] == "3"
    assert seen["x-user-admin"] == "true"
    assert seen["x-user-ratio"] == "2.5"
    assert seen["x-tenant"] == "acme"
    tok = make_token(RSA_1, level=0, admin=False, email="", tenant="t", ratio=-7)
    seen = upstream(call(gw, "/main", tok))["headers"]
    assert (seen["x-user-level"], seen["x-user-admin"], seen["x-user-ratio"]) == \
        ("0", "false", "-7")
    big = make_token(RSA_1, level=12345678901)
    assert upstream(call(gw, "/main", big))["headers"]["x-user-level"] == "12345678901"


def test_claims_to_headers_cannot_be_spoofed(gw):
    spoof = {"X-User-Email": "ceo@example.com", "x-tenant": "everyone", "X-User-Admin": "true",
             "X-USER-LEVEL": "99", "X-User-Ratio": "1"}
    # The claim present: the token's value only, never the client's beside it.
    tok = make_token(RSA_1, email="alice@example.com", tenant="acme")
    seen = upstream(call(gw, "/main", tok, headers=spoof))["headers"]
    assert seen["x-user-email"] == "alice@example.com"
    assert seen["x-tenant"] == "acme"
    # The claim absent: the client's header is removed all the same.
    for name in ("x-user-admin", "x-user-level", "x-user-ratio"):
        assert name not in seen, (name, seen)
    seen = upstream(call(gw, "/main", make_token(RSA_1), headers=spoof))["headers"]
    assert not {h.lower() for h in spoof} & set(seen), seen
    # A token of no consumer too.
    seen = upstream(call(gw, "/main", make_token(RSA_1, sub="x"), headers=spoof))["headers"]
    assert not {h.lower() for h in spoof} & set(seen), seen


def test_strip_credentials(gw):
    r = call(gw, "/strip/x", make_token(RSA_1), headers={"X-Other": "kept"})
    assert_alice(r)
    seen = upstream(r)["headers"]
    assert "authorization" not in seen and seen["x-other"] == "kept"
    # Without it, the token goes upstream.
    tok = make_token(RSA_1)
    assert upstream(call(gw, "/main", tok))["headers"]["authorization"] == f"Bearer {tok}"


# --------------------------------------------------------------------------------------------
# missing, malformed and hostile tokens


def test_missing_token_is_401_with_the_bearer_challenge(gw):
    for path in ("/main", "/hmac", "/claim", "/acl/bob"):
        assert_missing(call(gw, path))
    assert_missing(call(gw, "/x", host=OTHER_HOST))
    # No Bearer credentials: another scheme, or the scheme alone, is no token.
    basic = "Basic " + base64.b64encode(b"alice:secret").decode()
    for value in (basic, "Token " + make_token(RSA_1), "Bearer", "Bearer ", "Bearer    "):
        assert_bearer_401(get(gw, "/main", auth=value, host=HOST), value[:20])
    # A token in the query or another header is no token either. (A jti of its own: the access
    # log keeps this URL, and a token with default claims made in the same second elsewhere,
    # MALFORMED's included, would be the same string and read as a leak by the test below.)
    tok = make_token(RSA_1, jti=nonce("query", 8))
    assert_missing(get(gw, f"/main?access_token={tok}", host=HOST))
    assert_missing(get(gw, "/main", host=HOST, headers={"X-Token": tok}))
    # The route with no auth needs none.
    assert call(gw, "/open").status == 200


def _malformed_tokens() -> dict[str, str]:
    good = make_token(RSA_1)
    h, p, s = good.split(".")
    flipped = s[:10] + ("B" if s[10] != "B" else "C") + s[11:]
    deep = b'{"alg":"RS256","kid":"rsa-1","x":' + b"[" * 20000 + b"]" * 20000 + b"}"
    ec_good = make_token(EC_256)
    ec_input, ec_sig = ec_good.rsplit(".", 1)
    raw = base64.urlsafe_b64decode(ec_sig + "==")
    return {
        "two segments": f"{h}.{p}",
        "four segments": f"{h}.{p}.{s}.{s}",
        "trailing dot": f"{h}.{p}.{s}.",
        "empty signature": f"{h}.{p}.",
        "truncated signature": f"{h}.{p}.{s[:-6]}",
        "truncated token": good[: len(good) // 2],
        "one signature character changed": f"{h}.{p}.{flipped}",
        "another payload": f"{h}.{make_token(RSA_1, sub=BOB_SUB).split('.')[1]}.{s}",
        "bad base64url header": f"!!{h[2:]}.{p}.{s}",
        "bad base64url payload": f"{h}.%%{p[2:]}.{s}",
        "bad base64url signature": f"{h}.{p}.@@{s[2:]}",
        "standard base64 alphabet": f"{h}.{p}.+/{s[2:]}",
        "comma after the token": f"{good},x",
        "header no JSON": unsigned_token(b"not json", signature=s),
        "header a JSON array": unsigned_token(b'["RS256"]', signature=s),
        "header a JSON string": unsigned_token(b'"RS256"', signature=s),
        "header truncated JSON": unsigned_token(b'{"alg":"RS256"', signature=s),
        "header no UTF-8": unsigned_token(b'{"alg":"\xff\xfe"}', signature=s),
        "header without alg": unsigned_token({"typ": "JWT", "kid": "rsa-1"}, signature=s),
        "alg null": make_token(RSA_1, header={"alg": None}),
        "alg lower case": make_token(RSA_1, header={"alg": "rs256"}),
        "alg unknown": make_token(RSA_1, header={"alg": "XX256"}),
        "alg a number": make_token(RSA_1, header={"alg": 256}),
        "alg a list": make_token(RSA_1, header={"alg": ["RS256"]}),
        "payload no JSON, signed": make_token(RSA_1, payload=b"not json"),
        "payload a JSON array, signed": make_token(RSA_1, payload=b'["sub"]'),
        "payload truncated JSON, signed": make_token(RSA_1, payload=b'{"sub":"x"'),
        "payload empty, signed": make_token(RSA_1, payload=b""),
        "only dots": "..",
        "one dot": ".",
        "three dots": "...",
        "ECDSA signature in DER": make_token(EC_256, der=True),
        "ECDSA r and s swapped": f"{ec_input}.{b64url(raw[32:] + raw[:32])}",
        "ECDSA signature one byte short": f"{ec_input}.{b64url(raw[:-1])}",
        "ECDSA signature zero": f"{ec_input}.{b64url(bytes(64))}",
        "huge kid": make_token(RSA_1, kid="k" * 45000),
        "huge header": unsigned_token({"alg": "RS256", "x": "A" * 45000}, signature=s),
        "huge signature": f"{h}.{p}.{'A' * 60000}",
        "deeply nested header": unsigned_token(deep, signature=s),
    }


MALFORMED = _malformed_tokens()


@pytest.mark.parametrize("name", list(MALFORMED))
def test_malformed_token_is_401(gw, name):
    assert_refused(call(gw, "/main", MALFORMED[name]), name)


def test_malformed_tokens_never_crash_and_the_gateway_serves_on(gw):
    for path in ("/hmac", "/mixed", "/acl/gold"):
        for name, tok in MALFORMED.items():
            r = call(gw, path, tok)
            assert r.status in (401, 431), (path, name, r)
    # Bytes outside ASCII, and two tokens.
    good = make_token(RSA_1)
    for value in (b"Bearer \xff\xfe\x80", b"Bearer " + good.encode() + b"\xff",
                  b"Bearer " + good.encode() + b" " + good.encode()):
        r = http_request(gw.port, "GET", "/main", host=HOST, headers=[("Authorization", value)])
        assert r.status in (400, 401), (value[:40], r)
    r = http_request(gw.port, "GET", "/main", host=HOST,
                     headers=[("Authorization", f"Bearer {MALFORMED['truncated token']}"),
                              ("Authorization", f"Bearer {MALFORMED['truncated token']}")])
    assert r.status in (400, 401), r
    assert gw.running()
    assert_alice(call(gw, "/main", good))


def test_signed_tokens_with_odd_claims_never_crash(gw):
    """Validly signed, with claims of unexpected types or sizes: an answer, never a 5xx, and
    never alice for something that is not exactly her subject."""
    odd = [{"exp": "9999999999"}, {"exp": 1e30}, {"exp": 10 ** 40}, {"exp": -10 ** 40},
           {"exp": None}, {"exp": True}, {"exp": time.time() + 300.5}, {"nbf": [1]},
           {"nbf": {"a": 1}}, {"iss": 5}, {"iss": [ISSUER]}, {"aud": 5}, {"aud": [5, AUDIENCE]},
           {"aud": {"x": AUDIENCE}}, {"sub": 5}, {"sub": {"id": ALICE_SUB}}, {"sub": [ALICE_SUB]},
           {"sub": ""}, {"sub": ALICE_SUB + "\u0000x"}, {"sub": ALICE_SUB + "\n"},
           {"email": "a@example.com\r\nX-Injected: 1"}, {"email": "a\u0000b"},
           {"tenant": {"id": 1}}, {"tenant": ["a", "b"]}, {"level": 1e308}, {"email": None},
           {"deep": [[[[[[[[[[[]]]]]]]]]]]}, {"big": "x" * 30000}]
    for extra in odd:
        base = claims()
        base.update(extra)
        r = call(gw, "/main", make_token(RSA_1, payload=base))
        assert r.status in (200, 401), (extra, r)
        if r.status == 200:
            seen = upstream(r)["headers"]
            assert "x-injected" not in seen, (extra, seen)
            assert not any("\r" in v or "\n" in v or "\x00" in v for v in seen.values()), seen
            if extra.get("sub", ALICE_SUB) != ALICE_SUB:
                assert identity(r) == {}, (extra, r)
        else:
            assert_invalid(r, extra)
    assert gw.running()


def test_rejected_token_keeps_the_connection_in_step(gw):
    """A 401 for a request with a body: the body is never taken for the next request."""
    conn = gw.connection()
    try:
        body = b"GET /open HTTP/1.1\r\nHost: jwt.example.com\r\n\r\n" * 20
        r = http_request(gw.port, "POST", "/main", host=HOST, body=body, conn=conn,
                         headers={"Authorization": f"Bearer {make_token(ROGUE_RSA)}"})
        assert_invalid(r)
        r = http_request(gw.port, "POST", "/main/next", host=HOST, body=b"0123456789",
                         conn=conn, headers={"Authorization": f"Bearer {make_token(RSA_1)}"})
        seen = upstream(r)
        assert seen["path"] == "/main/next" and seen["bodyLength"] == 10
    finally:
        conn.close()
    with RawClient(gw.port) as c:
        c.send(b"POST /main HTTP/1.1\r\nHost: jwt.example.com\r\nAuthorization: Bearer x.y.z\r\n"
               b"Content-Length: 5\r\n\r\nhello"
               b"GET /main HTTP/1.1\r\nHost: jwt.example.com\r\nAuthorization: Bearer "
               + make_token(RSA_1, sub=BOB_SUB).encode() + b"\r\nConnection: close\r\n\r\n")
        data = c.read_until_closed(timeout=10)
    answers = [parse_response(b"HTTP/1.1 " + part) for part in data.split(b"HTTP/1.1 ")[1:]]
    # Both answered in order, or the gateway closed after the 401: also fine.
    assert [a.status for a in answers] in ([401], [401, 200]), data[:500]
    if len(answers) == 2:
        assert identity(answers[1]) == as_consumer("bob"), answers[1]


def test_concurrent_tokens_of_every_kind(gw):
    """Workers verify in parallel (--threads 2): every answer is the one its token deserves."""
    cases = [(make_token(RSA_1), 200), (make_token(RSA_1, "PS256"), 200),
             (make_token(EC_256), 200), (make_token(EC_384), 200),
             (make_token(ROGUE_RSA), 401), (make_token(RSA_1, exp=-300), 401),
             (make_token(EC_256, der=True), 401), (MALFORMED["truncated token"], 401),
             (unsigned_token({"alg": "none"}), 401)]

    def run(worker: int) -> list:
        wrong = []
        conn = gw.connection()
        try:
            for i in range(30):
                tok, want = cases[(worker + i) % len(cases)]
                r = http_request(gw.port, "GET", "/main", host=HOST, conn=conn,
                                 headers={"Authorization": f"Bearer {tok}"})
                if r.status != want:
                    wrong.append((worker, i, want, r))
        finally:
            conn.close()
        return wrong

    with ThreadPoolExecutor(6) as pool:
        wrong = [w for result in pool.map(run, range(6)) for w in result]
    assert not wrong, wrong[:5]


# --------------------------------------------------------------------------------------------
# metrics, access log, tokens kept out of output


def test_consumer_and_failure_metrics(gw):
    gold = "default/jwt/gold"
    series = {reason: ("atrium_auth_failures_total", {"route": gold, "reason": reason})
              for reason in ("missing", "invalid", "forbidden")}
    series["alice"] = ("atrium_consumer_requests_total",
                       {"consumer": "alice", "route": gold, "code": "200"})

    def counts() -> dict:
        text = gw.metrics()
        return {k: _count(text, name, labels) for k, (name, labels) in series.items()}
    before = counts()
    for _ in range(3):
        assert call(gw, "/acl/gold", make_token(EC_256)).status == 200
    assert call(gw, "/acl/gold").status == 401
    for bad in (make_token(RSA_1, exp=-300), make_token(RSA_1, header={"alg": "none"}),
                MALFORMED["two segments"]):
        assert call(gw, "/acl/gold", bad).status == 401
    assert call(gw, "/acl/gold", make_token(RSA_1, sub=BOB_SUB)).status == 403
    expected = {"alice": 3, "missing": 1, "invalid": 3, "forbidden": 1}
    # Requests are counted as their sessions finish them, just after the response: poll.
    wait_until(lambda: {k: v - before[k] for k, v in counts().items()} == expected, 5,
               message=f"metric deltas {expected}")


def send_logged(gw, requests) -> dict:
    """Sends (path, token, status) requests, each with its own X-Request-Id, checks each status
    and returns the access-log record of each, by the request's index."""
    ids = []
    for path, tok, status in requests:
        ids.append(nonce("jwt-log", 6))
        r = call(gw, path, tok, headers={"X-Request-Id": ids[-1]})
        assert r.status == status, (path, r)

    def records():
        by_id = {rec.get("requestId"): rec for rec in gw.access_log()}
        return [by_id[i] for i in ids] if all(i in by_id for i in ids) else None
    return dict(enumerate(wait_until(records, 5, message="access log records")))


def test_access_log_carries_the_consumer(gw):
    cases = [("/main", make_token(RSA_1), 200, "alice"),
             ("/hmac", make_token(HMAC, sub=BOB_SUB), 200, "bob"),
             ("/main", make_token(ROGUE_RSA), 401, None),
             ("/main", None, 401, None),
             ("/main", make_token(RSA_1, sub="nobody"), 200, None)]
    logged = send_logged(gw, [case[:3] for case in cases])
    for i, (path, _, status, who) in enumerate(cases):
        assert logged[i]["status"] == status, logged[i]
        assert (logged[i].get("consumer") or None) == who, (path, who, logged[i])
    assert logged[0]["route"] == "default/jwt/main"


def test_tokens_and_key_material_never_in_output_or_config(gw):
    # A jti of their own: RS256 and HMAC signatures are deterministic, so a token made with the
    # same claims in the same second by another test (one sends a token in a URL on purpose)
    # would be the same string.
    jti = nonce("leak", 8)
    sent = [("/main", make_token(RSA_1, jti=jti), 200), ("/main", make_token(EC_384, jti=jti), 200),
            ("/main", make_token(ROGUE_RSA, jti=jti), 401),
            ("/main", make_token(RSA_1, exp=-300, jti=jti), 401),
            ("/acl/gold", make_token(RSA_1, sub=BOB_SUB, jti=jti), 403),
            ("/main", MALFORMED["truncated signature"], 401),
            ("/hmac", make_token(HMAC, "HS512", jti=jti), 200),
            ("/mixed", make_token(OCT, jti=jti), 200),
            ("/hmac", make_token(WRONG_HMAC, jti=jti), 401)]
    send_logged(gw, sent)

    tokens = [tok for _, tok, _ in sent]
    values = tokens + [tok.rsplit(".", 1)[1] for tok in tokens if "." in tok]
    values = [v for v in values if len(v) >= 16]
    for raw in (HMAC.secret, OCT.secret):
        values += [b64url(raw), base64.b64encode(raw).decode(), raw.hex()]
    outputs = {"stdout": gw.stdout_path.read_text(errors="replace"), "stderr": gw.stderr()}
    config = gw.admin_get("/config")
    assert config.status == 200
    outputs["/config"] = config.body.decode(errors="replace")
    leaks = [(where, value[:24]) for where, text in outputs.items() for value in values
             if value in text]
    assert not leaks, leaks


# --------------------------------------------------------------------------------------------
# atrium check, live changes


def test_check_accepts_jwt_routes_and_consumers(tmp_path):
    files = {"svc.yaml": service_docs("api", [8080]) +
             service_docs("api", [8080], namespace=OTHER_NS),
             "consumers.yaml": consumer_docs(), "routes.yaml": route_docs()}
    for name, docs in files.items():
        (tmp_path / name).write_text(to_yaml(docs))
    r = run_check(tmp_path)
    assert (r.returncode, "terminate called" in r.stderr) == (0, False), (r.stdout, r.stderr)
    # Not even a warning about authentication (the directory's own name holds "jwt").
    lines = r.stdout.replace(str(tmp_path), "DIR").splitlines()
    assert not [line for line in lines if "auth" in line or "jwt" in line.lower()], r.stdout


def test_secret_and_consumer_changes_apply_live(echo, gateway):
    first, second = RsaKey("live-1"), EcKey("live-2", "P-256")
    hmac1, hmac2 = HmacKey(None, secrets.token_bytes(32)), HmacKey(None, secrets.token_bytes(48))
    g = gateway({
        "svc.yaml": service_docs("api", [echo(ECHO_NAME)]),
        "route.yaml": route("live", [rule("jwks", "/jwks", jwt_auth("live-jwks")),
                                     rule("hmac", "/hmac", jwt_auth(None, "live-hmac")),
                                     rule("vip", "/vip", jwt_auth("live-jwks",
                                                                  allowGroups=["vip"]))],
                            host=HOST),
        "jwks.yaml": jwks_secret("live-jwks", first),
        "hmac.yaml": bytes_secret("live-hmac", "secret", hmac1.secret),
        "acme.yaml": jwt_consumer("acme", "acme-sub", ["ops"]),
    })
    assert identity(call(g, "/jwks", make_token(first, sub="acme-sub"))) == \
        as_consumer("acme", "ops")
    assert identity(call(g, "/hmac", make_token(hmac1, sub="acme-sub"))) == \
        as_consumer("acme", "ops")
    assert_forbidden(call(g, "/vip", make_token(first, sub="acme-sub")))

    # The JWKS Secret rotated: the new key works, the old one stops.
    g.write("jwks.yaml", jwks_secret("live-jwks", second))
    wait_until(lambda: call(g, "/jwks", make_token(second)).status == 200, 5,
               message="new JWKS key accepted")
    assert_invalid(call(g, "/jwks", make_token(first)))
    # The HMAC secret rewritten in place, as an editor would.
    g.write("hmac.yaml", bytes_secret("live-hmac", "secret", hmac2.secret), atomic=False)
    wait_until(lambda: call(g, "/hmac", make_token(hmac2)).status == 200, 5,
               message="new HMAC secret accepted")
    assert_invalid(call(g, "/hmac", make_token(hmac1)))

    # The consumer's subject and groups change.
    g.write("acme.yaml", jwt_consumer("acme", "acme-new", ["ops", "vip"]))
    wait_until(lambda: call(g, "/vip", make_token(second, sub="acme-new")).status == 200, 5,
               message="new subject and group applied")
    assert identity(call(g, "/jwks", make_token(second, sub="acme-new"))) == \
        as_consumer("acme", "ops,vip")
    assert identity(call(g, "/jwks", make_token(second, sub="acme-sub"))) == {}
    # The consumer deleted: its tokens are still valid tokens, of nobody.
    g.remove("acme.yaml")
    wait_until(lambda: identity(call(g, "/jwks", make_token(second, sub="acme-new"))) == {}, 5,
               message="deleted consumer forgotten")
    assert_forbidden(call(g, "/vip", make_token(second, sub="acme-new")))

    # The JWKS Secret deleted: nothing verifies any more (refused or the rule left out), and
    # nothing else breaks.
    g.remove("jwks.yaml")
    wait_until(lambda: call(g, "/jwks", make_token(second)).status != 200, 5,
               message="tokens refused without their JWKS Secret")
    assert call(g, "/jwks", make_token(second)).status in (401, 404)
    assert call(g, "/hmac", make_token(hmac2)).status == 200
    assert g.running()


# --------------------------------------------------------------------------------------------
# jwksURI (each test its own gateway and JWKS server)


def uri_gateway(echo, gateway, uris: dict[str, str]):
    """One rule per path, each with its own jwksURI; /open needs nothing."""
    rules = [rule(f"r{i}", path, jwt_auth(None, uri=uri))
             for i, (path, uri) in enumerate(uris.items())]
    return gateway({
        "svc.yaml": service_docs("api", [echo(ECHO_NAME)]),
        "route.yaml": route("uri", rules + [rule("open", "/open")], host=HOST),
    })


@pytest.mark.slow
def test_jwks_uri_is_fetched_at_load_and_follows_key_rotation(echo, gateway, jwks_server):
    old, new = RsaKey("uri-old"), EcKey("uri-new", "P-256")
    server = jwks_server(old)
    started = time.monotonic()
    g = uri_gateway(echo, gateway, {"/api": server.uri})
    # Fetched as the configuration loads, before any token asks for a key.
    wait_until(lambda: server.fetches() >= 1, 5, message="JWKS fetched at load")
    old_token = make_token(old)
    wait_until(lambda: call(g, "/api", old_token).status == 200, 5, message="old key accepted")
    assert identity(call(g, "/api", old_token)) == {}

    # A new key with a new kid: the first token naming it is refused while its kid is fetched,
    # then it is accepted (the fetch waits at most 10 s after the previous one).
    server.serve(old, new)
    new_token = make_token(new)
    assert_invalid(call(g, "/api", new_token), "unknown kid, before the refresh")
    wait_until(lambda: call(g, "/api", new_token).status == 200, 15, interval=0.1,
               message="new kid accepted after the refresh")
    assert call(g, "/api", old_token).status == 200

    # Right after a fetch, a burst of unknown kids makes at most one more.
    before = server.fetches()
    for i in range(30):
        assert_invalid(call(g, "/api", make_token(new, kid=nonce("unknown", 4))), i)
    time.sleep(0.5)
    assert server.fetches() - before <= 1, server.fetches() - before

    # The old kid removed: after the next refresh (an unknown kid asks for it), old tokens 401.
    server.serve(new)

    def old_refused():
        call(g, "/api", make_token(new, kid=nonce("trigger", 4)))
        return call(g, "/api", old_token).status == 401
    wait_until(old_refused, 15, interval=0.2, message="old kid refused after the refresh")
    assert_invalid(call(g, "/api", old_token))
    assert call(g, "/api", new_token).status == 200
    assert call(g, "/api", make_token(new, kid=None)).status == 200

    elapsed = time.monotonic() - started
    assert server.fetches() <= 3 + elapsed / 10, (server.fetches(), elapsed)
    assert set(server.requests) == {("GET", JwksServer.PATH)}, server.requests
    assert g.running()


@pytest.mark.slow
def test_jwks_uri_failures_keep_the_last_good_keys(echo, gateway, jwks_server):
    """Four jwksURIs (one rule and one server each), so that their refreshes, rate-limited per
    URI, run side by side; each then fails in its own way."""
    key = EcKey("uri-ec384", "P-384")
    good = make_token(key)
    breakages = {"status 500": lambda server: server.fail(500),
                 "a body that is no JSON": lambda server: server.fail(200, b'{"keys": ['),
                 "no JWKS": lambda server: server.fail(200, b'{"keys": 7}'),
                 "no answer": JwksServer.hang}
    servers = {name: jwks_server() for name in breakages}
    paths = {name: f"/case{i}" for i, name in enumerate(breakages)}
    for server in servers.values():
        server.fail(503)
    g = uri_gateway(echo, gateway, {paths[n]: servers[n].uri for n in breakages})
    wait_until(lambda: all(server.fetches() >= 1 for server in servers.values()), 5,
               message="every JWKS fetch attempted at load")
    # No keys yet: tokens are refused, never with a 5xx, and everything else is served.
    for path in paths.values():
        assert_invalid(call(g, path, good), f"{path}: no keys yet")
    assert call(g, "/open").status == 200

    # The JWKS answer now: the next token naming the missing kid gets it fetched.
    for server in servers.values():
        server.serve(key)

    def all_accept() -> bool:
        statuses = [call(g, path, good).status for path in paths.values()]  # every one asks
        return all(s == 200 for s in statuses)
    wait_until(all_accept, 15, interval=0.2, message="keys fetched once the JWKS answer")

    # Refreshes that fail in each way keep the keys; a hanging one blocks no worker.
    before = {name: server.fetches() for name, server in servers.items()}
    for name, breakage in breakages.items():
        breakage(servers[name])
    unknown = make_token(key, kid=nonce("unknown", 4))

    def attempted():
        for path in paths.values():
            assert call(g, path, unknown).status == 401
        return all(servers[n].fetches() > before[n] for n in breakages)
    wait_until(attempted, 15, interval=0.2, message="a refresh of every URI")
    time.sleep(0.3)
    for _ in range(5):
        for name, path in paths.items():
            t0 = time.monotonic()
            r = call(g, path, good, timeout=5)
            assert r.status == 200, (name, r)
            assert time.monotonic() - t0 < 2, (name, time.monotonic() - t0)
    assert g.running()
