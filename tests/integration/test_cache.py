"""The response cache (SPEC §3.2 policy.cache, §5.4), end to end: the real binary in front of
a Python backend that counts the requests it gets and answers with the headers a test asks for.

- a second GET is a HIT and never reaches the backend; Age and X-Cache on every answer;
- Cache-Control (no-store, private, max-age, s-maxage, request no-store), Vary (the route's and
  the response's own), Set-Cookie, per-consumer entries for authenticated requests;
- HEAD from the GET entry, If-None-Match / If-Modified-Since answered 304 from the cache;
- 100 concurrent misses for one key → one upstream request;
- backend stopped → STALE within staleIfError, then the route's fallback, then 503/502 JSON;
- DELETE /cache purges what it names and nothing else; a changed policy drops a route's entries.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import LOOPBACK, apiroute, http_request, wait_until
from test_admin import metric_value
from test_auth import api_key, consumer, secret

HOST = "cache.example.com"


class CountingBackend:
    """Counts requests per path; the answer's headers come from the `responses` table (by
    path) or the request's `X-Reply-*` headers; `delay` (seconds) slows every answer."""

    def __init__(self):
        self.counts: dict[str, int] = {}
        self.lock = threading.Lock()
        self.responses: dict[str, dict] = {}
        self.delay = 0.0
        self.connections: list = []
        backend = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def setup(self):
                super().setup()
                with backend.lock:
                    backend.connections.append(self.connection)

            def do_GET(self):
                self._answer(body=True)

            def do_HEAD(self):
                self._answer(body=False)

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                self._answer(body=True)

            def _answer(self, body: bool):
                path = self.path.split("?")[0]
                with backend.lock:
                    backend.counts[path] = backend.counts.get(path, 0) + 1
                    n = backend.counts[path]
                if backend.delay:
                    time.sleep(backend.delay)
                spec = backend.responses.get(path, {})
                status = spec.get("status", 200)
                payload = json.dumps({"path": self.path, "n": n,
                                      "lang": self.headers.get("Accept-Language"),
                                      "consumer": self.headers.get("X-Consumer-Name")}).encode()
                self.send_response(status)
                headers = {"Content-Type": "application/json",
                           "Cache-Control": "max-age=60", **spec.get("headers", {})}
                for name, value in headers.items():
                    if value is not None:
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if body:
                    self.wfile.write(payload)

        self.server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def count(self, path: str) -> int:
        with self.lock:
            return self.counts.get(path, 0)

    def stop(self):
        """Stops listening and cuts every open connection (pooled keep-alive ones included)."""
        self.server.shutdown()
        self.server.server_close()
        with self.lock:
            for c in self.connections:
                try:
                    c.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


@pytest.fixture
def backend():
    started = []

    def start() -> CountingBackend:
        b = CountingBackend()
        started.append(b)
        return b

    yield start
    for b in started:
        try:
            b.stop()
        except Exception:  # noqa: BLE001 - already stopped by the test
            pass


def cached_route(port: int, cache: dict | None = None, name: str = "cached",
                 fallback: dict | None = None, auth: dict | None = None, **policy) -> dict:
    pol: dict = {"cache": cache if cache is not None else {"ttl": "30s"}, **policy}
    if fallback:
        pol["fallback"] = fallback
    if auth:
        pol["auth"] = auth
    return apiroute(name, {"hostnames": [HOST], "policy": pol,
                           "rules": [{"name": "all",
                                      "backends": [{"url": f"http://{LOOPBACK}:{port}"}]}]})


def get(gw, path="/", headers: dict | None = None, method="GET"):
    return http_request(gw.port, method, path, host=HOST, headers=headers or {})


def test_second_get_is_a_hit_and_never_reaches_the_backend(gateway, backend):
    b = backend()
    gw = gateway({"r.yaml": [cached_route(b.port)]})
    first = get(gw, "/items?b=2&a=1")
    assert first.status == 200 and first.header("X-Cache") == "MISS", first
    second = get(gw, "/items?a=1&b=2")  # the same query in another order
    assert second.status == 200 and second.header("X-Cache") == "HIT", second
    assert second.body == first.body
    assert second.header("Age") is not None and int(second.header("Age")) >= 0
    assert second.header("X-Request-Id") != first.header("X-Request-Id")
    assert b.count("/items") == 1
    time.sleep(1.1)
    assert int(get(gw, "/items?a=1&b=2").header("Age")) >= 1
    # HEAD is answered from the GET entry, with the GET's length and no body.
    head = get(gw, "/items?a=1&b=2", method="HEAD")
    assert head.status == 200 and head.header("X-Cache") == "HIT" and head.body == b""
    assert head.header("Content-Length") == str(len(first.body))
    assert b.count("/items") == 1
    records = wait_until(lambda: (e := [r for r in gw.access_log()
                                        if r.get("path", "").startswith("/items")])
                         and len(e) >= 4 and e, 5, message="access log")
    assert [r.get("cache") for r in records[:4]] == ["MISS", "HIT", "HIT", "HIT"], records
    assert records[1]["upstream"] == "cache"
    metrics = gw.metrics()
    assert metric_value(metrics, "atrium_cache_requests_total",
                        {"route": "default/cached/all", "result": "hit"}) == 3
    assert metric_value(metrics, "atrium_cache_requests_total",
                        {"route": "default/cached/all", "result": "miss"}) == 1
    assert metric_value(metrics, "atrium_cache_entries") == 1
    assert metric_value(metrics, "atrium_cache_bytes") > len(first.body)


