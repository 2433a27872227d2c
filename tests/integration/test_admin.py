"""Admin port, `atrium check`, and invalid objects in a served directory (SPEC §2, §4, §6)."""

import re
import socket
import subprocess

import pytest

from conftest import (ATRIUM_BIN, LOOPBACK, apiroute, ingress, ingress_path, service_docs,
                      to_yaml, wait_until)


@pytest.fixture
def gw(echo, gateway):
    web = echo("web")
    dead = socket.socket()
    dead.bind((LOOPBACK, 0))
    dead_port = dead.getsockname()[1]
    dead.close()
    return gateway({
        "svc.yaml": service_docs("web", [web]) + service_docs("dead", [dead_port]),
        "ing.yaml": ingress("web", [{"host": "admin.example.com", "paths": [
            ingress_path("/", "web"),
            ingress_path("/dead", "dead"),
        ]}]),
        "api.yaml": apiroute("api", {"hostnames": ["api.example.com"], "rules": [
            {"name": "hello", "matches": [{"path": {"type": "Exact", "value": "/hello"}}],
             "directResponse": {"status": 200, "body": "hi"}},
        ]}),
    })


def metric_value(text, name, labels=None):
    """The value of one sample, matched by name and (a subset of) labels; None if absent."""
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        m = re.match(r"^([a-zA-Z_:][\w:]*)(\{(.*)\})? (\S+)$", line)
        if not m or m.group(1) != name:
            continue
        got = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(3) or ""))
        if all(got.get(k) == v for k, v in (labels or {}).items()):
            return float(m.group(4))
    return None


def test_healthz_and_readyz(gw):
    r = gw.admin_get("/healthz")
    assert r.status == 200
    r = gw.admin_get("/readyz")
    assert r.status == 200


def test_unknown_admin_path_is_404_json(gw):
    r = gw.admin_get("/nope")
    assert r.status == 404
    assert r.json()["error"]["status"] == 404


def test_metrics_series(gw):
    for _ in range(3):
        assert gw.get("/", host="admin.example.com").status == 200
    assert gw.get("/hello", host="api.example.com").status == 200
    assert gw.get("/", host="nowhere.example.com").status == 404
    assert gw.get("/dead", host="admin.example.com").status == 502
    route = "default/web"
    # A request is counted when its session finishes it, just after the last byte went to the
    # client: the scrape right after a response may run first (seen under ASan), so wait for
    # the last request to be counted before reading the series.
    wait_until(lambda: metric_value(gw.metrics(), "atrium_requests_total",
                                    {"route": route, "method": "GET", "code": "502"}) == 1, 3,
               message="the 502 counted")
    r = gw.admin_get("/metrics")
    assert r.status == 200
    assert r.header("Content-Type", "").startswith("text/plain")
    text = r.body.decode()

    assert metric_value(text, "atrium_requests_total",
                        {"route": route, "method": "GET", "code": "200"}) == 3
    assert metric_value(text, "atrium_requests_total",
                        {"route": "default/api/hello", "method": "GET", "code": "200"}) == 1
    assert metric_value(text, "atrium_requests_total",
                        {"route": "none", "method": "GET", "code": "404"}) == 1
    assert metric_value(text, "atrium_requests_total",
                        {"route": route, "method": "GET", "code": "502"}) == 1
    # The duration histogram, per route.
    assert "# TYPE atrium_request_duration_seconds histogram" in text
    assert metric_value(text, "atrium_request_duration_seconds_bucket",
                        {"route": route, "le": "+Inf"}) == 4
    assert metric_value(text, "atrium_request_duration_seconds_count", {"route": route}) == 4
    assert metric_value(text, "atrium_request_duration_seconds_sum", {"route": route}) >= 0
    assert metric_value(text, "atrium_upstream_errors_total",
                        {"route": route, "reason": "connect_failure"}) >= 1
    assert metric_value(text, "atrium_active_connections") is not None
    assert metric_value(text, "atrium_config_generation") == gw.generation()
    assert metric_value(text, "atrium_config_reloads_total", {"result": "success"}) >= 1
    assert metric_value(text, "atrium_config_reloads_total", {"result": "failure"}) == 0


