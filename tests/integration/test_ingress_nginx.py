"""ingress-nginx Ingresses moved to Atrium unchanged, end to end in the manifests mode: canary
Ingresses (canary-weight, canary-by-header always/never/value, canary-by-cookie, a canary
without a main Ingress), rewrite-target with use-regex as ingress-nginx documents it, and basic
authentication from an htpasswd Secret (auth-type, auth-secret, auth-realm).

Run by hand:
    ATRIUM_BIN=build/atrium ECHO_BACKEND_BIN=build/echo-backend \\
        /usr/bin/python3 -m pytest -q tests/integration/test_ingress_nginx.py
"""

from __future__ import annotations

import base64

import pytest

from conftest import http_request, ingress, ingress_path, service_docs, stop_and_check

N = "nginx.ingress.kubernetes.io/"

# htpasswd lines: alice's password is "alice-secret" (bcrypt, labelled $2y$ as `htpasswd -B`
# writes it); carol's {SHA} line is reported and left out, so carol cannot log in.
ALICE_PW = "alice-secret"
HTPASSWD = ("alice:$2y$05$B.MCsaePBZ9prN1mXBzdLu6rXfaG7jANyqMFgU9i6PUsgBHlugLsC\n"
            "carol:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n")
REALM = "Authentication Required - demo"


def canary(name: str, host: str, service: str, annotations: dict, path: str = "/") -> dict:
    return ingress(name, [{"host": host, "paths": [ingress_path(path, service)]}],
                   annotations={N + "canary": "true", **annotations})


def main(name: str, host: str, service: str = "main", path: str = "/",
         annotations: dict | None = None, path_type: str = "Prefix") -> dict:
    return ingress(name, [{"host": host, "paths": [ingress_path(path, service,
                                                                path_type=path_type)]}],
                   annotations=annotations)


@pytest.fixture(scope="module")
def gw(request, tmp_path_factory):
    # Module-scoped: one gateway for every scenario (the function-scoped fixtures of conftest
    # are rebuilt here by hand).
    from conftest import Atrium, EchoBackend
    backends = {name: EchoBackend(name) for name in ("main", "canary", "protected")}
    docs = []
    for name, b in backends.items():
        docs += service_docs(name, [b])
    secret = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
              "metadata": {"name": "basic-auth", "namespace": "default"},
              "data": {"auth": base64.b64encode(HTPASSWD.encode()).decode()}}
    ingresses = [
        main("weighted", "weight.example.com"),
        canary("weighted-canary", "weight.example.com", "canary", {N + "canary-weight": "30"}),
        main("by-header", "header.example.com"),
        canary("by-header-canary", "header.example.com", "canary",
               {N + "canary-by-header": "X-Canary", N + "canary-weight": "50"}),
        main("by-value", "value.example.com"),
        canary("by-value-canary", "value.example.com", "canary",
               {N + "canary-by-header": "X-Region", N + "canary-by-header-value": "eu-west"}),
        main("by-cookie", "cookie.example.com"),
        canary("by-cookie-canary", "cookie.example.com", "canary",
               {N + "canary-by-cookie": "use_canary", N + "canary-by-header": "X-Canary"}),
        canary("lonely-canary", "lonely.example.com", "canary", {N + "canary-weight": "100"}),
        main("rewrite", "rewrite.example.com", path="/something(/|$)(.*)",
             path_type="ImplementationSpecific",
             annotations={N + "use-regex": "true", N + "rewrite-target": "/$2"}),
        main("basic-auth", "auth.example.com", service="protected",
             annotations={N + "auth-type": "basic", N + "auth-secret": "basic-auth",
                          N + "auth-realm": REALM}),
        # Its canary takes the main Ingress's authentication.
        canary("basic-auth-canary", "auth.example.com", "canary",
               {N + "canary-by-header": "X-Canary"}),
        main("cors", "cors.example.com",
             annotations={N + "enable-cors": "true",
                          N + "cors-allow-origin": "https://app.example.com",
                          N + "cors-allow-methods": "GET, PUT", N + "cors-max-age": "600"}),
        main("limited", "limited.example.com",
             annotations={N + "limit-rpm": "3", N + "limit-burst-multiplier": "1",
                          N + "denylist-source-range": "10.0.0.0/8"}),
        main("snippets", "snippet.example.com",
             annotations={N + "configuration-snippet": "return 200 'pwned';"}),
        # atrium.dev/policy under its nginx alias: the APIRoute's spec.policy applies.
        main("with-policy", "policy.example.com", annotations={N + "policy": "shop-policy"}),
    ]
    policy_holder = {
        "apiVersion": "atrium.dev/v1alpha1", "kind": "APIRoute",
        "metadata": {"name": "shop-policy", "namespace": "default"},
        "spec": {"hostnames": ["policy-holder.example.com"],
                 "policy": {"rateLimit": {"limits": [{"requests": 2, "period": "1m",
                                                      "key": "ClientIP"}]},
                            "cors": {"allowOrigins": ["https://shop.example.com"]}},
                 "rules": [{"directResponse": {"status": 204}}]}}
    ingresses.append(policy_holder)
    workdir = tmp_path_factory.mktemp("ingress-nginx")
    try:
        atrium = Atrium(workdir, {"services.yaml": docs, "secret.yaml": secret,
                                  "ingresses.yaml": ingresses})
    except BaseException:
        for b in backends.values():
            b.stop()
        raise
    request.node._atrium_gateways = [atrium]
    yield atrium
    try:
        stop_and_check(atrium)
    finally:
        for b in backends.values():
            b.stop()


