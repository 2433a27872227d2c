"""Rate limits, quotas and usage metering (SPEC §3.2 policy.rateLimit, §3.3 plans, §5.3, §5.6,
§6 /usage), end to end with the real binary and a real redis-server on loopback:

- a limit of N gives exactly N successes, on one replica and across two replicas sharing Redis
  (concurrent clients on both), with RateLimit-* headers counting down and 429 + Retry-After;
- client IPs from X-Forwarded-For only behind --trusted-proxies;
- Redis killed mid-test: per-replica shares, no 5xx, metric and log, recovery by itself;
- quotas answer 429 quota_exceeded until the calendar period rolls over (--clock-start puts the
  gateway's calendar a few seconds before midnight);
- usage counts survive kill -9 (within the flush window with --state-dir, exactly with Redis),
  and /usage JSON and CSV match the traffic sent, with the billable amount.

Run by hand:
    ATRIUM_BIN=build/atrium ECHO_BACKEND_BIN=build/echo-backend \\
        /usr/bin/python3 -m pytest -q tests/integration/test_ratelimit.py
"""

from __future__ import annotations

import csv
import io
import secrets
import signal
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest

from conftest import apiroute, http_request, wait_until
from redis_server import RedisServer
from test_admin import metric_value
from test_auth import api_key, consumer, secret

HOST = "rl.example.com"
ACME_KEY = "acme-" + secrets.token_hex(8)
GLOBEX_KEY = "globex-" + secrets.token_hex(8)


@pytest.fixture
def redis_server(workdir):
    servers: list[RedisServer] = []

    def start() -> RedisServer:
        r = RedisServer(workdir)
        servers.append(r)
        return r

    yield start
    for r in servers:
        r.stop()


def limited_route(limits: list[dict], scope: str = "Local", name: str = "limited",
                  auth: dict | None = None, status: int = 200) -> dict:
    policy: dict = {"rateLimit": {"limits": limits, "scope": scope}}
    if auth:
        policy["auth"] = auth
    return apiroute(name, {
        "hostnames": [HOST],
        "policy": policy,
        "rules": [{"name": "all", "directResponse": {"status": status, "contentType": "text/plain",
                                                     "body": "ok\n"}}],
    })


def consumers_with_plans(acme_plan: dict | None = None, globex_plan: dict | None = None) -> list:
    acme = consumer("acme", api_keys=[("acme-key", "key")])
    acme["spec"]["displayName"] = "ACME Corp"
    if acme_plan:
        acme["spec"]["plan"] = acme_plan
    globex = consumer("globex", api_keys=[("globex-key", "key")])
    if globex_plan:
        globex["spec"]["plan"] = globex_plan
    return [secret("acme-key", {"key": ACME_KEY}), secret("globex-key", {"key": GLOBEX_KEY}),
            acme, globex]


def keyed_route(name: str = "metered", path: str = "/", status: int = 200, limits=None) -> dict:
    policy: dict = {"auth": api_key()}
    if limits:
        policy["rateLimit"] = {"limits": limits}
    return apiroute(name, {
        "hostnames": [HOST],
        "policy": policy,
        "rules": [{"name": "r", "matches": [{"path": {"type": "PathPrefix", "value": path}}],
                   "directResponse": {"status": status, "contentType": "text/plain",
                                      "body": "hello\n"}}],
    })


def get(gw, path="/", key: str | None = None, headers: dict | None = None, port: int | None = None):
    h = dict(headers or {})
    if key:
        h["X-API-Key"] = key
    return http_request(port or gw.port, "GET", path, host=HOST, headers=h)


def hammer(targets: list, total_per_target: int, threads_per_target: int = 4, **kwargs) -> list:
    """Sends requests concurrently to every gateway in `targets`; returns all statuses."""
    statuses: list[int] = []
    lock = threading.Lock()

    def worker(gw, count):
        for _ in range(count):
            r = get(gw, **kwargs)
            with lock:
                statuses.append(r.status)

    threads = []
    for gw in targets:
        per = total_per_target // threads_per_target
        for i in range(threads_per_target):
            n = per + (1 if i < total_per_target % threads_per_target else 0)
            threads.append(threading.Thread(target=worker, args=(gw, n)))
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return statuses