def test_active_connections_gauge(gw):
    conn = gw.connection()
    try:
        assert gw.get("/", host="admin.example.com", conn=conn).status == 200
        assert metric_value(gw.metrics(), "atrium_active_connections") >= 1
    finally:
        conn.close()
    wait_until(lambda: metric_value(gw.metrics(), "atrium_active_connections") == 0, 3,
               message="active connections back to 0")


def test_config_reflects_manifests(gw):
    doc = gw.config()
    assert doc["generation"] >= 1
    snapshot = doc["snapshot"]
    hosts = {vh["hostname"]: vh for vh in snapshot["virtual_hosts"]}
    assert set(hosts) == {"admin.example.com", "api.example.com"}
    names = {r["name"] for r in hosts["admin.example.com"]["routes"]}
    assert names == {"default/web"}
    paths = sorted(m["path"]["value"] for r in hosts["admin.example.com"]["routes"]
                   for m in r["matches"])
    assert paths == ["/", "/dead"]
    api = hosts["api.example.com"]["routes"]
    assert [r["name"] for r in api] == ["default/api/hello"]
    assert api[0]["direct_response"]["body"] == "hi"
    clusters = {c["name"]: c for c in snapshot["clusters"]}
    web = [c for name, c in clusters.items() if name.startswith("default/web")]
    assert len(web) == 1
    assert web[0]["endpoints"][0]["address"] == LOOPBACK

    # A change shows up with a higher generation.
    g = doc["generation"]
    gw.apply("api.yaml", apiroute("api", {"hostnames": ["api2.example.com"], "rules": [
        {"name": "hello", "matches": [{"path": {"type": "Exact", "value": "/hello"}}],
         "directResponse": {"status": 200, "body": "hi"}}]}))
    doc = gw.config()
    assert doc["generation"] > g
    hosts = {vh["hostname"] for vh in doc["snapshot"]["virtual_hosts"]}
    assert hosts == {"admin.example.com", "api2.example.com"}


def test_invalid_objects_are_skipped_while_the_rest_is_served(echo, gateway):
    web = echo("web")
    gw = gateway({
        "good.yaml": service_docs("web", [web]) + [
            ingress("good", [{"host": "good.example.com", "paths": [ingress_path("/", "web")]}])],
        "bad-annotation.yaml": ingress("bad1", [{"host": "bad1.example.com",
                                                  "paths": [ingress_path("/", "web")]}],
                                       annotations={"atrium.dev/use-regex": "perhaps"}),
        "bad-apiroute.yaml": apiroute("bad2", {"hostnames": ["bad2..example.com"], "rules": [
            {"directResponse": {"status": 200, "body": "x"}}]}),
        "bad-syntax.yaml": "apiVersion: v1\nkind: [unclosed\n",
        "bad-envelope.yaml": {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                              "metadata": {}, "spec": {}},
    })
    assert gw.get("/", host="good.example.com").status == 200
    assert gw.get("/", host="bad1.example.com").status == 404
    assert gw.get("/", host="bad2..example.com").status in (400, 404)
    log = gw.stderr()
    assert "bad-annotation.yaml" in log and "use-regex" in log
    assert "bad-apiroute.yaml" in log and "spec.hostnames[0]" in log
    assert "bad-syntax.yaml" in log
    assert "bad-envelope.yaml" in log

    # Fixing the bad object brings it in, without disturbing the rest.
    gw.apply("bad-annotation.yaml", ingress("bad1", [{"host": "bad1.example.com",
                                                       "paths": [ingress_path("/", "web")]}]))
    assert gw.get("/", host="bad1.example.com").status == 200
    assert gw.get("/", host="good.example.com").status == 200


def run_check(*paths):
    return subprocess.run([ATRIUM_BIN, "check", *map(str, paths)], capture_output=True,
                          text=True, timeout=30)


