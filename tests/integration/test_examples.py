"""examples/: every folder is valid on its own and all together, and does what its README says.

- `atrium check` passes (exit 0) for each folder and for the whole tree. The only warnings
  allowed are for the TLS Secret that examples/tls/README.md asks the reader to create.
- The layout that lets one folder serve both `atrium --manifests` and `kubectl apply -f`: the
  loopback EndpointSlices live in `local/` (read by atrium, which is recursive, and skipped by
  `kubectl apply -f` without -R). Nothing else lives there.
- The whole tree is served as scripts/run-examples.sh serves it, with the same demo backends
  (names and ports read from that script, rewritten to ephemeral ports in a copy). The
  README's quick start works, and so do the requests each folder's README describes. The same
  requests are sent again with each folder served alone.
- examples/tls: the README's own commands (openssl, then the Secret manifest) make a certificate
  that Atrium then serves.
- examples/apiroute-cache: MISS then HIT with Age, BYPASS with `no-store`, a purge through the
  admin port then MISS again; the `stock` rule's retries open its circuit and the fallback
  answers, as its README walks through them.
- examples/monetized-api: API keys, the route's per-consumer rate limit (RateLimit-* headers,
  429 rate_limited), the free plan's daily quota (429 quota_exceeded) and the /usage report
  (JSON and CSV) with the paid plan's amount, as its README walks through them.
"""

from __future__ import annotations

import base64
import csv
import io
import math
import re
import shutil
import ssl
import subprocess
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
import yaml

from conftest import (ATRIUM_BIN, LOOPBACK, REPO_ROOT, Atrium, EchoBackend, RawClient,
                      http_request, parse_response, stop_and_check, tls_client_context,
                      wait_until)

EXAMPLES = REPO_ROOT / "examples"
FOLDERS = sorted(p.name for p in EXAMPLES.iterdir() if p.is_dir() and not p.name.startswith("."))
TLS_SECRET_WARNING = re.compile(r"secretName: Secret default/demo-tls not found$")


def check(*paths) -> subprocess.CompletedProcess:
    return subprocess.run([ATRIUM_BIN, "check", *map(str, paths)], capture_output=True,
                          text=True, timeout=30, stdin=subprocess.DEVNULL)


def problems(result: subprocess.CompletedProcess) -> list[str]:
    """The problem lines of `atrium check` (stdout), without the summary (stderr)."""
    return [line for line in result.stdout.splitlines() if line.strip()]


def manifest_files(folder):
    return sorted(p for p in folder.rglob("*") if p.suffix in (".yaml", ".yml", ".json"))


def docs_of(path):
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


# --------------------------------------------------------------------------------------------
# atrium check, and the layout


def test_there_is_a_folder_per_feature():
    assert set(FOLDERS) >= {"ingress-basics", "ingress-class", "ingress-annotations",
                            "apiroute-routing", "apiroute-policy", "apiroute-cache", "apiroute-auth",
                            "tls", "monetized-api"}
    assert not [p.name for p in EXAMPLES.iterdir() if p.is_file() and p.suffix != ".md"], \
        "manifests belong in a feature folder"


@pytest.mark.parametrize("folder", FOLDERS)
def test_folder_passes_atrium_check(folder):
    r = check(EXAMPLES / folder)
    assert r.returncode == 0, r.stdout + r.stderr
    unexpected = [line for line in problems(r)
                  if not (folder == "tls" and line.startswith("warning:")
                          and TLS_SECRET_WARNING.search(line))]
    assert not unexpected, "\n".join(unexpected)
    assert "0 errors" in r.stderr, r.stderr


