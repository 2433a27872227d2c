"""Authentication with APIConsumers in the manifests mode (SPEC §3.2 `policy.auth`, §3.3, §4):
API keys from a header or a query parameter, Basic with plain and bcrypt passwords, `anyOf`,
`allowConsumers`/`allowGroups`, 401 against 403, the identity sent upstream, metrics, the access
log, secrets kept out of every log, live changes of consumers and Secrets, JWT refused for now,
and hostile credentials.

Every secret is random per run, so a search of Atrium's output for it cannot match by chance.
tests/k8s/test_auth_controller.py runs the same resources through the real kube-apiserver.

Run by hand:
    ATRIUM_BIN=build/atrium ECHO_BACKEND_BIN=build/echo-backend \\
        /usr/bin/python3 -m pytest -q tests/integration/test_auth.py
"""

from __future__ import annotations

import base64
import secrets
import shutil
import subprocess
import warnings

import pytest

from conftest import (ATRIUM_BIN, RawClient, apiroute, http_request, service_docs,
                      stop_and_check, to_yaml, wait_until)
from test_admin import metric_value

HOST = "auth.example.com"
OTHER_HOST = "other.example.com"
OTHER_NS = "other"
ECHO_NAME = "auth-echo"


def token(label: str, n: int = 12) -> str:
    return f"{label}-{secrets.token_hex(n)}"


# Credentials of this run. Carol's password holds a colon: Basic splits at the first one only.
ALICE_KEY = token("alice-key")
ALICE_SPARE = token("alice-spare")
ALICE_PW = token("alice-pw")
BOB_KEY = token("bob-key")
# Valid, but sent only where it is no credential (a query parameter no route reads): it is then
# an ordinary part of the path and may be logged, so it is left out of the search for leaks.
BOB_PLAIN_KEY = token("bob-plain-key")
CAROL_PW = "c:" + token("carol-pw")
MALLORY_KEY = token("mallory-key")        # a consumer of namespace "other"
OTHER_ALICE_KEY = token("other-alice")    # "alice" of namespace "other", another Secret
WRONG_KEY = token("wrong-key")
WRONG_PW = token("wrong-pw")
BCRYPT_PW = {"dave": token("dave-pw", 8), "erin": token("erin-pw", 8),
             "frank": token("frank-pw", 8)}
BCRYPT_PREFIX = {"dave": "$2b$", "erin": "$2a$", "frank": "$2y$"}

APIKEY_CHALLENGE = 'APIKey header="X-API-Key"'
SHOP_CHALLENGE = 'Basic realm="shop"'


# --------------------------------------------------------------------------------------------
# bcrypt hashes, made here (cost 4 keeps verification cheap)


def _bcrypt_with_crypt(password: str) -> str | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import crypt  # deprecated since 3.11, gone in 3.13
        hashed = crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16))
    except (ImportError, ValueError, OSError):
        return None
    return hashed if hashed and hashed.startswith("$2") else None


def _bcrypt_with_htpasswd(password: str) -> str | None:
    htpasswd = shutil.which("htpasswd")
    if not htpasswd:
        return None
    out = subprocess.run([htpasswd, "-nbB", "-C", "4", "user", password], capture_output=True,
                         text=True, timeout=30)
    hashed = out.stdout.strip().partition(":")[2]
    return hashed if out.returncode == 0 and hashed.startswith("$2") else None


def bcrypt_hash(password: str, prefix: str) -> str | None:
    """A bcrypt hash of `password` written with `prefix` ($2a$, $2b$ or $2y$): for a short ASCII
    password the three variants compute the same hash, only the label differs."""
    hashed = _bcrypt_with_crypt(password) or _bcrypt_with_htpasswd(password)
    return prefix + hashed[4:] if hashed else None


BCRYPT_HASH = {name: bcrypt_hash(pw, BCRYPT_PREFIX[name]) for name, pw in BCRYPT_PW.items()}
BCRYPT_MISSING = ("no bcrypt hash can be made here: Python's crypt module has no Blowfish "
                  "and htpasswd is not installed (openssl passwd has no bcrypt)")


# --------------------------------------------------------------------------------------------
# manifests


def secret(name: str, values: dict, namespace: str = "default", encoded: bool = False) -> dict:
    """An Opaque Secret, with `stringData` or (encoded=True) base64 `data`."""
    doc = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
           "metadata": {"name": name, "namespace": namespace}}
    if encoded:
        doc["data"] = {k: base64.b64encode(v.encode()).decode() for k, v in values.items()}
    else:
        doc["stringData"] = dict(values)
    return doc