GOOD = [
    {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
     "spec": {"ports": [{"name": "http", "port": 80}]}},
    ingress("good", [{"host": "good.example.com", "paths": [ingress_path("/", "web")]}]),
]

BAD = ingress("broken", [{"host": "bad.example.com", "paths": [
    {"path": "/", "pathType": "Sometimes",
     "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}], namespace="team")


def test_check_reports_file_object_and_field(tmp_path):
    (tmp_path / "good.yaml").write_text(to_yaml(GOOD))
    (tmp_path / "bad.yaml").write_text(to_yaml(BAD))
    r = run_check(tmp_path)
    assert r.returncode == 1, (r.stdout, r.stderr)
    problems = [line for line in r.stdout.splitlines() if line.strip()]
    assert len(problems) == 1, r.stdout
    line = problems[0]
    assert "bad.yaml" in line
    assert "team/broken" in line
    assert "spec.rules[0].http.paths[0].pathType" in line
    assert "Sometimes" in line
    assert "good.yaml" not in r.stdout
    assert "Traceback" not in r.stderr and "terminate called" not in r.stderr


def test_check_good_dir_exits_0(tmp_path):
    (tmp_path / "good.yaml").write_text(to_yaml(GOOD))
    r = run_check(tmp_path)
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert r.stdout.strip() == ""


def test_check_files_and_unreadable_paths(tmp_path):
    (tmp_path / "good.yaml").write_text(to_yaml(GOOD))
    (tmp_path / "syntax.yaml").write_text("kind: [unclosed\n")
    r = run_check(tmp_path / "good.yaml")
    assert r.returncode == 0, (r.stdout, r.stderr)
    r = run_check(tmp_path / "syntax.yaml")
    assert r.returncode == 1
    assert "syntax.yaml" in r.stdout
    r = run_check(tmp_path / "missing.yaml")
    assert r.returncode == 1
    assert "missing.yaml" in r.stdout + r.stderr
    assert "terminate called" not in r.stderr


def test_access_log_json_lines(gw):
    r = gw.get("/logged?q=1", host="admin.example.com", headers={"X-Request-Id": "log-me-1"})
    assert r.status == 200
    r404 = gw.get("/missing", host="nowhere.example.com")
    assert r404.status == 404

    def records():
        by_id = {rec.get("requestId"): rec for rec in gw.access_log()}
        return by_id if {"log-me-1", r404.header("X-Request-Id")} <= set(by_id) else None

    by_id = wait_until(records, 3, message="access log records")
    rec = by_id["log-me-1"]
    assert rec["method"] == "GET"
    assert rec["host"] == "admin.example.com"
    assert rec["path"] == "/logged?q=1"
    assert rec["status"] == 200
    assert rec["clientIp"] == LOOPBACK
    assert rec["route"] == "default/web"
    assert rec["bytes"] == len(r.body)
    assert rec["upstream"].startswith(f"{LOOPBACK}:")
    assert rec["upstreamStatus"] == 200
    assert rec["durationMs"] >= rec["upstreamMs"] >= 0
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", rec["time"])
    miss = by_id[r404.header("X-Request-Id")]
    assert miss["status"] == 404 and miss["route"] == "none"


def test_access_log_off(echo, gateway):
    web = echo("web")
    g = gateway({
        "svc.yaml": service_docs("web", [web]),
        "ing.yaml": ingress("web", [{"paths": [ingress_path("/", "web")]}]),
    }, access_log="off")
    for _ in range(5):
        assert g.get("/").status == 200
    import time
    time.sleep(0.5)  # longer than the access log's flush interval
    assert g.access_log() == []


def test_json_process_log(echo, gateway):
    import json
    web = echo("web")
    g = gateway({"svc.yaml": service_docs("web", [web]),
                 "bad.yaml": "kind: [unclosed\n"}, extra_args=["--log-format", "json"])
    lines = [line for line in g.stderr().splitlines() if line.strip()]
    assert lines
    for line in lines:
        record = json.loads(line)
        assert {"time", "level", "msg"} <= set(record)
    assert any("bad.yaml" in json.loads(line)["msg"] for line in lines)