def test_all_folders_together_pass_atrium_check():
    r = check(EXAMPLES)
    assert r.returncode == 0, r.stdout + r.stderr
    for line in problems(r):
        assert line.startswith("warning:") and TLS_SECRET_WARNING.search(line), line
    # Also named one by one, as a user might list them.
    r = check(*(EXAMPLES / f for f in FOLDERS))
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize("folder", FOLDERS)
def test_folder_layout(folder):
    path = EXAMPLES / folder
    assert (path / "README.md").is_file(), f"examples/{folder} needs a README.md"
    top = [p for p in manifest_files(path) if p.parent == path]
    assert top, f"examples/{folder} has no manifests of its own"
    for file in top:
        for doc in docs_of(file):
            # What `kubectl apply -f` sends must be valid on a cluster: no loopback endpoints.
            assert doc["kind"] != "EndpointSlice", f"{file}: EndpointSlices belong in local/"
    for file in manifest_files(path):
        if file.parent == path:
            continue
        assert file.parent == path / "local", f"{file}: only local/ is expected below a folder"
        for doc in docs_of(file):
            assert doc["kind"] in ("EndpointSlice", "Secret"), f"{file}: {doc['kind']}"


# --------------------------------------------------------------------------------------------
# serving the examples with the demo backends of scripts/run-examples.sh

RUN_EXAMPLES = REPO_ROOT / "scripts" / "run-examples.sh"


def demo_backends_of_the_script() -> list[tuple[str, str, int]]:
    """(name, instance, port) of every `start_backend` line of scripts/run-examples.sh."""
    found = re.findall(r"^start_backend (\S+) (\S+) (\d+)$", RUN_EXAMPLES.read_text(), re.M)
    assert found, "scripts/run-examples.sh starts no demo backend?"
    return [(name, instance, int(port)) for name, instance, port in found]


def test_run_examples_serves_the_whole_tree():
    text = RUN_EXAMPLES.read_text()
    assert re.search(r"^build/atrium --manifests examples ", text, re.M), text


def copy_of(folders, ports: dict[int, int], root=EXAMPLES) -> dict[str, str]:
    """The manifests of `folders` under `root` as {flat file name: text}, with the demo ports
    mapped to `ports` (the gateway fixture writes files into one folder)."""
    out = {}
    for folder in folders:
        for file in manifest_files(root / folder):
            text = file.read_text()
            for fixed, actual in ports.items():
                text = re.sub(rf"\bport: {fixed}\b", f"port: {actual}", text)
            out[str(file.relative_to(root)).replace("/", "__")] = text
    return out


@pytest.fixture(scope="module")
def backends():
    started = [EchoBackend(name, instance) for name, instance, _ in demo_backends_of_the_script()]
    yield {fixed: b for (_, _, fixed), b in zip(demo_backends_of_the_script(), started)}
    for b in started:
        b.stop()


@pytest.fixture(scope="module")
def serve(request, tmp_path_factory, backends):
    """serve(folders) -> a running Atrium on those folders (module-scoped, one per set)."""
    running: dict[tuple, Atrium] = {}
    request.module._atrium_gateways = []

    def start(folders) -> Atrium:
        key = tuple(folders)
        if key not in running:
            ports = {fixed: b.port for fixed, b in backends.items()}
            gw = Atrium(tmp_path_factory.mktemp("examples"), copy_of(folders, ports))
            running[key] = gw
            request.module._atrium_gateways.append(gw)
        return running[key]

    yield start
    for gw in running.values():
        stop_and_check(gw)


def served_by(r) -> tuple[str, str]:
    assert r.status == 200, r
    body = r.json()
    return body["service"], body["instance"]


def status_of_upload(gw, host: str, path: str, size: int) -> int:
    """The status of a POST announcing `size` body bytes: a body over the limit is refused by
    its Content-Length, before any of it is sent (so the client never writes into a closed
    connection)."""
    with RawClient(gw.port) as c:
        c.send(b"POST %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n\r\n"
               % (path.encode(), host.encode(), size))
        c.read_until_closed(timeout=5)
        r = parse_response(c.received)
    assert r is not None, c.received
    return r.status


# One function per folder: the requests its README describes and what they get.