# --------------------------------------------------------------------------------------------
# Local limits


def test_local_limit_gives_exactly_n_and_headers_count_down(gateway):
    gw = gateway({"route.yaml": [limited_route([{"requests": 5, "period": "1h", "key": "Route"}])]})
    for remaining in (4, 3, 2, 1, 0):
        r = get(gw)
        assert r.status == 200, r
        assert r.header("RateLimit-Limit") == "5"
        assert r.header("RateLimit-Remaining") == str(remaining)
        assert 0 < int(r.header("RateLimit-Reset")) <= 3600
    r = get(gw)
    assert r.status == 429, r
    body = r.json()["error"]
    assert body["code"] == "rate_limited" and body["status"] == 429 and body["requestId"]
    assert r.header("RateLimit-Remaining") == "0"
    # One token every 12 minutes: that is how long to wait.
    assert 700 <= int(r.header("Retry-After")) <= 720, r
    assert metric_value(gw.metrics(), "atrium_ratelimit_rejections_total",
                        {"route": "default/limited/all"}) == 1


def test_local_limit_is_exact_under_concurrency_across_workers(gateway):
    gw = gateway({"route.yaml": [limited_route([{"requests": 37, "period": "1h", "key": "Route"}])]},
                 threads=2)
    statuses = hammer([gw], 120, threads_per_target=8)
    assert statuses.count(200) == 37 and statuses.count(429) == 83, sorted(set(statuses))


def test_burst_and_several_limits(gateway):
    # 1 per hour plus a burst of 2 → 3 at once; a second limit of 2 per hour is tighter.
    gw = gateway({"route.yaml": [limited_route([
        {"requests": 1, "period": "1h", "burst": 2, "key": "Route"},
        {"requests": 2, "period": "1h", "key": "Route"}])]})
    assert [get(gw).status for _ in range(4)] == [200, 200, 429, 429]


def test_client_ip_key_believes_x_forwarded_for_only_from_trusted_proxies(gateway):
    route = limited_route([{"requests": 1, "period": "1h", "key": "ClientIP"}])
    untrusted = gateway({"route.yaml": [route]})
    assert get(untrusted, headers={"X-Forwarded-For": "198.51.100.1"}).status == 200
    # A client cannot get a fresh bucket by inventing an address.
    assert get(untrusted, headers={"X-Forwarded-For": "198.51.100.2"}).status == 429

    trusted = gateway({"route.yaml": [route]}, extra_args=["--trusted-proxies", "127.0.0.0/8"])
    assert get(trusted, headers={"X-Forwarded-For": "198.51.100.1"}).status == 200
    assert get(trusted, headers={"X-Forwarded-For": "198.51.100.2"}).status == 200
    assert get(trusted, headers={"X-Forwarded-For": "6.6.6.6, 198.51.100.1"}).status == 429
    assert get(trusted, headers={"X-Forwarded-For": "198.51.100.2"}).status == 429


def test_header_and_consumer_keys_have_separate_buckets(gateway):
    gw = gateway({"route.yaml": [limited_route([{"requests": 1, "period": "1h",
                                                 "key": "Header:X-Tenant"}])]})
    assert get(gw, headers={"X-Tenant": "a"}).status == 200
    assert get(gw, headers={"X-Tenant": "b"}).status == 200
    assert get(gw, headers={"X-Tenant": "a"}).status == 429

    gw2 = gateway({"c.yaml": consumers_with_plans(),
                   "route.yaml": [keyed_route(limits=[{"requests": 2, "period": "1h"}])]})
    assert [get(gw2, key=ACME_KEY).status for _ in range(3)] == [200, 200, 429]
    assert get(gw2, key=GLOBEX_KEY).status == 200


def test_bad_flags_are_one_line_errors(workdir):
    import subprocess
    from conftest import ATRIUM_BIN
    for args, needle in ((["--trusted-proxies", "10.0.0.0/8,banana"], "banana"),
                         (["--redis", "http://x"], "--redis"),
                         (["--replicas", "0"], "--replicas"),
                         (["--clock-start", "yesterday"], "--clock-start")):
        p = subprocess.run([ATRIUM_BIN, "--manifests", str(workdir), "--http-port", "0",
                            "--https-port", "0", "--admin-port", "0", "--bind", "127.0.0.1",
                            *args], capture_output=True, text=True, timeout=10)
        assert p.returncode != 0, args
        lines = [line for line in p.stderr.splitlines() if "error" in line or "atrium" in line]
        assert needle in p.stderr and len(p.stderr.strip().splitlines()) <= 3, p.stderr