def served_by(gw, host: str, path: str = "/", headers: dict | None = None, conn=None):
    r = http_request(gw.port, path=path, host=host, headers=headers, conn=conn)
    if r.status != 200:
        return r.status
    return r.json()["service"]


def basic(user: str, password: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_canary_weight_shares_the_traffic(gw):
    conn = gw.connection()
    try:
        seen = [served_by(gw, "weight.example.com", conn=conn) for _ in range(1000)]
    finally:
        conn.close()
    assert set(seen) == {"main", "canary"}, set(seen)
    share = seen.count("canary") / len(seen)
    assert 0.22 <= share <= 0.38, share  # 30%, with a wide margin


def test_canary_by_header_always_and_never(gw):
    for _ in range(20):
        assert served_by(gw, "header.example.com", headers={"X-Canary": "always"}) == "canary"
        assert served_by(gw, "header.example.com", headers={"X-Canary": "never"}) == "main"
    # Any other value: the weight (50%) decides.
    seen = {served_by(gw, "header.example.com", headers={"X-Canary": "maybe"})
            for _ in range(60)}
    assert seen == {"main", "canary"}


def test_canary_by_header_value(gw):
    for _ in range(10):
        assert served_by(gw, "value.example.com", headers={"X-Region": "eu-west"}) == "canary"
        # No weight: every other value, "always" included, stays on the main Service.
        assert served_by(gw, "value.example.com", headers={"X-Region": "always"}) == "main"
        assert served_by(gw, "value.example.com") == "main"


def test_canary_by_cookie_after_the_header(gw):
    host = "cookie.example.com"
    assert served_by(gw, host, headers={"Cookie": "a=1; use_canary=always; b=2"}) == "canary"
    assert served_by(gw, host, headers={"Cookie": "use_canary=never"}) == "main"
    assert served_by(gw, host, headers={"Cookie": "use_canary=alwaysx"}) == "main"
    assert served_by(gw, host) == "main"
    # The header comes first.
    assert served_by(gw, host, headers={"Cookie": "use_canary=always",
                                        "X-Canary": "never"}) == "main"
    assert served_by(gw, host, headers={"Cookie": "use_canary=never",
                                        "X-Canary": "always"}) == "canary"


def test_a_canary_without_a_main_ingress_is_not_served(gw):
    assert served_by(gw, "lonely.example.com") == 404
    assert "no main Ingress" in gw.stderr()


def test_rewrite_target_with_use_regex(gw):
    # ingress-nginx's documented example: /something(/|$)(.*) with rewrite-target /$2.
    for path, upstream in (("/something", "/"), ("/something/", "/"),
                           ("/something/new", "/new"), ("/something/new/x?q=1", "/new/x?q=1")):
        r = http_request(gw.port, path=path, host="rewrite.example.com")
        assert r.status == 200, (path, r)
        assert r.json()["path"] == upstream, path
    assert served_by(gw, "rewrite.example.com", "/other") == 404


def test_basic_auth_from_an_htpasswd_secret(gw):
    host = "auth.example.com"
    r = http_request(gw.port, path="/", host=host)
    assert r.status == 401
    assert r.header("WWW-Authenticate") == f'Basic realm="{REALM}"'
    assert served_by(gw, host, headers=basic("alice", ALICE_PW)) == "protected"
    for user, password in (("alice", "wrong"), ("alice", ""), ("bob", ALICE_PW),
                           ("carol", "anything")):
        r = http_request(gw.port, path="/", host=host, headers=basic(user, password))
        assert r.status == 401, (user, r)
        assert r.header("WWW-Authenticate") == f'Basic realm="{REALM}"'
    # The canary of a protected Ingress is protected the same way.
    canary_only = {"X-Canary": "always"}
    assert http_request(gw.port, path="/", host=host, headers=canary_only).status == 401
    assert served_by(gw, host, headers={**canary_only, **basic("alice", ALICE_PW)}) == "canary"
    # carol's unsupported line is reported by name; no hash reaches the log.
    log = gw.stderr()
    assert '"carol"' in log
    assert "W6ph5Mm5" not in log and "B.MCsaePBZ9" not in log


def test_enable_cors_annotations(gw):
    preflight = {"Origin": "https://app.example.com", "Access-Control-Request-Method": "PUT"}
    r = http_request(gw.port, "OPTIONS", "/x", host="cors.example.com", headers=preflight)
    assert r.status == 204, r
    assert r.header("Access-Control-Allow-Origin") == "https://app.example.com"
    assert r.header("Access-Control-Allow-Methods") == "GET, PUT"
    assert r.header("Access-Control-Max-Age") == "600"
    r = http_request(gw.port, "OPTIONS", "/x", host="cors.example.com",
                     headers={**preflight, "Origin": "https://evil.example.com"})
    assert r.status == 403
    r = http_request(gw.port, "GET", "/x", host="cors.example.com",
                     headers={"Origin": "https://app.example.com"})
    assert r.status == 200 and r.header("Access-Control-Allow-Origin") == "https://app.example.com"


def test_limit_rpm_annotation_and_snippets_never_run(gw):
    statuses = [http_request(gw.port, "GET", "/", host="limited.example.com").status
                for _ in range(5)]
    assert statuses[:3] == [200, 200, 200] and statuses[3:] == [429, 429], statuses
    r = http_request(gw.port, "GET", "/", host="limited.example.com")
    assert r.json()["error"]["code"] == "rate_limited" and r.header("Retry-After")
    # The snippet is refused (reported), the Ingress served without it.
    r = http_request(gw.port, "GET", "/", host="snippet.example.com")
    assert r.status == 200 and b"pwned" not in r.body
    assert "configuration-snippet" in gw.stderr()


def test_policy_annotation_attaches_an_apiroute_policy(gw):
    r = http_request(gw.port, "GET", "/", host="policy.example.com",
                     headers={"Origin": "https://shop.example.com"})
    assert r.status == 200 and r.header("Access-Control-Allow-Origin") == "https://shop.example.com"
    assert r.header("RateLimit-Limit") == "2"
    assert http_request(gw.port, "GET", "/", host="policy.example.com").status == 200
    r = http_request(gw.port, "GET", "/", host="policy.example.com")
    assert r.status == 429 and r.json()["error"]["code"] == "rate_limited"
    # The APIRoute's own rule counts in buckets of its own.
    assert http_request(gw.port, "GET", "/", host="policy-holder.example.com").status == 204
