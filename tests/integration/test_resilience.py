"""Resilience (SPEC §3.2 timeouts/retries/circuitBreaker/fallback, §5.8), end to end with real
backends that count what they get:

- a slow backend answers 504 upstream_timeout at the route's timeout;
- retries go to another endpoint, on the statuses listed, and never repeat a POST;
- a circuit breaker opens after N failures (503 circuit_open without calling the backend) and
  closes again through a half-open probe;
- the route's fallback answers when nothing can serve; without one, the JSON 503.
"""

from __future__ import annotations

import time

from conftest import apiroute, http_request, service_docs, wait_until
from test_admin import metric_value
from test_cache import CountingBackend, backend  # noqa: F401 - the fixture is used by name

HOST = "res.example.com"


def route(service: str, name: str = "res", **policy) -> dict:
    return apiroute(name, {"hostnames": [HOST], "policy": policy,
                           "rules": [{"name": "all",
                                      "backends": [{"service": {"name": service, "port": 80}}]}]})


def get(gw, path="/", method="GET", body=None):
    return http_request(gw.port, method, path, host=HOST, body=body)


def test_slow_backend_answers_504_at_the_request_timeout(gateway, backend):
    b = backend()
    b.delay = 3
    gw = gateway({"r.yaml": [*service_docs("slow", [b.port]),
                             route("slow", timeouts={"request": "500ms"})]})
    start = time.monotonic()
    r = get(gw)
    elapsed = time.monotonic() - start
    assert r.status == 504 and r.json()["error"]["code"] == "upstream_timeout", r
    assert 0.4 <= elapsed < 1.5, elapsed


def test_retries_go_to_another_endpoint_and_never_repeat_a_post(gateway, backend):
    failing, healthy = backend(), backend()
    failing.responses = {"/": {"status": 503, "headers": {"Cache-Control": None}}}
    gw = gateway({"r.yaml": [*service_docs("pair", [failing, healthy]),
                             route("pair", retries={"attempts": 2, "retryOn": ["503"],
                                                    "backoff": "1ms"})]})
    statuses = [get(gw).status for _ in range(20)]
    metrics = gw.metrics()
    retried = metric_value(metrics, "atrium_retries_total",
                           {"route": "default/res/all", "result": "retried"}) or 0
    refused = metric_value(metrics, "atrium_retries_total",
                           {"route": "default/res/all", "result": "budget_exhausted"}) or 0
    # Round robin sends about half the first tries to the failing endpoint; each is retried on
    # the healthy one, until the retry budget (20% of the requests, at least 3 a second) says
    # no and the 503 reaches the client.
    assert 5 <= failing.count("/") <= 15, failing.count("/")
    assert retried >= 3 and failing.count("/") == retried + refused, (retried, refused)
    assert healthy.count("/") == statuses.count(200)
    assert statuses.count(503) == refused and statuses.count(200) == 20 - refused, statuses
    before = failing.count("/") + healthy.count("/")
    posts = [get(gw, method="POST", body=b"order").status for _ in range(10)]
    assert set(posts) <= {200, 503}, posts
    assert failing.count("/") + healthy.count("/") - before == 10  # each POST sent once


def test_post_is_never_retried(gateway, backend):
    failing = backend()
    failing.responses = {"/": {"status": 503, "headers": {"Cache-Control": None}}}
    gw = gateway({"r.yaml": [*service_docs("one", [failing]),
                             route("one", retries={"attempts": 3, "retryOn": ["503"],
                                                   "backoff": "1ms"})]})
    assert get(gw, method="POST", body=b"x").status == 503
    assert failing.count("/") == 1
    assert get(gw).status == 503  # a GET is retried: 4 tries in all
    assert failing.count("/") == 5


def test_failing_endpoint_is_ejected_and_skipped(gateway, backend):
    failing, healthy = backend(), backend()
    failing.responses = {"/": {"status": 502, "headers": {"Cache-Control": None}}}
    gw = gateway({"r.yaml": [*service_docs("pair", [failing, healthy]), route("pair")]})
    statuses = [get(gw).status for _ in range(30)]
    # Five failures in a row eject it (for 30 s); then every request goes to the healthy one.
    assert failing.count("/") == 5, failing.count("/")
    assert statuses.count(502) == 5 and healthy.count("/") == 25
    assert "ejected after consecutive failures" in gw.stderr()
    metrics = gw.metrics()
    assert metric_value(metrics, "atrium_outlier_ejections_total", {"backend": "default/pair:80"}) == 1
    assert metric_value(metrics, "atrium_endpoints_ejected", {"backend": "default/pair:80"}) == 1