def test_cache_control_decides_what_is_stored(gateway, backend):
    b = backend()
    b.responses = {"/nostore": {"headers": {"Cache-Control": "no-store"}},
                   "/private": {"headers": {"Cache-Control": "private, max-age=60"}},
                   "/cookie": {"headers": {"Set-Cookie": "session=abc"}},
                   "/short": {"headers": {"Cache-Control": "max-age=1"}},
                   "/error": {"status": 500, "headers": {"Cache-Control": None}}}
    gw = gateway({"r.yaml": [cached_route(b.port, {"ttl": "30s"})]})
    for path in ("/nostore", "/private", "/cookie", "/error"):
        for _ in range(2):
            assert get(gw, path).header("X-Cache") == "MISS", path
        assert b.count(path) == 2, path
    assert get(gw, "/short").header("X-Cache") == "MISS"
    assert get(gw, "/short").header("X-Cache") == "HIT"
    time.sleep(1.2)  # max-age=1 wins over the route's ttl
    assert get(gw, "/short").header("X-Cache") == "MISS"
    # A client's no-store goes around the cache.
    r = get(gw, "/short", headers={"Cache-Control": "no-store"})
    assert r.header("X-Cache") == "BYPASS"
    # POST is not in the default methods.
    assert http_request(gw.port, "POST", "/short", host=HOST, body=b"x").header("X-Cache") == "BYPASS"


def test_vary_keeps_one_entry_per_variant(gateway, backend):
    b = backend()
    b.responses = {"/v": {"headers": {"Vary": "Accept-Language"}}}
    gw = gateway({"r.yaml": [cached_route(b.port)]})
    en = get(gw, "/v", {"Accept-Language": "en"})
    fr = get(gw, "/v", {"Accept-Language": "fr"})
    assert en.header("X-Cache") == "MISS" and fr.header("X-Cache") == "MISS"
    assert get(gw, "/v", {"Accept-Language": "en"}).json()["lang"] == "en"
    assert get(gw, "/v", {"Accept-Language": "fr"}).json()["lang"] == "fr"
    assert get(gw, "/v", {"Accept-Language": "fr"}).header("X-Cache") == "HIT"
    assert b.count("/v") == 2
    # The route's own vary list does the same for a header the response does not name.
    gw2 = gateway({"r.yaml": [cached_route(b.port, {"ttl": "30s", "vary": ["X-Tenant"]},
                                           name="tenants")]})
    get(gw2, "/t", {"X-Tenant": "a"})
    get(gw2, "/t", {"X-Tenant": "b"})
    assert get(gw2, "/t", {"X-Tenant": "a"}).header("X-Cache") == "HIT"
    assert b.count("/t") == 2


def test_conditional_requests_are_answered_304_from_the_cache(gateway, backend):
    b = backend()
    b.responses = {"/e": {"headers": {"ETag": '"v1"',
                                      "Last-Modified": "Wed, 21 Oct 2026 07:28:00 GMT"}}}
    gw = gateway({"r.yaml": [cached_route(b.port)]})
    assert get(gw, "/e").status == 200
    r = get(gw, "/e", {"If-None-Match": 'W/"v1"'})
    assert r.status == 304 and r.body == b"" and r.header("ETag") == '"v1"', r
    assert r.header("X-Cache") == "HIT"
    assert get(gw, "/e", {"If-None-Match": '"v2"'}).status == 200
    assert get(gw, "/e", {"If-Modified-Since": "Thu, 22 Oct 2026 07:28:00 GMT"}).status == 304
    assert get(gw, "/e", {"If-Modified-Since": "Tue, 20 Oct 2026 07:28:00 GMT"}).status == 200
    assert b.count("/e") == 1


def test_authenticated_responses_are_kept_per_consumer(gateway, backend):
    b = backend()
    docs = [secret("k1", {"key": "key-one"}), secret("k2", {"key": "key-two"}),
            consumer("one", api_keys=[("k1", "key")]), consumer("two", api_keys=[("k2", "key")])]
    gw = gateway({"c.yaml": docs, "r.yaml": [cached_route(b.port, auth=api_key())]})
    assert get(gw, "/me", {"X-API-Key": "key-one"}).json()["consumer"] == "one"
    two = get(gw, "/me", {"X-API-Key": "key-two"})
    assert two.header("X-Cache") == "MISS" and two.json()["consumer"] == "two"
    assert get(gw, "/me", {"X-API-Key": "key-one"}).json()["consumer"] == "one"
    assert b.count("/me") == 2
    shared = gateway({"c.yaml": docs, "r.yaml": [cached_route(
        b.port, {"ttl": "30s", "shareAcrossConsumers": True}, name="shared", auth=api_key())]})
    get(shared, "/s", {"X-API-Key": "key-one"})
    assert get(shared, "/s", {"X-API-Key": "key-two"}).header("X-Cache") == "HIT"


