"""Load balancing across endpoints and endpoint changes while serving (SPEC §3.1, §4)."""

import collections
import time

from conftest import LOOPBACK, ingress, ingress_path, service, endpoint_slice, service_docs


def test_ten_endpoints_all_receive_traffic_on_fresh_connections(echo, gateway):
    backends = [echo("pool", f"pool-{i}") for i in range(10)]
    gw = gateway({
        "svc.yaml": service_docs("pool", backends),
        "ing.yaml": ingress("pool", [{"host": "lb.example.com", "paths": [ingress_path("/", "pool")]}]),
    })
    seen = collections.Counter()
    for i in range(100):
        r = gw.get(f"/req/{i}", host="lb.example.com", headers={"Connection": "close"})
        assert r.status == 200, r
        assert r.header("Connection", "").lower() == "close"
        seen[r.json()["instance"]] += 1
    assert set(seen) == {f"pool-{i}" for i in range(10)}, seen
    assert sum(seen.values()) == 100


def test_balanced_per_request_not_per_connection(echo, gateway):
    backends = [echo("pool", f"pool-{i}") for i in range(4)]
    gw = gateway({
        "svc.yaml": service_docs("pool", backends),
        "ing.yaml": ingress("pool", [{"host": "lb.example.com", "paths": [ingress_path("/", "pool")]}]),
    })
    conn = gw.connection()
    try:
        seen = collections.Counter()
        for i in range(40):
            r = gw.get(f"/ka/{i}", host="lb.example.com", conn=conn)
            assert r.status == 200, r
            seen[r.json()["instance"]] += 1
        assert set(seen) == {f"pool-{i}" for i in range(4)}, seen
    finally:
        conn.close()


def test_endpoint_slice_edit_moves_traffic_within_a_second(echo, gateway):
    old = echo("moving", "old")
    new = echo("moving", "new")
    gw = gateway({
        "svc.yaml": service("moving"),
        "slice.yaml": endpoint_slice("moving", "moving-1", {"http": old.port}),
        "ing.yaml": ingress("moving", [{"host": "move.example.com",
                                        "paths": [ingress_path("/", "moving")]}]),
    })
    for _ in range(5):
        r = gw.get("/", host="move.example.com")
        assert r.status == 200 and r.json()["instance"] == "old", r

    # Edit the EndpointSlice in place, as a user with an editor would.
    conn = gw.connection()
    gw.write("slice.yaml", endpoint_slice("moving", "moving-1", {"http": new.port}), atomic=False)
    edited = time.monotonic()
    moved_after = None
    try:
        while time.monotonic() - edited < 3:
            r = gw.get("/", host="move.example.com", conn=conn)
            assert r.status == 200, r  # the change never fails a request
            if r.json()["instance"] == "new":
                moved_after = time.monotonic() - edited
                break
            time.sleep(0.01)
        assert moved_after is not None, "traffic never moved to the new endpoint"
        assert moved_after < 1.0, f"traffic moved only after {moved_after:.2f}s"
        # ... and stays there, on the same keep-alive connection and on new ones.
        for _ in range(20):
            r = gw.get("/", host="move.example.com", conn=conn)
            assert r.status == 200 and r.json()["instance"] == "new", r
        for _ in range(5):
            r = gw.get("/", host="move.example.com")
            assert r.status == 200 and r.json()["instance"] == "new", r
    finally:
        conn.close()


def test_endpoint_added_and_removed(echo, gateway):
    a = echo("grow", "a")
    b = echo("grow", "b")
    gw = gateway({
        "svc.yaml": service("grow"),
        "slice-a.yaml": endpoint_slice("grow", "grow-a", {"http": a.port}),
        "ing.yaml": ingress("grow", [{"host": "grow.example.com",
                                      "paths": [ingress_path("/", "grow")]}]),
    })
    gw.apply("slice-b.yaml", endpoint_slice("grow", "grow-b", {"http": b.port}))
    seen = {gw.get("/", host="grow.example.com").json()["instance"] for _ in range(10)}
    assert seen == {"a", "b"}
    # Endpoint a becomes not ready: only b is used.
    gw.apply("slice-a.yaml", endpoint_slice("grow", "grow-a", {"http": a.port}, ready=False))
    seen = {gw.get("/", host="grow.example.com").json()["instance"] for _ in range(10)}
    assert seen == {"b"}
    # No endpoint at all: 503 from the gateway, as JSON.
    gw.remove("slice-b.yaml")
    gw.apply("slice-a.yaml", endpoint_slice("grow", "grow-a", {"http": a.port}, ready=False))
    deadline = time.monotonic() + 3
    while True:
        r = gw.get("/", host="grow.example.com")
        if r.status == 503 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert r.status == 503, r
    assert r.json()["error"]["code"] == "no_healthy_upstream"


def test_unreachable_endpoint_answers_502(gateway):
    import socket
    s = socket.socket()
    s.bind((LOOPBACK, 0))
    dead_port = s.getsockname()[1]
    s.close()  # nothing listens there any more
    gw = gateway({
        "svc.yaml": service_docs("dead", [dead_port]),
        "ing.yaml": ingress("dead", [{"host": "dead.example.com", "paths": [ingress_path("/", "dead")]}]),
    })
    r = gw.get("/", host="dead.example.com")
    assert r.status == 502, r
    err = r.json()["error"]
    assert err["code"] == "bad_gateway"
    assert err["requestId"] == r.header("X-Request-Id")
