"""What the upstream receives and what the client gets back (SPEC §4, headers)."""

import email.utils
import re
import uuid

import pytest

from conftest import ingress, ingress_path, service_docs

TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")


@pytest.fixture
def gw(echo, gateway):
    backend = echo("fwd")
    return gateway({
        "svc.yaml": service_docs("fwd", [backend]),
        "ing.yaml": ingress("fwd", [{"host": "fwd.example.com", "paths": [ingress_path("/", "fwd")]}]),
    })


def upstream_view(gw, headers=None, host="fwd.example.com", path="/h"):
    r = gw.get(path, host=host, headers=headers or {})
    assert r.status == 200, r
    return r, r.json()


def test_x_forwarded_headers(gw):
    r, seen = upstream_view(gw)
    h = seen["headers"]
    assert h["x-forwarded-for"] == "127.0.0.1"
    assert h["x-forwarded-proto"] == "http"
    assert h["x-forwarded-host"] == "fwd.example.com"
    assert h["x-forwarded-port"] == str(gw.port)
    # Host is passed through unchanged.
    assert seen["host"] == "fwd.example.com"


def test_x_forwarded_for_is_appended(gw):
    _, seen = upstream_view(gw, {"X-Forwarded-For": "203.0.113.7"})
    assert seen["headers"]["x-forwarded-for"] == "203.0.113.7, 127.0.0.1"


def test_request_id_kept_when_valid(gw):
    r, seen = upstream_view(gw, {"X-Request-Id": "abc-123_XYZ.1"})
    assert seen["headers"]["x-request-id"] == "abc-123_XYZ.1"
    assert r.header("X-Request-Id") == "abc-123_XYZ.1"


def test_request_id_generated_when_absent(gw):
    ids = set()
    for _ in range(3):
        r, seen = upstream_view(gw)
        rid = seen["headers"]["x-request-id"]
        uuid.UUID(rid)  # a UUID
        assert r.header("X-Request-Id") == rid  # echoed to the client
        ids.add(rid)
    assert len(ids) == 3


def test_request_id_replaced_when_invalid(gw):
    bad = "x" * 300  # too long to be an id anyone should log
    r, seen = upstream_view(gw, {"X-Request-Id": bad})
    rid = seen["headers"]["x-request-id"]
    assert rid != bad
    uuid.UUID(rid)
    assert r.header("X-Request-Id") == rid


def test_traceparent_propagated_with_new_span(gw):
    incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    _, seen = upstream_view(gw, {"traceparent": incoming})
    m = TRACEPARENT.match(seen["headers"]["traceparent"])
    assert m, seen["headers"]["traceparent"]
    assert m.group(1) == "4bf92f3577b34da6a3ce929d0e0e4736"  # same trace
    assert m.group(2) != "00f067aa0ba902b7"                  # new span
    assert m.group(2) != "0" * 16
    assert m.group(3) == "01"


def test_traceparent_created_when_absent(gw):
    _, seen = upstream_view(gw)
    m = TRACEPARENT.match(seen["headers"].get("traceparent", ""))
    assert m, seen["headers"]
    assert m.group(1) != "0" * 32 and m.group(2) != "0" * 16


def test_hop_by_hop_and_connection_listed_headers_removed(gw):
    _, seen = upstream_view(gw, [
        ("Connection", "keep-alive, X-Secret-Hop"),
        ("X-Secret-Hop", "do-not-forward"),
        ("Keep-Alive", "timeout=5"),
        ("TE", "trailers"),
        ("Proxy-Connection", "keep-alive"),
        ("X-Kept", "yes"),
    ])
    h = seen["headers"]
    for name in ("x-secret-hop", "keep-alive", "te", "proxy-connection"):
        assert name not in h, (name, h)
    assert h.get("connection", "keep-alive").lower() == "keep-alive"
    assert h["x-kept"] == "yes"


def test_client_consumer_headers_removed(gw):
    _, seen = upstream_view(gw, {"X-Consumer-Name": "admin", "X-Consumer-Groups": "root",
                                 "x-consumer-id": "1"})
    h = seen["headers"]
    assert "x-consumer-name" not in h
    assert "x-consumer-groups" not in h
    assert "x-consumer-id" not in h


def test_end_to_end_headers_and_body_pass_through(gw):
    _, seen = upstream_view(gw, {"X-Custom": "v1", "Accept": "application/json",
                                 "Authorization": "Bearer t"})
    h = seen["headers"]
    assert h["x-custom"] == "v1"
    assert h["accept"] == "application/json"
    assert h["authorization"] == "Bearer t"
    assert seen["method"] == "GET"


def test_server_and_date_on_proxied_responses(gw):
    r, _ = upstream_view(gw, {"X-Echo-Header": "Server: echo-upstream"})
    assert r.header("Server") == "atrium"
    date = r.header("Date")
    assert date and email.utils.parsedate_to_datetime(date) is not None
    # Upstream response headers otherwise pass through.
    assert r.header("X-Echo-Instance") == "fwd"


def test_upstream_hop_by_hop_response_headers_removed(gw):
    r, _ = upstream_view(gw, {"X-Echo-Header": "Keep-Alive: timeout=99"})
    assert r.header("Keep-Alive") is None


def test_upstream_status_passes_through(gw):
    for status in (201, 404, 500, 503):
        r = gw.get("/s", host="fwd.example.com", headers={"X-Echo-Status": str(status)})
        assert r.status == status, r
        # An upstream's error is the upstream's answer, not a gateway error document.
        assert r.json()["service"] == "fwd"
        assert r.header("Server") == "atrium"


def test_client_cannot_spoof_forwarded_proto_host_port(gw):
    _, seen = upstream_view(gw, {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example",
                                 "X-Forwarded-Port": "1"})
    h = seen["headers"]
    assert h["x-forwarded-proto"] == "http"
    assert h["x-forwarded-host"] == "fwd.example.com"
    assert h["x-forwarded-port"] == str(gw.port)


def test_invalid_traceparent_starts_a_new_trace(gw):
    for bad in ("garbage", "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
                "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"):
        _, seen = upstream_view(gw, {"traceparent": bad})
        tp = seen["headers"]["traceparent"]
        m = TRACEPARENT.match(tp)
        assert m and tp != bad, (bad, tp)
        assert m.group(1) != "0" * 32