def consumer(name: str, groups: list | None = None, api_keys=(), basic_secret: str | None = None,
             namespace: str = "default") -> dict:
    """An APIConsumer; api_keys: (secret name, key) pairs."""
    credentials: dict = {}
    if api_keys:
        credentials["apiKeys"] = [{"secretRef": {"name": s, "key": k}} for s, k in api_keys]
    if basic_secret:
        credentials["basicAuth"] = {"secretRef": {"name": basic_secret}}
    spec: dict = {"credentials": credentials}
    if groups is not None:
        spec["groups"] = groups
    return {"apiVersion": "atrium.dev/v1alpha1", "kind": "APIConsumer",
            "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def api_key(header: str | None = "X-API-Key", query: str | None = None, **extra) -> dict:
    source = {}
    if header:
        source["header"] = header
    if query:
        source["queryParam"] = query
    return {"type": "APIKey", "apiKey": source, **extra}


def basic_auth(realm: str | None = "shop", **extra) -> dict:
    return {"type": "Basic", **({"basic": {"realm": realm}} if realm else {}), **extra}


def any_of(*methods: dict, **extra) -> dict:
    """`anyOf` as SPEC §3.2 and the CRD have it: a list of type names, each method's settings
    (apiKey, basic, jwt) beside it, e.g. {anyOf: [APIKey, Basic], apiKey: {..}, basic: {..}}."""
    auth: dict = {"anyOf": [m["type"] for m in methods]}
    for m in methods:
        auth.update({k: v for k, v in m.items() if k != "type"})
    return {**auth, **extra}


def rule(name: str, path: str, auth: dict | None = None, service: str = "api") -> dict:
    r = {"name": name, "matches": [{"path": {"type": "PathPrefix", "value": path}}],
         "backends": [{"service": {"name": service, "port": 80}}]}
    if auth is not None:
        r["policy"] = {"auth": auth}
    return r


def route(name: str, rules: list, auth: dict | None = None, host: str = HOST,
          namespace: str = "default") -> dict:
    spec: dict = {"hostnames": [host], "rules": rules}
    if auth is not None:
        spec["policy"] = {"auth": auth}
    return apiroute(name, spec, namespace=namespace)


def consumer_docs() -> list[dict]:
    docs = [
        secret("alice-key", {"key": ALICE_KEY}),
        secret("alice-spare", {"spare": ALICE_SPARE}, encoded=True),
        secret("alice-basic", {"username": "alice", "password": ALICE_PW}),
        secret("bob-key", {"key": BOB_KEY, "plain": BOB_PLAIN_KEY}, encoded=True),
        secret("carol-basic", {"username": "carol", "password": CAROL_PW}),
        consumer("alice", ["beta", "gold"], [("alice-key", "key"), ("alice-spare", "spare")],
                 "alice-basic"),
        consumer("bob", [], [("bob-key", "key"), ("bob-key", "plain")]),
        consumer("carol", ["silver"], basic_secret="carol-basic"),
        # Namespace "other": a consumer of its own, and an "alice" with another key.
        secret("mallory-key", {"key": MALLORY_KEY}, namespace=OTHER_NS),
        secret("alice-key", {"key": OTHER_ALICE_KEY}, namespace=OTHER_NS),
        consumer("mallory", api_keys=[("mallory-key", "key")], namespace=OTHER_NS),
        consumer("alice", ["gold"], [("alice-key", "key")], namespace=OTHER_NS),
    ]
    for name, hashed in BCRYPT_HASH.items():
        if hashed:
            docs += [secret(f"{name}-basic", {"username": name, "password": hashed}),
                     consumer(name, ["hashed"], basic_secret=f"{name}-basic")]
    return docs


def route_docs() -> list[dict]:
    return [
        route("keys", [rule("orders", "/keys/orders"),
                       rule("public", "/keys/public", {"type": "None"}),
                       rule("basic", "/keys/basic", basic_auth("override"))],
              auth=api_key("X-API-Key", "api_key")),
        route("defaults", [rule("key", "/defaults/key", {"type": "APIKey"}),
                           rule("basic", "/defaults/basic", {"type": "Basic"}),
                           rule("custom", "/defaults/custom", api_key("X-Shop-Token"))]),
        route("basic", [rule("login", "/basic")], auth=basic_auth("shop")),
        route("any", [rule("both", "/any")], auth=any_of(api_key(), basic_auth("shop"))),
        route("acl", [
            rule("gold", "/acl/gold", api_key(allowGroups=["gold"])),
            rule("bob", "/acl/bob", api_key(allowConsumers=["bob"])),
            rule("mixed", "/acl/mixed", any_of(api_key(), basic_auth("shop"),
                                                allowConsumers=["bob"], allowGroups=["silver"])),
        ]),
        route("strip", [
            rule("key", "/strip/key", api_key("X-API-Key", "api_key", stripCredentials=True)),
            rule("basic", "/strip/basic", basic_auth("shop", stripCredentials=True)),
        ]),
        route("open", [rule("all", "/open")]),
        route("keys", [rule("orders", "/")], auth=api_key(), host=OTHER_HOST,
              namespace=OTHER_NS),
    ]


# --------------------------------------------------------------------------------------------
# the shared gateway and request helpers


@pytest.fixture(scope="module")
def gw(request, tmp_path_factory):
    from conftest import Atrium, EchoBackend

    backend = EchoBackend(ECHO_NAME)
    request.addfinalizer(backend.stop)  # runs after the gateway's teardown below (LIFO)
    g = Atrium(tmp_path_factory.mktemp("auth"), {
        "svc.yaml": service_docs("api", [backend]) +
        service_docs("api", [backend], namespace=OTHER_NS),
        "consumers.yaml": consumer_docs(),
        "routes.yaml": route_docs(),
    })
    request.node._atrium_gateways = [g]
    yield g
    stop_and_check(g)


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def get(gw, path: str, key: str | None = None, auth: str | None = None, host: str = HOST,
        headers: dict | None = None, **kwargs):
    """GET with an optional X-API-Key and/or Authorization header."""
    h = dict(headers or {})
    if key is not None:
        h["X-API-Key"] = key
    if auth is not None:
        h["Authorization"] = auth
    return gw.get(path, host=host, headers=h, **kwargs)


def upstream(r) -> dict:
    """What the echo received, from a response it answered."""
    assert r.status == 200, r
    body = r.json()
    assert body.get("service") == ECHO_NAME, r
    return body


def identity(r) -> dict:
    """The X-Consumer-* headers the upstream received."""
    return {k: v for k, v in upstream(r)["headers"].items() if k.startswith("x-consumer-")}


def as_consumer(name: str, groups: str | None = None) -> dict:
    return {"x-consumer-name": name, **({"x-consumer-groups": groups} if groups else {})}


def challenges(r) -> list[str]:
    return sorted(r.headers.get_all("WWW-Authenticate") or [])


def assert_error(r, status: int, code: str):
    assert r.status == status, r
    assert r.header("Content-Type", "").startswith("application/json"), r
    error = r.json()["error"]
    assert error["status"] == status and error["code"] == code, r


def assert_unauthorized(r, *expected: str):
    """401 `unauthorized` with exactly the given WWW-Authenticate challenges."""
    assert_error(r, 401, "unauthorized")
    assert challenges(r) == sorted(expected), r


def assert_forbidden(r):
    assert_error(r, 403, "forbidden")


# --------------------------------------------------------------------------------------------
# API keys


def test_api_key_in_header_identifies_the_consumer(gw):
    r = get(gw, "/keys/orders/1", key=ALICE_KEY)
    assert identity(r) == as_consumer("alice", "beta,gold")
    assert upstream(r)["path"] == "/keys/orders/1"
    # Each of a consumer's keys works; the header name is case-insensitive.
    r = get(gw, "/keys/orders", headers={"x-api-key": ALICE_SPARE})
    assert identity(r) == as_consumer("alice", "beta,gold")
    # A consumer without groups gets no X-Consumer-Groups at all.
    assert identity(get(gw, "/keys/orders", key=BOB_KEY)) == as_consumer("bob")
    # The key is forwarded unless the route strips credentials.
    assert upstream(get(gw, "/keys/orders", key=BOB_KEY))["headers"]["x-api-key"] == BOB_KEY


def test_missing_or_wrong_api_key_is_401(gw):
    assert_unauthorized(get(gw, "/keys/orders"), APIKEY_CHALLENGE)
    for wrong in (WRONG_KEY, "", ALICE_KEY[:-1], ALICE_KEY + "x", ALICE_KEY.upper(),
                  "key", ALICE_PW):
        assert_unauthorized(get(gw, "/keys/orders", key=wrong), APIKEY_CHALLENGE)
    # A key somewhere else than the configured header or parameter does not count.
    assert_unauthorized(get(gw, "/keys/orders", auth=f"Bearer {ALICE_KEY}"), APIKEY_CHALLENGE)
    assert_unauthorized(get(gw, "/keys/orders", headers={"X-Api-Token": ALICE_KEY}),
                        APIKEY_CHALLENGE)
    # Basic credentials of a consumer that also has keys are no API key.
    assert_unauthorized(get(gw, "/keys/orders", auth=basic("alice", ALICE_PW)), APIKEY_CHALLENGE)


def test_api_key_in_query_is_removed_before_forwarding(gw):
    r = get(gw, f"/keys/orders?a=1&api_key={ALICE_KEY}&b=2")
    assert identity(r) == as_consumer("alice", "beta,gold")
    assert upstream(r)["path"] == "/keys/orders?a=1&b=2"
    # Alone, first or last: the other parameters stay, in their order; look-alike names stay.
    seen = upstream(get(gw, f"/keys/orders?api_key={BOB_KEY}"))["path"]
    assert seen in ("/keys/orders", "/keys/orders?"), seen
    seen = upstream(get(gw, f"/keys/orders/x?api_key={BOB_KEY}&z=9&y=8"))["path"]
    assert seen == "/keys/orders/x?z=9&y=8"
    seen = upstream(get(gw, f"/keys/orders?xapi_key=1&api_key_hint=2&api_key={BOB_KEY}"))["path"]
    assert seen == "/keys/orders?xapi_key=1&api_key_hint=2"
    # Always removed, also when the header carried the key.
    r = get(gw, f"/keys/orders?q=1&api_key={ALICE_KEY}", key=ALICE_KEY)
    assert upstream(r)["path"] == "/keys/orders?q=1"
    # A wrong key in the query is a wrong key.
    assert_unauthorized(get(gw, f"/keys/orders?api_key={WRONG_KEY}"), APIKEY_CHALLENGE)
    assert_unauthorized(get(gw, "/keys/orders?api_key="), APIKEY_CHALLENGE)


def test_query_parameter_counts_only_where_configured(gw):
    """`/defaults/key` names no queryParam: a key there in the query is no credential."""
    assert_unauthorized(get(gw, f"/defaults/key?api_key={BOB_PLAIN_KEY}"), APIKEY_CHALLENGE)
    assert identity(get(gw, "/defaults/key", key=BOB_PLAIN_KEY)) == as_consumer("bob")


def test_default_header_and_custom_header(gw):
    assert_unauthorized(get(gw, "/defaults/key"), APIKEY_CHALLENGE)
    custom = 'APIKey header="X-Shop-Token"'
    assert_unauthorized(get(gw, "/defaults/custom"), custom)
    assert_unauthorized(get(gw, "/defaults/custom", key=ALICE_KEY), custom)
    r = get(gw, "/defaults/custom", headers={"x-shop-token": BOB_KEY})
    assert identity(r) == as_consumer("bob")
    assert upstream(r)["headers"]["x-shop-token"] == BOB_KEY


# --------------------------------------------------------------------------------------------
# Basic


def test_basic_with_plain_password(gw):
    r = get(gw, "/basic/profile", auth=basic("carol", CAROL_PW))
    assert identity(r) == as_consumer("carol", "silver")
    # Forwarded unless the route strips credentials.
    assert upstream(r)["headers"]["authorization"] == basic("carol", CAROL_PW)
    # A consumer with both kinds of credentials can use its Basic ones.
    assert identity(get(gw, "/basic", auth=basic("alice", ALICE_PW))) == \
        as_consumer("alice", "beta,gold")


def test_basic_failures_are_401_with_the_realm(gw):
    assert_unauthorized(get(gw, "/basic"), SHOP_CHALLENGE)
    for user, password in (("carol", WRONG_PW), ("carol", ""), ("carol", CAROL_PW[:-1]),
                           ("Carol", CAROL_PW), ("carol", "c"), ("nobody", CAROL_PW),
                           ("", CAROL_PW), ("alice", CAROL_PW)):
        assert_unauthorized(get(gw, "/basic", auth=basic(user, password)), SHOP_CHALLENGE)
    # An API key is no Basic credential.
    assert_unauthorized(get(gw, "/basic", key=ALICE_KEY), SHOP_CHALLENGE)
    # The realm defaults to "atrium".
    assert_unauthorized(get(gw, "/defaults/basic"), 'Basic realm="atrium"')
    assert identity(get(gw, "/defaults/basic", auth=basic("carol", CAROL_PW))) == \
        as_consumer("carol", "silver")


def test_wrong_password_and_unknown_user_look_the_same(gw):
    """Nothing tells a caller whether the user exists (same request id: same body)."""
    rid = {"X-Request-Id": token("same-401", 6)}
    wrong = get(gw, "/basic", auth=basic("carol", WRONG_PW), headers=rid)
    unknown = get(gw, "/basic", auth=basic(token("nobody", 6), WRONG_PW), headers=rid)
    assert_unauthorized(wrong, SHOP_CHALLENGE)
    assert_unauthorized(unknown, SHOP_CHALLENGE)
    assert wrong.body == unknown.body


def test_basic_scheme_name_is_case_insensitive(gw):
    """RFC 9110 §11.1: the auth-scheme is a case-insensitive token."""
    creds = basic("carol", CAROL_PW).split(" ", 1)[1]
    for scheme in ("basic", "BASIC"):
        r = get(gw, "/basic", auth=f"{scheme} {creds}")
        assert identity(r)["x-consumer-name"] == "carol", scheme


@pytest.mark.parametrize("name", sorted(BCRYPT_PW))
def test_basic_with_bcrypt_password(gw, name):
    if not BCRYPT_HASH[name]:
        pytest.skip(BCRYPT_MISSING)
    assert BCRYPT_HASH[name].startswith(BCRYPT_PREFIX[name])
    r = get(gw, "/basic", auth=basic(name, BCRYPT_PW[name]))
    assert identity(r) == as_consumer(name, "hashed")
    assert_unauthorized(get(gw, "/basic", auth=basic(name, WRONG_PW)), SHOP_CHALLENGE)
    # The hash itself is not a password.
    assert_unauthorized(get(gw, "/basic", auth=basic(name, BCRYPT_HASH[name])), SHOP_CHALLENGE)


# --------------------------------------------------------------------------------------------
# rule overrides, anyOf, allowConsumers/allowGroups, stripCredentials


def test_rule_policy_overrides_the_route_wide_auth(gw):
    r = get(gw, "/keys/public")
    assert identity(r) == {}
    override = 'Basic realm="override"'
    assert_unauthorized(get(gw, "/keys/basic"), override)
    assert_unauthorized(get(gw, "/keys/basic", key=ALICE_KEY), override)
    assert identity(get(gw, "/keys/basic", auth=basic("carol", CAROL_PW))) == \
        as_consumer("carol", "silver")


def test_any_of_accepts_either_method(gw):
    assert identity(get(gw, "/any", key=ALICE_KEY)) == as_consumer("alice", "beta,gold")
    assert identity(get(gw, "/any", auth=basic("carol", CAROL_PW))) == \
        as_consumer("carol", "silver")
    # One method failing does not matter when another succeeds.
    assert identity(get(gw, "/any", key=WRONG_KEY, auth=basic("carol", CAROL_PW))) == \
        as_consumer("carol", "silver")
    assert identity(get(gw, "/any", key=BOB_KEY, auth=basic("carol", WRONG_PW))) == \
        as_consumer("bob")
    # Nothing valid: one challenge per method.
    for r in (get(gw, "/any"), get(gw, "/any", key=WRONG_KEY),
              get(gw, "/any", auth=basic("carol", WRONG_PW)),
              get(gw, "/any", key=WRONG_KEY, auth=basic("carol", WRONG_PW))):
        assert_unauthorized(r, APIKEY_CHALLENGE, SHOP_CHALLENGE)


def test_allowed_groups_and_consumers_401_versus_403(gw):
    assert identity(get(gw, "/acl/gold", key=ALICE_KEY))["x-consumer-name"] == "alice"
    assert_forbidden(get(gw, "/acl/gold", key=BOB_KEY))
    assert_unauthorized(get(gw, "/acl/gold"), APIKEY_CHALLENGE)
    assert_unauthorized(get(gw, "/acl/gold", key=WRONG_KEY), APIKEY_CHALLENGE)

    assert identity(get(gw, "/acl/bob", key=BOB_KEY)) == as_consumer("bob")
    assert_forbidden(get(gw, "/acl/bob", key=ALICE_KEY))

    # allowConsumers and allowGroups together: either one lets a consumer in.
    assert identity(get(gw, "/acl/mixed", key=BOB_KEY)) == as_consumer("bob")
    assert identity(get(gw, "/acl/mixed", auth=basic("carol", CAROL_PW))) == \
        as_consumer("carol", "silver")
    assert_forbidden(get(gw, "/acl/mixed", key=ALICE_KEY))
    assert_forbidden(get(gw, "/acl/mixed", auth=basic("alice", ALICE_PW)))
    assert_unauthorized(get(gw, "/acl/mixed", auth=basic("alice", WRONG_PW)),
                        APIKEY_CHALLENGE, SHOP_CHALLENGE)


def test_strip_credentials(gw):
    r = get(gw, "/strip/key", key=ALICE_KEY, headers={"X-Other": "kept"})
    assert identity(r) == as_consumer("alice", "beta,gold")
    seen = upstream(r)["headers"]
    assert "x-api-key" not in seen and seen["x-other"] == "kept"
    r = get(gw, f"/strip/key?x=1&api_key={ALICE_KEY}")
    assert upstream(r)["path"] == "/strip/key?x=1"
    r = get(gw, "/strip/basic", auth=basic("carol", CAROL_PW))
    assert identity(r) == as_consumer("carol", "silver")
    assert "authorization" not in upstream(r)["headers"]


def test_client_supplied_consumer_headers_never_reach_upstream(gw):
    spoof = {"X-Consumer-Name": "admin", "X-Consumer-Groups": "root",
             "x-consumer-custom-id": "7", "X-CONSUMER-NAME": "root"}
    assert identity(get(gw, "/keys/orders", key=ALICE_KEY, headers=spoof)) == \
        as_consumer("alice", "beta,gold")
    # No groups: the client's X-Consumer-Groups must not survive either.
    assert identity(get(gw, "/keys/orders", key=BOB_KEY, headers=spoof)) == as_consumer("bob")
    # Routes without authentication, and auth type None.
    assert identity(get(gw, "/open", headers=spoof)) == {}
    assert identity(get(gw, "/keys/public", headers=spoof)) == {}


def test_consumers_are_looked_up_in_the_route_namespace(gw):
    # mallory and the other "alice" live in namespace "other": not consumers of default's routes.
    assert_unauthorized(get(gw, "/keys/orders", key=MALLORY_KEY), APIKEY_CHALLENGE)
    assert_unauthorized(get(gw, "/keys/orders", key=OTHER_ALICE_KEY), APIKEY_CHALLENGE)
    # ...but of the route of their own namespace, where default's keys do not work.
    r = get(gw, "/x", key=MALLORY_KEY, host=OTHER_HOST)
    assert identity(r) == as_consumer("mallory")
    r = get(gw, "/x", key=OTHER_ALICE_KEY, host=OTHER_HOST)
    assert identity(r) == as_consumer("alice", "gold")
    assert_unauthorized(get(gw, "/x", key=ALICE_KEY, host=OTHER_HOST), APIKEY_CHALLENGE)
    assert_unauthorized(get(gw, "/x", key=BOB_KEY, host=OTHER_HOST), APIKEY_CHALLENGE)


# --------------------------------------------------------------------------------------------
# metrics, access log, secrets kept out of output


def _count(text: str, name: str, labels: dict) -> float:
    return metric_value(text, name, labels) or 0.0


def test_consumer_and_failure_metrics(gw):
    orders = "default/keys/orders"
    gold = "default/acl/gold"
    series = {
        "ok": ("atrium_consumer_requests_total",
               {"consumer": "alice", "route": orders, "code": "200"}),
        "upstream503": ("atrium_consumer_requests_total",
                        {"consumer": "alice", "route": orders, "code": "503"}),
        "bob": ("atrium_consumer_requests_total",
                {"consumer": "bob", "route": orders, "code": "200"}),
        "missing": ("atrium_auth_failures_total", {"route": gold, "reason": "missing"}),
        "invalid": ("atrium_auth_failures_total", {"route": gold, "reason": "invalid"}),
        "forbidden": ("atrium_auth_failures_total", {"route": gold, "reason": "forbidden"}),
    }
    text = gw.metrics()
    before = {k: _count(text, name, labels) for k, (name, labels) in series.items()}

    for _ in range(3):
        assert get(gw, "/keys/orders", key=ALICE_KEY).status == 200
    r = get(gw, "/keys/orders", key=ALICE_KEY, headers={"X-Echo-Status": "503"})
    assert r.status == 503, r
    assert get(gw, "/keys/orders", key=BOB_KEY).status == 200
    assert get(gw, "/acl/gold").status == 401
    for _ in range(2):
        assert get(gw, "/acl/gold", key=WRONG_KEY).status == 401
    assert get(gw, "/acl/gold", key=BOB_KEY).status == 403
    expected = {"ok": 3, "upstream503": 1, "bob": 1, "missing": 1, "invalid": 2, "forbidden": 1}

    def counted():
        text = gw.metrics()
        got = {k: _count(text, name, labels) - before[k] for k, (name, labels) in series.items()}
        return got if got == expected else None
    # Requests are counted as their sessions finish them, just after the response: poll.
    wait_until(counted, 5, message=f"metric deltas {expected}")


def test_access_log_carries_the_consumer(gw):
    ids = {name: token(f"log-{name}", 6) for name in ("alice", "carol", "denied", "open")}
    assert get(gw, "/keys/orders", key=ALICE_KEY,
               headers={"X-Request-Id": ids["alice"]}).status == 200
    assert get(gw, "/basic", auth=basic("carol", CAROL_PW),
               headers={"X-Request-Id": ids["carol"]}).status == 200
    assert get(gw, "/keys/orders", key=WRONG_KEY,
               headers={"X-Request-Id": ids["denied"]}).status == 401
    assert get(gw, "/open", headers={"X-Request-Id": ids["open"]}).status == 200

    def records():
        by_id = {rec.get("requestId"): rec for rec in gw.access_log()}
        return by_id if set(ids.values()) <= set(by_id) else None
    by_id = wait_until(records, 5, message="access log records")
    assert by_id[ids["alice"]]["consumer"] == "alice"
    assert by_id[ids["alice"]]["route"] == "default/keys/orders"
    assert by_id[ids["carol"]]["consumer"] == "carol"
    assert by_id[ids["denied"]]["status"] == 401
    assert not by_id[ids["denied"]].get("consumer"), by_id[ids["denied"]]
    assert not by_id[ids["open"]].get("consumer"), by_id[ids["open"]]


def test_credentials_never_appear_in_output_or_config(gw):
    wrong_query = token("wrong-query-key")
    requests = [
        ("/keys/orders", {"X-API-Key": ALICE_KEY}, 200),
        (f"/keys/orders?api_key={BOB_KEY}&page=2", {}, 200),
        (f"/keys/orders?api_key={wrong_query}", {}, 401),
        ("/keys/orders", {"X-API-Key": WRONG_KEY}, 401),
        ("/basic", {"Authorization": basic("carol", CAROL_PW)}, 200),
        ("/basic", {"Authorization": basic("carol", WRONG_PW)}, 401),
        ("/strip/basic", {"Authorization": basic("alice", ALICE_PW)}, 200),
        ("/acl/gold", {"X-API-Key": BOB_KEY}, 403),
    ]
    ids = []
    for path, headers, status in requests:
        rid = token("leak", 6)
        ids.append(rid)
        r = get(gw, path, headers={**headers, "X-Request-Id": rid})
        assert r.status == status, (path, r)
    wait_until(lambda: set(ids) <= {rec.get("requestId") for rec in gw.access_log()}, 5,
               message="access log records of the requests")

    secret_values = [ALICE_KEY, ALICE_SPARE, ALICE_PW, BOB_KEY, CAROL_PW, MALLORY_KEY,
                     OTHER_ALICE_KEY, WRONG_KEY, WRONG_PW, wrong_query,
                     *BCRYPT_PW.values(), *(h for h in BCRYPT_HASH.values() if h)]
    # The Authorization values as sent (base64), and each secret's random part alone.
    secret_values += [basic("carol", CAROL_PW).split(" ", 1)[1],
                      basic("carol", WRONG_PW).split(" ", 1)[1],
                      basic("alice", ALICE_PW).split(" ", 1)[1]]
    secret_values += [v.rsplit("-", 1)[-1] for v in secret_values if "-" in v]
    outputs = {"stdout": gw.stdout_path.read_text(errors="replace"), "stderr": gw.stderr()}
    config = gw.admin_get("/config")
    assert config.status == 200
    outputs["/config"] = config.body.decode(errors="replace")
    leaks = [(where, value) for where, text in outputs.items() for value in secret_values
             if value in text]
    assert not leaks, leaks


# --------------------------------------------------------------------------------------------
# hostile credentials


def test_malformed_credentials_never_crash(gw):
    b64 = lambda raw: "Basic " + base64.b64encode(raw).decode()  # noqa: E731
    for value in ("Basic !!!notbase64", "Basic", "Basic ", "Basic  ", "Basic ====",
                  "Basic " + base64.b64encode(b"carol").decode(), b64(b":"), b64(b"carol:"),
                  b64(b":" + CAROL_PW.encode()), b64(b"carol\x00:" + CAROL_PW.encode()),
                  b64(b"\xff\xfe:\xff"), "Basic " + base64.b64encode(b"carol:x").decode()[:-1],
                  "Bearer", "Bearer " + ALICE_KEY, "Digest username=carol",
                  "Basic " + "A" * (60 * 1024), b64(b"carol:" + b"p" * (44 * 1024))):
        r = get(gw, "/basic", auth=value)
        assert r.status in (401, 431), (value[:80], r)
        if r.status == 401:
            assert_unauthorized(r, SHOP_CHALLENGE)
        else:
            assert_error(r, 431, "headers_too_large")
    for value in ("", " ", "a", "\t" + ALICE_KEY[:5], "k" * (60 * 1024), ALICE_KEY + ",x"):
        r = get(gw, "/keys/orders", key=value)
        assert r.status in (401, 431), (value[:80], r)
        if r.status == 401:
            assert_unauthorized(r, APIKEY_CHALLENGE)
    # Bytes outside ASCII and odd query encodings: an error status, never a 5xx.
    r = http_request(gw.port, "GET", "/keys/orders", host=HOST,
                     headers=[("X-API-Key", b"\xff\xfe\x80"),
                              ("Authorization", b"Basic \xff\xfe")])
    assert r.status in (400, 401), r
    for query in ("api_key=%zz", "api_key=%00", "api_key", "api_key=&api_key=",
                  "api_key=" + "%41" * 2000, "&&&api_key=x&&"):
        r = get(gw, f"/keys/orders?{query}")
        assert r.status in (400, 401), (query, r)
    # The same key header twice: never a success for a mangled value, never a 5xx.
    r = http_request(gw.port, "GET", "/keys/orders", host=HOST,
                     headers=[("X-API-Key", WRONG_KEY), ("X-API-Key", WRONG_KEY)])
    assert r.status in (400, 401), r

    assert gw.running()
    assert identity(get(gw, "/keys/orders", key=ALICE_KEY))["x-consumer-name"] == "alice"
    assert identity(get(gw, "/basic", auth=basic("carol", CAROL_PW)))["x-consumer-name"] == "carol"


def test_rejected_request_keeps_the_connection_in_step(gw):
    """A 401 for a request with a body: the body is never taken for the next request."""
    conn = gw.connection()
    try:
        body = b"GET /open HTTP/1.1\r\nHost: auth.example.com\r\n\r\n" * 50
        r = http_request(gw.port, "POST", "/keys/orders", host=HOST, body=body, conn=conn)
        assert_unauthorized(r, APIKEY_CHALLENGE)
        r = http_request(gw.port, "POST", "/keys/orders/next", host=HOST,
                         headers={"X-API-Key": ALICE_KEY}, body=b"0123456789", conn=conn)
        seen = upstream(r)
        assert seen["method"] == "POST" and seen["path"] == "/keys/orders/next"
        assert seen["bodyLength"] == 10
    finally:
        conn.close()
    # The same over one raw connection, pipelined.
    with RawClient(gw.port) as c:
        c.send(b"POST /keys/orders HTTP/1.1\r\nHost: auth.example.com\r\nContent-Length: 5\r\n"
               b"\r\nhello"
               b"GET /keys/orders HTTP/1.1\r\nHost: auth.example.com\r\nX-API-Key: "
               + BOB_KEY.encode() + b"\r\nConnection: close\r\n\r\n")
        data = c.read_until_closed(timeout=10)
    assert data.startswith(b"HTTP/1.1 401"), data[:200]
    if data.count(b"HTTP/1.1 ") == 2:  # or the gateway closed after the 401, also fine
        second = data[data.index(b"HTTP/1.1 ", 10):]
        assert second.startswith(b"HTTP/1.1 200") and b'"x-consumer-name":"bob"' in second, \
            second[:500]


# --------------------------------------------------------------------------------------------
# live changes (each test its own gateway)


def live_route() -> dict:
    return route("live", [rule("key", "/key"), rule("login", "/login", basic_auth("live")),
                          rule("vip", "/vip", api_key(allowGroups=["vip"]))],
                 auth=api_key())


def test_secret_and_consumer_changes_apply_live(echo, gateway):
    backend = echo(ECHO_NAME)
    first, second, third = token("live-first"), token("live-second"), token("live-third")
    pw1, pw2 = token("live-pw1"), token("live-pw2")
    g = gateway({
        "svc.yaml": service_docs("api", [backend]),
        "route.yaml": live_route(),
        "acme-key.yaml": secret("acme-key", {"key": first}),
        "acme-basic.yaml": secret("acme-basic", {"username": "acme", "password": pw1}),
        "acme.yaml": consumer("acme", ["ops"], [("acme-key", "key")], "acme-basic"),
    })
    assert identity(get(g, "/key", key=first)) == as_consumer("acme", "ops")
    assert identity(get(g, "/login", auth=basic("acme", pw1))) == as_consumer("acme", "ops")
    assert_forbidden(get(g, "/vip", key=first))

    # A new key in the Secret: the old one stops working as the new one starts.
    g.write("acme-key.yaml", secret("acme-key", {"key": second}, encoded=True))
    wait_until(lambda: get(g, "/key", key=second).status == 200, 5, message="new key accepted")
    assert_unauthorized(get(g, "/key", key=first), APIKEY_CHALLENGE)
    # The same for a password, rewritten in place as an editor would.
    g.write("acme-basic.yaml", secret("acme-basic", {"username": "acme", "password": pw2}),
            atomic=False)
    wait_until(lambda: get(g, "/login", auth=basic("acme", pw2)).status == 200, 5,
               message="new password accepted")
    assert_unauthorized(get(g, "/login", auth=basic("acme", pw1)), 'Basic realm="live"')

    # Groups change: the consumer is let into the vip rule and upstream sees the new groups.
    g.write("acme.yaml", consumer("acme", ["ops", "vip"], [("acme-key", "key")], "acme-basic"))
    wait_until(lambda: get(g, "/vip", key=second).status == 200, 5, message="vip group applied")
    assert identity(get(g, "/key", key=second)) == as_consumer("acme", "ops,vip")

    # A consumer added while running, then its Secret removed.
    g.write("globex.yaml", [secret("globex-key", {"key": third}),
                            consumer("globex", api_keys=[("globex-key", "key")])])
    wait_until(lambda: get(g, "/key", key=third).status == 200, 5, message="new consumer")
    assert identity(get(g, "/key", key=third)) == as_consumer("globex")
    g.write("globex.yaml", [consumer("globex", api_keys=[("globex-key", "key")])])
    wait_until(lambda: get(g, "/key", key=third).status == 401, 5,
               message="key of a deleted Secret refused")

    # The consumer deleted: its credentials are refused; the process keeps serving.
    g.remove("acme.yaml")
    wait_until(lambda: get(g, "/key", key=second).status == 401, 5,
               message="deleted consumer refused")
    assert_unauthorized(get(g, "/login", auth=basic("acme", pw2)), 'Basic realm="live"')
    assert g.running()
    leaked = [v for v in (first, second, third, pw1, pw2)
              if v in g.stdout_path.read_text(errors="replace") or v in g.stderr()]
    assert not leaked, leaked


# --------------------------------------------------------------------------------------------
# atrium check, and JWT refused until it is implemented


def run_check(*paths):
    return subprocess.run([ATRIUM_BIN, "check", *map(str, paths)], capture_output=True,
                          text=True, timeout=30)


def test_check_accepts_api_key_basic_any_of_and_consumers(tmp_path):
    (tmp_path / "svc.yaml").write_text(to_yaml(service_docs("api", [8080]) +
                                               service_docs("api", [8080], namespace=OTHER_NS)))
    (tmp_path / "consumers.yaml").write_text(to_yaml(consumer_docs()))
    (tmp_path / "routes.yaml").write_text(to_yaml(route_docs()))
    r = run_check(tmp_path)
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert "auth" not in r.stdout, r.stdout
    assert "terminate called" not in r.stderr


def jwt_auth() -> dict:
    return {"type": "JWT", "jwt": {"issuer": "https://issuer.example.com/",
                                   "hmacSecretRef": {"name": "hmac", "key": "secret"},
                                   "algorithms": ["HS256"]}}


def test_jwt_routes_are_checked_and_never_served_unauthenticated(tmp_path, echo, gateway):
    """JWT routes (tested in depth in test_jwt.py) pass `atrium check` and, beside API-key
    routes, answer a request without valid credentials 401 with the Bearer challenge."""
    jwt_docs = {
        "tokens.yaml": route("tokens", [rule("all", "/")], auth=jwt_auth(),
                             host="tokens.example.com"),
        "rule-jwt.yaml": route("rule-jwt", [rule("all", "/", jwt_auth())],
                               host="rule-jwt.example.com"),
        "any-jwt.yaml": route("any-jwt", [rule("all", "/")],
                              auth=any_of(api_key(), jwt_auth()), host="any-jwt.example.com"),
    }
    backend = echo(ECHO_NAME)
    common = {"svc.yaml": service_docs("api", [backend]) +
              [secret("hmac", {"secret": token("hmac")}), secret("k", {"key": ALICE_KEY}),
               consumer("alice", api_keys=[("k", "key")])],
              "fine.yaml": route("fine", [rule("all", "/")], auth=api_key(),
                                 host="fine.example.com")}
    check_dir = tmp_path / "check"
    check_dir.mkdir()
    for name, docs in {**common, **jwt_docs}.items():
        (check_dir / name).write_text(to_yaml(docs))
    r = run_check(check_dir)
    assert r.returncode == 0, (r.stdout, r.stderr)

    g = gateway({**common, **jwt_docs})
    assert identity(get(g, "/", key=ALICE_KEY, host="fine.example.com")) == as_consumer("alice")
    forged = "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2ln"
    for host in ("tokens.example.com", "rule-jwt.example.com", "any-jwt.example.com"):
        for headers in ({}, {"Authorization": forged}):
            r = g.get("/", host=host, headers=headers)
            assert_error(r, 401, "unauthorized")
            assert any(v.startswith("Bearer") for v in r.headers.get_all("WWW-Authenticate") or []), r
    # anyOf: the API key alone is enough.
    assert identity(get(g, "/", key=ALICE_KEY, host="any-jwt.example.com")) == \
        as_consumer("alice")
