"""APIRoute: weighted splits, matches, rewrites, redirects, direct responses and header
filters, as a team running v1 and v2 side by side would use them (SPEC §3.2, §5.1)."""

import collections

import pytest

from conftest import RawClient, apiroute, service_docs, stop_and_check


def svc(name, port=80, weight=None):
    b = {"service": {"name": name, "port": port}}
    if weight is not None:
        b["weight"] = weight
    return b


def prefix(value, **extra):
    return {"path": {"type": "PathPrefix", "value": value}, **extra}


def exact(value, **extra):
    return {"path": {"type": "Exact", "value": value}, **extra}


@pytest.fixture(scope="module")
def gw(request, tmp_path_factory):
    from conftest import Atrium, EchoBackend

    names = ["v1", "v2", "v3", "post", "getonly", "rewritten", "hdr", "any"]
    backends = {n: EchoBackend(n) for n in names}
    docs = []
    for n in names:
        docs += service_docs(n, [backends[n]])
    route = apiroute("shop", {
        "hostnames": ["api.example.com", "*.api.example.com"],
        "rules": [
            {"name": "split", "matches": [prefix("/split")],
             "backends": [svc("v1", 80, 90), svc("v2", "http", 10)]},
            {"name": "plain", "matches": [prefix("/m")], "backends": [svc("v1")]},
            {"name": "by-header", "matches": [prefix("/m", headers=[
                {"name": "X-Api-Version", "type": "Exact", "value": "2"}])],
             "backends": [svc("v2")]},
            {"name": "by-query", "matches": [prefix("/m", queryParams=[
                {"name": "beta", "type": "Exact", "value": "1"}])],
             "backends": [svc("v3")]},
            {"name": "by-method", "matches": [prefix("/m", method="POST")],
             "backends": [svc("post")]},
            {"name": "by-regex-header", "matches": [prefix("/rx", headers=[
                {"name": "x-flavor", "type": "RegularExpression", "value": "v[0-9]+"}])],
             "backends": [svc("v3")]},
            {"name": "get-only", "matches": [exact("/getonly", method="GET")],
             "backends": [svc("getonly")]},
            {"name": "either", "matches": [exact("/either-a"), exact("/either-b")],
             "backends": [svc("v2")]},
            {"name": "rewrite", "matches": [prefix("/old")],
             "filters": {"rewrite": {"pathPrefix": "/new"}}, "backends": [svc("rewritten")]},
            {"name": "rewrite-root", "matches": [prefix("/strip")],
             "filters": {"rewrite": {"pathPrefix": "/"}}, "backends": [svc("rewritten")]},
            {"name": "rewrite-full", "matches": [exact("/fixed")],
             "filters": {"rewrite": {"path": "/replaced", "hostname": "internal.example"}},
             "backends": [svc("rewritten")]},
            {"name": "redirect", "matches": [prefix("/moved")],
             "filters": {"redirect": {"scheme": "https", "hostname": "new.example.com",
                                      "pathPrefix": "/here", "statusCode": 301}}},
            {"name": "redirect-default", "matches": [exact("/go")],
             "filters": {"redirect": {"hostname": "other.example.com", "port": 8443}}},
            {"name": "redirect-https-default-port", "matches": [exact("/secure")],
             "filters": {"redirect": {"scheme": "https", "port": 443, "path": "/s"}}},
            {"name": "direct", "matches": [exact("/health")],
             "directResponse": {"status": 200, "contentType": "application/json",
                                "body": '{"ok":true}'}},
            {"name": "teapot", "matches": [exact("/teapot")],
             "directResponse": {"status": 418, "contentType": "text/plain", "body": "short and stout"}},
            {"name": "headers", "matches": [prefix("/hdr")],
             "filters": {
                 "requestHeaders": {"set": {"X-Set": "set-value"}, "add": {"X-Add": "added"},
                                    "remove": ["X-Remove"]},
                 "responseHeaders": {"set": {"X-Resp-Set": "r"}, "add": {"X-Resp-Add": "a"},
                                     "remove": ["X-Echo-Instance"]}},
             "backends": [svc("hdr")]},
        ],
    })
    anyhost = apiroute("anyhost", {"rules": [
        {"matches": [prefix("/")], "backends": [svc("any")]},
    ]})
    workdir = tmp_path_factory.mktemp("apiroute")
    try:
        g = Atrium(workdir, {"svc.yaml": docs, "routes.yaml": [route, anyhost]})
    except Exception:
        for b in backends.values():
            b.stop()
        raise
    request.node._atrium_gateways = [g]
    yield g
    try:
        stop_and_check(g)
    finally:
        for b in backends.values():
            b.stop()


HOST = "api.example.com"