def test_concurrent_misses_are_collapsed_into_one_upstream_request(gateway, backend):
    b = backend()
    b.delay = 0.5
    gw = gateway({"r.yaml": [cached_route(b.port)]}, threads=2)
    results = []
    lock = threading.Lock()

    def one():
        r = get(gw, "/slow")
        with lock:
            results.append(r)

    threads = [threading.Thread(target=one) for _ in range(100)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(results) == 100 and all(r.status == 200 for r in results)
    assert b.count("/slow") == 1
    assert len({r.body for r in results}) == 1
    assert metric_value(gw.metrics(), "atrium_cache_collapsed_requests_total") >= 90


def test_stale_if_error_then_fallback_then_error(gateway, backend):
    b = backend()
    b.responses = {"/p": {"headers": {"Cache-Control": "max-age=1"}}}
    fallback = {"status": 200, "contentType": "application/json", "body": '{"fallback":true}'}
    gw = gateway({"r.yaml": [cached_route(b.port, {"ttl": "1s", "staleIfError": "30s"},
                                          fallback=fallback)]})
    fresh = get(gw, "/p")
    assert fresh.header("X-Cache") == "MISS"
    b.stop()
    time.sleep(1.2)
    stale = get(gw, "/p")
    assert stale.status == 200 and stale.header("X-Cache") == "STALE", stale
    assert stale.body == fresh.body
    # An error answered by the upstream is covered the same way (RFC 5861 stale-if-error).
    b2 = backend()
    b2.responses = {"/q": {"headers": {"Cache-Control": "max-age=1"}}}
    gw2 = gateway({"r.yaml": [cached_route(b2.port, {"ttl": "1s", "staleIfError": "30s"},
                                           name="errors")]})
    ok = get(gw2, "/q")
    b2.responses = {"/q": {"status": 503, "headers": {"Cache-Control": None}}}
    time.sleep(1.2)
    r = get(gw2, "/q")
    assert r.status == 200 and r.header("X-Cache") == "STALE" and r.body == ok.body, r
    # Nothing stored for this path: the route's fallback answers.
    r = get(gw, "/never-seen")
    assert r.status == 200 and r.json() == {"fallback": True}, r
    # Without a fallback: the JSON error.
    plain = gateway({"r.yaml": [cached_route(b.port, {"ttl": "1s"}, name="plain")]})
    r = get(plain, "/x")
    assert r.status == 502 and r.json()["error"]["code"] == "bad_gateway", r
    assert metric_value(gw.metrics(), "atrium_cache_stale_served_total") == 1


def test_purge_drops_what_it_names_and_nothing_else(gateway, backend):
    b = backend()
    other = apiroute("other", {"hostnames": ["other.example.com"], "policy": {"cache": {"ttl": "30s"}},
                               "rules": [{"backends": [{"url": f"http://{LOOPBACK}:{b.port}"}]}]})
    gw = gateway({"r.yaml": [cached_route(b.port), other]})
    for path in ("/a/1", "/a/2", "/b/1"):
        get(gw, path)
    http_request(gw.port, "GET", "/a/1", host="other.example.com")
    r = http_request(gw.admin_port, "DELETE", "/cache?route=default/cached&prefix=/a",
                     host=f"{LOOPBACK}:{gw.admin_port}")
    assert r.status == 200 and r.json() == {"purged": 2}, r
    assert get(gw, "/a/1").header("X-Cache") == "MISS"
    assert get(gw, "/b/1").header("X-Cache") == "HIT"
    assert http_request(gw.port, "GET", "/a/1", host="other.example.com").header("X-Cache") == "HIT"
    r = http_request(gw.admin_port, "DELETE", "/cache", host=f"{LOOPBACK}:{gw.admin_port}")
    assert r.json()["purged"] == 3
    assert get(gw, "/b/1").header("X-Cache") == "MISS"
    bad = http_request(gw.admin_port, "DELETE", "/cache?prefix=a", host=f"{LOOPBACK}:{gw.admin_port}")
    assert bad.status == 400


def test_a_changed_cache_policy_drops_the_routes_entries(gateway, backend):
    b = backend()
    gw = gateway({"r.yaml": [cached_route(b.port, {"ttl": "30s"})]})
    get(gw, "/x")
    assert get(gw, "/x").header("X-Cache") == "HIT"
    gw.apply("r.yaml", [cached_route(b.port, {"ttl": "40s"})])
    assert get(gw, "/x").header("X-Cache") == "MISS"
    # An unrelated change keeps them.
    gw.apply("extra.yaml", [apiroute("unrelated", {"hostnames": ["u.example.com"], "rules": [
        {"directResponse": {"status": 200, "body": "ok"}}]})])
    assert get(gw, "/x").header("X-Cache") == "HIT"