# --------------------------------------------------------------------------------------------
# Global limits through Redis


def test_global_limit_is_exact_across_two_replicas(gateway, redis_server):
    redis = redis_server()
    route = limited_route([{"requests": 25, "period": "1h", "key": "Route"}], scope="Global")
    a = gateway({"route.yaml": [route]}, extra_args=["--redis", redis.url, "--replicas", "2"])
    b = gateway({"route.yaml": [route]}, extra_args=["--redis", redis.url, "--replicas", "2"])
    for gw in (a, b):
        wait_until(lambda: metric_value(gw.metrics(), "atrium_redis_up") == 1, 10,
                   message="redis up")
    statuses = hammer([a, b], 40, threads_per_target=5)
    assert statuses.count(200) == 25 and statuses.count(429) == 55, sorted(statuses)
    assert metric_value(a.metrics(), "atrium_ratelimit_degraded") == 0
    assert (metric_value(a.metrics(), "atrium_redis_command_duration_seconds_count") or 0) > 0


def test_global_headers_count_down_across_replicas(gateway, redis_server):
    redis = redis_server()
    route = limited_route([{"requests": 4, "period": "1h", "key": "Route"}], scope="Global")
    a = gateway({"route.yaml": [route]}, extra_args=["--redis", redis.url])
    b = gateway({"route.yaml": [route]}, extra_args=["--redis", redis.url])
    for gw in (a, b):
        wait_until(lambda: metric_value(gw.metrics(), "atrium_redis_up") == 1, 10, message="up")
    seen = []
    for gw in (a, b, a, b, a):
        r = get(gw)
        seen.append((r.status, r.header("RateLimit-Remaining")))
    assert seen == [(200, "3"), (200, "2"), (200, "1"), (200, "0"), (429, "0")], seen
    assert 800 <= int(get(b).header("Retry-After")) <= 900


def test_redis_outage_degrades_to_per_replica_shares_and_recovers(gateway, redis_server):
    redis = redis_server()
    route = limited_route([{"requests": 10, "period": "1h", "key": "Route"}], scope="Global")
    gw = gateway({"route.yaml": [route]},
                 extra_args=["--redis", redis.url, "--replicas", "2"], threads=1)
    wait_until(lambda: metric_value(gw.metrics(), "atrium_redis_up") == 1, 10, message="redis up")
    assert [get(gw).status for _ in range(3)] == [200, 200, 200]

    redis.stop()
    # Each replica now enforces its share: 10 / 2 = 5 per hour, decided in-process.
    statuses = [get(gw).status for _ in range(8)]
    assert statuses == [200] * 5 + [429] * 3, statuses
    assert gw.admin_get("/readyz").status == 200
    metrics = gw.metrics()
    assert metric_value(metrics, "atrium_ratelimit_degraded") == 1
    assert metric_value(metrics, "atrium_redis_up") == 0
    assert metric_value(metrics, "atrium_ratelimit_degraded_decisions_total") >= 8
    assert "redis unreachable" in gw.stderr()

    redis.start()  # back, empty: buckets start full again
    wait_until(lambda: metric_value(gw.metrics(), "atrium_ratelimit_degraded") == 0, 15,
               message="recovery")
    assert "redis connection restored" in gw.stderr()
    statuses = [get(gw).status for _ in range(12)]
    assert statuses == [200] * 10 + [429] * 2, statuses


# --------------------------------------------------------------------------------------------
# Plans and quotas