def check_ingress_basics(gw):
    instances = {served_by(gw.get("/", host="demo.local"))[1] for _ in range(6)}
    assert instances == {"web-1", "web-2"}
    r = gw.get("/status", host="demo.local")
    assert served_by(r)[0] == "web" and r.json()["path"] == "/status"
    # shop.yaml, row by row of the README's table (the backends behind each Service).
    table = [("shop.demo.local", "/", "web"), ("shop.demo.local", "/cart", "orders-v2"),
             ("shop.demo.local", "/cart/items", "orders-v1"),
             ("shop.demo.local", "/cart/checkout/pay", "orders-v2"),
             ("shop.demo.local", "/cartoon", "web"), ("eu.shop.demo.local", "/cart/x", "orders-v1")]
    for host, path, service in table:
        r = gw.get(path, host=host)
        assert served_by(r)[0] == service and r.json()["path"] == path, (host, path, r)
    assert gw.get("/cart", host="a.b.shop.demo.local").status == 404


def check_ingress_class(gw):
    assert served_by(gw.get("/", host="classless.demo.local"))[0] == "orders-v2"
    assert served_by(gw.get("/", host="annotated.demo.local"))[0] == "orders-v2"
    r = gw.get("/", host="other-class.demo.local")
    assert r.status == 404 and r.json()["error"]["code"] == "route_not_found"


def check_ingress_annotations(gw):
    for path, upstream in (("/api/users", "/users"), ("/API/users", "/users"), ("/api", "/"),
                           ("/api/users?page=2", "/users?page=2")):
        r = gw.get(path, host="legacy.demo.local")
        assert served_by(r)[0] == "orders-v1" and r.json()["path"] == upstream, (path, r)
    r = gw.get("/admin", host="legacy.demo.local")
    assert r.status == 403 and r.json()["error"]["code"] == "forbidden"
    assert gw.get("/apix", host="legacy.demo.local").status == 404
    assert status_of_upload(gw, "legacy.demo.local", "/api/upload", 9 << 20) == 413  # 8m
    # canary-and-auth.yaml: the canary's weight and header, then basic authentication.
    for _ in range(5):
        r = gw.get("/", host="canary.demo.local", headers={"X-Canary": "always"})
        assert served_by(r)[0] == "orders-v2", r
        r = gw.get("/", host="canary.demo.local", headers={"X-Canary": "never"})
        assert served_by(r)[0] == "orders-v1", r
    conn = gw.connection()
    seen = [served_by(http_request(gw.port, path="/", host="canary.demo.local", conn=conn))[0]
            for _ in range(400)]
    conn.close()
    assert 0.1 <= seen.count("orders-v2") / len(seen) <= 0.3, seen.count("orders-v2")  # 20%
    r = gw.get("/", host="private.demo.local")
    assert r.status == 401 and r.header("WWW-Authenticate") == 'Basic realm="Demo"', r
    demo = {"Authorization": "Basic " + base64.b64encode(b"demo:demo-password").decode()}
    assert served_by(gw.get("/", host="private.demo.local", headers=demo))[0] == "orders-v1"
    wrong = {"Authorization": "Basic " + base64.b64encode(b"demo:wrong").decode()}
    assert gw.get("/", host="private.demo.local", headers=wrong).status == 401


def check_apiroute_routing(gw):
    host = "api.demo.local"
    r = gw.get("/v1/orders", host=host)
    assert served_by(r)[0] == "orders-v1" and r.json()["path"] == "/orders"
    assert r.header("X-Api-Version") == "1"
    for _ in range(5):
        r = gw.get("/v2/orders", host=host, headers={"X-Api-Version": "2"})
        assert served_by(r)[0] == "orders-v2"
    conn = gw.connection()
    seen = {"orders-v1": 0, "orders-v2": 0}
    for _ in range(200):
        r = gw.get("/v2/orders", host=host, conn=conn)
        seen[served_by(r)[0]] += 1
        assert r.json()["headers"].get("x-canary") == "true"
    conn.close()
    assert seen["orders-v2"] > 0 and seen["orders-v1"] > 3 * seen["orders-v2"], seen
    r = gw.get("/old/orders", host=host)
    assert r.status == 301 and r.header("Location") == "http://api.demo.local/v1/orders"
    r = gw.get("/orders/42?debug=1", host=host, headers={"Cookie": "session=1"})
    assert served_by(r)[0] == "orders-v2"
    assert r.json()["headers"].get("x-debug") == "true" and "cookie" not in r.json()["headers"]
    assert gw.get("/orders/42", host=host).status == 404
    r = gw.get("/ping", host=host)
    assert r.status == 200 and r.body == b'{"pong":true}'
    assert r.header("Content-Type") == "application/json"