def who(gw, path, method="GET", headers=None, host=HOST):
    r = gw.request(path, method=method, host=host, headers=headers or {})
    return r.json()["service"] if r.status == 200 and r.body.startswith(b"{\"service\"") else r.status


def test_weighted_split_90_10(gw):
    conn = gw.connection()
    counts = collections.Counter()
    try:
        for i in range(1000):
            r = gw.get(f"/split/{i}", host=HOST, conn=conn)
            assert r.status == 200, r
            counts[r.json()["service"]] += 1
    finally:
        conn.close()
    assert set(counts) == {"v1", "v2"}, counts
    # Expected 900/100; the bound is > 5 standard deviations wide.
    assert 850 <= counts["v1"] <= 950, counts


def test_weighted_split_on_fresh_connections(gw):
    counts = collections.Counter(who(gw, f"/split/fresh/{i}") for i in range(200))
    assert set(counts) == {"v1", "v2"}, counts
    assert counts["v1"] > counts["v2"], counts


def test_hostnames(gw):
    assert who(gw, "/m", host="api.example.com") == "v1"
    assert who(gw, "/m", host="API.Example.com:8080") == "v1"
    assert who(gw, "/m", host="eu.api.example.com") == "v1"
    # A route without hostnames serves every other host.
    assert who(gw, "/m", host="elsewhere.example.org") == "any"


def test_header_query_and_method_matches(gw):
    assert who(gw, "/m/x") == "v1"
    assert who(gw, "/m/x", headers={"X-Api-Version": "2"}) == "v2"
    assert who(gw, "/m/x", headers={"x-api-version": "2"}) == "v2"   # names case-insensitive
    assert who(gw, "/m/x", headers={"X-Api-Version": "3"}) == "v1"   # values exact
    assert who(gw, "/m/x?beta=1") == "v3"
    assert who(gw, "/m/x?alpha=0&beta=1") == "v3"
    assert who(gw, "/m/x?beta=2") == "v1"
    assert who(gw, "/m/x?BETA=1") == "v1"                            # query names case-sensitive
    assert who(gw, "/m/x", method="POST") == "post"
    assert who(gw, "/m/x", method="PUT") == "v1"


def test_query_match_is_reliable_in_any_position(gw):
    """The same request always routes the same way (the query is read within its bounds)."""
    conn = gw.connection()
    try:
        counts = collections.Counter()
        for i in range(100):
            for q in ("beta=1", f"alpha={i}&beta=1", f"beta=1&alpha={i}", f"a=1&beta=1&b={i}"):
                r = gw.get(f"/m/q?{q}", host=HOST, conn=conn)
                assert r.status == 200, r
                counts[(q.split("=")[0], r.json()["service"])] += 1
        assert all(service == "v3" for _, service in counts), counts
    finally:
        conn.close()


def test_match_precedence(gw):
    # Method match beats header matches beats query matches, whatever the rule order.
    assert who(gw, "/m?beta=1", method="POST", headers={"X-Api-Version": "2"}) == "post"
    assert who(gw, "/m?beta=1", headers={"X-Api-Version": "2"}) == "v2"


def test_regex_header_match(gw):
    assert who(gw, "/rx", headers={"X-Flavor": "v12"}) == "v3"
    assert who(gw, "/rx", headers={"X-Flavor": "v12x"}) == "any" or \
        who(gw, "/rx", headers={"X-Flavor": "v12x"}) == 404


def test_get_match_does_not_match_head(gw):
    assert who(gw, "/getonly") == "getonly"
    r = gw.request("/getonly", method="HEAD", host=HOST)
    assert r.status == 404


def test_several_matches_are_ored(gw):
    assert who(gw, "/either-a") == "v2"
    assert who(gw, "/either-b") == "v2"


def test_rewrite_path_prefix(gw):
    r = gw.get("/old/bar?q=1", host=HOST)
    seen = r.json()
    assert seen["service"] == "rewritten"
    assert seen["path"] == "/new/bar?q=1"
    assert gw.get("/old", host=HOST).json()["path"] == "/new"
    assert gw.get("/strip/a/b", host=HOST).json()["path"] == "/a/b"
    assert gw.get("/strip", host=HOST).json()["path"] == "/"


def test_rewrite_full_path_and_hostname(gw):
    seen = gw.get("/fixed?k=v", host=HOST).json()
    assert seen["service"] == "rewritten"
    assert seen["path"] == "/replaced?k=v"
    assert seen["host"] == "internal.example"
    # The client's Host still reaches the upstream as X-Forwarded-Host.
    assert seen["headers"]["x-forwarded-host"] == HOST