def test_circuit_breaker_opens_and_recovers_through_half_open(gateway, backend):
    b = backend()
    b.responses = {"/": {"status": 503, "headers": {"Cache-Control": None}}}
    gw = gateway({"r.yaml": [*service_docs("flaky", [b.port]),
                             route("flaky", circuitBreaker={"consecutiveFailures": 3,
                                                            "openFor": "1s"})]}, threads=1)
    assert [get(gw).status for _ in range(3)] == [503, 503, 503]
    assert b.count("/") == 3
    r = get(gw)
    assert r.status == 503 and r.json()["error"]["code"] == "circuit_open", r
    assert b.count("/") == 3  # the open circuit did not call the backend
    metrics = gw.metrics()
    assert metric_value(metrics, "atrium_circuit_state", {"route": "default/res/all"}) == 1
    assert metric_value(metrics, "atrium_circuit_rejections_total",
                        {"route": "default/res/all"}) == 1
    b.responses = {}
    time.sleep(1.1)
    assert get(gw).status == 200  # the half-open probe succeeds
    assert [get(gw).status for _ in range(3)] == [200, 200, 200]
    assert metric_value(gw.metrics(), "atrium_circuit_state", {"route": "default/res/all"}) == 0


def test_fallback_answers_when_nothing_can_serve(gateway, backend):
    b = backend()
    fallback = {"status": 200, "contentType": "application/json", "body": '{"items":[]}'}
    docs = service_docs("empty", [])  # a Service without ready endpoints
    gw = gateway({"r.yaml": [*docs, route("empty", fallback=fallback)]})
    r = get(gw)
    assert r.status == 200 and r.json() == {"items": []}, r
    assert r.header("Content-Type") == "application/json"
    # The same with an open circuit.
    b.responses = {"/": {"status": 503, "headers": {"Cache-Control": None}}}
    gw2 = gateway({"r.yaml": [*service_docs("down", [b.port]),
                              route("down", fallback=fallback,
                                    circuitBreaker={"consecutiveFailures": 1, "openFor": "30s"})]})
    assert get(gw2).status == 503  # the failure itself is relayed
    r = get(gw2)
    assert r.status == 200 and r.json() == {"items": []}, r


def test_without_fallback_the_json_error(gateway):
    gw = gateway({"r.yaml": [*service_docs("empty", []), route("empty")]})
    r = get(gw)
    assert r.status == 503 and r.json()["error"]["code"] == "no_healthy_upstream", r


def test_consistent_hash_keeps_each_key_on_one_endpoint(gateway, echo):
    backends = [echo("hashed", f"hashed-{i}") for i in range(3)]
    gw = gateway({"r.yaml": [*service_docs("hashed", backends),
                             route("hashed", loadBalancer="ConsistentHash",
                                   hashOn="Header:X-User")]})
    placement = {}
    for user in range(12):
        seen = {http_request(gw.port, "GET", "/", host=HOST,
                             headers={"X-User": f"user-{user}"}).json()["instance"]
                for _ in range(4)}
        assert len(seen) == 1, (user, seen)
        placement[user] = seen.pop()
    assert len(set(placement.values())) >= 2, placement


def test_max_connections_refuses_the_excess_at_once(gateway, backend):
    import threading
    b = backend()
    b.delay = 1.0
    gw = gateway({"r.yaml": [*service_docs("busy", [b.port]),
                             route("busy", circuitBreaker={"maxConnections": 2})]})
    results = []
    lock = threading.Lock()

    def one():
        r = get(gw)
        with lock:
            results.append(r)

    threads = [threading.Thread(target=one) for _ in range(5)]
    for t in threads:
        t.start()
        time.sleep(0.05)
    for t in threads:
        t.join(10)
    codes = sorted(r.status for r in results)
    assert codes == [200, 200, 503, 503, 503], codes
    refused = [r for r in results if r.status == 503]
    assert all(r.json()["error"]["code"] == "circuit_open" for r in refused)
    assert b.count("/") == 2


def test_unhealthy_endpoint_is_skipped_until_it_recovers(gateway, backend):
    sick, well = backend(), backend()
    sick.responses = {"/healthz": {"status": 503, "headers": {"Cache-Control": None}}}
    check = {"path": "/healthz", "interval": "100ms", "timeout": "80ms",
             "unhealthyThreshold": 2, "healthyThreshold": 2}
    gw = gateway({"r.yaml": [*service_docs("checked", [sick, well]),
                             route("checked", healthCheck=check)]})
    wait_until(lambda: metric_value(gw.metrics(), "atrium_endpoint_healthy",
                                    {"endpoint": f"127.0.0.1:{sick.port}"}) == 0, 5,
               message="the sick endpoint marked unhealthy")
    assert "is now unhealthy" in gw.stderr()
    for _ in range(10):
        assert get(gw).status == 200
    assert sick.count("/") == 0 and well.count("/") == 10
    sick.responses = {}
    wait_until(lambda: metric_value(gw.metrics(), "atrium_endpoint_healthy",
                                    {"endpoint": f"127.0.0.1:{sick.port}"}) == 1, 5,
               message="the endpoint healthy again")
    for _ in range(10):
        assert get(gw).status == 200
    assert sick.count("/") >= 3, sick.count("/")
    assert metric_value(gw.metrics(), "atrium_health_checks_total",
                        {"result": "fail"}) >= 2