def check_apiroute_policy(gw):
    host = "policy.demo.local"
    body = b"\0" * 2_000_000
    r = gw.request("/upload", method="POST", host=host, body=body)
    assert served_by(r)[0] == "web" and r.json()["bodyLength"] == len(body)
    assert status_of_upload(gw, host, "/notes", len(body)) == 413
    r = gw.get("/admin", host=host)
    assert r.status == 403 and r.json()["error"]["code"] == "forbidden"
    assert served_by(gw.get("/anything", host=host)) == ("web", "web-2")


def check_apiroute_auth(gw):
    host = "auth.demo.local"
    r = gw.get("/items", host=host)
    assert r.status == 401 and r.json()["error"]["code"] == "unauthorized"
    assert r.headers.get_all("WWW-Authenticate") == ['Basic realm="catalog"',
                                                     'APIKey header="X-API-Key"']
    assert gw.get("/items", host=host, headers={"X-API-Key": "wrong"}).status == 401
    r = gw.get("/items", host=host, headers={"X-API-Key": "demo-acme-key"})
    assert served_by(r)[0] == "orders-v1"
    upstream = r.json()["headers"]
    assert upstream["x-consumer-name"] == "acme" and upstream["x-consumer-groups"] == "customers"
    assert "x-api-key" not in upstream
    r = gw.get("/items?api_key=demo-acme-key&page=2", host=host)
    assert served_by(r)[0] == "orders-v1" and r.json()["path"] == "/items?page=2"
    logged = wait_until(lambda: [e for e in gw.access_log() if e["requestId"]
                                 == r.header("X-Request-Id")], 5, message="the access log line")
    assert logged[0]["path"] == "/items?page=2" and logged[0]["consumer"] == "acme"
    basic = {"Authorization": "Basic " + base64.b64encode(b"ops:demo-password").decode()}
    r = gw.get("/admin/users", host=host, headers=basic)
    assert served_by(r)[0] == "orders-v1" and r.json()["headers"]["x-consumer-name"] == "ops"
    assert "authorization" not in r.json()["headers"]
    r = gw.get("/admin/users", host=host, headers={"X-API-Key": "demo-acme-key"})
    assert r.status == 403 and r.json()["error"]["code"] == "forbidden"
    r = gw.get("/health", host=host)
    assert r.status == 200 and r.json() == {"ok": True}


def check_tls(gw):
    r = gw.get("/x?y=1", host="web.tls.demo.local")
    assert r.status == 308 and r.header("Location") == "https://web.tls.demo.local/x?y=1"
    r = gw.get("/x", host="api.tls.demo.local")
    assert r.status == 308 and r.header("Location") == "https://api.tls.demo.local/x"
    r = gw.https_get("/", host="api.tls.demo.local")
    assert served_by(r) == ("web", "web-1")
    assert r.header("Strict-Transport-Security") == "max-age=31536000"
    r = gw.https_get("/", host="web.tls.demo.local")
    assert served_by(r)[0] == "web" and r.header("Strict-Transport-Security") is None