def clock_start(seconds_before_midnight: int) -> str:
    """A --clock-start value that many seconds before the next UTC midnight."""
    now = datetime.now(timezone.utc)
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return (midnight - timedelta(seconds=seconds_before_midnight)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize("with_redis", [False, True], ids=["memory", "redis"])
def test_quota_refuses_until_the_period_rolls_over(gateway, redis_server, with_redis):
    plan = {"quota": {"requests": 3, "period": "day"}}
    args = ["--clock-start", clock_start(6)]
    if with_redis:
        args += ["--redis", redis_server().url]
    gw = gateway({"c.yaml": consumers_with_plans(acme_plan=plan), "route.yaml": [keyed_route()]},
                 extra_args=args)
    if with_redis:
        wait_until(lambda: metric_value(gw.metrics(), "atrium_redis_up") == 1, 10, message="up")
    assert [get(gw, key=ACME_KEY).status for _ in range(3)] == [200, 200, 200]
    r = get(gw, key=ACME_KEY)
    assert r.status == 429, r
    assert r.json()["error"]["code"] == "quota_exceeded"
    retry = int(r.header("Retry-After"))
    assert 1 <= retry <= 6, r
    assert get(gw, key=GLOBEX_KEY).status == 200  # another consumer has no quota
    assert metric_value(gw.metrics(), "atrium_quota_rejections_total",
                        {"route": "default/metered/r"}) == 1
    time.sleep(retry + 0.3)
    # A new day: the quota starts again.
    assert [get(gw, key=ACME_KEY).status for _ in range(4)] == [200, 200, 200, 429]


def test_plan_rate_limit_applies_on_every_route_of_the_consumer(gateway):
    plan = {"rateLimit": {"requests": 3, "period": "1h"}}
    gw = gateway({"c.yaml": consumers_with_plans(acme_plan=plan),
                  "route.yaml": [keyed_route("one", "/one"), keyed_route("two", "/two")]})
    statuses = [get(gw, p, key=ACME_KEY).status for p in ("/one", "/two", "/one", "/two")]
    assert statuses == [200, 200, 200, 429]
    r = get(gw, "/one", key=ACME_KEY)
    assert r.header("RateLimit-Limit") == "3" and r.json()["error"]["code"] == "rate_limited"
    assert get(gw, "/one", key=GLOBEX_KEY).header("RateLimit-Limit") is None


# --------------------------------------------------------------------------------------------
# Usage metering and /usage


def usage(gw, query: str = "") -> dict:
    r = gw.admin_get("/usage" + query)
    assert r.status == 200, r
    return r.json()


def consumer_usage(doc: dict, name: str) -> dict | None:
    return next((c for c in doc["consumers"] if c["name"] == name), None)


def test_usage_json_and_csv_match_the_traffic(gateway):
    priced = {"pricing": {"currency": "USD", "perThousandRequests": "0.40"},
              "rateLimit": {"requests": 10, "period": "1h"}}
    gw = gateway({"c.yaml": consumers_with_plans(acme_plan=priced),
                  "route.yaml": [keyed_route("ok", "/ok"), keyed_route("gone", "/gone", 404),
                                 keyed_route("broken", "/broken", 503)]})
    sent = []  # acme's responses, to compare bytes with what /usage counts
    for path, expected in [("/ok", 200)] * 6 + [("/gone", 404)] * 2 + [("/broken", 503)]:
        sent.append(get(gw, path, key=ACME_KEY))
        assert sent[-1].status == expected, sent[-1]
    for _ in range(3):
        sent.append(get(gw, "/ok", key=ACME_KEY))
    assert [r.status for r in sent[-3:]] == [200, 429, 429]  # the plan's 10 per hour
    assert get(gw, "/ok", key=GLOBEX_KEY).status == 200
    assert get(gw, "/ok", key="wrong").status == 401  # no consumer: not metered

    doc = usage(gw)
    acme = consumer_usage(doc, "acme")
    assert acme["namespace"] == "default" and acme["displayName"] == "ACME Corp"
    assert acme["requests"] == 12
    assert acme["status"] == {"1xx": 0, "2xx": 7, "3xx": 0, "4xx": 4, "5xx": 1}
    assert acme["rejected"] == 2
    assert acme["billableRequests"] == 9  # not the 429s, not the 503
    assert acme["responseBytes"] == sum(len(r.body) for r in sent)
    assert acme["requestBytes"] == 0
    assert acme["billing"] == {"currency": "USD", "perThousandRequests": "0.40",
                               "amount": "0.0036"}
    routes = {r["route"]: r["requests"] for r in acme["routes"]}
    assert routes == {"default/ok/r": 9, "default/gone/r": 2, "default/broken/r": 1}
    assert consumer_usage(doc, "globex")["requests"] == 1
    assert "billing" not in consumer_usage(doc, "globex")

    only = usage(gw, "?consumer=globex")
    assert [c["name"] for c in only["consumers"]] == ["globex"]
    assert usage(gw, "?namespace=elsewhere")["consumers"] == []
    assert usage(gw, "?period=2001-01")["consumers"] == []

    r = gw.admin_get("/usage?format=csv&consumer=default/acme")
    assert r.status == 200 and r.header("Content-Type").startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.body.decode())))
    assert {row["route"]: int(row["requests"]) for row in rows} == routes
    assert sum(int(row["billable_requests"]) for row in rows) == 9
    ok_row = next(row for row in rows if row["route"] == "default/ok/r")
    assert ok_row["amount"] == "0.0028" and ok_row["currency"] == "USD"
    assert gw.admin_get("/usage?period=yesterday").status == 400