def test_redirect(gw):
    r = gw.get("/moved/a/b?x=1", host=HOST)
    assert r.status == 301
    assert r.header("Location") == "https://new.example.com/here/a/b?x=1"
    assert r.header("Server") == "atrium"
    r = gw.get("/go", host=HOST)
    assert r.status == 302  # the default
    assert r.header("Location") == "http://other.example.com:8443/go"
    r = gw.get("/secure", host=f"{HOST}:8080")
    assert r.status == 302
    assert r.header("Location") == f"https://{HOST}/s"  # the scheme's default port is omitted


def test_direct_response(gw):
    r = gw.get("/health", host=HOST)
    assert r.status == 200
    assert r.header("Content-Type") == "application/json"
    assert r.json() == {"ok": True}
    assert r.header("Server") == "atrium" and r.header("Date") and r.header("X-Request-Id")
    r = gw.get("/teapot", host=HOST)
    assert r.status == 418
    assert r.header("Content-Type") == "text/plain"
    assert r.body == b"short and stout"
    r = gw.request("/teapot", method="HEAD", host=HOST)
    assert r.status == 418 and r.body == b""


def test_request_and_response_header_filters(gw):
    r = gw.get("/hdr", host=HOST, headers=[("X-Set", "from-client"), ("X-Add", "first"),
                                           ("X-Remove", "secret"), ("X-Other", "kept")])
    assert r.status == 200, r
    h = r.json()["headers"]
    assert h["x-set"] == "set-value"
    assert h["x-add"].replace(" ", "") == "first,added"
    assert "x-remove" not in h
    assert h["x-other"] == "kept"
    assert r.header("X-Resp-Set") == "r"
    assert r.header("X-Resp-Add") == "a"
    assert r.header("X-Echo-Instance") is None
    # add on an absent header just sets it
    h = gw.get("/hdr", host=HOST).json()["headers"]
    assert h["x-add"] == "added"


def test_unmatched_path_is_404_json(gw):
    r = gw.get("/nowhere", host=HOST)
    assert r.status == 404
    assert r.json()["error"]["code"] == "route_not_found"


def test_direct_response_keeps_connection_alive(gw):
    with RawClient(gw.port) as c:
        for _ in range(3):
            c.received = b""
            c.send(b"GET /health HTTP/1.1\r\nHost: api.example.com\r\n\r\n")
            r = c.read_response(timeout=5)
            assert r is not None and r.status == 200 and r.json() == {"ok": True}
            assert not c.closed


def test_policy_timeouts_ip_rules_and_body_limit(echo, gateway):
    backend = echo("pol")
    g = gateway({
        "svc.yaml": service_docs("pol", [backend]),
        "route.yaml": apiroute("pol", {
            "hostnames": ["pol.example.com"],
            "policy": {"timeouts": {"request": "500ms"}, "maxRequestBodySize": "1Ki"},
            "rules": [
                {"name": "slow", "matches": [prefix("/slow")], "backends": [svc("pol")]},
                {"name": "denied", "matches": [prefix("/denied")], "backends": [svc("pol")],
                 "policy": {"ipDeny": ["127.0.0.0/8"]}},
                {"name": "allowed", "matches": [prefix("/allowed")], "backends": [svc("pol")],
                 "policy": {"ipAllow": ["127.0.0.1/32"]}},
                {"name": "others", "matches": [prefix("/others")], "backends": [svc("pol")],
                 "policy": {"ipAllow": ["10.0.0.0/8"]}},
            ]}),
    })
    host = "pol.example.com"
    assert g.get("/slow", host=host, headers={"X-Echo-Delay-Ms": "50"}).status == 200
    r = g.get("/slow", host=host, headers={"X-Echo-Delay-Ms": "3000"})
    assert r.status == 504, r
    assert r.json()["error"]["code"] == "upstream_timeout"

    r = g.request("/slow", method="POST", host=host, body=b"a" * 1000)
    assert r.status == 200 and r.json()["bodyLength"] == 1000
    r = g.request("/slow", method="POST", host=host, body=b"a" * 2000)
    assert r.status == 413, r
    assert r.json()["error"]["code"] == "payload_too_large"
    # A chunked body has no declared length: the limit holds while streaming.
    with RawClient(g.port) as c:
        c.send(b"POST /slow HTTP/1.1\r\nHost: pol.example.com\r\nTransfer-Encoding: chunked\r\n\r\n"
               + b"%x\r\n%s\r\n" % (1500, b"b" * 1500) + b"0\r\n\r\n")
        c.read_until_closed(timeout=5)
    from conftest import parse_response
    r = parse_response(c.received)
    assert r is not None and r.status == 413, c.received

    r = g.get("/denied", host=host)
    assert r.status == 403 and r.json()["error"]["code"] == "forbidden"
    assert g.get("/allowed", host=host).status == 200
    assert g.get("/others", host=host).status == 403