def check_apiroute_cache(gw):
    host = "cache.demo.local"
    first = gw.get("/products/1", host=host)
    assert served_by(first)[0] == "orders-v1" and first.header("X-Cache") == "MISS", first
    r = gw.get("/products/1", host=host)
    assert r.status == 200 and r.header("X-Cache") == "HIT", r
    assert int(r.header("Age")) <= 2 and r.body == first.body  # the stored echo, as it was
    r = gw.get("/products/1", host=host, headers={"Cache-Control": "no-store"})
    assert served_by(r)[0] == "orders-v1" and r.header("X-Cache") == "BYPASS", r
    # The purge (loopback: no token needed), then the next request goes upstream again.
    r = http_request(gw.admin_port, "DELETE", "/cache?route=default/cache-demo&prefix=/products",
                     host=f"{LOOPBACK}:{gw.admin_port}")
    assert r.status == 200 and r.json() == {"purged": 1}, r
    r = gw.get("/products/1", host=host)
    assert served_by(r)[0] == "orders-v1" and r.header("X-Cache") == "MISS", r
    assert 'atrium_cache_requests_total{route="default/cache-demo/products",result="hit"} 1' \
        in gw.metrics()

    # stock: 3 tries fail with 503 (retries), which opens the circuit; then the fallback.
    r = gw.get("/stock/42", host=host, headers={"X-Echo-Status": "503"})
    assert r.status == 503 and r.json()["service"] == "orders-v1", r  # the backend's own 503
    r = gw.get("/stock/42", host=host)
    assert r.status == 503 and r.json() == {"stock": "unknown", "degraded": True}, r
    assert r.header("Content-Type") == "application/json"
    metrics = gw.metrics()
    assert 'atrium_circuit_state{route="default/cache-demo/stock",backend="default/cache-echo:80"} 1' \
        in metrics, metrics
    assert 'atrium_retries_total{route="default/cache-demo/stock",result="retried"} 2' in metrics
    assert 'atrium_circuit_rejections_total{route="default/cache-demo/stock"} 1' in metrics
    # Other rules of the route are not behind that circuit.
    assert gw.get("/products/1", host=host).header("X-Cache") == "HIT"


def usage_amount(requests: int, per_thousand: str) -> str:
    """What /usage bills: requests × price / 1000, exact, with at least 2 decimals."""
    text = format((Decimal(requests) * Decimal(per_thousand) / 1000).normalize(), "f")
    whole, _, decimals = text.partition(".")
    return f"{whole}.{decimals.ljust(2, '0')}"


def consumer_usage(gw, consumer: str) -> dict | None:
    r = gw.admin_get(f"/usage?consumer={consumer}")
    assert r.status == 200 and r.header("Content-Type") == "application/json", r
    found = r.json()["consumers"]
    return found[0] if found else None


