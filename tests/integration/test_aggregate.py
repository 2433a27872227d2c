"""Aggregate routes (SPEC §5.5): a bundle of calls to several services answered as one JSON
object, with the calls made concurrently, placeholders filled safely, Partial and Fail error
handling, the consumer's identity forwarded, the bundle cached, and each part's size bounded."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import LOOPBACK, apiroute, service_docs


class ScriptedBackend:
    """An HTTP server on loopback whose answer is fixed: status, JSON or text body, delay.
    Records each request's path and headers and the moments requests arrive."""

    def __init__(self, status=200, body=None, content_type="application/json", delay=0.0,
                 close=False):
        self.status, self.content_type, self.delay, self.close = status, content_type, delay, close
        self.body = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.requests = []  # (method, path, headers dict)
        self.arrivals = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_any(self):
                outer.arrivals.append(time.monotonic())
                outer.requests.append((self.command, self.path,
                                       {k.lower(): v for k, v in self.headers.items()}))
                if outer.delay:
                    time.sleep(outer.delay)
                if outer.close:
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                self.send_response(outer.status)
                self.send_header("Content-Type", outer.content_type)
                self.send_header("Content-Length", str(len(outer.body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(outer.body)

            do_GET = do_POST = do_HEAD = do_any

            def log_message(self, *args):
                pass

        class QuietServer(ThreadingHTTPServer):
            def handle_error(self, request, client_address):
                pass  # the `close` backend cuts connections on purpose

        self.server = QuietServer((LOOPBACK, 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def scripted():
    started = []

    def start(**kwargs):
        b = ScriptedBackend(**kwargs)
        started.append(b)
        return b

    yield start
    for b in started:
        b.stop()


HOST = "bundle.example.com"


def call(name, service, path="/", **extra):
    return {"name": name, "service": {"name": service, "port": 80}, "path": path, **extra}


def bundle_route(calls, **aggregate):
    return apiroute("bundle", {
        "hostnames": [HOST],
        "rules": [{"matches": [{"path": {"type": "Exact", "value": "/bundle"}}],
                   "aggregate": {"calls": calls, **aggregate}}],
    })


def test_three_services_partial_with_a_slow_and_a_failing_call(scripted, gateway):
    users = scripted(body={"id": 42, "name": "Ada"})
    orders = scripted(body=[{"order": 1}, {"order": 2}], delay=0.6)
    broken = scripted(status=500, body={"trace": "secret internals"})
    g = gateway({
        "svc.yaml": service_docs("users", [users.port]) + service_docs("orders", [orders.port])
        + service_docs("broken", [broken.port]),
        "route.yaml": bundle_route([
            call("user", "users", "/users/{query.id}"),
            call("orders", "orders", "/orders?user={query.id}"),
            call("stats", "broken", "/stats"),
        ], timeout="3s", onError="Partial"),
    })
    start = time.monotonic()
    r = g.get("/bundle?id=42", host=HOST)
    elapsed = time.monotonic() - start
    assert r.status == 200, r
    assert r.header("Content-Type") == "application/json"
    doc = r.json()
    assert list(doc) == ["user", "orders", "stats", "_status"]
    assert doc["user"] == {"id": 42, "name": "Ada"}
    assert doc["orders"] == [{"order": 1}, {"order": 2}]
    assert doc["stats"]["error"]["status"] == 500
    assert "secret" not in r.body.decode()
    assert doc["_status"] == {"user": 200, "orders": 200, "stats": 500}
    # The placeholders reached the services, each encoded for its place.
    assert users.requests[-1][1] == "/users/42"
    assert orders.requests[-1][1] == "/orders?user=42"
    # Concurrent: the bundle takes about as long as its slowest call, not the sum.
    assert 0.6 <= elapsed < 1.2, elapsed


def test_calls_reach_the_backends_concurrently(scripted, gateway):
    backends = [scripted(body={"n": i}, delay=0.5) for i in range(3)]
    docs = []
    for i, b in enumerate(backends):
        docs += service_docs(f"s{i}", [b.port])
    g = gateway({"svc.yaml": docs,
                 "route.yaml": bundle_route([call(f"c{i}", f"s{i}") for i in range(3)])})
    start = time.monotonic()
    r = g.get("/bundle", host=HOST)
    elapsed = time.monotonic() - start
    assert r.status == 200 and r.json()["c2"] == {"n": 2}, r
    assert elapsed < 1.0, elapsed  # three calls of 0.5 s each, not 1.5 s
    arrivals = [b.arrivals[-1] for b in backends]
    assert max(arrivals) - min(arrivals) < 0.3, arrivals


def test_fail_answers_502_and_partial_turns_timeouts_into_error_entries(scripted, gateway):
    fast = scripted(body={"ok": True})
    slow = scripted(body={"late": True}, delay=2.0)
    docs = service_docs("fast", [fast.port]) + service_docs("slow", [slow.port])
    g = gateway({"svc.yaml": docs, "route.yaml": apiroute("bundle", {
        "hostnames": [HOST],
        "rules": [
            {"matches": [{"path": {"type": "Exact", "value": "/partial"}}],
             "aggregate": {"calls": [call("fast", "fast"), call("slow", "slow")],
                           "timeout": "400ms", "onError": "Partial"}},
            {"matches": [{"path": {"type": "Exact", "value": "/fail"}}],
             "aggregate": {"calls": [call("fast", "fast"), call("slow", "slow")],
                           "timeout": "400ms", "onError": "Fail"}},
        ]})})
    start = time.monotonic()
    r = g.get("/partial", host=HOST)
    assert time.monotonic() - start < 1.5
    assert r.status == 200, r
    doc = r.json()
    assert doc["fast"] == {"ok": True}
    assert doc["slow"]["error"]["code"] == "upstream_timeout"
    assert doc["_status"] == {"fast": 200, "slow": 504}

    r = g.get("/fail", host=HOST)
    assert r.status == 502, r
    err = r.json()["error"]
    assert err["code"] == "bad_gateway" and "slow" in err["message"]


def test_unreachable_and_unresolved_calls(scripted, gateway):
    ok = scripted(body={"ok": True}, content_type="text/plain")
    closing = scripted(close=True)
    g = gateway({"svc.yaml": service_docs("ok", [ok.port]) + service_docs("closing", [closing.port])
                 + service_docs("down", [1]),
                 "route.yaml": bundle_route([call("ok", "ok"), call("closing", "closing"),
                                             call("down", "down"), call("ghost", "nosuchservice")])})
    r = g.get("/bundle", host=HOST)
    assert r.status == 200, r
    doc = r.json()
    assert doc["ok"] == '{"ok": true}'  # not labelled JSON: embedded as a string
    assert doc["closing"]["error"]["code"] == "bad_gateway"
    assert doc["down"]["error"]["code"] == "bad_gateway"
    assert doc["ghost"]["error"]["code"] == "backend_not_resolved"
    assert doc["_status"] == {"ok": 200, "closing": 502, "down": 502, "ghost": 500}


def test_placeholders_cannot_escape_their_place(scripted, gateway):
    users = scripted(body={})
    g = gateway({"svc.yaml": service_docs("users", [users.port]),
                 "route.yaml": bundle_route([
                     call("u", "users", "/users/{query.id}?tenant={header.x-tenant}&from={path}")])})
    attempts = {
        "..": "/users/%2E%2E",
        "../admin": "/users/..%2Fadmin",
        "a%2Fb": "/users/a%2Fb",
        "x%0D%0AHost:%20evil": "/users/x%0D%0AHost%3A%20evil",
        "me@evil.example": "/users/me%40evil.example",
        "http://evil.example/": "/users/http%3A%2F%2Fevil.example%2F",
    }
    for raw, expected in attempts.items():
        r = g.get("/bundle?id=" + raw.replace(":", "%3A").replace("/", "%2F") if raw.startswith("http")
                  else "/bundle?id=" + raw, host=HOST, headers={"X-Tenant": "a&admin=1"})
        assert r.status == 200, (raw, r)
        method, path, headers = users.requests[-1]
        assert path == expected + "?tenant=a%26admin%3D1&from=%2Fbundle", (raw, path)
        assert headers["host"] == HOST


def test_identity_headers_reach_every_call_and_the_bundle_is_cached(scripted, gateway):
    a = scripted(body={"a": 1})
    b = scripted(body={"b": 2})
    consumer = {"apiVersion": "atrium.dev/v1alpha1", "kind": "APIConsumer",
                "metadata": {"name": "acme", "namespace": "default"},
                "spec": {"groups": ["gold"], "credentials": {"apiKeys": [
                    {"secretRef": {"name": "acme-key", "key": "key"}}]}}}
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "acme-key", "namespace": "default"},
              "stringData": {"key": "k-123"}}
    route = apiroute("bundle", {
        "hostnames": [HOST],
        "policy": {"auth": {"type": "APIKey"}, "cache": {"ttl": "30s"}},
        "rules": [{"matches": [{"path": {"type": "Exact", "value": "/bundle"}}],
                   "aggregate": {"calls": [call("a", "sa"), call("b", "sb")]}}],
    })
    g = gateway({"svc.yaml": service_docs("sa", [a.port]) + service_docs("sb", [b.port]),
                 "auth.yaml": [consumer, secret], "route.yaml": route})
    assert g.get("/bundle", host=HOST).status == 401
    r1 = g.get("/bundle", host=HOST, headers={"X-API-Key": "k-123", "X-Consumer-Name": "forged"})
    assert r1.status == 200, r1
    assert r1.json() == {"a": {"a": 1}, "b": {"b": 2}, "_status": {"a": 200, "b": 200}}
    assert r1.header("X-Cache") == "MISS"
    for backend in (a, b):
        headers = backend.requests[-1][2]
        assert headers["x-consumer-name"] == "acme"
        assert headers["x-consumer-groups"] == "gold"
        assert headers["x-request-id"] == r1.header("X-Request-Id")
        assert headers["accept-encoding"] == "identity"
    r2 = g.get("/bundle", host=HOST, headers={"X-API-Key": "k-123"})
    assert r2.status == 200 and r2.header("X-Cache") == "HIT", r2
    assert r2.body == r1.body
    assert len(a.requests) == 1 and len(b.requests) == 1


def test_each_part_is_bounded(scripted, gateway):
    big = scripted(body=b"x" * 300_000, content_type="text/plain")
    small = scripted(body={"fine": True})
    g = gateway({"svc.yaml": service_docs("big", [big.port]) + service_docs("small", [small.port]),
                 "route.yaml": bundle_route([call("big", "big"), call("small", "small")],
                                            maxCallBodySize="64Ki")})
    r = g.get("/bundle", host=HOST)
    assert r.status == 200, r
    doc = r.json()
    assert doc["big"]["error"]["code"] == "bad_gateway"
    assert "65536" in doc["big"]["error"]["message"]
    assert doc["small"] == {"fine": True}
    assert len(r.body) < 2000


def test_an_upgrade_request_gets_the_bundle_not_a_websocket(scripted, gateway):
    a = scripted(body={"a": 1})
    g = gateway({"svc.yaml": service_docs("sa", [a.port]),
                 "route.yaml": bundle_route([call("a", "sa")])})
    r = g.get("/bundle", host=HOST, headers={
        "Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="})
    assert r.status == 200 and r.json()["a"] == {"a": 1}, r
    headers = a.requests[-1][2]
    assert "upgrade" not in headers
