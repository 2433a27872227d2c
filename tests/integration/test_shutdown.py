"""Graceful shutdown: SIGTERM drains (SPEC §2 signals, §6 readiness)."""

import signal
import socket
import threading
import time

from conftest import LOOPBACK, RawClient, ingress, ingress_path, service_docs


def make_gateway(echo, gateway, **kwargs):
    backend = echo("slow")
    return gateway({
        "svc.yaml": service_docs("slow", [backend]),
        "ing.yaml": ingress("slow", [{"host": "slow.example.com", "paths": [ingress_path("/", "slow")]}]),
    }, **kwargs)


def admin_ready_status(gw):
    """The /readyz status, or None once the admin port is closed."""
    try:
        return gw.admin_get("/readyz", timeout=2).status
    except (ConnectionError, OSError):
        return None


def test_sigterm_lets_in_flight_request_finish(echo, gateway):
    gw = make_gateway(echo, gateway)
    assert gw.admin_get("/readyz").status == 200

    result = {}

    def slow_request():
        try:
            started = time.monotonic()
            r = gw.get("/slow", host="slow.example.com", headers={"X-Echo-Delay-Ms": "1500"},
                       timeout=10)
            result["response"] = r
            result["elapsed"] = time.monotonic() - started
        except Exception as e:  # noqa: BLE001
            result["error"] = e

    # An idle keep-alive connection, which the drain should close.
    idle = RawClient(gw.port)
    idle.send(b"GET /warm HTTP/1.1\r\nHost: slow.example.com\r\n\r\n")
    assert idle.read_response(timeout=5).status == 200
    idle.received = b""

    t = threading.Thread(target=slow_request)
    t.start()
    time.sleep(0.3)  # the request is at the upstream now
    sigterm_at = time.monotonic()
    gw.signal(signal.SIGTERM)

    # Readiness goes false (or the admin port goes away) while the request is still running.
    seen = []
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        status = admin_ready_status(gw)
        seen.append(status)
        if status != 200:
            break
        time.sleep(0.02)
    assert seen[-1] in (503, None), seen

    # New connections are refused once the listeners are closed.
    def refused():
        try:
            s = socket.create_connection((LOOPBACK, gw.port), timeout=1)
        except ConnectionRefusedError:
            return True
        s.close()
        return False

    assert wait_refused(refused), "the HTTP listener still accepts connections while draining"

    # The idle keep-alive connection is closed by the drain, without a response.
    idle.read_until_closed(timeout=3)
    assert idle.closed and idle.received == b""
    idle.close()

    t.join(10)
    assert "error" not in result, result
    r = result["response"]
    assert r.status == 200, r
    assert r.json()["service"] == "slow"
    # The in-flight request was told the connection ends with it.
    assert r.header("Connection", "").lower() == "close"

    code = gw.wait(10)
    assert code == 0, gw.stderr()
    # It exited once the request was done, not at the drain timeout (5 s).
    assert time.monotonic() - sigterm_at < 4.5


def wait_refused(check, timeout=2.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


def test_sigterm_when_idle_exits_promptly(echo, gateway):
    gw = make_gateway(echo, gateway)
    assert gw.get("/", host="slow.example.com").status == 200
    started = time.monotonic()
    gw.signal(signal.SIGTERM)
    assert gw.wait(10) == 0, gw.stderr()
    assert time.monotonic() - started < 3


def test_sigint_drains_too(echo, gateway):
    gw = make_gateway(echo, gateway)
    gw.signal(signal.SIGINT)
    assert gw.wait(10) == 0, gw.stderr()


def test_drain_timeout_bounds_shutdown(echo, gateway):
    gw = make_gateway(echo, gateway, drain_timeout="1s")
    result = {}

    def very_slow():
        try:
            result["response"] = gw.get("/", host="slow.example.com",
                                        headers={"X-Echo-Delay-Ms": "8000"}, timeout=15)
        except Exception as e:  # noqa: BLE001
            result["error"] = e

    t = threading.Thread(target=very_slow)
    t.start()
    time.sleep(0.3)
    started = time.monotonic()
    gw.signal(signal.SIGTERM)
    code = gw.wait(10)
    elapsed = time.monotonic() - started
    t.join(15)
    assert code == 0, gw.stderr()
    assert elapsed < 4, f"exit took {elapsed:.1f}s with a 1s drain timeout"
    # The request cut off by the drain timeout did not get a made-up success.
    assert "error" in result or result["response"].status != 200