def check_monetized_api(gw):
    host = "billing.demo.local"
    initech = {"X-API-Key": "demo-initech-key"}
    hobbyist = {"X-API-Key": "demo-hobbyist-key"}
    # Without a key: 401, and nothing metered.
    r = gw.get("/invoices", host=host)
    assert r.status == 401 and r.json()["error"]["code"] == "unauthorized"
    assert r.header("WWW-Authenticate") == 'APIKey header="X-API-Key"'

    # A keyed call: the consumer's bucket of 5 + 5 shows in the RateLimit-* headers.
    conn = gw.connection()
    r = gw.get("/invoices", host=host, headers=initech, conn=conn)
    assert served_by(r)[0] == "orders-v2"
    assert (r.header("RateLimit-Limit"), r.header("RateLimit-Remaining")) == ("10", "9"), r
    assert 1 <= int(r.header("RateLimit-Reset")) <= 2, r
    upstream = r.json()["headers"]
    assert upstream["x-consumer-name"] == "initech" and "x-api-key" not in upstream
    # Faster than 5 a second: the rest of the bucket, then 429 rate_limited. Tokens come back
    # at 5 a second meanwhile, so a slow machine may see one or two more pass.
    statuses = [200]
    started = time.monotonic()
    for _ in range(40):
        r = gw.get("/invoices", host=host, headers=initech, conn=conn)
        statuses.append(r.status)
        if r.status == 429:
            break
    refilled = math.ceil(5 * (time.monotonic() - started))
    assert r.status == 429 and 10 <= statuses.count(200) <= 10 + refilled + 1, statuses
    assert r.json()["error"]["code"] == "rate_limited"
    assert r.header("Retry-After") == "1"
    assert (r.header("RateLimit-Limit"), r.header("RateLimit-Remaining")) == ("10", "0"), r
    r = gw.get("/invoices", host=host, headers=hobbyist, conn=conn)  # a bucket of its own
    assert r.status == 200 and r.header("RateLimit-Remaining") == "9", r
    # The free plan: 10 calls a day (this one counts), then 429 quota_exceeded until midnight UTC.
    for _ in range(9):
        r = gw.get("/reports", host=host, headers=hobbyist, conn=conn)
        assert served_by(r)[0] == "orders-v2"
    r = gw.get("/reports", host=host, headers=hobbyist, conn=conn)
    conn.close()
    assert r.status == 429 and r.json()["error"]["code"] == "quota_exceeded", r
    now = datetime.now(timezone.utc)
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    assert abs(int(r.header("Retry-After")) - (midnight - now).total_seconds()) <= 3, r

    # /usage: this month, per consumer and route, with the paid plan's amount.
    allowed, refused = statuses.count(200), statuses.count(429)
    doc = wait_until(lambda: (u := consumer_usage(gw, "default/initech"))
                     and u["requests"] == allowed + refused and u, 5, message="initech's usage")
    assert doc["displayName"] == "Initech" and doc["namespace"] == "default"
    assert doc["status"] == {"1xx": 0, "2xx": allowed, "3xx": 0, "4xx": refused, "5xx": 0}
    assert doc["rejected"] == refused and doc["billableRequests"] == allowed
    assert doc["quota"] == {"requests": 100000, "period": "month"}
    assert doc["billing"] == {"currency": "USD", "perThousandRequests": "0.40",
                              "amount": usage_amount(allowed, "0.40")}
    assert [route["route"] for route in doc["routes"]] == ["default/billing/invoices"]
    free = wait_until(lambda: (u := consumer_usage(gw, "hobbyist")) and u["requests"] == 11 and u,
                      5, message="hobbyist's usage")
    assert (free["billableRequests"], free["rejected"]) == (10, 1) and "billing" not in free
    assert {route["route"]: route["requests"] for route in free["routes"]} == {
        "default/billing/invoices": 1, "default/billing/reports": 10}
    r = gw.admin_get("/usage")
    assert r.json()["period"] == now.strftime("%Y-%m") and r.json()["source"] == "memory"

    r = gw.admin_get("/usage?format=csv&consumer=default/initech")
    assert r.status == 200 and r.header("Content-Type").startswith("text/csv"), r
    [row] = list(csv.DictReader(io.StringIO(r.body.decode())))
    assert (row["period"], row["consumer"], row["route"]) == (
        now.strftime("%Y-%m"), "initech", "default/billing/invoices")
    assert (int(row["requests"]), int(row["rejected"]), int(row["billable_requests"])) == (
        allowed + refused, refused, allowed)
    assert (row["currency"], row["amount"]) == ("USD", usage_amount(allowed, "0.40"))


def check_apiroute_aggregate(gw):
    host = "profile.demo.local"
    r = http_request(gw.port, "GET", "/profile?id=42", host=host)
    assert r.status == 200, r
    doc = r.json()
    assert list(doc) == ["user", "orders", "_status"]
    assert doc["user"]["service"] == "web" and doc["user"]["path"] == "/users/42"
    assert doc["orders"]["service"] == "orders-v1"
    assert doc["orders"]["path"] == "/orders?user=42&lang="
    assert doc["_status"] == {"user": 200, "orders": 200}
    r = http_request(gw.port, "GET", "/profile?id=../admin", host=host)
    assert r.json()["user"]["path"] == "/users/..%2Fadmin"
    assert r.json()["orders"]["path"] == "/orders?user=..%2Fadmin&lang="
    preflight = {"Origin": "https://app.demo.local", "Access-Control-Request-Method": "GET"}
    r = http_request(gw.port, "OPTIONS", "/profile", host=host, headers=preflight)
    assert r.status == 204 and r.header("Access-Control-Allow-Origin") == "https://app.demo.local"
    r = http_request(gw.port, "OPTIONS", "/profile", host=host,
                     headers={**preflight, "Origin": "https://evil.example"})
    assert r.status == 403


