"""policy.cors (SPEC §3.2, §5.9): preflights answered by the gateway before authentication,
allowed origins exact and by subdomain pattern, methods, headers, exposed headers, credentials
and max-age; the actual response carries the CORS headers (the upstream's own replaced) and
`Vary: Origin`, also from the cache and on the gateway's own errors."""

import pytest

from conftest import apiroute, service_docs

HOST = "cors.example.com"


@pytest.fixture
def gw(echo, gateway):
    backend = echo("app")
    cors = {"allowOrigins": ["https://app.example.com", "https://*.example.org"],
            "allowMethods": ["GET", "POST", "PUT"], "allowHeaders": ["Content-Type", "X-Token"],
            "exposeHeaders": ["X-Total"], "allowCredentials": True, "maxAge": 600}
    secret = {"apiVersion": "v1", "kind": "Secret",
              "metadata": {"name": "k", "namespace": "default"}, "stringData": {"key": "sekret-1"}}
    consumer = {"apiVersion": "atrium.dev/v1alpha1", "kind": "APIConsumer",
                "metadata": {"name": "c", "namespace": "default"},
                "spec": {"credentials": {"apiKeys": [{"secretRef": {"name": "k", "key": "key"}}]}}}
    route = apiroute("cors", {
        "hostnames": [HOST],
        "policy": {"cors": cors},
        "rules": [
            {"name": "open", "matches": [{"path": {"type": "PathPrefix", "value": "/open"}}],
             "backends": [{"service": {"name": "app", "port": 80}}]},
            {"name": "private", "matches": [{"path": {"type": "PathPrefix", "value": "/private"}}],
             "backends": [{"service": {"name": "app", "port": 80}}],
             "policy": {"auth": {"type": "APIKey"}}},
            {"name": "cached", "matches": [{"path": {"type": "PathPrefix", "value": "/cached"}}],
             "backends": [{"service": {"name": "app", "port": 80}}],
             "policy": {"cache": {"ttl": "30s"}}},
            {"name": "any", "matches": [{"path": {"type": "PathPrefix", "value": "/any"}}],
             "backends": [{"service": {"name": "app", "port": 80}}],
             "policy": {"cors": {"allowOrigins": ["*"], "allowCredentials": False}}},
        ]})
    return gateway({"svc.yaml": service_docs("app", [backend]),
                    "auth.yaml": [secret, consumer], "route.yaml": route})


def preflight(gw, path, origin, method="PUT", headers=None):
    h = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers:
        h["Access-Control-Request-Headers"] = headers
    return gw.request(path, method="OPTIONS", host=HOST, headers=h)


def test_preflight_allowed_is_answered_by_the_gateway(gw):
    r = preflight(gw, "/open/items", "https://app.example.com", "PUT", "content-type, x-token")
    assert r.status == 204, r
    assert r.header("Access-Control-Allow-Origin") == "https://app.example.com"
    assert r.header("Access-Control-Allow-Methods") == "GET, POST, PUT"
    assert r.header("Access-Control-Allow-Headers").lower() == "content-type, x-token"
    assert r.header("Access-Control-Allow-Credentials") == "true"
    assert r.header("Access-Control-Max-Age") == "600"
    assert "Origin" in r.header("Vary")
    assert r.body == b""
    # Never forwarded: the echo backend would have answered 200 with its JSON.
    assert r.header("X-Echo-Instance") is None


def test_preflight_before_authentication(gw):
    r = preflight(gw, "/private/x", "https://app.example.com", "POST", "x-token")
    assert r.status == 204, r
    assert r.header("Access-Control-Allow-Origin") == "https://app.example.com"
    # The actual request still needs its credentials; the 401 carries CORS headers so the
    # page can read it.
    r = gw.get("/private/x", host=HOST, headers={"Origin": "https://app.example.com"})
    assert r.status == 401
    assert r.header("Access-Control-Allow-Origin") == "https://app.example.com"
    r = gw.get("/private/x", host=HOST, headers={"Origin": "https://app.example.com",
                                                   "X-API-Key": "sekret-1"})
    assert r.status == 200