def test_usage_survives_kill_9_within_the_flush_window(gateway, workdir):
    state = workdir / "state"
    manifests = {"c.yaml": consumers_with_plans(), "route.yaml": [keyed_route()]}
    gw = gateway(manifests, extra_args=["--state-dir", str(state)])
    for _ in range(7):
        assert get(gw, key=ACME_KEY).status == 200
    time.sleep(1.5)  # documented flush window: at most 1 s
    gw.proc.send_signal(signal.SIGKILL)
    gw.kill()
    again = gateway(manifests, extra_args=["--state-dir", str(state)])
    assert consumer_usage(usage(again), "acme")["requests"] == 7
    for _ in range(2):
        get(again, key=ACME_KEY)
    assert again.stop() == 0  # SIGTERM writes the last counts
    third = gateway(manifests, extra_args=["--state-dir", str(state)])
    assert consumer_usage(usage(third), "acme")["requests"] == 9


def test_usage_with_redis_loses_nothing_on_kill_9(gateway, redis_server):
    redis = redis_server()
    manifests = {"c.yaml": consumers_with_plans(), "route.yaml": [keyed_route()]}
    gw = gateway(manifests, extra_args=["--redis", redis.url])
    wait_until(lambda: metric_value(gw.metrics(), "atrium_redis_up") == 1, 10, message="up")
    for _ in range(11):
        assert get(gw, key=ACME_KEY).status == 200
    gw.proc.send_signal(signal.SIGKILL)  # at once: nothing waits for a flush
    gw.kill()
    again = gateway(manifests, extra_args=["--redis", redis.url])
    doc = wait_until(lambda: (d := usage(again)) and consumer_usage(d, "acme") and d, 10,
                     message="usage from redis")
    assert doc["source"] == "redis"
    assert consumer_usage(doc, "acme")["requests"] == 11


def test_usage_counted_while_redis_is_down_is_written_when_it_returns(gateway, redis_server):
    redis = redis_server()
    manifests = {"c.yaml": consumers_with_plans(), "route.yaml": [keyed_route()]}
    gw = gateway(manifests, extra_args=["--redis", redis.url], threads=1)
    wait_until(lambda: metric_value(gw.metrics(), "atrium_redis_up") == 1, 10, message="up")
    for _ in range(2):
        assert get(gw, key=ACME_KEY).status == 200
    # Written and acknowledged before the outage (a write whose answer is lost with the
    # connection is kept and written again: counts are at least once, never dropped).
    wait_until(lambda: (c := consumer_usage(usage(gw), "acme")) and c["requests"] == 2, 5,
               message="the first two counted in redis")
    redis.stop()
    for _ in range(3):
        assert get(gw, key=ACME_KEY).status == 200  # no 5xx: counted in memory meanwhile
    assert gw.admin_get("/usage").status == 503
    redis.start()  # empty again: only what the gateway still held can come back
    wait_until(lambda: metric_value(gw.metrics(), "atrium_redis_up") == 1, 15, message="up")
    doc = wait_until(lambda: (d := usage(gw)) and consumer_usage(d, "acme") and d, 10,
                     message="usage")
    assert consumer_usage(doc, "acme")["requests"] == 3