CHECKS = {"ingress-basics": check_ingress_basics, "ingress-class": check_ingress_class,
          "ingress-annotations": check_ingress_annotations,
          "apiroute-routing": check_apiroute_routing, "apiroute-policy": check_apiroute_policy,
          "apiroute-cache": check_apiroute_cache, "apiroute-aggregate": check_apiroute_aggregate,
          "apiroute-auth": check_apiroute_auth, "tls": check_tls,
          "monetized-api": check_monetized_api}


def test_every_folder_has_its_requests_checked():
    assert set(CHECKS) == set(FOLDERS)


def test_quick_start_of_the_readme(serve):
    gw = serve(FOLDERS)
    # README: run it twice to see both demo backends; /config shows what is served.
    first = served_by(gw.get("/", host="demo.local"))
    second = served_by(gw.get("/", host="demo.local"))
    assert {first[1], second[1]} == {"web-1", "web-2"}
    snapshot = gw.config()["snapshot"]
    hosts = {vh["hostname"] for vh in snapshot["virtual_hosts"]}
    assert {"demo.local", "api.demo.local"} <= hosts, hosts
    # What scripts/run-examples.sh prints: an APIRoute and HTTPS with the self-signed default.
    assert served_by(gw.get("/v1/orders", host="api.demo.local"))[0] == "orders-v1"
    r = gw.https_get("/", host="demo.local")
    assert served_by(r)[0] == "web"


@pytest.mark.parametrize("folder", FOLDERS)
def test_folder_served_with_all_the_others(serve, folder):
    CHECKS[folder](serve(FOLDERS))


@pytest.mark.parametrize("folder", FOLDERS)
def test_folder_served_alone(serve, folder):
    gw = serve([folder])
    CHECKS[folder](gw)
    if folder != "ingress-basics":
        assert gw.get("/", host="demo.local").status == 404  # nothing of the other folders


# --------------------------------------------------------------------------------------------
# examples/tls: the README's own commands


def readme_blocks(path) -> list[str]:
    return re.findall(r"^```sh\n(.*?)^```", path.read_text(), re.M | re.S)


def test_tls_readme_commands_make_a_certificate_atrium_serves(tmp_path, backends):
    blocks = readme_blocks(EXAMPLES / "tls" / "README.md")
    make_cert = [b for b in blocks if "openssl req" in b]
    make_secret = [b for b in blocks if "kind: Secret" in b]
    assert len(make_cert) == 1 and len(make_secret) == 1, blocks
    shutil.copytree(EXAMPLES / "tls", tmp_path / "examples" / "tls")
    script = (make_cert[0] + make_secret[0]).replace("/tmp/", f"{tmp_path}/")
    r = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=tmp_path,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    secret = tmp_path / "examples" / "tls" / "local" / "demo-tls.yaml"
    assert secret.is_file()
    # The file the commands write is the one .gitignore keeps out of the repository.
    ignored = (EXAMPLES / "tls" / ".gitignore").read_text().split()
    assert "local/demo-tls.yaml" in ignored

    r = check(tmp_path / "examples" / "tls")
    assert r.returncode == 0 and problems(r) == [], r.stdout + r.stderr

    ports = {fixed: b.port for fixed, b in backends.items()}
    gw = Atrium(tmp_path / "gw", copy_of(["tls"], ports, root=tmp_path / "examples"))
    try:
        context = tls_client_context(cafile=tmp_path / "demo-tls.crt")
        leaf = ssl.PEM_cert_to_DER_cert((tmp_path / "demo-tls.crt").read_text())
        for host in ("web.tls.demo.local", "api.tls.demo.local"):
            r = gw.https_get("/", host=host, context=context)  # verified against the new cert
            assert served_by(r)[0] == "web"
            assert r.tls["cert"] == leaf
    finally:
        stop_and_check(gw)