@pytest.mark.parametrize("origin,method,headers", [
    ("https://evil.example.com", "PUT", None),           # origin not listed
    ("https://example.org", "GET", None),                # the pattern needs a subdomain
    ("https://evil-example.org", "GET", None),
    ("http://app.example.com", "GET", None),             # other scheme
    ("https://app.example.com", "DELETE", None),         # method not allowed
    ("https://app.example.com", "POST", "x-other"),      # header not allowed
    ("null", "GET", None),
])
def test_preflight_refused(gw, origin, method, headers):
    r = preflight(gw, "/open/x", origin, method, headers)
    assert r.status == 403, r
    assert r.json()["error"]["code"] == "forbidden"
    assert r.header("Access-Control-Allow-Origin") is None
    assert r.header("Access-Control-Allow-Methods") is None


def test_subdomain_pattern(gw):
    for origin in ("https://a.example.org", "https://a.b.example.org"):
        r = preflight(gw, "/open/x", origin, "GET")
        assert r.status == 204 and r.header("Access-Control-Allow-Origin") == origin


def test_actual_request_gets_cors_headers_and_vary(gw):
    r = gw.get("/open/x", host=HOST, headers={
        "Origin": "https://app.example.com",
        # The upstream's own CORS headers are replaced; its Vary is kept and extended.
        "X-Echo-Header": "Access-Control-Allow-Origin: *"})
    assert r.status == 200
    assert r.headers.get_all("Access-Control-Allow-Origin") == ["https://app.example.com"]
    assert r.header("Access-Control-Allow-Credentials") == "true"
    assert r.header("Access-Control-Expose-Headers").lower() == "x-total"
    assert "Origin" in r.header("Vary")
    r = gw.get("/open/x", host=HOST, headers={"Origin": "https://app.example.com",
                                              "X-Echo-Header": "Vary: Accept"})
    assert r.header("Vary") == "Accept, Origin"
    # A refused origin gets no Access-Control-Allow-Origin, still Vary: Origin.
    r = gw.get("/open/x", host=HOST, headers={"Origin": "https://evil.example.com"})
    assert r.status == 200
    assert r.header("Access-Control-Allow-Origin") is None
    assert r.header("Vary") == "Origin"
    # No Origin: no CORS, Vary still says responses depend on it.
    r = gw.get("/open/x", host=HOST)
    assert r.header("Access-Control-Allow-Origin") is None and r.header("Vary") == "Origin"


def test_cached_responses_get_the_cors_headers_of_their_request(gw):
    r1 = gw.get("/cached/x", host=HOST, headers={"Origin": "https://app.example.com"})
    assert r1.header("X-Cache") == "MISS"
    assert r1.header("Access-Control-Allow-Origin") == "https://app.example.com"
    r2 = gw.get("/cached/x", host=HOST, headers={"Origin": "https://a.example.org"})
    assert r2.header("X-Cache") == "HIT"
    assert r2.header("Access-Control-Allow-Origin") == "https://a.example.org"
    r3 = gw.get("/cached/x", host=HOST, headers={"Origin": "https://evil.example.com"})
    assert r3.header("X-Cache") == "HIT"
    assert r3.header("Access-Control-Allow-Origin") is None


def test_any_origin_without_credentials(gw):
    r = preflight(gw, "/any/x", "https://whoever.example", "GET")
    assert r.status == 204 and r.header("Access-Control-Allow-Origin") == "*"
    assert r.header("Access-Control-Allow-Credentials") is None
    r = gw.get("/any/x", host=HOST, headers={"Origin": "https://whoever.example"})
    assert r.header("Access-Control-Allow-Origin") == "*"


def test_options_without_request_method_is_forwarded(gw):
    r = gw.request("/open/x", method="OPTIONS", host=HOST,
                   headers={"Origin": "https://app.example.com"})
    assert r.status == 200 and r.header("X-Echo-Instance") is not None
    assert r.header("Access-Control-Allow-Origin") == "https://app.example.com"

